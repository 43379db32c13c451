/*
 * rows.c - building and checking schemas and rows (the format is
 * rows.h's).
 *
 * Invariants: shm_schema_build places slots by one rule (place_slots)
 * and shm_schema_check recomputes them by the same rule and demands the
 * same bytes, so a schema that passes the check is one the builder could
 * have made: slots inside the fixed part, aligned, not overlapping.
 * shm_row_check accepts exactly the rows shm_row_encode makes. Neither
 * trusts a length or an offset it reads before comparing it to the bytes
 * it was given: these run on bytes from other processes.
 */
#include "rows.h"

#include <string.h>

static int type_ok(unsigned t)
{
	return t >= SHM_I32 && t <= SHM_BLOB;
}

/* A column's slot: its bytes and its alignment. */
static uint32_t slot_size(unsigned type, uint32_t fixed_size)
{
	switch (type) {
	case SHM_I32:
		return 4;
	case SHM_BOOL:
		return 1;
	case SHM_FIXED:
		return fixed_size;
	default: /* I64, U64, F64; STR and BLOB: u32 off, u32 len */
		return 8;
	}
}

static uint32_t slot_align(unsigned type)
{
	return type == SHM_I32 ? 4 : type == SHM_BOOL || type == SHM_FIXED ? 1 : 8;
}

/* Slots for the n columns of col (types and sizes set): the 8-aligned
 * first, then the 4-aligned, then the rest, in column order within each,
 * after the null bitmap. Returns the fixed part's bytes (a multiple of 8),
 * 0 if it would pass SHMDB_MAX_VALUE. */
static uint64_t place_slots(struct shm_column *col, unsigned n, uint32_t *slot)
{
	uint64_t at = shm_row_nulls_bytes(n);
	for (uint32_t align = 8; align >= 1; align /= 2)
		for (unsigned c = 0; c < n; c++)
			if (slot_align(col[c].type) == align) {
				slot[c] = (uint32_t)at;
				at += slot_size(col[c].type, col[c].size);
				if (at > SHMDB_MAX_VALUE)
					return 0;
			}
	return (at + 7) & ~7ull;
}

static int name_ok(const char *name, size_t len)
{
	if (len < 1 || len > SHM_MAX_COLUMN_NAME)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~' || name[i] == '=' || name[i] == ':')
			return 0;
	return 1;
}

static int column_ok(unsigned c, unsigned type, uint32_t size, unsigned flags)
{
	if (!type_ok(type) || (flags & ~SHM_NULLABLE) || (c == 0 && (flags & SHM_NULLABLE)))
		return 0;
	return type == SHM_FIXED ? size >= 1 && size <= SHMDB_MAX_KEY : 1;
}

int shm_schema_build(const struct shm_column_def *defs, unsigned n, void *out, size_t cap,
		     size_t *bytes)
{
	if (!defs || !bytes || n < 1 || n > SHM_MAX_COLUMNS)
		return -EINVAL;
	size_t names = 0;
	for (unsigned c = 0; c < n; c++) {
		const struct shm_column_def *d = &defs[c];
		size_t len = d->name ? strnlen(d->name, SHM_MAX_COLUMN_NAME + 1) : 0;
		if (!name_ok(d->name, len) || !column_ok(c, d->type, d->size, d->flags))
			return -EINVAL;
		for (unsigned k = 0; k < c; k++)
			if (!strcmp(defs[k].name, d->name))
				return -EINVAL;
		names += len;
	}
	size_t total = (sizeof(struct shm_schema) + n * sizeof(struct shm_column) + names + 7) & ~(size_t)7;
	*bytes = total;
	if (!out || cap < total)
		return -ENOSPC;
	memset(out, 0, total);
	struct shm_schema *s = out;
	uint32_t slot[SHM_MAX_COLUMNS];
	uint32_t name_at = (uint32_t)(sizeof(*s) + n * sizeof(struct shm_column));
	for (unsigned c = 0; c < n; c++) {
		size_t len = strlen(defs[c].name);
		s->col[c] = (struct shm_column){ .type = (uint8_t)defs[c].type,
						 .flags = (uint8_t)defs[c].flags,
						 .name_len = (uint8_t)len, .name_off = name_at };
		s->col[c].size = slot_size(defs[c].type, defs[c].size);
		memcpy((uint8_t *)s + name_at, defs[c].name, len);
		name_at += (uint32_t)len;
	}
	uint64_t fixed = place_slots(s->col, n, slot);
	if (!fixed)
		return -E2BIG;
	for (unsigned c = 0; c < n; c++)
		s->col[c].slot = slot[c];
	*s = (struct shm_schema){ .magic = SHM_SCHEMA_MAGIC, .version = SHM_SCHEMA_VERSION,
				  .ncols = (uint16_t)n, .fixed = (uint32_t)fixed,
				  .bytes = (uint32_t)total };
	return 0;
}

int shm_schema_check(const void *buf, size_t len)
{
	const struct shm_schema *s = buf;
	if (!buf || len < sizeof(*s) || ((uintptr_t)buf & 7) || s->magic != SHM_SCHEMA_MAGIC ||
	    s->version != SHM_SCHEMA_VERSION || s->bytes != len || s->ncols < 1 ||
	    s->ncols > SHM_MAX_COLUMNS)
		return -EINVAL;
	unsigned n = s->ncols;
	size_t names_at = sizeof(*s) + n * sizeof(struct shm_column), at = names_at;
	if (names_at > len)
		return -EINVAL;
	struct shm_column col[SHM_MAX_COLUMNS];
	uint32_t slot[SHM_MAX_COLUMNS];
	for (unsigned c = 0; c < n; c++) {
		col[c] = s->col[c];
		const struct shm_column *k = &col[c];
		uint32_t fixed_size = k->type == SHM_FIXED ? k->size : 0;
		if (!column_ok(c, k->type, fixed_size, k->flags) || k->reserved ||
		    k->size != slot_size(k->type, fixed_size) || k->name_off != at ||
		    k->name_len > len - at || !name_ok((const char *)s + at, k->name_len))
			return -EINVAL;
		for (unsigned j = 0; j < c; j++)
			if (col[j].name_len == k->name_len &&
			    !memcmp((const char *)s + col[j].name_off, (const char *)s + at, k->name_len))
				return -EINVAL;
		at += k->name_len;
	}
	if (((at + 7) & ~(size_t)7) != len)
		return -EINVAL;
	for (size_t i = at; i < len; i++)
		if (((const uint8_t *)s)[i])
			return -EINVAL;
	uint64_t fixed = place_slots(col, n, slot);
	if (!fixed || fixed != s->fixed)
		return -EINVAL;
	for (unsigned c = 0; c < n; c++)
		if (slot[c] != col[c].slot)
			return -EINVAL;
	return 0;
}

int shm_utf8_ok(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint8_t b = p[i];
		if (b < 0x80) {
			i++;
			continue;
		}
		unsigned need;
		uint32_t cp, min;
		if ((b & 0xe0) == 0xc0) {
			need = 1, cp = b & 0x1f, min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			need = 2, cp = b & 0x0f, min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			need = 3, cp = b & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (need > len - i - 1)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int is_var(unsigned type)
{
	return type == SHM_STR || type == SHM_BLOB;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

int shm_row_check(const struct shm_schema *s, const uint8_t *row, size_t len)
{
	if (len < s->fixed || len > SHMDB_MAX_VALUE)
		return -EINVAL;
	unsigned n = s->ncols;
	/* Bitmap bits past the last column are zero. */
	for (unsigned c = n; c < shm_row_nulls_bytes(n) * 8; c++)
		if (shm_row_is_null(row, c))
			return -EINVAL;
	uint64_t end = s->fixed; /* where the next variable column's bytes start */
	for (unsigned c = 0; c < n; c++) {
		const struct shm_column *k = &s->col[c];
		const uint8_t *slot = row + k->slot;
		if (shm_row_is_null(row, c)) {
			if (!(k->flags & SHM_NULLABLE) || !all_zero(slot, k->size))
				return -EINVAL;
			continue;
		}
		if (k->type == SHM_BOOL && *slot > 1)
			return -EINVAL;
		if (!is_var(k->type))
			continue;
		uint32_t off, vlen;
		memcpy(&off, slot, 4);
		memcpy(&vlen, slot + 4, 4);
		if (off != end || vlen > len - end)
			return -EINVAL;
		if (k->type == SHM_STR && !shm_utf8_ok(row + off, vlen))
			return -EINVAL;
		end += vlen;
	}
	/* The padding after the last slot is zero; the variable bytes end
	 * the row. */
	uint32_t slots_end = shm_row_nulls_bytes(n);
	for (unsigned c = 0; c < n; c++)
		if (s->col[c].slot + s->col[c].size > slots_end)
			slots_end = s->col[c].slot + s->col[c].size;
	if (!all_zero(row + slots_end, s->fixed - slots_end))
		return -EINVAL;
	return end == len ? 0 : -EINVAL;
}

int shm_row_encode(const struct shm_schema *s, const struct shm_value *v, uint8_t *out,
		   size_t cap, size_t *len)
{
	unsigned n = s->ncols;
	uint64_t total = s->fixed;
	for (unsigned c = 0; c < n; c++) {
		const struct shm_column *k = &s->col[c];
		if (v[c].null) {
			if (!(k->flags & SHM_NULLABLE))
				return -EINVAL;
			continue;
		}
		switch (k->type) {
		case SHM_I32:
			if (v[c].i < INT32_MIN || v[c].i > INT32_MAX)
				return -EINVAL;
			break;
		case SHM_BOOL:
			if (v[c].i != 0 && v[c].i != 1)
				return -EINVAL;
			break;
		case SHM_FIXED:
			if (v[c].len != k->size || (!v[c].data && v[c].len))
				return -EINVAL;
			break;
		case SHM_STR:
		case SHM_BLOB:
			if (!v[c].data && v[c].len)
				return -EINVAL;
			if (k->type == SHM_STR && !shm_utf8_ok(v[c].data, v[c].len))
				return -EINVAL;
			total += v[c].len;
			if (total > SHMDB_MAX_VALUE)
				return -E2BIG;
			break;
		}
	}
	*len = (size_t)total;
	if (!out || cap < total)
		return -ENOSPC;
	memset(out, 0, s->fixed);
	uint32_t end = s->fixed;
	for (unsigned c = 0; c < n; c++) {
		const struct shm_column *k = &s->col[c];
		uint8_t *slot = out + k->slot;
		if (v[c].null) {
			out[c / 8] |= (uint8_t)(1u << (c % 8));
			continue;
		}
		switch (k->type) {
		case SHM_I32: {
			int32_t x = (int32_t)v[c].i;
			memcpy(slot, &x, 4);
			break;
		}
		case SHM_I64:
			memcpy(slot, &v[c].i, 8);
			break;
		case SHM_U64:
			memcpy(slot, &v[c].u, 8);
			break;
		case SHM_F64:
			memcpy(slot, &v[c].f, 8);
			break;
		case SHM_BOOL:
			*slot = (uint8_t)v[c].i;
			break;
		case SHM_FIXED:
			if (k->size)
				memcpy(slot, v[c].data, k->size);
			break;
		default: /* STR, BLOB */
			memcpy(slot, &end, 4);
			memcpy(slot + 4, &v[c].len, 4);
			if (v[c].len)
				memcpy(out + end, v[c].data, v[c].len);
			end += v[c].len;
		}
	}
	return 0;
}

int shm_row_column_key(const struct shm_schema *s, const uint8_t *row, size_t len, unsigned c,
		       uint8_t *out, size_t *klen)
{
	const struct shm_column *k = &s->col[c];
	if (shm_row_is_null(row, c))
		return -ENODATA;
	const uint8_t *slot = row + k->slot;
	int32_t i32;
	int64_t i64;
	uint64_t u64;
	double f;
	uint32_t off, vlen;
	switch (k->type) {
	case SHM_I32:
		memcpy(&i32, slot, 4);
		*klen = shmdb_key_i32(i32, out);
		return 0;
	case SHM_I64:
		memcpy(&i64, slot, 8);
		*klen = shmdb_key_i64(i64, out);
		return 0;
	case SHM_U64:
		memcpy(&u64, slot, 8);
		*klen = shmdb_key_u64(u64, out);
		return 0;
	case SHM_F64:
		memcpy(&f, slot, 8);
		*klen = shmdb_key_f64(f, out);
		return *klen ? 0 : -EINVAL;
	case SHM_BOOL:
		out[0] = *slot;
		*klen = 1;
		return 0;
	case SHM_FIXED:
		memcpy(out, slot, k->size);
		*klen = k->size;
		return 0;
	default: /* STR, BLOB */
		memcpy(&off, slot, 4);
		memcpy(&vlen, slot + 4, 4);
		if (vlen < 1 || vlen > SHMDB_MAX_KEY || off > len || vlen > len - off)
			return -EINVAL;
		memcpy(out, row + off, vlen);
		*klen = vlen;
		return 0;
	}
}

int shm_row_key(const struct shm_schema *s, const uint8_t *row, size_t len, uint8_t *out,
		size_t *klen)
{
	return shm_row_column_key(s, row, len, 0, out, klen);
}

int shm_row_update(const struct shm_schema *s, const uint8_t *row, size_t len, const uint8_t *upd,
		   size_t ulen, uint8_t *out, size_t cap, size_t *out_len)
{
	struct shm_field_update u;
	if (ulen < sizeof(u))
		return -EINVAL;
	memcpy(&u, upd, sizeof(u));
	const uint8_t *arg = upd + sizeof(u);
	size_t alen = ulen - sizeof(u);
	if (!all_zero(u.reserved, sizeof(u.reserved)) || u.col >= s->ncols || u.col == 0)
		return -EINVAL;
	const struct shm_column *k = &s->col[u.col];
	unsigned want = u.how == SHM_SET_I64 || u.how == SHM_ADD_I64   ? SHM_I64
			: u.how == SHM_SET_F64 || u.how == SHM_ADD_F64 ? SHM_F64
			: u.how == SHM_SET_BYTES		       ? SHM_FIXED
			: u.how == SHM_SET_NULL			       ? k->type
								       : 0;
	size_t need = u.how == SHM_SET_BYTES ? k->size : u.how == SHM_SET_NULL ? 0 : 8;
	if (k->type != want || alen != need)
		return -EINVAL;
	if (u.how == SHM_SET_NULL && !(k->flags & SHM_NULLABLE))
		return -EINVAL;
	int null = shm_row_is_null(row, u.col);
	if ((u.how == SHM_ADD_I64 || u.how == SHM_ADD_F64) && null)
		return -ENODATA;
	/* A variable column set null loses its bytes: the ones after move
	 * down, and their offsets with them. */
	uint32_t gone_at = 0, gone = 0;
	if (u.how == SHM_SET_NULL && is_var(k->type) && !null) {
		memcpy(&gone_at, row + k->slot, 4);
		memcpy(&gone, row + k->slot + 4, 4);
	}
	*out_len = len - gone;
	if (!out || cap < len - gone)
		return -ENOSPC;
	uint8_t *slot = out + k->slot;
	memcpy(out, row, gone ? gone_at : len);
	if (gone)
		memcpy(out + gone_at, row + gone_at + gone, len - gone_at - gone);
	int64_t i, d;
	double f, df;
	switch (u.how) {
	case SHM_SET_I64:
	case SHM_SET_F64:
	case SHM_SET_BYTES:
		memcpy(slot, arg, need);
		break;
	case SHM_ADD_I64:
		memcpy(&i, slot, 8);
		memcpy(&d, arg, 8);
		if (__builtin_add_overflow(i, d, &i))
			return -ERANGE;
		memcpy(slot, &i, 8);
		break;
	case SHM_ADD_F64:
		memcpy(&f, slot, 8);
		memcpy(&df, arg, 8);
		f += df;
		memcpy(slot, &f, 8);
		break;
	default: /* SET_NULL */
		memset(slot, 0, k->size);
		out[u.col / 8] |= (uint8_t)(1u << (u.col % 8));
		for (unsigned c = 0; gone && c < s->ncols; c++) {
			uint32_t off;
			uint8_t *o = out + s->col[c].slot;
			if (!is_var(s->col[c].type) || shm_row_is_null(out, c))
				continue;
			memcpy(&off, o, 4);
			if (off > gone_at) {
				off -= gone;
				memcpy(o, &off, 4);
			}
		}
		return 0;
	}
	out[u.col / 8] &= (uint8_t)~(1u << (u.col % 8));
	return 0;
}
