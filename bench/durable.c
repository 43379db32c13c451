/*
 * durable.c - shmdb-bench --durable-only: what durability costs, against
 * LMDB with its durable commit (mdb_txn_commit syncs: no MDB_NOSYNC) and
 * SQLite in WAL mode with synchronous=FULL, each on a directory of the
 * same file system (under /var/tmp), in the same run.
 *
 *   sync-commit      1-put commit latency, one committer
 *   sync-8proc       1-put commits/s from 8 committing processes
 *   async-commit     1-put commit latency, async against none
 *   async-bulk       1,000-put transactions, records/s, async against none
 *   restart          1,000,000 records checkpointed + 100,000 logged
 *                    transactions: stop, start, time to serving
 *   ckpt-get         get p99 of a reader while checkpoints are written
 *
 * Each shmdb figure comes from a daemon of its own, started here on a data
 * dir of its own; nothing is asserted, figures and ratios are printed.
 */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json_out.h"
#include "shmdb.h"

#define BASE "/var/tmp"

struct daemon {
	pid_t pid;
	char dir[64], sock[96];
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(size_t)((double)(n - 1) * p)];
}

/* Start shmdbd in `mode` on the data dir d->dir (kept if it exists). */
static int daemon_start(const struct bench_params *p, struct daemon *d, const char *mode)
{
	snprintf(d->sock, sizeof(d->sock), "%s.sock", d->dir);
	d->pid = fork();
	if (d->pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDERR_FILENO);
		execl(p->shmdbd, "shmdbd", "--socket", d->sock, "--data-dir", d->dir, "--durability",
		      mode, "--arena-size", "2G", "--writer-cpu", "1", "--writer-idle-us", "200",
		      (char *)NULL);
		_exit(127);
	}
	uint64_t until = bench_now_ns() + 60000000000ull;
	while (bench_now_ns() < until) {
		shmdb *db;
		if (!shmdb_open(d->sock, &db)) {
			shmdb_close(db);
			return 0;
		}
		usleep(2000);
	}
	fprintf(stderr, "shmdb-bench: shmdbd on %s did not start\n", d->dir);
	return -1;
}

static void daemon_stop(struct daemon *d)
{
	kill(d->pid, SIGTERM);
	waitpid(d->pid, NULL, 0);
}

static void rm_rf(const char *dir)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.sock'", dir, dir);
	if (system(cmd))
		fprintf(stderr, "shmdb-bench: %s failed\n", cmd);
}

static void new_dir(char *dir, size_t cap, const char *what)
{
	snprintf(dir, cap, BASE "/shmdb-bench-%s-XXXXXX", what);
	if (!mkdtemp(dir))
		perror("mkdtemp");
}

/* The page kind of the daemons' arenas (they all have the same), for the
 * restart line: populating 2 GiB of 4 KiB pages is most of a start. */
static const char *arena_pages = "?";

/* n 1-put commits on a fresh daemon in `mode`: latencies into lat[]. */
static int shmdb_commits(const struct bench_params *p, const char *mode, uint64_t *lat, size_t n,
			 int bulk)
{
	struct daemon d;
	new_dir(d.dir, sizeof(d.dir), mode);
	if (daemon_start(p, &d, mode))
		return -1;
	shmdb *db;
	shmdb_table t;
	int e = shmdb_open(d.sock, &db);
	if (!e)
		e = shmdb_table_open(db, "t", SHMDB_CREATE, &t);
	shmdb_arena_info ai;
	if (!e && !shmdb_arena_info_get(db, 0, &ai))
		arena_pages = shmdb_page_kind_name(ai.page_kind);
	char val[100];
	memset(val, 'v', sizeof(val));
	for (size_t i = 0; !e && i < n; i++) {
		shmdb_wtxn *w;
		uint64_t t0 = bench_now_ns();
		e = shmdb_write_begin(db, &w);
		for (int j = 0; !e && j < (bulk ? bulk : 1); j++) {
			char k[24];
			int kl = snprintf(k, sizeof(k), "k%012zu", i * (size_t)(bulk ? bulk : 1) + (size_t)j);
			e = shmdb_put(w, t, k, (size_t)kl, val, sizeof(val));
		}
		if (!e)
			e = shmdb_commit(w, NULL);
		lat[i] = bench_now_ns() - t0;
	}
	if (e)
		fprintf(stderr, "shmdb-bench: %s commits: %s\n", mode, shmdb_strerror(e));
	shmdb_close(db);
	daemon_stop(&d);
	rm_rf(d.dir);
	return e ? -1 : 0;
}

/* LMDB, durable: n 1-put commits into lat[] (or, with procs > 1, as many
 * as procs processes make in `secs`: the count). */
static uint64_t lmdb_commits(uint64_t *lat, size_t n, int procs, double secs)
{
	char dir[64];
	new_dir(dir, sizeof(dir), "lmdb");
	MDB_env *env;
	mdb_env_create(&env);
	mdb_env_set_mapsize(env, 1ull << 30);
	if (mdb_env_open(env, dir, 0, 0644)) {
		fprintf(stderr, "shmdb-bench: lmdb open failed\n");
		return 0;
	}
	mdb_env_close(env);
	uint64_t *count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*count = 0;
	for (int c = 0; c < procs; c++) {
		pid_t pid = procs > 1 ? fork() : 0;
		if (pid)
			continue;
		mdb_env_create(&env);
		mdb_env_set_mapsize(env, 1ull << 30);
		mdb_env_open(env, dir, 0, 0644);
		MDB_dbi dbi;
		MDB_txn *txn;
		mdb_txn_begin(env, NULL, 0, &txn);
		mdb_dbi_open(txn, NULL, 0, &dbi);
		mdb_txn_commit(txn);
		char val[100], k[24];
		memset(val, 'v', sizeof(val));
		uint64_t until = bench_now_ns() + (uint64_t)(secs * 1e9), done = 0;
		for (size_t i = 0; procs > 1 ? bench_now_ns() < until : i < n; i++) {
			uint64_t t0 = bench_now_ns();
			int kl = snprintf(k, sizeof(k), "k%d-%012zu", c, i);
			MDB_val mk = { (size_t)kl, k }, mv = { sizeof(val), val };
			mdb_txn_begin(env, NULL, 0, &txn);
			mdb_put(txn, dbi, &mk, &mv, 0);
			mdb_txn_commit(txn);
			if (procs == 1)
				lat[i] = bench_now_ns() - t0;
			done++;
		}
		__atomic_fetch_add(count, done, __ATOMIC_RELAXED);
		mdb_env_close(env);
		if (procs > 1)
			_exit(0);
	}
	while (procs > 1 && wait(NULL) > 0)
		;
	uint64_t total = *count;
	munmap(count, 4096);
	rm_rf(dir);
	return total;
}

static int sqlite_commits(uint64_t *lat, size_t n)
{
	char dir[64], path[96];
	new_dir(dir, sizeof(dir), "sqlite");
	snprintf(path, sizeof(path), "%s/db", dir);
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open(path, &db) ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE t(k "
			     "TEXT PRIMARY KEY, v BLOB);", NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO t VALUES(?, ?)", -1, &st, NULL))
		return -1;
	char val[100], k[24];
	memset(val, 'v', sizeof(val));
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns();
		int kl = snprintf(k, sizeof(k), "k%012zu", i);
		sqlite3_bind_text(st, 1, k, kl, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, val, sizeof(val), SQLITE_STATIC);
		sqlite3_step(st); /* (autocommit: one durable transaction) */
		sqlite3_reset(st);
		lat[i] = bench_now_ns() - t0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	rm_rf(dir);
	return 0;
}

/* 8 processes committing 1-put transactions for `secs` on a sync daemon. */
static uint64_t shmdb_procs(const struct bench_params *p, int procs, double secs)
{
	struct daemon d;
	new_dir(d.dir, sizeof(d.dir), "sync8");
	if (daemon_start(p, &d, "sync"))
		return 0;
	uint64_t *count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*count = 0;
	pid_t kids[64];
	for (int c = 0; c < procs; c++) {
		if ((kids[c] = fork()))
			continue;
		shmdb *db;
		shmdb_table t;
		if (shmdb_open(d.sock, &db) || shmdb_table_open(db, "t", SHMDB_CREATE, &t))
			_exit(1);
		char val[100], k[24];
		memset(val, 'v', sizeof(val));
		uint64_t until = bench_now_ns() + (uint64_t)(secs * 1e9), done = 0;
		for (size_t i = 0; bench_now_ns() < until; i++) {
			shmdb_wtxn *w;
			int kl = snprintf(k, sizeof(k), "k%d-%012zu", c, i);
			if (shmdb_write_begin(db, &w) || shmdb_put(w, t, k, (size_t)kl, val, sizeof(val)) ||
			    shmdb_commit(w, NULL))
				_exit(1);
			done++;
		}
		__atomic_fetch_add(count, done, __ATOMIC_RELAXED);
		_exit(0);
	}
	for (int c = 0; c < procs; c++) /* (not wait(): the daemon is a child too) */
		waitpid(kids[c], NULL, 0);
	uint64_t total = *count;
	munmap(count, 4096);
	daemon_stop(&d);
	rm_rf(d.dir);
	return total;
}

/* Put keys from..to-1 (100-byte values) in transactions of `batch`. */
static int put_range(shmdb *db, shmdb_table t, uint64_t from, uint64_t to, uint64_t batch)
{
	char val[100], k[24];
	memset(val, 'v', sizeof(val));
	int e = 0;
	for (uint64_t i = from; !e && i < to;) {
		shmdb_wtxn *w;
		if ((e = shmdb_write_begin(db, &w)))
			break;
		for (uint64_t j = 0; !e && j < batch && i < to; j++, i++) {
			int kl = snprintf(k, sizeof(k), "k%012" PRIu64, i);
			e = shmdb_put(w, t, k, (size_t)kl, val, sizeof(val));
		}
		if (e)
			shmdb_abort(w);
		else
			e = shmdb_commit(w, NULL);
	}
	return e;
}

/* Load `records`, checkpoint, `logged` 1-put commits; stop; time a start. */
static double restart_secs(const struct bench_params *p, uint64_t records, uint64_t logged)
{
	struct daemon d;
	new_dir(d.dir, sizeof(d.dir), "restart");
	if (daemon_start(p, &d, "async"))
		return -1;
	shmdb *db;
	shmdb_table t;
	int e = shmdb_open(d.sock, &db);
	if (!e)
		e = shmdb_table_open(db, "t", SHMDB_CREATE, &t);
	if (!e)
		e = put_range(db, t, 0, records, 1000);
	if (!e)
		e = shmdb_checkpoint(db, 120000);
	if (!e)
		e = put_range(db, t, records, records + logged, 1);
	if (!e)
		e = shmdb_sync(db);
	shmdb_close(db);
	daemon_stop(&d);
	double s = -1;
	if (!e) {
		uint64_t t0 = bench_now_ns();
		if (!daemon_start(p, &d, "async")) {
			s = (double)(bench_now_ns() - t0) / 1e9;
			daemon_stop(&d);
		}
	} else {
		fprintf(stderr, "shmdb-bench: restart load: %s\n", shmdb_strerror(e));
	}
	rm_rf(d.dir);
	return s;
}

/* Random gets for `secs` (p99 in ns); with ckpt, another process has
 * checkpoints written one after another meanwhile. */
static uint64_t gets_p99(const struct daemon *d, shmdb *db, shmdb_table t, uint64_t records,
			 double secs, int ckpt, unsigned *written)
{
	pid_t pid = 0;
	unsigned *count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	*count = 0;
	if (ckpt && !(pid = fork())) {
		shmdb *c;
		shmdb_table ct;
		if (shmdb_open(d->sock, &c) || shmdb_table_open(c, "t", 0, &ct))
			_exit(1);
		char val[100];
		memset(val, 'w', sizeof(val));
		for (uint64_t i = 0;; i++) { /* a commit, so that each checkpoint has work */
			shmdb_wtxn *w;
			char k[24];
			int kl = snprintf(k, sizeof(k), "k%012" PRIu64, i % records);
			if (shmdb_write_begin(c, &w) || shmdb_put(w, ct, k, (size_t)kl, val, 100) ||
			    shmdb_commit(w, NULL) || shmdb_checkpoint(c, 120000))
				_exit(1);
			__atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
		}
	}
	size_t cap = 4000000, n = 0;
	uint64_t *lat = malloc(cap * sizeof(*lat));
	uint64_t until = bench_now_ns() + (uint64_t)(secs * 1e9), x = 88172645463325252ull;
	while (n < cap && bench_now_ns() < until) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		char k[24];
		int kl = snprintf(k, sizeof(k), "k%012" PRIu64, x % records);
		shmdb_rtxn *r;
		shmdb_val v;
		uint64_t t0 = bench_now_ns();
		shmdb_read_begin(db, &r);
		shmdb_get(r, t, k, (size_t)kl, &v);
		shmdb_read_end(r);
		lat[n++] = bench_now_ns() - t0;
	}
	if (pid) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	*written = *count;
	munmap(count, 4096);
	uint64_t p99 = pct(lat, n, 0.99);
	free(lat);
	return p99;
}

/* The figures so far, for --json (NULL without it). */
static cJSON *figures;

static void line(const char *what, double ours, double peer, const char *peer_name,
		 const char *unit, double ratio, const char *target)
{
	printf("  %-34s %12.1f %-5s %-22s %12.1f %-5s  %6.2fx  (target %s)\n", what, ours, unit,
	       peer_name, peer, unit, ratio, target);
	if (!figures)
		return;
	cJSON *o = json_figure(figures, what, unit);
	json_number(o, "shmdb", ours);
	cJSON_AddStringToObject(o, "peer", peer_name);
	json_number(o, "peer_value", peer);
	json_number(o, "ratio", ratio);
	cJSON_AddStringToObject(o, "target", target);
}

int bench_durable(const struct bench_params *p, int quick)
{
	size_t n = quick ? 200 : 2000, nasync = quick ? 2000 : 20000;
	double secs = quick ? 0.5 : 2.0;
	uint64_t *a = malloc(nasync * sizeof(*a)), *b = malloc(nasync * sizeof(*b));
	int failed = 0;
	cJSON *root = p->json ? cJSON_CreateObject() : NULL;
	if (root) {
		cJSON *o = cJSON_AddObjectToObject(root, "durable");
		cJSON_AddStringToObject(o, "data_dirs_under", BASE);
		figures = cJSON_AddArrayToObject(o, "figures");
	}
	printf("durable workloads: data dirs under " BASE " (the same file system for all)\n");
	printf("  %-34s %18s %-22s %18s  %7s\n", "workload", "shmdb", "peer", "", "ratio");

	if (shmdb_commits(p, "sync", a, n, 0) || !lmdb_commits(b, n, 1, 0)) {
		failed = 1;
	} else {
		double s50 = (double)pct(a, n, 0.5) / 1e3, l50 = (double)pct(b, n, 0.5) / 1e3;
		double s99 = (double)pct(a, n, 0.99) / 1e3, l99 = (double)pct(b, n, 0.99) / 1e3;
		line("sync 1-put commit p50", s50, l50, "LMDB durable", "us", s50 / l50, "<= 1x");
		line("sync 1-put commit p99", s99, l99, "LMDB durable", "us", s99 / l99, "-");
		if (!sqlite_commits(b, n)) {
			double q50 = (double)pct(b, n, 0.5) / 1e3;
			line("sync 1-put commit p50", s50, q50, "SQLite WAL FULL", "us", s50 / q50, "-");
		}
	}
	uint64_t s8 = shmdb_procs(p, 8, secs), l8 = lmdb_commits(NULL, 0, 8, secs);
	if (s8 && l8)
		line("sync 8 processes commits/s", (double)s8 / secs, (double)l8 / secs,
		     "LMDB durable", "/s", (double)s8 / (double)l8, ">= 5x");
	else
		failed = 1;
	if (shmdb_commits(p, "async", a, nasync, 0) || shmdb_commits(p, "none", b, nasync, 0)) {
		failed = 1;
	} else {
		double x = (double)pct(a, nasync, 0.5), y = (double)pct(b, nasync, 0.5);
		line("async 1-put commit p50", x, y, "shmdb none", "ns", x / y, "<= 1.2x");
	}
	size_t bulk = quick ? 50 : 500;
	if (shmdb_commits(p, "async", a, bulk, 1000) || shmdb_commits(p, "none", b, bulk, 1000)) {
		failed = 1;
	} else {
		double x = 0, y = 0;
		for (size_t i = 0; i < bulk; i++)
			x += (double)a[i], y += (double)b[i];
		double rx = (double)bulk * 1000 / (x / 1e9), ry = (double)bulk * 1000 / (y / 1e9);
		line("async bulk 1000-put txns, records/s", rx, ry, "shmdb none", "/s", rx / ry,
		     ">= 0.8x");
	}
	uint64_t records = quick ? 50000 : 1000000, logged = quick ? 5000 : 100000;
	double rs = restart_secs(p, records, logged);
	if (rs > 0) {
		printf("  %-34s %12.2f s     %.0f records/s (%" PRIu64 " checkpointed + %" PRIu64
		       " logged, a 2 GiB arena of %s pages; target >= 2,000,000 records/s)\n",
		       "restart to serving", rs, (double)(records + logged) / rs, records, logged,
		       arena_pages);
		if (figures) {
			cJSON *o = json_figure(figures, "restart to serving", "records/s");
			json_number(o, "shmdb", (double)(records + logged) / rs);
			json_number(o, "seconds", rs);
			json_number(o, "checkpointed", (double)records);
			json_number(o, "logged", (double)logged);
			cJSON_AddStringToObject(o, "arena_pages", arena_pages);
			cJSON_AddStringToObject(o, "target", ">= 2,000,000 records/s");
		}
	} else {
		failed = 1;
	}
	struct daemon d;
	new_dir(d.dir, sizeof(d.dir), "ckpt");
	if (!daemon_start(p, &d, "async")) {
		shmdb *db;
		shmdb_table t;
		int e = shmdb_open(d.sock, &db);
		if (!e)
			e = shmdb_table_open(db, "t", SHMDB_CREATE, &t);
		if (!e)
			e = put_range(db, t, 0, records, 1000);
		if (!e) {
			unsigned none, made;
			bench_pin(p->client_cpu);
			uint64_t quiet = gets_p99(&d, db, t, records, secs, 0, &none);
			uint64_t busy = gets_p99(&d, db, t, records, secs, 1, &made);
			char what[64];
			snprintf(what, sizeof(what), "get p99, %u checkpoints written", made);
			line(what, (double)busy, (double)quiet, "no checkpoint", "ns",
			     (double)busy / (double)quiet, "<= 1.1x");
		} else {
			failed = 1;
		}
		shmdb_close(db);
		daemon_stop(&d);
	} else {
		failed = 1;
	}
	rm_rf(d.dir);
	free(a);
	free(b);
	figures = NULL;
	if (root && json_write_file(p->json, root))
		failed = 1;
	return failed;
}
