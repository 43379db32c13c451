/*
 * test_ring.c - the writer's side of a session's rings without a daemon:
 * records written into a heap session segment as a client (or a hostile
 * one) would, served by ring_serve with a commit function that records
 * what it was handed.
 *
 *   - a transaction in one chunk or several, with pad records, reaches the
 *     commit function whole and in order, and its completion carries the
 *     commit's status, timestamp, value and the next ticket;
 *   - the budget bounds how many transactions one call serves, and a full
 *     completion ring stops serving until the client takes completions;
 *   - a transaction larger than the limit fails with SHMDB_EBADTXN, its
 *     chunks consumed;
 *   - every protocol break (tail out of range, a malformed record, chunks
 *     out of order, a completion head out of range) is named by its own
 *     reason and commits nothing more.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "layout.h"
#include "ring.h"
#include "shmdb.h"

static struct shm_session_header *seg;
static struct ring_state rs;
static uint64_t tail; /* the client's sq_tail */

/* What the commit function was handed. */
static struct {
	unsigned calls;
	size_t len[8];
	uint8_t first[8];
	int status;
} seen;

static int commit_stub(void *ctx, const uint8_t *txn, size_t len, uint64_t *commit_ts,
		       uint64_t *value)
{
	(void)ctx;
	if (seen.calls < 8) {
		seen.len[seen.calls] = len;
		seen.first[seen.calls] = len ? txn[0] : 0;
	}
	seen.calls++;
	*commit_ts = 100 + seen.calls;
	*value = len;
	return seen.status;
}

static void setup(void)
{
	ck_assert_int_eq(posix_memalign((void **)&seg, 4096, SHM_SESSION_SIZE), 0);
	memset(seg, 0, SHM_SESSION_SIZE);
	memset(&rs, 0, sizeof(rs));
	memset(&seen, 0, sizeof(seen));
	tail = 0;
}

static void teardown(void)
{
	ring_state_free(&rs);
	free(seg);
}

static uint8_t *sq(void)
{
	return (uint8_t *)seg + SHM_SESSION_SQ_OFF;
}

static const struct shm_cqe *cqe(uint32_t i)
{
	return (const struct shm_cqe *)((uint8_t *)seg + SHM_SESSION_CQ_OFF) +
	       (i & (SHM_CQ_ENTRIES - 1));
}

/* Write a record of `len` bytes (header included) at the tail. */
static void record(uint32_t len, uint16_t kind, uint16_t flags, uint8_t fill)
{
	struct shm_sqe_hdr h = { len, kind, flags };
	uint64_t pos = tail & (SHM_SQ_SIZE - 1);
	memcpy(sq() + pos, &h, sizeof(h));
	memset(sq() + pos + sizeof(h), fill, len - sizeof(h));
	tail += len;
}

static void publish(void)
{
	__atomic_store_n(&seg->sq_tail, tail, __ATOMIC_RELEASE);
}

static unsigned serve(unsigned budget, const char **broken)
{
	unsigned n = ring_serve(&rs, seg, budget, commit_stub, NULL, broken);
	ring_flush(&rs, seg);
	return n;
}

START_TEST(whole_transactions_in_order)
{
	const char *broken;
	record(8 + 40, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 1);
	record(8 + 16, SHM_SQE_CHUNK, SHM_SQE_FIRST, 2);
	record(8 + 24, SHM_SQE_CHUNK, 0, 2);
	record(8 + 8, SHM_SQE_CHUNK, SHM_SQE_LAST, 2);
	/* Not published yet: nothing to serve. */
	ck_assert(!ring_pending(&rs, seg));
	ck_assert_uint_eq(serve(64, &broken), 0);
	publish();
	ck_assert(ring_pending(&rs, seg));
	seen.status = SHMDB_ECONFLICT;
	ck_assert_uint_eq(serve(64, &broken), 2);
	ck_assert_ptr_null(broken);
	/* A pad to the end of the ring, then a transaction from its start. */
	record((uint32_t)(SHM_SQ_SIZE - (tail & (SHM_SQ_SIZE - 1))), SHM_SQE_PAD, 0, 0);
	record(8 + 32, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 3);
	publish();
	ck_assert_uint_eq(serve(64, &broken), 1);
	ck_assert_ptr_null(broken);
	ck_assert(!ring_pending(&rs, seg));
	ck_assert_uint_eq(seen.calls, 3);
	ck_assert_uint_eq(seen.len[0], 40);
	ck_assert_uint_eq(seen.first[0], 1);
	ck_assert_uint_eq(seen.len[1], 48);
	ck_assert_uint_eq(seen.first[1], 2);
	ck_assert_uint_eq(seen.len[2], 32);
	ck_assert_uint_eq(seen.first[2], 3);
	/* Completions: published, in order, a status that failed carries no
	 * commit timestamp. */
	ck_assert_uint_eq(seg->sq_head, tail);
	ck_assert_uint_eq(seg->cq_tail, 3);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_uint_eq(cqe(i)->ticket, i + 1);
		ck_assert_int_eq(cqe(i)->status, SHMDB_ECONFLICT);
		ck_assert_uint_eq(cqe(i)->commit_ts, 0);
		ck_assert_uint_eq(cqe(i)->value, seen.len[i]);
	}
	seen.status = 0;
	record(8 + 8, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 4);
	publish();
	ck_assert_uint_eq(serve(64, &broken), 1);
	ck_assert_uint_eq(cqe(3)->ticket, 4);
	ck_assert_uint_eq(cqe(3)->commit_ts, 104);
}
END_TEST

/* Chunks with no payload, the first thing a session sends: an empty
 * transaction, and an empty middle chunk in a transaction (UBSan once saw
 * the writer copy zero bytes from a buffer not yet allocated). */
START_TEST(empty_chunks)
{
	const char *broken;
	record(8, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 0);
	record(8, SHM_SQE_CHUNK, SHM_SQE_FIRST, 0);
	record(8 + 16, SHM_SQE_CHUNK, 0, 5);
	record(8, SHM_SQE_CHUNK, 0, 0);
	record(8, SHM_SQE_CHUNK, SHM_SQE_LAST, 0);
	publish();
	ck_assert_uint_eq(serve(64, &broken), 2);
	ck_assert_ptr_null(broken);
	ck_assert_uint_eq(seen.calls, 2);
	ck_assert_uint_eq(seen.len[0], 0);
	ck_assert_uint_eq(seen.len[1], 16);
	ck_assert_uint_eq(seen.first[1], 5);
}
END_TEST

START_TEST(budget_and_full_completion_ring)
{
	const char *broken;
	for (unsigned i = 0; i < SHM_CQ_ENTRIES + 10; i++)
		record(16, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, (uint8_t)i);
	publish();
	ck_assert_uint_eq(serve(5, &broken), 5);
	ck_assert_uint_eq(serve(UINT32_MAX, &broken), SHM_CQ_ENTRIES - 5);
	ck_assert_ptr_null(broken);
	/* The completion ring is full: nothing more until the client takes. */
	ck_assert_uint_eq(serve(UINT32_MAX, &broken), 0);
	ck_assert(ring_pending(&rs, seg));
	__atomic_store_n(&seg->cq_head, 4, __ATOMIC_RELEASE);
	ck_assert_uint_eq(serve(UINT32_MAX, &broken), 4);
	__atomic_store_n(&seg->cq_head, SHM_CQ_ENTRIES + 4, __ATOMIC_RELEASE);
	ck_assert_uint_eq(serve(UINT32_MAX, &broken), 6);
	ck_assert(!ring_pending(&rs, seg));
	ck_assert_uint_eq(seen.calls, SHM_CQ_ENTRIES + 10);
}
END_TEST

START_TEST(too_big_fails_whole)
{
	const char *broken;
	uint64_t sent = 0;
	unsigned served = 0;
	/* Chunks of a quarter ring until past the transaction limit, served
	 * as they come, as a client waits for room. */
	const uint32_t chunk = SHM_SQ_SIZE / 4;
	for (int first = 1; sent <= (uint64_t)SHMDB_MAX_TXN + 8192; first = 0) {
		record(chunk, SHM_SQE_CHUNK, first ? SHM_SQE_FIRST : 0, 7);
		sent += chunk - 8;
		publish();
		served += serve(64, &broken);
		ck_assert_ptr_null(broken);
	}
	record(16, SHM_SQE_CHUNK, SHM_SQE_LAST, 7);
	publish();
	served += serve(64, &broken);
	ck_assert_uint_eq(served, 1);
	ck_assert_uint_eq(seen.calls, 0); /* never handed to the commit */
	ck_assert_int_eq(cqe(0)->status, SHMDB_EBADTXN);
	/* The ring goes on. */
	record(16, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 8);
	publish();
	ck_assert_uint_eq(serve(64, &broken), 1);
	ck_assert_uint_eq(seen.calls, 1);
}
END_TEST

/* Each way a client can break the protocol, and the reason named. */
enum breakage { TAIL_TOO_FAR, TAIL_UNALIGNED, SHORT_RECORD, RECORD_PAST_TAIL, UNKNOWN_KIND,
		LAST_WITHOUT_FIRST, FIRST_TWICE, CQ_HEAD_AHEAD, BREAKAGES };

static const char *const reason[BREAKAGES] = {
	[TAIL_TOO_FAR] = "submission tail out of range",
	[TAIL_UNALIGNED] = "submission tail out of range",
	[SHORT_RECORD] = "malformed submission record",
	[RECORD_PAST_TAIL] = "malformed submission record",
	[UNKNOWN_KIND] = "submission records out of order",
	[LAST_WITHOUT_FIRST] = "submission records out of order",
	[FIRST_TWICE] = "submission records out of order",
	[CQ_HEAD_AHEAD] = "completion head out of range",
};

START_TEST(protocol_breaks_are_named)
{
	const char *broken;
	record(16, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 1);
	switch ((enum breakage)_i) {
	case TAIL_TOO_FAR:
		tail += SHM_SQ_SIZE;
		break;
	case TAIL_UNALIGNED:
		tail += 4;
		break;
	case SHORT_RECORD:
		record(8, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 0);
		((struct shm_sqe_hdr *)(sq() + 16))->len = 4;
		break;
	case RECORD_PAST_TAIL:
		record(16, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 0);
		((struct shm_sqe_hdr *)(sq() + 16))->len = 64;
		break;
	case UNKNOWN_KIND:
		record(16, 9, SHM_SQE_FIRST | SHM_SQE_LAST, 0);
		break;
	case LAST_WITHOUT_FIRST:
		record(16, SHM_SQE_CHUNK, SHM_SQE_LAST, 0);
		break;
	case FIRST_TWICE:
		record(16, SHM_SQE_CHUNK, SHM_SQE_FIRST, 0);
		record(16, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 0);
		break;
	case CQ_HEAD_AHEAD:
		record(16, SHM_SQE_CHUNK, SHM_SQE_FIRST | SHM_SQE_LAST, 0);
		break;
	case BREAKAGES:
		break;
	}
	publish();
	if (_i == CQ_HEAD_AHEAD) {
		ck_assert_uint_eq(serve(1, &broken), 1);
		__atomic_store_n(&seg->cq_head, 5, __ATOMIC_RELEASE);
	}
	unsigned before = seen.calls;
	unsigned done = serve(64, &broken);
	ck_assert_ptr_nonnull(broken);
	ck_assert_uint_le(seen.calls - before, 1); /* at most the good first record */
	ck_assert_uint_eq(done, seen.calls - before);
	ck_assert_str_eq(broken, reason[_i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, whole_transactions_in_order);
	tcase_add_test(tc, empty_chunks);
	tcase_add_test(tc, budget_and_full_completion_ring);
	tcase_add_test(tc, too_big_fails_whole);
	tcase_add_loop_test(tc, protocol_breaks_are_named, 0, BREAKAGES);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
