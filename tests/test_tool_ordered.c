/*
 * test_tool_ordered.c - the shmdb tool on ordered tables, multimaps and
 * tables of typed rows, against a real shmdbd:
 *
 *   - create TABLE [--ordered | --multi] makes a table of that kind, says
 *     so again for one that exists with that kind, and refuses (exit 1,
 *     naming both kinds) one that exists with another; tables shows each
 *     table's kind;
 *   - scan on an ordered table: --from (inclusive), --to (exclusive),
 *     --prefix (its end found past trailing 0xff bytes, or none when the
 *     prefix is all 0xff), --reverse and --limit, alone and together, and
 *     empty ranges;
 *   - a multimap: put adds pairs, scan prints one line per pair in key then
 *     value order, forward and back, del TABLE KEY VALUE removes one pair
 *     and del TABLE KEY all of a key's;
 *   - keys and values that are not printable come out escaped;
 *   - a hash table: scan and scan --limit work as before, the range options
 *     and --reverse are refused (exit 2) saying why, and so is del with a
 *     VALUE;
 *   - bad usage: options of another command, a --limit that is no number;
 *   - tables of rows: create TABLE COL:TYPE..., insert COL=VALUE..., get
 *     and scan --json print JSON with the column names (nulls, escapes,
 *     exact integers), --from and --to take key values; bad definitions,
 *     values and keys are refused saying why;
 *   - indexes: index TABLE COLUMN [--unique | --drop], scan --index with
 *     --from, --to, --reverse and --limit taking the column's values, the
 *     indexes line of tables, a unique index refusing an insert.
 *
 * Every check runs the tool as a process (test_run) and compares its
 * stdout whole, its exit status, and what stderr says.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "shmdb.h"

static struct test_daemon d;
static char out[16384], err[4096];

/*
 * tool(want, args..., NULL) - run `shmdb --socket d.sock args...`, its
 * stdout into out and its stderr into err, and assert its exit status is
 * `want` (the message shows the command and what it said on stderr).
 */
#define tool(want, ...) tool_(__LINE__, want, __VA_ARGS__)

static void tool_(int line, int want, ...)
{
	const char *args[24] = { "--socket", d.sock };
	char cmd[512] = "";
	int n = 2;
	va_list ap;
	va_start(ap, want);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 23;) {
		args[n++] = a;
		strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
		strncat(cmd, a, sizeof(cmd) - strlen(cmd) - 1);
	}
	va_end(ap);
	args[n] = NULL;
	int rc = test_run(test_shmdb_tool_path, args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == want, "line %d: shmdb%s: exit %d, not %d; stderr: %s", line, cmd, rc,
		      want, err);
}

/* The last run's stdout is exactly `want`. */
#define expect_out(want)                                                                  \
	ck_assert_msg(!strcmp(out, want), "line %d: stdout\n%s\nnot\n%s", __LINE__, out, want)

/* The last run's stderr says `what`. */
#define expect_err(what)                                                                   \
	ck_assert_msg(strstr(err, what), "line %d: stderr \"%s\" does not say \"%s\"", __LINE__, \
		      err, what)

/* The line of table `name` in the tables list shows kind `kind` and
 * `records` records. */
static void expect_table_line(const char *name, const char *kind, const char *records)
{
	char start[80];
	snprintf(start, sizeof(start), "\n%s ", name);
	const char *l = strstr(out, start);
	ck_assert_msg(l, "no line for %s in\n%s", name, out);
	char nm[64], kd[16], rec[32];
	ck_assert_int_eq(sscanf(l + 1, "%63s %15s %31s", nm, kd, rec), 3);
	ck_assert_str_eq(kd, kind);
	ck_assert_str_eq(rec, records);
}

/* ---- create and the kinds ------------------------------------------------------ */

START_TEST(create_kinds)
{
	test_start_daemon(&d, "64M");
	tool(0, "create", "ord", "--ordered", NULL);
	expect_out("table 'ord' created (ordered)\n");
	tool(0, "create", "mm", "--multi", NULL);
	expect_out("table 'mm' created (multi)\n");
	tool(0, "--ordered", "--multi", "create", "mm2", NULL); /* --multi implies --ordered */
	expect_out("table 'mm2' created (multi)\n");
	tool(0, "create", "h", NULL);
	expect_out("table 'h' created (hash)\n");

	/* The same kind again: said, exit 0, nothing changed. */
	tool(0, "put", "ord", "k", "v", NULL);
	tool(0, "create", "ord", "--ordered", NULL);
	expect_out("table 'ord' exists (ordered)\n");
	tool(0, "create", "mm", "--multi", NULL);
	expect_out("table 'mm' exists (multi)\n");
	tool(0, "create", "h", NULL);
	expect_out("table 'h' exists (hash)\n");
	tool(0, "count", "ord", NULL);
	expect_out("1\n");

	/* Another kind: exit 1, both kinds named, nothing on stdout. */
	tool(1, "create", "ord", "--multi", NULL);
	expect_out("");
	expect_err("table 'ord' exists as an ordered table, not a multimap");
	tool(1, "create", "ord", NULL);
	expect_err("table 'ord' exists as an ordered table, not a hash table");
	tool(1, "create", "h", "--ordered", NULL);
	expect_err("table 'h' exists as a hash table, not an ordered table");
	tool(1, "create", "mm", "--ordered", NULL);
	expect_err("table 'mm' exists as a multimap, not an ordered table");
	tool(1, "create", "mm", NULL);
	expect_err("exists as a multimap, not a hash table");

	/* The library agrees on the kinds. */
	shmdb *db = test_open(&d);
	shmdb_rtxn *r;
	shmdb_table_info info[8];
	size_t n = 0;
	ck_assert_int_eq(shmdb_read_begin(db, &r), 0);
	ck_assert_int_eq(shmdb_tables(r, info, 8, &n), 0);
	shmdb_read_end(r);
	ck_assert_uint_eq(n, 4);
	const char *names[] = { "h", "mm", "mm2", "ord" };
	const int flags[] = { 0, SHMDB_ORDERED | SHMDB_MULTI, SHMDB_ORDERED | SHMDB_MULTI,
			      SHMDB_ORDERED };
	for (int i = 0; i < 4; i++) {
		ck_assert_str_eq(info[i].name, names[i]);
		ck_assert_int_eq(info[i].flags, flags[i]);
	}
	shmdb_close(db);

	/* tables: a kind column. */
	tool(0, "put", "mm", "a", "1", NULL);
	tool(0, "put", "mm", "a", "2", NULL);
	tool(0, "tables", NULL);
	ck_assert_ptr_nonnull(strstr(out, "kind"));
	expect_table_line("h", "hash", "0");
	expect_table_line("mm", "multi", "2"); /* pairs */
	expect_table_line("mm2", "multi", "0");
	expect_table_line("ord", "ordered", "1");

	/* Bad usage. */
	tool(2, "create", NULL);
	expect_err("create takes a table");
	tool(2, "create", "a", "b", "--ordered", NULL);
	tool(2, "put", "x", "k", "v", "--ordered", NULL);
	expect_err("--ordered is an option of create");
	tool(2, "create", "x", "--from", "a", NULL);
	expect_err("--from is an option of scan");
	tool(2, "create", "this-name-is-far-too-long-for-a-table-0123456789-0123456789-0123456789",
	     "--ordered", NULL);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- scan on an ordered table -------------------------------------------------- */

START_TEST(scan_ordered_ranges)
{
	test_start_daemon(&d, "64M");
	tool(0, "create", "o", "--ordered", NULL);
	/* Put out of order; values name their keys. */
	const char *keys[] = { "b", "abd", "a", "c", "ab", "ac", "abc", "b\xff", "b\xff\xff",
			       "ba", "\xff", "\xff\x01" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char v[8];
		snprintf(v, sizeof(v), "%zu", i);
		tool(0, "put", "o", keys[i], v, NULL);
	}
	const char *all = "a\t2\nab\t4\nabc\t6\nabd\t1\nac\t5\nb\t0\nba\t9\nb\\xff\t7\n"
			  "b\\xff\\xff\t8\nc\t3\n\\xff\t10\n\\xff\\x01\t11\n";
	tool(0, "scan", "o", NULL);
	expect_out(all);
	tool(0, "count", "o", NULL);
	expect_out("12\n");

	/* --from is inclusive, --to exclusive. */
	tool(0, "scan", "o", "--from", "ab", NULL);
	expect_out("ab\t4\nabc\t6\nabd\t1\nac\t5\nb\t0\nba\t9\nb\\xff\t7\nb\\xff\\xff\t8\n"
		   "c\t3\n\\xff\t10\n\\xff\\x01\t11\n");
	tool(0, "scan", "o", "--from", "abca", NULL); /* not a key: from the next */
	expect_out("abd\t1\nac\t5\nb\t0\nba\t9\nb\\xff\t7\nb\\xff\\xff\t8\nc\t3\n\\xff\t10\n"
		   "\\xff\\x01\t11\n");
	tool(0, "scan", "o", "--to", "ac", NULL);
	expect_out("a\t2\nab\t4\nabc\t6\nabd\t1\n");
	tool(0, "scan", "o", "--from", "ab", "--to", "ac", NULL);
	expect_out("ab\t4\nabc\t6\nabd\t1\n");
	tool(0, "scan", "o", "--from", "ac", "--to", "ab", NULL); /* an empty range */
	expect_out("");
	tool(0, "scan", "o", "--from", "ab", "--to", "ab", NULL);
	expect_out("");
	tool(0, "scan", "o", "--to", "", NULL); /* no key is < "" */
	expect_out("");
	tool(0, "scan", "o", "--from", "", "--limit", "1", NULL); /* every key is >= "" */
	expect_out("a\t2\n");
	tool(0, "scan", "o", "--from", "zzz", NULL); /* 0xff is above 'z' */
	expect_out("\\xff\t10\n\\xff\\x01\t11\n");
	tool(0, "scan", "o", "--from", "\xff\x02", NULL); /* past the last key */
	expect_out("");
	tool(0, "scan", "o", "--from", "\xff\x02", "--reverse", NULL);
	expect_out("");

	/* --prefix. */
	tool(0, "scan", "o", "--prefix", "ab", NULL);
	expect_out("ab\t4\nabc\t6\nabd\t1\n");
	tool(0, "scan", "o", "--prefix", "a", NULL);
	expect_out("a\t2\nab\t4\nabc\t6\nabd\t1\nac\t5\n");
	tool(0, "scan", "o", "--prefix", "zz", NULL);
	expect_out("");
	tool(0, "scan", "o", "--prefix", "", "--limit", "2", NULL);
	expect_out("a\t2\nab\t4\n");
	/* "b\xff": its range ends at "c" (the 0xff stripped, "b" + 1), which
	 * is not in it; nor is "ba", below "b\xff". */
	tool(0, "scan", "o", "--prefix", "b\xff", NULL);
	expect_out("b\\xff\t7\nb\\xff\\xff\t8\n");
	tool(0, "scan", "o", "--prefix", "b\xff", "--reverse", NULL);
	expect_out("b\\xff\\xff\t8\nb\\xff\t7\n");
	/* All 0xff: no upper bound. */
	tool(0, "scan", "o", "--prefix", "\xff", NULL);
	expect_out("\\xff\t10\n\\xff\\x01\t11\n");
	tool(0, "scan", "o", "--prefix", "\xff", "--reverse", NULL);
	expect_out("\\xff\\x01\t11\n\\xff\t10\n");

	/* --prefix with --from / --to: both ranges at once. */
	tool(0, "scan", "o", "--prefix", "a", "--from", "abc", NULL);
	expect_out("abc\t6\nabd\t1\nac\t5\n");
	tool(0, "scan", "o", "--prefix", "a", "--to", "abd", NULL);
	expect_out("a\t2\nab\t4\nabc\t6\n");
	tool(0, "scan", "o", "--prefix", "ab", "--from", "a", "--to", "z", NULL);
	expect_out("ab\t4\nabc\t6\nabd\t1\n");
	tool(0, "scan", "o", "--prefix", "a", "--from", "abc", "--to", "ac", NULL);
	expect_out("abc\t6\nabd\t1\n");
	tool(0, "scan", "o", "--prefix", "a", "--from", "b", NULL);
	expect_out("");

	/* --reverse. */
	tool(0, "scan", "o", "--reverse", NULL);
	expect_out("\\xff\\x01\t11\n\\xff\t10\nc\t3\nb\\xff\\xff\t8\nb\\xff\t7\nba\t9\nb\t0\n"
		   "ac\t5\nabd\t1\nabc\t6\nab\t4\na\t2\n");
	tool(0, "scan", "o", "--reverse", "--to", "ac", NULL); /* still exclusive */
	expect_out("abd\t1\nabc\t6\nab\t4\na\t2\n");
	tool(0, "scan", "o", "--reverse", "--from", "b", "--to", "c", NULL);
	expect_out("b\\xff\\xff\t8\nb\\xff\t7\nba\t9\nb\t0\n");
	tool(0, "scan", "o", "--reverse", "--to", "abca", NULL); /* not a key */
	expect_out("abc\t6\nab\t4\na\t2\n");
	tool(0, "scan", "o", "--reverse", "--to", "a", NULL);
	expect_out("");
	tool(0, "scan", "o", "--reverse", "--to", "", NULL);
	expect_out("");

	/* --limit, alone and with the others. */
	tool(0, "scan", "o", "--limit", "3", NULL);
	expect_out("a\t2\nab\t4\nabc\t6\n");
	tool(0, "scan", "o", "--limit", "0", NULL);
	expect_out("");
	tool(0, "scan", "o", "--limit", "1000", NULL);
	expect_out(all);
	tool(0, "scan", "o", "--prefix", "ab", "--reverse", "--limit", "2", NULL);
	expect_out("abd\t1\nabc\t6\n");
	tool(0, "scan", "o", "--limit", "2", "--reverse", "--prefix", "a", "--from", "ab", NULL);
	expect_out("ac\t5\nabd\t1\n");
	tool(0, "scan", "o", "--prefix", "ab", "--limit", "5", NULL); /* fewer than the limit */
	expect_out("ab\t4\nabc\t6\nabd\t1\n");

	/* Options the tool refuses. */
	tool(2, "scan", "o", "--limit", "x", NULL);
	expect_err("--limit: 'x' is not a number");
	tool(2, "scan", "o", "--limit", "-1", NULL);
	tool(2, "scan", "o", "--from", NULL);
	expect_err("needs an argument");
	tool(2, "get", "o", "a", "--prefix", "a", NULL);
	expect_err("--prefix is an option of scan");
	tool(2, "scan", NULL);
	tool(1, "scan", "nosuch", "--prefix", "a", NULL);
	expect_err("no such table");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- a multimap --------------------------------------------------------------- */

START_TEST(multimap_pairs)
{
	test_start_daemon(&d, "64M");
	tool(0, "create", "mm", "--multi", NULL);
	tool(0, "put", "mm", "k", "v2", NULL);
	tool(0, "put", "mm", "k", "v1", NULL);
	tool(0, "put", "mm", "k", "v1", NULL); /* there already: no error, one pair */
	tool(0, "put", "mm", "k", "v3", NULL);
	tool(0, "put", "mm", "l", "y", NULL);
	tool(0, "put", "mm", "j", "x", NULL);
	tool(0, "put", "mm", "ka", "z", NULL);
	tool(0, "count", "mm", NULL);
	expect_out("6\n");
	tool(0, "scan", "mm", NULL);
	expect_out("j\tx\nk\tv1\nk\tv2\nk\tv3\nka\tz\nl\ty\n");
	tool(0, "scan", "mm", "--reverse", NULL);
	expect_out("l\ty\nka\tz\nk\tv3\nk\tv2\nk\tv1\nj\tx\n");
	tool(0, "scan", "mm", "--from", "k", "--to", "ka", NULL); /* every pair of k */
	expect_out("k\tv1\nk\tv2\nk\tv3\n");
	tool(0, "scan", "mm", "--prefix", "k", NULL);
	expect_out("k\tv1\nk\tv2\nk\tv3\nka\tz\n");
	tool(0, "scan", "mm", "--prefix", "k", "--reverse", "--limit", "2", NULL);
	expect_out("ka\tz\nk\tv3\n");
	tool(0, "scan", "mm", "--to", "ka", "--reverse", NULL);
	expect_out("k\tv3\nk\tv2\nk\tv1\nj\tx\n");
	tool(0, "scan", "mm", "--from", "k", "--limit", "2", NULL);
	expect_out("k\tv1\nk\tv2\n");
	tool(0, "get", "mm", "k", NULL); /* the first value */
	expect_out("v1\n");

	/* del KEY VALUE: one pair; a missing pair is no error. */
	tool(0, "del", "mm", "k", "v2", NULL);
	tool(0, "del", "mm", "k", "nosuch", NULL);
	tool(0, "scan", "mm", "--prefix", "k", NULL);
	expect_out("k\tv1\nk\tv3\nka\tz\n");
	tool(0, "del", "mm", "k", "v1", NULL);
	tool(0, "get", "mm", "k", NULL);
	expect_out("v3\n");
	/* del KEY: all of its pairs. */
	tool(0, "put", "mm", "k", "v0", NULL);
	tool(0, "del", "mm", "k", NULL);
	tool(0, "scan", "mm", NULL);
	expect_out("j\tx\nka\tz\nl\ty\n");
	tool(0, "count", "mm", NULL);
	expect_out("3\n");
	tool(0, "tables", NULL);
	expect_table_line("mm", "multi", "3");

	/* A multimap's value is at most SHMDB_MAX_MULTI_VALUE bytes. */
	static char big[SHMDB_MAX_MULTI_VALUE + 2];
	memset(big, 'v', SHMDB_MAX_MULTI_VALUE + 1);
	tool(2, "put", "mm", "k", big, NULL);
	expect_err("a multimap's");
	tool(0, "count", "mm", NULL);
	expect_out("3\n");

	/* del with a VALUE on anything but a multimap. */
	tool(0, "create", "o", "--ordered", NULL);
	tool(0, "put", "o", "k", "v", NULL);
	tool(2, "del", "o", "k", "v", NULL);
	expect_err("table 'o' is not a multimap");
	tool(0, "get", "o", "k", NULL);
	expect_out("v\n");
	tool(2, "del", "mm", "k", "v", "w", NULL);
	expect_err("del takes 2 or 3 operands");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- escaping -------------------------------------------------------------------- */

START_TEST(scan_escapes)
{
	test_start_daemon(&d, "64M");
	tool(0, "create", "o", "--ordered", NULL);
	tool(0, "create", "m", "--multi", NULL);
	tool(0, "put", "o", "\x01\x7f\\", "tab\there\nnl", NULL);
	tool(0, "put", "o", "\x01z", "\x1b[31mred", NULL);
	tool(0, "put", "o", "plain", "\xc3\xa9", NULL);
	/* "\x01z" < "\x01\x7f\\": 'z' is 0x7a. */
	const char *all = "\\x01z\t\\x1b[31mred\n"
			  "\\x01\\x7f\\\\\ttab\\x09here\\x0anl\n"
			  "plain\t\\xc3\\xa9\n";
	tool(0, "scan", "o", NULL);
	expect_out(all);
	tool(0, "scan", "o", "--prefix", "\x01", NULL);
	expect_out("\\x01z\t\\x1b[31mred\n\\x01\\x7f\\\\\ttab\\x09here\\x0anl\n");
	tool(0, "scan", "o", "--prefix", "\x01", "--reverse", "--limit", "1", NULL);
	expect_out("\\x01\\x7f\\\\\ttab\\x09here\\x0anl\n");
	tool(0, "scan", "o", "--from", "\x01z", "--to", "\x01\x7f\\", NULL);
	expect_out("\\x01z\t\\x1b[31mred\n");
	tool(0, "scan", "o", "--from", "\x01\x7f\\", "--to", "\x01z", NULL); /* empty */
	expect_out("");
	/* In a multimap, key and value alike. */
	tool(0, "put", "m", "k\x02", "a\tb", NULL);
	tool(0, "put", "m", "k\x02", "\x7f", NULL);
	tool(0, "scan", "m", "--prefix", "k", NULL);
	expect_out("k\\x02\ta\\x09b\nk\\x02\t\\x7f\n");
	/* A name that is not printable, in the tables list and create. */
	tool(0, "create", "t\x01", "--ordered", NULL);
	expect_out("table 't\\x01' created (ordered)\n");
	tool(0, "tables", NULL);
	expect_table_line("t\\x01", "ordered", "0");
	ck_assert_ptr_null(strchr(out, '\x01'));
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- a hash table ------------------------------------------------------------------- */

START_TEST(hash_table_refuses_ranges)
{
	test_start_daemon(&d, "64M");
	tool(0, "put", "h", "a", "1", NULL); /* put creates a hash table */
	tool(0, "put", "h", "b", "2", NULL);
	tool(0, "scan", "h", NULL);
	ck_assert_msg(!strcmp(out, "a\t1\nb\t2\n") || !strcmp(out, "b\t2\na\t1\n"), "%s", out);
	tool(0, "scan", "h", "--limit", "1", NULL); /* any one record */
	ck_assert_msg(!strcmp(out, "a\t1\n") || !strcmp(out, "b\t2\n"), "%s", out);
	tool(0, "scan", "h", "--limit", "0", NULL);
	expect_out("");

	const char *const opts[][2] = { { "--from", "a" }, { "--to", "b" }, { "--prefix", "a" },
				       { "--reverse", NULL } };
	for (int i = 0; i < 4; i++) {
		tool(2, "scan", "h", opts[i][0], opts[i][1], NULL);
		expect_out("");
		expect_err("table 'h' is a hash table");
		expect_err(opts[i][0]);
		expect_err("--ordered");
	}
	tool(2, "scan", "h", "--limit", "1", "--reverse", NULL);
	expect_out("");
	expect_err("--reverse needs an ordered table");
	tool(2, "scan", "h", "--prefix", "a", "--from", "a", NULL);
	expect_err("--prefix needs an ordered table"); /* the first given is named */
	tool(2, "del", "h", "a", "1", NULL);
	expect_err("table 'h' is not a multimap");
	tool(0, "get", "h", "a", NULL);
	expect_out("1\n");
	/* del and get as before. */
	tool(0, "del", "h", "a", NULL);
	tool(1, "get", "h", "a", NULL);
	expect_err("no such key");
	tool(0, "tables", NULL);
	expect_table_line("h", "hash", "1");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- tables of typed rows --------------------------------------------------- */

START_TEST(rows_as_json)
{
	test_start_daemon(&d, "64M");
	tool(0, "create", "quotes", "id:i64", "sym:str", "bid:f64", "ask:f64?", "n:u64",
	     "live:bool?", "venue:fixed4", "note:blob?", "--ordered", NULL);
	expect_out("table 'quotes' ready (ordered-rows, 8 columns)\n");
	tool(0, "create", "quotes", "id:i64", "sym:str", "bid:f64", "ask:f64?", "n:u64",
	     "live:bool?", "venue:fixed4", "note:blob?", "--ordered", NULL);
	tool(1, "create", "quotes", "id:i64", "sym:str", NULL);
	expect_err("exists with another kind or schema");
	tool(2, "create", "bad", "id:float", NULL);
	expect_err("unknown type 'float'");
	tool(2, "create", "bad", "id", NULL);
	expect_err("is not NAME:TYPE");
	tool(2, "create", "bad", "id:i64?", NULL);
	expect_err("not nullable");
	tool(2, "create", "bad", "id:i64", "--multi", NULL);

	tool(0, "insert", "quotes", "id=-9223372036854775808", "sym=EUR/USD", "bid=1.0832",
	     "n=18446744073709551615", "venue=XNAS", NULL);
	tool(0, "insert", "quotes", "id=7", "sym=a\"b\\c\xc3\xa9", "bid=-0.5", "ask=2",
	     "n=0", "live=true", "venue=XLON", "note=\x01z", NULL);
	tool(2, "insert", "quotes", "id=8", "sym=x", "bid=nope", "n=1", "venue=XLON", NULL);
	expect_err("'nope' is not a value of the column's type");
	tool(2, "insert", "quotes", "id=8", "sym=x", "bid=1", "n=1", "venue=XL", NULL);
	expect_err("is not of the column's size");
	tool(2, "insert", "quotes", "id=8", "sym=x", "bid=1", "venue=XLON", NULL);
	expect_err("not nullable was not given");
	tool(2, "insert", "quotes", "id=8", "nope=1", NULL);
	expect_err("no column 'nope'");
	tool(2, "insert", "quotes", "id=8", "sym=\xff", "bid=1", "n=1", "venue=XLON", NULL);
	expect_err("is not UTF-8");
	tool(2, "insert", "quotes", "id=99999999999999999999", NULL);
	tool(2, "put", "quotes", "k", "v", NULL);
	expect_err("use insert");
	tool(2, "insert", "quotes", "id=8", "sym=x", "bid=1", "n= 1", "venue=XLON", NULL);
	tool(2, "insert", "quotes", "id=8", "sym=x", "bid=1", "n=-1", "venue=XLON", NULL);
	tool(2, "insert", "quotes", "id=8", "sym=x", "bid= 1", "n=1", "venue=XLON", NULL);
	tool(2, "insert", "quotes", "id=+8", "sym=x", "bid=1", "n=1", "venue=XLON", NULL);
	tool(0, "insert", "quotes", "id=9", "sym=gone", "bid=1", "n=1", "venue=XLON", NULL);
	tool(0, "del", "quotes", "9", NULL); /* the key column's value, as get takes it */
	tool(1, "get", "quotes", "9", NULL);
	tool(2, "del", "quotes", "nine", NULL);
	/* A string with a NUL in it, put through the library: all of it. */
	shmdb *db = test_open(&d);
	shmdb_table qt;
	shmdb_row *b;
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_table_open(db, "quotes", 0, &qt), 0);
	ck_assert_int_eq(shmdb_row_new(db, qt, &b), 0);
	ck_assert_int_eq(shmdb_row_set_i64(b, 0, 11), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, 1, "a\0b", 3), 0);
	ck_assert_int_eq(shmdb_row_set_f64(b, 2, 1), 0);
	ck_assert_int_eq(shmdb_row_set_u64(b, 4, 1), 0);
	ck_assert_int_eq(shmdb_row_set_bytes(b, 6, "XNAS", 4), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put_row(w, qt, b), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_row_free(b);
	shmdb_close(db);
	tool(0, "get", "quotes", "11", NULL);
	expect_out("{\"id\":11,\"sym\":\"a\\u0000b\",\"bid\":1,\"ask\":null,\"n\":1,"
		   "\"live\":null,\"venue\":\"XNAS\",\"note\":null}\n");
	tool(0, "del", "quotes", "11", NULL);

	const char *row_min = "{\"id\":-9223372036854775808,\"sym\":\"EUR/USD\","
			      "\"bid\":1.0832,\"ask\":null,\"n\":18446744073709551615,"
			      "\"live\":null,\"venue\":\"XNAS\",\"note\":null}\n";
	const char *row_7 = "{\"id\":7,\"sym\":\"a\\\"b\\\\c\xc3\xa9\",\"bid\":-0.5,"
			    "\"ask\":2,\"n\":0,\"live\":true,\"venue\":\"XLON\","
			    "\"note\":\"\\u0001z\"}\n";
	tool(0, "get", "quotes", "7", NULL);
	expect_out(row_7);
	tool(0, "get", "--", "quotes", "-9223372036854775808", NULL); /* "--": not an option */
	expect_out(row_min);
	tool(1, "get", "quotes", "8", NULL);
	expect_err("no such key");
	tool(2, "get", "quotes", "seven", NULL);
	expect_err("'seven' is not a value of column 'id'");
	char both[1024];
	snprintf(both, sizeof(both), "%s%s", row_min, row_7);
	tool(0, "scan", "quotes", "--json", NULL);
	expect_out(both);
	tool(0, "scan", "quotes", "--from", "0", NULL);
	expect_out(row_7);
	tool(0, "scan", "quotes", "--to", "7", NULL);
	expect_out(row_min);
	tool(0, "scan", "quotes", "--reverse", "--limit", "1", NULL);
	expect_out(row_7);
	tool(2, "scan", "quotes", "--prefix", "1", NULL);
	tool(0, "tables", NULL);
	expect_table_line("quotes", "ordered-rows", "2");
	ck_assert_msg(strstr(out, "\n  columns: id:i64 sym:str bid:f64 ask:f64? n:u64 live:bool? "
				  "venue:fixed4 note:blob?\n"),
		      "no columns line in\n%s", out);
	tool(0, "create", "plain", NULL);
	tool(2, "scan", "plain", "--json", NULL);
	expect_err("--json prints tables of rows");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* ---- secondary indexes ----------------------------------------------------------- */

START_TEST(indexes)
{
	test_start_daemon(&d, "64M");
	tool(0, "create", "pos", "id:i64", "sym:str", "qty:i64", NULL);
	const char *rows[] = { "id=1", "sym=B", "qty=5", "id=2", "sym=A", "qty=-3",
			       "id=3", "sym=B", "qty=0", "id=4", "sym=", "qty=9" };
	for (int i = 0; i < 4; i++)
		tool(0, "insert", "pos", rows[3 * i], rows[3 * i + 1], rows[3 * i + 2], NULL);
	tool(0, "index", "pos", "sym", NULL);
	expect_out("index of 'pos' on 'sym' ready\n");
	tool(0, "index", "pos", "qty", "--unique", NULL);
	tool(1, "index", "pos", "nope", NULL);
	expect_err("no such column");
	tool(1, "index", "pos", "sym", "--unique", NULL);
	expect_err("other flags");
	tool(2, "index", "pos", "sym", "--unique", "--drop", NULL);
	tool(2, "scan", "pos", "--unique", NULL);
	expect_err("--unique is an option of index");
	const char *r1 = "{\"id\":1,\"sym\":\"B\",\"qty\":5}\n",
		   *r2 = "{\"id\":2,\"sym\":\"A\",\"qty\":-3}\n",
		   *r3 = "{\"id\":3,\"sym\":\"B\",\"qty\":0}\n",
		   *r4 = "{\"id\":4,\"sym\":\"\",\"qty\":9}\n";
	char want[512];
	/* In sym order, ties by id; from "A" to "B" exclusive: A only. */
	snprintf(want, sizeof(want), "%s%s%s%s", r4, r2, r1, r3);
	tool(0, "scan", "pos", "--index", "sym", NULL);
	expect_out(want);
	tool(0, "scan", "pos", "--index", "sym", "--from", "A", "--to", "B", NULL);
	expect_out(r2);
	snprintf(want, sizeof(want), "%s%s", r3, r1);
	tool(0, "scan", "pos", "--index", "sym", "--reverse", "--limit", "2", NULL);
	expect_out(want);
	/* qty's values are numbers: -3 sorts first. */
	snprintf(want, sizeof(want), "%s%s", r2, r3);
	tool(0, "scan", "pos", "--index", "qty", "--to", "5", NULL);
	expect_out(want);
	tool(2, "scan", "pos", "--index", "qty", "--from", "x", NULL);
	expect_err("'x' is not a value of column 'qty'");
	tool(1, "scan", "pos", "--index", "id", NULL);
	expect_err("has no index of column 'id'");
	tool(1, "insert", "pos", "id=5", "sym=C", "qty=9", NULL);
	expect_err("unique");
	tool(0, "tables", NULL);
	ck_assert_msg(strstr(out, "\n  indexes: sym, qty (unique)\n"), "no indexes line in\n%s", out);
	tool(0, "index", "pos", "sym", "--drop", NULL);
	tool(1, "index", "pos", "sym", "--drop", NULL);
	expect_err("no such index");
	tool(0, "tables", NULL);
	ck_assert_msg(strstr(out, "\n  indexes: qty (unique)\n"), "no indexes line in\n%s", out);
	tool(0, "create", "plain", NULL);
	tool(2, "index", "plain", "x", NULL);
	tool(2, "scan", "plain", "--index", "x", NULL);
	expect_err("--index reads tables of rows");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tool_ordered");
	TCase *tc = tcase_create("tool_ordered");
	tcase_add_test(tc, create_kinds);
	tcase_add_test(tc, scan_ordered_ranges);
	tcase_add_test(tc, multimap_pairs);
	tcase_add_test(tc, scan_escapes);
	tcase_add_test(tc, hash_table_refuses_ranges);
	tcase_add_test(tc, rows_as_json);
	tcase_add_test(tc, indexes);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
