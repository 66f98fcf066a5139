"""Would every allocation behave as today under per-cpuset zonelists? Requests where a design differs.

For each design (:data:`numalab.cost.DESIGNS` or ``key=value`` specs) and each request, the
candidate zones of today and of the design (:mod:`numalab.candidates`) are compared on both the
fast path and the slow path: a request *differs in set* when some path may take a zone the other
may not, and *differs in order* when the zones are the same but tried in another order. Each
differing request gets one cause (the first that applies, in the order of :data:`CAUSES`).

Request space. On machines of up to 8 nodes the run is **exhaustive**: every cpuset (every
non-empty set of memory nodes, each as a v2 child of the root and as a v1 ``mem_hardwall``
cpuset; or the cpusets given) x every policy (local; PREFERRED at each node; BIND and, from
v5.15, PREFERRED_MANY on each non-empty set of nodes) x every start node x each gfp of ``gfps``
x each context. Above 8 nodes it is **sampled**: the same product over the given cpusets
(default: node-, socket- and randomly aligned containers, each as a v2 child and as a v1 hardwall
cpuset), PREFERRED at each node, BIND (and PREFERRED_MANY) on each single node and 64 random
masks, from which ``sample`` requests are drawn uniformly with numpy's ``default_rng(seed)``.

A PREFERRED_MANY request makes two allocations (``alloc_pages_preferred_many``, v5.15+): it
differs when either pass differs (:class:`numalab.candidates.Candidates`). Its second pass is a
NULL-nodemask allocation from the local node, i.e. the local policy's walk, unless a design's
start node depends on the nodes the policy names (``nodes="start"``).

The exhaustive engine works on bitmasks (node masks as 16-bit integers; a walk's zones as the set
of nodes it takes them from, which determines them since every list holds all qualifying zones of
each of its nodes; the order of a list as one bit per node pair), so an 8-node machine's 21
million requests compare in a few seconds; the sampled engine walks the lists as arrays.
Both are tested against the scalar reference.

Examples
--------
>>> import numpy as np
>>> from numalab.topology import Topology
>>> d = [[10 if i == j else 20 for j in range(4)] for i in range(4)]
>>> pages = np.zeros((4, 5), np.int64); pages[:, 2] = 262144   # 1 GiB of Normal per node
>>> t = Topology(name="A-flat4", node_ids=np.arange(4), distance=d, cpu_ids=np.arange(4),
...              cpu_node=np.arange(4), present_pages=pages, managed_pages=pages)
>>> r = compare(t, "6.12", ["static-ancestor", "static-first"])
>>> r.variants["static-ancestor"]["differ_set"], r.variants["static-ancestor"]["differ_order"]
(0, 0)
>>> sorted(r.variants["static-first"]["by_cause"])
['softwall GFP_KERNEL escape', 'softwall order']
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import candidates as cd
from . import cgsets
from . import zonelist as zlm
from .cost import DESIGNS, design as _design
from .candidates import SYS_FB
from .errors import NumalabError
from .kernel import profile

__all__ = ["CAUSES", "EXPLAIN", "CompareResult", "compare", "policies", "EXHAUSTIVE_NODES"]

EXHAUSTIVE_NODES = 8
#: Causes in the order they are tried, and what each means.
CAUSES = ("start node without a list", "__GFP_THISNODE", "OOM victim in the fast path",
          "softwall GFP_KERNEL escape", "softwall order", "preferred node outside the cpuset",
          "memoryless start node", "tie-break order of rebuilt lists", "other")
EXPLAIN = {
    "__GFP_THISNODE": "__GFP_THISNODE walks the NOFALLBACK list: a list shared with the node holds the start "
                      "node's zones even when the node is outside the cpuset, which today's mems_allowed "
                      "filter (fast path) or hardwall check removes",
    "start node without a list": "the cpuset has no list for the start node (not a node of its CPUs or "
                                 "policies); the request walks the list of the nearest node that has one, "
                                 "which starts elsewhere",
    "OOM victim in the fast path": "today an OOM victim's BIND allocation passes the per-zone cpuset check for "
                                   "every node (__cpuset_node_allowed row 3), so BIND nodes outside the cpuset "
                                   "are candidates in the fast path; the cpuset's hardwall list lacks them",
    "softwall GFP_KERNEL escape": "today a request without __GFP_HARDWALL may, in the slow path, use every node "
                                  "of the nearest hardwall ancestor (row 6); the design's softwall list holds "
                                  "another set of nodes",
    "softwall order": "the same zones, but the design's softwall list tries the cpuset's nodes first, while "
                      "today the slow path walks the start node's system zonelist, outside nodes in distance order",
    "preferred node outside the cpuset": "the policy's preferred node is outside the cpuset; today the walk "
                                         "follows that node's system zonelist filtered by mems_allowed, the "
                                         "design's list for it is ordered differently",
    "memoryless start node": "the start node has no memory; its rebuilt list orders the other nodes differently",
    "tie-break order of rebuilt lists": "the list rebuilt on the cpuset's nodes at run time breaks ties between "
                                        "equally distant nodes differently: node_load restarts from zero for the "
                                        "cpuset, and nodes with CPUs pay PENALTY_FOR_NODE_WITH_CPUS at run time "
                                        "but not in the boot-time system build",
    "other": "not explained by the causes above",
}
_C = {c: i for i, c in enumerate(CAUSES)}


def policies(topo, *, bind_masks=None, preferred_many=False):
    """Policy axis: ``(mode (P,), nodes (P, n) bool)``: local, PREFERRED per node, BIND masks and,
    with ``preferred_many`` (v5.15+), PREFERRED_MANY on the same masks.

    Default masks: every non-empty set of nodes.
    """
    n = topo.n_nodes
    if bind_masks is None:
        m = np.arange(1, 1 << n)
        bind_masks = ((m[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    bind_masks = np.asarray(bind_masks, bool)
    many = [bind_masks] if preferred_many else []
    mode = np.concatenate([[0], np.ones(n, np.int64), np.full(len(bind_masks), 2)]
                          + [np.full(len(bind_masks), 3)] * len(many))
    nodes = np.concatenate([np.zeros((1, n), bool), np.eye(n, dtype=bool), bind_masks] + many)
    return mode.astype(np.int64), nodes


# ------------------------------------------------------------------------------ bit engine
class _BitOps:
    """Node masks as unsigned integers (bit j = node index j); n <= 12."""

    def __init__(self, n):
        self.n = n
        self.dt = np.uint16
        self.ALL = np.uint16((1 << n) - 1)
        self.NONE = np.uint16(0)
        m = np.arange(1 << n)
        low = np.zeros(1 << n, np.int64)
        low[1:] = np.array([(int(x) & -int(x)).bit_length() - 1 for x in m[1:]])
        self.FIRST = low

    def mask(self, m):
        m = np.asarray(m, bool)
        return (m.astype(np.uint16) << np.arange(self.n, dtype=np.uint16)).sum(-1).astype(np.uint16)

    def any(self, m):
        return np.asarray(m) != 0

    def where(self, c, a, b):
        return np.where(c, a, b).astype(np.uint16)

    def has(self, m, j):
        return ((np.asarray(m, np.int64) >> np.asarray(j)) & 1).astype(bool)

    def first(self, m):
        return self.FIRST[np.asarray(m, np.int64)]

    def single(self, j):
        return (np.uint16(1) << np.asarray(j).astype(np.uint16)).astype(np.uint16)


class _BitTables:
    """Per list row and start node: which nodes it holds with a zone <= z, its node order as pair bits."""

    def __init__(self, lists, o):
        zl = lists.zl
        n, Z = zl.n_nodes, zl.nr_zones
        if n > 11:
            raise NumalabError("the bit engine handles up to 11 nodes", input=n)
        codes = lists.codes.astype(np.int64)                      # (R, n, W)
        R, _, W = codes.shape
        valid = codes >= 0
        one = np.uint64(1)
        node = np.where(valid, codes // Z, n)
        zone = np.where(valid, codes % Z, Z)
        # first position of each node in each row
        pos = np.full((R, n, n + 1), W, np.int64)
        rr, ss, ww = np.nonzero(valid)
        np.minimum.at(pos, (rr, ss, node[rr, ss, ww]), ww)
        pos = pos[..., :n]
        iu, ju = np.triu_indices(n, 1)
        before = pos[..., iu] < pos[..., ju]                       # (R, n, pairs)
        pw = (one << np.arange(iu.size, dtype=np.uint64))
        self.pord = np.bitwise_or.reduce(np.where(before, pw, np.uint64(0)), axis=-1)
        # nodes in the row with a zone <= z
        le = np.zeros((R, n, Z), np.uint16)
        for z in range(Z):
            present = np.zeros((R, n, n + 1), bool)
            ok = valid & (zone <= z)
            r2, s2, w2 = np.nonzero(ok)
            present[r2, s2, node[r2, s2, w2]] = True
            le[..., z] = o.mask(present[..., :n])
        self.le = le
        m = np.arange(1 << n)
        mb = ((m[:, None] >> np.arange(n)) & 1).astype(bool)         # (2^n, n)
        both = mb[:, iu] & mb[:, ju]
        self.pairs = np.bitwise_or.reduce(np.where(both, pw[None, :], np.uint64(0)), axis=-1)
        # rows whose node order is a subsequence of the system FALLBACK order of the same start
        # node: a walk on them can never differ in order from today's walk from that node
        present = le[..., -1].astype(np.int64)
        self.consistent = ((self.pord ^ self.pord[SYS_FB][None, :]) & self.pairs[present]) == 0

    def node_set(self, walk, hz):
        """The nodes whose zones the walk takes (uint16; inactive walks: none).

        Every list holds all qualifying zones of each node it holds, so two walks with the same
        highest zone take the same zones exactly when they take zones of the same nodes.
        """
        row, start, mask, active = walk
        return np.where(active, mask & self.le[row, start, hz], np.uint16(0)).astype(np.uint16)

    def order_differs(self, walk_a, M, other, walk_b, idx, shape):
        """At positions ``idx`` (walks over the same nodes ``M``), does the other walk's order differ?"""
        ra, sa = (np.broadcast_to(x, shape)[idx] for x in walk_a[:2])
        rb, sb = (np.broadcast_to(x, shape)[idx] for x in walk_b[:2])
        m = np.broadcast_to(M, shape)[idx].astype(np.int64)
        return ((self.pord[ra, sa] ^ other.pord[rb, sb]) & self.pairs[m]) != 0


def _subst_bits(lists, zl, o):
    """nodes="start" substitution as a table over (start, listed mask)."""
    n = zl.n_nodes
    order = np.full((n, n), -1, np.int64)
    order[:, : zl.order.shape[1]] = zl.order
    m = np.arange(1 << n)
    mb = ((m[:, None] >> np.arange(n)) & 1).astype(bool)
    table = np.empty((n, 1 << n), np.int64)
    for s in range(n):                                # n x 2^n entries, built once
        oo = order[s]
        ok = (oo >= 0)[None, :] & mb[:, np.maximum(oo, 0)]
        first = oo[np.argmax(ok, axis=1)]
        table[s] = np.where(mb[:, s] | ~ok.any(1), s, first)
    listed = np.append(o.mask(lists.listed), o.ALL).astype(np.uint16)

    def subst(cs, start, P, named):
        lm = listed[cs] | np.where(named, P, np.uint16(0)).astype(np.uint16)
        return table[start, lm.astype(np.int64)]
    return subst


# --------------------------------------------------------------------------------- results
@dataclasses.dataclass
class CompareResult:
    """``variants[NAME]`` holds ``requests``, ``differ_set``, ``differ_order``, ``by_cause`` and
    ``examples``; ``cells[NAME]`` (K, len(MODES), G, X) counts differing requests per cpuset, policy mode,
    gfp and context (``cell_axes`` names them)."""

    kernel: str
    topology: str
    method: str
    sampling: str
    requests: int
    variants: dict
    cells: dict
    cell_axes: dict
    designs: dict

    notes: tuple = ()

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "topology": self.topology, "method": self.method,
                "sampling": self.sampling, "variants": self.variants,
                "designs": {k: v.spec() for k, v in self.designs.items()}, "notes": list(self.notes)}


def _attribute(thisnode, moved, ctx, fast_d, slow_set_d, slow_d, hard, d, pref_out, memless):
    """One cause code per differing request (first rule that applies)."""
    cause = np.full(np.broadcast(fast_d, slow_d).shape, _C["other"], np.int64)
    soft_task = ~np.asarray(hard) & (np.asarray(ctx) == 0)
    ctx = np.asarray(ctx)
    rules = [
        (_C["tie-break order of rebuilt lists"], np.full(cause.shape, d.hardwall == "rebuild")),
        (_C["memoryless start node"], memless),
        (_C["preferred node outside the cpuset"], pref_out),
        (_C["softwall order"], slow_d & ~slow_set_d & ~fast_d & soft_task & (d.softwall == "first")),
        (_C["softwall GFP_KERNEL escape"], slow_set_d & soft_task),
        (_C["OOM victim in the fast path"], fast_d & (ctx == 1) & (d.oom == "cpuset")),
        (_C["__GFP_THISNODE"], np.asarray(thisnode) & (fast_d | (d.nofallback == "node"))),
        (_C["start node without a list"], moved),
    ]
    for code, cond in rules:                        # later rules win: the order of CAUSES
        cause = np.where(np.broadcast_to(cond, cause.shape), code, cause)
    return cause


def compare(topo, kernel="current", variants=None, cpusets=None, *, gfps=cd.DEFAULT_GFPS,
            contexts=cd.CONTEXTS, examples: int = 3, sample: int = 200_000, seed: int = 0,
            zonelists=None) -> CompareResult:
    """Compare today's candidate zones with each design's, over the request space (module doc).

    Parameters
    ----------
    topo : Topology
    kernel : str
    variants : list of str or Design, optional
        Default: every named design.
    cpusets : numalab.cgsets.Cpusets, optional
        Default: :func:`numalab.cgsets.every_mask` (up to 8 nodes) or generated containers.
    gfps, contexts : sequences of names
    examples : int
        Example requests kept per cause.
    sample, seed : int
        Requests drawn above 8 nodes.
    """
    k = profile(kernel)
    zl = zonelists if zonelists is not None else zlm.build(topo, k, "boot")
    designs = [_design(v) for v in (variants or list(DESIGNS))]
    gfps = tuple(gfps)
    for g in gfps:
        cd._gfp_props(g, topo)
    for c in contexts:
        if c not in cd.CONTEXTS:
            raise NumalabError(f"context must be one of {', '.join(cd.CONTEXTS)}", input=c)
    ctx_idx = [cd.CONTEXTS.index(c) for c in contexts]
    n = topo.n_nodes
    exhaustive = n <= EXHAUSTIVE_NODES
    if cpusets is None:
        if exhaustive:
            cpusets = cgsets.every_mask(topo)
        else:
            parts = [cgsets.generate(topo, int(topo.has_memory.sum()), "node"),
                     cgsets.generate(topo, 4, "socket"), cgsets.generate(topo, 16, "random", seed=seed)]
            paths = [f"{p}.{i}" for i, c in enumerate(parts) for p in c.paths]
            mems = np.concatenate([c.mems for c in parts])
            M = len(paths)
            cpusets = cgsets.Cpusets(
                topo, tuple([f"/v2{p}" for p in paths] + [f"/v1-hardwall{p}" for p in paths]),
                np.concatenate([mems, mems]), np.concatenate([np.ones_like(mems), mems]),
                np.concatenate([np.full(M, -1), np.arange(M, 2 * M)]).astype(np.int64),
                np.concatenate([np.concatenate([c.cpu_nodes for c in parts])] * 2), np.ones(2 * M, np.int64),
                source="node-, socket- and randomly aligned containers, each as a v2 child of the root "
                       "and as a v1 mem_hardwall cpuset")
    many = k.has_mode("PREFERRED_MANY")
    if exhaustive:
        pmode, pnodes = policies(topo, preferred_many=many)
    else:
        rng = np.random.default_rng(seed)
        rnd = rng.random((64, n)) < 0.5
        rnd[~rnd.any(1), 0] = True
        pmode, pnodes = policies(topo, bind_masks=np.concatenate([np.eye(n, dtype=bool), rnd]), preferred_many=many)
    K, P, G, X = len(cpusets), len(pmode), len(gfps), len(ctx_idx)
    total = K * P * n * G * X
    props = [cd._gfp_props(g, topo) for g in gfps]
    out, cells = {}, {}
    lists_by = {}
    for d in designs:
        if d.behaviour not in lists_by:
            lists_by[d.behaviour] = cd.proposal_lists(zl, cpusets, d)
    if exhaustive:
        method = "exhaustive"
        sampling = (f"every request: {K} cpusets x {P} policies x {n} start nodes x {G} gfp x {X} contexts")
        res = _exhaustive(zl, cpusets, designs, lists_by, pmode, pnodes, props, ctx_idx)
    else:
        method = "sampled"
        B = min(int(sample), total)
        sampling = (f"{B} of {total} requests drawn uniformly (numpy default_rng({seed})) from {K} cpusets "
                    f"({cpusets.source}) x {P} policies (local, PREFERRED per node, BIND"
                    f"{' and PREFERRED_MANY' if many else ''} on each node and 64 "
                    f"random masks) x {n} start nodes x {G} gfp x {X} contexts")
        res = _sampled(zl, cpusets, designs, lists_by, pmode, pnodes, gfps, ctx_idx, B, seed)
    counted = res.pop("_counted")
    for d in designs:
        r = res[d.name]
        by = {CAUSES[c]: int(v) for c, v in enumerate(r["by_cause"]) if v}
        ex = _examples(zl, cpusets, d, lists_by[d.behaviour], r["examples"], pmode, pnodes, gfps, ctx_idx, examples)
        out[d.name] = {"requests": int(counted), "differ_set": int(r["differ_set"]),
                       "differ_order": int(r["differ_order"]), "by_cause": by, "examples": ex}
        cells[d.name] = r["cells"]
    axes = {"cpuset": list(cpusets.paths), "mode": list(cd.MODES), "gfp": list(gfps), "context": list(contexts)}
    notes = []
    return CompareResult(k.label, topo.name, method, sampling, int(counted), out, cells, axes,
                         {d.name: d for d in designs}, tuple(notes))


def _exhaustive(zl, cs, designs, lists_by, pmode, pnodes, props, ctx_idx, block=1_500_000):
    """Every request, on bitmasks: cpusets in blocks of about ``block`` (cpuset, policy, start) rows,
    and for each block every (gfp, context); each distinct design behaviour is computed once."""
    t = zl.topology
    n = t.n_nodes
    o = _BitOps(n)
    f = cd._facts(zl, o)
    K, P = len(cs), len(pmode)
    G, X = len(props), len(ctx_idx)
    S_all = o.mask(cs.mems)
    H_all = o.mask(cs.hardwall_mems)
    mode = pmode[None, :, None]
    Pm = o.mask(pnodes)[None, :, None]
    L0 = np.arange(n)[None, None, :]
    sys_tab = _BitTables(cd.system_lists(zl), o)
    tabs = {b: _BitTables(lists_by[b], o) for b in lists_by}
    substs = {b: _subst_bits(lists_by[b], zl, o) for b in lists_by if b[3] == "start"}
    mem = np.asarray(t.has_memory, bool)
    first = {}
    for d in designs:                                   # one computation per distinct behaviour
        first.setdefault(d.behaviour, d)
    res = {b: {"differ_set": 0, "differ_order": 0, "by_cause": np.zeros(len(CAUSES), np.int64),
               "cells": np.zeros((K, len(cd.MODES), G, X), np.int64), "examples": [[] for _ in CAUSES]} for b in first}
    enabled = np.bool_(True)
    # PREFERRED_MANY masks repeat the BIND masks (policies()); its first pass walks exactly as BIND on
    # the same mask wherever policy_nodemask passes the BIND mask (zone and cpuset tests pass), and its
    # second pass as the local policy: only the other (cpuset, mask) pairs are walked again
    M = int(np.count_nonzero(pmode == 3))
    P0 = P - M
    if M:
        pm_bits = o.mask(pnodes[P0:])
        dyn = np.where(o.any(pm_bits & f.nhigh), f.policy_zone, f.movable)
    kb = max(1, int(block) // (P * n))
    for k0 in range(0, K, kb):
        k1 = min(K, k0 + kb)
        S = S_all[k0:k1, None, None]
        H = H_all[k0:k1, None, None]
        c = np.arange(k0, k1)[:, None, None]
        shape = (k1 - k0, P, n)
        for gi, (hz, hard, thisnode, atomic) in enumerate(props):
            for xi, ctx in enumerate(ctx_idx):
                args = dict(mode=mode[:, :P0], P=Pm[:, :P0], L0=L0, hz=hz, hard=np.bool_(hard),
                            thisnode=np.bool_(thisnode), atomic=np.bool_(atomic), ctx=np.int64(ctx), enabled=enabled)
                shape0 = (k1 - k0, P0, n)
                tf, ts = cd.walks_today(o, f, S, H, **args)
                ft, st_ = sys_tab.node_set(tf, hz), sys_tab.node_set(ts, hz)
                start = np.broadcast_to(tf[1], shape0)
                if M:
                    ignored = thisnode or ctx == cd._IRQ          # the default policy: as BIND, as local
                    redo = np.zeros((k1 - k0, M), bool) if ignored else \
                        ~((hz >= dyn)[None, :] & ((S_all[k0:k1, None] & pm_bits[None, :]) != 0))
                    rk, rj = np.nonzero(redo)
                    sub = dict(args, mode=np.int64(3), P=pm_bits[rj][:, None], L0=np.arange(n)[None, :])
                    Ss, Hs, cs_ = S_all[k0 + rk][:, None], H_all[k0 + rk][:, None], (k0 + rk)[:, None]
                    subshape = (len(rk), n)
                    tfs, tss = cd.walks_today(o, f, Ss, Hs, **sub)
                    fts, sts = sys_tab.node_set(tfs, hz), sys_tab.node_set(tss, hz)
                for b, d in first.items():
                    r = res[b]
                    vf, vs, own = cd.walks_proposal(o, f, lists_by[b], S, c, subst=substs.get(b), **args)
                    tab = tabs[b]
                    flags = _differs(sys_tab, tab, tf, ts, vf, vs, ft, st_, hz, shape0)
                    own = np.broadcast_to(own, shape0)
                    pieces = [(0, flags, own, start)]
                    if M:                                        # the PREFERRED_MANY masks, apart
                        own_m = own[:, P0 - M:]
                        fm = [x[:, P0 - M:].copy() for x in flags]
                        if len(rk):                              # first pass where it is not BIND's
                            vfs, vss, _ = cd.walks_proposal(o, f, lists_by[b], Ss, cs_, subst=substs.get(b), **sub)
                            for x, y in zip(fm, _differs(sys_tab, tab, tfs, tss, vfs, vss, fts, sts, hz, subshape)):
                                x[rk, rj] = y
                        if d.nodes == "start":
                            qk, qj, ql = np.nonzero(own_m != own[:, :1])
                            pass1 = [x[qk, qj, ql] for x in fm]
                        for x, y in zip(fm, flags):              # second pass: the local policy's walk ...
                            x |= y[:, :1]
                        if d.nodes == "start":                   # ... unless the start node depends on the nodes
                            if len(qk):
                                a2 = dict(args, mode=np.int64(3), P=pm_bits[qj], L0=ql, second=True)
                                S2, H2, c2 = S_all[k0 + qk], H_all[k0 + qk], k0 + qk
                                tf2, ts2 = cd.walks_today(o, f, S2, H2, **a2)
                                vf2, vs2, _ = cd.walks_proposal(o, f, lists_by[b], S2, c2, subst=substs.get(b), **a2)
                                two = _differs(sys_tab, tab, tf2, ts2, vf2, vs2, sys_tab.node_set(tf2, hz),
                                               sys_tab.node_set(ts2, hz), hz, (len(qk),))
                                for x, y, z in zip(fm, two, pass1):
                                    x[qk, qj, ql] = y | z
                        pieces.append((P0, fm, own_m, start[:, P0 - M:]))
                    for off, (fd_set, sd_set, fd_ord, sd_ord), own_p, start_p in pieces:
                        dset = fd_set | sd_set
                        dany = dset | fd_ord | sd_ord
                        nset = np.count_nonzero(dset)
                        nany = np.count_nonzero(dany)
                        r["differ_set"] += nset
                        r["differ_order"] += nany - nset
                        if not nany:
                            continue
                        per = np.count_nonzero(dany, axis=2)                 # (block, policies of the piece)
                        pm_ = pmode[off: off + per.shape[1]]
                        for m in np.unique(pm_).tolist():
                            r["cells"][k0:k1, m, gi, xi] += per[:, pm_ == m].sum(axis=1)
                        idx = np.nonzero(dany)
                        ks, ps, ls = idx
                        st_nodes = start_p[idx]
                        fdi = (fd_set | fd_ord)[idx]
                        sdi = (sd_set | sd_ord)[idx]
                        ssi = sd_set[idx]
                        dsi = dset[idx]
                        moved = own_p[idx] != st_nodes
                        ps = ps + off
                        pref_out = (pmode[ps] == 1) & ~cs.mems[k0 + ks, st_nodes]
                        cause = _attribute(thisnode, moved, ctx, fdi, ssi, sdi, hard, d, pref_out, ~mem[st_nodes])
                        r["by_cause"] += np.bincount(cause, minlength=len(CAUSES))
                        for ci in np.unique(cause).tolist():
                            have = r["examples"][ci]
                            if len(have) < 8:
                                sel = np.flatnonzero(cause == ci)[: 8 - len(have)]
                                have += [(k0 + int(ks[j]), int(ps[j]), int(ls[j]), gi, xi, bool(dsi[j])) for j in sel]
    out = {d.name: res[d.behaviour] for d in designs}
    out["_counted"] = K * P * n * G * X
    return out


def _differs(sys_tab, tab, tf, ts, vf, vs, ft, st_, hz, shape):
    """Whether today's and the design's walks differ, per path, in their zones or only in their order:
    ``(fast set, slow set, fast order, slow order)``, bool arrays of ``shape`` (the first two read-only)."""
    fd_set = np.broadcast_to(ft != tab.node_set(vf, hz), shape)
    sd_set = np.broadcast_to(st_ != tab.node_set(vs, hz), shape)
    fd_ord = np.zeros(shape, bool)
    sd_ord = np.zeros(shape, bool)
    for tw, M, vw, eq, outd in ((tf, ft, vf, ~fd_set, fd_ord), (ts, st_, vs, ~sd_set, sd_ord)):
        # rows that keep the system order of the same start node cannot differ in order
        safe = tab.consistent[vw[0], vw[1]] & (vw[1] == tw[1]) & sys_tab.consistent[tw[0], tw[1]]
        cand = eq & ~np.broadcast_to(safe, shape)
        nc = np.count_nonzero(cand)
        if nc > cand.size // 16:          # dense: compare every position at once
            m = np.asarray(M, np.int64)
            outd |= cand & ((sys_tab.pord[tw[0], tw[1]] ^ tab.pord[vw[0], vw[1]]) & sys_tab.pairs[m] != 0)
        elif nc:
            idx = np.nonzero(cand)
            outd[idx] = sys_tab.order_differs(tw, M, tab, vw, idx, shape)
    return fd_set, sd_set, fd_ord, sd_ord


def _sampled(zl, cs, designs, lists_by, pmode, pnodes, gfps, ctx_idx, B, seed):
    t = zl.topology
    n = t.n_nodes
    K, P, G, X = len(cs), len(pmode), len(gfps), len(ctx_idx)
    rng = np.random.default_rng(seed + 1)
    flat = rng.choice(K * P * n * G * X, size=B, replace=False) if B < K * P * n * G * X else \
        np.arange(K * P * n * G * X)
    ks, rem = np.divmod(flat, P * n * G * X)
    ps, rem = np.divmod(rem, n * G * X)
    ls, rem = np.divmod(rem, G * X)
    gs, xs = np.divmod(rem, X)
    req = cd.Requests(cs, ks, ls, pmode[ps], pnodes[ps], gs, np.asarray(ctx_idx)[xs], tuple(gfps),
                      np.ones(B, bool))
    res = {d.name: {"differ_set": 0, "differ_order": 0, "by_cause": np.zeros(len(CAUSES), np.int64),
                    "cells": np.zeros((K, len(cd.MODES), G, X), np.int64), "examples": [[] for _ in CAUSES]} for d in designs}
    props = [cd._gfp_props(g, t) for g in gfps]
    mem = np.asarray(t.has_memory, bool)
    chunk = 20_000
    for lo in range(0, B, chunk):
        sl = slice(lo, min(B, lo + chunk))
        sub = dataclasses.replace(req, cpuset=ks[sl], cpu=ls[sl], mode=pmode[ps[sl]], nodes=pnodes[ps[sl]],
                                  gfp=gs[sl], context=np.asarray(ctx_idx)[xs[sl]], enabled=np.ones(sl.stop - lo, bool))
        now = cd.today(zl, sub)
        x = cd._inputs(zl, sub)
        o = cd._BoolOps(n)
        f = cd._facts(zl, o)
        start_t, _, _, pref, _ = cd._policy(o, f, x["S"], x["mode"], x["P"], x["L0"], x["hz"], x["thisnode"],
                                            x["ctx"] == 3, x["enabled"])
        for d in designs:
            lists = lists_by[d.behaviour]
            _, _, own = cd.walks_proposal(o, f, lists, x["S"], x["c"], x["mode"], x["P"], x["L0"], x["hz"],
                                            x["hard"], x["thisnode"], x["atomic"], x["ctx"], x["enabled"],
                                            subst=cd._subst_bool(lists, cd._orders(zl)))
            var = cd.proposal(zl, sub, d, lists)
            fd_set = _set_differs(now.fast, var.fast) | _set_differs(now.retry_fast, var.retry_fast)
            sd_set = _set_differs(now.slow, var.slow) | _set_differs(now.retry_slow, var.retry_slow)
            fd = ~(now.fast == var.fast).all(1) | ~(now.retry_fast == var.retry_fast).all(1)
            sd = ~(now.slow == var.slow).all(1) | ~(now.retry_slow == var.retry_slow).all(1)
            dset = fd_set | sd_set
            dany = fd | sd
            r = res[d.name]
            r["differ_set"] += int(dset.sum())
            r["differ_order"] += int((dany & ~dset).sum())
            idx = np.flatnonzero(dany)
            np.add.at(r["cells"], (ks[sl][idx], pmode[ps[sl]][idx], gs[sl][idx], xs[sl][idx]), 1)
            st_nodes = start_t[idx]
            hard = np.array([p[1] for p in props], bool)[gs[sl][idx]]
            thisnode = np.array([p[2] for p in props], bool)[gs[sl][idx]]
            pref_out = (pmode[ps[sl]][idx] == 1) & ~x["S"][idx, st_nodes]
            cause = _attribute(thisnode, own[idx] != st_nodes, x["ctx"][idx], fd[idx], sd_set[idx], sd[idx], hard,
                               d, pref_out, ~mem[st_nodes])
            r["by_cause"] += np.bincount(cause, minlength=len(CAUSES))
            for ci in np.unique(cause).tolist():
                have = r["examples"][ci]
                if len(have) < 8:
                    for j in np.flatnonzero(cause == ci)[: 8 - len(have)]:
                        b = lo + idx[j]
                        have.append((int(ks[b]), int(ps[b]), int(ls[b]), int(gs[b]), int(xs[b]), bool(dset[idx[j]])))
    res["_counted"] = B
    return res


def _set_differs(a, b):
    return ~(np.sort(a, axis=1) == np.sort(b, axis=1)).all(1)


def _examples(zl, cs, d, lists, found, pmode, pnodes, gfps, ctx_idx, limit):
    """Describe the kept example requests, with both candidate lists (recomputed by the array engine)."""
    out = []
    picks = [(ci, e) for ci, es in enumerate(found) for e in es[:limit]]
    if not picks:
        return out
    ks = np.array([e[0] for _, e in picks])
    ps = np.array([e[1] for _, e in picks])
    req = cd.Requests(cs, ks, np.array([e[2] for _, e in picks]), pmode[ps], pnodes[ps],
                      np.array([e[3] for _, e in picks]), np.asarray(ctx_idx)[[e[4] for _, e in picks]],
                      tuple(gfps), np.ones(len(picks), bool))
    now = cd.today(zl, req)
    var = cd.proposal(zl, req, d, lists)
    fmt = lambda row: " ".join(f"N{a}.{z}" for a, z in cd.decode(zl, row)) or "(none)"  # noqa: E731
    for i, (ci, e) in enumerate(picks):
        desc = req.describe(i)
        desc.update(cause=CAUSES[ci], differs="set" if e[5] else "order", explanation=EXPLAIN[CAUSES[ci]],
                    today={"fast": fmt(now.fast[i]), "slow": fmt(now.slow[i])},
                    variant={"fast": fmt(var.fast[i]), "slow": fmt(var.slow[i])})
        if now.pm[i]:                           # PREFERRED_MANY: the second pass (NULL nodemask)
            desc["today"].update(second_fast=fmt(now.retry_fast[i]), second_slow=fmt(now.retry_slow[i]))
            desc["variant"].update(second_fast=fmt(var.retry_fast[i]), second_slow=fmt(var.retry_slow[i]))
        out.append(desc)
    return out
