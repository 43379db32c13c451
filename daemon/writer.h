/*
 * writer.h - the single writer thread: it serves every session's ring in
 * turn, applies their transactions, publishes commits, posts completions,
 * reclaims, and sleeps on the doorbell when there has been no work for its
 * idle window.
 */
#ifndef SHMDBD_WRITER_H
#define SHMDBD_WRITER_H

#include <pthread.h>
#include <stdint.h>

#include "apply.h"
#include "grace.h"
#include "sessions.h"
#include "store.h"

struct writer {
	pthread_t thread;
	int cpu;
	uint64_t idle_ns;           /* busy-poll this long after the last work */
	uint32_t stop;              /* 1: stop requested */
	struct store *store;
	struct session_registry *sessions;
	struct applier applier;
	struct grace grace;         /* its grace thread */
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
