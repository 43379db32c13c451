/*
 * hist.c - log-linear histogram queries (see hist.h).
 */
#include "hist.h"

#include <string.h>

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

void hist_prefault(struct hist *h)
{
	volatile uint8_t *p = (volatile uint8_t *)h;
	for (size_t i = 0; i < sizeof(*h); i += 4096) /* a byte of every page ... */
		p[i] = p[i];
	p[sizeof(*h) - 1] = p[sizeof(*h) - 1]; /* ... and of the last */
}

/* The largest value that falls in bucket i. */
static uint64_t bucket_top(unsigned i)
{
	if (i < HIST_SUB)
		return i;
	unsigned shift = i / HIST_SUB - 1;
	uint64_t base = (uint64_t)(HIST_SUB + i % HIST_SUB) << shift;
	return base + ((uint64_t)1 << shift) - 1;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q >= 1.0)
		return h->max;
	uint64_t rank = (uint64_t)(q * (double)(h->count - 1)) + 1, seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}

void hist_merge(struct hist *a, const struct hist *b)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		a->buckets[i] += b->buckets[i];
	a->count += b->count;
	if (b->max > a->max)
		a->max = b->max;
}
