/*
 * bulk_load.c - load many records fast with pipelined commits: submit
 * batches of puts with shmdb_commit_async (no waiting), keep a few of them
 * in flight, and collect each result with shmdb_wait. Then check the count
 * with shmdb_count and print the rate.
 *
 * Usage: example-bulk_load [SOCKET [RECORDS]]   (default: 100000 records)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <shmdb.h>

#define TABLE "bulk"
#define BATCH 1000    /* puts per transaction */
#define IN_FLIGHT 4   /* transactions submitted but not yet waited for */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(shmdb *db, const char *what, int err)
{
	fprintf(stderr, "bulk_load: %s: %s\n", what, shmdb_strerror(err));
	shmdb_close(db); /* (NULL is fine) */
	return 1;
}

int main(int argc, char **argv)
{
	const char *socket_path = argc > 1 ? argv[1] : NULL;
	long records = argc > 2 ? atol(argv[2]) : 100000;
	if (records < 1) {
		fprintf(stderr, "usage: %s [SOCKET [RECORDS >= 1]]\n", argv[0]);
		return 2;
	}

	shmdb *db = NULL;
	int err = shmdb_open(socket_path, &db);
	if (err)
		return fail(db, "shmdb_open", err);

	/* Start from an empty table: drop what a previous run left (-ENOENT:
	 * there was none), then create it. */
	err = shmdb_table_drop(db, TABLE);
	if (err && err != -ENOENT)
		return fail(db, "shmdb_table_drop", err);
	shmdb_table t;
	err = shmdb_table_open(db, TABLE, SHMDB_CREATE, &t);
	if (err)
		return fail(db, "shmdb_table_open", err);
	/* Optional: size the table's index for the whole load at once, so that
	 * no commit of the load waits for the index to grow. */
	err = shmdb_table_reserve(db, t, (uint64_t)records);
	if (err)
		return fail(db, "shmdb_table_reserve", err);

	uint64_t tickets[IN_FLIGHT]; /* a ring of the tickets in flight */
	int head = 0, inflight = 0;
	double start = now_s();
	for (long done = 0; done < records;) {
		/* If IN_FLIGHT transactions are out, wait for the oldest first. A
		 * failed commit applied nothing: stop at the first one. */
		if (inflight == IN_FLIGHT) {
			err = shmdb_wait(db, tickets[head], NULL);
			if (err)
				return fail(db, "shmdb_wait", err);
			head = (head + 1) % IN_FLIGHT;
			inflight--;
		}

		/* Build one batch: up to BATCH puts in one transaction. */
		shmdb_wtxn *w = NULL;
		err = shmdb_write_begin(db, &w);
		if (err)
			return fail(db, "shmdb_write_begin", err);
		for (int i = 0; i < BATCH && done < records; i++, done++) {
			char key[32], val[64];
			int klen = snprintf(key, sizeof(key), "rec:%09ld", done);
			int vlen = snprintf(val, sizeof(val), "value of record %ld", done);
			err = shmdb_put(w, t, key, (size_t)klen, val, (size_t)vlen);
			if (err) {
				shmdb_abort(w);
				return fail(db, "shmdb_put", err);
			}
		}

		/* Submit without waiting: the daemon applies it while we build
		 * the next batch. The ticket is what we wait on later. */
		int slot = (head + inflight) % IN_FLIGHT;
		err = shmdb_commit_async(w, &tickets[slot]);
		if (err)
			return fail(db, "shmdb_commit_async", err);
		inflight++;
	}
	/* Collect the rest: only now is every record committed. */
	for (; inflight > 0; inflight--) {
		err = shmdb_wait(db, tickets[head], NULL);
		if (err)
			return fail(db, "shmdb_wait", err);
		head = (head + 1) % IN_FLIGHT;
	}
	double secs = now_s() - start;

	/* Check: shmdb_count counts a snapshot's records exactly, without a
	 * scan (on any kind of table). */
	shmdb_rtxn *r;
	uint64_t n = 0;
	err = shmdb_read_begin(db, &r);
	if (err)
		return fail(db, "shmdb_read_begin", err);
	err = shmdb_count(r, t, &n);
	shmdb_read_end(r);
	if (err)
		return fail(db, "shmdb_count", err);
	printf("loaded %ld records in %.3f s: %.0f records/s\n", records, secs,
	       secs > 0 ? (double)records / secs : 0.0);
	printf("count = %llu\n", (unsigned long long)n);
	shmdb_close(db);
	if (n != (uint64_t)records) {
		fprintf(stderr, "bulk_load: FAILED: count %llu, expected %ld\n", (unsigned long long)n,
			records);
		return 1;
	}
	return 0;
}
