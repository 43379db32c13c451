/*
 * index.h - probing a table's hash index and walking a key's version chain:
 * the read path shared by clients (through snapshots) and the writer.
 *
 * Ordering: a reader loads a slot with acquire order; the writer stored it
 * with release order after writing the version it points to, so the version
 * is complete when the reader dereferences it. Versions never change after
 * publication, so plain loads read them.
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
		if ((s & ~SHM_SLOT_OFF_MASK) != tag)
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
	uint64_t m0 = -(uint64_t)(((s0 ^ tag) >> 48) == 0);
	uint64_t m1 = -(uint64_t)((((s1 ^ tag) >> 48) == 0) & (s0 != 0));
	return (s0 & m0) | (s1 & m1 & ~m0);
}

/* Whether the version slot value `s` points to holds `key`. */
static inline int shm_slot_holds(const uint8_t *base, uint64_t s, const void *key, uint32_t klen)
{
	const struct shm_version *v = (const struct shm_version *)(base + (s & SHM_SLOT_OFF_MASK));
	return v->klen == klen && shm_key_equal(v->key, key, klen);
}

/* shm_index_confirm - the value of the slot that holds `key`, or 0, given
 * its candidate c: c if it holds the key, else the full probe's answer. */
static inline uint64_t shm_index_confirm(const uint8_t *base, const uint64_t *slots,
					 uint64_t mask, uint64_t hash, const void *key,
					 uint32_t klen, uint64_t c)
{
	if (__builtin_expect(c != 0, 1) && shm_slot_holds(base, c, key, klen))
		return c;
	shm_index_probe(base, slots, mask, hash, key, klen, &c);
	return c;
}

/* shm_index_find - the value of the slot that holds `key`, or 0: the
 * reader's probe. */
static inline uint64_t shm_index_find(const uint8_t *base, const uint64_t *slots, uint64_t mask,
				      uint64_t hash, const void *key, uint32_t klen)
{
	return shm_index_confirm(base, slots, mask, hash, key, klen,
				 shm_index_candidate(slots, mask, hash));
}

/* The version of the chain starting at `off` that snapshot `snap` sees, or
 * NULL (none, or the key did not exist yet). May be a tombstone. */
static inline const struct shm_version *shm_chain_visible(const uint8_t *base, uint64_t off,
							  uint64_t snap)
{
	while (off) {
		const struct shm_version *v = (const struct shm_version *)(base + off);
		if (v->begin_ts <= snap)
			return v;
		off = v->older;
	}
	return NULL;
}

#endif /* SHMDB_INDEX_H */
