"""Scalar reference for candidate zones: one request at a time, the kernel's rules as if/else.

Independent of :mod:`numalab.candidates`: system zonelists come from
:func:`numalab.reference.zonelist.build_all_zonelists`, the per-node cpuset decision from
:func:`numalab.reference.cpuset.node_allowed`, and per-cpuset rebuilt lists from this module's
own loop over ``find_next_best_node`` restricted to the cpuset's nodes. Node ids and Python sets
throughout.

:func:`today` follows ``__alloc_pages`` (fast path: ``prepare_alloc_pages`` forcing
``__GFP_HARDWALL`` and substituting ``mems_allowed`` for a NULL nodemask in task context, else
``ALLOC_CPUSET``) and ``__alloc_pages_slowpath`` (the caller's gfp with ``ALLOC_CPUSET``;
``GFP_ATOMIC`` clears it and OOM victims get reserves, both dropping the nodemask; ``nopage``
when the nodemask has no zone, or with ``cpusets_insane_config``). :func:`proposal` walks a
design's per-cpuset lists with no per-zone check.

Examples
--------
>>> import numpy as np
>>> from numalab.topology import Topology
>>> pages = np.zeros((2, 5), int); pages[:, 2] = 100
>>> t = Topology(name="two", node_ids=[0, 1], distance=[[10, 20], [20, 10]], cpu_ids=[0, 1],
...              cpu_node=[0, 1], present_pages=pages, managed_pages=pages)
>>> r = dict(mems={1}, hardwall_mems={0, 1}, cpu=0, mode="local", nodes=set(), gfp="GFP_KERNEL",
...          context="task", enabled=True)
>>> today(t, "6.12", r)
([(1, 2)], [(0, 2), (1, 2)])
"""
from __future__ import annotations

from . import cpuset as rcs
from . import zonelist as rzl
from ..kernel import profile

__all__ = ["GFP", "today", "proposal", "rebuilt_order"]

#: name -> (zone modifier bits, __GFP_HARDWALL, non-blocking __GFP_HIGH)
GFP = {"GFP_KERNEL": (0, False, False), "GFP_USER": (0, True, False), "GFP_HIGHUSER": (2, True, False),
       "GFP_HIGHUSER_MOVABLE": (10, True, False), "GFP_ATOMIC": (0, False, True),
       "GFP_NOWAIT": (0, False, False), "GFP_NOIO": (0, False, False), "GFP_NOFS": (0, False, False),
       "GFP_DMA32": (4, False, False), "GFP_TRANSHUGE": (10, True, False),
       "GFP_TRANSHUGE_LIGHT": (10, True, False)}

_CACHE = {}


def _system(topo, kernel):
    key = (id(topo), kernel)
    if key not in _CACHE:
        _CACHE[key] = (topo, rzl.build_all_zonelists(topo, kernel, "boot"))
    return _CACHE[key][1]


def _gfp(name, topo):
    parts = [p.strip().upper() for p in name.split("|")]
    thisnode = "__GFP_THISNODE" in parts
    base = [p for p in parts if p != "__GFP_THISNODE"][0]
    bits, hard, atomic = GFP[base]
    return rzl.gfp_zone(bits, tuple(topo.zone_types)), hard, thisnode, atomic


def _facts(topo):
    ids = [int(x) for x in topo.node_ids]
    mem = {ids[i] for i in range(len(ids)) if topo.has_memory[i]}
    high = {ids[i] for i in range(len(ids)) if topo.has_normal_memory[i]}
    return ids, mem, high


def _policy(r, topo, built, hz, thisnode, irq, second=False):
    """policy_nodemask()/policy_node(): (start node id, nodemask or None).

    PREFERRED_MANY (``alloc_pages_preferred_many``): the first pass passes the policy's nodes
    from the local node, the second (``second=True``) a NULL nodemask from the same node.
    """
    ids, mem, high = _facts(topo)
    if irq or thisnode or r["mode"] == "local":
        return r["cpu"], None
    if r["mode"] == "preferred":
        return min(r["nodes"]), None
    if r["mode"] == "preferred_many":
        return r["cpu"], (None if second else set(r["nodes"]))
    # BIND: apply_policy_zone, then the intersection with mems_allowed
    zone_types = list(topo.zone_types)
    movable = zone_types.index("Movable") if "Movable" in zone_types else len(zone_types)
    dynamic = built["policy_zone"] if (r["nodes"] & high) else movable
    if hz < dynamic:
        return r["cpu"], None
    if r["enabled"] and not (r["nodes"] & r["mems"]):
        return r["cpu"], None
    return r["cpu"], set(r["nodes"])


def _zonelist(built, start, thisnode):
    return built["nofallback" if thisnode else "fallback"].get(start, [])


def _first_zone(zonelist, hz, nodemask):
    return rzl.iterate(zonelist, hz, nodemask)[:1]


def _insane(k, r, topo, zonelist, hz, hard, irq):
    """cpusets_insane_config (v5.16+): a hardwall request whose cpuset has no zone <= hz fails."""
    if not (k.cpusets_insane_config and r["enabled"] and hard and not irq):
        return False
    _, mem, high = _facts(topo)
    movable_only = mem - high
    if not r["mems"] <= movable_only:          # the static key: this cpuset is movable-only
        return False
    return not _first_zone(zonelist, hz, r["mems"])


def today(topo, kernel, r, second=False):
    """``(fast, slow)`` zones ``[(node id, zone type), ...]`` of one request today.

    ``r``: ``mems`` (task mems_allowed), ``hardwall_mems`` (nearest hardwall ancestor's mems),
    ``cpu`` (node id), ``mode`` (local/preferred/bind/preferred_many), ``nodes`` (set), ``gfp``
    (name), ``context`` (task, oom_victim, exiting, interrupt), ``enabled`` (cpusets_enabled()).
    ``second``: the second ``__alloc_pages`` call of a PREFERRED_MANY request (the first drops
    ``__GFP_DIRECT_RECLAIM``, which changes no candidate: it only ends the slow path earlier).
    """
    k = profile(kernel)
    built = _system(topo, kernel)
    hz, hard, thisnode, atomic = _gfp(r["gfp"], topo)
    ctx = r["context"]
    irq, oom, exiting = ctx == "interrupt", ctx == "oom_victim", ctx == "exiting"
    start, nodemask = _policy(r, topo, built, hz, thisnode, irq, second)
    zonelist = _zonelist(built, start, thisnode)
    ids, _, _ = _facts(topo)

    def allowed(node, gfp_hardwall):
        if not r["enabled"]:
            return True
        return rcs.node_allowed(node, r["mems"], r["hardwall_mems"], in_interrupt=irq,
                                gfp_hardwall=gfp_hardwall, oom_victim=oom, exiting=exiting)

    # fast path
    fast = []
    # before v5.9 the substitution also happened in interrupt context (the interrupted task's mems)
    if r["enabled"] and (not irq or k.irq_mems_substitution) and nodemask is None:
        fast = rzl.iterate(zonelist, hz, r["mems"])           # nodemask = &current->mems_allowed
    else:
        for nid, z in rzl.iterate(zonelist, hz, nodemask):
            if allowed(nid, True):                              # ALLOC_CPUSET, __GFP_HARDWALL forced
                fast.append((nid, z))
    # slow path
    def slowpath(nodemask):
        if not _first_zone(zonelist, hz, nodemask):
            return set()                                        # nopage
        if _insane(k, r, topo, zonelist, hz, hard, irq):
            return set()
        seen = set()
        alloc_cpuset = not atomic
        for nid, z in rzl.iterate(zonelist, hz, nodemask):    # first attempt
            if not alloc_cpuset or allowed(nid, hard):
                seen.add((nid, z))
        if not alloc_cpuset or oom:                             # nodemask dropped, no cpuset check
            for nid, z in rzl.iterate(zonelist, hz, None):
                seen.add((nid, z))
        return seen

    seen = slowpath(nodemask)
    # nopage: check_retry_cpuset drops a nodemask that misses mems_allowed and restarts (only a
    # PREFERRED_MANY first pass can pass such a nodemask; policy_nodemask never does for BIND)
    if k.check_retry_cpuset and r["enabled"] and nodemask is not None and not (nodemask & r["mems"]):
        seen |= slowpath(None)
    slow = [e for e in zonelist if e in seen]
    return fast, slow


def rebuilt_order(topo, kernel, mems, local):
    """Fallback order of ``local`` over the nodes ``mems`` alone, as a run-time rebuild makes it.

    ``__build_all_zonelists`` restricted to the cpuset: node_load zeroed, every built node's
    order computed in ascending order (node_load carries over), CPUs counted (run time), the
    local node first only if it is one of the cpuset's memory nodes.
    """
    k = profile(kernel)
    m = rzl._Machine(topo, "rebuild")
    cand = [n for n in m.n_memory if n in mems]
    node_load = {n: 0 for n in m.ids}
    built_nodes = m.possible if k.build_possible_nodes else m.online
    result = None
    for node in built_nodes:
        order = rzl.fallback_order(m, node, node_load, k, pool=cand)
        if node == local:
            result = order
    return result or []


def proposal(topo, kernel, r, d, second=False):
    """``(fast, slow)`` of one request under design ``d`` (dict: hardwall, softwall, nofallback, nodes, oom).

    Extra request keys: ``ancestor_mems`` (task mems of the nearest hardwall ancestor, None for the
    root), ``cpu_nodes`` (the cpuset's CPU nodes), ``root`` (the task is in the root cpuset).
    """
    built = _system(topo, kernel)
    k = profile(kernel)
    hz, hard, thisnode, atomic = _gfp(r["gfp"], topo)
    ctx = r["context"]
    irq, oom, exiting = ctx == "interrupt", ctx == "oom_victim", ctx == "exiting"
    start, nodemask = _policy(r, topo, built, hz, thisnode, irq, second)
    system = _zonelist(built, start, thisnode)

    def own_list(mems, s, nofallback):
        """A cpuset's hardwall list for start node s (mems None: the system lists)."""
        if mems is None:
            return _zonelist(built, s, nofallback)
        if nofallback:
            if d["nofallback"] == "node":
                return _zonelist(built, s, True)
            return [e for e in built["nofallback"].get(s, []) if e[0] in mems]
        if d["hardwall"] == "filter":
            return [e for e in built["fallback"].get(s, []) if e[0] in mems]
        out = []
        for node in rebuilt_order(topo, kernel, mems, s):
            out += [e for e in built["nofallback"].get(node, [])]
        return out

    # nodes="start": the start node's list, or the first node of its system order that has one
    s_own = start
    if d["nodes"] == "start" and not r.get("root"):
        listed = set(r["cpu_nodes"]) | (set(r["nodes"]) if r["mode"] in ("preferred", "bind", "preferred_many")
                                         and not (irq or thisnode) else set())
        if start not in listed:
            for node in built["order"].get(start, []):
                if node in listed:
                    s_own = node
                    break
    mems = None if r.get("root") else r["mems"]
    hw = own_list(mems, s_own, thisnode)

    def softwall():
        if r.get("root") or d["softwall"] == "system":
            return _zonelist(built, s_own, thisnode)
        if d["softwall"] == "ancestor":
            anc = r["ancestor_mems"]
            if anc is None:
                return _zonelist(built, s_own, thisnode)
            return own_list(anc, s_own, thisnode)
        if thisnode:                                  # "first": every node present -> the node's list
            return _zonelist(built, s_own, True)
        rest = [e for e in built["fallback"].get(s_own, []) if e[0] not in r["mems"]]
        return own_list(r["mems"], s_own, False) + rest

    plain = not r["enabled"] or irq
    victim_plain = oom and nodemask is not None and d.get("oom", "system") == "system"
    # an interrupt's fast path takes the interrupted task's hardwall list where today substitutes its
    # mems_allowed (before v5.9), the system list where today lets every node through
    fast_plain = not r["enabled"] or (irq and not k.irq_mems_substitution) or victim_plain
    fast = rzl.iterate(system if fast_plain else hw, hz, nodemask)
    if plain or atomic or oom or (exiting and not hard):
        lst = system
    elif hard:
        lst = hw
    else:
        lst = softwall()

    def slowpath(nodemask):
        if not _first_zone(system, hz, nodemask) or _insane(k, r, topo, system, hz, hard, irq):
            return set()
        return set(rzl.iterate(lst, hz, None if (atomic or oom) else nodemask))

    seen = slowpath(nodemask)
    # the design keeps check_retry_cpuset's test, against the cpuset's mems
    if k.check_retry_cpuset and r["enabled"] and nodemask is not None and not (nodemask & r["mems"]):
        seen |= slowpath(None)
    return fast, [e for e in lst if e in seen]
