/*
 * test_concurrency.c - shmdb under several client processes at once, each
 * with its own handle on one real shmdbd:
 *
 *   - a snapshot in one process keeps what it saw while another commits;
 *   - checked money transfers from four processes never create or destroy
 *     money in any snapshot (summed by gets, by one batch of gets, and by a
 *     cursor), and the final balances are what the committed transfers say;
 *   - views held across 100,000 overwrites by another process stay put;
 *   - a reader killed while it holds a snapshot stops holding memory back;
 *   - a writer killed at random moments leaves only whole transactions;
 *   - hostile bytes in a session's own ring fail that transaction, or end
 *     that session, and nobody else notices;
 *   - a session flooding its ring does not starve another one;
 *   - a client killed while writing into its ring leaves nothing applied.
 *
 * Rules: every child opens its own handle after fork() and reports through
 * its exit status (CHILD_REQUIRE names the failed condition on stderr) or a
 * pipe; no check depends on timing; every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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

/* In a child: leave with `code` (and say why on stderr) unless cond holds.
 * Children never use ck_assert: the parent judges their exit status. */
#define CHILD_REQUIRE(cond, code)                                                       \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "child %d: %s:%d: failed: %s\n", (int)getpid(), \
				__FILE__, __LINE__, #cond);                             \
			_exit(code);                                                    \
		}                                                                       \
	} while (0)

static struct test_daemon d;

/* ---- small helpers ------------------------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void start_daemon(const char *arena_size)
{
	const char *const args[] = { "--arena-size", arena_size, NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 0);
}

static pid_t spawn(void (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	return pid;
}

/*
 * Wait up to timeout_ms for child pid: its exit code, 128 + signal if a
 * signal ended it, or -1 if it was still running (it is killed and reaped).
 * Waits for this pid only, never for the daemon.
 */
static int reap(pid_t pid, int timeout_ms)
{
	uint64_t end = mono_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 && errno != EINTR)
			return -2;
		if (mono_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		sleep_us(1000);
	}
}

static int write_full(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read exactly n bytes within timeout_ms: 0, or -1 (timeout, EOF, error). */
static int read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	uint8_t *p = buf;
	uint64_t end = mono_ms() + (uint64_t)timeout_ms;
	while (n) {
		uint64_t now = mono_ms();
		if (now >= end)
			return -1;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int e = poll(&pfd, 1, (int)(end - now));
		if (e < 0 && errno == EINTR)
			continue;
		if (e <= 0)
			return -1;
		ssize_t k = read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Whether the parent has written to, or closed, the pipe end fd. */
static int told_to_stop(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) > 0;
}

/* In a child: a handle of its own. */
static shmdb *child_open(void)
{
	shmdb *db = NULL;
	int e = shmdb_open(d.sock, &db);
	CHILD_REQUIRE(e == 0, 90);
	return db;
}

static shmdb *parent_open(void)
{
	shmdb *db = NULL;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	return db;
}

static shmdb_table parent_table(shmdb *db, const char *name)
{
	shmdb_table t = 0;
	ck_assert_int_eq(shmdb_table_open(db, name, SHMDB_CREATE, &t), 0);
	return t;
}

/* Commit one put of key (a string) = val. */
static int commit_put(shmdb *db, shmdb_table t, const char *key, const void *val, size_t vlen,
		      uint64_t *ts)
{
	shmdb_wtxn *w;
	int e = shmdb_write_begin(db, &w);
	if (e)
		return e;
	e = shmdb_put(w, t, key, strlen(key), val, vlen);
	if (e) {
		shmdb_abort(w);
		return e;
	}
	return shmdb_commit(w, ts);
}

/* Read key in a new snapshot, copying at most cap bytes of its value. */
static int read_key(shmdb *db, shmdb_table t, const char *key, void *buf, size_t cap, size_t *len)
{
	shmdb_rtxn *r;
	shmdb_val v;
	int e = shmdb_read_begin(db, &r);
	if (e)
		return e;
	e = shmdb_get(r, t, key, strlen(key), &v);
	if (!e) {
		*len = v.len;
		memcpy(buf, v.data, v.len < cap ? v.len : cap);
	}
	shmdb_read_end(r);
	return e;
}

static uint64_t commit_ts_now(shmdb *db)
{
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	return st.commit_ts;
}

/* The daemon runs and serves a new client: it commits a key and reads it
 * back. `tag` makes the key unique to the caller. */
static void assert_served(const char *tag)
{
	ck_assert_msg(test_daemon_alive(&d), "the daemon died (%s)", tag);
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "served");
	char key[96], buf[96];
	size_t len = 0;
	snprintf(key, sizeof(key), "served:%s", tag);
	ck_assert_int_eq(commit_put(db, t, key, tag, strlen(tag), NULL), 0);
	ck_assert_int_eq(read_key(db, t, key, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, strlen(tag));
	ck_assert_mem_eq(buf, tag, len);
	shmdb_close(db);
}

/* The same through a handle that was open all along. */
static void assert_handle_served(shmdb *db, shmdb_table t, const char *tag)
{
	char key[96], buf[96];
	size_t len = 0;
	snprintf(key, sizeof(key), "bystander:%s", tag);
	ck_assert_int_eq(commit_put(db, t, key, tag, strlen(tag), NULL), 0);
	ck_assert_int_eq(read_key(db, t, key, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, strlen(tag));
	ck_assert_mem_eq(buf, tag, len);
}

/* Wait up to 10 s until the daemon counts `n` sessions. */
static void wait_sessions(shmdb *db, uint32_t n)
{
	shmdb_stats st = { 0 };
	uint64_t end = mono_ms() + 10000;
	do {
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
		if (st.sessions == n)
			return;
		sleep_us(2000);
	} while (mono_ms() < end);
	ck_assert_msg(0, "the daemon still counts %u sessions after 10 s, want %u", st.sessions, n);
}

/* ---- 1. visibility across processes ---------------------------------------- */

struct vis_args {
	shmdb_table t;
	int to_parent;   /* B writes: its snapshot's ts, then its commit's ts */
	int from_parent; /* A writes: the ts of its v2 commit */
};

/* Process B. */
static void vis_child(void *arg)
{
	const struct vis_args *a = arg;
	shmdb *db = child_open();
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
	CHILD_REQUIRE(write_full(a->to_parent, &snap, sizeof(snap)) == 0, 6);
	CHILD_REQUIRE(read_full(a->from_parent, &v2_ts, sizeof(v2_ts), 30000) == 0, 7);

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
	CHILD_REQUIRE(commit_put(db, t, "from-b", "hello", 5, &b_ts) == 0, 17);
	CHILD_REQUIRE(b_ts > v2_ts, 18);
	CHILD_REQUIRE(write_full(a->to_parent, &b_ts, sizeof(b_ts)) == 0, 19);
	shmdb_close(db);
}

START_TEST(visibility_across_processes)
{
	start_daemon("16M");
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "vis");
	uint64_t v1_ts = 0, v2_ts = 0, snap = 0, b_ts = 0;
	ck_assert_int_eq(commit_put(db, t, "key", "v1", 2, &v1_ts), 0);

	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	struct vis_args a = { .t = t, .to_parent = up[1], .from_parent = down[0] };
	pid_t b = spawn(vis_child, &a);
	close(up[1]); /* B's ends: if B dies, our reads see EOF at once */
	close(down[0]);

	ck_assert_msg(read_full(up[0], &snap, sizeof(snap), 30000) == 0, "B failed (exit %d)",
		      reap(b, 1000));
	ck_assert_uint_ge(snap, v1_ts);
	ck_assert_int_eq(commit_put(db, t, "key", "v2", 2, &v2_ts), 0);
	ck_assert_uint_gt(v2_ts, snap);
	ck_assert_int_eq(write_full(down[1], &v2_ts, sizeof(v2_ts)), 0);
	ck_assert_msg(read_full(up[0], &b_ts, sizeof(b_ts), 30000) == 0, "B failed (exit %d)",
		      reap(b, 1000));
	ck_assert_int_eq(reap(b, 30000), 0);

	/* A sees B's commit in a snapshot begun after it returned. */
	shmdb_rtxn *r;
	shmdb_val v;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_uint_ge(shmdb_read_ts(r), b_ts);
	ck_assert_int_eq(shmdb_get(r, t, "from-b", 6, &v), 0);
	ck_assert_uint_eq(v.len, 5);
	ck_assert_mem_eq(v.data, "hello", 5);
	ck_assert_int_eq(shmdb_get(r, t, "key", 3, &v), 0);
	ck_assert_mem_eq(v.data, "v2", 2);
	shmdb_read_end(r);

	close(up[0]);
	close(down[1]);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 2. the money-transfer invariant --------------------------------------- */

enum { ACCOUNTS = 100, MONEY_WRITERS = 4, MONEY_READERS = 2, TRANSFERS = 2000,
       MIN_SNAPSHOTS = 5000 };
#define START_BALANCE 1000
#define TOTAL_MONEY ((int64_t)ACCOUNTS * START_BALANCE)

struct xfer {
	int32_t from, to;
	int64_t amount;
	uint64_t commit_ts;
};

struct money_args {
	shmdb_table t;
	int index;
	int stop_r, stop_w; /* the readers' stop pipe */
};

/* An account's key: exactly 8 bytes, "acct0000" .. "acct0099". */
static void acct_key(char k[9], int i)
{
	snprintf(k, 9, "acct%04d", i);
}

static int get_balance(shmdb_rtxn *r, shmdb_table t, int i, int64_t *b)
{
	char k[9];
	shmdb_val v;
	acct_key(k, i);
	int e = shmdb_get(r, t, k, 8, &v);
	if (e)
		return e;
	if (v.len != sizeof(*b))
		return -EBADMSG;
	memcpy(b, v.data, sizeof(*b));
	return 0;
}

static void xfer_path(char *path, size_t cap, int i)
{
	snprintf(path, cap, "%s/xfer%d", d.dir, i);
}

static void money_writer(void *arg)
{
	const struct money_args *a = arg;
	close(a->stop_r);
	close(a->stop_w);
	char path[128];
	xfer_path(path, sizeof(path), a->index);
	FILE *f = fopen(path, "w");
	CHILD_REQUIRE(f != NULL, 10);
	shmdb *db = child_open();
	unsigned seed = 0x9e3779b9u * (unsigned)(a->index + 1) ^ (unsigned)getpid();
	long attempts = 0;

	for (int done = 0; done < TRANSFERS;) {
		CHILD_REQUIRE(++attempts < 1000L * TRANSFERS, 11);
		int from = rand_r(&seed) % ACCOUNTS, to = rand_r(&seed) % (ACCOUNTS - 1);
		if (to >= from)
			to++;
		int64_t amount = 1 + rand_r(&seed) % 100, bf, bt;
		char kf[9], kt[9];
		acct_key(kf, from);
		acct_key(kt, to);

		shmdb_rtxn *r;
		CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 12);
		CHILD_REQUIRE(get_balance(r, a->t, from, &bf) == 0, 13);
		CHILD_REQUIRE(get_balance(r, a->t, to, &bt) == 0, 13);
		uint64_t since = shmdb_read_ts(r);
		shmdb_read_end(r);

		/* Give the others a chance to commit in between: conflicts. */
		if (rand_r(&seed) % 2)
			sched_yield();
		bf -= amount;
		bt += amount;
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 14);
		CHILD_REQUIRE(shmdb_check(w, a->t, kf, 8, since) == 0, 14);
		CHILD_REQUIRE(shmdb_check(w, a->t, kt, 8, since) == 0, 14);
		CHILD_REQUIRE(shmdb_put(w, a->t, kf, 8, &bf, sizeof(bf)) == 0, 14);
		CHILD_REQUIRE(shmdb_put(w, a->t, kt, 8, &bt, sizeof(bt)) == 0, 14);
		uint64_t ts = 0;
		int e = shmdb_commit(w, &ts);
		if (e == SHMDB_ECONFLICT)
			continue;
		CHILD_REQUIRE(e == 0, 15);
		CHILD_REQUIRE(ts > since, 16);
		struct xfer x = { .from = from, .to = to, .amount = amount, .commit_ts = ts };
		CHILD_REQUIRE(fwrite(&x, sizeof(x), 1, f) == 1, 17);
		done++;
	}
	CHILD_REQUIRE(fclose(f) == 0, 18);
	shmdb_close(db);
}

static void money_reader(void *arg)
{
	const struct money_args *a = arg;
	close(a->stop_w);
	shmdb *db = child_open();
	uint64_t last_ts = 0;

	for (long n = 0;; n++) {
		if (n >= MIN_SNAPSHOTS && n % 64 == 0 && told_to_stop(a->stop_r))
			break;
		shmdb_rtxn *r;
		CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 20);
		uint64_t ts = shmdb_read_ts(r);
		/* A later snapshot never shows an older state. */
		CHILD_REQUIRE(ts >= last_ts, 21);
		last_ts = ts;
		int64_t sum = 0;
		int count = 0;
		if (n % 3 == 0) {
			for (int i = 0; i < ACCOUNTS; i++, count++) {
				int64_t b;
				CHILD_REQUIRE(get_balance(r, a->t, i, &b) == 0, 22);
				sum += b;
			}
		} else if (n % 3 == 1) { /* all accounts in one batch */
			char keys[ACCOUNTS][9];
			shmdb_val kv[ACCOUNTS], vals[ACCOUNTS];
			for (int i = 0; i < ACCOUNTS; i++) {
				acct_key(keys[i], i);
				kv[i] = (shmdb_val){ keys[i], 8 };
			}
			CHILD_REQUIRE(shmdb_get_many(r, a->t, kv, ACCOUNTS, vals) == 0, 26);
			for (int i = 0; i < ACCOUNTS; i++, count++) {
				int64_t b;
				CHILD_REQUIRE(vals[i].data && vals[i].len == sizeof(b), 26);
				memcpy(&b, vals[i].data, sizeof(b));
				sum += b;
			}
		} else { /* and through a cursor */
			shmdb_cursor *c;
			shmdb_val k, v;
			CHILD_REQUIRE(shmdb_cursor_open(r, a->t, &c) == 0, 23);
			while (shmdb_cursor_next(c, &k, &v) == 0) {
				int64_t b;
				CHILD_REQUIRE(k.len == 8 && !memcmp(k.data, "acct", 4), 24);
				CHILD_REQUIRE(v.len == sizeof(b), 24);
				memcpy(&b, v.data, sizeof(b));
				sum += b;
				count++;
			}
			shmdb_cursor_close(c);
		}
		shmdb_read_end(r);
		if (count != ACCOUNTS || sum != TOTAL_MONEY) {
			fprintf(stderr, "reader %d: snapshot %" PRIu64 " (%s): %d accounts, total %" PRId64
				", want %d and %" PRId64 "\n", a->index, ts,
				n % 3 == 0 ? "get" : n % 3 == 1 ? "get_many" : "cursor", count, sum,
				ACCOUNTS, TOTAL_MONEY);
			_exit(25);
		}
	}
	shmdb_close(db);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

START_TEST(money_transfer_invariant)
{
	start_daemon("32M");
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "accounts");

	/* All accounts in one transaction. */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < ACCOUNTS; i++) {
		char k[9];
		int64_t b = START_BALANCE;
		acct_key(k, i);
		ck_assert_int_eq(shmdb_put(w, t, k, 8, &b, sizeof(b)), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);

	int stop[2];
	ck_assert_int_eq(pipe(stop), 0);
	struct money_args ra[MONEY_READERS], wa[MONEY_WRITERS];
	pid_t readers[MONEY_READERS], writers[MONEY_WRITERS];
	for (int i = 0; i < MONEY_READERS; i++) {
		ra[i] = (struct money_args){ .t = t, .index = i, .stop_r = stop[0], .stop_w = stop[1] };
		readers[i] = spawn(money_reader, &ra[i]);
	}
	for (int i = 0; i < MONEY_WRITERS; i++) {
		wa[i] = (struct money_args){ .t = t, .index = i, .stop_r = stop[0], .stop_w = stop[1] };
		writers[i] = spawn(money_writer, &wa[i]);
	}
	int wcode[MONEY_WRITERS], rcode[MONEY_READERS];
	for (int i = 0; i < MONEY_WRITERS; i++)
		wcode[i] = reap(writers[i], 200000);
	close(stop[1]); /* the readers stop once they have their minimum */
	for (int i = 0; i < MONEY_READERS; i++)
		rcode[i] = reap(readers[i], 60000);
	close(stop[0]);
	for (int i = 0; i < MONEY_WRITERS; i++)
		ck_assert_msg(wcode[i] == 0, "writer %d ended with %d", i, wcode[i]);
	for (int i = 0; i < MONEY_READERS; i++)
		ck_assert_msg(rcode[i] == 0, "reader %d ended with %d (a snapshot's total was off?)",
			      i, rcode[i]);

	/* What the writers say they committed. */
	int64_t expect[ACCOUNTS];
	static uint64_t stamps[MONEY_WRITERS * TRANSFERS];
	size_t nstamps = 0;
	for (int i = 0; i < ACCOUNTS; i++)
		expect[i] = START_BALANCE;
	for (int i = 0; i < MONEY_WRITERS; i++) {
		char path[128];
		struct xfer x;
		int n = 0;
		xfer_path(path, sizeof(path), i);
		FILE *f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		while (fread(&x, sizeof(x), 1, f) == 1) {
			ck_assert(x.from >= 0 && x.from < ACCOUNTS && x.to >= 0 && x.to < ACCOUNTS);
			expect[x.from] -= x.amount;
			expect[x.to] += x.amount;
			stamps[nstamps++] = x.commit_ts;
			n++;
		}
		fclose(f);
		ck_assert_int_eq(n, TRANSFERS);
	}
	/* Each commit has a timestamp of its own. */
	qsort(stamps, nstamps, sizeof(stamps[0]), cmp_u64);
	for (size_t i = 1; i < nstamps; i++)
		ck_assert_msg(stamps[i] > stamps[i - 1], "two transfers share commit %" PRIu64,
			      stamps[i]);

	shmdb_rtxn *r;
	int64_t sum = 0;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_uint_ge(shmdb_read_ts(r), stamps[nstamps - 1]);
	for (int i = 0; i < ACCOUNTS; i++) {
		int64_t b = 0;
		ck_assert_int_eq(get_balance(r, t, i, &b), 0);
		ck_assert_msg(b == expect[i], "account %d: %" PRId64 ", committed transfers say %" PRId64,
			      i, b, expect[i]);
		sum += b;
	}
	shmdb_read_end(r);
	ck_assert_int_eq(sum, TOTAL_MONEY);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 3. views stay put across processes -------------------------------------- */

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
	shmdb *db = child_open();
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
	CHILD_REQUIRE(write_full(a->to_parent, &snap, sizeof(snap)) == 0, 34);

	/* Until the writer is done (bounded by the parent's timeout). */
	long looks = 0;
	while (!told_to_stop(a->from_parent)) {
		for (int i = 0; i < VIEW_KEYS; i++)
			CHILD_REQUIRE(views[i].len == VIEW_VLEN &&
				      !memcmp(views[i].data, copies[i], VIEW_VLEN), 35);
		looks++;
		sleep_us(500);
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
	shmdb *db = child_open();
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
	start_daemon("64M");
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "views");
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
	pid_t reader = spawn(view_reader, &a);
	close(up[1]);
	uint64_t snap = 0;
	ck_assert_msg(read_full(up[0], &snap, sizeof(snap), 30000) == 0,
		      "the reader failed (exit %d)", reap(reader, 1000));

	pid_t writer = spawn(view_writer, &a);
	int wcode = reap(writer, 150000);
	ck_assert_int_eq(write_full(down[1], "d", 1), 0);
	int rcode = reap(reader, 30000);
	ck_assert_msg(wcode == 0, "writer ended with %d", wcode);
	ck_assert_msg(rcode == 0, "reader ended with %d (its views changed?)", rcode);
	ck_assert_uint_ge(commit_ts_now(db), snap + VIEW_TXNS);

	close(up[0]);
	close(down[0]);
	close(down[1]);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 4. a reader killed while it holds a snapshot ------------------------------ */

enum { HOLD_KEYS = 100, HOLD_OVERWRITES = 50000, HOLD_PER_TXN = 10, HOLD_VLEN = 1024 };

static void hold_key(char k[8], int i)
{
	snprintf(k, 8, "hold%03d", i);
}

struct hold_args {
	shmdb_table t;
	int to_parent, from_parent;
};

static void holding_reader(void *arg)
{
	const struct hold_args *a = arg;
	shmdb *db = child_open();
	shmdb_rtxn *r;
	shmdb_val v;
	CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 60);
	CHILD_REQUIRE(shmdb_get(r, a->t, "hold000", 7, &v) == 0 && v.len == HOLD_VLEN, 61);
	uint64_t snap = shmdb_read_ts(r);
	CHILD_REQUIRE(write_full(a->to_parent, &snap, sizeof(snap)) == 0, 62);
	/* Hold the snapshot until killed; never longer than two minutes. */
	char b;
	CHILD_REQUIRE(read_full(a->from_parent, &b, 1, 120000) == 0, 63);
	_exit(64); /* told to go: the parent meant to kill us */
}

START_TEST(killed_reader_releases_memory)
{
	/* Held back: 50,000 versions of 1 KiB (1,280-byte blocks), 64 MiB. */
	start_daemon("128M");
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "hold");
	static uint8_t val[HOLD_VLEN];
	shmdb_wtxn *w;

	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int i = 0; i < HOLD_KEYS; i++) {
		char k[8];
		hold_key(k, i);
		memset(val, i, sizeof(val));
		ck_assert_int_eq(shmdb_put(w, t, k, 7, val, sizeof(val)), 0);
	}
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	/* Let the writer publish its figures (it does before it sleeps). */
	sleep_us(100000);
	shmdb_stats base;
	ck_assert_int_eq(shmdb_stats_get(db, &base), 0);

	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	struct hold_args a = { .t = t, .to_parent = up[1], .from_parent = down[0] };
	pid_t reader = spawn(holding_reader, &a);
	close(up[1]);
	close(down[0]);
	uint64_t snap = 0;
	ck_assert_msg(read_full(up[0], &snap, sizeof(snap), 30000) == 0,
		      "the reader failed (exit %d)", reap(reader, 1000));
	ck_assert_uint_ge(snap, base.commit_ts);

	/* The writer loop, after the reader's snapshot began. */
	for (int n = 0; n < HOLD_OVERWRITES; n += HOLD_PER_TXN) {
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int j = 0; j < HOLD_PER_TXN; j++) {
			char k[8];
			hold_key(k, (n + j) % HOLD_KEYS);
			memset(val, (n + j) & 0xff, sizeof(val));
			memcpy(val, &n, sizeof(n));
			ck_assert_int_eq(shmdb_put(w, t, k, 7, val, sizeof(val)), 0);
		}
		int e = shmdb_commit(w, NULL);
		ck_assert_msg(e == 0, "overwrite %d: %s", n, shmdb_strerror(e));
	}

	/* Every replaced version is held for the reader: the horizon stays at
	 * or below its snapshot and the memory in use grows by at least the
	 * values written. */
	const uint64_t held = (uint64_t)HOLD_OVERWRITES * HOLD_VLEN;
	shmdb_stats st;
	uint64_t end = mono_ms() + 10000;
	for (;;) {
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
		ck_assert_msg(st.oldest_snapshot <= snap,
			      "oldest_snapshot %" PRIu64 " passed the live reader's %" PRIu64,
			      st.oldest_snapshot, snap);
		if (st.mem_used >= base.mem_used + held || mono_ms() >= end)
			break;
		sleep_us(5000);
	}
	ck_assert_uint_gt(st.commit_ts, snap);
	ck_assert_msg(st.mem_used >= base.mem_used + held,
		      "mem_used %" PRIu64 " did not grow by %" PRIu64 " from %" PRIu64, st.mem_used,
		      held, base.mem_used);
	/* The reader is still there holding it. */
	ck_assert_int_eq(waitpid(reader, NULL, WNOHANG), 0);

	ck_assert_int_eq(kill(reader, SIGKILL), 0);
	ck_assert_int_eq(reap(reader, 10000), 128 + SIGKILL);

	/* Within 10 s the horizon passes the dead reader's snapshot and the
	 * held versions are freed: back within 1 MiB of the figure before the
	 * loop (the 100 live versions take what the replaced ones took). */
	const uint64_t bound = base.mem_used + (1u << 20);
	end = mono_ms() + 10000;
	for (;;) {
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
		if ((st.oldest_snapshot > snap && st.mem_used <= bound) || mono_ms() >= end)
			break;
		sleep_us(5000);
	}
	ck_assert_msg(st.oldest_snapshot > snap,
		      "oldest_snapshot %" PRIu64 " still at or below the dead reader's %" PRIu64,
		      st.oldest_snapshot, snap);
	ck_assert_msg(st.mem_used <= bound, "mem_used %" PRIu64 " above %" PRIu64, st.mem_used,
		      bound);

	/* The memory is usable again: another round of overwrites fits. */
	for (int n = 0; n < HOLD_OVERWRITES / 2; n += HOLD_PER_TXN) {
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int j = 0; j < HOLD_PER_TXN; j++) {
			char k[8];
			hold_key(k, (n + j) % HOLD_KEYS);
			ck_assert_int_eq(shmdb_put(w, t, k, 7, val, sizeof(val)), 0);
		}
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	close(up[0]);
	close(down[1]);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 5. writers killed in the middle of commits ------------------------------- */

enum { KILL_ROUNDS = 20 };

/* write.c cuts a transaction into chunks of this many payload bytes. */
#define RING_CHUNK (SHM_SQ_SIZE / 4 - sizeof(struct shm_sqe_hdr))

/* The pad value that ends the first chunk of a big transaction exactly
 * after the put of "c0" and the put of "pad", so that the puts of c1 and
 * c2 travel in a second chunk. */
static size_t pad_vlen(void)
{
	return RING_CHUNK - shm_op_size(2, 8) - shm_op_size(3, 0);
}

struct kill_args {
	shmdb_table t;
	uint64_t base;    /* counters of this round start above it */
	int ready_w;      /* the child says its handle is open */
	int stop_r;       /* the checker's stop pipe */
	int stop_w;
};

/* Every transaction puts one counter value into c0, c1 and c2; every third
 * also fills "pad" with it and spans two ring chunks. */
static void doomed_writer(void *arg)
{
	const struct kill_args *a = arg;
	close(a->stop_r);
	close(a->stop_w);
	shmdb *db = child_open();
	size_t plen = pad_vlen();
	uint64_t *pad = malloc(plen);
	CHILD_REQUIRE(pad != NULL, 70);
	CHILD_REQUIRE(write_full(a->ready_w, "r", 1) == 0, 71);
	for (uint64_t n = 1; n < 1000000; n++) {
		uint64_t c = a->base + n;
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 72);
		CHILD_REQUIRE(shmdb_put(w, a->t, "c0", 2, &c, sizeof(c)) == 0, 73);
		if (n % 3 == 0) {
			for (size_t i = 0; i < plen / 8; i++)
				pad[i] = c;
			CHILD_REQUIRE(shmdb_put(w, a->t, "pad", 3, pad, plen) == 0, 73);
		}
		CHILD_REQUIRE(shmdb_put(w, a->t, "c1", 2, &c, sizeof(c)) == 0, 73);
		CHILD_REQUIRE(shmdb_put(w, a->t, "c2", 2, &c, sizeof(c)) == 0, 73);
		CHILD_REQUIRE(shmdb_commit(w, NULL) == 0, 74);
	}
}

/* In snapshot r: c0 == c1 == c2 (into *c), and "pad" holds one counter
 * value throughout, no newer than c0. Returns 0 or which rule broke. */
static int counters_consistent(shmdb_rtxn *r, shmdb_table t, uint64_t *c)
{
	shmdb_val v[3], p;
	uint64_t x[3], first;
	for (int i = 0; i < 3; i++) {
		char k[3] = { 'c', (char)('0' + i), 0 };
		if (shmdb_get(r, t, k, 2, &v[i]) || v[i].len != 8)
			return 1;
		memcpy(&x[i], v[i].data, 8);
	}
	if (x[0] != x[1] || x[1] != x[2])
		return 2;
	if (shmdb_get(r, t, "pad", 3, &p) || p.len != pad_vlen())
		return 3;
	memcpy(&first, p.data, 8);
	for (size_t off = 8; off < p.len; off += 8)
		if (memcmp((const uint8_t *)p.data + off, &first, 8))
			return 4;
	if (first > x[0])
		return 5;
	*c = x[0];
	return 0;
}

static void counter_checker(void *arg)
{
	const struct kill_args *a = arg;
	close(a->stop_w);
	shmdb *db = child_open();
	uint64_t last = 0;
	for (long n = 0; !told_to_stop(a->stop_r); n++) {
		shmdb_rtxn *r;
		uint64_t c = 0;
		CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 80);
		int bad = counters_consistent(r, a->t, &c);
		if (bad)
			fprintf(stderr, "checker: snapshot %" PRIu64 " breaks rule %d\n",
				shmdb_read_ts(r), bad);
		shmdb_read_end(r);
		CHILD_REQUIRE(bad == 0, 81);
		CHILD_REQUIRE(c >= last, 82); /* rounds count upwards */
		last = c;
		if (n % 16 == 0)
			sleep_us(200);
	}
	shmdb_close(db);
}

START_TEST(killed_writers_leave_whole_transactions)
{
	start_daemon("64M");
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "counters");
	uint64_t zero = 0;
	size_t plen = pad_vlen();
	uint8_t *pad = calloc(1, plen);
	ck_assert_ptr_nonnull(pad);
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, "c0", 2, &zero, 8), 0);
	ck_assert_int_eq(shmdb_put(w, t, "pad", 3, pad, plen), 0);
	ck_assert_int_eq(shmdb_put(w, t, "c1", 2, &zero, 8), 0);
	ck_assert_int_eq(shmdb_put(w, t, "c2", 2, &zero, 8), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	free(pad);

	int stop[2];
	ck_assert_int_eq(pipe(stop), 0);
	struct kill_args ca = { .t = t, .ready_w = -1, .stop_r = stop[0], .stop_w = stop[1] };
	pid_t checker = spawn(counter_checker, &ca);

	unsigned seed = (unsigned)getpid() ^ (unsigned)mono_ms();
	uint64_t last = 0;
	for (int round = 1; round <= KILL_ROUNDS; round++) {
		struct kill_args ka = ca;
		int ready[2];
		char b;
		ck_assert_int_eq(pipe(ready), 0);
		ka.base = (uint64_t)round * 10000000u;
		ka.ready_w = ready[1];
		pid_t victim = spawn(doomed_writer, &ka);
		close(ready[1]);
		ck_assert_msg(read_full(ready[0], &b, 1, 30000) == 0,
			      "round %d: the writer failed before its loop (exit %d)", round,
			      reap(victim, 1000));
		close(ready[0]);
		/* A random moment of its commit loop. */
		sleep_us(rand_r(&seed) % 25000);
		ck_assert_int_eq(kill(victim, SIGKILL), 0);
		int code = reap(victim, 10000);
		ck_assert_msg(code == 128 + SIGKILL, "round %d (seed %u): the writer ended with %d",
			      round, seed, code);
		ck_assert_msg(test_daemon_alive(&d), "round %d (seed %u): the daemon died", round,
			      seed);

		shmdb_rtxn *r;
		uint64_t c = 0;
		ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
		int bad = counters_consistent(r, t, &c);
		shmdb_read_end(r);
		ck_assert_msg(bad == 0, "round %d (seed %u): the counters break rule %d", round, seed,
			      bad);
		ck_assert_uint_ge(c, last);
		last = c;
	}
	ck_assert_int_eq(write_full(stop[1], "s", 1), 0);
	int code = reap(checker, 30000);
	ck_assert_msg(code == 0, "the checker ended with %d (seed %u)", code, seed);
	ck_assert_msg(last > 0, "no killed writer committed anything (seed %u)", seed);
	/* Every killed session is gone: only this handle remains. */
	wait_sessions(db, 1);

	/* A new client commits a whole transaction over the counters and
	 * reads it back. */
	assert_served("after-killed-writers");
	shmdb *fresh = parent_open();
	uint64_t next = last + 1, c = 0;
	ck_assert_int_eq(shmdb_write_begin(fresh, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, "c0", 2, &next, 8), 0);
	ck_assert_int_eq(shmdb_put(w, t, "c1", 2, &next, 8), 0);
	ck_assert_int_eq(shmdb_put(w, t, "c2", 2, &next, 8), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(fresh, &r), 0);
	ck_assert_int_eq(counters_consistent(r, t, &c), 0);
	ck_assert_uint_eq(c, next);
	shmdb_read_end(r);
	shmdb_close(fresh);

	close(stop[0]);
	close(stop[1]);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- raw access to a session's rings ------------------------------------------ */

static struct shm_session_header *session_of(shmdb *db)
{
	size_t size;
	return shm_client_session(db, &size);
}

static uint8_t *sq_of(shmdb *db)
{
	return (uint8_t *)session_of(db) + SHM_SESSION_SQ_OFF;
}

/* Write a record at the handle's private tail: a header saying len, kind
 * and flags, then plen payload bytes; the private tail then moves by
 * `advance` bytes. Nothing is published. */
static void raw_record(shmdb *db, uint32_t len, uint16_t kind, uint16_t flags,
		       const void *payload, size_t plen, size_t advance)
{
	uint64_t pos = db->sq_tail & (SHM_SQ_SIZE - 1);
	CHILD_REQUIRE(pos + sizeof(struct shm_sqe_hdr) + plen <= SHM_SQ_SIZE, 100);
	struct shm_sqe_hdr h = { .len = len, .kind = kind, .flags = flags };
	memcpy(sq_of(db) + pos, &h, sizeof(h));
	if (plen)
		memcpy(sq_of(db) + pos + sizeof(h), payload, plen);
	db->sq_tail += advance;
}

/* A well-framed chunk record (plen a multiple of 8). */
static void raw_chunk(shmdb *db, uint16_t flags, const void *payload, size_t plen)
{
	CHILD_REQUIRE(plen % 8 == 0, 101);
	size_t len = sizeof(struct shm_sqe_hdr) + plen;
	raw_record(db, (uint32_t)len, SHM_SQE_CHUNK, flags, payload, plen, len);
}

/* Store `tail` as the session's sq_tail and wake a sleeping writer, as
 * write.c's publish_tail does. */
static void raw_publish_at(shmdb *db, uint64_t tail)
{
	__atomic_store_n(&session_of(db)->sq_tail, tail, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&db->meta->writer_sleeping, __ATOMIC_RELAXED)) {
		__atomic_fetch_add(&db->doorbell->ring, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, &db->doorbell->ring, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
}

static void raw_publish(shmdb *db)
{
	raw_publish_at(db, db->sq_tail);
}

/* Book the next ticket as shmdb_commit_async does, so that shmdb_wait()
 * collects the completion of one raw transaction. */
static uint64_t raw_ticket(shmdb *db)
{
	pthread_mutex_lock(&db->sq_lock);
	pthread_mutex_lock(&db->cq_lock);
	uint64_t t = db->issued + 1;
	struct shm_result *res = &db->results[t % SHM_RESULTS];
	CHILD_REQUIRE(res->state == RESULT_FREE, 102);
	res->ticket = t;
	res->state = RESULT_PENDING;
	__atomic_store_n(&db->issued, t, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&db->cq_lock);
	pthread_mutex_unlock(&db->sq_lock);
	return t;
}

/* Submit buf[0..len) as one FIRST|LAST chunk and return its result,
 * collected by shmdb_wait() and checked against the completion entry the
 * daemon wrote (this session's n-th completion is at CQ index n-1). */
static int raw_txn(shmdb *db, const void *buf, size_t len, uint64_t *commit_ts)
{
	uint64_t ticket = raw_ticket(db);
	raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, len);
	raw_publish(db);
	int status = shmdb_wait(db, ticket, commit_ts);
	const struct shm_cqe *cq =
		(const void *)((const uint8_t *)session_of(db) + SHM_SESSION_CQ_OFF);
	const struct shm_cqe *e = &cq[(ticket - 1) & (SHM_CQ_ENTRIES - 1)];
	CHILD_REQUIRE(e->ticket == ticket && e->status == status, 103);
	CHILD_REQUIRE(status != 0 || e->commit_ts == *commit_ts, 103);
	CHILD_REQUIRE(status == 0 || e->commit_ts == 0, 103);
	return status;
}

/* Wait up to 10 s until the daemon has consumed the ring up to the
 * handle's private tail. */
static int raw_consumed(shmdb *db)
{
	uint64_t end = mono_ms() + 10000;
	while (__atomic_load_n(&session_of(db)->sq_head, __ATOMIC_ACQUIRE) != db->sq_tail) {
		if (mono_ms() >= end)
			return 0;
		sleep_us(500);
	}
	return 1;
}

/* Whether the daemon closed this handle's session: its socket reads EOF
 * within 10 s. */
static int session_dropped(shmdb *db)
{
	struct pollfd pfd = { .fd = shm_client_socket(db), .events = POLLIN };
	int e;
	do
		e = poll(&pfd, 1, 10000);
	while (e < 0 && errno == EINTR);
	if (e != 1)
		return 0;
	char b;
	return recv(pfd.fd, &b, 1, MSG_DONTWAIT) == 0;
}

/* ---- 6. hostile bytes in a session's own ring ---------------------------------- */

enum hostile {
	/* the transaction fails, the session lives on */
	H_BAD_OPCODE,      /* (a) unknown op code, record framing fine */
	H_CUT_SHORT,       /* (b) an op whose key or value runs past the end */
	H_NO_TABLE,        /* (c) unknown table id */
	/* the session is dropped */
	H_LEN_ODD,         /* (d) record len not a multiple of 8 */
	H_LEN_HUGE,        /* (d) record len larger than the ring */
	H_LEN_ZERO,        /* (d) record len 0 */
	H_LEN_PAST_TAIL,   /* (d) record longer than what was published */
	H_TAIL_FAR,        /* (e) sq_tail more than the ring ahead of the head */
	H_TAIL_ODD,        /* (e) sq_tail not a multiple of 8 */
	H_TAIL_BACK,       /* (e) sq_tail moved back behind the head */
	H_MIDDLE_FIRST,    /* (f) a middle chunk with no FIRST before it */
	H_LAST_FIRST,      /* (f) a LAST chunk with no FIRST before it */
	H_FIRST_TWICE,     /* (f) FIRST while a transaction is open */
	H_BAD_KIND,        /* (f) a record of unknown kind */
	H_BAD_FLAGS,       /* (f) a chunk with unknown flag bits */
	H_CQ_HEAD,         /* cq_head moved past the posted completions */
	H_COUNT
};

static const struct {
	const char *name;
	const char *reason; /* the daemon's log line for a dropped session */
} hostile_case[H_COUNT] = {
	[H_BAD_OPCODE] = { "bad-opcode", NULL },
	[H_CUT_SHORT] = { "cut-short", NULL },
	[H_NO_TABLE] = { "no-table", NULL },
	[H_LEN_ODD] = { "len-odd", "malformed submission record" },
	[H_LEN_HUGE] = { "len-huge", "malformed submission record" },
	[H_LEN_ZERO] = { "len-zero", "malformed submission record" },
	[H_LEN_PAST_TAIL] = { "len-past-tail", "malformed submission record" },
	[H_TAIL_FAR] = { "tail-far", "submission tail out of range" },
	[H_TAIL_ODD] = { "tail-odd", "submission tail out of range" },
	[H_TAIL_BACK] = { "tail-back", "submission tail out of range" },
	[H_MIDDLE_FIRST] = { "middle-first", "submission records out of order" },
	[H_LAST_FIRST] = { "last-first", "submission records out of order" },
	[H_FIRST_TWICE] = { "first-twice", "submission records out of order" },
	[H_BAD_KIND] = { "bad-kind", "submission records out of order" },
	[H_BAD_FLAGS] = { "bad-flags", "submission records out of order" },
	[H_CQ_HEAD] = { "cq-head", "completion head out of range" },
};

struct hostile_args {
	enum hostile which;
	shmdb_table t;
};

/* Whether key is visible to a new snapshot of db. */
static int visible(shmdb *db, shmdb_table t, const char *key)
{
	char buf[8];
	size_t len;
	return read_key(db, t, key, buf, sizeof(buf), &len) == 0;
}

/* The session must still work: a normal commit, and nothing of the
 * refused transactions (keys starting "ghost") applied. */
static void still_usable(shmdb *db, shmdb_table t)
{
	uint64_t ts = 0;
	CHILD_REQUIRE(commit_put(db, t, "after", "ok", 2, &ts) == 0, 120);
	CHILD_REQUIRE(ts > 0 && visible(db, t, "after"), 121);
	CHILD_REQUIRE(!visible(db, t, "ghost1") && !visible(db, t, "ghost2"), 122);
}

static void hostile_child(void *arg)
{
	const struct hostile_args *a = arg;
	shmdb *db = child_open();
	struct shm_session_header *h = session_of(db);
	uint8_t buf[512];
	size_t n1 = shm_op_size(6, 1), n2;
	uint64_t ts = 1;
	memset(buf, 0, sizeof(buf));

	switch (a->which) {
	case H_BAD_OPCODE:
		/* One op with code 0x77. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		buf[0] = 0x77;
		CHILD_REQUIRE(raw_txn(db, buf, n1, &ts) == SHMDB_EBADTXN && ts == 0, 110);
		/* A good put, then an op of code 0: none applied. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		shm_op_encode(buf + n1, SHM_OP_PUT, a->t, 0, "ghost2", 6, "y", 1);
		buf[n1] = 0;
		CHILD_REQUIRE(raw_txn(db, buf, 2 * n1, &ts) == SHMDB_EBADTXN && ts == 0, 111);
		/* A reserved byte that is not zero. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		buf[1] = 1;
		CHILD_REQUIRE(raw_txn(db, buf, n1, &ts) == SHMDB_EBADTXN, 112);
		/* Reserves with a key, for table 0, over the limit. */
		shm_op_encode(buf, SHM_OP_RESERVE, a->t, 10, "k", 1, NULL, 0);
		CHILD_REQUIRE(raw_txn(db, buf, shm_op_size(1, 0), &ts) == SHMDB_EBADTXN, 164);
		shm_op_encode(buf, SHM_OP_RESERVE, 0, 10, "", 0, NULL, 0);
		CHILD_REQUIRE(raw_txn(db, buf, shm_op_size(0, 0), &ts) == SHMDB_EBADTXN, 165);
		shm_op_encode(buf, SHM_OP_RESERVE, a->t, SHMDB_MAX_TABLE_KEYS + 1ull, "", 0, NULL, 0);
		CHILD_REQUIRE(raw_txn(db, buf, shm_op_size(0, 0), &ts) == SHMDB_EBADTXN, 166);
		/* A good reserve with a put in one transaction: both apply. */
		n2 = shm_op_size(0, 0);
		shm_op_encode(buf, SHM_OP_RESERVE, a->t, 5000, "", 0, NULL, 0);
		shm_op_encode(buf + n2, SHM_OP_PUT, a->t, 0, "ghost3", 6, "z", 1);
		CHILD_REQUIRE(raw_txn(db, buf, n2 + n1, &ts) == 0 && ts > 0, 167);
		CHILD_REQUIRE(visible(db, a->t, "ghost3"), 168);
		still_usable(db, a->t);
		break;

	case H_CUT_SHORT: {
		/* klen says 100, the chunk ends 8 bytes after the op header. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		uint16_t klen = 100;
		memcpy(buf + 2, &klen, 2);
		CHILD_REQUIRE(raw_txn(db, buf, sizeof(struct shm_op_hdr) + 8, &ts) == SHMDB_EBADTXN &&
			      ts == 0, 113);
		/* A good put, then one whose vlen (4096) runs past the end. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		shm_op_encode(buf + n1, SHM_OP_PUT, a->t, 0, "ghost2", 6, "y", 1);
		uint32_t vlen = 4096;
		memcpy(buf + n1 + 4, &vlen, 4);
		CHILD_REQUIRE(raw_txn(db, buf, 2 * n1, &ts) == SHMDB_EBADTXN, 114);
		/* Less than an op header. */
		CHILD_REQUIRE(raw_txn(db, buf, 16, &ts) == SHMDB_EBADTXN, 115);
		still_usable(db, a->t);
		break;
	}

	case H_NO_TABLE: {
		const uint32_t nosuch = 0x00ab0123; /* slot 0x123, never created */
		shm_op_encode(buf, SHM_OP_PUT, nosuch, 0, "ghost1", 6, "x", 1);
		CHILD_REQUIRE(raw_txn(db, buf, n1, &ts) == -ENOENT && ts == 0, 116);
		/* A good put, then a put to no table: none applied. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		shm_op_encode(buf + n1, SHM_OP_PUT, nosuch, 0, "ghost2", 6, "y", 1);
		CHILD_REQUIRE(raw_txn(db, buf, 2 * n1, &ts) == -ENOENT, 117);
		/* A check on no table. */
		n2 = shm_op_size(6, 0);
		shm_op_encode(buf, SHM_OP_CHECK, nosuch, 1, "ghost1", 6, NULL, 0);
		CHILD_REQUIRE(raw_txn(db, buf, n2, &ts) == -ENOENT, 118);
		/* Table id 0. */
		shm_op_encode(buf, SHM_OP_PUT, 0, 0, "ghost1", 6, "x", 1);
		CHILD_REQUIRE(raw_txn(db, buf, n1, &ts) == -ENOENT, 119);
		still_usable(db, a->t);
		break;
	}

	case H_LEN_ODD:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_record(db, (uint32_t)(8 + n1 - 4), SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST,
			   buf, n1, 8 + n1);
		raw_publish(db);
		break;
	case H_LEN_HUGE:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_record(db, 2 * SHM_SQ_SIZE, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1,
			   8 + n1);
		raw_publish(db);
		break;
	case H_LEN_ZERO:
		raw_record(db, 0, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, NULL, 0, 8);
		raw_publish(db);
		break;
	case H_LEN_PAST_TAIL:
		/* The record says 8 + n1 bytes; only its first 16 are published. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_record(db, (uint32_t)(8 + n1), SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, buf,
			   n1, 16);
		raw_publish(db);
		break;
	case H_TAIL_FAR:
		raw_publish_at(db, h->sq_head + SHM_SQ_SIZE + 8);
		break;
	case H_TAIL_ODD:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1);
		raw_publish_at(db, db->sq_tail - 4);
		break;
	case H_TAIL_BACK:
		/* A good transaction moves the head, then the tail goes back. */
		CHILD_REQUIRE(commit_put(db, a->t, "before", "ok", 2, NULL) == 0, 123);
		CHILD_REQUIRE(raw_consumed(db), 124);
		raw_publish_at(db, db->sq_tail - 8);
		break;
	case H_MIDDLE_FIRST:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_chunk(db, 0, buf, n1);
		raw_publish(db);
		break;
	case H_LAST_FIRST:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_chunk(db, SHM_SQE_LAST, buf, n1);
		raw_publish(db);
		break;
	case H_FIRST_TWICE:
		/* The first FIRST holds a whole put: it must not be applied. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_chunk(db, SHM_SQE_FIRST, buf, n1);
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost2", 6, "y", 1);
		raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1);
		raw_publish(db);
		break;
	case H_BAD_KIND:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_record(db, (uint32_t)(8 + n1), 7, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1, 8 + n1);
		raw_publish(db);
		break;
	case H_BAD_FLAGS:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_record(db, (uint32_t)(8 + n1), SHM_SQE_CHUNK,
			   SHM_SQE_FIRST | SHM_SQE_LAST | 0x10, buf, n1, 8 + n1);
		raw_publish(db);
		break;
	case H_CQ_HEAD:
		__atomic_store_n(&h->cq_head, 5000u, __ATOMIC_RELEASE);
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1);
		raw_publish(db);
		break;
	case H_COUNT:
		break;
	}
	if (hostile_case[a->which].reason) {
		CHILD_REQUIRE(session_dropped(db), 130);
		/* The handle reports the loss instead of hanging. */
		CHILD_REQUIRE(commit_put(db, a->t, "ghost2", "z", 1, NULL) != 0, 131);
	}
	_exit(0); /* no shmdb_close: the session may be gone */
}

START_TEST(hostile_rings)
{
	start_daemon("16M");
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "hostile");
	shmdb_table bt = parent_table(db, "bystanders");
	assert_handle_served(db, bt, "start");

	for (int c = 0; c < H_COUNT; c++) {
		const char *name = hostile_case[c].name;
		struct hostile_args a = { .which = (enum hostile)c, .t = t };
		uint64_t before = commit_ts_now(db);
		pid_t pid = spawn(hostile_child, &a);
		int code = reap(pid, 60000);
		ck_assert_msg(code == 0, "case %s: the hostile child ended with %d", name, code);

		/* Nothing of the refused transactions is visible. */
		ck_assert_msg(!visible(db, t, "ghost1") && !visible(db, t, "ghost2"),
			      "case %s: a refused transaction was applied", name);
		if (hostile_case[c].reason) {
			/* The session was dropped for its own reason, and
			 * committed nothing but what the case did openly. */
			static char log[1 << 16];
			char want[160];
			test_daemon_log(&d, log, sizeof(log));
			snprintf(want, sizeof(want), "(pid %d) ended: %s", (int)pid,
				 hostile_case[c].reason);
			ck_assert_msg(strstr(log, want) != NULL, "case %s: no \"%s\" in the log:\n%s",
				      name, want, log);
			ck_assert_uint_le(commit_ts_now(db), before + (c == H_TAIL_BACK));
		}
		wait_sessions(db, 1);
		ck_assert_msg(test_daemon_alive(&d), "case %s: the daemon died", name);
		assert_handle_served(db, bt, name);
		assert_served(name);
	}
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 7. fairness between a flooding session and a polite one -------------------- */

enum { POLITE_COMMITS = 200, FLOOD_WINDOW = 2048, FLOOD_HEAD_START = 4096 };

struct flood_args {
	shmdb_table t;
	int ready_w;
	int stop_r, stop_w;
};

/* The flooder's two threads: one submits, one collects, so that its ring
 * and completion ring are never left idle while it floods. */
struct flood {
	shmdb *db;
	uint64_t tickets[FLOOD_WINDOW];
	uint64_t sent, done; /* sent: the submitter's; done: the collector's */
	int stop, err;
};

static void *flood_collector(void *arg)
{
	struct flood *f = arg;
	for (;;) {
		uint64_t done = f->done, sent = __atomic_load_n(&f->sent, __ATOMIC_ACQUIRE);
		if (done == sent) {
			if (__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE) &&
			    __atomic_load_n(&f->sent, __ATOMIC_ACQUIRE) == done)
				break;
			sched_yield();
			continue;
		}
		int e = shmdb_wait(f->db, f->tickets[done % FLOOD_WINDOW], NULL);
		if (e) {
			__atomic_store_n(&f->err, e, __ATOMIC_RELEASE);
			break;
		}
		__atomic_store_n(&f->done, done + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void flooder(void *arg)
{
	const struct flood_args *a = arg;
	close(a->stop_w);
	static struct flood f;
	f.db = child_open();
	pthread_t collector;
	uint8_t val[64];
	memset(val, 0xf1, sizeof(val));
	CHILD_REQUIRE(pthread_create(&collector, NULL, flood_collector, &f) == 0, 140);
	for (uint64_t sent = 0;; sent++) {
		while (sent - __atomic_load_n(&f.done, __ATOMIC_ACQUIRE) >= FLOOD_WINDOW) {
			CHILD_REQUIRE(__atomic_load_n(&f.err, __ATOMIC_ACQUIRE) == 0, 141);
			sched_yield();
		}
		if (sent == FLOOD_HEAD_START)
			CHILD_REQUIRE(write_full(a->ready_w, "f", 1) == 0, 142);
		if (sent % 64 == 0 && sent > FLOOD_HEAD_START && told_to_stop(a->stop_r))
			break;
		char k[16];
		shmdb_wtxn *w;
		snprintf(k, sizeof(k), "flood%03u", (unsigned)(sent % 1000));
		memcpy(val, &sent, sizeof(sent));
		CHILD_REQUIRE(shmdb_write_begin(f.db, &w) == 0, 143);
		CHILD_REQUIRE(shmdb_put(w, a->t, k, strlen(k), val, sizeof(val)) == 0, 143);
		CHILD_REQUIRE(shmdb_commit_async(w, &f.tickets[sent % FLOOD_WINDOW]) == 0, 144);
		__atomic_store_n(&f.sent, sent + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	CHILD_REQUIRE(pthread_join(collector, NULL) == 0, 145);
	if (f.err)
		fprintf(stderr, "flooder: a transaction failed: %s\n", shmdb_strerror(f.err));
	CHILD_REQUIRE(f.err == 0 && f.done == f.sent, 146);
	shmdb_close(f.db);
}

static void polite(void *arg)
{
	const struct flood_args *a = arg;
	close(a->stop_r);
	close(a->stop_w);
	shmdb *db = child_open();
	uint64_t last = 0;
	for (int i = 0; i < POLITE_COMMITS; i++) {
		char k[24];
		uint64_t ts = 0;
		snprintf(k, sizeof(k), "polite%03d", i);
		CHILD_REQUIRE(commit_put(db, a->t, k, &i, sizeof(i), &ts) == 0, 150);
		CHILD_REQUIRE(ts > last, 151);
		last = ts;
	}
	shmdb_close(db);
}

START_TEST(flooding_session_does_not_starve_others)
{
	start_daemon("32M");
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "fair");
	int stop[2], ready[2];
	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_eq(pipe(ready), 0);
	struct flood_args a = { .t = t, .ready_w = ready[1], .stop_r = stop[0], .stop_w = stop[1] };
	pid_t flood = spawn(flooder, &a);
	close(ready[1]);
	char b;
	ck_assert_msg(read_full(ready[0], &b, 1, 60000) == 0, "the flooder failed (exit %d)",
		      reap(flood, 1000));

	pid_t nice = spawn(polite, &a);
	int code = reap(nice, 120000);
	/* The flood went on the whole time. */
	int flood_alive = waitpid(flood, NULL, WNOHANG) == 0;
	ck_assert_int_eq(write_full(stop[1], "s", 1), 0);
	int fcode = reap(flood, 60000);
	ck_assert_msg(code == 0, "the polite client ended with %d (-1: starved for 120 s)", code);
	ck_assert_msg(fcode == 0, "the flooder ended with %d", fcode);
	ck_assert_msg(flood_alive, "the flooder stopped before the polite client was done");

	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	for (int i = 0; i < POLITE_COMMITS; i++) {
		char k[24];
		shmdb_val v;
		int x;
		snprintf(k, sizeof(k), "polite%03d", i);
		ck_assert_int_eq(shmdb_get(r, t, k, strlen(k), &v), 0);
		ck_assert_uint_eq(v.len, sizeof(x));
		memcpy(&x, v.data, sizeof(x));
		ck_assert_int_eq(x, i);
	}
	shmdb_val v;
	ck_assert_int_eq(shmdb_get(r, t, "flood000", 8, &v), 0);
	shmdb_read_end(r);

	close(stop[0]);
	close(stop[1]);
	close(ready[0]);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- 8. a client killed while writing into its ring ---------------------------- */

enum torn {
	TORN_UNPUBLISHED, /* header + part of a transaction, sq_tail not moved */
	TORN_WHOLE_UNPUBLISHED, /* a whole FIRST|LAST record, sq_tail not moved */
	TORN_FIRST_ONLY,  /* a FIRST chunk with a whole put, consumed; no LAST */
	TORN_FIRST_MIDDLE, /* FIRST and a middle chunk, consumed; no LAST */
	TORN_COUNT
};

static const char *const torn_name[TORN_COUNT] = {
	"unpublished", "whole-unpublished", "first-only", "first-middle",
};

struct torn_args {
	enum torn which;
	shmdb_table t;
	int to_parent, from_parent;
};

static void torn_child(void *arg)
{
	const struct torn_args *a = arg;
	shmdb *db = child_open();
	uint8_t buf[256];
	size_t n = shm_op_size(5, 4);
	memset(buf, 0, sizeof(buf));
	shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "torn1", 5, "boo1", 4);
	shm_op_encode(buf + n, SHM_OP_PUT, a->t, 0, "torn2", 5, "boo2", 4);

	switch (a->which) {
	case TORN_UNPUBLISHED: {
		/* The header of a two-put record and the first put only. */
		struct shm_sqe_hdr h = { .len = (uint32_t)(8 + 2 * n), .kind = SHM_SQE_CHUNK,
					 .flags = SHM_SQE_FIRST | SHM_SQE_LAST };
		memcpy(sq_of(db), &h, sizeof(h));
		memcpy(sq_of(db) + sizeof(h), buf, n);
		break;
	}
	case TORN_WHOLE_UNPUBLISHED:
		raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, 2 * n);
		break;
	case TORN_FIRST_ONLY:
		raw_chunk(db, SHM_SQE_FIRST, buf, n);
		raw_publish(db);
		CHILD_REQUIRE(raw_consumed(db), 160);
		break;
	case TORN_FIRST_MIDDLE:
		raw_chunk(db, SHM_SQE_FIRST, buf, n);
		raw_chunk(db, 0, buf + n, n);
		raw_publish(db);
		CHILD_REQUIRE(raw_consumed(db), 161);
		break;
	case TORN_COUNT:
		break;
	}
	/* The parent looks while this session still lives, then says die. */
	CHILD_REQUIRE(write_full(a->to_parent, "w", 1) == 0, 162);
	char b;
	CHILD_REQUIRE(read_full(a->from_parent, &b, 1, 30000) == 0, 163);
	raise(SIGKILL);
	_exit(164);
}

START_TEST(killed_while_writing_leaves_nothing)
{
	start_daemon("16M");
	shmdb *db = parent_open();
	shmdb_table t = parent_table(db, "torn");
	shmdb_table other = parent_table(db, "other");
	for (int c = 0; c < TORN_COUNT; c++) {
		int up[2], down[2];
		ck_assert_int_eq(pipe(up), 0);
		ck_assert_int_eq(pipe(down), 0);
		struct torn_args a = { .which = (enum torn)c, .t = t, .to_parent = up[1],
				       .from_parent = down[0] };
		uint64_t before = commit_ts_now(db);
		pid_t pid = spawn(torn_child, &a);
		close(up[1]);
		close(down[0]);
		char b;
		ck_assert_msg(read_full(up[0], &b, 1, 30000) == 0, "case %s: the child did not get "
			      "ready (exit %d)", torn_name[c], reap(pid, 1000));
		/* While the session lives with its torn transaction. */
		ck_assert(!visible(db, t, "torn1") && !visible(db, t, "torn2"));
		ck_assert_int_eq(write_full(down[1], "k", 1), 0);
		int code = reap(pid, 10000);
		close(up[0]);
		close(down[1]);
		ck_assert_msg(code == 128 + SIGKILL, "case %s: the child ended with %d",
			      torn_name[c], code);
		wait_sessions(db, 1);

		/* The daemon serves on, and nothing of the dead client's
		 * transaction ever shows: the only commit since is ours. */
		uint64_t ts = 0;
		ck_assert_msg(test_daemon_alive(&d), "case %s: the daemon died", torn_name[c]);
		ck_assert_uint_eq(commit_ts_now(db), before);
		ck_assert_int_eq(commit_put(db, other, torn_name[c], "x", 1, &ts), 0);
		ck_assert_uint_eq(ts, before + 1);
		ck_assert_msg(!visible(db, t, "torn1") && !visible(db, t, "torn2"),
			      "case %s: the dead client's transaction was applied", torn_name[c]);
		assert_served(torn_name[c]);
	}
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("concurrency");
	TCase *tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, visibility_across_processes);
	tcase_add_test(tc, money_transfer_invariant);
	tcase_add_test(tc, views_stable_across_processes);
	tcase_add_test(tc, killed_reader_releases_memory);
	tcase_add_test(tc, killed_writers_leave_whole_transactions);
	tcase_add_test(tc, hostile_rings);
	tcase_add_test(tc, flooding_session_does_not_starve_others);
	tcase_add_test(tc, killed_while_writing_leaves_nothing);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
