/*
 * core.c - setting up and tearing down the writer's core (see core.h).
 *
 * The store starts empty at commit 1, published with release order so that
 * a reader's first snapshot sees the empty catalog tables_init wrote.
 */
#include "core.h"
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
}
