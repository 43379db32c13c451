/*
 * test_bench.c - shmdb-bench --socket, against a daemon this test starts:
 * the run is a guest of that store (its records in a table of its own,
 * dropped at the end, the daemon and everyone else's data left as they
 * were), and a socket nobody serves is a clear error. Asserts nothing about
 * speed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "shmdb.h"

static struct test_daemon d;

START_TEST(quick_run_as_a_guest)
{
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--arena-size", "256M", NULL }), 0);
	shmdb *db;
	shmdb_table mine;
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	ck_assert_int_eq(shmdb_table_open(db, "mine", SHMDB_CREATE, &mine), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, mine, "k", 1, "v", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	/* The writer publishes the figures after its next reclamation step:
	 * then the oldest snapshot has caught up with the commit. */
	shmdb_stats before, after;
	for (int i = 0; i < 500; i++) {
		ck_assert_int_eq(shmdb_stats_get(db, &before), 0);
		if (before.oldest_snapshot == before.commit_ts)
			break;
		usleep(10000);
	}
	ck_assert_uint_eq(before.oldest_snapshot, before.commit_ts);

	static char out[65536], err[4096];
	int code = test_run(SHMDB_BENCH_PATH, (const char *const[]){ "--quick", "--socket", d.sock,
			    "--no-lmdb", "--no-redis", "--no-ideal", NULL }, out, sizeof(out), err,
			    sizeof(err));
	ck_assert_msg(code == 0, "exit %d: %s", code, err);
	ck_assert_msg(strstr(out, "get p50"), "%s", out);
	const char *named = strstr(out, "records in table ");
	ck_assert_msg(named, "%s", out);
	char table[64];
	ck_assert_int_eq(sscanf(named, "records in table %63s", table), 1);

	/* Its table is gone, the daemon runs, and "mine" is intact. */
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_open(db, table, 0, &t), -ENOENT);
	ck_assert(test_daemon_alive(&d));
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, mine, "k", 1, &v), 0);
	ck_assert(v.len == 1 && memcmp(v.data, "v", 1) == 0);
	shmdb_read_end(r);
	/* And its memory comes back once reclaimed. */
	for (int i = 0; i < 500; i++) {
		ck_assert_int_eq(shmdb_stats_get(db, &after), 0);
		if (after.mem_used <= before.mem_used)
			break;
		usleep(10000);
	}
	ck_assert_uint_le(after.mem_used, before.mem_used);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(no_daemon_at_the_socket)
{
	static char out[65536], err[4096];
	int code = test_run(SHMDB_BENCH_PATH, (const char *const[]){ "--quick", "--socket",
			    "/tmp/shmdb-no-such-dir/s.sock", "--no-lmdb", "--no-redis", "--no-ideal",
			    NULL }, out, sizeof(out), err, sizeof(err));
	ck_assert_int_ne(code, 0);
	ck_assert_msg(strstr(err, "/tmp/shmdb-no-such-dir/s.sock"), "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench");
	TCase *tc = tcase_create("bench");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, quick_run_as_a_guest);
	tcase_add_test(tc, no_daemon_at_the_socket);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
