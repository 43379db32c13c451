/*
 * rows_api.c - typed rows for clients (shmdb.h): a table's schema read from
 * the store, columns read in place from rows, and rows built and put.
 *
 * A schema lives in the arena (layout.h, struct shm_table.schema; rows.h)
 * from before its table's id is published until the last snapshot that
 * sees the table ends, and never changes: a reader takes it with plain
 * loads, and a view into it lasts as long as its snapshot. The column
 * reads check the column, its type and the row's length against the
 * schema and nothing else (no decode, no copy): rows in the store passed
 * the writer's shm_row_check. A builder keeps its own copy of the schema
 * and each column's value; shmdb_put_row encodes the row (shm_row_encode)
 * and puts it under its column 0's key (shm_row_key), as the writer will
 * check again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "client_internal.h"
#include "rows.h"


/* The schema of table entry tb, or NULL if it is not a table of rows. */
static const struct shm_schema *schema_of(const uint8_t *base, const struct shm_table *tb)
{
	return (tb->kind & SHM_KIND_ROWS) && tb->schema
		       ? (const struct shm_schema *)(base + tb->schema)
		       : NULL;
}

int shmdb_schema_get(shmdb_rtxn *r, shmdb_table t, const shmdb_schema **s)
{
	if (!r || !r->active || !s)
		return -EINVAL;
	const struct shm_table *tb = shm_table_at(r->meta, t, r->snap);
	if (!tb)
		return -ENOENT;
	const struct shm_schema *sc = schema_of(r->base, tb);
	if (!sc)
		return -EINVAL;
	*s = (const shmdb_schema *)sc;
	return 0;
}

static const struct shm_schema *sch(const shmdb_schema *s)
{
	return (const struct shm_schema *)s;
}

unsigned shmdb_schema_columns(const shmdb_schema *s)
{
	return s ? sch(s)->ncols : 0;
}

int shmdb_schema_column(const shmdb_schema *s, unsigned col, shmdb_column *out,
			const char **name, size_t *name_len)
{
	if (!s || !out || !name || !name_len || col >= sch(s)->ncols)
		return -EINVAL;
	const struct shm_column *k = &sch(s)->col[col];
	*out = (shmdb_column){ .name = NULL, .type = (enum shmdb_type)k->type,
			       .size = k->type == SHM_FIXED ? k->size : 0, .flags = k->flags };
	*name = shm_column_name(sch(s), col);
	*name_len = k->name_len;
	return 0;
}

int shmdb_column_index(const shmdb_schema *s, const char *name)
{
	if (!s || !name)
		return -ENOENT;
	size_t len = strnlen(name, SHM_MAX_COLUMN_NAME + 1);
	for (unsigned c = 0; c < sch(s)->ncols; c++)
		if (sch(s)->col[c].name_len == len && !memcmp(shm_column_name(sch(s), c), name, len))
			return (int)c;
	return -ENOENT;
}

/* Column col's slot in row, of `type`: the slot, or NULL with *err. */
static const uint8_t *slot_of(const shmdb_schema *s, shmdb_val row, unsigned col, unsigned type,
			      int *err)
{
	if (!s || !row.data) {
		*err = -EINVAL;
		return NULL;
	}
	return shm_row_slot(sch(s), row.data, row.len, col, type, err);
}

/* Column col of row, a number of `type`, copied into v (size bytes). */
static int read_number(const shmdb_schema *s, shmdb_val row, unsigned col, unsigned type,
		       void *v, size_t size)
{
	int err = 0;
	const uint8_t *p = v ? slot_of(s, row, col, type, &err) : NULL;
	if (!p)
		return v ? err : -EINVAL;
	memcpy(v, p, size);
	return 0;
}

int shmdb_row_i32(const shmdb_schema *s, shmdb_val row, unsigned col, int32_t *v)
{
	return read_number(s, row, col, SHM_I32, v, sizeof(*v));
}

int shmdb_row_i64(const shmdb_schema *s, shmdb_val row, unsigned col, int64_t *v)
{
	return read_number(s, row, col, SHM_I64, v, sizeof(*v));
}

int shmdb_row_u64(const shmdb_schema *s, shmdb_val row, unsigned col, uint64_t *v)
{
	return read_number(s, row, col, SHM_U64, v, sizeof(*v));
}

int shmdb_row_f64(const shmdb_schema *s, shmdb_val row, unsigned col, double *v)
{
	return read_number(s, row, col, SHM_F64, v, sizeof(*v));
}

int shmdb_row_bool(const shmdb_schema *s, shmdb_val row, unsigned col, bool *v)
{
	uint8_t b;
	int err = read_number(s, row, col, SHM_BOOL, v ? &b : NULL, 1);
	if (!err)
		*v = b != 0;
	return err;
}

int shmdb_row_bytes(const shmdb_schema *s, shmdb_val row, unsigned col, shmdb_val *v)
{
	if (!s || !v || col >= sch(s)->ncols)
		return -EINVAL;
	unsigned type = sch(s)->col[col].type;
	if (type != SHM_FIXED && type != SHM_STR && type != SHM_BLOB)
		return -EINVAL;
	int err = 0;
	const uint8_t *p = slot_of(s, row, col, type, &err);
	if (!p)
		return err;
	if (type == SHM_FIXED) {
		*v = (shmdb_val){ p, sch(s)->col[col].size };
		return 0;
	}
	uint32_t off, len;
	memcpy(&off, p, 4);
	memcpy(&len, p + 4, 4);
	if (off > row.len || len > row.len - off)
		return -EINVAL;
	*v = (shmdb_val){ (const uint8_t *)row.data + off, len };
	return 0;
}

/* A new builder of db whose arrays hold n columns and whose schema copy
 * holds schema_bytes, or NULL. */
static shmdb_row *row_make(shmdb *db, unsigned n, size_t schema_bytes)
{
	shmdb_row *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->db = db;
	b->ncols_cap = n;
	b->schema_cap = schema_bytes;
	b->s = aligned_alloc(8, shm_align_up(schema_bytes, 8));
	b->v = calloc(n, sizeof(*b->v));
	b->set = calloc(n, 1);
	b->bytes = calloc(n, sizeof(*b->bytes));
	b->bytes_cap = calloc(n, sizeof(*b->bytes_cap));
	if (!b->s || !b->v || !b->set || !b->bytes || !b->bytes_cap) {
		shm_row_destroy(b);
		return NULL;
	}
	return b;
}

int shmdb_row_new(shmdb *db, shmdb_table t, shmdb_row **out)
{
	if (!db || !out)
		return -EINVAL;
	shmdb_rtxn *r;
	int err = shmdb_read_begin(db, &r);
	if (err)
		return err;
	const struct shm_table *tb = shm_table_at(r->meta, t, r->snap);
	const struct shm_schema *sc = tb ? schema_of(r->base, tb) : NULL;
	err = !tb ? -ENOENT : !sc ? -EINVAL : 0;
	shmdb_row *b = NULL;
	if (!err && !(b = shm_pool_take_row(db, sc->ncols, sc->bytes)) &&
	    !(b = row_make(db, sc->ncols, sc->bytes)))
		err = -ENOMEM;
	if (!err) {
		b->t = t;
		memcpy(b->s, sc, sc->bytes);
		shmdb_row_reset(b);
	}
	shmdb_read_end(r);
	if (err)
		return err;
	*out = b;
	return 0;
}

void shmdb_row_reset(shmdb_row *b)
{
	if (!b)
		return;
	for (unsigned c = 0; c < b->s->ncols; c++) {
		b->set[c] = 0;
		b->v[c] = (struct shm_value){ 0 };
	}
}

void shmdb_row_free(shmdb_row *b)
{
	if (b)
		shm_pool_give_row(b);
}

void shm_row_destroy(shmdb_row *b)
{
	if (!b)
		return;
	if (b->bytes)
		for (unsigned c = 0; c < b->ncols_cap; c++)
			free(b->bytes[c]);
	free(b->bytes);
	free(b->bytes_cap);
	free(b->set);
	free(b->v);
	free(b->s);
	free(b);
}

/* Column col of b, of `type`, about to be set: its value, or NULL. */
static struct shm_value *settable(shmdb_row *b, unsigned col, unsigned type)
{
	if (!b || col >= b->s->ncols || b->s->col[col].type != type)
		return NULL;
	b->set[col] = 1;
	b->v[col] = (struct shm_value){ 0 };
	return &b->v[col];
}

int shmdb_row_set_i32(shmdb_row *b, unsigned col, int32_t v)
{
	struct shm_value *x = settable(b, col, SHM_I32);
	return x ? (x->i = v, 0) : -EINVAL;
}

int shmdb_row_set_i64(shmdb_row *b, unsigned col, int64_t v)
{
	struct shm_value *x = settable(b, col, SHM_I64);
	return x ? (x->i = v, 0) : -EINVAL;
}

int shmdb_row_set_u64(shmdb_row *b, unsigned col, uint64_t v)
{
	struct shm_value *x = settable(b, col, SHM_U64);
	return x ? (x->u = v, 0) : -EINVAL;
}

int shmdb_row_set_f64(shmdb_row *b, unsigned col, double v)
{
	struct shm_value *x = settable(b, col, SHM_F64);
	return x ? (x->f = v, 0) : -EINVAL;
}

int shmdb_row_set_bool(shmdb_row *b, unsigned col, bool v)
{
	struct shm_value *x = settable(b, col, SHM_BOOL);
	return x ? (x->i = v ? 1 : 0, 0) : -EINVAL;
}

int shmdb_row_set_bytes(shmdb_row *b, unsigned col, const void *data, size_t len)
{
	if (!b || col >= b->s->ncols || (!data && len))
		return -EINVAL;
	const struct shm_column *k = &b->s->col[col];
	if (k->type != SHM_FIXED && k->type != SHM_STR && k->type != SHM_BLOB)
		return -EINVAL;
	if (len > SHMDB_MAX_VALUE)
		return -E2BIG;
	if ((k->type == SHM_FIXED && len != k->size) ||
	    (k->type == SHM_STR && !shm_utf8_ok(data, len)))
		return -EINVAL;
	if (len > b->bytes_cap[col]) {
		uint8_t *p = realloc(b->bytes[col], len);
		if (!p)
			return -ENOMEM;
		b->bytes[col] = p;
		b->bytes_cap[col] = (uint32_t)len;
	}
	if (len)
		memcpy(b->bytes[col], data, len);
	struct shm_value *x = settable(b, col, k->type);
	x->data = b->bytes[col];
	x->len = (uint32_t)len;
	return 0;
}

int shmdb_row_set_null(shmdb_row *b, unsigned col)
{
	if (!b || col >= b->s->ncols || !(b->s->col[col].flags & SHM_NULLABLE))
		return -EINVAL;
	struct shm_value *x = settable(b, col, b->s->col[col].type);
	x->null = 1;
	return 0;
}

int shmdb_put_row(shmdb_wtxn *w, shmdb_table t, const shmdb_row *b)
{
	if (!w || !b || t != b->t)
		return -EINVAL;
	unsigned n = b->s->ncols;
	/* An unset column is null if it may be, else an error. */
	struct shm_value v[SHM_MAX_COLUMNS];
	for (unsigned c = 0; c < n; c++) {
		if (!b->set[c] && !(b->s->col[c].flags & SHM_NULLABLE))
			return -EINVAL;
		v[c] = b->v[c];
		v[c].null = v[c].null || !b->set[c];
	}
	size_t len;
	int err = shm_row_encode(b->s, v, NULL, 0, &len);
	if (err != -ENOSPC)
		return err ? err : -EINVAL;
	/* Encoded in the transaction's own row buffer, kept with it. */
	uint8_t key[SHMDB_MAX_KEY];
	if ((err = shm_buf_reserve(&w->row, &w->row_cap, len, 256)))
		return err;
	size_t klen;
	err = shm_row_encode(b->s, v, w->row, len, &len);
	if (!err)
		err = shm_row_key(b->s, w->row, len, key, &klen);
	if (!err)
		err = shmdb_put(w, t, key, klen, w->row, len);
	return err;
}
