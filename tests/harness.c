/*
 * harness.c - starting and stopping real daemons for the tests (see
 * harness.h), running programs to see what they print, children and bounded
 * waits, the client calls the multi-process suites share, and raw access to
 * a session's rings. Each daemon runs in its own temporary directory; its
 * stderr goes to a log file there, so a failing test can show it.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "clock.h"
#include "layout.h"

const char test_shmdbd_path[] = SHMDBD_PATH;
const char test_shmdb_tool_path[] = SHMDB_TOOL_PATH;

uint64_t test_now_ms(void)
{
	return (uint64_t)shm_now_ms();
}

void test_sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void sleep_ms(int ms)
{
	test_sleep_us((long)ms * 1000);
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
	/* No config file (not the host's /etc/shmdb/shmdbd.conf) unless the
	 * test gives one. */
	if (!has_flag(args, "--config")) {
		argv[n++] = "--config";
		argv[n++] = "/dev/null";
	}
	/* Memory only unless the test asks for a data dir or a mode. */
	if (!has_flag(args, "--durability") && !has_flag(args, "--data-dir")) {
		argv[n++] = "--durability";
		argv[n++] = "none";
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

/* Wait up to timeout_ms for the child pid, then kill and reap it: 0 with
 * *st its raw status, -1 if it was killed for the time (*st says so), -2
 * if pid is not a child of ours. */
static int wait_bounded(pid_t pid, int timeout_ms, int *st)
{
	uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -2;
		if (test_now_ms() >= end) {
			/* Killed, the child ends at once: this wait is short. */
			kill(pid, SIGKILL);
			while (waitpid(pid, st, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		test_sleep_us(1000);
	}
}

int test_reap(pid_t pid, int timeout_ms)
{
	int st, r = wait_bounded(pid, timeout_ms, &st);
	return r ? r : status_code(st);
}

int test_daemon_run_again(const struct test_daemon *d, const char *const *args, int timeout_ms)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		exec_daemon(d->sock, d->log, args);
	int code = test_reap(pid, timeout_ms);
	return code < 0 ? -1 : code;
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
		code = test_reap(d->pid, 10000);
		if (code < 0) /* as documented: -1, also for a daemon reaped before */
			code = -1;
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
	int st = 0;
	if (wait_bounded(pid, TEST_CHILD_TIMEOUT_MS, &st) == -1)
		fprintf(stderr, "child %d still ran after %d ms: killed\n", (int)pid,
			TEST_CHILD_TIMEOUT_MS);
	return st;
}

int test_run_suite(Suite *s)
{
	return test_run_suite_case(s, NULL);
}

int test_run_suite_case(Suite *s, const char *tcase)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run(sr, NULL, tcase, CK_NORMAL);
	/* A case name that matches nothing runs nothing: a failure, not a pass. */
	int failed = srunner_ntests_failed(sr) || srunner_ntests_run(sr) == 0;
	srunner_free(sr);
	return failed ? 1 : 0;
}

int test_run(const char *prog, const char *const *args, char *out, size_t outcap, char *err,
	     size_t errcap)
{
	return test_run_within(prog, args, out, outcap, err, errcap, TEST_CHILD_TIMEOUT_MS);
}

int test_run_within(const char *prog, const char *const *args, char *out, size_t outcap,
		    char *err, size_t errcap, int timeout_ms)
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
		/* Kept across exec: a program that hangs ends, its pipes close,
		 * and the reads and the wait below return. */
		alarm((unsigned)(timeout_ms + 999) / 1000);
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
	int st = 0;
	wait_bounded(pid, timeout_ms, &st);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- children and bounded waits ---------------------------------------------- */

pid_t test_spawn(void (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	return pid;
}

int test_running(pid_t pid)
{
	/* WNOWAIT: a child that has ended stays to be reaped with its status. */
	siginfo_t info = { 0 };
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

/* Wait up to the deadline `end` for fd to be ready for `events`: 1, or 0
 * at the deadline or on an error. */
static int ready_by(int fd, short events, uint64_t end)
{
	for (;;) {
		uint64_t now = test_now_ms();
		if (now >= end)
			return 0;
		struct pollfd pfd = { .fd = fd, .events = events };
		int e = poll(&pfd, 1, (int)(end - now));
		if (e < 0 && errno == EINTR)
			continue;
		return e > 0;
	}
}

/* Move all n bytes between fd and p, reading if `events` is POLLIN, else
 * writing, within timeout_ms: 0, or -1. */
static int transfer_full(int fd, uint8_t *p, size_t n, short events, int timeout_ms)
{
	uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
	while (n) {
		if (!ready_by(fd, events, end))
			return -1;
		ssize_t k = events == POLLIN ? read(fd, p, n) : write(fd, p, n);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int test_write_full(int fd, const void *buf, size_t n, int timeout_ms)
{
	return transfer_full(fd, (uint8_t *)(uintptr_t)buf, n, POLLOUT, timeout_ms);
}

int test_read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	return transfer_full(fd, buf, n, POLLIN, timeout_ms);
}

int test_told_to_stop(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	return poll(&pfd, 1, 0) > 0;
}

/* ---- clients of a test daemon ------------------------------------------------ */

void test_start_daemon(struct test_daemon *d, const char *arena_size)
{
	const char *const args[] = { "--arena-size", arena_size, NULL };
	ck_assert_int_eq(test_daemon_start(d, args), 0);
}

shmdb *test_open(const struct test_daemon *d)
{
	shmdb *db = NULL;
	ck_assert_int_eq(shmdb_open(d->sock, &db), 0);
	return db;
}

shmdb *test_child_open(const struct test_daemon *d)
{
	shmdb *db = NULL;
	int e = shmdb_open(d->sock, &db);
	CHILD_REQUIRE(e == 0, 90);
	return db;
}

shmdb_table test_table(shmdb *db, const char *name)
{
	shmdb_table t = 0;
	ck_assert_int_eq(shmdb_table_open(db, name, SHMDB_CREATE, &t), 0);
	return t;
}

int test_commit_put(shmdb *db, shmdb_table t, const char *key, const void *val, size_t vlen,
		    uint64_t *ts)
{
	shmdb_wtxn *w;
	int e = shmdb_write_begin(db, &w);
	if (e)
		return e;
	e = shmdb_put(w, t, key, strlen(key), val, vlen);
	if (e) {
		shmdb_abort(w);
		return e;
	}
	return shmdb_commit(w, ts);
}

int test_read_key(shmdb *db, shmdb_table t, const char *key, void *buf, size_t cap, size_t *len)
{
	shmdb_rtxn *r;
	shmdb_val v;
	int e = shmdb_read_begin(db, &r);
	if (e)
		return e;
	e = shmdb_get(r, t, key, strlen(key), &v);
	if (!e) {
		*len = v.len;
		memcpy(buf, v.data, v.len < cap ? v.len : cap);
	}
	shmdb_read_end(r);
	return e;
}

int test_visible(shmdb *db, shmdb_table t, const char *key)
{
	char buf[8];
	size_t len;
	return test_read_key(db, t, key, buf, sizeof(buf), &len) == 0;
}

uint64_t test_commit_ts(shmdb *db)
{
	shmdb_stats st;
	ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
	return st.commit_ts;
}

void test_wait_sessions(shmdb *db, uint32_t n, int timeout_ms)
{
	shmdb_stats st = { 0 };
	uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
	do {
		ck_assert_int_eq(shmdb_stats_get(db, &st), 0);
		if (st.sessions == n)
			return;
		test_sleep_us(2000);
	} while (test_now_ms() < end);
	ck_assert_msg(0, "the daemon still counts %u sessions after %d ms, want %u", st.sessions,
		      timeout_ms, n);
}

/* Commit tag under prefix:tag through db and read it back. */
static void served_through(shmdb *db, shmdb_table t, const char *prefix, const char *tag)
{
	char key[96], buf[96];
	size_t len = 0;
	snprintf(key, sizeof(key), "%s:%s", prefix, tag);
	ck_assert_int_eq(test_commit_put(db, t, key, tag, strlen(tag), NULL), 0);
	ck_assert_int_eq(test_read_key(db, t, key, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, strlen(tag));
	ck_assert_mem_eq(buf, tag, len);
}

void test_assert_served(const struct test_daemon *d, const char *tag)
{
	ck_assert_msg(test_daemon_alive(d), "the daemon died (%s)", tag);
	shmdb *db = test_open(d);
	served_through(db, test_table(db, "served"), "served", tag);
	shmdb_close(db);
}

void test_assert_handle_served(shmdb *db, shmdb_table t, const char *tag)
{
	served_through(db, t, "bystander", tag);
}

/* ---- raw access to a session's rings ------------------------------------------ */

static struct shm_session_header *session_of(shmdb *db)
{
	size_t size;
	return shm_client_session(db, &size);
}

static uint8_t *sq_of(shmdb *db)
{
	return (uint8_t *)session_of(db) + SHM_SESSION_SQ_OFF;
}

void test_raw_record(shmdb *db, uint32_t len, uint16_t kind, uint16_t flags,
		     const void *payload, size_t plen, size_t advance)
{
	uint64_t pos = db->sq_tail & (SHM_SQ_SIZE - 1);
	CHILD_REQUIRE(pos + sizeof(struct shm_sqe_hdr) + plen <= SHM_SQ_SIZE, 100);
	struct shm_sqe_hdr h = { .len = len, .kind = kind, .flags = flags };
	memcpy(sq_of(db) + pos, &h, sizeof(h));
	if (plen)
		memcpy(sq_of(db) + pos + sizeof(h), payload, plen);
	db->sq_tail += advance;
}

void test_raw_chunk(shmdb *db, uint16_t flags, const void *payload, size_t plen)
{
	CHILD_REQUIRE(plen % 8 == 0, 101);
	size_t len = sizeof(struct shm_sqe_hdr) + plen;
	test_raw_record(db, (uint32_t)len, SHM_SQE_CHUNK, flags, payload, plen, len);
}

void test_raw_scribble(shmdb *db, uint64_t at, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sq_of(db)[(at + i) & (SHM_SQ_SIZE - 1)] = ((const uint8_t *)p)[i];
}

void test_raw_scribble_session(shmdb *db, uint64_t at, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)session_of(db))[(at + i) % SHM_SESSION_SQ_OFF] = ((const uint8_t *)p)[i];
}

void test_raw_scribble_doorbell(shmdb *db, uint64_t at, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)db->doorbell)[(at + i) % SHM_DOORBELL_SIZE] = ((const uint8_t *)p)[i];
}

/* As write.c's publish_tail: the tail with release order, a full fence,
 * then the writer's own bell if it may sleep. */
void test_raw_publish_at(shmdb *db, uint64_t tail)
{
	__atomic_store_n(&session_of(db)->sq_tail, tail, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&db->meta->writer_sleeping, __ATOMIC_RELAXED)) {
		__atomic_fetch_add(&db->doorbell->bell[0].ring, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, &db->doorbell->bell[0].ring, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
}

void test_raw_publish(shmdb *db)
{
	test_raw_publish_at(db, db->sq_tail);
}

uint64_t test_raw_tail(shmdb *db)
{
	return db->sq_tail;
}

uint64_t test_raw_head(shmdb *db)
{
	return __atomic_load_n(&session_of(db)->sq_head, __ATOMIC_ACQUIRE);
}

void test_raw_set_cq_head(shmdb *db, uint32_t v)
{
	__atomic_store_n(&session_of(db)->cq_head, v, __ATOMIC_RELEASE);
}

/* Book the next ticket as shmdb_commit_async does, so that shmdb_wait()
 * collects the completion of one raw transaction. */
static uint64_t raw_ticket(shmdb *db)
{
	pthread_mutex_lock(&db->sq_lock);
	pthread_mutex_lock(&db->cq_lock);
	uint64_t t = db->issued + 1;
	struct shm_result *res = &db->results[t % SHM_RESULTS];
	CHILD_REQUIRE(res->state == RESULT_FREE, 102);
	res->ticket = t;
	res->state = RESULT_PENDING;
	__atomic_store_n(&db->issued, t, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&db->cq_lock);
	pthread_mutex_unlock(&db->sq_lock);
	return t;
}

/* This session's n-th completion is at CQ index n - 1: raw transactions
 * are the only ones whose entries are looked at after shmdb_wait(). */
int test_raw_txn(shmdb *db, const void *buf, size_t len, uint64_t *commit_ts)
{
	uint64_t ticket = raw_ticket(db);
	test_raw_chunk(db, SHM_SQE_FIRST | SHM_SQE_LAST, buf, len);
	test_raw_publish(db);
	int status = shmdb_wait(db, ticket, commit_ts);
	const struct shm_cqe *cq =
		(const void *)((const uint8_t *)session_of(db) + SHM_SESSION_CQ_OFF);
	const struct shm_cqe *e = &cq[(ticket - 1) & (SHM_CQ_ENTRIES - 1)];
	CHILD_REQUIRE(e->ticket == ticket && e->status == status, 103);
	CHILD_REQUIRE(status != 0 || e->commit_ts == *commit_ts, 103);
	CHILD_REQUIRE(status == 0 || e->commit_ts == 0, 103);
	return status;
}

int test_raw_consumed(shmdb *db, int timeout_ms)
{
	uint64_t end = test_now_ms() + (uint64_t)timeout_ms;
	while (test_raw_head(db) != db->sq_tail) {
		if (test_now_ms() >= end)
			return 0;
		test_sleep_us(500);
	}
	return 1;
}

int test_session_dropped(shmdb *db, int timeout_ms)
{
	int fd = shm_client_socket(db);
	char b;
	/* The daemon sends nothing after the welcome: readable means closed. */
	if (!ready_by(fd, POLLIN, test_now_ms() + (uint64_t)timeout_ms))
		return 0;
	return recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}
