/*
 * dump_cmd.c - `shmdb dump`, `shmdb load` and `shmdb backup` (see
 * dump_cmd.h).
 *
 * A dump and a backup are one snapshot, so they are consistent however
 * busy the store is. A load reads its input twice (a pipe is first
 * copied to an unlinked temporary file): the first pass checks every
 * frame of the file and every table against the store, and applies
 * nothing; only a file that passes is applied, in the second. The load is
 * not one transaction: it commits the records in batches (LOAD_BATCH_*),
 * so a load the store refuses part way (no room, say) leaves the batches
 * before committed, and says how many records those held. Loading into
 * tables that exist (of the same kind and schema) sets the dump's keys in
 * them and leaves their other keys.
 */
#include "dump_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
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
		" indexes, %" PRIu64 " bytes to %s\n",
		verb, ts, w->tables, w->records, w->indexes, w->bytes, where);
}

/* ---- the progress bar: on stderr when it is a terminal, else nothing ------ */

struct bar {
	const char *what;
	bool on;
	uint64_t next_ns; /* redrawn at most every 100 ms */
};

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void bar_init(struct bar *b, const char *what)
{
	*b = (struct bar){ .what = what, .on = isatty(STDERR_FILENO) };
}

static void bar_draw(void *ctx, uint64_t done, uint64_t total)
{
	struct bar *b = ctx;
	uint64_t now = mono_ns();
	if (!b->on || now < b->next_ns)
		return;
	b->next_ns = now + 100000000ull;
	unsigned pct = total ? (unsigned)(done * 100 / total) : 100, fill = pct > 100 ? 40 : pct * 40 / 100;
	char line[41];
	memset(line, '#', fill);
	memset(line + fill, '.', 40 - fill);
	line[40] = 0;
	fprintf(stderr, "\r%s [%s] %3u%% %" PRIu64 "/%" PRIu64 " records", b->what, line,
		pct > 100 ? 100 : pct, done, total);
}

static void bar_done(struct bar *b)
{
	if (b->on && b->next_ns)
		fputs("\r\033[K", stderr); /* the bar gives way to the summary */
}

/* ---- dump -------------------------------------------------------------------- */

int dump_cmd_dump(shmdb *db, const char *const *tables, size_t ntables)
{
	int fd = STDOUT_FILENO;
	if (isatty(fd))
		return fail("dump", "the dump is binary: redirect stdout to a file or a pipe");
	shmdb_rtxn *r;
	char why[512];
	struct shm_dump_writer w;
	struct bar b;
	bar_init(&b, "dumping");
	struct snapshot_dump_opts o = { .tables = tables, .ntables = ntables,
					.progress = bar_draw, .ctx = &b };
	int e = shmdb_read_begin(db, &r);
	if (e)
		return fail("dump", shmdb_strerror(e));
	e = snapshot_dump(r, fd, &(struct shm_dump_header){ 0 }, &o, &w, why, sizeof(why));
	uint64_t ts = shmdb_read_ts(r);
	shmdb_read_end(r);
	bar_done(&b);
	if (e)
		return fail("dump", why);
	summary("dumped", &w, ts, "stdout");
	return 0;
}

/* ---- load -------------------------------------------------------------------- */

/* A table of the dump, and the table it goes to. */
struct load_table {
	uint32_t old;
	shmdb_table now;
	char name[SHMDB_MAX_TABLE_NAME + 1];
};

struct loader {
	shmdb *db;
	struct load_table *tables;
	size_t ntables, cap;
	shmdb_wtxn *w;            /* the batch being collected, or NULL */
	size_t batch_bytes, batch_records;
	uint64_t total, records, committed, indexes, skipped;
	struct bar bar;
	char why[600];
};

/* Whether existing table x has t's kind and (rows) schema. */
static bool same_table(shmdb_rtxn *r, const shmdb_table_info *x, const struct shm_dump_table *t)
{
	if ((uint32_t)x->flags != t->flags)
		return false;
	if (!(t->flags & SHMDB_ROWS))
		return true;
	const shmdb_schema *s;
	if (shmdb_schema_get(r, x->id, &s) || shmdb_schema_columns(s) != t->ncols)
		return false;
	for (unsigned i = 0; i < t->ncols; i++) {
		shmdb_column c;
		const char *name;
		size_t len;
		if (shmdb_schema_column(s, i, &c, &name, &len) || c.type != t->cols[i].type ||
		    c.flags != t->cols[i].flags ||
		    (c.type == SHMDB_FIXED && c.size != t->cols[i].size) ||
		    len != strlen(t->cols[i].name) || memcmp(name, t->cols[i].name, len))
			return false;
	}
	return true;
}

/*
 * The first pass: read the whole dump, every check of the reader, and
 * each table against the store (one of that name must be of the same
 * kind and schema). Nothing is applied; *records gets the dump's count.
 */
static int verify(struct loader *l, int fd, const char *name, uint64_t *records)
{
	struct shm_dump_reader rd;
	struct shm_dump_item it;
	shmdb_rtxn *r;
	int e = shmdb_read_begin(l->db, &r);
	if (e) {
		snprintf(l->why, sizeof(l->why), "a snapshot: %s", shmdb_strerror(e));
		return e;
	}
	size_t n = 0;
	shmdb_table_info *have = NULL;
	if (!(e = shmdb_tables(r, NULL, 0, &n)) && n) {
		have = calloc(n, sizeof(*have));
		e = have ? shmdb_tables(r, have, n, &n) : -ENOMEM;
	}
	if (!e)
		e = shm_dump_read_begin(&rd, fd);
	else
		memset(&rd, 0, sizeof(rd));
	while (!e && (e = shm_dump_read_next(&rd, &it)) == 1) {
		e = 0;
		if (it.kind != SHM_DUMP_ITEM_TABLE)
			continue;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(have[i].name, it.table->name) &&
			    !same_table(r, &have[i], it.table)) {
				snprintf(l->why, sizeof(l->why),
					 "table %s: the store has a table of that name of another "
					 "kind or schema",
					 it.table->name);
				e = -EEXIST;
			}
	}
	if (e == -EBADMSG)
		snprintf(l->why, sizeof(l->why), "not a good dump file: %s", rd.err);
	else if (e && !l->why[0])
		snprintf(l->why, sizeof(l->why), "reading %s: %s", name, strerror(-e));
	*records = rd.records;
	shm_dump_read_end(&rd);
	shmdb_read_end(r);
	free(have);
	return e;
}

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
	bar_draw(&l->bar, l->committed, l->total);
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
		snprintf(l->why, sizeof(l->why), "table %s: %s", t->name, shmdb_strerror(e));
		return e;
	}
	uint64_t room = t->records < l->total ? t->records : l->total; /* (a hint only) */
	if (room && (e = shmdb_table_reserve(l->db, h, room))) {
		snprintf(l->why, sizeof(l->why), "table %s: room for %" PRIu64 " records: %s",
			 t->name, room, shmdb_strerror(e));
		return e;
	}
	struct load_table *lt = &l->tables[l->ntables++];
	lt->old = t->id;
	lt->now = h;
	snprintf(lt->name, sizeof(lt->name), "%s", t->name);
	return 0;
}

/* The table the dump calls `old` (the reader checked it was described). */
static const struct load_table *find(const struct loader *l, uint32_t old)
{
	for (size_t i = 0; i < l->ntables; i++)
		if (l->tables[i].old == old)
			return &l->tables[i];
	return NULL;
}

static int load_record(struct loader *l, const struct shm_dump_item *it)
{
	const struct load_table *t = find(l, it->record_table);
	int e = t ? 0 : -ENOENT;
	if (!e && !l->w)
		e = shmdb_write_begin(l->db, &l->w);
	if (!e)
		e = shmdb_put(l->w, t->now, it->key, it->klen, it->val, it->vlen);
	if (e) {
		snprintf(l->why, sizeof(l->why), "a record of %s: %s", t ? t->name : "?",
			 shmdb_strerror(e));
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
	const struct load_table *t = find(l, ix->table);
	if (!t)
		return -ENOENT;
	if (ix->error) {
		fprintf(stderr, "shmdb: the index of %s on %s had failed (%s): not created\n",
			t->name, ix->column, shmdb_strerror(ix->error));
		l->skipped++;
		return 0;
	}
	shmdb_table h;
	int e = shmdb_index_create(l->db, t->now, ix->column, (int)ix->flags, &h);
	if (e) {
		snprintf(l->why, sizeof(l->why), "the index of %s on %s: %s", t->name, ix->column,
			 shmdb_strerror(e));
		return e;
	}
	l->indexes++;
	return 0;
}

/* The second pass: apply what verify() passed. */
static int apply(struct loader *l, int fd)
{
	struct shm_dump_reader r;
	struct shm_dump_item it;
	int e = shm_dump_read_begin(&r, fd);
	while (!e && (e = shm_dump_read_next(&r, &it)) == 1) {
		if (it.kind == SHM_DUMP_ITEM_RECORD) {
			e = load_record(l, &it);
			continue;
		}
		if ((e = commit_batch(l)))
			break;
		e = it.kind == SHM_DUMP_ITEM_TABLE ? load_table(l, it.table)
						   : load_index(l, it.index);
	}
	if (!e)
		e = commit_batch(l);
	if (l->w)
		shmdb_abort(l->w);
	l->w = NULL;
	if (e == -EBADMSG && !l->why[0]) /* (the file changed under us) */
		snprintf(l->why, sizeof(l->why), "not a good dump file: %s", r.err);
	else if (e && !l->why[0])
		snprintf(l->why, sizeof(l->why), "%s", shmdb_strerror(e));
	shm_dump_read_end(&r);
	return e;
}

/* A seekable copy of a pipe: an unlinked file in $TMPDIR (or /var/tmp). */
static int spool(int in, char *why, size_t whylen)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "a temporary file in %s: %s", dir, strerror(errno));
		return -1;
	}
	static char buf[1 << 16];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write(fd, buf, (size_t)n) != n) {
			snprintf(why, whylen, "copying stdin to %s: %s", dir,
				 n < 0 ? strerror(errno) : "short write");
			close(fd);
			return -1;
		}
	}
	return fd;
}

int dump_cmd_load(shmdb *db, const char *file)
{
	bool from_stdin = !file || !strcmp(file, "-");
	const char *name = from_stdin ? "stdin" : file;
	struct loader l = { .db = db };
	int fd = from_stdin ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(file, strerror(errno));
	if (lseek(fd, 0, SEEK_SET) < 0) { /* a pipe: read twice from a copy */
		int copy = spool(fd, l.why, sizeof(l.why));
		if (!from_stdin)
			close(fd);
		if (copy < 0)
			return fail(name, l.why);
		fd = copy;
		from_stdin = false;
		lseek(fd, 0, SEEK_SET);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	int e = verify(&l, fd, name, &l.total);
	if (!e && lseek(fd, 0, SEEK_SET) < 0) {
		e = -errno;
		snprintf(l.why, sizeof(l.why), "seek: %s", strerror(errno));
	}
	if (e) {
		if (!from_stdin)
			close(fd);
		fprintf(stderr, "shmdb: load %s: %s (nothing was applied)\n", name, l.why);
		return 1;
	}
	bar_init(&l.bar, "loading");
	e = apply(&l, fd);
	bar_done(&l.bar);
	if (!from_stdin)
		close(fd);
	free(l.tables);
	if (e) {
		fprintf(stderr, "shmdb: load %s: %s (%" PRIu64 " records were committed before)\n",
			name, l.why, l.committed);
		return 1;
	}
	fprintf(stderr, "shmdb: loaded %s: %zu tables, %" PRIu64 " records, %" PRIu64 " indexes%s\n",
		name, l.ntables, l.records, l.indexes,
		l.skipped ? " (indexes whose build had failed left out)" : "");
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
	struct bar b;
	bar_init(&b, "backing up");
	struct snapshot_dump_opts o = { .progress = bar_draw, .ctx = &b };
	e = snapshot_dump(r, fd, &h, &o, &w, why, sizeof(why));
	bar_done(&b);
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
