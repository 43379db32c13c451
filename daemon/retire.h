/*
 * retire.h - the retire queue: what the writer has unlinked from the
 * store, with the commit that unlinked it, waiting until no snapshot can
 * reach it (reclaim.h frees it then). Writer thread only.
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
	uint64_t horizon;       /* no live snapshot is older (reclaim.c) */
};

/* An empty queue; the horizon is the store's first commit. */
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

/* The oldest item, or NULL if the queue is empty; retire_pop removes it. */
static inline const struct retired *retire_peek(const struct retire_queue *q)
{
	return q->head == q->tail ? NULL : &q->items[q->head % q->cap];
}
void retire_pop(struct retire_queue *q);

#endif /* SHMDBD_RETIRE_H */
