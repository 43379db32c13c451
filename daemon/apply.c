/*
 * apply.c - pass 3 of a transaction in the writer (see apply.h): the
 * versions, and the tables and secondary indexes created, cleared and
 * dropped (a table's indexes with it).
 *
 * Counters: a table's index_used is the number of non-empty slots of its
 * index, records the number whose head is not a tombstone, so index_used -
 * records heads are tombstones; write_version keeps both.
 *
 * Ordering: a version and everything it points to are written before the
 * release store that publishes its slot, and its begin_ts last of its own
 * fields (its block may be a pruned version a reader still reads, layout.h);
 * the slot's old head is retired at the commit with its own begin_ts and the
 * new version, so a snapshot older than it can still follow `older` to it
 * and the reclaimer knows which snapshots see it and who links to it.
 * Readers pair these with acquire loads (index.h, the client's read path).
 *
 * Cache misses of neighbouring operations overlap: while operation i is
 * applied, the index slot of operation i + 2 * APPLY_AHEAD, and the version
 * that operation i + APPLY_AHEAD's slot points to (the key's head, if the
 * tag matches) and the block its new version goes into, are already
 * loading. Each op otherwise waits on up to three misses in turn. The
 * first ops' start earlier still, while prepare runs (apply_prefetch_slots
 * before it, apply_prefetch_heads before it walks the ordered tables'
 * trees): a short transaction's own misses then overlap its tree walk and
 * prepare's checks instead of following them; so do the misses of the
 * leaves its ordered tables' keys go to, found by reading the inner nodes
 * (which the walk then finds loaded) in apply_prefetch_slots. Only
 * hints: what changes before an op runs makes a prefetch miss, never a
 * wrong answer. The helpers return addresses and the prefetches are issued
 * inline in the apply loop (prefetch_ahead is always inlined): GCC deletes
 * calls to a function that only prefetches (it finds it pure), as it did to
 * a first version of this.
 */
#include "apply.h"

#include <string.h>

#include "index.h"
#include "pending.h"
#include "prepare.h"
#include "secondary.h"
#include "tree_read.h"
#include "tree_write.h"

#define APPLY_AHEAD 16

static struct shm_version *version_at(const struct core *c, uint64_t off)
{
	return (struct shm_version *)(c->base + off);
}

static uint64_t *slots_of(const struct core *c, const struct shm_table *t)
{
	return (uint64_t *)(c->base + shm_index_off(t->index));
}

/* The index of the table op i writes, or NULL if op i writes none. */
static const uint64_t *op_slots(struct core *c, size_t i, uint64_t *mask)
{
	const struct shm_op *op = &c->scratch.ops[i].op;
	if (op->code != SHM_OP_PUT && op->code != SHM_OP_DEL)
		return NULL;
	const struct shm_table *t = tables_live(&c->tables, op->table);
	if (!t)
		return NULL;
	*mask = shm_index_mask(t->index);
	return slots_of(c, t);
}

/* Op i's home slot in its table's index, or NULL. */
static const uint64_t *home_slot(struct core *c, size_t i)
{
	uint64_t mask;
	const uint64_t *slots = op_slots(c, i, &mask);
	return slots ? &slots[c->scratch.ops[i].hash & mask] : NULL;
}

/* Op i's home slot in the index a build is making for its table, if the
 * write is likely to be repeated there (index_build_home), or NULL. */
static const uint64_t *build_home_slot(struct core *c, size_t i)
{
	const struct shm_op *op = &c->scratch.ops[i].op;
	if (!c->build.t || c->build.t->id != op->table)
		return NULL;
	return index_build_home(&c->build, c->build.t, c->scratch.ops[i].hash);
}

/* The version op i's key most likely has as head (a tag match in its
 * first two slots), or NULL. */
static const struct shm_version *likely_head(struct core *c, size_t i)
{
	uint64_t mask;
	const uint64_t *slots = op_slots(c, i, &mask);
	uint64_t s = slots ? shm_index_candidate(slots, mask, c->scratch.ops[i].hash) : 0;
	return s ? version_at(c, s & SHM_SLOT_OFF_MASK) : NULL;
}

/* Ops whose misses start together (prefetch_ahead). */
#define APPLY_BATCH 8

/* Before op i, every APPLY_BATCH ops: the home slots of the ops
 * 2 * APPLY_AHEAD on, and the heads and blocks of those APPLY_AHEAD on,
 * start loading, a batch at a time. Each is a page of its own, and where
 * a hypervisor maps the pages (the benchmark host) the walk of a page's
 * tables holds the cpu up, a prefetch's too: walks asked for together
 * overlap, where one asked for per op waits behind the ops before. */
static inline __attribute__((always_inline)) void prefetch_ahead(struct core *c, size_t i,
								  size_t nops)
{
	const struct pending_op *ops = c->scratch.ops;
	const void *p;
	if (i % APPLY_BATCH)
		return;
	for (size_t k = i + 2 * APPLY_AHEAD; k < i + 2 * APPLY_AHEAD + APPLY_BATCH && k < nops; k++) {
		if ((p = home_slot(c, k)))
			__builtin_prefetch(p);
		if ((p = build_home_slot(c, k)))
			__builtin_prefetch(p, 1);
	}
	for (size_t k = i + APPLY_AHEAD; k < i + APPLY_AHEAD + APPLY_BATCH && k < nops; k++) {
		if (!ops[k].block)
			continue;
		if ((p = likely_head(c, k)))
			__builtin_prefetch(p);
		__builtin_prefetch(c->base + ops[k].block, 1);
	}
}

/*
 * The oldest snapshot that may reach `head`, t's head being replaced now. A
 * snapshot sees it from its begin_ts on; but if it was already the head
 * when t's index was last replaced, the replaced index (kept for every
 * snapshot older than that, retire.h) names it in its slot, and a snapshot
 * that keeps that index reaches it first whatever its age: then every
 * snapshot older than its end may, and it is kept for them (a slot naming
 * a pruned block would send a cursor nowhere). Versions written since the
 * last replacement are in no older index. In an ordered table, a replaced
 * leaf that named it reaches it too, for the snapshots from that leaf's
 * creation on (reach.h); and when a CLEAR or DROP later in the transaction
 * takes the whole tree away, the leaf naming it (stored in place, perhaps)
 * goes with the tree, for every snapshot older than the commit.
 */
static uint64_t reached_from(struct core *c, const struct shm_table *t, const struct pending_op *p,
			     const struct shm_version *head, uint64_t off)
{
	uint64_t from = head->begin_ts < t->index_replaced_ts ? 0 : head->begin_ts;
	if (t->kind & SHM_KIND_ORDERED) {
		if (p->tree_dropped)
			return 0;
		uint64_t leaf = reach_take(&c->tree.reach, off);
		if (leaf < from)
			from = leaf;
	}
	return from;
}

static void write_version(struct core *c, struct shm_table *t, const struct pending_op *p,
			  uint64_t ts)
{
	const struct shm_op *op = &p->op;
	uint64_t s, *slots = slots_of(c, t);
	uint64_t pos = shm_index_probe(c->base, slots, shm_index_mask(t->index), p->hash, op->key,
				       op->klen, &s);
	struct shm_version *head = s ? version_at(c, s & SHM_SLOT_OFF_MASK) : NULL;
	int present = head && head->vlen != SHM_TOMBSTONE;

	if (op->code == SHM_OP_DEL && !present) {
		/* Deleting a missing key changes nothing. */
		alloc_unget_version(c->alloc, p->block, op_block_size(op));
		return;
	}
	/* The block may be a pruned version that a reader still reads: its
	 * begin_ts goes last, so that until then it reads as free. */
	struct shm_version *v = version_at(c, p->block);
	v->older = head ? s & SHM_SLOT_OFF_MASK : 0;
	v->klen = op->klen;
	v->vlen = op->code == SHM_OP_DEL ? SHM_TOMBSTONE : op->vlen;
	memcpy(v->key, op->key, op->klen);
	if (op->code == SHM_OP_PUT && op->vlen)
		memcpy((uint8_t *)v + shm_version_value_off(op->klen), op->val, op->vlen);
	__atomic_store_n(&v->begin_ts, ts, __ATOMIC_RELEASE);

	/* The version is complete: publish it. */
	uint64_t value = shm_slot_make(p->block, p->hash, pos,
				       (unsigned)(t->index & SHM_INDEX_LOG2_MASK));
	__atomic_store_n(&slots[pos], value, __ATOMIC_RELEASE);
	index_build_repeat(&c->build, t, pos, p->hash, op->key, op->klen, value);
	if (head)
		retire_version(c->retired, ts, reached_from(c, t, p, head, v->older), v->older,
			       (uint32_t)shm_version_size(head->klen, head->vlen), p->block, t->id);
	else
		t->index_used++;
	if (op->code == SHM_OP_PUT && !present)
		t->records++;
	else if (op->code == SHM_OP_DEL)
		t->records--;
	if (present)
		t->record_bytes -= alloc_class_size(shm_version_size(head->klen, head->vlen));
	if (op->code == SHM_OP_PUT)
		t->record_bytes += alloc_class_size(op_block_size(op));
}

/* An ordered table takes the tree prepare made for it (a multimap counts
 * its pairs there), and the nodes that tree replaced are retired. */
static void take_tree(struct core *c, struct touched *tt, uint64_t ts)
{
	struct shm_table *t = tt->t;
	if (!(t->kind & SHM_KIND_ORDERED) || t->state != SHM_TABLE_LIVE)
		return;
	tree_store_refs(&c->tree, &tt->tree, ts);
	t->root = tt->tree.root;
	t->tree_bytes += (uint64_t)tt->tree.bytes;
	if (t->kind & SHM_KIND_MULTI)
		t->records += (uint64_t)tt->tree.records;
	tree_retire_old(&c->tree, &tt->tree, c->retired, ts);
}

/* A new count version for each table the transaction changed the count,
 * record bytes or tree of (layout.h), at the block prepare reserved; the
 * previous one is retired, replaced by it. Tables dropped by the
 * transaction get none. */
static void publish_counts(struct core *c, uint64_t ts)
{
	for (size_t k = 0; k < c->scratch.ntouched; k++) {
		struct touched *tt = &c->scratch.touched[k];
		struct shm_table *t = tt->t;
		uint64_t block = tt->count_block;
		tt->count_block = 0;
		take_tree(c, tt, ts);
		if (t->state == SHM_TABLE_LIVE)
			cluster_note(&c->cluster, t, tt->adds);
		if (t->state != SHM_TABLE_LIVE ||
		    (t->records == tt->records0 && t->record_bytes == tt->bytes0 &&
		     t->root == tt->root0 && tt->pending == tt->pending0)) {
			alloc_unget_version(c->alloc, block, SHM_COUNT_VERSION_SIZE);
			continue;
		}
		if (tt->pending != tt->pending0)
			pending_note(c, t, tt->pending);
		struct shm_version *v = version_at(c, block);
		struct shm_count count = { t->records, t->record_bytes, t->root, t->tree_bytes,
					   tt->pending };
		v->older = t->count_head;
		v->klen = 0;
		v->vlen = sizeof(count);
		memcpy((uint8_t *)v + shm_version_value_off(0), &count, sizeof(count));
		__atomic_store_n(&v->begin_ts, ts, __ATOMIC_RELEASE);
		/* Release: the version is complete before it is the head. */
		__atomic_store_n(&t->count_head, block, __ATOMIC_RELEASE);
		if (v->older)
			retire_version(c->retired, ts, version_at(c, v->older)->begin_ts, v->older,
				       SHM_COUNT_VERSION_SIZE, block, t->id);
	}
}

static uint64_t create_table(struct core *c, const struct pending_op *p, uint64_t ts)
{
	int used;
	if (p->side_block) /* the schema prepare checked */
		memcpy(c->base + p->side_block, p->op.val, p->op.vlen);
	uint32_t id = tables_create(&c->tables, p->op.key, p->op.klen, (uint32_t)p->op.since_ts,
				    p->block, p->side_block, ts, &used);
	if (!used) {
		alloc_put(c->alloc, p->block, op_block_size(&p->op));
		if (p->side_block)
			alloc_put(c->alloc, p->side_block, p->op.vlen);
	}
	return id;
}

/* Give t the empty index at op p's block and retire the old one with the
 * heads it names as one item, freed in steps after the snapshots that may
 * use it (retire.h): the commit costs the same whatever t holds. */
static void clear_table(struct core *c, const struct pending_op *p, uint64_t ts)
{
	struct shm_table *t = tables_live(&c->tables, p->op.table);
	unsigned log2 = (unsigned)p->op.since_ts;
	index_build_abort(&c->build, t);
	memset(c->base + p->block, 0, op_block_size(&p->op));
	/* The old contents stay the table's for the snapshots before ts: a
	 * generation names them (layout.h), published before the new index
	 * with release stores, in the order catalog.h's readers rely on. */
	struct shm_index_gen *g = (struct shm_index_gen *)(c->base + p->side_block);
	g->since = t->index_since;
	g->word = t->index;
	g->older = t->index_gen;
	__atomic_store_n(&t->index_gen, p->side_block, __ATOMIC_RELEASE);
	__atomic_store_n(&t->index_since, ts, __ATOMIC_RELEASE);
	retire_block(c->retired, ts, 0, p->side_block, sizeof(*g), RETIRED_BLOCK);
	retire_block(c->retired, ts, 0, t->index, (uint32_t)shm_index_bytes(t->index),
		     RETIRED_INDEX_CONTENTS);
	/* Release: the empty slots are written before the index is t's. */
	__atomic_store_n(&t->index, shm_index_word(p->block, log2), __ATOMIC_RELEASE);
	/* The tree as the transaction found it goes the same way; the one
	 * prepare made from the ops after the last clear replaces it. */
	if (t->root)
		retire_block(c->retired, ts, 0, t->root, tree_retired_size(t), RETIRED_TREE);
	if (t->kind & SHM_KIND_ORDERED)
		reach_forget_table(&c->tree.reach, t->id); /* its versions leave with the index */
	t->root = 0;
	t->tree_bytes = 0;
	t->index_used = 0;
	t->records = 0;
	t->record_bytes = 0;
	t->index_replaced_ts = ts;
	t->left_out_ts = ts; /* a check since before the clear fails (prepare.c) */
}

/* Drop live table t (a secondary index, or one that has none left). */
static void drop_one(struct core *c, struct shm_table *t, uint64_t ts)
{
	index_build_abort(&c->build, t);
	if (t->kind & SHM_KIND_ORDERED)
		reach_forget_table(&c->tree.reach, t->id);
	tables_drop(&c->tables, t, ts);
}

/* Drop the table op names, and its secondary indexes with it. */
static void drop_table(struct core *c, const struct shm_op *op, uint64_t ts)
{
	struct shm_table *t = tables_named(&c->tables, op->key, op->klen), *ix;
	while ((ix = tables_first_index(&c->tables, t)))
		drop_one(c, ix, ts);
	drop_one(c, t, ts);
}

static void drop_index(struct core *c, const struct shm_op *op, uint64_t ts)
{
	struct shm_table *t = tables_live(&c->tables, op->table);
	drop_one(c, tables_index_named(&c->tables, t, op->key, op->klen), ts);
}

/* A secondary index of op p's table on the column its key names (prepare
 * checked both), built from the next pass of the writer on
 * (secondary_fill.h): its id. An index of that column there already is
 * the answer, unless its build failed: that one is dropped and made
 * again. */
static uint64_t create_index(struct core *c, const struct pending_op *p, uint64_t ts)
{
	const struct shm_op *op = &p->op;
	struct shm_table *t = tables_live(&c->tables, op->table);
	struct shm_table *ix = tables_index_named(&c->tables, t, op->key, op->klen);
	if (ix && ((const struct shm_index_def *)(c->base + ix->schema))->ready_ts !=
			  SHM_TS_INFINITY) {
		alloc_put(c->alloc, p->block, op_block_size(op));
		alloc_put(c->alloc, p->side_block, sizeof(struct shm_index_def));
		return ix->id;
	}
	if (ix)
		drop_one(c, ix, ts);
	const struct shm_schema *s = (const struct shm_schema *)(c->base + t->schema);
	unsigned col = 0;
	while (s->col[col].name_len != op->klen ||
	       memcmp(shm_column_name(s, col), op->key, op->klen))
		col++;
	struct shm_index_def *d = (struct shm_index_def *)(c->base + p->side_block);
	*d = (struct shm_index_def){ .magic = SHM_INDEX_MAGIC, .column = (uint16_t)col,
				     .type = s->col[col].type,
				     .width = shm_index_width(s->col[col].type, s->col[col].size),
				     .base = t->id };
	uint32_t kind = SHM_KIND_INDEX | SHM_KIND_ORDERED |
			(op->since_ts & SHMDB_UNIQUE ? SHM_KIND_UNIQUE : 0);
	uint32_t id = tables_create_index(&c->tables, t, op->key, op->klen, kind, p->block,
					  p->side_block, ts);
	fill_add(&c->fill, &c->tables, id);
	return id;
}

/* The node above the leaf of its table's tree that op i (of nops) goes
 * to (tree_parent_toward, not read), if op i writes an ordered table and
 * its leaf is likely wanted; else NULL. */
static const struct shm_node *op_leaf_parent(struct core *c, size_t i, size_t nops)
{
	const struct shm_op *op = &c->scratch.ops[i].op;
	if (op->code != SHM_OP_PUT && op->code != SHM_OP_DEL && op->code != SHM_OP_DEL_VALUE)
		return NULL;
	const struct shm_table *t = tables_live(&c->tables, op->table);
	if (!t || !(t->kind & SHM_KIND_ORDERED))
		return NULL;
	/* A table whose last commit left its new key out of the tree takes
	 * new keys: a lone PUT is likely one too, whose key will be left out
	 * and needs no leaf (pending.h), and a page walk started for it here
	 * would hold the commit up. */
	if (nops == 1 && op->code == SHM_OP_PUT && pending_of(c, t))
		return NULL;
	return tree_parent_toward(&c->tree, t->root, op->key, op->klen);
}

void apply_prefetch_slots(struct core *c, size_t nops)
{
	const struct shm_node **up = c->scratch.leaf_parents;
	const void *p;
	size_t ordered = 0;
	/* A short transaction on an ordered table would wait on the misses
	 * of its leaves in turn (each in memory, not in a cache) unless they
	 * start early; a long one's walk loads its leaves ahead itself
	 * (tree.c). A miss waits for its page's address too, and on a
	 * virtual machine the first load of a page, even a prefetch, holds
	 * the cpu up while two levels of page tables are walked; walks that
	 * start together overlap. So the nodes above the leaves are found
	 * now (the nodes above those stay in the cache) and start loading
	 * with the home slots; prepare's first checks run while they load;
	 * then the leaves they name start loading with the heads and the new
	 * blocks (apply_prefetch_heads). */
	for (size_t i = 0; nops <= LEAVES_AHEAD && i < nops; i++)
		ordered += (up[i] = op_leaf_parent(c, i, nops)) != NULL;
	c->scratch.nleaf_parents = ordered ? nops : 0;
	for (size_t i = 0; i < nops && i < 2 * APPLY_AHEAD; i++)
		if ((p = home_slot(c, i)))
			__builtin_prefetch(p);
	for (size_t i = 0; i < c->scratch.nleaf_parents; i++)
		if (up[i])
			shm_prefetch_search(up[i]);
}

void apply_prefetch_heads(struct core *c, size_t nops)
{
	const struct pending_op *ops = c->scratch.ops;
	const struct shm_node **up = c->scratch.leaf_parents, **leaf = c->scratch.leaves;
	const void *p;
	/* (A key left out of the tree, pending, needs no leaf.) */
	for (size_t i = c->scratch.pend_left; i < c->scratch.nleaf_parents; i++)
		if ((leaf[i] = up[i] ? tree_leaf_below(&c->tree, up[i], ops[i].op.key,
						       ops[i].op.klen)
				     : NULL))
			shm_prefetch_search(leaf[i]);
	if (c->scratch.pend_left && c->scratch.nleaf_parents)
		leaf[0] = NULL;
	c->scratch.nleaves = c->scratch.nleaf_parents;
	c->scratch.nleaf_parents = 0;
	for (size_t i = 0; i < nops && i < APPLY_AHEAD; i++) {
		if (!ops[i].block)
			continue;
		if ((p = likely_head(c, i)))
			__builtin_prefetch(p);
		__builtin_prefetch(c->base + ops[i].block, 1);
	}
}

void apply_ops(struct core *c, size_t nops, uint64_t ts, uint64_t *value)
{
	const struct pending_op *ops = c->scratch.ops;

	*value = 0;
	c->ncreated = 0;
	for (size_t i = 0; i < nops; i++) {
		const struct shm_op *o = &ops[i].op;
		prefetch_ahead(c, i, nops);
		switch (o->code) {
		case SHM_OP_PUT:
		case SHM_OP_DEL:
			if (!ops[i].tree_only)
				write_version(c, tables_live(&c->tables, o->table), &ops[i], ts);
			break;
		case SHM_OP_CREATE_TABLE:
			*value = create_table(c, &ops[i], ts);
			c->created[c->ncreated++] = (uint32_t)*value;
			break;
		case SHM_OP_DROP_TABLE:
			drop_table(c, o, ts);
			break;
		case SHM_OP_CREATE_INDEX:
			*value = create_index(c, &ops[i], ts);
			c->created[c->ncreated++] = (uint32_t)*value;
			break;
		case SHM_OP_DROP_INDEX:
			drop_index(c, o, ts);
			break;
		case SHM_OP_CLEAR:
			clear_table(c, &ops[i], ts);
			break;
		}
	}
	publish_counts(c, ts);
}
