/*
 * apply.h - pass 3 of a transaction in the writer: writing it into the
 * store, after prepare reserved everything it needs. Writer thread only.
 */
#ifndef SHMDBD_APPLY_H
#define SHMDBD_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/*
 * apply_prefetch_slots - start loading the index slots the first of
 * c->scratch.ops[0..nops) will write; before prepare. A hint only.
 * apply_prefetch_heads - start loading the heads those slots name and the
 * blocks prepare reserved for the first ops' versions; once the blocks are
 * reserved, before the trees are walked. A hint only. apply_ops counts on
 * both having been called for its first ops.
 */
void apply_prefetch_slots(struct core *c, size_t nops);
void apply_prefetch_heads(struct core *c, size_t nops);

/*
 * apply_ops - write c->scratch.ops[0..nops) at commit `ts`: build each
 * version in its reserved block, link it in front of its key's chain and
 * publish its slot; create, clear and drop tables and secondary indexes
 * (a new index is queued for its build, secondary_fill.h); give each ordered
 * table the tree prepare made (its root in the table's count version);
 * retire what each op replaces.
 * Cannot fail. *value gets the id of the last table created (0 if none),
 * and c->created[0..c->ncreated) the id each CREATE op answered, in op
 * order (the caller made room for them).
 * Nothing is visible to a snapshot until commit_ts reaches ts.
 */
void apply_ops(struct core *c, size_t nops, uint64_t ts, uint64_t *value);

#endif /* SHMDBD_APPLY_H */
