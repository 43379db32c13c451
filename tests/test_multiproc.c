/*
 * test_multiproc.c - several client processes on one real shmdbd:
 * visibility across processes, the money-transfer invariant under
 * concurrent checked transactions, views that stay put while another
 * process overwrites, readers and writers killed with SIGKILL, hostile
 * bytes in a session's ring, and fairness between sessions.
 *
 * Every child opens its own handle after fork and reports through its exit
 * status or a pipe.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "harness.h"
#include "layout.h"
#include "shmdb.h"
#include "txn.h"

static struct test_daemon d;

static void start(const char *arena)
{
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--arena-size", arena, NULL }), 0);
}

static void stop(void)
{
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

static shmdb *open_db(void)
{
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	return db;
}

static shmdb_table table(shmdb *db, const char *name)
{
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_open(db, name, SHMDB_CREATE, &t), 0);
	return t;
}

static int put(shmdb *db, shmdb_table t, const void *k, size_t kl, const void *v, size_t vl)
{
	shmdb_wtxn *w;
	int e = shmdb_write_begin(db, &w);
	if (!e)
		e = shmdb_put(w, t, k, kl, v, vl);
	return e ? e : shmdb_commit(w, NULL);
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

static int exit_code(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A client that is still served: commits and reads back. */
static void others_still_served(void)
{
	ck_assert(test_daemon_alive(&d));
	shmdb *db = open_db();
	shmdb_table t = table(db, "check");
	ck_assert_int_eq(put(db, t, "ok", 2, "yes", 3), 0);
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, t, "ok", 2, &v), 0);
	shmdb_read_end(r);
	shmdb_close(db);
}

/* ---- visibility ----------------------------------------------------------- */

START_TEST(visibility_across_processes)
{
	start("16M");
	shmdb *db = open_db();
	shmdb_table t = table(db, "t");
	ck_assert_int_eq(put(db, t, "key", 3, "v1", 2), 0);
	int to_child[2], to_parent[2];
	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(to_parent), 0);
	pid_t pid = fork();
	if (pid == 0) {
		shmdb *mine;
		shmdb_rtxn *r;
		shmdb_val v;
		char b;
		if (shmdb_open(d.sock, &mine) || shmdb_read_begin(mine, &r))
			_exit(2);
		if (write(to_parent[1], "s", 1) != 1 || read(to_child[0], &b, 1) != 1)
			_exit(3);
		/* The parent has committed v2 since this snapshot began. */
		if (shmdb_get(r, t, "key", 3, &v) || v.len != 2 || memcmp(v.data, "v1", 2))
			_exit(4);
		shmdb_read_end(r);
		if (shmdb_read_begin(mine, &r) || shmdb_get(r, t, "key", 3, &v) || v.len != 2 ||
		    memcmp(v.data, "v2", 2))
			_exit(5);
		shmdb_read_end(r);
		_exit(0);
	}
	char b;
	ck_assert_int_eq(read(to_parent[0], &b, 1), 1);
	ck_assert_int_eq(put(db, t, "key", 3, "v2", 2), 0);
	ck_assert_int_eq(write(to_child[1], "c", 1), 1);
	ck_assert_int_eq(exit_code(pid), 0);
	shmdb_close(db);
	stop();
}
END_TEST

/* ---- money ---------------------------------------------------------------- */

enum { ACCOUNTS = 100, WRITERS = 4, READERS = 2, TRANSFERS = 1500, SNAPSHOTS = 3000 };
static const int64_t START_BALANCE = 1000;

static void acct_key(char *k, int i)
{
	snprintf(k, 8, "acct%03d", i);
}

static int64_t balance(shmdb_rtxn *r, shmdb_table t, int i, int *err)
{
	char k[8];
	shmdb_val v;
	int64_t b = 0;
	acct_key(k, i);
	if (shmdb_get(r, t, k, 7, &v) || v.len != sizeof(b))
		*err = 1;
	else
		memcpy(&b, v.data, sizeof(b));
	return b;
}

/* Move money between random accounts; write the net change of every
 * account that committed transfers made to `out`. */
static void money_writer(shmdb_table t, int out, unsigned seed)
{
	shmdb *db;
	int64_t delta[ACCOUNTS] = { 0 };
	if (shmdb_open(d.sock, &db))
		_exit(2);
	srand(seed);
	for (int n = 0; n < TRANSFERS;) {
		int from = rand() % ACCOUNTS, to = rand() % ACCOUNTS, err = 0;
		if (from == to)
			continue;
		int64_t amount = rand() % 50 + 1;
		shmdb_rtxn *r;
		if (shmdb_read_begin(db, &r))
			_exit(3);
		int64_t bf = balance(r, t, from, &err), bt = balance(r, t, to, &err);
		uint64_t since = shmdb_read_ts(r);
		shmdb_read_end(r);
		if (err)
			_exit(4);
		char kf[8], kt[8];
		acct_key(kf, from);
		acct_key(kt, to);
		bf -= amount;
		bt += amount;
		shmdb_wtxn *w;
		if (shmdb_write_begin(db, &w) || shmdb_check(w, t, kf, 7, since) ||
		    shmdb_check(w, t, kt, 7, since) || shmdb_put(w, t, kf, 7, &bf, sizeof(bf)) ||
		    shmdb_put(w, t, kt, 7, &bt, sizeof(bt)))
			_exit(5);
		int e = shmdb_commit(w, NULL);
		if (e == SHMDB_ECONFLICT)
			continue;
		if (e)
			_exit(6);
		delta[from] -= amount;
		delta[to] += amount;
		n++;
	}
	if (write(out, delta, sizeof(delta)) != (ssize_t)sizeof(delta))
		_exit(7);
	shmdb_close(db);
	_exit(0);
}

/* Sum every account in each of many snapshots; exit 1 if a total is off. */
static void money_reader(shmdb_table t)
{
	shmdb *db;
	if (shmdb_open(d.sock, &db))
		_exit(2);
	for (int s = 0; s < SNAPSHOTS; s++) {
		shmdb_rtxn *r;
		int err = 0;
		int64_t total = 0;
		if (shmdb_read_begin(db, &r))
			_exit(3);
		for (int i = 0; i < ACCOUNTS; i++)
			total += balance(r, t, i, &err);
		shmdb_read_end(r);
		if (err)
			_exit(4);
		if (total != ACCOUNTS * START_BALANCE)
			_exit(1);
	}
	shmdb_close(db);
	_exit(0);
}

START_TEST(money_transfer_invariant)
{
	start("64M");
	shmdb *db = open_db();
	shmdb_table t = table(db, "accounts");
	shmdb_wtxn *w;
	char k[8];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < ACCOUNTS; i++) {
		acct_key(k, i);
		ck_assert_int_eq(shmdb_put(w, t, k, 7, &START_BALANCE, sizeof(START_BALANCE)), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	int pipes[WRITERS][2];
	pid_t writers[WRITERS], readers[READERS];
	for (int i = 0; i < WRITERS; i++) {
		ck_assert_int_eq(pipe(pipes[i]), 0);
		if ((writers[i] = fork()) == 0)
			money_writer(t, pipes[i][1], 1000u + (unsigned)i);
	}
	for (int i = 0; i < READERS; i++)
		if ((readers[i] = fork()) == 0)
			money_reader(t);

	int64_t expect[ACCOUNTS];
	for (int i = 0; i < ACCOUNTS; i++)
		expect[i] = START_BALANCE;
	for (int i = 0; i < WRITERS; i++) {
		int64_t delta[ACCOUNTS];
		ck_assert_int_eq(read(pipes[i][0], delta, sizeof(delta)), (ssize_t)sizeof(delta));
		for (int a = 0; a < ACCOUNTS; a++)
			expect[a] += delta[a];
		ck_assert_int_eq(exit_code(writers[i]), 0);
	}
	for (int i = 0; i < READERS; i++)
		ck_assert_msg(exit_code(readers[i]) == 0, "reader %d saw a wrong total", i);

	shmdb_rtxn *r;
	int err = 0;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	for (int a = 0; a < ACCOUNTS; a++)
		ck_assert_int_eq(balance(r, t, a, &err), expect[a]);
	shmdb_read_end(r);
	ck_assert_int_eq(err, 0);
	shmdb_close(db);
	stop();
}
END_TEST

/* ---- views ------------------------------------------------------------------- */

START_TEST(views_stay_while_another_process_overwrites)
{
	start("64M");
	shmdb *db = open_db();
	shmdb_table t = table(db, "t");
	char key[8], val[64];
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "original value of key %d", i);
		ck_assert_int_eq(put(db, t, key, strlen(key), val, strlen(val)), 0);
	}
	shmdb_rtxn *r;
	shmdb_val views[10];
	char copies[10][64];
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(shmdb_get(r, t, key, strlen(key), &views[i]), 0);
		memcpy(copies[i], views[i].data, views[i].len);
	}
	pid_t pid = fork();
	if (pid == 0) {
		shmdb *mine;
		if (shmdb_open(d.sock, &mine))
			_exit(2);
		for (int n = 0; n < 10000; n++) { /* 100,000 overwrites */
			shmdb_wtxn *w;
			if (shmdb_write_begin(mine, &w))
				_exit(3);
			for (int i = 0; i < 10; i++) {
				char k[8], v[64];
				snprintf(k, sizeof(k), "k%d", i);
				int vl = snprintf(v, sizeof(v), "overwrite %d of key %d", n, i);
				if (shmdb_put(w, t, k, strlen(k), v, (size_t)vl))
					_exit(4);
			}
			if (shmdb_commit(w, NULL))
				_exit(5);
		}
		_exit(0);
	}
	ck_assert_int_eq(exit_code(pid), 0);
	for (int i = 0; i < 10; i++)
		ck_assert(memcmp(views[i].data, copies[i], views[i].len) == 0);
	shmdb_read_end(r);
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	shmdb_val v;
	ck_assert_int_eq(shmdb_get(r, t, "k3", 2, &v), 0);
	ck_assert(memcmp(v.data, "overwrite 9999 of key 3", v.len) == 0);
	shmdb_read_end(r);
	shmdb_close(db);
	stop();
}
END_TEST

/* ---- killed processes ---------------------------------------------------------- */

static shmdb_stats stats_of(shmdb *db)
{
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	return st;
}

START_TEST(killed_reader_releases_memory)
{
	start("64M");
	shmdb *db = open_db();
	shmdb_table t = table(db, "t");
	static char val[1024];
	char key[8];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(put(db, t, key, strlen(key), val, sizeof(val)), 0);
	}
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		shmdb *mine;
		shmdb_rtxn *r;
		if (shmdb_open(d.sock, &mine) || shmdb_read_begin(mine, &r))
			_exit(2);
		uint64_t snap = shmdb_read_ts(r);
		if (write(p[1], &snap, sizeof(snap)) != sizeof(snap))
			_exit(3);
		for (;;)
			pause(); /* holds the snapshot until killed */
	}
	uint64_t snap;
	ck_assert_int_eq(read(p[0], &snap, sizeof(snap)), sizeof(snap));
	for (int n = 0; n < 200; n++) { /* 20,000 overwrites of 1 KiB */
		shmdb_wtxn *w;
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int i = 0; i < 100; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			ck_assert_int_eq(shmdb_put(w, t, key, strlen(key), val, sizeof(val)), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	usleep(50000);
	shmdb_stats held = stats_of(db);
	ck_assert_uint_le(held.oldest_snapshot, snap);
	ck_assert_uint_gt(held.mem_used, 16u << 20); /* every version is kept */

	kill(pid, SIGKILL);
	ck_assert_int_eq(exit_code(pid), 128 + SIGKILL);
	shmdb_stats after = held;
	for (int i = 0; i < 1000 && (after.oldest_snapshot <= snap || after.mem_used > (2u << 20)); i++) {
		usleep(10000);
		after = stats_of(db);
	}
	ck_assert_uint_gt(after.oldest_snapshot, snap);
	/* 100 live 1 KiB versions and an index: well under 2 MiB. */
	ck_assert_msg(after.mem_used < (2u << 20), "mem_used %" PRIu64, after.mem_used);
	shmdb_close(db);
	stop();
}
END_TEST

START_TEST(killed_writers_leave_the_store_consistent)
{
	start("64M");
	shmdb *db = open_db();
	shmdb_table t = table(db, "t");
	srand(7);
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		if (pid == 0) {
			shmdb *mine;
			if (shmdb_open(d.sock, &mine))
				_exit(2);
			for (uint64_t c = 0;; c++) { /* three keys, one counter */
				shmdb_wtxn *w;
				if (shmdb_write_begin(mine, &w))
					_exit(3);
				shmdb_put(w, t, "x", 1, &c, sizeof(c));
				shmdb_put(w, t, "y", 1, &c, sizeof(c));
				shmdb_put(w, t, "z", 1, &c, sizeof(c));
				if (rand() % 2)
					shmdb_commit(w, NULL);
				else {
					uint64_t ticket;
					shmdb_commit_async(w, &ticket);
				}
			}
		}
		sleep_us(1000 + rand() % 20000);
		kill(pid, SIGKILL);
		ck_assert_int_eq(exit_code(pid), 128 + SIGKILL);

		shmdb_rtxn *r;
		shmdb_val x, y, z;
		ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
		int ex = shmdb_get(r, t, "x", 1, &x), ey = shmdb_get(r, t, "y", 1, &y),
		    ez = shmdb_get(r, t, "z", 1, &z);
		ck_assert_int_eq(ex, ey);
		ck_assert_int_eq(ey, ez);
		if (ex == 0) {
			ck_assert(memcmp(x.data, y.data, 8) == 0);
			ck_assert(memcmp(y.data, z.data, 8) == 0);
		}
		shmdb_read_end(r);
	}
	shmdb_close(db);
	others_still_served();
	stop();
}
END_TEST

/* ---- hostile rings ---------------------------------------------------------------- */

/* Append one record to db's submission ring by hand and ring the doorbell. */
static void raw_record(shmdb *db, uint32_t len, uint16_t kind, uint16_t flags,
		       const void *payload, size_t plen, uint64_t tail_bump)
{
	size_t size;
	struct shm_session_header *h = shm_client_session(db, &size);
	uint8_t *sq = (uint8_t *)h + SHM_SESSION_SQ_OFF;
	uint64_t tail = h->sq_tail;
	struct shm_sqe_hdr hdr = { .len = len, .kind = kind, .flags = flags };
	memcpy(sq + (tail & (SHM_SQ_SIZE - 1)), &hdr, sizeof(hdr));
	memcpy(sq + (tail & (SHM_SQ_SIZE - 1)) + sizeof(hdr), payload, plen);
	__atomic_store_n(&h->sq_tail, tail + tail_bump, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_fetch_add(&db->doorbell->ring, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &db->doorbell->ring, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Wait for the next completion of db and return its status. */
static int raw_completion(shmdb *db)
{
	size_t size;
	struct shm_session_header *h = shm_client_session(db, &size);
	for (int i = 0; i < 10000 && __atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE) == h->cq_head; i++)
		usleep(1000);
	ck_assert_uint_ne(__atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE), h->cq_head);
	const struct shm_cqe *cq = (const void *)((uint8_t *)h + SHM_SESSION_CQ_OFF);
	int status = cq[h->cq_head & (SHM_CQ_ENTRIES - 1)].status;
	h->cq_head++;
	return status;
}

static int dropped_by_daemon(shmdb *db)
{
	struct pollfd p = { .fd = shm_client_socket(db), .events = POLLIN };
	char b;
	for (int i = 0; i < 100; i++)
		if (poll(&p, 1, 100) > 0)
			return recv(p.fd, &b, 1, MSG_DONTWAIT) == 0;
	return 0;
}

START_TEST(malformed_transactions_get_error_completions)
{
	start("16M");
	shmdb *db = open_db();
	shmdb_table t = table(db, "t");
	uint8_t buf[256];

	/* An unknown operation code. */
	shm_op_encode(buf, SHM_OP_PUT, t, 0, "k", 1, "v", 1);
	buf[0] = 99;
	raw_record(db, 8 + (uint32_t)shm_op_size(1, 1), SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST,
		   buf, shm_op_size(1, 1), 8 + shm_op_size(1, 1));
	ck_assert_int_eq(raw_completion(db), SHMDB_EBADTXN);

	/* A key that runs past the end of the transaction. */
	shm_op_encode(buf, SHM_OP_PUT, t, 0, "k", 1, "v", 1);
	((struct shm_op_hdr *)buf)->klen = 200;
	raw_record(db, 8 + (uint32_t)shm_op_size(1, 1), SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST,
		   buf, shm_op_size(1, 1), 8 + shm_op_size(1, 1));
	ck_assert_int_eq(raw_completion(db), SHMDB_EBADTXN);

	/* Cut short: half an operation header. */
	raw_record(db, 8 + 16, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, buf, 16, 8 + 16);
	ck_assert_int_eq(raw_completion(db), SHMDB_EBADTXN);

	/* A table that does not exist. */
	shm_op_encode(buf, SHM_OP_PUT, 0x00450007, 0, "k", 1, "v", 1);
	raw_record(db, 8 + (uint32_t)shm_op_size(1, 1), SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST,
		   buf, shm_op_size(1, 1), 8 + shm_op_size(1, 1));
	ck_assert_int_eq(raw_completion(db), -ENOENT);

	/* None of it touched the store; the session still works. */
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, t, "k", 1, &v), -ENOENT);
	shmdb_read_end(r);
	shmdb_close(db);
	others_still_served();
	stop();
}
END_TEST

enum breakage { BAD_LEN, TAIL_PAST_HEAD, MIDDLE_CHUNK_FIRST, HUGE_LEN };

static void break_ring(enum breakage b)
{
	shmdb *db = open_db();
	uint8_t buf[64];
	shm_op_encode(buf, SHM_OP_DEL, 1, 0, "k", 1, NULL, 0);
	size_t n = shm_op_size(1, 0);
	switch (b) {
	case BAD_LEN:
		raw_record(db, 8 + (uint32_t)n - 3, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n, 8 + n);
		break;
	case TAIL_PAST_HEAD:
		raw_record(db, 8 + (uint32_t)n, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n,
			   SHM_SQ_SIZE + 4096);
		break;
	case MIDDLE_CHUNK_FIRST:
		raw_record(db, 8 + (uint32_t)n, SHM_SQE_CHUNK, SHM_SQE_LAST, buf, n, 8 + n);
		break;
	case HUGE_LEN:
		raw_record(db, SHM_SQ_SIZE * 2, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n, 8 + n);
		break;
	}
	ck_assert_msg(dropped_by_daemon(db), "breakage %d: session not dropped", b);
	shmdb_close(db);
}

START_TEST(broken_rings_drop_only_their_session)
{
	start("16M");
	shmdb *bystander = open_db();
	shmdb_table t = table(bystander, "t");
	for (int b = BAD_LEN; b <= HUGE_LEN; b++) {
		break_ring((enum breakage)b);
		ck_assert_int_eq(put(bystander, t, "still", 5, "here", 4), 0);
	}
	shmdb_close(bystander);
	others_still_served();
	stop();
}
END_TEST

START_TEST(killed_mid_record_applies_nothing)
{
	start("16M");
	shmdb *db = open_db();
	shmdb_table t = table(db, "t");
	pid_t pid = fork();
	if (pid == 0) {
		shmdb *mine;
		if (shmdb_open(d.sock, &mine))
			_exit(2);
		uint8_t buf[64];
		shm_op_encode(buf, SHM_OP_PUT, t, 0, "ghost", 5, "boo", 3);
		size_t n = shm_op_size(5, 3);
		/* A first chunk, published, whose last chunk never comes. */
		raw_record(mine, 8 + (uint32_t)n, SHM_SQE_CHUNK, SHM_SQE_FIRST, buf, n, 8 + n);
		/* And a record written but not published. */
		raw_record(mine, 8 + (uint32_t)n, SHM_SQE_CHUNK, SHM_SQE_LAST, buf, n, 0);
		raise(SIGKILL);
	}
	ck_assert_int_eq(exit_code(pid), 128 + SIGKILL);
	usleep(100000);
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, t, "ghost", 5, &v), -ENOENT);
	shmdb_read_end(r);
	shmdb_close(db);
	others_still_served();
	stop();
}
END_TEST

/* ---- fairness -------------------------------------------------------------------------- */

START_TEST(a_flooding_session_does_not_starve_others)
{
	start("256M");
	int stop_pipe[2];
	ck_assert_int_eq(pipe(stop_pipe), 0);
	pid_t pid = fork();
	if (pid == 0) {
		shmdb *mine;
		shmdb_table ft;
		close(stop_pipe[1]);
		if (shmdb_open(d.sock, &mine) || shmdb_table_open(mine, "flood", SHMDB_CREATE, &ft))
			_exit(2);
		static uint64_t tickets[1024];
		struct pollfd p = { .fd = stop_pipe[0], .events = POLLIN };
		for (uint64_t i = 0;; i++) {
			shmdb_wtxn *w;
			uint64_t k = i % 5000;
			if (i % 256 == 0 && poll(&p, 1, 0) > 0)
				break;
			if (shmdb_write_begin(mine, &w) || shmdb_put(w, ft, &k, sizeof(k), "x", 1) ||
			    shmdb_commit_async(w, &tickets[i % 1024]))
				_exit(3);
			if (i >= 512 && shmdb_wait(mine, tickets[(i - 512) % 1024], NULL))
				_exit(4);
		}
		_exit(0);
	}
	close(stop_pipe[0]);
	usleep(50000); /* let the flood start */
	shmdb *db = open_db();
	shmdb_table t = table(db, "calm");
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(put(db, t, &i, sizeof(i), "v", 1), 0);
	ck_assert(test_daemon_alive(&d));
	close(stop_pipe[1]);
	ck_assert_int_eq(exit_code(pid), 0);
	shmdb_close(db);
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("multiproc");
	TCase *tc = tcase_create("multiproc");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, visibility_across_processes);
	tcase_add_test(tc, money_transfer_invariant);
	tcase_add_test(tc, views_stay_while_another_process_overwrites);
	tcase_add_test(tc, killed_reader_releases_memory);
	tcase_add_test(tc, killed_writers_leave_the_store_consistent);
	tcase_add_test(tc, malformed_transactions_get_error_completions);
	tcase_add_test(tc, broken_rings_drop_only_their_session);
	tcase_add_test(tc, killed_mid_record_applies_nothing);
	tcase_add_test(tc, a_flooding_session_does_not_starve_others);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
