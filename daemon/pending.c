/*
 * pending.c - an ordered table's newest key, kept out of its tree until the
 * writer has a moment (layout.h, struct shm_count's pending).
 *
 * Why: a 1-put commit of a new key into an ordered table would wait for
 * the key's leaf to load, a page of its own, where the hash table's
 * commit waits only for the key's index slot (on the benchmark host, one
 * page walk more: about 0.4 µs of a 1.7 µs commit). So such a commit
 * writes the key's version and index slot as a hash table's does, and
 * names the version in its count version as pending instead of placing
 * the key in the tree. Once the pass has posted its completions, the
 * writer loads the pending key's leaf (pending_warm), while the client
 * reads its completion; the table's next commit that changes its tree,
 * or leaves a key of its own out, places the pending key with its own
 * changes (pending_change), its leaf in the cache by then. A writer with
 * nothing to do for PENDING_QUIET_NS, or about to sleep, places it by a
 * commit of its own (pending_place: a PUT marked `place`, which writes no
 * version, only the tree change, and is not logged).
 *
 * Invariants: a table has at most one key pending; it is a key of an
 * ordered table (not a multimap, not a secondary index, not a table of
 * rows), with a tree, the key's only version (it was new: no slot of its
 * probe had its tag), and no commit since changed the key or the tree
 * (either would have placed it), so the count versions that name it all
 * name the same root, and every snapshot that reads one of them sees
 * that version. A CLEAR drops it with the
 * rest. pending_tables lists every table that may have one (a table
 * dropped since is found gone and forgotten).
 *
 * Ordering: the key's version is written (apply.c) before the count
 * version that names it, and that count version is published as every one
 * is, by the release store of the table's count_head, which readers load
 * with acquire (tree_read.h, shm_count_at); the commit's timestamp comes
 * after both.
 *
 * Readers: a cursor merges the pending key into the tree's order
 * (libshm/ordered.c). A key placed in place shows in the leaf to the
 * snapshots that still read the pending one too: the cursor takes the two
 * for one record.
 */
#include "pending.h"

#include <string.h>

#include "commit.h"
#include "core.h"
#include "index.h"
#include "tree.h"
#include "tree_read.h"

uint64_t pending_of(const struct core *c, const struct shm_table *t)
{
	if (!t->count_head)
		return 0;
	const struct shm_version *v = (const void *)(c->base + t->count_head);
	struct shm_count n;
	memcpy(&n, (const uint8_t *)v + shm_version_value_off(0), sizeof(n));
	return n.pending;
}

/* Whether table `id` is in the list, or the list has room for it. */
static int listed_or_room(const struct pending_tables *p, uint32_t id)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->id[i] == id)
			return 1;
	return p->n < PENDING_TABLES;
}

/* Whether a slot of the probe for `hash` in t's index holds a key with
 * its tag: if none does, the index has no such key (a probe ends at an
 * empty slot). Reads no version: a key's head is a miss of its own. */
static int tag_in_probe(const struct core *c, const struct shm_table *t, uint64_t hash)
{
	const uint64_t *slots = (const uint64_t *)(c->base + shm_index_off(t->index));
	uint64_t mask = shm_index_mask(t->index), tag = SHM_SLOT_TAG(hash);
	for (uint64_t i = hash & mask;; i = (i + 1) & mask) {
		uint64_t s = shm_slot_load(&slots[i]);
		if (!s)
			return 0;
		if ((s & SHM_SLOT_TAG_MASK) == tag)
			return 1;
	}
}

void pending_decide(struct core *c, size_t nops)
{
	const struct pending_op *p = &c->scratch.ops[0];
	c->scratch.pend_left = 0;
	if (nops != 1 || c->internal || c->replaying || p->op.code != SHM_OP_PUT ||
	    p->tree_only || p->derived || !p->block)
		return;
	const struct shm_table *t = tables_live(&c->tables, p->op.table);
	if (!t || t->kind != SHM_KIND_ORDERED || !t->root || !listed_or_room(&c->pending, t->id))
		return;
	c->scratch.pend_left = !tag_in_probe(c, t, p->hash);
}

int pending_change(const struct core *c, const struct shm_table *t, uint64_t v,
		   const struct tree_change *ch, size_t n, struct tree_change *out)
{
	const struct shm_version *pv = (const void *)(c->base + v);
	uint64_t prefix = shm_key_prefix(pv->key, pv->klen);
	for (size_t k = 0; k < n; k++)
		if (ch[k].table == t->id && ch[k].prefix == prefix &&
		    !shm_bytes_cmp(ch[k].key, ch[k].klen, pv->key, pv->klen))
			return 0;
	const struct pending_tables *p = &c->pending;
	int warm = p->warm_id == t->id && p->warm_root == t->root && p->warm_v == v;
	*out = (struct tree_change){ .key = pv->key, .klen = pv->klen, .val = pv->key,
				     .ref = v, .prefix = prefix, .table = t->id, .seq = 0,
				     .kind = TREE_PUT, .leaf = warm ? p->warm_leaf : NULL };
	return 1;
}

void pending_note(struct core *c, const struct shm_table *t, uint64_t v)
{
	struct pending_tables *p = &c->pending;
	for (unsigned i = 0; i < p->n; i++) {
		if (p->id[i] == t->id) {
			if (!v)
				p->id[i] = p->id[--p->n];
			return;
		}
	}
	if (v && p->n < PENDING_TABLES)
		p->id[p->n++] = t->id;
}

/* Place t's pending key `v` by a commit of the writer's own. */
static void place_one(struct core *c, const struct shm_table *t, uint64_t v)
{
	const struct shm_version *pv = (const void *)(c->base + v);
	if (!c->scratch.cap && scratch_reserve(&c->scratch, 1))
		return; /* the next commit that changes the tree places it */
	c->scratch.ops[0] = (struct pending_op){
		.op = { .code = SHM_OP_PUT, .table = t->id, .key = pv->key, .klen = pv->klen },
		.hash = shm_key_hash(pv->key, pv->klen), .tree_only = 1, .place = v };
	uint64_t ts, value;
	int published = c->meta->commit_ts == c->applied_ts;
	c->internal = 1;
	int e = commit_ops(c, 1, &ts, &value);
	c->internal = 0;
	if (!e && published)
		core_publish(c);
	if (e) /* no room: tried again after the next commit, not at every pass */
		c->pending.failed_at = c->applied_ts;
}

void pending_warm(struct core *c)
{
	for (unsigned i = 0; i < c->pending.n; i++) {
		const struct shm_table *t = tables_live(&c->tables, c->pending.id[i]);
		uint64_t v = t ? pending_of(c, t) : 0;
		if (!v || !t->root || (c->pending.warm_id == t->id &&
					c->pending.warm_root == t->root && c->pending.warm_v == v))
			continue; /* none, or its leaf found already */
		const struct shm_version *pv = (const void *)(c->base + v);
		const struct shm_node *up = tree_parent_toward(&c->tree, t->root, pv->key, pv->klen);
		const struct shm_node *leaf = tree_leaf_below(&c->tree, up, pv->key, pv->klen);
		shm_prefetch_search(leaf);
		c->pending.warm_leaf = leaf;
		c->pending.warm_root = t->root;
		c->pending.warm_v = v;
		c->pending.warm_id = t->id;
	}
}

void pending_place(struct core *c)
{
	if (c->pending.failed_at == c->applied_ts)
		return;
	/* Backwards: a table whose key is placed leaves the list, the last
	 * entry (one visited already) moving into its place. */
	for (unsigned i = c->pending.n; i-- > 0;) {
		const struct shm_table *t = tables_live(&c->tables, c->pending.id[i]);
		uint64_t v = t ? pending_of(c, t) : 0;
		if (!v) {
			c->pending.id[i] = c->pending.id[--c->pending.n];
			continue;
		}
		place_one(c, t, v);
	}
}
