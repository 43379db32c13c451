/*
 * top_cmd.c - `shmdb top` (see stats_cmd.h): one screen of the store's
 * figures, redrawn every second, with rates over the second before
 * (commits, operations, the writer's busy share, sleeps, wake-ups, bytes
 * freed, each session's commits). On a terminal, keys are read unbuffered
 * and unechoed; q, Ctrl-C or the end of the input leaves, with the
 * terminal put back as it was.
 */
#include "stats_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "human.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Per second, from a to b over `ns`. */
static double rate(uint64_t a, uint64_t b, uint64_t ns)
{
	return ns && b >= a ? (double)(b - a) * 1e9 / (double)ns : 0.0;
}

static uint64_t session_commits(const shmdb_report *r, uint64_t id)
{
	for (size_t i = 0; r && i < r->nsessions; i++)
		if (r->sessions[i].id == id)
			return r->sessions[i].commits;
	return 0;
}

static void draw(const struct stats_view *p, const struct stats_view *v, FILE *out)
{
	const shmdb_stats *a = &p->st, *b = &v->st;
	uint64_t ns = v->taken_ns - p->taken_ns;
	char x[HUMAN_BYTES_LEN], y[HUMAN_BYTES_LEN], z[HUMAN_BYTES_LEN];
	static const char *const level[] = { "normal", "HIGH", "CRITICAL" };
	fprintf(out, "\033[H\033[2J");
	fprintf(out, "shmdb top - daemon pid %u, writer on cpu %d, commit %" PRIu64
		     "    (q or Ctrl-C to leave)\n\n", v->info.daemon_pid, v->info.writer_cpu,
		b->commit_ts);
	double busy = ns ? (double)(b->busy_ns - a->busy_ns) / (double)(b->writer_uptime_ns -
									 a->writer_uptime_ns) : 0;
	fprintf(out, "commits/s %12.0f    ops/s %12.0f    writer busy %5.1f%%\n",
		rate(a->commits, b->commits, ns), rate(a->ops, b->ops, ns),
		100.0 * (busy < 0 ? 0 : busy > 1 ? 1 : busy));
	fprintf(out, "sleeps/s  %12.0f    wakeups/s %10.0f    txns/pass %8.2f\n",
		rate(a->sleeps, b->sleeps, ns), rate(a->wakeups, b->wakeups, ns),
		b->work_passes > a->work_passes ? (double)(b->commits - a->commits) /
							  (double)(b->work_passes - a->work_passes) : 0);
	fprintf(out, "memory    %s of %s (%.1f%%), pressure %s; freed %s/s, %s retired, "
		     "%u snapshots\n", human_bytes(b->mem_used, x), human_bytes(b->mem_total, y),
		b->mem_total ? 100.0 * (double)b->mem_used / (double)b->mem_total : 0,
		level[b->pressure >= 0 && b->pressure <= 2 ? b->pressure : 0],
		human_bytes((uint64_t)rate(a->mem_freed, b->mem_freed, ns), z),
		human_bytes(b->mem_retired, x), b->snapshots);
	fprintf(out, "\n%-24s %12s %11s\n", "table", "records", "bytes");
	for (size_t i = 0; i < v->ntables && i < 12; i++)
		fprintf(out, "%-24s %12" PRIu64 " %11s\n", v->tables[i].name, v->tables[i].count,
			human_bytes(v->tables[i].bytes, x));
	fprintf(out, "\n%8s %8s %10s %12s %10s\n", "session", "pid", "commits/s", "ring depth",
		"ring full");
	for (size_t i = 0; i < v->report->nsessions && i < 16; i++) {
		const shmdb_session_info *s = &v->report->sessions[i];
		fprintf(out, "%8" PRIu64 " %8u %10.0f %12s %10" PRIu64 "\n", s->id, s->pid,
			rate(session_commits(p->report, s->id), s->commits, ns),
			human_bytes(s->ring_depth, x), s->ring_full);
	}
	fflush(out);
}

/* Wait up to 1 s for a key: 1 to leave (q, end of input, a signal). */
static int wait_key(void)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	int n = poll(&pfd, 1, 1000);
	if (interrupted)
		return 1;
	if (n <= 0)
		return 0;
	char c;
	ssize_t r = read(STDIN_FILENO, &c, 1);
	return r <= 0 || c == 'q' || c == 'Q';
}

int top_cmd(const char *socket_path)
{
	shmdb *db;
	int e = shmdb_open(socket_path, &db);
	if (e) {
		fprintf(stderr, "shmdb: %s: %s\n", socket_path, shmdb_strerror(e));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct termios saved, raw;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		raw = saved;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	struct stats_view views[2];
	int cur = 0, status = stats_take(db, &views[0]) ? 1 : 0;
	while (!status && !wait_key()) {
		int next = !cur;
		if (stats_take(db, &views[next])) {
			status = 1;
			break;
		}
		draw(&views[cur], &views[next], stdout);
		stats_release(&views[cur]);
		cur = next;
	}
	if (!status)
		stats_release(&views[cur]);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	shmdb_close(db);
	return status;
}
