/*
 * index_build.c - growing and rebuilding tables' hash indexes (see
 * index_build.h).
 *
 * Growing an index in steps. Past half full (and with few tombstones), a
 * table's next index is allocated and filled a step per transaction, in
 * the order of the current index's slots, while the current one stays the
 * one readers and the writer's lookups use; it is published when complete.
 * A write to a slot the build has passed is repeated in the new index
 * (index_build_repeat), so at every step the new index holds exactly the
 * current one's keys in [0, copied), less the dead ones it left out. Each
 * step clears BUILD_CLEAR_PER_COPY times as many new slots, or copies
 * BUILD_STEP slots plus BUILD_PER_ADD per key the transaction may add: the
 * build, begun at half load, ends before the current index is 3/4 full,
 * which would force the rest of it at once (index_make_room). So a
 * transaction that adds fewer keys than an eighth of the index's slots
 * never waits for a whole rebuild. One build at a time: another table that
 * fills meanwhile is rebuilt at once, as is a table with many tombstones
 * (that rebuild counts and drops the dead keys first, and may keep the
 * size), and a table told to reserve room.
 *
 * A copy places a key by its hash without reading the key when the slot
 * tells enough of it: the key's home (the slot's position less its
 * displacement) and up to five bits above it (layout.h), enough for an
 * index of up to 32 times the slots; every write of a slot sets both. Only
 * a slot that does not (displaced by 15 or more, or its growth bits used
 * up by earlier copies) has its version read, and every slot of a table
 * that holds tombstones (one may be dead to every snapshot). Reading each
 * key's version, a cache miss and on a virtual machine a walk of the page
 * tables each, took an eighth of the writer's time in a bulk load into a
 * growing table.
 *
 * Only a transaction that commits keeps what its prepare did here: a
 * rebuild's new index is allocated then, and filled and published once
 * nothing else can refuse the transaction (index_room_commit); a build
 * begun for it is given up, and the planned indexes freed, if something
 * does (index_room_cancel).
 *
 * A key the build left out as dead and written again is a new key in the
 * new index; its tombstone is retired by that write, as any replaced head
 * is. The tombstones still heads when the index is published are retired
 * then, and every snapshot already saw them as deleted (or saw the key
 * absent: a tombstone whose older versions were all pruned, so that a
 * snapshot held for long does not keep every key ever deleted in the
 * index).
 *
 * Counters: a table's index_used is the number of non-empty slots of its
 * index; a rebuild or a build's publication sets it to what the new index
 * holds, having dropped only tombstones.
 *
 * Ordering: the new index's slots are written before the release store of
 * the table's index word that publishes it; an unpublished index needs no
 * ordering at all.
 */
#include "index_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "shmdb.h"

_Static_assert(ALLOC_MAX == sizeof(uint64_t) << SHM_INDEX_MAX_LOG2, "the largest index is a block");
_Static_assert(SHMDB_MAX_TABLE_KEYS == (3ull << SHM_INDEX_MAX_LOG2) / 4,
	       "a table holds 3/4 of its largest index");

/* The new index is cleared in steps too, before the copy: clearing a slot
 * costs a fraction of copying one. */
#define BUILD_CLEAR_PER_COPY 16

/* Old slots whose versions a rebuild loads at once: each slot's key is in
 * its version, a cache miss away, and the misses of a chunk overlap instead
 * of coming one after another. */
#define REHASH_CHUNK 32
_Static_assert(REHASH_CHUNK <= 1u << INDEX_MIN_LOG2, "chunks divide every index");

void index_build_init(struct index_build *b, uint8_t *base, struct alloc *alloc,
		      struct retire_queue *retired)
{
	*b = (struct index_build){ .base = base, .alloc = alloc, .retired = retired };
}

void index_build_destroy(struct index_build *b)
{
	free(b->planned);
	b->planned = NULL;
	b->nplanned = b->planned_cap = 0;
	free(b->dead);
	b->dead = NULL;
	b->ndead = b->dead_cap = 0;
	b->t = NULL;
}

static uint64_t *slots_of(const struct index_build *b, uint64_t word)
{
	return (uint64_t *)(b->base + shm_index_off(word));
}

static struct shm_version *version_at(const struct index_build *b, uint64_t slot)
{
	return (struct shm_version *)(b->base + (slot & SHM_SLOT_OFF_MASK));
}

static uint32_t version_bytes(const struct shm_version *v)
{
	return (uint32_t)shm_version_size(v->klen, v->vlen);
}

/* Whether the key whose head is `head` is absent to every snapshot: its
 * head is a tombstone that every live snapshot sees, or one with nothing
 * below it (the reclaimer pruned every older version: no live snapshot saw
 * one, so each sees the key absent, reclaim.h). */
static int dead_to_all(const struct index_build *b, const struct shm_version *head)
{
	return head->vlen == SHM_TOMBSTONE &&
	       (head->begin_ts <= b->retired->horizon || head->older == 0);
}

/* A new index of 2^log2 slots, cleared if `clear`: its index word, or 0
 * if no room. */
static uint64_t new_index(struct index_build *b, unsigned log2, int clear)
{
	size_t bytes = ((size_t)1 << log2) * sizeof(uint64_t);
	uint64_t off = alloc_get(b->alloc, bytes);
	if (!off)
		return 0;
	if (clear)
		memset(b->base + off, 0, bytes);
	return shm_index_word(off, log2);
}

/* How many of the cap slots at `old` hold a key dead to every snapshot. */
static uint64_t count_dead(const struct index_build *b, const uint64_t *old, uint64_t cap)
{
	uint64_t dead = 0;
	for (uint64_t c = 0; c < cap; c += REHASH_CHUNK) {
		for (unsigned i = 0; i < REHASH_CHUNK; i++)
			if (old[c + i])
				__builtin_prefetch(version_at(b, old[c + i]));
		for (unsigned i = 0; i < REHASH_CHUNK; i++)
			if (old[c + i])
				dead += dead_to_all(b, version_at(b, old[c + i]));
	}
	return dead;
}

/* Keep the dead key at slot `pos`, whose head is `head` at offset `off`, in
 * b's list: 1, or 0 if the list cannot grow. */
static int keep_dead(struct index_build *b, uint64_t pos, uint64_t off,
		     const struct shm_version *head)
{
	if (b->ndead == b->dead_cap) {
		size_t cap = b->dead_cap ? 2 * b->dead_cap : 256;
		struct left_out *dead = realloc(b->dead, cap * sizeof(*dead));
		if (!dead)
			return 0;
		b->dead = dead;
		b->dead_cap = cap;
	}
	b->dead[b->ndead++] = (struct left_out){ pos, off, head->begin_ts };
	return 1;
}

/* Copy the keys of the old slots [from, to) (whole chunks) of t's index
 * into the index `word`, leaving out those dead to every snapshot:
 * retired at `ts` if `now` (a rebuild at once), else listed in b->dead
 * for the build's publication (or copied after all if that list cannot
 * grow). Returns the keys placed. A key's new home needs the low bits of
 * its hash: its slot tells them (its home and growth bits, layout.h) for
 * an index up to 2^5 times the size; else, and when t has tombstones (a
 * tombstone may be dead), its version is read. Per chunk: the versions to
 * read start loading, then every live key's new slot, then each is
 * placed. */
static uint64_t copy_slots(struct index_build *b, struct shm_table *t, uint64_t from, uint64_t to,
			   uint64_t word, uint64_t ts, int now)
{
	const uint64_t *old = slots_of(b, t->index);
	unsigned old_log2 = (unsigned)(t->index & SHM_INDEX_LOG2_MASK);
	unsigned log2 = (unsigned)(word & SHM_INDEX_LOG2_MASK);
	uint64_t *slots = slots_of(b, word), mask = shm_index_mask(word), placed = 0;
	/* Tombstones are the slots that are not records (apply.c). */
	int tombs = t->index_used > t->records;
	for (uint64_t c = from; c < to; c += REHASH_CHUNK) {
		uint64_t keep[REHASH_CHUNK], bits[REHASH_CHUNK], pos[REHASH_CHUNK];
		unsigned nbits[REHASH_CHUNK], n = 0;
		/* The chunk's keys, without a branch per slot: about half the
		 * slots are empty, in no order a branch could predict. */
		for (unsigned i = 0; i < REHASH_CHUNK; i++) {
			pos[n] = c + i;
			n += old[c + i] != 0;
		}
		b->keys_copied += n;
		for (unsigned k = 0; k < n; k++) {
			uint64_t s = keep[k] = old[pos[k]];
			nbits[k] = tombs ? 0 : shm_slot_hash_bits(s, pos[k], old_log2, &bits[k]);
			if (nbits[k] < log2) {
				__builtin_prefetch(version_at(b, s));
				b->versions_read++;
			}
		}
		for (unsigned k = 0; k < n; k++) {
			if (nbits[k] >= log2) {
				__builtin_prefetch(&slots[bits[k] & mask], 1);
				continue;
			}
			uint64_t s = keep[k];
			struct shm_version *head = version_at(b, s);
			if (dead_to_all(b, head)) {
				/* A check of the key since before its delete must
				 * still fail once the key is gone (prepare.c). */
				if (head->begin_ts > t->left_out_ts)
					t->left_out_ts = head->begin_ts;
				if (now) {
					retire_block(b->retired, ts, 0, s & SHM_SLOT_OFF_MASK,
						     version_bytes(head), RETIRED_BLOCK);
					keep[k] = 0;
					continue;
				}
				if (keep_dead(b, pos[k], s & SHM_SLOT_OFF_MASK, head)) {
					keep[k] = 0;
					continue;
				}
			}
			bits[k] = shm_key_hash(head->key, head->klen);
			nbits[k] = 64;
			__builtin_prefetch(&slots[bits[k] & mask], 1);
		}
		for (unsigned k = 0; k < n; k++) {
			if (!keep[k])
				continue;
			uint64_t j = bits[k] & mask;
			while (slots[j])
				j = (j + 1) & mask;
			/* Its offset and tag as they are, its own bits for the new place. */
			slots[j] = (keep[k] & (SHM_SLOT_OFF_MASK | SHM_SLOT_TAG_MASK)) |
				   shm_slot_place_bits(bits[k], nbits[k], j, log2);
			placed++;
		}
	}
	return placed;
}

/* Make the complete index `word`, with `used` non-empty slots, t's, and
 * retire the one it replaces at `ts` (its room in the retire queue is
 * reserved). */
static void publish_index(struct index_build *b, struct shm_table *t, uint64_t word, uint64_t used,
			  uint64_t ts)
{
	uint64_t old_word = t->index;
	t->index_used = used;
	t->index_replaced_ts = ts;
	/* Release: the slots are written before. Snapshots that loaded the old
	 * index keep it until the retire commit is behind every reader. */
	__atomic_store_n(&t->index, word, __ATOMIC_RELEASE);
	retire_block(b->retired, ts, 0, shm_index_off(old_word), (uint32_t)shm_index_bytes(old_word),
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

void index_build_abort(struct index_build *b, const struct shm_table *t)
{
	if (b->t != t)
		return;
	alloc_put(b->alloc, shm_index_off(b->word), shm_index_bytes(b->word));
	build_reset(b);
}

/* Clear up to BUILD_CLEAR_PER_COPY * budget slots of the new index, then
 * copy up to what remains of `budget`; when all are copied, publish the new
 * index and retire the old one and the dead heads left out at `ts`.
 * Returns 0 or -ENOMEM (nothing published; the next step tries again). */
static int build_step(struct index_build *b, uint64_t budget, uint64_t ts, size_t retire_more)
{
	struct shm_table *t = b->t;
	uint64_t cap = shm_index_mask(t->index) + 1, new_cap = shm_index_mask(b->word) + 1;
	if (b->zeroed < new_cap) {
		uint64_t n = new_cap - b->zeroed;
		if (budget < n / BUILD_CLEAR_PER_COPY)
			n = budget * BUILD_CLEAR_PER_COPY;
		memset(slots_of(b, b->word) + b->zeroed, 0, n * sizeof(uint64_t));
		b->zeroed += n;
		budget -= n / BUILD_CLEAR_PER_COPY;
		if (b->zeroed < new_cap)
			return 0;
	}
	uint64_t to = cap - b->copied < budget ? cap : b->copied + budget;
	to = shm_align_up(to, REHASH_CHUNK);
	b->used += copy_slots(b, t, b->copied, to, b->word, ts, 0);
	b->copied = to;
	if (b->copied < cap)
		return 0;
	if (retire_reserve(b->retired, b->ndead + 1 + retire_more))
		return -ENOMEM;
	const uint64_t *old = slots_of(b, t->index);
	for (size_t i = 0; i < b->ndead; i++) { /* unless written since: retired then */
		const struct left_out *d = &b->dead[i];
		const struct shm_version *head = version_at(b, d->off);
		if ((old[d->pos] & SHM_SLOT_OFF_MASK) == d->off && head->begin_ts == d->begin_ts)
			retire_block(b->retired, ts, 0, d->off, version_bytes(head), RETIRED_BLOCK);
	}
	publish_index(b, t, b->word, b->used, ts);
	build_reset(b);
	return 0;
}

void index_build_step(struct index_build *b, uint64_t adds, uint64_t ts, size_t retire_more)
{
	if (b->t)
		(void)build_step(b, BUILD_STEP + BUILD_PER_ADD * adds, ts, retire_more);
}

void index_build_repeat(struct index_build *b, const struct shm_table *t, uint64_t pos,
			uint64_t hash, const void *key, uint32_t klen, uint64_t value)
{
	if (b->t != t || pos >= b->copied)
		return;
	uint64_t s, *slots = slots_of(b, b->word);
	uint64_t p = shm_index_probe(b->base, slots, shm_index_mask(b->word), hash, key, klen, &s);
	/* Unpublished: the release store of its index word orders it. */
	slots[p] = shm_slot_make(value & SHM_SLOT_OFF_MASK, hash, p,
				 (unsigned)(b->word & SHM_INDEX_LOG2_MASK));
	b->used += s == 0; /* a new key, or one the build left out as dead */
}

/* Plan a rebuild of t's index into a new index of 2^log2 slots, allocated
 * and cleared now, filled at index_room_commit. */
static int plan_rebuild(struct index_build *b, struct shm_table *t, unsigned log2)
{
	struct planned_rebuild *p = b->planned;
	if (b->nplanned == b->planned_cap) {
		size_t cap = b->planned_cap ? 2 * b->planned_cap : 4;
		if (!(p = realloc(b->planned, cap * sizeof(*p))))
			return -ENOMEM;
		b->planned = p;
		b->planned_cap = cap;
	}
	uint64_t word = new_index(b, log2, 1);
	if (!word)
		return -ENOSPC;
	p[b->nplanned++] = (struct planned_rebuild){ t, word };
	return 0;
}

size_t index_room_retires(const struct index_build *b)
{
	/* Only tombstones can be dead (index_make_room), and the horizon may
	 * move before the commit: each of them, and the old index. */
	size_t n = 0;
	for (size_t i = 0; i < b->nplanned; i++)
		n += b->planned[i].t->index_used - b->planned[i].t->records + 1;
	return n;
}

void index_room_commit(struct index_build *b, uint64_t ts)
{
	for (size_t i = 0; i < b->nplanned; i++) {
		struct shm_table *t = b->planned[i].t;
		uint64_t word = b->planned[i].word;
		publish_index(b, t, word,
			      copy_slots(b, t, 0, shm_index_mask(t->index) + 1, word, ts, 1), ts);
	}
	b->nplanned = 0;
	b->begun = 0;
}

void index_room_cancel(struct index_build *b)
{
	for (size_t i = 0; i < b->nplanned; i++)
		alloc_put(b->alloc, shm_index_off(b->planned[i].word),
			  shm_index_bytes(b->planned[i].word));
	b->nplanned = 0;
	if (b->begun)
		index_build_abort(b, b->t);
	b->begun = 0;
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

int index_make_room(struct index_build *b, struct shm_table *t, uint64_t adds, int reserve,
		    uint64_t ts)
{
	uint64_t cap = shm_index_mask(t->index) + 1;
	if ((t->index_used + adds) * 4 > cap * 3 && b->t == t) {
		int err = build_step(b, UINT64_MAX, ts, 0);
		if (err)
			return err;
		cap = shm_index_mask(t->index) + 1;
	}
	if ((t->index_used + adds) * 4 <= cap * 3) {
		unsigned log2 = index_log2_for(t->index_used + adds);
		if (!b->t && !reserve && (t->index_used + adds) * 2 > cap && ((uint64_t)1 << log2) > cap &&
		    (t->index_used - t->records) * 16 <= cap && (b->word = new_index(b, log2, 0))) {
			b->t = t;
			b->begun = 1;
			b->zeroed = b->copied = b->used = 0;
		}
		return 0;
	}

	/* Only a tombstone can be dead, and the slots that are not records
	 * hold the tombstones: without any, nothing needs counting. */
	uint64_t *old = slots_of(b, t->index);
	uint64_t dead = t->index_used > t->records ? count_dead(b, old, cap) : 0;
	uint64_t live = t->index_used - dead;
	unsigned log2 = index_log2_for(live + adds);
	if ((live + adds) * 4 > ((uint64_t)3 << log2))
		return -ENOSPC;
	/* The largest index rebuilt at its own size and over half full would
	 * be rebuilt again within a few adds: only if that drops a sixteenth
	 * of it are the next cap / 16 adds free of another rebuild. */
	if (((uint64_t)1 << log2) == cap && 2 * (live + adds) > cap && dead < cap / 16)
		return -ENOSPC;
	return plan_rebuild(b, t, log2);
}
