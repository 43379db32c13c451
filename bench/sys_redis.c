/*
 * sys_redis.c - Redis under shmdb-bench: its own redis-server on a UNIX
 * socket in the run's directory, persistence off, pinned to the server cpu;
 * clients through hiredis. A Redis read is a round trip to the server, and
 * it has no snapshot to begin or end.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static pid_t server_pid;
static char sock[256];
static redisContext *ctx;

static int fail(const char *what, const redisContext *c)
{
	fprintf(stderr, "shmdb-bench: redis: %s: %s\n", what, c ? c->errstr : "no connection");
	return -1;
}

static redisContext *connect_redis(void)
{
	redisContext *c = redisConnectUnix(sock);
	if (c && c->err) {
		redisFree(c);
		return NULL;
	}
	return c;
}

static int start_server(const struct bench_params *p)
{
	snprintf(sock, sizeof(sock), "%s/redis.sock", p->dir);
	server_pid = fork();
	if (server_pid == 0) {
		bench_pin(p->server_cpu);
		freopen("/dev/null", "w", stdout);
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
		       "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
		       "--daemonize", "no", "--dir", p->dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400; i++) {
		if ((ctx = connect_redis()))
			return 0;
		if (waitpid(server_pid, NULL, WNOHANG) == server_pid)
			break;
		usleep(25000);
	}
	fprintf(stderr, "shmdb-bench: redis-server did not start (is it installed?)\n");
	server_pid = 0;
	return -1;
}

static int load(const struct bench_params *p, struct bench_result *r)
{
	if (start_server(p))
		return -1;
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	uint64_t start = bench_now_ns();
	/* 1,000 SETs per MULTI/EXEC, pipelined: Redis's transaction. */
	for (uint64_t i = 0; i < p->records; i += 1000) {
		uint64_t n = 0;
		redisAppendCommand(ctx, "MULTI");
		for (uint64_t j = i; j < i + 1000 && j < p->records; j++, n++) {
			bench_key(key, j);
			bench_value(val, j, p->val_len);
			redisAppendCommand(ctx, "SET %b %b", key, (size_t)BENCH_KEY_LEN, val, (size_t)p->val_len);
		}
		redisAppendCommand(ctx, "EXEC");
		for (uint64_t k = 0; k < n + 2; k++) {
			redisReply *rep;
			if (redisGetReply(ctx, (void **)&rep) != REDIS_OK)
				return fail("bulk load", ctx);
			freeReplyObject(rep);
		}
	}
	r->load_rps = (double)p->records / ((double)(bench_now_ns() - start) / 1e9);
	return 0;
}

static int read_side(const struct bench_params *p, struct bench_result *r)
{
	redisContext *c = connect_redis();
	uint8_t key[BENCH_KEY_LEN];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), misses = 0;
	if (!c)
		return fail("reader connect", NULL);
	for (uint64_t i = 0; i < p->gets / 10 + 1000; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		freeReplyObject(redisCommand(c, "GET %b", key, (size_t)BENCH_KEY_LEN));
	}
	struct counters c0, c1;
	counters_read(&c0);
	if (bench_gate(p)) /* two_readers: both start together */
		return -1;
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->gets; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		uint64_t t0 = bench_tsc();
		redisReply *rep = redisCommand(c, "GET %b", key, (size_t)BENCH_KEY_LEN);
		hist_add(&r->get, bench_tsc() - t0);
		misses += !rep || rep->type != REDIS_REPLY_STRING;
		freeReplyObject(rep);
	}
	counters_read(&c1);
	bench_costs(&c0, &c1, p->gets, r);
	r->ops_t0 = start;
	r->ops_t1 = bench_now_ns();
	r->get_ops = (double)p->gets / ((double)(r->ops_t1 - start) / 1e9);
	if (p->gate) { /* two_readers wants this figure only: stop while the other times */
		redisFree(c);
		return misses ? -1 : 0;
	}

	/* Full scan: SCAN for keys, MGET for their values, 1,000 at a time. */
	uint64_t count = 0;
	char cursor[32] = "0";
	start = bench_now_ns();
	do {
		redisReply *rep = redisCommand(c, "SCAN %s COUNT 1000", cursor);
		if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
			return fail("scan", c);
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		redisReply *keys = rep->element[1];
		if (keys->elements) {
			const char **argv = malloc((keys->elements + 1) * sizeof(char *));
			size_t *lens = malloc((keys->elements + 1) * sizeof(size_t));
			argv[0] = "MGET";
			lens[0] = 4;
			for (size_t i = 0; i < keys->elements; i++) {
				argv[i + 1] = keys->element[i]->str;
				lens[i + 1] = keys->element[i]->len;
			}
			redisReply *vals = redisCommandArgv(c, (int)keys->elements + 1, argv, lens);
			if (vals && vals->type == REDIS_REPLY_ARRAY)
				count += vals->elements;
			freeReplyObject(vals);
			free(argv);
			free(lens);
		}
		freeReplyObject(rep);
	} while (cursor[0] != '0' || cursor[1]);
	r->scan_rps = (double)count / ((double)(bench_now_ns() - start) / 1e9);
	redisFree(c);
	if (misses || count < p->records) {
		fprintf(stderr, "shmdb-bench: redis: %" PRIu64 " gets missed, scan saw %" PRIu64 "\n", misses, count);
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
		bench_key(key, i);
		uint64_t t0 = bench_tsc();
		redisReply *rep = redisCommand(ctx, "SET %b %b", key, (size_t)BENCH_KEY_LEN, val, (size_t)p->val_len);
		hist_add(&r->commit, bench_tsc() - t0);
		if (!rep)
			return fail("set", ctx);
		freeReplyObject(rep);
	}
	r->commit_tps = (double)p->commits / ((double)(bench_now_ns() - start) / 1e9);

	/* Pipelined: up to 512 SETs in flight. */
	const uint64_t window = 512;
	start = bench_now_ns();
	uint64_t sent = 0, got = 0;
	while (got < p->commits) {
		while (sent < p->commits && sent - got < window) {
			bench_key(key, sent++);
			redisAppendCommand(ctx, "SET %b %b", key, (size_t)BENCH_KEY_LEN, val, (size_t)p->val_len);
		}
		redisReply *rep;
		if (redisGetReply(ctx, (void **)&rep) != REDIS_OK)
			return fail("pipelined set", ctx);
		freeReplyObject(rep);
		got++;
	}
	r->pipelined_tps = (double)p->commits / ((double)(bench_now_ns() - start) / 1e9);
	return 0;
}

static void stop(const struct bench_params *p)
{
	if (ctx && !p->interrupted) /* redisFree is not for signal handlers */
		redisFree(ctx);
	ctx = NULL;
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	unlink(sock);
}

static void *side_open(const struct bench_params *p)
{
	(void)p;
	return connect_redis();
}

static int reader_get(void *h, const uint8_t *key, uint8_t *out, uint32_t cap)
{
	redisReply *rep = redisCommand(h, "GET %b", key, (size_t)BENCH_KEY_LEN);
	int ok = rep && rep->type == REDIS_REPLY_STRING;
	if (ok && out)
		memcpy(out, rep->str, rep->len < cap ? rep->len : cap);
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

static int writer_put(void *h, const uint8_t *key, const uint8_t *val, uint32_t len)
{
	redisReply *rep = redisCommand(h, "SET %b %b", key, (size_t)BENCH_KEY_LEN, val, (size_t)len);
	int ok = rep != NULL;
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

const struct bench_system bench_redis = {
	.name = "Redis", .load = load, .read = read_side, .write = write_side, .stop = stop,
	.reader_open = side_open, .reader_get = reader_get,
	.writer_open = side_open, .writer_put = writer_put,
};
