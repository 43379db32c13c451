/*
 * grace.c - the grace thread (see grace.h).
 *
 * Invariant: completed only ever takes a value of requested that the thread
 * loaded before its membarrier call, so grace_passed(gen) implies a whole
 * membarrier ran after request `gen` was made.
 *
 * Ordering: the writer's stores (commit_ts among them) precede its
 * sequentially consistent store of `requested`; the thread's acquire load
 * of it precedes the membarrier system call, which fences every cpu after
 * it begins; the thread's release store of `completed` follows the call's
 * return, and the writer's acquire load of it precedes the slot scan. So
 * the commit is visible before the fences, and the fences before the scan.
 */
#include "grace.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *grace_main(void *arg)
{
	struct grace *g = arg;
	uint32_t done = __atomic_load_n(&g->completed, __ATOMIC_RELAXED);

	for (;;) {
		uint32_t want = __atomic_load_n(&g->requested, __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE))
			break;
		if (want == done) {
			syscall(SYS_futex, &g->requested, FUTEX_WAIT_PRIVATE, want, NULL, NULL, 0);
			continue;
		}
		syscall(SYS_membarrier, g->plain_cmd, 0, 0);
		done = want;
		/* Release: the membarrier returned before the writer scans. */
		__atomic_store_n(&g->completed, done, __ATOMIC_RELEASE);
	}
	return NULL;
}

int grace_start(struct grace *g, int cpu)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (cmds < 0)
		cmds = 0;
	g->requested = g->completed = g->stop = 0;
	g->threaded = false;
	g->expedited_cmd = cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED ? MEMBARRIER_CMD_GLOBAL_EXPEDITED : 0;
	/* Without the plain command (nohz_full kernels) the thread still keeps
	 * the expedited one's wait off the writer. */
	g->plain_cmd = cmds & MEMBARRIER_CMD_GLOBAL ? MEMBARRIER_CMD_GLOBAL : g->expedited_cmd;
	if (!g->plain_cmd)
		return 0;

	pthread_attr_t attr;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int e = pthread_attr_init(&attr);
	if (e)
		return -e;
	e = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!e)
		e = pthread_create(&g->thread, &attr, grace_main, g);
	pthread_attr_destroy(&attr);
	g->threaded = !e;
	return -e;
}

void grace_stop(struct grace *g)
{
	if (!g->threaded)
		return;
	__atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&g->requested, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &g->requested, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(g->thread, NULL);
	g->threaded = false;
}

uint32_t grace_request(struct grace *g)
{
	uint32_t gen = g->requested + 1;
	/* Sequentially consistent: every earlier store of the writer, and the
	 * full fence readers without membarrier pair with, come first. */
	__atomic_store_n(&g->requested, gen, __ATOMIC_SEQ_CST);
	if (g->threaded)
		syscall(SYS_futex, &g->requested, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	else
		__atomic_store_n(&g->completed, gen, __ATOMIC_RELEASE);
	return gen;
}

bool grace_passed(const struct grace *g, uint32_t gen)
{
	return (int32_t)(__atomic_load_n(&g->completed, __ATOMIC_ACQUIRE) - gen) >= 0;
}

void grace_sync(struct grace *g)
{
	/* Orders the caller's commit_ts stores before its later slot loads,
	 * for readers that fence themselves. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (g->expedited_cmd)
		syscall(SYS_membarrier, g->expedited_cmd, 0, 0);
}
