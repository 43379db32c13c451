/*
 * writer.h - the single writer thread: it serves every session's ring in
 * turn, commits their transactions through the core, posts completions,
 * runs the reclaimer, and sleeps on the doorbell when there has been no
 * work for its idle window.
 */
#ifndef SHMDBD_WRITER_H
#define SHMDBD_WRITER_H

#include <pthread.h>
#include <stdint.h>

#include "alloc.h"
#include "commit.h"
#include "core.h"
#include "grace.h"
#include "reclaim.h"
#include "retire.h"
#include "ring.h"
#include "sessions.h"
#include "store.h"

/* The writer's ring state of one session, by session id. */
struct served {
	uint64_t session_id;
	struct ring_state ring;
};

struct writer {
	pthread_t thread;
	int cpu;
	uint64_t idle_ns;           /* busy-poll this long after the last work */
	uint32_t stop;              /* 1: stop requested */
	struct store *store;
	struct session_registry *sessions;
	struct alloc alloc;         /* the arenas' blocks: the core allocates, */
	struct retire_queue retired; /* retires, and the reclaimer frees */
	struct core core;
	struct reclaimer reclaimer;
	struct session_sweep sweep; /* the reclaimer's view of the reader slots */
	struct grace grace;         /* its grace thread */
	/* served[i] is the ring state of session i of the list of generation
	 * served_gen (writer.c). */
	struct served *served;
	uint32_t nserved;
	uint64_t served_gen;        /* UINT64_MAX: none followed yet */
};

/*
 * writer_start - start the writer thread, and its grace thread, pinned to
 * `cpu` (their affinity is set before they run), serving the sessions of `reg` over store `st`.
 * Returns 0 or -errno (-EINVAL for a cpu the kernel refuses).
 */
int writer_start(struct writer *w, int cpu, uint64_t idle_ns, struct store *st,
		 struct session_registry *reg);

/* writer_stop - ask the thread to stop, wake it, and join it. */
void writer_stop(struct writer *w);

#endif /* SHMDBD_WRITER_H */
