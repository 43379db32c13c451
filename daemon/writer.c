/*
 * writer.c - the writer thread's loop and its stand-ins (see writer.h).
 *
 * One pass walks the session registry under an RCU read-side lock, serving
 * up to PASS_BUDGET transactions per session so that one flooding session
 * cannot starve the others, and flushes each session's completions once.
 * Each transaction goes through the core (commit.h); when the core finds no
 * room while retired memory waits, it asks (core.h's pressure hook) and the
 * reclaimer frees what no snapshot needs at once. The reclaimer otherwise
 * takes a step after a pass over the sessions when it says one is due
 * (reclaimer_due): a bounded one, so that commits keep flowing; with no
 * transaction waiting and memory it can free now (reclaimer_busy), a step
 * after every pass instead of parking. After each step the memory monitor
 * (pressure.h) reads the arenas' level, which makes the next steps eager
 * from high on.
 *
 * The writer's state per session (its ring state) lives in the session's
 * opaque bytes, allocated with the session by the main thread and freed
 * with it after an RCU grace period; the session knows its size only.
 *
 * Sleeping, the SQPOLL rule: the writer reads the doorbell counter, stores
 * writer_sleeping = 1, issues a full fence, and looks at every ring once
 * more; only if all are empty does it FUTEX_WAIT on the counter with the
 * value it read. A client stores its tail, issues a full fence, and loads
 * writer_sleeping; if set, it increments the counter and wakes the futex.
 * Either the writer's last look sees the tail, or the client sees the flag
 * and its increment makes the wait return: no submission is left waiting.
 *
 * When to poll and when to park is the idle strategy's (idle.h): it hears
 * of every arrival of work after a quiet pass, of the time the writer's
 * own thread spent away while quiet (away_from: off its cpu, as in a
 * yield or a preemption), and of how each park ended;
 * the writer reads the clock only after work or every CLOCK_EVERY_IDLE
 * empty passes, so its decisions are that fine.
 *
 * Stand-ins (backoff and sleep): one thread more per cpu the daemon may
 * use, the writer's own cpu left out, each parked on its own bell
 * (layout.h). A client that finds the writer asleep rings the bell of its
 * own cpu, so the commit is served there while the client sleeps: a
 * switch of that cpu instead of waking another one, which costs this
 * host's virtual cpus 2-4 times more. Still one writer at a time: the
 * writer's turn (a mutex) is held by its own thread except while it is
 * parked, and by a stand-in only from its wake-up until a pass finds
 * nothing, so that transactions apply one after another in one order,
 * and the mutex orders every piece of the writer's state from one holder
 * to the next. A stand-in never polls (it runs where a client wants the
 * cpu); when traffic is dense (the strategy would poll for it), or
 * reclamation waits, and the writer's own thread sleeps with no timeout,
 * it wakes that thread (hand_back).
 */
#include "writer.h"

#include "checkpoint.h"

#include "clock.h"
#include "log.h"
#include "spin.h"
#include "tsan.h"
#include "tsc.h"

#include <errno.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#define PASS_BUDGET 64
#define SLEEP_WATCHING_NS 10000000ull
#define CLOCK_EVERY_IDLE 64u
#define PARK_STEP_NS 1000000ull
/* Gathering records (cluster.h) waits for this long without work: it
 * does not slow a stream of transactions, and what it gathers is not
 * scattered again at once. */
#define CLUSTER_QUIET_NS 1000000ull

/* The writer's ring state of session s, kept in the session's opaque
 * bytes (sessions.h). */
static struct ring_state *ring_of(struct session *s)
{
	return (struct ring_state *)s->writer_state;
}

void writer_session_state_free(void *state)
{
	ring_state_free(state);
}

/* A transaction of a ring, through the core. */
static int commit_one(void *arg, const uint8_t *txn, size_t len, uint64_t *commit_ts,
		      uint64_t *value)
{
	struct writer *w = arg;
	return commit_txn(&w->core, txn, len, commit_ts, value);
}

/* The core found no room while retired memory waits (core.h). Inside the
 * RCU read-side section of the pass that serves the transaction. */
static void reclaim_now(void *arg)
{
	struct writer *w = arg;
	reclaimer_now(&w->reclaimer);
}

static bool reclaim_holds(void *arg)
{
	struct writer *w = arg;
	return reclaimer_holds(&w->reclaimer);
}

/* Serve the ring of every session of l. Returns the transactions completed. */
static unsigned serve_all(struct writer *w, const struct session_list *l)
{
	unsigned done = 0;

	for (uint32_t i = 0; i < l->n; i++) {
		struct session *s = l->s[i];
		const char *broken;
		if (!s->doomed) {
			done += ring_serve(ring_of(s), s->seg, PASS_BUDGET, commit_one, w, &broken);
			if (broken)
				session_doom(s, broken);
		}
	}
	return done;
}

/*
 * The end of a pass. Sync durability: the pass's records go to disk in one
 * flush (group commit), and only then are its commits published and its
 * completions posted; if the flush fails they never are (wal.h). Then every
 * session's completions are flushed to it: the sessions of l, the list
 * serve_all served (one list a pass, so that each session it touched is
 * released to TSan here, before the grace period that may free it).
 */
static void finish_pass(struct writer *w, const struct session_list *l)
{
	int failed = 0;
	if (w->core.applied_ts != w->store->meta->commit_ts && w->wal &&
	    w->wal->mode == DURABILITY_SYNC) {
		failed = wal_failed(w->wal); /* never publish after a failure */
		if (!failed && (failed = wal_flush(w->wal)))
			wal_fail(w->wal, failed);
	}
	if (!failed)
		core_publish(&w->core);
	for (uint32_t i = 0; i < l->n; i++) {
		struct session *s = l->s[i];
		if (failed)
			ring_fail_unpublished(ring_of(s), s->seg, failed);
		ring_flush(ring_of(s), s->seg);
		TSAN_RELEASE(s); /* before the grace period that may free it */
	}
}

static bool any_pending(struct writer *w)
{
	const struct session_list *l = session_list_get(w->sessions);
	bool pending = false;
	for (uint32_t i = 0; i < l->n && !pending; i++) {
		pending = !l->s[i]->doomed && ring_pending(ring_of(l->s[i]), l->s[i]->seg);
		TSAN_RELEASE(l->s[i]);
	}
	session_list_put(l);
	return pending;
}

/* The writer's half of the SQPOLL rule (above), for whoever holds the
 * turn and means to sleep, its bell's value already read: say the writer
 * may sleep, then look at every ring once more. Returns whether work
 * waits (the caller then stays awake and clears the flag). */
static bool last_look(struct writer *w)
{
	__atomic_store_n(&w->store->meta->writer_sleeping, 1, __ATOMIC_RELAXED);
	/* Orders the flag before the last look at the tails (see above). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	urcu_memb_read_lock();
	bool work = any_pending(w);
	urcu_memb_read_unlock();
	return work;
}

/* A pass that served `done` transactions in `ticks`: the activity
 * figures (meta lines 8-10; relaxed, statistics only, on lines no client
 * polls). */
static void count_pass(struct writer *w, unsigned done, uint64_t ticks)
{
	struct shm_meta *m = w->store->meta;
	unsigned b = 31 - (unsigned)__builtin_clz(done);
	if (b >= SHM_BATCH_BUCKETS)
		b = SHM_BATCH_BUCKETS - 1;
	w->busy_ticks += ticks;
	__atomic_store_n(&m->work_passes, m->work_passes + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&m->batch[b], m->batch[b] + 1, __ATOMIC_RELAXED);
}

/* A step of reclamation, then the memory level it leaves: from high on,
 * the next steps are eager (reclaim.h). The busy time is published here,
 * in nanoseconds against the clock since the writer began. */
static void reclaim_step(struct writer *w, uint64_t now)
{
	reclaimer_step(&w->reclaimer, now);
	w->reclaimer.eager = pressure_check(&w->monitor) >= SHMDB_PRESSURE_HIGH;
	__atomic_store_n(&w->store->meta->busy_ns,
			 tsc_to_ns(w->busy_ticks, tsc_span(w->started_tsc, tsc_now()),
				   now - w->started_ns),
			 __ATOMIC_RELAXED);
}

/* Take the writer's turn on `cpu` (the meta says where it runs, so that a
 * client there does not spin for it). */
static void take_turn(struct writer *w, int cpu)
{
	pthread_mutex_lock(&w->turn);
	if (w->store->meta->writer_on_cpu != cpu)
		__atomic_store_n(&w->store->meta->writer_on_cpu, cpu, __ATOMIC_RELAXED);
}

/*
 * Park on the doorbell, at most timeout_ns (0: until rung), by the SQPOLL
 * rule above; while reclamation or the memory level waits for time to
 * pass, at most SLEEP_WATCHING_NS; while a table is due for gathering, no
 * later than the quiet stretch its steps wait for ends (one_pass). The
 * writer's turn is free while it sleeps, for a stand-in to take. Then
 * tell the idle strategy how it ended: rung by a client (with its stamp:
 * the price of the wake-up), or woken by the timeout.
 */
static void park(struct writer *w, uint64_t timeout_ns)
{
	struct shm_meta *m = w->store->meta;
	uint32_t *bell = &w->store->doorbell->bell[0].ring;
	uint32_t seen = __atomic_load_n(bell, __ATOMIC_ACQUIRE);

	if (!last_look(w) && !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		uint64_t ns = timeout_ns;
		if (reclaimer_waiting(&w->reclaimer) || pressure_settling(&w->monitor))
			ns = ns && ns < SLEEP_WATCHING_NS ? ns : SLEEP_WATCHING_NS;
		if (cluster_pending(&w->core.cluster)) {
			uint64_t due = w->last_work_ns + CLUSTER_QUIET_NS, now = shm_now_ns();
			uint64_t quiet = due > now ? due - now : 1;
			ns = ns && ns < quiet ? ns : quiet;
		}
		struct timespec to = { .tv_sec = (time_t)(ns / 1000000000ull),
				       .tv_nsec = (long)(ns % 1000000000ull) };
		uint64_t start = shm_now_ns();
		__atomic_store_n(&m->sleeps, m->sleeps + 1, __ATOMIC_RELAXED);
		/* A stand-in may serve while this thread sleeps. */
		uint64_t work_before = w->last_work_ns;
		w->parked_untimed = ns == 0;
		/* Untimed for the strategy even under reclamation's watch:
		 * a stand-in that finds traffic the strategy would be up for
		 * must not leave it to the watch, which would let up to
		 * SLEEP_WATCHING_NS of commits go to stand-ins (hand_back). */
		w->parked_blind = timeout_ns == 0;
		pthread_mutex_unlock(&w->turn);
		syscall(SYS_futex, bell, FUTEX_WAIT, seen, ns ? &to : NULL, NULL, 0);
		/* When it woke, not when it has the turn back: a stand-in
		 * serving meanwhile is no lateness of the timer's. */
		uint64_t woke = shm_now_ns();
		take_turn(w, w->cpu);
		w->parked_untimed = w->parked_blind = false;
		/* If one did, a timed park woke after the arrival it was for
		 * (idle_missed). */
		bool served = w->last_work_ns != work_before;
		bool rung = __atomic_load_n(bell, __ATOMIC_ACQUIRE) != seen;
		if (rung)
			__atomic_store_n(&m->wakeups, m->wakeups + 1, __ATOMIC_RELAXED);
		/* The stamp is a client's claim: only an estimate comes of it. */
		uint64_t rung_ns = rung && !w->handed_back
					   ? __atomic_load_n(&w->store->doorbell->bell[0].rung_ns,
							     __ATOMIC_RELAXED) : 0;
		w->handed_back = false;
		if (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) { /* writer_stop rings unstamped */
			if (served)
				idle_missed(&w->idle);
			idle_woke(&w->idle, woke, timeout_ns ? start + timeout_ns : 0, rung_ns);
		}
		if (m->wake_ns != (uint32_t)w->idle.wake_ns)
			__atomic_store_n(&m->wake_ns, (uint32_t)w->idle.wake_ns, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&m->writer_sleeping, 0, __ATOMIC_RELAXED);
}

/* The gathering's figures, for clients (relaxed: statistics). */
static void publish_gathering(struct writer *w)
{
	struct shm_meta *m = w->store->meta;
	const struct cluster *cl = &w->core.cluster;
	__atomic_store_n(&m->gathered, cl->moved, __ATOMIC_RELAXED);
	__atomic_store_n(&m->gather_passes, cl->passes, __ATOMIC_RELAXED);
	__atomic_store_n(&m->gathering, cluster_pending(cl), __ATOMIC_RELAXED);
}

/* One pass over the rings, then the reclamation step due: with the
 * clock read after work, with memory to give back now (*busy: a step per
 * pass, not one per park; a dropped table of a million records would take
 * a minute to come back), or when `clock` asks (an empty pass costs about
 * as much as reading it). In the writer's own thread (`own`), not a
 * stand-in's on a client's cpu, a step of gathering when one is due and
 * the writer has had no work for CLUSTER_QUIET_NS (then also *busy: the
 * next pass takes the next step; before that, the idle strategy runs as
 * ever, and park wakes the writer when the quiet stretch ends; a writer
 * that spun through a steady stream waiting for it took a whole cpu).
 * The pass began at tick pass_start (its caller read it: the writer's own
 * thread weighs it for time away too). Returns the transactions
 * completed. Holding the writer's turn. */
static unsigned one_pass(struct writer *w, bool own, bool clock, uint64_t pass_start,
			 uint64_t *now, bool *busy)
{
	urcu_memb_read_lock();
	const struct session_list *l = session_list_get(w->sessions);
	unsigned done = serve_all(w, l);
	/* A secondary index being built takes a step per pass: a commit of
	 * its own, between the clients'. */
	if (fill_pending(&w->core.fill)) {
		fill_step(&w->core);
		done++;
	}
	/* A table's records are gathered in steps once the clients have left
	 * the writer nothing to do for a moment (cluster.h). */
	bool pending = cluster_pending(&w->core.cluster), gathering = false;
	if (own && !done && pending && shm_now_ns() - w->last_work_ns >= CLUSTER_QUIET_NS) {
		cluster_step(&w->core);
		publish_gathering(w);
		gathering = true;
	} else if (pending != w->store->meta->gathering) {
		publish_gathering(w);
	}
	/* Counted before the completions go out: a client sees the pass of
	 * its own commit in the figures. */
	if (done)
		count_pass(w, done, tsc_span(pass_start, tsc_now()));
	finish_pass(w, l);
	/* Keys left out of their tables' trees (pending.h): once the
	 * completions are out, their leaves load, for the commits that will
	 * place them; a writer with nothing to do places them itself. */
	if (own && pending_any(&w->core.pending)) {
		if (done)
			pending_warm(&w->core);
		else if (shm_now_ns() - w->last_work_ns >= PENDING_QUIET_NS)
			pending_place(&w->core);
	}
	session_list_put(l);
	*busy = reclaimer_busy(&w->reclaimer) || gathering;
	if (done || *busy || clock) {
		*now = shm_now_ns();
		if (reclaimer_due(&w->reclaimer, *now))
			reclaim_step(w, *now);
	}
	urcu_memb_read_unlock();
	return done;
}

/* Work found after a quiet stretch: the idle strategy hears of it. */
static void note_work(struct writer *w, bool *quiet, uint64_t now)
{
	if (*quiet)
		idle_arrival(&w->idle, now, w->last_work_ns);
	*quiet = false;
	w->last_work_ns = now;
}

/* Ticks between the starts of two empty passes of the writer's own thread
 * that mean it was not waiting for work in between (off its cpu, or busy
 * with a step of reclamation): 3-5 µs at today's TSC rates, where an
 * empty pass takes well under one and a yield that finds nothing else to
 * run about one. */
#define AWAY_TICKS 10000u

/* An empty pass of the writer's own thread starts at tick t, the one
 * before at *last (0: none since its last work or park): a span of
 * AWAY_TICKS or more was time away, which the idle strategy leaves out of
 * the quiet stretch (idle_away). */
static void away_from(struct writer *w, uint64_t *last, uint64_t t)
{
	uint64_t span = tsc_span(*last, t);
	if (*last && span >= AWAY_TICKS)
		idle_away(&w->idle, tsc_to_ns(span, tsc_span(w->started_tsc, t),
					      shm_now_ns() - w->started_ns));
	*last = t;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t now = shm_now_ns();
	unsigned idle_passes = 0;
	bool quiet = false; /* a pass found nothing since the last work */

	urcu_memb_register_thread();
	prctl(PR_SET_TIMERSLACK, 1ul); /* timed parks end when asked, not 50 µs later */
	take_turn(w, w->cpu);
	w->started_tsc = tsc_now();
	w->started_ns = w->last_work_ns = now;
	__atomic_store_n(&w->store->meta->writer_started_ns, now, __ATOMIC_RELAXED);
	uint64_t pass_tsc = 0; /* when the last empty pass began, 0: none since work */
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		bool busy;
		uint64_t tick = tsc_now();
		if (quiet && w->idle.policy == IDLE_BACKOFF) /* spin's loop stays as it was */
			away_from(w, &pass_tsc, tick);
		unsigned done = one_pass(w, true, ++idle_passes % CLOCK_EVERY_IDLE == 0, tick, &now,
					 &busy);
		if (done) {
			note_work(w, &quiet, now);
			idle_passes = 0;
			pass_tsc = 0;
			continue;
		}
		quiet = true;
		if (busy)
			continue;
		/* Only backoff uses it: spin and sleep spare the system call. */
		if (w->idle.policy == IDLE_BACKOFF &&
		    now - w->idle.looked_ns >= IDLE_CONTENTION_EVERY_NS) {
			struct rusage ru;
			if (getrusage(RUSAGE_THREAD, &ru) == 0)
				idle_contention(&w->idle, now, (uint64_t)ru.ru_nivcsw);
		}
		uint64_t timeout;
		enum idle_action act = idle_next(&w->idle, now, w->last_work_ns, &timeout);
		if (act == IDLE_POLL) {
			shm_cpu_relax();
			continue;
		}
		if (act == IDLE_YIELD) {
			uint64_t before = shm_now_ns();
			sched_yield();
			now = shm_now_ns(); /* a yield may have lasted a time slice */
			idle_yielded(&w->idle, now - before);
			continue;
		}
		/* Figures current before a long park; a short one (a writer
		 * waking ahead of steady traffic parks at every transaction)
		 * leaves them to the next step due. */
		if (!timeout || now - w->reclaimer.stepped_ns >= PARK_STEP_NS) {
			urcu_memb_read_lock();
			reclaim_step(w, now);
			urcu_memb_read_unlock();
		}
		/* The keys left out of their trees go in before the writer
		 * sleeps (a stand-in serving meanwhile may leave one out
		 * again; cursors read it all the same, pending.h). */
		if (pending_any(&w->core.pending)) {
			urcu_memb_read_lock();
			pending_place(&w->core);
			urcu_memb_read_unlock();
		}
		park(w, timeout);
		now = shm_now_ns();
		idle_passes = 0;
		pass_tsc = 0; /* a park is quiet, not time away */
	}
	pthread_mutex_unlock(&w->turn);
	urcu_memb_unregister_thread();
	return NULL;
}

/* Ring bell i unstamped: not a client's commit. */
static void ring_bell(struct writer *w, unsigned i)
{
	uint32_t *bell = &w->store->doorbell->bell[i].ring;
	__atomic_fetch_add(bell, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, bell, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* A stand-in done with its work, while the writer's own thread sleeps:
 * wake that thread if it sleeps with no timeout of the idle strategy's
 * and traffic is dense or steady (idle_watching), so that it polls for
 * the next transaction, or parks with a timeout that ends ahead of it, as
 * the strategy wants, instead of leaving each to a stand-in's wake-up (a
 * stream that starts while the thread sleeps so would otherwise be served
 * by stand-ins for as long as it lasts); or if it sleeps with no timeout
 * at all and reclamation or the memory level waits for time to pass, so
 * that it parks watching them (park) and the memory the stand-in's
 * commits retired comes back, or a table is due for gathering, which only
 * that thread does. Once per park. Holding the turn. */
static void hand_back(struct writer *w)
{
	if (w->handed_back)
		return;
	bool traffic = w->parked_blind && idle_watching(&w->idle);
	bool chores = w->parked_untimed &&
		      (reclaimer_waiting(&w->reclaimer) || pressure_settling(&w->monitor) ||
		       cluster_pending(&w->core.cluster));
	if (!traffic && !chores)
		return;
	w->handed_back = true;
	ring_bell(w, 0);
}

/*
 * A stand-in: parked on its cpu's bell until a client on that cpu rings
 * it; then it takes the writer's turn, serves passes until one finds
 * nothing, and parks again by the SQPOLL rule, its bell's value read
 * before the flag is stored. It never polls: it runs on a client's cpu,
 * where polling would hold off the very client it serves.
 */
static void *standin_main(void *arg)
{
	struct standin *si = arg;
	struct writer *w = si->w;
	struct shm_meta *m = w->store->meta;
	struct shm_bell *bell = &w->store->doorbell->bell[1 + si->cpu];
	uint32_t seen = si->seen; /* read before any client could ring */

	urcu_memb_register_thread();
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		syscall(SYS_futex, &bell->ring, FUTEX_WAIT, seen, NULL, NULL, 0);
		if (__atomic_load_n(&bell->ring, __ATOMIC_ACQUIRE) == seen)
			continue; /* a spurious return */
		take_turn(w, si->cpu);
		if (__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
			pthread_mutex_unlock(&w->turn);
			break;
		}
		uint64_t now = shm_now_ns();
		/* The stamp times the arrival only: the price of a wake-up the
		 * idle strategy weighs stays the writer's own (a stand-in runs
		 * at once, but its client pays two switches of the cpu). */
		idle_rung(&w->idle, __atomic_load_n(&bell->rung_ns, __ATOMIC_RELAXED));
		__atomic_store_n(&m->wakeups, m->wakeups + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&m->standin_wakeups, m->standin_wakeups + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&m->writer_sleeping, 0, __ATOMIC_RELAXED);
		bool quiet = true, work = true;
		while (work) {
			for (;;) {
				bool busy;
				if (one_pass(w, false, false, tsc_now(), &now, &busy))
					note_work(w, &quiet, now);
				else if (!busy)
					break;
			}
			seen = __atomic_load_n(&bell->ring, __ATOMIC_ACQUIRE);
			work = last_look(w);
			if (work)
				__atomic_store_n(&m->writer_sleeping, 0, __ATOMIC_RELAXED);
		}
		hand_back(w);
		pthread_mutex_unlock(&w->turn);
	}
	urcu_memb_unregister_thread();
	return NULL;
}

/* Free what the writer's thread kept: scratch, the queue. */
static void writer_free(struct writer *w)
{
	free(w->standins);
	w->standins = NULL;
	w->nstandins = 0;
	pthread_mutex_destroy(&w->turn);
	core_destroy(&w->core);
	reclaimer_destroy(&w->reclaimer);
	retire_free_all(&w->retired);
}

int writer_init(struct writer *w, const struct writer_settings *ws, struct store *st,
		struct session_registry *reg)
{
	int cpu = ws->cpu;
	w->cpu = cpu;
	idle_init(&w->idle, ws->idle_policy, ws->idle_ns);
	st->meta->idle_policy = ws->idle_policy;
	st->meta->client_spin_ns = idle_client_spin_ns(&w->idle);
	st->meta->wake_ns = (uint32_t)w->idle.wake_ns;
	w->stop = 0;
	w->store = st;
	w->sessions = reg;
	w->wal = NULL;
	w->checkpoint = NULL;
	w->standins = NULL;
	w->nstandins = 0;
	w->parked_untimed = w->parked_blind = w->handed_back = false;
	st->meta->writer_on_cpu = cpu;
	pthread_mutex_init(&w->turn, NULL);
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	int e = grace_start(&w->grace, cpu);
	if (e)
		return e;
	alloc_init(&w->alloc, st->base);
	for (unsigned i = 0; i < st->arena_count; i++) {
		const struct shm_arena_desc *d = &st->meta->arena_table[i];
		alloc_add_arena(&w->alloc, d->range_off + d->used, d->range_off + d->size);
	}
	retire_init(&w->retired);
	core_init(&w->core, st->base, st->meta, &w->alloc, &w->retired,
		  (struct core_pressure){ reclaim_now, reclaim_holds, w });
	pressure_init(&w->monitor, &w->alloc, st->meta, ws->memory_high_pct,
		      ws->memory_critical_pct);
	w->core.monitor = &w->monitor;
	w->sweep = (struct session_sweep){ .r = reg };
	reclaimer_init(&w->reclaimer, st->base, st->meta, &w->alloc, &w->retired, &w->grace,
		       (struct slot_source){ session_sweep_begin, session_sweep_next,
					     session_sweep_end, &w->sweep });
	return 0;
}

/* The core's log hooks (core.h), answered by the wal and the checkpointer. */
static int log_reserve(void *arg, size_t len, size_t ncreated)
{
	struct writer *w = arg;
	return wal_reserve(w->wal, len, ncreated);
}

static void log_append(void *arg, uint32_t kind, uint64_t ts, const uint8_t *payload, size_t len,
		       const uint32_t *created, size_t ncreated)
{
	struct writer *w = arg;
	wal_append(w->wal, kind, ts, payload, len, created, ncreated);
}

static int log_sync(void *arg)
{
	struct writer *w = arg;
	int e = wal_failed(w->wal);
	if (e)
		return e;
	/* Sync mode: the end of this pass flushes before the answer is posted.
	 * Async: the log thread flushes, never the writer (a sync would stall
	 * every client's commits); the client waits for durable_ts. */
	if (w->wal->mode != DURABILITY_SYNC)
		wal_kick(w->wal);
	return 0;
}

static int log_checkpoint(void *arg)
{
	struct writer *w = arg;
	checkpointer_request(w->checkpoint);
	return 0;
}

void writer_attach_log(struct writer *w, struct wal *wal, struct checkpointer *ck)
{
	w->wal = wal;
	w->checkpoint = ck;
	w->core.log = (struct core_log){ log_reserve, log_append, log_sync, log_checkpoint, w };
	w->core.defer_publish = wal->mode == DURABILITY_SYNC;
}

/* A thread running fn(arg) pinned to cpu. Returns 0 or an errno. */
static int start_pinned(pthread_t *t, int cpu, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int e = pthread_attr_init(&attr);
	if (!e) {
		e = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		if (!e)
			e = pthread_create(t, &attr, fn, arg);
		pthread_attr_destroy(&attr);
	}
	return e;
}

/* A stand-in for each cpu the daemon may run on but the writer's (below
 * SHM_STANDINS), unless the writer never parks (spin). Before any client
 * attaches: the meta's standin_cpus says which. Returns 0 or an errno. */
static int start_standins(struct writer *w)
{
	cpu_set_t allowed;
	if (w->idle.policy == IDLE_SPIN || sched_getaffinity(0, sizeof(allowed), &allowed))
		return 0;
	uint64_t cpus = 0;
	for (int c = 0; c < (int)SHM_STANDINS; c++)
		if (c != w->cpu && CPU_ISSET(c, &allowed))
			cpus |= 1ull << c;
	if (!cpus)
		return 0; /* one cpu: nothing to stand in for */
	w->standins = calloc((size_t)__builtin_popcountll(cpus), sizeof(*w->standins));
	if (!w->standins)
		return ENOMEM;
	for (int c = 0; c < (int)SHM_STANDINS; c++) {
		if (!(cpus >> c & 1))
			continue;
		struct standin *si = &w->standins[w->nstandins];
		/* Its bell's value now, before any client attaches: a client
		 * may ring before the thread first runs, and that ring must
		 * end the thread's first wait. */
		*si = (struct standin){ .w = w, .cpu = c,
					.seen = __atomic_load_n(&w->store->doorbell->bell[1 + c].ring,
								__ATOMIC_RELAXED) };
		int e = start_pinned(&si->thread, c, standin_main, si);
		if (e)
			return e;
		w->nstandins++;
	}
	w->store->meta->standin_cpus = cpus;
	return 0;
}

int writer_run(struct writer *w)
{
	int e = start_pinned(&w->thread, w->cpu, writer_main, w);
	if (e) {
		writer_destroy(w);
		return -e;
	}
	e = start_standins(w);
	if (e)
		writer_stop(w);
	return -e;
}

void writer_destroy(struct writer *w)
{
	writer_free(w);
	grace_stop(&w->grace);
}

void writer_stop(struct writer *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	ring_bell(w, 0);
	pthread_join(w->thread, NULL);
	for (unsigned i = 0; i < w->nstandins; i++) {
		ring_bell(w, 1 + (unsigned)w->standins[i].cpu);
		pthread_join(w->standins[i].thread, NULL);
	}
	const struct idle *s = &w->idle;
	log_line("writer idle %s: a wake-up took %.1f us, a timed park %.1f +- %.1f us late; "
		 "arrivals every %.1f +- %.1f us, %.1f us quiet before each",
		 idle_policy_name(s->policy), (double)s->wake_ns / 1e3, (double)s->late_ns / 1e3,
		 (double)s->late_dev_ns / 1e3, (double)s->period_ns / 1e3,
		 (double)s->jitter_ns / 1e3, (double)s->gap_ns / 1e3);
	writer_destroy(w);
}
