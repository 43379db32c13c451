/*
 * pidlock.h - the daemon's lock files (the socket's, the data dir's): an
 * exclusive flock on a file that names its holder's pid.
 */
#ifndef SHMDBD_PIDLOCK_H
#define SHMDBD_PIDLOCK_H

#include <stddef.h>

/*
 * pidlock_acquire - take the exclusive flock on fd without blocking. The
 * lock goes with a descriptor's copies too, which a child the holder
 * forked keeps until its exec closes them (they are O_CLOEXEC): while the
 * file names a process that is gone, the lock is such a child's, moments
 * from letting go, and is waited for, a second at most. Returns 0, or
 * -EBUSY with the pid the file names in holder[0..cap) ("" if none).
 */
int pidlock_acquire(int fd, char *holder, size_t cap);

#endif /* SHMDBD_PIDLOCK_H */
