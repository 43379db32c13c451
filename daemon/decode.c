/*
 * decode.c - pass 1 of a transaction in the writer (see decode.h).
 *
 * Invariant: the three scratch arrays always have `cap` entries each (a
 * failed growth keeps the old cap, so they never disagree). Decoding reads
 * only the writer's private copy of what the client wrote; shm_op_decode
 * validates every field before it is used.
 */
#include "decode.h"

#include <errno.h>
#include <stdlib.h>

#include "index.h"
#include "shmdb.h"

/* Operations whose scratch (84 bytes each) stays allocated between
 * transactions; a larger transaction's is freed after it. */
#define SCRATCH_KEEP 65536
/* Bytes of updated rows kept between transactions. */
#define SCRATCH_KEEP_ROWS (1u << 20)

int scratch_reserve(struct txn_scratch *s, size_t n)
{
	if (n <= s->cap)
		return 0;
	size_t cap = s->cap ? s->cap : 64;
	while (cap < n)
		cap *= 2;
	struct pending_op *ops = realloc(s->ops, cap * sizeof(*ops));
	if (ops)
		s->ops = ops;
	struct touched *tt = realloc(s->touched, cap * sizeof(*tt));
	if (tt)
		s->touched = tt;
	uint32_t *dropped = realloc(s->dropped, cap * sizeof(*dropped));
	if (dropped)
		s->dropped = dropped;
	struct tree_change *ch = realloc(s->changes, cap * sizeof(*ch));
	if (ch)
		s->changes = ch;
	if (!ops || !tt || !dropped || !ch)
		return -ENOMEM;
	s->cap = cap;
	return 0;
}

void scratch_free(struct txn_scratch *s)
{
	free(s->rows);
	s->rows = NULL;
	s->rows_cap = 0;
	free(s->by_hash);
	s->by_hash = NULL;
	s->by_hash_cap = 0;
	free(s->ikeys);
	s->ikeys = NULL;
	s->ikeys_cap = 0;
	free(s->krows);
	s->krows = NULL;
	s->krows_cap = 0;
	free(s->kset);
	s->kset = NULL;
	s->kset_cap = 0;
	free(s->ops);
	free(s->touched);
	free(s->dropped);
	free(s->changes);
	s->changes = NULL;
	s->ops = NULL;
	s->touched = NULL;
	s->dropped = NULL;
	s->cap = 0;
}

void scratch_trim(struct txn_scratch *s)
{
	if (s->cap > SCRATCH_KEEP || s->rows_cap > SCRATCH_KEEP_ROWS ||
	    s->by_hash_cap > 2 * SCRATCH_KEEP || s->ikeys_cap > SCRATCH_KEEP_ROWS ||
	    s->krows_cap > SCRATCH_KEEP || s->kset_cap > 2 * SCRATCH_KEEP)
		scratch_free(s);
	s->rows_len = 0;
	s->ikeys_len = 0;
	s->chained = 0;
	s->chain_ready = 0;
	s->nleaf_parents = 0;
	s->nleaves = 0;
}

static int keyed(uint8_t code)
{
	return code == SHM_OP_PUT || code == SHM_OP_DEL || code == SHM_OP_CHECK ||
	       code == SHM_OP_UPDATE;
}

int decode_txn(struct txn_scratch *s, const uint8_t *buf, size_t len, size_t *nops)
{
	size_t pos = 0, n = 0;
	struct shm_op op;
	int r;

	while ((r = shm_op_decode(buf, len, &pos, &op)) == 1) {
		if (n == s->cap && scratch_reserve(s, n + 1))
			return -ENOMEM;
		s->ops[n].op = op;
		s->ops[n].block = 0;
		s->ops[n].side_block = 0;
		s->ops[n].tree_only = 0;
		s->ops[n].tree_dropped = 0;
		s->ops[n].resolved = 0;
		s->ops[n].derived = 0;
		s->ops[n].place = 0;
		s->ops[n].hash = keyed(op.code) ? shm_key_hash(op.key, op.klen) : 0;
		n++;
	}
	*nops = n;
	return r < 0 ? SHMDB_EBADTXN : 0;
}
