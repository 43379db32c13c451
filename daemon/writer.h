/*
 * writer.h - the single writer thread. It is started pinned to its cpu and
 * stopped at shutdown; applying transactions from the session rings comes
 * with the ring (until then it sleeps until stopped).
 */
#ifndef SHMDBD_WRITER_H
#define SHMDBD_WRITER_H

#include <pthread.h>
#include <stdint.h>

struct writer {
	pthread_t thread;
	int cpu;
	uint32_t stop; /* futex word: 0 running, 1 stop requested */
};

/*
 * writer_start - start the writer thread pinned to `cpu` (its affinity is set
 * before it runs). Returns 0 or -errno (-EINVAL for a cpu the kernel refuses).
 */
int writer_start(struct writer *w, int cpu);

/* writer_stop - ask the thread to stop, wake it, and join it. */
void writer_stop(struct writer *w);

#endif /* SHMDBD_WRITER_H */
