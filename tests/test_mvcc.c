/*
 * test_mvcc.c - the store's semantics through the public API, one client
 * against a real shmdbd: tables, puts, deletes, checks, snapshots and their
 * views, limits, asynchronous commits, a million records, an index grown
 * in steps across commits (seen in the catalog of the meta segment, the one
 * look past the public API), a full arena, bounded memory under overwrites,
 * and a read path that allocates nothing and makes no system call.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "counters.h"
#include "harness.h"
#include "layout.h"
#include "shmdb.h"

static struct test_daemon d;
static shmdb *db;

static void start(const char *arena)
{
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--arena-size", arena, NULL }), 0);
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
}

static void stop(void)
{
	shmdb_close(db);
	db = NULL;
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

static shmdb_table table(const char *name)
{
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_open(db, name, SHMDB_CREATE, &t), 0);
	return t;
}

static uint64_t put1(shmdb_table t, const char *key, const char *val)
{
	shmdb_wtxn *w;
	uint64_t ts = 0;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, key, strlen(key), val, strlen(val)), 0);
	ck_assert_int_eq(shmdb_commit(w, &ts), 0);
	return ts;
}

/* The value of key in a fresh snapshot, into buf; -ENOENT if absent. */
static int get1(shmdb_table t, const char *key, char *buf, size_t cap)
{
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	int e = shmdb_get(r, t, key, strlen(key), &v);
	if (e == 0) {
		ck_assert_uint_lt(v.len, cap);
		memcpy(buf, v.data, v.len);
		buf[v.len] = 0;
	}
	shmdb_read_end(r);
	return e;
}

START_TEST(tables)
{
	start("64M");
	shmdb_table t, t2;
	ck_assert_int_eq(shmdb_table_open(db, "a", 0, &t), -ENOENT);
	ck_assert_int_eq(shmdb_table_open(db, "a", SHMDB_CREATE, &t), 0);
	ck_assert_int_eq(shmdb_table_open(db, "a", 0, &t2), 0);
	ck_assert_uint_eq(t, t2);
	ck_assert_int_eq(shmdb_table_open(db, "a", SHMDB_CREATE, &t2), 0);
	ck_assert_uint_eq(t, t2);
	ck_assert_int_eq(shmdb_table_open(db, "", SHMDB_CREATE, &t2), -EINVAL);
	char longname[65];
	memset(longname, 'n', 64);
	longname[64] = 0;
	ck_assert_int_eq(shmdb_table_open(db, longname, SHMDB_CREATE, &t2), -EINVAL);
	longname[63] = 0;
	ck_assert_int_eq(shmdb_table_open(db, longname, SHMDB_CREATE, &t2), 0);
	ck_assert_int_eq(shmdb_table_open(db, "a", 8, &t2), -EINVAL);
	/* a kind that is not the table's */
	ck_assert_int_eq(shmdb_table_open(db, "a", SHMDB_MULTI, &t2), -EEXIST);
	ck_assert_int_eq(shmdb_table_drop(db, "missing"), -ENOENT);

	put1(t, "k", "v1");
	shmdb_rtxn *before;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &before), 0);
	ck_assert_int_eq(shmdb_table_drop(db, "a"), 0);
	/* The old snapshot still reads the dropped table. */
	ck_assert_int_eq(shmdb_get(before, t, "k", 1, &v), 0);
	ck_assert_mem_eq(v.data, "v1", 2);
	shmdb_read_end(before);
	char buf[16];
	ck_assert_int_eq(get1(t, "k", buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(shmdb_table_open(db, "a", 0, &t2), -ENOENT);
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, "k", 1, "x", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -ENOENT);
	ck_assert_int_eq(shmdb_table_open(db, "a", SHMDB_CREATE, &t2), 0);
	ck_assert_uint_ne(t, t2);
	ck_assert_int_eq(get1(t2, "k", buf, sizeof(buf)), -ENOENT);

	/* A thousand and more tables, each with its own key. */
	shmdb_table many[1100];
	char name[32];
	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "table-%d", i);
		many[i] = table(name);
		put1(many[i], "id", name);
	}
	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "table-%d", i);
		ck_assert_int_eq(get1(many[i], "id", buf, sizeof(buf)), 0);
		ck_assert_str_eq(buf, name);
	}
	stop();
}
END_TEST

START_TEST(puts_gets_deletes)
{
	start("64M");
	shmdb_table a = table("a"), b = table("b");
	char buf[64];
	uint64_t ts1 = put1(a, "x", "one");
	uint64_t ts2 = put1(a, "x", "two");
	ck_assert_uint_gt(ts2, ts1);
	ck_assert_int_eq(get1(a, "x", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "two");

	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_uint_eq(shmdb_read_ts(r), ts2);
	shmdb_read_end(r);

	/* Empty value; last put in a transaction wins; two tables at once. */
	shmdb_wtxn *w;
	uint64_t ts3;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, a, "empty", 5, NULL, 0), 0);
	ck_assert_int_eq(shmdb_put(w, a, "y", 1, "first", 5), 0);
	ck_assert_int_eq(shmdb_put(w, a, "y", 1, "last", 4), 0);
	ck_assert_int_eq(shmdb_put(w, b, "y", 1, "other", 5), 0);
	ck_assert_int_eq(shmdb_commit(w, &ts3), 0);
	ck_assert_uint_eq(ts3, ts2 + 1);
	ck_assert_int_eq(get1(a, "empty", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(get1(a, "y", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "last");
	ck_assert_int_eq(get1(b, "y", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "other");

	/* Deletes: of a missing key (no error), of a present one. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del(w, a, "nothing", 7), 0);
	ck_assert_int_eq(shmdb_del(w, a, "x", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(get1(a, "x", buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(get1(a, "nothing", buf, sizeof(buf)), -ENOENT);
	put1(a, "x", "back");
	ck_assert_int_eq(get1(a, "x", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "back");

	/* An empty transaction changes nothing. */
	uint64_t ts4, ts5;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_commit(w, &ts4), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_commit(w, &ts5), 0);
	ck_assert_uint_eq(ts4, ts5);
	shmdb_abort(NULL);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, a, "aborted", 7, "v", 1), 0);
	shmdb_abort(w);
	ck_assert_int_eq(get1(a, "aborted", buf, sizeof(buf)), -ENOENT);
	stop();
}
END_TEST

START_TEST(limits)
{
	start("64M");
	shmdb_table t = table("t");
	static char big[SHMDB_MAX_KEY + 2];
	memset(big, 'k', sizeof(big));
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, big, 0, "v", 1), -EINVAL);
	ck_assert_int_eq(shmdb_put(w, t, big, SHMDB_MAX_KEY + 1, "v", 1), -EINVAL);
	ck_assert_int_eq(shmdb_del(w, t, big, SHMDB_MAX_KEY + 1), -EINVAL);
	ck_assert_int_eq(shmdb_check(w, t, big, 0, 1), -EINVAL);
	ck_assert_int_eq(shmdb_put(w, t, big, 1, NULL, SHMDB_MAX_VALUE + 1), -EINVAL);
	char *huge = malloc(SHMDB_MAX_VALUE + 1);
	ck_assert_ptr_nonnull(huge);
	ck_assert_int_eq(shmdb_put(w, t, big, 1, huge, SHMDB_MAX_VALUE + 1), -E2BIG);
	ck_assert_int_eq(shmdb_put(w, t, big, SHMDB_MAX_KEY, "v", 1), 0);
	/* One MiB, exactly, back. */
	for (size_t i = 0; i < (1u << 20); i++)
		huge[i] = (char)(i * 7);
	ck_assert_int_eq(shmdb_put(w, t, "mib", 3, huge, 1u << 20), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, t, "mib", 3, &v), 0);
	ck_assert_uint_eq(v.len, 1u << 20);
	ck_assert(memcmp(v.data, huge, 1u << 20) == 0);
	ck_assert_int_eq(shmdb_get(r, t, big, SHMDB_MAX_KEY, &v), 0);
	ck_assert_int_eq(shmdb_get(r, t, big, 0, &v), -EINVAL);
	ck_assert_int_eq(shmdb_get(r, t, big, SHMDB_MAX_KEY + 1, &v), -EINVAL);
	ck_assert_int_eq(shmdb_get(r, 12345, "mib", 3, &v), -ENOENT);
	shmdb_read_end(r);

	/* A transaction with an unknown table applies nothing at all. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, "before", 6, "v", 1), 0);
	ck_assert_int_eq(shmdb_put(w, 0x7fff0123, "k", 1, "v", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -ENOENT);
	char buf[8];
	ck_assert_int_eq(get1(t, "before", buf, sizeof(buf)), -ENOENT);
	free(huge);
	stop();
}
END_TEST

START_TEST(snapshots_and_checks)
{
	start("64M");
	shmdb_table t = table("t");
	put1(t, "a", "a0");
	put1(t, "b", "b0");
	shmdb_rtxn *r, *r2;
	shmdb_val va, vb;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_read_begin(db, &r2), -EBUSY);
	uint64_t since = shmdb_read_ts(r);
	ck_assert_int_eq(shmdb_get(r, t, "a", 1, &va), 0);
	ck_assert_int_eq(shmdb_get(r, t, "b", 1, &vb), 0);
	const void *pa = va.data, *pb = vb.data;

	/* Views stay put while 10,000 overwrites of their keys commit. */
	char val[32];
	for (int i = 0; i < 10000; i++) {
		shmdb_wtxn *w;
		snprintf(val, sizeof(val), "v%d", i);
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		ck_assert_int_eq(shmdb_put(w, t, "a", 1, val, strlen(val)), 0);
		ck_assert_int_eq(shmdb_put(w, t, "b", 1, val, strlen(val)), 0);
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	ck_assert_ptr_eq(va.data, pa);
	ck_assert_mem_eq(va.data, "a0", 2);
	ck_assert_mem_eq(vb.data, "b0", 2);
	ck_assert_ptr_eq(vb.data, pb);
	ck_assert_int_eq(shmdb_get(r, t, "a", 1, &va), 0); /* still the old one */
	ck_assert_mem_eq(va.data, "a0", 2);
	shmdb_read_end(r);
	char buf[32];
	ck_assert_int_eq(get1(t, "a", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "v9999");

	/* Checks: conflict when someone wrote since, none otherwise. */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_check(w, t, "a", 1, since), 0);
	ck_assert_int_eq(shmdb_put(w, t, "c", 1, "never", 5), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_ECONFLICT);
	ck_assert_int_eq(get1(t, "c", buf, sizeof(buf)), -ENOENT);

	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	since = shmdb_read_ts(r);
	shmdb_read_end(r);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_check(w, t, "a", 1, since), 0);
	ck_assert_int_eq(shmdb_check(w, t, "never-written", 13, 0), 0);
	ck_assert_int_eq(shmdb_put(w, t, "c", 1, "yes", 3), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(get1(t, "c", buf, sizeof(buf)), 0);

	/* A delete after since_ts is a write too. */
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	since = shmdb_read_ts(r);
	shmdb_read_end(r);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del(w, t, "c", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_check(w, t, "c", 1, since), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_ECONFLICT);
	stop();
}
END_TEST

START_TEST(async_and_big_transactions)
{
	start("128M");
	shmdb_table t = table("t");
	enum { N = 10000 };
	static uint64_t tickets[N];
	char key[32];
	for (int i = 0; i < N; i++) {
		shmdb_wtxn *w;
		int kl = snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		ck_assert_int_eq(shmdb_put(w, t, key, (size_t)kl, "v", 1), 0);
		ck_assert_int_eq(shmdb_commit_async(w, &tickets[i]), 0);
		if (i >= 1000) /* keep at most 1,000 results uncollected */
			ck_assert_int_eq(shmdb_wait(db, tickets[i - 1000], NULL), 0);
	}
	uint64_t last = 0;
	for (int i = N - 1000; i < N; i++) {
		uint64_t ts;
		ck_assert_int_eq(shmdb_wait(db, tickets[i], &ts), 0);
		ck_assert_uint_gt(ts, last);
		last = ts;
	}
	ck_assert_int_eq(shmdb_wait(db, tickets[5], NULL), -EINVAL);
	ck_assert_int_eq(shmdb_wait(db, 0, NULL), -EINVAL);
	ck_assert_int_eq(shmdb_wait(db, tickets[N - 1] + 1, NULL), -EINVAL);

	/* Bigger than the 512 KiB submission ring: 2,000 puts of 1 KiB. */
	static char val[1024];
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < 2000; i++) {
		int kl = snprintf(key, sizeof(key), "big%d", i);
		memset(val, 'a' + i % 26, sizeof(val));
		ck_assert_int_eq(shmdb_put(w, t, key, (size_t)kl, val, sizeof(val)), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	for (int i = 0; i < 2000; i++) {
		int kl = snprintf(key, sizeof(key), "big%d", i);
		ck_assert_int_eq(shmdb_get(r, t, key, (size_t)kl, &v), 0);
		ck_assert_uint_eq(v.len, 1024);
		ck_assert_int_eq(((const char *)v.data)[1023], 'a' + i % 26);
	}
	shmdb_read_end(r);
	stop();
}
END_TEST

static void make_key(char *k, uint32_t i)
{
	snprintf(k, 17, "key-%012u", i);
}

START_TEST(million_records)
{
	start("512M");
	shmdb_table t = table("big");
	enum { N = 1000000 };
	char key[17], val[100];
	memset(val, 'v', sizeof(val));
	for (uint32_t i = 0; i < N; i += 1000) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (uint32_t j = i; j < i + 1000; j++) {
			make_key(key, j);
			memcpy(val, &j, sizeof(j));
			ck_assert_int_eq(shmdb_put(w, t, key, 16, val, sizeof(val)), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	shmdb_rtxn *r;
	shmdb_val v, k;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	for (uint32_t j = 0; j < N; j++) {
		make_key(key, j);
		ck_assert_int_eq(shmdb_get(r, t, key, 16, &v), 0);
		uint32_t got;
		memcpy(&got, v.data, sizeof(got));
		ck_assert_uint_eq(got, j);
	}
	/* A tenth of the records through shmdb_get_many, 100 at a time, with
	 * one absent key (N + j) in each batch. */
	enum { B = 100 };
	static char keys[B][17];
	shmdb_val kv[B], vals[B];
	for (uint32_t j = 0; j < N; j += 10 * (B - 1)) {
		for (uint32_t i = 0; i < B; i++) {
			make_key(keys[i], i == B / 2 ? N + j : (j + i) % N);
			kv[i] = (shmdb_val){ keys[i], 16 };
		}
		ck_assert_int_eq(shmdb_get_many(r, t, kv, B, vals), 0);
		for (uint32_t i = 0; i < B; i++) {
			if (i == B / 2) {
				ck_assert_ptr_null(vals[i].data);
				continue;
			}
			ck_assert_ptr_nonnull(vals[i].data);
			uint32_t got;
			memcpy(&got, vals[i].data, sizeof(got));
			ck_assert_uint_eq(got, (j + i) % N);
		}
	}
	uint8_t *seen = calloc(N, 1);
	shmdb_cursor *c;
	uint32_t count = 0;
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	while (shmdb_cursor_next(c, &k, &v) == 0) {
		ck_assert_uint_eq(k.len, 16);
		uint32_t j;
		memcpy(&j, v.data, sizeof(j));
		ck_assert_uint_lt(j, N);
		ck_assert_uint_eq(seen[j], 0);
		make_key(key, j);
		ck_assert(memcmp(k.data, key, 16) == 0);
		seen[j] = 1;
		count++;
	}
	ck_assert_int_eq(shmdb_cursor_next(c, &k, &v), -ENOENT);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	ck_assert_uint_eq(count, N);
	free(seen);
	stop();
}
END_TEST

/* Three million keys: the index passes 32 MiB (2^23 slots), more than one
 * block of the allocator could once hold. */
START_TEST(index_past_32_mib)
{
	start("512M");
	shmdb_table t = table("wide");
	enum { N = 3000000 };
	for (uint64_t i = 0; i < N; i += 5000) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (uint64_t j = i; j < i + 5000; j++) {
			uint64_t val = ~j;
			ck_assert_int_eq(shmdb_put(w, t, &j, sizeof(j), &val, sizeof(val)), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	for (uint64_t j = 0; j < N; j++) {
		ck_assert_int_eq(shmdb_get(r, t, &j, sizeof(j), &v), 0);
		uint64_t got;
		memcpy(&got, v.data, sizeof(got));
		ck_assert_uint_eq(got, ~j);
	}
	uint64_t missing = N;
	ck_assert_int_eq(shmdb_get(r, t, &missing, sizeof(missing), &v), -ENOENT);
	shmdb_read_end(r);
	stop();
}
END_TEST

static shmdb_stats stats(void)
{
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	return st;
}

/* Arena bytes in use once nothing waits to be reclaimed and the figure
 * holds still (the writer publishes it after work, before it sleeps). */
static uint64_t settled_mem_used(void)
{
	shmdb_stats last = stats(), now;
	for (int i = 0; i < 3000; i++) {
		usleep(20000);
		now = stats();
		if (now.mem_retired == 0 && now.mem_used == last.mem_used)
			return now.mem_used;
		last = now;
	}
	ck_abort_msg("arena use never settled in 60 s: %llu used, %llu retired",
		     (unsigned long long)now.mem_used, (unsigned long long)now.mem_retired);
	return 0;
}

/* Keys "reserve-%010d", all the same length: versions of one size. */
static void insert_range(shmdb_table t, int from, int to)
{
	char key[32];
	for (int i = from; i < to; i += 1000) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int j = i; j < i + 1000 && j < to; j++) {
			int kl = snprintf(key, sizeof(key), "reserve-%010d", j);
			ck_assert_int_eq(shmdb_put(w, t, key, (size_t)kl, "v", 1), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
}

/* shmdb_table_reserve makes the index's room at once: the keys inserted up
 * to the count then take versions only, the same bytes for each half of
 * them, where a rebuild would add a bigger index to one half. */
START_TEST(reserve)
{
	start("256M");
	shmdb_table t = table("t");
	ck_assert_int_eq(shmdb_table_reserve(db, t, 200001), 0);
	/* One key first: the table's count version (shmdb_count) exists
	 * before either half, which then only replaces it. */
	insert_range(t, 200000, 200001);
	uint64_t before = settled_mem_used();
	insert_range(t, 0, 100000);
	uint64_t half = settled_mem_used();
	insert_range(t, 100000, 200000);
	uint64_t after = settled_mem_used();
	ck_assert_uint_gt(half, before);
	ck_assert_uint_eq(after - half, half - before);
	char buf[8];
	ck_assert_int_eq(get1(t, "reserve-0000000000", buf, sizeof(buf)), 0);
	ck_assert_int_eq(get1(t, "reserve-0000199999", buf, sizeof(buf)), 0);

	/* Less than the table holds, or no more than its room: nothing. */
	ck_assert_int_eq(shmdb_table_reserve(db, t, 10), 0);
	ck_assert_int_eq(shmdb_table_reserve(db, t, 250000), 0);
	ck_assert_uint_eq(settled_mem_used(), after);
	/* More: the index grows now, and nothing else changes. */
	ck_assert_int_eq(shmdb_table_reserve(db, t, 1000000), 0);
	ck_assert_uint_gt(settled_mem_used(), after);
	ck_assert_int_eq(get1(t, "reserve-0000123456", buf, sizeof(buf)), 0);

	ck_assert_int_eq(shmdb_table_reserve(NULL, t, 1), -EINVAL);
	ck_assert_int_eq(shmdb_table_reserve(db, t, SHMDB_MAX_TABLE_KEYS + 1ull), -ENOSPC);
	/* The largest index is 2 GiB: not in a 256 MiB arena. */
	ck_assert_int_eq(shmdb_table_reserve(db, t, SHMDB_MAX_TABLE_KEYS), -ENOSPC);
	ck_assert_int_eq(shmdb_table_reserve(db, 0x00ab0123, 10), -ENOENT);

	/* An overwrite while a snapshot is held: the old version is counted
	 * retired until the snapshot ends. */
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	put1(t, "reserve-0000000007", "new");
	int waited = 0;
	while (stats().mem_retired == 0 && waited++ < 500)
		usleep(10000);
	ck_assert_uint_gt(stats().mem_retired, 0);
	shmdb_read_end(r);
	settled_mem_used(); /* returns once nothing is retired */

	ck_assert_int_eq(shmdb_table_drop(db, "t"), 0);
	ck_assert_int_eq(shmdb_table_reserve(db, t, 10), -ENOENT);
	stop();
}
END_TEST

static int count_in(shmdb_rtxn *r, shmdb_table t)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	int n = 0;
	ck_assert_int_eq(shmdb_cursor_open(r, t, &c), 0);
	while (shmdb_cursor_next(c, &k, &v) == 0)
		n++;
	shmdb_cursor_close(c);
	return n;
}

static void expect(shmdb_rtxn *r, shmdb_table t, const char *key, const char *want)
{
	shmdb_val v;
	int e = shmdb_get(r, t, key, strlen(key), &v);
	if (!want) {
		ck_assert_int_eq(e, -ENOENT);
		return;
	}
	ck_assert_int_eq(e, 0);
	ck_assert_uint_eq(v.len, strlen(want));
	ck_assert(!memcmp(v.data, want, v.len));
}

/* A snapshot reads the table as it began, whatever the writer does to it
 * meanwhile: a rebuild of its index (a reserve), new keys and an
 * overwrite; with gets on another table in between, batches and cursors. */
START_TEST(snapshot_across_rebuild)
{
	start("64M");
	shmdb_table a = table("a"), b = table("b");
	put1(a, "k", "old");
	put1(b, "k", "b-old");
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	expect(r, a, "k", "old");
	ck_assert_int_eq(shmdb_table_reserve(db, a, 100000), 0);
	insert_range(a, 0, 20000);
	put1(a, "k", "new");
	expect(r, a, "k", "old");
	expect(r, a, "reserve-0000000005", NULL);
	expect(r, b, "k", "b-old");
	expect(r, a, "k", "old");
	shmdb_val keys[2] = { { "k", 1 }, { "reserve-0000000005", 18 } }, vals[2];
	ck_assert_int_eq(shmdb_get_many(r, a, keys, 2, vals), 0);
	ck_assert_uint_eq(vals[0].len, 3);
	ck_assert(!memcmp(vals[0].data, "old", 3));
	ck_assert_ptr_null(vals[1].data);
	ck_assert_int_eq(count_in(r, a), 1);
	shmdb_read_end(r);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	expect(r, a, "k", "new");
	expect(r, a, "reserve-0000000005", "v");
	ck_assert_int_eq(count_in(r, a), 20001);
	shmdb_read_end(r);
	stop();
}
END_TEST

/* The index word of table t, as published (layout.h: the table's catalog
 * entry in the meta segment at the start of the client's range). */
static uint64_t index_word(shmdb_table t)
{
	size_t len;
	const struct shm_meta *m = shm_client_range(db, &len);
	return __atomic_load_n(&m->tables[SHM_TABLE_SLOT(t)].index, __ATOMIC_ACQUIRE);
}

#define GROW_KEYS 100000
static int grow_now[GROW_KEYS], grow_then[GROW_KEYS]; /* version, or -1: absent */

static void grow_key(char *k, int i)
{
	snprintf(k, 16, "g%06d", i);
}

/* Every key of the model in snapshot r, by get and by a cursor's count. */
static void grow_check(shmdb_rtxn *r, shmdb_table t, const int *model)
{
	char key[16], want[32];
	int live = 0;
	for (int i = 0; i < GROW_KEYS; i++) {
		grow_key(key, i);
		shmdb_val v;
		int e = shmdb_get(r, t, key, strlen(key), &v);
		if (model[i] < 0) {
			if (e != -ENOENT)
				ck_abort_msg("%s: %d, want absent", key, e);
			continue;
		}
		live++;
		int wl = snprintf(want, sizeof(want), "v%d-%d", i, model[i]);
		if (e || v.len != (size_t)wl || memcmp(v.data, want, v.len))
			ck_abort_msg("%s: %d, want %s", key, e, want);
	}
	ck_assert_int_eq(count_in(r, t), live);
}

/* One transaction: key i written (version v) or deleted (v < 0). */
static void grow_write(shmdb_wtxn *w, shmdb_table t, int i, int v)
{
	char key[16], val[32];
	grow_key(key, i);
	if (v < 0) {
		ck_assert_int_eq(shmdb_del(w, t, key, strlen(key)), 0);
	} else {
		int vl = snprintf(val, sizeof(val), "v%d-%d", i, v);
		ck_assert_int_eq(shmdb_put(w, t, key, strlen(key), val, (size_t)vl), 0);
	}
	grow_now[i] = v;
}

/*
 * 100-key transactions on t (new keys, overwrites, deletes, and keys 0..999
 * put again), until the index word changes, or, if drop_after >= 0, until
 * drop_after commits after the next index's memory was taken. Fails unless
 * that memory was taken at least 10 commits before the word changed: the
 * index is built across commits. Returns the commits made.
 */
static int grow_round(shmdb_table t, int *next, int *readd, int drop_after)
{
	uint64_t word = index_word(t), mem = stats().mem_used;
	int commits = 0, reserved_at = -1;
	while (index_word(t) == word && (reserved_at < 0 || commits - reserved_at < drop_after ||
					 drop_after < 0)) {
		shmdb_wtxn *w;
		ck_assert_int_lt(*next, GROW_KEYS - 100);
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int j = 0; j < 85; j++, (*next)++)
			grow_write(w, t, *next, 0);
		for (int j = 0; j < 10; j++) {
			int k = 1000 + (commits * 37 + j * 911) % 19000;
			grow_write(w, t, k, grow_now[k] + 1);
		}
		for (int j = 0; j < 3; j++)
			grow_write(w, t, 1000 + (commits * 53 + j * 4099) % 19000, -1);
		for (int j = 0; j < 2; j++, (*readd)++)
			grow_write(w, t, *readd % 1000, grow_now[*readd % 1000] + 1);
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
		commits++;
		uint64_t now = stats().mem_used;
		if (reserved_at < 0 && index_word(t) == word && now >= mem + (512u << 10))
			reserved_at = commits; /* the next index's memory, taken */
		mem = now;
	}
	ck_assert_msg(reserved_at > 0, "the next index was never allocated ahead of its publication");
	if (drop_after < 0)
		ck_assert_msg(commits - reserved_at >= 10, "built in %d commits", commits - reserved_at);
	else
		ck_assert_msg(index_word(t) == word, "built in under %d commits", drop_after);
	return commits;
}

/* Until no snapshot can see what committed up to now. */
static void settle_horizon(shmdb_table other)
{
	uint64_t now = stats().commit_ts;
	for (int waited = 0; stats().oldest_snapshot <= now; waited++) {
		ck_assert_int_lt(waited, 500);
		put1(other, "tick", "t"); /* a commit, for the horizon to pass */
		usleep(10000);
	}
}

/*
 * A growing table's next index is built across many commits and published
 * whole: the new index's memory is taken at one commit and the index word
 * changes only commits later. Meanwhile inserts, overwrites, deletes and
 * puts of keys deleted long before (dead to every snapshot, which the
 * build leaves out) all land in the new index; a snapshot that read the
 * table before the build still reads its own view, by get and by cursor,
 * and a new one reads the model's. Then the next build is cut short by
 * dropping the table, and the table gives back every byte it took: every
 * version and index was retired exactly once.
 */
START_TEST(index_grows_in_steps)
{
	start("256M");
	shmdb_table other = table("other");
	put1(other, "tick", "t");
	uint64_t baseline = settled_mem_used();
	shmdb_table t = table("grow");
	for (int i = 0; i < GROW_KEYS; i++)
		grow_now[i] = -1;
	shmdb_wtxn *w;
	for (int i = 0; i < 20000; i += 1000) {
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int j = i; j < i + 1000; j++)
			grow_write(w, t, j, 0);
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < 1000; i++) /* 1000 tombstones, soon dead to all */
		grow_write(w, t, i, -1);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	settle_horizon(other);
	shmdb_rtxn *then;
	ck_assert_int_eq(shmdb_read_begin(db, &then), 0);
	memcpy(grow_then, grow_now, sizeof(grow_now));
	expect(then, t, "g001000", "v1000-0"); /* it holds the current index */

	int next = 20000, readd = 0;
	grow_round(t, &next, &readd, -1);
	grow_check(then, t, grow_then);
	shmdb_read_end(then);
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	grow_check(r, t, grow_now);
	shmdb_read_end(r);

	settle_horizon(other); /* the deletes so far are dead to all */
	grow_round(t, &next, &readd, 5);
	ck_assert_int_eq(shmdb_table_drop(db, "grow"), 0);
	ck_assert_uint_eq(settled_mem_used(), baseline);
	stop();
}
END_TEST

/* The arena full to its last byte: the allocator's -ENOSPC, with the
 * memory monitor's critical level (test_pressure) at 100%, never reached
 * first. */
START_TEST(full_arena)
{
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--arena-size", "4M",
								 "--memory-high", "99%",
								 "--memory-critical", "100%",
								 NULL }), 0);
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	shmdb_table t = table("t");
	static char val[64 << 10];
	char key[32];
	int n = 0, e = 0;
	for (; n < 1000; n++) {
		shmdb_wtxn *w;
		int kl = snprintf(key, sizeof(key), "k%d", n);
		memset(val, 'a' + n % 26, sizeof(val));
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		ck_assert_int_eq(shmdb_put(w, t, key, (size_t)kl, val, sizeof(val)), 0);
		if ((e = shmdb_commit(w, NULL)))
			break;
	}
	ck_assert_int_eq(e, -ENOSPC);
	ck_assert_int_gt(n, 10);
	/* Everything committed before is intact. */
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	for (int i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(shmdb_get(r, t, key, (size_t)kl, &v), 0);
		ck_assert_uint_eq(v.len, sizeof(val));
		ck_assert_int_eq(((const char *)v.data)[100], 'a' + i % 26);
	}
	int kl = snprintf(key, sizeof(key), "k%d", n);
	ck_assert_int_eq(shmdb_get(r, t, key, (size_t)kl, &v), -ENOENT);
	shmdb_read_end(r);

	/* Free some room; the writer reclaims once no snapshot needs it. */
	uint64_t used = stats().mem_used;
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < n / 2; i++) {
		kl = snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(shmdb_del(w, t, key, (size_t)kl), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	for (int i = 0; i < 1000 && stats().mem_used >= used; i++)
		usleep(10000);
	ck_assert_uint_lt(stats().mem_used, used);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, "again", 5, val, sizeof(val)), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	stop();
}
END_TEST

START_TEST(bounded_memory_under_overwrites)
{
	start("64M");
	shmdb_table t = table("t");
	char key[32], val[100];
	memset(val, 'o', sizeof(val));
	shmdb_rtxn *r = NULL;
	for (int round = 0; round < 10000; round++) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int i = 0; i < 100; i++) {
			int kl = snprintf(key, sizeof(key), "key%d", (round * 100 + i) % 1000);
			ck_assert_int_eq(shmdb_put(w, t, key, (size_t)kl, val, sizeof(val)), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
		/* Readers come and go: one holds a snapshot for 10 commits. */
		if (round % 10 == 0) {
			if (r)
				shmdb_read_end(r);
			ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
		}
	}
	shmdb_read_end(r);
	/* 1,000 keys of ~160-byte versions are 160 KB live; what a snapshot
	 * held over 10 commits of 100 puts adds ~2,000 versions. An unbounded
	 * store would hold 1,000,000 versions (~160 MB) and have filled the
	 * 64 MiB arena. Right after the last commit the reclaimer may lag by
	 * what its grace periods took on a loaded machine (a kernel RCU grace
	 * period runs late when both cores are busy): a quarter of the arena
	 * shows it reclaims while writes run, not only when room runs out.
	 * Once it has caught up, what remains is the live data. */
	shmdb_stats st = stats();
	ck_assert_msg(st.mem_used < (16u << 20), "mem_used %llu", (unsigned long long)st.mem_used);
	ck_assert_uint_le(st.oldest_snapshot, st.commit_ts);
	uint64_t settled = settled_mem_used();
	ck_assert_msg(settled < (1u << 20), "mem_used %llu once settled", (unsigned long long)settled);
	stop();
}
END_TEST

/* Keys put and deleted, always new ones: every rebuild of the index drops
 * the tombstones no snapshot can see, so index and memory stay bounded by
 * the keys live at once (1,000) instead of growing with the 300,000 keys
 * ever deleted. */
START_TEST(bounded_memory_under_delete_churn)
{
	start("64M");
	shmdb_table t = table("t");
	char key[32], val[100];
	memset(val, 'd', sizeof(val));
	for (int round = 0; round < 300; round++) {
		for (int del = 0; del < 2; del++) {
			shmdb_wtxn *w;
			ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
			for (int i = 0; i < 1000; i++) {
				int kl = snprintf(key, sizeof(key), "key%d", round * 1000 + i);
				if (del)
					ck_assert_int_eq(shmdb_del(w, t, key, (size_t)kl), 0);
				else
					ck_assert_int_eq(
						shmdb_put(w, t, key, (size_t)kl, val, sizeof(val)), 0);
			}
			ck_assert_int_eq(shmdb_commit(w, NULL), 0);
		}
	}
	char buf[128];
	ck_assert_int_eq(get1(t, "key299999", buf, sizeof(buf)), -ENOENT);
	ck_assert_int_eq(get1(t, "key0", buf, sizeof(buf)), -ENOENT);
	/* 300,000 tombstones kept would take 16 bytes of index each and a
	 * version of ~40 bytes: over 16 MB, which stay once the reclaimer has
	 * freed all it may. Measured once it has (right after the last commit,
	 * how far it lags depends on the machine's load: 4.5 MB was seen with
	 * the suite running beside it). */
	uint64_t settled = settled_mem_used();
	ck_assert_msg(settled < (2u << 20), "mem_used %llu once settled", (unsigned long long)settled);
	stop();
}
END_TEST

/* shmdb_get_many answers as shmdb_get does, key by key, in old and new
 * snapshots: short, 16-byte and long keys, deleted, overwritten, absent and
 * repeated keys, in batches longer than one group of lookups. (The same
 * bytes, not always at the same address: the daemon may copy a record
 * between the two reads, shmdb_read_begin says.) */
static void batch_key(char *k, size_t *len, int i)
{
	switch (i % 3) {
	case 0: *len = (size_t)snprintf(k, 64, "s%d", i); break;
	case 1: *len = (size_t)snprintf(k, 64, "sixteen-byte%04d", i); break;
	default: *len = (size_t)snprintf(k, 64, "a long key of more than thirty-two bytes %d", i);
	}
}

static void same_as_get(shmdb_rtxn *r, shmdb_table t, const shmdb_val *keys, size_t n)
{
	shmdb_val vals[200], v;
	ck_assert_uint_le(n, 200);
	ck_assert_int_eq(shmdb_get_many(r, t, keys, n, vals), 0);
	for (size_t i = 0; i < n; i++) {
		int e = shmdb_get(r, t, keys[i].data, keys[i].len, &v);
		if (e == -ENOENT) {
			ck_assert_ptr_null(vals[i].data);
			ck_assert_uint_eq(vals[i].len, 0);
		} else {
			ck_assert_int_eq(e, 0);
			ck_assert_uint_eq(vals[i].len, v.len);
			ck_assert_mem_eq(vals[i].data, v.data, v.len);
		}
	}
}

START_TEST(get_many)
{
	start("64M");
	shmdb_table t = table("t");
	enum { KEYS = 3000 };
	char key[64], val[32];
	size_t klen;
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < KEYS; i++) {
		batch_key(key, &klen, i);
		int vl = snprintf(val, sizeof(val), "first %d", i);
		ck_assert_int_eq(shmdb_put(w, t, key, klen, val, (size_t)vl), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_rtxn *old;
	ck_assert_int_eq(shmdb_read_begin(db, &old), 0);
	/* A second handle's snapshot after every 5th key is rewritten and
	 * every 7th deleted. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < KEYS; i++) {
		batch_key(key, &klen, i);
		int vl = snprintf(val, sizeof(val), "second %d", i);
		if (i % 7 == 0)
			ck_assert_int_eq(shmdb_del(w, t, key, klen), 0);
		else if (i % 5 == 0)
			ck_assert_int_eq(shmdb_put(w, t, key, klen, val, (size_t)vl), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb *other;
	shmdb_rtxn *now;
	ck_assert_int_eq(shmdb_open(d.sock, &other), 0);
	ck_assert_int_eq(shmdb_read_begin(other, &now), 0);

	/* Batches of 137 keys: present, absent (i >= KEYS), repeated. */
	static char kb[137][64];
	shmdb_val keys[137];
	for (int start_at = 0; start_at < KEYS; start_at += 101) {
		for (int i = 0; i < 137; i++) {
			int k = i % 10 == 9 ? KEYS + i : i % 13 == 12 ? start_at : start_at + i;
			batch_key(kb[i], &klen, k);
			keys[i] = (shmdb_val){ kb[i], klen };
		}
		same_as_get(old, t, keys, 137);
		same_as_get(now, t, keys, 137);
	}
	/* The old snapshot still sees the first values, the new one the
	 * second, and not the deleted keys. */
	shmdb_val one[3], got[3];
	char k0[64], k5[64], k7[64];
	batch_key(k0, &klen, 10);
	one[0] = (shmdb_val){ k0, klen };
	batch_key(k5, &klen, 11);
	one[1] = (shmdb_val){ k5, klen };
	batch_key(k7, &klen, 14);
	one[2] = (shmdb_val){ k7, klen };
	ck_assert_int_eq(shmdb_get_many(old, t, one, 3, got), 0);
	ck_assert(got[0].len == 8 && memcmp(got[0].data, "first 10", 8) == 0);
	ck_assert(got[1].len == 8 && memcmp(got[1].data, "first 11", 8) == 0);
	ck_assert(got[2].len == 8 && memcmp(got[2].data, "first 14", 8) == 0);
	ck_assert_int_eq(shmdb_get_many(now, t, one, 3, got), 0);
	ck_assert(got[0].len == 9 && memcmp(got[0].data, "second 10", 9) == 0);
	ck_assert(got[1].len == 8 && memcmp(got[1].data, "first 11", 8) == 0);
	ck_assert_ptr_null(got[2].data);

	/* The index grows (10,000 keys more) while both snapshots are held:
	 * the old one still sees none of them, the new one sees them too. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = KEYS; i < KEYS + 10000; i++) {
		batch_key(key, &klen, i);
		ck_assert_int_eq(shmdb_put(w, t, key, klen, "", 0), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_rtxn *grown;
	shmdb *third;
	ck_assert_int_eq(shmdb_open(d.sock, &third), 0);
	ck_assert_int_eq(shmdb_read_begin(third, &grown), 0);
	for (int start_at = 0; start_at < KEYS + 10000; start_at += 997) {
		for (int i = 0; i < 137; i++) {
			batch_key(kb[i], &klen, start_at + i);
			keys[i] = (shmdb_val){ kb[i], klen };
		}
		same_as_get(old, t, keys, 137);
		same_as_get(grown, t, keys, 137);
		shmdb_val newer[137];
		ck_assert_int_eq(shmdb_get_many(old, t, keys, 137, newer), 0);
		for (int i = 0; i < 137; i++)
			if (start_at + i >= KEYS)
				ck_assert_ptr_null(newer[i].data);
	}
	/* An empty value is found: data not NULL, length 0. */
	batch_key(key, &klen, KEYS + 1);
	one[0] = (shmdb_val){ key, klen };
	ck_assert_int_eq(shmdb_get_many(grown, t, one, 1, got), 0);
	ck_assert_ptr_nonnull(got[0].data);
	ck_assert_uint_eq(got[0].len, 0);
	ck_assert_int_eq(shmdb_get_many(old, t, one, 1, got), 0);
	ck_assert_ptr_null(got[0].data);

	/* Nothing to look up; bad arguments write nothing. */
	ck_assert_int_eq(shmdb_get_many(now, t, NULL, 0, NULL), 0);
	shmdb_val sentinel[3] = { { "x", 1 }, { "x", 1 }, { "x", 1 } };
	memcpy(got, sentinel, sizeof(got));
	shmdb_val bad[3] = { one[0], { k5, 0 }, one[2] };
	ck_assert_int_eq(shmdb_get_many(now, t, bad, 3, got), -EINVAL);
	bad[1] = (shmdb_val){ k5, SHMDB_MAX_KEY + 1 };
	ck_assert_int_eq(shmdb_get_many(now, t, bad, 3, got), -EINVAL);
	bad[1] = (shmdb_val){ NULL, 3 };
	ck_assert_int_eq(shmdb_get_many(now, t, bad, 3, got), -EINVAL);
	ck_assert(memcmp(got, sentinel, sizeof(got)) == 0);
	ck_assert_int_eq(shmdb_get_many(NULL, t, one, 3, got), -EINVAL);
	ck_assert_int_eq(shmdb_get_many(now, t, NULL, 3, got), -EINVAL);
	ck_assert_int_eq(shmdb_get_many(now, t, one, 3, NULL), -EINVAL);

	shmdb_read_end(old);

	/* A table dropped after a snapshot began: that snapshot still reads
	 * it; a later one has no such table, and every key is absent. */
	shmdb_table gone = table("gone");
	put1(gone, "k", "v");
	shmdb_read_end(grown);
	ck_assert_int_eq(shmdb_read_begin(third, &grown), 0);
	ck_assert_int_eq(shmdb_table_drop(db, "gone"), 0);
	shmdb_rtxn *after;
	ck_assert_int_eq(shmdb_read_begin(db, &after), 0);
	shmdb_val gk[2] = { { "k", 1 }, { "x", 1 } };
	ck_assert_int_eq(shmdb_get_many(grown, gone, gk, 2, got), 0);
	ck_assert(got[0].len == 1 && memcmp(got[0].data, "v", 1) == 0);
	ck_assert_ptr_null(got[1].data);
	memcpy(got, sentinel, sizeof(got));
	ck_assert_int_eq(shmdb_get_many(after, gone, gk, 2, got), 0);
	ck_assert_ptr_null(got[0].data);
	ck_assert_ptr_null(got[1].data);
	shmdb_read_end(after);
	ck_assert_int_eq(shmdb_get_many(after, t, one, 3, got), -EINVAL); /* ended */

	shmdb_read_end(grown);
	shmdb_close(third);
	shmdb_read_end(now);
	shmdb_close(other);
	stop();
}
END_TEST

/* ---- the read path: no allocation, no system call ------------------------ */

/* Allocations are counted by the benchmark's counters (bench/counters.c):
 * a malloc, calloc, realloc, aligned_alloc and posix_memalign interposer,
 * or the sanitizer's hooks in a sanitizer build. */
static int64_t allocations_now(void)
{
	struct counters c;
	counters_read(&c);
	return c.allocations;
}

static int read_path(shmdb_table t, int rounds)
{
	int found = 0;
	shmdb_rtxn *r;
	shmdb_val k, v;
	shmdb_cursor *c;
	for (int i = 0; i < rounds; i++) {
		if (shmdb_read_begin(db, &r))
			return -1;
		found += shmdb_get(r, t, "k1", 2, &v) == 0;
		found += shmdb_get(r, t, "absent", 6, &v) == 0;
		shmdb_val keys[2] = { { "k2", 2 }, { "absent", 6 } }, vals[2];
		if (shmdb_get_many(r, t, keys, 2, vals))
			return -1;
		found += (vals[0].data != NULL) + (vals[1].data != NULL);
		if (shmdb_cursor_open(r, t, &c))
			return -1;
		found += shmdb_cursor_next(c, &k, &v) == 0;
		shmdb_cursor_close(c);
		shmdb_read_end(r);
	}
	return found;
}

START_TEST(read_path_allocates_nothing)
{
	start("16M");
	shmdb_table t = table("t");
	char key[8];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		put1(t, key, "value");
	}
	counters_open();
	ck_assert_int_eq(read_path(t, 10), 30); /* warm-up: claims the slot */
	/* Nothing between the two readings but the reads (Check's own asserts
	 * allocate, so they come after). */
	int64_t before = allocations_now();
	int found = read_path(t, 10000);
	int64_t during = allocations_now() - before;
	ck_assert_int_eq(found, 30000);
	ck_assert_int_eq(during, 0);
	/* The counter works: an allocating call is seen. */
	before = allocations_now();
	void *volatile p = malloc(64);
	during = allocations_now() - before;
	free(p);
	ck_assert_int_gt(during, 0);
	stop();
}
END_TEST

/* ---- the write path: no allocation once warm ----------------------------- */

enum { WRITE_TXNS = 100000 };

/* Transactions as a steady client commits them: puts, a row built and put,
 * a field update, a delete, every fourth one pipelined (commit_async then
 * wait), an abort now and then. Returns the number committed, or -1. */
static int write_path(shmdb_table t, shmdb_table rows, int from, int n)
{
	int done = 0;
	char key[32], val[200];
	memset(val, 'w', sizeof(val));
	for (int i = from; i < from + n; i++) {
		shmdb_wtxn *w;
		shmdb_row *b;
		int kl = snprintf(key, sizeof(key), "w%d", i % 5000);
		if (shmdb_write_begin(db, &w) ||
		    shmdb_put(w, t, key, (size_t)kl, val, 50 + (size_t)(i % 150)))
			return -1;
		if (i % 3 == 0 && shmdb_del(w, t, "gone", 4))
			return -1;
		if (i % 7 == 0) {
			if (shmdb_row_new(db, rows, &b) || shmdb_row_set_i64(b, 0, i % 100) ||
			    shmdb_row_set_bytes(b, 1, key, (size_t)kl) || shmdb_row_set_i64(b, 2, i) ||
			    shmdb_put_row(w, rows, b))
				return -1;
			shmdb_row_free(b);
			int64_t id = i % 100;
			uint8_t k[8];
			size_t klen = shmdb_key_i64(id, k);
			if (shmdb_add_i64(w, rows, k, klen, 2, 1))
				return -1;
		}
		if (i % 101 == 0) {
			shmdb_abort(w);
			continue;
		}
		if (i % 4 == 0) {
			uint64_t ticket;
			if (shmdb_commit_async(w, &ticket) || shmdb_wait(db, ticket, NULL))
				return -1;
		} else if (shmdb_commit(w, NULL)) {
			return -1;
		}
		done++;
	}
	return done;
}

START_TEST(write_path_allocates_nothing)
{
	start("64M");
	shmdb_table t = table("t"), rows;
	const shmdb_column cols[] = { { "id", SHMDB_I64, 0, 0 }, { "name", SHMDB_STR, 0, 0 },
				      { "n", SHMDB_I64, 0, 0 } };
	ck_assert_int_eq(shmdb_table_create_rows(db, "rows", cols, 3, 0, &rows), 0);
	counters_open();
	/* Warm-up: the pool fills and its buffers grow to these sizes. */
	ck_assert_int_gt(write_path(t, rows, 0, 2000), 0);
	shmdb_client_stats before_st, after_st;
	ck_assert_int_eq(shmdb_client_stats_get(db, &before_st), 0);
	/* Nothing between the two readings but the writes. */
	int64_t before = allocations_now();
	int done = write_path(t, rows, 2000, WRITE_TXNS);
	int64_t during = allocations_now() - before;
	ck_assert_int_eq(shmdb_client_stats_get(db, &after_st), 0);
	int aborted = 0;
	for (int i = 2000; i < 2000 + WRITE_TXNS; i++)
		aborted += i % 101 == 0;
	ck_assert_int_eq(done, WRITE_TXNS - aborted);
	ck_assert_int_eq(during, 0);
	/* The pool served every one of them, and says so. */
	ck_assert_uint_eq(after_st.write_txns - before_st.write_txns, WRITE_TXNS);
	ck_assert_uint_eq(after_st.txns_reused - before_st.txns_reused, WRITE_TXNS);
	ck_assert_uint_eq(after_st.rows_reused - before_st.rows_reused,
			  after_st.rows_made - before_st.rows_made);
	ck_assert_uint_gt(after_st.rows_made - before_st.rows_made, WRITE_TXNS / 8);
	ck_assert(after_st.reuse_rate > 0.95 && after_st.reuse_rate <= 1.0);
	ck_assert_uint_eq(after_st.pool_keep, 16);

	/* With no pool every transaction allocates again; a transaction whose
	 * buffer grew past the largest kept is freed, not kept. */
	ck_assert_int_eq(shmdb_set_write_pool(db, 0, 0), 0);
	ck_assert_int_eq(shmdb_client_stats_get(db, &after_st), 0);
	ck_assert_uint_eq(after_st.pool_txns, 0);
	ck_assert_uint_eq(after_st.pool_rows, 0);
	before = allocations_now();
	ck_assert_int_eq(write_path(t, rows, 0, 10), 9);
	ck_assert_int_gt(allocations_now() - before, 10);
	ck_assert_int_eq(shmdb_set_write_pool(db, 4, 4096), 0);
	static char big[64 << 10];
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, "big", 3, big, sizeof(big)), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(shmdb_client_stats_get(db, &after_st), 0);
	ck_assert_uint_eq(after_st.pool_txns, 0);
	ck_assert_int_eq(shmdb_set_write_pool(db, SHMDB_WRITE_POOL_MAX + 1, 0), -EINVAL);
	stop();
}
END_TEST

/* In a child: warm up, then allow no system call but exit_group. */
static void no_syscalls(void *arg)
{
	shmdb_table t = *(shmdb_table *)arg;
	shmdb *mine;
	if (shmdb_open(d.sock, &mine))
		_exit(3);
	db = mine;
	if (read_path(t, 10) != 30)
		_exit(4);

	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		_exit(6);
	int found = read_path(t, 10000);
	syscall(SYS_exit_group, found == 30000 ? 0 : 7);
}

START_TEST(read_path_makes_no_system_call)
{
	start("16M");
	shmdb_table t = table("t");
	put1(t, "k1", "value");
	put1(t, "k2", "value");
	int st = test_in_child(no_syscalls, &t);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child: %s %d", WIFSIGNALED(st) ? "killed by signal" : "exit", 
		      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	stop();
}
END_TEST

/* Two cases, each its own ctest entry so they run side by side: "big"
 * holds the million-key tests (about 90 s of the suite's 105 under
 * AddressSanitizer here), "mvcc" the rest. No argument runs both. */
int main(int argc, char **argv)
{
	Suite *s = suite_create("mvcc");
	TCase *big = tcase_create("big");
	tcase_set_timeout(big, 600);
	tcase_add_test(big, million_records);
	tcase_add_test(big, index_past_32_mib);
	suite_add_tcase(s, big);
	TCase *tc = tcase_create("mvcc");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, tables);
	tcase_add_test(tc, puts_gets_deletes);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, snapshots_and_checks);
	tcase_add_test(tc, async_and_big_transactions);
	tcase_add_test(tc, reserve);
	tcase_add_test(tc, snapshot_across_rebuild);
	tcase_add_test(tc, index_grows_in_steps);
	tcase_add_test(tc, full_arena);
	tcase_add_test(tc, bounded_memory_under_overwrites);
	tcase_add_test(tc, bounded_memory_under_delete_churn);
	tcase_add_test(tc, get_many);
	tcase_add_test(tc, read_path_allocates_nothing);
	tcase_add_test(tc, write_path_allocates_nothing);
	tcase_add_test(tc, read_path_makes_no_system_call);
	suite_add_tcase(s, tc);
	return test_run_suite_case(s, argc > 1 ? argv[1] : NULL);
}
