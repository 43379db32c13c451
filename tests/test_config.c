/*
 * test_config.c - shmdbd's settings from a config file, the environment and
 * flags: the precedence (flag, environment, file, default) and the origin
 * each value keeps, errors that name file:line and key (and the same words
 * as the flag's for a bad value), the shipped example config (every
 * setting, each at its default), --print-config, and real daemons started
 * from a file and from the environment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"

/* A config file with `text` in a new temporary path (static buffer). */
static const char *write_conf(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/shmdb-conf-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* config_parse of "shmdbd" and the NULL-terminated flags. */
static enum config_result parse(struct config *c, char *err, size_t errlen,
				const char *const *flags)
{
	char *argv[32] = { "shmdbd" };
	int argc = 1;
	for (; flags && *flags && argc < 31; flags++)
		argv[argc++] = (char *)*flags;
	argv[argc] = NULL;
	return config_parse(c, argc, argv, err, errlen);
}

static void clear_env(void)
{
	for (int id = 0; id < SETTING_COUNT; id++) {
		char name[64] = "SHMDB_";
		size_t n = strlen(name);
		for (const char *s = settings[id].name; *s; s++)
			name[n++] = *s == '-' ? '_' : (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
		name[n] = 0;
		unsetenv(name);
	}
	unsetenv("SHMDB_CONFIG");
}

START_TEST(flag_over_env_over_file_over_default)
{
	clear_env();
	const char *file = write_conf("# a comment\n"
				      "arena-size = 2G\n"
				      "[shmdbd]\n"
				      "durability = sync ; inline comment\n"
				      "flush-interval-ms = 20\n"
				      "memory-high = 70%\n");
	setenv("SHMDB_ARENA_SIZE", "512M", 1);
	setenv("SHMDB_FLUSH_INTERVAL_MS", "30", 1);
	setenv("SHMDB_HUGEPAGES", "", 1); /* empty: unset */
	struct config c;
	char err[512];
	const char *flags[] = { "--config", file, "--flush-interval-ms", "40", NULL };
	ck_assert_int_eq(parse(&c, err, sizeof(err), flags), CONFIG_RUN);
	ck_assert_uint_eq(c.arena_size, 512ull << 20);
	ck_assert_int_eq(c.origin[SET_ARENA_SIZE].source, FROM_ENV);
	ck_assert_int_eq(c.durability, DURABILITY_SYNC);
	ck_assert_int_eq(c.origin[SET_DURABILITY].source, FROM_FILE);
	ck_assert_uint_eq(c.origin[SET_DURABILITY].line, 4);
	ck_assert_uint_eq(c.flush_ms, 40);
	ck_assert_int_eq(c.origin[SET_FLUSH_INTERVAL_MS].source, FROM_FLAG);
	ck_assert_uint_eq(c.memory_high_pct, 70);
	ck_assert_uint_eq(c.memory_critical_pct, CONFIG_DEFAULT_MEMORY_CRITICAL);
	ck_assert_int_eq(c.origin[SET_MEMORY_CRITICAL].source, FROM_DEFAULT);
	ck_assert_int_eq(c.hugepages, HUGEPAGES_AUTO);
	ck_assert_int_eq(c.origin[SET_HUGEPAGES].source, FROM_DEFAULT);
	ck_assert_str_eq(c.file, file);

	/* The file named by the environment when no flag names one. */
	setenv("SHMDB_CONFIG", file, 1);
	ck_assert_int_eq(parse(&c, err, sizeof(err), NULL), CONFIG_RUN);
	ck_assert_int_eq(c.durability, DURABILITY_SYNC);
	ck_assert_uint_eq(c.flush_ms, 30);
	unlink(file);
}
END_TEST

START_TEST(switches_from_every_source)
{
	clear_env();
	struct config c;
	char err[512];
	const char *file = write_conf("recover-truncate = yes\n");
	const char *flags[] = { "--config", file, NULL };
	ck_assert_int_eq(parse(&c, err, sizeof(err), flags), CONFIG_RUN);
	ck_assert(c.recover_truncate);
	setenv("SHMDB_RECOVER_TRUNCATE", "off", 1);
	ck_assert_int_eq(parse(&c, err, sizeof(err), flags), CONFIG_RUN);
	ck_assert(!c.recover_truncate);
	const char *flags2[] = { "--config", file, "--recover-truncate", NULL };
	ck_assert_int_eq(parse(&c, err, sizeof(err), flags2), CONFIG_RUN);
	ck_assert(c.recover_truncate);
	setenv("SHMDB_RECOVER_TRUNCATE", "maybe", 1);
	ck_assert_int_eq(parse(&c, err, sizeof(err), flags), CONFIG_ERROR);
	ck_assert_str_eq(err, "SHMDB_RECOVER_TRUNCATE: 'maybe' is not true or false "
			      "(yes/no, on/off, 1/0)");
	unlink(file);
}
END_TEST

/* A bad value in the file gets the flag's words, after file:line: key. */
START_TEST(bad_values_read_as_the_flag_would)
{
	static const char *const cases[][2] = {
		{ "arena-size", "12Q" }, { "arena-size", "512K" }, { "hugepages", "3M" },
		{ "numa-nodes", "a,b" }, { "writer-cpu", "-2" }, { "socket-mode", "999" },
		{ "durability", "maybe" }, { "flush-interval-ms", "0" },
		{ "checkpoint-every", "1K" }, { "log-segment-size", "8G" },
		{ "memory-high", "0%" }, { "memory-critical", "101" },
		{ "allow-group", "no-such-group-here" }, { "writer-idle-us", "x" },
	};
	clear_env();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128], flag[64], from_flag[512], from_file[512], want[512];
		struct config c;
		snprintf(text, sizeof(text), "# first\n%s = %s\n", cases[i][0], cases[i][1]);
		const char *file = write_conf(text);
		snprintf(flag, sizeof(flag), "--%s", cases[i][0]);
		const char *f1[] = { "--config", "/dev/null", flag, cases[i][1], NULL };
		const char *f2[] = { "--config", file, NULL };
		ck_assert_int_eq(parse(&c, from_flag, sizeof(from_flag), f1), CONFIG_ERROR);
		ck_assert_int_eq(parse(&c, from_file, sizeof(from_file), f2), CONFIG_ERROR);
		/* "--arena-size: WHY" against "FILE:2: arena-size: WHY" */
		const char *why = from_flag + strlen(flag) + 2;
		snprintf(want, sizeof(want), "%s:2: %s: %s", file, cases[i][0], why);
		ck_assert_str_eq(from_file, want);
		unlink(file);
	}
}
END_TEST

/* An SHMDB_ variable that names no setting is refused, as an unknown key
 * in the file is: a misspelling never leaves a setting at its default. */
START_TEST(misspelt_environment_is_refused)
{
	clear_env();
	struct config c;
	char err[512];
	setenv("SHMDB_ARENA_SIZ", "2G", 1);
	ck_assert_int_eq(parse(&c, err, sizeof(err), NULL), CONFIG_ERROR);
	ck_assert_msg(strstr(err, "SHMDB_ARENA_SIZ: no such setting"), "%s", err);
	unsetenv("SHMDB_ARENA_SIZ");
	setenv("SHMDB_ARENA_SIZE", "2G", 1);
	setenv("SHMDB_CONFIG", "/dev/null", 1);
	ck_assert_int_eq(parse(&c, err, sizeof(err), NULL), CONFIG_RUN);
	ck_assert_uint_eq(c.arena_size, 2ull << 30);
	clear_env();
}
END_TEST

START_TEST(bad_files_name_file_and_line)
{
	static const char *const cases[][2] = {
		{ "arena-size = 2G\nbogus = 1\n", ":2: unknown setting 'bogus'" },
		{ "arena-size = 2G\narena-size = 1G\n", ":2: arena-size set again (first on line 1)" },
		{ "[other]\narena-size = 2G\n", ":2: unknown section [other]" },
		{ "arena-size = 2G\njust words\n", ":2: not a 'setting = value' line" },
		{ "recover-truncate =\n", ":1: recover-truncate: '' is not true or false" },
		{ "memory-high = 95%\nmemory-critical = 90%\n", ":1: memory-high (95%) must be below" },
	};
	clear_env();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;
		char err[512];
		const char *file = write_conf(cases[i][0]);
		const char *flags[] = { "--config", file, NULL };
		ck_assert_int_eq(parse(&c, err, sizeof(err), flags), CONFIG_ERROR);
		ck_assert_msg(!strncmp(err, file, strlen(file)) && strstr(err, cases[i][1]),
			      "case %zu: '%s'", i, err);
		unlink(file);
	}
	/* A line too long for any setting. */
	char *text = malloc(20000);
	memset(text, 'x', 19998);
	memcpy(text, "data-dir = /", 12);
	text[19998] = '\n';
	text[19999] = 0;
	struct config c;
	char err[512];
	const char *file = write_conf(text);
	free(text);
	const char *flags[] = { "--config", file, NULL };
	ck_assert_int_eq(parse(&c, err, sizeof(err), flags), CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, ":1: line longer than"));
	unlink(file);
	/* A file named by flag or environment must exist. */
	const char *missing[] = { "--config", "/nonexistent/shmdbd.conf", NULL };
	ck_assert_int_eq(parse(&c, err, sizeof(err), missing), CONFIG_ERROR);
	ck_assert_str_eq(err, "config file /nonexistent/shmdbd.conf: No such file or directory");
	setenv("SHMDB_CONFIG", "/nonexistent/env.conf", 1);
	ck_assert_int_eq(parse(&c, err, sizeof(err), NULL), CONFIG_ERROR);
	ck_assert_str_eq(err, "config file /nonexistent/env.conf: No such file or directory");
}
END_TEST

/* The shipped example: every setting there, commented out at its default. */
START_TEST(example_config_has_every_setting_at_its_default)
{
	clear_env();
	FILE *in = fopen(SHMDB_EXAMPLE_CONFIG, "r");
	ck_assert_ptr_nonnull(in);
	char uncommented[64] = "/tmp/shmdb-conf-all-XXXXXX";
	int fd = mkstemp(uncommented);
	ck_assert_int_ge(fd, 0);
	FILE *out = fdopen(fd, "w");
	char line[1024];
	while (fgets(line, sizeof(line), in)) {
		/* "#arena-size = 1G" -> "arena-size = 1G"; prose stays a comment. */
		size_t key = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz-");
		bool setting = line[0] == '#' && key && !strncmp(line + 1 + key, " =", 2);
		fputs(setting ? line + 1 : line, out);
	}
	fclose(in);
	fclose(out);

	struct config def, ex;
	char err[512];
	const char *f_def[] = { "--config", "/dev/null", NULL };
	const char *f_ex[] = { "--config", uncommented, NULL };
	ck_assert_int_eq(parse(&def, err, sizeof(err), f_def), CONFIG_RUN);
	ck_assert_msg(parse(&ex, err, sizeof(err), f_ex) == CONFIG_RUN, "%s", err);
	for (int id = 0; id < SETTING_COUNT; id++) {
		char a[4200], b[4200];
		ck_assert_msg(ex.origin[id].source == FROM_FILE, "%s is not in the example",
			      settings[id].name);
		/* The example documents root's paths, the service's. */
		if (geteuid() != 0 && (id == SET_SOCKET || id == SET_DATA_DIR))
			continue;
		settings[id].show(&def, a, sizeof(a));
		settings[id].show(&ex, b, sizeof(b));
		ck_assert_msg(!strcmp(a, b), "%s: example %s, default %s", settings[id].name, b, a);
	}
	unlink(uncommented);
}
END_TEST

START_TEST(print_config_names_every_origin)
{
	clear_env();
	const char *file = write_conf("checkpoint-every = 1G\n");
	char out[8192], err[1024];
	const char *args[] = { "--config", file, "--durability", "sync", "--print-config", NULL };
	setenv("SHMDB_ARENA_SIZE", "64M", 1);
	ck_assert_int_eq(test_run(test_shmdbd_path, args, out, sizeof(out), err, sizeof(err)), 0);
	for (int id = 0; id < SETTING_COUNT; id++) {
		char want[128];
		snprintf(want, sizeof(want), "\n%s = ", settings[id].name);
		ck_assert_msg(strstr(out, want), "%s missing from:\n%s", settings[id].name, out);
	}
	char want[256];
	snprintf(want, sizeof(want), "checkpoint-every = 1G                    # %s:1\n", file);
	ck_assert_msg(strstr(out, want), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "durability = sync                        # --durability\n"));
	ck_assert_ptr_nonnull(strstr(out, "arena-size = 64M                         # SHMDB_ARENA_SIZE\n"));
	ck_assert_ptr_nonnull(strstr(out, "flush-interval-ms = 10                   # default\n"));
	unlink(file);
}
END_TEST

static unsigned socket_mode(const struct test_daemon *d)
{
	struct stat st;
	ck_assert_int_eq(stat(d->sock, &st), 0);
	return st.st_mode & 0777;
}

/* Real daemons: a setting from the file, the environment over it, a flag
 * over both. */
START_TEST(daemon_takes_file_then_env_then_flag)
{
	clear_env();
	const char *file = write_conf("[shmdbd]\nsocket-mode = 0660\n");
	struct test_daemon d;
	const char *a1[] = { "--config", file, NULL };
	ck_assert_int_eq(test_daemon_start(&d, a1), 0);
	ck_assert_uint_eq(socket_mode(&d), 0660);
	ck_assert_int_eq(test_daemon_stop(&d), 0);

	setenv("SHMDB_SOCKET_MODE", "0640", 1);
	ck_assert_int_eq(test_daemon_start(&d, a1), 0);
	ck_assert_uint_eq(socket_mode(&d), 0640);
	ck_assert_int_eq(test_daemon_stop(&d), 0);

	const char *a2[] = { "--config", file, "--socket-mode", "0604", NULL };
	ck_assert_int_eq(test_daemon_start(&d, a2), 0);
	ck_assert_uint_eq(socket_mode(&d), 0604);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
	unlink(file);
}
END_TEST

/* A daemon never starts on a file it only half understood. */
START_TEST(daemon_refuses_a_bad_file)
{
	clear_env();
	const char *file = write_conf("arena-size = 32M\nwriter-idle-us = 100\nflush = 5\n");
	struct test_daemon d;
	const char *args[] = { "--config", file, NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 2);
	struct stat st;
	ck_assert_int_ne(stat(d.sock, &st), 0);
	char log[1024], want[256];
	test_daemon_log(&d, log, sizeof(log));
	snprintf(want, sizeof(want), "shmdbd: %s:3: unknown setting 'flush'", file);
	ck_assert_msg(strstr(log, want), "%s", log);
	test_daemon_stop(&d);
	unlink(file);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("sources");
	tcase_add_test(tc, flag_over_env_over_file_over_default);
	tcase_add_test(tc, switches_from_every_source);
	tcase_add_test(tc, bad_values_read_as_the_flag_would);
	tcase_add_test(tc, bad_files_name_file_and_line);
	tcase_add_test(tc, misspelt_environment_is_refused);
	tcase_add_test(tc, example_config_has_every_setting_at_its_default);
	tcase_add_test(tc, print_config_names_every_origin);
	suite_add_tcase(s, tc);
	tc = tcase_create("daemon");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, daemon_takes_file_then_env_then_flag);
	tcase_add_test(tc, daemon_refuses_a_bad_file);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
