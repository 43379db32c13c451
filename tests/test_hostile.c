/*
 * test_hostile.c - hostile clients of one real shmdbd, each a process with
 * its own handle, and the clients around them:
 *
 *   - malformed transactions (unknown op codes, ops cut short, tables that
 *     do not exist, bad reserves) fail with an error completion, apply
 *     nothing, and leave their session working;
 *   - broken rings (record lengths, submission tails, chunk order, record
 *     kinds and flags, the completion head) end that session alone, for the
 *     reason the daemon logs, and its handle reports the loss;
 *   - sessions scribbling over their own rings at random (records framed
 *     well and not, tails and completion heads anywhere, bytes changed
 *     under the writer after they were published, and now and then any
 *     byte of their session segment or of the doorbell page) cost only
 *     themselves;
 *   - a client that overwrites the shared doorbell page's head locks no
 *     later client out;
 *   - a session flooding its ring does not starve another one.
 *
 * The hostile bytes are written past libshmdb into the client's own
 * session (harness.h's raw ring calls); that is all a client can write.
 *
 * Rules: every child opens its own handle after fork() and reports through
 * its exit status (CHILD_REQUIRE names the failed condition on stderr) or a
 * pipe; no check depends on timing; every wait is bounded (harness.h).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h"
#include "shmdb.h"
#include "txn.h"

static struct test_daemon d;

/* ---- hostile bytes in a session's own ring ------------------------------------ */

enum hostile {
	/* the transaction fails, the session lives on */
	H_BAD_OPCODE,      /* (a) unknown op code, record framing fine */
	H_CUT_SHORT,       /* (b) an op whose key or value runs past the end */
	H_NO_TABLE,        /* (c) unknown table id */
	/* the session is dropped */
	H_LEN_ODD,         /* (d) record len odd */
	H_LEN_UNALIGNED,   /* (d) record len even, not a multiple of 8 */
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
	[H_LEN_UNALIGNED] = { "len-unaligned", "malformed submission record" },
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
	int dropped_w; /* the child says its session was dropped */
};

/* The session must still work: a normal commit, and nothing of the
 * refused transactions (keys starting "ghost") applied. */
static void still_usable(shmdb *db, shmdb_table t)
{
	uint64_t ts = 0;
	CHILD_REQUIRE(test_commit_put(db, t, "after", "ok", 2, &ts) == 0, 120);
	CHILD_REQUIRE(ts > 0 && test_visible(db, t, "after"), 121);
	CHILD_REQUIRE(!test_visible(db, t, "ghost1") && !test_visible(db, t, "ghost2"), 122);
}

static void hostile_child(void *arg)
{
	const struct hostile_args *a = arg;
	shmdb *db = test_child_open(&d);
	uint8_t buf[512];
	size_t n1 = shm_op_size(6, 1), n2;
	uint64_t ts = 1;
	memset(buf, 0, sizeof(buf));

	switch (a->which) {
	case H_BAD_OPCODE:
		/* One op with code 0x77. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		buf[0] = 0x77;
		CHILD_REQUIRE(test_raw_txn(db, buf, n1, &ts) == SHMDB_EBADTXN && ts == 0, 110);
		/* A good put, then an op of code 0: none applied. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		shm_op_encode(buf + n1, SHM_OP_PUT, a->t, 0, "ghost2", 6, "y", 1);
		buf[n1] = 0;
		CHILD_REQUIRE(test_raw_txn(db, buf, 2 * n1, &ts) == SHMDB_EBADTXN && ts == 0, 111);
		/* A reserved byte that is not zero. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		buf[1] = 1;
		CHILD_REQUIRE(test_raw_txn(db, buf, n1, &ts) == SHMDB_EBADTXN, 112);
		/* Reserves with a key, for table 0, over the limit. */
		shm_op_encode(buf, SHM_OP_RESERVE, a->t, 10, "k", 1, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(1, 0), &ts) == SHMDB_EBADTXN, 164);
		shm_op_encode(buf, SHM_OP_RESERVE, 0, 10, "", 0, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(0, 0), &ts) == SHMDB_EBADTXN, 165);
		shm_op_encode(buf, SHM_OP_RESERVE, a->t, SHMDB_MAX_TABLE_KEYS + 1ull, "", 0, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(0, 0), &ts) == SHMDB_EBADTXN, 166);
		/* A good reserve with a put in one transaction: both apply. */
		n2 = shm_op_size(0, 0);
		shm_op_encode(buf, SHM_OP_RESERVE, a->t, 5000, "", 0, NULL, 0);
		shm_op_encode(buf + n2, SHM_OP_PUT, a->t, 0, "ghost3", 6, "z", 1);
		CHILD_REQUIRE(test_raw_txn(db, buf, n2 + n1, &ts) == 0 && ts > 0, 167);
		CHILD_REQUIRE(test_visible(db, a->t, "ghost3"), 168);
		/* Clears with a key, a value, a count, for table 0, for no
		 * table, and a good put before them: nothing applied. */
		shm_op_encode(buf, SHM_OP_CLEAR, a->t, 0, "k", 1, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(1, 0), &ts) == SHMDB_EBADTXN, 169);
		shm_op_encode(buf, SHM_OP_CLEAR, a->t, 0, NULL, 0, "v", 1);
		CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(0, 1), &ts) == SHMDB_EBADTXN, 170);
		shm_op_encode(buf, SHM_OP_CLEAR, a->t, 7, NULL, 0, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, n2, &ts) == SHMDB_EBADTXN, 171);
		shm_op_encode(buf, SHM_OP_CLEAR, 0, 0, NULL, 0, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, n2, &ts) == SHMDB_EBADTXN, 172);
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost4", 6, "z", 1);
		shm_op_encode(buf + n1, SHM_OP_CLEAR, 0x00ab0123, 0, NULL, 0, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, n1 + n2, &ts) == -ENOENT, 173);
		CHILD_REQUIRE(!test_visible(db, a->t, "ghost4") && test_visible(db, a->t, "ghost3"),
			      174);
		still_usable(db, a->t);
		break;

	case H_CUT_SHORT: {
		/* klen says 100, the chunk ends 8 bytes after the op header. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		uint16_t klen = 100;
		memcpy(buf + 2, &klen, 2);
		CHILD_REQUIRE(test_raw_txn(db, buf, sizeof(struct shm_op_hdr) + 8, &ts) ==
				      SHMDB_EBADTXN && ts == 0, 113);
		/* A good put, then one whose vlen (4096) runs past the end. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		shm_op_encode(buf + n1, SHM_OP_PUT, a->t, 0, "ghost2", 6, "y", 1);
		uint32_t vlen = 4096;
		memcpy(buf + n1 + 4, &vlen, 4);
		CHILD_REQUIRE(test_raw_txn(db, buf, 2 * n1, &ts) == SHMDB_EBADTXN, 114);
		/* Less than an op header. */
		CHILD_REQUIRE(test_raw_txn(db, buf, 16, &ts) == SHMDB_EBADTXN, 115);
		still_usable(db, a->t);
		break;
	}

	case H_NO_TABLE: {
		const uint32_t nosuch = 0x00ab0123; /* slot 0x123, never created */
		shm_op_encode(buf, SHM_OP_PUT, nosuch, 0, "ghost1", 6, "x", 1);
		CHILD_REQUIRE(test_raw_txn(db, buf, n1, &ts) == -ENOENT && ts == 0, 116);
		/* A good put, then a put to no table: none applied. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		shm_op_encode(buf + n1, SHM_OP_PUT, nosuch, 0, "ghost2", 6, "y", 1);
		CHILD_REQUIRE(test_raw_txn(db, buf, 2 * n1, &ts) == -ENOENT, 117);
		/* A check on no table. */
		n2 = shm_op_size(6, 0);
		shm_op_encode(buf, SHM_OP_CHECK, nosuch, 1, "ghost1", 6, NULL, 0);
		CHILD_REQUIRE(test_raw_txn(db, buf, n2, &ts) == -ENOENT, 118);
		/* Table id 0. */
		shm_op_encode(buf, SHM_OP_PUT, 0, 0, "ghost1", 6, "x", 1);
		CHILD_REQUIRE(test_raw_txn(db, buf, n1, &ts) == -ENOENT, 119);
		still_usable(db, a->t);
		break;
	}

	case H_LEN_ODD:        /* a length 3 short of the record */
	case H_LEN_UNALIGNED:  /* 4 short: a multiple of 4, not of 8 */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_record(db, (uint32_t)(8 + n1 - (a->which == H_LEN_ODD ? 3 : 4)),
				SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1, 8 + n1);
		test_raw_publish(db);
		break;
	case H_LEN_HUGE:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_record(db, 2 * SHM_SQ_SIZE, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, buf,
				n1, 8 + n1);
		test_raw_publish(db);
		break;
	case H_LEN_ZERO:
		test_raw_record(db, 0, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, NULL, 0, 8);
		test_raw_publish(db);
		break;
	case H_LEN_PAST_TAIL:
		/* The record says 8 + n1 bytes; only its first 16 are published. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_record(db, (uint32_t)(8 + n1), SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST,
				buf, n1, 16);
		test_raw_publish(db);
		break;
	case H_TAIL_FAR:
		/* 8 bytes past the most a tail may be ahead: the nearest refused. */
		test_raw_publish_at(db, test_raw_head(db) + SHM_SQ_SIZE + 8);
		break;
	case H_TAIL_ODD:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1);
		test_raw_publish_at(db, test_raw_tail(db) - 4);
		break;
	case H_TAIL_BACK:
		/* A good transaction moves the head, then the tail goes back. */
		CHILD_REQUIRE(test_commit_put(db, a->t, "before", "ok", 2, NULL) == 0, 123);
		CHILD_REQUIRE(test_raw_consumed(db, 10000), 124);
		test_raw_publish_at(db, test_raw_tail(db) - 8);
		break;
	case H_MIDDLE_FIRST:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_chunk(db, 0, buf, n1);
		test_raw_publish(db);
		break;
	case H_LAST_FIRST:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_chunk(db, SHM_SQE_LAST, buf, n1);
		test_raw_publish(db);
		break;
	case H_FIRST_TWICE:
		/* The first FIRST holds a whole put: it must not be applied. */
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_chunk(db, SHM_SQE_FIRST, buf, n1);
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost2", 6, "y", 1);
		test_raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1);
		test_raw_publish(db);
		break;
	case H_BAD_KIND:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_record(db, (uint32_t)(8 + n1), 7, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1,
				8 + n1);
		test_raw_publish(db);
		break;
	case H_BAD_FLAGS:
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_record(db, (uint32_t)(8 + n1), SHM_SQE_CHUNK,
				SHM_SQE_FIRST | SHM_SQE_LAST | 0x10, buf, n1, 8 + n1);
		test_raw_publish(db);
		break;
	case H_CQ_HEAD:
		test_raw_set_cq_head(db, 5000u);
		shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "ghost1", 6, "x", 1);
		test_raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, n1);
		test_raw_publish(db);
		break;
	case H_COUNT:
		break;
	}
	if (hostile_case[a->which].reason) {
		CHILD_REQUIRE(test_session_dropped(db, 10000), 130);
		CHILD_REQUIRE(test_write_full(a->dropped_w, "d", 1, 10000) == 0, 132);
		/* The handle reports the loss instead of hanging. libshmdb
		 * notices it between waits of its own (about a second), so
		 * the parent goes on meanwhile and reaps this child later. */
		CHILD_REQUIRE(test_commit_put(db, a->t, "ghost2", "z", 1, NULL) != 0, 131);
	}
	_exit(0); /* no shmdb_close: the session may be gone */
}

/*
 * Run case c in a child, against table t, with a bystander handle db that
 * was open all along on table bt, and check what every case shares: the
 * child succeeded, nothing of a refused transaction is visible, a dropped
 * session went for its own reason having committed only what the case did
 * openly, and the daemon serves db and a new client. Returns the pid of a
 * dropped session's child, still checking that its handle reports the
 * loss (the caller reaps it), or 0.
 */
static pid_t run_case(shmdb *db, shmdb_table t, shmdb_table bt, int c)
{
	const char *name = hostile_case[c].name;
	int dropped[2];
	ck_assert_int_eq(pipe(dropped), 0);
	struct hostile_args a = { .which = (enum hostile)c, .t = t, .dropped_w = dropped[1] };
	uint64_t before = test_commit_ts(db);
	pid_t pid = test_spawn(hostile_child, &a), lingering = 0;
	close(dropped[1]);
	if (hostile_case[c].reason) {
		char b;
		ck_assert_msg(test_read_full(dropped[0], &b, 1, 60000) == 0,
			      "case %s: the hostile child ended with %d before its session was dropped",
			      name, test_reap(pid, 1000));
		lingering = pid;
	} else {
		int code = test_reap(pid, 60000);
		ck_assert_msg(code == 0, "case %s: the hostile child ended with %d", name, code);
	}
	close(dropped[0]);

	/* Nothing of the refused transactions is visible. */
	ck_assert_msg(!test_visible(db, t, "ghost1") && !test_visible(db, t, "ghost2"),
		      "case %s: a refused transaction was applied", name);
	if (hostile_case[c].reason) {
		/* The session was dropped for its own reason, and committed
		 * nothing but what the case did openly. */
		static char log[1 << 16];
		char want[160];
		test_daemon_log(&d, log, sizeof(log));
		snprintf(want, sizeof(want), "(pid %d) ended: %s", (int)pid, hostile_case[c].reason);
		ck_assert_msg(strstr(log, want) != NULL, "case %s: no \"%s\" in the log:\n%s", name,
			      want, log);
		ck_assert_uint_le(test_commit_ts(db), before + (c == H_TAIL_BACK));
	}
	test_wait_sessions(db, 1, 10000);
	ck_assert_msg(test_daemon_alive(&d), "case %s: the daemon died", name);
	test_assert_handle_served(db, bt, name);
	test_assert_served(&d, name);
	return lingering;
}

START_TEST(malformed_transactions_fail_alone)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "hostile");
	shmdb_table bt = test_table(db, "bystanders");
	test_assert_handle_served(db, bt, "start");
	for (int c = H_BAD_OPCODE; c <= H_NO_TABLE; c++)
		ck_assert_int_eq(run_case(db, t, bt, c), 0);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(broken_rings_drop_only_their_session)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "hostile");
	shmdb_table bt = test_table(db, "bystanders");
	pid_t lingering[H_COUNT] = { 0 };
	test_assert_handle_served(db, bt, "start");
	for (int c = H_LEN_ODD; c < H_COUNT; c++) {
		lingering[c] = run_case(db, t, bt, c);
		ck_assert_int_ne(lingering[c], 0);
	}
	/* Each dropped handle reported its loss. */
	for (int c = H_LEN_ODD; c < H_COUNT; c++) {
		int code = test_reap(lingering[c], 30000);
		ck_assert_msg(code == 0, "case %s: after the drop the child ended with %d",
			      hostile_case[c].name, code);
	}
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- sessions scribbling over their rings at random ------------------------------ */

enum { SCRIBBLERS = 3, SCRIBBLER_LIVES = 20, SCRIBBLES = 4000 };

struct scribble_args {
	shmdb_table t;
	uint64_t seed;
};

/* Records framed well and not, with transactions valid and not, tails
 * published right, far and back, bytes changed under the writer after
 * they were published, completion heads at random; a session the daemon
 * drops is opened again, SCRIBBLER_LIVES times. */
static void scribbler(void *arg)
{
	const struct scribble_args *a = arg;
	uint64_t r = a->seed;
#define R() test_xorshift(&r)
	uint8_t buf[1024];
	for (int life = 0; life < SCRIBBLER_LIVES; life++) {
		shmdb *db = test_child_open(&d);
		for (int i = 0; i < SCRIBBLES && !test_session_dropped(db, 0); i++) {
			size_t plen = 8 * (R() % 24);
			uint64_t pos = test_raw_tail(db) & (SHM_SQ_SIZE - 1);
			int fits = pos + sizeof(struct shm_sqe_hdr) + plen <= SHM_SQ_SIZE;
			for (size_t b = 0; b < sizeof(buf); b++)
				buf[b] = (uint8_t)R();
			if (R() % 2) /* a put, a valid one until the bytes change */
				shm_op_encode(buf, SHM_OP_PUT, a->t, 0, "scribble", 8, "v", 1);
			unsigned what = (unsigned)(R() % 100);
			if (what < 50) {
				if (fits)
					test_raw_chunk(db, (uint16_t)(R() % 4), buf, plen);
			} else if (what < 75) {
				test_raw_publish(db);
			} else if (what < 88) { /* under the writer: near the head it reads */
				uint64_t at = test_raw_head(db) + R() % 512;
				test_raw_scribble(db, at, buf, 1 + R() % 64);
			} else if (what < 94) {
				uint32_t len = (uint32_t)(R() >> (R() % 64));
				uint16_t kind = (uint16_t)R(), flags = (uint16_t)R();
				if (fits)
					test_raw_record(db, len, kind, flags, buf, plen, 8 * (R() % 32));
			} else if (what < 97) {
				uint64_t ahead = 8 * (R() % 16), back = 8 * (R() % 16);
				test_raw_publish_at(db, test_raw_tail(db) + ahead - back);
			} else if (what < 98) {
				test_raw_set_cq_head(db, (uint32_t)R());
			} else if (what < 99) { /* its header, reader slots, completions */
				test_raw_scribble_session(db, R(), buf, 1 + R() % 16);
			} else { /* the bells and their stamps */
				test_raw_scribble_doorbell(db, R(), buf, 1 + R() % 16);
			}
		}
		shmdb_close(db);
	}
#undef R
}

/* Sessions scribbling over their own rings cost only themselves: the
 * daemon lives, and a bystander commits and reads throughout. */
START_TEST(scribbling_sessions_cost_only_themselves)
{
	test_start_daemon(&d, "32M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "scribbled");
	shmdb_table bt = test_table(db, "bystanders");
	pid_t kids[SCRIBBLERS];
	struct scribble_args a[SCRIBBLERS];
	for (int k = 0; k < SCRIBBLERS; k++) {
		a[k] = (struct scribble_args){ .t = t,
					       .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(k + 1) };
		kids[k] = test_spawn(scribbler, &a[k]);
	}
	char tag[32];
	for (int i = 0; i < 50; i++) {
		snprintf(tag, sizeof(tag), "scribbled %d", i);
		test_assert_handle_served(db, bt, tag);
		/* The daemon's figures read the scribblers' segments too. */
		shmdb_report *rep;
		shmdb_stats st;
		ck_assert_int_eq(shmdb_report_get(db, &rep), 0);
		shmdb_report_free(rep);
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	}
	for (int k = 0; k < SCRIBBLERS; k++) {
		int code = test_reap(kids[k], 120000);
		ck_assert_msg(code == 0, "scribbler %d ended with %d", k, code);
	}
	ck_assert_msg(test_daemon_alive(&d), "the daemon died");
	test_assert_handle_served(db, bt, "after");
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* The doorbell page is every client's to write: one that overwrites its
 * head (magic and format version) locks no later client out, and the
 * bells still work. */
START_TEST(doorbell_head_overwritten_locks_no_one_out)
{
	test_start_daemon(&d, "16M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "bells");
	uint8_t junk[64];
	memset(junk, 0xa5, sizeof(junk));
	test_raw_scribble_doorbell(db, 0, junk, sizeof(junk));
	shmdb *later;
	ck_assert_int_eq(shmdb_open(d.sock, &later), 0);
	test_assert_handle_served(later, t, "later");
	test_assert_handle_served(db, t, "first");
	shmdb_close(later);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- fairness between a flooding session and a polite one -------------------- */

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

/* Floods until told to stop (bounded by the parent's timeout). */
static void flooder(void *arg)
{
	const struct flood_args *a = arg;
	close(a->stop_w);
	static struct flood f;
	f.db = test_child_open(&d);
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
			CHILD_REQUIRE(test_write_full(a->ready_w, "f", 1, 10000) == 0, 142);
		if (sent % 64 == 0 && sent > FLOOD_HEAD_START && test_told_to_stop(a->stop_r))
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
	shmdb *db = test_child_open(&d);
	uint64_t last = 0;
	for (int i = 0; i < POLITE_COMMITS; i++) {
		char k[24];
		uint64_t ts = 0;
		snprintf(k, sizeof(k), "polite%03d", i);
		CHILD_REQUIRE(test_commit_put(db, a->t, k, &i, sizeof(i), &ts) == 0, 150);
		CHILD_REQUIRE(ts > last, 151);
		last = ts;
	}
	shmdb_close(db);
}

START_TEST(flooding_session_does_not_starve_others)
{
	test_start_daemon(&d, "32M");
	shmdb *db = test_open(&d);
	shmdb_table t = test_table(db, "fair");
	int stop[2], ready[2];
	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_eq(pipe(ready), 0);
	struct flood_args a = { .t = t, .ready_w = ready[1], .stop_r = stop[0], .stop_w = stop[1] };
	pid_t flood = test_spawn(flooder, &a);
	close(ready[1]);
	char b;
	ck_assert_msg(test_read_full(ready[0], &b, 1, 60000) == 0, "the flooder failed (exit %d)",
		      test_reap(flood, 1000));

	pid_t nice = test_spawn(polite, &a);
	int code = test_reap(nice, 120000);
	/* The flood went on the whole time. */
	int flood_alive = test_running(flood);
	ck_assert_int_eq(test_write_full(stop[1], "s", 1, 10000), 0);
	int fcode = test_reap(flood, 60000);
	ck_assert_msg(code == 0, "the polite client ended with %d (-1: starved for 120 s)", code);
	ck_assert_msg(fcode == 0, "the flooder ended with %d", fcode);
	ck_assert_msg(flood_alive, "the flooder stopped before the polite client was done");
	ck_assert_msg(test_daemon_alive(&d), "the daemon died");

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

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("hostile");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, malformed_transactions_fail_alone);
	tcase_add_test(tc, broken_rings_drop_only_their_session);
	tcase_add_test(tc, scribbling_sessions_cost_only_themselves);
	tcase_add_test(tc, doorbell_head_overwritten_locks_no_one_out);
	tcase_add_test(tc, flooding_session_does_not_starve_others);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
