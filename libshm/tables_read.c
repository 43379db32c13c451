/*
 * tables_read.c - whole tables as a snapshot sees them: their record
 * counts and the list of tables.
 *
 * A table's count is a version chain of its own (layout.h, struct
 * shm_table's count_head): the writer adds a version at each commit that
 * changes the count or the record bytes, and reclaims the old ones exactly
 * as it does a key's, so a snapshot reads the count as of its commit by
 * the same validated walk a get uses (index.h's shm_slot_visible, the
 * count_head word taking the place of an index slot). No system call, lock
 * or allocation.
 *
 * Ordering: the catalog entry through shm_table_at (acquire on its id),
 * count_head with acquire order, pairing with the writer's release stores.
 */
#include <errno.h>
#include <string.h>

#include "catalog.h"
#include "client_internal.h"
#include "index.h"
#include "tree_read.h"

/* The count version snapshot r sees of entry tb: its value, or zeros. */
static struct shm_count count_of(const shmdb_rtxn *r, const struct shm_table *tb)
{
	return shm_count_at(r->base, tb, r->snap);
}

int shmdb_count(shmdb_rtxn *r, shmdb_table t, uint64_t *n)
{
	if (!r || !r->active || !n)
		return -EINVAL;
	const struct shm_table *tb = shm_table_at(r->meta, t, r->snap);
	if (!tb)
		return -ENOENT;
	if ((tb->kind & SHM_KIND_INDEX) && shm_index_ready(r, tb))
		return -EAGAIN; /* a count of an index being built means nothing */
	*n = count_of(r, tb).records;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const shmdb_table_info *x = a, *y = b;
	return strcmp(x->name, y->name); /* names hold no NUL: bytewise, shorter first */
}

int shmdb_tables(shmdb_rtxn *r, shmdb_table_info *out, size_t cap, size_t *n)
{
	if (!r || !r->active || !n || (cap && !out))
		return -EINVAL;
	/* Every visible table goes through a sorted window of the cap
	 * smallest names: insertion into out[] keeps it sorted. */
	size_t found = 0, kept = 0;
	for (unsigned i = 0; i < SHM_MAX_TABLES; i++) {
		uint32_t id = __atomic_load_n(&r->meta->tables[i].id, __ATOMIC_ACQUIRE);
		const struct shm_table *tb = id ? shm_table_at(r->meta, id, r->snap) : NULL;
		if (!tb || (tb->kind & SHM_KIND_INDEX)) /* (indexes: shmdb_indexes) */
			continue;
		found++;
		shmdb_table_info info = { .id = id, .flags = (int)tb->kind };
		size_t len = tb->name_len <= SHMDB_MAX_TABLE_NAME ? tb->name_len : SHMDB_MAX_TABLE_NAME;
		memcpy(info.name, tb->name, len);
		info.name[len] = 0;
		if (kept == cap && (!cap || by_name(&info, &out[cap - 1]) >= 0))
			continue;
		struct shm_count c = count_of(r, tb);
		uint64_t word = shm_table_word(r->base, tb, r->snap);
		info.count = c.records;
		info.bytes = c.record_bytes + c.tree_bytes + shm_index_bytes(word);
		info.index_slots = shm_index_mask(word) + 1;
		info.index_used = __atomic_load_n(&tb->index_used, __ATOMIC_RELAXED);
		size_t at = kept < cap ? kept++ : cap - 1;
		while (at > 0 && by_name(&info, &out[at - 1]) < 0) {
			out[at] = out[at - 1];
			at--;
		}
		out[at] = info;
	}
	*n = found;
	return 0;
}
