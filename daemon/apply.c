/*
 * apply.c - the writer's transaction apply (see apply.h).
 *
 * Three passes over the private copy of a transaction:
 *   1. decode and validate every operation (txn.c) once, into an array,
 *      with each key's hash;
 *   2. resolve tables, evaluate checks, make index room, reserve every
 *      block and retire-queue entry the transaction needs; on failure free
 *      the reserved blocks (never published) and report;
 *   3. build each version, link it in front of the key's chain, publish the
 *      slot with a release store, retire the version it replaced; then
 *      publish commit_ts with a release store.
 * Pass 2 may rebuild a table's index (bigger, or without keys that are dead
 * to every snapshot), or take a step of building its next one (pass 3 then
 * repeats writes there: "Growing an index in steps" below): neither changes
 * a snapshot's view, so either may happen even if the transaction then
 * fails.
 *
 * Counters the writer relies on: a table's index_used is the number of
 * non-empty slots of its index, records the number whose head is not a
 * tombstone, so index_used - records heads are tombstones (write_version
 * keeps both, a rebuild or a build's publication sets index_used to what
 * the new index holds, having dropped only tombstones, create_table zeroes
 * both).
 *
 * Ordering: a version and everything it points to are written before the
 * release store that publishes its slot; a catalog entry is complete before
 * the release store of its id; commit_ts is stored last. Readers pair these
 * with acquire loads (index.h, client read path).
 */
#include "apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "shmdb.h"
#include "txn.h"

#define INDEX_MIN_LOG2 6u /* a new table's index: 64 slots ... */
#define INDEX_MIN_BYTES (sizeof(uint64_t) << INDEX_MIN_LOG2) /* ... one 512-byte block */
_Static_assert(ALLOC_MAX == sizeof(uint64_t) << SHM_INDEX_MAX_LOG2, "the largest index is a block");
_Static_assert(SHMDB_MAX_TABLE_KEYS == (3ull << SHM_INDEX_MAX_LOG2) / 4,
	       "a table holds 3/4 of its largest index");

/* How often reclamation asks for a grace period while memory waits or the
 * horizon lags. Each is a kernel RCU grace period (grace.h) whose kthread
 * runs on any cpu, clients' included. Traced (sched_switch) over one
 * shmdb-bench run: asked back to back, 570 periods, and the kthread
 * preempted the client cpu 550 times; at most one per GRACE_EVERY_NS, 145
 * and 110. The cost is garbage waiting up to GRACE_EVERY_NS longer (under
 * 1 MB at 100k 150-byte puts a second). GRACE_BATCH_BYTES retired since the
 * last request ask at once, so heavy overwriting stays bounded, and memory
 * pressure reclaims at once (alloc_or_reclaim, index growth). */
#define GRACE_EVERY_NS 50000000ull
#define GRACE_BATCH_BYTES (1ull << 20)

static size_t index_bytes(uint64_t word)
{
	return (shm_index_mask(word) + 1) * sizeof(uint64_t);
}

static uint64_t *index_slots(struct applier *ap, uint64_t word)
{
	return (uint64_t *)(ap->base + shm_index_off(word));
}

static struct shm_version *version_at(struct applier *ap, uint64_t off)
{
	return (struct shm_version *)(ap->base + off);
}

static uint32_t version_bytes(const struct shm_version *v)
{
	return (uint32_t)shm_version_size(v->klen, v->vlen);
}

void applier_init(struct applier *ap, struct store *st, const struct session_registry *sessions,
		  struct grace *grace)
{
	memset(ap, 0, sizeof(*ap));
	ap->grace = grace;
	ap->base = st->base;
	ap->meta = st->meta;
	ap->sessions = sessions;
	alloc_init(&ap->alloc, st->base);
	for (unsigned i = 0; i < st->arena_count; i++) {
		const struct shm_arena_desc *d = &st->meta->arena_table[i];
		alloc_add_arena(&ap->alloc, d->range_off + d->used, d->range_off + d->size);
	}
	retire_init(&ap->retired);
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++)
		st->meta->tables[i].dropped_ts = SHM_TS_INFINITY;
	__atomic_store_n(&st->meta->commit_ts, 1, __ATOMIC_RELEASE);
	ap->horizon = 1;
}

static void scratch_free(struct applier *ap)
{
	free(ap->ops);
	free(ap->touched);
	free(ap->dropped);
	ap->ops = NULL;
	ap->touched = NULL;
	ap->dropped = NULL;
	ap->scratch_cap = 0;
}

void applier_destroy(struct applier *ap)
{
	retire_free_all(&ap->retired);
	free(ap->build.dead);
	scratch_free(ap);
}

/* ---- catalog ----------------------------------------------------------- */

static struct shm_table *live_table(struct applier *ap, uint32_t id)
{
	uint32_t slot = SHM_TABLE_SLOT(id);
	if (id == 0 || slot >= SHM_MAX_TABLES)
		return NULL;
	struct shm_table *t = &ap->meta->tables[slot];
	return t->id == id && t->state == SHM_TABLE_LIVE ? t : NULL;
}

static struct shm_table *table_by_name(struct applier *ap, const uint8_t *name, uint32_t len)
{
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++) {
		struct shm_table *t = &ap->meta->tables[i];
		if (t->state == SHM_TABLE_LIVE && t->name_len == len && !memcmp(t->name, name, len))
			return t;
	}
	return NULL;
}

static unsigned free_table_slots(struct applier *ap, unsigned want)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SHM_MAX_TABLES && n < want; i++)
		n += ap->meta->tables[i].state == SHM_TABLE_FREE;
	return n;
}

/* ---- index --------------------------------------------------------------- */

/* The newest version of op's key in t, or NULL, with its slot position;
 * `hash` is the key's. */
static struct shm_version *key_head(struct applier *ap, struct shm_table *t,
				    const struct shm_op *op, uint64_t hash, uint64_t *pos)
{
	uint64_t s;
	*pos = shm_index_probe(ap->base, index_slots(ap, t->index), shm_index_mask(t->index), hash,
			       op->key, op->klen, &s);
	return s ? version_at(ap, s & SHM_SLOT_OFF_MASK) : NULL;
}

static int dead_to_all(const struct applier *ap, const struct shm_version *head)
{
	return head->vlen == SHM_TOMBSTONE && head->begin_ts <= ap->horizon;
}

/* A new index of 2^log2 slots, cleared if `clear`: its index word, or 0
 * if no room. */
static uint64_t new_index(struct applier *ap, unsigned log2, int clear)
{
	size_t bytes = ((size_t)1 << log2) * sizeof(uint64_t);
	uint64_t off = alloc_get(&ap->alloc, bytes);
	if (!off)
		return 0;
	if (clear)
		memset(ap->base + off, 0, bytes);
	return shm_index_word(off, log2);
}

/* Old slots whose versions a rebuild loads at once: each slot's key is in
 * its version, a cache miss away, and the misses of a chunk overlap instead
 * of coming one after another. */
#define REHASH_CHUNK 32
_Static_assert(REHASH_CHUNK <= 1u << INDEX_MIN_LOG2, "chunks divide every index");

/* How many of the cap slots at `old` hold a key dead to every snapshot. */
static uint64_t count_dead(struct applier *ap, const uint64_t *old, uint64_t cap)
{
	uint64_t dead = 0;
	for (uint64_t c = 0; c < cap; c += REHASH_CHUNK) {
		for (unsigned i = 0; i < REHASH_CHUNK; i++)
			if (old[c + i])
				__builtin_prefetch(version_at(ap, old[c + i] & SHM_SLOT_OFF_MASK));
		for (unsigned i = 0; i < REHASH_CHUNK; i++)
			if (old[c + i])
				dead += dead_to_all(ap, version_at(ap, old[c + i] & SHM_SLOT_OFF_MASK));
	}
	return dead;
}

/*
 * Growing an index in steps. Past half full (and with few tombstones), a
 * table's next index is allocated and filled a step per transaction, in
 * the order of the current index's slots, while the current one stays the
 * one readers and the writer's lookups use; it is published when complete.
 * A write to a slot the build has passed is repeated in the new index
 * (build_mirror), so at every step the new index holds exactly the current
 * one's keys in [0, copied), less the dead ones it left out. Each step
 * clears BUILD_CLEAR_PER_COPY times as many new slots, or copies BUILD_STEP
 * slots plus BUILD_PER_ADD per key the transaction may add: the build,
 * begun at half load, ends before the current index is 3/4 full, which
 * would force the rest of it at once (index_make_room). So a transaction
 * that adds fewer keys than an eighth of the index's slots never waits for
 * a whole rebuild. One build at a time: another table that fills meanwhile
 * is rebuilt at once, as is a table with many tombstones (that rebuild
 * counts and drops the dead keys first, and may keep the size), and a
 * table told to reserve room.
 * Readers see one index or the other, each complete for their snapshot:
 * publishing changes no snapshot's view. A key the build left out as dead
 * and written again is a new key in the new index; its tombstone is retired
 * by that write, as any replaced head is. The tombstones still heads when
 * the index is published are retired then, and every snapshot already saw
 * them as deleted.
 */
#define BUILD_STEP 1024
#define BUILD_PER_ADD 16
/* The new index is cleared in steps too, before the copy: clearing a slot
 * costs a fraction of copying one (no cache miss on a version). */
#define BUILD_CLEAR_PER_COPY 16

/* Keep the dead key at slot `pos`, head `off`, in b's list: 1, or 0 if the
 * list cannot grow. */
static int build_keep_dead(struct index_build *b, uint64_t pos, uint64_t off)
{
	if (b->ndead == b->dead_cap) {
		size_t cap = b->dead_cap ? 2 * b->dead_cap : 256;
		struct left_out *dead = realloc(b->dead, cap * sizeof(*dead));
		if (!dead)
			return 0;
		b->dead = dead;
		b->dead_cap = cap;
	}
	b->dead[b->ndead++] = (struct left_out){ pos, off };
	return 1;
}

/* Copy the keys of the old slots [from, to) (whole chunks) into the index
 * `word`, leaving out those dead to every snapshot: retired at `ts`, or,
 * with a build b, listed in b->dead (or copied after all if that list
 * cannot grow). Returns the keys placed. Per chunk: every version starts
 * loading, then every live key's new slot, then each is placed. */
static uint64_t copy_slots(struct applier *ap, const uint64_t *old, uint64_t from, uint64_t to,
			   uint64_t word, uint64_t ts, struct index_build *b)
{
	uint64_t *slots = index_slots(ap, word), mask = shm_index_mask(word), placed = 0;
	for (uint64_t c = from; c < to; c += REHASH_CHUNK) {
		uint64_t keep[REHASH_CHUNK], home[REHASH_CHUNK];
		for (unsigned i = 0; i < REHASH_CHUNK; i++)
			if (old[c + i])
				__builtin_prefetch(version_at(ap, old[c + i] & SHM_SLOT_OFF_MASK));
		for (unsigned i = 0; i < REHASH_CHUNK; i++) {
			uint64_t s = keep[i] = old[c + i];
			if (!s)
				continue;
			struct shm_version *head = version_at(ap, s & SHM_SLOT_OFF_MASK);
			if (dead_to_all(ap, head)) {
				if (!b) {
					retire(&ap->retired, ts, s & SHM_SLOT_OFF_MASK,
					       version_bytes(head), RETIRED_BLOCK);
					keep[i] = 0;
					continue;
				}
				if (build_keep_dead(b, c + i, s & SHM_SLOT_OFF_MASK)) {
					keep[i] = 0;
					continue;
				}
			}
			home[i] = shm_key_hash(head->key, head->klen) & mask;
			__builtin_prefetch(&slots[home[i]], 1);
		}
		for (unsigned i = 0; i < REHASH_CHUNK; i++) {
			if (!keep[i])
				continue;
			uint64_t j = home[i];
			while (slots[j])
				j = (j + 1) & mask;
			slots[j] = keep[i]; /* the tag bits are the same hash's */
			placed++;
		}
	}
	return placed;
}

/* Make the complete index `word`, with `used` non-empty slots, t's, and
 * retire the one it replaces at `ts` (its room in the retire queue is
 * reserved). */
static void publish_index(struct applier *ap, struct shm_table *t, uint64_t word, uint64_t used,
			  uint64_t ts)
{
	uint64_t old_word = t->index;
	t->index_used = used;
	/* Release: the slots are written before. Snapshots that loaded the old
	 * index keep it until the retire commit is behind every reader. */
	__atomic_store_n(&t->index, word, __ATOMIC_RELEASE);
	retire(&ap->retired, ts, shm_index_off(old_word), (uint32_t)index_bytes(old_word),
	       RETIRED_BLOCK);
}

static void build_reset(struct index_build *b)
{
	b->t = NULL;
	b->ndead = 0;
	if (b->dead_cap > 65536) { /* a large list is not kept between builds */
		free(b->dead);
		b->dead = NULL;
		b->dead_cap = 0;
	}
}

/* Give up the build (its table is dropped, which retires every head of its
 * current index, the left-out ones too): the new index was never seen. */
static void build_abort(struct applier *ap)
{
	struct index_build *b = &ap->build;
	alloc_put(&ap->alloc, shm_index_off(b->word), index_bytes(b->word));
	build_reset(b);
}

/* Clear up to BUILD_CLEAR_PER_COPY * budget slots of the new index, then
 * copy up to what remains of `budget`; when all are copied, publish the new
 * index and retire the old one and the dead heads left out at `ts`.
 * Returns 0 or -ENOMEM (nothing published; the next step tries again). */
static int build_step(struct applier *ap, uint64_t budget, uint64_t ts)
{
	struct index_build *b = &ap->build;
	struct shm_table *t = b->t;
	uint64_t cap = shm_index_mask(t->index) + 1, new_cap = shm_index_mask(b->word) + 1;
	if (b->zeroed < new_cap) {
		uint64_t n = new_cap - b->zeroed;
		if (budget < n / BUILD_CLEAR_PER_COPY)
			n = budget * BUILD_CLEAR_PER_COPY;
		memset(index_slots(ap, b->word) + b->zeroed, 0, n * sizeof(uint64_t));
		b->zeroed += n;
		budget -= n / BUILD_CLEAR_PER_COPY;
		if (b->zeroed < new_cap)
			return 0;
	}
	uint64_t to = cap - b->copied < budget ? cap : b->copied + budget;
	to = (to + REHASH_CHUNK - 1) / REHASH_CHUNK * REHASH_CHUNK;
	b->used += copy_slots(ap, index_slots(ap, t->index), b->copied, to, b->word, ts, b);
	b->copied = to;
	if (b->copied < cap)
		return 0;
	if (retire_reserve(&ap->retired, b->ndead + 1))
		return -ENOMEM;
	const uint64_t *old = index_slots(ap, t->index);
	for (size_t i = 0; i < b->ndead; i++) /* unless written since: retired then */
		if ((old[b->dead[i].pos] & SHM_SLOT_OFF_MASK) == b->dead[i].off)
			retire(&ap->retired, ts, b->dead[i].off,
			       version_bytes(version_at(ap, b->dead[i].off)), RETIRED_BLOCK);
	publish_index(ap, t, b->word, b->used, ts);
	build_reset(b);
	return 0;
}

/* The write of slot `pos` of the build's table, whose key has `hash`, is
 * about to be made: the slot of the new index that must take it too, or
 * NULL if the build has not reached pos (it will copy it); *fresh is set if
 * that slot is empty (a new key, or one the build left out as dead). */
static uint64_t *build_mirror(struct applier *ap, const struct shm_table *t, uint64_t pos,
			      const struct shm_op *op, uint64_t hash, int *fresh)
{
	struct index_build *b = &ap->build;
	*fresh = 0;
	if (b->t != t || pos >= b->copied)
		return NULL;
	uint64_t s, *slots = index_slots(ap, b->word);
	uint64_t p = shm_index_probe(ap->base, slots, shm_index_mask(b->word), hash, op->key, op->klen,
				     &s);
	*fresh = s == 0;
	return &slots[p];
}

/* Rebuild t's index now: the cap slots at `old` into a new index of 2^log2
 * slots with `dead` keys left out, retired at `ts` with the old index. */
static int rebuild_now(struct applier *ap, struct shm_table *t, unsigned log2, uint64_t dead,
		       uint64_t ts)
{
	uint64_t *old = index_slots(ap, t->index), cap = shm_index_mask(t->index) + 1;
	if (retire_reserve(&ap->retired, dead + 1))
		return -ENOMEM;
	uint64_t word = new_index(ap, log2, 1);
	if (!word)
		return -ENOSPC;
	publish_index(ap, t, word, copy_slots(ap, old, 0, cap, word, ts, NULL), ts);
	return 0;
}

/* The smallest index size (log2) that holds `keys` at half load, up to
 * the largest. */
static unsigned index_log2_for(uint64_t keys)
{
	unsigned log2 = INDEX_MIN_LOG2;
	while (((uint64_t)1 << log2) < 2 * keys && log2 < SHM_INDEX_MAX_LOG2)
		log2++;
	return log2;
}

/*
 * Make room in t's index for `adds` more keys. Past half load, with few
 * tombstones, no other build under way and no `reserve` (a RESERVE op, whose
 * room is the index's as it is if it fits), begin building the next index
 * in steps (above). When the load would pass 3/4: finish a build of t at
 * once, or else rebuild now, at twice the live keys (plus adds), or at the
 * largest size if that holds them at 3/4 and the rebuild drops a sixteenth
 * of it, dropping keys that no snapshot can see. The old index and the
 * dropped tombstones are retired at commit `ts`. Returns 0, -ENOSPC or
 * -ENOMEM.
 */
static int index_make_room(struct applier *ap, struct shm_table *t, uint64_t adds, int reserve,
			   uint64_t ts)
{
	struct index_build *b = &ap->build;
	uint64_t cap = shm_index_mask(t->index) + 1;
	if ((t->index_used + adds) * 4 > cap * 3 && b->t == t) {
		int err = build_step(ap, UINT64_MAX, ts);
		if (err)
			return err;
		cap = shm_index_mask(t->index) + 1;
	}
	if ((t->index_used + adds) * 4 <= cap * 3) {
		unsigned log2 = index_log2_for(t->index_used + adds);
		if (!b->t && !reserve && (t->index_used + adds) * 2 > cap && ((uint64_t)1 << log2) > cap &&
		    (t->index_used - t->records) * 16 <= cap && (b->word = new_index(ap, log2, 0))) {
			b->t = t;
			b->zeroed = b->copied = b->used = 0;
		}
		return 0;
	}

	/* Only a tombstone can be dead, and the slots that are not records
	 * hold the tombstones: without any, nothing needs counting. */
	uint64_t *old = index_slots(ap, t->index);
	uint64_t dead = t->index_used > t->records ? count_dead(ap, old, cap) : 0;
	uint64_t live = t->index_used - dead;
	unsigned log2 = index_log2_for(live + adds);
	if ((live + adds) * 4 > ((uint64_t)3 << log2))
		return -ENOSPC;
	/* The largest index rebuilt at its own size and over half full would
	 * be rebuilt again within a few adds: only if that drops a sixteenth
	 * of it are the next cap / 16 adds free of another rebuild. */
	if (((uint64_t)1 << log2) == cap && 2 * (live + adds) > cap && dead < cap / 16)
		return -ENOSPC;
	return rebuild_now(ap, t, log2, dead, ts);
}

/* ---- the passes ---------------------------------------------------------- */

static int scratch_reserve(struct applier *ap, size_t n)
{
	if (n <= ap->scratch_cap)
		return 0;
	size_t cap = ap->scratch_cap ? ap->scratch_cap : 64;
	while (cap < n)
		cap *= 2;
	struct pending_op *ops = realloc(ap->ops, cap * sizeof(*ops));
	if (ops)
		ap->ops = ops;
	struct touched *tt = realloc(ap->touched, cap * sizeof(*tt));
	if (tt)
		ap->touched = tt;
	uint32_t *dropped = realloc(ap->dropped, cap * sizeof(*dropped));
	if (dropped)
		ap->dropped = dropped;
	if (!ops || !tt || !dropped)
		return -ENOMEM;
	ap->scratch_cap = cap;
	return 0;
}

static uint64_t alloc_or_reclaim(struct applier *ap, size_t size)
{
	uint64_t off = alloc_get(&ap->alloc, size);
	if (!off && retire_count(&ap->retired)) {
		applier_reclaim_now(ap);
		off = alloc_get(&ap->alloc, size);
	}
	return off;
}

/* Free the blocks pass 2 reserved for ops[0..n) (never published). */
static void unreserve(struct applier *ap, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct shm_op *op = &ap->ops[i].op;
		if (!ap->ops[i].block)
			continue;
		size_t size = op->code == SHM_OP_CREATE_TABLE ? INDEX_MIN_BYTES
			    : shm_version_size(op->klen, op->code == SHM_OP_DEL ? SHM_TOMBSTONE : op->vlen);
		alloc_put(&ap->alloc, ap->ops[i].block, size);
	}
}

/* Count `adds` more keys that t may gain in this transaction, for a
 * RESERVE op if `reserve`. */
static void touch(struct touched *tt, size_t *ntt, struct shm_table *t, uint64_t adds,
		  int reserve)
{
	for (size_t i = 0; i < *ntt; i++) {
		if (tt[i].t == t) {
			tt[i].adds += adds;
			tt[i].reserve |= reserve;
			return;
		}
	}
	tt[*ntt] = (struct touched){ t, adds, reserve };
	(*ntt)++;
}

static int was_dropped(const uint32_t *dropped, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (dropped[i] == id)
			return 1;
	return 0;
}

/* Pass 2 over ap->ops[0..nops). Returns 0 or a status; on failure nothing
 * stays reserved. */
static int prepare(struct applier *ap, size_t nops, uint64_t ts)
{
	struct touched *tt = ap->touched;
	uint32_t *dropped = ap->dropped;
	size_t ntt = 0, ndropped = 0, i, retires = 0;
	unsigned creates = 0;
	int err = 0;

	/* Tables, checks, drops and index room first: nothing reserved yet. */
	for (i = 0; !err && i < nops; i++) {
		const struct shm_op *op = &ap->ops[i].op;
		struct shm_table *t = NULL;
		uint64_t slot;
		switch (op->code) {
		case SHM_OP_PUT:
		case SHM_OP_DEL:
		case SHM_OP_CHECK:
		case SHM_OP_RESERVE:
			t = live_table(ap, op->table);
			if (!t || was_dropped(dropped, ndropped, op->table)) {
				err = -ENOENT;
				break;
			}
			if (op->code == SHM_OP_CHECK) {
				struct shm_version *head = key_head(ap, t, op, ap->ops[i].hash, &slot);
				if (head && head->begin_ts > op->since_ts)
					err = SHMDB_ECONFLICT;
			} else if (op->code == SHM_OP_RESERVE) {
				/* since_ts is the key count (txn.h): room for
				 * that many, whatever else the transaction adds. */
				touch(tt, &ntt, t,
				      op->since_ts > t->records ? op->since_ts - t->records : 0, 1);
			} else {
				touch(tt, &ntt, t, 1, 0);
				retires++;
			}
			break;
		case SHM_OP_CREATE_TABLE:
			creates++;
			break;
		case SHM_OP_DROP_TABLE:
			t = table_by_name(ap, op->key, op->klen);
			if (!t || was_dropped(dropped, ndropped, t->id)) {
				err = -ENOENT;
				break;
			}
			dropped[ndropped++] = t->id;
			retires += t->index_used + 2;
			break;
		}
	}
	if (!err && creates && free_table_slots(ap, creates) < creates)
		err = -ENOSPC;
	for (size_t k = 0; !err && k < ntt; k++) {
		err = index_make_room(ap, tt[k].t, tt[k].adds, tt[k].reserve, ts);
		if (err == -ENOSPC && retire_count(&ap->retired) &&
		    retire_oldest_ts(&ap->retired) < ts) {
			/* As alloc_or_reclaim: free what waits (not what this
			 * transaction retired), then count live and dead keys
			 * again (the horizon moved). */
			applier_reclaim_now(ap);
			err = index_make_room(ap, tt[k].t, tt[k].adds, tt[k].reserve, ts);
		}
	}
	if (!err && ap->build.t) {
		/* A step of the build under way, bigger as its table gains
		 * keys; one that cannot publish for want of memory is tried
		 * again by the next transaction. */
		uint64_t adds = 0;
		for (size_t k = 0; k < ntt; k++)
			if (tt[k].t == ap->build.t)
				adds = tt[k].adds;
		(void)build_step(ap, BUILD_STEP + BUILD_PER_ADD * adds, ts);
	}
	if (!err && retire_reserve(&ap->retired, retires))
		err = -ENOMEM;

	/* Then every block the transaction will write. */
	for (i = 0; !err && i < nops; i++) {
		const struct shm_op *op = &ap->ops[i].op;
		size_t size = 0;
		if (op->code == SHM_OP_PUT)
			size = shm_version_size(op->klen, op->vlen);
		else if (op->code == SHM_OP_DEL)
			size = shm_version_size(op->klen, SHM_TOMBSTONE);
		else if (op->code == SHM_OP_CREATE_TABLE)
			size = INDEX_MIN_BYTES;
		if (size && !(ap->ops[i].block = alloc_or_reclaim(ap, size)))
			err = -ENOSPC;
	}
	if (err)
		unreserve(ap, i);
	return err;
}

/*
 * Pass 3 overlaps the cache misses of neighbouring operations: while
 * operation i is applied, the index slot of operation i + 2 * APPLY_AHEAD,
 * and the version that operation i + APPLY_AHEAD's slot points to (the
 * key's head, if the tag matches) and the block its new version goes into,
 * are already loading. Each op otherwise waits on up to three misses in
 * turn. Only hints: what changes before an op runs makes a prefetch miss,
 * never a wrong answer. The helpers return addresses and the prefetches
 * are issued inline in the apply loop (prefetch_ahead is always inlined):
 * GCC deletes calls to a function that only prefetches (it finds it pure),
 * as it did to a first version of this.
 */
#define APPLY_AHEAD 16

/* The index of the table op i writes, or NULL if op i writes none. */
static const uint64_t *op_slots(struct applier *ap, size_t i, uint64_t *mask)
{
	const struct shm_op *op = &ap->ops[i].op;
	if (op->code != SHM_OP_PUT && op->code != SHM_OP_DEL)
		return NULL;
	const struct shm_table *t = live_table(ap, op->table);
	if (!t)
		return NULL;
	*mask = shm_index_mask(t->index);
	return index_slots(ap, t->index);
}

/* Op i's home slot in its table's index, or NULL. */
static const uint64_t *home_slot(struct applier *ap, size_t i)
{
	uint64_t mask;
	const uint64_t *slots = op_slots(ap, i, &mask);
	return slots ? &slots[ap->ops[i].hash & mask] : NULL;
}

/* The version op i's key most likely has as head (a tag match in its
 * first two slots), or NULL. */
static const struct shm_version *likely_head(struct applier *ap, size_t i)
{
	uint64_t mask;
	const uint64_t *slots = op_slots(ap, i, &mask);
	uint64_t c = slots ? shm_index_candidate(slots, mask, ap->ops[i].hash) : 0;
	return c ? version_at(ap, c & SHM_SLOT_OFF_MASK) : NULL;
}

static inline __attribute__((always_inline)) void prefetch_ahead(struct applier *ap, size_t i,
								  size_t nops)
{
	const void *p;
	if (i + 2 * APPLY_AHEAD < nops && (p = home_slot(ap, i + 2 * APPLY_AHEAD)))
		__builtin_prefetch(p);
	if (i + APPLY_AHEAD < nops && ap->ops[i + APPLY_AHEAD].block) {
		if ((p = likely_head(ap, i + APPLY_AHEAD)))
			__builtin_prefetch(p);
		__builtin_prefetch(ap->base + ap->ops[i + APPLY_AHEAD].block, 1);
	}
}

static void write_version(struct applier *ap, struct shm_table *t, const struct shm_op *op,
			  uint64_t hash, uint64_t off, uint64_t ts)
{
	uint64_t pos;
	int fresh;
	struct shm_version *head = key_head(ap, t, op, hash, &pos);
	int present = head && head->vlen != SHM_TOMBSTONE;

	if (op->code == SHM_OP_DEL && !present) {
		/* Deleting a missing key changes nothing. */
		alloc_put(&ap->alloc, off, shm_version_size(op->klen, SHM_TOMBSTONE));
		return;
	}
	uint64_t *mirror = build_mirror(ap, t, pos, op, hash, &fresh);
	struct shm_version *v = version_at(ap, off);
	v->begin_ts = ts;
	v->older = head ? (uint64_t)((uint8_t *)head - ap->base) : 0;
	v->klen = op->klen;
	v->vlen = op->code == SHM_OP_DEL ? SHM_TOMBSTONE : op->vlen;
	memcpy(v->key, op->key, op->klen);
	if (op->code == SHM_OP_PUT && op->vlen)
		memcpy((uint8_t *)v + shm_version_value_off(op->klen), op->val, op->vlen);

	/* The version is complete: publish it. */
	__atomic_store_n(&index_slots(ap, t->index)[pos], off | SHM_SLOT_TAG(hash),
			 __ATOMIC_RELEASE);
	if (mirror) {
		/* Unpublished: the release store of its index word orders it. */
		*mirror = off | SHM_SLOT_TAG(hash);
		ap->build.used += fresh;
	}
	if (head)
		retire(&ap->retired, ts, v->older, version_bytes(head), RETIRED_BLOCK);
	else
		t->index_used++;
	if (op->code == SHM_OP_PUT && !present)
		t->records++;
	else if (op->code == SHM_OP_DEL)
		t->records--;
}

static uint64_t create_table(struct applier *ap, const struct shm_op *op, uint64_t index_off,
			     uint64_t ts)
{
	struct shm_table *t = table_by_name(ap, op->key, op->klen);
	if (t) {
		alloc_put(&ap->alloc, index_off, INDEX_MIN_BYTES);
		return t->id;
	}
	unsigned slot = 0;
	while (ap->meta->tables[slot].state != SHM_TABLE_FREE)
		slot++; /* prepare() counted enough free slots */
	t = &ap->meta->tables[slot];
	uint16_t gen = ++ap->table_gen[slot];
	if (gen == 0)
		gen = ++ap->table_gen[slot];
	memset(ap->base + index_off, 0, INDEX_MIN_BYTES);
	t->index = shm_index_word(index_off, INDEX_MIN_LOG2);
	t->index_used = 0;
	t->created_ts = ts;
	t->dropped_ts = SHM_TS_INFINITY;
	t->records = 0;
	t->name_len = (uint8_t)op->klen;
	memset(t->name, 0, sizeof(t->name));
	memcpy(t->name, op->key, op->klen);
	t->state = SHM_TABLE_LIVE;
	uint32_t id = slot | (uint32_t)gen << 16;
	/* The entry is complete: publish its id. */
	__atomic_store_n(&t->id, id, __ATOMIC_RELEASE);
	return id;
}

static void drop_table(struct applier *ap, const struct shm_op *op, uint64_t ts)
{
	struct shm_table *t = table_by_name(ap, op->key, op->klen);
	if (ap->build.t == t)
		build_abort(ap);
	uint64_t *slots = index_slots(ap, t->index), mask = shm_index_mask(t->index);
	/* Readers with snapshots from ts on see the table gone; older ones keep
	 * reading it until the retired blocks are freed after them. */
	__atomic_store_n(&t->dropped_ts, ts, __ATOMIC_RELEASE);
	t->state = SHM_TABLE_DROPPED;
	for (uint64_t i = 0; i <= mask; i++) {
		uint64_t s = slots[i];
		if (s) /* older versions on the chain are retired already */
			retire(&ap->retired, ts, s & SHM_SLOT_OFF_MASK,
			       version_bytes(version_at(ap, s & SHM_SLOT_OFF_MASK)), RETIRED_BLOCK);
	}
	retire(&ap->retired, ts, shm_index_off(t->index), (uint32_t)index_bytes(t->index),
	       RETIRED_BLOCK);
	retire(&ap->retired, ts, (uint64_t)(t - ap->meta->tables), 0, RETIRED_TABLE_SLOT);
}

static int apply(struct applier *ap, const uint8_t *buf, size_t len, uint64_t *commit_ts,
		 uint64_t *value)
{
	size_t pos = 0, nops = 0;
	struct shm_op op;
	int r;

	*value = 0;
	*commit_ts = 0;
	/* Pass 1: decode once into ap->ops, with each key's hash. */
	while ((r = shm_op_decode(buf, len, &pos, &op)) == 1) {
		if (nops == ap->scratch_cap && scratch_reserve(ap, nops + 1))
			return -ENOMEM;
		ap->ops[nops].op = op;
		ap->ops[nops].block = 0;
		ap->ops[nops].hash = op.code == SHM_OP_PUT || op.code == SHM_OP_DEL ||
					     op.code == SHM_OP_CHECK
				       ? shm_key_hash(op.key, op.klen)
				       : 0;
		nops++;
	}
	if (r < 0)
		return SHMDB_EBADTXN;
	uint64_t ts = ap->meta->commit_ts + 1;
	if (nops == 0) {
		*commit_ts = ts - 1;
		return 0;
	}
	r = prepare(ap, nops, ts);
	if (r)
		return r;

	const void *p;
	for (size_t i = 0; i < nops && i < 2 * APPLY_AHEAD; i++)
		if ((p = home_slot(ap, i)))
			__builtin_prefetch(p);
	for (size_t i = 0; i < nops; i++) {
		const struct shm_op *o = &ap->ops[i].op;
		prefetch_ahead(ap, i, nops);
		switch (o->code) {
		case SHM_OP_PUT:
		case SHM_OP_DEL:
			write_version(ap, live_table(ap, o->table), o, ap->ops[i].hash, ap->ops[i].block, ts);
			break;
		case SHM_OP_CREATE_TABLE:
			*value = create_table(ap, o, ap->ops[i].block, ts);
			break;
		case SHM_OP_DROP_TABLE:
			drop_table(ap, o, ts);
			break;
		}
	}
	/* Everything the transaction wrote is in place: make it visible. */
	__atomic_store_n(&ap->meta->commit_ts, ts, __ATOMIC_RELEASE);
	__atomic_store_n(&ap->meta->commits, ap->meta->commits + 1, __ATOMIC_RELAXED);
	*commit_ts = ts;
	return 0;
}

/* Operations whose scratch (84 bytes each) stays allocated between
 * transactions; a larger transaction's is freed after it. */
#define SCRATCH_KEEP 65536

int apply_txn(struct applier *ap, const uint8_t *buf, size_t len, uint64_t *commit_ts,
	      uint64_t *value)
{
	int r = apply(ap, buf, len, commit_ts, value);
	if (ap->scratch_cap > SCRATCH_KEEP)
		scratch_free(ap);
	return r;
}

/* Publish oldest_snapshot, arena use and the retire figures. */
static void publish_figures(struct applier *ap, uint64_t freed)
{
	struct shm_meta *m = ap->meta;
	__atomic_store_n(&m->oldest_snapshot, ap->horizon, __ATOMIC_RELAXED);
	__atomic_store_n(&m->reclaimed_bytes, m->reclaimed_bytes + freed, __ATOMIC_RELAXED);
	__atomic_store_n(&m->retired_bytes, ap->retired.bytes, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < ap->alloc.narenas; i++) {
		struct alloc_arena *ar = &ap->alloc.arena[i];
		uint64_t header = ar->start - m->arena_table[i].range_off;
		__atomic_store_n(&m->arena_table[i].used, header + ar->used, __ATOMIC_RELAXED);
	}
}

/* Free what retired at or before `commit`, the commit_ts published before
 * a grace period that has passed, unless a live snapshot still needs it.
 * Returns the bytes freed. */
static uint64_t reclaim_upto(struct applier *ap, uint64_t commit)
{
	uint64_t horizon = reclaim_horizon(ap->sessions, ap->horizon, commit);
	if (horizon > ap->horizon)
		ap->horizon = horizon;
	return reclaim_run(&ap->retired, ap->horizon, &ap->alloc, ap->meta);
}

void applier_reclaim(struct applier *ap, uint64_t now_ns)
{
	uint64_t freed = 0;
	if (ap->grace_pending && grace_passed(ap->grace, ap->grace_gen)) {
		ap->grace_pending = 0;
		freed = reclaim_upto(ap, ap->grace_commit);
	}
	uint64_t commit = __atomic_load_n(&ap->meta->commit_ts, __ATOMIC_RELAXED);
	if (!ap->grace_pending && applier_waiting(ap) &&
	    (now_ns - ap->grace_asked_ns >= GRACE_EVERY_NS ||
	     ap->retired.total - ap->grace_asked_total >= GRACE_BATCH_BYTES)) {
		ap->grace_commit = commit;
		ap->grace_gen = grace_request(ap->grace);
		ap->grace_asked_ns = now_ns;
		ap->grace_asked_total = ap->retired.total;
		ap->grace_pending = 1;
	}
	publish_figures(ap, freed);
}

bool applier_waiting(const struct applier *ap)
{
	/* The horizon alone is worth a grace period only once per commit: if
	 * a reader holds an old snapshot, asking again without a new commit
	 * would find the same horizon. */
	uint64_t commit = __atomic_load_n(&ap->meta->commit_ts, __ATOMIC_RELAXED);
	return retire_count(&ap->retired) || ap->grace_pending ||
	       (ap->horizon < commit && commit != ap->grace_commit);
}

void applier_reclaim_now(struct applier *ap)
{
	grace_sync(ap->grace);
	publish_figures(ap, reclaim_upto(ap, __atomic_load_n(&ap->meta->commit_ts,
							      __ATOMIC_RELAXED)));
}
