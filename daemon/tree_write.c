/*
 * tree_write.c - writing an ordered table's tree nodes (see tree_write.h).
 *
 * Every node is written whole into a block the transaction reserved (the
 * allocator's, through w->get), before the root that reaches it is
 * published (apply.c); after that only a leaf's refs are stored in place
 * (tree.c): readers of any snapshot read the rest with plain loads
 * (libshm/tree_read.h). A node's entries' bytes lie in entry order after
 * its arrays, which copy_run relies on to move runs of them as one block. Each block written is listed in w->fresh, so
 * that a transaction that fails gives back all of them (tree.c).
 */
#include "tree_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "tree_read.h"

/* The array p of *cap elements of `size` bytes, n of them in use, with
 * room for one more: p itself, or a bigger copy (*cap updated), or NULL
 * (p unchanged) when memory is short. */
void *tree_room_for_one(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	size_t c = *cap ? 2 * *cap : 64;
	void *q = realloc(p, c * size);
	if (q)
		*cap = c;
	return q;
}

int tree_vec_push(struct tree_vec *v, const struct tree_ent *e)
{
	struct tree_ent *p = tree_room_for_one(v->e, &v->cap, v->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	v->e = p;
	v->e[v->n++] = *e;
	return 0;
}

int tree_offs_push(struct tree_offs *o, uint64_t off)
{
	uint64_t *p = tree_room_for_one(o->v, &o->cap, o->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	o->v = p;
	o->v[o->n++] = off;
	return 0;
}

/* Write the entries es[0..n) (`data` bytes of keys and values) as one node
 * at `level`; *off gets it. */
static int write_node(struct tree_writer *w, struct tree_upd *u, const struct tree_ent *es,
		      size_t n, size_t data, unsigned level, uint64_t *off)
{
	size_t size = shm_node_size(n, data);
	uint64_t o = w->get.get(w->get.ctx, size);
	if (!o)
		return -ENOSPC;
	if (tree_offs_push(&w->fresh, o)) {
		alloc_put(w->alloc, o, size);
		return -ENOMEM;
	}
	struct shm_node *node = (struct shm_node *)(w->base + o);
	*node = (struct shm_node){ .created_ts = u->ts, .bytes = (uint32_t)size,
				   .count = (uint16_t)n, .level = (uint8_t)level };
	uint64_t *prefix = (uint64_t *)(node + 1), *ref = prefix + n;
	struct shm_node_entry *ent = (struct shm_node_entry *)(ref + n);
	uint32_t at = (uint32_t)((uint8_t *)(ent + n) - (uint8_t *)node);
	for (size_t i = 0; i < n; i++) {
		prefix[i] = es[i].prefix;
		ref[i] = es[i].ref;
		ent[i] = (struct shm_node_entry){ .off = at, .klen = es[i].klen, .vlen = es[i].vlen };
		memcpy((uint8_t *)node + at, es[i].key, es[i].klen);
		if (es[i].vlen)
			memcpy((uint8_t *)node + at + es[i].klen, es[i].val, es[i].vlen);
		at += es[i].klen + es[i].vlen;
	}
	memset((uint8_t *)node + at, 0, size - at);
	u->bytes += (int64_t)alloc_class_size(size);
	*off = o;
	return 0;
}

/* Write v's entries as nodes at `level`, as few as the limits allow with
 * the entries spread evenly, and add an entry naming each to `out`. */
int tree_emit(struct tree_writer *w, struct tree_upd *u, const struct tree_vec *v, unsigned level,
		struct tree_vec *out)
{
	size_t n = v->n, data = 0;
	for (size_t i = 0; i < n; i++)
		data += v->e[i].klen + v->e[i].vlen;
	size_t k = (n + SHM_NODE_MAX - 1) / SHM_NODE_MAX;
	size_t kb = (shm_node_size(n, data) + NODE_TARGET_BYTES - 1) / NODE_TARGET_BYTES;
	if (kb > k)
		k = kb;
	/* Each node about its share of the entries and of their bytes:
	 * with keys of unequal sizes, the bytes decide. */
	size_t per = k ? (n + k - 1) / k : 0;
	size_t share = k ? shm_node_size(n, data) / k : 0;
	for (size_t s = 0; s < n;) {
		size_t cnt = 0, d = 0;
		while (s + cnt < n && cnt < per) {
			size_t ed = v->e[s + cnt].klen + v->e[s + cnt].vlen;
			if (cnt && (shm_node_size(cnt + 1, d + ed) > NODE_MAX_BYTES ||
				    shm_node_size(cnt, d) >= share))
				break;
			d += ed;
			cnt++;
		}
		uint64_t off;
		int err = write_node(w, u, v->e + s, cnt, d, level, &off);
		if (err)
			return err;
		struct tree_ent first = tree_ent_at(tree_node_at(w, off), 0);
		first.ref = off;
		first.fresh = 1;
		if ((err = tree_vec_push(out, &first)))
			return err;
		s += cnt;
	}
	return 0;
}

/* Whether entry e puts the same key (and value) where node n's entry i
 * is, naming a node not left small: then n keeps its shape. */
int tree_same_entry(const struct tree_writer *w, const struct shm_node *n, unsigned i,
		      const struct tree_ent *e)
{
	const struct shm_node_entry *o = &shm_node_ent(n)[i];
	const uint8_t *ob = (const uint8_t *)n + o->off;
	return e->klen == o->klen && e->vlen == o->vlen && !memcmp(e->key, ob, o->klen) &&
	       !memcmp(e->val, ob + o->klen, o->vlen) &&
	       !(e->fresh && tree_small(tree_node_at(w, e->ref)));
}

/* Write node n again as it is but for refs[k] at places at[k] (k < m),
 * and add an entry naming the copy to `out`: the common case of an
 * overwrite, and of every node above a leaf that kept its first key, at
 * the cost of a copy instead of placing every entry anew. */
int tree_write_patched(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
			 const uint32_t *at, const uint64_t *refs, size_t m, struct tree_vec *out)
{
	uint64_t o = w->get.get(w->get.ctx, n->bytes);
	if (!o)
		return -ENOSPC;
	if (tree_offs_push(&w->fresh, o)) {
		alloc_put(w->alloc, o, n->bytes);
		return -ENOMEM;
	}
	struct shm_node *copy = (struct shm_node *)(w->base + o);
	memcpy(copy, n, n->bytes);
	copy->created_ts = u->ts;
	copy->stored = 0;
	uint64_t *ref = (uint64_t *)(copy + 1) + copy->count;
	for (size_t k = 0; k < m; k++)
		ref[at[k]] = refs[k];
	u->bytes += (int64_t)alloc_class_size(n->bytes);
	struct tree_ent first = tree_ent_at(copy, 0);
	first.fresh = 1;
	first.ref = o;
	return tree_vec_push(out, &first);
}

/* What a change does to the leaf it is merged into (merge_direct). */
enum { ACT_NONE, ACT_REPLACE, ACT_INSERT, ACT_REMOVE };

#define DIRECT_MAX 32u

/* Copy old leaf entries [from, to) to the new leaf's place o, their bytes
 * to *doff: the arrays and the bytes as blocks, the entries' offsets moved
 * by one delta. */
static void copy_run(struct shm_node *nn, const struct shm_node *n, unsigned from, unsigned to,
		     unsigned o, uint32_t *doff)
{
	if (from == to)
		return;
	unsigned r = to - from;
	uint64_t *np = (uint64_t *)(nn + 1), *nr = np + nn->count;
	struct shm_node_entry *ne = (struct shm_node_entry *)(nr + nn->count);
	const struct shm_node_entry *oe = shm_node_ent(n);
	memcpy(np + o, shm_node_prefix(n) + from, r * sizeof(uint64_t));
	memcpy(nr + o, shm_node_ref(n) + from, r * sizeof(uint64_t));
	uint32_t start = oe[from].off;
	uint32_t end = oe[to - 1].off + oe[to - 1].klen + oe[to - 1].vlen;
	memcpy((uint8_t *)nn + *doff, (const uint8_t *)n + start, end - start);
	uint32_t delta = *doff - start; /* modulo 2^32: adds back right */
	for (unsigned x = 0; x < r; x++) {
		ne[o + x] = oe[from + x];
		ne[o + x].off += delta;
	}
	*doff += end - start;
}

/* Leaf n with the changes ch[0..m) (no TREE_WIPE) written at once when the
 * result is one node of ordinary size: each change's place found by a
 * search, the runs of entries between them copied as blocks, instead of
 * every entry placed one by one. Returns 1 if so (*err set), 0 if the
 * changes need the general merge (a split, an empty leaf, a wipe, many
 * changes). */
int tree_merge_direct(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
			const struct tree_change *ch, size_t m, struct tree_vec *out, int *err)
{
	uint32_t pos[DIRECT_MAX];
	uint8_t act[DIRECT_MAX];
	if (m > DIRECT_MAX)
		return 0;
	const struct shm_node_entry *oe = shm_node_ent(n);
	int64_t cnt = n->count;
	size_t data = oe[n->count - 1].off + oe[n->count - 1].klen + oe[n->count - 1].vlen - oe[0].off;
	for (size_t k = 0; k < m; k++) {
		if (ch[k].kind == TREE_WIPE)
			return 0;
		struct shm_target t = shm_target_of(ch[k].key, ch[k].klen, ch[k].val, ch[k].vlen,
						    u->multi);
		unsigned i = shm_node_lower(n, &t);
		int eq = i < n->count && shm_entry_cmp(n, i, &t) == 0;
		pos[k] = i;
		if (ch[k].kind == TREE_PUT) {
			act[k] = eq ? (u->multi ? ACT_NONE : ACT_REPLACE) : ACT_INSERT;
			if (!eq) {
				cnt++;
				data += ch[k].klen + ch[k].vlen;
			}
		} else {
			act[k] = eq ? ACT_REMOVE : ACT_NONE;
			if (eq) {
				cnt--;
				data -= oe[i].klen + oe[i].vlen;
			}
		}
	}
	size_t size = shm_node_size((size_t)cnt, data);
	if (cnt <= 0 || cnt > SHM_NODE_MAX || size > NODE_TARGET_BYTES)
		return 0;
	uint64_t off = w->get.get(w->get.ctx, size);
	if (!off)
		return *err = -ENOSPC, 1;
	if ((*err = tree_offs_push(&w->fresh, off))) {
		alloc_put(w->alloc, off, size);
		return 1;
	}
	struct shm_node *nn = (struct shm_node *)(w->base + off);
	*nn = (struct shm_node){ .created_ts = u->ts, .bytes = (uint32_t)size,
				 .count = (uint16_t)cnt, .level = 0 };
	uint64_t *np = (uint64_t *)(nn + 1), *nr = np + cnt;
	struct shm_node_entry *ne = (struct shm_node_entry *)(nr + cnt);
	uint32_t doff = (uint32_t)((uint8_t *)(ne + cnt) - (uint8_t *)nn);
	unsigned from = 0, o = 0;
	for (size_t k = 0; k < m; k++) {
		copy_run(nn, n, from, pos[k], o, &doff);
		o += pos[k] - from;
		from = pos[k];
		switch (act[k]) {
		case ACT_INSERT:
			np[o] = ch[k].prefix;
			nr[o] = ch[k].ref;
			ne[o] = (struct shm_node_entry){ .off = doff, .klen = (uint16_t)ch[k].klen,
							 .vlen = (uint16_t)ch[k].vlen };
			memcpy((uint8_t *)nn + doff, ch[k].key, ch[k].klen);
			memcpy((uint8_t *)nn + doff + ch[k].klen, ch[k].val, ch[k].vlen);
			doff += ch[k].klen + ch[k].vlen;
			o++;
			u->records++;
			break;
		case ACT_REPLACE:
			copy_run(nn, n, from, from + 1, o, &doff);
			nr[o] = ch[k].ref;
			o++;
			from++;
			break;
		case ACT_REMOVE:
			from++;
			u->records--;
			break;
		}
	}
	copy_run(nn, n, from, n->count, o, &doff);
	memset((uint8_t *)nn + doff, 0, size - doff);
	u->bytes += (int64_t)alloc_class_size(size);
	struct tree_ent first = tree_ent_at(nn, 0);
	first.fresh = 1;
	first.ref = off;
	*err = tree_vec_push(out, &first);
	return 1;
}

