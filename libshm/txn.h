/*
 * txn.h - the encoding of a write transaction: what a client puts in its
 * submission ring, what the writer decodes, and (later) what the log stores.
 *
 * A transaction is a sequence of operations, each 8-byte aligned:
 *
 *   0  u8  code       enum shm_op_code
 *   1  u8  reserved   0
 *   2  u16 klen       key (or table name) bytes
 *   4  u32 vlen       value bytes (PUT only; 0 otherwise)
 *   8  u32 table      shmdb_table id (PUT, DEL, CHECK; 0 otherwise)
 *  12  u32 reserved   0
 *  16  u64 since_ts   CHECK: the snapshot; RESERVE: the key count;
 *                     CREATE_TABLE: the kind (0, SHMDB_ORDERED,
 *                     SHMDB_ORDERED | SHMDB_MULTI, SHM_KIND_ROWS or
 *                     SHM_KIND_ROWS | SHMDB_ORDERED); 0 otherwise
 *                     (the writer's private copy may reuse it, prepare.c)
 *  24  u8  key[klen], zero-padded to 8
 *      u8  value[vlen], zero-padded to 8
 *
 * DEL_VALUE (multimaps) carries a key and a value, the pair it removes.
 * UPDATE (tables of rows) carries its table, the row's key, and as value
 * a field update (rows.h, struct shm_field_update, then its operand).
 * CREATE_TABLE and DROP_TABLE carry the table name as their key, and a
 * CREATE_TABLE of typed rows its schema as its value (rows.h, at most
 * SHM_MAX_SCHEMA_BYTES; the writer checks it); RESERVE
 * carries no key, only its table and count; CLEAR only its table.
 * CREATE_INDEX and DROP_INDEX carry the indexed table as their table and
 * the column's name as their key, and CREATE_INDEX its flags (0 or
 * SHMDB_UNIQUE) in since_ts. SYNC and CHECKPOINT carry nothing and stand
 * alone in their transaction: requests to the daemon's log, not changes.
 */
#ifndef SHMDB_TXN_H
#define SHMDB_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "align.h"

enum shm_op_code {
	SHM_OP_PUT = 1,
	SHM_OP_DEL = 2,
	SHM_OP_CHECK = 3,
	SHM_OP_CREATE_TABLE = 4,
	SHM_OP_DROP_TABLE = 5,
	SHM_OP_RESERVE = 6,
	SHM_OP_CLEAR = 7,
	SHM_OP_DEL_VALUE = 8,
	SHM_OP_UPDATE = 9,
	SHM_OP_CREATE_INDEX = 10,
	SHM_OP_DROP_INDEX = 11,
	SHM_OP_SYNC = 12,       /* shmdb_sync: alone in its transaction */
	SHM_OP_CHECKPOINT = 13, /* shmdb_checkpoint: alone in its transaction */
};

struct shm_op_hdr {
	uint8_t code;
	uint8_t reserved0;
	uint16_t klen;
	uint32_t vlen;
	uint32_t table;
	uint32_t reserved1;
	uint64_t since_ts;
};
_Static_assert(sizeof(struct shm_op_hdr) == 24, "op header");

/* A decoded operation: pointers into the (private) buffer it came from. */
struct shm_op {
	uint8_t code;
	uint32_t table;
	uint64_t since_ts;
	const uint8_t *key;
	uint32_t klen;
	const uint8_t *val;
	uint32_t vlen;
};

/* Bytes one operation takes in the encoding. */
static inline size_t shm_op_size(size_t klen, size_t vlen)
{
	return sizeof(struct shm_op_hdr) + shm_align_up(klen, 8) + shm_align_up(vlen, 8);
}

/*
 * shm_op_encode - write one operation at dst, which has shm_op_size(klen,
 * vlen) bytes. The caller has checked the lengths.
 */
void shm_op_encode(uint8_t *dst, uint8_t code, uint32_t table, uint64_t since_ts,
		   const void *key, size_t klen, const void *val, size_t vlen);

/*
 * shm_op_decode - decode and validate the operation at buf[*pos] of a
 * transaction of `len` bytes, advancing *pos. Validates everything the
 * encoding promises: known code, zero reserved fields, lengths within the
 * limits for that code, no NUL byte in a table's or column's name, the
 * whole operation inside the buffer.
 * Returns 1 with *op filled, 0 at the end of the buffer, or -EBADMSG.
 */
int shm_op_decode(const uint8_t *buf, size_t len, size_t *pos, struct shm_op *op);

#endif /* SHMDB_TXN_H */
