/*
 * tree_write.h - writing the nodes of an ordered table's copy-on-write tree
 * (layout.h, struct shm_node), for tree.c's update: the entries a node is
 * made of, a node written from them, a node copied with new refs or with
 * some children replaced, a leaf written from an old one and a few
 * changes. Writer thread only; private
 * to the daemon's tree code.
 */
#ifndef SHMDBD_TREE_WRITE_H
#define SHMDBD_TREE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "tree.h"

/* A node's bytes: what a rebuilt node's entries are spread to aim at, and
 * the most one node takes (a few entries of the longest keys and values). */
#define NODE_TARGET_BYTES 4096u
#define NODE_MAX_BYTES 16384u

/* An entry being placed in a node: where its bytes are now (an old node,
 * a new one, or the transaction's copy), and what it refers to. */
struct tree_ent {
	const uint8_t *key;
	const uint8_t *val;
	uint64_t prefix;
	uint64_t ref;
	uint16_t klen;
	uint16_t vlen;
	uint8_t fresh;  /* ref is a node this transaction wrote */
	uint8_t kept;   /* ref is a node the transaction kept as it was: only
			 * ref is set, the rest is its first entry's, read
			 * only if a node is written with it (tree_emit) */
};

/* A child of an inner node that a transaction's changes reach: what it
 * became is a span of its level's vector (tree.c). */
struct tree_span {
	uint32_t child, from, to;        /* the child; what it became: v[from..to) */
	uint32_t j, k;                   /* its changes: ch[j..k) */
	const struct tree_change *carry; /* a TREE_WIPE from before it */
};

/* One tree_update: its table's kind, its commit and its counts. */
struct tree_upd {
	int multi;
	size_t changes;  /* the changes the transaction makes to the tree */
	uint32_t table;
	uint64_t ts;
	int64_t records;
	int64_t bytes;
};

/* The node at offset off of the range. */
static inline const struct shm_node *tree_node_at(const struct tree_writer *w, uint64_t off)
{
	return (const struct shm_node *)(w->base + off);
}

/* Entry i of node n, where it lies in n. */
static inline struct tree_ent tree_ent_at(const struct shm_node *n, unsigned i)
{
	const struct shm_node_entry *e = &shm_node_ent(n)[i];
	const uint8_t *b = (const uint8_t *)n + e->off;
	return (struct tree_ent){ .key = b, .val = b + e->klen, .prefix = shm_node_prefix(n)[i],
				  .ref = shm_node_ref(n)[i], .klen = e->klen, .vlen = e->vlen };
}

/* Where node n's entries' bytes begin: after its arrays of n->cap slots. */
static inline uint32_t tree_data_start(const struct shm_node *n)
{
	return (uint32_t)(sizeof(struct shm_node) + (size_t)n->cap * 24);
}

/* The slots a node of n entries of `data` bytes is written with, and its
 * bytes: a leaf of an ordered table (not a multimap: its pairs have no
 * versions to hide a new one from older snapshots) gets room to take keys
 * in place (layout.h; tree.c), as many slots as SHM_NODE_MAX and bytes for
 * as many keys again of its average length, within NODE_MAX_BYTES; any
 * other node just what it holds. */
size_t tree_node_room(const struct tree_upd *u, unsigned level, size_t n, size_t data,
		      size_t *cap);

/* Whether a node is small enough to merge with a sibling. */
static inline int tree_small(const struct shm_node *n)
{
	/* What it holds, not its bytes: a leaf with room is never small by
	 * those. */
	return n->count < SHM_NODE_MAX / 4 &&
	       shm_node_size(n->count, n->data_end - tree_data_start(n)) < NODE_TARGET_BYTES / 4;
}


/* The array p of *cap elements of `size` bytes, n of them in use, with
 * room for one more: p itself, or a bigger copy (*cap updated), or NULL
 * (p unchanged) when memory is short. */
void *tree_room_for_one(void *p, size_t *cap, size_t n, size_t size);

/* Append e to v, or to o the offset off: 0 or -ENOMEM. */
int tree_vec_push(struct tree_vec *v, const struct tree_ent *e);
int tree_offs_push(struct tree_offs *o, uint64_t off);

/* Write v's entries as nodes at `level`, as few as the limits allow with
 * the entries spread evenly, and add an entry naming each to `out` (a
 * kept entry of v is read in first: its node's first entry). Leaves get
 * their bounds (layout.h): the next one's first prefix, and for the last
 * `hi`, the bound of the range v's entries come from. 0, -ENOSPC or
 * -ENOMEM; what was written is in w->fresh either way. */
int tree_emit(struct tree_writer *w, struct tree_upd *u, struct tree_vec *v, unsigned level,
	      uint64_t hi, struct tree_vec *out);

/* Whether entry e puts the same key (and value) where node n's entry i
 * is, naming a node not left small (a kept entry: the node n names
 * there): then n keeps its shape. */
int tree_same_entry(const struct tree_writer *w, const struct shm_node *n, unsigned i,
		    const struct tree_ent *e);

/* Write node n again as it is but for refs[k] at places at[k] (k < m),
 * and add an entry naming the copy to `out`. 0, -ENOSPC or -ENOMEM. */
int tree_write_patched(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
		       const uint32_t *at, const uint64_t *refs, size_t m, struct tree_vec *out);

/* Inner node n written again with each child sp names replaced by what
 * it became (v's span; none if it went), when that makes one node of
 * ordinary size and leaves no child small to merge: its other entries
 * copied as blocks instead of placed one by one (a leaf's split adds an
 * entry to its parent). Returns 1 if so (*err set: 0 or an error, the
 * node named in `out`), 0 if n needs the general rebuild. */
int tree_write_spliced(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
		       const struct tree_vec *v, const struct tree_spans *sp, struct tree_vec *out,
		       int *err);

/* Leaf n with the changes ch[0..m) written at once when the result is one
 * node of ordinary size or the two halves of a split (tree_write.c).
 * Returns 1 if so (*err set: 0 or an error), 0 if the changes need the
 * general merge. */
int tree_merge_direct(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
		      const struct tree_change *ch, size_t m, struct tree_vec *out, int *err);

#endif /* SHMDBD_TREE_WRITE_H */
