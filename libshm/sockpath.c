/*
 * sockpath.c - where the daemon's socket lives when nobody says: the one rule
 * that shmdbd and every client apply, so that both meet with no flags.
 * Order: $SHMDB_SOCKET, then /run/shmdb/shmdb.sock for root, then
 * $XDG_RUNTIME_DIR/shmdb.sock, then /tmp/shmdb-<uid>/shmdb.sock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>
#include <unistd.h>

#include "shmdb.h"

_Static_assert(SHMDB_SOCKET_PATH_MAX == sizeof(((struct sockaddr_un *)0)->sun_path),
	       "a socket path buffer holds any UNIX socket path");

int shmdb_default_socket(char *buf, size_t cap)
{
	const char *env = getenv("SHMDB_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!buf)
		return -EINVAL;
	if (env && *env)
		n = snprintf(buf, cap, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, cap, "/run/shmdb/shmdb.sock");
	else if (xdg && *xdg)
		n = snprintf(buf, cap, "%s/shmdb.sock", xdg);
	else
		n = snprintf(buf, cap, "/tmp/shmdb-%u/shmdb.sock", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= cap || (size_t)n >= SHMDB_SOCKET_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}
