/*
 * test_attach.c - a client attaching to a real shmdbd: it sees the meta
 * segment and the arenas at their fixed offsets in one range, read-only and
 * pre-faulted; the arena pages are where the daemon says (node read back with
 * move_pages, page size from /proc/self/smaps). And a client facing a peer
 * that speaks a different format version, or lies about sizes, refuses it
 * with its own error and leaks nothing (the peer here is a forged answer on
 * a socket, not a daemon: it exists to say what no real daemon says).
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client_internal.h"
#include "harness.h"
#include "layout.h"
#include "proto.h"
#include "shmdb.h"

/* The "KernelPageSize" of the smaps entry starting at addr, in kB, or -1;
 * and its permission string into perms. */
static long smaps_page_kb(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0;
	long kb = -1;
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && strchr(line, ' ') - line < 40) {
			in = lo == (unsigned long)addr;
			if (in)
				memcpy(perms, p, 5);
		} else if (in && sscanf(line, "KernelPageSize: %ld kB", &kb) == 1) {
			break;
		}
	}
	fclose(f);
	return kb;
}

/* Every page of [addr, addr+len) in this process, by move_pages, must be
 * present and on `node`. */
static void expect_pages_on_node(const uint8_t *addr, size_t len, size_t page, int node)
{
	size_t n = len / page;
	void **pages = calloc(n, sizeof(void *));
	int *status = calloc(n, sizeof(int));
	for (size_t i = 0; i < n; i++)
		pages[i] = (void *)(addr + i * page);
	ck_assert_int_eq(move_pages(0, n, pages, NULL, status, 0), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(status[i] == node, "page %zu: status %d, want node %d", i, status[i], node);
	free(pages);
	free(status);
}

START_TEST(client_sees_meta_and_arenas)
{
	struct test_daemon d;
	ck_assert_int_eq(test_daemon_start(&d, (const char *const[]){ "--arena-size", "8M", NULL }), 0);
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);

	shmdb_info info;
	ck_assert_int_eq(shmdb_info_get(db, &info), 0);
	ck_assert_uint_eq(info.format_version, SHM_FORMAT_VERSION);
	ck_assert_int_eq((pid_t)info.daemon_pid, d.pid);
	ck_assert_uint_eq(info.arena_count, 1);
	ck_assert_uint_eq(info.sessions, 1);
	ck_assert_int_eq(info.running, 1);
	ck_assert_int_ge(info.writer_cpu, 0);
	ck_assert_uint_ne(info.generation, 0);

	size_t range_size;
	const uint8_t *base = shm_client_range(db, &range_size);
	const struct shm_meta *m = (const void *)base;
	ck_assert_uint_eq(m->magic, SHM_META_MAGIC);
	ck_assert_uint_eq(m->range_size, range_size);
	ck_assert_uint_eq((uintptr_t)base % m->range_align, 0);

	shmdb_arena_info a;
	ck_assert_int_eq(shmdb_arena_info_get(db, 0, &a), 0);
	ck_assert_int_eq(shmdb_arena_info_get(db, 1, &a), -ENOENT);
	ck_assert_int_eq(shmdb_arena_info_get(db, 0, &a), 0);
	ck_assert_uint_eq(a.size, 8ull << 20);
	ck_assert_int_eq(a.numa_node, 0);
	ck_assert(a.page_kind == SHMDB_PAGES_4K || a.page_kind == SHMDB_PAGES_4K_THP);
	ck_assert_uint_eq(a.page_size, 4096);
	ck_assert_uint_ge(a.used, sizeof(struct shm_arena_header));

	/* The arena at its fixed offset: its header says who it is. */
	const struct shm_arena_desc *ad = &m->arena_table[0];
	const struct shm_arena_header *h = (const void *)(base + ad->range_off);
	ck_assert_uint_eq(ad->range_off % m->range_align, 0);
	ck_assert_uint_le(ad->range_off + ad->size, range_size);
	ck_assert_uint_eq(h->magic, SHM_ARENA_MAGIC);
	ck_assert_uint_eq(h->index, 0);
	ck_assert_mem_eq(h->store_id, info.store_id, 16);

	/* Read-only, shared, 4 KiB pages, all present and on node 0. */
	char perms[5] = "";
	ck_assert_int_eq(smaps_page_kb(h, perms), 4);
	ck_assert_str_eq(perms, "r--s");
	ck_assert_int_eq(smaps_page_kb(base, perms), 4);
	ck_assert_str_eq(perms, "r--s");
	expect_pages_on_node((const uint8_t *)h, ad->size, 4096, 0);

	/* The session segment is this client's, read-write. */
	size_t ssize;
	struct shm_session_header *sh = shm_client_session(db, &ssize);
	ck_assert_uint_eq(sh->magic, SHM_SESSION_MAGIC);
	ck_assert_mem_eq(sh->store_id, info.store_id, 16);
	ck_assert_int_eq(smaps_page_kb(sh, perms), 4);
	ck_assert_str_eq(perms, "rw-s");

	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

/* Each client's range is its own reservation; handles are independent. */
START_TEST(two_handles_in_one_process)
{
	struct test_daemon d;
	ck_assert_int_eq(test_daemon_start(&d, NULL), 0);
	shmdb *a, *b;
	ck_assert_int_eq(shmdb_open(d.sock, &a), 0);
	ck_assert_int_eq(shmdb_open(d.sock, &b), 0);
	size_t la, lb;
	const uint8_t *ba = shm_client_range(a, &la), *bb = shm_client_range(b, &lb);
	ck_assert_ptr_ne(ba, bb);
	ck_assert_uint_eq(la, lb);
	ck_assert_mem_eq(ba, bb, sizeof(struct shm_meta) - 512); /* same store */
	shmdb_info ia, ib;
	shmdb_info_get(a, &ia);
	shmdb_info_get(b, &ib);
	ck_assert_uint_eq(ia.sessions, 2);
	shmdb_close(a);
	shmdb_close(b);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

START_TEST(open_argument_errors)
{
	shmdb *db = (shmdb *)1;
	ck_assert_int_eq(shmdb_open("/tmp/x", NULL), -EINVAL);
	ck_assert_int_eq(shmdb_open("", &db), -EINVAL);
	ck_assert_ptr_null(db);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	ck_assert_int_eq(shmdb_open(longp, &db), -ENAMETOOLONG);
	ck_assert_int_eq(shmdb_open("/tmp/definitely-no-shmdb-here.sock", &db), SHMDB_ENODAEMON);
	ck_assert_int_eq(shmdb_info_get(NULL, NULL), -EINVAL);
	shmdb_close(NULL);
}
END_TEST

/* ---- forged answers ----------------------------------------------------- */

enum forgery { FORGE_META_VERSION, FORGE_META_MAGIC, FORGE_PROTO_VERSION, FORGE_ARENA_VERSION,
	       FORGE_ARENA_SIZE, FORGE_FEWER_FDS, FORGE_ARENA_OFFSET, FORGE_WELCOME_MAGIC,
	       FORGE_STATUS };

static int memfd_of(size_t size)
{
	int fd = memfd_create("forged", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* Serve one connection on `path` with a store that is well-formed except for
 * the one thing `f` breaks. Runs in a child; exits when the client closes. */
static void forged_peer(const char *path, enum forgery f, int ready_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1))
		_exit(3);
	if (write(ready_fd, "r", 1) != 1)
		_exit(3);
	int c = accept(ls, NULL, NULL);
	struct shm_hello hello;
	if (c < 0 || recv(c, &hello, sizeof(hello), MSG_WAITALL) != sizeof(hello))
		_exit(3);

	const uint64_t align = 2 << 20, arena_size = 2 << 20;
	const uint64_t meta_size = shm_align_up(sizeof(struct shm_meta), 4096);
	int fds[4] = { memfd_of(meta_size), memfd_of(SHM_SESSION_SIZE), memfd_of(SHM_DOORBELL_SIZE),
		       memfd_of(arena_size) };
	struct shm_meta *m = mmap(NULL, meta_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	uint8_t *arena = mmap(NULL, arena_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[3], 0);
	struct shm_session_header *s = mmap(NULL, SHM_SESSION_SIZE, PROT_READ | PROT_WRITE,
					    MAP_SHARED, fds[1], 0);
	struct shm_doorbell *bell = mmap(NULL, SHM_DOORBELL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
					 fds[2], 0);
	bell->magic = SHM_DOORBELL_MAGIC;
	bell->format_version = SHM_FORMAT_VERSION;
	m->magic = f == FORGE_META_MAGIC ? 0x1234 : SHM_META_MAGIC;
	m->format_version = f == FORGE_META_VERSION ? SHM_FORMAT_VERSION + 1 : SHM_FORMAT_VERSION;
	m->arena_count = 1;
	m->meta_size = meta_size;
	m->range_size = shm_align_up(meta_size, align) + align + arena_size;
	m->range_align = align;
	m->arena_table_off = offsetof(struct shm_meta, arena_table);
	m->arena_table[0] = (struct shm_arena_desc){
		.range_off = shm_align_up(meta_size, align) + (f == FORGE_ARENA_OFFSET ? 2 * align : 0),
		.size = f == FORGE_ARENA_SIZE ? 2 * arena_size : arena_size,
		.page_size = 4096,
	};
	struct shm_arena_header *h = (void *)arena;
	h->magic = SHM_ARENA_MAGIC;
	h->format_version = f == FORGE_ARENA_VERSION ? SHM_FORMAT_VERSION + 7 : SHM_FORMAT_VERSION;
	h->size = arena_size;
	h->data_off = 64;
	s->magic = SHM_SESSION_MAGIC;
	s->format_version = SHM_FORMAT_VERSION;
	s->size = SHM_SESSION_SIZE;
	s->session_id = 9;
	s->reader_slots = SHM_READER_SLOTS;
	s->sq_size = SHM_SQ_SIZE;
	s->cq_entries = SHM_CQ_ENTRIES;

	struct shm_welcome w = {
		.magic = f == FORGE_WELCOME_MAGIC ? 0 : SHM_WELCOME_MAGIC,
		.proto_version = f == FORGE_PROTO_VERSION ? SHM_PROTO_VERSION + 1 : SHM_PROTO_VERSION,
		.status = f == FORGE_STATUS ? SHMDB_EREFUSED : 0,
		.nfds = 4,
		.session_id = 9,
		.range_size = m->range_size,
		.range_align = align,
		.meta_size = meta_size,
	};
	unsigned nfds = f == FORGE_FEWER_FDS ? 3 : 4;
	if (f == FORGE_STATUS)
		nfds = w.nfds = 0;
	shm_send_msg(c, &w, sizeof(w), fds, nfds);
	char b;
	while (read(c, &b, 1) > 0)
		;
	_exit(0);
}

static int open_forged(enum forgery f)
{
	char dir[] = "/tmp/shmdb-forged-XXXXXX";
	char path[SHMDB_SOCKET_PATH_MAX];
	int pipefd[2];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	if (pid == 0)
		forged_peer(path, f, pipefd[1]);
	char r;
	ck_assert_int_eq(test_read_full(pipefd[0], &r, 1, 10000), 0);

	/* Count our descriptors before and after: a refusal leaks none. */
	int probe_before = dup(0);
	close(probe_before);
	shmdb *db = NULL;
	int e = shmdb_open(path, &db);
	int probe_after = dup(0);
	close(probe_after);
	ck_assert_int_eq(probe_before, probe_after);
	ck_assert_ptr_null(db);

	ck_assert_int_eq(test_reap(pid, 10000), 0);
	unlink(path);
	rmdir(dir);
	close(pipefd[0]);
	close(pipefd[1]);
	return e;
}

START_TEST(refuses_foreign_versions)
{
	ck_assert_int_eq(open_forged(FORGE_META_VERSION), SHMDB_EVERSION);
	ck_assert_int_eq(open_forged(FORGE_META_MAGIC), SHMDB_EVERSION);
	ck_assert_int_eq(open_forged(FORGE_ARENA_VERSION), SHMDB_EVERSION);
	ck_assert_int_eq(open_forged(FORGE_PROTO_VERSION), SHMDB_EVERSION);
}
END_TEST

START_TEST(refuses_inconsistent_answers)
{
	ck_assert_int_eq(open_forged(FORGE_ARENA_SIZE), SHMDB_EPROTO);
	ck_assert_int_eq(open_forged(FORGE_FEWER_FDS), SHMDB_EPROTO);
	ck_assert_int_eq(open_forged(FORGE_ARENA_OFFSET), SHMDB_EPROTO);
	ck_assert_int_eq(open_forged(FORGE_WELCOME_MAGIC), SHMDB_EPROTO);
	ck_assert_int_eq(open_forged(FORGE_STATUS), SHMDB_EREFUSED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("attach");
	TCase *tc = tcase_create("attach");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, client_sees_meta_and_arenas);
	tcase_add_test(tc, two_handles_in_one_process);
	tcase_add_test(tc, open_argument_errors);
	tcase_add_test(tc, refuses_foreign_versions);
	tcase_add_test(tc, refuses_inconsistent_answers);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
