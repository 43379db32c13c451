/*
 * commit.h - one transaction through the writer's core, from its private
 * copy to a published commit. Writer thread only.
 *
 * The path of a transaction: the ring (ring.c) -> decode (decode.c: pass 1)
 * -> prepare (prepare.c: pass 2, everything that can fail) -> apply
 * (apply.c: pass 3, versions written and linked) -> publish (commit.c:
 * commit_ts stored last) -> what it replaced is retired (retire.c) -> freed
 * by the reclaimer once no snapshot can reach it (reclaim.c).
 */
#ifndef SHMDBD_COMMIT_H
#define SHMDBD_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/*
 * commit_txn - apply the encoded transaction buf[0..len) (a private copy)
 * and publish its commit. Returns 0 with *commit_ts set (the current one
 * for an empty transaction) and *value set (a created table's id, else 0),
 * or SHMDB_EBADTXN, SHMDB_ECONFLICT, -ENOENT (unknown table), -ENOSPC or
 * -ENOMEM, having changed nothing a snapshot can see.
 */
int commit_txn(struct core *c, const uint8_t *buf, size_t len, uint64_t *commit_ts,
	       uint64_t *value);

#endif /* SHMDBD_COMMIT_H */
