/*
 * core.h - the writer's core: what a transaction's passes work on (the
 * range, the allocator, the retire queue, the catalog, the index build and
 * the per-transaction scratch). Writer thread only; no thread, socket or
 * session here, so that a test can run it on a calloc'd range. commit.h
 * runs a transaction through it.
 */
#ifndef SHMDBD_CORE_H
#define SHMDBD_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "cluster.h"
#include "decode.h"
#include "index_build.h"
#include "pending.h"
#include "pressure.h"
#include "retire.h"
#include "secondary_fill.h"
#include "tables.h"
#include "tree.h"

/*
 * What the core asks for when memory is short: whether retired memory
 * waits anywhere (waiting), and then that whatever no snapshot can see any
 * more be freed now (reclaim_now; the writer's reclaimer, reclaim.h). The
 * core knows only these functions, not who answers them; reclaim_now NULL
 * asks nobody.
 */
struct core_pressure {
	void (*reclaim_now)(void *ctx);
	bool (*waiting)(void *ctx);
	void *ctx;
};

/*
 * Where committed transactions go beyond memory: the write-ahead log
 * (wal.h), or nobody (every function NULL: durability none). The core
 * asks reserve before it changes anything, so that a transaction the log
 * cannot take is refused whole; it calls append after apply, before the
 * commit is published. Client transactions only: a build step's and a
 * replayed one are not logged.
 */
struct core_log {
	/* Room for a record of a transaction of `len` bytes creating
	 * `ncreated` tables: 0, or the error the commit
	 * fails with (nothing applied). */
	int (*reserve)(void *ctx, size_t len, size_t ncreated);
	/* The record: kind (enum wal_kind), commit ts, payload, created ids. */
	void (*append)(void *ctx, uint32_t kind, uint64_t ts, const uint8_t *payload,
		       size_t len, const uint32_t *created, size_t ncreated);
	/* A client's shmdb_sync: 0 once every commit so far is on disk. */
	int (*sync)(void *ctx);
	/* A client's shmdb_checkpoint: 0 once one is asked for. */
	int (*checkpoint)(void *ctx);
	void *ctx;
};

struct core {
	uint8_t *base;                 /* the range: meta at 0, arenas after */
	struct shm_meta *meta;
	struct alloc *alloc;           /* shared with the reclaimer, which frees */
	struct retire_queue *retired;  /* shared with the reclaimer, which drains */
	struct core_pressure pressure;
	struct tables tables;
	struct index_build build;
	struct tree_writer tree;       /* ordered tables' node writes (tree.h) */
	struct txn_scratch scratch;
	uint64_t clear_adds[SHM_MAX_TABLES]; /* prepare's count per slot (size_clears) */
	struct secondary_fill fill;    /* secondary indexes being built */
	struct pending_tables pending; /* tables whose newest key may wait
					* outside their tree (pending.h) */
	struct cluster cluster;        /* ordered tables' records gathered in key
					* order when the writer is idle */
	int internal;                  /* 1 while the transaction is a build
					* step's: it may write an index */
	struct core_log log;           /* where commits are logged */
	struct pressure *monitor;      /* the memory monitor: at critical a client
					* transaction that takes memory is refused;
					* NULL: no monitor */
	uint64_t applied_ts;           /* the last commit applied; published
					* too unless defer_publish */
	int defer_publish;             /* 1: commit_ts is stored by
					* core_publish (sync durability: after
					* the log is on disk) */
	int replaying;                 /* 1: checks pass, fills wait, nothing
					* logged (restore.c) */
	uint32_t *created;             /* the tables the transaction's CREATE
					* ops answered, in op order */
	size_t ncreated, created_cap;
};

/*
 * core_init - the store starts empty, at commit 1: every catalog slot
 * free, commit_ts published. Blocks come from `alloc`; what transactions
 * unlink goes to `retired`; when memory is short, `pressure` is asked.
 */
void core_init(struct core *c, uint8_t *base, struct shm_meta *meta, struct alloc *alloc,
	       struct retire_queue *retired, struct core_pressure pressure);
void core_destroy(struct core *c);

/* core_publish - make every applied commit visible: commit_ts =
 * applied_ts, with release order. */
void core_publish(struct core *c);

/* The newest version of key[0..klen) in live table t (its hash `hash`),
 * a tombstone perhaps, or NULL if the key has none. */
const struct shm_version *core_head(const struct core *c, const struct shm_table *t,
				    const uint8_t *key, uint32_t klen, uint64_t hash);

/* The value of row version v (not a tombstone), or NULL for none or a
 * tombstone; *len gets its length. */
static inline const uint8_t *core_row_of(const struct shm_version *v, uint32_t *len)
{
	if (!v || v->vlen == SHM_TOMBSTONE)
		return NULL;
	*len = v->vlen;
	return (const uint8_t *)v + shm_version_value_off(v->klen);
}

#endif /* SHMDBD_CORE_H */
