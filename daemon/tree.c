/*
 * tree.c - applying a transaction's changes to an ordered table's
 * copy-on-write tree (see tree.h; the node format is layout.h's).
 *
 * tree_update walks down from the root along the changes, which are
 * sorted: a node with no change under it is kept as it is (its parent's
 * entry still names it); a node with changes under it is replaced by the
 * nodes its merged entries make, written whole into new blocks, and the
 * old one is queued for retirement. So a commit writes each node it
 * touches once, whatever the number of changes under it, and a reader of
 * an older root never sees an inner node change. A leaf of an ordered
 * table whose changes only give its keys new versions, or add keys it has
 * room for, is the exception: it is kept, and at the commit the new
 * versions are stored into its refs and the new entries into its free
 * slots in place (layout.h; tree_store_refs), so neither it nor any node
 * above it is written. New keys go only after a leaf's first and below its
 * bound (change_in_place says why), so its entry in its parent stays its
 * first.
 *
 * Shape: a node holds at most SHM_NODE_MAX entries and NODE_MAX_BYTES; the
 * entries of a replaced node are spread evenly, by count and by bytes,
 * over as few nodes as that allows (aiming at NODE_TARGET_BYTES), so a
 * split leaves two half-full nodes (tree_write.c). A node the transaction
 * leaves small (under a quarter) is merged with a sibling, so a churned
 * table keeps its nodes at least about a quarter full and its height
 * logarithmic; a root with one child gives way to the child.
 *
 * Cost: an overwrite writes no node. A parent whose changed child kept its
 * first key keeps its shape and is copied whole with its new refs, and one
 * whose children split or went is spliced (its other entries copied as
 * blocks); a leaf that gains or loses a few entries, or splits in two, is
 * written at once from the old one; only the rest goes through the general
 * merge of entries. The children a
 * few changes reach are found by a search (spans_by_search). Before the
 * general walk, each change's leaf is found by a plain walk down, in a
 * pipeline that loads the leaves of the changes ahead (take_in_leaves), and
 * the leaves that take their changes in place take them there: the general
 * walk then goes only where leaves are written (a bulk load's splits, keys
 * past a leaf's ends), and a transaction whose leaves all take their
 * changes lists and writes nothing above them. For a short transaction the
 * leaf's cache miss starts before it is prepared (tree_parent_toward,
 * tree_leaf_below, apply.c), and the leaf found then comes with its change
 * (tree_change.leaf): no walk here. The pipeline and the store pass ask
 * for nodes in batches: where a hypervisor maps the pages, the first touch
 * of a page holds the cpu up for its walk, a prefetch's too, and walks
 * asked for together overlap.
 *
 * Multimaps: a key's pairs may fill many leaves. TREE_WIPE (shmdb_del of
 * the key) reaches every child whose entries may hold that key: the one
 * its first pair would go to, and each next one whose first entry has the
 * key (the "carry" below).
 *
 * Invariants: every entry of an inner node is the first entry of its
 * child's subtree as written; entries are in order; every node has at least one entry;
 * the tree has no height over SHM_TREE_MAX_HEIGHT. Nodes are written only
 * through here, before their root is published (apply.c), and after that
 * only an ordered table's leaves change, by tree_store_refs.
 */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "tree_read.h"
#include "tree_write.h"

/* Children loaded ahead while a node's changed children are rebuilt: the
 * header SPAN_AHEAD on, the whole node SPAN_AHEAD / 2 on (by then its
 * header, which says its size, has arrived). A bulk load changes most
 * children of the nodes it reaches, and each waits on a cache miss. */
#define SPAN_AHEAD 8

static int span_push(struct tree_spans *sp, struct tree_span s)
{
	struct tree_span *p = tree_room_for_one(sp->s, &sp->cap, sp->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	sp->s = p;
	sp->s[sp->n++] = s;
	return 0;
}

void tree_writer_init(struct tree_writer *w, uint8_t *base, struct alloc *alloc,
		      struct tree_alloc get)
{
	*w = (struct tree_writer){ .base = base, .alloc = alloc, .get = get };
}

void tree_writer_free(struct tree_writer *w)
{
	for (unsigned i = 0; i < SHM_TREE_MAX_HEIGHT + 2; i++) {
		free(w->lvl[i].e);
		free(w->spans[i].s);
	}
	free(w->full.e);
	free(w->merged.e);
	free(w->fresh.v);
	free(w->old.v);
	free(w->stores.v);
	free(w->rest.v);
	tree_sort_scratch_free(&w->sort);
	reach_free(&w->reach);
	*w = (struct tree_writer){ 0 };
}

void tree_begin(struct tree_writer *w, uint64_t horizon)
{
	w->horizon = horizon;
	w->fresh.n = 0;
	w->old.n = 0;
	w->stores.n = 0;
	reach_forget_before(&w->reach, horizon); /* a generation at a time */
}

static struct tree_ent ent_of_change(const struct tree_change *c)
{
	return (struct tree_ent){ .key = c->key, .val = c->val, .prefix = c->prefix, .ref = c->ref,
				  .klen = (uint16_t)c->klen, .vlen = (uint16_t)c->vlen };
}

static int key_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	return shm_bytes_cmp(a, la, b, lb);
}

/* Entry e's key against change c's, the prefixes first. */
static int ent_key_cmp(const struct tree_ent *e, const struct tree_change *c)
{
	if (e->prefix != c->prefix)
		return e->prefix < c->prefix ? -1 : 1;
	return key_cmp(e->key, e->klen, c->key, c->klen);
}

/* Entry e against change c's (key, value): its place, not its kind. */
static int ent_cmp_change(const struct tree_ent *e, const struct tree_change *c, int multi)
{
	int r = ent_key_cmp(e, c);
	if (r || !multi)
		return r;
	return key_cmp(e->val, e->vlen, c->val, c->vlen);
}

/* Whether change c goes before entry e: its key (and value) is smaller;
 * a TREE_WIPE stands before its key's first pair. */
static int change_before(const struct tree_change *c, const struct tree_ent *e, int multi)
{
	if (c->kind == TREE_WIPE)
		return ent_key_cmp(e, c) >= 0;
	return ent_cmp_change(e, c, multi) > 0;
}

static int same_key(const struct tree_ent *e, const struct tree_change *c)
{
	return e->klen == c->klen && !memcmp(e->key, c->key, c->klen);
}

/* Start loading every line of node n (its header is loaded already). */
static void prefetch_node(const struct shm_node *n)
{
	for (uint32_t o = 64; o < n->bytes; o += 64)
		__builtin_prefetch((const uint8_t *)n + o);
}

/* An inner node whose changed children each became one node with the
 * same first entry: the same node with their new refs. Returns 1 if it
 * was (or an error), 0 if it needs a rebuild. */
static int patch_inner(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
		       const struct tree_vec *v, const struct tree_spans *sp, struct tree_vec *out,
		       int *err)
{
	uint32_t at[16];
	uint64_t refs[16];
	if (sp->n > 16)
		return 0;
	for (size_t k = 0; k < sp->n; k++) {
		const struct tree_span *s = &sp->s[k];
		if (s->to - s->from != 1 || !tree_same_entry(w, n, s->child, &v->e[s->from]))
			return 0;
		at[k] = s->child;
		refs[k] = v->e[s->from].ref;
	}
	*err = tree_write_patched(w, u, n, at, refs, sp->n, out);
	return 1;
}

/* Leaf n is being replaced: the versions stored into it in place are
 * reached, through it, by the snapshots from its creation on (reach.h).
 * None needs a note once every snapshot is at least as new as the last
 * of them (n->stored_ts <= horizon): the snapshots that reach a version
 * through the leaf are then the ones at least as new as the version,
 * for which its retirement keeps it anyway. A bulk load replaces leaves
 * long after their last store, so it notes next to nothing. A
 * transaction that fails after leaves the notes: they only keep those
 * versions a little longer. */
static int note_stored(struct tree_writer *w, const struct tree_upd *u, const struct shm_node *n)
{
	if (n->stored_ts <= w->horizon)
		return 0;
	const uint64_t *ref = shm_node_ref(n);
	for (uint64_t bits = n->stored; bits; bits &= bits - 1) {
		int err = reach_note(&w->reach, ref[__builtin_ctzll(bits)], n->created_ts, u->ts,
				     u->table);
		if (err)
			return err;
	}
	return 0;
}

/* Node `off` leaves the tree of this commit: freed at once if the
 * transaction wrote it (no reader has seen it), else retired. */
static int drop_node(struct tree_writer *w, struct tree_upd *u, uint64_t off)
{
	const struct shm_node *n = tree_node_at(w, off);
	u->bytes -= (int64_t)alloc_class_size(n->bytes);
	if (n->created_ts != u->ts) {
		int err = n->stored ? note_stored(w, u, n) : 0;
		return err ? err : tree_offs_push(&w->old, off);
	}
	for (size_t i = w->fresh.n; i-- > 0;) {
		if (w->fresh.v[i] == off) {
			w->fresh.v[i] = 0;
			break;
		}
	}
	alloc_put(w->alloc, off, n->bytes);
	return 0;
}


/* A leaf kept with changes to make in place is merged with a sibling after
 * all: its entries, copied from it into v from `first` on, take those
 * changes instead (they are dropped from the queue): new refs, and new
 * entries put in their places, the last first so that the places of the
 * others still hold. 0 or -ENOMEM. */
static int take_stores(struct tree_writer *w, uint64_t leaf, struct tree_vec *v, size_t first)
{
	for (size_t k = w->stores.n; k-- > w->stores_from;) {
		struct tree_store *st = &w->stores.v[k];
		if (st->leaf != leaf)
			continue;
		st->leaf = 0;
		if (!st->key) {
			v->e[first + st->i].ref = st->ref;
			continue;
		}
		struct tree_ent *p = tree_room_for_one(v->e, &v->cap, v->n, sizeof(*p));
		if (!p)
			return -ENOMEM;
		v->e = p;
		size_t at = first + st->i;
		memmove(&v->e[at + 1], &v->e[at], (v->n - at) * sizeof(*v->e));
		v->e[at] = (struct tree_ent){ .key = st->key, .val = st->key, .prefix = st->prefix,
					      .ref = st->ref, .klen = (uint16_t)st->klen };
		v->n++;
	}
	return 0;
}

/* v holds the entries of a node at `level` (>= 1) being rebuilt: merge
 * each child the transaction left small with a sibling. Only the children
 * it wrote are looked at: the others are as an earlier commit left them,
 * and reading each one's header would cost a cache miss per child. */
static int merge_small(struct tree_writer *w, struct tree_upd *u, unsigned level,
		       struct tree_vec *v)
{
	struct tree_vec *gather = &w->lvl[level - 1], *made = &w->merged;
	for (size_t i = 0; i < v->n && v->n > 1;) {
		if (!v->e[i].fresh || !tree_small(tree_node_at(w, v->e[i].ref))) {
			i++;
			continue;
		}
		size_t a = i + 1 < v->n ? i : i - 1;
		gather->n = 0;
		made->n = 0;
		for (size_t s = a; s <= a + 1; s++) {
			const struct shm_node *sib = tree_node_at(w, v->e[s].ref);
			size_t first = gather->n;
			for (unsigned k = 0; k < sib->count; k++) {
				struct tree_ent e = tree_ent_at(sib, k);
				int err = tree_vec_push(gather, &e);
				if (err)
					return err;
			}
			if (level == 1 && !v->e[s].fresh) {
				int err = take_stores(w, v->e[s].ref, gather, first);
				if (err)
					return err;
			}
		}
		/* The pair's range ends where its right one's did. */
		uint64_t hi = tree_node_at(w, v->e[a + 1].ref)->hi;
		int err = tree_emit(w, u, gather, level - 1, hi, made);
		if (!err)
			err = drop_node(w, u, v->e[a].ref);
		if (!err)
			err = drop_node(w, u, v->e[a + 1].ref);
		if (err)
			return err;
		/* What the pair became (one node or more: a big sibling may
		 * make several) goes where the pair was. */
		while (v->cap < v->n - 2 + made->n) {
			struct tree_ent *p = tree_room_for_one(v->e, &v->cap, v->cap, sizeof(*p));
			if (!p)
				return -ENOMEM;
			v->e = p;
		}
		memmove(&v->e[a + made->n], &v->e[a + 2], (v->n - a - 2) * sizeof(*v->e));
		memcpy(&v->e[a], made->e, made->n * sizeof(*v->e));
		v->n = v->n - 2 + made->n;
		i = a;
		if (made->n > 1 || !tree_small(tree_node_at(w, v->e[a].ref)))
			i = a + made->n;
	}
	return 0;
}

/* The entries of leaf `node` (NULL: an empty tree) with the changes
 * ch[0..n) merged in, into w->lvl[0]; `wipe` is a TREE_WIPE from before
 * this leaf's range that still applies to its first entries. */
static int merge_leaf(struct tree_writer *w, struct tree_upd *u, const struct shm_node *node,
		      const struct tree_change *ch, size_t n, const struct tree_change *wipe)
{
	struct tree_vec *v = &w->lvl[0];
	unsigned cnt = node ? node->count : 0, i = 0;
	size_t j = 0;
	int err = 0;
	v->n = 0;
	while (!err && (i < cnt || j < n)) {
		struct tree_ent e = { 0 };
		if (i < cnt)
			e = tree_ent_at(node, i);
		if (j < n && ch[j].kind == TREE_WIPE && (i == cnt || ent_key_cmp(&e, &ch[j]) >= 0)) {
			wipe = &ch[j++];
			continue;
		}
		int c = i == cnt ? 1 : j == n ? -1 : ent_cmp_change(&e, &ch[j], u->multi);
		if (c < 0) {
			if (wipe && same_key(&e, wipe))
				u->records--;
			else
				err = tree_vec_push(v, &e);
			i++;
		} else if (c == 0) {
			if (ch[j].kind == TREE_PUT) {
				if (!u->multi)
					e.ref = ch[j].ref;
				err = tree_vec_push(v, &e);
			} else {
				u->records--;
			}
			i++;
			j++;
		} else {
			if (ch[j].kind == TREE_PUT) {
				struct tree_ent ne = ent_of_change(&ch[j]);
				err = tree_vec_push(v, &ne);
				u->records++;
			}
			j++;
		}
	}
	return err;
}

/* Rebuild inner node n from its children, those in the spans sp replaced
 * by what v holds for them: small children merged, then written as one or
 * more nodes named in `out`. */
static int rebuild_inner(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
			 const struct tree_vec *v, const struct tree_spans *sp, struct tree_vec *out)
{
	struct tree_vec *full = &w->full;
	size_t k = 0;
	int err = 0;
	full->n = 0;
	for (unsigned c = 0; !err && c < n->count; c++) {
		if (k < sp->n && sp->s[k].child == c) {
			for (uint32_t i = sp->s[k].from; !err && i < sp->s[k].to; i++)
				err = tree_vec_push(full, &v->e[i]);
			k++;
		} else {
			struct tree_ent e = tree_ent_at(n, c);
			err = tree_vec_push(full, &e);
		}
	}
	if (!err)
		err = merge_small(w, u, n->level, full);
	if (!err)
		err = tree_emit(w, u, full, n->level, 0, out);
	return err;
}

/* The most changes a leaf takes in place (a stack array's size; a leaf
 * with more is written anew). */
#define STORE_MAX 32u

/* Start loading, for writing, what the change st makes to its leaf: its
 * header, each array from the change's place to its end (what moves up,
 * or the ref stored), and for a new key where its bytes go. The leaf's
 * count, cap and data_end come with the change: reading its header here
 * would wait for it. */
static void prefetch_change(const struct tree_writer *w, const struct tree_store *st)
{
	if (!st->leaf)
		return;
	const struct shm_node *n = tree_node_at(w, st->leaf);
	__builtin_prefetch(n, 1);
	const uint64_t *prefix = shm_node_prefix(n);
	/* A new key moves the entries from its place up by one: the last
	 * lands at count (within cap: the leaf takes it in place). By whole
	 * lines, the first one's start to the last one's: the move begins at
	 * the top. */
	unsigned end = st->key ? st->count + 1u : st->i + 1u;
	for (unsigned a = 0; a < 3; a++) {
		uintptr_t line = (uintptr_t)(prefix + a * st->cap + st->i) & ~(uintptr_t)(SHM_CACHELINE - 1);
		uintptr_t last = (uintptr_t)(prefix + a * st->cap + end - 1);
		for (; line <= last; line += SHM_CACHELINE)
			__builtin_prefetch((const void *)line, 1);
	}
	if (st->key)
		__builtin_prefetch((const uint8_t *)n + st->data_end, 1);
}

/* A transaction of at most this many changes starts loading what a
 * leaf's changes will write as soon as they are queued (prefetch_change):
 * its commit comes right after, with nothing else to wait on. A longer
 * one's store pass loads the leaves ahead itself (tree_store_refs). */
#define STORES_NOW 4

/* Where t goes in leaf n (of an ordered table, not a multimap): the
 * first entry >= t, and in *eq whether that entry is t. Only an entry
 * whose prefix ties with t's is compared in full. In a short transaction
 * (by_head) a single such entry is compared by the key in its head
 * version (its ref), not by its bytes in the leaf: the head of an
 * overwritten key is a version the commit loads anyway (the hash index
 * names it: apply.c reads it to link the new version), while the entry
 * and its bytes are two more lines of the leaf, known only once the
 * search has found the entry, for which a commit whose leaf is in
 * memory, not in a cache, would wait after the leaf's search lines
 * (which apply.c loads ahead, SHM_SEARCH_BYTES). Several entries with
 * t's prefix are compared by their bytes, all in the leaf. */
static unsigned leaf_place(const struct tree_writer *w, const struct shm_node *n,
			   const struct shm_target *t, int by_head, int *eq)
{
	unsigned lo = shm_prefix_bound(n, t->prefix, 0), count = shm_node_count(n);
	*eq = 0;
	if (lo >= count || shm_node_prefix(n)[lo] != t->prefix)
		return lo;
	if (by_head && (lo + 1 == count || shm_node_prefix(n)[lo + 1] != t->prefix)) {
		const struct shm_version *v =
			(const struct shm_version *)(w->base + shm_node_ref(n)[lo]);
		int c = shm_bytes_cmp(v->key, v->klen, t->key, t->klen);
		*eq = c == 0;
		return c < 0 ? lo + 1 : lo;
	}
	unsigned i = shm_node_lower(n, t);
	*eq = i < count && shm_entry_cmp(n, i, t) == 0;
	return i;
}

/* Whether the changes ch[0..n) to leaf `off` of an ordered table only give
 * keys it holds new versions or add keys it has free slots and bytes for,
 * each after its first key and before its bound (hi, layout.h): then they
 * are queued, to be made in place at the commit (tree_store_refs), and the
 * leaf stays. Returns 1 if so (*err set), 0 if the leaf must be written
 * anew (nothing queued).
 *
 * Why only there: a leaf's range of keys (what its parents send to it)
 * never shrinks while it lives, but it grows when the siblings on a side
 * go (a child 0 takes every key before the next entry), so a key outside
 * the range it had when written may be one an older snapshot that reads
 * this leaf holds in another leaf, and would find twice. A key after its
 * first (which never changes in place: its parent names it) and below the
 * first key of the leaf after it when it was written (which never moves
 * down while it lives: keys below it go to this leaf) was in its range for
 * every snapshot that reads it, so any such snapshot that held the key
 * held it in this leaf, and the key would be there still (only a new leaf
 * loses a key). The bound lets a random insert land past the last key, as
 * one in every count + 1 does, without writing the leaf anew. */
static int change_in_place(struct tree_writer *w, struct tree_upd *u, uint64_t off,
			   const struct shm_node *node, const struct tree_change *ch, size_t n,
			   int *err)
{
	uint32_t at[STORE_MAX];
	uint8_t add[STORE_MAX];
	size_t adds = 0, bytes = 0;
	if (u->multi || n > STORE_MAX)
		return 0;
	for (size_t k = 0; k < n; k++) {
		if (ch[k].kind != TREE_PUT)
			return 0;
		struct shm_target t = shm_target_of(ch[k].key, ch[k].klen, ch[k].key, 0, 0);
		int eq;
		unsigned i = leaf_place(w, node, &t, u->changes <= STORES_NOW, &eq);
		add[k] = !eq;
		if (add[k] && (i == 0 || (i == node->count && t.prefix >= node->hi)))
			return 0;
		adds += add[k];
		bytes += add[k] ? ch[k].klen : 0;
		at[k] = i;
	}
	if (node->count + adds > node->cap || node->data_end + bytes > node->bytes)
		return 0;
	*err = 0;
	for (size_t k = 0; k < n && !*err; k++) {
		struct tree_stores *s = &w->stores;
		struct tree_store *p = tree_room_for_one(s->v, &s->cap, s->n, sizeof(*p));
		if (!p) {
			*err = -ENOMEM;
			break;
		}
		s->v = p;
		s->v[s->n++] = (struct tree_store){ .leaf = off, .ref = ch[k].ref,
						    .key = add[k] ? ch[k].key : NULL,
						    .prefix = ch[k].prefix, .i = at[k],
						    .klen = ch[k].klen, .count = node->count,
						    .cap = node->cap, .data_end = node->data_end };
		if (u->changes <= STORES_NOW)
			prefetch_change(w, &s->v[s->n - 1]);
	}
	u->records += (int64_t)adds;
	return 1;
}

/* Node `off` stays as it is: its entry, unchanged, goes to `out`. Its
 * first entry's bytes are read only if its parent is rebuilt (tree_emit):
 * most parents stay or are patched, and the reads cost two cache misses. */
static int keep_node(uint64_t off, struct tree_vec *out)
{
	struct tree_ent e = { .ref = off, .kept = 1 };
	return tree_vec_push(out, &e);
}

/* Whether every child the spans sp name stayed (one entry each, naming
 * the same node): then their parent n stays too. */
static int children_kept(const struct shm_node *n, const struct tree_vec *v,
			 const struct tree_spans *sp)
{
	const uint64_t *refs = shm_node_ref(n);
	for (size_t k = 0; k < sp->n; k++) {
		const struct tree_span *s = &sp->s[k];
		if (s->to - s->from != 1 || v->e[s->from].fresh || v->e[s->from].ref != refs[s->child])
			return 0;
	}
	return 1;
}

/* A node with over SEARCH_RATIO entries per change finds the children of
 * its changes by searching for each (spans_by_search). */
#define SEARCH_RATIO 4

/* The spans of node n's children that the changes ch[0..n) (and a
 * TREE_WIPE `carry` from before) reach, into sp, by a pass over its
 * entries: for many changes, or a multimap's (a wipe reaches on into each
 * next child whose first entry has its key). 0 or -ENOMEM. */
static int spans_by_scan(const struct shm_node *node, const struct tree_upd *u,
			 const struct tree_change *ch, size_t n, const struct tree_change *carry,
			 struct tree_spans *sp)
{
	const struct tree_change *lastwipe = carry;
	size_t j = 0;
	int err = 0;
	for (unsigned c = 0; !err && c < node->count; c++) {
		size_t k = n;
		if (c + 1 < node->count && j < n) {
			struct tree_ent next = tree_ent_at(node, c + 1);
			for (k = j; k < n && change_before(&ch[k], &next, u->multi); k++)
				;
		}
		const struct tree_change *cc = NULL;
		if (lastwipe) {
			struct tree_ent e = tree_ent_at(node, c);
			cc = same_key(&e, lastwipe) ? lastwipe : NULL;
		}
		if (k > j || cc)
			err = span_push(sp, (struct tree_span){ .child = c, .j = (uint32_t)j,
								.k = (uint32_t)k, .carry = cc });
		for (size_t q = j; q < k; q++)
			if (ch[q].kind == TREE_WIPE)
				lastwipe = &ch[q];
		j = k;
	}
	return err;
}

/* The same for a few changes of an ordered table: each one's child found
 * by a search, which reads a few lines of the node instead of them all. */
static int spans_by_search(const struct shm_node *node, const struct tree_change *ch, size_t n,
			   struct tree_spans *sp)
{
	int err = 0;
	for (size_t j = 0; j < n && !err;) {
		struct shm_target t = shm_target_of(ch[j].key, ch[j].klen, ch[j].key, 0, 0);
		unsigned c = shm_node_child(node, &t);
		size_t k = n;
		if (c + 1u < node->count) {
			struct tree_ent next = tree_ent_at(node, c + 1);
			for (k = j + 1; k < n && change_before(&ch[k], &next, 0); k++)
				;
		}
		err = span_push(sp, (struct tree_span){ .child = c, .j = (uint32_t)j, .k = (uint32_t)k });
		j = k;
	}
	return err;
}

/* Replace node `off` (0: an empty tree) with the changes ch[0..n) (and a
 * TREE_WIPE `carry` from before its range) applied: the nodes it becomes
 * get an entry each in `out`. */
static int update_node(struct tree_writer *w, struct tree_upd *u, uint64_t off,
		       const struct tree_change *ch, size_t n, const struct tree_change *carry,
		       struct tree_vec *out)
{
	const struct shm_node *node = off ? tree_node_at(w, off) : NULL;
	unsigned level = node ? node->level : 0;
	struct tree_vec *v = &w->lvl[level];
	int err = 0;
	if (level == 0) {
		/* The leaf is written anew (take_in_leaves took the changes
		 * that leaves take in place): all of it is read. */
		if (node)
			prefetch_node(node);
		if (!node || carry || !tree_merge_direct(w, u, node, ch, n, out, &err)) {
			err = merge_leaf(w, u, node, ch, n, carry);
			if (!err)
				err = tree_emit(w, u, v, level, node ? node->hi : UINT64_MAX, out);
		}
	} else {
		/* The children the changes reach, each with its changes,
		 * then each rebuilt into v, its span of v naming what it
		 * became; the others stay. */
		struct tree_spans *sp = &w->spans[level];
		v->n = 0;
		sp->n = 0;
		err = !u->multi && n * SEARCH_RATIO < node->count ? spans_by_search(node, ch, n, sp)
								 : spans_by_scan(node, u, ch, n, carry, sp);
		const uint64_t *refs = shm_node_ref(node);
		for (size_t s = 0; s < sp->n && s < SPAN_AHEAD; s++) {
			/* A path or two down: what the child's search reads. */
			if (sp->n <= 2)
				shm_prefetch_search(tree_node_at(w, refs[sp->s[s].child]));
			else
				__builtin_prefetch(w->base + refs[sp->s[s].child]);
		}
		for (size_t s = 0; !err && s < sp->n; s++) {
			struct tree_span *x = &sp->s[s];
			if (s + SPAN_AHEAD < sp->n)
				__builtin_prefetch(w->base + refs[sp->s[s + SPAN_AHEAD].child]);
			if (s + SPAN_AHEAD / 2 < sp->n)
				prefetch_node(tree_node_at(w, refs[sp->s[s + SPAN_AHEAD / 2].child]));
			x->from = (uint32_t)v->n;
			err = update_node(w, u, refs[x->child], ch + x->j, x->k - x->j, x->carry, v);
			x->to = (uint32_t)v->n;
		}
		if (!err && children_kept(node, v, sp))
			return keep_node(off, out);
		if (!err && !patch_inner(w, u, node, v, sp, out, &err) &&
		    !tree_write_spliced(w, u, node, v, sp, out, &err))
			err = rebuild_inner(w, u, node, v, sp, out);
	}
	if (!err && node)
		err = drop_node(w, u, off);
	return err;
}

/* Changes whose leaves load ahead of the changes being taken, in batches
 * of as many (take_in_leaves): the inner nodes above a batch's leaves
 * start loading two batches ahead, the leaves one batch ahead. */
#define FIND_AHEAD 8
#define FIND_RING (4 * FIND_AHEAD)

/* The node at `level`, or n if n is lower, on the way from n down to t's
 * place. The nodes between are read, each once its search lines, asked
 * for all at once, have loaded; the one returned is neither read nor
 * loaded (its level is one less than its parent's): the caller starts
 * loading it with others (prefetch_firsts). */
static const struct shm_node *node_toward(const struct tree_writer *w, const struct shm_node *n,
					  const struct shm_target *t, unsigned level)
{
	for (unsigned at = n->level; at > level; at--) {
		n = tree_node_at(w, shm_node_ref(n)[shm_node_child(n, t)]);
		if (at - 1 > level)
			shm_prefetch_search(n);
	}
	return n;
}

/* Start loading the first line of each of nodes v[from..to) of a ring of
 * FIND_RING. Each node is a page of its own, and where a hypervisor maps
 * the pages (the benchmark host) the walk of a page's tables holds the
 * cpu up, a prefetch's too: walks asked for together overlap, where one
 * asked for per change waits behind the work of the changes before. The
 * rest of a node's search lines, on a page walked by then, load one node
 * at a time between changes (prefetch_rest): all at once, they would fill
 * the cpu's queue of misses and hold it up again. */
static void prefetch_firsts(const struct shm_node *const *v, size_t from, size_t to)
{
	for (size_t k = from; k < to; k++)
		__builtin_prefetch(v[k % FIND_RING]);
}

/* What prefetch_rest loads of a leaf: its search lines and its entries'
 * array, where a search whose key's first 8 bytes tie with an entry's
 * reads on (keys of a secondary index tie so often, the indexed value's
 * bytes coming first). */
#define LEAF_LOOK_BYTES (SHM_SEARCH_BYTES + SHM_NODE_MAX * sizeof(struct shm_node_entry))

static void prefetch_rest(const struct shm_node *n, size_t bytes)
{
	for (size_t o = 64; o < bytes; o += 64)
		__builtin_prefetch((const uint8_t *)n + o);
}

/* The leaf under p (a node of level 1, or a leaf) whose range holds t's
 * place, not read. */
static const struct shm_node *leaf_under(const struct tree_writer *w, const struct shm_node *p,
					 const struct shm_target *t)
{
	return p->level ? tree_node_at(w, shm_node_ref(p)[shm_node_child(p, t)]) : p;
}

static struct shm_target change_target(const struct tree_change *c)
{
	return shm_target_of(c->key, c->klen, c->key, 0, 0);
}

/* The changes ch[g..m] of an ordered table go to one leaf: queued to be
 * made in place if change_in_place takes them, else kept in `rest` for the
 * general walk. 0 or -ENOMEM. */
static int take_group(struct tree_writer *w, struct tree_upd *u, const struct shm_node *leaf,
		      const struct tree_change *ch, size_t g, size_t m)
{
	int err = 0;
	uint64_t off = (uint64_t)((const uint8_t *)leaf - w->base);
	if (change_in_place(w, u, off, leaf, ch + g, m + 1 - g, &err))
		return err;
	for (size_t k = g; k <= m; k++) {
		struct tree_change *p = tree_room_for_one(w->rest.v, &w->rest.cap, w->rest.n,
							  sizeof(*p));
		if (!p)
			return -ENOMEM;
		w->rest.v = p;
		w->rest.v[w->rest.n++] = ch[k];
	}
	return 0;
}

/* The changes ch[0..n) of an ordered table (root not 0), each to the leaf
 * found for it before (when every change has its ch->leaf) or by a plain
 * walk down, in a pipeline that starts loading the
 * inner node above a change's leaf, then the leaf, changes ahead: the
 * changes each leaf takes in place are queued (that leaf and the nodes above it
 * stay, and no list of the children changed is made), the others are left
 * in w->rest, in order, for the general walk. A bulk load's leaves are
 * nearly all in memory, not in a cache, and the general walk, which goes
 * down one parent at a time, overlaps only a parent's few leaves' misses.
 * 0 or -ENOMEM. */
static int take_in_leaves(struct tree_writer *w, struct tree_upd *u, uint64_t root,
			  const struct tree_change *ch, size_t n)
{
	const struct shm_node *top = tree_node_at(w, root), *above[FIND_RING], *leaf[FIND_RING];
	size_t g = 0, found = 0;
	int err;
	w->rest.n = 0;
	while (found < n && ch[found].leaf)
		found++;
	if (found == n) {
		/* A short transaction's leaves, found before (and loading). */
		for (size_t m = 0; m < n; m++) {
			if (m + 1 < n && ch[m + 1].leaf == ch[m].leaf)
				continue;
			if ((err = take_group(w, u, ch[m].leaf, ch, g, m)))
				return err;
			g = m + 1;
		}
		return 0;
	}
	/* Batches of FIND_AHEAD changes: the nodes above one batch's leaves
	 * start loading, then the leaves of the batch before, then the
	 * changes of the batch before that are taken. */
	for (size_t b = 0; b < n + 2 * FIND_AHEAD; b += FIND_AHEAD) {
		size_t e = b + FIND_AHEAD < n ? b + FIND_AHEAD : n;
		for (size_t i = b; i < e; i++) {
			struct shm_target t = change_target(&ch[i]);
			above[i % FIND_RING] = node_toward(w, top, &t, 1);
		}
		prefetch_firsts(above, b, e);
		size_t lb = b - FIND_AHEAD, le = lb + FIND_AHEAD < n ? lb + FIND_AHEAD : n;
		for (size_t k = lb; b >= FIND_AHEAD && k < le; k++) {
			struct shm_target t = change_target(&ch[k]);
			leaf[k % FIND_RING] = leaf_under(w, above[k % FIND_RING], &t);
		}
		if (b >= FIND_AHEAD)
			prefetch_firsts(leaf, lb, le);
		for (size_t j = 0; j < FIND_AHEAD; j++) {
			if (b + j < e)
				prefetch_rest(above[(b + j) % FIND_RING], SHM_SEARCH_BYTES);
			if (b >= FIND_AHEAD && lb + j < le)
				prefetch_rest(leaf[(lb + j) % FIND_RING], LEAF_LOOK_BYTES);
			size_t m = b + j - 2 * FIND_AHEAD;
			if (b < 2 * FIND_AHEAD || m >= n)
				continue;
			if (m + 1 < n && leaf[(m + 1) % FIND_RING] == leaf[m % FIND_RING])
				continue;
			if ((err = take_group(w, u, leaf[m % FIND_RING], ch, g, m)))
				return err;
			g = m + 1;
		}
	}
	return 0;
}

int tree_update(struct tree_writer *w, uint64_t root, int multi, const struct tree_change *ch,
		size_t n, uint64_t ts, struct tree_result *out)
{
	struct tree_upd u = { .multi = multi, .changes = n, .table = n ? ch[0].table : 0,
			      .ts = ts };
	size_t old0 = w->old.n, stores0 = w->stores.n;
	int err;
	w->stores_from = stores0;
	if (!multi && root) {
		/* The leaves that take their changes in place first; the
		 * general walk only for the rest (a root that stays: nothing
		 * left). */
		if ((err = take_in_leaves(w, &u, root, ch, n)))
			return err;
		if (!w->rest.n) {
			*out = (struct tree_result){ .root = root, .records = u.records,
						     .old_from = old0, .old_to = old0,
						     .stores_from = stores0,
						     .stores_to = w->stores.n };
			return 0;
		}
		ch = w->rest.v;
		n = w->rest.n;
	}
	unsigned level = root ? tree_node_at(w, root)->level : 0;
	struct tree_vec *top = &w->lvl[level + 1];
	top->n = 0;
	err = update_node(w, &u, root, ch, n, NULL, top);
	/* A root that split: a level more, as many times as it takes. */
	while (!err && top->n > 1) {
		if (++level + 1 >= SHM_TREE_MAX_HEIGHT)
			return -ENOSPC;
		struct tree_vec *up = &w->lvl[level + 1];
		up->n = 0;
		err = tree_emit(w, &u, top, level, 0, up);
		top = up;
	}
	if (err)
		return err;
	uint64_t r = top->n ? top->e[0].ref : 0;
	/* A root with one child gives way to it. */
	while (r && tree_node_at(w, r)->level > 0 && tree_node_at(w, r)->count == 1) {
		uint64_t child = shm_node_ref(tree_node_at(w, r))[0];
		if ((err = drop_node(w, &u, r)))
			return err;
		r = child;
	}
	*out = (struct tree_result){ .root = r, .records = u.records, .bytes = u.bytes,
				     .old_from = old0, .old_to = w->old.n,
				     .stores_from = stores0, .stores_to = w->stores.n };
	return 0;
}

const struct shm_node *tree_parent_toward(const struct tree_writer *w, uint64_t root,
					  const uint8_t *key, size_t klen)
{
	if (!root)
		return NULL;
	struct shm_target t = shm_target_of(key, klen, key, 0, 0);
	return node_toward(w, tree_node_at(w, root), &t, 1);
}

const struct shm_node *tree_leaf_below(const struct tree_writer *w, const struct shm_node *p,
				       const uint8_t *key, size_t klen)
{
	struct shm_target t = shm_target_of(key, klen, key, 0, 0);
	return leaf_under(w, p, &t);
}

void tree_unreserve(struct tree_writer *w)
{
	for (size_t i = 0; i < w->fresh.n; i++) {
		uint64_t off = w->fresh.v[i];
		if (off)
			alloc_put(w->alloc, off, tree_node_at(w, off)->bytes);
	}
	w->fresh.n = 0;
	w->old.n = 0;
	w->stores.n = 0;
}

void tree_retire_old(struct tree_writer *w, const struct tree_result *r, struct retire_queue *q,
		     uint64_t ts)
{
	for (size_t i = r->old_from; i < r->old_to; i++) {
		const struct shm_node *n = tree_node_at(w, w->old.v[i]);
		retire_block(q, ts, n->created_ts, w->old.v[i], n->bytes, RETIRED_BLOCK);
	}
}


/* Leaf `leaf` takes its m queued changes st[0..m) (in key order) at the
 * commit ts. */
static void change_leaf(struct shm_node *leaf, const struct tree_store *st, size_t m, uint64_t ts)
{
	uint64_t *prefix = (uint64_t *)(leaf + 1), *ref = prefix + leaf->cap;
	uint64_t *ent = ref + leaf->cap; /* struct shm_node_entry, 8 bytes each */
	const struct tree_store *add[STORE_MAX];
	size_t adds = 0;
	for (size_t k = 0; k < m; k++) {
		if (st[k].key) {
			add[adds++] = &st[k];
			continue;
		}
		/* Release: the version is complete before a reader finds it. */
		__atomic_store_n(&ref[st[k].i], st[k].ref, __ATOMIC_RELEASE);
		leaf->stored |= 1ull << st[k].i;
	}
	leaf->stored_ts = ts;
	if (!adds)
		return;
	/* The new keys' bytes go after the last, where no reader looks. */
	uint32_t off[STORE_MAX], d = leaf->data_end;
	for (size_t k = 0; k < adds; k++) {
		memcpy((uint8_t *)leaf + d, add[k]->key, add[k]->klen);
		off[k] = d;
		d += add[k]->klen;
	}
	leaf->data_end = (uint16_t)d;
	/* Odd gen, then (release fence) the arrays change: a reader that
	 * read any of it sees gen changed after (tree_read.h). */
	uint32_t g = leaf->gen;
	__atomic_store_n(&leaf->gen, g + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	unsigned count = leaf->count, j = count;
	uint64_t stored = leaf->stored, moved = 0;
	for (size_t r = adds; r > 0; r--) {
		const struct tree_store *x = add[r - 1];
		/* Entries from the new key's place on move up by the r new
		 * keys up to them, one 8-byte store per array each. */
		while (j > x->i) {
			j--;
			__atomic_store_n(&prefix[j + r], prefix[j], __ATOMIC_RELAXED);
			__atomic_store_n(&ref[j + r], ref[j], __ATOMIC_RELAXED);
			__atomic_store_n(&ent[j + r], ent[j], __ATOMIC_RELAXED);
			moved |= ((stored >> j) & 1) << (j + r);
		}
		unsigned at = x->i + (unsigned)r - 1;
		struct shm_node_entry e = { .off = off[r - 1], .klen = (uint16_t)x->klen };
		uint64_t ew;
		memcpy(&ew, &e, sizeof(ew));
		__atomic_store_n(&prefix[at], x->prefix, __ATOMIC_RELAXED);
		__atomic_store_n(&ref[at], x->ref, __ATOMIC_RELAXED);
		__atomic_store_n(&ent[at], ew, __ATOMIC_RELAXED);
		moved |= 1ull << at;
	}
	leaf->stored = moved | (j ? stored & ((1ull << j) - 1) : 0);
	__atomic_store_n(&leaf->count, (uint16_t)(count + adds), __ATOMIC_RELAXED);
	/* Release: everything above is in place before gen is even again. */
	__atomic_store_n(&leaf->gen, g + 2, __ATOMIC_RELEASE);
}

/* Leaves whose changes start loading while the ones before them change
 * (tree_store_refs). */
#define CHANGE_AHEAD 16

void tree_store_refs(struct tree_writer *w, const struct tree_result *r, uint64_t ts)
{
	/* Two cursors run ahead of the leaf being changed, over the first
	 * change of each leaf: `first` asks for leaves' headers CHANGE_AHEAD
	 * at a time (their pages' walks overlap, prefetch_firsts says why),
	 * keeping CHANGE_AHEAD to 2 * CHANGE_AHEAD leaves ahead; `ahead`
	 * asks for the rest of what a change writes (prefetch_change, on a
	 * page walked by then) one leaf at a time, CHANGE_AHEAD / 2 ahead. */
	size_t first = r->stores_from, ahead = r->stores_from, nfirst = 0, nahead = 0;
	const struct tree_store *v = w->stores.v;
	for (size_t k = r->stores_from; k < r->stores_to;) {
		const struct tree_store *s = &v[k];
		size_t e = k + 1;
		while (e < r->stores_to && v[e].leaf == s->leaf)
			e++;
		if (nfirst <= CHANGE_AHEAD)
			for (size_t got = 0; first < r->stores_to && got < CHANGE_AHEAD; first++)
				if (first == r->stores_from || v[first].leaf != v[first - 1].leaf) {
					if (v[first].leaf)
						__builtin_prefetch(w->base + v[first].leaf, 1);
					got++;
					nfirst++;
				}
		for (; ahead < r->stores_to && nahead < CHANGE_AHEAD / 2; ahead++)
			if (ahead == r->stores_from || v[ahead].leaf != v[ahead - 1].leaf) {
				prefetch_change(w, &v[ahead]);
				nahead++;
			}
		nfirst--;
		nahead--;
		/* A leaf 0: merged with a sibling instead (take_stores). */
		if (s->leaf)
			change_leaf((struct shm_node *)(w->base + s->leaf), s, e - k, ts);
		k = e;
	}
}
