/*
 * restore.h - bringing a durable store back at start-up, before the writer
 * thread and the socket: the newest checkpoint is loaded, the log after it
 * replayed, through the writer's core in the caller's thread.
 */
#ifndef SHMDBD_RESTORE_H
#define SHMDBD_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "core.h"
#include "datadir.h"
#include "table_map.h"
#include "wal.h"

struct restore_result {
	uint64_t checkpoint_ts;     /* the checkpoint loaded, 0 if none */
	uint64_t checkpoint_bytes;
	uint64_t records;           /* records it held */
	uint64_t replayed;          /* log records applied after it */
	uint64_t next_seq;          /* the segment new records go to */
	uint64_t tail_off;          /* 0, or next_seq exists and its records
				     * end here (then they go on after) */
	uint64_t tail_size;         /* its bytes */
	uint64_t last_ts;           /* the newest commit the checkpoint or log held */
	struct wal_segment *segs;   /* the segments kept (malloc'd; caller frees) */
	size_t nsegs;
	struct table_map *map;      /* the ids the log names -> this run's
				     * (malloc'd; caller frees) */
	uint64_t run;               /* this run's number: one above any a
				     * checkpoint or WAL_TABLE_IDS record names */
};

/*
 * restore_run - load the newest checkpoint of `d` and replay the log after
 * it into `c` (an empty store: commit 1). A torn last record is cut off
 * (said in the log line); damage anywhere else is an error naming the file
 * and offset, unless cfg->recover_truncate, which cuts the log there and
 * deletes what follows. Returns 0 with *out filled, or a negative errno
 * with err set (-EBADMSG for damage, -ENOSPC when the store does not fit
 * the arenas: err says the size needed).
 */
int restore_run(struct core *c, struct datadir *d, const struct config *cfg,
		struct restore_result *out, char *err, size_t errlen);

/*
 * restore_table_ids - when this run gave the tables it restored ids other
 * than the ones the log names them by, the payload of the WAL_TABLE_IDS
 * record to log before anything else (every live table's pair; malloc'd
 * into *payload, *len bytes); *len 0 when every id is as it was. 0 or
 * -ENOMEM.
 */
int restore_table_ids(const struct restore_result *res, struct core *c, uint8_t **payload,
		      size_t *len);

#endif /* SHMDBD_RESTORE_H */
