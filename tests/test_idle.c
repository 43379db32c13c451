/*
 * test_idle.c - the writer's idle strategies on real daemons: under each
 * of spin, backoff and sleep, client processes committing with irregular
 * pauses (steady, bursty, sparse) all get their commits applied and
 * acknowledged (no wake-up lost, however the writer parks); shmdb_stats
 * says the policy; spin never parks, sleep parks and is woken by the
 * clients, backoff parks once the clients go quiet; a client pinned to a
 * cpu other than the writer's is served by that cpu's stand-in. (Its
 * decisions on made-up times: test_units; its speed and cpu:
 * shmdb-bench --idle-only.)
 */
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "harness.h"

#define CLIENTS 2
#define COMMITS 1500

static struct test_daemon d;

/* COMMITS 1-put commits of distinct keys, paused by a pattern of its own:
 * back to back, 20 us, 300 us and 2 ms apart, in turns. */
static void committer(void *arg)
{
	int me = (int)(intptr_t)arg;
	static const long pause_us[] = { 0, 0, 0, 20, 20, 300, 0, 2000 };
	shmdb *db = test_child_open(&d);
	shmdb_table t;
	CHILD_REQUIRE(shmdb_table_open(db, "idle", SHMDB_CREATE, &t) == 0, 10);
	for (int i = 0; i < COMMITS; i++) {
		char k[32];
		snprintf(k, sizeof(k), "c%d-%d", me, i);
		CHILD_REQUIRE(test_commit_put(db, t, k, "v", 1, NULL) == 0, 11);
		long us = pause_us[(i / 50 + me) % 8];
		if (us)
			test_sleep_us(us);
	}
	shmdb_close(db);
}

/* The records of table t now. */
static uint64_t records(shmdb *db, shmdb_table t)
{
	shmdb_rtxn *r;
	uint64_t n;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	shmdb_read_end(r);
	return n;
}

static void run_policy(const char *policy, int want)
{
	const char *args[] = { "--writer-idle", policy, NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 0);
	shmdb *db = test_open(&d);
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	ck_assert_int_eq(st.idle_policy, want);
	test_table(db, "idle");
	pid_t pid[CLIENTS];
	for (int i = 0; i < CLIENTS; i++)
		pid[i] = test_spawn(committer, (void *)(intptr_t)i);
	for (int i = 0; i < CLIENTS; i++)
		ck_assert_int_eq(test_reap(pid[i], 60000), 0);
	/* Every commit is there. */
	shmdb_table t = test_table(db, "idle");
	ck_assert_uint_eq(records(db, t), CLIENTS * COMMITS);
	/* Quiet for a moment: backoff parks too. */
	test_sleep_us(50000);
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	if (want == SHMDB_IDLE_SPIN) {
		ck_assert_uint_eq(st.sleeps, 0);
	} else {
		ck_assert_uint_gt(st.sleeps, 0);
		ck_assert_uint_gt(st.wakeups, 0); /* clients rang it */
		ck_assert_uint_gt(st.wake_ns, 0);
	}
	/* And a commit after the quiet is served. */
	ck_assert_int_eq(test_commit_put(db, t, "after", "v", 1, NULL), 0);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

START_TEST(spin_serves_every_commit)
{
	run_policy("spin", SHMDB_IDLE_SPIN);
}
END_TEST

START_TEST(backoff_serves_every_commit)
{
	run_policy("backoff", SHMDB_IDLE_BACKOFF);
}
END_TEST

START_TEST(sleep_serves_every_commit)
{
	run_policy("sleep", SHMDB_IDLE_SLEEP);
}
END_TEST

/* The cpu the child runs its commits on: arg. */
static void pinned_committer(void *arg)
{
	int cpu = (int)(intptr_t)arg;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	CHILD_REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0, 20);
	shmdb *db = test_child_open(&d);
	shmdb_table t;
	CHILD_REQUIRE(shmdb_table_open(db, "idle", 0, &t) == 0, 21);
	for (int i = 0; i < 300; i++) {
		char k[32];
		snprintf(k, sizeof(k), "p%d-%d", cpu, i);
		CHILD_REQUIRE(test_commit_put(db, t, k, "v", 1, NULL) == 0, 22);
		if (i % 3 == 0)
			test_sleep_us(200); /* the writer parks between */
	}
	shmdb_close(db);
}

/* Under sleep, the daemon has a stand-in on every cpu it may use but the
 * writer's, named in the meta; a client on such a cpu rings it and it
 * serves the commit there; every commit of clients on every cpu is
 * applied. On a machine of one cpu there is nothing to stand in for. */
START_TEST(standins_serve_clients_on_their_cpus)
{
	cpu_set_t allowed;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	const char *args[] = { "--writer-idle", "sleep", NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 0);
	shmdb *db = test_open(&d);
	shmdb_info info;
	ck_assert_int_eq(shmdb_info_get(db, &info), 0);
	uint64_t standins = db->meta->standin_cpus;
	int cpus[8], n = 0, others = 0;
	for (int c = 0; c < CPU_SETSIZE && n < 8; c++) {
		if (!CPU_ISSET(c, &allowed))
			continue;
		cpus[n++] = c;
		if (c != info.writer_cpu && c < (int)SHM_STANDINS) {
			ck_assert_msg(standins >> c & 1, "no stand-in on cpu %d", c);
			others++;
		}
	}
	ck_assert_msg(!(standins >> info.writer_cpu & 1), "a stand-in on the writer's cpu");
	test_table(db, "idle");
	pid_t pid[8];
	for (int i = 0; i < n; i++)
		pid[i] = test_spawn(pinned_committer, (void *)(intptr_t)cpus[i]);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(test_reap(pid[i], 60000), 0);
	ck_assert_uint_eq(records(db, test_table(db, "idle")), 300u * (unsigned)n);
	if (others)
		ck_assert_uint_gt(db->meta->standin_wakeups, 0);
	else
		ck_assert_uint_eq(db->meta->standin_wakeups, 0);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* A client on cpu arg: one transaction overwriting 20,000 of table
 * "due"'s 100,000 records (a pass is then due), then 200 1-put commits
 * 300 us apart, each gap shorter than the quiet stretch a gathering step
 * waits for. */
static void gapped_committer(void *arg)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET((int)(intptr_t)arg, &one);
	CHILD_REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0, 30);
	shmdb *db = test_child_open(&d);
	shmdb_table t;
	shmdb_wtxn *w;
	char k[32];
	CHILD_REQUIRE(shmdb_table_open(db, "due", 0, &t) == 0, 31);
	CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 32);
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "k%06d", i);
		CHILD_REQUIRE(shmdb_put(w, t, k, 7, "again", 5) == 0, 33);
	}
	CHILD_REQUIRE(shmdb_commit(w, NULL) == 0, 34);
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "g%d", i);
		CHILD_REQUIRE(test_commit_put(db, t, k, "v", 1, NULL) == 0, 35);
		test_sleep_us(300);
	}
	shmdb_close(db);
}

/* A table due for gathering does not keep the writer up: its steps wait
 * for a quiet stretch, and until then the writer parks as its policy
 * says (here sleep: at once; the commits of a client on another cpu are
 * served by that cpu's stand-in or wake the writer's thread, which parks
 * again). A writer that waited for the stretch spinning took a whole cpu
 * under a steady stream of commits, and never parked. */
START_TEST(gathering_due_lets_the_writer_park)
{
	const char *args[] = { "--writer-idle", "sleep", "--arena-size", "64M", NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 0);
	shmdb *db = test_open(&d);
	shmdb_info info;
	ck_assert_int_eq(shmdb_info_get(db, &info), 0);
	shmdb_table t = test_table(db, "due");
	for (int i = 0; i < 100000; i += 1000) {
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int j = i; j < i + 1000; j++) {
			char k[16];
			snprintf(k, sizeof(k), "k%06d", j);
			ck_assert_int_eq(shmdb_put(w, t, k, 7, "value", 5), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	cpu_set_t allowed;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	int other = -1;
	for (int c = 0; c < CPU_SETSIZE && other < 0; c++)
		if (CPU_ISSET(c, &allowed) && c != info.writer_cpu)
			other = c;
	ck_assert_msg(other >= 0, "one cpu only: no client beside the writer");
	shmdb_stats before, after;
	ck_assert_int_eq(shmdb_stats_get(db, &before), 0);
	pid_t pid = test_spawn(gapped_committer, (void *)(intptr_t)other);
	ck_assert_int_eq(test_reap(pid, 60000), 0);
	ck_assert_int_eq(shmdb_stats_get(db, &after), 0);
	printf("idle: 200 commits with a pass due: the writer parked %" PRIu64 " times, "
	       "%" PRIu64 " versions gathered meanwhile, a pass %s at the end\n",
	       after.sleeps - before.sleeps, after.gathered - before.gathered,
	       after.gathering ? "still due" : "not due");
	ck_assert_uint_ge(after.sleeps - before.sleeps, 20);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* Under spin the writer never parks: no stand-ins. */
START_TEST(spin_has_no_standins)
{
	const char *args[] = { "--writer-idle", "spin", NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 0);
	shmdb *db = test_open(&d);
	ck_assert_uint_eq(db->meta->standin_cpus, 0);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(bad_policy_is_refused)
{
	const char *args[] = { "--writer-idle", "nap", NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 2);
	char log[1024];
	test_daemon_log(&d, log, sizeof(log));
	ck_assert_msg(strstr(log, "--writer-idle: 'nap' is not spin, backoff or sleep"), "%s", log);
	test_daemon_stop(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("idle");
	TCase *tc = tcase_create("policies");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, spin_serves_every_commit);
	tcase_add_test(tc, backoff_serves_every_commit);
	tcase_add_test(tc, sleep_serves_every_commit);
	tcase_add_test(tc, standins_serve_clients_on_their_cpus);
	tcase_add_test(tc, spin_has_no_standins);
	tcase_add_test(tc, gathering_due_lets_the_writer_park);
	tcase_add_test(tc, bad_policy_is_refused);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
