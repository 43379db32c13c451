/*
 * writer.h - the single writer: its thread serves every session's ring in
 * turn, commits their transactions through the core, posts completions,
 * runs the reclaimer, and sleeps on the doorbell when there has been no
 * work for its idle window; while it sleeps, a stand-in on a committing
 * client's cpu may take its turn (writer.c).
 */
#ifndef SHMDBD_WRITER_H
#define SHMDBD_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc.h"
#include "commit.h"
#include "core.h"
#include "grace.h"
#include "idle.h"
#include "pressure.h"
#include "reclaim.h"
#include "retire.h"
#include "ring.h"
#include "sessions.h"
#include "store.h"
#include "wal.h"

struct checkpointer;

struct writer;

/* A stand-in of the writer, pinned to `cpu` (writer.c). */
struct standin {
	pthread_t thread;
	struct writer *w;
	int cpu;
	uint32_t seen;              /* its bell's value when it was started */
};

struct writer {
	pthread_t thread;
	int cpu;
	/* The writer's turn: whoever holds it is the writer (its own thread,
	 * or a stand-in); the writer's state (last_work_ns, idle, the core,
	 * the reclaimer, the monitor, the figures) is touched only under it. */
	pthread_mutex_t turn;
	struct standin *standins;   /* nstandins of them, started by writer_run */
	unsigned nstandins;
	uint64_t last_work_ns;      /* when the last pass that did work ended */
	bool parked_untimed;        /* its own thread sleeps with no timeout */
	bool parked_blind;          /* ... with no timeout of the idle strategy's
				     * (reclamation may still watch) */
	bool handed_back;           /* a stand-in woke it since (not a client) */
	struct idle idle;           /* what it does between transactions (idle.h) */
	uint32_t stop;              /* 1: stop requested */
	struct store *store;
	struct session_registry *sessions;
	struct alloc alloc;         /* the arenas' blocks: the core allocates, */
	struct retire_queue retired; /* retires, and the reclaimer frees */
	struct core core;
	struct reclaimer reclaimer;
	struct session_sweep sweep; /* the reclaimer's view of the reader slots */
	struct grace grace;         /* its grace thread */
	struct wal *wal;            /* the log, NULL for durability none */
	struct checkpointer *checkpoint;
	struct pressure monitor;    /* the arenas' level: refusals, eager reclaim */
	/* Its activity (meta lines 8-10): */
	uint64_t busy_ticks;        /* in passes that did work (tsc.h) */
	uint64_t started_tsc, started_ns;
};

/* What the writer keeps in each session (sessions.h's opaque bytes): the
 * size to give session_registry_init, and how to free one. */
#define WRITER_SESSION_STATE_SIZE sizeof(struct ring_state)
void writer_session_state_free(void *state);

/* How the writer runs (the daemon's settings, config.h). */
struct writer_settings {
	int cpu;                      /* the cpu it is pinned to */
	enum idle_policy idle_policy; /* --writer-idle */
	uint64_t idle_ns;             /* backoff polls at most this long (--writer-idle-us) */
	uint32_t memory_high_pct;     /* the memory monitor's thresholds (pressure.h) */
	uint32_t memory_critical_pct;
};

/*
 * writer_init - set up the writer's core over store `st` (the store empty
 * at commit 1) and start its grace thread pinned to ws->cpu; the writer's
 * thread starts with writer_run. Between the two the caller's thread may
 * commit through w->core (a restore). Returns 0 or -errno (-EINVAL for a
 * cpu out of range).
 */
int writer_init(struct writer *w, const struct writer_settings *ws, struct store *st,
		struct session_registry *reg);

/*
 * writer_attach_log - log every client commit to `wal` (sync mode: publish
 * a pass's commits only once its records are on disk) and answer
 * checkpoint requests with `ck`. Before writer_run.
 */
void writer_attach_log(struct writer *w, struct wal *wal, struct checkpointer *ck);

/*
 * writer_run - start the writer thread, pinned to the cpu of writer_init
 * (its affinity set before it runs), serving the sessions of the
 * registry; and, unless the policy is spin, a stand-in pinned to each
 * other cpu the calling thread may run on (below SHM_STANDINS), named in
 * the meta's standin_cpus. Before any client attaches. Returns 0, or
 * -errno after undoing writer_init (and stopping what it started).
 */
int writer_run(struct writer *w);

/* writer_stop - ask the thread and its stand-ins to stop, wake them, join
 * them, and free what writer_init set up. */
void writer_stop(struct writer *w);

/* writer_destroy - free what writer_init set up and join the grace thread
 * it started, when writer_run was not called. Before w's memory goes: that
 * thread reads and writes it. */
void writer_destroy(struct writer *w);

#endif /* SHMDBD_WRITER_H */
