/*
 * report.h - the daemon's report (proto.h): per-session figures from the
 * session segments and the writer's ring states, and per-table versions
 * waiting for reclamation from the retire queue, written into a sealed
 * memfd for a client that asked with SHM_HELLO_REPORT. Main thread.
 */
#ifndef SHMDBD_REPORT_H
#define SHMDBD_REPORT_H

#include "retire.h"
#include "sessions.h"

/* report_make - the report now, in a new sealed memfd: *fd, 0; or -errno. */
int report_make(const struct session_registry *reg, const struct table_waiting *waiting,
		int *fd);

#endif /* SHMDBD_REPORT_H */
