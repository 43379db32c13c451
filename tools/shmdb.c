/*
 * shmdb.c - the shmdb command-line tool. Commands:
 *   status [--socket PATH]   the daemon, the store's format and its arenas
 *   socket [--socket PATH]   the socket path the other commands use
 * Exit status: 0, 1 when the store cannot be reached, 2 for bad usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
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

static int cmd_status(const char *socket_path)
{
	char path[108];
	shmdb *db;
	shmdb_info info;

	if (!socket_path) {
		int e = shmdb_default_socket(path, sizeof(path));
		if (e) {
			fprintf(stderr, "shmdb: default socket: %s\n", shmdb_strerror(e));
			return 1;
		}
		socket_path = path;
	}
	int e = shmdb_open(socket_path, &db);
	if (e) {
		fprintf(stderr, "shmdb: %s: %s\n", socket_path, shmdb_strerror(e));
		return 1;
	}
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

static int cmd_socket(const char *socket_path)
{
	char path[108];
	if (!socket_path) {
		int e = shmdb_default_socket(path, sizeof(path));
		if (e) {
			fprintf(stderr, "shmdb: default socket: %s\n", shmdb_strerror(e));
			return 1;
		}
		socket_path = path;
	}
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
	if (optind + 1 < argc) {
		fprintf(stderr, "shmdb: unexpected argument '%s'\n", argv[optind + 1]);
		return 2;
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(socket_path);
	if (!strcmp(cmd, "socket"))
		return cmd_socket(socket_path);
	fprintf(stderr, "shmdb: unknown command '%s' (see --help)\n", cmd);
	return 2;
}
