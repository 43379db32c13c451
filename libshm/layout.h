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
 * Outside the range: a session segment per connection, mapped read-write by
 * its client and the daemon only (offsets inside it are from the session
 * base), and one doorbell page that every client maps read-write.
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

#include "align.h"

#define SHM_CACHELINE 64
#define SHM_FORMAT_VERSION 18u

/* Magics: ASCII tags read as little-endian u64, so a hex dump shows them. */
#define SHM_META_MAGIC    0x3154454d42444d53ull /* "SMDBMET1" */
#define SHM_ARENA_MAGIC   0x3152414e42444d53ull /* "SMDBNAR1" */
#define SHM_SESSION_MAGIC 0x3153455342444d53ull /* "SMDBSES1" */
#define SHM_DOORBELL_MAGIC 0x314c454242444d53ull /* "SMDBBEL1" */

#define SHM_MAX_ARENAS 64u
#define SHM_MAX_TABLES 4096u          /* == SHMDB_MAX_TABLES */
#define SHM_BATCH_BUCKETS 16u         /* == SHMDB_BATCH_BUCKETS */
#define SHM_CPU_WORDS 16u             /* cpu bitmasks: SHMDB_MAX_CPUS / 64 */
#define SHM_TS_INFINITY UINT64_MAX
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
 *  40  u64 huge_bytes  bytes of it the kernel backs with huge pages (hugetlb
 *                      or transparent), as the daemon last read them from
 *                      /proc/self/smaps (at start; 4K+THP arenas again for
 *                      a report, at most every 10 s);
 *                      written relaxed, a statistic (daemon/huge_usage.c).
 *                      0 from a daemon before it: the field was reserved
 *  48  u8  reserved[16] zero
 */
struct shm_arena_desc {
	uint64_t range_off;
	uint64_t size;
	uint64_t used;
	int32_t numa_node;
	uint32_t page_kind;
	uint32_t page_size;
	uint32_t index;
	uint64_t huge_bytes;
	uint8_t reserved[16];
};

/* shm_table.state */
enum shm_table_state {
	SHM_TABLE_FREE = 0,     /* never used, or dropped and past every reader */
	SHM_TABLE_LIVE = 1,
	SHM_TABLE_DROPPED = 2,  /* dropped at dropped_ts; older snapshots read it */
};

/*
 * A table's entry in the catalog: 192 bytes. Written only by the writer;
 * everything a reader needs is on line 0.
 *
 * line 0, what readers load:
 *   0  u64 index       the table's current hash index: its offset from
 *                      the range base (64-byte aligned) | log2 of its
 *                      capacity in bits 0..5 (shm_index_*); the writer
 *                      replaces it with a release store when it rebuilds
 *   8  u64 created_ts  commit that created the table
 *  16  u64 dropped_ts  commit that dropped it; SHM_TS_INFINITY while live
 *  24  u32 id          slot | generation << 16, as shmdb_table; 0 if unused
 *  28  u32 state       enum shm_table_state
 *  32  u64 count_head  offset of the table's newest count version, 0 for
 *                      none (no record yet): a version chain like a key's
 *                      (klen 0, value struct shm_count), one version per
 *                      commit that changed the count or the record bytes,
 *                      so a snapshot reads them as of its commit
 *  40  u64 index_since the commit from which `index` holds the table's
 *                      contents: its last shmdb_clear, 0 if none
 *  48  u64 index_gen   offset of the struct shm_index_gen naming the index
 *                      of the contents before that clear, 0 if none
 *  56  u32 kind        0, SHMDB_ORDERED or SHMDB_ORDERED | SHMDB_MULTI,
 *                      or SHM_KIND_ROWS with 0 or SHMDB_ORDERED, or
 *                      SHM_KIND_INDEX | SHMDB_ORDERED with or without
 *                      SHM_KIND_UNIQUE; set before the id is published,
 *                      never changed
 *  60  u32 base        a secondary index: the id of the table it indexes
 *                      (secondary.h); 0 for another kind. Set, like
 *                      kind, before the id is published, never changed
 * line 1:
 *  64  u8  name_len    1..63
 *  65  char name[63]   not NUL-terminated
 * line 2, the writer's own bookkeeping (readers ignore it):
 * 128  u64 records     live keys at the last commit: index slots whose
 *                      head is not a tombstone
 * 136  u64 index_used  index slots holding a key, tombstones included
 *                      (the writer's load factor)
 * 144  u64 index_replaced_ts  the commit whose transaction last replaced
 *                      the index (0: never)
 * 152  u64 left_out_ts the newest delete whose key an index build left
 *                      out (0: none)
 * 160  u64 record_bytes  bytes of the records' live versions
 * 168  u64 root        the ordered tree's root node at the last commit, 0
 *                      if empty or not ordered (readers take the root of
 *                      their snapshot from the count version)
 * 176  u64 tree_bytes  bytes of that tree's nodes
 * 184  u64 schema      a typed table's schema (rows.h, struct shm_schema),
 *                      or a secondary index's definition (secondary.h,
 *                      struct shm_index_def): its offset from the range
 *                      base, 0 for another kind; set before the id is
 *                      published, never changed, freed after the last
 *                      snapshot that sees the table (readers load it:
 *                      shmdb_schema_get, the index read path)
 */
struct shm_table {
	uint64_t index;
	uint64_t created_ts;
	uint64_t dropped_ts;
	uint32_t id;
	uint32_t state;
	uint64_t count_head;
	uint64_t index_since;
	uint64_t index_gen;
	uint32_t kind;
	uint32_t base;
	uint8_t name_len;
	char name[63];
	uint64_t records;
	uint64_t index_used;
	uint64_t index_replaced_ts;
	uint64_t left_out_ts;
	uint64_t record_bytes;
	uint64_t root;
	uint64_t tree_bytes;
	uint64_t schema;
};

/* shm_table.kind: the public flags (shmdb.h), repeated for the daemon. */
#define SHM_KIND_ORDERED 2u
#define SHM_KIND_MULTI 4u
/* A table of typed rows (shmdb_table_create_rows): each value is a row of
 * the table's schema, checked by the writer (rows.h). With or without
 * SHM_KIND_ORDERED, never with SHM_KIND_MULTI. */
#define SHM_KIND_ROWS 8u /* SHMDB_ROWS */
/* A secondary index of a table of rows (secondary.h): always with
 * SHM_KIND_ORDERED, with SHM_KIND_UNIQUE for a unique one. Written by the
 * writer only; never found by name. */
#define SHM_KIND_INDEX 16u
#define SHM_KIND_UNIQUE 32u

/*
 * A table's contents before a clear, for the snapshots older than it: 24
 * bytes, in an arena, written before the clear publishes (release stores
 * of index_gen, index_since, then index, in that order), never changed.
 *   0  u64 since   the commit from which `word` held the contents
 *   8  u64 word    that index (its offset | log2, as shm_table.index)
 *  16  u64 older   the shm_index_gen before it, 0 if none
 * A snapshot snap reads the index of the newest generation whose since is
 * at or below snap (libshm/catalog.h, shm_table_word). Each is kept, with
 * its index and the heads that index names, until no snapshot older than
 * the clear that made it lives.
 */
struct shm_index_gen {
	uint64_t since;
	uint64_t word;
	uint64_t older;
};

/*
 * The value of a count version (struct shm_table's count_head): 40 bytes.
 * For an ordered table or multimap it also names the tree of that commit,
 * so a snapshot finds the tree it sees where it finds its count: the
 * writer adds a count version at every commit that changes any of them.
 *
 * pending: an ordered table's (not a multimap's, not a secondary index's)
 * one key added by a commit but not yet placed in the tree: the offset of
 * the key's version that commit wrote, 0 for none. A 1-put commit of a new
 * key leaves it out of the tree, so that its commit does not wait for the
 * key's leaf to load; the table's next commit that changes its tree, or
 * leaves a key of its own out, places it, and a writer with nothing to do
 * places it by a commit of its own (daemon/pending.c). While a count version names
 * it, the tree it names does not hold the key, or holds it only by a
 * change in place made since (layout.h, shm_node), and no commit changed
 * the key since: the version is the one every snapshot that reads this
 * count version sees. A cursor reads the key in its order with the tree's
 * (libshm/ordered.c).
 */
struct shm_count {
	uint64_t records;       /* records (pairs, in a multimap) at that commit */
	uint64_t record_bytes;  /* bytes of their versions then */
	uint64_t root;          /* the ordered tree's root node then, 0 if empty */
	uint64_t tree_bytes;    /* bytes of that tree's nodes */
	uint64_t pending;       /* the version of the key not yet in the tree, 0 if none */
};

/* A count version's bytes: a version with no key and a struct shm_count. */
#define SHM_COUNT_VERSION_SIZE (sizeof(struct shm_version) + sizeof(struct shm_count))

#define SHM_TABLE_SLOT(id) ((id) & 0xffffu)

/*
 * A hash index, in an arena: `capacity` 8-byte slots and nothing else,
 * 64-byte aligned, capacity a power of two (so slots come in 64-byte groups
 * of 8, a probe usually touches one cache line, and the block is exactly a
 * power of two, which the allocator's classes hold without waste). The
 * table entry's `index` word names both offset and capacity, so a reader
 * gets them in one load.
 *
 * A slot is 0 (empty: a probe stops) or, for a key:
 *   bits  0..3   its displacement: how far the slot is past the key's home
 *                slot (hash & mask, wrapping), 15 for 15 or more;
 *   bits  4..47  the offset of the key's newest version (versions are
 *                16-byte aligned: bits 0..3 of the offset are 0);
 *   bits 48..53  growth bits: the n bits of the key's hash above the home's,
 *                from bit log2(capacity) on, n = 0..5, as 1 followed by
 *                them (0 for none);
 *   bits 54..63  the top 10 bits of the key's hash (a tag, so that a probe
 *                rarely dereferences a wrong record: one slot in 1,024).
 * Readers use the offset and the tag. The displacement and growth bits are
 * the writer's: with them it moves a key into an index of up to 2^n times
 * the slots without reading the key (index_build.c). A slot, once
 * given to a key, keeps that key until the index is rebuilt, so a probe
 * never misses a key that a slot further on holds. The writer publishes a
 * slot with a release store after the version it points to is complete.
 */
#define SHM_INDEX_LOG2_MASK 63ull
#define SHM_INDEX_MAX_LOG2 28u /* 2 GiB of slots */

static inline uint64_t shm_index_word(uint64_t off, unsigned log2_capacity)
{
	return off | log2_capacity;
}

static inline uint64_t shm_index_off(uint64_t word)
{
	return word & ~SHM_INDEX_LOG2_MASK;
}

static inline uint64_t shm_index_mask(uint64_t word)
{
	return (1ull << (word & SHM_INDEX_LOG2_MASK)) - 1;
}

/* The bytes of the index `word` names. */
static inline size_t shm_index_bytes(uint64_t word)
{
	return (size_t)(shm_index_mask(word) + 1) * sizeof(uint64_t);
}

#define SHM_SLOT_OFF_MASK (((1ull << 48) - 1) & ~15ull)
#define SHM_SLOT_TAG_SHIFT 54
#define SHM_SLOT_TAG_MASK (~((1ull << SHM_SLOT_TAG_SHIFT) - 1))
#define SHM_SLOT_DISP_UNKNOWN 15u
#define SHM_SLOT_GROWTH_BITS 5u

/* A slot's own bits (displacement and growth bits, not offset or tag) at
 * position pos of an index of 2^log2 slots, for a key whose hash is known
 * in its low nbits bits `bits` (nbits >= log2). */
static inline uint64_t shm_slot_place_bits(uint64_t bits, unsigned nbits, uint64_t pos,
					   unsigned log2)
{
	unsigned n = nbits - log2 < SHM_SLOT_GROWTH_BITS ? nbits - log2 : SHM_SLOT_GROWTH_BITS;
	uint64_t disp = (pos - bits) & ((1ull << log2) - 1);
	uint64_t growth = n ? (1ull << n) | ((bits >> log2) & ((1ull << n) - 1)) : 0;
	return (disp < SHM_SLOT_DISP_UNKNOWN ? disp : SHM_SLOT_DISP_UNKNOWN) | growth << 48;
}

/* The slot that names the version at `off` of the key with `hash`, at
 * position pos of an index of 2^log2 slots. */
static inline uint64_t shm_slot_make(uint64_t off, uint64_t hash, uint64_t pos, unsigned log2)
{
	return off | shm_slot_place_bits(hash, 64, pos, log2) | (hash & SHM_SLOT_TAG_MASK);
}

/* The low bits of the hash of the key in slot s, at position pos of an
 * index of 2^log2 slots, that the slot tells without the key: *bits holds
 * them; returns how many (its home's log2 and its growth bits), or 0. */
static inline unsigned shm_slot_hash_bits(uint64_t s, uint64_t pos, unsigned log2, uint64_t *bits)
{
	uint64_t disp = s & 15, growth = (s >> 48) & ((2u << SHM_SLOT_GROWTH_BITS) - 1);
	if (disp == SHM_SLOT_DISP_UNKNOWN || !growth)
		return 0;
	unsigned n = 63 - (unsigned)__builtin_clzll(growth); /* the 1 above them */
	*bits = ((pos - disp) & ((1ull << log2) - 1)) | (growth & ((1ull << n) - 1)) << log2;
	return log2 + n;
}

/*
 * A node of an ordered table's tree, in an arena, 8-byte aligned. The tree
 * is copy-on-write in its shape: a node is written whole before the commit
 * that publishes the root it hangs from, and its keys, prefixes and child
 * refs never change after; a commit that adds or removes an entry writes a
 * new node (and new nodes up to a new root, or up to the first that keeps
 * its shape) and retires the old for the snapshots in [created_ts, that
 * commit), the roots that hang it (daemon/tree.c). So a snapshot reads the
 * shape of its commit with plain loads: every node reachable from its root
 * stays, and stays the same, until the snapshot ends.
 *
 * A leaf of an ordered table (not a multimap's) is the exception: it
 * takes new versions and new keys in place, so that a commit that only
 * overwrites or inserts keys in a leaf with room writes no node at all.
 *
 * New versions: the commit stores them into the leaf's refs (release)
 * before its commit_ts. A ref is thus the head of its key's version chain
 * as of the latest commit that reached the leaf, never older than the
 * snapshot's own version, and a reader walks the chain from it exactly as
 * from an index slot (index.h, validated: the ref is read again as a slot
 * would be). A leaf replaced later keeps the heads it had: the writer keeps
 * each of those versions for the snapshots from the leaf's created_ts on
 * (daemon/reach.h), so a snapshot that reaches the old leaf walks from a
 * version that is still there.
 *
 * New keys: a leaf is written with room for more entries (cap) and more
 * bytes than it holds, and takes keys after its first one and below its
 * bound (hi, below) in place. The commit appends the new keys' bytes after the
 * last used byte (data_end), then, under the leaf's `gen` sequence count
 * (odd while it changes: a release fence after the odd store, a release
 * store of the even one), moves the array entries after each new key's
 * place up by one (8-byte stores) and stores the new entries and count,
 * all before its commit_ts. Entries' bytes never move, and no entry
 * leaves a leaf in place (a delete writes the leaf anew). A reader loads
 * gen (acquire; odd: it waits), reads count and the arrays, and keeps
 * what it read only if gen is the same after (acquire fence): else it
 * reads again. A key inserted in place is one no snapshot that reads the
 * leaf from before its commit sees (it had no version such a snapshot sees
 * but a tombstone, else the leaf would have held it), so a snapshot skips
 * an entry whose chain shows it nothing: the structure holds the latest
 * key set, the versions the visibility (DESIGN.md). Every slot past count
 * is zero or an entry being placed, and every ref a ref of the leaf, so a
 * reader that raced reads only bytes of the leaf and versions.
 *
 *   0  u64 created_ts   the commit that wrote it (the writer's)
 *   8  u32 bytes        the node's bytes
 *  12  u16 count        entries, 1..cap (changes in place: above)
 *  14  u16 cap          the slots of each array, count..SHM_NODE_MAX
 *  16  u64 stored       the writer's own, never read by clients: bit i set
 *                         once leaf ref i was stored in place
 *  24  u32 gen          even; odd while entries are added in place
 *  28  u8  level        0 for a leaf, else the height above the leaves
 *  29  u8  reserved     0
 *  30  u16 data_end     the writer's own: the first byte after the
 *                         entries' bytes
 *  32  u64 hi           the writer's own: in a leaf of an ordered table,
 *                         the prefix (shm_key_prefix) of the first key of
 *                         the leaf after it when it was written, UINT64_MAX
 *                         for the last leaf; every key whose prefix is
 *                         below hi was in its range then, and stays in it
 *                         while it lives (tree.c, change_in_place); 0 in
 *                         other nodes
 *  40  u64 stored_ts    the writer's own: the last commit that stored a
 *                         ref of the leaf in place, 0 if none; each
 *                         version stored is at least as old
 *                         (daemon/reach.h: no note for a leaf replaced
 *                         once every snapshot is as new)
 *  48  u64 prefix[cap]  each entry's first 8 key bytes, big-endian,
 *                         zero-padded (shm_key_prefix): the search compares
 *                         these and reads an entry's bytes only on a tie
 *      u64 ref[cap]     leaf of an ordered table: the offset of the head of
 *                         the key's version chain (above); leaf of a
 *                         multimap: 0; inner node: the child node's offset
 *      struct shm_node_entry ent[cap]
 *      entries' bytes   key, then (multimap pairs) value; in entry order
 *                         but for keys added in place, which follow
 *
 * Entries are in order (shmdb.h; a multimap orders its pairs by key, then
 * value). An inner node's entry i is the first entry of its child i's
 * subtree when it was written: child i holds the entries from it up to,
 * not including, entry i + 1's; child 0 also every entry before.
 */
struct shm_node {
	uint64_t created_ts;
	uint32_t bytes;
	uint16_t count;
	uint16_t cap;
	uint64_t stored;
	uint32_t gen;
	uint8_t level;
	uint8_t reserved;
	uint16_t data_end;
	uint64_t hi;
	uint64_t stored_ts;
};

struct shm_node_entry {
	uint32_t off;   /* the entry's bytes, from the node's start */
	uint16_t klen;
	uint16_t vlen;  /* a multimap pair's value bytes; 0 otherwise */
};

#define SHM_NODE_MAX 64u
#define SHM_TREE_MAX_HEIGHT 16u

static inline const uint64_t *shm_node_prefix(const struct shm_node *n)
{
	return (const uint64_t *)(n + 1);
}

static inline const uint64_t *shm_node_ref(const struct shm_node *n)
{
	return shm_node_prefix(n) + n->cap;
}

static inline const struct shm_node_entry *shm_node_ent(const struct shm_node *n)
{
	return (const struct shm_node_entry *)(shm_node_ref(n) + n->cap);
}

/* The bytes of a node of `cap` slots whose keys and values take `data`
 * bytes. */
static inline size_t shm_node_size(size_t cap, size_t data)
{
	return shm_align_up(sizeof(struct shm_node) + cap * 24 + data, 8);
}
#define SHM_SLOT_TAG(hash) ((hash) & SHM_SLOT_TAG_MASK)

/*
 * A record version, in an arena, 16-byte aligned (the allocator's classes
 * are multiples of 16 bytes, alloc.c; index slots use the 4 low bits):
 *
 *   0  u64 begin_ts    the commit that created it
 *   8  u64 older       offset of the next older version of the key, 0 if none
 *  16  u32 klen        1..SHMDB_MAX_KEY
 *  20  u32 vlen        value bytes; SHM_TOMBSTONE for a delete
 *  24  u8  key[klen]
 *      u8  value[vlen] at 24 + klen rounded up to 8
 *
 * A published version never changes but for `older`, which the writer
 * may point past a pruned version. The newest version of a key is in the
 * key's index slot; each links to the next older one still kept. A
 * snapshot `snap` sees the first version on the chain with begin_ts <= snap
 * (none, or a tombstone: the key is absent).
 *
 * A replaced version V is visible to the snapshots in [V.begin_ts, end)
 * where end is the begin_ts of the version that replaced it. The writer
 * frees V once no live snapshot lies in that interval (daemon/reclaim.c):
 * if no live snapshot is older than end, no reader can reach V and it is
 * simply freed; otherwise an older snapshot may still walk through V on its
 * way down, so the writer first unlinks it (its predecessor's `older` skips
 * it), stores SHM_VERSION_FREE in its begin_ts, and puts it where only a
 * new version will reuse it. Such a block is type-stable: at its offset
 * there is always either a version or a free block whose first word is
 * SHM_VERSION_FREE, and a new version is written field by field with
 * begin_ts stored last (release). A reader that may stand on a pruned block
 * detects it (index.h): a begin_ts read twice differs, or a link it came by
 * has changed, and it restarts the lookup. A version whose begin_ts a
 * reader reads as <= its snapshot is one its snapshot sees, so it stays
 * until the snapshot ends and views into it stay valid.
 */
struct shm_version {
	uint64_t begin_ts;
	uint64_t older;
	uint32_t klen;
	uint32_t vlen;
	uint8_t key[];
};

#define SHM_TOMBSTONE UINT32_MAX
/* begin_ts of a pruned block while it is free: newer than any snapshot. */
#define SHM_VERSION_FREE UINT64_MAX

static inline size_t shm_version_value_off(uint32_t klen)
{
	return sizeof(struct shm_version) + shm_align_up(klen, 8);
}

static inline size_t shm_version_size(uint32_t klen, uint32_t vlen)
{
	size_t v = vlen == SHM_TOMBSTONE ? 0 : vlen;
	return shm_align_up(shm_version_value_off(klen) + v, 8);
}

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
 * line 3 (192..255), daemon state, changed at start and stop only, and the
 *     log's figures, written by the daemon's log and checkpoint threads
 *     (at most every flush interval, so the line is quiet):
 * 192  u32 daemon_state     enum shm_daemon_state
 * 196  u32 durability       SHMDB_DURABILITY_*
 * 200  i32 log_error        0, or the -errno that stops commits
 * 204  i32 checkpoint_error the last checkpoint's failure (-errno), 0 after
 *                          a success
 * 208  u64 durable_ts       the last commit whose log record is on disk
 * 216  u64 log_bytes        log bytes written since the last checkpoint
 * 224  u64 writes_refused   commits refused because the log could not take them
 * 232  u64 checkpoint_ts    the commit the newest checkpoint holds
 * 240  u64 checkpoint_bytes its bytes
 * 248  u64 checkpoint_ns    CLOCK_REALTIME when it was written
 * line 4 (256..319), statistics written by the daemon's main thread:
 * 256  u32 sessions         sessions attached now
 * 260  u32 reserved
 * 264  u64 sessions_total   sessions admitted since start
 * 272  u64 sessions_refused connections refused or dropped in handshake
 * 280  u64 checkpoints      checkpoints written since start (the checkpoint
 *                          thread's)
 * 288  u64 checkpoint_failures checkpoints that failed since start (its too)
 * line 5 (320..383), the writer's sleep flag and what a committing client
 *     should do while it waits, alone on their line because every
 *     submitting client loads them and only the writer stores
 *     (writer_sleeping at its parks, writer_on_cpu when its turn moves to
 *     or from a stand-in, the rest rarely: at start, and when the
 *     writer's estimates move):
 * 320  u32 writer_sleeping  1 while the writer may sleep on the doorbell
 * 324  u32 idle_policy      SHMDB_IDLE_SPIN, _BACKOFF or _SLEEP
 * 328  u32 client_spin_ns   how long a client that found the writer awake
 *                          spins for its completion before it sleeps
 * 332  u32 wake_ns          the writer's estimate of a wake-up's price
 * 336  i32 writer_on_cpu    the cpu of the thread that holds the writer's
 *                          turn now, or held it last (its own, or a
 *                          stand-in's): a client there does not spin for
 *                          its completion, which that thread needs the
 *                          cpu for
 * 340  u32 reserved5
 * 344  u64 standin_cpus     bit c set: a stand-in of the writer waits on
 *                          doorbell bell[1 + c] (cpus 0..SHM_STANDINS-1),
 *                          written once before any client attaches
 * line 6 (384..447), statistics written by the writer:
 * 384  u64 oldest_snapshot  the reclamation horizon at the last scan
 * 392  u64 commits          transactions committed since start
 * 400  u64 reclaimed_bytes  bytes freed by reclamation since start
 * 408  u64 retired_bytes    bytes waiting for readers to move on (pinned
 *                          ones included)
 * 416  u64 oldest_since_ns  CLOCK_MONOTONIC when the writer first saw the
 *                          oldest live snapshot, 0 if none
 * 424  u64 oldest_only_bytes bytes only the oldest live snapshot keeps
 * 432  u32 oldest_pid       pid of the session holding it, 0 if none
 * 436  u32 snapshots        distinct live snapshots at the last scan
 * 440  u64 pinned_bytes     retired bytes a live snapshot still sees
 * line 7 (448..511), the memory monitor, written by the writer only when
 *     the level changes or it refuses a commit (rarely, so no client's
 *     hot line): pressure.h
 * 448  u32 pressure         SHMDB_PRESSURE_*, the level now
 * 452  u32 memory_high_pct  the thresholds the daemon runs with, percent of
 * 456  u32 memory_critical_pct  the arenas' bytes
 * 460  u32 reserved7
 * 464  u64 pressure_refused commits refused at critical since start
 * 472  u64 pressure_since_ns CLOCK_REALTIME of the last change of level
 *     and the gathering of ordered tables' records (daemon/cluster.h),
 *     written by the writer after each of its steps (between transactions,
 *     when it has nothing else to do: no client's hot line either):
 * 480  u64 gathered         versions moved next to their leaf's others
 * 488  u64 gather_passes    passes over a table finished
 * 496  u32 gathering        1 while a pass is under way or due
 * 500  u8  pad[12]
 * lines 8-10 (512..703), the writer's activity, written by the writer after
 *     each pass that did work, ops with each commit (clients read them for
 *     statistics only):
 * 512  u64 ops              operations applied (a put, a delete, ...)
 * 520  u64 work_passes      passes over the rings that found work
 * 528  u64 busy_ns          time spent in those passes (from the TSC)
 * 536  u64 sleeps           times the writer parked on the doorbell
 * 544  u64 wakeups          times a client's ring woke the writer's thread
 *                          or a stand-in (so it may pass sleeps)
 * 552  u64 grace_periods    grace periods reclamation asked for
 * 560  u64 writer_started_ns CLOCK_MONOTONIC when the writer thread began
 * 568  u64 standin_wakeups  of the wakeups, those a stand-in on the
 *                          ringing client's cpu served
 * 576  u64 batch[16]        work passes by transactions served: batch[i]
 *                          counts passes of 2^i .. 2^(i+1)-1 transactions
 * 704  struct shm_arena_desc arena_table[SHM_MAX_ARENAS]   (4096 bytes)
 * 4800 struct shm_table      tables[SHM_MAX_TABLES]         (192 bytes each)
 * then u64 near_cpus[SHM_MAX_ARENAS][SHM_CPU_WORDS]: for each arena, a
 *      bitmask of the cpus near its NUMA node, the writer's core left out
 *      (from hwloc, written once before any client attaches)
 * end; the segment is rounded up to 4096-byte pages.
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
	uint32_t durability;
	int32_t log_error;
	int32_t checkpoint_error;
	uint64_t durable_ts;
	uint64_t log_bytes;
	uint64_t writes_refused;
	uint64_t checkpoint_ts;
	uint64_t checkpoint_bytes;
	uint64_t checkpoint_ns;
	/* line 4 */
	uint32_t sessions;
	uint32_t reserved4;
	uint64_t sessions_total;
	uint64_t sessions_refused;
	uint64_t checkpoints;
	uint64_t checkpoint_failures;
	uint8_t pad4[24];
	/* line 5 */
	uint32_t writer_sleeping;
	uint32_t idle_policy;
	uint32_t client_spin_ns;
	uint32_t wake_ns;
	int32_t writer_on_cpu;
	uint32_t reserved5;
	uint64_t standin_cpus;
	uint8_t pad5[32];
	/* line 6 */
	uint64_t oldest_snapshot;
	uint64_t commits;
	uint64_t reclaimed_bytes;
	uint64_t retired_bytes;
	uint64_t oldest_since_ns;
	uint64_t oldest_only_bytes;
	uint32_t oldest_pid;
	uint32_t snapshots;
	uint64_t pinned_bytes;
	/* line 7 */
	uint32_t pressure;
	uint32_t memory_high_pct;
	uint32_t memory_critical_pct;
	uint32_t reserved7;
	uint64_t pressure_refused;
	uint64_t pressure_since_ns;
	uint64_t gathered;
	uint64_t gather_passes;
	uint32_t gathering;
	uint8_t pad7[12];
	/* lines 8-10 */
	uint64_t ops;
	uint64_t work_passes;
	uint64_t busy_ns;
	uint64_t sleeps;
	uint64_t wakeups;
	uint64_t grace_periods;
	uint64_t writer_started_ns;
	uint64_t standin_wakeups;
	uint64_t batch[SHM_BATCH_BUCKETS];
	/* 704.. */
	struct shm_arena_desc arena_table[SHM_MAX_ARENAS];
	struct shm_table tables[SHM_MAX_TABLES];
	uint64_t near_cpus[SHM_MAX_ARENAS][SHM_CPU_WORDS];
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
 * A session segment: one per connection, read-write for its client and the
 * daemon. Everything the client can write here is a claim the daemon checks
 * before it acts on it (see the writer's ring code).
 *
 * line 0 (0..63), header, written by the daemon before handing it out:
 *   0  u64 magic           SHM_SESSION_MAGIC
 *   8  u32 format_version  SHM_FORMAT_VERSION
 *  12  u32 reader_slots    number of reader slots (SHM_READER_SLOTS)
 *  16  u64 size            bytes in the segment
 *  24  u64 session_id      as in the welcome message
 *  32  u8  store_id[16]    the store this session belongs to
 *  48  u32 sq_size         bytes in the submission ring (a power of two)
 *  52  u32 cq_entries      completion ring entries (a power of two)
 *  56  u8  reserved[8]
 * line 1 (64..127), written by the client (the producer of submissions):
 *  64  u64 sq_tail         bytes ever submitted; release store after the
 *                          records before it are complete
 *  72  u64 sq_full         submissions that found the ring full and waited
 *                          (a statistic the daemon only reports)
 * line 2 (128..191), written by the writer (the consumer):
 * 128  u64 sq_head         bytes ever consumed; the client may reuse space
 *                          before it
 * line 3 (192..255), written by the writer (producer of completions):
 * 192  u32 cq_tail         completions ever posted (wraps); release store
 *                          after the entries; the client's futex word
 * line 4 (256..319), written by the client (consumer of completions):
 * 256  u32 cq_head         completions ever consumed (wraps)
 * 260  u32 client_waiting  1 while a client thread may sleep on cq_tail
 * Producer and consumer fields sit on separate lines so that neither side's
 * stores invalidate the line the other side polls.
 *
 * SHM_SESSION_SLOTS_OFF: reader slots, one 64-byte line each
 *   0  u64 snapshot        0 when idle, else the snapshot being read
 *   8  u32 owner           claiming thread's id, 0 if free (client-private
 *                          bookkeeping; the daemon ignores it)
 *  12  u32 pinned          cpu + 1 its thread pinned itself to with
 *                          shmdb_pin_thread, 0 if none (a claim the daemon
 *                          only counts, for the report)
 * then the completion ring: cq_entries × struct shm_cqe (32 bytes)
 * then the submission ring: sq_size bytes of records (struct shm_sqe_hdr)
 */
struct shm_session_header {
	uint64_t magic;
	uint32_t format_version;
	uint32_t reader_slots;
	uint64_t size;
	uint64_t session_id;
	uint8_t store_id[16];
	uint32_t sq_size;
	uint32_t cq_entries;
	uint8_t reserved[8];
	/* line 1 */
	uint64_t sq_tail;
	uint64_t sq_full;
	uint8_t pad1[48];
	/* line 2 */
	uint64_t sq_head;
	uint8_t pad2[56];
	/* line 3 */
	uint32_t cq_tail;
	uint8_t pad3[60];
	/* line 4 */
	uint32_t cq_head;
	uint32_t client_waiting;
	uint8_t pad4[56];
};

struct shm_reader_slot {
	uint64_t snapshot;
	uint32_t owner;
	uint32_t pinned;        /* cpu + 1 the thread pinned itself to, 0: none */
	uint8_t pad[48];
};

/*
 * A completion, 32 bytes:
 *   0  u64 ticket      the transaction's number in this session, from 1
 *   8  i32 status      0 or a negative code as shmdb_commit returns
 *  12  u32 reserved
 *  16  u64 commit_ts   the transaction's commit (0 if it failed)
 *  24  u64 value       an operation's result (a created table's id)
 */
struct shm_cqe {
	uint64_t ticket;
	int32_t status;
	uint32_t reserved;
	uint64_t commit_ts;
	uint64_t value;
};

/*
 * A submission record header, 8 bytes; records are 8-byte aligned, never
 * wrap (a PAD record fills the ring's end) and carry a slice of one encoded
 * transaction (see txn.h). A transaction is the payloads of the records from
 * one with SHM_SQE_FIRST to one with SHM_SQE_LAST, in order.
 *   0  u32 len     bytes of the record, header included, a multiple of 8
 *   4  u16 kind    SHM_SQE_CHUNK or SHM_SQE_PAD
 *   6  u16 flags   SHM_SQE_FIRST | SHM_SQE_LAST (chunks only)
 */
struct shm_sqe_hdr {
	uint32_t len;
	uint16_t kind;
	uint16_t flags;
};

enum { SHM_SQE_CHUNK = 1, SHM_SQE_PAD = 2 };
enum { SHM_SQE_FIRST = 1, SHM_SQE_LAST = 2 };

#define SHM_READER_SLOTS 64u
#define SHM_CQ_ENTRIES 1024u
#define SHM_SQ_SIZE (512u << 10)
#define SHM_SESSION_SLOTS_OFF 4096u
#define SHM_SESSION_CQ_OFF (SHM_SESSION_SLOTS_OFF + SHM_READER_SLOTS * 64u)
#define SHM_SESSION_SQ_OFF (SHM_SESSION_CQ_OFF + SHM_CQ_ENTRIES * 32u)
#define SHM_SESSION_SIZE (SHM_SESSION_SQ_OFF + SHM_SQ_SIZE)

/*
 * The doorbell segment: one page shared read-write by every client, sealed
 * against resizing. It holds bells, one a line: bell[0] is the writer's
 * own thread's; bell[1 + c] is the stand-in's for cpu c, if meta
 * standin_cpus says there is one (a thread pinned to cpu c that takes the
 * writer's turn when rung, so that a commit from a client on cpu c is
 * served on that cpu: the client sleeps and the stand-in runs in its
 * place, with no wake-up of another cpu, which costs several times more).
 * A client that finds meta.writer_sleeping set after submitting rings the
 * bell of the cpu it runs on if it has a stand-in, else bell[0]: it
 * increments `ring` and wakes the futex on it; a thread sleeps on its
 * bell only after reading its value, so no wake-up is lost. A client can
 * only make the writer wake for nothing by writing here: so a client does
 * not check the page's magic and version on attach (any client could
 * change them, and lock out every client after it); the meta segment's,
 * read-only to clients, stand for them.
 *   0  u64 magic           SHM_DOORBELL_MAGIC (a label for whoever dumps it)
 *   8  u32 format_version
 *  64  struct shm_bell bell[SHM_BELLS], 64 bytes each:
 *        0  u32 ring       the futex word
 *        8  u64 rung_ns    CLOCK_MONOTONIC when a client last rang it:
 *                          the writer measures the price of its wake-ups
 *                          (a client's claim, clamped, used for no
 *                          decision of safety)
 */
struct shm_bell {
	uint32_t ring;
	uint32_t pad0;
	uint64_t rung_ns;
	uint8_t pad1[48];
};

#define SHM_BELLS 63u
#define SHM_STANDINS (SHM_BELLS - 1u)

struct shm_doorbell {
	uint64_t magic;
	uint32_t format_version;
	uint8_t pad0[52];
	struct shm_bell bell[SHM_BELLS];
};

#define SHM_DOORBELL_SIZE 4096u

_Static_assert(sizeof(struct shm_arena_desc) == 64, "arena desc is one line");
_Static_assert(offsetof(struct shm_meta, started_ns) == 64, "meta line 1");
_Static_assert(offsetof(struct shm_meta, commit_ts) == 128, "meta line 2");
_Static_assert(offsetof(struct shm_meta, daemon_state) == 192, "meta line 3");
_Static_assert(offsetof(struct shm_meta, sessions) == 256, "meta line 4");
_Static_assert(offsetof(struct shm_meta, writer_sleeping) == 320, "meta line 5");
_Static_assert(offsetof(struct shm_meta, oldest_snapshot) == 384, "meta line 6");
_Static_assert(offsetof(struct shm_meta, pressure) == 448, "meta line 7");
_Static_assert(offsetof(struct shm_meta, gathered) == 480, "meta line 7 gathered");
_Static_assert(offsetof(struct shm_meta, ops) == 512, "meta line 8");
_Static_assert(offsetof(struct shm_meta, batch) == 576, "meta line 9");
_Static_assert(offsetof(struct shm_meta, arena_table) == 704, "arena table");
_Static_assert(offsetof(struct shm_meta, tables) == 704 + 64 * SHM_MAX_ARENAS, "catalog");
_Static_assert(sizeof(struct shm_table) == 192, "table entry");
_Static_assert(offsetof(struct shm_table, name_len) == 64, "table entry line 1");
_Static_assert(offsetof(struct shm_table, records) == 128, "table entry line 2");
_Static_assert(sizeof(struct shm_version) == 24, "version header");
_Static_assert(sizeof(struct shm_node) == 48, "node header");
_Static_assert(offsetof(struct shm_node, gen) == 24, "node gen");
_Static_assert(sizeof(struct shm_node_entry) == 8, "node entry");
_Static_assert(offsetof(struct shm_table, kind) == 56, "table kind");
_Static_assert(sizeof(struct shm_arena_header) == 64, "arena header");
_Static_assert(sizeof(struct shm_session_header) == 320, "session lines 0-4");
_Static_assert(offsetof(struct shm_session_header, sq_tail) == 64, "sq_tail line");
_Static_assert(offsetof(struct shm_session_header, sq_head) == 128, "sq_head line");
_Static_assert(offsetof(struct shm_session_header, cq_tail) == 192, "cq_tail line");
_Static_assert(offsetof(struct shm_session_header, cq_head) == 256, "cq_head line");
_Static_assert(sizeof(struct shm_reader_slot) == 64, "reader slot");
_Static_assert(sizeof(struct shm_cqe) == 32, "completion");
_Static_assert(sizeof(struct shm_sqe_hdr) == 8, "submission header");
_Static_assert(offsetof(struct shm_doorbell, bell) == 64, "doorbell lines");
_Static_assert(sizeof(struct shm_bell) == 64, "a bell a line");
_Static_assert(sizeof(struct shm_doorbell) == SHM_DOORBELL_SIZE, "doorbell page");
_Static_assert(offsetof(struct shm_meta, writer_on_cpu) == 336, "meta line 5 writer_on_cpu");
_Static_assert(offsetof(struct shm_meta, standin_cpus) == 344, "meta line 5 standin_cpus");

#endif /* SHMDB_LAYOUT_H */
