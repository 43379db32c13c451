/*
 * alloc.h - the arena allocator. Only the writer thread allocates and frees,
 * so its state is private to the daemon and needs no lock; the arenas hold
 * only data. Blocks come in size classes (16-byte steps up to 256 bytes,
 * then four classes per power of two) carved from the arenas in order by a
 * bump pointer; a freed block goes on its class's stack of free blocks,
 * which lives in the free blocks themselves (alloc.c; no reader can see a
 * block once it is freed).
 * Blocks of 64 bytes or more start on a cache line.
 */
#ifndef SHMDBD_ALLOC_H
#define SHMDBD_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* The largest block: 2 GiB, the largest index (SHM_INDEX_MAX_LOG2 slots). */
#define ALLOC_MAX ((size_t)1 << 31)
/* 16 classes to 256 bytes, then 4 per power of two up to ALLOC_MAX. */
#define ALLOC_CLASSES (16 + (31 - 8) * 4)

struct alloc_arena {
	uint64_t start, end;  /* range offsets of the arena's data */
	uint64_t bump;        /* first never-used byte */
	uint64_t used;        /* bytes in allocated blocks (class sizes) */
};

struct alloc {
	uint8_t *base;
	unsigned narenas;
	struct alloc_arena arena[SHM_MAX_ARENAS];
	uint64_t free_head[ALLOC_CLASSES]; /* each class's top free chunk, or 0 */
};

/* alloc_init - no block allocated; arena i spans [start_i, end_i). */
void alloc_init(struct alloc *a, uint8_t *base);
void alloc_add_arena(struct alloc *a, uint64_t start, uint64_t end);

/* The class size a request of `size` bytes takes (size 1..ALLOC_MAX). */
size_t alloc_class_size(size_t size);

/* alloc_get - a block of at least `size` bytes: its range offset, or 0 if
 * no arena has room (or size is 0 or over ALLOC_MAX). */
uint64_t alloc_get(struct alloc *a, size_t size);

/* alloc_put - free the block at `off` that was allocated with `size`. */
void alloc_put(struct alloc *a, uint64_t off, size_t size);

/* Bytes in use in all arenas. */
uint64_t alloc_used(const struct alloc *a);

#endif /* SHMDBD_ALLOC_H */
