/*
 * store.c - building the store at daemon start (see store.h).
 *
 * Layout: the range starts with the meta segment; arena i follows at the
 * next multiple of range_align, which is the largest arena page size and at
 * least 2 MiB, so every arena starts on a huge-page boundary in every process.
 *
 * Every segment is complete before it is sealed, and sealed before any
 * descriptor leaves the daemon (store_build returns only sealed segments).
 * The meta identity is written with plain stores: no client can map the
 * segment until the socket exists, which happens after store_build returns,
 * and the handshake's sendmsg/recvmsg pair orders those stores before any
 * client load.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <numa.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "huge_usage.h"
#include "proto.h"
#include "range.h"
#include "shmdb.h"

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int make_meta(struct store *s, uint64_t size, int node, char *err, size_t errlen)
{
	s->meta_fd = memfd_create("shmdb-meta", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->meta_fd < 0 || ftruncate(s->meta_fd, (off_t)size) < 0 ||
	    mmap(s->base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 s->meta_fd, 0) == MAP_FAILED) {
		int e = errno;
		snprintf(err, errlen, "meta segment: %s", strerror(e));
		return -e;
	}
	/* Like the arenas: place it before the first touch (the memset). */
	if (node >= 0)
		numa_tonode_memory(s->base, size, node);
	memset(s->base, 0, size);
	s->meta = (struct shm_meta *)s->base;
	s->meta->meta_size = size;
	return 0;
}

static void fill_identity(struct store *s, int writer_cpu)
{
	struct shm_meta *m = s->meta;
	m->magic = SHM_META_MAGIC;
	m->format_version = SHM_FORMAT_VERSION;
	m->arena_count = s->arena_count;
	m->range_size = s->range_size;
	m->range_align = s->range_align;
	m->started_ns = realtime_ns();
	m->generation = m->started_ns;
	if (getrandom(m->store_id, sizeof(m->store_id), 0) != sizeof(m->store_id)) {
		/* getrandom on a booted kernel does not fail for 16 bytes; if it
		 * ever did, time and pid still make the id unique enough. */
		uint64_t v[2] = { m->started_ns, (uint64_t)getpid() };
		memcpy(m->store_id, v, sizeof(v));
	}
	m->daemon_pid = (uint32_t)getpid();
	m->writer_cpu = writer_cpu;
	m->arena_table_off = offsetof(struct shm_meta, arena_table);
	m->daemon_state = SHM_STATE_STARTING;
}

static int make_arena(struct store *s, unsigned i, uint64_t off, char *err, size_t errlen)
{
	const struct arena_plan *p = &s->plan[i];
	uint8_t *addr = s->base + off;
	int fd = arena_create(p, i, addr, err, errlen);
	if (fd < 0)
		return fd;
	s->arena_fd[i] = fd;

	struct shm_arena_header *h = (struct shm_arena_header *)addr;
	h->magic = SHM_ARENA_MAGIC;
	h->format_version = SHM_FORMAT_VERSION;
	h->index = i;
	memcpy(h->store_id, s->meta->store_id, sizeof(h->store_id));
	h->size = p->size;
	h->data_off = shm_align_up(sizeof(*h), SHM_CACHELINE);

	struct shm_arena_desc *d = &s->meta->arena_table[i];
	d->range_off = off;
	d->size = p->size;
	d->used = h->data_off;
	d->numa_node = p->node;
	d->page_kind = p->page_kind;
	d->page_size = p->page_size;
	d->index = i;

	int e = seal_store_segment(fd);
	if (e)
		snprintf(err, errlen, "sealing arena %u: %s", i, strerror(-e));
	return e;
}

/* The doorbell: one page every client maps read-write, sealed against
 * resizing so that no client can make the daemon's accesses fault. */
static int make_doorbell(struct store *s, char *err, size_t errlen)
{
	s->doorbell_fd = memfd_create("shmdb-doorbell", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p = MAP_FAILED;
	if (s->doorbell_fd >= 0 && ftruncate(s->doorbell_fd, SHM_DOORBELL_SIZE) == 0)
		p = mmap(NULL, SHM_DOORBELL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			 s->doorbell_fd, 0);
	if (p == MAP_FAILED ||
	    fcntl(s->doorbell_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = errno;
		snprintf(err, errlen, "doorbell segment: %s", strerror(e));
		if (p != MAP_FAILED)
			munmap(p, SHM_DOORBELL_SIZE);
		return -e;
	}
	s->doorbell = p;
	s->doorbell->magic = SHM_DOORBELL_MAGIC;
	s->doorbell->format_version = SHM_FORMAT_VERSION;
	return 0;
}

int store_build(struct store *s, const struct config *c, const int *nodes, unsigned n,
		int writer_cpu, char *err, size_t errlen)
{
	struct hugepage_budget budget;
	int e;

	memset(s, 0, sizeof(*s));
	s->meta_fd = s->doorbell_fd = -1;
	for (unsigned i = 0; i < SHM_MAX_ARENAS; i++)
		s->arena_fd[i] = -1;
	if (n == 0 || n > SHM_MAX_ARENAS) {
		snprintf(err, errlen, "%u arenas: must be 1 to %u", n, SHM_MAX_ARENAS);
		return -EINVAL;
	}

	hugepage_budget_read(&budget);
	s->range_align = SHM_MIN_RANGE_ALIGN;
	for (unsigned i = 0; i < n; i++) {
		e = arena_plan(c, nodes[i], &budget, &s->plan[i], err, errlen);
		if (e)
			return e;
		if (s->plan[i].page_size > s->range_align)
			s->range_align = s->plan[i].page_size;
	}
	s->arena_count = n;

	uint64_t meta_size = shm_align_up(sizeof(struct shm_meta), 4096);
	uint64_t offs[SHM_MAX_ARENAS];
	uint64_t end = shm_align_up(meta_size, s->range_align);
	for (unsigned i = 0; i < n; i++) {
		offs[i] = end;
		end = shm_align_up(end + s->plan[i].size, s->range_align);
	}
	s->range_size = end;
	s->base = shm_reserve_range(s->range_size, s->range_align);
	if (!s->base) {
		e = errno;
		snprintf(err, errlen, "reserving %" PRIu64 " MiB of address space: %s",
			 s->range_size >> 20, strerror(e));
		return -e;
	}

	e = make_meta(s, meta_size, nodes[0], err, errlen);
	if (e)
		goto fail;
	fill_identity(s, writer_cpu);
	for (unsigned i = 0; i < n; i++) {
		e = make_arena(s, i, offs[i], err, errlen);
		if (e)
			goto fail;
	}
	huge_usage_publish(s, false); /* the arenas are populated: what they got */
	e = make_doorbell(s, err, errlen);
	if (e)
		goto fail;
	e = seal_store_segment(s->meta_fd);
	if (e) {
		snprintf(err, errlen, "sealing the meta segment: %s", strerror(-e));
		goto fail;
	}
	return 0;
fail:
	store_destroy(s);
	return e;
}

void store_destroy(struct store *s)
{
	if (s->base)
		munmap(s->base, s->range_size);
	if (s->meta_fd >= 0)
		close(s->meta_fd);
	if (s->doorbell)
		munmap(s->doorbell, SHM_DOORBELL_SIZE);
	if (s->doorbell_fd >= 0)
		close(s->doorbell_fd);
	for (unsigned i = 0; i < SHM_MAX_ARENAS; i++)
		if (s->arena_fd[i] >= 0)
			close(s->arena_fd[i]);
	memset(s, 0, sizeof(*s));
	s->meta_fd = s->doorbell_fd = -1;
	for (unsigned i = 0; i < SHM_MAX_ARENAS; i++)
		s->arena_fd[i] = -1;
}

unsigned store_fill_fds(const struct store *s, int *fds)
{
	fds[SHM_FD_META] = s->meta_fd;
	fds[SHM_FD_SESSION] = -1;
	fds[SHM_FD_DOORBELL] = s->doorbell_fd;
	for (unsigned i = 0; i < s->arena_count; i++)
		fds[SHM_FD_ARENA0 + i] = s->arena_fd[i];
	return SHM_FD_ARENA0 + s->arena_count;
}
