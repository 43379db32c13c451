/*
 * huge_usage.c - each arena's bytes on huge pages, from /proc/self/smaps
 * (huge_usage.h).
 *
 * An arena is one shared mapping at base + range_off, size bytes (mbind
 * may split it into several VMAs; each lies wholly inside it). For each
 * VMA inside an arena the kernel reports its hugetlb pages
 * (Shared_Hugetlb, Private_Hugetlb) and the PMD-mapped pages of shmem or a
 * file (ShmemPmdMapped, FilePmdMapped: transparent huge pages); their sum
 * is the arena's huge bytes. Only the daemon's main thread runs this; the
 * figure is stored relaxed, since a client reads it as a statistic only.
 */
#include "huge_usage.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The arena holding [lo, hi) of the daemon's address space, or -1. */
static int arena_of(const struct store *s, uintptr_t lo, uintptr_t hi)
{
	for (unsigned i = 0; i < s->arena_count; i++) {
		const struct shm_arena_desc *d = &s->meta->arena_table[i];
		uintptr_t start = (uintptr_t)(s->base + d->range_off);
		if (lo >= start && hi <= start + d->size)
			return (int)i;
	}
	return -1;
}

void huge_usage_publish(struct store *s)
{
	static const char *const fields[] = { "Shared_Hugetlb:", "Private_Hugetlb:",
					      "ShmemPmdMapped:", "FilePmdMapped:" };
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return;
	uint64_t bytes[SHM_MAX_ARENAS] = { 0 };
	int in = -1;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 && strchr(line, '-') &&
		    line[0] != ' ') {
			in = arena_of(s, lo, hi);
			continue;
		}
		if (in < 0)
			continue;
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
			size_t len = strlen(fields[k]);
			uint64_t kb;
			if (!strncmp(line, fields[k], len) && sscanf(line + len, "%" SCNu64, &kb) == 1)
				bytes[in] += kb << 10;
		}
	}
	fclose(f);
	for (unsigned i = 0; i < s->arena_count; i++)
		__atomic_store_n(&s->meta->arena_table[i].huge_bytes, bytes[i], __ATOMIC_RELAXED);
}
