/*
 * reclaim.c - the reclaimer (see reclaim.h).
 *
 * Safety argument. A reader publishes its snapshot in its slot, issues a
 * full fence (or relies on the writer's membarrier, see libshm/read.c), and
 * re-reads commit_ts, retrying until the two agree. The writer publishes
 * commit_ts, then waits for a grace period (a full fence and a global
 * membarrier that began after the publication, grace.h), then scans the
 * slots. So for a commit X that unlinked item I: either the scan sees
 * the reader's slot (horizon <= its snapshot < X: I is kept), or the reader's
 * re-read sees X or later and its snapshot cannot reach I. Items are freed
 * only when horizon >= their retire commit.
 *
 * Invariants: the horizon (retired->horizon) never moves back; at most one
 * grace period is requested at a time, and grace_commit is the commit
 * published before it was.
 *
 * Pacing. How often reclamation asks for a grace period while memory waits
 * or the horizon lags: each is a kernel RCU grace period (grace.h) whose
 * kthread runs on any cpu, clients' included. Traced (sched_switch) over one
 * shmdb-bench run: asked back to back, 570 periods, and the kthread
 * preempted the client cpu 550 times; at most one per GRACE_EVERY_NS, 145
 * and 110. The cost is garbage waiting up to GRACE_EVERY_NS longer (under
 * 1 MB at 100k 150-byte puts a second). GRACE_BATCH_BYTES retired since the
 * last request ask at once, so heavy overwriting stays bounded, and memory
 * pressure reclaims at once (reclaimer_now, which the core asks for when a
 * transaction finds no room, core.h).
 */
#include "reclaim.h"

#define GRACE_EVERY_NS 50000000ull
#define GRACE_BATCH_BYTES (1ull << 20)

void reclaimer_init(struct reclaimer *rc, struct shm_meta *meta, struct alloc *alloc,
		    struct retire_queue *retired, struct grace *grace, struct slot_source slots)
{
	*rc = (struct reclaimer){ .meta = meta, .alloc = alloc, .retired = retired,
				  .grace = grace, .slots = slots };
}

uint64_t reclaim_horizon(const struct slot_source *slots, uint64_t previous, uint64_t commit_ts)
{
	const struct shm_reader_slot *slot;
	uint64_t horizon = commit_ts;
	unsigned n;

	slots->begin(slots->ctx);
	while ((slot = slots->next(slots->ctx, &n))) {
		for (unsigned i = 0; i < n; i++) {
			uint64_t snap = __atomic_load_n(&slot[i].snapshot, __ATOMIC_RELAXED);
			if (snap && snap >= previous && snap < horizon)
				horizon = snap;
		}
	}
	slots->end(slots->ctx);
	return horizon;
}

uint64_t reclaim_run(struct retire_queue *q, struct alloc *a, struct shm_meta *meta)
{
	const struct retired *r;
	uint64_t freed = 0;
	while ((r = retire_peek(q)) && r->ts <= q->horizon) {
		if (r->kind == RETIRED_BLOCK) {
			alloc_put(a, r->off, r->size);
			freed += r->size;
		} else {
			struct shm_table *t = &meta->tables[r->off];
			/* No snapshot can name the dropped table any more. */
			__atomic_store_n(&t->id, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&t->state, SHM_TABLE_FREE, __ATOMIC_RELAXED);
		}
		retire_pop(q);
	}
	return freed;
}

/* Publish oldest_snapshot, arena use and the retire figures. */
static void publish_figures(struct reclaimer *rc, uint64_t freed)
{
	struct shm_meta *m = rc->meta;
	__atomic_store_n(&m->oldest_snapshot, rc->retired->horizon, __ATOMIC_RELAXED);
	__atomic_store_n(&m->reclaimed_bytes, m->reclaimed_bytes + freed, __ATOMIC_RELAXED);
	__atomic_store_n(&m->retired_bytes, rc->retired->bytes, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < rc->alloc->narenas; i++) {
		struct alloc_arena *ar = &rc->alloc->arena[i];
		uint64_t header = ar->start - m->arena_table[i].range_off;
		__atomic_store_n(&m->arena_table[i].used, header + ar->used, __ATOMIC_RELAXED);
	}
}

/* Free what retired at or before `commit`, the commit_ts published before
 * a grace period that has passed, unless a live snapshot still needs it.
 * Returns the bytes freed. */
static uint64_t reclaim_upto(struct reclaimer *rc, uint64_t commit)
{
	struct retire_queue *q = rc->retired;
	uint64_t horizon = reclaim_horizon(&rc->slots, q->horizon, commit);
	if (horizon > q->horizon)
		q->horizon = horizon;
	return reclaim_run(q, rc->alloc, rc->meta);
}

void reclaimer_step(struct reclaimer *rc, uint64_t now_ns)
{
	uint64_t freed = 0;
	if (rc->grace_pending && grace_passed(rc->grace, rc->grace_gen)) {
		rc->grace_pending = 0;
		freed = reclaim_upto(rc, rc->grace_commit);
	}
	uint64_t commit = __atomic_load_n(&rc->meta->commit_ts, __ATOMIC_RELAXED);
	if (!rc->grace_pending && reclaimer_waiting(rc) &&
	    (now_ns - rc->grace_asked_ns >= GRACE_EVERY_NS ||
	     rc->retired->total - rc->grace_asked_total >= GRACE_BATCH_BYTES)) {
		rc->grace_commit = commit;
		rc->grace_gen = grace_request(rc->grace);
		rc->grace_asked_ns = now_ns;
		rc->grace_asked_total = rc->retired->total;
		rc->grace_pending = 1;
	}
	publish_figures(rc, freed);
}

bool reclaimer_waiting(const struct reclaimer *rc)
{
	/* The horizon alone is worth a grace period only once per commit: if
	 * a reader holds an old snapshot, asking again without a new commit
	 * would find the same horizon. */
	uint64_t commit = __atomic_load_n(&rc->meta->commit_ts, __ATOMIC_RELAXED);
	return retire_count(rc->retired) || rc->grace_pending ||
	       (rc->retired->horizon < commit && commit != rc->grace_commit);
}

void reclaimer_now(struct reclaimer *rc)
{
	grace_sync(rc->grace);
	publish_figures(rc, reclaim_upto(rc, __atomic_load_n(&rc->meta->commit_ts,
							      __ATOMIC_RELAXED)));
}
