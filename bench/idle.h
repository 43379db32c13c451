/*
 * idle.h - shmdb-bench's idle-strategy workloads (idle.c): commits spaced
 * evenly at 1,000, 10,000 and 50,000 a second under each writer policy
 * (latency and the daemon's cpu), the daemon's cpu with no client
 * activity, and a mixed workload of two client processes (95/5 and 50/50
 * gets and 1-put commits over zipfian keys) against LMDB.
 */
#ifndef SHMDB_BENCH_IDLE_H
#define SHMDB_BENCH_IDLE_H

#include <stdio.h>

#include "bench.h"

/* Run them and print the figures; quick: short runs, fewer keys. 0, or 1
 * if one could not run. */
int bench_idle(const struct bench_params *p, int quick);

#endif /* SHMDB_BENCH_IDLE_H */
