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
};

/* What the writer keeps in each session (sessions.h's opaque bytes): the
 * size to give session_registry_init, and how to free one. */
#define WRITER_SESSION_STATE_SIZE sizeof(struct ring_state)
void writer_session_state_free(void *state);

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
