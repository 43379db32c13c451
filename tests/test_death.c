/*
 * test_death.c - client processes killed with SIGKILL while they use one
 * real shmdbd, each with its own handle:
 *
 *   - a reader killed while it holds a snapshot stops holding memory back:
 *     while alive it keeps only the versions it sees, named as theirs in
 *     the figures; once killed, the horizon passes its snapshot and the
 *     versions it kept are freed;
 *   - writers killed at random moments, with synchronous commits and with
 *     asynchronous ones still in their ring, leave only whole transactions
 *     (also those that span two ring chunks), seen so by a process reading
 *     all along;
 *   - a client killed in the middle of writing into its ring (a record
 *     unpublished, a transaction whose last chunk never comes) leaves
 *     nothing applied, and the daemon serves on.
 *
 * Rules: every child opens its own handle after fork() and reports through
 * its exit status (CHILD_REQUIRE names the failed condition on stderr) or a
 * pipe; no check depends on timing; every wait is bounded (harness.h).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"
#include "shmdb.h"
#include "txn.h"

static struct test_daemon d;

/* ---- a reader killed while it holds a snapshot -------------------------------- */

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
	shmdb *db = test_child_open(&d);
	shmdb_rtxn *r;
	shmdb_val v;
	CHILD_REQUIRE(shmdb_read_begin(db, &r) == 0, 60);
	CHILD_REQUIRE(shmdb_get(r, a->t, "hold000", 7, &v) == 0 && v.len == HOLD_VLEN, 61);
	uint64_t snap = shmdb_read_ts(r);
	CHILD_REQUIRE(test_write_full(a->to_parent, &snap, sizeof(snap), 30000) == 0, 62);
	/* Hold the snapshot until killed; never longer than two minutes. */
	char b;
	CHILD_REQUIRE(test_read_full(a->from_parent, &b, 1, 120000) == 0, 63);
	_exit(64); /* told to go: the parent meant to kill us */
}

START_TEST(killed_reader_releases_memory)
{
	/* 50,000 overwrites of 1 KiB (1,280-byte blocks), 64 MiB: the arena
	 * holds them only if the versions the reader never sees are freed. */
	test_start_daemon(&d, "32M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "hold");
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
	/* Let the writer publish its figures (it does before it sleeps); a
	 * figure still short only makes the checks below stricter. */
	test_sleep_us(100000);
	shmdb_stats base;
	ck_assert_int_eq(shmdb_stats_get(db, &base), 0);

	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	struct hold_args a = { .t = t, .to_parent = up[1], .from_parent = down[0] };
	pid_t reader = test_spawn(holding_reader, &a);
	close(up[1]);
	close(down[0]);
	uint64_t snap = 0;
	ck_assert_msg(test_read_full(up[0], &snap, sizeof(snap), 30000) == 0,
		      "the reader failed (exit %d)", test_reap(reader, 1000));
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

	/* The reader keeps what it sees and nothing more (reclamation is exact,
	 * daemon/reclaim.h): once the daemon has judged what was retired, the
	 * 100 versions of its snapshot are kept for it alone, 1,280-byte blocks
	 * each, while the 50,000 it never saw are freed; the horizon stays at
	 * or below its snapshot, and the figures name it as the holder. */
	const uint64_t seen = (uint64_t)HOLD_KEYS * shm_version_size(7, HOLD_VLEN);
	shmdb_stats st;
	uint64_t end = test_now_ms() + 10000;
	for (;;) {
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
		ck_assert_msg(st.oldest_snapshot <= snap,
			      "oldest_snapshot %" PRIu64 " passed the live reader's %" PRIu64,
			      st.oldest_snapshot, snap);
		if ((st.mem_retired == st.mem_pinned && st.oldest_only_bytes >= seen) ||
		    test_now_ms() >= end)
			break;
		test_sleep_us(5000);
	}
	ck_assert_uint_gt(st.commit_ts, snap);
	ck_assert_msg(st.oldest_only_bytes >= seen && st.mem_pinned >= seen,
		      "%" PRIu64 " bytes kept for the reader alone (%" PRIu64 " in all), not the %" PRIu64
		      " it sees", st.oldest_only_bytes, st.mem_pinned, seen);
	ck_assert_msg(st.mem_used <= base.mem_used + (uint64_t)HOLD_KEYS * 1280 + (1u << 20),
		      "mem_used %" PRIu64 ": more than the reader's versions and 1 MiB over %" PRIu64,
		      st.mem_used, base.mem_used);
	ck_assert_uint_eq(st.oldest_pid, (uint32_t)reader);
	ck_assert_uint_ge(st.snapshots, 1);
	/* The reader is still there holding it. */
	ck_assert(test_running(reader));

	ck_assert_int_eq(kill(reader, SIGKILL), 0);
	ck_assert_int_eq(test_reap(reader, 10000), 128 + SIGKILL);

	/* Within 10 s the horizon passes the dead reader's snapshot and the
	 * held versions are freed: back within 1 MiB of the figure before the
	 * loop (the 100 live versions take what the replaced ones took), and
	 * under 2 MiB in all (100 live versions of 1 KiB and an index). */
	const uint64_t bound = base.mem_used + (1u << 20), ceiling = 2u << 20;
	end = test_now_ms() + 10000;
	for (;;) {
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
		if ((st.oldest_snapshot > snap && st.mem_used <= bound && st.mem_used < ceiling) ||
		    test_now_ms() >= end)
			break;
		test_sleep_us(5000);
	}
	ck_assert_msg(st.oldest_snapshot > snap,
		      "oldest_snapshot %" PRIu64 " still at or below the dead reader's %" PRIu64,
		      st.oldest_snapshot, snap);
	ck_assert_msg(st.mem_used <= bound, "mem_used %" PRIu64 " above %" PRIu64, st.mem_used,
		      bound);
	ck_assert_msg(st.mem_used < ceiling, "mem_used %" PRIu64 " not under 2 MiB", st.mem_used);

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

/* ---- writers killed in the middle of commits ------------------------------------ */

enum { KILL_ROUNDS = 20, ASYNC_WINDOW = 64 };

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
	unsigned seed;    /* the parent's, for the writer's choices */
	int ready_w;      /* the child says its handle is open */
	int stop_r;       /* the checker's stop pipe */
	int stop_w;
};

/*
 * Every transaction puts one counter value into c0, c1 and c2; every third
 * also fills "pad" with it and spans two ring chunks. Half of them, at
 * random, are committed asynchronously and collected only when
 * ASYNC_WINDOW are in flight, so that a kill finds whole transactions
 * published in the ring but not yet applied, as well as one half written.
 */
static void doomed_writer(void *arg)
{
	const struct kill_args *a = arg;
	close(a->stop_r);
	close(a->stop_w);
	shmdb *db = test_child_open(&d);
	size_t plen = pad_vlen();
	uint64_t *pad = malloc(plen), tickets[ASYNC_WINDOW];
	unsigned seed = a->seed ^ (unsigned)a->base, oldest = 0, inflight = 0;
	CHILD_REQUIRE(pad != NULL, 70);
	CHILD_REQUIRE(test_write_full(a->ready_w, "r", 1, 10000) == 0, 71);
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
		if (rand_r(&seed) % 2) {
			CHILD_REQUIRE(shmdb_commit(w, NULL) == 0, 74);
			continue;
		}
		if (inflight == ASYNC_WINDOW) {
			CHILD_REQUIRE(shmdb_wait(db, tickets[oldest], NULL) == 0, 75);
			oldest = (oldest + 1) % ASYNC_WINDOW;
			inflight--;
		}
		CHILD_REQUIRE(shmdb_commit_async(w, &tickets[(oldest + inflight) % ASYNC_WINDOW]) == 0,
			      76);
		inflight++;
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

/* Reads the counters until told to stop (bounded by the parent's
 * timeout), while writers come and die. */
static void counter_checker(void *arg)
{
	const struct kill_args *a = arg;
	close(a->stop_w);
	shmdb *db = test_child_open(&d);
	uint64_t last = 0;
	for (long n = 0; !test_told_to_stop(a->stop_r); n++) {
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
			test_sleep_us(200);
	}
	shmdb_close(db);
}

START_TEST(killed_writers_leave_whole_transactions)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "counters");
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

	unsigned seed = (unsigned)getpid() ^ (unsigned)test_now_ms();
	int stop[2];
	ck_assert_int_eq(pipe(stop), 0);
	struct kill_args ca = { .t = t, .seed = seed, .ready_w = -1, .stop_r = stop[0],
				.stop_w = stop[1] };
	pid_t checker = test_spawn(counter_checker, &ca);

	uint64_t last = 0;
	for (int round = 1; round <= KILL_ROUNDS; round++) {
		struct kill_args ka = ca;
		int ready[2];
		char b;
		ck_assert_int_eq(pipe(ready), 0);
		ka.base = (uint64_t)round * 10000000u;
		ka.ready_w = ready[1];
		pid_t victim = test_spawn(doomed_writer, &ka);
		close(ready[1]);
		ck_assert_msg(test_read_full(ready[0], &b, 1, 30000) == 0,
			      "round %d: the writer failed before its loop (exit %d)", round,
			      test_reap(victim, 1000));
		close(ready[0]);
		/* A random moment of its commit loop. */
		test_sleep_us(rand_r(&seed) % 25000);
		ck_assert_int_eq(kill(victim, SIGKILL), 0);
		int code = test_reap(victim, 10000);
		ck_assert_msg(code == 128 + SIGKILL, "round %d (seed %u): the writer ended with %d",
			      round, ca.seed, code);
		ck_assert_msg(test_daemon_alive(&d), "round %d (seed %u): the daemon died", round,
			      ca.seed);

		shmdb_rtxn *r;
		uint64_t c = 0;
		ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
		int bad = counters_consistent(r, t, &c);
		shmdb_read_end(r);
		ck_assert_msg(bad == 0, "round %d (seed %u): the counters break rule %d", round,
			      ca.seed, bad);
		ck_assert_uint_ge(c, last);
		last = c;
	}
	ck_assert_int_eq(test_write_full(stop[1], "s", 1, 10000), 0);
	int code = test_reap(checker, 30000);
	ck_assert_msg(code == 0, "the checker ended with %d (seed %u)", code, ca.seed);
	ck_assert_msg(last > 0, "no killed writer committed anything (seed %u)", ca.seed);
	/* Every killed session is gone: only this handle remains. */
	test_wait_sessions(db, 1, 10000);

	/* A new client commits a whole transaction over the counters and
	 * reads it back. */
	test_assert_served(&d, "after-killed-writers");
	shmdb *fresh = test_open(&d);
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

/* ---- a client killed while writing into its ring -------------------------------- */

enum torn {
	TORN_UNPUBLISHED,       /* header + part of a transaction, sq_tail not moved */
	TORN_WHOLE_UNPUBLISHED, /* a whole FIRST|LAST record, sq_tail not moved */
	TORN_FIRST_ONLY,        /* a FIRST chunk with a whole put, consumed; no LAST */
	TORN_FIRST_MIDDLE,      /* FIRST and a middle chunk, consumed; no LAST */
	TORN_LAST_UNPUBLISHED,  /* FIRST consumed; the LAST written, not published */
	TORN_COUNT
};

static const char *const torn_name[TORN_COUNT] = {
	"unpublished", "whole-unpublished", "first-only", "first-middle", "last-unpublished",
};

struct torn_args {
	enum torn which;
	shmdb_table t;
	int to_parent, from_parent;
};

static void torn_child(void *arg)
{
	const struct torn_args *a = arg;
	shmdb *db = test_child_open(&d);
	uint8_t buf[256];
	size_t n = shm_op_size(5, 4);
	memset(buf, 0, sizeof(buf));
	shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "torn1", 5, "boo1", 4);
	shm_op_encode(buf + n, SHM_OP_PUT, a->t, 0, "torn2", 5, "boo2", 4);

	switch (a->which) {
	case TORN_UNPUBLISHED:
		/* The header of a two-put record and the first put only. */
		test_raw_record(db, (uint32_t)(8 + 2 * n), SHM_SQE_CHUNK,
				SHM_SQE_FIRST | SHM_SQE_LAST, buf, n, 0);
		break;
	case TORN_WHOLE_UNPUBLISHED:
		test_raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, 2 * n);
		break;
	case TORN_FIRST_ONLY:
		test_raw_chunk(db, SHM_SQE_FIRST, buf, n);
		test_raw_publish(db);
		CHILD_REQUIRE(test_raw_consumed(db, 10000), 160);
		break;
	case TORN_FIRST_MIDDLE:
		test_raw_chunk(db, SHM_SQE_FIRST, buf, n);
		test_raw_chunk(db, 0, buf + n, n);
		test_raw_publish(db);
		CHILD_REQUIRE(test_raw_consumed(db, 10000), 161);
		break;
	case TORN_LAST_UNPUBLISHED:
		/* Had the tail moved, this would complete the transaction. */
		test_raw_chunk(db, SHM_SQE_FIRST, buf, n);
		test_raw_publish(db);
		CHILD_REQUIRE(test_raw_consumed(db, 10000), 165);
		test_raw_chunk(db, SHM_SQE_LAST, buf + n, n);
		break;
	case TORN_COUNT:
		break;
	}
	/* The parent looks while this session still lives, then says die. */
	CHILD_REQUIRE(test_write_full(a->to_parent, "w", 1, 10000) == 0, 162);
	char b;
	CHILD_REQUIRE(test_read_full(a->from_parent, &b, 1, 30000) == 0, 163);
	raise(SIGKILL);
	_exit(164);
}

START_TEST(killed_while_writing_leaves_nothing)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "torn");
	shmdb_table other = test_table(db, "other");
	for (int c = 0; c < TORN_COUNT; c++) {
		int up[2], down[2];
		ck_assert_int_eq(pipe(up), 0);
		ck_assert_int_eq(pipe(down), 0);
		struct torn_args a = { .which = (enum torn)c, .t = t, .to_parent = up[1],
				       .from_parent = down[0] };
		uint64_t before = test_commit_ts(db);
		pid_t pid = test_spawn(torn_child, &a);
		close(up[1]);
		close(down[0]);
		char b;
		ck_assert_msg(test_read_full(up[0], &b, 1, 30000) == 0, "case %s: the child did not "
			      "get ready (exit %d)", torn_name[c], test_reap(pid, 1000));
		/* While the session lives with its torn transaction. */
		ck_assert(!test_visible(db, t, "torn1") && !test_visible(db, t, "torn2"));
		ck_assert_int_eq(test_write_full(down[1], "k", 1, 10000), 0);
		int code = test_reap(pid, 10000);
		close(up[0]);
		close(down[1]);
		ck_assert_msg(code == 128 + SIGKILL, "case %s: the child ended with %d",
			      torn_name[c], code);
		test_wait_sessions(db, 1, 10000);

		/* The daemon serves on, and nothing of the dead client's
		 * transaction ever shows: the only commit since is ours. */
		uint64_t ts = 0;
		ck_assert_msg(test_daemon_alive(&d), "case %s: the daemon died", torn_name[c]);
		ck_assert_uint_eq(test_commit_ts(db), before);
		ck_assert_int_eq(test_commit_put(db, other, torn_name[c], "x", 1, &ts), 0);
		ck_assert_uint_eq(ts, before + 1);
		ck_assert_msg(!test_visible(db, t, "torn1") && !test_visible(db, t, "torn2"),
			      "case %s: the dead client's transaction was applied", torn_name[c]);
		test_assert_served(&d, torn_name[c]);
	}
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("death");
	TCase *tc = tcase_create("death");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, killed_reader_releases_memory);
	tcase_add_test(tc, killed_writers_leave_whole_transactions);
	tcase_add_test(tc, killed_while_writing_leaves_nothing);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
