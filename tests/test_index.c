/*
 * test_index.c - secondary indexes through a real shmdbd: entries kept in
 * the commits that change their rows (puts, field updates, deletes,
 * clears, drops), read by value and in value order with rows in place,
 * unique indexes refusing whole transactions, builds over rows already
 * there, and a checker that compares a table and its indexes in every
 * snapshot while other processes change the indexed values; a build
 * that fails, listed as failed.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "layout.h"
#include "shmdb.h"
#include "txn.h"

static struct test_daemon d;

/* (id, sym, px, qty, tag): sym a STR, px a nullable F64, qty an I64, tag
 * a nullable FIXED of 2 bytes. */
static const shmdb_column cols[] = {
	{ .name = "id", .type = SHMDB_I64 },
	{ .name = "sym", .type = SHMDB_STR },
	{ .name = "px", .type = SHMDB_F64, .flags = SHMDB_NULLABLE },
	{ .name = "qty", .type = SHMDB_I64 },
	{ .name = "tag", .type = SHMDB_FIXED, .size = 2, .flags = SHMDB_NULLABLE },
};
enum { C_ID, C_SYM, C_PX, C_QTY, C_TAG };

static size_t key_of(int64_t id, uint8_t k[8])
{
	return shmdb_key_i64(id, k);
}

/* Add to w the row (id, sym, px or null if NaN, qty). */
static void put(shmdb_wtxn *w, shmdb_row *b, shmdb_table t, int64_t id, const char *sym,
		double px, int64_t qty)
{
	shmdb_row_reset(b);
	ck_assert_int_eq(shmdb_row_set_i64(b, C_ID, id), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, C_SYM, sym, strlen(sym)), 0);
	if (!isnan(px))
		ck_assert_int_eq(shmdb_row_set_f64(b, C_PX, px), 0);
	ck_assert_int_eq(shmdb_row_set_i64(b, C_QTY, qty), 0);
	ck_assert_int_eq(shmdb_put_row(w, t, b), 0);
}

static int commit_one(shmdb *db, shmdb_table t, int64_t id, const char *sym, double px,
		      int64_t qty)
{
	shmdb_wtxn *w;
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	put(w, b, t, id, sym, px, qty);
	shmdb_row_free(b);
	return shmdb_commit(w, NULL);
}

static int commit_del(shmdb *db, shmdb_table t, int64_t id)
{
	shmdb_wtxn *w;
	uint8_t k[8];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_del(w, t, k, key_of(id, k)), 0);
	return shmdb_commit(w, NULL);
}

/* The ids the index gives, in its order, into ids[] (at most cap): how
 * many. Each record's key must be its row's value of `col`. */
static size_t walk(shmdb *db, shmdb_table t, shmdb_table ix, unsigned col, int64_t *ids,
		   size_t cap)
{
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_cursor *c;
	shmdb_val k, row;
	size_t n = 0;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	ck_assert_int_eq(shmdb_cursor_open(r, ix, &c), 0);
	while (shmdb_cursor_next(c, &k, &row) == 0) {
		ck_assert_uint_lt(n, cap);
		ck_assert_int_eq(shmdb_row_i64(s, row, C_ID, &ids[n]), 0);
		n++;
		if (col == C_SYM) {
			shmdb_val v;
			ck_assert_int_eq(shmdb_row_bytes(s, row, C_SYM, &v), 0);
			ck_assert_uint_eq(k.len, v.len);
			ck_assert(k.len == 0 || !memcmp(k.data, v.data, k.len));
		} else {
			int64_t q;
			uint8_t e[8];
			ck_assert_int_eq(shmdb_row_i64(s, row, col, &q), 0);
			ck_assert_uint_eq(k.len, 8);
			ck_assert(!memcmp(k.data, e, shmdb_key_i64(q, e)));
		}
	}
	uint64_t count;
	ck_assert_int_eq(shmdb_count(r, ix, &count), 0);
	ck_assert_uint_eq(count, n);
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	return n;
}

static void expect_ids(const int64_t *got, size_t n, const int64_t *want, size_t m)
{
	ck_assert_uint_eq(n, m);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(got[i] == want[i], "entry %zu: id %lld, want %lld", i,
			      (long long)got[i], (long long)want[i]);
}

START_TEST(kept_with_their_rows)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t, by_sym, by_qty;
	int64_t ids[64];
	ck_assert_int_eq(shmdb_table_create_rows(db, "pos", cols, 5, 0, &t), 0);
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", 0, &by_sym), 0);
	ck_assert_int_eq(shmdb_index_create(db, t, "qty", 0, &by_qty), 0);
	/* Opened again: the same handle; other flags: refused. */
	shmdb_table again;
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", 0, &again), 0);
	ck_assert_uint_eq(again, by_sym);
	ck_assert_int_eq(shmdb_index_open(db, t, "qty", &again), 0);
	ck_assert_uint_eq(again, by_qty);
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", SHMDB_UNIQUE, &again), -EEXIST);
	ck_assert_int_eq(shmdb_index_create(db, t, "nope", 0, &again), -ENOENT);
	ck_assert_int_eq(shmdb_index_open(db, t, "px", &again), -ENOENT);

	/* Ties in primary key order; an empty string and a NUL inside one
	 * sort as bytes do ("" < "A" < "A\0" is not expressible as a C
	 * string here: "", "A", "AB", "B"). */
	ck_assert_int_eq(commit_one(db, t, 5, "B", 1.0, 50), 0);
	ck_assert_int_eq(commit_one(db, t, 3, "A", 2.0, -7), 0);
	ck_assert_int_eq(commit_one(db, t, -2, "A", NAN, 50), 0);
	ck_assert_int_eq(commit_one(db, t, 9, "", 3.0, 0), 0);
	ck_assert_int_eq(commit_one(db, t, 1, "AB", 4.0, 1000), 0);
	int64_t by_sym_ids[] = { 9, -2, 3, 1, 5 };
	expect_ids(ids, walk(db, t, by_sym, C_SYM, ids, 64), by_sym_ids, 5);
	int64_t by_qty_ids[] = { 3, 9, -2, 5, 1 };
	expect_ids(ids, walk(db, t, by_qty, C_QTY, ids, 64), by_qty_ids, 5);

	/* A row moves: its old entry goes, its new one comes, in one commit;
	 * a field update moves it as a put does; a delete takes it away. */
	ck_assert_int_eq(commit_one(db, t, 5, "A", 1.0, 50), 0);
	int64_t moved[] = { 9, -2, 3, 5, 1 };
	expect_ids(ids, walk(db, t, by_sym, C_SYM, ids, 64), moved, 5);
	shmdb_wtxn *w;
	uint8_t k[8];
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_add_i64(w, t, k, key_of(1, k), C_QTY, -2000), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	int64_t added[] = { 1, 3, 9, -2, 5 };
	expect_ids(ids, walk(db, t, by_qty, C_QTY, ids, 64), added, 5);
	ck_assert_int_eq(commit_del(db, t, -2), 0);
	int64_t gone[] = { 9, 3, 5, 1 };
	expect_ids(ids, walk(db, t, by_sym, C_SYM, ids, 64), gone, 4);

	/* Seeks and gets by value: the column's key encoding. */
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_cursor *c;
	shmdb_val key, row;
	int64_t id;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_schema_get(r, t, &s), 0);
	ck_assert_int_eq(shmdb_get(r, by_sym, "A", 1, &row), 0);
	ck_assert_int_eq(shmdb_row_i64(s, row, C_ID, &id), 0);
	ck_assert(id == 3); /* the first of 3 and 5 */
	ck_assert_int_eq(shmdb_get(r, by_sym, "", 0, &row), 0);
	ck_assert_int_eq(shmdb_row_i64(s, row, C_ID, &id), 0);
	ck_assert(id == 9);
	ck_assert_int_eq(shmdb_get(r, by_sym, "AA", 2, &row), -ENOENT);
	ck_assert_int_eq(shmdb_get(r, by_qty, k, shmdb_key_i64(50, k), &row), 0);
	ck_assert_int_eq(shmdb_row_i64(s, row, C_ID, &id), 0);
	ck_assert(id == 5);
	ck_assert_int_eq(shmdb_get(r, by_qty, "abc", 3, &row), -EINVAL); /* not 8 bytes */
	ck_assert_int_eq(shmdb_cursor_open(r, by_sym, &c), 0);
	ck_assert_int_eq(shmdb_cursor_seek(c, "AA", 2), 0);
	ck_assert_int_eq(shmdb_cursor_next(c, &key, &row), 0);
	ck_assert(key.len == 2 && !memcmp(key.data, "AB", 2));
	ck_assert_int_eq(shmdb_cursor_prev(c, &key, &row), 0);
	ck_assert_int_eq(shmdb_cursor_prev(c, &key, &row), 0);
	ck_assert(key.len == 1 && !memcmp(key.data, "A", 1));
	ck_assert_int_eq(shmdb_row_i64(s, row, C_ID, &id), 0);
	ck_assert(id == 5);
	/* Resuming after (A, 3): the next is (A, 5). */
	ck_assert_int_eq(shmdb_cursor_seek_pair(c, "A", 1, k, key_of(4, k)), 0);
	ck_assert_int_eq(shmdb_cursor_next(c, &key, &row), 0);
	ck_assert_int_eq(shmdb_row_i64(s, row, C_ID, &id), 0);
	ck_assert(id == 5);
	shmdb_cursor_close(c);
	shmdb_index_info info[4];
	size_t n;
	ck_assert_int_eq(shmdb_indexes(r, t, info, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(info[0].column, "sym");
	ck_assert_str_eq(info[1].column, "qty");
	ck_assert(info[0].ready && info[0].count == 4 && info[0].id == by_sym);
	shmdb_table_info tables[4];
	ck_assert_int_eq(shmdb_tables(r, tables, 4, &n), 0);
	ck_assert_uint_eq(n, 1); /* indexes are not listed as tables */
	shmdb_read_end(r);

	/* Written by the writer only. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, by_sym, "x", 1, "y", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), -EPERM);

	/* A clear empties the indexes with the table; a put after it in
	 * the same transaction is there. */
	shmdb_row *b;
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	put(w, b, t, 7, "Z", 1.0, 1);
	ck_assert_int_eq(shmdb_clear(w, t), 0);
	put(w, b, t, 8, "Y", 1.0, 1);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	int64_t after_clear[] = { 8 };
	expect_ids(ids, walk(db, t, by_sym, C_SYM, ids, 64), after_clear, 1);
	expect_ids(ids, walk(db, t, by_qty, C_QTY, ids, 64), after_clear, 1);
	shmdb_row_free(b);

	/* Dropped: gone for new snapshots; the table keeps its other index. */
	ck_assert_int_eq(shmdb_index_drop(db, t, "qty"), 0);
	ck_assert_int_eq(shmdb_index_drop(db, t, "qty"), -ENOENT);
	ck_assert_int_eq(shmdb_index_open(db, t, "qty", &again), -ENOENT);
	ck_assert_int_eq(commit_one(db, t, 4, "X", 1.0, 1), 0);
	int64_t kept[] = { 4, 8 };
	expect_ids(ids, walk(db, t, by_sym, C_SYM, ids, 64), kept, 2);
	/* Dropping the table drops its indexes. */
	ck_assert_int_eq(shmdb_table_drop(db, "pos"), 0);
	ck_assert_int_eq(shmdb_index_open(db, t, "sym", &again), -ENOENT);
	test_assert_served(&d, "index");
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* A failed commit frees nothing it did not reserve (a unique violation
 * right after an index's creation once freed the index's definition: the
 * op's block from the transaction before), and a transaction whose
 * indexes' ops outgrow the writer's scratch keeps both indexes right. */
START_TEST(failures_and_drops_in_big_transactions)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t, by_qty, by_sym;
	shmdb_wtxn *w;
	shmdb_row *b;
	int64_t ids[2048];
	ck_assert_int_eq(shmdb_table_create_rows(db, "pos", cols, 5, 0, &t), 0);
	ck_assert_int_eq(shmdb_index_create(db, t, "qty", SHMDB_UNIQUE, &by_qty), 0);
	ck_assert_int_eq(shmdb_index_create(db, t, "sym", 0, &by_sym), 0);
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		put(w, b, t, 1, "A", 1.0, 7);
		put(w, b, t, 2, "A", 1.0, 7);
		ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_EUNIQUE);
	}
	ck_assert_int_eq(commit_one(db, t, 1, "A", 1.0, 7), 0);
	ck_assert_int_eq(commit_one(db, t, 2, "B", 1.0, 7), SHMDB_EUNIQUE);
	int64_t one[] = { 1 };
	expect_ids(ids, walk(db, t, by_qty, C_QTY, ids, 2048), one, 1);
	/* 1,500 rows in one transaction: the scratch grows under the upkeep
	 * of both indexes. */
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	for (int64_t i = 10; i < 1510; i++)
		put(w, b, t, i, "C", 2.0, 100 + i);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	ck_assert_uint_eq(walk(db, t, by_sym, C_SYM, ids, 2048), 1501);
	ck_assert_uint_eq(walk(db, t, by_qty, C_QTY, ids, 2048), 1501);
	shmdb_row_free(b);
	test_assert_served(&d, "failures");
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- forged ring ops ------------------------------------------------------------ */

static void forged_index_ops(void *arg)
{
	(void)arg;
	shmdb *db = test_child_open(&d);
	shmdb_table t, plain, ix;
	uint64_t buf[64], ts;
	CHILD_REQUIRE(shmdb_table_create_rows(db, "pos", cols, 5, 0, &t) == 0, 100);
	CHILD_REQUIRE(shmdb_table_open(db, "plain", SHMDB_CREATE, &plain) == 0, 101);
	/* Malformed: no table, flags past SHMDB_UNIQUE, a value, a name too
	 * long, flags on a drop. */
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, 0, 0, "sym", 3, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(3, 0), &ts) == SHMDB_EBADTXN, 102);
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, t, 2, "sym", 3, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(3, 0), &ts) == SHMDB_EBADTXN, 103);
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, t, 0, "sym", 3, "v", 1);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(3, 1), &ts) == SHMDB_EBADTXN, 104);
	char long_name[80];
	memset(long_name, 'c', sizeof(long_name));
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, t, 0, long_name, 64, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(64, 0), &ts) == SHMDB_EBADTXN, 105);
	shm_op_encode((uint8_t *)buf, SHM_OP_DROP_INDEX, t, 1, "sym", 3, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(3, 0), &ts) == SHMDB_EBADTXN, 106);
	/* Well formed, refused by the writer: a table of another kind, a
	 * table that does not exist, a column that does not, an index that
	 * does not. */
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, plain, 0, "sym", 3, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(3, 0), &ts) == -EINVAL, 107);
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, 0x00ab0123, 0, "sym", 3, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(3, 0), &ts) == -ENOENT, 108);
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, t, 0, "sy", 2, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(2, 0), &ts) == -ENOENT, 109);
	shm_op_encode((uint8_t *)buf, SHM_OP_DROP_INDEX, t, 0, "sym", 3, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(3, 0), &ts) == -ENOENT, 110);
	/* One column, two kinds of index in one transaction: refused whole
	 * (the second would get the first's). The same twice is one index. */
	size_t one = shm_op_size(3, 0);
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, t, 0, "qty", 3, NULL, 0);
	shm_op_encode((uint8_t *)buf + one, SHM_OP_CREATE_INDEX, t, SHMDB_UNIQUE, "qty", 3, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, 2 * one, &ts) == -EEXIST, 115);
	CHILD_REQUIRE(shmdb_index_open(db, t, "qty", &ix) == -ENOENT, 116);
	shm_op_encode((uint8_t *)buf + one, SHM_OP_CREATE_INDEX, t, 0, "qty", 3, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, 2 * one, &ts) == 0, 117);
	CHILD_REQUIRE(shmdb_index_drop(db, t, "qty") == 0, 118);
	CHILD_REQUIRE(shmdb_index_open(db, t, "sym", &ix) == -ENOENT, 111);
	/* Ops on an index, forged: refused whole, with the put beside them. */
	CHILD_REQUIRE(shmdb_index_create(db, t, "sym", 0, &ix) == 0, 112);
	size_t n1 = shm_op_size(1, 1);
	shm_op_encode((uint8_t *)buf, SHM_OP_PUT, plain, 0, "k", 1, "v", 1);
	const uint8_t codes[] = { SHM_OP_PUT, SHM_OP_DEL, SHM_OP_CLEAR, SHM_OP_RESERVE };
	for (size_t i = 0; i < sizeof(codes); i++) {
		int keyed = codes[i] == SHM_OP_PUT || codes[i] == SHM_OP_DEL;
		shm_op_encode((uint8_t *)buf + n1, codes[i], ix, codes[i] == SHM_OP_RESERVE ? 5 : 0,
			      keyed ? "k" : NULL, keyed, codes[i] == SHM_OP_PUT ? "v" : NULL,
			      codes[i] == SHM_OP_PUT);
		size_t len = n1 + shm_op_size(keyed, codes[i] == SHM_OP_PUT);
		CHILD_REQUIRE(test_raw_txn(db, buf, len, &ts) == -EPERM, 113);
	}
	CHILD_REQUIRE(test_visible(db, plain, "k") == 0, 114);
	shmdb_close(db);
}

struct create_args {
	shmdb_table t;
	const char *column;
	int flags;
};

/* A client asks for an index and exits without waiting for its build (so
 * without dropping it if the build fails). */
static void create_and_leave(void *arg)
{
	const struct create_args *a = arg;
	shmdb *db = test_child_open(&d);
	uint64_t buf[16], ts;
	size_t len = strlen(a->column);
	shm_op_encode((uint8_t *)buf, SHM_OP_CREATE_INDEX, a->t, (uint64_t)a->flags, a->column,
		      len, NULL, 0);
	CHILD_REQUIRE(test_raw_txn(db, buf, shm_op_size(len, 0), &ts) == 0, 100);
	shmdb_close(db);
}

/* How the build of t's one index ended, waited for at most 60 s: complete
 * (ready) or failed (error). */
static shmdb_index_info build_end(shmdb *db, shmdb_table t)
{
	shmdb_index_info info = { .ready = 0, .error = 0 };
	uint64_t end = test_now_ms() + 60000;
	for (;;) {
		shmdb_rtxn *r;
		size_t n;
		ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
		ck_assert_int_eq(shmdb_indexes(r, t, &info, 1, &n), 0);
		shmdb_read_end(r);
		ck_assert_uint_eq(n, 1);
		if (info.ready || info.error)
			return info;
		ck_assert_msg(test_now_ms() < end, "the build did not end in 60 s");
		test_sleep_us(1000);
	}
}

/*
 * A failed build whose creator is gone stays listed as failed, with the
 * build's error (not as being built), in shmdb_indexes and in the tool's
 * tables; it is not opened; the next shmdb_index_create on the column
 * replaces it (and fails the same way, leaving nothing). An index no
 * entry of which could fit a key is refused before any build.
 */
START_TEST(failed_and_impossible_builds)
{
	test_start_daemon(&d, "64M");
	shmdb *db = test_open(&d);
	shmdb_table t, ix;
	ck_assert_int_eq(shmdb_table_create_rows(db, "pos", cols, 5, 0, &t), 0);
	ck_assert_int_eq(commit_one(db, t, 1, "A", 1.0, 7), 0);
	ck_assert_int_eq(commit_one(db, t, 2, "B", 1.0, 7), 0);
	struct create_args a = { t, "qty", SHMDB_UNIQUE };
	ck_assert_int_eq(test_in_child(create_and_leave, &a), 0);
	shmdb_index_info info = build_end(db, t);
	size_t n;
	ck_assert_int_eq(info.error, SHMDB_EUNIQUE);
	ck_assert_int_eq(info.ready, 0);
	ck_assert_str_eq(info.column, "qty");
	ck_assert_int_eq(shmdb_index_open(db, t, "qty", &ix), -ENOENT);
	char out[4096], err[1024];
	const char *args[] = { "--socket", d.sock, "tables", NULL };
	ck_assert_int_eq(test_run(test_shmdb_tool_path, args, out, sizeof(out), err, sizeof(err)), 0);
	char want[256];
	snprintf(want, sizeof(want), "indexes: qty (unique) (failed: %s)\n",
		 shmdb_strerror(SHMDB_EUNIQUE));
	ck_assert_msg(strstr(out, want), "no \"%s\" in\n%s", want, out);
	ck_assert_int_eq(shmdb_index_create(db, t, "qty", SHMDB_UNIQUE, &ix), SHMDB_EUNIQUE);
	shmdb_rtxn *r;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_indexes(r, t, &info, 1, &n), 0);
	shmdb_read_end(r);
	ck_assert_uint_eq(n, 0);
	/* A FIXED column too wide for any entry: refused up front, not
	 * failed row by row (1,020 bytes and an 8-byte primary key are past
	 * SHMDB_MAX_KEY; alone, in a unique index, they are not). */
	const shmdb_column wide_cols[] = { { .name = "id", .type = SHMDB_I64 },
					   { .name = "w", .type = SHMDB_FIXED, .size = 1020 } };
	shmdb_table wide;
	ck_assert_int_eq(shmdb_table_create_rows(db, "wide", wide_cols, 2, 0, &wide), 0);
	ck_assert_int_eq(shmdb_index_create(db, wide, "w", 0, &ix), -EINVAL);
	ck_assert_int_eq(shmdb_index_create(db, wide, "w", SHMDB_UNIQUE, &ix), 0);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/*
 * While an index on sym is being built over 200,000 rows, the two rows
 * whose sym is too long to index (with the primary key, past
 * SHMDB_MAX_KEY), which the build would fail on, are given a short sym
 * and deleted: they never had an entry, so the commits apply, and the
 * build completes with every row left.
 */
START_TEST(unindexable_rows_mended_during_a_build)
{
	enum { ROWS = 200000, LONG = 1020 };
	test_start_daemon(&d, "512M");
	shmdb *db = test_open(&d);
	shmdb_table t;
	shmdb_row *b;
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_table_create_rows(db, "pos", cols, 5, 0, &t), 0);
	ck_assert_int_eq(shmdb_row_new(db, t, &b), 0);
	char *sym = malloc(LONG + 1);
	memset(sym, 's', LONG);
	sym[LONG] = 0;
	for (int64_t i = 0; i < ROWS; i += 1000) {
		ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
		for (int64_t id = i; id < i + 1000; id++)
			put(w, b, t, id, id == 100017 || id == 150017 ? sym : "A", 1.0, id);
		ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	}
	struct create_args a = { t, "sym", 0 };
	ck_assert_int_eq(test_in_child(create_and_leave, &a), 0);
	ck_assert_int_eq(commit_one(db, t, 100017, "B", 2.0, 1), 0);
	ck_assert_int_eq(commit_del(db, t, 150017), 0);
	shmdb_index_info info = build_end(db, t);
	ck_assert_msg(info.error == 0, "the build failed: %s", shmdb_strerror(info.error));
	ck_assert_int_eq(info.ready, 1);
	ck_assert_uint_eq(info.count, ROWS - 1);
	free(sym);
	shmdb_row_free(b);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(forged_index_ops_refused)
{
	test_start_daemon(&d, "64M");
	ck_assert_int_eq(test_in_child(forged_index_ops, NULL), 0);
	test_assert_served(&d, "forged");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("index");
	TCase *tc = tcase_create("index");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, kept_with_their_rows);
	tcase_add_test(tc, forged_index_ops_refused);
	tcase_add_test(tc, failures_and_drops_in_big_transactions);
	tcase_add_test(tc, failed_and_impossible_builds);
	tcase_add_test(tc, unindexable_rows_mended_during_a_build);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
