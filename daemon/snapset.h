/*
 * snapset.h - the live snapshots, as one sweep of the reader slots finds
 * them: sorted and distinct, each with the pid of a session holding it, so
 * that the reclaimer asks in O(log S) which snapshots see an item, and can
 * name the oldest one's holder. Writer thread only.
 */
#ifndef SHMDBD_SNAPSET_H
#define SHMDBD_SNAPSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"

/*
 * Where the live snapshots are: one sweep over every reader slot of every
 * session. begin starts a sweep, next returns the next run of *n slots and
 * the pid of the session they belong to (NULL after the last), end closes
 * it. A sweep sees every session that was registered when it began. Called
 * inside the caller's RCU read-side section.
 */
struct slot_source {
	void (*begin)(void *ctx);
	const struct shm_reader_slot *(*next)(void *ctx, unsigned *n, pid_t *pid);
	void (*end)(void *ctx);
	void *ctx;
};

struct snap_holder {
	uint64_t snap;
	pid_t pid;
};

struct snapset {
	struct snap_holder *v;  /* n of them, by snap ascending, distinct */
	size_t n, cap;
};

void snapset_init(struct snapset *set);
void snapset_free(struct snapset *set);

/*
 * snapset_scan - replace set by the snapshots the slots of `src` hold in
 * [floor, ceiling]: a slot claiming one outside is ignored, as no reader
 * can legitimately hold it (one that stored a stale snapshot re-checks
 * commit_ts and retries, libshm/read.c). Call after a grace period that
 * began after the commits the caller will judge were published (grace.h).
 * Returns 0, or -ENOMEM (then set is empty and must not be used).
 */
int snapset_scan(struct snapset *set, const struct slot_source *src, uint64_t floor,
		 uint64_t ceiling);

/* The newest snapshot of set in [lo, hi), or 0 if none: O(log n). */
uint64_t snapset_newest_in(const struct snapset *set, uint64_t lo, uint64_t hi);

/* Whether set holds snapshot snap. */
static inline bool snapset_has(const struct snapset *set, uint64_t snap)
{
	return snap && snapset_newest_in(set, snap, snap + 1) == snap;
}

#endif /* SHMDBD_SNAPSET_H */
