"""Candidate zones of an allocation: today's rules and those of per-cpuset zonelists.

A *request* is one page allocation: the task's cpuset, its task or VMA policy (LOCAL/default,
PREFERRED, BIND, PREFERRED_MANY; an interleave allocation is a PREFERRED one at the interleave node), the node
of the CPU it runs on, a gfp mask and the context (ordinary task, OOM victim, exiting task,
interrupt). Its *candidates* are the zones the allocator may take, in the order it tries them,
on two paths (mm/page_alloc.c, v6.x, reference section 6):

* **fast path** (``get_page_from_freelist`` from ``__alloc_pages``): ``prepare_alloc_pages``
  adds ``__GFP_HARDWALL``; in task context a NULL nodemask becomes ``&current->mems_allowed``,
  otherwise (a BIND nodemask, or interrupt context) ``ALLOC_CPUSET`` makes every zone pass
  ``__cpuset_zone_allowed`` - where an OOM victim passes for every node (row 3) and an interrupt
  for every node (row 1);
* **slow path** (``__alloc_pages_slowpath``): the caller's gfp (no forced hardwall) with
  ``ALLOC_CPUSET``, so a softwall request (GFP_KERNEL) may use the nearest hardwall ancestor's
  mems (row 6) and an exiting task any node (row 5); non-blocking ``__GFP_HIGH`` (GFP_ATOMIC)
  clears ALLOC_CPUSET and OOM victims get ALLOC_OOM reserves - both drop the nodemask, so any
  zone of the zonelist; no zone for the nodemask in the start node's zonelist at all (e.g.
  ``__GFP_THISNODE`` on a memoryless node), or (v5.16+, ``cpusets_insane_config``) a
  hardwall request whose cpuset has no zone at or below the request's highest zone, ends in
  ``nopage`` (the slow path takes nothing).

Versions: before v5.9 (variant ``irq_mems_substitution``) ``prepare_alloc_pages`` substituted the
interrupted task's mems_allowed in interrupt context too, so an interrupt's fast path keeps to that
task's cpuset. v4.10-v4.11 set ``ALLOC_CPUSET`` next to the substitution; that changes no candidate
(every zone the substitution leaves passes the per-zone check: ``__cpuset_node_allowed`` row 2, or
row 1 in interrupt context), so it is no variant.

MPOL_PREFERRED_MANY (v5.15+) allocates twice (``alloc_pages_preferred_many`` in mm/mempolicy.c,
added by Feng Tang's MPOL_PREFERRED_MANY series, co-developed by Ben Widawsky; commit id not
checked against a tree): first ``__alloc_pages`` with the
policy's nodes from the local node, the gfp with ``__GFP_NOWARN`` and without
``__GFP_DIRECT_RECLAIM``/``__GFP_NOFAIL`` (no direct reclaim only makes the slow path give up
sooner; it changes no candidate); if that fails, ``__alloc_pages`` with the caller's gfp and a NULL
nodemask. Its nodemask is passed as is (no ``apply_policy_zone``, no cpuset test), so when it
misses mems_allowed the first pass's fast path finds nothing (but for an OOM victim, whose
per-zone check passes every node) and its slow path, at ``nopage``,
has ``check_retry_cpuset`` drop the nodemask and restart. :class:`Candidates` keeps the second
pass apart (``retry_fast``/``retry_slow``).

Not modelled: THP's ``__GFP_THISNODE`` first try, and the home node of BIND/PREFERRED_MANY.

Policies enter through ``policy_nodemask``/``policy_node`` (mm/mempolicy.c): PREFERRED starts
at its node's zonelist; BIND passes its nodes only if the request's highest zone is at least
``policy_zone`` (``apply_policy_zone``) and they intersect mems_allowed, else it falls back to the
cpuset alone; ``__GFP_THISNODE`` and interrupt allocations use the default policy, and
``__GFP_THISNODE`` walks the NOFALLBACK zonelist (``gfp_zonelist``).

Under a per-cpuset zonelist design (:class:`numalab.cost.Design`) the candidates are the
cpuset's list for the start node, filtered by the policy nodemask and the highest zone, with
no per-zone cpuset check (the ``nopage`` check stays on the start node's system zonelist):
fast path = the hardwall list; slow path = the hardwall list for
``__GFP_HARDWALL`` requests, the softwall list for other task requests, and the system
zonelists where today's per-zone check lets everything through (interrupt, OOM victim and
GFP_ATOMIC reserves, exiting tasks' softwall requests, and - with ``oom="system"`` - an OOM
victim's fast path when its policy passes a nodemask). The proposal would replace
``__cpuset_zone_allowed``/``__cpuset_node_allowed`` and the mems_allowed substitution in
``prepare_alloc_pages``.

Results are rank arrays over zoneref codes (``node_index * Z + zone``): ``rank[b, code]`` is the
position at which request ``b`` tries that zone, -1 if never. Everything is vectorized over the
batch: the rules are array expressions over node masks, the walks one gather-filter-compact.

Examples
--------
>>> from numalab import zonelist as zlm, cgsets
>>> from numalab.topology import Topology
>>> d = [[10 if i == j else 20 for j in range(4)] for i in range(4)]
>>> pages = np.zeros((4, 5), np.int64); pages[:, 2] = 262144   # 1 GiB of Normal per node
>>> t = Topology(name="A-flat4", node_ids=np.arange(4), distance=d, cpu_ids=np.arange(4),
...              cpu_node=np.arange(4), present_pages=pages, managed_pages=pages)
>>> zl = zlm.build(t, "6.12")
>>> cs = cgsets.Cpusets(t, ("/job",), np.array([[0, 0, 1, 1]], bool), np.ones((1, 4), bool),
...                     np.array([-1]), np.array([[0, 0, 1, 1]], bool), np.array([1]))
>>> req = requests(cs, [dict(cpuset="/job", cpu=0, gfp="GFP_KERNEL"), dict(cpuset="/job", cpu=0, gfp="GFP_USER")])
>>> c = today(zl, req)
>>> [decode(zl, r) for r in c.fast], [decode(zl, r) for r in c.slow]
([[(2, 'Normal'), (3, 'Normal')], [(2, 'Normal'), (3, 'Normal')]], [[(0, 'Normal'), (1, 'Normal'), (2, 'Normal'), (3, 'Normal')], [(2, 'Normal'), (3, 'Normal')]])
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import gfp as gfpmod
from . import zonelist as zlm
from .cost import Design, design as _design
from .errors import NumalabError

__all__ = ["GFPS", "DEFAULT_GFPS", "CONTEXTS", "MODES", "Requests", "requests", "Candidates", "Lists",
           "system_lists", "proposal_lists", "today", "proposal", "walks_today", "walks_proposal",
           "evaluate", "decode", "to_ranks"]

#: gfp masks a request may carry: (has __GFP_HARDWALL, is non-blocking with __GFP_HIGH).
GFPS = {
    "GFP_KERNEL": (False, False), "GFP_USER": (True, False), "GFP_HIGHUSER": (True, False),
    "GFP_HIGHUSER_MOVABLE": (True, False), "GFP_ATOMIC": (False, True), "GFP_NOWAIT": (False, False),
    "GFP_NOIO": (False, False), "GFP_NOFS": (False, False), "GFP_DMA32": (False, False),
    "GFP_TRANSHUGE": (True, False), "GFP_TRANSHUGE_LIGHT": (True, False),
}
#: The gfp masks of ``numalab compare``'s exhaustive run.
DEFAULT_GFPS = ("GFP_USER", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL", "GFP_ATOMIC", "GFP_KERNEL|__GFP_THISNODE")
CONTEXTS = ("task", "oom_victim", "exiting", "interrupt")
MODES = ("local", "preferred", "bind", "preferred_many")
_TASK, _OOM, _EXIT, _IRQ = range(4)
_LOCAL, _PREF, _BIND, _PM = range(4)
SYS_FB, SYS_NOFB = 0, 1


def _gfp_props(name: str, topo):
    """(highest zone index, hardwall, thisnode, atomic) of a gfp name like ``GFP_KERNEL|__GFP_THISNODE``.

    The mask is read by :func:`numalab.gfp.gfp_names` (the one gfp grammar); this model takes one
    composite mask of :data:`GFPS`, optionally with ``__GFP_THISNODE``.
    """
    try:
        parts = gfpmod.gfp_names(name)
    except NumalabError:
        parts = ()
    base = [p for p in parts if p != "__GFP_THISNODE"]
    if len(base) != 1 or base[0] not in GFPS or len(parts) - len(base) > 1:
        raise NumalabError(f"unsupported gfp; use one of {', '.join(GFPS)}, optionally |__GFP_THISNODE",
                           input=name)
    hard, atomic = GFPS[base[0]]
    return gfpmod.gfp_zone(base[0], topo), hard, len(parts) > len(base), atomic


# ------------------------------------------------------------------------------- requests
@dataclasses.dataclass(frozen=True, eq=False)
class Requests:
    """A batch of B requests as arrays (node *indices* throughout).

    Attributes
    ----------
    cpusets : numalab.cgsets.Cpusets
    cpuset : (B,) int
        Index into ``cpusets`` (-1: the root cpuset; other cpusets still exist, so cpusets are enabled).
    cpu : (B,) int
        Node of the CPU the task runs on.
    mode : (B,) int
        Index into :data:`MODES`.
    nodes : (B, n) bool
        Policy nodes (PREFERRED: its node; BIND and PREFERRED_MANY: their nodes).
    gfp : (B,) int
        Index into ``gfps``.
    context : (B,) int
        Index into :data:`CONTEXTS`.
    gfps : tuple of str
    enabled : (B,) bool
        cpusets_enabled(): False makes every cpuset rule a no-op.
    """

    cpusets: object
    cpuset: np.ndarray
    cpu: np.ndarray
    mode: np.ndarray
    nodes: np.ndarray
    gfp: np.ndarray
    context: np.ndarray
    gfps: tuple = DEFAULT_GFPS
    enabled: np.ndarray | None = None

    def __len__(self):
        return int(self.cpu.shape[0])

    def describe(self, b: int) -> dict:
        """One request as plain values (node ids, kernel list strings)."""
        from .cpuset import format_nodes

        cs, t = self.cpusets, self.cpusets.topology
        c = int(self.cpuset[b])
        mode = MODES[int(self.mode[b])]
        return {"cpuset": cs.paths[c] if c >= 0 else "/",
                "mems": format_nodes(t.mask(cs.mems[c] if c >= 0 else t.has_memory)),
                "policy": mode if mode == "local" else f"{mode}:{format_nodes(t.mask(self.nodes[b]))}",
                "cpu_node": int(t.node_ids[self.cpu[b]]), "gfp": self.gfps[int(self.gfp[b])],
                "context": CONTEXTS[int(self.context[b])]}


def requests(cpusets, rows, gfps=DEFAULT_GFPS) -> Requests:
    """Build a :class:`Requests` batch from dicts (parsed once, here at the edge).

    Each row: ``cpuset`` (path, default ``"/"``), ``cpu`` (node id, default the first CPU node),
    ``policy`` (``"local"``, ``"preferred"``, ``"bind"``, ``"preferred_many"``, ``"interleave"``;
    default local), ``nodes`` (kernel list string or node ids; for interleave: the interleave node),
    ``gfp`` (name; added to ``gfps`` if missing), ``context`` (:data:`CONTEXTS`).
    """
    from .cpuset import parse_nodes

    t = cpusets.topology
    gfps = list(gfps)
    index = {p: i for i, p in enumerate(cpusets.paths)}
    B = len(rows)
    out = {k: np.zeros(B, np.int64) for k in ("cpuset", "cpu", "mode", "gfp", "context")}
    nodes = np.zeros((B, t.n_nodes), bool)
    first_cpu = int(np.flatnonzero(t.has_cpu)[0]) if t.has_cpu.any() else 0
    for b, r in enumerate(rows):
        path = r.get("cpuset", "/")
        if path != "/" and path not in index:
            raise NumalabError("no such cpuset in this collection", input=path)
        out["cpuset"][b] = index.get(path, -1)
        out["cpu"][b] = t.index_of(r["cpu"]) if "cpu" in r else first_cpu
        pol = str(r.get("policy", "local")).lower()
        if pol in ("default", "local"):
            out["mode"][b] = _LOCAL
        elif pol in ("preferred", "interleave"):
            out["mode"][b] = _PREF
        elif pol == "bind":
            out["mode"][b] = _BIND
        elif pol in ("preferred_many", "preferred-many"):
            out["mode"][b] = _PM
        else:
            raise NumalabError("policy must be local, preferred, interleave, bind or preferred_many", input=pol)
        if pol not in ("default", "local"):
            m = t.gather(parse_nodes(r.get("nodes", ""), t.max_numnodes, where="nodes"))
            if not m.any():
                raise NumalabError(f"{pol} needs nodes of this topology", errno="EINVAL", input=str(r.get("nodes")))
            if pol not in ("bind", "preferred_many", "preferred-many"):
                m = np.arange(t.n_nodes) == np.argmax(m)
            nodes[b] = m
        g = r.get("gfp", "GFP_HIGHUSER_MOVABLE")
        _gfp_props(g, t)
        if g not in gfps:
            gfps.append(g)
        out["gfp"][b] = gfps.index(g)
        ctx = r.get("context", "task")
        if ctx not in CONTEXTS:
            raise NumalabError(f"context must be one of {', '.join(CONTEXTS)}", input=ctx)
        out["context"][b] = CONTEXTS.index(ctx)
    return Requests(cpusets, out["cpuset"], out["cpu"], out["mode"], nodes, out["gfp"], out["context"],
                    tuple(gfps), np.full(B, len(cpusets) > 0))


# ---------------------------------------------------------------------------------- lists
@dataclasses.dataclass(frozen=True, eq=False)
class Lists:
    """Zonelists a design walks, as one table ``codes (R, n, W)`` (row, start node, entries).

    Rows 0 and 1 are the system FALLBACK and NOFALLBACK zonelists; ``hw_fb``, ``hw_nofb``,
    ``sw_fb`` and ``sw_nofb`` (K+1,) give per cpuset (last entry: the root) the row of its
    hardwall and softwall lists; ``listed`` (K, n) the start nodes with lists (``nodes="start"``).
    """

    zl: object
    design: Design | None
    codes: np.ndarray
    hw_fb: np.ndarray
    hw_nofb: np.ndarray
    sw_fb: np.ndarray
    sw_nofb: np.ndarray
    listed: np.ndarray | None = None


def _compact(codes, keep):
    perm = np.argsort(~keep, axis=-1, kind="stable")
    return np.where(np.take_along_axis(keep, perm, -1), np.take_along_axis(codes, perm, -1), -1).astype(np.int32)


def _sys_rows(zl):
    n, Z = zl.n_nodes, zl.nr_zones
    W = n * Z
    fb = np.full((n, W), -1, np.int32)
    fb[:, : zl.fallback.shape[1]] = zl.fallback
    nofb = np.full((n, W), -1, np.int32)
    nofb[:, : zl.nofallback.shape[1]] = zl.nofallback
    return fb, nofb


def system_lists(zl) -> Lists:
    """Today's lists only (rows 0 and 1)."""
    fb, nofb = _sys_rows(zl)
    z = np.zeros(1, np.int64)
    return Lists(zl, None, np.stack([fb, nofb]), z + SYS_FB, z + SYS_NOFB, z + SYS_FB, z + SYS_NOFB)


def rebuilt_orders(zl, mems) -> np.ndarray:
    """Fallback order of every node over each cpuset's nodes alone, (K, n, n) node indices, -1 padded.

    ``find_next_best_node()``/``build_zonelists()`` run on the memory nodes of each cpuset as if
    they were the only ones, at run time (so nodes with CPUs pay PENALTY_FOR_NODE_WITH_CPUS,
    unlike the boot-time system build), with ``node_load`` zeroed once per cpuset rebuild and
    carried from one local node to the next in ascending order, with the kernel's bump rule of
    ``zl.kernel``. The local node comes first only if it is one of the cpuset's nodes. Sequential
    over local nodes (node_load couples them, as in the kernel); vectorized over cpusets.
    """
    t, k = zl.topology, zl.kernel
    n = t.n_nodes
    mems = np.asarray(mems, bool)
    K = mems.shape[0]
    idx = np.arange(n)
    dist = t.distance.astype(np.int64)
    cpu = np.asarray(t.has_cpu, bool)
    penal = dist + (idx[None, :] < idx[:, None]) + zlm.PENALTY_FOR_NODE_WITH_CPUS * cpu[None, :]
    nr_online = int(t.online.sum())
    scale = t.max_numnodes * (nr_online if k.load_scale_online else 1)
    cand = mems & np.asarray(t.has_memory, bool)[None, :]
    big = np.iinfo(np.int64).max // 4
    order = np.full((K, n, n), -1, np.int64)
    load = np.zeros((K, n), np.int64)
    for local in np.flatnonzero(zl.built).tolist():   # sequential: node_load carries over
        value = np.where(cand, penal[local][None, :] * scale + load, big)
        value[cand[:, local], local] = -1
        seq = np.argsort(value, axis=1, kind="stable")
        valid = np.take_along_axis(value, seq, 1) < big
        d = dist[local, seq]
        prev = np.concatenate([np.full((K, 1), dist[local, local]), d[:, :-1]], axis=1)
        bump = valid & (d != prev)
        r, c = np.nonzero(bump)
        tgt = seq[r, c]
        if k.node_load == "increment":
            load[r, tgt] += 1
        elif k.node_load == "accumulate":
            load[r, tgt] += nr_online - c
        else:
            load[r, tgt] = nr_online - c
        order[:, local] = np.where(valid, seq, -1)
    return order


def _codes_of_orders(zl, order):
    """FALLBACK codes of node orders (..., n) -> (..., n*Z), each node's own zones highest first."""
    n, Z = zl.n_nodes, zl.nr_zones
    own = np.full((n + 1, Z), -1, np.int32)
    own[:n] = zl.nofallback
    g = own[np.where(order >= 0, order, n)]                 # (..., n, Z)
    flat = g.reshape(order.shape[:-1] + (n * Z,))
    return _compact(flat, flat >= 0)


def proposal_lists(zl, cpusets, design) -> Lists:
    """Every list a design gives the cpusets of ``cpusets`` (see :class:`numalab.cost.Design`)."""
    d = _design(design)
    t = zl.topology
    n, Z = t.n_nodes, zl.nr_zones
    W = n * Z
    S = np.asarray(cpusets.mems, bool)
    K = S.shape[0]
    need = (2 + 3 * K) * n * W * 4 * 3                           # the table and its temporaries
    if need > 1 << 30:
        raise NumalabError(f"{K} cpusets x {n} nodes need about {need >> 20} MiB of lists; "
                           "compare fewer cpusets at a time", input=f"{K} cpusets")
    fb, nofb = _sys_rows(zl)
    Zc = np.maximum(fb, 0) // Z
    if d.hardwall == "filter":
        hw = _compact(np.broadcast_to(fb, (K, n, W)), (fb >= 0)[None] & np.take_along_axis(
            np.broadcast_to(S[:, None, :], (K, n, n)), np.broadcast_to(Zc, (K, n, W)), -1))
    else:
        hw = _codes_of_orders(zl, rebuilt_orders(zl, S))
    inS_nofb = S[:, :, None] & (nofb >= 0)[None]                 # start node (row) allowed
    hwn = np.where(inS_nofb, nofb[None], -1).astype(np.int32)
    blocks = [fb[None], nofb[None], hw, hwn]
    base = 2
    hw_fb = np.append(base + np.arange(K), SYS_FB)
    hw_nofb = np.append(base + K + np.arange(K), SYS_NOFB) if d.nofallback == "cpuset" else np.full(K + 1, SYS_NOFB)
    anc = np.asarray(cpusets.hardwall_index, np.int64)
    if d.softwall == "first":
        out_S = (fb >= 0)[None] & ~np.take_along_axis(np.broadcast_to(S[:, None, :], (K, n, n)),
                                                      np.broadcast_to(Zc, (K, n, W)), -1)
        rest = _compact(np.broadcast_to(fb, (K, n, W)), out_S)
        both = np.concatenate([hw, rest], axis=-1)
        sw = _compact(both, both >= 0)[..., :W]
        blocks.append(sw)
        sw_fb = np.append(base + 2 * K + np.arange(K), SYS_FB)
        sw_nofb = np.full(K + 1, SYS_NOFB)
    elif d.softwall == "ancestor":
        sw_fb = np.append(np.where(anc >= 0, hw_fb[anc], SYS_FB), SYS_FB)
        sw_nofb = np.append(np.where(anc >= 0, hw_nofb[anc], SYS_NOFB), SYS_NOFB)
    else:
        sw_fb = np.full(K + 1, SYS_FB)
        sw_nofb = np.full(K + 1, SYS_NOFB)
    if d.nofallback == "node":
        sw_nofb = np.full(K + 1, SYS_NOFB)
    codes = np.concatenate(blocks, axis=0)
    return Lists(zl, d, codes, hw_fb, hw_nofb, sw_fb, sw_nofb, np.asarray(cpusets.cpu_nodes, bool))


# ------------------------------------------------------------------------ mask algebra
class _BoolOps:
    """Node masks as bool arrays (..., n)."""

    def __init__(self, n):
        self.n = n
        self.ALL = np.ones(n, bool)
        self.NONE = np.zeros(n, bool)

    def mask(self, m):
        return np.asarray(m, bool)

    def any(self, m):
        return np.asarray(m).any(-1)

    def where(self, c, a, b):
        return np.where(np.asarray(c)[..., None], a, b)

    def has(self, m, j):
        m = np.asarray(m)
        j = np.asarray(j)
        shape = np.broadcast_shapes(m.shape[:-1], j.shape)
        return np.take_along_axis(np.broadcast_to(m, shape + m.shape[-1:]),
                                  np.broadcast_to(j, shape)[..., None], -1)[..., 0]

    def first(self, m):
        return np.argmax(m, -1)

    def single(self, j):
        return np.arange(self.n) == np.asarray(j)[..., None]

    def rows(self, table, i):
        """table (R, n) bool, i index array -> (..., n)."""
        return table[i]


@dataclasses.dataclass(frozen=True)
class _Facts:
    ALL: object
    NONE: object
    nhigh: object          # N_HIGH_MEMORY as a node mask
    reach: tuple           # per zone index: nodes with a qualifying zone <= it
    mem: object            # N_MEMORY
    movable_only: object   # memory nodes without N_NORMAL_MEMORY
    policy_zone: int
    movable: int
    insane: bool
    irq_subst: bool = False  # prepare_alloc_pages substitutes mems_allowed in interrupt context too


def _facts(zl, ops):
    t = zl.topology
    Z = zl.nr_zones
    qual = np.zeros((t.n_nodes, Z), bool)
    own = zl.nofallback
    r, c = np.nonzero(own >= 0)
    qual[r, own[r, c] % Z] = True
    cum = np.cumsum(qual, axis=1) > 0                           # (n, Z): some zone <= z
    movable = t.zone_types.index("Movable") if "Movable" in t.zone_types else Z
    mem = np.asarray(t.has_memory, bool)
    return _Facts(ops.ALL, ops.NONE, ops.mask(np.asarray(t.has_normal_memory, bool)),
                  tuple(ops.mask(cum[:, z]) for z in range(Z)), ops.mask(mem),
                  ops.mask(mem & ~np.asarray(t.has_normal_memory, bool)), int(zl.policy_zone), movable,
                  bool(zl.kernel.cpusets_insane_config), bool(zl.kernel.irq_mems_substitution))


def _policy(o, f, S, mode, P, L0, hz, thisnode, irq, enabled, second=False):
    """policy_nodemask()/policy_node(): start node, whether a nodemask is passed, the nodemask.

    PREFERRED_MANY always passes its nodes (no apply_policy_zone, no cpuset intersection test) and
    starts at the local node; ``second=True`` gives its second pass (``alloc_pages_preferred_many``:
    the same start node, a NULL nodemask). ``named`` (the policy names nodes) is returned for the
    ``nodes="start"`` designs.
    """
    ignore = irq | thisnode
    pref = (mode == _PREF) & ~ignore
    bind = (mode == _BIND) & ~ignore
    pm = (mode == _PM) & ~ignore
    start = np.where(pref, o.first(P), L0)
    dyn = np.where(o.any(P & f.nhigh), f.policy_zone, f.movable)
    use = bind & (hz >= dyn) & (o.any(P & S) | ~enabled)
    if not second:
        use = use | pm
    NM = o.where(use, P, f.ALL)
    return start, use, NM, pref, bind | pm


def _restart(o, f, S, mode, P, NM, thisnode, irq, enabled):
    """The slow path's nodemask after ``check_retry_cpuset`` (v4.13+; only PREFERRED_MANY can need it).

    A PREFERRED_MANY nodemask that misses mems_allowed finds no allowed zone; at ``nopage`` the
    slow path drops it and restarts with a NULL nodemask, so the first pass's slow path may take
    every zone the cpuset allows. (A BIND nodemask that misses the cpuset is never passed.)
    """
    drop = (mode == _PM) & ~(irq | thisnode) & enabled & ~o.any(P & S)
    return o.where(drop, f.ALL, NM)


def _reach(o, f, hz, thisnode, start):
    """Nodes with a zone <= hz in the start node's FALLBACK (memory nodes) or NOFALLBACK list."""
    hz = np.asarray(hz)
    if hz.ndim == 0:
        r = f.reach[int(hz)]
    else:
        r = f.ALL & False
        for z in np.unique(hz).tolist():
            r = o.where(hz == z, f.reach[z], r)
    return o.where(thisnode, r & o.single(start), r & f.mem)


def walks_today(o, f, S, H, mode, P, L0, hz, hard, thisnode, atomic, ctx, enabled, second=False):
    """Today's fast and slow walks: ``((row, start, mask, active), (row, start, mask, active))``.

    For PREFERRED_MANY requests the first pass (``second=False``: the policy's nodes, gfp without
    ``__GFP_DIRECT_RECLAIM``, which changes no candidate) or the second (NULL nodemask, original gfp).
    """
    irq, oom, exiting = ctx == _IRQ, ctx == _OOM, ctx == _EXIT
    start, use, NM, _, _ = _policy(o, f, S, mode, P, L0, hz, thisnode, irq, enabled, second)
    row = np.where(thisnode, SYS_NOFB, SYS_FB)
    fast_cs = o.where(use, NM & (S | o.where(oom, f.ALL, f.NONE)), S)
    fmask = o.where(~enabled | (irq & (not f.irq_subst)), NM, fast_cs)
    soft = ~np.asarray(hard)
    allowed = S | o.where(oom | (soft & exiting), f.ALL, f.NONE) | o.where(soft, H, f.NONE)
    allowed = o.where(~enabled | irq, f.ALL, allowed)
    NMs = NM if second else _restart(o, f, S, mode, P, NM, thisnode, irq, enabled)
    smask = o.where(atomic | oom, f.ALL, NMs & allowed)
    reach = _reach(o, f, hz, thisnode, start)
    no_zone = ~o.any(NMs & reach)                    # first_zones_zonelist() finds nothing: nopage
    insane = f.insane & enabled & hard & ~irq & ~o.any(S & ~f.movable_only) & ~o.any(S & reach)
    active = ~(no_zone | insane)
    one = np.ones_like(active)
    return (row, start, fmask, one), (row, start, smask, active)


def walks_proposal(o, f, lists, S, cs, mode, P, L0, hz, hard, thisnode, atomic, ctx, enabled, subst=None,
                   second=False):
    """A design's fast and slow walks (same shape as :func:`walks_today`; ``second`` as there).

    A PREFERRED_MANY nodemask that misses the cpuset's mems is dropped in the slow path as today
    (the design keeps ``check_retry_cpuset``'s test, against the cpuset's mems).
    """
    d = lists.design
    irq, oom, exiting = ctx == _IRQ, ctx == _OOM, ctx == _EXIT
    start, use, NM, pref, named = _policy(o, f, S, mode, P, L0, hz, thisnode, irq, enabled, second)
    sysrow = np.where(thisnode, SYS_NOFB, SYS_FB)
    own = start
    if d.nodes == "start":
        own = subst(cs, start, P, pref | named)
    hw = np.where(thisnode, lists.hw_nofb[cs], lists.hw_fb[cs])
    sw = np.where(thisnode, lists.sw_nofb[cs], lists.sw_fb[cs])
    plain = ~enabled | irq
    # before v5.9 an interrupt's fast path keeps to the interrupted task's mems_allowed: the design
    # replaces that substitution with the task's hardwall list, as in task context
    fplain = ~enabled | (irq & (not f.irq_subst)) | ((oom & use) if d.oom == "system" else False)
    frow = np.where(fplain, sysrow, hw)
    fstart = np.where(fplain, start, own)
    soft = ~np.asarray(hard)
    use_sys = plain | atomic | oom | (exiting & soft)
    srow = np.where(use_sys, sysrow, np.where(hard, hw, sw))
    sstart = np.where(use_sys, start, own)
    NMs = NM if second else _restart(o, f, S, mode, P, NM, thisnode, irq, enabled)
    smask = o.where(atomic | oom, f.ALL, NMs)
    reach = _reach(o, f, hz, thisnode, start)
    no_zone = ~o.any(NMs & reach)                    # first_zones_zonelist() finds nothing: nopage
    insane = f.insane & enabled & hard & ~irq & ~o.any(S & ~f.movable_only) & ~o.any(S & reach)
    active = ~(no_zone | insane)
    one = np.ones_like(active)
    return (frow, fstart, NM, one), (srow, sstart, smask, active), own


def _subst_bool(lists, order):
    """nodes="start": the first node of the start node's system order that has a list."""
    def subst(cs, start, P, named):
        listed = np.concatenate([lists.listed, np.ones((1, lists.listed.shape[1]), bool)])[cs]
        listed = listed | np.where(np.asarray(named)[..., None], P, False)
        o = order[start]                                        # (..., n)
        ok = (o >= 0) & np.take_along_axis(listed, np.maximum(o, 0), -1)
        first = np.take_along_axis(o, np.argmax(ok, -1)[..., None], -1)[..., 0]
        has_own = np.take_along_axis(listed, np.asarray(start)[..., None], -1)[..., 0]
        return np.where(has_own | ~ok.any(-1), start, first)
    return subst


# ------------------------------------------------------------------------------ evaluation
def evaluate(lists, walk, hz) -> np.ndarray:
    """Zoneref codes of walks, compacted left, -1 padded: (B, W).

    ``walk = (row, start, mask (B, n) bool, active)``: the row's list for the start node, entries
    with zone <= hz and node in mask (``for_next_zone_zonelist_nodemask``), nothing if inactive.
    """
    row, start, mask, active = walk
    Z = lists.zl.nr_zones
    codes = lists.codes[np.asarray(row), np.asarray(start)]                # (B, W)
    node = np.maximum(codes, 0) // Z
    ok = (codes >= 0) & (codes % Z <= np.asarray(hz)[..., None]) & np.take_along_axis(
        np.asarray(mask, bool), node, -1) & np.asarray(active, bool)[..., None]
    return _compact(codes, ok)


def to_ranks(codes, C) -> np.ndarray:
    """(B, W) codes -> (B, C) int16 ranks (-1: not a candidate)."""
    codes = np.asarray(codes)
    B = codes.shape[0]
    out = np.full((B, C), -1, np.int16)
    r, p = np.nonzero(codes >= 0)
    out[r, codes[r, p]] = p
    return out


@dataclasses.dataclass(frozen=True)
class Candidates:
    """Fast-path and slow-path candidates of a batch: codes (B, W) compacted and -1 padded.

    ``retry_fast``/``retry_slow`` are the second pass of PREFERRED_MANY requests
    (``alloc_pages_preferred_many``: NULL nodemask, the caller's gfp), all -1 on other rows;
    ``fast``/``slow`` are then its first pass (the policy's nodes).
    """

    fast: np.ndarray
    slow: np.ndarray
    C: int
    retry_fast: np.ndarray | None = None
    retry_slow: np.ndarray | None = None
    #: (B,) bool: the rows that have a second pass (PREFERRED_MANY)
    pm: np.ndarray | None = None

    def ranks(self):
        """``(fast, slow)`` rank arrays (B, C) over zoneref codes."""
        return to_ranks(self.fast, self.C), to_ranks(self.slow, self.C)

    def passes(self, b: int) -> list:
        """Request ``b``'s passes as ``[(fast codes, slow codes), ...]`` (two for PREFERRED_MANY)."""
        out = [(self.fast[b], self.slow[b])]
        if self.pm is not None and self.pm[b]:
            out.append((self.retry_fast[b], self.retry_slow[b]))
        return out


def _inputs(zl, req: Requests):
    t = zl.topology
    cs = req.cpusets
    K = len(cs)
    mode = np.asarray(req.mode)
    if (mode == _PM).any() and not zl.kernel.has_mode("PREFERRED_MANY"):
        raise NumalabError("MPOL_PREFERRED_MANY exists from v5.15", errno="EINVAL", input=f"kernel {zl.kernel}")
    S_all = np.concatenate([np.asarray(cs.mems, bool), np.asarray(t.has_memory, bool)[None]])
    H_all = np.concatenate([np.asarray(cs.hardwall_mems, bool), np.ones((1, t.n_nodes), bool)])
    c = np.where(req.cpuset < 0, K, req.cpuset)
    props = [_gfp_props(g, t) for g in req.gfps]
    g = np.asarray(req.gfp)
    hz = np.array([p[0] for p in props])[g]
    hard = np.array([p[1] for p in props], bool)[g]
    thisnode = np.array([p[2] for p in props], bool)[g]
    atomic = np.array([p[3] for p in props], bool)[g]
    enabled = np.ones(len(req), bool) if req.enabled is None else np.asarray(req.enabled, bool)
    return dict(S=S_all[c], H=H_all[c], c=c, mode=mode, P=np.asarray(req.nodes, bool),
                L0=np.asarray(req.cpu), hz=hz, hard=hard, thisnode=thisnode, atomic=atomic,
                ctx=np.asarray(req.context), enabled=enabled)


def _two_passes(walks, x, lists, C):
    """Evaluate the walks of both passes; the second only on PREFERRED_MANY rows (others: -1)."""
    fw, sw = walks(False)
    fast, slow = evaluate(lists, fw, x["hz"]), evaluate(lists, sw, x["hz"])
    pm = (x["mode"] == _PM) & ~(x["thisnode"] | (x["ctx"] == _IRQ))
    rf = np.full_like(fast, -1)
    rs = np.full_like(slow, -1)
    if pm.any():
        f2, s2 = walks(True)
        rf = np.where(pm[:, None], evaluate(lists, f2, x["hz"]), -1).astype(fast.dtype)
        rs = np.where(pm[:, None], evaluate(lists, s2, x["hz"]), -1).astype(slow.dtype)
    return Candidates(fast, slow, C, rf, rs, pm)


def today(zl, req: Requests) -> Candidates:
    """Today's candidates of every request of a batch (fast and slow path; both passes of PREFERRED_MANY)."""
    o = _BoolOps(zl.n_nodes)
    f = _facts(zl, o)
    x = _inputs(zl, req)
    lists = system_lists(zl)

    def walks(second):
        return walks_today(o, f, x["S"], x["H"], x["mode"], x["P"], x["L0"], x["hz"], x["hard"], x["thisnode"],
                           x["atomic"], x["ctx"], x["enabled"], second=second)
    return _two_passes(walks, x, lists, zl.n_nodes * zl.nr_zones)


def proposal(zl, req: Requests, design, lists: Lists | None = None) -> Candidates:
    """The candidates of every request under a per-cpuset zonelist design."""
    d = _design(design)
    lists = lists if lists is not None else proposal_lists(zl, req.cpusets, d)
    o = _BoolOps(zl.n_nodes)
    f = _facts(zl, o)
    x = _inputs(zl, req)
    subst = _subst_bool(lists, _orders(zl))

    def walks(second):
        fw, sw, _ = walks_proposal(o, f, lists, x["S"], x["c"], x["mode"], x["P"], x["L0"], x["hz"], x["hard"],
                                   x["thisnode"], x["atomic"], x["ctx"], x["enabled"], subst=subst, second=second)
        return fw, sw
    return _two_passes(walks, x, lists, zl.n_nodes * zl.nr_zones)


def _orders(zl):
    o = np.full((zl.n_nodes, zl.n_nodes), -1, np.int64)
    o[:, : zl.order.shape[1]] = zl.order
    return o


def decode(zl, codes) -> list:
    """One row of codes as ``[(node id, zone name), ...]``."""
    return zlm.decode(zl, codes)

