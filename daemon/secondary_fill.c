/*
 * secondary_fill.c - building a secondary index in steps (see
 * secondary_fill.h).
 *
 * Invariant: the index at the head of the queue holds the entry of every
 * row in the slots [0, pos) of the table's hash index `word`, as the row
 * is now, and of every row written since the index was created (the
 * upkeep's). Each step is a transaction like a client's, so its entries
 * are published by its commit_ts with release order (commit.c). ready_ts
 * is the last step's commit, stored (release) before that commit is
 * published (release, core_publish), so a snapshot that sees the commit
 * finds the index complete, and an older one never does. Only when the
 * last step puts nothing (the index's last slots hold only deleted rows or
 * nulls), or when the log refused the build's end (async, the log failing:
 * the end is logged and ready_ts stored at a later pass), is ready_ts a
 * commit already published: a snapshot at that commit may then read the
 * index as not complete first and complete later.
 */
#include "secondary_fill.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "core.h"
#include "index.h"
#include "secondary.h"
#include "shmdb.h"
#include "txn.h"
#include "wal_format.h"

void fill_add(struct secondary_fill *f, struct tables *tables, uint32_t id)
{
	if (f->n == 0)
		f->word = 0; /* a new walk */
	if (f->n == SHM_MAX_TABLES) { /* keep the live ones: one per slot at most */
		size_t kept = 1;
		for (size_t i = 1; i < f->n; i++)
			if (tables_live(tables, f->queue[i]))
				f->queue[kept++] = f->queue[i];
		f->n = kept;
	}
	f->queue[f->n++] = id;
}

static void pop(struct secondary_fill *f)
{
	memmove(f->queue, f->queue + 1, --f->n * sizeof(f->queue[0]));
	f->word = 0;
}

/* The build of index d ends: complete from commit ts, or failed (err). */
static void finish(struct secondary_fill *f, struct shm_index_def *d, int err, uint64_t ts)
{
	d->error = err;
	/* Release: the entries (published by their commits) before the word
	 * that says they are all there. */
	__atomic_store_n(&d->ready_ts, err ? SHM_TS_INFINITY : ts, __ATOMIC_RELEASE);
	pop(f);
}

/* Whether the step's PUTs already hold the key k[0..klen) (a unique
 * index's value); if not, it is added. */
static int seen_in_step(struct secondary_fill *f, const uint8_t *k, size_t klen, uint64_t hash)
{
	size_t mask = sizeof(f->seen) / sizeof(f->seen[0]) - 1, s = hash & mask;
	for (; f->seen[s]; s = (s + 1) & mask) {
		const struct shm_op_hdr *h = (const void *)(f->buf + f->seen[s] - 1);
		if (h->klen == klen && !memcmp(h + 1, k, klen))
			return 1;
	}
	return 0;
}

/* Room for one more op of key and value up to SHMDB_MAX_KEY each. */
static int room(struct secondary_fill *f, size_t len)
{
	size_t need = len + shm_op_size(SHMDB_MAX_KEY, SHMDB_MAX_KEY);
	if (need <= f->cap)
		return 0;
	size_t cap = f->cap ? 2 * f->cap : 1u << 16;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(f->buf, cap);
	if (!p)
		return -ENOMEM;
	f->buf = p;
	f->cap = cap;
	return 0;
}

/* Encode the PUTs of the rows in the next slots of table t's index into
 * f->buf: its length into *len. 0, or the build's error. */
static int encode_step(struct core *c, struct secondary_fill *f, const struct shm_table *t,
		       const struct shm_table *ix, const struct shm_index_def *d, size_t *len)
{
	const struct shm_schema *s = (const struct shm_schema *)(c->base + t->schema);
	const uint64_t *slots = (const uint64_t *)(c->base + shm_index_off(f->word));
	uint64_t mask = shm_index_mask(f->word);
	int unique = (ix->kind & SHM_KIND_UNIQUE) != 0;
	uint8_t key[SHMDB_MAX_KEY];
	size_t at = 0;
	if (unique)
		memset(f->seen, 0, sizeof(f->seen));
	for (unsigned n = 0; f->pos <= mask; f->pos++) {
		uint64_t slot = slots[f->pos];
		/* A full step goes on over the empty slots after it: if they
		 * are the last, this step is the last, and its commit the
		 * one that completes the index. */
		if (n == FILL_STEP) {
			if (slot)
				break;
			continue;
		}
		uint32_t rlen;
		const struct shm_version *v = (const void *)(c->base + (slot & SHM_SLOT_OFF_MASK));
		const uint8_t *row = slot ? core_row_of(v, &rlen) : NULL;
		size_t plen;
		if (!row)
			continue;
		int e = shm_index_part(s, row, rlen, d->column, key, sizeof(key), &plen);
		if (e == -ENODATA)
			continue; /* a null has no entry */
		if (e)
			return e == -E2BIG ? -EINVAL : e;
		size_t klen = plen + (unique ? 0 : v->klen);
		if (klen > SHMDB_MAX_KEY)
			return -EINVAL;
		memcpy(key + plen, v->key, klen - plen);
		if (unique) {
			uint64_t hash = shm_key_hash(key, klen);
			uint32_t held;
			const struct shm_version *e2 = core_head(c, ix, key, (uint32_t)klen, hash);
			const uint8_t *pk = core_row_of(e2, &held);
			if ((pk && (held != v->klen || memcmp(pk, v->key, held))) ||
			    seen_in_step(f, key, klen, hash))
				return SHMDB_EUNIQUE;
			size_t sm = sizeof(f->seen) / sizeof(f->seen[0]) - 1, p = hash & sm;
			while (f->seen[p])
				p = (p + 1) & sm;
			f->seen[p] = (uint32_t)at + 1;
		}
		if (room(f, at))
			return -ENOSPC;
		shm_op_encode(f->buf + at, SHM_OP_PUT, ix->id, 0, key, klen, v->key, v->klen);
		at += shm_op_size(klen, v->klen);
		n++;
	}
	*len = at;
	return 0;
}

/* Log the end of ix's build over table t, failed with err or not
 * (WAL_FILL_END, wal_format.h), so that a replay ends it the same way:
 * 0, or the log's refusal (the build ends at a later step). */
static int log_end(struct core *c, const struct shm_table *t, const struct shm_table *ix,
		   int err, uint64_t ts)
{
	if (!c->log.reserve || c->replaying)
		return 0;
	uint8_t payload[12 + sizeof(ix->name)];
	uint32_t base = t->id, len = ix->name_len;
	int32_t e = err;
	memcpy(payload, &base, 4);
	memcpy(payload + 4, &e, 4);
	memcpy(payload + 8, &len, 4);
	memcpy(payload + 12, ix->name, len);
	int r = c->log.reserve(c->log.ctx, 12 + len, 0);
	if (!r)
		c->log.append(c->log.ctx, WAL_FILL_END, ts, payload, 12 + len, NULL, 0);
	return r;
}

int fill_end_replay(struct core *c, uint32_t base, const uint8_t *column, size_t len, int err)
{
	struct shm_table *t = tables_live(&c->tables, base);
	struct shm_table *ix = t ? tables_index_named(&c->tables, t, column, len) : NULL;
	if (!ix)
		return -ENOENT;
	if (!err)
		return 0; /* built: the build after the replay makes it again */
	struct secondary_fill *f = &c->fill;
	for (size_t i = 0; i < f->n; i++) {
		if (f->queue[i] != ix->id)
			continue;
		if (i == 0) {
			pop(f);
		} else {
			memmove(f->queue + i, f->queue + i + 1, (f->n - i - 1) * sizeof(f->queue[0]));
			f->n--;
		}
		break;
	}
	struct shm_index_def *d = (struct shm_index_def *)(c->base + ix->schema);
	d->error = err;
	__atomic_store_n(&d->ready_ts, SHM_TS_INFINITY, __ATOMIC_RELEASE);
	return 0;
}

/* The commit that last replaced t's hash index: a rebuild's
 * (index_replaced_ts) or a clear's (index_since), whichever came last.
 * Every replacement moves it past all earlier commits, so the walk knows
 * its index is still the table's even when a new one took the same block
 * at the same size (the word alone would not tell). */
static uint64_t replacement_ts(const struct shm_table *t)
{
	return t->index_replaced_ts > t->index_since ? t->index_replaced_ts : t->index_since;
}

void fill_step(struct core *c)
{
	struct secondary_fill *f = &c->fill;
	while (f->n) {
		struct shm_table *ix = tables_live(&c->tables, f->queue[0]);
		struct shm_index_def *d = ix ? (struct shm_index_def *)(c->base + ix->schema) : NULL;
		const struct shm_table *t = d ? tables_live(&c->tables, d->base) : NULL;
		if (!t) { /* dropped meanwhile */
			pop(f);
			continue;
		}
		if (f->word != t->index || f->word_ts != replacement_ts(t)) {
			/* (re)start the walk on t's index */
			f->word = t->index;
			f->word_ts = replacement_ts(t);
			f->pos = 0;
		}
		size_t len = 0;
		int e = encode_step(c, f, t, ix, d, &len);
		bool last = f->pos > shm_index_mask(f->word);
		uint64_t ts = c->applied_ts, value;
		int deferred = c->defer_publish;
		if (!e && len) {
			/* The last step's commit is published after ready_ts
			 * names it: a snapshot that sees it finds the index
			 * complete, and none sees that change. A step that
			 * fails has no commit of its own: the end is logged at
			 * the last one's. */
			uint64_t step_ts;
			c->internal = 1;
			c->defer_publish |= last;
			e = commit_txn(c, f->buf, len, &step_ts, &value);
			c->internal = 0;
			c->defer_publish = deferred;
			if (!e)
				ts = step_ts;
		}
		if ((e || last) && !log_end(c, t, ix, e, ts))
			finish(f, d, e, ts);
		if (!deferred)
			core_publish(c);
		return;
	}
}

void fill_free(struct secondary_fill *f)
{
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
}
