/*
 * topology.h - the machine's NUMA nodes and cores, from hwloc: which nodes
 * get an arena, and which core runs the writer.
 * A synthetic topology (hwloc's syntax, e.g. "pack:2 numa:1 core:4 pu:1")
 * stands in for the machine in tests.
 */
#ifndef SHMDBD_TOPOLOGY_H
#define SHMDBD_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

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

/*
 * topology_near_cpus - the allowed cpus of NUMA node `node`, all hardware
 * threads of the core that runs cpu `writer_cpu` left out (a reader pinned
 * there would share the writer's core), as a bitmask of `words` 64-bit
 * words (cpu c: bit c % 64 of word c / 64; cpus past the mask are left
 * out). Empty if the node has no other cpu; node -1 (a kernel without NUMA
 * support): the whole machine's cpus.
 */
void topology_near_cpus(const struct topology *t, int node, int writer_cpu, uint64_t *mask,
			unsigned words);

#endif /* SHMDBD_TOPOLOGY_H */
