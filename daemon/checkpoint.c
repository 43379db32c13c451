/*
 * checkpoint.c - the checkpointer thread (see checkpoint.h).
 *
 * Invariants: at most one checkpoint is written at a time; a checkpoint
 * file exists under its final name only once it is whole and synced, and
 * its rename is synced before anything it replaces (older checkpoints, the
 * log it holds) is deleted, so a crash at any point leaves a newest
 * checkpoint plus the log after it. The meta figures are statistics for
 * clients, relaxed, except checkpoint_ts and checkpoint_failures, stored
 * with release order after the other figures (shmdb_checkpoint polls them).
 */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dumpfile.h"
#include "log.h"
#include "storefile.h"

#define RETRY_AFTER_NS (10ull * 1000000000ull)
#define TMP_NAME "checkpoint.tmp"

static uint64_t realtime_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* Run shmdbd-checkpoint to DIR/checkpoint.tmp and wait for it: 0, or why not. */
static int run_writer(struct checkpointer *ck, char *why, size_t whylen)
{
	char out[4200], id[33], run[24];
	snprintf(out, sizeof(out), "%s/" TMP_NAME, ck->d->path);
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", ck->d->store_id[i]);
	snprintf(run, sizeof(run), "%" PRIu64, ck->run);
	char *argv[] = { ck->program, "--socket", ck->socket, "--out",
			 out, "--store-id", id, "--run", run, NULL };
	pthread_mutex_lock(&ck->mu);
	if (ck->stop) {
		pthread_mutex_unlock(&ck->mu);
		return -ECANCELED;
	}
	/* The child holds a copy of every descriptor of the daemon until its
	 * exec closes them, the lock files among them: it does as little as it
	 * can before (the program lowers its own priority), so that a daemon
	 * killed meanwhile leaves its locks to the next one at once
	 * (pidlock.h). */
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execv(ck->program, argv);
		_exit(127);
	}
	ck->child = pid > 0 ? pid : 0;
	pthread_mutex_unlock(&ck->mu);
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -errno;
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			st = -1;
			break;
		}
	pthread_mutex_lock(&ck->mu);
	ck->child = 0;
	int stopping = ck->stop;
	pthread_mutex_unlock(&ck->mu);
	if (stopping) {
		unlinkat(ck->d->fd, TMP_NAME, 0);
		return -ECANCELED;
	}
	if (st == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		snprintf(why, whylen, "cannot run %.300s", ck->program);
	else if (WIFEXITED(st))
		snprintf(why, whylen, "%.300s exited with status %d", ck->program, WEXITSTATUS(st));
	else
		snprintf(why, whylen, "%.300s was killed by signal %d", ck->program,
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return -EIO;
}

/* Read the header of DIR/checkpoint.tmp: its commit and size. */
static int read_header(struct checkpointer *ck, uint64_t *ts, uint64_t *bytes, char *why,
		       size_t whylen)
{
	int fd = openat(ck->d->fd, TMP_NAME, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(why, whylen, TMP_NAME ": %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	struct shm_dump_reader r;
	int e = shm_dump_read_begin(&r, fd);
	if (!e && (!(r.header.flags & SHM_DUMP_CHECKPOINT) || r.header.run != ck->run ||
		   memcmp(r.header.store_id, ck->d->store_id, 16)))
		e = -EBADMSG;
	if (e)
		snprintf(why, whylen, TMP_NAME ": not a checkpoint of this store (%s)", r.err);
	*ts = r.header.commit_ts;
	*bytes = (uint64_t)st.st_size;
	shm_dump_read_end(&r);
	close(fd);
	return e;
}

/* Delete every checkpoint older than ts. */
static void remove_older(struct checkpointer *ck, uint64_t ts)
{
	for (size_t i = 0; i < ck->d->nckpts; i++) {
		if (ck->d->ckpts[i] >= ts)
			continue;
		char name[64];
		shm_checkpoint_name(name, sizeof(name), ck->d->ckpts[i]);
		if (unlinkat(ck->d->fd, name, 0) && errno != ENOENT)
			log_line("cannot remove %s: %s", name, strerror(errno));
	}
	/* The list now names the one checkpoint kept (a new store's list
	 * was empty: room for it). */
	if (!ck->d->nckpts) {
		uint64_t *one = realloc(ck->d->ckpts, sizeof(*one));
		if (!one)
			return; /* (the next checkpoint tries again) */
		ck->d->ckpts = one;
	}
	ck->d->ckpts[0] = ts;
	ck->d->nckpts = 1;
}

static void failed(struct checkpointer *ck, int e, const char *why)
{
	log_line("checkpoint failed: %s", why);
	unlinkat(ck->d->fd, TMP_NAME, 0);
	__atomic_store_n(&ck->meta->checkpoint_error, e, __ATOMIC_RELAXED);
	__atomic_store_n(&ck->meta->checkpoint_failures, ck->meta->checkpoint_failures + 1,
			 __ATOMIC_RELEASE);
	ck->retry_ns = shm_now_ns() + RETRY_AFTER_NS;
}

static void checkpoint_once(struct checkpointer *ck)
{
	char why[512] = "";
	uint64_t t0 = shm_now_ns(), began = wal_checkpoint_began(ck->wal), ts, bytes;
	int e = run_writer(ck, why, sizeof(why));
	if (!e)
		e = read_header(ck, &ts, &bytes, why, sizeof(why));
	char name[64];
	if (!e) {
		shm_checkpoint_name(name, sizeof(name), ts);
		if (renameat(ck->d->fd, TMP_NAME, ck->d->fd, name) || fsync(ck->d->fd)) {
			e = -errno;
			snprintf(why, sizeof(why), "rename to %s: %s", name, strerror(errno));
		}
	}
	if (e == -ECANCELED)
		return;
	if (e) {
		failed(ck, e, why);
		return;
	}
	remove_older(ck, ts);
	unsigned gone = wal_forget_upto(ck->wal, ts);
	wal_checkpoint_done(ck->wal, began);
	struct shm_meta *m = ck->meta;
	__atomic_store_n(&m->checkpoint_bytes, bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&m->checkpoint_ns, realtime_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&m->checkpoint_error, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&m->checkpoints, m->checkpoints + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&m->checkpoint_ts, ts, __ATOMIC_RELEASE);
	log_line("checkpoint %s: commit %" PRIu64 ", %" PRIu64 " KiB in %" PRIu64
		 " ms; %u log segment%s removed",
		 name, ts, bytes >> 10, (shm_now_ns() - t0) / 1000000, gone, gone == 1 ? "" : "s");
}

static void *checkpoint_main(void *arg)
{
	struct checkpointer *ck = arg;
	pthread_mutex_lock(&ck->mu);
	for (;;) {
		while (!ck->requested && !ck->stop)
			pthread_cond_wait(&ck->cond, &ck->mu);
		if (ck->stop)
			break;
		ck->requested = 0;
		pthread_mutex_unlock(&ck->mu);
		/* Nothing committed since the newest checkpoint: it answers. */
		uint64_t commit = __atomic_load_n(&ck->meta->commit_ts, __ATOMIC_ACQUIRE);
		if (commit != __atomic_load_n(&ck->meta->checkpoint_ts, __ATOMIC_RELAXED))
			checkpoint_once(ck);
		pthread_mutex_lock(&ck->mu);
	}
	pthread_mutex_unlock(&ck->mu);
	return NULL;
}

void checkpointer_request(struct checkpointer *ck)
{
	pthread_mutex_lock(&ck->mu);
	ck->requested = 1;
	pthread_cond_signal(&ck->cond);
	pthread_mutex_unlock(&ck->mu);
}

void checkpointer_tick(void *ctx)
{
	struct checkpointer *ck = ctx;
	if (wal_since_checkpoint(ck->wal) >= ck->every && shm_now_ns() >= ck->retry_ns)
		checkpointer_request(ck);
}

/* shmdbd-checkpoint: beside this daemon's executable. */
static int find_program(char *out, size_t cap)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -errno;
	self[n] = 0;
	int w = snprintf(out, cap, "%s/shmdbd-checkpoint", dirname(self));
	if (w < 0 || (size_t)w >= cap)
		return -ENAMETOOLONG;
	return access(out, X_OK) ? -errno : 0;
}

int checkpointer_start(struct checkpointer *ck, struct datadir *d, struct wal *wal,
		       struct shm_meta *meta, const char *socket, uint64_t every, uint64_t run,
		       char *err, size_t errlen)
{
	memset(ck, 0, sizeof(*ck));
	ck->run = run;
	ck->d = d;
	ck->wal = wal;
	ck->meta = meta;
	ck->every = every;
	snprintf(ck->socket, sizeof(ck->socket), "%s", socket);
	int e = find_program(ck->program, sizeof(ck->program));
	if (e) {
		snprintf(err, errlen, "%s: %s (it writes the checkpoints)", ck->program, strerror(-e));
		return e;
	}
	pthread_mutex_init(&ck->mu, NULL);
	pthread_cond_init(&ck->cond, NULL);
	if (d->nckpts)
		__atomic_store_n(&meta->checkpoint_ts, d->ckpts[d->nckpts - 1], __ATOMIC_RELEASE);
	e = pthread_create(&ck->thread, NULL, checkpoint_main, ck);
	if (e) {
		snprintf(err, errlen, "checkpoint thread: %s", strerror(e));
		return -e;
	}
	ck->started = 1;
	return 0;
}

void checkpointer_stop(struct checkpointer *ck)
{
	if (!ck->started)
		return;
	pthread_mutex_lock(&ck->mu);
	ck->stop = 1;
	if (ck->child > 0)
		kill(ck->child, SIGTERM);
	pthread_cond_signal(&ck->cond);
	pthread_mutex_unlock(&ck->mu);
	pthread_join(ck->thread, NULL);
	pthread_mutex_destroy(&ck->mu);
	pthread_cond_destroy(&ck->cond);
	ck->started = 0;
}
