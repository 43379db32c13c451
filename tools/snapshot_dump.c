/*
 * snapshot_dump.c - a snapshot as a dump file (see snapshot_dump.h).
 *
 * Everything is read through one read transaction, so the file is the
 * store as of one commit: the zero-copy views a cursor hands out are
 * written straight from the store's memory, and stay valid because the
 * snapshot stays open until the END is written.
 */
#include "snapshot_dump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t realtime_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The TABLE frame's description of info's table. */
static int describe(shmdb_rtxn *r, const shmdb_table_info *info, struct shm_dump_table *t,
		    char names[][SHMDB_MAX_COLUMN_NAME + 1])
{
	memset(t, 0, sizeof(*t));
	t->id = info->id;
	t->flags = (uint32_t)info->flags;
	t->records = info->count;
	snprintf(t->name, sizeof(t->name), "%s", info->name);
	if (!(info->flags & SHMDB_ROWS))
		return 0;
	const shmdb_schema *s;
	int e = shmdb_schema_get(r, info->id, &s);
	if (e)
		return e;
	t->ncols = shmdb_schema_columns(s);
	for (unsigned i = 0; i < t->ncols; i++) {
		const char *name;
		size_t len;
		if ((e = shmdb_schema_column(s, i, &t->cols[i], &name, &len)))
			return e;
		if (len > SHMDB_MAX_COLUMN_NAME)
			return -EINVAL;
		memcpy(names[i], name, len);
		names[i][len] = 0;
		t->cols[i].name = names[i];
	}
	return 0;
}

struct progress {
	const struct snapshot_dump_opts *o;
	uint64_t done, total;
};

static int dump_records(shmdb_rtxn *r, struct shm_dump_writer *w, shmdb_table id,
			struct progress *pr)
{
	shmdb_cursor *c;
	int e = shmdb_cursor_open(r, id, &c);
	if (e)
		return e;
	shmdb_val k, v;
	while (!(e = shmdb_cursor_next(c, &k, &v))) {
		if ((e = shm_dump_write_record(w, id, k.data, (uint32_t)k.len, v.data,
					       (uint32_t)v.len)))
			break;
		if (++pr->done % 16384 == 0 && pr->o && pr->o->progress)
			pr->o->progress(pr->o->ctx, pr->done, pr->total);
	}
	shmdb_cursor_close(c);
	return e == -ENOENT ? 0 : e;
}

static int dump_indexes(shmdb_rtxn *r, struct shm_dump_writer *w, shmdb_table id)
{
	size_t n = 0;
	int e = shmdb_indexes(r, id, NULL, 0, &n);
	if (e || !n)
		return e;
	shmdb_index_info *ix = calloc(n, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	e = shmdb_indexes(r, id, ix, n, &n);
	for (size_t i = 0; !e && i < n; i++) {
		struct shm_dump_index d = { .table = id,
					    .flags = (uint32_t)ix[i].flags,
					    .error = ix[i].error };
		snprintf(d.column, sizeof(d.column), "%s", ix[i].column);
		e = shm_dump_write_index(w, &d);
	}
	free(ix);
	return e;
}

/* Keep the tables o names (all of them there), in place; 0 or -ENOENT. */
static int select_tables(shmdb_table_info *tables, size_t *n, const struct snapshot_dump_opts *o,
			 char *err, size_t errlen)
{
	if (!o || !o->ntables)
		return 0;
	for (size_t j = 0; j < o->ntables; j++) {
		size_t i = 0;
		while (i < *n && strcmp(tables[i].name, o->tables[j]))
			i++;
		if (i == *n) {
			snprintf(err, errlen, "no table %s", o->tables[j]);
			return -ENOENT;
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < *n; i++)
		for (size_t j = 0; j < o->ntables; j++)
			if (!strcmp(tables[i].name, o->tables[j])) {
				tables[kept++] = tables[i];
				break;
			}
	*n = kept;
	return 0;
}

int snapshot_dump(shmdb_rtxn *r, int fd, const struct shm_dump_header *tmpl,
		  const struct snapshot_dump_opts *o, struct shm_dump_writer *out, char *err,
		  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	size_t n = 0;
	shmdb_table_info *tables = NULL;
	int e = shmdb_tables(r, NULL, 0, &n);
	if (!e && n && !(tables = calloc(n, sizeof(*tables))))
		e = -ENOMEM;
	if (!e && n)
		e = shmdb_tables(r, tables, n, &n); /* (the same snapshot: the same n) */
	if (e)
		snprintf(err, errlen, "listing the tables: %s", shmdb_strerror(e));
	if (e || (e = select_tables(tables, &n, o, err, errlen))) {
		free(tables);
		return e;
	}
	struct progress pr = { .o = o };
	for (size_t i = 0; i < n; i++)
		pr.total += tables[i].count;
	struct shm_dump_header h = *tmpl;
	h.version = SHM_DUMP_VERSION;
	h.commit_ts = shmdb_read_ts(r);
	h.written_ns = realtime_ns();
	struct shm_dump_writer *w = out;
	struct {
		struct shm_dump_table t;
		char names[SHMDB_MAX_COLUMNS][SHMDB_MAX_COLUMN_NAME + 1];
	} *desc = malloc(sizeof(*desc));
	e = desc ? shm_dump_write_begin(w, fd, &h) : -ENOMEM;
	const char *doing = "writing the header";
	for (size_t i = 0; !e && i < n; i++) {
		doing = tables[i].name;
		if (!(e = describe(r, &tables[i], &desc->t, desc->names)) &&
		    !(e = shm_dump_write_table(w, &desc->t)))
			e = dump_records(r, w, tables[i].id, &pr);
	}
	for (size_t i = 0; !e && i < n; i++) {
		doing = tables[i].name;
		if (tables[i].flags & SHMDB_ROWS)
			e = dump_indexes(r, w, tables[i].id);
	}
	if (!e) {
		doing = "writing the end";
		e = shm_dump_write_end(w);
	} else {
		shm_dump_write_abort(w);
	}
	if (e)
		snprintf(err, errlen, "%s: %s", doing, shmdb_strerror(e));
	free(desc);
	free(tables);
	return e;
}
