/*
 * client_internal.h - what libshmdb's own modules and tests may see of an
 * open handle beyond shmdb.h. Not installed; not part of the public API.
 */
#ifndef SHMDB_CLIENT_INTERNAL_H
#define SHMDB_CLIENT_INTERNAL_H

#include <stddef.h>

#include "layout.h"
#include "shmdb.h"

/* The store's range in this process (meta at offset 0), read-only. */
const void *shm_client_range(const shmdb *db, size_t *size);

/* This client's session segment, read-write. */
void *shm_client_session(const shmdb *db, size_t *size);

/* The session's socket descriptor (owned by db). */
int shm_client_socket(const shmdb *db);

#endif /* SHMDB_CLIENT_INTERNAL_H */
