/*
 * test_pin.c - pinning readers near their arena, on a real daemon: the cpus
 * shmdb_arena_cpus and `shmdb cpus` give are hwloc's for the arena's node
 * with the writer's core left out; shmdb_pin_thread pins each calling
 * thread to one of them, the daemon's report counts the pins until the
 * threads exit, and bad flags change nothing. (The choice among many cpus
 * and the near sets of multi-node machines: test_units, on synthetic
 * topologies.)
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "layout.h"
#include "topology.h"

#define THREADS 3

static struct test_daemon d;
static shmdb *db;
static pthread_barrier_t pinned, counted;

struct pin_result {
	int flags;  /* what the thread asks for */
	int cpu;
	int only_that_cpu;
};

static void *pin_one(void *arg)
{
	struct pin_result *res = arg;
	res->cpu = shmdb_pin_thread(db, res->flags);
	cpu_set_t set;
	CPU_ZERO(&set);
	res->only_that_cpu = res->cpu >= 0 && sched_getaffinity(0, sizeof(set), &set) == 0 &&
			     CPU_COUNT(&set) == 1 && CPU_ISSET(res->cpu, &set);
	pthread_barrier_wait(&pinned);
	pthread_barrier_wait(&counted); /* the pin holds while the parent counts */
	return NULL;
}

static unsigned pinned_threads(void)
{
	shmdb_report *r;
	ck_assert_int_eq(shmdb_report_get(db, &r), 0);
	unsigned n = 0;
	for (size_t i = 0; i < r->npins; i++)
		n += r->pins[i].threads;
	shmdb_report_free(r);
	return n;
}

START_TEST(readers_pin_near_their_arena)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	db = test_open(&d);
	shmdb_info info;
	ck_assert_int_eq(shmdb_info_get(db, &info), 0);
	shmdb_arena_info a;
	ck_assert_int_eq(shmdb_arena_info_get(db, 0, &a), 0);

	/* What the daemon published is hwloc's near set for this machine. */
	uint64_t mask[SHMDB_MAX_CPUS / 64], want[SHM_CPU_WORDS];
	ck_assert_int_eq(shmdb_arena_cpus(db, 0, mask), 0);
	struct topology *t;
	char err[256];
	ck_assert_int_eq(topology_open(NULL, &t, err, sizeof(err)), 0);
	topology_near_cpus(t, a.numa_node, info.writer_cpu, want, SHM_CPU_WORDS);
	topology_close(t);
	ck_assert(!memcmp(mask, want, sizeof(want)));
	ck_assert(!(mask[info.writer_cpu / 64] >> (info.writer_cpu % 64) & 1));
	ck_assert_int_eq(shmdb_arena_cpus(db, info.arena_count, mask), -EINVAL);

	/* `shmdb cpus` prints the same set as a list. */
	char out[4096], errs[1024], line[128], list[96] = "";
	ck_assert_int_eq(test_run(test_shmdb_tool_path,
				  (const char *const[]){ "cpus", "--socket", d.sock, NULL }, out,
				  sizeof(out), errs, sizeof(errs)), 0);
	for (unsigned c = 0, first = 1; c < SHMDB_MAX_CPUS; c++) {
		if (!(mask[c / 64] >> (c % 64) & 1))
			continue;
		unsigned end = c;
		while (end + 1 < SHMDB_MAX_CPUS && (mask[(end + 1) / 64] >> ((end + 1) % 64) & 1))
			end++;
		size_t len = strlen(list);
		snprintf(list + len, sizeof(list) - len, end > c ? "%s%u-%u" : "%s%u", first ? "" : ",",
			 c, end);
		first = 0;
		c = end;
	}
	snprintf(line, sizeof(line), "arena 0 node %d: %s\n", a.numa_node, list[0] ? list : "none");
	ck_assert_msg(strstr(out, line), "want '%s' in:\n%s", line, out);

	/* Bad flags: refused, nothing pinned. */
	ck_assert_int_eq(shmdb_pin_thread(db, 2), -EINVAL);
	ck_assert_int_eq(shmdb_pin_thread(db, SHMDB_PIN_NODE(63)), -EINVAL);
	ck_assert_int_eq(shmdb_pin_thread(db, SHMDB_PIN_ANY_NODE | SHMDB_PIN_NODE(0)), -EINVAL);
	ck_assert_uint_eq(pinned_threads(), 0);

	if (!list[0]) { /* a machine whose only core is the writer's */
		ck_assert_int_eq(shmdb_pin_thread(db, 0), -ENOENT);
		shmdb_close(db);
		ck_assert_int_eq(test_daemon_stop(&d), 0);
		return;
	}
	pthread_t th[THREADS];
	struct pin_result res[THREADS];
	pthread_barrier_init(&pinned, NULL, THREADS + 1);
	pthread_barrier_init(&counted, NULL, THREADS + 1);
	/* One thread each way of asking: the first arena's, node n's, any. */
	const int flags[THREADS] = { 0, SHMDB_PIN_NODE(a.numa_node), SHMDB_PIN_ANY_NODE };
	for (int i = 0; i < THREADS; i++) {
		res[i].flags = flags[i];
		ck_assert_int_eq(pthread_create(&th[i], NULL, pin_one, &res[i]), 0);
	}
	pthread_barrier_wait(&pinned);
	unsigned during = pinned_threads();
	pthread_barrier_wait(&counted);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_ge(res[i].cpu, 0);
		ck_assert(mask[res[i].cpu / 64] >> (res[i].cpu % 64) & 1);
		ck_assert(res[i].only_that_cpu);
	}
	ck_assert_uint_eq(during, THREADS);
	ck_assert_uint_eq(pinned_threads(), 0); /* gone with their threads */
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pin");
	TCase *tc = tcase_create("pin");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, readers_pin_near_their_arena);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
