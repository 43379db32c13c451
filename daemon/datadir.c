/*
 * datadir.c - opening, locking and listing a data dir (see datadir.h).
 *
 * Invariants: a STORE file is written whole and synced (file and dir)
 * before anything else goes into a new dir, so a dir with segments or
 * checkpoints always has one; the lock is held for the daemon's life
 * (closing lock_fd releases it; pidlock.h says what a dead daemon's child
 * does to it).
 */
#include "datadir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pidlock.h"
#include "storefile.h"

/* mkdir -p path. */
static int make_dirs(const char *path)
{
	char p[4096];
	if (strlen(path) >= sizeof(p))
		return -ENAMETOOLONG;
	strcpy(p, path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0700) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static int lock_dir(struct datadir *d, const char *path, char *err, size_t errlen)
{
	d->lock_fd = openat(d->fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s/LOCK: %s", path, strerror(e));
		return -e;
	}
	char pid[24];
	if (pidlock_acquire(d->lock_fd, pid, sizeof(pid))) {
		snprintf(err, errlen, "data dir %s is in use by another shmdbd (pid %s)", path,
			 pid[0] ? pid : "?");
		return -EBUSY;
	}
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(d->lock_fd, 0) || pwrite(d->lock_fd, pid, (size_t)n, 0) != n) {
		int e = errno;
		snprintf(err, errlen, "%s/LOCK: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

/* Record name in the listing if it is a segment or a checkpoint; say
 * whether the dir holds anything but LOCK. */
static int list_one(struct datadir *d, const char *name, size_t *capsegs, size_t *capckpts)
{
	unsigned long long v;
	int used = 0;
	uint64_t **arr = NULL;
	size_t *n = NULL, *cap = NULL;
	if (sscanf(name, "log-%16llx.shmlog%n", &v, &used) == 1 && strlen(name) == 27 &&
	    used == 27) {
		arr = &d->segs, n = &d->nsegs, cap = capsegs;
	} else if (sscanf(name, "checkpoint-%16llx.shmck%n", &v, &used) == 1 &&
		   strlen(name) == 33 && used == 33) {
		arr = &d->ckpts, n = &d->nckpts, cap = capckpts;
	} else {
		return 0;
	}
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		uint64_t *p = realloc(*arr, c * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = c;
	}
	(*arr)[(*n)++] = v;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* List the dir; *others: files besides LOCK (and STORE) there. */
static int list_dir(struct datadir *d, int *others)
{
	size_t capsegs = 0, capckpts = 0;
	int fd = dup(d->fd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	struct dirent *e;
	int r = 0;
	*others = 0;
	while (!r && (e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "LOCK") || !strcmp(e->d_name, "STORE"))
			continue;
		if (!strcmp(e->d_name, "checkpoint.tmp")) {
			unlinkat(d->fd, e->d_name, 0); /* a crash's, never renamed */
			continue;
		}
		*others = 1;
		r = list_one(d, e->d_name, &capsegs, &capckpts);
	}
	closedir(dir);
	if (d->nsegs)
		qsort(d->segs, d->nsegs, sizeof(*d->segs), cmp_u64);
	if (d->nckpts)
		qsort(d->ckpts, d->nckpts, sizeof(*d->ckpts), cmp_u64);
	return r;
}

static int write_store(struct datadir *d, const char *path, char *err, size_t errlen)
{
	uint8_t buf[SHM_STORE_FILE_SIZE];
	if (getrandom(d->store_id, sizeof(d->store_id), 0) != sizeof(d->store_id)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -EIO;
	}
	shm_store_file_encode(buf, d->store_id);
	int fd = openat(d->fd, "STORE", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int e = 0;
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || fsync(fd) ||
	    fsync(d->fd))
		e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	if (e)
		snprintf(err, errlen, "%s/STORE: %s", path, strerror(e));
	d->created = 1;
	return -e;
}

static int read_store(struct datadir *d, const char *path, char *err, size_t errlen)
{
	uint8_t buf[SHM_STORE_FILE_SIZE + 1];
	int fd = openat(d->fd, "STORE", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || shm_store_file_decode(buf, (size_t)n, d->store_id)) {
		snprintf(err, errlen, "%s/STORE is not a shmdb store file, or is damaged", path);
		return -EBADMSG;
	}
	return 0;
}

int datadir_open(struct datadir *d, const char *path, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->fd = d->lock_fd = -1;
	snprintf(d->path, sizeof(d->path), "%s", path);
	int e = make_dirs(path);
	if (e) {
		snprintf(err, errlen, "data dir %s: %s", path, strerror(-e));
		return e;
	}
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0) {
		e = -errno;
		snprintf(err, errlen, "data dir %s: %s", path, strerror(-e));
		return e;
	}
	if ((e = lock_dir(d, path, err, errlen)))
		goto fail;
	int others = 0;
	if ((e = list_dir(d, &others))) {
		snprintf(err, errlen, "data dir %s: %s", path, strerror(-e));
		goto fail;
	}
	e = read_store(d, path, err, errlen);
	if (e == -ENOENT && !others) {
		e = write_store(d, path, err, errlen);
	} else if (e == -ENOENT) {
		snprintf(err, errlen, "data dir %s has files but no STORE: not a shmdb store's", path);
		e = -EBADMSG;
	} else if (e && e != -EBADMSG) {
		snprintf(err, errlen, "%s/STORE: %s", path, strerror(-e));
	}
	if (e)
		goto fail;
	return 0;
fail:
	datadir_close(d);
	return e;
}

void datadir_close(struct datadir *d)
{
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	if (d->fd >= 0)
		close(d->fd);
	free(d->segs);
	free(d->ckpts);
	d->segs = d->ckpts = NULL;
	d->fd = d->lock_fd = -1;
}
