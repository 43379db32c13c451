/*
 * catalog.h - finding a table in the meta segment's catalog, by id and by
 * name: the one rule the client library and the writer both apply.
 *
 * Only the writer changes the catalog. It completes an entry before the
 * release store of its id, so a reader that loads a matching id with
 * acquire order sees the rest of the entry as of that publication; state,
 * created_ts and dropped_ts say whether the entry is the live table, and
 * each caller judges them against its own view (the writer: live now; a
 * snapshot: created at or before it and not dropped by it).
 */
#ifndef SHMDB_CATALOG_H
#define SHMDB_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "layout.h"

/* Whether a table id names a catalog slot (SHM_TABLE_SLOT(id)): not 0,
 * and not past the catalog. The entry there may hold another table
 * (another generation): the caller compares its id. */
static inline int shm_table_id_ok(uint32_t id)
{
	return SHM_TABLE_SLOT(id) < SHM_MAX_TABLES && id != 0;
}

/* The slot of the live table named name[0..len), or -1 (a secondary
 * index, named after its column, is never found by name); *id (may be
 * NULL) gets the id that slot held when it matched, loaded once, so that a
 * client never pairs one table's name with a later table's id. Acquire on
 * each id: pairs with the writer's publication of the entry. */
static inline int shm_table_find(const struct shm_meta *m, const void *name, size_t len,
				 uint32_t *id)
{
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++) {
		const struct shm_table *t = &m->tables[i];
		uint32_t seen = __atomic_load_n(&t->id, __ATOMIC_ACQUIRE);
		if (seen && __atomic_load_n(&t->state, __ATOMIC_RELAXED) == SHM_TABLE_LIVE &&
		    !(t->kind & SHM_KIND_INDEX) && t->name_len == len && !memcmp(t->name, name, len)) {
			if (id)
				*id = seen;
			return (int)i;
		}
	}
	return -1;
}

/* The entry of table id if snapshot snap sees it (created at or before it,
 * not dropped by it), else NULL. Acquire on the id, as above. */
static inline const struct shm_table *shm_table_at(const struct shm_meta *m, uint32_t id,
						   uint64_t snap)
{
	if (!shm_table_id_ok(id))
		return NULL;
	const struct shm_table *t = &m->tables[SHM_TABLE_SLOT(id)];
	if (__atomic_load_n(&t->id, __ATOMIC_ACQUIRE) != id || t->created_ts > snap ||
	    __atomic_load_n(&t->dropped_ts, __ATOMIC_RELAXED) <= snap)
		return NULL;
	return t;
}

/*
 * The index word of table entry t as snapshot snap sees the table: the
 * current index, or, for a snapshot older than the table's last clear, the
 * index of the generation it saw (layout.h, struct shm_index_gen). The
 * writer publishes a clear with release stores of index_gen, index_since,
 * then index; loaded here in the opposite order (acquire), a new index
 * comes with its since and its generation block.
 */
static inline uint64_t shm_table_word(const uint8_t *base, const struct shm_table *t,
				      uint64_t snap)
{
	uint64_t word = __atomic_load_n(&t->index, __ATOMIC_ACQUIRE);
	if (__builtin_expect(__atomic_load_n(&t->index_since, __ATOMIC_ACQUIRE) <= snap, 1))
		return word;
	const struct shm_index_gen *g = (const struct shm_index_gen *)(base +
		__atomic_load_n(&t->index_gen, __ATOMIC_ACQUIRE));
	while (g->since > snap)
		g = (const struct shm_index_gen *)(base + g->older);
	return g->word;
}

#endif /* SHMDB_CATALOG_H */
