/*
 * config.h - shmdbd's settings, read from flags, the environment and a
 * config file, in that order of precedence over the defaults.
 */
#ifndef SHMDBD_CONFIG_H
#define SHMDBD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "idle.h"
#include "settings.h"
#include "shmdb.h"

enum hugepages_mode {
	HUGEPAGES_AUTO, /* hugetlb 2M if enough are reserved, else 4K (+THP) */
	HUGEPAGES_2M,   /* hugetlb 2M or fail */
	HUGEPAGES_1G,   /* hugetlb 1G or fail */
	HUGEPAGES_OFF,  /* 4K pages (+THP where the kernel allows it) */
};

#define CONFIG_DEFAULT_ARENA_SIZE (1ull << 30)
#define CONFIG_MIN_ARENA_SIZE (1ull << 20)
#define CONFIG_MAX_ARENA_SIZE (1ull << 40)
#define CONFIG_DEFAULT_WRITER_IDLE_US 200
#define CONFIG_DEFAULT_FLUSH_MS 10
#define CONFIG_DEFAULT_CHECKPOINT_EVERY (256ull << 20)
#define CONFIG_DEFAULT_LOG_SEGMENT (64ull << 20)
#define CONFIG_MIN_LOG_SEGMENT (64ull << 10)
#define CONFIG_DEFAULT_MEMORY_HIGH 80      /* percent of the arenas */
#define CONFIG_DEFAULT_MEMORY_CRITICAL 95
#define CONFIG_DEFAULT_FILE "/etc/shmdb/shmdbd.conf"

enum durability {
	DURABILITY_NONE,  /* memory only: no data dir */
	DURABILITY_ASYNC, /* acknowledged at once, the log flushed every flush_ms */
	DURABILITY_SYNC,  /* acknowledged once the log record is on disk */
};

struct config {
	char socket_path[SHMDB_SOCKET_PATH_MAX];      /* resolved: flag, or shmdb_default_socket() */
	uint64_t arena_size;        /* bytes per arena, before page rounding */
	char numa_nodes[256];       /* "all" or a list such as "0,2-3" */
	enum hugepages_mode hugepages;
	int writer_cpu;             /* -1: auto */
	enum idle_policy writer_idle; /* spin, backoff or sleep (idle.h) */
	uint64_t writer_idle_us;    /* backoff polls at most this long */
	bool allow_group_set;
	gid_t allow_group;          /* admitted besides the daemon's uid and root */
	bool socket_mode_set;
	mode_t socket_mode;         /* default 0600, or 0660 with --allow-group */
	char data_dir[4096];        /* resolved: flag, or config_default_data_dir() */
	enum durability durability;
	uint32_t flush_ms;          /* async: the log's flush interval */
	uint64_t checkpoint_every;  /* log bytes between checkpoints */
	uint64_t log_segment;       /* bytes of one log segment file */
	bool recover_truncate;      /* start from the last good log record */
	uint32_t memory_high_pct;   /* pressure high from this share of the arenas in use */
	uint32_t memory_critical_pct; /* pressure critical: growing commits refused */

	/* Where each setting's value came from, for --print-config and for
	 * errors found after parsing (a NUMA node the host lacks). */
	struct config_origin {
		enum config_source { FROM_DEFAULT, FROM_FILE, FROM_ENV, FROM_FLAG } source;
		unsigned line;      /* FROM_FILE */
	} origin[SETTING_COUNT];
	char file[4096];            /* the config file read, or "" */
};

enum config_result {
	CONFIG_RUN,   /* start the daemon */
	CONFIG_EXIT,  /* --help, --version or --print-config printed; exit 0 */
	CONFIG_ERROR, /* a one-line error was written to err; exit 2 */
};

/*
 * config_parse - fill `c`: the defaults, then the config file (--config
 * FILE, else $SHMDB_CONFIG, else CONFIG_DEFAULT_FILE if it exists), then
 * the environment (SHMDB_ARENA_SIZE for arena-size; an empty variable
 * counts as unset), then the flags; each later source overrides.
 * On CONFIG_ERROR, `err` holds one line naming where the bad value came
 * from ("--arena-size", "SHMDB_ARENA_SIZE" or "FILE:LINE: arena-size") and
 * what it should be; an unknown key, a key set twice in the file, a line
 * that is not "key = value" and a section other than [shmdbd] are errors.
 * --help, --version and --print-config print to stdout and return
 * CONFIG_EXIT.
 */
enum config_result config_parse(struct config *c, int argc, char **argv,
				char *err, size_t errlen);

/* Every setting, its value and where it came from, one per line, in the
 * config file's syntax (the origin as a comment). */
void config_print(const struct config *c, FILE *out);

/* Where setting `id` came from, to start an error about its value:
 * "--numa-nodes", "SHMDB_NUMA_NODES", "FILE:LINE: numa-nodes", or
 * "numa-nodes" for a default. */
void config_origin_name(const struct config *c, enum setting_id id, char *out, size_t n);

/*
 * parse_size - "4096", "64K", "512M", "2G", "1T" (binary multiples, an
 * optional trailing "B" or "iB") to bytes. Returns 0, or -EINVAL for
 * anything else, -ERANGE on overflow.
 */
int parse_size(const char *s, uint64_t *out);

/* The name of mode d: "none", "async" or "sync". */
const char *durability_name(enum durability d);

#endif /* SHMDBD_CONFIG_H */
