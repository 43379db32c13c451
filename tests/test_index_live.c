/*
 * test_index_live.c - secondary indexes while other processes commit:
 * every snapshot a checker takes finds each index exactly its table's
 * rows, in order, while writers change the indexed values (hash and
 * ordered tables); a build over a million rows while writers keep
 * committing, checked the same way once complete; unique indexes refusing
 * to be built over shared values, refusing whole transactions that would
 * share one, taking swaps; an index found by shmdb_index_open only once
 * its build is complete, and read as -EAGAIN by older snapshots, with a
 * clear midway through the build; a unique build while writers move
 * values between rows.
 *
 * The processes share a page of counters (an anonymous shared mapping
 * made before the children are forked): what each writer committed, and
 * the parent's "build started", "build done" and "stop". No assertion is
 * about time; every wait has a bound.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"
#include "shmdb.h"

static struct test_daemon d;

/* ck_assert without the cost of a passing check (Check reports each one
 * to the runner through a pipe): for the checker's loops. */
#define must(cond, ...)                           \
	do {                                      \
		if (!(cond))                      \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* Under AddressSanitizer or ThreadSanitizer (as in test_typed.c) the
 * sizes shrink: the million-row build to 100,000 rows, the writers'
 * minimum commits and the snapshots to check. (Here the plain Debug build
 * runs the suite in about 20 s; the -O2 AddressSanitizer build runs the
 * full sizes in about 22 s and the reduced ones in about 7 s.) */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

/* ---- shared between the processes of a test ------------------------------------- */

enum { MAX_WRITERS = 4 };

struct shared {
	int stop;                      /* parent: writers may stop */
	int build_started;             /* parent: shmdb_index_create is called */
	int build_done;                /* parent: it has returned */
	uint64_t commits[MAX_WRITERS]; /* each writer's commits that applied */
	uint64_t refused[MAX_WRITERS]; /* ... that were refused as expected */
	uint64_t during[MAX_WRITERS];  /* ... that applied while the build ran */
};

static struct shared *sh;

static void shared_map(void)
{
	void *p = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(p != MAP_FAILED);
	sh = p;
	memset(sh, 0, sizeof(*sh));
}

static void shared_unmap(void)
{
	munmap(sh, sizeof(*sh));
	sh = NULL;
}

static uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void bump(uint64_t *p)
{
	__atomic_add_fetch(p, 1, __ATOMIC_RELEASE);
}

static int flag(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void raise_flag(int *p)
{
	__atomic_store_n(p, 1, __ATOMIC_RELEASE);
}

/* splitmix64 on a state of the caller's: a fixed seed per process, so that
 * a failure repeats (as far as the interleaving lets it). */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t key_of(int64_t id, uint8_t k[8])
{
	return shmdb_key_i64(id, k);
}

/* ---- the checker: a table and its indexes in one snapshot ----------------------- */

/* An index under check: on column `col` (named `name`) of type I64 or STR. */
struct ispec {
	const char *name;
	unsigned col;
	enum shmdb_type type;
	int unique;
	shmdb_table ix;
};

/* A (value, row) pair: the value's key bytes (a STR's bytes, in the
 * snapshot; an I64's shmdb_key_i64, in k) and the row's id and place. */
struct ent {
	int64_t id;
	const void *row;
	size_t row_len;
	const uint8_t *p; /* a STR's bytes (never NULL), or NULL: k holds the key */
	uint32_t len;
	uint8_t k[8];
};

/* Whether two reads of a row in one snapshot gave the same row: the same
 * bytes in the store, or the same bytes where the writer moved them
 * meanwhile (it gathers an ordered table's records in key order when idle,
 * and the record a snapshot reads stays the same). */
static int same_row(const struct ent *a, const struct ent *b)
{
	return a->row_len == b->row_len && (a->row == b->row || !memcmp(a->row, b->row, a->row_len));
}

/* Whether row is e's row, as same_row says. */
static int is_row(const struct ent *e, shmdb_val row)
{
	struct ent r = { .row = row.data, .row_len = row.len };
	return same_row(e, &r);
}

static const uint8_t *ekey(const struct ent *e)
{
	return e->p ? e->p : e->k;
}

/* Values in an index's order: bytewise over the common length, then the
 * shorter first (the order of shmdb_key_i64's keys is the numbers'). */
static int cmp_value(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t m = alen < blen ? alen : blen;
	int c = m ? memcmp(a, b, m) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* An index's order: the value, then the primary key (an I64's order). */
static int cmp_ent(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	int c = cmp_value(ekey(a), a->len, ekey(b), b->len);
	if (c)
		return c;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* The first of e[0..n) (sorted) whose value is >= v[0..vlen). */
static size_t lower_bound(const struct ent *e, size_t n, const uint8_t *v, size_t vlen)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_value(ekey(&e[mid]), e[mid].len, v, vlen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct check_stats {
	uint64_t ts;               /* the snapshot's */
	uint64_t rows;             /* the table's rows in it */
	uint64_t indexed[4];       /* each index's entries */
};

static const char *hex(const uint8_t *p, size_t n, char *buf, size_t cap)
{
	size_t at = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n && at + 3 < cap; i++)
		at += (size_t)snprintf(buf + at, cap - at, "%02x", p[i]);
	return buf;
}

/*
 * In one new snapshot of db: the rows of table t (column 0 an I64 id; an
 * ordered table's in id order), and for each index ix[i]: its records in
 * order of (value, id), each the row itself in place with the value its
 * key says; exactly the rows whose column is not null; shmdb_count of the
 * index that many; shmdb_get by value the row of the smallest id with it
 * (-ENOENT for a value no row has); seeks placing the cursor where the
 * entries say; shmdb_indexes listing every index ready with its count.
 * With `deep`, the index is walked backwards too.
 */
static void check_snapshot(shmdb *db, shmdb_table t, int ordered, const struct ispec *ix,
			   unsigned nix, uint64_t *rng, int deep, struct check_stats *st)
{
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_cursor *c;
	shmdb_val k, row;
	uint64_t nrows;
	char h1[80], h2[80];
	ck_assert_int_le(nix, 4);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	uint64_t ts = shmdb_read_ts(r);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	ck_assert_int_eq(shmdb_count(r, t, &nrows), 0);
	struct ent *e[4];
	size_t n[4] = { 0 };
	for (unsigned i = 0; i < nix; i++) {
		ck_assert_int_eq(shmdb_column_index(s, ix[i].name), (int)ix[i].col);
		e[i] = malloc((nrows + 1) * sizeof(struct ent));
		ck_assert_ptr_nonnull(e[i]);
	}

	/* (a) The table: what each index must hold. */
	uint64_t walked = 0;
	int64_t prev_id = INT64_MIN;
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	int rc;
	while ((rc = shmdb_cursor_next(c, &k, &row)) == 0) {
		int64_t id;
		uint8_t kb[8];
		must(walked < nrows, "ts %" PRIu64 ": the table's cursor gives more than its %" PRIu64
		     " rows", ts, nrows);
		must(shmdb_row_i64(s, row, 0, &id) == 0, "ts %" PRIu64 ": a row without its id", ts);
		must(k.len == 8 && !memcmp(k.data, kb, key_of(id, kb)),
		     "ts %" PRIu64 ": row %" PRId64 " under another key", ts, id);
		if (ordered)
			must(walked == 0 || id > prev_id,
			     "ts %" PRIu64 ": ordered table: id %" PRId64 " after %" PRId64, ts, id,
			     prev_id);
		prev_id = id;
		walked++;
		for (unsigned i = 0; i < nix; i++) {
			struct ent *x = &e[i][n[i]];
			*x = (struct ent){ .id = id, .row = row.data, .row_len = row.len };
			int got;
			if (ix[i].type == SHMDB_STR) {
				shmdb_val v;
				got = shmdb_row_bytes(s, row, ix[i].col, &v);
				x->p = v.data ? v.data : (const uint8_t *)"";
				x->len = (uint32_t)v.len;
			} else {
				int64_t q;
				got = shmdb_row_i64(s, row, ix[i].col, &q);
				x->len = (uint32_t)shmdb_key_i64(q, x->k);
			}
			must(got == 0 || got == -ENODATA,
			     "ts %" PRIu64 ": row %" PRId64 " column %s: %d", ts, id, ix[i].name, got);
			n[i] += got == 0;
		}
	}
	must(rc == -ENOENT, "ts %" PRIu64 ": the table's cursor ends with %d", ts, rc);
	must(walked == nrows, "ts %" PRIu64 ": the table's cursor gives %" PRIu64
	     " rows, shmdb_count %" PRIu64, ts, walked, nrows);
	shmdb_cursor_close(c);

	for (unsigned i = 0; i < nix; i++) {
		const struct ispec *x = &ix[i];
		struct ent *want = e[i];
		size_t m = n[i];
		qsort(want, m, sizeof(*want), cmp_ent);
		if (x->unique)
			for (size_t j = 1; j < m; j++)
				must(cmp_value(ekey(&want[j - 1]), want[j - 1].len, ekey(&want[j]),
					       want[j].len) != 0,
				     "ts %" PRIu64 ": rows %" PRId64 " and %" PRId64
				     " share a value of unique index %s",
				     ts, want[j - 1].id, want[j].id, x->name);

		/* (c) Its count: the rows with a value. */
		uint64_t count;
		ck_assert_int_eq(shmdb_count(r, x->ix, &count), 0);
		must(count == m, "ts %" PRIu64 ": index %s counts %" PRIu64 ", the table has %zu rows "
		     "with a value", ts, x->name, count, m);

		/* (b) Its records, forward: in order, each the row in place
		 * under its own value, exactly the table's pairs. */
		ck_assert_int_eq(shmdb_cursor_open(r, x->ix, &c), 0);
		size_t j = 0;
		struct ent last = { 0 };
		while ((rc = shmdb_cursor_next(c, &k, &row)) == 0) {
			int64_t id;
			must(shmdb_row_i64(s, row, 0, &id) == 0, "ts %" PRIu64 ": index %s: a record "
			     "that is not a row", ts, x->name);
			struct ent got = { .id = id, .row = row.data, .row_len = row.len, .p = k.data,
					   .len = (uint32_t)k.len };
			if (!got.p)
				got.p = (const uint8_t *)"";
			/* The key is the row's value. */
			if (x->type == SHMDB_STR) {
				shmdb_val v;
				must(shmdb_row_bytes(s, row, x->col, &v) == 0 && v.len == k.len &&
				     (!k.len || !memcmp(v.data, k.data, k.len)),
				     "ts %" PRIu64 ": index %s: row %" PRId64 " under key %s", ts, x->name,
				     id, hex(k.data, k.len, h1, sizeof(h1)));
			} else {
				int64_t q;
				uint8_t qk[8];
				must(shmdb_row_i64(s, row, x->col, &q) == 0 && k.len == 8 &&
				     !memcmp(k.data, qk, shmdb_key_i64(q, qk)),
				     "ts %" PRIu64 ": index %s: row %" PRId64 " (value %" PRId64
				     ") under key %s", ts, x->name, id, q, hex(k.data, k.len, h1, sizeof(h1)));
			}
			/* Nondecreasing values, ties in increasing id. */
			if (j > 0)
				must(cmp_ent(&last, &got) < 0,
				     "ts %" PRIu64 ": index %s: (%s, %" PRId64 ") after (%s, %" PRId64 ")",
				     ts, x->name, hex(ekey(&got), got.len, h1, sizeof(h1)), got.id,
				     hex(ekey(&last), last.len, h2, sizeof(h2)), last.id);
			/* The table's pair at this place, its row itself. */
			must(j < m, "ts %" PRIu64 ": index %s has more than the %zu rows with a value "
			     "(row %" PRId64 ")", ts, x->name, m, id);
			must(cmp_ent(&want[j], &got) == 0 && same_row(&want[j], &got),
			     "ts %" PRIu64 ": index %s record %zu: (%s, %" PRId64 "), the table has "
			     "(%s, %" PRId64 ")%s", ts, x->name, j, hex(ekey(&got), got.len, h1, sizeof(h1)),
			     got.id, hex(ekey(&want[j]), want[j].len, h2, sizeof(h2)), want[j].id,
			     same_row(&want[j], &got) ? "" : " (not the table's row)");
			last = got;
			j++;
		}
		must(rc == -ENOENT, "ts %" PRIu64 ": index %s: cursor ends with %d", ts, x->name, rc);
		must(j == m, "ts %" PRIu64 ": index %s gives %zu records, the table has %zu rows with "
		     "a value", ts, x->name, j, m);

		/* Backwards, the same records. */
		if (deep) {
			ck_assert_int_eq(shmdb_cursor_seek_end(c), 0);
			j = m;
			while ((rc = shmdb_cursor_prev(c, &k, &row)) == 0) {
				must(j > 0, "ts %" PRIu64 ": index %s: more records backwards", ts,
				     x->name);
				j--;
				must(is_row(&want[j], row) && k.len == want[j].len &&
				     (!k.len || !memcmp(k.data, ekey(&want[j]), k.len)),
				     "ts %" PRIu64 ": index %s: record %zu backwards is not row %" PRId64,
				     ts, x->name, j, want[j].id);
			}
			must(rc == -ENOENT && j == 0, "ts %" PRIu64 ": index %s: backwards ends at %zu "
			     "with %d", ts, x->name, j, rc);
		}

		/* (d) Gets by value: the row of the smallest id with it, or
		 * -ENOENT; values of rows and values near them. */
		for (int g = 0; g < 16 && m; g++) {
			const struct ent *pick = &want[rnd(rng) % m];
			uint8_t probe[64];
			size_t plen;
			if (x->type == SHMDB_STR) {
				plen = pick->len < 60 ? pick->len : 60;
				memcpy(probe, ekey(pick), plen);
				if (g % 4 == 3) /* a value just past it */
					probe[plen++] = 'q';
				else if (g % 4 == 2 && plen) /* a prefix of it */
					plen--;
			} else {
				int64_t q;
				ck_assert_int_eq(shmdb_key_to_i64(pick->k, 8, &q), 0);
				if (g % 4 == 3 && q < INT64_MAX)
					q++;
				else if (g % 4 == 2 && q > INT64_MIN)
					q--;
				plen = shmdb_key_i64(q, probe);
			}
			size_t lb = lower_bound(want, m, probe, plen);
			int have = lb < m && cmp_value(ekey(&want[lb]), want[lb].len, probe, plen) == 0;
			rc = shmdb_get(r, x->ix, probe, plen, &row);
			if (have)
				must(rc == 0 && is_row(&want[lb], row),
				     "ts %" PRIu64 ": index %s: get %s gives %d%s, want row %" PRId64, ts,
				     x->name, hex(probe, plen, h1, sizeof(h1)), rc,
				     rc == 0 ? " and another row" : "", want[lb].id);
			else
				must(rc == -ENOENT, "ts %" PRIu64 ": index %s: get %s (no row has it) gives %d",
				     ts, x->name, hex(probe, plen, h1, sizeof(h1)), rc);

			/* A seek to the value: the first record at or after it. */
			ck_assert_int_eq(shmdb_cursor_seek(c, probe, plen), 0);
			rc = shmdb_cursor_next(c, &k, &row);
			if (lb < m)
				must(rc == 0 && is_row(&want[lb], row),
				     "ts %" PRIu64 ": index %s: seek %s then next gives %d, want row %" PRId64,
				     ts, x->name, hex(probe, plen, h1, sizeof(h1)), rc, want[lb].id);
			else
				must(rc == -ENOENT, "ts %" PRIu64 ": index %s: seek %s past the end: %d", ts,
				     x->name, hex(probe, plen, h1, sizeof(h1)), rc);
		}
		/* Resuming a walk at (value, id): that record next. */
		for (int g = 0; g < 8 && m && !x->unique; g++) {
			size_t at = rnd(rng) % m;
			uint8_t pk[8];
			ck_assert_int_eq(shmdb_cursor_seek_pair(c, ekey(&want[at]), want[at].len, pk,
								key_of(want[at].id, pk)),
					 0);
			rc = shmdb_cursor_next(c, &k, &row);
			must(rc == 0 && is_row(&want[at], row),
			     "ts %" PRIu64 ": index %s: seek_pair to record %zu (row %" PRId64 ") then "
			     "next gives %d", ts, x->name, at, want[at].id, rc);
		}
		shmdb_cursor_close(c);
		if (st)
			st->indexed[i] = m;
	}

	/* shmdb_indexes: every index, ready, with its count. */
	shmdb_index_info info[8];
	size_t ninfo;
	ck_assert_int_eq(shmdb_indexes(r, t, info, 8, &ninfo), 0);
	must(ninfo == nix, "ts %" PRIu64 ": shmdb_indexes lists %zu indexes, want %u", ts, ninfo,
	     nix);
	for (unsigned i = 0; i < nix; i++) {
		unsigned f = 0;
		while (f < ninfo && strcmp(info[f].column, ix[i].name))
			f++;
		must(f < ninfo, "ts %" PRIu64 ": shmdb_indexes does not list %s", ts, ix[i].name);
		must(info[f].id == ix[i].ix && info[f].ready &&
		     info[f].flags == (ix[i].unique ? SHMDB_UNIQUE : 0) && info[f].count == n[i],
		     "ts %" PRIu64 ": shmdb_indexes: %s id %u ready %d flags %d count %" PRIu64
		     ", want id %u ready, count %zu", ts, ix[i].name, info[f].id, info[f].ready,
		     info[f].flags, info[f].count, ix[i].ix, n[i]);
	}
	for (unsigned i = 0; i < nix; i++)
		free(e[i]);
	shmdb_read_end(r);
	if (st) {
		st->ts = ts;
		st->rows = nrows;
	}
}

/* ---- 1. consistent in every snapshot ------------------------------------------- */

/* (id, sym, qty, px): px a nullable F64, not indexed. */
static const shmdb_column pos_cols[] = {
	{ .name = "id", .type = SHMDB_I64 },
	{ .name = "sym", .type = SHMDB_STR },
	{ .name = "qty", .type = SHMDB_I64 },
	{ .name = "px", .type = SHMDB_F64, .flags = SHMDB_NULLABLE },
};
enum { C_ID, C_SYM, C_QTY, C_PX };

/* 20 symbols: the empty string, NULs inside (A < A\0 < A\0B < AB as
 * bytes), prefixes of each other, multi-byte UTF-8. */
static const struct {
	const char *s;
	size_t len;
} syms[] = {
	{ "", 0 },       { "A", 1 },      { "A\0", 2 },   { "A\0B", 3 },   { "AB", 2 },
	{ "B", 1 },      { "BB", 2 },     { "AAPL", 4 },  { "GOOG", 4 },   { "IBM", 3 },
	{ "MSFT", 4 },   { "ORCL", 4 },   { "Z", 1 },     { "a", 1 },      { "ab", 2 },
	{ "abc", 3 },    { "abd", 3 },    { "x y", 3 },   { "\xc3\xa9t\xc3\xa9", 5 },
	{ "\xe2\x82\xac", 3 },
};
enum { NSYMS = sizeof(syms) / sizeof(syms[0]) };

#if SANITIZED
enum { LIVE_ROWS = 2000, LIVE_WRITERS = 3, LIVE_MIN_COMMITS = 2000, LIVE_MIN_SNAPS = 20 };
#else
enum { LIVE_ROWS = 2000, LIVE_WRITERS = 3, LIVE_MIN_COMMITS = 10000, LIVE_MIN_SNAPS = 40 };
#endif
#define LIVE_DEADLINE_MS 150000

/* Far from 0 and from the ends, where adds of a few units never
 * overflow: negative and positive keys of every byte. */
static int64_t random_qty(uint64_t *rng)
{
	uint64_t x = rnd(rng);
	switch (x % 32) {
	case 0:
		return INT64_MIN + 1000000;
	case 1:
		return INT64_MAX - 1000000;
	case 2:
		return -(int64_t)(x >> 20);
	default:
		return (int64_t)(x % 201) - 100;
	}
}

static void put_pos(shmdb_wtxn *w, shmdb_row *b, shmdb_table t, int64_t id, unsigned sym,
		    int64_t qty, int px_null, double px)
{
	shmdb_row_reset(b);
	CHILD_REQUIRE(shmdb_row_set_i64(b, C_ID, id) == 0, 110);
	CHILD_REQUIRE(shmdb_row_set_bytes(b, C_SYM, syms[sym].s, syms[sym].len) == 0, 111);
	CHILD_REQUIRE(shmdb_row_set_i64(b, C_QTY, qty) == 0, 112);
	if (!px_null)
		CHILD_REQUIRE(shmdb_row_set_f64(b, C_PX, px) == 0, 113);
	CHILD_REQUIRE(shmdb_put_row(w, t, b) == 0, 114);
}

struct live_args {
	shmdb_table t;
	int writer;
};

/*
 * A writer of test 1: transactions of 1 to 6 random changes to the rows
 * with ids 0 .. LIVE_ROWS-1 (the same key again in a third of them): puts
 * of whole rows, adds to and sets of qty, px set or nulled, deletes. A
 * field update of a row another writer deleted fails the commit with
 * -ENOENT (nothing applied), as documented; any other failure ends the
 * child with its own code. Stops once the parent says so and it has made
 * LIVE_MIN_COMMITS commits.
 */
static void live_writer(void *arg)
{
	const struct live_args *a = arg;
	shmdb *db = test_child_open(&d);
	shmdb_row *b;
	CHILD_REQUIRE(shmdb_row_new(db, a->t, &b) == 0, 100);
	uint64_t rng = 0x1234567ull * (uint64_t)(a->writer + 1), made = 0;
	uint64_t end = test_now_ms() + LIVE_DEADLINE_MS;
	while (!(flag(&sh->stop) && made >= LIVE_MIN_COMMITS)) {
		CHILD_REQUIRE(test_now_ms() < end, 101);
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 102);
		unsigned ops = 1 + (unsigned)(rnd(&rng) % 6);
		int64_t id = 0;
		for (unsigned i = 0; i < ops; i++) {
			uint64_t x = rnd(&rng);
			if (i == 0 || x % 3)
				id = (int64_t)(rnd(&rng) % LIVE_ROWS);
			uint8_t k[8];
			size_t kl = key_of(id, k);
			switch ((x >> 8) % 20) {
			case 0 ... 7:
				put_pos(w, b, a->t, id, (unsigned)((x >> 16) % NSYMS), random_qty(&rng),
					(x >> 24) % 4 == 0, (double)(x >> 40) / 16.0);
				break;
			case 8 ... 11:
				CHILD_REQUIRE(shmdb_add_i64(w, a->t, k, kl, C_QTY,
							    (int64_t)((x >> 16) % 7) - 3) == 0, 103);
				break;
			case 12 ... 13:
				CHILD_REQUIRE(shmdb_set_i64(w, a->t, k, kl, C_QTY, random_qty(&rng)) == 0,
					      104);
				break;
			case 14 ... 15:
				CHILD_REQUIRE(shmdb_set_null(w, a->t, k, kl, C_PX) == 0, 105);
				break;
			case 16:
				CHILD_REQUIRE(shmdb_set_f64(w, a->t, k, kl, C_PX, 1.5) == 0, 106);
				break;
			default:
				CHILD_REQUIRE(shmdb_del(w, a->t, k, kl) == 0, 107);
				break;
			}
		}
		int e = shmdb_commit(w, NULL);
		if (e == 0) {
			made++;
			bump(&sh->commits[a->writer]);
		} else {
			if (e != -ENOENT)
				fprintf(stderr, "live writer %d: commit: %s\n", a->writer,
					shmdb_strerror(e));
			CHILD_REQUIRE(e == -ENOENT, 108);
			bump(&sh->refused[a->writer]);
		}
	}
	shmdb_row_free(b);
	shmdb_close(db);
}

static void load_pos(shmdb *db, shmdb_table t, int64_t rows, uint64_t *rng)
{
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	for (int64_t i = 0; i < rows; i += 500) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int64_t id = i; id < i + 500 && id < rows; id++) {
			uint64_t x = rnd(rng);
			shmdb_row_reset(b);
			must(shmdb_row_set_i64(b, C_ID, id) == 0, "set id");
			must(shmdb_row_set_bytes(b, C_SYM, syms[x % NSYMS].s, syms[x % NSYMS].len) == 0,
			     "set sym");
			must(shmdb_row_set_i64(b, C_QTY, random_qty(rng)) == 0, "set qty");
			if ((x >> 32) % 3)
				must(shmdb_row_set_f64(b, C_PX, (double)(x >> 40)) == 0, "set px");
			must(shmdb_put_row(w, t, b) == 0, "put row %" PRId64, id);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	shmdb_row_free(b);
}

static void consistent_while_writers_commit(int kind)
{
	test_start_daemon(&d, "256M");
	shared_map();
	shmdb *db = test_open(&d);
	shmdb_table t;
	uint64_t rng = 42 + (uint64_t)kind;
	ck_assert_int_eq(shmdb_table_create_rows(db, "pos", pos_cols, 4, kind, &t), 0);
	load_pos(db, t, LIVE_ROWS, &rng);
	struct ispec ix[2] = {
		{ .name = "sym", .col = C_SYM, .type = SHMDB_STR },
		{ .name = "qty", .col = C_QTY, .type = SHMDB_I64 },
	};
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", 0, &ix[0].ix), 0);
	ck_assert_int_eq(shmdb_index_create(db, t, "qty", 0, &ix[1].ix), 0);
	check_snapshot(db, t, kind == SHMDB_ORDERED, ix, 2, &rng, 1, NULL);

	struct live_args args[LIVE_WRITERS];
	pid_t pid[LIVE_WRITERS];
	for (int i = 0; i < LIVE_WRITERS; i++) {
		args[i] = (struct live_args){ .t = t, .writer = i };
		pid[i] = test_spawn(live_writer, &args[i]);
	}
	/* Check snapshots until LIVE_MIN_SNAPS of them each saw commits the
	 * one before did not, and every writer has made its minimum. */
	uint64_t end = test_now_ms() + LIVE_DEADLINE_MS, checked = 0, moved = 0, prev_ts = 0;
	for (;;) {
		int writers_done = 1;
		for (int i = 0; i < LIVE_WRITERS; i++)
			writers_done &= load64(&sh->commits[i]) >= LIVE_MIN_COMMITS;
		if (moved >= LIVE_MIN_SNAPS && writers_done)
			break;
		for (int i = 0; i < LIVE_WRITERS; i++)
			ck_assert_msg(test_running(pid[i]) || load64(&sh->commits[i]) >= LIVE_MIN_COMMITS,
				      "writer %d ended early (status %d)", i, test_reap(pid[i], 1000));
		ck_assert_msg(test_now_ms() < end, "after %" PRIu64 " snapshots (%" PRIu64
			      " with new commits) the writers had not made their commits", checked,
			      moved);
		struct check_stats st;
		check_snapshot(db, t, kind == SHMDB_ORDERED, ix, 2, &rng, checked % 4 == 0, &st);
		checked++;
		moved += st.ts != prev_ts;
		prev_ts = st.ts;
	}
	raise_flag(&sh->stop);
	uint64_t made = 0, refused = 0;
	for (int i = 0; i < LIVE_WRITERS; i++) {
		ck_assert_int_eq(test_reap(pid[i], 60000), 0);
		made += load64(&sh->commits[i]);
		refused += load64(&sh->refused[i]);
	}
	/* Once more with everything committed. */
	struct check_stats st;
	check_snapshot(db, t, kind == SHMDB_ORDERED, ix, 2, &rng, 1, &st);
	fprintf(stderr, "%s table: %" PRIu64 " snapshots checked (%" PRIu64 " after new commits), "
		"%" PRIu64 " commits, %" PRIu64 " refused (-ENOENT), %" PRIu64 " rows at the end\n",
		kind == SHMDB_ORDERED ? "ordered" : "hash", checked, moved, made, refused, st.rows);
	ck_assert_uint_ge(moved, LIVE_MIN_SNAPS);
	test_assert_served(&d, "live");
	shmdb_close(db);
	shared_unmap();
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

START_TEST(consistent_in_every_snapshot)
{
	consistent_while_writers_commit(0);
}
END_TEST

START_TEST(consistent_in_every_snapshot_ordered)
{
	consistent_while_writers_commit(SHMDB_ORDERED);
}
END_TEST

/* ---- 2. a build over a million rows while writers commit ---------------------- */

/* (id, grp, n): grp a nullable I64, indexed; n an I64 no index follows. */
static const shmdb_column big_cols[] = {
	{ .name = "id", .type = SHMDB_I64 },
	{ .name = "grp", .type = SHMDB_I64, .flags = SHMDB_NULLABLE },
	{ .name = "n", .type = SHMDB_I64 },
};
enum { B_ID, B_GRP, B_N };

#if SANITIZED
enum { BIG_ROWS = 100000 };
#else
enum { BIG_ROWS = 1000000 };
#endif
/* New rows each writer may add, at most (their ids past BIG_ROWS). */
enum { BIG_NEW = 200000, BIG_WRITERS = 2 };
#define BIG_DEADLINE_MS 240000

/* The grp a row is loaded with, or -1 for null (one row in 97). */
static int64_t big_grp(int64_t id)
{
	return id % 97 == 0 ? -1 : (int64_t)(((uint64_t)id * 2654435761u) % 1000);
}

static void put_big(shmdb_wtxn *w, shmdb_row *b, shmdb_table t, int64_t id, int64_t grp)
{
	shmdb_row_reset(b);
	CHILD_REQUIRE(shmdb_row_set_i64(b, B_ID, id) == 0, 120);
	if (grp >= 0)
		CHILD_REQUIRE(shmdb_row_set_i64(b, B_GRP, grp) == 0, 121);
	CHILD_REQUIRE(shmdb_row_set_i64(b, B_N, id) == 0, 122);
	CHILD_REQUIRE(shmdb_put_row(w, t, b) == 0, 123);
}

enum { ROW_ABSENT = 0, ROW_VALUE, ROW_NULL };

struct big_args {
	shmdb_table t;
	int writer;
};

/*
 * A writer of test 2. Writer w owns the ids with id % BIG_WRITERS == w, so
 * that it knows each one's state (absent, a grp, a null grp) and every
 * transaction it makes is one that must apply: any failure ends the child.
 * Transactions of 1 to 4 ops: set, add to or null grp, add to n, put a new
 * row or a row over an old one, delete; the same row again in a third of
 * them. It counts its commits made after the parent said the build
 * started and returned before the parent said it was done.
 */
static void big_writer(void *arg)
{
	const struct big_args *a = arg;
	const int64_t w_id = a->writer, nw = BIG_WRITERS;
	shmdb *db = test_child_open(&d);
	shmdb_row *b;
	CHILD_REQUIRE(shmdb_row_new(db, a->t, &b) == 0, 100);
	size_t cap = BIG_ROWS + (size_t)BIG_NEW * BIG_WRITERS;
	uint8_t *state = calloc(cap, 1);
	CHILD_REQUIRE(state != NULL, 101);
	for (int64_t id = 0; id < BIG_ROWS; id++)
		state[id] = big_grp(id) < 0 ? ROW_NULL : ROW_VALUE;
	int64_t next_new = BIG_ROWS + w_id; /* the next new row's id */
	uint64_t rng = 0xabcdefull * (uint64_t)(a->writer + 7), made = 0;
	uint64_t end = test_now_ms() + BIG_DEADLINE_MS;
	while (!flag(&sh->stop)) {
		CHILD_REQUIRE(test_now_ms() < end, 102);
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 103);
		unsigned ops = 1 + (unsigned)(rnd(&rng) % 4);
		int64_t id = -1;
		for (unsigned i = 0; i < ops; i++) {
			uint64_t x = rnd(&rng);
			if (id < 0 || state[id] == ROW_ABSENT || x % 3) {
				/* One of this writer's rows (there are always some:
				 * each step deletes at most one and most add none) */
				int64_t span = next_new - w_id;
				do
					id = w_id + nw * (int64_t)(rnd(&rng) % (uint64_t)(span / nw + 1));
				while (id >= next_new || state[id] == ROW_ABSENT);
			}
			uint8_t k[8];
			size_t kl = key_of(id, k);
			int64_t g = (int64_t)((x >> 16) % 1000);
			switch ((x >> 8) % 20) {
			case 0 ... 7:
				CHILD_REQUIRE(shmdb_set_i64(w, a->t, k, kl, B_GRP, g) == 0, 104);
				state[id] = ROW_VALUE;
				break;
			case 8 ... 10:
				if (state[id] == ROW_VALUE)
					CHILD_REQUIRE(shmdb_add_i64(w, a->t, k, kl, B_GRP,
								    (int64_t)(x >> 40) % 11 - 5) == 0,
						      105);
				else
					CHILD_REQUIRE(shmdb_set_i64(w, a->t, k, kl, B_GRP, g) == 0, 106);
				state[id] = ROW_VALUE;
				break;
			case 11:
				CHILD_REQUIRE(shmdb_set_null(w, a->t, k, kl, B_GRP) == 0, 107);
				state[id] = ROW_NULL;
				break;
			case 12 ... 13:
				CHILD_REQUIRE(shmdb_add_i64(w, a->t, k, kl, B_N, 1) == 0, 108);
				break;
			case 14 ... 15:
				if (next_new + nw <= (int64_t)cap) {
					id = next_new;
					next_new += nw;
				}
				/* then a new row, or an old one put over */
				__attribute__((fallthrough));
			case 16 ... 17:
				put_big(w, b, a->t, id, x % 13 == 0 ? -1 : g);
				state[id] = x % 13 == 0 ? ROW_NULL : ROW_VALUE;
				break;
			default:
				CHILD_REQUIRE(shmdb_del(w, a->t, k, kl) == 0, 109);
				state[id] = ROW_ABSENT;
				break;
			}
		}
		int started = flag(&sh->build_started);
		int e = shmdb_commit(w, NULL);
		if (e)
			fprintf(stderr, "big writer %d: commit: %s\n", a->writer, shmdb_strerror(e));
		CHILD_REQUIRE(e == 0, 110);
		made++;
		if (started && !flag(&sh->build_done))
			bump(&sh->during[a->writer]);
		bump(&sh->commits[a->writer]);
	}
	free(state);
	shmdb_row_free(b);
	shmdb_close(db);
}

/* Wait until each of the n writers has made `want` commits in all. */
static void wait_commits(const pid_t *pid, int n, uint64_t want, int timeout_ms)
{
	uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
	for (int i = 0; i < n; i++)
		while (load64(&sh->commits[i]) < want) {
			ck_assert_msg(test_running(pid[i]), "writer %d ended (status %d)", i,
				      test_reap(pid[i], 1000));
			ck_assert_msg(test_now_ms() < end, "writer %d made %" PRIu64 " commits of %" PRIu64,
				      i, load64(&sh->commits[i]), want);
			test_sleep_us(1000);
		}
}

START_TEST(build_over_a_million_rows_while_writers_commit)
{
	test_start_daemon(&d, SANITIZED ? "512M" : "1G");
	shared_map();
	shmdb *db = test_open(&d);
	shmdb_table t;
	uint64_t rng = 7;
	ck_assert_int_eq(shmdb_table_create_rows(db, "big", big_cols, 3, 0, &t), 0);
	ck_assert_int_eq(shmdb_table_reserve(db, t, BIG_ROWS + (uint64_t)BIG_NEW * BIG_WRITERS), 0);
	uint64_t t0 = test_now_ms();
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	for (int64_t i = 0; i < BIG_ROWS; i += 1000) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int64_t id = i; id < i + 1000; id++)
			put_big(w, b, t, id, big_grp(id));
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	shmdb_row_free(b);
	uint64_t t_load = test_now_ms() - t0;

	struct big_args args[BIG_WRITERS];
	pid_t pid[BIG_WRITERS];
	for (int i = 0; i < BIG_WRITERS; i++) {
		args[i] = (struct big_args){ .t = t, .writer = i };
		pid[i] = test_spawn(big_writer, &args[i]);
	}
	wait_commits(pid, BIG_WRITERS, 10, 60000);

	/* The build, while they commit. */
	struct ispec ix = { .name = "grp", .col = B_GRP, .type = SHMDB_I64 };
	raise_flag(&sh->build_started);
	uint64_t t1 = test_now_ms();
	ck_assert_int_eq(shmdb_index_create(db, t, "grp", 0, &ix.ix), 0);
	raise_flag(&sh->build_done);
	uint64_t t_build = test_now_ms() - t1;
	uint64_t during[BIG_WRITERS];
	for (int i = 0; i < BIG_WRITERS; i++)
		during[i] = load64(&sh->during[i]);

	/* Complete in a snapshot taken while they still commit, ... */
	uint64_t before = load64(&sh->commits[0]) + load64(&sh->commits[1]);
	check_snapshot(db, t, 0, &ix, 1, &rng, 0, NULL);
	wait_commits(pid, BIG_WRITERS, load64(&sh->commits[0]) > load64(&sh->commits[1])
					       ? load64(&sh->commits[0]) + 10
					       : load64(&sh->commits[1]) + 10,
		     60000);
	/* ... and once they have stopped. */
	raise_flag(&sh->stop);
	uint64_t made = 0;
	for (int i = 0; i < BIG_WRITERS; i++) {
		ck_assert_int_eq(test_reap(pid[i], 60000), 0);
		made += load64(&sh->commits[i]);
	}
	struct check_stats st;
	check_snapshot(db, t, 0, &ix, 1, &rng, 1, &st);
	fprintf(stderr, "build: %d rows loaded in %" PRIu64 " ms; index built in %" PRIu64
		" ms while the writers made %" PRIu64 " + %" PRIu64 " commits; %" PRIu64
		" commits in all (%" PRIu64 " after the build); %" PRIu64 " rows, %" PRIu64
		" indexed at the end\n", BIG_ROWS, t_load, t_build, during[0], during[1], made,
		made - before, st.rows, st.indexed[0]);
	for (int i = 0; i < BIG_WRITERS; i++)
		ck_assert_msg(during[i] >= 1, "writer %d made no commit during the build", i);
	ck_assert_uint_gt(st.rows - st.indexed[0], 0); /* there are nulls */
	/* Opened again: the same index. */
	shmdb_table again;
	ck_assert_int_eq(shmdb_index_open(db, t, "grp", &again), 0);
	ck_assert_uint_eq(again, ix.ix);
	test_assert_served(&d, "big");
	shmdb_close(db);
	shared_unmap();
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 3. unique indexes ------------------------------------------------------------ */

static void put_uq(shmdb_wtxn *w, shmdb_row *b, shmdb_table t, int64_t id, const char *sym,
		   int64_t qty)
{
	shmdb_row_reset(b);
	ck_assert_int_eq(shmdb_row_set_i64(b, C_ID, id), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, C_SYM, sym, strlen(sym)), 0);
	ck_assert_int_eq(shmdb_row_set_i64(b, C_QTY, qty), 0);
	ck_assert_int_eq(shmdb_put_row(w, t, b), 0);
}

static int del_uq(shmdb *db, shmdb_table t, int64_t id)
{
	shmdb_wtxn *w;
	uint8_t k[8];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del(w, t, k, key_of(id, k)), 0);
	return shmdb_commit(w, NULL);
}

/* Row id's sym and qty in a new snapshot: 0, or -ENOENT. */
static int read_uq(shmdb *db, shmdb_table t, int64_t id, char *sym, size_t cap, int64_t *qty)
{
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_val row, v;
	uint8_t k[8];
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	int e = shmdb_get(r, t, k, key_of(id, k), &row);
	if (!e) {
		ck_assert_int_eq(shmdb_row_bytes(s, row, C_SYM, &v), 0);
		ck_assert_uint_lt(v.len, cap);
		memcpy(sym, v.data, v.len);
		sym[v.len] = 0;
		ck_assert_int_eq(shmdb_row_i64(s, row, C_QTY, qty), 0);
	}
	shmdb_read_end(r);
	return e;
}

/* The id of the row index ix gives for value[0..vlen) in a new snapshot,
 * or -1 if none (-ENOENT). */
static int64_t by_value(shmdb *db, shmdb_table t, shmdb_table ix, const void *value,
			size_t vlen)
{
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_val row;
	int64_t id = -1;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	int e = shmdb_get(r, ix, value, vlen, &row);
	ck_assert_msg(e == 0 || e == -ENOENT, "get by value: %d", e);
	if (!e)
		ck_assert_int_eq(shmdb_row_i64(s, row, C_ID, &id), 0);
	shmdb_read_end(r);
	return id;
}

static int64_t by_sym(shmdb *db, shmdb_table t, shmdb_table ix, const char *sym)
{
	return by_value(db, t, ix, sym, strlen(sym));
}

static int64_t by_qty(shmdb *db, shmdb_table t, shmdb_table ix, int64_t qty)
{
	uint8_t k[8];
	return by_value(db, t, ix, k, shmdb_key_i64(qty, k));
}

static size_t indexes_of(shmdb *db, shmdb_table t)
{
	shmdb_rtxn *r;
	size_t n;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_indexes(r, t, NULL, 0, &n), 0);
	shmdb_read_end(r);
	return n;
}

START_TEST(unique_build_refuses_duplicates)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t, plain, again;
	shmdb_row *b;
	shmdb_wtxn *w;
	uint64_t rng = 3;
	char sym[64], name[16];
	int64_t qty;
	ck_assert_int_eq(shmdb_table_create_rows(db, "uq", pos_cols, 4, 0, &t), 0);
	plain = test_table(db, "plain");
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	/* Rows 1..8: sym "s<id>", qty 10*id; row 7's sym is row 3's. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int64_t id = 1; id <= 8; id++) {
		snprintf(name, sizeof(name), "s%d", (int)(id == 7 ? 3 : id));
		put_uq(w, b, t, id, name, 10 * id);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	/* Refused, and nothing left of it. */
	struct ispec ix[2] = {
		{ .name = "sym", .col = C_SYM, .type = SHMDB_STR, .unique = 1 },
		{ .name = "qty", .col = C_QTY, .type = SHMDB_I64, .unique = 1 },
	};
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", SHMDB_UNIQUE, &ix[0].ix), SHMDB_EUNIQUE);
	ck_assert_int_eq(shmdb_index_open(db, t, "sym", &again), -ENOENT);
	ck_assert_uint_eq(indexes_of(db, t), 0);
	/* Not even in the way of an index that is not unique. */
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", 0, &again), 0);
	ck_assert_uint_eq(indexes_of(db, t), 1);
	ck_assert_int_eq(shmdb_index_drop(db, t, "sym"), 0);
	ck_assert_uint_eq(indexes_of(db, t), 0);

	/* One of the two gone: built. The other column was unique all along. */
	ck_assert_int_eq(del_uq(db, t, 7), 0);
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", SHMDB_UNIQUE, &ix[0].ix), 0);
	ck_assert_int_eq(shmdb_index_create(db, t, "qty", SHMDB_UNIQUE, &ix[1].ix), 0);
	ck_assert_int_eq(shmdb_index_open(db, t, "sym", &again), 0);
	ck_assert_uint_eq(again, ix[0].ix);
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", 0, &again), -EEXIST);
	check_snapshot(db, t, 0, ix, 2, &rng, 1, NULL);

	/* A transaction that gives row 1 row 2's sym, with a harmless put
	 * to row 5 and to another table: refused whole. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	put_uq(w, b, t, 5, "new5", 55);
	put_uq(w, b, t, 1, "s2", 10);
	ck_assert_int_eq(shmdb_put(w, plain, "k1", 2, "v", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_EUNIQUE);
	ck_assert_int_eq(read_uq(db, t, 5, sym, sizeof(sym), &qty), 0);
	ck_assert_str_eq(sym, "s5");
	ck_assert(qty == 50);
	ck_assert_int_eq(read_uq(db, t, 1, sym, sizeof(sym), &qty), 0);
	ck_assert_str_eq(sym, "s1");
	ck_assert(!test_visible(db, plain, "k1"));
	ck_assert(by_sym(db, t, ix[0].ix, "new5") == -1);
	ck_assert(by_sym(db, t, ix[0].ix, "s1") == 1);
	ck_assert(by_sym(db, t, ix[0].ix, "s2") == 2);
	ck_assert(by_qty(db, t, ix[1].ix, 55) == -1);

	/* Two rows taking one new value: refused. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	put_uq(w, b, t, 4, "fresh", 40);
	put_uq(w, b, t, 6, "fresh", 60);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_EUNIQUE);
	ck_assert(by_sym(db, t, ix[0].ix, "fresh") == -1);
	/* A new row with a value a row holds: refused. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	put_uq(w, b, t, 100, "s3", 1000);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_EUNIQUE);
	ck_assert_int_eq(read_uq(db, t, 100, sym, sizeof(sym), &qty), -ENOENT);
	/* Field updates too: a set, an add landing on row 1's qty. */
	uint8_t k[8];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, plain, "k2", 2, "v", 1), 0);
	ck_assert_int_eq(shmdb_set_i64(w, t, k, key_of(2, k), C_QTY, 10), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_EUNIQUE);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_add_i64(w, t, k, key_of(2, k), C_QTY, -10), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_EUNIQUE);
	ck_assert(!test_visible(db, plain, "k2"));
	ck_assert(by_qty(db, t, ix[1].ix, 20) == 2);
	ck_assert(by_qty(db, t, ix[1].ix, 10) == 1);
	check_snapshot(db, t, 0, ix, 2, &rng, 1, NULL);

	/* Swaps: puts of both rows with exchanged values, and field sets. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	put_uq(w, b, t, 1, "s2", 10);
	put_uq(w, b, t, 2, "s1", 20);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert(by_sym(db, t, ix[0].ix, "s1") == 2);
	ck_assert(by_sym(db, t, ix[0].ix, "s2") == 1);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_set_i64(w, t, k, key_of(1, k), C_QTY, 20), 0);
	ck_assert_int_eq(shmdb_set_i64(w, t, k, key_of(2, k), C_QTY, 10), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert(by_qty(db, t, ix[1].ix, 10) == 2);
	ck_assert(by_qty(db, t, ix[1].ix, 20) == 1);
	/* A rotation of three; a value given up by a row deleted in the
	 * same transaction; a row put twice with its own value. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	put_uq(w, b, t, 3, "s4", 30);
	put_uq(w, b, t, 4, "s5", 40);
	put_uq(w, b, t, 5, "s3", 50);
	ck_assert_int_eq(shmdb_del(w, t, k, key_of(8, k)), 0);
	put_uq(w, b, t, 6, "s8", 80);
	put_uq(w, b, t, 4, "s5", 40);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert(by_sym(db, t, ix[0].ix, "s3") == 5);
	ck_assert(by_sym(db, t, ix[0].ix, "s4") == 3);
	ck_assert(by_sym(db, t, ix[0].ix, "s5") == 4);
	ck_assert(by_sym(db, t, ix[0].ix, "s8") == 6);
	ck_assert(by_sym(db, t, ix[0].ix, "s6") == -1);
	ck_assert(by_qty(db, t, ix[1].ix, 80) == 6);
	ck_assert(by_qty(db, t, ix[1].ix, 60) == -1);
	/* A row deleted and put again with its value, in one transaction. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del(w, t, k, key_of(3, k)), 0);
	put_uq(w, b, t, 3, "s4", 30);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	/* Every row by each of its values. */
	const struct {
		int64_t id;
		const char *sym;
		int64_t qty;
	} now[] = { { 1, "s2", 20 }, { 2, "s1", 10 }, { 3, "s4", 30 },
		    { 4, "s5", 40 }, { 5, "s3", 50 }, { 6, "s8", 80 } };
	for (size_t i = 0; i < sizeof(now) / sizeof(now[0]); i++) {
		ck_assert_int_eq(read_uq(db, t, now[i].id, sym, sizeof(sym), &qty), 0);
		ck_assert_str_eq(sym, now[i].sym);
		ck_assert(qty == now[i].qty);
		ck_assert(by_sym(db, t, ix[0].ix, now[i].sym) == now[i].id);
		ck_assert(by_qty(db, t, ix[1].ix, now[i].qty) == now[i].id);
	}
	check_snapshot(db, t, 0, ix, 2, &rng, 1, NULL);

	/* A bigger table (the build takes several steps), one pair sharing a
	 * sym and one sharing a qty, far apart: each unique build refused
	 * until its pair is broken up. */
	shmdb_table t2;
	enum { N2 = 5000 };
	ck_assert_int_eq(shmdb_table_create_rows(db, "uq2", pos_cols, 4, SHMDB_ORDERED, &t2), 0);
	shmdb_row_free(b);
	ck_assert_int_eq(shmdb_row_new(db, t2, &b), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int64_t id = 0; id < N2; id++) {
		snprintf(name, sizeof(name), "v%05d", (int)(id == N2 - 1 ? 0 : id));
		put_uq(w, b, t2, id, name, id == N2 / 2 ? 17 : id);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	struct ispec ix2[2] = {
		{ .name = "sym", .col = C_SYM, .type = SHMDB_STR, .unique = 1 },
		{ .name = "qty", .col = C_QTY, .type = SHMDB_I64, .unique = 1 },
	};
	ck_assert_int_eq(shmdb_index_create(db, t2, "sym", SHMDB_UNIQUE, &ix2[0].ix), SHMDB_EUNIQUE);
	ck_assert_int_eq(shmdb_index_create(db, t2, "qty", SHMDB_UNIQUE, &ix2[1].ix), SHMDB_EUNIQUE);
	ck_assert_int_eq(shmdb_index_open(db, t2, "sym", &again), -ENOENT);
	ck_assert_int_eq(shmdb_index_open(db, t2, "qty", &again), -ENOENT);
	ck_assert_uint_eq(indexes_of(db, t2), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	put_uq(w, b, t2, N2 - 1, "w", N2 - 1);
	put_uq(w, b, t2, N2 / 2, "v02500", N2 / 2);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(shmdb_index_create(db, t2, "sym", SHMDB_UNIQUE, &ix2[0].ix), 0);
	ck_assert_int_eq(shmdb_index_create(db, t2, "qty", SHMDB_UNIQUE, &ix2[1].ix), 0);
	check_snapshot(db, t2, 1, ix2, 2, &rng, 1, NULL);
	ck_assert(by_sym(db, t2, ix2[0].ix, "v00000") == 0);
	ck_assert(by_sym(db, t2, ix2[0].ix, "w") == N2 - 1);
	ck_assert(by_qty(db, t2, ix2[1].ix, 17) == 17);
	ck_assert(by_qty(db, t2, ix2[1].ix, N2 / 2) == N2 / 2);

	shmdb_row_free(b);
	test_assert_served(&d, "unique");
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 4. an index is opened only once complete ----------------------------------- */

#if SANITIZED
enum { OPEN_ROWS = 50000 };
#else
enum { OPEN_ROWS = 300000 };
#endif

struct create_args {
	shmdb_table t;
};

static void creator(void *arg)
{
	const struct create_args *a = arg;
	shmdb *db = test_child_open(&d);
	shmdb_table ix;
	CHILD_REQUIRE(shmdb_index_create(db, a->t, "grp", 0, &ix) == 0, 100);
	shmdb_close(db);
}

/*
 * While another process builds an index: shmdb_indexes lists it not
 * ready; a snapshot that finds it not ready reads it as -EAGAIN (cursor,
 * get, get_many, count); shmdb_index_open, which gives only a complete index, gives
 * none, or one that a snapshot begun after it returned reads. Midway, a
 * transaction clears the table and puts other rows (the build starts
 * again on the table's new hash index): once complete, the index is
 * exactly the new rows. An ordered table this time.
 */
START_TEST(open_finds_only_a_complete_index)
{
	test_start_daemon(&d, "1G");
	shmdb *db = test_open(&d);
	shmdb_table t;
	shmdb_row *b;
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_table_create_rows(db, "big", big_cols, 3, SHMDB_ORDERED, &t), 0);
	ck_assert_int_eq(shmdb_table_reserve(db, t, OPEN_ROWS), 0);
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	for (int64_t i = 0; i < OPEN_ROWS; i += 1000) {
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int64_t id = i; id < i + 1000; id++)
			put_big(w, b, t, id, big_grp(id));
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	struct create_args a = { .t = t };
	pid_t pid = test_spawn(creator, &a);
	uint64_t end = test_now_ms() + 120000, seen_building = 0, opened_early = 0, count_early = 0;
	uint64_t polls = 0, count_max = 0;
	int complete = 0, cleared = 0;
	while (!complete) {
		ck_assert_msg(test_now_ms() < end, "the build did not complete in 120 s");
		shmdb_rtxn *r;
		shmdb_index_info info;
		size_t n;
		polls++;
		ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
		ck_assert_int_eq(shmdb_indexes(r, t, &info, 1, &n), 0);
		if (n == 1 && !info.ready) {
			/* Being built in this snapshot: read as -EAGAIN. */
			shmdb_cursor *c;
			shmdb_val row;
			uint64_t count;
			uint8_t k[8];
			seen_building++;
			ck_assert_int_eq(shmdb_cursor_open(r, info.id, &c), -EAGAIN);
			ck_assert_int_eq(shmdb_get(r, info.id, k, shmdb_key_i64(5, k), &row), -EAGAIN);
			shmdb_val key = { k, shmdb_key_i64(5, k) }, got = { k, 99 };
			ck_assert_int_eq(shmdb_get_many(r, info.id, &key, 1, &got), -EAGAIN);
			ck_assert_msg(got.data == k && got.len == 99, "-EAGAIN wrote an answer");
			int e = shmdb_count(r, info.id, &count);
			if (e != -EAGAIN && count_early++ == 0)
				fprintf(stderr, "open: shmdb_count of an index being built in the "
					"snapshot gives %d (count %" PRIu64 "), not -EAGAIN\n", e, count);
			if (e == 0 && count > count_max)
				count_max = count;
			/* Not complete in this snapshot: never later in it
			 * either (ready_ts is stored before its commit shows). */
			test_sleep_us(200);
			shmdb_index_info again;
			size_t m;
			ck_assert_int_eq(shmdb_indexes(r, t, &again, 1, &m), 0);
			ck_assert_msg(m == 1 && !again.ready,
				      "the index became complete within snapshot %" PRIu64,
				      shmdb_read_ts(r));
		}
		complete = n == 1 && info.ready;
		shmdb_read_end(r);
		/* Opened: complete for a snapshot begun now. */
		shmdb_table ix;
		if (shmdb_index_open(db, t, "grp", &ix) == 0) {
			shmdb_cursor *c;
			ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
			int e = shmdb_cursor_open(r, ix, &c);
			if (e == 0)
				shmdb_cursor_close(c);
			else if (opened_early++ == 0)
				fprintf(stderr, "open: shmdb_index_open gave index %u, which a snapshot "
					"begun after it reads as %d\n", ix, e);
			shmdb_read_end(r);
		}
		if (seen_building == 20 && !cleared) {
			ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
			ck_assert_int_eq(shmdb_clear(w, t), 0);
			for (int64_t id = 0; id < 5000; id++)
				put_big(w, b, t, id * 7 + 3, big_grp(id));
			ck_assert_int_eq(shmdb_commit(w, NULL), 0);
			cleared = 1;
		}
		test_sleep_us(200);
	}
	shmdb_row_free(b);
	ck_assert_int_eq(test_reap(pid, 60000), 0);
	fprintf(stderr, "open: %" PRIu64 " polls, %" PRIu64 " found the build under way, %" PRIu64
		" opened it early, %" PRIu64 " counted it early (at most %" PRIu64 " entries)%s\n",
		polls, seen_building, opened_early, count_early, count_max,
		cleared ? "; cleared midway" : "");
	uint64_t rng = 11;
	struct ispec ix = { .name = "grp", .col = B_GRP, .type = SHMDB_I64 };
	struct check_stats st;
	ck_assert_int_eq(shmdb_index_open(db, t, "grp", &ix.ix), 0);
	check_snapshot(db, t, 1, &ix, 1, &rng, 1, &st);
	if (cleared)
		ck_assert_uint_eq(st.rows, 5000);
	ck_assert_msg(opened_early == 0 && count_early == 0,
		      "of %" PRIu64 " looks at the build under way, shmdb_index_open gave the index "
		      "not yet complete %" PRIu64 " times; shmdb_count read it in a snapshot older "
		      "than its completion %" PRIu64 " times (want -EAGAIN)", seen_building,
		      opened_early, count_early);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 5. a unique build while writers move values between rows ------------------- */

#if SANITIZED
enum { MOVE_ROWS = 50000 };
#else
enum { MOVE_ROWS = 200000 };
#endif

struct move_args {
	shmdb_table t;
	int writer;
};

/*
 * Writer w of test 5 owns the rows id % 2 == w, whose grp it knows: grp is
 * unique over the table (grp == id at the load). Each step submits three
 * transactions at once (shmdb_commit_async, so that the writer thread
 * takes them in one pass, no build step between them): row A takes the
 * grp of another row B of its own (refused with SHMDB_EUNIQUE if the
 * index holds B's value already); B is deleted; B is put back with a
 * fresh grp. Between the first and the second commit A and B share a
 * value; after the second they do not. Stops when told, or after the
 * build.
 */
static void move_writer(void *arg)
{
	const struct move_args *a = arg;
	shmdb *db = test_child_open(&d);
	shmdb_row *b;
	CHILD_REQUIRE(shmdb_row_new(db, a->t, &b) == 0, 100);
	int64_t *grp = malloc(MOVE_ROWS * sizeof(int64_t));
	CHILD_REQUIRE(grp != NULL, 101);
	for (int64_t id = 0; id < MOVE_ROWS; id++)
		grp[id] = id;
	int64_t fresh = MOVE_ROWS + a->writer; /* the next unused grp of this writer */
	uint64_t rng = 99 + (uint64_t)a->writer;
	uint64_t end = test_now_ms() + BIG_DEADLINE_MS;
	while (!flag(&sh->stop)) {
		CHILD_REQUIRE(test_now_ms() < end, 102);
		int64_t ida = a->writer + 2 * (int64_t)(rnd(&rng) % (MOVE_ROWS / 2));
		int64_t idb = a->writer + 2 * (int64_t)(rnd(&rng) % (MOVE_ROWS / 2));
		if (ida == idb)
			continue;
		uint8_t k[8];
		uint64_t ticket[3];
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 103);
		CHILD_REQUIRE(shmdb_set_i64(w, a->t, k, key_of(ida, k), B_GRP, grp[idb]) == 0, 104);
		CHILD_REQUIRE(shmdb_commit_async(w, &ticket[0]) == 0, 105);
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 106);
		CHILD_REQUIRE(shmdb_del(w, a->t, k, key_of(idb, k)) == 0, 107);
		CHILD_REQUIRE(shmdb_commit_async(w, &ticket[1]) == 0, 108);
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 109);
		put_big(w, b, a->t, idb, fresh);
		CHILD_REQUIRE(shmdb_commit_async(w, &ticket[2]) == 0, 110);
		int e = shmdb_wait(db, ticket[0], NULL);
		CHILD_REQUIRE(e == 0 || e == SHMDB_EUNIQUE, 111);
		CHILD_REQUIRE(shmdb_wait(db, ticket[1], NULL) == 0, 112);
		CHILD_REQUIRE(shmdb_wait(db, ticket[2], NULL) == 0, 113);
		if (e == 0) {
			grp[ida] = grp[idb];
			bump(&sh->commits[a->writer]);
		} else {
			bump(&sh->refused[a->writer]);
		}
		grp[idb] = fresh;
		fresh += 2;
		if (flag(&sh->build_done))
			break;
	}
	free(grp);
	shmdb_row_free(b);
	shmdb_close(db);
}

START_TEST(unique_build_while_values_move)
{
	test_start_daemon(&d, "1G");
	shared_map();
	shmdb *db = test_open(&d);
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_create_rows(db, "mv", big_cols, 3, 0, &t), 0);
	ck_assert_int_eq(shmdb_table_reserve(db, t, MOVE_ROWS), 0);
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	for (int64_t i = 0; i < MOVE_ROWS; i += 1000) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int64_t id = i; id < i + 1000; id++)
			put_big(w, b, t, id, id);
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	shmdb_row_free(b);
	struct move_args args[2];
	pid_t pid[2];
	for (int i = 0; i < 2; i++) {
		args[i] = (struct move_args){ .t = t, .writer = i };
		pid[i] = test_spawn(move_writer, &args[i]);
	}
	wait_commits(pid, 2, 5, 60000);
	struct ispec ix = { .name = "grp", .col = B_GRP, .type = SHMDB_I64, .unique = 1 };
	/* A build may fail (two rows shared a value when it looked) or
	 * succeed; if it succeeds, the index must be the table's. */
	int e = shmdb_index_create(db, t, "grp", SHMDB_UNIQUE, &ix.ix);
	raise_flag(&sh->build_done);
	raise_flag(&sh->stop);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(test_reap(pid[i], 60000), 0);
	fprintf(stderr, "move: unique build: %s; %" PRIu64 " + %" PRIu64 " moves, %" PRIu64
		" + %" PRIu64 " refused\n", shmdb_strerror(e), load64(&sh->commits[0]),
		load64(&sh->commits[1]), load64(&sh->refused[0]), load64(&sh->refused[1]));
	ck_assert_msg(e == 0 || e == SHMDB_EUNIQUE, "unique build: %s", shmdb_strerror(e));
	uint64_t rng = 5;
	if (e == 0) {
		check_snapshot(db, t, 0, &ix, 1, &rng, 0, NULL);
	} else {
		shmdb_table again;
		ck_assert_int_eq(shmdb_index_open(db, t, "grp", &again), -ENOENT);
		ck_assert_uint_eq(indexes_of(db, t), 0);
		/* With the writers stopped, every value is unique again. */
		ck_assert_int_eq(shmdb_index_create(db, t, "grp", SHMDB_UNIQUE, &ix.ix), 0);
		check_snapshot(db, t, 0, &ix, 1, &rng, 0, NULL);
	}
	shmdb_close(db);
	shared_unmap();
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("index_live");
	TCase *tc = tcase_create("index_live");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, consistent_in_every_snapshot);
	tcase_add_test(tc, consistent_in_every_snapshot_ordered);
	tcase_add_test(tc, build_over_a_million_rows_while_writers_commit);
	tcase_add_test(tc, unique_build_refuses_duplicates);
	tcase_add_test(tc, open_finds_only_a_complete_index);
	tcase_add_test(tc, unique_build_while_values_move);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
