/*
 * arena.c - building an arena's memory (see arena.h).
 *
 * The order matters and is the point of this file:
 *   1. memfd_create (hugetlb with the page size asked for, or plain),
 *      ftruncate to a multiple of the page size;
 *   2. mmap shared, read-write, at the arena's fixed place in the range,
 *      without MAP_POPULATE: populating first would place pages before
 *      the policy exists;
 *   3. mbind MPOL_BIND to the node (for shmem this sets the file's shared
 *      policy; for hugetlb it is the mapping's, which is why the daemon,
 *      not a client, faults every page);
 *   4. MADV_HUGEPAGE on the 4K path, so THP may back it where the kernel
 *      allows shmem THP;
 *   5. MADV_POPULATE_WRITE faults every page in. Unlike touching the pages,
 *      it reports a shortage of huge pages as an error instead of SIGBUS;
 *   6. read back the node of the first, middle and last page.
 * Sealing comes after the caller has written the arena header.
 */
#include "arena.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/memfd.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>



#include "layout.h"
#include "shmdb.h"

#define MIB ((uint64_t)1 << 20)

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

static uint64_t global_available(unsigned kb)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%ukB/free_hugepages", kb);
	long f = read_long(path);
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%ukB/resv_hugepages", kb);
	long r = read_long(path);
	if (f < 0)
		return 0;
	if (r < 0 || r > f)
		r = 0;
	return (uint64_t)(f - r);
}

void hugepage_budget_read(struct hugepage_budget *b)
{
	b->global_2m = global_available(2048);
	b->global_1g = global_available(1048576);
}

/* Free huge pages of `kb` on `node`, capped by what is left system-wide. */
static uint64_t node_available(int node, unsigned kb, uint64_t global)
{
	if (node < 0)
		return global;
	char path[160];
	snprintf(path, sizeof(path),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-%ukB/free_hugepages", node, kb);
	long v = read_long(path);
	if (v < 0)
		return global;
	return (uint64_t)v < global ? (uint64_t)v : global;
}

/* shmem THP is possible for MADV_HUGEPAGE regions unless "never"/"deny". */
static int shmem_thp_possible(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strstr(buf, "[never]") && !strstr(buf, "[deny]") && buf[0];
}

static void plan_small_pages(struct arena_plan *p, uint64_t size)
{
	p->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	p->page_kind = shmem_thp_possible() ? SHMDB_PAGES_4K_THP : SHMDB_PAGES_4K;
	p->size = shm_align_up(size, 2 * MIB); /* THP wants 2 MiB multiples */
}

int arena_plan(const struct config *c, int node, struct hugepage_budget *b,
	       struct arena_plan *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->node = node;
	if (c->hugepages == HUGEPAGES_OFF) {
		plan_small_pages(p, c->arena_size);
		snprintf(p->note, sizeof(p->note), "--hugepages off");
		return 0;
	}
	int one_g = c->hugepages == HUGEPAGES_1G;
	unsigned kb = one_g ? 1048576 : 2048;
	uint64_t page = (uint64_t)kb * 1024;
	uint64_t size = shm_align_up(c->arena_size, page);
	uint64_t need = size / page;
	uint64_t *global = one_g ? &b->global_1g : &b->global_2m;
	uint64_t have = node_available(node, kb, *global);

	if (have >= need) {
		*global -= need;
		p->page_kind = one_g ? SHMDB_PAGES_1G : SHMDB_PAGES_2M;
		p->page_size = (uint32_t)page;
		p->size = size;
		snprintf(p->note, sizeof(p->note), "%" PRIu64 " huge pages of %s", need,
			 one_g ? "1 GiB" : "2 MiB");
		return 0;
	}
	if (c->hugepages == HUGEPAGES_AUTO) {
		plan_small_pages(p, c->arena_size);
		snprintf(p->note, sizeof(p->note),
			 "fallback: %" PRIu64 " free 2 MiB huge pages on node %d, %" PRIu64
			 " needed (reserve them in /proc/sys/vm/nr_hugepages); shmem THP %s",
			 have, node, need, p->page_kind == SHMDB_PAGES_4K_THP ? "advised" : "disabled by the kernel");
		return 0;
	}
	long total = read_long(one_g ? "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
				     : "/proc/sys/vm/nr_hugepages");
	snprintf(err, errlen,
		 "--hugepages %s: an arena of %" PRIu64 " MiB on node %d needs %" PRIu64
		 " free huge pages of %s, only %" PRIu64 " are; reserve at least %" PRIu64
		 " more (e.g. echo %" PRIu64 " > %s)",
		 one_g ? "1G" : "2M", size / MIB, node, need, one_g ? "1 GiB" : "2 MiB", have,
		 need - have, (uint64_t)(total > 0 ? total : 0) + need - have,
		 one_g ? "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages (not /proc/sys/vm/nr_hugepages, which counts 2 MiB pages)"
		       : "/proc/sys/vm/nr_hugepages");
	return -ENOMEM;
}

static int bind_to_node(void *addr, uint64_t size, int node)
{
	struct bitmask *bm = numa_allocate_nodemask();
	if (!bm)
		return -ENOMEM;
	numa_bitmask_setbit(bm, (unsigned)node);
	long r = mbind(addr, size, MPOL_BIND, bm->maskp, bm->size + 1, MPOL_MF_STRICT);
	int e = errno;
	numa_bitmask_free(bm);
	return r < 0 ? -e : 0;
}

int node_of_address(const void *addr)
{
	int node = -1;
	if (get_mempolicy(&node, NULL, 0, (void *)addr, MPOL_F_NODE | MPOL_F_ADDR) < 0)
		return -errno;
	return node;
}

static int check_placement(const uint8_t *addr, const struct arena_plan *p,
			   char *err, size_t errlen)
{
	uint64_t last = p->size - p->page_size;
	const uint64_t probes[3] = { 0, shm_align_down(last / 2, p->page_size), last };
	for (int i = 0; i < 3; i++) {
		int n = node_of_address(addr + probes[i]);
		if (n != p->node) {
			snprintf(err, errlen, "page at offset %" PRIu64 " is on node %d, not %d",
				 probes[i], n, p->node);
			return -EIO;
		}
	}
	return 0;
}

int arena_create(const struct arena_plan *p, unsigned index, void *addr,
		 char *err, size_t errlen)
{
	char name[32];
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	if (p->page_kind == SHMDB_PAGES_2M)
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
	else if (p->page_kind == SHMDB_PAGES_1G)
		flags |= MFD_HUGETLB | MFD_HUGE_1GB;
	snprintf(name, sizeof(name), "shmdb-arena-%u", index);

	int fd = memfd_create(name, flags);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "memfd_create: %s", strerror(e));
		return -e;
	}
	int e = 0;
	const char *what = NULL;
	if (ftruncate(fd, (off_t)p->size) < 0) {
		e = errno;
		what = "ftruncate";
		goto fail;
	}
	if (mmap(addr, p->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
		e = errno;
		what = "mmap";
		goto fail;
	}
	if (p->node >= 0 && (e = -bind_to_node(addr, p->size, p->node))) {
		what = "mbind";
		goto unmap;
	}
	if (p->page_kind == SHMDB_PAGES_4K_THP)
		madvise(addr, p->size, MADV_HUGEPAGE); /* advice only; 4K works too */
	if (madvise(addr, p->size, MADV_POPULATE_WRITE) < 0) {
		e = errno;
		what = "faulting in the arena (MADV_POPULATE_WRITE)";
		goto unmap;
	}
	if (p->node >= 0) {
		int r = check_placement(addr, p, err, errlen);
		if (r) {
			e = -r;
			goto remap;
		}
	}
	return fd;

unmap:
	snprintf(err, errlen, "%s: %s", what, strerror(e));
remap:
	/* Put the reservation back so the range stays whole. */
	mmap(addr, p->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	close(fd);
	return -e;
fail:
	snprintf(err, errlen, "%s: %s", what, strerror(e));
	close(fd);
	return -e;
}

int seal_store_segment(int fd)
{
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	return fcntl(fd, F_ADD_SEALS, seals) < 0 ? -errno : 0;
}
