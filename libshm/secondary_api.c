/*
 * secondary_api.c - creating, finding, dropping and listing secondary
 * indexes (shmdb.h): the client's side of the writer's CREATE_INDEX and
 * DROP_INDEX ops and of the builds they start (daemon/secondary_fill.h).
 *
 * A create commits the index, then waits for its build in snapshots of its
 * own, reading the definition's ready_ts (acquire, pairing with the
 * build's release store) in each; the snapshot keeps the definition there
 * while it is read. Between looks it sleeps, from 20 us doubling to 1 ms:
 * a build takes about a commit of FILL_STEP rows per step.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "client_internal.h"
#include "secondary.h"
#include "tree_read.h"
#include "txn.h"

#define WAIT_FIRST_NS 20000L
#define WAIT_MOST_NS 1000000L

static int column_ok(const char *column, size_t *len)
{
	if (!column)
		return 0;
	*len = strnlen(column, SHM_MAX_COLUMN_NAME + 1);
	return *len >= 1 && *len <= SHM_MAX_COLUMN_NAME;
}

/* How index id's build stands in a new snapshot: 1 complete, 0 under way,
 * or an error: the build's (*failed set), -ENOENT for an index dropped
 * meanwhile, SHMDB_ESHUTDOWN, or shmdb_read_begin's. */
static int built(shmdb *db, shmdb_table id, int *failed)
{
	shmdb_rtxn *r;
	int e = shmdb_read_begin(db, &r);
	if (e)
		return e;
	const struct shm_table *tb = shm_table_at(r->meta, id, r->snap);
	if (!tb) {
		shmdb_read_end(r);
		return -ENOENT;
	}
	const struct shm_index_def *d = (const struct shm_index_def *)(r->base + tb->schema);
	uint64_t ready = __atomic_load_n(&d->ready_ts, __ATOMIC_ACQUIRE), snap = r->snap;
	int err = d->error;
	shmdb_read_end(r);
	if (ready == SHM_TS_INFINITY) {
		*failed = 1;
		return err ? err : -EIO;
	}
	/* Complete once a snapshot shows the commit that completed it: the
	 * writer stores ready_ts before it publishes that commit. */
	if (ready && ready <= snap)
		return 1;
	if (__atomic_load_n(&db->meta->daemon_state, __ATOMIC_RELAXED) != SHM_STATE_RUNNING)
		return SHMDB_ESHUTDOWN;
	return 0;
}

int shmdb_index_create(shmdb *db, shmdb_table t, const char *column, int flags,
		       shmdb_table *index)
{
	size_t len;
	uint64_t value = 0;
	if (!db || !index || !column_ok(column, &len) || (flags & ~SHMDB_UNIQUE))
		return -EINVAL;
	if (t == 0)
		return -ENOENT;
	int e = shm_table_op(db, SHM_OP_CREATE_INDEX, t, (uint64_t)flags, column, len, NULL, 0,
			     &value);
	if (e)
		return e;
	long ns = WAIT_FIRST_NS;
	int failed = 0;
	while ((e = built(db, (shmdb_table)value, &failed)) == 0) {
		struct timespec ts = { 0, ns };
		nanosleep(&ts, NULL);
		ns = ns * 2 > WAIT_MOST_NS ? WAIT_MOST_NS : ns * 2;
	}
	if (e < 0) {
		/* A build that failed leaves no index (the writer keeps it,
		 * failed, only until this drop or the next create). */
		if (failed)
			shmdb_index_drop(db, t, column);
		return e;
	}
	*index = (shmdb_table)value;
	return 0;
}

/* Whether catalog entry tb, which held index id of table t on
 * column[0..len) when looked at, is that index, complete. Without a
 * snapshot, the definition block could be a freed one by the time it is
 * read: the entry is looked at again after (acquire), and a drop, which
 * comes before any free, would show there. */
static int complete_index(const struct shm_table *tb, uint32_t id, const uint8_t *base,
			  const struct shm_meta *meta)
{
	const struct shm_index_def *d = (const struct shm_index_def *)(base + tb->schema);
	/* Acquire: the entry is looked at again after the definition. */
	uint64_t ready = __atomic_load_n(&d->ready_ts, __ATOMIC_ACQUIRE);
	/* Acquire: a snapshot begun after this call sees that commit (the
	 * writer stores ready_ts before it publishes the commit). */
	return ready && ready != SHM_TS_INFINITY &&
	       ready <= __atomic_load_n(&meta->commit_ts, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&tb->id, __ATOMIC_ACQUIRE) == id &&
	       __atomic_load_n(&tb->state, __ATOMIC_ACQUIRE) == SHM_TABLE_LIVE;
}

int shmdb_index_open(shmdb *db, shmdb_table t, const char *column, shmdb_table *index)
{
	size_t len;
	if (!db || !index || !column_ok(column, &len))
		return -EINVAL;
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++) {
		const struct shm_table *tb = &db->meta->tables[i];
		uint32_t id = __atomic_load_n(&tb->id, __ATOMIC_ACQUIRE);
		if (id && (tb->kind & SHM_KIND_INDEX) && tb->base == t &&
		    __atomic_load_n(&tb->state, __ATOMIC_RELAXED) == SHM_TABLE_LIVE &&
		    tb->name_len == len && !memcmp(tb->name, column, len))
			return complete_index(tb, id, db->base, db->meta) ? (*index = id, 0) : -ENOENT;
	}
	return -ENOENT;
}

int shmdb_index_drop(shmdb *db, shmdb_table t, const char *column)
{
	size_t len;
	if (!db || !column_ok(column, &len))
		return -EINVAL;
	if (t == 0)
		return -ENOENT;
	return shm_table_op(db, SHM_OP_DROP_INDEX, t, 0, column, len, NULL, 0, NULL);
}

int shmdb_indexes(shmdb_rtxn *r, shmdb_table t, shmdb_index_info *out, size_t cap, size_t *n)
{
	if (!r || !r->active || !n || (cap && !out))
		return -EINVAL;
	if (!shm_table_at(r->meta, t, r->snap))
		return -ENOENT;
	size_t found = 0;
	unsigned cols[SHM_MAX_COLUMNS];
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++) {
		uint32_t id = __atomic_load_n(&r->meta->tables[i].id, __ATOMIC_ACQUIRE);
		const struct shm_table *tb = id ? shm_table_at(r->meta, id, r->snap) : NULL;
		if (!tb || !(tb->kind & SHM_KIND_INDEX) || tb->base != t)
			continue;
		const struct shm_index_def *d = (const struct shm_index_def *)(r->base + tb->schema);
		uint64_t ready = __atomic_load_n(&d->ready_ts, __ATOMIC_ACQUIRE);
		shmdb_index_info info = { .id = id,
					  .flags = tb->kind & SHM_KIND_UNIQUE ? SHMDB_UNIQUE : 0,
					  .ready = ready && ready <= r->snap,
					  .error = ready != SHM_TS_INFINITY ? 0
						   : d->error ? d->error : -EIO };
		memcpy(info.column, tb->name, tb->name_len < 63 ? tb->name_len : 63);
		if (info.ready)
			info.count = shm_count_at(r->base, tb, r->snap).records;
		/* In column order: one index per column. */
		size_t at = found < cap ? found : cap;
		while (at > 0 && cols[at - 1] > d->column) {
			if (at < cap) {
				out[at] = out[at - 1];
				cols[at] = cols[at - 1];
			}
			at--;
		}
		if (at < cap) {
			out[at] = info;
			cols[at] = d->column;
		}
		found++;
	}
	*n = found;
	return 0;
}
