/*
 * core.c - setting up and tearing down the writer's core (see core.h).
 *
 * The store starts empty at commit 1, published with release order so that
 * a reader's first snapshot sees the empty catalog tables_init wrote.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "prepare.h"

void core_init(struct core *c, uint8_t *base, struct shm_meta *meta, struct alloc *alloc,
	       struct retire_queue *retired, struct core_pressure pressure)
{
	c->pressure = pressure;
	c->base = base;
	c->meta = meta;
	c->alloc = alloc;
	c->retired = retired;
	c->scratch = (struct txn_scratch){ 0 };
	c->fill = (struct secondary_fill){ 0 };
	memset(&c->cluster, 0, sizeof(c->cluster));
	c->pending = (struct pending_tables){ 0 };
	c->internal = 0;
	c->log = (struct core_log){ 0 };
	c->monitor = NULL;
	c->applied_ts = 1;
	c->defer_publish = 0;
	c->replaying = 0;
	c->created = NULL;
	c->ncreated = c->created_cap = 0;
	tables_init(&c->tables, base, meta, retired);
	index_build_init(&c->build, base, alloc, retired);
	tree_writer_init(&c->tree, base, alloc, (struct tree_alloc){ prepare_node_block, c });
	__atomic_store_n(&meta->commit_ts, 1, __ATOMIC_RELEASE);
}

void core_destroy(struct core *c)
{
	index_build_destroy(&c->build);
	tree_writer_free(&c->tree);
	scratch_free(&c->scratch);
	fill_free(&c->fill);
	free(c->created);
}

void core_publish(struct core *c)
{
	if (c->meta->commit_ts == c->applied_ts)
		return;
	/* Everything the commits wrote is in place: make it visible. */
	__atomic_store_n(&c->meta->commit_ts, c->applied_ts, __ATOMIC_RELEASE);
}

const struct shm_version *core_head(const struct core *c, const struct shm_table *t,
				    const uint8_t *key, uint32_t klen, uint64_t hash)
{
	uint64_t s = shm_index_find(c->base, (const uint64_t *)(c->base + shm_index_off(t->index)),
				    shm_index_mask(t->index), hash, key, klen);
	return s ? (const void *)(c->base + (s & SHM_SLOT_OFF_MASK)) : NULL;
}
