/*
 * secondary_keep.c - the ops that keep secondary indexes with their rows
 * (see secondary_keep.h; the entries' format is libshm/secondary.h's).
 *
 * Invariant, what a snapshot relies on: after every commit, each index
 * that is not being built holds exactly one live entry per row of its
 * table whose indexed column is not null, under that row's value, and no
 * other; an index being built holds that for every row the build has
 * passed (secondary_fill.c). The upkeep compares, per key, the row before
 * the transaction with the row after it, so a transaction's intermediate
 * rows never reach an index, and a row written many times in one
 * transaction costs its index at most one DEL and one PUT.
 *
 * The ops made here are ordinary PUTs and DELs on ordered tables: the
 * rest of prepare and apply reserve, write, publish and retire them as
 * they do a client's, in the same commit as the rows.
 */
#include "secondary_keep.h"

#include <errno.h>
#include <string.h>

#include "index.h"
#include "secondary.h"
#include "shmdb.h"

#include <stdlib.h>

enum { DELS, PUTS };

static const uint8_t *op_key(const struct txn_scratch *sc, const struct pending_op *p)
{
	return p->derived ? sc->ikeys + p->key_off : p->op.key;
}

static int grow(void **p, size_t *cap, size_t want, size_t each)
{
	if (want <= *cap)
		return 0;
	size_t n = *cap ? *cap : 64;
	while (n < want)
		n *= 2;
	void *q = realloc(*p, n * each);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* An empty set of ops by key, for up to n of them. */
static int set_clear(struct txn_scratch *sc, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	if (cap > sc->kset_cap) { /* (kset_cap is the set's size, perhaps less than held) */
		uint32_t *p = realloc(sc->kset, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		sc->kset = p;
	}
	sc->kset_cap = cap;
	memset(sc->kset, 0, cap * sizeof(*sc->kset));
	return 0;
}

/* The set's place for op i's key (its op + 1 there, or 0: not in it). */
static uint32_t *set_place(struct txn_scratch *sc, size_t i)
{
	const struct pending_op *p = &sc->ops[i];
	size_t mask = sc->kset_cap - 1, s = p->hash & mask;
	for (;; s = (s + 1) & mask) {
		uint32_t k = sc->kset[s];
		if (!k)
			return &sc->kset[s];
		const struct pending_op *q = &sc->ops[k - 1];
		if (q->hash == p->hash && q->op.klen == p->op.klen &&
		    !memcmp(op_key(sc, q), op_key(sc, p), p->op.klen))
			return &sc->kset[s];
	}
}

static int was_dropped(const uint32_t *dropped, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (dropped[i] == id)
			return 1;
	return 0;
}

/* Whether the upkeep keeps index ix: not dropped by the transaction, and
 * not an index whose build failed. */
static int kept(const struct core *c, const struct shm_table *ix, size_t nd)
{
	const struct shm_index_def *d = (const struct shm_index_def *)(c->base + ix->schema);
	/* (the scratch's dropped ids read where they are now: emit moves them) */
	return d->ready_ts != SHM_TS_INFINITY && !was_dropped(c->scratch.dropped, nd, ix->id);
}

/* Append an op on index ix: `code`, its key part[0..plen) then (not
 * unique) pk[0..pklen), a PUT's value pk. A PUT of a key longer than
 * SHMDB_MAX_KEY is -E2BIG; a DEL of one is nothing (no entry can have it:
 * a row from before the index, whose build fails on it). */
static int emit(struct core *c, size_t *n, const struct shm_table *ix, uint8_t code,
		const uint8_t *part, size_t plen, const uint8_t *pk, uint32_t pklen)
{
	struct txn_scratch *sc = &c->scratch;
	size_t klen = plen + (ix->kind & SHM_KIND_UNIQUE ? 0 : pklen);
	if (klen > SHMDB_MAX_KEY)
		return code == SHM_OP_DEL ? 0 : -E2BIG;
	if (scratch_reserve(sc, *n + 1) ||
	    grow((void **)&sc->ikeys, &sc->ikeys_cap, sc->ikeys_len + klen, 1))
		return -ENOMEM;
	uint8_t *k = sc->ikeys + sc->ikeys_len;
	memcpy(k, part, plen);
	memcpy(k + plen, pk, klen - plen);
	sc->ops[(*n)++] = (struct pending_op){
		.op = { .code = code, .table = ix->id, .klen = (uint32_t)klen,
			.val = code == SHM_OP_PUT ? pk : NULL,
			.vlen = code == SHM_OP_PUT ? pklen : 0 },
		.hash = shm_key_hash(k, klen), .derived = 1, .key_off = sc->ikeys_len };
	sc->ikeys_len += klen;
	return 0;
}

/* Ops whose keys' index slots load while the op ROWS_AHEAD after them
 * (in last_rows' order, from the last op back) looks up its row: a bulk
 * load's keys are new, and each lookup would otherwise wait for its slot,
 * in memory, not in a cache. */
#define ROWS_AHEAD 16

/* Into krows[0..*nrows): each key of table t the ops [from, nops) write,
 * with its last op and the row the store holds under it (none if
 * `cleared`). */
static int last_rows(struct core *c, const struct shm_table *t, size_t from, size_t nops,
		     int cleared, size_t *nrows)
{
	struct txn_scratch *sc = &c->scratch;
	size_t n = 0;
	if (set_clear(sc, nops - from))
		return -ENOMEM;
	const uint64_t *slots = (const uint64_t *)(c->base + shm_index_off(t->index));
	uint64_t mask = shm_index_mask(t->index);
	for (size_t i = nops; i-- > from;) {
		const struct pending_op *p = &sc->ops[i];
		if (!cleared && i >= from + ROWS_AHEAD && sc->ops[i - ROWS_AHEAD].op.table == t->id)
			__builtin_prefetch(&slots[sc->ops[i - ROWS_AHEAD].hash & mask]);
		if (p->op.table != t->id || (p->op.code != SHM_OP_PUT && p->op.code != SHM_OP_DEL))
			continue;
		uint32_t *place = set_place(sc, i);
		if (*place)
			continue; /* a later op on the key decides */
		*place = (uint32_t)i + 1;
		if (grow((void **)&sc->krows, &sc->krows_cap, n + 1, sizeof(*sc->krows)))
			return -ENOMEM;
		struct keep_row *r = &sc->krows[n++];
		r->op = (uint32_t)i;
		r->old = cleared ? NULL
				 : core_row_of(core_head(c, t, p->op.key, p->op.klen, p->hash),
					       &r->old_len);
	}
	*nrows = n;
	return 0;
}

/* Whether the entry of value part[0..plen) in index ix is the row with
 * primary key pk[0..pklen)'s, so that the row's change may delete it. In
 * an index that is not unique, the key holds the primary key: always. A
 * unique index's entry may be another row's while the index is being
 * built: a row the build has passed took the value of one it has not
 * reached (the index could not see that one's), and the entry is the
 * first's; the build fails when it reaches the second, unless that one
 * gave the value up first. */
static int owns(struct core *c, const struct shm_table *ix, const uint8_t *part, size_t plen,
		const uint8_t *pk, uint32_t pklen)
{
	uint32_t len;
	if (!(ix->kind & SHM_KIND_UNIQUE))
		return 1;
	const uint8_t *held = core_row_of(core_head(c, ix, part, (uint32_t)plen,
						    shm_key_hash(part, plen)), &len);
	return !held || (len == pklen && !memcmp(held, pk, len));
}

/* The ops of `pass` (the DELs or the PUTs) that index ix on column `col`
 * of schema s needs for the rows krows[0..nrows). */
static int keep_index(struct core *c, const struct shm_schema *s, const struct shm_table *ix,
		      unsigned col, size_t nrows, int pass, size_t *n)
{
	struct txn_scratch *sc = &c->scratch;
	uint8_t was[SHMDB_MAX_KEY], now[SHMDB_MAX_KEY];
	for (size_t j = 0; j < nrows; j++) {
		const struct keep_row *r = &sc->krows[j];
		const struct shm_op *op = &sc->ops[r->op].op;
		size_t wlen = 0, nlen = 0;
		/* An old value that makes no entry (a row from before the
		 * index, which its build refused) has none to delete. */
		int had = r->old && !shm_index_part(s, r->old, r->old_len, col, was, sizeof(was), &wlen);
		int has = 0;
		if (op->code == SHM_OP_PUT) {
			int e = shm_index_part(s, op->val, op->vlen, col, now, sizeof(now), &nlen);
			if (e && e != -ENODATA)
				return e;
			has = !e;
		}
		if (had && has && wlen == nlen && !memcmp(was, now, wlen))
			continue; /* the same value: the same entry */
		int e = 0;
		if (pass == DELS && had && owns(c, ix, was, wlen, op->key, op->klen))
			e = emit(c, n, ix, SHM_OP_DEL, was, wlen, op->key, op->klen);
		else if (pass == PUTS && has)
			e = emit(c, n, ix, SHM_OP_PUT, now, nlen, op->key, op->klen);
		if (e)
			return e;
	}
	return 0;
}

/* The PUTs [puts, end) of unique index ix, after its DELs [dels, puts):
 * SHMDB_EUNIQUE if two take one value, or one takes a value that a row
 * holds in the store and no DEL gives up; else 0. */
static int unique_ok(struct core *c, const struct shm_table *ix, int cleared, size_t dels,
		     size_t puts, size_t end)
{
	struct txn_scratch *sc = &c->scratch;
	if (set_clear(sc, end - dels))
		return -ENOMEM;
	for (size_t i = dels; i < end; i++) {
		uint32_t *place = set_place(sc, i);
		if (i >= puts && *place && *place - 1 >= puts)
			return SHMDB_EUNIQUE; /* two PUTs of one value */
		int freed = *place != 0; /* a DEL of the value came before */
		*place = (uint32_t)i + 1;
		if (i < puts || freed || cleared)
			continue;
		const struct pending_op *p = &sc->ops[i];
		uint32_t len;
		if (core_row_of(core_head(c, ix, op_key(sc, p), p->op.klen, p->hash), &len))
			return SHMDB_EUNIQUE;
	}
	return 0;
}

/* The upkeep of table t's indexes (touched entry tt). */
static int keep_table(struct core *c, const struct touched *tt, size_t nops, size_t nd,
		      size_t *n)
{
	struct shm_table *t = tt->t;
	const struct shm_schema *s = (const struct shm_schema *)(c->base + t->schema);
	size_t nrows;
	int e;
	for (struct shm_table *ix = tables_first_index(&c->tables, t); ix && tt->cleared;
	     ix = tables_next_index(&c->tables, ix)) {
		if (!kept(c, ix, nd))
			continue;
		if (scratch_reserve(&c->scratch, *n + 1))
			return -ENOMEM;
		c->scratch.ops[(*n)++] = (struct pending_op){
			.op = { .code = SHM_OP_CLEAR, .table = ix->id }, .derived = 1 };
	}
	if ((e = last_rows(c, t, tt->clear_at, nops, tt->cleared, &nrows)))
		return e;
	for (struct shm_table *ix = tables_first_index(&c->tables, t); ix;
	     ix = tables_next_index(&c->tables, ix)) {
		if (!kept(c, ix, nd))
			continue;
		unsigned col = ((const struct shm_index_def *)(c->base + ix->schema))->column;
		size_t dels = *n;
		if ((e = keep_index(c, s, ix, col, nrows, DELS, n)))
			return e;
		size_t puts = *n;
		if ((e = keep_index(c, s, ix, col, nrows, PUTS, n)))
			return e;
		if ((ix->kind & SHM_KIND_UNIQUE) && (e = unique_ok(c, ix, tt->cleared, dels, puts, *n)))
			return e;
	}
	return 0;
}

int secondary_keep(struct core *c, size_t nops, size_t ntt, size_t ndropped, size_t *total)
{
	size_t n = nops;
	*total = nops;
	for (size_t k = 0; k < ntt; k++) {
		/* (the scratch's touched array may move as ops are added) */
		const struct touched tt = c->scratch.touched[k];
		if (!(tt.t->kind & SHM_KIND_ROWS) || !tables_first_index(&c->tables, tt.t) ||
		    was_dropped(c->scratch.dropped, ndropped, tt.t->id))
			continue;
		int e = keep_table(c, &tt, nops, ndropped, &n);
		if (e)
			return e;
	}
	*total = n;
	return 0;
}

void secondary_keys_fixed(struct txn_scratch *sc, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (sc->ops[i].derived)
			sc->ops[i].op.key = sc->ikeys + sc->ops[i].key_off;
}
