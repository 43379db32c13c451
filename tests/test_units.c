/*
 * test_units.c - unit tests of the daemon's and library's pure logic: size
 * and flag parsing, NUMA node lists and writer-cpu choice on hwloc synthetic
 * topologies of 2 and 4 nodes, huge-page planning, the default socket path,
 * error names, the arena allocator, the growth of a private byte buffer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "arena.h"
#include "buf.h"
#include "client_internal.h"
#include "hist.h"
#include "idle.h"
#include "reach.h"
#include "config.h"
#include "harness.h"
#include "shmdb.h"
#include "topology.h"

START_TEST(sizes_parse)
{
	uint64_t v;
	ck_assert_int_eq(parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(parse_size("64K", &v), 0);
	ck_assert_uint_eq(v, 64 << 10);
	ck_assert_int_eq(parse_size("512M", &v), 0);
	ck_assert_uint_eq(v, 512ull << 20);
	ck_assert_int_eq(parse_size("2G", &v), 0);
	ck_assert_uint_eq(v, 2ull << 30);
	ck_assert_int_eq(parse_size("1GiB", &v), 0);
	ck_assert_uint_eq(v, 1ull << 30);
	ck_assert_int_eq(parse_size("3mb", &v), 0);
	ck_assert_uint_eq(v, 3ull << 20);
	ck_assert_int_eq(parse_size("1T", &v), 0);
	ck_assert_uint_eq(v, 1ull << 40);
	ck_assert_int_eq(parse_size("", &v), -EINVAL);
	ck_assert_int_eq(parse_size("M", &v), -EINVAL);
	ck_assert_int_eq(parse_size("-1M", &v), -EINVAL);
	ck_assert_int_eq(parse_size("12Q", &v), -EINVAL);
	ck_assert_int_eq(parse_size("1.5G", &v), -EINVAL);
	ck_assert_int_eq(parse_size("1G ", &v), -EINVAL);
	ck_assert_int_eq(parse_size("99999999999999999999", &v), -ERANGE);
	ck_assert_int_eq(parse_size("17179869184G", &v), -ERANGE);
}
END_TEST

static enum config_result parse(struct config *c, char *err, size_t errlen, ...)
{
	char *argv[32] = { "shmdbd" };
	int argc = 1;
	va_list ap;
	va_start(ap, errlen);
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	va_end(ap);
	return config_parse(c, argc, argv, err, errlen);
}

START_TEST(config_defaults_and_flags)
{
	struct config c;
	char err[256];
	setenv("SHMDB_SOCKET", "/tmp/x/y.sock", 1);
	ck_assert_int_eq(parse(&c, err, sizeof(err), NULL), CONFIG_RUN);
	ck_assert_str_eq(c.socket_path, "/tmp/x/y.sock");
	ck_assert_uint_eq(c.arena_size, CONFIG_DEFAULT_ARENA_SIZE);
	ck_assert_str_eq(c.numa_nodes, "all");
	ck_assert_int_eq(c.hugepages, HUGEPAGES_AUTO);
	ck_assert_int_eq(c.writer_cpu, -1);
	ck_assert_uint_eq(c.socket_mode, 0600);
	ck_assert(!c.allow_group_set);

	ck_assert_int_eq(parse(&c, err, sizeof(err), "--socket", "/run/a.sock", "--arena-size", "64M",
			       "--numa-nodes", "0,2-3", "--hugepages", "1G", "--writer-cpu", "3",
			       "--allow-group", "0", NULL), CONFIG_RUN);
	ck_assert_str_eq(c.socket_path, "/run/a.sock");
	ck_assert_uint_eq(c.arena_size, 64ull << 20);
	ck_assert_str_eq(c.numa_nodes, "0,2-3");
	ck_assert_int_eq(c.hugepages, HUGEPAGES_1G);
	ck_assert_int_eq(c.writer_cpu, 3);
	ck_assert(c.allow_group_set);
	ck_assert_uint_eq(c.allow_group, 0);
	ck_assert_uint_eq(c.socket_mode, 0660);
	ck_assert_int_eq(parse(&c, err, sizeof(err), "--socket-mode", "0640", "--hugepages", "off",
			       "--writer-cpu", "auto", NULL), CONFIG_RUN);
	ck_assert_uint_eq(c.socket_mode, 0640);
	ck_assert_int_eq(c.hugepages, HUGEPAGES_OFF);
	ck_assert_int_eq(c.writer_cpu, -1);
	unsetenv("SHMDB_SOCKET");
}
END_TEST

START_TEST(config_errors_name_the_flag)
{
	static const char *const cases[][3] = {
		{ "--bogus", NULL, "--bogus" },
		{ "--arena-size", "12Q", "--arena-size" },
		{ "--arena-size", "0", "--arena-size" },
		{ "--arena-size", "512K", "--arena-size" },
		{ "--arena-size", "2T", "--arena-size" },
		{ "--hugepages", "3M", "--hugepages" },
		{ "--numa-nodes", "a,b", "--numa-nodes" },
		{ "--numa-nodes", "", "--numa-nodes" },
		{ "--writer-cpu", "x", "--writer-cpu" },
		{ "--writer-cpu", "-2", "--writer-cpu" },
		{ "--socket-mode", "999", "--socket-mode" },
		{ "--socket-mode", "", "--socket-mode" },
		{ "--allow-group", "no-such-group-here", "--allow-group" },
		{ "--socket", "", "--socket" },
		{ "--socket", NULL, "--socket" },
		{ "stray", NULL, "stray" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char err[256] = "";
		char *argv[4] = { "shmdbd", (char *)cases[i][0], (char *)cases[i][1], NULL };
		int argc = cases[i][1] ? 3 : 2;
		ck_assert_msg(config_parse(&c, argc, argv, err, sizeof(err)) == CONFIG_ERROR,
			      "case %zu accepted", i);
		ck_assert_msg(strstr(err, cases[i][2]), "case %zu: '%s' does not name %s", i, err,
			      cases[i][2]);
		ck_assert_msg(!strchr(err, '\n'), "case %zu: more than one line", i);
	}
}
END_TEST

START_TEST(default_socket_path)
{
	char buf[SHMDB_SOCKET_PATH_MAX];
	unsetenv("SHMDB_SOCKET");
	ck_assert_int_eq(shmdb_default_socket(buf, sizeof(buf)), 0);
	if (geteuid() == 0)
		ck_assert_str_eq(buf, "/run/shmdb/shmdb.sock");
	setenv("SHMDB_SOCKET", "/tmp/elsewhere.sock", 1);
	ck_assert_int_eq(shmdb_default_socket(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/tmp/elsewhere.sock");
	char longp[300];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	setenv("SHMDB_SOCKET", longp, 1);
	ck_assert_int_eq(shmdb_default_socket(buf, sizeof(buf)), -ENAMETOOLONG);
	ck_assert_int_eq(shmdb_default_socket(buf, 4), -ENAMETOOLONG);
	unsetenv("SHMDB_SOCKET");
}
END_TEST

/* Every code of shmdb.h's list, with the message the list gives it. */
#define ERROR_ENTRY(name, offset, message) { name, #name, message },
static const struct {
	int code;
	const char *name;
	const char *message;
} error_list[] = { SHMDB_ERRORS(ERROR_ENTRY) };
#undef ERROR_ENTRY

START_TEST(error_names)
{
	/* Every value from SHMDB_ERR_FIRST to SHMDB_ERR_LAST is a code of the
	 * list, named by the list's message, which no other code has. */
	ck_assert_int_eq(sizeof(error_list) / sizeof(error_list[0]), SHMDB_ERR_COUNT);
	ck_assert_int_eq(SHMDB_ERR_FIRST, SHMDB_ERR_BASE - 1);
	for (int e = SHMDB_ERR_FIRST; e >= SHMDB_ERR_LAST; e--) {
		const char *a = shmdb_strerror(e);
		ck_assert_ptr_nonnull(a);
		ck_assert_msg(strlen(a) > 0 && strcmp(a, "unknown error") != 0,
			      "code %d has no message", e);
		for (int f = SHMDB_ERR_FIRST; f > e; f--)
			ck_assert_msg(strcmp(a, shmdb_strerror(f)) != 0,
				      "codes %d and %d share the message \"%s\"", e, f, a);
	}
	for (size_t i = 0; i < sizeof(error_list) / sizeof(error_list[0]); i++) {
		ck_assert_msg(error_list[i].code <= SHMDB_ERR_FIRST &&
			      error_list[i].code >= SHMDB_ERR_LAST,
			      "%s is outside SHMDB_ERR_FIRST .. SHMDB_ERR_LAST", error_list[i].name);
		ck_assert_str_eq(shmdb_strerror(error_list[i].code), error_list[i].message);
	}
	/* The values programs were built against never change. */
	const int kept[] = { SHMDB_EVERSION, SHMDB_EPROTO, SHMDB_EREFUSED, SHMDB_ENODAEMON,
			     SHMDB_ESHUTDOWN, SHMDB_ECONFLICT, SHMDB_EBADTXN };
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		ck_assert_int_eq(kept[i], -1001 - (int)i);

	/* Past either end of the list, nothing is named. */
	ck_assert_str_eq(shmdb_strerror(SHMDB_ERR_LAST - 1), "unknown error");
	ck_assert_str_eq(shmdb_strerror(SHMDB_ERR_BASE), "unknown error");
	ck_assert_str_eq(shmdb_strerror(SHMDB_ERR_BASE - 999), "unknown error");
	ck_assert_str_eq(shmdb_strerror(1), "unknown error");

	/* errno values and 0 have names of their own, none a store code's. */
	const int other[] = { -ENOENT, -EACCES, -ENOSPC, 0 };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		const char *a = shmdb_strerror(other[i]);
		ck_assert(strlen(a) > 0);
		ck_assert_str_ne(a, "unknown error");
		for (int e = SHMDB_ERR_FIRST; e >= SHMDB_ERR_LAST; e--)
			ck_assert_str_ne(a, shmdb_strerror(e));
	}
	ck_assert_str_eq(shmdb_page_kind_name(SHMDB_PAGES_2M), "2M");
	ck_assert_str_eq(shmdb_page_kind_name(99), "?");
}
END_TEST

START_TEST(buffer_grows_by_doubling)
{
	uint8_t *buf = NULL;
	size_t cap = 0;
	ck_assert_int_eq(shm_buf_reserve(&buf, &cap, 0, 256), 0);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(shm_buf_reserve(&buf, &cap, 100, 256), 0);
	ck_assert_uint_eq(cap, 256);
	memset(buf, 0xa5, 100);
	ck_assert_int_eq(shm_buf_reserve(&buf, &cap, 256, 256), 0);
	ck_assert_uint_eq(cap, 256);
	ck_assert_int_eq(shm_buf_reserve(&buf, &cap, 1500, 256), 0);
	ck_assert_uint_eq(cap, 2048);
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(buf[i], 0xa5);
	/* No size can hold that much: nothing changes. */
	uint8_t *before = buf;
	ck_assert_int_eq(shm_buf_reserve(&buf, &cap, SIZE_MAX, 256), -ENOMEM);
	ck_assert_ptr_eq(buf, before);
	ck_assert_uint_eq(cap, 2048);
	free(buf);
}
END_TEST

static struct topology *synthetic(const char *desc)
{
	struct topology *t;
	char err[256];
	ck_assert_msg(topology_open(desc, &t, err, sizeof(err)) == 0, "%s", err);
	return t;
}

static void expect_nodes(struct topology *t, const char *spec, const int *want, unsigned nwant)
{
	int nodes[64];
	unsigned n;
	char err[256];
	ck_assert_msg(topology_parse_nodes(t, spec, nodes, 64, &n, err, sizeof(err)) == 0,
		      "%s: %s", spec, err);
	ck_assert_uint_eq(n, nwant);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(nodes[i], want[i]);
}

static void expect_bad_nodes(struct topology *t, const char *spec, const char *why)
{
	int nodes[64];
	unsigned n;
	char err[256] = "";
	ck_assert_int_eq(topology_parse_nodes(t, spec, nodes, 64, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, why), "%s: '%s' lacks '%s'", spec, err, why);
}

static int writer_cpu(struct topology *t, int node, int requested)
{
	int cpu = -1;
	char err[256];
	ck_assert_msg(topology_writer_cpu(t, node, requested, &cpu, err, sizeof(err)) == 0, "%s", err);
	return cpu;
}

/* 2 packages, one node each, 2 cores of 2 hardware threads: PUs 0-3 on
 * node 0, 4-7 on node 1. */
START_TEST(topology_two_nodes)
{
	struct topology *t = synthetic("pack:2 numa:1 core:2 pu:2");
	ck_assert_uint_eq(topology_node_count(t), 2);
	expect_nodes(t, "all", (int[]){ 0, 1 }, 2);
	expect_nodes(t, "1", (int[]){ 1 }, 1);
	expect_nodes(t, "1,0", (int[]){ 1, 0 }, 2);
	expect_bad_nodes(t, "2", "does not exist");
	expect_bad_nodes(t, "0,0", "twice");
	expect_bad_nodes(t, "0-1,1", "twice");
	expect_bad_nodes(t, "1-0", "not 'all'");
	expect_bad_nodes(t, "0,", "not 'all'");
	/* The writer: first thread of the last core of its node. */
	ck_assert_int_eq(writer_cpu(t, 0, -1), 2);
	ck_assert_int_eq(writer_cpu(t, 1, -1), 6);
	ck_assert_int_eq(writer_cpu(t, 1, 5), 5);
	int cpu;
	char err[256];
	ck_assert_int_eq(topology_writer_cpu(t, 0, 8, &cpu, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "cpu 8"));
	topology_close(t);
}
END_TEST

/* 2 packages of 2 nodes, 2 single-thread cores per node: node n has PUs
 * 2n and 2n+1. */
START_TEST(topology_four_nodes)
{
	struct topology *t = synthetic("pack:2 numa:2 core:2 pu:1");
	ck_assert_uint_eq(topology_node_count(t), 4);
	expect_nodes(t, "all", (int[]){ 0, 1, 2, 3 }, 4);
	expect_nodes(t, "1-3", (int[]){ 1, 2, 3 }, 3);
	expect_nodes(t, "0,2-3", (int[]){ 0, 2, 3 }, 3);
	expect_bad_nodes(t, "4", "does not exist");
	for (int node = 0; node < 4; node++)
		ck_assert_int_eq(writer_cpu(t, node, -1), 2 * node + 1);
	int nodes[2];
	unsigned n;
	char err[256];
	ck_assert_int_eq(topology_parse_nodes(t, "all", nodes, 2, &n, err, sizeof(err)), -EINVAL);
	topology_close(t);
}
END_TEST

/* The cpus near a node, the writer's core out, as the mask shmdb_arena_cpus
 * gives: "want" lists them. */
static void expect_near(struct topology *t, int node, int writer, const int *want, unsigned n)
{
	uint64_t mask[SHM_CPU_WORDS], expect[SHM_CPU_WORDS] = { 0 };
	for (unsigned i = 0; i < n; i++)
		expect[want[i] / 64] |= 1ull << (want[i] % 64);
	topology_near_cpus(t, node, writer, mask, SHM_CPU_WORDS);
	ck_assert_msg(!memcmp(mask, expect, sizeof(mask)), "node %d writer %d: %llx, want %llx",
		      node, writer, (unsigned long long)mask[0], (unsigned long long)expect[0]);
}

START_TEST(topology_near_cpus_leave_the_writer_core_out)
{
	/* 2 nodes of 2 cores of 2 threads: node 0 has 0-3, node 1 has 4-7. */
	struct topology *t = synthetic("pack:2 numa:1 core:2 pu:2");
	expect_near(t, 0, 2, (int[]){ 0, 1 }, 2);       /* the writer's core is 2-3 */
	expect_near(t, 1, 2, (int[]){ 4, 5, 6, 7 }, 4); /* another node: all of it */
	expect_near(t, 1, 7, (int[]){ 4, 5 }, 2);
	expect_near(t, 0, 1, (int[]){ 2, 3 }, 2);
	expect_near(t, -1, 0, (int[]){ 2, 3, 4, 5, 6, 7 }, 6); /* no NUMA: the machine */
	topology_close(t);
	/* 4 nodes of 2 single-thread cores: node n has 2n, 2n+1. */
	t = synthetic("pack:2 numa:2 core:2 pu:1");
	for (int node = 0; node < 4; node++) {
		int w = writer_cpu(t, 0, -1); /* 1 */
		if (node == 0)
			expect_near(t, node, w, (int[]){ 0 }, 1);
		else
			expect_near(t, node, w, (int[]){ 2 * node, 2 * node + 1 }, 2);
	}
	topology_close(t);
	/* One core only: nothing is near but the writer's. */
	t = synthetic("pack:1 numa:1 core:1 pu:2");
	expect_near(t, 0, 0, NULL, 0);
	topology_close(t);
}
END_TEST

/* shmdb_pin_thread's choice: the least used near cpu, the lowest of equals. */
START_TEST(pin_choice_spreads)
{
	uint64_t mask[SHMDB_MAX_CPUS / 64] = { 0 };
	ck_assert_int_eq(shm_pin_choose(mask, NULL, 0), -ENOENT);
	mask[0] = 0x3c; /* 2-5 */
	mask[1] = 1;    /* 64 */
	ck_assert_int_eq(shm_pin_choose(mask, NULL, 0), 2);
	shmdb_cpu_pins pins[] = { { 2, 3 }, { 3, 1 }, { 4, 1 }, { 5, 2 }, { 9, 0 } };
	ck_assert_int_eq(shm_pin_choose(mask, pins, 5), 64); /* unused */
	pins[4] = (shmdb_cpu_pins){ 64, 1 };
	ck_assert_int_eq(shm_pin_choose(mask, pins, 5), 3);
	pins[1].threads = 5;
	ck_assert_int_eq(shm_pin_choose(mask, pins, 5), 4);
}
END_TEST

/* ---- the writer's idle strategy (daemon/idle.c), on made-up times ---------- */

#define US 1000ull

/* n arrivals `period` apart from t (each served at once), the last at
 * the returned time. */
static uint64_t arrive(struct idle *s, uint64_t t, uint64_t period, int n)
{
	for (int i = 0; i < n; i++, t += period)
		idle_arrival(s, t, t - period);
	return t - period;
}

/* Eight arrivals 0.3 to 5 ms apart from 1 ms on, each served at once:
 * the last one's time. */
static uint64_t arrive_irregular(struct idle *s)
{
	static const uint64_t gaps[] = { 900, 3000, 400, 2500, 700, 5000, 300, 1500 };
	uint64_t t = 1000 * US;
	for (int i = 0; i < 8; i++) {
		idle_arrival(s, t + gaps[i] * US, t);
		t += gaps[i] * US;
	}
	return t;
}

/* 40 parks, each rung `price` before the writer ran: the measured price
 * of a wake-up moves there. */
static void wake_priced(struct idle *s, uint64_t price)
{
	for (uint64_t i = 0; i < 40; i++) {
		uint64_t woke = 1000000 * US + i * 1000 * US;
		idle_woke(s, woke, 0, woke - price);
	}
}

START_TEST(idle_spin_and_sleep)
{
	struct idle s;
	uint64_t timeout = 1;
	idle_init(&s, IDLE_SPIN, 200 * US);
	ck_assert_int_eq(idle_next(&s, 10000 * US, 0, &timeout), IDLE_POLL);
	idle_init(&s, IDLE_SLEEP, 200 * US);
	ck_assert_int_eq(idle_next(&s, 1 * US, 0, &timeout), IDLE_PARK);
	ck_assert_uint_eq(timeout, 0);
}
END_TEST

START_TEST(idle_backoff_dense_sparse_and_steady)
{
	struct idle s;
	uint64_t timeout;
	/* Dense: every 5 us, well under a wake-up (30 us before any is
	 * measured): poll through twice the gap, then park. */
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	uint64_t t = arrive(&s, 1000 * US, 5 * US, 50);
	ck_assert_int_eq(idle_next(&s, t + 8 * US, t, &timeout), IDLE_POLL);
	ck_assert_int_eq(idle_next(&s, t + 12 * US, t, &timeout), IDLE_PARK);
	ck_assert_uint_eq(timeout, 0); /* too fast to be worth a timer */
	/* The cap holds whatever the gaps. */
	idle_init(&s, IDLE_BACKOFF, 4 * US);
	t = arrive(&s, 1000 * US, 5 * US, 50);
	ck_assert_int_eq(idle_next(&s, t + 5 * US, t, &timeout), IDLE_PARK);

	/* Sparse and irregular: park after the burst window, no timeout. */
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	t = arrive_irregular(&s);
	ck_assert_int_eq(idle_next(&s, t + 1 * US, t, &timeout), IDLE_POLL);
	ck_assert_int_eq(idle_next(&s, t + 3 * US, t, &timeout), IDLE_PARK);
	ck_assert_uint_eq(timeout, 0);

	/* Steady, every 100 us: park with a timeout that ends before the
	 * next arrival by the timer's lateness and a margin ... */
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	t = arrive(&s, 1000 * US, 100 * US, 40);
	ck_assert_int_eq(idle_next(&s, t + 3 * US, t, &timeout), IDLE_PARK);
	ck_assert_uint_gt(timeout, 50 * US);
	uint64_t deadline = t + 3 * US + timeout;
	ck_assert_uint_lt(deadline, t + 100 * US);
	/* ... the timer is 10 us late: it polls through the arrival, and
	 * wakes earlier next time. */
	idle_woke(&s, deadline + 10 * US, deadline, 0);
	ck_assert_uint_eq(s.late_ns, 10 * US);
	ck_assert_int_eq(idle_next(&s, t + 99 * US, t, &timeout), IDLE_POLL);
	ck_assert_int_eq(idle_next(&s, t + 103 * US, t, &timeout), IDLE_POLL);
	idle_arrival(&s, t + 100 * US, t);
	ck_assert_int_eq(idle_next(&s, t + 103 * US, t + 100 * US, &timeout), IDLE_PARK);
	ck_assert_uint_lt(t + 103 * US + timeout, t + 200 * US - 10 * US);
	/* A park a millisecond late (the writer preempted) moves the
	 * estimate a little: the next gaps still park with a timeout. */
	t += 100 * US;
	deadline = t + 3 * US + timeout;
	idle_woke(&s, deadline + 1000 * US, deadline, 0);
	ck_assert_uint_le(s.late_ns, 10 * US + (4 * s.late_dev_ns + 10 * US) / 8 + 1 * US);
	for (int i = 0; i < 3; i++) {
		t += 100 * US;
		idle_arrival(&s, t, t - 100 * US);
		ck_assert_int_eq(idle_next(&s, t + 3 * US, t, &timeout), IDLE_PARK);
		ck_assert_uint_gt(timeout, 30 * US);
	}
}
END_TEST

/* Timed parks keep measuring: a first sample late enough to ask a lead
 * past the period does not end them for good; a park a stand-in
 * overtook makes the next ones end earlier and asks no poll-through. */
START_TEST(idle_timed_parks_keep_measuring)
{
	struct idle s;
	uint64_t timeout;
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	uint64_t t = arrive(&s, 1000 * US, 80 * US, 40);
	ck_assert_int_eq(idle_next(&s, t + 3 * US, t, &timeout), IDLE_PARK);
	uint64_t deadline = t + 3 * US + timeout;
	/* 60 us late (the first sample's cap: twice the 30 us wake-up). */
	idle_woke(&s, deadline + 60 * US, deadline, 0);
	ck_assert_uint_eq(s.late_ns, 60 * US);
	ck_assert_uint_eq(s.late_dev_ns, 15 * US);
	/* The lead (60 + 15 + margin) leaves no room for a timed park in an
	 * 80 us period: it polls through the next arrivals, and after
	 * PROBE_EVERY of them parks half way to the next one for a sample. */
	int polled = 0, probed = 0;
	for (int i = 0; i < 40 && !probed; i++) {
		t += 80 * US;
		idle_arrival(&s, t, t - 80 * US);
		enum idle_action a = idle_next(&s, t + 3 * US, t, &timeout);
		if (a == IDLE_POLL) {
			polled++;
			s.poll_until_ns = 0; /* as if the arrival came */
		} else {
			ck_assert_int_eq(a, IDLE_PARK);
			ck_assert_uint_gt(timeout, 35 * US); /* (80 - 3) / 2 */
			ck_assert_uint_lt(timeout, 42 * US);
			probed = 1;
		}
	}
	ck_assert_int_eq(probed, 1);
	ck_assert_int_ge(polled, 16);
	/* Overtaken: woken 20 us after the arrival a stand-in served. */
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	t = arrive(&s, 1000 * US, 100 * US, 40);
	ck_assert_int_eq(idle_next(&s, t + 3 * US, t, &timeout), IDLE_PARK);
	uint64_t before = timeout;
	deadline = t + 3 * US + timeout;
	idle_arrival(&s, t + 100 * US, t + 3 * US); /* the stand-in's */
	idle_missed(&s);
	idle_woke(&s, t + 120 * US, deadline, 0);
	ck_assert_uint_eq(s.miss_ns, 20 * US);
	ck_assert_uint_eq(s.poll_until_ns, 0);
	ck_assert_int_eq(idle_next(&s, t + 123 * US, t + 100 * US, &timeout), IDLE_PARK);
	ck_assert_uint_lt(timeout + 15 * US, before);
	/* A hit brings it down by an eighth. */
	deadline = t + 123 * US + timeout;
	idle_woke(&s, deadline + 1 * US, deadline, 0);
	ck_assert_uint_eq(s.miss_ns, 20 * US - 20 * US / 8);
	ck_assert_uint_gt(s.poll_until_ns, 0);
}
END_TEST

/* Steady traffic parks at once after its work, with a timeout (no burst
 * window: the next one comes a period on), and wants the writer's own
 * thread up rather than parked untimed (idle_watching: a stand-in then
 * hands the turn back); sparse irregular traffic and sleep do not. */
START_TEST(idle_steady_parks_at_once_and_wants_the_writer)
{
	struct idle s;
	uint64_t timeout;
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	ck_assert(!idle_watching(&s)); /* nothing measured yet */
	uint64_t t = arrive(&s, 1000 * US, 100 * US, 40);
	ck_assert(idle_watching(&s));
	ck_assert_int_eq(idle_next(&s, t, t, &timeout), IDLE_PARK);
	ck_assert_uint_gt(timeout, 0);
	/* Dense traffic wants it up too. */
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	arrive(&s, 1000 * US, 5 * US, 50);
	ck_assert(idle_watching(&s));
	/* Sparse and irregular: it may sleep untimed. */
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	t = arrive_irregular(&s);
	ck_assert(!idle_watching(&s));
	/* Under sleep, never: every commit is a stand-in's by choice. */
	idle_init(&s, IDLE_SLEEP, 200 * US);
	arrive(&s, 1000 * US, 100 * US, 40);
	ck_assert(!idle_watching(&s));
}
END_TEST

START_TEST(idle_wake_price_and_contention)
{
	struct idle s;
	uint64_t timeout;
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	/* Rung 40 us before it ran, again and again: the price moves there. */
	wake_priced(&s, 40 * US);
	ck_assert_uint_ge(s.wake_ns, 39 * US);
	ck_assert_uint_le(s.wake_ns, 41 * US);
	/* A forged stamp counts as a millisecond at most. */
	idle_woke(&s, 50000000 * US, 0, 1);
	ck_assert_uint_le(s.wake_ns, 40 * US + (1000 * US) / 8);
	/* Work that rang arrived when it rang. */
	idle_woke(&s, 2000 * US, 0, 1990 * US);
	idle_arrival(&s, 2000 * US, 1000 * US);
	ck_assert_uint_eq(s.last_arrival_ns, 1990 * US);
	/* Preempted since the last look: poll through the window, then yield
	 * once before parking; uncontended, park at once. */
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	uint64_t t = arrive(&s, 1000 * US, 5 * US, 50);
	idle_contention(&s, t, 5);
	ck_assert(!s.contended);
	idle_contention(&s, t + 2000 * US, 9);
	ck_assert(s.contended);
	ck_assert_int_eq(idle_next(&s, t + 1 * US, t, &timeout), IDLE_POLL);
	ck_assert_int_eq(idle_next(&s, t + 300 * US, t, &timeout), IDLE_YIELD);
	ck_assert_int_eq(idle_next(&s, t + 301 * US, t, &timeout), IDLE_PARK);
	idle_arrival(&s, t + 1000 * US, t + 301 * US);
	ck_assert_int_eq(idle_next(&s, t + 1300 * US, t + 1000 * US, &timeout), IDLE_YIELD);
	idle_contention(&s, t + 4000 * US, 9);
	ck_assert(!s.contended);
	idle_arrival(&s, t + 5000 * US, t + 4000 * US);
	ck_assert_int_eq(idle_next(&s, t + 5001 * US, t + 5000 * US, &timeout), IDLE_POLL);
	ck_assert_int_eq(idle_next(&s, t + 5300 * US, t + 5000 * US, &timeout), IDLE_PARK);
	ck_assert_uint_eq(idle_client_spin_ns(&s), 20000);
}
END_TEST

/* On a contended cpu, the time a yield keeps the writer away is a price
 * of stepping aside too, up to twice a wake-up: commits about 10 us apart
 * (5 and 15 in turn, not steady), a wake-up of 6 us. Uncontended, that
 * traffic is sparse: park after the burst window. Contended, with yields
 * that keep the writer away 20 us, it is dense: poll through twice the
 * gap, then yield. Yields that find nothing else to run (1 us) bring the
 * wake-up's price back. */
START_TEST(idle_contended_yield_price)
{
	struct idle s;
	uint64_t timeout;
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	wake_priced(&s, 6 * US);
	ck_assert_uint_le(s.wake_ns, 7 * US);
	uint64_t t = 100000 * US;
	for (int i = 0; i < 50; i++) {
		uint64_t next = t + (i % 2 ? 15 : 5) * US;
		idle_arrival(&s, next, t);
		t = next;
	}
	ck_assert(!idle_dense(&s));
	ck_assert_int_eq(idle_next(&s, t + 5 * US, t, &timeout), IDLE_PARK);
	for (int i = 0; i < 40; i++)
		idle_yielded(&s, 20 * US);
	ck_assert(!idle_dense(&s)); /* uncontended: the yields' time is no price */
	idle_contention(&s, t, 5);
	idle_contention(&s, t + 2000 * US, 9);
	ck_assert(s.contended);
	ck_assert(idle_dense(&s));
	ck_assert_int_eq(idle_next(&s, t + 15 * US, t, &timeout), IDLE_POLL);
	ck_assert_int_eq(idle_next(&s, t + 25 * US, t, &timeout), IDLE_YIELD);
	/* Yields of a time slice (a millisecond) count as twice a wake-up:
	 * still dense at 10 us, not at 15. */
	for (int i = 0; i < 40; i++)
		idle_yielded(&s, 1000 * US);
	ck_assert(idle_dense(&s));
	for (int i = 0; i < 40; i++, t += 15 * US)
		idle_arrival(&s, t + 15 * US, t);
	ck_assert(!idle_dense(&s));
	/* Yields that find nothing else to run leave a wake-up's price. */
	t = arrive(&s, t, 10 * US, 40);
	ck_assert(idle_dense(&s));
	for (int i = 0; i < 40; i++)
		idle_yielded(&s, 1 * US);
	ck_assert(!idle_dense(&s));
}
END_TEST

/* On a contended cpu, time away from waiting for work (the writer off its
 * cpu) is not quiet: commits 45 us apart, 35 of them away, are 10 us apart
 * for the strategy; and a window of polling counts only the time the
 * writer was there. Uncontended, time away is ignored. */
START_TEST(idle_time_away_is_not_quiet)
{
	struct idle s;
	uint64_t timeout;
	idle_init(&s, IDLE_BACKOFF, 200 * US);
	uint64_t t = 100000 * US;
	idle_away(&s, 35 * US);
	idle_arrival(&s, t + 45 * US, t);
	ck_assert_uint_eq(s.gap_ns, 45 * US);
	t += 45 * US;
	idle_contention(&s, t, 5);
	idle_contention(&s, t + 2000 * US, 9);
	ck_assert(s.contended);
	for (int i = 0; i < 50; i++) {
		idle_away(&s, 35 * US);
		idle_arrival(&s, t + 45 * US, t);
		t += 45 * US;
	}
	ck_assert_uint_ge(s.gap_ns, 10 * US - 1);
	ck_assert_uint_le(s.gap_ns, 10 * US + 100); /* 45 us fading by an eighth */
	ck_assert(idle_dense(&s)); /* under the 30 us wake-up assumed at first */
	/* Dense: poll through twice the gap, 20 us, of presence (then, the
	 * cpu contended, yield before parking). */
	ck_assert_int_eq(idle_next(&s, t + 25 * US, t, &timeout), IDLE_YIELD);
	s.yielded = false;
	idle_away(&s, 10 * US);
	ck_assert_int_eq(idle_next(&s, t + 25 * US, t, &timeout), IDLE_POLL);
	/* The next arrival starts afresh. */
	idle_arrival(&s, t + 30 * US, t);
	ck_assert_uint_eq(s.away_quiet_ns, 0);
}
END_TEST

START_TEST(topology_bad_synthetic)
{
	struct topology *t = NULL;
	char err[256] = "";
	ck_assert_int_eq(topology_open("no such thing:7", &t, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_ptr_nonnull(strstr(err, "synthetic"));
}
END_TEST

START_TEST(this_machine_topology)
{
	struct topology *t;
	char err[256];
	ck_assert_int_eq(topology_open(NULL, &t, err, sizeof(err)), 0);
	ck_assert_uint_ge(topology_node_count(t), 1);
	int cpu = writer_cpu(t, 0, -1);
	ck_assert_int_ge(cpu, 0);
	ck_assert_int_lt(cpu, sysconf(_SC_NPROCESSORS_CONF));
	topology_close(t);
}
END_TEST

/* Huge-page planning from a budget: with none to be had, auto falls back
 * and says why; 2M and 1G refuse and name the knob and the count. */
START_TEST(hugepage_plans)
{
	struct config c;
	char err[512];
	struct arena_plan p;
	char *argv[] = { "shmdbd", "--socket", "/tmp/plan.sock", "--arena-size", "20M", NULL };
	ck_assert_int_eq(config_parse(&c, 5, argv, err, sizeof(err)), CONFIG_RUN);

	struct hugepage_budget none = { 0, 0 };
	ck_assert_int_eq(arena_plan(&c, 0, &none, &p, err, sizeof(err)), 0);
	ck_assert(p.page_kind == SHMDB_PAGES_4K || p.page_kind == SHMDB_PAGES_4K_THP);
	ck_assert_uint_eq(p.size, 20ull << 20);
	ck_assert_ptr_nonnull(strstr(p.note, "fallback"));
	ck_assert_ptr_nonnull(strstr(p.note, "10 needed"));

	c.hugepages = HUGEPAGES_2M;
	err[0] = 0;
	ck_assert_int_eq(arena_plan(&c, 0, &none, &p, err, sizeof(err)), -ENOMEM);
	ck_assert_ptr_nonnull(strstr(err, "/proc/sys/vm/nr_hugepages"));
	ck_assert_ptr_nonnull(strstr(err, "needs 10 free huge pages"));

	c.hugepages = HUGEPAGES_1G;
	ck_assert_int_eq(arena_plan(&c, 0, &none, &p, err, sizeof(err)), -ENOMEM);
	ck_assert_ptr_nonnull(strstr(err, "1 GiB"));

	c.hugepages = HUGEPAGES_OFF;
	c.arena_size = (3ull << 20) + 1;
	ck_assert_int_eq(arena_plan(&c, 0, &none, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.size, 4ull << 20); /* rounded up to 2 MiB for THP */
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The benchmark's histogram: every quantile within 1% of the exact one. */
START_TEST(histogram_error_under_one_percent)
{
	static struct hist h;
	hist_reset(&h);
	uint64_t x = 88172645463325252ull;
	enum { N = 200000 };
	static uint64_t v[N];
	for (int i = 0; i < N; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = (x % 1000000) * ((x >> 40) % 4 == 0 ? 1000 : 1); /* a long tail */
		hist_add(&h, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp_u64);
	const double qs[] = { 0.0, 0.5, 0.9, 0.99, 0.999, 0.9999 };
	for (int i = 0; i < 6; i++) {
		uint64_t exact = v[(size_t)(qs[i] * (N - 1))];
		uint64_t got = hist_quantile(&h, qs[i]);
		ck_assert_msg(got >= exact && (double)(got - exact) <= 0.01 * (double)exact + 1,
			      "q %.4f: %llu vs exact %llu", qs[i], (unsigned long long)got,
			      (unsigned long long)exact);
	}
	ck_assert_uint_eq(hist_quantile(&h, 1.0), v[N - 1]);
	ck_assert_uint_eq(h.count, N);
}
END_TEST

/* The arena allocator against a model: random gets and puts of mixed
 * sizes hand out blocks that never overlap a live one (each live block
 * keeps the pattern written into it), count their bytes, and once
 * everything is freed serve the same requests again without growing. */
enum { ALLOC_TEST_ARENA = 16 << 20, ALLOC_TEST_BLOCKS = 3000 };
static uint64_t test_off[ALLOC_TEST_BLOCKS];
static size_t test_size[ALLOC_TEST_BLOCKS];

static void fill(uint8_t *base, int i, int check)
{
	uint64_t word = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	/* ck_abort, not ck_assert: in fork mode each passing ck_assert
	 * sends the parent a message. */
	for (size_t b = 0; b + 8 <= test_size[i]; b += 8) {
		if (!check)
			memcpy(base + test_off[i] + b, &word, 8);
		else if (memcmp(base + test_off[i] + b, &word, 8))
			ck_abort_msg("block %d (%zu bytes at %llu) changed at byte %zu", i,
				     test_size[i], (unsigned long long)test_off[i], b);
	}
}

/* The writer's notes of versions reached from replaced leaves (reach.c)
 * against a model: 200,000 random notes, takes and forgets over 3,000
 * offsets (clustered, so probe runs wrap and deletions move entries
 * back), the tables growing from empty, the horizon rising as the
 * writer's does. A take returns the earliest snapshot of every note a
 * snapshot may still need (until past the horizon), and never one earlier
 * than the notes of that version ever made: a note no snapshot needs may
 * stay (reach.h says why that is harmless), and goes with its generation. */
enum { REACH_OFFS = 3000, REACH_NOTES_MAX = 48 };

struct reach_model {
	unsigned n;  /* notes of this version since its last take */
	uint64_t from[REACH_NOTES_MAX], until[REACH_NOTES_MAX];
	uint32_t table;
};

static uint64_t reach_rng = 88172645463325252ull;

static uint64_t reach_rand(void)
{
	return test_xorshift(&reach_rng);
}

/* What a take of m may return, at horizon h: [*lo, *hi], with *hi
 * UINT64_MAX if no note is needed (then any earlier note's from, or
 * UINT64_MAX, is right). */
static void reach_expect(const struct reach_model *m, uint64_t h, uint64_t *lo, uint64_t *hi)
{
	*lo = *hi = UINT64_MAX;
	for (unsigned k = 0; k < m->n; k++) {
		if (m->from[k] < *lo)
			*lo = m->from[k];
		if (m->until[k] > h && m->from[k] < *hi)
			*hi = m->from[k];
	}
}

START_TEST(reach_notes_against_a_model)
{
	static struct reach_model m[REACH_OFFS];
	struct reach r = { 0 };
	uint64_t horizon = 0;
	size_t taken = 0, forgot = 0, stale = 0;
	for (int step = 0; step < 200000; step++) {
		unsigned i = (unsigned)(reach_rand() % REACH_OFFS);
		uint64_t off = 4096 + 8 * (uint64_t)i;
		uint64_t a = horizon + reach_rand() % 1000, b = a + 1 + reach_rand() % 1000;
		uint32_t table = (uint32_t)(reach_rand() % 4);
		switch (reach_rand() % 8) {
		case 0: case 1: case 2: case 3: /* note */
			if (!m[i].n)
				m[i].table = table;
			ck_assert_int_eq(reach_note(&r, off, a, b, m[i].table), 0);
			ck_assert_uint_lt(m[i].n, REACH_NOTES_MAX);
			m[i].from[m[i].n] = a;
			m[i].until[m[i].n++] = b;
			break;
		case 4: case 5: case 6: { /* take */
			uint64_t got = reach_take(&r, off), lo, hi;
			reach_expect(&m[i], horizon, &lo, &hi);
			if (hi != UINT64_MAX) {
				ck_assert_uint_ge(got, lo);
				ck_assert_uint_le(got, hi);
			} else {
				ck_assert(got == UINT64_MAX || got >= lo);
				stale += got != UINT64_MAX;
			}
			taken += m[i].n != 0;
			m[i].n = 0;
			break;
		}
		default:
			if (reach_rand() % 50)
				break;
			if (reach_rand() % 2) {
				reach_forget_table(&r, table);
				for (unsigned k = 0; k < REACH_OFFS; k++)
					if (m[k].n && m[k].table == table)
						m[k].n = 0, forgot++;
			} else {
				horizon += reach_rand() % 400;
				reach_forget_before(&r, horizon);
			}
		}
	}
	ck_assert_uint_gt(taken, 10000);
	ck_assert_uint_gt(forgot, 1000);
	/* Everything still needed is found, once. */
	for (unsigned k = 0; k < REACH_OFFS; k++) {
		uint64_t got = reach_take(&r, 4096 + 8 * (uint64_t)k), lo, hi;
		reach_expect(&m[k], horizon, &lo, &hi);
		if (hi != UINT64_MAX)
			ck_assert(got >= lo && got <= hi);
		ck_assert_uint_eq(reach_take(&r, 4096 + 8 * (uint64_t)k), UINT64_MAX);
	}
	ck_assert_uint_eq(reach_count(&r), 0);
	reach_free(&r);
	printf("reach: %zu takes, %zu forgotten by table, %zu stale notes taken\n", taken, forgot,
	       stale);
}
END_TEST

/* Generations: once no snapshot needs the old one's notes it goes whole,
 * and the current one becomes the old; a big table is given back, and one
 * takes left mostly empty gets smaller (a probe of a big table costs a
 * cache miss at every overwrite). */
START_TEST(reach_table_shrinks_when_notes_go)
{
	struct reach r = { 0 };
	for (uint64_t k = 0; k < 100000; k++)
		ck_assert_int_eq(reach_note(&r, 4096 + 8 * k, k, 1000 + k, 1), 0);
	ck_assert_uint_ge(r.cur.cap, 131072);
	/* Still needed: they become the old generation. */
	reach_forget_before(&r, 1000);
	ck_assert_uint_eq(r.old.n, 100000);
	ck_assert_uint_eq(r.cur.n, 0);
	for (uint64_t k = 0; k < 100; k++) /* the next commits' */
		ck_assert_int_eq(reach_note(&r, 8 + 8 * k, k, 200000 + k, 2), 0);
	reach_forget_before(&r, 1000 + 99998); /* one old note still needed */
	ck_assert_uint_eq(reach_count(&r), 100100);
	/* None of the old ones needed: that big table goes, the 100 newest
	 * become the old generation. */
	reach_forget_before(&r, 1000 + 99999);
	ck_assert_uint_eq(r.old.n, 100);
	ck_assert_uint_le(r.old.cap, 1024);
	ck_assert_uint_eq(r.cur.n, 0);
	ck_assert_uint_eq(r.cur.cap, 0);
	for (uint64_t k = 0; k < 100; k++)
		ck_assert_uint_eq(reach_take(&r, 8 + 8 * k), k);
	ck_assert_uint_eq(reach_take(&r, 4096), UINT64_MAX);
	ck_assert_uint_eq(reach_count(&r), 0);
	/* Noted in both generations: taken from both, the earlier from. */
	ck_assert_int_eq(reach_note(&r, 8, 7, 300000, 1), 0);
	reach_forget_before(&r, 200100);
	ck_assert_int_eq(reach_note(&r, 8, 5, 300001, 1), 0);
	ck_assert_uint_eq(r.old.n, 1);
	ck_assert_uint_eq(r.cur.n, 1);
	ck_assert_uint_eq(reach_take(&r, 8), 5);
	ck_assert_uint_eq(reach_count(&r), 0);
	reach_free(&r);
	/* Takes leave a big table mostly empty: it gets smaller. */
	struct reach taken = { 0 };
	for (uint64_t k = 0; k < 10000; k++)
		ck_assert_int_eq(reach_note(&taken, 4096 + 8 * k, k, 100000, 1), 0);
	size_t big = taken.cur.cap;
	for (uint64_t k = 0; k < 9900; k++)
		ck_assert_uint_eq(reach_take(&taken, 4096 + 8 * k), k);
	reach_forget_before(&taken, 10);
	ck_assert_uint_eq(reach_count(&taken), 100);
	ck_assert_uint_lt(taken.old.cap, big);
	for (uint64_t k = 9900; k < 10000; k++)
		ck_assert_uint_eq(reach_take(&taken, 4096 + 8 * k), k);
	reach_free(&taken);
	/* Forgetting with no notes ever made is no fault. */
	struct reach none = { 0 };
	reach_forget_before(&none, 5);
	ck_assert_uint_eq(none.cur.cap + none.old.cap, 0);
	ck_assert_uint_eq(reach_take(&none, 8), UINT64_MAX);
}
END_TEST

START_TEST(allocator_reuses_without_overlap)
{
	static const size_t sizes[] = { 16, 24, 48, 60, 100, 152, 160, 300, 1000, 5000 };
	uint8_t *base = aligned_alloc(64, ALLOC_TEST_ARENA);
	ck_assert_ptr_nonnull(base);
	struct alloc a;
	alloc_init(&a, base);
	alloc_add_arena(&a, 64, ALLOC_TEST_ARENA);
	uint64_t x = 88172645463325252ull, used = 0;
	for (int round = 0; round < 300000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int i = (int)(x % ALLOC_TEST_BLOCKS);
		if (test_off[i]) {
			fill(base, i, 1);
			alloc_put(&a, test_off[i], test_size[i]);
			used -= alloc_class_size(test_size[i]);
			test_off[i] = 0;
		} else {
			test_size[i] = sizes[(x >> 32) % (sizeof(sizes) / sizeof(sizes[0]))];
			test_off[i] = alloc_get(&a, test_size[i]);
			if (!test_off[i] ||
			    test_off[i] % (alloc_class_size(test_size[i]) >= 64 ? 64 : 16))
				ck_abort_msg("%zu bytes at %llu", test_size[i],
					     (unsigned long long)test_off[i]);
			fill(base, i, 0);
			used += alloc_class_size(test_size[i]);
		}
		if (alloc_used(&a) != used)
			ck_abort_msg("round %d: %llu bytes used, want %llu", round,
				     (unsigned long long)alloc_used(&a), (unsigned long long)used);
	}
	for (int i = 0; i < ALLOC_TEST_BLOCKS; i++)
		if (test_off[i])
			fill(base, i, 1);
	/* Free every live block, then ask for them again: all come back
	 * from the freed blocks, none from fresh arena. */
	uint64_t bump = a.arena[0].bump;
	for (int i = 0; i < ALLOC_TEST_BLOCKS; i++)
		if (test_off[i])
			alloc_put(&a, test_off[i], test_size[i]);
	ck_assert_uint_eq(alloc_used(&a), 0);
	for (int i = 0; i < ALLOC_TEST_BLOCKS; i++) {
		if (!test_off[i])
			continue;
		test_off[i] = alloc_get(&a, test_size[i]);
		if (!test_off[i])
			ck_abort_msg("block %d: no room", i);
		fill(base, i, 0);
	}
	for (int i = 0; i < ALLOC_TEST_BLOCKS; i++)
		if (test_off[i])
			fill(base, i, 1);
	ck_assert_uint_eq(alloc_used(&a), used);
	ck_assert_uint_eq(a.arena[0].bump, bump);
	free(base);
}
END_TEST

/* Free blocks serve smaller classes once the arena's fresh space is gone:
 * a store of large values deleted takes small ones (tombstones, new
 * records) in the same bytes, aligned, never two blocks on one byte. */
START_TEST(allocator_cuts_large_free_blocks_for_small_ones)
{
	enum { ARENA = 1 << 20, UNITS = ARENA / 16 };
	static const size_t small[] = { 16, 40, 48, 64, 100, 200, 300 };
	uint8_t *base = aligned_alloc(64, ARENA);
	static uint64_t big[ARENA / 1000];
	static uint8_t owner[UNITS]; /* per 16 bytes: 1 while a small block holds them */
	ck_assert_ptr_nonnull(base);
	memset(owner, 0, sizeof(owner));
	struct alloc a;
	alloc_init(&a, base);
	alloc_add_arena(&a, 64, ARENA);
	size_t nbig = 0;
	while ((big[nbig] = alloc_get(&a, 1000)))
		nbig++;
	ck_assert_uint_gt(nbig, 600);
	for (size_t i = 0; i < nbig; i++)
		alloc_put(&a, big[i], 1000);
	ck_assert_uint_eq(alloc_used(&a), 0);
	uint64_t got = 0;
	for (unsigned n = 0;; n++) {
		size_t size = small[n % (sizeof(small) / sizeof(small[0]))];
		uint64_t off = alloc_get(&a, size);
		if (!off)
			break;
		size_t cs = alloc_class_size(size);
		if (off % (cs >= 64 ? 64 : 16) || off + cs > ARENA)
			ck_abort_msg("%zu bytes at %llu", size, (unsigned long long)off);
		for (uint64_t u = off / 16; u < (off + cs) / 16; u++) {
			if (owner[u])
				ck_abort_msg("%zu bytes at %llu overlap", size, (unsigned long long)off);
			owner[u] = 1;
		}
		got += cs;
	}
	/* All but the tails of the last blocks cut: over 97% of what was freed. */
	ck_assert_uint_ge(got * 100, (uint64_t)nbig * alloc_class_size(1000) * 97);
	ck_assert_uint_eq(alloc_used(&a), got);
	free(base);
}
END_TEST

int main(void)
{
	/* Not the host's /etc/shmdb/shmdbd.conf (test_config tests files). */
	setenv("SHMDB_CONFIG", "/dev/null", 1);
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("parsing");
	tcase_add_test(tc, sizes_parse);
	tcase_add_test(tc, config_defaults_and_flags);
	tcase_add_test(tc, config_errors_name_the_flag);
	tcase_add_test(tc, default_socket_path);
	tcase_add_test(tc, error_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("topology");
	tcase_add_test(tc, topology_two_nodes);
	tcase_add_test(tc, topology_four_nodes);
	tcase_add_test(tc, topology_bad_synthetic);
	tcase_add_test(tc, topology_near_cpus_leave_the_writer_core_out);
	tcase_add_test(tc, pin_choice_spreads);
	tcase_add_test(tc, idle_spin_and_sleep);
	tcase_add_test(tc, idle_backoff_dense_sparse_and_steady);
	tcase_add_test(tc, idle_timed_parks_keep_measuring);
	tcase_add_test(tc, idle_steady_parks_at_once_and_wants_the_writer);
	tcase_add_test(tc, idle_wake_price_and_contention);
	tcase_add_test(tc, idle_contended_yield_price);
	tcase_add_test(tc, idle_time_away_is_not_quiet);
	tcase_add_test(tc, this_machine_topology);
	tcase_add_test(tc, hugepage_plans);
	tcase_add_test(tc, histogram_error_under_one_percent);
	suite_add_tcase(s, tc);
	tc = tcase_create("allocator");
	tcase_add_test(tc, allocator_reuses_without_overlap);
	tcase_add_test(tc, allocator_cuts_large_free_blocks_for_small_ones);
	tcase_add_test(tc, reach_notes_against_a_model);
	tcase_add_test(tc, reach_table_shrinks_when_notes_go);
	tcase_add_test(tc, buffer_grows_by_doubling);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
