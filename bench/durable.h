/*
 * durable.h - shmdb-bench's durable workloads (durable.c): shmdb's sync and
 * async logs against LMDB's durable commit and SQLite WAL synchronous=FULL,
 * restart speed, and reads while checkpoints are written.
 */
#ifndef SHMDB_BENCH_DURABLE_H
#define SHMDB_BENCH_DURABLE_H

#include <stdio.h>

#include "bench.h"

/* Run them and print the figures; quick: small counts. 0, or 1 if one
 * could not run. */
int bench_durable(const struct bench_params *p, int quick);

#endif /* SHMDB_BENCH_DURABLE_H */
