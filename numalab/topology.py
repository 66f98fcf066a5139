"""The machine: NUMA nodes, their CPUs, memory per zone, node states and SLIT distances.

A :class:`Topology` is an immutable record of arrays, indexed by *node index* ``i`` (position in
``node_ids``), never by node id: node ids may be sparse (``0,1,4,5`` or ``0,8,250-255``).

=====================  =================  ===================================================
field                  shape / type       meaning
=====================  =================  ===================================================
``node_ids``           ``(n,)`` int64     kernel node id of each node index, ascending
``distance``           ``(n, n)`` int64   SLIT distances as the kernel stores them
``cpu_ids``            ``(c,)`` int64     logical CPU ids, ascending
``cpu_node``           ``(c,)`` int64     node index of each CPU
``zone_types``         tuple of str       configured zone types, index = zone type id
                                          (x86_64: DMA, DMA32, Normal, Movable, Device)
``present_pages``      ``(n, z)`` int64   present pages per node and zone type
``managed_pages``      ``(n, z)`` int64   pages managed by the buddy allocator
``possible``           ``(n,)`` bool      N_POSSIBLE (every listed node is possible)
``online``             ``(n,)`` bool      N_ONLINE
``nodes_shift``        int                CONFIG_NODES_SHIFT; MAX_NUMNODES = 1 << nodes_shift
``page_size``          int                bytes per page
``cpumask``            ``(n, c)`` bool    optional: the CPUs in each node's cpumask, when a CPU
                                          is in more than its own node's (``numa=fake=``)
=====================  =================  ===================================================

Two CPU-to-node facts, as in the kernel: ``cpu_node`` is ``cpu_to_node()`` (one node per CPU),
and :attr:`Topology.node_cpumask` is ``cpumask_of_node()`` (what ``nodeN/cpulist`` prints). They
agree except under NUMA emulation (``numa=fake=``, CONFIG_NUMA_EMU): ``numa_add_cpu()``
(arch/x86/mm/numa_emulation.c, mm/numa_emulation.c from v6.14) puts a CPU in the cpumask of
*every* fake node carved from its physical node, while ``numa_emulation()`` points the CPU's
``__apicid_to_node`` entry at the lowest-numbered of those fake nodes (its reverse map of
``emu_nid_to_phys``; ``numa_emu_update_cpu_to_node()`` since the v6.14 move to mm/).

Derived node states follow the kernel: ``has_memory`` (N_MEMORY: an online node with present
pages in some zone), ``has_normal_memory`` (N_NORMAL_MEMORY: present pages in a zone at or below
Normal), ``has_cpu`` (N_CPU: see :attr:`Topology.has_cpu`). A source that records the states
itself (sysfs) may override them through ``state_override``.

Examples
--------
>>> import numpy as np
>>> t = Topology(name="two", node_ids=np.array([0, 1]), distance=np.array([[10, 20], [20, 10]]),
...              cpu_ids=np.array([0, 1]), cpu_node=np.array([0, 1]),
...              present_pages=np.array([[1, 2, 3, 0, 0], [0, 0, 5, 0, 0]]),
...              managed_pages=np.array([[1, 2, 3, 0, 0], [0, 0, 5, 0, 0]]))
>>> t.n_nodes, t.max_numnodes, t.max_nr_zones
(2, 1024, 5)
>>> t.has_memory.tolist(), t.index_of(1)
([True, True], 1)
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .errors import NumalabError

__all__ = ["Topology", "ConfigSizes", "X86_64_ZONES", "ZONE_NORMAL_NAME"]

#: Zone types of an x86_64 distro kernel (CONFIG_ZONE_DMA, _DMA32 and _DEVICE all =y): MAX_NR_ZONES 5.
X86_64_ZONES = ("DMA", "DMA32", "Normal", "Movable", "Device")
ZONE_NORMAL_NAME = "Normal"


def _ro(a, dtype):
    a = np.array(a, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


class ConfigSizes:
    """The kernel sizes a configuration fixes, for anything with ``nodes_shift``
    (CONFIG_NODES_SHIFT) and ``zone_types`` (the configured zones): a :class:`Topology`, a
    :class:`numalab.cost.Config`."""

    __slots__ = ()

    @property
    def max_numnodes(self) -> int:
        """MAX_NUMNODES = 1 << CONFIG_NODES_SHIFT: the width of every nodemask."""
        return 1 << self.nodes_shift

    @property
    def max_nr_zones(self) -> int:
        """MAX_NR_ZONES: number of configured zone types."""
        return len(self.zone_types)


@dataclasses.dataclass(frozen=True, eq=False)
class Topology(ConfigSizes):
    """An immutable NUMA machine description (see the module docstring for the fields)."""

    name: str
    node_ids: np.ndarray
    distance: np.ndarray
    cpu_ids: np.ndarray
    cpu_node: np.ndarray
    present_pages: np.ndarray
    managed_pages: np.ndarray
    zone_types: tuple = X86_64_ZONES
    possible: np.ndarray | None = None
    online: np.ndarray | None = None
    nodes_shift: int = 10
    page_size: int = 4096
    #: Optional recorded node states {"has_memory": bool array, ...} that win over derivation.
    state_override: dict | None = None
    #: Optional ``(n, c)`` bool: cpumask_of_node() over ``cpu_ids`` when it holds more than
    #: ``cpu_node`` says (NUMA emulation); None: each node's cpumask is its own CPUs.
    cpumask: np.ndarray | None = None
    #: Where this came from (file, URL, generator call).
    source: str = ""
    #: Plain-language notes: assumptions made while loading (zones assigned by address, SLIT
    #: table rejected and why, ...).
    notes: tuple = ()
    #: Free-form extra facts (e.g. the machine's model, bandwidth per node for weighted interleave).
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        n = len(np.asarray(self.node_ids))
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass set-up)
        set_("node_ids", _ro(self.node_ids, np.int64).reshape(-1))
        set_("distance", _ro(self.distance, np.int64))
        set_("cpu_ids", _ro(self.cpu_ids, np.int64).reshape(-1))
        set_("cpu_node", _ro(self.cpu_node, np.int64).reshape(-1))
        set_("zone_types", tuple(self.zone_types))
        z = len(self.zone_types)
        set_("present_pages", _ro(self.present_pages, np.int64).reshape(n, z))
        set_("managed_pages", _ro(self.managed_pages, np.int64).reshape(n, z))
        set_("possible", _ro(np.ones(n, bool) if self.possible is None else self.possible, bool))
        set_("online", _ro(np.ones(n, bool) if self.online is None else self.online, bool))
        set_("notes", tuple(self.notes))
        if self.state_override:
            set_("state_override", {k: _ro(v, bool) for k, v in self.state_override.items()})
        if self.cpumask is not None:
            m = np.asarray(self.cpumask, bool)
            if m.shape != (n, self.cpu_ids.size):
                raise NumalabError(f"cpumask is {m.shape}, expected ({n}, {self.cpu_ids.size}): one row "
                                   "per node, one column per CPU", input=self.name or "topology")
            set_("cpumask", _ro(m, bool))
        self._check()

    # ------------------------------------------------------------------ validation
    def _check(self):
        """Reject what no kernel could ever see (the kernel-side SLIT checks live in the loaders)."""
        n = self.node_ids.shape[0]
        where = self.name or "topology"
        if n == 0:
            raise NumalabError("a topology needs at least one node", input=where)
        if np.any(np.diff(self.node_ids) <= 0):
            dup = [int(x) for x in self.node_ids[1:][np.diff(self.node_ids) == 0]]
            problem = f"node id {dup[0]} is listed twice" if dup else "node ids must be ascending"
            raise NumalabError(problem, input=where)
        if self.node_ids[0] < 0 or self.node_ids[-1] >= self.max_numnodes:
            raise NumalabError(f"node ids must lie in 0..{self.max_numnodes - 1} "
                               f"(NODES_SHIFT={self.nodes_shift})", input=where)
        if self.distance.shape != (n, n):
            raise NumalabError(f"distance matrix is {self.distance.shape}, expected ({n}, {n})", input=where)
        if np.any(self.distance < 0) or np.any(self.distance > 255):
            raise NumalabError("distances must lie in 0..255 (one byte per SLIT entry)", input=where)
        if self.cpu_ids.shape != self.cpu_node.shape:
            raise NumalabError("cpu_ids and cpu_node differ in length", input=where)
        if self.cpu_ids.size:
            if np.any(np.diff(np.sort(self.cpu_ids)) == 0):
                ids, counts = np.unique(self.cpu_ids, return_counts=True)
                raise NumalabError(f"CPU {int(ids[counts > 1][0])} is on two nodes", input=where)
            if self.cpu_node.min() < 0 or self.cpu_node.max() >= n:
                raise NumalabError("cpu_node holds a node index outside the topology", input=where)
        if self.cpumask is not None and self.cpu_ids.size:
            own = self.cpumask[self.cpu_node, np.arange(self.cpu_ids.size)]
            if not own.all():
                k = int(np.flatnonzero(~own)[0])
                raise NumalabError(f"CPU {int(self.cpu_ids[k])} is not in the cpumask of its own node "
                                   f"{int(self.node_ids[self.cpu_node[k]])} (cpu_to_node)", input=where)
        if np.any(self.present_pages < 0) or np.any(self.managed_pages < 0):
            raise NumalabError("page counts must not be negative", input=where)
        if np.any(self.managed_pages > self.present_pages):
            raise NumalabError("managed pages exceed present pages", input=where)

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        return int(self.node_ids.shape[0])

    @property
    def nr_node_ids(self) -> int:
        """nr_node_ids: highest possible node id + 1 (get_mempolicy copies this many bits)."""
        return int(self.node_ids[self.possible].max()) + 1 if self.possible.any() else 0

    def zone_index(self, name: str) -> int:
        """Zone type id of a zone type name (``"Normal"`` -> 2 on x86_64)."""
        try:
            return self.zone_types.index(name)
        except ValueError:
            raise NumalabError(f"unknown zone type; this topology has {', '.join(self.zone_types)}",
                               input=name) from None

    # ------------------------------------------------------------------ node states
    def _state(self, key, derived):
        if self.state_override and key in self.state_override:
            return self.state_override[key]
        derived.setflags(write=False)
        return derived

    @functools.cached_property
    def node_cpumask(self) -> np.ndarray:
        """``(n, c)`` bool: cpumask_of_node() of every node over ``cpu_ids`` (``nodeN/cpulist``)."""
        if self.cpumask is not None:
            return self.cpumask
        m = np.zeros((self.n_nodes, self.cpu_ids.size), bool)
        m[self.cpu_node, np.arange(self.cpu_ids.size)] = True
        m.setflags(write=False)
        return m

    @functools.cached_property
    def has_cpu(self) -> np.ndarray:
        """N_CPU: the node state (``has_cpu`` in sysfs).

        ``init_cpu_node_state()`` (mm/vmstat.c, from "mm/vmstat: Avoid on each online CPU loops",
        v4.10) sets it for every online node whose cpumask is not empty, but runs from
        ``init_mm_internals()`` before ``smp_init()``, when only the boot CPU (the lowest CPU id)
        is up; ``vmstat_cpu_online()`` then sets it for ``cpu_to_node()`` of each CPU brought up.
        So N_CPU is the nodes of ``cpu_node`` plus the nodes whose cpumask holds the boot CPU:
        without NUMA emulation simply the nodes with CPUs; under ``numa=fake=`` every fake node of
        the boot CPU's physical node but only the first fake node of the others (recorded: a
        6.1 guest with numa=fake=4 on 2 physical nodes shows has_cpu ``0-2``).
        """
        d = np.zeros(self.n_nodes, bool)
        d[self.cpu_node] = True
        if self.cpu_ids.size:
            d |= self.node_cpumask[:, int(np.argmin(self.cpu_ids))]
        return self._state("has_cpu", d & self.online)

    @functools.cached_property
    def cpumask_nonempty(self) -> np.ndarray:
        """Nodes whose cpumask holds some CPU once every CPU is up: what ``find_next_best_node()``
        tests for PENALTY_FOR_NODE_WITH_CPUS (``cpumask_of_node(n)`` not empty, not N_CPU).

        With a :attr:`cpumask` (NUMA emulation) that is its rows; otherwise the kernel's cpumask
        of a node is empty exactly when the node is not in N_CPU, so it is :attr:`has_cpu`
        (recorded states included). Under ``numa=fake=`` it differs from N_CPU: every fake node of
        a physical node with CPUs is penalised.
        """
        if self.cpumask is None:
            return self.has_cpu
        d = self.cpumask.any(axis=1) & self.online
        d.setflags(write=False)
        return d

    @functools.cached_property
    def has_memory(self) -> np.ndarray:
        """N_MEMORY: online nodes with present pages in some (non-device) zone."""
        z = [i for i, t in enumerate(self.zone_types) if t != "Device"]
        d = (self.present_pages[:, z].sum(axis=1) > 0) & self.online
        return self._state("has_memory", d)

    @functools.cached_property
    def has_normal_memory(self) -> np.ndarray:
        """N_NORMAL_MEMORY: present pages in a zone at or below ZONE_NORMAL."""
        hi = self.zone_types.index(ZONE_NORMAL_NAME) if ZONE_NORMAL_NAME in self.zone_types else 0
        d = (self.present_pages[:, : hi + 1].sum(axis=1) > 0) & self.online
        return self._state("has_normal_memory", d)

    # ------------------------------------------------------------------ lookups
    @functools.cached_property
    def _index(self) -> dict:
        return {int(nid): i for i, nid in enumerate(self.node_ids)}

    def index_of(self, node_id: int) -> int:
        """Node index of a node id; a node id the topology lacks is an error."""
        try:
            return self._index[int(node_id)]
        except KeyError:
            raise NumalabError(f"no node {node_id} in topology {self.name!r} "
                               f"(nodes: {', '.join(map(str, self.node_ids.tolist()))})",
                               input=node_id) from None

    def cpus_of(self, node_index: int) -> np.ndarray:
        """CPU ids whose ``cpu_to_node()`` is this node index (see :meth:`cpumask_of`)."""
        return self.cpu_ids[self.cpu_node == node_index]

    def cpumask_of(self, node_index: int) -> np.ndarray:
        """CPU ids in this node index's cpumask: what ``nodeN/cpulist`` prints (``cpumask_of_node()``).
        The same as :meth:`cpus_of` except under NUMA emulation.

        >>> pages = np.ones((3, 5), int)
        >>> t = Topology(name="fake", node_ids=[0, 1, 2], distance=[[10, 20, 10], [20, 10, 20], [10, 20, 10]],
        ...              cpu_ids=[0, 1], cpu_node=[0, 1], present_pages=pages, managed_pages=pages,
        ...              cpumask=[[1, 0], [0, 1], [1, 0]])   # numa=fake=3 on 2 physical nodes
        >>> t.cpumask_of(2).tolist(), t.cpus_of(2).tolist(), t.node_of_cpu(0)
        ([0], [], 0)
        >>> t.has_cpu.tolist(), t.cpumask_nonempty.tolist()
        ([True, True, True], [True, True, True])
        """
        return self.cpu_ids[self.node_cpumask[node_index]]

    def node_of_cpu(self, cpu: int) -> int:
        """Node id of a CPU id: ``cpu_to_node()``."""
        hit = np.flatnonzero(self.cpu_ids == int(cpu))
        if not hit.size:
            raise NumalabError(f"no CPU {cpu} in topology {self.name!r}", input=cpu)
        return int(self.node_ids[self.cpu_node[hit[0]]])

    def mask(self, per_node: np.ndarray) -> np.ndarray:
        """Scatter a per-node-index boolean array into a MAX_NUMNODES-bit nodemask (by node id)."""
        per_node = np.asarray(per_node, bool)
        out = np.zeros(per_node.shape[:-1] + (self.max_numnodes,), bool)
        out[..., self.node_ids] = per_node
        return out

    def gather(self, mask: np.ndarray) -> np.ndarray:
        """Gather a nodemask (``(..., nbits)``) onto node indices (``(..., n)``)."""
        mask = np.asarray(mask, bool)
        ids = self.node_ids
        inside = ids < mask.shape[-1]
        out = np.zeros(mask.shape[:-1] + (self.n_nodes,), bool)
        out[..., inside] = mask[..., ids[inside]]
        return out

    def replace(self, **changes) -> "Topology":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def __eq__(self, other):
        if not isinstance(other, Topology):
            return NotImplemented
        arrays = ("node_ids", "distance", "cpu_ids", "cpu_node", "present_pages", "managed_pages",
                  "possible", "online")
        return (self.zone_types == other.zone_types and self.nodes_shift == other.nodes_shift
                and self.page_size == other.page_size
                and all(np.array_equal(getattr(self, a), getattr(other, a)) for a in arrays)
                and np.array_equal(self.node_cpumask, other.node_cpumask)
                and all(np.array_equal(getattr(self, s), getattr(other, s))
                        for s in ("has_memory", "has_cpu", "has_normal_memory")))

    def __hash__(self):
        """Hash of the content :meth:`__eq__` compares (computed once): two loads of the same
        machine are equal and hash alike, so caches keyed by a topology (the zonelist build) hit."""
        h = self.__dict__.get("_content_hash")
        if h is None:
            arrays = ("node_ids", "distance", "cpu_ids", "cpu_node", "present_pages", "managed_pages",
                      "possible", "online", "has_memory", "has_cpu", "has_normal_memory", "node_cpumask")
            parts = [self.zone_types, int(self.nodes_shift), int(self.page_size)]
            for a in arrays:
                v = np.asarray(getattr(self, a))
                parts.append((v.shape, np.ascontiguousarray(v, np.int64).tobytes()))
            h = hash(tuple(parts))
            object.__setattr__(self, "_content_hash", h)
        return h

    def __repr__(self):
        return (f"Topology({self.name!r}, nodes={self.node_ids.tolist()}, cpus={self.cpu_ids.size}, "
                f"zones={self.zone_types}, NODES_SHIFT={self.nodes_shift})")
