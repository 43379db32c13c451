/*
 * main.c - shmdbd: read the settings, take the instance lock, read the
 * topology, build and seal the store, bring back what the data dir holds
 * (durability async or sync), start the writer, the log and the
 * checkpointer, serve until SIGTERM or SIGINT, then stop cleanly. The
 * socket appears only once the store is whole. Exit status: 0 after a
 * clean stop, 2 for a bad flag or value, 1 for any failure to start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <numa.h>
#include <stdio.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "checkpoint.h"
#include "clock.h"
#include "config.h"
#include "datadir.h"
#include "log.h"
#include "notify.h"
#include "restore.h"
#include "server.h"
#include "shmdb.h"
#include "store.h"
#include "topology.h"
#include "wal_format.h"
#include "writer.h"

static void log_store(const struct store *st, int writer_cpu)
{
	for (unsigned i = 0; i < st->arena_count; i++) {
		const struct arena_plan *p = &st->plan[i];
		log_line("arena %u: %" PRIu64 " MiB on node %d, %s pages (%s)", i, p->size >> 20,
			 p->node, shmdb_page_kind_name(p->page_kind), p->note);
	}
	log_line("writer thread pinned to cpu %d", writer_cpu);
}

/*
 * The data dir: lock it, load the newest checkpoint and replay the log
 * into the writer's core, open the log for new records, finish the index
 * builds the replay left (their ends logged), and have the checkpointer
 * ready. Main thread, before the writer thread runs.
 */
/* Log the WAL_TABLE_IDS record of this run, if its ids moved. */
static int log_table_ids(const struct restore_result *res, struct core *c)
{
	uint8_t *payload;
	size_t len;
	int e = restore_table_ids(res, c, &payload, &len);
	if (!e && len && !(e = c->log.reserve(c->log.ctx, len, 0)))
		c->log.append(c->log.ctx, WAL_TABLE_IDS, c->applied_ts, payload, len, NULL, 0);
	free(payload);
	return e;
}

/* Undo durable_start, with the writer stopped or not yet started: the
 * checkpointer's and the log's threads joined (they use dd, wal and ck,
 * in main's frame), the log flushed and closed, the dir's lock let go. */
static void durable_stop(struct datadir *dd, struct wal *wal, struct checkpointer *ck)
{
	checkpointer_stop(ck);
	wal_close(wal);
	datadir_close(dd);
}

static int durable_start(const struct config *cfg, struct datadir *dd, struct writer *wr,
			 struct wal *wal, struct checkpointer *ck, char *err, size_t errlen)
{
	struct restore_result res;
	uint64_t t0 = shm_now_ns();
	int e = datadir_open(dd, cfg->data_dir, err, errlen);
	if (e)
		return e;
	urcu_memb_read_lock();
	e = restore_run(&wr->core, dd, cfg, &res, err, errlen);
	urcu_memb_read_unlock();
	if (!e)
		e = wal_open(wal, dd->fd, dd->store_id, res.next_seq, res.tail_off, res.tail_size,
			     res.last_ts, res.segs,
			     res.nsegs, cfg, wr->store->meta, err, errlen);
	free(res.segs);
	if (e) {
		free(res.map);
		datadir_close(dd);
		return e;
	}
	e = checkpointer_start(ck, dd, wal, wr->store->meta, cfg->socket_path,
			       cfg->checkpoint_every, res.run, err, errlen);
	if (e) {
		free(res.map);
		wal_close(wal);
		datadir_close(dd);
		return e;
	}
	writer_attach_log(wr, wal, ck);
	/* Before any record of this run (the builds' below too): the ids it
	 * gave the tables, if they moved. */
	e = log_table_ids(&res, &wr->core);
	free(res.map);
	if (e) {
		snprintf(err, errlen, "the log cannot be written: %s", shmdb_strerror(e));
		durable_stop(dd, wal, ck);
		return e;
	}
	urcu_memb_read_lock();
	while (fill_pending(&wr->core.fill))
		fill_step(&wr->core);
	urcu_memb_read_unlock();
	if ((e = wal_flush(wal))) {
		snprintf(err, errlen, "the log cannot be written: %s", strerror(-e));
		durable_stop(dd, wal, ck);
		return e;
	}
	core_publish(&wr->core);
	__atomic_store_n(&wr->store->meta->checkpoint_bytes, res.checkpoint_bytes, __ATOMIC_RELAXED);
	double s = (double)(shm_now_ns() - t0) / 1e9;
	if (dd->created)
		log_line("data dir %s: a new store, durability %s", cfg->data_dir,
			 durability_name(cfg->durability));
	else
		log_line("data dir %s: %" PRIu64 " records from the checkpoint of commit %" PRIu64
			 " and %" PRIu64 " log records replayed in %.2f s (%.0f records/s); "
			 "durability %s",
			 cfg->data_dir, res.records, res.checkpoint_ts, res.replayed, s,
			 s > 0 ? (double)(res.records + res.replayed) / s : 0.0,
			 durability_name(cfg->durability));
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	struct server srv;
	struct topology *topo = NULL;
	struct store st;
	struct writer wr;
	struct datadir dd;
	struct wal wal;
	struct checkpointer ck;
	int nodes[SHM_MAX_ARENAS];
	unsigned nnodes;
	int writer_cpu;

	switch (config_parse(&cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_EXIT:
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "shmdbd: %s\n", err);
		return 2;
	case CONFIG_RUN:
		break;
	}
	if (topology_open(NULL, &topo, err, sizeof(err)) ||
	    topology_parse_nodes(topo, cfg.numa_nodes, nodes, SHM_MAX_ARENAS, &nnodes,
				 err, sizeof(err))) {
		char where[4200];
		config_origin_name(&cfg, SET_NUMA_NODES, where, sizeof(where));
		fprintf(stderr, "shmdbd: %s: %s\n", where, err);
		topology_close(topo);
		return 2;
	}
	if (topology_writer_cpu(topo, nodes[0], cfg.writer_cpu, &writer_cpu, err, sizeof(err))) {
		char where[4200];
		config_origin_name(&cfg, SET_WRITER_CPU, where, sizeof(where));
		fprintf(stderr, "shmdbd: %s: %s\n", where, err);
		topology_close(topo);
		return 2;
	}
	if (numa_available() < 0) {
		log_line("the kernel has no NUMA support: arenas are not bound to a node");
		for (unsigned i = 0; i < nnodes; i++)
			nodes[i] = -1;
	}

	if (server_lock(&srv, &cfg, err, sizeof(err))) {
		fprintf(stderr, "shmdbd: %s\n", err);
		return 1;
	}
	urcu_memb_register_thread();
	if (store_build(&st, &cfg, nodes, nnodes, writer_cpu, err, sizeof(err))) {
		fprintf(stderr, "shmdbd: %s\n", err);
		return 1;
	}
	/* The cpus near each arena's node, for readers to pin to (hwloc's,
	 * with the writer's core left out). */
	for (unsigned i = 0; i < st.arena_count; i++)
		topology_near_cpus(topo, st.plan[i].node, writer_cpu, st.meta->near_cpus[i],
				   SHM_CPU_WORDS);
	topology_close(topo);
	log_store(&st, writer_cpu);
	if (server_block_signals(&srv, err, sizeof(err))) {
		fprintf(stderr, "shmdbd: %s\n", err);
		return 1;
	}
	int e = session_registry_init(&srv.sessions, WRITER_SESSION_STATE_SIZE,
				       writer_session_state_free);
	if (e) {
		fprintf(stderr, "shmdbd: session registry: %s\n", strerror(-e));
		return 1;
	}
	struct writer_settings ws = {
		.cpu = writer_cpu,
		.idle_policy = cfg.writer_idle,
		.idle_ns = cfg.writer_idle_us * 1000ull,
		.memory_high_pct = cfg.memory_high_pct,
		.memory_critical_pct = cfg.memory_critical_pct,
	};
	e = writer_init(&wr, &ws, &st, &srv.sessions);
	if (e) {
		fprintf(stderr, "shmdbd: writer on cpu %d: %s\n", writer_cpu, strerror(-e));
		return 1;
	}
	bool durable = cfg.durability != DURABILITY_NONE;
	if (durable && (durable_start(&cfg, &dd, &wr, &wal, &ck, err, sizeof(err)))) {
		fprintf(stderr, "shmdbd: %s\n", err);
		/* The grace thread waits on wr, in this frame: joined before
		 * the frame goes, or exit's own use of the stack may meet its
		 * stores (a refused start once crashed in _dl_fini so). */
		writer_destroy(&wr);
		return 1;
	}
	srv.waiting = wr.retired.waiting;
	e = writer_run(&wr);
	if (e) {
		fprintf(stderr, "shmdbd: writer thread on cpu %d: %s\n", writer_cpu, strerror(-e));
		if (durable)
			durable_stop(&dd, &wal, &ck);
		return 1;
	}
	if (server_start(&srv, &st, err, sizeof(err))) {
		fprintf(stderr, "shmdbd: %s\n", err);
		writer_stop(&wr);
		if (durable)
			durable_stop(&dd, &wal, &ck);
		return 1;
	}
	if (durable && (e = wal_start(&wal, checkpointer_tick, &ck))) {
		fprintf(stderr, "shmdbd: log thread: %s\n", strerror(-e));
		server_stop(&srv);
		writer_stop(&wr);
		durable_stop(&dd, &wal, &ck);
		return 1;
	}
	log_line("serving %s (pid %d, generation %" PRIu64 ")", cfg.socket_path,
		 (int)st.meta->daemon_pid, st.meta->generation);
	if ((e = notify_manager("READY=1")))
		log_line("NOTIFY_SOCKET: readiness not sent: %s", strerror(-e));

	int sig = server_run(&srv);
	log_line("stopping on %s", sig ? strsignal(sig) : "an error");
	notify_manager("STOPPING=1");
	server_stop(&srv);
	writer_stop(&wr);
	if (durable)
		durable_stop(&dd, &wal, &ck);
	session_registry_destroy(&srv.sessions);
	urcu_memb_unregister_thread();
	store_destroy(&st);
	log_line("stopped");
	return sig ? 0 : 1;
}
