/*
 * tree_changes.c - a transaction's operations on ordered tables put in
 * the order the tree update walks them, with only the last word on each
 * key or pair kept (see tree.h, tree_sort_changes). Writer thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "tree.h"
#include "tree_read.h"

/* qsort order of changes: table, key, a key's TREE_WIPE first, value,
 * then the order of the operations. */
static int change_order(const void *pa, const void *pb)
{
	const struct tree_change *a = pa, *b = pb;
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

static int same_place(const struct tree_change *a, const struct tree_change *b, int with_val)
{
	return a->table == b->table && a->prefix == b->prefix && a->klen == b->klen &&
	       !memcmp(a->key, b->key, a->klen) &&
	       (!with_val || (a->vlen == b->vlen && !memcmp(a->val, b->val, a->vlen)));
}

size_t tree_sort_changes(struct tree_change *ch, size_t n)
{
	if (n < 2)
		return n; /* a 1-put commit's: no call to qsort */
	qsort(ch, n, sizeof(*ch), change_order);
	size_t kept = 0;
	for (size_t i = 0; i < n;) {
		size_t g = i;
		while (g < n && same_place(&ch[g], &ch[i], 0))
			g++;
		/* [i, g): one key; its wipes first, in operation order. */
		size_t p = i;
		uint32_t wipe_seq = 0;
		int wiped = 0;
		while (p < g && ch[p].kind == TREE_WIPE)
			p++;
		if (p > i) {
			struct tree_change last = ch[p - 1];
			wipe_seq = last.seq;
			wiped = 1;
			ch[kept++] = last;
		}
		while (p < g) {
			size_t q = p;
			while (q < g && same_place(&ch[q], &ch[p], 1))
				q++;
			struct tree_change last = ch[q - 1];
			if (!wiped || last.seq > wipe_seq)
				ch[kept++] = last;
			p = q;
		}
		i = g;
	}
	return kept;
}
