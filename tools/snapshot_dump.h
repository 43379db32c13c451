/*
 * snapshot_dump.h - one snapshot of a store written as a dump file
 * (libshm/dumpfile.h): what `shmdb dump`, `shmdb backup` and
 * shmdbd-checkpoint write (snapshot_dump.c).
 */
#ifndef SHMDB_TOOL_SNAPSHOT_DUMP_H
#define SHMDB_TOOL_SNAPSHOT_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "dumpfile.h"
#include "shmdb.h"

/*
 * snapshot_dump - write every table of r's snapshot (not the indexes'
 * own tables: an index is one INDEX frame, built again on load), its
 * records in cursor order and its indexes, to fd. The header is h's
 * flags, store_id and run, with the snapshot's commit ts and the time now.
 * On success *out holds the
 * writer's counts. Returns 0, or a negative error with err saying what
 * failed (writing fd: -errno; reading the snapshot: the store's error).
 * Does not sync or close fd.
 */
int snapshot_dump(shmdb_rtxn *r, int fd, const struct shm_dump_header *h,
		  struct shm_dump_writer *out, char *err, size_t errlen);

#endif /* SHMDB_TOOL_SNAPSHOT_DUMP_H */
