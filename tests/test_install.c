/*
 * test_install.c - shmdb as an installed package: cmake --install into a
 * temporary prefix puts every file where it belongs (binaries, header,
 * libraries, shmdb.pc, the CMake package, the example config, the service
 * unit, man pages that render); examples/first.c built there with
 * pkg-config and with find_package runs against a real daemon; shmdbd
 * tells a service manager it is ready (sd_notify) once its socket serves;
 * and the Debian package (cpack -G DEB, built apart with the prefix /usr)
 * holds every file where Debian expects it, depends on what it needs, and
 * its scripts enable, start, stop and forget the service (tests/install/
 * deb.sh; case "deb", registered for plain builds only: a package of a
 * sanitizer build means nothing).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include "harness.h"

START_TEST(install_and_build_against_it)
{
	char dir[] = "/tmp/shmdb-install-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char prefix[64], out[64], cmd[1024];
	snprintf(prefix, sizeof(prefix), "%s/prefix", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	static char so[1 << 16], se[1 << 14];
	snprintf(cmd, sizeof(cmd), "%s/tests/install/check.sh '%s' '%s' '%s' '%s' '%s' 2>&1",
		 SHMDB_SOURCE_DIR, SHMDB_BINARY_DIR, prefix, SHMDB_SOURCE_DIR, out,
		 SHMDB_SANITIZE_FLAGS);
	int code = test_run("/bin/sh", (const char *const[]){ "-c", cmd, NULL }, so, sizeof(so),
			    se, sizeof(se));
	ck_assert_msg(code == 0, "check.sh failed (%d):\n%s", code, so);
	ck_assert_ptr_nonnull(strstr(so, "== done"));

	/* Both programs, built outside the tree, against a real daemon. */
	struct test_daemon d;
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	static const char *const built[] = { "first-pc", "first-cmake" };
	for (int i = 0; i < 2; i++) {
		char prog[128];
		snprintf(prog, sizeof(prog), "%s/%s", out, built[i]);
		code = test_run(prog, (const char *const[]){ d.sock, NULL }, so, sizeof(so), se,
				sizeof(se));
		ck_assert_msg(code == 0, "%s: %d\n%s%s", built[i], code, so, se);
	}
	ck_assert_int_eq(test_daemon_stop(&d), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(test_run("/bin/sh", (const char *const[]){ "-c", cmd, NULL }, so,
				  sizeof(so), se, sizeof(se)), 0);
}
END_TEST

/* A service manager's notify socket: READY=1 once the socket serves,
 * STOPPING=1 when it stops. */
START_TEST(tells_the_service_manager)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/shmdb-notify-%d", (int)getpid());
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = { .tv_sec = 10 };
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	struct test_daemon d;
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	unsetenv("NOTIFY_SOCKET");
	char msg[64] = "";
	ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
	ck_assert_int_gt(n, 0);
	msg[n] = 0;
	ck_assert_str_eq(msg, "READY=1");
	struct stat st;
	ck_assert_int_eq(stat(d.sock, &st), 0); /* ready means serving */
	ck_assert_int_eq(test_daemon_stop(&d), 0);
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	ck_assert_int_gt(n, 0);
	msg[n] = 0;
	ck_assert_str_eq(msg, "STOPPING=1");
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(debian_package)
{
	char dir[] = "/tmp/shmdb-deb-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char cmd[1024];
	static char so[1 << 16], se[1 << 14];
	snprintf(cmd, sizeof(cmd), "%s/tests/install/deb.sh '%s' '%s' 2>&1", SHMDB_SOURCE_DIR,
		 SHMDB_SOURCE_DIR, dir);
	/* A whole build and cpack: minutes on a slow host. */
	int code = test_run_within("/bin/sh", (const char *const[]){ "-c", cmd, NULL }, so,
				   sizeof(so), se, sizeof(se), 800 * 1000);
	ck_assert_msg(code == 0, "deb.sh failed (%d):\n%s", code, so);
	ck_assert_ptr_nonnull(strstr(so, "== done"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(test_run("/bin/sh", (const char *const[]){ "-c", cmd, NULL }, so,
				  sizeof(so), se, sizeof(se)), 0);
}
END_TEST

/* Whether the package's scripts can run here: root, and allowed a mount
 * namespace of its own (a container may forbid it). */
static int scripts_can_run(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "deb: skipped, not root (the scripts run in a mount namespace)\n");
		return 0;
	}
	if (system("unshare -m true >/dev/null 2>&1") != 0) {
		fprintf(stderr, "deb: skipped, no mount namespace allowed here (unshare -m)\n");
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	Suite *s = suite_create("install");
	TCase *tc = tcase_create("install");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, install_and_build_against_it);
	tcase_add_test(tc, tells_the_service_manager);
	suite_add_tcase(s, tc);
	TCase *deb = tcase_create("deb");
	tcase_set_timeout(deb, 900);
	tcase_add_test(deb, debian_package);
	suite_add_tcase(s, deb);
	if (only && !strcmp(only, "deb") && !scripts_can_run())
		return 77;
	return test_run_suite_case(s, only);
}
