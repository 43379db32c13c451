/*
 * test_visibility.c - visibility and isolation between client processes,
 * each with its own handle on one real shmdbd:
 *
 *   - a snapshot in one process keeps what it saw while another commits,
 *     a new snapshot sees the commit, and the other way round;
 *   - views of a snapshot held in one process stay put, byte for byte,
 *     while another process overwrites their keys 100,000 times.
 *
 * Rules: every child opens its own handle after fork() and reports through
 * its exit status (CHILD_REQUIRE names the failed condition on stderr) or a
 * pipe; no check depends on timing; every wait is bounded (harness.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "shmdb.h"

static struct test_daemon d;

/* ---- a snapshot across processes -------------------------------------------- */

struct vis_args {
	shmdb_table t;
	int to_parent;   /* B writes: its snapshot's ts, then its commit's ts */
	int from_parent; /* A writes: the ts of its v2 commit */
};

/* Process B. */
static void vis_child(void *arg)
{
	const struct vis_args *a = arg;
	shmdb *db = test_child_open(&d);
	shmdb_table t;
	shmdb_rtxn *r;
	shmdb_val v, early;
	uint64_t v2_ts = 0;

	CHILD_REQUIRE(shmdb_table_open(db, "vis", 0, &t) == 0 && t == a->t, 2);
	CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 3);
	uint64_t snap = shmdb_read_ts(r);
	/* A committed v1 before forking B: the snapshot shows it. */
	CHILD_REQUIRE(shmdb_get(r, t, "key", 3, &early) == 0, 4);
	CHILD_REQUIRE(early.len == 2 && !memcmp(early.data, "v1", 2), 5);
	CHILD_REQUIRE(test_write_full(a->to_parent, &snap, sizeof(snap), 30000) == 0, 6);
	CHILD_REQUIRE(test_read_full(a->from_parent, &v2_ts, sizeof(v2_ts), 30000) == 0, 7);

	/* A has committed v2 since: the open snapshot still shows v1, both
	 * through the view taken before and through a new get. */
	CHILD_REQUIRE(v2_ts > snap, 8);
	CHILD_REQUIRE(shmdb_read_ts(r) == snap, 9);
	CHILD_REQUIRE(shmdb_get(r, t, "key", 3, &v) == 0, 10);
	CHILD_REQUIRE(v.len == 2 && !memcmp(v.data, "v1", 2), 11);
	CHILD_REQUIRE(early.len == 2 && !memcmp(early.data, "v1", 2), 12);
	shmdb_read_end(r);

	/* A new snapshot shows v2. */
	CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 13);
	CHILD_REQUIRE(shmdb_read_ts(r) >= v2_ts, 14);
	CHILD_REQUIRE(shmdb_get(r, t, "key", 3, &v) == 0, 15);
	CHILD_REQUIRE(v.len == 2 && !memcmp(v.data, "v2", 2), 16);
	shmdb_read_end(r);

	/* And the other way round: B commits, A must see it. */
	uint64_t b_ts = 0;
	CHILD_REQUIRE(test_commit_put(db, t, "from-b", "hello", 5, &b_ts) == 0, 17);
	CHILD_REQUIRE(b_ts > v2_ts, 18);
	CHILD_REQUIRE(test_write_full(a->to_parent, &b_ts, sizeof(b_ts), 30000) == 0, 19);
	shmdb_close(db);
}

START_TEST(visibility_across_processes)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "vis");
	uint64_t v1_ts = 0, v2_ts = 0, snap = 0, b_ts = 0;
	ck_assert_int_eq(test_commit_put(db, t, "key", "v1", 2, &v1_ts), 0);

	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	struct vis_args a = { .t = t, .to_parent = up[1], .from_parent = down[0] };
	pid_t b = test_spawn(vis_child, &a);
	close(up[1]); /* B's ends: if B dies, our reads see EOF at once */
	close(down[0]);

	ck_assert_msg(test_read_full(up[0], &snap, sizeof(snap), 30000) == 0, "B failed (exit %d)",
		      test_reap(b, 1000));
	ck_assert_uint_ge(snap, v1_ts);
	ck_assert_int_eq(test_commit_put(db, t, "key", "v2", 2, &v2_ts), 0);
	ck_assert_uint_gt(v2_ts, snap);
	ck_assert_int_eq(test_write_full(down[1], &v2_ts, sizeof(v2_ts), 30000), 0);
	ck_assert_msg(test_read_full(up[0], &b_ts, sizeof(b_ts), 30000) == 0, "B failed (exit %d)",
		      test_reap(b, 1000));
	ck_assert_int_eq(test_reap(b, 30000), 0);

	/* A sees B's commit in a snapshot begun after it returned. */
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_uint_ge(shmdb_read_ts(r), b_ts);
	ck_assert_int_eq(shmdb_get(r, t, "from-b", 6, &v), 0);
	ck_assert_uint_eq(v.len, 5);
	ck_assert_mem_eq(v.data, "hello", 5);
	ck_assert_int_eq(shmdb_get(r, t, "key", 3, &v), 0);
	ck_assert_uint_eq(v.len, 2);
	ck_assert_mem_eq(v.data, "v2", 2);
	shmdb_read_end(r);

	close(up[0]);
	close(down[1]);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- views stay put while another process overwrites --------------------------- */

enum { VIEW_KEYS = 10, VIEW_TXNS = 10000, VIEW_VLEN = 100 };

/* Key i's value in generation g: different for every (i, g). */
static void view_value(uint8_t v[VIEW_VLEN], int i, uint32_t g)
{
	for (int j = 0; j < VIEW_VLEN; j++)
		v[j] = (uint8_t)(i * 31 + (g * 7) + (g >> 8) * 13 + j * 3);
	memcpy(v, &g, sizeof(g));
	v[4] = (uint8_t)i;
}

static void view_key(char k[8], int i)
{
	snprintf(k, 8, "view%02d", i);
}

struct view_args {
	shmdb_table t;
	int to_parent, from_parent;
};

/* Holds one snapshot with views of every key while the other process
 * overwrites them; compares the views with copies all along. */
static void view_reader(void *arg)
{
	const struct view_args *a = arg;
	shmdb *db = test_child_open(&d);
	shmdb_rtxn *r;
	shmdb_val views[VIEW_KEYS];
	uint8_t copies[VIEW_KEYS][VIEW_VLEN], want[VIEW_VLEN];

	CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 30);
	uint64_t snap = shmdb_read_ts(r);
	for (int i = 0; i < VIEW_KEYS; i++) {
		char k[8];
		view_key(k, i);
		CHILD_REQUIRE(shmdb_get(r, a->t, k, 6, &views[i]) == 0, 31);
		CHILD_REQUIRE(views[i].len == VIEW_VLEN, 32);
		memcpy(copies[i], views[i].data, VIEW_VLEN);
		view_value(want, i, 0);
		CHILD_REQUIRE(!memcmp(copies[i], want, VIEW_VLEN), 33);
	}
	CHILD_REQUIRE(test_write_full(a->to_parent, &snap, sizeof(snap), 30000) == 0, 34);

	/* Until the writer is done (bounded by the parent's timeout). */
	long looks = 0;
	while (!test_told_to_stop(a->from_parent)) {
		for (int i = 0; i < VIEW_KEYS; i++)
			CHILD_REQUIRE(views[i].len == VIEW_VLEN &&
				      !memcmp(views[i].data, copies[i], VIEW_VLEN), 35);
		looks++;
		test_sleep_us(500);
	}
	char done;
	CHILD_REQUIRE(read(a->from_parent, &done, 1) == 1, 36);

	/* After 100,000 overwrites: the same bytes behind the same views, and
	 * the snapshot still finds the same versions. */
	CHILD_REQUIRE(shmdb_read_ts(r) == snap, 37);
	for (int i = 0; i < VIEW_KEYS; i++) {
		char k[8];
		shmdb_val again;
		view_key(k, i);
		CHILD_REQUIRE(views[i].len == VIEW_VLEN &&
			      !memcmp(views[i].data, copies[i], VIEW_VLEN), 38);
		CHILD_REQUIRE(shmdb_get(r, a->t, k, 6, &again) == 0, 39);
		CHILD_REQUIRE(again.data == views[i].data && again.len == VIEW_VLEN, 39);
	}
	shmdb_read_end(r);

	/* A new snapshot sees the last generation. */
	CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 40);
	for (int i = 0; i < VIEW_KEYS; i++) {
		char k[8];
		shmdb_val v;
		view_key(k, i);
		view_value(want, i, VIEW_TXNS);
		CHILD_REQUIRE(shmdb_get(r, a->t, k, 6, &v) == 0, 41);
		CHILD_REQUIRE(v.len == VIEW_VLEN && !memcmp(v.data, want, VIEW_VLEN), 42);
	}
	shmdb_read_end(r);
	CHILD_REQUIRE(looks > 0, 43);
	shmdb_close(db);
}

static void view_writer(void *arg)
{
	const struct view_args *a = arg;
	shmdb *db = test_child_open(&d);
	uint8_t v[VIEW_VLEN];
	uint64_t last = 0;
	for (uint32_t g = 1; g <= VIEW_TXNS; g++) {
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 50);
		for (int i = 0; i < VIEW_KEYS; i++) {
			char k[8];
			view_key(k, i);
			view_value(v, i, g);
			CHILD_REQUIRE(shmdb_put(w, a->t, k, 6, v, VIEW_VLEN) == 0, 51);
		}
		uint64_t ts = 0;
		int e = shmdb_commit(w, &ts);
		if (e)
			fprintf(stderr, "view writer: commit %u: %s\n", g, shmdb_strerror(e));
		CHILD_REQUIRE(e == 0, 52);
		CHILD_REQUIRE(ts > last, 53);
		last = ts;
	}
	shmdb_close(db);
}

START_TEST(views_stable_across_processes)
{
	/* The reader's snapshot keeps every replaced version (100,000 of
	 * about 144 bytes) until it ends. */
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "views");
	shmdb_wtxn *w;
	uint8_t v[VIEW_VLEN];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < VIEW_KEYS; i++) {
		char k[8];
		view_key(k, i);
		view_value(v, i, 0);
		ck_assert_int_eq(shmdb_put(w, t, k, 6, v, VIEW_VLEN), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	struct view_args a = { .t = t, .to_parent = up[1], .from_parent = down[0] };
	pid_t reader = test_spawn(view_reader, &a);
	close(up[1]);
	uint64_t snap = 0;
	ck_assert_msg(test_read_full(up[0], &snap, sizeof(snap), 30000) == 0,
		      "the reader failed (exit %d)", test_reap(reader, 1000));

	pid_t writer = test_spawn(view_writer, &a);
	int wcode = test_reap(writer, 150000);
	ck_assert_int_eq(test_write_full(down[1], "d", 1, 30000), 0);
	int rcode = test_reap(reader, 30000);
	ck_assert_msg(wcode == 0, "writer ended with %d", wcode);
	ck_assert_msg(rcode == 0, "reader ended with %d (its views changed?)", rcode);
	ck_assert_uint_ge(test_commit_ts(db), snap + VIEW_TXNS);

	close(up[0]);
	close(down[0]);
	close(down[1]);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("visibility");
	TCase *tc = tcase_create("visibility");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, visibility_across_processes);
	tcase_add_test(tc, views_stable_across_processes);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
