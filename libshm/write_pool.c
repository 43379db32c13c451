/*
 * write_pool.c - each handle's pool of finished write transactions and row
 * builders (client_internal.h), and its settings and figures in the
 * public API (shmdb_set_write_pool, shmdb_client_stats_get).
 *
 * A transaction committed or aborted comes back here with its buffers
 * (its operations, and the row it last encoded) and serves the next
 * shmdb_write_begin, emptied; a row builder freed comes back with its
 * arrays and byte buffers and serves the next shmdb_row_new whose schema
 * fits them. So a client that commits in a steady stream allocates
 * nothing once its buffers have grown to its transactions' sizes. At most
 * `keep` of each are kept, and none whose buffer grew past `max_buffer`
 * (one huge load does not pin its memory for the handle's life).
 *
 * Invariants: an item is in the pool or owned by its caller, never both;
 * every buffer of a kept item is at most max_buffer bytes; the counts
 * match the stacks. The pool's mutex orders everything here; the pool is
 * private memory of the process, never shared.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

void shm_pool_init(shmdb *db)
{
	struct shm_write_pool *p = &db->pool;
	pthread_mutex_init(&p->lock, NULL);
	p->keep = SHM_POOL_DEFAULT_KEEP;
	p->max_buffer = SHM_POOL_DEFAULT_MAX_BUFFER;
}

static void txn_destroy(shmdb_wtxn *w)
{
	free(w->buf);
	free(w->row);
	free(w);
}

shmdb_wtxn *shm_pool_take_txn(shmdb *db)
{
	struct shm_write_pool *p = &db->pool;
	pthread_mutex_lock(&p->lock);
	shmdb_wtxn *w = p->txns;
	p->txns_begun++;
	if (w) {
		p->txns = w->next;
		p->ntxns--;
		p->txns_reused++;
	}
	pthread_mutex_unlock(&p->lock);
	if (w) {
		w->len = 0;
		w->next = NULL;
	}
	return w;
}

void shm_pool_give_txn(shmdb_wtxn *w)
{
	struct shm_write_pool *p = &w->db->pool;
	pthread_mutex_lock(&p->lock);
	bool kept = p->ntxns < p->keep && w->cap <= p->max_buffer &&
		    w->row_cap <= p->max_buffer;
	if (kept) {
		w->next = p->txns;
		p->txns = w;
		p->ntxns++;
	} else {
		p->freed++;
	}
	pthread_mutex_unlock(&p->lock);
	if (!kept)
		txn_destroy(w);
}

/* Free b's byte buffers of more than max bytes. */
static void drop_big_bytes(struct shmdb_row *b, size_t max)
{
	for (unsigned c = 0; c < b->ncols_cap; c++)
		if (b->bytes_cap[c] > max) {
			free(b->bytes[c]);
			b->bytes[c] = NULL;
			b->bytes_cap[c] = 0;
		}
}

struct shmdb_row *shm_pool_take_row(shmdb *db, unsigned ncols, size_t schema_bytes)
{
	struct shm_write_pool *p = &db->pool;
	pthread_mutex_lock(&p->lock);
	p->rows_made++;
	struct shmdb_row **at = &p->rows, *b;
	while ((b = *at) && (b->ncols_cap < ncols || b->schema_cap < schema_bytes))
		at = &b->next;
	if (b) {
		*at = b->next;
		p->nrows--;
		p->rows_reused++;
		b->next = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	return b;
}

void shm_pool_give_row(struct shmdb_row *b)
{
	struct shm_write_pool *p = &b->db->pool;
	pthread_mutex_lock(&p->lock);
	bool kept = p->nrows < p->keep;
	if (kept) {
		drop_big_bytes(b, p->max_buffer); /* the rest stay */
		b->next = p->rows;
		p->rows = b;
		p->nrows++;
	} else {
		p->freed++;
	}
	pthread_mutex_unlock(&p->lock);
	if (!kept)
		shm_row_destroy(b);
}

/* Free kept items past keep, and buffers past max_buffer. Under the lock. */
static void trim(struct shm_write_pool *p)
{
	for (shmdb_wtxn **at = &p->txns, *w; (w = *at);) {
		if (p->ntxns > p->keep || w->cap > p->max_buffer || w->row_cap > p->max_buffer) {
			*at = w->next;
			p->ntxns--;
			txn_destroy(w);
		} else {
			at = &w->next;
		}
	}
	while (p->nrows > p->keep) {
		struct shmdb_row *b = p->rows;
		p->rows = b->next;
		p->nrows--;
		shm_row_destroy(b);
	}
	for (struct shmdb_row *b = p->rows; b; b = b->next)
		drop_big_bytes(b, p->max_buffer);
}

void shm_pool_destroy(shmdb *db)
{
	struct shm_write_pool *p = &db->pool;
	pthread_mutex_lock(&p->lock);
	p->keep = 0;
	trim(p);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_destroy(&p->lock);
}

int shmdb_set_write_pool(shmdb *db, unsigned keep, size_t max_buffer)
{
	if (!db || keep > SHMDB_WRITE_POOL_MAX)
		return -EINVAL;
	struct shm_write_pool *p = &db->pool;
	pthread_mutex_lock(&p->lock);
	p->keep = keep;
	p->max_buffer = max_buffer;
	trim(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int shmdb_client_stats_get(shmdb *db, shmdb_client_stats *st)
{
	if (!db || !st)
		return -EINVAL;
	struct shm_write_pool *p = &db->pool;
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&p->lock);
	st->write_txns = p->txns_begun;
	st->txns_reused = p->txns_reused;
	st->rows_made = p->rows_made;
	st->rows_reused = p->rows_reused;
	st->pool_freed = p->freed;
	st->pool_txns = p->ntxns;
	st->pool_rows = p->nrows;
	st->pool_keep = p->keep;
	st->pool_max_buffer = p->max_buffer;
	pthread_mutex_unlock(&p->lock);
	uint64_t all = st->write_txns + st->rows_made;
	st->reuse_rate = all ? (double)(st->txns_reused + st->rows_reused) / (double)all : 0.0;
	return 0;
}
