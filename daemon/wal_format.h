/*
 * wal_format.h - the bytes of the write-ahead log: segment files and the
 * records in them. Written by wal.c, read back by restore.c; nothing else
 * touches them.
 *
 * A segment is the file DIR/log-<seq as 16 lowercase hex digits>.shmlog,
 * preallocated (zeros) to the segment size before it is used:
 *
 *   0  u8[8] magic     "SHMDBLOG"
 *   8  u32 version     WAL_VERSION
 *  12  u32 0
 *  16  u64 seq         the number in the file's name
 *  24  u8[16] store_id the store's (DIR/STORE)
 *  40  u64 first_ts    the commit of the segment's first record
 *  48  u64 prev_ts     every commit at or below it is in the segments
 *                      before this one, or in a checkpoint (restore's
 *                      proof that no segment is missing in front)
 *  56  u64 check       XXH3_64bits of bytes 0..56
 *  64  records, each 8-byte aligned, back to back; after the last, zeros
 *      (or the end of the file)
 *
 * A record:
 *
 *   0  u32 len         bytes of the whole record, check included (8k, >= 32)
 *   4  u32 kind        enum wal_kind
 *   8  u64 commit_ts   WAL_TXN: strictly above the record before it in the
 *                      log; the other kinds: at or above it
 *  16  u32 payload_len
 *  20  u32 ncreated
 *  24  payload, zero-padded to 8:
 *        WAL_TXN: the transaction's encoding (libshm/txn.h), as the client
 *                 sent it;
 *        WAL_FILL_END: u32 table (the indexed table), i32 error (0: the
 *                 index was built; else the build failed), u32 column name
 *                 length, the name: a secondary index's build ended;
 *        WAL_TABLE_IDS: u64 run, u32 count, u32 0, then count pairs u32
 *                 before, u32 now: from this record on the log names the
 *                 table it called `before` by `now` (and a table not in
 *                 the list by no id). A daemon run that gave the tables it
 *                 restored other ids writes one before anything else;
 *                 `run` numbers the runs (restore.h), and a checkpoint
 *                 names the run whose ids it holds, so a replay applies
 *                 exactly the records of the runs after its checkpoint's
 *      ncreated u32 ids, zero-padded to 8: WAL_TXN: the id each of its
 *      CREATE ops answered, in op order (table_map.h)
 *  ..  u64 check       XXH3_64bits of every byte before it
 *
 * A zero len ends a segment's records. Segments are used in seq order with
 * no gap; a record never spans two. Little-endian throughout.
 */
#ifndef SHMDBD_WAL_FORMAT_H
#define SHMDBD_WAL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define WAL_VERSION 1u
#define WAL_HEADER_SIZE 64u
#define WAL_RECORD_HEAD 24u

enum wal_kind {
	WAL_TXN = 1,
	WAL_FILL_END = 2,
	WAL_TABLE_IDS = 3,
};

struct wal_segment_header {
	uint8_t magic[8];
	uint32_t version;
	uint32_t zero0;
	uint64_t seq;
	uint8_t store_id[16];
	uint64_t first_ts;
	uint64_t prev_ts;
	uint64_t check;
};
_Static_assert(sizeof(struct wal_segment_header) == WAL_HEADER_SIZE, "segment header");

struct wal_record_head {
	uint32_t len;
	uint32_t kind;
	uint64_t commit_ts;
	uint32_t payload_len;
	uint32_t ncreated;
};
_Static_assert(sizeof(struct wal_record_head) == WAL_RECORD_HEAD, "record head");

/* Bytes of a record with a payload of plen bytes and ncreated ids. */
static inline size_t wal_record_size(size_t plen, size_t ncreated)
{
	return WAL_RECORD_HEAD + ((plen + 7) & ~(size_t)7) +
	       ((ncreated * 4 + 7) & ~(size_t)7) + 8;
}

/* Write a record at dst (wal_record_size bytes). */
void wal_record_encode(uint8_t *dst, uint32_t kind, uint64_t ts, const uint8_t *payload,
		       size_t plen, const uint32_t *created, size_t ncreated);

/* The header of segment seq, checked. */
void wal_header_encode(struct wal_segment_header *h, uint64_t seq, const uint8_t store_id[16],
		       uint64_t first_ts, uint64_t prev_ts);

/* 0 if h is a whole, checked header; -EBADMSG otherwise. */
int wal_header_check(const struct wal_segment_header *h);

/*
 * wal_record_check - whether buf[0..avail) starts with a whole record with
 * a good check: 0 with *head filled, or -EBADMSG (bad or cut short).
 */
int wal_record_check(const uint8_t *buf, size_t avail, struct wal_record_head *head);

/* The name of segment seq, "log-%016llx.shmlog", in out (>= 32 bytes). */
void wal_segment_name(char *out, size_t cap, uint64_t seq);

#endif /* SHMDBD_WAL_FORMAT_H */
