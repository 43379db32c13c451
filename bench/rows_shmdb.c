/*
 * rows_shmdb.c - shmdb's side of shmdb-bench's rows workload (rows.h): a
 * hash table of typed rows (id i64 key, sym str, bid f64, ask f64, size
 * i64, ts u64) with an index on sym, on a daemon of its own (sys_shmdb.h).
 *
 * Next to each figure the workload asks of shmdb it times the plain
 * operation the target compares it with, in turns with it so that both
 * see the same moments of the host: gets that read no column beside gets
 * that read bid, a full scan that reads no column beside one that sums
 * bid, 1-put commits of a whole row beside 1-op increments.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rows.h"
#include "sys_shmdb.h"

static const shmdb_column cols[] = {
	{ .name = "id", .type = SHMDB_I64 },   { .name = "sym", .type = SHMDB_STR },
	{ .name = "bid", .type = SHMDB_F64 },  { .name = "ask", .type = SHMDB_F64 },
	{ .name = "size", .type = SHMDB_I64 }, { .name = "ts", .type = SHMDB_U64 },
};
enum { C_ID, C_SYM, C_BID, C_ASK, C_SIZE, C_TS, NCOLS };

/* Gets of each kind per turn, and commits. */
#define TURN 4096
#define COMMIT_TURN 256

static shmdb *db;
static shmdb_table rows_t;

static int fail(const char *what, int err)
{
	fprintf(stderr, "shmdb-bench: shmdb rows: %s: %s\n", what, shmdb_strerror(err));
	return -1;
}

/* Row i into b. */
static int build(shmdb_row *b, uint64_t i)
{
	struct bench_packed_row r;
	bench_packed_row(&r, i);
	shmdb_row_reset(b);
	int e = shmdb_row_set_i64(b, C_ID, r.id);
	if (!e)
		e = shmdb_row_set_bytes(b, C_SYM, r.sym, BENCH_ROWS_SYM_LEN);
	if (!e)
		e = shmdb_row_set_f64(b, C_BID, r.bid);
	if (!e)
		e = shmdb_row_set_f64(b, C_ASK, r.ask);
	if (!e)
		e = shmdb_row_set_i64(b, C_SIZE, r.size);
	if (!e)
		e = shmdb_row_set_u64(b, C_TS, r.ts);
	return e;
}

/* Rows 0..n-1 into t in 1,000-row transactions (bench_shmdb_submit): rows
 * per second, until the last is applied. */
static int load_rows(shmdb_table t, uint64_t n, double *rps)
{
	shmdb_row *b;
	struct bench_inflight f = { 0 };
	int e = shmdb_row_new(db, t, &b);
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < n && !e; i += 1000) {
		shmdb_wtxn *w;
		if ((e = shmdb_write_begin(db, &w)))
			break;
		for (uint64_t j = i; j < i + 1000 && j < n && !e; j++)
			if (!(e = build(b, j)))
				e = shmdb_put_row(w, t, b);
		if (e)
			shmdb_abort(w);
		else
			e = bench_shmdb_submit(&f, w);
	}
	e = bench_shmdb_drain(&f, e);
	shmdb_row_free(b);
	if (e)
		return fail("bulk load", e);
	*rps = (double)n / ((double)(bench_now_ns() - start) / 1e9);
	return 0;
}

int bench_shmdb_rows_load(const struct bench_params *p, struct bench_rows *o)
{
	shmdb_table plain, by_sym;
	/* Per row and load: a version of ~100 bytes, its hash slot, an index
	 * entry (a version and its tree entry); room for the commits. */
	uint64_t mib = (p->records + p->commits) * 600 / (1 << 20) + 128;
	if (!(db = bench_shmdb_attach(p, mib)) ||
	    bench_shmdb_rows_table("-rows-plain", cols, NCOLS, &plain) ||
	    bench_shmdb_rows_table("-rows", cols, NCOLS, &rows_t))
		return -1;
	if (load_rows(plain, p->records, &o->load_rps))
		return -1;
	int e = shmdb_index_create(db, rows_t, "sym", 0, &by_sym);
	if (e)
		return fail("index", e);
	if (load_rows(rows_t, p->records, &o->load_index_rps))
		return -1;
	bench_shmdb_wait_for_gathering();
	return 0;
}

/* A full scan of t in r: rows per second; *sum gets the bids' sum when
 * `sum` (else the rows are not read). */
static double scan(shmdb_rtxn *r, const shmdb_schema *s, int sum, double *total, uint64_t *n)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	double acc = 0, bid;
	uint64_t rows = 0, bad = 0;
	*total = 0;
	*n = 0;
	if (shmdb_cursor_open(r, rows_t, &c))
		return -1;
	uint64_t start = bench_now_ns();
	if (sum) {
		while (!shmdb_cursor_next(c, &k, &v)) {
			bad += shmdb_row_f64(s, v, C_BID, &bid) != 0;
			acc += bid;
			rows++;
		}
	} else {
		while (!shmdb_cursor_next(c, &k, &v))
			rows++;
	}
	double rps = (double)rows / ((double)(bench_now_ns() - start) / 1e9);
	shmdb_cursor_close(c);
	*total = acc;
	*n = rows + bad * (1ull << 40); /* a failed read shows as a wrong count */
	return rps;
}

int bench_shmdb_rows_read(const struct bench_params *p, struct bench_rows *o)
{
	shmdb *mine;
	shmdb_table t = rows_t, by_sym; /* (the parent's table: the reader is its fork) */
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_val row, v;
	uint8_t key[8];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), bad = 0;
	int e = shmdb_open(bench_shmdb_socket(), &mine);
	if (!e)
		e = shmdb_index_open(mine, t, "sym", &by_sym);
	if (!e)
		e = shmdb_read_begin(mine, &r);
	if (!e)
		e = shmdb_schema_get(r, t, &s);
	if (e)
		return fail("reader open", e);

	/* Gets by key, reading bid or not, in turns: warm-up turns first. */
	const uint64_t turns = p->gets / TURN + 1, warm = turns / 10 + 1;
	for (uint64_t n = 0; n < 2 * (turns + warm); n++) {
		int col = n % 2 == 0;
		struct hist *h = col ? &o->get_col : &o->get_plain;
		for (unsigned k = 0; k < TURN; k++) {
			uint64_t i = bench_rand(&rnd) % p->records;
			shmdb_key_i64(bench_row_id(i), key);
			double bid = 0;
			uint64_t t0 = bench_tsc();
			e = shmdb_get(r, t, key, 8, &row);
			if (col && !e)
				e = shmdb_row_f64(s, row, C_BID, &bid);
			uint64_t t1 = bench_tsc();
			bad += e || (col ? bid != bench_row_bid(i) : row.len == 0);
			if (n >= 2 * warm)
				hist_add(h, t1 - t0);
		}
	}

	/* Full scans: one to warm, then each kind twice, the better kept. */
	double want = bench_rows_bid_sum(p->records), sum;
	uint64_t rows;
	scan(r, s, 0, &sum, &rows);
	o->scan_plain_rps = o->scan_sum_rps = 0;
	for (int k = 0; k < 4; k++) {
		double rps = scan(r, s, k % 2, &sum, &rows);
		bad += rows != p->records || (k % 2 && fabs(sum - want) > 1e-6 * fabs(want) + 1e-6);
		double *best = k % 2 ? &o->scan_sum_rps : &o->scan_plain_rps;
		if (rps > *best)
			*best = rps;
	}

	/* The first row of a random symbol through the index, and its bid. */
	const uint64_t lookups = p->gets / 4 + 1;
	for (uint64_t n = 0; n < lookups + lookups / 10; n++) {
		char sym[BENCH_ROWS_SYM_LEN + 1];
		bench_row_sym((unsigned)(bench_rand(&rnd) % BENCH_ROWS_SYMBOLS), sym);
		double bid = -1;
		uint64_t t0 = bench_tsc();
		e = shmdb_get(r, by_sym, sym, BENCH_ROWS_SYM_LEN, &row);
		if (!e)
			e = shmdb_row_f64(s, row, C_BID, &bid);
		uint64_t t1 = bench_tsc();
		if (n >= lookups / 10)
			hist_add(&o->index_get, t1 - t0);
		bad += e || bid < 0 || shmdb_row_bytes(s, row, C_SYM, &v) ||
		       v.len != BENCH_ROWS_SYM_LEN || memcmp(v.data, sym, v.len);
	}
	shmdb_read_end(r);
	shmdb_close(mine);
	if (bad) {
		fprintf(stderr, "shmdb-bench: shmdb rows: %llu reads were wrong\n",
			(unsigned long long)bad);
		return -1;
	}
	return 0;
}

int bench_shmdb_rows_write(const struct bench_params *p, struct bench_rows *o)
{
	shmdb_row *b;
	uint8_t key[8];
	uint64_t rnd = 0x51ed27f1b0c4a3d9ull;
	int e = shmdb_row_new(db, rows_t, &b);
	const uint64_t turns = p->commits / COMMIT_TURN + 1, warm = turns / 10 + 1;
	for (uint64_t n = 0; n < 2 * (turns + warm) && !e; n++) {
		int incr = n % 2 == 0;
		for (unsigned k = 0; k < COMMIT_TURN && !e; k++) {
			uint64_t i = bench_rand(&rnd) % p->records;
			shmdb_wtxn *w;
			shmdb_key_i64(bench_row_id(i), key);
			if (!incr && (e = build(b, i)))
				break;
			uint64_t t0 = bench_tsc();
			if (!(e = shmdb_write_begin(db, &w))) {
				e = incr ? shmdb_add_i64(w, rows_t, key, 8, C_SIZE, 1)
					 : shmdb_put_row(w, rows_t, b);
				e = e ? (shmdb_abort(w), e) : shmdb_commit(w, NULL);
			}
			uint64_t t1 = bench_tsc();
			if (n >= 2 * warm)
				hist_add(incr ? &o->incr : &o->put_commit, t1 - t0);
		}
	}
	shmdb_row_free(b);
	return e ? fail("commits", e) : 0;
}
