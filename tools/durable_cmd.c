/*
 * durable_cmd.c - the tool's durability commands and status lines (see
 * durable_cmd.h). Messages go to stderr prefixed "shmdb: "; exit status 0,
 * or 1 when the store refuses or cannot be reached.
 */
#include "durable_cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "human.h"

static const char *mode_name(int d)
{
	return d == SHMDB_DURABILITY_SYNC ? "sync" : d == SHMDB_DURABILITY_ASYNC ? "async" : "none";
}

void durable_print_status(const shmdb_stats *st)
{
	printf("durability      %s\n", mode_name(st->durability));
	if (st->durability == SHMDB_DURABILITY_NONE)
		return;
	printf("durable ts      %" PRIu64 " (%" PRIu64 " commits not yet on disk)\n",
	       st->durable_ts, st->commit_ts > st->durable_ts ? st->commit_ts - st->durable_ts : 0);
	char b[HUMAN_BYTES_LEN];
	printf("log             %s since the last checkpoint\n", human_bytes(st->log_bytes, b));
	if (st->log_error)
		printf("log error       %s: commits are refused (%" PRIu64 " so far)\n",
		       shmdb_strerror(st->log_error), st->writes_refused);
	if (st->checkpoint_ts) {
		char when[64] = "before this daemon started";
		if (st->checkpoint_ns) {
			time_t t = (time_t)(st->checkpoint_ns / 1000000000ull);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
		}
		printf("checkpoint      commit %" PRIu64 ", %s, written %s\n",
		       st->checkpoint_ts, human_bytes(st->checkpoint_bytes, b), when);
	} else {
		printf("checkpoint      none yet\n");
	}
}

int durable_checkpoint(shmdb *db, int timeout_ms)
{
	int e = shmdb_checkpoint(db, timeout_ms);
	if (e) {
		fprintf(stderr, "shmdb: checkpoint: %s\n", shmdb_strerror(e));
		return 1;
	}
	shmdb_stats st;
	shmdb_stats_get(db, &st);
	printf("checkpoint of commit %" PRIu64 ": %" PRIu64 " bytes\n", st.checkpoint_ts,
	       st.checkpoint_bytes);
	return 0;
}

int durable_sync(shmdb *db)
{
	int e = shmdb_sync(db);
	if (e) {
		fprintf(stderr, "shmdb: sync: %s\n", shmdb_strerror(e));
		return 1;
	}
	return 0;
}
