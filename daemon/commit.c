/*
 * commit.c - one transaction through the writer's core (see commit.h):
 * decode, prepare, apply, log, then publish.
 *
 * Invariants: c->applied_ts is the last commit whose every version, index
 * slot and catalog entry is in place, and meta->commit_ts (published) is
 * at most it: equal after every commit, unless defer_publish holds it
 * back until the log is on disk (core_publish). A transaction that fails
 * in decode, at critical memory pressure (one that would take memory:
 * pressure.h), in the log's reserve or in prepare leaves both, and everything
 * a snapshot can see, unchanged. A transaction is logged (c->log.append)
 * after apply and before it is published, so that a commit visible in
 * sync mode is one whose record is on disk, and the log holds commits in
 * commit order.
 *
 * Replay (restore.c): a logged transaction is applied again at its own
 * commit ts, its table ids mapped to the ones this run gave the same
 * tables, its checks skipped (they passed when it was first committed, and
 * what it checked may carry other timestamps after a checkpoint's load).
 *
 * Ordering: commit_ts is stored last, with release order, after every store
 * of the transaction's apply pass: a reader that loads it with acquire order
 * (libshm/read.c) sees the whole transaction or none of it. The commits
 * and ops counters are statistics, relaxed, stored before the completion
 * is posted (so a client sees its own commit counted).
 */
#include "commit.h"

#include <errno.h>
#include <stdlib.h>

#include "apply.h"
#include "decode.h"
#include "prepare.h"
#include "shmdb.h"

/* The CREATE ops among ops[0..nops), for which c->created has room after. */
static int reserve_created(struct core *c, size_t nops, size_t *ncreate)
{
	size_t n = 0;
	for (size_t i = 0; i < nops; i++) {
		uint8_t code = c->scratch.ops[i].op.code;
		n += code == SHM_OP_CREATE_TABLE || code == SHM_OP_CREATE_INDEX;
	}
	*ncreate = n;
	if (n <= c->created_cap)
		return 0;
	uint32_t *p = realloc(c->created, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->created = p;
	c->created_cap = n;
	return 0;
}

/* A request to the log, alone in its transaction (txn.h). */
static int log_request(struct core *c, uint8_t code)
{
	int (*fn)(void *) = code == SHM_OP_SYNC ? c->log.sync : c->log.checkpoint;
	return fn ? fn(c->log.ctx) : -ENOTSUP;
}

/* Map the ops' table ids through `map` and drop the checks (replay). */
static int replay_fix(struct core *c, size_t *nops, struct table_map *map)
{
	size_t kept = 0;
	for (size_t i = 0; i < *nops; i++) {
		struct pending_op *p = &c->scratch.ops[i];
		if (p->op.code == SHM_OP_CHECK)
			continue;
		if (p->op.table && table_map_get(map, p->op.table, &p->op.table))
			return -ENOENT;
		c->scratch.ops[kept++] = *p;
	}
	*nops = kept;
	return 0;
}

/*
 * Critical memory: a transaction that would take more is refused before
 * anything (the log included) changes; one that frees goes on. Memory
 * that only waits for readers to move on is no reason to refuse: it is
 * reclaimed now (as when a transaction finds no room, core.h) and the use
 * judged again. The level itself may stay critical a while (pressure.h);
 * the refusal follows the use.
 */
static int refuse_at_critical(struct core *c, size_t nops)
{
	if (!c->monitor || c->internal || c->replaying ||
	    !pressure_takes_memory(c->scratch.ops, nops) ||
	    pressure_check(c->monitor) != SHMDB_PRESSURE_CRITICAL ||
	    !pressure_over_critical(c->monitor))
		return 0;
	if (c->pressure.reclaim_now && c->pressure.waiting(c->pressure.ctx)) {
		c->pressure.reclaim_now(c->pressure.ctx);
		if (!pressure_over_critical(c->monitor))
			return 0;
	}
	pressure_refused(c->monitor);
	return SHMDB_EPRESSURE;
}

/* The decoded transaction's ops c->scratch.ops[0..nops) through prepare,
 * apply, the log (buf[0..len): its encoding) and the commit. */
static int run(struct core *c, size_t nops, const uint8_t *buf, size_t len, uint64_t *commit_ts,
	       uint64_t *value, struct table_map *replay_map, uint64_t replay_ts)
{
	size_t ncreate;
	int r;
	*value = 0;
	*commit_ts = 0;
	uint64_t ts = replay_map ? replay_ts : c->applied_ts + 1;
	if (nops == 0) {
		*commit_ts = c->applied_ts;
		return 0;
	}
	apply_prefetch_slots(c, nops);
	if ((r = reserve_created(c, nops, &ncreate)))
		return r;
	if ((r = refuse_at_critical(c, nops)))
		return r;
	bool logged = !c->internal && !c->replaying && c->log.reserve;
	if (logged && (r = c->log.reserve(c->log.ctx, len, ncreate)))
		return r;
	r = prepare(c, &nops, ts);
	if (r)
		return r;
	apply_ops(c, nops, ts, value);
	c->applied_ts = ts;
	if (logged)
		c->log.append(c->log.ctx, WAL_TXN, ts, buf, len, c->created, c->ncreated);
	if (replay_map)
		for (size_t i = 0; i < c->ncreated && i < replay_map->nexpect; i++)
			table_map_set(replay_map, replay_map->expect[i], c->created[i]);
	if (!c->defer_publish)
		core_publish(c);
	__atomic_store_n(&c->meta->commits, c->meta->commits + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->meta->ops, c->meta->ops + nops, __ATOMIC_RELAXED);
	*commit_ts = ts;
	return 0;
}

static int commit(struct core *c, const uint8_t *buf, size_t len, uint64_t *commit_ts,
		  uint64_t *value, struct table_map *replay_map, uint64_t replay_ts)
{
	size_t nops;
	*value = 0;
	*commit_ts = 0;
	int r = decode_txn(&c->scratch, buf, len, &nops);
	if (r)
		return r;
	for (size_t i = 0; i < nops; i++) {
		uint8_t code = c->scratch.ops[i].op.code;
		if (code == SHM_OP_SYNC || code == SHM_OP_CHECKPOINT) {
			if (nops != 1 || replay_map)
				return SHMDB_EBADTXN;
			/* The client's commits so far are published: the
			 * checkpoint it waits for holds this one. */
			*commit_ts = *value = c->meta->commit_ts;
			return log_request(c, code);
		}
	}
	if (replay_map && (r = replay_fix(c, &nops, replay_map)))
		return r;
	return run(c, nops, buf, len, commit_ts, value, replay_map, replay_ts);
}

int commit_txn(struct core *c, const uint8_t *buf, size_t len, uint64_t *commit_ts,
	       uint64_t *value)
{
	int r = commit(c, buf, len, commit_ts, value, NULL, 0);
	scratch_trim(&c->scratch);
	return r;
}

int commit_ops(struct core *c, size_t nops, uint64_t *commit_ts, uint64_t *value)
{
	int r = run(c, nops, NULL, 0, commit_ts, value, NULL, 0);
	scratch_trim(&c->scratch);
	return r;
}

int commit_replay(struct core *c, const uint8_t *buf, size_t len, uint64_t ts,
		  struct table_map *map)
{
	uint64_t commit_ts, value;
	int r = commit(c, buf, len, &commit_ts, &value, map, ts);
	scratch_trim(&c->scratch);
	return r;
}
