/*
 * proto.c - message framing for the attach handshake (see proto.h): sending
 * and receiving fixed-size messages with SCM_RIGHTS descriptors over a UNIX
 * stream socket, and the client's side of the exchange.
 *
 * Invariants: a receive either returns every byte asked for with every
 * descriptor that came with them, or fails having closed every descriptor it
 * received, so a failed handshake never leaks a descriptor into the caller.
 */
#include "proto.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "shmdb.h"

int shm_send_msg(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > SHM_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if ((size_t)n == len)
			return 0;
		/* A short send of a message this small means the peer's buffer is
		 * full; the descriptors went with the first byte. Send the rest. */
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		len -= (size_t)n;
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
	}
}

static void close_all(int *fds, unsigned *nfds)
{
	for (unsigned i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
}

/* Take the descriptors of every SCM_RIGHTS header in msg into fds[]. */
static int collect_fds(struct msghdr *msg, int *fds, unsigned max_fds, unsigned *nfds)
{
	int err = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int tmp[SHM_MAX_FDS + 8];
		if (n > sizeof(tmp) / sizeof(tmp[0]))
			n = sizeof(tmp) / sizeof(tmp[0]);
		memcpy(tmp, CMSG_DATA(c), n * sizeof(int));
		for (size_t i = 0; i < n; i++) {
			if (*nfds < max_fds)
				fds[(*nfds)++] = tmp[i];
			else {
				close(tmp[i]);
				err = SHMDB_EPROTO;
			}
		}
	}
	if (msg->msg_flags & MSG_CTRUNC)
		err = SHMDB_EPROTO;
	return err;
}

int shm_recv_msg(int sock, void *buf, size_t len, int *fds, unsigned max_fds,
		 unsigned *nfds, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * (SHM_MAX_FDS + 8))];
		struct cmsghdr align;
	} ctl;
	int64_t deadline = shm_now_ms() + timeout_ms;
	size_t got = 0;
	int err = 0;

	*nfds = 0;
	while (got < len) {
		int64_t left = deadline - shm_now_ms();
		if (left <= 0) {
			err = -ETIMEDOUT;
			break;
		}
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			continue;
		struct iovec iov = { .iov_base = (char *)buf + got, .iov_len = len - got };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			err = errno == ECONNRESET ? SHMDB_EPROTO : -errno;
			break;
		}
		int ferr = collect_fds(&msg, fds, max_fds, nfds);
		if (ferr) {
			err = ferr;
			break;
		}
		if (n == 0) {
			err = SHMDB_EPROTO;
			break;
		}
		got += (size_t)n;
	}
	if (err)
		close_all(fds, nfds);
	return err;
}

int shm_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen = strlen(path);

	if (plen == 0)
		return -EINVAL;
	if (plen >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, plen + 1);

	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	while (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		close(s);
		if (e == ENOENT || e == ECONNREFUSED)
			return SHMDB_ENODAEMON;
		return -e;
	}
	return s;
}

/* The hello with `flags`, and a welcome with `want` descriptors (at
 * least, for a session; exactly, for a report). */
static int exchange(int sock, uint32_t flags, unsigned want, struct shm_welcome *w, int *fds,
		    unsigned *nfds)
{
	struct shm_hello h = {
		.magic = SHM_HELLO_MAGIC,
		.proto_version = SHM_PROTO_VERSION,
		.flags = flags,
	};
	*nfds = 0;
	int err = shm_send_msg(sock, &h, sizeof(h), NULL, 0);
	if (err)
		return err == -EPIPE || err == -ECONNRESET ? SHMDB_ENODAEMON : err;
	err = shm_recv_msg(sock, w, sizeof(*w), fds, SHM_MAX_FDS, nfds,
			   SHM_HANDSHAKE_TIMEOUT_MS);
	if (err)
		return err;
	if (w->magic != SHM_WELCOME_MAGIC)
		err = SHMDB_EPROTO;
	else if (w->proto_version != SHM_PROTO_VERSION)
		err = SHMDB_EVERSION;
	else if (w->status != 0)
		err = w->status < 0 ? w->status : SHMDB_EPROTO;
	else if (w->nfds != *nfds || *nfds < want || (flags & SHM_HELLO_REPORT && *nfds != want))
		err = SHMDB_EPROTO;
	if (err)
		close_all(fds, nfds);
	return err;
}

int shm_handshake(int sock, struct shm_welcome *w, int *fds, unsigned *nfds)
{
	return exchange(sock, 0, SHM_FD_ARENA0 + 1, w, fds, nfds);
}

int shm_report_request(int sock, int *fd)
{
	struct shm_welcome w;
	int fds[SHM_MAX_FDS];
	unsigned n;
	int err = exchange(sock, SHM_HELLO_REPORT, 1, &w, fds, &n);
	if (!err)
		*fd = fds[0];
	return err;
}
