"""Scalar reference for cpusets (kernel/cgroup/cpuset.c): plain loops over a dict tree.

A tree is ``{path: {"mems": set, "mem_exclusive": bool, "mem_hardwall": bool}}`` with ``"/"`` the
root. Independent of :mod:`numalab.cpuset`; the tests compare the two.

Examples
--------
>>> tree = {"/": {"mems": {0, 1, 2}}, "/a": {"mems": {3}}}
>>> sorted(effective(tree, "/a", "v2", n_memory={0, 1, 2}))
[0, 1, 2]
"""
from __future__ import annotations

__all__ = ["parent", "effective", "guarantee_online_mems", "nearest_hardwall_ancestor", "node_allowed"]


def parent(path):
    if path == "/":
        return None
    p = path.rstrip("/").rsplit("/", 1)[0]
    return p or "/"


def effective(tree, path, hierarchy, n_memory):
    """effective_mems: v1 = configured; v2 = configured & parent's effective, or parent's if empty."""
    if path == "/":
        return set(n_memory)
    if hierarchy == "v1":
        return set(tree[path]["mems"])
    pe = effective(tree, parent(path), hierarchy, n_memory)
    e = set(tree[path]["mems"]) & pe
    return e if e else pe


def guarantee_online_mems(tree, path, hierarchy, n_memory):
    """Walk up until effective mems with memory are non-empty."""
    p = path
    while True:
        e = effective(tree, p, hierarchy, n_memory) & set(n_memory)
        if e or p == "/":
            return e
        p = parent(p)


def nearest_hardwall_ancestor(tree, path):
    p = path
    while p != "/":
        cs = tree[p]
        if cs.get("mem_exclusive") or cs.get("mem_hardwall"):
            return p
        p = parent(p)
    return "/"


def node_allowed(node, mems_allowed, hardwall_mems, *, in_interrupt=False, gfp_hardwall=True,
                 oom_victim=False, exiting=False, memdie=None, kernel=None):
    """__cpuset_node_allowed for one node: the decision table, first matching row wins.

    Row 3 before v4.14 asks whether this thread has TIF_MEMDIE (``memdie``, default
    ``oom_victim``); from v4.14 whether its process is an OOM victim (tsk_is_oom_victim).
    """
    if in_interrupt:
        return True
    if node in mems_allowed:
        return True
    victim = oom_victim
    if kernel is not None:
        from ..kernel import profile

        if profile(kernel).version < (4, 14):
            victim = oom_victim if memdie is None else memdie
    if victim:
        return True
    if gfp_hardwall:
        return False
    if exiting:
        return True
    return node in hardwall_mems
