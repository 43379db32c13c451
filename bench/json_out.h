/*
 * json_out.h - shmdb-bench's figures as JSON, through cJSON: the helpers
 * every workload's writer shares (shmdb-bench.c for the main, pinned,
 * ordered and rows workloads; durable.c and idle.c for theirs).
 */
#ifndef SHMDB_BENCH_JSON_OUT_H
#define SHMDB_BENCH_JSON_OUT_H

#include <cJSON.h>

/* A number rounded to 3 decimals, or null for a figure not measured:
 * NaN (json_number), or NaN or below 0 (json_measured: the workloads
 * that mark a missing figure -1). */
void json_number(cJSON *o, const char *key, double v);
void json_measured(cJSON *o, const char *key, double v);

/* {"figure": name, "unit": unit} added to array a. */
cJSON *json_figure(cJSON *a, const char *name, const char *unit);

/* Print root to path and delete it. 0, or -1 said on stderr. */
int json_write_file(const char *path, cJSON *root);

#endif /* SHMDB_BENCH_JSON_OUT_H */
