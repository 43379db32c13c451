/*
 * reclaim.h - the reclaimer: it frees what was retired once no live
 * snapshot can see it, exactly: an item is kept only while some live
 * snapshot lies in its interval [begin, end) (retire.h), however old the
 * oldest snapshot is, so a snapshot held for an hour keeps only the
 * versions it sees (at most one per key). It owns the pacing of that work
 * (when to ask for a grace period, when to look at the reader slots again)
 * and publishes the figures an operator reads. Writer thread only.
 *
 * Each item, once a grace period after its end has passed, is judged
 * against the live snapshots of one sweep of the reader slots:
 *   - no live snapshot older than its end: no reader can reach it; freed;
 *   - a live snapshot in its interval: kept, in that snapshot's group of
 *     pins (pins.h), judged again when the snapshot ends;
 *   - else a replaced version that an older snapshot may walk through on
 *     its way down: unlinked from its chain and freed as a pruned version
 *     (prune.h), which readers detect if they stand on it (libshm/index.h);
 *     any other item: no snapshot in its interval can reach it; freed (an
 *     index with the heads it names, of a cleared or dropped table, slot
 *     by slot over several steps).
 * The judging runs in bounded steps between the writer's transactions.
 */
#ifndef SHMDBD_RECLAIM_H
#define SHMDBD_RECLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "grace.h"
#include "layout.h"
#include "pins.h"
#include "retire.h"
#include "snapset.h"

/* An index whose heads are being freed in steps (RETIRED_INDEX_CONTENTS). */
/* An index with its heads, or a tree's nodes, being freed in steps. */
struct drain {
	uint64_t word;       /* the index; 0 for a tree */
	uint64_t pos;        /* the next slot to free */
	uint64_t bytes;      /* its item's bytes not freed yet (an index's
			      * own, a tree's nodes'): still in the retired
			      * figure (mem_retired) until they are */
	bool versions;       /* free heads as pruned versions (alloc.h) */
	/* A tree, freed children first: the path to the node being freed,
	 * and the next child to go down to at each step of it. */
	unsigned depth;
	uint64_t node[SHM_TREE_MAX_HEIGHT];
	uint16_t next[SHM_TREE_MAX_HEIGHT];
};

struct reclaimer {
	uint8_t *base;
	struct shm_meta *meta;
	struct alloc *alloc;
	struct retire_queue *retired;  /* its horizon is the reclaimer's to move */
	struct grace *grace;           /* the grace periods reclamation waits for */
	struct slot_source slots;
	struct pins pins;              /* items a live snapshot sees */
	struct drain *drains;          /* judged indexes being freed in steps */
	size_t ndrains, drains_cap;
	/* The pass under way: the live snapshots of one sweep, and the items it
	 * may judge (retired at or before `graced`). */
	bool pass;
	bool stuck;                    /* the pass's last step could not judge an
					* item (memory short): no step after step
					* (reclaimer_busy) until a park */
	uint64_t graced;               /* the last commit a grace period followed */
	uint64_t moved_graced;         /* RETIRED_MOVED items queued before this
					* many were ever retired may be judged
					* too: a grace period began after they
					* were queued, and the pass's sweep came
					* after it (their end is a commit that may
					* never come, and every move before it
					* has the same end, so only their place
					* in the queue tells) */
	struct snapset live;
	struct pin_group rejudge;      /* a group whose snapshot ended, being judged */
	uint64_t scanned_ns;           /* when the slots were swept last */
	uint64_t stepped_ns;           /* when the last step was taken */
	uint64_t step_retired;         /* retired->items when the last step began */
	/* Grace periods: */
	int grace_pending;             /* a grace period was requested ... */
	uint32_t grace_gen;            /* ... with this generation ... */
	uint64_t grace_commit;         /* ... after this commit was published ... */
	uint64_t grace_items;          /* ... and retired->items_total was this ... */
	uint64_t grace_asked_ns;       /* ... at this time (CLOCK_MONOTONIC), */
	uint64_t grace_asked_total;    /* ... when retired->total was this */
	uint64_t now_commit;           /* the commit reclaimer_now ran at last, */
	uint64_t now_items;            /* and retired->items_total then */
	bool eager;                    /* memory pressure high (pressure.h): step
					* and ask for grace periods whenever
					* anything waits, without the pacing */
	/* Figures: */
	uint64_t freed;                /* bytes freed since the figures were published */
	uint64_t oldest_snap;          /* the oldest live snapshot at the last sweep, */
	uint64_t oldest_since_ns;      /* first seen as the oldest at this time */
};

/* reclaimer_init - nothing requested yet; frees into `alloc`. */
void reclaimer_init(struct reclaimer *rc, uint8_t *base, struct shm_meta *meta,
		    struct alloc *alloc, struct retire_queue *retired, struct grace *grace,
		    struct slot_source slots);
void reclaimer_destroy(struct reclaimer *rc);

/*
 * reclaimer_step - one bounded step of reclamation at time `now_ns`,
 * without waiting: if the grace period requested last has passed, sweep
 * the slots and begin a pass (or sweep again, every GRACE_EVERY_NS, while
 * items are pinned, to see which snapshots ended); judge a bounded number
 * of items of the pass under way; if anything waits and no grace period is
 * pending, request the next, but no sooner than GRACE_EVERY_NS after the
 * last request unless GRACE_BATCH_BYTES were retired since (reclaim.c);
 * publish the figures in the meta segment. Call inside an RCU read-side
 * section.
 */
void reclaimer_step(struct reclaimer *rc, uint64_t now_ns);

/* reclaimer_due - whether the writer should take a step at `now_ns`: a
 * pass is under way, or enough was retired or enough time passed while
 * reclamation waits. */
bool reclaimer_due(const struct reclaimer *rc, uint64_t now_ns);

/* reclaimer_busy - whether a step would free something now, with no
 * grace period to wait for: a pass under way (unless its last step was
 * short of memory), or a cleared or dropped table's contents being freed.
 * An idle writer takes such steps one after another, looking at its rings
 * between them, instead of one per park. */
bool reclaimer_busy(const struct reclaimer *rc);

/*
 * reclaimer_waiting - whether reclamation has anything to do: retired or
 * pinned items, a grace period pending, a pass under way, or a horizon
 * behind a commit made since the last grace period was asked for. The
 * writer keeps waking while it is true.
 */
bool reclaimer_waiting(const struct reclaimer *rc);

/* reclaimer_holds - whether memory pressure could get anything back:
 * retired items wait (in the queue or pinned) or pruned blocks wait for
 * other uses, unless nothing changed since reclaimer_now last ran. */
bool reclaimer_holds(const struct reclaimer *rc);

/*
 * reclaimer_now - judge every item retired up to the current commit after
 * a grace period taken on this thread (expedited: it interrupts readers'
 * cpus), and every pinned item whose snapshot ended, and give pruned blocks
 * no reader can stand on any more to every kind of block, for when memory
 * is short. Call inside an RCU read-side section.
 */
void reclaimer_now(struct reclaimer *rc);

#endif /* SHMDBD_RECLAIM_H */
