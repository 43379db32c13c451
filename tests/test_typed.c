/*
 * test_typed.c - tables of typed rows through a real shmdbd: schemas
 * stored in the store (created, opened again, refused when they differ),
 * rows built by one process and read in place by another against a model,
 * and what the writer refuses (rows that are not the schema's, a row under
 * another key, a schema forged in the ring), with nothing of a refused
 * transaction applied.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "layout.h"
#include "rows.h"
#include "shmdb.h"
#include "txn.h"

static struct test_daemon d;

static const shmdb_column quote_cols[] = {
	{ .name = "id", .type = SHMDB_I64 },
	{ .name = "sym", .type = SHMDB_STR },
	{ .name = "bid", .type = SHMDB_F64 },
	{ .name = "ask", .type = SHMDB_F64, .flags = SHMDB_NULLABLE },
	{ .name = "size", .type = SHMDB_I32 },
	{ .name = "ts", .type = SHMDB_U64 },
	{ .name = "live", .type = SHMDB_BOOL, .flags = SHMDB_NULLABLE },
	{ .name = "venue", .type = SHMDB_FIXED, .size = 4 },
	{ .name = "note", .type = SHMDB_BLOB, .flags = SHMDB_NULLABLE },
};
#define QUOTE_COLS (sizeof(quote_cols) / sizeof(*quote_cols))
enum { C_ID, C_SYM, C_BID, C_ASK, C_SIZE, C_TS, C_LIVE, C_VENUE, C_NOTE };

/* The model of quote i: every value a function of i. */
static void quote_sym(char *buf, size_t cap, int64_t i)
{
	/* Empty, ASCII, and two- to four-byte UTF-8 symbols. */
	static const char *tail[] = { "", "EUR/USD", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac",
				      "\xf0\x9f\x98\x80" };
	snprintf(buf, cap, "%s%s", i % 7 == 0 ? "" : "S", tail[i % 5]);
}

static void build_quote(shmdb_row *b, int64_t i)
{
	char sym[32];
	quote_sym(sym, sizeof(sym), i);
	shmdb_row_reset(b);
	ck_assert_int_eq(shmdb_row_set_i64(b, C_ID, i - 500), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, C_SYM, sym, strlen(sym)), 0);
	ck_assert_int_eq(shmdb_row_set_f64(b, C_BID, (double)i / 8 - 3), 0);
	if (i % 3)
		ck_assert_int_eq(shmdb_row_set_f64(b, C_ASK, (double)i / 4), 0);
	else if (i % 2)
		ck_assert_int_eq(shmdb_row_set_null(b, C_ASK), 0);
	/* else left unset: null */
	ck_assert_int_eq(shmdb_row_set_i32(b, C_SIZE, (int32_t)(i * 1000003 % 2000000) - 1000000), 0);
	ck_assert_int_eq(shmdb_row_set_u64(b, C_TS, UINT64_MAX - (uint64_t)i), 0);
	if (i % 4)
		ck_assert_int_eq(shmdb_row_set_bool(b, C_LIVE, i % 4 == 1), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, C_VENUE, i % 2 ? "XNAS" : "XLON", 4), 0);
	if (i % 5 == 0) {
		uint8_t note[300];
		for (size_t k = 0; k < sizeof(note); k++)
			note[k] = (uint8_t)(k * 7 + (size_t)i);
		ck_assert_int_eq(shmdb_row_set_bytes(b, C_NOTE, note, (size_t)(i % 300)), 0);
	}
}

/* Row (read in place from the store) holds exactly quote i. */
static void check_quote(const shmdb_schema *s, shmdb_val row, int64_t i)
{
	int64_t id;
	double f;
	int32_t size;
	uint64_t ts;
	bool live;
	shmdb_val v;
	char sym[32];
	ck_assert_int_eq(shmdb_row_i64(s, row, C_ID, &id), 0);
	ck_assert(id == i - 500);
	quote_sym(sym, sizeof(sym), i);
	ck_assert_int_eq(shmdb_row_bytes(s, row, C_SYM, &v), 0);
	ck_assert_uint_eq(v.len, strlen(sym));
	ck_assert(v.len == 0 || !memcmp(v.data, sym, v.len));
	ck_assert_int_eq(shmdb_row_f64(s, row, C_BID, &f), 0);
	ck_assert(f == (double)i / 8 - 3);
	if (i % 3) {
		ck_assert_int_eq(shmdb_row_f64(s, row, C_ASK, &f), 0);
		ck_assert(f == (double)i / 4);
	} else {
		ck_assert_int_eq(shmdb_row_f64(s, row, C_ASK, &f), -ENODATA);
	}
	ck_assert_int_eq(shmdb_row_i32(s, row, C_SIZE, &size), 0);
	ck_assert_int_eq(size, (int32_t)(i * 1000003 % 2000000) - 1000000);
	ck_assert_int_eq(shmdb_row_u64(s, row, C_TS, &ts), 0);
	ck_assert(ts == UINT64_MAX - (uint64_t)i);
	if (i % 4) {
		ck_assert_int_eq(shmdb_row_bool(s, row, C_LIVE, &live), 0);
		ck_assert(live == (i % 4 == 1));
	} else {
		ck_assert_int_eq(shmdb_row_bool(s, row, C_LIVE, &live), -ENODATA);
	}
	ck_assert_int_eq(shmdb_row_bytes(s, row, C_VENUE, &v), 0);
	ck_assert_uint_eq(v.len, 4);
	ck_assert(!memcmp(v.data, i % 2 ? "XNAS" : "XLON", 4));
	if (i % 5 == 0) {
		ck_assert_int_eq(shmdb_row_bytes(s, row, C_NOTE, &v), 0);
		ck_assert_uint_eq(v.len, (size_t)(i % 300));
		for (size_t k = 0; k < v.len; k++)
			ck_assert_uint_eq(((const uint8_t *)v.data)[k], (uint8_t)(k * 7 + (size_t)i));
	} else {
		ck_assert_int_eq(shmdb_row_bytes(s, row, C_NOTE, &v), -ENODATA);
	}
	/* The wrong type, or no such column: refused. */
	ck_assert_int_eq(shmdb_row_f64(s, row, C_ID, &f), -EINVAL);
	ck_assert_int_eq(shmdb_row_i64(s, row, C_BID, &id), -EINVAL);
	ck_assert_int_eq(shmdb_row_bytes(s, row, C_TS, &v), -EINVAL);
	ck_assert_int_eq(shmdb_row_i64(s, row, QUOTE_COLS, &id), -EINVAL);
}

START_TEST(schemas_in_the_store)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t, again, plain;
	ck_assert_int_eq(shmdb_table_create_rows(db, "quotes", quote_cols, QUOTE_COLS, 0, &t), 0);
	ck_assert_int_eq(shmdb_table_create_rows(db, "quotes", quote_cols, QUOTE_COLS, 0, &again), 0);
	ck_assert_uint_eq(again, t);
	/* Another schema, another kind, a name in use: refused. */
	shmdb_column other[QUOTE_COLS];
	memcpy(other, quote_cols, sizeof(other));
	other[C_ASK].flags = 0;
	ck_assert_int_eq(shmdb_table_create_rows(db, "quotes", other, QUOTE_COLS, 0, &again), -EEXIST);
	ck_assert_int_eq(shmdb_table_create_rows(db, "quotes", quote_cols, QUOTE_COLS - 1, 0, &again),
			 -EEXIST);
	ck_assert_int_eq(
		shmdb_table_create_rows(db, "quotes", quote_cols, QUOTE_COLS, SHMDB_ORDERED, &again),
		-EEXIST);
	ck_assert_int_eq(shmdb_table_open(db, "quotes", SHMDB_ORDERED, &again), -EEXIST);
	ck_assert_int_eq(shmdb_table_open(db, "quotes", 0, &again), 0);
	ck_assert_uint_eq(again, t);
	plain = test_table(db, "plain");
	ck_assert_int_eq(shmdb_table_create_rows(db, "plain", quote_cols, QUOTE_COLS, 0, &again),
			 -EEXIST);
	/* Bad columns or flags: refused before anything is sent. */
	ck_assert_int_eq(
		shmdb_table_create_rows(db, "m", quote_cols, QUOTE_COLS, SHMDB_MULTI, &again), -EINVAL);
	ck_assert_int_eq(shmdb_table_create_rows(db, "m", quote_cols, 0, 0, &again), -EINVAL);
	memcpy(other, quote_cols, sizeof(other));
	other[0].flags = SHMDB_NULLABLE;
	ck_assert_int_eq(shmdb_table_create_rows(db, "m", other, QUOTE_COLS, 0, &again), -EINVAL);
	memcpy(other, quote_cols, sizeof(other));
	other[2].name = "sym";
	ck_assert_int_eq(shmdb_table_create_rows(db, "m", other, QUOTE_COLS, 0, &again), -EINVAL);
	ck_assert_int_eq(shmdb_table_open(db, "m", 0, &again), -ENOENT);

	/* Every process reads the schema from the store. */
	shmdb_rtxn *r;
	const shmdb_schema *s;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	ck_assert_uint_eq(shmdb_schema_columns(s), QUOTE_COLS);
	for (unsigned c = 0; c < QUOTE_COLS; c++) {
		shmdb_column col;
		const char *name;
		size_t len;
		ck_assert_int_eq(shmdb_schema_column(s, c, &col, &name, &len), 0);
		ck_assert_uint_eq(len, strlen(quote_cols[c].name));
		ck_assert(!memcmp(name, quote_cols[c].name, len));
		ck_assert_int_eq(col.type, quote_cols[c].type);
		ck_assert_int_eq(col.flags, quote_cols[c].flags);
		ck_assert_uint_eq(col.size, quote_cols[c].size);
		ck_assert_int_eq(shmdb_column_index(s, quote_cols[c].name), (int)c);
	}
	shmdb_column col;
	const char *name;
	size_t len;
	ck_assert_int_eq(shmdb_schema_column(s, QUOTE_COLS, &col, &name, &len), -EINVAL);
	ck_assert_int_eq(shmdb_column_index(s, "nope"), -ENOENT);
	ck_assert_int_eq(shmdb_schema_get(r, plain, &s), -EINVAL);
	ck_assert_int_eq(shmdb_schema_get(r, 0x7fff0001u, &s), -ENOENT);
	shmdb_read_end(r);
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, plain, &b), -EINVAL);

	/* Dropped, the name takes another schema. */
	ck_assert_int_eq(shmdb_table_drop(db, "quotes"), 0);
	memcpy(other, quote_cols, sizeof(other));
	other[C_ASK].flags = 0;
	ck_assert_int_eq(shmdb_table_create_rows(db, "quotes", other, QUOTE_COLS, SHMDB_ORDERED, &again), 0);
	ck_assert_uint_ne(again, t);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

enum { QUOTES = 2000 };

struct writer_args {
	shmdb_table t;
};

/* Another process builds the rows, in transactions of 100. */
static void quote_writer(void *arg)
{
	const struct writer_args *a = arg;
	shmdb *db = test_child_open(&d);
	shmdb_row *b;
	CHILD_REQUIRE(shmdb_row_new(db, a->t, &b) == 0, 91);
	for (int64_t i = 0; i < QUOTES; i += 100) {
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 92);
		for (int64_t k = i; k < i + 100; k++) {
			build_quote(b, k);
			CHILD_REQUIRE(shmdb_put_row(w, a->t, b) == 0, 93);
		}
		CHILD_REQUIRE(shmdb_commit(w, NULL) == 0, 94);
	}
	shmdb_row_free(b);
	shmdb_close(db);
}

START_TEST(rows_written_by_one_process_read_in_place_by_another)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	struct writer_args a;
	ck_assert_int_eq(
		shmdb_table_create_rows(db, "quotes", quote_cols, QUOTE_COLS, SHMDB_ORDERED, &a.t), 0);
	pid_t pid = test_spawn(quote_writer, &a);
	ck_assert_int_eq(test_reap(pid, 60000), 0);

	shmdb_rtxn *r;
	const shmdb_schema *s;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, a.t, &s), 0);
	uint64_t n;
	ck_assert_int_eq(shmdb_count(r, a.t, &n), 0);
	ck_assert_uint_eq(n, QUOTES);
	/* In key order, ids -500 .. 1499: the i64 key encoding's order. */
	shmdb_cursor *c;
	shmdb_val key, row;
	ck_assert_int_eq(shmdb_cursor_open(r, a.t, &c), 0);
	int64_t i = 0;
	while (shmdb_cursor_next(c, &key, &row) == 0) {
		int64_t id;
		ck_assert_int_eq(shmdb_key_to_i64(key.data, key.len, &id), 0);
		ck_assert(id == i - 500);
		check_quote(s, row, i);
		i++;
	}
	ck_assert_int_eq(i, QUOTES);
	shmdb_cursor_close(c);
	/* A get by the key's encoding. */
	uint8_t k[8];
	ck_assert_int_eq(shmdb_get(r, a.t, k, shmdb_key_i64(-500 + 1234, k), &row), 0);
	check_quote(s, row, 1234);
	shmdb_read_end(r);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* 64 columns of every type, each read back. */
START_TEST(sixty_four_columns)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_column cols[64];
	char names[64][8];
	for (unsigned c = 0; c < 64; c++) {
		snprintf(names[c], sizeof(names[c]), "c%u", c);
		cols[c] = (shmdb_column){ .name = names[c], .type = (enum shmdb_type)(SHMDB_I32 + c % 8),
					  .size = c % 8 == 5 ? 8 : 0, .flags = c && c % 3 == 0 };
	}
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_create_rows(db, "wide", cols, 64, 0, &t), 0);
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	for (unsigned c = 0; c < 64; c++) {
		switch (cols[c].type) {
		case SHMDB_I32: ck_assert_int_eq(shmdb_row_set_i32(b, c, -(int32_t)c), 0); break;
		case SHMDB_I64: ck_assert_int_eq(shmdb_row_set_i64(b, c, -((int64_t)c << 40)), 0); break;
		case SHMDB_U64: ck_assert_int_eq(shmdb_row_set_u64(b, c, (uint64_t)c << 50), 0); break;
		case SHMDB_F64: ck_assert_int_eq(shmdb_row_set_f64(b, c, c + 0.5), 0); break;
		case SHMDB_BOOL: ck_assert_int_eq(shmdb_row_set_bool(b, c, c & 16), 0); break;
		case SHMDB_FIXED: ck_assert_int_eq(shmdb_row_set_bytes(b, c, "abcdefgh", 8), 0); break;
		default: ck_assert_int_eq(shmdb_row_set_bytes(b, c, names[c], strlen(names[c])), 0);
		}
	}
	ck_assert_int_eq(shmdb_row_set_null(b, 63), 0); /* 63 % 3 == 0: nullable */
	ck_assert_int_eq(shmdb_row_set_null(b, 62), -EINVAL);
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put_row(w, t, b), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_val row;
	uint8_t k[4];
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	ck_assert_int_eq(shmdb_get(r, t, k, shmdb_key_i32(0, k), &row), 0);
	for (unsigned c = 0; c < 63; c++) {
		int32_t i32;
		int64_t i64;
		uint64_t u64;
		double f;
		bool bo;
		shmdb_val v;
		switch (cols[c].type) {
		case SHMDB_I32:
			ck_assert_int_eq(shmdb_row_i32(s, row, c, &i32), 0);
			ck_assert_int_eq(i32, -(int32_t)c);
			break;
		case SHMDB_I64:
			ck_assert_int_eq(shmdb_row_i64(s, row, c, &i64), 0);
			ck_assert(i64 == -((int64_t)c << 40));
			break;
		case SHMDB_U64:
			ck_assert_int_eq(shmdb_row_u64(s, row, c, &u64), 0);
			ck_assert(u64 == (uint64_t)c << 50);
			break;
		case SHMDB_F64:
			ck_assert_int_eq(shmdb_row_f64(s, row, c, &f), 0);
			ck_assert(f == c + 0.5);
			break;
		case SHMDB_BOOL:
			ck_assert_int_eq(shmdb_row_bool(s, row, c, &bo), 0);
			ck_assert(bo == ((c & 16) != 0));
			break;
		case SHMDB_FIXED:
			ck_assert_int_eq(shmdb_row_bytes(s, row, c, &v), 0);
			ck_assert(v.len == 8 && !memcmp(v.data, "abcdefgh", 8));
			break;
		default:
			ck_assert_int_eq(shmdb_row_bytes(s, row, c, &v), 0);
			ck_assert(v.len == strlen(names[c]) && !memcmp(v.data, names[c], v.len));
		}
	}
	shmdb_val v;
	ck_assert_int_eq(shmdb_row_bytes(s, row, 63, &v), -ENODATA);
	shmdb_read_end(r);
	shmdb_row_free(b);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(bad_rows_refused)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t, plain = test_table(db, "plain");
	ck_assert_int_eq(shmdb_table_create_rows(db, "quotes", quote_cols, QUOTE_COLS, 0, &t), 0);
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	/* The builder refuses what the schema cannot hold. */
	ck_assert_int_eq(shmdb_row_set_f64(b, C_ID, 1.0), -EINVAL);
	ck_assert_int_eq(shmdb_row_set_i64(b, C_BID, 1), -EINVAL);
	ck_assert_int_eq(shmdb_row_set_i64(b, QUOTE_COLS, 1), -EINVAL);
	ck_assert_int_eq(shmdb_row_set_bytes(b, C_SYM, "\xc3\x28", 2), -EINVAL);
	ck_assert_int_eq(shmdb_row_set_bytes(b, C_VENUE, "XNASD", 5), -EINVAL);
	ck_assert_int_eq(shmdb_row_set_bytes(b, C_ID, "x", 1), -EINVAL);
	ck_assert_int_eq(shmdb_row_set_null(b, C_BID), -EINVAL);
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put_row(w, t, b), -EINVAL); /* nothing set */
	build_quote(b, 1);
	ck_assert_int_eq(shmdb_put_row(w, plain, b), -EINVAL); /* not its table */
	ck_assert_int_eq(shmdb_put_row(w, t, b), 0);
	/* Rows a client can forge past the builder: the writer refuses the
	 * transaction, and nothing of it applies (the good row above). */
	uint8_t forged[64] = { 0 };
	ck_assert_int_eq(shmdb_put(w, t, "k", 1, forged, sizeof(forged)), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -EINVAL);
	/* A good row under another key than its column 0's. */
	build_quote(b, 2);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put_row(w, t, b), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_rtxn *r;
	shmdb_val row;
	uint8_t k[8];
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_get(r, t, k, shmdb_key_i64(2 - 500, k), &row), 0);
	uint8_t copy[512];
	size_t len = row.len;
	memcpy(copy, row.data, len);
	ck_assert_int_eq(shmdb_get(r, t, k, shmdb_key_i64(1 - 500, k), &row), -ENOENT);
	uint64_t n;
	ck_assert_int_eq(shmdb_count(r, t, &n), 0);
	ck_assert_uint_eq(n, 1);
	shmdb_read_end(r);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, k, shmdb_key_i64(7, k), copy, len), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -EINVAL);
	/* Under its own key, with its id marked null, or a byte past its
	 * end: not a row of the schema. */
	copy[0] |= 1;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, k, shmdb_key_i64(2 - 500, k), copy, len), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -EINVAL);
	copy[0] &= (uint8_t)~1u;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, k, shmdb_key_i64(2 - 500, k), copy, len + 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -EINVAL);
	/* The same bytes under their own key: a row like any other. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, k, shmdb_key_i64(2 - 500, k), copy, len), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	/* A key column with no key: a NaN. */
	static const shmdb_column fcols[] = { { .name = "px", .type = SHMDB_F64 } };
	shmdb_table ft;
	shmdb_row *fb;
	ck_assert_int_eq(shmdb_table_create_rows(db, "prices", fcols, 1, SHMDB_ORDERED, &ft), 0);
	ck_assert_int_eq(shmdb_row_new(db, ft, &fb), 0);
	ck_assert_int_eq(shmdb_row_set_f64(fb, 0, NAN), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put_row(w, ft, fb), -EINVAL);
	shmdb_abort(w);
	shmdb_row_free(fb);
	shmdb_row_free(b);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* CREATE_TABLE ops written straight into the ring: a forged schema, a
 * schema with a kind that takes none, a kind no table has. */
static void forged_schemas(void *arg)
{
	(void)arg;
	shmdb *db = test_child_open(&d);
	struct shm_column_def defs[] = { { .name = "id", .type = SHM_I64 },
					 { .name = "v", .type = SHM_STR } };
	uint64_t schema[64];
	size_t bytes;
	CHILD_REQUIRE(shm_schema_build(defs, 2, schema, sizeof(schema), &bytes) == 0, 100);
	uint64_t buf[128], ts;
	/* A slot moved: not a schema the builder makes. */
	struct shm_schema *s = (struct shm_schema *)schema;
	s->col[1].slot += 8;
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_TABLE, 0, SHM_KIND_ROWS, "forged", 6, schema, bytes);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(6, bytes), &ts) == -EINVAL && ts == 0, 101);
	s->col[1].slot -= 8;
	/* A schema with a plain table, a rows kind with MULTI: malformed. */
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "forged", 6, schema, bytes);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(6, bytes), &ts) == SHMDB_EBADTXN, 102);
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_TABLE, 0, SHM_KIND_ROWS | SHMDB_MULTI | SHMDB_ORDERED,
		      "forged", 6, schema, bytes);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(6, bytes), &ts) == SHMDB_EBADTXN, 103);
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_TABLE, 0, SHM_KIND_ROWS, "forged", 6, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(6, 0), &ts) == SHMDB_EBADTXN, 104);
	shmdb_table t;
	CHILD_REQUIRE(shmdb_table_open(db, "forged", 0, &t) == -ENOENT, 105);
	/* The schema as built: a table. */
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_TABLE, 0, SHM_KIND_ROWS, "forged", 6, schema, bytes);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(6, bytes), &ts) == 0 && ts > 0, 106);
	CHILD_REQUIRE(shmdb_table_open(db, "forged", 0, &t) == 0, 107);
	/* Field updates forged: too short, no table (malformed); a reserved
	 * byte set, an unknown kind of update (refused by the writer). */
	uint8_t upd[16] = { 1, 0, SHM_SET_I64 };
	shm_op_encode((uint8_t *)buf, SHM_OP_UPDATE, t, 0, "k", 1, upd, 4);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(1, 4), &ts) == SHMDB_EBADTXN, 108);
	shm_op_encode((uint8_t *)buf, SHM_OP_UPDATE, 0, 0, "k", 1, upd, 16);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(1, 16), &ts) == SHMDB_EBADTXN, 109);
	uint8_t row_key[8];
	shmdb_key_i64(0, row_key);
	shm_op_encode((uint8_t *)buf, SHM_OP_UPDATE, t, 0, row_key, 8, upd, 16);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(8, 16), &ts) == -ENOENT, 110);
	shmdb_row *b;
	shmdb_wtxn *w;
	CHILD_REQUIRE(shmdb_row_new(db, t, &b) == 0 && shmdb_row_set_i64(b, 0, 0) == 0 &&
			      shmdb_row_set_bytes(b, 1, "x", 1) == 0 && shmdb_write_begin(db, &w) == 0 &&
			      shmdb_put_row(w, t, b) == 0 && shmdb_commit(w, NULL) == 0,
		      111);
	shmdb_row_free(b);
	upd[5] = 1; /* reserved */
	shm_op_encode((uint8_t *)buf, SHM_OP_UPDATE, t, 0, row_key, 8, upd, 16);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(8, 16), &ts) == -EINVAL, 112);
	upd[5] = 0;
	upd[2] = 77; /* no such update */
	shm_op_encode((uint8_t *)buf, SHM_OP_UPDATE, t, 0, row_key, 8, upd, 16);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(8, 16), &ts) == -EINVAL, 113);
	upd[2] = SHM_SET_I64; /* column 1 is a str */
	shm_op_encode((uint8_t *)buf, SHM_OP_UPDATE, t, 0, row_key, 8, upd, 16);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(8, 16), &ts) == -EINVAL, 114);
	shmdb_close(db);
}

START_TEST(forged_schemas_refused)
{
	test_start_daemon(&d, "64M");
	ck_assert_int_eq(test_in_child(forged_schemas, NULL), 0);
	test_assert_served(&d, "forged");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- field updates ------------------------------------------------------------ */

static const shmdb_column acct_cols[] = {
	{ .name = "id", .type = SHMDB_STR },
	{ .name = "qty", .type = SHMDB_I64 },
	{ .name = "px", .type = SHMDB_F64, .flags = SHMDB_NULLABLE },
	{ .name = "tag", .type = SHMDB_FIXED, .size = 3 },
	{ .name = "memo", .type = SHMDB_STR, .flags = SHMDB_NULLABLE },
	{ .name = "after", .type = SHMDB_BLOB },
};
enum { A_ID, A_QTY, A_PX, A_TAG, A_MEMO, A_AFTER };

static void put_acct(shmdb *db, shmdb_table t, const char *id, int64_t qty)
{
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_ID, id, strlen(id)), 0);
	ck_assert_int_eq(shmdb_row_set_i64(b, A_QTY, qty), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_TAG, "abc", 3), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_MEMO, "hello", 5), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_AFTER, "tail", 4), 0);
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put_row(w, t, b), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_row_free(b);
}

/* One transaction of the ops `fill` adds, committed: its result. */
#define COMMIT(db, stmts)                                       \
	({                                                      \
		shmdb_wtxn *w_;                                 \
		ck_assert_int_eq(shmdb_write_begin(db, &w_), 0); \
		{                                               \
			shmdb_wtxn *w = w_;                     \
			stmts;                                  \
		}                                               \
		shmdb_commit(w_, NULL);                         \
	})

static void acct_i64(shmdb *db, shmdb_table t, const char *id, int64_t *qty)
{
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_val row;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	ck_assert_int_eq(shmdb_get(r, t, id, strlen(id), &row), 0);
	ck_assert_int_eq(shmdb_row_i64(s, row, A_QTY, qty), 0);
	shmdb_read_end(r);
}

START_TEST(field_updates)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_create_rows(db, "acct", acct_cols, 6, SHMDB_ORDERED, &t), 0);
	put_acct(db, t, "a", 10);
	shmdb_rtxn *old; /* a snapshot from before, held by a second handle */
	const shmdb_schema *s;
	shmdb_val row;
	shmdb *db2 = test_open(&d);
	ck_assert_int_eq(shmdb_read_begin(db2, &old), 0);

	/* Each kind of update, several in one transaction, in order. */
	ck_assert_int_eq(COMMIT(db, {
		ck_assert_int_eq(shmdb_add_i64(w, t, "a", 1, A_QTY, 5), 0);
		ck_assert_int_eq(shmdb_add_i64(w, t, "a", 1, A_QTY, -20), 0);
		ck_assert_int_eq(shmdb_set_f64(w, t, "a", 1, A_PX, 2.5), 0);
		ck_assert_int_eq(shmdb_add_f64(w, t, "a", 1, A_PX, 0.25), 0);
		ck_assert_int_eq(shmdb_set_bytes(w, t, "a", 1, A_TAG, "xyz", 3), 0);
		ck_assert_int_eq(shmdb_set_null(w, t, "a", 1, A_MEMO), 0);
	}), 0);
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	ck_assert_int_eq(shmdb_get(r, t, "a", 1, &row), 0);
	int64_t q;
	double px;
	shmdb_val v;
	ck_assert_int_eq(shmdb_row_i64(s, row, A_QTY, &q), 0);
	ck_assert(q == -5);
	ck_assert_int_eq(shmdb_row_f64(s, row, A_PX, &px), 0);
	ck_assert(px == 2.75);
	ck_assert_int_eq(shmdb_row_bytes(s, row, A_TAG, &v), 0);
	ck_assert(v.len == 3 && !memcmp(v.data, "xyz", 3));
	ck_assert_int_eq(shmdb_row_bytes(s, row, A_MEMO, &v), -ENODATA);
	ck_assert_int_eq(shmdb_row_bytes(s, row, A_AFTER, &v), 0); /* moved down, intact */
	ck_assert(v.len == 4 && !memcmp(v.data, "tail", 4));
	shmdb_read_end(r);
	/* The snapshot from before still sees the row as it was. */
	ck_assert_int_eq(shmdb_schema_get(old, t, &s), 0);
	ck_assert_int_eq(shmdb_get(old, t, "a", 1, &row), 0);
	ck_assert_int_eq(shmdb_row_i64(s, row, A_QTY, &q), 0);
	ck_assert(q == 10);
	ck_assert_int_eq(shmdb_row_f64(s, row, A_PX, &px), -ENODATA);
	ck_assert_int_eq(shmdb_row_bytes(s, row, A_MEMO, &v), 0);
	ck_assert(v.len == 5 && !memcmp(v.data, "hello", 5));
	shmdb_read_end(old);
	shmdb_close(db2);

	/* Failures apply nothing of their transaction (the add before them). */
	ck_assert_int_eq(COMMIT(db, {
		shmdb_add_i64(w, t, "a", 1, A_QTY, 1);
		shmdb_add_i64(w, t, "zz", 2, A_QTY, 1);
	}), -ENOENT);
	ck_assert_int_eq(COMMIT(db, {
		shmdb_add_i64(w, t, "a", 1, A_QTY, 1);
		shmdb_add_i64(w, t, "a", 1, A_QTY, INT64_MIN); /* -4 + INT64_MIN */
	}), -ERANGE);
	ck_assert_int_eq(COMMIT(db, shmdb_add_i64(w, t, "a", 1, A_PX, 1)), -EINVAL);
	ck_assert_int_eq(COMMIT(db, shmdb_set_bytes(w, t, "a", 1, A_TAG, "ab", 2)), -EINVAL);
	ck_assert_int_eq(COMMIT(db, shmdb_set_null(w, t, "a", 1, A_QTY)), -EINVAL);
	ck_assert_int_eq(COMMIT(db, {
		shmdb_set_null(w, t, "a", 1, A_PX);
		shmdb_add_f64(w, t, "a", 1, A_PX, 1);
	}), -ENODATA);
	ck_assert_int_eq(COMMIT(db, {
		shmdb_del(w, t, "a", 1);
		shmdb_add_i64(w, t, "a", 1, A_QTY, 1);
	}), -ENOENT);
	ck_assert_int_eq(COMMIT(db, {
		shmdb_clear(w, t);
		shmdb_add_i64(w, t, "a", 1, A_QTY, 1);
	}), -ENOENT);
	shmdb_table plain = test_table(db, "plain");
	ck_assert_int_eq(test_commit_put(db, plain, "a", "x", 1, NULL), 0);
	ck_assert_int_eq(COMMIT(db, shmdb_add_i64(w, plain, "a", 1, 1, 1)), -EINVAL);
	acct_i64(db, t, "a", &q);
	ck_assert(q == -5);
	/* A row put in the transaction, then updated in it. */
	ck_assert_int_eq(COMMIT(db, {
		shmdb_del(w, t, "a", 1);
	}), 0);
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_ID, "a", 1), 0);
	ck_assert_int_eq(shmdb_row_set_i64(b, A_QTY, 100), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_TAG, "abc", 3), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_AFTER, "", 0), 0);
	ck_assert_int_eq(COMMIT(db, {
		shmdb_put_row(w, t, b);
		shmdb_add_i64(w, t, "a", 1, A_QTY, 1);
		shmdb_set_i64(w, t, "a", 1, A_QTY, 7);
		shmdb_add_i64(w, t, "a", 1, A_QTY, 1);
	}), 0);
	acct_i64(db, t, "a", &q);
	ck_assert(q == 8);
	shmdb_row_free(b);
	/* Updates make whole rows: 70 of a 1 MiB row pass SHMDB_MAX_TXN bytes
	 * of rows in one transaction (refused), 8 do not. */
	static uint8_t blob[1 << 20];
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_ID, "big", 3), 0);
	ck_assert_int_eq(shmdb_row_set_i64(b, A_QTY, 0), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_TAG, "abc", 3), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, A_AFTER, blob, sizeof(blob)), 0);
	ck_assert_int_eq(COMMIT(db, shmdb_put_row(w, t, b)), 0);
	shmdb_row_free(b);
	ck_assert_int_eq(COMMIT(db, {
		for (int k = 0; k < 70; k++)
			shmdb_add_i64(w, t, "big", 3, A_QTY, 1);
	}), -E2BIG);
	ck_assert_int_eq(COMMIT(db, {
		for (int k = 0; k < 8; k++)
			shmdb_add_i64(w, t, "big", 3, A_QTY, 1);
	}), 0);
	acct_i64(db, t, "big", &q);
	ck_assert(q == 8);
	/* Many rows in one transaction, each found again by its key among
	 * the ops before it: i + 11 where not deleted in between. */
	enum { MANY = 1000 };
	char id[16];
	for (int k = 0; k < MANY; k++) {
		snprintf(id, sizeof(id), "m%d", k);
		put_acct(db, t, id, k);
	}
	ck_assert_int_eq(COMMIT(db, {
		for (int k = 0; k < MANY; k++) {
			snprintf(id, sizeof(id), "m%d", k);
			shmdb_add_i64(w, t, id, strlen(id), A_QTY, 1);
		}
		for (int k = 0; k < MANY; k += 3) {
			snprintf(id, sizeof(id), "m%d", k);
			shmdb_del(w, t, id, strlen(id));
		}
		for (int k = 1; k < MANY; k++) {
			snprintf(id, sizeof(id), "m%d", k);
			if (k % 3)
				shmdb_add_i64(w, t, id, strlen(id), A_QTY, 10);
		}
	}), 0);
	for (int k = 0; k < MANY; k++) {
		snprintf(id, sizeof(id), "m%d", k);
		if (k % 3) {
			acct_i64(db, t, id, &q);
			ck_assert(q == k + 11);
		} else {
			ck_assert(!test_visible(db, t, id));
		}
	}
	/* Bad arguments: refused when added. */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_add_i64(w, t, "a", 1, 0, 1), -EINVAL);
	ck_assert_int_eq(shmdb_add_i64(w, t, "", 0, 1, 1), -EINVAL);
	ck_assert_int_eq(shmdb_set_bytes(w, t, "a", 1, A_TAG, NULL, 0), -EINVAL);
	shmdb_abort(w);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* 8 processes each add 1 to one counter ADDS times: exactly 8 * ADDS, no
 * conflict, no retry. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
enum { ADDS = 10000 };
#else
enum { ADDS = 100000 };
#endif
enum { ADDERS = 8 };

static void adder(void *arg)
{
	const shmdb_table *t = arg;
	shmdb *db = test_child_open(&d);
	for (int i = 0; i < ADDS; i++) {
		shmdb_wtxn *w;
		CHILD_REQUIRE(shmdb_write_begin(db, &w) == 0, 91);
		CHILD_REQUIRE(shmdb_add_i64(w, *t, "ctr", 3, A_QTY, 1) == 0, 92);
		CHILD_REQUIRE(shmdb_commit(w, NULL) == 0, 93);
	}
	shmdb_close(db);
}

START_TEST(counter_across_processes)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	ck_assert_int_eq(shmdb_table_create_rows(db, "acct", acct_cols, 6, 0, &t), 0);
	put_acct(db, t, "ctr", 0);
	pid_t pid[ADDERS];
	for (int i = 0; i < ADDERS; i++)
		pid[i] = test_spawn(adder, &t);
	for (int i = 0; i < ADDERS; i++)
		ck_assert_int_eq(test_reap(pid[i], 240000), 0);
	int64_t q;
	acct_i64(db, t, "ctr", &q);
	ck_assert(q == (int64_t)ADDERS * ADDS);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("typed");
	TCase *tc = tcase_create("typed");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, schemas_in_the_store);
	tcase_add_test(tc, rows_written_by_one_process_read_in_place_by_another);
	tcase_add_test(tc, sixty_four_columns);
	tcase_add_test(tc, bad_rows_refused);
	tcase_add_test(tc, forged_schemas_refused);
	tcase_add_test(tc, field_updates);
	tcase_add_test(tc, counter_across_processes);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
