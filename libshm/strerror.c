/*
 * strerror.c - names for the codes shmdb functions return: the store's own
 * codes (at or below SHMDB_ERR_BASE), each with the message its entry in
 * shmdb.h's SHMDB_ERRORS list gives it, and negative errno values; and the
 * names of page kinds.
 *
 * The list is checked here, when the library is built: every entry has a
 * non-empty message, and its offset lies in 1 .. SHMDB_ERR_COUNT; the switch
 * below admits no offset twice, so the codes fill SHMDB_ERR_FIRST ..
 * SHMDB_ERR_LAST without a gap.
 */
#include <string.h>

#include "shmdb.h"

/* Counted outside the list's expansion, which cannot expand it again. */
enum { ERR_COUNT = SHMDB_ERR_COUNT };

#define CHECK_ENTRY(name, offset, message)					\
	_Static_assert(sizeof(message) > 1, #name " has a message");		\
	_Static_assert((offset) >= 1 && (offset) <= ERR_COUNT,			\
		       #name " lies in SHMDB_ERR_FIRST .. SHMDB_ERR_LAST");
SHMDB_ERRORS(CHECK_ENTRY)
#undef CHECK_ENTRY

const char *shmdb_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define CASE(name, offset, message)						\
	case name:								\
		return message;
	SHMDB_ERRORS(CASE)
#undef CASE
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
