/*
 * decode.h - pass 1 of a transaction in the writer: decode and validate its
 * private copy once (libshm/txn.h's codec), into an array of operations
 * with each key's hash. Writer thread only.
 */
#ifndef SHMDBD_DECODE_H
#define SHMDBD_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "tree.h"
#include "txn.h"

/* An operation of the transaction being applied: decoded once, with its
 * key's hash (0 for table operations) and the blocks prepare reserved for
 * it (0 if none). */
struct pending_op {
	struct shm_op op;
	uint64_t hash;
	uint64_t block;
	uint64_t side_block;  /* CLEAR: the struct shm_index_gen it writes;
			       * CREATE_TABLE of rows: the schema's block */
	int tree_only;        /* an op on a multimap: no version, only the tree */
	int tree_dropped;     /* an op on an ordered table whose tree change a
			       * later CLEAR or DROP of the table takes away */
	int resolved;         /* an UPDATE made a PUT of the row at row_off of
			       * the scratch's rows (prepare) */
	size_t row_off;
	uint32_t same_prev;   /* the op before it with its hash, + 1; 0: none
			       * (prepare, once a transaction has an UPDATE) */
	int derived;          /* an op on a secondary index that the upkeep
			       * made (secondary_keep.h): its key at key_off
			       * of the scratch's ikeys */
	size_t key_off;
	uint64_t place;       /* the writer's own (pending.c): a PUT that
			       * places its table's pending key, this version,
			       * in the tree (tree only, never logged); 0 */
};

/* A table a transaction writes, with how many keys it may add, and its
 * count as the transaction found it (layout.h's count versions). */
struct touched {
	struct shm_table *t;
	uint64_t adds;
	int reserve;          /* a RESERVE op is among them: room now, no build */
	uint64_t records0;    /* t->records before the transaction */
	uint64_t bytes0;      /* t->record_bytes before it */
	uint64_t count_block; /* the block of its next count version (prepare) */
	int cleared;          /* a CLEAR of t came before (prepare) */
	size_t clear_at;      /* after its last CLEAR: that op's index + 1 */
	uint64_t root0;       /* t->root before it */
	uint64_t pending0;    /* its key pending before it (pending.h), */
	uint64_t pending;     /* and after it */
	struct tree_result tree; /* an ordered table's new tree (prepare) */
};

/* The most ops a transaction may have for its leaves to start loading
 * before prepare (apply.c). */
#define LEAVES_AHEAD 4

struct shm_node;

/* Per-transaction scratch, one entry of each array per operation, grown as
 * needed and kept between transactions up to SCRATCH_KEEP operations
 * (decode.c): the apply path allocates only when a transaction is bigger
 * than any before it, or bigger than that. */
struct txn_scratch {
	struct pending_op *ops;       /* the transaction's operations */
	struct touched *touched;      /* tables written, with keys added (prepare) */
	size_t ntouched;              /* entries of touched in use */
	uint32_t *dropped;            /* ids of tables dropped so far (prepare) */
	struct tree_change *changes;  /* ops on ordered tables (prepare) */
	size_t cap;
	uint8_t *rows;                /* the rows field updates make (prepare) */
	size_t rows_len, rows_cap;
	/* The last op of each key hash (+ 1), open addressing, for an UPDATE
	 * to find the op before it on its key (prepare): ops [0, chained)
	 * are in it, once chain_ready. */
	uint32_t *by_hash;
	size_t by_hash_cap, chained;
	int chain_ready;
	/* Secondary index upkeep (secondary_keep.c): the keys of the ops it
	 * makes, the rows it looks at, and a set of op numbers. */
	uint8_t *ikeys;
	size_t ikeys_len, ikeys_cap;
	struct keep_row *krows;
	size_t krows_cap;
	uint32_t *kset;
	size_t kset_cap;
	/* A short transaction's ordered ops: the node above each op's leaf
	 * (NULL for an op on no ordered table), found before prepare and
	 * read once its other loads are under way, then the leaf, for
	 * prepare's tree changes (apply.c); nleaf_parents, nleaves: the
	 * transaction's ops, or 0 when not found. */
	const struct shm_node *leaf_parents[LEAVES_AHEAD], *leaves[LEAVES_AHEAD];
	size_t nleaf_parents, nleaves;
	/* 1: op 0's key is left out of its table's tree, pending
	 * (pending_decide) */
	int pend_left;
};

/* scratch_reserve - room for n operations in every per-op array; 0 or
 * -ENOMEM (the arrays as they were). The arrays may move. */
int scratch_reserve(struct txn_scratch *s, size_t n);

/*
 * decode_txn - decode buf[0..len) (a private copy) into s->ops[0..*nops).
 * Returns 0, SHMDB_EBADTXN (a malformed operation) or -ENOMEM. The ops
 * point into buf.
 */
int decode_txn(struct txn_scratch *s, const uint8_t *buf, size_t len, size_t *nops);

/* scratch_trim - after a transaction: free the scratch if a transaction
 * made it larger than what is kept. */
void scratch_trim(struct txn_scratch *s);

void scratch_free(struct txn_scratch *s);

#endif /* SHMDBD_DECODE_H */
