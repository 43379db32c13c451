/*
 * human.c - sizes for people (see human.h): binary units, one decimal
 * unless the size is a whole number of its unit.
 */
#include "human.h"

#include <inttypes.h>
#include <stdio.h>

const char *human_bytes(uint64_t b, char buf[HUMAN_BYTES_LEN])
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;
	while (u < 6 && b >= (1ull << (10 * (u + 1))))
		u++;
	if (u == 0)
		snprintf(buf, HUMAN_BYTES_LEN, "%" PRIu64 " B", b);
	else if (b % (1ull << (10 * u)) == 0)
		snprintf(buf, HUMAN_BYTES_LEN, "%" PRIu64 " %s", b >> (10 * u), unit[u]);
	else
		snprintf(buf, HUMAN_BYTES_LEN, "%.1f %s", (double)b / (double)(1ull << (10 * u)),
			 unit[u]);
	return buf;
}
