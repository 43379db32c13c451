/*
 * test_stats.c - the statistics on a real daemon: what client processes do
 * shows in shmdb_stats, in the daemon's report (shmdb_report_get: each
 * session's commits and snapshots, each table's versions waiting while a
 * snapshot pins them) and in `shmdb stats` as JSON (parsed back with
 * cJSON) and in the Prometheus text format (every line well formed); and
 * `shmdb top` draws and leaves on q and on Ctrl-C.
 */
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define COMMITS 200

static struct test_daemon d;

/* A child: COMMITS one-put commits of keys k0.. of "hot", then a snapshot
 * held until the parent closes `stop` (its write end). */
struct holder {
	int ready[2], stop[2];
};

static void holder_child(void *arg)
{
	struct holder *h = arg;
	close(h->ready[0]);
	close(h->stop[1]);
	shmdb *db = test_child_open(&d);
	shmdb_table t;
	CHILD_REQUIRE(shmdb_table_open(db, "hot", SHMDB_CREATE, &t) == 0, 10);
	for (int i = 0; i < COMMITS; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		CHILD_REQUIRE(test_commit_put(db, t, k, &i, sizeof(i), NULL) == 0, 11);
	}
	shmdb_rtxn *r;
	CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 12);
	char ok = 1;
	CHILD_REQUIRE(test_write_full(h->ready[1], &ok, 1, 5000) == 0, 13);
	char c;
	CHILD_REQUIRE(test_read_full(h->stop[0], &c, 1, 30000) != 0, 14); /* EOF: go */
	shmdb_read_end(r);
	shmdb_close(db);
}

static pid_t start_holder(struct holder *h)
{
	ck_assert_int_eq(pipe(h->ready), 0);
	ck_assert_int_eq(pipe(h->stop), 0);
	pid_t pid = test_spawn(holder_child, h);
	close(h->ready[1]);
	close(h->stop[0]);
	char ok;
	ck_assert_int_eq(test_read_full(h->ready[0], &ok, 1, 20000), 0);
	return pid;
}

static const shmdb_session_info *session_of(const shmdb_report *r, pid_t pid)
{
	for (size_t i = 0; i < r->nsessions; i++)
		if (r->sessions[i].pid == (uint32_t)pid)
			return &r->sessions[i];
	return NULL;
}

START_TEST(report_and_stats_follow_the_clients)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	struct holder h;
	pid_t pid = start_holder(&h);
	shmdb_table hot;
	ck_assert_int_eq(shmdb_table_open(db, "hot", 0, &hot), 0);
	/* Each key overwritten while the child's snapshot sees the version
	 * it replaces: every one of those waits for the snapshot. */
	for (int i = 0; i < COMMITS; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(test_commit_put(db, hot, k, &i, sizeof(i), NULL), 0);
	}

	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	ck_assert_uint_ge(st.commits, 2 * COMMITS + 1);
	ck_assert_uint_ge(st.ops, 2 * COMMITS + 1);
	ck_assert_uint_gt(st.work_passes, 0);
	ck_assert_uint_gt(st.writer_uptime_ns, st.busy_ns);
	uint64_t passes = 0;
	for (unsigned i = 0; i < SHMDB_BATCH_BUCKETS; i++)
		passes += st.batch[i];
	ck_assert_uint_eq(passes, st.work_passes);

	shmdb_report *r;
	ck_assert_int_eq(shmdb_report_get(db, &r), 0);
	ck_assert_uint_eq(r->nsessions, 2);
	const shmdb_session_info *s = session_of(r, pid), *me = session_of(r, getpid());
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(me);
	ck_assert_uint_eq(s->commits, COMMITS + 1); /* + its table's create */
	ck_assert_uint_eq(s->snapshots, 1);
	ck_assert_uint_eq(s->ring_depth, 0);
	ck_assert(!s->self && me->self);
	ck_assert_uint_eq(me->commits, COMMITS);
	ck_assert_uint_eq(r->ntables, 1);
	ck_assert_uint_eq(r->tables[0].id, hot);
	ck_assert_uint_ge(r->tables[0].versions, COMMITS);
	ck_assert_uint_gt(r->tables[0].bytes, 0);
	shmdb_report_free(r);

	/* The snapshot ends: the versions it pinned are freed. */
	close(h.stop[1]);
	ck_assert_int_eq(test_reap(pid, 10000), 0);
	uint64_t end = test_now_ms() + 10000;
	size_t waiting = 1;
	while (waiting && test_now_ms() < end) {
		test_commit_put(db, hot, "other", "x", 1, NULL); /* moves the horizon */
		ck_assert_int_eq(shmdb_report_get(db, &r), 0);
		waiting = 0;
		for (size_t i = 0; i < r->ntables; i++)
			waiting += r->tables[i].versions > 2 ? 1 : 0;
		ck_assert_uint_eq(r->nsessions, 1);
		shmdb_report_free(r);
		test_sleep_us(20000);
	}
	ck_assert_uint_eq(waiting, 0);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

static cJSON *get(const cJSON *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	const cJSON *at = o;
	for (char *p = strtok(buf, "."); p && at; p = strtok(NULL, "."))
		at = cJSON_GetObjectItemCaseSensitive(at, p);
	ck_assert_msg(at != NULL, "%s missing", path);
	return (cJSON *)at;
}

START_TEST(stats_json_and_prometheus)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "quotes\"eur");
	for (int i = 0; i < 20; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(test_commit_put(db, t, k, "v", 1, NULL), 0);
	}
	static char out[1 << 16], err[4096];
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "stats", "--json", "--socket", d.sock, NULL },
				  out, sizeof(out), err, sizeof(err)), 0);
	cJSON *j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	ck_assert_double_ge(get(j, "writer.commits")->valuedouble, 21);
	ck_assert_double_eq(get(j, "memory.total")->valuedouble, 16 << 20);
	ck_assert_str_eq(get(j, "memory.pressure")->valuestring, "normal");
	ck_assert_double_eq(get(j, "memory.critical_pct")->valuedouble, 95);
	cJSON *tables = get(j, "tables");
	ck_assert_int_eq(cJSON_GetArraySize(tables), 1);
	cJSON *t0 = cJSON_GetArrayItem(tables, 0);
	ck_assert_str_eq(get(t0, "name")->valuestring, "quotes\"eur");
	ck_assert_double_eq(get(t0, "records")->valuedouble, 20);
	ck_assert_double_gt(get(t0, "index_load")->valuedouble, 0);
	cJSON *sessions = get(j, "sessions");
	ck_assert_int_eq(cJSON_GetArraySize(sessions), 2); /* this test's and the tool's */
	cJSON_Delete(j);
	/* status --json: the same figures, bytes exact. */
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "status", "--json", "--socket", d.sock, NULL },
				  out, sizeof(out), err, sizeof(err)), 0);
	j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	ck_assert_double_eq(get(j, "memory.total")->valuedouble, (double)st.mem_total);
	ck_assert_double_gt(get(j, "memory.used")->valuedouble, 0);
	cJSON_Delete(j);

	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "stats", "--prometheus", "--socket", d.sock,
							 NULL }, out, sizeof(out), err, sizeof(err)), 0);
	/* Every line: a comment, or name{labels} value. */
	int samples = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#') {
			ck_assert_msg(!strncmp(line, "# HELP shmdb_", 13) ||
				      !strncmp(line, "# TYPE shmdb_", 13), "%s", line);
			continue;
		}
		ck_assert_msg(!strncmp(line, "shmdb_", 6), "%s", line);
		char *sp = strrchr(line, ' ');
		ck_assert_ptr_nonnull(sp);
		char *end;
		strtod(sp + 1, &end);
		ck_assert_msg(*end == 0 && end > sp + 1, "bad value: %s", line);
		for (char *c = line; c < sp && *c != '{'; c++)
			ck_assert_msg(isalnum((unsigned char)*c) || *c == '_', "bad name: %s", line);
		samples++;
	}
	ck_assert_int_gt(samples, 30);
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "stats", "--prometheus", "--socket", d.sock,
							 NULL }, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out, "shmdb_table_records{table=\"quotes\\\"eur\",kind=\"hash\"} 20\n"));
	ck_assert_ptr_nonnull(strstr(out, "shmdb_memory_total_bytes 16777216\n"));
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "stats", "--socket", d.sock, NULL }, out,
				  sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(strstr(out, "of 16 MiB in use") && strstr(out, "quotes\"eur"), "%s", out);
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "stats", "--json", "--prometheus", "--socket",
							 d.sock, NULL }, out, sizeof(out), err,
				  sizeof(err)), 2);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* `shmdb top` with its input a pipe: it draws, and leaves on `how`. */
static void top_leaves(int how)
{
	test_start_daemon(&d, "16M");
	int in[2], out[2];
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[1]);
		close(out[0]);
		execl(test_shmdb_tool_path, test_shmdb_tool_path, "top", "--socket", d.sock,
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* Two screens, at most 10 s. */
	static char screen[1 << 16];
	size_t got = 0;
	int screens = 0;
	uint64_t end = test_now_ms() + 10000;
	while (screens < 2 && test_now_ms() < end && got < sizeof(screen) - 1) {
		if (test_read_full(out[0], screen + got, 1, 2000))
			break;
		got++;
		screen[got] = 0;
		if (got >= 4 && !memcmp(screen + got - 4, "\033[2J", 4))
			screens++;
	}
	ck_assert_int_eq(screens, 2);
	if (how == 'q')
		ck_assert_int_eq(write(in[1], "q", 1), 1);
	else
		kill(pid, SIGINT);
	ck_assert_int_eq(test_reap(pid, 5000), 0);
	ck_assert_ptr_nonnull(strstr(screen, "commits/s"));
	close(in[1]);
	close(out[0]);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

START_TEST(top_leaves_on_q)
{
	top_leaves('q');
}
END_TEST

START_TEST(top_leaves_on_ctrl_c)
{
	top_leaves(SIGINT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("figures");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, report_and_stats_follow_the_clients);
	tcase_add_test(tc, stats_json_and_prometheus);
	tcase_add_test(tc, top_leaves_on_q);
	tcase_add_test(tc, top_leaves_on_ctrl_c);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
