"""Scalar reference for :mod:`numalab.cost`: the byte model as plain loops over cpusets and nodes.

Examples
--------
>>> per, total = cpuset_bytes(10, 5, {0: 3, 1: 1}, [0, 1], [{"mems": {1}, "starts": {0, 1}}],
...                           dict(softwall="ancestor", nofallback="cpuset", nodes="all", size="exact", shared=False))
>>> per, total
([176], 176)
"""
from __future__ import annotations

__all__ = ["zonelist_bytes", "cpuset_bytes", "today_bytes"]


def zonelist_bytes(nodes_shift, nr_zones, entries=None):
    """16 bytes per zoneref, plus the terminator; static lists hold MAX_NUMNODES * MAX_NR_ZONES."""
    if entries is None:
        entries = (1 << nodes_shift) * nr_zones
    return 16 * (entries + 1)


def today_bytes(nodes_shift, nr_zones, possible):
    total = 0
    for _ in possible:                      # every possible node's pgdat: FALLBACK + NOFALLBACK
        total += 2 * zonelist_bytes(nodes_shift, nr_zones)
    return total


def cpuset_bytes(nodes_shift, nr_zones, zones, possible, cpusets, d):
    """Bytes per cpuset and their sum. ``zones``: populated zones per node id; each cpuset has
    ``mems`` (node ids) and ``starts`` (its CPU nodes, used with ``nodes="start"``)."""
    every_node_zones = sum(zones.values())
    seen = set()
    per = []
    for cs in cpusets:
        starts = list(possible) if d["nodes"] == "all" else [s for s in possible if s in cs["starts"]]
        key = (frozenset(cs["mems"]), frozenset(starts))
        size = 8                                            # the cpuset's pointer to its list set
        if d["shared"] and key in seen:
            per.append(size)
            continue
        seen.add(key)
        size += 24                                          # rcu_head + refcount_t
        for s in starts:
            if d["size"] == "static":
                size += 8 + zonelist_bytes(nodes_shift, nr_zones)
            else:
                size += 8 + zonelist_bytes(nodes_shift, nr_zones, sum(zones[m] for m in cs["mems"]))
            if d["nofallback"] == "cpuset":
                if d["size"] == "static":
                    size += 8 + zonelist_bytes(nodes_shift, nr_zones)
                else:
                    size += 8 + zonelist_bytes(nodes_shift, nr_zones, zones[s] if s in cs["mems"] else 0)
            if d["softwall"] == "first":
                if d["size"] == "static":
                    size += 8 + zonelist_bytes(nodes_shift, nr_zones)
                else:
                    size += 8 + zonelist_bytes(nodes_shift, nr_zones, every_node_zones)
        per.append(size)
    return per, sum(per)
