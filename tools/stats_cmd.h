/*
 * stats_cmd.h - `shmdb stats` (as text, --json or --prometheus) and
 * `shmdb top`: the store's figures from the meta segment (shmdb_stats,
 * arenas, tables) and the daemon's report (sessions, versions waiting).
 */
#ifndef SHMDB_TOOL_STATS_CMD_H
#define SHMDB_TOOL_STATS_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "shmdb.h"

enum stats_format { STATS_TEXT, STATS_JSON, STATS_PROMETHEUS };

/* Everything `stats` shows, read at one go. */
struct stats_view {
	uint64_t taken_ns;          /* CLOCK_MONOTONIC when read */
	shmdb_info info;
	shmdb_stats st;
	shmdb_client_stats client;
	unsigned narenas;
	shmdb_arena_info arenas[64];
	uint64_t huge_bytes[64];    /* each arena's, as the daemon measured them */
	size_t ntables;
	shmdb_table_info *tables;   /* in name order */
	shmdb_report *report;       /* sessions, versions waiting */
};

/* Read every figure of db into v (v->tables and v->report allocated):
 * 0, or an error said on stderr. */
int stats_take(shmdb *db, struct stats_view *v);
void stats_release(struct stats_view *v);

/* `shmdb stats [--json | --prometheus]`: exit status. */
int stats_cmd(const char *socket_path, enum stats_format fmt);

/* `shmdb top`: a one-screen view, refreshed every second with rates over
 * the second before, until q or Ctrl-C. Exit status. */
int top_cmd(const char *socket_path);

#endif /* SHMDB_TOOL_STATS_CMD_H */
