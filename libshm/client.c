/*
 * client.c - attaching to a store: shmdb_open(), shmdb_close(), the
 * readers of the meta segment (identity, arenas, statistics). An open
 * handle is on the process's list (handles.c) from the end of shmdb_open()
 * until shmdb_close() begins; then the closing thread's reader slots are
 * released (read.c). Neither module calls back into this one.
 *
 * shmdb_open() connects, handshakes (proto.c), reserves one PROT_NONE range
 * aligned to the store's range alignment, and maps inside it with MAP_FIXED:
 * the meta segment at offset 0 and each arena at its table offset, all
 * read-only and pre-faulted so that later reads take no page fault.
 * Everything the daemon sent is checked before it is used: sizes against fstat(), offsets
 * against the range, magics, format versions and the store id in every
 * segment but the doorbell page, which any client may write (attach says
 * why). The session segment and the doorbell page are mapped read-write
 * outside the range. The received descriptors are closed once mapped; the
 * socket stays open as the session's lifeline.
 *
 * Ordering: fields of the meta segment that change while clients are
 * attached (daemon_state, sessions, arena used) are read with relaxed atomic
 * loads: they are statistics and flags with no data published behind them.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client_internal.h"
#include "clock.h"
#include "handles.h"
#include "layout.h"
#include "proto.h"
#include "range.h"
#include "read.h"
#include "shmdb.h"

#define SHM_MAX_RANGE (1ull << 46) /* 64 TiB: more than any machine maps */
#define SHM_MAX_ALIGN (1ull << 30) /* the largest huge page */

static int fd_size(int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int map_fixed_ro(uint8_t *addr, size_t len, int fd)
{
	void *p = mmap(addr, len, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0);
	return p == MAP_FAILED ? -errno : 0;
}

static int welcome_sane(const struct shm_welcome *w)
{
	uint64_t a = w->range_align;
	if (a < 4096 || a > SHM_MAX_ALIGN || (a & (a - 1)))
		return 0;
	if (w->range_size == 0 || w->range_size > SHM_MAX_RANGE || w->range_size % a)
		return 0;
	if (w->meta_size < sizeof(struct shm_meta) || w->meta_size % 4096 ||
	    w->meta_size > w->range_size)
		return 0;
	return w->nfds >= SHM_FD_ARENA0 + 1 && w->nfds <= SHM_MAX_FDS;
}

static int check_meta(const struct shm_meta *m, const struct shm_welcome *w)
{
	if (m->magic != SHM_META_MAGIC || m->format_version != SHM_FORMAT_VERSION)
		return SHMDB_EVERSION;
	if (m->meta_size != w->meta_size || m->range_size != w->range_size ||
	    m->range_align != w->range_align ||
	    m->arena_table_off != offsetof(struct shm_meta, arena_table) ||
	    m->arena_count == 0 || m->arena_count > SHM_MAX_ARENAS ||
	    m->arena_count != w->nfds - SHM_FD_ARENA0)
		return SHMDB_EPROTO;
	return 0;
}

/* Check arena i's table entry against the range and its descriptor, map it,
 * and check the header it begins with. `*end` is where the previous arena
 * ended; arenas lie in increasing, non-overlapping order. */
static int map_arena(struct shmdb *db, uint32_t i, int fd, uint64_t *end)
{
	struct shm_arena_desc d = db->meta->arena_table[i];
	uint64_t fsize = 0;
	int err = fd_size(fd, &fsize);
	if (err)
		return err;
	if (d.index != i || d.size < 4096 || d.size != fsize ||
	    d.range_off < *end || d.range_off % db->meta->range_align ||
	    d.size > db->range_size || d.range_off > db->range_size - d.size)
		return SHMDB_EPROTO;
	err = map_fixed_ro(db->base + d.range_off, d.size, fd);
	if (err)
		return err;
	const struct shm_arena_header *h = (const void *)(db->base + d.range_off);
	if (h->magic != SHM_ARENA_MAGIC || h->format_version != SHM_FORMAT_VERSION)
		return SHMDB_EVERSION;
	if (h->index != i || h->size != d.size || h->data_off > d.size ||
	    memcmp(h->store_id, db->meta->store_id, sizeof(h->store_id)))
		return SHMDB_EPROTO;
	*end = d.range_off + d.size;
	return 0;
}

/* Every segment begins with a u64 magic and a u32 format version
 * (layout.h), whatever its struct. */
struct segment_head {
	uint64_t magic;
	uint32_t format_version;
};
_Static_assert(SHM_BATCH_BUCKETS == SHMDB_BATCH_BUCKETS, "batch buckets");
_Static_assert(offsetof(struct shm_session_header, format_version) ==
	       offsetof(struct segment_head, format_version), "session head");

/* Map the whole of a read-write segment whose descriptor must be `size`
 * bytes. *seg is the mapping once there is one, NULL before, so that
 * detach() unmaps it even when a check fails. */
static int map_rw(int fd, uint64_t size, void **seg)
{
	uint64_t fsize = 0;

	*seg = NULL;
	int err = fd_size(fd, &fsize);
	if (err)
		return err;
	if (fsize != size)
		return SHMDB_EPROTO;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*seg = p;
	return 0;
}

/* Map the session segment and check its header: its magic and format
 * version, then the rest. */
static int map_session(struct shmdb *db, int fd)
{
	void *seg;
	struct segment_head head;
	int err = map_rw(fd, SHM_SESSION_SIZE, &seg);
	db->session = seg;
	db->session_size = SHM_SESSION_SIZE;
	if (err)
		return err;
	memcpy(&head, seg, sizeof(head));
	if (head.magic != SHM_SESSION_MAGIC || head.format_version != SHM_FORMAT_VERSION)
		return SHMDB_EVERSION;
	const struct shm_session_header *h = db->session;
	if (h->size != SHM_SESSION_SIZE || h->session_id != db->session_id ||
	    h->reader_slots != SHM_READER_SLOTS || h->sq_size != SHM_SQ_SIZE ||
	    h->cq_entries != SHM_CQ_ENTRIES ||
	    memcmp(h->store_id, db->meta->store_id, sizeof(h->store_id)))
		return SHMDB_EPROTO;
	return 0;
}

static int attach(struct shmdb *db, const struct shm_welcome *w, const int *fds)
{
	uint64_t meta_fsize = 0;
	int err;

	if (!welcome_sane(w))
		return SHMDB_EPROTO;
	err = fd_size(fds[SHM_FD_META], &meta_fsize);
	if (err)
		return err;
	if (meta_fsize != w->meta_size)
		return SHMDB_EPROTO;

	db->base = shm_reserve_range(w->range_size, w->range_align);
	if (!db->base)
		return -ENOMEM;
	db->range_size = w->range_size;
	err = map_fixed_ro(db->base, w->meta_size, fds[SHM_FD_META]);
	if (err)
		return err;
	db->meta = (const struct shm_meta *)db->base;
	err = check_meta(db->meta, w);
	if (err)
		return err;

	uint64_t end = w->meta_size;
	for (uint32_t i = 0; i < db->meta->arena_count; i++) {
		err = map_arena(db, i, fds[SHM_FD_ARENA0 + i], &end);
		if (err)
			return err;
	}
	err = map_session(db, fds[SHM_FD_SESSION]);
	if (err)
		return err;
	/* The doorbell's head is not checked: every client may write the
	 * page, so a check of it would let one client lock out every client
	 * after it. The meta segment's version, sealed, stands for it. */
	void *bell;
	err = map_rw(fds[SHM_FD_DOORBELL], SHM_DOORBELL_SIZE, &bell);
	db->doorbell = bell;
	return err;
}

/* Register the process for the writer's MEMBARRIER_CMD_GLOBAL_EXPEDITED
 * once; 1 if it worked, so snapshots need no fence of their own. */
static pthread_once_t membarrier_once = PTHREAD_ONCE_INIT;
static int membarrier_ok;

static void register_membarrier(void)
{
	membarrier_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
}

static void init_private(struct shmdb *db)
{
	pthread_once(&membarrier_once, register_membarrier);
	db->reader_fence = !membarrier_ok;
	for (unsigned i = 0; i < SHM_READER_SLOTS; i++) {
		struct shmdb_rtxn *r = &db->readers[i];
		r->db = db;
		r->base = db->base;
		r->meta = db->meta;
		r->slot = (struct shm_reader_slot *)((uint8_t *)db->session + SHM_SESSION_SLOTS_OFF) + i;
	}
	pthread_mutex_init(&db->sq_lock, NULL);
	pthread_mutex_init(&db->cq_lock, NULL);
	shm_pool_init(db);
}

static void detach(struct shmdb *db)
{
	if (db->doorbell)
		munmap(db->doorbell, SHM_DOORBELL_SIZE);
	if (db->session)
		munmap(db->session, db->session_size);
	if (db->base)
		munmap(db->base, db->range_size);
	if (db->sock >= 0)
		close(db->sock);
	free(db->results);
	free(db);
}

int shmdb_open(const char *socket_path, shmdb **out)
{
	char path[SHMDB_SOCKET_PATH_MAX];
	struct shm_welcome w;
	int fds[SHM_MAX_FDS];
	unsigned nfds = 0;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!socket_path) {
		err = shmdb_default_socket(path, sizeof(path));
		if (err)
			return err;
		socket_path = path;
	}

	struct shmdb *db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->results = calloc(SHM_RESULTS, sizeof(*db->results));
	if (!db->results) {
		free(db);
		return -ENOMEM;
	}
	db->sock = shm_connect(socket_path);
	if (db->sock < 0) {
		err = db->sock;
		db->sock = -1;
		detach(db);
		return err;
	}
	err = shm_handshake(db->sock, &w, fds, &nfds);
	if (err) {
		detach(db);
		return err;
	}
	db->session_id = w.session_id;
	snprintf(db->socket_path, sizeof(db->socket_path), "%s", socket_path);
	err = attach(db, &w, fds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (err) {
		detach(db);
		return err;
	}
	init_private(db);
	shm_handles_add(db);
	*out = db;
	return 0;
}

void shmdb_close(shmdb *db)
{
	if (!db)
		return;
	shm_handles_remove(db);
	shm_readers_forget(db);
	pthread_mutex_destroy(&db->sq_lock);
	pthread_mutex_destroy(&db->cq_lock);
	shm_pool_destroy(db);
	detach(db);
}

int shm_client_daemon_gone(shmdb *db)
{
	if (__atomic_load_n(&db->meta->daemon_state, __ATOMIC_RELAXED) != SHM_STATE_RUNNING)
		return 1;
	struct pollfd p = { .fd = db->sock, .events = POLLIN };
	/* The daemon sends nothing after the welcome: readable means closed. */
	return poll(&p, 1, 0) > 0;
}

int shmdb_stats_get(shmdb *db, shmdb_stats *st)
{
	if (!db || !st)
		return -EINVAL;
	const struct shm_meta *m = db->meta;
	memset(st, 0, sizeof(*st));
	st->commit_ts = __atomic_load_n(&m->commit_ts, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < m->arena_count; i++) {
		st->mem_used += __atomic_load_n(&m->arena_table[i].used, __ATOMIC_RELAXED);
		st->mem_total += m->arena_table[i].size;
	}
	uint64_t oldest = __atomic_load_n(&m->oldest_snapshot, __ATOMIC_RELAXED);
	st->oldest_snapshot = oldest && oldest <= st->commit_ts ? oldest : st->commit_ts;
	st->sessions = __atomic_load_n(&m->sessions, __ATOMIC_RELAXED);
	st->mem_retired = __atomic_load_n(&m->retired_bytes, __ATOMIC_RELAXED);
	st->snapshots = __atomic_load_n(&m->snapshots, __ATOMIC_RELAXED);
	st->oldest_pid = __atomic_load_n(&m->oldest_pid, __ATOMIC_RELAXED);
	uint64_t since = __atomic_load_n(&m->oldest_since_ns, __ATOMIC_RELAXED), now = shm_now_ns();
	st->oldest_held_ns = since && now > since ? now - since : 0;
	st->oldest_only_bytes = __atomic_load_n(&m->oldest_only_bytes, __ATOMIC_RELAXED);
	st->mem_pinned = __atomic_load_n(&m->pinned_bytes, __ATOMIC_RELAXED);
	st->durability = (int)__atomic_load_n(&m->durability, __ATOMIC_RELAXED);
	st->log_error = __atomic_load_n(&m->log_error, __ATOMIC_RELAXED);
	st->durable_ts = __atomic_load_n(&m->durable_ts, __ATOMIC_ACQUIRE);
	st->log_bytes = __atomic_load_n(&m->log_bytes, __ATOMIC_RELAXED);
	st->writes_refused = __atomic_load_n(&m->writes_refused, __ATOMIC_RELAXED);
	st->checkpoint_ts = __atomic_load_n(&m->checkpoint_ts, __ATOMIC_ACQUIRE);
	st->checkpoint_bytes = __atomic_load_n(&m->checkpoint_bytes, __ATOMIC_RELAXED);
	st->checkpoint_ns = __atomic_load_n(&m->checkpoint_ns, __ATOMIC_RELAXED);
	st->checkpoints = __atomic_load_n(&m->checkpoints, __ATOMIC_RELAXED);
	st->pressure = (int)__atomic_load_n(&m->pressure, __ATOMIC_RELAXED);
	st->memory_high_pct = m->memory_high_pct;
	st->memory_critical_pct = m->memory_critical_pct;
	st->pressure_refused = __atomic_load_n(&m->pressure_refused, __ATOMIC_RELAXED);
	st->pressure_since_ns = __atomic_load_n(&m->pressure_since_ns, __ATOMIC_RELAXED);
	uint64_t began = __atomic_load_n(&m->writer_started_ns, __ATOMIC_RELAXED);
	st->writer_uptime_ns = began && now > began ? now - began : 0;
	st->commits = __atomic_load_n(&m->commits, __ATOMIC_RELAXED);
	st->mem_freed = __atomic_load_n(&m->reclaimed_bytes, __ATOMIC_RELAXED);
	st->ops = __atomic_load_n(&m->ops, __ATOMIC_RELAXED);
	st->work_passes = __atomic_load_n(&m->work_passes, __ATOMIC_RELAXED);
	st->busy_ns = __atomic_load_n(&m->busy_ns, __ATOMIC_RELAXED);
	st->sleeps = __atomic_load_n(&m->sleeps, __ATOMIC_RELAXED);
	st->wakeups = __atomic_load_n(&m->wakeups, __ATOMIC_RELAXED);
	st->grace_periods = __atomic_load_n(&m->grace_periods, __ATOMIC_RELAXED);
	st->idle_policy = (int)__atomic_load_n(&m->idle_policy, __ATOMIC_RELAXED);
	st->wake_ns = __atomic_load_n(&m->wake_ns, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < SHMDB_BATCH_BUCKETS; i++)
		st->batch[i] = __atomic_load_n(&m->batch[i], __ATOMIC_RELAXED);
	st->gathered = __atomic_load_n(&m->gathered, __ATOMIC_RELAXED);
	st->gather_passes = __atomic_load_n(&m->gather_passes, __ATOMIC_RELAXED);
	st->gathering = (int)__atomic_load_n(&m->gathering, __ATOMIC_RELAXED);
	return 0;
}

int shmdb_info_get(shmdb *db, shmdb_info *info)
{
	if (!db || !info)
		return -EINVAL;
	const struct shm_meta *m = db->meta;
	memset(info, 0, sizeof(*info));
	info->format_version = m->format_version;
	info->daemon_pid = m->daemon_pid;
	info->generation = m->generation;
	memcpy(info->store_id, m->store_id, sizeof(info->store_id));
	info->arena_count = m->arena_count;
	info->sessions = __atomic_load_n(&m->sessions, __ATOMIC_RELAXED);
	info->started_ns = m->started_ns;
	info->running = __atomic_load_n(&m->daemon_state, __ATOMIC_RELAXED) == SHM_STATE_RUNNING;
	info->writer_cpu = m->writer_cpu;
	return 0;
}

int shmdb_arena_info_get(shmdb *db, uint32_t index, shmdb_arena_info *ai)
{
	if (!db || !ai)
		return -EINVAL;
	const struct shm_meta *m = db->meta;
	if (index >= m->arena_count)
		return -ENOENT;
	const struct shm_arena_desc *d = &m->arena_table[index];
	ai->index = index;
	ai->numa_node = d->numa_node;
	ai->page_kind = d->page_kind;
	ai->page_size = d->page_size;
	ai->size = d->size;
	ai->used = __atomic_load_n(&d->used, __ATOMIC_RELAXED);
	return 0;
}

int shmdb_arena_huge_bytes(shmdb *db, uint32_t index, uint64_t *bytes)
{
	if (!db || !bytes)
		return -EINVAL;
	if (index >= db->meta->arena_count)
		return -ENOENT;
	*bytes = __atomic_load_n(&db->meta->arena_table[index].huge_bytes, __ATOMIC_RELAXED);
	return 0;
}

const void *shm_client_range(const shmdb *db, size_t *size)
{
	*size = db->range_size;
	return db->base;
}

void *shm_client_session(const shmdb *db, size_t *size)
{
	*size = db->session_size;
	return db->session;
}

int shm_client_socket(const shmdb *db)
{
	return db->sock;
}
