"""Zonelists exactly as the kernel builds them, per kernel version (vectorized engine).

A zonelist is the order in which the page allocator tries zones. Every node has two:

* FALLBACK (``ZONELIST_FALLBACK``): the zones of every node of the node's *fallback order*,
  highest zone type first inside each node (node order), or, with the legacy
  ``vm.numa_zonelist_order=zone`` of kernels before v4.14, all Normal zones of all nodes before any
  DMA32 zone (zone order);
* NOFALLBACK (``ZONELIST_NOFALLBACK``, used with ``__GFP_THISNODE``): the node's own zones only.

The fallback order comes from ``find_next_best_node()`` called repeatedly by ``build_zonelists()``
(mm/page_alloc.c), for every node in ascending id order inside ``__build_all_zonelists()``:

1. the local node comes first (v6.8+: only when it has memory, :attr:`KernelProfile.skip_memoryless_local`);
2. then, among nodes with memory (N_MEMORY) not yet placed, the one with the smallest
   ``(distance + [n < local] + [n has CPUs] * PENALTY_FOR_NODE_WITH_CPUS) * scale + node_load[n]``,
   ties to the lowest node id; ``scale`` is ``MAX_NUMNODES`` (v5.19+) or
   ``nr_online_nodes * MAX_NUMNODES`` (before);
3. after each pick, the first node of a new distance group gets a ``node_load`` bump:
   ``= load`` (v4.10-v5.15), ``+= load`` (v5.16-v5.18), ``+= 1`` (v5.19+), where ``load`` starts
   at ``nr_online_nodes`` and drops by one per placed node.

``node_load`` is a global array in the kernel that is zeroed once per rebuild and carried from one
node's build to the next: here it is an explicit array (see :attr:`Zonelists.node_load`).

Which CPUs count: the boot-time build runs before the secondary CPUs are added to their node's
cpumask (x86 SMP bring-up comes later), so at boot *no* node counts as having CPUs; a rebuild
(e.g. after memory hot-add) sees every node whose cpumask holds a CPU
(:attr:`numalab.topology.Topology.cpumask_nonempty`: under ``numa=fake=`` every fake node of a
physical node with CPUs, although N_CPU lacks some of them). ``when="boot"`` and
``when="rebuild"`` select the two; the real 6.1 recordings (``penalty-tie`` vs
``penalty-tie-hotplug``) show both.

Vectorization: node_load couples the nodes (node k's order depends on the picks made for nodes
0..k-1), so :func:`build` loops over local nodes in build order. Inside one node's build the
node_load of a not-yet-placed candidate never changes (only the node just picked is bumped, and it
is then used), so the kernel's repeated "pick the minimum, ties to the lowest id" equals one sort
of the candidates by their value: one ``sort`` per local node of keys ``value << shift | index``
(the index in the low bits breaks ties and comes back out), no loop over picks. The FALLBACK
zonelists of all nodes are then one gather (benchmarks/bench_zonelist_c.py: about 30x a plain C
loop of the kernel's rule at 1024 nodes).

Examples
--------
>>> import numpy as np
>>> from numalab.topology import Topology
>>> d = [[10, 11, 21, 21], [11, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]]
>>> pages = np.zeros((4, 5), int); pages[:, 2] = 1000
>>> t = Topology(name="2x2", node_ids=np.arange(4), distance=d, cpu_ids=np.arange(4),
...              cpu_node=np.arange(4), present_pages=pages, managed_pages=pages)
>>> build(t, "5.15").fallback_order(3), build(t, "5.16").fallback_order(3)
([3, 2, 0, 1], [3, 2, 1, 0])
>>> zl = build(t, "6.1")
>>> decode(zl, candidates(zl, 1, gfp_zone("GFP_KERNEL", t)))[:2]
[(1, 'Normal'), (0, 'Normal')]
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .errors import NumalabError
from .gfp import FALLBACK, NOFALLBACK, gfp_zone, zonelist_for  # re-exported (__all__): the zonelist choice of a gfp mask
from .kernel import KernelProfile, profile
from .topology import Topology

__all__ = [
    "PENALTY_FOR_NODE_WITH_CPUS",
    "WHEN",
    "FALLBACK",
    "NOFALLBACK",
    "Zonelists",
    "build",
    "candidate_mask",
    "candidates",
    "decode",
]

#: include/linux/topology.h generic default (ia64 used 255 until ia64 was removed in v6.7).
PENALTY_FOR_NODE_WITH_CPUS = 1
#: ``"boot"``: no node counts as having CPUs; ``"rebuild"``: every node with CPUs does.
WHEN = ("boot", "rebuild")
_INT_MAX = 2**31 - 1

# ----------------------------------------------------------------------------------- result
@dataclasses.dataclass(frozen=True, eq=False)
class Zonelists:
    """Every node's fallback order and zonelists for one topology, kernel release and moment.

    All arrays are read-only and indexed by node *index* (position in ``topology.node_ids``).
    A zoneref code is ``node_index * Z + zone_type`` with ``Z = topology.max_nr_zones``; ``-1``
    pads (the kernel's terminator entry is implicit).

    Attributes
    ----------
    topology, kernel, when, zonelist_order
        The inputs (``zonelist_order`` is ``"node"`` or the legacy ``"zone"``).
    built : (n,) bool
        Nodes whose zonelists ``__build_all_zonelists()`` builds: possible nodes (v5.18+) or
        online nodes (before). Rows of the other nodes are all ``-1``.
    order : (n, n) int64
        Fallback order (node indices) per node; ``order_len`` entries are valid.
    fallback : (n, W) int32
        FALLBACK zonelist per node as zoneref codes; ``fallback_len`` entries are valid (``W`` is
        the longest zonelist, ``n * Z`` for the legacy zone order).
    nofallback : (n, Z) int64
        NOFALLBACK (__GFP_THISNODE) zonelist per node.
    policy_zone : int
        Highest zone type placed in any zonelist, ZONE_MOVABLE excluded (check_highest_zone()).
    node_load : (n, n) int64
        ``node_load[k]`` is the kernel's node_load array (over node indices) when the build of
        node ``k`` starts; the value seen by every pick of that build.
    penalised : (n, n) int64
        ``distance + [n < local] + CPU penalty`` for each (local, candidate).
    scale : int
        The factor the penalised distance is multiplied by before node_load is added.
    cpu_penalised : (n,) bool
        Nodes that pay PENALTY_FOR_NODE_WITH_CPUS at this moment (none at boot).
    """

    topology: Topology
    kernel: KernelProfile
    when: str
    zonelist_order: str
    built: np.ndarray
    order: np.ndarray
    order_len: np.ndarray
    fallback: np.ndarray
    fallback_len: np.ndarray
    nofallback: np.ndarray
    nofallback_len: np.ndarray
    policy_zone: int
    node_load: np.ndarray
    scale: int
    cpu_penalised: np.ndarray

    @property
    def penalised(self) -> np.ndarray:
        """(n, n) int64 ``distance + [n < local] + CPU penalty`` (computed on each access)."""
        return _penalised(self.topology.distance, self.cpu_penalised)

    # -------------------------------------------------------------- convenience views
    @property
    def n_nodes(self) -> int:
        return self.topology.n_nodes

    @property
    def nr_zones(self) -> int:
        return self.topology.max_nr_zones

    @property
    def policy_zone_name(self) -> str:
        return self.topology.zone_types[self.policy_zone]

    def fallback_order(self, node_id: int) -> list:
        """Fallback order of one node as node ids (what the kernel logs)."""
        i = self.topology.index_of(node_id)
        return [int(self.topology.node_ids[j]) for j in self.order[i, : self.order_len[i]]]

    def zonelist(self, node_id: int, which: str = FALLBACK) -> list:
        """One zonelist of one node as ``(node id, zone name)`` pairs."""
        i = self.topology.index_of(node_id)
        return decode(self, self._rows(which)[i])

    def _rows(self, which):
        which = str(which).upper()
        if which == FALLBACK:
            return self.fallback
        if which == NOFALLBACK:
            return self.nofallback
        raise NumalabError("zonelist must be FALLBACK or NOFALLBACK", input=which)

    def to_dict(self) -> dict:
        """JSON-ready summary: ``kernel``, ``when``, ``fallback_order``, ``zonelists``, ``policy_zone``.

        The kernel's boot messages are :func:`numalab.viz.text.boot_log_lines`."""
        t = self.topology
        built_ids = [int(x) for x in t.node_ids[self.built]]
        return {
            "kernel": self.kernel.label,
            "when": self.when,
            "zonelist_order": self.zonelist_order,
            "topology": t.name,
            "nodes": [int(x) for x in t.node_ids],
            "fallback_order": {str(nid): self.fallback_order(nid) for nid in built_ids},
            "zonelists": {str(nid): {"fallback": [list(p) for p in self.zonelist(nid, FALLBACK)],
                                     "nofallback": [list(p) for p in self.zonelist(nid, NOFALLBACK)]}
                          for nid in built_ids},
            "policy_zone": self.policy_zone_name,
            "policy_zone_index": int(self.policy_zone),
            "cpu_penalised_nodes": [int(x) for x in t.node_ids[self.cpu_penalised]],
        }


def _ro(a):
    a.setflags(write=False)
    return a


# ------------------------------------------------------------------------------------ build
def build(topo: Topology, kernel="current", when: str = "boot", *, zonelist_order: str = "node") -> Zonelists:
    """All zonelists of a topology as ``__build_all_zonelists()`` of one kernel release builds them.

    Parameters
    ----------
    topo : Topology
    kernel : str, tuple or KernelProfile
        Kernel release (``"6.1"``, ``"5.15"``, ``"current"``...), see :func:`numalab.kernel.profile`.
    when : {"boot", "rebuild"}
        ``"boot"``: the build at boot, when no node has CPUs in its cpumask yet (the CPU penalty
        does nothing); ``"rebuild"``: a later rebuild (memory hot-add) that sees every CPU node.
    zonelist_order : {"node", "zone"}
        ``"zone"`` is the legacy ``vm.numa_zonelist_order=zone`` (ZONELIST_ORDER_ZONE), only in
        kernels before v4.14.

    Returns
    -------
    Zonelists
        Cached per (topology content, kernel profile, when, zonelist_order); the arrays are
        read-only and shared between equal calls.

    Raises
    ------
    NumalabError
        Unknown ``when``/``zonelist_order``, zone order on v4.14+ (the sysctl refuses it: EINVAL),
        or a topology whose values would overflow the kernel's ``int`` arithmetic.

    Examples
    --------
    >>> pages = np.zeros((4, 5), int); pages[:, 2] = 262144         # 1 GiB of Normal per node
    >>> t = Topology(name="flat4", node_ids=np.arange(4), distance=np.where(np.eye(4, dtype=bool), 10, 20),
    ...              cpu_ids=np.arange(4), cpu_node=np.arange(4), present_pages=pages, managed_pages=pages)
    >>> [build(t).fallback_order(k) for k in range(4)]
    [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 0, 1], [3, 0, 1, 2]]
    """
    if not isinstance(topo, Topology):
        raise NumalabError("expected a numalab Topology", input=type(topo).__name__)
    k = profile(kernel)
    when = str(when).lower()
    if when not in WHEN:
        raise NumalabError("when must be 'boot' or 'rebuild'", input=when)
    zonelist_order = str(zonelist_order).lower()
    if zonelist_order not in ("node", "zone"):
        raise NumalabError("zonelist_order must be 'node' or 'zone'", input=zonelist_order)
    if zonelist_order == "zone" and not k.zone_order_mode:
        raise NumalabError(f"kernel {k.label} has no zone-ordered zonelists (removed in v4.14; "
                           "vm.numa_zonelist_order accepts only 'Node' there)",
                           errno="EINVAL", input=zonelist_order)
    zl = _build_cached(topo, k, when, zonelist_order)
    if zl.topology is not topo:  # an equal machine loaded again: same arrays, this one's name and notes
        zl = dataclasses.replace(zl, topology=topo)
    return zl


@functools.lru_cache(maxsize=64)
def _build_cached(topo, k, when, zonelist_order):
    """The pure builder, cached by value: a :class:`Topology` hashes by its content, a
    :class:`KernelProfile` by its rule variants, so equal inputs share one build (no caller needs
    a cache of its own)."""
    return _build(topo, k, when, zonelist_order)


def _qualifying_zones(topo: Topology, k: KernelProfile) -> np.ndarray:
    """(n, Z) bool: zones build_zonerefs_node() puts on a zonelist (managed or populated)."""
    pages = topo.present_pages if k.zone_qualifier == "populated" else topo.managed_pages
    qual = pages > 0
    if "Device" in topo.zone_types:  # ZONE_DEVICE memory never reaches the buddy allocator
        qual[:, topo.zone_types.index("Device")] = False
    return qual & topo.online[:, None]


def _build(topo: Topology, k: KernelProfile, when: str, zonelist_order: str) -> Zonelists:
    n, Z = topo.n_nodes, topo.max_nr_zones
    idx = np.arange(n)
    built = (topo.possible if k.build_possible_nodes else topo.online).copy()
    has_memory = np.asarray(topo.has_memory, bool)
    # PENALTY_FOR_NODE_WITH_CPUS tests cpumask_of_node(), not N_CPU (they differ under numa=fake=)
    cpu_pen = np.asarray(topo.cpumask_nonempty, bool) if when == "rebuild" else np.zeros(n, bool)
    nr_online = int(topo.online.sum())
    scale = topo.max_numnodes * (nr_online if k.load_scale_online else 1)
    dist = topo.distance
    n_built = int(built.sum())
    max_load = {"assign": nr_online, "accumulate": n_built * (nr_online + 1), "increment": n_built}[k.node_load]
    keys = _penalised(dist, cpu_pen)  # becomes the sort keys below (one (n, n) array, in place)
    if int(keys.max()) * scale + max_load > _INT_MAX:
        raise NumalabError(f"find_next_best_node() values would overflow the kernel's int "
                           f"(scale {scale}); not modelled", errno="EOVERFLOW", input=topo.name)

    order = np.empty((n, n), np.int64)
    order_len = np.zeros(n, np.int64)
    loads = np.empty((n, n), np.int64)
    node_load = np.zeros(n, np.int64)  # the kernel's node_load[], zeroed once per rebuild
    cand_all = np.flatnonzero(has_memory)
    # One sort key per (local, candidate): value * 2**shift + candidate index. The index in the
    # low bits breaks ties towards the lowest id (the kernel's strict '<'), so a plain (unstable,
    # SIMD) sort of the keys equals the kernel's repeated minimum; the index comes back as the
    # low bits. value = penalised * scale + node_load stays below 2**31 (checked above).
    shift = max(int(n - 1).bit_length(), 1)
    low = (1 << shift) - 1
    all_cand = cand_all.size == n
    if not all_cand:
        keys = keys[:, cand_all]
    keys *= scale << shift
    keys += cand_all
    local_first = has_memory | (not k.skip_memoryless_local)
    # placed first: find_next_best_node() returns the local node before scanning (a negative
    # key sorts first and keeps the local index in its low bits)
    lf_rows = np.flatnonzero(local_first & has_memory)
    keys[lf_rows, np.searchsorted(cand_all, lf_rows)] = lf_rows - (1 << shift)
    nr_left = nr_online - np.arange(n)  # 'load' at the i-th pick (assign, accumulate)
    mode = k.node_load
    # Sequential over local nodes (node_load carries over from one node's build to the next);
    # vectorized inside: one sort of the candidates' keys replaces the kernel's repeated minimum.
    key = np.empty(cand_all.size, np.int64)
    built_list = np.flatnonzero(built).tolist()
    if all_cand and mode == "increment" and n:
        # The usual case (v5.19+, every node has memory, so each row holds every node and starts
        # with the local one, whose distance group is never bumped): the same steps with fewer
        # array calls; node_load is kept shifted into the key's high bits.
        nls = np.zeros(n, np.int64)
        one = np.int64(1 << shift)
        for local in built_list:
            loads[local] = nls
            np.add(keys[local], nls, out=key)
            key.sort()
            key &= low
            order[local] = key
            d = np.take(dist[local], key)
            nls[key[1:][d[1:] != d[:-1]]] += one
        loads >>= shift
        order_len[built] = n
        built_list = []
    for local in built_list:
        loads[local] = node_load
        np.add(keys[local], (node_load if all_cand else node_load[cand_all]) << shift, out=key)
        key.sort()
        key &= low
        seq = key
        if local_first[local] and not has_memory[local]:
            seq = np.concatenate(([local], key))   # a memoryless local node, pre-6.8 kernels
        m = seq.size
        order[local, :m] = seq
        if m < n:
            order[local, m:] = -1
        order_len[local] = m
        if not m:
            continue
        # node_load bump: the first node of each new distance group (prev starts as local)
        drow = dist[local]
        d = np.take(drow, seq)
        bump = np.empty(m, bool)
        bump[0] = d[0] != drow[local]
        np.not_equal(d[1:], d[:-1], out=bump[1:])
        tgt = seq[bump]
        if mode == "increment":
            node_load[tgt] += 1
        elif mode == "accumulate":
            node_load[tgt] += nr_left[:m][bump]
        else:  # assign
            node_load[tgt] = nr_left[:m][bump]
    loads[~built] = 0
    order[~built] = -1

    qual = _qualifying_zones(topo, k)
    fallback, fallback_len = _fallback_codes(order, order_len, qual, zonelist_order)
    # NOFALLBACK: the local node's own zones, highest first (build_thisnode_zonelists)
    zt_desc = np.arange(Z)[::-1]
    own = np.where(qual[:, zt_desc], idx[:, None] * Z + zt_desc[None, :], -1)
    own_sorted = -np.sort(-own, axis=1)  # codes of one node ascend with zone type: desc = highest first
    nofallback = np.where(built[:, None], own_sorted, -1)
    nofallback_len = (nofallback >= 0).sum(axis=1)
    # policy_zone: highest zone type appended anywhere, ZONE_MOVABLE excluded (check_highest_zone)
    # (every built row holds every N_MEMORY node, and its local node when that comes first)
    placed = np.zeros(n, bool)
    if built.any():
        placed[cand_all] = True
        placed[built & local_first] = True
    seen = qual[placed].any(axis=0) if placed.any() else np.zeros(Z, bool)
    if "Movable" in topo.zone_types:
        seen[topo.zone_types.index("Movable")] = False
    policy_zone = int(np.flatnonzero(seen).max()) if seen.any() else 0
    return Zonelists(
        topology=topo, kernel=k, when=when, zonelist_order=zonelist_order,
        built=_ro(built), order=_ro(order), order_len=_ro(order_len), fallback=_ro(fallback),
        fallback_len=_ro(fallback_len), nofallback=_ro(nofallback), nofallback_len=_ro(nofallback_len),
        policy_zone=policy_zone, node_load=_ro(loads), scale=int(scale), cpu_penalised=_ro(cpu_pen.copy()))


def _penalised(dist, cpu_pen, cols=None):
    """``distance + [n < local] + CPU penalty`` per (local, candidate), as a new int64 array.

    ``dist`` holds the columns ``cols`` (node indices, default all) of the distance table.
    """
    n = dist.shape[0]
    cols = np.arange(dist.shape[1]) if cols is None else np.asarray(cols)
    out = np.array(dist, np.int64)                       # a copy, changed in place below
    out += cols[None, :] < np.arange(n)[:, None]         # ids ascend with indices
    out += PENALTY_FOR_NODE_WITH_CPUS * np.asarray(cpu_pen, np.int64)[None, :]
    return out


def _fallback_codes(order, order_len, qual, zonelist_order):
    """Concatenate each placed node's qualifying zones (highest first) along every order row.

    All rows at once: the zones of every node sit in one flat table (``codes``, node ``i``'s from
    ``ptr[i]``); the concatenated zonelists of all rows are one gather from it, with one index
    per zoneref made by ``np.repeat`` over the order entries.
    """
    n, Z = qual.shape
    if zonelist_order == "zone":
        return _fallback_codes_zone_order(order, qual)
    zt_desc = np.arange(Z)[::-1]
    per_node = qual[:, zt_desc]
    count = per_node.sum(axis=1)
    r, c = np.nonzero(per_node)                    # row-major: each node's zones, highest first
    codes = (r * Z + zt_desc[c]).astype(np.int32)  # zoneref codes < MAX_NUMNODES * MAX_NR_ZONES
    it = np.int32 if n * n * Z < 2**31 else np.int64  # index width: less memory traffic
    cnt = np.zeros(n + 1, it)                      # entry n: the -1 padding of order (no zones)
    cnt[:n] = count
    ptr = np.zeros(n + 1, it)
    ptr[1:n] = np.cumsum(count)[:-1]
    o = np.where(order >= 0, order, n) if (order < 0).any() else order
    per_entry = np.take(cnt, o)                    # (n, n) zones contributed by each order entry
    lengths = per_entry.sum(axis=1, dtype=np.int64)
    flat = per_entry.ravel()
    first = np.cumsum(flat, dtype=it)              # where each entry's zones start, all rows flat
    total = int(first[-1]) if first.size else 0
    first -= flat
    base = np.take(ptr, o).ravel()
    base -= first
    idx = np.repeat(base, flat)
    idx += np.arange(total, dtype=it)
    vals = np.take(codes, idx)                     # every row's zonerefs in order, rows concatenated
    has = lengths > 0
    L = int(lengths.max()) if n else 0
    out = np.full((n, max(L, 1)), -1, np.int32)    # as wide as the longest zonelist
    if L and np.all(lengths[has] == L):            # usual case: every built row equally long
        out[has] = vals.reshape(-1, L)
    elif vals.size:
        rows = np.repeat(np.arange(n), lengths)
        start = np.cumsum(lengths) - lengths
        out[rows, np.arange(vals.size) - start[rows]] = vals
    return out, lengths.astype(np.int64)


def _fallback_codes_zone_order(order, qual):
    """Legacy ZONELIST_ORDER_ZONE: for each zone type, highest first, every node in node order."""
    n, Z = qual.shape
    out = np.full((n, n * Z), -1, np.int64)
    valid = order >= 0
    oc = np.where(valid, order, 0)
    blocks = []
    for zt in range(Z - 1, -1, -1):
        blocks.append(np.where(valid & qual[oc, zt], oc * Z + zt, -1))
    allc = np.concatenate(blocks, axis=1)          # (n, Z*n) in zone-major order, -1 holes
    keep = allc >= 0
    perm = np.argsort(~keep, axis=1, kind="stable")
    packed = np.take_along_axis(allc, perm, axis=1)
    out[:, : packed.shape[1]] = packed
    return out, keep.sum(axis=1)


# -------------------------------------------------------------------------------- iteration
def _resolve(zl, highest_zoneidx, zonelist):
    if isinstance(highest_zoneidx, str):
        zonelist = zonelist_for(highest_zoneidx) if zonelist is None else zonelist
        highest_zoneidx = gfp_zone(highest_zoneidx, zl.topology)
    return np.asarray(highest_zoneidx, np.int64), zl._rows(FALLBACK if zonelist is None else zonelist)


def candidate_mask(zl: Zonelists, start_index, highest_zoneidx, nodemask=None, *, zonelist=None):
    """Boolean mask over zonelist entries that the allocator's iterator visits.

    ``for_each_zone_zonelist_nodemask()`` visits the entries with ``zone_idx <= highest_zoneidx``
    whose node is in ``nodemask`` (no node filter when ``nodemask`` is None), in zonelist order.

    Parameters
    ----------
    zl : Zonelists
    start_index : int or int array (...)
        Node index whose zonelist is walked (node_zonelist(nid, gfp)).
    highest_zoneidx : int, int array (...) or str
        A zone type index, or a gfp mask name (then also picks FALLBACK/NOFALLBACK).
    nodemask : bool array (..., n) over node indices, optional
    zonelist : {"FALLBACK", "NOFALLBACK"}, optional

    Returns
    -------
    (codes, mask)
        The zonelist rows (..., W) and the broadcast mask (..., W).
    """
    hz, table = _resolve(zl, highest_zoneidx, zonelist)
    start = np.asarray(start_index, np.int64)
    if start.size and (start.min() < 0 or start.max() >= zl.n_nodes):
        raise NumalabError(f"start index outside 0..{zl.n_nodes - 1}", input=start_index)
    rows = table[start]                                   # (S..., W)
    Z = zl.nr_zones
    zone = np.where(rows >= 0, rows % Z, Z)
    node = np.where(rows >= 0, rows // Z, 0)
    mask = (rows >= 0) & (zone <= hz[..., None])
    if nodemask is not None:
        nm = np.asarray(nodemask, bool)
        if nm.shape[-1] != zl.n_nodes:
            raise NumalabError(f"nodemask must have {zl.n_nodes} entries (one per node index) in "
                               f"its last axis, got {nm.shape[-1]}", input=nm.shape)
        shape = np.broadcast_shapes(mask.shape[:-1], nm.shape[:-1])
        nm = np.broadcast_to(nm, shape + nm.shape[-1:])
        node = np.broadcast_to(node, shape + node.shape[-1:])
        mask = np.broadcast_to(mask, shape + mask.shape[-1:]) & np.take_along_axis(nm, node, axis=-1)
    rows = np.broadcast_to(rows, mask.shape)
    return rows, mask


def candidates(zl: Zonelists, start_index, highest_zoneidx, nodemask=None, *, zonelist=None) -> np.ndarray:
    """The zonerefs the allocator tries, in order, as codes compacted to the left and ``-1`` padded.

    Vectorized over leading axes: ``start_index`` (...), ``highest_zoneidx`` (...) and
    ``nodemask`` (..., n) broadcast together. See :func:`candidate_mask` for the parameters.

    Examples
    --------
    >>> pages = np.array([[4096, 262144, 262144, 0, 0], [0, 0, 262144, 0, 0]])  # DMA+DMA32+Normal, Normal
    >>> t = Topology(name="zones", node_ids=[0, 1], distance=[[10, 20], [20, 10]], cpu_ids=[0, 1],
    ...              cpu_node=[0, 1], present_pages=pages, managed_pages=pages)
    >>> zl = build(t, "6.18")
    >>> decode(zl, candidates(zl, 1, "GFP_KERNEL"))
    [(1, 'Normal'), (0, 'Normal'), (0, 'DMA32'), (0, 'DMA')]
    >>> decode(zl, candidates(zl, 1, "GFP_DMA32", nodemask=[False, True]))
    []
    """
    rows, mask = candidate_mask(zl, start_index, highest_zoneidx, nodemask, zonelist=zonelist)
    perm = np.argsort(~mask, axis=-1, kind="stable")
    out = np.take_along_axis(rows, perm, axis=-1)
    keep = np.take_along_axis(mask, perm, axis=-1)
    return np.where(keep, out, -1)


def decode(zl: Zonelists, codes) -> list:
    """Zoneref codes (one row) to ``[(node id, zone name), ...]``, stopping at the first ``-1``."""
    Z = zl.nr_zones
    out = []
    for c in np.asarray(codes).reshape(-1).tolist():
        if c < 0:
            break
        out.append((int(zl.topology.node_ids[c // Z]), zl.topology.zone_types[c % Z]))
    return out
