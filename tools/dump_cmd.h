/*
 * dump_cmd.h - the shmdb tool's whole-store copies (dump_cmd.c):
 *
 *   shmdb dump [TABLE...]  one snapshot of the store, or of the tables
 *                       named, as a dump file (libshm/dumpfile.h) on
 *                       stdout (refused when it is a terminal)
 *   shmdb load [FILE]   the tables, records and indexes of a dump file
 *                       (FILE, or stdin) into the store: the whole file is
 *                       checked first, and nothing of a bad one applied
 *   shmdb backup DIR    a new data dir holding one snapshot as its
 *                       checkpoint: `shmdbd --data-dir DIR` starts from it
 *
 * Each returns the tool's exit status (0, or 1 with a message on stderr),
 * and draws a progress bar on stderr when stderr is a terminal.
 */
#ifndef SHMDB_TOOL_DUMP_CMD_H
#define SHMDB_TOOL_DUMP_CMD_H

#include <stddef.h>

#include "shmdb.h"

int dump_cmd_dump(shmdb *db, const char *const *tables, size_t ntables);
int dump_cmd_load(shmdb *db, const char *file);
int dump_cmd_backup(shmdb *db, const char *dir);

#endif /* SHMDB_TOOL_DUMP_CMD_H */
