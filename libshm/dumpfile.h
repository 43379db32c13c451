/*
 * dumpfile.h - the store's portable file of tables and records: what a
 * checkpoint holds, what `shmdb backup` writes, what `shmdb dump` prints
 * and `shmdb load` reads, and what shmdbd loads at start-up. One format,
 * written and read here only.
 *
 * A file is a sequence of frames, each 8-byte aligned:
 *
 *   0  u32 type        enum shm_dump_frame
 *   4  u32 len         payload bytes (at most SHM_DUMP_MAX_FRAME)
 *   8  u8  payload[len], zero-padded to 8
 *   .. u64 check       XXH3_64bits over the 8 header bytes and payload[0..len)
 *
 * All integers little-endian. The first frame is a HEADER, the last an END;
 * nothing may follow the END. Payloads:
 *
 *   HEADER   0 u8[8] magic "SHMDBDMP"
 *            8 u32 version (SHM_DUMP_VERSION)
 *           12 u32 flags (SHM_DUMP_CHECKPOINT: a checkpoint or backup, whose
 *                  table ids the log after it names; 0: a dump)
 *           16 u64 commit_ts: the snapshot the file holds
 *           24 u64 written_ns: CLOCK_REALTIME when it was begun
 *           32 u8[16] store_id: the store it comes from (zero in a dump)
 *           48 u64 run: a checkpoint: the shmdbd run whose table ids it
 *                  holds (the log's WAL_TABLE_IDS records); 0 otherwise
 *   TABLE    0 u32 id (the table's id in the snapshot)
 *            4 u32 flags: 0, SHMDB_ORDERED, SHMDB_ORDERED | SHMDB_MULTI,
 *                  SHMDB_ROWS or SHMDB_ROWS | SHMDB_ORDERED
 *            8 u16 name_len, 10 u16 ncols (0 unless SHMDB_ROWS)
 *           12 u32 0
 *           16 u64 records: how many RECORDS of it follow (a hint a
 *                  loader sizes the table by; not checked)
 *           24 name[name_len]
 *              then ncols columns: u8 type (enum shmdb_type), u8 flags
 *              (SHMDB_NULLABLE), u16 name_len, u32 size, name[name_len]
 *   RECORDS  0 u32 table id (of a TABLE frame before it), 4 u32 count
 *            8 count records: u32 klen, u32 vlen, key[klen], value[vlen]
 *              (a multimap holds one record per pair; a table of rows,
 *              the row's encoding as the store holds it)
 *   INDEX    0 u32 table id (of a TABLE frame before it), 4 u32 flags (0 or
 *              SHMDB_UNIQUE), 8 i32 error (0, or the negative error its
 *              build failed with: the store keeps such an index, empty,
 *              until it is dropped or created again), 12 u16 column
 *              name_len, 14 u16 0, 16 column[name_len]
 *   END      0 u64 tables, 8 u64 indexes, 16 u64 records: the counts of
 *              the frames and records before it
 *
 * Order: the HEADER, every TABLE, their RECORDS (any order, each after its
 * TABLE), every INDEX, the END. A table's records appear once each, in
 * its order for an ordered table.
 *
 * A reader trusts nothing: every frame's check, every length, id and
 * count is verified before an item is handed out, and the END's counts
 * must match; a file cut short lacks its END. An error names the byte
 * offset of the frame at fault.
 */
#ifndef SHMDB_DUMPFILE_H
#define SHMDB_DUMPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "shmdb.h"

#define SHM_DUMP_VERSION 1u
#define SHM_DUMP_CHECKPOINT 1u
/* Payload bytes of a frame: one record of the largest key and value fits. */
#define SHM_DUMP_MAX_FRAME (SHMDB_MAX_VALUE + SHMDB_MAX_KEY + 16)

enum shm_dump_frame {
	SHM_DUMP_HEADER = 1,
	SHM_DUMP_TABLE = 2,
	SHM_DUMP_RECORDS = 3,
	SHM_DUMP_INDEX = 4,
	SHM_DUMP_END = 5,
};

struct shm_dump_header {
	uint32_t version;
	uint32_t flags;
	uint64_t commit_ts;
	uint64_t written_ns;
	uint8_t store_id[16];
	uint64_t run;
};

/* A table as the file describes it. Column names point into the reader's
 * or the caller's memory. */
struct shm_dump_table {
	uint32_t id;
	uint32_t flags;
	char name[SHMDB_MAX_TABLE_NAME + 1];
	unsigned ncols;
	uint64_t records; /* the hint */
	shmdb_column cols[SHMDB_MAX_COLUMNS];
};

struct shm_dump_index {
	uint32_t table;
	uint32_t flags;
	int32_t error; /* 0, or the error its build failed with */
	char column[SHMDB_MAX_COLUMN_NAME + 1];
};

/* ---- writing ---------------------------------------------------------------- */

/* A writer buffers RECORDS frames of up to 1 MiB and writes whole frames
 * to fd with write(2), retrying short writes. */
struct shm_dump_writer {
	int fd;
	int err;                /* the first error; every call returns it after */
	uint8_t *buf;           /* the RECORDS frame being filled */
	size_t len, cap;
	uint32_t table, count;  /* its table and records so far */
	uint64_t tables, indexes, records, bytes; /* written so far */
};

/* shm_dump_write_begin - write the HEADER of h to fd. Returns 0 or -errno. */
int shm_dump_write_begin(struct shm_dump_writer *w, int fd, const struct shm_dump_header *h);
/* A TABLE frame; 0 or -errno, -EINVAL for a name or column the format cannot hold. */
int shm_dump_write_table(struct shm_dump_writer *w, const struct shm_dump_table *t);
/* One record of table `table` (a TABLE written before); 0 or -errno. */
int shm_dump_write_record(struct shm_dump_writer *w, uint32_t table, const void *key,
			  uint32_t klen, const void *val, uint32_t vlen);
/* An INDEX frame (after every record); 0 or -errno. */
int shm_dump_write_index(struct shm_dump_writer *w, const struct shm_dump_index *ix);
/* The END frame, after flushing the records: 0 or -errno. Frees the
 * writer's buffer; does not close or sync fd. */
int shm_dump_write_end(struct shm_dump_writer *w);
/* Free the buffer after an error (write_end frees it otherwise). */
void shm_dump_write_abort(struct shm_dump_writer *w);

/* ---- reading ---------------------------------------------------------------- */

enum shm_dump_item_kind {
	SHM_DUMP_ITEM_TABLE = 1,
	SHM_DUMP_ITEM_RECORD = 2,
	SHM_DUMP_ITEM_INDEX = 3,
};

struct shm_dump_item {
	int kind;
	const struct shm_dump_table *table;  /* ITEM_TABLE: valid until the next call */
	const struct shm_dump_index *index;  /* ITEM_INDEX: likewise */
	uint32_t record_table;               /* ITEM_RECORD: its table's id, */
	const uint8_t *key, *val;            /* its bytes, valid until the next call */
	uint32_t klen, vlen;
};

struct shm_dump_reader {
	int fd;
	struct shm_dump_header header;
	uint64_t offset;         /* of the frame being read */
	char err[256];           /* what is wrong, with the offset, after an error */
	/* private: */
	uint8_t *buf;            /* the current frame */
	size_t cap;
	uint32_t frame_len, frame_type;
	size_t pos;              /* in a RECORDS frame */
	uint32_t left;           /* its records not handed out */
	uint32_t rec_table;
	uint32_t *ids;           /* table ids seen, for RECORDS and INDEX */
	size_t nids, capids;
	uint64_t tables, indexes, records;
	int ended;
	struct shm_dump_table table;
	struct shm_dump_index index;
	char colnames[SHMDB_MAX_COLUMNS][SHMDB_MAX_COLUMN_NAME + 1];
};

/*
 * shm_dump_read_begin - read and check the HEADER from fd (read(2),
 * sequentially; fd need not be seekable). Returns 0, or -EBADMSG with
 * r->err set (not a dump file, a damaged header, a version this build does
 * not read), or -errno.
 */
int shm_dump_read_begin(struct shm_dump_reader *r, int fd);

/*
 * shm_dump_read_next - the next item into *it. Returns 1 with *it set, 0
 * after the END (checked: counts match, nothing follows), -EBADMSG with
 * r->err naming the offset (a damaged or cut frame, an unknown type, a
 * record of a table not described, a count that does not match), or
 * -errno.
 */
int shm_dump_read_next(struct shm_dump_reader *r, struct shm_dump_item *it);

/* Free what the reader holds (not fd). */
void shm_dump_read_end(struct shm_dump_reader *r);

#endif /* SHMDB_DUMPFILE_H */
