/*
 * durable_cmd.h - the shmdb tool's durability: the log and checkpoint
 * lines of `shmdb status`, and `shmdb sync` / `shmdb checkpoint`
 * (durable_cmd.c).
 */
#ifndef SHMDB_TOOL_DURABLE_CMD_H
#define SHMDB_TOOL_DURABLE_CMD_H

#include "shmdb.h"

/* Print the durability lines of `shmdb status` from st. */
void durable_print_status(const shmdb_stats *st);

/* `shmdb checkpoint`: have one written and wait for it (at most
 * timeout_ms). Says what happened; returns the tool's exit status. */
int durable_checkpoint(shmdb *db, int timeout_ms);

/* `shmdb sync`: wait until every commit so far is on disk. */
int durable_sync(shmdb *db);

#endif /* SHMDB_TOOL_DURABLE_CMD_H */
