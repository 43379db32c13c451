/*
 * topology.c - hwloc-backed topology queries (see topology.h). Node numbers
 * are hwloc's NUMA-node OS indexes, the numbers libnuma and mbind(2) use;
 * cpu numbers are PU OS indexes, as in sched_setaffinity(2).
 */
#include "topology.h"

#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct topology {
	hwloc_topology_t topo;
};

int topology_open(const char *synthetic, struct topology **out, char *err, size_t errlen)
{
	struct topology *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (hwloc_topology_init(&t->topo) < 0) {
		free(t);
		snprintf(err, errlen, "hwloc_topology_init failed");
		return -ENOMEM;
	}
	if (synthetic && hwloc_topology_set_synthetic(t->topo, synthetic) < 0) {
		snprintf(err, errlen, "bad synthetic topology '%s'", synthetic);
		hwloc_topology_destroy(t->topo);
		free(t);
		return -EINVAL;
	}
	if (hwloc_topology_load(t->topo) < 0) {
		snprintf(err, errlen, "hwloc could not load the topology");
		hwloc_topology_destroy(t->topo);
		free(t);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

void topology_close(struct topology *t)
{
	if (!t)
		return;
	hwloc_topology_destroy(t->topo);
	free(t);
}

unsigned topology_node_count(const struct topology *t)
{
	int n = hwloc_get_nbobjs_by_type(t->topo, HWLOC_OBJ_NUMANODE);
	return n > 0 ? (unsigned)n : 1;
}

static hwloc_obj_t node_obj(const struct topology *t, int os_index)
{
	hwloc_obj_t o = NULL;
	while ((o = hwloc_get_next_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, o)))
		if ((int)o->os_index == os_index)
			return o;
	return NULL;
}

static int add_node(const struct topology *t, int node, int *nodes, unsigned max,
		    unsigned *n, char *err, size_t errlen)
{
	if (!node_obj(t, node)) {
		snprintf(err, errlen, "NUMA node %d does not exist (this machine has %u)",
			 node, topology_node_count(t));
		return -EINVAL;
	}
	for (unsigned i = 0; i < *n; i++) {
		if (nodes[i] == node) {
			snprintf(err, errlen, "NUMA node %d is listed twice", node);
			return -EINVAL;
		}
	}
	if (*n >= max) {
		snprintf(err, errlen, "more than %u NUMA nodes listed", max);
		return -EINVAL;
	}
	nodes[(*n)++] = node;
	return 0;
}

int topology_parse_nodes(const struct topology *t, const char *spec, int *nodes,
			 unsigned max, unsigned *n, char *err, size_t errlen)
{
	*n = 0;
	if (!strcmp(spec, "all")) {
		hwloc_obj_t o = NULL;
		while ((o = hwloc_get_next_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, o))) {
			int e = add_node(t, (int)o->os_index, nodes, max, n, err, errlen);
			if (e)
				return e;
		}
		return 0;
	}
	const char *p = spec;
	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi;
		if (end == p || lo < 0 || lo > 4095)
			goto bad;
		hi = lo;
		if (*end == '-') {
			p = end + 1;
			hi = strtol(p, &end, 10);
			if (end == p || hi < lo || hi > 4095)
				goto bad;
		}
		for (long v = lo; v <= hi; v++) {
			int e = add_node(t, (int)v, nodes, max, n, err, errlen);
			if (e)
				return e;
		}
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			goto bad;
		p = end;
	}
	if (*n)
		return 0;
bad:
	snprintf(err, errlen, "'%s' is not 'all' or a list of NUMA nodes such as 0,2-3", spec);
	return -EINVAL;
}

/* First PU of the last core whose PUs all lie in `set`, or -1. */
static int last_core_first_pu(const struct topology *t, hwloc_const_cpuset_t set)
{
	hwloc_obj_t core = NULL;
	int cpu = -1;
	while ((core = hwloc_get_next_obj_by_type(t->topo, HWLOC_OBJ_CORE, core))) {
		if (!hwloc_bitmap_intersects(core->cpuset, set))
			continue;
		hwloc_bitmap_t both = hwloc_bitmap_alloc();
		hwloc_bitmap_and(both, core->cpuset, set);
		cpu = hwloc_bitmap_first(both);
		hwloc_bitmap_free(both);
	}
	if (cpu < 0) /* no core objects: take the last PU */
		cpu = hwloc_bitmap_last(set);
	return cpu;
}

int topology_writer_cpu(const struct topology *t, int node, int requested, int *cpu,
			char *err, size_t errlen)
{
	hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(t->topo);
	if (requested >= 0) {
		if (!hwloc_bitmap_isset(allowed, (unsigned)requested)) {
			snprintf(err, errlen, "cpu %d does not exist or is not allowed here", requested);
			return -EINVAL;
		}
		*cpu = requested;
		return 0;
	}
	hwloc_obj_t o = node_obj(t, node);
	hwloc_bitmap_t near = hwloc_bitmap_alloc();
	if (o)
		hwloc_bitmap_and(near, o->cpuset, allowed);
	if (hwloc_bitmap_iszero(near))
		hwloc_bitmap_copy(near, allowed);
	int c = last_core_first_pu(t, near);
	hwloc_bitmap_free(near);
	if (c < 0) {
		snprintf(err, errlen, "no allowed cpu for the writer");
		return -EINVAL;
	}
	*cpu = c;
	return 0;
}

void topology_near_cpus(const struct topology *t, int node, int writer_cpu, uint64_t *mask,
			unsigned words)
{
	memset(mask, 0, words * sizeof(*mask));
	hwloc_obj_t o = node >= 0 ? node_obj(t, node) : NULL;
	if (!o && node >= 0)
		return;
	hwloc_bitmap_t near = hwloc_bitmap_alloc();
	hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(t->topo);
	if (o) /* node -1 (no NUMA support): the whole machine */
		hwloc_bitmap_and(near, o->cpuset, allowed);
	else
		hwloc_bitmap_copy(near, allowed);
	hwloc_obj_t pu = writer_cpu >= 0 ? hwloc_get_pu_obj_by_os_index(t->topo,
									 (unsigned)writer_cpu) : NULL;
	hwloc_obj_t core = pu ? hwloc_get_ancestor_obj_by_type(t->topo, HWLOC_OBJ_CORE, pu) : NULL;
	if (core)
		hwloc_bitmap_andnot(near, near, core->cpuset);
	else if (writer_cpu >= 0)
		hwloc_bitmap_clr(near, (unsigned)writer_cpu);
	int c;
	hwloc_bitmap_foreach_begin(c, near)
		if ((unsigned)c < words * 64u)
			mask[c / 64] |= 1ull << (c % 64);
	hwloc_bitmap_foreach_end();
	hwloc_bitmap_free(near);
}
