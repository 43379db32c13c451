/*
 * strerror.c - names for the codes shmdb functions return: the store's own
 * codes (at or below SHMDB_ERR_BASE) and negative errno values.
 */
#include <string.h>

#include "shmdb.h"

const char *shmdb_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case SHMDB_EVERSION:
		return "store format version or magic not understood by this library";
	case SHMDB_EPROTO:
		return "malformed answer from the daemon";
	case SHMDB_EREFUSED:
		return "the daemon does not admit this user";
	case SHMDB_ENODAEMON:
		return "no shmdbd is serving that socket";
	case SHMDB_ESHUTDOWN:
		return "the daemon has shut down";
	}
	if (err < 0 && err > SHMDB_ERR_BASE)
		return strerrordesc_np(-err) ? strerrordesc_np(-err) : "unknown error";
	return "unknown error";
}

const char *shmdb_page_kind_name(uint32_t page_kind)
{
	switch (page_kind) {
	case SHMDB_PAGES_4K:
		return "4K";
	case SHMDB_PAGES_4K_THP:
		return "4K+THP";
	case SHMDB_PAGES_2M:
		return "2M";
	case SHMDB_PAGES_1G:
		return "1G";
	}
	return "?";
}
