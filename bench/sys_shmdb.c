/*
 * sys_shmdb.c - shmdb under shmdb-bench: its own shmdbd on a socket in the
 * run's directory, the writer pinned to the server cpu with its default idle
 * window (it polls while commits keep coming, and sleeps during the read
 * workloads instead of taking a core from them), clients on the client cpu.
 * With --socket, a running shmdbd instead, as it was started: the records go
 * into a table named after this process, which is dropped at the end, so
 * that the store is left as it was found. The ordered workloads and each
 * run of the pinned-overwrite workload load and stop the same way, with a
 * daemon of their own (or tables of their own: the ordered workloads' are
 * named after this process with -hash, -ordered and -multi after it).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "shmdb.h"
#include "sys_shmdb.h"

static pid_t daemon_pid;
static char sock[256];
static char left_behind[1024]; /* what to say if interrupted with --socket */
static char lock_path[300];   /* the lock file of the daemon it started */
static shmdb *db;

/* The tables this run made (named before they are made, so that an
 * interrupted guest names every table it may leave), dropped by stop()
 * with --socket. */
#define MAX_TABLES 4
static struct made_table {
	char name[64];
	shmdb_table id; /* 0 until made */
} made[MAX_TABLES];
static int nmade;

/* The records of the main workloads and the pinned-overwrite runs. */
static const char *table_name = made[0].name;
static shmdb_table table;
/* The ordered workloads': the same records in a hash table and in an
 * ordered one, and the multimap. */
static shmdb_table hash_t, ord_t, multi_t;
static const char *hash_name = made[0].name, *ord_name = made[1].name, *multi_name = made[2].name;

static int fail(const char *what, int err)
{
	fprintf(stderr, "shmdb-bench: shmdb: %s: %s\n", what, shmdb_strerror(err));
	return -1;
}

/* Start a daemon with arenas of `mib` MiB. */
static int start_daemon(const struct bench_params *p, uint64_t mib)
{
	char cpu[16], arena[32];
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
		/* Memory only: the peers of these workloads do not sync either;
		 * the durable workloads start their own. */
		/* The default idle strategy: the server cpu is not the
		 * writer's alone here (a reader, a committer, redis-server run
		 * there too); the idle workloads compare the policies. */
		execl(p->shmdbd, p->shmdbd, "--socket", sock, "--arena-size", arena, "--writer-cpu", cpu,
		      "--durability", "none", (char *)NULL);
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

/* The daemon of a run: one started with arenas of `mib` MiB, or with
 * --socket the one serving there; db attached to it. */
static int attach(const struct bench_params *p, uint64_t mib)
{
	if (p->socket) {
		if (strlen(p->socket) >= sizeof(sock)) {
			fprintf(stderr, "shmdb-bench: --socket: path too long\n");
			return -1;
		}
		strcpy(sock, p->socket);
	} else if (start_daemon(p, mib)) {
		return -1;
	}
	int e = shmdb_open(sock, &db);
	return e ? fail(sock, e) : 0;
}

/* Say, for an interrupted guest, how to drop each table it may leave. */
static void say_left_behind(void)
{
	size_t at = 0;
	if (nmade == 1) {
		snprintf(left_behind, sizeof(left_behind),
			 "shmdb-bench: interrupted; its table is left in the store: "
			 "shmdb --socket %s drop %s\n", sock, made[0].name);
		return;
	}
	at = (size_t)snprintf(left_behind, sizeof(left_behind),
			      "shmdb-bench: interrupted; its tables are left in the store:\n");
	for (int i = 0; i < nmade && at < sizeof(left_behind); i++)
		at += (size_t)snprintf(left_behind + at, sizeof(left_behind) - at,
				       "  shmdb --socket %s drop %s\n", sock, made[i].name);
}

/* Name the next table this run makes shmdb-bench-<pid><suffix>: a table of
 * its own, never one that was there before. 0 or -1. */
static int make_table_name(const char *suffix)
{
	shmdb_table t;
	if (nmade == MAX_TABLES)
		return -1;
	struct made_table *m = &made[nmade];
	snprintf(m->name, sizeof(m->name), "shmdb-bench-%d%s", (int)getpid(), suffix);
	m->id = 0;
	nmade++;
	say_left_behind();
	if (!shmdb_table_open(db, m->name, 0, &t)) {
		fprintf(stderr, "shmdb-bench: %s already has a table %s\n", sock, m->name);
		nmade--;
		say_left_behind();
		return -1;
	}
	return 0;
}

/* Make the table shmdb-bench-<pid><suffix> of kind `flags`. */
static int make_table(const char *suffix, int flags, shmdb_table *t)
{
	if (make_table_name(suffix))
		return -1;
	struct made_table *m = &made[nmade - 1];
	int e = shmdb_table_open(db, m->name, SHMDB_CREATE | flags, t);
	if (e)
		return fail(m->name, e);
	m->id = *t;
	return 0;
}

shmdb *bench_shmdb_attach(const struct bench_params *p, uint64_t mib)
{
	return attach(p, mib) ? NULL : db;
}

int bench_shmdb_rows_table(const char *suffix, const shmdb_column *cols, unsigned ncols,
			   shmdb_table *t)
{
	if (make_table_name(suffix))
		return -1;
	int e = shmdb_table_create_rows(db, made[nmade - 1].name, cols, ncols, 0, t);
	if (e)
		return fail(made[nmade - 1].name, e);
	made[nmade - 1].id = *t;
	return 0;
}

const char *bench_shmdb_socket(void)
{
	return sock;
}

int bench_shmdb_submit(struct bench_inflight *f, shmdb_wtxn *w)
{
	int e = shmdb_commit_async(w, &f->ticket[f->txns % BENCH_LOAD_IN_FLIGHT]);
	if (e)
		return e;
	if (++f->txns - f->waited < BENCH_LOAD_IN_FLIGHT)
		return 0;
	return shmdb_wait(db, f->ticket[f->waited++ % BENCH_LOAD_IN_FLIGHT], NULL);
}

int bench_shmdb_drain(struct bench_inflight *f, int err)
{
	while (f->waited < f->txns) {
		int e = shmdb_wait(db, f->ticket[f->waited++ % BENCH_LOAD_IN_FLIGHT], NULL);
		err = err ? err : e;
	}
	return err;
}

/* Load n records into t in 1,000-put transactions (bench_shmdb_submit),
 * record j under the key of record j % keys with a value of vlen bytes
 * starting with j: 0 and the records per second in *rps (until the last
 * transaction is applied), or -1. */
static int load_records(shmdb_table t, uint64_t n, uint64_t keys, uint32_t vlen, double *rps)
{
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	struct bench_inflight f = { 0 };
	int e = 0;
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < n && !e; i += 1000) {
		shmdb_wtxn *w;
		if ((e = shmdb_write_begin(db, &w)))
			break;
		for (uint64_t j = i; j < i + 1000 && j < n && !e; j++) {
			bench_key(key, j % keys);
			bench_value(val, j, vlen);
			e = shmdb_put(w, t, key, BENCH_KEY_LEN, val, vlen);
		}
		if (e)
			shmdb_abort(w);
		else
			e = bench_shmdb_submit(&f, w);
	}
	if ((e = bench_shmdb_drain(&f, e)))
		return fail("bulk load", e);
	*rps = (double)n / ((double)(bench_now_ns() - start) / 1e9);
	return 0;
}

static int load(const struct bench_params *p, struct bench_result *r)
{
	/* Versions of ~160 bytes plus the index, and room for the commits. */
	if (attach(p, (p->records + p->commits) * (p->val_len + 128) * 2 / (1 << 20) + 64) ||
	    make_table("", 0, &table))
		return -1;
	if (p->socket) {
		shmdb_info info;
		if (!shmdb_info_get(db, &info))
			printf("  shmdbd at %s: writer on cpu %d; records in table %s\n", sock,
			       info.writer_cpu, table_name);
	}
	if (load_records(table, p->records, p->records, p->val_len, &r->load_rps))
		return -1;
	bench_shmdb_wait_for_gathering();
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
		if (p->socket && nmade)
			(void)!write(STDERR_FILENO, left_behind, strlen(left_behind));
	} else {
		for (int i = 0; p->socket && i < nmade; i++)
			if (made[i].id && shmdb_table_drop(db, made[i].name))
				fprintf(stderr, "shmdb-bench: could not drop its table: shmdb --socket %s "
					"drop %s\n", sock, made[i].name);
		shmdb_close(db);
		db = NULL;
		nmade = 0;
		table = hash_t = ord_t = multi_t = 0;
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

/* ---- the ordered workloads ------------------------------------------------ */

/* Table t's arena bytes (shmdb_tables) per record, as of now. */
static double bytes_per_record(shmdb_table t)
{
	size_t n = 0;
	shmdb_rtxn *r;
	double per = -1;
	shmdb_table_info *all = calloc(SHMDB_MAX_TABLES, sizeof(*all));
	if (all && !shmdb_read_begin(db, &r)) {
		if (!shmdb_tables(r, all, SHMDB_MAX_TABLES, &n))
			for (size_t i = 0; i < n && i < SHMDB_MAX_TABLES; i++)
				if (all[i].id == t && all[i].count)
					per = (double)all[i].bytes / (double)all[i].count;
		shmdb_read_end(r);
	}
	free(all);
	return per;
}

/* Wait (at most 30 s) until the writer has no pass gathering a table's
 * records under way or due (shmdbd(8)): it starts once the loads leave
 * the writer idle, and the readers should time the tables as they stay.
 * Says how long it took. */
void bench_shmdb_wait_for_gathering(void)
{
	shmdb_stats st;
	uint64_t start = bench_now_ns();
	do {
		if (shmdb_stats_get(db, &st))
			return;
		if (!st.gathering)
			break;
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	} while (bench_now_ns() - start < 30000000000ull);
	printf("  shmdb: %" PRIu64 " record versions gathered, %.0f ms after the loads%s\n",
	       st.gathered, (double)(bench_now_ns() - start) / 1e6,
	       st.gathering ? " (still going)" : "");
}

static int ordered_load(const struct bench_params *p, struct bench_ordered *o)
{
	/* Three tables of the records' size (a hash table, an ordered one and
	 * the multimap) with their indexes and trees, and room for the commits
	 * (overwrites and inserts into two of them). */
	uint64_t mib = (3 * p->records + 4 * p->commits) * (p->val_len + 160) * 3 / 2 / (1 << 20) + 64;
	if (attach(p, mib) || make_table("-hash", 0, &hash_t) ||
	    make_table("-ordered", SHMDB_ORDERED, &ord_t) ||
	    make_table("-multi", SHMDB_ORDERED | SHMDB_MULTI, &multi_t))
		return -1;
	if (p->socket) {
		shmdb_info info;
		if (!shmdb_info_get(db, &info))
			printf("  shmdbd at %s: writer on cpu %d; ordered records in tables %s %s %s\n",
			       sock, info.writer_cpu, hash_name, ord_name, multi_name);
	}
	uint64_t mkeys = bench_multi_keys(p);
	if (load_records(hash_t, p->records, p->records, p->val_len, &o->hash_load_rps) ||
	    load_records(ord_t, p->records, p->records, p->val_len, &o->load_rps) ||
	    load_records(multi_t, p->records, mkeys, bench_multi_val_len(p), &o->multi_load_rps))
		return -1;
	bench_shmdb_wait_for_gathering();
	o->hash_bytes_per_rec = bytes_per_record(hash_t);
	o->bytes_per_rec = bytes_per_record(ord_t);
	o->multi_bytes_per_pair = bytes_per_record(multi_t);
	o->tree_bytes_per_rec = -1;
	if (o->hash_bytes_per_rec < 0 || o->bytes_per_rec < 0 || o->multi_bytes_per_pair < 0) {
		fprintf(stderr, "shmdb-bench: shmdb: shmdb_tables does not list the loaded tables\n");
		return -1;
	}
	return 0;
}

/* Whether the record (k, v) is not one the run loaded: a record's key is
 * that of the record its value starts with. */
static inline int wrong_record(const shmdb_val *k, const shmdb_val *v, uint32_t vlen)
{
	return k->len != BENCH_KEY_LEN || v->len != vlen ||
	       bench_value_index(v->data) != bench_key_index(k->data);
}

/* A pass over the ordered table in key order, untimed: every record once,
 * in strictly increasing order, as loaded. Also the warm-up of the timed
 * scan. 0 or -1. */
static int check_order(shmdb_rtxn *txn, shmdb_table t, const struct bench_params *p)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	uint8_t prev[BENCH_KEY_LEN];
	uint64_t n = 0, bad = 0;
	int e = shmdb_cursor_open(txn, t, &c);
	if (e)
		return fail("cursor", e);
	while ((e = shmdb_cursor_next(c, &k, &v)) == 0) {
		bad += wrong_record(&k, &v, p->val_len) ||
		       (n && memcmp(prev, k.data, BENCH_KEY_LEN) >= 0);
		memcpy(prev, k.data, BENCH_KEY_LEN);
		n++;
	}
	shmdb_cursor_close(c);
	if (e != -ENOENT)
		return fail("ordered scan", e);
	if (bad || n != p->records) {
		fprintf(stderr, "shmdb-bench: shmdb: the ordered table reads %" PRIu64 " records, %"
			PRIu64 " of them wrong or out of order\n", n, bad);
		return -1;
	}
	return 0;
}

/* A full scan of t, timed: records per second, or -1 if it read a wrong
 * record or not all of them. */
static double timed_scan(shmdb_rtxn *txn, shmdb_table t, const struct bench_params *p)
{
	shmdb_cursor *c;
	shmdb_val k, v;
	uint64_t n = 0, bad = 0;
	uint64_t start = bench_now_ns();
	if (shmdb_cursor_open(txn, t, &c))
		return -1;
	while (shmdb_cursor_next(c, &k, &v) == 0) {
		bad += wrong_record(&k, &v, p->val_len);
		n++;
	}
	double rps = (double)n / ((double)(bench_now_ns() - start) / 1e9);
	shmdb_cursor_close(c);
	return bad || n != p->records ? -1 : rps;
}

/* Gets of random records from t, each timed into h unless h is NULL, the
 * keys drawn from *rnd: the number that missed or read a wrong value. */
static uint64_t gets(shmdb_rtxn *txn, shmdb_table t, const struct bench_params *p, uint64_t n,
		     uint64_t *rnd, struct hist *h)
{
	uint8_t key[BENCH_KEY_LEN];
	uint64_t bad = 0;
	shmdb_val v;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t j = bench_rand(rnd) % p->records;
		bench_key(key, j);
		if (!h) {
			bad += shmdb_get(txn, t, key, BENCH_KEY_LEN, &v) != 0;
			continue;
		}
		uint64_t t0 = bench_tsc();
		bad += shmdb_get(txn, t, key, BENCH_KEY_LEN, &v) != 0;
		hist_add(h, bench_tsc() - t0);
	}
	return bad;
}

static int ordered_read(const struct bench_params *p, struct bench_ordered *o)
{
	shmdb *mine;
	shmdb_table ht, ot, mt;
	shmdb_rtxn *txn;
	shmdb_cursor *c;
	shmdb_val k, v;
	uint8_t key[BENCH_KEY_LEN];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), bad = 0;
	const uint64_t seeks = p->gets / 4, ranges = p->gets / BENCH_RANGE + 1;
	const uint64_t mkeys = bench_multi_keys(p), mreads = p->gets / BENCH_MULTI_PER + 1;
	const uint32_t mlen = bench_multi_val_len(p);

	int e = shmdb_open(sock, &mine);
	if (!e)
		e = shmdb_table_open(mine, hash_name, 0, &ht);
	if (!e)
		e = shmdb_table_open(mine, ord_name, SHMDB_ORDERED, &ot);
	if (!e)
		e = shmdb_table_open(mine, multi_name, SHMDB_MULTI, &mt);
	if (!e)
		e = shmdb_read_begin(mine, &txn);
	if (e)
		return fail("ordered reader open", e);
	if (check_order(txn, ot, p))
		return -1;
	o->scan_rps = timed_scan(txn, ot, p);

	/* Seek to a random record's key and read that record. */
	if ((e = shmdb_cursor_open(txn, ot, &c)))
		return fail("cursor", e);
	for (uint64_t n = 0; n < seeks + seeks / 10 + 1000; n++) {
		uint64_t i = bench_rand(&rnd) % p->records;
		bench_key(key, i);
		uint64_t t0 = bench_tsc();
		e = shmdb_cursor_seek(c, key, BENCH_KEY_LEN);
		if (!e)
			e = shmdb_cursor_next(c, &k, &v);
		bad += e || v.len != p->val_len || bench_value_index(v.data) != i;
		if (n >= seeks / 10 + 1000) /* after the warm-up */
			hist_add(&o->seek, bench_tsc() - t0);
	}

	/* Seek, then read BENCH_RANGE records from there (fewer at the end). */
	uint64_t read = 0, start = 0;
	for (uint64_t n = 0; n < ranges + ranges / 10 + 100; n++) {
		if (n == ranges / 10 + 100) { /* after the warm-up */
			read = 0;
			start = bench_now_ns();
		}
		uint64_t i = bench_rand(&rnd) % p->records;
		bench_key(key, i);
		if ((e = shmdb_cursor_seek(c, key, BENCH_KEY_LEN)))
			break;
		for (int r = 0; r < BENCH_RANGE && !(e = shmdb_cursor_next(c, &k, &v)); r++) {
			bad += wrong_record(&k, &v, p->val_len) ||
			       (r == 0 && bench_key_index(k.data) != i);
			read++;
		}
		if (e && e != -ENOENT)
			break;
		e = 0;
	}
	o->range_rps = (double)read / ((double)(bench_now_ns() - start) / 1e9);
	shmdb_cursor_close(c);
	if (e)
		return fail("range", e);

	/* Point gets, the hash table's and the ordered table's in turns of
	 * 4,096 of the same keys, so that both see the same moments of the
	 * host. */
	bad += gets(txn, ht, p, p->gets / 10 + 1000, &rnd, NULL);
	bad += gets(txn, ot, p, p->gets / 10 + 1000, &rnd, NULL);
	for (uint64_t n = 0, turn = 0; n < p->gets; turn++) {
		uint64_t b = p->gets - n < 4096 ? p->gets - n : 4096, again = rnd;
		bad += gets(txn, turn % 2 ? ot : ht, p, b, &rnd, turn % 2 ? &o->get : &o->hash_get);
		rnd = again;
		bad += gets(txn, turn % 2 ? ht : ot, p, b, &rnd, turn % 2 ? &o->hash_get : &o->get);
		n += b;
	}

	/* The multimap: every value of a random key, in order. */
	if ((e = shmdb_cursor_open(txn, mt, &c)))
		return fail("multimap cursor", e);
	read = 0;
	for (uint64_t n = 0; n < mreads + mreads / 10 + 100 && !e; n++) {
		if (n == mreads / 10 + 100) { /* after the warm-up */
			read = 0;
			start = bench_now_ns();
		}
		uint64_t i = bench_rand(&rnd) % mkeys, got = 0, sum = 0;
		bench_key(key, i);
		if ((e = shmdb_cursor_seek(c, key, BENCH_KEY_LEN)))
			break;
		while (!(e = shmdb_cursor_next(c, &k, &v)) && k.len == BENCH_KEY_LEN &&
		       !memcmp(k.data, key, BENCH_KEY_LEN)) {
			bad += v.len != mlen;
			sum += bench_value_index(v.data);
			got++;
		}
		if (e == -ENOENT)
			e = 0;
		bad += bench_multi_wrong(p, i, got, sum);
		read += got;
	}
	o->multi_pps = (double)read / ((double)(bench_now_ns() - start) / 1e9);
	shmdb_cursor_close(c);
	shmdb_read_end(txn);
	shmdb_close(mine);
	if (e)
		return fail("multimap read", e);
	if (bad || o->scan_rps < 0) {
		fprintf(stderr, "shmdb-bench: shmdb: %" PRIu64 " ordered reads missed or read wrong "
			"records%s\n", bad, o->scan_rps < 0 ? "; the timed scan read wrong records" : "");
		return -1;
	}
	return 0;
}

/* 1-put commits, waiting, into the hash and the ordered table in turns of
 * 1,000: first overwrites of loaded records, then inserts of new keys. */
static int ordered_write(const struct bench_params *p, struct bench_ordered *o)
{
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	for (int insert = 0; insert < 2; insert++) {
		for (uint64_t n = 0, turn = 0; n < p->commits; turn++) {
			uint64_t b = p->commits - n < 1000 ? p->commits - n : 1000;
			for (int side = 0; side < 2; side++) {
				int ordered = (int)(turn + (uint64_t)side) % 2;
				shmdb_table t = ordered ? ord_t : hash_t;
				struct hist *h = insert ? (ordered ? &o->insert : &o->hash_insert)
							: (ordered ? &o->commit : &o->hash_commit);
				for (uint64_t i = n; i < n + b; i++) {
					uint64_t j = insert ? p->records + i : i % p->records;
					shmdb_wtxn *w;
					bench_key(key, j);
					bench_value(val, j, p->val_len);
					uint64_t t0 = bench_tsc();
					int e = shmdb_write_begin(db, &w);
					if (!e && (e = shmdb_put(w, t, key, BENCH_KEY_LEN, val, p->val_len)))
						shmdb_abort(w);
					if (!e)
						e = shmdb_commit(w, NULL);
					hist_add(h, bench_tsc() - t0);
					if (e)
						return fail(insert ? "insert" : "commit", e);
				}
			}
			n += b;
		}
	}
	return 0;
}

const struct bench_system bench_shmdb = {
	.name = "shmdb", .load = load, .read = read_side, .write = write_side, .stop = stop,
	.reader_open = side_open, .reader_get = reader_get,
	.writer_open = side_open, .writer_put = writer_put, .overwrite = overwrite,
	.ordered_load = ordered_load, .ordered_read = ordered_read, .ordered_write = ordered_write,
	.rows_load = bench_shmdb_rows_load, .rows_read = bench_shmdb_rows_read,
	.rows_write = bench_shmdb_rows_write,
};
