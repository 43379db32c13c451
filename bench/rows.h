/*
 * rows.h - the dataset of shmdb-bench's rows workload, the same for every
 * system: row i is (id, sym, bid, ask, size, ts) with
 *
 *   id    bench_row_id(i): i scrambled (a bijection of the 64-bit
 *         integers), so rows arrive in no key order
 *   sym   one of BENCH_ROWS_SYMBOLS symbols, "S0000" .. "S0999" (5 bytes),
 *         spread over the rows (bench_row_sym)
 *   bid   (i % 100000) / 100.0, ask = bid + 0.5
 *   size  i % 1000 (the column the increments add to)
 *   ts    i
 *
 * Each system stores rows as its users would: shmdb a table of typed
 * rows (i64 key, str, f64, f64, i64, u64) with an index on sym; LMDB a
 * packed struct bench_packed_row under the id's key (bench_row_key) and
 * an MDB_DUPSORT database from sym to id keys, written in the same
 * transaction; SQLite a table with an INTEGER PRIMARY KEY and an index on
 * sym. The timed gets pick i at random and check the bid they read; the
 * scans check the sum of every bid (bench_rows_bid_sum); an index lookup
 * picks a random symbol and checks the row it gets has it.
 */
#ifndef SHMDB_BENCH_ROWS_H
#define SHMDB_BENCH_ROWS_H

#include <stdint.h>
#include <stdio.h>

#define BENCH_ROWS_SYMBOLS 1000u
#define BENCH_ROWS_SYM_LEN 5

static inline int64_t bench_row_id(uint64_t i)
{
	return (int64_t)(i * 0x9e3779b97f4a7c15ull);
}

/* The symbol number of row i. */
static inline unsigned bench_row_symno(uint64_t i)
{
	return (unsigned)((i * 7919u) % BENCH_ROWS_SYMBOLS);
}

/* The symbol numbered n, in out[0..BENCH_ROWS_SYM_LEN) (no NUL kept). */
static inline void bench_row_sym(unsigned n, char out[BENCH_ROWS_SYM_LEN + 1])
{
	snprintf(out, BENCH_ROWS_SYM_LEN + 1, "S%04u", n % 10000u);
}

static inline double bench_row_bid(uint64_t i)
{
	return (double)(i % 100000u) / 100.0;
}

/* The sum of every bid of rows 0..n-1, in the order a scan adds them may
 * differ in the last bits: compare within 1e-6 relative. */
static inline double bench_rows_bid_sum(uint64_t n)
{
	double s = 0;
	for (uint64_t i = 0; i < n; i++)
		s += bench_row_bid(i);
	return s;
}

/* A row as LMDB stores it: packed, little-endian, 45 bytes. */
struct __attribute__((packed)) bench_packed_row {
	int64_t id;
	char sym[BENCH_ROWS_SYM_LEN];
	double bid, ask;
	int64_t size;
	uint64_t ts;
};

static inline void bench_packed_row(struct bench_packed_row *r, uint64_t i)
{
	char sym[BENCH_ROWS_SYM_LEN + 1];
	bench_row_sym(bench_row_symno(i), sym);
	r->id = bench_row_id(i);
	for (int k = 0; k < BENCH_ROWS_SYM_LEN; k++)
		r->sym[k] = sym[k];
	r->bid = bench_row_bid(i);
	r->ask = r->bid + 0.5;
	r->size = (int64_t)(i % 1000u);
	r->ts = i;
}

/* An id as a key that sorts as the ids do: 8 bytes, big-endian, sign bit
 * flipped (shmdb_key_i64's encoding; LMDB compares keys bytewise). */
static inline void bench_row_key(int64_t id, uint8_t out[8])
{
	uint64_t u = (uint64_t)id ^ (1ull << 63);
	for (int k = 0; k < 8; k++)
		out[k] = (uint8_t)(u >> (56 - 8 * k));
}

#endif /* SHMDB_BENCH_ROWS_H */
