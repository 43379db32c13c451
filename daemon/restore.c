/*
 * restore.c - loading the newest checkpoint and replaying the log after it
 * (see restore.h).
 *
 * Invariants: everything goes through the core as transactions (the same
 * prepare and apply as a client's), at the commit timestamps of the first
 * run: the checkpoint's records all at its commit T, each log record at its
 * own; table ids are mapped (table_map.h), and a WAL_TABLE_IDS record of a
 * run after the checkpoint's remaps them. Records at or below T are in the
 * checkpoint and are skipped (WAL_TABLE_IDS records go by run, not by
 * commit). Nothing is read before its checksum is verified (dumpfile.h
 * for checkpoints, wal_format.h for the log). The log's segments must
 * follow one another with no gap, the first one must begin where the
 * checkpoint ends, and each where the one before it ended (prev_ts), or
 * later where the checkpoint holds the commits between (async mode: a
 * checkpoint taken between two flushes can be ahead of the log). Only
 * the newest segment with records (unused ones after it are deleted
 * first) may end in a torn record; it is cut off the file, so that the
 * next start finds the log whole, and new records go on after it.
 *
 * No client is attached and no writer thread runs: commits publish at
 * once, and the index builds wait until the replay is over (fill order is
 * not logged; WAL_FILL_END records say how each build ended).
 */
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "commit.h"
#include "dumpfile.h"
#include "log.h"
#include "rows.h"
#include "secondary_fill.h"
#include "shmdb.h"
#include "storefile.h"
#include "table_map.h"
#include "txn.h"
#include "wal_format.h"

#define LOAD_BATCH_BYTES (4u << 20)
#define LOAD_BATCH_OPS 4096u

struct restore {
	struct core *c;
	struct datadir *d;
	const struct config *cfg;
	struct table_map *map;  /* the ids of run `run` -> this run's */
	uint64_t run;           /* whose ids the map takes: the checkpoint's
				 * run, then each WAL_TABLE_IDS record's */
	uint64_t last_run;      /* the newest run any file names */
	uint64_t ckpt_ts;
	uint8_t *buf;          /* a transaction being built (checkpoint load) */
	size_t len, cap, nops;
	char *err;
	size_t errlen;
};

/* Arena bytes in use now. */
static uint64_t arenas_used(const struct core *c, uint64_t *total)
{
	uint64_t used = 0;
	*total = 0;
	for (uint32_t i = 0; i < c->meta->arena_count; i++) {
		used += c->meta->arena_table[i].used;
		*total += c->meta->arena_table[i].size;
	}
	return used;
}

/* The store does not fit: say how much it needs, from what `done` of
 * `all` bytes of input took. */
static int no_room(struct restore *rs, const char *what, uint64_t done, uint64_t all)
{
	uint64_t total, used = arenas_used(rs->c, &total);
	uint64_t need = done ? (uint64_t)((double)used * (double)all / (double)done * 1.25) : 2 * total;
	if (need <= total)
		need = total + total / 2;
	uint32_t n = rs->c->meta->arena_count;
	snprintf(rs->err, rs->errlen,
		 "the stored data does not fit the arenas (%" PRIu64 " MiB in %" PRIu32
		 " arena%s) while loading %s: it needs about %" PRIu64
		 " MiB; start with --arena-size %" PRIu64 "M or more",
		 total >> 20, n, n == 1 ? "" : "s", what, need >> 20, ((need / n) >> 20) + 1);
	return -ENOSPC;
}

/* ---- the checkpoint ---------------------------------------------------------- */

static int add_op(struct restore *rs, uint8_t code, uint32_t table, uint64_t since,
		  const void *key, size_t klen, const void *val, size_t vlen)
{
	size_t n = shm_op_size(klen, vlen);
	if (shm_buf_reserve(&rs->buf, &rs->cap, rs->len + n, 1u << 16))
		return -ENOMEM;
	shm_op_encode(rs->buf + rs->len, code, table, since, key, klen, val, vlen);
	rs->len += n;
	rs->nops++;
	return 0;
}

/* Commit what rs->buf holds at the checkpoint's commit. */
static int load_commit(struct restore *rs, const char *name, uint64_t done, uint64_t all)
{
	if (!rs->nops)
		return 0;
	int e = commit_replay(rs->c, rs->buf, rs->len, rs->ckpt_ts, rs->map);
	rs->len = rs->nops = 0;
	rs->map->nexpect = 0;
	if (e == -ENOSPC)
		return no_room(rs, name, done, all);
	if (e)
		snprintf(rs->err, rs->errlen, "checkpoint %s does not load again: %s", name,
			 shmdb_strerror(e));
	return e;
}

static int load_table(struct restore *rs, const struct shm_dump_table *t)
{
	uint8_t schema[SHM_MAX_SCHEMA_BYTES];
	size_t slen = 0;
	uint64_t kind = t->flags & ~(uint64_t)SHMDB_ROWS;
	if (t->flags & SHMDB_ROWS) {
		struct shm_column_def defs[SHMDB_MAX_COLUMNS];
		for (unsigned i = 0; i < t->ncols; i++)
			defs[i] = (struct shm_column_def){ t->cols[i].name, t->cols[i].type,
							   t->cols[i].size, (unsigned)t->cols[i].flags };
		int e = shm_schema_build(defs, t->ncols, schema, sizeof(schema), &slen);
		if (e)
			return e;
		kind |= SHM_KIND_ROWS;
	}
	return add_op(rs, SHM_OP_CREATE_TABLE, 0, kind, t->name, strlen(t->name), schema, slen);
}

/* An index whose build had failed: created again, and failed as it was. */
static int load_failed_index(struct restore *rs, const struct shm_dump_index *ix)
{
	uint32_t base;
	int e = table_map_get(rs->map, ix->table, &base);
	if (!e)
		e = fill_end_replay(rs->c, base, (const uint8_t *)ix->column, strlen(ix->column),
				    ix->error);
	if (e)
		snprintf(rs->err, rs->errlen, "checkpoint: the failed index on %s does not load: %s",
			 ix->column, shmdb_strerror(e));
	return e;
}

static int load_checkpoint(struct restore *rs, struct restore_result *out)
{
	char name[64];
	shm_checkpoint_name(name, sizeof(name), rs->ckpt_ts);
	int fd = openat(rs->d->fd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(rs->err, rs->errlen, "checkpoint %s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	struct shm_dump_reader r;
	struct shm_dump_item it;
	int e = shm_dump_read_begin(&r, fd);
	rs->run = rs->last_run = r.header.run;
	if (!e && (!(r.header.flags & SHM_DUMP_CHECKPOINT) || r.header.commit_ts != rs->ckpt_ts ||
		   memcmp(r.header.store_id, rs->d->store_id, 16))) {
		snprintf(r.err, sizeof(r.err), "offset 0: %s",
			 memcmp(r.header.store_id, rs->d->store_id, 16)
				 ? "a checkpoint of another store"
				 : "not the checkpoint its name says");
		e = -EBADMSG;
	}
	uint32_t expect;
	while (!e && (e = shm_dump_read_next(&r, &it)) == 1) {
		e = 0;
		uint64_t done = r.offset; /* (how far, should the store not fit) */
		if (it.kind == SHM_DUMP_ITEM_RECORD) {
			e = add_op(rs, SHM_OP_PUT, it.record_table, 0, it.key, it.klen, it.val, it.vlen);
			out->records++;
			if (!e && (rs->len >= LOAD_BATCH_BYTES || rs->nops >= LOAD_BATCH_OPS))
				e = load_commit(rs, name, done, (uint64_t)st.st_size);
			if (e)
				goto out;
			continue;
		}
		if ((e = load_commit(rs, name, done, (uint64_t)st.st_size)))
			goto out;
		if (it.kind == SHM_DUMP_ITEM_TABLE) {
			expect = it.table->id;
			rs->map->expect = &expect;
			rs->map->nexpect = 1;
			e = load_table(rs, it.table);
		} else {
			e = add_op(rs, SHM_OP_CREATE_INDEX, it.index->table,
				   it.index->flags & SHMDB_UNIQUE, it.index->column,
				   strlen(it.index->column), NULL, 0);
		}
		if (!e)
			e = load_commit(rs, name, done, (uint64_t)st.st_size);
		/* Room for its records at once: no rebuild of its index as it
		 * grows (a commit of its own: the id is mapped once created). */
		if (!e && it.kind == SHM_DUMP_ITEM_TABLE && it.table->records &&
		    !(e = add_op(rs, SHM_OP_RESERVE, it.table->id, it.table->records, "", 0, NULL, 0)))
			e = load_commit(rs, name, done, (uint64_t)st.st_size);
		if (!e && it.kind == SHM_DUMP_ITEM_INDEX && it.index->error)
			e = load_failed_index(rs, it.index);
		if (e)
			goto out;
	}
	if (!e)
		e = load_commit(rs, name, (uint64_t)st.st_size, (uint64_t)st.st_size);
	else if (e == -EBADMSG)
		snprintf(rs->err, rs->errlen, "checkpoint %s is damaged: %s", name, r.err);
	else if (e < 0 && !rs->err[0])
		snprintf(rs->err, rs->errlen, "checkpoint %s: %s", name, strerror(-e));
out:
	out->checkpoint_bytes = (uint64_t)st.st_size;
	shm_dump_read_end(&r);
	close(fd);
	return e;
}

/* ---- the log ----------------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

struct segment {
	uint64_t seq;
	char name[64];
	int fd;
	const uint8_t *p;  /* the file, mapped read-only */
	size_t size;
	bool last;         /* the newest segment */
	uint64_t end;      /* where its records end (replay_segment) */
	uint64_t file_size; /* its bytes, after a cut */
	int nwritten;      /* its written extents (map_written), -1: unknown */
	struct {
		uint64_t b, e;
	} written[32];
};

/* The bytes up to the last non-zero one of p[0..n). */
static size_t used_len(const uint8_t *p, size_t n)
{
	while (n && !p[n - 1])
		n--;
	return n;
}

/*
 * The extents of s that were ever written, into s->written (nwritten -1
 * when the file system cannot say, or they are too many to list). A
 * segment is preallocated: its blocks never written are UNWRITTEN extents
 * to FIEMAP (ext4, xfs), once a sync has turned what was written into
 * written ones, whatever the page cache holds.
 */
static void map_written(struct segment *s)
{
	enum { MAX = sizeof(s->written) / sizeof(s->written[0]) };
	union {
		struct fiemap fm;
		uint8_t room[sizeof(struct fiemap) + MAX * sizeof(struct fiemap_extent)];
	} u;
	memset(&u, 0, sizeof(u));
	u.fm.fm_length = FIEMAP_MAX_OFFSET;
	u.fm.fm_flags = FIEMAP_FLAG_SYNC;
	u.fm.fm_extent_count = MAX;
	s->nwritten = -1;
	if (ioctl(s->fd, FS_IOC_FIEMAP, &u.fm) || u.fm.fm_mapped_extents >= MAX)
		return;
	s->nwritten = 0;
	for (unsigned i = 0; i < u.fm.fm_mapped_extents; i++) {
		const struct fiemap_extent *x = &u.fm.fm_extents[i];
		if (x->fe_flags & FIEMAP_EXTENT_UNWRITTEN)
			continue;
		s->written[s->nwritten].b = x->fe_logical;
		s->written[s->nwritten++].e = x->fe_logical + x->fe_length;
	}
}

/*
 * The written ranges of s from byte *at on, one per call: [*b, *e),
 * false after the last; so that the scan past a segment's last record
 * reads what was written, not the rest of a 64 MiB file of zeros. From
 * FIEMAP's extents, else SEEK_DATA's holes (tmpfs: a preallocated page
 * never written is one), else all of it.
 */
static bool next_written(const struct segment *s, size_t *at, size_t *b, size_t *e)
{
	if (*at >= s->size)
		return false;
	if (s->nwritten >= 0) {
		for (int i = 0; i < s->nwritten; i++) {
			if (s->written[i].e <= *at)
				continue;
			*b = s->written[i].b > *at ? s->written[i].b : *at;
			*e = s->written[i].e < s->size ? s->written[i].e : s->size;
			*at = *e;
			return *b < *e;
		}
		return false;
	}
	off_t data = lseek(s->fd, (off_t)*at, SEEK_DATA);
	if (data < 0 && errno == ENXIO)
		return false;
	if (data < 0) { /* (no SEEK_DATA here: read it all) */
		*b = *at;
		*e = *at = s->size;
		return true;
	}
	off_t hole = lseek(s->fd, data, SEEK_HOLE);
	*b = (size_t)data > *at ? (size_t)data : *at;
	*e = hole < 0 || (size_t)hole > s->size ? s->size : (size_t)hole;
	*at = *e;
	return *b < *e;
}

/* Whether bytes [from, size) of s are all zero: read with pread, not
 * through the mapping (a page fault a page costs ten times the copy). */
static bool zero_from(const struct segment *s, size_t from)
{
	static uint8_t buf[1 << 20];
	size_t at = from, b, e;
	while (next_written(s, &at, &b, &e))
		for (; b < e;) {
			size_t n = e - b < sizeof(buf) ? e - b : sizeof(buf);
			ssize_t k = pread(s->fd, buf, n, (off_t)b);
			if (k <= 0)
				return all_zero(s->p + b, e - b);
			if (!all_zero(buf, (size_t)k))
				return false;
			b += (size_t)k;
		}
	return true;
}

/* The bytes from `from` up to the last non-zero one of s. */
static size_t used_from(const struct segment *s, size_t from)
{
	size_t at = from, b, e, used = 0;
	while (next_written(s, &at, &b, &e)) {
		size_t n = used_len(s->p + b, e - b);
		if (n)
			used = b + n - from;
	}
	return used;
}


/* A WAL_TABLE_IDS record: the map now takes the ids of its run, if that
 * run came after the one the map takes (else the checkpoint, written
 * later, holds them already). */
static int apply_table_ids(struct restore *rs, const uint8_t *p, uint32_t len)
{
	uint64_t run;
	uint32_t count;
	if (len < 16)
		return -EBADMSG;
	memcpy(&run, p, 8);
	memcpy(&count, p + 8, 4);
	if ((len - 16) / 8 != count || (len - 16) % 8)
		return -EBADMSG;
	if (run > rs->last_run)
		rs->last_run = run;
	if (run <= rs->run)
		return 0;
	struct table_map *next = calloc(1, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t before, now, here;
		memcpy(&before, p + 16 + 8 * i, 4);
		memcpy(&now, p + 20 + 8 * i, 4);
		if (table_map_get(rs->map, before, &here)) {
			free(next);
			return -ENOENT;
		}
		table_map_set(next, now, here);
	}
	memcpy(rs->map->e, next->e, sizeof(next->e));
	free(next);
	rs->run = run;
	return 0;
}

/* Apply one good record at byte `off` of s. */
static int apply_record(struct restore *rs, const struct segment *s, uint64_t off,
			const struct wal_record_head *h, struct restore_result *out)
{
	const uint8_t *payload = s->p + off + WAL_RECORD_HEAD;
	int e;
	if (h->kind == WAL_TXN) {
		rs->map->expect = (const uint32_t *)(payload + ((h->payload_len + 7) & ~7u));
		rs->map->nexpect = h->ncreated;
		e = commit_replay(rs->c, payload, h->payload_len, h->commit_ts, rs->map);
		rs->map->nexpect = 0;
	} else if (h->kind == WAL_TABLE_IDS) {
		e = apply_table_ids(rs, payload, h->payload_len);
	} else {
		uint32_t base, len;
		int32_t err;
		memcpy(&base, payload, 4);
		memcpy(&err, payload + 4, 4);
		memcpy(&len, payload + 8, 4);
		e = h->payload_len < 12 || len > h->payload_len - 12 ? -EBADMSG
		    : table_map_get(rs->map, base, &base);
		if (!e)
			e = fill_end_replay(rs->c, base, payload + 12, len, err);
	}
	if (e == -ENOSPC) {
		char what[128];
		snprintf(what, sizeof(what), "the log (%s)", s->name);
		return no_room(rs, what, off, s->size);
	}
	if (e) {
		snprintf(rs->err, rs->errlen,
			 "%s offset %" PRIu64 ": the record of commit %" PRIu64
			 " does not apply again (%s): the log does not follow the checkpoint",
			 s->name, off, h->commit_ts, shmdb_strerror(e));
		return e;
	}
	out->replayed++;
	return 0;
}

/* Cut segment s at byte off (and drop the later ones: *cut). */
static int cut_at(struct restore *rs, struct segment *s, uint64_t off)
{
	s->end = s->file_size = off;
	if (ftruncate(s->fd, (off_t)off) || fsync(s->fd)) {
		snprintf(rs->err, rs->errlen, "%s: cannot cut the log: %s", s->name, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * Replay the records of segment s. *last_ts: the newest commit seen.
 * *end: set when the log ends here (a cut). Returns 0 or an error.
 */
static int replay_segment(struct restore *rs, struct segment *s, uint64_t *last_ts, bool *end,
			  struct restore_result *out)
{
	uint64_t off = WAL_HEADER_SIZE;
	while (off + 4 <= s->size) {
		uint32_t len;
		memcpy(&len, s->p + off, 4);
		/* The end of its records: in the last segment, zeros to the
		 * end; in another, the next one's prev_ts proves that
		 * nothing is missing after them (replay_log). */
		if (len == 0 && (!s->last || zero_from(s, off))) {
			s->end = off;
			return 0;
		}
		struct wal_record_head h;
		int bad = wal_record_check(s->p + off, s->size - off, &h);
		if (!bad && (h.kind == WAL_TXN ? h.commit_ts <= *last_ts : h.commit_ts < *last_ts))
			bad = -EBADMSG; /* out of order: not a record of this log's */
		if (bad) {
			size_t rest = s->size - off;
			bool torn = s->last && (len > rest || len < WAL_RECORD_HEAD + 8 || len % 8 ||
						zero_from(s, off + len));
			size_t dropped = used_from(s, off);
			if (torn) {
				log_line("dropped %zu bytes of a torn record at the end of %s (offset %" PRIu64 ")",
					 dropped, s->name, off);
			} else if (rs->cfg->recover_truncate) {
				log_line("--recover-truncate: dropped the log from %s offset %" PRIu64
					 " on (%zu bytes here, and every later segment)",
					 s->name, off, dropped);
			} else {
				snprintf(rs->err, rs->errlen,
					 "%s offset %" PRIu64 ": damaged log record (%zu bytes of log follow "
					 "in this file); start with --recover-truncate to drop it and "
					 "everything after it",
					 s->name, off, dropped);
				return -EBADMSG;
			}
			*end = true;
			return cut_at(rs, s, off);
		}
		/* (A run's table ids apply by run, not by commit.) */
		if (h.commit_ts > rs->ckpt_ts || h.kind == WAL_TABLE_IDS) {
			int e = apply_record(rs, s, off, &h, out);
			if (e)
				return e;
		}
		*last_ts = h.commit_ts;
		off += h.len;
	}
	if (off < s->size && s->last) { /* cut inside a record's first bytes */
		log_line("dropped %zu bytes of a torn record at the end of %s (offset %" PRIu64 ")",
			 (size_t)(s->size - off), s->name, off);
		*end = true;
		return cut_at(rs, s, off);
	}
	s->end = off;
	return 0;
}

static void segment_close(struct segment *s)
{
	if (s->p && s->size)
		munmap((void *)s->p, s->size);
	if (s->fd >= 0)
		close(s->fd);
	s->p = NULL;
	s->fd = -1;
}

static int segment_open(struct restore *rs, struct segment *s)
{
	struct stat st;
	wal_segment_name(s->name, sizeof(s->name), s->seq);
	s->fd = openat(rs->d->fd, s->name, O_RDWR | O_CLOEXEC);
	s->p = NULL;
	if (s->fd < 0 || fstat(s->fd, &st)) {
		snprintf(rs->err, rs->errlen, "%s: %s", s->name, strerror(errno));
		return -errno;
	}
	s->size = (size_t)st.st_size;
	s->file_size = s->size;
	map_written(s);
	if (s->size) {
		void *p = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, s->fd, 0);
		if (p == MAP_FAILED) {
			snprintf(rs->err, rs->errlen, "%s: %s", s->name, strerror(errno));
			return -errno;
		}
		s->p = p;
		madvise(p, s->size, MADV_SEQUENTIAL);
	}
	return 0;
}

/* Whether s is a segment with no record (zeros, or a torn header alone):
 * then it is dropped, if it is the newest. */
static int check_header(struct restore *rs, struct segment *s, struct wal_segment_header *h,
			bool *unused)
{
	*unused = false;
	if (s->size >= WAL_HEADER_SIZE) {
		memcpy(h, s->p, sizeof(*h));
		if (!wal_header_check(h)) {
			if (h->seq != s->seq || memcmp(h->store_id, rs->d->store_id, 16)) {
				snprintf(rs->err, rs->errlen, "%s offset 0: %s", s->name,
					 h->seq != s->seq ? "the header names another segment"
							  : "a segment of another store's log");
				return -EBADMSG;
			}
			return 0;
		}
	}
	if (s->last && (s->size < WAL_HEADER_SIZE + 4 ||
			zero_from(s, WAL_HEADER_SIZE))) {
		*unused = true;
		if (s->size && !all_zero(s->p, s->size < WAL_HEADER_SIZE ? s->size : WAL_HEADER_SIZE))
			log_line("dropped %s: a torn header and no record", s->name);
		return 0;
	}
	snprintf(rs->err, rs->errlen, "%s offset 0: damaged segment header", s->name);
	return -EBADMSG;
}

static int replay_log(struct restore *rs, struct restore_result *out)
{
	struct datadir *d = rs->d;
	uint64_t last_ts = 0, next_seq = d->nsegs ? d->segs[0] : 1;
	bool end = false;
	int e = 0;
	out->segs = calloc(d->nsegs ? d->nsegs : 1, sizeof(*out->segs));
	if (!out->segs)
		return -ENOMEM;
	/* Segments made ahead and never used (the spare, and any a crash
	 * left): gone, so that the newest one with records is the last, the
	 * one whose torn tail a crash explains. */
	while (d->nsegs > 1) {
		struct segment s = { .seq = d->segs[d->nsegs - 1], .fd = -1, .last = true };
		struct wal_segment_header h;
		bool unused = false;
		if (!segment_open(rs, &s))
			check_header(rs, &s, &h, &unused);
		rs->err[0] = 0;
		segment_close(&s);
		if (!unused)
			break;
		unlinkat(d->fd, s.name, 0);
		d->nsegs--;
	}
	for (size_t i = 0; i < d->nsegs && !e; i++) {
		struct segment s = { .seq = d->segs[i], .fd = -1, .last = i + 1 == d->nsegs };
		if (end) { /* after a cut: never acknowledged, or dropped by the operator */
			wal_segment_name(s.name, sizeof(s.name), s.seq);
			unlinkat(d->fd, s.name, 0);
			continue;
		}
		if (i && d->segs[i] != d->segs[i - 1] + 1) {
			char name[64];
			wal_segment_name(name, sizeof(name), d->segs[i - 1] + 1);
			wal_segment_name(s.name, sizeof(s.name), s.seq);
			snprintf(rs->err, rs->errlen, "log segment %s is missing (the log goes on in %s)",
				 name, s.name);
			e = -EBADMSG;
			break;
		}
		struct wal_segment_header h;
		bool unused;
		if (!(e = segment_open(rs, &s)) && !(e = check_header(rs, &s, &h, &unused))) {
			if (unused) {
				unlinkat(d->fd, s.name, 0); /* its number is used again */
			} else if (i == 0 && h.prev_ts > (rs->ckpt_ts ? rs->ckpt_ts : 1)) {
				snprintf(rs->err, rs->errlen,
					 "%s: the log before it is missing: it follows commit %" PRIu64
					 ", and %s",
					 s.name, h.prev_ts,
					 rs->ckpt_ts ? "the newest checkpoint holds commits only up to "
						       "an older one"
						     : "no checkpoint is there");
				e = -EBADMSG;
			} else if (out->nsegs && h.prev_ts != last_ts &&
				   !(h.prev_ts > last_ts && h.prev_ts <= rs->ckpt_ts)) {
				/* (A gap the checkpoint holds is no loss: in async
				 * mode a checkpoint can be ahead of the log, and
				 * the run after it goes on from its commit.) */
				snprintf(rs->err, rs->errlen,
					 "%s offset 0: it follows commit %" PRIu64 ", and the log before it "
					 "ends at commit %" PRIu64 ": records are missing or damaged at "
					 "the end of the segment before",
					 s.name, h.prev_ts, last_ts);
				e = -EBADMSG;
			} else {
				out->segs[out->nsegs++] = (struct wal_segment){ s.seq, h.first_ts };
				e = replay_segment(rs, &s, &last_ts, &end, out);
				if (!e) { /* new records go on after the last */
					next_seq = s.seq;
					out->tail_off = s.end;
					out->tail_size = s.file_size;
				}
			}
		}
		segment_close(&s);
	}
	out->next_seq = next_seq;
	out->last_ts = last_ts > rs->ckpt_ts ? last_ts : rs->ckpt_ts;
	return e;
}

int restore_run(struct core *c, struct datadir *d, const struct config *cfg,
		struct restore_result *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	err[0] = 0;
	struct table_map *map = calloc(1, sizeof(*map));
	if (!map) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct restore rs = { .c = c, .d = d, .cfg = cfg, .map = map, .err = err,
			      .errlen = errlen };
	c->replaying = 1;
	int e = 0;
	if (d->nckpts) {
		rs.ckpt_ts = d->ckpts[d->nckpts - 1];
		out->checkpoint_ts = rs.ckpt_ts;
		e = load_checkpoint(&rs, out);
	}
	if (!e)
		e = replay_log(&rs, out);
	c->replaying = 0;
	core_publish(c);
	free(rs.buf);
	out->run = rs.last_run + 1;
	if (e)
		free(map);
	else
		out->map = map;
	if (e && !err[0])
		snprintf(err, errlen, "restore: %s", strerror(-e));
	return e;
}

int restore_table_ids(const struct restore_result *res, struct core *c, uint8_t **payload,
		      size_t *len)
{
	*payload = NULL;
	*len = 0;
	size_t n = 0;
	bool moved = false;
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++) {
		uint32_t old = res->map->e[i].old, now = res->map->e[i].now;
		if (old && tables_live(&c->tables, now)) {
			n++;
			moved |= old != now;
		}
	}
	if (!moved)
		return 0;
	uint8_t *p = malloc(16 + 8 * n);
	if (!p)
		return -ENOMEM;
	uint32_t count = (uint32_t)n, zero = 0;
	memcpy(p, &res->run, 8);
	memcpy(p + 8, &count, 4);
	memcpy(p + 12, &zero, 4);
	size_t at = 16;
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++) {
		uint32_t old = res->map->e[i].old, now = res->map->e[i].now;
		if (old && tables_live(&c->tables, now)) {
			memcpy(p + at, &old, 4);
			memcpy(p + at + 4, &now, 4);
			at += 8;
		}
	}
	*payload = p;
	*len = at;
	return 0;
}
