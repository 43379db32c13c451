/*
 * report_api.c - shmdb_report_get: the daemon's report (proto.h) over a
 * connection of its own, read from the sealed memfd the daemon sends and
 * copied into one allocation for the caller. Every count is checked
 * against the memfd's size before anything is read: a report that does not
 * add up is SHMDB_EPROTO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_internal.h"
#include "proto.h"

/* The report's bytes from memfd fd into a new buffer: 0 with *buf, *len. */
static int read_all(int fd, uint8_t **buf, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	size_t n = (size_t)st.st_size;
	if (n < sizeof(struct shm_report_header) || n > (64u << 20))
		return SHMDB_EPROTO;
	uint8_t *b = malloc(n);
	if (!b)
		return -ENOMEM;
	if (pread(fd, b, n, 0) != (ssize_t)n) {
		free(b);
		return SHMDB_EPROTO;
	}
	*buf = b;
	*len = n;
	return 0;
}

static int parse(shmdb *db, const uint8_t *b, size_t len, shmdb_report **out)
{
	struct shm_report_header h;
	memcpy(&h, b, sizeof(h));
	size_t need = sizeof(h) + (size_t)h.nsessions * sizeof(struct shm_report_session) +
		      (size_t)h.ntables * sizeof(struct shm_report_table) +
		      (size_t)h.npins * sizeof(struct shm_report_pin);
	if (h.magic != SHM_REPORT_MAGIC || h.version != SHM_REPORT_VERSION || need != len)
		return SHMDB_EPROTO;
	shmdb_report *r = calloc(1, sizeof(*r) + h.nsessions * sizeof(shmdb_session_info) +
					h.ntables * sizeof(shmdb_table_waiting) +
					h.npins * sizeof(shmdb_cpu_pins));
	if (!r)
		return -ENOMEM;
	r->taken_ns = h.taken_ns;
	r->nsessions = h.nsessions;
	r->ntables = h.ntables;
	r->sessions = (shmdb_session_info *)(r + 1);
	r->tables = (shmdb_table_waiting *)(r->sessions + h.nsessions);
	r->npins = h.npins;
	r->pins = (shmdb_cpu_pins *)(r->tables + h.ntables);
	const uint8_t *p = b + sizeof(h);
	for (size_t i = 0; i < h.nsessions; i++, p += sizeof(struct shm_report_session)) {
		struct shm_report_session s;
		memcpy(&s, p, sizeof(s));
		r->sessions[i] = (shmdb_session_info){
			.id = s.id, .pid = s.pid, .snapshots = s.snapshots, .ring_depth = s.ring_depth,
			.ring_size = s.ring_size, .ring_full = s.ring_full, .commits = s.commits,
			.self = s.id == db->session_id,
		};
	}
	for (size_t i = 0; i < h.ntables; i++, p += sizeof(struct shm_report_table)) {
		struct shm_report_table t;
		memcpy(&t, p, sizeof(t));
		r->tables[i] = (shmdb_table_waiting){ .id = t.id, .versions = t.versions,
						      .bytes = t.bytes };
	}
	for (size_t i = 0; i < h.npins; i++, p += sizeof(struct shm_report_pin)) {
		struct shm_report_pin pin;
		memcpy(&pin, p, sizeof(pin));
		r->pins[i] = (shmdb_cpu_pins){ .cpu = pin.cpu, .threads = pin.threads };
	}
	*out = r;
	return 0;
}

int shmdb_report_get(shmdb *db, shmdb_report **out)
{
	if (!db || !out)
		return -EINVAL;
	*out = NULL;
	int sock = shm_connect(db->socket_path);
	if (sock < 0)
		return sock;
	int fd = -1, err = shm_report_request(sock, &fd);
	close(sock);
	if (err)
		return err;
	uint8_t *buf = NULL;
	size_t len = 0;
	err = read_all(fd, &buf, &len);
	close(fd);
	if (err)
		return err;
	err = parse(db, buf, len, out);
	free(buf);
	return err;
}

void shmdb_report_free(shmdb_report *r)
{
	free(r);
}
