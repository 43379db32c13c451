/*
 * rows_cmd.h - the shmdb tool's typed rows: column definitions and values
 * parsed from the command line, rows printed as JSON (rows_cmd.c).
 *
 * Each function that can fail says why on stderr, prefixed "shmdb: ",
 * and returns a tool exit status: 0, 1 (the store refused or cannot be
 * reached) or 2 (bad usage: a definition or value that does not parse).
 */
#ifndef SHMDB_TOOL_ROWS_CMD_H
#define SHMDB_TOOL_ROWS_CMD_H

#include <stdint.h>

#include "shmdb.h"

/* Create (or open, with the same schema) table `name` of rows with the
 * columns defs[0..n): "NAME:TYPE", TYPE one of i32 i64 u64 f64 bool str
 * blob fixedN, with "?" after it for a nullable column. */
int rows_create(shmdb *db, const char *name, int n, char **defs, int flags, shmdb_table *t);

/* Commit one row of table t from assigns[0..n) ("COL=VALUE"; a nullable
 * column not given is null); *ts gets the commit. */
int rows_insert(shmdb *db, shmdb_table t, int n, char **assigns, uint64_t *ts);

/* The key of the row whose column 0 is `text` (parsed as that column's
 * type), into out[0..SHMDB_MAX_KEY), its length into *klen. */
int rows_key(const shmdb_schema *s, const char *text, uint8_t *out, size_t *klen);

/* The key encoding of value `text` of column col (parsed as its type, as
 * an index seeks it: a string may be empty), into out[0..SHMDB_MAX_KEY),
 * its length into *klen. */
int rows_value_key(const shmdb_schema *s, unsigned col, const char *text, uint8_t *out,
		   size_t *klen);

/* Print the indexes of table t in r's snapshot on one line, indented:
 * "  indexes: sym, qty (unique)"; nothing if it has none. */
void rows_print_indexes(shmdb_rtxn *r, shmdb_table t);

/* Print row as one line of JSON: an object of its columns by name (a null
 * column as null; integers exactly; a double's non-finite values as the
 * strings "NaN", "Infinity", "-Infinity"; FIXED and BLOB bytes as text
 * with \u escapes for what is not printable ASCII). */
int rows_print_json(const shmdb_schema *s, shmdb_val row);

/* Print s's columns on one line, indented, as create takes them:
 * "  columns: id:i64 sym:str ask:f64? venue:fixed4". */
void rows_print_columns(const shmdb_schema *s);

#endif /* SHMDB_TOOL_ROWS_CMD_H */
