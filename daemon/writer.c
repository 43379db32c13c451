/*
 * writer.c - the writer thread's life: started pinned, registered with RCU
 * (it will read the session registry), stopped through a futex word.
 *
 * Ordering: writer_stop stores stop = 1 with release order and then wakes the
 * futex; the thread loads it with acquire order before each wait, and
 * FUTEX_WAIT rechecks the word atomically, so a wake between the load and the
 * wait is not lost.
 */
#include "writer.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

static void futex_wait(uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	urcu_memb_register_thread();
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
		futex_wait(&w->stop, 0);
	urcu_memb_unregister_thread();
	return NULL;
}

int writer_start(struct writer *w, int cpu)
{
	pthread_attr_t attr;
	cpu_set_t set;

	w->cpu = cpu;
	w->stop = 0;
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int e = pthread_attr_init(&attr);
	if (e)
		return -e;
	e = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (!e)
		e = pthread_create(&w->thread, &attr, writer_main, w);
	pthread_attr_destroy(&attr);
	return -e;
}

void writer_stop(struct writer *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	futex_wake(&w->stop);
	pthread_join(w->thread, NULL);
}
