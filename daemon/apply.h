/*
 * apply.h - applying transactions to the store: the writer's half of MVCC.
 * Writer thread only. A transaction is validated completely, its checks
 * evaluated and all its memory reserved before anything in shared memory
 * changes; then its versions are built and linked, and its commit timestamp
 * is published last, with release order, so that no snapshot sees part of it.
 */
#ifndef SHMDBD_APPLY_H
#define SHMDBD_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "grace.h"
#include "reclaim.h"
#include "store.h"
#include "txn.h"

/* An operation of the transaction being applied: decoded once, with its
 * key's hash (0 for table operations) and the block reserved for it. */
struct pending_op {
	struct shm_op op;
	uint64_t hash;
	uint64_t block;
};

/* A table a transaction writes, with how many keys it may add. */
struct touched {
	struct shm_table *t;
	uint64_t adds;
	int reserve;          /* a RESERVE op is among them: room now, no build */
};

/* A dead key a build left out: its slot in the current index, and the
 * offset of its head (a tombstone) when the build passed it. */
struct left_out {
	uint64_t pos, off;
};

/* A bigger index for one table, built a step per transaction while the
 * table's current index stays the live one (apply.c). */
struct index_build {
	struct shm_table *t;           /* NULL: no build under way */
	uint64_t word;                 /* the new index, not yet published */
	uint64_t zeroed;               /* its slots [0, zeroed) are cleared */
	uint64_t copied;               /* the current index's slots [0, copied) are in it */
	uint64_t used;                 /* its non-empty slots */
	struct left_out *dead;         /* the dead keys it left out, retired when */
	size_t ndead, dead_cap;        /* it is published if still the heads */
};

struct applier {
	uint8_t *base;
	struct shm_meta *meta;
	const struct session_registry *sessions; /* for the reclamation horizon */
	struct alloc alloc;
	struct retire_queue retired;
	uint64_t horizon;              /* at the last reclamation */
	struct grace *grace;           /* the grace periods reclamation waits for */
	int grace_pending;             /* a grace period was requested ... */
	uint32_t grace_gen;            /* ... with this generation ... */
	uint64_t grace_commit;         /* ... after this commit was published ... */
	uint64_t grace_asked_ns;       /* ... at this time (CLOCK_MONOTONIC), */
	uint64_t grace_asked_total;    /* ... when retired.total was this */
	uint16_t table_gen[SHM_MAX_TABLES];
	struct index_build build;
	/* Per-transaction scratch, grown as needed and kept up to
	 * SCRATCH_KEEP operations (apply.c): one entry per operation, so the
	 * apply path allocates only when a transaction is bigger than any
	 * before it, or bigger than that. */
	struct pending_op *ops;        /* the transaction's operations */
	struct touched *touched;       /* tables written, with keys added */
	uint32_t *dropped;             /* ids of tables dropped so far */
	size_t scratch_cap;
};

/* applier_init - the store starts empty at commit 1; reclamation waits for
 * the grace periods of `grace`. */
void applier_init(struct applier *ap, struct store *st, const struct session_registry *sessions,
		  struct grace *grace);
void applier_destroy(struct applier *ap);

/*
 * apply_txn - apply the encoded transaction buf[0..len) (a private copy).
 * Returns 0 with *commit_ts set (the current one for an empty transaction)
 * and *value set (a created table's id), or SHMDB_EBADTXN, SHMDB_ECONFLICT,
 * -ENOENT (unknown table), -ENOSPC or -ENOMEM, having changed nothing a
 * snapshot can see.
 */
int apply_txn(struct applier *ap, const uint8_t *buf, size_t len, uint64_t *commit_ts,
	      uint64_t *value);

/*
 * applier_reclaim - one step of reclamation at time `now_ns`, without
 * waiting: if the grace period requested last has passed, compute the
 * horizon and free what it allows; if anything waits, or the horizon lags
 * the commit, and no grace period is pending, request the next, but no
 * sooner than GRACE_EVERY_NS after the last request unless
 * GRACE_BATCH_BYTES were retired since (apply.c); publish oldest_snapshot,
 * arena use and the retire figures in the meta segment.
 * Call inside an RCU read-side section.
 */
void applier_reclaim(struct applier *ap, uint64_t now_ns);

/*
 * applier_waiting - whether reclamation has anything to do: retired items,
 * a grace period pending, or a horizon behind a commit made since the last
 * grace period was asked for. The writer keeps waking while it is true.
 */
bool applier_waiting(const struct applier *ap);

/*
 * applier_reclaim_now - reclaim up to the current commit after a grace
 * period taken on this thread (expedited: it interrupts readers' cpus), for
 * when memory is short. Call inside an RCU read-side section.
 */
void applier_reclaim_now(struct applier *ap);

#endif /* SHMDBD_APPLY_H */
