/*
 * prepare.h - pass 2 of a transaction in the writer: everything that can
 * fail, before anything a snapshot can see changes. Writer thread only.
 */
#ifndef SHMDBD_PREPARE_H
#define SHMDBD_PREPARE_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* The block operation `op` writes into: its bytes, or 0 for none. The one
 * rule for what prepare reserves, what unreserve gives back and what apply
 * frees when an op turns out to write nothing. */
size_t op_block_size(const struct shm_op *op);

/*
 * prepare - over c->scratch.ops[0..*nops) of the transaction that will
 * commit at `ts`: resolve tables, evaluate checks, add the ops that keep
 * secondary indexes (*nops counts them too), make index room (which
 * may rebuild an index or step a build: no snapshot's view changes),
 * reserve every retire-queue entry and every block the transaction will
 * write, setting each op's block (and a CLEAR's generation block, and each
 * written table's next count version in c->scratch.touched), and write
 * each ordered table's new tree nodes, unpublished (tree.h; the new root
 * in c->scratch.touched). Where memory is short while retired blocks
 * wait, c->pressure is asked first. Returns 0, or SHMDB_ECONFLICT,
 * SHMDB_EUNIQUE, -ENOENT, -EEXIST (a table created with another kind),
 * -ENOTSUP (an op the table's kind refuses), -EPERM (a client's op on a
 * secondary index), -EINVAL, -E2BIG (a multimap value too long), -ENOSPC
 * or -ENOMEM with nothing reserved.
 */
int prepare(struct core *c, size_t *nops, uint64_t ts);

/* prepare_node_block - a block of `size` bytes for a tree node of the
 * transaction being prepared (core *ctx), or 0: as every block prepare
 * reserves, after asking for retired memory when the arenas are full. */
uint64_t prepare_node_block(void *ctx, size_t size);

/* unreserve - give back the blocks prepare reserved for ops[0..n) and for
 * the tables' count versions (never published). */
void unreserve(struct core *c, size_t n);

#endif /* SHMDBD_PREPARE_H */
