/*
 * test_examples.c - the programs of examples/ against a real daemon: each
 * is run as a newcomer would run it, with the daemon's socket as its
 * argument, and must exit 0 and print what it promises. durability runs
 * against a memory-only daemon (the harness's default) and one with a data
 * dir in async mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#ifndef EXAMPLES_DIR
#error "EXAMPLES_DIR: the directory of the example-* programs (tests/CMakeLists.txt)"
#endif

static struct test_daemon d;
static char out[65536], err[8192];

/* Run examples/<name> with the daemon's socket (and one more argument, or
 * NULL), asserting exit 0; its stdout is in `out`. */
static void run_example(const char *name, const char *arg)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/example-%s", EXAMPLES_DIR, name);
	ck_assert_msg(access(path, X_OK) == 0, "no program %s", path);
	const char *args[] = { d.sock, arg, NULL };
	int code = test_run(path, args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(code == 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s", name, code, out, err);
}

/* `out` holds `want`. */
static void saw(const char *want)
{
	ck_assert_msg(strstr(out, want), "no \"%s\" in:\n%s\nstderr:\n%s", want, out, err);
}

/* How many lines of `out` hold `want`. */
static int lines_with(const char *want)
{
	int n = 0;
	for (const char *p = out; (p = strstr(p, want)); p += strlen(want))
		n++;
	return n;
}

START_TEST(first)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	run_example("first", NULL);
	saw("put hello = world");
	saw("get hello = world");
	/* What it wrote is in the store for everyone. */
	shmdb *db = test_open(&d);
	shmdb_table t;
	char buf[16];
	size_t len;
	ck_assert_int_eq(shmdb_table_open(db, "greetings", 0, &t), 0);
	ck_assert_int_eq(test_read_key(db, t, "hello", buf, sizeof(buf), &len), 0);
	ck_assert(len == 5 && memcmp(buf, "world", 5) == 0);
	shmdb_close(db);
	/* With no argument it takes the default socket, which $SHMDB_SOCKET
	 * names. */
	char path[512];
	snprintf(path, sizeof(path), "%s/example-first", EXAMPLES_DIR);
	ck_assert_int_eq(setenv("SHMDB_SOCKET", d.sock, 1), 0);
	int code = test_run(path, NULL, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(code == 0, "exit %d: %s", code, err);
	saw("get hello = world");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(poll_reader)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	run_example("poll_reader", "5");
	ck_assert_int_eq(lines_with("EURUSD changed: seq "), 5);
	saw("saw 5 distinct values");
	/* The default count, and a second run on the same store. */
	run_example("poll_reader", NULL);
	ck_assert_int_eq(lines_with("EURUSD changed: seq "), 10);
	saw("saw 10 distinct values");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(read_modify_write)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	run_example("read_modify_write", NULL);
	saw("worker 1: 1000 increments");
	saw("worker 2: 1000 increments");
	saw("counter = 2000 (expected 2000)");
	/* Again: it starts the counter from 0. */
	run_example("read_modify_write", NULL);
	saw("counter = 2000 (expected 2000)");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(bulk_load)
{
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--arena-size", "64M",
							       NULL }), 0);
	run_example("bulk_load", NULL);
	saw("loaded 100000 records in ");
	saw(" records/s");
	saw("count = 100000\n");
	/* A run with another count replaces the table. */
	run_example("bulk_load", "2500");
	saw("count = 2500\n");
	shmdb *db = test_open(&d);
	shmdb_table t;
	shmdb_rtxn *r;
	uint64_t n;
	ck_assert_int_eq(shmdb_table_open(db, "bulk", 0, &t), 0);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	shmdb_read_end(r);
	ck_assert_uint_eq(n, 2500);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(ordered_range)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	for (int run = 0; run < 2; run++) { /* the second replaces the book */
		run_example("ordered_range", NULL);
		saw("seek AAPL 100.10:\n  next   AAPL 100.25 size 80\n"
		    "walk up:\n  next   AAPL 100.50 size 1000\n"
		    "walk down:\n  prev   AAPL 100.00 size 500\n  prev   AAPL 99.75 size 120\n"
		    "  prev   AAPL 99.50 size 300\n");
		saw("prefix MSFT:\n  scan   MSFT 410.10 size 50\n  scan   MSFT 410.20 size 75\n");
		saw("AAPL: 2 levels at or above 100.10, 3 below; MSFT: 2 levels\n");
	}
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(rows_index)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	for (int run = 0; run < 2; run++) { /* the second starts from a new table */
		run_example("rows_index", NULL);
		saw("order 2: price 410.25 qty 250 (200 + 50)\n");
		saw("first MSFT order:\n  get      id 2  MSFT  price 410.25  qty 250\n");
		saw("all MSFT orders:\n  by index id 2  MSFT  price 410.25  qty 250\n"
		    "  by index id 4  MSFT  price 410.00  qty 50\n");
		saw("MSFT orders: 2; rows in the index: 5\n");
	}
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(durability_memory_only)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0); /* --durability none */
	run_example("durability", NULL);
	saw("committed at ");
	saw("durability: none (memory only)\n");
	saw("memory-only store: shmdb_sync has nothing to do\n");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(durability_async)
{
	char dir[] = "/var/tmp/shmdb-examples-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--data-dir", dir,
			 "--durability", "async", "--log-segment-size", "1M", NULL }), 0);
	run_example("durability", NULL);
	saw("durability: async");
	saw("after shmdb_sync: durable_ts ");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Without a daemon each says why on stderr and fails. */
START_TEST(no_daemon)
{
	static const char *const names[] = { "first", "poll_reader", "read_modify_write",
					     "bulk_load", "ordered_range", "rows_index",
					     "durability" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/example-%s", EXAMPLES_DIR, names[i]);
		const char *args[] = { "/tmp/shmdb-no-such-dir/shmdb.sock", NULL };
		int code = test_run(path, args, out, sizeof(out), err, sizeof(err));
		ck_assert_msg(code != 0, "%s exited 0 with no daemon", names[i]);
		ck_assert_msg(strstr(err, shmdb_strerror(SHMDB_ENODAEMON)), "%s: %s", names[i], err);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("examples");
	TCase *tc = tcase_create("examples");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, first);
	tcase_add_test(tc, poll_reader);
	tcase_add_test(tc, read_modify_write);
	tcase_add_test(tc, bulk_load);
	tcase_add_test(tc, ordered_range);
	tcase_add_test(tc, rows_index);
	tcase_add_test(tc, durability_memory_only);
	tcase_add_test(tc, durability_async);
	tcase_add_test(tc, no_daemon);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
