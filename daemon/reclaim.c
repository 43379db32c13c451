/*
 * reclaim.c - the retire queue and the reclamation horizon (see reclaim.h).
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
 */
#include "reclaim.h"

#include "tsan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void retire_init(struct retire_queue *q)
{
	memset(q, 0, sizeof(*q));
}

void retire_free_all(struct retire_queue *q)
{
	free(q->items);
	memset(q, 0, sizeof(*q));
}

int retire_reserve(struct retire_queue *q, size_t n)
{
	size_t count = retire_count(q);
	if (count + n <= q->cap)
		return 0;
	size_t cap = q->cap ? q->cap : 1024;
	while (cap < count + n)
		cap *= 2;
	struct retired *items = malloc(cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++)
		items[i] = q->items[(q->head + i) % q->cap];
	free(q->items);
	q->items = items;
	q->cap = cap;
	q->head = 0;
	q->tail = count;
	return 0;
}

void retire(struct retire_queue *q, uint64_t ts, uint64_t off, uint32_t size, uint32_t kind)
{
	struct retired *r = &q->items[q->tail % q->cap];
	r->ts = ts;
	r->off = off;
	r->size = size;
	r->kind = kind;
	q->tail++;
	if (kind == RETIRED_BLOCK) {
		q->bytes += size;
		q->total += size;
	}
}

uint64_t reclaim_horizon(const struct session_registry *sessions, uint64_t previous,
			 uint64_t commit_ts)
{
	const struct session_list *l = session_list_get(sessions);
	uint64_t horizon = commit_ts;

	for (uint32_t n = 0; n < l->n; n++) {
		const struct session *s = l->s[n];
		const struct shm_reader_slot *slot =
			(const void *)((const uint8_t *)s->seg + SHM_SESSION_SLOTS_OFF);
		for (unsigned i = 0; i < SHM_READER_SLOTS; i++) {
			uint64_t snap = __atomic_load_n(&slot[i].snapshot, __ATOMIC_RELAXED);
			if (snap && snap >= previous && snap < horizon)
				horizon = snap;
		}
		TSAN_RELEASE(s);
	}
	session_list_put(l);
	return horizon;
}

uint64_t reclaim_run(struct retire_queue *q, uint64_t horizon, struct alloc *a,
		     struct shm_meta *meta)
{
	uint64_t freed = 0;
	while (q->head != q->tail) {
		struct retired *r = &q->items[q->head % q->cap];
		if (r->ts > horizon)
			break;
		if (r->kind == RETIRED_BLOCK) {
			alloc_put(a, r->off, r->size);
			freed += r->size;
			q->bytes -= r->size;
		} else {
			struct shm_table *t = &meta->tables[r->off];
			/* No snapshot can name the dropped table any more. */
			__atomic_store_n(&t->id, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&t->state, SHM_TABLE_FREE, __ATOMIC_RELAXED);
		}
		q->head++;
	}
	if (q->head == q->tail)
		q->head = q->tail = 0;
	return freed;
}
