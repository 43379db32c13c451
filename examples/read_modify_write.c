/*
 * read_modify_write.c - optimistic read-modify-write with retry: read a
 * counter in a snapshot, compute the new value, and commit it with
 * shmdb_check, so that the commit fails with SHMDB_ECONFLICT (applying
 * nothing) if anyone wrote the counter after our snapshot; then retry.
 *
 * Two forked processes each add 1 to the counter 1000 times at the same
 * moment; no increment may be lost, so the end value must be exactly 2000.
 *
 * Usage: example-read_modify_write [SOCKET]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmdb.h>

#define TABLE "counters"
#define KEY "hits"
#define WORKERS 2
#define INCREMENTS 1000

/* The counter is stored as decimal text, so that `shmdb get counters hits`
 * shows it. A missing key counts as 0. */
static unsigned long long parse_counter(shmdb_val v)
{
	char buf[32];
	size_t n = v.len < sizeof(buf) - 1 ? v.len : sizeof(buf) - 1;
	memcpy(buf, v.data, n);
	buf[n] = 0;
	return strtoull(buf, NULL, 10);
}

/* Read the counter as of a new snapshot: its value and the snapshot's
 * timestamp (which shmdb_check compares commits against). */
static int read_counter(shmdb *db, shmdb_table t, unsigned long long *value, uint64_t *ts)
{
	shmdb_rtxn *r;
	shmdb_val v;
	int err = shmdb_read_begin(db, &r);
	if (err)
		return err;
	*ts = shmdb_read_ts(r);
	err = shmdb_get(r, t, KEY, strlen(KEY), &v);
	*value = err == 0 ? parse_counter(v) : 0;
	shmdb_read_end(r); /* v is invalid from here: we parsed it already */
	return err == -ENOENT ? 0 : err;
}

/*
 * One increment, retried until it commits. Returns 0 or an error, and
 * counts the conflicts (retries) in *conflicts.
 */
static int increment(shmdb *db, shmdb_table t, unsigned long *conflicts)
{
	for (;;) {
		/* 1. Read. */
		unsigned long long value;
		uint64_t ts;
		int err = read_counter(db, t, &value, &ts);
		if (err)
			return err;

		/* 2. Modify (here: add one). The pause pretends the computation
		 *    takes a while: the other worker can commit meanwhile, so the
		 *    demo really meets conflicts. */
		char text[32];
		int len = snprintf(text, sizeof(text), "%llu", value + 1);
		struct timespec pause = { 0, 20000 };
		nanosleep(&pause, NULL);

		/* 3. Write, on the condition that nobody wrote the key after
		 *    snapshot ts: the daemon checks it when it applies the commit. */
		shmdb_wtxn *w = NULL;
		err = shmdb_write_begin(db, &w);
		if (!err)
			err = shmdb_check(w, t, KEY, strlen(KEY), ts);
		if (!err)
			err = shmdb_put(w, t, KEY, strlen(KEY), text, (size_t)len);
		if (err) {
			shmdb_abort(w);
			return err;
		}
		err = shmdb_commit(w, NULL);
		if (err != SHMDB_ECONFLICT)
			return err; /* 0: done; anything else: a real failure */

		/* 4. Someone else got there first: nothing was applied, so read
		 *    the new value and try again. */
		(*conflicts)++;
	}
}

/*
 * A worker process: its own handle (a handle never crosses fork()). Once
 * attached it says so on `ready` and waits for the parent to close `go`,
 * so that both workers start incrementing at the same moment.
 */
static int worker(const char *socket_path, int id, int ready, int go)
{
	shmdb *db = NULL;
	shmdb_table t;
	unsigned long conflicts = 0;
	char byte = 0;
	int err = shmdb_open(socket_path, &db);
	if (!err)
		err = shmdb_table_open(db, TABLE, SHMDB_CREATE, &t);
	if (write(ready, &byte, 1) != 1) /* "attached" */
		err = err ? err : -EPIPE;
	close(ready);
	if (read(go, &byte, 1) != 0) /* the start line: end of file when the parent closes it */
		err = err ? err : -EPIPE;
	for (int i = 0; !err && i < INCREMENTS; i++)
		err = increment(db, t, &conflicts);
	shmdb_close(db);
	if (err) {
		fprintf(stderr, "read_modify_write: worker %d: %s\n", id, shmdb_strerror(err));
		return 1;
	}
	printf("worker %d: %d increments, %lu conflicts retried\n", id, INCREMENTS, conflicts);
	return 0;
}

int main(int argc, char **argv)
{
	const char *socket_path = argc > 1 ? argv[1] : NULL;

	/* Set the counter to 0 (so that the example can run again). */
	shmdb *db = NULL;
	shmdb_table t;
	shmdb_wtxn *w = NULL;
	int err = shmdb_open(socket_path, &db);
	if (!err)
		err = shmdb_table_open(db, TABLE, SHMDB_CREATE, &t);
	if (!err)
		err = shmdb_write_begin(db, &w);
	if (!err) {
		err = shmdb_put(w, t, KEY, strlen(KEY), "0", 1);
		if (err)
			shmdb_abort(w);
		else
			err = shmdb_commit(w, NULL); /* finishes w either way */
	}
	if (err) {
		fprintf(stderr, "read_modify_write: set up: %s\n", shmdb_strerror(err));
		shmdb_close(db);
		return 1;
	}

	/* Start the workers, then let them go together, so that they collide. */
	pid_t pids[WORKERS];
	int ready[2], go[2];
	if (pipe(ready) < 0 || pipe(go) < 0) {
		perror("read_modify_write: pipe");
		return 1;
	}
	fflush(stdout);
	for (int i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("read_modify_write: fork");
			return 1;
		}
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			int code = worker(socket_path, i + 1, ready[1], go[0]);
			fflush(stdout); /* _exit() does not flush stdio */
			_exit(code);
		}
	}
	close(ready[1]);
	close(go[0]);
	char byte;
	for (int i = 0; i < WORKERS && read(ready[0], &byte, 1) == 1; i++)
		; /* each worker is attached (or gone: then read() says end of file) */
	close(go[1]); /* go! */
	close(ready[0]);
	int failed = 0;
	for (int i = 0; i < WORKERS; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	}

	/* Check: every increment counted exactly once. */
	unsigned long long value = 0;
	uint64_t ts;
	err = read_counter(db, t, &value, &ts);
	shmdb_close(db);
	if (err) {
		fprintf(stderr, "read_modify_write: read: %s\n", shmdb_strerror(err));
		return 1;
	}
	printf("counter = %llu (expected %d)\n", value, WORKERS * INCREMENTS);
	if (failed || value != (unsigned long long)WORKERS * INCREMENTS) {
		fprintf(stderr, "read_modify_write: FAILED: counter %llu, expected %d%s\n", value,
			WORKERS * INCREMENTS, failed ? " (a worker failed)" : "");
		return 1;
	}
	return 0;
}
