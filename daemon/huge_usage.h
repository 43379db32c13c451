/*
 * huge_usage.h - how much of each arena the kernel backs with huge pages,
 * measured (not derived from the page kind): hugetlb pages, and the
 * transparent huge pages a 4 KiB arena may get (shmem THP).
 */
#ifndef SHMDBD_HUGE_USAGE_H
#define SHMDBD_HUGE_USAGE_H

#include <stdbool.h>

#include "store.h"

/*
 * huge_usage_publish - read /proc/self/smaps and store, for each arena of
 * s, the bytes of its mapping on huge pages into its meta entry
 * (huge_bytes, relaxed: a statistic). Main thread: at start (again false)
 * and before each report (again true: measured only if an arena is
 * 4K+THP, whose share can change, and at most every 10 s). Leaves the
 * figures as they were if smaps cannot be read.
 */
void huge_usage_publish(struct store *s, bool again);

#endif /* SHMDBD_HUGE_USAGE_H */
