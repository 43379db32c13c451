/*
 * sys_shmdb.h - what sys_shmdb.c lends the rest of shmdb-bench's shmdb
 * side: its daemon and its tables, so that every workload starts, names
 * and cleans up the same way (bench_shmdb.stop ends them).
 */
#ifndef SHMDB_BENCH_SYS_SHMDB_H
#define SHMDB_BENCH_SYS_SHMDB_H

#include <stdint.h>

#include "bench.h"
#include "shmdb.h"

/* Start a daemon with arenas of `mib` MiB (or attach to --socket's): the
 * handle, or NULL (said on stderr). */
shmdb *bench_shmdb_attach(const struct bench_params *p, uint64_t mib);

/* Make the table of rows shmdb-bench-<pid><suffix> with columns
 * cols[0..ncols): 0 or -1. Dropped by stop() with --socket. */
int bench_shmdb_rows_table(const char *suffix, const shmdb_column *cols, unsigned ncols,
			   shmdb_table *t);

/* A load's transactions submitted and not yet waited for, at most
 * BENCH_LOAD_IN_FLIGHT: the client builds the next while the writer
 * applies the one before (shmdb_commit_async), as a loader does. Start
 * zeroed. bench_shmdb_submit commits w so, waiting for the oldest when
 * the window is full; bench_shmdb_drain waits for the rest. Each returns
 * 0 or the first error (bench_shmdb_drain: its own, or `err`). */
#define BENCH_LOAD_IN_FLIGHT 2
struct bench_inflight {
	uint64_t ticket[BENCH_LOAD_IN_FLIGHT];
	uint64_t txns, waited;
};
int bench_shmdb_submit(struct bench_inflight *f, shmdb_wtxn *w);
int bench_shmdb_drain(struct bench_inflight *f, int err);

/* The socket the handle is attached to (for reader processes). */
const char *bench_shmdb_socket(void);

/* The rows workload (rows_shmdb.c). */
/* Wait (at most 30 s) for the writer's gathering of the records loaded
 * (shmdbd(8)) to end, saying how long it took. */
void bench_shmdb_wait_for_gathering(void);
int bench_shmdb_rows_load(const struct bench_params *p, struct bench_rows *o);
int bench_shmdb_rows_read(const struct bench_params *p, struct bench_rows *o);
int bench_shmdb_rows_write(const struct bench_params *p, struct bench_rows *o);

#endif /* SHMDB_BENCH_SYS_SHMDB_H */
