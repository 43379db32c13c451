/*
 * config.c - where shmdbd's settings come from: the defaults, then the
 * config file (INI, read with libinih), then SHMDB_<SETTING> environment
 * variables, then the flags; each source overrides the ones before it, and
 * each setting remembers which one gave its value. Values are read by the
 * setting table (settings.c), so a bad value gets the same message from
 * every source, prefixed with where it came from. The daemon never starts
 * on a configuration it only half understood: an unknown key, a key given
 * twice in the file, a malformed line or a bad value stops it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
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
"  --writer-idle POLICY what the writer does between transactions: backoff\n"
"                       (default) polls while they come closer together than\n"
"                       a wake-up costs, else sleeps, and wakes ahead of\n"
"                       transactions that come at a steady pace; spin polls\n"
"                       without end (give it a core of its own); sleep\n"
"                       sleeps as soon as none waits\n"
"  --writer-idle-us N   backoff polls at most this many microseconds\n"
"                       (default 200)\n"
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
"  --memory-high PCT    memory pressure 'high' from this share of the arenas\n"
"                       in use: the writer reclaims eagerly (default 80%)\n"
"  --memory-critical PCT  pressure 'critical': commits that would take more\n"
"                       memory fail with SHMDB_EPRESSURE, those that free\n"
"                       memory still apply (default 95%)\n"
"  --config FILE        read settings from FILE (default: $SHMDB_CONFIG, else\n"
"                       /etc/shmdb/shmdbd.conf if it exists); each flag is a\n"
"                       key there ('arena-size = 2G'), and an environment\n"
"                       variable (SHMDB_ARENA_SIZE=2G) overrides the file;\n"
"                       flags override both\n"
"  --print-config       print every setting, its value and where it came\n"
"                       from, and exit\n"
"  --help               print this help and exit\n"
"  --version            print the version and exit\n";

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

/* "arena-size" -> "SHMDB_ARENA_SIZE" */
static void env_name(const char *setting, char *out, size_t n)
{
	size_t i = (size_t)snprintf(out, n, "SHMDB_");
	for (; *setting && i + 1 < n; setting++)
		out[i++] = *setting == '-' ? '_' : (char)toupper((unsigned char)*setting);
	out[i] = 0;
}

void config_origin_name(const struct config *c, enum setting_id id, char *out, size_t n)
{
	const struct config_origin *o = &c->origin[id];
	switch (o->source) {
	case FROM_FLAG:
		snprintf(out, n, "--%s", settings[id].name);
		return;
	case FROM_ENV:
		env_name(settings[id].name, out, n);
		return;
	case FROM_FILE:
		snprintf(out, n, "%s:%u: %s", c->file, o->line, settings[id].name);
		return;
	case FROM_DEFAULT:
		snprintf(out, n, "%s", settings[id].name);
		return;
	}
}

/* Give setting id the value v from source `from`; on a bad value, one line
 * in err naming the source. */
static int set_from(struct config *c, enum setting_id id, const char *v,
		    enum config_source from, unsigned line, char *err, size_t errlen)
{
	char why[256], where[4200];
	c->origin[id] = (struct config_origin){ from, line };
	if (settings[id].set(c, v, why, sizeof(why)) == 0)
		return 0;
	config_origin_name(c, id, where, sizeof(where));
	snprintf(err, errlen, "%s: %s", where, why);
	return -EINVAL;
}

/* The file, line by line, so that an error names its line. */
struct file_reader {
	FILE *f;
	unsigned line;
	bool too_long;
};

#define CONFIG_MAX_LINE 8192

static char *read_line(char *buf, int cap, void *stream)
{
	struct file_reader *r = stream;
	if (!fgets(buf, cap, r->f))
		return NULL;
	r->line++;
	if (!strchr(buf, '\n') && !feof(r->f)) {
		r->too_long = true;
		return NULL;
	}
	return buf;
}

struct file_parse {
	struct config *c;
	struct file_reader *reader;
	unsigned seen_line[SETTING_COUNT];
	char *err;
	size_t errlen;
	bool failed;
};

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct file_parse *p = user;
	unsigned line = p->reader->line;
	if (p->failed)
		return 0;
	p->failed = true;
	if (*section && strcmp(section, "shmdbd") != 0) {
		snprintf(p->err, p->errlen, "%s:%u: unknown section [%s] (settings go before any "
			 "section or under [shmdbd])", p->c->file, line, section);
		return 0;
	}
	int id = setting_find(key);
	if (id < 0) {
		snprintf(p->err, p->errlen, "%s:%u: unknown setting '%s' (see shmdbd --help)",
			 p->c->file, line, key);
		return 0;
	}
	if (p->seen_line[id]) {
		snprintf(p->err, p->errlen, "%s:%u: %s set again (first on line %u)", p->c->file,
			 line, key, p->seen_line[id]);
		return 0;
	}
	p->seen_line[id] = line;
	if (set_from(p->c, id, value, FROM_FILE, line, p->err, p->errlen))
		return 0;
	p->failed = false;
	return 1;
}

/* Read the config file c->file; `required`: a missing file is an error. */
static int read_file(struct config *c, bool required, char *err, size_t errlen)
{
	FILE *f = fopen(c->file, "r");
	if (!f) {
		int e = errno;
		if (e == ENOENT && !required) {
			c->file[0] = 0;
			return 0;
		}
		snprintf(err, errlen, "config file %s: %s", c->file, strerror(e));
		return -e;
	}
	/* Lines as long as a path: the library's line buffer from the heap. */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = ini_max_line = CONFIG_MAX_LINE;
	ini_stop_on_first_error = true;
	ini_allow_multiline = false;
	struct file_reader r = { f, 0, false };
	struct file_parse p = { .c = c, .reader = &r, .err = err, .errlen = errlen };
	int bad_line = ini_parse_stream(read_line, &r, on_key, &p);
	bool read_error = ferror(f);
	fclose(f);
	if (r.too_long) {
		snprintf(err, errlen, "%s:%u: line longer than %d bytes", c->file, r.line,
			 CONFIG_MAX_LINE - 2);
		return -EINVAL;
	}
	if (read_error) {
		snprintf(err, errlen, "config file %s: read error", c->file);
		return -EIO;
	}
	if (bad_line == -2) {
		snprintf(err, errlen, "config file %s: out of memory", c->file);
		return -ENOMEM;
	}
	if (bad_line && !p.failed)
		snprintf(err, errlen, "%s:%d: not a 'setting = value' line", c->file, bad_line);
	return bad_line ? -EINVAL : 0;
}

/* Whether the environment entry "NAME=value" names a setting, or is
 * SHMDB_CONFIG. */
static bool env_known(const char *entry)
{
	size_t len = strcspn(entry, "=");
	if (len == strlen("SHMDB_CONFIG") && !strncmp(entry, "SHMDB_CONFIG", len))
		return true;
	for (int id = 0; id < SETTING_COUNT; id++) {
		char name[64];
		env_name(settings[id].name, name, sizeof(name));
		if (strlen(name) == len && !strncmp(entry, name, len))
			return true;
	}
	return false;
}

/* The SHMDB_<SETTING> variables; one that starts SHMDB_ but names no
 * setting (a misspelling) is an error, as an unknown key in the file is. */
static int read_env(struct config *c, char *err, size_t errlen)
{
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "SHMDB_", 6) || env_known(*e))
			continue;
		snprintf(err, errlen, "environment: %.*s: no such setting (SHMDB_<SETTING>, e.g. "
				      "SHMDB_ARENA_SIZE; shmdbd --help lists them)",
			 (int)strcspn(*e, "="), *e);
		return -EINVAL;
	}
	for (int id = 0; id < SETTING_COUNT; id++) {
		char name[64];
		env_name(settings[id].name, name, sizeof(name));
		const char *v = getenv(name);
		if (v && *v && set_from(c, id, v, FROM_ENV, 0, err, errlen))
			return -EINVAL;
	}
	return 0;
}

/* Values that follow from others, and the checks across settings. */
static int resolve(struct config *c, char *err, size_t errlen)
{
	if (!c->socket_path[0]) {
		int e = shmdb_default_socket(c->socket_path, sizeof(c->socket_path));
		if (e) {
			snprintf(err, errlen, "default socket path: %s", shmdb_strerror(e));
			return e;
		}
	}
	if (!c->socket_mode_set)
		c->socket_mode = c->allow_group_set ? 0660 : 0600;
	if (c->durability != DURABILITY_NONE && !c->data_dir[0] &&
	    default_data_dir(c->data_dir, sizeof(c->data_dir) - 64)) {
		snprintf(err, errlen, "no default data dir (no HOME): give --data-dir");
		return -EINVAL;
	}
	if (c->memory_high_pct >= c->memory_critical_pct) {
		char high[4200], crit[4200];
		config_origin_name(c, SET_MEMORY_HIGH, high, sizeof(high));
		config_origin_name(c, SET_MEMORY_CRITICAL, crit, sizeof(crit));
		snprintf(err, errlen, "%s (%u%%) must be below %s (%u%%)", high,
			 c->memory_high_pct, crit, c->memory_critical_pct);
		return -EINVAL;
	}
	return 0;
}

void config_print(const struct config *c, FILE *out)
{
	fprintf(out, "# shmdbd %s; config file: %s\n", SHMDB_VERSION_STRING,
		c->file[0] ? c->file : "none");
	for (int id = 0; id < SETTING_COUNT; id++) {
		char value[4200], from[4200];
		settings[id].show(c, value, sizeof(value));
		const struct config_origin *o = &c->origin[id];
		switch (o->source) {
		case FROM_DEFAULT: snprintf(from, sizeof(from), "default"); break;
		case FROM_FILE: snprintf(from, sizeof(from), "%s:%u", c->file, o->line); break;
		case FROM_ENV: env_name(settings[id].name, from, sizeof(from)); break;
		case FROM_FLAG: snprintf(from, sizeof(from), "--%s", settings[id].name); break;
		}
		char line[8500];
		snprintf(line, sizeof(line), "%s = %s", settings[id].name, value);
		fprintf(out, "%-40s # %s\n", line, from);
	}
}

enum { OPT_CONFIG = 1000, OPT_PRINT_CONFIG, OPT_HELP, OPT_VERSION };

struct flag {
	int id;
	const char *arg;
};

enum config_result config_parse(struct config *c, int argc, char **argv,
				char *err, size_t errlen)
{
	struct option options[SETTING_COUNT + 5];
	for (int id = 0; id < SETTING_COUNT; id++)
		options[id] = (struct option){ settings[id].name,
					       settings[id].is_switch ? no_argument : required_argument,
					       NULL, id };
	options[SETTING_COUNT + 0] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	options[SETTING_COUNT + 1] = (struct option){ "print-config", no_argument, NULL,
						      OPT_PRINT_CONFIG };
	options[SETTING_COUNT + 2] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	options[SETTING_COUNT + 3] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	options[SETTING_COUNT + 4] = (struct option){ NULL, 0, NULL, 0 };

	memset(c, 0, sizeof(*c));
	settings_defaults(c);

	/* The flags first, kept for last: --config names the file they override. */
	struct flag *flags = calloc((size_t)argc + 1, sizeof(*flags));
	size_t nflags = 0;
	const char *file = NULL;
	bool print = false;
	enum config_result res = CONFIG_ERROR;
	if (!flags) {
		snprintf(err, errlen, "out of memory");
		return CONFIG_ERROR;
	}
	opterr = 0;
	optind = 1;
	for (;;) {
		int prev = optind;
		int opt = getopt_long(argc, argv, "", options, NULL);
		if (opt == -1)
			break;
		if (opt == '?' || opt == ':') {
			const char *badflag = argv[prev] ? argv[prev] : "?";
			if (optopt)
				snprintf(err, errlen, "option '%s' needs a value", badflag);
			else
				snprintf(err, errlen, "unknown option '%s' (see --help)", badflag);
			goto out;
		}
		switch (opt) {
		case OPT_HELP:
			fputs(usage, stdout);
			res = CONFIG_EXIT;
			goto out;
		case OPT_VERSION:
			printf("shmdbd %s\n", SHMDB_VERSION_STRING);
			res = CONFIG_EXIT;
			goto out;
		case OPT_CONFIG:
			file = optarg;
			break;
		case OPT_PRINT_CONFIG:
			print = true;
			break;
		default:
			flags[nflags++] = (struct flag){ opt, settings[opt].is_switch ? "true" : optarg };
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
		goto out;
	}

	bool required = true;
	if (!file && !((file = getenv("SHMDB_CONFIG")) && *file)) {
		file = CONFIG_DEFAULT_FILE;
		required = false;
	}
	if (!*file || strlen(file) >= sizeof(c->file)) {
		snprintf(err, errlen, "--config: path must be 1 to %zu bytes", sizeof(c->file) - 1);
		goto out;
	}
	strcpy(c->file, file);
	if (read_file(c, required, err, errlen) || read_env(c, err, errlen))
		goto out;
	for (size_t i = 0; i < nflags; i++)
		if (set_from(c, flags[i].id, flags[i].arg, FROM_FLAG, 0, err, errlen))
			goto out;
	if (resolve(c, err, errlen))
		goto out;
	if (print) {
		config_print(c, stdout);
		res = CONFIG_EXIT;
	} else {
		res = CONFIG_RUN;
	}
out:
	free(flags);
	return res;
}
