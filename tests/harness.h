/*
 * harness.h - what the multi-process tests share: starting a real shmdbd on
 * a temporary socket, stopping it, and running a piece of code in a child
 * process to see how it ends.
 */
#ifndef SHMDB_TEST_HARNESS_H
#define SHMDB_TEST_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <sys/types.h>

struct test_daemon {
	pid_t pid;
	char dir[64];     /* temporary directory holding socket, lock and log */
	char sock[108];   /* the socket path */
	char log[96];     /* the daemon's stderr */
};

/*
 * test_daemon_start - start shmdbd (the binary this build made) on a socket
 * in a new temporary directory, with "--hugepages off --arena-size 16M"
 * unless `args` (NULL-terminated extra flags, may be NULL) say otherwise,
 * and wait until its socket exists. The daemon gets SIGTERM if the test
 * process dies. Returns 0, or the daemon's exit status (> 0) if it exited
 * before serving, or -1 on a harness failure.
 */
int test_daemon_start(struct test_daemon *d, const char *const *args);

/* Start one more daemon on d's socket, in the foreground of a child, and
 * return its exit status after it exits, or -1 if it is still running after
 * `timeout_ms` (then it is killed). */
int test_daemon_run_again(const struct test_daemon *d, const char *const *args, int timeout_ms);

/*
 * test_daemon_stop - SIGTERM the daemon and wait for it. Returns its exit
 * status (0 for a clean stop), 128+signal if a signal killed it, -1 if it
 * did not stop within 10 s (then it is killed). Removes the temporary
 * directory.
 */
int test_daemon_stop(struct test_daemon *d);

/* Whether the daemon still runs (no reaping). */
int test_daemon_alive(const struct test_daemon *d);

/* The daemon's log so far, NUL-terminated, in buf (truncated to cap). */
void test_daemon_log(const struct test_daemon *d, char *buf, size_t cap);

/*
 * test_in_child - run fn(arg) in a forked child that exits 0 when fn
 * returns. Returns the raw wait status (use WIFSIGNALED/WTERMSIG etc).
 */
int test_in_child(void (*fn)(void *), void *arg);

/*
 * test_run_suite - run every test of `s` in fork mode (each test in its own
 * process, whatever CK_FORK says) and return the exit status for main():
 * 0 if all passed, 1 otherwise.
 */
int test_run_suite(Suite *s);

/*
 * test_run - run the program `prog` with `args` (NULL-terminated, may be
 * NULL), its stdout into out and its stderr into err (each NUL-terminated,
 * truncated to its cap; stderr is read after stdout closes, so it must fit
 * a pipe). Returns its exit status, or -1 if a signal ended it.
 */
int test_run(const char *prog, const char *const *args, char *out, size_t outcap, char *err,
	     size_t errcap);

/* Path of the shmdbd and shmdb binaries of this build. */
extern const char test_shmdbd_path[];
extern const char test_shmdb_tool_path[];

#endif /* SHMDB_TEST_HARNESS_H */
