/*
 * rows_lmdb.h - LMDB's side of shmdb-bench's rows workload (rows_lmdb.c),
 * hooked into bench_lmdb by sys_lmdb.c.
 */
#ifndef SHMDB_BENCH_ROWS_LMDB_H
#define SHMDB_BENCH_ROWS_LMDB_H

#include "bench.h"

int bench_lmdb_rows_load(const struct bench_params *p, struct bench_rows *o);
int bench_lmdb_rows_read(const struct bench_params *p, struct bench_rows *o);
int bench_lmdb_rows_write(const struct bench_params *p, struct bench_rows *o);
/* Close what the rows workload opened (unless p->interrupted: then only
 * the files go, as in a signal handler) and remove its files. */
void bench_lmdb_rows_stop(const struct bench_params *p);

#endif /* SHMDB_BENCH_ROWS_LMDB_H */
