/*
 * tsc.h - a cheap tick counter for timing the writer's passes: the TSC on
 * x86 (one instruction, constant rate on the machines shmdb runs on),
 * CLOCK_MONOTONIC elsewhere. Ticks are converted to nanoseconds only when
 * figures are published, against the clock over the same span.
 *
 * The TSCs of a VM's vCPUs need not agree: a thread that moves between two
 * readings can see time run backwards (seen on a CI host: a pass that
 * "took" 2^64 - k ticks). So a span is taken as signed and a negative one
 * counts as none, and a converted figure never exceeds the clock's span.
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

/* Ticks from `start` to `end`: 0 if the counter ran backwards between
 * two cpus. */
static inline uint64_t tsc_span(uint64_t start, uint64_t end)
{
	int64_t d = (int64_t)(end - start);
	return d > 0 ? (uint64_t)d : 0;
}

/* ticks as nanoseconds, given that `span_ticks` took `span_ns`; at most
 * span_ns (ticks are a part of that span). */
static inline uint64_t tsc_to_ns(uint64_t ticks, uint64_t span_ticks, uint64_t span_ns)
{
	if (!span_ticks || ticks >= span_ticks)
		return span_ticks ? span_ns : 0;
	return (uint64_t)((unsigned __int128)ticks * span_ns / span_ticks);
}

#endif /* SHMDBD_TSC_H */
