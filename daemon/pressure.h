/*
 * pressure.h - the memory monitor: how full the arenas are against the
 * daemon's two thresholds (--memory-high, --memory-critical), as a level
 * published in the meta segment (line 7, layout.h) and logged at each
 * change. At high the writer reclaims eagerly (reclaim.h); at critical the
 * core refuses a transaction that would take memory (SHMDB_EPRESSURE) and
 * applies one that only frees. Writer thread only.
 */
#ifndef SHMDBD_PRESSURE_H
#define SHMDBD_PRESSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "decode.h"
#include "layout.h"

struct pressure {
	struct shm_meta *meta;
	const struct alloc *alloc;
	uint64_t overhead;          /* arena headers, in use from the start */
	uint64_t total;             /* bytes of every arena */
	uint64_t high, critical;    /* the thresholds, in bytes of use */
	uint64_t margin;            /* use falls this far below a threshold to leave it */
	uint32_t level;             /* SHMDB_PRESSURE_* */
	uint64_t lower_since_ns;    /* CLOCK_MONOTONIC since use has been low enough
				     * for a lower level, 0 if it is not */
};

/* How long use stays under a level (by the margin) before the level is
 * left: a retired index freed as a table grows, or a burst of deletes
 * and puts at the edge, does not make the level flicker. */
#define PRESSURE_HOLD_NS 500000000ull

/* pressure_init - the level normal; thresholds in percent of the arenas
 * (high < critical, 1..100). Publishes the thresholds in meta. */
void pressure_init(struct pressure *p, const struct alloc *a, struct shm_meta *m,
		   uint32_t high_pct, uint32_t critical_pct);

/* pressure_check - the level for the arenas' use now. A level is entered
 * as soon as use reaches its threshold, and left once use has stayed
 * `margin` below it for PRESSURE_HOLD_NS; a change is published
 * (meta->pressure, pressure_since_ns) and logged. */
uint32_t pressure_check(struct pressure *p);

/* Whether a lower level waits for its hold to pass: the writer must look
 * again (pressure_check) even if no work comes. */
static inline bool pressure_settling(const struct pressure *p)
{
	return p->lower_since_ns != 0;
}

/* Whether the arenas' use is at or above the critical threshold now (the
 * level aside: it leaves critical only after its hold). */
bool pressure_over_critical(const struct pressure *p);

/* Whether ops[0..nops) take memory: a put, an update, a create or a
 * reserve. Deletes, clears, drops and checks do not (a delete's tombstone
 * is small, and the version it replaces comes back after reclamation). */
bool pressure_takes_memory(const struct pending_op *ops, size_t nops);

/* Count a commit refused at critical (meta->pressure_refused). */
void pressure_refused(struct pressure *p);

#endif /* SHMDBD_PRESSURE_H */
