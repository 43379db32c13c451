/*
 * tsc.h - a cheap tick counter for timing the writer's passes: the TSC on
 * x86 (one instruction, constant rate on the machines shmdb runs on),
 * CLOCK_MONOTONIC elsewhere. Ticks are converted to nanoseconds only when
 * figures are published, against the clock over the same span.
 */
#ifndef SHMDBD_TSC_H
#define SHMDBD_TSC_H

#include <stdint.h>

#include "clock.h"

static inline uint64_t tsc_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	return shm_now_ns();
#endif
}

/* ticks as nanoseconds, given that `span_ticks` took `span_ns`. */
static inline uint64_t tsc_to_ns(uint64_t ticks, uint64_t span_ticks, uint64_t span_ns)
{
	if (!span_ticks)
		return 0;
	return (uint64_t)((unsigned __int128)ticks * span_ns / span_ticks);
}

#endif /* SHMDBD_TSC_H */
