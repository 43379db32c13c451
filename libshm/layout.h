/*
 * layout.h - the shared-memory format of a shmdb store: the contract between
 * shmdbd and every client. Internal to libshmdb and the daemon; users see it
 * only through shmdb.h.
 *
 * The store lives in one contiguous virtual range in every process:
 *
 *   range offset 0            meta segment   (memfd, 4 KiB pages)
 *   range offset arena[i].off arena i        (memfd, 4 KiB or hugetlb pages)
 *
 * Each process maps the segments at the same offsets from its own base, so
 * every reference stored in shared memory is a 64-bit offset from that base,
 * never a pointer. Arena offsets are multiples of the range alignment (the
 * largest page size of any arena, at least 2 MiB), which lets hugetlb and
 * transparent huge pages map at aligned addresses.
 *
 * A session segment is separate: one per connection, mapped read-write by its
 * client and the daemon only; offsets inside it are from the session base.
 *
 * All integers are little-endian host order (x86_64). Every segment begins
 * with a magic and SHM_FORMAT_VERSION; a reader that sees a different magic
 * or version refuses to attach (SHMDB_EVERSION). Any change to a layout
 * below bumps SHM_FORMAT_VERSION.
 *
 * Writers: only shmdbd writes the meta segment and the arenas (clients map
 * them read-only, and the descriptors are sealed against writing); a client
 * and the daemon both write the session segment. Cache lines are 64 bytes:
 * fields written at run time by one side sit on their own line, away from
 * fields the other side reads in a loop, so that a store by one does not
 * invalidate a line the other is polling (false sharing).
 */
#ifndef SHMDB_LAYOUT_H
#define SHMDB_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define SHM_CACHELINE 64
#define SHM_FORMAT_VERSION 1u

/* Magics: ASCII tags read as little-endian u64, so a hex dump shows them. */
#define SHM_META_MAGIC    0x3154454d42444d53ull /* "SMDBMET1" */
#define SHM_ARENA_MAGIC   0x3152414e42444d53ull /* "SMDBNAR1" */
#define SHM_SESSION_MAGIC 0x3153455342444d53ull /* "SMDBSES1" */

#define SHM_MAX_ARENAS 64u
#define SHM_MIN_RANGE_ALIGN (2ull << 20)

/* meta->daemon_state */
enum shm_daemon_state {
	SHM_STATE_STARTING = 0, /* segments being built; no client sees this */
	SHM_STATE_RUNNING = 1,  /* serving */
	SHM_STATE_STOPPED = 2,  /* shut down; the mapping stays readable */
};

/*
 * One arena's entry in the meta segment's arena table: 64 bytes.
 *
 *   0  u64 range_off   offset of the arena from the range base
 *   8  u64 size        bytes in the arena (a multiple of page_size)
 *  16  u64 used        bytes in use; written by the daemon (relaxed),
 *                      a statistic only, so it shares the line
 *  24  i32 numa_node   node the pages are bound to, -1 if unbound
 *  28  u32 page_kind   enum shmdb_page_kind
 *  32  u32 page_size   bytes per backing page
 *  36  u32 index       this entry's index, for cross-checking
 *  40  u8  reserved[24] zero
 */
struct shm_arena_desc {
	uint64_t range_off;
	uint64_t size;
	uint64_t used;
	int32_t numa_node;
	uint32_t page_kind;
	uint32_t page_size;
	uint32_t index;
	uint8_t reserved[24];
};

/*
 * The meta segment, read-only to clients. Offsets in bytes from its start.
 *
 * line 0 (0..63), identity, written once before any client attaches:
 *   0  u64 magic            SHM_META_MAGIC
 *   8  u32 format_version   SHM_FORMAT_VERSION
 *  12  u32 arena_count      1..SHM_MAX_ARENAS
 *  16  u64 meta_size        bytes in this segment
 *  24  u64 range_size       bytes of the whole virtual range
 *  32  u64 range_align      alignment of the range base and arena offsets
 *  40  u64 generation       differs for every daemon start
 *  48  u8  store_id[16]     random identity of this store instance
 * line 1 (64..127), identity continued:
 *  64  u64 started_ns       CLOCK_REALTIME at start
 *  72  u32 daemon_pid
 *  76  i32 writer_cpu       cpu the writer thread is pinned to, -1 if none
 *  80  u64 arena_table_off  offset of arena_table[] in this segment
 *  88  u8  reserved[40]
 * line 2 (128..191), the published commit timestamp, alone on its line
 *     because readers load it at every snapshot and only the writer stores:
 * 128  u64 commit_ts
 * line 3 (192..255), daemon state, changed at start and stop only:
 * 192  u32 daemon_state     enum shm_daemon_state
 * line 4 (256..319), statistics written by the daemon's main thread:
 * 256  u32 sessions         sessions attached now
 * 260  u32 reserved
 * 264  u64 sessions_total   sessions admitted since start
 * 272  u64 sessions_refused connections refused or dropped in handshake
 * 320  struct shm_arena_desc arena_table[SHM_MAX_ARENAS]   (4096 bytes)
 * 4416 end; the segment is rounded up to 4096-byte pages.
 */
struct shm_meta {
	/* line 0 */
	uint64_t magic;
	uint32_t format_version;
	uint32_t arena_count;
	uint64_t meta_size;
	uint64_t range_size;
	uint64_t range_align;
	uint64_t generation;
	uint8_t store_id[16];
	/* line 1 */
	uint64_t started_ns;
	uint32_t daemon_pid;
	int32_t writer_cpu;
	uint64_t arena_table_off;
	uint8_t reserved1[40];
	/* line 2 */
	uint64_t commit_ts;
	uint8_t pad2[56];
	/* line 3 */
	uint32_t daemon_state;
	uint8_t pad3[60];
	/* line 4 */
	uint32_t sessions;
	uint32_t reserved4;
	uint64_t sessions_total;
	uint64_t sessions_refused;
	uint8_t pad4[40];
	/* 320.. */
	struct shm_arena_desc arena_table[SHM_MAX_ARENAS];
};

/*
 * The first bytes of every arena: 64 bytes, written by the daemon before it
 * seals the arena. Data starts at data_off.
 *
 *   0  u64 magic           SHM_ARENA_MAGIC
 *   8  u32 format_version  SHM_FORMAT_VERSION
 *  12  u32 index           the arena's index in the arena table
 *  16  u8  store_id[16]    the owning store's id (meta.store_id)
 *  32  u64 size            bytes in the arena
 *  40  u64 data_off        first byte available for data
 *  48  u8  reserved[16]
 */
struct shm_arena_header {
	uint64_t magic;
	uint32_t format_version;
	uint32_t index;
	uint8_t store_id[16];
	uint64_t size;
	uint64_t data_off;
	uint8_t reserved[16];
};

/*
 * The session segment's header: 64 bytes at offset 0. The daemon writes it
 * before it hands the segment out; everything in a session segment is a
 * claim by the client, never trusted by the daemon.
 *
 *   0  u64 magic           SHM_SESSION_MAGIC
 *   8  u32 format_version  SHM_FORMAT_VERSION
 *  12  u32 reserved
 *  16  u64 size            bytes in the segment
 *  24  u64 session_id      as in the welcome message
 *  32  u8  store_id[16]    the store this session belongs to
 *  48  u8  reserved[16]
 */
struct shm_session_header {
	uint64_t magic;
	uint32_t format_version;
	uint32_t reserved0;
	uint64_t size;
	uint64_t session_id;
	uint8_t store_id[16];
	uint8_t reserved[16];
};

#define SHM_SESSION_SIZE 4096u

_Static_assert(sizeof(struct shm_arena_desc) == 64, "arena desc is one line");
_Static_assert(offsetof(struct shm_meta, started_ns) == 64, "meta line 1");
_Static_assert(offsetof(struct shm_meta, commit_ts) == 128, "meta line 2");
_Static_assert(offsetof(struct shm_meta, daemon_state) == 192, "meta line 3");
_Static_assert(offsetof(struct shm_meta, sessions) == 256, "meta line 4");
_Static_assert(offsetof(struct shm_meta, arena_table) == 320, "arena table");
_Static_assert(sizeof(struct shm_meta) == 320 + 64 * SHM_MAX_ARENAS, "meta size");
_Static_assert(sizeof(struct shm_arena_header) == 64, "arena header");
_Static_assert(sizeof(struct shm_session_header) == 64, "session header");

static inline uint64_t shm_align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

#endif /* SHMDB_LAYOUT_H */
