/*
 * pins.c - retired items grouped by the newest live snapshot that sees them
 * (see pins.h).
 *
 * Invariants: g[0..n) ascending by snap, distinct, none empty; each group's
 * bytes is the sum of its items' and p->bytes the sum of the groups'.
 */
#include "pins.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pins_init(struct pins *p)
{
	*p = (struct pins){ 0 };
}

void pin_group_free(struct pin_group *g)
{
	free(g->items);
	*g = (struct pin_group){ 0 };
}

void pins_free(struct pins *p)
{
	for (size_t i = 0; i < p->n; i++)
		pin_group_free(&p->g[i]);
	free(p->g);
	pins_init(p);
}

/* The index of the first group whose snap is >= snap. */
static size_t lower_bound(const struct pins *p, uint64_t snap)
{
	size_t a = 0, b = p->n;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (p->g[m].snap < snap)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

uint64_t pins_bytes_of(const struct pins *p, uint64_t snap)
{
	size_t i = lower_bound(p, snap);
	return i < p->n && p->g[i].snap == snap ? p->g[i].bytes : 0;
}

/* Group i with room for one more item, or NULL. */
static struct pin_group *with_room(struct pin_group *g)
{
	if (g->n < g->cap)
		return g;
	size_t cap = g->cap ? 2 * g->cap : 16;
	struct retired *items = realloc(g->items, cap * sizeof(*items));
	if (!items)
		return NULL;
	g->items = items;
	g->cap = cap;
	return g;
}

int pins_add(struct pins *p, uint64_t snap, const struct retired *item)
{
	size_t i = lower_bound(p, snap);
	if (i == p->n || p->g[i].snap != snap) {
		if (p->n == p->cap) {
			size_t cap = p->cap ? 2 * p->cap : 16;
			struct pin_group *g = realloc(p->g, cap * sizeof(*g));
			if (!g)
				return -ENOMEM;
			p->g = g;
			p->cap = cap;
		}
		struct pin_group fresh = { .snap = snap };
		if (!with_room(&fresh))
			return -ENOMEM;
		memmove(&p->g[i + 1], &p->g[i], (p->n - i) * sizeof(*p->g));
		p->g[i] = fresh;
		p->n++;
	}
	struct pin_group *g = with_room(&p->g[i]);
	if (!g)
		return -ENOMEM;
	g->items[g->n++] = *item;
	g->bytes += retired_bytes(item);
	p->bytes += retired_bytes(item);
	return 0;
}

void pins_take(struct pins *p, size_t i, struct pin_group *out)
{
	*out = p->g[i];
	p->bytes -= out->bytes;
	memmove(&p->g[i], &p->g[i + 1], (p->n - i - 1) * sizeof(*p->g));
	p->n--;
}
