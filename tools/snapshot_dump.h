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

struct snapshot_dump_opts {
	const char *const *tables; /* only these tables (names), when ntables > 0 */
	size_t ntables;
	/* Called now and then with the records written and the snapshot's
	 * total; may be NULL. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

/*
 * snapshot_dump - write every table of r's snapshot, or those o names
 * (o may be NULL: all), with its records in cursor order and its indexes,
 * to fd; not the indexes' own tables: an index is one INDEX frame, built
 * again on load. The header is h's flags, store_id and run, with the
 * snapshot's commit ts and the time now. On success *out holds the
 * writer's counts. Returns 0, or a negative error with err saying what
 * failed (-ENOENT: a table o names is not there; writing fd: -errno;
 * reading the snapshot: the store's error). Does not sync or close fd.
 */
int snapshot_dump(shmdb_rtxn *r, int fd, const struct shm_dump_header *h,
		  const struct snapshot_dump_opts *o, struct shm_dump_writer *out, char *err,
		  size_t errlen);

#endif /* SHMDB_TOOL_SNAPSHOT_DUMP_H */
