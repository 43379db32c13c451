/*
 * test_core.c - the writer's core without a daemon: transactions run
 * through decode, prepare, apply and publish (commit.h) on a calloc'd range
 * (meta segment at offset 0, one arena after it), read back with the same
 * index lookups clients use.
 *
 *   - the catalog: create, find by id and name, drop, the slot freed by
 *     reclamation and reused with a new generation, no room for a table;
 *   - the passes: versions and snapshots, deletes, checks, bad input, and
 *     that a failed transaction changes nothing and keeps no memory;
 *   - memory pressure: the core asks its pressure hook where a block or an
 *     index does not fit while retired memory waits, and only there;
 *   - prepare reserves exactly op_block_size() per operation and unreserve
 *     gives exactly that back;
 *   - an index grown in steps, checked against a model of the table at
 *     every publication and every 16 commits, and after every commit while
 *     a build is under way against the slots of the current index it has
 *     passed; every byte given back at the end; a tombstone the build left
 *     out, written again, freed and its block reused by the key's next
 *     tombstone, is not retired at publication;
 *   - the reclaimer: the live snapshots of a sweep (claims out of range
 *     ignored), grace periods paced, nothing freed that a snapshot sees and
 *     everything else freed (exact reclamation): versions pruned from the
 *     middle of a chain, a walk standing on one restarts, pruned blocks
 *     reused by versions, dropped tables kept only for the snapshots from
 *     their creation to their drop, the figures naming who holds what;
 *   - ordered tables and multimaps: their copy-on-write trees against a
 *     model after every transaction (order, shape, counts, node bytes),
 *     snapshots held at random checked later against the model of their
 *     commit, a key's values across many leaves gone with one delete,
 *     every node given back after a drop; kinds, and the operations a
 *     kind refuses; a cleared tree kept for the snapshot before the clear,
 *     then freed in bounded steps.
 *
 * Nothing here waits or depends on time: the reclaimer is handed its clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "commit.h"
#include "core.h"
#include "harness.h"
#include "heap_store.h"
#include "index.h"
#include "tree_read.h"
#include "prepare.h"
#include "reclaim.h"
#include "shmdb.h"
#include "txn.h"

static void setup(void)
{
	store_on_heap(64u << 20);
}

static void teardown(void)
{
	store_off_heap();
}

/* ---- the catalog ---------------------------------------------------------- */

/* A name with a NUL in it is refused whole: every client names tables
 * (and columns) by C strings, so none could open or drop that table. */
START_TEST(catalog_names_hold_no_nul)
{
	static const uint8_t codes[] = { SHM_OP_CREATE_TABLE, SHM_OP_DROP_TABLE };
	struct tx x = { 0 };
	uint32_t t;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "x", &t), 0);
	uint64_t ts = commit_ts(), used = alloc_used(&f.alloc);
	for (unsigned i = 0; i < 2; i++) {
		tx_op(&x, codes[i], 0, 0, "x\0", 2, NULL, 0);
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), SHMDB_EBADTXN);
	}
	tx_op(&x, SHM_OP_CREATE_INDEX, t, 0, "c\0", 2, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), SHMDB_EBADTXN);
	ck_assert_uint_eq(commit_ts(), ts);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	ck_assert_int_eq(shm_table_find(f.meta, "x", 1, NULL), (int)SHM_TABLE_SLOT(t));
	tx_free(&x);
}
END_TEST

START_TEST(catalog_create_find_drop)
{
	uint32_t a, again, b, a2;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "a", &a), 0);
	ck_assert_uint_ne(a, 0);
	ck_assert_ptr_eq(tables_live(&f.c.tables, a), &f.meta->tables[SHM_TABLE_SLOT(a)]);
	ck_assert_ptr_eq(tables_named(&f.c.tables, "a", 1), tables_live(&f.c.tables, a));
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(a)].created_ts, commit_ts());

	/* Creating an existing table opens it and keeps no memory. */
	uint64_t used = alloc_used(&f.alloc);
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "a", &again), 0);
	ck_assert_uint_eq(again, a);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);

	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "b", &b), 0);
	ck_assert_uint_ne(b, a);
	ck_assert_int_eq(put1(a, "k", "v", NULL), 0);

	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "a", NULL), 0);
	uint64_t dropped = commit_ts();
	ck_assert_ptr_null(tables_live(&f.c.tables, a));
	ck_assert_ptr_null(tables_named(&f.c.tables, "a", 1));
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(a)].state, SHM_TABLE_DROPPED);
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(a)].dropped_ts, dropped);
	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "a", NULL), -ENOENT);
	ck_assert_int_eq(put1(a, "k", "v", NULL), -ENOENT);
	ck_assert_uint_eq(commit_ts(), dropped);

	/* An older snapshot still reads the dropped table's key until the
	 * slot is reclaimed; then the slot is free and reused with another
	 * generation, and the old id names nothing. */
	ck_assert(sees(a, "k", "v", dropped - 1));
	ck_assert_uint_gt(reclaim_all(), 0);
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(a)].state, SHM_TABLE_FREE);
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "a2", &a2), 0);
	ck_assert_uint_eq(SHM_TABLE_SLOT(a2), SHM_TABLE_SLOT(a));
	ck_assert_uint_ne(a2, a);
	ck_assert_ptr_null(tables_live(&f.c.tables, a));
	ck_assert_int_eq(put1(a, "k", "v", NULL), -ENOENT);
	ck_assert_ptr_nonnull(tables_live(&f.c.tables, b));
}
END_TEST

START_TEST(catalog_full)
{
	char name[16];
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++) {
		snprintf(name, sizeof(name), "t%u", i);
		ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, name, NULL), 0);
	}
	uint64_t ts = commit_ts(), used = alloc_used(&f.alloc);
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "one more", NULL), -ENOSPC);
	ck_assert_uint_eq(commit_ts(), ts);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	/* Dropping one makes room only once it is reclaimed: a full catalog
	 * is not memory pressure, and asks nothing. */
	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "t7", NULL), 0);
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "one more", NULL), -ENOSPC);
	ck_assert_uint_eq(f.pressure_calls, 0);
	reclaim_all();
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "one more", NULL), 0);
}
END_TEST

/* ---- the passes ------------------------------------------------------------ */

START_TEST(versions_snapshots_and_checks)
{
	uint32_t t;
	uint64_t ts1, ts2, ts3, ts;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	ck_assert_int_eq(put1(t, "k", "one", &ts1), 0);
	ck_assert_int_eq(put1(t, "k", "two", &ts2), 0);
	ck_assert_uint_eq(ts2, ts1 + 1);
	ck_assert(sees(t, "k", "one", ts1));
	ck_assert(sees(t, "k", "two", ts2));
	ck_assert(sees(t, "k", NULL, ts1 - 1));
	/* The version "two" replaced waits in the retire queue. */
	ck_assert_uint_eq(retire_count(&f.q), 1);
	ck_assert_uint_eq(f.q.bytes, shm_version_size(1, 3));

	struct tx x = { 0 };
	tx_op(&x, SHM_OP_DEL, t, 0, "k", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, &ts3, NULL), 0);
	ck_assert(sees(t, "k", NULL, ts3));
	ck_assert(sees(t, "k", "two", ts2));
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(t)].records, 0);
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(t)].index_used, 1);

	/* A check of a key written after the snapshot fails the whole
	 * transaction: nothing applied, nothing kept. */
	uint64_t used = alloc_used(&f.alloc);
	size_t retired = retire_count(&f.q);
	tx_put(&x, t, "other", "x");
	tx_op(&x, SHM_OP_CHECK, t, ts2, "k", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, &ts, NULL), SHMDB_ECONFLICT);
	ck_assert_uint_eq(commit_ts(), ts3);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	ck_assert_uint_eq(retire_count(&f.q), retired);
	ck_assert(sees(t, "other", NULL, ts3 + 1));
	/* The same check against the current snapshot passes. */
	tx_put(&x, t, "other", "x");
	tx_op(&x, SHM_OP_CHECK, t, ts3, "k", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, &ts, NULL), 0);
	ck_assert_uint_eq(ts, ts3 + 1);
	ck_assert(sees(t, "other", "x", ts));

	/* Deleting a missing key commits and keeps no memory. */
	used = alloc_used(&f.alloc);
	tx_op(&x, SHM_OP_DEL, t, 0, "missing", 7, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, &ts, NULL), 0);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);

	/* An unknown table, a malformed transaction, an empty one. */
	tx_put(&x, t, "a", "b");
	tx_put(&x, t + (1u << 16), "a", "b");
	ck_assert_int_eq(tx_commit(&x, &ts, NULL), -ENOENT);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	tx_put(&x, t, "a", "b");
	x.len -= 8; /* cut into the value */
	ck_assert_int_eq(tx_commit(&x, &ts, NULL), SHMDB_EBADTXN);
	ck_assert_int_eq(tx_commit(&x, &ts, NULL), 0);
	ck_assert_uint_eq(ts, commit_ts());
	ck_assert(sees(t, "a", NULL, commit_ts()));
	tx_free(&x);
}
END_TEST

/* ---- block sizes: prepare and unreserve ------------------------------------ */

static uint8_t big_value[SHMDB_MAX_VALUE];

START_TEST(prepare_reserves_op_block_size)
{
	uint32_t t;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	ck_assert_int_eq(put1(t, "present", "x", NULL), 0);

	struct tx x = { 0 };
	tx_put(&x, t, "k1", "");
	tx_put(&x, t, "k2", "a value of some length");
	tx_op(&x, SHM_OP_PUT, t, 0, "k3", 2, big_value, 70000);
	tx_op(&x, SHM_OP_DEL, t, 0, "present", 7, NULL, 0);
	tx_op(&x, SHM_OP_DEL, t, 0, "absent", 6, NULL, 0);
	tx_op(&x, SHM_OP_CHECK, t, commit_ts(), "k1", 2, NULL, 0);
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, 0, "new", 3, NULL, 0);
	tx_op(&x, SHM_OP_RESERVE, t, 10, NULL, 0, NULL, 0);

	size_t nops;
	ck_assert_int_eq(decode_txn(&f.c.scratch, x.buf, x.len, &nops), 0);
	ck_assert_uint_eq(nops, 8);
	uint64_t before = alloc_used(&f.alloc), expect = 0;
	ck_assert_int_eq(prepare(&f.c, &nops, commit_ts() + 1), 0);
	for (size_t i = 0; i < nops; i++) {
		const struct pending_op *p = &f.c.scratch.ops[i];
		size_t size = op_block_size(&p->op);
		ck_assert_int_eq(p->block != 0, size != 0);
		if (size)
			expect += alloc_class_size(size);
	}
	/* and the next count version of the one table written */
	ck_assert_uint_eq(f.c.scratch.ntouched, 1);
	ck_assert_uint_ne(f.c.scratch.touched[0].count_block, 0);
	expect += alloc_class_size(SHM_COUNT_VERSION_SIZE);
	ck_assert_uint_eq(op_block_size(&f.c.scratch.ops[0].op), shm_version_size(2, 0));
	ck_assert_uint_eq(op_block_size(&f.c.scratch.ops[2].op), shm_version_size(2, 70000));
	ck_assert_uint_eq(op_block_size(&f.c.scratch.ops[3].op), shm_version_size(7, SHM_TOMBSTONE));
	ck_assert_uint_eq(op_block_size(&f.c.scratch.ops[5].op), 0);
	ck_assert_uint_eq(op_block_size(&f.c.scratch.ops[6].op), INDEX_MIN_BYTES);
	ck_assert_uint_eq(op_block_size(&f.c.scratch.ops[7].op), 0);
	ck_assert_uint_eq(alloc_used(&f.alloc) - before, expect);
	unreserve(&f.c, nops);
	ck_assert_uint_eq(alloc_used(&f.alloc), before);

	/* The same transaction committed keeps every block but the missing
	 * key's tombstone. */
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	ck_assert_uint_eq(alloc_used(&f.alloc) - before,
			  expect - alloc_class_size(shm_version_size(6, SHM_TOMBSTONE)));
	tx_free(&x);
}
END_TEST

START_TEST(no_room_keeps_nothing)
{
	teardown();
	store_on_heap(8u << 20);
	uint32_t t;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	struct tx x = { 0 };
	tx_op(&x, SHM_OP_PUT, t, 0, "a", 1, big_value, 3u << 20);
	tx_op(&x, SHM_OP_PUT, t, 0, "b", 1, big_value, 3u << 20);
	tx_op(&x, SHM_OP_PUT, t, 0, "c", 1, big_value, 3u << 20);
	uint64_t ts = commit_ts(), used = alloc_used(&f.alloc);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -ENOSPC);
	ck_assert_uint_eq(commit_ts(), ts);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	ck_assert_uint_eq(retire_count(&f.q), 0);
	ck_assert_uint_eq(f.pressure_calls, 0); /* nothing waited */
	ck_assert(sees(t, "a", NULL, ts));
	/* One fits; overwritten, the old one waits in the retire queue, and
	 * the next put that does not fit asks for it, once, and fits. */
	tx_op(&x, SHM_OP_PUT, t, 0, "a", 1, big_value, 3u << 20);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_op(&x, SHM_OP_PUT, t, 0, "a", 1, big_value, 3u << 20);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	ck_assert_uint_eq(retire_count(&f.q), 1);
	tx_op(&x, SHM_OP_PUT, t, 0, "c", 1, big_value, 3u << 20);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	ck_assert_uint_eq(f.pressure_calls, 1);
	ck_assert_ptr_nonnull(lookup(t, "c", 1, commit_ts()));
	/* Asked, and still no room: -ENOSPC, nothing kept. */
	ck_assert_int_eq(put1(t, "s", "x", NULL), 0);
	ck_assert_int_eq(put1(t, "s", "y", NULL), 0);
	ts = commit_ts();
	used = alloc_used(&f.alloc);
	tx_op(&x, SHM_OP_PUT, t, 0, "d", 1, big_value, 3u << 20);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -ENOSPC);
	ck_assert_uint_eq(f.pressure_calls, 2);
	ck_assert_uint_eq(commit_ts(), ts);
	/* "s"'s first version was freed (and count versions retired before),
	 * and nothing of "d" kept. */
	ck_assert_uint_le(alloc_used(&f.alloc), used - alloc_class_size(shm_version_size(1, 1)));
	ck_assert(!reclaimer_holds(&f.rc));
	tx_free(&x);
}
END_TEST

/* A transaction refused for want of room in a later table's index keeps
 * nothing an earlier table's index was given for it: neither an index
 * rebuilt at once (a RESERVE) nor a build begun (past half load). */
START_TEST(refused_keeps_no_index_it_grew)
{
	teardown();
	store_on_heap(8u << 20);
	uint32_t a, b;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "a", &a), 0);
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "b", &b), 0);
	const struct shm_table *ta = &f.meta->tables[SHM_TABLE_SLOT(a)];
	struct tx x = { 0 };
	char k[16];
	for (unsigned round = 0; round < 2; round++) {
		if (round == 0) { /* a rebuild at once: 1,000 keys in 64 slots */
			tx_op(&x, SHM_OP_RESERVE, a, 1000, NULL, 0, NULL, 0);
		} else { /* 40 keys in 64 slots: past half, a build begins */
			for (unsigned i = 0; i < 40; i++) {
				snprintf(k, sizeof(k), "k%u", i);
				tx_op(&x, SHM_OP_PUT, a, 0, k, strlen(k), "v", 1);
			}
		}
		/* b's largest index cannot fit in 8 MiB */
		tx_op(&x, SHM_OP_RESERVE, b, SHMDB_MAX_TABLE_KEYS, NULL, 0, NULL, 0);
		uint64_t ts = commit_ts(), used = alloc_used(&f.alloc), word = ta->index;
		size_t retired = retire_count(&f.q);
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), -ENOSPC);
		ck_assert_uint_eq(commit_ts(), ts);
		ck_assert_uint_eq(alloc_used(&f.alloc), used);
		ck_assert_uint_eq(ta->index, word);
		ck_assert_uint_eq(retire_count(&f.q), retired);
		ck_assert_ptr_null(f.c.build.t);
		ck_assert_uint_eq(f.pressure_calls, 0);
	}
	/* The same without b's: the index grows as asked. */
	tx_op(&x, SHM_OP_RESERVE, a, 1000, NULL, 0, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	ck_assert_uint_ge(shm_index_mask(ta->index) + 1, 2000);
	tx_free(&x);
}
END_TEST

/* ---- the index build, against a model --------------------------------------- */

#define MODEL_KEYS 40000

static uint32_t model_gen[MODEL_KEYS]; /* 0: absent; else the value's generation */

static void model_key(char k[16], unsigned i)
{
	snprintf(k, 16, "key-%08u", i);
}

static void model_val(char v[24], unsigned i, uint32_t gen)
{
	snprintf(v, 24, "v%u.%u", i, gen);
}

/* Every key of the model, as the current snapshot reads it. */
static void check_model(uint32_t t, unsigned nkeys)
{
	char k[16], v[24];
	uint64_t live = 0;
	for (unsigned i = 0; i < nkeys; i++) {
		model_key(k, i);
		if (model_gen[i]) {
			model_val(v, i, model_gen[i]);
			live++;
		}
		if (!sees(t, k, model_gen[i] ? v : NULL, commit_ts()))
			ck_abort_msg("key %u: not what the model holds (gen %u)", i, model_gen[i]);
	}
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(t)].records, live);
}

/* Whether the build left out the head at slot pos, offset off. */
static int left_out(const struct index_build *b, uint64_t pos, uint64_t off)
{
	const struct shm_version *v = (const void *)(f.base + off);
	for (size_t i = 0; i < b->ndead; i++)
		if (b->dead[i].pos == pos && b->dead[i].off == off &&
		    b->dead[i].begin_ts == v->begin_ts)
			return 1;
	return 0;
}

/* Slot pos of the index `word` is what the writer makes for its key
 * (layout.h): the key's tag, its displacement from the key's home, and
 * growth bits that are the key's hash's. */
static void check_slot(uint64_t word, uint64_t pos)
{
	const uint64_t *slots = (const uint64_t *)(f.base + shm_index_off(word));
	unsigned log2 = (unsigned)(word & SHM_INDEX_LOG2_MASK);
	uint64_t s = slots[pos], bits;
	const struct shm_version *v = (const void *)(f.base + (s & SHM_SLOT_OFF_MASK));
	uint64_t hash = shm_key_hash(v->key, v->klen), mask = shm_index_mask(word);
	uint64_t disp = (pos - hash) & mask;
	ck_assert_uint_eq(s & SHM_SLOT_TAG_MASK, SHM_SLOT_TAG(hash));
	ck_assert_uint_eq(s & 15, disp < SHM_SLOT_DISP_UNKNOWN ? disp : SHM_SLOT_DISP_UNKNOWN);
	unsigned n = shm_slot_hash_bits(s, pos, log2, &bits);
	if (n)
		ck_assert_uint_eq(bits, hash & ((1ull << n) - 1));
}

/* While a build is under way: the new index holds exactly the keys of the
 * current index's slots [0, copied), less the dead ones it left out, each
 * pointing at the same head, each slot of both as the writer makes it
 * (check_slot); `used` counts its non-empty slots. */
static void check_build(void)
{
	const struct index_build *b = &f.c.build;
	const struct shm_table *t = b->t;
	const uint64_t *cur = (const uint64_t *)(f.base + shm_index_off(t->index));
	const uint64_t *nxt = (const uint64_t *)(f.base + shm_index_off(b->word));
	uint64_t nmask = shm_index_mask(b->word), expect = 0, have = 0;
	if (b->zeroed <= nmask)
		return; /* still clearing: nothing copied yet */
	for (uint64_t p = 0; p < b->copied; p++) {
		uint64_t s = cur[p];
		if (!s || left_out(b, p, s & SHM_SLOT_OFF_MASK))
			continue;
		const struct shm_version *v = (const void *)(f.base + (s & SHM_SLOT_OFF_MASK));
		uint64_t got = shm_index_find(f.base, nxt, nmask, shm_key_hash(v->key, v->klen), v->key,
					      v->klen);
		check_slot(t->index, p);
		if ((got & SHM_SLOT_OFF_MASK) != (s & SHM_SLOT_OFF_MASK))
			ck_abort_msg("slot %llu: the build holds %llx, the index %llx",
				     (unsigned long long)p, (unsigned long long)got,
				     (unsigned long long)s);
		expect++;
	}
	for (uint64_t p = 0; p <= nmask; p++)
		if (nxt[p]) {
			check_slot(b->word, p);
			have++;
		}
	ck_assert_uint_eq(have, expect);
	ck_assert_uint_eq(b->used, have);
}

START_TEST(index_grows_in_steps_against_a_model)
{
	uint32_t t;
	char k[16], v[24];
	unsigned nkeys = 0, builds_seen = 0, steps_checked = 0;
	uint64_t last_word = 0, last_build = 0;
	unsigned seed = 12345;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	memset(model_gen, 0, sizeof(model_gen));

	struct tx x = { 0 };
	for (unsigned round = 0; nkeys < MODEL_KEYS; round++) {
		/* 100 ops: mostly new keys, some overwrites, some deletes
		 * (tombstones for the build to leave out once no snapshot
		 * can see them), some deleted keys written again. */
		for (int n = 0; n < 100 && nkeys < MODEL_KEYS; n++) {
			unsigned r = (seed = seed * 1103515245u + 12345u) >> 16;
			unsigned i = r % 10 < 6 || nkeys == 0 ? nkeys++ : r % nkeys;
			model_key(k, i);
			if (r % 10 == 9 && model_gen[i]) {
				tx_op(&x, SHM_OP_DEL, t, 0, k, strlen(k), NULL, 0);
				model_gen[i] = 0;
			} else {
				model_gen[i]++;
				if (model_gen[i] == 0)
					model_gen[i] = 1;
				model_val(v, i, model_gen[i]);
				tx_put(&x, t, k, v);
			}
		}
		/* A transaction that names a key twice applies them in order,
		 * as the model does. */
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		if (round % 8 == 0)
			reclaim_all(); /* no reader: tombstones become dead */
		if (f.c.build.t) {
			builds_seen += f.c.build.word != last_build;
			last_build = f.c.build.word;
			check_build();
			steps_checked++;
		}
		if (round % 16 == 0 || tb->index != last_word)
			check_model(t, nkeys);
		last_word = tb->index;
	}
	check_model(t, nkeys);
	/* The index grew past 64K slots through builds in steps. */
	ck_assert_uint_ge(shm_index_mask(tb->index) + 1, 65536);
	ck_assert_uint_ge(steps_checked, 20);
	ck_assert_uint_ge(builds_seen, 3);

	/* Drop it while a build is under way: once reclaimed, every byte of
	 * the store is back, the unpublished index included. */
	for (unsigned i = 0; !f.c.build.t && i < 100000; i++) {
		model_key(k, MODEL_KEYS + i);
		tx_put(&x, t, k, "x");
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	}
	ck_assert_ptr_nonnull(f.c.build.t);
	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "t", NULL), 0);
	ck_assert_ptr_null(f.c.build.t);
	reclaim_all();
	ck_assert_uint_eq(alloc_used(&f.alloc), 0);
	ck_assert_uint_eq(f.q.bytes, 0);
	tx_free(&x);
}
END_TEST

/* Commit keys [from, from + n) of the model, each new, in one transaction. */
static void put_new_keys(struct tx *x, uint32_t t, unsigned from, unsigned n)
{
	char k[16], v[24];
	for (unsigned i = from; i < from + n; i++) {
		model_key(k, i);
		model_gen[i] = 1;
		model_val(v, i, 1);
		tx_put(x, t, k, v);
	}
	ck_assert_int_eq(tx_commit(x, NULL, NULL), 0);
}

/* A table that only gains keys grows its index without reading their
 * versions: its slots tell the copies where each key goes (layout.h), but
 * for keys copied more than SHM_SLOT_GROWTH_BITS times since they were
 * last written. Once it holds a tombstone, which may be dead, a copy
 * reads every version. Every key is found after each build, and every
 * slot of a build is as the writer makes it. */
START_TEST(index_growth_reads_only_what_it_must)
{
	uint32_t t;
	char k[16];
	const unsigned nkeys = 30000;
	const struct index_build *b = &f.c.build;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	memset(model_gen, 0, sizeof(model_gen));
	struct tx x = { 0 };
	for (unsigned i = 0; i < nkeys; i += 100) {
		put_new_keys(&x, t, i, 100);
		if (b->t)
			check_build();
	}
	check_model(t, nkeys);
	ck_assert_uint_ge(shm_index_mask(tb->index) + 1, 65536);
	/* Each key is copied about once; few are read: those copied more
	 * than SHM_SLOT_GROWTH_BITS times or displaced by 15 or more. */
	ck_assert_uint_ge(b->keys_copied, nkeys / 2);
	ck_assert_uint_gt(b->versions_read, 0);
	ck_assert_uint_le(b->versions_read * 10, b->keys_copied);
	printf("core: index growth copied %llu keys, read %llu versions\n",
	       (unsigned long long)b->keys_copied, (unsigned long long)b->versions_read);

	/* A tombstone, then keys until the next build has copied: every key
	 * it looked at was read. */
	model_key(k, 0);
	tx_op(&x, SHM_OP_DEL, t, 0, k, strlen(k), NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	model_gen[0] = 0;
	uint64_t copied0 = b->keys_copied, read0 = b->versions_read;
	unsigned i = nkeys;
	for (; b->keys_copied == copied0; i += 100) {
		ck_assert_uint_le(i, MODEL_KEYS - 100);
		put_new_keys(&x, t, i, 100);
	}
	ck_assert_uint_eq(b->versions_read - read0, b->keys_copied - copied0);
	if (b->t)
		check_build();
	check_model(t, i);
	tx_free(&x);
}
END_TEST

/* Whether the retire queue holds the block at off. */
static int retired_block(uint64_t off)
{
	for (size_t i = f.q.head; i < f.q.tail; i++)
		if (f.q.items[i % f.q.cap].kind == RETIRED_BLOCK && f.q.items[i % f.q.cap].off == off)
			return 1;
	return 0;
}

/* A build leaves out a dead tombstone T; the key is written again (T
 * retired), T's block freed and reused by the key's next tombstone T2, at
 * the same slot and offset. Publishing the build must not retire T2, the
 * key's head. */
START_TEST(left_out_tombstone_reused_block_stays)
{
	uint32_t t;
	char k[16], name[8];
	unsigned n = 0;
	struct tx x = { 0 };
	const struct index_build *b = &f.c.build;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];

	/* An index of 8192 slots, no build under way; then 64 tombstones,
	 * dead to every snapshot (made now: a build drops the dead ones it
	 * passes). */
	while (shm_index_mask(tb->index) < 8191 || b->t) {
		ck_assert_uint_lt(n, 100000);
		model_key(k, n++);
		tx_put(&x, t, k, "x");
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	}
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "K%02d", i);
		tx_put(&x, t, name, "v");
	}
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "K%02d", i);
		tx_op(&x, SHM_OP_DEL, t, 0, name, 3, NULL, 0);
	}
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	reclaim_all();

	/* Grow until the next build has passed one of them. */
	while (!(b->t && b->ndead)) {
		ck_assert_uint_lt(n, 100000);
		model_key(k, n++);
		tx_put(&x, t, k, "x");
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	}
	const struct left_out d = b->dead[0];
	const struct shm_version *tomb = (const void *)(f.base + d.off);
	ck_assert_uint_eq(tomb->vlen, SHM_TOMBSTONE);
	memcpy(name, tomb->key, 3);
	name[3] = 0;

	ck_assert_int_eq(put1(t, name, "again", NULL), 0); /* retires T */
	reclaim_all();                                      /* frees T */
	tx_op(&x, SHM_OP_DEL, t, 0, name, 3, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);     /* T2 */
	uint64_t del_ts = commit_ts();
	const uint64_t *cur = (const uint64_t *)(f.base + shm_index_off(tb->index));
	ck_assert_uint_eq(cur[d.pos] & SHM_SLOT_OFF_MASK, d.off); /* T's block, reused */
	ck_assert_ptr_eq(b->t, tb);

	while (b->t) {
		model_key(k, n++);
		tx_put(&x, t, k, "x");
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	}
	const struct shm_version *head = lookup(t, name, 3, commit_ts());
	ck_assert_ptr_eq(head, tomb);
	ck_assert_uint_eq(head->begin_ts, del_ts);
	ck_assert(!retired_block(d.off));
	tx_free(&x);
}
END_TEST

/* The work the builds of t's index did between two looks at it (index0
 * and cap0: its index word and slots at the first; word0: the index being
 * built then, 0 if none; z0, c0: its slots cleared and copied): slots
 * copied, plus cleared ones at the price a step gives them
 * (index_build.c). */
static uint64_t step_work(const struct shm_table *t, uint64_t index0, uint64_t cap0,
			  uint64_t word0, uint64_t z0, uint64_t c0)
{
	const struct index_build *b = &f.c.build;
	uint64_t ncap0 = word0 ? shm_index_mask(word0) + 1 : 0;
	if (word0 && (b->t != t || b->word != word0)) /* finished: all the rest */
		return (ncap0 - z0) / 16 + (cap0 - c0);
	if (!word0 && t->index != index0) /* begun and finished, or rebuilt at once */
		return (shm_index_mask(t->index) + 1) / 16 + cap0;
	if (b->t == t)
		return (b->zeroed - (word0 ? z0 : 0)) / 16 + (b->copied - (word0 ? c0 : 0));
	return 0;
}

/* A stream of 1-put inserts grows a table's index only in steps of the
 * size a transaction that adds one key is given (BUILD_STEP +
 * BUILD_PER_ADD, and a chunk of rounding): every build keeps pace, and
 * none is ever finished at once when the index fills to 3/4, which would
 * make one insert copy the whole index. */
START_TEST(index_builds_keep_pace_with_single_inserts)
{
	uint32_t t;
	char k[16];
	unsigned finished = 0;
	uint64_t most = 0;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	const struct index_build *b = &f.c.build;
	struct tx x = { 0 };
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t word0 = b->t == tb ? b->word : 0, z0 = b->zeroed, c0 = b->copied;
		uint64_t index0 = tb->index, cap0 = shm_index_mask(index0) + 1;
		snprintf(k, sizeof(k), "g%06u", i);
		tx_put(&x, t, k, "v");
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		uint64_t work = step_work(tb, index0, cap0, word0, z0, c0);
		if (work > most)
			most = work;
		if (work > BUILD_STEP + BUILD_PER_ADD + 32 + 1)
			ck_abort_msg("insert %u: a step did the work of %llu slots", i,
				     (unsigned long long)work);
		finished += word0 && (b->t != tb || b->word != word0);
	}
	/* 100,000 keys: the index went from 64 slots to 256 Ki in builds. */
	ck_assert_uint_eq(shm_index_mask(tb->index) + 1, 262144);
	ck_assert_uint_ge(finished, 5);
	ck_assert_uint_ge(most, BUILD_STEP);
	tx_free(&x);
}
END_TEST

/* ---- the reclaimer ----------------------------------------------------------- */

START_TEST(snapshots_of_a_sweep)
{
	struct snapset set;
	snapset_init(&set);
	ck_assert_int_eq(snapset_scan(&set, &fake_source, 1, 50), 0);
	ck_assert_uint_eq(set.n, 0);
	fake_slots[1][3].snapshot = 20;
	fake_slots[0][0].snapshot = 30;
	fake_slots[1][9].snapshot = 30;
	/* Claims older than the last horizon, or newer than the commit, are
	 * no reader's: ignored. */
	fake_slots[0][5].snapshot = 5;
	fake_slots[1][0].snapshot = 70;
	ck_assert_int_eq(snapset_scan(&set, &fake_source, 10, 50), 0);
	ck_assert_uint_eq(set.n, 2); /* sorted, each once, with a holder */
	ck_assert_uint_eq(set.v[0].snap, 20);
	ck_assert_int_eq(set.v[0].pid, 101);
	ck_assert_uint_eq(set.v[1].snap, 30);
	ck_assert_uint_eq(snapset_newest_in(&set, 0, 20), 0);
	ck_assert_uint_eq(snapset_newest_in(&set, 0, 21), 20);
	ck_assert_uint_eq(snapset_newest_in(&set, 0, 100), 30);
	ck_assert_uint_eq(snapset_newest_in(&set, 21, 30), 0);
	ck_assert_uint_eq(snapset_newest_in(&set, 25, 31), 30);
	ck_assert(snapset_has(&set, 20) && !snapset_has(&set, 25));
	snapset_free(&set);
}
END_TEST

/* Memory pressure high (pressure.h): the reclaimer drops its pacing. A
 * version a reader let go is freed at the next step, not a pacing period
 * later, and a step is due whenever anything waits. */
START_TEST(eager_reclaimer_drops_the_pacing)
{
	uint32_t t;
	uint64_t ts1, now = 1000000000ull;
	struct reclaimer *rc = &f.rc;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	ck_assert_int_eq(put1(t, "k", "one", &ts1), 0);
	fake_slots[0][2].snapshot = ts1;
	ck_assert_int_eq(put1(t, "k", "two", NULL), 0);
	uint64_t used = alloc_used(&f.alloc);
	reclaimer_step(rc, now);
	reclaimer_step(rc, now + 1); /* "one" pinned for ts1 */
	fake_slots[0][2].snapshot = 0;
	ck_assert(!reclaimer_due(rc, now + 2)); /* paced: not yet */
	reclaimer_step(rc, now + 2);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	rc->eager = true;
	ck_assert(reclaimer_due(rc, now + 3));
	reclaimer_step(rc, now + 3);
	ck_assert_uint_eq(alloc_used(&f.alloc), used - alloc_class_size(shm_version_size(1, 3)));
}
END_TEST

START_TEST(reclaimer_frees_only_what_no_snapshot_sees)
{
	uint32_t t;
	uint64_t ts1, ts2, now = 1000000000ull;
	struct reclaimer *rc = &f.rc;

	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	ck_assert_int_eq(put1(t, "k", "one", &ts1), 0);
	fake_slots[0][2].snapshot = ts1; /* a reader holds "one" */
	ck_assert_int_eq(put1(t, "k", "two", &ts2), 0);
	ck_assert(reclaimer_waiting(rc));

	uint64_t used = alloc_used(&f.alloc);
	reclaimer_step(rc, now);        /* asks for a grace period */
	reclaimer_step(rc, now + 1);    /* it passed: sweep, pin "one" for ts1 */
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	ck_assert_uint_eq(f.q.horizon, ts1);
	ck_assert_uint_eq(f.meta->oldest_snapshot, ts1);
	ck_assert_uint_eq(f.meta->oldest_pid, 100);
	ck_assert_uint_eq(f.meta->snapshots, 1);
	ck_assert_uint_eq(f.meta->pinned_bytes, shm_version_size(1, 3));
	ck_assert_uint_eq(f.meta->oldest_only_bytes, shm_version_size(1, 3));
	ck_assert(sees(t, "k", "one", ts1));

	/* The reader lets go; the slots are swept again for pinned items, but
	 * no sooner than the pace allows. */
	fake_slots[0][2].snapshot = 0;
	reclaimer_step(rc, now + 2);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	reclaimer_step(rc, now + 1000000000ull);
	ck_assert_uint_eq(alloc_used(&f.alloc), used - alloc_class_size(shm_version_size(1, 3)));
	ck_assert_uint_eq(f.meta->reclaimed_bytes, shm_version_size(1, 3));
	ck_assert_uint_eq(f.meta->retired_bytes, 0);
	ck_assert_uint_eq(f.meta->pinned_bytes, 0);
	ck_assert_uint_eq(f.meta->oldest_pid, 0);
	ck_assert_uint_eq(f.q.horizon, ts2);

	/* Under memory pressure, at once. */
	fake_slots[1][1].snapshot = ts2;
	ck_assert_int_eq(put1(t, "k", "six", NULL), 0);
	reclaimer_now(rc);
	ck_assert_uint_eq(rc->pins.bytes, shm_version_size(1, 3)); /* ts2's reader sees "two" */
	fake_slots[1][1].snapshot = 0;
	reclaimer_now(rc);
	ck_assert(!reclaimer_holds(rc));
	ck_assert(sees(t, "k", "six", commit_ts()));
}
END_TEST

/* The offsets of key's chain in table id, newest first, into off[]; their
 * number. */
static unsigned chain_of(uint32_t id, const char *key, uint64_t off[], unsigned cap)
{
	const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id)];
	const uint64_t *slots = (const uint64_t *)(f.base + shm_index_off(t->index));
	uint64_t s = shm_index_find(f.base, slots, shm_index_mask(t->index),
				    shm_key_hash(key, strlen(key)), key, (uint32_t)strlen(key));
	unsigned n = 0;
	for (uint64_t at = s & SHM_SLOT_OFF_MASK; at && n < cap;) {
		const struct shm_version *v = (const void *)(f.base + at);
		off[n++] = at;
		if (v->begin_ts <= f.q.horizon)
			break; /* below it, links may point at freed blocks */
		at = v->older;
	}
	return n;
}

static const struct shm_version *version(uint64_t off)
{
	return (const struct shm_version *)(f.base + off);
}

/* Ten versions of a key; snapshots held at the 3rd and the 7th. Exact
 * reclamation keeps only the versions they see and the head, unlinks the
 * others from the middle of the chain and frees them as pruned versions; a
 * walk standing on a pruned one notices; the blocks go to new versions;
 * when the 7th's holder lets go, its version goes too (its replacement
 * was pruned before, so it is found from the head). */
START_TEST(exact_pruning_keeps_only_what_snapshots_see)
{
	uint32_t t;
	uint64_t ts[10], off[16];
	char val[8];
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(val, sizeof(val), "v%d", i);
		ck_assert_int_eq(put1(t, "k", val, &ts[i]), 0);
	}
	ck_assert_uint_eq(chain_of(t, "k", off, 16), 10);
	const struct shm_version *v5 = version(off[5]); /* "v4": a reader of ts[2] passes it */
	ck_assert_uint_eq(v5->begin_ts, ts[4]);
	fake_slots[0][0].snapshot = ts[2];
	fake_slots[1][7].snapshot = ts[6];
	uint64_t used = alloc_used(&f.alloc);
	size_t vsize = alloc_class_size(shm_version_size(1, 2));

	reclaimer_now(&f.rc);
	/* Kept: v9 (the head), v6 (ts[6]), v2 (ts[2]). v0 and v1 are older
	 * than every snapshot: freed without unlinking; v3-v5 and v7, v8
	 * unlinked. */
	ck_assert_uint_eq(alloc_used(&f.alloc), used - 7 * vsize);
	ck_assert_uint_eq(chain_of(t, "k", off, 16), 3);
	ck_assert_uint_eq(version(off[0])->begin_ts, ts[9]);
	ck_assert_uint_eq(version(off[1])->begin_ts, ts[6]);
	ck_assert_uint_eq(version(off[2])->begin_ts, ts[2]);
	ck_assert(sees(t, "k", "v2", ts[2]) && sees(t, "k", "v6", ts[6]) &&
		  sees(t, "k", "v9", commit_ts()));
	ck_assert_uint_eq(f.meta->oldest_only_bytes, shm_version_size(1, 2));
	ck_assert_uint_eq(f.meta->pinned_bytes, 2 * shm_version_size(1, 2));
	/* A reader that stood on v4 when it was pruned must restart. */
	const struct shm_version *out;
	ck_assert_uint_eq(v5->begin_ts, SHM_VERSION_FREE);
	ck_assert_int_eq(shm_chain_walk(f.base, v5, ts[4], ts[2], &out), 0);

	/* New versions take the pruned blocks, begin_ts written last. */
	ck_assert_int_eq(put1(t, "k", "v10", NULL), 0);
	ck_assert_uint_eq(v5->begin_ts, SHM_VERSION_FREE); /* a stack, the last pruned first */
	uint64_t head[1];
	ck_assert_uint_eq(chain_of(t, "k", head, 1), 1);
	ck_assert(version(head[0])->begin_ts == commit_ts());

	/* The holder of ts[6] lets go: v6 goes (its replacement v7 was pruned:
	 * found from the head), and v9, replaced by v10, goes as well. */
	fake_slots[1][7].snapshot = 0;
	reclaimer_now(&f.rc);
	ck_assert_uint_eq(chain_of(t, "k", off, 16), 2);
	ck_assert(sees(t, "k", "v2", ts[2]) && sees(t, "k", "v10", commit_ts()));
	ck_assert_uint_eq(f.meta->pinned_bytes, shm_version_size(1, 2));
	fake_slots[0][0].snapshot = 0;
	reclaimer_now(&f.rc);
	ck_assert(!reclaimer_holds(&f.rc));
	ck_assert_uint_eq(f.meta->retired_bytes, 0);
}
END_TEST

/* A dropped table is reachable only by snapshots from its creation to its
 * drop: a snapshot older than the table keeps nothing of it, one inside
 * keeps all of it, and versions it replaced before the drop are pruned as
 * in a live table while that one holds. */
START_TEST(dropped_table_kept_only_for_its_snapshots)
{
	uint32_t a, t;
	uint64_t old, inside;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "a", &a), 0);
	ck_assert_int_eq(put1(a, "x", "1", &old), 0);
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	ck_assert_int_eq(put1(t, "k", "one", NULL), 0);
	ck_assert_int_eq(put1(t, "k", "two", &inside), 0);
	ck_assert_int_eq(put1(t, "k", "three", NULL), 0);
	ck_assert_int_eq(put1(t, "k", "four", NULL), 0);
	fake_slots[0][0].snapshot = old;
	fake_slots[0][1].snapshot = inside;
	uint64_t used = alloc_used(&f.alloc);
	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "t", NULL), 0);
	reclaimer_now(&f.rc);
	/* "one" (older than both: freed), "three" (seen by neither: pruned);
	 * "two" kept for `inside`, the head "four", the index, the slot too. */
	ck_assert_uint_eq(alloc_used(&f.alloc),
			  used - alloc_class_size(shm_version_size(1, 3)) -
				  alloc_class_size(shm_version_size(1, 5)));
	ck_assert(sees(t, "k", "two", inside));
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(t)].id, t);
	/* The snapshot inside lets go: the older one cannot reach the table,
	 * so all of it goes, slot included, while `old` lives on. */
	fake_slots[0][1].snapshot = 0;
	reclaimer_now(&f.rc);
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(t)].state, SHM_TABLE_FREE);
	ck_assert_uint_eq(f.q.horizon, old);
	ck_assert(!reclaimer_holds(&f.rc));
	ck_assert(sees(a, "x", "1", old));
}
END_TEST

/* Keys inserted and deleted while an older snapshot is held: each key's
 * put is seen by no snapshot and is pruned, its tombstone then has nothing
 * below it and the key is dead to every snapshot, so rebuilds leave it out
 * and the index stays small: the held snapshot keeps only what it sees,
 * index slots included. */
START_TEST(deleted_keys_leave_the_index_under_a_held_snapshot)
{
	uint32_t t;
	uint64_t ts0;
	char k[16];
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	ck_assert_int_eq(put1(t, "held", "v", &ts0), 0);
	fake_slots[0][0].snapshot = ts0;
	for (int i = 0; i < 20000; i++) {
		struct tx x = { 0 };
		snprintf(k, sizeof(k), "key%d", i);
		ck_assert_int_eq(put1(t, k, "value", NULL), 0);
		tx_op(&x, SHM_OP_DEL, t, 0, k, strlen(k), NULL, 0);
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		tx_free(&x);
		if (i % 64 == 63)
			reclaimer_now(&f.rc);
	}
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	ck_assert_msg(shm_index_mask(tb->index) + 1 <= 1024,
		      "an index of %llu slots for one live key",
		      (unsigned long long)shm_index_mask(tb->index) + 1);
	ck_assert(sees(t, "held", "v", ts0) && sees(t, "key19999", NULL, ts0) &&
		  sees(t, "key19999", NULL, commit_ts()));
	ck_assert_uint_eq(f.q.horizon, ts0);
}
END_TEST

/* A snapshot keeps the index it found for its whole life, so a version
 * that was a key's head when that index was replaced stays reachable from
 * the old index's slot however old the snapshot: it is kept for every
 * snapshot older than its end, never pruned, and a cursor over the old
 * index still reads every key as of the snapshot. */
START_TEST(replaced_index_heads_kept_for_its_readers)
{
	uint32_t t;
	uint64_t snap;
	char k[16], v[16];
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(put1(t, k, "original", &snap), 0);
	}
	fake_slots[0][0].snapshot = snap;
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	for (int i = 0; i < 10; i++) { /* heads newer than the snapshot */
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(put1(t, k, "first", NULL), 0);
	}
	uint64_t old_word = tb->index;
	for (int i = 10; i < 200; i++) { /* the index is replaced */
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(put1(t, k, "new", NULL), 0);
	}
	ck_assert_uint_ne(tb->index, old_word);
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 10; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			snprintf(v, sizeof(v), "round%d", round);
			ck_assert_int_eq(put1(t, k, v, NULL), 0);
		}
		reclaimer_now(&f.rc);
	}
	const uint64_t *slots = (const uint64_t *)(f.base + shm_index_off(old_word));
	unsigned seen = 0;
	int n = 0;
	/* Every block the old index names is still the version it named. */
	for (uint64_t i = 0; i <= shm_index_mask(old_word); i++)
		if (slots[i])
			ck_assert_uint_lt(version(slots[i] & SHM_SLOT_OFF_MASK)->begin_ts,
					  tb->index_replaced_ts);
	for (uint64_t i = 0; i <= shm_index_mask(old_word); i++) {
		const struct shm_version *x = shm_slot_visible(f.base, &slots[i], snap);
		if (!x)
			continue;
		ck_assert_uint_eq(x->vlen, 8);
		ck_assert(!memcmp((const uint8_t *)x + shm_version_value_off(x->klen), "original", 8));
		ck_assert(x->klen == 2 && x->key[0] == 'k' && x->key[1] >= '0' && x->key[1] <= '9');
		seen |= 1u << (x->key[1] - '0'); /* each key once */
		ck_assert_int_eq(__builtin_popcount(seen), ++n);
	}
	ck_assert_uint_eq(seen, 0x3ff);
	/* Once the snapshot ends, all of it goes. */
	fake_slots[0][0].snapshot = 0;
	reclaimer_now(&f.rc);
	ck_assert(!reclaimer_holds(&f.rc));
}
END_TEST

/* A check since before a delete fails even after an index build left the
 * deleted key out (here because an older snapshot let the reclaimer prune
 * the key's only version, so no snapshot sees the key any more). */
START_TEST(check_sees_a_delete_whose_key_was_left_out)
{
	uint32_t t;
	uint64_t ts0, ts1;
	char k[16];
	struct tx x = { 0 };
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	ck_assert_int_eq(put1(t, "a", "v", &ts0), 0);
	fake_slots[0][0].snapshot = ts0;
	ck_assert_int_eq(put1(t, "gone", "v", &ts1), 0);
	tx_op(&x, SHM_OP_DEL, t, 0, "gone", 4, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	reclaimer_now(&f.rc); /* "gone"'s put: seen by no snapshot, pruned */
	for (int i = 0; i < 200; i++) { /* the index is rebuilt */
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(put1(t, k, "v", NULL), 0);
	}
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	ck_assert_uint_eq(shm_index_find(f.base, (const uint64_t *)(f.base + shm_index_off(tb->index)),
					 shm_index_mask(tb->index), shm_key_hash("gone", 4), "gone", 4),
			  0); /* left out */
	tx_op(&x, SHM_OP_CHECK, t, ts1, "gone", 4, NULL, 0);
	tx_put(&x, t, "gone", "back");
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), SHMDB_ECONFLICT);
	tx_free(&x);
	tx_op(&x, SHM_OP_CHECK, t, commit_ts(), "gone", 4, NULL, 0);
	tx_put(&x, t, "gone", "back");
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	ck_assert(sees(t, "gone", "back", commit_ts()) && sees(t, "a", "v", ts0));
}
END_TEST

/* A pruned block stays a version block while a reader may stand on it,
 * even once it has held a version of a dropped table that no live snapshot
 * can reach: only a version may take it, until no snapshot is as old. */
START_TEST(pruned_block_stays_a_version_through_a_drop)
{
	uint32_t a, t2;
	uint64_t ts0, off[4];
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "a", &a), 0);
	ck_assert_int_eq(put1(a, "k", "v0", &ts0), 0);
	fake_slots[0][0].snapshot = ts0;
	ck_assert_int_eq(put1(a, "k", "v1", NULL), 0);
	ck_assert_int_eq(chain_of(a, "k", off, 4), 2);
	uint64_t pruned = off[0]; /* "v1", replaced next and seen by no snapshot */
	ck_assert_int_eq(put1(a, "k", "v2", NULL), 0);
	reclaimer_now(&f.rc);
	ck_assert_uint_eq(version(pruned)->begin_ts, SHM_VERSION_FREE);
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t2", &t2), 0);
	ck_assert_int_eq(put1(t2, "x", "v3", NULL), 0); /* takes the pruned block */
	ck_assert_int_eq(chain_of(t2, "x", off, 4), 1);
	ck_assert_uint_eq(off[0], pruned);
	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "t2", NULL), 0);
	reclaimer_now(&f.rc); /* t2 is out of every live snapshot's reach */
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(t2)].state, SHM_TABLE_FREE);
	ck_assert_uint_eq(version(pruned)->begin_ts, SHM_VERSION_FREE);
	uint64_t other = alloc_get(&f.alloc, shm_version_size(1, 2));
	ck_assert_uint_ne(other, pruned);
	alloc_put(&f.alloc, other, shm_version_size(1, 2));
	/* The old snapshot ends: under pressure the block serves anything. */
	fake_slots[0][0].snapshot = 0;
	ck_assert_int_eq(put1(a, "k", "v4", NULL), 0);
	reclaimer_now(&f.rc);
	ck_assert(!alloc_versions_held(&f.alloc));
}
END_TEST

/* The records a snapshot sees through the table's count versions. */
static uint64_t count_seen(uint32_t id, uint64_t snap)
{
	const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id)];
	const struct shm_version *v = shm_slot_visible(f.base, &t->count_head, snap);
	struct shm_count c = { 0 };
	if (v)
		memcpy(&c, (const uint8_t *)v + shm_version_value_off(0), sizeof(c));
	return c.records;
}

/* Count versions: one per commit that changes the count, each snapshot
 * reads its own, and they are reclaimed exactly like a key's versions:
 * under a held snapshot only its count and the newest stay; a drop keeps
 * the count for the table's snapshots and lets it go after them. */
START_TEST(count_versions_per_snapshot)
{
	uint32_t t;
	uint64_t ts0;
	char k[16];
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	ck_assert_uint_eq(count_seen(t, commit_ts()), 0);
	ck_assert_int_eq(put1(t, "a", "v", &ts0), 0);
	fake_slots[0][0].snapshot = ts0;
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(put1(t, k, "v", NULL), 0);
	}
	ck_assert_int_eq(put1(t, "k0", "w", NULL), 0); /* same count and bytes: no version */
	reclaimer_now(&f.rc);
	ck_assert_uint_eq(count_seen(t, ts0), 1);
	ck_assert_uint_eq(count_seen(t, commit_ts()), 101);
	/* Of the 101 count versions written, two are kept: the newest and
	 * the one ts0 sees, linked to each other. */
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	const struct shm_version *head = version(tb->count_head);
	ck_assert_uint_eq(head->begin_ts, commit_ts() - 1);
	ck_assert_uint_le(version(head->older)->begin_ts, ts0);
	/* ts0's count version, and the indexes replaced since, only ts0 keeps. */
	ck_assert_uint_ge(f.meta->oldest_only_bytes, SHM_COUNT_VERSION_SIZE);
	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "t", NULL), 0);
	reclaimer_now(&f.rc);
	ck_assert_uint_eq(count_seen(t, ts0), 1); /* ts0 still reads the dropped table */
	fake_slots[0][0].snapshot = 0;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "u", NULL), 0);
	reclaimer_now(&f.rc);
	ck_assert(!reclaimer_holds(&f.rc));
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(t)].state, SHM_TABLE_FREE);
}
END_TEST

/* A clear followed by puts replaces a table's contents in one commit: the
 * snapshot before sees the old contents, the one after only the new; the
 * clear sized the new index for the puts after it; a check since before the
 * clear fails; the old index and its heads go once no snapshot can use
 * them, in steps; count versions follow. */
START_TEST(clear_replaces_contents_at_once)
{
	uint32_t t;
	uint64_t before, after;
	char k[16];
	struct tx x = { 0 };
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "t", &t), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(k, sizeof(k), "old%d", i);
		tx_put(&x, t, k, "o");
	}
	ck_assert_int_eq(tx_commit(&x, &before, NULL), 0);
	tx_free(&x);
	fake_slots[0][0].snapshot = before;
	uint64_t used = alloc_used(&f.alloc);
	tx_op(&x, SHM_OP_CLEAR, t, 0, NULL, 0, NULL, 0);
	for (int i = 0; i < 1000; i++) { /* more than a minimal index holds */
		snprintf(k, sizeof(k), "new%d", i);
		tx_put(&x, t, k, "n");
	}
	ck_assert_int_eq(tx_commit(&x, &after, NULL), 0);
	tx_free(&x);
	ck_assert(sees(t, "old7", "o", before) && sees(t, "new7", NULL, before));
	ck_assert(sees(t, "old7", NULL, after) && sees(t, "new999", "n", after));
	ck_assert_uint_eq(count_seen(t, before), 500);
	ck_assert_uint_eq(count_seen(t, after), 1000);
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	ck_assert_uint_eq(tb->index_used, 1000);
	ck_assert_uint_le(tb->index_used, (shm_index_mask(tb->index) + 1) * 3 / 4);
	/* A check since before the clear conflicts, on any key. */
	tx_op(&x, SHM_OP_CHECK, t, before, "old7", 4, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), SHMDB_ECONFLICT);
	tx_free(&x);
	/* Held by `before`: the old contents stay. */
	reclaimer_now(&f.rc);
	ck_assert(sees(t, "old499", "o", before));
	uint64_t held = alloc_used(&f.alloc);
	ck_assert_uint_gt(held, used);
	/* Let go: freed in steps of the reclaimer, each bounded. */
	fake_slots[0][0].snapshot = 0;
	ck_assert_int_eq(put1(t, "new0", "again", NULL), 0);
	uint64_t now = 4000000000ull;
	int steps = 0;
	for (; steps < 100 && (reclaimer_holds(&f.rc) || f.rc.ndrains); steps++)
		reclaimer_step(&f.rc, now += 100000000ull);
	ck_assert_uint_eq(f.rc.ndrains, 0);
	ck_assert_int_gt(steps, 1);
	ck_assert_uint_lt(alloc_used(&f.alloc), held - 500 * alloc_class_size(shm_version_size(6, 1)));
	/* A clear of a missing table applies nothing. */
	tx_op(&x, SHM_OP_CLEAR, t + 1, 0, NULL, 0, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -ENOENT);
	tx_free(&x);
}
END_TEST


/* ---- ordered tables: the copy-on-write tree -------------------------------- */

#define TREE_KEYS 600

/* A model of one ordered table or multimap: the set of its records, each
 * key (and value) a short string. */
struct tmodel {
	unsigned n;
	char rec[4 * TREE_KEYS][2][12];
};

static int trec_cmp(const void *a, const void *b)
{
	const char(*x)[12] = a, (*y)[12] = b;
	int r = shm_bytes_cmp((const uint8_t *)x[0], strlen(x[0]), (const uint8_t *)y[0],
			      strlen(y[0]));
	return r ? r : shm_bytes_cmp((const uint8_t *)x[1], strlen(x[1]), (const uint8_t *)y[1],
				     strlen(y[1]));
}

static int tmodel_find(const struct tmodel *m, const char *k, const char *v, int multi)
{
	for (unsigned i = 0; i < m->n; i++)
		if (!strcmp(m->rec[i][0], k) && (!multi || !strcmp(m->rec[i][1], v)))
			return (int)i;
	return -1;
}

static void tmodel_del(struct tmodel *m, unsigned i)
{
	memcpy(m->rec[i], m->rec[--m->n], sizeof(m->rec[i]));
}

/* A new ordered table `name` holding n records, record i under the key
 * fmt of i * step with the value "v<i>", put in one transaction, and *m
 * its model: the table's id. */
static uint32_t ordered_loaded(const char *name, struct tmodel *m, unsigned n, const char *fmt,
			       unsigned step)
{
	uint64_t value;
	struct tx x = { 0 };
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, name, strlen(name), NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	uint32_t id = (uint32_t)value;
	m->n = 0;
	for (unsigned i = 0; i < n; i++) {
		snprintf(m->rec[m->n][0], 12, fmt, i * step);
		snprintf(m->rec[m->n][1], 12, "v%u", i);
		tx_op(&x, SHM_OP_PUT, id, 0, m->rec[m->n][0], strlen(m->rec[m->n][0]),
		      m->rec[m->n][1], strlen(m->rec[m->n][1]));
		m->n++;
	}
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	return id;
}

/* Walk the subtree at off, appending its records to out[*n] (each checked
 * against the shape invariants) and adding its nodes' bytes; returns its
 * height. `lo`: the entry its parent names it by (NULL at the root). */
static unsigned walk_tree(uint64_t off, int multi, char (*out)[2][12], unsigned *n,
			  uint64_t *bytes, uint64_t snap)
{
	const struct shm_node *nd = shm_node_at(f.base, off);
	ck_assert_uint_ge(nd->count, 1);
	ck_assert_uint_le(nd->count, nd->cap);
	ck_assert_uint_le(nd->cap, SHM_NODE_MAX);
	ck_assert_uint_eq(nd->gen % 2, 0);
	if (nd->level || multi) /* only an ordered table's leaves take keys in place */
		ck_assert_uint_eq(nd->cap, nd->count);
	ck_assert_uint_le(nd->created_ts, snap);
	*bytes += alloc_class_size(nd->bytes);
	unsigned height = 0;
	for (unsigned i = 0; i < nd->count; i++) {
		const struct shm_node_entry *e = &shm_node_ent(nd)[i];
		const uint8_t *b = shm_entry_bytes(nd, i);
		ck_assert_uint_eq(shm_node_prefix(nd)[i], shm_key_prefix(b, e->klen));
		if (i)
			ck_assert_int_lt(shm_bytes_cmp(shm_entry_bytes(nd, i - 1),
						       shm_node_ent(nd)[i - 1].klen, b, e->klen) *
						 (multi ? 0 : 1),
					 1);
		if (nd->level) {
			unsigned first = *n;
			unsigned h = walk_tree(shm_node_ref(nd)[i], multi, out, n, bytes, snap);
			ck_assert_uint_eq(h, nd->level - 1u);
			/* the entry is its child's first record */
			ck_assert_uint_gt(*n, first);
			ck_assert_uint_eq(strlen(out[first][0]), e->klen);
			ck_assert(!memcmp(out[first][0], b, e->klen));
			height = nd->level;
			continue;
		}
		ck_assert_uint_lt(*n, 4 * TREE_KEYS);
		const struct shm_version *v = NULL;
		if (!multi) {
			/* the head of the key's chain: its version of snap on it,
			 * or none (a tombstone) for a key added in place later,
			 * never before the leaf's first */
			v = shm_slot_visible(f.base, &shm_node_ref(nd)[i], snap);
			if (!v || v->vlen == SHM_TOMBSTONE) {
				const struct shm_version *head =
					(const struct shm_version *)(f.base + shm_node_ref(nd)[i]);
				ck_assert_uint_gt(head->begin_ts, snap);
				ck_assert_uint_gt(i, 0);
				continue;
			}
		}
		memset(out[*n], 0, sizeof(out[*n]));
		memcpy(out[*n][0], b, e->klen);
		if (multi) {
			memcpy(out[*n][1], b + e->klen, e->vlen);
		} else {
			ck_assert_uint_le(v->begin_ts, snap);
			ck_assert_uint_ne(v->vlen, SHM_TOMBSTONE);
			ck_assert(v->klen == e->klen && !memcmp(v->key, b, e->klen));
			memcpy(out[*n][1], (const uint8_t *)v + shm_version_value_off(v->klen), v->vlen);
		}
		(*n)++;
	}
	return height;
}

/* Table id in snapshot snap is exactly the model: its tree in order, its
 * count, its node bytes; and each record found by a seek. */
static void check_tree(uint32_t id, int multi, const struct tmodel *m, uint64_t snap)
{
	static char got[4 * TREE_KEYS][2][12], want[4 * TREE_KEYS][2][12];
	const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id)];
	struct shm_count c = shm_count_at(f.base, t, snap);
	unsigned n = 0;
	uint64_t bytes = 0;
	if (c.root)
		walk_tree(c.root, multi, got, &n, &bytes, snap);
	if (c.pending) {
		/* The key left out of the tree (layout.h, shm_count): a
		 * record of the snapshot, in the tree only if placed in place
		 * since. */
		const struct shm_version *v = (const void *)(f.base + c.pending);
		ck_assert(!multi && c.root);
		ck_assert_uint_le(v->begin_ts, snap);
		ck_assert_uint_ne(v->vlen, SHM_TOMBSTONE);
		ck_assert(shm_slot_visible(f.base, &c.pending, snap) == v);
		char rec[2][12] = { { 0 } };
		memcpy(rec[0], v->key, v->klen);
		memcpy(rec[1], (const uint8_t *)v + shm_version_value_off(v->klen), v->vlen);
		unsigned i = 0;
		while (i < n && trec_cmp(got[i], rec))
			i++;
		if (i == n) {
			memcpy(got[n++], rec, sizeof(rec));
			qsort(got, n, sizeof(got[0]), trec_cmp);
		}
	}
	memcpy(want, m->rec, m->n * sizeof(m->rec[0]));
	qsort(want, m->n, sizeof(want[0]), trec_cmp);
	ck_assert_uint_eq(n, m->n);
	ck_assert_uint_eq(c.records, m->n);
	ck_assert_uint_eq(c.tree_bytes, bytes);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_str_eq(got[i][0], want[i][0]);
		ck_assert_str_eq(got[i][1], want[i][1]);
		if (i)
			ck_assert_int_lt(trec_cmp(got[i - 1], got[i]), 0);
	}
}

/* One random transaction on table id (a multimap if multi) and the model:
 * puts, deletes (of pairs and of keys), now and then a clear. */
static void random_tree_txn(uint32_t id, int multi, struct tmodel *m, unsigned *seed)
{
	struct tx x = { 0 };
	unsigned ops = 1 + rand_r(seed) % (rand_r(seed) % 8 ? 8 : 300);
	if (rand_r(seed) % 40 == 0) {
		tx_op(&x, SHM_OP_CLEAR, id, 0, NULL, 0, NULL, 0);
		m->n = 0;
	}
	for (unsigned i = 0; i < ops; i++) {
		char k[12], v[12];
		/* keys that are prefixes of each other, and shared prefixes */
		unsigned r = rand_r(seed) % TREE_KEYS;
		snprintf(k, sizeof(k), "%s%u", r % 3 ? "k" : "", r % 7 ? r : r / 7);
		snprintf(v, sizeof(v), "%u", rand_r(seed) % (multi ? 5 : 1000));
		unsigned what = rand_r(seed) % 10;
		int at = tmodel_find(m, k, v, multi);
		if (what < 6) {
			tx_op(&x, SHM_OP_PUT, id, 0, k, strlen(k), v, strlen(v));
			if (at < 0) {
				at = (int)m->n++;
				strcpy(m->rec[at][0], k);
			}
			strcpy(m->rec[at][1], v);
		} else if (what < 8 && multi) {
			tx_op(&x, SHM_OP_DEL_VALUE, id, 0, k, strlen(k), v, strlen(v));
			if (at >= 0)
				tmodel_del(m, (unsigned)at);
		} else {
			tx_op(&x, SHM_OP_DEL, id, 0, k, strlen(k), NULL, 0);
			while ((at = tmodel_find(m, k, v, 0)) >= 0)
				tmodel_del(m, (unsigned)at);
		}
	}
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
}

/* An ordered table and a multimap against models, transaction by
 * transaction, with snapshots held at random and checked again later
 * against the model of their commit; then all of it dropped and let go:
 * every node and version given back. */
START_TEST(tree_against_a_model)
{
	static struct tmodel model[2], held[2][4];
	uint64_t held_ts[4] = { 0 };
	uint32_t id[2];
	unsigned seed = 7;
	uint64_t used = alloc_used(&f.alloc);
	struct tx x = { 0 };
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "o", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &(uint64_t){ 0 }), 0);
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED | SHMDB_MULTI, "m", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	id[0] = f.meta->tables[shm_table_find(f.meta, "o", 1, NULL)].id;
	id[1] = f.meta->tables[shm_table_find(f.meta, "m", 1, NULL)].id;
	memset(model, 0, sizeof(model));
	for (int round = 0; round < 1500; round++) {
		int which = round % 2;
		random_tree_txn(id[which], which, &model[which], &seed);
		check_tree(id[which], which, &model[which], commit_ts());
		if (rand_r(&seed) % 50 == 0) {
			unsigned s = rand_r(&seed) % 4;
			if (held_ts[s]) {
				check_tree(id[0], 0, &held[0][s], held_ts[s]);
				check_tree(id[1], 1, &held[1][s], held_ts[s]);
			}
			held_ts[s] = commit_ts();
			held[0][s] = model[0];
			held[1][s] = model[1];
			fake_slots[0][s].snapshot = held_ts[s];
		}
		if (round % 100 == 0)
			reclaimer_now(&f.rc);
	}
	for (unsigned s = 0; s < 4; s++) {
		if (held_ts[s]) {
			check_tree(id[0], 0, &held[0][s], held_ts[s]);
			check_tree(id[1], 1, &held[1][s], held_ts[s]);
		}
	}
	/* A multimap key's many values, across leaves, gone with one del. */
	for (int i = 0; i < 2000; i++) {
		char v[12];
		snprintf(v, sizeof(v), "%05d", i);
		tx_op(&x, SHM_OP_PUT, id[1], 0, "wide", 4, v, strlen(v));
	}
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	ck_assert_uint_eq(shm_count_at(f.base, &f.meta->tables[SHM_TABLE_SLOT(id[1])],
				       commit_ts()).records, model[1].n + 2000);
	tx_op(&x, SHM_OP_DEL, id[1], 0, "wide", 4, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	check_tree(id[1], 1, &model[1], commit_ts());
	/* Dropped and let go: everything back, in steps. */
	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "o", NULL), 0);
	ck_assert_int_eq(table_op(SHM_OP_DROP_TABLE, "m", NULL), 0);
	memset(fake_slots, 0, sizeof(fake_slots));
	reclaim_all();
	reclaim_all();
	ck_assert_uint_eq(f.rc.ndrains, 0);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
}
END_TEST


/* The leaves under the node at off. */
static unsigned count_leaves(uint64_t off)
{
	const struct shm_node *nd = shm_node_at(f.base, off);
	unsigned n = 0;
	if (!nd->level)
		return 1;
	for (unsigned i = 0; i < nd->count; i++)
		n += count_leaves(shm_node_ref(nd)[i]);
	return n;
}

/* An ordered table thinned out by deletes merges its leaves again (they
 * are written with room for more keys, which must not make a leaf of a few
 * keys look big): 6,400 keys, then 63 of every 64 deleted. */
START_TEST(thinned_ordered_tree_merges_its_leaves)
{
	enum { KEYS = 6400, KEEP_EVERY = 64 };
	uint32_t id;
	struct tx x = { 0 };
	char k[12];
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "o", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &(uint64_t){ 0 }), 0);
	tx_free(&x);
	id = f.meta->tables[shm_table_find(f.meta, "o", 1, NULL)].id;
	for (unsigned i = 0; i < KEYS; i++) {
		snprintf(k, sizeof(k), "t%05u", i);
		tx_op(&x, SHM_OP_PUT, id, 0, k, strlen(k), "v", 1);
		if (i % 1000 == 999 || i + 1 == KEYS) {
			ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
			tx_free(&x);
		}
	}
	const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id)];
	unsigned full = count_leaves(shm_count_at(f.base, t, commit_ts()).root);
	for (unsigned i = 0; i < KEYS; i++) {
		if (i % KEEP_EVERY == 0)
			continue;
		snprintf(k, sizeof(k), "t%05u", i);
		tx_op(&x, SHM_OP_DEL, id, 0, k, strlen(k), NULL, 0);
		if (i % 500 == 499 || i + 1 == KEYS) {
			ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
			tx_free(&x);
		}
	}
	struct shm_count c = shm_count_at(f.base, t, commit_ts());
	unsigned thin = count_leaves(c.root);
	printf("core: %u leaves for %u keys, %u for %llu\n", full, (unsigned)KEYS, thin, (unsigned long long)c.records);
	ck_assert_uint_eq(c.records, KEYS / KEEP_EVERY);
	/* at least about a quarter full, as tree.c keeps them */
	ck_assert_uint_le(thin * (SHM_NODE_MAX / 8), c.records + SHM_NODE_MAX);
}
END_TEST

/* The leaves that take a transaction's changes in place first, the
 * general walk for the rest (tree.c, take_in_leaves): overwrites and an
 * insert in place in several leaves write no node; with a delete in
 * another leaf, only that leaf goes the general way and the others' changes
 * stay queued; a leaf that takes an insert in place while the delete of
 * most of its sibling merges the two has its insert made in the merged
 * leaf. Every change applies once, and an older snapshot keeps its tree. */
START_TEST(leaves_in_place_and_the_general_walk)
{
	static struct tmodel m, before;
	struct tx x = { 0 };
	uint32_t id = ordered_loaded("s", &m, 300, "k%03u0", 1);
	const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id)];
	ck_assert_uint_gt(count_leaves(t->root), 2);
	uint64_t root = t->root, bytes = t->tree_bytes;
	/* overwrites in the first and last leaves, an insert between keys */
	tx_op(&x, SHM_OP_PUT, id, 0, "k0100", 5, "w10", 3);
	tx_op(&x, SHM_OP_PUT, id, 0, "k2900", 5, "w290", 4);
	tx_op(&x, SHM_OP_PUT, id, 0, "k0105", 5, "new", 3);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	strcpy(m.rec[10][1], "w10");
	strcpy(m.rec[290][1], "w290");
	strcpy(m.rec[m.n][0], "k0105");
	strcpy(m.rec[m.n++][1], "new");
	ck_assert_uint_eq(t->root, root);
	ck_assert_uint_eq(t->tree_bytes, bytes);
	check_tree(id, 0, &m, commit_ts());
	before = m;
	uint64_t before_ts = commit_ts();
	fake_slots[0][0].snapshot = before_ts;
	/* an overwrite and an insert the first leaf takes in place, a delete
	 * in the last */
	tx_op(&x, SHM_OP_PUT, id, 0, "k0110", 5, "w11", 3);
	tx_op(&x, SHM_OP_PUT, id, 0, "k0115", 5, "new2", 4);
	tx_op(&x, SHM_OP_DEL, id, 0, "k2910", 5, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	strcpy(m.rec[11][1], "w11");
	tmodel_del(&m, 291);
	strcpy(m.rec[m.n][0], "k0115");
	strcpy(m.rec[m.n++][1], "new2");
	ck_assert_uint_ne(t->root, root);
	check_tree(id, 0, &m, commit_ts());
	check_tree(id, 0, &before, before_ts);
	/* The root's children 1 and 2: all but one key of child 1 deleted
	 * (it merges with child 2), a key inserted between two of child 2's. */
	const struct shm_node *top = shm_node_at(f.base, t->root);
	ck_assert_uint_eq(top->level, 1);
	ck_assert_uint_gt(top->count, 3);
	const struct shm_node *c1 = shm_node_at(f.base, shm_node_ref(top)[1]);
	const struct shm_node *c2 = shm_node_at(f.base, shm_node_ref(top)[2]);
	unsigned leaves = count_leaves(t->root);
	char k2[12] = { 0 };
	memcpy(k2, shm_entry_bytes(c2, 0), 5);
	strcpy(k2 + 5, "5"); /* after c2's first key, before its second */
	for (unsigned i = 1; i < c1->count; i++) {
		char k[12] = { 0 };
		memcpy(k, shm_entry_bytes(c1, i), 5);
		tx_op(&x, SHM_OP_DEL, id, 0, k, 5, NULL, 0);
		tmodel_del(&m, (unsigned)tmodel_find(&m, k, NULL, 0));
	}
	tx_op(&x, SHM_OP_PUT, id, 0, k2, 6, "mid", 3);
	tx_op(&x, SHM_OP_PUT, id, 0, "k0100", 5, "w10b", 4);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	strcpy(m.rec[m.n][0], k2);
	strcpy(m.rec[m.n++][1], "mid");
	strcpy(m.rec[tmodel_find(&m, "k0100", NULL, 0)][1], "w10b");
	ck_assert_uint_lt(count_leaves(t->root), leaves);
	check_tree(id, 0, &m, commit_ts());
	check_tree(id, 0, &before, before_ts);
	fake_slots[0][0].snapshot = 0;
}
END_TEST

/* Short transactions settle a tie of 8-byte prefixes with one entry of a
 * leaf by the key of the entry's head version (tree.c, leaf_place), a tie
 * with several by the keys in the leaf: overwrites and inserts before,
 * after and between tied keys, one per transaction, keep the order and
 * the count, and take their leaves in place. */
START_TEST(prefix_ties_in_short_transactions)
{
	static struct tmodel m;
	struct tx x = { 0 };
	uint32_t id = ordered_loaded("ties", &m, 200, "%07u:m", 10);
	const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id)];
	/* Keys inside one leaf (not its first or last): k[j] with the
	 * 8-byte prefix of its entry 5 * (j + 1) and a last byte of its own. */
	const struct shm_node *top = shm_node_at(f.base, t->root);
	ck_assert_uint_eq(top->level, 1);
	const struct shm_node *leaf = shm_node_at(f.base, shm_node_ref(top)[1]);
	ck_assert_uint_gt(leaf->count, 21);
	char p[4][10];
	for (unsigned j = 0; j < 4; j++)
		memcpy(p[j], shm_entry_bytes(leaf, 5 * (j + 1)), 8), p[j][8] = 0;
	/* key (prefix number, last byte or none), value, whether it is new:
	 * each its own transaction */
	static const struct { unsigned p; char last; const char *v; int fresh; } ops[] = {
		{ 0, 'm', "o1", 0 }, /* one tie: an overwrite */
		{ 0, 'a', "n1", 1 }, /* one tie: before it */
		{ 0, 'z', "n2", 1 }, /* two ties: in the leaf */
		{ 1, 'z', "n3", 1 }, /* one tie: after it */
		{ 2, 0, "n4", 1 },   /* one tie, a key that is its prefix */
		{ 3, 'm', "o2", 0 }, /* one tie: an overwrite */
		{ 0, 'a', "o3", 0 }, /* three ties */
		{ 2, 0, "o4", 0 },   /* two ties */
	};
	uint64_t root = t->root;
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		char key[12];
		snprintf(key, sizeof(key), "%s%c", p[ops[k].p], ops[k].last);
		size_t klen = strlen(key);
		tx_op(&x, SHM_OP_PUT, id, 0, key, klen, ops[k].v, strlen(ops[k].v));
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		int at = tmodel_find(&m, key, NULL, 0);
		ck_assert_int_eq(at < 0, ops[k].fresh);
		if (at < 0) {
			strcpy(m.rec[m.n][0], key);
			at = (int)m.n++;
		}
		strcpy(m.rec[at][1], ops[k].v);
		check_tree(id, 0, &m, commit_ts());
		ck_assert_uint_eq(t->root, root); /* the leaf took it in place */
	}
	tx_free(&x);
}
END_TEST

/* A snapshot older than the versions stored into leaves in place has
 * notes made for it when the leaves are replaced (reach.h), and reads
 * through the replaced leaves after those versions were overwritten and
 * everything it cannot see reclaimed. Once every snapshot is at least as
 * new as a leaf's last store in place, its replacement notes nothing: no
 * snapshot is older than a version it names. */
START_TEST(replaced_leaves_noted_only_for_older_snapshots)
{
	enum { N = 300 };
	static struct tmodel at_load;
	uint64_t value;
	struct tx x = { 0 };
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "r", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	uint32_t id = (uint32_t)value;
	at_load.n = N;
	for (unsigned i = 0; i < N; i++) {
		snprintf(at_load.rec[i][0], 12, "r%05u", i);
		strcpy(at_load.rec[i][1], "a");
		tx_put(&x, id, at_load.rec[i][0], "a");
	}
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	uint64_t loaded = commit_ts();
	for (int held = 1; held >= 0; held--) {
		fake_slots[0][4].snapshot = held ? loaded : 0;
		reclaim_all();
		/* Overwrites in place: every leaf stays, naming new versions. */
		for (unsigned i = 0; i < N; i += 2)
			tx_put(&x, id, at_load.rec[i][0], held ? "c" : "b");
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		uint64_t stored = commit_ts();
		reclaim_all();
		ck_assert_uint_eq(f.q.horizon, (held ? loaded : stored));
		/* A delete in every leaf writes each anew. */
		for (unsigned i = 1; i < N; i += 10)
			tx_op(&x, SHM_OP_DEL, id, 0, at_load.rec[i][0], 6, NULL, 0);
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		size_t notes = reach_count(&f.c.tree.reach);
		if (!held) {
			ck_assert_uint_eq(notes, 0);
			break;
		}
		ck_assert_uint_ge(notes, N / 2 - N / 10);
		/* Overwritten again and reclaimed: the snapshot of the load
		 * still walks its own leaves, through the noted versions. */
		for (unsigned i = 0; i < N; i += 2)
			tx_put(&x, id, at_load.rec[i][0], "d");
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		reclaim_all();
		check_tree(id, 0, &at_load, loaded);
		for (unsigned i = 0; i < N; i++)
			ck_assert(sees(id, at_load.rec[i][0], "a", loaded));
		for (unsigned i = 1; i < N; i += 10) /* back, for the next round */
			tx_put(&x, id, at_load.rec[i][0], "a");
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	}
	tx_free(&x);
}
END_TEST

/* ---- gathering a table's records (cluster.h) ------------------------ */

#define GATHER_KEYS 600
#define GATHER_ROUNDS 8

/* Put perm[0..n) in a random order (Fisher-Yates, rand_r from *seed). */
static void shuffle(unsigned *perm, unsigned n, unsigned *seed)
{
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)rand_r(seed) % (i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}

/* Table "g", ordered, with GATHER_KEYS keys put in random order and then
 * overwritten in random order GATHER_ROUNDS - 1 times, 100 puts a
 * transaction, each put with one of a hash table's between (so the
 * versions scatter): the model in *m, the snapshot of the empty tables
 * in *empty, the one before the last round in *prev. Its id. */
static uint32_t scattered_table(struct tmodel *m, unsigned seed, uint64_t *empty, uint64_t *prev,
				uint32_t *filler)
{
	uint32_t id, h;
	unsigned perm[GATHER_KEYS];
	struct tx x = { 0 };
	uint64_t value;
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "g", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	id = (uint32_t)value;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "h", &h), 0);
	*empty = commit_ts();
	m->n = GATHER_KEYS;
	for (unsigned i = 0; i < GATHER_KEYS; i++) {
		snprintf(m->rec[i][0], 12, "k%05u", i * 7);
		perm[i] = i;
	}
	for (unsigned round = 0; round < GATHER_ROUNDS; round++) {
		shuffle(perm, GATHER_KEYS, &seed);
		for (unsigned j = 0; j < GATHER_KEYS; j++) {
			unsigned i = perm[j];
			snprintf(m->rec[i][1], 12, "v%u.%u", i, round);
			tx_put(&x, id, m->rec[i][0], m->rec[i][1]);
			tx_put(&x, h, m->rec[i][0], "filler");
			if (j % 100 == 99)
				ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		}
		if (round == GATHER_ROUNDS - 2)
			*prev = commit_ts();
	}
	tx_free(&x);
	*filler = h;
	return id;
}

/* Run the writer's gathering steps until no pass is due (bounded). */
static void gather_all(void)
{
	unsigned steps = 0;
	while (cluster_pending(&f.c.cluster) && steps++ < 100000)
		cluster_step(&f.c);
	ck_assert(!cluster_pending(&f.c.cluster));
}

/* The leaves under the node at off whose neighbouring refs lie more than a
 * page apart more than once; into *leaves the leaves walked. */
static unsigned scattered_leaves(uint64_t off, unsigned *leaves)
{
	const struct shm_node *nd = shm_node_at(f.base, off);
	unsigned n = 0;
	if (nd->level) {
		for (unsigned i = 0; i < nd->count; i++)
			n += scattered_leaves(shm_node_ref(nd)[i], leaves);
		return n;
	}
	unsigned far = 0;
	const uint64_t *ref = shm_node_ref(nd);
	for (unsigned i = 1; i < nd->count; i++)
		far += (ref[i] > ref[i - 1] ? ref[i] - ref[i - 1] : ref[i - 1] - ref[i]) >= 4096;
	(*leaves)++;
	return far > 1;
}

/* The versions of an ordered table loaded in random order and overwritten
 * lie scattered; the writer's idle steps copy each leaf's side by side in
 * key order. Every snapshot reads the same records after; a held snapshot
 * keeps the originals until it ends; then they are freed with no commit in
 * between, and memory in use is what it was. */
START_TEST(gathered_records_read_as_before)
{
	static struct tmodel m;
	uint64_t empty, prev, now = 1000000000ull;
	uint32_t h, id = scattered_table(&m, 7, &empty, &prev, &h);
	const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id)];
	uint64_t snap = commit_ts();
	fake_slots[0][3].snapshot = snap;
	reclaim_all(); /* only the heads are left, all older than the horizon */
	unsigned leaves = 0;
	ck_assert_uint_gt(scattered_leaves(t->root, &leaves), leaves / 2);

	uint64_t old[GATHER_KEYS], old_h[GATHER_KEYS], used = alloc_used(&f.alloc);
	for (unsigned i = 0; i < GATHER_KEYS; i++) {
		old[i] = (uint64_t)((const uint8_t *)lookup(id, m.rec[i][0], 6, snap) - f.base);
		old_h[i] = (uint64_t)((const uint8_t *)lookup(h, m.rec[i][0], 6, snap) - f.base);
	}
	ck_assert(cluster_pending(&f.c.cluster));
	gather_all();
	ck_assert_uint_ge(f.c.cluster.moved, GATHER_KEYS * 9 / 10);
	ck_assert_uint_eq(f.c.cluster.passes, 2); /* the table's, and the filler's (a hash table) */
	ck_assert_uint_eq(commit_ts(), snap); /* nothing a snapshot sees changed */
	leaves = 0;
	ck_assert_uint_eq(scattered_leaves(t->root, &leaves), 0);
	check_tree(id, 0, &m, snap);
	unsigned moved = 0, moved_h = 0;
	for (unsigned i = 0; i < GATHER_KEYS; i++) {
		ck_assert(sees(id, m.rec[i][0], m.rec[i][1], snap));
		ck_assert(sees(h, m.rec[i][0], "filler", snap));
		const struct shm_version *v = lookup(id, m.rec[i][0], 6, snap);
		moved += (uint64_t)((const uint8_t *)v - f.base) != old[i];
		v = lookup(h, m.rec[i][0], 6, snap);
		moved_h += (uint64_t)((const uint8_t *)v - f.base) != old_h[i];
	}
	ck_assert_uint_ge(moved_h, GATHER_KEYS / 2);
	ck_assert_uint_eq(moved + moved_h, f.c.cluster.moved);

	/* The originals are judged a grace period after they moved, no
	 * commit since; the holder of snap may still read them: they stay. */
	for (unsigned k = 0; k < 8 && retire_count(&f.q); k++)
		reclaimer_step(&f.rc, now += 1000000000ull);
	ck_assert_uint_eq(retire_count(&f.q), 0);
	for (unsigned i = 0; i < GATHER_KEYS; i++) {
		const struct shm_version *v = version(old[i]), *vh = version(old_h[i]);
		ck_assert_uint_le(v->begin_ts, snap);
		ck_assert(v->klen == 6 && !memcmp(v->key, m.rec[i][0], 6));
		ck_assert_uint_le(vh->begin_ts, snap);
		ck_assert(vh->klen == 6 && !memcmp(vh->key, m.rec[i][0], 6));
	}
	ck_assert_uint_gt(alloc_used(&f.alloc), used);

	/* It lets go: they are freed. */
	fake_slots[0][3].snapshot = 0;
	for (unsigned k = 0; k < 8 && alloc_used(&f.alloc) != used; k++)
		reclaimer_step(&f.rc, now += 1000000000ull);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	ck_assert_uint_eq(f.meta->retired_bytes, 0);

	/* The table goes on as before. */
	struct tx x = { 0 };
	for (unsigned i = 0; i < GATHER_KEYS; i += 3) {
		snprintf(m.rec[i][1], 12, "w%u", i);
		tx_put(&x, id, m.rec[i][0], m.rec[i][1]);
	}
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	check_tree(id, 0, &m, commit_ts());
}
END_TEST

/* A head with an older version that a held snapshot reads stays where it
 * is: the reclaimer, unlinking a version below it, would change its link
 * and not a copy's, and a snapshot older still, walking down from the
 * copy, would find the freed block. */
START_TEST(gathering_leaves_heads_a_snapshot_walks_past)
{
	static struct tmodel m, m0, none;
	uint64_t empty, prev;
	uint32_t h, id = scattered_table(&m, 11, &empty, &prev, &h);
	/* What the round before the last put. */
	m0 = m;
	for (unsigned i = 0; i < GATHER_KEYS; i++)
		snprintf(m0.rec[i][1], 12, "v%u.%u", i, GATHER_ROUNDS - 2);
	fake_slots[1][0].snapshot = prev;
	fake_slots[1][1].snapshot = empty;
	reclaim_all();
	ck_assert(cluster_pending(&f.c.cluster));
	gather_all();
	ck_assert_uint_eq(f.c.cluster.moved, 0); /* the filler's heads have older versions too */
	for (unsigned i = 0; i < GATHER_KEYS; i++)
		ck_assert(sees(h, m.rec[i][0], "filler", commit_ts()) && sees(h, m.rec[i][0], NULL, empty));
	check_tree(id, 0, &m0, prev);
	check_tree(id, 0, &m, commit_ts());
	/* The versions prev read are unlinked and freed under the older
	 * snapshot, which walks down past them: no link leads to them. */
	fake_slots[1][0].snapshot = 0;
	reclaim_all();
	none.n = 0;
	check_tree(id, 0, &none, empty);
	for (unsigned i = 0; i < GATHER_KEYS; i++) {
		ck_assert(sees(id, m.rec[i][0], NULL, empty));
		const struct shm_version *v = lookup(id, m.rec[i][0], 6, commit_ts());
		for (; v->older; v = version(v->older)) { /* every link to a version of the key */
			const struct shm_version *o = version(v->older);
			ck_assert_uint_ne(o->begin_ts, SHM_VERSION_FREE);
			ck_assert(o->klen == 6 && !memcmp(o->key, m.rec[i][0], 6));
		}
	}
	check_tree(id, 0, &m, commit_ts());
}
END_TEST

/* A moved original is kept only for the snapshots that may reach it: one
 * older than it, which walks past it but reads nothing from it, does not
 * keep it, and freed under that snapshot it reads as a pruned version
 * (where a reader standing on it would start again from its slot). */
START_TEST(moved_originals_kept_only_for_snapshots_that_may_reach_them)
{
	enum { N = 4800 };
	static char keys[N][8], vals[N][12];
	static uint64_t old[N], old_h[N];
	unsigned perm[N], seed = 5;
	uint64_t value, now = 1000000000ull;
	uint32_t h;
	struct tx x = { 0 };
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "m", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	uint32_t id = (uint32_t)value;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "h", &h), 0);
	tx_op(&x, SHM_OP_RESERVE, id, 2 * N, NULL, 0, NULL, 0); /* no index replaced after */
	tx_op(&x, SHM_OP_RESERVE, h, 2 * N, NULL, 0, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	uint64_t empty = commit_ts();
	fake_slots[0][5].snapshot = empty;
	for (unsigned i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "m%05u", i * 7);
		snprintf(vals[i], sizeof(vals[i]), "v%u", i);
		perm[i] = i;
	}
	shuffle(perm, N, &seed);
	for (unsigned j = 0; j < N; j++) {
		tx_put(&x, id, keys[perm[j]], vals[perm[j]]);
		tx_put(&x, h, keys[perm[j]], "filler");
		if (j % 100 == 99)
			ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	}
	tx_free(&x);
	reclaim_all();
	for (unsigned i = 0; i < N; i++) {
		old[i] = (uint64_t)((const uint8_t *)lookup(id, keys[i], 6, commit_ts()) - f.base);
		old_h[i] = (uint64_t)((const uint8_t *)lookup(h, keys[i], 6, commit_ts()) - f.base);
	}
	gather_all();
	ck_assert_uint_ge(f.c.cluster.moved, N * 9 / 10);
	for (unsigned k = 0; k < 100 && retire_count(&f.q); k++)
		reclaimer_step(&f.rc, now += 1000000000ull);
	ck_assert_uint_eq(retire_count(&f.q), 0);
	unsigned freed = 0;
	for (unsigned i = 0; i < N; i++) {
		const struct shm_version *v = lookup(id, keys[i], 6, commit_ts());
		if ((uint64_t)((const uint8_t *)v - f.base) == old[i])
			continue;
		ck_assert_uint_eq(version(old[i])->begin_ts, SHM_VERSION_FREE);
		freed++;
		ck_assert(sees(id, keys[i], vals[i], commit_ts()));
		ck_assert(sees(id, keys[i], NULL, empty));
	}
	for (unsigned i = 0; i < N; i++) { /* the filler, a hash table, gathered too */
		const struct shm_version *v = lookup(h, keys[i], 6, commit_ts());
		if ((uint64_t)((const uint8_t *)v - f.base) == old_h[i])
			continue;
		ck_assert_uint_eq(version(old_h[i])->begin_ts, SHM_VERSION_FREE);
		freed++;
		ck_assert(sees(h, keys[i], "filler", commit_ts()));
		ck_assert(sees(h, keys[i], NULL, empty));
	}
	ck_assert_uint_eq(freed, f.c.cluster.moved);
	fake_slots[0][5].snapshot = 0;
}
END_TEST

/* A version the gathering moves while a reclamation pass is under way is
 * judged only after a grace period that began after it moved, and by a
 * sweep taken after that one: the pass's own sweep is older than a
 * snapshot begun since, which may have read the original before the move.
 * (Ends do not tell: every move between two commits has the same end,
 * before a grace period is asked for and after.) */
START_TEST(moved_during_a_pass_waits_for_a_grace_period_after_the_move)
{
	enum { N = 4800, OVER = 100, ROUNDS = 20 };
	static char keys[N][8];
	static uint64_t before[N];
	unsigned perm[N], seed = 17;
	uint64_t now = 1000000000ull;
	uint32_t h, g;
	char k[8], v[12];
	struct tx x = { 0 };
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "h", &h), 0);
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "g", &g), 0);
	tx_op(&x, SHM_OP_RESERVE, h, 2 * N, NULL, 0, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	for (unsigned i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "h%05u", i);
		perm[i] = i;
	}
	shuffle(perm, N, &seed);
	for (unsigned j = 0; j < N; j++) {
		tx_put(&x, h, keys[perm[j]], "scattered");
		if (j % 100 == 99)
			ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	}
	reclaim_all();
	/* A queue longer than a step judges: overwrites of another table
	 * (fewer changes than h's, so that h is gathered first). */
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (unsigned i = 0; i < OVER; i++) {
			snprintf(k, sizeof(k), "g%03u", i);
			snprintf(v, sizeof(v), "v%u", r);
			tx_put(&x, g, k, v);
		}
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	}
	tx_free(&x);
	uint64_t p = commit_ts();
	ck_assert_uint_gt(retire_count(&f.q), 2 * 256);

	/* A first step of h's pass moves some heads; a grace period is asked
	 * for after it, and passes; the pass begins with a sweep that finds
	 * no snapshot, and judges part of the queue. */
	ck_assert(cluster_pending(&f.c.cluster));
	cluster_step(&f.c);
	uint64_t moved_first = f.c.cluster.moved;
	ck_assert_uint_gt(moved_first, 0);
	reclaimer_step(&f.rc, now += 1000000000ull);
	ck_assert(f.rc.grace_pending);
	reclaimer_step(&f.rc, now += 1);
	ck_assert(f.rc.pass);

	/* A reader begins a snapshot of p now and reads every key; then
	 * the pass moves the rest, at the same commit. */
	fake_slots[0][4].snapshot = p;
	for (unsigned i = 0; i < N; i++)
		before[i] = (uint64_t)((const uint8_t *)lookup(h, keys[i], 6, p) - f.base);
	gather_all();
	ck_assert_uint_gt(f.c.cluster.moved, moved_first);
	ck_assert_uint_eq(commit_ts(), p);

	/* The pass goes on to its end; every original the reader read stays
	 * as it read it. */
	for (unsigned s = 0; s < 100 && f.rc.pass; s++)
		reclaimer_step(&f.rc, now += 1);
	ck_assert(!f.rc.pass);
	unsigned moved_since = 0;
	for (unsigned i = 0; i < N; i++) {
		const struct shm_version *o = version(before[i]);
		ck_assert_msg(o->begin_ts <= p && o->klen == 6 && !memcmp(o->key, keys[i], 6),
			      "key %s: the version snapshot %llu read was freed under it", keys[i],
			      (unsigned long long)p);
		moved_since += lookup(h, keys[i], 6, p) != o;
	}
	ck_assert_uint_gt(moved_since, 0);

	/* Through the next grace periods too, while the reader holds p. */
	for (unsigned s = 0; s < 8; s++)
		reclaimer_step(&f.rc, now += 1000000000ull);
	for (unsigned i = 0; i < N; i++)
		ck_assert_uint_le(version(before[i])->begin_ts, p);

	/* It lets go: every original that moved is freed (a step judges a
	 * few hundred items). */
	fake_slots[0][4].snapshot = 0;
	for (unsigned s = 0; s < 100; s++)
		reclaimer_step(&f.rc, now += 1000000000ull);
	unsigned freed = 0;
	for (unsigned i = 0; i < N; i++) {
		const struct shm_version *cur = lookup(h, keys[i], 6, commit_ts());
		ck_assert(sees(h, keys[i], "scattered", commit_ts()));
		if ((uint64_t)((const uint8_t *)cur - f.base) != before[i]) {
			ck_assert_uint_eq(version(before[i])->begin_ts, SHM_VERSION_FREE);
			freed++;
		}
	}
	ck_assert_uint_eq(freed, moved_since);
}
END_TEST

/* A copy takes new space, and its original, freed, serves only blocks of
 * its class: with less than an eighth of the arena never handed out, a
 * due pass moves nothing (that space is for the clients' commits), and
 * memory in use stays as it was. */
START_TEST(gathering_waits_for_room)
{
	enum { BLOCK = 64 << 10, MAX_BLOCKS = 4096 };
	static struct tmodel m;
	static uint64_t held[MAX_BLOCKS];
	uint64_t empty, prev;
	uint32_t h, id = scattered_table(&m, 13, &empty, &prev, &h);
	reclaim_all();
	unsigned n = 0;
	while (alloc_fresh(&f.alloc) >= alloc_capacity(&f.alloc) / 8) {
		ck_assert_uint_lt(n, MAX_BLOCKS);
		ck_assert((held[n++] = alloc_get(&f.alloc, BLOCK)) != 0);
	}
	uint64_t used = alloc_used(&f.alloc);
	ck_assert(cluster_pending(&f.c.cluster));
	gather_all();
	ck_assert_uint_eq(f.c.cluster.moved, 0);
	ck_assert_uint_eq(alloc_used(&f.alloc), used);
	check_tree(id, 0, &m, commit_ts());
	for (unsigned i = 0; i < GATHER_KEYS; i++)
		ck_assert(sees(h, m.rec[i][0], "filler", commit_ts()));
	while (n)
		alloc_put(&f.alloc, held[--n], BLOCK);
}
END_TEST

/* Walk the subtree at off: its records in order (checked against *last,
 * the record before them) counted into *n, its nodes' bytes into *bytes. */
static void walk_sizes(uint64_t off, int multi, const uint8_t **last, uint32_t *lk, uint32_t *lv,
		       uint64_t *n, uint64_t *bytes)
{
	const struct shm_node *nd = shm_node_at(f.base, off);
	ck_assert_uint_ge(nd->count, 1);
	*bytes += alloc_class_size(nd->bytes);
	for (unsigned i = 0; i < nd->count; i++) {
		if (nd->level) {
			walk_sizes(shm_node_ref(nd)[i], multi, last, lk, lv, n, bytes);
			continue;
		}
		const struct shm_node_entry *e = &shm_node_ent(nd)[i];
		const uint8_t *b = shm_entry_bytes(nd, i);
		if (*last) {
			int c = shm_bytes_cmp(*last, *lk, b, e->klen);
			if (!c && multi)
				c = shm_bytes_cmp(*last + *lk, *lv, b + e->klen, e->vlen);
			ck_assert_int_lt(c, 0);
		}
		*last = b;
		*lk = e->klen;
		*lv = e->vlen;
		(*n)++;
	}
}

/* Keys and pair values of very unequal sizes (1 to 1,024 bytes) make
 * nodes of unequal bytes: every record stays in the tree through splits
 * and merges, in order, and the tree's bytes are its nodes'. */
START_TEST(tree_keys_of_unequal_sizes)
{
	static uint8_t big[SHMDB_MAX_KEY];
	uint32_t id[2];
	uint64_t value;
	unsigned seed = 11;
	struct tx x = { 0 };
	memset(big, 'b', sizeof(big));
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "o", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	id[0] = (uint32_t)value;
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED | SHMDB_MULTI, "m", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	id[1] = (uint32_t)value;
	/* The review's case: short keys, then long ones, then short, then one
	 * short key that leaves the first leaf small beside a big one. */
	char k[16];
	for (int part = 0; part < 3; part++) {
		for (int i = 0; i < 11; i++) {
			snprintf(k, sizeof(k), "%c%02d", "abc"[part], i);
			if (part == 1) {
				memcpy(big, k, 3);
				tx_op(&x, SHM_OP_PUT, id[0], 0, big, sizeof(big), "v", 1);
				tx_op(&x, SHM_OP_PUT, id[1], 0, "k", 1, big, sizeof(big) - 24);
			} else {
				tx_op(&x, SHM_OP_PUT, id[0], 0, k, 3, "v", 1);
				tx_op(&x, SHM_OP_PUT, id[1], 0, "k", 1, k, 3);
			}
		}
	}
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_op(&x, SHM_OP_PUT, id[0], 0, "a05x", 4, "v", 1);
	tx_op(&x, SHM_OP_PUT, id[1], 0, "k", 1, "a05x", 4);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	for (int round = 0; round < 400; round++) {
		unsigned ops = 1 + rand_r(&seed) % 40;
		for (unsigned i = 0; i < ops; i++) {
			unsigned r = rand_r(&seed) % 300, len = 1 + (rand_r(&seed) % 4 ? r % 12 : r * 3);
			memset(big, 'a' + (int)(r % 26), len);
			memcpy(big, &r, len < sizeof(r) ? len : sizeof(r));
			if (rand_r(&seed) % 3) {
				tx_op(&x, SHM_OP_PUT, id[0], 0, big, len, "v", 1);
				tx_op(&x, SHM_OP_PUT, id[1], 0, "k", 1, big, len);
			} else {
				tx_op(&x, SHM_OP_DEL, id[0], 0, big, len, NULL, 0);
				tx_op(&x, SHM_OP_DEL_VALUE, id[1], 0, "k", 1, big, len);
			}
		}
		ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
		for (int m = 0; m < 2; m++) {
			const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id[m])];
			struct shm_count c = shm_count_at(f.base, t, commit_ts());
			const uint8_t *last = NULL;
			uint32_t lk = 0, lv = 0;
			uint64_t n = 0, bytes = 0;
			if (c.root)
				walk_sizes(c.root, m, &last, &lk, &lv, &n, &bytes);
			ck_assert_uint_eq(n, c.records);
			ck_assert_uint_eq(bytes, c.tree_bytes);
		}
	}
	tx_free(&x);
}
END_TEST


/* A clear of a big ordered table costs one commit; its old tree stays for
 * the snapshot before it, then goes in bounded steps of the reclaimer. */
START_TEST(tree_of_a_clear_freed_in_steps)
{
	uint64_t value, before;
	char k[16];
	struct tx x = { 0 };
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "o", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	uint32_t t = (uint32_t)value;
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "k%07d", i);
		tx_op(&x, SHM_OP_PUT, t, 0, k, strlen(k), "v", 1);
	}
	ck_assert_int_eq(tx_commit(&x, &before, NULL), 0);
	const struct shm_table *tb = &f.meta->tables[SHM_TABLE_SLOT(t)];
	uint64_t tree = tb->tree_bytes;
	ck_assert_uint_gt(tree, 20000 * 16);
	fake_slots[0][0].snapshot = before;
	reclaimer_now(&f.rc);
	uint64_t used = alloc_used(&f.alloc);
	tx_op(&x, SHM_OP_CLEAR, t, 0, NULL, 0, NULL, 0);
	tx_op(&x, SHM_OP_PUT, t, 0, "new", 3, "n", 1);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	ck_assert_uint_eq(shm_count_at(f.base, tb, before).records, 20000);
	ck_assert_uint_eq(shm_count_at(f.base, tb, commit_ts()).records, 1);
	reclaimer_now(&f.rc);
	ck_assert_uint_ge(alloc_used(&f.alloc), used); /* held by `before` */
	fake_slots[0][0].snapshot = 0;
	ck_assert_int_eq(put1(t, "new", "again", NULL), 0);
	uint64_t now = 4000000000ull;
	int steps = 0;
	for (; steps < 1000 && (reclaimer_holds(&f.rc) || f.rc.ndrains); steps++)
		reclaimer_step(&f.rc, now += 100000000ull);
	ck_assert_int_eq(f.rc.ndrains, 0);
	ck_assert_int_gt(steps, 2); /* the tree and the index went in steps */
	ck_assert_uint_lt(alloc_used(&f.alloc), used - tree);
}
END_TEST

/* Kinds: a table's kind is fixed at creation; creating it again with
 * another kind fails and changes nothing; a del_value on a table that is
 * not a multimap, a check on a multimap and a pair value over the limit
 * fail the transaction. */
START_TEST(tree_kinds_and_bad_ops)
{
	uint32_t o, h, mm;
	uint64_t value;
	struct tx x = { 0 };
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "o", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	o = (uint32_t)value;
	ck_assert_int_eq(table_op(SHM_OP_CREATE_TABLE, "h", &h), 0);
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED | SHMDB_MULTI, "m", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, &value), 0);
	mm = (uint32_t)value;
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(o)].kind, SHMDB_ORDERED);
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(mm)].kind, SHMDB_ORDERED | SHMDB_MULTI);
	uint64_t ts = commit_ts();
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, 0, "o", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -EEXIST);
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_MULTI, "z", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), SHMDB_EBADTXN);
	/* one name, two kinds, in one transaction */
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, 0, "y", 1, NULL, 0);
	tx_op(&x, SHM_OP_CREATE_TABLE, 0, SHMDB_ORDERED, "y", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -EEXIST);
	tx_op(&x, SHM_OP_PUT, o, 0, "a", 1, "1", 1);
	tx_op(&x, SHM_OP_DEL_VALUE, h, 0, "a", 1, "1", 1);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -ENOTSUP);
	tx_op(&x, SHM_OP_DEL_VALUE, o, 0, "a", 1, "1", 1);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -ENOTSUP);
	tx_op(&x, SHM_OP_CHECK, mm, 1, "a", 1, NULL, 0);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -ENOTSUP);
	static char big[SHMDB_MAX_MULTI_VALUE + 1];
	tx_op(&x, SHM_OP_PUT, mm, 0, "a", 1, big, sizeof(big));
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), -E2BIG);
	ck_assert_uint_eq(commit_ts(), ts);
	tx_op(&x, SHM_OP_PUT, mm, 0, "a", 1, big, sizeof(big) - 1);
	ck_assert_int_eq(tx_commit(&x, NULL, NULL), 0);
	tx_free(&x);
	/* the multimap's pairs are in its tree, not its index */
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(mm)].index_used, 0);
	ck_assert_uint_eq(f.meta->tables[SHM_TABLE_SLOT(mm)].records, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("catalog");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, catalog_create_find_drop);
	tcase_add_test(tc, catalog_names_hold_no_nul);
	tcase_add_test(tc, catalog_full);
	tcase_set_timeout(tc, 60); /* 4,096 tables: seconds under the sanitizers */
	suite_add_tcase(s, tc);
	tc = tcase_create("passes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, versions_snapshots_and_checks);
	tcase_add_test(tc, prepare_reserves_op_block_size);
	tcase_add_test(tc, no_room_keeps_nothing);
	tcase_add_test(tc, refused_keeps_no_index_it_grew);
	suite_add_tcase(s, tc);
	tc = tcase_create("index build");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, index_grows_in_steps_against_a_model);
	tcase_add_test(tc, left_out_tombstone_reused_block_stays);
	tcase_add_test(tc, index_builds_keep_pace_with_single_inserts);
	tcase_add_test(tc, index_growth_reads_only_what_it_must);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("reclaimer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, snapshots_of_a_sweep);
	tcase_add_test(tc, reclaimer_frees_only_what_no_snapshot_sees);
	tcase_add_test(tc, eager_reclaimer_drops_the_pacing);
	tcase_add_test(tc, exact_pruning_keeps_only_what_snapshots_see);
	tcase_add_test(tc, dropped_table_kept_only_for_its_snapshots);
	tcase_add_test(tc, deleted_keys_leave_the_index_under_a_held_snapshot);
	tcase_add_test(tc, replaced_index_heads_kept_for_its_readers);
	tcase_add_test(tc, check_sees_a_delete_whose_key_was_left_out);
	tcase_add_test(tc, pruned_block_stays_a_version_through_a_drop);
	tcase_add_test(tc, count_versions_per_snapshot);
	tcase_add_test(tc, clear_replaces_contents_at_once);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("tree");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tree_against_a_model);
	tcase_add_test(tc, tree_keys_of_unequal_sizes);
	tcase_add_test(tc, tree_of_a_clear_freed_in_steps);
	tcase_add_test(tc, thinned_ordered_tree_merges_its_leaves);
	tcase_add_test(tc, leaves_in_place_and_the_general_walk);
	tcase_add_test(tc, prefix_ties_in_short_transactions);
	tcase_add_test(tc, replaced_leaves_noted_only_for_older_snapshots);
	tcase_add_test(tc, gathered_records_read_as_before);
	tcase_add_test(tc, gathering_leaves_heads_a_snapshot_walks_past);
	tcase_add_test(tc, gathering_waits_for_room);
	tcase_add_test(tc, moved_originals_kept_only_for_snapshots_that_may_reach_them);
	tcase_add_test(tc, moved_during_a_pass_waits_for_a_grace_period_after_the_move);
	tcase_add_test(tc, tree_kinds_and_bad_ops);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
