/*
 * settings.h - the table of shmdbd's settings: each one's name (its flag,
 * its key in the config file and, upper-cased with '_', its environment
 * variable after "SHMDB_"), how a value is read into struct config and how
 * the value in force is written back. config.c layers the sources; this
 * table is the one place a setting is defined.
 */
#ifndef SHMDBD_SETTINGS_H
#define SHMDBD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

struct config;

enum setting_id {
	SET_SOCKET,
	SET_ARENA_SIZE,
	SET_NUMA_NODES,
	SET_HUGEPAGES,
	SET_WRITER_CPU,
	SET_WRITER_IDLE,
	SET_WRITER_IDLE_US,
	SET_ALLOW_GROUP,
	SET_SOCKET_MODE,
	SET_DATA_DIR,
	SET_DURABILITY,
	SET_FLUSH_INTERVAL_MS,
	SET_CHECKPOINT_EVERY,
	SET_LOG_SEGMENT_SIZE,
	SET_RECOVER_TRUNCATE,
	SET_MEMORY_HIGH,
	SET_MEMORY_CRITICAL,
	SETTING_COUNT
};

struct setting {
	const char *name;  /* "arena-size": --arena-size, arena-size =, SHMDB_ARENA_SIZE */
	bool is_switch;    /* a flag without a value; true/false, yes/no, on/off, 1/0 elsewhere */
	/* Read `v` into c: 0, or -EINVAL with one clause in `why` that says
	 * what the value should be ("'x' is not a size from 1M to 1T"). */
	int (*set)(struct config *c, const char *v, char *why, size_t n);
	/* The value in force, as the file would take it back. */
	void (*show)(const struct config *c, char *out, size_t n);
};

extern const struct setting settings[SETTING_COUNT];

/* The setting called `name` (a file key or flag name without "--"), or -1. */
int setting_find(const char *name);

/* Every setting at its default (socket path, socket mode and data dir are
 * resolved later, by config.c, from the others). */
void settings_defaults(struct config *c);

#endif /* SHMDBD_SETTINGS_H */
