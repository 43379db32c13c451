/*
 * test_invariants.c - an invariant under concurrent writers: checked money
 * transfers from four client processes, each with its own handle on one
 * real shmdbd, never create or destroy money in any snapshot two reader
 * processes take (summed by single gets, by one batch of gets and by a
 * cursor, in turn); snapshots never go back in time; every committed
 * transfer has a commit of its own; and the final balances are what the
 * committed transfers say.
 *
 * Rules: every child opens its own handle after fork() and reports through
 * its exit status (CHILD_REQUIRE names the failed condition on stderr) or a
 * file; no check depends on timing; every wait is bounded (harness.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "shmdb.h"

static struct test_daemon d;

enum { ACCOUNTS = 100, MONEY_WRITERS = 4, MONEY_READERS = 2, TRANSFERS = 2000,
       MIN_SNAPSHOTS = 5000 };
#define START_BALANCE 1000
#define TOTAL_MONEY ((int64_t)ACCOUNTS * START_BALANCE)

/* A committed transfer, as its writer records it. */
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

/* Writer i's record of its transfers, in the daemon's temporary directory
 * (removed with it): a file, not a pipe, so that 2,000 records never fill
 * a buffer nobody reads yet. */
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
	shmdb *db = test_child_open(&d);
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
	shmdb *db = test_child_open(&d);
	uint64_t last_ts = 0;

	/* Until the writers are done, and at least MIN_SNAPSHOTS: the
	 * parent's stop comes only after the last writer has ended. */
	for (long n = 0;; n++) {
		if (n >= MIN_SNAPSHOTS && n % 64 == 0 && test_told_to_stop(a->stop_r))
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
	test_start_daemon(&d, "32M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "accounts");

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
		readers[i] = test_spawn(money_reader, &ra[i]);
	}
	for (int i = 0; i < MONEY_WRITERS; i++) {
		wa[i] = (struct money_args){ .t = t, .index = i, .stop_r = stop[0], .stop_w = stop[1] };
		writers[i] = test_spawn(money_writer, &wa[i]);
	}
	int wcode[MONEY_WRITERS], rcode[MONEY_READERS];
	for (int i = 0; i < MONEY_WRITERS; i++)
		wcode[i] = test_reap(writers[i], 200000);
	close(stop[1]); /* the readers stop once they have their minimum */
	for (int i = 0; i < MONEY_READERS; i++)
		rcode[i] = test_reap(readers[i], 60000);
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
		while (n < TRANSFERS && fread(&x, sizeof(x), 1, f) == 1) {
			ck_assert(x.from >= 0 && x.from < ACCOUNTS && x.to >= 0 && x.to < ACCOUNTS);
			ck_assert(x.from != x.to && x.amount >= 1 && x.amount <= 100);
			expect[x.from] -= x.amount;
			expect[x.to] += x.amount;
			stamps[nstamps++] = x.commit_ts;
			n++;
		}
		ck_assert_msg(n == TRANSFERS && fread(&x, sizeof(x), 1, f) == 0,
			      "writer %d recorded %s transfers than %d", i,
			      n < TRANSFERS ? "fewer" : "more", TRANSFERS);
		fclose(f);
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

int main(void)
{
	Suite *s = suite_create("invariants");
	TCase *tc = tcase_create("invariants");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, money_transfer_invariant);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
