/*
 * alloc.c - size-class allocator over the arenas (see alloc.h).
 *
 * Classes: 0..15 are 16..256 bytes in 16-byte steps; above, for each k from
 * 8 to 30, the four classes 2^k * 5/4, 6/4, 7/4 and 8/4, so a block wastes
 * at most a quarter of itself. A freed block is reused by its class, or,
 * once the bump pointers reach the arenas' ends, cut up for a smaller
 * class (split_larger): the front serves the request and the rest goes
 * back as blocks of smaller classes. Freed blocks are never joined again,
 * so a store that frees many small blocks and then asks for large ones
 * can find no room while bytes are free (alloc_used counts only blocks
 * handed out). Every block starts on a 16-byte boundary (classes are
 * multiples of 16, arenas and runs start on cache lines): an index slot
 * keeps 4 bits of its own in a version's offset's low bits (layout.h).
 *
 * Free blocks: each class keeps a stack of free-block offsets, stored in
 * free blocks of the class themselves (struct free_chunk at the block's
 * start): the top chunk holds up to chunk_cap(class) offsets, and links to
 * the next chunk. Push writes into the top chunk, or makes the freed block
 * the new top when it is full; pop takes an offset from the top chunk, or
 * hands out the chunk block itself once it is empty. A list linked through
 * every block would make each pop wait for the cache miss of the block
 * popped before it (the writer's apply loop then ran at memory latency per
 * put); here a pop reads the top chunk, which one miss brings in for up to
 * chunk_cap pops. 16-byte blocks hold no offsets and form a plain list.
 *
 * Two sets of stacks: the general ones, and those of pruned versions
 * (alloc_put_version), which readers may still stand on (layout.h): such a
 * block is handed out again only for a version (alloc_get_version), and its
 * chunk header starts one word in, so that its first word, a version's
 * begin_ts, stays SHM_VERSION_FREE while it is free. A version takes a
 * pruned block first, then a general one, then new space; other blocks
 * never take a pruned one, until alloc_release_versions moves them all to
 * the general stacks once no reader can stand on them (the reclaimer does
 * when memory is short and every snapshot is newer than versions_put_ts).
 */
#include "alloc.h"

#include <errno.h>
#include <string.h>

static unsigned class_of(size_t size)
{
	if (size <= 256)
		return (unsigned)((size + 15) / 16) - 1;
	unsigned k = 63 - (unsigned)__builtin_clzll(size - 1); /* 2^k < size <= 2^(k+1) */
	size_t quarter = (size_t)1 << (k - 2);
	unsigned sub = (unsigned)((size - ((size_t)1 << k) + quarter - 1) / quarter); /* 1..4 */
	return 16 + (k - 8) * 4 + sub - 1;
}

static size_t class_size(unsigned c)
{
	if (c < 16)
		return (size_t)(c + 1) * 16;
	unsigned k = (c - 16) / 4 + 8, sub = (c - 16) % 4 + 1;
	return ((size_t)1 << k) + sub * ((size_t)1 << (k - 2));
}

size_t alloc_class_size(size_t size)
{
	return class_size(class_of(size));
}

void alloc_init(struct alloc *a, uint8_t *base)
{
	memset(a, 0, sizeof(*a));
	a->base = base;
	a->versions.skip = sizeof(uint64_t); /* begin_ts stays SHM_VERSION_FREE */
}

void alloc_add_arena(struct alloc *a, uint64_t start, uint64_t end)
{
	struct alloc_arena *ar = &a->arena[a->narenas++];
	ar->start = shm_align_up(start, SHM_CACHELINE);
	ar->end = end;
	ar->bump = ar->start;
	ar->used = 0;
}

static struct alloc_arena *arena_of(struct alloc *a, uint64_t off)
{
	for (unsigned i = 0; i < a->narenas; i++)
		if (off >= a->arena[i].start && off < a->arena[i].end)
			return &a->arena[i];
	return NULL;
}

/* The header of a free block that holds free-block offsets of its class,
 * `skip` bytes into the block (struct free_stack). */
struct free_chunk {
	uint64_t next;      /* the next chunk of the class, or 0 */
	uint64_t count;     /* offsets held */
	uint64_t offs[];    /* chunk_cap(class) of them */
};

static uint64_t chunk_cap(const struct free_stack *st, size_t csize)
{
	return (csize - st->skip - sizeof(struct free_chunk)) / sizeof(uint64_t);
}

static struct free_chunk *chunk_at(struct alloc *a, const struct free_stack *st, uint64_t off)
{
	return (struct free_chunk *)(a->base + off + st->skip);
}

/* A free block of class c from st, or 0. */
static uint64_t pop_free(struct alloc *a, struct free_stack *st, unsigned c)
{
	uint64_t top = st->head[c];
	if (!top)
		return 0;
	struct free_chunk *ch = chunk_at(a, st, top);
	if (ch->count)
		return ch->offs[--ch->count];
	st->head[c] = ch->next;
	return top;
}

static void push_free(struct alloc *a, struct free_stack *st, unsigned c, uint64_t off)
{
	uint64_t top = st->head[c];
	if (top) {
		struct free_chunk *ch = chunk_at(a, st, top);
		if (ch->count < chunk_cap(st, class_size(c))) {
			ch->offs[ch->count++] = off;
			return;
		}
	}
	struct free_chunk *ch = chunk_at(a, st, off);
	ch->next = top;
	ch->count = 0;
	st->head[c] = off;
}

/* A block of class c from the bump pointers, or 0. */
static uint64_t bump(struct alloc *a, unsigned c)
{
	size_t csize = class_size(c);
	uint64_t align = csize >= SHM_CACHELINE ? SHM_CACHELINE : 16;
	for (unsigned i = 0; i < a->narenas; i++) {
		struct alloc_arena *ar = &a->arena[i];
		uint64_t at = shm_align_up(ar->bump, align);
		if (at + csize <= ar->end) {
			ar->bump = at + csize;
			return at;
		}
	}
	return 0;
}

/* The largest class of at most `size` bytes (size >= 16, a multiple of 16). */
static unsigned class_within(size_t size)
{
	unsigned c = class_of(size);
	return class_size(c) > size ? c - 1 : c;
}

/* Give the free bytes [off, end) to the general stacks as blocks of exact
 * classes, each of 64 bytes or more on a cache line: a piece up to the
 * next line first when off is not on one, then the largest class that
 * fits. Every class size is a multiple of 16, so the pieces add up. */
static void put_pieces(struct alloc *a, uint64_t off, uint64_t end)
{
	while (off < end) {
		uint64_t len = end - off, mis = off % SHM_CACHELINE;
		size_t piece = mis && len > SHM_CACHELINE - mis ? SHM_CACHELINE - mis : len;
		unsigned c = class_within(piece);
		push_free(a, &a->general, c, off);
		off += class_size(c);
	}
}

/* A block of class c cut from the front of the smallest larger free block
 * of the general stacks (on a cache line, as every block of 64 bytes or
 * more is), the rest given back in pieces; 0 if there is none. */
static uint64_t split_larger(struct alloc *a, unsigned c)
{
	for (unsigned big = c + 1; big < ALLOC_CLASSES; big++) {
		uint64_t off = pop_free(a, &a->general, big);
		if (off) {
			put_pieces(a, off + class_size(c), off + class_size(big));
			return off;
		}
	}
	return 0;
}

/* A block of class c from the general stacks, else from the bump
 * pointers, else cut from a larger free block; 0 if none. */
static uint64_t get_block(struct alloc *a, unsigned c)
{
	uint64_t off = pop_free(a, &a->general, c);
	if (!off)
		off = bump(a, c);
	if (!off)
		off = split_larger(a, c);
	if (off)
		arena_of(a, off)->used += class_size(c);
	return off;
}

uint64_t alloc_get(struct alloc *a, size_t size)
{
	if (size == 0 || size > ALLOC_MAX)
		return 0;
	return get_block(a, class_of(size));
}

/* Where a block of class c goes at or after `at`. */
static uint64_t place_of(unsigned c, uint64_t at)
{
	return shm_align_up(at, class_size(c) >= SHM_CACHELINE ? SHM_CACHELINE : 16);
}

/* The bytes a run of the blocks sizes[0..n) spans from a cache line on. */
static uint64_t run_span(const uint32_t *sizes, size_t n)
{
	uint64_t end = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = class_of(sizes[i]);
		end = place_of(c, end) + class_size(c);
	}
	return end;
}

/* The stretch is one block of the class that holds it, found as any
 * block is (a free one, new space, or cut from a larger one): its blocks
 * are cut from its front and what is left after them goes back in pieces.
 * The bytes between blocks (alignment) are lost, as the bump pointer's
 * are; `used` counts the blocks. */
int alloc_get_run(struct alloc *a, const uint32_t *sizes, size_t n, uint64_t *offs)
{
	uint64_t span = run_span(sizes, n);
	if (span == 0 || span > ALLOC_MAX)
		return -ENOMEM;
	unsigned big = class_of(span);
	uint64_t at = pop_free(a, &a->general, big);
	if (!at)
		at = bump(a, big);
	if (!at)
		at = split_larger(a, big);
	if (!at)
		return -ENOMEM;
	struct alloc_arena *ar = arena_of(a, at);
	uint64_t end = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned c = class_of(sizes[i]);
		offs[i] = at + place_of(c, end);
		end = offs[i] - at + class_size(c);
		ar->used += class_size(c);
	}
	put_pieces(a, at + shm_align_up(end, 16), at + class_size(big));
	return 0;
}

uint64_t alloc_get_version(struct alloc *a, size_t size)
{
	if (size < ALLOC_VERSION_MIN || size > ALLOC_MAX)
		return 0;
	unsigned c = class_of(size);
	uint64_t off = pop_free(a, &a->versions, c);
	if (off) {
		a->versions_held--;
		arena_of(a, off)->used += class_size(c);
		return off;
	}
	return get_block(a, c);
}

void alloc_put(struct alloc *a, uint64_t off, size_t size)
{
	unsigned c = class_of(size);
	push_free(a, &a->general, c, off);
	arena_of(a, off)->used -= class_size(c);
}

/* Give the version block at off to the version stacks, marked free;
 * `stamp`: note the commit now as the last put that readers may stand on. */
static void put_version(struct alloc *a, uint64_t off, size_t size, int stamp)
{
	unsigned c = class_of(size);
	/* The block reads as free before its chunk header may overwrite the
	 * version's other fields: the release fence orders the store before
	 * every later one (layout.h, libshm/index.h). */
	__atomic_store_n((uint64_t *)(a->base + off), SHM_VERSION_FREE, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	push_free(a, &a->versions, c, off);
	arena_of(a, off)->used -= class_size(c);
	a->versions_held++;
	if (stamp) {
		const struct shm_meta *m = (const struct shm_meta *)a->base; /* at range offset 0 */
		a->versions_put_ts = __atomic_load_n(&m->commit_ts, __ATOMIC_RELAXED);
	}
}

void alloc_put_version(struct alloc *a, uint64_t off, size_t size)
{
	put_version(a, off, size, 1);
}

void alloc_unget_version(struct alloc *a, uint64_t off, size_t size)
{
	put_version(a, off, size, 0);
}

void alloc_release_versions(struct alloc *a)
{
	for (unsigned c = 0; c < ALLOC_CLASSES; c++) {
		uint64_t off;
		while ((off = pop_free(a, &a->versions, c)))
			push_free(a, &a->general, c, off);
	}
	a->versions_held = 0;
}

uint64_t alloc_used(const struct alloc *a)
{
	uint64_t u = 0;
	for (unsigned i = 0; i < a->narenas; i++)
		u += a->arena[i].used;
	return u;
}

uint64_t alloc_capacity(const struct alloc *a)
{
	uint64_t c = 0;
	for (unsigned i = 0; i < a->narenas; i++)
		c += a->arena[i].end - a->arena[i].start;
	return c;
}

uint64_t alloc_fresh(const struct alloc *a)
{
	uint64_t f = 0;
	for (unsigned i = 0; i < a->narenas; i++)
		f += a->arena[i].end - a->arena[i].bump;
	return f;
}
