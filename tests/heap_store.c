/*
 * heap_store.c - the writer's core on heap memory for tests (see
 * heap_store.h).
 */
#include "heap_store.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "index.h"
#include "txn.h"

struct heap_store f;
struct shm_reader_slot fake_slots[2][SHM_READER_SLOTS];
static unsigned fake_next; /* the fake session the sweep is at */

static void fake_begin(void *ctx)
{
	(void)ctx;
	fake_next = 0;
}

static const struct shm_reader_slot *fake_sweep(void *ctx, unsigned *n, pid_t *pid)
{
	(void)ctx;
	if (fake_next == 2)
		return NULL;
	*n = SHM_READER_SLOTS;
	*pid = 100 + (pid_t)fake_next;
	return fake_slots[fake_next++];
}

static void fake_end(void *ctx)
{
	(void)ctx;
}

const struct slot_source fake_source = { fake_begin, fake_sweep, fake_end, NULL };

/* The core's pressure hooks: the reclaimer, over the fake slots. */
static void pressure(void *ctx)
{
	(void)ctx;
	f.pressure_calls++;
	reclaimer_now(&f.rc);
}

static bool holds(void *ctx)
{
	(void)ctx;
	return reclaimer_holds(&f.rc);
}

void store_on_heap(size_t arena)
{
	size_t meta_size = shm_align_up(sizeof(struct shm_meta), 4096);
	ck_assert_int_eq(posix_memalign((void **)&f.base, 4096, meta_size + arena), 0);
	memset(f.base, 0, meta_size + arena);
	memset(fake_slots, 0, sizeof(fake_slots));
	f.meta = (struct shm_meta *)f.base;
	alloc_init(&f.alloc, f.base);
	alloc_add_arena(&f.alloc, meta_size, meta_size + arena);
	retire_init(&f.q);
	core_init(&f.c, f.base, f.meta, &f.alloc, &f.q,
		  (struct core_pressure){ pressure, holds, NULL });
	memset(&f.g, 0, sizeof(f.g));
	reclaimer_init(&f.rc, f.base, f.meta, &f.alloc, &f.q, &f.g, fake_source);
	f.pressure_calls = 0;
}

void store_off_heap(void)
{
	core_destroy(&f.c);
	reclaimer_destroy(&f.rc);
	retire_free_all(&f.q);
	free(f.base);
}

uint64_t commit_ts(void)
{
	return f.meta->commit_ts;
}

/* Judge everything retired against the fake slots at once (none held: free
 * everything); the bytes freed. */
uint64_t reclaim_all(void)
{
	uint64_t before = f.meta->reclaimed_bytes;
	reclaimer_now(&f.rc);
	return f.meta->reclaimed_bytes - before;
}

void tx_op(struct tx *t, uint8_t code, uint32_t table, uint64_t since, const void *key,
		  size_t klen, const void *val, size_t vlen)
{
	size_t need = shm_op_size(klen, vlen);
	if (t->len + need > t->cap) {
		t->cap = 2 * (t->len + need);
		t->buf = realloc(t->buf, t->cap);
		ck_assert_ptr_nonnull(t->buf);
	}
	shm_op_encode(t->buf + t->len, code, table, since, key, klen, val, vlen);
	t->len += need;
}

void tx_put(struct tx *t, uint32_t table, const char *key, const char *val)
{
	tx_op(t, SHM_OP_PUT, table, 0, key, strlen(key), val, strlen(val));
}

int tx_commit(struct tx *t, uint64_t *ts, uint64_t *value)
{
	uint64_t ts_, value_;
	int r = commit_txn(&f.c, t->buf, t->len, ts ? ts : &ts_, value ? value : &value_);
	t->len = 0;
	return r;
}

void tx_free(struct tx *t)
{
	free(t->buf);
	*t = (struct tx){ 0 };
}

/* One transaction of one table operation on `name`: its status; *id gets
 * a created table's id. */
int table_op(uint8_t code, const char *name, uint32_t *id)
{
	struct tx t = { 0 };
	uint64_t value = 0;
	tx_op(&t, code, 0, 0, name, strlen(name), NULL, 0);
	int r = tx_commit(&t, NULL, &value);
	tx_free(&t);
	if (id)
		*id = (uint32_t)value;
	return r;
}

int put1(uint32_t table, const char *key, const char *val, uint64_t *ts)
{
	struct tx t = { 0 };
	tx_put(&t, table, key, val);
	int r = tx_commit(&t, ts, NULL);
	tx_free(&t);
	return r;
}

/* The version of key[0..klen) in table id that snapshot `snap` sees, or
 * NULL; read as a client does, through the published index word. */
const struct shm_version *lookup(uint32_t id, const void *key, size_t klen, uint64_t snap)
{
	const struct shm_table *t = &f.meta->tables[SHM_TABLE_SLOT(id)];
	if (t->id != id) /* not ck_assert: callers look keys up by the thousand */
		ck_abort_msg("table %u is not in its catalog slot", id);
	uint64_t word = shm_table_word(f.base, t, snap);
	const uint64_t *slots = (const uint64_t *)(f.base + shm_index_off(word));
	return shm_lookup(f.base, slots, shm_index_mask(word), shm_key_hash(key, klen), key,
			  (uint32_t)klen, snap);
}

/* Whether snapshot snap sees key with value val (NULL: absent). */
int sees(uint32_t id, const char *key, const char *val, uint64_t snap)
{
	const struct shm_version *v = lookup(id, key, strlen(key), snap);
	if (!v || v->vlen == SHM_TOMBSTONE)
		return val == NULL;
	return val && v->vlen == strlen(val) &&
	       !memcmp((const uint8_t *)v + shm_version_value_off(v->klen), val, v->vlen);
}

