/*
 * read.h - what the read path (read.c) offers the rest of the library
 * beyond shmdb.h.
 */
#ifndef SHMDB_READ_H
#define SHMDB_READ_H

#include "shmdb.h"

/* Release the reader slots the calling thread holds on db and forget them
 * (shmdb_close, once db is off the list of open handles). */
void shm_readers_forget(shmdb *db);

#endif /* SHMDB_READ_H */
