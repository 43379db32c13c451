/*
 * txn.c - encoding and validating decoding of transactions (see txn.h). The
 * decoder trusts nothing: it reads a private copy of what a client wrote and
 * checks every length before using it.
 */
#include "txn.h"

#include <errno.h>
#include <string.h>

#include "layout.h"
#include "rows.h"
#include "shmdb.h"

void shm_op_encode(uint8_t *dst, uint8_t code, uint32_t table, uint64_t since_ts,
		   const void *key, size_t klen, const void *val, size_t vlen)
{
	struct shm_op_hdr h = {
		.code = code,
		.klen = (uint16_t)klen,
		.vlen = (uint32_t)vlen,
		.table = table,
		.since_ts = since_ts,
	};
	memcpy(dst, &h, sizeof(h));
	dst += sizeof(h);
	if (klen)
		memcpy(dst, key, klen);
	memset(dst + klen, 0, shm_align_up(klen, 8) - klen);
	dst += shm_align_up(klen, 8);
	if (vlen)
		memcpy(dst, val, vlen);
	memset(dst + vlen, 0, shm_align_up(vlen, 8) - vlen);
}

/* Whether an op's key is a name: a table's or a column's. */
static int names_something(uint8_t code)
{
	return code == SHM_OP_CREATE_TABLE || code == SHM_OP_DROP_TABLE ||
	       code == SHM_OP_CREATE_INDEX || code == SHM_OP_DROP_INDEX;
}

int shm_op_decode(const uint8_t *buf, size_t len, size_t *pos, struct shm_op *op)
{
	struct shm_op_hdr h;
	size_t p = *pos;

	if (p == len)
		return 0;
	if (p > len || len - p < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf + p, sizeof(h));
	if (h.reserved0 || h.reserved1)
		return -EBADMSG;
	switch (h.code) {
	case SHM_OP_PUT:
		if (h.klen < 1 || h.klen > SHMDB_MAX_KEY || h.vlen > SHMDB_MAX_VALUE || h.since_ts)
			return -EBADMSG;
		break;
	case SHM_OP_DEL:
		if (h.klen < 1 || h.klen > SHMDB_MAX_KEY || h.vlen || h.since_ts)
			return -EBADMSG;
		break;
	case SHM_OP_CHECK:
		if (h.klen < 1 || h.klen > SHMDB_MAX_KEY || h.vlen)
			return -EBADMSG;
		break;
	case SHM_OP_DEL_VALUE:
		if (h.klen < 1 || h.klen > SHMDB_MAX_KEY || h.vlen > SHMDB_MAX_MULTI_VALUE ||
		    h.since_ts)
			return -EBADMSG;
		break;
	case SHM_OP_UPDATE:
		if (h.klen < 1 || h.klen > SHMDB_MAX_KEY || !h.table || h.since_ts ||
		    h.vlen < sizeof(struct shm_field_update) ||
		    h.vlen > sizeof(struct shm_field_update) + SHMDB_MAX_KEY)
			return -EBADMSG;
		break;
	case SHM_OP_CREATE_TABLE:
		if (h.klen < 1 || h.klen > SHMDB_MAX_TABLE_NAME || h.table ||
		    (h.since_ts != 0 && h.since_ts != SHMDB_ORDERED &&
		     h.since_ts != (SHMDB_ORDERED | SHMDB_MULTI) && h.since_ts != SHM_KIND_ROWS &&
		     h.since_ts != (SHM_KIND_ROWS | SHMDB_ORDERED)))
			return -EBADMSG;
		/* A schema with a table of rows, nothing with another. */
		if ((h.since_ts & SHM_KIND_ROWS) ? h.vlen < 1 || h.vlen > SHM_MAX_SCHEMA_BYTES : h.vlen)
			return -EBADMSG;
		break;
	case SHM_OP_DROP_TABLE:
		if (h.klen < 1 || h.klen > SHMDB_MAX_TABLE_NAME || h.vlen || h.table || h.since_ts)
			return -EBADMSG;
		break;
	case SHM_OP_RESERVE:
		if (h.klen || h.vlen || !h.table || h.since_ts > SHMDB_MAX_TABLE_KEYS)
			return -EBADMSG;
		break;
	case SHM_OP_CLEAR:
		if (h.klen || h.vlen || !h.table || h.since_ts)
			return -EBADMSG;
		break;
	case SHM_OP_CREATE_INDEX:
	case SHM_OP_DROP_INDEX:
		if (h.klen < 1 || h.klen > SHM_MAX_COLUMN_NAME || h.vlen || !h.table ||
		    h.since_ts > (h.code == SHM_OP_CREATE_INDEX ? SHMDB_UNIQUE : 0))
			return -EBADMSG;
		break;
	case SHM_OP_SYNC:
	case SHM_OP_CHECKPOINT:
		if (h.klen || h.vlen || h.table || h.since_ts)
			return -EBADMSG;
		break;
	default:
		return -EBADMSG;
	}
	size_t need = shm_op_size(h.klen, h.vlen);
	if (len - p < need)
		return -EBADMSG;
	/* A name is a C string to every caller: one with a NUL in it would
	 * make a table (or find a column) no client could name. */
	if (names_something(h.code) && memchr(buf + p + sizeof(h), 0, h.klen))
		return -EBADMSG;
	op->code = h.code;
	op->table = h.table;
	op->since_ts = h.since_ts;
	op->klen = h.klen;
	op->key = buf + p + sizeof(h);
	op->vlen = h.vlen;
	op->val = op->key + shm_align_up(h.klen, 8);
	*pos = p + need;
	return 1;
}
