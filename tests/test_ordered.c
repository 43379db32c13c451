/*
 * test_ordered.c - ordered tables and multimaps (issue 13), against a real
 * shmdbd:
 *
 *   - a model: 100,000 random puts, deletes and clears, in transactions of
 *     1..200 operations, over 1,000 keys of 1..20 bytes that are often
 *     prefixes of each other and hold bytes 0x00 and 0xff, checked against
 *     a sorted model after every commit (count, random seeks walked with
 *     next and prev, gets) and, through snapshots held on four more handles
 *     and checked many commits later against a copy of the model of their
 *     moment (full forward walk, full backward walk from seek_end, random
 *     seeks, count);
 *   - the boundaries of a cursor: an empty table, seeks before the first,
 *     past the last, onto a key, between keys and among keys that are
 *     prefixes of each other, prev from the end, next and prev mixed; the
 *     kinds of tables and what each refuses;
 *   - multimaps: pairs in (key, value) order, a key with 100,000 values
 *     walked and sought into, duplicate pairs, del_value, del of a key with
 *     many values beside its neighbours, get as the first value, values of
 *     0, 1,024 and 1,025 bytes;
 *   - writer processes moving amounts between the keys of one range (each
 *     commit deletes keys and inserts others, the sum stays the same) while
 *     reader processes walk the range both ways and seek into it: order,
 *     no duplicates, the sum and shmdb_count in every snapshot;
 *   - an ordered table churned for 200,000 operations stays within a
 *     stated number of bytes per key;
 *   - malformed transactions about kinds (DEL_VALUE where it does not
 *     apply, a multimap value too long, CREATE_TABLE with a bad kind) fail
 *     and change nothing (TCase "hostile");
 *   - the shmdb tool: create with a kind, the kind column of tables, scan
 *     with --from, --to, --prefix, --reverse and --limit (TCase "tool";
 *     the output it expects is said there).
 *
 * Rules: every child opens its own handle after fork() and reports through
 * its exit status (CHILD_REQUIRE names the failed condition on stderr); no
 * check depends on timing; every wait is bounded (harness.h). Loops that
 * check many records use FAIL_UNLESS, not ck_assert: in fork mode each
 * passing ck_assert is reported to the parent through a pipe.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

#include "catalog.h"
#include "client_internal.h"
#include "harness.h"
#include "shmdb.h"
#include "tree_read.h"
#include "txn.h"

static struct test_daemon d;

/* ck_assert without the cost of a passing check. */
#define FAIL_UNLESS(cond, ...)                    \
	do {                                      \
		if (!(cond))                      \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* ---- shared helpers ------------------------------------------------------------ */

static uint64_t rng_state;

/* splitmix64: a fixed seed per case, so that a failure repeats. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The store's order: memcmp over the common length, then the shorter. */
static int key_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return (al > bl) - (al < bl);
}

/* Bytes for a message: printable ASCII as is, anything else as \xHH (four
 * rotating buffers, so that one message can show several). */
static const char *hexs(const void *p, size_t n)
{
	static char ring[4][160];
	static unsigned at;
	char *s = ring[at++ % 4];
	const uint8_t *b = p;
	size_t o = 0, i;
	for (i = 0; i < n && o + 8 < sizeof(ring[0]); i++) {
		if (b[i] > 0x20 && b[i] < 0x7f && b[i] != '\\')
			s[o++] = (char)b[i];
		else
			o += (size_t)snprintf(s + o, sizeof(ring[0]) - o, "\\x%02x", b[i]);
	}
	if (i < n)
		o += (size_t)snprintf(s + o, sizeof(ring[0]) - o, "...");
	s[o] = 0;
	return s;
}

static const char *show_rc(int rc)
{
	return rc == 0 ? "0" : shmdb_strerror(rc);
}

static void be64(uint8_t b[8], uint64_t x)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(x >> (56 - 8 * i));
}

static int val_is(const shmdb_val *v, const void *want, size_t wl)
{
	return v->len == wl && (wl == 0 || (v->data && memcmp(v->data, want, wl) == 0));
}

/* Arena bytes in use once nothing waits to be reclaimed and the figure
 * holds still (as test_exact.c). */
static uint64_t settled_mem_used(shmdb *db)
{
	shmdb_stats last, now;
	ck_assert_int_eq(shmdb_stats_get(db, &last), 0);
	now = last;
	for (int i = 0; i < 500; i++) {
		test_sleep_us(20000);
		if (shmdb_stats_get(db, &now))
			ck_abort_msg("shmdb_stats_get failed");
		if (now.mem_retired == 0 && now.mem_used == last.mem_used)
			return now.mem_used;
		last = now;
	}
	ck_abort_msg("arena use never settled in 10 s: %" PRIu64 " used, %" PRIu64 " retired",
		     now.mem_used, now.mem_retired);
	return 0;
}

/* The entry of table `name` in a new snapshot of db (asserting it is there). */
static shmdb_table_info table_info(shmdb *db, const char *name)
{
	static shmdb_table_info info[64];
	shmdb_rtxn *r;
	size_t n = 0;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_tables(r, info, 64, &n), 0);
	shmdb_read_end(r);
	for (size_t i = 0; i < n && i < 64; i++)
		if (!strcmp(info[i].name, name))
			return info[i];
	ck_abort_msg("no table '%s' in shmdb_tables", name);
	return info[0];
}

/* The count of table t in a new snapshot of db. */
static uint64_t count_now(shmdb *db, shmdb_table t)
{
	shmdb_rtxn *r;
	uint64_t n = UINT64_MAX;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	shmdb_read_end(r);
	return n;
}

/* One step of a cursor ('n' next, 'p' prev) must return the record (key,
 * val), or -ENOENT when key is NULL. */
static void step_is_(shmdb_cursor *c, char op, const void *key, size_t klen, const void *val,
		     size_t vlen, int line)
{
	shmdb_val k = { 0 }, v = { 0 };
	int rc = op == 'n' ? shmdb_cursor_next(c, &k, &v) : shmdb_cursor_prev(c, &k, &v);
	if (!key) {
		FAIL_UNLESS(rc == -ENOENT, "line %d: %s: got %s (key %s), want -ENOENT", line,
			    op == 'n' ? "next" : "prev", show_rc(rc), rc ? "" : hexs(k.data, k.len));
		return;
	}
	FAIL_UNLESS(rc == 0 && val_is(&k, key, klen) && (!val || val_is(&v, val, vlen)),
		    "line %d: %s: got %s (%s = %s), want %s = %s", line, op == 'n' ? "next" : "prev",
		    show_rc(rc), rc ? "" : hexs(k.data, k.len), rc ? "" : hexs(v.data, v.len),
		    hexs(key, klen), val ? hexs(val, vlen) : "(any)");
}

/* For NUL-free keys and values: STEP(c, 'n', "ab", "v:ab"), STEP(c, 'p',
 * NULL, NULL) for -ENOENT. */
static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}
#define STEP(c, op, key, val) step_is_((c), (op), (key), slen(key), (val), slen(val), __LINE__)
/* Any bytes. */
#define STEP_B(c, op, key, klen, val, vlen) step_is_((c), (op), (key), (klen), (val), (vlen), __LINE__)

/* ---- 1. the model ---------------------------------------------------------------- */

enum {
	POOL = 1000,          /* keys the model draws from */
	KMAXLEN = 20,         /* longest key of the pool */
	VMAXLEN = 28,         /* longest value */
	MODEL_OPS = 100000,   /* puts, deletes and clears in all */
	MAX_TXN_OPS = 200,    /* operations of a transaction: 1..200 */
	HELD = 4,             /* snapshots held at once, each on a handle of its own */
	HOLD_COMMITS = 60,    /* a held snapshot is checked 1..60 commits after */
	CLEAR_PER_10K = 3,    /* chance of a clear per operation, in 10,000 */
	FAIL_PER_100 = 3,     /* chance that a transaction fails at commit, in 100 */
};

struct pkey {
	uint8_t len;
	uint8_t b[KMAXLEN];
};

/* The pool, sorted in the store's order: the model is, per pool index,
 * the counter of the value the key holds, or 0 if absent. */
static struct pkey pool[POOL];

/* Bytes keys are made of: the extremes, and some in the middle. */
static const uint8_t alpha[] = { 0x00, 0x01, 'a', 'b', 'c', 0x7f, 0x80, 0xfe, 0xff };

static void rand_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = alpha[rnd_below(sizeof(alpha))];
}

static int pkey_qcmp(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;
	return key_cmp(x->b, x->len, y->b, y->len);
}

/* 1,000 distinct keys: short random ones, random ones up to 20 bytes, and
 * many made from another by cutting it short or extending it, so that
 * keys are prefixes of each other in chains. */
static void make_pool(void)
{
	int n = 0;
	while (n < POOL) {
		struct pkey k;
		memset(&k, 0, sizeof(k));
		uint32_t how = n < 8 ? 0 : rnd_below(5);
		if (how == 0) {
			k.len = (uint8_t)(1 + rnd_below(3));
			rand_bytes(k.b, k.len);
		} else if (how <= 2) {
			k = pool[rnd_below((uint32_t)n)];
			if (k.len == KMAXLEN)
				continue;
			uint32_t room = KMAXLEN - k.len, more = 1 + rnd_below(room < 4 ? room : 4);
			rand_bytes(k.b + k.len, more);
			k.len = (uint8_t)(k.len + more);
		} else if (how == 3) {
			k = pool[rnd_below((uint32_t)n)];
			if (k.len < 2)
				continue;
			k.len = (uint8_t)(1 + rnd_below(k.len - 1u));
		} else {
			k.len = (uint8_t)(1 + rnd_below(KMAXLEN));
			rand_bytes(k.b, k.len);
		}
		int dup = 0;
		for (int i = 0; i < n && !dup; i++)
			dup = pool[i].len == k.len && !memcmp(pool[i].b, k.b, k.len);
		if (!dup)
			pool[n++] = k;
	}
	qsort(pool, POOL, sizeof(pool[0]), pkey_qcmp);
	for (int i = 1; i < POOL; i++)
		ck_assert_int_lt(pkey_qcmp(&pool[i - 1], &pool[i]), 0);
}

/* Value number c (unique per put): 0..28 bytes that depend on c. */
static size_t value_of(uint64_t c, uint8_t *v)
{
	size_t len = (size_t)(c * 7 % (VMAXLEN + 1));
	for (size_t i = 0; i < len; i++)
		v[i] = (uint8_t)(mix(c * 8 + i / 8) >> (8 * (i % 8)));
	return len;
}

/* The first pool index whose key is >= key (POOL if none). */
static int lower_bound(const uint8_t *key, size_t klen)
{
	int lo = 0, hi = POOL;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (key_cmp(pool[mid].b, pool[mid].len, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A model cursor is a gap g: before pool index g. Next and prev return the
 * pool index of the record (-1: -ENOENT, the gap unchanged). */
static int model_next(const uint64_t *vc, int *g)
{
	for (int i = *g; i < POOL; i++)
		if (vc[i]) {
			*g = i + 1;
			return i;
		}
	return -1;
}

static int model_prev(const uint64_t *vc, int *g)
{
	for (int i = *g - 1; i >= 0; i--)
		if (vc[i]) {
			*g = i;
			return i;
		}
	return -1;
}

/* A key to seek: a pool key, one a byte longer or shorter than a pool key
 * (just past it, or a prefix of it), one with its last byte one more or
 * less (between keys), or random bytes. Up to KMAXLEN + 1 bytes. */
static size_t seek_key(uint8_t *k)
{
	const struct pkey *p = &pool[rnd_below(POOL)];
	size_t n = p->len;
	memcpy(k, p->b, n);
	switch (rnd_below(6)) {
	case 0:
	case 1:
		return n;
	case 2:
		k[n++] = alpha[rnd_below(sizeof(alpha))];
		return n;
	case 3:
		return n > 1 ? n - 1 : n;
	case 4:
		if (rnd_below(2) && k[n - 1] > 0)
			k[n - 1]--;
		else if (k[n - 1] < 0xff)
			k[n - 1]++;
		return n;
	default:
		n = 1 + rnd_below(KMAXLEN + 1);
		rand_bytes(k, n);
		return n;
	}
}

/* What a cursor returned (rc, k, v) must be pool record `want` of model
 * vc, or -ENOENT when want < 0. */
static void check_step(int rc, const shmdb_val *k, const shmdb_val *v, int want, const uint64_t *vc,
		       const char *what, const char *op)
{
	if (want < 0) {
		FAIL_UNLESS(rc == -ENOENT, "%s: %s: got %s (key %s), want -ENOENT", what, op,
			    show_rc(rc), rc ? "" : hexs(k->data, k->len));
		return;
	}
	uint8_t wv[VMAXLEN];
	size_t wl = value_of(vc[want], wv);
	FAIL_UNLESS(rc == 0 && val_is(k, pool[want].b, pool[want].len) && val_is(v, wv, wl),
		    "%s: %s: got %s (%s = %s), want %s = %s", what, op, show_rc(rc),
		    rc ? "" : hexs(k->data, k->len), rc ? "" : hexs(v->data, v->len),
		    hexs(pool[want].b, pool[want].len), hexs(wv, wl));
}

/* A seek (or seek_end), then 1..8 random moves, each checked. */
static void seek_walk(shmdb_cursor *c, const uint64_t *vc, const char *what)
{
	uint8_t sk[KMAXLEN + 1];
	size_t sl = 0;
	char log[400];
	int o, g, rc;
	if (rnd_below(10) == 0) {
		g = POOL;
		rc = shmdb_cursor_seek_end(c);
		o = snprintf(log, sizeof(log), "seek_end");
	} else {
		sl = seek_key(sk);
		g = lower_bound(sk, sl);
		rc = shmdb_cursor_seek(c, sk, sl);
		o = snprintf(log, sizeof(log), "seek %s", hexs(sk, sl));
	}
	FAIL_UNLESS(rc == 0, "%s: %s: %s", what, log, show_rc(rc));
	int moves = 1 + (int)rnd_below(8);
	for (int m = 0; m < moves; m++) {
		shmdb_val k = { 0 }, v = { 0 };
		int fwd = (int)rnd_below(2);
		int want = fwd ? model_next(vc, &g) : model_prev(vc, &g);
		rc = fwd ? shmdb_cursor_next(c, &k, &v) : shmdb_cursor_prev(c, &k, &v);
		if (o < (int)sizeof(log) - 8)
			o += snprintf(log + o, sizeof(log) - (size_t)o, "; %s", fwd ? "next" : "prev");
		check_step(rc, &k, &v, want, vc, what, log);
	}
}

/* Check snapshot r of table t against model vc: count, gets, `seeks`
 * seek walks and, with `walks`, the whole table forward and backward. */
static void check_snapshot(shmdb_rtxn *r, shmdb_table t, const uint64_t *vc, const char *what,
			   int walks, int seeks)
{
	uint64_t n = UINT64_MAX, want_n = 0;
	shmdb_cursor *c;
	shmdb_val k, v;
	char op[64];
	int rc, g, want, i;
	for (i = 0; i < POOL; i++)
		want_n += vc[i] != 0;
	rc = shmdb_count(r, t, &n);
	FAIL_UNLESS(rc == 0 && n == want_n, "%s: count %s, %" PRIu64 ", want %" PRIu64, what,
		    show_rc(rc), n, want_n);
	rc = shmdb_cursor_open(r, t, &c);
	FAIL_UNLESS(rc == 0, "%s: cursor_open: %s", what, show_rc(rc));
	if (walks) {
		/* Forward from the open position, one past the end. */
		g = 0;
		i = 0;
		do {
			want = model_next(vc, &g);
			rc = shmdb_cursor_next(c, &k, &v);
			snprintf(op, sizeof(op), "forward walk, record %d", i++);
			check_step(rc, &k, &v, want, vc, what, op);
		} while (want >= 0);
		/* Backward from seek_end, one past the first. */
		rc = shmdb_cursor_seek_end(c);
		FAIL_UNLESS(rc == 0, "%s: seek_end: %s", what, show_rc(rc));
		g = POOL;
		i = 0;
		do {
			want = model_prev(vc, &g);
			rc = shmdb_cursor_prev(c, &k, &v);
			snprintf(op, sizeof(op), "backward walk, record %d", i++);
			check_step(rc, &k, &v, want, vc, what, op);
		} while (want >= 0);
	}
	for (i = 0; i < seeks; i++)
		seek_walk(c, vc, what);
	shmdb_cursor_close(c);
	for (i = 0; i < seeks; i++) {
		int p = (int)rnd_below(POOL);
		uint8_t wv[VMAXLEN];
		size_t wl = vc[p] ? value_of(vc[p], wv) : 0;
		rc = shmdb_get(r, t, pool[p].b, pool[p].len, &v);
		FAIL_UNLESS(vc[p] ? rc == 0 && val_is(&v, wv, wl) : rc == -ENOENT,
			    "%s: get %s: %s (%s), want %s", what, hexs(pool[p].b, pool[p].len),
			    show_rc(rc), rc ? "" : hexs(v.data, v.len), vc[p] ? hexs(wv, wl) : "-ENOENT");
	}
}

START_TEST(model_random_ops_and_snapshots)
{
	static uint64_t vc[POOL], held_vc[HELD][POOL], before[POOL];
	shmdb_rtxn *held[HELD] = { NULL };
	uint64_t held_at[HELD] = { 0 }, held_due[HELD] = { 0 };
	shmdb *hdb[HELD];
	uint64_t ops = 0, commits = 0, counter = 0, clears = 0, checked = 0, last_ts = 0;
	uint64_t most = 0, failed = 0;
	char what[128];

	rng_state = 0x0dde2ed13ull;
	make_pool();
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	for (int h = 0; h < HELD; h++)
		hdb[h] = test_open(&d);
	shmdb_table t, aux;
	ck_assert_int_eq(shmdb_table_open(db, "model", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	aux = test_table(db, "aux");

	while (ops < MODEL_OPS) {
		shmdb_wtxn *w;
		uint64_t ts = 0;
		/* Now and then a transaction that fails at commit, as a
		 * conflict or for a missing table, after all its operations:
		 * nothing of it may show. */
		int fail = rnd_below(100) < FAIL_PER_100 ? 1 + (int)rnd_below(2) : 0;
		if (fail)
			memcpy(before, vc, sizeof(vc));
		int e = shmdb_write_begin(db, &w);
		FAIL_UNLESS(e == 0, "write_begin: %s", show_rc(e));
		uint32_t nops = 1 + rnd_below(MAX_TXN_OPS);
		for (uint32_t j = 0; j < nops; j++) {
			uint32_t r = rnd_below(10000);
			int p = (int)rnd_below(POOL);
			if (r < CLEAR_PER_10K) {
				e = shmdb_clear(w, t);
				memset(vc, 0, sizeof(vc));
				clears++;
			} else if (r < 5600) {
				uint8_t v[VMAXLEN];
				size_t vl = value_of(++counter, v);
				e = shmdb_put(w, t, pool[p].b, pool[p].len, v, vl);
				vc[p] = counter;
			} else {
				e = shmdb_del(w, t, pool[p].b, pool[p].len);
				vc[p] = 0;
			}
			FAIL_UNLESS(e == 0, "op %u of commit %" PRIu64 ": %s", j, commits + 1, show_rc(e));
		}
		ops += nops;
		if (fail == 1) {
			uint64_t ats = 0;
			ck_assert_int_eq(test_commit_put(db, aux, "a", "x", 1, &ats), 0);
			e = shmdb_check(w, aux, "a", 1, ats - 1);
			FAIL_UNLESS(e == 0, "check: %s", show_rc(e));
			last_ts = ats;
		} else if (fail == 2) {
			e = shmdb_put(w, 0x00ab0123, "a", 1, "x", 1); /* no such table */
			FAIL_UNLESS(e == 0, "put: %s", show_rc(e));
		}
		e = shmdb_commit(w, &ts);
		if (fail) {
			FAIL_UNLESS(e == (fail == 1 ? SHMDB_ECONFLICT : -ENOENT),
				    "commit %" PRIu64 " (meant to fail): %s", commits + 1, show_rc(e));
			memcpy(vc, before, sizeof(vc));
			ts = last_ts;
			failed++;
		} else {
			FAIL_UNLESS(e == 0 && ts > last_ts, "commit %" PRIu64 ": %s, ts %" PRIu64,
				    commits + 1, show_rc(e), ts);
		}
		last_ts = ts;
		commits++;

		/* A fresh snapshot: the model as it is now. */
		shmdb_rtxn *r;
		e = shmdb_read_begin(db, &r);
		FAIL_UNLESS(e == 0 && shmdb_read_ts(r) >= ts, "read_begin: %s", show_rc(e));
		snprintf(what, sizeof(what), "fresh snapshot after commit %" PRIu64, commits);
		check_snapshot(r, t, vc, what, commits % 64 == 0, 5);
		shmdb_read_end(r);
		uint64_t live = 0;
		for (int i = 0; i < POOL; i++)
			live += vc[i] != 0;
		if (live > most)
			most = live;

		/* Held snapshots: checked when due, taken at random. */
		for (int h = 0; h < HELD; h++) {
			if (held[h] && commits >= held_due[h]) {
				snprintf(what, sizeof(what),
					 "snapshot %d taken after commit %" PRIu64 ", checked after %" PRIu64,
					 h, held_at[h], commits);
				check_snapshot(held[h], t, held_vc[h], what, 1, 100);
				shmdb_read_end(held[h]);
				held[h] = NULL;
				checked++;
			} else if (!held[h] && rnd_below(8) == 0) {
				e = shmdb_read_begin(hdb[h], &held[h]);
				FAIL_UNLESS(e == 0 && shmdb_read_ts(held[h]) >= ts, "read_begin: %s",
					    show_rc(e));
				memcpy(held_vc[h], vc, sizeof(vc));
				held_at[h] = commits;
				held_due[h] = commits + 1 + rnd_below(HOLD_COMMITS);
			}
		}
	}
	for (int h = 0; h < HELD; h++) {
		if (!held[h])
			continue;
		snprintf(what, sizeof(what), "snapshot %d taken after commit %" PRIu64 ", checked at the end",
			 h, held_at[h]);
		check_snapshot(held[h], t, held_vc[h], what, 1, 100);
		shmdb_read_end(held[h]);
		checked++;
	}
	/* Once more, everything, in a fresh snapshot. */
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	check_snapshot(r, t, vc, "the last snapshot", 1, 1000);
	shmdb_read_end(r);
	printf("ordered: model: %" PRIu64 " ops in %" PRIu64 " commits (%" PRIu64 " failed), %" PRIu64
	       " clears, %" PRIu64 " held snapshots checked, up to %" PRIu64 " records\n",
	       ops, commits, failed, clears, checked, most);
	ck_assert_uint_gt(clears, 0);
	ck_assert_uint_gt(failed, 0);
	ck_assert_uint_gt(checked, 20);
	for (int h = 0; h < HELD; h++)
		shmdb_close(hdb[h]);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- a key left out of the tree, pending ------------------------------------------- */

/* Keys 2i (i < PEND_BASE) loaded in one commit; then new odd keys one
 * commit each. A snapshot taken at such a commit's own timestamp reads the
 * key as pending (layout.h, shm_count): the writer places it in the tree
 * by a commit of its own after the completion, which that snapshot does
 * not see, or places it in the leaf in place, which it does. */
#define PEND_BASE 400
#define PEND_TRIES 20000 /* at most: it stops once PEND_CAUGHT were read */
#define PEND_CAUGHT 8

static uint64_t pend_keys[PEND_BASE + PEND_TRIES];
static unsigned npend_keys;

/* Add key x to the sorted pend_keys; 0 if it is there already. */
static int pend_add(uint64_t x)
{
	unsigned at = 0;
	while (at < npend_keys && pend_keys[at] < x)
		at++;
	if (at < npend_keys && pend_keys[at] == x)
		return 0;
	memmove(&pend_keys[at + 1], &pend_keys[at], (npend_keys - at) * sizeof(pend_keys[0]));
	pend_keys[at] = x;
	npend_keys++;
	return 1;
}

static uint64_t key_num(const shmdb_val *k)
{
	uint64_t x = 0;
	ck_assert_uint_eq(k->len, 8);
	for (int i = 0; i < 8; i++)
		x = x << 8 | ((const uint8_t *)k->data)[i];
	return x;
}

/* Every way through snapshot r of t against the sorted keys m[0..n). */
static void pend_check(shmdb_rtxn *r, shmdb_table t, const uint64_t *m, unsigned n, uint64_t knew)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	uint64_t cnt;
	uint8_t kb[8];
	ck_assert_int_eq(shmdb_count(r, t, &cnt), 0);
	ck_assert_uint_eq(cnt, n);
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(shmdb_cursor_next(c, &k, &v), 0);
		ck_assert_uint_eq(key_num(&k), m[i]);
		ck_assert(v.len == 8 && !memcmp(v.data, k.data, 8));
	}
	ck_assert_int_eq(shmdb_cursor_next(c, &k, &v), -ENOENT);
	ck_assert_int_eq(shmdb_cursor_seek_end(c), 0);
	for (unsigned i = n; i-- > 0;) {
		ck_assert_int_eq(shmdb_cursor_prev(c, &k, &v), 0);
		ck_assert_uint_eq(key_num(&k), m[i]);
	}
	ck_assert_int_eq(shmdb_cursor_prev(c, &k, &v), -ENOENT);
	/* Around the new key: a seek to it, before it and after it, and
	 * steps both ways from each, next then prev returning one record. */
	for (int s = -1; s <= 1; s++) {
		be64(kb, knew + (uint64_t)s);
		ck_assert_int_eq(shmdb_cursor_seek(c, kb, 8), 0);
		unsigned want = 0; /* the first >= the seek */
		while (want < n && m[want] < knew + (uint64_t)s)
			want++;
		if (want < n) {
			ck_assert_int_eq(shmdb_cursor_next(c, &k, &v), 0);
			ck_assert_uint_eq(key_num(&k), m[want]);
			ck_assert_int_eq(shmdb_cursor_prev(c, &k, &v), 0);
			ck_assert_uint_eq(key_num(&k), m[want]);
		}
		if (want > 0) {
			ck_assert_int_eq(shmdb_cursor_prev(c, &k, &v), 0);
			ck_assert_uint_eq(key_num(&k), m[want - 1]);
			ck_assert_int_eq(shmdb_cursor_next(c, &k, &v), 0);
			ck_assert_uint_eq(key_num(&k), m[want - 1]);
			if (want < n) {
				ck_assert_int_eq(shmdb_cursor_next(c, &k, &v), 0);
				ck_assert_uint_eq(key_num(&k), m[want]);
			}
		}
	}
	shmdb_cursor_close(c);
	be64(kb, knew);
	ck_assert_int_eq(shmdb_get(r, t, kb, 8, &v), 0);
	ck_assert(v.len == 8 && !memcmp(v.data, kb, 8));
}

START_TEST(cursors_merge_a_pending_key)
{
	test_start_daemon(&d, "32M");
	shmdb *db = test_open(&d), *db2 = test_open(&d);
	shmdb_table t;
	shmdb_wtxn *w;
	shmdb_rtxn *r;
	uint8_t kb[8];
	ck_assert_int_eq(shmdb_table_open(db, "pend", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (unsigned i = 0; i < PEND_BASE; i++) {
		pend_add(1000000 * (uint64_t)(i + 1));
		be64(kb, 1000000 * (uint64_t)(i + 1));
		ck_assert_int_eq(shmdb_put(w, t, kb, 8, kb, 8), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	unsigned caught = 0, settled = 0, tries = 0;
	for (; tries < PEND_TRIES && caught < PEND_CAUGHT; tries++) {
		/* Between two keys, before the first, after the last. */
		uint64_t knew = tries % 7 == 5 ? 999999 - tries
				: tries % 7 == 6 ? 1000000 * (PEND_BASE + 1) + tries
				: 1000000 * (1 + (uint64_t)rnd_below(PEND_BASE - 1)) + 1 +
					  rnd_below(999998);
		if (!pend_add(knew))
			continue;
		uint64_t ts;
		be64(kb, knew);
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		ck_assert_int_eq(shmdb_put(w, t, kb, 8, kb, 8), 0);
		ck_assert_int_eq(shmdb_commit(w, &ts), 0);
		ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
		if (shmdb_read_ts(r) != ts) { /* placed already: no key pending */
			shmdb_read_end(r);
			continue;
		}
		caught++;
		pend_check(r, t, pend_keys, npend_keys, knew);
		/* The same snapshot once the writer has placed the key: in
		 * place, its leaf holds it now too, and it is still one
		 * record. */
		shmdb_rtxn *now;
		for (int wait = 0; wait < 10000; wait++) {
			ck_assert_int_eq(shmdb_read_begin(db2, &now), 0);
			uint64_t at = shmdb_read_ts(now);
			shmdb_read_end(now);
			if (at > ts) {
				settled++;
				break;
			}
			usleep(100);
		}
		pend_check(r, t, pend_keys, npend_keys, knew);
		shmdb_read_end(r);
	}
	fprintf(stderr, "pending: %u of %u snapshots read a key pending, %u of them again once "
		"placed\n", caught, tries, settled);
	ck_assert_uint_gt(caught, 0);
	ck_assert_uint_eq(settled, caught);
	/* Every key in the tree at last. */
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	pend_check(r, t, pend_keys, npend_keys, pend_keys[npend_keys / 2]);
	shmdb_read_end(r);
	shmdb_close(db2);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 2. boundaries and kinds ------------------------------------------------------- */

static void put_kv(shmdb *db, shmdb_table t, const char *const *keys, int n)
{
	shmdb_wtxn *w;
	char v[64];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < n; i++) {
		snprintf(v, sizeof(v), "v:%s", keys[i]);
		ck_assert_int_eq(shmdb_put(w, t, keys[i], strlen(keys[i]), v, strlen(v)), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
}

static void seek_s(shmdb_cursor *c, const char *key)
{
	ck_assert_int_eq(shmdb_cursor_seek(c, key, strlen(key)), 0);
}

START_TEST(cursor_boundaries)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	shmdb_rtxn *r;
	shmdb_cursor *c;
	shmdb_val k, v;
	uint64_t n;
	ck_assert_int_eq(shmdb_table_open(db, "b", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);

	/* Empty: nothing either way, wherever the cursor is. */
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	STEP(c, 'n', NULL, NULL);
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'p', NULL, NULL);
	seek_s(c, "m");
	STEP(c, 'n', NULL, NULL);
	STEP(c, 'p', NULL, NULL);
	ck_assert_int_eq(shmdb_cursor_seek(c, "\x00", 1), 0);
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'n', NULL, NULL);
	ck_assert_int_eq(shmdb_cursor_seek(c, "\xff\xff\xff", 3), 0);
	STEP(c, 'n', NULL, NULL);
	ck_assert_int_eq(shmdb_cursor_seek_end(c), 0);
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'n', NULL, NULL);
	shmdb_cursor_close(c);
	shmdb_read_end(r);

	/* Keys that are prefixes of each other, inserted out of order. */
	const char *const keys[] = { "b", "abc", "a", "ab" };
	put_kv(db, t, keys, 4);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	/* Open: before the first. */
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'n', "a", "v:a");
	STEP(c, 'n', "ab", "v:ab");
	STEP(c, 'p', "ab", "v:ab"); /* prev right after next: the same record */
	STEP(c, 'p', "a", "v:a");
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'p', NULL, NULL);   /* stays before the first */
	STEP(c, 'n', "a", "v:a");
	STEP(c, 'n', "ab", "v:ab");
	STEP(c, 'n', "abc", "v:abc");
	STEP(c, 'n', "b", "v:b");
	STEP(c, 'n', NULL, NULL);
	STEP(c, 'n', NULL, NULL);   /* stays after the last */
	STEP(c, 'p', "b", "v:b");
	STEP(c, 'n', "b", "v:b");   /* next right after prev: the same record */

	/* Seeks: before the first, onto each key, between keys, into the
	 * prefixes, past the last. */
	ck_assert_int_eq(shmdb_cursor_seek(c, "\x00", 1), 0);
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'n', "a", "v:a");
	seek_s(c, "A"); /* 'A' < 'a' */
	STEP(c, 'n', "a", "v:a");
	seek_s(c, "a");
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'n', "a", "v:a");
	seek_s(c, "a");
	STEP(c, 'n', "a", "v:a");
	STEP(c, 'p', "a", "v:a");
	seek_s(c, "aa"); /* between "a" and "ab" */
	STEP(c, 'n', "ab", "v:ab");
	seek_s(c, "aa");
	STEP(c, 'p', "a", "v:a");
	seek_s(c, "ab");
	STEP(c, 'p', "a", "v:a");
	STEP(c, 'n', "a", "v:a");
	STEP(c, 'n', "ab", "v:ab");
	ck_assert_int_eq(shmdb_cursor_seek(c, "ab\x00", 3), 0); /* just past "ab" */
	STEP(c, 'p', "ab", "v:ab");
	seek_s(c, "ab");
	STEP(c, 'n', "ab", "v:ab");
	STEP(c, 'n', "abc", "v:abc");
	seek_s(c, "abb");
	STEP(c, 'n', "abc", "v:abc");
	seek_s(c, "abb");
	STEP(c, 'p', "ab", "v:ab");
	seek_s(c, "abc");
	STEP(c, 'p', "ab", "v:ab");
	STEP(c, 'p', "a", "v:a");
	STEP(c, 'p', NULL, NULL);
	seek_s(c, "abcd"); /* past "abc", before "b" */
	STEP(c, 'n', "b", "v:b");
	seek_s(c, "abcd");
	STEP(c, 'p', "abc", "v:abc");
	ck_assert_int_eq(shmdb_cursor_seek(c, "ab\xff\xff", 4), 0);
	STEP(c, 'p', "abc", "v:abc");
	STEP(c, 'n', "abc", "v:abc");
	STEP(c, 'n', "b", "v:b");
	seek_s(c, "b");
	STEP(c, 'p', "abc", "v:abc");
	seek_s(c, "b");
	STEP(c, 'n', "b", "v:b");
	STEP(c, 'n', NULL, NULL);
	seek_s(c, "ba"); /* past the last */
	STEP(c, 'n', NULL, NULL);
	STEP(c, 'p', "b", "v:b");
	ck_assert_int_eq(shmdb_cursor_seek(c, "\xff", 1), 0);
	STEP(c, 'p', "b", "v:b");
	STEP(c, 'p', "abc", "v:abc");
	STEP(c, 'n', "abc", "v:abc");
	/* The longest key there is. */
	static char longkey[SHMDB_MAX_KEY];
	memset(longkey, 'a', sizeof(longkey));
	ck_assert_int_eq(shmdb_cursor_seek(c, longkey, sizeof(longkey)), 0);
	STEP(c, 'n', "ab", "v:ab");
	/* seek_end, prev from the end, back and forth. */
	ck_assert_int_eq(shmdb_cursor_seek_end(c), 0);
	STEP(c, 'n', NULL, NULL);
	STEP(c, 'p', "b", "v:b");
	STEP(c, 'p', "abc", "v:abc");
	STEP(c, 'n', "abc", "v:abc");
	STEP(c, 'n', "b", "v:b");
	STEP(c, 'n', NULL, NULL);
	ck_assert_int_eq(shmdb_cursor_seek_end(c), 0);
	STEP(c, 'p', "b", "v:b");
	STEP(c, 'p', "abc", "v:abc");
	STEP(c, 'p', "ab", "v:ab");
	STEP(c, 'p', "a", "v:a");
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'n', "a", "v:a");
	/* Bad arguments; the cursor is left where it was. */
	ck_assert_int_eq(shmdb_cursor_seek(c, "a", 0), -EINVAL);
	ck_assert_int_eq(shmdb_cursor_seek(c, longkey, SHMDB_MAX_KEY + 1), -EINVAL);
	ck_assert_int_eq(shmdb_cursor_seek(c, NULL, 1), -EINVAL);
	ck_assert_int_eq(shmdb_cursor_seek(NULL, "a", 1), -EINVAL);
	ck_assert_int_eq(shmdb_cursor_seek_end(NULL), -EINVAL);
	ck_assert_int_eq(shmdb_cursor_prev(NULL, &k, &v), -EINVAL);
	/* Not a multimap: no seek_pair. */
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "a", 1, "v", 1), -ENOTSUP);
	STEP(c, 'n', "ab", "v:ab");
	shmdb_cursor_close(c);

	/* Cursors of one snapshot are independent; a later commit changes
	 * nothing for them. */
	shmdb_cursor *c2;
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c2), 0);
	const char *const more[] = { "aa", "c" };
	put_kv(db, t, more, 2);
	ck_assert_int_eq(test_commit_put(db, t, "b", "new", 3, NULL), 0);
	STEP(c, 'n', "a", "v:a");
	ck_assert_int_eq(shmdb_cursor_seek_end(c2), 0);
	STEP(c2, 'p', "b", "v:b");
	STEP(c, 'n', "ab", "v:ab");
	STEP(c2, 'p', "abc", "v:abc");
	shmdb_cursor_close(c2);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	/* And a new snapshot sees them. */
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	seek_s(c, "a");
	STEP(c, 'n', "a", "v:a");
	STEP(c, 'n', "aa", "v:aa");
	STEP(c, 'n', "ab", "v:ab");
	seek_s(c, "b");
	STEP(c, 'n', "b", "new");
	STEP(c, 'n', "c", "v:c");
	STEP(c, 'n', NULL, NULL);
	shmdb_cursor_close(c);
	ck_assert_int_eq(shmdb_get(r, t, "abc", 3, &v), 0);
	ck_assert(val_is(&v, "v:abc", 5));
	ck_assert_int_eq(shmdb_get(r, t, "abcd", 4, &v), -ENOENT);
	shmdb_read_end(r);

	/* Deleting every key but one, in one commit. */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	const char *const all[] = { "a", "aa", "ab", "abc", "c" };
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(shmdb_del(w, t, all[i], strlen(all[i])), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	STEP(c, 'n', "b", "new");
	STEP(c, 'n', NULL, NULL);
	seek_s(c, "a");
	STEP(c, 'p', NULL, NULL);
	STEP(c, 'n', "b", "new");
	STEP(c, 'p', "b", "new");
	STEP(c, 'p', NULL, NULL);
	seek_s(c, "c");
	STEP(c, 'n', NULL, NULL);
	STEP(c, 'p', "b", "new");
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	ck_assert_uint_eq(count_now(db, t), 1);

	/* A hash table: its cursor visits every record, and refuses the
	 * ordered moves, left as it was by each. */
	shmdb_table h = test_table(db, "h");
	const char *const hk[] = { "x", "y", "z" };
	put_kv(db, h, hk, 3);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, h, &c), 0);
	ck_assert_int_eq(shmdb_cursor_next(c, &k, &v), 0);
	ck_assert_int_eq(shmdb_cursor_seek(c, "a", 1), -ENOTSUP);
	ck_assert_int_eq(shmdb_cursor_seek_end(c), -ENOTSUP);
	ck_assert_int_eq(shmdb_cursor_prev(c, &k, &v), -ENOTSUP);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "a", 1, "v", 1), -ENOTSUP);
	int seen = 1;
	while (shmdb_cursor_next(c, &k, &v) == 0)
		seen++;
	ck_assert_int_eq(seen, 3);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(table_kinds)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table h, o, m, x;
	ck_assert_int_eq(shmdb_table_open(db, "hash", SHMDB_CREATE, &h), 0);
	ck_assert_int_eq(shmdb_table_open(db, "ord", SHMDB_CREATE | SHMDB_ORDERED, &o), 0);
	/* SHMDB_MULTI alone: a multimap, ordered. */
	ck_assert_int_eq(shmdb_table_open(db, "multi", SHMDB_CREATE | SHMDB_MULTI, &m), 0);
	ck_assert_uint_ne(h, o);
	ck_assert_uint_ne(o, m);

	/* No kind flag: whatever kind the table has. */
	ck_assert_int_eq(shmdb_table_open(db, "ord", 0, &x), 0);
	ck_assert_uint_eq(x, o);
	ck_assert_int_eq(shmdb_table_open(db, "ord", SHMDB_CREATE, &x), 0);
	ck_assert_uint_eq(x, o);
	ck_assert_int_eq(shmdb_table_open(db, "multi", 0, &x), 0);
	ck_assert_uint_eq(x, m);
	/* The kind it has. */
	ck_assert_int_eq(shmdb_table_open(db, "ord", SHMDB_ORDERED, &x), 0);
	ck_assert_uint_eq(x, o);
	ck_assert_int_eq(shmdb_table_open(db, "ord", SHMDB_CREATE | SHMDB_ORDERED, &x), 0);
	ck_assert_uint_eq(x, o);
	ck_assert_int_eq(shmdb_table_open(db, "multi", SHMDB_MULTI, &x), 0);
	ck_assert_uint_eq(x, m);
	ck_assert_int_eq(shmdb_table_open(db, "multi", SHMDB_ORDERED | SHMDB_MULTI, &x), 0);
	ck_assert_uint_eq(x, m);
	/* Another kind. */
	x = 12345;
	ck_assert_int_eq(shmdb_table_open(db, "hash", SHMDB_ORDERED, &x), -EEXIST);
	ck_assert_int_eq(shmdb_table_open(db, "hash", SHMDB_CREATE | SHMDB_ORDERED, &x), -EEXIST);
	ck_assert_int_eq(shmdb_table_open(db, "hash", SHMDB_MULTI, &x), -EEXIST);
	ck_assert_int_eq(shmdb_table_open(db, "ord", SHMDB_MULTI, &x), -EEXIST);
	ck_assert_int_eq(shmdb_table_open(db, "ord", SHMDB_CREATE | SHMDB_ORDERED | SHMDB_MULTI, &x),
			 -EEXIST);
	ck_assert_int_eq(shmdb_table_open(db, "multi", SHMDB_ORDERED, &x), -EEXIST);
	ck_assert_int_eq(shmdb_table_open(db, "multi", SHMDB_CREATE | SHMDB_ORDERED, &x), -EEXIST);
	ck_assert_uint_eq(x, 12345);
	/* Missing, and bad flags. */
	ck_assert_int_eq(shmdb_table_open(db, "none", SHMDB_ORDERED, &x), -ENOENT);
	ck_assert_int_eq(shmdb_table_open(db, "none", SHMDB_MULTI, &x), -ENOENT);
	ck_assert_int_eq(shmdb_table_open(db, "none", 8, &x), -EINVAL);
	ck_assert_int_eq(shmdb_table_open(db, "none", SHMDB_CREATE | 8, &x), -EINVAL);

	/* The list says each kind. */
	shmdb_table_info info[8];
	shmdb_rtxn *r;
	size_t n = 0;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_tables(r, info, 8, &n), 0);
	shmdb_read_end(r);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(info[0].name, "hash");
	ck_assert_int_eq(info[0].flags, 0);
	ck_assert_str_eq(info[1].name, "multi");
	ck_assert_int_eq(info[1].flags, SHMDB_ORDERED | SHMDB_MULTI);
	ck_assert_str_eq(info[2].name, "ord");
	ck_assert_int_eq(info[2].flags, SHMDB_ORDERED);

	/* What a kind refuses: del_value on a hash or ordered table. */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del_value(w, h, "k", 1, "v", 1), -ENOTSUP);
	ck_assert_int_eq(shmdb_del_value(w, o, "k", 1, "v", 1), -ENOTSUP);
	ck_assert_int_eq(shmdb_del_value(w, m, "k", 1, "v", 1), 0);
	ck_assert_int_eq(shmdb_del_value(NULL, m, "k", 1, "v", 1), -EINVAL);
	ck_assert_int_eq(shmdb_del_value(w, m, "k", 0, "v", 1), -EINVAL);
	ck_assert_int_eq(shmdb_del_value(w, m, "k", 1, NULL, 1), -EINVAL);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	/* A check on a multimap fails its commit. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, o, "k", 1, "v", 1), 0);
	ck_assert_int_eq(shmdb_check(w, m, "k", 1, 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -ENOTSUP);
	ck_assert_uint_eq(count_now(db, o), 0);

	/* A dropped ordered table comes back as another kind. */
	ck_assert_int_eq(shmdb_table_drop(db, "ord"), 0);
	ck_assert_int_eq(shmdb_table_open(db, "ord", SHMDB_ORDERED, &x), -ENOENT);
	ck_assert_int_eq(shmdb_table_open(db, "ord", SHMDB_CREATE | SHMDB_MULTI, &x), 0);
	ck_assert_int_eq(table_info(db, "ord").flags, SHMDB_ORDERED | SHMDB_MULTI);

	/* An ordered table: overwrites, clear + puts in one commit. */
	shmdb_table o2;
	ck_assert_int_eq(shmdb_table_open(db, "o2", SHMDB_CREATE | SHMDB_ORDERED, &o2), 0);
	const char *const keys[] = { "k1", "k2", "k3" };
	put_kv(db, o2, keys, 3);
	ck_assert_int_eq(test_commit_put(db, o2, "k2", "again", 5, NULL), 0);
	ck_assert_uint_eq(count_now(db, o2), 3);
	shmdb_rtxn *old;
	shmdb *db2 = test_open(&d);
	ck_assert_int_eq(shmdb_read_begin(db2, &old), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, o2, "k0", 2, "gone", 4), 0); /* cleared right after */
	ck_assert_int_eq(shmdb_clear(w, o2), 0);
	ck_assert_int_eq(shmdb_put(w, o2, "k3", 2, "n3", 2), 0);
	ck_assert_int_eq(shmdb_put(w, o2, "k4", 2, "n4", 2), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_cursor *c;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, o2, &c), 0);
	STEP(c, 'n', "k3", "n3");
	STEP(c, 'n', "k4", "n4");
	STEP(c, 'n', NULL, NULL);
	STEP(c, 'p', "k4", "n4");
	shmdb_cursor_close(c);
	uint64_t cnt = 0;
	ck_assert_int_eq(shmdb_count(r, o2, &cnt), 0);
	ck_assert_uint_eq(cnt, 2);
	shmdb_read_end(r);
	/* The snapshot from before reads the old contents whole. */
	ck_assert_int_eq(shmdb_cursor_open(old, o2, &c), 0);
	ck_assert_int_eq(shmdb_cursor_seek_end(c), 0);
	STEP(c, 'p', "k3", "v:k3");
	STEP(c, 'p', "k2", "again");
	STEP(c, 'p', "k1", "v:k1");
	STEP(c, 'p', NULL, NULL);
	shmdb_cursor_close(c);
	shmdb_read_end(old);
	shmdb_close(db2);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 3. multimaps ------------------------------------------------------------------- */

enum { MANY = 100000, MANY_PER_TXN = 1000 };

START_TEST(multimap_one_key_many_values)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table m;
	shmdb_wtxn *w;
	shmdb_rtxn *r, *old;
	shmdb_cursor *c;
	shmdb_val k, v;
	uint64_t n;
	uint8_t vb[16];
	ck_assert_int_eq(shmdb_table_open(db, "mm", SHMDB_CREATE | SHMDB_MULTI, &m), 0);

	/* The neighbours: "mand" < "many" < "many\0" < "manz". */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, m, "mand", 4, "3", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "mand", 4, "1", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "mand", 4, "2", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "mand", 4, "2", 1), 0); /* the same pair twice */
	ck_assert_int_eq(shmdb_put(w, m, "manz", 4, "z", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "manz", 4, "x", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "manz", 4, "y", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "many\0", 5, "q", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "many\0", 5, "p", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(count_now(db, m), 8);

	/* 100,000 values of "many": value i is the 8-byte big-endian 2i, put
	 * in a scattered order (i = j * 7919 mod MANY), 1,000 a commit. */
	for (uint64_t b = 0; b < MANY; b += MANY_PER_TXN) {
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (uint64_t j = b; j < b + MANY_PER_TXN; j++) {
			be64(vb, 2 * (j * 7919 % MANY));
			int e = shmdb_put(w, m, "many", 4, vb, 8);
			FAIL_UNLESS(e == 0, "put %" PRIu64 ": %s", j, show_rc(e));
		}
		int e = shmdb_commit(w, NULL);
		FAIL_UNLESS(e == 0, "commit of values %" PRIu64 "..: %s", b, show_rc(e));
	}
	ck_assert_uint_eq(count_now(db, m), MANY + 8);
	ck_assert_uint_eq(table_info(db, "mm").count, MANY + 8);
	ck_assert_int_eq(table_info(db, "mm").flags, SHMDB_ORDERED | SHMDB_MULTI);

	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, m, &n), 0);
	ck_assert_uint_eq(n, MANY + 8);
	/* get: the first value. */
	ck_assert_int_eq(shmdb_get(r, m, "many", 4, &v), 0);
	be64(vb, 0);
	ck_assert(val_is(&v, vb, 8));
	ck_assert_int_eq(shmdb_get(r, m, "mand", 4, &v), 0);
	ck_assert(val_is(&v, "1", 1));
	ck_assert_int_eq(shmdb_get(r, m, "man", 3, &v), -ENOENT);
	/* get_many: the same first values, and none for a missing key. */
	shmdb_val ks[3] = { { "many", 4 }, { "man", 3 }, { "mand", 4 } }, vs[3];
	ck_assert_int_eq(shmdb_get_many(r, m, ks, 3, vs), 0);
	ck_assert(val_is(&vs[0], vb, 8) && vs[1].data == NULL && val_is(&vs[2], "1", 1));

	/* Every value in order, forward. */
	ck_assert_int_eq(shmdb_cursor_open(r, m, &c), 0);
	ck_assert_int_eq(shmdb_cursor_seek(c, "many", 4), 0);
	STEP(c, 'p', "mand", "3");
	STEP(c, 'n', "mand", "3");
	for (uint64_t i = 0; i < MANY; i++) {
		int e = shmdb_cursor_next(c, &k, &v);
		be64(vb, 2 * i);
		FAIL_UNLESS(e == 0 && val_is(&k, "many", 4) && val_is(&v, vb, 8),
			    "forward, value %" PRIu64 ": %s, %s = %s", i, show_rc(e),
			    e ? "" : hexs(k.data, k.len), e ? "" : hexs(v.data, v.len));
	}
	STEP_B(c, 'n', "many\0", 5, "p", 1);
	STEP_B(c, 'n', "many\0", 5, "q", 1);
	STEP(c, 'n', "manz", "x");
	/* And backward, from the key after. */
	ck_assert_int_eq(shmdb_cursor_seek(c, "many\0", 5), 0);
	for (uint64_t i = MANY; i-- > 0;) {
		int e = shmdb_cursor_prev(c, &k, &v);
		be64(vb, 2 * i);
		FAIL_UNLESS(e == 0 && val_is(&k, "many", 4) && val_is(&v, vb, 8),
			    "backward, value %" PRIu64 ": %s, %s = %s", i, show_rc(e),
			    e ? "" : hexs(k.data, k.len), e ? "" : hexs(v.data, v.len));
	}
	STEP(c, 'p', "mand", "3");
	STEP(c, 'p', "mand", "2");
	/* The whole table, counted, in order. */
	uint64_t walked = 0;
	shmdb_val pk = { 0 }, pv = { 0 };
	ck_assert_int_eq(shmdb_cursor_seek(c, "\x00", 1), 0);
	while (shmdb_cursor_next(c, &k, &v) == 0) {
		if (walked) {
			int kc = key_cmp(pk.data, pk.len, k.data, k.len);
			FAIL_UNLESS(kc < 0 || (kc == 0 && key_cmp(pv.data, pv.len, v.data, v.len) < 0),
				    "pair %" PRIu64 " (%s, %s) not after (%s, %s)", walked,
				    hexs(k.data, k.len), hexs(v.data, v.len), hexs(pk.data, pk.len),
				    hexs(pv.data, pv.len));
		}
		pk = k;
		pv = v;
		walked++;
	}
	ck_assert_uint_eq(walked, MANY + 8);

	/* seek_pair into the middle: between two values, onto one. */
	uint8_t vb2[16];
	be64(vb, 2 * 50000 + 1);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, vb, 8), 0);
	be64(vb, 2 * 50001);
	STEP_B(c, 'n', "many", 4, vb, 8);
	STEP_B(c, 'p', "many", 4, vb, 8);
	be64(vb, 2 * 50000);
	STEP_B(c, 'p', "many", 4, vb, 8);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, vb, 8), 0);
	STEP_B(c, 'n', "many", 4, vb, 8);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, vb, 8), 0);
	be64(vb2, 2 * 49999);
	STEP_B(c, 'p', "many", 4, vb2, 8);
	/* A value shorter than all: "\0" < 8 zero bytes; none: the key's first. */
	be64(vb, 0);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, "\0", 1), 0);
	STEP_B(c, 'n', "many", 4, vb, 8);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, "\0", 1), 0);
	STEP(c, 'p', "mand", "3");
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, NULL, 0), 0);
	STEP_B(c, 'n', "many", 4, vb, 8);
	/* Past the key's last value: a value one byte longer, and "\xff". */
	be64(vb, 2 * (MANY - 1));
	vb[8] = 0;
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, vb, 9), 0);
	STEP_B(c, 'n', "many\0", 5, "p", 1);
	STEP_B(c, 'p', "many\0", 5, "p", 1);
	STEP_B(c, 'p', "many", 4, vb, 8);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, "\xff", 1), 0);
	STEP_B(c, 'p', "many", 4, vb, 8);
	/* A key between keys. */
	be64(vb, 0);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "manx", 4, "a", 1), 0);
	STEP_B(c, 'n', "many", 4, vb, 8);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "manx", 4, "a", 1), 0);
	STEP(c, 'p', "mand", "3");
	/* seek on a multimap: before the key's first pair. */
	ck_assert_int_eq(shmdb_cursor_seek(c, "manz", 4), 0);
	STEP(c, 'n', "manz", "x");
	ck_assert_int_eq(shmdb_cursor_seek(c, "manz", 4), 0);
	STEP_B(c, 'p', "many\0", 5, "q", 1);
	ck_assert_int_eq(shmdb_cursor_seek_end(c), 0);
	STEP(c, 'p', "manz", "z");
	/* Bad arguments. */
	static uint8_t big[SHMDB_MAX_MULTI_VALUE + 1];
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 0, "a", 1), -EINVAL);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, NULL, 3), -EINVAL);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, big, sizeof(big)), -EINVAL);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, big, sizeof(big) - 1), 0);
	ck_assert_int_eq(shmdb_cursor_seek_pair(NULL, "many", 4, "a", 1), -EINVAL);
	shmdb_cursor_close(c);
	shmdb_read_end(r);

	/* A snapshot held across the deletes below. */
	shmdb *db2 = test_open(&d);
	ck_assert_int_eq(shmdb_read_begin(db2, &old), 0);

	/* del_value: one pair; a missing pair or key is no error. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	be64(vb, 2 * 50000);
	ck_assert_int_eq(shmdb_del_value(w, m, "many", 4, vb, 8), 0);
	be64(vb, 1);
	ck_assert_int_eq(shmdb_del_value(w, m, "many", 4, vb, 8), 0);
	ck_assert_int_eq(shmdb_del_value(w, m, "nokey", 5, "a", 1), 0);
	ck_assert_int_eq(shmdb_del_value(w, m, "mand", 4, "1", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(count_now(db, m), MANY + 6);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, m, &c), 0);
	be64(vb, 2 * 50000);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, vb, 8), 0);
	be64(vb, 2 * 50001);
	STEP_B(c, 'n', "many", 4, vb, 8);
	STEP_B(c, 'p', "many", 4, vb, 8);
	be64(vb, 2 * 49999);
	STEP_B(c, 'p', "many", 4, vb, 8);
	shmdb_cursor_close(c);
	ck_assert_int_eq(shmdb_get(r, m, "mand", 4, &v), 0); /* the first value is now "2" */
	ck_assert(val_is(&v, "2", 1));
	shmdb_read_end(r);

	/* del of the key with many values: its neighbours keep theirs. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del(w, m, "many", 4), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, m, &n), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(shmdb_get(r, m, "many", 4, &v), -ENOENT);
	ck_assert_int_eq(shmdb_cursor_open(r, m, &c), 0);
	STEP(c, 'n', "mand", "2");
	STEP(c, 'n', "mand", "3");
	STEP_B(c, 'n', "many\0", 5, "p", 1);
	STEP_B(c, 'n', "many\0", 5, "q", 1);
	STEP(c, 'n', "manz", "x");
	STEP(c, 'n', "manz", "y");
	STEP(c, 'n', "manz", "z");
	STEP(c, 'n', NULL, NULL);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, NULL, 0), 0);
	STEP_B(c, 'n', "many\0", 5, "p", 1);
	ck_assert_int_eq(shmdb_cursor_seek(c, "many", 4), 0);
	STEP(c, 'p', "mand", "3");
	shmdb_cursor_close(c);
	shmdb_read_end(r);

	/* The held snapshot still has all of them. */
	ck_assert_int_eq(shmdb_count(old, m, &n), 0);
	ck_assert_uint_eq(n, MANY + 8);
	ck_assert_int_eq(shmdb_cursor_open(old, m, &c), 0);
	be64(vb, 2 * 50000);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "many", 4, vb, 8), 0);
	STEP_B(c, 'n', "many", 4, vb, 8);
	ck_assert_int_eq(shmdb_cursor_seek(c, "many\0", 5), 0);
	be64(vb, 2 * (MANY - 1));
	STEP_B(c, 'p', "many", 4, vb, 8);
	shmdb_cursor_close(c);
	ck_assert_int_eq(shmdb_get(old, m, "mand", 4, &v), 0);
	ck_assert(val_is(&v, "1", 1));
	shmdb_read_end(old);
	shmdb_close(db2);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(multimap_pairs_and_limits)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table m;
	shmdb_wtxn *w;
	shmdb_rtxn *r;
	shmdb_cursor *c;
	shmdb_val v;
	ck_assert_int_eq(shmdb_table_open(db, "pairs", SHMDB_CREATE | SHMDB_ORDERED | SHMDB_MULTI, &m),
			 0);

	/* A pair put twice, in one commit and in two, is one record. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "b", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "b", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(test_commit_put(db, m, "k", "b", 1, NULL), 0);
	ck_assert_uint_eq(count_now(db, m), 1);
	/* Values in value order, whatever the order of the puts; get gives
	 * the first. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "c", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "ab", 2), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "a", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "j", 1, "z", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "l", 1, "0", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(count_now(db, m), 6);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, m, "k", 1, &v), 0);
	ck_assert(val_is(&v, "a", 1));
	ck_assert_int_eq(shmdb_cursor_open(r, m, &c), 0);
	STEP(c, 'n', "j", "z");
	STEP(c, 'n', "k", "a");
	STEP(c, 'n', "k", "ab");
	STEP(c, 'n', "k", "b");
	STEP(c, 'p', "k", "b");
	STEP(c, 'n', "k", "b");
	STEP(c, 'n', "k", "c");
	STEP(c, 'n', "l", "0");
	STEP(c, 'n', NULL, NULL);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "k", 1, "aa", 2), 0);
	STEP(c, 'n', "k", "ab");
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "k", 1, "b", 1), 0);
	STEP(c, 'p', "k", "ab");
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "k", 1, "d", 1), 0);
	STEP(c, 'n', "l", "0");
	ck_assert_int_eq(shmdb_cursor_seek(c, "k", 1), 0);
	STEP(c, 'p', "j", "z");
	shmdb_cursor_close(c);
	shmdb_read_end(r);

	/* del_value of the first value: get gives the next; then the rest. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del_value(w, m, "k", 1, "a", 1), 0);
	ck_assert_int_eq(shmdb_del_value(w, m, "k", 1, "a", 1), 0); /* twice: no error */
	ck_assert_int_eq(shmdb_del_value(w, m, "k", 1, "zz", 2), 0); /* never there */
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(count_now(db, m), 5);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, m, "k", 1, &v), 0);
	ck_assert(val_is(&v, "ab", 2));
	shmdb_read_end(r);
	/* A pair deleted and put again in one commit is there; put then
	 * deleted is not. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del_value(w, m, "k", 1, "b", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "b", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "e", 1), 0);
	ck_assert_int_eq(shmdb_del_value(w, m, "k", 1, "e", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(count_now(db, m), 5);

	/* Values of 0, 1,024 and 1,025 bytes. */
	static uint8_t big[SHMDB_MAX_MULTI_VALUE + 1];
	ck_assert_uint_eq(SHMDB_MAX_MULTI_VALUE, 1024);
	memset(big, 0xab, sizeof(big));
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, m, "e", 1, NULL, 0), 0);
	ck_assert_int_eq(shmdb_put(w, m, "e", 1, "a", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "big", 3, big, 1024), 0);
	big[1023] = 0xac;
	ck_assert_int_eq(shmdb_put(w, m, "big", 3, big, 1024), 0);
	ck_assert_int_eq(shmdb_put(w, m, "big", 3, big, 1025), -E2BIG); /* the txn as it was */
	ck_assert_int_eq(shmdb_del_value(w, m, "big", 3, big, 1025), -E2BIG);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(count_now(db, m), 9);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, m, "e", 1, &v), 0);
	ck_assert_uint_eq(v.len, 0); /* the empty value comes first */
	ck_assert_int_eq(shmdb_cursor_open(r, m, &c), 0);
	ck_assert_int_eq(shmdb_cursor_seek(c, "big", 3), 0);
	big[1023] = 0xab;
	STEP_B(c, 'n', "big", 3, big, 1024);
	big[1023] = 0xac;
	STEP_B(c, 'n', "big", 3, big, 1024);
	STEP_B(c, 'n', "e", 1, "", 0);
	STEP(c, 'n', "e", "a");
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "big", 3, big, 1024), 0);
	STEP_B(c, 'n', "big", 3, big, 1024);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "e", 1, NULL, 0), 0);
	STEP_B(c, 'n', "e", 1, "", 0);
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "e", 1, "", 0), 0);
	STEP_B(c, 'p', "big", 3, big, 1024);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	/* The empty value removed by itself. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del_value(w, m, "e", 1, NULL, 0), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, m, "e", 1, &v), 0);
	ck_assert(val_is(&v, "a", 1));
	shmdb_read_end(r);
	ck_assert_uint_eq(count_now(db, m), 8);
	/* A hash table takes long values; its del_value is refused. */
	shmdb_table h = test_table(db, "plain");
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, h, "big", 3, big, 1025), 0);
	ck_assert_int_eq(shmdb_del_value(w, h, "big", 3, big, 1), -ENOTSUP);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	/* Clear: nothing left; then it fills again. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_clear(w, m), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "new", 3), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(count_now(db, m), 1);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, m, &c), 0);
	STEP(c, 'n', "k", "new");
	STEP(c, 'n', NULL, NULL);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 4. writers and readers in processes of their own --------------------------------- */

/*
 * The range: keys "r/000" .. "r/399", of which a varying set is present,
 * each holding an 8-byte amount; the total is always BANK_TOTAL. "q" and
 * "s" sit just outside the range, to be found at its ends. A writer's
 * commit deletes 1..3 present keys and spreads their amounts over 1..3
 * other keys, present or not (so keys come and go), with a check on each
 * key it touches so that a concurrent commit makes it retry.
 */
enum {
	BANK_SLOTS = 400,
	BANK_START = 200,    /* keys present at the start: the even slots */
	BANK_AMOUNT = 1000,
	BANK_WRITERS = 2,
	BANK_READERS = 2,
	WRITER_TXNS = 1000,  /* commits of each writer */
	BANK_SEEKS = 8,      /* random seeks per reader snapshot */
};
#define BANK_TOTAL ((uint64_t)BANK_START * BANK_AMOUNT)

struct bank_args {
	shmdb_table t;
	int stop_fd, stop_wr; /* "stop now": the readers' pipe */
};

struct bank_walk {
	unsigned n;
	unsigned slot[BANK_SLOTS];
	uint64_t amt[BANK_SLOTS];
	uint64_t sum;
};

static void bank_key(char k[8], unsigned slot)
{
	snprintf(k, 8, "r/%03u", slot);
}

/* The slot of a key in the range, or -1 for a key outside it. */
static int bank_slot(const shmdb_val *k)
{
	const char *p = k->data;
	if (k->len != 5 || memcmp(p, "r/", 2))
		return -1;
	for (int i = 2; i < 5; i++)
		if (p[i] < '0' || p[i] > '9')
			return -2;
	return (p[2] - '0') * 100 + (p[3] - '0') * 10 + (p[4] - '0');
}

static uint64_t amount_of(const shmdb_val *v)
{
	uint64_t a;
	CHILD_REQUIRE(v->len == 8, 40);
	memcpy(&a, v->data, 8);
	return a;
}

static int is_key(const shmdb_val *k, const char *s)
{
	return val_is(k, s, strlen(s));
}

/* Walk the range forward from seek("r/") in snapshot r: strictly
 * increasing, no duplicates, "q" before and "s" after it, the sum. */
static void bank_forward(shmdb_rtxn *r, shmdb_table t, struct bank_walk *fw)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	int last = -1;
	CHILD_REQUIRE(shmdb_cursor_open(r, t, &c) == 0, 41);
	CHILD_REQUIRE(shmdb_cursor_seek(c, "r/", 2) == 0, 42);
	CHILD_REQUIRE(shmdb_cursor_prev(c, &k, &v) == 0 && is_key(&k, "q"), 43);
	CHILD_REQUIRE(shmdb_cursor_next(c, &k, &v) == 0 && is_key(&k, "q"), 44);
	fw->n = 0;
	fw->sum = 0;
	for (;;) {
		CHILD_REQUIRE(shmdb_cursor_next(c, &k, &v) == 0, 45);
		int s = bank_slot(&k);
		if (s == -1)
			break;
		if (s <= last || s >= BANK_SLOTS) {
			fprintf(stderr, "forward walk: %s after slot %d\n", hexs(k.data, k.len), last);
			_exit(46);
		}
		CHILD_REQUIRE(fw->n < BANK_SLOTS, 47);
		fw->slot[fw->n] = (unsigned)s;
		fw->amt[fw->n] = amount_of(&v);
		fw->sum += fw->amt[fw->n++];
		last = s;
	}
	if (!is_key(&k, "s")) {
		fprintf(stderr, "forward walk: after the range (%u keys, the last slot %d): %s, not \"s\"\n",
			fw->n, last, hexs(k.data, k.len));
		_exit(48);
	}
	int e = shmdb_cursor_next(c, &k, &v);
	if (e != -ENOENT) {
		fprintf(stderr, "forward walk: after \"s\" (%u keys in the range): %s %s\n", fw->n,
			show_rc(e), e ? "" : hexs(k.data, k.len));
		_exit(49);
	}
	shmdb_cursor_close(c);
	if (fw->sum != BANK_TOTAL) {
		fprintf(stderr, "forward walk: %u keys, sum %" PRIu64 ", not %" PRIu64 "\n", fw->n,
			fw->sum, BANK_TOTAL);
		_exit(50);
	}
}

/* Everything a reader checks in one snapshot; *fw gets the forward walk. */
static void bank_verify(shmdb_rtxn *r, shmdb_table t, struct bank_walk *fw)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	uint64_t n = 0, sum = 0;
	CHILD_REQUIRE(shmdb_count(r, t, &n) == 0, 51);
	bank_forward(r, t, fw);
	if (n != fw->n + 2) {
		fprintf(stderr, "count %" PRIu64 ", walked %u keys and 2 outside the range\n", n, fw->n);
		_exit(52);
	}
	/* Backward from the end: the same records, reversed. */
	CHILD_REQUIRE(shmdb_cursor_open(r, t, &c) == 0, 53);
	CHILD_REQUIRE(shmdb_cursor_seek_end(c) == 0, 53);
	CHILD_REQUIRE(shmdb_cursor_prev(c, &k, &v) == 0 && is_key(&k, "s"), 54);
	for (unsigned i = fw->n; i-- > 0;) {
		CHILD_REQUIRE(shmdb_cursor_prev(c, &k, &v) == 0, 55);
		if (bank_slot(&k) != (int)fw->slot[i] || amount_of(&v) != fw->amt[i]) {
			fprintf(stderr, "backward walk: %s where the forward walk had slot %u\n",
				hexs(k.data, k.len), fw->slot[i]);
			_exit(56);
		}
		sum += fw->amt[i];
	}
	CHILD_REQUIRE(sum == BANK_TOTAL, 57);
	CHILD_REQUIRE(shmdb_cursor_prev(c, &k, &v) == 0 && is_key(&k, "q"), 58);
	CHILD_REQUIRE(shmdb_cursor_prev(c, &k, &v) == -ENOENT, 59);
	/* Random seeks into the range: next, prev (the same), prev. */
	for (int j = 0; j < BANK_SEEKS; j++) {
		char key[8];
		unsigned s = rnd_below(BANK_SLOTS), i = 0;
		bank_key(key, s);
		while (i < fw->n && fw->slot[i] < s)
			i++;
		CHILD_REQUIRE(shmdb_cursor_seek(c, key, 5) == 0, 60);
		int e1 = shmdb_cursor_next(c, &k, &v);
		int ok1 = e1 == 0 && (i < fw->n ? bank_slot(&k) == (int)fw->slot[i] : is_key(&k, "s"));
		shmdb_val k2 = { 0 }, k3 = { 0 };
		int e2 = shmdb_cursor_prev(c, &k2, &v);
		int ok2 = e2 == 0 && (i < fw->n ? bank_slot(&k2) == (int)fw->slot[i] : is_key(&k2, "s"));
		int e3 = shmdb_cursor_prev(c, &k3, &v);
		int ok3 = e3 == 0 && (i > 0 ? bank_slot(&k3) == (int)fw->slot[i - 1] : is_key(&k3, "q"));
		if (!ok1 || !ok2 || !ok3) {
			fprintf(stderr,
				"seek %s (%u keys in the range, want %d then %d): next %s %s, prev %s %s, "
				"prev %s %s\n",
				key, fw->n, i < fw->n ? (int)fw->slot[i] : -1, i > 0 ? (int)fw->slot[i - 1] : -1,
				show_rc(e1), e1 ? "" : hexs(k.data, k.len), show_rc(e2),
				e2 ? "" : hexs(k2.data, k2.len), show_rc(e3), e3 ? "" : hexs(k3.data, k3.len));
			_exit(61);
		}
	}
	shmdb_cursor_close(c);
}

/* Reads snapshots until told to stop (at least one), and one snapshot held
 * on a handle of its own across many, read again at the end. */
/* A reader child's loop: a new snapshot of db checked by ops->check until
 * told to stop (or 200 s), and one of hdb taken at the hold_at-th round,
 * checked by ops->hold then and by ops->recheck at the end. Returns the
 * snapshots taken. */
struct reader_ops {
	void (*check)(shmdb_rtxn *r, shmdb_table t);
	void (*hold)(shmdb_rtxn *r, shmdb_table t);
	void (*recheck)(shmdb_rtxn *r, shmdb_table t);
};

static unsigned reader_rounds(const struct bank_args *a, unsigned hold_at,
			      const struct reader_ops *ops)
{
	close(a->stop_wr);
	shmdb *db = test_child_open(&d), *hdb = test_child_open(&d);
	shmdb_rtxn *held = NULL;
	uint64_t deadline = test_now_ms() + 200000;
	unsigned rounds = 0;
	do {
		shmdb_rtxn *r;
		CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 70);
		ops->check(r, a->t);
		shmdb_read_end(r);
		if (++rounds == hold_at) {
			CHILD_REQUIRE(shmdb_read_begin(hdb, &held) == 0, 71);
			ops->hold(held, a->t);
		}
	} while (!test_told_to_stop(a->stop_fd) && test_now_ms() < deadline);
	if (held) {
		ops->recheck(held, a->t);
		shmdb_read_end(held);
	}
	shmdb_close(hdb);
	shmdb_close(db);
	return rounds;
}

static struct bank_walk bank_held;

static void bank_check(shmdb_rtxn *r, shmdb_table t)
{
	static struct bank_walk fw;
	bank_verify(r, t, &fw);
}

static void bank_hold(shmdb_rtxn *r, shmdb_table t)
{
	bank_verify(r, t, &bank_held);
}

static void bank_recheck(shmdb_rtxn *r, shmdb_table t)
{
	static struct bank_walk again;
	bank_verify(r, t, &again);
	CHILD_REQUIRE(again.n == bank_held.n &&
			      !memcmp(again.slot, bank_held.slot, bank_held.n * sizeof(unsigned)) &&
			      !memcmp(again.amt, bank_held.amt, bank_held.n * sizeof(uint64_t)),
		      72);
}

static void bank_reader(void *arg)
{
	rng_state = 0xbead0000ull ^ (uint64_t)getpid();
	static const struct reader_ops ops = { bank_check, bank_hold, bank_recheck };
	unsigned rounds = reader_rounds(arg, 5, &ops);
	printf("ordered: reader %d: %u snapshots\n", (int)getpid(), rounds);
}

static void bank_writer(void *arg)
{
	const struct bank_args *a = arg;
	close(a->stop_wr);
	close(a->stop_fd);
	rng_state = 0x3a11e7ull ^ ((uint64_t)getpid() << 20);
	shmdb *db = test_child_open(&d);
	static struct bank_walk fw;
	uint64_t conflicts = 0;
	for (int i = 0; i < WRITER_TXNS; i++) {
		for (;;) {
			shmdb_rtxn *r;
			shmdb_wtxn *w;
			char key[8];
			static uint64_t cur[BANK_SLOTS];
			static uint8_t present[BANK_SLOTS], touched[BANK_SLOTS];
			CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 80);
			uint64_t since = shmdb_read_ts(r);
			bank_forward(r, a->t, &fw);
			shmdb_read_end(r);
			memset(present, 0, sizeof(present));
			memset(touched, 0, sizeof(touched));
			for (unsigned j = 0; j < fw.n; j++) {
				present[fw.slot[j]] = 1;
				cur[fw.slot[j]] = fw.amt[j];
			}
			CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 81);
			/* Sources: deleted, their amounts taken. */
			unsigned nsrc = 1 + rnd_below(3), got = 0;
			uint64_t moved = 0;
			if (nsrc > fw.n)
				nsrc = fw.n;
			while (got < nsrc) {
				unsigned s = fw.slot[rnd_below(fw.n)];
				if (touched[s])
					continue;
				touched[s] = 1;
				moved += cur[s];
				bank_key(key, s);
				CHILD_REQUIRE(shmdb_check(w, a->t, key, 5, since) == 0, 82);
				CHILD_REQUIRE(shmdb_del(w, a->t, key, 5) == 0, 82);
				got++;
			}
			/* Destinations: other keys, present or not. */
			unsigned ndst = 1 + rnd_below(3);
			for (unsigned j = 0; j < ndst; j++) {
				unsigned s;
				do
					s = rnd_below(BANK_SLOTS);
				while (touched[s]);
				touched[s] = 1;
				uint64_t part = j + 1 == ndst ? moved : rnd() % (moved + 1);
				moved -= part;
				uint64_t amt = (present[s] ? cur[s] : 0) + part;
				bank_key(key, s);
				CHILD_REQUIRE(shmdb_check(w, a->t, key, 5, since) == 0, 83);
				CHILD_REQUIRE(shmdb_put(w, a->t, key, 5, &amt, 8) == 0, 83);
			}
			int e = shmdb_commit(w, NULL);
			if (e == 0)
				break;
			if (e != SHMDB_ECONFLICT) {
				fprintf(stderr, "writer: commit: %s\n", shmdb_strerror(e));
				_exit(84);
			}
			CHILD_REQUIRE(++conflicts < 100000, 85);
		}
	}
	printf("ordered: writer %d: %d commits, %" PRIu64 " conflicts\n", (int)getpid(), WRITER_TXNS,
	       conflicts);
	shmdb_close(db);
}

START_TEST(writers_and_readers_on_one_range)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_open(db, "bank", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	shmdb_wtxn *w;
	char key[8];
	uint64_t amt = BANK_AMOUNT, out = 7;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (unsigned s = 0; s < BANK_SLOTS; s += BANK_SLOTS / BANK_START) {
		bank_key(key, s);
		ck_assert_int_eq(shmdb_put(w, t, key, 5, &amt, 8), 0);
	}
	ck_assert_int_eq(shmdb_put(w, t, "q", 1, &out, 8), 0);
	ck_assert_int_eq(shmdb_put(w, t, "s", 1, &out, 8), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(count_now(db, t), BANK_START + 2);

	int stop[2];
	ck_assert_int_eq(pipe(stop), 0);
	struct bank_args a = { .t = t, .stop_fd = stop[0], .stop_wr = stop[1] };
	pid_t readers[BANK_READERS], writers[BANK_WRITERS];
	for (int i = 0; i < BANK_READERS; i++)
		readers[i] = test_spawn(bank_reader, &a);
	for (int i = 0; i < BANK_WRITERS; i++)
		writers[i] = test_spawn(bank_writer, &a);
	close(stop[0]);
	int wcode[BANK_WRITERS], rcode[BANK_READERS];
	for (int i = 0; i < BANK_WRITERS; i++)
		wcode[i] = test_reap(writers[i], 250000);
	close(stop[1]);
	for (int i = 0; i < BANK_READERS; i++)
		rcode[i] = test_reap(readers[i], 60000);
	for (int i = 0; i < BANK_WRITERS; i++)
		ck_assert_msg(wcode[i] == 0, "writer %d ended with %d", i, wcode[i]);
	for (int i = 0; i < BANK_READERS; i++)
		ck_assert_msg(rcode[i] == 0, "reader %d ended with %d", i, rcode[i]);

	/* The end state, by one more reader (stop already said: one round). */
	ck_assert_int_eq(pipe(stop), 0);
	close(stop[1]);
	a.stop_fd = stop[0];
	a.stop_wr = -1;
	pid_t last = test_spawn(bank_reader, &a);
	int code = test_reap(last, 60000);
	close(stop[0]);
	ck_assert_msg(code == 0, "the last reader ended with %d", code);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 5. memory of a churned ordered table ------------------------------------------- */

/*
 * Cursors while keys go into their leaves in place: the table starts with
 * the even keys of INPLACE_KEYS (leaves written with room), then a writer
 * puts the odd ones in random order, a few per commit, each between two
 * keys a leaf holds, so each lands in place (layout.h) while readers walk
 * the same leaves. A reader holds one snapshot and walks it again and
 * again, forward with a prev and next every few steps and backward, each
 * time finding the same records; with fresh snapshots too, walks must be
 * in strict order and as long as shmdb_count.
 */
enum { INPLACE_KEYS = 6000, INPLACE_READERS = 2 };

static void inplace_key(char *k, unsigned i)
{
	snprintf(k, 8, "i%06u", i);
}

static unsigned inplace_num(const shmdb_val *k)
{
	char b[8] = { 0 };
	memcpy(b, k->data, k->len < 7 ? k->len : 7);
	return (unsigned)strtoul(b + 1, NULL, 10);
}

/* One walk of snapshot r into got[] (its key numbers): forward, with a
 * prev and a next every 7 steps that must return the record next just
 * did, then backward, which must return the same records reversed. Keys
 * in strict order, as many as shmdb_count says. Returns the count. */
static unsigned inplace_walk(shmdb_rtxn *r, shmdb_table t, unsigned *got)
{
	shmdb_cursor *c;
	shmdb_val k, v, k2;
	uint64_t want = 0;
	unsigned n = 0;
	CHILD_REQUIRE(shmdb_count(r, t, &want) == 0, 90);
	CHILD_REQUIRE(shmdb_cursor_open(r, t, &c) == 0, 91);
	while (shmdb_cursor_next(c, &k, &v) == 0) {
		unsigned x = inplace_num(&k);
		if (n >= INPLACE_KEYS || (n && x <= got[n - 1]) || v.len != 4 ||
		    memcmp(v.data, k.data + 3, 4)) {
			fprintf(stderr, "walk: record %u is %s after %u\n", n, hexs(k.data, k.len),
				n ? got[n - 1] : 0);
			_exit(92);
		}
		got[n++] = x;
		if (n % 7 == 0) {
			CHILD_REQUIRE(shmdb_cursor_prev(c, &k2, &v) == 0 && inplace_num(&k2) == x, 93);
			CHILD_REQUIRE(shmdb_cursor_next(c, &k2, &v) == 0 && inplace_num(&k2) == x, 94);
		}
	}
	if (n != want) {
		fprintf(stderr, "walk: %u records, count %" PRIu64 "\n", n, want);
		_exit(95);
	}
	CHILD_REQUIRE(shmdb_cursor_seek_end(c) == 0, 96);
	for (unsigned i = n; i-- > 0;) {
		CHILD_REQUIRE(shmdb_cursor_prev(c, &k, &v) == 0, 97);
		if (inplace_num(&k) != got[i]) {
			fprintf(stderr, "backward walk: %s where the forward walk had %u\n",
				hexs(k.data, k.len), got[i]);
			_exit(98);
		}
	}
	CHILD_REQUIRE(shmdb_cursor_prev(c, &k, &v) == -ENOENT, 99);
	shmdb_cursor_close(c);
	return n;
}

/* Seeks in the held snapshot (its records first[0..n)) while keys go into
 * its leaves: to a random key number x, then next (the first record >= x),
 * prev (the same), prev (the one before). */
static void inplace_seeks(shmdb_rtxn *r, shmdb_table t, const unsigned *first, unsigned n)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	char key[8];
	CHILD_REQUIRE(shmdb_cursor_open(r, t, &c) == 0, 103);
	for (int s = 0; s < 64; s++) {
		unsigned x = rnd_below(INPLACE_KEYS + 1), i = 0;
		while (i < n && first[i] < x)
			i++;
		inplace_key(key, x);
		CHILD_REQUIRE(shmdb_cursor_seek(c, key, 7) == 0, 104);
		int e = shmdb_cursor_next(c, &k, &v);
		CHILD_REQUIRE(i < n ? e == 0 && inplace_num(&k) == first[i] : e == -ENOENT, 105);
		e = shmdb_cursor_prev(c, &k, &v);
		if (i < n)
			CHILD_REQUIRE(e == 0 && inplace_num(&k) == first[i], 106);
		else
			CHILD_REQUIRE(e == 0 && inplace_num(&k) == first[n - 1], 106);
		if (i < n) {
			e = shmdb_cursor_prev(c, &k, &v);
			CHILD_REQUIRE(i > 0 ? e == 0 && inplace_num(&k) == first[i - 1] : e == -ENOENT,
				      107);
		}
	}
	shmdb_cursor_close(c);
}

/* Walks a snapshot held from the start, again and again, and each time
 * a fresh one, until told to stop: the held one must give the same
 * records each time. */
static void inplace_reader(void *arg)
{
	const struct bank_args *a = arg;
	close(a->stop_wr);
	shmdb *db = test_child_open(&d), *hdb = test_child_open(&d);
	static unsigned first[INPLACE_KEYS], again[INPLACE_KEYS];
	shmdb_rtxn *held, *r;
	unsigned rounds = 0;
	uint64_t deadline = test_now_ms() + 120000;
	CHILD_REQUIRE(shmdb_read_begin(hdb, &held) == 0, 100);
	rng_state = 0x5eed0000ull ^ (uint64_t)getpid();
	unsigned n = inplace_walk(held, a->t, first);
	do {
		CHILD_REQUIRE(inplace_walk(held, a->t, again) == n &&
				      !memcmp(first, again, n * sizeof(unsigned)),
			      101);
		inplace_seeks(held, a->t, first, n);
		CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 102);
		inplace_walk(r, a->t, again);
		shmdb_read_end(r);
		rounds++;
	} while (!test_told_to_stop(a->stop_fd) && test_now_ms() < deadline);
	shmdb_read_end(held);
	printf("ordered: in-place reader %d: %u rounds, held snapshot of %u keys\n", (int)getpid(),
	       rounds, n);
	shmdb_close(hdb);
	shmdb_close(db);
}

START_TEST(cursors_walk_leaves_taking_keys_in_place)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	shmdb_wtxn *w;
	char key[8];
	ck_assert_int_eq(shmdb_table_open(db, "inplace", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (unsigned i = 0; i < INPLACE_KEYS; i += 2) {
		inplace_key(key, i);
		ck_assert_int_eq(shmdb_put(w, t, key, 7, key + 3, 4), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	int stop[2];
	ck_assert_int_eq(pipe(stop), 0);
	struct bank_args a = { .t = t, .stop_fd = stop[0], .stop_wr = stop[1] };
	pid_t readers[INPLACE_READERS];
	for (int i = 0; i < INPLACE_READERS; i++)
		readers[i] = test_spawn(inplace_reader, &a);
	close(stop[0]);

	static unsigned odd[INPLACE_KEYS / 2];
	for (unsigned i = 0; i < INPLACE_KEYS / 2; i++)
		odd[i] = 2 * i + 1;
	rng_state = 0x1a9ace5ull;
	for (unsigned i = INPLACE_KEYS / 2; i > 1; i--) {
		unsigned j = rnd_below(i), x = odd[i - 1];
		odd[i - 1] = odd[j];
		odd[j] = x;
	}
	for (unsigned i = 0; i < INPLACE_KEYS / 2;) {
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (unsigned m = 1 + rnd_below(4); m > 0 && i < INPLACE_KEYS / 2; m--, i++) {
			inplace_key(key, odd[i]);
			ck_assert_int_eq(shmdb_put(w, t, key, 7, key + 3, 4), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	close(stop[1]);
	for (int i = 0; i < INPLACE_READERS; i++) {
		int code = test_reap(readers[i], 150000);
		ck_assert_msg(code == 0, "reader %d ended with %d", i, code);
	}
	uint64_t n = 0;
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	ck_assert_uint_eq(n, INPLACE_KEYS);
	shmdb_read_end(r);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/*
 * A leaf caught mid-change: the test stores an odd gen into the one leaf of
 * a small table through the daemon's own memory (/proc/<pid>/mem; as the
 * daemon's parent it may), as if its writer were stopped inside a change
 * in place. A cursor in another process waits, and returns the first
 * record once the gen is even again; then, with the gen odd once more and
 * the daemon killed, a cursor returns SHMDB_ENODAEMON instead of waiting
 * for ever.
 */
struct stuck_args {
	shmdb_table t;
};

static void stuck_reader(void *arg)
{
	const struct stuck_args *a = arg;
	shmdb *db = test_child_open(&d);
	shmdb_rtxn *r;
	shmdb_cursor *c;
	shmdb_val k, v;
	CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 110);
	CHILD_REQUIRE(shmdb_cursor_open(r, a->t, &c) == 0, 111);
	CHILD_REQUIRE(shmdb_cursor_next(c, &k, &v) == 0 && is_key(&k, "k00"), 112);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	shmdb_close(db);
}

/* Store gen into the daemon's copy of the node at offset `node`. */
static void daemon_store_gen(shmdb *db, uint64_t node, uint32_t gen)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)d.pid);
	FILE *maps = fopen(path, "r");
	ck_assert_ptr_nonnull(maps);
	unsigned long start = 0;
	while (fgets(line, sizeof(line), maps))
		if (strstr(line, "shmdb-arena-0") && sscanf(line, "%lx-", &start) == 1)
			break;
	fclose(maps);
	ck_assert_uint_ne(start, 0);
	uint64_t at = start + (node - db->meta->arena_table[0].range_off) + offsetof(struct shm_node, gen);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)d.pid);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &gen, sizeof(gen), (off_t)at), (ssize_t)sizeof(gen));
	close(fd);
}

START_TEST(cursor_on_a_leaf_left_mid_change)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	shmdb_wtxn *w;
	char key[8];
	ck_assert_int_eq(shmdb_table_open(db, "stuck", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		ck_assert_int_eq(shmdb_put(w, t, key, 3, "v", 1), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	uint64_t leaf = shm_count_at(r->base, shm_table_at(r->meta, t, r->snap), r->snap).root;
	const struct shm_node *n = shm_node_at(r->base, leaf);
	ck_assert_uint_eq(n->level, 0); /* one leaf: the root */
	uint32_t gen = n->gen;
	ck_assert_uint_eq(gen % 2, 0);

	/* Odd while the daemon lives: the reader waits, then reads. */
	daemon_store_gen(db, leaf, gen + 1);
	struct stuck_args a = { .t = t };
	pid_t child = test_spawn(stuck_reader, &a);
	test_sleep_us(50000);
	daemon_store_gen(db, leaf, gen + 2);
	ck_assert_int_eq(test_reap(child, 30000), 0);

	/* Odd, and the daemon killed: an error, not a wait without end. */
	shmdb_cursor *c;
	shmdb_val k, v;
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	daemon_store_gen(db, leaf, gen + 3);
	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	d.pid = 0;
	ck_assert_int_eq(shmdb_cursor_next(c, &k, &v), SHMDB_ENODAEMON);
	ck_assert_int_eq(shmdb_cursor_seek(c, "k05", 3), SHMDB_ENODAEMON);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	shmdb_close(db);
}
END_TEST

/*
 * CHURN_KEYS keys of 6 bytes with 16-byte values, put or deleted at random,
 * CHURN_PER_TXN a commit, with no snapshot held. The bound, per key of the
 * key space (deleted keys may keep a tombstone and an index slot until
 * reclaimed, so live records alone are not the measure): one live version
 * (a 24-byte header, the key and the value rounded to 8: 48 bytes, 64 with
 * its allocator class) and a tombstone of as much; hash slots of 8 bytes at
 * no less than 1/4 load, twice while the index is rebuilt (64); its share
 * of the tree's nodes at no less than half full, a copy-on-write copy of a
 * node in flight (256 generously). About 450 bytes: the bound says 1 KiB,
 * plus 1 MiB for what a table holds whatever its size (its first index and
 * tree, slabs started). A daemon that kept what the churn retires would
 * pass it fast: 200,000 operations, each retiring a version of at least 48
 * bytes or a node, are 9.6 MB against 3 MiB.
 */
enum { CHURN_KEYS = 2000, CHURN_TXNS = 400, CHURN_PER_TXN = 500, BYTES_PER_KEY = 1024 };
#define CHURN_FIXED ((uint64_t)1 << 20)

START_TEST(churned_ordered_table_stays_bounded)
{
	static uint8_t present[CHURN_KEYS];
	uint64_t live = 0;
	rng_state = 0xc407ull;
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_open(db, "churn", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	uint64_t base = settled_mem_used(db), bound = (uint64_t)CHURN_KEYS * BYTES_PER_KEY + CHURN_FIXED;
	uint64_t peak_bytes = 0;
	for (int i = 0; i < CHURN_TXNS; i++) {
		shmdb_wtxn *w;
		int e = shmdb_write_begin(db, &w);
		FAIL_UNLESS(e == 0, "write_begin: %s", show_rc(e));
		for (int j = 0; j < CHURN_PER_TXN && !e; j++) {
			char key[8];
			uint8_t val[16];
			unsigned k = rnd_below(CHURN_KEYS);
			snprintf(key, sizeof(key), "m%05u", k);
			if (rnd_below(2)) {
				memset(val, (int)(i + j), sizeof(val));
				e = shmdb_put(w, t, key, 6, val, sizeof(val));
				live += !present[k];
				present[k] = 1;
			} else {
				e = shmdb_del(w, t, key, 6);
				live -= present[k];
				present[k] = 0;
			}
		}
		FAIL_UNLESS(e == 0, "txn %d: %s", i, show_rc(e));
		e = shmdb_commit(w, NULL);
		FAIL_UNLESS(e == 0, "commit %d: %s", i, show_rc(e));
		if (i % 50 == 49) {
			shmdb_table_info ti = table_info(db, "churn");
			ck_assert_uint_eq(ti.count, live);
			if (ti.bytes > peak_bytes)
				peak_bytes = ti.bytes;
		}
	}
	uint64_t used = settled_mem_used(db);
	shmdb_table_info ti = table_info(db, "churn");
	printf("ordered: churn: %" PRIu64 " live keys, table bytes %" PRIu64 " (at most %" PRIu64
	       "), arena use %" PRIu64 " over the %" PRIu64 " before; bound %" PRIu64 "\n",
	       live, ti.bytes, peak_bytes, used > base ? used - base : 0, base, bound);
	ck_assert_uint_eq(ti.count, live);
	ck_assert_int_eq(ti.flags, SHMDB_ORDERED);
	ck_assert_uint_gt(ti.bytes, 0);
	ck_assert_msg(peak_bytes <= bound && ti.bytes <= bound,
		      "the table's bytes reached %" PRIu64 " (%" PRIu64 " now): over %" PRIu64, peak_bytes,
		      ti.bytes, bound);
	ck_assert_msg(used <= base + bound,
		      "arena use %" PRIu64 " after the churn, %" PRIu64 " before: over the bound %" PRIu64,
		      used, base, bound);
	/* Cleared, no snapshot: back to within CHURN_FIXED of the start. */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_clear(w, t), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	used = settled_mem_used(db);
	ck_assert_msg(used <= base + CHURN_FIXED,
		      "arena use %" PRIu64 " after the clear, %" PRIu64 " before the churn", used, base);
	ck_assert_uint_eq(count_now(db, t), 0);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 6. a leaf replaced after a key was overwritten in place -------------------------- */

/* 4,000 commits of versions of a 3- or 4-byte key and a 19-byte value
 * into table `other`, in 20 rounds 20 ms apart, while the reclaimer runs:
 * a block of that size freed meanwhile is soon written again. */
static void churn_versions(shmdb *db, shmdb_table other)
{
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 200; i++) {
			char k[16], v[32];
			snprintf(k, sizeof(k), "o%03d", i % 50);
			snprintf(v, sizeof(v), "o-%03d-%03d----------", round, i);
			ck_assert_int_eq(test_commit_put(db, other, k, v, strlen(v), NULL), 0);
		}
		test_sleep_us(20000);
	}
}

/* The value of key `k` in snapshot r, through a seek, checked to be the
 * record of that key. */
static void seek_value_is(shmdb_rtxn *r, shmdb_table t, const char *k, const char *want)
{
	shmdb_cursor *c;
	shmdb_val key, val;
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	seek_s(c, k);
	ck_assert_int_eq(shmdb_cursor_next(c, &key, &val), 0);
	ck_assert_msg(val_is(&key, k, strlen(k)), "seek %s: landed on %s", k,
		      hexs(key.data, key.len));
	ck_assert_msg(val_is(&val, want, strlen(want)), "seek %s: %s, want %s", k,
		      hexs(val.data, val.len), want);
	shmdb_cursor_close(c);
}

/*
 * An overwrite stores the key's new version into its leaf in place; a
 * snapshot older than that version still reaches the leaf and walks the
 * key's chain from it. Once the leaf leaves the tree and another write
 * replaces the version, the old leaf is all that snapshot has: the version
 * it names must stay though no snapshot sees it. The leaf leaves by an
 * insert next to the key (REPLACED_BY_INSERT), or with the whole tree, by
 * a CLEAR or a DROP in the transaction that writes the key again (a drop
 * is a transaction of its own through the API: a raw one puts both in).
 * Churn of
 * versions of the same size then reuses whatever was freed, and the old
 * snapshot reads every record as it was.
 */
enum { REPLACED_BY_INSERT, REPLACED_BY_CLEAR, REPLACED_BY_DROP };

static void old_snapshot_after_leaf_leaves(int how)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t, other;
	ck_assert_int_eq(shmdb_table_open(db, "reach", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	ck_assert_int_eq(shmdb_table_open(db, "other", SHMDB_CREATE, &other), 0);
	static const char *const keys[] = { "a00", "a01", "a02", "a03", "a04",
					    "a05", "a06", "a07", "a08", "a09" };
	put_kv(db, t, keys, 10); /* one leaf; "a05" is "v:a05" */
	shmdb_rtxn *old;
	ck_assert_int_eq(shmdb_read_begin(db, &old), 0);
	char v1[32] = "v1-a05-------------", v2[32] = "v2-a05-------------";
	ck_assert_int_eq(test_commit_put(db, t, "a05", v1, strlen(v1), NULL), 0); /* in place */
	if (how == REPLACED_BY_INSERT) {
		static const char *const ins[] = { "a055" };
		put_kv(db, t, ins, 1); /* a new leaf */
		ck_assert_int_eq(test_commit_put(db, t, "a05", v2, strlen(v2), NULL), 0);
	} else if (how == REPLACED_BY_CLEAR) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		ck_assert_int_eq(shmdb_put(w, t, "a05", 3, v2, strlen(v2)), 0);
		ck_assert_int_eq(shmdb_clear(w, t), 0);
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	} else {
		uint8_t buf[256];
		size_t n1 = shm_op_size(3, strlen(v2)), n2 = shm_op_size(5, 0);
		memset(buf, 0, sizeof(buf));
		shm_op_encode(buf, SHM_OP_PUT, t, 0, "a05", 3, v2, strlen(v2));
		shm_op_encode(buf + n1, SHM_OP_DROP_TABLE, 0, 0, "reach", 5, NULL, 0);
		uint64_t ts = 0;
		ck_assert_int_eq(test_raw_txn(db, buf, n1 + n2, &ts), 0);
		ck_assert_uint_gt(ts, 0);
	}
	/* v1's block is freed here unless the old leaf keeps it. */
	churn_versions(db, other);
	for (int i = 0; i < 10; i++) {
		char want[16];
		snprintf(want, sizeof(want), "v:%s", keys[i]);
		seek_value_is(old, t, keys[i], want);
	}
	shmdb_val got;
	ck_assert_int_eq(shmdb_get(old, t, "a05", 3, &got), 0);
	ck_assert(val_is(&got, "v:a05", 5));
	uint64_t n;
	ck_assert_int_eq(shmdb_count(old, t, &n), 0);
	ck_assert_uint_eq(n, 10);
	shmdb_read_end(old);

	shmdb_rtxn *now;
	ck_assert_int_eq(shmdb_read_begin(db, &now), 0);
	if (how == REPLACED_BY_INSERT) {
		seek_value_is(now, t, "a05", v2);
		seek_value_is(now, t, "a055", "v:a055");
	}
	if (how == REPLACED_BY_DROP) {
		ck_assert_int_eq(shmdb_count(now, t, &n), -ENOENT);
	} else {
		ck_assert_int_eq(shmdb_count(now, t, &n), 0);
		ck_assert_uint_eq(n, how == REPLACED_BY_INSERT ? 11 : 0);
	}
	shmdb_read_end(now);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

/* Put every key of a table with `round`'s value, 10 keys a transaction
 * (a leaf takes that few overwrites in place). */
static void overwrite_all(shmdb *db, shmdb_table t, int nkeys, char round)
{
	for (int i = 0; i < nkeys; i += 10) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int j = i; j < i + 10 && j < nkeys; j++) {
			char k[16], v[32];
			snprintf(k, sizeof(k), "b%03d", j);
			snprintf(v, sizeof(v), "%c-b%03d-------------", round, j);
			ck_assert_int_eq(shmdb_put(w, t, k, strlen(k), v, strlen(v)), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
}

/*
 * The same with many keys at once: every leaf of a 300-key table takes new
 * versions in place, then an insert replaces each leaf, then every key is
 * overwritten again. That is a note per key while the old snapshot lives,
 * enough that the writer goes through its notes for ones no snapshot
 * needs (reach.c): it must keep all of these.
 */
START_TEST(many_replaced_leaves_keep_their_heads)
{
	enum { NKEYS = 300 };
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t, other;
	ck_assert_int_eq(shmdb_table_open(db, "reach", SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	ck_assert_int_eq(shmdb_table_open(db, "other", SHMDB_CREATE, &other), 0);
	/* An index that a rebuild replaces keeps every head it names for every
	 * older snapshot anyway (apply.c): sized now, it is not rebuilt. */
	ck_assert_int_eq(shmdb_table_reserve(db, t, 4 * NKEYS), 0);
	overwrite_all(db, t, NKEYS, '0');
	shmdb_rtxn *old;
	ck_assert_int_eq(shmdb_read_begin(db, &old), 0);
	overwrite_all(db, t, NKEYS, '1'); /* in place, every leaf */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < NKEYS; i += 5) {
		char k[16];
		snprintf(k, sizeof(k), "b%03dx", i);
		ck_assert_int_eq(shmdb_put(w, t, k, strlen(k), "new", 3), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0); /* every leaf replaced */
	overwrite_all(db, t, NKEYS, '2');
	churn_versions(db, other);
	for (int i = 0; i < NKEYS; i++) {
		char k[16], want[32];
		snprintf(k, sizeof(k), "b%03d", i);
		snprintf(want, sizeof(want), "0-b%03d-------------", i);
		seek_value_is(old, t, k, want);
	}
	uint64_t n;
	ck_assert_int_eq(shmdb_count(old, t, &n), 0);
	ck_assert_uint_eq(n, NKEYS);
	shmdb_read_end(old);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* Key i of the bound test: 8 bytes, big-endian, in key order as i. */
static void bound_key(uint8_t k[8], unsigned i)
{
	be64(k, (uint64_t)i * 16 + 16);
}

/* Snapshot r walks t forward and backward and finds keys 0..n-1 (bound
 * keys), each once, with the value v:<i> or, for key `re`, `rev`. */
static void bound_walk_is(shmdb_rtxn *r, shmdb_table t, unsigned n, unsigned re, const char *rev,
			  const char *what)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	uint8_t want[8];
	char val[16];
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	unsigned i = 0;
	while (shmdb_cursor_next(c, &k, &v) == 0) {
		ck_assert_msg(i < n, "%s: forward walk: a record past the %u it holds", what, n);
		bound_key(want, i);
		snprintf(val, sizeof(val), "v:%u", i);
		ck_assert_msg(val_is(&k, want, 8), "%s: forward record %u: key %s", what, i,
			      hexs(k.data, k.len));
		ck_assert_msg(val_is(&v, i == re ? rev : val, strlen(i == re ? rev : val)),
			      "%s: forward record %u: value %s", what, i, hexs(v.data, v.len));
		i++;
	}
	ck_assert_msg(i == n, "%s: forward walk: %u records, want %u", what, i, n);
	while (shmdb_cursor_prev(c, &k, &v) == 0) {
		ck_assert_msg(i > 0, "%s: backward walk: a record before the first", what);
		bound_key(want, --i);
		ck_assert_msg(val_is(&k, want, 8), "%s: backward record %u: key %s", what, i,
			      hexs(k.data, k.len));
	}
	ck_assert_msg(i == 0, "%s: backward walk stopped at %u", what, i);
	shmdb_cursor_close(c);
}

/*
 * A leaf takes a key past its last in place only below its bound: the
 * first key of the leaf after it when it was written. Keys put in key
 * order, one a commit, fill one leaf, which splits when a key finds it
 * full (SHM_NODE_MAX keys: at 33 of 65). A snapshot is taken; the keys
 * from j on are deleted in one commit, and for the j that is the split's,
 * that empties the right half, which leaves the tree while the left one
 * stays and its range grows over the deleted keys. Key j put again then
 * goes to the left half: past its last, but not below its bound, so the
 * left half is written anew; taken in place, the snapshot (which reads
 * that leaf too) would find key j there as well as in the right half.
 * Every j around the split point, each on a table of its own.
 */
START_TEST(keys_past_a_leaf_stay_within_its_bound)
{
	enum { N = SHM_NODE_MAX + 1 };
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	for (unsigned j = N / 2 - 8; j <= N / 2 + 8; j++) {
		char name[32], val[16];
		uint8_t k[8];
		shmdb_table t;
		snprintf(name, sizeof(name), "bound%u", j);
		ck_assert_int_eq(shmdb_table_open(db, name, SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
		for (unsigned i = 0; i < N; i++) {
			bound_key(k, i);
			snprintf(val, sizeof(val), "v:%u", i);
			shmdb_wtxn *w;
			ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
			ck_assert_int_eq(shmdb_put(w, t, k, 8, val, strlen(val)), 0);
			ck_assert_int_eq(shmdb_commit(w, NULL), 0);
		}
		shmdb_rtxn *old;
		ck_assert_int_eq(shmdb_read_begin(db, &old), 0);
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (unsigned i = j; i < N; i++) {
			bound_key(k, i);
			ck_assert_int_eq(shmdb_del(w, t, k, 8), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
		bound_key(k, j);
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		ck_assert_int_eq(shmdb_put(w, t, k, 8, "again", 5), 0);
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
		bound_walk_is(old, t, N, N, "", name);
		shmdb_read_end(old);
		shmdb_rtxn *now;
		ck_assert_int_eq(shmdb_read_begin(db, &now), 0);
		bound_walk_is(now, t, j + 1, j, "again", name);
		shmdb_read_end(now);
	}
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(old_snapshot_walks_from_a_replaced_leaf)
{
	old_snapshot_after_leaf_leaves(REPLACED_BY_INSERT);
}
END_TEST

START_TEST(old_snapshot_walks_from_a_cleared_tree)
{
	old_snapshot_after_leaf_leaves(REPLACED_BY_CLEAR);
}
END_TEST

START_TEST(old_snapshot_walks_from_a_dropped_tree)
{
	old_snapshot_after_leaf_leaves(REPLACED_BY_DROP);
}
END_TEST

/* ---- commits that fail leave the trees as they were ------------------------------- */

/* The keys an ordered table should hold, in order: "k000" .. and the extra
 * ones inserted since ("k%03dx", each right after its "k%03d"). */
struct expect_keys {
	int n;
	char k[512][8];
};

static int str_qcmp(const void *a, const void *b)
{
	return strcmp(a, b); /* NUL-free: the store's order */
}

/* Forward and backward walks of t in a new snapshot of db equal e, and so
 * does the count. */
static void walks_are(shmdb *db, shmdb_table t, struct expect_keys *e, const char *when)
{
	shmdb_rtxn *r;
	shmdb_cursor *c;
	shmdb_val k, v;
	uint64_t n = 0;
	int i, rc;
	qsort(e->k, (size_t)e->n, sizeof(e->k[0]), str_qcmp);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	FAIL_UNLESS(n == (uint64_t)e->n, "%s: count %" PRIu64 ", want %d", when, n, e->n);
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	for (i = 0; (rc = shmdb_cursor_next(c, &k, &v)) == 0; i++)
		FAIL_UNLESS(i < e->n && val_is(&k, e->k[i], strlen(e->k[i])),
			    "%s: forward walk, record %d: %s, want %s", when, i, hexs(k.data, k.len),
			    i < e->n ? e->k[i] : "the end");
	FAIL_UNLESS(rc == -ENOENT && i == e->n, "%s: forward walk ended with %s after %d records, want %d",
		    when, show_rc(rc), i, e->n);
	ck_assert_int_eq(shmdb_cursor_seek_end(c), 0);
	for (i = e->n; (rc = shmdb_cursor_prev(c, &k, &v)) == 0;) {
		i--;
		FAIL_UNLESS(i >= 0 && val_is(&k, e->k[i], strlen(e->k[i])),
			    "%s: backward walk, record %d: %s, want %s", when, i, hexs(k.data, k.len),
			    i >= 0 ? e->k[i] : "the end");
	}
	FAIL_UNLESS(rc == -ENOENT && i == 0, "%s: backward walk ended with %s at record %d", when,
		    show_rc(rc), i);
	for (i = 0; i < e->n; i += 7) {
		ck_assert_int_eq(shmdb_cursor_seek(c, e->k[i], strlen(e->k[i])), 0);
		rc = shmdb_cursor_next(c, &k, &v);
		FAIL_UNLESS(rc == 0 && val_is(&k, e->k[i], strlen(e->k[i])), "%s: seek %s: next %s %s",
			    when, e->k[i], show_rc(rc), rc ? "" : hexs(k.data, k.len));
	}
	shmdb_cursor_close(c);
	shmdb_read_end(r);
}

/*
 * Transactions that fail at commit, applying nothing, for each reason a
 * client can meet (a check that conflicts, on the table or another one; a
 * table that does not exist; a check on a multimap): after each, the
 * ordered table (200 keys: several nodes) and the multimap walk as before,
 * and a commit after it that inserts a key walks as it should.
 */
START_TEST(failed_commits_leave_trees_intact)
{
	static struct expect_keys e;
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table o, m, h;
	shmdb_wtxn *w;
	uint64_t ts = 0;
	char when[96];
	ck_assert_int_eq(shmdb_table_open(db, "o", SHMDB_CREATE | SHMDB_ORDERED, &o), 0);
	ck_assert_int_eq(shmdb_table_open(db, "m", SHMDB_CREATE | SHMDB_MULTI, &m), 0);
	h = test_table(db, "h");
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (e.n = 0; e.n < 200; e.n++) {
		snprintf(e.k[e.n], sizeof(e.k[0]), "k%03u", (unsigned)e.n % 1000u);
		ck_assert_int_eq(shmdb_put(w, o, e.k[e.n], 4, "v", 1), 0);
		ck_assert_int_eq(shmdb_put(w, m, "mk", 2, e.k[e.n], 4), 0);
	}
	ck_assert_int_eq(shmdb_put(w, h, "hk", 2, "v", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, &ts), 0);
	walks_are(db, o, &e, "after the load");
	ck_assert_uint_eq(count_now(db, m), 200);

	enum { F_CONFLICT_SAME, F_CONFLICT_OTHER, F_NO_TABLE, F_CHECK_MULTI, F_COUNT };
	static const char *const fname[F_COUNT] = { "a conflict on the table", "a conflict on another table",
						    "a table that does not exist",
						    "a check on a multimap" };
	static const int fwant[F_COUNT] = { SHMDB_ECONFLICT, SHMDB_ECONFLICT, -ENOENT, -ENOTSUP };
	for (int round = 0; round < 2; round++) {
		for (int f = 0; f < F_COUNT; f++) {
			/* Something written after ts, for the checks to see. */
			uint64_t now = 0;
			ck_assert_int_eq(test_commit_put(db, h, "hk", "w", 1, &now), 0);
			if (f == F_CONFLICT_SAME)
				ck_assert_int_eq(test_commit_put(db, o, "k000", "w", 1, &now), 0);
			ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
			ck_assert_int_eq(shmdb_put(w, o, "ghost", 5, "x", 1), 0);
			ck_assert_int_eq(shmdb_del(w, o, "k100", 4), 0);
			ck_assert_int_eq(shmdb_put(w, m, "mk", 2, "ghost", 5), 0);
			switch (f) {
			case F_CONFLICT_SAME:
				ck_assert_int_eq(shmdb_check(w, o, "k000", 4, now - 1), 0);
				break;
			case F_CONFLICT_OTHER:
				ck_assert_int_eq(shmdb_check(w, h, "hk", 2, now - 1), 0);
				break;
			case F_NO_TABLE:
				ck_assert_int_eq(shmdb_put(w, 0x00ab0123, "x", 1, "x", 1), 0);
				break;
			case F_CHECK_MULTI:
				ck_assert_int_eq(shmdb_check(w, m, "mk", 2, now), 0);
				break;
			}
			ck_assert_int_eq(shmdb_commit(w, NULL), fwant[f]);
			snprintf(when, sizeof(when), "round %d, right after %s", round, fname[f]);
			walks_are(db, o, &e, when);
			FAIL_UNLESS(count_now(db, m) == 200u + (unsigned)(round * F_COUNT + f), "%s: multimap count",
				    when);
			/* Then a commit that inserts. */
			int x = 3 + 41 * (round * F_COUNT + f) % 190;
			snprintf(e.k[e.n++], sizeof(e.k[0]), "k%03dx", x);
			ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
			ck_assert_int_eq(shmdb_put(w, o, e.k[e.n - 1], 5, "v", 1), 0);
			ck_assert_int_eq(shmdb_put(w, m, "mk", 2, e.k[e.n - 1], 5), 0);
			ck_assert_int_eq(shmdb_commit(w, NULL), 0);
			snprintf(when, sizeof(when), "round %d, the insert after %s", round, fname[f]);
			walks_are(db, o, &e, when);
		}
	}
	/* The multimap walks whole too: "mk" with every key of e as values. */
	shmdb_rtxn *r;
	shmdb_cursor *c;
	shmdb_val k, v;
	int i = 0, rc;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, m, &c), 0);
	for (i = 0; (rc = shmdb_cursor_next(c, &k, &v)) == 0; i++)
		FAIL_UNLESS(i < e.n && val_is(&k, "mk", 2) && val_is(&v, e.k[i], strlen(e.k[i])),
			    "multimap, pair %d: %s = %s, want mk = %s", i, hexs(k.data, k.len),
			    hexs(v.data, v.len), i < e.n ? e.k[i] : "the end");
	ck_assert_int_eq(i, e.n);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- hostile transactions about kinds ----------------------------------------------- */

struct kind_args {
	shmdb_table h, o, m;
};

/* Malformed or refused transactions: each fails, and applies nothing. */
static void kinds_hostile_child(void *arg)
{
	const struct kind_args *a = arg;
	shmdb *db = test_child_open(&d);
	static uint8_t buf[4096], big[SHMDB_MAX_MULTI_VALUE + 1];
	uint64_t ts = 1;
	size_t nd = shm_op_size(1, 1), np = shm_op_size(6, 1), nb = shm_op_size(6, sizeof(big));
	memset(big, 0x5a, sizeof(big));

	/* DEL_VALUE on a hash table and on an ordered one. */
	shm_op_encode(buf, SHM_OP_DEL_VALUE, a->h, 0, "k", 1, "v", 1);
	CHILD_REQUIRE(test_raw_txn(db, buf, nd, &ts) == -ENOTSUP && ts == 0, 10);
	shm_op_encode(buf, SHM_OP_DEL_VALUE, a->o, 0, "k", 1, "v", 1);
	CHILD_REQUIRE(test_raw_txn(db, buf, nd, &ts) == -ENOTSUP && ts == 0, 11);
	/* After a good put: nothing applied. */
	shm_op_encode(buf, SHM_OP_PUT, a->h, 0, "ghost1", 6, "x", 1);
	shm_op_encode(buf + np, SHM_OP_DEL_VALUE, a->h, 0, "k", 1, "v", 1);
	CHILD_REQUIRE(test_raw_txn(db, buf, np + nd, &ts) == -ENOTSUP && ts == 0, 12);
	/* A multimap pair with a value of 1,025 bytes, alone and after a
	 * good pair. */
	shm_op_encode(buf, SHM_OP_PUT, a->m, 0, "ghost2", 6, big, sizeof(big));
	CHILD_REQUIRE(test_raw_txn(db, buf, nb, &ts) == -E2BIG && ts == 0, 13);
	shm_op_encode(buf, SHM_OP_PUT, a->m, 0, "ghost1", 6, "x", 1);
	shm_op_encode(buf + np, SHM_OP_PUT, a->m, 0, "ghost2", 6, big, sizeof(big));
	CHILD_REQUIRE(test_raw_txn(db, buf, np + nb, &ts) == -E2BIG && ts == 0, 14);
	/* CREATE_TABLE with a kind other than 0, 2 or 6. */
	static const uint64_t bad[] = { 1, 3, 4, 5, 7, 8, 0x102, 1ull << 33, UINT64_MAX };
	size_t nc = shm_op_size(6, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		shm_op_encode(buf, SHM_OP_CREATE_TABLE, 0, bad[i], "ghostt", 6, NULL, 0);
		int e = test_raw_txn(db, buf, nc, &ts);
		if (e != SHMDB_EBADTXN || ts != 0) {
			fprintf(stderr, "CREATE_TABLE of kind %" PRIu64 ": %s, not SHMDB_EBADTXN\n",
				bad[i], show_rc(e));
			_exit(15);
		}
	}
	/* ... also after a good put. */
	shm_op_encode(buf, SHM_OP_PUT, a->o, 0, "ghost1", 6, "x", 1);
	shm_op_encode(buf + np, SHM_OP_CREATE_TABLE, 0, 4, "ghostt", 6, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, np + nc, &ts) == SHMDB_EBADTXN && ts == 0, 16);
	shmdb_close(db);
}

/* The same encodings where they are right: they apply. */
static void kinds_good_child(void *arg)
{
	const struct kind_args *a = arg;
	shmdb *db = test_child_open(&d);
	static uint8_t buf[4096];
	uint64_t ts = 0;
	size_t nc = shm_op_size(4, 0), nd = shm_op_size(1, 1);
	static const uint64_t kinds[] = { 0, 2, 6 };
	static const char *const names[] = { "rawh", "rawo", "rawm" };
	for (int i = 0; i < 3; i++) {
		shm_op_encode(buf, SHM_OP_CREATE_TABLE, 0, kinds[i], names[i], 4, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, nc, &ts) == 0 && ts > 0, 20);
	}
	shm_op_encode(buf, SHM_OP_DEL_VALUE, a->m, 0, "k", 1, "a", 1);
	CHILD_REQUIRE(test_raw_txn(db, buf, nd, &ts) == 0 && ts > 0, 21);
	shmdb_close(db);
}

/* Names, kinds and counts of every table, what a cursor walks in each
 * (records and a digest of them), and the last commit. */
struct store_state {
	size_t n;
	shmdb_table_info t[16];
	uint64_t walked[16], digest[16];
	uint64_t ts;
};

static uint64_t bytes_digest(const shmdb_val *x)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < x->len; i++)
		h = (h ^ ((const uint8_t *)x->data)[i]) * 0x100000001b3ull;
	return mix(h ^ x->len);
}

static void store_state(shmdb *db, struct store_state *s)
{
	shmdb_rtxn *r;
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_tables(r, s->t, 16, &s->n), 0);
	s->ts = shmdb_read_ts(r);
	ck_assert_uint_le(s->n, 16);
	for (size_t i = 0; i < s->n; i++) {
		shmdb_cursor *c;
		shmdb_val k, v;
		s->t[i].bytes = 0; /* the daemon may rearrange; not compared */
		ck_assert_int_eq(shmdb_cursor_open(r, s->t[i].id, &c), 0);
		while (shmdb_cursor_next(c, &k, &v) == 0) {
			s->walked[i]++;
			/* In any order: a hash table's cursor has none. */
			s->digest[i] += mix(bytes_digest(&k) * 31 + bytes_digest(&v));
		}
		shmdb_cursor_close(c);
		ck_assert_msg(s->walked[i] == s->t[i].count, "table %s: a cursor walks %" PRIu64
			      " records, shmdb_tables counts %" PRIu64, s->t[i].name, s->walked[i],
			      s->t[i].count);
	}
	shmdb_read_end(r);
}

START_TEST(hostile_kinds_change_nothing)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	struct kind_args a;
	a.h = test_table(db, "h");
	ck_assert_int_eq(shmdb_table_open(db, "o", SHMDB_CREATE | SHMDB_ORDERED, &a.o), 0);
	ck_assert_int_eq(shmdb_table_open(db, "m", SHMDB_CREATE | SHMDB_MULTI, &a.m), 0);
	ck_assert_int_eq(test_commit_put(db, a.h, "k", "v", 1, NULL), 0);
	ck_assert_int_eq(test_commit_put(db, a.o, "k", "v", 1, NULL), 0);
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, a.m, "k", 1, "a", 1), 0);
	ck_assert_int_eq(shmdb_put(w, a.m, "k", 1, "b", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	struct store_state before, after;
	store_state(db, &before);
	pid_t pid = test_spawn(kinds_hostile_child, &a);
	int code = test_reap(pid, 60000);
	ck_assert_msg(code == 0, "the hostile child ended with %d", code);
	store_state(db, &after);
	ck_assert_uint_eq(after.ts, before.ts);
	ck_assert_uint_eq(after.n, before.n);
	ck_assert(!memcmp(&after, &before, sizeof(before)));
	ck_assert(!test_visible(db, a.h, "ghost1") && !test_visible(db, a.o, "ghost1"));
	ck_assert(!test_visible(db, a.m, "ghost1") && !test_visible(db, a.m, "ghost2"));
	shmdb_table x;
	ck_assert_int_eq(shmdb_table_open(db, "ghostt", 0, &x), -ENOENT);
	test_assert_served(&d, "after the hostile kinds");

	/* The encodings themselves are right. */
	pid = test_spawn(kinds_good_child, &a);
	code = test_reap(pid, 60000);
	ck_assert_msg(code == 0, "the good child ended with %d", code);
	ck_assert_int_eq(table_info(db, "rawh").flags, 0);
	ck_assert_int_eq(table_info(db, "rawo").flags, SHMDB_ORDERED);
	ck_assert_int_eq(table_info(db, "rawm").flags, SHMDB_ORDERED | SHMDB_MULTI);
	ck_assert_uint_eq(count_now(db, a.m), 1);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 7. records gathered in key order while the writer is idle ---------------------- */

#define GATHER_N 20000
#define GATHER_VLEN 100

/* Walk table t in r's snapshot: each record's value view into views[]
 * (NULL: not kept) and a copy into copies[] (NULL: none), checking the
 * records are keys 0..GATHER_N-1 in order with their values; how many times
 * a record's value is on another 4 KiB page than the one before's. */
static unsigned gather_walk(shmdb_rtxn *r, shmdb_table t, unsigned records, const uint8_t **views,
			    uint8_t (*copies)[GATHER_VLEN])
{
	shmdb_cursor *c;
	shmdb_val k, v;
	unsigned n = 0, jumps = 0;
	uintptr_t page = 0;
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	while (shmdb_cursor_next(c, &k, &v) == 0) {
		char want[16];
		snprintf(want, sizeof(want), "g%07u", n);
		FAIL_UNLESS(n < records && k.len == 8 && !memcmp(k.data, want, 8) &&
				    v.len == GATHER_VLEN && ((const uint8_t *)v.data)[0] == (uint8_t)n &&
				    ((const uint8_t *)v.data)[1] == (uint8_t)(n >> 8),
			    "record %u: key %s, %zu value bytes", n, hexs(k.data, k.len), v.len);
		jumps += n && (uintptr_t)v.data / 4096 != page;
		page = (uintptr_t)v.data / 4096;
		if (views)
			views[n] = v.data;
		if (copies)
			memcpy(copies[n], v.data, GATHER_VLEN);
		n++;
	}
	shmdb_cursor_close(c);
	ck_assert_uint_eq(n, records);
	return jumps;
}

/* Table `name`, ordered, made with keys 0..n-1 (n a multiple of 1,000) put
 * in random order, 1,000 a transaction. */
static shmdb_table gather_load(shmdb *db, const char *name, unsigned n)
{
	static unsigned order[GATHER_N];
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_open(db, name, SHMDB_CREATE | SHMDB_ORDERED, &t), 0);
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = rnd_below(i + 1), x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	for (unsigned i = 0; i < n; i += 1000) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (unsigned j = i; j < i + 1000; j++) {
			char key[16];
			uint8_t val[GATHER_VLEN];
			snprintf(key, sizeof(key), "g%07u", order[j]);
			memset(val, 'v', sizeof(val));
			val[0] = (uint8_t)order[j];
			val[1] = (uint8_t)(order[j] >> 8);
			ck_assert_int_eq(shmdb_put(w, t, key, 8, val, sizeof(val)), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	return t;
}

/* An ordered table loaded in random key order has its records in load
 * order, a page per record in key order; once the writer is idle it
 * copies them side by side in key order (between the load's transactions
 * too, if it has a moment). A snapshot held meanwhile reads the same bytes
 * behind the views it had and on every walk after; a new one walks far
 * fewer pages; nothing is committed for it; the originals are freed once
 * the snapshot ends, with no commit either (test_core shows the held
 * snapshot keeping them step by step). */
START_TEST(records_gathered_in_key_order)
{
	static const uint8_t *views[GATHER_N];
	static uint8_t copies[GATHER_N][GATHER_VLEN];
	rng_state = 0x6a7eull;
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	/* Too few puts for a pass: as loaded. */
	shmdb_table few = gather_load(db, "few", 3000);
	shmdb_table t = gather_load(db, "gather", GATHER_N);

	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	uint64_t ts = shmdb_read_ts(r);
	unsigned before = gather_walk(r, few, 3000, NULL, NULL);
	gather_walk(r, t, GATHER_N, views, copies);
	shmdb_stats st;
	int waited = 0;
	do {
		test_sleep_us(10000);
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	} while ((st.gathering || st.gather_passes == 0) && ++waited < 1000);
	printf("ordered: gathered %" PRIu64 " of %u records in %d ms, %" PRIu64 " retired\n",
	       st.gathered, GATHER_N, waited * 10, st.mem_retired);
	ck_assert_msg(!st.gathering && st.gather_passes >= 1, "no pass ended in 10 s");
	ck_assert_uint_ge(st.gathered, GATHER_N * 9 / 10);
	ck_assert_uint_eq(st.commit_ts, ts);

	for (unsigned i = 0; i < GATHER_N; i++)
		FAIL_UNLESS(!memcmp(views[i], copies[i], GATHER_VLEN), "view %u changed", i);
	gather_walk(r, t, GATHER_N, NULL, NULL);
	shmdb_read_end(r);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	unsigned after = gather_walk(r, t, GATHER_N, NULL, NULL);
	ck_assert_uint_eq(gather_walk(r, few, 3000, NULL, NULL), before);
	shmdb_read_end(r);
	printf("ordered: a walk in key order goes to another page for %u of 3000 records as "
	       "loaded, %u of %u gathered\n", before, after, GATHER_N);
	/* As loaded, nearly every record is on a page of its own; gathered,
	 * a leaf's records share pages, but for keys put in place since it
	 * was (a pass leaves a leaf alone while they are few, and the writer
	 * may have had a moment between this load's transactions). */
	ck_assert_uint_gt(before, 3000 * 3 / 4);
	ck_assert_msg((uint64_t)after * 3000 * 2 < (uint64_t)before * GATHER_N,
		      "gathered: another page for %u of %u records; as loaded, %u of 3000", after,
		      GATHER_N, before);

	settled_mem_used(db);
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	ck_assert_uint_eq(st.commit_ts, ts);

	/* The tool says so. */
	char out[1 << 16], err[4096];
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "stats", "--socket", d.sock, NULL }, out,
				  sizeof(out), err, sizeof(err)), 0);
	char want[128];
	snprintf(want, sizeof(want), "gathering       %" PRIu64 " record versions moved into cursor order",
		 st.gathered);
	ck_assert_msg(strstr(out, want), "shmdb stats says:\n%s", out);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/*
 * Readers walking a table while the writer gathers it between bursts of
 * commits: STIR_KEYS keys each holding an 8-byte amount, the total always
 * STIR_TOTAL; each transaction moves amounts between STIR_MOVE random keys
 * (overwriting each). A burst puts more than the threshold of a pass; then
 * the writer child pauses, and the daemon's writer gathers, moves versions
 * readers may be standing on and frees the ones no snapshot reaches. The
 * readers check every snapshot: all keys, each once (in key order, on an
 * ordered table), the total, and a held snapshot reading the same amounts
 * at the end, through the views of its first walk as well. Once on an
 * ordered table, once on a hash table.
 */
enum {
	STIR_KEYS = 6000,
	STIR_AMOUNT = 100,
	STIR_MOVE = 50,
	STIR_TXNS = 100,   /* a burst: 5,000 puts */
	STIR_BURSTS = 8,
};
#define STIR_TOTAL ((uint64_t)STIR_KEYS * STIR_AMOUNT)

static void stir_key(char k[8], unsigned i)
{
	snprintf(k, 8, "s%05u", i);
}

/* The kind of the table the stir test walks: ordered (its records come
 * in key order) or hash (in the order of its index's slots). */
static int stir_ordered;

/* Walk every record of t in r's snapshot: amounts into amt[] and their
 * views into views[] (NULL: not kept), by key; their total, or exit code
 * `code` on a wrong key, a key twice, a key out of order (ordered) or a
 * wrong count. */
static uint64_t stir_walk(shmdb_rtxn *r, shmdb_table t, uint64_t *amt, const void **views,
			  int code)
{
	static uint8_t seen[STIR_KEYS];
	shmdb_cursor *c;
	shmdb_val k, v;
	uint64_t sum = 0;
	unsigned n = 0;
	memset(seen, 0, sizeof(seen));
	CHILD_REQUIRE(shmdb_cursor_open(r, t, &c) == 0, code);
	while (shmdb_cursor_next(c, &k, &v) == 0) {
		char got[8] = { 0 }, want[8];
		unsigned i = STIR_KEYS;
		uint64_t a;
		CHILD_REQUIRE(k.len == 6 && v.len == 8, code);
		memcpy(got, k.data, 6);
		CHILD_REQUIRE(sscanf(got, "s%5u", &i) == 1 && i < STIR_KEYS, code);
		stir_key(want, i);
		CHILD_REQUIRE(!memcmp(got, want, 6) && !seen[i] && (!stir_ordered || i == n), code);
		seen[i] = 1;
		memcpy(&a, v.data, 8);
		if (amt)
			amt[i] = a;
		if (views)
			views[i] = v.data;
		sum += a;
		n++;
	}
	shmdb_cursor_close(c);
	CHILD_REQUIRE(n == STIR_KEYS, code + 1);
	return sum;
}

static uint64_t stir_held_amt[STIR_KEYS];
static const void *stir_held_views[STIR_KEYS];

static void stir_check(shmdb_rtxn *r, shmdb_table t)
{
	CHILD_REQUIRE(stir_walk(r, t, NULL, NULL, 91) == STIR_TOTAL, 93);
}

static void stir_hold(shmdb_rtxn *r, shmdb_table t)
{
	CHILD_REQUIRE(stir_walk(r, t, stir_held_amt, stir_held_views, 95) == STIR_TOTAL, 97);
}

static void stir_recheck(shmdb_rtxn *r, shmdb_table t)
{
	static uint64_t again[STIR_KEYS];
	CHILD_REQUIRE(stir_walk(r, t, again, NULL, 98) == STIR_TOTAL, 100);
	CHILD_REQUIRE(!memcmp(again, stir_held_amt, sizeof(again)), 101);
	/* The views of its first walk read the same bytes still. */
	for (unsigned i = 0; i < STIR_KEYS; i++)
		CHILD_REQUIRE(!memcmp(stir_held_views[i], &stir_held_amt[i], 8), 102);
}

static void stir_reader(void *arg)
{
	static const struct reader_ops ops = { stir_check, stir_hold, stir_recheck };
	unsigned rounds = reader_rounds(arg, 3, &ops);
	printf("ordered: stir reader %d (%s): %u snapshots\n", (int)getpid(),
	       stir_ordered ? "ordered" : "hash", rounds);
}

/* _i: 0 an ordered table, 1 a hash table. */
START_TEST(readers_walk_while_the_writer_gathers)
{
	static uint64_t amt[STIR_KEYS];
	rng_state = 0x5717ull + (uint64_t)_i;
	stir_ordered = _i == 0;
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_open(db, "stir", SHMDB_CREATE | (stir_ordered ? SHMDB_ORDERED : 0),
					  &t), 0);
	shmdb_wtxn *w;
	char key[8];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (unsigned i = 0; i < STIR_KEYS; i++) {
		amt[i] = STIR_AMOUNT;
		stir_key(key, i);
		ck_assert_int_eq(shmdb_put(w, t, key, 6, &amt[i], 8), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	int stop[2];
	ck_assert_int_eq(pipe(stop), 0);
	struct bank_args a = { .t = t, .stop_fd = stop[0], .stop_wr = stop[1] };
	pid_t readers[2];
	for (int i = 0; i < 2; i++)
		readers[i] = test_spawn(stir_reader, &a);
	close(stop[0]);
	shmdb_stats st;
	uint64_t gathered = 0;
	for (int b = 0; b < STIR_BURSTS; b++) {
		for (int x = 0; x < STIR_TXNS; x++) {
			ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
			for (int j = 0; j < STIR_MOVE; j += 2) {
				unsigned from = rnd_below(STIR_KEYS), to = rnd_below(STIR_KEYS);
				if (from == to)
					continue;
				uint64_t part = amt[from] ? rnd() % (amt[from] + 1) : 0;
				amt[from] -= part;
				amt[to] += part;
				stir_key(key, from);
				ck_assert_int_eq(shmdb_put(w, t, key, 6, &amt[from], 8), 0);
				stir_key(key, to);
				ck_assert_int_eq(shmdb_put(w, t, key, 6, &amt[to], 8), 0);
			}
			ck_assert_int_eq(shmdb_commit(w, NULL), 0);
		}
		/* A pause: the writer gathers (bounded wait for the pass). */
		for (int i = 0; i < 300; i++) {
			test_sleep_us(2000);
			ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
			if (!st.gathering)
				break;
		}
		gathered = st.gathered;
	}
	close(stop[1]);
	for (int i = 0; i < 2; i++) {
		int code = test_reap(readers[i], 60000);
		ck_assert_msg(code == 0, "reader %d ended with %d", i, code);
	}
	printf("ordered: stir (%s): %" PRIu64 " versions gathered in %d bursts of %d puts\n",
	       stir_ordered ? "ordered" : "hash", gathered, STIR_BURSTS, STIR_TXNS * STIR_MOVE);
	ck_assert_uint_gt(gathered, STIR_KEYS / 2);
	static uint64_t now[STIR_KEYS];
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_uint_eq(stir_walk(r, t, now, NULL, 1), STIR_TOTAL);
	shmdb_read_end(r);
	for (unsigned i = 0; i < STIR_KEYS; i++)
		ck_assert_uint_eq(now[i], amt[i]);
	settled_mem_used(db);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 6. the tool ------------------------------------------------------------------- */

/*
 * What these expect of `shmdb` (adjust here if the tool says otherwise):
 *   - create TABLE [--ordered | --multi]: exit 0, or 1 when TABLE exists
 *     with another kind;
 *   - tables: a header line, then one line per table whose first field is
 *     its name and second its kind: hash, ordered or multi;
 *   - scan TABLE [--from KEY] [--to KEY] [--prefix P] [--reverse]
 *     [--limit N]: KEY<TAB>VALUE lines (printable ASCII as is, '\' as
 *     "\\", any other byte as \xHH, as scan prints now), in key order (pair
 *     order on a multimap), --from inclusive, --to exclusive, --reverse
 *     from the end of that range, at most N lines; on a hash table
 *     --from, --to, --prefix and --reverse fail (exit status not 0) and say
 *     why on stderr ("hash" or "ordered" in the message), while plain scan
 *     and --limit N (any N records) work.
 */
static char tool_out[8192], tool_err[4096];

/* Run `shmdb --socket SOCK args...` (NULL-terminated); its exit status. */
static int tool(const char *first, ...)
{
	const char *args[20] = { "--socket", d.sock };
	int n = 2;
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s && n < 19; s = va_arg(ap, const char *))
		args[n++] = s;
	va_end(ap);
	args[n] = NULL;
	tool_out[0] = tool_err[0] = 0;
	return test_run(test_shmdb_tool_path, args, tool_out, sizeof(tool_out), tool_err,
			sizeof(tool_err));
}

#define TOOL_OK(want, ...)                                                                   \
	do {                                                                                  \
		int rc_ = tool(__VA_ARGS__, NULL);                                            \
		ck_assert_msg(rc_ == 0, "shmdb %s: exit %d, stderr: %s", #__VA_ARGS__, rc_,   \
			      tool_err);                                                      \
		ck_assert_msg(!strcmp(tool_out, (want)), "shmdb %s printed:\n%s\nnot:\n%s",   \
			      #__VA_ARGS__, tool_out, (want));                                \
	} while (0)

/* The kind field of table `name` in the output of `tables`, or "". */
static const char *kind_in_tables(const char *out, const char *name)
{
	static char kind[32];
	size_t len = strlen(name);
	kind[0] = 0;
	for (const char *p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, name, len) && (p[len] == ' ' || p[len] == '\t')) {
			if (sscanf(p + len, " %31s", kind) != 1)
				kind[0] = 0;
			break;
		}
	}
	return kind;
}

START_TEST(tool_create_and_tables)
{
	test_start_daemon(&d, "16M");
	ck_assert_msg(tool("create", "to", "--ordered", NULL) == 0, "create --ordered: %s", tool_err);
	ck_assert_msg(tool("create", "tm", "--multi", NULL) == 0, "create --multi: %s", tool_err);
	ck_assert_msg(tool("create", "th", NULL) == 0, "create: %s", tool_err);
	shmdb *db = test_open(&d);
	ck_assert_int_eq(table_info(db, "to").flags, SHMDB_ORDERED);
	ck_assert_int_eq(table_info(db, "tm").flags, SHMDB_ORDERED | SHMDB_MULTI);
	ck_assert_int_eq(table_info(db, "th").flags, 0);
	/* Another kind for a table that exists. */
	ck_assert_int_eq(tool("create", "to", "--multi", NULL), 1);
	ck_assert_int_eq(tool("create", "th", "--ordered", NULL), 1);
	ck_assert_int_eq(table_info(db, "to").flags, SHMDB_ORDERED);
	ck_assert_int_eq(table_info(db, "th").flags, 0);
	shmdb_close(db);
	ck_assert_msg(tool("tables", NULL) == 0, "tables: %s", tool_err);
	ck_assert_str_eq(kind_in_tables(tool_out, "th"), "hash");
	ck_assert_str_eq(kind_in_tables(tool_out, "to"), "ordered");
	ck_assert_str_eq(kind_in_tables(tool_out, "tm"), "multi");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(tool_scan_ordered)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table o, m, h;
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_table_open(db, "o", SHMDB_CREATE | SHMDB_ORDERED, &o), 0);
	ck_assert_int_eq(shmdb_table_open(db, "m", SHMDB_CREATE | SHMDB_MULTI, &m), 0);
	h = test_table(db, "h");
	const char *const keys[] = { "b", "abc", "a", "ab", "ba" };
	put_kv(db, o, keys, 5);
	ck_assert_int_eq(test_commit_put(db, o, "c\x01", "v\0\\", 3, NULL), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "2", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "l", 1, "x", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "k", 1, "1", 1), 0);
	ck_assert_int_eq(shmdb_put(w, m, "ka", 2, "0", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	const char *const hk[] = { "x" };
	put_kv(db, h, hk, 1);
	shmdb_close(db);

	TOOL_OK("a\tv:a\nab\tv:ab\nabc\tv:abc\nb\tv:b\nba\tv:ba\nc\\x01\tv\\x00\\\\\n", "scan", "o");
	TOOL_OK("ab\tv:ab\nabc\tv:abc\nb\tv:b\nba\tv:ba\nc\\x01\tv\\x00\\\\\n", "scan", "o", "--from",
		"ab");
	TOOL_OK("ab\tv:ab\nabc\tv:abc\nb\tv:b\nba\tv:ba\nc\\x01\tv\\x00\\\\\n", "scan", "o", "--from",
		"aa");
	TOOL_OK("a\tv:a\nab\tv:ab\nabc\tv:abc\n", "scan", "o", "--to", "b");
	TOOL_OK("ab\tv:ab\nabc\tv:abc\n", "scan", "o", "--from", "ab", "--to", "b");
	TOOL_OK("", "scan", "o", "--from", "b", "--to", "b");
	TOOL_OK("", "scan", "o", "--from", "zz");
	TOOL_OK("ab\tv:ab\nabc\tv:abc\n", "scan", "o", "--prefix", "ab");
	TOOL_OK("b\tv:b\nba\tv:ba\n", "scan", "o", "--prefix", "b");
	TOOL_OK("", "scan", "o", "--prefix", "abcd");
	TOOL_OK("c\\x01\tv\\x00\\\\\nba\tv:ba\nb\tv:b\nabc\tv:abc\nab\tv:ab\na\tv:a\n", "scan", "o",
		"--reverse");
	TOOL_OK("abc\tv:abc\nab\tv:ab\na\tv:a\n", "scan", "o", "--prefix", "a", "--reverse");
	TOOL_OK("abc\tv:abc\nab\tv:ab\n", "scan", "o", "--from", "ab", "--to", "b", "--reverse");
	TOOL_OK("a\tv:a\nab\tv:ab\n", "scan", "o", "--limit", "2");
	TOOL_OK("c\\x01\tv\\x00\\\\\n", "scan", "o", "--reverse", "--limit", "1");
	TOOL_OK("ab\tv:ab\n", "scan", "o", "--prefix", "ab", "--limit", "1");
	TOOL_OK("ba\tv:ba\nb\tv:b\n", "scan", "o", "--to", "c", "--reverse", "--limit", "2");
	/* A multimap: one line a pair, in pair order. */
	TOOL_OK("k\t1\nk\t2\nka\t0\nl\tx\n", "scan", "m");
	TOOL_OK("k\t1\nk\t2\nka\t0\n", "scan", "m", "--prefix", "k");
	TOOL_OK("l\tx\nka\t0\nk\t2\nk\t1\n", "scan", "m", "--reverse");
	TOOL_OK("ka\t0\n", "scan", "m", "--from", "ka", "--to", "l");
	/* A hash table: plain scan works, and --limit (any N records); the
	 * ordered options say why not. */
	TOOL_OK("x\tv:x\n", "scan", "h");
	TOOL_OK("x\tv:x\n", "scan", "h", "--limit", "1");
	TOOL_OK("", "scan", "h", "--limit", "0");
	const char *const opts[][2] = { { "--from", "a" }, { "--to", "a" }, { "--prefix", "a" },
					{ "--reverse", NULL } };
	for (int i = 0; i < 4; i++) {
		int rc = tool("scan", "h", opts[i][0], opts[i][1], NULL);
		ck_assert_msg(rc != 0, "scan h %s: exit 0 on a hash table", opts[i][0]);
		ck_assert_msg(strstr(tool_err, "hash") || strstr(tool_err, "ordered"),
			      "scan h %s: stderr does not say why: %s", opts[i][0], tool_err);
	}
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ordered");
	TCase *tc = tcase_create("ordered");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, cursor_boundaries);
	tcase_add_test(tc, cursors_merge_a_pending_key);
	tcase_add_test(tc, table_kinds);
	tcase_add_test(tc, multimap_pairs_and_limits);
	tcase_add_test(tc, multimap_one_key_many_values);
	tcase_add_test(tc, failed_commits_leave_trees_intact);
	tcase_add_test(tc, model_random_ops_and_snapshots);
	tcase_add_test(tc, writers_and_readers_on_one_range);
	tcase_add_test(tc, cursors_walk_leaves_taking_keys_in_place);
	tcase_add_test(tc, cursor_on_a_leaf_left_mid_change);
	tcase_add_test(tc, churned_ordered_table_stays_bounded);
	tcase_add_test(tc, old_snapshot_walks_from_a_replaced_leaf);
	tcase_add_test(tc, keys_past_a_leaf_stay_within_its_bound);
	tcase_add_test(tc, old_snapshot_walks_from_a_cleared_tree);
	tcase_add_test(tc, old_snapshot_walks_from_a_dropped_tree);
	tcase_add_test(tc, many_replaced_leaves_keep_their_heads);
	tcase_add_test(tc, records_gathered_in_key_order);
	tcase_add_loop_test(tc, readers_walk_while_the_writer_gathers, 0, 2);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("hostile");
	tcase_set_timeout(th, 300);
	tcase_add_test(th, hostile_kinds_change_nothing);
	suite_add_tcase(s, th);
	TCase *tt = tcase_create("tool");
	tcase_set_timeout(tt, 300);
	tcase_add_test(tt, tool_create_and_tables);
	tcase_add_test(tt, tool_scan_ordered);
	suite_add_tcase(s, tt);
	return test_run_suite(s);
}
