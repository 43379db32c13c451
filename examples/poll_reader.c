/*
 * poll_reader.c - a market-data consumer: poll one key, each time in a
 * fresh snapshot (shmdb_read_begin / shmdb_get / shmdb_read_end), and print
 * the value whenever it changes. Reads make no system call and take no
 * lock, so polling is cheap.
 *
 * To be self-contained it forks its own writer: a child process that
 * publishes a new price for the key every 10 ms (in real life that would
 * be another program, a feed handler). The reader stops once it has seen
 * N distinct values, and fails if that takes more than 10 seconds.
 *
 * Usage: example-poll_reader [SOCKET [N]]   (default N: 10)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shmdb.h>

#define TABLE "quotes"
#define KEY "EURUSD"
#define TIME_LIMIT_MS 10000
#define TICK_MS 10

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The writer, in the child. It never uses the parent's handle: a shmdb
 * handle does not cross fork(), so the child opens one of its own. It
 * publishes a tick every TICK_MS until the parent closes its end of the
 * pipe `stop_fd` (poll() doubles as the timer), or the time limit passes.
 */
static int run_writer(const char *socket_path, int stop_fd)
{
	shmdb *db = NULL;
	shmdb_table t;
	int err = shmdb_open(socket_path, &db);
	if (!err)
		err = shmdb_table_open(db, TABLE, SHMDB_CREATE, &t);
	if (err) {
		fprintf(stderr, "poll_reader (writer): open: %s\n", shmdb_strerror(err));
		shmdb_close(db); /* (NULL is fine) */
		return 1;
	}
	uint64_t deadline = now_ms() + TIME_LIMIT_MS;
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	for (int seq = 1; now_ms() < deadline; seq++) {
		char price[64];
		int len = snprintf(price, sizeof(price), "seq %d bid %.5f", seq, 1.08 + seq * 0.00001);
		shmdb_wtxn *w = NULL;
		err = shmdb_write_begin(db, &w);
		if (!err)
			err = shmdb_put(w, t, KEY, strlen(KEY), price, (size_t)len);
		if (!err)
			err = shmdb_commit(w, NULL);
		else
			shmdb_abort(w);
		if (err) {
			fprintf(stderr, "poll_reader (writer): commit: %s\n", shmdb_strerror(err));
			shmdb_close(db);
			return 1;
		}
		/* Wait a tick; readable (end of file) means the reader is done. */
		if (poll(&pfd, 1, TICK_MS) != 0)
			break;
	}
	shmdb_close(db);
	return 0;
}

int main(int argc, char **argv)
{
	const char *socket_path = argc > 1 ? argv[1] : NULL;
	int want = argc > 2 ? atoi(argv[2]) : 10;
	if (want < 1) {
		fprintf(stderr, "usage: %s [SOCKET [N >= 1]]\n", argv[0]);
		return 2;
	}

	shmdb *db = NULL;
	shmdb_table t;
	int err = shmdb_open(socket_path, &db);
	if (!err)
		err = shmdb_table_open(db, TABLE, SHMDB_CREATE, &t);
	if (err) {
		fprintf(stderr, "poll_reader: open: %s\n", shmdb_strerror(err));
		shmdb_close(db);
		return 1;
	}

	/* Forget the value a previous run left, so that we see only new ones. */
	shmdb_wtxn *w = NULL;
	err = shmdb_write_begin(db, &w);
	if (!err)
		err = shmdb_del(w, t, KEY, strlen(KEY));
	if (!err)
		err = shmdb_commit(w, NULL);
	else
		shmdb_abort(w);
	if (err) {
		fprintf(stderr, "poll_reader: delete: %s\n", shmdb_strerror(err));
		shmdb_close(db);
		return 1;
	}

	/* Start the writer. The pipe tells it when to stop: we close our
	 * write end (or die), and its poll() sees end of file. */
	int stop[2];
	if (pipe(stop) < 0) {
		perror("poll_reader: pipe");
		shmdb_close(db);
		return 1;
	}
	fflush(stdout); /* nothing buffered may be printed twice */
	pid_t writer = fork();
	if (writer < 0) {
		perror("poll_reader: fork");
		shmdb_close(db);
		return 1;
	}
	if (writer == 0) {
		close(stop[1]);
		_exit(run_writer(socket_path, stop[0]));
	}
	close(stop[0]);

	/* The polling loop. Each round takes a new snapshot, so it sees the
	 * latest commit; the value's bytes are copied out before
	 * shmdb_read_end, after which the view is no longer valid. */
	char last[256] = "";
	size_t last_len = 0;
	int seen = 0, failed = 0;
	uint64_t deadline = now_ms() + TIME_LIMIT_MS;
	while (seen < want) {
		if (now_ms() > deadline) {
			fprintf(stderr, "poll_reader: saw %d of %d values in %d ms\n", seen, want,
				TIME_LIMIT_MS);
			failed = 1;
			break;
		}
		shmdb_rtxn *r;
		shmdb_val v;
		err = shmdb_read_begin(db, &r);
		if (err) {
			fprintf(stderr, "poll_reader: shmdb_read_begin: %s\n", shmdb_strerror(err));
			failed = 1;
			break;
		}
		err = shmdb_get(r, t, KEY, strlen(KEY), &v);
		if (err == 0 && (v.len != last_len || memcmp(v.data, last, v.len) != 0)) {
			/* Changed: keep a copy and print it. */
			last_len = v.len < sizeof(last) ? v.len : sizeof(last);
			memcpy(last, v.data, last_len);
			seen++;
			printf("%s changed: %.*s (snapshot %llu)\n", KEY, (int)last_len, last,
			       (unsigned long long)shmdb_read_ts(r));
		}
		shmdb_read_end(r);
		if (err && err != -ENOENT) { /* -ENOENT: no value published yet */
			fprintf(stderr, "poll_reader: shmdb_get: %s\n", shmdb_strerror(err));
			failed = 1;
			break;
		}
		/* A real consumer may spin here; sleeping 50 us keeps this demo
		 * polite to the other processes on the machine. */
		struct timespec pause = { 0, 50000 };
		nanosleep(&pause, NULL);
	}

	/* Stop the writer and collect its exit status. */
	close(stop[1]);
	int status;
	if (waitpid(writer, &status, 0) != writer || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "poll_reader: the writer failed\n");
		failed = 1;
	}
	shmdb_close(db);
	if (!failed)
		printf("saw %d distinct values\n", seen);
	return failed;
}
