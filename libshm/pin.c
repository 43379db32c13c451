/*
 * pin.c - shmdb_arena_cpus and shmdb_pin_thread: readers pinned near the
 * arena they read, spread over the cpus the daemon found near each arena's
 * node (meta near_cpus, hwloc's, the writer's core left out), by the pins
 * every client's threads recorded in their reader slots (counted by the
 * daemon's report). Two threads pinning at the same moment may pick the
 * same cpu: each reads the counts before the other's pin is recorded; the
 * spread is a best effort, the pin itself is exact.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "client_internal.h"

_Static_assert(SHM_CPU_WORDS * 64 == SHMDB_MAX_CPUS, "cpu masks");

int shmdb_arena_cpus(shmdb *db, unsigned arena, uint64_t mask[SHMDB_MAX_CPUS / 64])
{
	if (!db || !mask || arena >= db->meta->arena_count)
		return -EINVAL;
	memcpy(mask, db->meta->near_cpus[arena], SHM_CPU_WORDS * sizeof(uint64_t));
	return 0;
}

int shm_pin_choose(const uint64_t *mask, const shmdb_cpu_pins *pins, size_t npins)
{
	int best = -ENOENT;
	unsigned best_n = 0;
	for (unsigned c = 0; c < SHMDB_MAX_CPUS; c++) {
		if (!(mask[c / 64] >> (c % 64) & 1))
			continue;
		unsigned n = 0;
		for (size_t i = 0; i < npins; i++)
			if (pins[i].cpu == c)
				n = pins[i].threads;
		if (best < 0 || n < best_n) {
			best = (int)c;
			best_n = n;
		}
	}
	return best;
}

/* The cpus flags ask for, into mask: 0 or -EINVAL. */
static int candidates(shmdb *db, int flags, uint64_t *mask)
{
	const struct shm_meta *m = db->meta;
	int node = (flags >> 8) - 1;
	if ((flags & ~(SHMDB_PIN_ANY_NODE | ~0xff)) || ((flags & SHMDB_PIN_ANY_NODE) && node >= 0))
		return -EINVAL;
	memset(mask, 0, SHM_CPU_WORDS * sizeof(uint64_t));
	bool found = false;
	for (unsigned a = 0; a < m->arena_count; a++) {
		bool take = node >= 0 ? m->arena_table[a].numa_node == node
				      : (flags & SHMDB_PIN_ANY_NODE) || a == 0;
		if (!take)
			continue;
		found = true;
		for (unsigned w = 0; w < SHM_CPU_WORDS; w++)
			mask[w] |= m->near_cpus[a][w];
	}
	return found ? 0 : -EINVAL;
}

int shmdb_pin_thread(shmdb *db, int flags)
{
	uint64_t mask[SHM_CPU_WORDS];
	if (!db)
		return -EINVAL;
	int e = candidates(db, flags, mask);
	if (e)
		return e;
	shmdb_rtxn *r = shm_thread_reader(db);
	if (!r)
		return -EAGAIN;
	shmdb_report *rep;
	if ((e = shmdb_report_get(db, &rep)))
		return e;
	/* Not counting this thread's own pin, if it had one. */
	uint32_t own = __atomic_load_n(&r->slot->pinned, __ATOMIC_RELAXED);
	for (size_t i = 0; own && i < rep->npins; i++)
		if (rep->pins[i].cpu + 1 == own && rep->pins[i].threads)
			rep->pins[i].threads--;
	int cpu = shm_pin_choose(mask, rep->pins, rep->npins);
	shmdb_report_free(rep);
	if (cpu < 0)
		return cpu;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((unsigned)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) /* 0: the calling thread */
		return -errno;
	__atomic_store_n(&r->slot->pinned, (uint32_t)cpu + 1, __ATOMIC_RELAXED);
	return cpu;
}
