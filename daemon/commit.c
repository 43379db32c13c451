/*
 * commit.c - one transaction through the writer's core (see commit.h):
 * decode, prepare, apply, then publish.
 *
 * Invariant: meta->commit_ts is the last commit whose every version, index
 * slot and catalog entry is in place; a transaction that fails in decode or
 * prepare leaves it, and everything a snapshot can see, unchanged.
 *
 * Ordering: commit_ts is stored last, with release order, after every store
 * of the transaction's apply pass: a reader that loads it with acquire order
 * (libshm/read.c) sees the whole transaction or none of it. The commits
 * counter is a statistic, relaxed.
 */
#include "commit.h"

#include "apply.h"
#include "decode.h"
#include "prepare.h"

static int commit(struct core *c, const uint8_t *buf, size_t len, uint64_t *commit_ts,
		  uint64_t *value)
{
	size_t nops;
	*value = 0;
	*commit_ts = 0;
	int r = decode_txn(&c->scratch, buf, len, &nops);
	if (r)
		return r;
	uint64_t ts = c->meta->commit_ts + 1;
	if (nops == 0) {
		*commit_ts = ts - 1;
		return 0;
	}
	r = prepare(c, &nops, ts);
	if (r)
		return r;
	apply_ops(c, nops, ts, value);
	/* Everything the transaction wrote is in place: make it visible. */
	__atomic_store_n(&c->meta->commit_ts, ts, __ATOMIC_RELEASE);
	__atomic_store_n(&c->meta->commits, c->meta->commits + 1, __ATOMIC_RELAXED);
	*commit_ts = ts;
	return 0;
}

int commit_txn(struct core *c, const uint8_t *buf, size_t len, uint64_t *commit_ts,
	       uint64_t *value)
{
	int r = commit(c, buf, len, commit_ts, value);
	scratch_trim(&c->scratch);
	return r;
}
