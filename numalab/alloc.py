"""Where pages go: the nodes an allocation may use, the node of each page, and page migration.

Given zonelists built at boot (:func:`numalab.zonelist.build`), a task's cpuset and memory
policy, this module answers, assuming free memory everywhere:

* :func:`eligible_nodes` - the ordered nodes a page may come from: the start node's FALLBACK
  zonelist (zones up to the request's highest zone), filtered by the policy's nodemask and by
  the cpuset (the fast path's ``mems_allowed`` filter);
* :func:`place` - the node of each of N pages first touched by a task on a CPU node, for a batch
  of policies: LOCAL/DEFAULT start at the local node, PREFERRED at its node, BIND filters the
  local node's zonelist by its nodes (ignored when they miss the cpuset), PREFERRED_MANY tries
  its nodes first then falls back to the cpuset (alloc_pages_preferred_many), INTERLEAVE and
  WEIGHTED_INTERLEAVE pick a node per page by the page's index in its mapping (every page
  fault of a VMA uses the static index, for the task policy too);
* :func:`migrate_pages` - where pages already placed end up after a cgroup v2 cpuset.mems change
  (``cpuset_migrate_mm`` -> ``do_migrate_pages`` with MPOL_MF_MOVE_ALL; from v5.15, before which
  a v2 cpuset never migrated, see the ``cpuset_v2_migrate`` variant);
* :func:`run_scenario` - a policy followed through a sequence of cpuset.mems writes, the engine
  of ``numalab policy``.

Examples
--------
>>> from numalab import sources
>>> topo = sources.load("cxl4")
>>> r = run_scenario(topo, "6.1", mems="0-3", then_mems=["0-1"], mode="preferred", nodes="3", pages=4)
>>> [(np.flatnonzero(s.nodes).tolist(), s.placement.tolist()) for s in r.steps]
[([3], [3, 3, 3, 3]), ([3], [1, 1, 1, 1])]
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import mempolicy as mp
from . import zonelist as zlmod
from .cpuset import CpusetTree, format_nodes, parse_nodes
from .errors import NumalabError
from .nodemask import packed
from .kernel import profile
from .topology import Topology

__all__ = ["USER_GFP", "HARDWALL_GFP", "node_reach", "eligible_nodes", "first_allowed", "place", "migrate_pages",
           "parse_user_nodes", "Step", "Scenario", "run_scenario", "run_scenarios", "scenario_at", "cpuset_allocations"]

#: The gfp mask of user pages (anonymous and shmem page faults).
USER_GFP = "GFP_HIGHUSER_MOVABLE"
#: Whether a named gfp mask carries __GFP_HARDWALL (GFP_USER and what builds on it).
HARDWALL_GFP = {"GFP_KERNEL": False, "GFP_USER": True, "GFP_HIGHUSER": True, "GFP_HIGHUSER_MOVABLE": True,
                "GFP_TRANSHUGE": True, "GFP_TRANSHUGE_LIGHT": True}


def node_reach(zl, highest_zoneidx) -> np.ndarray:
    """(n, n) bool: node ``j`` has a zone <= ``highest_zoneidx`` in node ``s``'s FALLBACK zonelist."""
    rows, mask = zlmod.candidate_mask(zl, np.arange(zl.n_nodes), highest_zoneidx)
    Z = zl.nr_zones
    node = np.where(rows >= 0, rows // Z, 0)
    out = np.zeros((zl.n_nodes, zl.n_nodes), bool)
    s_idx = np.broadcast_to(np.arange(zl.n_nodes)[:, None], rows.shape)
    out[s_idx[mask], node[mask]] = True
    return out


def eligible_nodes(zl, reach, start, allowed) -> np.ndarray:
    """Ordered node *indices* a page may come from: start's fallback order filtered by ``allowed``.

    Parameters
    ----------
    zl : Zonelists
    reach : (n, n) bool
        From :func:`node_reach` (zones the request may use).
    start : int array (...)
        Start node index per row.
    allowed : bool array (..., n)
        Node filter (policy nodemask and cpuset) over node indices.

    Returns
    -------
    int array (..., n), -1 padded on the right.
    """
    start = np.asarray(start, np.int64)
    allowed = np.asarray(allowed, bool)
    allowed = np.broadcast_to(allowed, np.broadcast_shapes(start.shape, allowed.shape[:-1]) + allowed.shape[-1:])
    start = np.broadcast_to(start, allowed.shape[:-1])
    order = zl.order[start]                                        # (..., n)
    valid = order >= 0
    o = np.where(valid, order, 0)
    ok = valid & np.take_along_axis(reach[start], o, -1) & np.take_along_axis(allowed, o, -1)
    perm = np.argsort(~ok, axis=-1, kind="stable")
    out = np.take_along_axis(o, perm, -1)
    return np.where(np.take_along_axis(ok, perm, -1), out, -1)


def first_allowed(zl, reach, start, allowed) -> np.ndarray:
    """First node index of :func:`eligible_nodes` (or -1: the allocation finds no zone)."""
    return eligible_nodes(zl, reach, start, allowed)[..., 0]


def _ids(topo, idx):
    idx = np.asarray(idx)
    return np.where(idx >= 0, topo.node_ids[np.maximum(idx, 0)], -1)


def place(pol: mp.PolicyBatch, zl, mems_allowed, cpu_node: int, pages: int, *, gfp=USER_GFP,
          ilx_offset=0, weights=None, cpusets_enabled=True, reach=None, ilx=None):
    """Node of each of ``pages`` pages touched by a task on CPU node ``cpu_node`` (node id).

    Parameters
    ----------
    pol : PolicyBatch
        The policy that applies to the pages (VMA or shared policy, else the task policy).
    zl : Zonelists
        Built for the running system (``when="boot"``).
    mems_allowed : (nbits,) bool
        The task's mems_allowed (node ids).
    cpu_node : int
        Node id of the CPU the task runs on (numa_node_id()).
    pages : int
    gfp : str
        Allocation gfp mask (user pages: GFP_HIGHUSER_MOVABLE).
    ilx_offset : int
        Interleave index of the first page (the mapping's page offset; 0 for a fresh mapping).
    weights : (nbits,) int, optional
        Weighted-interleave weights per node id (default 1).
    cpusets_enabled : bool
        False when the task is in the root cpuset only (the allocator skips cpuset checks).
    reach : (n, n) bool, optional
        :func:`node_reach` for ``gfp`` (pass it to reuse it across calls).
    ilx : (pages,) int, optional
        Interleave index of every page (overrides ``ilx_offset``; shmem: see
        :func:`numalab.mempolicy.shm_interleave_index`).

    Returns
    -------
    placement : (B, pages) int
        Node id per page (-1: no node can satisfy the request).
    eligible : list of lists
        Per policy, the ordered node ids pages may come from.
    """
    topo = zl.topology
    n = topo.n_nodes
    B = len(pol)
    hz = zlmod.gfp_zone(gfp, topo)
    if reach is None:
        reach = node_reach(zl, hz)
    ma = np.asarray(mems_allowed, bool)
    allowed = topo.gather(ma) if cpusets_enabled else np.ones(n, bool)
    local = topo.index_of(cpu_node)
    movable = topo.zone_types.index("Movable") if "Movable" in topo.zone_types else len(topo.zone_types)
    use, mask, start = mp.policy_nodemask(pol, ma, gfp_zone=hz, policy_zone=zl.policy_zone,
                                          zone_movable=movable,
                                          high_memory=topo.mask(topo.has_normal_memory))
    nbits = pol.nbits
    pmask = topo.gather(packed.unpack(mask, nbits))                    # (B, n)
    filt = np.where(use[:, None], pmask & allowed[None, :], allowed[None, :])
    st = np.full(B, local, np.int64)
    has_start = start >= 0
    if has_start.any():
        # PREFERRED: the preferred node's zonelist (a node id of this topology)
        st[has_start] = [topo.index_of(int(x)) for x in start[has_start]]
    elig = eligible_nodes(zl, reach, st, filt)                      # (B, n)
    first = elig[:, 0]
    out = np.repeat(_ids(topo, first)[:, None], pages, axis=1)
    elig_id_arr = np.where(elig >= 0, topo.node_ids[np.maximum(elig, 0)], -1).tolist()
    elig_ids = [[j for j in row if j >= 0] for row in elig_id_arr]
    # PREFERRED_MANY: second pass without the nodemask
    pm = pol.mode == mp.MODES["PREFERRED_MANY"]
    if pm.any():
        fb = eligible_nodes(zl, reach, st[pm], np.broadcast_to(allowed, (int(pm.sum()), n)))
        for j, r in enumerate(np.flatnonzero(pm)):
            rest = [int(topo.node_ids[x]) for x in fb[j] if x >= 0 and int(topo.node_ids[x]) not in elig_ids[r]]
            if first[r] < 0 and fb[j, 0] >= 0:
                out[r] = topo.node_ids[fb[j, 0]]
            elig_ids[r] = elig_ids[r] + rest
    # interleave: a node per page from the page's index, then that node's zonelist
    il = np.isin(pol.mode, [mp.MODES["INTERLEAVE"], mp.MODES["WEIGHTED_INTERLEAVE"]])
    if il.any() and pages:
        rows = np.flatnonzero(il)
        base = np.arange(pages) + int(ilx_offset) if ilx is None else np.asarray(ilx, np.int64)
        ilx = np.broadcast_to(base, (rows.size, pages))
        wil = pol.mode[rows] == mp.MODES["WEIGHTED_INTERLEAVE"]
        nid = mp.interleave_static(pol.nodes[rows], ilx, nbits)
        if wil.any():
            wts = np.ones(nbits, np.int64) if weights is None else np.asarray(weights, np.int64)
            nid[wil] = mp.weighted_interleave_static(pol.nodes[rows[wil]], ilx[wil], wts, nbits)
        known = np.isin(nid, topo.node_ids)
        nidx = np.full(nid.shape, local, np.int64)                  # empty snapshot -> local node
        lut = np.zeros(max(int(topo.node_ids.max()) + 1, 1), np.int64)   # node id -> node index
        lut[topo.node_ids] = np.arange(n)
        nidx[known] = lut[nid[known]]
        targets = eligible_nodes(zl, reach, nidx, np.broadcast_to(allowed, nidx.shape + (n,)))[..., 0]
        out[rows] = _ids(topo, targets)
        head = out[rows, : max(1, min(pages, 64 * 8))].tolist()
        for j, r in enumerate(rows):
            # distinct nodes in order of first use (dict keeps insertion order)
            elig_ids[r] = list(dict.fromkeys(x for x in head[j] if x >= 0))
    return out, elig_ids


def migrate_pages(page_nodes, frm, to) -> np.ndarray:
    """Where pages move on a cgroup v2 mems change (``do_migrate_pages``, MPOL_MF_MOVE_ALL).

    The kernel walks the ``from`` nodes repeatedly: a node also in ``to`` stays put when the two
    masks differ in weight; otherwise its pages go to ``node_remap(s, from, to)``, choosing first a
    source whose destination is no longer a pending source so that no page moves twice. The
    passes are sequential in the kernel and stay a loop here (one pass per moved source node);
    each pass's scan is vectorized over nodes, and the moves reach the pages through one lookup
    table of node ids (vectorized over pages). Pages on nodes outside ``from`` do not move.

    Parameters
    ----------
    page_nodes : int array (any shape)
        Node id of each page.
    frm, to : (nbits,) bool
        ``cs->old_mems_allowed`` and the new task mems.

    Examples
    --------
    >>> f = np.zeros(64, bool); f[[0, 1, 2]] = True
    >>> t = np.zeros(64, bool); t[[1, 2, 3]] = True
    >>> migrate_pages(np.array([0, 1, 2]), f, t).tolist()
    [1, 2, 3]
    """
    frm = np.asarray(frm, bool)
    to = np.asarray(to, bool)
    nbits = frm.size
    cur = np.array(page_nodes, np.int64, copy=True)
    wf, wt = int(frm.sum()), int(to.sum())
    dest_of = np.asarray(packed.remap_map(packed.pack(frm), packed.pack(to), nbits), np.int64)
    # Sources the kernel may pick at all: a node kept by the weight rule, or one remapped onto
    # itself, is skipped in every pass.
    movable = frm & (dest_of != np.arange(nbits))
    if wf != wt:
        movable &= ~to
    # Each page's end node depends only on its start node: replay the kernel's moves on a
    # table of node ids, then look every page up in it.
    where = np.arange(nbits)
    tmp = frm.copy()
    while True:                                        # do_migrate_pages' outer loop (sequential)
        cand = np.flatnonzero(tmp & movable)           # for_each_node_mask(s, tmp), in order
        if cand.size == 0:
            break
        # the first candidate whose destination is no longer pending, else the last one visited
        done = ~tmp[dest_of[cand]]
        source = int(cand[np.argmax(done)] if done.any() else cand[-1])
        dest = int(dest_of[source])
        tmp[source] = False
        where[where == source] = dest
    inside = (cur >= 0) & (cur < nbits)
    cur[inside] = where[cur[inside]]
    return cur


def parse_user_nodes(text, topo: Topology):
    """The user's nodemask for set_mempolicy/mbind: ``(mask (nbits,) bool, bad)``.

    ``None`` is a NULL pointer (empty mask). Node ids up to MAX_NUMNODES-1 are accepted even when
    the topology lacks them; a bit at MAX_NUMNODES or above makes get_nodes() refuse the call
    (``bad`` is True, the kernel returns EINVAL).
    """
    nbits = topo.max_numnodes
    if text is None:
        return np.zeros(nbits, bool), False
    if isinstance(text, (list, tuple)):
        if not all(isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)) for i in text):
            raise NumalabError("node ids are integers (1.7 is not node 1, true is not a node)", input=str(text)[:60])
        ids = [int(i) for i in text]
        if any(i < 0 for i in ids):
            raise NumalabError("node ids cannot be negative", input=str(text))
        m = np.zeros(nbits, bool)
        m[[i for i in ids if i < nbits]] = True
        return m, any(i >= nbits for i in ids)
    try:
        return parse_nodes(text, nbits, where="nodes"), False
    except NumalabError as e:
        if e.errno != "ERANGE":
            raise
        wide = parse_nodes(text, 1 << 16, where="nodes")      # a syntactically good mask, too wide
        return wide[:nbits].copy(), True


def _ro(a):
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class Step:
    """One cpuset state of a :class:`Scenario`: the policy, what get_mempolicy reports, the pages.

    Nodemasks are read-only ``(nbits,)`` bool arrays over node ids (``nbits`` is MAX_NUMNODES);
    page placements are int arrays of node ids (``-1``: no node could satisfy the request).

    Attributes
    ----------
    mems : (nbits,) bool or None
        The cpuset.mems written for this state (``None``: the task is in the root cpuset).
    effective : (nbits,) bool
        cpuset.mems.effective.
    mems_allowed : (nbits,) bool
        The task's mems_allowed.
    nodes : (nbits,) bool
        The policy's effective nodemask (``pol->nodes`` after any rebind).
    reported_mode, reported_flags : int
        What get_mempolicy returns: the uapi mode and its MPOL_F_* flag bits.
    reported_nodes : (nbits,) bool
        The nodemask get_mempolicy returns.
    eligible : (k,) int
        Ordered node ids a page may come from.
    placement : (pages,) int
        Node id of each page first touched in this state.
    old_pages : tuple of (pages,) int
        Where the pages of every earlier state are now.
    transient_nodes : (nbits,) bool or None
        v4.10 task policies: the union seen between the two steps of a rebind; else None.
    """

    mems: np.ndarray | None
    effective: np.ndarray
    mems_allowed: np.ndarray
    nodes: np.ndarray
    reported_mode: int
    reported_flags: int
    reported_nodes: np.ndarray
    eligible: np.ndarray
    placement: np.ndarray
    old_pages: tuple
    transient_nodes: np.ndarray | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class Scenario:
    """A policy followed through cpuset.mems writes (what :func:`run_scenario` returns).

    Attributes
    ----------
    error : str or None
        The errno name set_mempolicy/mbind returns (the task then keeps no policy), else None.
    kernel : str
        Label of the kernel release window.
    topology : str
        Name of the machine.
    scope : {"task", "vma", "shm"}
    cpu_node : int
        Node id of the CPU the task runs on.
    mode, flags : int
        The requested uapi mode and MPOL_F_* flag bits.
    steps : tuple of Step
        The initial cpuset state, then one per cpuset.mems write.
    home_node : dict or None
        ``{"node", "error"}`` when set_mempolicy_home_node() was called (v5.17+), else None.
    shm : dict or None
        Shared memory only: ``{"inode", "inode_default", "order", "note"}`` (the inode number added
        to every page index; a real segment's is not predictable from outside).
    weights : dict or None
        Weighted interleave only: ``{"source", "values"}`` (weight per memory node).
    """

    error: str | None
    kernel: str
    topology: str
    scope: str
    cpu_node: int
    mode: int
    flags: int
    steps: tuple
    home_node: dict | None = None
    shm: dict | None = None
    weights: dict | None = None


def run_scenario(topo: Topology, kernel="current", *, mems=None, then_mems=(), mode="default",
                 flags=(), nodes=None, scope="task", cpu_node=None, pages=16, hierarchy="v2",
                 zonelists=None, weights=None, pgoff=0, home_node=None, inode=None, order=0,
                 weight_writes=None, bandwidth=None) -> Scenario:
    """A policy followed through cpuset.mems writes: the engine of ``numalab policy``.

    The task runs on ``cpu_node`` inside a child cpuset whose mems are ``mems`` (``None``: the
    task stays in the root cpuset and cpusets are not enabled), sets its policy (``scope``
    ``"task"``: set_mempolicy; ``"vma"``: mbind on its mapping; ``"shm"``: mbind on a shared
    memory segment, never rebound), touches ``pages`` pages in a fresh mapping, then each entry
    of ``then_mems`` is written to cpuset.mems and ``pages`` more pages are touched.

    Interleave nodes depend on each page's index in its mapping (``vm_pgoff`` plus the page's
    position). Task scope: every step touches a fresh anonymous mapping, which the top-down mmap
    allocator places just below the previous one (still mapped), so step ``i`` starts at page
    offset ``pgoff - i * pages``; VMA and shm scope: one mapping (segment) whose next ``pages``
    pages are touched at each step (offset ``pgoff + i * pages``). The real ``pgoff`` depends on
    the address the mapping got (ASLR): interleave sequences are exact up to where they start.
    A shared segment (``"shm"``) adds its inode number to every page index (``inode``, default
    0; see :func:`numalab.mempolicy.shm_interleave_index`): a real segment's inode number is not
    predictable from outside, so neither is the node its first page lands on. ``order`` > 0
    (shm only) touches huge pages of ``2**order`` base pages.

    ``home_node`` calls set_mempolicy_home_node() on the mapping after the policy is set (v5.17+;
    :func:`numalab.mempolicy.set_home_node`). ``weight_writes`` ({node: weight} written to
    ``weighted_interleave/nodeN``) and ``bandwidth`` ({node: bandwidth} as firmware reports it;
    default: ``topo.meta["bandwidth"]`` when the topology records it) give the weighted-interleave
    weights (:func:`numalab.mempolicy.interleave_weights`) unless ``weights`` is given.

    Returns
    -------
    Scenario
        Arrays and numbers only (and the plain records ``home_node``, ``shm`` and
        ``weights``); ``numalab.cli.policy`` and ``numalab.viz.policy`` format them.

    See Also
    --------
    run_scenarios : the same for many (mode, flags, nodes) policies at once, as arrays.

    Examples
    --------
    >>> from numalab import sources
    >>> r = run_scenario(sources.load("cxl4"), "6.1", mems="0-3", then_mems=["0-1"], mode="bind",
    ...                  flags=["static"], nodes="3", pages=2)
    >>> r.error, [s.placement.tolist() for s in r.steps], np.flatnonzero(r.steps[1].nodes).tolist()
    (None, [[3, 3], [0, 0]], [0, 1])
    """
    b = run_scenarios(topo, kernel, [(mode, flags, nodes)], mems=mems, then_mems=then_mems, scope=scope,
                      cpu_node=cpu_node, pages=pages, hierarchy=hierarchy, zonelists=zonelists,
                      weights=weights, pgoff=pgoff, home_node=home_node, inode=inode, order=order,
                      weight_writes=weight_writes, bandwidth=bandwidth)
    return scenario_at(b, 0, topo.name, scope)


def scenario_at(b: dict, i: int, topology: str, scope: str) -> Scenario:
    """Case ``i`` of a :func:`run_scenarios` result as a :class:`Scenario` (what
    :func:`run_scenario` returns for that policy alone)."""
    nbits = b["nbits"]
    steps = []
    for s in b["steps"]:
        steps.append(Step(
            mems=None if s["mems"] is None else _ro(s["mems"]), effective=_ro(s["effective"]),
            mems_allowed=_ro(s["mems_allowed"]), nodes=_ro(packed.unpack(s["nodes"][i], nbits)),
            reported_mode=int(s["reported_mode"][i]), reported_flags=int(s["reported_flags"][i]),
            reported_nodes=_ro(packed.unpack(s["reported_nodes"][i], nbits)),
            eligible=_ro(np.asarray(s["eligible"][i], np.int64)), placement=_ro(s["placement"][i]),
            old_pages=tuple(_ro(h[i]) for h in s["old_pages"]),
            transient_nodes=None if s["transient_nodes"] is None else _ro(packed.unpack(s["transient_nodes"][i], nbits))))
    mval = int(b["mode"][i])
    home = None if b["home_node"] is None else {"node": b["home_node"]["node"],
                                                "error": b["home_node"]["error"][i]}
    weights = b["weights"] if mval == mp.MODES["WEIGHTED_INTERLEAVE"] else None
    return Scenario(error=b["error"][i], kernel=b["kernel"], topology=topology, scope=scope,
                    cpu_node=b["cpu_node"], mode=mval, flags=int(b["flags"][i]), steps=tuple(steps),
                    home_node=home, shm=b["shm"], weights=weights)

def run_scenarios(topo: Topology, kernel="current", cases=(("default", (), None),), *, mems=None, then_mems=(),
                  scope="task", cpu_node=None, pages=16, hierarchy="v2", zonelists=None, weights=None,
                  pgoff=0, home_node=None, inode=None, order=0, weight_writes=None, bandwidth=None) -> dict:
    """:func:`run_scenario` for a batch of policies in the same cpuset, as arrays.

    Every case ``(mode, flags, nodes)`` is one row of one :class:`~numalab.mempolicy.PolicyBatch`:
    the cpuset writes are done once, the policies are created, rebound and placed together, and
    the pages of every case are migrated together (page migration depends only on each page's
    node). Row ``i`` holds what :func:`run_scenario` returns for case ``i``.

    Parameters
    ----------
    topo, kernel, mems, then_mems, scope, cpu_node, pages, hierarchy, zonelists, weights, pgoff
        As in :func:`run_scenario`; also ``home_node``, ``inode``, ``order``, ``weight_writes``,
        ``bandwidth``.
    cases : sequence of (mode, flags, nodes)
        ``mode`` and ``flags`` as :func:`numalab.mempolicy.mode_value` / ``flag_bits`` take them;
        ``nodes`` the user's nodemask text (``None``: a NULL nodemask).

    Returns
    -------
    dict
        ``kernel`` (label), ``cpu_node``, ``nbits``, ``mode`` and ``flags`` (B,) uapi values,
        ``error`` (B,) errno name or None, ``steps``: per cpuset state ``mems`` ((nbits,) bool, or
        None for the root cpuset),
        ``effective`` and ``mems_allowed`` ((nbits,) bool), ``nodes`` and ``reported_nodes``
        ((B, W) packed nodemasks), ``reported_mode``/``reported_flags`` (B,), ``eligible`` (list of
        B lists of node ids), ``placement`` (B, pages) node ids, ``old_pages`` (list of (B, pages)
        arrays) and ``transient_nodes`` ((B, W) packed, v4.10 task policies only, else None);
        ``home_node`` (None, or {"node", "error": (B,) errno names}), ``shm`` (None, or the inode
        and order used), ``weights`` ({"source", "values": {node: weight}}).

    Examples
    --------
    >>> from numalab import sources
    >>> t = sources.load("cxl4")
    >>> b = run_scenarios(t, "6.1", [("preferred", (), "3"), ("bind", ["static"], "3")],
    ...                   mems="0-3", then_mems=["0-1"], pages=2)
    >>> b["error"].tolist(), b["steps"][1]["placement"].tolist()
    ([None, None], [[1, 1], [0, 0]])
    """
    # argument checks in the order run_scenario has always made them (same error first)
    k = profile(kernel)
    if scope not in ("task", "vma", "shm"):
        raise NumalabError("scope must be task, vma or shm", input=scope)
    then_mems = list(then_mems or [])
    if then_mems and mems is None:
        raise NumalabError("--then-mems needs --mems (the task must be in a child cpuset)", input="then_mems")
    pages = int(pages)
    if pages < 0 or pages > 1 << 20:
        raise NumalabError("pages must lie in 0..1048576", input=pages)
    if scope != "shm" and (inode is not None or int(order) != 0):
        raise NumalabError("an inode number and a page order apply to shared memory (scope shm) only",
                           input="inode" if inode is not None else "order")
    shm = None
    if scope == "shm":
        shm = {"inode": 0 if inode is None else int(inode), "inode_default": inode is None, "order": int(order),
               "note": "shmem adds the segment's inode number to every page index, so interleave starts at "
                       "the (inode mod k)-th node of the mask; a real segment's inode number comes from "
                       "get_next_ino() and is not predictable from outside" +
                       ("; 0 is assumed (default)" if inode is None else "")}
        mp.shm_interleave_index(0, shm["inode"], shm["order"], k)          # validates both
    zl = zonelists if zonelists is not None else zlmod.build(topo, k, "boot")
    if cpu_node is None:
        cpu_node = int(topo.node_ids[np.flatnonzero(topo.has_cpu)[0]]) if topo.has_cpu.any() else int(topo.node_ids[0])
    cpu_node = int(cpu_node)
    topo.index_of(cpu_node)
    tree = CpusetTree(topo, hierarchy, k)
    path = "/"
    if mems is not None:
        path = "/numalab"
        tree.create(path, mems=mems, populated=True)
    task_mems = tree.task_mems_allowed(path)
    enabled = tree.cpusets_enabled()
    cases = list(cases)
    B = len(cases)
    nbits = topo.max_numnodes
    user = np.zeros((B, nbits), bool)
    bad = np.zeros(B, bool)
    mvals = np.zeros(B, np.int64)
    fvals = np.zeros(B, np.int64)
    parsed = {}
    for i, (mode, flags, nodes) in enumerate(cases):
        if isinstance(nodes, (str, type(None))):          # the same text parses the same
            if nodes not in parsed:
                parsed[nodes] = parse_user_nodes(nodes, topo)
            user[i], bad[i] = parsed[nodes]
        else:
            user[i], bad[i] = parse_user_nodes(nodes, topo)
        mvals[i] = mp.mode_value(mode)
        fvals[i] = mp.flag_bits(flags)
    pol = mp.create(mvals, fvals, user, task_mems, k, n_memory=tree.n_memory, nbits=nbits, bad_mask=bad,
                    call="set_mempolicy" if scope == "task" else "mbind")
    error = pol.errno_names()
    home = None
    if home_node is not None:
        pol, herr = mp.set_home_node(pol, int(home_node), k, online=topo.mask(topo.online), scope=scope)
        home = {"node": int(home_node), "error": herr}
    wsource = "given"
    if weights is None:
        bw = bandwidth if bandwidth is not None else topo.meta.get("bandwidth")
        weights, wsource = mp.interleave_weights(k, nbits, tree.n_memory,
                                                 written=_node_dict(weight_writes, "weights"),
                                                 bandwidth=_node_dict(bw, "bandwidth"))
    wts = np.asarray(weights, np.int64)
    mem_ids = np.flatnonzero(np.asarray(tree.n_memory, bool))
    weights_doc = {"source": wsource, "values": {int(i): int(max(wts[i], 1)) for i in mem_ids if i < wts.size}}
    nr = topo.nr_node_ids
    reach = node_reach(zl, zlmod.gfp_zone(USER_GFP, topo))
    steps, history = [], []

    def record(label_mems, eff, allowed, transient=None):
        rmode, rflags, rmask = mp.report(pol, nr)
        i = len(steps)
        off = pgoff - i * pages if scope == "task" else pgoff + i * pages
        ilx = None
        if shm is not None:                   # page index in the file, biased by the inode number
            index = (off + np.arange(pages)) << shm["order"]
            ilx = mp.shm_interleave_index(index, shm["inode"], shm["order"], k)
        placement, elig = place(pol, zl, allowed, cpu_node, pages, weights=weights, cpusets_enabled=enabled,
                                ilx_offset=off, reach=reach, ilx=ilx)
        steps.append({"mems": label_mems, "effective": np.asarray(eff, bool), "mems_allowed": np.asarray(allowed, bool),
                      "nodes": pol.nodes.copy(), "reported_mode": rmode, "reported_flags": rflags,
                      "reported_nodes": rmask, "eligible": elig, "placement": placement,
                      "old_pages": list(history), "transient_nodes": transient})
        history.append(placement.copy())

    record(np.asarray(tree.get(path).mems, bool).copy() if mems is not None else None, tree.effective(path), task_mems)
    for m in then_mems:
        change = tree.write_mems(path, m)
        transient = None
        new_task = change.new_task_mems[path]
        if path in change.changed:
            if scope == "task":
                seq = mp.rebind_steps(pol, new_task, k, scope="task")
                if len(seq) > 1:
                    transient = seq[0][1].nodes.copy()
                pol = seq[-1][1]
            elif scope == "vma":
                pol = mp.rebind(pol, change.configured[path], k)
            if k.cpuset_v2_migrate:  # v5.15+: a v2 mems change migrates the tasks' pages
                old = change.old_task_mems[path]
                history = [migrate_pages(h, old, new_task) for h in history]
        record(np.asarray(change.configured[path], bool).copy(), change.new_effective[path], new_task, transient)
    return {"kernel": k.label, "cpu_node": cpu_node, "nbits": nbits, "mode": mvals, "flags": fvals,
            "error": error, "home_node": home, "shm": shm, "weights": weights_doc, "steps": steps}


def _node_dict(value, what):
    """``{node id: int}`` from a dict or a ``"0=300,1=100"`` string (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        out = {}
        for part in [p for p in value.replace(" ", "").split(",") if p]:
            key, sep, val = part.partition("=")
            if not sep or not key.isdigit() or not val.isdigit():
                raise NumalabError(f"{what} must look like 0=300,1=100 (node=value, decimal)", input=value)
            out[int(key)] = int(val)
        return out
    if not isinstance(value, dict):
        raise NumalabError(f"{what} must be a mapping of node id to an integer", input=str(value)[:60])
    out = {}
    for key, val in value.items():
        try:
            nid = int(key)
        except (TypeError, ValueError):
            raise NumalabError(f"{what}: node id {key!r} is not an integer", input=str(key)) from None
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool):
            raise NumalabError(f"{what} of node {nid} must be an integer", input=str(val))
        out[nid] = int(val)
    return out


def cpuset_allocations(topo: Topology, kernel="current", *, mems=None, then_mems=(), hierarchy="v2",
                       cpu_node=None, gfps=("GFP_KERNEL", "GFP_HIGHUSER", "GFP_HIGHUSER_MOVABLE"),
                       zonelists=None) -> dict:
    """What an allocation of a task in a cpuset gets, per gfp mask, after the cpuset.mems writes.

    The task runs on ``cpu_node`` in a child cpuset (mems ``mems``, then each of ``then_mems``).
    Per gfp: the fast path takes the first zone <= the request's highest zone of the local
    node's zonelist within mems_allowed. When there is none: a request without __GFP_HARDWALL
    (GFP_KERNEL) may use the nearest hardwall ancestor's mems in the slow path; a HARDWALL request
    fails at once from v5.16 when the static key cpusets_insane_config_key is on (some cpuset was
    given movable-only mems; ``__alloc_pages_slowpath``), and before v5.16 (or with the key off)
    ends in reclaim and the OOM killer (CONSTRAINT_CPUSET), retried. Free memory everywhere.

    Returns
    -------
    dict
        ``kernel``, ``cpu_node``, ``cpuset`` (path, mems, effective, mems_allowed), ``log`` (kernel
        log lines of the writes), ``insane_config`` (the static key), ``allocations`` (per gfp:
        ``gfp``, ``highest_zone``, ``hardwall``, ``outcome``, ``node``) and ``node_allowed`` (the
        __cpuset_node_allowed table of the cpuset).

    Examples
    --------
    >>> from numalab import sources
    >>> r = cpuset_allocations(sources.load("cxl4"), "6.1", mems="0-1")
    >>> [(a["gfp"], a["outcome"], a["node"]) for a in r["allocations"]]
    [('GFP_KERNEL', 'allocated', 0), ('GFP_HIGHUSER', 'allocated', 0), ('GFP_HIGHUSER_MOVABLE', 'allocated', 0)]
    """
    from .cpuset import node_allowed_table

    k = profile(kernel)
    zl = zonelists if zonelists is not None else zlmod.build(topo, k, "boot")
    if cpu_node is None:
        cpu_node = int(topo.node_ids[np.flatnonzero(topo.has_cpu)[0]]) if topo.has_cpu.any() else int(topo.node_ids[0])
    local = topo.index_of(int(cpu_node))
    tree = CpusetTree(topo, hierarchy, k)
    path, log = "/", []
    if mems is not None:
        path = "/numalab"
        tree.create(path, populated=False)
        log += list(tree.write_mems(path, mems).log)
        tree.get(path).populated = bool(tree.get(path).mems.any()) or hierarchy == "v2"
    elif then_mems:
        raise NumalabError("--then-mems needs --mems (the task must be in a child cpuset)", input="then_mems")
    for m in then_mems:
        log += list(tree.write_mems(path, m).log)
    enabled = tree.cpusets_enabled()
    ma = topo.gather(tree.task_mems_allowed(path)) if enabled else np.ones(topo.n_nodes, bool)
    hw = topo.gather(tree.get(tree.nearest_hardwall_ancestor(path)).mems) if enabled else ma
    out = []
    for gfp in gfps:
        name = str(gfp).strip().upper()
        if name not in HARDWALL_GFP:
            raise NumalabError("gfp mask must be one of " + ", ".join(HARDWALL_GFP), input=str(gfp))
        hz = zlmod.gfp_zone(name, topo)
        reach = node_reach(zl, hz)
        first = int(first_allowed(zl, reach, local, ma))
        hard = HARDWALL_GFP[name]
        if first >= 0:
            outcome, node = "allocated", int(topo.node_ids[first])
        elif not hard and (alt := int(first_allowed(zl, reach, local, hw))) >= 0:
            outcome, node = "allocated outside mems_allowed (slow path: nearest hardwall ancestor)", \
                int(topo.node_ids[alt])
        elif hard and k.cpusets_insane_config and tree.insane_config:
            outcome, node = "fails at once (movable-only cpuset: cpusets_insane_config)", None
        else:
            outcome, node = "no zone: reclaim, then the OOM killer (CONSTRAINT_CPUSET), retried", None
        out.append({"gfp": name, "highest_zone": topo.zone_types[hz], "hardwall": hard, "outcome": outcome,
                    "node": node})
    return {"kernel": k.label, "topology": topo.name, "hierarchy": hierarchy, "cpu_node": int(cpu_node),
            "cpuset": {"path": path, "mems": format_nodes(tree.get(path).mems) if path != "/" else None,
                       "effective": format_nodes(tree.effective(path)),
                       "mems_allowed": format_nodes(tree.task_mems_allowed(path))},
            "log": log, "insane_config": tree.insane_config, "allocations": out,
            "node_allowed": node_allowed_table(tree, path)}
