/*
 * harness.h - what the multi-process tests share: starting a real shmdbd on
 * a temporary socket, stopping it, and running a piece of code in a child
 * process to see how it ends; for the suites with many client processes
 * (visibility, invariants, hostile, death), children with bounded waits,
 * the small client calls every one of them makes, and raw access to a
 * session's rings.
 */
#ifndef SHMDB_TEST_HARNESS_H
#define SHMDB_TEST_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "shmdb.h"

struct test_daemon {
	pid_t pid;
	char dir[64];     /* temporary directory holding socket, lock and log */
	char sock[SHMDB_SOCKET_PATH_MAX]; /* the socket path */
	char log[96];     /* the daemon's stderr */
};

/*
 * test_daemon_start - start shmdbd (the binary this build made) on a socket
 * in a new temporary directory, with "--hugepages off --arena-size 16M
 * --durability none" (memory only; "--data-dir" alone gives the daemon's
 * default mode) unless `args` (NULL-terminated extra flags, may be NULL)
 * say otherwise,
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
 * returns. Returns the raw wait status (use WIFSIGNALED/WTERMSIG etc). A
 * child still running after TEST_CHILD_TIMEOUT_MS is killed (SIGKILL, and
 * said on stderr).
 */
#define TEST_CHILD_TIMEOUT_MS 60000
int test_in_child(void (*fn)(void *), void *arg);

/*
 * test_run_suite - run every test of `s` in fork mode (each test in its own
 * process, whatever CK_FORK says) and return the exit status for main():
 * 0 if all passed, 1 otherwise.
 */
int test_run_suite(Suite *s);

/*
 * test_run_suite_case - as test_run_suite, for the test case named
 * `tcase` only (every case when NULL); a suite that ran no test fails.
 */
int test_run_suite_case(Suite *s, const char *tcase);

/*
 * test_run - run the program `prog` with `args` (NULL-terminated, may be
 * NULL), its stdout into out and its stderr into err (each NUL-terminated,
 * truncated to its cap; stderr is read after stdout closes, so it must fit
 * a pipe). Returns its exit status, or -1 if a signal ended it: SIGALRM
 * if it still ran after TEST_CHILD_TIMEOUT_MS.
 */
int test_run(const char *prog, const char *const *args, char *out, size_t outcap, char *err,
	     size_t errcap);

/* test_run with a bound of its own (a build, not a quick tool run). */
int test_run_within(const char *prog, const char *const *args, char *out, size_t outcap,
		    char *err, size_t errcap, int timeout_ms);

/* Path of the shmdbd and shmdb binaries of this build. */
extern const char test_shmdbd_path[];
extern const char test_shmdb_tool_path[];

/* ---- children and bounded waits ------------------------------------------
 *
 * A child of a test never uses ck_assert (a failure there would be reported
 * from the wrong process): it leaves with an exit status of its own, which
 * the parent judges. Every wait below has a bound, so that a hang is a
 * failure with a message, not a test killed by Check's timeout.
 */

/* In a child: leave with `code` (and say why on stderr) unless cond holds. */
#define CHILD_REQUIRE(cond, code)                                                       \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "child %d: %s:%d: failed: %s\n", (int)getpid(), \
				__FILE__, __LINE__, #cond);                             \
			_exit(code);                                                    \
		}                                                                       \
	} while (0)

/* Milliseconds on CLOCK_MONOTONIC, for deadlines. */
uint64_t test_now_ms(void);

/* Sleep `us` microseconds, resuming after signals. */
void test_sleep_us(long us);

/* Fork a child that runs fn(arg) and exits 0 when fn returns; stdio is
 * flushed first so that nothing buffered is written twice. */
pid_t test_spawn(void (*fn)(void *), void *arg);

/*
 * test_reap - wait up to timeout_ms for the child pid (this pid only, never
 * the daemon): its exit code, 128 + signal if a signal ended it, -1 if it
 * was still running (then it is killed and reaped), -2 if it is not a child.
 */
int test_reap(pid_t pid, int timeout_ms);

/* Whether the child pid is still running; one that has ended is left for
 * test_reap, which then has its status. */
int test_running(pid_t pid);

/* Write all n bytes to fd within timeout_ms: 0, or -1. */
int test_write_full(int fd, const void *buf, size_t n, int timeout_ms);

/* Read exactly n bytes from fd within timeout_ms: 0, or -1 (timeout, end of
 * file or error: a child that died before writing is seen at once if the
 * reader closed its copy of the write end). */
int test_read_full(int fd, void *buf, size_t n, int timeout_ms);

/* Whether the pipe end fd has something to read, or its writers closed it
 * (a child's "stop now"); does not wait. */
int test_told_to_stop(int fd);

/* ---- clients of a test daemon ---------------------------------------------- */

/* test_daemon_start with "--arena-size arena_size", asserting success. */
void test_start_daemon(struct test_daemon *d, const char *arena_size);

/* A handle on d, asserting success (test process), or leaving with 90
 * (child). */
shmdb *test_open(const struct test_daemon *d);
shmdb *test_child_open(const struct test_daemon *d);

/* The table `name`, created if missing, asserting success. */
shmdb_table test_table(shmdb *db, const char *name);

/* Commit one put of key (a string) = val; *ts (may be NULL) gets the
 * commit. Returns 0 or the error. */
int test_commit_put(shmdb *db, shmdb_table t, const char *key, const void *val, size_t vlen,
		    uint64_t *ts);

/* Read key in a new snapshot, copying at most cap bytes of its value and
 * its length into *len. Returns 0 or the error (-ENOENT if absent). */
int test_read_key(shmdb *db, shmdb_table t, const char *key, void *buf, size_t cap, size_t *len);

/* Whether key is visible to a new snapshot of db. */
int test_visible(shmdb *db, shmdb_table t, const char *key);

/* The store's last commit, as db sees it now (asserting). */
uint64_t test_commit_ts(shmdb *db);

/* Wait up to timeout_ms until the daemon counts n sessions; fails the test
 * otherwise. */
void test_wait_sessions(shmdb *db, uint32_t n, int timeout_ms);

/* Others are still served: the daemon runs, and a new client commits a key
 * ("served:" tag, in table "served") and reads it back. */
void test_assert_served(const struct test_daemon *d, const char *tag);

/* The same through a handle that was open all along ("bystander:" tag). */
void test_assert_handle_served(shmdb *db, shmdb_table t, const char *tag);

/* ---- raw access to a session's rings ---------------------------------------
 *
 * What a broken or hostile client can do to its own session, written past
 * libshmdb through its handle (client_internal.h). Children only: these
 * leave with an exit status (100..103) when the test itself is wrong.
 */

/* Write a record at the handle's private tail: a header saying len, kind
 * and flags, then plen payload bytes; the private tail then moves by
 * `advance` bytes. Nothing is published. */
void test_raw_record(shmdb *db, uint32_t len, uint16_t kind, uint16_t flags,
		     const void *payload, size_t plen, size_t advance);

/* A well-framed chunk record (plen a multiple of 8), not published. */
void test_raw_chunk(shmdb *db, uint16_t flags, const void *payload, size_t plen);

/* Publish `tail` as the session's sq_tail and wake a sleeping writer, as
 * libshmdb does; test_raw_publish publishes the handle's private tail. */
void test_raw_publish_at(shmdb *db, uint64_t tail);
void test_raw_publish(shmdb *db);

/* The handle's private submission tail and the session's published
 * sq_head. */
uint64_t test_raw_tail(shmdb *db);
uint64_t test_raw_head(shmdb *db);

/* The next number of a xorshift64 sequence in *state (not 0): a test's
 * own reproducible randomness. */
static inline uint64_t test_xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Write p[0..n) into the submission ring at offset `at` (wrapping), past
 * any framing: what a client may do to bytes it already published. */
void test_raw_scribble(shmdb *db, uint64_t at, const void *p, size_t n);

/* Write p[0..n) into the session segment before its submission ring (its
 * header, reader slots and completions), at `at` (wrapping there), or into
 * the doorbell page every session shares: what a client may do to them. */
void test_raw_scribble_session(shmdb *db, uint64_t at, const void *p, size_t n);
void test_raw_scribble_doorbell(shmdb *db, uint64_t at, const void *p, size_t n);

/* Store v as the session's cq_head (what a client claims to have taken). */
void test_raw_set_cq_head(shmdb *db, uint32_t v);

/*
 * test_raw_txn - submit buf[0..len) as one FIRST|LAST chunk and return its
 * status, collected by shmdb_wait() into *commit_ts (not NULL: what
 * shmdb_wait() says there is part of the check) and checked against the
 * completion entry the daemon wrote (ticket, status, a commit only on
 * success).
 */
int test_raw_txn(shmdb *db, const void *buf, size_t len, uint64_t *commit_ts);

/* Wait up to timeout_ms until the daemon has consumed the ring up to the
 * handle's private tail: 1, or 0. */
int test_raw_consumed(shmdb *db, int timeout_ms);

/* Whether the daemon closed this handle's session: its socket reads end of
 * file within timeout_ms. */
int test_session_dropped(shmdb *db, int timeout_ms);

#endif /* SHMDB_TEST_HARNESS_H */
