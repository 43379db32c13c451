/*
 * wal_format.c - encoding and checking the log's segment headers and
 * records (see wal_format.h). Checks are XXH3_64bits over every byte
 * before them; a reader takes nothing from a record whose check fails.
 */
#include "wal_format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

static const uint8_t magic[8] = { 'S', 'H', 'M', 'D', 'B', 'L', 'O', 'G' };

void wal_record_encode(uint8_t *dst, uint32_t kind, uint64_t ts, const uint8_t *payload,
		       size_t plen, const uint32_t *created, size_t ncreated)
{
	size_t len = wal_record_size(plen, ncreated);
	struct wal_record_head h = { .len = (uint32_t)len, .kind = kind, .commit_ts = ts,
				     .payload_len = (uint32_t)plen, .ncreated = (uint32_t)ncreated };
	memcpy(dst, &h, sizeof(h));
	size_t at = sizeof(h);
	if (plen)
		memcpy(dst + at, payload, plen);
	memset(dst + at + plen, 0, ((plen + 7) & ~(size_t)7) - plen);
	at += (plen + 7) & ~(size_t)7;
	if (ncreated)
		memcpy(dst + at, created, ncreated * 4);
	memset(dst + at + ncreated * 4, 0, ((ncreated * 4 + 7) & ~(size_t)7) - ncreated * 4);
	at += (ncreated * 4 + 7) & ~(size_t)7;
	uint64_t check = XXH3_64bits(dst, at);
	memcpy(dst + at, &check, 8);
}

void wal_header_encode(struct wal_segment_header *h, uint64_t seq, const uint8_t store_id[16],
		       uint64_t first_ts, uint64_t prev_ts)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, magic, sizeof(magic));
	h->version = WAL_VERSION;
	h->seq = seq;
	memcpy(h->store_id, store_id, 16);
	h->first_ts = first_ts;
	h->prev_ts = prev_ts;
	h->check = XXH3_64bits(h, offsetof(struct wal_segment_header, check));
}

int wal_header_check(const struct wal_segment_header *h)
{
	if (memcmp(h->magic, magic, sizeof(magic)) || h->version != WAL_VERSION ||
	    h->zero0 ||
	    h->check != XXH3_64bits(h, offsetof(struct wal_segment_header, check)))
		return -EBADMSG;
	return 0;
}

int wal_record_check(const uint8_t *buf, size_t avail, struct wal_record_head *head)
{
	if (avail < WAL_RECORD_HEAD + 8)
		return -EBADMSG;
	memcpy(head, buf, sizeof(*head));
	if (head->len % 8 || head->len < WAL_RECORD_HEAD + 8 || head->len > avail ||
	    head->kind < WAL_TXN || head->kind > WAL_TABLE_IDS ||
	    wal_record_size(head->payload_len, head->ncreated) != head->len)
		return -EBADMSG;
	uint64_t check;
	memcpy(&check, buf + head->len - 8, 8);
	return check == XXH3_64bits(buf, head->len - 8) ? 0 : -EBADMSG;
}

void wal_segment_name(char *out, size_t cap, uint64_t seq)
{
	snprintf(out, cap, "log-%016" PRIx64 ".shmlog", seq);
}
