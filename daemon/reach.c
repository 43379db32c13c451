/*
 * reach.c - the writer's notes of versions reached from replaced leaves
 * (see reach.h).
 *
 * Invariants, per generation: cap is 0 or a power of two and n < cap * 3
 * / 4 after every note, so a probe ends at an empty entry; an entry sits
 * at or after its home (offset hash) with no empty entry between, which
 * deletion keeps by moving back the entries that follow; until_max is at
 * least every until it holds.
 */
#include "reach.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The smallest table; a table of over REACH_SPARSE entries per note is
 * made smaller. */
#define REACH_MIN_CAP 1024u
#define REACH_SPARSE 16u

static size_t home(const struct reach_table *t, uint64_t off)
{
	/* Offsets are 8-byte aligned and spread by a multiplicative hash. */
	return (size_t)(((off >> 3) * 0x9e3779b97f4a7c15ull) >> 32) & (t->cap - 1);
}

static void table_free(struct reach_table *t)
{
	free(t->v);
	*t = (struct reach_table){ 0 };
}

void reach_free(struct reach *r)
{
	table_free(&r->cur);
	table_free(&r->old);
}

size_t reach_count(const struct reach *r)
{
	return r->cur.n + r->old.n;
}

static size_t find(const struct reach_table *t, uint64_t off)
{
	size_t i = home(t, off);
	while (t->v[i].off && t->v[i].off != off)
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* Move the notes into a table of cap entries (a power of two that holds
 * them). 0, or -ENOMEM (nothing moved). */
static int resize(struct reach_table *t, size_t cap)
{
	struct reach_note *v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	struct reach_table old = *t;
	*t = (struct reach_table){ .v = v, .n = old.n, .cap = cap, .until_max = old.until_max };
	for (size_t i = 0; i < old.cap; i++)
		if (old.v[i].off)
			t->v[find(t, old.v[i].off)] = old.v[i];
	free(old.v);
	return 0;
}

int reach_note(struct reach *r, uint64_t off, uint64_t from, uint64_t until, uint32_t table)
{
	struct reach_table *t = &r->cur;
	if ((t->n + 1) * 4 >= t->cap * 3) {
		int err = resize(t, t->cap ? 2 * t->cap : REACH_MIN_CAP);
		if (err)
			return err;
	}
	if (until > t->until_max)
		t->until_max = until;
	struct reach_note *e = &t->v[find(t, off)];
	if (!e->off) {
		*e = (struct reach_note){ .off = off, .from = from, .until = until, .table = table };
		t->n++;
		return 0;
	}
	if (from < e->from)
		e->from = from;
	if (until > e->until)
		e->until = until;
	return 0;
}

/* Empty entry i, moving back each later entry of its run that may sit
 * there (its home is not between the hole and it). */
static void remove_at(struct reach_table *t, size_t i)
{
	size_t mask = t->cap - 1;
	t->v[i].off = 0;
	t->n--;
	for (size_t j = (i + 1) & mask; t->v[j].off; j = (j + 1) & mask) {
		size_t h = home(t, t->v[j].off);
		if (((j - h) & mask) >= ((j - i) & mask)) {
			t->v[i] = t->v[j];
			t->v[j].off = 0;
			i = j;
		}
	}
}

/* Version off's note in t, forgotten now: its from, or UINT64_MAX. */
static uint64_t table_take(struct reach_table *t, uint64_t off)
{
	if (!t->n)
		return UINT64_MAX;
	size_t i = find(t, off);
	if (!t->v[i].off)
		return UINT64_MAX;
	uint64_t from = t->v[i].from;
	remove_at(t, i);
	return from;
}

uint64_t reach_take(struct reach *r, uint64_t off)
{
	uint64_t a = table_take(&r->cur, off), b = table_take(&r->old, off);
	return a < b ? a : b;
}

void reach_forget_table(struct reach *r, uint32_t table)
{
	struct reach_table *gens[2] = { &r->cur, &r->old };
	for (unsigned g = 0; g < 2; g++) {
		/* An entry moved back into the hole at i is looked at next;
		 * one moved from the start of the table to its end (a run that
		 * wraps) is looked at again, which is harmless. */
		struct reach_table *t = gens[g];
		for (size_t i = 0; i < t->cap && t->n;) {
			if (t->v[i].off && t->v[i].table == table)
				remove_at(t, i);
			else
				i++;
		}
	}
}

/* Forget every note of t: a big table is given back, a small one kept
 * for the next notes (a bulk load replaces leaves at every commit). */
static void table_clear(struct reach_table *t)
{
	if (t->cap > REACH_MIN_CAP) {
		table_free(t);
	} else {
		if (t->n)
			memset(t->v, 0, t->cap * sizeof(*t->v));
		t->n = 0;
		t->until_max = 0;
	}
}

/* A table takes left mostly empty gets smaller. */
static void shrink(struct reach_table *t)
{
	size_t cap = t->cap;
	while (cap > REACH_MIN_CAP && t->n * REACH_SPARSE < cap)
		cap /= 2; /* (n < cap * 3 / 4 still: n < cap / 16 before) */
	if (cap < t->cap)
		resize(t, cap); /* -ENOMEM: it stays as big */
}

void reach_forget_before(struct reach *r, uint64_t horizon)
{
	if (r->old.n && horizon >= r->old.until_max)
		table_clear(&r->old);
	if (r->cur.n && horizon >= r->cur.until_max)
		table_clear(&r->cur);
	if (!r->old.n && r->cur.n) {
		/* The current generation becomes the old; the old one's room,
		 * if it kept any, is the next current one's. */
		struct reach_table empty = r->old;
		r->old = r->cur;
		r->cur = empty;
	}
	shrink(&r->cur);
	shrink(&r->old);
}
