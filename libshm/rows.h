/*
 * rows.h - typed rows: a table's schema and the bytes of its rows, shared
 * by the clients that build and read rows and the writer that checks them.
 *
 * A schema is a block of bytes, the same in a client's memory and in the
 * store; a row is a record's value, laid out by its schema so that a
 * reader takes any column from it where it lies, with no decode and no
 * copy: each column has a slot at a fixed offset of the row, known from
 * the schema alone, and a variable column's slot names where its bytes
 * are. Every row and every schema from outside is checked before use
 * (shm_schema_check, shm_row_check); a checked row's column reads need
 * only the bounds checks a reader makes anyway.
 *
 * The schema, little-endian, 8-byte aligned:
 *
 *   0  u32 magic       SHM_SCHEMA_MAGIC
 *   4  u16 version     SHM_SCHEMA_VERSION
 *   6  u16 ncols       1..SHM_MAX_COLUMNS; column 0 is the primary key
 *   8  u32 fixed       bytes of a row's fixed part: the null bitmap and
 *                      every column's slot (a multiple of 8)
 *  12  u32 bytes       bytes of the whole schema (a multiple of 8)
 *  16  struct shm_column col[ncols], 16 bytes each:
 *        0  u8  type     enum shmdb_type (SHMDB_I32 .. SHMDB_BLOB)
 *        1  u8  flags    SHMDB_NULLABLE or 0; never for column 0
 *        2  u8  name_len 1..SHM_MAX_COLUMN_NAME
 *        3  u8  reserved 0
 *        4  u32 name_off where the name is, from the schema's start
 *        8  u32 size     a FIXED column's bytes (1..SHMDB_MAX_KEY); else the
 *                        slot's size (4 for I32, 8 for I64, U64, F64, STR
 *                        and BLOB, 1 for BOOL)
 *       12  u32 slot     the column's slot, from the row's start
 *  16 + 16 * ncols: the names, one after another, then zeros up to `bytes`.
 *
 * Names are distinct and 1..63 bytes of printable ASCII other than the
 * space, '=' and ':' (the tool's COL=VALUE and COL:TYPE). Slots are placed by the
 * schema's builder (shm_schema_build) and checked as it places them: the
 * 8-byte ones first, then the 4-byte, then the 1-byte and FIXED ones, in
 * column order within each, after the bitmap.
 *
 * A row of a schema with `fixed` F:
 *
 *   0  u8  nulls[ceil(ncols / 8), rounded up to 8]  bit c (byte c / 8,
 *          bit c % 8) set: column c is null (its slot is all zeros)
 *      each column's slot at its offset: I32 int32_t, I64 int64_t, U64
 *          uint64_t, F64 double, BOOL u8 0 or 1, FIXED `size` bytes, STR
 *          and BLOB u32 off, u32 len (their bytes at [off, off + len))
 *   F  the variable columns' bytes, in column order, one after another,
 *      up to the row's end: the first at F, each next where the one before
 *      it ends, and the last ends where the row does. STR bytes are UTF-8.
 *
 * So a row is canonical: one set of values has one encoding, and a row
 * holds no byte that is not a value's.
 */
#ifndef SHMDB_ROWS_H
#define SHMDB_ROWS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "shmdb.h"

#define SHM_SCHEMA_MAGIC 0x53524853u /* "SHRS" */
#define SHM_SCHEMA_VERSION 1u
#define SHM_MAX_COLUMNS 256u
#define SHM_MAX_COLUMN_NAME 63u
/* The largest schema: SHM_MAX_COLUMNS columns with the longest names. */
#define SHM_MAX_SCHEMA_BYTES (16u + SHM_MAX_COLUMNS * (16u + SHM_MAX_COLUMN_NAME) + 8u)

/* The column types, as shmdb.h will name them (enum shmdb_type). */
enum shm_type {
	SHM_I32 = 1,
	SHM_I64,
	SHM_U64,
	SHM_F64,
	SHM_BOOL,
	SHM_FIXED,
	SHM_STR,
	SHM_BLOB,
};
#define SHM_NULLABLE 1u

struct shm_column {
	uint8_t type;
	uint8_t flags;
	uint8_t name_len;
	uint8_t reserved;
	uint32_t name_off;
	uint32_t size;
	uint32_t slot;
};

struct shm_schema {
	uint32_t magic;
	uint16_t version;
	uint16_t ncols;
	uint32_t fixed;
	uint32_t bytes;
	struct shm_column col[];
};

/* A column as a schema's builder is given it. */
struct shm_column_def {
	const char *name;
	unsigned type;
	uint32_t size; /* FIXED only */
	unsigned flags;
};

/*
 * shm_schema_build - the schema of columns defs[0..n) into out[0..cap),
 * its size into *bytes. Returns 0; -EINVAL for a bad column (name, type,
 * size or flags; a nullable column 0; a duplicate name) or n out of
 * 1..SHM_MAX_COLUMNS; -ENOSPC if cap is too small (*bytes says how much
 * it takes); -E2BIG if a row's fixed part would pass SHMDB_MAX_VALUE.
 */
int shm_schema_build(const struct shm_column_def *defs, unsigned n, void *out, size_t cap,
		     size_t *bytes);

/*
 * shm_schema_check - whether buf[0..len) is a schema shm_schema_build
 * could have made (len == its bytes): 0, or -EINVAL. Run on every schema
 * from outside before any other function here reads it.
 */
int shm_schema_check(const void *buf, size_t len);

/*
 * shm_row_check - whether row[0..len) is a canonical row of schema s (the
 * layout above; STR bytes UTF-8; BOOL 0 or 1; nulls only where nullable;
 * null slots zero): 0, or -EINVAL.
 */
int shm_row_check(const struct shm_schema *s, const uint8_t *row, size_t len);

/*
 * shm_utf8_ok - whether p[0..len) is well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF).
 */
int shm_utf8_ok(const uint8_t *p, size_t len);

/* A column's value, as shm_row_encode is given it. */
struct shm_value {
	int null;
	union {
		int64_t i; /* I32, I64, BOOL (0 or 1) */
		uint64_t u;
		double f;
	};
	const void *data; /* FIXED, STR, BLOB: len bytes */
	uint32_t len;
};

/*
 * shm_row_encode - the row of schema s holding values v[0..ncols) into
 * out[0..cap), its length into *len. Returns 0; -EINVAL for a value its
 * column cannot hold (a null where not nullable, a FIXED value of another
 * size, a STR that is not UTF-8, a BOOL other than 0 or 1, an I32 out of
 * range); -E2BIG past SHMDB_MAX_VALUE; -ENOSPC if cap is too small (*len
 * says how much it takes). The result passes shm_row_check.
 */
int shm_row_encode(const struct shm_schema *s, const struct shm_value *v, uint8_t *out,
		   size_t cap, size_t *len);

/*
 * shm_row_key - the key a row of schema s is stored under: its column 0
 * as a key (shmdb_key_* for I32, I64, U64 and F64; one byte for a BOOL;
 * the bytes of a FIXED, STR or BLOB) into out[0..SHMDB_MAX_KEY), its
 * length into *klen. row[0..len) passed shm_row_check. Returns 0, or
 * -EINVAL if the value makes no key (a NaN, an empty or too long string).
 */
int shm_row_key(const struct shm_schema *s, const uint8_t *row, size_t len, uint8_t *out,
		size_t *klen);

/* shm_row_column_key - as shm_row_key, for column c: also -ENODATA for a
 * null. */
int shm_row_column_key(const struct shm_schema *s, const uint8_t *row, size_t len, unsigned c,
		       uint8_t *out, size_t *klen);

/*
 * A field update, as a transaction carries it (txn.h, SHM_OP_UPDATE):
 *
 *   0  u16 col        the column
 *   2  u8  how        enum shm_update_how
 *   3  u8  reserved[5] 0
 *   8  the operand: an int64_t (SET_I64, ADD_I64), a double (SET_F64,
 *      ADD_F64), the column's `size` bytes (SET_BYTES, a FIXED column),
 *      nothing (SET_NULL)
 */
enum shm_update_how {
	SHM_SET_I64 = 1,
	SHM_ADD_I64,
	SHM_SET_F64,
	SHM_ADD_F64,
	SHM_SET_BYTES,
	SHM_SET_NULL,
};

struct shm_field_update {
	uint16_t col;
	uint8_t how;
	uint8_t reserved[5];
};

/*
 * shm_row_update - row[0..len) of schema s (checked) with the field update
 * upd[0..ulen) made, into out[0..cap), its length into *out_len. Returns
 * 0; -EINVAL (no such column, a column of another type for `how`, a
 * SET_NULL of a column that is not nullable or of column 0 (the key), an
 * operand of the wrong size, a malformed update); -ENODATA (an ADD to a
 * null column); -ERANGE (an ADD_I64 that overflows); -ENOSPC if cap is
 * too small (*out_len says how much it takes). The result passes
 * shm_row_check; a SET of column 0 is refused (a row's key stays).
 */
int shm_row_update(const struct shm_schema *s, const uint8_t *row, size_t len, const uint8_t *upd,
		   size_t ulen, uint8_t *out, size_t cap, size_t *out_len);

/* The bytes of a row's null bitmap for ncols columns. */
static inline uint32_t shm_row_nulls_bytes(unsigned ncols)
{
	return ((ncols + 63u) / 64u) * 8u;
}

static inline const char *shm_column_name(const struct shm_schema *s, unsigned c)
{
	return (const char *)s + s->col[c].name_off;
}

static inline int shm_row_is_null(const uint8_t *row, unsigned c)
{
	return (row[c / 8] >> (c % 8)) & 1;
}

/*
 * shm_row_slot - column c's slot in row[0..len) of schema s, checked to be
 * a column of `type` that the row holds: the slot, or NULL with *err set:
 * -EINVAL (no such column, another type, a row too short for the
 * schema), -ENODATA (null).
 */
static inline const uint8_t *shm_row_slot(const struct shm_schema *s, const uint8_t *row,
					  size_t len, unsigned c, unsigned type, int *err)
{
	if (c >= s->ncols || s->col[c].type != type || len < s->fixed) {
		*err = -EINVAL;
		return NULL;
	}
	if (shm_row_is_null(row, c)) {
		*err = -ENODATA;
		return NULL;
	}
	return row + s->col[c].slot;
}

#endif /* SHMDB_ROWS_H */
