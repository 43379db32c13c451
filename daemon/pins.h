/*
 * pins.h - retired items that a live snapshot still sees, grouped by the
 * newest such snapshot. New snapshots are newer than every retired item's
 * end, so the snapshots that see an item only ever end: an item needs
 * looking at again only when the snapshot of its group ends, and then it is
 * freed or moves to an older snapshot's group, at most once per snapshot
 * that saw it. The group of the oldest snapshot holds exactly what only
 * that snapshot keeps alive. Writer thread only.
 */
#ifndef SHMDBD_PINS_H
#define SHMDBD_PINS_H

#include <stddef.h>
#include <stdint.h>

#include "retire.h"

struct pin_group {
	uint64_t snap;          /* the newest live snapshot that sees the items */
	uint64_t bytes;         /* block bytes of the items */
	struct retired *items;
	size_t n, cap;
};

struct pins {
	struct pin_group *g;    /* n groups, by snap ascending, none empty */
	size_t n, cap;
	uint64_t bytes;         /* block bytes in all groups */
};

void pins_init(struct pins *p);
void pins_free(struct pins *p);

/* pins_add - add item to the group of snapshot `snap`. Returns 0 or -ENOMEM
 * (then nothing changed). O(log groups) but for a new group. */
int pins_add(struct pins *p, uint64_t snap, const struct retired *item);

/* The block bytes of the group of snapshot `snap` (0 if none). */
uint64_t pins_bytes_of(const struct pins *p, uint64_t snap);

/* pins_take - remove group i and move its items to *out (which must be
 * empty; pin_group_free releases it). */
void pins_take(struct pins *p, size_t i, struct pin_group *out);
void pin_group_free(struct pin_group *g);

/* Bytes an item holds: 0 for a table slot. */
static inline uint64_t retired_bytes(const struct retired *item)
{
	return item->kind == RETIRED_TABLE_SLOT ? 0 : item->size;
}

#endif /* SHMDBD_PINS_H */
