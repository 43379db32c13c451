/*
 * spin.h - one turn of a polling loop, for the writer's ring polling and a
 * client's wait for its completion.
 */
#ifndef SHMDB_SPIN_H
#define SHMDB_SPIN_H

/* A compiler barrier, not PAUSE: it makes the loop re-load what it polls.
 * On KVM guests a loop of PAUSE triggers pause-loop exits to the host:
 * measured here, 400 to 900 stalls of 2-10 us per second, and a 1-put
 * commit p50 of 1.1 us instead of 0.4 us in some runs. The cost: an SMT
 * sibling is not yielded to. */
static inline void shm_cpu_relax(void)
{
	__asm__ volatile("" ::: "memory");
}

#endif /* SHMDB_SPIN_H */
