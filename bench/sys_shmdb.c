/*
 * sys_shmdb.c - shmdb under shmdb-bench: its own shmdbd on a socket in the
 * run's directory, the writer pinned to the server cpu with its default idle
 * window (it polls while commits keep coming, and sleeps during the read
 * workloads instead of taking a core from them), clients on the client cpu.
 * With --socket, a running shmdbd instead, as it was started: the records go
 * into a table named after this process, which is dropped at the end, so
 * that the store is left as it was found. The pinned-overwrite workload
 * loads and stops the same way, a daemon (or table) for each of its runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "shmdb.h"

static pid_t daemon_pid;
static char sock[256];
static char table_name[64];
static char left_behind[512]; /* what to say if interrupted with --socket */
static char lock_path[300];   /* the lock file of the daemon it started */
static shmdb *db;
static shmdb_table table;

static int fail(const char *what, int err)
{
	fprintf(stderr, "shmdb-bench: shmdb: %s: %s\n", what, shmdb_strerror(err));
	return -1;
}

static int start_daemon(const struct bench_params *p)
{
	char cpu[16], arena[32];
	/* Versions of ~160 bytes plus the index, and room for the commits. */
	uint64_t mib = (p->records + p->commits) * (p->val_len + 128) * 2 / (1 << 20) + 64;
	snprintf(cpu, sizeof(cpu), "%d", p->server_cpu);
	snprintf(arena, sizeof(arena), "%" PRIu64 "M", mib);
	snprintf(sock, sizeof(sock), "%s/shmdb.sock", p->dir);
	snprintf(lock_path, sizeof(lock_path), "%s.lock", sock);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		freopen("/dev/null", "w", stderr);
		/* The whole daemon on the server cpu, not the client cpu this
		 * process is pinned to: its main and RCU threads would otherwise
		 * inherit that and take time from the clients. */
		bench_pin(p->server_cpu);
		execl(p->shmdbd, p->shmdbd, "--socket", sock, "--arena-size", arena, "--writer-cpu", cpu,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1200; i++) {
		struct stat st;
		if (stat(sock, &st) == 0)
			return 0;
		if (waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid)
			break;
		usleep(25000);
	}
	fprintf(stderr, "shmdb-bench: shmdbd (%s) did not start\n", p->shmdbd);
	daemon_pid = 0;
	return -1;
}

static int load(const struct bench_params *p, struct bench_result *r)
{
	if (p->socket) {
		if (strlen(p->socket) >= sizeof(sock)) {
			fprintf(stderr, "shmdb-bench: --socket: path too long\n");
			return -1;
		}
		strcpy(sock, p->socket);
	} else if (start_daemon(p)) {
		return -1;
	}
	snprintf(table_name, sizeof(table_name), "shmdb-bench-%d", (int)getpid());
	snprintf(left_behind, sizeof(left_behind),
		 "shmdb-bench: interrupted; its table is left in the store: "
		 "shmdb --socket %s drop %s\n", sock, table_name);
	int e = shmdb_open(sock, &db);
	if (e)
		return fail(sock, e);
	/* A table of this run's own, never one that was there before. */
	if (!shmdb_table_open(db, table_name, 0, &table)) {
		table = 0;
		fprintf(stderr, "shmdb-bench: %s already has a table %s\n", sock, table_name);
		return -1;
	}
	if ((e = shmdb_table_open(db, table_name, SHMDB_CREATE, &table)))
		return fail(table_name, e);
	if (p->socket) {
		shmdb_info info;
		if (!shmdb_info_get(db, &info))
			printf("  shmdbd at %s: writer on cpu %d; records in table %s\n", sock,
			       info.writer_cpu, table_name);
	}
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->records; i += 1000) {
		shmdb_wtxn *w;
		shmdb_write_begin(db, &w);
		for (uint64_t j = i; j < i + 1000 && j < p->records; j++) {
			bench_key(key, j);
			bench_value(val, j, p->val_len);
			shmdb_put(w, table, key, BENCH_KEY_LEN, val, p->val_len);
		}
		if ((e = shmdb_commit(w, NULL)))
			return fail("bulk load", e);
	}
	r->load_rps = (double)p->records / ((double)(bench_now_ns() - start) / 1e9);
	return 0;
}

static int read_side(const struct bench_params *p, struct bench_result *r)
{
	shmdb *mine;
	shmdb_table t;
	shmdb_rtxn *txn;
	shmdb_val k, v;
	uint8_t key[BENCH_KEY_LEN];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), misses = 0;

	int e = shmdb_open(sock, &mine);
	if (!e)
		e = shmdb_table_open(mine, table_name, 0, &t);
	if (e)
		return fail("reader open", e);
	for (uint64_t i = 0; i < p->gets / 10 + 1000; i++) { /* warm-up */
		shmdb_read_begin(mine, &txn);
		bench_key(key, bench_rand(&rnd) % p->records);
		shmdb_get(txn, t, key, BENCH_KEY_LEN, &v);
		shmdb_read_end(txn);
	}
	struct counters c0, c1;
	counters_read(&c0);
	shmdb_read_begin(mine, &txn);
	for (uint64_t i = 0; i < p->gets; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		uint64_t t0 = bench_tsc();
		misses += shmdb_get(txn, t, key, BENCH_KEY_LEN, &v) != 0;
		hist_add(&r->get, bench_tsc() - t0);
	}
	counters_read(&c1);
	bench_costs(&c0, &c1, p->gets, r);
	/* Throughput untimed: the timer's fences would serialise the gets. */
	if (bench_gate(p)) /* two_readers: both start together */
		return -1;
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->gets; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		misses += shmdb_get(txn, t, key, BENCH_KEY_LEN, &v) != 0;
	}
	r->ops_t0 = start;
	r->ops_t1 = bench_now_ns();
	r->get_ops = (double)p->gets / ((double)(r->ops_t1 - start) / 1e9);
	if (p->gate) { /* two_readers wants this figure only: stop while the other times */
		shmdb_read_end(txn);
		shmdb_close(mine);
		return misses ? -1 : 0;
	}
	/* The same gets, BENCH_MANY keys per shmdb_get_many. */
	uint8_t many[BENCH_MANY][BENCH_KEY_LEN];
	shmdb_val keys[BENCH_MANY], vals[BENCH_MANY];
	for (int i = 0; i < BENCH_MANY; i++)
		keys[i] = (shmdb_val){ many[i], BENCH_KEY_LEN };
	uint64_t batches = (p->gets + BENCH_MANY - 1) / BENCH_MANY;
	start = bench_now_ns();
	for (uint64_t i = 0; i < batches; i++) {
		for (int j = 0; j < BENCH_MANY; j++)
			bench_key(many[j], bench_rand(&rnd) % p->records);
		if ((e = shmdb_get_many(txn, t, keys, BENCH_MANY, vals)))
			return fail("get_many", e);
		for (int j = 0; j < BENCH_MANY; j++)
			misses += !vals[j].data;
	}
	r->get_many_ops = (double)(batches * BENCH_MANY) / ((double)(bench_now_ns() - start) / 1e9);
	shmdb_read_end(txn);

	/* Batches of BENCH_BATCH pairs per sample: the timer would dwarf one. */
	for (uint64_t i = 0; i < p->gets; i++) {
		uint64_t t0 = bench_tsc();
		for (int b = 0; b < BENCH_BATCH; b++) {
			shmdb_read_begin(mine, &txn);
			shmdb_read_end(txn);
		}
		hist_add(&r->begin_end, (bench_tsc() - t0) / BENCH_BATCH);
	}

	uint64_t count = 0;
	shmdb_cursor *c;
	shmdb_read_begin(mine, &txn);
	start = bench_now_ns();
	shmdb_cursor_open(txn, t, &c);
	while (shmdb_cursor_next(c, &k, &v) == 0)
		count++;
	r->scan_rps = (double)count / ((double)(bench_now_ns() - start) / 1e9);
	shmdb_cursor_close(c);
	shmdb_read_end(txn);
	shmdb_close(mine);
	if (misses || count < p->records) {
		fprintf(stderr, "shmdb-bench: shmdb: %" PRIu64 " gets missed, scan saw %" PRIu64 "\n",
			misses, count);
		return -1;
	}
	return 0;
}

static int write_side(const struct bench_params *p, struct bench_result *r)
{
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	bench_value(val, 0, p->val_len);
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->commits; i++) {
		shmdb_wtxn *w;
		bench_key(key, i);
		uint64_t t0 = bench_tsc();
		shmdb_write_begin(db, &w);
		shmdb_put(w, table, key, BENCH_KEY_LEN, val, p->val_len);
		int e = shmdb_commit(w, NULL);
		hist_add(&r->commit, bench_tsc() - t0);
		if (e)
			return fail("commit", e);
	}
	r->commit_tps = (double)p->commits / ((double)(bench_now_ns() - start) / 1e9);

	const uint64_t window = 512;
	uint64_t *tickets = calloc(p->commits, sizeof(uint64_t));
	start = bench_now_ns();
	for (uint64_t i = 0; i < p->commits; i++) {
		shmdb_wtxn *w;
		bench_key(key, i);
		shmdb_write_begin(db, &w);
		shmdb_put(w, table, key, BENCH_KEY_LEN, val, p->val_len);
		int e = shmdb_commit_async(w, &tickets[i]);
		if (!e && i >= window)
			e = shmdb_wait(db, tickets[i - window], NULL);
		if (e) {
			free(tickets);
			return fail("pipelined commit", e);
		}
	}
	for (uint64_t i = p->commits > window ? p->commits - window : 0; i < p->commits; i++)
		shmdb_wait(db, tickets[i], NULL);
	r->pipelined_tps = (double)p->commits / ((double)(bench_now_ns() - start) / 1e9);
	free(tickets);
	return 0;
}

/* Every record in txn reads as loaded: 0, or -1. */
static int reads_as_loaded(shmdb_rtxn *txn, shmdb_table t, const struct bench_params *p)
{
	uint8_t key[BENCH_KEY_LEN], want[BENCH_MAX_VAL];
	shmdb_val v;
	for (uint64_t i = 0; i < p->records; i++) {
		bench_key(key, i);
		bench_value(want, i, p->val_len);
		if (shmdb_get(txn, t, key, BENCH_KEY_LEN, &v) || v.len != p->val_len ||
		    memcmp(v.data, want, p->val_len))
			return -1;
	}
	return 0;
}

/* The snapshot held through the pinned overwrites: a thread of its own,
 * on a handle of its own (a reader slot of another session, as a long
 * reader elsewhere would hold), asleep between taking the snapshot and
 * ending it. It reads every record as loaded at both ends, or sets err. */
static void *hold_snapshot(void *arg)
{
	struct bench_holder *h = arg;
	shmdb *mine = NULL;
	shmdb_table t;
	shmdb_rtxn *txn = NULL;
	int e = shmdb_open(sock, &mine);
	if (!e)
		e = shmdb_table_open(mine, table_name, 0, &t);
	if (!e)
		e = shmdb_read_begin(mine, &txn);
	if (e)
		h->err = fail("snapshot holder", e);
	else if (reads_as_loaded(txn, t, h->p))
		h->err = -1;
	bench_hold_wait(h);
	if (!e) {
		if (reads_as_loaded(txn, t, h->p))
			h->err = -1;
		shmdb_read_end(txn);
	}
	shmdb_close(mine);
	if (!e && h->err)
		fprintf(stderr, "shmdb-bench: shmdb: the held snapshot does not read the records as loaded\n");
	return NULL;
}

/* A timed get of a random record, in a fresh snapshot: 0 if it read a
 * value this run wrote to that record, else -1. */
static int sample_get(const struct bench_params *p, uint64_t *rnd, struct hist *h)
{
	uint8_t key[BENCH_KEY_LEN];
	uint64_t i = bench_rand(rnd) % p->records, stamp = 0;
	shmdb_rtxn *txn;
	shmdb_val v;
	bench_key(key, i);
	if (shmdb_read_begin(db, &txn))
		return -1;
	uint64_t t0 = bench_tsc();
	int e = shmdb_get(txn, table, key, BENCH_KEY_LEN, &v);
	hist_add(h, bench_tsc() - t0);
	if (!e && v.len == p->val_len)
		memcpy(&stamp, v.data, sizeof(stamp));
	shmdb_read_end(txn);
	return e || v.len != p->val_len || stamp % p->records != i ? -1 : 0;
}

static uint64_t mem_used(void)
{
	shmdb_stats st;
	return shmdb_stats_get(db, &st) ? 0 : st.mem_used;
}

/* The overwrites: overwrite i writes record i % records, a value starting
 * with records + i. Every BENCH_GET_EVERY-th commit is submitted without
 * waiting, a get is timed while the writer applies it, and then it is
 * waited for, untimed; the others are timed, waiting. */
static int overwrites(const struct bench_params *p, struct bench_overwrite *o)
{
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	uint64_t rnd = 0x9e3779b97f4a7c15ull, wrong = 0, i;
	int e = 0;
	o->mem_before = o->mem_peak = (double)mem_used();
	uint64_t start = bench_now_ns();
	for (i = 0; i < p->commits; i++) {
		shmdb_wtxn *w;
		uint64_t ticket;
		bench_key(key, i % p->records);
		bench_value(val, p->records + i, p->val_len);
		if (i % BENCH_GET_EVERY) {
			uint64_t t0 = bench_tsc();
			shmdb_write_begin(db, &w);
			shmdb_put(w, table, key, BENCH_KEY_LEN, val, p->val_len);
			e = shmdb_commit(w, NULL);
			hist_add(&o->commit, bench_tsc() - t0);
		} else {
			shmdb_write_begin(db, &w);
			shmdb_put(w, table, key, BENCH_KEY_LEN, val, p->val_len);
			e = shmdb_commit_async(w, &ticket);
			if (!e) {
				wrong += sample_get(p, &rnd, &o->get) != 0;
				e = shmdb_wait(db, ticket, NULL);
			}
		}
		if (e)
			break;
		if (i % 1024 == 1023) {
			double m = (double)mem_used();
			if (m > o->mem_peak)
				o->mem_peak = m;
		}
	}
	o->elapsed_s = (double)(bench_now_ns() - start) / 1e9;
	o->done = i;
	o->full = e == -ENOSPC;
	o->mem_end = (double)mem_used();
	if (o->mem_end > o->mem_peak)
		o->mem_peak = o->mem_end;
	if (e && !o->full)
		return fail("overwrite", e);
	if (wrong) {
		fprintf(stderr, "shmdb-bench: shmdb: %" PRIu64 " sampled gets read no value written "
			"to their record\n", wrong);
		return -1;
	}
	return 0;
}

static int overwrite(const struct bench_params *p, int hold, struct bench_overwrite *o)
{
	if (!hold)
		return overwrites(p, o);
	return bench_while_held("shmdb", hold_snapshot, p, overwrites, o);
}

static void stop(const struct bench_params *p)
{
	if (p->interrupted) {
		/* In a signal handler: the handle may be inside a call, so it
		 * is left to die with the process (the daemon ends its session). */
		if (p->socket && table)
			(void)!write(STDERR_FILENO, left_behind, strlen(left_behind));
	} else {
		if (p->socket && table && shmdb_table_drop(db, table_name))
			fprintf(stderr, "shmdb-bench: could not drop its table: shmdb --socket %s drop %s\n",
				sock, table_name);
		shmdb_close(db);
		db = NULL;
		table = 0;
	}
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = 0;
	}
	if (lock_path[0]) /* the daemon it started leaves its lock file */
		unlink(lock_path);
}

struct handle {
	shmdb *db;
	shmdb_table t;
	uint64_t tickets[256]; /* the writer's transactions in flight */
	uint64_t issued;
};

static void *side_open(const struct bench_params *p)
{
	(void)p;
	struct handle *h = calloc(1, sizeof(*h));
	if (h && !shmdb_open(sock, &h->db) && !shmdb_table_open(h->db, table_name, 0, &h->t))
		return h;
	free(h);
	return NULL;
}

static int reader_get(void *hv, const uint8_t *key, uint8_t *out, uint32_t cap)
{
	struct handle *h = hv;
	shmdb_rtxn *r;
	shmdb_val v;
	int e = shmdb_read_begin(h->db, &r);
	if (!e) {
		e = shmdb_get(r, h->t, key, BENCH_KEY_LEN, &v);
		if (!e && out)
			memcpy(out, v.data, v.len < cap ? v.len : cap);
		shmdb_read_end(r);
	}
	return e;
}

/* A steady writer does not wait for each commit: up to 256 in flight. */
static int writer_put(void *hv, const uint8_t *key, const uint8_t *val, uint32_t len)
{
	struct handle *h = hv;
	shmdb_wtxn *w;
	uint64_t *slot = &h->tickets[h->issued % 256];
	int e = h->issued >= 256 ? shmdb_wait(h->db, *slot, NULL) : 0;
	if (!e)
		e = shmdb_write_begin(h->db, &w);
	if (!e)
		e = shmdb_put(w, h->t, key, BENCH_KEY_LEN, val, len);
	if (!e)
		e = shmdb_commit_async(w, slot);
	h->issued++;
	return e;
}

const struct bench_system bench_shmdb = {
	.name = "shmdb", .load = load, .read = read_side, .write = write_side, .stop = stop,
	.reader_open = side_open, .reader_get = reader_get,
	.writer_open = side_open, .writer_put = writer_put, .overwrite = overwrite,
};
