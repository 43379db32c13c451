/*
 * secondary.c - the value parts of secondary index keys (the format is
 * secondary.h's).
 *
 * Invariant: for two values a, b of one column, memcmp orders their parts
 * as the values are ordered (numbers by value, bytes bytewise with the
 * shorter first), and for a variable type neither part is a prefix of the
 * other unless they are equal, so part(a) + x and part(b) + y keep a's and
 * b's order whatever x and y are. Rows given here were checked
 * (shm_row_check); keys come from callers and are checked here.
 */
#include "secondary.h"

#include <string.h>

uint32_t shm_index_width(unsigned type, uint32_t size)
{
	switch (type) {
	case SHM_I32:
		return 4;
	case SHM_I64:
	case SHM_U64:
	case SHM_F64:
		return 8;
	case SHM_BOOL:
		return 1;
	case SHM_FIXED:
		return size;
	default: /* STR, BLOB */
		return 0;
	}
}

/* bytes[0..n) escaped and terminated into out[0..cap): 0 or -E2BIG. */
static int escape(const uint8_t *bytes, size_t n, uint8_t *out, size_t cap, size_t *plen)
{
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if (at + 2 > cap)
			return -E2BIG;
		out[at++] = bytes[i];
		if (bytes[i] == 0)
			out[at++] = 0xff;
	}
	if (at + 2 > cap)
		return -E2BIG;
	out[at++] = 0;
	out[at++] = 0;
	*plen = at;
	return 0;
}

int shm_index_part(const struct shm_schema *s, const uint8_t *row, size_t len, unsigned col,
		   uint8_t *out, size_t cap, size_t *plen)
{
	const struct shm_column *k = &s->col[col];
	if (shm_row_is_null(row, col))
		return -ENODATA;
	uint32_t width = shm_index_width(k->type, k->size);
	if (width > cap)
		return -E2BIG;
	if (width) /* a number's key, a BOOL's byte, a FIXED's bytes */
		return shm_row_column_key(s, row, len, col, out, plen);
	uint32_t off, n; /* STR, BLOB: inside the row, as the check found it */
	memcpy(&off, row + k->slot, 4);
	memcpy(&n, row + k->slot + 4, 4);
	if (off > len || n > len - off)
		return -EINVAL;
	return escape(row + off, n, out, cap, plen);
}

int shm_index_seek_part(const struct shm_index_def *d, const uint8_t *key, size_t klen,
			uint8_t *out, size_t cap, size_t *plen)
{
	if (!d->width)
		return escape(key, klen, out, cap, plen);
	if (klen != d->width || (d->type == SHM_BOOL && key[0] > 1))
		return -EINVAL;
	if (klen > cap)
		return -E2BIG;
	double f;
	if (d->type == SHM_F64 && shmdb_key_to_f64(key, klen, &f))
		return -EINVAL; /* no double has these bytes as its key */
	memcpy(out, key, klen);
	*plen = klen;
	return 0;
}
