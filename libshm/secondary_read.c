/*
 * secondary_read.c - reading a secondary index (secondary.h): a get by
 * value, and a cursor's records turned from entries into (value, row).
 *
 * An entry's value is its row's primary key; the row is looked up in the
 * indexed table's hash index in the same snapshot, which holds it with
 * that value exactly when the snapshot holds the entry (the writer
 * changes both in one commit). An index is read only by snapshots from
 * its ready_ts on (acquire load, pairing with the build's release store):
 * before, it may lack rows the table held when it was created.
 *
 * Like the rest of the read path: no system call, lock or allocation.
 */
#include <errno.h>
#include <string.h>

#include "catalog.h"
#include "client_internal.h"
#include "index.h"
#include "secondary.h"

int shm_index_ready(const shmdb_rtxn *r, const struct shm_table *tb)
{
	const struct shm_index_def *d = (const struct shm_index_def *)(r->base + tb->schema);
	uint64_t ready = __atomic_load_n(&d->ready_ts, __ATOMIC_ACQUIRE);
	return ready && ready <= r->snap ? 0 : -EAGAIN; /* (a failed build: INFINITY) */
}

void shm_index_view_of(const shmdb_rtxn *r, const struct shm_table *tb,
		       struct shm_index_view *v)
{
	const struct shm_index_def *d = (const struct shm_index_def *)(r->base + tb->schema);
	const struct shm_table *base = shm_table_at(r->meta, d->base, r->snap);
	*v = (struct shm_index_view){ .id = tb->id, .tb = tb, .def = d,
				      .word = shm_table_word(r->base, tb, r->snap) };
	/* (an index lives within its table's life: base is there) */
	if (shm_index_ready(r, tb) || !base) {
		v->err = -EAGAIN;
		return;
	}
	uint64_t bw = shm_table_word(r->base, base, r->snap);
	v->schema = (const struct shm_schema *)(r->base + base->schema);
	v->base_slots = (const uint64_t *)(r->base + shm_index_off(bw));
	v->base_mask = shm_index_mask(bw);
}

/* The row whose primary key an entry holds (pk), into *row: 0 or -ENOENT. */
static int row_of(const shmdb_rtxn *r, const struct shm_index_view *v, shmdb_val pk,
		  shmdb_val *row)
{
	const struct shm_version *x = shm_lookup(r->base, v->base_slots, v->base_mask,
						 shm_key_hash(pk.data, pk.len), pk.data,
						 (uint32_t)pk.len, r->snap);
	if (!x || x->vlen == SHM_TOMBSTONE)
		return -ENOENT;
	*row = (shmdb_val){ (const uint8_t *)x + shm_version_value_off(x->klen), x->vlen };
	return 0;
}

int shm_index_record(const shmdb_cursor *c, shmdb_val *key, shmdb_val *val)
{
	const struct shm_index_view *v = &c->ix;
	shmdb_val row;
	if (row_of(c->r, v, *val, &row))
		return -ENOENT;
	if (v->def->width) {
		key->len = v->def->width; /* the entry's key starts with the value's */
	} else if (shmdb_row_bytes((const shmdb_schema *)v->schema, row, v->def->column, key)) {
		return -ENOENT;
	}
	*val = row;
	return 0;
}

int shm_index_seek_key(const struct shm_index_view *v, const void *key, size_t klen,
		       uint8_t *out, size_t *len)
{
	if (!key || klen > SHMDB_MAX_KEY)
		return -EINVAL;
	int e = shm_index_seek_part(v->def, key, klen, out, SHMDB_MAX_KEY, len);
	return e == -E2BIG ? -EINVAL : e;
}

int shm_index_get(shmdb_rtxn *r, const struct shm_index_view *v, const void *key, size_t klen,
		  shmdb_val *val)
{
	uint8_t part[SHMDB_MAX_KEY];
	size_t plen;
	if (v->err)
		return v->err;
	int e = shm_index_seek_key(v, key, klen, part, &plen);
	if (e)
		return e;
	shmdb_val pk;
	if (v->tb->kind & SHM_KIND_UNIQUE) {
		/* The value is the entry's whole key: one probe. */
		const struct shm_version *x = shm_lookup(r->base,
			(const uint64_t *)(r->base + shm_index_off(v->word)), shm_index_mask(v->word),
			shm_key_hash(part, plen), part, (uint32_t)plen, r->snap);
		if (!x || x->vlen == SHM_TOMBSTONE)
			return -ENOENT;
		pk = (shmdb_val){ (const uint8_t *)x + shm_version_value_off(x->klen), x->vlen };
	} else {
		/* The first entry at or after the value, if it has it. */
		shmdb_cursor c = { .r = r };
		shmdb_val k;
		shm_ordered_open(&c, v->tb);
		c.slots = (const uint64_t *)(r->base + shm_index_off(v->word));
		c.mask = shm_index_mask(v->word);
		shm_ordered_seek(&c, part, plen);
		if (shm_ordered_next(&c, &k, &pk) || k.len < plen || memcmp(k.data, part, plen))
			return -ENOENT;
	}
	return row_of(r, v, pk, val);
}
