/*
 * dump_cmd.c - `shmdb dump`, `shmdb load` and `shmdb backup` (see
 * dump_cmd.h).
 *
 * A dump and a backup are one snapshot, so they are consistent however
 * busy the store is. A load is not one transaction: it commits the
 * records in batches (LOAD_BATCH_*), so a load that fails part way leaves
 * the batches before the failure committed, and says how many records
 * those held. Loading into tables that exist (of the same kind and
 * schema) sets the dump's keys in them and leaves their other keys.
 */
#include "dump_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dumpfile.h"
#include "snapshot_dump.h"
#include "storefile.h"

#define LOAD_BATCH_BYTES (4u << 20)
#define LOAD_BATCH_RECORDS 4096u

static int fail(const char *what, const char *why)
{
	fprintf(stderr, "shmdb: %s: %s\n", what, why);
	return 1;
}

static void summary(const char *verb, const struct shm_dump_writer *w, uint64_t ts,
		    const char *where)
{
	fprintf(stderr,
		"shmdb: %s commit %" PRIu64 ": %" PRIu64 " tables, %" PRIu64 " records, %" PRIu64
		" indexes, %" PRIu64 " bytes%s%s\n",
		verb, ts, w->tables, w->records, w->indexes, w->bytes, where ? " to " : "",
		where ? where : "");
}

int dump_cmd_dump(shmdb *db, const char *file)
{
	int fd = STDOUT_FILENO;
	if (!file && isatty(fd))
		return fail("dump", "the dump is binary: give a FILE, or redirect stdout");
	if (file && (fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return fail(file, strerror(errno));
	shmdb_rtxn *r;
	char why[512];
	struct shm_dump_writer w;
	int e = shmdb_read_begin(db, &r);
	if (e) {
		snprintf(why, sizeof(why), "a snapshot: %s", shmdb_strerror(e));
	} else {
		e = snapshot_dump(r, fd, &(struct shm_dump_header){ 0 }, &w, why, sizeof(why));
		uint64_t ts = shmdb_read_ts(r);
		shmdb_read_end(r);
		if (!e && file && fsync(fd)) {
			e = -errno;
			snprintf(why, sizeof(why), "fsync: %s", strerror(errno));
		}
		if (!e)
			summary("dumped", &w, ts, file ? file : "stdout");
	}
	if (file && close(fd) && !e) {
		e = -errno;
		snprintf(why, sizeof(why), "close: %s", strerror(errno));
	}
	if (e && file)
		unlink(file);
	return e ? fail(file ? file : "dump", why) : 0;
}

/* ---- load -------------------------------------------------------------------- */

struct loader {
	shmdb *db;
	const char *file;
	struct {
		uint32_t old;
		shmdb_table now;
		char name[SHMDB_MAX_TABLE_NAME + 1];
	} *tables;
	size_t ntables, cap;
	shmdb_wtxn *w;            /* the batch being collected, or NULL */
	size_t batch_bytes, batch_records;
	uint64_t records, committed, indexes, skipped;
	char why[600];
};

static int commit_batch(struct loader *l)
{
	if (!l->w)
		return 0;
	int e = shmdb_commit(l->w, NULL);
	l->w = NULL;
	if (e) {
		snprintf(l->why, sizeof(l->why), "committing records: %s", shmdb_strerror(e));
		return e;
	}
	l->committed += l->batch_records;
	l->batch_bytes = l->batch_records = 0;
	return 0;
}

static int load_table(struct loader *l, const struct shm_dump_table *t)
{
	if (l->ntables == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *p = realloc(l->tables, cap * sizeof(*l->tables));
		if (!p)
			return -ENOMEM;
		l->tables = p;
		l->cap = cap;
	}
	shmdb_table h;
	int e = (t->flags & SHMDB_ROWS)
			? shmdb_table_create_rows(l->db, t->name, t->cols, t->ncols,
						  (int)(t->flags & SHMDB_ORDERED), &h)
			: shmdb_table_open(l->db, t->name, SHMDB_CREATE | (int)t->flags, &h);
	if (e) {
		snprintf(l->why, sizeof(l->why), "table %s: %s%s", t->name, shmdb_strerror(e),
			 e == -EEXIST ? " (the store has a table of that name of another kind or "
					"schema)"
				      : "");
		return e;
	}
	l->tables[l->ntables].old = t->id;
	l->tables[l->ntables].now = h;
	snprintf(l->tables[l->ntables].name, sizeof(l->tables[0].name), "%s", t->name);
	l->ntables++;
	return 0;
}

static size_t find(const struct loader *l, uint32_t old)
{
	for (size_t i = 0; i < l->ntables; i++)
		if (l->tables[i].old == old)
			return i;
	return l->ntables; /* (not reached: the reader checks every id) */
}

static int load_record(struct loader *l, const struct shm_dump_item *it)
{
	size_t i = find(l, it->record_table);
	int e = i == l->ntables ? -ENOENT : 0;
	if (!e && !l->w)
		e = shmdb_write_begin(l->db, &l->w);
	if (!e)
		e = shmdb_put(l->w, l->tables[i].now, it->key, it->klen, it->val, it->vlen);
	if (e) {
		snprintf(l->why, sizeof(l->why), "a record of %s: %s",
			 i < l->ntables ? l->tables[i].name : "?", shmdb_strerror(e));
		return e;
	}
	l->records++;
	l->batch_records++;
	l->batch_bytes += it->klen + it->vlen + 16;
	if (l->batch_bytes >= LOAD_BATCH_BYTES || l->batch_records >= LOAD_BATCH_RECORDS)
		return commit_batch(l);
	return 0;
}

static int load_index(struct loader *l, const struct shm_dump_index *ix)
{
	size_t i = find(l, ix->table);
	if (i == l->ntables)
		return -ENOENT;
	if (ix->error) {
		fprintf(stderr, "shmdb: the index of %s on %s had failed (%s): not created\n",
			l->tables[i].name, ix->column, shmdb_strerror(ix->error));
		l->skipped++;
		return 0;
	}
	shmdb_table h;
	int e = shmdb_index_create(l->db, l->tables[i].now, ix->column, (int)ix->flags, &h);
	if (e) {
		snprintf(l->why, sizeof(l->why), "the index of %s on %s: %s", l->tables[i].name,
			 ix->column, shmdb_strerror(e));
		return e;
	}
	l->indexes++;
	return 0;
}

int dump_cmd_load(shmdb *db, const char *file)
{
	int fd = file && strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	const char *name = fd == STDIN_FILENO ? "stdin" : file;
	if (fd < 0)
		return fail(file, strerror(errno));
	struct loader l = { .db = db, .file = name };
	struct shm_dump_reader r;
	struct shm_dump_item it;
	int e = shm_dump_read_begin(&r, fd);
	while (!e && (e = shm_dump_read_next(&r, &it)) == 1) {
		if (it.kind == SHM_DUMP_ITEM_RECORD) {
			e = load_record(&l, &it);
			continue;
		}
		if ((e = commit_batch(&l)))
			break;
		e = it.kind == SHM_DUMP_ITEM_TABLE ? load_table(&l, it.table)
						   : load_index(&l, it.index);
	}
	if (!e)
		e = commit_batch(&l);
	if (l.w)
		shmdb_abort(l.w);
	if (e == -EBADMSG && !l.why[0])
		snprintf(l.why, sizeof(l.why), "not a good dump file: %s", r.err);
	else if (e && !l.why[0])
		snprintf(l.why, sizeof(l.why), "%s", e < 0 && e > -4096 ? strerror(-e)
									: shmdb_strerror(e));
	shm_dump_read_end(&r);
	if (fd != STDIN_FILENO)
		close(fd);
	free(l.tables);
	if (e) {
		fprintf(stderr, "shmdb: load %s: %s (%" PRIu64 " records were committed before)\n",
			name, l.why, l.committed);
		return 1;
	}
	fprintf(stderr,
		"shmdb: loaded %s: %zu tables, %" PRIu64 " records, %" PRIu64 " indexes"
		"%s\n",
		name, l.ntables, l.records, l.indexes,
		l.skipped ? " (failed indexes left out)" : "");
	return 0;
}

/* ---- backup ------------------------------------------------------------------ */

/* An empty dir at `dir`, created if missing; 0 or -errno (-ENOTEMPTY). */
static int empty_dir(const char *dir)
{
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int e = 0;
	struct dirent *de;
	while (!e && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			e = -ENOTEMPTY;
	closedir(d);
	return e;
}

/* Write `len` bytes to DIR/name, synced. */
static int write_file(int dirfd, const char *name, const void *p, size_t len)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int e = write(fd, p, len) == (ssize_t)len && !fsync(fd) ? 0 : errno ? -errno : -EIO;
	close(fd);
	return e;
}

int dump_cmd_backup(shmdb *db, const char *dir)
{
	char why[600] = "";
	uint8_t id[16], store[SHM_STORE_FILE_SIZE];
	int e = empty_dir(dir), dirfd = -1, fd = -1;
	if (e)
		return fail(dir, e == -ENOTEMPTY ? "not empty: a backup goes into a new dir"
						  : strerror(-e));
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		e = -errno;
		snprintf(why, sizeof(why), "%s", strerror(errno));
		goto out;
	}
	/* A new store: its own id, so that no log of the store it copies
	 * can be replayed over it by mistake. */
	shm_store_file_encode(store, id);
	if ((e = write_file(dirfd, "STORE", store, sizeof(store)))) {
		snprintf(why, sizeof(why), "STORE: %s", strerror(-e));
		goto out;
	}
	if ((fd = openat(dirfd, "checkpoint.tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			 0600)) < 0) {
		e = -errno;
		snprintf(why, sizeof(why), "checkpoint.tmp: %s", strerror(errno));
		goto out;
	}
	shmdb_rtxn *r;
	struct shm_dump_writer w;
	if ((e = shmdb_read_begin(db, &r))) {
		snprintf(why, sizeof(why), "a snapshot: %s", shmdb_strerror(e));
		goto out;
	}
	struct shm_dump_header h = { .flags = SHM_DUMP_CHECKPOINT }; /* (run 0: no log) */
	memcpy(h.store_id, id, 16);
	e = snapshot_dump(r, fd, &h, &w, why, sizeof(why));
	uint64_t ts = shmdb_read_ts(r);
	shmdb_read_end(r);
	char name[64];
	shm_checkpoint_name(name, sizeof(name), ts);
	if (!e && (fsync(fd) || renameat(dirfd, "checkpoint.tmp", dirfd, name) || fsync(dirfd))) {
		e = -errno;
		snprintf(why, sizeof(why), "%s: %s", name, strerror(errno));
	}
	if (!e) {
		summary("backed up", &w, ts, dir);
		fprintf(stderr, "shmdb: start a daemon on it with: shmdbd --data-dir %s\n", dir);
	}
out:
	if (fd >= 0)
		close(fd);
	if (e && dirfd >= 0) {
		unlinkat(dirfd, "checkpoint.tmp", 0);
		unlinkat(dirfd, "STORE", 0);
	}
	if (dirfd >= 0)
		close(dirfd);
	return e ? fail(dir, why) : 0;
}
