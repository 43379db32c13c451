/*
 * prune.c - unlinking a version from the middle of its chain (see prune.h).
 *
 * Why the hint is sound: item->newer is the version written by the commit
 * item->end, the one that replaced this one. If its begin_ts still reads
 * item->end it was never pruned (a pruned block reads SHM_VERSION_FREE, or
 * a later commit once reused, and never goes back), and it cannot have
 * been freed any other way while this one lives (the reclaimer frees a
 * version without unlinking it only once no snapshot is older than its
 * end, which is then true of this one as well). So it is the nearest
 * version above this one that is still linked: its predecessor.
 *
 * The walk from the head meets no dangling link before it reaches the
 * version: a link from a kept version to a freed one exists only below a
 * version older than every live snapshot, which the version, itself newer
 * than some live snapshot's horizon, is above.
 *
 * Ordering: the predecessor's link is stored (release) before the block
 * is marked free and handed back (alloc_put_version, release), so a reader
 * that finds the block free or reused also finds the link changed, or its
 * own predecessor changed (libshm/index.h).
 */
#include "prune.h"

#include "catalog.h"
#include "index.h"

static struct shm_version *version_at(uint8_t *base, uint64_t off)
{
	return (struct shm_version *)(base + off);
}

/* The version whose link is `off`, found from the head of its chain (its
 * key's, or for a count version, klen 0, the table's count_head), or
 * NULL. */
static struct shm_version *predecessor_by_walk(uint8_t *base, const struct shm_meta *meta,
					       const struct retired *item)
{
	const struct shm_table *t = &meta->tables[SHM_TABLE_SLOT(item->table)];
	const struct shm_version *v = version_at(base, item->off);
	uint64_t at = t->count_head;
	if (v->klen) {
		/* The index of the contents the version was replaced in: the
		 * generation before its end's commit (a clear in that commit
		 * came after the replacement, or the key was new). */
		uint64_t word = shm_table_word(base, t, item->end - 1);
		const uint64_t *slots = (const uint64_t *)(base + shm_index_off(word));
		at = shm_index_find(base, slots, shm_index_mask(word), shm_key_hash(v->key, v->klen),
				    v->key, v->klen) &
		     SHM_SLOT_OFF_MASK;
	}
	while (at && at != item->off) {
		struct shm_version *x = version_at(base, at);
		if (x->older == item->off)
			return x;
		at = x->older;
	}
	return NULL;
}

bool prune_version(uint8_t *base, const struct shm_meta *meta, struct alloc *a,
		   const struct retired *item)
{
	struct shm_version *v = version_at(base, item->off);
	struct shm_version *pred = version_at(base, item->newer);
	if (pred->begin_ts != item->end || pred->older != item->off)
		pred = predecessor_by_walk(base, meta, item);
	if (!pred)
		return false;
	__atomic_store_n(&pred->older, v->older, __ATOMIC_RELEASE);
	alloc_put_version(a, item->off, item->size);
	return true;
}
