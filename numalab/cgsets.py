"""Collections of cpusets as arrays: a real cgroup tree, a file, generated containers, or all masks.

The per-cpuset zonelist questions (:mod:`numalab.cost`, :mod:`numalab.compare`) need, per
non-root cpuset, the nodes its tasks may use (``task->mems_allowed``, i.e. effective mems with
memory), the configured mems of its nearest hardwall ancestor (the softwall escape of
``__cpuset_node_allowed``), the nodes its CPUs are on, and how many tasks it holds.
:class:`Cpusets` keeps them as arrays over node *indices*.

Sources:

* :func:`from_records` - a recorded cgroup tree (``numalab snapshot``'s ``cgroups.json``) or a
  hand-written file; masks follow :class:`numalab.cpuset.CpusetTree` (v1 or v2 rules);
* :func:`generate` - K containers with ``"node"``-, ``"socket"``- or ``"random"``-aligned mems
  (:data:`SHAPES` says which real deployment each stands for);
* :func:`every_mask` - every non-empty set of memory nodes, each once as a cgroup v2 child of
  the root (softwall escape to the whole machine) and once as a v1 ``mem_hardwall`` cpuset
  (no escape): the cpuset axis of ``numalab compare``'s exhaustive run.

Examples
--------
>>> from numalab import sources
>>> cs = generate(sources.load("sockets-2x2"), 3, "node", tasks=10)
>>> [p for p in cs.paths], cs.mems.astype(int).tolist()
(['/c0', '/c1', '/c2'], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
>>> len(every_mask(sources.load("sockets-2x2")))
30
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .cpuset import CpusetTree, parse_nodes
from .errors import NumalabError
from .sources import parse_cpulist
from .topology import Topology

__all__ = ["Cpusets", "SHAPES", "from_records", "generate", "every_mask", "parse_spec", "MAX_GENERATED"]

#: Generated shapes and the real deployments they stand for.
SHAPES = {
    "node": "one container per NUMA node, round robin (Kubernetes CPU and Topology Manager with the "
            "single-numa-node policy, or one VM per node)",
    "socket": "one container per socket, round robin: nodes closer than distance 16 form a socket "
              "(Topology Manager 'restricted' on SNC/NPS machines, or one VM per socket)",
    "random": "each container a random non-empty set of memory nodes (hand-made cpusets, systemd "
              "slices with AllowedMemoryNodes=, nothing aligned)",
}
MAX_GENERATED = 1_000_000


@dataclasses.dataclass(frozen=True, eq=False)
class Cpusets:
    """K non-root cpusets of one machine, as arrays over node indices.

    Attributes
    ----------
    topology : Topology
    paths : tuple of str
    mems : (K, n) bool
        The tasks' mems_allowed (effective mems with memory; guarantee_online_mems).
    hardwall_mems : (K, n) bool
        Configured mems of the nearest hardwall ancestor (the root: every node).
    hardwall_index : (K,) int
        Index of that ancestor in ``paths`` (itself when the cpuset is a hardwall), -1 = root.
    cpu_nodes : (K, n) bool
        Nodes of the cpuset's CPUs (the start nodes its tasks allocate from).
    tasks : (K,) int
        Threads (task_structs) in each cpuset.
    root_tasks : int
        Threads in the root cgroup (they carry mems_allowed too).
    source : str
        Where the collection came from and what it stands for.
    """

    topology: Topology
    paths: tuple
    mems: np.ndarray
    hardwall_mems: np.ndarray
    hardwall_index: np.ndarray
    cpu_nodes: np.ndarray
    tasks: np.ndarray
    root_tasks: int = 0
    source: str = ""

    def __len__(self):
        return len(self.paths)

    @property
    def total_tasks(self) -> int:
        return int(self.tasks.sum()) + int(self.root_tasks)


def aligned_cpu_nodes(topo: Topology, mems: np.ndarray) -> np.ndarray:
    """CPU nodes that go with memory nodes ``mems`` (K, n): the CPU nodes among them, plus every
    memoryless CPU node whose nearest memory node (smallest distance, lowest index) is in them."""
    mems = np.asarray(mems, bool)
    has_cpu = np.asarray(topo.has_cpu, bool)
    has_mem = np.asarray(topo.has_memory, bool)
    out = mems & has_cpu
    if has_mem.any():
        d = np.where(has_mem[None, :], topo.distance, np.iinfo(np.int64).max)
        nearest = np.argmin(d, axis=1)                     # (n,) nearest memory node per node
        extra = has_cpu & ~has_mem                           # memoryless CPU nodes
        out |= extra[None, :] & mems[:, nearest]
    return out


def _nodes_of_cpus(topo, text, where):
    mask = np.zeros(topo.n_nodes, bool)
    if not text:
        return mask
    cpus = np.asarray(parse_cpulist(text, where), np.int64)
    known = np.isin(cpus, topo.cpu_ids)
    if not known.all():
        raise NumalabError(f"CPU {int(cpus[~known][0])} is not in topology {topo.name!r}", input=where)
    idx = np.searchsorted(topo.cpu_ids, cpus)
    mask[topo.cpu_node[idx]] = True
    return mask


def from_records(topo: Topology, doc: dict, kernel="current") -> Cpusets:
    """Cpusets of a recorded or hand-written tree (:func:`numalab.sources.cgroup.load` output).

    Masks are computed by :class:`numalab.cpuset.CpusetTree` with the tree's hierarchy rules; a
    recorded ``mems_effective`` that disagrees with them is an error (never silently accepted).
    Task counts: ``threads`` if recorded, else ``tasks``, else ``procs``.
    """
    hier = doc.get("hierarchy", "v2")
    tree = CpusetTree(topo, hier, kernel)
    recs = sorted(doc["cgroups"], key=lambda r: (0 if r["path"] == "/" else r["path"].count("/"), r["path"]))
    count = lambda r: r.get("threads") or r.get("tasks") or r.get("procs") or 0  # noqa: E731
    root_tasks = 0
    kept = []
    for r in recs:
        if r["path"] == "/":
            root_tasks = count(r)
            continue
        try:
            tree.create(r["path"], mems=r.get("mems") or None, mem_exclusive=r.get("mem_exclusive", False),
                        mem_hardwall=r.get("mem_hardwall", False), populated=count(r) > 0)
        except NumalabError as e:
            raise NumalabError(f"cgroup {r['path']}: {e.problem}", errno=e.errno, input=r["path"]) from None
        if r.get("mems_effective") is not None:
            got = parse_nodes(r["mems_effective"], tree.nbits, where=f"{r['path']}/cpuset.mems.effective")
            want = tree.effective(r["path"])
            if not np.array_equal(got, want):
                raise NumalabError("cpuset.mems.effective disagrees with the cgroup rules for this tree",
                                   input=r["path"])
        kept.append(r)
    paths = tuple(r["path"] for r in kept)
    K, n = len(paths), topo.n_nodes
    mems = np.zeros((K, n), bool)
    hw = np.zeros((K, n), bool)
    hwi = np.full(K, -1, np.int64)
    cpun = np.zeros((K, n), bool)
    index = {p: i for i, p in enumerate(paths)}
    for i, r in enumerate(kept):
        mems[i] = topo.gather(tree.task_mems_allowed(r["path"]))
        anc = tree.nearest_hardwall_ancestor(r["path"])
        hwi[i] = index.get(anc, -1)
        hw[i] = topo.gather(tree.get(anc).mems) if anc != "/" else np.ones(n, bool)
        cpun[i] = _nodes_of_cpus(topo, r.get("cpus_effective"), f"{r['path']}/cpuset.cpus.effective")
    no_cpus = ~cpun.any(axis=1)
    if no_cpus.any():
        cpun[no_cpus] = aligned_cpu_nodes(topo, mems[no_cpus])
    tasks = np.array([count(r) for r in kept], np.int64)
    return Cpusets(topo, paths, mems, hw, hwi, cpun, tasks, int(root_tasks),
                   source=f"cgroup {hier} tree ({K} cpusets)")


def _sockets(topo):
    """Socket id per node index: connected groups of nodes closer than distance 16."""
    n = topo.n_nodes
    near = topo.distance < 16
    label = np.arange(n)
    for _ in range(n):                      # label propagation (min over near neighbours)
        new = np.where(near, label[None, :], n).min(axis=1)
        new = np.minimum(new, label)
        if np.array_equal(new, label):
            break
        label = new
    return np.unique(label, return_inverse=True)[1]


def generate(topo: Topology, k: int, shape: str = "node", *, tasks: int = 50, root_tasks: int = 0,
             seed: int = 0) -> Cpusets:
    """K containers ``/c0 .. /c{K-1}``, children of the root (cgroup v2), with ``tasks`` threads each.

    Parameters
    ----------
    shape : {"node", "socket", "random"}
        See :data:`SHAPES`. Only memory nodes are handed out; CPUs follow :func:`aligned_cpu_nodes`.
    seed : int
        For ``"random"`` (numpy default_rng).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= MAX_GENERATED:
        raise NumalabError(f"the number of containers must lie in 1..{MAX_GENERATED}", input=k)
    if shape not in SHAPES:
        raise NumalabError(f"unknown cpuset shape; known: {', '.join(SHAPES)}", input=shape)
    if isinstance(tasks, bool) or int(tasks) < 0:
        raise NumalabError("tasks per container must be a count", input=tasks)
    k = int(k)
    n = topo.n_nodes
    mem = np.flatnonzero(topo.has_memory)
    if not mem.size:
        raise NumalabError("no node has memory", input=topo.name)
    mems = np.zeros((k, n), bool)
    if shape == "node":
        mems[np.arange(k), mem[np.arange(k) % mem.size]] = True
    elif shape == "socket":
        sock = _sockets(topo)
        groups = [g for g in np.unique(sock[mem])]
        gi = np.asarray(groups)[np.arange(k) % len(groups)]
        mems = (sock[None, :] == gi[:, None]) & topo.has_memory[None, :]
    else:
        rng = np.random.default_rng(seed)
        pick = rng.random((k, mem.size)) < 0.5
        empty = ~pick.any(axis=1)
        pick[empty, rng.integers(0, mem.size, int(empty.sum()))] = True
        mems[:, mem] = pick
    paths = tuple(f"/c{i}" for i in range(k))
    return Cpusets(topo, paths, mems, np.ones((k, n), bool), np.full(k, -1, np.int64),
                   aligned_cpu_nodes(topo, mems), np.full(k, int(tasks), np.int64), int(root_tasks),
                   source=f"{k} generated containers, {shape}-aligned: {SHAPES[shape]}")


def every_mask(topo: Topology) -> Cpusets:
    """Every non-empty set of memory nodes, as a v2 child of the root and as a v1 mem_hardwall cpuset.

    Rows ``0 .. M-1`` escape to the root (``hardwall_index`` -1), rows ``M .. 2M-1`` are their own
    hardwall. Masks ascend as binary numbers over the memory nodes. Limited to 16 memory nodes.
    """
    mem = np.flatnonzero(topo.has_memory)
    if mem.size > 16:
        raise NumalabError("every cpuset mask is enumerable up to 16 memory nodes", input=topo.name)
    m = np.arange(1, 1 << mem.size)
    bits = ((m[:, None] >> np.arange(mem.size)[None, :]) & 1).astype(bool)
    mems = np.zeros((m.size, topo.n_nodes), bool)
    mems[:, mem] = bits
    M = m.size
    allm = np.concatenate([mems, mems])
    hw = np.concatenate([np.ones_like(mems), mems])
    hwi = np.concatenate([np.full(M, -1), np.arange(M, 2 * M)]).astype(np.int64)
    from .cpuset import format_nodes

    names = [format_nodes(topo.mask(r)) for r in mems]
    paths = tuple([f"/v2:{s}" for s in names] + [f"/v1-hardwall:{s}" for s in names])
    return Cpusets(topo, paths, allm, hw, hwi, aligned_cpu_nodes(topo, allm), np.ones(2 * M, np.int64), 0,
                   source="every non-empty set of memory nodes, as a v2 child of the root and as a "
                          "v1 mem_hardwall cpuset")


def parse_spec(topo: Topology, spec, *, kernel="current", tasks: int = 50) -> Cpusets:
    """``K``, ``SHAPE:K`` (e.g. ``socket:16``) or a path (cgroups.json or a snapshot directory)."""
    from .sources import cgroup

    s = str(spec).strip()
    if s.isdigit():
        return generate(topo, int(s), "node", tasks=tasks)
    if ":" in s and s.split(":", 1)[0] in SHAPES and s.split(":", 1)[1].isdigit():
        shape, k = s.split(":", 1)
        return generate(topo, int(k), shape, tasks=tasks)
    return from_records(topo, cgroup.load(s), kernel)
