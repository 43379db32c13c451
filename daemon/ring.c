/*
 * ring.c - serving a session's submission and completion rings (see ring.h).
 *
 * Everything in the session segment is written by a client that may be
 * broken or hostile, so: sq_tail and cq_head are loaded once and checked
 * against the writer's private sq_head/cq_tail before use; each record
 * header is copied out and checked before its payload is touched; each
 * payload is copied once into private memory, and only that copy is decoded
 * and applied. A partly written record is invisible (the client publishes
 * sq_tail after it), and a transaction is applied only when its last chunk
 * has arrived, so a client killed while writing leaves nothing behind.
 *
 * Ordering: sq_tail is loaded with acquire order (pairs with the client's
 * release store after writing records); completions are written before the
 * release store of cq_tail; a full fence between that store and the load of
 * client_waiting pairs with the client's fence between setting
 * client_waiting and re-reading cq_tail, so a sleeping client is always
 * woken.
 */
#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "buf.h"
#include "shmdb.h"

/* A transaction may carry a little framing beyond SHMDB_MAX_TXN. */
#define TXN_LIMIT ((size_t)SHMDB_MAX_TXN + 4096)

void ring_state_free(struct ring_state *rs)
{
	free(rs->txn);
	rs->txn = NULL;
	rs->txn_cap = rs->txn_len = 0;
}

static uint8_t *sq_base(struct shm_session_header *seg)
{
	return (uint8_t *)seg + SHM_SESSION_SQ_OFF;
}

static struct shm_cqe *cq_base(struct shm_session_header *seg)
{
	return (struct shm_cqe *)((uint8_t *)seg + SHM_SESSION_CQ_OFF);
}

static int txn_append(struct ring_state *rs, const uint8_t *src, size_t n)
{
	if (n == 0) /* an empty chunk: nothing to copy, perhaps nowhere yet */
		return 0;
	if (rs->txn_too_big || rs->txn_len + n > TXN_LIMIT) {
		rs->txn_too_big = true;
		return 0;
	}
	int err = shm_buf_reserve(&rs->txn, &rs->txn_cap, rs->txn_len + n, 4096);
	if (err)
		return err;
	memcpy(rs->txn + rs->txn_len, src, n);
	rs->txn_len += n;
	return 0;
}

static void post(struct ring_state *rs, struct shm_session_header *seg, int status,
		 uint64_t commit_ts, uint64_t value)
{
	struct shm_cqe *e = &cq_base(seg)[rs->cq_tail & (SHM_CQ_ENTRIES - 1)];
	/* Read by the main thread for statistics (stats_reply.c). */
	__atomic_store_n(&rs->tickets, rs->tickets + 1, __ATOMIC_RELAXED);
	e->ticket = rs->tickets;
	e->status = status;
	e->reserved = 0;
	e->commit_ts = commit_ts;
	e->value = value;
	rs->cq_tail++;
	rs->posted = true;
}

unsigned ring_serve(struct ring_state *rs, struct shm_session_header *h, unsigned budget,
		    ring_commit_fn *commit, void *ctx, const char **broken)
{
	unsigned done = 0;

	*broken = NULL;
	uint64_t tail = __atomic_load_n(&h->sq_tail, __ATOMIC_ACQUIRE);
	uint64_t avail = tail - rs->sq_head;
	if (avail > SHM_SQ_SIZE || avail % 8) {
		*broken = "submission tail out of range";
		return 0;
	}
	while (rs->sq_head != tail && done < budget) {
		uint32_t cq_head = __atomic_load_n(&h->cq_head, __ATOMIC_ACQUIRE);
		uint32_t queued = rs->cq_tail - cq_head;
		if (queued > SHM_CQ_ENTRIES) {
			*broken = "completion head out of range";
			return done;
		}
		if (queued == SHM_CQ_ENTRIES)
			break; /* the client must take completions first */

		uint64_t pos = rs->sq_head & (SHM_SQ_SIZE - 1);
		struct shm_sqe_hdr hdr;
		memcpy(&hdr, sq_base(h) + pos, sizeof(hdr));
		if (hdr.len < sizeof(hdr) || hdr.len % 8 || hdr.len > SHM_SQ_SIZE - pos ||
		    hdr.len > tail - rs->sq_head) {
			*broken = "malformed submission record";
			return done;
		}
		if (hdr.kind == SHM_SQE_PAD) {
			rs->sq_head += hdr.len;
			continue;
		}
		bool first = hdr.flags & SHM_SQE_FIRST, last = hdr.flags & SHM_SQE_LAST;
		if (hdr.kind != SHM_SQE_CHUNK || (hdr.flags & ~(SHM_SQE_FIRST | SHM_SQE_LAST)) ||
		    first == rs->in_txn) {
			*broken = "submission records out of order";
			return done;
		}
		if (first) {
			rs->in_txn = true;
			rs->txn_len = 0;
			rs->txn_too_big = false;
		}
		if (txn_append(rs, sq_base(h) + pos + sizeof(hdr), hdr.len - sizeof(hdr))) {
			*broken = "out of memory for a transaction";
			return done;
		}
		rs->sq_head += hdr.len;
		if (!last)
			continue;
		rs->in_txn = false;
		uint64_t ts = 0, value = 0;
		int status = rs->txn_too_big ? SHMDB_EBADTXN
			   : commit(ctx, rs->txn, rs->txn_len, &ts, &value);
		post(rs, h, status, status ? 0 : ts, value);
		done++;
		if (rs->txn_cap > (1u << 20)) /* do not keep a huge buffer per session */
			ring_state_free(rs);
	}
	return done;
}

void ring_flush(struct ring_state *rs, struct shm_session_header *h)
{
	/* The client may reuse ring space up to here. Stored only when it moved,
	 * so that an idle pass does not take the line from the client. */
	if (rs->sq_head != rs->sq_head_published) {
		__atomic_store_n(&h->sq_head, rs->sq_head, __ATOMIC_RELEASE);
		rs->sq_head_published = rs->sq_head;
	}
	if (!rs->posted)
		return;
	rs->posted = false;
	/* Completions are written: publish them. */
	__atomic_store_n(&h->cq_tail, rs->cq_tail, __ATOMIC_RELEASE);
	rs->cq_published = rs->cq_tail;
	/* Pairs with the client's fence between client_waiting and cq_tail. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->client_waiting, __ATOMIC_RELAXED))
		syscall(SYS_futex, &h->cq_tail, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void ring_fail_unpublished(struct ring_state *rs, struct shm_session_header *h, int status)
{
	for (uint32_t t = rs->cq_published; t != rs->cq_tail; t++) {
		struct shm_cqe *e = &cq_base(h)[t & (SHM_CQ_ENTRIES - 1)];
		e->status = status;
		e->commit_ts = 0;
		e->value = 0;
	}
}

bool ring_pending(const struct ring_state *rs, const struct shm_session_header *h)
{
	return __atomic_load_n(&h->sq_tail, __ATOMIC_ACQUIRE) != rs->sq_head;
}
