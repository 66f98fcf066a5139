"""What per-cpuset zonelists would cost in memory, and what they would save.

Today every possible node's ``pg_data_t`` embeds two zonelists (``node_zonelists[MAX_ZONELISTS]``,
FALLBACK and NOFALLBACK), each ``_zonerefs[MAX_NUMNODES * MAX_NR_ZONES + 1]`` of 16-byte
``struct zoneref`` (include/linux/mmzone.h): ``2 * 16 * (N*Z + 1)`` bytes per node, 163,872 B
with NODES_SHIFT 10 and five zone types. The 2017 proposal (Babka, LSF/MM) gives every cpuset
its own lists and drops ``task->mems_allowed`` and ``task->mems_allowed_seq``.

The model counts bytes of the added structures (``sizeof``, no allocator rounding), without
building a single list:

* per non-root cpuset: a pointer to its list set (8 B, in ``struct cpuset``);
* per list set: a header of 24 B (``struct rcu_head`` 16 B for freeing after a swap, plus a
  ``refcount_t`` 4 B padded to 8) and, per listed start node and list kind, a pointer (8 B) to
  the list and the list itself:

  - ``size="static"``: ``16 * (N*Z + 1)`` like today's embedded lists;
  - ``size="exact"``: ``16 * (entries + 1)``, the entries being the populated zones of the nodes
    the list holds (hardwall FALLBACK: the cpuset's nodes; hardwall NOFALLBACK: the start node's
    zones if it is in the cpuset, else none; softwall FALLBACK "first": every memory node);

* list kinds: hardwall FALLBACK always; hardwall NOFALLBACK when ``nofallback="cpuset"``;
  softwall FALLBACK only when ``softwall="first"`` (``"ancestor"`` reuses the ancestor's
  hardwall lists, ``"system"`` the pgdat lists); ``hardwall`` (filter/rebuild) does not change sizes;
* ``nodes="all"``: lists for every possible node; ``"start"``: only for the nodes of the cpuset's
  CPUs (nodes named by its tasks' policies are unknown from a cgroup tree and not counted);
* ``shared=True``: cpusets with equal lists (same task mems and start nodes) share one
  refcounted list set, charged to the first such cpuset; the others pay only their pointer.

Saved: per task (thread) ``mems_allowed`` (``nodemask_t``, ``ceil(N/64) * 8`` B) and
``mems_allowed_seq`` (``seqcount_spinlock_t``, 4 B without lockdep), for every task of the
system (root cgroup included).

Examples
--------
>>> from numalab import sources, cgsets
>>> t = sources.load("sockets-2x2")
>>> r = cost(t, "debian-6.1-amd64", cgsets.generate(t, 4, "node", tasks=10), ["exact-ancestor"])
>>> r.today_bytes, int(r.variants["exact-ancestor"].total_bytes), r.variants["exact-ancestor"].saved_bytes
(655488, 1376, 5280)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import NumalabError
from .kernel import profile
from .topology import ConfigSizes, Topology

__all__ = ["Config", "CONFIGS", "config", "Design", "DESIGNS", "design", "CostResult", "VariantCost",
           "cost", "zonelist_bytes", "ZONEREF_BYTES", "HEADER_BYTES", "POINTER_BYTES"]

ZONEREF_BYTES = 16
POINTER_BYTES = 8
#: rcu_head (16) + refcount_t (4) padded to 8.
HEADER_BYTES = 24
SEQCOUNT_BYTES = 4


@dataclasses.dataclass(frozen=True)
class Config(ConfigSizes):
    """A kernel configuration: CONFIG_NODES_SHIFT and the configured zone types, with its source
    (``max_numnodes``, ``max_nr_zones`` as for a :class:`~numalab.topology.Topology`)."""

    name: str
    nodes_shift: int
    zone_types: tuple
    source: str

    @property
    def nodemask_bytes(self) -> int:
        return -(-self.max_numnodes // 64) * 8


_X86 = ("DMA", "DMA32", "Normal", "Movable", "Device")
#: Named kernel configurations and where their values come from.
CONFIGS = {
    "debian-6.1-amd64": Config(
        "debian-6.1-amd64", 10, _X86,
        "Debian 12 linux-headers-6.1.0-57-amd64 (6.1.192-3), /usr/src/linux-headers-6.1.0-57-amd64/.config: "
        "CONFIG_NODES_SHIFT=10 (CONFIG_MAXSMP=y), CONFIG_ZONE_DMA=y, CONFIG_ZONE_DMA32=y, CONFIG_ZONE_DEVICE=y; "
        "kernel-truth README: 163,872 B of zonelists per node"),
    "debian-6.12-amd64": Config(
        "debian-6.12-amd64", 10, _X86,
        "Debian linux-headers-6.12.107+deb12-amd64 (6.12.107-1~deb12u1), its .config: CONFIG_NODES_SHIFT=10 "
        "(CONFIG_MAXSMP=y), CONFIG_ZONE_DMA=y, CONFIG_ZONE_DMA32=y, CONFIG_ZONE_DEVICE=y"),
    "x86_64-default": Config(
        "x86_64-default", 6, _X86[:4],
        "arch/x86/Kconfig: NODES_SHIFT 'default 6 if X86_64'; ZONE_DMA and ZONE_DMA32 y, ZONE_DEVICE off "
        "(mm/Kconfig has no default), so 4 zone types"),
    "x86_64-maxsmp": Config(
        "x86_64-maxsmp", 10, _X86[:4],
        "arch/x86/Kconfig: NODES_SHIFT 'default 10 if MAXSMP'; zone types as x86_64-default"),
    "arm64-default": Config(
        "arm64-default", 4, ("DMA", "DMA32", "Normal", "Movable"),
        "arch/arm64/Kconfig: NODES_SHIFT default 4 (2 before ~v5.10; exact release unverified, reference "
        "section 2); ZONE_DMA and ZONE_DMA32 default y, ZONE_DEVICE off"),
}


def config(name=None, *, nodes_shift=None, zones=None) -> Config:
    """A named configuration, or a custom one from ``nodes_shift`` (0..10) and ``zones`` (1..8)."""
    if name is not None:
        if nodes_shift is not None or zones is not None:
            raise NumalabError("give a configuration name or --nodes-shift/--zones, not both", input=name)
        if name not in CONFIGS:
            raise NumalabError(f"unknown kernel configuration; known: {', '.join(CONFIGS)}", input=name)
        return CONFIGS[name]
    if nodes_shift is None or zones is None:
        raise NumalabError("a custom configuration needs both --nodes-shift and --zones", input="config")
    s, z = nodes_shift, zones
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= int(s) <= 10:
        raise NumalabError("NODES_SHIFT must lie in 0..10 (the Kconfig range)", input=s)
    if isinstance(z, bool) or not isinstance(z, (int, np.integer)) or not 1 <= int(z) <= 8:
        raise NumalabError("the number of zone types must lie in 1..8", input=z)
    names = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device", "Z6", "Z7")
    types = {1: ("Normal",), 2: ("Normal", "Movable"), 3: ("DMA32", "Normal", "Movable"),
             4: _X86[:4], 5: _X86}.get(int(z), names[: int(z)])
    return Config(f"nodes_shift={int(s)},zones={int(z)}", int(s), types, "custom (--nodes-shift/--zones)")


def zonelist_bytes(cfg: Config, entries=None):
    """Bytes of one zonelist: static ``16 * (N*Z + 1)``, or ``16 * (entries + 1)`` when given."""
    if entries is None:
        return ZONEREF_BYTES * (cfg.max_numnodes * cfg.max_nr_zones + 1)
    return ZONEREF_BYTES * (np.asarray(entries, np.int64) + 1)


@dataclasses.dataclass(frozen=True)
class Design:
    """One per-cpuset zonelist design: a named, documented option.

    Fields
    ------
    hardwall : {"filter", "rebuild"}
        Hardwall lists made by filtering the system zonelists to the cpuset's nodes (order kept),
        or by running find_next_best_node() on the cpuset's nodes alone (replaces the nodemask
        filtering of prepare_alloc_pages()/__cpuset_zone_allowed()).
    softwall : {"first", "ancestor", "system"}
        Lists for softwall (no __GFP_HARDWALL) slow-path requests: the cpuset's nodes first then
        every other node; the nearest hardwall ancestor's hardwall lists; or the system zonelists
        (replaces the row-6 escape of __cpuset_node_allowed()).
    nofallback : {"cpuset", "node"}
        __GFP_THISNODE lists per cpuset (empty when the node is outside it), or the node's own.
    nodes : {"all", "start"}
        Lists for every possible node, or only for the nodes of the cpuset's CPUs and the nodes
        its tasks' policies name; a request starting elsewhere uses the list of the first node of
        its start node's system fallback order that has one.
    size : {"static", "exact"}
        Memory only: lists sized like today's, or exactly (populated zones + terminator).
    shared : bool
        Memory only: cpusets with equal lists share them (refcounted cache).
    oom : {"system", "cpuset"}
        Fast path of an OOM victim whose policy passes a nodemask (BIND): the system zonelists,
        as today's per-zone check lets OOM victims through for every node (row 3), or the
        cpuset's hardwall list like every other task.
    """

    name: str
    hardwall: str = "filter"
    softwall: str = "ancestor"
    nofallback: str = "cpuset"
    nodes: str = "all"
    size: str = "static"
    shared: bool = False
    summary: str = ""
    oom: str = "system"

    def __post_init__(self):
        for field, allowed in (("hardwall", ("filter", "rebuild")), ("softwall", ("first", "ancestor", "system")),
                               ("nofallback", ("cpuset", "node")), ("nodes", ("all", "start")),
                               ("size", ("static", "exact")), ("oom", ("system", "cpuset"))):
            if getattr(self, field) not in allowed:
                raise NumalabError(f"{field} must be one of {', '.join(allowed)}", input=getattr(self, field))

    @property
    def behaviour(self) -> tuple:
        """The fields that change which zones an allocation may take (not size/shared)."""
        return (self.hardwall, self.softwall, self.nofallback, self.nodes, self.oom)

    def spec(self) -> str:
        return (f"hardwall={self.hardwall},softwall={self.softwall},nofallback={self.nofallback},"
                f"nodes={self.nodes},size={self.size},shared={'yes' if self.shared else 'no'},oom={self.oom}")


_D = Design
#: The named designs (``numalab compare/cost --variant NAME``).
DESIGNS = {d.name: d for d in (
    _D("static-system", "filter", "system", "cpuset", "all", "static", False,
       "the email as written: hardwall lists filtered from the system lists, softwall = system zonelists"),
    _D("static-first", "filter", "first", "cpuset", "all", "static", False,
       "the email's other softwall option: the cpuset's nodes first, then every other node"),
    _D("static-ancestor", "filter", "ancestor", "cpuset", "all", "static", False,
       "softwall requests use the nearest hardwall ancestor's lists (today's escape rule)"),
    _D("rebuild-ancestor", "rebuild", "ancestor", "cpuset", "all", "static", False,
       "hardwall lists rebuilt by the fallback-order rule on the cpuset's nodes (at run time)"),
    _D("exact-ancestor", "filter", "ancestor", "cpuset", "all", "exact", False,
       "static-ancestor with exact-size lists"),
    _D("shared-exact-ancestor", "filter", "ancestor", "cpuset", "all", "exact", True,
       "exact-ancestor with lists shared between cpusets with equal mems"),
    _D("shared-exact-ancestor-start", "filter", "ancestor", "cpuset", "start", "exact", True,
       "shared-exact-ancestor with lists only for the start nodes a cpuset can use"),
    _D("node-nofallback", "filter", "ancestor", "node", "all", "exact", True,
       "shared-exact-ancestor with __GFP_THISNODE served from the node's own list (no cpuset list)"),
    _D("oom-cpuset", "filter", "ancestor", "cpuset", "all", "static", False,
       "static-ancestor, but OOM victims' BIND allocations use the cpuset's list in the fast path too",
       "cpuset"),
)}


def design(spec) -> Design:
    """A named design, or ``key=value,...`` over the :class:`Design` fields (others default).

    >>> design("hardwall=rebuild,softwall=first").behaviour
    ('rebuild', 'first', 'cpuset', 'all', 'system')
    """
    if isinstance(spec, Design):
        return spec
    s = str(spec).strip()
    if s in DESIGNS:
        return DESIGNS[s]
    if "=" not in s:
        raise NumalabError(f"unknown variant; named: {', '.join(DESIGNS)}; or key=value,... over "
                           "hardwall, softwall, nofallback, nodes, size, shared, oom", input=s)
    kw = {}
    for part in s.split(","):
        if "=" not in part:
            raise NumalabError("expected key=value", input=part)
        k, v = (x.strip() for x in part.split("=", 1))
        if k not in ("hardwall", "softwall", "nofallback", "nodes", "size", "shared", "oom"):
            raise NumalabError("unknown variant field", input=k)
        if k == "shared":
            if v not in ("yes", "no", "true", "false"):
                raise NumalabError("shared must be yes or no", input=v)
            kw[k] = v in ("yes", "true")
        else:
            kw[k] = v
    return Design(name=s, **kw)


@dataclasses.dataclass(frozen=True)
class VariantCost:
    """Bytes of one design: ``total_bytes`` added, ``saved_bytes`` removed, per cpuset (K,)."""

    design: Design
    total_bytes: int
    saved_bytes: int
    per_cpuset: np.ndarray
    list_sets: int


@dataclasses.dataclass(frozen=True)
class CostResult:
    """:func:`cost` output. ``to_dict`` gives the ``numalab cost --json`` document."""

    config: Config
    topology: str
    possible_nodes: int
    today_bytes: int
    tasks: int
    cpusets: object
    variants: dict

    def to_dict(self, per_cpuset_limit=None) -> dict:
        from .cpuset import format_nodes

        cs = self.cpusets
        K = len(cs)
        lim = K if per_cpuset_limit is None else min(K, int(per_cpuset_limit))
        t = cs.topology
        mems = [format_nodes(t.mask(cs.mems[i])) for i in range(lim)]
        out = {"today_bytes": int(self.today_bytes), "config": dataclasses.asdict(self.config),
               "topology": self.topology, "possible_nodes": self.possible_nodes, "cpusets": K,
               "cpusets_source": cs.source, "tasks": self.tasks,
               "tasks_note": "threads whose task_struct would lose mems_allowed and mems_allowed_seq "
                             f"({self.config.nodemask_bytes} + {SEQCOUNT_BYTES} B each)",
               "variants": {}}
        for name, v in self.variants.items():
            out["variants"][name] = {
                "total_bytes": int(v.total_bytes), "saved_bytes": int(v.saved_bytes),
                "net_bytes": int(v.total_bytes) - int(v.saved_bytes), "list_sets": int(v.list_sets),
                "design": v.design.spec(),
                "per_cpuset": [{"path": cs.paths[i], "mems": mems[i], "bytes": int(v.per_cpuset[i])}
                               for i in range(lim)]}
            if lim < K:
                out["variants"][name]["per_cpuset_truncated"] = K - lim
        return out


def cost(topo: Topology, cfg, cpusets, variants=None, *, kernel="current") -> CostResult:
    """Memory of per-cpuset zonelists for every design in ``variants`` (default: all named).

    Vectorized over cpusets: counts come from per-node zone counts and mask sums; no list is built.

    Parameters
    ----------
    topo : Topology
    cfg : Config or str
    cpusets : numalab.cgsets.Cpusets
    variants : list of Design or str, optional
    kernel : str
        Which zones count as populated for exact sizes (build_zonerefs_node's qualifier).
    """
    cfg = config(cfg) if isinstance(cfg, str) else cfg
    k = profile(kernel)
    if int(topo.node_ids.max()) >= cfg.max_numnodes:
        raise NumalabError(f"node {int(topo.node_ids.max())} does not fit MAX_NUMNODES {cfg.max_numnodes} "
                           f"of configuration {cfg.name}", input=topo.name)
    if cpusets.topology is not topo and cpusets.mems.shape[1] != topo.n_nodes:
        raise NumalabError("cpusets belong to another topology", input=topo.name)
    designs = [design(v) for v in (variants or list(DESIGNS))]
    pages = topo.present_pages if k.zone_qualifier == "populated" else topo.managed_pages
    qual = (pages > 0) & np.asarray(topo.online, bool)[:, None]
    if "Device" in topo.zone_types:
        qual[:, topo.zone_types.index("Device")] = False
    zones = qual.sum(axis=1).astype(np.int64)                # (n,) populated zones per node
    possible = np.asarray(topo.possible, bool)
    n_possible = int(possible.sum())
    static = int(zonelist_bytes(cfg))
    today = n_possible * 2 * static
    mems = np.asarray(cpusets.mems, bool)
    K = mems.shape[0]
    all_zones = int(zones[topo.has_memory].sum())
    tasks = cpusets.total_tasks
    saved = tasks * (cfg.nodemask_bytes + SEQCOUNT_BYTES)
    out = {}
    z_in = mems.astype(np.int32) @ zones.astype(np.int32)       # entries of each hardwall FALLBACK list
    cache = {}
    for d in designs:
        if d.nodes not in cache:
            starts = np.broadcast_to(possible, mems.shape) if d.nodes == "all" else (cpusets.cpu_nodes & possible)
            n_starts = starts.sum(axis=1).astype(np.int64)
            own = (starts & mems).astype(np.int32) @ zones.astype(np.int32)   # allowed start nodes' zones
            cache[d.nodes] = (starts, n_starts, own.astype(np.int64), {})
        starts, n_starts, own, owners = cache[d.nodes]
        if d.size == "static":
            fb = nofb = soft = n_starts * (POINTER_BYTES + static)
        else:
            fb = n_starts * (POINTER_BYTES + ZONEREF_BYTES * (z_in + 1))
            nofb = n_starts * (POINTER_BYTES + ZONEREF_BYTES) + ZONEREF_BYTES * own
            soft = n_starts * (POINTER_BYTES + ZONEREF_BYTES * (all_zones + 1))
        per_set = HEADER_BYTES + fb + (nofb if d.nofallback == "cpuset" else 0) \
            + (soft if d.softwall == "first" else 0)
        if d.shared:
            if "owner" not in owners:
                # equal lists <=> equal (task mems, start nodes): one row of bytes per cpuset
                key = np.packbits(np.concatenate([mems, starts], axis=1), axis=1)
                key = np.ascontiguousarray(key).view(np.dtype((np.void, key.shape[1]))).ravel()
                _, first = np.unique(key, return_index=True)
                owner = np.zeros(K, bool)
                owner[first] = True
                owners["owner"] = owner
            owner = owners["owner"]
        else:
            owner = np.ones(K, bool)
        per = POINTER_BYTES + np.where(owner, per_set, 0)
        out[d.name] = VariantCost(d, int(per.sum()), int(saved), per.astype(np.int64), int(owner.sum()))
    return CostResult(cfg, topo.name, n_possible, int(today), int(tasks), cpusets, out)
