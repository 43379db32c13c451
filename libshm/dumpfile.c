/*
 * dumpfile.c - writes and reads the store's dump file (the format is
 * described byte by byte in dumpfile.h): checkpoints, backups, `shmdb
 * dump` and `shmdb load`.
 *
 * Invariants: a writer emits frames whole, each with its XXH3 check, and
 * the END carries the counts of everything before it; after its first
 * error a writer writes nothing more. A reader hands out nothing it has
 * not checked: a frame's check is verified before any byte of it is
 * parsed, every length is bounded by the frame that holds it, and a
 * RECORDS or INDEX frame must name a table described before it. The file
 * is read sequentially, so a pipe serves as well as a file.
 */
#include "dumpfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define FRAME_HEAD 8u
#define HEADER_BYTES 56u
#define RECORDS_FLUSH (1u << 20) /* a RECORDS frame is written at this size */
#define END_BYTES 24u

static const char dump_magic[8] = { 'S', 'H', 'M', 'D', 'B', 'D', 'M', 'P' };

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* ---- writing ----------------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Make room for `need` bytes of frame (head, payload, padding, check). */
static int reserve(struct shm_dump_writer *w, size_t need)
{
	if (need <= w->cap)
		return 0;
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < need)
		cap *= 2;
	uint8_t *b = realloc(w->buf, cap);
	if (!b)
		return -ENOMEM;
	w->buf = b;
	w->cap = cap;
	return 0;
}

/* Write the frame whose payload (len bytes) sits at w->buf + FRAME_HEAD. */
static int emit(struct shm_dump_writer *w, uint32_t type, size_t len)
{
	if (w->err)
		return w->err;
	size_t total = FRAME_HEAD + pad8(len) + 8;
	int e = reserve(w, total);
	if (!e) {
		put32(w->buf, type);
		put32(w->buf + 4, (uint32_t)len);
		memset(w->buf + FRAME_HEAD + len, 0, pad8(len) - len);
		put64(w->buf + FRAME_HEAD + pad8(len), XXH3_64bits(w->buf, FRAME_HEAD + len));
		e = write_all(w->fd, w->buf, total);
	}
	if (e)
		w->err = e;
	else
		w->bytes += total;
	return e;
}

/* Write the RECORDS frame being filled, if it holds any. */
static int flush_records(struct shm_dump_writer *w)
{
	if (w->err || !w->count)
		return w->err;
	put32(w->buf + FRAME_HEAD, w->table);
	put32(w->buf + FRAME_HEAD + 4, w->count);
	int e = emit(w, SHM_DUMP_RECORDS, w->len - FRAME_HEAD);
	w->count = 0;
	w->len = 0;
	return e;
}

static int fail(struct shm_dump_writer *w, int e)
{
	if (!w->err)
		w->err = e;
	return w->err;
}

int shm_dump_write_begin(struct shm_dump_writer *w, int fd, const struct shm_dump_header *h)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	if (reserve(w, FRAME_HEAD + HEADER_BYTES + 8))
		return fail(w, -ENOMEM);
	uint8_t *p = w->buf + FRAME_HEAD;
	memcpy(p, dump_magic, 8);
	put32(p + 8, SHM_DUMP_VERSION);
	put32(p + 12, h->flags);
	put64(p + 16, h->commit_ts);
	put64(p + 24, h->written_ns);
	memcpy(p + 32, h->store_id, 16);
	put64(p + 48, h->run);
	return emit(w, SHM_DUMP_HEADER, HEADER_BYTES);
}

static bool table_flags_ok(uint32_t f)
{
	return f == 0 || f == SHMDB_ORDERED || f == (SHMDB_ORDERED | SHMDB_MULTI) ||
	       f == SHMDB_ROWS || f == (SHMDB_ROWS | SHMDB_ORDERED);
}

static bool column_name_ok(size_t n)
{
	return n >= 1 && n <= SHMDB_MAX_COLUMN_NAME;
}

int shm_dump_write_table(struct shm_dump_writer *w, const struct shm_dump_table *t)
{
	if (flush_records(w))
		return w->err;
	size_t nlen = strlen(t->name);
	bool rows = t->flags & SHMDB_ROWS;
	if (nlen < 1 || nlen > SHMDB_MAX_TABLE_NAME || !table_flags_ok(t->flags) ||
	    t->ncols > SHMDB_MAX_COLUMNS || (rows ? t->ncols == 0 : t->ncols != 0))
		return -EINVAL;
	size_t len = 24 + nlen;
	for (unsigned i = 0; i < t->ncols; i++) {
		size_t cl = t->cols[i].name ? strlen(t->cols[i].name) : 0;
		if (!column_name_ok(cl))
			return -EINVAL;
		len += 8 + cl;
	}
	if (reserve(w, FRAME_HEAD + pad8(len) + 8))
		return fail(w, -ENOMEM);
	uint8_t *p = w->buf + FRAME_HEAD;
	put32(p, t->id);
	put32(p + 4, t->flags);
	put16(p + 8, (uint16_t)nlen);
	put16(p + 10, (uint16_t)t->ncols);
	put32(p + 12, 0);
	put64(p + 16, t->records);
	memcpy(p + 24, t->name, nlen);
	p += 24 + nlen;
	for (unsigned i = 0; i < t->ncols; i++) {
		size_t cl = strlen(t->cols[i].name);
		p[0] = (uint8_t)t->cols[i].type;
		p[1] = (uint8_t)t->cols[i].flags;
		put16(p + 2, (uint16_t)cl);
		put32(p + 4, t->cols[i].size);
		memcpy(p + 8, t->cols[i].name, cl);
		p += 8 + cl;
	}
	int e = emit(w, SHM_DUMP_TABLE, len);
	if (!e)
		w->tables++;
	return e;
}

int shm_dump_write_record(struct shm_dump_writer *w, uint32_t table, const void *key,
			  uint32_t klen, const void *val, uint32_t vlen)
{
	if (w->err)
		return w->err;
	size_t rec = 8 + (size_t)klen + vlen;
	if (8 + rec > SHM_DUMP_MAX_FRAME)
		return -EINVAL;
	if (w->count && (w->table != table || w->count == UINT32_MAX ||
			 w->len - FRAME_HEAD + rec > RECORDS_FLUSH))
		if (flush_records(w))
			return w->err;
	if (!w->count) {
		w->table = table;
		w->len = FRAME_HEAD + 8;
	}
	if (reserve(w, pad8(w->len + rec) + 8))
		return fail(w, -ENOMEM);
	uint8_t *p = w->buf + w->len;
	put32(p, klen);
	put32(p + 4, vlen);
	if (klen)
		memcpy(p + 8, key, klen);
	if (vlen)
		memcpy(p + 8 + klen, val, vlen);
	w->len += rec;
	w->count++;
	w->records++;
	return 0;
}

int shm_dump_write_index(struct shm_dump_writer *w, const struct shm_dump_index *ix)
{
	if (flush_records(w))
		return w->err;
	size_t cl = strlen(ix->column);
	if (!column_name_ok(cl) || (ix->flags & ~(uint32_t)SHMDB_UNIQUE))
		return -EINVAL;
	if (ix->error > 0)
		return -EINVAL;
	if (reserve(w, FRAME_HEAD + pad8(16 + cl) + 8))
		return fail(w, -ENOMEM);
	uint8_t *p = w->buf + FRAME_HEAD;
	put32(p, ix->table);
	put32(p + 4, ix->flags);
	put32(p + 8, (uint32_t)ix->error);
	put16(p + 12, (uint16_t)cl);
	put16(p + 14, 0);
	memcpy(p + 16, ix->column, cl);
	int e = emit(w, SHM_DUMP_INDEX, 16 + cl);
	if (!e)
		w->indexes++;
	return e;
}

int shm_dump_write_end(struct shm_dump_writer *w)
{
	int e = flush_records(w);
	if (!e && reserve(w, FRAME_HEAD + END_BYTES + 8))
		e = fail(w, -ENOMEM);
	if (!e) {
		uint8_t *p = w->buf + FRAME_HEAD;
		put64(p, w->tables);
		put64(p + 8, w->indexes);
		put64(p + 16, w->records);
		e = emit(w, SHM_DUMP_END, END_BYTES);
	}
	shm_dump_write_abort(w);
	return e;
}

void shm_dump_write_abort(struct shm_dump_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->cap = w->len = 0;
}

/* ---- reading ----------------------------------------------------------------- */

static int bad(struct shm_dump_reader *r, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(r->err, sizeof(r->err), "offset %llu: %s", (unsigned long long)r->offset, what);
	return -EBADMSG;
}

/* Read up to n bytes; the count read (short only at the end), or -errno. */
static ssize_t read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* Read and check the next frame into r->buf + FRAME_HEAD. */
static int read_frame(struct shm_dump_reader *r)
{
	if (r->buf) /* the frame before this one, if any, was whole */
		r->offset += FRAME_HEAD + pad8(r->frame_len) + 8;
	if (!r->buf) {
		r->cap = 4096;
		if (!(r->buf = malloc(r->cap)))
			return -ENOMEM;
	}
	ssize_t k = read_full(r->fd, r->buf, FRAME_HEAD);
	if (k < 0)
		return (int)k;
	if (k == 0)
		return bad(r, "the file ends without its END frame (cut short?)");
	if ((size_t)k < FRAME_HEAD)
		return bad(r, "a frame header cut short");
	uint32_t type = get32(r->buf), len = get32(r->buf + 4);
	if (len > SHM_DUMP_MAX_FRAME)
		return bad(r, "a frame of %u bytes, over the format's %u", len, SHM_DUMP_MAX_FRAME);
	size_t total = FRAME_HEAD + pad8(len) + 8;
	if (total > r->cap) {
		uint8_t *b = realloc(r->buf, total);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = total;
	}
	k = read_full(r->fd, r->buf + FRAME_HEAD, total - FRAME_HEAD);
	if (k < 0)
		return (int)k;
	r->frame_len = len; /* so that the next frame's offset is right */
	if ((size_t)k < total - FRAME_HEAD)
		return bad(r, "a frame of %u bytes cut short", len);
	if (get64(r->buf + FRAME_HEAD + pad8(len)) != XXH3_64bits(r->buf, FRAME_HEAD + len))
		return bad(r, "a damaged frame (its check does not match)");
	r->frame_type = type;
	return 0;
}

int shm_dump_read_begin(struct shm_dump_reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	int e = read_frame(r);
	if (e) {
		if (e == -EBADMSG && strstr(r->err, "END"))
			bad(r, "an empty file, not a dump");
		return e;
	}
	const uint8_t *p = r->buf + FRAME_HEAD;
	if (r->frame_type != SHM_DUMP_HEADER || r->frame_len < HEADER_BYTES ||
	    memcmp(p, dump_magic, 8))
		return bad(r, "not a shmdb dump file");
	r->header.version = get32(p + 8);
	if (r->header.version != SHM_DUMP_VERSION)
		return bad(r, "dump format version %u; this build reads %u", r->header.version,
			   SHM_DUMP_VERSION);
	if (r->frame_len != HEADER_BYTES)
		return bad(r, "a header of %u bytes", r->frame_len);
	r->header.flags = get32(p + 12);
	if (r->header.flags & ~SHM_DUMP_CHECKPOINT)
		return bad(r, "unknown header flags %#x", r->header.flags);
	r->header.commit_ts = get64(p + 16);
	r->header.written_ns = get64(p + 24);
	memcpy(r->header.store_id, p + 32, 16);
	r->header.run = get64(p + 48);
	return 0;
}

static bool known_table(const struct shm_dump_reader *r, uint32_t id)
{
	for (size_t i = 0; i < r->nids; i++)
		if (r->ids[i] == id)
			return true;
	return false;
}

static int parse_table(struct shm_dump_reader *r)
{
	const uint8_t *p = r->buf + FRAME_HEAD, *end = p + r->frame_len;
	if (r->indexes)
		return bad(r, "a TABLE after an INDEX");
	if (r->frame_len < 24)
		return bad(r, "a TABLE frame of %u bytes", r->frame_len);
	struct shm_dump_table *t = &r->table;
	t->id = get32(p);
	t->flags = get32(p + 4);
	size_t nlen = get16(p + 8);
	t->ncols = get16(p + 10);
	t->records = get64(p + 16);
	if (get32(p + 12))
		return bad(r, "a TABLE frame's reserved bytes are not 0");
	if (known_table(r, t->id))
		return bad(r, "table id %u described twice", t->id);
	if (!table_flags_ok(t->flags))
		return bad(r, "table flags %#x", t->flags);
	if (nlen < 1 || nlen > SHMDB_MAX_TABLE_NAME || (size_t)(end - p) < 24 + nlen)
		return bad(r, "a table name of %zu bytes", nlen);
	if (t->ncols > SHMDB_MAX_COLUMNS || ((t->flags & SHMDB_ROWS) ? !t->ncols : t->ncols))
		return bad(r, "%u columns for table flags %#x", t->ncols, t->flags);
	memcpy(t->name, p + 24, nlen);
	t->name[nlen] = 0;
	if (memchr(t->name, 0, nlen))
		return bad(r, "a table name holding a NUL byte");
	p += 24 + nlen;
	for (unsigned i = 0; i < t->ncols; i++) {
		if (end - p < 8)
			return bad(r, "column %u cut short", i);
		size_t cl = get16(p + 2);
		if (!column_name_ok(cl) || (size_t)(end - p) < 8 + cl)
			return bad(r, "column %u: a name of %zu bytes", i, cl);
		memcpy(r->colnames[i], p + 8, cl);
		r->colnames[i][cl] = 0;
		if (memchr(r->colnames[i], 0, cl))
			return bad(r, "column %u: a name holding a NUL byte", i);
		t->cols[i] = (shmdb_column){ .name = r->colnames[i],
					     .type = (enum shmdb_type)p[0],
					     .size = get32(p + 4),
					     .flags = p[1] };
		p += 8 + cl;
	}
	if (p != end)
		return bad(r, "%zu bytes after the TABLE's columns", (size_t)(end - p));
	if (r->nids == r->capids) {
		size_t cap = r->capids ? 2 * r->capids : 64;
		uint32_t *ids = realloc(r->ids, cap * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		r->ids = ids;
		r->capids = cap;
	}
	r->ids[r->nids++] = t->id;
	r->tables++;
	return 0;
}

static int parse_index(struct shm_dump_reader *r)
{
	const uint8_t *p = r->buf + FRAME_HEAD;
	if (r->frame_len < 16)
		return bad(r, "an INDEX frame of %u bytes", r->frame_len);
	struct shm_dump_index *ix = &r->index;
	ix->table = get32(p);
	ix->flags = get32(p + 4);
	ix->error = (int32_t)get32(p + 8);
	size_t cl = get16(p + 12);
	if (!known_table(r, ix->table))
		return bad(r, "an INDEX of table %u, not described before it", ix->table);
	if (ix->flags & ~(uint32_t)SHMDB_UNIQUE)
		return bad(r, "index flags %#x", ix->flags);
	if (ix->error > 0 || ix->error < -4095)
		return bad(r, "index error %d", ix->error);
	if (!column_name_ok(cl) || get16(p + 14) || r->frame_len != 16 + cl)
		return bad(r, "an index column name of %zu bytes", cl);
	memcpy(ix->column, p + 16, cl);
	ix->column[cl] = 0;
	if (memchr(ix->column, 0, cl))
		return bad(r, "an index column name holding a NUL byte");
	r->indexes++;
	return 0;
}

/* The next record of the RECORDS frame being handed out. */
static int next_record(struct shm_dump_reader *r, struct shm_dump_item *it)
{
	const uint8_t *p = r->buf + FRAME_HEAD;
	size_t left = r->frame_len - r->pos;
	if (left < 8)
		return bad(r, "record %u of the frame cut short", r->left);
	uint32_t klen = get32(p + r->pos), vlen = get32(p + r->pos + 4);
	if (klen < 1 || klen > SHMDB_MAX_KEY || vlen > SHMDB_MAX_VALUE ||
	    left - 8 < (size_t)klen + vlen)
		return bad(r, "a record of key %u and value %u bytes in %zu", klen, vlen, left - 8);
	*it = (struct shm_dump_item){ .kind = SHM_DUMP_ITEM_RECORD,
				      .record_table = r->rec_table,
				      .key = p + r->pos + 8,
				      .val = p + r->pos + 8 + klen,
				      .klen = klen,
				      .vlen = vlen };
	r->pos += 8 + (size_t)klen + vlen;
	r->left--;
	r->records++;
	if (!r->left && r->pos != r->frame_len)
		return bad(r, "%zu bytes after the frame's records", r->frame_len - r->pos);
	return 1;
}

/* After the END: nothing may follow it. */
static int check_end(struct shm_dump_reader *r)
{
	const uint8_t *p = r->buf + FRAME_HEAD;
	if (r->frame_len != END_BYTES)
		return bad(r, "an END frame of %u bytes", r->frame_len);
	uint64_t t = get64(p), i = get64(p + 8), n = get64(p + 16);
	if (t != r->tables || i != r->indexes || n != r->records)
		return bad(r, "the END counts %llu tables, %llu indexes, %llu records; the file "
			      "holds %llu, %llu, %llu",
			   (unsigned long long)t, (unsigned long long)i, (unsigned long long)n,
			   (unsigned long long)r->tables, (unsigned long long)r->indexes,
			   (unsigned long long)r->records);
	uint8_t more;
	ssize_t k = read_full(r->fd, &more, 1);
	if (k < 0)
		return (int)k;
	if (k)
		return bad(r, "bytes after the END frame");
	r->ended = 1;
	return 0;
}

int shm_dump_read_next(struct shm_dump_reader *r, struct shm_dump_item *it)
{
	if (r->ended)
		return 0;
	if (r->err[0])
		return -EBADMSG;
	if (r->left)
		return next_record(r, it);
	for (;;) {
		int e = read_frame(r);
		if (e)
			return e;
		const uint8_t *p = r->buf + FRAME_HEAD;
		switch (r->frame_type) {
		case SHM_DUMP_TABLE:
			if ((e = parse_table(r)))
				return e;
			*it = (struct shm_dump_item){ .kind = SHM_DUMP_ITEM_TABLE, .table = &r->table };
			return 1;
		case SHM_DUMP_RECORDS:
			if (r->frame_len < 8)
				return bad(r, "a RECORDS frame of %u bytes", r->frame_len);
			if (r->indexes)
				return bad(r, "RECORDS after an INDEX");
			r->rec_table = get32(p);
			if (!known_table(r, r->rec_table))
				return bad(r, "RECORDS of table %u, not described before them",
					   r->rec_table);
			r->left = get32(p + 4);
			r->pos = 8;
			if (!r->left) {
				if (r->frame_len != 8)
					return bad(r, "bytes after the frame's records");
				continue;
			}
			return next_record(r, it);
		case SHM_DUMP_INDEX:
			if ((e = parse_index(r)))
				return e;
			*it = (struct shm_dump_item){ .kind = SHM_DUMP_ITEM_INDEX, .index = &r->index };
			return 1;
		case SHM_DUMP_END:
			return check_end(r);
		default:
			return bad(r, "a frame of type %u where a TABLE, RECORDS, INDEX or END "
				      "belongs",
				   r->frame_type);
		}
	}
}

void shm_dump_read_end(struct shm_dump_reader *r)
{
	free(r->buf);
	free(r->ids);
	r->buf = NULL;
	r->ids = NULL;
	r->cap = r->nids = r->capids = 0;
}
