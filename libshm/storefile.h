/*
 * storefile.h - the names and the STORE file of a data dir, shared by
 * shmdbd (which keeps the dir) and `shmdb backup` (which writes one a
 * shmdbd can start from).
 *
 * DIR/STORE, 40 bytes, little-endian, written once when the dir is new:
 *
 *   0  u8[8] magic "SHMDBSTR"
 *   8  u32 version (1)
 *  12  u32 0
 *  16  u8[16] store_id  random; every log segment and checkpoint carries it
 *  32  u64 check        XXH3_64bits of bytes 0..32
 *
 * Checkpoints are DIR/checkpoint-<commit ts, 16 hex digits>.shmck (the
 * dump format of dumpfile.h, flag SHM_DUMP_CHECKPOINT).
 */
#ifndef SHMDB_STOREFILE_H
#define SHMDB_STOREFILE_H

#include <stddef.h>
#include <stdint.h>

#define SHM_STORE_FILE_SIZE 40

/* Encode a STORE file for store_id into out. */
void shm_store_file_encode(uint8_t out[SHM_STORE_FILE_SIZE], const uint8_t store_id[16]);

/* Decode the n bytes of a STORE file into store_id: 0, or -EBADMSG (not
 * one, damaged, or of a version this build does not read). */
int shm_store_file_decode(const uint8_t *buf, size_t n, uint8_t store_id[16]);

/* The name of the checkpoint of commit ts, "checkpoint-%016llx.shmck". */
void shm_checkpoint_name(char *out, size_t cap, uint64_t ts);

#endif /* SHMDB_STOREFILE_H */
