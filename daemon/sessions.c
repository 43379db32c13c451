/*
 * sessions.c - session segments and the session registry (see sessions.h).
 *
 * Invariant: a session is in the published list iff its socket is open (or
 * it ended and a copy of the list failed; it is marked ended and dropped by
 * the next copy), and its segment is mapped while any list or RCU reader
 * can reach it. Removal publishes a list without it first (readers that
 * started before may still hold the old list), and call_rcu frees the
 * mapping and the old list only after every RCU reader that could have seen
 * them has finished.
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

int session_registry_init(struct session_registry *r, size_t writer_state_size,
			  void (*writer_state_free)(void *state))
{
	r->count = 0;
	r->writer_state_size = writer_state_size;
	r->writer_state_free = writer_state_free;
	r->doom_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->doom_fd < 0)
		return -errno;
	r->list = calloc(1, sizeof(*r->list));
	return r->list ? 0 : -ENOMEM;
}

static void free_session(struct session *s)
{
	if (s->seg)
		munmap(s->seg, s->seg_size);
	s->writer_state_free(s->writer_state);
	free(s);
}

static void free_session_rcu(struct rcu_head *head)
{
	struct session *s = caa_container_of(head, struct session, rcu);
	TSAN_ACQUIRE(s); /* the grace period: every reader is done with s */
	free_session(s);
}

static void free_list_rcu(struct rcu_head *head)
{
	struct session_list *l = caa_container_of(head, struct session_list, rcu);
	TSAN_ACQUIRE(l);
	free(l);
}

void session_list_put(const struct session_list *l)
{
	TSAN_RELEASE(l); /* the grace period orders this reader before the free */
}

/* Publish a copy of the list without the ended sessions, with `add` if not
 * NULL; free the old list and the ended sessions after a grace period. */
static int republish(struct session_registry *r, struct session *add)
{
	struct session_list *old = r->list;
	uint32_t n = 0, cap = old->n + (add != NULL);
	struct session_list *l = malloc(sizeof(*l) + cap * sizeof(l->s[0]));
	if (!l)
		return -ENOMEM;
	for (uint32_t i = 0; i < old->n; i++)
		if (!old->s[i]->ended)
			l->s[n++] = old->s[i];
	if (add)
		l->s[n++] = add;
	l->n = n;
	/* Release: the sessions and the array are complete before a reader
	 * can load the pointer (session_list_get). */
	__atomic_store_n(&r->list, l, __ATOMIC_RELEASE);
	r->count = n;
	for (uint32_t i = 0; i < old->n; i++) {
		if (old->s[i]->ended) {
			TSAN_RELEASE(old->s[i]); /* call_rcu orders our accesses before the free */
			urcu_memb_call_rcu(&old->s[i]->rcu, free_session_rcu);
		}
	}
	TSAN_RELEASE(old);
	urcu_memb_call_rcu(&old->rcu, free_list_rcu);
	return 0;
}

void session_registry_destroy(struct session_registry *r)
{
	if (!r->list)
		return;
	urcu_memb_barrier(); /* every call_rcu callback has run */
	/* No reader is left (the writer has stopped): free what remains. */
	for (uint32_t i = 0; i < r->list->n; i++)
		free_session(r->list->s[i]);
	free(r->list);
	r->list = NULL;
	r->count = 0;
	close(r->doom_fd);
	r->doom_fd = -1;
}

int session_create(const struct session_registry *r, uint64_t id, pid_t pid,
		   const uint8_t store_id[16], struct session **out, int *seg_fd)
{
	struct session *s = calloc(1, sizeof(*s) + r->writer_state_size);
	if (!s)
		return -ENOMEM;
	s->writer_state_free = r->writer_state_free;
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

void session_discard(struct session *s)
{
	free_session(s);
}

int session_register(struct session_registry *r, struct session *s)
{
	return republish(r, s);
}

int session_end(struct session_registry *r, struct session *s)
{
	if (s->ended)
		return 0;
	s->ended = 1;
	r->count--;
	/* If the copy fails, s stays listed, marked ended, until the next
	 * republication drops it; the writer may serve it meanwhile, harmless
	 * since nothing is freed. */
	return republish(r, NULL);
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

void session_sweep_begin(void *sweep)
{
	struct session_sweep *w = sweep;
	w->l = session_list_get(w->r);
	w->i = 0;
}

const struct shm_reader_slot *session_sweep_next(void *sweep, unsigned *n, pid_t *pid)
{
	struct session_sweep *w = sweep;
	if (w->i > 0)
		TSAN_RELEASE(w->l->s[w->i - 1]); /* before the grace period that may free it */
	if (w->i == w->l->n)
		return NULL;
	const struct session *s = w->l->s[w->i++];
	*n = SHM_READER_SLOTS;
	*pid = s->pid;
	return (const void *)((const uint8_t *)s->seg + SHM_SESSION_SLOTS_OFF);
}

void session_sweep_end(void *sweep)
{
	struct session_sweep *w = sweep;
	session_list_put(w->l);
}
