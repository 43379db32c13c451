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

#include "catalog.h"
#include "index.h"
#include "shmdb.h"

size_t op_block_size(const struct shm_op *op)
{
	switch (op->code) {
	case SHM_OP_PUT:
		return shm_version_size(op->klen, op->vlen);
	case SHM_OP_DEL:
		return shm_version_size(op->klen, SHM_TOMBSTONE);
	case SHM_OP_CREATE_TABLE:
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
		if (op->code == SHM_OP_PUT) {
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

void unreserve(struct core *c, size_t n)
{
	for (size_t k = 0; k < c->scratch.ntouched; k++) {
		struct touched *tt = &c->scratch.touched[k];
		if (tt->count_block)
			alloc_unget_version(c->alloc, tt->count_block, SHM_COUNT_VERSION_SIZE);
		tt->count_block = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct pending_op *p = &c->scratch.ops[i];
		if (p->gen_block)
			alloc_put(c->alloc, p->gen_block, sizeof(struct shm_index_gen));
		p->gen_block = 0;
		if (!p->block)
			continue;
		if (op_writes_version(&p->op))
			alloc_unget_version(c->alloc, p->block, op_block_size(&p->op));
		else
			alloc_put(c->alloc, p->block, op_block_size(&p->op));
	}
}

/* The newest version of key[0..klen) in t, or NULL; `hash` is the key's. */
static const struct shm_version *head_of(const struct core *c, const struct shm_table *t,
					 const uint8_t *key, uint32_t klen, uint64_t hash)
{
	uint64_t s = shm_index_find(c->base, (const uint64_t *)(c->base + shm_index_off(t->index)),
				    shm_index_mask(t->index), hash, key, klen);
	return s ? (const void *)(c->base + (s & SHM_SLOT_OFF_MASK)) : NULL;
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
				    .records0 = t->records, .bytes0 = t->record_bytes };
	return &tt[(*ntt)++];
}

static int was_dropped(const uint32_t *dropped, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (dropped[i] == id)
			return 1;
	return 0;
}

int prepare(struct core *c, size_t nops, uint64_t ts)
{
	struct pending_op *ops = c->scratch.ops;
	struct touched *tt = c->scratch.touched;
	uint32_t *dropped = c->scratch.dropped;
	size_t ntt = 0, ndropped = 0, i, retires = 0;
	unsigned creates = 0;
	int err = 0;

	size_clears(c, nops);
	/* Tables, checks, drops and index room first: nothing reserved yet. */
	for (i = 0; !err && i < nops; i++) {
		const struct shm_op *op = &ops[i].op;
		struct shm_table *t = NULL;
		switch (op->code) {
		case SHM_OP_PUT:
		case SHM_OP_DEL:
		case SHM_OP_CHECK:
		case SHM_OP_RESERVE:
			t = tables_live(&c->tables, op->table);
			if (!t || was_dropped(dropped, ndropped, op->table)) {
				err = -ENOENT;
				break;
			}
			if (op->code == SHM_OP_CHECK) {
				/* Changed since: a newer head, or no head where a
				 * build may have left out the key's newer delete. */
				const struct shm_version *head =
					head_of(c, t, op->key, op->klen, ops[i].hash);
				if (head ? head->begin_ts > op->since_ts
					 : t->left_out_ts > op->since_ts)
					err = SHMDB_ECONFLICT;
			} else if (op->code == SHM_OP_RESERVE) {
				/* since_ts is the key count (txn.h): room for
				 * that many, whatever else the transaction adds. */
				touch(tt, &ntt, t,
				      op->since_ts > t->records ? op->since_ts - t->records : 0, 1);
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
			touch(tt, &ntt, t, 0, 0)->cleared = 1; /* since_ts: size_clears */
			retires += 2; /* the old index with its heads, its generation */
			break;
		case SHM_OP_CREATE_TABLE:
			creates++;
			break;
		case SHM_OP_DROP_TABLE:
			t = tables_named(&c->tables, op->key, op->klen);
			if (!t || was_dropped(dropped, ndropped, t->id)) {
				err = -ENOENT;
				break;
			}
			dropped[ndropped++] = t->id;
			retires += TABLES_DROP_RETIRES;
			break;
		}
	}
	if (!err && creates && tables_free_slots(&c->tables, creates) < creates)
		err = -ENOSPC;
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
	if (!err && c->build.t) {
		/* A step of the build under way, bigger as its table gains
		 * keys; one that cannot publish for want of memory is taken
		 * again by the next transaction. */
		uint64_t adds = 0;
		for (size_t k = 0; k < ntt; k++)
			if (tt[k].t == c->build.t)
				adds = tt[k].adds;
		index_build_step(&c->build, adds, ts);
	}
	/* Each table written may get a new count version, replacing one. */
	if (!err && retire_reserve(c->retired, retires + ntt))
		err = -ENOMEM;

	/* Then every block the transaction will write. */
	c->scratch.ntouched = 0;
	for (i = 0; !err && i < nops; i++) {
		size_t size = op_block_size(&ops[i].op);
		ops[i].gen_block = 0;
		if (size && !(ops[i].block = alloc_or_reclaim(c, size, op_writes_version(&ops[i].op))))
			err = -ENOSPC;
		else if (ops[i].op.code == SHM_OP_CLEAR &&
			 !(ops[i].gen_block = alloc_or_reclaim(c, sizeof(struct shm_index_gen), 0)))
			err = -ENOSPC;
	}
	for (size_t k = 0; !err && k < ntt; k++, c->scratch.ntouched++)
		if (!(tt[k].count_block = alloc_or_reclaim(c, SHM_COUNT_VERSION_SIZE, 1)))
			err = -ENOSPC;
	if (err)
		unreserve(c, i);
	return err;
}
