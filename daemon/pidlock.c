/*
 * pidlock.c - taking a lock file that names its holder (see pidlock.h).
 *
 * Invariant: a lock refused names a live process (or one this process
 * cannot signal), or a holder that kept it for a second under a dead
 * name; a dead holder's forked child, whose exec closes its copy of the
 * descriptor, is waited for instead of refused.
 */
#include "pidlock.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define WAIT_US 10000
#define WAIT_TRIES 100

/* The pid fd's file names, as text into holder[0..cap), and as a number
 * (0 if none). */
static long named_pid(int fd, char *holder, size_t cap)
{
	ssize_t n = pread(fd, holder, cap - 1, 0);
	holder[n > 0 ? n : 0] = 0;
	holder[strcspn(holder, "\n")] = 0;
	return strtol(holder, NULL, 10);
}

int pidlock_acquire(int fd, char *holder, size_t cap)
{
	for (int tries = 0; flock(fd, LOCK_EX | LOCK_NB); tries++) {
		long pid = named_pid(fd, holder, cap);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH || tries == WAIT_TRIES)
			return -EBUSY;
		usleep(WAIT_US);
	}
	return 0;
}
