/*
 * test_dumpfile.c - the dump file's reader (libshm/dumpfile.h) against
 * files written by its writer, then damaged as a hostile or broken file
 * may be, without a daemon. A file is what `shmdb load` reads from a user
 * and what shmdbd reads back as a checkpoint at start.
 *
 *   - a round trip: every table, record and index the writer wrote comes
 *     back, in order, and the END's counts match;
 *   - files changed at random and then given correct checks, so that the
 *     reader's parsing, not only its checks, meets them (bytes of a
 *     payload changed, a length or type set at random, a frame dropped or
 *     repeated, the file cut short or run on): each is read to an error or
 *     to its END, never past its bytes (ASan says), and what it hands out
 *     keeps the format's limits.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "dumpfile.h"
#include "harness.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	return test_xorshift(&rng);
}

/* ---- a file ------------------------------------------------------------------ */

enum { TABLES = 3, RECORDS_EACH = 400 };

static uint8_t *file;
static size_t file_len;

/* Write the file: a hash table, an ordered one, a table of rows (its
 * records need not be rows here: the reader does not decode them), their
 * records, an index; into `file`. */
static void write_file(void)
{
	int fd = memfd_create("dump", 0);
	ck_assert_int_ge(fd, 0);
	struct shm_dump_writer w;
	struct shm_dump_header h = { .version = SHM_DUMP_VERSION, .commit_ts = 42 };
	ck_assert_int_eq(shm_dump_write_begin(&w, fd, &h), 0);
	static const uint32_t flags[TABLES] = { 0, SHMDB_ORDERED, SHMDB_ROWS };
	for (uint32_t t = 0; t < TABLES; t++) {
		struct shm_dump_table d = { .id = 100 + t, .flags = flags[t], .records = RECORDS_EACH };
		snprintf(d.name, sizeof(d.name), "table%u", t);
		if (flags[t] & SHMDB_ROWS) {
			d.ncols = 2;
			d.cols[0] = (shmdb_column){ .name = "id", .type = SHMDB_I64 };
			d.cols[1] = (shmdb_column){ .name = "sym", .type = SHMDB_STR,
						    .flags = SHMDB_NULLABLE };
		}
		ck_assert_int_eq(shm_dump_write_table(&w, &d), 0);
	}
	for (uint32_t t = 0; t < TABLES; t++)
		for (uint32_t i = 0; i < RECORDS_EACH; i++) {
			char k[16], v[64];
			int kl = snprintf(k, sizeof(k), "k%05u", i);
			size_t vl = i % 50;
			memset(v, 'a' + (int)(i % 26), vl);
			ck_assert_int_eq(shm_dump_write_record(&w, 100 + t, k, (uint32_t)kl, v,
							       (uint32_t)vl),
					 0);
		}
	struct shm_dump_index ix = { .table = 102, .column = "sym" };
	ck_assert_int_eq(shm_dump_write_index(&w, &ix), 0);
	ck_assert_int_eq(shm_dump_write_end(&w), 0);
	off_t end = lseek(fd, 0, SEEK_END);
	ck_assert_int_gt(end, 0);
	file_len = (size_t)end;
	file = malloc(file_len);
	ck_assert_ptr_nonnull(file);
	ck_assert_int_eq(pread(fd, file, file_len, 0), (ssize_t)file_len);
	close(fd);
}

/* ---- reading ------------------------------------------------------------------ */

static volatile uint64_t sink; /* what reading a record's bytes gave */

struct read_result {
	int status;       /* 0: read to its END; else the error */
	unsigned tables, records, indexes;
};

/* Read buf[0..len) as a file, checking everything handed out against the
 * format's limits. */
static struct read_result read_all(const uint8_t *buf, size_t len)
{
	struct read_result res = { 0 };
	int fd = memfd_create("read", 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	struct shm_dump_reader r;
	int e = shm_dump_read_begin(&r, fd);
	for (unsigned n = 0; !e && n < 100000; n++) {
		struct shm_dump_item it;
		e = shm_dump_read_next(&r, &it);
		if (e != 1)
			break;
		e = 0;
		switch (it.kind) {
		case SHM_DUMP_ITEM_TABLE:
			if (strnlen(it.table->name, sizeof(it.table->name)) == sizeof(it.table->name) ||
			    it.table->ncols > SHMDB_MAX_COLUMNS)
				ck_abort_msg("a table past the format's limits");
			res.tables++;
			break;
		case SHM_DUMP_ITEM_RECORD:
			if (it.klen < 1 || it.klen > SHMDB_MAX_KEY || it.vlen > SHMDB_MAX_VALUE)
				ck_abort_msg("a record of %u and %u bytes", it.klen, it.vlen);
			/* every byte handed out is readable */
			sink ^= XXH3_64bits(it.key, it.klen) ^ XXH3_64bits(it.val, it.vlen);
			res.records++;
			break;
		case SHM_DUMP_ITEM_INDEX:
			res.indexes++;
			break;
		default:
			ck_abort_msg("an item of kind %d", it.kind);
		}
	}
	if (e < 0 && !r.err[0] && e != -ENOMEM)
		ck_abort_msg("error %d with no message", e);
	res.status = e;
	shm_dump_read_end(&r);
	close(fd);
	return res;
}

START_TEST(round_trip)
{
	write_file();
	struct read_result res = read_all(file, file_len);
	ck_assert_int_eq(res.status, 0);
	ck_assert_uint_eq(res.tables, TABLES);
	ck_assert_uint_eq(res.records, TABLES * RECORDS_EACH);
	ck_assert_uint_eq(res.indexes, 1);
	free(file);
}
END_TEST

/* ---- damage ------------------------------------------------------------------ */

struct frame {
	size_t at, size; /* offset in the file, bytes with its check */
};

static size_t frames_of(const uint8_t *buf, size_t len, struct frame *f, size_t cap)
{
	size_t n = 0;
	for (size_t at = 0; at + 8 <= len && n < cap;) {
		uint32_t plen;
		memcpy(&plen, buf + at + 4, 4);
		size_t size = 8 + ((plen + 7) & ~(size_t)7) + 8;
		if (at + size > len)
			break;
		f[n++] = (struct frame){ at, size };
		at += size;
	}
	return n;
}

/* Give the frame at `at` (of `size` bytes, check included) the check of
 * its bytes, as a forger would. */
static void recheck(uint8_t *buf, size_t at, size_t size)
{
	uint32_t plen;
	memcpy(&plen, buf + at + 4, 4);
	if (8 + ((plen + 7) & ~(size_t)7) + 8 != size)
		return; /* its length no longer fits its place: leave it */
	uint64_t c = XXH3_64bits(buf + at, 8 + plen);
	memcpy(buf + at + size - 8, &c, 8);
}

START_TEST(damaged_files_read_to_an_error_or_their_end)
{
	write_file();
	struct frame f[64];
	size_t nf = frames_of(file, file_len, f, 64);
	ck_assert_uint_gt(nf, TABLES + 3);
	uint8_t *buf = malloc(2 * file_len + 64);
	ck_assert_ptr_nonnull(buf);
	unsigned errors = 0, whole = 0;
	for (int round = 0; round < 3000; round++) {
		size_t len = file_len;
		memcpy(buf, file, len);
		size_t k = rnd() % nf;
		uint8_t *fp = buf + f[k].at;
		switch (rnd() % 6) {
		case 0: /* payload bytes */
			for (int i = 1 + (int)(rnd() % 4); i > 0 && f[k].size > 16; i--)
				fp[8 + rnd() % (f[k].size - 16)] ^= (uint8_t)(1 + rnd() % 255);
			recheck(buf, f[k].at, f[k].size);
			break;
		case 1: { /* a small field of the payload: a count, an id, a length */
			size_t at = 8 + 4 * (rnd() % 8);
			uint32_t v = (uint32_t)(rnd() >> (rnd() % 64));
			if (at + 4 <= f[k].size - 8)
				memcpy(fp + at, &v, 4);
			recheck(buf, f[k].at, f[k].size);
			break;
		}
		case 2: { /* the type */
			uint32_t type = (uint32_t)(rnd() % 8);
			memcpy(fp, &type, 4);
			recheck(buf, f[k].at, f[k].size);
			break;
		}
		case 3: /* a frame dropped */
			memmove(fp, fp + f[k].size, len - f[k].at - f[k].size);
			len -= f[k].size;
			break;
		case 4: /* a frame repeated */
			memmove(fp + f[k].size, fp, len - f[k].at);
			len += f[k].size;
			break;
		default: /* cut short, or run on */
			if (rnd() % 2)
				len = rnd() % len;
			else
				for (size_t i = 0; i < 8; i++)
					buf[len++] = (uint8_t)rnd();
		}
		struct read_result res = read_all(buf, len);
		if (res.status)
			errors++;
		else
			whole++;
	}
	/* Most damage is found; some leaves a file as good as any (a value's
	 * byte changed in a record). */
	ck_assert_uint_gt(errors, 1500);
	ck_assert_uint_gt(whole, 10);
	free(buf);
	free(file);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dumpfile");
	TCase *tc = tcase_create("dumpfile");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, damaged_files_read_to_an_error_or_their_end);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
