/*
 * client_internal.h - the handle behind shmdb.h's opaque types, shared by
 * libshmdb's modules (client.c: attach; read.c: snapshots; ordered.c:
 * ordered tables' cursors; write.c: the ring; write_pool.c: finished write
 * transactions and row builders kept for reuse; handles.c: the list of open
 * handles), and the calls of client.c
 * that the other modules and the tests use. Not installed; not part of the
 * public API.
 */
#ifndef SHMDB_CLIENT_INTERNAL_H
#define SHMDB_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "shmdb.h"

/* A secondary index as a snapshot reads it (secondary_read.c). */
struct shm_index_view {
	shmdb_table id;                 /* the index */
	int err;                        /* 0, or -EAGAIN: not complete in the
					 * snapshot (or its build failed) */
	const struct shm_table *tb;     /* its catalog entry */
	const struct shm_index_def *def;
	uint64_t word;                  /* its hash index word */
	const struct shm_schema *schema; /* the indexed table's */
	const uint64_t *base_slots;     /* and its hash index */
	uint64_t base_mask;
};

struct shmdb_cursor {
	shmdb_rtxn *r;
	int pooled;                     /* one of r->cursors, else malloc'd */
	uint32_t kind;                  /* the table's (layout.h, shm_table) */
	/* a hash table: */
	const uint64_t *slots;          /* the table's index in r's snapshot */
	uint64_t mask;
	uint64_t pos;                   /* the first slot not yet taken in a batch */
	uint64_t batch;                 /* the first slot of the batch taken last */
	uint64_t occ;                   /* its slots that held a key and are not
					 * yet stepped over: bit i, slot batch + i */
	/* an ordered table (ordered.c): the path from the root of r's
	 * snapshot to the leaf the cursor is in, and the place on it: at[i]
	 * is the child taken at path[i]; in the leaf, the entry next would
	 * return (its count: after the leaf's last). depth 0: an empty
	 * tree, or (at_start) a cursor still before the first record, whose
	 * path is built by the first step or seek. The leaf's place holds
	 * for its gen `gen`; keys added to the leaf in place since (layout.h)
	 * move it, and the mark finds it again: the leaf's start or end
	 * (which no key added in place passes), or just before or after a
	 * key the snapshot holds (mark_key: the bytes of a version the
	 * snapshot sees, or of the leaf's entry, which never move). */
	unsigned depth;
	int at_start;
	uint32_t gen;
	uint32_t mark_len;
	int mark;                       /* enum in ordered.c */
	const uint8_t *mark_key;
	uint8_t seek_key[32];           /* the key of the last seek, if short:
					 * its place's mark (no entry read) */
	int gone;                       /* a leaf was left mid-change by a
					 * daemon that died: SHMDB_ENODAEMON */
	/* A seek to a key the snapshot holds (ordered tables, not multimaps)
	 * finds its record through the hash index: `found`, with the cursor
	 * before it (after it once next returned it). The seek takes the
	 * path down to its leaf; the place in the leaf is found only when
	 * the cursor moves on (ordered.c, settle). NULL otherwise. */
	const struct shm_version *found;
	int found_passed;
	/* The table's key pending in the snapshot, not in its tree (layout.h,
	 * struct shm_count), or NULL; pk_after: the cursor is past it. The
	 * cursor returns it in its place among the tree's records
	 * (ordered.c). */
	const struct shm_version *pk;
	int pk_after;
	/* A secondary index (secondary_read.c): its definition and the
	 * table whose rows it gives, as the snapshot sees them; id 0 for
	 * another table. */
	struct shm_index_view ix;
	const struct shm_node *path[SHM_TREE_MAX_HEIGHT];
	uint16_t at[SHM_TREE_MAX_HEIGHT];
};

#define SHM_RTXN_CURSORS 8

/* A thread's read transaction on one handle: one per reader slot. */
struct shmdb_rtxn {
	shmdb *db;
	const uint8_t *base;
	const struct shm_meta *meta;
	struct shm_reader_slot *slot;   /* in the session segment */
	uint64_t snap;
	int active;
	int claimed;                    /* a thread owns it (atomic) */
	uint32_t cursors_used;          /* bit i: cursors[i] is open */
	shmdb_table last_table;         /* the table read last in this snapshot, */
	uint64_t last_index;            /* its index word (read.c) */
	uint32_t last_kind;             /* and its kind */
	shmdb_table tree_table;         /* the ordered table whose root this */
	uint64_t tree_root;             /* snapshot found last, and that root */
	uint64_t tree_pending;          /* and its key pending (layout.h) */
	struct shm_index_view ix;       /* the index read last (id 0: none);
					 * last_index is 0 while it is the
					 * table read last */
	struct shmdb_cursor cursors[SHM_RTXN_CURSORS];
};

/* A write transaction being collected (write.c). Finished, it goes back to
 * its handle's pool with its buffers (write_pool.c). */
struct shmdb_wtxn {
	shmdb *db;
	uint8_t *buf;                   /* the encoded operations */
	size_t len, cap;
	uint8_t *row;                   /* a row being encoded (shmdb_put_row) */
	size_t row_cap;
	struct shmdb_wtxn *next;        /* in the pool */
};

/* A builder of rows (rows_api.c); freed, it goes back to its handle's pool
 * (write_pool.c), arrays and byte buffers kept. */
struct shmdb_row {
	shmdb *db;
	shmdb_table t;
	struct shm_schema *s;           /* a copy of the table's schema */
	struct shm_value *v;            /* each column's value */
	uint8_t *set;                   /* each column: set (or set null) since reset */
	uint8_t **bytes;                /* each FIXED, STR or BLOB column's copy */
	uint32_t *bytes_cap;
	unsigned ncols_cap;             /* columns the arrays hold */
	size_t schema_cap;              /* bytes s holds */
	struct shmdb_row *next;         /* in the pool */
};

/* The handle's pool of finished write transactions and row builders, so
 * that a client committing in a steady stream allocates nothing. */
#define SHM_POOL_DEFAULT_KEEP 16
#define SHM_POOL_DEFAULT_MAX_BUFFER ((size_t)1 << 20)
struct shm_write_pool {
	pthread_mutex_t lock;           /* everything below */
	struct shmdb_wtxn *txns;        /* kept, a stack through next */
	struct shmdb_row *rows;
	unsigned ntxns, nrows;
	unsigned keep;                  /* of each kind, at most */
	size_t max_buffer;              /* a buffer larger than this is freed */
	uint64_t txns_begun, txns_reused;
	uint64_t rows_made, rows_reused;
	uint64_t freed;                 /* finished ones freed, not kept */
};

/* write_pool.c: a finished transaction of db's pool, emptied, or NULL;
 * give one back (kept, or freed with its buffers). */
shmdb_wtxn *shm_pool_take_txn(shmdb *db);
void shm_pool_give_txn(shmdb_wtxn *w);
/* A kept row builder whose arrays hold ncols columns and whose schema
 * copy holds schema_bytes, or NULL; give one back. */
struct shmdb_row *shm_pool_take_row(shmdb *db, unsigned ncols, size_t schema_bytes);
void shm_pool_give_row(struct shmdb_row *b);
/* Free a row builder and its buffers (rows_api.c). */
void shm_row_destroy(struct shmdb_row *b);
void shm_pool_init(shmdb *db);
/* Free everything kept (shmdb_close). */
void shm_pool_destroy(shmdb *db);

/* This thread's reader on db (read.c), claimed now if it has none: NULL if
 * db has no free reader slot or the thread's cache is full. */
shmdb_rtxn *shm_thread_reader(shmdb *db);

/* The least used cpu of mask (SHMDB_MAX_CPUS bits) by the counts in
 * pins[0..npins) (a cpu not listed: 0), the lowest of equals; -ENOENT if
 * mask is empty (pin.c). */
int shm_pin_choose(const uint64_t *mask, const shmdb_cpu_pins *pins, size_t npins);

/* A transaction's result, kept until shmdb_wait collects it. */
enum { RESULT_FREE = 0, RESULT_PENDING = 1, RESULT_READY = 2 };
struct shm_result {
	uint64_t ticket;
	int state;
	int status;
	uint64_t commit_ts;
	uint64_t value;
};
#define SHM_RESULTS (4 * SHM_CQ_ENTRIES)

struct shmdb {
	int sock;                    /* the session lives while this is open */
	uint8_t *base;               /* range base: meta at 0, arenas after */
	size_t range_size;
	const struct shm_meta *meta; /* == base */
	struct shm_session_header *session;
	size_t session_size;
	struct shm_doorbell *doorbell;
	uint64_t session_id;
	uint64_t serial;             /* unique in the process, for thread caches */
	int reader_fence;            /* 1: no membarrier here, snapshots fence */
	struct shmdb *next_open;     /* the process's list of open handles (handles.c) */

	struct shmdb_rtxn readers[SHM_READER_SLOTS];

	pthread_mutex_t sq_lock;     /* submitters: sq_tail, issued */
	uint64_t sq_tail;
	uint64_t sq_head_seen;       /* sq_head when last loaded */
	uint64_t issued;             /* last ticket handed out */
	int rang;                    /* the last submission woke the writer (atomic) */
	pthread_mutex_t cq_lock;     /* waiters: cq_head, results */
	uint32_t cq_head;
	struct shm_result *results;  /* SHM_RESULTS, by ticket % SHM_RESULTS */
	struct shm_write_pool pool;
	char socket_path[SHMDB_SOCKET_PATH_MAX]; /* for shmdb_report_get's connection */
};

/* shm_table_op - commit a transaction of the one table operation `code`
 * (txn.h) on table t, with count in its since_ts field and name[0..len)
 * as its key, val[0..vlen) as its value; *value (may be NULL) gets its
 * result (write.c). */
int shm_table_op(shmdb *db, uint8_t code, shmdb_table t, uint64_t count, const char *name,
		 size_t len, const void *val, size_t vlen, uint64_t *value);

/* Ordered tables (ordered.c). */

/* Set up cursor c on the ordered table entry tb of its snapshot, before
 * the first record. */
void shm_ordered_open(shmdb_cursor *c, const struct shm_table *tb);

/* shmdb_cursor_next on an ordered table. */
int shm_ordered_next(shmdb_cursor *c, shmdb_val *key, shmdb_val *val);

/* shmdb_cursor_seek on an ordered table, to key[0..klen) as its entries'
 * keys are (checked by the caller). */
int shm_ordered_seek(shmdb_cursor *c, const void *key, size_t klen);

/* Secondary indexes (secondary_read.c). */

/* Whether index entry tb (SHM_KIND_INDEX) is complete in r's snapshot: 0,
 * or -EAGAIN (being built then, or its build failed). */
int shm_index_ready(const shmdb_rtxn *r, const struct shm_table *tb);

/* The view of index entry tb (SHM_KIND_INDEX) in r's snapshot, into *v. */
void shm_index_view_of(const shmdb_rtxn *r, const struct shm_table *tb,
		       struct shm_index_view *v);

/* shmdb_get on the index v: the first row with value key[0..klen). */
int shm_index_get(shmdb_rtxn *r, const struct shm_index_view *v, const void *key, size_t klen,
		  shmdb_val *val);

/* An index entry a cursor on c->ix found, (key, val), made the record it
 * gives: (the value, the row). 0, or -ENOENT if the row is missing. */
int shm_index_record(const shmdb_cursor *c, shmdb_val *key, shmdb_val *val);

/* The part of an index's entry keys that value key[0..klen) makes
 * (secondary.h), into out[0..SHMDB_MAX_KEY): 0 or -EINVAL. */
int shm_index_seek_key(const struct shm_index_view *v, const void *key, size_t klen,
		       uint8_t *out, size_t *len);

/* shmdb_get on multimap entry tb: the key's first value. */
int shm_multi_get(const shmdb_rtxn *r, const struct shm_table *tb, const void *key, size_t klen,
		  shmdb_val *val);

/* Whether the daemon is gone for this handle: stopped, or our session was
 * closed. Makes a system call (poll); for wait loops only. */
int shm_client_daemon_gone(shmdb *db);

/* The store's range in this process (meta at offset 0), read-only. */
const void *shm_client_range(const shmdb *db, size_t *size);

/* This client's session segment, read-write. */
void *shm_client_session(const shmdb *db, size_t *size);

/* The session's socket descriptor (owned by db). */
int shm_client_socket(const shmdb *db);

#endif /* SHMDB_CLIENT_INTERNAL_H */
