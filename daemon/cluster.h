/*
 * cluster.h - gathering a table's records in the order its cursors read
 * them: the writer, when it has nothing else to do, copies the versions a
 * leaf of an ordered table names side by side into one stretch of arena,
 * in the leaf's order, and those a run of a hash table's index slots name,
 * in slot order, so that a reader walking a range or the whole table finds
 * the records of a few pages where it found one page per record (a table
 * gets its versions in load order, and a cursor reads them in key or slot
 * order). Multimaps hold their pairs in their leaves: none. Writer thread
 * only.
 *
 * A pass walks one table's leaves in key order, a leaf per step, or its
 * index's slots, STEP_SLOTS per step (a step per idle pass of the
 * writer's own thread, between transactions, once it has had none for a
 * moment); a table gets a pass once the puts since its last one reach an
 * eighth of its records (and CLUSTER_MIN_CHANGES). A leaf or run of slots
 * whose refs already lie close together is left as it is, so a pass over
 * a gathered table reads refs and moves little. A version moves only
 * if it is its key's head and no snapshot can walk past it to an older
 * one (it has no older version, or every snapshot is at least as new as
 * it): the copy takes its place in the index slot and the leaf (release
 * stores, as a new version does), with the same begin_ts, key and value,
 * so a reader that finds either reads the same record. The original is
 * retired (RETIRED_MOVED) for the snapshots that may reach it up to the
 * commit published then (reclaim.c says when it is freed). Nothing changes
 * that a snapshot can see: no commit, nothing logged.
 */
#ifndef SHMDBD_CLUSTER_H
#define SHMDBD_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "shmdb.h"

struct core;
struct shm_table;

/* The puts a pass waits for at least. */
#define CLUSTER_MIN_CHANGES 4096u

struct cluster {
	/* Puts per table since its last pass, by catalog slot (for the table
	 * whose id is in changed_id). */
	uint64_t changed[SHM_MAX_TABLES];
	uint32_t changed_id[SHM_MAX_TABLES];
	uint32_t due;          /* tables past the threshold, about (a hint) */
	/* The pass under way: its table (0: none) and where the next step
	 * starts: an ordered table's, the first key of the next leaf (none
	 * yet: the first leaf); a hash table's, resume_slot. */
	uint32_t table;
	bool resume_set;
	uint32_t resume_len;
	uint8_t resume[SHMDB_MAX_KEY];
	uint64_t resume_slot;  /* a hash table's: the first slot of the next step */
	/* Statistics. */
	uint64_t moved;        /* versions moved */
	uint64_t passes;       /* passes ended */
};

/* Table t took `ops` puts (apply.c). */
void cluster_note(struct cluster *cl, const struct shm_table *t, uint64_t ops);

/* Whether a pass is under way or due: the writer then takes steps
 * (cluster_step) rather than sleep. */
static inline bool cluster_pending(const struct cluster *cl)
{
	return cl->table || cl->due;
}

/* One step of the pass under way, or of one due (it starts): a few
 * leaves gathered. Between transactions. */
void cluster_step(struct core *c);

#endif /* SHMDBD_CLUSTER_H */
