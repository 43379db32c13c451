/*
 * bench.h - what shmdb-bench's parts share: the parameters of a run, the
 * figures each system reports (and those of the pinned-overwrite workload),
 * the dataset's keys and values, the TSC timer and cpu pinning. Each system
 * under test (shmdb, LMDB, Redis, the ideal hash) implements struct
 * bench_system in its own file.
 */
#ifndef SHMDB_BENCH_H
#define SHMDB_BENCH_H

#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <x86intrin.h>

#include "counters.h"
#include "hist.h"

#define BENCH_KEY_LEN 16
#define BENCH_MAX_VAL 4096
#define BENCH_BATCH 16   /* operations per timed sample for the tiniest ones */

struct bench_params {
	uint64_t records;      /* dataset size */
	uint32_t val_len;      /* value bytes */
	uint64_t gets;         /* timed gets per reader */
	uint64_t commits;      /* timed 1-put commits */
	uint64_t write_rate;   /* steady writer's transactions per second */
	int client_cpu;        /* where client processes run */
	int server_cpu;        /* where shmdbd's writer / redis-server run */
	const char *shmdbd;    /* path of the daemon binary */
	const char *socket;    /* a running shmdbd's socket, or NULL: start one */
	int interrupted;       /* stop() runs in a signal handler */
	const char *dir;       /* scratch directory for sockets and files */
	const char *json;      /* --json: where the figures go too, or NULL */
	double tsc_per_ns;
	/* Set while two reader processes measure gets per second: each
	 * counts itself in here and waits for the other before its timed
	 * loop, so that the two loops run at the same time. */
	uint32_t *gate;
};

/* Figures, each -1 (or an empty histogram) when a system has no such
 * operation. Lives in shared memory: reader processes fill their part. */
struct bench_result {
	double load_rps;          /* bulk load, records per second */
	struct hist get;          /* point get, one reader process */
	double get_ops;           /* gets per second, one reader */
	double get_many_ops;      /* the same in batches of BENCH_MANY keys */
	uint64_t ops_t0, ops_t1;  /* when the untimed gets began and ended */
	struct hist begin_end;    /* read transaction begin + end, per pair, timed
				   * in batches of BENCH_BATCH */
	double scan_rps;          /* full scan, records per second */
	struct hist commit;       /* 1-put transaction, waiting */
	double commit_tps;
	double pipelined_tps;     /* 1-put transactions, pipelined */
	double chase_ns;          /* the ideal's dependent load over the data */
	double add_ns;            /* the ideal's dependent one-cycle add */
	struct hist round_trip;   /* the ideal's cache line, client cpu to
				   * server cpu and back */
	double get_ops_2;         /* gets per second, two reader processes */
	struct hist get_loaded;   /* scheduled gets while a writer commits */
	double loaded_commit_tps; /* the rate that writer kept up meanwhile */
	double loaded_preempts;   /* times the scheduled reader was preempted */
	double loaded_runq_ns;    /* and how long it waited for its cpu */
	double commit_preempts;   /* the same for the committer, over the */
	double commit_runq_ns;    /* 1-put workloads */
	struct hist visible;      /* commit in one process to seen in another */
	/* Per timed get, from counters (-1: not available here). */
	double syscalls_per_get, faults_per_get, allocs_per_get;
};

/* Every BENCH_GET_EVERY-th overwrite of the pinned-overwrite workload
 * carries a timed get (see shmdb-bench.c). */
#define BENCH_GET_EVERY 16

/* One run of the pinned-overwrite workload: the loaded records overwritten
 * round robin, with or without one snapshot held by another thread from
 * before the first overwrite until after the last. Memory is the system's
 * own measure: shmdb's arena bytes in use (shmdb_stats.mem_used), LMDB's
 * data file up to its last page in use. Plain memory of the parent. */
struct bench_overwrite {
	double mem_before;     /* bytes, before the first overwrite */
	double mem_peak;       /* the most sampled meanwhile (every 1,024 commits) */
	double mem_end;        /* right after the last, the snapshot still held */
	uint64_t done;         /* overwrites committed */
	int full;              /* the store ran out of room after `done` */
	double elapsed_s;      /* the overwrites' wall time */
	struct hist commit;    /* 1-put overwrite commits, waiting */
	struct hist get;       /* the gets sampled meanwhile */
};

/* The ordered workloads (see shmdb-bench.c): the records in an ordered
 * table (LMDB: its B+tree), loaded in random key order, and a multimap
 * (LMDB: an MDB_DUPSORT database). Figures -1 or empty histograms where a
 * system has none. Lives in shared memory: the loads and commits fill
 * one per system, each round's reader process the read figures of one of
 * its own (shmdb-bench.c, ordered_round). */
struct bench_ordered {
	double load_rps;        /* bulk load of the ordered table, 1,000-put txns */
	double hash_load_rps;   /* shmdb: the same records into a hash table */
	double bytes_per_rec;   /* shmdb: the ordered table's arena bytes per
				 * record (shmdb_tables); LMDB: its data file up
				 * to the last page in use, per record */
	double hash_bytes_per_rec;
	double tree_bytes_per_rec; /* LMDB: its tree's own pages per record
				    * (mdb_stat), free pages left out */
	struct hist seek;       /* seek to a random key and read that record */
	double range_rps;       /* seek, then read 100 records: records per second */
	double scan_rps;        /* full scan in key order */
	struct hist get;        /* point get on the ordered table */
	struct hist hash_get;   /* shmdb: the same gets on the hash table */
	struct hist commit;     /* 1-put commit overwriting a record, waiting */
	struct hist hash_commit;
	struct hist insert;     /* 1-put commit of a new key, waiting */
	struct hist hash_insert;
	double multi_load_rps;  /* multimap pairs loaded per second */
	double multi_pps;       /* all values of a random key: pairs per second */
	double multi_bytes_per_pair;
};

/* Keys of the multimap: its pairs are spread over records / BENCH_MULTI_PER
 * keys (1,000,000 pairs over 10,000 keys by default). */
#define BENCH_MULTI_PER 100
/* The longest multimap value: LMDB's MDB_DUPSORT values are keys of a
 * sub-database (at most 511 bytes in its default build). */
#define BENCH_MULTI_MAX_VAL 511
/* Records read after each seek in the range workload. */
#define BENCH_RANGE 100

static inline uint64_t bench_multi_keys(const struct bench_params *p)
{
	uint64_t k = p->records / BENCH_MULTI_PER;
	return k ? k : 1;
}

static inline uint32_t bench_multi_val_len(const struct bench_params *p)
{
	return p->val_len < BENCH_MULTI_MAX_VAL ? p->val_len : BENCH_MULTI_MAX_VAL;
}

/* Whether what a read of all values of multimap key i gave is wrong: got
 * pairs whose values start with numbers summing to sum, where the load put
 * pair j < records under key j % keys (the sum saves a division a pair). */
static inline int bench_multi_wrong(const struct bench_params *p, uint64_t i, uint64_t got,
				    uint64_t sum)
{
	uint64_t keys = bench_multi_keys(p), n = p->records / keys + (i < p->records % keys);
	return got != n || sum != n * i + keys * (n * (n - 1) / 2);
}

/* The rows workload (see rows.h and shmdb-bench.c): BENCH_ROWS_COLS typed
 * columns per row, an index on the symbol. Figures -1 or empty histograms
 * where a system has none; lives in shared memory, the reader process
 * fills its part. Latencies in TSC ticks. */
struct bench_rows {
	double load_rps;        /* bulk load, 1,000-row transactions, no index */
	double load_index_rps;  /* the same, the index on sym kept meanwhile */
	struct hist get_col;    /* get a row by key and read its bid */
	struct hist get_plain;  /* shmdb: the same gets, no column read */
	double scan_sum_rps;    /* every row, summing bid: rows per second */
	double scan_plain_rps;  /* shmdb: the same full scan, no column read */
	struct hist index_get;  /* the first row (by id) of a random symbol,
				 * through the index, and its bid */
	struct hist incr;       /* 1-op commit adding 1 to a row's size, waiting */
	struct hist put_commit; /* shmdb: 1-put commit of a whole row, waiting */
};

struct bench_system {
	const char *name;
	/* Start the system (server, environment) and load the dataset,
	 * filling load_rps. Returns 0 or -1 with a message on stderr. */
	int (*load)(const struct bench_params *p, struct bench_result *r);
	/* In a reader process pinned to the client cpu: timed gets, begin+end,
	 * scan. Returns 0 or -1. */
	int (*read)(const struct bench_params *p, struct bench_result *r);
	/* Timed commits, in the parent. Returns 0 or -1. */
	int (*write)(const struct bench_params *p, struct bench_result *r);
	/* Stop everything started; remove files. */
	void (*stop)(const struct bench_params *p);
	/* Single operations for the scheduled workloads, each in a process of
	 * its own: a reader that sees the latest commit in each get (a fresh
	 * snapshot, if the system has them), and a writer of 1-put
	 * transactions. NULL where a system has no such side. */
	void *(*reader_open)(const struct bench_params *p);
	/* 0 when found; copies up to `cap` bytes of the value to out. */
	int (*reader_get)(void *h, const uint8_t *key, uint8_t *out, uint32_t cap);
	void *(*writer_open)(const struct bench_params *p);
	int (*writer_put)(void *h, const uint8_t *key, const uint8_t *val, uint32_t len);
	/* The pinned-overwrite workload, in the parent, between load and stop
	 * (p->records and p->commits are then its keys and overwrites): the
	 * overwrites, with one snapshot held by a thread of its own on a handle
	 * of its own if `hold`, which must read every record as loaded when it
	 * is taken and when it ends. Running out of room ends the run early
	 * (o->full), which is no failure. NULL where a system has no snapshots
	 * to hold. Returns 0 or -1. */
	int (*overwrite)(const struct bench_params *p, int hold, struct bench_overwrite *o);
	/* The ordered workloads, NULL where a system has no ordered tables:
	 * start the system and load the ordered table and the multimap (and
	 * for shmdb a hash table of the same records), filling the loads'
	 * figures; then, in a reader process pinned to the client cpu, seeks,
	 * ranges, the ordered scan, gets and the multimap's reads; then, in the
	 * parent, the 1-put commits. stop() ends it all. 0 or -1. */
	int (*ordered_load)(const struct bench_params *p, struct bench_ordered *o);
	int (*ordered_read)(const struct bench_params *p, struct bench_ordered *o);
	int (*ordered_write)(const struct bench_params *p, struct bench_ordered *o);
	/* The rows workload (rows.h), NULL where a system has no part in it:
	 * start the system and load p->records rows twice, without then with
	 * the index on sym (the second set stays), filling the loads'
	 * figures; then, in a reader process pinned to the client cpu, the
	 * gets, scans and index lookups, checking what they read; then, in
	 * the parent, the increments (and shmdb's whole-row puts). stop()
	 * ends it all. 0 or -1. */
	int (*rows_load)(const struct bench_params *p, struct bench_rows *o);
	int (*rows_read)(const struct bench_params *p, struct bench_rows *o);
	int (*rows_write)(const struct bench_params *p, struct bench_rows *o);
};

extern const struct bench_system bench_shmdb, bench_lmdb, bench_redis, bench_ideal, bench_sqlite;

static inline uint64_t bench_tsc(void)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);
	_mm_lfence();
	return t;
}

/* Keys per batched lookup, where a system has one. */
#define BENCH_MANY 16

/* The key of record i: 16 bytes, scrambled so that keys do not arrive in
 * hash or sort order. */
static inline void bench_key(uint8_t *k, uint64_t i)
{
	uint64_t a = i * 0x9e3779b97f4a7c15ull;
	memcpy(k, &a, 8);
	memcpy(k + 8, &i, 8);
}

/* The record a key belongs to: its last 8 bytes (see bench_key). */
static inline uint64_t bench_key_index(const void *k)
{
	uint64_t i;
	memcpy(&i, (const uint8_t *)k + 8, 8);
	return i;
}

/* The value of record i: val_len bytes starting with i. */
static inline void bench_value(uint8_t *v, uint64_t i, uint32_t len)
{
	memset(v, 'v', len);
	memcpy(v, &i, len < 8 ? len : 8);
}

/* The number a value starts with (see bench_value). */
static inline uint64_t bench_value_index(const void *v)
{
	uint64_t i;
	memcpy(&i, v, 8);
	return i;
}

/* A fast per-process random sequence for picking keys. */
static inline uint64_t bench_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void bench_pin(int cpu);

/* Store what the span between two counter readings cost per operation. */
void bench_costs(const struct counters *before, const struct counters *after, uint64_t ops,
		 struct bench_result *r);
uint64_t bench_now_ns(void);

/* The pinned-overwrite's snapshot holder: a thread that takes a snapshot
 * (a read transaction) of the loaded records, checks it, calls
 * bench_hold_wait, checks it again and lets it go; err set if a check or
 * the snapshot failed. */
struct bench_holder {
	const struct bench_params *p;
	sem_t held, release;
	int err;
};

/* In the holder thread: say the snapshot is held, and wait to be let go. */
void bench_hold_wait(struct bench_holder *h);

/* run(p, o) while a thread running hold (given its struct bench_holder)
 * holds a snapshot; `sys` names the system in messages. 0, or -1 if the
 * thread, its snapshot or run failed. */
int bench_while_held(const char *sys, void *(*hold)(void *), const struct bench_params *p,
		     int (*run)(const struct bench_params *, struct bench_overwrite *),
		     struct bench_overwrite *o);

/* Wait at p->gate, if set, for the other reader process. Returns 0, or -1
 * after 120 s without it (it failed before the gate, since warm-ups take
 * seconds: the two loops would not overlap, so there is no figure). The
 * counter orders nothing else: each process only needs to see the other's
 * increment, so relaxed suffices. */
static inline int bench_gate(const struct bench_params *p)
{
	if (!p->gate)
		return 0;
	__atomic_fetch_add(p->gate, 1, __ATOMIC_RELAXED);
	uint64_t until = bench_now_ns() + 120000000000ull;
	while (__atomic_load_n(p->gate, __ATOMIC_RELAXED) < 2) {
		if (bench_now_ns() > until) {
			fprintf(stderr, "shmdb-bench: the other reader process never came\n");
			return -1;
		}
	}
	return 0;
}

#endif /* SHMDB_BENCH_H */
