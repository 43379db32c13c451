/*
 * tree_changes.c - a transaction's operations on ordered tables put in
 * the order the tree update walks them, with only the last word on each
 * key or pair kept (see tree.h, tree_sort_changes). Writer thread only.
 *
 * The order is found on a 16-byte item per change (its table, its key's
 * first 8 bytes, its place): a least-significant-digit radix sort of the
 * items, byte by byte, skipping a byte every item shares (a transaction
 * on one table never sorts by table; keys with a common start skip those
 * bytes), then each run of items whose table and prefix tie sorted by the
 * full order. A bulk load's changes differ in their prefixes: this costs
 * two passes over the items per byte and no call per comparison, where a
 * qsort of the 64-byte changes costs a call per comparison and moves
 * whole changes (it was a tenth of a bulk load's writer time).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"
#include "tree_read.h"

/* Full order of changes: table, key, a key's TREE_WIPE first, value, then
 * the order of the operations. */
static int change_order(const struct tree_change *a, const struct tree_change *b)
{
	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	/* Most keys differ in their first 8 bytes. */
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	int r = shm_bytes_cmp(a->key, a->klen, b->key, b->klen);
	if (r)
		return r;
	int wa = a->kind != TREE_WIPE, wb = b->kind != TREE_WIPE;
	if (wa != wb)
		return wa - wb;
	if ((r = shm_bytes_cmp(a->val, a->vlen, b->val, b->vlen)))
		return r;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static int change_qsort_order(const void *a, const void *b)
{
	return change_order(a, b);
}

static int item_order(const void *pa, const void *pb, void *changes)
{
	const struct tree_sort_item *a = pa, *b = pb;
	const struct tree_change *ch = changes;
	return change_order(&ch[a->at], &ch[b->at]);
}

/* Below this many changes a qsort costs little and needs no scratch. */
#define RADIX_MIN 64

/* The sort digits, least significant first: the prefix's 8 bytes, then
 * the table's 4. */
#define DIGITS 12

static unsigned digit(const struct tree_sort_item *it, unsigned d)
{
	return d < 8 ? (unsigned)(it->prefix >> (8 * d)) & 0xff
		     : (it->table >> (8 * (d - 8))) & 0xff;
}

static int grow_scratch(struct tree_sort_scratch *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 256;
	while (cap < n)
		cap *= 2;
	struct tree_sort_item *a = realloc(s->a, cap * sizeof(*a));
	if (a)
		s->a = a;
	struct tree_sort_item *b = a ? realloc(s->b, cap * sizeof(*b)) : NULL;
	if (b)
		s->b = b;
	struct tree_change *c = b ? realloc(s->changes, cap * sizeof(*c)) : NULL;
	if (!c)
		return -ENOMEM;
	s->changes = c;
	s->cap = cap;
	return 0;
}

/* ch[0..n) in the full order, in s->changes (ch as it was); NULL without
 * memory for the scratch. */
static const struct tree_change *radix_sort(const struct tree_change *ch, size_t n,
					    struct tree_sort_scratch *s)
{
	if (grow_scratch(s, n))
		return NULL;
	uint32_t count[DIGITS][256];
	memset(count, 0, sizeof(count));
	struct tree_sort_item *a = s->a, *b = s->b;
	for (size_t i = 0; i < n; i++) {
		a[i] = (struct tree_sort_item){ .prefix = ch[i].prefix, .table = ch[i].table,
						.at = (uint32_t)i };
		for (unsigned d = 0; d < DIGITS; d++)
			count[d][digit(&a[i], d)]++;
	}
	for (unsigned d = 0; d < DIGITS; d++) {
		if (count[d][digit(&a[0], d)] == n)
			continue; /* every item has this byte */
		uint32_t at[256], sum = 0;
		for (unsigned v = 0; v < 256; v++) {
			at[v] = sum;
			sum += count[d][v];
		}
		for (size_t i = 0; i < n; i++)
			b[at[digit(&a[i], d)]++] = a[i];
		struct tree_sort_item *t = a;
		a = b;
		b = t;
	}
	/* Runs that tie on table and prefix (a multimap key's pairs, keys
	 * with a common start): by the full order. */
	for (size_t i = 0, e; i < n; i = e) {
		for (e = i + 1; e < n && a[e].table == a[i].table && a[e].prefix == a[i].prefix; e++)
			;
		if (e - i > 1)
			qsort_r(a + i, e - i, sizeof(*a), item_order, (void *)ch);
	}
	for (size_t i = 0; i < n; i++)
		s->changes[i] = ch[a[i].at];
	return s->changes;
}

static int same_place(const struct tree_change *a, const struct tree_change *b, int with_val)
{
	return a->table == b->table && a->prefix == b->prefix && a->klen == b->klen &&
	       !memcmp(a->key, b->key, a->klen) &&
	       (!with_val || (a->vlen == b->vlen && !memcmp(a->val, b->val, a->vlen)));
}

size_t tree_sort_changes(struct tree_change *ch, size_t n, struct tree_sort_scratch *s)
{
	if (n < 2)
		return n; /* a 1-put commit's: no sort */
	const struct tree_change *src = n >= RADIX_MIN ? radix_sort(ch, n, s) : NULL;
	if (!src) {
		qsort(ch, n, sizeof(*ch), change_qsort_order);
		src = ch; /* kept <= i below: taken in place */
	}
	size_t kept = 0;
	for (size_t i = 0; i < n;) {
		size_t g = i;
		while (g < n && same_place(&src[g], &src[i], 0))
			g++;
		/* [i, g): one key; its wipes first, in operation order. */
		size_t p = i;
		uint32_t wipe_seq = 0;
		int wiped = 0;
		while (p < g && src[p].kind == TREE_WIPE)
			p++;
		if (p > i) {
			struct tree_change last = src[p - 1];
			wipe_seq = last.seq;
			wiped = 1;
			ch[kept++] = last;
		}
		while (p < g) {
			size_t q = p;
			while (q < g && same_place(&src[q], &src[p], 1))
				q++;
			struct tree_change last = src[q - 1];
			if (!wiped || last.seq > wipe_seq)
				ch[kept++] = last;
			p = q;
		}
		i = g;
	}
	return kept;
}

void tree_sort_scratch_free(struct tree_sort_scratch *s)
{
	free(s->a);
	free(s->b);
	free(s->changes);
	*s = (struct tree_sort_scratch){ 0 };
}
