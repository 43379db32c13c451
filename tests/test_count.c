/*
 * test_count.c - whole tables as snapshots see them, against a real
 * shmdbd:
 *
 *   - shmdb_count is exact in every snapshot: reader processes take
 *     snapshots at random moments of a churn of inserts and deletes whose
 *     count after each commit is known from the commit's number, and check
 *     the count (and, for a few keys, the records) of each; older
 *     snapshots held while the churn goes on still read their own count;
 *   - shmdb_tables lists a snapshot's tables in name order with their
 *     counts and bytes, fills at most cap entries while saying how many
 *     there are, and a snapshot taken before a drop still lists the
 *     dropped table;
 *   - a clear followed by puts replaces the contents in one commit: no
 *     snapshot ever holds two generations, or a partial one, and one held
 *     across many clears still reads its own; with no snapshot left the
 *     cleared generations come back;
 *   - the shmdb tool's tables and count commands, and bad arguments.
 *
 * Rules: every child opens its own handle after fork() and reports through
 * its exit status (CHILD_REQUIRE names the failed condition on stderr); no
 * check depends on timing; every wait is bounded (harness.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "shmdb.h"

static struct test_daemon d;

/* ---- counts exact in every snapshot ------------------------------------------ */

/*
 * The churn: commit i (from 1) inserts keys 2i-1 and 2i when i is odd, and
 * deletes key 2i-2 when i is even, so after commit i the table holds
 * count_after(i) records. Commit i is the i-th after the table's first
 * commit, base: its timestamp is base + i.
 */
enum { CHURN_COMMITS = 20000, READERS = 2, HELD = 8 };

static uint64_t count_after(uint64_t i)
{
	return 2 * ((i + 1) / 2) - i / 2;
}

static void churn_key(char k[16], uint64_t n)
{
	snprintf(k, 16, "c%08" PRIu64, n);
}

struct reader_args {
	shmdb_table t;
	uint64_t base;
	int stop_fd;    /* the read end of "stop now" */
	int stop_wr;    /* its write end: the child closes its copy */
};

static void count_reader(void *arg)
{
	const struct reader_args *a = arg;
	close(a->stop_wr);
	shmdb *db = test_child_open(&d);
	shmdb_rtxn *held[HELD];
	uint64_t held_ts[HELD];
	unsigned nheld = 0, checks = 0;
	uint64_t deadline = test_now_ms() + 60000;
	/* Each thread reads through one transaction at a time per handle:
	 * the held snapshots live on handles of their own. */
	shmdb *hdb[HELD];
	for (unsigned i = 0; i < HELD; i++)
		hdb[i] = test_child_open(&d);
	while (!test_told_to_stop(a->stop_fd) && test_now_ms() < deadline) {
		shmdb_rtxn *r;
		uint64_t n;
		CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 10);
		uint64_t ts = shmdb_read_ts(r);
		CHILD_REQUIRE(ts >= a->base, 11);
		CHILD_REQUIRE(shmdb_count(r, a->t, &n) == 0, 12);
		if (n != count_after(ts - a->base)) {
			fprintf(stderr, "snapshot %" PRIu64 ": count %" PRIu64 ", not %" PRIu64 "\n",
				ts, n, count_after(ts - a->base));
			_exit(13);
		}
		shmdb_read_end(r);
		checks++;
		if (nheld < HELD && checks % 500 == 0) {
			CHILD_REQUIRE(shmdb_read_begin(hdb[nheld], &held[nheld]) == 0, 14);
			held_ts[nheld] = shmdb_read_ts(held[nheld]);
			nheld++;
		}
	}
	for (unsigned i = 0; i < nheld; i++) {
		uint64_t n;
		CHILD_REQUIRE(shmdb_count(held[i], a->t, &n) == 0, 15);
		CHILD_REQUIRE(n == count_after(held_ts[i] - a->base), 16);
		shmdb_read_end(held[i]);
	}
	CHILD_REQUIRE(checks > 0, 17);
	for (unsigned i = 0; i < HELD; i++)
		shmdb_close(hdb[i]);
	shmdb_close(db);
}

START_TEST(count_exact_in_every_snapshot)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "churn");
	shmdb_rtxn *r;
	uint64_t n, base;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	ck_assert_uint_eq(n, 0);
	base = shmdb_read_ts(r);
	shmdb_read_end(r);

	int stop[2];
	ck_assert_int_eq(pipe(stop), 0);
	struct reader_args a = { .t = t, .base = base, .stop_fd = stop[0], .stop_wr = stop[1] };
	pid_t readers[READERS];
	for (int i = 0; i < READERS; i++)
		readers[i] = test_spawn(count_reader, &a);
	close(stop[0]);
	char k[16];
	for (uint64_t i = 1; i <= CHURN_COMMITS; i++) {
		shmdb_wtxn *w;
		uint64_t ts;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		if (i % 2) {
			churn_key(k, 2 * i - 1);
			ck_assert_int_eq(shmdb_put(w, t, k, strlen(k), "v", 1), 0);
			churn_key(k, 2 * i);
			ck_assert_int_eq(shmdb_put(w, t, k, strlen(k), "v", 1), 0);
		} else {
			churn_key(k, 2 * i - 2);
			ck_assert_int_eq(shmdb_del(w, t, k, strlen(k)), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, &ts), 0);
		ck_assert_uint_eq(ts, base + i); /* nobody else commits */
	}
	close(stop[1]);
	for (int i = 0; i < READERS; i++)
		ck_assert_int_eq(test_reap(readers[i], 60000), 0);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	ck_assert_uint_eq(n, count_after(CHURN_COMMITS));
	/* Bad arguments. */
	ck_assert_int_eq(shmdb_count(r, t + 1, &n), -ENOENT);
	ck_assert_int_eq(shmdb_count(r, t, NULL), -EINVAL);
	ck_assert_int_eq(shmdb_count(NULL, t, &n), -EINVAL);
	shmdb_read_end(r);
	ck_assert_int_eq(shmdb_count(r, t, &n), -EINVAL);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- clear + puts: one commit replaces the contents ----------------------------------- */

/* Generation g of the table: keys g%3 * 100 .. + CLEAR_KEYS - 1 (so that
 * generations overlap in some keys and not in others), each valued "g:<g>". */
enum { CLEAR_KEYS = 300, CLEAR_ROUNDS = 400 };

static int gen_key(char k[16], uint64_t g, int i)
{
	return snprintf(k, 16, "k%04d", (int)(g % 3) * 100 + i);
}

struct clear_args {
	shmdb_table t;
	int stop_fd, stop_wr;
};

/* Reads snapshots while generations replace each other: every snapshot
 * holds exactly one generation, CLEAR_KEYS records all of it; one snapshot
 * held across many commits still reads its own generation whole. */
static void clear_reader(void *arg)
{
	const struct clear_args *a = arg;
	close(a->stop_wr);
	shmdb *db = test_child_open(&d), *hdb = test_child_open(&d);
	shmdb_rtxn *held = NULL;
	uint64_t held_gen = 0;
	unsigned rounds = 0;
	uint64_t deadline = test_now_ms() + 60000;
	while (!test_told_to_stop(a->stop_fd) && test_now_ms() < deadline) {
		shmdb_rtxn *r;
		shmdb_cursor *c;
		shmdb_val k, v;
		uint64_t n, gen = UINT64_MAX, seen = 0;
		CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 30);
		CHILD_REQUIRE(shmdb_count(r, a->t, &n) == 0, 31);
		CHILD_REQUIRE(shmdb_cursor_open(r, a->t, &c) == 0, 32);
		while (shmdb_cursor_next(c, &k, &v) == 0) {
			unsigned long long g;
			CHILD_REQUIRE(v.len > 2 && sscanf((const char *)v.data, "g:%llu", &g) == 1, 33);
			if (gen == UINT64_MAX)
				gen = g;
			CHILD_REQUIRE(g == gen, 34); /* never two generations in one snapshot */
			seen++;
		}
		shmdb_cursor_close(c);
		CHILD_REQUIRE(seen == n && (n == 0 || n == CLEAR_KEYS), 35);
		if (!held && seen && ++rounds == 20) {
			held = r; /* kept: read again after more clears */
			held_gen = gen;
			db = hdb;
			hdb = NULL;
			continue;
		}
		shmdb_read_end(r);
	}
	if (held) {
		char key[16], want[32];
		shmdb_val v;
		for (int i = 0; i < CLEAR_KEYS; i++) {
			int kl = gen_key(key, held_gen, i);
			int wl = snprintf(want, sizeof(want), "g:%llu", (unsigned long long)held_gen);
			CHILD_REQUIRE(shmdb_get(held, a->t, key, (size_t)kl, &v) == 0, 36);
			CHILD_REQUIRE(v.len == (size_t)wl && !memcmp(v.data, want, v.len), 37);
		}
		shmdb_read_end(held);
	}
	CHILD_REQUIRE(rounds > 0, 38);
}

START_TEST(clear_and_puts_replace_contents_at_once)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "gens");
	shmdb_stats base;
	ck_assert_int_eq(shmdb_stats_get(db, &base), 0);
	int stop[2];
	ck_assert_int_eq(pipe(stop), 0);
	struct clear_args a = { .t = t, .stop_fd = stop[0], .stop_wr = stop[1] };
	pid_t readers[2];
	for (int i = 0; i < 2; i++)
		readers[i] = test_spawn(clear_reader, &a);
	close(stop[0]);
	char k[16], v[32];
	for (uint64_t g = 1; g <= CLEAR_ROUNDS; g++) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		ck_assert_int_eq(shmdb_clear(w, t), 0);
		for (int i = 0; i < CLEAR_KEYS; i++) {
			int kl = gen_key(k, g, i);
			int vl = snprintf(v, sizeof(v), "g:%llu", (unsigned long long)g);
			ck_assert_int_eq(shmdb_put(w, t, k, (size_t)kl, v, (size_t)vl), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	close(stop[1]);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(test_reap(readers[i], 60000), 0);
	/* No snapshot left: the 400 cleared generations come back, in steps,
	 * to within a MiB of what the last one and its index take. */
	shmdb_stats st;
	uint64_t end = test_now_ms() + 10000;
	do {
		test_sleep_us(10000);
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	} while (st.mem_used > base.mem_used + (1u << 20) && test_now_ms() < end);
	ck_assert_msg(st.mem_used <= base.mem_used + (1u << 20),
		      "mem_used %" PRIu64 ", %" PRIu64 " before the generations", st.mem_used,
		      base.mem_used);
	/* Bad input. */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_clear(NULL, t), -EINVAL);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_clear(w, t + 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -ENOENT);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- the list of tables ------------------------------------------------------------ */

static void put_n(shmdb *db, shmdb_table t, int n)
{
	shmdb_wtxn *w;
	char k[16];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(shmdb_put(w, t, k, strlen(k), "value", 5), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
}

START_TEST(tables_in_name_order)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	/* Created out of order; "ab" a prefix of "abc". */
	const char *names[] = { "zeta", "abc", "ab", "m", "b" };
	const int counts[] = { 3, 0, 5, 1, 100 };
	for (int i = 0; i < 5; i++)
		put_n(db, test_table(db, names[i]), counts[i]);
	shmdb_rtxn *old, *r;
	ck_assert_int_eq(shmdb_read_begin(db, &old), 0);
	shmdb *db2 = test_open(&d);
	ck_assert_int_eq(shmdb_table_drop(db, "m"), 0);

	shmdb_table_info info[8];
	size_t n = 0;
	ck_assert_int_eq(shmdb_read_begin(db2, &r), 0);
	ck_assert_int_eq(shmdb_tables(r, info, 8, &n), 0);
	ck_assert_uint_eq(n, 4);
	const char *now[] = { "ab", "abc", "b", "zeta" };
	const uint64_t now_counts[] = { 5, 0, 100, 3 };
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(info[i].name, now[i]);
		ck_assert_uint_eq(info[i].count, now_counts[i]);
		ck_assert_int_eq(info[i].flags, 0);
		ck_assert_uint_gt(info[i].bytes, 0);
	}
	ck_assert_uint_gt(info[2].bytes, info[0].bytes); /* 100 records against 5 */
	/* At most cap filled: the first in order, n says how many exist. */
	memset(info, 0, sizeof(info));
	ck_assert_int_eq(shmdb_tables(r, info, 2, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(info[0].name, "ab");
	ck_assert_str_eq(info[1].name, "abc");
	ck_assert_str_eq(info[2].name, "");
	ck_assert_int_eq(shmdb_tables(r, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(shmdb_tables(r, NULL, 1, &n), -EINVAL);
	ck_assert_int_eq(shmdb_tables(r, info, 8, NULL), -EINVAL);
	shmdb_read_end(r);
	/* The snapshot from before the drop still has "m". */
	ck_assert_int_eq(shmdb_tables(old, info, 8, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(info[3].name, "m");
	ck_assert_uint_eq(info[3].count, 1);
	shmdb_read_end(old);
	shmdb_close(db2);
	shmdb_close(db);

	/* The tool: a table per line in the same order, and a count. */
	char out[4096], err[1024];
	const char *const tables_args[] = { "--socket", d.sock, "tables", NULL };
	ck_assert_int_eq(test_run(test_shmdb_tool_path, tables_args, out, sizeof(out), err,
				  sizeof(err)), 0);
	const char *ab = strstr(out, "\nab "), *b = strstr(out, "\nb "), *z = strstr(out, "\nzeta ");
	ck_assert(ab && b && z && ab < b && b < z && !strstr(out, "\nm "));
	const char *const count_args[] = { "--socket", d.sock, "count", "b", NULL };
	ck_assert_int_eq(test_run(test_shmdb_tool_path, count_args, out, sizeof(out), err,
				  sizeof(err)), 0);
	ck_assert_str_eq(out, "100\n");
	const char *const missing[] = { "--socket", d.sock, "count", "m", NULL };
	ck_assert_int_eq(test_run(test_shmdb_tool_path, missing, out, sizeof(out), err,
				  sizeof(err)), 1);
	ck_assert_ptr_nonnull(strstr(err, "no such table"));
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("count");
	TCase *tc = tcase_create("count");
	tcase_add_test(tc, count_exact_in_every_snapshot);
	tcase_add_test(tc, tables_in_name_order);
	tcase_add_test(tc, clear_and_puts_replace_contents_at_once);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
