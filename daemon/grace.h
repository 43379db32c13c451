/*
 * grace.h - grace periods for reclamation, off the writer thread.
 *
 * Reclamation needs, between the writer's publication of a commit C and its
 * scan of the reader slots, a full fence on every cpu that runs a reader
 * (libshm/read.c, daemon/reclaim.c). An expedited global membarrier gives
 * that fence at once, by interrupting those cpus: on a virtual machine each
 * interrupt stalls a reader for microseconds, a visible get tail. The plain
 * global membarrier waits instead for every cpu to pass a scheduler
 * quiescent state, which the timer tick gives anyway: nothing interrupts a
 * reader, but it takes milliseconds. So a grace thread issues the plain one
 * on the writer's behalf while the writer goes on applying, and the writer
 * reclaims once it has returned. Under memory pressure the writer takes the
 * expedited one itself (grace_sync), and waits microseconds, not
 * milliseconds.
 *
 * A generation counts requests. The writer asks for one after publishing C
 * (grace_request), and when grace_passed says it completed, every fence the
 * scan needs has happened: scan, and free what retired at or before C.
 */
#ifndef SHMDBD_GRACE_H
#define SHMDBD_GRACE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct grace {
	/* Written by the writer thread, read by the grace thread; apart from
	 * `completed` so that the writer's polling of that line does not
	 * bounce the line the grace thread sleeps on. */
	uint32_t requested __attribute__((aligned(64))); /* futex word */
	uint32_t stop;
	/* Written by the grace thread only. */
	uint32_t completed __attribute__((aligned(64)));
	int plain_cmd;      /* membarrier command of a grace period, 0 if none */
	int expedited_cmd;  /* MEMBARRIER_CMD_GLOBAL_EXPEDITED, or 0 */
	bool threaded;
	pthread_t thread;
};

/*
 * grace_start - choose the membarrier commands the kernel offers and start
 * the grace thread pinned to `cpu` (the writer's: it wakes rarely and
 * briefly, and readers' cpus stay undisturbed). Without any global
 * membarrier, readers fence themselves and every grace period has passed
 * at once; no thread is started. Returns 0 or -errno.
 */
int grace_start(struct grace *g, int cpu);

/* grace_stop - stop and join the grace thread, if one runs. */
void grace_stop(struct grace *g);

/*
 * grace_request - ask for a grace period that begins after every store the
 * caller made before the call (commit_ts included). Writer thread only; at
 * most one request outstanding. Returns its generation.
 */
uint32_t grace_request(struct grace *g);

/* grace_passed - whether generation `gen` has completed. Acquire: what the
 * caller loads afterwards is ordered after the grace period. */
bool grace_passed(const struct grace *g, uint32_t gen);

/* grace_sync - a grace period now, on the calling thread: a full fence, and
 * an expedited membarrier when the kernel has one. */
void grace_sync(struct grace *g);

#endif /* SHMDBD_GRACE_H */
