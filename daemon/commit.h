/*
 * commit.h - one transaction through the writer's core, from its private
 * copy to a published commit. Writer thread only.
 *
 * The path of a transaction: the ring (ring.c) -> decode (decode.c: pass 1)
 * -> prepare (prepare.c: pass 2, everything that can fail) -> apply
 * (apply.c: pass 3, versions written and linked) -> the log (wal.h) ->
 * publish (commit.c: commit_ts stored last) -> what it replaced is retired (retire.c) -> freed
 * by the reclaimer once no snapshot can reach it (reclaim.c).
 */
#ifndef SHMDBD_COMMIT_H
#define SHMDBD_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "table_map.h"
#include "wal_format.h"

/*
 * commit_txn - apply the encoded transaction buf[0..len) (a private copy)
 * and publish its commit. Returns 0 with *commit_ts set (the current one
 * for an empty transaction) and *value set (a created table's id, else 0),
 * or SHMDB_EBADTXN, SHMDB_ECONFLICT, -ENOENT (unknown table), -ENOSPC,
 * -ENOMEM, or the log's refusal (its reserve: -ENOSPC, -EIO, SHMDB_ENOLOG),
 * having changed nothing a snapshot can see. A SYNC or CHECKPOINT
 * transaction answers the log's sync or checkpoint request (-ENOTSUP
 * without a log).
 */
int commit_txn(struct core *c, const uint8_t *buf, size_t len, uint64_t *commit_ts,
	       uint64_t *value);

/*
 * commit_ops - apply the transaction whose ops the writer put in
 * c->scratch.ops[0..nops) itself (an internal one: c->internal, never
 * logged) and publish it unless c->defer_publish. Returns as commit_txn.
 */
int commit_ops(struct core *c, size_t nops, uint64_t *commit_ts, uint64_t *value);

/*
 * commit_replay - apply a logged (or checkpointed) transaction again at
 * commit `ts` (>= c->applied_ts), its table ids mapped through `map`, its
 * checks skipped; map->expect[0..nexpect) are the ids its CREATE ops gave
 * the first time, mapped to the ones they give now. Not logged; published
 * unless c->defer_publish. Returns 0, -ENOENT for a table id the map does
 * not know, or an error of commit_txn: the replay does not follow the
 * first run, and the caller stops.
 */
int commit_replay(struct core *c, const uint8_t *buf, size_t len, uint64_t ts,
		  struct table_map *map);

#endif /* SHMDBD_COMMIT_H */
