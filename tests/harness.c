/*
 * harness.c - starting and stopping real daemons for the tests (see
 * harness.h), and running programs to see what they print. Each daemon runs
 * in its own temporary directory; its stderr goes to a log file there, so a
 * failing test can show it.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char test_shmdbd_path[] = SHMDBD_PATH;
const char test_shmdb_tool_path[] = SHMDB_TOOL_PATH;

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static int has_flag(const char *const *args, const char *flag)
{
	for (; args && *args; args++)
		if (!strcmp(*args, flag))
			return 1;
	return 0;
}

/* exec shmdbd with defaults suited to tests; never returns. */
static void exec_daemon(const char *sock, const char *log, const char *const *args)
{
	const char *argv[64];
	int n = 0;
	argv[n++] = test_shmdbd_path;
	argv[n++] = "--socket";
	argv[n++] = sock;
	if (!has_flag(args, "--hugepages")) {
		argv[n++] = "--hugepages";
		argv[n++] = "off";
	}
	if (!has_flag(args, "--arena-size")) {
		argv[n++] = "--arena-size";
		argv[n++] = "16M";
	}
	for (; args && *args && n < 62; args++)
		argv[n++] = *args;
	argv[n] = NULL;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	execv(test_shmdbd_path, (char *const *)argv);
	_exit(127);
}

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

int test_daemon_start(struct test_daemon *d, const char *const *args)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/shmdb-test-XXXXXX");
	if (!mkdtemp(d->dir))
		return -1;
	chmod(d->dir, 0755);
	snprintf(d->sock, sizeof(d->sock), "%s/shmdb.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/shmdbd.log", d->dir);

	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0)
		exec_daemon(d->sock, d->log, args);

	for (int waited = 0; waited < 20000; waited += 5) {
		struct stat st;
		if (stat(d->sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		int wst;
		if (waitpid(d->pid, &wst, WNOHANG) == d->pid) {
			d->pid = 0;
			int code = status_code(wst);
			return code > 0 ? code : -1;
		}
		sleep_ms(5);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
	return -1;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 5) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return status_code(st);
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int test_daemon_run_again(const struct test_daemon *d, const char *const *args, int timeout_ms)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		exec_daemon(d->sock, d->log, args);
	return wait_exit(pid, timeout_ms);
}

static void remove_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(dh);
	rmdir(dir);
}

int test_daemon_stop(struct test_daemon *d)
{
	int code = 0;
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		code = wait_exit(d->pid, 10000);
		d->pid = 0;
	}
	if (d->dir[0])
		remove_dir(d->dir);
	return code;
}

int test_daemon_alive(const struct test_daemon *d)
{
	int st;
	return d->pid > 0 && waitpid(d->pid, &st, WNOHANG) == 0;
}

void test_daemon_log(const struct test_daemon *d, char *buf, size_t cap)
{
	buf[0] = 0;
	int fd = open(d->log, O_RDONLY);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
}

int test_in_child(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

int test_run(const char *prog, const char *const *args, char *out, size_t outcap, char *err,
	     size_t errcap)
{
	int po[2], pe[2];
	ck_assert_int_eq(pipe(po), 0);
	ck_assert_int_eq(pipe(pe), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char *argv[32] = { prog };
		int n = 1;
		for (; args && *args && n < 31; args++)
			argv[n++] = *args;
		argv[n] = NULL;
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	ssize_t n = read(po[0], out, outcap - 1), total = n > 0 ? n : 0;
	while (n > 0 && (size_t)total < outcap - 1 && (n = read(po[0], out + total, outcap - 1 - (size_t)total)) > 0)
		total += n;
	out[total] = 0;
	char rest[4096]; /* what does not fit is read and dropped, so the child never blocks */
	while (n > 0 && (n = read(po[0], rest, sizeof(rest))) > 0)
		;
	n = read(pe[0], err, errcap - 1);
	err[n > 0 ? n : 0] = 0;
	close(po[0]);
	close(pe[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
