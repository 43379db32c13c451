/*
 * test_stats.c - the statistics on a real daemon: what client processes do
 * shows in shmdb_stats, in the daemon's report (shmdb_report_get: each
 * session's commits and snapshots, each table's versions waiting while a
 * snapshot pins them) and in `shmdb stats` as JSON (parsed back with
 * cJSON) and in the Prometheus text format (every line well formed);
 * every figure the operations issue lists, in all three forms, with values
 * the clients made (a ring found full, a snapshot's owner, versions kept
 * for it); and `shmdb top` draws and leaves on q and on Ctrl-C.
 */
#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "harness.h"

#define COMMITS 200

static struct test_daemon d;

/* A child and the pipes between it and the parent: `ready` up (its first
 * byte: it is set), `stop` down (closing its write end ends the child). */
struct child {
	int ready[2], stop[2];
};

/* In the child: keep its ends of the pipes, open the store and table
 * `name` (created if missing). */
static shmdb *child_begin(struct child *c, const char *name, shmdb_table *t)
{
	close(c->ready[0]);
	close(c->stop[1]);
	shmdb *db = test_child_open(&d);
	CHILD_REQUIRE(shmdb_table_open(db, name, SHMDB_CREATE, t) == 0, 10);
	return db;
}

/* In the parent: run fn in a child over c's pipes; return once it has
 * sent its first byte up `ready`. */
static pid_t child_start(struct child *c, void (*fn)(void *))
{
	ck_assert_int_eq(pipe(c->ready), 0);
	ck_assert_int_eq(pipe(c->stop), 0);
	pid_t pid = test_spawn(fn, c);
	close(c->ready[1]);
	close(c->stop[0]);
	char ok;
	ck_assert_int_eq(test_read_full(c->ready[0], &ok, 1, 20000), 0);
	return pid;
}

/* A holder child: COMMITS one-put commits of keys k0.. of "hot", then a
 * snapshot held until the parent closes `stop`. */
static void holder_child(void *arg)
{
	struct child *h = arg;
	shmdb_table t;
	shmdb *db = child_begin(h, "hot", &t);
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

/* A holder child, then each of its keys overwritten while its snapshot
 * sees the version replaced: every one of those waits for the snapshot.
 * Returns the holder's pid; *hot is its table. */
static pid_t hold_and_overwrite(shmdb *db, struct child *h, shmdb_table *hot)
{
	pid_t pid = child_start(h, holder_child);
	ck_assert_int_eq(shmdb_table_open(db, "hot", 0, hot), 0);
	for (int i = 0; i < COMMITS; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(test_commit_put(db, *hot, k, &i, sizeof(i), NULL), 0);
	}
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
	struct child h;
	shmdb_table hot;
	pid_t pid = hold_and_overwrite(db, &h, &hot);

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

/* `shmdb CMD --json` on this test's daemon, parsed (delete it after). */
static cJSON *tool_json(const char *cmd)
{
	static char out[1 << 16], err[4096];
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ cmd, "--json", "--socket", d.sock, NULL },
				  out, sizeof(out), err, sizeof(err)), 0);
	cJSON *j = cJSON_Parse(out);
	ck_assert_msg(j != NULL, "not JSON: %s", out);
	return j;
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
	cJSON *j = tool_json("stats");
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
	j = tool_json("status");
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	ck_assert_double_eq(get(j, "memory.total")->valuedouble, (double)st.mem_total);
	ck_assert_double_gt(get(j, "memory.used")->valuedouble, 0);
	shmdb_info info;
	ck_assert_int_eq(shmdb_info_get(db, &info), 0);
	char id[33];
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", info.store_id[i]);
	ck_assert_str_eq(get(j, "daemon.store_id")->valuestring, id);
	ck_assert_uint_eq(strtoull(get(j, "daemon.started_ns")->valuestring, NULL, 10),
			  info.started_ns);
	ck_assert(cJSON_IsTrue(get(j, "daemon.running")));
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

/* A child that fills its ring while the daemon is stopped: it opens and
 * says so (a byte up `ready`), waits for a byte down `stop`, submits
 * FILL_TXNS transactions of a FILL_VALUE-byte value without waiting, a
 * byte after each, waits for them all, says so, and keeps its session
 * until `stop` closes. Five fit in the 512 KiB ring; the sixth finds it
 * full. */
#define FILL_VALUE (100u << 10)
#define FILL_TXNS 8
#define FILL_FIT 5

static void filler_child(void *arg)
{
	struct child *f = arg;
	shmdb_table t;
	shmdb *db = child_begin(f, "fill", &t);
	static char v[FILL_VALUE];
	char b = 1;
	CHILD_REQUIRE(test_write_full(f->ready[1], &b, 1, 5000) == 0, 11);
	CHILD_REQUIRE(test_read_full(f->stop[0], &b, 1, 30000) == 0, 12);
	uint64_t tickets[FILL_TXNS];
	for (int i = 0; i < FILL_TXNS; i++) {
		char k[8];
		snprintf(k, sizeof(k), "f%d", i);
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 13);
		CHILD_REQUIRE(shmdb_put(w, t, k, strlen(k), v, sizeof(v)) == 0, 14);
		CHILD_REQUIRE(shmdb_commit_async(w, &tickets[i]) == 0, 15);
		CHILD_REQUIRE(test_write_full(f->ready[1], &b, 1, 5000) == 0, 16);
	}
	for (int i = 0; i < FILL_TXNS; i++)
		CHILD_REQUIRE(shmdb_wait(db, tickets[i], NULL) == 0, 17);
	CHILD_REQUIRE(test_write_full(f->ready[1], &b, 1, 5000) == 0, 18);
	CHILD_REQUIRE(test_read_full(f->stop[0], &b, 1, 30000) != 0, 19); /* EOF: go */
	shmdb_close(db);
}

/* Whether process pid is blocked in a sleep of its own (nanosleep), from
 * the system call /proc says it is in. (No assertion: it is read while
 * the daemon is stopped.) */
static bool in_nanosleep(pid_t pid)
{
	char path[64];
	long nr = -1;
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &nr) != 1)
			nr = -1;
		fclose(f);
	}
	return nr == SYS_clock_nanosleep || nr == SYS_nanosleep;
}

/* Whether every thread of process pid is stopped (state T in its stat):
 * kill(SIGSTOP) returns before a thread running on another cpu has
 * stopped, and a writer still running would take the filler's first
 * transactions, so that its ring never fills. */
static bool all_stopped(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	if (!dir)
		return false;
	bool stopped = true;
	struct dirent *e;
	while (stopped && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		char stat[512], tpath[320], state = 0;
		snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/stat", (int)pid, e->d_name);
		FILE *f = fopen(tpath, "r");
		if (f && fgets(stat, sizeof(stat), f)) {
			const char *close_paren = strrchr(stat, ')');
			state = close_paren && close_paren[1] ? close_paren[2] : 0;
		}
		if (f)
			fclose(f);
		stopped = state == 'T' || state == 't';
	}
	closedir(dir);
	return stopped;
}

/* The filler's ring found full: it starts submitting with the daemon
 * stopped, and once five are in, its sixth waits in sq_room, the only
 * place it sleeps (a nanosleep between looks at the ring), until the
 * daemon goes on. Its voluntary switches, counted here before, once
 * climbed under ASan with the ring never found full: something else
 * slept, so the test asks /proc which system call it is in. */
static pid_t fill_a_ring(struct child *f)
{
	pid_t pid = child_start(f, filler_child);
	char b = 1;
	/* Nothing asserted while the daemon is stopped: a failure there
	 * would leave it stopped for good, and the filler waiting on it. */
	ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
	int fit = 0, asleep = 0, stopped = 0;
	for (uint64_t until = test_now_ms() + 20000; !stopped && test_now_ms() < until;)
		if (!(stopped = all_stopped(d.pid)))
			test_sleep_us(1000);
	if (stopped && write(f->stop[1], &b, 1) == 1)
		while (fit < FILL_FIT && test_read_full(f->ready[0], &b, 1, 20000) == 0)
			fit++;
	uint64_t end = test_now_ms() + 20000;
	while (fit == FILL_FIT && !asleep && test_now_ms() < end) {
		asleep = in_nanosleep(pid);
		test_sleep_us(1000);
	}
	ck_assert_int_eq(kill(d.pid, SIGCONT), 0);
	ck_assert_msg(stopped, "the daemon's threads did not all stop");
	ck_assert_int_eq(fit, FILL_FIT);
	ck_assert_msg(asleep, "the filler never waited for room in its ring");
	for (int i = FILL_FIT; i < FILL_TXNS + 1; i++)
		ck_assert_int_eq(test_read_full(f->ready[0], &b, 1, 30000), 0);
	return pid;
}

static char *has(char *text, const char *what)
{
	char *p = strstr(text, what);
	ck_assert_msg(p != NULL, "no \"%s\" in:\n%s", what, text);
	return p;
}

/* The figure after `name ` in Prometheus text. */
static double prom_value(char *text, const char *name)
{
	char key[256];
	snprintf(key, sizeof(key), "\n%s ", name);
	return strtod(has(text, key) + strlen(key), NULL);
}

START_TEST(every_figure_in_every_form)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table q = test_table(db, "quotes");
	/* Versions replaced with no snapshot to keep them: retired, then
	 * freed after a grace period. */
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 20; i++) {
			char k[16];
			snprintf(k, sizeof(k), "k%d", i);
			ck_assert_int_eq(test_commit_put(db, q, k, &round, sizeof(round), NULL), 0);
		}
	shmdb_stats st;
	uint64_t end = test_now_ms() + 10000;
	do {
		test_commit_put(db, q, "other", "x", 1, NULL); /* moves the horizon */
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	} while (!st.mem_freed && test_now_ms() < end && (test_sleep_us(10000), 1));
	ck_assert_uint_gt(st.mem_freed, 0);
	/* A snapshot held, and versions kept for it. */
	struct child h;
	shmdb_table hot;
	pid_t holder = hold_and_overwrite(db, &h, &hot);
	struct child f;
	pid_t filler = fill_a_ring(&f);
	/* The reclaimer publishes the snapshot figures after its next look
	 * at the readers, which a commit brings. */
	end = test_now_ms() + 10000;
	do {
		test_commit_put(db, q, "other", "y", 1, NULL);
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	} while (st.oldest_pid != (uint32_t)holder && test_now_ms() < end &&
		 (test_sleep_us(10000), 1));
	ck_assert_uint_eq(st.oldest_pid, (uint32_t)holder);

	static char out[1 << 16], err[4096];
	/* JSON. */
	cJSON *j = tool_json("stats");
	ck_assert_double_gt(get(j, "writer.commits_per_s")->valuedouble, 0);
	ck_assert_double_gt(get(j, "writer.ops_per_s")->valuedouble, 0);
	double busy = get(j, "writer.busy_ratio")->valuedouble;
	ck_assert(busy > 0 && busy < 1);
	ck_assert_double_ge(get(j, "writer.sleeps")->valuedouble, 1);
	ck_assert_double_ge(get(j, "writer.wakeups")->valuedouble, 1);
	double passes = 0;
	cJSON *b;
	cJSON_ArrayForEach(b, get(j, "writer.batch_pow2"))
		passes += b->valuedouble;
	ck_assert_double_eq(passes, get(j, "writer.work_passes")->valuedouble);
	ck_assert_double_gt(get(j, "reclamation.retired")->valuedouble, 0);
	ck_assert_double_gt(get(j, "reclamation.freed")->valuedouble, 0);
	ck_assert_double_ge(get(j, "reclamation.grace_periods")->valuedouble, 1);
	ck_assert_double_eq(get(j, "reclamation.oldest_pid")->valuedouble, holder);
	ck_assert_double_gt(get(j, "reclamation.oldest_held_ns")->valuedouble, 0);
	ck_assert_str_eq(get(j, "memory.pressure")->valuestring, "normal");
	cJSON *a0 = cJSON_GetArrayItem(get(j, "memory.arenas"), 0);
	ck_assert_ptr_nonnull(a0);
	ck_assert_double_eq(get(a0, "node")->valuedouble, 0);
	ck_assert_double_eq(get(a0, "size")->valuedouble, 16 << 20);
	ck_assert_double_gt(get(a0, "used")->valuedouble, FILL_TXNS * FILL_VALUE);
	/* Huge pages as the daemon measured them for this report: its
	 * bytes on huge pages over the page size (2 MiB unless hugetlb). */
	double page = strcmp(get(a0, "pages")->valuestring, "1G") ? 2 << 20 : 1 << 30;
	ck_assert_double_eq(get(a0, "huge_pages")->valuedouble,
			    floor(get(a0, "huge_bytes")->valuedouble / page));
	if (!strcmp(get(a0, "pages")->valuestring, "2M"))
		ck_assert_double_eq(get(a0, "huge_bytes")->valuedouble, 16 << 20);
	if (!strcmp(get(a0, "pages")->valuestring, "4K"))
		ck_assert_double_eq(get(a0, "huge_bytes")->valuedouble, 0);
	int saw_hot = 0, saw_filler = 0;
	cJSON *o;
	cJSON_ArrayForEach(o, get(j, "tables")) {
		if (strcmp(get(o, "name")->valuestring, "hot"))
			continue;
		saw_hot = 1;
		ck_assert_double_eq(get(o, "records")->valuedouble, COMMITS);
		ck_assert_double_gt(get(o, "bytes")->valuedouble, 0);
		ck_assert_double_ge(get(o, "waiting_versions")->valuedouble, COMMITS);
		ck_assert_double_gt(get(o, "waiting_bytes")->valuedouble, 0);
		ck_assert_double_gt(get(o, "index_load")->valuedouble, 0);
	}
	cJSON_ArrayForEach(o, get(j, "sessions")) {
		if (get(o, "pid")->valuedouble != filler)
			continue;
		saw_filler = 1;
		ck_assert_double_ge(get(o, "ring_full")->valuedouble, 1);
		ck_assert_double_eq(get(o, "ring_depth")->valuedouble, 0);
		ck_assert_double_eq(get(o, "commits")->valuedouble, FILL_TXNS + 1);
	}
	ck_assert(saw_hot && saw_filler);
	cJSON_Delete(j);

	/* Text: every figure on its line. */
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "stats", "--socket", d.sock, NULL }, out,
				  sizeof(out), err, sizeof(err)), 0);
	const char *const lines[] = { "commits/s", "operations/s", "busy ", " sleeps, ",
				      " woken by clients", "passes by transactions served",
				      "pressure normal", "node 0", " huge pages", " retired (",
				      " freed, ", " grace periods", "ring depth", "ring full",
				      "index load", "waiting" };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		has(out, lines[i]);
	char want[128];
	snprintf(want, sizeof(want), "the oldest by pid %d for ", (int)holder);
	has(out, want);
	char *row = has(out, "\n  hot ");
	ck_assert_int_eq(strtoull(strstr(row, "hash") + 4, NULL, 10), COMMITS);
	snprintf(want, sizeof(want), " %8d ", (int)filler);
	row = has(out, want);
	/* from the pid on: pid, commits, ring depth ("0 B"), ring full */
	uint64_t pid, commits, full;
	ck_assert_int_eq(sscanf(row, " %" SCNu64 " %" SCNu64 " 0 B %" SCNu64, &pid, &commits, &full),
			 3);
	ck_assert_uint_eq(pid, (uint64_t)filler);
	ck_assert_uint_ge(full, 1);

	/* Prometheus. */
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "stats", "--prometheus", "--socket", d.sock,
							 NULL }, out, sizeof(out), err, sizeof(err)), 0);
	const char *const metrics[] = {
		"shmdb_commits_total", "shmdb_ops_total", "shmdb_writer_uptime_seconds",
		"shmdb_writer_busy_seconds_total", "shmdb_writer_sleeps_total",
		"shmdb_writer_wakeups_total", "shmdb_reclaim_retired_bytes",
		"shmdb_reclaim_freed_bytes_total", "shmdb_reclaim_grace_periods_total",
		"shmdb_oldest_snapshot_age_seconds", "shmdb_memory_pressure"
	};
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
		ck_assert_double_gt(prom_value(out, metrics[i]) + (i == 10), 0);
	ck_assert_double_eq(prom_value(out, "shmdb_oldest_snapshot_pid"), holder);
	has(out, "\nshmdb_writer_passes_total{transactions_from=\"1\"} ");
	has(out, "\nshmdb_arena_huge_pages{arena=\"0\",node=\"0\"} ");
	has(out, "\nshmdb_arena_used_bytes{arena=\"0\",node=\"0\"} ");
	has(out, "\nshmdb_table_waiting_versions{table=\"hot\",kind=\"hash\"} ");
	has(out, "\nshmdb_table_index_load{table=\"hot\",kind=\"hash\"} ");
	snprintf(want, sizeof(want), "\nshmdb_session_ring_full_total{session=\"");
	char *p = has(out, want);
	int found = 0;
	for (; p; p = strstr(p + 1, want)) {
		char pidlab[32];
		snprintf(pidlab, sizeof(pidlab), "pid=\"%d\"} ", (int)filler);
		char *q2 = strstr(p, pidlab), *nl = strchr(p + 1, '\n');
		if (q2 && (!nl || q2 < nl)) {
			ck_assert_double_ge(strtod(q2 + strlen(pidlab), NULL), 1);
			found = 1;
		}
	}
	ck_assert(found);
	has(out, "\nshmdb_session_ring_depth_bytes{");

	close(f.stop[1]);
	close(f.ready[0]);
	ck_assert_int_eq(test_reap(filler, 10000), 0);
	close(h.stop[1]);
	ck_assert_int_eq(test_reap(holder, 10000), 0);
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
	tcase_add_test(tc, every_figure_in_every_form);
	tcase_add_test(tc, top_leaves_on_q);
	tcase_add_test(tc, top_leaves_on_ctrl_c);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
