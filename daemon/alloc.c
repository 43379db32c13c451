/*
 * alloc.c - size-class allocator over the arenas (see alloc.h).
 *
 * Classes: 0..15 are 16..256 bytes in 16-byte steps; above, for each k from
 * 8 to 30, the four classes 2^k * 5/4, 6/4, 7/4 and 8/4, so a block wastes
 * at most a quarter of itself. A freed block is reused only by its class.
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
 */
#include "alloc.h"

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

/* The header of a free block that holds free-block offsets of its class. */
struct free_chunk {
	uint64_t next;      /* the next chunk of the class, or 0 */
	uint64_t count;     /* offsets held */
	uint64_t offs[];    /* chunk_cap(class) of them */
};

static uint64_t chunk_cap(size_t csize)
{
	return (csize - sizeof(struct free_chunk)) / sizeof(uint64_t);
}

static struct free_chunk *chunk_at(struct alloc *a, uint64_t off)
{
	return (struct free_chunk *)(a->base + off);
}

/* A free block of class c, or 0. */
static uint64_t pop_free(struct alloc *a, unsigned c)
{
	uint64_t top = a->free_head[c];
	if (!top)
		return 0;
	struct free_chunk *ch = chunk_at(a, top);
	if (ch->count)
		return ch->offs[--ch->count];
	a->free_head[c] = ch->next;
	return top;
}

static void push_free(struct alloc *a, unsigned c, uint64_t off)
{
	uint64_t top = a->free_head[c];
	if (top) {
		struct free_chunk *ch = chunk_at(a, top);
		if (ch->count < chunk_cap(class_size(c))) {
			ch->offs[ch->count++] = off;
			return;
		}
	}
	struct free_chunk *ch = chunk_at(a, off);
	ch->next = top;
	ch->count = 0;
	a->free_head[c] = off;
}

uint64_t alloc_get(struct alloc *a, size_t size)
{
	if (size == 0 || size > ALLOC_MAX)
		return 0;
	unsigned c = class_of(size);
	size_t csize = class_size(c);
	uint64_t off = pop_free(a, c);
	if (off) {
		arena_of(a, off)->used += csize;
		return off;
	}
	uint64_t align = csize >= SHM_CACHELINE ? SHM_CACHELINE : 16;
	for (unsigned i = 0; i < a->narenas; i++) {
		struct alloc_arena *ar = &a->arena[i];
		uint64_t at = shm_align_up(ar->bump, align);
		if (at + csize <= ar->end) {
			ar->bump = at + csize;
			ar->used += csize;
			return at;
		}
	}
	return 0;
}

void alloc_put(struct alloc *a, uint64_t off, size_t size)
{
	unsigned c = class_of(size);
	push_free(a, c, off);
	arena_of(a, off)->used -= class_size(c);
}

uint64_t alloc_used(const struct alloc *a)
{
	uint64_t u = 0;
	for (unsigned i = 0; i < a->narenas; i++)
		u += a->arena[i].used;
	return u;
}
