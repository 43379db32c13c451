/*
 * tables.h - the writer's side of the table catalog in the meta segment:
 * finding a live table by id or name, creating and dropping tables.
 * Writer thread only.
 */
#ifndef SHMDBD_TABLES_H
#define SHMDBD_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "index_build.h"
#include "layout.h"
#include "retire.h"

struct tables {
	uint8_t *base;
	struct shm_meta *meta;
	struct retire_queue *retired;
	uint16_t gen[SHM_MAX_TABLES];   /* each slot's last generation */
	/* Each table's live secondary indexes, a list through their slots:
	 * first_index[base slot] and next_index[index slot] hold a slot + 1,
	 * 0 for the end. */
	uint16_t first_index[SHM_MAX_TABLES];
	uint16_t next_index[SHM_MAX_TABLES];
};

/* tables_init - an empty catalog: every slot free, none ever dropped. */
void tables_init(struct tables *c, uint8_t *base, struct shm_meta *meta,
		 struct retire_queue *retired);

/* The live table with this id, or NULL. */
struct shm_table *tables_live(struct tables *c, uint32_t id);

/* The live table named name[0..len), or NULL. */
struct shm_table *tables_named(struct tables *c, const void *name, size_t len);

/* How many free slots there are, counting up to `want`. */
unsigned tables_free_slots(const struct tables *c, unsigned want);

/* How many retire-queue items dropping a table takes: its index with its
 * heads, its count, its tree, its schema, its slot. */
#define TABLES_DROP_RETIRES 5u

/* The size an ordered table's whole tree is retired with: its bytes, as
 * far as an item's size holds them (a statistic). */
static inline uint32_t tree_retired_size(const struct shm_table *t)
{
	return t->tree_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)t->tree_bytes;
}

/*
 * tables_create - the table named name[0..len), of `kind` (0,
 * SHM_KIND_ORDERED or SHM_KIND_ORDERED | SHM_KIND_MULTI, or SHM_KIND_ROWS
 * with 0 or SHM_KIND_ORDERED), live from commit ts, with the
 * INDEX_MIN_BYTES block at index_off as its empty index and, for rows,
 * the checked schema written at schema_off (else 0): its id. If a live
 * table has that name already, its id, and *used is cleared (the caller
 * frees the blocks); else *used is set. A free slot must exist
 * (tables_free_slots). The entry is complete before its id is published
 * with release order.
 */
uint32_t tables_create(struct tables *c, const void *name, size_t len, uint32_t kind,
		       uint64_t index_off, uint64_t schema_off, uint64_t ts, int *used);

/*
 * tables_create_index - a secondary index of live table base (secondary.h)
 * on the column named name[0..len), of `kind` (SHM_KIND_INDEX |
 * SHM_KIND_ORDERED, with SHM_KIND_UNIQUE or not), live from commit ts,
 * with the INDEX_MIN_BYTES block at index_off as its empty hash index and
 * its definition, complete, at def_off: its id. A free slot must exist.
 * Published as tables_create publishes a table.
 */
uint32_t tables_create_index(struct tables *c, const struct shm_table *base, const void *name,
			     size_t len, uint32_t kind, uint64_t index_off, uint64_t def_off,
			     uint64_t ts);

/* The live index of table `base` on the column named name[0..len), or
 * NULL. */
struct shm_table *tables_index_named(struct tables *c, const struct shm_table *base,
				     const void *name, size_t len);

/* The first live index of `base`, and the one after index `ix`; NULL at
 * the end. */
struct shm_table *tables_first_index(struct tables *c, const struct shm_table *base);
struct shm_table *tables_next_index(struct tables *c, const struct shm_table *ix);

/*
 * tables_drop - drop live table t at commit ts: snapshots from ts on see it
 * gone, older ones read it until its blocks are freed after them. Retires
 * the index with every key's head, the count, the tree, the schema and the
 * catalog slot at ts
 * (room reserved: TABLES_DROP_RETIRES), whatever the table holds. A
 * secondary index leaves its table's list; a table with indexes must have
 * had them dropped first.
 */
void tables_drop(struct tables *c, struct shm_table *t, uint64_t ts);

#endif /* SHMDBD_TABLES_H */
