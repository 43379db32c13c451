/*
 * stats_cmd.c - `shmdb stats` (see stats_cmd.h): every figure of the store
 * as text for people (sizes human-readable), as JSON through cJSON (exact
 * bytes and counts), or in the Prometheus text format for a node-exporter
 * textfile collector. The figures are a moment's reading each; the
 * daemon's report costs one connection, the rest no system call.
 */
#include "stats_cmd.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "human.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int take_tables(shmdb *db, struct stats_view *v)
{
	shmdb_rtxn *r;
	size_t n = 0;
	int e = shmdb_read_begin(db, &r);
	if (e)
		return e;
	e = shmdb_tables(r, NULL, 0, &n);
	if (!e && n && !(v->tables = calloc(n, sizeof(*v->tables))))
		e = -ENOMEM;
	if (!e && n)
		e = shmdb_tables(r, v->tables, n, &n); /* the same snapshot: the same n */
	if (!e)
		v->ntables = n;
	shmdb_read_end(r);
	return e;
}

int stats_take(shmdb *db, struct stats_view *v)
{
	memset(v, 0, sizeof(*v));
	v->taken_ns = now_ns();
	int e = shmdb_info_get(db, &v->info);
	if (!e)
		e = shmdb_stats_get(db, &v->st);
	if (!e)
		e = shmdb_client_stats_get(db, &v->client);
	for (uint32_t i = 0; !e && i < v->info.arena_count && i < 64; i++)
		if (!(e = shmdb_arena_info_get(db, i, &v->arenas[i])))
			v->narenas = i + 1;
	if (!e)
		e = take_tables(db, v);
	if (!e)
		e = shmdb_report_get(db, &v->report);
	/* After the report: the daemon measured them for it. */
	for (uint32_t i = 0; !e && i < v->narenas; i++)
		e = shmdb_arena_huge_bytes(db, i, &v->huge_bytes[i]);
	if (e) {
		fprintf(stderr, "shmdb: stats: %s\n", shmdb_strerror(e));
		stats_release(v);
	}
	return e;
}

void stats_release(struct stats_view *v)
{
	free(v->tables);
	shmdb_report_free(v->report);
	v->tables = NULL;
	v->report = NULL;
}

static const char *pressure_name(int p)
{
	return p == SHMDB_PRESSURE_CRITICAL ? "critical" : p == SHMDB_PRESSURE_HIGH ? "high"
											: "normal";
}

static const char *kind_name(int flags)
{
	if (flags & SHMDB_ROWS)
		return flags & SHMDB_ORDERED ? "ordered-rows" : "rows";
	return flags & SHMDB_MULTI ? "multi" : flags & SHMDB_ORDERED ? "ordered" : "hash";
}

/* Arena a's huge pages as the daemon measured them (its bytes on huge
 * pages over the huge page's size: the arena's own, or 2 MiB for the
 * transparent ones of a 4 KiB arena). */
static uint64_t huge_pages(const struct stats_view *v, const shmdb_arena_info *a)
{
	bool hugetlb = a->page_kind == SHMDB_PAGES_2M || a->page_kind == SHMDB_PAGES_1G;
	uint64_t page = hugetlb && a->page_size ? a->page_size : 2u << 20;
	return v->huge_bytes[a->index] / page;
}

/* The versions waiting for table id, from the report. */
static const shmdb_table_waiting *waiting_of(const struct stats_view *v, shmdb_table id)
{
	for (size_t i = 0; i < v->report->ntables; i++)
		if (v->report->tables[i].id == id)
			return &v->report->tables[i];
	return NULL;
}

static const char *idle_name(int p)
{
	return p == SHMDB_IDLE_SPIN ? "spin" : p == SHMDB_IDLE_SLEEP ? "sleep" : "backoff";
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* ---- text ------------------------------------------------------------------ */

/* Per second of the writer's life: the rates a one-time look can give
 * (`shmdb top` shows them second by second). */
static double per_second(uint64_t n, const shmdb_stats *st)
{
	return st->writer_uptime_ns ? (double)n * 1e9 / (double)st->writer_uptime_ns : 0.0;
}

static void text_writer(const shmdb_stats *st, FILE *out)
{
	fprintf(out, "writer          %" PRIu64 " commits, %" PRIu64 " operations in %.1f s "
		     "(%.2f commits/s, %.2f operations/s); busy %.1f%%; %" PRIu64 " sleeps, %" PRIu64
		     " woken by clients\n",
		st->commits, st->ops, (double)st->writer_uptime_ns / 1e9,
		per_second(st->commits, st), per_second(st->ops, st),
		100.0 * ratio(st->busy_ns, st->writer_uptime_ns), st->sleeps, st->wakeups);
	fprintf(out, "  idle strategy %s; a wake-up takes %.1f us here\n", idle_name(st->idle_policy),
		(double)st->wake_ns / 1e3);
	fprintf(out, "  passes by transactions served (group commit):");
	for (unsigned i = 0; i < SHMDB_BATCH_BUCKETS; i++) {
		if (!st->batch[i])
			continue;
		if (i == 0)
			fprintf(out, " 1: %" PRIu64, st->batch[i]);
		else if (i + 1 < SHMDB_BATCH_BUCKETS)
			fprintf(out, " %u-%u: %" PRIu64, 1u << i, (2u << i) - 1, st->batch[i]);
		else
			fprintf(out, " %u+: %" PRIu64, 1u << i, st->batch[i]);
	}
	fprintf(out, "\n");
}

static void text_memory(const struct stats_view *v, FILE *out)
{
	const shmdb_stats *st = &v->st;
	char a[HUMAN_BYTES_LEN], b[HUMAN_BYTES_LEN], c[HUMAN_BYTES_LEN], d[HUMAN_BYTES_LEN];
	fprintf(out, "memory          %s of %s in use (%.1f%%); pressure %s (high at %u%%, "
		     "critical at %u%%, %" PRIu64 " commits refused)\n",
		human_bytes(st->mem_used, a), human_bytes(st->mem_total, b),
		100.0 * ratio(st->mem_used, st->mem_total), pressure_name(st->pressure),
		st->memory_high_pct, st->memory_critical_pct, st->pressure_refused);
	for (unsigned i = 0; i < v->narenas; i++) {
		const shmdb_arena_info *ar = &v->arenas[i];
		fprintf(out, "  arena %u       node %d, %s pages, %s of %s in use, %" PRIu64
			     " huge pages\n", ar->index, ar->numa_node,
			shmdb_page_kind_name(ar->page_kind), human_bytes(ar->used, a),
			human_bytes(ar->size, b), huge_pages(v, ar));
	}
	fprintf(out, "reclamation     %s retired (%s kept for snapshots), %s freed, %" PRIu64
		     " grace periods\n", human_bytes(st->mem_retired, a),
		human_bytes(st->mem_pinned, b), human_bytes(st->mem_freed, c), st->grace_periods);
	fprintf(out, "gathering       %" PRIu64 " record versions moved into cursor order, %" PRIu64
		     " passes%s\n", st->gathered, st->gather_passes,
		st->gathering ? "; a pass under way" : "");
	fprintf(out, "snapshots       %u held", st->snapshots);
	if (st->oldest_pid)
		fprintf(out, "; the oldest by pid %u for %.1f s, keeping %s alone",
			st->oldest_pid, (double)st->oldest_held_ns / 1e9,
			human_bytes(st->oldest_only_bytes, d));
	fprintf(out, "\n");
}

static void text_tables(const struct stats_view *v, FILE *out)
{
	fprintf(out, "tables          %zu\n", v->ntables);
	if (!v->ntables)
		return;
	fprintf(out, "  %-24s %-12s %12s %11s %10s %10s %11s\n", "name", "kind", "records",
		"bytes", "index load", "waiting", "(bytes)");
	for (size_t i = 0; i < v->ntables; i++) {
		const shmdb_table_info *t = &v->tables[i];
		const shmdb_table_waiting *w = waiting_of(v, t->id);
		char b[HUMAN_BYTES_LEN], wb[HUMAN_BYTES_LEN];
		fprintf(out, "  %-24s %-12s %12" PRIu64 " %11s %9.1f%% %10" PRIu64 " %11s\n",
			t->name, kind_name(t->flags), t->count, human_bytes(t->bytes, b),
			100.0 * ratio(t->index_used, t->index_slots), w ? w->versions : 0,
			human_bytes(w ? w->bytes : 0, wb));
	}
}

static void text_sessions(const struct stats_view *v, FILE *out)
{
	const shmdb_report *r = v->report;
	fprintf(out, "sessions        %zu\n", r->nsessions);
	if (!r->nsessions)
		return;
	fprintf(out, "  %8s %8s %10s %12s %10s %10s\n", "session", "pid", "commits",
		"ring depth", "ring full", "snapshots");
	for (size_t i = 0; i < r->nsessions; i++) {
		const shmdb_session_info *s = &r->sessions[i];
		char d[HUMAN_BYTES_LEN];
		fprintf(out, "  %8" PRIu64 " %8u %10" PRIu64 " %12s %10" PRIu64 " %10u%s\n", s->id,
			s->pid, s->commits, human_bytes(s->ring_depth, d), s->ring_full,
			s->snapshots, s->self ? "  (this tool)" : "");
	}
}

static void print_text(const struct stats_view *v, FILE *out)
{
	fprintf(out, "daemon          pid %u, generation %" PRIu64 ", writer on cpu %d\n",
		v->info.daemon_pid, v->info.generation, v->info.writer_cpu);
	fprintf(out, "commit ts       %" PRIu64 "\n", v->st.commit_ts);
	text_writer(&v->st, out);
	text_memory(v, out);
	text_tables(v, out);
	text_sessions(v, out);
}

/* ---- JSON ------------------------------------------------------------------ */

/* Counts and bytes as JSON numbers: exact up to 2^53, past any store here. */
static void num(cJSON *o, const char *name, double v)
{
	cJSON_AddNumberToObject(o, name, v);
}

static cJSON *json_writer(const shmdb_stats *st)
{
	cJSON *w = cJSON_CreateObject(), *batch = cJSON_CreateArray();
	num(w, "uptime_ns", (double)st->writer_uptime_ns);
	num(w, "commits", (double)st->commits);
	num(w, "ops", (double)st->ops);
	num(w, "commits_per_s", per_second(st->commits, st));
	num(w, "ops_per_s", per_second(st->ops, st));
	num(w, "work_passes", (double)st->work_passes);
	num(w, "busy_ns", (double)st->busy_ns);
	num(w, "busy_ratio", ratio(st->busy_ns, st->writer_uptime_ns));
	num(w, "sleeps", (double)st->sleeps);
	num(w, "wakeups", (double)st->wakeups);
	cJSON_AddStringToObject(w, "idle_policy", idle_name(st->idle_policy));
	num(w, "wake_ns", st->wake_ns);
	for (unsigned i = 0; i < SHMDB_BATCH_BUCKETS; i++)
		cJSON_AddItemToArray(batch, cJSON_CreateNumber((double)st->batch[i]));
	cJSON_AddItemToObject(w, "batch_pow2", batch);
	return w;
}

static cJSON *json_memory(const struct stats_view *v)
{
	const shmdb_stats *st = &v->st;
	cJSON *m = cJSON_CreateObject(), *arenas = cJSON_CreateArray();
	num(m, "used", (double)st->mem_used);
	num(m, "total", (double)st->mem_total);
	cJSON_AddStringToObject(m, "pressure", pressure_name(st->pressure));
	num(m, "high_pct", st->memory_high_pct);
	num(m, "critical_pct", st->memory_critical_pct);
	num(m, "pressure_refused", (double)st->pressure_refused);
	for (unsigned i = 0; i < v->narenas; i++) {
		const shmdb_arena_info *ar = &v->arenas[i];
		cJSON *a = cJSON_CreateObject();
		num(a, "index", ar->index);
		num(a, "node", ar->numa_node);
		cJSON_AddStringToObject(a, "pages", shmdb_page_kind_name(ar->page_kind));
		num(a, "page_size", ar->page_size);
		num(a, "size", (double)ar->size);
		num(a, "used", (double)ar->used);
		num(a, "huge_pages", (double)huge_pages(v, ar));
		num(a, "huge_bytes", (double)v->huge_bytes[ar->index]);
		cJSON_AddItemToArray(arenas, a);
	}
	cJSON_AddItemToObject(m, "arenas", arenas);
	return m;
}

static cJSON *json_reclamation(const shmdb_stats *st)
{
	cJSON *r = cJSON_CreateObject();
	num(r, "retired", (double)st->mem_retired);
	num(r, "pinned", (double)st->mem_pinned);
	num(r, "freed", (double)st->mem_freed);
	num(r, "grace_periods", (double)st->grace_periods);
	num(r, "snapshots", st->snapshots);
	num(r, "oldest_snapshot", (double)st->oldest_snapshot);
	num(r, "oldest_pid", st->oldest_pid);
	num(r, "oldest_held_ns", (double)st->oldest_held_ns);
	num(r, "oldest_only_bytes", (double)st->oldest_only_bytes);
	num(r, "gathered", (double)st->gathered);
	num(r, "gather_passes", (double)st->gather_passes);
	cJSON_AddBoolToObject(r, "gathering", st->gathering);
	return r;
}

static cJSON *json_tables(const struct stats_view *v)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < v->ntables; i++) {
		const shmdb_table_info *t = &v->tables[i];
		const shmdb_table_waiting *w = waiting_of(v, t->id);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", t->name);
		num(o, "id", t->id);
		cJSON_AddStringToObject(o, "kind", kind_name(t->flags));
		num(o, "records", (double)t->count);
		num(o, "bytes", (double)t->bytes);
		num(o, "index_slots", (double)t->index_slots);
		num(o, "index_used", (double)t->index_used);
		num(o, "index_load", ratio(t->index_used, t->index_slots));
		num(o, "waiting_versions", w ? (double)w->versions : 0);
		num(o, "waiting_bytes", w ? (double)w->bytes : 0);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *json_sessions(const shmdb_report *r)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < r->nsessions; i++) {
		const shmdb_session_info *s = &r->sessions[i];
		cJSON *o = cJSON_CreateObject();
		num(o, "id", (double)s->id);
		num(o, "pid", s->pid);
		num(o, "commits", (double)s->commits);
		num(o, "ring_depth", (double)s->ring_depth);
		num(o, "ring_size", (double)s->ring_size);
		num(o, "ring_full", (double)s->ring_full);
		num(o, "snapshots", s->snapshots);
		cJSON_AddBoolToObject(o, "self", s->self);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *json_durability(const shmdb_stats *st)
{
	static const char *const mode[] = { "none", "async", "sync" };
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "mode", mode[st->durability >= 0 && st->durability <= 2 ?
						 st->durability : 0]);
	num(d, "durable_ts", (double)st->durable_ts);
	num(d, "log_bytes", (double)st->log_bytes);
	num(d, "log_error", st->log_error);
	num(d, "writes_refused", (double)st->writes_refused);
	num(d, "checkpoint_ts", (double)st->checkpoint_ts);
	num(d, "checkpoint_bytes", (double)st->checkpoint_bytes);
	num(d, "checkpoints", (double)st->checkpoints);
	return d;
}

static int print_json(const struct stats_view *v, FILE *out)
{
	cJSON *root = cJSON_CreateObject(), *d = cJSON_CreateObject();
	num(d, "pid", v->info.daemon_pid);
	char gen[24]; /* an identity, past 2^53: as a string */
	snprintf(gen, sizeof(gen), "%" PRIu64, v->info.generation);
	cJSON_AddStringToObject(d, "generation", gen);
	num(d, "format_version", v->info.format_version);
	char id[33];
	for (int i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", v->info.store_id[i]);
	cJSON_AddStringToObject(d, "store_id", id);
	char started[24]; /* past 2^53: as a string, exact */
	snprintf(started, sizeof(started), "%" PRIu64, v->info.started_ns);
	cJSON_AddStringToObject(d, "started_ns", started);
	cJSON_AddBoolToObject(d, "running", v->info.running);
	num(d, "attached_sessions", v->info.sessions);
	num(d, "writer_cpu", v->info.writer_cpu);
	num(d, "commit_ts", (double)v->st.commit_ts);
	cJSON_AddItemToObject(root, "daemon", d);
	cJSON_AddItemToObject(root, "writer", json_writer(&v->st));
	cJSON_AddItemToObject(root, "memory", json_memory(v));
	cJSON_AddItemToObject(root, "reclamation", json_reclamation(&v->st));
	cJSON_AddItemToObject(root, "durability", json_durability(&v->st));
	cJSON_AddItemToObject(root, "tables", json_tables(v));
	cJSON_AddItemToObject(root, "sessions", json_sessions(v->report));
	char *s = cJSON_Print(root);
	cJSON_Delete(root);
	if (!s) {
		fprintf(stderr, "shmdb: stats: out of memory\n");
		return 1;
	}
	fprintf(out, "%s\n", s);
	cJSON_free(s);
	return 0;
}

/* ---- Prometheus ------------------------------------------------------------ */

static void prom_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP shmdb_%s %s\n# TYPE shmdb_%s %s\n", name, help, name, type);
}

static void prom(FILE *out, const char *name, const char *type, const char *help, double v)
{
	prom_head(out, name, type, help);
	fprintf(out, "shmdb_%s %.17g\n", name, v);
}

/* A label value with \, " and newline escaped, other bytes as they are. */
static void prom_label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void prom_tables(const struct stats_view *v, FILE *out)
{
	static const char *const name[] = { "table_records", "table_bytes", "table_index_load",
					    "table_waiting_versions", "table_waiting_bytes" };
	static const char *const help[] = {
		"Records (pairs, for a multimap) in the table.",
		"Arena bytes the table holds: its index, tree nodes and records.",
		"Slots of the table's hash index holding a key, over its slots.",
		"Replaced versions of the table waiting for reclamation.",
		"Bytes of those versions.",
	};
	for (unsigned m = 0; m < 5; m++) {
		prom_head(out, name[m], "gauge", help[m]);
		for (size_t i = 0; i < v->ntables; i++) {
			const shmdb_table_info *t = &v->tables[i];
			const shmdb_table_waiting *w = waiting_of(v, t->id);
			double x = m == 0 ? (double)t->count : m == 1 ? (double)t->bytes
				 : m == 2 ? ratio(t->index_used, t->index_slots)
				 : m == 3 ? (w ? (double)w->versions : 0) : (w ? (double)w->bytes : 0);
			fprintf(out, "shmdb_%s{table=\"", name[m]);
			prom_label(out, t->name);
			fprintf(out, "\",kind=\"%s\"} %.17g\n", kind_name(t->flags), x);
		}
	}
}

static void prom_sessions(const shmdb_report *r, FILE *out)
{
	static const char *const name[] = { "session_commits_total", "session_ring_depth_bytes",
					    "session_ring_full_total", "session_snapshots" };
	static const char *const type[] = { "counter", "gauge", "counter", "gauge" };
	static const char *const help[] = {
		"Transactions the writer completed for the session.",
		"Bytes submitted by the session not yet taken by the writer.",
		"Submissions of the session that found its ring full.",
		"Read transactions the session holds open.",
	};
	for (unsigned m = 0; m < 4; m++) {
		prom_head(out, name[m], type[m], help[m]);
		for (size_t i = 0; i < r->nsessions; i++) {
			const shmdb_session_info *s = &r->sessions[i];
			double x = m == 0 ? (double)s->commits : m == 1 ? (double)s->ring_depth
				 : m == 2 ? (double)s->ring_full : s->snapshots;
			fprintf(out, "shmdb_%s{session=\"%" PRIu64 "\",pid=\"%u\"} %.17g\n", name[m],
				s->id, s->pid, x);
		}
	}
}

static void prom_arenas(const struct stats_view *v, FILE *out)
{
	static const char *const name[] = { "arena_size_bytes", "arena_used_bytes",
					    "arena_huge_pages" };
	static const char *const help[] = { "Bytes of the arena.", "Bytes of the arena in use.",
					    "Huge pages backing the arena (0: 4K pages)." };
	for (unsigned m = 0; m < 3; m++) {
		prom_head(out, name[m], "gauge", help[m]);
		for (unsigned i = 0; i < v->narenas; i++) {
			const shmdb_arena_info *a = &v->arenas[i];
			double x = m == 0 ? (double)a->size : m == 1 ? (double)a->used
								 : (double)huge_pages(v, a);
			fprintf(out, "shmdb_%s{arena=\"%u\",node=\"%d\"} %.17g\n", name[m], a->index,
				a->numa_node, x);
		}
	}
}

static void print_prometheus(const struct stats_view *v, FILE *out)
{
	const shmdb_stats *st = &v->st;
	prom(out, "commits_total", "counter", "Transactions committed.", (double)st->commits);
	prom(out, "ops_total", "counter", "Operations applied by the writer.", (double)st->ops);
	prom(out, "writer_uptime_seconds", "gauge", "How long the writer thread has run.",
	     (double)st->writer_uptime_ns / 1e9);
	prom(out, "writer_busy_seconds_total", "counter",
	     "Time the writer spent in passes that found work.", (double)st->busy_ns / 1e9);
	prom(out, "writer_sleeps_total", "counter", "Times the writer parked.",
	     (double)st->sleeps);
	prom(out, "writer_wakeups_total", "counter", "Times a client's commit woke the writer.",
	     (double)st->wakeups);
	prom_head(out, "writer_passes_total", "counter",
		  "Writer passes that found work, by transactions served (from, a power of two).");
	for (unsigned i = 0; i < SHMDB_BATCH_BUCKETS; i++)
		fprintf(out, "shmdb_writer_passes_total{transactions_from=\"%u\"} %" PRIu64 "\n",
			1u << i, st->batch[i]);
	prom(out, "memory_used_bytes", "gauge", "Arena bytes in use.", (double)st->mem_used);
	prom(out, "memory_total_bytes", "gauge", "Arena bytes in all.", (double)st->mem_total);
	prom(out, "memory_pressure", "gauge", "Memory pressure: 0 normal, 1 high, 2 critical.",
	     st->pressure);
	prom(out, "memory_pressure_refused_total", "counter",
	     "Commits refused at critical memory pressure.", (double)st->pressure_refused);
	prom_arenas(v, out);
	prom(out, "reclaim_retired_bytes", "gauge", "Bytes retired, waiting for reclamation.",
	     (double)st->mem_retired);
	prom(out, "reclaim_pinned_bytes", "gauge", "Retired bytes a live snapshot still sees.",
	     (double)st->mem_pinned);
	prom(out, "reclaim_freed_bytes_total", "counter", "Bytes reclamation has freed.",
	     (double)st->mem_freed);
	prom(out, "reclaim_grace_periods_total", "counter", "Grace periods waited for.",
	     (double)st->grace_periods);
	prom(out, "gathered_versions_total", "counter",
	     "Record versions moved into cursor order while the writer was idle.",
	     (double)st->gathered);
	prom(out, "gather_passes_total", "counter", "Passes over a table finished.",
	     (double)st->gather_passes);
	prom(out, "gathering", "gauge", "1 while a pass over a table is under way or due.",
	     st->gathering);
	prom(out, "snapshots", "gauge", "Distinct snapshots held by readers.", st->snapshots);
	prom(out, "oldest_snapshot_age_seconds", "gauge",
	     "How long the oldest snapshot has been held.", (double)st->oldest_held_ns / 1e9);
	prom(out, "oldest_snapshot_pid", "gauge",
	     "The process holding the oldest snapshot (0: none held).", st->oldest_pid);
	prom(out, "sessions", "gauge", "Sessions attached.", (double)v->report->nsessions);
	prom(out, "log_bytes", "gauge", "Log bytes since the last checkpoint.",
	     (double)st->log_bytes);
	prom(out, "durable_lag_commits", "gauge", "Commits not yet on disk.",
	     st->durability && st->commit_ts > st->durable_ts
		     ? (double)(st->commit_ts - st->durable_ts) : 0);
	prom(out, "checkpoints_total", "counter", "Checkpoints written by this daemon.",
	     (double)st->checkpoints);
	prom_tables(v, out);
	prom_sessions(v->report, out);
}

int stats_cmd(const char *socket_path, enum stats_format fmt)
{
	shmdb *db;
	int e = shmdb_open(socket_path, &db);
	if (e) {
		fprintf(stderr, "shmdb: %s: %s\n", socket_path, shmdb_strerror(e));
		return 1;
	}
	struct stats_view v;
	int status = 1;
	if (stats_take(db, &v) == 0) {
		status = 0;
		if (fmt == STATS_JSON)
			status = print_json(&v, stdout);
		else if (fmt == STATS_PROMETHEUS)
			print_prometheus(&v, stdout);
		else
			print_text(&v, stdout);
		stats_release(&v);
	}
	shmdb_close(db);
	return status;
}
