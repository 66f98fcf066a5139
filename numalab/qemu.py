"""QEMU arguments that boot a real kernel on a topology (``numalab qemu-args``).

:func:`qemu_args` writes ``-smp``, ``-m``, ``-object memory-backend-ram``, ``-numa node`` and
``-numa dist``, and says what had to change (renumbered node or CPU ids, the node order an x86
guest's SRAT gives).
"""
from __future__ import annotations

import shlex

import numpy as np

from .errors import NumalabError
from .sources.common import _MIB, format_cpulist, parse_size
from .topology import Topology

__all__ = ["qemu_args", "shell_line"]


# ====================================================================== QEMU
def qemu_args(t: Topology, mem_per_node=None) -> tuple[list[str], list[str]]:
    """QEMU arguments that boot a guest with this topology, and notes about what changed.

    ``-smp``, ``-m``, one ``-object memory-backend-ram`` per node with memory, one
    ``-numa node`` per online node (a node without memory gets no ``memdev``), and ``-numa dist``
    for each pair (one direction when the table is symmetric, QEMU mirrors it).

    Parameters
    ----------
    mem_per_node : int or str, optional
        Bytes (or a size like ``"256M"``) for every node with memory; default: the node's real
        memory (present pages), rounded up to whole MiB.

    Returns
    -------
    (args, notes)

    Examples
    --------
    >>> from numalab.sources import load
    >>> args, _ = qemu_args(load("two-node"), "256M")
    >>> " ".join(args[:4])
    '-smp 2 -m 512M'
    """
    notes = []
    on = np.flatnonzero(t.online)
    if on.size < t.n_nodes:
        notes.append(f"offline nodes {format_cpulist(t.node_ids[~t.online])} left out")
    ids = t.node_ids[on]
    guest = {int(nid): k for k, nid in enumerate(ids.tolist())}
    if ids.tolist() != list(range(len(ids))):
        notes.append("QEMU needs node ids 0..n-1: guest node ids are " +
                     ", ".join(f"{a}->{b}" for a, b in guest.items() if a != b))
    if len(ids) > 128:
        raise NumalabError(f"{len(ids)} nodes: QEMU supports at most 128 NUMA nodes", input=t.name)
    cpu_ids = t.cpu_ids[np.isin(t.cpu_node, on)]
    dense = cpu_ids.tolist() == list(range(cpu_ids.size))
    cpu_map = {int(c): (int(c) if dense else k) for k, c in enumerate(cpu_ids.tolist())}
    if not dense:
        notes.append("CPU ids are not 0..n-1: guest CPUs numbered in order of host CPU id")
    ncpu = max(1, cpu_ids.size)
    if cpu_ids.size == 0:
        notes.append("the topology has no CPUs: one vCPU added on the first node")
    if isinstance(mem_per_node, str):
        mem_per_node = parse_size(mem_per_node, "--mem-per-node")
    if mem_per_node is not None and mem_per_node < _MIB:
        raise NumalabError("memory per node must be at least 1M", input=str(mem_per_node))
    sizes = []
    for i in on.tolist():
        pages = int(t.present_pages[i].sum())
        if pages == 0:
            sizes.append(0)
        elif mem_per_node is not None:
            sizes.append(-(-int(mem_per_node) // _MIB))
        else:
            sizes.append(-(-pages * t.page_size // _MIB))
    if not any(sizes):
        raise NumalabError("no node has memory: QEMU cannot boot a guest without memory", input=t.name)
    args = ["-smp", str(ncpu), "-m", f"{sum(sizes)}M"]
    for k, i in enumerate(on.tolist()):
        if sizes[k]:
            args += ["-object", f"memory-backend-ram,id=mem{k},size={sizes[k]}M"]
    for k, i in enumerate(on.tolist()):
        spec = f"node,nodeid={k}"
        cs = [cpu_map[int(c)] for c in t.cpus_of(i).tolist()]
        if cpu_ids.size == 0 and k == 0:
            cs = [0]
        if cs:
            spec += "".join(f",cpus={r}" for r in format_cpulist(cs).split(","))
        if sizes[k]:
            spec += f",memdev=mem{k}"
        args += ["-numa", spec]
    sym = np.array_equal(t.distance, t.distance.T)
    for a, i in enumerate(on.tolist()):
        for b, j in enumerate(on.tolist()):
            if a == b or (sym and b < a):
                continue
            args += ["-numa", f"dist,src={a},dst={b},val={int(t.distance[i, j])}"]
    linux = _srat_numbering([[cpu_map[int(c)] for c in t.cpus_of(i).tolist()] for i in on.tolist()],
                            [bool(x) for x in sizes])
    if linux != list(range(len(linux))):
        notes.append("an x86 guest numbers its nodes in the order its SRAT lists them (CPU entries in "
                     "CPU order, then memory ranges in node order), so the guest will see QEMU node -> "
                     "Linux node " + ", ".join(f"{a}->{b}" for a, b in enumerate(linux) if a != b) +
                     ": its distances and states then belong to the renumbered nodes")
    if mem_per_node is not None:
        notes.append(f"memory scaled to {sizes and max(sizes)}M per node with memory: the guest's zones "
                     "follow its own memory layout (small guests have only DMA and DMA32)")
    return args, notes


def _srat_numbering(cpus_per_node, has_memory) -> list:
    """Linux node id an x86 guest gives each QEMU node (acpi_numa_init, ``pxm_to_node``).

    Linux allocates node ids as it first meets proximity domains in the SRAT: QEMU writes one
    processor-affinity entry per CPU in CPU order, then one memory-affinity entry per node with
    memory in node order. Nodes met in neither get the next ids in node order.

    >>> _srat_numbering([[], [], [0], [1]], [True, True, True, True])
    [2, 3, 0, 1]
    """
    owner = {c: k for k, cs in enumerate(cpus_per_node) for c in cs}
    seen = []
    for c in sorted(owner):
        if owner[c] not in seen:
            seen.append(owner[c])
    seen += [k for k, m in enumerate(has_memory) if m and k not in seen]
    seen += [k for k in range(len(cpus_per_node)) if k not in seen]
    linux = [0] * len(cpus_per_node)
    for new_id, k in enumerate(seen):
        linux[k] = new_id
    return linux


def shell_line(args) -> str:
    """The arguments as one shell-quoted line."""
    return shlex.join(args)
