/*
 * shmdb-bench.c - shmdb next to its peers on the same workload in the same
 * run: LMDB (environment in /dev/shm, MDB_NOSYNC | MDB_WRITEMAP), Redis (a
 * UNIX socket, persistence off) and an ideal open-addressing hash with a
 * pointer chase (the physical line). Each system loads the same records
 * (default 1,000,000 of 16-byte keys and 100-byte values), then a reader
 * process pinned to the client cpu times point gets, read-transaction
 * begin + end and a full scan; two readers run at once; gets on a fixed
 * schedule are timed while another process commits at a steady rate (for
 * the ideal, which has no writer, while the server cpu is kept busy: the
 * floor of that tail here, with the client cpu's own stalls); then
 * the parent times 1-put transactions, waiting and pipelined. Latencies go into log-linear histograms (under 1%
 * error) timed with the TSC, whose own cost is measured and printed.
 * Then the ordered workloads (below), for shmdb and LMDB: ordered tables
 * (seeks, ranges, scans in key order, gets and commits next to a hash
 * table's, a bulk load in random key order, memory) and a multimap. Then
 * the pinned-overwrite workload (below), for shmdb and LMDB: memory and
 * latencies of overwrites with and without one snapshot held. Then the
 * rows workload (below), for shmdb, LMDB and SQLite: typed rows with an
 * index on a column, read by key, scanned, looked up by the index,
 * incremented and bulk loaded.
 *
 * Output: a table of figures with the ratios shmdb/peer, with --json a file
 * of every figure, and with --plot a PNG of the get percentiles (gnuplot).
 * Every process it starts (shmdbd unless --socket names a running one,
 * redis-server, the readers) is stopped by pid, also on SIGINT/SIGTERM.
 * Not a test: it asserts nothing about speed; it fails only when a workload
 * did not run or read back wrong data.
 */
#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "durable.h"
#include "idle.h"
#include "json_out.h"
#include "rows.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_hold_wait(struct bench_holder *h)
{
	sem_post(&h->held);
	sem_wait(&h->release);
}

int bench_while_held(const char *sys, void *(*hold)(void *), const struct bench_params *p,
		     int (*run)(const struct bench_params *, struct bench_overwrite *),
		     struct bench_overwrite *o)
{
	struct bench_holder h = { .p = p };
	pthread_t thread;
	sem_init(&h.held, 0, 0);
	sem_init(&h.release, 0, 0);
	int err = pthread_create(&thread, NULL, hold, &h) ? -1 : 0;
	if (err)
		fprintf(stderr, "shmdb-bench: %s: cannot start the snapshot holder\n", sys);
	if (!err) {
		sem_wait(&h.held);
		if (!h.err)
			err = run(p, o);
		sem_post(&h.release);
		pthread_join(thread, NULL);
	}
	sem_destroy(&h.held);
	sem_destroy(&h.release);
	return err || h.err ? -1 : 0;
}

void bench_costs(const struct counters *before, const struct counters *after, uint64_t ops,
		 struct bench_result *r)
{
	double n = (double)ops;
	r->syscalls_per_get = before->syscalls < 0 ? -1 : (double)(after->syscalls - before->syscalls) / n;
	r->faults_per_get = (double)(after->faults - before->faults) / n;
	r->allocs_per_get = (double)(after->allocations - before->allocations) / n;
}

void bench_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "shmdb-bench: cannot pin to cpu %d\n", cpu);
}

enum { SYS_SHMDB, SYS_LMDB, SYS_REDIS, SYS_IDEAL, NSYS };

static const struct bench_system *const systems[NSYS] = {
	[SYS_SHMDB] = &bench_shmdb,
	[SYS_LMDB] = &bench_lmdb,
	[SYS_REDIS] = &bench_redis,
	[SYS_IDEAL] = &bench_ideal,
};

static struct bench_params params;
static const struct bench_system *running; /* for the signal handler */
/* The systems whose ordered store is up: the signal handler stops them. */
static const struct bench_system *ordered_up[NSYS];
static pid_t main_pid;
/* The client processes forked and not yet reaped: the signal handler kills
 * them by pid. */
#define MAX_CHILDREN 4
static volatile pid_t children[MAX_CHILDREN];
static char dir[] = "/tmp/shmdb-bench-XXXXXX";

static void on_signal(int sig)
{
	if (getpid() != main_pid) /* a child: the parent cleans up */
		_exit(128 + sig);
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0)
			kill(children[i], SIGKILL);
	params.interrupted = 1;
	if (running)
		running->stop(&params);
	for (int s = 0; s < NSYS; s++)
		if (ordered_up[s])
			ordered_up[s]->stop(&params);
	rmdir(dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* SIGINT and SIGTERM held back while `children` and the processes it
 * names disagree: between fork and record, and between reaping and
 * forgetting (on_signal would otherwise miss a child, or kill a pid that
 * may be reused). */
static void hold_signals(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, old);
}

/* fork(), remembering the child for on_signal. */
static pid_t spawn(void)
{
	sigset_t old;
	fflush(stdout);
	hold_signals(&old);
	pid_t pid = fork();
	for (int i = 0; pid > 0 && i < MAX_CHILDREN; i++) {
		if (!children[i]) {
			children[i] = pid;
			break;
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

/* Wait for a child of spawn(): whether it exited with status 0. A failed
 * spawn (pid -1) counts as a failure; waiting for it would reap any child. */
static int reap(pid_t pid)
{
	siginfo_t info;
	sigset_t old;
	int st = 0;
	if (pid <= 0)
		return 0;
	waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT); /* exited, not yet reaped */
	hold_signals(&old);
	waitpid(pid, &st, 0);
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void calibrate(struct bench_params *p, double *timer_ns)
{
	uint64_t n0 = bench_now_ns(), t0 = bench_tsc();
	while (bench_now_ns() - n0 < 200000000ull)
		;
	uint64_t n1 = bench_now_ns(), t1 = bench_tsc();
	p->tsc_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 10000; i++) {
		uint64_t a = bench_tsc(), b = bench_tsc();
		if (b - a < best)
			best = b - a;
	}
	*timer_ns = (double)best / p->tsc_per_ns;
}

/* The client cpu's own stalls: how often a loop that only reads the TSC is
 * stopped for STALL_NS or more in `secs` seconds, and the longest stop.
 * Interrupts, timer ticks and, on a virtual machine, the host cause them;
 * every tail figure sits on this floor. */
#define STALL_NS 2000
struct stalls {
	double per_s, longest_ns, lost;
};

static struct stalls cpu_stalls(double secs)
{
	uint64_t span = (uint64_t)(secs * 1e9 * params.tsc_per_ns);
	uint64_t limit = (uint64_t)(STALL_NS * params.tsc_per_ns), n = 0, lost = 0, longest = 0;
	uint64_t start = bench_tsc(), prev = start;
	while (prev - start < span) {
		uint64_t now = bench_tsc(), gap = now - prev;
		prev = now;
		if (gap >= limit) {
			n++;
			lost += gap;
			if (gap > longest)
				longest = gap;
		}
	}
	return (struct stalls){ (double)n / secs, (double)longest / params.tsc_per_ns,
				(double)lost / (double)span };
}

/* The same reads from two processes at once, one on each cpu (the writer
 * sleeps meanwhile: nothing commits), their timed loops started together
 * (bench_gate): all their gets over the time from the first one's start to
 * the last one's end. */
static int two_readers(const struct bench_system *s, struct bench_result *r)
{
	struct bench_result *scratch = mmap(NULL, 2 * sizeof(*scratch), PROT_READ | PROT_WRITE,
					    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint32_t *gate = mmap(NULL, sizeof(*gate), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			      -1, 0);
	pid_t pid[2];
	int ok = scratch != MAP_FAILED && gate != MAP_FAILED;
	for (int i = 0; ok && i < 2; i++) {
		pid[i] = spawn();
		if (pid[i] == 0) {
			bench_pin(i == 0 ? params.client_cpu : params.server_cpu);
			params.gate = gate;
			_exit(s->read(&params, &scratch[i]) ? 1 : 0);
		}
	}
	if (ok)
		for (int i = 0; i < 2; i++)
			ok = reap(pid[i]) && ok;
	if (ok) {
		uint64_t t0 = scratch[0].ops_t0 < scratch[1].ops_t0 ? scratch[0].ops_t0 : scratch[1].ops_t0;
		uint64_t t1 = scratch[0].ops_t1 > scratch[1].ops_t1 ? scratch[0].ops_t1 : scratch[1].ops_t1;
		r->get_ops_2 = 2.0 * (double)params.gets / ((double)(t1 - t0) / 1e9);
	}
	if (scratch != MAP_FAILED)
		munmap(scratch, 2 * sizeof(*scratch));
	if (gate != MAP_FAILED)
		munmap(gate, sizeof(*gate));
	return ok ? 0 : -1;
}

struct loaded_ctl {
	volatile int stop;
	uint64_t commits, t0, t1;
};

/* The steady writer: every millisecond, write_rate / 1000 1-put
 * transactions to random records, until told to stop. */
static void steady_writer(const struct bench_system *s, struct loaded_ctl *ctl)
{
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	uint64_t rnd = 0x2545f4914f6cdd1dull, n = 0, per_ms = params.write_rate / 1000 + 1;
	void *h = s->writer_open(&params);
	if (!h)
		_exit(1);
	bench_value(val, 7, params.val_len);
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	ctl->t0 = bench_now_ns();
	while (!ctl->stop) {
		for (uint64_t k = 0; k < per_ms; k++, n++) {
			bench_key(key, bench_rand(&rnd) % params.records);
			if (s->writer_put(h, key, val, params.val_len))
				_exit(2);
		}
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	ctl->t1 = bench_now_ns();
	ctl->commits = n;
	_exit(0);
}

/* This process's involuntary context switches and its time waiting on a
 * run queue (ns): who else took its cpu. */
static void preemption(double *switches, double *waited_ns)
{
	struct rusage ru;
	unsigned long long run = 0, wait = 0;
	FILE *f = fopen("/proc/self/schedstat", "r");
	if (!f || fscanf(f, "%llu %llu", &run, &wait) != 2)
		wait = 0;
	if (f)
		fclose(f);
	getrusage(RUSAGE_SELF, &ru);
	*switches = (double)ru.ru_nivcsw;
	*waited_ns = (double)wait;
}

/* Gets on a fixed schedule, each its own snapshot, each latency counted
 * from the get's intended start: a stall counts for every get it delays
 * (no coordinated omission). The interval is 1 us, or twice the system's
 * median get if that is slower; about 2 s of schedule. */
static void scheduled_reader(const struct bench_system *s, struct bench_result *r)
{
	uint8_t key[BENCH_KEY_LEN];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), misses = 0;
	void *h = s->reader_open(&params);
	if (!h)
		_exit(1);
	double median = (double)hist_quantile(&r->get, 0.5);
	uint64_t interval = (uint64_t)(1000.0 * params.tsc_per_ns);
	if (2 * median > (double)interval)
		interval = (uint64_t)(2 * median);
	uint64_t count = (uint64_t)(2e9 * params.tsc_per_ns) / interval;
	if (count > params.gets)
		count = params.gets;
	for (int i = 0; i < 1000; i++) {
		bench_key(key, bench_rand(&rnd) % params.records);
		misses += s->reader_get(h, key, NULL, 0) != 0;
	}
	double sw0, wait0, sw1, wait1;
	preemption(&sw0, &wait0);
	uint64_t start = bench_tsc() + interval;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t intended = start + i * interval;
		while (bench_tsc() < intended)
			_mm_pause();
		bench_key(key, bench_rand(&rnd) % params.records);
		misses += s->reader_get(h, key, NULL, 0) != 0;
		hist_add(&r->get_loaded, bench_tsc() - intended);
	}
	preemption(&sw1, &wait1);
	r->loaded_preempts = sw1 - sw0;
	r->loaded_runq_ns = wait1 - wait0;
	_exit(misses ? 3 : 0);
}

/* Write to visible: a writer process puts (sequence, TSC at the put's
 * start) into one key; a reader process polls it with fresh snapshots and
 * records, for each new sequence, the TSC when it first saw it minus the
 * writer's. The TSC is invariant and shared by the cpus. The writer waits
 * for the reader to see each value (yielding, so that on a shared cpu the
 * daemon's writer thread can run) before the next. */
struct visible_ctl {
	volatile uint64_t seen;
};

static int write_to_visible(const struct bench_system *s, struct bench_result *r)
{
	if (!s->reader_open || !s->writer_open)
		return 0;
	const uint64_t rounds = params.commits / 10 + 1;
	struct visible_ctl *ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		return -1;
	uint8_t key[BENCH_KEY_LEN];
	bench_key(key, params.records + 1); /* a key of its own */
	pid_t w = spawn();
	if (w == 0) {
		bench_pin(params.server_cpu);
		void *h = s->writer_open(&params);
		uint8_t val[BENCH_MAX_VAL];
		bench_value(val, 0, params.val_len);
		if (!h)
			_exit(1);
		for (uint64_t i = 1; i <= rounds; i++) {
			uint64_t stamp[2] = { i, bench_tsc() };
			memcpy(val, stamp, sizeof(stamp));
			if (s->writer_put(h, key, val, params.val_len))
				_exit(2);
			for (uint64_t spins = 0; ctl->seen < i; spins++)
				if (spins % 64 == 63)
					sched_yield();
		}
		_exit(0);
	}
	pid_t reader = spawn();
	if (reader == 0) {
		bench_pin(params.client_cpu);
		void *h = s->reader_open(&params);
		uint64_t stamp[2], last = 0;
		if (!h)
			_exit(1);
		while (last < rounds) {
			if (s->reader_get(h, key, (uint8_t *)stamp, sizeof(stamp)) || stamp[0] <= last)
				continue;
			uint64_t now = bench_tsc();
			hist_add(&r->visible, now - stamp[1]);
			last = stamp[0];
			ctl->seen = last;
		}
		_exit(0);
	}
	int ok = reap(w);
	ok = reap(reader) && ok;
	munmap(ctl, sizeof(*ctl));
	return ok ? 0 : -1;
}

/* The floor for a system without a writer: the server cpu kept busy, as a
 * polling writer keeps it, until told to stop. */
static void busy_server(struct loaded_ctl *ctl)
{
	ctl->t0 = bench_now_ns();
	while (!ctl->stop)
		_mm_pause();
	_exit(0);
}

static int loaded_reads(const struct bench_system *s, struct bench_result *r)
{
	if (!s->reader_open)
		return 0;
	struct loaded_ctl *ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		return -1;
	pid_t w = spawn();
	if (w == 0) {
		bench_pin(params.server_cpu);
		if (s->writer_open)
			steady_writer(s, ctl);
		busy_server(ctl);
	}
	usleep(20000); /* the writer reaches its pace */
	pid_t reader = spawn();
	if (reader == 0) {
		bench_pin(params.client_cpu);
		scheduled_reader(s, r);
	}
	int ok = reap(reader);
	ctl->stop = 1;
	ok = reap(w) && ok;
	if (ok && s->writer_open && ctl->t1 > ctl->t0)
		r->loaded_commit_tps = (double)ctl->commits / ((double)(ctl->t1 - ctl->t0) / 1e9);
	munmap(ctl, sizeof(*ctl));
	return ok ? 0 : -1;
}

/* Load, read in a separate pinned process, write; stop. 0 or -1. */
static int run_system(const struct bench_system *s, struct bench_result *r)
{
	running = s;
	bench_pin(params.client_cpu);
	int err = s->load(&params, r);
	if (!err) {
		pid_t reader = spawn();
		if (reader == 0) {
			bench_pin(params.client_cpu);
			if (counters_open())
				r->syscalls_per_get = -1;
			hist_prefault(&r->get); /* faults counted are the system's */
			_exit(s->read(&params, r) ? 1 : 0);
		}
		err = reap(reader) ? 0 : -1;
		if (!err)
			err = two_readers(s, r);
		if (!err)
			err = loaded_reads(s, r);
		if (!err)
			err = write_to_visible(s, r);
		if (!err) {
			double sw0, wait0, sw1, wait1;
			preemption(&sw0, &wait0);
			err = s->write(&params, r);
			preemption(&sw1, &wait1);
			r->commit_preempts = sw1 - sw0;
			r->commit_runq_ns = wait1 - wait0;
		}
	}
	s->stop(&params);
	running = NULL;
	if (err)
		fprintf(stderr, "shmdb-bench: %s: a workload failed\n", s->name);
	return err;
}

/* ---- pinned-overwrite ------------------------------------------------------
 *
 * What a long-held snapshot costs the writers: pinned_keys records (default
 * 10,000) are loaded and then overwritten round robin by pinned_puts 1-put
 * commits (default 2,000,000), twice, each time in a store of its own (a
 * daemon or environment of its own; with --socket, a table of its own, and
 * then the memory figures are the whole store's): without a snapshot held,
 * and with one taken before the first overwrite and ended after the last,
 * by another thread on a handle of its own (a real reader slot), asleep
 * meanwhile, reading every record as loaded at both ends. Each run gives
 * the memory in use before, at its peak and right after the last overwrite
 * (the snapshot still held), commit latency, get latency under the churn
 * and its time; the report sets the runs with a snapshot against those
 * without, next to the targets of exact reclamation (memory at the end at
 * most 2x, commit p50 and p99 at most 1.1x, get p50 unchanged).
 *
 * On two cpus the committer has the client cpu and shmdbd's writer polls
 * the server cpu: a reader thread or process sampling gets would take its
 * time from one of them, and its wake-ups would land in the very commit
 * latencies being compared. So the committer samples the gets itself, one
 * every BENCH_GET_EVERY commits: shmdb submits that commit without waiting,
 * times a get of a random record in a fresh snapshot while the writer
 * applies it, then waits for it, untimed (LMDB, which commits
 * synchronously, times the get after the commit). Nothing else runs. */
static uint64_t pinned_keys = 10000, pinned_puts = 2000000;
static struct bench_overwrite pinned[NSYS][2]; /* [system][snapshot held] */
static struct bench_result pinned_load;        /* the loads' figures, unused */

/* Both runs of system s, each loaded, overwritten and stopped. 0 or -1. */
static int run_pinned(int s)
{
	const struct bench_system *sys = systems[s];
	struct bench_params p = params;
	p.records = pinned_keys;
	p.commits = pinned_puts;
	int err = 0;
	for (int hold = 0; hold < 2 && !err; hold++) {
		running = sys;
		err = sys->load(&p, &pinned_load);
		if (!err)
			err = sys->overwrite(&p, hold, &pinned[s][hold]);
		sys->stop(&p);
		running = NULL;
	}
	if (err)
		fprintf(stderr, "shmdb-bench: %s: the pinned-overwrite workload failed\n", sys->name);
	return err;
}

/* ---- ordered ----------------------------------------------------------------
 *
 * Ordered tables next to LMDB's B+tree, in a store (an environment) of
 * their own: the records (the main workloads' keys and values, loaded in
 * 1,000-put transactions in the same order, which is random in key order:
 * a key's first 8 bytes are its record's number scrambled) in an ordered
 * table, and, for shmdb, in a hash table too, for the figures that compare
 * the two kinds; and a multimap of as many pairs over records / 100 keys
 * (LMDB: an MDB_DUPSORT database), pair j under the key of record
 * j % keys. Every system's store is loaded first (one after the other: the
 * second loads while the first's store sits idle in memory; both at once
 * take about twice the memory of one), and stays up while the readers run
 * in rounds, each system's in turn (ORDERED_ROUNDS). A reader
 * process pinned to the client cpu, in one snapshot (a
 * read transaction), passes over the ordered table in key order checking
 * every record and their order (untimed: the warm-up), then times a full
 * scan; seeks to random records' keys, reading the record there (each
 * timed; LMDB: MDB_SET_RANGE); seeks followed by reading the next 100
 * records; point gets on the hash and the ordered table in turns of 4,096
 * of the same keys (shmdb only: LMDB's are the main workloads'); and reads
 * of every value of random keys of the multimap (LMDB: MDB_SET_KEY and
 * MDB_NEXT_DUP). Every record read is checked against its key. Then the
 * parent times 1-put commits, waiting: overwrites of loaded records, then
 * inserts of new keys, shmdb's into the hash and the ordered table in turns
 * of 1,000. Memory is the ordered table's own bytes (shmdb_tables) and
 * LMDB's data file up to its last page in use, per record. */
static struct bench_ordered *ordres; /* [NSYS]: loads and commits */
static double ordered_s;             /* how long the ordered workloads took */

/* The readers run in rounds, each system once a round, the order turned
 * round every other one, into ordround[round][system] (shared with the
 * readers); each figure is the median over the rounds, and each ratio the
 * median of the rounds' ratios. The host's speed drifts over seconds, and
 * a system timed only before the other would take the drift for its own. */
#define ORDERED_ROUNDS 3
static struct bench_ordered (*ordround)[NSYS];

/* One round's reader of system s, in a process of its own. */
static int read_ordered(const struct bench_system *s, struct bench_ordered *o)
{
	pid_t reader = spawn();
	if (reader == 0) {
		bench_pin(params.client_cpu);
		/* Recording faults on nothing: the pages are written once. */
		hist_prefault(&o->seek);
		hist_prefault(&o->get);
		hist_prefault(&o->hash_get);
		_exit(s->ordered_read(&params, o) ? 1 : 0);
	}
	return reap(reader) ? 0 : -1;
}

/* The ordered workloads of the systems `on`: every store loaded, the
 * readers' rounds, then each system's commits; every store stopped.
 * Returns whether one failed. */
static int run_ordered(const int *on)
{
	int failed = 0;
	bench_pin(params.client_cpu);
	for (int s = 0; s < NSYS && !failed; s++) {
		if (!on[s] || !systems[s]->ordered_load)
			continue;
		printf("loading the ordered workloads' records into %s...\n", systems[s]->name);
		fflush(stdout);
		ordered_up[s] = systems[s];
		if (systems[s]->ordered_load(&params, &ordres[s])) {
			fprintf(stderr, "shmdb-bench: %s: the ordered load failed\n", systems[s]->name);
			failed = 1;
		}
	}
	if (!failed)
		printf("running the ordered reads: %d rounds, each system in turn...\n",
		       ORDERED_ROUNDS);
	fflush(stdout);
	for (int r = 0; !failed && r < ORDERED_ROUNDS; r++) {
		for (int k = 0; k < NSYS && !failed; k++) {
			int s = r % 2 ? NSYS - 1 - k : k;
			if (ordered_up[s] && read_ordered(systems[s], &ordround[r][s])) {
				fprintf(stderr, "shmdb-bench: %s: an ordered read failed\n",
					systems[s]->name);
				failed = 1;
			}
		}
	}
	for (int s = 0; s < NSYS; s++) {
		if (!ordered_up[s])
			continue;
		if (!failed) {
			printf("running the ordered commits on %s...\n", systems[s]->name);
			fflush(stdout);
			if (systems[s]->ordered_write(&params, &ordres[s])) {
				fprintf(stderr, "shmdb-bench: %s: the ordered commits failed\n",
					systems[s]->name);
				failed = 1;
			}
		}
		systems[s]->stop(&params);
		ordered_up[s] = NULL;
	}
	return failed;
}

/* System s's figures of round r into *o: its loads and commits, and that
 * round's reads. */
static void ordered_round(int r, int s, struct bench_ordered *o)
{
	const struct bench_ordered *rd = &ordround[r][s];
	*o = ordres[s];
	o->seek = rd->seek;
	o->range_rps = rd->range_rps;
	o->scan_rps = rd->scan_rps;
	o->get = rd->get;
	o->hash_get = rd->hash_get;
	o->multi_pps = rd->multi_pps;
}

/* ---- rows ------------------------------------------------------------------
 *
 * The rows workload (rows.h), for shmdb, LMDB and SQLite: p->records rows
 * of (id, sym, bid, ask, size, ts) loaded twice in 1,000-row transactions,
 * without and with an index on sym; in a reader process pinned to the
 * client cpu, gets by key reading bid, a scan summing every bid and
 * lookups of a symbol's first row through the index (shmdb also times the
 * same gets and scan reading no column); in the parent, 1-op commits
 * adding 1 to a row's size (shmdb also 1-put commits of a whole row).
 */
enum { ROWS_SHMDB, ROWS_LMDB, ROWS_SQLITE, NROWS_SYS };
static const struct bench_system *const rows_systems[NROWS_SYS] = {
	[ROWS_SHMDB] = &bench_shmdb, [ROWS_LMDB] = &bench_lmdb, [ROWS_SQLITE] = &bench_sqlite,
};
static struct bench_rows *rowsres; /* [NROWS_SYS], shared with the readers */
static double rows_s;              /* how long the rows workload took */

static int run_rows(const struct bench_system *s, struct bench_rows *o)
{
	/* A quarter of the gets and commits: each is timed against a second
	 * kind here, and SQLite's take microseconds. */
	struct bench_params rp = params;
	rp.gets = params.gets / 4 + 1;
	rp.commits = params.commits / 4 + 1;
	running = s;
	bench_pin(params.client_cpu);
	*o = (struct bench_rows){ .load_rps = -1, .load_index_rps = -1, .scan_sum_rps = -1,
				  .scan_plain_rps = -1 };
	int err = s->rows_load(&rp, o);
	if (!err) {
		pid_t reader = spawn();
		if (reader == 0) {
			bench_pin(params.client_cpu);
			hist_prefault(&o->get_col);
			hist_prefault(&o->get_plain);
			hist_prefault(&o->index_get);
			_exit(s->rows_read(&rp, o) ? 1 : 0);
		}
		err = reap(reader) ? 0 : -1;
	}
	if (!err)
		err = s->rows_write(&rp, o);
	s->stop(&rp);
	running = NULL;
	if (err)
		fprintf(stderr, "shmdb-bench: %s: the rows workload failed\n", s->name);
	return err;
}

/* ---- report ------------------------------------------------------------ */

static double ns(const struct hist *h, double q)
{
	return h->count ? (double)hist_quantile(h, q) / params.tsc_per_ns : -1;
}

struct figure {
	const char *name;
	const char *unit;
	int decimals;
	double v[NSYS];
};

static void print_value(double v, int decimals)
{
	if (v < 0)
		printf(" %12s", "-");
	else if (v >= 1e6)
		printf(" %11.2fM", v / 1e6);
	else
		printf(" %12.*f", decimals, v);
}

static void print_ratio_of(double r)
{
	if (isnan(r))
		printf(" %9s", "-");
	else
		printf(" %9.2f", r);
}

static void print_ratio(double a, double b)
{
	print_ratio_of(a < 0 || b <= 0 ? NAN : a / b);
}

static int collect(struct figure *f, const struct bench_result *res, const int *on)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0 };
	static const char *const qn[] = { "get p50", "get p90", "get p99", "get p99.9",
					  "get p99.99", "get max" };
	int n = 0;
	for (int q = 0; q < 6; q++, n++) {
		f[n] = (struct figure){ qn[q], "ns", 0, { 0 } };
		for (int s = 0; s < NSYS; s++)
			f[n].v[s] = on[s] ? ns(&res[s].get, qs[q]) : -1;
	}
#define FIG(label, unit, decimals, expr)                               \
	do {                                                           \
		f[n] = (struct figure){ label, unit, decimals, { 0 } };\
		for (int s = 0; s < NSYS; s++) {                       \
			const struct bench_result *r = &res[s];        \
			f[n].v[s] = on[s] ? (expr) : -1;               \
		}                                                      \
		n++;                                                   \
	} while (0)
	static const char *const ql[] = { "get under writes p50", "get under writes p99",
					  "get under writes p99.9", "get under writes p99.99",
					  "get under writes max" };
	static const double lq[] = { 0.5, 0.99, 0.999, 0.9999, 1.0 };
	for (int q = 0; q < 5; q++, n++) {
		f[n] = (struct figure){ ql[q], "ns", 0, { 0 } };
		for (int s = 0; s < NSYS; s++)
			f[n].v[s] = on[s] ? ns(&res[s].get_loaded, lq[q]) : -1;
	}
	FIG("  while committing", "txn/s", 0, r->loaded_commit_tps > 0 ? r->loaded_commit_tps : -1);
	FIG("  reader preempted", "times", 0, r->get_loaded.count ? r->loaded_preempts : -1);
	FIG("  reader waited for its cpu", "ns", 0, r->get_loaded.count ? r->loaded_runq_ns : -1);
	FIG("write to visible p50", "ns", 0, ns(&r->visible, 0.5));
	FIG("write to visible p99", "ns", 0, ns(&r->visible, 0.99));
	FIG("gets per second, 1 reader", "/s", 0, r->get_ops);
	FIG("gets per second, 16 at once", "/s", 0, r->get_many_ops > 0 ? r->get_many_ops : -1);
	FIG("gets per second, 2 readers", "/s", 0, r->get_ops_2 > 0 ? r->get_ops_2 : -1);
	FIG("2 readers / 1 reader", "x", 2, r->get_ops_2 > 0 ? r->get_ops_2 / r->get_ops : -1);
	FIG("system calls per get", "", 3, r->syscalls_per_get);
	FIG("page faults per get", "", 3, r->faults_per_get);
	FIG("allocations per get", "", 3, r->allocs_per_get);
	FIG("read txn begin+end p50", "ns", 1, ns(&r->begin_end, 0.5));
	FIG("read txn begin+end p99", "ns", 1, ns(&r->begin_end, 0.99));
	FIG("full scan", "rec/s", 0, r->scan_rps > 0 ? r->scan_rps : -1);
	FIG("1-put commit p50", "ns", 0, ns(&r->commit, 0.5));
	FIG("1-put commit p99", "ns", 0, ns(&r->commit, 0.99));
	FIG("1-put commits, waiting", "txn/s", 0, r->commit_tps > 0 ? r->commit_tps : -1);
	FIG("1-put commits, pipelined", "txn/s", 0, r->pipelined_tps > 0 ? r->pipelined_tps : -1);
	FIG("  committer preempted", "times", 0, r->commit.count ? r->commit_preempts : -1);
	FIG("  committer waited for cpu", "ns", 0, r->commit.count ? r->commit_runq_ns : -1);
	FIG("bulk load, 1,000-put txns", "rec/s", 0, r->load_rps);
	FIG("memory: dependent load", "ns", 0, r->chase_ns > 0 ? r->chase_ns : -1);
	FIG("cpu: dependent add", "ns", 2, r->add_ns > 0 ? r->add_ns : -1);
	FIG("cores: round trip p50", "ns", 0, ns(&r->round_trip, 0.5));
#undef FIG
	return n;
}

static void print_table(const struct figure *f, int n)
{
	printf("\n%-28s %-6s %12s %12s %12s %12s %9s %9s %9s\n", "figure", "unit", "shmdb", "LMDB",
	       "Redis", "ideal", "/LMDB", "/Redis", "/ideal");
	for (int i = 0; i < n; i++) {
		printf("%-28s %-6s", f[i].name, f[i].unit);
		for (int s = 0; s < NSYS; s++)
			print_value(f[i].v[s], f[i].decimals);
		for (int s = SYS_LMDB; s < NSYS; s++)
			print_ratio(f[i].v[SYS_SHMDB], f[i].v[s]);
		printf("\n");
	}
	printf("ratios are shmdb's figure over the peer's: below 1 is better for ns, above 1 for rates\n"
	       "ideal has no writer: its gets under writes ran with the server cpu kept busy, the "
	       "floor of that workload here\n");
}

/* The pinned-overwrite figures: for each system, without and with the
 * snapshot held, and where it means something, held over not held. */
struct pinned_figure {
	const char *name;
	const char *unit;
	int decimals;
	int ratio;          /* held / not held is printed */
	const char *target; /* exact reclamation's, for shmdb's ratio, or NULL */
	double limit;       /* the ratio that target allows, 0: not a bound */
	double v[NSYS][2];  /* NAN: no such figure */
};

static int collect_pinned(struct pinned_figure *f, const int *on)
{
	const double mib = 1024.0 * 1024.0;
	int n = 0;
#define PFIG(label, unit, decimals, ratio, target, limit, expr)                                 \
	do {                                                                                    \
		f[n] = (struct pinned_figure){ label, unit, decimals, ratio, target, limit, { { 0 } } }; \
		for (int s = 0; s < NSYS; s++)                                                  \
			for (int h = 0; h < 2; h++) {                                           \
				const struct bench_overwrite *o = &pinned[s][h];                \
				f[n].v[s][h] = on[s] && systems[s]->overwrite ? (expr) : NAN;   \
			}                                                                       \
		n++;                                                                            \
	} while (0)
	PFIG("memory in use at end", "MiB", 1, 1, "<= 2", 2.0, o->mem_end / mib);
	PFIG("memory peak", "MiB", 1, 1, NULL, 0, o->mem_peak / mib);
	PFIG("memory growth", "MiB", 1, 1, NULL, 0, (o->mem_end - o->mem_before) / mib);
	PFIG("  per overwrite", "B", 1, 1, NULL, 0,
	     o->done ? (o->mem_end - o->mem_before) / (double)o->done : NAN);
	PFIG("commit p50", "ns", 0, 1, "<= 1.1", 1.1, o->commit.count ? ns(&o->commit, 0.5) : NAN);
	PFIG("commit p99", "ns", 0, 1, "<= 1.1", 1.1, o->commit.count ? ns(&o->commit, 0.99) : NAN);
	PFIG("get under the churn p50", "ns", 0, 1, "unchanged", 0,
	     o->get.count ? ns(&o->get, 0.5) : NAN);
	PFIG("get under the churn p99", "ns", 0, 1, NULL, 0, o->get.count ? ns(&o->get, 0.99) : NAN);
	PFIG("overwrites done", "", 0, 0, NULL, 0, (double)o->done);
	PFIG("ran out of room", "", 0, 0, NULL, 0, o->full);
	PFIG("elapsed", "s", 2, 1, NULL, 0, o->elapsed_s);
#undef PFIG
	return n;
}

static double held_ratio(const struct pinned_figure *f, int s)
{
	return f->ratio && f->v[s][0] > 0 && f->v[s][1] >= 0 ? f->v[s][1] / f->v[s][0] : NAN;
}

static void print_pinned(const struct pinned_figure *f, int n, const int *on)
{
	printf("\npinned-overwrite: %" PRIu64 " records (%d-byte keys, %u-byte values) overwritten "
	       "round robin by %" PRIu64 " 1-put commits,\nwithout and with one snapshot held "
	       "throughout; a get timed every %d commits (shmdb: while the writer applies one)\n",
	       pinned_keys, BENCH_KEY_LEN, params.val_len, pinned_puts, BENCH_GET_EVERY);
	printf("%-24s %-4s", "figure", "unit");
	for (int s = 0; s < NSYS; s++)
		if (on[s] && systems[s]->overwrite)
			printf(" %12s %12s %8s", systems[s]->name, "+snapshot", "ratio");
	printf("  %s\n", "shmdb's target");
	for (int i = 0; i < n; i++) {
		printf("%-24s %-4s", f[i].name, f[i].unit);
		for (int s = 0; s < NSYS; s++) {
			if (!on[s] || !systems[s]->overwrite)
				continue;
			for (int h = 0; h < 2; h++) {
				if (isnan(f[i].v[s][h]))
					printf(" %12s", "-");
				else
					printf(" %12.*f", f[i].decimals, f[i].v[s][h]);
			}
			double r = held_ratio(&f[i], s);
			if (isnan(r))
				printf(" %8s", "");
			else
				printf(" %8.2f", r);
		}
		if (f[i].target && on[SYS_SHMDB]) {
			double r = held_ratio(&f[i], SYS_SHMDB);
			printf("  %s%s", f[i].target, f[i].limit == 0 || isnan(r) ? ""
			       : r <= f[i].limit ? " (met)" : " (missed)");
		}
		printf("\n");
	}
	printf("ratio: with the snapshot held over without; memory is shmdb's arena bytes in use "
	       "(mem_used), LMDB's data file up to its last page in use\n");
	if (params.socket)
		printf("shmdb ran as a guest of the shmdbd at %s: its memory figures are the whole "
		       "store's\n", params.socket);
	for (int s = 0; s < NSYS; s++) {
		for (int h = 0; h < 2; h++) {
			const struct bench_overwrite *o = &pinned[s][h];
			if (!on[s] || !systems[s]->overwrite || !o->full)
				continue;
			printf("%s%s ran out of room after %" PRIu64 " of %" PRIu64 " overwrites (%s): "
			       "the figures are of those; at that rate, all of them would have grown "
			       "it by %.0f MiB\n", systems[s]->name, h ? " with the snapshot held" : "",
			       o->done, pinned_puts, s == SYS_LMDB ? "MDB_MAP_FULL" : "-ENOSPC",
			       o->done ? (o->mem_end - o->mem_before) / (double)o->done *
			       (double)pinned_puts / (1024.0 * 1024.0) : 0);
		}
	}
}

/* The pinned-overwrite figures as the JSON object's "pinned_overwrite". */
static void write_json_pinned(cJSON *root, const struct pinned_figure *f, int n)
{
	static const char *const keys[NSYS] = { "shmdb", "lmdb", "redis", "ideal" };
	cJSON *o = cJSON_AddObjectToObject(root, "pinned_overwrite");
	cJSON_AddNumberToObject(o, "records", (double)pinned_keys);
	cJSON_AddNumberToObject(o, "overwrites", (double)pinned_puts);
	cJSON_AddNumberToObject(o, "puts_per_commit", 1);
	cJSON_AddNumberToObject(o, "get_every", BENCH_GET_EVERY);
	cJSON *a = cJSON_AddArrayToObject(o, "figures");
	for (int i = 0; i < n; i++) {
		cJSON *fo = json_figure(a, f[i].name, f[i].unit);
		if (f[i].target)
			cJSON_AddStringToObject(fo, "target", f[i].target);
		for (int s = 0; s < NSYS; s++) {
			if (!systems[s]->overwrite)
				continue;
			char key[32];
			json_number(fo, keys[s], f[i].v[s][0]);
			snprintf(key, sizeof(key), "%s_held", keys[s]);
			json_number(fo, key, f[i].v[s][1]);
			if (f[i].ratio) {
				snprintf(key, sizeof(key), "%s_ratio", keys[s]);
				json_number(fo, key, held_ratio(&f[i], s));
			}
		}
	}
}

/* The ordered figures: shmdb's (on an ordered table or a multimap), LMDB's
 * (its B+tree, its MDB_DUPSORT database) and shmdb's on a hash table where
 * the two kinds are compared, with the ratios and, where issue 13 sets
 * one, the target. */
enum { VS_NONE, VS_LMDB, VS_HASH };
struct ordered_figure {
	const char *name;
	const char *unit;
	int decimals;
	double shmdb, lmdb, hash; /* -1: no such figure */
	double lmdb_ratio, hash_ratio; /* shmdb's over each, NAN: none */
	int vs;                   /* what the target compares shmdb with */
	const char *target;       /* NULL: none */
	double limit;             /* the ratio it allows: at most for ns, at
				   * least for rates, 0: only reported */
	int lower;                /* lower is better (ns) */
};

static double ratio_of(double a, double b)
{
	return a < 0 || b <= 0 ? NAN : a / b;
}

/* "met", "missed", or NULL where there is no verdict. */
static const char *verdict(const struct ordered_figure *f)
{
	double r = f->vs == VS_HASH ? f->hash_ratio : f->lmdb_ratio;
	if (!f->target || f->limit == 0 || f->vs == VS_NONE || isnan(r))
		return NULL;
	return (f->lower ? r <= f->limit : r >= f->limit) ? "met" : "missed";
}

/* The figures of one round: shmdb's sh and LMDB's lm (NULL: not run). */
static int round_figures(struct ordered_figure *f, const struct bench_ordered *sh,
			 const struct bench_ordered *lm)
{
	int n = 0;
#define OFIG(label, unit, decimals, lower, vs, target, limit, shv, lmv, hashv)                \
	f[n++] = (struct ordered_figure){ label, unit, decimals, sh ? (shv) : -1, lm ? (lmv) : -1, \
					  sh ? (hashv) : -1, NAN, NAN, vs, target, limit, lower }
#define RATE(x) ((x) > 0 ? (x) : -1)
	OFIG("seek + read p50", "ns", 0, 1, VS_LMDB, "<= 0.5 x LMDB", 0.5, ns(&sh->seek, 0.5),
	     ns(&lm->seek, 0.5), -1);
	OFIG("seek + read p99", "ns", 0, 1, VS_NONE, NULL, 0, ns(&sh->seek, 0.99), ns(&lm->seek, 0.99), -1);
	OFIG("seek + read 100 records", "rec/s", 0, 0, VS_LMDB, ">= 2 x LMDB", 2, RATE(sh->range_rps),
	     RATE(lm->range_rps), -1);
	OFIG("full scan in key order", "rec/s", 0, 0, VS_LMDB, ">= 1.5 x LMDB", 1.5, RATE(sh->scan_rps),
	     RATE(lm->scan_rps), -1);
	OFIG("get p50", "ns", 0, 1, VS_HASH, "<= 1.1 x hash", 1.1, ns(&sh->get, 0.5), -1,
	     ns(&sh->hash_get, 0.5));
	OFIG("get p99", "ns", 0, 1, VS_NONE, NULL, 0, ns(&sh->get, 0.99), -1, ns(&sh->hash_get, 0.99));
	OFIG("bulk load, 1,000-put txns", "rec/s", 0, 0, VS_LMDB, ">= 5 x LMDB", 5, RATE(sh->load_rps),
	     RATE(lm->load_rps), RATE(sh->hash_load_rps));
	OFIG("1-put commit p50", "ns", 0, 1, VS_HASH, "<= 1.2 x hash", 1.2, ns(&sh->commit, 0.5),
	     ns(&lm->commit, 0.5), ns(&sh->hash_commit, 0.5));
	OFIG("1-put commit p99", "ns", 0, 1, VS_NONE, NULL, 0, ns(&sh->commit, 0.99),
	     ns(&lm->commit, 0.99), ns(&sh->hash_commit, 0.99));
	OFIG("1-put insert p50", "ns", 0, 1, VS_HASH, "<= 1.2 x hash", 1.2, ns(&sh->insert, 0.5),
	     ns(&lm->insert, 0.5), ns(&sh->hash_insert, 0.5));
	OFIG("1-put insert p99", "ns", 0, 1, VS_NONE, NULL, 0, ns(&sh->insert, 0.99),
	     ns(&lm->insert, 0.99), ns(&sh->hash_insert, 0.99));
	OFIG("multimap: a key's values", "pair/s", 0, 0, VS_LMDB, ">= 1 x LMDB", 1, RATE(sh->multi_pps),
	     RATE(lm->multi_pps), -1);
	OFIG("multimap bulk load", "pair/s", 0, 0, VS_NONE, NULL, 0, RATE(sh->multi_load_rps),
	     RATE(lm->multi_load_rps), -1);
	OFIG("memory per record", "B", 1, 1, VS_LMDB, "reported", 0, RATE(sh->bytes_per_rec),
	     RATE(lm->bytes_per_rec), RATE(sh->hash_bytes_per_rec));
	OFIG("  LMDB: its tree's pages", "B", 1, 1, VS_NONE, NULL, 0, -1, RATE(lm->tree_bytes_per_rec), -1);
	OFIG("multimap memory per pair", "B", 1, 1, VS_NONE, NULL, 0, RATE(sh->multi_bytes_per_pair),
	     RATE(lm->multi_bytes_per_pair), -1);
#undef RATE
#undef OFIG
	return n;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of v[0..n) (NAN and negative values, which stand for none,
 * left out; -1 if that leaves none). */
static double median_of(double *v, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		if (v[i] >= 0)
			v[k++] = v[i];
	if (!k)
		return -1;
	qsort(v, (size_t)k, sizeof(*v), by_value);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* The median of the rounds' ratios a[r] / b[r], NAN if none has one. */
static double median_ratio(const double *a, const double *b)
{
	double r[ORDERED_ROUNDS];
	for (int i = 0; i < ORDERED_ROUNDS; i++)
		r[i] = ratio_of(a[i], b[i]);
	double m = median_of(r, ORDERED_ROUNDS);
	return m < 0 ? NAN : m;
}

/* The ordered figures: each the median over the rounds, each ratio the
 * median of the rounds' ratios. */
static int collect_ordered(struct ordered_figure *f, const int *on)
{
	struct ordered_figure per[ORDERED_ROUNDS][24];
	int n = 0;
	for (int r = 0; r < ORDERED_ROUNDS; r++) {
		static struct bench_ordered sh, lm; /* (their histograms are big) */
		ordered_round(r, SYS_SHMDB, &sh);
		ordered_round(r, SYS_LMDB, &lm);
		n = round_figures(per[r], on[SYS_SHMDB] ? &sh : NULL, on[SYS_LMDB] ? &lm : NULL);
	}
	for (int i = 0; i < n; i++) {
		double sh[ORDERED_ROUNDS], lm[ORDERED_ROUNDS], ha[ORDERED_ROUNDS];
		for (int r = 0; r < ORDERED_ROUNDS; r++) {
			sh[r] = per[r][i].shmdb;
			lm[r] = per[r][i].lmdb;
			ha[r] = per[r][i].hash;
		}
		f[i] = per[0][i];
		f[i].lmdb_ratio = median_ratio(sh, lm);
		f[i].hash_ratio = median_ratio(sh, ha);
		f[i].shmdb = median_of(sh, ORDERED_ROUNDS);
		f[i].lmdb = median_of(lm, ORDERED_ROUNDS);
		f[i].hash = median_of(ha, ORDERED_ROUNDS);
	}
	return n;
}

static void print_ordered(const struct ordered_figure *f, int n)
{
	uint64_t mkeys = bench_multi_keys(&params);
	printf("\nordered: %" PRIu64 " records (%d-byte keys, loaded in random key order; %u-byte "
	       "values) in an ordered table (LMDB: its B+tree)\nand, for shmdb, in a hash table; a "
	       "multimap of %" PRIu64 " pairs over %" PRIu64 " keys (%u-byte values; LMDB: "
	       "MDB_DUPSORT)\n", params.records, BENCH_KEY_LEN, params.val_len, params.records, mkeys,
	       bench_multi_val_len(&params));
	printf("%-28s %-6s %12s %12s %9s %12s %9s  %s\n", "figure", "unit", "shmdb", "LMDB", "/LMDB",
	       "shmdb hash", "/hash", "shmdb's target");
	for (int i = 0; i < n; i++) {
		printf("%-28s %-6s", f[i].name, f[i].unit);
		print_value(f[i].shmdb, f[i].decimals);
		print_value(f[i].lmdb, f[i].decimals);
		print_ratio_of(f[i].lmdb_ratio);
		print_value(f[i].hash, f[i].decimals);
		print_ratio_of(f[i].hash_ratio);
		const char *v = verdict(&f[i]);
		if (f[i].target)
			printf("  %s%s%s%s", f[i].target, v ? " (" : "", v ? v : "", v ? ")" : "");
		printf("\n");
	}
	printf("ratios are shmdb's figure over LMDB's, and shmdb's on the ordered table over the same "
	       "on a hash table;\nthe reads ran in %d rounds, each system in turn: each figure is the "
	       "median of the rounds', each ratio\nthe median of the rounds' ratios;\nmemory: ",
	       ORDERED_ROUNDS);
	printf("shmdb's table bytes (shmdb_tables: index, tree, versions), "
	       "LMDB's data file up to its last page in use\n(free pages included; its tree's own "
	       "pages below it)\n");
}

/* The ordered figures as the JSON object's "ordered". */
static void write_json_ordered(cJSON *root, const struct ordered_figure *f, int n)
{
	cJSON *o = cJSON_AddObjectToObject(root, "ordered");
	cJSON_AddNumberToObject(o, "records", (double)params.records);
	cJSON_AddNumberToObject(o, "multimap_pairs", (double)params.records);
	cJSON_AddNumberToObject(o, "multimap_keys", (double)bench_multi_keys(&params));
	cJSON_AddNumberToObject(o, "multimap_value_bytes", bench_multi_val_len(&params));
	cJSON_AddNumberToObject(o, "range_records", BENCH_RANGE);
	cJSON *a = cJSON_AddArrayToObject(o, "figures");
	for (int i = 0; i < n; i++) {
		cJSON *fo = json_figure(a, f[i].name, f[i].unit);
		json_number(fo, "shmdb", f[i].shmdb < 0 ? NAN : f[i].shmdb);
		json_number(fo, "lmdb", f[i].lmdb < 0 ? NAN : f[i].lmdb);
		json_number(fo, "shmdb_hash", f[i].hash < 0 ? NAN : f[i].hash);
		json_number(fo, "lmdb_ratio", f[i].lmdb_ratio);
		json_number(fo, "hash_ratio", f[i].hash_ratio);
		if (f[i].target)
			cJSON_AddStringToObject(fo, "target", f[i].target);
		const char *v = verdict(&f[i]);
		if (v)
			cJSON_AddBoolToObject(fo, "met", v[1] == 'e');
	}
	cJSON_AddNumberToObject(o, "read_rounds", ORDERED_ROUNDS);
	cJSON_AddStringToObject(o, "ratios", "each the median of the rounds' ratios, for the reads "
					     "(loads and commits: one round)");
	cJSON_AddNumberToObject(o, "seconds", round(ordered_s * 10) / 10);
}

/* The rows figures: shmdb's, the plain shmdb operation its target compares
 * it with, LMDB's and SQLite's, with the two targets issue 14 sets. */
struct rows_figure {
	const char *name;
	const char *unit;
	int lower;                  /* lower is better (ns) */
	double shmdb, plain, lmdb, sqlite; /* -1: no such figure */
	const char *plain_target;   /* vs the plain operation; NULL: none */
	double plain_limit;
	int peer;                   /* ROWS_LMDB or ROWS_SQLITE: the other target's */
	const char *peer_target;
	double peer_limit;
};

static const char *rows_verdict(double r, double limit, int lower)
{
	if (isnan(r))
		return NULL;
	return (lower ? r <= limit : r >= limit) ? "met" : "missed";
}

static int collect_rows(struct rows_figure *f, const int *on)
{
	const struct bench_rows *sh = on[ROWS_SHMDB] ? &rowsres[ROWS_SHMDB] : NULL;
	const struct bench_rows *lm = on[ROWS_LMDB] ? &rowsres[ROWS_LMDB] : NULL;
	const struct bench_rows *sq = on[ROWS_SQLITE] ? &rowsres[ROWS_SQLITE] : NULL;
	int n = 0;
#define RATE(x) ((x) > 0 ? (x) : -1)
#define RFIG(label, unit, lower, field, plainv, pt, pl, peer, qt, ql)                          \
	f[n++] = (struct rows_figure){ label, unit, lower, sh ? field(sh) : -1, sh ? (plainv) : -1, \
				       lm ? field(lm) : -1, sq ? field(sq) : -1, pt, pl, peer, qt, ql }
#define P50(x, h) ns(&(x)->h, 0.5)
#define GET50(x) P50(x, get_col)
#define GET99(x) ns(&(x)->get_col, 0.99)
#define SCAN(x) RATE((x)->scan_sum_rps)
#define IDX50(x) P50(x, index_get)
#define IDX99(x) ns(&(x)->index_get, 0.99)
#define INC50(x) P50(x, incr)
#define INC99(x) ns(&(x)->incr, 0.99)
#define LOADI(x) RATE((x)->load_index_rps)
#define LOAD(x) RATE((x)->load_rps)
	RFIG("get row + read f64 p50", "ns", 1, GET50, ns(&sh->get_plain, 0.5), "<= 1.05 x get", 1.05,
	     ROWS_SQLITE, "<= 0.1 x SQLite", 0.1);
	RFIG("get row + read f64 p99", "ns", 1, GET99, ns(&sh->get_plain, 0.99), NULL, 0, 0, NULL, 0);
	RFIG("scan summing f64", "row/s", 0, SCAN, RATE(sh->scan_plain_rps), ">= 0.8 x scan", 0.8,
	     ROWS_SQLITE, ">= 10 x SQLite", 10);
	RFIG("index: first row p50", "ns", 1, IDX50, ns(&sh->get_plain, 0.5), "<= 2 x get", 2,
	     ROWS_LMDB, "<= 0.5 x LMDB", 0.5);
	RFIG("index: first row p99", "ns", 1, IDX99, ns(&sh->get_plain, 0.99), NULL, 0, 0, NULL, 0);
	RFIG("increment, 1-op commit p50", "ns", 1, INC50, ns(&sh->put_commit, 0.5),
	     "<= 1.1 x 1-put", 1.1, 0, NULL, 0);
	RFIG("increment, 1-op commit p99", "ns", 1, INC99, ns(&sh->put_commit, 0.99), NULL, 0, 0,
	     NULL, 0);
	RFIG("bulk load, indexed", "row/s", 0, LOADI, RATE(sh->load_rps), ">= 0.5 x no index", 0.5,
	     ROWS_LMDB, ">= 5 x LMDB", 5);
	RFIG("bulk load, no index", "row/s", 0, LOAD, -1, NULL, 0, 0, NULL, 0);
#undef RFIG
#undef P50
#undef GET50
#undef GET99
#undef SCAN
#undef IDX50
#undef IDX99
#undef INC50
#undef INC99
#undef LOADI
#undef LOAD
#undef RATE
	return n;
}

static double rows_peer(const struct rows_figure *f)
{
	return f->peer == ROWS_LMDB ? f->lmdb : f->sqlite;
}

static void print_rows(const struct rows_figure *f, int n)
{
	printf("\nrows: %" PRIu64 " rows of (i64 key, str symbol, f64, f64, i64, u64), %u symbols, an "
	       "index on the symbol\n(shmdb: a table of rows; LMDB: packed structs and an "
	       "MDB_DUPSORT index written in the same transaction;\nSQLite: WAL on /dev/shm, "
	       "memory-mapped, prepared statements); \"plain\": shmdb's get, scan or 1-put commit\n"
	       "without the column or the index, timed in turns with it\n", params.records,
	       BENCH_ROWS_SYMBOLS);
	printf("%-28s %-5s %11s %11s %11s %11s %7s %7s  %s\n", "figure", "unit", "shmdb", "plain",
	       "LMDB", "SQLite", "/plain", "/peer", "shmdb's targets");
	for (int i = 0; i < n; i++) {
		printf("%-28s %-5s", f[i].name, f[i].unit);
		print_value(f[i].shmdb, 0);
		print_value(f[i].plain, 0);
		print_value(f[i].lmdb, 0);
		print_value(f[i].sqlite, 0);
		double rp = ratio_of(f[i].shmdb, f[i].plain), rq = ratio_of(f[i].shmdb, rows_peer(&f[i]));
		printf(" %7.2f %7.2f ", rp, rq);
		for (int k = 0; k < 2; k++) {
			const char *t = k ? f[i].peer_target : f[i].plain_target;
			const char *v = t ? rows_verdict(k ? rq : rp, k ? f[i].peer_limit : f[i].plain_limit,
							 f[i].lower) : NULL;
			if (t)
				printf(" %s%s%s%s", t, v ? " (" : "", v ? v : "", v ? ")" : "");
		}
		printf("\n");
	}
	printf("/peer: over LMDB's for the index and the load, over SQLite's for the get and the "
	       "scan\n");
}

/* The rows figures as the JSON object's "rows". */
static void write_json_rows(cJSON *root, const struct rows_figure *f, int n)
{
	cJSON *o = cJSON_AddObjectToObject(root, "rows");
	cJSON_AddNumberToObject(o, "rows", (double)params.records);
	cJSON_AddNumberToObject(o, "symbols", BENCH_ROWS_SYMBOLS);
	cJSON *a = cJSON_AddArrayToObject(o, "figures");
	for (int i = 0; i < n; i++) {
		double rp = ratio_of(f[i].shmdb, f[i].plain), rq = ratio_of(f[i].shmdb, rows_peer(&f[i]));
		cJSON *fo = json_figure(a, f[i].name, f[i].unit);
		json_number(fo, "shmdb", f[i].shmdb < 0 ? NAN : f[i].shmdb);
		json_number(fo, "shmdb_plain", f[i].plain < 0 ? NAN : f[i].plain);
		json_number(fo, "lmdb", f[i].lmdb < 0 ? NAN : f[i].lmdb);
		json_number(fo, "sqlite", f[i].sqlite < 0 ? NAN : f[i].sqlite);
		json_number(fo, "plain_ratio", rp);
		json_number(fo, "peer_ratio", rq);
		const char *v;
		if (f[i].plain_target) {
			cJSON_AddStringToObject(fo, "plain_target", f[i].plain_target);
			if ((v = rows_verdict(rp, f[i].plain_limit, f[i].lower)))
				cJSON_AddBoolToObject(fo, "plain_met", v[1] == 'e');
		}
		if (f[i].peer_target) {
			cJSON_AddStringToObject(fo, "peer_target", f[i].peer_target);
			if ((v = rows_verdict(rq, f[i].peer_limit, f[i].lower)))
				cJSON_AddBoolToObject(fo, "peer_met", v[1] == 'e');
		}
	}
	cJSON_AddNumberToObject(o, "seconds", round(rows_s * 10) / 10);
}

static int write_json(const char *path, const struct figure *f, int n,
		      const struct pinned_figure *pf, int pn, const struct ordered_figure *of, int on_,
		      const struct rows_figure *rf, int rn, double timer_ns, const struct stalls *st)
{
	static const char *const keys[NSYS] = { "shmdb", "lmdb", "redis", "ideal" };
	cJSON *root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "records", (double)params.records);
	cJSON_AddNumberToObject(root, "key_bytes", BENCH_KEY_LEN);
	cJSON_AddNumberToObject(root, "value_bytes", params.val_len);
	cJSON_AddNumberToObject(root, "client_cpu", params.client_cpu);
	cJSON_AddNumberToObject(root, "server_cpu", params.server_cpu);
	cJSON_AddNumberToObject(root, "timer_ns", round(timer_ns * 10) / 10);
	cJSON_AddNumberToObject(root, "cpu_stalls_per_s", round(st->per_s * 10) / 10);
	cJSON_AddNumberToObject(root, "cpu_longest_stall_ns", round(st->longest_ns));
	cJSON_AddNumberToObject(root, "cpu_stalled_fraction", round(st->lost * 1e5) / 1e5);
	cJSON *a = cJSON_AddArrayToObject(root, "figures");
	for (int i = 0; i < n; i++) {
		cJSON *fo = json_figure(a, f[i].name, f[i].unit);
		for (int s = 0; s < NSYS; s++)
			json_number(fo, keys[s], f[i].v[s] < 0 ? NAN : f[i].v[s]);
	}
	if (pn)
		write_json_pinned(root, pf, pn);
	if (on_)
		write_json_ordered(root, of, on_);
	if (rn)
		write_json_rows(root, rf, rn);
	return json_write_file(path, root);
}

/* The get-latency percentiles of each system as a PNG, through gnuplot:
 * one line per system over p50 .. p99.99 and max, log scale. */
static int write_plot(const char *png, const struct bench_result *res, const int *on)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0 };
	static const char *const ql[] = { "p50", "p90", "p99", "p99.9", "p99.99", "max" };
	char dat[600];
	snprintf(dat, sizeof(dat), "%s.dat", png);
	FILE *d = fopen(dat, "w");
	if (!d)
		return -1;
	fprintf(d, "percentile");
	for (int s = 0; s < NSYS; s++)
		if (on[s])
			fprintf(d, " %s", systems[s]->name);
	fprintf(d, "\n");
	for (int q = 0; q < 6; q++) {
		fprintf(d, "%s", ql[q]);
		for (int s = 0; s < NSYS; s++)
			if (on[s])
				fprintf(d, " %.1f", ns(&res[s].get, qs[q]));
		fprintf(d, "\n");
	}
	fclose(d);
	FILE *g = popen("gnuplot", "w");
	if (!g) {
		fprintf(stderr, "shmdb-bench: cannot run gnuplot (apt-get install gnuplot-nox)\n");
		return -1;
	}
	fprintf(g, "set terminal png size 900,540\nset output '%s'\n"
		"set title 'point get latency, %" PRIu64 " records (one reader process)'\n"
		"set logscale y\nset ylabel 'ns'\nset key left top\nset grid\n"
		"set style data linespoints\n", png, params.records);
	int cols = 0;
	for (int s = 0; s < NSYS; s++)
		cols += on[s];
	fprintf(g, "plot for [i=2:%d] '%s' using i:xtic(1) title columnheader(i)\n", cols + 1, dat);
	return pclose(g) == 0 ? 0 : -1;
}

/* Each system that ran must have produced every figure it has of the
 * workloads that ran: the main ones; where it has them, the ordered ones;
 * and, where it has one, both pinned-overwrite runs (commits and gets
 * timed, overwrites done, unless its store ran out of room). */
enum { RUN_MAIN = 1, RUN_ORDERED = 2, RUN_PINNED = 4, RUN_ROWS = 8 };

static int check_rows(int s)
{
	const struct bench_rows *o = &rowsres[s];
	int ok = o->load_rps > 0 && o->load_index_rps > 0 && o->get_col.count > 0 &&
		 o->scan_sum_rps > 0 && o->index_get.count > 0 && o->incr.count > 0;
	if (s == ROWS_SHMDB)
		ok = ok && o->get_plain.count > 0 && o->scan_plain_rps > 0 && o->put_commit.count > 0;
	if (!ok)
		fprintf(stderr, "shmdb-bench: %s produced no figure for some rows workload\n",
			rows_systems[s]->name);
	return !ok;
}

/* Whether system s's ordered round r has every figure. */
static int ordered_round_whole(int r, int s)
{
	static struct bench_ordered o; /* (its histograms are big) */
	ordered_round(r, s, &o);
	int ok = o.load_rps > 0 && o.bytes_per_rec > 0 && o.seek.count == params.gets / 4 &&
		 o.range_rps > 0 && o.scan_rps > 0 && o.commit.count == params.commits &&
		 o.insert.count == params.commits && o.multi_load_rps > 0 && o.multi_pps > 0 &&
		 o.multi_bytes_per_pair > 0;
	if (s == SYS_SHMDB)
		ok = ok && o.hash_load_rps > 0 && o.hash_bytes_per_rec > 0 &&
		     o.get.count == params.gets && o.hash_get.count == params.gets &&
		     o.hash_commit.count == params.commits && o.hash_insert.count == params.commits;
	return ok;
}

static int check_ordered(int s)
{
	int ok = 1;
	for (int r = 0; r < ORDERED_ROUNDS; r++)
		ok = ok && ordered_round_whole(r, s);
	if (!ok)
		fprintf(stderr, "shmdb-bench: %s produced no figure for some ordered workload\n",
			systems[s]->name);
	return !ok;
}

static int check_figures(const struct bench_result *res, const int *on, int runs)
{
	int bad = 0;
	for (int s = 0; s < NSYS; s++) {
		if (!on[s])
			continue;
		if ((runs & RUN_ORDERED) && systems[s]->ordered_load)
			bad |= check_ordered(s);
		for (int h = 0; (runs & RUN_PINNED) && systems[s]->overwrite && h < 2; h++) {
			const struct bench_overwrite *o = &pinned[s][h];
			if (o->commit.count == 0 || o->get.count == 0 || (o->done < pinned_puts && !o->full)) {
				fprintf(stderr, "shmdb-bench: %s produced no pinned-overwrite figure\n",
					systems[s]->name);
				bad = 1;
			}
		}
		if (!(runs & RUN_MAIN))
			continue;
		const struct bench_result *r = &res[s];
		int ok = r->load_rps > 0 && r->get.count == params.gets && r->get_ops > 0;
		if (s != SYS_IDEAL)
			ok = ok && r->scan_rps > 0 && r->commit.count == params.commits && r->commit_tps > 0;
		if (s == SYS_SHMDB || s == SYS_LMDB)
			ok = ok && r->begin_end.count == params.gets;
		if (s == SYS_SHMDB || s == SYS_REDIS)
			ok = ok && r->pipelined_tps > 0;
		if (s == SYS_IDEAL)
			ok = ok && r->chase_ns > 0 && r->add_ns > 0 &&
			     (r->round_trip.count > 0 || params.client_cpu == params.server_cpu);
		if (s == SYS_SHMDB || s == SYS_IDEAL)
			ok = ok && r->get_many_ops > 0;
		ok = ok && r->get_ops_2 > 0 && r->faults_per_get >= 0 && r->allocs_per_get >= 0;
		if (systems[s]->reader_open)
			ok = ok && r->get_loaded.count > 0;
		if (systems[s]->writer_open)
			ok = ok && r->loaded_commit_tps > 0 && r->visible.count > 0;
		if (!ok) {
			fprintf(stderr, "shmdb-bench: %s produced no figure for some workload\n", systems[s]->name);
			bad = 1;
		}
	}
	return bad;
}

static void usage(FILE *to)
{
	fprintf(to,
		"Usage: shmdb-bench [OPTION]...\n"
		"  --records N       dataset size (default 1000000)\n"
		"  --value-size N    value bytes (default 100, at most %d)\n"
		"  --gets N          timed gets per reader (default 2000000)\n"
		"  --commits N       timed 1-put transactions (default 100000)\n"
		"  --write-rate N    transactions per second of the steady writer while\n"
		"                    scheduled gets are timed (default 100000)\n"
		"  --pinned-keys N   pinned-overwrite: records overwritten (default 10000)\n"
		"  --pinned-overwrites N   and 1-put overwrites of them (default 2000000)\n"
		"  --pinned-only     run the pinned-overwrite workload only\n"
		"  --ordered-only    run the ordered workloads only (shmdb and LMDB)\n"
		"  --rows-only       run the rows workload only (shmdb, LMDB and SQLite);\n"
		"                    the --...-only options add up\n"
		"  --idle-only       the writer's idle strategies alone: commits spaced evenly\n"
		"                    at 1k, 10k and 50k/s (latency, daemon cpu), the idle\n"
		"                    daemon's cpu, and a 2-process 95/5 and 50/50 zipfian\n"
		"                    mixed workload against LMDB, per --writer-idle policy\n"
		"  --durable-only    the durable workloads alone (sync and async logs against\n"
		"                    LMDB's durable commit and SQLite WAL FULL, restart,\n"
		"                    gets during checkpoints), data dirs under /var/tmp\n"
		"  --quick           20,000 records, 100,000 gets, 5,000 commits; pinned-\n"
		"                    overwrite: 1,000 records, 20,000 overwrites\n"
		"  --no-lmdb, --no-redis, --no-ideal, --no-sqlite   leave a peer out\n"
		"  --client-cpu N    cpu of the client processes (default 0)\n"
		"  --server-cpu N    cpu of shmdbd (all its threads) and redis-server\n"
		"                    (default 1)\n"
		"  --shmdbd PATH     the daemon (default: ../shmdbd next to this program)\n"
		"  --socket PATH     use the shmdbd already serving PATH instead of starting\n"
		"                    one: a table of its own, dropped at the end; the\n"
		"                    daemon's cpus are as it was started\n"
		"  --json FILE       also write every figure as JSON\n"
		"  --plot FILE.png   also plot the get percentiles of each system (gnuplot)\n",
		BENCH_MAX_VAL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "value-size", required_argument, NULL, 'v' },
		{ "gets", required_argument, NULL, 'g' },
		{ "commits", required_argument, NULL, 'c' },
		{ "write-rate", required_argument, NULL, 'w' },
		{ "pinned-keys", required_argument, NULL, 'k' },
		{ "pinned-overwrites", required_argument, NULL, 'o' },
		{ "pinned-only", no_argument, NULL, 'O' },
		{ "ordered-only", no_argument, NULL, 'T' },
		{ "rows-only", no_argument, NULL, 'W' },
		{ "durable-only", no_argument, NULL, 'D' },
		{ "idle-only", no_argument, NULL, 'Y' },
		{ "no-sqlite", no_argument, NULL, 'Q' },
		{ "quick", no_argument, NULL, 'q' },
		{ "no-lmdb", no_argument, NULL, 'L' },
		{ "no-redis", no_argument, NULL, 'R' },
		{ "no-ideal", no_argument, NULL, 'I' },
		{ "client-cpu", required_argument, NULL, 'C' },
		{ "server-cpu", required_argument, NULL, 'S' },
		{ "shmdbd", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", required_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int on[NSYS] = { 1, 1, 1, 1 }, only = 0, sqlite_on = 1, durable = 0, quick = 0;
	int idle_only = 0;
	const char *json = NULL, *plot = NULL;
	char self[600], shmdbd[700];
	params = (struct bench_params){ .records = 1000000, .val_len = 100, .gets = 2000000,
					.commits = 100000, .write_rate = 100000, .client_cpu = 0,
					.server_cpu = 1 };
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		params.server_cpu = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': params.records = strtoull(optarg, NULL, 10); break;
		case 'v': params.val_len = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'g': params.gets = strtoull(optarg, NULL, 10); break;
		case 'c': params.commits = strtoull(optarg, NULL, 10); break;
		case 'w': params.write_rate = strtoull(optarg, NULL, 10); break;
		case 'k': pinned_keys = strtoull(optarg, NULL, 10); break;
		case 'o': pinned_puts = strtoull(optarg, NULL, 10); break;
		case 'O': only |= RUN_PINNED; break;
		case 'T': only |= RUN_ORDERED; break;
		case 'W': only |= RUN_ROWS; break;
		case 'D': durable = 1; break;
		case 'Y': idle_only = 1; break;
		case 'Q': sqlite_on = 0; break;
		case 'q':
			quick = 1;
			params.records = 20000;
			params.gets = 100000;
			params.commits = 5000;
			pinned_keys = 1000;
			pinned_puts = 20000;
			break;
		case 'L': on[SYS_LMDB] = 0; break;
		case 'R': on[SYS_REDIS] = 0; break;
		case 'I': on[SYS_IDEAL] = 0; break;
		case 'C': params.client_cpu = atoi(optarg); break;
		case 'S': params.server_cpu = atoi(optarg); break;
		case 'd': params.shmdbd = optarg; break;
		case 's': params.socket = optarg; break;
		case 'j': json = optarg; break;
		case 'P': plot = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const int runs = only ? only : RUN_MAIN | RUN_ORDERED | RUN_PINNED | RUN_ROWS;
	const int main_run = runs & RUN_MAIN;
	const int rows_on[NROWS_SYS] = { on[SYS_SHMDB], on[SYS_LMDB], sqlite_on };
	if (!params.records || !params.gets || !params.commits || !pinned_keys || !pinned_puts ||
	    params.val_len < 8 || params.val_len > BENCH_MAX_VAL) {
		fprintf(stderr, "shmdb-bench: counts must be positive and the value size 8 to %d\n", BENCH_MAX_VAL);
		return 2;
	}
	if (!params.shmdbd) {
		ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[l > 0 ? l : 0] = 0;
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
		snprintf(shmdbd, sizeof(shmdbd), "%s/../shmdbd", self);
		params.shmdbd = shmdbd;
	}
	params.json = json;
	if (durable) /* its own daemons, data dirs and peers */
		return bench_durable(&params, quick);
	if (idle_only) /* its own daemons, one per writer policy */
		return bench_idle(&params, quick);
	if (!mkdtemp(dir)) {
		perror("shmdb-bench: mkdtemp");
		return 1;
	}
	params.dir = dir;
	main_pid = getpid();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	double timer_ns;
	calibrate(&params, &timer_ns);
	printf("shmdb-bench: %" PRIu64 " records, %d-byte keys, %u-byte values; %" PRIu64
	       " gets, %" PRIu64 " commits\n", params.records, BENCH_KEY_LEN, params.val_len,
	       params.gets, params.commits);
	if (params.socket)
		printf("clients (loader, reader process, committer) on cpu %d; redis-server on cpu %d; "
		       "the shmdbd at %s, on the cpus it was started with\n", params.client_cpu,
		       params.server_cpu, params.socket);
	else
		printf("clients (loader, reader process, committer) on cpu %d; shmdbd (writer and every "
		       "other thread) and redis-server on cpu %d\n", params.client_cpu, params.server_cpu);
	printf("TSC %.3f GHz; timer cost %.1f ns, included in every latency\n", params.tsc_per_ns,
	       timer_ns);
	bench_pin(params.client_cpu);
	struct stalls st = cpu_stalls(params.records > 100000 ? 1.0 : 0.2);
	printf("cpu %d, idle machine: %.0f stalls of %d ns or more per second, longest %.0f ns, "
	       "%.2f%% of the time: the floor of every tail\n", params.client_cpu, st.per_s,
	       STALL_NS, st.longest_ns, 100 * st.lost);
	if (counters_open())
		printf("system calls are not counted: mount tracefs (mount -t tracefs nodev "
		       "/sys/kernel/tracing) and run as root to count them\n");

	struct bench_result *res = mmap(NULL, sizeof(*res) * NSYS, PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return 1;
	int failed = 0;
	for (int s = 0; main_run && s < NSYS; s++) {
		if (!on[s])
			continue;
		printf("running %s...\n", systems[s]->name);
		fflush(stdout);
		if (run_system(systems[s], &res[s]))
			failed = 1;
	}
	uint64_t ordered_t0 = bench_now_ns();
	int ordered_ran = 0;
	ordres = mmap(NULL, sizeof(*ordres) * NSYS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	ordround = mmap(NULL, sizeof(*ordround) * ORDERED_ROUNDS, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ordres == MAP_FAILED || ordround == MAP_FAILED)
		return 1;
	if (runs & RUN_ORDERED) {
		ordered_ran = 1;
		if (run_ordered(on))
			failed = 1;
	}
	ordered_s = (double)(bench_now_ns() - ordered_t0) / 1e9;
	uint64_t pinned_t0 = bench_now_ns();
	int pinned_ran = 0;
	for (int s = 0; (runs & RUN_PINNED) && s < NSYS; s++) {
		if (!on[s] || !systems[s]->overwrite)
			continue;
		pinned_ran = 1;
		printf("running pinned-overwrite on %s...\n", systems[s]->name);
		fflush(stdout);
		if (run_pinned(s))
			failed = 1;
	}
	double pinned_s = (double)(bench_now_ns() - pinned_t0) / 1e9;
	uint64_t rows_t0 = bench_now_ns();
	int rows_ran = 0;
	rowsres = mmap(NULL, sizeof(*rowsres) * NROWS_SYS, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rowsres == MAP_FAILED)
		return 1;
	for (int s = 0; (runs & RUN_ROWS) && s < NROWS_SYS; s++) {
		if (!rows_on[s])
			continue;
		rows_ran = 1;
		printf("running the rows workload on %s...\n", rows_systems[s]->name);
		fflush(stdout);
		if (run_rows(rows_systems[s], &rowsres[s]) || check_rows(s))
			failed = 1;
	}
	rows_s = (double)(bench_now_ns() - rows_t0) / 1e9;
	struct figure f[48]; /* room for every figure collect() makes (35) */
	int n = main_run ? collect(f, res, on) : 0;
	if (main_run)
		print_table(f, n);
	struct ordered_figure of[24]; /* room for every figure collect_ordered() makes (16) */
	int on_ = ordered_ran ? collect_ordered(of, on) : 0;
	if (ordered_ran) {
		print_ordered(of, on_);
		printf("the ordered workloads took %.1f s\n", ordered_s);
	}
	struct pinned_figure pf[16]; /* room for every figure collect_pinned() makes (11) */
	int pn = pinned_ran ? collect_pinned(pf, on) : 0;
	if (pinned_ran) {
		print_pinned(pf, pn, on);
		printf("the pinned-overwrite workload took %.1f s\n", pinned_s);
	}
	struct rows_figure rf[16]; /* room for every figure collect_rows() makes (9) */
	int rn = rows_ran ? collect_rows(rf, rows_on) : 0;
	if (rows_ran) {
		print_rows(rf, rn);
		printf("the rows workload took %.1f s\n", rows_s);
	}
	if (json && write_json(json, f, n, pf, pn, of, on_, rf, rn, timer_ns, &st))
		failed = 1;
	if (plot && main_run && write_plot(plot, res, on))
		failed = 1;
	rmdir(dir);
	return failed || check_figures(res, on, runs) ? 1 : 0;
}
