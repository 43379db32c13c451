/*
 * handles.h - the process's list of open handles, so that a thread's exit
 * can tell which of the handles it read from still exist (read.c). client.c
 * adds a handle once it is attached and removes it before it is freed.
 */
#ifndef SHMDB_HANDLES_H
#define SHMDB_HANDLES_H

#include <stdint.h>

#include "shmdb.h"

/* Add db to the list and give it a serial (db->serial) that no other handle
 * of the process has had, so that a freed handle whose memory is reused
 * for another is not taken for it. */
void shm_handles_add(shmdb *db);

/* Remove db from the list: once this returns, no thread's cleanup that
 * found it open is still using it. */
void shm_handles_remove(shmdb *db);

/* Hold the list still: while it is locked, a handle found open stays open. */
void shm_handles_lock(void);
void shm_handles_unlock(void);

/* Whether (db, serial) names a handle that is open now. With the list
 * locked. */
int shm_handles_is_open(const shmdb *db, uint64_t serial);

#endif /* SHMDB_HANDLES_H */
