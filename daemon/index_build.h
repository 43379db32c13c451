/*
 * index_build.h - making room in a table's hash index: growing it in steps
 * while the current index stays live, or rebuilding it at once. Writer
 * thread only.
 *
 * The state machine of a build, one table at a time:
 *
 *   idle --index_make_room (past half load)--> clearing the new index
 *   clearing --steps--> copying the current index's slots in order
 *   copying --steps--> published (the new index replaces the current one,
 *                      which is retired) --> idle
 *   any --index_build_abort (its table dropped)--> idle, the new index freed
 *   clearing --index_room_cancel (the transaction that began it refused)-->
 *            idle, the new index freed
 *
 * At every step the new index holds exactly the current one's keys in the
 * slots the build has passed, less the dead ones it left out: a write to a
 * passed slot is repeated there (index_build_repeat). Readers see one index
 * or the other, each complete for their snapshot.
 */
#ifndef SHMDBD_INDEX_BUILD_H
#define SHMDBD_INDEX_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "layout.h"
#include "retire.h"

#define INDEX_MIN_LOG2 6u /* a new table's index: 64 slots ... */
#define INDEX_MIN_BYTES (sizeof(uint64_t) << INDEX_MIN_LOG2) /* ... one 512-byte block */

/* Slots a build step copies, plus BUILD_PER_ADD per key the transaction may
 * add to the build's table (index_build.c says why). The per-key part alone
 * ends a build in time; the constant part ends one whose table gains no
 * keys, and is what a 1-put insert pays during a build: at 128, about 3 us,
 * which 14% of a stream of them pay; at 1,024 it was about 20 us for 2% of
 * them, the p99 of 1-put inserts (bench/LOG.md). */
#define BUILD_STEP 128
#define BUILD_PER_ADD 16

/* A dead key a build left out: its slot in the current index, and the
 * offset and commit of its head (a tombstone) when the build passed it.
 * The commit tells that head from a later one in the same block: written
 * again, the key retires that tombstone, which may be freed and its block
 * reused for the key's next tombstone, at the same offset. */
struct left_out {
	uint64_t pos, off, begin_ts;
};

/* A rebuild a transaction's prepare decided on: the new index is
 * allocated and cleared, and filled and published only at its commit. */
struct planned_rebuild {
	struct shm_table *t;
	uint64_t word;
};

struct index_build {
	uint8_t *base;
	struct alloc *alloc;
	struct retire_queue *retired;  /* its horizon tells dead keys */
	struct planned_rebuild *planned; /* index_make_room's rebuilds, */
	size_t nplanned, planned_cap;  /* until index_room_commit or _cancel */
	int begun;                     /* the build under way began in them */
	struct shm_table *t;           /* NULL: no build under way */
	uint64_t word;                 /* the new index, not yet published */
	uint64_t zeroed;               /* its slots [0, zeroed) are cleared */
	uint64_t copied;               /* the current index's slots [0, copied) are in it */
	uint64_t used;                 /* its non-empty slots */
	struct left_out *dead;         /* the dead keys it left out, retired when */
	size_t ndead, dead_cap;        /* it is published if still the heads */
	uint64_t keys_copied;          /* keys every copy so far looked at, */
	uint64_t versions_read;        /* and the versions it read (index_build.c) */
};

void index_build_init(struct index_build *b, uint8_t *base, struct alloc *alloc,
		      struct retire_queue *retired);
void index_build_destroy(struct index_build *b);

/*
 * index_make_room - make room in t's index for `adds` more keys, as the
 * transaction being prepared needs it. Past half load, with few
 * tombstones, no other build under way and no `reserve` (a RESERVE op,
 * whose room is the index's as it is if it fits), begin a build of the
 * next index. When the load would pass 3/4: finish a build of t at once
 * (publishing it, and retiring the old index at `ts`: no snapshot's view
 * changes, and no byte is taken), or else plan a rebuild, at
 * twice the live keys (plus adds), or at the largest size if that holds
 * them at 3/4 and the rebuild drops a sixteenth of it, dropping keys that
 * no snapshot can see. A build begun here and every rebuild planned stay
 * pending until index_room_commit or index_room_cancel, so that a
 * transaction refused later keeps no index of its own. Returns 0, -ENOSPC
 * or -ENOMEM.
 */
int index_make_room(struct index_build *b, struct shm_table *t, uint64_t adds, int reserve,
		    uint64_t ts);

/* index_room_retires - at most how many items the planned rebuilds retire
 * (each its old index and the dead keys it drops): the room the caller
 * reserves in the retire queue before index_room_commit. */
size_t index_room_retires(const struct index_build *b);

/* index_room_commit - the transaction will commit at `ts`: fill and
 * publish each planned rebuild, retiring the old index and the dropped
 * keys at `ts` (their room reserved), and keep the build begun. */
void index_room_commit(struct index_build *b, uint64_t ts);

/* index_room_cancel - the transaction is refused: free the planned
 * rebuilds' indexes and give up a build begun for it. */
void index_room_cancel(struct index_build *b);

/*
 * index_build_step - if a build is under way, take a step of it: clear new
 * slots, then copy up to BUILD_STEP + BUILD_PER_ADD * adds slots (adds:
 * keys the transaction may add to the build's table); when every slot is
 * copied, publish the new index and retire the old one and the dead heads
 * left out at `ts`, keeping room in the retire queue for `retire_more`
 * items after them. A step that cannot publish for want of memory is
 * taken again by the next.
 */
void index_build_step(struct index_build *b, uint64_t adds, uint64_t ts, size_t retire_more);

/*
 * index_build_repeat - slot `pos` of t's current index, whose key[0..klen)
 * has `hash`, now holds `value`: if a build of t has passed pos, repeat the
 * write in the new index (the same version, in the slot the new index
 * gives the key, layout.h).
 */
void index_build_repeat(struct index_build *b, const struct shm_table *t, uint64_t pos,
			uint64_t hash, const void *key, uint32_t klen, uint64_t value);

/* index_build_home - where a write of the key with `hash` to t's index
 * may be repeated (index_build_repeat): its home in the new index, if a
 * build of t has passed its home in the current one; else NULL. For a
 * prefetch. */
static inline const uint64_t *index_build_home(const struct index_build *b,
					       const struct shm_table *t, uint64_t hash)
{
	if (b->t != t || (hash & shm_index_mask(t->index)) >= b->copied)
		return NULL;
	return (const uint64_t *)(b->base + shm_index_off(b->word)) + (hash & shm_index_mask(b->word));
}

/* index_build_abort - t is being dropped: give up a build of t, if one is
 * under way (dropping retires every head of t's current index, the
 * left-out ones too; the new index was never seen, and is freed now). */
void index_build_abort(struct index_build *b, const struct shm_table *t);

#endif /* SHMDBD_INDEX_BUILD_H */
