/*
 * prune.h - taking a replaced version out of the middle of its key's chain
 * while older snapshots live, for the reclaimer: the version no live
 * snapshot sees, that an older snapshot may still walk through
 * (layout.h). Writer thread only.
 */
#ifndef SHMDBD_PRUNE_H
#define SHMDBD_PRUNE_H

#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "layout.h"
#include "retire.h"

/*
 * prune_version - unlink the version `item` names (RETIRED_VERSION) from its
 * chain, so that its predecessor links to what it linked to, mark it free
 * and give its block to the allocator's pruned versions (alloc_put_version).
 * Its predecessor is the version that replaced it when that one is still
 * linked (item->newer with begin_ts item->end), else it is found from the
 * key's head in its table's index. Its table must still be reachable (its
 * catalog slot holds item->table). Returns true, or false if the version
 * is not on its key's chain (it is then left alone, unfreed: a broken
 * invariant, never a block freed under a reader).
 */
bool prune_version(uint8_t *base, const struct shm_meta *meta, struct alloc *a,
		   const struct retired *item);

#endif /* SHMDBD_PRUNE_H */
