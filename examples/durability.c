/*
 * durability.c - how durable is a commit? shmdb_stats_get tells the
 * daemon's durability mode and how far its log on disk has got
 * (durable_ts); shmdb_sync waits until every commit so far is on disk.
 * A daemon started with --durability none keeps the store in memory only:
 * then shmdb_sync returns -ENOTSUP, which this program reports and accepts.
 *
 * Usage: example-durability [SOCKET]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <shmdb.h>

static const char *mode_name(int durability)
{
	switch (durability) {
	case SHMDB_DURABILITY_NONE: return "none (memory only)";
	case SHMDB_DURABILITY_ASYNC: return "async (logged every few ms)";
	case SHMDB_DURABILITY_SYNC: return "sync (on disk before acknowledged)";
	default: return "unknown";
	}
}

static int fail(shmdb *db, const char *what, int err)
{
	fprintf(stderr, "durability: %s: %s\n", what, shmdb_strerror(err));
	shmdb_close(db);
	return 1;
}

int main(int argc, char **argv)
{
	const char *socket_path = argc > 1 ? argv[1] : NULL;
	shmdb *db = NULL;
	shmdb_table t;
	int err = shmdb_open(socket_path, &db);
	if (!err)
		err = shmdb_table_open(db, "journal", SHMDB_CREATE, &t);
	if (err)
		return fail(db, "open", err);

	/* 1. Commit something. In async mode it is visible now and on disk
	 *    within the flush interval; in sync mode it is on disk already. */
	uint64_t ts = 0;
	shmdb_wtxn *w = NULL;
	err = shmdb_write_begin(db, &w);
	if (!err)
		err = shmdb_put(w, t, "last-entry", 10, "payment #42", 11);
	if (err) {
		shmdb_abort(w);
		return fail(db, "shmdb_put", err);
	}
	err = shmdb_commit(w, &ts);
	if (err)
		return fail(db, "shmdb_commit", err);
	printf("committed at %llu\n", (unsigned long long)ts);

	/* 2. The figures: read from shared memory, no round trip. */
	shmdb_stats st;
	err = shmdb_stats_get(db, &st);
	if (err)
		return fail(db, "shmdb_stats_get", err);
	printf("durability: %s\n", mode_name(st.durability));
	printf("commit_ts %llu, durable_ts %llu, log bytes since checkpoint %llu\n",
	       (unsigned long long)st.commit_ts, (unsigned long long)st.durable_ts,
	       (unsigned long long)st.log_bytes);
	if (st.log_error)
		printf("the log cannot be written: %s\n", shmdb_strerror(st.log_error));

	/* 3. Wait until our commit (and every one before it) is on disk. */
	err = shmdb_sync(db);
	if (err == -ENOTSUP) {
		/* --durability none: nothing to wait for, the store lives in
		 * memory only and goes with the daemon. Not an error. */
		printf("memory-only store: shmdb_sync has nothing to do\n");
		shmdb_close(db);
		return 0;
	}
	if (err)
		return fail(db, "shmdb_sync", err);

	/* Now durable_ts has reached our commit. */
	err = shmdb_stats_get(db, &st);
	if (err)
		return fail(db, "shmdb_stats_get", err);
	printf("after shmdb_sync: durable_ts %llu >= our commit %llu\n",
	       (unsigned long long)st.durable_ts, (unsigned long long)ts);
	if (st.checkpoint_ts)
		printf("newest checkpoint holds commit %llu (%llu bytes)\n",
		       (unsigned long long)st.checkpoint_ts, (unsigned long long)st.checkpoint_bytes);
	shmdb_close(db);
	if (st.durable_ts < ts) {
		fprintf(stderr, "durability: FAILED: durable_ts %llu < commit %llu\n",
			(unsigned long long)st.durable_ts, (unsigned long long)ts);
		return 1;
	}
	return 0;
}
