"""Scalar reference for zonelists: the rules of mm/page_alloc.c as plain loops over node ids.

Written the way the kernel code reads, independently of :mod:`numalab.zonelist`: a global-style
``node_load`` list indexed by node id (here a local variable of one rebuild), a ``used`` set, and
``find_next_best_node()`` that scans every candidate with the kernel's value formula on each
call. It is slow on purpose (O(n^3) for n nodes) and is the oracle the engine is tested against.

Functions mirror the kernel: :func:`find_next_best_node`, :func:`build_zonerefs_node`,
:func:`build_zonelists` (one node), :func:`build_all_zonelists` (``__build_all_zonelists``),
:func:`gfp_zone`, :func:`iterate` (``for_each_zone_zonelist_nodemask``).

Examples
--------
>>> import numpy as np
>>> from numalab.topology import Topology
>>> pages = np.zeros((3, 5), int); pages[[0, 2], 2] = 100
>>> t = Topology(name="d", node_ids=[0, 1, 2], distance=[[10, 20, 20], [20, 10, 20], [20, 20, 10]],
...              cpu_ids=[0, 1, 2], cpu_node=[0, 1, 2], present_pages=pages, managed_pages=pages)
>>> build_all_zonelists(t, "6.1")["order"][1], build_all_zonelists(t, "6.8")["order"][1]
([1, 2, 0], [2, 0])
"""
from __future__ import annotations

from ..errors import NumalabError
from ..kernel import profile

__all__ = ["PENALTY_FOR_NODE_WITH_CPUS", "find_next_best_node", "fallback_order", "build_zonerefs_node",
           "build_zonelists", "build_all_zonelists", "gfp_zone", "iterate"]

PENALTY_FOR_NODE_WITH_CPUS = 1
NUMA_NO_NODE = -1
INT_MAX = 2**31 - 1


class _Machine:
    """The kernel-visible facts of a topology, as plain Python dicts keyed by node id."""

    def __init__(self, topo, when):
        ids = [int(x) for x in topo.node_ids]
        self.ids = ids
        self.zone_types = list(topo.zone_types)
        self.nr_zones = len(self.zone_types)
        self.max_numnodes = 1 << topo.nodes_shift
        self.distance = {}
        for a in range(len(ids)):
            for b in range(len(ids)):
                self.distance[(ids[a], ids[b])] = int(topo.distance[a][b])
        self.online = [ids[i] for i in range(len(ids)) if bool(topo.online[i])]
        self.possible = [ids[i] for i in range(len(ids)) if bool(topo.possible[i])]
        self.n_memory = [ids[i] for i in range(len(ids)) if bool(topo.has_memory[i])]
        self.has_cpus = {}
        for i in range(len(ids)):
            # find_next_best_node() tests cpumask_of_node(n): the node's cpulist when recorded
            # (numa=fake= shares CPUs between fake nodes), else the N_CPU state
            if topo.cpumask is not None:
                cpus_in_mask = any(bool(x) for x in topo.cpumask[i]) and bool(topo.online[i])
            else:
                cpus_in_mask = bool(topo.has_cpu[i])
            self.has_cpus[ids[i]] = cpus_in_mask and when == "rebuild"
        self.present = {}
        self.managed = {}
        for i in range(len(ids)):
            for z in range(self.nr_zones):
                self.present[(ids[i], z)] = int(topo.present_pages[i][z])
                self.managed[(ids[i], z)] = int(topo.managed_pages[i][z])
        self.node_online = {ids[i]: bool(topo.online[i]) for i in range(len(ids))}


def find_next_best_node(m, node, used, node_load, k, scale, pool=None):
    """Next node of ``node``'s fallback order, or NUMA_NO_NODE; marks it in ``used``.

    The local node first (v6.8+: only if it has memory); then the N_MEMORY node, not yet used,
    with the smallest (distance + [n < node] + CPU penalty) * scale + node_load[n], the first
    (lowest id) on ties.

    ``pool`` (ascending node ids) replaces N_MEMORY for a build restricted to a cpuset's memory
    nodes (a design, not the kernel): the local node then comes first only if it is in ``pool``.
    """
    local_first = (node in m.n_memory or not k.skip_memoryless_local) if pool is None else node in pool
    if node not in used and local_first:
        used.add(node)
        return node
    min_val = INT_MAX
    best_node = NUMA_NO_NODE
    for n in m.n_memory if pool is None else pool:  # for_each_node_state(n, N_MEMORY): ascending ids
        if n in used:
            continue
        val = m.distance[(node, n)]
        if n < node:
            val += 1
        if m.has_cpus[n]:
            val += PENALTY_FOR_NODE_WITH_CPUS
        val *= scale
        val += node_load[n]
        if val > INT_MAX:
            raise NumalabError("value overflows the kernel's int", errno="EOVERFLOW", input=val)
        if val < min_val:
            min_val = val
            best_node = n
    if best_node >= 0:
        used.add(best_node)
    return best_node


def _zone_qualifies(m, nid, zone_type, k):
    if m.zone_types[zone_type] == "Device" or not m.node_online[nid]:
        return False
    if k.zone_qualifier == "populated":
        return m.present[(nid, zone_type)] > 0
    return m.managed[(nid, zone_type)] > 0


def build_zonerefs_node(m, nid, k, highest):
    """Zones of one node that qualify, highest zone type first; records check_highest_zone()."""
    out = []
    zone_type = m.nr_zones
    while zone_type > 0:
        zone_type -= 1
        if _zone_qualifies(m, nid, zone_type, k):
            out.append((nid, zone_type))
            if zone_type > highest[0] and m.zone_types[zone_type] != "Movable":
                highest[0] = zone_type
    return out


def fallback_order(m, local, node_load, k, pool=None):
    """``local``'s node order as build_zonelists() picks it, updating ``node_load`` as it goes
    (at every change of distance from ``local``: assigned, accumulated or counted, per
    release); ``pool`` as in :func:`find_next_best_node`."""
    nr_online = len(m.online)
    scale = m.max_numnodes * (nr_online if k.load_scale_online else 1)
    used = set()
    node_order = []
    load = nr_online
    prev = local
    while True:
        node = find_next_best_node(m, local, used, node_load, k, scale, pool)
        if node < 0:
            break
        if m.distance[(local, node)] != m.distance[(local, prev)]:
            if k.node_load == "assign":
                node_load[node] = load
            elif k.node_load == "accumulate":
                node_load[node] += load
            else:
                node_load[node] += 1
        node_order.append(node)
        prev = node
        load -= 1
    return node_order


def build_zonelists(m, local, node_load, k, zonelist_order, highest):
    """One node's fallback order and its FALLBACK and NOFALLBACK zonelists (build_zonelists())."""
    node_order = fallback_order(m, local, node_load, k)
    fallback = []
    if zonelist_order == "zone":
        zone_type = m.nr_zones
        while zone_type > 0:
            zone_type -= 1
            for node in node_order:
                for ref in build_zonerefs_node(m, node, k, highest):
                    if ref[1] == zone_type:
                        fallback.append(ref)
    else:
        for node in node_order:
            fallback.extend(build_zonerefs_node(m, node, k, highest))
    nofallback = build_zonerefs_node(m, local, k, highest)
    return node_order, fallback, nofallback


def build_all_zonelists(topo, kernel="current", when="boot", zonelist_order="node"):
    """Every node's zonelists as ``__build_all_zonelists()`` builds them.

    Returns
    -------
    dict
        ``order``, ``fallback``, ``nofallback`` (dicts keyed by node id; zonelists as lists of
        ``(node id, zone type)``), ``policy_zone`` (zone type index) and ``node_load_before``
        (node id -> node_load list by node index at the start of that node's build).
    """
    k = profile(kernel)
    if zonelist_order == "zone" and not k.zone_order_mode:
        raise NumalabError("zone order removed in v4.14", errno="EINVAL", input=zonelist_order)
    m = _Machine(topo, when)
    node_load = {}
    for nid in m.ids:  # memset(node_load, 0, ...)
        node_load[nid] = 0
    highest = [0]  # policy_zone starts at 0
    result = {"order": {}, "fallback": {}, "nofallback": {}, "node_load_before": {}}
    nodes = m.possible if k.build_possible_nodes else m.online  # for_each_node / for_each_online_node
    for nid in nodes:
        result["node_load_before"][nid] = [node_load[x] for x in m.ids]
        order, fb, nofb = build_zonelists(m, nid, node_load, k, zonelist_order, highest)
        result["order"][nid] = order
        result["fallback"][nid] = fb
        result["nofallback"][nid] = nofb
    result["policy_zone"] = highest[0]
    return result


def gfp_zone(bits, zone_types=("DMA", "DMA32", "Normal", "Movable", "Device")):
    """highest_zoneidx for the four zone-modifier bits (DMA 1, HIGHMEM 2, DMA32 4, MOVABLE 8)."""
    dma, highmem, dma32, movable = bits & 1, bits & 2, bits & 4, bits & 8
    if (dma and highmem) or (dma and dma32) or (highmem and dma32):
        raise NumalabError("invalid gfp zone modifiers", input=bits)
    if dma:
        name = "DMA"
    elif dma32:
        name = "DMA32"
    elif highmem and movable:
        name = "Movable"
    else:
        name = "Normal"
    if name not in zone_types:
        name = "Normal"
    return list(zone_types).index(name)


def iterate(zonelist, highest_zoneidx, nodemask=None):
    """Entries visited by for_each_zone_zonelist_nodemask(): zone <= highest, node in nodemask."""
    out = []
    for nid, zone_type in zonelist:  # next_zones_zonelist() until the terminator
        if zone_type > highest_zoneidx:
            continue
        if nodemask is not None and nid not in nodemask:
            continue
        out.append((nid, zone_type))
    return out
