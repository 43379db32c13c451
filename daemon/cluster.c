/*
 * cluster.c - gathering a table's records in the order its cursors read
 * them (see cluster.h).
 *
 * On an ordered table a step walks down from the table's root to the leaf
 * that holds the resume key, then on to the leaves after it, as a cursor
 * does, through the writer's own nodes (no other thread changes them). It
 * keeps no pointer between steps, only a key: the commits in between may
 * replace any node. On a hash table it keeps a slot number: an index
 * rebuilt in between is walked on from the same slot (a pass that skips
 * or repeats a few slots of it only gathers less or again; no slot of a
 * live index is ever emptied, so every head a step sees is its key's).
 *
 * Why a move is invisible. The copy is written whole before the release
 * stores that name it in the key's index slot and leaf ref, so a reader
 * that loads either (acquire) finds it complete; it has the original's
 * begin_ts, key, value and older link, so every snapshot reads from it
 * what it read from the original. A reader that loaded the original keeps
 * it: the original is retired for the snapshots that may reach it, from
 * its begin_ts (or earlier, as a replaced version is) up to the commit
 * published at the move (retire.h, RETIRED_MOVED); a reader whose
 * snapshot is newer began after the move and finds the copy, and one
 * older than the original walks past it (freed, it reads as a pruned
 * version: the reader finds its slot or ref changed and starts again
 * from there). The older link is copied only where no snapshot follows
 * it: from a version with none, or one every live snapshot is at least as
 * new as (the horizon);
 * else the reclaimer, unlinking the version below, would change the
 * original's link and not the copy's (prune.c). Tombstones stay: a
 * snapshot that sees one reads nothing from it.
 */
#include "cluster.h"

#include <string.h>

#include "alloc.h"
#include "core.h"
#include "index.h"
#include "pressure.h"
#include "reach.h"
#include "retire.h"
#include "tables.h"
#include "tree_read.h"

/* Leaves a step looks at: one, about 9 us here, which is how long a
 * transaction that comes meanwhile waits (a pass over 1,000,000 records
 * takes 190-200 ms; four a step, 150 ms and 27 us). */
#define STEP_LEAVES 1u
/* Versions larger than this stay where they are: a page holds few anyway. */
#define MAX_VERSION_BYTES 1024u
/* Refs of neighbouring entries this far apart or more are a break; a leaf
 * with more breaks than a quarter of its entries is gathered. */
#define NEAR_BYTES 4096u
/* Index slots a step of a hash table's pass looks at (about as many heads
 * as a leaf names, at the index's fill), and the most versions gathered
 * into one stretch. */
#define STEP_SLOTS 128u
#define GATHER_RUN SHM_NODE_MAX

static bool over(uint64_t changed, const struct shm_table *t)
{
	return changed >= CLUSTER_MIN_CHANGES && changed >= t->records / 8;
}

/* Hash tables and ordered ones (secondary indexes too; they name
 * versions from their leaves); a multimap's pairs are in its leaves. */
static bool gathers(const struct shm_table *t)
{
	return !(t->kind & SHM_KIND_MULTI);
}

void cluster_note(struct cluster *cl, const struct shm_table *t, uint64_t ops)
{
	if (!gathers(t) || !ops)
		return;
	uint32_t s = SHM_TABLE_SLOT(t->id);
	if (cl->changed_id[s] != t->id) {
		cl->changed_id[s] = t->id;
		cl->changed[s] = 0;
	}
	bool was = over(cl->changed[s], t);
	cl->changed[s] += ops;
	if (!was && over(cl->changed[s], t))
		cl->due++;
}

/* Begin a pass over the table most changed of those due; false if none is
 * (the hint was stale). */
static bool start_pass(struct cluster *cl, struct core *c)
{
	uint32_t best = SHM_MAX_TABLES, due = 0;
	for (uint32_t s = 0; s < SHM_MAX_TABLES; s++) {
		if (!cl->changed[s])
			continue;
		const struct shm_table *t = tables_live(&c->tables, cl->changed_id[s]);
		if (!t || !gathers(t) || !over(cl->changed[s], t))
			continue;
		due++;
		if (best == SHM_MAX_TABLES || cl->changed[s] > cl->changed[best])
			best = s;
	}
	if (best == SHM_MAX_TABLES) {
		cl->due = 0;
		return false;
	}
	cl->due = due - 1;
	cl->table = cl->changed_id[best];
	cl->changed[best] = 0;
	cl->resume_set = false;
	cl->resume_slot = 0;
	return true;
}

static void end_pass(struct cluster *cl)
{
	cl->table = 0;
	cl->passes++;
}

/* Whether the refs of leaf n's count entries lie close enough together. */
static bool close_enough(const uint64_t *ref, unsigned count)
{
	unsigned breaks = 0;
	for (unsigned i = 1; i < count; i++) {
		uint64_t d = ref[i] > ref[i - 1] ? ref[i] - ref[i - 1] : ref[i - 1] - ref[i];
		breaks += d >= NEAR_BYTES;
	}
	return breaks * 4 <= count;
}

/* The slot of the index slots[0..mask] that names the version at `off`,
 * whose key hashes to `hash`; mask + 1 if none does. */
static uint64_t slot_naming(const uint64_t *slots, uint64_t mask, uint64_t hash, uint64_t off)
{
	for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
		uint64_t s = slots[i];
		if (s == 0)
			return mask + 1;
		if ((s & SHM_SLOT_OFF_MASK) == off)
			return i;
	}
}

/* Of the versions ref[0..count), those that may move: their places in
 * ref into at[], their sizes into size[] and their keys' hashes into
 * hash[]; how many. Their home slots start loading. */
static unsigned movable(const struct core *c, const uint64_t *ref, unsigned count,
			const uint64_t *slots, uint64_t mask, uint32_t *at, uint32_t *size,
			uint64_t *hash)
{
	unsigned m = 0;
	for (unsigned i = 0; i < count; i++)
		__builtin_prefetch(c->base + ref[i]);
	for (unsigned i = 0; i < count; i++) {
		const struct shm_version *v = (const struct shm_version *)(c->base + ref[i]);
		if (v->vlen == SHM_TOMBSTONE || (v->older && v->begin_ts > c->retired->horizon))
			continue;
		size_t bytes = shm_version_size(v->klen, v->vlen);
		if (bytes > MAX_VERSION_BYTES)
			continue;
		at[m] = i;
		size[m] = (uint32_t)bytes;
		hash[m] = shm_key_hash(v->key, v->klen);
		__builtin_prefetch(&slots[hash[m] & mask]);
		m++;
	}
	return m;
}

/* The oldest snapshot that may reach the version at `off` of table t, as
 * for a version replaced (apply.c): its begin_ts, unless a replaced index
 * or leaf names it (then every snapshot, or those from the leaf's
 * creation). The version's note, if it has one, is taken. */
static uint64_t reached_from(struct core *c, const struct shm_table *t, uint64_t off)
{
	const struct shm_version *v = (const struct shm_version *)(c->base + off);
	uint64_t from = v->begin_ts < t->index_replaced_ts ? 0 : v->begin_ts;
	uint64_t leaf = reach_take(&c->tree.reach, off);
	return leaf < from ? leaf : from;
}

/* Put a copy of the version at `from` (size bytes, its key hashing to
 * `hash`) at `to`, in its place in slots[pos]. */
static void publish_copy(struct core *c, struct shm_table *t, uint64_t *slots, uint64_t pos,
			 uint64_t hash, uint64_t from, uint64_t to, uint32_t size)
{
	struct shm_version *copy = (struct shm_version *)(c->base + to);
	memcpy(copy, c->base + from, size);
	uint64_t value = (slots[pos] & ~SHM_SLOT_OFF_MASK) | to; /* the key's slot as it was */
	/* Release: the copy is whole before a reader finds it. */
	__atomic_store_n(&slots[pos], value, __ATOMIC_RELEASE);
	index_build_repeat(&c->build, t, pos, hash, copy->key, copy->klen, value);
}

/* The original at `from`, copied: retired for the snapshots that may
 * have loaded it, every one at most `end`. */
static void retire_original(struct cluster *cl, struct core *c, const struct shm_table *t,
			    uint64_t from, uint32_t size, uint64_t end)
{
	retire_block(c->retired, end, reached_from(c, t, from), from, size, RETIRED_MOVED);
	cl->moved++;
}

/* Gather the versions of leaf n of table t side by side, in its order. */
static void gather_leaf(struct cluster *cl, struct core *c, struct shm_table *t,
			struct shm_node *n)
{
	uint64_t *ref = (uint64_t *)shm_node_ref(n);
	uint32_t at[SHM_NODE_MAX], size[SHM_NODE_MAX];
	uint64_t hash[SHM_NODE_MAX], to[SHM_NODE_MAX];
	if (n->count < 2 || close_enough(ref, n->count))
		return;
	uint64_t *slots = (uint64_t *)(c->base + shm_index_off(t->index));
	uint64_t mask = shm_index_mask(t->index);
	unsigned m = movable(c, ref, n->count, slots, mask, at, size, hash);
	if (m < 2 || retire_reserve(c->retired, m) || alloc_get_run(c->alloc, size, m, to))
		return;
	/* Every snapshot that may have loaded an original is at most this. */
	uint64_t end = c->applied_ts + 1;
	for (unsigned k = 0; k < m; k++) {
		uint64_t from = ref[at[k]];
		uint64_t pos = slot_naming(slots, mask, hash[k], from);
		if (pos > mask) { /* not its key's head: leave it */
			alloc_put(c->alloc, to[k], size[k]);
			continue;
		}
		publish_copy(c, t, slots, pos, hash[k], from, to[k], size[k]);
		__atomic_store_n(&ref[at[k]], to[k], __ATOMIC_RELEASE);
		n->stored |= 1ull << at[k]; /* noted if the leaf is replaced (reach.h) */
		n->stored_ts = end;     /* the copy is older */
		retire_original(cl, c, t, from, size[k], end);
	}
}

/* Gather the heads the slots pos[0..count) of table t's index name
 * (ref[0..count), count at most GATHER_RUN) side by side, in slot order. */
static void gather_run(struct cluster *cl, struct core *c, struct shm_table *t,
		       const uint64_t *ref, const uint64_t *pos, unsigned count)
{
	uint32_t at[GATHER_RUN], size[GATHER_RUN];
	uint64_t hash[GATHER_RUN], to[GATHER_RUN];
	uint64_t *slots = (uint64_t *)(c->base + shm_index_off(t->index));
	uint64_t mask = shm_index_mask(t->index);
	unsigned m = movable(c, ref, count, slots, mask, at, size, hash);
	if (m < 2 || retire_reserve(c->retired, m) || alloc_get_run(c->alloc, size, m, to))
		return;
	uint64_t end = c->applied_ts + 1;
	for (unsigned k = 0; k < m; k++) {
		publish_copy(c, t, slots, pos[at[k]], hash[k], ref[at[k]], to[k], size[k]);
		retire_original(cl, c, t, ref[at[k]], size[k], end);
	}
}

/* One step of a pass over hash table t: the heads named by the next
 * STEP_SLOTS slots of its index, unless they lie close together already.
 * The pass ends at the index's last slot (the index the table has then:
 * one rebuilt meanwhile is walked on from the same slot). */
static void gather_slots(struct cluster *cl, struct core *c, struct shm_table *t)
{
	const uint64_t *slots = (const uint64_t *)(c->base + shm_index_off(t->index));
	uint64_t mask = shm_index_mask(t->index), first = cl->resume_slot;
	uint64_t stop = first + STEP_SLOTS <= mask + 1 ? first + STEP_SLOTS : mask + 1;
	uint64_t ref[STEP_SLOTS], pos[STEP_SLOTS];
	unsigned count = 0;
	for (uint64_t i = first; i < stop; i++)
		if (slots[i]) {
			ref[count] = slots[i] & SHM_SLOT_OFF_MASK;
			pos[count++] = i;
		}
	cl->resume_slot = stop;
	if (count >= 2 && !close_enough(ref, count))
		for (unsigned b = 0; b < count; b += GATHER_RUN)
			gather_run(cl, c, t, ref + b, pos + b,
				   count - b < GATHER_RUN ? count - b : GATHER_RUN);
	if (stop > mask)
		end_pass(cl);
}

/* Whether memory is plentiful: a move holds a version twice for a while,
 * and the bytes it takes must not be the ones a client's next commit
 * needs. So no move once the memory level is past normal, nor once less
 * than an eighth of the arenas was never handed out: a copy takes a
 * stretch of new space, and the original, freed, is a block of its class
 * only (freed blocks are not joined again, alloc.h), which versions of
 * its size take again but an index that grows, a node or a large value
 * cannot. Passes would otherwise turn the fresh space into small blocks,
 * and a commit that needs a large one would fail with bytes free (with no
 * bound, test_durable's index_build_fails_for_room failed so under load).
 * An eighth, not a quarter: at a quarter, shmdb-bench's ordered workload
 * gathered its hash table and then only half its ordered one, in an arena
 * of 1.3 GiB holding 0.55 GiB. */
static bool room_to_move(struct core *c)
{
	if (alloc_fresh(c->alloc) < alloc_capacity(c->alloc) / 8)
		return false;
	return !c->monitor || pressure_check(c->monitor) == SHMDB_PRESSURE_NORMAL;
}

void cluster_step(struct core *c)
{
	struct cluster *cl = &c->cluster;
	if (!cl->table && !start_pass(cl, c))
		return;
	struct shm_table *t = tables_live(&c->tables, cl->table);
	bool ordered = t && (t->kind & SHM_KIND_ORDERED);
	if (!t || !gathers(t) || !room_to_move(c) || (ordered && !t->root)) {
		end_pass(cl);
		return;
	}
	if (!ordered) {
		gather_slots(cl, c, t);
		return;
	}
	const struct shm_node *path[SHM_TREE_MAX_HEIGHT];
	unsigned at[SHM_TREE_MAX_HEIGHT], depth = 0;
	struct shm_target key = shm_target_of(cl->resume, cl->resume_len, cl->resume, 0, 0);
	const struct shm_node *n = shm_node_at(c->base, t->root);
	while (n->level) {
		unsigned i = cl->resume_set ? shm_node_child(n, &key) : 0;
		path[depth] = n;
		at[depth++] = i;
		n = shm_node_at(c->base, shm_node_ref(n)[i]);
	}
	for (unsigned k = 0; k < STEP_LEAVES; k++) {
		gather_leaf(cl, c, t, (struct shm_node *)n);
		/* The next leaf: up to the nearest node with a child after
		 * the path's, then down its first children. */
		unsigned j = depth;
		while (j > 0 && at[j - 1] + 1u >= path[j - 1]->count)
			j--;
		if (j == 0) {
			end_pass(cl);
			return;
		}
		at[j - 1]++;
		n = shm_node_at(c->base, shm_node_ref(path[j - 1])[at[j - 1]]);
		for (; j < depth; j++) {
			path[j] = n;
			at[j] = 0;
			n = shm_node_at(c->base, shm_node_ref(n)[0]);
		}
	}
	struct shm_node_entry e = shm_node_ent(n)[0];
	memcpy(cl->resume, (const uint8_t *)n + e.off, e.klen);
	cl->resume_len = e.klen;
	cl->resume_set = true;
}
