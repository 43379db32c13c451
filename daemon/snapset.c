/*
 * snapset.c - the live snapshots of one sweep (see snapset.h).
 *
 * Invariant: v[0..n) ascending by snap, no snap twice, every snap within the
 * bounds of the scan that made it. The slots are read with relaxed loads:
 * the grace period the caller waited for orders every store that matters
 * before them (daemon/reclaim.c).
 */
#include "snapset.h"

#include <errno.h>
#include <stdlib.h>

void snapset_init(struct snapset *set)
{
	*set = (struct snapset){ 0 };
}

void snapset_free(struct snapset *set)
{
	free(set->v);
	snapset_init(set);
}

static int by_snap(const void *a, const void *b)
{
	uint64_t x = ((const struct snap_holder *)a)->snap, y = ((const struct snap_holder *)b)->snap;
	return (x > y) - (x < y);
}

static int push(struct snapset *set, uint64_t snap, pid_t pid)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;
		struct snap_holder *v = realloc(set->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n++] = (struct snap_holder){ snap, pid };
	return 0;
}

int snapset_scan(struct snapset *set, const struct slot_source *src, uint64_t floor,
		 uint64_t ceiling)
{
	const struct shm_reader_slot *slot;
	unsigned n;
	pid_t pid;
	int err = 0;

	set->n = 0;
	src->begin(src->ctx);
	while (!err && (slot = src->next(src->ctx, &n, &pid))) {
		for (unsigned i = 0; !err && i < n; i++) {
			uint64_t snap = __atomic_load_n(&slot[i].snapshot, __ATOMIC_RELAXED);
			if (snap && snap >= floor && snap <= ceiling)
				err = push(set, snap, pid);
		}
	}
	src->end(src->ctx);
	if (err) {
		set->n = 0;
		return err;
	}
	if (set->n < 2)
		return 0;
	qsort(set->v, set->n, sizeof(*set->v), by_snap);
	size_t kept = 0;
	for (size_t i = 0; i < set->n; i++)
		if (kept == 0 || set->v[kept - 1].snap != set->v[i].snap)
			set->v[kept++] = set->v[i];
	set->n = kept;
	return 0;
}

uint64_t snapset_newest_in(const struct snapset *set, uint64_t lo, uint64_t hi)
{
	size_t a = 0, b = set->n; /* the first snap >= hi is at b */
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (set->v[m].snap < hi)
			a = m + 1;
		else
			b = m;
	}
	return b > 0 && set->v[b - 1].snap >= lo ? set->v[b - 1].snap : 0;
}
