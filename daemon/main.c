/*
 * main.c - shmdbd: parse the flags, take the instance lock, read the
 * topology, build and seal the store, start the writer, serve until SIGTERM
 * or SIGINT, then stop cleanly. Exit status: 0 after a clean stop, 2 for a
 * bad flag or value, 1 for any failure to start.
 */
#include <errno.h>
#include <inttypes.h>
#include <numa.h>
#include <stdio.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "shmdb.h"
#include "store.h"
#include "topology.h"
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

int main(int argc, char **argv)
{
	struct config cfg;
	char err[512];
	struct server srv;
	struct topology *topo = NULL;
	struct store st;
	struct writer wr;
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
		fprintf(stderr, "shmdbd: --numa-nodes: %s\n", err);
		topology_close(topo);
		return 2;
	}
	if (topology_writer_cpu(topo, nodes[0], cfg.writer_cpu, &writer_cpu, err, sizeof(err))) {
		fprintf(stderr, "shmdbd: --writer-cpu: %s\n", err);
		topology_close(topo);
		return 2;
	}
	topology_close(topo);
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
	e = writer_start(&wr, writer_cpu, cfg.writer_idle_us * 1000ull, &st, &srv.sessions);
	if (e) {
		fprintf(stderr, "shmdbd: writer thread on cpu %d: %s\n", writer_cpu, strerror(-e));
		return 1;
	}
	if (server_start(&srv, &st, err, sizeof(err))) {
		fprintf(stderr, "shmdbd: %s\n", err);
		writer_stop(&wr);
		return 1;
	}
	log_line("serving %s (pid %d, generation %" PRIu64 ")", cfg.socket_path,
		 (int)st.meta->daemon_pid, st.meta->generation);

	int sig = server_run(&srv);
	log_line("stopping on %s", sig ? strsignal(sig) : "an error");
	server_stop(&srv);
	writer_stop(&wr);
	session_registry_destroy(&srv.sessions);
	urcu_memb_unregister_thread();
	store_destroy(&st);
	log_line("stopped");
	return sig ? 0 : 1;
}
