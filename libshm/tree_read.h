/*
 * tree_read.h - reading an ordered table's copy-on-write tree (layout.h, struct
 * shm_node): the order of keys and pairs, the search in a node, and the
 * root a snapshot sees. Shared by the client's cursors and the writer,
 * which builds new nodes with the same comparisons (daemon/tree.c).
 *
 * Ordering: a node is complete before the release store of the count
 * version whose root reaches it, and only a leaf of an ordered table
 * changes after: its refs (each a release store of a complete version; a
 * reader loads a ref with acquire and walks the key's chain from it,
 * index.h) and, under its gen sequence count, its count and arrays as keys
 * are added (layout.h): what a reader reads of a leaf's entries counts only
 * if shm_node_same says so after. A reader that found its root through the
 * count chain (acquire loads) reads the rest with plain loads. Every node
 * its root reaches is kept until the snapshot ends (retired for
 * [created_ts, replacing commit)), and so is the version it sees on each
 * chain, so a view into either stays valid as long.
 */
#ifndef SHMDB_TREE_READ_H
#define SHMDB_TREE_READ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "index.h"
#include "layout.h"
#include "spin.h"

/* What a search looks for: a key, and for a multimap pair its value (the
 * empty value sorts first, so (key, "") finds a key's first pair). */
struct shm_target {
	const uint8_t *key;
	const uint8_t *val;
	uint32_t klen;
	uint32_t vlen;
	uint64_t prefix;  /* shm_key_prefix(key) */
	int multi;        /* compare values too */
};

/* A key's first 8 bytes as a big-endian number, zero-padded: a < b as
 * numbers implies the keys are in that order (a tie says nothing). */
static inline uint64_t shm_key_prefix(const uint8_t *key, size_t klen)
{
	uint64_t p = 0;
	if (klen >= 8) {
		memcpy(&p, key, 8);
	} else {
		uint8_t b[8] = { 0 };
		memcpy(b, key, klen);
		memcpy(&p, b, 8);
	}
	return __builtin_bswap64(p);
}

/* Byte strings in shmdb order: memcmp over the common length, then the
 * shorter first. Up to 32 common bytes compare in line, 8 at a time as
 * big-endian words (which order as their bytes do), not by a call into
 * the C library: keys are mostly short, and a search compares them in
 * full whenever their first 8 bytes tie (a secondary index's keys of one
 * value, a multimap key's pairs). */
static inline int shm_bytes_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	size_t n = la < lb ? la : lb, i = 0;
	if (n > 32) {
		int r = memcmp(a, b, n);
		return r ? r : (la > lb) - (la < lb);
	}
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
	}
	for (; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return (la > lb) - (la < lb);
}

static inline struct shm_target shm_target_of(const void *key, size_t klen, const void *val,
					      size_t vlen, int multi)
{
	return (struct shm_target){ .key = key, .val = val, .klen = (uint32_t)klen,
				    .vlen = (uint32_t)vlen,
				    .prefix = shm_key_prefix(key, klen), .multi = multi };
}

/* The entries of n (a leaf's may grow in place: relaxed, and counted only
 * under shm_node_gen). */
static inline unsigned shm_node_count(const struct shm_node *n)
{
	return __atomic_load_n(&n->count, __ATOMIC_RELAXED);
}

/* Turns a reader waits for a leaf's gen to be even before it asks whether
 * the writer still lives (about a millisecond; a change in place takes a
 * few dozen stores). */
#define SHM_GEN_SPINS (1u << 20)

/* The gen under which a reader reads n's entries: even, once any change
 * in place has ended; odd if none ended within SHM_GEN_SPINS turns (a
 * writer preempted in the change, or gone: the caller tells which). */
static inline uint32_t shm_node_gen(const struct shm_node *n)
{
	uint32_t g;
	for (unsigned turns = 0; (g = __atomic_load_n(&n->gen, __ATOMIC_ACQUIRE)) & 1; turns++) {
		if (turns == SHM_GEN_SPINS)
			break;
		shm_cpu_relax();
	}
	return g;
}

/* Whether what a reader read of n's entries since shm_node_gen returned g
 * holds: no change in place began meanwhile (the acquire fence keeps those
 * reads before the load of gen). */
static inline int shm_node_same(const struct shm_node *n, uint32_t g)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&n->gen, __ATOMIC_RELAXED) == g;
}

/* Entry i of n, in one load: a leaf's entries move in place, and an offset
 * and a length from two entries could name bytes past the node. */
static inline struct shm_node_entry shm_node_entry_at(const struct shm_node *n, unsigned i)
{
	uint64_t w = __atomic_load_n((const uint64_t *)&shm_node_ent(n)[i], __ATOMIC_RELAXED);
	struct shm_node_entry e;
	memcpy(&e, &w, sizeof(e));
	return e;
}

static inline const uint8_t *shm_entry_bytes(const struct shm_node *n, unsigned i)
{
	return (const uint8_t *)n + shm_node_ent(n)[i].off;
}

/* Entry i of node n against t: < 0, 0 or > 0. */
static inline int shm_entry_cmp(const struct shm_node *n, unsigned i, const struct shm_target *t)
{
	uint64_t p = shm_node_prefix(n)[i];
	if (p != t->prefix)
		return p < t->prefix ? -1 : 1;
	struct shm_node_entry e = shm_node_entry_at(n, i);
	const uint8_t *b = (const uint8_t *)n + e.off;
	/* Equal prefixes of keys of 8 bytes or more: their first 8 bytes. */
	unsigned skip = e.klen >= 8 && t->klen >= 8 ? 8 : 0;
	int r = shm_bytes_cmp(b + skip, e.klen - skip, t->key + skip, t->klen - skip);
	if (r || !t->multi)
		return r;
	return shm_bytes_cmp(b + e.klen, e.vlen, t->val, t->vlen);
}

/* The first entry of n whose prefix is >= p, or > p if `above` (n->count
 * if none): a binary search over the prefix array whose steps are
 * conditional moves, not branches, which a random key would mispredict at
 * every level of the tree. */
static inline unsigned shm_prefix_bound(const struct shm_node *n, uint64_t p, int above)
{
	const uint64_t *pre = shm_node_prefix(n);
	unsigned base = 0, len = shm_node_count(n);
	if (!len)
		return 0;
	while (len > 1) {
		unsigned half = len / 2;
		uint64_t x = pre[base + half];
		base = (above ? x <= p : x < p) ? base + half : base;
		len -= half;
	}
	return base + (above ? pre[base] <= p : pre[base] < p);
}

/* The first entry of n that is > t (or >= t if !above), n->count if none:
 * the prefixes decide, and only entries whose prefix ties with t's are
 * compared in full. */
static inline unsigned shm_node_bound(const struct shm_node *n, const struct shm_target *t,
				      int above)
{
	unsigned lo = shm_prefix_bound(n, t->prefix, 0);
	if (lo >= shm_node_count(n) || shm_node_prefix(n)[lo] != t->prefix)
		return lo;
	unsigned hi = shm_prefix_bound(n, t->prefix, 1);
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int c = shm_entry_cmp(n, mid, t);
		if (above ? c <= 0 : c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The first entry of n that is >= t (n->count if none). */
static inline unsigned shm_node_lower(const struct shm_node *n, const struct shm_target *t)
{
	return shm_node_bound(n, t, 0);
}

/* The child of inner node n whose subtree holds t's place: the last entry
 * <= t, or the first child if none is. */
static inline unsigned shm_node_child(const struct shm_node *n, const struct shm_target *t)
{
	unsigned above = shm_node_bound(n, t, 1);
	return above ? above - 1 : 0;
}

/* The bytes of a node a search reads: its header, prefixes and refs (for
 * a node of SHM_NODE_MAX slots; fewer leave the rest unused). */
#define SHM_SEARCH_BYTES (sizeof(struct shm_node) + 2 * SHM_NODE_MAX * sizeof(uint64_t))

/* Start loading what a search in the node at n reads first, all lines at
 * once, before its header says where they end: a binary search would
 * otherwise wait for one line, then the next it picks, several times per
 * node. */
static inline void shm_prefetch_search(const struct shm_node *n)
{
	for (size_t o = 0; o < SHM_SEARCH_BYTES; o += 64)
		__builtin_prefetch((const uint8_t *)n + o);
}

static inline const struct shm_node *shm_node_at(const uint8_t *base, uint64_t off)
{
	return (const struct shm_node *)(base + off);
}

/* The count version snapshot snap sees of table entry t: its value, or
 * zeros before the table's first record (an empty tree). */
static inline struct shm_count shm_count_at(const uint8_t *base, const struct shm_table *t,
					    uint64_t snap)
{
	struct shm_count c = { 0 };
	const struct shm_version *v = shm_slot_visible(base, &t->count_head, snap);
	if (v)
		memcpy(&c, (const uint8_t *)v + shm_version_value_off(0), sizeof(c));
	return c;
}

#endif /* SHMDB_TREE_READ_H */
