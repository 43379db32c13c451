/*
 * sessions.h - client sessions: each has its own read-write session segment
 * and lives exactly as long as its socket connection (which the server owns).
 *
 * The registry is an array of session pointers published through one
 * pointer: the writer thread walks it on every pass of its polling loop, so
 * a walk must cost a load per session and nothing more (a liburcu hash
 * table cost this writer half its polling time in bucket chains). The main
 * thread, the only one that adds and removes, copies the array, publishes
 * the copy with a release store, and frees the old array and any removed
 * session after an RCU grace period (urcu-memb call_rcu); the writer reads
 * inside an RCU read-side section.
 *
 * Sessions hold no descriptor: the server owns the connection. Each holds
 * the writer's state for it as opaque bytes, of the size the registry was
 * given, zeroed at creation and freed with the session: what they are, only
 * the writer knows (writer.h).
 */
#ifndef SHMDBD_SESSIONS_H
#define SHMDBD_SESSIONS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <urcu/urcu-memb.h>

#include "layout.h"

struct session {
	struct rcu_head rcu;
	uint64_t id;
	struct shm_session_header *seg;   /* daemon's read-write mapping */
	size_t seg_size;
	pid_t pid;                        /* SO_PEERCRED at connect */
	int doom_fd;                      /* the registry's eventfd */
	int doomed;                       /* set by the writer: close it */
	int ended;                        /* main thread: no longer registered */
	const char *doom_reason;
	void (*writer_state_free)(void *state); /* the registry's, for free */
	max_align_t writer_state[];       /* the writer's, opaque here */
};

/* The sessions registered at one moment; never changed once published. */
struct session_list {
	struct rcu_head rcu;
	uint32_t n;
	struct session *s[];        /* in the order they registered */
};

struct session_registry {
	struct session_list *list;  /* published with release order */
	uint32_t count;             /* list->n, for the main thread */
	int doom_fd;  /* eventfd: the writer asks the main thread to end sessions */
	size_t writer_state_size;               /* bytes of each session's */
	void (*writer_state_free)(void *state); /* frees what one holds */
};

/*
 * session_list_get - the sessions registered now. Call inside an RCU
 * read-side section; the list and its sessions stay valid until it ends.
 * Pair with session_list_put when done with them.
 */
static inline const struct session_list *session_list_get(const struct session_registry *r)
{
	/* Acquire: pairs with the release store that published the list, so
	 * the sessions it names are complete. */
	return __atomic_load_n(&r->list, __ATOMIC_ACQUIRE);
}

/* session_list_put - done reading l (tells TSan what the grace period
 * orders before l is freed). */
void session_list_put(const struct session_list *l);

/* An empty registry whose sessions each carry writer_state_size bytes of
 * the writer's state, released by writer_state_free(state) when the
 * session is freed. Returns 0, -ENOMEM, or -errno from eventfd(2). */
int session_registry_init(struct session_registry *r, size_t writer_state_size,
			  void (*writer_state_free)(void *state));

/* End every session still registered, wait for their grace periods, free
 * the list. */
void session_registry_destroy(struct session_registry *r);

/*
 * session_create - a new session for a client process `pid`: a memfd session
 * segment, mapped read-write, its header written, sealed against resizing
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) so that the client cannot make
 * the daemon's accesses fault. *seg_fd receives the memfd to hand to the
 * client (the caller closes it once sent). The session is not registered yet.
 * Returns 0 or -errno.
 */
int session_create(const struct session_registry *r, uint64_t id, pid_t pid,
		   const uint8_t store_id[16], struct session **out, int *seg_fd);

/* session_discard - free a created session that was never registered. */
void session_discard(struct session *s);

/* Add a created session to the registry. Returns 0 or -ENOMEM (then s is
 * not registered). */
int session_register(struct session_registry *r, struct session *s);

/* Remove a registered session and free it after a grace period. Ending a
 * session that is not registered does nothing. Copying the list can fail
 * for memory: then the session stays registered (doomed sessions are not
 * served) and -ENOMEM is returned for the caller to retry. */
int session_end(struct session_registry *r, struct session *s);

/*
 * session_doom - called by the writer when s broke the ring protocol: it
 * stops serving s and asks the main thread (through doom_fd) to end it.
 */
void session_doom(struct session *s, const char *reason);

/*
 * A sweep over the reader slots of every session registered when it
 * begins, for the reclaimer (its struct slot_source, snapset.h): begin
 * takes the list, next returns one session's slots and its pid at a time
 * (NULL after the last), end puts the list. All three take a struct session_sweep; call inside an RCU
 * read-side section.
 */
struct session_sweep {
	const struct session_registry *r;
	const struct session_list *l;
	uint32_t i;
};
void session_sweep_begin(void *sweep);
const struct shm_reader_slot *session_sweep_next(void *sweep, unsigned *n, pid_t *pid);
void session_sweep_end(void *sweep);


#endif /* SHMDBD_SESSIONS_H */
