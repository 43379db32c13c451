/*
 * tree.c - applying a transaction's changes to an ordered table's
 * copy-on-write tree (see tree.h; the node format is layout.h's).
 *
 * tree_update walks down from the root along the changes, which are
 * sorted: a node with no change under it is kept as it is (its parent's
 * entry still names it); a node with changes under it is replaced by the
 * nodes its merged entries make, written whole into new blocks, and the
 * old one is queued for retirement. So a commit writes each node it
 * touches once, whatever the number of changes under it, and a reader of
 * an older root never sees a node change.
 *
 * Shape: a node holds at most SHM_NODE_MAX entries and NODE_MAX_BYTES; the
 * entries of a replaced node are spread evenly over as few nodes as that
 * allows (aiming at NODE_TARGET_BYTES), so a split leaves two half-full
 * nodes. A node the transaction leaves small (under a quarter) is merged
 * with a sibling, so a churned table keeps its nodes at least about a
 * quarter full and its height logarithmic; a root with one child gives
 * way to the child.
 *
 * Multimaps: a key's pairs may fill many leaves. TREE_WIPE (shmdb_del of
 * the key) reaches every child whose entries may hold that key: the one
 * its first pair would go to, and each next one whose first entry has the
 * key (the "carry" below).
 *
 * Invariants: every entry of an inner node is the first entry of its
 * child's subtree as written; entries are in order; every node has at
 * least one entry; the tree has no height over SHM_TREE_MAX_HEIGHT. Nodes
 * are written only here, before their root is published (apply.c), and
 * never after.
 */
#include "tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "tree_read.h"

#define NODE_TARGET_BYTES 4096u
#define NODE_MAX_BYTES 16384u

/* An entry being placed in a node: where its bytes are now (an old node,
 * a new one, or the transaction's copy), and what it refers to. */
struct tree_ent {
	const uint8_t *key;
	const uint8_t *val;
	uint64_t prefix;
	uint64_t ref;
	uint16_t klen;
	uint16_t vlen;
	uint8_t fresh;  /* ref is a node this transaction wrote */
};

struct tree_span {
	uint32_t child, from, to;        /* the child; what it became: v[from..to) */
	uint32_t j, k;                   /* its changes: ch[j..k) */
	const struct tree_change *carry; /* a TREE_WIPE from before it */
};

/* Children loaded ahead while a node's changed children are rebuilt: the
 * header SPAN_AHEAD on, the whole node SPAN_AHEAD / 2 on (by then its
 * header, which says its size, has arrived). A bulk load changes most
 * children of the nodes it reaches, and each waits on a cache miss. */
#define SPAN_AHEAD 8

/* One tree_update: its table's kind, its commit and its counts. */
struct upd {
	int multi;
	uint64_t ts;
	int64_t records;
	int64_t bytes;
};

static const struct shm_node *node_at(const struct tree_writer *w, uint64_t off)
{
	return (const struct shm_node *)(w->base + off);
}

/* The array p of *cap elements of `size` bytes, n of them in use, with
 * room for one more: p itself, or a bigger copy (*cap updated), or NULL
 * (p unchanged) when memory is short. */
static void *room_for_one(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	size_t c = *cap ? 2 * *cap : 64;
	void *q = realloc(p, c * size);
	if (q)
		*cap = c;
	return q;
}

static int vec_push(struct tree_vec *v, const struct tree_ent *e)
{
	struct tree_ent *p = room_for_one(v->e, &v->cap, v->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	v->e = p;
	v->e[v->n++] = *e;
	return 0;
}

static int span_push(struct tree_spans *sp, struct tree_span s)
{
	struct tree_span *p = room_for_one(sp->s, &sp->cap, sp->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	sp->s = p;
	sp->s[sp->n++] = s;
	return 0;
}

static int offs_push(struct tree_offs *o, uint64_t off)
{
	uint64_t *p = room_for_one(o->v, &o->cap, o->n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	o->v = p;
	o->v[o->n++] = off;
	return 0;
}

void tree_writer_init(struct tree_writer *w, uint8_t *base, struct alloc *alloc,
		      struct tree_alloc get)
{
	*w = (struct tree_writer){ .base = base, .alloc = alloc, .get = get };
}

void tree_writer_free(struct tree_writer *w)
{
	for (unsigned i = 0; i < SHM_TREE_MAX_HEIGHT + 2; i++) {
		free(w->lvl[i].e);
		free(w->spans[i].s);
	}
	free(w->full.e);
	free(w->merged.e);
	free(w->fresh.v);
	free(w->old.v);
	*w = (struct tree_writer){ 0 };
}

void tree_begin(struct tree_writer *w)
{
	w->fresh.n = 0;
	w->old.n = 0;
}

static struct tree_ent ent_at(const struct shm_node *n, unsigned i)
{
	const struct shm_node_entry *e = &shm_node_ent(n)[i];
	const uint8_t *b = (const uint8_t *)n + e->off;
	return (struct tree_ent){ .key = b, .val = b + e->klen, .prefix = shm_node_prefix(n)[i],
				  .ref = shm_node_ref(n)[i], .klen = e->klen, .vlen = e->vlen };
}

static struct tree_ent ent_of_change(const struct tree_change *c)
{
	return (struct tree_ent){ .key = c->key, .val = c->val, .prefix = c->prefix, .ref = c->ref,
				  .klen = (uint16_t)c->klen, .vlen = (uint16_t)c->vlen };
}

static int key_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb)
{
	return shm_bytes_cmp(a, la, b, lb);
}

/* Entry e's key against change c's, the prefixes first. */
static int ent_key_cmp(const struct tree_ent *e, const struct tree_change *c)
{
	if (e->prefix != c->prefix)
		return e->prefix < c->prefix ? -1 : 1;
	return key_cmp(e->key, e->klen, c->key, c->klen);
}

/* Entry e against change c's (key, value): its place, not its kind. */
static int ent_cmp_change(const struct tree_ent *e, const struct tree_change *c, int multi)
{
	int r = ent_key_cmp(e, c);
	if (r || !multi)
		return r;
	return key_cmp(e->val, e->vlen, c->val, c->vlen);
}

/* Whether change c goes before entry e: its key (and value) is smaller;
 * a TREE_WIPE stands before its key's first pair. */
static int change_before(const struct tree_change *c, const struct tree_ent *e, int multi)
{
	if (c->kind == TREE_WIPE)
		return ent_key_cmp(e, c) >= 0;
	return ent_cmp_change(e, c, multi) > 0;
}

static int same_key(const struct tree_ent *e, const struct tree_change *c)
{
	return e->klen == c->klen && !memcmp(e->key, c->key, c->klen);
}

/* Write the entries es[0..n) (`data` bytes of keys and values) as one node
 * at `level`; *off gets it. */
static int write_node(struct tree_writer *w, struct upd *u, const struct tree_ent *es, size_t n,
		      size_t data, unsigned level, uint64_t *off)
{
	size_t size = shm_node_size(n, data);
	uint64_t o = w->get.get(w->get.ctx, size);
	if (!o)
		return -ENOSPC;
	if (offs_push(&w->fresh, o)) {
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
static int emit(struct tree_writer *w, struct upd *u, const struct tree_vec *v, unsigned level,
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
		struct tree_ent first = ent_at(node_at(w, off), 0);
		first.ref = off;
		first.fresh = 1;
		if ((err = vec_push(out, &first)))
			return err;
		s += cnt;
	}
	return 0;
}

/* Start loading every line of node n (its header is loaded already). */
static void prefetch_node(const struct shm_node *n)
{
	for (uint32_t o = 64; o < n->bytes; o += 64)
		__builtin_prefetch((const uint8_t *)n + o);
}

/* Whether a node is small enough to merge with a sibling. */
static int small(const struct shm_node *n)
{
	return n->count < SHM_NODE_MAX / 4 && n->bytes < NODE_TARGET_BYTES / 4;
}

/* Whether entry e puts the same key (and value) where node n's entry i
 * is, naming a node not left small: then n keeps its shape. */
static int same_entry(const struct tree_writer *w, const struct shm_node *n, unsigned i,
		      const struct tree_ent *e)
{
	const struct shm_node_entry *o = &shm_node_ent(n)[i];
	const uint8_t *ob = (const uint8_t *)n + o->off;
	return e->klen == o->klen && e->vlen == o->vlen && !memcmp(e->key, ob, o->klen) &&
	       !memcmp(e->val, ob + o->klen, o->vlen) && !(e->fresh && small(node_at(w, e->ref)));
}

/* Write node n again as it is but for refs[k] at places at[k] (k < m),
 * and add an entry naming the copy to `out`: the common case of an
 * overwrite, and of every node above a leaf that kept its first key, at
 * the cost of a copy instead of placing every entry anew. */
static int write_patched(struct tree_writer *w, struct upd *u, const struct shm_node *n,
			 const uint32_t *at, const uint64_t *refs, size_t m, struct tree_vec *out)
{
	uint64_t o = w->get.get(w->get.ctx, n->bytes);
	if (!o)
		return -ENOSPC;
	if (offs_push(&w->fresh, o)) {
		alloc_put(w->alloc, o, n->bytes);
		return -ENOMEM;
	}
	struct shm_node *copy = (struct shm_node *)(w->base + o);
	memcpy(copy, n, n->bytes);
	copy->created_ts = u->ts;
	uint64_t *ref = (uint64_t *)(copy + 1) + copy->count;
	for (size_t k = 0; k < m; k++)
		ref[at[k]] = refs[k];
	u->bytes += (int64_t)alloc_class_size(n->bytes);
	struct tree_ent first = ent_at(copy, 0);
	first.fresh = 1;
	first.ref = o;
	return vec_push(out, &first);
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
static int merge_direct(struct tree_writer *w, struct upd *u, const struct shm_node *n,
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
	if ((*err = offs_push(&w->fresh, off))) {
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
	struct tree_ent first = ent_at(nn, 0);
	first.fresh = 1;
	first.ref = off;
	*err = vec_push(out, &first);
	return 1;
}

/* An inner node whose changed children each became one node with the
 * same first entry: the same node with their new refs. Returns 1 if it
 * was (or an error), 0 if it needs a rebuild. */
static int patch_inner(struct tree_writer *w, struct upd *u, const struct shm_node *n,
		       const struct tree_vec *v, const struct tree_spans *sp, struct tree_vec *out,
		       int *err)
{
	uint32_t at[16];
	uint64_t refs[16];
	if (sp->n > 16)
		return 0;
	for (size_t k = 0; k < sp->n; k++) {
		const struct tree_span *s = &sp->s[k];
		if (s->to - s->from != 1 || !same_entry(w, n, s->child, &v->e[s->from]))
			return 0;
		at[k] = s->child;
		refs[k] = v->e[s->from].ref;
	}
	*err = write_patched(w, u, n, at, refs, sp->n, out);
	return 1;
}

/* Node `off` leaves the tree of this commit: freed at once if the
 * transaction wrote it (no reader has seen it), else retired. */
static int drop_node(struct tree_writer *w, struct upd *u, uint64_t off)
{
	const struct shm_node *n = node_at(w, off);
	u->bytes -= (int64_t)alloc_class_size(n->bytes);
	if (n->created_ts != u->ts)
		return offs_push(&w->old, off);
	for (size_t i = w->fresh.n; i-- > 0;) {
		if (w->fresh.v[i] == off) {
			w->fresh.v[i] = 0;
			break;
		}
	}
	alloc_put(w->alloc, off, n->bytes);
	return 0;
}


/* v holds the entries of a node at `level` (>= 1) being rebuilt: merge
 * each child the transaction left small with a sibling. Only the children
 * it wrote are looked at: the others are as an earlier commit left them,
 * and reading each one's header would cost a cache miss per child. */
static int merge_small(struct tree_writer *w, struct upd *u, unsigned level, struct tree_vec *v)
{
	struct tree_vec *gather = &w->lvl[level - 1], *made = &w->merged;
	for (size_t i = 0; i < v->n && v->n > 1;) {
		if (!v->e[i].fresh || !small(node_at(w, v->e[i].ref))) {
			i++;
			continue;
		}
		size_t a = i + 1 < v->n ? i : i - 1;
		gather->n = 0;
		made->n = 0;
		for (size_t s = a; s <= a + 1; s++) {
			const struct shm_node *sib = node_at(w, v->e[s].ref);
			for (unsigned k = 0; k < sib->count; k++) {
				struct tree_ent e = ent_at(sib, k);
				int err = vec_push(gather, &e);
				if (err)
					return err;
			}
		}
		int err = emit(w, u, gather, level - 1, made);
		if (!err)
			err = drop_node(w, u, v->e[a].ref);
		if (!err)
			err = drop_node(w, u, v->e[a + 1].ref);
		if (err)
			return err;
		/* What the pair became (one node or more: a big sibling may
		 * make several) goes where the pair was. */
		while (v->cap < v->n - 2 + made->n) {
			struct tree_ent *p = room_for_one(v->e, &v->cap, v->cap, sizeof(*p));
			if (!p)
				return -ENOMEM;
			v->e = p;
		}
		memmove(&v->e[a + made->n], &v->e[a + 2], (v->n - a - 2) * sizeof(*v->e));
		memcpy(&v->e[a], made->e, made->n * sizeof(*v->e));
		v->n = v->n - 2 + made->n;
		i = a;
		if (made->n > 1 || !small(node_at(w, v->e[a].ref)))
			i = a + made->n;
	}
	return 0;
}

/* The entries of leaf `node` (NULL: an empty tree) with the changes
 * ch[0..n) merged in, into w->lvl[0]; `wipe` is a TREE_WIPE from before
 * this leaf's range that still applies to its first entries. */
static int merge_leaf(struct tree_writer *w, struct upd *u, const struct shm_node *node,
		      const struct tree_change *ch, size_t n, const struct tree_change *wipe)
{
	struct tree_vec *v = &w->lvl[0];
	unsigned cnt = node ? node->count : 0, i = 0;
	size_t j = 0;
	int err = 0;
	v->n = 0;
	while (!err && (i < cnt || j < n)) {
		struct tree_ent e = { 0 };
		if (i < cnt)
			e = ent_at(node, i);
		if (j < n && ch[j].kind == TREE_WIPE && (i == cnt || ent_key_cmp(&e, &ch[j]) >= 0)) {
			wipe = &ch[j++];
			continue;
		}
		int c = i == cnt ? 1 : j == n ? -1 : ent_cmp_change(&e, &ch[j], u->multi);
		if (c < 0) {
			if (wipe && same_key(&e, wipe))
				u->records--;
			else
				err = vec_push(v, &e);
			i++;
		} else if (c == 0) {
			if (ch[j].kind == TREE_PUT) {
				if (!u->multi)
					e.ref = ch[j].ref;
				err = vec_push(v, &e);
			} else {
				u->records--;
			}
			i++;
			j++;
		} else {
			if (ch[j].kind == TREE_PUT) {
				struct tree_ent ne = ent_of_change(&ch[j]);
				err = vec_push(v, &ne);
				u->records++;
			}
			j++;
		}
	}
	return err;
}

/* Rebuild inner node n from its children, those in the spans sp replaced
 * by what v holds for them: small children merged, then written as one or
 * more nodes named in `out`. */
static int rebuild_inner(struct tree_writer *w, struct upd *u, const struct shm_node *n,
			 const struct tree_vec *v, const struct tree_spans *sp, struct tree_vec *out)
{
	struct tree_vec *full = &w->full;
	size_t k = 0;
	int err = 0;
	full->n = 0;
	for (unsigned c = 0; !err && c < n->count; c++) {
		if (k < sp->n && sp->s[k].child == c) {
			for (uint32_t i = sp->s[k].from; !err && i < sp->s[k].to; i++)
				err = vec_push(full, &v->e[i]);
			k++;
		} else {
			struct tree_ent e = ent_at(n, c);
			err = vec_push(full, &e);
		}
	}
	if (!err)
		err = merge_small(w, u, n->level, full);
	if (!err)
		err = emit(w, u, full, n->level, out);
	return err;
}

/* Replace node `off` (0: an empty tree) with the changes ch[0..n) (and a
 * TREE_WIPE `carry` from before its range) applied: the nodes it becomes
 * get an entry each in `out`. */
static int update_node(struct tree_writer *w, struct upd *u, uint64_t off,
		       const struct tree_change *ch, size_t n, const struct tree_change *carry,
		       struct tree_vec *out)
{
	const struct shm_node *node = off ? node_at(w, off) : NULL;
	unsigned level = node ? node->level : 0;
	struct tree_vec *v = &w->lvl[level];
	int err = 0;
	if (level == 0) {
		if (!node || carry || !merge_direct(w, u, node, ch, n, out, &err)) {
			err = merge_leaf(w, u, node, ch, n, carry);
			if (!err)
				err = emit(w, u, v, level, out);
		}
	} else {
		/* The children the changes reach, each with its changes,
		 * then each rebuilt into v, its span of v naming what it
		 * became; the others stay. */
		struct tree_spans *sp = &w->spans[level];
		const struct tree_change *lastwipe = carry;
		size_t j = 0;
		v->n = 0;
		sp->n = 0;
		for (unsigned c = 0; !err && c < node->count; c++) {
			size_t k = n;
			if (c + 1 < node->count && j < n) {
				struct tree_ent next = ent_at(node, c + 1);
				for (k = j; k < n && change_before(&ch[k], &next, u->multi); k++)
					;
			}
			const struct tree_change *cc = NULL;
			if (lastwipe) {
				struct tree_ent e = ent_at(node, c);
				cc = same_key(&e, lastwipe) ? lastwipe : NULL;
			}
			if (k > j || cc)
				err = span_push(sp, (struct tree_span){ .child = c, .j = (uint32_t)j,
									.k = (uint32_t)k, .carry = cc });
			for (size_t q = j; q < k; q++)
				if (ch[q].kind == TREE_WIPE)
					lastwipe = &ch[q];
			j = k;
		}
		const uint64_t *refs = shm_node_ref(node);
		for (size_t s = 0; s < sp->n && s < SPAN_AHEAD; s++)
			__builtin_prefetch(w->base + refs[sp->s[s].child]);
		for (size_t s = 0; !err && s < sp->n; s++) {
			struct tree_span *x = &sp->s[s];
			if (s + SPAN_AHEAD < sp->n)
				__builtin_prefetch(w->base + refs[sp->s[s + SPAN_AHEAD].child]);
			if (s + SPAN_AHEAD / 2 < sp->n)
				prefetch_node(node_at(w, refs[sp->s[s + SPAN_AHEAD / 2].child]));
			x->from = (uint32_t)v->n;
			err = update_node(w, u, refs[x->child], ch + x->j, x->k - x->j, x->carry, v);
			x->to = (uint32_t)v->n;
		}
		if (!err && !patch_inner(w, u, node, v, sp, out, &err))
			err = rebuild_inner(w, u, node, v, sp, out);
	}
	if (!err && node)
		err = drop_node(w, u, off);
	return err;
}

int tree_update(struct tree_writer *w, uint64_t root, int multi, const struct tree_change *ch,
		size_t n, uint64_t ts, struct tree_result *out)
{
	struct upd u = { .multi = multi, .ts = ts };
	size_t old0 = w->old.n;
	unsigned level = root ? node_at(w, root)->level : 0;
	struct tree_vec *top = &w->lvl[level + 1];
	top->n = 0;
	int err = update_node(w, &u, root, ch, n, NULL, top);
	/* A root that split: a level more, as many times as it takes. */
	while (!err && top->n > 1) {
		if (++level + 1 >= SHM_TREE_MAX_HEIGHT)
			return -ENOSPC;
		struct tree_vec *up = &w->lvl[level + 1];
		up->n = 0;
		err = emit(w, &u, top, level, up);
		top = up;
	}
	if (err)
		return err;
	uint64_t r = top->n ? top->e[0].ref : 0;
	/* A root with one child gives way to it. */
	while (r && node_at(w, r)->level > 0 && node_at(w, r)->count == 1) {
		uint64_t child = shm_node_ref(node_at(w, r))[0];
		if ((err = drop_node(w, &u, r)))
			return err;
		r = child;
	}
	*out = (struct tree_result){ .root = r, .records = u.records, .bytes = u.bytes,
				     .old_from = old0, .old_to = w->old.n };
	return 0;
}

void tree_unreserve(struct tree_writer *w)
{
	for (size_t i = 0; i < w->fresh.n; i++) {
		uint64_t off = w->fresh.v[i];
		if (off)
			alloc_put(w->alloc, off, node_at(w, off)->bytes);
	}
	w->fresh.n = 0;
	w->old.n = 0;
}

void tree_retire_old(struct tree_writer *w, const struct tree_result *r, struct retire_queue *q,
		     uint64_t ts)
{
	for (size_t i = r->old_from; i < r->old_to; i++) {
		const struct shm_node *n = node_at(w, w->old.v[i]);
		retire_block(q, ts, n->created_ts, w->old.v[i], n->bytes, RETIRED_BLOCK);
	}
}

/* qsort order of changes: table, key, a key's TREE_WIPE first, value,
 * then the order of the operations. */
static int change_order(const void *pa, const void *pb)
{
	const struct tree_change *a = pa, *b = pb;
	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	int r = key_cmp(a->key, a->klen, b->key, b->klen);
	if (r)
		return r;
	int wa = a->kind != TREE_WIPE, wb = b->kind != TREE_WIPE;
	if (wa != wb)
		return wa - wb;
	if ((r = key_cmp(a->val, a->vlen, b->val, b->vlen)))
		return r;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static int same_place(const struct tree_change *a, const struct tree_change *b, int with_val)
{
	return a->table == b->table && a->klen == b->klen && !memcmp(a->key, b->key, a->klen) &&
	       (!with_val || (a->vlen == b->vlen && !memcmp(a->val, b->val, a->vlen)));
}

size_t tree_sort_changes(struct tree_change *ch, size_t n)
{
	qsort(ch, n, sizeof(*ch), change_order);
	size_t kept = 0;
	for (size_t i = 0; i < n;) {
		size_t g = i;
		while (g < n && same_place(&ch[g], &ch[i], 0))
			g++;
		/* [i, g): one key; its wipes first, in operation order. */
		size_t p = i;
		uint32_t wipe_seq = 0;
		int wiped = 0;
		while (p < g && ch[p].kind == TREE_WIPE)
			p++;
		if (p > i) {
			struct tree_change last = ch[p - 1];
			wipe_seq = last.seq;
			wiped = 1;
			ch[kept++] = last;
		}
		while (p < g) {
			size_t q = p;
			while (q < g && same_place(&ch[q], &ch[p], 1))
				q++;
			struct tree_change last = ch[q - 1];
			if (!wiped || last.seq > wipe_seq)
				ch[kept++] = last;
			p = q;
		}
		i = g;
	}
	return kept;
}
