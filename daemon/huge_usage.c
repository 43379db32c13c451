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
 *
 * Cost: the kernel walks the page tables of every mapping it lists, which
 * for a big 4 KiB arena takes a while on the main thread (about 100 ms
 * per 64 GiB). So after the start only 4K+THP arenas are measured again
 * (hugetlb pages and plain 4 KiB ones do not change), at most every
 * HUGE_USAGE_EVERY_NS.
 */
#include "huge_usage.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "shmdb.h"

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

#define HUGE_USAGE_EVERY_NS (10 * 1000000000ull)

/* Whether any arena of s may gain or lose transparent huge pages. */
static bool any_thp(const struct store *s)
{
	for (unsigned i = 0; i < s->arena_count; i++)
		if (s->meta->arena_table[i].page_kind == SHMDB_PAGES_4K_THP)
			return true;
	return false;
}

void huge_usage_publish(struct store *s, bool again)
{
	static const char *const fields[] = { "Shared_Hugetlb:", "Private_Hugetlb:",
					      "ShmemPmdMapped:", "FilePmdMapped:" };
	static uint64_t last_ns;
	uint64_t now = shm_now_ns();
	if (again && (!any_thp(s) || now - last_ns < HUGE_USAGE_EVERY_NS))
		return;
	last_ns = now;
	FILE *f = fopen("/proc/self/smaps", "re");
	if (!f)
		return;
	uint64_t bytes[SHM_MAX_ARENAS] = { 0 };
	int in = -1;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		/* A mapping's first line: "lo-hi perms ..."; no field line
		 * ("Name: value") parses as two hex numbers joined by '-'. */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2) {
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
