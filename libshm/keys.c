/*
 * keys.c - numbers as keys that sort bytewise as the numbers do
 * (shmdb_key_*, shmdb.h).
 *
 * Every encoding is big-endian, so memcmp compares the most significant
 * byte first. A signed integer has its sign bit flipped: negatives (sign
 * bit 1) become the smaller half, and within each half two's complement
 * already orders by value. A double's bits order its positive values as
 * unsigned integers; a positive one gets its sign bit set (it goes above
 * every negative), a negative one has every bit flipped (the larger its
 * magnitude, the smaller it comes out). -0.0 is encoded as +0.0, so that
 * values that compare equal have one key, and a NaN has none.
 *
 * Invariant: for every pair of values a, b of one type (NaN aside),
 * a < b exactly when memcmp(key(a), key(b)) < 0, and decoding a key gives
 * back its value.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "shmdb.h"

#define SIGN64 (1ull << 63)

static void put_be(uint64_t v, uint8_t *out, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		out[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const uint8_t *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | in[i];
	return v;
}

SHMDB_API size_t shmdb_key_i32(int32_t v, uint8_t out[4])
{
	put_be((uint32_t)v ^ (1u << 31), out, 4);
	return 4;
}

SHMDB_API size_t shmdb_key_i64(int64_t v, uint8_t out[8])
{
	put_be((uint64_t)v ^ SIGN64, out, 8);
	return 8;
}

SHMDB_API size_t shmdb_key_u64(uint64_t v, uint8_t out[8])
{
	put_be(v, out, 8);
	return 8;
}

SHMDB_API size_t shmdb_key_f64(double v, uint8_t out[8])
{
	if (isnan(v))
		return 0;
	if (v == 0)
		v = 0.0; /* -0.0 too */
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	put_be(u & SIGN64 ? ~u : u | SIGN64, out, 8);
	return 8;
}

SHMDB_API int shmdb_key_to_i32(const void *key, size_t klen, int32_t *v)
{
	if (!key || !v || klen != 4)
		return -EINVAL;
	*v = (int32_t)(uint32_t)(get_be(key, 4) ^ (1u << 31));
	return 0;
}

SHMDB_API int shmdb_key_to_i64(const void *key, size_t klen, int64_t *v)
{
	if (!key || !v || klen != 8)
		return -EINVAL;
	*v = (int64_t)(get_be(key, 8) ^ SIGN64);
	return 0;
}

SHMDB_API int shmdb_key_to_u64(const void *key, size_t klen, uint64_t *v)
{
	if (!key || !v || klen != 8)
		return -EINVAL;
	*v = get_be(key, 8);
	return 0;
}

SHMDB_API int shmdb_key_to_f64(const void *key, size_t klen, double *v)
{
	if (!key || !v || klen != 8)
		return -EINVAL;
	uint64_t k = get_be(key, 8), u = k & SIGN64 ? k ^ SIGN64 : ~k;
	double d;
	memcpy(&d, &u, sizeof(d));
	if (isnan(d) || u == SIGN64) /* a NaN's bits, or -0.0's: no key is either */
		return -EINVAL;
	*v = d;
	return 0;
}
