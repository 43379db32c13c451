/*
 * write.c - write transactions: collecting operations in private memory,
 * submitting them through the session's submission ring, and collecting
 * completions; and the table calls built on them.
 *
 * Submission (under sq_lock, so that tickets follow ring order): a
 * transaction goes out as one or more chunk records of at most a quarter of
 * the ring each, so a transaction larger than the ring streams through it
 * while the writer consumes. The room left is judged first by the sq_head
 * loaded last (with acquire order, under sq_lock): the head only moves
 * forward, so that room is there; only when it is too little is sq_head
 * loaded again, sparing most commits a cache line from the writer's core.
 * Each record is written completely, then sq_tail is stored with release
 * order; a full fence follows, then writer_sleeping is loaded, and a
 * sleeping writer is woken through the doorbell: the bell of a stand-in on
 * this cpu if there is one, else the writer's own (the other half of the
 * rule in the daemon's writer.c).
 *
 * Completion (under cq_lock): entries between cq_head and the writer's
 * cq_tail (loaded with acquire order) are moved into the results table; a
 * waiter spins as long as the writer's idle strategy says (meta
 * client_spin_ns; not at all when its submission had to wake the writer,
 * nor on the cpu the writer's turn runs on (meta writer_on_cpu), where
 * spinning keeps the writer from it),
 * then sets client_waiting, issues a full fence,
 * re-checks cq_tail and sleeps on it with FUTEX_WAIT (the writer wakes it
 * after a fence of its own, ring.c). A wait that sleeps 20 ms with no
 * completion (or 64 sleeps in all) asks whether the daemon is still there,
 * so that a dead daemon is an error, not a hang.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "catalog.h"
#include "client_internal.h"
#include "rows.h"
#include "spin.h"
#include "txn.h"

#define CHUNK_MAX (SHM_SQ_SIZE / 4 - sizeof(struct shm_sqe_hdr))
#define SPINS_BEFORE_SLEEP 2000

/* ---- collecting ------------------------------------------------------------ */

int shmdb_write_begin(shmdb *db, shmdb_wtxn **out)
{
	if (!db || !out)
		return -EINVAL;
	shmdb_wtxn *w = shm_pool_take_txn(db);
	if (!w && !(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	w->db = db;
	*out = w;
	return 0;
}

void shmdb_abort(shmdb_wtxn *w)
{
	if (w)
		shm_pool_give_txn(w);
}

static int append(shmdb_wtxn *w, uint8_t code, uint32_t table, uint64_t since,
		  const void *key, size_t klen, const void *val, size_t vlen)
{
	size_t need = shm_op_size(klen, vlen);
	if (w->len + need > SHMDB_MAX_TXN)
		return -E2BIG;
	int err = shm_buf_reserve(&w->buf, &w->cap, w->len + need, 256);
	if (err)
		return err;
	shm_op_encode(w->buf + w->len, code, table, since, key, klen, val, vlen);
	w->len += need;
	return 0;
}

static int key_ok(const shmdb_wtxn *w, const void *key, size_t klen)
{
	return w && key && klen >= 1 && klen <= SHMDB_MAX_KEY;
}

/* The kind of table t as the catalog has it now, or -1 if no entry has
 * its id (the writer checks the table again at commit). Acquire on the
 * id: pairs with the writer's publication of the entry (catalog.h). */
static int kind_of(const shmdb_wtxn *w, shmdb_table t)
{
	if (!shm_table_id_ok(t))
		return -1;
	const struct shm_table *tb = &w->db->meta->tables[SHM_TABLE_SLOT(t)];
	if (__atomic_load_n(&tb->id, __ATOMIC_ACQUIRE) != t)
		return -1;
	return (int)tb->kind;
}

int shmdb_put(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
	      const void *val, size_t vlen)
{
	if (!key_ok(w, key, klen) || (!val && vlen))
		return -EINVAL;
	if (vlen > SHMDB_MAX_VALUE)
		return -E2BIG;
	if (vlen > SHMDB_MAX_MULTI_VALUE) {
		int kind = kind_of(w, t);
		if (kind > 0 && (kind & SHM_KIND_MULTI))
			return -E2BIG;
	}
	return append(w, SHM_OP_PUT, t, 0, key, klen, val, vlen);
}

/* A field update of the row under key in table t: column col, `how`,
 * with operand arg[0..alen). The writer checks the rest (rows.h). */
static int field_update(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen, unsigned col,
			unsigned how, const void *arg, size_t alen)
{
	if (!key_ok(w, key, klen) || col == 0 || col >= SHMDB_MAX_COLUMNS || !t ||
	    (!arg && alen) || alen > SHMDB_MAX_KEY)
		return -EINVAL;
	uint8_t upd[sizeof(struct shm_field_update) + SHMDB_MAX_KEY];
	struct shm_field_update u = { .col = (uint16_t)col, .how = (uint8_t)how };
	memcpy(upd, &u, sizeof(u));
	if (alen)
		memcpy(upd + sizeof(u), arg, alen);
	return append(w, SHM_OP_UPDATE, t, 0, key, klen, upd, sizeof(u) + alen);
}

int shmdb_set_i64(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen, unsigned col,
		  int64_t v)
{
	return field_update(w, t, key, klen, col, SHM_SET_I64, &v, sizeof(v));
}

int shmdb_add_i64(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen, unsigned col,
		  int64_t delta)
{
	return field_update(w, t, key, klen, col, SHM_ADD_I64, &delta, sizeof(delta));
}

int shmdb_set_f64(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen, unsigned col,
		  double v)
{
	return field_update(w, t, key, klen, col, SHM_SET_F64, &v, sizeof(v));
}

int shmdb_add_f64(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen, unsigned col,
		  double delta)
{
	return field_update(w, t, key, klen, col, SHM_ADD_F64, &delta, sizeof(delta));
}

int shmdb_set_bytes(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen, unsigned col,
		    const void *data, size_t len)
{
	if (len < 1)
		return -EINVAL;
	return field_update(w, t, key, klen, col, SHM_SET_BYTES, data, len);
}

int shmdb_set_null(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen, unsigned col)
{
	return field_update(w, t, key, klen, col, SHM_SET_NULL, NULL, 0);
}

int shmdb_del_value(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
		    const void *val, size_t vlen)
{
	if (!key_ok(w, key, klen) || (!val && vlen))
		return -EINVAL;
	if (vlen > SHMDB_MAX_MULTI_VALUE)
		return -E2BIG;
	int kind = kind_of(w, t);
	if (kind >= 0 && !(kind & SHM_KIND_MULTI))
		return -ENOTSUP;
	return append(w, SHM_OP_DEL_VALUE, t, 0, key, klen, val, vlen);
}

int shmdb_del(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen)
{
	if (!key_ok(w, key, klen))
		return -EINVAL;
	return append(w, SHM_OP_DEL, t, 0, key, klen, NULL, 0);
}

int shmdb_clear(shmdb_wtxn *w, shmdb_table t)
{
	if (!w)
		return -EINVAL;
	return append(w, SHM_OP_CLEAR, t, 0, NULL, 0, NULL, 0);
}

int shmdb_check(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen, uint64_t since_ts)
{
	if (!key_ok(w, key, klen))
		return -EINVAL;
	return append(w, SHM_OP_CHECK, t, since_ts, key, klen, NULL, 0);
}

/* ---- completions ------------------------------------------------------------ */

/* Move posted completions into the results table. Under cq_lock. */
static void reap(shmdb *db)
{
	struct shm_session_header *h = db->session;
	const struct shm_cqe *cq = (const void *)((uint8_t *)h + SHM_SESSION_CQ_OFF);
	uint32_t tail = __atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE);
	if (tail == db->cq_head)
		return;
	while (db->cq_head != tail) {
		const struct shm_cqe *e = &cq[db->cq_head & (SHM_CQ_ENTRIES - 1)];
		struct shm_result *res = &db->results[e->ticket % SHM_RESULTS];
		if (res->ticket == e->ticket && res->state == RESULT_PENDING) {
			res->status = e->status;
			res->commit_ts = e->commit_ts;
			res->value = e->value;
			res->state = RESULT_READY;
		}
		db->cq_head++;
	}
	/* The entries are copied: the writer may reuse them. */
	__atomic_store_n(&h->cq_head, db->cq_head, __ATOMIC_RELEASE);
}

/* Sleep until the writer posts a completion, at most 20 ms. Returns
 * whether the 20 ms passed with none: only then is it worth asking
 * whether the daemon is still there (a system call, as dear as the
 * wait's own on a virtual machine). */
static bool sleep_for_completion(shmdb *db)
{
	struct shm_session_header *h = db->session;
	uint32_t seen = __atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE);
	bool timed_out = false;
	if (seen != db->cq_head)
		return false;
	__atomic_store_n(&h->client_waiting, 1, __ATOMIC_RELAXED);
	/* Orders the flag before the re-check of cq_tail (ring.c pairs). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->cq_tail, __ATOMIC_ACQUIRE) == seen) {
		struct timespec to = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
		timed_out = syscall(SYS_futex, &h->cq_tail, FUTEX_WAIT, seen, &to, NULL, 0) < 0 &&
			    errno == ETIMEDOUT;
	}
	__atomic_store_n(&h->client_waiting, 0, __ATOMIC_RELAXED);
	return timed_out;
}

/* shmdb_wait, also returning the operation's value. */
static int wait_result(shmdb *db, uint64_t ticket, uint64_t *commit_ts, uint64_t *value)
{
	if (!db || ticket == 0 || ticket > __atomic_load_n(&db->issued, __ATOMIC_ACQUIRE))
		return -EINVAL;
	pthread_mutex_lock(&db->cq_lock);
	struct shm_result *res = &db->results[ticket % SHM_RESULTS];
	if (res->ticket != ticket || res->state == RESULT_FREE) {
		pthread_mutex_unlock(&db->cq_lock);
		return -EINVAL;
	}
	int err = 0;
	/* Spin as long as the writer's strategy says a completion is worth
	 * spinning for (meta client_spin_ns): not at all when this handle's
	 * last submission had to wake it; then sleep on cq_tail. */
	uint64_t spin_ns = __atomic_load_n(&db->rang, __ATOMIC_RELAXED) ||
				   sched_getcpu() == __atomic_load_n(&db->meta->writer_on_cpu,
								     __ATOMIC_RELAXED)
				   ? 0 : __atomic_load_n(&db->meta->client_spin_ns, __ATOMIC_RELAXED);
	uint64_t spin_end = 0;
	unsigned sleeps = 0;
	for (unsigned spins = 0; res->state != RESULT_READY; spins++) {
		reap(db);
		if (res->state == RESULT_READY)
			break;
		if (spins % 32 == 0 && spin_ns && !spin_end)
			spin_end = shm_now_ns() + spin_ns;
		if (spin_ns && (spins % 32 || shm_now_ns() < spin_end)) {
			shm_cpu_relax();
			continue;
		}
		/* Whether the daemon is gone: after a wait that timed out, or
		 * every 64 sleeps (signals may end every wait early). */
		if ((sleep_for_completion(db) || ++sleeps % 64 == 0) &&
		    shm_client_daemon_gone(db)) {
			reap(db);
			if (res->state != RESULT_READY)
				err = SHMDB_ESHUTDOWN;
			break;
		}
	}
	if (!err) {
		err = res->status;
		if (commit_ts)
			*commit_ts = res->commit_ts;
		if (value)
			*value = res->value;
	}
	res->state = RESULT_FREE;
	pthread_mutex_unlock(&db->cq_lock);
	return err;
}

int shmdb_wait(shmdb *db, uint64_t ticket, uint64_t *commit_ts)
{
	return wait_result(db, ticket, commit_ts, NULL);
}

/* ---- submission ---------------------------------------------------------------- */

/* The bell to ring: the stand-in's of the cpu this thread runs on, if it
 * has one (layout.h), else the writer's own. The cpu may change at once;
 * then the stand-in serves from its own cpu, as the writer would. */
static struct shm_bell *bell_here(shmdb *db)
{
	int cpu = sched_getcpu();
	uint64_t standins = __atomic_load_n(&db->meta->standin_cpus, __ATOMIC_RELAXED);
	if (cpu >= 0 && (unsigned)cpu < SHM_STANDINS && (standins >> cpu & 1))
		return &db->doorbell->bell[1 + cpu];
	return &db->doorbell->bell[0];
}

static void publish_tail(shmdb *db)
{
	struct shm_session_header *h = db->session;
	/* The records before sq_tail are complete. */
	__atomic_store_n(&h->sq_tail, db->sq_tail, __ATOMIC_RELEASE);
	/* Orders the tail store before the load of writer_sleeping (writer.c). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	int rang = __atomic_load_n(&db->meta->writer_sleeping, __ATOMIC_RELAXED) != 0;
	if (rang) {
		struct shm_bell *bell = bell_here(db);
		/* The stamp first: the writer times its wake-up from it. */
		__atomic_store_n(&bell->rung_ns, shm_now_ns(), __ATOMIC_RELAXED);
		__atomic_fetch_add(&bell->ring, 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, &bell->ring, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
	/* Whether the last submission had to wake the writer: its completion
	 * is a wake-up away, not worth spinning for (wait_result). */
	__atomic_store_n(&db->rang, rang, __ATOMIC_RELAXED);
}

/* Wait until `need` bytes of the ring are free. While waiting, take
 * completions, so that a writer held up by a full completion ring can go
 * on. Returns 0 or SHMDB_ESHUTDOWN. Under sq_lock. */
static int sq_room(shmdb *db, size_t need)
{
	struct shm_session_header *h = db->session;
	/* The head last seen first: loading sq_head, which the writer has
	 * just stored, costs a cache line from the writer's core on every
	 * commit, and the room it showed only grows. */
	if (SHM_SQ_SIZE - (db->sq_tail - db->sq_head_seen) >= need)
		return 0;
	db->sq_head_seen = __atomic_load_n(&h->sq_head, __ATOMIC_ACQUIRE);
	if (SHM_SQ_SIZE - (db->sq_tail - db->sq_head_seen) >= need)
		return 0;
	/* Full: counted for the daemon's report (under sq_lock, one writer). */
	__atomic_store_n(&h->sq_full, h->sq_full + 1, __ATOMIC_RELAXED);
	for (unsigned spins = 0;; spins++) {
		db->sq_head_seen = __atomic_load_n(&h->sq_head, __ATOMIC_ACQUIRE);
		if (SHM_SQ_SIZE - (db->sq_tail - db->sq_head_seen) >= need)
			return 0;
		if (pthread_mutex_trylock(&db->cq_lock) == 0) {
			reap(db);
			pthread_mutex_unlock(&db->cq_lock);
		}
		if (spins < SPINS_BEFORE_SLEEP) {
			shm_cpu_relax();
			continue;
		}
		if (spins % 256 == 0 && shm_client_daemon_gone(db))
			return SHMDB_ESHUTDOWN;
		publish_tail(db); /* make sure a sleeping writer wakes */
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static int put_record(shmdb *db, uint16_t kind, uint16_t flags, const uint8_t *payload,
		      size_t plen)
{
	uint8_t *sq = (uint8_t *)db->session + SHM_SESSION_SQ_OFF;
	size_t need = sizeof(struct shm_sqe_hdr) + plen;
	int err = sq_room(db, need);
	if (err)
		return err;
	uint64_t pos = db->sq_tail & (SHM_SQ_SIZE - 1);
	struct shm_sqe_hdr hdr = { .len = (uint32_t)need, .kind = kind, .flags = flags };
	memcpy(sq + pos, &hdr, sizeof(hdr));
	if (payload) /* a pad record's body is left as it is */
		memcpy(sq + pos + sizeof(hdr), payload, plen);
	db->sq_tail += need;
	return 0;
}

static int submit(shmdb *db, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	do {
		size_t chunk = len - off < CHUNK_MAX ? len - off : CHUNK_MAX;
		size_t need = sizeof(struct shm_sqe_hdr) + chunk;
		size_t contiguous = SHM_SQ_SIZE - (db->sq_tail & (SHM_SQ_SIZE - 1));
		int err = 0;
		if (need > contiguous) /* records never wrap: pad to the end */
			err = put_record(db, SHM_SQE_PAD, 0, NULL, contiguous - sizeof(struct shm_sqe_hdr));
		uint16_t flags = (off == 0 ? SHM_SQE_FIRST : 0) | (off + chunk == len ? SHM_SQE_LAST : 0);
		if (!err)
			err = put_record(db, SHM_SQE_CHUNK, flags, buf + off, chunk);
		if (err)
			return err;
		publish_tail(db);
		off += chunk;
	} while (off < len);
	return 0;
}

int shmdb_commit_async(shmdb_wtxn *w, uint64_t *ticket)
{
	if (!w)
		return -EINVAL;
	shmdb *db = w->db;
	int err = 0;

	pthread_mutex_lock(&db->sq_lock);
	uint64_t t = db->issued + 1;
	struct shm_result *res = &db->results[t % SHM_RESULTS];
	if (__atomic_load_n(&db->meta->daemon_state, __ATOMIC_RELAXED) != SHM_STATE_RUNNING) {
		err = SHMDB_ESHUTDOWN;
	} else {
		pthread_mutex_lock(&db->cq_lock);
		if (res->state != RESULT_FREE)
			err = -EAGAIN; /* SHM_RESULTS results not yet collected */
		else {
			res->ticket = t;
			res->state = RESULT_PENDING;
		}
		pthread_mutex_unlock(&db->cq_lock);
	}
	if (!err) {
		__atomic_store_n(&db->issued, t, __ATOMIC_RELEASE);
		err = submit(db, w->buf, w->len);
	}
	pthread_mutex_unlock(&db->sq_lock);
	shmdb_abort(w);
	if (err == 0 && ticket)
		*ticket = t;
	return err;
}

int shmdb_commit(shmdb_wtxn *w, uint64_t *commit_ts)
{
	if (!w)
		return -EINVAL;
	shmdb *db = w->db;
	uint64_t ticket;
	int err = shmdb_commit_async(w, &ticket);
	return err ? err : shmdb_wait(db, ticket, commit_ts);
}

/* ---- tables ------------------------------------------------------------------- */

static int name_ok(const char *name, size_t *len)
{
	if (!name)
		return 0;
	*len = strnlen(name, SHMDB_MAX_TABLE_NAME + 1);
	return *len >= 1 && *len <= SHMDB_MAX_TABLE_NAME;
}

/* The live table named `name` in the catalog, or 0; *kind gets its kind
 * (set before its id was published, never changed). */
static shmdb_table find_table(shmdb *db, const char *name, size_t len, uint32_t *kind)
{
	uint32_t id;
	int slot = shm_table_find(db->meta, name, len, &id);
	if (slot < 0)
		return 0;
	*kind = db->meta->tables[slot].kind;
	return id;
}

/* Commit a transaction of the one table operation (client_internal.h). */
int shm_table_op(shmdb *db, uint8_t code, shmdb_table t, uint64_t count, const char *name,
		 size_t len, const void *val, size_t vlen, uint64_t *value)
{
	shmdb_wtxn *w;
	uint64_t ticket;
	int err = shmdb_write_begin(db, &w);
	if (err)
		return err;
	err = append(w, code, t, count, name, len, val, vlen);
	if (err) {
		shmdb_abort(w);
		return err;
	}
	err = shmdb_commit_async(w, &ticket);
	return err ? err : wait_result(db, ticket, NULL, value);
}

int shmdb_table_open(shmdb *db, const char *name, int flags, shmdb_table *t)
{
	size_t len;
	if (!db || !t || !name_ok(name, &len) ||
	    (flags & ~(SHMDB_CREATE | SHMDB_ORDERED | SHMDB_MULTI)))
		return -EINVAL;
	uint32_t kind = flags & SHMDB_MULTI ? SHMDB_ORDERED | SHMDB_MULTI : flags & SHMDB_ORDERED;
	uint32_t found_kind = 0;
	shmdb_table id = find_table(db, name, len, &found_kind);
	if (!id && (flags & SHMDB_CREATE)) {
		uint64_t value = 0;
		int err = shm_table_op(db, SHM_OP_CREATE_TABLE, 0, kind, name, len, NULL, 0, &value);
		if (err == -EEXIST && !kind) /* made with a kind meanwhile: any will do */
			id = find_table(db, name, len, &found_kind);
		else if (err)
			return err;
		else
			return *t = (shmdb_table)value, 0;
	}
	if (!id)
		return -ENOENT;
	if (kind && found_kind != kind)
		return -EEXIST;
	*t = id;
	return 0;
}

int shmdb_table_create_rows(shmdb *db, const char *name, const shmdb_column *cols,
			    unsigned ncols, int flags, shmdb_table *t)
{
	size_t len, bytes;
	if (!db || !t || !cols || !name_ok(name, &len) || (flags & ~SHMDB_ORDERED) ||
	    ncols < 1 || ncols > SHMDB_MAX_COLUMNS)
		return -EINVAL;
	struct shm_column_def defs[SHMDB_MAX_COLUMNS];
	for (unsigned c = 0; c < ncols; c++)
		defs[c] = (struct shm_column_def){ .name = cols[c].name, .type = (unsigned)cols[c].type,
						   .size = cols[c].size,
						   .flags = (unsigned)cols[c].flags };
	/* The largest schema is a few pages: on the stack, 8-byte aligned. */
	uint64_t schema[SHM_MAX_SCHEMA_BYTES / 8 + 1];
	int err = shm_schema_build(defs, ncols, schema, sizeof(schema), &bytes);
	if (err)
		return err == -ENOSPC ? -EINVAL : err;
	uint64_t value = 0;
	err = shm_table_op(db, SHM_OP_CREATE_TABLE, 0, SHM_KIND_ROWS | (uint32_t)flags, name, len,
		       schema, bytes, &value);
	if (err)
		return err;
	*t = (shmdb_table)value;
	return 0;
}

int shmdb_table_drop(shmdb *db, const char *name)
{
	size_t len;
	if (!db || !name_ok(name, &len))
		return -EINVAL;
	return shm_table_op(db, SHM_OP_DROP_TABLE, 0, 0, name, len, NULL, 0, NULL);
}

int shmdb_table_reserve(shmdb *db, shmdb_table t, uint64_t keys)
{
	if (!db)
		return -EINVAL;
	if (keys > SHMDB_MAX_TABLE_KEYS)
		return -ENOSPC;
	if (t == 0) /* no table has id 0 */
		return -ENOENT;
	return shm_table_op(db, SHM_OP_RESERVE, t, keys, "", 0, NULL, 0, NULL);
}
