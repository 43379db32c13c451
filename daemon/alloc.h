/*
 * alloc.h - the arena allocator. Only the writer thread allocates and frees,
 * so its state is private to the daemon and needs no lock; the arenas hold
 * only data. Blocks come in size classes (16-byte steps up to 256 bytes,
 * then four classes per power of two) carved from the arenas in order by a
 * bump pointer; a freed block goes on its class's stack of free blocks,
 * which lives in the free blocks themselves (alloc.c). A block freed with
 * alloc_put is one no reader can see; a pruned version, which a reader may
 * still be reading, is freed with alloc_put_version and stays a version.
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

/* Stacks of free blocks, one per class (alloc.c). */
struct free_stack {
	uint64_t head[ALLOC_CLASSES]; /* each class's top free chunk, or 0 */
	size_t skip;                  /* bytes of a block before its chunk header */
};

struct alloc {
	uint8_t *base;
	unsigned narenas;
	struct alloc_arena arena[SHM_MAX_ARENAS];
	struct free_stack general;    /* blocks no reader can reach */
	struct free_stack versions;   /* pruned versions: for versions only */
	uint64_t versions_held;       /* blocks in the versions stacks */
	uint64_t versions_put_ts;     /* commit_ts when the last one was put there */
};

/* The smallest version block (a 1-byte key, no value): the version stacks
 * hold no smaller class. */
#define ALLOC_VERSION_MIN 32u

/* alloc_init - no block allocated; arena i spans [start_i, end_i). */
void alloc_init(struct alloc *a, uint8_t *base);
void alloc_add_arena(struct alloc *a, uint64_t start, uint64_t end);

/* The class size a request of `size` bytes takes (size 1..ALLOC_MAX). */
size_t alloc_class_size(size_t size);

/* alloc_get - a block of at least `size` bytes: its range offset, or 0 if
 * no arena has room (or size is 0 or over ALLOC_MAX). */
uint64_t alloc_get(struct alloc *a, size_t size);

/* alloc_get_version - as alloc_get, for a record version (size at least
 * ALLOC_VERSION_MIN): a pruned version's block if its class has one. */
uint64_t alloc_get_version(struct alloc *a, size_t size);

/* alloc_get_run - n blocks of sizes[0..n) side by side, in that order, in
 * one stretch of an arena, each where alloc_get would place a block of its
 * size (on a cache line from 64 bytes on, else on 16): their offsets into
 * offs. Each is freed on its own later (alloc_put or alloc_put_version
 * with its size), as any block. Returns 0, or -ENOMEM (no room for the
 * stretch; nothing allocated). */
int alloc_get_run(struct alloc *a, const uint32_t *sizes, size_t n, uint64_t *offs);

/* alloc_put - free the block at `off` that was allocated with `size`; no
 * reader may reach it any more. */
void alloc_put(struct alloc *a, uint64_t off, size_t size);

/* alloc_put_version - free the version block at `off` (allocated with
 * `size`, by either call) that readers may still stand on: its begin_ts
 * becomes SHM_VERSION_FREE and only alloc_get_version hands it out again
 * (layout.h), until alloc_release_versions. Reads the commit published
 * now from the meta segment at the range's start (versions_put_ts). */
void alloc_put_version(struct alloc *a, uint64_t off, size_t size);

/* alloc_unget_version - give back a block alloc_get_version handed out
 * that was never published: to the version stacks, as it may have come
 * from them, but not counted as a new put (versions_put_ts stays: any
 * reader standing on it stood there since it was put the first time). */
void alloc_unget_version(struct alloc *a, uint64_t off, size_t size);

/* alloc_release_versions - move every block of the version stacks to the
 * general ones: for when no reader can stand on a pruned block any more,
 * none having a snapshot as old as versions_put_ts. O(blocks). */
void alloc_release_versions(struct alloc *a);

/* Whether the version stacks hold any block. */
static inline int alloc_versions_held(const struct alloc *a)
{
	return a->versions_held != 0;
}

/* Bytes in use in all arenas. */
uint64_t alloc_used(const struct alloc *a);

/* Bytes all arenas hold, in use or not. */
uint64_t alloc_capacity(const struct alloc *a);

/* Bytes of all arenas never handed out yet (past their bump pointers). */
uint64_t alloc_fresh(const struct alloc *a);

#endif /* SHMDBD_ALLOC_H */
