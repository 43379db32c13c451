/*
 * sys_sqlite.c - SQLite under shmdb-bench, in the rows workload only
 * (rows.h): a database file in /dev/shm in WAL mode, synchronous=NORMAL
 * (no sync at commit, only at checkpoints), mmap_size of at least 1 GiB,
 * prepared statements throughout. The rows are a table
 *
 *   q(id INTEGER PRIMARY KEY, sym TEXT, bid REAL, ask REAL, size INTEGER, ts INTEGER)
 *
 * with the index q_sym on sym. The load without index goes into a file of
 * its own, removed once timed; the indexed table is created with its index
 * before its load. After the load, untimed, the WAL is checkpointed into
 * the database file and the connection closed, so that no SQLite state
 * crosses fork: the reader process opens a read-only connection of its
 * own and reads in one read transaction (as LMDB's reader does), the
 * parent opens another for its increments, each an autocommit UPDATE.
 */
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rows.h"

/* The indexed table's file (what the reads use) and the one of the load
 * without index, with their WAL and shared-memory files. */
static char path[128], wal[160], shm[160], ppath[128], pwal[160], pshm[160];
static sqlite3 *db, *pdb; /* the parent's connections */

static int fail(sqlite3 *d, const char *what)
{
	fprintf(stderr, "shmdb-bench: sqlite: %s: %s\n", what, d ? sqlite3_errmsg(d) : "out of memory");
	return -1;
}

static int exec(sqlite3 *d, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(d, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "shmdb-bench: sqlite: %s: %s\n", sql, err ? err : "failed");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int prepare(sqlite3 *d, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(d, sql, -1, s, NULL) != SQLITE_OK)
		return fail(d, sql);
	return 0;
}

/* A connection to the file at `at`, opened with `flags`; a writer's sets
 * WAL mode and synchronous=NORMAL. 0, or -1 (*d then NULL). */
static int open_db(const struct bench_params *p, const char *at, int flags, sqlite3 **d)
{
	uint64_t map = p->records * 300 + (64u << 20);
	char sql[64];
	if (map < (1u << 30))
		map = 1u << 30;
	snprintf(sql, sizeof(sql), "PRAGMA mmap_size=%" PRIu64, map);
	if (sqlite3_open_v2(at, d, flags, NULL) != SQLITE_OK) {
		fail(*d, at);
		sqlite3_close(*d);
		*d = NULL;
		return -1;
	}
	if ((!(flags & SQLITE_OPEN_READONLY) &&
	     (exec(*d, "PRAGMA journal_mode=WAL") || exec(*d, "PRAGMA synchronous=NORMAL"))) ||
	    exec(*d, sql)) {
		sqlite3_close(*d);
		*d = NULL;
		return -1;
	}
	return 0;
}

/* Create the database at `at` (connection *d, left open) with table q,
 * and the index on sym before anything is loaded if `index`; load rows
 * 0..records-1 in 1,000-row transactions: 0 and the rows per second in
 * *rps, or -1. */
static int load_db(const struct bench_params *p, const char *at, sqlite3 **d, int index, double *rps)
{
	sqlite3_stmt *ins = NULL, *begin = NULL, *commit = NULL;
	char sym[BENCH_ROWS_SYM_LEN + 1];
	int err = -1;
	if (open_db(p, at, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, d))
		return -1;
	if (exec(*d, "CREATE TABLE q(id INTEGER PRIMARY KEY, sym TEXT NOT NULL, bid REAL NOT NULL, "
		     "ask REAL NOT NULL, size INTEGER NOT NULL, ts INTEGER NOT NULL)") ||
	    (index && exec(*d, "CREATE INDEX q_sym ON q(sym)")) ||
	    prepare(*d, "INSERT INTO q VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &ins) ||
	    prepare(*d, "BEGIN", &begin) || prepare(*d, "COMMIT", &commit))
		goto out;
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->records; i += 1000) {
		if (sqlite3_step(begin) != SQLITE_DONE) {
			fail(*d, "begin");
			goto out;
		}
		sqlite3_reset(begin);
		for (uint64_t j = i; j < i + 1000 && j < p->records; j++) {
			double bid = bench_row_bid(j);
			bench_row_sym(bench_row_symno(j), sym);
			sqlite3_bind_int64(ins, 1, bench_row_id(j));
			sqlite3_bind_text(ins, 2, sym, BENCH_ROWS_SYM_LEN, SQLITE_STATIC);
			sqlite3_bind_double(ins, 3, bid);
			sqlite3_bind_double(ins, 4, bid + 0.5);
			sqlite3_bind_int64(ins, 5, (sqlite3_int64)(j % 1000u));
			sqlite3_bind_int64(ins, 6, (sqlite3_int64)j);
			if (sqlite3_step(ins) != SQLITE_DONE) {
				fail(*d, "insert");
				goto out;
			}
			sqlite3_reset(ins);
		}
		if (sqlite3_step(commit) != SQLITE_DONE) {
			fail(*d, "commit");
			goto out;
		}
		sqlite3_reset(commit);
	}
	*rps = (double)p->records / ((double)(bench_now_ns() - start) / 1e9);
	err = 0;
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	if (err)
		exec(*d, "ROLLBACK");
	return err;
}

static void unlink_db(const char *at, const char *w, const char *s)
{
	unlink(at);
	unlink(w);
	unlink(s);
}

static int rows_load(const struct bench_params *p, struct bench_rows *o)
{
	int pid = (int)getpid();
	snprintf(path, sizeof(path), "/dev/shm/shmdb-bench-sqlite-%d", pid);
	snprintf(ppath, sizeof(ppath), "/dev/shm/shmdb-bench-sqlite-plain-%d", pid);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	snprintf(pwal, sizeof(pwal), "%s-wal", ppath);
	snprintf(pshm, sizeof(pshm), "%s-shm", ppath);
	unlink_db(path, wal, shm);
	unlink_db(ppath, pwal, pshm);
	o->scan_plain_rps = -1; /* shmdb's figures only */
	int err = load_db(p, ppath, &pdb, 0, &o->load_rps);
	/* The rows without index are no longer needed: their memory goes. */
	sqlite3_close(pdb);
	pdb = NULL;
	unlink_db(ppath, pwal, pshm);
	if (err || load_db(p, path, &db, 1, &o->load_index_rps) ||
	    exec(db, "PRAGMA wal_checkpoint(TRUNCATE)"))
		return -1;
	if (sqlite3_close(db) != SQLITE_OK)
		return fail(db, "close");
	db = NULL;
	return 0;
}

/* Whether the plan of the index lookup `sql` in d reads index q_sym and
 * sorts nothing: 1, 0 (the plan printed), or -1. */
static int uses_index(sqlite3 *d, const char *sql)
{
	char explain[256], plan[512] = "";
	sqlite3_stmt *s;
	int found = 0, sorts = 0, rc;
	snprintf(explain, sizeof(explain), "EXPLAIN QUERY PLAN %s", sql);
	if (prepare(d, explain, &s))
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(s, 3);
		if (!detail)
			continue;
		found |= strstr(detail, "USING INDEX q_sym") != NULL ||
			 strstr(detail, "USING COVERING INDEX q_sym") != NULL;
		sorts |= strstr(detail, "TEMP B-TREE") != NULL;
		size_t len = strlen(plan);
		snprintf(plan + len, sizeof(plan) - len, "%s%s", len ? "; " : "", detail);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return fail(d, "explain");
	if (found && !sorts)
		return 1;
	fprintf(stderr, "shmdb-bench: sqlite: the index lookup does not use q_sym alone: %s\n", plan);
	return 0;
}

static int rows_read(const struct bench_params *p, struct bench_rows *o)
{
	static const char *const lookup_sql = "SELECT id, sym, bid FROM q WHERE sym=?1 ORDER BY id LIMIT 1";
	sqlite3 *r;
	sqlite3_stmt *check = NULL, *get = NULL, *scan = NULL, *lookup = NULL;
	/* The first row (by id) of each symbol, from the checking pass: what
	 * an index lookup must find. */
	static int64_t first_id[BENCH_ROWS_SYMBOLS];
	static uint64_t first_i[BENCH_ROWS_SYMBOLS];
	static uint8_t seen[BENCH_ROWS_SYMBOLS];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), bad = 0, n;
	const uint64_t lookups = p->gets / 4;
	int err = -1, rc;
	if (open_db(p, path, SQLITE_OPEN_READONLY, &r))
		return -1;
	if (prepare(r, "SELECT id, sym, bid, ask, size, ts FROM q", &check) ||
	    prepare(r, "SELECT bid FROM q WHERE id=?1", &get) || prepare(r, "SELECT bid FROM q", &scan) ||
	    prepare(r, lookup_sql, &lookup) || uses_index(r, lookup_sql) < 0 || exec(r, "BEGIN"))
		goto out;

	/* A pass over every row, untimed: each as loaded (the warm-up). Rows
	 * come in id order, so the first of a symbol is the one with the
	 * smallest id. */
	n = 0;
	while ((rc = sqlite3_step(check)) == SQLITE_ROW) {
		uint64_t i = (uint64_t)sqlite3_column_int64(check, 5);
		const unsigned char *sym = sqlite3_column_text(check, 1);
		char want[BENCH_ROWS_SYM_LEN + 1];
		unsigned s = bench_row_symno(i);
		bench_row_sym(s, want);
		n++;
		if (i >= p->records || sqlite3_column_int64(check, 0) != bench_row_id(i) || !sym ||
		    sqlite3_column_bytes(check, 1) != BENCH_ROWS_SYM_LEN ||
		    memcmp(sym, want, BENCH_ROWS_SYM_LEN) ||
		    sqlite3_column_double(check, 2) != bench_row_bid(i) ||
		    sqlite3_column_double(check, 3) != bench_row_bid(i) + 0.5 ||
		    sqlite3_column_int64(check, 4) < (sqlite3_int64)(i % 1000u)) {
			bad++;
			continue;
		}
		if (!seen[s]) {
			first_id[s] = bench_row_id(i);
			first_i[s] = i;
			seen[s] = 1;
		}
	}
	if (rc != SQLITE_DONE) {
		fail(r, "check scan");
		goto out;
	}
	sqlite3_reset(check);
	if (bad || n != p->records) {
		fprintf(stderr, "shmdb-bench: sqlite: %" PRIu64 " rows read, %" PRIu64 " of them wrong\n", n, bad);
		goto out;
	}

	/* get_col: the bid of a row by id, timed after a warm-up. */
	for (n = 0; n < p->gets + p->gets / 10 + 1000; n++) {
		uint64_t i = bench_rand(&rnd) % p->records;
		double bid = -1;
		sqlite3_bind_int64(get, 1, bench_row_id(i));
		uint64_t t0 = bench_tsc();
		rc = sqlite3_step(get);
		if (rc == SQLITE_ROW)
			bid = sqlite3_column_double(get, 0);
		sqlite3_reset(get);
		uint64_t t1 = bench_tsc();
		if (n >= p->gets / 10 + 1000)
			hist_add(&o->get_col, t1 - t0);
		bad += rc != SQLITE_ROW || bid != bench_row_bid(i);
	}

	/* scan_sum: every row, summing bid in C. */
	double sum = 0, want = bench_rows_bid_sum(p->records);
	n = 0;
	uint64_t start = bench_now_ns();
	while ((rc = sqlite3_step(scan)) == SQLITE_ROW) {
		sum += sqlite3_column_double(scan, 0);
		n++;
	}
	o->scan_sum_rps = (double)n / ((double)(bench_now_ns() - start) / 1e9);
	if (rc != SQLITE_DONE) {
		fail(r, "scan");
		goto out;
	}
	sqlite3_reset(scan);
	if (n != p->records || fabs(sum - want) > 1e-6 * fabs(want)) {
		fprintf(stderr, "shmdb-bench: sqlite: the scan read %" PRIu64 " rows, bids summing to %.17g, not %.17g\n",
			n, sum, want);
		goto out;
	}

	/* index_get: the first row (by id) of a random symbol, through q_sym. */
	for (n = 0; n < lookups + lookups / 10 + 100; n++) {
		unsigned s = bench_row_symno(bench_rand(&rnd) % p->records);
		char sym[BENCH_ROWS_SYM_LEN + 1], got[BENCH_ROWS_SYM_LEN] = { 0 };
		int64_t id = 0;
		double bid = -1;
		int len = 0;
		bench_row_sym(s, sym);
		sqlite3_bind_text(lookup, 1, sym, BENCH_ROWS_SYM_LEN, SQLITE_STATIC);
		uint64_t t0 = bench_tsc();
		rc = sqlite3_step(lookup);
		if (rc == SQLITE_ROW) {
			const unsigned char *t;
			id = sqlite3_column_int64(lookup, 0);
			if ((t = sqlite3_column_text(lookup, 1)) &&
			    (len = sqlite3_column_bytes(lookup, 1)) == BENCH_ROWS_SYM_LEN)
				memcpy(got, t, BENCH_ROWS_SYM_LEN);
			bid = sqlite3_column_double(lookup, 2);
		}
		sqlite3_reset(lookup);
		uint64_t t1 = bench_tsc();
		if (n >= lookups / 10 + 100)
			hist_add(&o->index_get, t1 - t0);
		bad += rc != SQLITE_ROW || !seen[s] || id != first_id[s] || len != BENCH_ROWS_SYM_LEN ||
		       memcmp(got, sym, BENCH_ROWS_SYM_LEN) || bid != bench_row_bid(first_i[s]);
	}
	if (exec(r, "COMMIT"))
		goto out;
	if (bad) {
		fprintf(stderr, "shmdb-bench: sqlite: %" PRIu64 " gets or index lookups missed or read "
			"wrong rows\n", bad);
		goto out;
	}
	err = 0;
out:
	sqlite3_finalize(check);
	sqlite3_finalize(get);
	sqlite3_finalize(scan);
	sqlite3_finalize(lookup);
	sqlite3_close(r);
	return err;
}

/* The sum of every row's size: 0, or -1. */
static int size_sum(sqlite3_stmt *s, int64_t *sum)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*sum = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : fail(db, "sum");
}

/* incr: p->commits autocommit UPDATEs, each adding 1 to a random row's
 * size: bind, step, reset, timed. */
static int rows_write(const struct bench_params *p, struct bench_rows *o)
{
	sqlite3_stmt *upd = NULL, *sum = NULL;
	uint64_t rnd = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid(), bad = 0;
	int64_t before = 0, after = 0;
	int err = -1;
	if (!db && open_db(p, path, SQLITE_OPEN_READWRITE, &db))
		return -1;
	if (prepare(db, "UPDATE q SET size=size+1 WHERE id=?1", &upd) ||
	    prepare(db, "SELECT sum(size) FROM q", &sum) || size_sum(sum, &before))
		goto out;
	for (uint64_t n = 0; n < p->commits; n++) {
		uint64_t i = bench_rand(&rnd) % p->records;
		sqlite3_bind_int64(upd, 1, bench_row_id(i));
		uint64_t t0 = bench_tsc();
		int rc = sqlite3_step(upd);
		sqlite3_reset(upd);
		hist_add(&o->incr, bench_tsc() - t0);
		if (rc != SQLITE_DONE) {
			fail(db, "increment");
			goto out;
		}
		bad += sqlite3_changes(db) != 1;
	}
	if (size_sum(sum, &after))
		goto out;
	if (bad || after - before != (int64_t)p->commits) {
		fprintf(stderr, "shmdb-bench: sqlite: %" PRIu64 " increments changed no row or more than "
			"one; sizes grew by %" PRId64 " in %" PRIu64 "\n", bad, after - before, p->commits);
		goto out;
	}
	err = 0;
out:
	sqlite3_finalize(upd);
	sqlite3_finalize(sum);
	return err;
}

static void stop(const struct bench_params *p)
{
	/* In a signal handler, only what is safe there: the files go, the
	 * connections die with the process. */
	if (!p->interrupted) {
		sqlite3_close(db);
		sqlite3_close(pdb);
	}
	db = pdb = NULL;
	if (path[0])
		unlink_db(path, wal, shm);
	if (ppath[0])
		unlink_db(ppath, pwal, pshm);
}

const struct bench_system bench_sqlite = {
	.name = "SQLite", .stop = stop,
	.rows_load = rows_load, .rows_read = rows_read, .rows_write = rows_write,
};
