/*
 * reach.c - the writer's notes of versions reached from replaced leaves
 * (see reach.h).
 *
 * Invariants: cap is 0 or a power of two and n < cap * 3 / 4 after every
 * note, so a probe ends at an empty entry; an entry sits at or after its
 * home (offset hash) with no empty entry between, which deletion keeps by
 * moving back the entries that follow.
 */
#include "reach.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t home(const struct reach *r, uint64_t off)
{
	/* Offsets are 8-byte aligned and spread by a multiplicative hash. */
	return (size_t)(((off >> 3) * 0x9e3779b97f4a7c15ull) >> 32) & (r->cap - 1);
}

void reach_free(struct reach *r)
{
	free(r->v);
	*r = (struct reach){ 0 };
}

static size_t find(const struct reach *r, uint64_t off)
{
	size_t i = home(r, off);
	while (r->v[i].off && r->v[i].off != off)
		i = (i + 1) & (r->cap - 1);
	return i;
}

/* The smallest table; a table of over that many entries per note is
 * made smaller. */
#define REACH_MIN_CAP 1024u
#define REACH_SPARSE 16u

int reach_sparse(const struct reach *r)
{
	return r->cap > REACH_MIN_CAP && r->n * REACH_SPARSE < r->cap;
}

/* Move the notes into a table of cap entries (a power of two that holds
 * them). 0, or -ENOMEM (nothing moved). */
static int resize(struct reach *r, size_t cap)
{
	struct reach_note *v = calloc(cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	struct reach old = *r;
	*r = (struct reach){ .v = v, .n = old.n, .cap = cap, .until_max = old.until_max };
	for (size_t i = 0; i < old.cap; i++)
		if (old.v[i].off)
			r->v[find(r, old.v[i].off)] = old.v[i];
	free(old.v);
	return 0;
}

int reach_note(struct reach *r, uint64_t off, uint64_t from, uint64_t until, uint32_t table)
{
	if ((r->n + 1) * 4 >= r->cap * 3) {
		int err = resize(r, r->cap ? 2 * r->cap : REACH_MIN_CAP);
		if (err)
			return err;
	}
	if (!r->n || until > r->until_max)
		r->until_max = until;
	struct reach_note *e = &r->v[find(r, off)];
	if (!e->off) {
		*e = (struct reach_note){ .off = off, .from = from, .until = until, .table = table };
		r->n++;
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
static void remove_at(struct reach *r, size_t i)
{
	size_t mask = r->cap - 1;
	r->v[i].off = 0;
	r->n--;
	for (size_t j = (i + 1) & mask; r->v[j].off; j = (j + 1) & mask) {
		size_t h = home(r, r->v[j].off);
		if (((j - h) & mask) >= ((j - i) & mask)) {
			r->v[i] = r->v[j];
			r->v[j].off = 0;
			i = j;
		}
	}
}

uint64_t reach_take(struct reach *r, uint64_t off)
{
	if (!r->n)
		return UINT64_MAX;
	size_t i = find(r, off);
	if (!r->v[i].off)
		return UINT64_MAX;
	uint64_t from = r->v[i].from;
	remove_at(r, i);
	return from;
}

/* Forget every note `gone` says yes to. An entry moved back into the
 * hole at i is looked at next; one moved from the start of the table to
 * its end (a run that wraps) is looked at again, which is harmless. */
static void forget_if(struct reach *r, int (*gone)(const struct reach_note *, uint64_t),
		      uint64_t arg)
{
	for (size_t i = 0; i < r->cap && r->n;) {
		if (r->v[i].off && gone(&r->v[i], arg))
			remove_at(r, i);
		else
			i++;
	}
}

static int of_table(const struct reach_note *e, uint64_t table)
{
	return e->table == table;
}

static int needed_before(const struct reach_note *e, uint64_t horizon)
{
	return e->until <= horizon;
}

void reach_forget_table(struct reach *r, uint32_t table)
{
	forget_if(r, of_table, table);
}

void reach_forget_before(struct reach *r, uint64_t horizon)
{
	if (horizon >= r->until_max) {
		/* All go: a big table is given back, a small one kept for
		 * the next notes (a bulk load replaces leaves at every
		 * commit). */
		if (r->cap > REACH_MIN_CAP) {
			reach_free(r);
		} else if (r->cap) {
			memset(r->v, 0, r->cap * sizeof(*r->v));
			r->n = 0;
		}
		return;
	}
	forget_if(r, needed_before, horizon);
	size_t cap = r->cap;
	while (cap > REACH_MIN_CAP && r->n * REACH_SPARSE < cap)
		cap /= 2; /* (n < cap * 3 / 4 still: n < cap / 16 before) */
	if (cap < r->cap)
		resize(r, cap); /* -ENOMEM: it stays as big */
}
