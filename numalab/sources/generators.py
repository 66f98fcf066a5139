"""Synthetic machines with plainly named parameters (also importable as :mod:`numalab.generators`).

Every generator returns a :class:`~numalab.topology.Topology` built through the documented JSON
format (:func:`numalab.sources.from_dict`), so generated machines obey the same checks as loaded
ones: the distance table goes through the kernel's SLIT rules, zones are laid out by physical
address as on x86_64 (notes say so). CPUs are numbered 0, 1, 2, ... node after node; memory-only
nodes get no CPUs. Sizes are bytes or strings such as ``"1G"``.

=======================================  ====================================================
generator                                shape
=======================================  ====================================================
:func:`flat`                             N nodes, every remote distance the same
:func:`sockets`                          k sockets x m sub-NUMA nodes (SNC/NPS)
:func:`ring`                             nodes on a ring, distance = hop x hops
:func:`line`                             nodes on a line, distance = 10 + hop x hops
:func:`mesh`                             rows x cols grid, distance = hop x Manhattan hops
:func:`cpu_plus_memory_tiers`            CPU nodes plus memory-only (CXL/HBM) nodes
:func:`memoryless`                       any topology with some nodes' memory removed
=======================================  ====================================================

:data:`RECORDED_SHAPES` gives the generator call that reproduces the shape (distances, CPUs
per node, which nodes have memory) of each real-kernel recording in kernel-truth.

Examples
--------
>>> t = sockets(sockets=2, nodes_per_socket=2)
>>> t.distance.tolist()
[[10, 12, 32, 32], [12, 10, 32, 32], [32, 32, 10, 12], [32, 32, 12, 10]]
>>> from_call("ring(nodes=4, hop=16)").distance[0].tolist()
[10, 16, 32, 16]
"""
from __future__ import annotations

import ast

import numpy as np

from ..errors import NumalabError
from ..topology import Topology
from .common import MAX_CPUS, MAX_NODES_SHIFT, MAX_PHYS_BYTES, excerpt, parse_size
from .jsonfmt import from_dict

__all__ = ["flat", "sockets", "ring", "line", "mesh", "cpu_plus_memory_tiers", "memoryless",
           "from_call", "GENERATORS", "RECORDED_SHAPES"]


#: Most nodes a generated machine may have: MAX_NUMNODES at the largest NODES_SHIFT (10).
MAX_NODES = 1 << MAX_NODES_SHIFT


def _bytes(size, what) -> int:
    if isinstance(size, bool):
        raise NumalabError(f"{what} must be a size", input=repr(size))
    if isinstance(size, (int, np.integer)):
        v = int(size)
    elif isinstance(size, float) and size.is_integer():
        v = int(size)
    elif isinstance(size, str):
        v = parse_size(size, what)
    else:
        raise NumalabError(f"{what} must be a size (bytes or e.g. '1G'), not {type(size).__name__}",
                           input=excerpt(repr(size), 40))
    if v < 0:
        raise NumalabError(f"{what} must not be negative", input=str(size))
    if v > MAX_PHYS_BYTES:
        raise NumalabError(f"{what} is more than a 64-bit kernel can address ({MAX_PHYS_BYTES >> 30} GiB)",
                           errno="ERANGE", input=excerpt(str(size), 40))
    return v


def _count(v, what, lo=1, hi=MAX_NODES):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise NumalabError(f"{what} must be an integer >= {lo} and <= {hi}", input=excerpt(repr(v), 40))
    return int(v)


def _dist(v, what) -> int:
    """A distance argument: an int 0..255 (a SLIT entry is one byte); no float, no string."""
    return _count(v, what, 0, 255)


def _nodes_total(n, cpus_per_node):
    """Check the machine's size before anything n x n is allocated."""
    if n > MAX_NODES:
        raise NumalabError(f"{n} nodes, more than MAX_NUMNODES {MAX_NODES}", errno="ERANGE", input=str(n))
    if n * cpus_per_node > MAX_CPUS:
        raise NumalabError(f"{n * cpus_per_node} CPUs, more than {MAX_CPUS}", errno="ERANGE",
                           input=str(n * cpus_per_node))
    return n


def _make(name, distance, cpus_per_node, mem, *, source, description, movable=None, notes=()):
    """Assemble the JSON document and load it (SLIT checks and zones as for any source)."""
    nodes, cpu = [], 0
    for i, (c, m) in enumerate(zip(cpus_per_node, mem)):
        node = {"id": i, "cpus": list(range(cpu, cpu + c)), "mem_mib": m / (1 << 20)}
        if movable is not None and movable[i]:
            node["movable"] = True
        nodes.append(node)
        cpu += c
    doc = {"name": name, "description": description, "provenance": "synthetic",
           "source": source, "nodes": nodes, "distance": np.asarray(distance).tolist(), "notes": list(notes)}
    return from_dict(doc, where=source, source=source)


def _sig(fn, **kw):
    return f"{fn}(" + ", ".join(f"{k}={v!r}" for k, v in kw.items()) + ")"


def flat(nodes=2, cpus_per_node=1, mem_per_node="1G", remote=20) -> Topology:
    """``nodes`` nodes, each with CPUs and memory, every remote distance ``remote``.

    >>> flat(nodes=3, remote=21).distance[0].tolist()
    [10, 21, 21]
    """
    n = _nodes_total(_count(nodes, "nodes"), _count(cpus_per_node, "cpus_per_node", 0, MAX_CPUS))
    d = np.full((n, n), _dist(remote, "remote"))
    np.fill_diagonal(d, 10)
    src = _sig("flat", nodes=n, cpus_per_node=cpus_per_node, mem_per_node=mem_per_node, remote=remote)
    return _make(f"flat-{n}", d, [_count(cpus_per_node, "cpus_per_node", 0)] * n,
                 [_bytes(mem_per_node, "mem_per_node")] * n, source=src,
                 description=f"{n} nodes, all remote distances {remote}")


def sockets(sockets=2, nodes_per_socket=2, cpus_per_node=1, mem_per_node="1G", same_socket=12,
            other_socket=32) -> Topology:
    """``sockets`` sockets of ``nodes_per_socket`` sub-NUMA nodes each (SNC, NPS).

    Node ``s * nodes_per_socket + k`` is sub-node ``k`` of socket ``s``; distances are
    ``same_socket`` inside a socket and ``other_socket`` between sockets.
    """
    s, m = _count(sockets, "sockets"), _count(nodes_per_socket, "nodes_per_socket")
    _nodes_total(s * m, _count(cpus_per_node, "cpus_per_node", 0, MAX_CPUS))
    sock = np.repeat(np.arange(s), m)
    d = np.where(sock[:, None] == sock[None, :], _dist(same_socket, "same_socket"), _dist(other_socket, "other_socket"))
    np.fill_diagonal(d, 10)
    src = _sig("sockets", sockets=s, nodes_per_socket=m, cpus_per_node=cpus_per_node,
               mem_per_node=mem_per_node, same_socket=same_socket, other_socket=other_socket)
    return _make(f"sockets-{s}x{m}", d, [_count(cpus_per_node, "cpus_per_node", 0)] * (s * m),
                 [_bytes(mem_per_node, "mem_per_node")] * (s * m), source=src,
                 description=f"{s} sockets x {m} sub-NUMA nodes ({same_socket} inside, {other_socket} across)")


def ring(nodes=4, hop=16, cpus_per_node=1, mem_per_node="1G") -> Topology:
    """``nodes`` nodes on a ring; the distance is ``hop`` times the number of hops the short way.

    >>> ring(nodes=6, hop=16).distance[0].tolist()
    [10, 16, 32, 48, 32, 16]
    """
    n = _nodes_total(_count(nodes, "nodes"), _count(cpus_per_node, "cpus_per_node", 0, MAX_CPUS))
    k = np.arange(n)
    hops = np.abs(k[:, None] - k[None, :])
    hops = np.minimum(hops, n - hops)
    d = np.where(hops == 0, 10, _dist(hop, "hop") * hops)
    src = _sig("ring", nodes=n, hop=hop, cpus_per_node=cpus_per_node, mem_per_node=mem_per_node)
    return _make(f"ring-{n}", d, [_count(cpus_per_node, "cpus_per_node", 0)] * n,
                 [_bytes(mem_per_node, "mem_per_node")] * n, source=src,
                 description=f"{n} nodes on a ring, {hop} per hop")


def line(nodes=3, hop=10, cpus_per_node=1, mem_per_node="1G") -> Topology:
    """``nodes`` nodes on a line; the distance is ``10 + hop`` times the number of hops.

    >>> line(nodes=3).distance[0].tolist()
    [10, 20, 30]
    """
    n = _nodes_total(_count(nodes, "nodes"), _count(cpus_per_node, "cpus_per_node", 0, MAX_CPUS))
    k = np.arange(n)
    d = 10 + _dist(hop, "hop") * np.abs(k[:, None] - k[None, :])
    src = _sig("line", nodes=n, hop=hop, cpus_per_node=cpus_per_node, mem_per_node=mem_per_node)
    return _make(f"line-{n}", d, [_count(cpus_per_node, "cpus_per_node", 0)] * n,
                 [_bytes(mem_per_node, "mem_per_node")] * n, source=src,
                 description=f"{n} nodes on a line, 10 + {hop} per hop")


def mesh(rows=2, cols=2, hop=16, cpus_per_node=1, mem_per_node="1G") -> Topology:
    """A ``rows`` x ``cols`` grid of nodes (row-major ids); distance = ``hop`` x Manhattan hops.

    >>> mesh(rows=2, cols=3, hop=11).distance[0].tolist()
    [10, 11, 22, 11, 22, 33]
    """
    r, c = _count(rows, "rows"), _count(cols, "cols")
    _nodes_total(r * c, _count(cpus_per_node, "cpus_per_node", 0, MAX_CPUS))
    y, x = np.divmod(np.arange(r * c), c)
    hops = np.abs(y[:, None] - y[None, :]) + np.abs(x[:, None] - x[None, :])
    d = np.where(hops == 0, 10, _dist(hop, "hop") * hops)
    src = _sig("mesh", rows=r, cols=c, hop=hop, cpus_per_node=cpus_per_node, mem_per_node=mem_per_node)
    return _make(f"mesh-{r}x{c}", d, [_count(cpus_per_node, "cpus_per_node", 0)] * (r * c),
                 [_bytes(mem_per_node, "mem_per_node")] * (r * c), source=src,
                 description=f"{r}x{c} mesh, {hop} per hop")


def cpu_plus_memory_tiers(cpu_nodes=2, memory_nodes_per_cpu_node=1, cpus_per_node=1,
                          mem_per_cpu_node="1G", mem_per_memory_node="1G", cpu_remote=21,
                          tier_near=14, tier_far=24, tier_between=26, movable=False) -> Topology:
    """CPU nodes ``0..cpu_nodes-1``, then memory-only nodes (CXL expanders, HBM in flat mode).

    Memory node ``cpu_nodes + c * memory_nodes_per_cpu_node + k`` hangs off CPU node ``c``: at
    ``tier_near`` from it, ``tier_far`` from the other CPU nodes, ``tier_between`` from other
    memory nodes. ``movable=True`` puts the memory-only nodes in ZONE_MOVABLE (hot-added memory
    onlined movable, the usual CXL set-up).

    >>> t = cpu_plus_memory_tiers()
    >>> t.distance.tolist()
    [[10, 21, 14, 24], [21, 10, 24, 14], [14, 24, 10, 26], [24, 14, 26, 10]]
    >>> t.has_cpu.tolist(), t.has_memory.tolist()
    ([True, True, False, False], [True, True, True, True])
    """
    c = _count(cpu_nodes, "cpu_nodes")
    m = _count(memory_nodes_per_cpu_node, "memory_nodes_per_cpu_node", 0)
    n = c + c * m
    _nodes_total(n, 0)
    _nodes_total(c, _count(cpus_per_node, "cpus_per_node", 0, MAX_CPUS))
    cpu_remote, tier_near, tier_far, tier_between = (_dist(v, k) for v, k in (
        (cpu_remote, "cpu_remote"), (tier_near, "tier_near"), (tier_far, "tier_far"), (tier_between, "tier_between")))
    if not isinstance(movable, bool):
        raise NumalabError("movable must be True or False", input=excerpt(repr(movable), 40))
    home = np.concatenate([np.arange(c), np.repeat(np.arange(c), m)])  # CPU node each node belongs to
    is_mem = np.arange(n) >= c
    mem_i, mem_j = is_mem[:, None], is_mem[None, :]
    d = np.where(mem_i & mem_j, tier_between,
                 np.where(~mem_i & ~mem_j, cpu_remote,
                          np.where(home[:, None] == home[None, :], tier_near, tier_far))).astype(np.int64)
    np.fill_diagonal(d, 10)
    cpus = [_count(cpus_per_node, "cpus_per_node", 0)] * c + [0] * (c * m)
    mem = [_bytes(mem_per_cpu_node, "mem_per_cpu_node")] * c + [_bytes(mem_per_memory_node, "mem_per_memory_node")] * (c * m)
    src = _sig("cpu_plus_memory_tiers", cpu_nodes=c, memory_nodes_per_cpu_node=m, cpus_per_node=cpus_per_node,
               mem_per_cpu_node=mem_per_cpu_node, mem_per_memory_node=mem_per_memory_node,
               cpu_remote=cpu_remote, tier_near=tier_near, tier_far=tier_far, tier_between=tier_between,
               movable=movable)
    return _make(f"tiers-{c}+{c * m}", d, cpus, mem, source=src, movable=list(is_mem & bool(movable)),
                 description=f"{c} CPU nodes + {c * m} memory-only nodes ({tier_near} near, {tier_far} far)")


def memoryless(topology, nodes) -> Topology:
    """``topology`` (a Topology or a generator call) with the memory of the given node ids removed:
    CPU nodes without memory, as AMD NPS modes and some VMs have.

    In a call read by :func:`numalab.sources.load` (``"memoryless('cxl4', nodes=[1])"``) the
    topology may be anything ``load`` takes.

    >>> memoryless(line(nodes=3), nodes=[1]).has_memory.tolist()
    [True, False, True]
    """
    t = topology if isinstance(topology, Topology) else from_call(str(topology))
    lst = [nodes] if isinstance(nodes, int) and not isinstance(nodes, bool) else nodes
    if not isinstance(lst, (list, tuple)) or not all(isinstance(x, int) and not isinstance(x, bool) for x in lst):
        raise NumalabError("nodes must be a node id or a list of node ids (integers)", input=excerpt(repr(nodes), 40))
    idx = [t.index_of(x) for x in lst]
    present, managed = t.present_pages.copy(), t.managed_pages.copy()
    present[idx] = 0
    managed[idx] = 0
    ids = ",".join(str(int(t.node_ids[i])) for i in idx)
    return t.replace(name=f"{t.name}-memoryless-{ids.replace(',', '-')}", present_pages=present,
                     managed_pages=managed, state_override=None,
                     source=f"memoryless({t.source}, nodes=[{ids}])",
                     notes=t.notes + (f"memory of node(s) {ids} removed",))


#: name -> generator, what :func:`from_call` accepts.
GENERATORS = {f.__name__: f for f in (flat, sockets, ring, line, mesh, cpu_plus_memory_tiers, memoryless)}

#: The generator call reproducing the shape of each real-kernel recording (kernel-truth/snapshots).
RECORDED_SHAPES = {
    "two-node": "flat(nodes=2)",
    "four-ring": "ring(nodes=4, hop=16)",
    "eight-2socket": "sockets(sockets=2, nodes_per_socket=4, same_socket=12, other_socket=32)",
    "penalty-tie": "cpu_plus_memory_tiers(cpu_nodes=2, cpu_remote=20, tier_near=20, tier_far=20, tier_between=20)",
    "memoryless-cpu": "memoryless('line(nodes=3, hop=10)', nodes=[1])",
    "zones-split": None,  # needs memory above 4 GiB on nodes 1-3: bundled as data/topologies/zones-split.json
    "cxl4": "cpu_plus_memory_tiers(cpu_nodes=2, cpus_per_node=2, cpu_remote=21, tier_near=14, tier_far=24, tier_between=26)",
}


#: Generators whose first argument is a topology (resolved by :func:`from_call`'s ``load``).
_TAKES_TOPOLOGY = ("memoryless",)


def from_call(text: str, *, load=None) -> Topology:
    """Run a generator written as a call: ``"sockets(sockets=2, nodes_per_socket=4)"``.

    Only the generators in :data:`GENERATORS` and literal arguments are accepted. ``load`` reads
    a topology argument given as text (``memoryless('cxl4', nodes=[1])``): :func:`numalab.sources.load`
    passes itself; without it, only a generator call is accepted there.
    """
    if len(text) > 8192:
        raise NumalabError("generator call longer than 8192 characters", input=excerpt(text, 40))
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise NumalabError("not a generator call (e.g. flat(nodes=4))", input=text) from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise NumalabError("not a generator call (e.g. flat(nodes=4))", input=text)
    fn = GENERATORS.get(node.func.id)
    if fn is None:
        raise NumalabError(f"unknown generator {node.func.id!r} (known: {', '.join(GENERATORS)})", input=text)
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise NumalabError("generator arguments must be literals (numbers, strings, lists)", input=text) from None
    if None in kwargs:
        raise NumalabError("no **kwargs in a generator call", input=text)
    if fn.__name__ in _TAKES_TOPOLOGY:
        if args and isinstance(args[0], str):
            args[0] = load(args[0]) if load is not None else from_call(args[0])
        elif isinstance(kwargs.get("topology"), str):
            kwargs["topology"] = load(kwargs["topology"]) if load is not None else from_call(kwargs["topology"])
    try:
        return fn(*args, **kwargs)
    except TypeError as e:
        raise NumalabError(str(e), input=text) from None
