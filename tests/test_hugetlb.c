/*
 * test_hugetlb.c - the huge-page path, against a real shmdbd: arenas backed
 * by hugetlb memfds of the size asked for, every page present in the client
 * and on the arena's node, and --hugepages auto choosing them when enough
 * are reserved.
 *
 * Usage: test_hugetlb 2M|1G. The program reserves the huge pages it needs
 * (root writes nr_hugepages) and gives them back at the end; when it cannot
 * get them it says why and exits 77, which ctest reports as skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client_internal.h"
#include "harness.h"
#include "layout.h"
#include "shmdb.h"

static unsigned long page_kb;        /* 2048 or 1048576 */
static const char *page_flag;        /* "2M" or "1G" */
static const char *arena_size_flag;  /* two pages' worth */
static char nr_path[128], free_path[128];

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	int ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

static long smaps_page_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0;
	long kb = -1;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strstr(line, " r"))
			in = lo == (unsigned long)addr;
		else if (in && sscanf(line, "KernelPageSize: %ld kB", &kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kb;
}

static void check_hugetlb_arena(const char *hugepages_mode)
{
	struct test_daemon d;
	const char *args[] = { "--hugepages", hugepages_mode, "--arena-size", arena_size_flag, NULL };
	ck_assert_int_eq(test_daemon_start(&d, args), 0);
	shmdb *db;
	ck_assert_int_eq(shmdb_open(d.sock, &db), 0);
	shmdb_arena_info a;
	ck_assert_int_eq(shmdb_arena_info_get(db, 0, &a), 0);
	ck_assert_uint_eq(a.page_kind, page_kb == 2048 ? SHMDB_PAGES_2M : SHMDB_PAGES_1G);
	ck_assert_uint_eq(a.page_size, page_kb * 1024);
	ck_assert_uint_eq(a.size, 2 * page_kb * 1024);
	ck_assert_int_eq(a.numa_node, 0);

	size_t range_size;
	const uint8_t *base = shm_client_range(db, &range_size);
	const struct shm_meta *m = (const void *)base;
	const uint8_t *arena = base + m->arena_table[0].range_off;
	ck_assert_uint_eq((uintptr_t)arena % (page_kb * 1024), 0);
	ck_assert_int_eq(smaps_page_kb(arena), (long)page_kb);
	for (int i = 0; i < 2; i++) {
		void *page = (void *)(arena + (size_t)i * page_kb * 1024);
		int status = -1;
		ck_assert_int_eq(move_pages(0, 1, &page, NULL, &status, 0), 0);
		ck_assert_int_eq(status, 0);
	}
	const struct shm_arena_header *h = (const void *)arena;
	ck_assert_uint_eq(h->magic, SHM_ARENA_MAGIC);
	/* The daemon measured its huge pages (smaps): every one, at start
	 * and again for a report. */
	uint64_t huge;
	ck_assert_int_eq(shmdb_arena_huge_bytes(db, 0, &huge), 0);
	ck_assert_uint_eq(huge, a.size);
	shmdb_report *r;
	ck_assert_int_eq(shmdb_report_get(db, &r), 0);
	shmdb_report_free(r);
	ck_assert_int_eq(shmdb_arena_huge_bytes(db, 0, &huge), 0);
	ck_assert_uint_eq(huge, a.size);
	ck_assert_int_eq(shmdb_arena_huge_bytes(db, m->arena_count, &huge), -ENOENT);

	/* Sealed like any arena: no write access by any route. */
	size_t len = 2 * page_kb * 1024;
	ck_assert_int_eq(mprotect((void *)arena, len, PROT_READ | PROT_WRITE), -1);
	char mf[96];
	snprintf(mf, sizeof(mf), "/proc/self/map_files/%lx-%lx", (unsigned long)arena,
		 (unsigned long)(arena + len));
	int fd = open(mf, O_RDWR);
	if (fd >= 0) {
		void *w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ck_assert_msg(w == MAP_FAILED, "a writable shared mapping of a sealed hugetlb arena");
		close(fd);
	}

	char log[4096];
	test_daemon_log(&d, log, sizeof(log));
	ck_assert_msg(strstr(log, page_flag), "log does not name %s pages: %s", page_flag, log);
	shmdb_close(db);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}

START_TEST(explicit_hugepages)
{
	check_hugetlb_arena(page_flag);
}
END_TEST

START_TEST(auto_uses_reserved_2m_pages)
{
	check_hugetlb_arena("auto");
}
END_TEST

/* Asking for more than is reserved fails at start, with the knob named. */
START_TEST(too_few_fails_at_start)
{
	struct test_daemon d;
	const char *args[] = { "--hugepages", page_flag, "--arena-size", "512G", NULL };
	int code = test_daemon_start(&d, args);
	ck_assert_int_eq(code, 1);
	char log[4096];
	test_daemon_log(&d, log, sizeof(log));
	ck_assert_msg(strstr(log, "nr_hugepages"), "%s", log);
	ck_assert_int_eq(test_daemon_stop(&d), 0);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc != 2 || (strcmp(argv[1], "2M") && strcmp(argv[1], "1G"))) {
		fprintf(stderr, "usage: test_hugetlb 2M|1G\n");
		return 2;
	}
	page_flag = argv[1];
	page_kb = strcmp(page_flag, "2M") ? 1048576 : 2048;
	arena_size_flag = page_kb == 2048 ? "4M" : "2G";
	snprintf(nr_path, sizeof(nr_path), "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages", page_kb);
	snprintf(free_path, sizeof(free_path), "/sys/kernel/mm/hugepages/hugepages-%lukB/free_hugepages", page_kb);

	const long need = 2;
	long orig = read_long(nr_path), have = read_long(free_path);
	if (orig < 0) {
		printf("SKIP: this kernel offers no %s huge pages (%s)\n", page_flag, nr_path);
		return 77;
	}
	if (have < need) {
		int e = write_long(nr_path, orig + (need - have));
		have = read_long(free_path);
		if (have < need) {
			printf("SKIP: cannot reserve %ld huge pages of %s (%s; %ld free after asking): %s\n",
			       need, page_flag, nr_path, have,
			       e ? strerror(-e) : "the kernel found no contiguous memory");
			write_long(nr_path, orig);
			return 77;
		}
	}

	Suite *s = suite_create("hugetlb");
	TCase *tc = tcase_create("hugetlb");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, explicit_hugepages);
	if (page_kb == 2048)
		tcase_add_test(tc, auto_uses_reserved_2m_pages);
	tcase_add_test(tc, too_few_fails_at_start);
	suite_add_tcase(s, tc);
	int rc = test_run_suite(s);
	write_long(nr_path, orig);
	return rc;
}
