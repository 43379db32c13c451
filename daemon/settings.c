/*
 * settings.c - every setting of shmdbd: its name, its default, how a value
 * is checked and read, and how the value in force is printed. A value is
 * read the same way whichever source gives it (flag, environment, file),
 * so a bad one gets the same message from each; nothing is clamped.
 */
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

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

/* The largest exact suffix: 1073741824 -> "1G", 1536 -> "1536". */
static void show_size(uint64_t v, char *out, size_t n)
{
	static const char suffix[] = "KMGT";
	int i = -1;
	while (i < 3 && v && !(v & 1023)) {
		v >>= 10;
		i++;
	}
	if (i < 0)
		snprintf(out, n, "%" PRIu64, v);
	else
		snprintf(out, n, "%" PRIu64 "%c", v, suffix[i]);
}

const char *durability_name(enum durability d)
{
	return d == DURABILITY_SYNC ? "sync" : d == DURABILITY_ASYNC ? "async" : "none";
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int bad(char *why, size_t n, const char *v, const char *should)
{
	snprintf(why, n, "'%s' is not %s", v, should);
	return -EINVAL;
}

static int set_socket(struct config *c, const char *v, char *why, size_t n)
{
	if (!*v || strlen(v) >= sizeof(c->socket_path)) {
		snprintf(why, n, "path must be 1 to %zu bytes", sizeof(c->socket_path) - 1);
		return -EINVAL;
	}
	strcpy(c->socket_path, v);
	return 0;
}

static void show_socket(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%s", c->socket_path);
}

static int set_size_in(uint64_t *dst, uint64_t min, uint64_t max, const char *range,
		       const char *v, char *why, size_t n)
{
	uint64_t sz;
	if (parse_size(v, &sz) || sz < min || sz > max) {
		char should[64];
		snprintf(should, sizeof(should), "a size from %s", range);
		return bad(why, n, v, should);
	}
	*dst = sz;
	return 0;
}

static int set_arena_size(struct config *c, const char *v, char *why, size_t n)
{
	return set_size_in(&c->arena_size, CONFIG_MIN_ARENA_SIZE, CONFIG_MAX_ARENA_SIZE,
			   "1M to 1T", v, why, n);
}

static void show_arena_size(const struct config *c, char *out, size_t n)
{
	show_size(c->arena_size, out, n);
}

static int set_numa_nodes(struct config *c, const char *v, char *why, size_t n)
{
	/* Only the syntax here; topology_parse_nodes() checks the nodes. */
	if (strcmp(v, "all") != 0 &&
	    (!*v || strlen(v) >= sizeof(c->numa_nodes) || strspn(v, "0123456789,-") != strlen(v)))
		return bad(why, n, v, "'all' or a list such as 0,2-3");
	strcpy(c->numa_nodes, v);
	return 0;
}

static void show_numa_nodes(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%s", c->numa_nodes);
}

static const char *const hugepages_names[] = {
	[HUGEPAGES_AUTO] = "auto", [HUGEPAGES_2M] = "2M", [HUGEPAGES_1G] = "1G",
	[HUGEPAGES_OFF] = "off",
};

static int set_hugepages(struct config *c, const char *v, char *why, size_t n)
{
	for (int m = HUGEPAGES_AUTO; m <= HUGEPAGES_OFF; m++)
		if (!strcasecmp(v, hugepages_names[m])) {
			c->hugepages = m;
			return 0;
		}
	return bad(why, n, v, "auto, 2M, 1G or off");
}

static void show_hugepages(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%s", hugepages_names[c->hugepages]);
}

static int set_writer_cpu(struct config *c, const char *v, char *why, size_t n)
{
	long cpu;
	if (!strcmp(v, "auto"))
		c->writer_cpu = -1;
	else if (parse_long(v, 0, 65535, &cpu) == 0)
		c->writer_cpu = (int)cpu;
	else
		return bad(why, n, v, "a cpu number or 'auto'");
	return 0;
}

static void show_writer_cpu(const struct config *c, char *out, size_t n)
{
	if (c->writer_cpu < 0)
		snprintf(out, n, "auto");
	else
		snprintf(out, n, "%d", c->writer_cpu);
}

static int set_writer_idle_us(struct config *c, const char *v, char *why, size_t n)
{
	long us;
	if (parse_long(v, 0, 60 * 1000 * 1000, &us))
		return bad(why, n, v, "a number of microseconds up to 60000000");
	c->writer_idle_us = (uint64_t)us;
	return 0;
}

static void show_writer_idle_us(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%" PRIu64, c->writer_idle_us);
}

static int set_writer_idle(struct config *c, const char *v, char *why, size_t n)
{
	for (int p = IDLE_SPIN; p <= IDLE_SLEEP; p++)
		if (!strcmp(v, idle_policy_name(p))) {
			c->writer_idle = p;
			return 0;
		}
	return bad(why, n, v, "spin, backoff or sleep");
}

static void show_writer_idle(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%s", idle_policy_name(c->writer_idle));
}

static int set_allow_group(struct config *c, const char *v, char *why, size_t n)
{
	long gid;
	if (!*v) {                     /* the file's "allow-group =": nobody besides */
		c->allow_group_set = false;
		return 0;
	}
	if (parse_long(v, 0, INT32_MAX, &gid) == 0) {
		c->allow_group = (gid_t)gid;
	} else {
		struct group *g = getgrnam(v);
		if (!g) {
			snprintf(why, n, "no group '%s'", v);
			return -EINVAL;
		}
		c->allow_group = g->gr_gid;
	}
	c->allow_group_set = true;
	return 0;
}

static void show_allow_group(const struct config *c, char *out, size_t n)
{
	struct group *g = c->allow_group_set ? getgrgid(c->allow_group) : NULL;
	if (!c->allow_group_set)
		snprintf(out, n, "%s", "");
	else if (g)
		snprintf(out, n, "%s", g->gr_name);
	else
		snprintf(out, n, "%u", (unsigned)c->allow_group);
}

static int set_socket_mode(struct config *c, const char *v, char *why, size_t n)
{
	char *end;
	unsigned long m = strtoul(v, &end, 8);
	if (!*v || *end || m > 0777)
		return bad(why, n, v, "an octal mode such as 0660");
	c->socket_mode = (mode_t)m;
	c->socket_mode_set = true;
	return 0;
}

static void show_socket_mode(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "0%03o", (unsigned)c->socket_mode);
}

static int set_data_dir(struct config *c, const char *v, char *why, size_t n)
{
	/* 64 bytes left for the names of the files inside it. */
	if (!*v || strlen(v) >= sizeof(c->data_dir) - 64) {
		snprintf(why, n, "path must be 1 to %zu bytes", sizeof(c->data_dir) - 65);
		return -EINVAL;
	}
	strcpy(c->data_dir, v);
	return 0;
}

static void show_data_dir(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%s", c->data_dir);
}

static int set_durability(struct config *c, const char *v, char *why, size_t n)
{
	for (int d = DURABILITY_NONE; d <= DURABILITY_SYNC; d++)
		if (!strcmp(v, durability_name(d))) {
			c->durability = d;
			return 0;
		}
	return bad(why, n, v, "none, async or sync");
}

static void show_durability(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%s", durability_name(c->durability));
}

static int set_flush_ms(struct config *c, const char *v, char *why, size_t n)
{
	long ms;
	if (parse_long(v, 1, 60 * 1000, &ms))
		return bad(why, n, v, "a number of milliseconds from 1 to 60000");
	c->flush_ms = (uint32_t)ms;
	return 0;
}

static void show_flush_ms(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%" PRIu32, c->flush_ms);
}

static int set_checkpoint_every(struct config *c, const char *v, char *why, size_t n)
{
	return set_size_in(&c->checkpoint_every, CONFIG_MIN_LOG_SEGMENT, CONFIG_MAX_ARENA_SIZE,
			   "64K to 1T", v, why, n);
}

static void show_checkpoint_every(const struct config *c, char *out, size_t n)
{
	show_size(c->checkpoint_every, out, n);
}

static int set_log_segment(struct config *c, const char *v, char *why, size_t n)
{
	return set_size_in(&c->log_segment, CONFIG_MIN_LOG_SEGMENT, 4ull << 30, "64K to 4G",
			   v, why, n);
}

static void show_log_segment(const struct config *c, char *out, size_t n)
{
	show_size(c->log_segment, out, n);
}

/* A switch's value from the file or the environment (the flag sets "true"). */
static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(v, no[i]))
			return *out = false, 0;
	}
	return -EINVAL;
}

static int set_recover_truncate(struct config *c, const char *v, char *why, size_t n)
{
	if (parse_bool(v, &c->recover_truncate))
		return bad(why, n, v, "true or false (yes/no, on/off, 1/0)");
	return 0;
}

static void show_recover_truncate(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%s", c->recover_truncate ? "true" : "false");
}

/* "80%" or "80": a whole percent of the arenas, 1 to 100. */
static int set_percent(uint32_t *dst, const char *v, char *why, size_t n)
{
	char num[16];
	size_t len = strlen(v);
	long pct;
	if (len && v[len - 1] == '%')
		len--;
	if (!len || len >= sizeof(num))
		return bad(why, n, v, "a percent of the arenas from 1% to 100%");
	memcpy(num, v, len);
	num[len] = 0;
	if (parse_long(num, 1, 100, &pct))
		return bad(why, n, v, "a percent of the arenas from 1% to 100%");
	*dst = (uint32_t)pct;
	return 0;
}

static int set_memory_high(struct config *c, const char *v, char *why, size_t n)
{
	return set_percent(&c->memory_high_pct, v, why, n);
}

static int set_memory_critical(struct config *c, const char *v, char *why, size_t n)
{
	return set_percent(&c->memory_critical_pct, v, why, n);
}

static void show_memory_high(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%" PRIu32 "%%", c->memory_high_pct);
}

static void show_memory_critical(const struct config *c, char *out, size_t n)
{
	snprintf(out, n, "%" PRIu32 "%%", c->memory_critical_pct);
}

const struct setting settings[SETTING_COUNT] = {
	[SET_SOCKET] = { "socket", false, set_socket, show_socket },
	[SET_ARENA_SIZE] = { "arena-size", false, set_arena_size, show_arena_size },
	[SET_NUMA_NODES] = { "numa-nodes", false, set_numa_nodes, show_numa_nodes },
	[SET_HUGEPAGES] = { "hugepages", false, set_hugepages, show_hugepages },
	[SET_WRITER_CPU] = { "writer-cpu", false, set_writer_cpu, show_writer_cpu },
	[SET_WRITER_IDLE] = { "writer-idle", false, set_writer_idle, show_writer_idle },
	[SET_WRITER_IDLE_US] = { "writer-idle-us", false, set_writer_idle_us, show_writer_idle_us },
	[SET_ALLOW_GROUP] = { "allow-group", false, set_allow_group, show_allow_group },
	[SET_SOCKET_MODE] = { "socket-mode", false, set_socket_mode, show_socket_mode },
	[SET_DATA_DIR] = { "data-dir", false, set_data_dir, show_data_dir },
	[SET_DURABILITY] = { "durability", false, set_durability, show_durability },
	[SET_FLUSH_INTERVAL_MS] = { "flush-interval-ms", false, set_flush_ms, show_flush_ms },
	[SET_CHECKPOINT_EVERY] = { "checkpoint-every", false, set_checkpoint_every,
				   show_checkpoint_every },
	[SET_LOG_SEGMENT_SIZE] = { "log-segment-size", false, set_log_segment, show_log_segment },
	[SET_RECOVER_TRUNCATE] = { "recover-truncate", true, set_recover_truncate,
				   show_recover_truncate },
	[SET_MEMORY_HIGH] = { "memory-high", false, set_memory_high, show_memory_high },
	[SET_MEMORY_CRITICAL] = { "memory-critical", false, set_memory_critical,
				  show_memory_critical },
};

int setting_find(const char *name)
{
	for (int i = 0; i < SETTING_COUNT; i++)
		if (!strcmp(settings[i].name, name))
			return i;
	return -1;
}

void settings_defaults(struct config *c)
{
	c->arena_size = CONFIG_DEFAULT_ARENA_SIZE;
	strcpy(c->numa_nodes, "all");
	c->hugepages = HUGEPAGES_AUTO;
	c->writer_cpu = -1;
	c->writer_idle = IDLE_BACKOFF;
	c->writer_idle_us = CONFIG_DEFAULT_WRITER_IDLE_US;
	c->durability = DURABILITY_ASYNC;
	c->flush_ms = CONFIG_DEFAULT_FLUSH_MS;
	c->checkpoint_every = CONFIG_DEFAULT_CHECKPOINT_EVERY;
	c->log_segment = CONFIG_DEFAULT_LOG_SEGMENT;
	c->memory_high_pct = CONFIG_DEFAULT_MEMORY_HIGH;
	c->memory_critical_pct = CONFIG_DEFAULT_MEMORY_CRITICAL;
}
