/*
 * buf.h - growing a private byte buffer by doubling, for daemon and
 * clients alike: a client's write transaction as it is collected
 * (write.c), the writer's copy of one as it is reassembled (daemon/ring.c).
 * Private memory only: nothing here is shared between processes.
 */
#ifndef SHMDB_BUF_H
#define SHMDB_BUF_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * shm_buf_reserve - make *buf, of *cap bytes, hold at least `need` bytes.
 * An empty buffer (*cap 0, *buf NULL) gets the first of `first` (> 0),
 * 2 * first, 4 * first, ... bytes that holds `need`; a smaller one doubles
 * until it holds `need`. The bytes in the buffer are kept. Returns 0, or
 * -ENOMEM with *buf and *cap unchanged.
 */
static inline int shm_buf_reserve(uint8_t **buf, size_t *cap, size_t need, size_t first)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : first;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return -ENOMEM;
		c *= 2;
	}
	uint8_t *p = realloc(*buf, c);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = c;
	return 0;
}

#endif /* SHMDB_BUF_H */
