/*
 * sessions.h - client sessions: each has its own read-write session segment
 * and lives exactly as long as its socket connection (which the server owns). The registry is an RCU
 * hash table (liburcu cds_lfht, urcu-memb flavor) so that the writer thread
 * can walk the sessions while the main thread adds and removes them; a
 * removed session is freed after a grace period (call_rcu).
 *
 * Only the main thread adds and removes; it must be an RCU-registered thread.
 * Sessions hold no descriptor: the server owns the connection.
 */
#ifndef SHMDBD_SESSIONS_H
#define SHMDBD_SESSIONS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

#include "layout.h"
#include "ring.h"

struct session {
	struct cds_lfht_node ht_node;
	struct rcu_head rcu;
	uint64_t id;
	struct shm_session_header *seg;   /* daemon's read-write mapping */
	size_t seg_size;
	pid_t pid;                        /* SO_PEERCRED at connect */
	int doom_fd;                      /* the registry's eventfd */
	int doomed;                       /* set by the writer: close it */
	const char *doom_reason;
	struct ring_state ring;           /* the writer's, private */
};

struct session_registry {
	struct cds_lfht *ht;
	uint32_t count;
	int doom_fd;  /* eventfd: the writer asks the main thread to end sessions */
};

/* Returns 0, -ENOMEM, or -errno from eventfd(2). */
int session_registry_init(struct session_registry *r);

/* End every session still registered, wait for their grace periods, free
 * the table. */
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

/* Add a created session to the registry. */
void session_register(struct session_registry *r, struct session *s);

/* Remove a registered session and free it after a grace period. */
void session_end(struct session_registry *r, struct session *s);

/*
 * session_doom - called by the writer when s broke the ring protocol: it
 * stops serving s and asks the main thread (through doom_fd) to end it.
 */
void session_doom(struct session *s, const char *reason);


#endif /* SHMDBD_SESSIONS_H */
