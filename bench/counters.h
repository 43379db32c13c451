/*
 * counters.h - what an operation costs the process besides time: system
 * calls (a perf tracepoint counter on raw_syscalls:sys_enter), page faults
 * (getrusage) and heap allocations (counted by a malloc interposer, or by
 * the sanitizer's allocation hooks in a sanitizer build).
 */
#ifndef SHMDB_BENCH_COUNTERS_H
#define SHMDB_BENCH_COUNTERS_H

#include <stdint.h>

struct counters {
	int64_t syscalls;   /* -1 when the kernel's counter is not available */
	int64_t faults;
	int64_t allocations;
};

/* Open the syscall counter for the calling process (once, in the process
 * that measures). Returns 0, or -1 if only faults and allocations count. */
int counters_open(void);

/* Read all three now. The readings' own system calls are left out of the
 * count, so two readings differ by what happened between them. */
void counters_read(struct counters *c);

#endif /* SHMDB_BENCH_COUNTERS_H */
