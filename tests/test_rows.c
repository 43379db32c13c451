/*
 * test_rows.c - the key encodings (shmdb_key_*) and the format of typed
 * rows (libshm/rows.h), without a daemon: keys sort exactly as their
 * values do and decode back; schemas and rows built from a model read back
 * as the model, column by column; what the checks refuse (schemas and rows
 * as a hostile client could send them).
 */
#include <check.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rows.h"

/* An assertion for the hot loops: Check's own report every passing check
 * to the runner (a write to a pipe each), which took most of this suite's
 * time; this says nothing unless it fails. */
#define must(cond, ...)                                  \
	do {                                             \
		if (!(cond))                             \
			ck_abort_msg(__VA_ARGS__);       \
	} while (0)
#define must_eq(a, b) must((a) == (b), "%s == %s failed", #a, #b)
#define must_true(c) must(c, "%s failed", #c)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* Values that test the edges of an order, then random ones: each pair
 * compares by key as by value. */
START_TEST(integer_keys_sort_as_values)
{
	static const int64_t edge64[] = { INT64_MIN, INT64_MIN + 1, -256, -1, 0, 1, 255, 256,
					  INT64_MAX - 1, INT64_MAX };
	int64_t v[2000];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(edge64) / sizeof(*edge64); i++)
		v[n++] = edge64[i];
	while (n < 2000)
		v[n++] = (int64_t)(rnd() >> (rnd() % 64)) * (rnd() & 1 ? -1 : 1);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j += 1 + (rnd() % 7)) {
			uint8_t a[8], b[8];
			must(shmdb_key_i64(v[i], a) == 8 && shmdb_key_i64(v[j], b) == 8, "i64 length");
			must(sign(memcmp(a, b, 8)) == (v[i] > v[j]) - (v[i] < v[j]),
			     "i64 %lld against %lld", (long long)v[i], (long long)v[j]);
			/* The same for their low 32 bits as an i32, and as a u64. */
			int32_t x = (int32_t)v[i], y = (int32_t)v[j];
			must(shmdb_key_i32(x, a) == 4 && shmdb_key_i32(y, b) == 4, "i32 length");
			must(sign(memcmp(a, b, 4)) == (x > y) - (x < y), "i32 %d against %d", x, y);
			uint64_t p = (uint64_t)v[i], q = (uint64_t)v[j];
			shmdb_key_u64(p, a);
			shmdb_key_u64(q, b);
			must(sign(memcmp(a, b, 8)) == (p > q) - (p < q), "u64 %llu against %llu",
			     (unsigned long long)p, (unsigned long long)q);
		}
		uint8_t k[8];
		int64_t back;
		int32_t back32;
		uint64_t backu;
		shmdb_key_i64(v[i], k);
		ck_assert_int_eq(shmdb_key_to_i64(k, 8, &back), 0);
		ck_assert(back == v[i]);
		shmdb_key_i32((int32_t)v[i], k);
		ck_assert_int_eq(shmdb_key_to_i32(k, 4, &back32), 0);
		ck_assert_int_eq(back32, (int32_t)v[i]);
		shmdb_key_u64((uint64_t)v[i], k);
		ck_assert_int_eq(shmdb_key_to_u64(k, 8, &backu), 0);
		ck_assert(backu == (uint64_t)v[i]);
	}
	uint8_t k[8] = { 0 };
	int64_t i64;
	int32_t i32;
	uint64_t u64;
	ck_assert_int_eq(shmdb_key_to_i64(k, 7, &i64), -EINVAL);
	ck_assert_int_eq(shmdb_key_to_i32(k, 8, &i32), -EINVAL);
	ck_assert_int_eq(shmdb_key_to_u64(k, 9, &u64), -EINVAL);
	ck_assert_int_eq(shmdb_key_to_u64(NULL, 8, &u64), -EINVAL);
	ck_assert_int_eq(shmdb_key_to_u64(k, 8, NULL), -EINVAL);
}
END_TEST

static double random_double(void)
{
	uint64_t bits = rnd();
	double d;
	switch (rnd() % 4) {
	case 0: /* any bits: every exponent, subnormals, infinities, NaNs */
		memcpy(&d, &bits, 8);
		return d;
	case 1:
		return (double)(int64_t)(rnd() % 2001) - 1000.0;
	case 2:
		return ldexp((double)(rnd() % 1000), -(int)(rnd() % 1100));
	default:
		return -ldexp((double)(rnd() % 1000), (int)(rnd() % 1000));
	}
}

START_TEST(double_keys_sort_as_values)
{
	double v[3000];
	size_t n = 0;
	static const double edge[] = { -INFINITY, -DBL_MAX, -1.0, -DBL_MIN, -4.9e-324, -0.0, 0.0,
				       4.9e-324, DBL_MIN, 1.0, DBL_MAX, INFINITY };
	for (size_t i = 0; i < sizeof(edge) / sizeof(*edge); i++)
		v[n++] = edge[i];
	while (n < 3000) {
		double d = random_double();
		if (!isnan(d))
			v[n++] = d;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j += 1 + (rnd() % 5)) {
			uint8_t a[8], b[8];
			must(shmdb_key_f64(v[i], a) == 8 && shmdb_key_f64(v[j], b) == 8, "f64 length");
			must(sign(memcmp(a, b, 8)) == (v[i] > v[j]) - (v[i] < v[j]), "%a against %a",
			     v[i], v[j]);
		}
		uint8_t k[8];
		double back;
		shmdb_key_f64(v[i], k);
		ck_assert_int_eq(shmdb_key_to_f64(k, 8, &back), 0);
		ck_assert(back == v[i]);
		ck_assert(!signbit(back) || back != 0); /* -0.0 comes back as +0.0 */
	}
	/* NaN has no key; the bytes of a NaN or of -0.0 decode to nothing. */
	uint8_t k[8], z[8];
	ck_assert_uint_eq(shmdb_key_f64(NAN, k), 0);
	ck_assert_uint_eq(shmdb_key_f64(-NAN, k), 0);
	shmdb_key_f64(-0.0, k);
	shmdb_key_f64(0.0, z);
	ck_assert_int_eq(memcmp(k, z, 8), 0);
	double d;
	memset(k, 0xff, 8); /* +NaN's bits | sign, as the encoding would make them */
	ck_assert_int_eq(shmdb_key_to_f64(k, 8, &d), -EINVAL);
	memset(k, 0, 8); /* ~(all ones): a negative NaN */
	ck_assert_int_eq(shmdb_key_to_f64(k, 8, &d), -EINVAL);
	uint64_t neg_zero = ~(1ull << 63); /* what -0.0's bits would encode to */
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(neg_zero >> (56 - 8 * i));
	ck_assert_int_eq(shmdb_key_to_f64(k, 8, &d), -EINVAL);
	ck_assert_int_eq(shmdb_key_to_f64(k, 4, &d), -EINVAL);
}
END_TEST

/* A random schema of n columns (column 0 never nullable), its names
 * c0, c1, ... */
static char names[SHM_MAX_COLUMNS][12];

static void random_defs(struct shm_column_def *d, unsigned n)
{
	for (unsigned c = 0; c < n; c++) {
		snprintf(names[c], sizeof(names[c]), "c%u", c);
		d[c] = (struct shm_column_def){ .name = names[c], .type = SHM_I32 + (unsigned)(rnd() % 8) };
		if (d[c].type == SHM_FIXED)
			d[c].size = 1 + (uint32_t)(rnd() % 24);
		if (c > 0 && rnd() % 2)
			d[c].flags = SHM_NULLABLE;
	}
}

static struct shm_schema *build(const struct shm_column_def *d, unsigned n)
{
	size_t bytes;
	ck_assert_int_eq(shm_schema_build(d, n, NULL, 0, &bytes), -ENOSPC);
	struct shm_schema *s = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(shm_schema_build(d, n, s, bytes, &bytes), 0);
	ck_assert_int_eq(shm_schema_check(s, bytes), 0);
	return s;
}

/* Random values for schema s: nulls, empty and long strings, non-ASCII
 * UTF-8, every byte value in blobs; string bytes into store. */
static void random_values(const struct shm_schema *s, struct shm_value *v, uint8_t *store,
			  size_t per)
{
	static const char *utf8[] = { "", "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
				      "EUR/USD" };
	for (unsigned c = 0; c < s->ncols; c++) {
		const struct shm_column *k = &s->col[c];
		uint8_t *buf = store + c * per;
		v[c] = (struct shm_value){ 0 };
		if ((k->flags & SHM_NULLABLE) && rnd() % 4 == 0) {
			v[c].null = 1;
			continue;
		}
		switch (k->type) {
		case SHM_I32:
			v[c].i = (int32_t)rnd();
			break;
		case SHM_I64:
		case SHM_U64:
			v[c].u = rnd();
			break;
		case SHM_F64:
			v[c].f = random_double();
			break;
		case SHM_BOOL:
			v[c].i = (int64_t)(rnd() & 1);
			break;
		case SHM_FIXED:
			for (uint32_t i = 0; i < k->size; i++)
				buf[i] = (uint8_t)rnd();
			v[c].data = buf;
			v[c].len = k->size;
			break;
		case SHM_STR: {
			size_t len = 0, want = rnd() % 3 == 0 ? per - 4 : rnd() % 40;
			while (len < want) {
				const char *p = utf8[rnd() % 6];
				size_t l = strlen(p);
				if (len + l > want)
					break;
				memcpy(buf + len, p, l);
				len += l;
			}
			v[c].data = buf;
			v[c].len = (uint32_t)len;
			break;
		}
		default: /* BLOB */
			v[c].len = (uint32_t)(rnd() % 3 == 0 ? 0 : rnd() % per);
			for (uint32_t i = 0; i < v[c].len; i++)
				buf[i] = (uint8_t)rnd();
			v[c].data = buf;
		}
	}
}

/* Row[0..len) holds exactly the values v, read column by column in place. */
static void check_reads(const struct shm_schema *s, const uint8_t *row, size_t len,
			const struct shm_value *v)
{
	for (unsigned c = 0; c < s->ncols; c++) {
		const struct shm_column *k = &s->col[c];
		int err = 0;
		/* Asked as another type: refused. */
		unsigned other = k->type == SHM_I64 ? SHM_U64 : SHM_I64;
		must_true((shm_row_slot(s, row, len, c, other, &err)) == NULL);
		must_eq(err, -EINVAL);
		const uint8_t *slot = shm_row_slot(s, row, len, c, k->type, &err);
		if (v[c].null) {
			must_true((slot) == NULL);
			must_eq(err, -ENODATA);
			continue;
		}
		must_true((slot) != NULL);
		switch (k->type) {
		case SHM_I32: {
			int32_t x;
			memcpy(&x, slot, 4);
			must_eq(x, v[c].i);
			break;
		}
		case SHM_I64:
		case SHM_U64:
		case SHM_F64:
			must_eq(memcmp(slot, &v[c].u, 8), 0);
			break;
		case SHM_BOOL:
			must_eq(*slot, v[c].i);
			break;
		case SHM_FIXED:
			must_eq(memcmp(slot, v[c].data, k->size), 0);
			break;
		default: {
			uint32_t off, l;
			memcpy(&off, slot, 4);
			memcpy(&l, slot + 4, 4);
			must_eq(l, v[c].len);
			must_true(((uint64_t)off + l) <= (len));
			must_true(l == 0 || !memcmp(row + off, v[c].data, l));
		}
		}
	}
	int err = 0;
	must_true((shm_row_slot(s, row, len, s->ncols, SHM_I64, &err)) == NULL);
	must_eq(err, -EINVAL);
	must_true((shm_row_slot(s, row, s->fixed - 1, 0, s->col[0].type, &err)) == NULL);
	must_eq(err, -EINVAL);
}

/* Schemas of 1 to 256 columns of random types, 64 among them; rows of
 * random values encoded, checked and read back against the model; every
 * byte of each row changed at random either is refused by the check or
 * still reads as a row of that schema. */
START_TEST(rows_read_back_as_built)
{
	enum { PER = 300 };
	static const unsigned widths[] = { 1, 2, 7, 8, 9, 63, 64, 65, 200, 256 };
	for (size_t w = 0; w < sizeof(widths) / sizeof(*widths); w++) {
		unsigned n = widths[w];
		struct shm_column_def d[SHM_MAX_COLUMNS];
		random_defs(d, n);
		struct shm_schema *s = build(d, n);
		ck_assert_uint_eq(s->ncols, n);
		for (unsigned c = 0; c < n; c++) {
			ck_assert_uint_eq(s->col[c].name_len, strlen(names[c]));
			ck_assert(!memcmp(shm_column_name(s, c), names[c], s->col[c].name_len));
		}
		struct shm_value *v = calloc(n, sizeof(*v));
		uint8_t *store = malloc((size_t)n * PER);
		uint8_t *row = malloc(s->fixed + (size_t)n * PER), *bad = malloc(s->fixed + (size_t)n * PER);
		for (int r = 0; r < 60; r++) {
			random_values(s, v, store, PER);
			size_t len;
			must_eq(shm_row_encode(s, v, NULL, 0, &len), -ENOSPC);
			must_eq(shm_row_encode(s, v, row, len, &len), 0);
			must_eq(shm_row_check(s, row, len), 0);
			check_reads(s, row, len, v);
			/* Short or long by a byte: refused. */
			must_eq(shm_row_check(s, row, len - 1), -EINVAL);
			memcpy(bad, row, len);
			bad[len] = 0;
			must_eq(shm_row_check(s, bad, len + 1), -EINVAL);
			for (int m = 0; m < 20; m++) {
				memcpy(bad, row, len);
				size_t at = rnd() % len;
				bad[at] ^= (uint8_t)(1 + rnd() % 255);
				if (shm_row_check(s, bad, len) == 0) {
					/* Still a row: every column reads within it. */
					for (unsigned c = 0; c < n; c++) {
						int err;
						const uint8_t *slot =
							shm_row_slot(s, bad, len, c, s->col[c].type, &err);
						must(slot || err == -ENODATA, "column %u of a row", c);
					}
				}
			}
		}
		free(v);
		free(store);
		free(row);
		free(bad);
		free(s);
	}
}
END_TEST

/* Schemas changed at random (a byte, or cut short), as a hostile client
 * may send one with a create: refused by the check, or a schema every row
 * call reads within; a row of the original passes or fails its check
 * against it, never read past its bytes (ASan says). */
START_TEST(mutated_schemas_refused_or_whole)
{
	enum { PER = 40 };
	unsigned accepted = 0;
	for (int round = 0; round < 300; round++) {
		unsigned n = 1 + (unsigned)(rnd() % 12);
		struct shm_column_def d[SHM_MAX_COLUMNS];
		random_defs(d, n);
		struct shm_schema *s = build(d, n);
		size_t bytes = s->bytes;
		struct shm_value v[SHM_MAX_COLUMNS];
		uint8_t store[SHM_MAX_COLUMNS * PER], key[SHMDB_MAX_KEY];
		static uint8_t row[1 << 14];
		size_t len, klen;
		random_values(s, v, store, PER);
		ck_assert_int_eq(shm_row_encode(s, v, row, sizeof(row), &len), 0);
		struct shm_schema *bad = aligned_alloc(8, (bytes + 7) & ~(size_t)7);
		ck_assert_ptr_nonnull(bad);
		for (int m = 0; m < 40; m++) {
			memcpy(bad, s, bytes);
			size_t blen = bytes;
			if (rnd() % 4 == 0)
				blen = rnd() % bytes;
			else
				((uint8_t *)bad)[rnd() % bytes] ^= (uint8_t)(1 + rnd() % 255);
			if (shm_schema_check(bad, blen))
				continue;
			accepted++;
			if (shm_row_check(bad, row, len))
				continue;
			for (unsigned c = 0; c < bad->ncols; c++) {
				int err;
				const uint8_t *slot = shm_row_slot(bad, row, len, c, bad->col[c].type, &err);
				must(slot || err == -ENODATA, "column %u of a row", c);
				(void)shm_row_column_key(bad, row, len, c, key, &klen);
			}
			(void)shm_row_key(bad, row, len, key, &klen);
		}
		free(bad);
		free(s);
	}
	/* Some changes leave a schema (a flag, a name's letter): those ran. */
	ck_assert_uint_gt(accepted, 100);
}
END_TEST

START_TEST(values_a_column_cannot_hold)
{
	struct shm_column_def d[] = {
		{ .name = "id", .type = SHM_I64 },
		{ .name = "sym", .type = SHM_STR },
		{ .name = "flag", .type = SHM_BOOL, .flags = SHM_NULLABLE },
		{ .name = "code", .type = SHM_FIXED, .size = 4 },
		{ .name = "n", .type = SHM_I32, .flags = SHM_NULLABLE },
	};
	struct shm_schema *s = build(d, 5);
	struct shm_value v[5] = { { .i = 7 }, { .data = "EUR", .len = 3 }, { .i = 1 },
				  { .data = "ABCD", .len = 4 }, { .i = -5 } };
	uint8_t row[256];
	size_t len;
	ck_assert_int_eq(shm_row_encode(s, v, row, sizeof(row), &len), 0);
	struct shm_value b[5];
	static const char *not_utf8[] = { "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
					  "\xc3", "\x80", "\xff" };
	for (size_t i = 0; i < sizeof(not_utf8) / sizeof(*not_utf8); i++) {
		memcpy(b, v, sizeof(b));
		b[1].data = not_utf8[i];
		b[1].len = (uint32_t)strlen(not_utf8[i]);
		ck_assert_int_eq(shm_row_encode(s, b, row, sizeof(row), &len), -EINVAL);
	}
	memcpy(b, v, sizeof(b));
	b[0].null = 1; /* not nullable */
	ck_assert_int_eq(shm_row_encode(s, b, row, sizeof(row), &len), -EINVAL);
	memcpy(b, v, sizeof(b));
	b[2].i = 2;
	ck_assert_int_eq(shm_row_encode(s, b, row, sizeof(row), &len), -EINVAL);
	memcpy(b, v, sizeof(b));
	b[3].len = 3;
	ck_assert_int_eq(shm_row_encode(s, b, row, sizeof(row), &len), -EINVAL);
	memcpy(b, v, sizeof(b));
	b[4].i = (int64_t)INT32_MAX + 1;
	ck_assert_int_eq(shm_row_encode(s, b, row, sizeof(row), &len), -EINVAL);

	/* Rows as a client could forge them: each refused. */
	ck_assert_int_eq(shm_row_encode(s, v, row, sizeof(row), &len), 0);
	uint8_t f[256];
	const struct shm_column *sym = &s->col[1], *flag = &s->col[2], *n = &s->col[4];
	memcpy(f, row, len);
	f[0] |= 1; /* column 0 null */
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	memcpy(f, row, len);
	f[0] |= 1u << 5; /* a bit past the last column */
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	memcpy(f, row, len);
	f[flag->slot] = 2;
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	memcpy(f, row, len);
	f[0] |= 1u << 4; /* n null, its slot not zero */
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	memset(f + n->slot, 0, 4);
	ck_assert_int_eq(shm_row_check(s, f, len), 0);
	uint32_t off, l;
	memcpy(f, row, len);
	memcpy(&off, f + sym->slot, 4);
	memcpy(&l, f + sym->slot + 4, 4);
	ck_assert_uint_eq(off, s->fixed);
	ck_assert_uint_eq(l, 3);
	uint32_t forged = off + 1; /* a gap before the bytes */
	memcpy(f + sym->slot, &forged, 4);
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	forged = 0xfffffff0u; /* far outside */
	memcpy(f + sym->slot, &forged, 4);
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	memcpy(f, row, len);
	forged = 0xffffffffu; /* a length past the row */
	memcpy(f + sym->slot + 4, &forged, 4);
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	memcpy(f, row, len);
	f[off + 1] = 0xff; /* the string's bytes not UTF-8 */
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	memcpy(f, row, len);
	f[s->fixed - 1] = 1; /* the padding after the slots */
	ck_assert_int_eq(shm_row_check(s, f, len), -EINVAL);
	free(s);
}
END_TEST

START_TEST(schemas_refused)
{
	struct shm_column_def ok[] = { { .name = "id", .type = SHM_STR },
				       { .name = "px", .type = SHM_F64, .flags = SHM_NULLABLE } };
	size_t bytes;
	char buf[4096] __attribute__((aligned(8)));
	struct shm_column_def d[2];
	memcpy(d, ok, sizeof(d));
	d[0].flags = SHM_NULLABLE; /* a nullable key */
	ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), -EINVAL);
	memcpy(d, ok, sizeof(d));
	d[1].name = "id"; /* twice */
	ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), -EINVAL);
	static const char *bad_names[] = { "", "a b", "a=b", "a:b", "\x7f",
		"a123456789012345678901234567890123456789012345678901234567890123" };
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(*bad_names); i++) {
		memcpy(d, ok, sizeof(d));
		d[1].name = bad_names[i];
		ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), -EINVAL);
	}
	memcpy(d, ok, sizeof(d));
	d[1].name = NULL;
	ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), -EINVAL);
	unsigned bad_types[] = { 0, SHM_BLOB + 1, 100 };
	for (size_t i = 0; i < 3; i++) {
		memcpy(d, ok, sizeof(d));
		d[1].type = bad_types[i];
		ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), -EINVAL);
	}
	memcpy(d, ok, sizeof(d));
	d[1].type = SHM_FIXED;
	d[1].size = 0;
	ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), -EINVAL);
	d[1].size = SHMDB_MAX_KEY + 1;
	ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), -EINVAL);
	d[1].size = SHMDB_MAX_KEY;
	ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), 0);
	memcpy(d, ok, sizeof(d));
	d[1].flags = 2;
	ck_assert_int_eq(shm_schema_build(d, 2, buf, sizeof(buf), &bytes), -EINVAL);
	ck_assert_int_eq(shm_schema_build(ok, 0, buf, sizeof(buf), &bytes), -EINVAL);
	struct shm_column_def many[SHM_MAX_COLUMNS + 1];
	random_defs(many, SHM_MAX_COLUMNS);
	many[SHM_MAX_COLUMNS] = (struct shm_column_def){ .name = "extra", .type = SHM_I64 };
	ck_assert_int_eq(shm_schema_build(many, SHM_MAX_COLUMNS + 1, buf, sizeof(buf), &bytes), -EINVAL);

	/* Every byte of a good schema changed every way: refused, unless it
	 * made another schema the builder makes just so from its columns (a
	 * type with a slot of the same size, a column no longer nullable, a
	 * name's byte another name's byte). */
	ck_assert_int_eq(shm_schema_build(ok, 2, buf, sizeof(buf), &bytes), 0);
	char copy[4096] __attribute__((aligned(8))), again[4096] __attribute__((aligned(8)));
	int passed = 0;
	for (size_t at = 0; at < bytes; at++) {
		for (unsigned x = 1; x < 256; x++) {
			memcpy(copy, buf, bytes);
			copy[at] ^= (char)x;
			if (shm_schema_check(copy, bytes))
				continue;
			passed++;
			const struct shm_schema *m = (const struct shm_schema *)copy;
			char nm[2][SHM_MAX_COLUMN_NAME + 1];
			struct shm_column_def md[2];
			for (unsigned c = 0; c < m->ncols; c++) {
				memcpy(nm[c], shm_column_name(m, c), m->col[c].name_len);
				nm[c][m->col[c].name_len] = 0;
				md[c] = (struct shm_column_def){ .name = nm[c], .type = m->col[c].type,
								 .size = m->col[c].size,
								 .flags = m->col[c].flags };
			}
			size_t b2;
			must(shm_schema_build(md, m->ncols, again, sizeof(again), &b2) == 0 &&
				     b2 == bytes && !memcmp(again, copy, bytes),
			     "byte %zu ^ %u passes the check, unlike the builder's", at, x);
		}
	}
	ck_assert_int_gt(passed, 0);
	ck_assert_int_eq(shm_schema_check(buf, bytes - 8), -EINVAL);
	ck_assert_int_eq(shm_schema_check(buf, bytes + 8), -EINVAL);
	ck_assert_int_eq(shm_schema_check(buf, 4), -EINVAL);
}
END_TEST

/* A field update of a row is the row its values make with that field
 * changed, byte for byte (rows are canonical): random updates of every
 * kind against the model, and the refusals. */
START_TEST(field_updates_match_the_model)
{
	enum { PER = 64 };
	for (int round = 0; round < 40; round++) {
		unsigned n = 2 + (unsigned)(rnd() % 20);
		struct shm_column_def d[SHM_MAX_COLUMNS];
		random_defs(d, n);
		struct shm_schema *s = build(d, n);
		struct shm_value v[SHM_MAX_COLUMNS];
		uint8_t store[SHM_MAX_COLUMNS * PER], fixed[SHMDB_MAX_KEY];
		random_values(s, v, store, PER);
		size_t len;
		static uint8_t row[1 << 16], out[1 << 16], want[1 << 16];
		ck_assert_int_eq(shm_row_encode(s, v, row, sizeof(row), &len), 0);
		for (int step = 0; step < 200; step++) {
			unsigned col = 1 + (unsigned)(rnd() % (n - 1));
			const struct shm_column *k = &s->col[col];
			uint8_t upd[sizeof(struct shm_field_update) + SHMDB_MAX_KEY] = { 0 };
			struct shm_field_update u = { .col = (uint16_t)col };
			size_t ulen = sizeof(u);
			int expect = 0;
			struct shm_value nv = v[col];
			int64_t x = (int64_t)rnd() >> (rnd() % 64);
			double f = (double)(int64_t)(rnd() % 2001) / 4 - 250;
			switch (rnd() % 6) {
			case 0:
				u.how = SHM_SET_I64;
				memcpy(upd + ulen, &x, 8);
				ulen += 8;
				expect = k->type == SHM_I64 ? 0 : -EINVAL;
				nv = (struct shm_value){ .i = x };
				break;
			case 1:
				u.how = SHM_ADD_I64;
				memcpy(upd + ulen, &x, 8);
				ulen += 8;
				expect = k->type != SHM_I64 ? -EINVAL : v[col].null ? -ENODATA : 0;
				if (!expect && __builtin_add_overflow(v[col].i, x, &nv.i))
					expect = -ERANGE;
				break;
			case 2:
				u.how = SHM_SET_F64;
				memcpy(upd + ulen, &f, 8);
				ulen += 8;
				expect = k->type == SHM_F64 ? 0 : -EINVAL;
				nv = (struct shm_value){ .f = f };
				break;
			case 3:
				u.how = SHM_ADD_F64;
				memcpy(upd + ulen, &f, 8);
				ulen += 8;
				expect = k->type != SHM_F64 ? -EINVAL : v[col].null ? -ENODATA : 0;
				nv.f = v[col].f + f;
				break;
			case 4:
				u.how = SHM_SET_BYTES;
				for (uint32_t b = 0; b < k->size; b++)
					fixed[b] = (uint8_t)rnd();
				memcpy(upd + ulen, fixed, k->size);
				ulen += k->type == SHM_FIXED ? k->size : 8;
				expect = k->type == SHM_FIXED ? 0 : -EINVAL;
				nv = (struct shm_value){ .data = fixed, .len = k->size };
				break;
			default:
				u.how = SHM_SET_NULL;
				expect = k->flags & SHM_NULLABLE ? 0 : -EINVAL;
				nv = (struct shm_value){ .null = 1 };
			}
			memcpy(upd, &u, sizeof(u));
			size_t olen;
			int r = shm_row_update(s, row, len, upd, ulen, out, sizeof(out), &olen);
			must_eq(r, expect);
			if (r)
				continue;
			must_eq(shm_row_check(s, out, olen), 0);
			/* The model: FIXED bytes kept in the row's own store. */
			if (u.how == SHM_SET_BYTES) {
				memcpy(store + col * PER, fixed, k->size);
				nv.data = store + col * PER;
			}
			v[col] = nv;
			size_t wlen;
			must_eq(shm_row_encode(s, v, want, sizeof(want), &wlen), 0);
			must_eq(olen, wlen);
			must_eq(memcmp(out, want, wlen), 0);
			memcpy(row, out, olen);
			len = olen;
		}
		/* Column 0, the key, takes no update; nor does a column past the
		 * last, nor a reserved byte set. */
		uint8_t upd[16] = { 0 };
		struct shm_field_update u = { .col = 0, .how = SHM_SET_NULL };
		memcpy(upd, &u, sizeof(u));
		size_t olen;
		ck_assert_int_eq(shm_row_update(s, row, len, upd, 8, out, sizeof(out), &olen), -EINVAL);
		u.col = (uint16_t)n;
		memcpy(upd, &u, sizeof(u));
		ck_assert_int_eq(shm_row_update(s, row, len, upd, 8, out, sizeof(out), &olen), -EINVAL);
		u.col = 1;
		u.reserved[2] = 1;
		memcpy(upd, &u, sizeof(u));
		ck_assert_int_eq(shm_row_update(s, row, len, upd, 8, out, sizeof(out), &olen), -EINVAL);
		ck_assert_int_eq(shm_row_update(s, row, len, upd, 7, out, sizeof(out), &olen), -EINVAL);
		free(s);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rows");
	TCase *tc = tcase_create("rows");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, integer_keys_sort_as_values);
	tcase_add_test(tc, double_keys_sort_as_values);
	tcase_add_test(tc, rows_read_back_as_built);
	tcase_add_test(tc, values_a_column_cannot_hold);
	tcase_add_test(tc, schemas_refused);
	tcase_add_test(tc, mutated_schemas_refused_or_whole);
	tcase_add_test(tc, field_updates_match_the_model);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
