/*
 * server.h - shmdbd's socket side: the instance lock, the listening socket,
 * and the epoll loop that admits clients, hands them the store, and ends
 * their sessions.
 */
#ifndef SHMDBD_SERVER_H
#define SHMDBD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "retire.h"
#include "sessions.h"
#include "store.h"

/* Most connections waiting in the handshake, and most sessions, at once.
 * Past the first, the oldest waiting connection is dropped; past the
 * second, a newcomer is refused. */
#define SERVER_MAX_PENDING 128
#define SERVER_MAX_SESSIONS 4096

struct conn;

struct server {
	const struct config *cfg;
	struct store *store;
	struct session_registry sessions;
	int lock_fd;
	int listen_fd;
	int epoll_fd;
	int signal_fd;
	uint64_t next_session_id;
	struct conn *pending;    /* connections in the handshake */
	struct conn *active;     /* connections that own a session */
	struct conn *dead;       /* closed during this epoll batch */
	unsigned pending_count;
	const struct table_waiting *waiting; /* the writer's, for reports (report.h) */
};

/*
 * server_lock - take the instance lock "<socket>.lock" (flock), creating the
 * socket's directory if missing. While another daemon holds it, fails with
 * -EADDRINUSE and a line naming that daemon's pid. The lock file stays after
 * exit: removing it would race with a daemon starting at that moment.
 */
int server_lock(struct server *srv, const struct config *cfg, char *err, size_t errlen);

/*
 * server_block_signals - block SIGTERM and SIGINT and route them to a
 * signalfd that server_run watches; ignore SIGPIPE. Call before any other
 * thread starts, so that they inherit the mask. Returns 0 or -errno.
 */
int server_block_signals(struct server *srv, char *err, size_t errlen);

/*
 * server_start - create the socket under a temporary name, set its mode (and
 * group), listen, and rename it over the configured path, replacing a stale
 * socket file: the path exists only once the daemon accepts. Call once the
 * store is built and srv->sessions initialised (session_registry_init).
 * Returns 0 or -errno with a line in err.
 */
int server_start(struct server *srv, struct store *store, char *err, size_t errlen);

/* server_run - serve until SIGTERM or SIGINT. Returns the signal number. */
int server_run(struct server *srv);

/*
 * server_stop - mark the store stopped in the meta segment (clients see
 * running == 0), end every session (clients see EOF), remove the socket
 * file, close everything but the lock. The session registry stays for the
 * caller to destroy once the writer has stopped.
 */
void server_stop(struct server *srv);

#endif /* SHMDBD_SERVER_H */
