/*
 * align.h - rounding to a power-of-two alignment: the one idiom for
 * record padding, cache lines, pages and huge pages, in daemon and clients.
 */
#ifndef SHMDB_ALIGN_H
#define SHMDB_ALIGN_H

#include <stdint.h>

/* v rounded up to a multiple of a (a power of two). */
static inline uint64_t shm_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* v rounded down to a multiple of a (a power of two). */
static inline uint64_t shm_align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

#endif /* SHMDB_ALIGN_H */
