/*
 * durable_api.c - the client's side of durability: shmdb_sync and
 * shmdb_checkpoint (shmdb.h). Both are requests through the ring (SYNC and
 * CHECKPOINT transactions, txn.h) that answer with the commit the caller
 * waits for; then the meta segment is watched: durable_ts, which the log
 * stores with release order after the fdatasync, or the checkpoint figures
 * (layout.h line 3-4), which the checkpointer stores with release order
 * last.
 */
#include <errno.h>
#include <time.h>

#include "client_internal.h"
#include "clock.h"
#include "shmdb.h"
#include "txn.h"

#define CHECKPOINT_POLL_NS 1000000L
#define SYNC_POLL_NS 20000L /* an fdatasync takes a hundred microseconds and more */

int shmdb_sync(shmdb *db)
{
	if (!db)
		return -EINVAL;
	const struct shm_meta *m = db->meta;
	uint64_t upto = 0;
	int e = shm_table_op(db, SHM_OP_SYNC, 0, 0, NULL, 0, NULL, 0, &upto);
	while (!e && __atomic_load_n(&m->durable_ts, __ATOMIC_ACQUIRE) < upto) {
		int why = __atomic_load_n(&m->log_error, __ATOMIC_RELAXED);
		if (why)
			return why;
		if (shm_client_daemon_gone(db))
			return SHMDB_ESHUTDOWN;
		struct timespec t = { 0, SYNC_POLL_NS };
		nanosleep(&t, NULL);
	}
	return e;
}

int shmdb_checkpoint(shmdb *db, int timeout_ms)
{
	if (!db)
		return -EINVAL;
	const struct shm_meta *m = db->meta;
	uint64_t failures = __atomic_load_n(&m->checkpoint_failures, __ATOMIC_ACQUIRE);
	uint64_t upto = 0;
	int e = shm_table_op(db, SHM_OP_CHECKPOINT, 0, 0, NULL, 0, NULL, 0, &upto);
	if (e)
		return e;
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
					   : shm_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		if (__atomic_load_n(&m->checkpoint_ts, __ATOMIC_ACQUIRE) >= upto)
			return 0;
		if (__atomic_load_n(&m->checkpoint_failures, __ATOMIC_ACQUIRE) != failures) {
			int why = __atomic_load_n(&m->checkpoint_error, __ATOMIC_RELAXED);
			return why ? why : -EIO;
		}
		if (shm_client_daemon_gone(db))
			return SHMDB_ESHUTDOWN;
		if (shm_now_ns() >= deadline)
			return -ETIMEDOUT;
		struct timespec t = { 0, CHECKPOINT_POLL_NS };
		nanosleep(&t, NULL);
	}
}
