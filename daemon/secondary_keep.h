/*
 * secondary_keep.h - keeping secondary indexes with their rows: the ops on
 * each index that a transaction's ops on a table of rows make. Writer
 * thread only, in pass 2 (prepare.c).
 */
#ifndef SHMDBD_SECONDARY_KEEP_H
#define SHMDBD_SECONDARY_KEEP_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* A row a transaction ends with: its last op, and the row the store held
 * under its key before the transaction (NULL: none, or a CLEAR of its
 * table came before that op). */
struct keep_row {
	uint32_t op;
	uint32_t old_len;
	const uint8_t *old;
};

/*
 * secondary_keep - append to c->scratch.ops[nops..) the ops that keep the
 * secondary indexes of the tables the transaction writes (touched[0..ntt)
 * of c->scratch; ids c->scratch.dropped[0..ndropped) dropped by it), *total getting
 * the transaction's ops with them. For each table of rows with an index
 * neither dropped nor failed: a CLEAR of the index if the table is
 * cleared, then for each key the transaction writes, from the row the
 * store holds (none after a CLEAR) to the row the transaction leaves, a
 * DEL of the entry the old value had and a PUT of the new value's, where
 * the value changes; every DEL of an index before its PUTs, so that rows
 * may trade values of a unique index. Ops on user tables were resolved
 * (field updates are PUTs) and checked.
 *
 * Returns 0; SHMDB_EUNIQUE (two rows the transaction leaves share a value
 * of a unique index, or one takes a value a row it leaves alone holds);
 * -EINVAL (a new value with no key: a NaN); -E2BIG (a value and primary
 * key longer than SHMDB_MAX_KEY); -ENOMEM. The scratch's arrays may move.
 */
int secondary_keep(struct core *c, size_t nops, size_t ntt, size_t ndropped, size_t *total);

/* secondary_keys_fixed - once the transaction's ops are all made: point
 * each op the upkeep made at its key (the scratch's ikeys may have moved
 * while they were made). */
void secondary_keys_fixed(struct txn_scratch *sc, size_t from, size_t to);

#endif /* SHMDBD_SECONDARY_KEEP_H */
