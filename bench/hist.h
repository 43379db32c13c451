/*
 * hist.h - a log-linear latency histogram: values are bucketed by their
 * power of two and, within it, into HIST_SUB linear steps, so any reported
 * percentile is within 1/HIST_SUB (under 1%) of the true sample. Fixed
 * size, no allocation while recording.
 */
#ifndef SHMDB_BENCH_HIST_H
#define SHMDB_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7                 /* 128 steps per power of two */
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (64 * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t buckets[HIST_BUCKETS];
};

void hist_reset(struct hist *h);

/* Write every page of h once, keeping its contents: a process forked after
 * h was mapped shared faults on its first write to each page, and the
 * recording that follows should fault on nothing (the bench counts the
 * page faults of a timed loop). */
void hist_prefault(struct hist *h);

static inline unsigned hist_index(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned msb = 63 - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->buckets[hist_index(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* The value at quantile q (0..1): the upper end of its bucket, at most 1%
 * above the true sample; the exact maximum for q == 1. */
uint64_t hist_quantile(const struct hist *h, double q);

/* Merge b into a. */
void hist_merge(struct hist *a, const struct hist *b);

#endif /* SHMDB_BENCH_HIST_H */
