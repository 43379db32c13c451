/*
 * server.c - the instance lock, the listening socket and the epoll loop
 * (see server.h).
 *
 * A connection goes through two states:
 *   HANDSHAKE  accepted, waiting for its 16-byte hello; on a list with a
 *              deadline. Garbage, a wrong version, a refused uid, a
 *              disconnect or silence past the deadline closes it, and all
 *              it held is its descriptor and this struct.
 *   ACTIVE     admitted: it owns a session (segment + registry entry). The
 *              client must send nothing more; EOF or any byte ends the
 *              session, which frees its segment after an RCU grace period.
 * Limits on pending connections and sessions bound what any number of
 * clients can make the daemon hold.
 *
 * The meta segment's session counters are written only here, on the main
 * thread, with relaxed atomic stores: they are statistics with nothing
 * published behind them. daemon_state goes to STOPPED with a release store
 * before the sessions are closed, so a client that sees its socket close
 * and then loads the state sees STOPPED.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "huge_usage.h"
#include "log.h"
#include "pidlock.h"
#include "proto.h"
#include "report.h"
#include "shmdb.h"

enum conn_state { CONN_HANDSHAKE, CONN_ACTIVE };

struct conn {
	int fd;
	enum conn_state state;
	struct ucred cred;
	int64_t deadline_ms;
	size_t got;
	struct shm_hello hello;
	struct session *session;      /* ACTIVE only */
	struct conn *prev, *next;     /* on srv->pending or srv->active */
	struct conn *next_dead;       /* closed, on srv->dead until the batch ends */
	int closed;
};

/* epoll tags for the fixed descriptors; connections use their struct. */
static char tag_listen, tag_signal, tag_doom;

/* ---- instance lock and socket ---------------------------------------- */

static int ensure_dir(const char *path, char *err, size_t errlen)
{
	char copy[SHMDB_SOCKET_PATH_MAX];
	struct stat st;
	snprintf(copy, sizeof(copy), "%s", path);
	const char *dir = dirname(copy);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(e));
		return -e;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	/* A directory someone else owns (say a planted /tmp/shmdb-UID) could
	 * swap the socket under us; refuse it unless it is sticky, like /tmp. */
	if (st.st_uid != geteuid() && st.st_uid != 0 && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "%s belongs to uid %u, not to this user", dir,
			 (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}

int server_lock(struct server *srv, const struct config *cfg, char *err, size_t errlen)
{
	char path[160];
	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	srv->lock_fd = srv->listen_fd = srv->epoll_fd = srv->signal_fd = -1;
	srv->next_session_id = 1;

	int e = ensure_dir(cfg->socket_path, err, errlen);
	if (e)
		return e;
	snprintf(path, sizeof(path), "%s.lock", cfg->socket_path);
	srv->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (srv->lock_fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open lock file %s: %s", path, strerror(e));
		return -e;
	}
	char pid[24];
	if (pidlock_acquire(srv->lock_fd, pid, sizeof(pid))) {
		snprintf(err, errlen, "another shmdbd (pid %s) is serving %s",
			 pid[0] ? pid : "?", cfg->socket_path);
		close(srv->lock_fd);
		srv->lock_fd = -1;
		return -EADDRINUSE;
	}
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(srv->lock_fd, 0) < 0 || pwrite(srv->lock_fd, pid, (size_t)n, 0) != n)
		log_line("warning: cannot write pid into %s", path);
	return 0;
}

int server_block_signals(struct server *srv, char *err, size_t errlen)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (srv->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		int e = errno;
		snprintf(err, errlen, "signalfd: %s", strerror(e));
		return -e;
	}
	return 0;
}

static int epoll_watch(int ep, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = tag };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int server_start(struct server *srv, struct store *store, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int e;

	srv->store = store;
	srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->epoll_fd < 0 || srv->listen_fd < 0) {
		e = errno;
		snprintf(err, errlen, "socket: %s", strerror(e));
		return -e;
	}
	/* Bind under a temporary name and rename into place once listening:
	 * a client that finds the path finds a daemon ready to serve. */
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.%d.tmp", cfg->socket_path,
			 (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long (%zu bytes at most, with room for a temporary suffix)",
			 cfg->socket_path, sizeof(sa.sun_path) - 16);
		return -ENAMETOOLONG;
	}
	unlink(sa.sun_path);
	const char *what = "bind";
	if (bind(srv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	what = "chmod";
	if (chmod(sa.sun_path, cfg->socket_mode) < 0)
		goto fail_unlink;
	what = "chown to the admitted group";
	if (cfg->allow_group_set && chown(sa.sun_path, (uid_t)-1, cfg->allow_group) < 0)
		goto fail_unlink;
	what = "listen";
	if (listen(srv->listen_fd, 128) < 0)
		goto fail_unlink;
	what = "epoll";
	if ((e = epoll_watch(srv->epoll_fd, srv->listen_fd, &tag_listen)) ||
	    (e = epoll_watch(srv->epoll_fd, srv->signal_fd, &tag_signal)) ||
	    (e = epoll_watch(srv->epoll_fd, srv->sessions.doom_fd, &tag_doom))) {
		errno = -e;
		goto fail_unlink;
	}
	what = "rename into place";
	if (rename(sa.sun_path, cfg->socket_path) < 0)
		goto fail_unlink;
	return 0;
fail_unlink:
	e = errno;
	unlink(sa.sun_path);
	errno = e;
fail:
	e = errno;
	snprintf(err, errlen, "socket %s: %s: %s", cfg->socket_path, what, strerror(e));
	return -e;
}

/* ---- connections ------------------------------------------------------ */

static void meta_count(uint64_t *field)
{
	__atomic_store_n(field, *field + 1, __ATOMIC_RELAXED);
}

static void publish_session_count(struct server *srv)
{
	__atomic_store_n(&srv->store->meta->sessions, srv->sessions.count, __ATOMIC_RELAXED);
}

static struct conn **conn_list(struct server *srv, const struct conn *c)
{
	return c->state == CONN_HANDSHAKE ? &srv->pending : &srv->active;
}

static void conn_link(struct server *srv, struct conn *c)
{
	struct conn **head = conn_list(srv, c);
	c->prev = NULL;
	c->next = *head;
	if (c->next)
		c->next->prev = c;
	*head = c;
	if (c->state == CONN_HANDSHAKE)
		srv->pending_count++;
}

static void conn_unlink(struct server *srv, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*conn_list(srv, c) = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (c->state == CONN_HANDSHAKE)
		srv->pending_count--;
}

/* Close a connection in either state; an ACTIVE one ends its session. */
static void conn_close(struct server *srv, struct conn *c, const char *why)
{
	conn_unlink(srv, c);
	if (c->state == CONN_HANDSHAKE) {
		meta_count(&srv->store->meta->sessions_refused);
		if (why)
			log_line("connection from pid %d dropped: %s", (int)c->cred.pid, why);
	} else {
		log_line("session %llu (pid %d) ended: %s", (unsigned long long)c->session->id,
			 (int)c->cred.pid, why ? why : "closed by the client");
		if (session_end(&srv->sessions, c->session))
			log_line("session %llu: out of memory; it is dropped at the next change",
				 (unsigned long long)c->session->id);
		publish_session_count(srv);
	}
	close(c->fd); /* also removes it from the epoll set */
	c->fd = -1;
	/* Events of this batch may still name it: free it after the batch. */
	c->closed = 1;
	c->next_dead = srv->dead;
	srv->dead = c;
}

static void free_dead(struct server *srv)
{
	while (srv->dead) {
		struct conn *c = srv->dead;
		srv->dead = c->next_dead;
		free(c);
	}
}

/* At the limit of connections in the handshake, the oldest goes: a real
 * client finishes its handshake in microseconds, so a flood of idle or
 * dead connections pushes out only its own kind. */
static void evict_oldest_pending(struct server *srv)
{
	struct conn *oldest = srv->pending; /* the list is newest first */
	while (oldest->next)
		oldest = oldest->next;
	conn_close(srv, oldest, "evicted: too many connections in the handshake");
}

static void accept_all(struct server *srv)
{
	for (;;) {
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_line("accept: %s", strerror(errno));
			return;
		}
		struct conn *c = NULL;
		socklen_t len = sizeof(struct ucred);
		if (srv->pending_count >= SERVER_MAX_PENDING)
			evict_oldest_pending(srv);
		if (srv->sessions.count >= SERVER_MAX_SESSIONS ||
		    !(c = calloc(1, sizeof(*c))) ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0 ||
		    epoll_watch(srv->epoll_fd, fd, c) < 0) {
			free(c);
			close(fd);
			meta_count(&srv->store->meta->sessions_refused);
			continue;
		}
		c->fd = fd;
		c->state = CONN_HANDSHAKE;
		c->deadline_ms = shm_now_ms() + SHM_HANDSHAKE_TIMEOUT_MS;
		conn_link(srv, c);
	}
}

static int peer_in_group(int fd, gid_t g)
{
	gid_t groups[512];
	socklen_t len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return 0;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == g)
			return 1;
	return 0;
}

static int admitted(const struct server *srv, const struct conn *c)
{
	if (c->cred.uid == 0 || c->cred.uid == geteuid())
		return 1;
	if (!srv->cfg->allow_group_set)
		return 0;
	return c->cred.gid == srv->cfg->allow_group || peer_in_group(c->fd, srv->cfg->allow_group);
}

static void send_refusal(struct conn *c, int status)
{
	struct shm_welcome w = {
		.magic = SHM_WELCOME_MAGIC, .proto_version = SHM_PROTO_VERSION, .status = status,
	};
	shm_send_msg(c->fd, &w, sizeof(w), NULL, 0); /* best effort: we close next */
}

/* An admitted client asked for the report (proto.h): send it, and close. */
static void send_report(struct server *srv, struct conn *c)
{
	huge_usage_publish(srv->store, true); /* read beside the report */
	int fd = -1, e = srv->waiting ? report_make(&srv->sessions, srv->waiting, &fd) : -ENOTSUP;
	if (e) {
		send_refusal(c, e);
		conn_close(srv, c, NULL);
		return;
	}
	struct shm_welcome w = {
		.magic = SHM_WELCOME_MAGIC, .proto_version = SHM_PROTO_VERSION, .nfds = 1,
	};
	shm_send_msg(c->fd, &w, sizeof(w), &fd, 1); /* best effort: the client may be gone */
	close(fd);
	conn_close(srv, c, NULL);
}

/* The hello is complete: admit or refuse. */
static void handle_hello(struct server *srv, struct conn *c)
{
	const struct shm_hello *h = &c->hello;
	int status = 0;
	const char *why = NULL;

	if (h->magic != SHM_HELLO_MAGIC)
		status = SHMDB_EPROTO, why = "not a shmdb hello";
	else if (h->proto_version != SHM_PROTO_VERSION)
		status = SHMDB_EVERSION, why = "protocol version mismatch";
	else if ((h->flags & ~SHM_HELLO_REPORT) || h->reserved)
		status = SHMDB_EPROTO, why = "unknown hello flags";
	else if (!admitted(srv, c))
		status = SHMDB_EREFUSED, why = "uid/gid not admitted";
	if (status) {
		log_line("refusing pid %d uid %u: %s", (int)c->cred.pid, (unsigned)c->cred.uid, why);
		send_refusal(c, status);
		conn_close(srv, c, NULL);
		return;
	}

	if (h->flags & SHM_HELLO_REPORT) {
		send_report(srv, c);
		return;
	}
	struct store *st = srv->store;
	struct session *s;
	int fds[SHM_MAX_FDS];
	unsigned nfds = store_fill_fds(st, fds);
	uint64_t id = srv->next_session_id++;
	int e = session_create(&srv->sessions, id, c->cred.pid, st->meta->store_id, &s,
			       &fds[SHM_FD_SESSION]);
	if (e) {
		send_refusal(c, e);
		conn_close(srv, c, strerror(-e));
		return;
	}
	struct shm_welcome w = {
		.magic = SHM_WELCOME_MAGIC,
		.proto_version = SHM_PROTO_VERSION,
		.nfds = nfds,
		.session_id = id,
		.range_size = st->range_size,
		.range_align = st->range_align,
		.meta_size = st->meta->meta_size,
	};
	/* Count the session before the client can see the welcome, so that
	 * its first look at the figures includes itself. */
	e = session_register(&srv->sessions, s);
	if (e) {
		close(fds[SHM_FD_SESSION]);
		session_discard(s);
		send_refusal(c, e);
		conn_close(srv, c, strerror(-e));
		return;
	}
	conn_unlink(srv, c);
	c->state = CONN_ACTIVE;
	c->session = s;
	conn_link(srv, c);
	meta_count(&st->meta->sessions_total);
	publish_session_count(srv);
	e = shm_send_msg(c->fd, &w, sizeof(w), fds, nfds);
	close(fds[SHM_FD_SESSION]);
	if (e)
		conn_close(srv, c, "client gone during the handshake");
}

static void conn_readable(struct server *srv, struct conn *c, uint32_t events)
{
	if (c->closed)
		return;
	if (c->state == CONN_ACTIVE) {
		char b;
		ssize_t n = recv(c->fd, &b, 1, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN && !(events & (EPOLLHUP | EPOLLERR)))
			return;
		conn_close(srv, c, n > 0 ? "the client sent data after the handshake" : NULL);
		return;
	}
	ssize_t n = recv(c->fd, (char *)&c->hello + c->got, sizeof(c->hello) - c->got, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(srv, c, "disconnected during the handshake");
		return;
	}
	c->got += (size_t)n;
	if (c->got == sizeof(c->hello))
		handle_hello(srv, c);
}

/* The writer doomed some sessions (broken rings): end them. */
static void end_doomed(struct server *srv)
{
	uint64_t n;
	if (read(srv->sessions.doom_fd, &n, sizeof(n)) < 0)
		return;
	struct conn *c = srv->active;
	while (c) {
		struct conn *nx = c->next;
		if (__atomic_load_n(&c->session->doomed, __ATOMIC_ACQUIRE))
			conn_close(srv, c, c->session->doom_reason);
		c = nx;
	}
}

static int expire_pending(struct server *srv)
{
	int64_t now = shm_now_ms(), next = -1;
	struct conn *c = srv->pending;
	while (c) {
		struct conn *nx = c->next;
		if (c->deadline_ms <= now)
			conn_close(srv, c, "no hello within the handshake timeout");
		else if (next < 0 || c->deadline_ms - now < next)
			next = c->deadline_ms - now;
		c = nx;
	}
	return (int)next;
}

int server_run(struct server *srv)
{
	struct epoll_event evs[64];
	__atomic_store_n(&srv->store->meta->daemon_state, SHM_STATE_RUNNING, __ATOMIC_RELEASE);
	for (;;) {
		int timeout = expire_pending(srv);
		int n = epoll_wait(srv->epoll_fd, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);
		if (n < 0 && errno != EINTR) {
			log_line("epoll_wait: %s", strerror(errno));
			return 0;
		}
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			if (tag == &tag_listen) {
				accept_all(srv);
			} else if (tag == &tag_doom) {
				end_doomed(srv);
			} else if (tag == &tag_signal) {
				struct signalfd_siginfo si;
				if (read(srv->signal_fd, &si, sizeof(si)) == sizeof(si))
					return (int)si.ssi_signo;
			} else {
				conn_readable(srv, tag, evs[i].events);
			}
		}
		free_dead(srv);
	}
}

void server_stop(struct server *srv)
{
	if (srv->store && srv->store->meta)
		__atomic_store_n(&srv->store->meta->daemon_state, SHM_STATE_STOPPED, __ATOMIC_RELEASE);
	while (srv->pending)
		conn_close(srv, srv->pending, NULL);
	while (srv->active)
		conn_close(srv, srv->active, NULL);
	free_dead(srv);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		unlink(srv->cfg->socket_path);
	}
	if (srv->epoll_fd >= 0)
		close(srv->epoll_fd);
	if (srv->signal_fd >= 0)
		close(srv->signal_fd);
}
