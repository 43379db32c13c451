/*
 * rows_index.c - a table of typed rows: a schema of columns, rows built
 * with shmdb_row_new / shmdb_row_set_* and written with shmdb_put_row, a
 * column read in place (no decode, no copy), a field update done by the
 * writer (shmdb_add_i64), and a secondary index on a column, looked up by
 * value.
 *
 * Usage: example-rows_index [SOCKET]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <shmdb.h>

#define TABLE "orders"

/* The schema. Column 0 is the primary key: a row is stored under it. */
enum { COL_ID, COL_SYM, COL_PRICE, COL_QTY };
static const shmdb_column cols[] = {
	{ .name = "id", .type = SHMDB_I64 },
	{ .name = "sym", .type = SHMDB_STR },
	{ .name = "price", .type = SHMDB_F64 },
	{ .name = "qty", .type = SHMDB_I64 },
};

static const struct {
	int64_t id;
	const char *sym;
	double price;
	int64_t qty;
} orders[] = {
	{ 1, "AAPL", 189.50, 100 }, { 2, "MSFT", 410.25, 200 }, { 3, "AAPL", 189.40, 300 },
	{ 4, "MSFT", 410.00, 50 },  { 5, "AMZN", 185.10, 10 },
};
#define NORDERS (sizeof(orders) / sizeof(orders[0]))

static int fail(shmdb *db, const char *what, int err)
{
	fprintf(stderr, "rows_index: %s: %s\n", what, shmdb_strerror(err));
	shmdb_close(db);
	return 1;
}

/* Print a row, reading each column where it lies in the store. */
static void print_row(const char *how, const shmdb_schema *s, shmdb_val row)
{
	int64_t id = 0, qty = 0;
	double price = 0;
	shmdb_val sym = { "", 0 };
	shmdb_row_i64(s, row, COL_ID, &id);
	shmdb_row_bytes(s, row, COL_SYM, &sym);
	shmdb_row_f64(s, row, COL_PRICE, &price);
	shmdb_row_i64(s, row, COL_QTY, &qty);
	printf("  %-8s id %lld  %.*s  price %.2f  qty %lld\n", how, (long long)id, (int)sym.len,
	       (const char *)sym.data, price, (long long)qty);
}

int main(int argc, char **argv)
{
	const char *socket_path = argc > 1 ? argv[1] : NULL;
	shmdb *db = NULL;
	int err = shmdb_open(socket_path, &db);
	if (err)
		return fail(db, "shmdb_open", err);

	/* 1. A fresh table (a previous run's is dropped, its indexes with
	 *    it). SHMDB_ORDERED keeps the rows in primary key order. */
	err = shmdb_table_drop(db, TABLE);
	if (err && err != -ENOENT)
		return fail(db, "shmdb_table_drop", err);
	shmdb_table t;
	err = shmdb_table_create_rows(db, TABLE, cols, sizeof(cols) / sizeof(cols[0]),
				      SHMDB_ORDERED, &t);
	if (err)
		return fail(db, "shmdb_table_create_rows", err);

	/* 2. Rows: a builder holds one row in our memory; set every column,
	 *    add it to the transaction, reset, next. All rows commit at once. */
	shmdb_row *b;
	err = shmdb_row_new(db, t, &b);
	if (err)
		return fail(db, "shmdb_row_new", err);
	shmdb_wtxn *w = NULL;
	err = shmdb_write_begin(db, &w);
	for (size_t i = 0; !err && i < NORDERS; i++) {
		shmdb_row_reset(b);
		err = shmdb_row_set_i64(b, COL_ID, orders[i].id);
		if (!err)
			err = shmdb_row_set_bytes(b, COL_SYM, orders[i].sym, strlen(orders[i].sym));
		if (!err)
			err = shmdb_row_set_f64(b, COL_PRICE, orders[i].price);
		if (!err)
			err = shmdb_row_set_i64(b, COL_QTY, orders[i].qty);
		if (!err)
			err = shmdb_put_row(w, t, b); /* copied into w: b can be reused */
	}
	shmdb_row_free(b);
	if (err) {
		shmdb_abort(w);
		return fail(db, "building the rows", err);
	}
	err = shmdb_commit(w, NULL);
	if (err)
		return fail(db, "shmdb_commit (rows)", err);

	/* 3. A field update: the writer adds 50 to order 2's qty as the row
	 *    is when the commit applies; no read and no conflict on our side.
	 *    Keys of number columns are encoded with shmdb_key_*. */
	uint8_t key[8];
	size_t klen = shmdb_key_i64(2, key);
	w = NULL;
	err = shmdb_write_begin(db, &w);
	if (!err)
		err = shmdb_add_i64(w, t, key, klen, COL_QTY, 50);
	if (err) {
		shmdb_abort(w);
		return fail(db, "shmdb_add_i64", err);
	}
	err = shmdb_commit(w, NULL);
	if (err)
		return fail(db, "shmdb_commit (update)", err);

	/* 4. A secondary index on "sym" (not unique: a symbol has many
	 *    orders). The writer keeps it in every commit from now on. It is
	 *    built before the call returns; call it with no snapshot open. */
	shmdb_table by_sym;
	err = shmdb_index_create(db, t, "sym", 0, &by_sym);
	if (err)
		return fail(db, "shmdb_index_create", err);

	/* 5. Read, all in one snapshot. The schema tells the row readers
	 *    where each column lies. */
	shmdb_rtxn *r;
	const shmdb_schema *s;
	shmdb_val row;
	err = shmdb_read_begin(db, &r);
	if (err)
		return fail(db, "shmdb_read_begin", err);
	err = shmdb_schema_get(r, t, &s);
	if (err) {
		shmdb_read_end(r);
		return fail(db, "shmdb_schema_get", err);
	}

	/* 5a. By primary key, then one column in place. */
	int bad = 0;
	int64_t qty = 0;
	double price = 0;
	int qty_col = shmdb_column_index(s, "qty"); /* a column by its name: 3 */
	err = qty_col < 0 ? qty_col : shmdb_get(r, t, key, klen, &row);
	if (!err)
		err = shmdb_row_f64(s, row, COL_PRICE, &price);
	if (!err)
		err = shmdb_row_i64(s, row, (unsigned)qty_col, &qty);
	if (err) {
		shmdb_read_end(r);
		return fail(db, "reading order 2", err);
	}
	printf("order 2: price %.2f qty %lld (200 + 50)\n", price, (long long)qty);
	if (qty != 250)
		bad = 1;

	/* 5b. By index: shmdb_get on the index gives the first row with that
	 *     value (in primary key order); the key of a STR value is its bytes. */
	err = shmdb_get(r, by_sym, "MSFT", 4, &row);
	if (err) {
		shmdb_read_end(r);
		return fail(db, "shmdb_get (index)", err);
	}
	printf("first MSFT order:\n");
	print_row("get", s, row);

	/* 5c. Every row with that value: a cursor on the index, sought to the
	 *     value, walked while the value (the cursor's key) still matches. */
	shmdb_cursor *c;
	shmdb_val k;
	int msft = 0;
	err = shmdb_cursor_open(r, by_sym, &c);
	if (err) {
		shmdb_read_end(r);
		return fail(db, "shmdb_cursor_open", err);
	}
	printf("all MSFT orders:\n");
	err = shmdb_cursor_seek(c, "MSFT", 4);
	while (!err && shmdb_cursor_next(c, &k, &row) == 0 && k.len == 4 &&
	       memcmp(k.data, "MSFT", 4) == 0) {
		print_row("by index", s, row);
		msft++;
	}
	shmdb_cursor_close(c);

	/* 5d. An index counts its rows as a table does. */
	uint64_t indexed = 0;
	if (!err)
		err = shmdb_count(r, by_sym, &indexed);
	shmdb_read_end(r);
	if (err)
		return fail(db, "reading the index", err);
	printf("MSFT orders: %d; rows in the index: %llu\n", msft, (unsigned long long)indexed);
	shmdb_close(db);

	if (bad || msft != 2 || indexed != NORDERS) {
		fprintf(stderr, "rows_index: FAILED: unexpected rows\n");
		return 1;
	}
	return 0;
}
