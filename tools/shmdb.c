/*
 * shmdb.c - the shmdb command-line tool. Commands:
 *   status [--socket PATH]   the daemon, the store's format and its arenas
 *   socket [--socket PATH]   the socket path the other commands use
 *   create TABLE [--ordered | --multi]
 *                            create a hash table, an ordered table or a
 *                            multimap (one that exists with that kind: said,
 *                            exit 0; with another kind: an error)
 *   create TABLE COLUMN:TYPE... [--ordered]
 *                            create a table of typed rows (rows_cmd.h)
 *   insert TABLE COLUMN=VALUE...
 *                            commit one row of a table of rows
 * get, and scan with --json, print a table of rows' rows as JSON lines.
 *   put TABLE KEY VALUE      set a key (creating a hash table if missing);
 *                            on a multimap, add the pair
 *   get TABLE KEY            print a key's value (a multimap: its first)
 *   del TABLE KEY [VALUE]    delete a key (a multimap: with all its values);
 *                            with VALUE, one pair of a multimap
 *   scan TABLE [--from KEY] [--to KEY] [--prefix P] [--reverse] [--limit N]
 *                            print every key and value of a table; the
 *                            range options and --reverse need an ordered
 *                            table or a multimap (one line per pair)
 *   tables                   every table: name, kind, records, bytes
 *   count TABLE              the records of a table
 *   clear TABLE              remove every record of a table
 *   drop TABLE               drop a table and everything in it
 *   reserve TABLE KEYS       make room for KEYS keys in a table (created if
 *                            missing) now
 *   checkpoint               have a checkpoint written now, and wait for it
 *   sync                     wait until every commit so far is on disk
 *   dump [TABLE...]          one snapshot as a dump file (dump_cmd.h)
 *   load [FILE]              a dump file's tables, records and indexes
 *   backup DIR               a new data dir a daemon can start from
 * Keys and values are taken as text and printed escaped (print_bytes).
 * Exit status: 0; 1 when the store cannot be reached, the key/table does
 * not exist, a table exists with another kind or there is no room; 2 for
 * bad usage (an option or operand the command, or the table's kind, does
 * not take).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump_cmd.h"
#include "durable_cmd.h"
#include "human.h"
#include "rows_cmd.h"
#include "stats_cmd.h"
#include "shmdb.h"

static const char usage[] =
"Usage: shmdb COMMAND [OPTION]...\n"
"\n"
"Commands:\n"
"  status [--json]\n"
"             the daemon's pid and generation, the store's format version,\n"
"             each arena's size, NUMA node, page kind and bytes used, the\n"
"             memory pressure, and the number of sessions; sizes for\n"
"             people (--json: every figure, as stats --json, in bytes)\n"
"  socket     print the socket path the commands use (for scripts)\n"
"  stats [--json | --prometheus]\n"
"             every figure: the writer (commits, operations, busy share,\n"
"             sleeps, wake-ups, transactions per pass), memory (per arena\n"
"             and node, huge pages, pressure), reclamation (retired, freed,\n"
"             grace periods, the oldest snapshot and its pid), each table\n"
"             (records, bytes, index load, versions waiting) and each\n"
"             session (commits, ring depth, times its ring was full); as\n"
"             text, as JSON (exact bytes), or in the Prometheus text format\n"
"             (for node-exporter's textfile collector)\n"
"  top        the same on one screen, refreshed every second with rates;\n"
"             q or Ctrl-C leaves\n"
"  cpus       the cpus near each arena's NUMA node with the writer's core\n"
"             left out, as lists taskset -c and hwloc-bind take (where to\n"
"             pin readers; shmdb_pin_thread picks one of them)\n"
"  create TABLE [--ordered | --multi]\n"
"                        create TABLE: a hash table, or with --ordered one\n"
"                        whose keys are kept in order, or with --multi a\n"
"                        multimap (a key holds a set of values, in order).\n"
"                        A table that exists with that kind is left as it is\n"
"                        (said on stdout); one of another kind is an error\n"
"  create TABLE COLUMN:TYPE... [--ordered]\n"
"                        create TABLE of typed rows (or open it, if it has\n"
"                        these columns), e.g. create quotes id:i64 sym:str\n"
"                        bid:f64 ask:f64?; TYPE is i32 i64 u64 f64 bool str\n"
"                        blob or fixedN (N bytes), with ? for a nullable\n"
"                        column; the first column is the key\n"
"  insert TABLE COLUMN=VALUE...\n"
"                        commit one row of a table of rows (a nullable\n"
"                        column not given is null)\n"
"  put TABLE KEY VALUE   set KEY to VALUE in TABLE (a hash table, created if\n"
"                        missing); on a multimap, add the pair KEY VALUE\n"
"  get TABLE KEY         print the value of KEY (a multimap: its first; a\n"
"                        table of rows: the row whose key column is KEY, as\n"
"                        JSON)\n"
"  del TABLE KEY [VALUE] delete KEY (a multimap: with all its values); with\n"
"                        VALUE, remove that one pair of a multimap\n"
"  scan TABLE [--from KEY] [--to KEY] [--prefix P] [--reverse] [--limit N]\n"
"                        print every KEY<TAB>VALUE of TABLE: in no particular\n"
"                        order for a hash table, in key order for an ordered\n"
"                        table, a line per pair in key, then value order for\n"
"                        a multimap. On an ordered table or a multimap only:\n"
"                          --from KEY   keys >= KEY (inclusive)\n"
"                          --to KEY     keys < KEY (exclusive)\n"
"                          --prefix P   keys that start with P (with --from\n"
"                                       or --to: keys in both ranges)\n"
"                          --reverse    from the last key down\n"
"                        On any table: --limit N prints N records at most\n"
"                        (on a hash table, any N of them). A table of rows\n"
"                        prints a JSON line per row (--json: only a table of\n"
"                        rows), and --from and --to take values of its key\n"
"                        column\n"
"  scan TABLE --index COLUMN [--from VALUE] [--to VALUE] [--reverse] [--limit N]\n"
"                        print the rows of a table of rows as JSON lines in\n"
"                        the order of COLUMN's values (rows that share one in\n"
"                        key order), through its index: --from and --to take\n"
"                        values of COLUMN (from inclusive, to exclusive)\n"
"  index TABLE COLUMN [--unique]\n"
"                        index COLUMN of TABLE (a table of rows), building it\n"
"                        over the rows there while commits go on; with\n"
"                        --unique, no two rows may share a value. An index\n"
"                        that exists with those flags is left as it is\n"
"  index TABLE COLUMN --drop\n"
"                        drop the index of COLUMN\n"
"  tables                every table: name, kind (hash, ordered, multi, rows,\n"
"                        ordered-rows), records (pairs, for a multimap) and\n"
"                        bytes; a table of rows has its columns on the next\n"
"                        line, as create takes them, and its indexes on the\n"
"                        one after\n"
"  count TABLE           the records of TABLE\n"
"  clear TABLE           remove every record of TABLE\n"
"  drop TABLE            drop TABLE and everything in it\n"
"  reserve TABLE KEYS    make room in TABLE (created if missing) for KEYS\n"
"                        keys now, so that loading them rebuilds nothing\n"
"  checkpoint            have the daemon write a checkpoint now and wait for\n"
"                        it (the log it holds is then removed)\n"
"  sync                  wait until every commit so far is on disk\n"
"  dump [TABLE...]       write one snapshot of the store, or of the TABLEs\n"
"                        named (records, kinds, schemas, indexes), to\n"
"                        stdout as a checked, versioned binary dump\n"
"  load [FILE]           check a dump (FILE, or stdin) whole, then create\n"
"                        its tables and commit its records and indexes in\n"
"                        batches; nothing of a bad dump is applied. Existing\n"
"                        tables of the same kind get the dump's keys set and\n"
"                        keep their others\n"
"  backup DIR            write one snapshot of the store into the new or\n"
"                        empty DIR as a data dir: shmdbd --data-dir DIR\n"
"                        starts a new store holding it\n"
"Keys, values and names print printable ASCII as is, '\\' as '\\\\' and any\n"
"other byte as '\\xHH'.\n"
"\n"
"Options:\n"
"  --socket PATH   the daemon's socket (default: as shmdbd; see shmdbd --help)\n"
"  --help          print this help\n"
"  --version       print the version\n"
"\n"
"Exit status: 0; 1 when the store cannot be reached, the table or key does\n"
"not exist, a table exists with another kind or there is no room; 2 for bad\n"
"usage.\n";

/* A size for people in a column of 12 (human.h). */
static void print_size(uint64_t b)
{
	char buf[HUMAN_BYTES_LEN];
	printf("%12s", human_bytes(b, buf));
}

static int open_db(const char *socket_path, shmdb **db)
{
	int e = shmdb_open(socket_path, db);
	if (e)
		fprintf(stderr, "shmdb: %s: %s\n", socket_path, shmdb_strerror(e));
	return e;
}

/* The memory monitor's level, thresholds and refusals. */
static void print_pressure(const shmdb_stats *st)
{
	static const char *const name[] = { "normal", "HIGH (the writer reclaims eagerly)",
					    "CRITICAL (writes that take memory are refused)" };
	printf("pressure        %s; high at %u%%, critical at %u%%", name[st->pressure > 2 ? 2 :
	       st->pressure], st->memory_high_pct, st->memory_critical_pct);
	if (st->pressure_since_ns) {
		char when[64];
		time_t t = (time_t)(st->pressure_since_ns / 1000000000ull);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
		printf("; since %s", when);
	}
	if (st->pressure_refused)
		printf("; %" PRIu64 " commits refused", st->pressure_refused);
	printf("\n");
}

static int cmd_status(const char *socket_path)
{
	shmdb *db;
	shmdb_info info;

	if (open_db(socket_path, &db))
		return 1;
	shmdb_info_get(db, &info);
	time_t started = (time_t)(info.started_ns / 1000000000ull);
	char when[64];
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&started));

	printf("socket          %s\n", socket_path);
	printf("daemon pid      %u (%s)\n", info.daemon_pid, info.running ? "running" : "stopped");
	printf("generation      %" PRIu64 "\n", info.generation);
	printf("format version  %u\n", info.format_version);
	printf("store id        ");
	for (int i = 0; i < 16; i++)
		printf("%02x", info.store_id[i]);
	printf("\nstarted         %s\n", when);
	printf("writer cpu      %d\n", info.writer_cpu);
	printf("sessions        %u\n", info.sessions);
	shmdb_stats st;
	if (shmdb_stats_get(db, &st) == 0) {
		printf("commit ts       %" PRIu64 "\n", st.commit_ts);
		printf("oldest snapshot %" PRIu64 "\n", st.oldest_snapshot);
		char b1[HUMAN_BYTES_LEN], b2[HUMAN_BYTES_LEN], b3[HUMAN_BYTES_LEN];
		printf("memory          %s of %s in use (%.1f%%), %s of it retired\n",
		       human_bytes(st.mem_used, b1), human_bytes(st.mem_total, b2),
		       st.mem_total ? 100.0 * (double)st.mem_used / (double)st.mem_total : 0.0,
		       human_bytes(st.mem_retired, b3));
		print_pressure(&st);
		printf("snapshots       %u held, %s kept for them\n", st.snapshots,
		       human_bytes(st.mem_pinned, b1));
		if (st.oldest_pid)
			printf("oldest holder   pid %u, held %.1f s, %s kept for it alone\n",
			       st.oldest_pid, (double)st.oldest_held_ns / 1e9,
			       human_bytes(st.oldest_only_bytes, b1));
		durable_print_status(&st);
	}
	printf("arenas          %u\n", info.arena_count);
	printf("  arena  node  pages           size         used\n");
	for (uint32_t i = 0; i < info.arena_count; i++) {
		shmdb_arena_info a;
		if (shmdb_arena_info_get(db, i, &a))
			continue;
		printf("  %5u  %4d  %-6s  ", a.index, a.numa_node, shmdb_page_kind_name(a.page_kind));
		print_size(a.size);
		printf("  ");
		print_size(a.used);
		printf("\n");
	}
	shmdb_close(db);
	return 0;
}

/* checkpoint, sync: a request to the daemon's log (durable_cmd.h). */
static int cmd_durable(const char *socket_path, const char *cmd)
{
	shmdb *db;
	if (open_db(socket_path, &db))
		return 1;
	int r = !strcmp(cmd, "sync") ? durable_sync(db) : durable_checkpoint(db, -1);
	shmdb_close(db);
	return r;
}

/* dump, load, backup: whole-store copies (dump_cmd.h). */
static int cmd_copy(const char *socket_path, const char *cmd, int argc, char **argv)
{
	int backup = !strcmp(cmd, "backup"), dump = !strcmp(cmd, "dump");
	if ((backup && argc != 1) || (!backup && !dump && argc > 1)) {
		fprintf(stderr, "shmdb: usage: shmdb %s\n", backup ? "backup DIR" : "load [FILE]");
		return 2;
	}
	shmdb *db;
	if (open_db(socket_path, &db))
		return 1;
	const char *arg = argc ? argv[0] : NULL;
	int r = backup ? dump_cmd_backup(db, arg)
		: dump ? dump_cmd_dump(db, (const char *const *)argv, (size_t)argc)
		: dump_cmd_load(db, arg);
	shmdb_close(db);
	return r;
}

/* Print n bytes at p: printable ASCII as itself, a backslash as "\\",
 * anything else as "\xHH", so that no key, value or name reaches the
 * terminal raw. */
static void print_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\\')
			fputs("\\\\", stdout);
		else if (b[i] >= 0x20 && b[i] < 0x7f)
			putchar(b[i]);
		else
			printf("\\x%02x", b[i]);
	}
}

/* A table kind's name in the tables list, and as said in messages. */
static const char *kind_name(int flags)
{
	if (flags & SHMDB_ROWS)
		return flags & SHMDB_ORDERED ? "ordered-rows" : "rows";
	return flags & SHMDB_MULTI ? "multi" : flags & SHMDB_ORDERED ? "ordered" : "hash";
}

static const char *kind_phrase(int flags)
{
	if (flags & SHMDB_ROWS)
		return flags & SHMDB_ORDERED ? "an ordered table of rows" : "a table of rows";
	return flags & SHMDB_MULTI ? "a multimap" : flags & SHMDB_ORDERED ? "an ordered table"
									 : "a hash table";
}

/* The catalog entry of the live table `name` in a new snapshot, into *out:
 * 0, -ENOENT (no such table) or an error (said by the caller). */
static int table_lookup(shmdb *db, const char *name, shmdb_table_info *out)
{
	shmdb_rtxn *r;
	size_t n = 0;
	shmdb_table_info *info = malloc(SHMDB_MAX_TABLES * sizeof(*info));
	int e = info ? shmdb_read_begin(db, &r) : -ENOMEM;
	if (!e) {
		e = shmdb_tables(r, info, SHMDB_MAX_TABLES, &n);
		shmdb_read_end(r);
	}
	if (!e) {
		e = -ENOENT;
		for (size_t i = 0; i < n && i < SHMDB_MAX_TABLES; i++) {
			if (!strcmp(info[i].name, name)) {
				*out = info[i];
				e = 0;
				break;
			}
		}
	}
	free(info);
	return e;
}

/* tables: name, kind, records and bytes of every table, in name order. */
static int cmd_tables(const char *socket_path)
{
	shmdb *db;
	shmdb_rtxn *r;
	size_t n = 0;
	if (open_db(socket_path, &db))
		return 1;
	shmdb_table_info *info = malloc(SHMDB_MAX_TABLES * sizeof(*info));
	int e = info ? shmdb_read_begin(db, &r) : -ENOMEM, began = !e;
	if (!e)
		e = shmdb_tables(r, info, SHMDB_MAX_TABLES, &n);
	if (e) {
		fprintf(stderr, "shmdb: tables: %s\n", shmdb_strerror(e));
	} else {
		printf("%-24s %-7s %14s %12s\n", "table", "kind", "records", "bytes");
		for (size_t i = 0; i < n && i < SHMDB_MAX_TABLES; i++) {
			int len = (int)strlen(info[i].name);
			const shmdb_schema *schema;
			print_bytes(info[i].name, (size_t)len);
			printf("%*s %-7s %14" PRIu64 " ", len < 24 ? 24 - len : 0, "",
			       kind_name(info[i].flags), info[i].count);
			print_size(info[i].bytes);
			printf("\n");
			/* A table of rows: its columns, as create takes them,
			 * and its indexes. */
			if (!shmdb_schema_get(r, info[i].id, &schema)) {
				rows_print_columns(schema);
				rows_print_indexes(r, info[i].id);
			}
		}
	}
	if (began)
		shmdb_read_end(r);
	free(info);
	shmdb_close(db);
	return e ? 1 : 0;
}

/* The exit status for error e on table `name`, said on stderr (0: none). */
static int table_status(const char *name, int e)
{
	if (e)
		fprintf(stderr, "shmdb: table '%s': %s\n", name,
			e == -ENOENT ? "no such table" : shmdb_strerror(e));
	return !e ? 0 : e == -EINVAL ? 2 : 1;
}

/* Open the store and the existing table named by the one operand of
 * `cmd`: 0, or the exit status (said on stderr; nothing left open). */
static int open_one_table(const char *socket_path, const char *cmd, int argc, char **argv,
			  shmdb **db, shmdb_table *t)
{
	if (argc != 1) {
		fprintf(stderr, "shmdb: %s takes 1 operand (see --help)\n", cmd);
		return 2;
	}
	if (open_db(socket_path, db))
		return 1;
	int status = table_status(argv[0], shmdb_table_open(*db, argv[0], 0, t));
	if (status)
		shmdb_close(*db);
	return status;
}

/* clear TABLE: remove every record. */
static int cmd_clear(const char *socket_path, int argc, char **argv)
{
	shmdb *db;
	shmdb_wtxn *w;
	shmdb_table t;
	uint64_t ts = 0;
	int status = open_one_table(socket_path, "clear", argc, argv, &db, &t);
	if (status)
		return status;
	int e = shmdb_write_begin(db, &w);
	if (!e) {
		if ((e = shmdb_clear(w, t)))
			shmdb_abort(w);
		else
			e = shmdb_commit(w, &ts);
	}
	if (!e)
		printf("committed at %" PRIu64 "\n", ts);
	shmdb_close(db);
	return table_status(argv[0], e);
}

/* count TABLE: its records now. */
static int cmd_count(const char *socket_path, int argc, char **argv)
{
	shmdb *db;
	shmdb_rtxn *r;
	shmdb_table t;
	uint64_t n = 0;
	int status = open_one_table(socket_path, "count", argc, argv, &db, &t);
	if (status)
		return status;
	int e = shmdb_read_begin(db, &r);
	if (!e) {
		e = shmdb_count(r, t, &n);
		shmdb_read_end(r);
	}
	if (!e)
		printf("%" PRIu64 "\n", n);
	shmdb_close(db);
	return table_status(argv[0], e);
}

/* drop TABLE. argv: the command's operands. */
static int cmd_drop(const char *socket_path, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "shmdb: drop takes 1 operand (see --help)\n");
		return 2;
	}
	shmdb *db;
	if (open_db(socket_path, &db))
		return 1;
	int e = shmdb_table_drop(db, argv[0]);
	if (e)
		fprintf(stderr, "shmdb: table '%s': %s\n", argv[0],
			e == -ENOENT ? "no such table" : shmdb_strerror(e));
	shmdb_close(db);
	return !e ? 0 : e == -EINVAL ? 2 : 1;
}

/* reserve TABLE KEYS. argv: the command's operands. */
static int cmd_reserve(const char *socket_path, int argc, char **argv)
{
	char *end;
	if (argc != 2) {
		fprintf(stderr, "shmdb: reserve takes 2 operands (see --help)\n");
		return 2;
	}
	errno = 0;
	unsigned long long keys = strtoull(argv[1], &end, 10);
	if (!isdigit((unsigned char)argv[1][0]) || *end) {
		fprintf(stderr, "shmdb: reserve: '%s' is not a number of keys\n", argv[1]);
		return 2;
	}
	if (errno || keys > SHMDB_MAX_TABLE_KEYS) {
		fprintf(stderr, "shmdb: reserve: %s keys: a table holds at most %u\n", argv[1],
			(unsigned)SHMDB_MAX_TABLE_KEYS);
		return 2;
	}
	shmdb *db;
	shmdb_table t;
	if (open_db(socket_path, &db))
		return 1;
	int e = shmdb_table_open(db, argv[0], SHMDB_CREATE, &t);
	if (e) {
		fprintf(stderr, "shmdb: table '%s': %s\n", argv[0], shmdb_strerror(e));
	} else if ((e = shmdb_table_reserve(db, t, keys))) {
		fprintf(stderr, "shmdb: reserve %llu keys in '%s': %s\n", keys, argv[0],
			e == -ENOSPC ? "no room (the index must fit in the arenas, and deleted "
				       "keys count until a rebuild drops them)"
				     : shmdb_strerror(e));
	}
	shmdb_close(db);
	return !e ? 0 : e == -EINVAL ? 2 : 1;
}

/* create TABLE with the kind `kind` (0, SHMDB_ORDERED or SHMDB_ORDERED |
 * SHMDB_MULTI): created, or there already with that kind, both said on
 * stdout; there with another kind is an error (1). */
static int cmd_create(const char *socket_path, int argc, char **argv, int kind)
{
	if (argc < 1) {
		fprintf(stderr, "shmdb: create takes a table and its columns, if any (see --help)\n");
		return 2;
	}
	if (argc > 1 && (kind & SHMDB_MULTI)) {
		fprintf(stderr, "shmdb: create: a table of rows is a hash or an ordered table, "
			"not a multimap\n");
		return 2;
	}
	shmdb *db;
	shmdb_table t;
	shmdb_table_info ti;
	if (open_db(socket_path, &db))
		return 1;
	if (argc > 1) {
		int rc = rows_create(db, argv[0], argc - 1, argv + 1, kind, &t);
		shmdb_close(db);
		if (!rc)
			printf("table '%s' ready (%s, %d columns)\n", argv[0],
			       kind_name(SHMDB_ROWS | kind), argc - 1);
		return rc;
	}
	/* Without a kind flag shmdb_table_open opens a table of any kind: the
	 * kind is checked here, in the catalog, before and after. */
	int e = table_lookup(db, argv[0], &ti), existed = !e;
	if (e == -ENOENT) {
		e = shmdb_table_open(db, argv[0], SHMDB_CREATE | kind, &t);
		if (!e || e == -EEXIST) /* -EEXIST: just created by another, with another kind */
			e = table_lookup(db, argv[0], &ti);
	}
	shmdb_close(db);
	if (e)
		return table_status(argv[0], e);
	if (ti.flags != kind) {
		fprintf(stderr, "shmdb: create: table '%s' exists as %s, not %s (a table's kind "
			"is set when it is created: drop it to make it anew)\n", argv[0],
			kind_phrase(ti.flags), kind_phrase(kind));
		return 1;
	}
	printf("table '");
	print_bytes(argv[0], strlen(argv[0]));
	printf("' %s (%s)\n", existed ? "exists" : "created", kind_name(kind));
	return 0;
}

/* scan's options (see usage). NULL: not given. */
struct scan_opts {
	const char *from, *to, *prefix;
	int reverse;
	int json;                /* --json: a table of rows, printed as JSON lines */
	const char *index;       /* --index COLUMN: through that column's index */
	uint64_t limit;          /* UINT64_MAX without --limit */
	const char *ordered_opt; /* the first of --from, --to, --prefix and --reverse
				  * given (they need an ordered table), or NULL */
};

/* Keys in the store's order: bytewise over the common length, then the
 * shorter first. */
static int key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	return c ? c : (alen > blen) - (alen < blen);
}

/* Print one record as KEY<TAB>VALUE, escaped. */
static void print_record(const shmdb_val *k, const shmdb_val *v)
{
	print_bytes(k->data, k->len);
	printf("\t");
	print_bytes(v->data, v->len);
	printf("\n");
}

/*
 * scan TABLE: its records, or on an ordered table or a multimap those in
 * [lo, hi): lo the greater of --from and --prefix, hi the lesser of --to
 * and the end of --prefix's range (P without its trailing 0xff bytes, last
 * byte plus one: the least key above every key starting with P; none if P
 * is all 0xff). Forward from a seek to lo until a key >= hi; --reverse
 * from a seek to hi (or the end) back while keys are >= lo.
 */
static int cmd_scan(const char *socket_path, int argc, char **argv, const struct scan_opts *o)
{
	if (argc != 1) {
		fprintf(stderr, "shmdb: scan takes 1 operand (see --help)\n");
		return 2;
	}
	const char *const names[] = { "--from", "--to", "--prefix" };
	const char *const keys[] = { o->from, o->to, o->prefix };
	for (int i = 0; i < 3; i++) {
		if (keys[i] && strlen(keys[i]) > SHMDB_MAX_KEY) {
			fprintf(stderr, "shmdb: scan: %s: a key is at most %u bytes\n", names[i],
				(unsigned)SHMDB_MAX_KEY);
			return 2;
		}
	}
	const char *lo = NULL, *hi = NULL; /* NULL: no bound that way */
	size_t lo_len = 0, hi_len = 0;
	int empty = 0; /* the range holds no key: --to "" */
	char prefix_end[SHMDB_MAX_KEY];
	if (o->from && *o->from) { /* every key is >= "" */
		lo = o->from;
		lo_len = strlen(lo);
	}
	if (o->to) {
		hi = o->to;
		hi_len = strlen(hi);
		empty = !hi_len;
	}
	if (o->prefix && *o->prefix) {
		size_t plen = strlen(o->prefix), n = plen;
		if (!lo || key_cmp(o->prefix, plen, lo, lo_len) > 0) {
			lo = o->prefix;
			lo_len = plen;
		}
		while (n && (unsigned char)o->prefix[n - 1] == 0xff)
			n--;
		if (n) {
			memcpy(prefix_end, o->prefix, n);
			prefix_end[n - 1] = (char)((unsigned char)prefix_end[n - 1] + 1);
			if (!hi || key_cmp(prefix_end, n, hi, hi_len) < 0) {
				hi = prefix_end;
				hi_len = n;
			}
		}
	}

	shmdb *db;
	shmdb_table t;
	shmdb_rtxn *r;
	shmdb_cursor *c = NULL;
	shmdb_val k, v;
	int status = open_one_table(socket_path, "scan", argc, argv, &db, &t);
	if (status)
		return status;
	/* The index before the snapshot: one that completes between the
	 * two would be read as not complete in it. */
	shmdb_table through = t;
	int index_err = o->index ? shmdb_index_open(db, t, o->index, &through) : 0;
	int e = shmdb_read_begin(db, &r);
	if (e) {
		fprintf(stderr, "shmdb: scan: %s\n", shmdb_strerror(e));
		shmdb_close(db);
		return 1;
	}
	/* A table of rows: its records print as JSON, and --from and --to
	 * are values of its key column (rows_key), not bytes. */
	const shmdb_schema *schema = NULL;
	uint8_t lo_key[SHMDB_MAX_KEY], hi_key[SHMDB_MAX_KEY];
	if (shmdb_schema_get(r, t, &schema))
		schema = NULL;
	if (o->json && !schema) {
		fprintf(stderr, "shmdb: scan: --json prints tables of rows; '%s' is not one\n",
			argv[0]);
		status = 2;
	}
	/* --index: the rows through the index of a column, whose values
	 * --from and --to take. */
	int col = 0;
	if (o->index && !schema) {
		fprintf(stderr, "shmdb: scan: --index reads tables of rows; '%s' is not one\n",
			argv[0]);
		status = 2;
	} else if (o->index) {
		col = shmdb_column_index(schema, o->index);
		e = col < 0 ? col : index_err;
		if (e) {
			fprintf(stderr, "shmdb: scan: table '%s' has no %s '%s'\n", argv[0],
				col < 0 ? "column" : "index of column", o->index);
			status = 1;
		}
	}
	if (schema && !status && o->from && (*o->from || o->index))
		status = rows_value_key(schema, (unsigned)col, o->from, lo_key, &lo_len);
	if (schema && !status && o->from && (*o->from || o->index))
		lo = (const char *)lo_key;
	if (schema && !status && o->to) {
		status = rows_value_key(schema, (unsigned)col, o->to, hi_key, &hi_len);
		hi = (const char *)hi_key;
		empty = 0;
	}
	if (schema && !status && o->prefix) {
		fprintf(stderr, "shmdb: scan: --prefix takes bytes; a table of rows takes its "
			"key's values in --from and --to\n");
		status = 2;
	}
	e = status ? 0 : shmdb_cursor_open(r, through, &c);
	/* A new cursor on an ordered table stands before its first record,
	 * where prev finds none and leaves it; on a hash table prev says
	 * -ENOTSUP. */
	if (!e && o->ordered_opt) {
		e = shmdb_cursor_prev(c, &k, &v);
		if (e == -ENOTSUP) {
			fprintf(stderr, "shmdb: scan: table '%s' is a hash table, whose records are "
				"in no order: %s needs an ordered table or a multimap (create one "
				"with --ordered or --multi)\n", argv[0], o->ordered_opt);
			status = 2;
		} else if (e == -ENOENT) {
			e = 0;
		}
	}
	if (!e && !status && !empty) {
		uint64_t n = 0;
		if (o->reverse) {
			e = hi ? shmdb_cursor_seek(c, hi, hi_len) : shmdb_cursor_seek_end(c);
			while (!e && !status && n < o->limit && !(e = shmdb_cursor_prev(c, &k, &v)) &&
			       !(lo && key_cmp(k.data, k.len, lo, lo_len) < 0)) {
				status = schema ? rows_print_json(schema, v) : (print_record(&k, &v), 0);
				n++;
			}
		} else {
			if (lo)
				e = shmdb_cursor_seek(c, lo, lo_len);
			while (!e && !status && n < o->limit && !(e = shmdb_cursor_next(c, &k, &v)) &&
			       !(hi && key_cmp(k.data, k.len, hi, hi_len) >= 0)) {
				status = schema ? rows_print_json(schema, v) : (print_record(&k, &v), 0);
				n++;
			}
		}
		if (e == -ENOENT) /* past the last record, or before the first */
			e = 0;
	}
	shmdb_cursor_close(c);
	shmdb_read_end(r);
	shmdb_close(db);
	if (e && !status) {
		fprintf(stderr, "shmdb: scan: %s\n", e == -ENOENT ? "no such table" : shmdb_strerror(e));
		status = e == -EINVAL ? 2 : 1;
	}
	return status;
}

/* index TABLE COLUMN [--unique | --drop]: make (or find) the index of
 * COLUMN, or drop it. */
static int cmd_index(const char *socket_path, int argc, char **argv, int flags, int drop)
{
	if (argc != 2) {
		fprintf(stderr, "shmdb: index takes a table and a column (see --help)\n");
		return 2;
	}
	shmdb *db;
	shmdb_table t, ix;
	int status = open_one_table(socket_path, "index", 1, argv, &db, &t);
	if (status)
		return status;
	int e = drop ? shmdb_index_drop(db, t, argv[1])
		     : shmdb_index_create(db, t, argv[1], flags, &ix);
	shmdb_close(db);
	if (!e) {
		printf("index of '%s' on '%s' %s\n", argv[0], argv[1], drop ? "dropped" : "ready");
		return 0;
	}
	const char *why = e == -ENOENT ? (drop ? "no such index" : "no such column")
			: e == -EINVAL ? "not a table of rows, or a value with no key"
			: e == -EEXIST ? "an index of the column exists with other flags"
			: shmdb_strerror(e);
	fprintf(stderr, "shmdb: index: table '%s', column '%s': %s\n", argv[0], argv[1], why);
	return e == -EINVAL ? 2 : 1;
}

/* insert TABLE COL=VALUE...: one row of a table of rows. */
static int cmd_insert(const char *socket_path, int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "shmdb: insert takes a table and COLUMN=VALUE operands (see --help)\n");
		return 2;
	}
	shmdb *db;
	shmdb_table t;
	if (open_db(socket_path, &db))
		return 1;
	int rc = table_status(argv[0], shmdb_table_open(db, argv[0], 0, &t));
	uint64_t ts = 0;
	if (!rc)
		rc = rows_insert(db, t, argc - 1, argv + 1, &ts);
	if (!rc)
		printf("committed at %" PRIu64 "\n", ts);
	shmdb_close(db);
	return rc;
}

/* get TABLE KEY on a table of rows (schema s, in r's snapshot): the row
 * whose key column holds KEY, as JSON. */
static int get_row(shmdb_rtxn *r, shmdb_table t, const shmdb_schema *s, const char *text)
{
	uint8_t key[SHMDB_MAX_KEY];
	size_t klen;
	shmdb_val row;
	int rc = rows_key(s, text, key, &klen);
	if (rc)
		return rc;
	int e = shmdb_get(r, t, key, klen, &row);
	if (e) {
		fprintf(stderr, "shmdb: get: %s\n", e == -ENOENT ? "no such key" : shmdb_strerror(e));
		return e == -EINVAL ? 2 : 1;
	}
	return rows_print_json(s, row);
}

/* put/get/del on one table. argv: the command's operands. */
static int cmd_data(const char *socket_path, const char *cmd, int argc, char **argv)
{
	int put = !strcmp(cmd, "put"), del = !strcmp(cmd, "del");
	int want = put ? 3 : 2;
	if (argc != want && !(del && argc == 3)) {
		fprintf(stderr, "shmdb: %s takes %s operands (see --help)\n", cmd,
			put ? "3" : del ? "2 or 3" : "2");
		return 2;
	}
	shmdb *db;
	shmdb_table t;
	if (open_db(socket_path, &db))
		return 1;
	int rc = 0;
	int e = shmdb_table_open(db, argv[0], put ? SHMDB_CREATE : 0, &t);
	if (e) {
		fprintf(stderr, "shmdb: table '%s': %s\n", argv[0],
			e == -ENOENT ? "no such table" : shmdb_strerror(e));
		shmdb_close(db);
		return e == -EINVAL ? 2 : 1;
	}
	/* A table of rows takes rows (insert), and its keys are values of its
	 * key column (rows_key). */
	const char *key = argv[1];
	size_t klen = strlen(key);
	uint8_t row_key[SHMDB_MAX_KEY];
	shmdb_rtxn *rr;
	const shmdb_schema *rs;
	if ((put || del) && !(e = shmdb_read_begin(db, &rr))) {
		if (!shmdb_schema_get(rr, t, &rs)) {
			if (put)
				fprintf(stderr, "shmdb: put: '%s' is a table of rows: use insert "
					"TABLE COLUMN=VALUE...\n", argv[0]);
			rc = put ? 2 : rows_key(rs, argv[1], row_key, &klen);
			key = (const char *)row_key;
		}
		shmdb_read_end(rr);
	}
	if (rc) {
		shmdb_close(db);
		return rc;
	}
	if (put || del) {
		shmdb_wtxn *w;
		uint64_t ts = 0;
		e = shmdb_write_begin(db, &w);
		if (!e)
			e = put ? shmdb_put(w, t, key, klen, argv[2], strlen(argv[2]))
			    : argc == 3 ? shmdb_del_value(w, t, key, klen, argv[2], strlen(argv[2]))
					: shmdb_del(w, t, key, klen);
		if (!e)
			e = shmdb_commit(w, &ts);
		else
			shmdb_abort(w);
		if (e == -ENOTSUP && del) {
			fprintf(stderr, "shmdb: del: table '%s' is not a multimap: only a multimap's "
				"pair is deleted by KEY VALUE (del TABLE KEY deletes the key)\n",
				argv[0]);
			rc = 2;
		} else if (e == -E2BIG) {
			fprintf(stderr, "shmdb: %s: %s (a value is at most %u bytes, a multimap's %u)\n",
				cmd, shmdb_strerror(e), (unsigned)SHMDB_MAX_VALUE,
				(unsigned)SHMDB_MAX_MULTI_VALUE);
			rc = 2;
		} else if (e) {
			fprintf(stderr, "shmdb: %s: %s\n", cmd, shmdb_strerror(e));
			rc = e == -EINVAL ? 2 : 1;
		} else {
			printf("committed at %" PRIu64 "\n", ts);
		}
	} else {
		shmdb_rtxn *r;
		shmdb_val v;
		const shmdb_schema *schema;
		e = shmdb_read_begin(db, &r);
		if (!e && !shmdb_schema_get(r, t, &schema)) {
			rc = get_row(r, t, schema, argv[1]);
			shmdb_read_end(r);
			shmdb_close(db);
			return rc;
		}
		if (!e) {
			e = shmdb_get(r, t, argv[1], strlen(argv[1]), &v);
			if (!e) {
				print_bytes(v.data, v.len);
				printf("\n");
			}
			shmdb_read_end(r);
		}
		if (e) {
			fprintf(stderr, "shmdb: %s: %s\n", cmd, e == -ENOENT ? "no such key" : shmdb_strerror(e));
			rc = e == -EINVAL ? 2 : 1;
		}
	}
	shmdb_close(db);
	return rc;
}

/* mask as taskset -c and hwloc-bind take a list: "0-3,8,10-11". */
static void print_cpu_list(const uint64_t *mask)
{
	int first = 1;
	for (unsigned c = 0; c < SHMDB_MAX_CPUS; c++) {
		if (!(mask[c / 64] >> (c % 64) & 1))
			continue;
		unsigned end = c;
		while (end + 1 < SHMDB_MAX_CPUS && (mask[(end + 1) / 64] >> ((end + 1) % 64) & 1))
			end++;
		printf(first ? "%u" : ",%u", c);
		if (end > c)
			printf("-%u", end);
		first = 0;
		c = end;
	}
	if (first)
		printf("none");
}

/* Each arena's near cpus, the writer's core left out, for pinning readers. */
static int cmd_cpus(const char *socket_path)
{
	shmdb *db;
	shmdb_info info;
	if (open_db(socket_path, &db))
		return 1;
	shmdb_info_get(db, &info);
	printf("# cpus near each arena's NUMA node, the writer's (cpu %d) core left out;\n"
	       "# for taskset -c LIST or hwloc-bind --cpubind pu:LIST\n", info.writer_cpu);
	for (uint32_t i = 0; i < info.arena_count; i++) {
		shmdb_arena_info a;
		uint64_t mask[SHMDB_MAX_CPUS / 64];
		if (shmdb_arena_info_get(db, i, &a) || shmdb_arena_cpus(db, i, mask))
			continue;
		printf("arena %u node %d: ", i, a.numa_node);
		print_cpu_list(mask);
		printf("\n");
	}
	shmdb_close(db);
	return 0;
}

static int cmd_socket(const char *socket_path)
{
	printf("%s\n", socket_path);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		/* create's */
		{ "ordered", no_argument, NULL, 'O' },
		{ "multi", no_argument, NULL, 'M' },
		/* scan's */
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "index", required_argument, NULL, 'i' },
		/* index's */
		{ "unique", no_argument, NULL, 'u' },
		{ "drop", no_argument, NULL, 'd' },
		/* stats' */
		{ "prometheus", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = NULL;
	const char *create_opt = NULL, *scan_opt = NULL, *index_opt = NULL; /* the first
										 * given, for messages */
	int index_flags = 0, index_drop = 0, prometheus = 0;
	struct scan_opts so = { .limit = UINT64_MAX };
	int kind = 0;
	int opt;
	char *end;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("shmdb %s\n", SHMDB_VERSION_STRING);
			return 0;
		case 'O':
		case 'M':
			/* --multi implies --ordered: both together are --multi */
			kind |= opt == 'M' ? SHMDB_ORDERED | SHMDB_MULTI : SHMDB_ORDERED;
			if (!create_opt)
				create_opt = opt == 'M' ? "--multi" : "--ordered";
			break;
		case 'f':
		case 't':
		case 'p':
		case 'r': {
			const char *name = opt == 'f' ? "--from" : opt == 't' ? "--to"
				         : opt == 'p' ? "--prefix" : "--reverse";
			if (opt == 'f')
				so.from = optarg;
			else if (opt == 't')
				so.to = optarg;
			else if (opt == 'p')
				so.prefix = optarg;
			else
				so.reverse = 1;
			if (!so.ordered_opt)
				so.ordered_opt = name;
			if (!scan_opt)
				scan_opt = name;
			break;
		}
		case 'j':
			so.json = 1;
			if (!scan_opt)
				scan_opt = "--json";
			break;
		case 'P':
			prometheus = 1;
			break;
		case 'i':
			so.index = optarg;
			if (!scan_opt)
				scan_opt = "--index";
			break;
		case 'u':
		case 'd':
			if (opt == 'u')
				index_flags = SHMDB_UNIQUE;
			else
				index_drop = 1;
			if (!index_opt)
				index_opt = opt == 'u' ? "--unique" : "--drop";
			break;
		case 'l': {
			errno = 0;
			unsigned long long n = strtoull(optarg, &end, 10);
			if (!isdigit((unsigned char)optarg[0]) || *end || errno) {
				fprintf(stderr, "shmdb: --limit: '%s' is not a number of records\n",
					optarg);
				return 2;
			}
			so.limit = n;
			if (!scan_opt)
				scan_opt = "--limit";
			break;
		}
		case ':':
			fprintf(stderr, "shmdb: option '%s' needs an argument (see --help)\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "shmdb: bad option '%s' (see --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	if (create_opt && strcmp(cmd, "create")) {
		fprintf(stderr, "shmdb: %s is an option of create (see --help)\n", create_opt);
		return 2;
	}
	int takes_json = !strcmp(cmd, "stats") || !strcmp(cmd, "status");
	if (takes_json && scan_opt && strcmp(scan_opt, "--json")) {
		fprintf(stderr, "shmdb: %s is an option of scan (see --help)\n", scan_opt);
		return 2;
	}
	if (prometheus && strcmp(cmd, "stats")) {
		fprintf(stderr, "shmdb: --prometheus is an option of stats (see --help)\n");
		return 2;
	}
	if (prometheus && so.json) {
		fprintf(stderr, "shmdb: stats: --json and --prometheus do not go together\n");
		return 2;
	}
	if (scan_opt && strcmp(cmd, "scan") && !takes_json) {
		fprintf(stderr, "shmdb: %s is an option of scan (see --help)\n", scan_opt);
		return 2;
	}
	if (index_opt && strcmp(cmd, "index")) {
		fprintf(stderr, "shmdb: %s is an option of index (see --help)\n", index_opt);
		return 2;
	}
	if (index_flags && index_drop) {
		fprintf(stderr, "shmdb: index: --unique and --drop do not go together\n");
		return 2;
	}
	char path[SHMDB_SOCKET_PATH_MAX];
	if (!socket_path) {
		int e = shmdb_default_socket(path, sizeof(path));
		if (e) {
			fprintf(stderr, "shmdb: default socket: %s\n", shmdb_strerror(e));
			return 1;
		}
		socket_path = path;
	}
	if (!strcmp(cmd, "put") || !strcmp(cmd, "get") || !strcmp(cmd, "del"))
		return cmd_data(socket_path, cmd, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "insert"))
		return cmd_insert(socket_path, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "scan"))
		return cmd_scan(socket_path, argc - optind - 1, argv + optind + 1, &so);
	if (!strcmp(cmd, "create"))
		return cmd_create(socket_path, argc - optind - 1, argv + optind + 1, kind);
	if (!strcmp(cmd, "drop"))
		return cmd_drop(socket_path, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "index"))
		return cmd_index(socket_path, argc - optind - 1, argv + optind + 1, index_flags,
				 index_drop);
	if (!strcmp(cmd, "reserve"))
		return cmd_reserve(socket_path, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "count"))
		return cmd_count(socket_path, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "clear"))
		return cmd_clear(socket_path, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "dump") || !strcmp(cmd, "load") || !strcmp(cmd, "backup"))
		return cmd_copy(socket_path, cmd, argc - optind - 1, argv + optind + 1);
	if (optind + 1 < argc) {
		fprintf(stderr, "shmdb: unexpected argument '%s'\n", argv[optind + 1]);
		return 2;
	}
	if (!strcmp(cmd, "status"))
		return so.json ? stats_cmd(socket_path, STATS_JSON) : cmd_status(socket_path);
	if (!strcmp(cmd, "socket"))
		return cmd_socket(socket_path);
	if (!strcmp(cmd, "tables"))
		return cmd_tables(socket_path);
	if (!strcmp(cmd, "stats"))
		return stats_cmd(socket_path, so.json ? STATS_JSON
					      : prometheus ? STATS_PROMETHEUS : STATS_TEXT);
	if (!strcmp(cmd, "top"))
		return top_cmd(socket_path);
	if (!strcmp(cmd, "cpus"))
		return cmd_cpus(socket_path);
	if (!strcmp(cmd, "checkpoint") || !strcmp(cmd, "sync"))
		return cmd_durable(socket_path, cmd);
	fprintf(stderr, "shmdb: unknown command '%s' (see --help)\n", cmd);
	return 2;
}
