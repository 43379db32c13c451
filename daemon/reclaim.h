/*
 * reclaim.h - the reclaimer: it frees what the retire queue holds once no
 * snapshot can reach it, and owns the pacing of that work (when to ask for
 * a grace period, when to scan the reader slots). Writer thread only.
 */
#ifndef SHMDBD_RECLAIM_H
#define SHMDBD_RECLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "grace.h"
#include "layout.h"
#include "retire.h"

/*
 * Where the live snapshots are: one sweep over every reader slot of every
 * session. begin starts a sweep, next returns the next run of *n slots (NULL
 * after the last), end closes it. A sweep sees every session that was
 * registered when it began. Called inside the caller's RCU read-side
 * section.
 */
struct slot_source {
	void (*begin)(void *ctx);
	const struct shm_reader_slot *(*next)(void *ctx, unsigned *n);
	void (*end)(void *ctx);
	void *ctx;
};

struct reclaimer {
	struct shm_meta *meta;
	struct alloc *alloc;
	struct retire_queue *retired;  /* its horizon is the reclaimer's to move */
	struct grace *grace;           /* the grace periods reclamation waits for */
	struct slot_source slots;
	int grace_pending;             /* a grace period was requested ... */
	uint32_t grace_gen;            /* ... with this generation ... */
	uint64_t grace_commit;         /* ... after this commit was published ... */
	uint64_t grace_asked_ns;       /* ... at this time (CLOCK_MONOTONIC), */
	uint64_t grace_asked_total;    /* ... when retired->total was this */
};

/* reclaimer_init - nothing requested yet; frees into `alloc`. */
void reclaimer_init(struct reclaimer *rc, struct shm_meta *meta, struct alloc *alloc,
		    struct retire_queue *retired, struct grace *grace, struct slot_source slots);

/*
 * reclaimer_step - one step of reclamation at time `now_ns`, without
 * waiting: if the grace period requested last has passed, compute the
 * horizon and free what it allows; if anything waits, or the horizon lags
 * the commit, and no grace period is pending, request the next, but no
 * sooner than GRACE_EVERY_NS after the last request unless
 * GRACE_BATCH_BYTES were retired since (reclaim.c); publish oldest_snapshot,
 * arena use and the retire figures in the meta segment.
 * Call inside an RCU read-side section.
 */
void reclaimer_step(struct reclaimer *rc, uint64_t now_ns);

/*
 * reclaimer_waiting - whether reclamation has anything to do: retired
 * items, a grace period pending, or a horizon behind a commit made since
 * the last grace period was asked for. The writer keeps waking while it is
 * true.
 */
bool reclaimer_waiting(const struct reclaimer *rc);

/*
 * reclaimer_now - reclaim up to the current commit after a grace period
 * taken on this thread (expedited: it interrupts readers' cpus), for when
 * memory is short. Call inside an RCU read-side section.
 */
void reclaimer_now(struct reclaimer *rc);

/*
 * reclaim_horizon - the oldest snapshot any reader slot holds, or
 * commit_ts if none. Slots claiming a snapshot older than `previous` (the
 * last horizon) or newer than commit_ts are ignored: no legitimate reader
 * can hold one (a reader that stored a stale snapshot re-checks commit_ts
 * and retries). Call after a grace period that began after commit_ts was
 * published (grace.h).
 */
uint64_t reclaim_horizon(const struct slot_source *slots, uint64_t previous, uint64_t commit_ts);

/*
 * reclaim_run - free every item of q retired at or before q->horizon:
 * blocks go back to the allocator, table slots are marked free in the
 * catalog. Returns the bytes freed.
 */
uint64_t reclaim_run(struct retire_queue *q, struct alloc *a, struct shm_meta *meta);

#endif /* SHMDBD_RECLAIM_H */
