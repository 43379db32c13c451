/*
 * range.h - reserving the one contiguous virtual range a store is mapped
 * into, in the daemon and in every client.
 */
#ifndef SHMDB_RANGE_H
#define SHMDB_RANGE_H

#include <stddef.h>
#include <stdint.h>

/*
 * shm_reserve_range - reserve `size` bytes of address space whose start is a
 * multiple of `align` (a power of two), PROT_NONE and backed by nothing.
 * Segments are then mapped into it with MAP_FIXED; munmap(base, size)
 * releases it all. Returns the base, or NULL with errno set.
 */
uint8_t *shm_reserve_range(size_t size, size_t align);

#endif /* SHMDB_RANGE_H */
