/*
 * config.c - shmdbd's command line: defaults, then flags. Every bad flag or
 * value becomes one line that names it; nothing is silently clamped.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shmdb.h"

static const char usage[] =
"Usage: shmdbd [OPTION]...\n"
"Serve a shmdb store: NUMA-placed, huge-page shared-memory arenas that local\n"
"clients map read-only. Runs in the foreground; SIGTERM or SIGINT stop it.\n"
"\n"
"  --socket PATH        UNIX socket to serve (default: $SHMDB_SOCKET, else\n"
"                       /run/shmdb/shmdb.sock for root, else\n"
"                       $XDG_RUNTIME_DIR/shmdb.sock, else /tmp/shmdb-UID/shmdb.sock)\n"
"  --arena-size SIZE    bytes per arena, K/M/G/T suffixes (default 1G);\n"
"                       rounded up to the page size\n"
"  --numa-nodes LIST    nodes to place one arena each on: 'all' (default) or\n"
"                       a list such as 0,2-3\n"
"  --hugepages MODE     auto (default): hugetlb 2M pages if enough are\n"
"                       reserved, else 4K pages with THP advice; 2M or 1G:\n"
"                       hugetlb or fail; off: 4K pages\n"
"  --writer-cpu N|auto  cpu for the writer thread (default auto: a core near\n"
"                       the first arena's node)\n"
"  --writer-idle-us N   microseconds the writer keeps polling the rings after\n"
"                       its last work before it sleeps (default 200; a\n"
"                       latency-critical deployment gives it a core and a\n"
"                       large value)\n"
"  --allow-group GROUP  also admit clients of this group (name or gid)\n"
"  --socket-mode MODE   octal file mode of the socket (default 0600, or 0660\n"
"                       with --allow-group); admission is still checked\n"
"  --data-dir DIR       where the log and checkpoints live, created if missing\n"
"                       and locked against a second daemon (default\n"
"                       /var/lib/shmdb for root, else $XDG_STATE_HOME/shmdb\n"
"                       or ~/.local/state/shmdb)\n"
"  --durability MODE    sync: a commit is acknowledged and visible once its\n"
"                       log record is on disk (one fdatasync for every commit\n"
"                       waiting); async (default): at once, the log flushed\n"
"                       every --flush-interval-ms; none: memory only, no\n"
"                       data dir\n"
"  --flush-interval-ms N  async: milliseconds between log flushes (default 10)\n"
"  --checkpoint-every SIZE  write a checkpoint when the log has grown by this\n"
"                       much since the last (default 256M)\n"
"  --log-segment-size SIZE  bytes of one preallocated log file (default 64M)\n"
"  --recover-truncate   start from the last good log record when the log is\n"
"                       damaged, dropping what follows it (said in the log)\n"
"  --help               print this help and exit\n"
"  --version            print the version and exit\n";

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	}
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

const char *durability_name(enum durability d)
{
	return d == DURABILITY_SYNC ? "sync" : d == DURABILITY_ASYNC ? "async" : "none";
}

/* /var/lib/shmdb for root; else $XDG_STATE_HOME/shmdb, ~/.local/state/shmdb. */
static int default_data_dir(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;
	if (geteuid() == 0)
		n = snprintf(out, cap, "/var/lib/shmdb");
	else if (xdg && xdg[0] == '/')
		n = snprintf(out, cap, "%s/shmdb", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, cap, "%s/.local/state/shmdb", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_group(const char *s, gid_t *gid)
{
	long v;
	if (parse_int(s, 0, INT32_MAX, &v) == 0) {
		*gid = (gid_t)v;
		return 0;
	}
	struct group *g = getgrnam(s);
	if (!g)
		return -ENOENT;
	*gid = g->gr_gid;
	return 0;
}

enum { OPT_SOCKET = 256, OPT_ARENA_SIZE, OPT_NUMA_NODES, OPT_HUGEPAGES,
       OPT_WRITER_CPU, OPT_WRITER_IDLE, OPT_ALLOW_GROUP, OPT_SOCKET_MODE, OPT_DATA_DIR,
       OPT_DURABILITY, OPT_FLUSH_MS, OPT_CHECKPOINT_EVERY, OPT_LOG_SEGMENT,
       OPT_RECOVER_TRUNCATE, OPT_HELP, OPT_VERSION };

static const struct option options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "arena-size", required_argument, NULL, OPT_ARENA_SIZE },
	{ "numa-nodes", required_argument, NULL, OPT_NUMA_NODES },
	{ "hugepages", required_argument, NULL, OPT_HUGEPAGES },
	{ "writer-cpu", required_argument, NULL, OPT_WRITER_CPU },
	{ "writer-idle-us", required_argument, NULL, OPT_WRITER_IDLE },
	{ "allow-group", required_argument, NULL, OPT_ALLOW_GROUP },
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "durability", required_argument, NULL, OPT_DURABILITY },
	{ "flush-interval-ms", required_argument, NULL, OPT_FLUSH_MS },
	{ "checkpoint-every", required_argument, NULL, OPT_CHECKPOINT_EVERY },
	{ "log-segment-size", required_argument, NULL, OPT_LOG_SEGMENT },
	{ "recover-truncate", no_argument, NULL, OPT_RECOVER_TRUNCATE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static enum config_result apply(struct config *c, int opt, const char *arg,
				char *err, size_t errlen)
{
	long v;
	switch (opt) {
	case OPT_SOCKET:
		if (!*arg || strlen(arg) >= sizeof(c->socket_path)) {
			snprintf(err, errlen, "--socket: path must be 1 to %zu bytes",
				 sizeof(c->socket_path) - 1);
			return CONFIG_ERROR;
		}
		strcpy(c->socket_path, arg);
		return CONFIG_RUN;
	case OPT_ARENA_SIZE: {
		uint64_t sz;
		if (parse_size(arg, &sz) || sz < CONFIG_MIN_ARENA_SIZE || sz > CONFIG_MAX_ARENA_SIZE) {
			snprintf(err, errlen, "--arena-size: '%s' is not a size from 1M to 1T", arg);
			return CONFIG_ERROR;
		}
		c->arena_size = sz;
		return CONFIG_RUN;
	}
	case OPT_NUMA_NODES:
		/* Only the syntax here; topology_parse_nodes() checks the nodes. */
		if (strcmp(arg, "all") != 0 &&
		    (!*arg || strlen(arg) >= sizeof(c->numa_nodes) ||
		     strspn(arg, "0123456789,-") != strlen(arg))) {
			snprintf(err, errlen, "--numa-nodes: '%s' is not 'all' or a list such as 0,2-3", arg);
			return CONFIG_ERROR;
		}
		strcpy(c->numa_nodes, arg);
		return CONFIG_RUN;
	case OPT_HUGEPAGES:
		if (!strcmp(arg, "auto"))
			c->hugepages = HUGEPAGES_AUTO;
		else if (!strcmp(arg, "2M") || !strcmp(arg, "2m"))
			c->hugepages = HUGEPAGES_2M;
		else if (!strcmp(arg, "1G") || !strcmp(arg, "1g"))
			c->hugepages = HUGEPAGES_1G;
		else if (!strcmp(arg, "off"))
			c->hugepages = HUGEPAGES_OFF;
		else {
			snprintf(err, errlen, "--hugepages: '%s' is not auto, 2M, 1G or off", arg);
			return CONFIG_ERROR;
		}
		return CONFIG_RUN;
	case OPT_WRITER_CPU:
		if (!strcmp(arg, "auto"))
			c->writer_cpu = -1;
		else if (parse_int(arg, 0, 65535, &v) == 0)
			c->writer_cpu = (int)v;
		else {
			snprintf(err, errlen, "--writer-cpu: '%s' is not a cpu number or 'auto'", arg);
			return CONFIG_ERROR;
		}
		return CONFIG_RUN;
	case OPT_WRITER_IDLE:
		if (parse_int(arg, 0, 60 * 1000 * 1000, &v)) {
			snprintf(err, errlen, "--writer-idle-us: '%s' is not a number of microseconds up to 60000000", arg);
			return CONFIG_ERROR;
		}
		c->writer_idle_us = (uint64_t)v;
		return CONFIG_RUN;
	case OPT_ALLOW_GROUP:
		if (parse_group(arg, &c->allow_group)) {
			snprintf(err, errlen, "--allow-group: no group '%s'", arg);
			return CONFIG_ERROR;
		}
		c->allow_group_set = true;
		return CONFIG_RUN;
	case OPT_SOCKET_MODE: {
		char *end;
		unsigned long m = strtoul(arg, &end, 8);
		if (!*arg || *end || m > 0777) {
			snprintf(err, errlen, "--socket-mode: '%s' is not an octal mode such as 0660", arg);
			return CONFIG_ERROR;
		}
		c->socket_mode = (mode_t)m;
		c->socket_mode_set = true;
		return CONFIG_RUN;
	}
	case OPT_DATA_DIR:
		if (!*arg || strlen(arg) >= sizeof(c->data_dir) - 64) {
			snprintf(err, errlen, "--data-dir: path must be 1 to %zu bytes",
				 sizeof(c->data_dir) - 65);
			return CONFIG_ERROR;
		}
		strcpy(c->data_dir, arg);
		return CONFIG_RUN;
	case OPT_DURABILITY:
		for (int d = DURABILITY_NONE; d <= DURABILITY_SYNC; d++)
			if (!strcmp(arg, durability_name(d))) {
				c->durability = d;
				return CONFIG_RUN;
			}
		snprintf(err, errlen, "--durability: '%s' is not none, async or sync", arg);
		return CONFIG_ERROR;
	case OPT_FLUSH_MS:
		if (parse_int(arg, 1, 60 * 1000, &v)) {
			snprintf(err, errlen, "--flush-interval-ms: '%s' is not a number of milliseconds from 1 to 60000", arg);
			return CONFIG_ERROR;
		}
		c->flush_ms = (uint32_t)v;
		return CONFIG_RUN;
	case OPT_CHECKPOINT_EVERY: {
		uint64_t sz;
		if (parse_size(arg, &sz) || sz < CONFIG_MIN_LOG_SEGMENT || sz > CONFIG_MAX_ARENA_SIZE) {
			snprintf(err, errlen, "--checkpoint-every: '%s' is not a size from 64K to 1T", arg);
			return CONFIG_ERROR;
		}
		c->checkpoint_every = sz;
		return CONFIG_RUN;
	}
	case OPT_LOG_SEGMENT: {
		uint64_t sz;
		if (parse_size(arg, &sz) || sz < CONFIG_MIN_LOG_SEGMENT || sz > (4ull << 30)) {
			snprintf(err, errlen, "--log-segment-size: '%s' is not a size from 64K to 4G", arg);
			return CONFIG_ERROR;
		}
		c->log_segment = sz;
		return CONFIG_RUN;
	}
	case OPT_RECOVER_TRUNCATE:
		c->recover_truncate = true;
		return CONFIG_RUN;
	case OPT_HELP:
		fputs(usage, stdout);
		return CONFIG_EXIT;
	case OPT_VERSION:
		printf("shmdbd %s\n", SHMDB_VERSION_STRING);
		return CONFIG_EXIT;
	}
	snprintf(err, errlen, "internal: unhandled option %d", opt);
	return CONFIG_ERROR;
}

enum config_result config_parse(struct config *c, int argc, char **argv,
				char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->arena_size = CONFIG_DEFAULT_ARENA_SIZE;
	strcpy(c->numa_nodes, "all");
	c->hugepages = HUGEPAGES_AUTO;
	c->writer_cpu = -1;
	c->writer_idle_us = CONFIG_DEFAULT_WRITER_IDLE_US;
	c->durability = DURABILITY_ASYNC;
	c->flush_ms = CONFIG_DEFAULT_FLUSH_MS;
	c->checkpoint_every = CONFIG_DEFAULT_CHECKPOINT_EVERY;
	c->log_segment = CONFIG_DEFAULT_LOG_SEGMENT;

	opterr = 0;
	optind = 1;
	for (;;) {
		int prev = optind;
		int opt = getopt_long(argc, argv, "", options, NULL);
		if (opt == -1)
			break;
		if (opt == '?' || opt == ':') {
			const char *bad = argv[prev] ? argv[prev] : "?";
			if (optopt)
				snprintf(err, errlen, "option '%s' needs a value", bad);
			else
				snprintf(err, errlen, "unknown option '%s' (see --help)", bad);
			return CONFIG_ERROR;
		}
		enum config_result r = apply(c, opt, optarg, err, errlen);
		if (r != CONFIG_RUN)
			return r;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		return CONFIG_ERROR;
	}
	if (!c->socket_path[0]) {
		int e = shmdb_default_socket(c->socket_path, sizeof(c->socket_path));
		if (e) {
			snprintf(err, errlen, "default socket path: %s", shmdb_strerror(e));
			return CONFIG_ERROR;
		}
	}
	if (!c->socket_mode_set)
		c->socket_mode = c->allow_group_set ? 0660 : 0600;
	if (c->durability != DURABILITY_NONE && !c->data_dir[0] &&
	    default_data_dir(c->data_dir, sizeof(c->data_dir) - 64)) {
		snprintf(err, errlen, "no default data dir (no HOME): give --data-dir");
		return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}
