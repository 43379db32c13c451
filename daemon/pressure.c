/*
 * pressure.c - the memory monitor (see pressure.h).
 *
 * Use is what shmdb_stats calls mem_used: the arenas' headers plus the
 * class sizes of the blocks allocated (alloc.h), so the level an operator
 * reads agrees with the bytes beside it. Free blocks on the class stacks
 * count as free.
 *
 * Ordering: the level and its figures are statistics for clients (line 7
 * of the meta segment), stored relaxed by the writer alone; nothing a
 * client does depends on reading them at a particular moment, and the
 * refusal itself is the writer's decision, answered in the completion.
 */
#include "pressure.h"

#include <time.h>

#include "clock.h"
#include "log.h"
#include "shmdb.h"

void pressure_init(struct pressure *p, const struct alloc *a, struct shm_meta *m,
		   uint32_t high_pct, uint32_t critical_pct)
{
	p->meta = m;
	p->alloc = a;
	p->overhead = p->total = 0;
	for (unsigned i = 0; i < a->narenas; i++) {
		p->overhead += a->arena[i].start - m->arena_table[i].range_off;
		p->total += m->arena_table[i].size;
	}
	p->high = p->total / 100 * high_pct + p->total % 100 * high_pct / 100;
	p->critical = p->total / 100 * critical_pct + p->total % 100 * critical_pct / 100;
	p->margin = p->total / 100;
	p->level = SHMDB_PRESSURE_NORMAL;
	p->lower_since_ns = 0;
	m->memory_high_pct = high_pct;
	m->memory_critical_pct = critical_pct;
	__atomic_store_n(&m->pressure, SHMDB_PRESSURE_NORMAL, __ATOMIC_RELAXED);
}

static uint32_t level_at(const struct pressure *p, uint64_t used)
{
	return used >= p->critical ? SHMDB_PRESSURE_CRITICAL
	       : used >= p->high ? SHMDB_PRESSURE_HIGH : SHMDB_PRESSURE_NORMAL;
}

static const char *const level_says[] = {
	[SHMDB_PRESSURE_NORMAL] = "normal",
	[SHMDB_PRESSURE_HIGH] = "high: the writer reclaims eagerly",
	[SHMDB_PRESSURE_CRITICAL] = "critical: commits that would take memory are refused, "
				    "deletes, clears and drops apply",
};

static uint64_t used_now(const struct pressure *p)
{
	uint64_t used = p->overhead;
	for (unsigned i = 0; i < p->alloc->narenas; i++)
		used += p->alloc->arena[i].used;
	return used;
}

bool pressure_over_critical(const struct pressure *p)
{
	return used_now(p) >= p->critical;
}

uint32_t pressure_check(struct pressure *p)
{
	uint64_t used = used_now(p);
	uint32_t level = level_at(p, used);
	if (level < p->level) {
		/* Leave a level only `margin` below it, held for a while. */
		level = level_at(p, used + p->margin);
		if (level < p->level && !p->lower_since_ns) {
			p->lower_since_ns = shm_now_ns();
			return p->level;
		}
		if (level < p->level && shm_now_ns() - p->lower_since_ns < PRESSURE_HOLD_NS)
			return p->level;
	}
	if (level == p->level) {
		p->lower_since_ns = 0;
		return level;
	}
	p->lower_since_ns = 0;
	p->level = level;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	__atomic_store_n(&p->meta->pressure, level, __ATOMIC_RELAXED);
	__atomic_store_n(&p->meta->pressure_since_ns,
			 (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec,
			 __ATOMIC_RELAXED);
	log_line("memory pressure %s (%.1f%% of the arenas in use: %.1f of %.1f MiB)",
		 level_says[level], p->total ? 100.0 * (double)used / (double)p->total : 0.0,
		 (double)used / 1048576.0, (double)p->total / 1048576.0);
	return level;
}

bool pressure_takes_memory(const struct pending_op *ops, size_t nops)
{
	for (size_t i = 0; i < nops; i++)
		switch (ops[i].op.code) {
		case SHM_OP_PUT:
		case SHM_OP_UPDATE:
		case SHM_OP_CREATE_TABLE:
		case SHM_OP_CREATE_INDEX:
		case SHM_OP_RESERVE:
			return true;
		}
	return false;
}

void pressure_refused(struct pressure *p)
{
	__atomic_store_n(&p->meta->pressure_refused, p->meta->pressure_refused + 1,
			 __ATOMIC_RELAXED);
}
