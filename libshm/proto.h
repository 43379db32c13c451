/*
 * proto.h - the attach handshake on the daemon's UNIX stream socket, shared
 * by libshmdb and shmdbd.
 *
 * One exchange per connection:
 *   client -> daemon  struct shm_hello (16 bytes)
 *   daemon -> client  struct shm_welcome (48 bytes); when status is 0 it
 *                     carries, as SCM_RIGHTS, nfds descriptors in this order:
 *                     meta, session, doorbell, arena 0 .. arena_count-1.
 * After that the connection carries nothing: it stays open for as long as the
 * session lives, and either side closing it ends the session. A client that
 * sends anything more is dropped.
 *
 * A hello with SHM_HELLO_REPORT asks for the daemon's report instead of a
 * session: the welcome (session_id 0) carries one descriptor, a sealed
 * memfd holding the report below, and the daemon closes the connection.
 */
#ifndef SHMDB_PROTO_H
#define SHMDB_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define SHM_HELLO_MAGIC   0x4f4c4c48u /* "HLLO" */
#define SHM_WELCOME_MAGIC 0x4d4f4c57u /* "WLOM" */
#define SHM_PROTO_VERSION 2u

/* Descriptors a welcome can carry: meta, session, and one per arena. */
#define SHM_FD_META 0
#define SHM_FD_SESSION 1
#define SHM_FD_DOORBELL 2
#define SHM_FD_ARENA0 3
#define SHM_MAX_FDS (SHM_FD_ARENA0 + SHM_MAX_ARENAS)

/* How long a client waits for the welcome, and a daemon for the hello. */
#define SHM_HANDSHAKE_TIMEOUT_MS 5000

/* shm_hello.flags */
#define SHM_HELLO_REPORT 1u  /* the daemon's report, not a session */

/*
 *  0  u32 magic          SHM_HELLO_MAGIC
 *  4  u32 proto_version  SHM_PROTO_VERSION
 *  8  u32 flags          0, or SHM_HELLO_REPORT
 * 12  u32 reserved       0
 */
struct shm_hello {
	uint32_t magic;
	uint32_t proto_version;
	uint32_t flags;
	uint32_t reserved;
};

/*
 *  0  u32 magic          SHM_WELCOME_MAGIC
 *  4  u32 proto_version  SHM_PROTO_VERSION
 *  8  i32 status         0, or the negative code the client's open returns
 * 12  u32 nfds           descriptors attached (0 unless status is 0)
 * 16  u64 session_id
 * 24  u64 range_size     bytes the client reserves for the store
 * 32  u64 range_align    alignment of that reservation
 * 40  u64 meta_size      bytes of the meta segment at range offset 0
 */
struct shm_welcome {
	uint32_t magic;
	uint32_t proto_version;
	int32_t status;
	uint32_t nfds;
	uint64_t session_id;
	uint64_t range_size;
	uint64_t range_align;
	uint64_t meta_size;
};

/*
 * The report: figures only the daemon holds, as of one moment of its main
 * thread. A header, then nsessions session records, then ntables table
 * records (only tables with versions waiting), then npins pin records
 * (cpus that threads pinned themselves to with shmdb_pin_thread, from the
 * reader slots); little-endian, packed as the structs are. The library checks every count against the memfd's
 * size before reading.
 *
 * header, 32 bytes:
 *  0  u64 magic          SHM_REPORT_MAGIC
 *  8  u32 version        SHM_REPORT_VERSION
 * 12  u32 nsessions
 * 16  u32 ntables
 * 20  u32 npins
 * 24  u64 taken_ns       CLOCK_MONOTONIC when it was taken
 * session, 48 bytes:
 *  0  u64 id             as in its welcome
 *  8  u32 pid            its client's, at connect
 * 12  u32 snapshots      reader slots holding a snapshot now
 * 16  u64 ring_depth     submitted bytes the writer has not consumed
 * 24  u64 ring_size      bytes of its submission ring
 * 32  u64 ring_full      submissions that found the ring full (the client's count)
 * 40  u64 commits        transactions the writer completed for it
 * table, 24 bytes:
 *  0  u32 id             the table
 *  4  u32 reserved
 *  8  u64 versions       replaced versions waiting for reclamation
 * 16  u64 bytes          their bytes
 * pin, 8 bytes:
 *  0  u32 cpu
 *  4  u32 threads        threads of every session pinned there now
 */
#define SHM_REPORT_MAGIC 0x54524f5045524d53ull /* "SMREPORT" */
#define SHM_REPORT_VERSION 2u
struct shm_report_header {
	uint64_t magic;
	uint32_t version;
	uint32_t nsessions;
	uint32_t ntables;
	uint32_t npins;
	uint64_t taken_ns;
};
struct shm_report_session {
	uint64_t id;
	uint32_t pid;
	uint32_t snapshots;
	uint64_t ring_depth;
	uint64_t ring_size;
	uint64_t ring_full;
	uint64_t commits;
};
struct shm_report_table {
	uint32_t id;
	uint32_t reserved;
	uint64_t versions;
	uint64_t bytes;
};
struct shm_report_pin {
	uint32_t cpu;
	uint32_t threads;
};
_Static_assert(sizeof(struct shm_report_pin) == 8, "report pin");
_Static_assert(sizeof(struct shm_report_header) == 32, "report header");
_Static_assert(sizeof(struct shm_report_session) == 48, "report session");
_Static_assert(sizeof(struct shm_report_table) == 24, "report table");

_Static_assert(sizeof(struct shm_hello) == 16, "hello is 16 bytes");
_Static_assert(sizeof(struct shm_welcome) == 48, "welcome is 48 bytes");

/*
 * shm_send_msg - send `len` bytes and, if nfds > 0, the descriptors as one
 * SCM_RIGHTS message, with MSG_NOSIGNAL. Returns 0 or -errno (-EPIPE if the
 * peer is gone, -EAGAIN if a non-blocking socket is full).
 */
int shm_send_msg(int sock, const void *buf, size_t len, const int *fds, unsigned nfds);

/*
 * shm_recv_msg - receive exactly `len` bytes, waiting at most timeout_ms in
 * total, collecting up to `max_fds` descriptors (close-on-exec) into fds[]
 * and their number into *nfds. Descriptors beyond max_fds, or a truncated
 * control message, make it fail with SHMDB_EPROTO; on any failure every
 * received descriptor is closed and *nfds is 0.
 * Returns 0, -ETIMEDOUT, SHMDB_EPROTO (peer closed early) or -errno.
 */
int shm_recv_msg(int sock, void *buf, size_t len, int *fds, unsigned max_fds,
		 unsigned *nfds, int timeout_ms);

/*
 * shm_connect - a blocking, close-on-exec stream socket connected to `path`.
 * Returns the descriptor, or SHMDB_ENODAEMON (no socket file, or nobody
 * listening), -EACCES, -ENAMETOOLONG, or another -errno.
 */
int shm_connect(const char *path);

/*
 * shm_handshake - send the hello on `sock` and receive the welcome and its
 * descriptors (at most SHM_MAX_FDS, into fds[]). Returns 0 with *w filled and
 * *nfds == w->nfds, or the daemon's refusal status, or what shm_recv_msg
 * returns. On failure no descriptor is left open.
 */
int shm_handshake(int sock, struct shm_welcome *w, int *fds, unsigned *nfds);

/* shm_report_request - ask for the daemon's report on `sock` (a new
 * connection): 0 with *fd its memfd, or as shm_handshake fails. */
int shm_report_request(int sock, int *fd);

#endif /* SHMDB_PROTO_H */
