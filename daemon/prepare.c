/*
 * prepare.c - pass 2 of a transaction in the writer (see prepare.h).
 *
 * Invariant: on success, every block and retire-queue entry pass 3 needs is
 * reserved, so applying cannot fail half way; on failure, nothing stays
 * reserved. What this pass may change in shared memory (an index rebuilt,
 * or a build that completes, each published with one release store of the
 * table's index word by index_build.c) changes no snapshot's view, so it
 * may stay even when the transaction fails.
 */
#include "prepare.h"

#include <errno.h>
#include <string.h>

#include "apply.h"
#include "catalog.h"
#include "index.h"
#include "pending.h"
#include "rows.h"
#include "secondary.h"
#include "secondary_keep.h"
#include "tree_read.h"
#include "shmdb.h"

size_t op_block_size(const struct shm_op *op)
{
	switch (op->code) {
	case SHM_OP_PUT:
		return shm_version_size(op->klen, op->vlen);
	case SHM_OP_DEL:
		return shm_version_size(op->klen, SHM_TOMBSTONE);
	case SHM_OP_CREATE_TABLE:
	case SHM_OP_CREATE_INDEX:
		return INDEX_MIN_BYTES;
	case SHM_OP_CLEAR: /* the new index: prepare set since_ts to its log2 */
		return sizeof(uint64_t) << op->since_ts;
	}
	return 0;
}

/* The log2 of the slots of an index for `keys` keys, within the 3/4 load
 * an index keeps. */
static unsigned log2_for(uint64_t keys)
{
	unsigned log2 = INDEX_MIN_LOG2;
	while (log2 < SHM_INDEX_MAX_LOG2 && (3ull << log2) / 4 <= keys)
		log2++;
	return log2;
}

/* Size the index each CLEAR of ops[0..nops) makes (its since_ts becomes
 * the log2, op_block_size): room for the keys the ops after it may add to
 * its table, up to the table's next CLEAR. One pass from the last op, with
 * a count per catalog slot: linear in the transaction, whatever it holds. */
static void size_clears(struct core *c, size_t nops)
{
	struct pending_op *ops = c->scratch.ops;
	size_t i = 0;
	while (i < nops && ops[i].op.code != SHM_OP_CLEAR)
		i++;
	if (i == nops)
		return;
	uint64_t *after = c->clear_adds;
	memset(after, 0, sizeof(c->clear_adds));
	for (i = nops; i-- > 0;) {
		struct shm_op *op = &ops[i].op;
		if (!shm_table_id_ok(op->table))
			continue;
		uint64_t *n = &after[SHM_TABLE_SLOT(op->table)];
		if (op->code == SHM_OP_PUT &&
		    !(c->meta->tables[SHM_TABLE_SLOT(op->table)].kind & SHM_KIND_MULTI)) {
			/* (a multimap's pairs are in its tree, not its index) */
			(*n)++;
		} else if (op->code == SHM_OP_RESERVE) {
			if (op->since_ts > *n)
				*n = op->since_ts;
		} else if (op->code == SHM_OP_CLEAR) {
			op->since_ts = log2_for(*n);
			*n = 0;
		}
	}
}

/* Whether op's block is a record version (alloc.h: those may be pruned
 * versions, reused only as versions). */
static int op_writes_version(const struct shm_op *op)
{
	return op->code == SHM_OP_PUT || op->code == SHM_OP_DEL;
}

/* The bytes of op's second block: a CLEAR's struct shm_index_gen, a
 * CREATE_TABLE's schema; 0 for none. */
static size_t side_block_size(const struct shm_op *op)
{
	if (op->code == SHM_OP_CLEAR)
		return sizeof(struct shm_index_gen);
	if (op->code == SHM_OP_CREATE_TABLE && (op->since_ts & SHM_KIND_ROWS))
		return op->vlen;
	if (op->code == SHM_OP_CREATE_INDEX)
		return sizeof(struct shm_index_def);
	return 0;
}

void unreserve(struct core *c, size_t n)
{
	tree_unreserve(&c->tree);
	for (size_t k = 0; k < c->scratch.ntouched; k++) {
		struct touched *tt = &c->scratch.touched[k];
		if (tt->count_block)
			alloc_unget_version(c->alloc, tt->count_block, SHM_COUNT_VERSION_SIZE);
		tt->count_block = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct pending_op *p = &c->scratch.ops[i];
		if (p->side_block)
			alloc_put(c->alloc, p->side_block, side_block_size(&p->op));
		p->side_block = 0;
		if (!p->block)
			continue;
		if (op_writes_version(&p->op))
			alloc_unget_version(c->alloc, p->block, op_block_size(&p->op));
		else
			alloc_put(c->alloc, p->block, op_block_size(&p->op));
	}
}

static uint64_t get_block(struct core *c, size_t size, int version)
{
	return version ? alloc_get_version(c->alloc, size) : alloc_get(c->alloc, size);
}

/* A block of `size` bytes, for a version if `version`, or 0: when the
 * arenas are full while retired blocks wait, ask for them to be freed and
 * try once more. */
static uint64_t alloc_or_reclaim(struct core *c, size_t size, int version)
{
	uint64_t off = get_block(c, size, version);
	if (!off && c->pressure.reclaim_now && c->pressure.waiting(c->pressure.ctx)) {
		c->pressure.reclaim_now(c->pressure.ctx);
		off = get_block(c, size, version);
	}
	return off;
}

uint64_t prepare_node_block(void *ctx, size_t size)
{
	return alloc_or_reclaim(ctx, size, 0);
}

/* Count `adds` more keys that t may gain in this transaction, for a
 * RESERVE op if `reserve`; neither once the transaction cleared t (the
 * keys go into the index the CLEAR makes, sized for them and for the
 * reserve: size_clears). Returns t's entry. */
static struct touched *touch(struct touched *tt, size_t *ntt, struct shm_table *t,
			     uint64_t adds, int reserve)
{
	for (size_t i = 0; i < *ntt; i++) {
		if (tt[i].t == t) {
			if (!tt[i].cleared) {
				tt[i].adds += adds;
				tt[i].reserve |= reserve;
			}
			return &tt[i];
		}
	}
	tt[*ntt] = (struct touched){ .t = t, .adds = adds, .reserve = reserve,
				    .records0 = t->records, .bytes0 = t->record_bytes,
				    .root0 = t->root };
	return &tt[(*ntt)++];
}

/* A CLEAR, op i, of table t: t is cleared from op i + 1 on (its index
 * sized by size_clears). Returns the retire-queue items it takes: the old
 * index with its heads, its generation, its tree. */
static size_t touch_clear(struct touched *tt, size_t *ntt, struct shm_table *t, size_t i)
{
	struct touched *cleared = touch(tt, ntt, t, 0, 0);
	cleared->cleared = 1;
	cleared->clear_at = i + 1;
	return 3;
}

static int was_dropped(const uint32_t *dropped, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (dropped[i] == id)
			return 1;
	return 0;
}

/* Whether an earlier op of the transaction creates the table (or index)
 * op i creates with another kind or schema (or flags): the first creates
 * it, and op i would then get its id. */
static int created_otherwise(const struct pending_op *ops, size_t i)
{
	const struct shm_op *op = &ops[i].op;
	for (size_t k = 0; k < i; k++) {
		const struct shm_op *o = &ops[k].op;
		if (o->code == op->code && o->klen == op->klen &&
		    !memcmp(o->key, op->key, op->klen) &&
		    (op->code == SHM_OP_CREATE_TABLE || o->table == op->table) &&
		    (o->since_ts != op->since_ts || o->vlen != op->vlen ||
		     memcmp(o->val, op->val, op->vlen)))
			return 1;
	}
	return 0;
}

/* Whether live table t is what CREATE_TABLE op asks for: its kind, and a
 * table of rows its schema, byte for byte. */
static int table_is(const struct core *c, const struct shm_table *t, const struct shm_op *op)
{
	if (t->kind != op->since_ts)
		return 0;
	if (!(t->kind & SHM_KIND_ROWS))
		return 1;
	const struct shm_schema *s = (const struct shm_schema *)(c->base + t->schema);
	return s->bytes == op->vlen && !memcmp(s, op->val, op->vlen);
}

/* Put ops [chained, i) of the transaction into the chains of ops by key
 * hash: each names the op before it with its hash. Built at the
 * transaction's first UPDATE, then kept up as ops are prepared, so that
 * an UPDATE finds the ops before it on its key without a pass over all
 * the ops before it (a pass each made a transaction of n updates cost
 * n^2 / 2 key compares: 4.4 s of the writer for 80,000). -ENOMEM. */
static int chain_ops(struct txn_scratch *sc, size_t i, size_t nops)
{
	if (!sc->chain_ready) {
		size_t cap = 16;
		while (cap < 2 * nops)
			cap *= 2;
		if (cap > sc->by_hash_cap) {
			uint32_t *p = realloc(sc->by_hash, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			sc->by_hash = p;
		}
		sc->by_hash_cap = cap;
		memset(sc->by_hash, 0, cap * sizeof(*sc->by_hash));
		sc->chained = 0;
		sc->chain_ready = 1;
	}
	size_t mask = sc->by_hash_cap - 1;
	for (; sc->chained < i; sc->chained++) {
		struct pending_op *p = &sc->ops[sc->chained];
		if (p->op.code != SHM_OP_PUT && p->op.code != SHM_OP_DEL)
			continue;
		size_t s = p->hash & mask;
		while (sc->by_hash[s] && sc->ops[sc->by_hash[s] - 1].hash != p->hash)
			s = (s + 1) & mask;
		p->same_prev = sc->by_hash[s];
		sc->by_hash[s] = (uint32_t)sc->chained + 1;
	}
	return 0;
}

/* The row table t holds under op i's key as op i finds it: the last
 * earlier op of the transaction on that key (a PUT, or an UPDATE made
 * one: its row; a DEL: none), none if a CLEAR of t came after that op
 * (clear_at: after t's last CLEAR so far, 0 if none), else the row the
 * store holds. Returns its bytes (*len), or NULL for none (*err 0), or
 * NULL with *err set (-ENOMEM). */
static const uint8_t *row_before(struct core *c, size_t i, size_t nops,
				 const struct shm_table *t, size_t clear_at, uint32_t *len,
				 int *err)
{
	struct txn_scratch *sc = &c->scratch;
	const struct pending_op *ops = sc->ops;
	const struct shm_op *op = &ops[i].op;
	if ((*err = chain_ops(sc, i, nops)))
		return NULL;
	size_t s = ops[i].hash & (sc->by_hash_cap - 1);
	while (sc->by_hash[s] && ops[sc->by_hash[s] - 1].hash != ops[i].hash)
		s = (s + 1) & (sc->by_hash_cap - 1);
	for (uint32_t k1 = sc->by_hash[s]; k1; k1 = ops[k1 - 1].same_prev) {
		const struct shm_op *o = &ops[k1 - 1].op;
		if (o->table != t->id || o->klen != op->klen || memcmp(o->key, op->key, op->klen))
			continue;
		if (o->code == SHM_OP_DEL || clear_at > k1)
			return NULL;
		*len = o->vlen;
		return ops[k1 - 1].resolved ? sc->rows + ops[k1 - 1].row_off : o->val;
	}
	if (clear_at)
		return NULL;
	return core_row_of(core_head(c, t, op->key, op->klen, ops[i].hash), len);
}

/* Op i, an UPDATE of a row of table t, made the PUT of the row it makes
 * (in the scratch's rows; its val set after the pass, as the rows may
 * move). 0, or the transaction's error: -EINVAL (not a table of rows, a
 * field the row cannot take), -ENOENT (no such row), -ENODATA (an add to
 * a null field), -ERANGE (an add that overflows), -E2BIG (the rows the
 * transaction's updates make pass SHMDB_MAX_TXN bytes), -ENOMEM. */
static int resolve_update(struct core *c, size_t i, size_t nops, const struct shm_table *t,
			  size_t clear_at)
{
	struct txn_scratch *sc = &c->scratch;
	struct shm_op *op = &sc->ops[i].op;
	if (!(t->kind & SHM_KIND_ROWS))
		return -EINVAL;
	const struct shm_schema *s = (const struct shm_schema *)(c->base + t->schema);
	uint32_t len = 0;
	int err;
	const uint8_t *row = row_before(c, i, nops, t, clear_at, &len, &err);
	if (!row)
		return err ? err : -ENOENT;
	size_t out_len;
	err = shm_row_update(s, row, len, op->val, op->vlen, NULL, 0, &out_len);
	if (err != -ENOSPC)
		return err ? err : -EINVAL;
	/* Each update makes a whole row from a few bytes of the ring: the rows
	 * a transaction's updates make are bounded as its encoding is. */
	if (out_len > SHMDB_MAX_TXN - sc->rows_len)
		return -E2BIG;
	if (sc->rows_len + out_len > sc->rows_cap) {
		size_t cap = sc->rows_cap ? sc->rows_cap : 4096;
		while (cap < sc->rows_len + out_len)
			cap *= 2;
		/* row may be in the rows: keep where it is from. */
		size_t from = row >= sc->rows && row < sc->rows + sc->rows_len
				      ? (size_t)(row - sc->rows) : SIZE_MAX;
		uint8_t *p = realloc(sc->rows, cap);
		if (!p)
			return -ENOMEM;
		sc->rows = p;
		sc->rows_cap = cap;
		if (from != SIZE_MAX)
			row = p + from;
	}
	err = shm_row_update(s, row, len, op->val, op->vlen, sc->rows + sc->rows_len, out_len,
			     &out_len);
	if (err)
		return err;
	sc->ops[i].resolved = 1;
	sc->ops[i].row_off = sc->rows_len;
	sc->rows_len += out_len;
	op->code = SHM_OP_PUT;
	op->val = sc->rows + sc->ops[i].row_off;
	op->vlen = (uint32_t)out_len;
	return 0;
}

/* A PUT of value op->val into table of rows t: 0 if it is a row of t's
 * schema stored under its column 0's key, else -EINVAL. The value is the
 * writer's private copy of the transaction (decode.h): read once here. */
static int row_put_ok(const struct core *c, const struct shm_table *t, const struct shm_op *op)
{
	const struct shm_schema *s = (const struct shm_schema *)(c->base + t->schema);
	uint8_t key[SHMDB_MAX_KEY];
	size_t klen;
	if (shm_row_check(s, op->val, op->vlen) || shm_row_key(s, op->val, op->vlen, key, &klen) ||
	    klen != op->klen || memcmp(key, op->key, klen))
		return -EINVAL;
	return 0;
}

/* The column of schema s named name[0..len), or -1. */
static int column_named(const struct shm_schema *s, const uint8_t *name, size_t len)
{
	for (unsigned k = 0; k < s->ncols; k++)
		if (s->col[k].name_len == len && !memcmp(shm_column_name(s, k), name, len))
			return (int)k;
	return -1;
}

/* The checks of CREATE_INDEX or DROP_INDEX op on table t: 0 or the
 * transaction's error. A DROP_INDEX adds the index to dropped[]; *retires
 * and *creates count what each will take (a CREATE_INDEX may drop the
 * index of a build that failed, to make it again). */
static int index_op(struct core *c, const struct shm_op *op, struct shm_table *t,
		    uint32_t *dropped, size_t *ndropped, size_t *retires, unsigned *creates)
{
	if (!(t->kind & SHM_KIND_ROWS))
		return -EINVAL;
	struct shm_table *ix = tables_index_named(&c->tables, t, op->key, op->klen);
	if (ix && was_dropped(dropped, *ndropped, ix->id))
		ix = NULL;
	*retires += TABLES_DROP_RETIRES;
	if (op->code == SHM_OP_DROP_INDEX) {
		if (!ix)
			return -ENOENT;
		dropped[(*ndropped)++] = ix->id;
		return 0;
	}
	const struct shm_schema *s = (const struct shm_schema *)(c->base + t->schema);
	int col = column_named(s, op->key, op->klen);
	if (col < 0)
		return -ENOENT;
	/* A column no entry of which could fit a key (a wide FIXED): every
	 * row would fail the build. The shortest primary key is its width,
	 * or a byte. */
	uint32_t pk = shm_index_width(s->col[0].type, s->col[0].size);
	if (!c->replaying && shm_index_width(s->col[col].type, s->col[col].size) +
	    (op->since_ts & SHMDB_UNIQUE ? 0 : pk ? pk : 1) > SHMDB_MAX_KEY)
		return -EINVAL; /* (a log written before this check replays as it ran) */
	const struct shm_index_def *d = ix ? (const void *)(c->base + ix->schema) : NULL;
	if (d && d->ready_ts != SHM_TS_INFINITY &&
	    !(ix->kind & SHM_KIND_UNIQUE) != !(op->since_ts & SHMDB_UNIQUE))
		return -EEXIST;
	(*creates)++;
	return 0;
}

/* The indexes of table t: how many. */
static unsigned indexes_of(struct core *c, const struct shm_table *t)
{
	unsigned n = 0;
	for (struct shm_table *ix = tables_first_index(&c->tables, t); ix;
	     ix = tables_next_index(&c->tables, ix))
		n++;
	return n;
}

/* The checks of an op on a multimap (its pairs live in its tree only):
 * 0, or the transaction's error. */
static int multimap_op(struct pending_op *p)
{
	switch (p->op.code) {
	case SHM_OP_CHECK:
		return -ENOTSUP;
	case SHM_OP_PUT:
		if (p->op.vlen > SHMDB_MAX_MULTI_VALUE)
			return -E2BIG;
		break;
	}
	p->tree_only = 1;
	return 0;
}

/* The entry of ntt touched tables that is t's. */
static struct touched *touched_of(struct touched *tt, size_t ntt, const struct shm_table *t)
{
	for (size_t k = 0; k < ntt; k++)
		if (tt[k].t == t)
			return &tt[k];
	return NULL;
}

/* The change op i makes to its table's tree, into *ch; 0 if it makes none
 * (not an ordered table, an op before the table's last CLEAR, a table the
 * transaction drops). */
static int tree_change_of(struct core *c, size_t i, const uint32_t *dropped, size_t ndropped,
			  struct tree_change *ch)
{
	struct pending_op *p = &c->scratch.ops[i];
	const struct shm_op *op = &p->op;
	if (op->code != SHM_OP_PUT && op->code != SHM_OP_DEL && op->code != SHM_OP_DEL_VALUE)
		return 0;
	struct shm_table *t = tables_live(&c->tables, op->table);
	if (!(t->kind & SHM_KIND_ORDERED))
		return 0;
	p->tree_dropped = was_dropped(dropped, ndropped, t->id) ||
			  i < touched_of(c->scratch.touched, c->scratch.ntouched, t)->clear_at;
	if (p->tree_dropped || (i == 0 && c->scratch.pend_left))
		return 0;
	int multi = (t->kind & SHM_KIND_MULTI) != 0;
	*ch = (struct tree_change){ .key = op->key, .klen = op->klen, .val = op->key,
				    .ref = p->place ? p->place : p->block,
				    .prefix = shm_key_prefix(op->key, op->klen),
				    .table = t->id, .seq = (uint32_t)i,
				    .leaf = i < c->scratch.nleaves ? c->scratch.leaves[i] : NULL };
	if (multi && op->code != SHM_OP_DEL) {
		ch->val = op->val;
		ch->vlen = op->vlen;
	}
	ch->kind = op->code == SHM_OP_PUT ? TREE_PUT
		 : op->code == SHM_OP_DEL && multi ? TREE_WIPE : TREE_DEL;
	return 1;
}

/* Each ordered table's key pending before the transaction, and after it
 * (pending.h): a transaction that changes the table's tree, or leaves
 * op 0's key out of it, places the key pending before with its changes
 * ch[0..n) (unless they name the key: their last word stands); one that
 * clears the table drops it; op 0's key left out is pending after.
 * Returns the changes, with those. */
static size_t add_pending(struct core *c, size_t nops, struct tree_change *ch, size_t n,
			  const uint32_t *dropped, size_t ndropped)
{
	size_t n0 = n;
	for (size_t k = 0; k < c->scratch.ntouched; k++) {
		struct touched *tt = &c->scratch.touched[k];
		const struct shm_table *t = tt->t;
		if (!(t->kind & SHM_KIND_ORDERED) || was_dropped(dropped, ndropped, t->id))
			continue;
		tt->pending = tt->pending0 = pending_of(c, t);
		int left = c->scratch.pend_left && nops && c->scratch.ops[0].op.table == t->id;
		if (tt->pending0) {
			size_t j = 0;
			while (j < n0 && ch[j].table != t->id)
				j++;
			if (j < n0 || tt->cleared || left) {
				if (!tt->cleared)
					n += pending_change(c, t, tt->pending0, ch, n0, &ch[n]);
				tt->pending = 0;
			}
		}
		if (left)
			tt->pending = c->scratch.ops[0].block;
	}
	return n;
}

/* Each ordered table's new tree, from the transaction's changes in key
 * order (tree.h), into its touched entry. The blocks of the versions the
 * leaves will name are reserved already. */
static int update_trees(struct core *c, size_t nops, uint64_t ts, const uint32_t *dropped,
			size_t ndropped)
{
	struct tree_change *ch = c->scratch.changes;
	size_t n = 0, k;
	/* A transaction on hash tables only looks at no op here. */
	for (k = 0; k < c->scratch.ntouched; k++)
		if (c->scratch.touched[k].t->kind & SHM_KIND_ORDERED)
			break;
	if (k == c->scratch.ntouched)
		return 0;
	for (size_t i = 0; i < nops; i++)
		n += tree_change_of(c, i, dropped, ndropped, &ch[n]);
	n = add_pending(c, nops, ch, n, dropped, ndropped);
	n = tree_sort_changes(ch, n, &c->tree.sort);
	for (k = 0; k < c->scratch.ntouched; k++) {
		struct touched *tt = &c->scratch.touched[k];
		struct shm_table *t = tt->t;
		tt->tree = (struct tree_result){ .root = t->root };
		if (!(t->kind & SHM_KIND_ORDERED) || was_dropped(dropped, ndropped, t->id))
			continue;
		size_t a = 0, b;
		while (a < n && ch[a].table != t->id)
			a++;
		for (b = a; b < n && ch[b].table == t->id; b++)
			;
		if (a == b && !tt->cleared)
			continue;
		int err = tree_update(&c->tree, tt->cleared ? 0 : t->root,
				      (t->kind & SHM_KIND_MULTI) != 0, ch + a, b - a, ts, &tt->tree);
		if (err)
			return err;
	}
	return 0;
}

/* After the client's ops [0, *nops): the ops that keep the secondary
 * indexes of the tables they write (secondary_keep.h), counted in as the
 * client's are; *nops includes them. */
static int keep_indexes(struct core *c, size_t *nops, size_t *ntt, size_t ndropped,
			size_t *retires)
{
	size_t total;
	int err = secondary_keep(c, *nops, *ntt, ndropped, &total);
	if (err)
		return err;
	secondary_keys_fixed(&c->scratch, *nops, total);
	for (size_t i = *nops; i < total; i++) {
		const struct shm_op *op = &c->scratch.ops[i].op;
		struct shm_table *t = tables_live(&c->tables, op->table);
		if (op->code == SHM_OP_CLEAR) {
			*retires += touch_clear(c->scratch.touched, ntt, t, i);
		} else {
			touch(c->scratch.touched, ntt, t, 1, 0);
			(*retires)++;
		}
	}
	*nops = total;
	return 0;
}

/* Room in the hash indexes of the ntt tables the transaction writes for
 * the keys it adds (index_build.h: what it plans is kept only by
 * index_room_commit). */
static int make_index_room(struct core *c, size_t ntt, uint64_t ts)
{
	const struct touched *tt = c->scratch.touched;
	int err = 0;
	for (size_t k = 0; !err && k < ntt; k++) {
		err = index_make_room(&c->build, tt[k].t, tt[k].adds, tt[k].reserve, ts);
		if (err == -ENOSPC && c->pressure.reclaim_now &&
		    c->pressure.waiting(c->pressure.ctx)) {
			/* As alloc_or_reclaim: free what waits (not what this
			 * transaction retired), then count live and dead keys
			 * again (the horizon moved). */
			c->pressure.reclaim_now(c->pressure.ctx);
			err = index_make_room(&c->build, tt[k].t, tt[k].adds, tt[k].reserve, ts);
		}
	}
	return err;
}

/* A step of the build under way, bigger as its table gains keys; one that
 * cannot publish for want of memory is taken again by the next
 * transaction. `retiring`: room kept in the retire queue for the commit. */
static void step_index_build(struct core *c, size_t ntt, uint64_t ts, size_t retiring)
{
	const struct touched *tt = c->scratch.touched;
	uint64_t adds = 0;
	for (size_t k = 0; k < ntt; k++)
		if (tt[k].t == c->build.t)
			adds = tt[k].adds;
	index_build_step(&c->build, adds, ts, retiring);
}

int prepare(struct core *c, size_t *nops_io, uint64_t ts)
{
	size_t nops = *nops_io;
	struct pending_op *ops = c->scratch.ops;
	struct touched *tt = c->scratch.touched;
	uint32_t *dropped = c->scratch.dropped;
	size_t ntt = 0, ndropped = 0, i, retires = 0;
	unsigned creates = 0;
	int err = 0;

	tree_begin(&c->tree, c->retired->horizon); /* the last one's nodes are its own now */
	/* Tables, checks, drops and index room first: nothing reserved yet. */
	for (i = 0; !err && i < nops; i++) {
		const struct shm_op *op = &ops[i].op;
		struct shm_table *t = NULL;
		switch (op->code) {
		case SHM_OP_PUT:
		case SHM_OP_DEL:
		case SHM_OP_CHECK:
		case SHM_OP_RESERVE:
		case SHM_OP_DEL_VALUE:
		case SHM_OP_UPDATE:
			t = tables_live(&c->tables, op->table);
			if (!t || was_dropped(dropped, ndropped, op->table)) {
				err = -ENOENT;
				break;
			}
			if ((t->kind & SHM_KIND_INDEX) && !c->internal) {
				err = -EPERM; /* the writer keeps indexes */
				break;
			}
			if (ops[i].place) { /* tree only: no version, no key added */
				touch(tt, &ntt, t, 0, 0);
				break;
			}
			/* A field update becomes the PUT of the row it makes. */
			if (op->code == SHM_OP_UPDATE) {
				const struct touched *x = touched_of(tt, ntt, t);
				if ((err = resolve_update(c, i, nops, t, x ? x->clear_at : 0)))
					break;
			}
			if (t->kind & SHM_KIND_MULTI) {
				err = multimap_op(&ops[i]);
				if (!err)
					touch(tt, &ntt, t, 0, 0);
			} else if (op->code == SHM_OP_DEL_VALUE) {
				err = -ENOTSUP;
			} else if (op->code == SHM_OP_CHECK) {
				/* Changed since: a newer head, or no head where a
				 * build may have left out the key's newer delete. */
				const struct shm_version *head =
					core_head(c, t, op->key, op->klen, ops[i].hash);
				if (head ? head->begin_ts > op->since_ts
					 : t->left_out_ts > op->since_ts)
					err = SHMDB_ECONFLICT;
			} else if (op->code == SHM_OP_RESERVE) {
				/* since_ts is the key count (txn.h): room for
				 * that many, whatever else the transaction adds. */
				touch(tt, &ntt, t,
				      op->since_ts > t->records ? op->since_ts - t->records : 0, 1);
			} else if (op->code == SHM_OP_PUT && (t->kind & SHM_KIND_ROWS) &&
				   !ops[i].resolved && (err = row_put_ok(c, t, op))) {
				/* (A row an update made is one: shm_row_update
				 * keeps rows whole and column 0 as it was.) */
				break;
			} else {
				touch(tt, &ntt, t, 1, 0);
				retires++;
			}
			break;
		case SHM_OP_CLEAR:
			t = tables_live(&c->tables, op->table);
			if (!t || was_dropped(dropped, ndropped, op->table)) {
				err = -ENOENT;
				break;
			}
			if ((t->kind & SHM_KIND_INDEX) && !c->internal) {
				err = -EPERM;
				break;
			}
			retires += touch_clear(tt, &ntt, t, i);
			break;
		case SHM_OP_CREATE_INDEX:
		case SHM_OP_DROP_INDEX:
			t = tables_live(&c->tables, op->table);
			if (!t || was_dropped(dropped, ndropped, op->table))
				err = -ENOENT;
			else if (op->code == SHM_OP_CREATE_INDEX && !c->replaying &&
				 created_otherwise(ops, i))
				err = -EEXIST; /* (a log written before this check replays as it ran) */
			else
				err = index_op(c, op, t, dropped, &ndropped, &retires, &creates);
			break;
		case SHM_OP_CREATE_TABLE:
			/* since_ts is the kind (txn.h); a table of that name
			 * must have it */
			t = tables_named(&c->tables, op->key, op->klen);
			if ((op->since_ts & SHM_KIND_ROWS) && shm_schema_check(op->val, op->vlen))
				err = -EINVAL;
			else if ((t && !table_is(c, t, op)) || created_otherwise(ops, i))
				err = -EEXIST;
			creates++;
			break;
		case SHM_OP_DROP_TABLE:
			t = tables_named(&c->tables, op->key, op->klen);
			if (!t || was_dropped(dropped, ndropped, t->id)) {
				err = -ENOENT;
				break;
			}
			dropped[ndropped++] = t->id;
			retires += TABLES_DROP_RETIRES * (1 + indexes_of(c, t)); /* its indexes go too */
			break;
		}
	}
	/* The rows the updates made are in place: their ops point at them. */
	for (size_t k = 0; k < i; k++)
		if (ops[k].resolved)
			ops[k].op.val = c->scratch.rows + ops[k].row_off;
	/* The indexes' ops after the client's; the scratch may have moved. */
	if (!err) {
		err = keep_indexes(c, &nops, &ntt, ndropped, &retires);
		/* Room for a change per table with a key pending too. */
		if (!err && scratch_reserve(&c->scratch, nops + ntt))
			err = -ENOMEM;
		ops = c->scratch.ops;
		tt = c->scratch.touched;
		dropped = c->scratch.dropped;
		*nops_io = nops;
	}
	if (!err)
		size_clears(c, nops);
	if (!err && creates && tables_free_slots(&c->tables, creates) < creates)
		err = -ENOSPC;
	/* Then every block the transaction will write. */
	c->scratch.ntouched = 0;
	for (i = 0; !err && i < nops; i++) {
		size_t size = ops[i].tree_only ? 0 : op_block_size(&ops[i].op);
		size_t side = side_block_size(&ops[i].op);
		ops[i].side_block = 0;
		if (size && !(ops[i].block = alloc_or_reclaim(c, size, op_writes_version(&ops[i].op))))
			err = -ENOSPC;
		else if (side && !(ops[i].side_block = alloc_or_reclaim(c, side, 0)))
			err = -ENOSPC;
	}
	for (size_t k = 0; !err && k < ntt; k++, c->scratch.ntouched++)
		if (!(tt[k].count_block = alloc_or_reclaim(c, SHM_COUNT_VERSION_SIZE, 1)))
			err = -ENOSPC;
	/* The ordered tables' new trees (while what apply_ops reads first
	 * loads), then room to retire what each commit may replace: a count
	 * version per table written, the nodes the trees leave. */
	if (!err) {
		pending_decide(c, nops);
		apply_prefetch_heads(c, nops);
	}
	if (!err)
		err = update_trees(c, nops, ts, dropped, ndropped);
	c->scratch.nleaves = 0;
	/* Last, the indexes' room: what it takes is kept only if nothing
	 * after it can refuse the transaction. */
	if (!err)
		err = make_index_room(c, ntt, ts);
	size_t retiring = retires + ntt + tree_old_count(&c->tree);
	if (!err && retire_reserve(c->retired, retiring + index_room_retires(&c->build)))
		err = -ENOMEM;
	if (err) {
		index_room_cancel(&c->build);
		unreserve(c, i);
		return err;
	}
	index_room_commit(&c->build, ts);
	if (c->build.t)
		step_index_build(c, ntt, ts, retiring);
	return 0;
}
