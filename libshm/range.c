/*
 * range.c - an aligned, inaccessible reservation of address space: map
 * size + align bytes PROT_NONE, keep the aligned part, unmap head and tail.
 * MAP_NORESERVE: the reservation costs no commit charge; the segments mapped
 * over it bring their own memory.
 */
#include "range.h"

#include <sys/mman.h>

#include "layout.h"

uint8_t *shm_reserve_range(size_t size, size_t align)
{
	size_t len = size + align;
	uint8_t *raw = mmap(NULL, len, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uint8_t *base = (uint8_t *)shm_align_up((uintptr_t)raw, align);
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	size_t tail = (size_t)((raw + len) - (base + size));
	if (tail)
		munmap(base + size, tail);
	return base;
}
