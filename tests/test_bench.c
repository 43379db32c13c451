/*
 * test_bench.c - shmdb-bench --socket, against a daemon this test starts:
 * the run is a guest of that store (its records in a table of its own,
 * and those of its ordered workloads in three more, each dropped at the
 * end, the daemon and everyone else's data left as they were, also after
 * its pinned-overwrite runs; interrupted, it says how to drop that table),
 * its --json file holds the figures it printed, and a socket nobody serves
 * is a clear error. Asserts nothing about speed.
 */
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
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
	char json[64];
	snprintf(json, sizeof(json), "/tmp/shmdb-bench-guest-%d.json", (int)getpid());
	int code = test_run(SHMDB_BENCH_PATH, (const char *const[]){ "--quick", "--socket", d.sock,
			    "--no-lmdb", "--no-redis", "--no-ideal", "--json", json, NULL }, out,
			    sizeof(out), err, sizeof(err));
	ck_assert_msg(code == 0, "exit %d: %s", code, err);
	/* The JSON: the main figures and the ordered ones, as printed. */
	static char text[1 << 18];
	FILE *jf = fopen(json, "r");
	ck_assert_ptr_nonnull(jf);
	text[fread(text, 1, sizeof(text) - 1, jf)] = 0;
	fclose(jf);
	unlink(json);
	cJSON *root = cJSON_Parse(text);
	ck_assert_msg(root != NULL, "not JSON: %s", text);
	const cJSON *figs = cJSON_GetObjectItemCaseSensitive(root, "figures");
	ck_assert_int_gt(cJSON_GetArraySize(figs), 5);
	const cJSON *f0 = cJSON_GetArrayItem(figs, 0);
	ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f0, "figure")));
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(f0, "shmdb")));
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(f0, "lmdb"))); /* --no-lmdb */
	const cJSON *ord = cJSON_GetObjectItemCaseSensitive(root, "ordered");
	ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ord, "figures")), 5);
	cJSON_Delete(root);
	ck_assert_msg(strstr(out, "get p50"), "%s", out);
	ck_assert_msg(strstr(out, "pinned-overwrite:"), "%s", out);
	ck_assert_msg(strstr(out, "\nordered: "), "%s", out);
	ck_assert_msg(strstr(out, "seek + read p50"), "%s", out);
	ck_assert_msg(strstr(out, "multimap: a key's values"), "%s", out);
	const char *named = strstr(out, "records in table ");
	ck_assert_msg(named, "%s", out);
	char table[64];
	ck_assert_int_eq(sscanf(named, "records in table %63s", table), 1);
	/* The ordered workloads' tables: a hash table, an ordered one and a
	 * multimap. */
	named = strstr(out, "ordered records in tables ");
	ck_assert_msg(named, "%s", out);
	char ordered[3][64];
	ck_assert_int_eq(sscanf(named, "ordered records in tables %63s %63s %63s", ordered[0],
				ordered[1], ordered[2]), 3);

	/* Its tables are gone, the daemon runs, and "mine" is intact. */
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_open(db, table, 0, &t), -ENOENT);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(shmdb_table_open(db, ordered[i], 0, &t), -ENOENT);
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

/* Interrupted while a guest: the run ends by the signal, says on stderr
 * how to drop the table it leaves, and that command works. */
START_TEST(interrupted_guest_says_how_to_drop)
{
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--arena-size", "256M", NULL }), 0);
	char errpath[128];
	snprintf(errpath, sizeof(errpath), "%s/bench.err", d.dir);
	int out[2];
	ck_assert_int_eq(pipe(out), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(out[1], 1);
		dup2(err, 2);
		/* Enough gets that the signal lands while they run. */
		execl(SHMDB_BENCH_PATH, SHMDB_BENCH_PATH, "--records", "20000", "--gets", "100000000",
		      "--socket", d.sock, "--no-lmdb", "--no-redis", "--no-ideal", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* The table's name is printed (and flushed) before the first reader
	 * process starts. */
	static char buf[65536];
	size_t have = 0;
	struct pollfd pfd = { .fd = out[0], .events = POLLIN };
	while (!strstr(buf, "records in table ") && have < sizeof(buf) - 1 &&
	       poll(&pfd, 1, 60000) == 1) {
		ssize_t n = read(out[0], buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
	}
	ck_assert_msg(strstr(buf, "records in table "), "%s", buf);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(test_reap(pid, 60000), 128 + SIGTERM);
	close(out[0]);

	char err[4096] = "";
	FILE *f = fopen(errpath, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(err, 1, sizeof(err) - 1, f);
	err[n] = 0;
	fclose(f);
	const char *drop = strstr(err, " drop ");
	ck_assert_msg(drop, "%s", err);
	char table[64];
	ck_assert_int_eq(sscanf(drop, " drop %63s", table), 1);
	char want[64];
	snprintf(want, sizeof(want), "shmdb-bench-%d", (int)pid);
	ck_assert_str_eq(table, want);

	shmdb *db;
	shmdb_table t;
	ck_assert(test_daemon_alive(&d));
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	ck_assert_int_eq(shmdb_table_open(db, table, 0, &t), 0);
	static char o[4096], e[4096];
	ck_assert_int_eq(test_run(test_shmdb_tool_path, (const char *const[]){ "--socket", d.sock,
			 "drop", table, NULL }, o, sizeof(o), e, sizeof(e)), 0);
	ck_assert_int_eq(shmdb_table_open(db, table, 0, &t), -ENOENT);
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
	tcase_add_test(tc, interrupted_guest_says_how_to_drop);
	tcase_add_test(tc, no_daemon_at_the_socket);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
