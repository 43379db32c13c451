/*
 * shmdb.h - the public interface of libshmdb, the client library of shmdb.
 *
 * shmdb is a shared-memory store for the processes of one Linux host. A
 * daemon, shmdbd, owns NUMA-placed, huge-page memory arenas; a client
 * attaches with shmdb_open(), which maps the store read-only into one
 * contiguous range of its address space.
 *
 * Conventions
 *   - Every function that can fail returns 0 on success or a negative
 *     errno-style code (-ENOENT, -EACCES, ...). Codes specific to shmdb live
 *     in their own range, below SHMDB_ERR_BASE, listed with their messages
 *     in SHMDB_ERRORS; shmdb_strerror() names every code a function here
 *     returns.
 *   - Handles are opaque. A shmdb handle may be used by several threads of
 *     one process at once unless a function says otherwise.
 *   - Views (pointers into the store) stay valid for as long as the function
 *     that returned them says; none outlives shmdb_close().
 */
#ifndef SHMDB_H
#define SHMDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks what libshmdb exports; everything else in it is hidden. */
#define SHMDB_API __attribute__((visibility("default")))

#define SHMDB_VERSION_MAJOR 0
#define SHMDB_VERSION_MINOR 2
#define SHMDB_VERSION_PATCH 0
#define SHMDB_VERSION_STRING "0.2.0"

/* ---- error codes ------------------------------------------------------ */

/* Store-specific codes are negative and at or below SHMDB_ERR_BASE, far
 * from every errno value, so a caller can tell the two kinds apart. */
#define SHMDB_ERR_BASE (-1000)

/*
 * SHMDB_ERRORS(X) - every store-specific code, once, with the name
 * shmdb_strerror() gives it: X(name, offset, message) makes `name` the code
 * SHMDB_ERR_BASE - offset. Offsets run 1, 2, 3, ... without a gap and never
 * change (programs are built against the values); a new code takes the next
 * offset, here and nowhere else. The library's build fails for an entry
 * without a message, an empty message, or an offset repeated or outside
 * SHMDB_ERR_FIRST .. SHMDB_ERR_LAST.
 */
#define SHMDB_ERRORS(X)								\
	/* The store's layout (or the daemon's protocol) has a magic or		\
	 * format version this library does not understand: the daemon		\
	 * and the library come from different releases. */			\
	X(SHMDB_EVERSION, 1,							\
	  "store format version or magic not understood by this library")	\
	/* The daemon answered with something that breaks the protocol or	\
	 * describes an impossible layout (wrong sizes, missing			\
	 * descriptors). */							\
	X(SHMDB_EPROTO, 2, "malformed answer from the daemon")			\
	/* The daemon refused this client: its uid/gid is not admitted. */	\
	X(SHMDB_EREFUSED, 3, "the daemon does not admit this user")		\
	/* No daemon is serving the socket path (no socket file, or nobody	\
	 * listens). */								\
	X(SHMDB_ENODAEMON, 4, "no shmdbd is serving that socket")		\
	/* The daemon has stopped or is stopping; the handle can still read	\
	 * what it mapped, but nothing new will happen in it. Reattach with	\
	 * shmdb_open(). */							\
	X(SHMDB_ESHUTDOWN, 5, "the daemon has shut down")			\
	/* A transaction's shmdb_check() found that a commit after its		\
	 * since_ts wrote or deleted the key: nothing of the transaction	\
	 * was applied. */							\
	X(SHMDB_ECONFLICT, 6,							\
	  "a checked key was written after since_ts: nothing applied")		\
	/* The daemon found the encoded transaction malformed and applied	\
	 * nothing (only a damaged or hostile client sees this). */		\
	X(SHMDB_EBADTXN, 7, "malformed transaction: nothing applied")	\
	/* A commit would have put two rows under one value of a unique	\
	 * index, or a unique index was asked for over rows that share a	\
	 * value: nothing of the transaction was applied. */			\
	X(SHMDB_EUNIQUE, 8,							\
	  "two rows would share a value of a unique index: nothing applied")	\
	/* The daemon (durability async) cannot write its log (a full disk,	\
	 * an I/O error): it refuses every commit, applying nothing, and	\
	 * keeps serving reads until the log can be written again (said in	\
	 * its log and in shmdb_stats.log_error). */				\
	X(SHMDB_ENOLOG, 9,							\
	  "the daemon cannot write its log: writes are refused, nothing applied")	\
	/* The arenas are at the daemon's critical memory pressure		\
	 * (--memory-critical, shmdb_stats.pressure): a transaction that	\
	 * would take memory (a put, an update, a create or reserve) is	\
	 * refused, applying nothing, while one that only frees (deletes,	\
	 * shmdb_clear, drops) still applies. Writes are accepted again	\
	 * once deletes and reclamation bring use below the threshold. */	\
	X(SHMDB_EPRESSURE, 10,							\
	  "memory is critically short: only deletes, clears and drops apply")

#define SHMDB_ERR_ENUMERATOR_(name, offset, message) name = SHMDB_ERR_BASE - (offset),
enum shmdb_error { SHMDB_ERRORS(SHMDB_ERR_ENUMERATOR_) };
#undef SHMDB_ERR_ENUMERATOR_
/* Each code is also a macro of its own name, as the codes were before the
 * list, so that a program's "#ifdef SHMDB_ECONFLICT" keeps working. */
#define SHMDB_EVERSION SHMDB_EVERSION
#define SHMDB_EPROTO SHMDB_EPROTO
#define SHMDB_EREFUSED SHMDB_EREFUSED
#define SHMDB_ENODAEMON SHMDB_ENODAEMON
#define SHMDB_ESHUTDOWN SHMDB_ESHUTDOWN
#define SHMDB_ECONFLICT SHMDB_ECONFLICT
#define SHMDB_EBADTXN SHMDB_EBADTXN
#define SHMDB_EUNIQUE SHMDB_EUNIQUE
#define SHMDB_ENOLOG SHMDB_ENOLOG
#define SHMDB_EPRESSURE SHMDB_EPRESSURE

/* How many codes the list has, and the first and last of them: every
 * value from SHMDB_ERR_FIRST down to SHMDB_ERR_LAST is a code, and no value
 * past either end is. SHMDB_ERR_COUNT is a constant expression, for #if
 * too (a program can test "#if SHMDB_ERR_COUNT >= 6" where it needs
 * SHMDB_ECONFLICT), but not within an X of SHMDB_ERRORS itself. */
#define SHMDB_ERR_ONE_(name, offset, message) +1
#define SHMDB_ERR_COUNT (0 SHMDB_ERRORS(SHMDB_ERR_ONE_))
#define SHMDB_ERR_FIRST (SHMDB_ERR_BASE - 1)
#define SHMDB_ERR_LAST (SHMDB_ERR_BASE - SHMDB_ERR_COUNT)

/* ---- opening and closing ---------------------------------------------- */

typedef struct shmdb shmdb;

/* The longest socket path, NUL included (sizeof sockaddr_un's sun_path). */
#define SHMDB_SOCKET_PATH_MAX 108

/*
 * shmdb_default_socket - the socket path used when none is given.
 *
 * In order: $SHMDB_SOCKET if set and non-empty; "/run/shmdb/shmdb.sock" for
 * root; "$XDG_RUNTIME_DIR/shmdb.sock" when that variable is set; else
 * "/tmp/shmdb-<uid>/shmdb.sock". shmdbd resolves its default the same way,
 * so a daemon and a client started by the same user meet with no flags.
 *
 * Writes at most `cap` bytes, NUL included, into `buf`; a buffer of
 * SHMDB_SOCKET_PATH_MAX bytes holds any path a UNIX socket can have.
 * Returns 0, -EINVAL if buf is NULL, or -ENAMETOOLONG if the path does not
 * fit in `cap` bytes or in a UNIX socket address.
 */
SHMDB_API int shmdb_default_socket(char *buf, size_t cap);

/*
 * shmdb_open - attach to the store served at `socket_path`.
 *
 * `socket_path` NULL means shmdb_default_socket(). The call connects,
 * is admitted by the daemon (same uid as the daemon, root, or an admitted
 * group), receives the store's descriptors, reserves one virtual range and
 * maps the meta segment and every arena into it read-only at their fixed
 * offsets, pre-faulted, and maps its own read-write session segment. The
 * store's magic and format version are checked before anything is used.
 *
 * Returns 0 and sets *db, or:
 *   -EINVAL           db is NULL, or the path is empty
 *   -ENAMETOOLONG     the path does not fit a UNIX socket address
 *   SHMDB_ENODAEMON   no daemon serves that path (no socket, or refused)
 *   -EACCES           the socket file's permissions deny this user
 *   SHMDB_EREFUSED    the daemon does not admit this uid/gid
 *   SHMDB_EVERSION    the store's magic or format version, or the daemon's
 *                     protocol version, is unknown here
 *   SHMDB_EPROTO      the daemon's answer was malformed
 *   -ETIMEDOUT        the daemon did not answer within 5 seconds
 *   -ENOMEM           the address space or memory ran out
 *   other -errno      from socket(2), connect(2), recvmsg(2) or mmap(2)
 * Nothing is left mapped or open on failure. On success *db stays usable
 * until shmdb_close(*db), also after the daemon stops (SHMDB_ESHUTDOWN).
 */
SHMDB_API int shmdb_open(const char *socket_path, shmdb **db);

/*
 * shmdb_close - detach: end the session, unmap everything, free the handle.
 * Every view, read transaction and cursor obtained through `db` becomes
 * invalid; a write transaction of db not yet finished may then only be
 * given to shmdb_abort(). NULL is a no-op.
 * No other thread may use `db` during or after the call.
 */
SHMDB_API void shmdb_close(shmdb *db);

/*
 * shmdb_strerror - a short, static, human-readable name for `err`, which is
 * 0, a negative errno value, or a SHMDB_E* code (the message SHMDB_ERRORS
 * gives it); "unknown error" for any other value. Never returns NULL; the
 * string lives as long as the program. Thread-safe.
 */
SHMDB_API const char *shmdb_strerror(int err);

/* ---- what the store looks like ---------------------------------------- */

/* How an arena's memory is backed. */
enum shmdb_page_kind {
	SHMDB_PAGES_4K = 0,      /* plain memfd, 4 KiB pages */
	SHMDB_PAGES_4K_THP = 1,  /* plain memfd, MADV_HUGEPAGE, kernel may use THP */
	SHMDB_PAGES_2M = 2,      /* hugetlb memfd, 2 MiB pages */
	SHMDB_PAGES_1G = 3,      /* hugetlb memfd, 1 GiB pages */
};

typedef struct shmdb_info {
	uint32_t format_version; /* the store layout's format version */
	uint32_t daemon_pid;     /* pid of shmdbd, in its pid namespace */
	uint64_t generation;     /* differs for every start of the daemon */
	uint8_t  store_id[16];   /* random identity of this store instance */
	uint32_t arena_count;    /* number of arenas, >= 1 */
	uint32_t sessions;       /* clients attached now, this one included */
	uint64_t started_ns;     /* daemon start, CLOCK_REALTIME nanoseconds */
	int      running;        /* 1 while the daemon serves, 0 once it stops */
	int      writer_cpu;     /* the cpu the writer thread is pinned to, or -1 */
} shmdb_info;

typedef struct shmdb_arena_info {
	uint32_t index;          /* 0 .. arena_count-1 */
	int32_t  numa_node;      /* node the arena is bound to, or -1 if unbound */
	uint32_t page_kind;      /* an enum shmdb_page_kind */
	uint32_t page_size;      /* bytes per page backing the arena */
	uint64_t size;           /* bytes in the arena */
	uint64_t used;           /* bytes in use (headers and data) */
} shmdb_arena_info;

/*
 * shmdb_info_get - the store's identity and current figures, read from the
 * meta segment: no system call, no round trip. `sessions` and `running`
 * are a moment's reading and may change right after.
 * Returns 0, or -EINVAL if an argument is NULL.
 */
SHMDB_API int shmdb_info_get(shmdb *db, shmdb_info *info);

/*
 * shmdb_arena_info_get - arena `index`'s placement and size, from the meta
 * segment (no system call). Returns 0, -EINVAL for a NULL argument, or
 * -ENOENT if index >= arena_count.
 */
SHMDB_API int shmdb_arena_info_get(shmdb *db, uint32_t index, shmdb_arena_info *ai);

/*
 * shmdb_arena_huge_bytes - the bytes of arena `index` the kernel backs
 * with huge pages (hugetlb pages, or transparent huge pages of a 4 KiB
 * arena where shmem THP is on), as the daemon last measured them: at its
 * start, and for a 4K+THP arena (whose share can change) again when a
 * client takes a report (shmdb_report_get, `shmdb stats`), at most every
 * 10 s. From the meta segment, no system call. Returns 0, -EINVAL for a
 * NULL argument, or -ENOENT if index >= arena_count.
 */
SHMDB_API int shmdb_arena_huge_bytes(shmdb *db, uint32_t index, uint64_t *bytes);

/*
 * shmdb_page_kind_name - "4K", "4K+THP", "2M" or "1G" for a page kind,
 * "?" for anything else. Static string.
 */
SHMDB_API const char *shmdb_page_kind_name(uint32_t page_kind);

/* ---- limits ------------------------------------------------------------ */

#define SHMDB_MAX_TABLE_NAME 63         /* bytes; at least 1 */
#define SHMDB_MAX_TABLES 4096           /* live tables in a store */
#define SHMDB_MAX_KEY 1024              /* bytes; at least 1 */
#define SHMDB_MAX_VALUE (16u << 20)     /* bytes; 0 is allowed */
#define SHMDB_MAX_TXN (64u << 20)       /* encoded bytes of one transaction */
#define SHMDB_MAX_TABLE_KEYS (3u << 26) /* keys in one table (201,326,592) */

/* ---- tables ------------------------------------------------------------- */

typedef uint32_t shmdb_table;

#define SHMDB_CREATE 1   /* shmdb_table_open: create the table if missing */
#define SHMDB_ORDERED 2  /* a table whose keys are kept in order */
#define SHMDB_MULTI 4    /* a multimap: a key holds a set of distinct values in
			  * value order; implies SHMDB_ORDERED */

/* The longest value of a multimap pair, in bytes. */
#define SHMDB_MAX_MULTI_VALUE SHMDB_MAX_KEY

/*
 * A table has one of three kinds, fixed when it is created:
 *   0                            a hash table: point gets, cursors visit
 *                                records in no particular order;
 *   SHMDB_ORDERED                keys in order: cursors seek, walk forward
 *                                and back; gets cost what they cost on a
 *                                hash table (the table keeps both);
 *   SHMDB_ORDERED | SHMDB_MULTI  a multimap: each (key, value) pair is a
 *                                record, ordered by key, then value; a put
 *                                adds a pair, shmdb_del_value removes one.
 * Order is bytewise (memcmp) over the common length, then the shorter
 * first: "ab" < "abc" < "b".
 *
 * shmdb_table_open - find the live table `name` (1..SHMDB_MAX_TABLE_NAME
 * bytes, NUL-terminated) and set *t. With SHMDB_CREATE a missing table is
 * created through the writer (a write transaction of its own) with the
 * kind the flags name (SHMDB_MULTI alone means SHMDB_ORDERED |
 * SHMDB_MULTI); if another client creates it at the same moment, both get
 * the same table. Kind flags given for a table that exists must equal its
 * kind (-EEXIST otherwise); without a kind flag, whatever kind it has is
 * opened.
 * A table id stays valid until the table is dropped; after that every use
 * returns -ENOENT (a snapshot begun before the drop still reads it).
 * Returns 0, -EINVAL (db or t NULL, bad name or flags), -ENOENT (missing,
 * no SHMDB_CREATE), -EEXIST (it exists with another kind), -ENOSPC (no room
 * for another table or its index), SHMDB_ESHUTDOWN, or what shmdb_commit()
 * returns.
 */
SHMDB_API int shmdb_table_open(shmdb *db, const char *name, int flags, shmdb_table *t);

/*
 * shmdb_table_drop - drop the table `name` and everything in it, as one
 * write transaction. Snapshots begun before the drop keep reading it.
 * Returns 0, -EINVAL (db NULL or bad name), -ENOENT (no such table),
 * SHMDB_ESHUTDOWN, or what shmdb_commit() returns.
 */
SHMDB_API int shmdb_table_drop(shmdb *db, const char *name);

/*
 * shmdb_table_reserve - make room in table t's index for `keys` keys in all,
 * now, as one write transaction. Once it returns 0, no commit inserting
 * keys until t holds `keys` of them waits for an index rebuild (a deleted
 * key's tombstone holds its slot until a rebuild finds no snapshot can see
 * it). A table whose index holds `keys` within its 3/4 limit already is
 * left as it is: past half full it may still grow a step per commit as the
 * keys arrive, as any table does (below), but no commit waits for the
 * copy. The room is given back only by deletes and later rebuilds.
 *
 * Without it, a table's index doubles as it fills: the writer builds the
 * bigger one a step per commit, from half load on, and no commit waits for
 * the whole copy unless one adds over an eighth of the index's size in
 * keys, another table's index is being built at the same time, or the
 * table holds many deleted keys; then that commit waits for all of it, for
 * a time that grows with the number of keys, and so does every commit of
 * every client queued behind it. The steps themselves cost commits a
 * little (the copy is spread, not saved), and the bigger index's memory is
 * taken when the build begins. A writer that knows its size reserves once,
 * when it chooses (before loading, say): the call holds up the writer,
 * and every client's commits behind it, while the new index is built, for
 * a time that grows with `keys`.
 * Returns 0, -EINVAL (db NULL), -ENOENT (no live table t), -ENOSPC (keys
 * over SHMDB_MAX_TABLE_KEYS; or the table full as shmdb_commit() says,
 * counting its deleted keys that no rebuild has dropped yet; or no arena
 * room for the index; the table is unchanged), SHMDB_ESHUTDOWN, or what
 * shmdb_commit() returns.
 */
SHMDB_API int shmdb_table_reserve(shmdb *db, shmdb_table t, uint64_t keys);

/* ---- reading: snapshots --------------------------------------------------- */

typedef struct shmdb_val {
	const void *data;
	size_t len;
} shmdb_val;

typedef struct shmdb_rtxn shmdb_rtxn;
typedef struct shmdb_cursor shmdb_cursor;

/*
 * shmdb_read_begin - begin a read transaction: a snapshot of the store as
 * of the latest commit. A thread holds at most one read transaction per
 * handle at a time, and only that thread uses it and its cursors (unlike
 * the handle, a read transaction is not shared between threads). The first
 * call in a thread on a handle claims a reader slot in the session (and may
 * allocate); later calls make no system call, take no lock and allocate
 * nothing. *r stays valid until shmdb_read_end(*r); every view read
 * through it stays valid and unchanged until then, whatever is committed
 * meanwhile. Two reads of one record may give views at different addresses
 * with the same bytes: the daemon, when idle, copies a table's records
 * side by side in the order its cursors read them (shmdbd(8)).
 * Returns 0 and sets *r, or -EINVAL (db or r NULL), -EBUSY (this thread
 * already holds one on db), or -EAGAIN (all reader slots of this handle are
 * taken by other threads: open another handle; or this thread already reads
 * through 16 other open handles: close one).
 */
SHMDB_API int shmdb_read_begin(shmdb *db, shmdb_rtxn **r);

/* The commit timestamp r's snapshot shows (every commit up to it and none
 * after), or 0 if r is NULL. */
SHMDB_API uint64_t shmdb_read_ts(const shmdb_rtxn *r);

/*
 * shmdb_get - look `key` up in table t as of r's snapshot (on a multimap:
 * the key's first value). On 0, *val points
 * into the store and stays valid and unchanged until shmdb_read_end(r).
 * Returns 0, -ENOENT (no such key in the snapshot, or no such table in it),
 * or -EINVAL (NULL argument, r ended, klen 0 or > SHMDB_MAX_KEY).
 * No system call, lock, copy or allocation.
 */
SHMDB_API int shmdb_get(shmdb_rtxn *r, shmdb_table t, const void *key, size_t klen, shmdb_val *val);

/*
 * shmdb_get_many - look the n keys keys[0..n) up in table t as of r's
 * snapshot, at once. For each key found, vals[i] points into the store as
 * shmdb_get's *val does, valid and unchanged until shmdb_read_end(r); its
 * data is never NULL, even for an empty value. For each key not in the
 * snapshot, vals[i] is { NULL, 0 }; if the table is not in the snapshot,
 * every key is reported absent that way (shmdb_get returns -ENOENT for
 * both). Keys may repeat; keys and vals must not overlap. The lookups
 * overlap their cache misses, up to 16 at a time, where successive
 * shmdb_get calls wait for one miss after another.
 * On a secondary index the keys are values, as shmdb_get takes them.
 * Returns 0, or -EINVAL (r NULL or not active; keys or vals NULL with n > 0;
 * a key with NULL data, or a length 0 or > SHMDB_MAX_KEY; on an index, a
 * value of a length its column's type cannot have), or -EAGAIN (a
 * secondary index not complete in the snapshot), having written no
 * element of vals.
 * No system call, lock, copy or allocation.
 */
SHMDB_API int shmdb_get_many(shmdb_rtxn *r, shmdb_table t, const shmdb_val *keys, size_t n,
			     shmdb_val *vals);

/*
 * shmdb_read_end - end the read transaction; every view it returned, and
 * every cursor opened in it, becomes invalid. NULL is a no-op.
 */
SHMDB_API void shmdb_read_end(shmdb_rtxn *r);

/*
 * shmdb_cursor_open - a cursor over every record of table t in r's snapshot,
 * each visited exactly once: in no particular order on a hash table, in
 * order on an ordered table or multimap, where the cursor starts before
 * the first record. *c stays valid until
 * shmdb_cursor_close(*c) or shmdb_read_end(r), whichever comes first. Up
 * to 8 cursors open at once in a read transaction cost no allocation; more
 * are allocated, and freed only by shmdb_cursor_close.
 * Returns 0, -EINVAL (NULL argument, r ended), -ENOENT (no such table in
 * the snapshot) or -ENOMEM.
 */
SHMDB_API int shmdb_cursor_open(shmdb_rtxn *r, shmdb_table t, shmdb_cursor **c);

/*
 * shmdb_cursor_next - the next record: *key and *val point into the store and
 * stay valid and unchanged until shmdb_read_end of c's transaction.
 * Returns 0, -ENOENT after the last, or -EINVAL (NULL argument).
 * No system call, lock or allocation.
 */
SHMDB_API int shmdb_cursor_next(shmdb_cursor *c, shmdb_val *key, shmdb_val *val);

/*
 * Cursors on ordered tables and multimaps. Such a cursor sits between two
 * records, as a list iterator does: shmdb_cursor_next returns the record
 * after its position and moves past it, shmdb_cursor_prev the record
 * before it and moves before it, so prev right after next returns the same
 * record again. On a multimap each (key, value) pair is one record. Views
 * stay valid and unchanged until shmdb_read_end of c's transaction. None of
 * these makes a system call, takes a lock or allocates; on a hash table
 * each returns -ENOTSUP and leaves the cursor as it was.
 *
 * A leaf of an ordered table takes new keys in place; a cursor that meets
 * one mid-change waits for the writer (a few dozen stores). If the change
 * has not ended after about a millisecond, the cursor asks whether the
 * daemon lives (one poll() of the session's socket, then more waiting);
 * a daemon that died mid-change leaves the leaf unreadable, and next,
 * prev and the seeks (also shmdb_cursor_next) then return SHMDB_ENODAEMON:
 * the cursor can only be closed.
 */

/* shmdb_cursor_seek - position c so that next returns the first record
 * whose key is >= key[0..klen) (on a multimap, that key's first pair), and
 * prev the last record whose key is < key. Returns 0, -EINVAL (NULL
 * argument, klen 0 or > SHMDB_MAX_KEY) or -ENOTSUP. */
SHMDB_API int shmdb_cursor_seek(shmdb_cursor *c, const void *key, size_t klen);

/* shmdb_cursor_seek_pair - multimaps: position c before the first pair >=
 * (key, val). Returns 0, -EINVAL (NULL argument, klen 0 or > SHMDB_MAX_KEY,
 * vlen > SHMDB_MAX_MULTI_VALUE, val NULL with vlen > 0) or -ENOTSUP (not a
 * multimap). */
SHMDB_API int shmdb_cursor_seek_pair(shmdb_cursor *c, const void *key, size_t klen,
				     const void *val, size_t vlen);

/* shmdb_cursor_seek_end - position c after the last record: prev returns
 * the last. Returns 0, -EINVAL (c NULL) or -ENOTSUP. */
SHMDB_API int shmdb_cursor_seek_end(shmdb_cursor *c);

/* shmdb_cursor_prev - the record before c's position, as next (above).
 * Returns 0, -ENOENT before the first record (the cursor stays there),
 * -EINVAL (NULL argument) or -ENOTSUP. */
SHMDB_API int shmdb_cursor_prev(shmdb_cursor *c, shmdb_val *key, shmdb_val *val);

/* Close a cursor; call it before shmdb_read_end of its transaction. NULL
 * is a no-op. */
SHMDB_API void shmdb_cursor_close(shmdb_cursor *c);

/* ---- whole tables ----------------------------------------------------------- */

/*
 * shmdb_count - the number of records (on a multimap: pairs) of table t in
 * r's snapshot, exactly, into *n. O(1) but for the commits newer than the
 * snapshot that changed the count while another snapshot held each of
 * them; no system call, lock or allocation. Returns 0, -EINVAL (NULL
 * argument, r ended), -ENOENT (no such table in the snapshot) or, on a
 * secondary index not complete in the snapshot, -EAGAIN.
 */
SHMDB_API int shmdb_count(shmdb_rtxn *r, shmdb_table t, uint64_t *n);

typedef struct shmdb_table_info {
	char name[SHMDB_MAX_TABLE_NAME + 1]; /* NUL-terminated */
	shmdb_table id;
	int flags;          /* the table's kind: 0, SHMDB_ORDERED or
			     * SHMDB_ORDERED | SHMDB_MULTI; SHMDB_ROWS, alone or
			     * with SHMDB_ORDERED, for a table of typed rows */
	uint64_t count;     /* as shmdb_count (pairs, for a multimap) */
	uint64_t bytes;     /* arena bytes the table holds in this snapshot: its
			     * index, its ordered tree's nodes and its records'
			     * versions (not the older versions and nodes kept
			     * for other snapshots) */
	uint64_t index_slots; /* slots of its hash index in this snapshot */
	uint64_t index_used;  /* slots of the writer's current index holding a key,
			       * deleted ones included until a rebuild: the load
			       * is index_used / index_slots (a moment's reading) */
} shmdb_table_info;

/*
 * shmdb_tables - the tables of r's snapshot in name order (bytewise, a
 * shorter name first when one is a prefix of the other): the first
 * min(cap, *n) into out[] (out may be NULL when cap is 0), and in *n how
 * many there are. Returns 0 or -EINVAL (r or n NULL, r ended, out NULL
 * with cap > 0). Reads the whole catalog (4,096 entries): not for a read
 * path that counts nanoseconds.
 */
SHMDB_API int shmdb_tables(shmdb_rtxn *r, shmdb_table_info *out, size_t cap, size_t *n);

/* ---- writing: transactions through the ring -------------------------------- */

typedef struct shmdb_wtxn shmdb_wtxn;

/*
 * shmdb_write_begin - start collecting a write transaction (in private
 * memory; nothing reaches the daemon before commit). Any number may be open,
 * each used by one thread at a time; *w stays valid until shmdb_commit(),
 * shmdb_commit_async() or shmdb_abort() finishes it.
 * Returns 0, -EINVAL (db or w NULL) or -ENOMEM.
 */
SHMDB_API int shmdb_write_begin(shmdb *db, shmdb_wtxn **w);

/*
 * shmdb_put - set key to value in table t when the transaction commits
 * (on a multimap: add the pair (key, value)). The key and value are
 * copied: their buffers may be reused at once.
 * Returns 0, -EINVAL (w or key NULL, val NULL with vlen > 0, klen 0 or >
 * SHMDB_MAX_KEY), -E2BIG (vlen > SHMDB_MAX_VALUE, or > SHMDB_MAX_MULTI_VALUE
 * on a multimap, or the transaction would exceed SHMDB_MAX_TXN), -ENOMEM;
 * on an error the transaction is as it was. The table is checked at commit
 * (-ENOENT then; -E2BIG for a value too long for the multimap it is).
 */
SHMDB_API int shmdb_put(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			const void *val, size_t vlen);

/* shmdb_del - delete key (a missing key is no error); on a multimap, the
 * key with all its values. Errors as shmdb_put. */
SHMDB_API int shmdb_del(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen);

/*
 * shmdb_del_value - multimaps: remove the pair (key, val) when the
 * transaction commits (a missing pair is no error). On a multimap
 * shmdb_put adds a pair (an existing pair is no error) and shmdb_get
 * returns the key's first value.
 * Returns 0, -EINVAL (w or key NULL, val NULL with vlen > 0, klen 0 or >
 * SHMDB_MAX_KEY), -E2BIG (vlen > SHMDB_MAX_MULTI_VALUE, or the transaction
 * would exceed SHMDB_MAX_TXN), -ENOTSUP (t is a live table but not a
 * multimap), -ENOMEM; the transaction is as it was. The table is checked
 * again at commit (-ENOENT if gone, -ENOTSUP if not a multimap).
 */
SHMDB_API int shmdb_del_value(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			      const void *val, size_t vlen);

/*
 * shmdb_clear - remove every record of table t when the transaction
 * commits. A transaction's operations apply in the order they were added,
 * so a clear followed by puts replaces the table's contents at once:
 * snapshots see the old contents or the new, never a mix. Snapshots older
 * than the commit keep reading the old contents; the daemon frees them in
 * steps once none can, so clearing a huge table costs the commit no more
 * than a small one. Returns 0, -EINVAL (w NULL) or -ENOMEM; the commit
 * fails with -ENOENT if t does not exist.
 */
SHMDB_API int shmdb_clear(shmdb_wtxn *w, shmdb_table t);

/*
 * shmdb_check - make the commit fail with SHMDB_ECONFLICT, applying nothing,
 * if a commit after since_ts wrote or deleted key in table t (usually
 * since_ts is the shmdb_read_ts of the snapshot the transaction read).
 * Never misses such a commit; may also fail a check of a key absent from
 * the table since before since_ts when some key of the table was deleted
 * after since_ts and its slot reclaimed (the store does not remember which
 * deleted keys it forgot). Errors as shmdb_put; on a multimap the commit
 * fails with -ENOTSUP.
 */
SHMDB_API int shmdb_check(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			  uint64_t since_ts);

/*
 * shmdb_commit - submit and wait. Returns once the transaction is applied
 * and visible to every snapshot begun afterwards, with its commit timestamp
 * in *commit_ts (may be NULL). w is finished either way. A transaction with
 * no operation changes nothing and reports the latest commit timestamp.
 * Returns 0, or one of these with nothing of w applied:
 *  - -EINVAL: w NULL; a NaN in an F64 column a secondary index keeps;
 *  - SHMDB_ECONFLICT (a shmdb_check failed); SHMDB_EUNIQUE (a unique
 *    index would hold two rows under one value);
 *  - -ENOENT (a table does not exist); -EPERM (a write through a
 *    secondary index's handle); -ENOTSUP (shmdb_check on a multimap);
 *  - -E2BIG: a value a secondary index keeps is, with the row's primary
 *    key, longer than SHMDB_MAX_KEY;
 *  - -ENOSPC: no arena room for it, or a table would be full: past
 *    SHMDB_MAX_TABLE_KEYS keys, deleted ones included until a rebuild of
 *    its largest index can drop a sixteenth of it; SHMDB_EPRESSURE: the
 *    memory level is critical and w takes memory (shmdb_stats.pressure);
 *  - --durability sync: -ENOSPC or the I/O error when its log record
 *    cannot be written; async: SHMDB_ENOLOG while the log cannot be;
 *  - -ENOMEM: the client or the writer could not allocate private memory
 *    for it;
 *  - -EAGAIN (as shmdb_commit_async), SHMDB_EBADTXN, SHMDB_ESHUTDOWN.
 */
SHMDB_API int shmdb_commit(shmdb_wtxn *w, uint64_t *commit_ts);

/*
 * shmdb_commit_async - submit without waiting; *ticket identifies the
 * transaction for shmdb_wait(). w is finished either way. It waits only if
 * the session's ring is full. Returns 0, SHMDB_ESHUTDOWN, -EINVAL, or
 * -EAGAIN when 4,096 results of this handle are still uncollected (wait for
 * some first).
 */
SHMDB_API int shmdb_commit_async(shmdb_wtxn *w, uint64_t *ticket);

/*
 * shmdb_wait - wait for the transaction `ticket` of this handle and return
 * its result as shmdb_commit() does. Each ticket's result can be waited for
 * once; -EINVAL for db NULL or a ticket never issued or already collected;
 * SHMDB_ESHUTDOWN if the daemon stops or ends the session first.
 */
SHMDB_API int shmdb_wait(shmdb *db, uint64_t ticket, uint64_t *commit_ts);

/* shmdb_abort - discard w. NULL is a no-op. */
SHMDB_API void shmdb_abort(shmdb_wtxn *w);

/* ---- statistics ------------------------------------------------------------ */

#define SHMDB_BATCH_BUCKETS 16

/* shmdb_stats.idle_policy: what the daemon's writer does when no
 * transaction waits (--writer-idle). */
#define SHMDB_IDLE_SPIN 0      /* polls the rings without end: a core of its own */
#define SHMDB_IDLE_BACKOFF 1   /* polls while transactions come closer together than
				* a wake-up costs, sleeps otherwise, and wakes ahead of
				* transactions that come at a steady pace */
#define SHMDB_IDLE_SLEEP 2     /* sleeps as soon as no transaction waits */

typedef struct shmdb_stats {
	uint64_t commit_ts;        /* last published commit */
	uint64_t mem_used;         /* arena bytes in use, all arenas */
	uint64_t mem_total;        /* arena bytes in all */
	uint64_t oldest_snapshot;  /* oldest snapshot still held by a reader, or commit_ts if none */
	uint32_t sessions;
	uint64_t mem_retired;      /* bytes no new snapshot can see, waiting for the
				    * snapshots that still see them to end (mem_pinned),
				    * for the daemon's next reclamation pass, or for
				    * the steps that free a cleared or dropped table
				    * (its index or tree: the records it names come
				    * back with it); about that much of mem_used comes
				    * back then */
	/* Who holds memory, as of the daemon's last reclamation pass: */
	uint32_t snapshots;        /* distinct snapshots held by readers */
	uint32_t oldest_pid;       /* process holding the oldest snapshot, 0 if none */
	uint64_t oldest_held_ns;   /* how long that snapshot has been held, at least
				    * (as first seen by the daemon), 0 if none */
	uint64_t oldest_only_bytes;/* bytes that only the oldest snapshot keeps alive:
				    * freed when it ends */
	uint64_t mem_pinned;       /* bytes kept because some live snapshot sees them */
	/* Durability (the daemon's --durability): */
	int durability;            /* SHMDB_DURABILITY_NONE, _ASYNC or _SYNC */
	int log_error;             /* 0, or the -errno that stops the log: commits
				    * fail (async: SHMDB_ENOLOG) until it is mended */
	uint64_t durable_ts;       /* the last commit on disk (commit_ts in sync mode;
				    * 0 in none) */
	uint64_t log_bytes;        /* log bytes written since the last checkpoint */
	uint64_t writes_refused;   /* commits refused because the log could not be written */
	uint64_t checkpoint_ts;    /* the commit the newest checkpoint holds, 0 if none */
	uint64_t checkpoint_bytes; /* its size */
	uint64_t checkpoint_ns;    /* when it was written (CLOCK_REALTIME), 0 if none */
	uint64_t checkpoints;      /* checkpoints this daemon has written */
	/* The memory monitor (the daemon's --memory-high and --memory-critical): */
	int pressure;              /* SHMDB_PRESSURE_NORMAL, _HIGH (the writer reclaims
				    * eagerly) or _CRITICAL (commits that would take
				    * memory fail with SHMDB_EPRESSURE) */
	uint32_t memory_high_pct;  /* the thresholds, percent of mem_total */
	uint32_t memory_critical_pct;
	uint64_t pressure_refused; /* commits refused with SHMDB_EPRESSURE */
	uint64_t pressure_since_ns;/* when the level last changed (CLOCK_REALTIME) */
	/* The writer thread, since it began: */
	uint64_t commits;          /* transactions committed */
	uint64_t mem_freed;        /* bytes reclamation has freed */
	uint64_t writer_uptime_ns; /* how long it has run */
	uint64_t ops;              /* operations applied (puts, deletes, updates, ...) */
	uint64_t work_passes;      /* its passes over the rings that found work */
	uint64_t busy_ns;          /* time those passes took: busy_ns / writer_uptime_ns
				    * is its busy ratio (the rest it polled or slept) */
	uint64_t sleeps;           /* times its thread parked, no work in sight */
	uint64_t wakeups;          /* times a client's commit woke it: its thread, or
				    * (backoff, sleep) its stand-in on the client's
				    * cpu, which serves while the thread sleeps on;
				    * so it may pass sleeps */
	uint64_t grace_periods;    /* grace periods reclamation waited for */
	int idle_policy;           /* SHMDB_IDLE_* */
	uint32_t wake_ns;          /* the writer's estimate of a wake-up's price */
	uint64_t batch[SHMDB_BATCH_BUCKETS]; /* work passes by transactions served
				    * (the group commit): batch[i] counts passes of
				    * 2^i to 2^(i+1)-1 transactions, the last all above */
	/* Tables' records gathered in the order cursors read them while the
	 * writer is idle (shmdbd(8)), since it began: */
	uint64_t gathered;         /* record versions moved next to their neighbours' */
	uint64_t gather_passes;    /* passes over a table finished */
	int gathering;             /* 1 while a pass is under way or due */
} shmdb_stats;

/* shmdb_stats.pressure: mem_used against the thresholds. A level is entered
 * as soon as use reaches its threshold, and left once use has stayed 1% of
 * mem_total below it for half a second, so that it does not flicker at the
 * edge (a table's index replaced as it grows frees the old one). */
#define SHMDB_PRESSURE_NORMAL 0
#define SHMDB_PRESSURE_HIGH 1
#define SHMDB_PRESSURE_CRITICAL 2

#define SHMDB_DURABILITY_NONE 0
#define SHMDB_DURABILITY_ASYNC 1
#define SHMDB_DURABILITY_SYNC 2

/*
 * shmdb_stats_get - the store's figures now, read from the meta segment (no
 * system call, no round trip); each is a moment's reading, and they are not
 * read at one instant together. Returns 0, or -EINVAL if an argument is NULL.
 */
SHMDB_API int shmdb_stats_get(shmdb *db, shmdb_stats *st);

/* ---- this handle's own figures and write pool ------------------------------ */

/*
 * A handle keeps the write transactions it has finished (committed or
 * aborted) and the row builders freed on it, with their buffers, and hands
 * them out again: a client that commits in a steady stream allocates
 * nothing per transaction once its buffers fit its transactions. By
 * default it keeps 16 of each, none with a buffer over 1 MiB.
 */
typedef struct shmdb_client_stats {
	uint64_t write_txns;       /* shmdb_write_begin calls (and the table calls' own) */
	uint64_t txns_reused;      /* of them, served from the pool: no allocation */
	uint64_t rows_made;        /* shmdb_row_new calls */
	uint64_t rows_reused;      /* of them, served from the pool */
	double reuse_rate;         /* (txns_reused + rows_reused) / (write_txns +
				    * rows_made), 0 before any */
	uint64_t pool_freed;       /* finished ones freed instead of kept (the pool
				    * full, or a buffer over pool_max_buffer) */
	unsigned pool_txns;        /* transactions kept now */
	unsigned pool_rows;        /* row builders kept now */
	unsigned pool_keep;        /* the settings (shmdb_set_write_pool) */
	size_t pool_max_buffer;
} shmdb_client_stats;

/* shmdb_client_stats_get - db's own figures, from this process's memory
 * (no system call). Returns 0, or -EINVAL if an argument is NULL. */
SHMDB_API int shmdb_client_stats_get(shmdb *db, shmdb_client_stats *st);

/* ---- the daemon's report ---------------------------------------------------- */

/* One session (a handle of some process) as the daemon sees it. */
typedef struct shmdb_session_info {
	uint64_t id;               /* the session's number, from 1 */
	uint32_t pid;              /* its process (at connect) */
	uint32_t snapshots;        /* read transactions it holds open now */
	uint64_t ring_depth;       /* bytes submitted, not yet taken by the writer */
	uint64_t ring_size;        /* bytes of its submission ring */
	uint64_t ring_full;        /* submissions that found the ring full and waited */
	uint64_t commits;          /* transactions the writer completed for it */
	int self;                  /* 1: the handle that asked */
} shmdb_session_info;

/* A table whose replaced versions wait for reclamation. */
typedef struct shmdb_table_waiting {
	shmdb_table id;
	uint64_t versions;         /* replaced versions not yet freed */
	uint64_t bytes;            /* their bytes */
} shmdb_table_waiting;

/* Threads pinned to one cpu with shmdb_pin_thread, across every session. */
typedef struct shmdb_cpu_pins {
	unsigned cpu;
	unsigned threads;
} shmdb_cpu_pins;

typedef struct shmdb_report {
	uint64_t taken_ns;         /* CLOCK_MONOTONIC when the daemon took it */
	size_t nsessions;
	shmdb_session_info *sessions;   /* every session, in the order they began */
	size_t ntables;
	shmdb_table_waiting *tables;    /* tables with versions waiting, by slot */
	size_t npins;
	shmdb_cpu_pins *pins;           /* cpus with pinned threads, ascending */
} shmdb_report;

/*
 * shmdb_report_get - what only the daemon knows, as of one moment of its
 * main thread: every session's ring and commits, and each table's versions
 * waiting for reclamation. A round trip on a new connection to the socket
 * db was opened with (not the read path: for tools and monitors). *out is
 * allocated; free it with shmdb_report_free. Returns 0; -EINVAL;
 * -ENOMEM; SHMDB_ENODAEMON, SHMDB_EREFUSED or SHMDB_EPROTO as shmdb_open
 * does.
 */
SHMDB_API int shmdb_report_get(shmdb *db, shmdb_report **out);
/* shmdb_report_free - free a report (every array in it); NULL is a no-op. */
SHMDB_API void shmdb_report_free(shmdb_report *r);

/* ---- pinning ----------------------------------------------------------------- */

#define SHMDB_MAX_CPUS 1024

/*
 * shmdb_arena_cpus - the cpus near arena `arena`'s NUMA node with the
 * writer's core left out (hwloc's, as the daemon found them at start), as
 * a bitmask: cpu c is bit c % 64 of mask[c / 64]. `shmdb cpus` prints
 * them in the list form taskset -c and hwloc-bind take. From the meta
 * segment: no system call. Returns 0, or -EINVAL (no such arena, NULL).
 */
SHMDB_API int shmdb_arena_cpus(shmdb *db, unsigned arena, uint64_t mask[SHMDB_MAX_CPUS / 64]);

#define SHMDB_PIN_ANY_NODE 1       /* any arena's near cpus, not only the first's */
#define SHMDB_PIN_NODE(n) (((n) + 1) << 8) /* the cpus near NUMA node n's arena */

/*
 * shmdb_pin_thread - pin the calling thread to one cpu near an arena
 * (shmdb_arena_cpus; by default the first arena's, or as flags say): the
 * one the fewest threads of every shmdb client have pinned themselves to
 * this way, the lowest of equals. The pin is recorded in the thread's
 * reader slot, so that others count it until the thread exits or closes
 * db. A round trip to the daemon (shmdb_report_get), for set-up, not a
 * hot path. Returns the cpu (>= 0); -EINVAL (bad flags, no arena on that
 * node); -ENOENT (no near cpu: the node has only the writer's core);
 * -EAGAIN (no free reader slot for this thread); the errors of
 * shmdb_report_get; or sched_setaffinity's -errno.
 */
SHMDB_API int shmdb_pin_thread(shmdb *db, int flags);

#define SHMDB_WRITE_POOL_MAX 4096
/*
 * shmdb_set_write_pool - keep at most `keep` finished transactions and as
 * many row builders (0: keep none, allocate every time), and free any
 * whose buffer grew past max_buffer bytes (one huge transaction does not
 * pin its memory for the handle's life). What is kept over the new limits
 * is freed now. Any thread, any time. Returns 0, or -EINVAL (db NULL, keep
 * over SHMDB_WRITE_POOL_MAX).
 */
SHMDB_API int shmdb_set_write_pool(shmdb *db, unsigned keep, size_t max_buffer);

/* ---- durability ------------------------------------------------------------ */

/*
 * shmdb_sync - wait until every transaction committed so far (by any
 * client) is in the daemon's log on disk. In sync mode each commit is
 * already when it is acknowledged; in async mode this makes the writer
 * flush now. A round trip to the writer. Returns 0; -ENOTSUP when the
 * daemon runs with --durability none; the log's error (-EIO, -ENOSPC)
 * when it cannot be written; SHMDB_ESHUTDOWN; -EINVAL for db NULL.
 */
SHMDB_API int shmdb_sync(shmdb *db);

/*
 * shmdb_checkpoint - ask the daemon for a checkpoint now and wait until one
 * that holds every commit made before the call is on disk (the log before
 * it is then removed), at most timeout_ms (< 0: no limit). Returns 0;
 * -ENOTSUP with --durability none; -ETIMEDOUT; the checkpoint's error
 * (it is said in the daemon's log); SHMDB_ESHUTDOWN; -EINVAL.
 */
SHMDB_API int shmdb_checkpoint(shmdb *db, int timeout_ms);

/*
 * Typed rows. A table of rows has a schema of typed columns, stored in the
 * store so that every process reads the same one; its values are rows of
 * that schema, which a reader takes any column of where it lies in the
 * read-only arena (no decode, no copy), and which the writer checks before
 * it stores them. Column 0 is the primary key: a row is stored under its
 * column 0 as a key (shmdb_key_* for the numbers, the bytes of a FIXED,
 * STR or BLOB, one byte 0 or 1 for a BOOL), and shmdb_get, cursors and
 * shmdb_del take that key.
 */
enum shmdb_type {
	SHMDB_I32 = 1,
	SHMDB_I64,
	SHMDB_U64,
	SHMDB_F64,
	SHMDB_BOOL,
	SHMDB_FIXED, /* exactly `size` bytes, 1..SHMDB_MAX_KEY */
	SHMDB_STR,   /* variable, UTF-8 (checked when written) */
	SHMDB_BLOB,  /* variable bytes */
};
#define SHMDB_NULLABLE 1    /* shmdb_column.flags: the column may be null */
#define SHMDB_ROWS 8        /* shmdb_table_info.flags: a table of typed rows */
#define SHMDB_MAX_COLUMNS 256
#define SHMDB_MAX_COLUMN_NAME 63

typedef struct shmdb_column {
	const char *name;     /* 1..63 bytes of printable ASCII, not ' ', '=' or ':' */
	enum shmdb_type type;
	uint32_t size;        /* SHMDB_FIXED: its bytes; ignored otherwise */
	int flags;            /* 0 or SHMDB_NULLABLE (never for column 0) */
} shmdb_column;

/*
 * shmdb_table_create_rows - create the table `name` of rows with columns
 * cols[0..ncols) (1..SHMDB_MAX_COLUMNS, column 0 the primary key), or open
 * it if it exists with exactly this schema (names, types, sizes, flags,
 * order); flags is 0 (a hash table) or SHMDB_ORDERED (rows in key order).
 * A round trip to the writer. Returns 0 with *t set; -EINVAL for a bad
 * name, column or flag; -EEXIST if a table of that name exists of another
 * kind or schema; -ENOSPC if the store has no room; the errors of a commit.
 */
SHMDB_API int shmdb_table_create_rows(shmdb *db, const char *name, const shmdb_column *cols,
				      unsigned ncols, int flags, shmdb_table *t);

/* A table's schema, in the store (read-only). */
typedef struct shmdb_schema shmdb_schema;

/*
 * shmdb_schema_get - the schema of table t of rows in r's snapshot, into
 * *s: valid until shmdb_read_end(r). No system call. Returns 0; -ENOENT if
 * r's snapshot has no table t; -EINVAL if t is not a table of rows or an
 * argument is NULL.
 */
SHMDB_API int shmdb_schema_get(shmdb_rtxn *r, shmdb_table t, const shmdb_schema **s);

/* The number of columns of s. */
SHMDB_API unsigned shmdb_schema_columns(const shmdb_schema *s);

/*
 * shmdb_schema_column - column col of s: its name (a view into s, with
 * *name_len its bytes; not NUL-terminated), type, FIXED size and flags
 * into *out (out->name is NULL). Returns 0, or -EINVAL if col is out of
 * range or an argument is NULL.
 */
SHMDB_API int shmdb_schema_column(const shmdb_schema *s, unsigned col, shmdb_column *out,
				  const char **name, size_t *name_len);

/* The index of the column named `name` in s (>= 0), or -ENOENT. */
SHMDB_API int shmdb_column_index(const shmdb_schema *s, const char *name);

/*
 * Column col of `row` (a value shmdb_get or a cursor returned from a
 * table of schema s), read in place: no copy, allocation or system call.
 * Return 0; -ENODATA if the column is null; -EINVAL if s has no column
 * col, the column is of another type, or row is too short to be a row of
 * s. shmdb_row_bytes serves FIXED, STR and BLOB columns with a view into
 * the row, valid as the row is (until shmdb_read_end).
 */
SHMDB_API int shmdb_row_i32(const shmdb_schema *s, shmdb_val row, unsigned col, int32_t *v);
SHMDB_API int shmdb_row_i64(const shmdb_schema *s, shmdb_val row, unsigned col, int64_t *v);
SHMDB_API int shmdb_row_u64(const shmdb_schema *s, shmdb_val row, unsigned col, uint64_t *v);
SHMDB_API int shmdb_row_f64(const shmdb_schema *s, shmdb_val row, unsigned col, double *v);
SHMDB_API int shmdb_row_bool(const shmdb_schema *s, shmdb_val row, unsigned col, bool *v);
SHMDB_API int shmdb_row_bytes(const shmdb_schema *s, shmdb_val row, unsigned col, shmdb_val *v);

/* A row being built, in the client's memory. */
typedef struct shmdb_row shmdb_row;

/*
 * shmdb_row_new - a builder of rows for table t of rows, its schema copied
 * from the store now, in a snapshot of its own (a later schema of a table
 * of that name is another table). Every column starts unset. Returns 0
 * with *b set; -ENOENT (no table t), -EINVAL (not a table of rows),
 * -ENOMEM, or the errors of shmdb_read_begin (-EBUSY while this thread
 * holds a snapshot of db). Free it with shmdb_row_free before db is
 * closed (a freed builder goes back to db's pool, for the next
 * shmdb_row_new); shmdb_row_reset unsets every column for the next row.
 */
SHMDB_API int shmdb_row_new(shmdb *db, shmdb_table t, shmdb_row **b);
SHMDB_API void shmdb_row_reset(shmdb_row *b);
SHMDB_API void shmdb_row_free(shmdb_row *b);

/*
 * Set column col of the row being built. Return 0; -EINVAL if there is no
 * column col or it is of another type (shmdb_row_set_i64 serves I64
 * columns, _i32 I32, _u64 U64, _f64 F64, _bool BOOL; shmdb_row_set_bytes
 * FIXED (exactly its size), STR (UTF-8) and BLOB), or, for
 * shmdb_row_set_null, not nullable; -E2BIG past SHMDB_MAX_VALUE; -ENOMEM.
 * Bytes are copied.
 */
SHMDB_API int shmdb_row_set_i32(shmdb_row *b, unsigned col, int32_t v);
SHMDB_API int shmdb_row_set_i64(shmdb_row *b, unsigned col, int64_t v);
SHMDB_API int shmdb_row_set_u64(shmdb_row *b, unsigned col, uint64_t v);
SHMDB_API int shmdb_row_set_f64(shmdb_row *b, unsigned col, double v);
SHMDB_API int shmdb_row_set_bool(shmdb_row *b, unsigned col, bool v);
SHMDB_API int shmdb_row_set_bytes(shmdb_row *b, unsigned col, const void *data, size_t len);
SHMDB_API int shmdb_row_set_null(shmdb_row *b, unsigned col);

/*
 * shmdb_put_row - insert or replace, when w commits, the row b holds under
 * its column 0's key, in table t (the table b was made for). Returns 0;
 * -EINVAL if a column that is not nullable was left unset, column 0 makes
 * no key (a NaN, an empty or over-long string or blob), t is not b's
 * table, or an argument is NULL; the errors of shmdb_put. The writer
 * checks the row again: a row that is not one of the table's schema fails
 * the commit with -EINVAL, and nothing of the transaction applies.
 */
SHMDB_API int shmdb_put_row(shmdb_wtxn *w, shmdb_table t, const shmdb_row *b);

/*
 * Field updates: change one column of the row under key in table t (a
 * table of rows) when w commits, as the row is then, by the writer: the
 * client sends neither the row nor a check, so updates of one row by many
 * processes never conflict, and each applies to the row the ones before it
 * left (in commit order; within a transaction, in the order added). The
 * row gets a new version: snapshots that hold the old one keep it.
 *
 * shmdb_set_i64 and shmdb_add_i64 take an I64 column, shmdb_set_f64 and
 * shmdb_add_f64 an F64 column, shmdb_set_bytes a FIXED column (exactly its
 * size), shmdb_set_null any nullable column; column 0, the key, takes
 * none. A set of a null column makes it non-null.
 *
 * Return 0 when the update is added to w; -EINVAL for a bad key (as
 * shmdb_put), column 0 or past SHMDB_MAX_COLUMNS, or no bytes; the errors
 * of shmdb_put. The commit then fails, applying nothing of w, with
 * -ENOENT if no row has that key (none in the store, or deleted earlier
 * in w), -EINVAL if t is not a table of rows or the column does not take
 * that update, -ENODATA for an add to a null column, -ERANGE for an i64
 * add that overflows, -E2BIG if the rows the transaction's updates make
 * (each a whole new row) add up to more than SHMDB_MAX_TXN bytes.
 */
SHMDB_API int shmdb_set_i64(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			    unsigned col, int64_t v);
SHMDB_API int shmdb_add_i64(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			    unsigned col, int64_t delta);
SHMDB_API int shmdb_set_f64(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			    unsigned col, double v);
SHMDB_API int shmdb_add_f64(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			    unsigned col, double delta);
SHMDB_API int shmdb_set_bytes(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			      unsigned col, const void *data, size_t len);
SHMDB_API int shmdb_set_null(shmdb_wtxn *w, shmdb_table t, const void *key, size_t klen,
			     unsigned col);

/*
 * Secondary indexes. An index on a column of a table of rows is kept by
 * the writer in every commit that changes the table, so a snapshot's
 * rows and indexes agree exactly. It is read like an ordered table
 * through the handle shmdb_index_create or shmdb_index_open gives:
 *
 *  - shmdb_cursor_open(r, index, &c) walks the rows in the order of the
 *    column's values, rows that share a value in primary key order; each
 *    shmdb_cursor_next or shmdb_cursor_prev gives key = the value's key
 *    encoding (as shmdb_key_* writes it for numbers; one byte, 0 or 1, for
 *    a BOOL; the bytes themselves for FIXED, STR and BLOB) and val = the
 *    row itself, in place, as shmdb_get on the table gives it.
 *    shmdb_cursor_seek takes a value in that encoding (-EINVAL for a
 *    length its type cannot have); shmdb_cursor_seek_pair(c, value, vlen,
 *    pk, pklen) on an index that is not unique places the cursor before
 *    the row (value, primary key pk), for resuming a walk. Views stay
 *    valid until shmdb_read_end.
 *  - shmdb_get(r, index, value, vlen, &row) gives the first row (in
 *    primary key order) with that value, or -ENOENT.
 *  - shmdb_count(r, index, &n) counts the rows it holds (nulls are not
 *    indexed).
 * A snapshot older than the commit that completed an index's build reads
 * it as -EAGAIN (begin a new snapshot). Writes through an index handle
 * fail the commit with -EPERM.
 */
#define SHMDB_UNIQUE 1   /* shmdb_index_create: no two rows share a value */

/*
 * shmdb_index_create - an index of table t (a table of rows) on the
 * column named `column`, SHMDB_UNIQUE or not, into *index. The index is
 * built over the rows t holds while commits go on (each step of the build
 * is a commit no longer than an ordinary one); this call returns once it
 * is complete. An existing index on the column with the same flags is
 * opened. A null value is not indexed; with SHMDB_UNIQUE, a commit that
 * would put two rows under one value fails with SHMDB_EUNIQUE and applies
 * nothing. Returns 0; -ENOENT (no table t, or no such column); -EINVAL
 * (t is not a table of rows; NULL argument; flags other than 0 or
 * SHMDB_UNIQUE; a row whose value has no key: a NaN, or a value with its
 * primary key longer than SHMDB_MAX_KEY; a FIXED column so wide that no
 * value of it fits SHMDB_MAX_KEY with a primary key); -EEXIST (an index on the
 * column with other flags); SHMDB_EUNIQUE (unique, and rows share a
 * value); -ENOSPC; -EBUSY (the calling thread has a read transaction open
 * on db: the wait takes snapshots of its own); the errors of a commit.
 * A failed build leaves no index.
 */
SHMDB_API int shmdb_index_create(shmdb *db, shmdb_table t, const char *column, int flags,
				 shmdb_table *index);

/*
 * shmdb_index_open - the complete index of table t on `column`, into
 * *index, without creating one. Returns 0, -ENOENT (none, or none yet
 * complete), -EINVAL (NULL argument).
 */
SHMDB_API int shmdb_index_open(shmdb *db, shmdb_table t, const char *column, shmdb_table *index);

/*
 * shmdb_index_drop - drop the index of table t on `column` (commits from
 * then on no longer keep it; snapshots older than the drop keep reading
 * it). Returns 0, -ENOENT (no such index), -EINVAL, or the errors of a
 * commit.
 */
SHMDB_API int shmdb_index_drop(shmdb *db, shmdb_table t, const char *column);

typedef struct shmdb_index_info {
	char column[64];    /* the indexed column's name, NUL-terminated */
	shmdb_table id;     /* the index's handle */
	int flags;          /* SHMDB_UNIQUE or 0 */
	int ready;          /* 1: complete in this snapshot; 0: being built,
			     * or failed (error) */
	int error;          /* 0, or the error its build failed with
			     * (SHMDB_EUNIQUE, -EINVAL, -ENOSPC): such an index
			     * holds nothing and is kept only until the next
			     * shmdb_index_create or shmdb_index_drop on the
			     * column */
	uint64_t count;     /* rows it holds in this snapshot (if ready) */
} shmdb_index_info;

/*
 * shmdb_indexes - the indexes of table t in r's snapshot, in column
 * order: the first min(cap, *n) into out[], in *n how many there are.
 * Returns 0, -EINVAL (r or n NULL, r ended, out NULL with cap > 0),
 * -ENOENT (no table t in the snapshot). Reads the whole catalog.
 */
SHMDB_API int shmdb_indexes(shmdb_rtxn *r, shmdb_table t, shmdb_index_info *out, size_t cap,
			    size_t *n);

/*
 * Keys in a value's natural order. An ordered table compares keys bytewise
 * (memcmp over the common length, then the shorter first); these encode a
 * number so that the bytes compare as the numbers do: integers
 * numerically, negatives first; doubles by value, from -infinity to
 * +infinity, with -0.0 and +0.0 one key (both encode as +0.0). Use them
 * for primary keys and index seeks. Strings and bytes need no encoding:
 * their bytes are their order.
 *
 * shmdb_key_i32 writes 4 bytes, shmdb_key_i64, shmdb_key_u64 and
 * shmdb_key_f64 write 8, and each returns how many it wrote;
 * shmdb_key_f64 writes nothing and returns 0 for a NaN, which has no place
 * in the order. No allocation, no system call.
 */
SHMDB_API size_t shmdb_key_i32(int32_t v, uint8_t out[4]);
SHMDB_API size_t shmdb_key_i64(int64_t v, uint8_t out[8]);
SHMDB_API size_t shmdb_key_u64(uint64_t v, uint8_t out[8]);
SHMDB_API size_t shmdb_key_f64(double v, uint8_t out[8]);

/*
 * The number a key encodes: key[0..klen) as shmdb_key_* wrote it. Return
 * 0, or -EINVAL if klen is not the encoding's length (4 for an i32, 8 for
 * the others) or key or v is NULL; shmdb_key_to_f64 also returns -EINVAL
 * for bytes no double encodes to (a NaN's, or -0.0's).
 */
SHMDB_API int shmdb_key_to_i32(const void *key, size_t klen, int32_t *v);
SHMDB_API int shmdb_key_to_i64(const void *key, size_t klen, int64_t *v);
SHMDB_API int shmdb_key_to_u64(const void *key, size_t klen, uint64_t *v);
SHMDB_API int shmdb_key_to_f64(const void *key, size_t klen, double *v);

#ifdef __cplusplus
}
#endif

#endif /* SHMDB_H */
