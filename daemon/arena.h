/*
 * arena.h - one arena: a memfd whose pages are bound to a NUMA node, faulted
 * in by the daemon, and sealed before any descriptor leaves the daemon.
 */
#ifndef SHMDBD_ARENA_H
#define SHMDBD_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Huge pages still to be had, shared by the plans of all arenas of a start. */
struct hugepage_budget {
	uint64_t global_2m, global_1g; /* free minus reserved, system-wide */
};

struct arena_plan {
	int node;            /* NUMA node to bind to, -1: unbound */
	uint32_t page_kind;  /* enum shmdb_page_kind */
	uint32_t page_size;
	uint64_t size;       /* rounded up to page_size */
	char note[200];      /* why this page kind, for the start-up log */
};

/* Read how many huge pages of each size the system has free. */
void hugepage_budget_read(struct hugepage_budget *b);

/*
 * arena_plan - choose the page kind and size of an arena on `node`, taking
 * its huge pages from `b`. With HUGEPAGES_AUTO and too few huge pages it
 * falls back to 4K pages and says so in p->note. With HUGEPAGES_2M or _1G and
 * too few, it fails with -ENOMEM and a line in err naming
 * /proc/sys/vm/nr_hugepages and the count needed.
 */
int arena_plan(const struct config *c, int node, struct hugepage_budget *b,
	       struct arena_plan *p, char *err, size_t errlen);

/*
 * arena_create - create the memfd of plan `p`, map it read-write at `addr`
 * (inside the daemon's reserved range), bind it to p->node, fault in every
 * page, and check that the pages landed on the node. The memfd is not sealed
 * yet: the caller writes the arena header, then calls seal_store_segment().
 * Returns the memfd, or -errno with a line in err; on failure nothing stays
 * mapped at addr but the reservation.
 */
int arena_create(const struct arena_plan *p, unsigned index, void *addr,
		 char *err, size_t errlen);

/*
 * seal_store_segment - seal a meta or arena memfd so that no process can
 * write it, create a writable mapping of it, or resize it: F_SEAL_SHRINK,
 * F_SEAL_GROW, F_SEAL_FUTURE_WRITE, F_SEAL_SEAL. The daemon's own writable
 * mapping, made before, keeps working. Returns 0 or -errno.
 */
int seal_store_segment(int fd);

/*
 * node_of_address - the NUMA node of the page at addr in this process,
 * faulting it in if needed (get_mempolicy MPOL_F_NODE|MPOL_F_ADDR).
 * Returns the node, or -errno.
 */
int node_of_address(const void *addr);

#endif /* SHMDBD_ARENA_H */
