/*
 * sys_ideal.c - the physical line for a point get: an ideal open-addressing
 * hash with the same records inline in 64-byte-aligned slots, in a shared
 * mapping (huge pages when they can be had, as shmdb gets them), read from a
 * separate process with the same hash function and the same timer. One
 * cache-line miss per get, no snapshot, no version chain. And a dependent
 * pointer chase over as many bytes as the dataset: the memory's own latency;
 * and a chain of dependent adds: the speed of the core this guest was given
 * (one cycle each, so 1 / the clock, unless a neighbour shares the core);
 * and a cache line's round trip between the client and the server cpu: the
 * floor of a commit that waits (its submission goes one way, its completion
 * the other), which on a guest moves with where the host runs its vCPUs.
 * It has no writer: its scheduled gets run while the server cpu is kept
 * busy instead, the floor of that workload's tail on this machine.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

static uint8_t *table;
static size_t table_bytes, slot_bytes;
static uint64_t mask;

static void *map_shared(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED) {
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			madvise(p, bytes, MADV_HUGEPAGE);
	}
	return p == MAP_FAILED ? NULL : p;
}

static uint8_t *slot(uint64_t i)
{
	return table + i * slot_bytes;
}

static int load(const struct bench_params *p, struct bench_result *r)
{
	uint64_t cap = 1;
	while (cap < 2 * p->records)
		cap *= 2;
	mask = cap - 1;
	/* A slot: 1 byte used flag, key, value, rounded to cache lines. */
	slot_bytes = (1 + BENCH_KEY_LEN + p->val_len + 63) / 64 * 64;
	table_bytes = (cap * slot_bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20);
	if (!(table = map_shared(table_bytes))) {
		fprintf(stderr, "shmdb-bench: ideal: cannot map %zu bytes\n", table_bytes);
		return -1;
	}
	uint8_t key[BENCH_KEY_LEN];
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->records; i++) {
		bench_key(key, i);
		uint64_t j = XXH3_64bits(key, BENCH_KEY_LEN) & mask;
		while (slot(j)[0])
			j = (j + 1) & mask;
		slot(j)[0] = 1;
		memcpy(slot(j) + 1, key, BENCH_KEY_LEN);
		bench_value(slot(j) + 1 + BENCH_KEY_LEN, i, p->val_len);
	}
	r->load_rps = (double)p->records / ((double)(bench_now_ns() - start) / 1e9);
	return 0;
}

static inline const uint8_t *lookup(const uint8_t *key)
{
	uint64_t j = XXH3_64bits(key, BENCH_KEY_LEN) & mask;
	for (;; j = (j + 1) & mask) {
		const uint8_t *s = slot(j);
		if (!s[0])
			return NULL;
		if (!memcmp(s + 1, key, BENCH_KEY_LEN))
			return s + 1 + BENCH_KEY_LEN;
	}
}

/* BENCH_MANY lookups with their misses overlapped, as shmdb_get_many
 * does: every home slot starts loading before any is compared. Returns how
 * many keys were missing. */
static uint64_t lookup_many(uint8_t keys[BENCH_MANY][BENCH_KEY_LEN])
{
	uint64_t home[BENCH_MANY], missing = 0;
	for (int j = 0; j < BENCH_MANY; j++) {
		home[j] = XXH3_64bits(keys[j], BENCH_KEY_LEN) & mask;
		__builtin_prefetch(slot(home[j]));
	}
	for (int j = 0; j < BENCH_MANY; j++) {
		uint64_t i = home[j];
		while (slot(i)[0] && memcmp(slot(i) + 1, keys[j], BENCH_KEY_LEN))
			i = (i + 1) & mask;
		missing += !slot(i)[0];
	}
	return missing;
}

/* Dependent loads over `bytes` of memory in a random cyclic order. */
static double pointer_chase(size_t bytes)
{
	size_t n = bytes / 64;
	uint64_t *mem = map_shared(n * 64), rnd = 12345;
	uint64_t *order = malloc(n * sizeof(uint64_t));
	if (!mem || !order)
		return -1;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
		size_t j = bench_rand(&rnd) % (i + 1);
		uint64_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < n; i++)
		mem[order[i] * 8] = order[(i + 1) % n];
	free(order);
	uint64_t at = 0, hops = n < 4000000 ? n : 4000000;
	for (uint64_t i = 0; i < hops / 4; i++) /* warm the TLB */
		at = mem[at * 8];
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < hops; i++)
		at = mem[at * 8];
	double ns = (double)(bench_now_ns() - start) / (double)hops;
	munmap(mem, n * 64);
	return at == (uint64_t)-1 ? -1 : ns;
}

/* The round trip: the client's thread stores a count in one line, a thread
 * on the server cpu polls it and stores the count in another, which the
 * client polls. Each in its own cache line, so that a trip moves exactly
 * two lines. */
#define ROUND_TRIPS 200000
static struct {
	_Alignas(64) uint64_t ping;
	_Alignas(64) uint64_t pong;
} trip;

static void *answer_trips(void *cpu)
{
	bench_pin(*(const int *)cpu);
	for (uint64_t i = 1; i <= ROUND_TRIPS; i++) {
		while (__atomic_load_n(&trip.ping, __ATOMIC_ACQUIRE) != i)
			;
		__atomic_store_n(&trip.pong, i, __ATOMIC_RELEASE);
	}
	return NULL;
}

static int round_trips(int server_cpu, struct hist *h)
{
	pthread_t t;
	trip.ping = trip.pong = 0;
	if (pthread_create(&t, NULL, answer_trips, &server_cpu))
		return -1;
	for (uint64_t i = 1; i <= ROUND_TRIPS; i++) {
		uint64_t t0 = bench_tsc();
		__atomic_store_n(&trip.ping, i, __ATOMIC_RELEASE);
		while (__atomic_load_n(&trip.pong, __ATOMIC_ACQUIRE) != i)
			;
		hist_add(h, bench_tsc() - t0);
	}
	return pthread_join(t, NULL) ? -1 : 0;
}

/* Nanoseconds per add in a chain of dependent one-cycle adds. */
static double dependent_add(void)
{
	const uint64_t adds = 200000000;
	uint64_t x = 0, start = bench_now_ns();
	for (uint64_t i = 0; i < adds; i++)
		__asm__ volatile("add $1, %0" : "+r"(x));
	double ns = (double)(bench_now_ns() - start) / (double)adds;
	return x == adds ? ns : -1;
}

static int read_side(const struct bench_params *p, struct bench_result *r)
{
	uint8_t key[BENCH_KEY_LEN];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), misses = 0;
	for (uint64_t i = 0; i < p->gets / 10 + 1000; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		misses += !lookup(key);
	}
	struct counters c0, c1;
	counters_read(&c0);
	for (uint64_t i = 0; i < p->gets; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		uint64_t t0 = bench_tsc();
		const uint8_t *v = lookup(key);
		hist_add(&r->get, bench_tsc() - t0);
		misses += !v;
	}
	counters_read(&c1);
	bench_costs(&c0, &c1, p->gets, r);
	if (bench_gate(p)) /* two_readers: both start together */
		return -1;
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->gets; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		misses += !lookup(key);
	}
	r->ops_t0 = start;
	r->ops_t1 = bench_now_ns();
	r->get_ops = (double)p->gets / ((double)(r->ops_t1 - start) / 1e9);
	if (p->gate) /* two_readers wants this figure only: stop while the other times */
		return misses ? -1 : 0;
	uint8_t many[BENCH_MANY][BENCH_KEY_LEN];
	uint64_t batches = (p->gets + BENCH_MANY - 1) / BENCH_MANY;
	start = bench_now_ns();
	for (uint64_t i = 0; i < batches; i++) {
		for (int j = 0; j < BENCH_MANY; j++)
			bench_key(many[j], bench_rand(&rnd) % p->records);
		misses += lookup_many(many);
	}
	r->get_many_ops = (double)(batches * BENCH_MANY) / ((double)(bench_now_ns() - start) / 1e9);
	r->chase_ns = pointer_chase(p->records * (BENCH_KEY_LEN + p->val_len + 48));
	r->add_ns = dependent_add();
	/* On one cpu the two would take turns by preemption: no figure. */
	if (p->server_cpu != p->client_cpu && round_trips(p->server_cpu, &r->round_trip))
		return -1;
	return misses ? -1 : 0;
}

/* The scheduled workloads' reader: the table is mapped before the fork. */
static void *reader_open(const struct bench_params *p)
{
	(void)p;
	return table;
}

static int reader_get(void *h, const uint8_t *key, uint8_t *out, uint32_t cap)
{
	(void)h;
	const uint8_t *v = lookup(key);
	if (!v)
		return -1;
	if (out)
		memcpy(out, v, cap);
	return 0;
}

static int write_side(const struct bench_params *p, struct bench_result *r)
{
	(void)p;
	r->commit_tps = r->pipelined_tps = -1;
	return 0;
}

static void stop(const struct bench_params *p)
{
	(void)p;
	if (table)
		munmap(table, table_bytes);
	table = NULL;
}

const struct bench_system bench_ideal = {
	.name = "ideal", .load = load, .read = read_side, .write = write_side, .stop = stop,
	.reader_open = reader_open, .reader_get = reader_get,
};
