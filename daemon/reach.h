/*
 * reach.h - versions that snapshots older than themselves reach: the heads
 * a replaced leaf of an ordered table names (layout.h, struct shm_node).
 * Writer thread only.
 *
 * A leaf ref is stored in place when its key is overwritten, so a leaf
 * names versions newer than itself. Once the leaf is replaced, the old one
 * still serves the snapshots from its created_ts on, and each of them
 * starts its walk down the key's chain at the version the leaf names: that
 * version must stay, linked, for them, though they do not see it. The
 * writer notes it here when the leaf is replaced (unless no snapshot is
 * older than the leaf's last store in place, layout.h stored_ts: then
 * none is older than the version either), and retires the version,
 * when its own time comes, for the snapshots from the earliest note on
 * instead of from its begin_ts (apply.c). So a snapshot keeps, per key, at
 * most one version more than it sees: the head of the one leaf it reached
 * that was replaced. A note is useless once every snapshot is at least as
 * new as the commit that replaced the leaf: then it is dropped
 * (reach_forget_before), so the notes are bounded by what live snapshots
 * can still reach, not by the keys ever overwritten.
 *
 * Two generations of open-addressed tables of (version offset, earliest
 * snapshot, last replacing commit, table), linear probing, deletion by
 * moving back the entries behind. Notes go into the current generation;
 * once every snapshot is at least as new as the latest until of the old
 * one, the old one goes whole (no note is looked at), and the current one
 * becomes the old. A bulk load replaces leaves at every commit while the
 * horizon trails it by a few: forgetting note by note, behind it, took a
 * twentieth of its time. A note no snapshot needs may so stay a while in
 * a generation that is kept for a newer one; it is harmless: its version
 * was stored into a leaf replaced before every live snapshot, so that
 * both the version's begin_ts and the note's from are older than each of
 * them, and its retirement is judged by the same live snapshots either
 * way. A version noted in both generations is taken from both, the
 * earliest snapshot of the two. A clear or drop forgets its table's
 * notes: those versions leave with the index.
 */
#ifndef SHMDBD_REACH_H
#define SHMDBD_REACH_H

#include <stddef.h>
#include <stdint.h>

struct reach_note {
	uint64_t off;   /* 0: empty */
	uint64_t from;  /* the earliest snapshot that reaches it */
	uint64_t until; /* no snapshot this new or newer needs the note */
	uint32_t table;
};

struct reach_table {
	struct reach_note *v;
	size_t n, cap;      /* cap: 0 or a power of two */
	uint64_t until_max; /* the latest until of its notes */
};

struct reach {
	struct reach_table cur, old;
};

void reach_free(struct reach *r);

/* Note that the snapshots in [from, until) reach version `off` of `table`
 * (the leaf's creation, and the commit that replaced it; notes of one
 * version merge into the widest). 0, or -ENOMEM (nothing noted). */
int reach_note(struct reach *r, uint64_t off, uint64_t from, uint64_t until, uint32_t table);

/* The earliest snapshot noted for version off, forgotten now; UINT64_MAX
 * if none. */
uint64_t reach_take(struct reach *r, uint64_t off);

/* Forget the notes of table (cleared or dropped). */
void reach_forget_table(struct reach *r, uint32_t table);

/* Every snapshot is `horizon` or newer: forget the old generation if no
 * snapshot needs any of its notes (until <= horizon), and the current one
 * too if none of its; then, with the old one gone, the current one
 * becomes the old. A table takes left mostly empty gets smaller (a probe
 * of a big table costs a cache miss at every overwrite). Cheap when there
 * is nothing to do: the writer calls it before every commit. */
void reach_forget_before(struct reach *r, uint64_t horizon);

/* The notes held (a version noted in both generations counts twice). */
size_t reach_count(const struct reach *r);

#endif /* SHMDBD_REACH_H */
