/*
 * retire.c - the retire queue (see retire.h).
 *
 * Invariants: items[head..tail) (modulo cap) are in the order they were
 * retired, so in commit order; `bytes` is the sum of their block sizes;
 * `total` only grows; waiting[slot] counts the versions of the slot's
 * table retired and not yet freed. Room is reserved before anything is unlinked, so
 * retire() cannot fail.
 */
#include "retire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void retire_init(struct retire_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->horizon = 1;
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

/* Relaxed stores: the main thread reads the figures (retire.h). */
static void waiting_add(struct table_waiting *w, int64_t versions, int64_t bytes)
{
	__atomic_store_n(&w->versions, w->versions + (uint64_t)versions, __ATOMIC_RELAXED);
	__atomic_store_n(&w->bytes, w->bytes + (uint64_t)bytes, __ATOMIC_RELAXED);
}

void retire(struct retire_queue *q, const struct retired *item)
{
	if (item->kind == RETIRED_VERSION) {
		struct table_waiting *w = &q->waiting[SHM_TABLE_SLOT(item->table)];
		if (w->id != item->table) {
			__atomic_store_n(&w->id, item->table, __ATOMIC_RELAXED);
			waiting_add(w, -(int64_t)w->versions, -(int64_t)w->bytes);
		}
		waiting_add(w, 1, item->size);
	}
	q->items[q->tail % q->cap] = *item;
	q->tail++;
	q->items_total++;
	if (item->kind != RETIRED_TABLE_SLOT) {
		q->bytes += item->size;
		q->total += item->size;
	}
}

void retire_forget_version(struct retire_queue *q, const struct retired *item)
{
	struct table_waiting *w = &q->waiting[SHM_TABLE_SLOT(item->table)];
	if (item->kind == RETIRED_VERSION && w->id == item->table && w->versions)
		waiting_add(w, -1, -(int64_t)item->size);
}

void retire_pop(struct retire_queue *q)
{
	const struct retired *r = &q->items[q->head % q->cap];
	if (r->kind != RETIRED_TABLE_SLOT)
		q->bytes -= r->size;
	if (++q->head == q->tail)
		q->head = q->tail = 0;
}
