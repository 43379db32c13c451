/*
 * idle.h - the writer's idle strategy (--writer-idle): what it does between
 * transactions. Pure logic over the times the writer gives it, so that a
 * test can drive it with any arrival pattern; writer.c does the polling
 * and the parking it decides.
 *
 *   spin     poll without end: the writer has a core of its own.
 *   sleep    park on the doorbell as soon as a pass finds nothing.
 *   backoff  poll while transactions come closer together than a
 *            wake-up costs (dense traffic: sleeping would cost each one
 *            a wake-up); otherwise poll only a moment and park. When
 *            transactions come at a steady pace, park with a timeout that
 *            wakes the writer just ahead of the next one, so that it is
 *            polling when it comes: commits as fast as spin's at a
 *            fraction of its cpu.
 *
 * The price of a wake-up is measured, not assumed: a client that rings
 * the doorbell stamps the time (layout.h), and the writer times how long
 * it took to run after; a timed park's lateness is measured the same way.
 */
#ifndef SHMDBD_IDLE_H
#define SHMDBD_IDLE_H

#include <stdbool.h>
#include <stdint.h>

enum idle_policy { IDLE_SPIN, IDLE_BACKOFF, IDLE_SLEEP }; /* == SHMDB_IDLE_* */

/* What the writer does next, idle since the last work. */
enum idle_action {
	IDLE_POLL,   /* look at the rings again */
	IDLE_YIELD,  /* give the cpu to whatever else is runnable on it, then look again */
	IDLE_PARK,   /* park on the doorbell until rung, or *timeout_ns passes (0: none) */
};

struct idle {
	enum idle_policy policy;
	uint64_t window_cap_ns;   /* backoff polls at most this long (--writer-idle-us) */
	uint64_t wake_ns;         /* a wake-up's price: doorbell rung to writer running */
	uint64_t late_ns;         /* how late a timed park wakes the writer ... */
	uint64_t late_dev_ns;     /* ... and its mean deviation */
	uint64_t miss_ns;         /* how long after the arrival it was for a timed
				   * park woke, when a stand-in served it first
				   * (a hit: 0), averaged: the lead grows by it,
				   * up to a quarter of the period */
	bool missed;              /* the park ending now was overtaken so (idle_missed) */
	unsigned polled_through;  /* steady arrivals polled through since a timed park */
	uint64_t rung_ns;         /* the stamp of the ring that ended the last park:
				   * when the work it announced arrived, 0: none */
	uint64_t gap_ns;          /* typical quiet time before work arrives */
	uint64_t period_ns;       /* typical time between arrivals ... */
	uint64_t jitter_ns;       /* ... and its mean deviation */
	uint64_t last_arrival_ns; /* when work last arrived after quiet, 0: never */
	uint64_t poll_until_ns;   /* after a timed wake: poll until then */
	bool contended;           /* other threads want the writer's cpu: yield before parking */
	bool yielded;             /* yielded once since the last arrival */
	uint64_t away_ns;         /* how long a yield keeps the writer off its cpu */
	uint64_t away_quiet_ns;   /* of the quiet since the last work, time the
				   * writer's thread was away (idle_away) */
	uint64_t preempted;       /* the writer's involuntary switches when last looked */
	uint64_t looked_ns;       /* when the writer last looked */
};

/* How often the writer looks whether its cpu is contended (idle_contention). */
#define IDLE_CONTENTION_EVERY_NS 2000000ull

/* The writer has been preempted `preempted` times in all by `now` (its
 * involuntary context switches): if that grew since the last look, other
 * runnable threads share its cpu: backoff then yields it once, after its
 * window, before it parks. */
void idle_contention(struct idle *s, uint64_t now, uint64_t preempted);

/* The strategy `policy`, polling at most window_cap_ns under backoff. */
void idle_init(struct idle *s, enum idle_policy policy, uint64_t window_cap_ns);

/* Work arrived at `now` after the writer had been quiet since `quiet_since`
 * (its last work; the gap, less the time away meanwhile, tells the
 * traffic's density and pace). */
void idle_arrival(struct idle *s, uint64_t now, uint64_t quiet_since);

/* Quiet since `quiet_since`, at `now`: poll again, or park (with
 * *timeout_ns: wake by then, 0 for no timeout). */
enum idle_action idle_next(struct idle *s, uint64_t now, uint64_t quiet_since,
			   uint64_t *timeout_ns);

/* The park asked with `deadline` (0: none) ended at `now`: rung_ns is the
 * doorbell's stamp if a client rang it (0 if not). */
void idle_woke(struct idle *s, uint64_t now, uint64_t deadline, uint64_t rung_ns);

/* The arrival the park now ending was for came while the writer slept,
 * and a stand-in served it. Before idle_woke: the lateness still counts,
 * how long after the arrival the writer woke makes the next timed parks
 * end that much earlier, and there is nothing to poll through. */
void idle_missed(struct idle *s);

/* Whether traffic is dense: work comes after quiet shorter than a
 * wake-up's price (on a contended cpu, a yield's if that is higher, up to
 * twice a wake-up's), so backoff polls for it (never under sleep). */
bool idle_dense(const struct idle *s);

/* Whether the strategy wants the writer's own thread up rather than
 * parked with no timeout: traffic is dense (it would poll for it) or
 * steady (it would park with a timeout that ends ahead of the next
 * arrival, and poll through it). Only under backoff. */
bool idle_watching(const struct idle *s);

/* The writer's thread, quiet, was away from waiting for work for `ns`
 * (off its cpu, or busy with other chores): on a contended cpu, the quiet
 * stretch weighed at the next arrival, and by idle_next meanwhile, leaves
 * it out. There a commit that comes while the writer is off its cpu waits
 * for the cpu, not for the writer; counted as quiet, those waits made the
 * 95/5 mixed workload's commits, about 10 µs apart, look 45 µs apart,
 * longer than a wake-up, so the writer parked where it should have
 * polled. (Elsewhere time away is the host's or an interrupt's, rare and
 * short: ignored, so uncontended traffic is weighed as it always was.) */
void idle_away(struct idle *s, uint64_t ns);

/* A yield (IDLE_YIELD) kept the writer off its cpu for `ns`: on a
 * contended cpu, that is a price of stepping aside (idle_dense). */
void idle_yielded(struct idle *s, uint64_t ns);

/* A stand-in (writer.c) was rung with stamp rung_ns: the work it announced
 * arrived then. */
void idle_rung(struct idle *s, uint64_t rung_ns);

/* How long a client that found the writer awake should spin for its
 * completion before it sleeps (meta client_spin_ns). */
uint32_t idle_client_spin_ns(const struct idle *s);

/* "spin", "backoff", "sleep". */
const char *idle_policy_name(enum idle_policy p);

#endif /* SHMDBD_IDLE_H */
