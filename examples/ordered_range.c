/*
 * ordered_range.c - an ordered table (SHMDB_ORDERED) as an order book:
 * put price levels, seek a cursor to a price, walk up (next) and down
 * (prev) from there, and scan every key with a given prefix.
 *
 * A key is "SYMBOL:" followed by the price as shmdb_key_f64 encodes it:
 * 8 bytes that sort as the numbers do (as text, "99.5" would sort after
 * "100.0"). So the keys of one symbol are together, in price order.
 *
 * Usage: example-ordered_range [SOCKET]
 */
#include <stdio.h>
#include <string.h>

#include <shmdb.h>

#define TABLE "book"

struct level {
	const char *sym;
	double price;
	const char *size;
};

static const struct level levels[] = {
	{ "AAPL", 99.50, "300" },  { "AAPL", 99.75, "120" },  { "AAPL", 100.00, "500" },
	{ "AAPL", 100.25, "80" },  { "AAPL", 100.50, "1000" }, { "MSFT", 410.10, "50" },
	{ "MSFT", 410.20, "75" },  { "AMZN", 185.00, "10" },
};
#define NLEVELS (sizeof(levels) / sizeof(levels[0]))

/* key = sym ":" f64-key(price); returns its length. */
static size_t make_key(const char *sym, double price, uint8_t key[64])
{
	size_t n = strlen(sym);
	memcpy(key, sym, n);
	key[n++] = ':';
	return n + shmdb_key_f64(price, key + n);
}

/* Print one record: decode the price from the key's last 8 bytes. */
static void print_level(const char *how, shmdb_val k, shmdb_val v)
{
	double price = 0;
	const uint8_t *p = k.data;
	shmdb_key_to_f64(p + k.len - 8, 8, &price);
	printf("  %-6s %.*s %.2f size %.*s\n", how, (int)(k.len - 9), (const char *)p, price,
	       (int)v.len, (const char *)v.data);
}

static int has_prefix(shmdb_val k, const char *prefix)
{
	size_t n = strlen(prefix);
	return k.len >= n && memcmp(k.data, prefix, n) == 0;
}

static int fail(shmdb *db, const char *what, int err)
{
	fprintf(stderr, "ordered_range: %s: %s\n", what, shmdb_strerror(err));
	shmdb_close(db);
	return 1;
}

int main(int argc, char **argv)
{
	const char *socket_path = argc > 1 ? argv[1] : NULL;
	shmdb *db = NULL;
	shmdb_table t;
	int err = shmdb_open(socket_path, &db);
	if (err)
		return fail(db, "shmdb_open", err);
	/* SHMDB_ORDERED: keys kept in order (an existing table of another
	 * kind gives -EEXIST). */
	err = shmdb_table_open(db, TABLE, SHMDB_CREATE | SHMDB_ORDERED, &t);
	if (err)
		return fail(db, "shmdb_table_open", err);

	/* Fill it in one transaction: shmdb_clear first, so that a snapshot
	 * sees either the old book or this one, never a mix. */
	shmdb_wtxn *w = NULL;
	err = shmdb_write_begin(db, &w);
	if (!err)
		err = shmdb_clear(w, t);
	for (size_t i = 0; !err && i < NLEVELS; i++) {
		uint8_t key[64];
		size_t klen = make_key(levels[i].sym, levels[i].price, key);
		err = shmdb_put(w, t, key, klen, levels[i].size, strlen(levels[i].size));
	}
	if (err) {
		shmdb_abort(w);
		return fail(db, "shmdb_put", err);
	}
	err = shmdb_commit(w, NULL);
	if (err)
		return fail(db, "shmdb_commit", err);

	/* Everything below reads one snapshot, through one cursor. */
	shmdb_rtxn *r;
	shmdb_cursor *c;
	shmdb_val k, v;
	err = shmdb_read_begin(db, &r);
	if (err)
		return fail(db, "shmdb_read_begin", err);
	err = shmdb_cursor_open(r, t, &c);
	if (err) {
		shmdb_read_end(r);
		return fail(db, "shmdb_cursor_open", err);
	}

	/* 1. Seek: the cursor sits between two records, just before the first
	 *    key >= the one sought. next returns the record after it and moves
	 *    on; prev returns the record before it and moves back. */
	uint8_t key[64];
	size_t klen = make_key("AAPL", 100.10, key);
	int first = 0, up = 0, down = 0, n = 0;
	printf("seek AAPL 100.10:\n");
	err = shmdb_cursor_seek(c, key, klen);
	if (!err && shmdb_cursor_next(c, &k, &v) == 0 && has_prefix(k, "AAPL:")) {
		print_level("next", k, v); /* the first level at or above 100.10 */
		first = 1;
	}

	/* 2. Walk up the book from there: the AAPL levels above. */
	printf("walk up:\n");
	while (!err && shmdb_cursor_next(c, &k, &v) == 0 && has_prefix(k, "AAPL:")) {
		print_level("next", k, v);
		up++;
	}

	/* 3. Walk down from the sought price: the AAPL levels below it. */
	printf("walk down:\n");
	if (!err)
		err = shmdb_cursor_seek(c, key, klen);
	while (!err && shmdb_cursor_prev(c, &k, &v) == 0 && has_prefix(k, "AAPL:")) {
		print_level("prev", k, v);
		down++;
	}

	/* 4. Prefix scan: seek to the prefix itself (every key with it sorts
	 *    at or after it), then go on while keys still start with it. */
	printf("prefix MSFT:\n");
	if (!err)
		err = shmdb_cursor_seek(c, "MSFT:", 5);
	while (!err && shmdb_cursor_next(c, &k, &v) == 0 && has_prefix(k, "MSFT:")) {
		print_level("scan", k, v);
		n++;
	}
	printf("AAPL: %d levels at or above 100.10, %d below; MSFT: %d levels\n", first + up,
	       down, n);

	/* Close the cursor before ending its read transaction; the views k
	 * and v are invalid after shmdb_read_end. */
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	shmdb_close(db);
	if (err)
		return fail(NULL, "shmdb_cursor_seek", err);
	/* What the book above must give: 100.25 then 100.50 going up; 100.00,
	 * 99.75 and 99.50 going down; two MSFT levels. */
	if (first + up != 2 || down != 3 || n != 2) {
		fprintf(stderr, "ordered_range: FAILED: unexpected walk\n");
		return 1;
	}
	return 0;
}
