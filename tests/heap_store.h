/*
 * heap_store.h - the writer's core on heap memory, for tests that run
 * transactions without a daemon: a calloc'd range (meta segment at offset
 * 0, one arena after it), the core, the retire queue and a reclaimer that
 * sweeps two fake sessions' reader slots instead of real ones. Nothing
 * here waits or depends on time.
 *
 * One store per test process (Check forks each test): `f` is it, opened by
 * store_on_heap and closed by store_off_heap. Transactions are encoded
 * with the tx_* calls (txn.h's format) and committed through commit_txn,
 * as the writer thread commits what it takes from a ring.
 */
#ifndef SHMDB_TEST_HEAP_STORE_H
#define SHMDB_TEST_HEAP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "commit.h"
#include "core.h"
#include "reclaim.h"

struct heap_store {
	uint8_t *base;
	struct shm_meta *meta;
	struct alloc alloc;
	struct retire_queue q;
	struct core c;
	struct grace g;     /* no thread: a requested grace period has passed */
	struct reclaimer rc;
	unsigned pressure_calls; /* times the core asked its pressure hook */
};

extern struct heap_store f;

/* Reader slots of two fake sessions, swept as the writer sweeps sessions'
 * (a test claims a snapshot by writing one). */
extern struct shm_reader_slot fake_slots[2][SHM_READER_SLOTS];
/* Their sweep, the reclaimer's slot source. */
extern const struct slot_source fake_source;

/* Open the store with an arena of `arena` bytes; close it, freeing all. */
void store_on_heap(size_t arena);
void store_off_heap(void);

/* The commit published last. */
uint64_t commit_ts(void);

/* Judge everything retired against the fake slots at once (none held:
 * free everything); the bytes freed. */
uint64_t reclaim_all(void);

/* A transaction being encoded. */
struct tx {
	uint8_t *buf;
	size_t len, cap;
};

void tx_op(struct tx *t, uint8_t code, uint32_t table, uint64_t since, const void *key,
	   size_t klen, const void *val, size_t vlen);
void tx_put(struct tx *t, uint32_t table, const char *key, const char *val);
/* Commit t (then empty, to be reused): its status; *ts and *value as
 * commit_txn's (either may be NULL). */
int tx_commit(struct tx *t, uint64_t *ts, uint64_t *value);
void tx_free(struct tx *t);

/* One transaction of one table operation on `name`: its status; *id gets
 * a created table's id. */
int table_op(uint8_t code, const char *name, uint32_t *id);

/* One transaction of one put: its status. */
int put1(uint32_t table, const char *key, const char *val, uint64_t *ts);

/* The version of key[0..klen) in table id that snapshot `snap` sees, or
 * NULL; read as a client does, through the published index word. */
const struct shm_version *lookup(uint32_t id, const void *key, size_t klen, uint64_t snap);

/* Whether snapshot snap sees key with value val (NULL: absent). */
int sees(uint32_t id, const char *key, const char *val, uint64_t snap);

#endif /* SHMDB_TEST_HEAP_STORE_H */
