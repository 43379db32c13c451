/*
 * table_map.h - the ids a store's tables had when a checkpoint or log
 * record was written, mapped to the ids this run gave the same tables
 * (restore.c). A table's id is a catalog slot and a generation (layout.h):
 * which slot a new table gets depends on when reclamation freed the old
 * ones, so a replay cannot count on getting the ids of the first run. At
 * any moment the live tables of the first run had distinct slots, so one
 * entry per slot holds every id a later record can name; an entry is
 * replaced when its slot's next table is created.
 */
#ifndef SHMDBD_TABLE_MAP_H
#define SHMDBD_TABLE_MAP_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct table_map {
	struct {
		uint32_t old, now; /* old 0: unused */
	} e[SHM_MAX_TABLES];
	const uint32_t *expect; /* the record being replayed: the ids its */
	size_t nexpect;         /* CREATE ops answered the first time */
};

/* The id this run gave the table that was `old`: 0, or -ENOENT. */
static inline int table_map_get(const struct table_map *m, uint32_t old, uint32_t *now)
{
	uint32_t slot = SHM_TABLE_SLOT(old);
	if (slot >= SHM_MAX_TABLES || m->e[slot].old != old || !old)
		return -ENOENT;
	*now = m->e[slot].now;
	return 0;
}

static inline void table_map_set(struct table_map *m, uint32_t old, uint32_t now)
{
	uint32_t slot = SHM_TABLE_SLOT(old);
	if (slot < SHM_MAX_TABLES && old) {
		m->e[slot].old = old;
		m->e[slot].now = now;
	}
}

#endif /* SHMDBD_TABLE_MAP_H */
