/*
 * secondary.h - secondary indexes on tables of rows: their definition in
 * the store and the keys of their entries, shared by the writer that keeps
 * them and the clients that read them.
 *
 * An index is a table of its own in the catalog (layout.h): kind
 * SHM_KIND_INDEX | SHM_KIND_ORDERED, with SHM_KIND_UNIQUE for a unique
 * index; its name is the indexed column's, its `base` the indexed table's
 * id, and it is never found by name (catalog.h). Only the writer writes
 * it, in the same commit as the rows it follows. It is an ordered table
 * like any other (tree, hash index, versions, counts), so snapshots,
 * cursors and reclamation serve it as they serve tables; what it adds is
 * the meaning of its keys and values:
 *
 *   key    the value part of the indexed column (below), then, but for a
 *          unique index, the row's primary key: ties in key order are
 *          broken by primary key, and each row has its own entry
 *   value  the row's primary key; a reader gets the row itself by it
 *          from the indexed table, in the same snapshot
 *
 * An entry is present in a snapshot exactly when the row is and holds
 * that value there: the writer adds and deletes entries in the commit
 * that changes the row (a new version of an entry, a tombstone). A null
 * value has no entry.
 *
 * The value part of a column's value:
 *   I32, I64, U64, F64  its key (shmdb_key_*: 4 or 8 bytes; a NaN has none)
 *   BOOL                one byte, 0 or 1
 *   FIXED               its `size` bytes
 *   STR, BLOB           its bytes with each 0x00 written 0x00 0xff, then
 *                       0x00 0x00: bytewise order of the parts is the
 *                       values' order (a shorter value first), and no
 *                       part is a prefix of another, so a primary key
 *                       after it never changes the values' order
 *
 * The definition, 32 bytes in an arena at the index table's `schema`
 * offset, written before the index's id is published:
 *
 *   0  u32 magic     SHM_INDEX_MAGIC
 *   4  u16 column    the indexed column of the base table's schema
 *   6  u8  type      its enum shm_type
 *   7  u8  reserved  0
 *   8  u32 width     bytes of the value part of a fixed-size type, 0 for
 *                    STR and BLOB
 *  12  u32 base      the indexed table's id
 *  16  u64 ready_ts  0 while the writer builds the index over the rows
 *                    the table held when it was created; then the commit
 *                    from which every snapshot finds it complete (release
 *                    store, the only field that changes); SHM_TS_INFINITY
 *                    if the build failed (`error` says why)
 *  24  i32 error     a failed build's error: SHMDB_EUNIQUE, -EINVAL (a
 *                    value with no key: a NaN, a value too long for a
 *                    key), -ENOSPC; 0 otherwise
 *  28  u32 reserved  0
 */
#ifndef SHMDB_SECONDARY_H
#define SHMDB_SECONDARY_H

#include <stddef.h>
#include <stdint.h>

#include "rows.h"

#define SHM_INDEX_MAGIC 0x58494853u /* "SHIX" */

struct shm_index_def {
	uint32_t magic;
	uint16_t column;
	uint8_t type;
	uint8_t reserved0;
	uint32_t width;
	uint32_t base;
	uint64_t ready_ts;
	int32_t error;
	uint32_t reserved1;
};
_Static_assert(sizeof(struct shm_index_def) == 32, "index definition");

/* The width of the value part of a column of `type` (and `size`, for
 * FIXED), 0 for a variable one (STR, BLOB). */
uint32_t shm_index_width(unsigned type, uint32_t size);

/*
 * shm_index_part - the value part of column col of row[0..len) (a checked
 * row of schema s) into out[0..cap), its length into *plen. Returns 0;
 * -ENODATA for a null (no entry); -EINVAL for a NaN; -E2BIG if the part
 * needs more than cap bytes.
 */
int shm_index_part(const struct shm_schema *s, const uint8_t *row, size_t len, unsigned col,
		   uint8_t *out, size_t cap, size_t *plen);

/*
 * shm_index_seek_part - the value part of a value given as the column's
 * key encoding (shmdb.h: shmdb_key_* for numbers, one byte 0 or 1 for a
 * BOOL, the bytes themselves for FIXED, STR and BLOB) into out[0..cap):
 * 0 and *plen; -EINVAL for a key of the wrong length for a fixed type (or
 * a BOOL byte other than 0 or 1); -E2BIG past cap.
 */
int shm_index_seek_part(const struct shm_index_def *d, const uint8_t *key, size_t klen,
			uint8_t *out, size_t cap, size_t *plen);

#endif /* SHMDB_SECONDARY_H */
