/*
 * test_threads.c - one handle shared by the threads of a process: each
 * thread gets its own reader slot, submissions from several threads keep
 * their tickets and results straight, and a thread's exit gives its slot
 * back; and one thread reading through many handles. Built under TSan too
 * (cmake -DSHMDB_TSAN=ON), where it checks the client library's locking.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "shmdb.h"

#define THREADS 4
#define ROUNDS 2000

struct ctx {
	shmdb *db;
	shmdb_table t;
	int id;
	int failures;
};

/* Each thread commits its own keys (waiting, and pipelined) and reads them
 * back in snapshots; every read must see the thread's last commit. */
static void *worker(void *arg)
{
	struct ctx *c = arg;
	char key[32], val[32];
	uint64_t tickets[16];
	for (int i = 0; i < ROUNDS; i++) {
		shmdb_wtxn *w;
		snprintf(key, sizeof(key), "t%d", c->id);
		int vl = snprintf(val, sizeof(val), "%d", i);
		uint64_t ts = 0;
		if (shmdb_write_begin(c->db, &w) || shmdb_put(w, c->t, key, strlen(key), val, (size_t)vl) ||
		    shmdb_commit(w, &ts)) {
			c->failures++;
			continue;
		}
		shmdb_rtxn *r;
		shmdb_val v;
		if (shmdb_read_begin(c->db, &r)) {
			c->failures++;
			continue;
		}
		if (shmdb_read_ts(r) < ts || shmdb_get(r, c->t, key, strlen(key), &v) ||
		    v.len != (size_t)vl || memcmp(v.data, val, v.len))
			c->failures++;
		/* A second snapshot in the same thread is refused. */
		shmdb_rtxn *r2;
		if (shmdb_read_begin(c->db, &r2) != -EBUSY)
			c->failures++;
		shmdb_read_end(r);
	}
	for (int b = 0; b < 16; b++) {
		shmdb_wtxn *w;
		snprintf(key, sizeof(key), "t%d-async%d", c->id, b);
		if (shmdb_write_begin(c->db, &w) || shmdb_put(w, c->t, key, strlen(key), "x", 1) ||
		    shmdb_commit_async(w, &tickets[b]))
			c->failures++;
	}
	uint64_t last = 0;
	for (int b = 0; b < 16; b++) {
		uint64_t ts = 0;
		if (shmdb_wait(c->db, tickets[b], &ts) || ts <= last)
			c->failures++;
		last = ts;
	}
	return NULL;
}

START_TEST(threads_share_a_handle)
{
	struct test_daemon d;
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	shmdb *db;
	shmdb_table t;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	ck_assert_int_eq(shmdb_table_open(db, "threads", SHMDB_CREATE, &t), 0);

	pthread_t th[THREADS];
	struct ctx c[THREADS];
	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct ctx){ .db = db, .t = t, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &c[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(c[i].failures, 0);
	}

	/* Every key of every thread, seen once by a cursor. */
	shmdb_rtxn *r;
	shmdb_cursor *cur;
	shmdb_val k, v;
	int n = 0;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, t, &cur), 0);
	while (shmdb_cursor_next(cur, &k, &v) == 0)
		n++;
	shmdb_cursor_close(cur);
	shmdb_read_end(r);
	ck_assert_int_eq(n, THREADS * 17);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

static void *read_once(void *arg)
{
	shmdb_rtxn *r;
	if (shmdb_read_begin(arg, &r) == 0)
		shmdb_read_end(r);
	return NULL;
}

/* Threads that come and go do not use up the handle's reader slots. */
START_TEST(exited_threads_give_slots_back)
{
	struct test_daemon d;
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	for (int i = 0; i < 500; i++) {
		pthread_t th;
		ck_assert_int_eq(pthread_create(&th, NULL, read_once, db), 0);
		pthread_join(th, NULL);
	}
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	shmdb_read_end(r);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* One thread reading through many handles: each handle keeps its own
 * reader (the same one on every begin, another than any other handle's),
 * whatever order the handles are used in; 16 handles at once is the
 * thread's limit (-EAGAIN), and closing one makes room. */
#define HANDLES 17
START_TEST(one_thread_reads_through_many_handles)
{
	struct test_daemon d;
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	shmdb *db[HANDLES];
	shmdb_rtxn *mine[HANDLES] = { 0 }, *r, *again;
	shmdb_table t;
	shmdb_val v;
	for (int i = 0; i < HANDLES; i++)
		ck_assert_int_eq(shmdb_open(d.sock, &db[i]), 0);
	ck_assert_int_eq(shmdb_table_open(db[0], "many", SHMDB_CREATE, &t), 0);
	for (int k = 0; k < 5 * (HANDLES - 1); k++) {
		int i = (k * 7 + k / (HANDLES - 1)) % (HANDLES - 1); /* every handle, scrambled */
		char val[16];
		int vl = snprintf(val, sizeof(val), "%d", k);
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db[i], &w), 0);
		ck_assert_int_eq(shmdb_put(w, t, "k", 1, val, (size_t)vl), 0);
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
		ck_assert_int_eq(shmdb_read_begin(db[i], &r), 0);
		if (mine[i])
			ck_assert_ptr_eq(r, mine[i]);
		for (int j = 0; j < HANDLES; j++)
			if (j != i)
				ck_assert_ptr_ne(r, mine[j]);
		mine[i] = r;
		ck_assert_int_eq(shmdb_read_begin(db[i], &again), -EBUSY);
		ck_assert_int_eq(shmdb_get(r, t, "k", 1, &v), 0);
		ck_assert_mem_eq(v.data, val, (size_t)vl);
		shmdb_read_end(r);
	}
	for (int i = 0; i < HANDLES - 1; i++) /* all at once: the thread's limit */
		ck_assert_int_eq(shmdb_read_begin(db[i], &r), 0);
	ck_assert_int_eq(shmdb_read_begin(db[HANDLES - 1], &r), -EAGAIN);
	for (int i = 0; i < HANDLES - 1; i++)
		shmdb_read_end(mine[i]);
	shmdb_close(db[5]);
	ck_assert_int_eq(shmdb_read_begin(db[HANDLES - 1], &r), 0);
	ck_assert_int_eq(shmdb_get(r, t, "k", 1, &v), 0);
	shmdb_read_end(r);
	ck_assert_int_eq(shmdb_read_begin(db[0], &r), 0);
	ck_assert_ptr_eq(r, mine[0]);
	shmdb_read_end(r);
	for (int i = 0; i < HANDLES; i++)
		if (i != 5)
			shmdb_close(db[i]);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tcase_create("threads");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, threads_share_a_handle);
	tcase_add_test(tc, exited_threads_give_slots_back);
	tcase_add_test(tc, one_thread_reads_through_many_handles);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
