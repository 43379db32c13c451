/*
 * sys_lmdb.c - LMDB under shmdb-bench, as the issue asks: its environment in
 * /dev/shm, MDB_NOSYNC | MDB_WRITEMAP, readers in separate processes (each
 * opens the environment itself: an LMDB environment must not cross fork).
 * The pinned-overwrite workload runs in the parent's environment, its held
 * read transaction in a thread of the parent (MDB_NOTLS: a reader slot per
 * transaction, not per thread). The rows workload is in rows_lmdb.c, in
 * an environment of its own.
 */
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "rows_lmdb.h"

static char path[128], lock_path[160];
static MDB_env *env;
static MDB_dbi dbi;
/* The ordered workloads' multimap: an environment of its own, whose main
 * database is MDB_DUPSORT. */
static char mpath[128], mlock_path[160];
static MDB_env *menv;

static int fail(const char *what, int rc)
{
	fprintf(stderr, "shmdb-bench: lmdb: %s: %s\n", what, mdb_strerror(rc));
	return -1;
}

/* The environment at `at`, its map `size` bytes. */
static int open_env_at(const char *at, uint64_t size, MDB_env **e)
{
	int rc = mdb_env_create(e);
	if (!rc)
		rc = mdb_env_set_mapsize(*e, size);
	if (!rc)
		rc = mdb_env_set_maxreaders(*e, 64);
	if (!rc)
		rc = mdb_env_open(*e, at, MDB_NOSYNC | MDB_WRITEMAP | MDB_NOSUBDIR | MDB_NOTLS, 0600);
	return rc;
}

/* The records' environment, with room for the loaded records and for the
 * commits. */
static int open_env(const struct bench_params *p, MDB_env **e)
{
	uint64_t size = (p->records + p->commits) * (p->val_len + 64) * 3 + (64u << 20);
	return open_env_at(path, size, e);
}

/* The same for the ordered workloads, which insert as many records again
 * as they overwrite. The maps are generous: the files are sparse in
 * /dev/shm, and a random-order load leaves many free pages behind its
 * last one (a multimap's, loaded a pair per key in turn, about 700 bytes
 * a pair in all). */
static int open_oenv(const struct bench_params *p, MDB_env **e)
{
	uint64_t size = (p->records + 2 * p->commits) * (p->val_len + 64) * 6 + (256u << 20);
	return open_env_at(path, size, e);
}

static int open_menv(const struct bench_params *p, MDB_env **e)
{
	uint64_t size = p->records * (bench_multi_val_len(p) + 64) * 12 + (256u << 20);
	return open_env_at(mpath, size, e);
}

/* Create the environment at `at` (opened by `open`) with an empty main
 * database of `flags`, and load n records into it in 1,000-put
 * transactions, record j under the key of record j % keys with a value of
 * vlen bytes starting with j: 0 and the records per second in *rps, or -1. */
static int load_env(const struct bench_params *p, char *at, char *lock,
		    int (*open)(const struct bench_params *, MDB_env **), unsigned flags, MDB_env **e,
		    MDB_dbi *d, uint64_t n, uint64_t keys, uint32_t vlen, double *rps)
{
	snprintf(lock, 160, "%s-lock", at);
	unlink(at);
	int rc = open(p, e);
	MDB_txn *txn;
	if (rc)
		return fail("open", rc);
	if ((rc = mdb_txn_begin(*e, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, NULL, flags, d)) ||
	    (rc = mdb_txn_commit(txn)))
		return fail("dbi", rc);
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < n; i += 1000) {
		if ((rc = mdb_txn_begin(*e, NULL, 0, &txn)))
			return fail("txn", rc);
		for (uint64_t j = i; j < i + 1000 && j < n; j++) {
			bench_key(key, j % keys);
			bench_value(val, j, vlen);
			MDB_val k = { BENCH_KEY_LEN, key }, v = { vlen, val };
			if ((rc = mdb_put(txn, *d, &k, &v, 0))) {
				mdb_txn_abort(txn);
				return fail("put", rc);
			}
		}
		if ((rc = mdb_txn_commit(txn)))
			return fail("commit", rc);
	}
	*rps = (double)n / ((double)(bench_now_ns() - start) / 1e9);
	return 0;
}

static int load(const struct bench_params *p, struct bench_result *r)
{
	snprintf(path, sizeof(path), "/dev/shm/shmdb-bench-lmdb-%d", (int)getpid());
	return load_env(p, path, lock_path, open_env, 0, &env, &dbi, p->records, p->records,
			p->val_len, &r->load_rps);
}

static int read_side(const struct bench_params *p, struct bench_result *r)
{
	MDB_env *mine;
	MDB_txn *txn;
	MDB_dbi d;
	uint8_t key[BENCH_KEY_LEN];
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), misses = 0;
	int rc = open_env(p, &mine);
	if (rc || (rc = mdb_txn_begin(mine, NULL, MDB_RDONLY, &txn)) || (rc = mdb_dbi_open(txn, NULL, 0, &d)))
		return fail("reader open", rc);
	MDB_val k = { BENCH_KEY_LEN, key }, v;
	for (uint64_t i = 0; i < p->gets / 10 + 1000; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		mdb_get(txn, d, &k, &v);
	}
	struct counters c0, c1;
	counters_read(&c0);
	for (uint64_t i = 0; i < p->gets; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		uint64_t t0 = bench_tsc();
		misses += mdb_get(txn, d, &k, &v) != 0;
		hist_add(&r->get, bench_tsc() - t0);
	}
	counters_read(&c1);
	bench_costs(&c0, &c1, p->gets, r);
	if (bench_gate(p)) /* two_readers: both start together */
		return -1;
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->gets; i++) {
		bench_key(key, bench_rand(&rnd) % p->records);
		misses += mdb_get(txn, d, &k, &v) != 0;
	}
	r->ops_t0 = start;
	r->ops_t1 = bench_now_ns();
	r->get_ops = (double)p->gets / ((double)(r->ops_t1 - start) / 1e9);
	if (p->gate) { /* two_readers wants this figure only: stop while the other times */
		mdb_txn_abort(txn);
		mdb_env_close(mine);
		return misses ? -1 : 0;
	}

	/* Begin + end of a read transaction: LMDB's cheapest form is
	 * reset + renew of a read-only transaction handle. */
	for (uint64_t i = 0; i < p->gets; i++) {
		uint64_t t0 = bench_tsc();
		for (int b = 0; b < BENCH_BATCH; b++) {
			mdb_txn_reset(txn);
			mdb_txn_renew(txn);
		}
		hist_add(&r->begin_end, (bench_tsc() - t0) / BENCH_BATCH);
	}

	MDB_cursor *c;
	uint64_t count = 0;
	start = bench_now_ns();
	mdb_cursor_open(txn, d, &c);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		count++;
	r->scan_rps = (double)count / ((double)(bench_now_ns() - start) / 1e9);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	mdb_env_close(mine);
	if (misses || count < p->records) {
		fprintf(stderr, "shmdb-bench: lmdb: %" PRIu64 " gets missed, scan saw %" PRIu64 "\n", misses, count);
		return -1;
	}
	return 0;
}

static int write_side(const struct bench_params *p, struct bench_result *r)
{
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	bench_value(val, 0, p->val_len);
	uint64_t start = bench_now_ns();
	for (uint64_t i = 0; i < p->commits; i++) {
		MDB_txn *txn;
		bench_key(key, i);
		MDB_val k = { BENCH_KEY_LEN, key }, v = { p->val_len, val };
		uint64_t t0 = bench_tsc();
		int rc = mdb_txn_begin(env, NULL, 0, &txn);
		if (!rc)
			rc = mdb_put(txn, dbi, &k, &v, 0);
		if (!rc)
			rc = mdb_txn_commit(txn);
		hist_add(&r->commit, bench_tsc() - t0);
		if (rc)
			return fail("commit", rc);
	}
	r->commit_tps = (double)p->commits / ((double)(bench_now_ns() - start) / 1e9);
	r->pipelined_tps = -1; /* LMDB commits synchronously only */
	return 0;
}

/* Every record in txn reads as loaded: 0, or -1. */
static int reads_as_loaded(MDB_txn *txn, const struct bench_params *p)
{
	uint8_t key[BENCH_KEY_LEN], want[BENCH_MAX_VAL];
	MDB_val k = { BENCH_KEY_LEN, key }, v;
	for (uint64_t i = 0; i < p->records; i++) {
		bench_key(key, i);
		bench_value(want, i, p->val_len);
		if (mdb_get(txn, dbi, &k, &v) || v.mv_size != p->val_len ||
		    memcmp(v.mv_data, want, p->val_len))
			return -1;
	}
	return 0;
}

/* The read transaction held through the pinned overwrites, in a thread of
 * its own, asleep between its begin and its end. It reads every record as
 * loaded at both ends, or sets err. */
static void *hold_snapshot(void *arg)
{
	struct bench_holder *h = arg;
	MDB_txn *txn;
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc)
		h->err = fail("snapshot holder", rc);
	else if (reads_as_loaded(txn, h->p))
		h->err = -1;
	bench_hold_wait(h);
	if (!rc) {
		if (reads_as_loaded(txn, h->p))
			h->err = -1;
		mdb_txn_abort(txn);
	}
	if (!rc && h->err)
		fprintf(stderr, "shmdb-bench: lmdb: the held read transaction does not read the records as loaded\n");
	return NULL;
}

/* The data file of e up to its last page in use, in bytes. */
static double file_used_of(MDB_env *e)
{
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(e, &info) || mdb_env_stat(e, &st))
		return 0;
	return (double)(info.me_last_pgno + 1) * st.ms_psize;
}

static double file_used(void)
{
	return file_used_of(env);
}

/* A timed get of a random record in txn, renewed for it (a fresh
 * snapshot) and reset after: 0 if it read a value this run wrote to that
 * record, else -1. */
static int sample_get(const struct bench_params *p, MDB_txn *txn, uint64_t *rnd, struct hist *h)
{
	uint8_t key[BENCH_KEY_LEN];
	uint64_t i = bench_rand(rnd) % p->records, stamp = 0;
	MDB_val k = { BENCH_KEY_LEN, key }, v;
	bench_key(key, i);
	if (mdb_txn_renew(txn))
		return -1;
	uint64_t t0 = bench_tsc();
	int rc = mdb_get(txn, dbi, &k, &v);
	hist_add(h, bench_tsc() - t0);
	if (!rc && v.mv_size == p->val_len)
		memcpy(&stamp, v.mv_data, sizeof(stamp));
	mdb_txn_reset(txn);
	return rc || v.mv_size != p->val_len || stamp % p->records != i ? -1 : 0;
}

/* The overwrites, as shmdb's: overwrite i writes record i % records, a
 * value starting with records + i. LMDB commits synchronously, so every
 * commit is timed and every BENCH_GET_EVERY-th is followed by a timed get. */
static int overwrites(const struct bench_params *p, struct bench_overwrite *o)
{
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	uint64_t rnd = 0x9e3779b97f4a7c15ull, wrong = 0, i;
	MDB_txn *reader;
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &reader);
	if (rc)
		return fail("reader", rc);
	mdb_txn_reset(reader);
	o->mem_before = o->mem_peak = file_used();
	uint64_t start = bench_now_ns();
	for (i = 0; i < p->commits; i++) {
		MDB_txn *txn;
		bench_key(key, i % p->records);
		bench_value(val, p->records + i, p->val_len);
		MDB_val k = { BENCH_KEY_LEN, key }, v = { p->val_len, val };
		uint64_t t0 = bench_tsc();
		rc = mdb_txn_begin(env, NULL, 0, &txn);
		if (!rc && (rc = mdb_put(txn, dbi, &k, &v, 0)))
			mdb_txn_abort(txn);
		if (!rc)
			rc = mdb_txn_commit(txn);
		hist_add(&o->commit, bench_tsc() - t0);
		if (rc)
			break;
		if (i % BENCH_GET_EVERY == 0)
			wrong += sample_get(p, reader, &rnd, &o->get) != 0;
		if (i % 1024 == 1023) {
			double m = file_used();
			if (m > o->mem_peak)
				o->mem_peak = m;
		}
	}
	o->elapsed_s = (double)(bench_now_ns() - start) / 1e9;
	o->done = i;
	o->full = rc == MDB_MAP_FULL;
	o->mem_end = file_used();
	if (o->mem_end > o->mem_peak)
		o->mem_peak = o->mem_end;
	mdb_txn_abort(reader);
	if (rc && !o->full)
		return fail("overwrite", rc);
	if (wrong) {
		fprintf(stderr, "shmdb-bench: lmdb: %" PRIu64 " sampled gets read no value written "
			"to their record\n", wrong);
		return -1;
	}
	return 0;
}

static int overwrite(const struct bench_params *p, int hold, struct bench_overwrite *o)
{
	/* Room for the pages a held read transaction keeps from reuse (some
	 * 24 KB an overwrite here), up to an eighth of the machine's memory
	 * (the file is in /dev/shm): past that, the run ends with MDB_MAP_FULL,
	 * its growth per overwrite known. The same map for both runs. */
	uint64_t room = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 8;
	MDB_envinfo info;
	int rc = mdb_env_info(env, &info);
	if (!rc && info.me_mapsize < room)
		rc = mdb_env_set_mapsize(env, room);
	if (rc)
		return fail("map size", rc);
	if (!hold)
		return overwrites(p, o);
	return bench_while_held("lmdb", hold_snapshot, p, overwrites, o);
}

static void stop(const struct bench_params *p)
{
	/* In a signal handler, only what is safe there: the files go, the
	 * handles die with the process. */
	if (env && !p->interrupted)
		mdb_env_close(env);
	if (menv && !p->interrupted)
		mdb_env_close(menv);
	env = menv = NULL;
	unlink(path);
	unlink(lock_path);
	if (mpath[0]) {
		unlink(mpath);
		unlink(mlock_path);
	}
	bench_lmdb_rows_stop(p);
}

struct handle {
	MDB_env *env;
	MDB_txn *txn; /* the reader's, reset and renewed for each get */
	MDB_dbi dbi;
};

static void *side_open(const struct bench_params *p)
{
	struct handle *h = calloc(1, sizeof(*h));
	MDB_txn *txn;
	if (!h || open_env(p, &h->env) || mdb_txn_begin(h->env, NULL, MDB_RDONLY, &txn) ||
	    mdb_dbi_open(txn, NULL, 0, &h->dbi)) {
		free(h);
		return NULL;
	}
	mdb_txn_abort(txn);
	return h;
}

static int reader_get(void *hv, const uint8_t *key, uint8_t *out, uint32_t cap)
{
	struct handle *h = hv;
	MDB_val k = { BENCH_KEY_LEN, (void *)key }, v;
	int rc = h->txn ? mdb_txn_renew(h->txn) : mdb_txn_begin(h->env, NULL, MDB_RDONLY, &h->txn);
	if (!rc)
		rc = mdb_get(h->txn, h->dbi, &k, &v);
	if (!rc && out)
		memcpy(out, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
	mdb_txn_reset(h->txn);
	return rc;
}

static int writer_put(void *hv, const uint8_t *key, const uint8_t *val, uint32_t len)
{
	struct handle *h = hv;
	MDB_txn *txn;
	MDB_val k = { BENCH_KEY_LEN, (void *)key }, v = { len, (void *)val };
	int rc = mdb_txn_begin(h->env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_put(txn, h->dbi, &k, &v, 0);
	return rc ? rc : mdb_txn_commit(txn);
}

/* ---- the ordered workloads ------------------------------------------------
 *
 * LMDB's normal B+tree holds the records, exactly as for the main
 * workloads (loaded in the same random key order, without MDB_APPEND); the
 * multimap is the main database of an environment of its own, opened
 * MDB_DUPSORT. */

static int ordered_load(const struct bench_params *p, struct bench_ordered *o)
{
	MDB_dbi mdbi;
	snprintf(path, sizeof(path), "/dev/shm/shmdb-bench-lmdb-%d", (int)getpid());
	snprintf(mpath, sizeof(mpath), "/dev/shm/shmdb-bench-lmdb-multi-%d", (int)getpid());
	if (load_env(p, path, lock_path, open_oenv, 0, &env, &dbi, p->records, p->records,
		     p->val_len, &o->load_rps))
		return -1;
	o->bytes_per_rec = file_used_of(env) / (double)p->records;
	MDB_txn *txn;
	MDB_stat st;
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (!rc) {
		rc = mdb_stat(txn, dbi, &st);
		mdb_txn_abort(txn);
	}
	if (rc)
		return fail("stat", rc);
	o->tree_bytes_per_rec = (double)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
				st.ms_psize / (double)p->records;
	if (load_env(p, mpath, mlock_path, open_menv, MDB_DUPSORT, &menv, &mdbi, p->records,
		     bench_multi_keys(p), bench_multi_val_len(p), &o->multi_load_rps))
		return -1;
	o->multi_bytes_per_pair = file_used_of(menv) / (double)p->records;
	o->hash_load_rps = o->hash_bytes_per_rec = -1;
	return 0;
}

/* Whether the record (k, v) is not one the run loaded: a record's key is
 * that of the record its value starts with. */
static inline int wrong_record(const MDB_val *k, const MDB_val *v, uint32_t vlen)
{
	return k->mv_size != BENCH_KEY_LEN || v->mv_size != vlen ||
	       bench_value_index(v->mv_data) != bench_key_index(k->mv_data);
}

/* A pass over the tree in key order, untimed: every record once, in
 * strictly increasing order, as loaded. The warm-up of the timed scan. */
static int check_order(MDB_cursor *c, const struct bench_params *p)
{
	MDB_val k, v;
	uint8_t prev[BENCH_KEY_LEN];
	uint64_t n = 0, bad = 0;
	int rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		bad += wrong_record(&k, &v, p->val_len) ||
		       (n && memcmp(prev, k.mv_data, BENCH_KEY_LEN) >= 0);
		memcpy(prev, k.mv_data, BENCH_KEY_LEN);
		n++;
	}
	if (rc != MDB_NOTFOUND)
		return fail("ordered scan", rc);
	if (bad || n != p->records) {
		fprintf(stderr, "shmdb-bench: lmdb: the tree reads %" PRIu64 " records, %" PRIu64
			" of them wrong or out of order\n", n, bad);
		return -1;
	}
	return 0;
}

static int ordered_read(const struct bench_params *p, struct bench_ordered *o)
{
	MDB_env *mine, *mmine;
	MDB_txn *txn, *mtxn;
	MDB_dbi d, md;
	MDB_cursor *c;
	uint8_t key[BENCH_KEY_LEN];
	MDB_val k, v, want = { BENCH_KEY_LEN, key };
	uint64_t rnd = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(), bad = 0;
	const uint64_t seeks = p->gets / 4, ranges = p->gets / BENCH_RANGE + 1;
	const uint64_t mkeys = bench_multi_keys(p), mreads = p->gets / BENCH_MULTI_PER + 1;
	const uint32_t mlen = bench_multi_val_len(p);
	int rc = open_oenv(p, &mine);
	if (rc || (rc = mdb_txn_begin(mine, NULL, MDB_RDONLY, &txn)) ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &d)) || (rc = mdb_cursor_open(txn, d, &c)))
		return fail("ordered reader open", rc);
	if (check_order(c, p))
		return -1;

	uint64_t n = 0, start = bench_now_ns();
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		bad += wrong_record(&k, &v, p->val_len);
		n++;
	}
	o->scan_rps = (double)n / ((double)(bench_now_ns() - start) / 1e9);
	bad += n != p->records;

	/* MDB_SET_RANGE to a random record's key, which reads that record. */
	for (n = 0; n < seeks + seeks / 10 + 1000; n++) {
		uint64_t i = bench_rand(&rnd) % p->records;
		bench_key(key, i);
		k = want;
		uint64_t t0 = bench_tsc();
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		bad += rc || v.mv_size != p->val_len || bench_value_index(v.mv_data) != i;
		if (n >= seeks / 10 + 1000) /* after the warm-up */
			hist_add(&o->seek, bench_tsc() - t0);
	}

	/* MDB_SET_RANGE, then MDB_NEXT to BENCH_RANGE records (fewer at the end). */
	uint64_t read = 0;
	for (n = 0; n < ranges + ranges / 10 + 100; n++) {
		if (n == ranges / 10 + 100) { /* after the warm-up */
			read = 0;
			start = bench_now_ns();
		}
		uint64_t i = bench_rand(&rnd) % p->records;
		bench_key(key, i);
		k = want;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		bad += rc != 0;
		for (int r = 0; r < BENCH_RANGE && rc == 0; r++) {
			bad += wrong_record(&k, &v, p->val_len) || (r == 0 && bench_key_index(k.mv_data) != i);
			read++;
			if (r + 1 < BENCH_RANGE)
				rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
	}
	o->range_rps = (double)read / ((double)(bench_now_ns() - start) / 1e9);
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	mdb_env_close(mine);

	/* The multimap: MDB_SET_KEY to a random key, MDB_NEXT_DUP to its last
	 * value. */
	rc = open_menv(p, &mmine);
	if (rc || (rc = mdb_txn_begin(mmine, NULL, MDB_RDONLY, &mtxn)) ||
	    (rc = mdb_dbi_open(mtxn, NULL, 0, &md)) || (rc = mdb_cursor_open(mtxn, md, &c)))
		return fail("multimap reader open", rc);
	read = 0;
	for (n = 0; n < mreads + mreads / 10 + 100; n++) {
		if (n == mreads / 10 + 100) { /* after the warm-up */
			read = 0;
			start = bench_now_ns();
		}
		uint64_t i = bench_rand(&rnd) % mkeys, got = 0, sum = 0;
		bench_key(key, i);
		k = want;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
			bad += v.mv_size != mlen;
			sum += bench_value_index(v.mv_data);
			got++;
		}
		bad += bench_multi_wrong(p, i, got, sum);
		read += got;
	}
	o->multi_pps = (double)read / ((double)(bench_now_ns() - start) / 1e9);
	mdb_cursor_close(c);
	mdb_txn_abort(mtxn);
	mdb_env_close(mmine);
	if (bad) {
		fprintf(stderr, "shmdb-bench: lmdb: %" PRIu64 " ordered reads missed or read wrong records\n", bad);
		return -1;
	}
	return 0;
}

/* 1-put commits into the tree, as shmdb's: overwrites of loaded records,
 * then inserts of new keys. */
static int ordered_write(const struct bench_params *p, struct bench_ordered *o)
{
	uint8_t key[BENCH_KEY_LEN], val[BENCH_MAX_VAL];
	for (int insert = 0; insert < 2; insert++) {
		for (uint64_t i = 0; i < p->commits; i++) {
			MDB_txn *txn;
			uint64_t j = insert ? p->records + i : i % p->records;
			bench_key(key, j);
			bench_value(val, j, p->val_len);
			MDB_val k = { BENCH_KEY_LEN, key }, v = { p->val_len, val };
			uint64_t t0 = bench_tsc();
			int rc = mdb_txn_begin(env, NULL, 0, &txn);
			if (!rc && (rc = mdb_put(txn, dbi, &k, &v, 0)))
				mdb_txn_abort(txn);
			if (!rc)
				rc = mdb_txn_commit(txn);
			hist_add(insert ? &o->insert : &o->commit, bench_tsc() - t0);
			if (rc)
				return fail(insert ? "insert" : "commit", rc);
		}
	}
	return 0;
}

const struct bench_system bench_lmdb = {
	.name = "LMDB", .load = load, .read = read_side, .write = write_side, .stop = stop,
	.reader_open = side_open, .reader_get = reader_get,
	.writer_open = side_open, .writer_put = writer_put, .overwrite = overwrite,
	.ordered_load = ordered_load, .ordered_read = ordered_read, .ordered_write = ordered_write,
	.rows_load = bench_lmdb_rows_load, .rows_read = bench_lmdb_rows_read,
	.rows_write = bench_lmdb_rows_write,
};
