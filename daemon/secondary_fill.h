/*
 * secondary_fill.h - building a secondary index over the rows its table
 * held when it was created, in steps between transactions, so that the
 * writer never stalls longer than a commit of FILL_STEP rows. Writer
 * thread only.
 *
 * From the commit that creates it, an index is kept by every commit of
 * its table (secondary_keep.h); the fill adds, a step at a time, the
 * entries of the rows that were there before, walking the table's hash
 * index slot by slot: each step is a commit of its own, of PUTs of the
 * entries of the rows in the next slots as the rows are then. A row
 * written after the creation has its entry from the upkeep already; the
 * fill's PUT of the same entry writes what is there. When the walk has
 * passed every slot, every row has its entry and the definition's
 * ready_ts publishes the commit from which the index is complete. A walk
 * whose table's hash index is replaced meanwhile (grown, or a CLEAR)
 * starts again on the new one: the rows keep their slots only within one
 * index.
 */
#ifndef SHMDBD_SECONDARY_FILL_H
#define SHMDBD_SECONDARY_FILL_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* Rows a step puts into the index being built, at most. */
#define FILL_STEP 1024

struct core;
struct tables;

struct secondary_fill {
	uint32_t queue[SHM_MAX_TABLES]; /* indexes to build, queue[0] first */
	size_t n;
	uint64_t word;                  /* the table's hash index being walked */
	uint64_t word_ts;               /* the commit that made it the table's
					 * (replacement_ts in secondary_fill.c) */
	uint64_t pos;                   /* its next slot */
	uint8_t *buf;                   /* a step's transaction */
	size_t cap;
	uint32_t seen[2 * FILL_STEP];   /* a unique index's values in the step
					 * (their offsets in buf + 1, by hash) */
};

/* fill_add - build index `id` (live in `tables`) after the ones queued
 * before it. */
void fill_add(struct secondary_fill *f, struct tables *tables, uint32_t id);

/* Whether a build waits for steps. */
static inline int fill_pending(const struct secondary_fill *f)
{
	return f->n != 0;
}

/*
 * fill_step - one step of the build at the head of the queue, committed
 * through commit_txn; when the walk is done, the index's ready_ts is
 * published. A build that finds rows sharing a value of a unique index,
 * or a value with no key, or no memory for its step, ends there: the
 * index's ready_ts becomes SHM_TS_INFINITY and its error says why (the
 * upkeep leaves it alone, and the client that created it drops it).
 * Inside the writer's RCU read-side section, as any commit.
 */
void fill_step(struct core *c);

void fill_free(struct secondary_fill *f);

/*
 * fill_end_replay - a logged WAL_FILL_END: the build of the index of
 * table `base` on column[0..len) ended, failed with err (< 0) or not (0).
 * A failed one is marked failed as the first run did and leaves the queue;
 * a built one stays queued (the build runs after the replay). Returns 0,
 * or -ENOENT when there is no such index.
 */
int fill_end_replay(struct core *c, uint32_t base, const uint8_t *column, size_t len, int err);

#endif /* SHMDBD_SECONDARY_FILL_H */
