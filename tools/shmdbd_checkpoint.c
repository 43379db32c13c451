/*
 * shmdbd_checkpoint.c - shmdbd-checkpoint, the program shmdbd runs to
 * write a checkpoint: a client of the daemon that opens one snapshot and
 * writes it to --out as a dump file flagged SHM_DUMP_CHECKPOINT with the
 * store's id, then syncs it.
 *
 * It is a process of its own, at low priority, so that the snapshot walk
 * costs the writer nothing but the versions the snapshot pins, and a
 * fault in it cannot take the daemon down. Exit status 0: --out is whole
 * and on disk; 1: it is removed, and stderr says why.
 *
 *   shmdbd-checkpoint --socket PATH --out FILE --store-id HEX32 --run N
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "shmdb.h"
#include "snapshot_dump.h"

static int parse_id(const char *hex, uint8_t id[16])
{
	if (strlen(hex) != 32)
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		id[i] = (uint8_t)v;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: shmdbd-checkpoint --socket PATH --out FILE --store-id HEX32 "
			"--run N\n"
			"(run by shmdbd to write its checkpoints)\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL, *out = NULL, *hex = NULL, *run = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			socket_path = argv[i + 1];
		else if (!strcmp(argv[i], "--out"))
			out = argv[i + 1];
		else if (!strcmp(argv[i], "--store-id"))
			hex = argv[i + 1];
		else if (!strcmp(argv[i], "--run"))
			run = argv[i + 1];
		else
			return usage();
	}
	struct shm_dump_header h = { .flags = SHM_DUMP_CHECKPOINT };
	char *end;
	if (!socket_path || !out || !hex || !run || argc % 2 == 0 || parse_id(hex, h.store_id))
		return usage();
	h.run = strtoull(run, &end, 10);
	if (*end || !h.run)
		return usage();

	setpriority(PRIO_PROCESS, 0, 19);
	shmdb *db;
	shmdb_rtxn *r = NULL;
	char why[512] = "";
	int fd = -1;
	int e = shmdb_open(socket_path, &db);
	if (e) {
		fprintf(stderr, "shmdbd-checkpoint: %s: %s\n", socket_path, shmdb_strerror(e));
		return 1;
	}
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = -errno;
		snprintf(why, sizeof(why), "%s", strerror(errno));
	}
	if (!e && (e = shmdb_read_begin(db, &r)))
		snprintf(why, sizeof(why), "a snapshot: %s", shmdb_strerror(e));
	struct shm_dump_writer w;
	if (!e)
		e = snapshot_dump(r, fd, &h, NULL, &w, why, sizeof(why));
	if (r)
		shmdb_read_end(r);
	if (!e && fsync(fd)) {
		e = -errno;
		snprintf(why, sizeof(why), "fsync: %s", strerror(errno));
	}
	if (fd >= 0 && close(fd) && !e) {
		e = -errno;
		snprintf(why, sizeof(why), "close: %s", strerror(errno));
	}
	shmdb_close(db);
	if (e) {
		unlink(out);
		fprintf(stderr, "shmdbd-checkpoint: %s: %s\n", out, why);
		return 1;
	}
	return 0;
}
