/*
 * shmdb.c - the shmdb command-line tool. Commands:
 *   status [--socket PATH]   the daemon, the store's format and its arenas
 *   socket [--socket PATH]   the socket path the other commands use
 *   put TABLE KEY VALUE      set a key (creating the table if missing)
 *   get TABLE KEY            print a key's value
 *   del TABLE KEY            delete a key
 *   scan TABLE               print every key and value of a table
 *   drop TABLE               drop a table and everything in it
 *   reserve TABLE KEYS       make room for KEYS keys in a table (created if
 *                            missing) now
 * Keys and values are taken and printed as text.
 * Exit status: 0; 1 when the store cannot be reached, the key/table does
 * not exist or there is no room; 2 for bad usage.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shmdb.h"

static const char usage[] =
"Usage: shmdb COMMAND [OPTION]...\n"
"\n"
"Commands:\n"
"  status     the daemon's pid and generation, the store's format version,\n"
"             each arena's size, NUMA node, page kind and bytes used, and\n"
"             the number of sessions\n"
"  socket     print the socket path the commands use (for scripts)\n"
"  put TABLE KEY VALUE   set KEY to VALUE in TABLE (created if missing)\n"
"  get TABLE KEY         print the value of KEY\n"
"  del TABLE KEY         delete KEY\n"
"  scan TABLE            print every KEY<TAB>VALUE of TABLE\n"
"  tables                every table: name, kind, records, bytes\n"
"  count TABLE           the records of TABLE\n"
"  clear TABLE           remove every record of TABLE\n"
"  drop TABLE            drop TABLE and everything in it\n"
"Keys, values and names print printable ASCII as is, '\\' as '\\\\' and any\n"
"other byte as '\\xHH'.\n"
"  reserve TABLE KEYS    make room in TABLE (created if missing) for KEYS\n"
"                        keys now, so that loading them rebuilds nothing\n"

"\n"
"Options:\n"
"  --socket PATH   the daemon's socket (default: as shmdbd; see shmdbd --help)\n"
"  --help          print this help\n"
"  --version       print the version\n";

static void print_size(uint64_t b)
{
	if (b >= (1ull << 30) && b % (1ull << 30) == 0)
		printf("%8" PRIu64 " GiB", b >> 30);
	else if (b >= (1ull << 20))
		printf("%8.1f MiB", (double)b / (1 << 20));
	else if (b >= 1024)
		printf("%8.1f KiB", (double)b / 1024);
	else
		printf("%8" PRIu64 " B  ", b);
}

static int open_db(const char *socket_path, shmdb **db)
{
	int e = shmdb_open(socket_path, db);
	if (e)
		fprintf(stderr, "shmdb: %s: %s\n", socket_path, shmdb_strerror(e));
	return e;
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
		printf("memory          %" PRIu64 " of %" PRIu64 " bytes in use, %" PRIu64
		       " of them retired\n", st.mem_used, st.mem_total, st.mem_retired);
		printf("snapshots       %u held, %" PRIu64 " bytes kept for them\n", st.snapshots,
		       st.mem_pinned);
		if (st.oldest_pid)
			printf("oldest holder   pid %u, held %.1f s, %" PRIu64
			       " bytes kept for it alone\n", st.oldest_pid,
			       (double)st.oldest_held_ns / 1e9, st.oldest_only_bytes);
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

/* tables: name, kind, records and bytes of every table, in name order. */
static int cmd_tables(const char *socket_path)
{
	shmdb *db;
	shmdb_rtxn *r;
	size_t n = 0;
	if (open_db(socket_path, &db))
		return 1;
	shmdb_table_info *info = malloc(SHMDB_MAX_TABLES * sizeof(*info));
	int e = info ? shmdb_read_begin(db, &r) : -ENOMEM;
	if (!e) {
		e = shmdb_tables(r, info, SHMDB_MAX_TABLES, &n);
		shmdb_read_end(r);
	}
	if (e) {
		fprintf(stderr, "shmdb: tables: %s\n", shmdb_strerror(e));
	} else {
		printf("%-24s %-6s %14s %12s\n", "table", "kind", "records", "bytes");
		for (size_t i = 0; i < n && i < SHMDB_MAX_TABLES; i++) {
			int len = (int)strlen(info[i].name);
			print_bytes(info[i].name, (size_t)len);
			printf("%*s %-6s %14" PRIu64 " ", len < 24 ? 24 - len : 0, "", "hash",
			       info[i].count);
			print_size(info[i].bytes);
			printf("\n");
		}
	}
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

/* put/get/del/scan on one table. argv: the command's operands. */
static int cmd_data(const char *socket_path, const char *cmd, int argc, char **argv)
{
	int want = !strcmp(cmd, "put") ? 3 : !strcmp(cmd, "scan") ? 1 : 2;
	if (argc != want) {
		fprintf(stderr, "shmdb: %s takes %d operand%s (see --help)\n", cmd, want, want > 1 ? "s" : "");
		return 2;
	}
	shmdb *db;
	shmdb_table t;
	if (open_db(socket_path, &db))
		return 1;
	int rc = 0;
	int e = shmdb_table_open(db, argv[0], !strcmp(cmd, "put") ? SHMDB_CREATE : 0, &t);
	if (e) {
		fprintf(stderr, "shmdb: table '%s': %s\n", argv[0],
			e == -ENOENT ? "no such table" : shmdb_strerror(e));
		shmdb_close(db);
		return e == -EINVAL ? 2 : 1;
	}
	if (!strcmp(cmd, "put") || !strcmp(cmd, "del")) {
		shmdb_wtxn *w;
		uint64_t ts = 0;
		e = shmdb_write_begin(db, &w);
		if (!e)
			e = !strcmp(cmd, "put") ? shmdb_put(w, t, argv[1], strlen(argv[1]), argv[2], strlen(argv[2]))
						: shmdb_del(w, t, argv[1], strlen(argv[1]));
		if (!e)
			e = shmdb_commit(w, &ts);
		else
			shmdb_abort(w);
		if (e) {
			fprintf(stderr, "shmdb: %s: %s\n", cmd, shmdb_strerror(e));
			rc = e == -EINVAL || e == -E2BIG ? 2 : 1;
		} else {
			printf("committed at %" PRIu64 "\n", ts);
		}
	} else {
		shmdb_rtxn *r;
		shmdb_val k, v;
		e = shmdb_read_begin(db, &r);
		if (!e && !strcmp(cmd, "get")) {
			e = shmdb_get(r, t, argv[1], strlen(argv[1]), &v);
			if (!e) {
				print_bytes(v.data, v.len);
				printf("\n");
			}
		} else if (!e) {
			shmdb_cursor *c;
			e = shmdb_cursor_open(r, t, &c);
			while (!e && shmdb_cursor_next(c, &k, &v) == 0) {
				print_bytes(k.data, k.len);
				printf("\t");
				print_bytes(v.data, v.len);
				printf("\n");
			}
			if (!e)
				shmdb_cursor_close(c);
		}
		shmdb_read_end(r);
		if (e) {
			fprintf(stderr, "shmdb: %s: %s\n", cmd, e == -ENOENT ? "no such key" : shmdb_strerror(e));
			rc = e == -EINVAL ? 2 : 1;
		}
	}
	shmdb_close(db);
	return rc;
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
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = NULL;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
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
	char path[SHMDB_SOCKET_PATH_MAX];
	if (!socket_path) {
		int e = shmdb_default_socket(path, sizeof(path));
		if (e) {
			fprintf(stderr, "shmdb: default socket: %s\n", shmdb_strerror(e));
			return 1;
		}
		socket_path = path;
	}
	if (!strcmp(cmd, "put") || !strcmp(cmd, "get") || !strcmp(cmd, "del") || !strcmp(cmd, "scan"))
		return cmd_data(socket_path, cmd, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "drop"))
		return cmd_drop(socket_path, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "reserve"))
		return cmd_reserve(socket_path, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "count"))
		return cmd_count(socket_path, argc - optind - 1, argv + optind + 1);
	if (!strcmp(cmd, "clear"))
		return cmd_clear(socket_path, argc - optind - 1, argv + optind + 1);
	if (optind + 1 < argc) {
		fprintf(stderr, "shmdb: unexpected argument '%s'\n", argv[optind + 1]);
		return 2;
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(socket_path);
	if (!strcmp(cmd, "socket"))
		return cmd_socket(socket_path);
	if (!strcmp(cmd, "tables"))
		return cmd_tables(socket_path);
	fprintf(stderr, "shmdb: unknown command '%s' (see --help)\n", cmd);
	return 2;
}
