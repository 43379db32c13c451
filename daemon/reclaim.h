/*
 * reclaim.h - retiring what the writer unlinks and freeing it once no
 * snapshot can reach it. Writer thread only.
 */
#ifndef SHMDBD_RECLAIM_H
#define SHMDBD_RECLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "sessions.h"

enum retired_kind {
	RETIRED_BLOCK,       /* an arena block: off, size */
	RETIRED_TABLE_SLOT,  /* a dropped table's catalog slot: off = slot */
};

struct retired {
	uint64_t ts;    /* the commit that unlinked it */
	uint64_t off;
	uint32_t size;
	uint32_t kind;
};

/* A FIFO of retired items, in commit order (the writer retires in order). */
struct retire_queue {
	struct retired *items;
	size_t cap, head, tail; /* items[head..tail) modulo cap */
	uint64_t bytes;         /* block bytes waiting */
	uint64_t total;         /* block bytes ever retired */
};

void retire_init(struct retire_queue *q);
void retire_free_all(struct retire_queue *q);

/* Queue an item. Room must have been made with retire_reserve(): a writer
 * must never unlink what it cannot retire. */
void retire(struct retire_queue *q, uint64_t ts, uint64_t off, uint32_t size, uint32_t kind);

/* Make room for n more items. Returns 0 or -ENOMEM. */
int retire_reserve(struct retire_queue *q, size_t n);

static inline size_t retire_count(const struct retire_queue *q)
{
	return q->tail - q->head;
}

/* The commit that retired the oldest item; the queue must not be empty. */
static inline uint64_t retire_oldest_ts(const struct retire_queue *q)
{
	return q->items[q->head % q->cap].ts;
}

/*
 * reclaim_horizon - the oldest snapshot any live reader slot of any session
 * holds, or commit_ts if none. Slots claiming a snapshot older than
 * `previous` (the last horizon) or newer than commit_ts are ignored: no
 * legitimate reader can hold one (a reader that stored a stale snapshot
 * re-checks commit_ts and retries). Call inside an RCU read-side section,
 * after a grace period that began after commit_ts was published (grace.h).
 */
uint64_t reclaim_horizon(const struct session_registry *sessions, uint64_t previous,
			 uint64_t commit_ts);

/*
 * reclaim_run - free every item retired at or before `horizon`: blocks go
 * back to the allocator, table slots are marked free in the catalog.
 * Returns the bytes freed.
 */
uint64_t reclaim_run(struct retire_queue *q, uint64_t horizon, struct alloc *a,
		     struct shm_meta *meta);

#endif /* SHMDBD_RECLAIM_H */
