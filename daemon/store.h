/*
 * store.h - the daemon's view of the store: its reserved range, the meta
 * segment and the arenas, built once at start and sealed.
 */
#ifndef SHMDBD_STORE_H
#define SHMDBD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "layout.h"

struct store {
	uint8_t *base;          /* range base in the daemon: meta at 0 */
	uint64_t range_size;
	uint64_t range_align;
	struct shm_meta *meta;  /* writable in the daemon only */
	int meta_fd;
	struct shm_doorbell *doorbell; /* shared read-write with every client */
	int doorbell_fd;
	unsigned arena_count;
	int arena_fd[SHM_MAX_ARENAS];
	struct arena_plan plan[SHM_MAX_ARENAS];
};

/*
 * store_build - plan, create, place, fault in and seal the meta segment and
 * one arena per node in nodes[0..n-1] (-1: unbound), and fill the meta
 * segment's identity and arena table. daemon_state is left STARTING.
 * Returns 0, or -errno with one line in err; on failure nothing is left.
 */
int store_build(struct store *s, const struct config *c, const int *nodes, unsigned n,
		int writer_cpu, char *err, size_t errlen);

/* Unmap and close everything store_build made. */
void store_destroy(struct store *s);

/* The descriptors a client receives, in protocol order: meta, a place left
 * for the session's, doorbell, arenas. Returns how many. */
unsigned store_fill_fds(const struct store *s, int *fds);

#endif /* SHMDBD_STORE_H */
