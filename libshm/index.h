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

/*
 * shm_index_probe - the slot position that holds `key` in idx, or the first
 * empty slot where it would go; *slot_val receives the slot's value (0 if
 * empty). The index always has an empty slot (the writer keeps its load
 * below 3/4), so the probe ends.
 */
static inline uint64_t shm_index_probe(const uint8_t *base, const struct shm_index *idx,
				       uint64_t hash, const void *key, uint32_t klen,
				       uint64_t *slot_val)
{
	uint64_t mask = idx->mask, tag = SHM_SLOT_TAG(hash);
	for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
		uint64_t s = shm_slot_load(&idx->slots[i]);
		if (s == 0 || ((s & ~SHM_SLOT_OFF_MASK) == tag &&
			       ((const struct shm_version *)(base + (s & SHM_SLOT_OFF_MASK)))->klen == klen &&
			       memcmp(((const struct shm_version *)(base + (s & SHM_SLOT_OFF_MASK)))->key,
				      key, klen) == 0)) {
			*slot_val = s;
			return i;
		}
	}
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
