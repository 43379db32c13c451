/*
 * reclaim.c - the reclaimer (see reclaim.h).
 *
 * Safety argument. A reader publishes its snapshot in its slot, issues a
 * full fence (or relies on the writer's membarrier, see libshm/read.c), and
 * re-reads commit_ts, retrying until the two agree. The writer publishes
 * commit_ts, then waits for a grace period (a full fence and a global
 * membarrier that began after the publication, grace.h), then sweeps the
 * slots. So for an item retired at a commit X at or before the graced
 * commit C: a reader whose snapshot is older than X is in the sweep, and
 * one that is not has a snapshot of C or later, which neither sees the item
 * nor walks through it (it stops at the first version at or below its
 * snapshot, which is at or above X). A later sweep, without a new grace
 * period, still sees every snapshot older than C: those were stored before
 * the grace period, and a reader clears its slot only after its last load.
 * So every sweep judges the items retired at or before the last graced
 * commit. A version the clustering moved (cluster.h) is retired at the
 * commit after the one published when it moved, P + 1, which no snapshot
 * that may have loaded it reaches (theirs are at most P); it may be
 * judged once a grace period that began after it moved has passed,
 * whether commit P + 1 came or not, by a sweep taken after that: a reader
 * not in the sweep announced its snapshot after the move, and found the
 * copy where the version was. Which moves a grace period covers is told
 * by their places in the queue (retire_head_place), not by their end:
 * moves after a grace period was asked for, before the next commit, have
 * the same end as those before it, and a pass whose sweep came before
 * them must not judge them (a snapshot begun after that sweep may have
 * read the original).
 * An item is kept while a swept snapshot lies in [begin, end); a snapshot
 * not in the sweep is newer than every such end, so the set of snapshots
 * that see an item only shrinks (pins.h).
 *
 * Freeing: with no live snapshot older than an item's end, no reader can
 * reach it (a reader follows `older` only from a version newer than its
 * snapshot, and the versions between are gone only if no live snapshot saw
 * them): it goes back to the allocator. Otherwise a replaced version is
 * unlinked first and freed as a pruned version (prune.h), and a moved one,
 * on no chain, freed as one (a reader older than it may stand on it,
 * having loaded a slot or leaf ref before the move). Other items are
 * reachable only by the snapshots of their interval: an index the writer
 * replaced, by every snapshot older than its end ([0, end)); what a drop
 * retired, by the table's [created, dropped); a version of a dropped table
 * whose interval no live snapshot meets is out of reach the same way.
 *
 * Invariants: the horizon (retired->horizon) never moves back; at most one
 * grace period is requested at a time, and grace_commit is the commit
 * published before it was; `graced` never moves back; an item is in the
 * queue, in a pin group, in `rejudge`, or freed, exactly once; a version
 * block goes back to the general stacks only once no live snapshot is
 * older than its end (else it may be a pruned block a reader still reads,
 * alloc.h).
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
 * transaction finds no room, core.h). From the monitor's level high on
 * (pressure.h) the pacing is off (rc->eager): a step whenever anything
 * waits, and a grace period asked as soon as the last has passed. A step judges STEP_ITEMS items plus
 * twice what was retired since the last step, so the judging keeps up with
 * any write rate while one step stays short (an unlink may miss the cache
 * twice).
 */
#include "reclaim.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "prune.h"

#define GRACE_EVERY_NS 50000000ull
#define GRACE_BATCH_BYTES (1ull << 20)
/* Steps while nothing is under way: when this many items wait, or this
 * long after the last while any wait. */
#define STEP_EVERY_ITEMS 4096u
#define STEP_EVERY_NS 1000000ull
#define STEP_ITEMS 256u
#define JUDGE_AHEAD 8u

void reclaimer_init(struct reclaimer *rc, uint8_t *base, struct shm_meta *meta,
		    struct alloc *alloc, struct retire_queue *retired, struct grace *grace,
		    struct slot_source slots)
{
	*rc = (struct reclaimer){ .base = base, .meta = meta, .alloc = alloc, .retired = retired,
				  .grace = grace, .slots = slots, .graced = retired->horizon };
	pins_init(&rc->pins);
	snapset_init(&rc->live);
}

void reclaimer_destroy(struct reclaimer *rc)
{
	free(rc->drains);
	pins_free(&rc->pins);
	pin_group_free(&rc->rejudge);
	snapset_free(&rc->live);
}

/* Free an item no reader can reach. */
static void free_unreachable(struct reclaimer *rc, const struct retired *it)
{
	if (it->kind == RETIRED_TABLE_SLOT) {
		struct shm_table *t = &rc->meta->tables[it->off];
		/* No snapshot can name the dropped table any more. */
		__atomic_store_n(&t->id, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&t->state, SHM_TABLE_FREE, __ATOMIC_RELAXED);
		return;
	}
	/* A version block may have been a pruned version before, or a moved
	 * one be stood on now, by a reader older than this item's end: it
	 * stays a version unless no such reader is left. */
	if ((it->kind == RETIRED_VERSION || it->kind == RETIRED_MOVED) &&
	    it->end > rc->retired->horizon)
		alloc_put_version(rc->alloc, it->off, it->size);
	else
		alloc_put(rc->alloc, it->off, it->size);
	retire_forget_version(rc->retired, it);
	rc->freed += it->size;
}

/* Queue the index of item it, and the heads it names, or the nodes of
 * its tree, for freeing in steps. Returns 0 or -ENOMEM. */
static int drain_add(struct reclaimer *rc, const struct retired *it)
{
	if (rc->ndrains == rc->drains_cap) {
		size_t cap = rc->drains_cap ? 2 * rc->drains_cap : 8;
		struct drain *d = realloc(rc->drains, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		rc->drains = d;
		rc->drains_cap = cap;
	}
	struct drain *d = &rc->drains[rc->ndrains++];
	if (it->kind == RETIRED_TREE) {
		*d = (struct drain){ .depth = 1, .bytes = retired_bytes(it) };
		d->node[0] = it->off;
		d->next[0] = 0;
	} else {
		*d = (struct drain){ .word = it->off, .bytes = retired_bytes(it),
				     .versions = it->end > rc->retired->horizon };
	}
	return 0;
}

/* Free up to *budget nodes of tree drain d, each after its children.
 * Returns whether the whole tree is freed. */
static bool drain_tree(struct reclaimer *rc, struct drain *d, uint64_t *budget)
{
	while (d->depth && *budget) {
		unsigned top = d->depth - 1;
		const struct shm_node *n = (const struct shm_node *)(rc->base + d->node[top]);
		if (n->level > 0 && d->next[top] < n->count) {
			d->node[d->depth] = shm_node_ref(n)[d->next[top]++];
			d->next[d->depth++] = 0;
			continue;
		}
		alloc_put(rc->alloc, d->node[top], n->bytes);
		rc->freed += n->bytes;
		d->bytes -= d->bytes < n->bytes ? d->bytes : n->bytes;
		d->depth--;
		(*budget)--;
	}
	return d->depth == 0;
}

/* Free up to `budget` heads (or 64 empty slots for one) of the indexes
 * queued, then each index itself. Heads are read as they are freed: none
 * is freed before the whole index is judged free, so each still holds
 * its version. */
static void drain_work(struct reclaimer *rc, uint64_t budget)
{
	while (rc->ndrains && budget) {
		struct drain *d = &rc->drains[rc->ndrains - 1];
		if (!d->word) {
			if (drain_tree(rc, d, &budget))
				rc->ndrains--;
			continue;
		}
		const uint64_t *slots = (const uint64_t *)(rc->base + shm_index_off(d->word));
		uint64_t cap = shm_index_mask(d->word) + 1;
		for (unsigned scanned = 0; d->pos < cap && budget; d->pos++) {
			uint64_t s = slots[d->pos];
			if (!s) {
				if (++scanned % 64 == 0)
					budget--;
				continue;
			}
			uint64_t off = s & SHM_SLOT_OFF_MASK;
			const struct shm_version *v = (const struct shm_version *)(rc->base + off);
			size_t size = shm_version_size(v->klen, v->vlen);
			if (d->versions)
				alloc_put_version(rc->alloc, off, size);
			else
				alloc_put(rc->alloc, off, size);
			rc->freed += size;
			budget--;
		}
		if (d->pos < cap)
			return;
		alloc_put(rc->alloc, shm_index_off(d->word), shm_index_bytes(d->word));
		rc->freed += shm_index_bytes(d->word);
		rc->ndrains--;
	}
}

/* Whether a reader of a live snapshot can reach the table of version item
 * it: the table is live, or dropped with a live snapshot from its
 * creation to its drop. */
static bool table_reachable(const struct reclaimer *rc, const struct retired *it)
{
	const struct shm_table *t = &rc->meta->tables[SHM_TABLE_SLOT(it->table)];
	if (t->id != it->table || t->state == SHM_TABLE_FREE)
		return false;
	return t->state == SHM_TABLE_LIVE ||
	       snapset_newest_in(&rc->live, t->created_ts, t->dropped_ts) != 0;
}

/* Judge item it against the pass's sweep (reclaim.h). Returns 0, or
 * -ENOMEM when it could not be pinned (it is then where it was). */
static int judge(struct reclaimer *rc, const struct retired *it)
{
	if (it->end <= rc->retired->horizon) {
		if (it->kind == RETIRED_INDEX_CONTENTS || it->kind == RETIRED_TREE)
			return drain_add(rc, it);
		free_unreachable(rc, it);
		return 0;
	}
	uint64_t snap = snapset_newest_in(&rc->live, it->begin, it->end);
	if (snap)
		return pins_add(&rc->pins, snap, it);
	if (it->kind == RETIRED_INDEX_CONTENTS || it->kind == RETIRED_TREE)
		return drain_add(rc, it);
	if (it->kind == RETIRED_VERSION && table_reachable(rc, it)) {
		/* A version not on its chain is a broken invariant: kept, never
		 * freed under a reader; loud where asserts are on. */
		bool unlinked = prune_version(rc->base, rc->meta, rc->alloc, it);
		assert(unlinked);
		if (unlinked) {
			retire_forget_version(rc->retired, it);
			rc->freed += it->size;
		}
		return 0;
	}
	free_unreachable(rc, it);
	return 0;
}

/* Sweep the slots and begin a pass judging what retired up to `graced`.
 * Returns false if the sweep found no memory (no pass then). */
static bool pass_begin(struct reclaimer *rc, uint64_t now_ns)
{
	struct retire_queue *q = rc->retired;
	uint64_t commit = __atomic_load_n(&rc->meta->commit_ts, __ATOMIC_RELAXED);
	rc->scanned_ns = now_ns;
	rc->pass = snapset_scan(&rc->live, &rc->slots, q->horizon, commit) == 0;
	if (!rc->pass)
		return false; /* out of memory: the next step tries again */
	uint64_t horizon = rc->live.n && rc->live.v[0].snap < rc->graced ? rc->live.v[0].snap
									     : rc->graced;
	if (horizon > q->horizon)
		q->horizon = horizon;
	if (!rc->live.n) {
		rc->oldest_snap = 0;
	} else if (rc->live.v[0].snap != rc->oldest_snap) {
		rc->oldest_snap = rc->live.v[0].snap;
		rc->oldest_since_ns = now_ns;
	}
	return true;
}

/* The next pin group whose snapshot ended, moved to rejudge; false if none. */
static bool next_ended_group(struct reclaimer *rc)
{
	for (size_t i = 0; i < rc->pins.n; i++) {
		if (!snapset_has(&rc->live, rc->pins.g[i].snap)) {
			pin_group_free(&rc->rejudge);
			pins_take(&rc->pins, i, &rc->rejudge);
			return true;
		}
	}
	return false;
}

/* Start loading what judging `it` will touch if it is likely unlinked: the
 * version and its replacement (prune.c). Only a hint. */
static inline void prefetch_judged(const struct reclaimer *rc, const struct retired *it)
{
	if (it && it->kind == RETIRED_VERSION && it->end > rc->retired->horizon) {
		__builtin_prefetch(rc->base + it->off, 1);
		__builtin_prefetch(rc->base + it->newer, 1);
	}
}

/* Judge up to `budget` items of the pass; the pass ends when nothing it may
 * judge is left. An unlink waits on two cache misses (the version and its
 * replacement, written long ago): those of the item JUDGE_AHEAD places on
 * are already loading. */
static void pass_work(struct reclaimer *rc, uint64_t budget)
{
	struct retire_queue *q = rc->retired;
	const struct retired *it;
	rc->stuck = false;
	while (rc->pass && budget) {
		if (rc->rejudge.n) {
			if (rc->rejudge.n > JUDGE_AHEAD)
				prefetch_judged(rc, &rc->rejudge.items[rc->rejudge.n - 1 - JUDGE_AHEAD]);
			it = &rc->rejudge.items[rc->rejudge.n - 1];
			uint64_t bytes = retired_bytes(it);
			if (judge(rc, it)) {
				rc->stuck = true;
				return;
			}
			rc->rejudge.n--;
			rc->rejudge.bytes -= bytes;
		} else if (next_ended_group(rc)) {
			continue;
		} else if ((it = retire_peek(q)) &&
			   (it->end <= rc->graced ||
			    (it->kind == RETIRED_MOVED && retire_head_place(q) < rc->moved_graced))) {
			prefetch_judged(rc, retire_at(q, JUDGE_AHEAD));
			if (judge(rc, it)) {
				rc->stuck = true;
				return;
			}
			retire_pop(q);
		} else {
			rc->pass = false;
			return;
		}
		budget--;
	}
}

/* The bytes of the items being freed in steps, not freed yet. */
static uint64_t draining_bytes(const struct reclaimer *rc)
{
	uint64_t b = 0;
	for (size_t i = 0; i < rc->ndrains; i++)
		b += rc->drains[i].bytes;
	return b;
}

/* Publish oldest_snapshot, arena use and the retire figures. A dropped or
 * cleared table's contents count as retired until the last step frees
 * them, not only until they are judged free. */
static void publish_figures(struct reclaimer *rc)
{
	struct shm_meta *m = rc->meta;
	uint64_t pinned = rc->pins.bytes + rc->rejudge.bytes;
	__atomic_store_n(&m->oldest_snapshot, rc->retired->horizon, __ATOMIC_RELAXED);
	__atomic_store_n(&m->reclaimed_bytes, m->reclaimed_bytes + rc->freed, __ATOMIC_RELAXED);
	rc->freed = 0;
	__atomic_store_n(&m->retired_bytes, rc->retired->bytes + pinned + draining_bytes(rc),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&m->pinned_bytes, pinned, __ATOMIC_RELAXED);
	__atomic_store_n(&m->snapshots, (uint32_t)rc->live.n, __ATOMIC_RELAXED);
	__atomic_store_n(&m->oldest_pid, rc->live.n ? (uint32_t)rc->live.v[0].pid : 0,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&m->oldest_since_ns, rc->oldest_snap ? rc->oldest_since_ns : 0,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&m->oldest_only_bytes,
			 rc->oldest_snap ? pins_bytes_of(&rc->pins, rc->oldest_snap) : 0,
			 __ATOMIC_RELAXED);
	for (unsigned i = 0; i < rc->alloc->narenas; i++) {
		struct alloc_arena *ar = &rc->alloc->arena[i];
		uint64_t header = ar->start - m->arena_table[i].range_off;
		__atomic_store_n(&m->arena_table[i].used, header + ar->used, __ATOMIC_RELAXED);
	}
}

bool reclaimer_holds(const struct reclaimer *rc)
{
	/* Nothing new since reclaimer_now last ran at this commit: asking
	 * again would sweep and interrupt every cpu for nothing (a client
	 * retrying a transaction that does not fit). */
	uint64_t commit = __atomic_load_n(&rc->meta->commit_ts, __ATOMIC_RELAXED);
	if (commit == rc->now_commit && rc->retired->items_total == rc->now_items)
		return false;
	return retire_count(rc->retired) || rc->pins.n || rc->rejudge.n || rc->ndrains ||
	       alloc_versions_held(rc->alloc);
}

bool reclaimer_busy(const struct reclaimer *rc)
{
	return rc->ndrains || (rc->pass && !rc->stuck);
}

bool reclaimer_waiting(const struct reclaimer *rc)
{
	/* The horizon alone is worth a grace period only once per commit: if
	 * a reader holds an old snapshot, asking again without a new commit
	 * would find the same horizon. */
	uint64_t commit = __atomic_load_n(&rc->meta->commit_ts, __ATOMIC_RELAXED);
	return reclaimer_holds(rc) || rc->grace_pending || rc->pass || rc->ndrains ||
	       (rc->retired->horizon < commit && commit != rc->grace_commit);
}

bool reclaimer_due(const struct reclaimer *rc, uint64_t now_ns)
{
	return rc->pass || rc->ndrains || (reclaimer_waiting(rc) &&
			    (rc->eager || retire_count(rc->retired) >= STEP_EVERY_ITEMS ||
			     now_ns - rc->stepped_ns >= STEP_EVERY_NS ||
			     (rc->grace_pending && grace_passed(rc->grace, rc->grace_gen))));
}

void reclaimer_step(struct reclaimer *rc, uint64_t now_ns)
{
	struct retire_queue *q = rc->retired;
	rc->stepped_ns = now_ns;
	if (rc->grace_pending && grace_passed(rc->grace, rc->grace_gen)) {
		rc->grace_pending = 0;
		if (rc->grace_commit > rc->graced) /* reclaimer_now may have passed it */
			rc->graced = rc->grace_commit;
		if (rc->grace_items > rc->moved_graced)
			rc->moved_graced = rc->grace_items;
		pass_begin(rc, now_ns);
	} else if (!rc->pass && (rc->pins.n || rc->rejudge.n) &&
		   (rc->eager || now_ns - rc->scanned_ns >= GRACE_EVERY_NS)) {
		pass_begin(rc, now_ns); /* which pinning snapshots ended? */
	}
	pass_work(rc, STEP_ITEMS + 2 * (q->items_total - rc->step_retired));
	rc->step_retired = q->items_total;
	drain_work(rc, STEP_ITEMS);

	uint64_t commit = __atomic_load_n(&rc->meta->commit_ts, __ATOMIC_RELAXED);
	bool lagging = retire_count(q) || (q->horizon < commit && commit != rc->grace_commit);
	if (!rc->grace_pending && lagging &&
	    (rc->eager || now_ns - rc->grace_asked_ns >= GRACE_EVERY_NS ||
	     q->total - rc->grace_asked_total >= GRACE_BATCH_BYTES)) {
		rc->grace_commit = commit;
		rc->grace_items = q->items_total;
		rc->grace_gen = grace_request(rc->grace);
		__atomic_store_n(&rc->meta->grace_periods, rc->meta->grace_periods + 1,
				 __ATOMIC_RELAXED);
		rc->grace_asked_ns = now_ns;
		rc->grace_asked_total = q->total;
		rc->grace_pending = 1;
	}
	publish_figures(rc);
}

void reclaimer_now(struct reclaimer *rc)
{
	/* Every move queued so far comes before this grace period. */
	uint64_t queued = rc->retired->items_total;
	grace_sync(rc->grace);
	if (queued > rc->moved_graced)
		rc->moved_graced = queued;
	__atomic_store_n(&rc->meta->grace_periods, rc->meta->grace_periods + 1, __ATOMIC_RELAXED);
	uint64_t commit = __atomic_load_n(&rc->meta->commit_ts, __ATOMIC_RELAXED);
	if (commit > rc->graced)
		rc->graced = commit;
	bool swept = pass_begin(rc, shm_now_ns());
	pass_work(rc, UINT64_MAX);
	drain_work(rc, UINT64_MAX);
	/* Pruned blocks serve every kind of block again once no swept
	 * snapshot is as old as the last of them (a reader that stands on one
	 * read it before it was pruned, under a snapshot the sweep saw; one
	 * the sweep missed began after the grace period, and the unlink). */
	if (swept && !rc->pass &&
	    (!rc->live.n || rc->live.v[0].snap > rc->alloc->versions_put_ts))
		alloc_release_versions(rc->alloc);
	rc->now_commit = commit;
	rc->now_items = rc->retired->items_total;
	publish_figures(rc);
}
