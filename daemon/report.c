/*
 * report.c - the daemon's report for `shmdb stats` and shmdb_report_get
 * (see report.h; the format is in proto.h).
 *
 * Everything here is read on the main thread while the writer and the
 * clients go on: the session list is the main thread's own; a session's
 * figures are loaded with relaxed atomics from the segment (what its
 * client claims, sq_tail and sq_full, is clamped or only passed on, never
 * acted upon) and from the writer's ring state (tickets, which the writer
 * stores relaxed, ring.c); the per-table figures likewise (retire.h); the
 * pins from the reader slots, a client's claim only counted. The report
 * is a moment's reading of each figure, not one instant of all.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "proto.h"
#include "ring.h"

#define PIN_CPUS (SHM_CPU_WORDS * 64u)

/* Count the cpus s's threads pinned themselves to (a client's claim:
 * cpus past PIN_CPUS are left out). */
static void count_pins(const struct session *s, uint32_t *pins)
{
	const struct shm_reader_slot *slot =
		(const struct shm_reader_slot *)((const uint8_t *)s->seg + SHM_SESSION_SLOTS_OFF);
	for (unsigned i = 0; i < SHM_READER_SLOTS; i++) {
		uint32_t p = __atomic_load_n(&slot[i].pinned, __ATOMIC_RELAXED);
		if (p && p <= PIN_CPUS)
			pins[p - 1]++;
	}
}

static void session_figures(const struct session *s, struct shm_report_session *out)
{
	const struct shm_session_header *h = s->seg;
	const struct ring_state *rs = (const struct ring_state *)s->writer_state;
	uint64_t tail = __atomic_load_n(&h->sq_tail, __ATOMIC_RELAXED);
	uint64_t head = __atomic_load_n(&h->sq_head, __ATOMIC_RELAXED);
	uint64_t depth = tail - head;
	const struct shm_reader_slot *slot =
		(const struct shm_reader_slot *)((const uint8_t *)h + SHM_SESSION_SLOTS_OFF);
	uint32_t snapshots = 0;
	for (unsigned i = 0; i < SHM_READER_SLOTS; i++)
		snapshots += __atomic_load_n(&slot[i].snapshot, __ATOMIC_RELAXED) != 0;
	*out = (struct shm_report_session){
		.id = s->id,
		.pid = (uint32_t)s->pid,
		.snapshots = snapshots,
		.ring_depth = depth > h->sq_size ? h->sq_size : depth, /* a client's claim */
		.ring_size = h->sq_size,
		.ring_full = __atomic_load_n(&h->sq_full, __ATOMIC_RELAXED),
		.commits = __atomic_load_n(&rs->tickets, __ATOMIC_RELAXED),
	};
}

int report_make(const struct session_registry *reg, const struct table_waiting *waiting,
		int *fd)
{
	const struct session_list *l = reg->list;
	uint32_t nsessions = l ? l->n : 0, ntables = 0, npins = 0;
	static uint32_t pins[PIN_CPUS];
	memset(pins, 0, sizeof(pins));
	for (uint32_t i = 0; i < nsessions; i++)
		count_pins(l->s[i], pins);
	for (unsigned c = 0; c < PIN_CPUS; c++)
		npins += pins[c] != 0;
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++)
		ntables += __atomic_load_n(&waiting[i].versions, __ATOMIC_RELAXED) != 0;
	size_t size = sizeof(struct shm_report_header) +
		      nsessions * sizeof(struct shm_report_session) +
		      ntables * sizeof(struct shm_report_table) +
		      npins * sizeof(struct shm_report_pin);
	uint8_t *buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	struct shm_report_header *hdr = (struct shm_report_header *)buf;
	*hdr = (struct shm_report_header){ .magic = SHM_REPORT_MAGIC, .version = SHM_REPORT_VERSION,
					   .nsessions = nsessions, .npins = npins,
					   .taken_ns = shm_now_ns() };
	struct shm_report_session *rs = (struct shm_report_session *)(hdr + 1);
	for (uint32_t i = 0; i < nsessions; i++)
		session_figures(l->s[i], &rs[i]);
	struct shm_report_table *rt = (struct shm_report_table *)(rs + nsessions);
	uint32_t n = 0;
	for (unsigned i = 0; i < SHM_MAX_TABLES && n < ntables; i++) {
		uint64_t v = __atomic_load_n(&waiting[i].versions, __ATOMIC_RELAXED);
		if (!v)
			continue;
		rt[n++] = (struct shm_report_table){
			.id = __atomic_load_n(&waiting[i].id, __ATOMIC_RELAXED), .versions = v,
			.bytes = __atomic_load_n(&waiting[i].bytes, __ATOMIC_RELAXED),
		};
	}
	hdr->ntables = n; /* a table emptied between the two looks is left out */
	struct shm_report_pin *rp = (struct shm_report_pin *)(rt + n);
	for (unsigned c = 0, k = 0; c < PIN_CPUS; c++)
		if (pins[c])
			rp[k++] = (struct shm_report_pin){ .cpu = c, .threads = pins[c] };

	int e = 0, m = memfd_create("shmdb-report", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t used = sizeof(*hdr) + nsessions * sizeof(*rs) + n * sizeof(*rt) + npins * sizeof(*rp);
	if (m < 0)
		e = -errno;
	else if (write(m, buf, used) != (ssize_t)used ||
		 fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL))
		e = errno ? -errno : -EIO;
	free(buf);
	if (e) {
		if (m >= 0)
			close(m);
		return e;
	}
	*fd = m;
	return 0;
}
