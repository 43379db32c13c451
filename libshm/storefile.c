/*
 * storefile.c - the STORE file of a data dir and the checkpoints' names
 * (the format is in storefile.h). Pure encoding: no file is touched here.
 */
#include "storefile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

static const uint8_t store_magic[8] = { 'S', 'H', 'M', 'D', 'B', 'S', 'T', 'R' };

void shm_store_file_encode(uint8_t out[SHM_STORE_FILE_SIZE], const uint8_t store_id[16])
{
	uint32_t version = 1, zero = 0;
	memcpy(out, store_magic, 8);
	memcpy(out + 8, &version, 4);
	memcpy(out + 12, &zero, 4);
	memcpy(out + 16, store_id, 16);
	uint64_t check = XXH3_64bits(out, 32);
	memcpy(out + 32, &check, 8);
}

int shm_store_file_decode(const uint8_t *buf, size_t n, uint8_t store_id[16])
{
	if (n != SHM_STORE_FILE_SIZE)
		return -EBADMSG;
	uint64_t check;
	uint32_t version, zero;
	memcpy(&check, buf + 32, 8);
	memcpy(&version, buf + 8, 4);
	memcpy(&zero, buf + 12, 4);
	if (memcmp(buf, store_magic, 8) || version != 1 || zero || check != XXH3_64bits(buf, 32))
		return -EBADMSG;
	memcpy(store_id, buf + 16, 16);
	return 0;
}

void shm_checkpoint_name(char *out, size_t cap, uint64_t ts)
{
	snprintf(out, cap, "checkpoint-%016" PRIx64 ".shmck", ts);
}
