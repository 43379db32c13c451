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

/* The socket the handle is attached to (for reader processes). */
const char *bench_shmdb_socket(void);

/* The rows workload (rows_shmdb.c). */
int bench_shmdb_rows_load(const struct bench_params *p, struct bench_rows *o);
int bench_shmdb_rows_read(const struct bench_params *p, struct bench_rows *o);
int bench_shmdb_rows_write(const struct bench_params *p, struct bench_rows *o);

#endif /* SHMDB_BENCH_SYS_SHMDB_H */
