/*
 * index.h - probing a table's hash index and walking a key's version chain:
 * the read path shared by clients (through snapshots) and the writer.
 *
 * Ordering: a reader loads a slot with acquire order; the writer stored it
 * with release order after writing the version it points to, so the version
 * is complete when the reader dereferences it. A version the reader's
 * snapshot sees never changes until the snapshot ends; the others may be
 * pruned and reused under it, which shm_lookup and shm_slot_visible detect
 * (below).
 */
#ifndef SHMDB_INDEX_H
#define SHMDB_INDEX_H

#include <stdint.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "layout.h"

static inline uint64_t shm_key_hash(const void *key, size_t klen)
{
	return XXH3_64bits(key, klen);
}

static inline uint64_t shm_slot_load(const uint64_t *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

/* Whether the n bytes at a and b are equal. Keys of 4 to 32 bytes, the
 * common ones, compare inline with two overlapping word loads each side
 * instead of a call into the C library. */
static inline int shm_key_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t a0, a1, b0, b1;
	if (n >= 8 && n <= 16) {
		memcpy(&a0, a, 8);
		memcpy(&b0, b, 8);
		memcpy(&a1, a + n - 8, 8);
		memcpy(&b1, b + n - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1)) == 0;
	}
	if (n > 16 && n <= 32) {
		uint64_t a2, a3, b2, b3;
		memcpy(&a0, a, 8);
		memcpy(&b0, b, 8);
		memcpy(&a1, a + 8, 8);
		memcpy(&b1, b + 8, 8);
		memcpy(&a2, a + n - 16, 8);
		memcpy(&b2, b + n - 16, 8);
		memcpy(&a3, a + n - 8, 8);
		memcpy(&b3, b + n - 8, 8);
		return ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2) | (a3 ^ b3)) == 0;
	}
	if (n >= 4 && n < 8) {
		uint32_t c0, c1, d0, d1;
		memcpy(&c0, a, 4);
		memcpy(&d0, b, 4);
		memcpy(&c1, a + n - 4, 4);
		memcpy(&d1, b + n - 4, 4);
		return ((c0 ^ d0) | (c1 ^ d1)) == 0;
	}
	return memcmp(a, b, n) == 0;
}

/*
 * shm_index_probe - the slot position that holds `key` in the index of
 * mask + 1 slots at `slots`, or the first empty slot where it would go;
 * *slot_val receives the slot's value (0 if empty). The index always has an
 * empty slot (the writer keeps its load below 3/4), so the probe ends.
 */
static inline uint64_t shm_index_probe(const uint8_t *base, const uint64_t *slots, uint64_t mask,
				       uint64_t hash, const void *key, uint32_t klen,
				       uint64_t *slot_val)
{
	uint64_t tag = SHM_SLOT_TAG(hash);
	for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
		uint64_t s = shm_slot_load(&slots[i]);
		if (s == 0) {
			*slot_val = 0;
			return i;
		}
		if ((s & SHM_SLOT_TAG_MASK) != tag)
			continue;
		const struct shm_version *v = (const struct shm_version *)(base + (s & SHM_SLOT_OFF_MASK));
		if (v->klen == klen && shm_key_equal(v->key, key, klen)) {
			*slot_val = s;
			return i;
		}
	}
}

/*
 * shm_index_candidate - the value of the first of the first two slots of
 * the probe for `hash` whose tag matches (the second only behind an
 * occupied first: an empty slot ends a probe), or 0. Those two slots hold
 * most keys found (the index is at most 3/4 full). Masks, not conditionals,
 * which the compiler turns into branches: a mispredicted branch behind the
 * slot's cache miss would flush the independent work of the next lookups
 * and serialise a loop of them.
 */
static inline uint64_t shm_index_candidate(const uint64_t *slots, uint64_t mask, uint64_t hash)
{
	uint64_t tag = SHM_SLOT_TAG(hash), i = hash & mask;
	uint64_t s0 = shm_slot_load(&slots[i]);
	uint64_t s1 = shm_slot_load(&slots[(i + 1) & mask]);
	uint64_t m0 = -(uint64_t)(((s0 ^ tag) >> SHM_SLOT_TAG_SHIFT) == 0);
	uint64_t m1 = -(uint64_t)((((s1 ^ tag) >> SHM_SLOT_TAG_SHIFT) == 0) & (s0 != 0));
	return (s0 & m0) | (s1 & m1 & ~m0);
}

/* Whether the version slot value `s` points to holds `key`. */
static inline int shm_slot_holds(const uint8_t *base, uint64_t s, const void *key, uint32_t klen)
{
	const struct shm_version *v = (const struct shm_version *)(base + (s & SHM_SLOT_OFF_MASK));
	return v->klen == klen && shm_key_equal(v->key, key, klen);
}

/* shm_index_find - the value of the slot that holds `key`, or 0: the
 * writer's probe (the writer alone changes what it reads). Readers use
 * shm_lookup, which validates what it reads. */
static inline uint64_t shm_index_find(const uint8_t *base, const uint64_t *slots, uint64_t mask,
				      uint64_t hash, const void *key, uint32_t klen)
{
	uint64_t c = shm_index_candidate(slots, mask, hash);
	if (__builtin_expect(c != 0, 1) && shm_slot_holds(base, c, key, klen))
		return c;
	shm_index_probe(base, slots, mask, hash, key, klen, &c);
	return c;
}

/*
 * Readers and pruned versions (layout.h). A reader whose snapshot is older
 * than a key's head walks down the chain through versions the writer may
 * unlink, free and reuse for another version while it reads. Each step is
 * validated, as the Linux kernel's SLAB_TYPESAFE_BY_RCU lookups are:
 *   - a version v read with begin_ts b, and b read again after v's other
 *     fields, unchanged and not SHM_VERSION_FREE: the fields belong to one
 *     occupant of the block (begin_ts grows with every reuse, and is FREE in
 *     between), whatever the writer did meanwhile;
 *   - a step from v to y = v.older counts only if, after y's begin_ts is
 *     read, v still has begin_ts b and still links to y: then y was not
 *     pruned (pruning y changes its predecessor's link, or its predecessor
 *     was pruned first and is FREE), so y is the key's version;
 *   - a version whose begin_ts is <= the snapshot is one the snapshot sees:
 *     a reused block always carries a commit newer than any snapshot that
 *     could have reached it, so it is not reused, and it stays until the
 *     snapshot ends. The walk stops there with no further check, so the
 *     common case (the head is visible) costs nothing more.
 * A failed check restarts the lookup; one needs the writer to free and
 * reuse the very block within the reader's few loads, after a grace period
 * that the reader's own cpu took part in, so restarts are rare.
 *
 * Loads are acquire, so that the compiler and the cpu keep them in program
 * order (plain moves on x86); the fences below order plain loads of a key
 * before the re-load of begin_ts.
 */
static inline uint64_t shm_begin_load(const struct shm_version *v)
{
	return __atomic_load_n(&v->begin_ts, __ATOMIC_ACQUIRE);
}

static inline uint64_t shm_older_load(const struct shm_version *v)
{
	return __atomic_load_n(&v->older, __ATOMIC_ACQUIRE);
}

/*
 * shm_chain_walk - from version v of a key, read with begin_ts b (both
 * validated), the version snapshot `snap` sees: 1 with *out set (NULL if
 * none: the key did not exist yet), or 0 if a check failed and the lookup
 * must restart.
 */
static inline int shm_chain_walk(const uint8_t *base, const struct shm_version *v, uint64_t b,
				 uint64_t snap, const struct shm_version **out)
{
	for (;;) {
		if (b <= snap) {
			*out = v;
			return 1;
		}
		uint64_t o = shm_older_load(v);
		if (!o) {
			*out = NULL;
			return shm_begin_load(v) == b;
		}
		const struct shm_version *y = (const struct shm_version *)(base + o);
		uint64_t by = shm_begin_load(y);
		if (shm_begin_load(v) != b || shm_older_load(v) != o)
			return 0;
		v = y;
		b = by;
	}
}

/*
 * shm_lookup - the version of `key` that snapshot `snap` sees in the index
 * of mask + 1 slots at `slots`, or NULL (no such key then; the caller
 * checks for a tombstone): the readers' probe, validated as above. A key
 * compared against a block that changed meanwhile is compared again after
 * the slot is read again.
 */
static inline const struct shm_version *shm_lookup(const uint8_t *base, const uint64_t *slots,
						   uint64_t mask, uint64_t hash, const void *key,
						   uint32_t klen, uint64_t snap)
{
	uint64_t tag = SHM_SLOT_TAG(hash);
	for (;;) {
		uint64_t i = hash & mask, s;
		const struct shm_version *v = NULL, *out;
		uint64_t b = 0;
		while ((s = shm_slot_load(&slots[i])) != 0) {
			if ((s & SHM_SLOT_TAG_MASK) == tag) {
				v = (const struct shm_version *)(base + (s & SHM_SLOT_OFF_MASK));
				b = shm_begin_load(v);
				int same = v->klen == klen && shm_key_equal(v->key, key, klen);
				__atomic_thread_fence(__ATOMIC_ACQUIRE);
				/* The block held one version while compared, and
				 * the slot still names it: the comparison stands. */
				if (b == SHM_VERSION_FREE || shm_slot_load(&slots[i]) != s ||
				    shm_begin_load(v) != b)
					continue; /* read the slot again */
				if (same)
					break;
			}
			i = (i + 1) & mask;
		}
		if (!s)
			return NULL;
		if (shm_chain_walk(base, v, b, snap, &out))
			return out;
	}
}

/*
 * shm_slot_visible - the version that snapshot `snap` sees of the key in
 * index slot `slot`, or NULL (empty slot, or no version yet): the cursor's
 * step, validated as shm_lookup.
 */
static inline const struct shm_version *shm_slot_visible(const uint8_t *base,
							 const uint64_t *slot, uint64_t snap)
{
	for (;;) {
		uint64_t s = shm_slot_load(slot);
		if (!s)
			return NULL;
		const struct shm_version *v = (const struct shm_version *)(base + (s & SHM_SLOT_OFF_MASK)),
					 *out;
		uint64_t b = shm_begin_load(v);
		if (b <= snap)
			return v;
		if (b == SHM_VERSION_FREE || shm_slot_load(slot) != s || shm_begin_load(v) != b)
			continue;
		if (shm_chain_walk(base, v, b, snap, &out))
			return out;
	}
}

#endif /* SHMDB_INDEX_H */
