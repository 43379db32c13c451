/*
 * ordered.c - reading ordered tables and multimaps: cursors that seek and
 * walk both ways through the copy-on-write tree of a snapshot, and a
 * multimap's get (layout.h, struct shm_node; tree_read.h).
 *
 * A snapshot's tree is the root of the count version it sees (tree_read.h,
 * shm_count_at): every node under it was written before that count version
 * was published (release) and keeps its children while the snapshot
 * lives, so the walk down through inner nodes is plain loads, with no
 * check and no restart. A leaf of an ordered table names the head of each
 * key's version chain, stored in place by the commits that overwrote it,
 * and takes keys inserted by later commits in place (layout.h): what a
 * cursor reads of a leaf counts only if the leaf's gen is the same after
 * (else it reads again, its place found again by its mark), and the
 * record is the version the snapshot sees on the key's chain, found as
 * from an index slot (index.h, shm_slot_visible); an entry with none, or
 * a tombstone, is a key the snapshot does not hold, and a step passes it.
 * A multimap's pairs are in its leaves, which never change in place.
 *
 * A snapshot's count version may also name a key pending: one a 1-put
 * commit left out of the tree, for the writer to place after its
 * completion (layout.h, struct shm_count; daemon/pending.c). A cursor
 * returns it in its place among the tree's records, and as one record
 * with the tree's if a commit has placed it in the leaf in place since
 * (merged_step); every seek says which side of it the
 * cursor is on.
 *
 * A cursor keeps the path from the root to its leaf (client_internal.h):
 * next and prev move within the leaf, and go up only as far as the first
 * ancestor with a sibling on that side. A seek to a key the snapshot holds
 * finds its record through the table's hash index (the version a get
 * finds, the record the tree names for the snapshot) while it walks the
 * inner nodes down to the key's leaf, so that the probe's misses and the
 * walk's overlap; it loads and searches the leaf only if the cursor moves
 * on (a record found reads no byte of it). No system call, lock or
 * allocation.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "catalog.h"
#include "client_internal.h"
#include "tree_read.h"

/* Versions of a leaf loaded ahead of the one a walk returns. */
#define LEAF_AHEAD 8
/* The leaf after the cursor's, if it has the same parent, else NULL (a
 * hint for loading ahead only). */
static inline const struct shm_node *next_leaf(const shmdb_cursor *c)
{
	unsigned leaf = c->depth - 1;
	if (leaf == 0 || c->at[leaf - 1] + 1u >= c->path[leaf - 1]->count)
		return NULL;
	return shm_node_at(c->r->base, shm_node_ref(c->path[leaf - 1])[c->at[leaf - 1] + 1]);
}

/* Leaf ref i of n, for a prefetch: the writer may be storing it (relaxed:
 * only a hint). */
static inline const uint8_t *ref_hint(const shmdb_cursor *c, const struct shm_node *n, unsigned i)
{
	return c->r->base + __atomic_load_n(&shm_node_ref(n)[i], __ATOMIC_RELAXED);
}

/* Start loading, back to back, the versions of records [from, to) of leaf
 * n, and if `spill`, those past its end in the next leaf (the cursor is
 * at n). Each is a cache miss on a page of its own, and where pages are
 * mapped by a hypervisor (the benchmark host) its page walk holds the cpu
 * up, a prefetch's too: walks asked for together overlap, where one asked
 * for per record waits behind the work of the records before. */
static inline void prefetch_refs(const shmdb_cursor *c, const struct shm_node *n, unsigned from,
				 unsigned to, int spill)
{
	unsigned cnt = shm_node_count(n), k = from;
	for (; k < to && k < cnt; k++)
		__builtin_prefetch(ref_hint(c, n, k));
	const struct shm_node *next;
	if (k == to || !spill || !(next = next_leaf(c)))
		return;
	for (unsigned j = k - cnt, nc = shm_node_count(next); j < to - cnt && j < nc; j++)
		__builtin_prefetch(ref_hint(c, next, j));
}

/* Start loading the versions of leaf n's records from i up to where
 * record() asks for the next batch (an ordered table's; a multimap's
 * pairs are in the leaf). */
static inline void prefetch_versions(const shmdb_cursor *c, const struct shm_node *n, unsigned i)
{
	if (!(c->kind & SHM_KIND_MULTI))
		prefetch_refs(c, n, i, (i / LEAF_AHEAD + 2) * LEAF_AHEAD, 0);
}

/* Start loading what a walk reads of leaf n (NULL: none) before its
 * versions: its search lines and the first of its entries. */
static inline void prefetch_leaf(const struct shm_node *n)
{
	if (!n)
		return;
	shm_prefetch_search(n);
	__builtin_prefetch((const uint8_t *)n + SHM_SEARCH_BYTES);
	__builtin_prefetch((const uint8_t *)n + SHM_SEARCH_BYTES + 64);
}

static const struct shm_node *child_of(const shmdb_cursor *c, const struct shm_node *n,
				       unsigned i)
{
	return shm_node_at(c->r->base, shm_node_ref(n)[i]);
}

/* Whether the daemon that serves c's handle is gone: its end of the
 * session's socket is closed (a system call, on the slow path only). */
static int daemon_gone(const shmdb_cursor *c)
{
	struct pollfd p = { .fd = c->r->db->sock, .events = POLLIN };
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* Leaf n's gen for cursor c (shm_node_gen), waited for as long as the
 * daemon lives. A daemon that died in the middle of changing the leaf
 * leaves it odd for good: the cursor is then marked gone, and what it
 * reads of the leaf counts for nothing (its calls return SHMDB_ENODAEMON). */
static uint32_t leaf_gen(shmdb_cursor *c, const struct shm_node *n)
{
	uint32_t g;
	while (((g = shm_node_gen(n)) & 1) && !c->gone)
		c->gone = daemon_gone(c);
	return g;
}

/* Where a cursor's place is in its leaf, kept to find it again after keys
 * were added in place: they go only after a leaf's first key (past its
 * last too, below the leaf's bound: layout.h), and are newer than the
 * snapshot (layout.h), so the place relative to the records the snapshot
 * holds says where it is: a place at the end stays at the end. */
enum { MARK_START, MARK_END, MARK_BEFORE, MARK_AFTER };

static inline void set_mark(shmdb_cursor *c, int mark, const uint8_t *key, uint32_t len)
{
	c->mark = mark;
	c->mark_key = key;
	c->mark_len = len;
}

/* The cursor's place in its leaf n (path[depth - 1]) is `at`, read
 * under n's gen g: its mark with it. */
static void place(shmdb_cursor *c, const struct shm_node *n, unsigned at, uint32_t g)
{
	unsigned cnt = shm_node_count(n);
	c->at[c->depth - 1] = (uint16_t)at;
	c->gen = g;
	if (at == 0 || at >= cnt) {
		set_mark(c, at ? MARK_END : MARK_START, NULL, 0);
	} else {
		struct shm_node_entry e = shm_node_entry_at(n, at);
		set_mark(c, MARK_BEFORE, (const uint8_t *)n + e.off, e.klen);
	}
}

/* The cursor's place in its leaf, found again by its mark if keys were
 * added to the leaf in place since it was read (refind; resync checks). */
static __attribute__((noinline)) void refind(shmdb_cursor *c, const struct shm_node *n)
{
	struct shm_target t = { 0 };
	if (c->mark == MARK_BEFORE || c->mark == MARK_AFTER)
		t = shm_target_of(c->mark_key, c->mark_len, c->mark_key, 0, 0);
	uint32_t g;
	unsigned at;
	do {
		g = leaf_gen(c, n);
		at = c->mark == MARK_START  ? 0
		     : c->mark == MARK_END  ? shm_node_count(n)
					    : shm_node_bound(n, &t, c->mark == MARK_AFTER);
	} while (!shm_node_same(n, g));
	c->at[c->depth - 1] = (uint16_t)at;
	c->gen = g;
}

static inline void resync(shmdb_cursor *c)
{
	const struct shm_node *n = c->path[c->depth - 1];
	if (__builtin_expect(__atomic_load_n(&n->gen, __ATOMIC_ACQUIRE) != c->gen, 0))
		refind(c, n);
}

/* Go down from path[from] to a leaf along the first children (first) or
 * the last (!first); the leaf position is then its first or past its last
 * entry. */
static void descend(shmdb_cursor *c, unsigned from, int first)
{
	for (unsigned i = from;; i++) {
		const struct shm_node *n = c->path[i];
		if (n->level == 0) {
			c->depth = i + 1;
			uint32_t g;
			do {
				g = leaf_gen(c, n);
				place(c, n, first ? 0 : shm_node_count(n), g);
			} while (!shm_node_same(n, g));
			return;
		}
		c->at[i] = first ? 0 : (uint16_t)(n->count - 1);
		c->path[i + 1] = child_of(c, n, c->at[i]);
		if (n->level == 1 && first)
			prefetch_versions(c, c->path[i + 1], 0);
	}
}

/* The root of table entry tb's tree in r's snapshot. The root found last
 * is kept for the rest of the snapshot (r belongs to one thread): it is
 * the same for as long, and a cursor's seek then starts at the root
 * without the count chain's cache misses. */
static uint64_t tree_root(shmdb_rtxn *r, const struct shm_table *tb)
{
	if (r->tree_table != tb->id) {
		struct shm_count n = shm_count_at(r->base, tb, r->snap);
		r->tree_root = n.root;
		r->tree_pending = n.pending;
		r->tree_table = tb->id;
	}
	return r->tree_root;
}

void shm_ordered_open(shmdb_cursor *c, const struct shm_table *tb)
{
	uint64_t root = tree_root(c->r, tb);
	c->kind = tb->kind;
	c->depth = 0;
	c->at_start = 0;
	c->found = NULL;
	c->gone = 0;
	c->pk = c->r->tree_pending ? (const struct shm_version *)(c->r->base + c->r->tree_pending)
				   : NULL;
	c->pk_after = 0;
	if (root) {
		/* The path is built when the cursor first moves: a seek
		 * right after opening would throw it away. */
		c->path[0] = shm_node_at(c->r->base, root);
		c->at_start = 1;
		shm_prefetch_search(c->path[0]);
	}
}

/* A cursor still before the first record gets its path now: to the first
 * leaf for a step, or just the root for a seek, which goes its own way. */
static inline void leave_start(shmdb_cursor *c, int to_first)
{
	if (c->at_start) {
		c->at_start = 0;
		c->depth = 1;
		if (to_first)
			descend(c, 0, 1);
	}
}

/* Take c down from its root to the leaf that holds t's place: path and
 * at of every inner node, and depth; the leaf itself is not read (its
 * parent's level says it is one), and place_in_leaf finds the place in
 * it. */
static void descend_to_leaf(shmdb_cursor *c, const struct shm_target *t)
{
	unsigned i = 0;
	for (const struct shm_node *n = c->path[0]; n->level; n = c->path[++i]) {
		c->at[i] = (uint16_t)shm_node_child(n, t);
		c->path[i + 1] = child_of(c, n, c->at[i]);
		if (n->level == 1) { /* its child is the leaf: not waited for here */
			i++;
			break;
		}
		shm_prefetch_search(c->path[i + 1]);
	}
	c->depth = i + 1;
}

/* Position c, whose path ends at the leaf that holds t's place
 * (descend_to_leaf), before the first record >= t there, or (above) > t.
 * Its mark: by mark_key, bytes of t's key that stay while the snapshot
 * lives (NULL: by the entry after the place; only a key, not a multimap
 * pair, which needs no mark: its leaves never change in place). */
static void place_in_leaf(shmdb_cursor *c, const struct shm_target *t, int above,
			  const uint8_t *mark_key)
{
	unsigned leaf = c->depth - 1;
	const struct shm_node *n = c->path[leaf];
	uint32_t g;
	shm_prefetch_search(n);
	do {
		g = leaf_gen(c, n);
		unsigned at = shm_node_bound(n, t, above);
		if (mark_key) {
			c->at[leaf] = (uint16_t)at;
			c->gen = g;
		} else {
			place(c, n, at, g);
		}
	} while (!shm_node_same(n, g));
	if (mark_key)
		set_mark(c, above ? MARK_AFTER : MARK_BEFORE, mark_key, t->klen);
	prefetch_versions(c, n, c->at[leaf]);
	/* Past the leaf's middle, where a walk forward asks for the next
	 * leaf's lines (record): ask now. */
	if (c->at[leaf] > shm_node_count(n) / 2)
		prefetch_leaf(next_leaf(c));
}

/* Position c before the first record >= t, or (above) > t, its mark as
 * place_in_leaf's. */
static void seek(shmdb_cursor *c, const struct shm_target *t, int above, const uint8_t *mark_key)
{
	c->found = NULL;
	leave_start(c, 0);
	if (!c->depth)
		return;
	descend_to_leaf(c, t);
	place_in_leaf(c, t, above, mark_key);
}

/* The version v as a record's views. */
static void views_of(const struct shm_version *v, shmdb_val *key, shmdb_val *val)
{
	*key = (shmdb_val){ v->key, v->klen };
	*val = (shmdb_val){ (const uint8_t *)v + shm_version_value_off(v->klen), v->vlen };
}

/* Entry i of leaf n as a record of the cursor's snapshot: 1 with the views
 * set, or 0 if the snapshot holds no such key (one added after it, or
 * deleted in it). Read under the cursor's gen, which the caller checks
 * after: until then the entry may be another of the leaf's. */
static inline __attribute__((always_inline)) int record(const shmdb_cursor *c, const struct shm_node *n, unsigned i, shmdb_val *key,
		  shmdb_val *val)
{
	if (c->kind & SHM_KIND_MULTI) {
		struct shm_node_entry e = shm_node_ent(n)[i];
		const uint8_t *b = (const uint8_t *)n + e.off;
		*key = (shmdb_val){ b, e.klen };
		*val = (shmdb_val){ b + e.klen, e.vlen };
		return 1;
	}
	const struct shm_version *v = shm_slot_visible(c->r->base, &shm_node_ref(n)[i], c->r->snap);
	/* A walk forward loads versions LEAF_AHEAD at a time, LEAF_AHEAD to
	 * 2 * LEAF_AHEAD records on, in the next leaf near this one's end
	 * (whose lines were asked for halfway). */
	if (i % LEAF_AHEAD == 0)
		prefetch_refs(c, n, i + LEAF_AHEAD, i + 2 * LEAF_AHEAD, 1);
	if (i == shm_node_count(n) / 2)
		prefetch_leaf(next_leaf(c));
	if (!v || v->vlen == SHM_TOMBSTONE)
		return 0;
	views_of(v, key, val);
	return 1;
}

/* A cursor placed by its key's hash probe takes its place in its leaf
 * now (the seek took the path down to it): before that record or, once
 * next returned it, after it. The snapshot's tree holds the key (the
 * snapshot sees a version of it that is no tombstone), so the search ends
 * before it and a step passes it. */
static void settle(shmdb_cursor *c)
{
	const struct shm_version *v = c->found;
	struct shm_target t = shm_target_of(v->key, v->klen, v->key, 0, 0);
	c->found = NULL;
	place_in_leaf(c, &t, c->found_passed, v->key);
}

static int ordered_next(shmdb_cursor *c, shmdb_val *key, shmdb_val *val)
{
	if (c->found) {
		if (!c->found_passed) {
			c->found_passed = 1;
			views_of(c->found, key, val);
			return 0;
		}
		settle(c);
	}
	leave_start(c, 1);
	if (!c->depth)
		return -ENOENT;
	unsigned leaf = c->depth - 1;
	for (;;) {
		const struct shm_node *n = c->path[leaf];
		resync(c);
		unsigned i = c->at[leaf];
		if (i >= shm_node_count(n)) {
			if (!shm_node_same(n, c->gen))
				continue;
			/* The nearest ancestor with a next child, then its
			 * first leaf. */
			unsigned k = leaf;
			while (k-- > 0 && c->at[k] + 1 >= c->path[k]->count)
				;
			if (k == (unsigned)-1)
				return -ENOENT;
			c->at[k]++;
			c->path[k + 1] = child_of(c, c->path[k], c->at[k]);
			descend(c, k + 1, 1);
			continue;
		}
		int got = record(c, n, i, key, val);
		if (!shm_node_same(n, c->gen))
			continue;
		c->at[leaf] = (uint16_t)(i + 1);
		if (got) {
			/* A multimap's leaves never change in place: its
			 * marks are never used (a key alone would not do). */
			set_mark(c, MARK_AFTER, key->data, (uint32_t)key->len);
			return 0;
		}
	}
}

/* What a cursor's call returns: rc, or SHMDB_ENODAEMON once it found a
 * leaf its daemon died changing (leaf_gen). */
static inline int outcome(const shmdb_cursor *c, int rc)
{
	return c->gone ? SHMDB_ENODAEMON : rc;
}

static int ordered_prev(shmdb_cursor *c, shmdb_val *key, shmdb_val *val)
{
	if (c->found)
		settle(c);
	leave_start(c, 1);
	if (!c->depth)
		return -ENOENT;
	unsigned leaf = c->depth - 1;
	for (;;) {
		const struct shm_node *n = c->path[leaf];
		resync(c);
		unsigned i = c->at[leaf];
		if (i == 0) {
			unsigned k = leaf;
			while (k-- > 0 && c->at[k] == 0)
				;
			if (k == (unsigned)-1)
				return -ENOENT;
			c->at[k]--;
			c->path[k + 1] = child_of(c, c->path[k], c->at[k]);
			descend(c, k + 1, 0);
			continue;
		}
		i--;
		int got = record(c, n, i, key, val);
		if (!shm_node_same(n, c->gen))
			continue;
		c->at[leaf] = (uint16_t)i;
		if (got) {
			set_mark(c, MARK_BEFORE, key->data, (uint32_t)key->len);
			return 0;
		}
	}
}

/* Where the record with key k is from the cursor's pending key: < 0
 * before it, 0 it, > 0 after. */
static inline int from_pending(const shmdb_cursor *c, const shmdb_val *k)
{
	return shm_bytes_cmp(k->data, k->len, c->pk->key, c->pk->klen);
}

/* The pending key is a record of the snapshot that its tree lacks, or
 * holds since (a commit placed it in the leaf in place, layout.h): a step
 * returns the tree's record or the pending key, whichever comes first in
 * its direction, the two as one if they are the same key. A tree's record
 * that comes after the pending key is stepped back over (prev right after
 * next returns it again, and next after prev). Out of line: the steps of
 * a cursor with no key pending stay as they were. */
typedef int step_fn(shmdb_cursor *c, shmdb_val *key, shmdb_val *val);

/* A step forward (fwd: next) or back (prev) of a cursor with a key
 * pending. pk_after == fwd: the key is behind the step's direction. */
static __attribute__((noinline, cold)) int merged_step(shmdb_cursor *c, shmdb_val *key,
						       shmdb_val *val, int fwd)
{
	step_fn *step = fwd ? ordered_next : ordered_prev, *back = fwd ? ordered_prev : ordered_next;
	if (c->pk_after == fwd)
		return step(c, key, val);
	int rc = step(c, key, val), d;
	if (rc == 0 && (d = fwd ? from_pending(c, key) : -from_pending(c, key)) <= 0) {
		c->pk_after = (d == 0) == fwd; /* the same key: past it */
		return 0;
	}
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0) { /* the tree's record comes after the key: step back over it */
		shmdb_val k, v;
		if ((rc = back(c, &k, &v)))
			return rc;
	}
	c->pk_after = fwd;
	views_of(c->pk, key, val);
	return 0;
}

int shm_ordered_next(shmdb_cursor *c, shmdb_val *key, shmdb_val *val)
{
	if (__builtin_expect(c->pk != NULL, 0))
		return outcome(c, merged_step(c, key, val, 1));
	return outcome(c, ordered_next(c, key, val));
}

int shm_ordered_seek(shmdb_cursor *c, const void *key, size_t klen)
{
	struct shm_target t = shm_target_of(key, klen, key, 0, (c->kind & SHM_KIND_MULTI) != 0);
	const uint8_t *mark = NULL;
	if (!(c->kind & SHM_KIND_MULTI) && klen <= sizeof(c->seek_key))
		mark = memcpy(c->seek_key, key, klen);
	if (c->pk)
		c->pk_after = shm_bytes_cmp(c->pk->key, c->pk->klen, key, klen) < 0;
	c->found = NULL;
	leave_start(c, 0);
	if (!c->depth)
		return outcome(c, 0);
	/* A key the snapshot holds is found through the hash index; not on a
	 * multimap (its pairs are in the tree only), nor on an index that is
	 * not unique (a value is never a whole key of its entries). The walk
	 * down to the key's leaf comes first, while the probe's slot loads:
	 * the tree's misses and the index's overlap, and a step after the
	 * record found only searches the leaf (settle). */
	if (!(c->kind & SHM_KIND_MULTI) &&
	    (c->kind & (SHM_KIND_INDEX | SHM_KIND_UNIQUE)) != SHM_KIND_INDEX) {
		uint64_t h = shm_key_hash(key, klen);
		__builtin_prefetch(&c->slots[h & c->mask]);
		descend_to_leaf(c, &t);
		const struct shm_version *v =
			shm_lookup(c->r->base, c->slots, c->mask, h, key, (uint32_t)klen, c->r->snap);
		if (v && v->vlen != SHM_TOMBSTONE) {
			c->found = v;
			c->found_passed = 0;
			return outcome(c, 0);
		}
	} else {
		descend_to_leaf(c, &t);
	}
	place_in_leaf(c, &t, 0, mark);
	return outcome(c, 0);
}

int shmdb_cursor_seek(shmdb_cursor *c, const void *key, size_t klen)
{
	if (!c)
		return -EINVAL;
	if (!(c->kind & SHM_KIND_ORDERED))
		return -ENOTSUP;
	if (c->kind & SHM_KIND_INDEX) { /* a value: its part of the entries' keys */
		uint8_t part[SHMDB_MAX_KEY];
		size_t plen;
		int e = shm_index_seek_key(&c->ix, key, klen, part, &plen);
		return e ? e : shm_ordered_seek(c, part, plen);
	}
	if (!key || klen == 0 || klen > SHMDB_MAX_KEY)
		return -EINVAL;
	return shm_ordered_seek(c, key, klen);
}

/* seek_pair on an index that is not unique: before the entry of the row
 * (value key[0..klen), primary key pk[0..pklen)). */
static int index_seek_pair(shmdb_cursor *c, const void *key, size_t klen, const void *pk,
			   size_t pklen)
{
	uint8_t part[SHMDB_MAX_KEY];
	size_t plen;
	int e = shm_index_seek_key(&c->ix, key, klen, part, &plen);
	if (e)
		return e;
	if (!pk || pklen == 0 || pklen > SHMDB_MAX_KEY - plen)
		return -EINVAL;
	memcpy(part + plen, pk, pklen);
	return shm_ordered_seek(c, part, plen + pklen);
}

int shmdb_cursor_seek_pair(shmdb_cursor *c, const void *key, size_t klen, const void *val,
			   size_t vlen)
{
	if (!c)
		return -EINVAL;
	if ((c->kind & (SHM_KIND_INDEX | SHM_KIND_UNIQUE)) == SHM_KIND_INDEX)
		return index_seek_pair(c, key, klen, val, vlen);
	if (!(c->kind & SHM_KIND_MULTI))
		return -ENOTSUP;
	if (!key || klen == 0 || klen > SHMDB_MAX_KEY || (!val && vlen) ||
	    vlen > SHMDB_MAX_MULTI_VALUE)
		return -EINVAL;
	struct shm_target t = shm_target_of(key, klen, vlen ? val : key, vlen, 1);
	seek(c, &t, 0, NULL);
	return outcome(c, 0);
}

int shmdb_cursor_seek_end(shmdb_cursor *c)
{
	if (!c)
		return -EINVAL;
	if (!(c->kind & SHM_KIND_ORDERED))
		return -ENOTSUP;
	c->found = NULL;
	c->pk_after = 1;
	leave_start(c, 0);
	if (c->depth)
		descend(c, 0, 0);
	return outcome(c, 0);
}

int shmdb_cursor_prev(shmdb_cursor *c, shmdb_val *key, shmdb_val *val)
{
	if (!c)
		return -EINVAL;
	if (!(c->kind & SHM_KIND_ORDERED))
		return -ENOTSUP;
	if (!key || !val)
		return -EINVAL;
	int e;
	while (!(e = outcome(c, __builtin_expect(c->pk != NULL, 0) ? merged_step(c, key, val, 0)
								     : ordered_prev(c, key, val))) &&
	       (c->kind & SHM_KIND_INDEX) &&
	       shm_index_record(c, key, val))
		; /* (an entry without its row: none, the writer keeps both) */
	return e;
}

int shm_multi_get(const shmdb_rtxn *r, const struct shm_table *tb, const void *key, size_t klen,
		  shmdb_val *val)
{
	/* The key's first pair is the first record >= (key, ""). */
	shmdb_cursor c = { .r = (shmdb_rtxn *)r };
	struct shm_target t = shm_target_of(key, klen, key, 0, 1);
	shmdb_val k;
	shm_ordered_open(&c, tb);
	seek(&c, &t, 0, NULL);
	if (shm_ordered_next(&c, &k, val) || k.len != klen || memcmp(k.data, key, klen))
		return -ENOENT;
	return 0;
}
