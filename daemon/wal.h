/*
 * wal.h - the write-ahead log: every client commit's record, in commit
 * order, in preallocated segment files of the data dir (wal_format.h).
 *
 * The writer thread reserves room for a record before it changes anything
 * (wal_reserve: a commit the log cannot take is refused whole) and appends
 * it after apply (wal_append): a copy into memory, under a mutex. Bytes
 * reach the files in wal_flush: pwrite (direct I/O where the file system
 * takes it), then one fdatasync per file
 * touched, then durable_ts in the meta segment. Who flushes depends on the
 * mode: in sync mode the writer itself, once per pass over the rings
 * (group commit: one fdatasync for every transaction of the pass) and
 * before it publishes them; in async mode the log thread, every flush
 * interval. The log thread also keeps the next segment created,
 * preallocated and synced ahead of need, so that moving to it costs the
 * writer nothing, and a full disk shows as no next segment (a refusal)
 * rather than as a failed write of a record already applied.
 *
 * Errors: sync mode: a flush that fails leaves the log's state unknown:
 * the commits of that pass are never published and every later commit is
 * refused (the error) until restart, which replays what is on disk. Async
 * mode: commits are refused with SHMDB_ENOLOG while the log cannot be
 * written, the flush is retried every interval (rewriting everything not
 * known to be on disk), and commits resume once it succeeds. Either mode:
 * a record that finds neither room in its segment nor a next one is
 * refused (sync: -ENOSPC, async: SHMDB_ENOLOG), nothing applied.
 */
#ifndef SHMDBD_WAL_H
#define SHMDBD_WAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "layout.h"
#include "wal_format.h"

/* Direct I/O's unit (wal.c): file offsets, lengths and buffer addresses
 * of every write are multiples of it. */
#define WAL_ALIGN 4096

/* A run of bytes of a batch for one file; buf_off and file_off are
 * multiples of WAL_ALIGN (but for a close_after chunk's, which has no
 * bytes). */
struct wal_chunk {
	int fd;
	int close_after;    /* the file is complete: close it once on disk */
	uint64_t file_off;
	size_t buf_off, len;
};

/* Records not yet on disk, and where they go. */
struct wal_batch {
	uint8_t *buf;
	size_t len, cap;
	struct wal_chunk *chunks;
	size_t nchunks, chunks_cap;
	uint64_t last_ts;   /* the newest commit in it */
};

/* A segment in use: seq and first commit (for removal after a checkpoint). */
struct wal_segment {
	uint64_t seq, first_ts;
};

struct wal {
	int dirfd;
	enum durability mode;
	uint64_t seg_size;
	uint64_t flush_ns;
	uint8_t store_id[16];
	struct shm_meta *meta;

	pthread_mutex_t mu;         /* guards everything down to flush_mu */
	uint64_t seq;               /* the segment records go to, */
	int fd;                     /* its file, */
	uint64_t off, size;         /* its next record's offset and its bytes */
	uint8_t tail[WAL_ALIGN];    /* its bytes [off rounded down to WAL_ALIGN, off) */
	int spare_fd;               /* the next segment, ready; -1: none yet */
	uint64_t spare_size;
	int spare_err;              /* why the last try to make it failed */
	struct wal_batch pend;      /* appended, not yet taken by a flush */
	int error;                  /* async: refuse commits while set */
	int fatal;                  /* sync: a flush failed: refuse until restart */
	uint64_t since_checkpoint;  /* record bytes since the last checkpoint began */
	uint64_t last_ts;           /* the newest record's commit */
	struct wal_segment *segs;   /* segments with records, oldest first */
	size_t nsegs, segs_cap;

	pthread_mutex_t flush_mu;   /* one flusher at a time; guards inflight */
	struct wal_batch inflight;  /* taken by a flush, not yet known on disk */
	int buffered;               /* a direct write was refused: none from now
				     * on (atomic, relaxed: set by the flusher,
				     * read where segments are opened) */

	pthread_t thread;
	pthread_mutex_t tmu;        /* the log thread's sleep */
	pthread_cond_t tcond;
	int stop, started;
	int kicked;                 /* a flush is wanted now (wal_kick) */
	void (*tick)(void *ctx);    /* called by the log thread every interval */
	void *tick_ctx;
};

/*
 * wal_open - take the data dir (dirfd, kept open by the caller) for a log
 * whose next segment is `seq`: with tail_off 0, create it, preallocated;
 * else it exists (tail_size bytes, its records ending at tail_off) and
 * records go on after them. Every commit at or below prev_ts is in the
 * segments before the next record or a checkpoint. segs[0..nsegs)
 * are the segments already there whose records restore replayed (kept
 * for wal_forget_upto). Returns 0, or -errno with err set.
 */
int wal_open(struct wal *l, int dirfd, const uint8_t store_id[16], uint64_t seq,
	     uint64_t tail_off, uint64_t tail_size, uint64_t prev_ts, const struct wal_segment *segs, size_t nsegs, const struct config *cfg,
	     struct shm_meta *meta, char *err, size_t errlen);

/* wal_start - start the log thread; tick(ctx) runs after each of its
 * rounds (the checkpoint trigger). 0 or -errno. */
int wal_start(struct wal *l, void (*tick)(void *), void *ctx);

/* wal_close - stop the thread, flush what is left, close the files. */
void wal_close(struct wal *l);

/*
 * wal_reserve - room for the next record, with a payload of plen bytes and
 * ncreated ids, which wal_append adds next. Writer thread.
 * Returns 0, or the error the commit fails with: -ENOSPC (sync) or
 * SHMDB_ENOLOG (async) for no room, SHMDB_ENOLOG while an async log cannot
 * be written, the error of a failed sync flush until restart.
 */
int wal_reserve(struct wal *l, size_t plen, size_t ncreated);

/* wal_append - the record, after a wal_reserve that returned 0 for it. */
void wal_append(struct wal *l, uint32_t kind, uint64_t ts, const uint8_t *payload, size_t plen,
		const uint32_t *created, size_t ncreated);

/*
 * wal_flush - write every appended record and fdatasync the files, then
 * store durable_ts. Any thread; one flush at a time. Returns 0, or the
 * -errno of the write or sync (the bytes stay to be written again).
 */
int wal_flush(struct wal *l);

/* wal_kick - async mode: have the log thread flush now rather than at
 * the end of its interval (a client's shmdb_sync, which then waits for
 * durable_ts). Any thread; does not wait. */
void wal_kick(struct wal *l);

/* wal_fail - sync mode: a flush failed with err; refuse every commit. */
void wal_fail(struct wal *l, int err);

/* The error wal_fail set, or 0. */
int wal_failed(struct wal *l);

/* Record bytes since the last checkpoint began. */
uint64_t wal_since_checkpoint(struct wal *l);

/*
 * wal_checkpoint_began / wal_forget_upto - a checkpoint began (its bytes
 * count from now) / a checkpoint holding every commit up to ts is on disk:
 * delete the segments whose records it holds (every one whose successor
 * begins at or before ts + 1). Checkpoint thread. Returns the segments
 * deleted.
 */
uint64_t wal_checkpoint_began(struct wal *l);
void wal_checkpoint_done(struct wal *l, uint64_t began_bytes);
unsigned wal_forget_upto(struct wal *l, uint64_t ts);

#endif /* SHMDBD_WAL_H */
