/*
 * tables.c - the writer's side of the catalog (see tables.h).
 *
 * Invariants: a slot is FREE, LIVE or DROPPED (layout.h); a LIVE entry's id
 * is slot | gen << 16 with a generation never 0 and never reused until it
 * wraps, so a client holding a dropped table's id does not reach a newer
 * table in the same slot; a DROPPED slot becomes FREE only when the
 * reclaimer frees it, after every snapshot that could name it (reclaim.c).
 * Each live table's list of secondary indexes (first_index, next_index)
 * holds exactly its live indexes: an index joins it when created and
 * leaves it when dropped, and a table is dropped after its indexes.
 *
 * Ordering: an entry is written completely before the release store of its
 * id, which readers load with acquire order (libshm/catalog.h); dropped_ts
 * is stored with release order before the contents are retired.
 */
#include "tables.h"

#include <string.h>

#include "catalog.h"
#include "rows.h"
#include "secondary.h"

void tables_init(struct tables *c, uint8_t *base, struct shm_meta *meta,
		 struct retire_queue *retired)
{
	*c = (struct tables){ .base = base, .meta = meta, .retired = retired };
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++)
		meta->tables[i].dropped_ts = SHM_TS_INFINITY;
}

struct shm_table *tables_live(struct tables *c, uint32_t id)
{
	if (!shm_table_id_ok(id))
		return NULL;
	struct shm_table *t = &c->meta->tables[SHM_TABLE_SLOT(id)];
	return t->id == id && t->state == SHM_TABLE_LIVE ? t : NULL;
}

struct shm_table *tables_named(struct tables *c, const void *name, size_t len)
{
	int slot = shm_table_find(c->meta, name, len, NULL);
	return slot < 0 ? NULL : &c->meta->tables[slot];
}

unsigned tables_free_slots(const struct tables *c, unsigned want)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SHM_MAX_TABLES && n < want; i++)
		n += c->meta->tables[i].state == SHM_TABLE_FREE;
	return n;
}

/* Fill a free slot with a new table and publish it: its id. */
static uint32_t fill_slot(struct tables *c, const void *name, size_t len, uint32_t kind,
			  uint32_t base, uint64_t index_off, uint64_t schema_off, uint64_t ts)
{
	unsigned slot = 0;
	while (c->meta->tables[slot].state != SHM_TABLE_FREE)
		slot++; /* the caller counted enough free slots */
	struct shm_table *t = &c->meta->tables[slot];
	uint16_t gen = ++c->gen[slot];
	if (gen == 0)
		gen = ++c->gen[slot];
	memset(c->base + index_off, 0, INDEX_MIN_BYTES);
	t->index = shm_index_word(index_off, INDEX_MIN_LOG2);
	t->index_used = 0;
	t->index_replaced_ts = 0;
	t->left_out_ts = 0;
	t->count_head = 0;
	t->record_bytes = 0;
	t->index_since = 0;
	t->index_gen = 0;
	t->created_ts = ts;
	t->dropped_ts = SHM_TS_INFINITY;
	t->records = 0;
	t->kind = kind;
	t->base = base;
	t->root = 0;
	t->tree_bytes = 0;
	t->schema = schema_off;
	t->name_len = (uint8_t)len;
	memset(t->name, 0, sizeof(t->name));
	memcpy(t->name, name, len);
	t->state = SHM_TABLE_LIVE;
	uint32_t id = slot | (uint32_t)gen << 16;
	/* The entry is complete: publish its id. */
	__atomic_store_n(&t->id, id, __ATOMIC_RELEASE);
	return id;
}

uint32_t tables_create(struct tables *c, const void *name, size_t len, uint32_t kind,
		       uint64_t index_off, uint64_t schema_off, uint64_t ts, int *used)
{
	struct shm_table *t = tables_named(c, name, len);
	*used = !t;
	return t ? t->id : fill_slot(c, name, len, kind, 0, index_off, schema_off, ts);
}

uint32_t tables_create_index(struct tables *c, const struct shm_table *base, const void *name,
			     size_t len, uint32_t kind, uint64_t index_off, uint64_t def_off,
			     uint64_t ts)
{
	uint32_t id = fill_slot(c, name, len, kind, base->id, index_off, def_off, ts);
	unsigned b = SHM_TABLE_SLOT(base->id), slot = SHM_TABLE_SLOT(id);
	c->next_index[slot] = c->first_index[b];
	c->first_index[b] = (uint16_t)(slot + 1);
	return id;
}

struct shm_table *tables_first_index(struct tables *c, const struct shm_table *base)
{
	unsigned s = c->first_index[base - c->meta->tables];
	return s ? &c->meta->tables[s - 1] : NULL;
}

struct shm_table *tables_next_index(struct tables *c, const struct shm_table *ix)
{
	unsigned s = c->next_index[ix - c->meta->tables];
	return s ? &c->meta->tables[s - 1] : NULL;
}

struct shm_table *tables_index_named(struct tables *c, const struct shm_table *base,
				     const void *name, size_t len)
{
	for (struct shm_table *x = tables_first_index(c, base); x; x = tables_next_index(c, x))
		if (x->name_len == len && !memcmp(x->name, name, len))
			return x;
	return NULL;
}

/* Take index ix off its table's list. */
static void unlink_index(struct tables *c, const struct shm_table *ix)
{
	uint16_t *at = &c->first_index[SHM_TABLE_SLOT(ix->base)];
	uint16_t me = (uint16_t)(ix - c->meta->tables + 1);
	while (*at && *at != me)
		at = &c->next_index[*at - 1];
	if (*at)
		*at = c->next_index[me - 1];
	c->next_index[me - 1] = 0;
}

void tables_drop(struct tables *c, struct shm_table *t, uint64_t ts)
{
	/* Readers with snapshots from ts on see the table gone; those from its
	 * creation to ts keep reading it, so what it held is retired for
	 * [created_ts, ts) (retire.h): the index with every head it names as
	 * one item, freed in steps (reclaim.c), so that a drop costs the
	 * commit the same whatever the table holds. Older versions on the
	 * chains are retired already. */
	__atomic_store_n(&t->dropped_ts, ts, __ATOMIC_RELEASE);
	t->state = SHM_TABLE_DROPPED;
	if (t->count_head)
		retire_version(c->retired, ts, t->created_ts, t->count_head, SHM_COUNT_VERSION_SIZE,
			       0, t->id);
	retire_block(c->retired, ts, t->created_ts, t->index, (uint32_t)shm_index_bytes(t->index),
		     RETIRED_INDEX_CONTENTS);
	if (t->root)
		retire_block(c->retired, ts, t->created_ts, t->root, tree_retired_size(t),
			     RETIRED_TREE);
	if (t->kind & SHM_KIND_INDEX)
		unlink_index(c, t);
	if (t->schema)
		retire_block(c->retired, ts, t->created_ts, t->schema,
			     t->kind & SHM_KIND_INDEX
				     ? (uint32_t)sizeof(struct shm_index_def)
				     : ((const struct shm_schema *)(c->base + t->schema))->bytes,
			     RETIRED_BLOCK);
	retire_block(c->retired, ts, t->created_ts, (uint64_t)(t - c->meta->tables), 0,
		     RETIRED_TABLE_SLOT);
}
