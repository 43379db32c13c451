/*
 * test_daemon.c - shmdbd's life and its sessions, against real daemons:
 * several clients at once, clients killed or misbehaving, refused users,
 * one daemon per socket, clean stops, flag errors, and `shmdb status`.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "harness.h"
#include "layout.h"
#include "proto.h"
#include "shmdb.h"

static struct test_daemon d;

static uint32_t sessions_of(shmdb *db)
{
	shmdb_info info;
	ck_assert_int_eq(shmdb_info_get(db, &info), 0);
	return info.sessions;
}

/* A client in a child: attach, say so on `ready`, hold until every write
 * end of the `go` pipe is closed. */
static pid_t holding_client(int ready_fd, const int go[2])
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int go_fd = go[0];
		close(go[1]);
		shmdb *db;
		if (shmdb_open(d.sock, &db))
			_exit(3);
		if (write(ready_fd, "r", 1) != 1)
			_exit(4);
		char b;
		while (read(go_fd, &b, 1) > 0)
			;
		shmdb_close(db);
		_exit(0);
	}
	return pid;
}

/* Wait up to 10 s for the peer to close `fd`; returns 1 if it did. */
static int sees_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64];
	for (int i = 0; i < 100; i++) {
		if (poll(&p, 1, 100) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return 1;
		}
	}
	return 0;
}

START_TEST(clients_at_once_and_killed)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	int ready[2], go[2];
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid_t a = holding_client(ready[1], go);
	pid_t b = holding_client(ready[1], go);
	char r;
	ck_assert_int_eq(test_read_full(ready[0], &r, 1, 10000), 0);
	ck_assert_int_eq(test_read_full(ready[0], &r, 1, 10000), 0);
	close(go[0]);
	ck_assert_uint_eq(sessions_of(db), 3);

	/* One of them dies hard: the daemon ends its session, serves on. */
	kill(a, SIGKILL);
	waitpid(a, NULL, 0);
	test_wait_sessions(db, 2, 10000);
	close(go[1]);
	ck_assert_int_eq(test_reap(b, 10000), 0);
	test_wait_sessions(db, 1, 10000);
	shmdb *again;
	ck_assert_int_eq(shmdb_open(d.sock, &again), 0);
	ck_assert_uint_eq(sessions_of(db), 2);
	shmdb_close(again);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(misbehaving_connections_cost_nothing)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	shmdb *db;

	/* Garbage instead of a hello: dropped (a refusal, then EOF). */
	int s = shm_connect(d.sock);
	ck_assert_int_ge(s, 0);
	const char junk[16] = "GET / HTTP/1.0\r\n";
	ck_assert_int_eq(send(s, junk, sizeof(junk), 0), 16);
	ck_assert(sees_eof(s));
	close(s);

	/* Half a hello, then gone. */
	s = shm_connect(d.sock);
	struct shm_hello h = { .magic = SHM_HELLO_MAGIC, .proto_version = SHM_PROTO_VERSION };
	ck_assert_int_eq(send(s, &h, 8, 0), 8);
	close(s);

	/* A valid hello, then more bytes: the session is ended. */
	s = shm_connect(d.sock);
	struct shm_welcome w;
	int fds[SHM_MAX_FDS];
	unsigned nfds;
	ck_assert_int_eq(shm_handshake(s, &w, fds, &nfds), 0);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	ck_assert_int_eq(send(s, "x", 1, 0), 1);
	ck_assert(sees_eof(s));
	close(s);

	/* Hellos with their fields at random but the magic (the version and
	 * flags right now and then, so that some open a session or ask for the
	 * report), cut short or run on with junk, each left after a glance at
	 * the reply: refused or served, the daemon goes on. */
	uint64_t r = 0x2545f4914f6cdd1dull;
	for (int i = 0; i < 300; i++) {
		int c = shm_connect(d.sock);
		ck_assert_int_ge(c, 0);
		uint32_t msg[8];
		for (int k = 0; k < 8; k++)
			msg[k] = (uint32_t)test_xorshift(&r);
		msg[0] = SHM_HELLO_MAGIC;
		if (msg[7] % 2)
			msg[1] = SHM_PROTO_VERSION;
		if (msg[7] % 3 == 0)
			msg[2] %= 4;
		if (msg[7] % 5 < 3)
			msg[3] = 0;
		size_t len = 1 + test_xorshift(&r) % sizeof(msg);
		ck_assert_int_eq(send(c, msg, len, MSG_NOSIGNAL), (ssize_t)len);
		struct pollfd p = { .fd = c, .events = POLLIN };
		char reply[256];
		if (poll(&p, 1, 10) > 0)
			(void)!recv(c, reply, sizeof(reply), MSG_DONTWAIT);
		close(c);
	}

	/* Many connections that send nothing and leave. */
	for (int i = 0; i < 200; i++) {
		int c = shm_connect(d.sock);
		ck_assert_int_ge(c, 0);
		close(c);
	}

	/* One that sends nothing and stays: dropped after the handshake
	 * timeout, while everyone else is served meanwhile. */
	int silent = shm_connect(d.sock);
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	ck_assert(sees_eof(silent));
	close(silent);

	test_wait_sessions(db, 1, 10000);
	ck_assert(test_daemon_alive(&d));
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* In a child: become uid/gid 65534 (nobody/nogroup), then open. Returns
 * shmdb_open's result through the exit status (as -result). */
static int open_as_nobody(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(100);
		shmdb *db;
		int e = shmdb_open(d.sock, &db);
		_exit(e == 0 ? 0 : e == SHMDB_EREFUSED ? 1 : e == -EACCES ? 2 : 3);
	}
	int code = test_reap(pid, 10000);
	return code >= 0 && code < 128 ? code : -1;
}

START_TEST(admission)
{
	if (geteuid() != 0) {
		fprintf(stderr, "admission: needs root to switch uid; not run\n");
		return;
	}
	/* The socket lets anyone connect; SO_PEERCRED refuses the stranger. */
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--socket-mode", "0666", NULL }), 0);
	ck_assert_int_eq(open_as_nobody(), 1);
	ck_assert_int_eq(test_daemon_stop(&d), 0);

	/* Its group admitted. */
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--socket-mode", "0666",
				     "--allow-group", "65534", NULL }), 0);
	ck_assert_int_eq(open_as_nobody(), 0);
	ck_assert_int_eq(test_daemon_stop(&d), 0);

	/* The default socket mode keeps it out before it can even connect. */
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	ck_assert_int_eq(open_as_nobody(), 2);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(one_daemon_per_socket)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	ck_assert_int_eq(test_daemon_run_again(&d, NULL, 10000), 1);
	char log[8192];
	test_daemon_log(&d, log, sizeof(log));
	ck_assert_msg(strstr(log, "another shmdbd"), "%s", log);
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0); /* the first still serves */
	shmdb_close(db);

	/* The first dies without cleaning up: its socket file stays; a new
	 * daemon takes it over. */
	kill(d.pid, SIGKILL);
	waitpid(d.pid, NULL, 0);
	struct stat st;
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert_int_eq(shmdb_open(d.sock, &db), SHMDB_ENODAEMON);
	pid_t pid = fork();
	if (pid == 0) {
		int log = open(d.log, O_WRONLY | O_APPEND);
		dup2(log, 2);
		execl(test_shmdbd_path, test_shmdbd_path, "--socket", d.sock, "--hugepages", "off",
		      "--arena-size", "16M", (char *)NULL);
		_exit(127);
	}
	d.pid = pid;
	int e = SHMDB_ENODAEMON;
	for (int i = 0; i < 1000 && e == SHMDB_ENODAEMON; i++) {
		test_sleep_us(10000);
		e = shmdb_open(d.sock, &db);
	}
	ck_assert_int_eq(e, 0);
	shmdb_info info;
	shmdb_info_get(db, &info);
	ck_assert_int_eq((pid_t)info.daemon_pid, pid);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

static void stop_with(int sig)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	shmdb_info info;
	shmdb_info_get(db, &info);
	ck_assert_int_eq(info.running, 1);

	kill(d.pid, sig);
	ck_assert_int_eq(test_reap(d.pid, 10000), 0);
	d.pid = 0;
	struct stat sb;
	ck_assert_int_eq(stat(d.sock, &sb), -1); /* the socket file is gone */
	shmdb_info_get(db, &info);
	ck_assert_int_eq(info.running, 0);       /* told through the meta segment */
	ck_assert(sees_eof(shm_client_socket(db)));
	size_t size;
	const struct shm_meta *m = shm_client_range(db, &size);
	ck_assert_uint_eq(m->magic, SHM_META_MAGIC); /* still mapped and readable */
	shmdb_wtxn *w;
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), SHMDB_ESHUTDOWN);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

START_TEST(sigterm_stops_cleanly)
{
	stop_with(SIGTERM);
}
END_TEST

START_TEST(sigint_stops_cleanly)
{
	stop_with(SIGINT);
}
END_TEST

START_TEST(bad_flags_exit_2_with_one_line)
{
	static const char *const cases[][4] = {
		{ "--bogus", NULL, NULL, "--bogus" },
		{ "--arena-size", "12Q", NULL, "--arena-size" },
		{ "--arena-size", "0", NULL, "--arena-size" },
		{ "--hugepages", "3M", NULL, "--hugepages" },
		{ "--numa-nodes", "7", NULL, "--numa-nodes" },
		{ "--numa-nodes", "0,0", NULL, "--numa-nodes" },
		{ "--writer-cpu", "9999", NULL, "--writer-cpu" },
		{ "--writer-cpu", "x", NULL, "--writer-cpu" },
		{ "--writer-idle-us", "-1", NULL, "--writer-idle-us" },
		{ "--socket-mode", "999", NULL, "--socket-mode" },
		{ "--socket", NULL, NULL, "--socket" },
	};
	char out[4096], err[4096];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[4] = { cases[i][0], cases[i][1], NULL, NULL };
		int code = test_run(test_shmdbd_path, args, out, sizeof(out), err, sizeof(err));
		ck_assert_msg(code == 2, "%s %s: exit %d", cases[i][0], cases[i][1] ? cases[i][1] : "", code);
		ck_assert_msg(strstr(err, cases[i][3]), "'%s' does not name %s", err, cases[i][3]);
		char *nl = strchr(err, '\n');
		ck_assert_msg(nl && nl[1] == 0, "not one line: '%s'", err);
	}
	ck_assert_int_eq(test_run(test_shmdbd_path, (const char *const[]){ "--help", NULL }, out, sizeof(out),
			     err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out, "--arena-size"));
	ck_assert_int_eq(test_run(test_shmdbd_path, (const char *const[]){ "--version", NULL }, out, sizeof(out),
			     err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out, SHMDB_VERSION_STRING));
}
END_TEST

/* Too few huge pages for what is asked: refused at start, with the knob
 * and the count named; never a SIGBUS later. */
START_TEST(too_few_hugepages_fail_at_start)
{
	char out[4096], err[4096], sock[] = "/tmp/shmdb-test-hp-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(sock));
	char path[128];
	snprintf(path, sizeof(path), "%s/s.sock", sock);
	int code = test_run(test_shmdbd_path, (const char *const[]){ "--socket", path, "--hugepages", "2M",
			"--arena-size", "900G", NULL }, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(code, 1);
	ck_assert_msg(strstr(err, "/proc/sys/vm/nr_hugepages"), "%s", err);
	ck_assert_msg(strstr(err, "needs 460800 free huge pages"), "%s", err);
	snprintf(out, sizeof(out), "%s.lock", path);
	unlink(out);
	rmdir(sock);
}
END_TEST

START_TEST(status_tool)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	char out[8192], err[4096], pid[32];
	int code = test_run(test_shmdb_tool_path, (const char *const[]){ "status", "--socket", d.sock, NULL },
		       out, sizeof(out), err, sizeof(err));
	ck_assert_msg(code == 0, "%s", err);
	snprintf(pid, sizeof(pid), "daemon pid      %d (running)", (int)d.pid);
	ck_assert_msg(strstr(out, pid), "%s", out);
	char version[32];
	snprintf(version, sizeof(version), "format version  %u\n", SHM_FORMAT_VERSION);
	ck_assert_msg(strstr(out, version), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "sessions        1"));
	ck_assert_msg(strstr(out, "      0     0  4K") || strstr(out, "      0     0  4K+THP"), "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "16 MiB"));
	ck_assert_int_eq(test_daemon_stop(&d), 0);

	code = test_run(test_shmdb_tool_path, (const char *const[]){ "status", "--socket", "/tmp/no-such.sock", NULL },
		   out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(code, 1);
	ck_assert_ptr_nonnull(strstr(err, "no shmdbd is serving"));
	ck_assert_int_eq(test_run(test_shmdb_tool_path, (const char *const[]){ "frobnicate", NULL }, out,
			     sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(test_run(test_shmdb_tool_path, NULL, out, sizeof(out), err, sizeof(err)), 2);
}
END_TEST

/* put, get and drop through the tool: a dropped table is gone, and a
 * second drop, or one without its operand, says so. */
START_TEST(drop_tool)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	char out[4096], err[4096];
	const char *t = test_shmdb_tool_path;
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "put", "t", "k", "v", NULL },
			     out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "get", "t", "k", NULL },
			     out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "v\n");
	int code = test_run(t, (const char *const[]){ "--socket", d.sock, "drop", "t", NULL }, out,
		       sizeof(out), err, sizeof(err));
	ck_assert_msg(code == 0, "%s", err);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "get", "t", "k", NULL },
			     out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "no such table"), "%s", err);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "drop", "t", NULL }, out,
			     sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "no such table"), "%s", err);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "drop", NULL }, out,
			     sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* reserve through the tool: room for a count of keys in a new table, and
 * clear errors for a count over the limit and for one that is no number. */
START_TEST(reserve_tool)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	char out[4096], err[4096];
	const char *t = test_shmdb_tool_path;
	int code = test_run(t, (const char *const[]){ "--socket", d.sock, "reserve", "t", "100000", NULL },
			    out, sizeof(out), err, sizeof(err));
	ck_assert_msg(code == 0, "%s", err);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "put", "t", "k", "v", NULL },
			     out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "reserve", "t",
							     "300000000", NULL },
			     out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_msg(strstr(err, "at most"), "%s", err);
	/* Room the default 1 GiB arena cannot give: the table is unchanged. */
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "reserve", "t",
							     "200000000", NULL },
			     out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "no room"), "%s", err);
	/* A count refused before anything is created. */
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "reserve", "u",
							     "999999999999", NULL },
			     out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "get", "u", "k", NULL },
			     out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "no such table"), "%s", err);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "reserve", "t", "12x", NULL },
			     out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_msg(strstr(err, "not a number"), "%s", err);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "reserve", "t", "-1", NULL },
			     out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "reserve", "t", " -1", NULL },
			     out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "reserve", "t", NULL }, out,
			     sizeof(out), err, sizeof(err)), 2);
	ck_assert_int_eq(test_run(t, (const char *const[]){ "--socket", d.sock, "get", "t", "k", NULL },
			     out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "v\n");
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon");
	TCase *tc = tcase_create("daemon");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, clients_at_once_and_killed);
	tcase_add_test(tc, misbehaving_connections_cost_nothing);
	tcase_add_test(tc, admission);
	tcase_add_test(tc, one_daemon_per_socket);
	tcase_add_test(tc, sigterm_stops_cleanly);
	tcase_add_test(tc, sigint_stops_cleanly);
	tcase_add_test(tc, bad_flags_exit_2_with_one_line);
	tcase_add_test(tc, too_few_hugepages_fail_at_start);
	tcase_add_test(tc, status_tool);
	tcase_add_test(tc, drop_tool);
	tcase_add_test(tc, reserve_tool);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
