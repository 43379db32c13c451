/*
 * tree_write.c - writing an ordered table's tree nodes (see tree_write.h).
 *
 * Every node is written whole into a block the transaction reserved (the
 * allocator's, through w->get), before the root that reaches it is
 * published (apply.c); after that only a leaf of an ordered table changes,
 * in place, under its gen (tree.c, tree_store_refs). A node's slack slots
 * and bytes are zero. A node's entries' bytes lie in entry order after its
 * arrays but for keys added in place, so copy_run moves them in runs of
 * adjacent ones. Each block written is listed in w->fresh, so that a
 * transaction that fails gives back all of them (tree.c).
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

size_t tree_node_room(const struct tree_upd *u, unsigned level, size_t n, size_t data,
		      size_t *cap)
{
	*cap = n;
	if (level > 0 || u->multi || n == 0 || n >= SHM_NODE_MAX)
		return shm_node_size(n, data);
	size_t slots = SHM_NODE_MAX, room = data + (slots - n) * ((data + n - 1) / n);
	while (slots > n && shm_node_size(slots, room) > NODE_MAX_BYTES) {
		slots--;
		room = data + (slots - n) * ((data + n - 1) / n);
	}
	*cap = slots;
	return shm_node_size(slots, room);
}

/* A block of `size` bytes for a node the transaction writes, listed in
 * w->fresh, into *off: 0, -ENOSPC (no room) or -ENOMEM. */
static int fresh_block(struct tree_writer *w, size_t size, uint64_t *off)
{
	uint64_t o = w->get.get(w->get.ctx, size);
	if (!o)
		return -ENOSPC;
	if (tree_offs_push(&w->fresh, o)) {
		alloc_put(w->alloc, o, size);
		return -ENOMEM;
	}
	*off = o;
	return 0;
}

/* The header of a new node of n entries in `cap` slots, `size` bytes; a
 * leaf's bound `hi` (layout.h). */
static struct shm_node *node_head(struct tree_writer *w, const struct tree_upd *u, uint64_t off,
				  size_t size, size_t n, size_t cap, unsigned level, uint64_t hi)
{
	struct shm_node *node = (struct shm_node *)(w->base + off);
	*node = (struct shm_node){ .created_ts = u->ts, .bytes = (uint32_t)size,
				   .count = (uint16_t)n, .cap = (uint16_t)cap,
				   .level = (uint8_t)level, .hi = level ? 0 : hi };
	return node;
}

/* Zero node's slots n..cap of each array, and its bytes from data_end on. */
static void zero_slack(struct shm_node *node, size_t n)
{
	uint64_t *prefix = (uint64_t *)(node + 1);
	size_t slack = (size_t)(node->cap - n) * sizeof(uint64_t);
	memset(prefix + n, 0, slack);
	memset(prefix + node->cap + n, 0, slack);
	memset(prefix + 2 * (size_t)node->cap + n, 0, slack);
	memset((uint8_t *)node + node->data_end, 0, node->bytes - node->data_end);
}

/* Write the entries es[0..n) (`data` bytes of keys and values) as one node
 * at `level`; *off gets it. */
static int write_node(struct tree_writer *w, struct tree_upd *u, const struct tree_ent *es,
		      size_t n, size_t data, unsigned level, uint64_t hi, uint64_t *off)
{
	size_t cap, size = tree_node_room(u, level, n, data, &cap);
	uint64_t o;
	int err = fresh_block(w, size, &o);
	if (err)
		return err;
	struct shm_node *node = node_head(w, u, o, size, n, cap, level, hi);
	uint64_t *prefix = (uint64_t *)(node + 1), *ref = prefix + cap;
	struct shm_node_entry *ent = (struct shm_node_entry *)(ref + cap);
	uint32_t at = tree_data_start(node);
	for (size_t i = 0; i < n; i++) {
		prefix[i] = es[i].prefix;
		ref[i] = es[i].ref;
		ent[i] = (struct shm_node_entry){ .off = at, .klen = es[i].klen, .vlen = es[i].vlen };
		memcpy((uint8_t *)node + at, es[i].key, es[i].klen);
		if (es[i].vlen)
			memcpy((uint8_t *)node + at + es[i].klen, es[i].val, es[i].vlen);
		at += es[i].klen + es[i].vlen;
	}
	node->data_end = (uint16_t)at;
	zero_slack(node, n);
	u->bytes += (int64_t)alloc_class_size(size);
	*off = o;
	return 0;
}

/* Write v's entries as nodes at `level`, as few as the limits allow with
 * the entries spread evenly, and add an entry naming each to `out` (a
 * kept entry of v is read in first: its node's first entry). */
int tree_emit(struct tree_writer *w, struct tree_upd *u, struct tree_vec *v, unsigned level,
	      uint64_t hi, struct tree_vec *out)
{
	size_t n = v->n, data = 0;
	for (size_t i = 0; i < n; i++) {
		if (v->e[i].kept) {
			uint64_t off = v->e[i].ref;
			v->e[i] = tree_ent_at(tree_node_at(w, off), 0);
			v->e[i].ref = off;
		}
		data += v->e[i].klen + v->e[i].vlen;
	}
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
		/* A leaf's bound: the next one's first key, or the range's. */
		uint64_t bound = s + cnt < n ? v->e[s + cnt].prefix : hi;
		int err = write_node(w, u, v->e + s, cnt, d, level, bound, &off);
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
 * is, naming a node not left small (a kept entry: the node n names
 * there): then n keeps its shape. */
int tree_same_entry(const struct tree_writer *w, const struct shm_node *n, unsigned i,
		      const struct tree_ent *e)
{
	if (e->kept)
		return e->ref == shm_node_ref(n)[i];
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
	uint64_t o;
	int err = fresh_block(w, n->bytes, &o);
	if (err)
		return err;
	struct shm_node *copy = (struct shm_node *)(w->base + o);
	memcpy(copy, n, n->bytes);
	copy->created_ts = u->ts;
	copy->stored = 0;
	copy->stored_ts = 0;
	uint64_t *ref = (uint64_t *)(copy + 1) + copy->cap;
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

/* Copy old node n's entries [from, to) to new node nn's place o, their bytes
 * to *doff: the arrays as blocks, the bytes in runs of entries whose bytes
 * are adjacent (all of them, but for keys added in place), each run's
 * offsets moved by one delta. */
static void copy_run(struct shm_node *nn, const struct shm_node *n, unsigned from, unsigned to,
		     unsigned o, uint32_t *doff)
{
	if (from == to)
		return;
	unsigned r = to - from;
	uint64_t *np = (uint64_t *)(nn + 1), *nr = np + nn->cap;
	struct shm_node_entry *ne = (struct shm_node_entry *)(nr + nn->cap);
	const struct shm_node_entry *oe = shm_node_ent(n);
	memcpy(np + o, shm_node_prefix(n) + from, r * sizeof(uint64_t));
	memcpy(nr + o, shm_node_ref(n) + from, r * sizeof(uint64_t));
	for (unsigned x = from; x < to;) {
		unsigned y = x + 1;
		uint32_t start = oe[x].off, end = start + oe[x].klen + oe[x].vlen;
		while (y < to && oe[y].off == end) {
			end += oe[y].klen + oe[y].vlen;
			y++;
		}
		memcpy((uint8_t *)nn + *doff, (const uint8_t *)n + start, end - start);
		uint32_t delta = *doff - start; /* modulo 2^32: adds back right */
		for (; x < y; x++) {
			ne[o + x - from] = oe[x];
			ne[o + x - from].off += delta;
		}
		*doff += end - start;
	}
}

int tree_write_spliced(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
		       const struct tree_vec *v, const struct tree_spans *sp, struct tree_vec *out,
		       int *err)
{
	const struct shm_node_entry *oe = shm_node_ent(n);
	size_t cnt = n->count, data = n->data_end - tree_data_start(n);
	for (size_t k = 0; k < sp->n; k++) {
		const struct tree_span *s = &sp->s[k];
		cnt += s->to - s->from;
		cnt--;
		data -= oe[s->child].klen + oe[s->child].vlen;
		for (uint32_t i = s->from; i < s->to; i++) {
			const struct tree_ent *e = &v->e[i];
			/* A kept child is the one n names there: its entry. */
			data += e->kept ? oe[s->child].klen + oe[s->child].vlen : e->klen + e->vlen;
			if (e->fresh && tree_small(tree_node_at(w, e->ref)))
				return 0;
		}
	}
	if (cnt == 0 || cnt > SHM_NODE_MAX || shm_node_size(cnt, data) > NODE_TARGET_BYTES)
		return 0;
	size_t cap, size = tree_node_room(u, n->level, cnt, data, &cap);
	uint64_t off;
	if ((*err = fresh_block(w, size, &off)))
		return 1;
	struct shm_node *nn = node_head(w, u, off, size, cnt, cap, n->level, 0);
	uint64_t *np = (uint64_t *)(nn + 1), *nr = np + cap;
	struct shm_node_entry *ne = (struct shm_node_entry *)(nr + cap);
	uint32_t doff = tree_data_start(nn);
	unsigned from = 0, o = 0;
	for (size_t k = 0; k < sp->n; k++) {
		const struct tree_span *s = &sp->s[k];
		copy_run(nn, n, from, s->child, o, &doff);
		o += s->child - from;
		for (uint32_t i = s->from; i < s->to; i++, o++) {
			const struct tree_ent *e = &v->e[i];
			if (e->kept) {
				copy_run(nn, n, s->child, s->child + 1, o, &doff);
				continue;
			}
			np[o] = e->prefix;
			nr[o] = e->ref;
			ne[o] = (struct shm_node_entry){ .off = doff, .klen = e->klen, .vlen = e->vlen };
			memcpy((uint8_t *)nn + doff, e->key, e->klen);
			memcpy((uint8_t *)nn + doff + e->klen, e->val, e->vlen);
			doff += e->klen + e->vlen;
		}
		from = s->child + 1;
	}
	copy_run(nn, n, from, n->count, o, &doff);
	nn->data_end = (uint16_t)doff;
	zero_slack(nn, cnt);
	u->bytes += (int64_t)alloc_class_size(size);
	struct tree_ent first = tree_ent_at(nn, 0);
	first.fresh = 1;
	first.ref = off;
	*err = tree_vec_push(out, &first);
	return 1;
}

/* A piece of what tree_merge_direct writes, in order: old entries
 * [from, to), with change k's ref for the one entry a replacement names
 * (k >= 0), or change k's new entry (from == to). */
struct piece {
	uint32_t from, to;
	int32_t k;
};

static unsigned piece_entries(const struct piece *p)
{
	return p->to > p->from ? p->to - p->from : 1;
}

/* The pieces of leaf n with the changes ch[0..m) at pos[], act[] into p
 * (room for 2 m + 1): how many. */
static size_t plan_pieces(const struct shm_node *n, const uint32_t *pos, const uint8_t *act,
			  size_t m, struct piece *p)
{
	size_t np = 0;
	uint32_t from = 0;
	for (size_t k = 0; k < m; k++) {
		if (pos[k] > from)
			p[np++] = (struct piece){ from, pos[k], -1 };
		from = pos[k];
		if (act[k] == ACT_INSERT) {
			p[np++] = (struct piece){ from, from, (int32_t)k };
		} else if (act[k] == ACT_REPLACE) {
			p[np++] = (struct piece){ from, from + 1, (int32_t)k };
			from++;
		} else if (act[k] == ACT_REMOVE) {
			from++;
		}
	}
	if (n->count > from)
		p[np++] = (struct piece){ from, n->count, -1 };
	return np;
}

/* The bytes of the written entries [a, b) (keys and values), or, with
 * `prefix`, entry a's prefix. */
static uint64_t pieces_walk(const struct shm_node *n, const struct tree_change *ch,
			    const struct piece *p, size_t np, unsigned a, unsigned b, int prefix)
{
	const struct shm_node_entry *oe = shm_node_ent(n);
	uint64_t bytes = 0;
	for (unsigned q = 0, o = 0; q < np && o < b; o += piece_entries(&p[q]), q++) {
		unsigned lo = o > a ? o : a, hi = o + piece_entries(&p[q]);
		hi = hi < b ? hi : b;
		for (unsigned x = lo; x < hi; x++) {
			if (p[q].to == p[q].from) {
				const struct tree_change *c = &ch[p[q].k];
				if (prefix)
					return c->prefix;
				bytes += c->klen + c->vlen;
			} else {
				unsigned e = p[q].from + (x - o);
				if (prefix)
					return shm_node_prefix(n)[e];
				bytes += oe[e].klen + oe[e].vlen;
			}
		}
	}
	return bytes;
}

/* Write the entries [a, b) of the pieces as a new leaf with bound hi, and
 * name it in `out`. 0, -ENOSPC or -ENOMEM. */
static int write_pieces(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
			const struct tree_change *ch, const struct piece *p, size_t np,
			unsigned a, unsigned b, uint64_t hi, struct tree_vec *out)
{
	size_t cap, size = tree_node_room(u, 0, b - a, pieces_walk(n, ch, p, np, a, b, 0), &cap);
	uint64_t off;
	int err = fresh_block(w, size, &off);
	if (err)
		return err;
	struct shm_node *nn = node_head(w, u, off, size, b - a, cap, 0, hi);
	uint64_t *np_ = (uint64_t *)(nn + 1), *nr = np_ + cap;
	struct shm_node_entry *ne = (struct shm_node_entry *)(nr + cap);
	uint32_t doff = tree_data_start(nn);
	for (unsigned q = 0, o = 0; q < np && o < b; o += piece_entries(&p[q]), q++) {
		unsigned lo = o > a ? o : a, end = o + piece_entries(&p[q]);
		end = end < b ? end : b;
		if (lo >= end)
			continue;
		if (p[q].to == p[q].from) {
			const struct tree_change *c = &ch[p[q].k];
			np_[lo - a] = c->prefix;
			nr[lo - a] = c->ref;
			ne[lo - a] = (struct shm_node_entry){ .off = doff, .klen = (uint16_t)c->klen,
							      .vlen = (uint16_t)c->vlen };
			memcpy((uint8_t *)nn + doff, c->key, c->klen);
			memcpy((uint8_t *)nn + doff + c->klen, c->val, c->vlen);
			doff += c->klen + c->vlen;
			continue;
		}
		copy_run(nn, n, p[q].from + (lo - o), p[q].from + (end - o), lo - a, &doff);
		if (p[q].k >= 0)
			nr[lo - a] = ch[p[q].k].ref;
	}
	nn->data_end = (uint16_t)doff;
	zero_slack(nn, b - a);
	u->bytes += (int64_t)alloc_class_size(size);
	struct tree_ent first = tree_ent_at(nn, 0);
	first.fresh = 1;
	first.ref = off;
	return tree_vec_push(out, &first);
}

/* Leaf n with the changes ch[0..m) (no TREE_WIPE) written at once when the
 * result is one node of ordinary size, or two halves of a leaf that
 * splits: each change's place found by a search, the runs of entries
 * between them copied as blocks, instead of every entry placed one by
 * one. Returns 1 if so (*err set), 0 if the changes need the general
 * merge (an empty leaf, a wipe, many changes, more than two nodes). */
int tree_merge_direct(struct tree_writer *w, struct tree_upd *u, const struct shm_node *n,
			const struct tree_change *ch, size_t m, struct tree_vec *out, int *err)
{
	uint32_t pos[DIRECT_MAX];
	uint8_t act[DIRECT_MAX];
	struct piece p[2 * DIRECT_MAX + 1];
	if (m > DIRECT_MAX)
		return 0;
	const struct shm_node_entry *oe = shm_node_ent(n);
	int64_t cnt = n->count, records = 0;
	size_t data = n->data_end - tree_data_start(n);
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
	if (cnt <= 0)
		return 0;
	/* As tree_emit would: one node, or two when one would be too big. */
	unsigned parts = cnt > SHM_NODE_MAX || shm_node_size((size_t)cnt, data) > NODE_TARGET_BYTES
				 ? 2 : 1;
	if (parts == 2 && (cnt > 2 * SHM_NODE_MAX ||
			   shm_node_size((size_t)cnt, data) > 2 * NODE_TARGET_BYTES))
		return 0;
	size_t np = plan_pieces(n, pos, act, m, p);
	for (size_t k = 0; k < m; k++)
		records += act[k] == ACT_INSERT ? 1 : act[k] == ACT_REMOVE ? -1 : 0;
	u->records += records;
	unsigned half = parts == 2 ? (unsigned)(cnt + 1) / 2 : (unsigned)cnt;
	uint64_t hi = parts == 2 ? pieces_walk(n, ch, p, np, half, half + 1, 1) : n->hi;
	*err = write_pieces(w, u, n, ch, p, np, 0, half, hi, out);
	if (!*err && parts == 2)
		*err = write_pieces(w, u, n, ch, p, np, half, (unsigned)cnt, n->hi, out);
	return 1;
}

