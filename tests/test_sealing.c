/*
 * test_sealing.c - no client can write the store by any route, against a
 * real shmdbd: a store to a mapped byte is SIGSEGV; mprotect, writable
 * shared mappings of the received descriptors or of reopened ones
 * (/proc/self/fd, /proc/self/map_files), write(2), ftruncate, fallocate,
 * /proc/self/mem and process_vm_writev all fail; the seals cannot be
 * changed. The session and doorbell segments are writable by the client but
 * cannot be resized.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client_internal.h"
#include "harness.h"
#include "layout.h"
#include "proto.h"
#include "shmdb.h"

#define STORE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
#define RESIZE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static struct test_daemon d;

static void start(void)
{
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
}

static void stop(void)
{
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

/* The daemon still serves: a new client attaches and commits. */
static void still_serving(void)
{
	shmdb *db;
	shmdb_table t;
	shmdb_wtxn *w;
	ck_assert(test_daemon_alive(&d));
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	ck_assert_int_eq(shmdb_table_open(db, "alive", SHMDB_CREATE, &t), 0);
	ck_assert_int_eq(shmdb_write_begin(db, &w), 0);
	ck_assert_int_eq(shmdb_put(w, t, "k", 1, "v", 1), 0);
	ck_assert_int_eq(shmdb_commit(w, NULL), 0);
	shmdb_close(db);
}

struct poke {
	int arena; /* 0: a byte of the meta segment; 1: a byte of arena 0 */
};

static void poke_store(void *arg)
{
	const struct poke *p = arg;
	/* The kernel's verdict, not a sanitizer's report of it. */
	signal(SIGSEGV, SIG_DFL);
	shmdb *db;
	if (shmdb_open(d.sock, &db))
		_exit(3);
	size_t size;
	uint8_t *base = (uint8_t *)shm_client_range(db, &size);
	const struct shm_meta *m = (const void *)base;
	volatile uint8_t *target = p->arena ? base + m->arena_table[0].range_off + 4096 : base + 200;
	*target = 1; /* must not survive */
	_exit(0);
}

START_TEST(store_to_mapped_byte_is_sigsegv)
{
	start();
	for (int arena = 0; arena < 2; arena++) {
		struct poke p = { .arena = arena };
		int st = test_in_child(poke_store, &p);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
			      "store to %s: status %#x", arena ? "arena" : "meta", st);
	}
	still_serving();
	stop();
}
END_TEST

START_TEST(mprotect_write_fails)
{
	start();
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	size_t size;
	uint8_t *base = (uint8_t *)shm_client_range(db, &size);
	const struct shm_meta *m = (const void *)base;
	ck_assert_int_eq(mprotect(base, 4096, PROT_READ | PROT_WRITE), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(mprotect(base + m->arena_table[0].range_off, m->arena_table[0].size,
				  PROT_READ | PROT_WRITE), -1);
	ck_assert_int_eq(errno, EACCES);
	shmdb_close(db);
	stop();
}
END_TEST

/* Everything that could change a store segment through its descriptor. */
static void expect_unwritable(int fd, const char *what)
{
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	size_t len = (size_t)st.st_size;

	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_msg(p == MAP_FAILED, "%s: writable shared mapping", what);
	ck_assert_int_eq(errno, EPERM);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert(p != MAP_FAILED);
	ck_assert_msg(mprotect(p, len, PROT_READ | PROT_WRITE) == -1, "%s: mprotect", what);
	munmap(p, len);

	char b = 1;
	ck_assert_msg(pwrite(fd, &b, 1, 0) == -1, "%s: pwrite", what);
	ck_assert_msg(ftruncate(fd, (off_t)len / 2) == -1, "%s: shrink", what);
	ck_assert_msg(ftruncate(fd, (off_t)len * 2) == -1, "%s: grow", what);
	ck_assert_msg(fallocate(fd, 0, 0, (off_t)len + 4096) == -1, "%s: fallocate", what);
	ck_assert_msg(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == -1,
		      "%s: punch hole", what);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS) & STORE_SEALS, STORE_SEALS);
	ck_assert_msg(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == -1, "%s: seals changed", what);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq((size_t)st.st_size, len);
}

/* A private writable mapping is allowed, but its writes stay private. */
static void expect_private_copy(int fd, const uint8_t *shared_view)
{
	uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ck_assert(p != MAP_FAILED);
	uint8_t before = shared_view[100];
	p[100] = (uint8_t)(before + 1);
	ck_assert_uint_eq(shared_view[100], before);
	munmap(p, 4096);
}

START_TEST(received_descriptors_are_sealed)
{
	start();
	int s = shm_connect(d.sock);
	ck_assert_int_ge(s, 0);
	struct shm_welcome w;
	int fds[SHM_MAX_FDS];
	unsigned nfds;
	ck_assert_int_eq(shm_handshake(s, &w, fds, &nfds), 0);
	ck_assert_uint_ge(nfds, SHM_FD_ARENA0 + 1);
	expect_unwritable(fds[SHM_FD_META], "meta");
	for (unsigned i = SHM_FD_ARENA0; i < nfds; i++)
		expect_unwritable(fds[i], "arena");

	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	size_t size;
	expect_private_copy(fds[SHM_FD_META], shm_client_range(db, &size));
	shmdb_close(db);

	/* The session and doorbell: writable, but their size is fixed. */
	int rw[2] = { fds[SHM_FD_SESSION], fds[SHM_FD_DOORBELL] };
	for (int i = 0; i < 2; i++) {
		struct stat st;
		ck_assert_int_eq(fstat(rw[i], &st), 0);
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, rw[i], 0);
		ck_assert(p != MAP_FAILED);
		((volatile uint8_t *)p)[4095] = 7;
		ck_assert_uint_eq(((volatile uint8_t *)p)[4095], 7);
		munmap(p, (size_t)st.st_size);
		ck_assert_int_eq(ftruncate(rw[i], st.st_size / 2), -1);
		ck_assert_int_eq(ftruncate(rw[i], st.st_size * 2), -1);
		ck_assert_int_eq(fcntl(rw[i], F_GET_SEALS) & RESIZE_SEALS, RESIZE_SEALS);
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	close(s);
	still_serving();
	stop();
}
END_TEST

/* Reopening through /proc gives a new open file, but the seals belong to
 * the inode: the reopened descriptor cannot write either. */
static void expect_reopen_unwritable(const char *path)
{
	int fd = open(path, O_RDWR);
	if (fd < 0) {
		ck_assert_msg(errno == EACCES || errno == EPERM, "%s: %s", path, strerror(errno));
		return;
	}
	expect_unwritable(fd, path);
	close(fd);
}

START_TEST(reopened_descriptors_are_sealed)
{
	start();
	int s = shm_connect(d.sock);
	struct shm_welcome w;
	int fds[SHM_MAX_FDS];
	unsigned nfds;
	ck_assert_int_eq(shm_handshake(s, &w, fds, &nfds), 0);
	char path[128];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[SHM_FD_META]);
	expect_reopen_unwritable(path);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[SHM_FD_ARENA0]);
	expect_reopen_unwritable(path);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	close(s);

	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	size_t size;
	const uint8_t *base = shm_client_range(db, &size);
	const struct shm_meta *m = (const void *)base;
	const uint8_t *arena = base + m->arena_table[0].range_off;
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)arena,
		 (unsigned long)(arena + m->arena_table[0].size));
	ck_assert_int_eq(access(path, F_OK), 0);
	expect_reopen_unwritable(path);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)base,
		 (unsigned long)(base + m->meta_size));
	ck_assert_int_eq(access(path, F_OK), 0);
	expect_reopen_unwritable(path);
	shmdb_close(db);
	still_serving();
	stop();
}
END_TEST

/* /proc/self/mem (FOLL_FORCE) and process_vm_writev cannot write it either. */
START_TEST(forced_writes_fail)
{
	start();
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	size_t size;
	const volatile uint8_t *base = shm_client_range(db, &size);
	const struct shm_meta *m = (const void *)(uintptr_t)base;
	const volatile uint8_t *targets[2] = { base, base + m->arena_table[0].range_off + 4096 };
	int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (mem < 0)
		ck_assert_msg(errno == EACCES || errno == EPERM, "/proc/self/mem: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		uint8_t was = *targets[i], b = (uint8_t)~was;
		if (mem >= 0) {
			ck_assert_int_eq(pwrite(mem, &b, 1, (off_t)(uintptr_t)targets[i]), -1);
			ck_assert_uint_eq(*targets[i], was);
		}
		struct iovec local = { .iov_base = &b, .iov_len = 1 };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)targets[i], .iov_len = 1 };
		ck_assert_int_eq(process_vm_writev(getpid(), &local, 1, &remote, 1, 0), -1);
		ck_assert_int_eq(errno, EFAULT);
		ck_assert_uint_eq(*targets[i], was);
	}
	if (mem >= 0)
		close(mem);
	shmdb_close(db);
	still_serving();
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sealing");
	TCase *tc = tcase_create("sealing");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, store_to_mapped_byte_is_sigsegv);
	tcase_add_test(tc, mprotect_write_fails);
	tcase_add_test(tc, received_descriptors_are_sealed);
	tcase_add_test(tc, reopened_descriptors_are_sealed);
	tcase_add_test(tc, forced_writes_fail);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
