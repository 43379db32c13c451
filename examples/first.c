/*
 * first.c - the smallest shmdb program: attach to the daemon, create a
 * table, write one key in a transaction, read it back from a snapshot,
 * print it and detach.
 *
 * Usage: example-first [SOCKET]   (no SOCKET: the default socket)
 */
#include <stdio.h>
#include <string.h>

#include <shmdb.h>

/* Every shmdb call returns 0 or a negative error code; shmdb_strerror()
 * turns any of them into words. */
static int fail(const char *what, int err)
{
	fprintf(stderr, "first: %s: %s\n", what, shmdb_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	/* NULL asks for the default socket ($SHMDB_SOCKET, /run/shmdb/...). */
	const char *socket_path = argc > 1 ? argv[1] : NULL;

	/* 1. Attach: the store is mapped read-only into this process. */
	shmdb *db;
	int err = shmdb_open(socket_path, &db);
	if (err)
		return fail("shmdb_open", err);

	/* 2. Open the table "greetings", creating it if it is missing. A table
	 *    id is a small number, valid until the table is dropped. */
	shmdb_table t;
	err = shmdb_table_open(db, "greetings", SHMDB_CREATE, &t);
	if (err) {
		shmdb_close(db);
		return fail("shmdb_table_open", err);
	}

	/* 3. Write: collect operations in a write transaction, then commit.
	 *    Keys and values are bytes with a length (no NUL needed). Once
	 *    shmdb_commit returns 0 the write is visible to every new snapshot. */
	const char *key = "hello", *value = "world";
	shmdb_wtxn *w = NULL;
	uint64_t commit_ts;
	err = shmdb_write_begin(db, &w);
	if (!err)
		err = shmdb_put(w, t, key, strlen(key), value, strlen(value));
	if (err) {
		shmdb_abort(w); /* (NULL is fine) */
		shmdb_close(db);
		return fail("shmdb_put", err);
	}
	err = shmdb_commit(w, &commit_ts); /* finishes w, success or not */
	if (err) {
		shmdb_close(db);
		return fail("shmdb_commit", err);
	}
	printf("put %s = %s (commit %llu)\n", key, value, (unsigned long long)commit_ts);

	/* 4. Read: a snapshot of the store as of the latest commit. shmdb_get
	 *    copies nothing: v.data points into the shared store and stays
	 *    valid only until shmdb_read_end. */
	shmdb_rtxn *r;
	shmdb_val v;
	err = shmdb_read_begin(db, &r);
	if (err) {
		shmdb_close(db);
		return fail("shmdb_read_begin", err);
	}
	err = shmdb_get(r, t, key, strlen(key), &v);
	if (err) {
		shmdb_read_end(r);
		shmdb_close(db);
		return fail("shmdb_get", err);
	}
	/* 5. Print it (the value is not NUL-terminated: print with its length). */
	printf("get %s = %.*s\n", key, (int)v.len, (const char *)v.data);
	shmdb_read_end(r); /* v is invalid from here on */

	/* 6. Detach. */
	shmdb_close(db);
	return 0;
}
