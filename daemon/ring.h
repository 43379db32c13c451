/*
 * ring.h - the writer's side of one session's rings: taking submissions,
 * reassembling transactions, handing each to the caller to commit, posting
 * completions. Writer thread only. It knows the session segment's layout
 * and nothing of sessions or of how a transaction is applied.
 */
#ifndef SHMDBD_RING_H
#define SHMDBD_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* The writer's private state for one session's rings. All zero is the
 * state of a new session. */
struct ring_state {
	uint64_t sq_head;      /* private copy: what the client wrote is not trusted */
	uint64_t sq_head_published; /* last value stored in the segment */
	uint32_t cq_tail;
	uint32_t cq_published; /* cq_tail as last stored in the segment */
	uint64_t tickets;      /* transactions completed in this session */
	uint8_t *txn;          /* the transaction being reassembled */
	size_t txn_len, txn_cap;
	bool in_txn;
	bool txn_too_big;      /* keep consuming its chunks, then fail it */
	bool posted;           /* completions posted since the last flush */
};

void ring_state_free(struct ring_state *rs);

/*
 * Commit one complete transaction txn[0..len) (the writer's private copy):
 * its status, with *commit_ts and *value for the completion.
 */
typedef int ring_commit_fn(void *ctx, const uint8_t *txn, size_t len, uint64_t *commit_ts,
			   uint64_t *value);

/*
 * ring_serve - take up to `budget` transactions from the submission ring of
 * session segment `seg`, commit each with commit(ctx, ...), and post its
 * completion. A ring that breaks the protocol (a tail moved past the head,
 * a record that does not fit, chunks out of order) sets *broken to the
 * reason and stops; the caller must not serve it again. Returns the number
 * of transactions completed.
 */
unsigned ring_serve(struct ring_state *rs, struct shm_session_header *seg, unsigned budget,
		    ring_commit_fn *commit, void *ctx, const char **broken);

/* ring_flush - publish the consumed head and posted completions, and wake
 * the client if it sleeps. */
void ring_flush(struct ring_state *rs, struct shm_session_header *seg);

/* Whether submissions wait (for the writer's last look before it sleeps). */
bool ring_pending(const struct ring_state *rs, const struct shm_session_header *seg);

/*
 * ring_fail_unpublished - rewrite every completion posted since the last
 * ring_flush to `status`, with no commit: their transactions will never be
 * published (sync durability: the log could not be written).
 */
void ring_fail_unpublished(struct ring_state *rs, struct shm_session_header *h, int status);

#endif /* SHMDBD_RING_H */
