/*
 * topology.h - the machine's NUMA nodes and cores, from hwloc: which nodes
 * get an arena, and which core runs the writer.
 * A synthetic topology (hwloc's syntax, e.g. "pack:2 numa:1 core:4 pu:1")
 * stands in for the machine in tests.
 */
#ifndef SHMDBD_TOPOLOGY_H
#define SHMDBD_TOPOLOGY_H

#include <stddef.h>

struct topology;

/*
 * topology_open - load this machine's topology (synthetic NULL) or the
 * synthetic one described. Returns 0, or -EINVAL (bad description) or
 * -ENOMEM with a line in err.
 */
int topology_open(const char *synthetic, struct topology **out, char *err, size_t errlen);
void topology_close(struct topology *t);

/* Number of NUMA nodes (at least 1). */
unsigned topology_node_count(const struct topology *t);

/*
 * topology_parse_nodes - "all" (every node, ascending) or a list of node
 * numbers and ranges ("0,2-3") into nodes[]. Every node must exist, none may
 * repeat, at most `max`. Returns 0 with *n set, or -EINVAL with a line in err.
 */
int topology_parse_nodes(const struct topology *t, const char *spec, int *nodes,
			 unsigned max, unsigned *n, char *err, size_t errlen);

/*
 * topology_writer_cpu - the cpu for the writer thread. requested >= 0 must be
 * an allowed cpu. requested < 0 (auto) picks the first hardware thread of the
 * last core near `node`: core 0 is where interrupts and housekeeping usually
 * land, and the writer wants a core to itself. A node without cpus falls back
 * to the last allowed core anywhere. Returns 0 with *cpu set, or -EINVAL with
 * a line in err.
 */
int topology_writer_cpu(const struct topology *t, int node, int requested, int *cpu,
			char *err, size_t errlen);

#endif /* SHMDBD_TOPOLOGY_H */
