/*
 * shmdb-bench.c - shmdb's own figures: point-get latency and throughput from
 * a separate reader process, commit latency and throughput for 1-put
 * transactions (waiting, and pipelined), and 1,000-put transactions, on a
 * dataset of N records (default 1,000,000, 16-byte keys, 100-byte values).
 *
 * It starts its own shmdbd on a temporary socket (the binary next to it, or
 * --shmdbd PATH), with the writer polling on its own cpu, unless --socket
 * names a running daemon. Latencies are timed per operation with the TSC
 * (calibrated against CLOCK_MONOTONIC at start; the timer's own cost is
 * measured and printed) and reported as exact percentiles of all samples.
 * Not a test: it asserts nothing about speed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "shmdb.h"

#define KEY_LEN 16
#define VAL_LEN 100

static double tsc_per_ns;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tsc(void)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);
	_mm_lfence();
	return t;
}

static void calibrate(void)
{
	uint64_t n0 = mono_ns(), t0 = tsc();
	while (mono_ns() - n0 < 200000000ull)
		;
	uint64_t n1 = mono_ns(), t1 = tsc();
	tsc_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sort samples (TSC ticks) and print percentiles in ns. */
static void report(const char *what, uint64_t *s, size_t n, double seconds)
{
	qsort(s, n, sizeof(*s), cmp_u64);
	const double p[] = { 0.50, 0.99, 0.999, 0.9999 };
	printf("%-34s", what);
	for (int i = 0; i < 4; i++)
		printf(" %9.0f", (double)s[(size_t)(p[i] * (double)(n - 1))] / tsc_per_ns);
	printf(" %9.0f", (double)s[n - 1] / tsc_per_ns);
	if (seconds > 0)
		printf(" %12.0f", (double)n / seconds);
	printf("\n");
}

static void header(void)
{
	printf("%-34s %9s %9s %9s %9s %9s %12s\n", "latency (ns)", "p50", "p99", "p99.9", "p99.99",
	       "max", "per second");
}

static void make_key(uint8_t *k, uint64_t i)
{
	/* 16 bytes: a scrambled index, so keys do not arrive in hash order. */
	uint64_t a = i * 0x9e3779b97f4a7c15ull, b = i;
	memcpy(k, &a, 8);
	memcpy(k + 8, &b, 8);
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "shmdb-bench: cannot pin to cpu %d\n", cpu);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "shmdb-bench: %s: %s\n", what, shmdb_strerror(err));
	exit(1);
}

static void load(shmdb *db, shmdb_table t, uint64_t n)
{
	uint8_t key[KEY_LEN], val[VAL_LEN];
	uint64_t *lat = malloc(sizeof(uint64_t) * (n / 1000 + 1));
	size_t nl = 0;
	memset(val, 'v', sizeof(val));
	uint64_t start = mono_ns();
	for (uint64_t i = 0; i < n; i += 1000) {
		shmdb_wtxn *w;
		shmdb_write_begin(db, &w);
		for (uint64_t j = i; j < i + 1000 && j < n; j++) {
			make_key(key, j);
			memcpy(val, &j, sizeof(j));
			shmdb_put(w, t, key, KEY_LEN, val, VAL_LEN);
		}
		uint64_t t0 = tsc();
		int e = shmdb_commit(w, NULL);
		lat[nl++] = tsc() - t0;
		if (e)
			die("bulk load", e);
	}
	double secs = (double)(mono_ns() - start) / 1e9;
	report("1,000-put txn commit (load)", lat, nl, secs);
	printf("%-34s %12.0f records/s\n", "  bulk load", (double)n / secs);
	free(lat);
}

/* In a child process pinned to `cpu`: random gets, timed one by one. */
static void reader(const char *sock, int cpu, uint64_t n, uint64_t gets)
{
	shmdb *db;
	shmdb_table t;
	pin(cpu);
	int e = shmdb_open(sock, &db);
	if (!e)
		e = shmdb_table_open(db, "bench", 0, &t);
	if (e)
		die("reader open", e);
	uint64_t *lat = malloc(sizeof(uint64_t) * gets);
	uint8_t key[KEY_LEN];
	shmdb_rtxn *r;
	shmdb_val v;
	rng_state ^= (uint64_t)getpid();
	for (uint64_t i = 0; i < 100000; i++) { /* warm-up */
		shmdb_read_begin(db, &r);
		make_key(key, rnd() % n);
		shmdb_get(r, t, key, KEY_LEN, &v);
		shmdb_read_end(r);
	}
	uint64_t misses = 0, start = mono_ns();
	shmdb_read_begin(db, &r);
	for (uint64_t i = 0; i < gets; i++) {
		make_key(key, rnd() % n);
		uint64_t t0 = tsc();
		int rc = shmdb_get(r, t, key, KEY_LEN, &v);
		lat[i] = tsc() - t0;
		misses += rc != 0;
	}
	shmdb_read_end(r);
	double secs = (double)(mono_ns() - start) / 1e9;
	report("get, one snapshot (reader process)", lat, gets, secs);

	start = mono_ns();
	for (uint64_t i = 0; i < gets; i++) {
		make_key(key, rnd() % n);
		uint64_t t0 = tsc();
		shmdb_read_begin(db, &r);
		misses += shmdb_get(r, t, key, KEY_LEN, &v) != 0;
		shmdb_read_end(r);
		lat[i] = tsc() - t0;
	}
	secs = (double)(mono_ns() - start) / 1e9;
	report("read_begin + get + read_end", lat, gets, secs);

	for (uint64_t i = 0; i < gets; i++) {
		uint64_t t0 = tsc();
		shmdb_read_begin(db, &r);
		shmdb_read_end(r);
		lat[i] = tsc() - t0;
	}
	report("read_begin + read_end", lat, gets, 0);
	if (misses)
		printf("  (%" PRIu64 " gets missed: a bug)\n", misses);

	uint64_t c0 = mono_ns(), count = 0;
	shmdb_read_begin(db, &r);
	shmdb_cursor *c;
	shmdb_val k;
	shmdb_cursor_open(r, t, &c);
	while (shmdb_cursor_next(c, &k, &v) == 0)
		count++;
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	printf("%-34s %12.0f records/s (%" PRIu64 " records)\n", "full scan (cursor)",
	       (double)count / ((double)(mono_ns() - c0) / 1e9), count);
	shmdb_close(db);
	fflush(stdout);
	_exit(misses ? 1 : 0);
}

static void commits(shmdb *db, shmdb_table t, uint64_t count)
{
	uint8_t key[KEY_LEN], val[VAL_LEN];
	uint64_t *lat = malloc(sizeof(uint64_t) * count);
	memset(val, 'w', sizeof(val));
	uint64_t start = mono_ns();
	for (uint64_t i = 0; i < count; i++) {
		shmdb_wtxn *w;
		make_key(key, i);
		uint64_t t0 = tsc();
		shmdb_write_begin(db, &w);
		shmdb_put(w, t, key, KEY_LEN, val, VAL_LEN);
		int e = shmdb_commit(w, NULL);
		lat[i] = tsc() - t0;
		if (e)
			die("commit", e);
	}
	report("1-put txn, shmdb_commit", lat, count, (double)(mono_ns() - start) / 1e9);

	/* Pipelined: keep up to `window` transactions in flight. */
	const uint64_t window = 512;
	uint64_t *tickets = malloc(sizeof(uint64_t) * count);
	start = mono_ns();
	for (uint64_t i = 0; i < count; i++) {
		shmdb_wtxn *w;
		make_key(key, i);
		shmdb_write_begin(db, &w);
		shmdb_put(w, t, key, KEY_LEN, val, VAL_LEN);
		int e = shmdb_commit_async(w, &tickets[i]);
		if (e)
			die("commit_async", e);
		if (i >= window && (e = shmdb_wait(db, tickets[i - window], NULL)))
			die("wait", e);
	}
	for (uint64_t i = count > window ? count - window : 0; i < count; i++)
		shmdb_wait(db, tickets[i], NULL);
	double secs = (double)(mono_ns() - start) / 1e9;
	printf("%-34s %12.0f txn/s\n", "1-put txn, pipelined (async)", (double)count / secs);
	free(tickets);
	free(lat);
}

static pid_t start_daemon(const char *shmdbd, const char *sock, const char *arena, int cpu)
{
	char cpubuf[16];
	snprintf(cpubuf, sizeof(cpubuf), "%d", cpu);
	pid_t pid = fork();
	if (pid == 0) {
		execl(shmdbd, shmdbd, "--socket", sock, "--arena-size", arena, "--writer-cpu", cpubuf,
		      "--writer-idle-us", "1000000", (char *)NULL);
		perror("exec shmdbd");
		_exit(127);
	}
	for (int i = 0; i < 600; i++) {
		struct stat st;
		if (stat(sock, &st) == 0)
			return pid;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(50000);
	}
	fprintf(stderr, "shmdb-bench: shmdbd did not start\n");
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "shmdbd", required_argument, NULL, 'd' },
		{ "records", required_argument, NULL, 'n' },
		{ "gets", required_argument, NULL, 'g' },
		{ "commits", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *shmdbd = NULL;
	uint64_t n = 1000000, gets = 2000000, ncommits = 100000;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'd': shmdbd = optarg; break;
		case 'n': n = strtoull(optarg, NULL, 10); break;
		case 'g': gets = strtoull(optarg, NULL, 10); break;
		case 'c': ncommits = strtoull(optarg, NULL, 10); break;
		default:
			printf("usage: shmdb-bench [--socket PATH | --shmdbd PATH] [--records N] [--gets N] [--commits N]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (n == 0 || gets == 0 || ncommits == 0) {
		fprintf(stderr, "shmdb-bench: counts must be positive\n");
		return 2;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int writer_cpu = ncpu > 1 ? 1 : 0, client_cpu = 0;
	char dir[] = "/tmp/shmdb-bench-XXXXXX", sockbuf[128];
	pid_t daemon = 0;
	if (!sock) {
		char self[512], path[600];
		ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[l > 0 ? l : 0] = 0;
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
		snprintf(path, sizeof(path), "%s/../shmdbd", self);
		if (!shmdbd)
			shmdbd = path;
		if (!mkdtemp(dir))
			return 1;
		snprintf(sockbuf, sizeof(sockbuf), "%s/s.sock", dir);
		sock = sockbuf;
		char arena[32];
		snprintf(arena, sizeof(arena), "%" PRIu64 "M", (n * 400 + ncommits * 400) / (1 << 20) + 256);
		daemon = start_daemon(shmdbd, sock, arena, writer_cpu);
	}
	calibrate();
	uint64_t tmin = UINT64_MAX;
	for (int i = 0; i < 1000; i++) {
		uint64_t a = tsc(), b = tsc();
		if (b - a < tmin)
			tmin = b - a;
	}
	printf("shmdb-bench: %" PRIu64 " records of %d-byte keys and %d-byte values; writer on cpu %d, "
	       "clients on cpu %d; TSC %.3f GHz, timer cost %.1f ns (included in each sample)\n",
	       n, KEY_LEN, VAL_LEN, writer_cpu, client_cpu, tsc_per_ns, (double)tmin / tsc_per_ns);

	pin(client_cpu);
	shmdb *db;
	shmdb_table t;
	int e = shmdb_open(sock, &db);
	if (!e)
		e = shmdb_table_open(db, "bench", SHMDB_CREATE, &t);
	if (e)
		die("open", e);
	header();
	load(db, t, n);

	fflush(stdout);
	pid_t rp = fork();
	if (rp == 0)
		reader(sock, client_cpu, n, gets);
	int status;
	waitpid(rp, &status, 0);
	commits(db, t, ncommits);
	shmdb_close(db);
	if (daemon) {
		kill(daemon, SIGTERM);
		waitpid(daemon, NULL, 0);
		char p[160];
		snprintf(p, sizeof(p), "%s.lock", sock);
		unlink(p);
		rmdir(dir);
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
