/*
 * pending.h - an ordered table's key left out of its tree for a while
 * (layout.h, struct shm_count's pending; pending.c): which commits leave
 * one out, and the commits that place it. Writer thread only.
 */
#ifndef SHMDBD_PENDING_H
#define SHMDBD_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct core;
struct tree_change;

/* Tables that may have a key pending, by id; more are not left out. */
#define PENDING_TABLES 64

struct pending_tables {
	uint32_t id[PENDING_TABLES];
	unsigned n;
	/* The leaf pending_warm found last: for table `warm_id` whose tree
	 * had root `warm_root` and key pending `warm_v` (a tree changes only
	 * by a commit, which places the key and forgets this). */
	const struct shm_node *warm_leaf;
	uint64_t warm_root, warm_v;
	uint32_t warm_id;
	uint64_t failed_at;  /* the last commit when a placing commit failed
			      * (no room); 0: none */
};

/* The version of t's key pending at its last commit, 0 if none. */
uint64_t pending_of(const struct core *c, const struct shm_table *t);

/* A writer with nothing to do for this long places the keys pending. */
#define PENDING_QUIET_NS 20000ull

/*
 * pending_decide - whether the transaction being prepared (nops ops, its
 * blocks reserved) leaves its key out of the tree: one PUT by a client of
 * a key new to an ordered table that has a tree (its key pending before,
 * if any, is placed by it). Sets c->scratch.pend_left; its tree change is
 * then not made (prepare.c) and its leaf is not loaded (apply.c).
 */
void pending_decide(struct core *c, size_t nops);

/*
 * pending_change - the change that places t's pending key `v` (its
 * version) in t's tree, made by a transaction that changes that tree in
 * other ways; 0 if the transaction's own changes ch[0..n) name the key
 * already (its last word on the key stands). Returns 1 with *out set.
 */
int pending_change(const struct core *c, const struct shm_table *t, uint64_t v,
		   const struct tree_change *ch, size_t n, struct tree_change *out);

/* After a commit: t's key pending is now `v` (0: none). */
void pending_note(struct core *c, const struct shm_table *t, uint64_t v);

/* Whether a table may have a key pending. */
static inline int pending_any(const struct pending_tables *p)
{
	return p->n != 0;
}

/* pending_warm - start loading each pending key's leaf (the nodes above
 * it are read): after a pass's completions are posted. */
void pending_warm(struct core *c);

/*
 * pending_place - place every table's pending key in its tree, each by a
 * commit of its own (not logged: it changes no record), and publish it.
 * Between passes, once the clients' completions are posted. One that
 * fails (no room) is tried again only after another commit.
 */
void pending_place(struct core *c);

#endif /* SHMDBD_PENDING_H */
