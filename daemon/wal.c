/*
 * wal.c - the write-ahead log (see wal.h).
 *
 * Invariants: records are appended to `pend` in commit order, each inside
 * one segment at the offset `off` said; a segment's header goes in front
 * of its first record, in the same batch. A flush takes `pend` whole (or
 * adds it behind an `inflight` a failed flush left), so bytes reach each
 * file in order and a retry rewrites exactly what is not known to be on
 * disk. durable_ts only grows, and only after the fdatasync of every file
 * its batch touched. A file descriptor is closed only by the flusher,
 * after its last bytes are on disk, so no write can reach a reused number.
 *
 * Direct I/O: segments are opened O_DIRECT where the file system allows
 * it (else buffered, the same bytes). Copying a flush's megabytes into the
 * page cache cost the log thread a fifth of a cpu at a million records a
 * second, as much as the writer's own copies; a direct write hands the
 * buffer to the device. So every write is whole WAL_ALIGN blocks from a
 * buffer at a WAL_ALIGN address: a chunk begins at its first record's
 * block, with that block's bytes already in the file (the segment's
 * `tail`, kept by every append) in front, and its last block is padded
 * with zeros, which the next flush writes over with records.
 *
 * Ordering: `mu` orders the writer's appends against the flusher taking
 * them, and guards the making of the next segment (by the log thread
 * ahead of need, or by the writer when a roll finds none); `flush_mu`
 * serialises flushes (the log thread's and, in sync mode, the writer's
 * at the end of its pass; a client's shmdb_sync in async mode kicks the
 * log thread). The figures in the meta segment are
 * statistics for clients: relaxed stores, except durable_ts (release, so
 * that a client that sees it may read the stats written before).
 */
#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "shmdb.h"

#define SYNC_MODE_TICK_NS 20000000ull /* the log thread's round without flushes */
#define WAL_BATCH_START (16u << 20)     /* each batch buffer's bytes from the start */
#define HUGE_ALIGN (2u << 20)           /* a batch buffer's alignment: a huge page's */

static uint64_t align_down(uint64_t v)
{
	return v & ~(uint64_t)(WAL_ALIGN - 1);
}

static uint64_t align_up(uint64_t v)
{
	return align_down(v + WAL_ALIGN - 1);
}

/* Make fd's writes direct if its file system takes them (else they stay
 * buffered: the same bytes, a copy more), unless a direct write was
 * refused before. */
static void go_direct(const struct wal *l, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	/* Relaxed: a hint between threads; a direct fd refused once more
	 * falls back by itself. */
	if (fl >= 0 && !__atomic_load_n(&l->buffered, __ATOMIC_RELAXED))
		fcntl(fd, F_SETFL, fl | O_DIRECT);
}

/* Give fd `size` bytes on disk, rounded up to whole blocks (a flush
 * writes its last block whole). Buffered while it does: where the file
 * system has no fallocate, glibc writes a byte per block instead, which
 * a direct fd refuses. 0 or an errno value. */
static int preallocate(int fd, uint64_t size)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_DIRECT))
		fcntl(fd, F_SETFL, fl & ~O_DIRECT);
	int e = posix_fallocate(fd, 0, (off_t)align_up(size));
	if (fl >= 0 && (fl & O_DIRECT))
		fcntl(fd, F_SETFL, fl);
	return e;
}

static void set_error(struct wal *l, int err)
{
	__atomic_store_n(&l->meta->log_error, err, __ATOMIC_RELAXED);
}

/* Create segment seq, preallocated to `size` bytes, and make its name
 * durable. Returns the fd or -errno. */
static int segment_create(struct wal *l, uint64_t seq, uint64_t size)
{
	char name[64];
	wal_segment_name(name, sizeof(name), seq);
	int fd = openat(l->dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int e = preallocate(fd, size);
	if (!e && fsync(fd))
		e = errno;
	if (!e && fsync(l->dirfd))
		e = errno;
	if (e) {
		close(fd);
		unlinkat(l->dirfd, name, 0);
		return -e;
	}
	go_direct(l, fd);
	return fd;
}

/* b's buffer, at a WAL_ALIGN address, holding at least `need` bytes (its
 * bytes kept). 0 or -ENOMEM. */
static int batch_grow(struct wal_batch *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1u << 16;
	while (cap < need)
		cap *= 2;
	void *p;
	if (posix_memalign(&p, HUGE_ALIGN, cap))
		return -ENOMEM;
	/* Advice only: where the kernel gives huge pages, growing costs a
	 * fault per 2 MiB rather than per 4 KiB, on the writer's path. */
	madvise(p, cap, MADV_HUGEPAGE);
	if (b->len)
		memcpy(p, b->buf, b->len);
	free(b->buf);
	b->buf = p;
	b->cap = cap;
	return 0;
}

/* Room for `bytes` more, wherever batch_place puts them: with a new
 * chunk's alignment and head in front, and its last block's padding. */
static int batch_reserve(struct wal_batch *b, size_t bytes)
{
	if (batch_grow(b, b->len + bytes + 3 * WAL_ALIGN))
		return -ENOMEM;
	if (b->nchunks == b->chunks_cap) {
		size_t cap = b->chunks_cap ? 2 * b->chunks_cap : 8;
		struct wal_chunk *c = realloc(b->chunks, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		b->chunks = c;
		b->chunks_cap = cap;
	}
	return 0;
}

/* Room in b for `bytes` more at file offset `off` of fd: where to write.
 * A new chunk begins at off's block, at a WAL_ALIGN place in the buffer,
 * with `tail` (the block's bytes before off) in front. */
static uint8_t *batch_place(struct wal_batch *b, int fd, uint64_t off, size_t bytes,
			    const uint8_t *tail)
{
	struct wal_chunk *last = b->nchunks ? &b->chunks[b->nchunks - 1] : NULL;
	if (last && last->fd == fd && !last->close_after && last->file_off + last->len == off) {
		last->len += bytes;
	} else {
		size_t at = align_up(b->len), head = off - align_down(off);
		memset(b->buf + b->len, 0, at - b->len);
		memcpy(b->buf + at, tail, head);
		b->chunks[b->nchunks++] = (struct wal_chunk){ .fd = fd, .file_off = off - head,
							      .buf_off = at, .len = head + bytes };
		b->len = at + head;
	}
	uint8_t *p = b->buf + b->len;
	b->len += bytes;
	return p;
}

/* Bytes p[0..n) were placed at offset `off` of the current segment: keep
 * its last block's bytes before the next record in l->tail. */
static void keep_tail(struct wal *l, uint64_t off, const uint8_t *p, size_t n)
{
	uint64_t end = off + n;
	size_t head = end - align_down(end);
	if (!head)
		return;
	if (align_down(off) == align_down(end))
		memcpy(l->tail + (off - align_down(off)), p, n);
	else
		memcpy(l->tail, p + n - head, head);
}

/* The file fd is complete: the flush that writes its last bytes closes it. */
static void batch_close(struct wal_batch *b, int fd)
{
	b->chunks[b->nchunks++] = (struct wal_chunk){ .fd = fd, .close_after = 1,
						      .buf_off = b->len };
}

/* The bytes of l->fd's block before l->off, into l->tail (fd still
 * buffered): l->fd, or -errno (the file closed). */
static int read_tail(struct wal *l)
{
	size_t head = l->off - align_down(l->off);
	ssize_t n = head ? pread(l->fd, l->tail, head, (off_t)align_down(l->off)) : 0;
	if (n < 0 || (size_t)n < head) {
		int e = n < 0 ? -errno : -EIO;
		close(l->fd);
		return e;
	}
	return l->fd;
}

int wal_open(struct wal *l, int dirfd, const uint8_t store_id[16], uint64_t seq,
	     uint64_t tail_off, uint64_t tail_size, uint64_t prev_ts, const struct wal_segment *segs, size_t nsegs, const struct config *cfg,
	     struct shm_meta *meta, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	l->dirfd = dirfd;
	l->mode = cfg->durability;
	l->seg_size = align_up(cfg->log_segment);
	l->flush_ns = (uint64_t)cfg->flush_ms * 1000000ull;
	memcpy(l->store_id, store_id, 16);
	l->meta = meta;
	l->spare_fd = -1;
	l->seq = seq;
	l->size = l->seg_size;
	l->last_ts = prev_ts;
	if (nsegs) {
		l->segs = malloc(nsegs * sizeof(*segs));
		if (!l->segs) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		memcpy(l->segs, segs, nsegs * sizeof(*segs));
		l->nsegs = l->segs_cap = nsegs;
	}
	if (tail_off) { /* the last segment goes on */
		char name[64];
		wal_segment_name(name, sizeof(name), seq);
		l->fd = openat(dirfd, name, O_RDWR | O_CLOEXEC);
		l->fd = l->fd < 0 ? -errno : l->fd;
		l->off = tail_off;
		l->size = tail_size;
		if (l->fd >= 0)
			l->fd = read_tail(l);
		if (l->fd >= 0)
			go_direct(l, l->fd);
	} else {
		l->fd = segment_create(l, seq, l->seg_size);
	}
	if (l->fd < 0) {
		char name[64];
		wal_segment_name(name, sizeof(name), seq);
		snprintf(err, errlen, "log segment %s: %s", name, strerror(-l->fd));
		free(l->segs);
		return l->fd;
	}
	if (batch_grow(&l->pend, WAL_BATCH_START) || batch_grow(&l->inflight, WAL_BATCH_START)) {
		snprintf(err, errlen, "out of memory");
		close(l->fd);
		free(l->segs);
		free(l->pend.buf);
		return -ENOMEM;
	}
	/* Touched now: the writer's appends take no page faults. */
	memset(l->pend.buf, 0, l->pend.cap);
	memset(l->inflight.buf, 0, l->inflight.cap);
	pthread_mutex_init(&l->mu, NULL);
	pthread_mutex_init(&l->flush_mu, NULL);
	pthread_mutex_init(&l->tmu, NULL);
	pthread_cond_init(&l->tcond, NULL);
	__atomic_store_n(&meta->durability, l->mode == DURABILITY_SYNC ? SHMDB_DURABILITY_SYNC
					    : SHMDB_DURABILITY_ASYNC, __ATOMIC_RELAXED);
	__atomic_store_n(&meta->durable_ts, meta->commit_ts, __ATOMIC_RELEASE);
	return 0;
}

/* Refuse a commit: count it and say why. */
static int refuse(struct wal *l, int why)
{
	__atomic_store_n(&l->meta->writes_refused, l->meta->writes_refused + 1, __ATOMIC_RELAXED);
	return why;
}

/*
 * Make the next segment if none is ready. Under mu: the log thread makes
 * it ahead of need, and wal_reserve when a roll finds none (commits that
 * outran the log thread); under one lock, the two never make the same file.
 * Returns 0, or the error its creation failed with (said once in the log).
 */
static int spare_locked(struct wal *l)
{
	if (l->spare_fd >= 0)
		return 0;
	uint64_t seq = l->seq + 1;
	int fd = segment_create(l, seq, l->seg_size);
	if (fd < 0) {
		if (fd != l->spare_err)
			log_line("cannot make the next log segment: %s%s", strerror(-fd),
				 " (commits are refused once the current one is full)");
		l->spare_err = fd;
		return fd;
	}
	l->spare_fd = fd;
	l->spare_size = l->seg_size;
	if (l->spare_err)
		log_line("log segment %llu made: the log has room again", (unsigned long long)seq);
	l->spare_err = 0;
	if (!l->error && !l->fatal)
		set_error(l, 0);
	return 0;
}

/* The log thread's round: the next segment ready before it is needed. */
static void make_spare(struct wal *l)
{
	pthread_mutex_lock(&l->mu);
	spare_locked(l);
	pthread_mutex_unlock(&l->mu);
}

int wal_reserve(struct wal *l, size_t plen, size_t ncreated)
{
	size_t need = wal_record_size(plen, ncreated) + WAL_HEADER_SIZE;
	int r = 0;
	pthread_mutex_lock(&l->mu);
	if (l->fatal) {
		r = refuse(l, l->fatal);
	} else if (l->mode == DURABILITY_ASYNC && l->error) {
		r = refuse(l, SHMDB_ENOLOG);
	} else if (l->off + need <= l->size) {
		r = 0;
	} else if (l->off == 0) {
		/* A record larger than a segment: this unused one grows. */
		int e = preallocate(l->fd, need);
		if (e)
			r = refuse(l, l->mode == DURABILITY_SYNC ? -e : SHMDB_ENOLOG);
		else
			l->size = align_up(need);
	} else if (spare_locked(l)) {
		/* No next segment: the disk is full (or its creation failed). */
		set_error(l, l->spare_err ? l->spare_err : -ENOSPC);
		r = refuse(l, l->mode == DURABILITY_SYNC ? -ENOSPC : SHMDB_ENOLOG);
	} else {
		int e = l->spare_size < need ? preallocate(l->spare_fd, need) : 0;
		if (e || batch_reserve(&l->pend, 0)) {
			r = refuse(l, l->mode == DURABILITY_SYNC ? -(e ? e : ENOMEM) : SHMDB_ENOLOG);
		} else {
			batch_close(&l->pend, l->fd);
			l->fd = l->spare_fd;
			l->size = l->spare_size < need ? align_up(need) : l->spare_size;
			l->spare_fd = -1;
			l->seq++;
			l->off = 0;
			pthread_cond_signal(&l->tcond); /* make the next one */
		}
	}
	if (!r && batch_reserve(&l->pend, need))
		r = refuse(l, -ENOMEM);
	pthread_mutex_unlock(&l->mu);
	return r;
}

void wal_append(struct wal *l, uint32_t kind, uint64_t ts, const uint8_t *payload, size_t plen,
		const uint32_t *created, size_t ncreated)
{
	size_t len = wal_record_size(plen, ncreated);
	pthread_mutex_lock(&l->mu);
	/* The room wal_reserve made may be gone: a flush between the two
	 * took pend's buffers and left it others (take_pending). */
	if (batch_reserve(&l->pend, WAL_HEADER_SIZE + len)) {
		log_line("the log is out of memory: commits are refused from now on");
		l->fatal = -ENOMEM;
		set_error(l, -ENOMEM);
		pthread_mutex_unlock(&l->mu);
		return;
	}
	if (l->off == 0) {
		if (l->nsegs == l->segs_cap) {
			size_t cap = l->segs_cap ? 2 * l->segs_cap : 16;
			struct wal_segment *s = realloc(l->segs, cap * sizeof(*s));
			if (s) {
				l->segs = s;
				l->segs_cap = cap;
			}
		}
		if (l->nsegs < l->segs_cap)
			l->segs[l->nsegs++] = (struct wal_segment){ l->seq, ts };
		struct wal_segment_header h;
		wal_header_encode(&h, l->seq, l->store_id, ts, l->last_ts);
		memcpy(batch_place(&l->pend, l->fd, 0, sizeof(h), l->tail), &h, sizeof(h));
		keep_tail(l, 0, (const uint8_t *)&h, sizeof(h));
		l->off = sizeof(h);
	}
	uint8_t *rec = batch_place(&l->pend, l->fd, l->off, len, l->tail);
	wal_record_encode(rec, kind, ts, payload, plen, created, ncreated);
	keep_tail(l, l->off, rec, len);
	l->off += len;
	l->pend.last_ts = ts;
	l->last_ts = ts;
	l->since_checkpoint += len;
	__atomic_store_n(&l->meta->log_bytes, l->since_checkpoint, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->mu);
}

/* Move what pend holds behind inflight. Under flush_mu. */
static int take_pending(struct wal *l)
{
	int r = 0;
	pthread_mutex_lock(&l->mu);
	struct wal_batch *p = &l->pend, *f = &l->inflight;
	if (!f->len && !f->nchunks) {
		struct wal_batch t = *f;
		*f = *p;
		*p = t;
		p->len = p->nchunks = 0;
		p->last_ts = 0;
	} else if (p->len || p->nchunks) {
		/* (pend's chunks begin at WAL_ALIGN places: they stay so) */
		size_t at = align_up(f->len);
		if (batch_grow(f, at + p->len + WAL_ALIGN)) {
			r = -ENOMEM;
		} else {
			struct wal_chunk *c = realloc(f->chunks, (f->nchunks + p->nchunks) * sizeof(*c));
			if (!c) {
				r = -ENOMEM;
			} else {
				f->chunks = c;
				f->chunks_cap = f->nchunks + p->nchunks;
				for (size_t i = 0; i < p->nchunks; i++) {
					f->chunks[f->nchunks] = p->chunks[i];
					f->chunks[f->nchunks++].buf_off += at;
				}
				memset(f->buf + f->len, 0, at - f->len);
				memcpy(f->buf + at, p->buf, p->len);
				f->len = at + p->len;
				if (p->last_ts)
					f->last_ts = p->last_ts;
				p->len = p->nchunks = 0;
				p->last_ts = 0;
			}
		}
	}
	pthread_mutex_unlock(&l->mu);
	return r;
}

/* p[0..n) at offset off of fd. A direct write the device refuses
 * (EINVAL: it wants more alignment than WAL_ALIGN) or that went short (the
 * rest would not be aligned) goes on buffered. 0 or -errno. */
static int write_all(struct wal *l, int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0) {
			int e = errno, fl = fcntl(fd, F_GETFL);
			if (e == EINTR)
				continue;
			if (e == EINVAL && fl >= 0 && (fl & O_DIRECT) &&
			    fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0) {
				if (!__atomic_load_n(&l->buffered, __ATOMIC_RELAXED))
					log_line("the log's direct writes are refused here: "
						 "written buffered from now on");
				__atomic_store_n(&l->buffered, 1, __ATOMIC_RELAXED);
				continue;
			}
			return -e;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Write and sync inflight; on success it is empty. Under flush_mu. */
static int flush_inflight(struct wal *l)
{
	struct wal_batch *f = &l->inflight;
	for (size_t i = 0; i < f->nchunks; i++) {
		/* Whole blocks: the last one padded with zeros (room for
		 * them is reserved, and no later chunk begins before). */
		const struct wal_chunk *c = &f->chunks[i];
		size_t whole = align_up(c->len);
		memset(f->buf + c->buf_off + c->len, 0, whole - c->len);
		int e = c->len ? write_all(l, c->fd, f->buf + c->buf_off, whole, c->file_off) : 0;
		if (e)
			return e;
	}
	/* One fdatasync per file the batch touched, in order. */
	for (size_t i = 0; i < f->nchunks; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = f->chunks[j].fd == f->chunks[i].fd;
		if (!seen && fdatasync(f->chunks[i].fd))
			return -errno;
	}
	for (size_t i = 0; i < f->nchunks; i++)
		if (f->chunks[i].close_after)
			close(f->chunks[i].fd);
	if (f->last_ts > l->meta->durable_ts)
		__atomic_store_n(&l->meta->durable_ts, f->last_ts, __ATOMIC_RELEASE);
	f->len = f->nchunks = 0;
	f->last_ts = 0;
	return 0;
}

int wal_flush(struct wal *l)
{
	pthread_mutex_lock(&l->flush_mu);
	int r = take_pending(l);
	if (!r)
		r = flush_inflight(l);
	pthread_mutex_unlock(&l->flush_mu);
	return r;
}

int wal_failed(struct wal *l)
{
	pthread_mutex_lock(&l->mu);
	int e = l->fatal;
	pthread_mutex_unlock(&l->mu);
	return e;
}

void wal_fail(struct wal *l, int err)
{
	pthread_mutex_lock(&l->mu);
	if (!l->fatal) {
		l->fatal = err;
		set_error(l, err);
		log_line("the log cannot be written (%s): commits are refused until a restart",
			 strerror(-err));
	}
	pthread_mutex_unlock(&l->mu);
}

/* An async round: flush; say when the log fails and when it works again. */
static void async_flush(struct wal *l)
{
	int e = wal_flush(l);
	pthread_mutex_lock(&l->mu);
	if (e && e != l->error) {
		log_line("the log cannot be written (%s): commits are refused until it can", strerror(-e));
		l->error = e;
		set_error(l, e);
	} else if (!e && l->error) {
		log_line("the log is written again: commits are accepted");
		l->error = 0;
		set_error(l, l->spare_fd < 0 && l->spare_err ? l->spare_err : 0);
	}
	pthread_mutex_unlock(&l->mu);
}

static void *log_main(void *arg)
{
	struct wal *l = arg;
	uint64_t round = l->mode == DURABILITY_ASYNC ? l->flush_ns : SYNC_MODE_TICK_NS;
	pthread_mutex_lock(&l->tmu);
	while (!l->stop) {
		pthread_mutex_unlock(&l->tmu);
		/* The next round is due an interval after this one began: a
		 * flush that took longer is followed by the next at once. */
		struct timespec to;
		clock_gettime(CLOCK_REALTIME, &to);
		if (l->mode == DURABILITY_ASYNC)
			async_flush(l);
		make_spare(l);
		if (l->tick)
			l->tick(l->tick_ctx);
		pthread_mutex_lock(&l->tmu);
		if (l->stop)
			break;
		uint64_t ns = (uint64_t)to.tv_nsec + round;
		to.tv_sec += (time_t)(ns / 1000000000ull);
		to.tv_nsec = (long)(ns % 1000000000ull);
		if (!l->kicked) /* (a kick during the round: flush again at once) */
			pthread_cond_timedwait(&l->tcond, &l->tmu, &to);
		l->kicked = 0;
	}
	pthread_mutex_unlock(&l->tmu);
	return NULL;
}

void wal_kick(struct wal *l)
{
	pthread_mutex_lock(&l->tmu);
	l->kicked = 1;
	pthread_cond_signal(&l->tcond);
	pthread_mutex_unlock(&l->tmu);
}

int wal_start(struct wal *l, void (*tick)(void *), void *ctx)
{
	l->tick = tick;
	l->tick_ctx = ctx;
	make_spare(l);
	int e = pthread_create(&l->thread, NULL, log_main, l);
	l->started = !e;
	return -e;
}

void wal_close(struct wal *l)
{
	if (l->started) {
		pthread_mutex_lock(&l->tmu);
		l->stop = 1;
		pthread_cond_signal(&l->tcond);
		pthread_mutex_unlock(&l->tmu);
		pthread_join(l->thread, NULL);
	}
	if (!l->fatal) {
		int e = wal_flush(l);
		if (e)
			log_line("the log's last records could not be written: %s", strerror(-e));
	}
	for (size_t i = 0; i < l->inflight.nchunks; i++)
		if (l->inflight.chunks[i].close_after)
			close(l->inflight.chunks[i].fd);
	for (size_t i = 0; i < l->pend.nchunks; i++)
		if (l->pend.chunks[i].close_after)
			close(l->pend.chunks[i].fd);
	close(l->fd);
	if (l->spare_fd >= 0)
		close(l->spare_fd);
	free(l->pend.buf);
	free(l->pend.chunks);
	free(l->inflight.buf);
	free(l->inflight.chunks);
	free(l->segs);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->flush_mu);
	pthread_mutex_destroy(&l->tmu);
	pthread_cond_destroy(&l->tcond);
}

uint64_t wal_since_checkpoint(struct wal *l)
{
	pthread_mutex_lock(&l->mu);
	uint64_t n = l->since_checkpoint;
	pthread_mutex_unlock(&l->mu);
	return n;
}

uint64_t wal_checkpoint_began(struct wal *l)
{
	return wal_since_checkpoint(l);
}

void wal_checkpoint_done(struct wal *l, uint64_t began_bytes)
{
	pthread_mutex_lock(&l->mu);
	l->since_checkpoint -= began_bytes;
	__atomic_store_n(&l->meta->log_bytes, l->since_checkpoint, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->mu);
}

unsigned wal_forget_upto(struct wal *l, uint64_t ts)
{
	unsigned n = 0;
	pthread_mutex_lock(&l->mu);
	/* segs[0] goes when segs[1] begins at or before ts + 1: every record
	 * of segs[0] is older than that, so the checkpoint holds it. */
	while (l->nsegs >= 2 && l->segs[1].first_ts <= ts + 1) {
		char name[64];
		wal_segment_name(name, sizeof(name), l->segs[0].seq);
		if (unlinkat(l->dirfd, name, 0) && errno != ENOENT)
			log_line("cannot remove %s: %s", name, strerror(errno));
		memmove(l->segs, l->segs + 1, --l->nsegs * sizeof(*l->segs));
		n++;
	}
	pthread_mutex_unlock(&l->mu);
	if (n)
		fsync(l->dirfd);
	return n;
}
