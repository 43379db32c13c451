/*
 * test_pressure.c - the memory monitor across processes, on a real daemon:
 * several writer processes fill the arenas; the level goes normal, high,
 * critical, in that order (in shmdb_stats, read by a process of its own,
 * and in the daemon's log); at critical every transaction that would take
 * memory is refused with SHMDB_EPRESSURE and applies nothing, while
 * deletes, clears and drops apply; nothing committed is lost; deleting
 * brings the level back to normal and writes are accepted again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"

#define WRITERS 3
#define VALUE_LEN 1000
#define BATCH 8

struct shared {
	uint64_t committed[WRITERS]; /* records each writer had acknowledged */
	int saw_high[WRITERS];       /* it saw the level high before critical */
};

static struct test_daemon d;
static struct shared *sh;

static void key_of(char *k, size_t n, int writer, uint64_t i)
{
	snprintf(k, n, "w%d-%08llu", writer, (unsigned long long)i);
}

/* A writer: batches of puts until a commit is refused for pressure; then
 * one of its own keys deleted at critical must apply. Once it has seen the
 * level high, it slows down, so that a watcher polling every millisecond
 * sees high too before critical. */
static void writer(void *arg)
{
	int me = (int)(intptr_t)arg;
	shmdb *db = test_child_open(&d);
	shmdb_table t;
	CHILD_REQUIRE(shmdb_table_open(db, "fill", SHMDB_CREATE, &t) == 0, 10);
	char val[VALUE_LEN], k[32];
	memset(val, 'a' + me, sizeof(val));
	for (uint64_t n = 0;; n += BATCH) {
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 11);
		for (int i = 0; i < BATCH; i++) {
			key_of(k, sizeof(k), me, n + i);
			CHILD_REQUIRE(shmdb_put(w, t, k, strlen(k), val, sizeof(val)) == 0, 12);
		}
		int e = shmdb_commit(w, NULL);
		if (e == SHMDB_EPRESSURE)
			break;
		if (e)
			fprintf(stderr, "writer %d: %s\n", me, shmdb_strerror(e));
		CHILD_REQUIRE(e == 0, 13);
		__atomic_store_n(&sh->committed[me], n + BATCH, __ATOMIC_RELAXED);
		shmdb_stats st;
		CHILD_REQUIRE(shmdb_stats_get(db, &st) == 0, 14);
		if (st.pressure == SHMDB_PRESSURE_HIGH) {
			sh->saw_high[me] = 1;
			test_sleep_us(3000);
		}
		CHILD_REQUIRE(n < 1000000, 15); /* the arenas are 16 MiB */
	}
	/* Deletes apply at critical: the last key this writer committed. */
	uint64_t last = __atomic_load_n(&sh->committed[me], __ATOMIC_RELAXED);
	CHILD_REQUIRE(last > 0, 16);
	key_of(k, sizeof(k), me, last - 1);
	shmdb_wtxn *w;
	CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 17);
	CHILD_REQUIRE(shmdb_del(w, t, k, strlen(k)) == 0, 18);
	CHILD_REQUIRE(shmdb_commit(w, NULL) == 0, 19);
	__atomic_store_n(&sh->committed[me], last - 1, __ATOMIC_RELAXED);
	shmdb_close(db);
}

static int level_now(shmdb *db)
{
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	return st.pressure;
}

static int commit_put(shmdb *db, shmdb_table t, const char *k)
{
	return test_commit_put(db, t, k, "v", 1, NULL);
}

static int commit_del(shmdb *db, shmdb_table t, const char *k)
{
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del(w, t, k, strlen(k)), 0);
	return shmdb_commit(w, NULL);
}

START_TEST(levels_refusals_and_the_way_back)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(sh, MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table side = test_table(db, "side"), fill = test_table(db, "fill");
	ck_assert_int_eq(commit_put(db, side, "s1"), 0);
	ck_assert_int_eq(level_now(db), SHMDB_PRESSURE_NORMAL);

	pid_t pid[WRITERS];
	for (int i = 0; i < WRITERS; i++)
		pid[i] = test_spawn(writer, (void *)(intptr_t)i);
	/* Watch the level from this process, through the meta segment. */
	int seen[8], nseen = 0, last = SHMDB_PRESSURE_NORMAL;
	seen[nseen++] = last;
	uint64_t end = test_now_ms() + 60000;
	int running = WRITERS;
	while (running && test_now_ms() < end) {
		int l = level_now(db);
		if (l != last && nseen < 8)
			seen[nseen++] = last = l;
		running = 0;
		for (int i = 0; i < WRITERS; i++)
			running += test_running(pid[i]);
		test_sleep_us(500);
	}
	for (int i = 0; i < WRITERS; i++)
		ck_assert_int_eq(test_reap(pid[i], 5000), 0);
	ck_assert_msg(nseen == 3 && seen[1] == SHMDB_PRESSURE_HIGH &&
		      seen[2] == SHMDB_PRESSURE_CRITICAL, "%d levels seen: %d, %d, %d, %d", nseen,
		      seen[0], nseen > 1 ? seen[1] : -1, nseen > 2 ? seen[2] : -1,
		      nseen > 3 ? seen[3] : -1);

	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	ck_assert_int_eq(st.pressure, SHMDB_PRESSURE_CRITICAL);
	ck_assert_uint_eq(st.memory_high_pct, 80);
	ck_assert_uint_eq(st.memory_critical_pct, 95);
	ck_assert_uint_ge(st.pressure_refused, WRITERS);
	ck_assert_uint_ge(st.mem_used * 100, st.mem_total * 94);
	ck_assert_uint_gt(st.pressure_since_ns, 0);

	/* Nothing committed is lost: every acknowledged record is there. */
	uint64_t total = 0, extra = 0;
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	for (int w = 0; w < WRITERS; w++) {
		total += sh->committed[w];
		for (uint64_t i = 0; i < sh->committed[w]; i++) {
			char k[32];
			shmdb_val v;
			key_of(k, sizeof(k), w, i);
			ck_assert_msg(shmdb_get(r, fill, k, strlen(k), &v) == 0, "%s lost", k);
			ck_assert_uint_eq(v.len, VALUE_LEN);
		}
	}
	uint64_t count;
	ck_assert_int_eq(shmdb_count(r, fill, &count), 0);
	ck_assert_uint_eq(count, total);
	shmdb_read_end(r);

	/* At critical: what takes memory is refused and applies nothing. A
	 * refusal first reclaims what only waits for readers (the writers'
	 * last deletes), so fill again to the threshold from here ... */
	static char big[VALUE_LEN];
	int e = 0;
	for (int i = 0; i < 10000 && e == 0; i++) {
		char k[32];
		snprintf(k, sizeof(k), "p-%05d", i);
		e = test_commit_put(db, fill, k, big, sizeof(big), NULL);
		if (!e)
			extra++;
	}
	ck_assert_int_eq(e, SHMDB_EPRESSURE);
	uint64_t before = test_commit_ts(db);
	ck_assert_int_eq(commit_put(db, side, "s2"), SHMDB_EPRESSURE);
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del(w, side, "s1", 2), 0);
	ck_assert_int_eq(shmdb_put(w, side, "s3", 2, "v", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_EPRESSURE);
	shmdb_table other;
	ck_assert_int_eq(shmdb_table_open(db, "new-table", SHMDB_CREATE, &other), SHMDB_EPRESSURE);
	ck_assert_int_eq(test_commit_ts(db), before);
	ck_assert(test_visible(db, side, "s1"));
	ck_assert(!test_visible(db, side, "s2"));
	/* ... what frees applies: a delete, a clear, a drop. */
	ck_assert_int_eq(commit_del(db, side, "s1"), 0);
	ck_assert(!test_visible(db, side, "s1"));
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_clear(w, side), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_int_eq(shmdb_table_drop(db, "side"), 0);

	/* Deleting brings it back: delete-only transactions, then wait (bounded)
	 * for reclamation to bring the level to normal. */
	for (uint64_t i = 0; i < extra; i++) {
		char k[32];
		snprintf(k, sizeof(k), "p-%05d", (int)i);
		ck_assert_int_eq(commit_del(db, fill, k), 0);
	}
	for (int wr = 0; wr < WRITERS; wr++)
		for (uint64_t i = 0; i < sh->committed[wr]; i += 64) {
			ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
			for (uint64_t j = i; j < i + 64 && j < sh->committed[wr]; j++) {
				char k[32];
				key_of(k, sizeof(k), wr, j);
				ck_assert_int_eq(shmdb_del(w, fill, k, strlen(k)), 0);
			}
			int e = shmdb_commit(w, NULL);
			ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
			ck_assert_msg(e == 0, "deleting: %s (%llu bytes in use)", shmdb_strerror(e),
				      (unsigned long long)st.mem_used);
		}
	end = test_now_ms() + 10000;
	while (level_now(db) != SHMDB_PRESSURE_NORMAL && test_now_ms() < end)
		test_sleep_us(1000);
	ck_assert_int_eq(level_now(db), SHMDB_PRESSURE_NORMAL);
	ck_assert_int_eq(commit_put(db, fill, "after"), 0);
	ck_assert(test_visible(db, fill, "after"));

	/* The daemon's log says each change, in order. */
	char log[16384];
	test_daemon_log(&d, log, sizeof(log));
	const char *high = strstr(log, "memory pressure high");
	const char *crit = strstr(log, "memory pressure critical");
	const char *normal = strstr(log, "memory pressure normal");
	ck_assert_msg(high && crit && normal && high < crit && crit < normal, "%s", log);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* Thresholds from the daemon's settings reach every client. */
START_TEST(thresholds_are_published)
{
	const char *args[] = { "--memory-high", "50%", "--memory-critical", "60", NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 0);
	shmdb *db = test_open(&d);
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	ck_assert_uint_eq(st.memory_high_pct, 50);
	ck_assert_uint_eq(st.memory_critical_pct, 60);
	ck_assert_int_eq(st.pressure, SHMDB_PRESSURE_NORMAL);
	ck_assert_uint_eq(st.pressure_refused, 0);
	char out[8192], err[1024];
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "status", "--socket", d.sock, NULL }, out,
				  sizeof(out), err, sizeof(err)), 0);
	ck_assert_msg(strstr(out, "pressure        normal; high at 50%, critical at 60%"), "%s",
		      out);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pressure");
	TCase *tc = tcase_create("monitor");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, levels_refusals_and_the_way_back);
	tcase_add_test(tc, thresholds_are_published);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
