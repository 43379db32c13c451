/*
 * sessions.c - session segments and the session registry (see sessions.h).
 *
 * Invariant: a session is in the registry iff its socket is open and its
 * segment is mapped. Removal unlinks it from the table first (readers that
 * started before may still hold it), and call_rcu frees the mapping only
 * after every RCU reader that could have seen it has finished.
 */
#include "sessions.h"

#include "tsan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

int session_registry_init(struct session_registry *r)
{
	r->count = 0;
	r->doom_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->doom_fd < 0)
		return -errno;
	r->ht = cds_lfht_new_flavor(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				    &urcu_memb_flavor, NULL);
	return r->ht ? 0 : -ENOMEM;
}

static void free_session(struct session *s)
{
	if (s->seg)
		munmap(s->seg, s->seg_size);
	ring_state_free(&s->ring);
	free(s);
}

static void free_session_rcu(struct rcu_head *head)
{
	struct session *s = caa_container_of(head, struct session, rcu);
	TSAN_ACQUIRE(s); /* the grace period: every reader is done with s */
	free_session(s);
}

void session_registry_destroy(struct session_registry *r)
{
	struct cds_lfht_iter it;
	struct session *s;

	if (!r->ht)
		return;
	urcu_memb_read_lock();
	cds_lfht_for_each_entry(r->ht, &it, s, ht_node)
		session_end(r, s);
	urcu_memb_read_unlock();
	urcu_memb_barrier(); /* every call_rcu callback has run */
	cds_lfht_destroy(r->ht, NULL);
	r->ht = NULL;
	close(r->doom_fd);
	r->doom_fd = -1;
}

int session_create(const struct session_registry *r, uint64_t id, pid_t pid,
		   const uint8_t store_id[16], struct session **out, int *seg_fd)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->id = id;
	s->pid = pid;
	s->doom_fd = r->doom_fd;
	s->seg_size = SHM_SESSION_SIZE;

	int fd = memfd_create("shmdb-session", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int e = 0;
	if (fd < 0 || ftruncate(fd, (off_t)s->seg_size) < 0) {
		e = -errno;
		goto fail;
	}
	s->seg = mmap(NULL, s->seg_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (s->seg == MAP_FAILED) {
		s->seg = NULL;
		e = -errno;
		goto fail;
	}
	s->seg->magic = SHM_SESSION_MAGIC;
	s->seg->format_version = SHM_FORMAT_VERSION;
	s->seg->size = s->seg_size;
	s->seg->session_id = id;
	memcpy(s->seg->store_id, store_id, sizeof(s->seg->store_id));
	s->seg->reader_slots = SHM_READER_SLOTS;
	s->seg->sq_size = SHM_SQ_SIZE;
	s->seg->cq_entries = SHM_CQ_ENTRIES;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		e = -errno;
		goto fail;
	}
	*out = s;
	*seg_fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free_session(s);
	return e;
}

void session_register(struct session_registry *r, struct session *s)
{
	TSAN_RELEASE(s); /* cds_lfht_add publishes s with release order */
	urcu_memb_read_lock();
	cds_lfht_add(r->ht, s->id, &s->ht_node);
	urcu_memb_read_unlock();
	r->count++;
}

void session_end(struct session_registry *r, struct session *s)
{
	urcu_memb_read_lock();
	int gone = cds_lfht_del(r->ht, &s->ht_node);
	urcu_memb_read_unlock();
	if (gone == 0) {
		r->count--;
		TSAN_RELEASE(s); /* call_rcu orders our accesses before the free */
		urcu_memb_call_rcu(&s->rcu, free_session_rcu);
	}
}

void session_doom(struct session *s, const char *reason)
{
	uint64_t one = 1;
	s->doom_reason = reason;
	/* The eventfd write orders this store before the main thread's read. */
	__atomic_store_n(&s->doomed, 1, __ATOMIC_RELEASE);
	/* Can fail only with the counter saturated, and then the main thread
	 * has a wake-up pending anyway and will find this session. */
	ssize_t n = write(s->doom_fd, &one, sizeof(one));
	(void)n;
}
