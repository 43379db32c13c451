/*
 * human.h - sizes for people: "512 B", "2.4 KiB", "16.0 MiB", "1 GiB" (a
 * whole number of the unit shows no decimals).
 */
#ifndef SHMDB_TOOL_HUMAN_H
#define SHMDB_TOOL_HUMAN_H

#include <stdint.h>

#define HUMAN_BYTES_LEN 24

/* b as text in buf (HUMAN_BYTES_LEN bytes); returns buf. */
const char *human_bytes(uint64_t b, char buf[HUMAN_BYTES_LEN]);

#endif /* SHMDB_TOOL_HUMAN_H */
