/*
 * idle.c - shmdb-bench --idle-only: the writer's idle strategies
 * (--writer-idle spin, backoff, sleep), each on a daemon of its own
 * started here (memory only, 1 GiB arena, writer on the server cpu).
 *
 *   paced    one client on the client cpu commits 1-put transactions spaced
 *            evenly at 1,000, 10,000 and 50,000 a second (it waits for each
 *            slot polling the clock): commit p50 and p99, and the cpu time
 *            the daemon's threads used per second of wall time (the sum of
 *            /proc/PID/task/∗/schedstat, in nanoseconds);
 *   idle     the daemon's cpu per second with a client attached and idle;
 *   mixed    two client processes, one on each cpu (the writer shares the
 *            server cpu with one of them), each a loop of gets (a snapshot
 *            and one get) and 1-put commits over zipfian keys (YCSB's
 *            generator, constant 0.99, the ranks scrambled by FNV-1a as
 *            YCSB's ScrambledZipfian does) of a preloaded table, 95/5 and
 *            50/50; operations per second of both, for shmdb under each
 *            policy and for LMDB (/dev/shm, MDB_NOSYNC | MDB_WRITEMAP, a
 *            reset/renewed read transaction per get), in the same run.
 *
 * Nothing is asserted: figures and ratios are printed, with the targets.
 */
#include "idle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json_out.h"
#include "shmdb.h"

#define POLICIES 3
#define VALUE_LEN 100
#define ZIPF_THETA 0.99

static const char *const policy_name[POLICIES] = { "spin", "backoff", "sleep" };
static const int rates[] = { 1000, 10000, 50000 };
#define NRATES 3

struct daemon {
	pid_t pid;
	char sock[160];
};

static char sock_dir[64];

static int daemon_start(const struct bench_params *p, struct daemon *d, const char *policy)
{
	char cpu[16];
	snprintf(cpu, sizeof(cpu), "%d", p->server_cpu);
	snprintf(d->sock, sizeof(d->sock), "%s/idle-%s.sock", sock_dir, policy);
	d->pid = fork();
	if (d->pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDERR_FILENO);
		execl(p->shmdbd, "shmdbd", "--socket", d->sock, "--config", "/dev/null",
		      "--durability", "none", "--arena-size", "1G", "--writer-cpu", cpu,
		      "--writer-idle", policy, (char *)NULL);
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
	fprintf(stderr, "shmdb-bench: shmdbd --writer-idle %s did not start\n", policy);
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	return -1;
}

static void daemon_stop(struct daemon *d)
{
	kill(d->pid, SIGTERM);
	waitpid(d->pid, NULL, 0);
}

/* CPU time of every thread of pid, in nanoseconds (schedstat's first field). */
static uint64_t proc_cpu_ns(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	uint64_t sum = 0;
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		char f[300];
		snprintf(f, sizeof(f), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		FILE *in = fopen(f, "r");
		unsigned long long ns;
		if (in && fscanf(in, "%llu", &ns) == 1)
			sum += ns;
		if (in)
			fclose(in);
	}
	if (dir)
		closedir(dir);
	return sum;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- zipfian keys (YCSB's ZipfianGenerator, scrambled) ---------------------- */

struct zipf {
	uint64_t n;
	double theta, alpha, zetan, eta, half_pow;
};

static void zipf_init(struct zipf *z, uint64_t n, double theta)
{
	double zetan = 0, zeta2 = 1.0 + pow(0.5, theta);
	for (uint64_t i = 1; i <= n; i++)
		zetan += 1.0 / pow((double)i, theta);
	*z = (struct zipf){ .n = n, .theta = theta, .alpha = 1.0 / (1.0 - theta), .zetan = zetan,
			    .eta = (1.0 - pow(2.0 / (double)n, 1.0 - theta)) / (1.0 - zeta2 / zetan),
			    .half_pow = 1.0 + pow(0.5, theta) };
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static uint64_t fnv1a(uint64_t v)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 0x100000001b3ull;
	return h;
}

/* A key index in [0, n): zipfian rank, scrambled over the key space. */
static uint64_t zipf_next(const struct zipf *z, uint64_t *rng)
{
	double u = rng_unit(rng), uz = u * z->zetan;
	uint64_t rank = uz < 1.0 ? 0 : uz < z->half_pow ? 1
		      : (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha));
	return fnv1a(rank) % z->n;
}

/* ---- paced commits and the idle daemon ------------------------------------ */

struct paced {
	uint64_t p50, p99;
	double cpu; /* daemon cpu-seconds per second */
};

/* `rate` 1-put commits a second, evenly spaced, for `secs` (after a
 * quarter second of the same as warm-up): latencies and the daemon's cpu. */
static int paced_run(const struct bench_params *p, const struct daemon *d, int rate, double secs,
		     struct paced *out)
{
	shmdb *db;
	shmdb_table t;
	if (shmdb_open(d->sock, &db) || shmdb_table_open(db, "paced", SHMDB_CREATE, &t))
		return -1;
	size_t n = (size_t)(rate * secs), warm = (size_t)(rate / 4);
	uint64_t *lat = malloc(n * sizeof(*lat));
	char val[VALUE_LEN];
	memset(val, 'p', sizeof(val));
	uint64_t period = 1000000000ull / (uint64_t)rate, cpu0 = 0, start = bench_now_ns();
	int err = 0;
	for (size_t i = 0; i < warm + n && !err; i++) {
		if (i == warm) {
			start = bench_now_ns();
			cpu0 = proc_cpu_ns(d->pid);
		}
		uint64_t slot = start + (i >= warm ? (i - warm) : i) * period;
		while (bench_now_ns() < slot)
			;
		uint8_t key[BENCH_KEY_LEN];
		bench_key(key, i % 1000);
		uint64_t t0 = bench_now_ns();
		shmdb_wtxn *w;
		err = shmdb_write_begin(db, &w);
		if (!err)
			err = shmdb_put(w, t, key, sizeof(key), val, sizeof(val));
		if (!err)
			err = shmdb_commit(w, NULL);
		if (i >= warm)
			lat[i - warm] = bench_now_ns() - t0;
	}
	uint64_t wall = bench_now_ns() - start, cpu = proc_cpu_ns(d->pid) - cpu0;
	shmdb_close(db);
	if (!err) {
		qsort(lat, n, sizeof(*lat), cmp_u64);
		*out = (struct paced){ lat[n / 2], lat[(size_t)((double)(n - 1) * 0.99)],
				       (double)cpu / (double)wall };
	}
	free(lat);
	(void)p;
	return err ? -1 : 0;
}

/* The daemon's cpu per second with one client attached, doing nothing. */
static double idle_cpu(const struct daemon *d, double secs)
{
	shmdb *db;
	if (shmdb_open(d->sock, &db))
		return -1;
	usleep(200000);
	uint64_t t0 = bench_now_ns(), c0 = proc_cpu_ns(d->pid);
	usleep((useconds_t)(secs * 1e6));
	double cpu = (double)(proc_cpu_ns(d->pid) - c0) / (double)(bench_now_ns() - t0);
	shmdb_close(db);
	return cpu;
}

/* ---- the mixed workload ----------------------------------------------------- */

struct mixed_shared {
	uint32_t ready;
	uint64_t ops[2];
	int err[2];
};

/* One client's loop: for `secs`, get (read_pct %) or 1-put commit over zipf
 * keys. Returns its operations, or -1. */
typedef int64_t mixed_loop_fn(void *ctx, const struct zipf *z, int read_pct, double secs,
			      uint64_t seed, uint32_t *gate);

static void gate_wait(uint32_t *gate)
{
	__atomic_fetch_add(gate, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(gate, __ATOMIC_ACQUIRE) < 2)
		;
}

static int64_t shmdb_loop(void *ctx, const struct zipf *z, int read_pct, double secs,
			  uint64_t seed, uint32_t *gate)
{
	const char *sock = ctx;
	shmdb *db;
	shmdb_table t;
	if (shmdb_open(sock, &db) || shmdb_table_open(db, "mixed", 0, &t))
		return -1;
	char val[VALUE_LEN];
	memset(val, 'm', sizeof(val));
	uint64_t rng = seed, ops = 0;
	int err = 0;
	gate_wait(gate);
	uint64_t until = bench_now_ns() + (uint64_t)(secs * 1e9);
	while (!err && ((ops & 63) || bench_now_ns() < until)) {
		uint8_t key[BENCH_KEY_LEN];
		bench_key(key, zipf_next(z, &rng));
		if ((int)(rng_next(&rng) % 100) < read_pct) {
			shmdb_rtxn *r;
			shmdb_val v;
			err = shmdb_read_begin(db, &r);
			if (!err) {
				err = shmdb_get(r, t, key, sizeof(key), &v);
				shmdb_read_end(r);
			}
		} else {
			shmdb_wtxn *w;
			err = shmdb_write_begin(db, &w);
			if (!err)
				err = shmdb_put(w, t, key, sizeof(key), val, sizeof(val));
			if (!err)
				err = shmdb_commit(w, NULL);
		}
		ops++;
	}
	shmdb_close(db);
	return err ? -1 : (int64_t)ops;
}

static int lmdb_open(const char *path, size_t map, MDB_env **env, MDB_dbi *dbi)
{
	MDB_txn *txn;
	int rc = mdb_env_create(env);
	if (!rc)
		rc = mdb_env_set_mapsize(*env, map);
	if (!rc)
		rc = mdb_env_open(*env, path, MDB_NOSYNC | MDB_WRITEMAP | MDB_NOSUBDIR | MDB_NOTLS,
				  0600);
	if (!rc)
		rc = mdb_txn_begin(*env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, NULL, 0, dbi);
	if (!rc)
		rc = mdb_txn_commit(txn);
	return rc;
}

static int64_t lmdb_loop(void *ctx, const struct zipf *z, int read_pct, double secs,
			 uint64_t seed, uint32_t *gate)
{
	const char *path = ctx;
	MDB_env *env = NULL;
	MDB_dbi dbi;
	MDB_txn *rtxn = NULL, *w;
	if (lmdb_open(path, (size_t)4 << 30, &env, &dbi) ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &rtxn))
		return -1;
	mdb_txn_reset(rtxn);
	char val[VALUE_LEN];
	memset(val, 'm', sizeof(val));
	uint64_t rng = seed, ops = 0;
	int rc = 0;
	gate_wait(gate);
	uint64_t until = bench_now_ns() + (uint64_t)(secs * 1e9);
	while (!rc && ((ops & 63) || bench_now_ns() < until)) {
		uint8_t key[BENCH_KEY_LEN];
		bench_key(key, zipf_next(z, &rng));
		MDB_val k = { sizeof(key), key }, v;
		if ((int)(rng_next(&rng) % 100) < read_pct) {
			rc = mdb_txn_renew(rtxn);
			if (!rc)
				rc = mdb_get(rtxn, dbi, &k, &v);
			mdb_txn_reset(rtxn);
		} else {
			MDB_val nv = { sizeof(val), val };
			rc = mdb_txn_begin(env, NULL, 0, &w);
			if (!rc && (rc = mdb_put(w, dbi, &k, &nv, 0)))
				mdb_txn_abort(w);
			else if (!rc)
				rc = mdb_txn_commit(w);
		}
		ops++;
	}
	mdb_txn_abort(rtxn);
	mdb_env_close(env);
	return rc ? -1 : (int64_t)ops;
}

/* Both clients of the mixed workload, one per cpu: operations per second. */
static double mixed_run(const struct bench_params *p, mixed_loop_fn *loop, void *ctx,
			const struct zipf *z, int read_pct, double secs)
{
	struct mixed_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	memset(sh, 0, sizeof(*sh));
	pid_t pid[2];
	for (int c = 0; c < 2; c++) {
		fflush(stdout);
		if ((pid[c] = fork()) == 0) {
			bench_pin(c == 0 ? p->client_cpu : p->server_cpu);
			int64_t n = loop(ctx, z, read_pct, secs, 0x9e3779b97f4a7c15ull * (uint64_t)(c + 1),
					 &sh->ready);
			sh->ops[c] = n < 0 ? 0 : (uint64_t)n;
			sh->err[c] = n < 0;
			_exit(0);
		}
	}
	for (int c = 0; c < 2; c++)
		waitpid(pid[c], NULL, 0);
	double r = sh->err[0] || sh->err[1] ? -1 : (double)(sh->ops[0] + sh->ops[1]) / secs;
	munmap(sh, sizeof(*sh));
	return r;
}

static int shmdb_preload(const char *sock, uint64_t keys)
{
	shmdb *db;
	shmdb_table t;
	if (shmdb_open(sock, &db) || shmdb_table_open(db, "mixed", SHMDB_CREATE, &t))
		return -1;
	int err = shmdb_table_reserve(db, t, keys);
	char val[VALUE_LEN];
	memset(val, 'm', sizeof(val));
	for (uint64_t i = 0; i < keys && !err; i += 1000) {
		shmdb_wtxn *w;
		err = shmdb_write_begin(db, &w);
		for (uint64_t k = i; k < i + 1000 && k < keys && !err; k++) {
			uint8_t key[BENCH_KEY_LEN];
			bench_key(key, k);
			err = shmdb_put(w, t, key, sizeof(key), val, sizeof(val));
		}
		if (!err)
			err = shmdb_commit(w, NULL);
	}
	shmdb_close(db);
	return err;
}

static int lmdb_preload(const char *path, uint64_t keys)
{
	MDB_env *env = NULL;
	MDB_dbi dbi;
	MDB_txn *w;
	int rc = lmdb_open(path, (size_t)4 << 30, &env, &dbi);
	char val[VALUE_LEN];
	memset(val, 'm', sizeof(val));
	for (uint64_t i = 0; i < keys && !rc; i += 10000) {
		rc = mdb_txn_begin(env, NULL, 0, &w);
		for (uint64_t k = i; k < i + 10000 && k < keys && !rc; k++) {
			uint8_t key[BENCH_KEY_LEN];
			bench_key(key, k);
			MDB_val mk = { sizeof(key), key }, mv = { sizeof(val), val };
			rc = mdb_put(w, dbi, &mk, &mv, 0);
		}
		rc = rc ? (mdb_txn_abort(w), rc) : mdb_txn_commit(w);
	}
	if (env)
		mdb_env_close(env);
	return rc;
}

/* ---- the run ---------------------------------------------------------------------- */

static const char *verdict(double v, double limit, int lower_is_better)
{
	if (v < 0)
		return "not measured";
	return (lower_is_better ? v <= limit : v >= limit) ? "met" : "MISSED";
}

/* A target line: the figure, what it is measured in, its value, the
 * target and the verdict. */
struct target_figure {
	const char *name, *unit;
	double value;
	const char *target, *verdict;
};

/* The run's figures as JSON: each policy's paced commits and mixed
 * workloads, LMDB's, and the targets. */
static int write_json(const char *path, struct paced paced[POLICIES][NRATES],
		      const double *idle, double mixed[POLICIES][2], const double *lmdb_mixed,
		      const struct target_figure *t, size_t nt)
{
	cJSON *root = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(root, "idle");
	cJSON *pa = cJSON_AddArrayToObject(o, "paced"), *mx = cJSON_AddArrayToObject(o, "mixed");
	cJSON *ta = cJSON_AddArrayToObject(o, "targets");
	for (int pol = 0; pol < POLICIES; pol++) {
		for (int r = 0; r < NRATES; r++) {
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "policy", policy_name[pol]);
			json_number(x, "commits_per_s", rates[r]);
			bool ran = paced[pol][r].cpu >= 0; /* (a failed run: cpu -1) */
			json_measured(x, "p50_ns", ran ? (double)paced[pol][r].p50 : -1);
			json_measured(x, "p99_ns", ran ? (double)paced[pol][r].p99 : -1);
			json_measured(x, "daemon_cpu", paced[pol][r].cpu);
			cJSON_AddItemToArray(pa, x);
		}
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "system", policy_name[pol]);
		json_measured(x, "idle_cpu", idle[pol]);
		json_measured(x, "ops_95_5", mixed[pol][0]);
		json_measured(x, "ops_50_50", mixed[pol][1]);
		cJSON_AddItemToArray(mx, x);
	}
	cJSON *x = cJSON_CreateObject();
	cJSON_AddStringToObject(x, "system", "lmdb");
	json_measured(x, "ops_95_5", lmdb_mixed[0]);
	json_measured(x, "ops_50_50", lmdb_mixed[1]);
	cJSON_AddItemToArray(mx, x);
	for (size_t i = 0; i < nt; i++) {
		cJSON *f = json_figure(ta, t[i].name, t[i].unit);
		json_measured(f, "value", t[i].value);
		cJSON_AddStringToObject(f, "target", t[i].target);
		cJSON_AddStringToObject(f, "verdict", t[i].verdict);
	}
	return json_write_file(path, root);
}

int bench_idle(const struct bench_params *p, int quick)
{
	double secs = quick ? 0.5 : 2.0, mixed_secs = quick ? 1.0 : 3.0;
	uint64_t keys = quick ? 100000 : 1000000;
	struct paced paced[POLICIES][NRATES];
	double idle[POLICIES], mixed[POLICIES][2], lmdb_mixed[2];
	static const int read_pct[2] = { 95, 50 };
	struct zipf z;
	int failed = 0;
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/shmdb-bench-idle-XXXXXX");
	if (!mkdtemp(sock_dir)) {
		perror("shmdb-bench: mkdtemp");
		return 1;
	}
	zipf_init(&z, keys, ZIPF_THETA);
	printf("idle strategies: client on cpu %d, the writer on cpu %d; mixed: clients on cpus "
	       "%d and %d, %" PRIu64 " keys, zipfian %.2f\n", p->client_cpu, p->server_cpu,
	       p->client_cpu, p->server_cpu, keys, ZIPF_THETA);

	for (int pol = 0; pol < POLICIES; pol++) {
		struct daemon d;
		if (daemon_start(p, &d, policy_name[pol]))
			return 1;
		idle[pol] = idle_cpu(&d, quick ? 0.5 : 1.0);
		for (int r = 0; r < NRATES; r++)
			if (paced_run(p, &d, rates[r], secs, &paced[pol][r])) {
				paced[pol][r] = (struct paced){ 0, 0, -1 };
				failed = 1;
			}
		if (shmdb_preload(d.sock, keys))
			failed = 1;
		for (int m = 0; m < 2; m++)
			mixed[pol][m] = mixed_run(p, shmdb_loop, d.sock, &z, read_pct[m], mixed_secs);
		daemon_stop(&d);
	}
	char path[96];
	snprintf(path, sizeof(path), "/dev/shm/shmdb-bench-idle-lmdb-%d", (int)getpid());
	if (lmdb_preload(path, keys)) {
		fprintf(stderr, "shmdb-bench: LMDB preload failed\n");
		lmdb_mixed[0] = lmdb_mixed[1] = -1;
	} else {
		for (int m = 0; m < 2; m++)
			lmdb_mixed[m] = mixed_run(p, lmdb_loop, path, &z, read_pct[m], mixed_secs);
	}
	char lock[112];
	snprintf(lock, sizeof(lock), "%s-lock", path);
	unlink(path);
	unlink(lock);
	for (int pol = 0; pol < POLICIES; pol++) {
		char f[128];
		snprintf(f, sizeof(f), "%s/idle-%s.sock.lock", sock_dir, policy_name[pol]);
		unlink(f);
	}
	rmdir(sock_dir);

	printf("\n%-9s %10s %10s %10s %12s\n", "policy", "commits/s", "p50 ns", "p99 ns",
	       "daemon cpu");
	for (int pol = 0; pol < POLICIES; pol++)
		for (int r = 0; r < NRATES; r++)
			printf("%-9s %10d %10" PRIu64 " %10" PRIu64 " %12.3f\n", policy_name[pol],
			       rates[r], paced[pol][r].p50, paced[pol][r].p99, paced[pol][r].cpu);
	printf("\n%-9s %12s %14s %14s\n", "policy", "idle cpu", "95/5 ops/s", "50/50 ops/s");
	for (int pol = 0; pol < POLICIES; pol++)
		printf("%-9s %12.4f %14.0f %14.0f\n", policy_name[pol], idle[pol], mixed[pol][0],
		       mixed[pol][1]);
	printf("%-9s %12s %14.0f %14.0f\n", "LMDB", "-", lmdb_mixed[0], lmdb_mixed[1]);

	/* The targets, for the default policy (backoff). */
	const int B = 1, S = 0;
	double cpu10k = paced[B][1].cpu;
	double p50_ratio = paced[S][1].p50 ? (double)paced[B][1].p50 / (double)paced[S][1].p50 : -1;
	double r95 = lmdb_mixed[0] > 0 && mixed[B][0] > 0 ? mixed[B][0] / lmdb_mixed[0] : -1;
	double r50 = lmdb_mixed[1] > 0 && mixed[B][1] > 0 ? mixed[B][1] / lmdb_mixed[1] : -1;
	printf("\ntargets (default policy: backoff)\n");
	printf("  daemon cpu at 10,000 commits/s   %8.3f   <= 0.25          %s\n", cpu10k,
	       verdict(cpu10k, 0.25, 1));
	printf("  commit p50 at 10,000/s / spin's  %8.2f   <= 2             %s\n", p50_ratio,
	       verdict(p50_ratio, 2, 1));
	printf("  95/5 mixed, ops/s / LMDB's       %8.2f   >= 3             %s\n", r95,
	       verdict(r95, 3, 0));
	printf("  50/50 mixed, ops/s / LMDB's      %8.2f   >= 2             %s\n", r50,
	       verdict(r50, 2, 0));
	printf("  daemon cpu, no client activity   %8.4f   ~0 (<= 0.01)     %s\n", idle[B],
	       verdict(idle[B], 0.01, 1));
	if (p->json) {
		const struct target_figure targets[] = {
			{ "daemon cpu at 10,000 commits/s", "cpu", cpu10k, "<= 0.25",
			  verdict(cpu10k, 0.25, 1) },
			{ "commit p50 at 10,000/s over spin's", "ratio", p50_ratio, "<= 2",
			  verdict(p50_ratio, 2, 1) },
			{ "95/5 mixed ops/s over LMDB's", "ratio", r95, ">= 3", verdict(r95, 3, 0) },
			{ "50/50 mixed ops/s over LMDB's", "ratio", r50, ">= 2", verdict(r50, 2, 0) },
			{ "daemon cpu, no client activity", "cpu", idle[B], "<= 0.01",
			  verdict(idle[B], 0.01, 1) },
		};
		if (write_json(p->json, paced, idle, mixed, lmdb_mixed, targets,
			       sizeof(targets) / sizeof(targets[0])))
			failed = 1;
	}
	return failed;
}
