/*
 * tree.h - the writer's side of ordered tables: applying a transaction's
 * changes to a table's copy-on-write tree (layout.h, struct shm_node).
 * Writer thread only.
 *
 * A transaction's changes to one table go in at once, in key order: each
 * node on the way to a key added or removed is written anew, and shared by
 * the changes under it, so a 1,000-put transaction writes each touched
 * node once; a leaf of an ordered table whose keys only take new versions,
 * or that has room for the keys it gains, is kept, its new refs and
 * entries queued to be stored in place (tree_store_refs). tree_update runs in
 * prepare, before anything is visible: it may fail (no room), and then
 * tree_unreserve gives back what it wrote. At the commit (apply.c) the
 * refs are stored, the root it returns is published with the table's
 * count version, and the nodes it replaced are retired (tree_retire_old).
 */
#ifndef SHMDBD_TREE_H
#define SHMDBD_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "reach.h"
#include "retire.h"

enum tree_change_kind {
	TREE_PUT,   /* the key now names `ref` (ordered), or the pair is in (multimap) */
	TREE_DEL,   /* the key (ordered) or the pair (multimap) is gone */
	TREE_WIPE,  /* multimaps: every pair of the key is gone */
};

/* One operation of a transaction on an ordered table. */
struct tree_change {
	const uint8_t *key;
	const uint8_t *val;   /* a multimap pair's value; else key (vlen 0) */
	uint32_t klen;
	uint32_t vlen;
	uint64_t ref;         /* TREE_PUT on an ordered table: its version */
	uint64_t prefix;      /* shm_key_prefix(key): most comparisons end there */
	uint32_t table;       /* the table's id */
	uint32_t seq;         /* the op's place in the transaction */
	uint8_t kind;         /* enum tree_change_kind */
	const struct shm_node *leaf; /* the leaf of the tree tree_update is
				      * given that holds key's place, if found
				      * before (apply.c); else NULL */
};

/* A vector of node entries being built (tree.c). */
struct tree_vec {
	struct tree_ent *e;
	size_t n, cap;
};

/* The children of a node being rebuilt that changes reached, each with
 * where the nodes it became are in its level's vector (tree.c). */
struct tree_spans {
	struct tree_span *s;
	size_t n, cap;
};

/* A list of node offsets. */
struct tree_offs {
	uint64_t *v;
	size_t n, cap;
};

/* A change to a leaf in place at the commit (tree_store_refs): ref i of
 * the leaf at `leaf` becomes `ref` (key NULL), or a new entry for `key`
 * goes in before the leaf's entry i (its count: after the last), naming
 * `ref`. */
struct tree_store {
	uint64_t leaf;
	uint64_t ref;
	const uint8_t *key;   /* the transaction's copy, kept until its commit */
	uint64_t prefix;
	uint32_t i;
	uint32_t klen;
	uint16_t count, cap, data_end; /* the leaf's when the change was
					* queued: what its prefetch reads
					* instead of the leaf */
};

struct tree_stores {
	struct tree_store *v;
	size_t n, cap;
};

struct tree_changes {
	struct tree_change *v;
	size_t n, cap;
};

/* What tree_sort_changes sorts by (tree_changes.c), and its scratch:
 * two arrays of items and one of changes, each of cap. */
struct tree_sort_item {
	uint64_t prefix;
	uint32_t table;
	uint32_t at;          /* the change's place in the unsorted array */
};

struct tree_sort_scratch {
	struct tree_sort_item *a, *b;
	struct tree_change *changes;
	size_t cap;
};

/* How the writer gets a block for a node: an offset or 0 (no room). */
struct tree_alloc {
	uint64_t (*get)(void *ctx, size_t size);
	void *ctx;
};

struct tree_writer {
	uint8_t *base;
	struct alloc *alloc;
	struct tree_alloc get;
	struct tree_vec lvl[SHM_TREE_MAX_HEIGHT + 2]; /* entries per level */
	struct tree_spans spans[SHM_TREE_MAX_HEIGHT + 2];
	struct tree_vec full;    /* a rebuilt inner node's entries */
	struct tree_vec merged;  /* entries of two merged siblings */
	struct tree_offs fresh;  /* nodes written by the transaction (0: freed again) */
	struct tree_offs old;    /* nodes it replaces, retired at its commit */
	struct tree_stores stores; /* leaf refs and entries it stores in place */
	struct tree_changes rest;  /* changes no leaf takes in place (tree.c) */
	struct tree_sort_scratch sort; /* tree_sort_changes' */
	size_t stores_from;      /* the table being updated has stores.v[from..) */
	struct reach reach;      /* versions replaced leaves name (reach.h) */
	uint64_t horizon;        /* no snapshot is older, as of tree_begin */
};

/* What a transaction made of one table's tree. */
struct tree_result {
	uint64_t root;
	int64_t records;      /* entries added less entries removed */
	int64_t bytes;        /* node bytes written less node bytes replaced */
	size_t old_from, old_to; /* its replaced nodes: old.v[old_from..old_to) */
	size_t stores_from, stores_to; /* its changes in place: stores.v[..) */
};

void tree_writer_init(struct tree_writer *w, uint8_t *base, struct alloc *alloc,
		      struct tree_alloc get);
void tree_writer_free(struct tree_writer *w);

/* Start a transaction: forget the last one's lists (and, now and then,
 * the notes no snapshot from `horizon` on needs); no snapshot, live or
 * to come, is older than `horizon`. */
void tree_begin(struct tree_writer *w, uint64_t horizon);

/*
 * tree_sort_changes - put ch[0..n) in table, then key order (then value
 * order in a multimap; a key's TREE_WIPE first), and keep per table, key
 * (and value) only what the transaction's last operation on it says:
 * operations before a later TREE_WIPE of their key are dropped. Returns
 * the changes kept, at the front of ch. `s` is scratch it keeps between
 * calls (tree_sort_scratch_free); without memory for it, it sorts more
 * slowly, never fails.
 */
size_t tree_sort_changes(struct tree_change *ch, size_t n, struct tree_sort_scratch *s);
void tree_sort_scratch_free(struct tree_sort_scratch *s);

/*
 * tree_update - apply the sorted changes ch[0..n) of one table to the tree
 * at `root` (0: empty) for the commit `ts`: new nodes where entries come or
 * go; where a leaf of an ordered table only takes new versions, or has
 * room for the keys it gains, refs and entries to store in place at the
 * commit (tree_store_refs), that leaf and the nodes above it then kept.
 * Returns 0 with *out set, or -ENOSPC / -ENOMEM; what it wrote
 * stays in w->fresh either way, for tree_unreserve.
 */
int tree_update(struct tree_writer *w, uint64_t root, int multi, const struct tree_change *ch,
		size_t n, uint64_t ts, struct tree_result *out);

/*
 * tree_parent_toward, tree_leaf_below - the leaf of the tree at `root`
 * whose range holds `key`, in two steps, so that the caller can start
 * other loads while each node's cache miss is under way and a leaf's miss
 * overlaps other work before tree_update reaches it (the tree's nodes are
 * far more than the caches hold). tree_parent_toward returns the node of
 * level 1 on the way (the root, if the tree is lower; NULL for an empty
 * tree), reading the nodes above it but not it. tree_leaf_below(p) reads
 * that node and returns the leaf (p itself if p is a leaf), not read.
 */
const struct shm_node *tree_parent_toward(const struct tree_writer *w, uint64_t root,
					  const uint8_t *key, size_t klen);
const struct shm_node *tree_leaf_below(const struct tree_writer *w, const struct shm_node *p,
				       const uint8_t *key, size_t klen);

/* tree_unreserve - the transaction failed: free every node it wrote. */
void tree_unreserve(struct tree_writer *w);

/* The retire-queue items tree_retire_old will need. */
static inline size_t tree_old_count(const struct tree_writer *w)
{
	return w->old.n;
}

/* tree_retire_old - retire the nodes r replaced, at commit ts, each for the
 * snapshots from its creation on (room reserved: tree_old_count). */
void tree_retire_old(struct tree_writer *w, const struct tree_result *r, struct retire_queue *q,
		     uint64_t ts);

/* tree_store_refs - store r's leaf refs and entries in place (each ref
 * names a version complete before; new entries under the leaf's gen,
 * layout.h), at the commit ts, before its commit_ts is published; each
 * leaf changed records ts as its last store (stored_ts). */
void tree_store_refs(struct tree_writer *w, const struct tree_result *r, uint64_t ts);

#endif /* SHMDBD_TREE_H */
