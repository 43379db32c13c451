/*
 * clock.h - the monotonic clock, as daemon and clients read it: for
 * deadlines, idle windows and reclamation pacing. CLOCK_MONOTONIC is one
 * clock for every process of the machine, so a time the daemon stores in
 * the meta segment (oldest_since_ns) means the same to a client.
 */
#ifndef SHMDB_CLOCK_H
#define SHMDB_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t shm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in milliseconds, signed so that deadlines subtract. */
static inline int64_t shm_now_ms(void)
{
	return (int64_t)(shm_now_ns() / 1000000u);
}

#endif /* SHMDB_CLOCK_H */
