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

__all__ = ["qemu_args", "parse_hot_add", "bootable_offline_node", "shell_line", "MEMORY_BLOCK_MIB"]


# ====================================================================== QEMU
def qemu_args(t: Topology, mem_per_node=None, *, hot_add=()) -> tuple[list[str], list[str]]:
    """QEMU arguments that boot a guest with this topology, and notes about what changed.

    ``-smp``, ``-m``, one ``-object memory-backend-ram`` per node with memory, one
    ``-numa node`` per online node (a node without memory gets no ``memdev``), and ``-numa dist``
    for each pair (one direction when the table is symmetric, QEMU mirrors it).

    A possible but offline node is booted too when QEMU can express it: it must be the only
    one and have the id right after the online nodes. QEMU's SRAT gives the hot-pluggable range
    of ``-m SIZE,slots=,maxmem=`` to its *last* node (hw/i386/acpi-build.c ``build_srat``), and
    Linux marks a node it meets only there possible but not online (``numa_init()``:
    ``node_possible_map`` is every proximity domain of the SRAT). Other offline nodes are left
    out, with a note.

    Parameters
    ----------
    mem_per_node : int or str, optional
        Bytes (or a size like ``"256M"``) for every node with memory; default: the node's real
        memory (present pages), rounded up to whole MiB.
    hot_add : sequence of (node id, MiB)
        Memory that QEMU plugs in as ``pc-dimm`` devices on these (online) nodes. Linux's ACPI
        memory-device driver adds it after SMP bring-up and, with ``memhp_default_state=online``
        on the kernel command line (the caller adds it), onlines it at once into ZONE_NORMAL;
        ``online_pages()`` rebuilds every zonelist when that populates a zone
        (``build_all_zonelists(NULL)``). Sizes are whole 128 MiB memory blocks
        (``memory_block_size_bytes()`` on x86_64 guests below 64 GiB).

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
    ids = t.node_ids[on]
    offline = bootable_offline_node(t)
    left = [int(x) for x in t.node_ids[~t.online] if offline is None or int(x) != int(t.node_ids[offline])]
    if left:
        notes.append(f"offline nodes {format_cpulist(left)} left out (QEMU can make only one possible-but-offline "
                     f"node: the last one, id {len(ids)})")
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
    dimms = _dimms(t, on, hot_add)
    total = sum(sizes)
    m = f"{total}M"
    if dimms or offline is not None:
        # the hot-pluggable range: room for every DIMM (each slot 1 GiB-aligned) plus one slot
        m += f",slots={len(dimms) + 1},maxmem={total + 1024 * (len(dimms) + 1) + sum(mib for _, mib in dimms)}M"
    args = ["-smp", str(ncpu), "-m", m]
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
    booted = on.tolist() + ([offline] if offline is not None else [])
    if offline is not None:
        args += ["-numa", f"node,nodeid={len(on)}"]
        notes.append(f"node {int(t.node_ids[offline])} is possible but offline: QEMU node {len(on)} with neither "
                     "CPUs nor memory, owning the hot-pluggable range of -m ...,maxmem=")
    sym = np.array_equal(t.distance, t.distance.T)
    for a, i in enumerate(booted):
        for b, j in enumerate(booted):
            if a == b or (sym and b < a):
                continue
            args += ["-numa", f"dist,src={a},dst={b},val={int(t.distance[i, j])}"]
    for k, (q, mib) in enumerate(dimms):
        args += ["-object", f"memory-backend-ram,id=hp{k},size={mib}M",
                 "-device", f"pc-dimm,id=dimm{k},memdev=hp{k},node={q}"]
    if dimms:
        notes.append("hot-added after boot: " + ", ".join(f"{mib}M on QEMU node {q}" for q, mib in dimms) +
                     " (pc-dimm; boot the kernel with memhp_default_state=online)")
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


def bootable_offline_node(t: Topology):
    """Index of the one possible-but-offline node QEMU can boot (id = number of online nodes,
    higher than every online id), or None."""
    off = np.flatnonzero(t.possible & ~t.online)
    n_on = int(t.online.sum())
    if off.size == 1 and int(t.node_ids[off[0]]) == n_on and (t.node_ids[t.online] < n_on).all():
        return int(off[0])
    return None


def parse_hot_add(text: str, where="--hot-add") -> tuple[int, int]:
    """``(node id, MiB)`` of a hot-add request ``NODE:SIZE`` (``2:256M``).

    >>> parse_hot_add("2:256M"), parse_hot_add("0:1G")
    ((2, 256), (0, 1024))
    """
    node, sep, size = str(text)[:64].partition(":")
    if not sep or not node.strip().isdigit() or len(node.strip()) > 4:
        raise NumalabError("give NODE:SIZE, e.g. 2:256M", input=where)
    b = parse_size(size, where)
    if b % (1 << 20):
        raise NumalabError("the size must be whole MiB", input=where)
    return int(node), b >> 20


#: The guest's memory block size: hot-added memory comes in whole blocks (x86_64 below 64 GiB).
MEMORY_BLOCK_MIB = 128


def _dimms(t: Topology, on, hot_add) -> list:
    """``[(QEMU node, MiB)]`` of the hot-add requests ``[(node id, MiB)]``, checked."""
    out = []
    qemu_of = {int(t.node_ids[i]): k for k, i in enumerate(on.tolist())}
    for nid, mib in hot_add:
        where = f"hot-add {nid}:{mib}M"
        if int(nid) not in qemu_of:
            raise NumalabError(f"node {nid} is not an online node of {t.name}: memory can be hot-added only to a "
                               "node that is online at boot", input=where)
        if int(mib) <= 0 or int(mib) % MEMORY_BLOCK_MIB:
            raise NumalabError(f"the size must be a positive multiple of {MEMORY_BLOCK_MIB} MiB (the guest adds "
                               "memory in whole memory blocks)", input=where)
        if int(mib) > 64 * 1024:
            raise NumalabError("at most 64 GiB per DIMM", input=where)
        out.append((qemu_of[int(nid)], int(mib)))
    if len(out) > 8:
        raise NumalabError(f"{len(out)} DIMMs; at most 8", input="hot-add")
    return out


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
