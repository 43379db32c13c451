/*
 * retire.h - the retire queue: what the writer has unlinked from the
 * store, with the commit that unlinked it, waiting until no snapshot can
 * reach it (reclaim.h frees it then). Writer thread only.
 *
 * The queue holds what no reclamation pass has looked at yet; what a live
 * snapshot still sees moves on to the reclaimer's pins (pins.h).
 *
 * The queue also carries the reclamation horizon: no live snapshot is older
 * than it. The reclaimer advances it; the transaction passes read it to
 * tell a tombstone dead to every snapshot (one a rebuilt index may leave
 * out).
 */
#ifndef SHMDBD_RETIRE_H
#define SHMDBD_RETIRE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

enum retired_kind {
	RETIRED_VERSION,     /* a replaced record version: off, size; prunable */
	RETIRED_BLOCK,       /* an arena block: off, size */
	RETIRED_TABLE_SLOT,  /* a dropped table's catalog slot: off = slot */
	RETIRED_INDEX_CONTENTS, /* an index and the head each slot names (a
				 * cleared or dropped table's): off = its index
				 * word, size = the index's bytes; freed in steps */
	RETIRED_TREE,        /* an ordered table's whole tree (a cleared or
			      * dropped table's): off = its root node; its
			      * nodes freed in steps, not the versions they name */
	RETIRED_MOVED,       /* a version the clustering copied elsewhere
			      * (cluster.h), off its chain: off, size; end is
			      * the commit after the one published then; freed
			      * as a pruned version while an older snapshot may
			      * stand on it */
};

/*
 * An item and the snapshots that may reach it: those in [begin, end). For
 * a replaced version, its own begin_ts and the commit that replaced it; for
 * an index the writer replaced, [0, end) (a reader keeps the index it
 * loaded for its whole snapshot), a cleared index and its heads as well;
 * for what a table drop retired (its index and heads, count and catalog
 * slot), the table's [created_ts, dropped_ts); for a version the
 * clustering moved, as for a replaced one.
 */
struct retired {
	uint64_t end;    /* the commit that unlinked it */
	uint64_t begin;
	uint64_t off;
	uint64_t newer;  /* RETIRED_VERSION: the version that replaced it */
	uint32_t size;
	uint32_t kind;
	uint32_t table;  /* RETIRED_VERSION: its table's id */
	uint32_t reserved;
};

/* The replaced versions of one table waiting for reclamation (in the queue
 * or pinned), for statistics: the main thread reads them with relaxed
 * loads for a report (stats_reply.c); the writer stores them. A slot
 * counts for the table whose id it holds; a new table in the slot starts
 * again from 0, and what is freed later of a dropped one is not counted
 * against it. */
struct table_waiting {
	uint32_t id;
	uint32_t reserved;
	uint64_t versions;
	uint64_t bytes;
};

/* A FIFO of retired items, in commit order (the writer retires in order). */
struct retire_queue {
	struct table_waiting waiting[SHM_MAX_TABLES]; /* by catalog slot */
	struct retired *items;
	size_t cap, head, tail; /* items[head..tail) modulo cap */
	uint64_t bytes;         /* block bytes in the queue */
	uint64_t total;         /* block bytes ever retired */
	uint64_t items_total;   /* items ever retired */
	uint64_t horizon;       /* no live snapshot is older (reclaim.c) */
};

/* An empty queue; the horizon is the store's first commit. */
void retire_init(struct retire_queue *q);
void retire_free_all(struct retire_queue *q);

/* Queue an item. Room must have been made with retire_reserve(): a writer
 * must never unlink what it cannot retire. */
void retire(struct retire_queue *q, const struct retired *item);

/* Queue the version at `off` (`size` bytes, begin_ts `begin`, of table
 * `table`) that `newer` replaced at commit `end`. */
static inline void retire_version(struct retire_queue *q, uint64_t end, uint64_t begin,
				  uint64_t off, uint32_t size, uint64_t newer, uint32_t table)
{
	retire(q, &(struct retired){ .end = end, .begin = begin, .off = off, .newer = newer,
				     .size = size, .kind = RETIRED_VERSION, .table = table });
}

/* Queue a block or table slot reachable by the snapshots in [begin, end). */
static inline void retire_block(struct retire_queue *q, uint64_t end, uint64_t begin,
				uint64_t off, uint32_t size, uint32_t kind)
{
	retire(q, &(struct retired){ .end = end, .begin = begin, .off = off, .size = size,
				     .kind = kind });
}

/* Make room for n more items. Returns 0 or -ENOMEM. */
int retire_reserve(struct retire_queue *q, size_t n);

static inline size_t retire_count(const struct retire_queue *q)
{
	return q->tail - q->head;
}

/* The k-th oldest item (from 0), or NULL if the queue holds no more. */
static inline const struct retired *retire_at(const struct retire_queue *q, size_t k)
{
	return k < retire_count(q) ? &q->items[(q->head + k) % q->cap] : NULL;
}

/* The place of the oldest item among all ever retired (from 0): an item
 * queued when items_total was n has place n. */
static inline uint64_t retire_head_place(const struct retire_queue *q)
{
	return q->items_total - retire_count(q);
}

/* The oldest item, or NULL if the queue is empty; retire_pop removes it. */
static inline const struct retired *retire_peek(const struct retire_queue *q)
{
	return retire_at(q, 0);
}
void retire_pop(struct retire_queue *q);

/* A version retire() counted for its table has been freed. */
void retire_forget_version(struct retire_queue *q, const struct retired *item);

#endif /* SHMDBD_RETIRE_H */
