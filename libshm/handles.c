/*
 * handles.c - the process's list of open handles (handles.h), linked
 * through each handle's next_open.
 *
 * Ordering: one mutex guards the list, last_serial and every handle's
 * next_open; it also orders a handle's removal before its memory is freed
 * against the thread-exit cleanup of read.c, which releases slots of the
 * handles it finds open only while it holds the mutex.
 */
#include "handles.h"

#include <pthread.h>

#include "client_internal.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct shmdb *open_list;
static uint64_t last_serial;

void shm_handles_add(shmdb *db)
{
	pthread_mutex_lock(&lock);
	db->serial = ++last_serial;
	db->next_open = open_list;
	open_list = db;
	pthread_mutex_unlock(&lock);
}

void shm_handles_remove(shmdb *db)
{
	pthread_mutex_lock(&lock);
	for (struct shmdb **p = &open_list; *p; p = &(*p)->next_open) {
		if (*p == db) {
			*p = db->next_open;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

void shm_handles_lock(void)
{
	pthread_mutex_lock(&lock);
}

void shm_handles_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

int shm_handles_is_open(const shmdb *db, uint64_t serial)
{
	for (const struct shmdb *d = open_list; d; d = d->next_open)
		if (d == db && d->serial == serial)
			return 1;
	return 0;
}
