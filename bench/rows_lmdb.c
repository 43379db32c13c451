/*
 * rows_lmdb.c - LMDB's side of shmdb-bench's rows workload (rows.h), as
 * its users would store such rows: an environment of its own in /dev/shm
 * (MDB_NOSYNC | MDB_WRITEMAP | MDB_NOTLS, as sys_lmdb.c's), two named
 * databases in it: "rows", each row a packed struct bench_packed_row (45
 * bytes) under its id's key (bench_row_key, 8 bytes, sorting as the ids),
 * and "by_sym", MDB_DUPSORT, from the 5-byte symbol to the id keys of its
 * rows, written in the same transaction as the row. The load without the
 * index goes into a second environment that has "rows" only, removed once
 * timed. The reader process opens the environment again (an environment
 * must not cross fork) and reads in one read transaction, as the ordered
 * workload's reader does; the parent's increments are 1-op write
 * transactions on the environment the load left open.
 */
#include <inttypes.h>
#include <lmdb.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rows.h"
#include "rows_lmdb.h"

#define ROW_LEN sizeof(struct bench_packed_row)
#define BID_AT offsetof(struct bench_packed_row, bid)

/* The environment the reads use and the one of the load without index. */
static char rpath[128], rlock[160], ppath[128], plock[160];
static MDB_env *renv, *penv;
static MDB_dbi rows_dbi, sym_dbi;

static int fail(const char *what, int rc)
{
	fprintf(stderr, "shmdb-bench: lmdb rows: %s: %s\n", what, mdb_strerror(rc));
	return -1;
}

/* Make d's value count as used before the next TSC reading: the compiler
 * must not move the read of a column past the timer. */
static inline void used(double d)
{
	__asm__ volatile("" : : "x"(d));
}

/* The environment at `at` with room for the rows, their index and the
 * increments: generous, the file is sparse in /dev/shm. */
static int open_rows_env(const struct bench_params *p, const char *at, MDB_env **e)
{
	uint64_t size = (p->records + p->commits) * 400 + (64u << 20);
	int rc = mdb_env_create(e);
	if (rc)
		return rc;
	if (!(rc = mdb_env_set_mapsize(*e, size)) && !(rc = mdb_env_set_maxreaders(*e, 64)) &&
	    !(rc = mdb_env_set_maxdbs(*e, 4)))
		rc = mdb_env_open(*e, at, MDB_NOSYNC | MDB_WRITEMAP | MDB_NOSUBDIR | MDB_NOTLS, 0600);
	if (rc) {
		mdb_env_close(*e);
		*e = NULL;
	}
	return rc;
}

/* Create the environment at `at` and load rows 0..records-1 into its
 * "rows" database in 1,000-row transactions, each row's "by_sym" entry
 * with it if `index`: 0 and the rows per second in *rps, or -1. */
static int load_rows(const struct bench_params *p, const char *at, char *lock, MDB_env **e,
		     int index, MDB_dbi *rd, MDB_dbi *sd, double *rps)
{
	snprintf(lock, 160, "%s-lock", at);
	unlink(at);
	unlink(lock);
	MDB_txn *txn;
	int rc = open_rows_env(p, at, e);
	if (rc)
		return fail("open", rc);
	if ((rc = mdb_txn_begin(*e, NULL, 0, &txn)))
		return fail("dbi", rc);
	if ((rc = mdb_dbi_open(txn, "rows", MDB_CREATE, rd)) ||
	    (index && (rc = mdb_dbi_open(txn, "by_sym", MDB_CREATE | MDB_DUPSORT, sd)))) {
		mdb_txn_abort(txn);
		return fail("dbi", rc);
	}
	if ((rc = mdb_txn_commit(txn)))
		return fail("dbi", rc);
	struct bench_packed_row row;
	uint8_t key[8];
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->records; i += 1000) {
		if ((rc = mdb_txn_begin(*e, NULL, 0, &txn)))
			return fail("txn", rc);
		for (uint64_t j = i; j < i + 1000 && j < p->records; j++) {
			bench_packed_row(&row, j);
			bench_row_key(row.id, key);
			MDB_val k = { 8, key }, v = { ROW_LEN, &row };
			MDB_val sk = { BENCH_ROWS_SYM_LEN, row.sym }, sv = { 8, key };
			if ((rc = mdb_put(txn, *rd, &k, &v, 0)) ||
			    (index && (rc = mdb_put(txn, *sd, &sk, &sv, 0)))) {
				mdb_txn_abort(txn);
				return fail("put", rc);
			}
		}
		if ((rc = mdb_txn_commit(txn)))
			return fail("commit", rc);
	}
	*rps = (double)p->records / ((double)(bench_now_ns() - start) / 1e9);
	return 0;
}

int bench_lmdb_rows_load(const struct bench_params *p, struct bench_rows *o)
{
	MDB_dbi plain;
	snprintf(ppath, sizeof(ppath), "/dev/shm/shmdb-bench-lmdb-rows-plain-%d", (int)getpid());
	snprintf(rpath, sizeof(rpath), "/dev/shm/shmdb-bench-lmdb-rows-%d", (int)getpid());
	o->scan_plain_rps = -1; /* shmdb's figures only */
	int err = load_rows(p, ppath, plock, &penv, 0, &plain, NULL, &o->load_rps);
	/* The rows without index are no longer needed: their memory goes. */
	if (penv)
		mdb_env_close(penv);
	penv = NULL;
	unlink(ppath);
	unlink(plock);
	if (err)
		return -1;
	return load_rows(p, rpath, rlock, &renv, 1, &rows_dbi, &sym_dbi, &o->load_index_rps);
}

/* Whether the packed row at v is not row ts's as loaded (its size may
 * have been incremented), or not under key k. */
static int wrong_row(const struct bench_params *p, const MDB_val *k, const MDB_val *v)
{
	struct bench_packed_row got, want;
	uint8_t key[8];
	if (v->mv_size != ROW_LEN || (k && k->mv_size != 8))
		return 1;
	memcpy(&got, v->mv_data, ROW_LEN);
	if (got.ts >= p->records)
		return 1;
	bench_packed_row(&want, got.ts);
	bench_row_key(want.id, key);
	return (k && memcmp(k->mv_data, key, 8)) || got.id != want.id ||
	       memcmp(got.sym, want.sym, BENCH_ROWS_SYM_LEN) || got.bid != want.bid ||
	       got.ask != want.ask || got.size < want.size;
}

int bench_lmdb_rows_read(const struct bench_params *p, struct bench_rows *o)
{
	MDB_env *mine;
	MDB_txn *txn;
	MDB_dbi rd, sd;
	MDB_cursor *c, *sc;
	MDB_val k, v;
	uint8_t key[8];
	/* The key of the first row (by id) of each symbol, from the checking
	 * pass: what an index lookup must find. */
	static uint8_t first[BENCH_ROWS_SYMBOLS][8];
	static uint8_t seen[BENCH_ROWS_SYMBOLS];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), bad = 0, n;
	const uint64_t lookups = p->gets / 4;
	int rc = open_rows_env(p, rpath, &mine);
	if (rc)
		return fail("reader open", rc);
	if ((rc = mdb_txn_begin(mine, NULL, MDB_RDONLY, &txn)) ||
	    (rc = mdb_dbi_open(txn, "rows", 0, &rd)) || (rc = mdb_dbi_open(txn, "by_sym", 0, &sd)) ||
	    (rc = mdb_txn_commit(txn)) || (rc = mdb_txn_begin(mine, NULL, MDB_RDONLY, &txn)) ||
	    (rc = mdb_cursor_open(txn, rd, &c)) || (rc = mdb_cursor_open(txn, sd, &sc)))
		return fail("reader open", rc);

	/* A pass over every row, untimed: each as loaded under its key (the
	 * warm-up, which also maps every page into this process). */
	n = 0;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (wrong_row(p, &k, &v)) {
			bad++;
		} else {
			unsigned s = bench_row_symno(((const struct bench_packed_row *)v.mv_data)->ts);
			if (!seen[s])
				memcpy(first[s], k.mv_data, 8);
			seen[s] = 1;
		}
		n++;
	}
	if (rc != MDB_NOTFOUND)
		return fail("check scan", rc);
	if (bad || n != p->records) {
		fprintf(stderr, "shmdb-bench: lmdb rows: %" PRIu64 " rows read, %" PRIu64 " of them wrong\n",
			n, bad);
		return -1;
	}

	/* get_col: mdb_get by key and read the bid, timed after a warm-up. */
	for (n = 0; n < p->gets + p->gets / 10 + 1000; n++) {
		uint64_t i = bench_rand(&rnd) % p->records;
		double bid = -1;
		bench_row_key(bench_row_id(i), key);
		k = (MDB_val){ 8, key };
		uint64_t t0 = bench_tsc();
		rc = mdb_get(txn, rd, &k, &v);
		if (!rc)
			memcpy(&bid, (const uint8_t *)v.mv_data + BID_AT, sizeof(bid));
		used(bid);
		uint64_t t1 = bench_tsc();
		if (n >= p->gets / 10 + 1000)
			hist_add(&o->get_col, t1 - t0);
		bad += rc || v.mv_size != ROW_LEN || bid != bench_row_bid(i);
	}

	/* scan_sum: every row in key order, summing bid. */
	double sum = 0, want = bench_rows_bid_sum(p->records);
	n = 0;
	uint64_t start = bench_now_ns();
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		double bid;
		memcpy(&bid, (const uint8_t *)v.mv_data + BID_AT, sizeof(bid));
		sum += bid;
		n++;
	}
	o->scan_sum_rps = (double)n / ((double)(bench_now_ns() - start) / 1e9);
	if (rc != MDB_NOTFOUND)
		return fail("scan", rc);
	if (n != p->records || fabs(sum - want) > 1e-6 * fabs(want)) {
		fprintf(stderr, "shmdb-bench: lmdb rows: the scan read %" PRIu64 " rows, bids summing to %.17g, not %.17g\n",
			n, sum, want);
		return -1;
	}

	/* index_get: a random symbol's first id key in by_sym (MDB_SET_KEY:
	 * the first of its sorted duplicates), then that row and its bid. */
	for (n = 0; n < lookups + lookups / 10 + 100; n++) {
		unsigned s = bench_row_symno(bench_rand(&rnd) % p->records);
		char sym[BENCH_ROWS_SYM_LEN + 1];
		double bid = -1;
		bench_row_sym(s, sym);
		MDB_val sk = { BENCH_ROWS_SYM_LEN, sym }, sv = { 0, NULL };
		v = (MDB_val){ 0, NULL };
		uint64_t t0 = bench_tsc();
		rc = mdb_cursor_get(sc, &sk, &sv, MDB_SET_KEY);
		if (!rc)
			rc = mdb_get(txn, rd, &sv, &v);
		if (!rc)
			memcpy(&bid, (const uint8_t *)v.mv_data + BID_AT, sizeof(bid));
		used(bid);
		uint64_t t1 = bench_tsc();
		if (n >= lookups / 10 + 100)
			hist_add(&o->index_get, t1 - t0);
		if (rc || sv.mv_size != 8 || !seen[s] || memcmp(sv.mv_data, first[s], 8) ||
		    wrong_row(p, &sv, &v)) {
			bad++;
			continue;
		}
		const struct bench_packed_row *row = v.mv_data;
		bad += memcmp(row->sym, sym, BENCH_ROWS_SYM_LEN) != 0 || bid != bench_row_bid(row->ts);
	}
	mdb_cursor_close(sc);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	mdb_env_close(mine);
	if (bad) {
		fprintf(stderr, "shmdb-bench: lmdb rows: %" PRIu64 " gets or index lookups missed or read "
			"wrong rows\n", bad);
		return -1;
	}
	return 0;
}

/* The sum of every row's size, in a read transaction of its own: 0, or -1. */
static int size_sum(const struct bench_params *p, int64_t *sum)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_txn_begin(renv, NULL, MDB_RDONLY, &txn);
	if (rc || (rc = mdb_cursor_open(txn, rows_dbi, &c)))
		return fail("size sum", rc);
	uint64_t n = 0, bad = 0;
	*sum = 0;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		int64_t size;
		bad += wrong_row(p, &k, &v);
		memcpy(&size, (const uint8_t *)v.mv_data + offsetof(struct bench_packed_row, size), 8);
		*sum += size;
		n++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND)
		return fail("size sum", rc);
	if (bad || n != p->records) {
		fprintf(stderr, "shmdb-bench: lmdb rows: %" PRIu64 " rows read, %" PRIu64 " of them wrong\n",
			n, bad);
		return -1;
	}
	return 0;
}

/* incr: p->commits 1-op read-modify-write transactions, each adding 1 to
 * a random row's size: begin, get, copy, put, commit, all timed. */
int bench_lmdb_rows_write(const struct bench_params *p, struct bench_rows *o)
{
	uint64_t rnd = 0x2545f4914f6cdd1dull ^ (uint64_t)getpid(), bad = 0;
	int64_t before, after;
	uint8_t key[8];
	if (size_sum(p, &before))
		return -1;
	for (uint64_t n = 0; n < p->commits; n++) {
		uint64_t i = bench_rand(&rnd) % p->records;
		struct bench_packed_row row = { 0 };
		MDB_txn *txn = NULL;
		MDB_val k = { 8, key }, v;
		bench_row_key(bench_row_id(i), key);
		uint64_t t0 = bench_tsc();
		int rc = mdb_txn_begin(renv, NULL, 0, &txn);
		if (!rc && !(rc = mdb_get(txn, rows_dbi, &k, &v))) {
			if (v.mv_size == ROW_LEN) {
				memcpy(&row, v.mv_data, ROW_LEN);
				row.size++;
				v = (MDB_val){ ROW_LEN, &row };
				rc = mdb_put(txn, rows_dbi, &k, &v, 0);
			} else {
				rc = MDB_CORRUPTED;
			}
		}
		if (rc && txn)
			mdb_txn_abort(txn);
		else if (!rc)
			rc = mdb_txn_commit(txn);
		hist_add(&o->incr, bench_tsc() - t0);
		if (rc)
			return fail("increment", rc);
		bad += row.ts != i;
	}
	if (size_sum(p, &after))
		return -1;
	if (bad || after - before != (int64_t)p->commits) {
		fprintf(stderr, "shmdb-bench: lmdb rows: %" PRIu64 " increments read wrong rows; sizes "
			"grew by %" PRId64 " in %" PRIu64 "\n", bad, after - before, p->commits);
		return -1;
	}
	return 0;
}

void bench_lmdb_rows_stop(const struct bench_params *p)
{
	/* In a signal handler, only what is safe there: the files go, the
	 * handles die with the process. */
	if (renv && !p->interrupted)
		mdb_env_close(renv);
	if (penv && !p->interrupted)
		mdb_env_close(penv);
	renv = penv = NULL;
	if (rpath[0]) {
		unlink(rpath);
		unlink(rlock);
	}
	if (ppath[0]) {
		unlink(ppath);
		unlink(plock);
	}
}
