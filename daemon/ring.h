/*
 * ring.h - the writer's side of a session's rings: taking submissions,
 * reassembling transactions, posting completions. Writer thread only.
 */
#ifndef SHMDBD_RING_H
#define SHMDBD_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct applier;
struct session;

/* The writer's private state for one session (inside struct session). */
struct ring_state {
	uint64_t sq_head;      /* private copy: what the client wrote is not trusted */
	uint64_t sq_head_published; /* last value stored in the segment */
	uint32_t cq_tail;
	uint64_t tickets;      /* transactions completed in this session */
	uint8_t *txn;          /* the transaction being reassembled */
	size_t txn_len, txn_cap;
	bool in_txn;
	bool txn_too_big;      /* keep consuming its chunks, then fail it */
	bool posted;           /* completions posted since the last flush */
};

void ring_state_free(struct ring_state *rs);

/*
 * ring_serve - take up to `budget` transactions from s's submission ring,
 * apply each, and post its completion. A session whose ring breaks the
 * protocol (a tail moved past the head, a record that does not fit, chunks
 * out of order) is marked doomed and skipped from then on; the main thread
 * closes it. Returns the number of transactions completed.
 */
unsigned ring_serve(struct applier *ap, struct session *s, unsigned budget);

/* ring_flush - publish the consumed head and posted completions of s, and
 * wake its client if it sleeps. */
void ring_flush(struct session *s);

/* Whether s has submissions waiting (for the writer's last look before it
 * sleeps). */
bool ring_pending(const struct session *s);

#endif /* SHMDBD_RING_H */
