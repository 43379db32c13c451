/*
 * checkpoint.h - the checkpointer: a thread that has checkpoints written,
 * when the log has grown by --checkpoint-every since the last one or when
 * a client asks (shmdb_checkpoint), and then removes the log they hold.
 *
 * A checkpoint is written by `shmdbd-checkpoint`, a client of this daemon
 * like any other (a snapshot, cursors; it stalls neither the writer nor
 * the readers), run at the lowest cpu priority, to DIR/checkpoint.tmp,
 * synced by it; the checkpointer checks its header, renames it to
 * checkpoint-<commit>.shmck, syncs the dir, and only then deletes older
 * checkpoints and the log segments it holds (wal_forget_upto).
 */
#ifndef SHMDBD_CHECKPOINT_H
#define SHMDBD_CHECKPOINT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "datadir.h"
#include "layout.h"
#include "wal.h"

struct checkpointer {
	struct datadir *d;
	struct wal *wal;
	struct shm_meta *meta;
	uint64_t every;            /* log bytes between checkpoints */
	uint64_t run;              /* this run's number (restore.h): its
				    * checkpoints hold this run's table ids */
	char socket[108];
	char program[4096];        /* shmdbd-checkpoint, beside this daemon */
	pthread_t thread;
	pthread_mutex_t mu;        /* guards the fields below */
	pthread_cond_t cond;
	int requested, stop, started;
	pid_t child;               /* the writer of the checkpoint, 0 if none */
	uint64_t retry_ns;         /* after a failure: no size trigger before this */
};

/* checkpointer_start - start the thread. 0, or -errno with err set. */
int checkpointer_start(struct checkpointer *ck, struct datadir *d, struct wal *wal,
		       struct shm_meta *meta, const char *socket, uint64_t every, uint64_t run,
		       char *err, size_t errlen);

/* checkpointer_request - have one written soon. Any thread. */
void checkpointer_request(struct checkpointer *ck);

/* checkpointer_tick - the log thread's round: request one if the log has
 * grown enough. ctx is the checkpointer. */
void checkpointer_tick(void *ctx);

/* checkpointer_stop - stop the thread (a checkpoint being written is
 * stopped and removed). */
void checkpointer_stop(struct checkpointer *ck);

#endif /* SHMDBD_CHECKPOINT_H */
