/*
 * datadir.h - the data dir of a durable store: created if missing, locked
 * against a second daemon (DIR/LOCK, flock, the holder's pid in it), tied
 * to one store by DIR/STORE, and listed: the log's segments and the
 * checkpoints.
 *
 * DIR/STORE is described in storefile.h.
 *
 * A dir with files in it but no STORE, or a STORE that is not whole, is
 * not taken: it is not a store's, or it is damaged.
 */
#ifndef SHMDBD_DATADIR_H
#define SHMDBD_DATADIR_H

#include <stddef.h>
#include <stdint.h>

struct datadir {
	char path[4096];
	int fd;               /* the dir: for openat, fsync */
	int lock_fd;
	uint8_t store_id[16];
	int created;          /* 1: the dir was new (a new store) */
	uint64_t *segs;       /* the log segments' seqs, ascending */
	size_t nsegs;
	uint64_t *ckpts;      /* the checkpoints' commits, ascending */
	size_t nckpts;
};

/*
 * datadir_open - open (creating it and its parents if missing) and lock
 * `path`, read or write its STORE, list its segments and checkpoints, and
 * remove a checkpoint.tmp a crash left. Returns 0, or -errno with err
 * naming the file and the reason (another daemon holds it: -EBUSY with its
 * pid; not a store's or damaged: -EBADMSG).
 */
int datadir_open(struct datadir *d, const char *path, char *err, size_t errlen);

void datadir_close(struct datadir *d);

#endif /* SHMDBD_DATADIR_H */
