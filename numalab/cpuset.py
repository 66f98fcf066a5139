"""Cpusets (kernel/cgroup/cpuset.c, cpuset-v1.c): memory nodes of a cgroup tree, v1 and v2.

A :class:`CpusetTree` holds the cpusets of one machine by path (``"/"`` is the root cpuset,
``"/a/b"`` a child of ``"/a"``). Nodemasks are bool arrays over node *ids* (MAX_NUMNODES bits).

* ``mems`` is what the admin wrote to ``cpuset.mems`` (``cs->mems_allowed``);
* ``effective(path)`` is ``cs->effective_mems``: equal to ``mems`` on cgroup v1; on v2 the
  configured mems intersected with the parent's effective mems, or the parent's effective mems
  when that is empty (mems not set included);
* ``task_mems_allowed(path)`` is what a task of the cpuset gets (``guarantee_online_mems``:
  effective mems that have memory, walking up to the first ancestor where that is non-empty);
* ``nearest_hardwall_ancestor(path)``: the cpuset itself or the closest ancestor that is
  mem_exclusive or mem_hardwall (v1 files; the root is always a hardwall);
* :func:`node_allowed`: the per-node decision of ``__cpuset_node_allowed`` (renamed
  ``cpuset_node_allowed`` then ``cpuset_current_node_allowed``), vectorized over nodes.

Writes are validated as the kernel does (``update_nodemask``/``validate_change``): a mask not
within the root's mems -> EINVAL; v1: not containing a child's mems -> EBUSY, not within the
parent's -> EACCES, emptying a populated cpuset -> ENOSPC; overlapping a mem_exclusive sibling
-> EINVAL.

Examples
--------
>>> import numpy as np
>>> from numalab.topology import Topology
>>> t = Topology(name="four", node_ids=np.arange(4), distance=10 + 10 * (1 - np.eye(4, dtype=int)),
...              cpu_ids=np.arange(4), cpu_node=np.arange(4),
...              present_pages=np.tile([0, 0, 100, 0, 0], (4, 1)), managed_pages=np.tile([0, 0, 100, 0, 0], (4, 1)))
>>> tree = CpusetTree(t, "v2")
>>> tree.create("/job", mems="0-1", populated=True)
>>> change = tree.write_mems("/job", "1-3")
>>> format_nodes(change.old_task_mems["/job"]), format_nodes(change.new_task_mems["/job"])
('0-1', '1-3')
"""
from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from . import nodemask as _nm
from .errors import NumalabError
from .kernel import profile
from .sources.cgroup import read_cgroup_dirs
from .topology import Topology

__all__ = ["CpusetTree", "Cpuset", "MemsChange", "parse_nodes", "format_nodes", "node_allowed",
           "node_allowed_table", "read_cgroup_tree"]


def parse_nodes(text, nbits: int, *, where="cpuset.mems", kernel=None) -> np.ndarray:
    """A nodemask of ``nbits`` bits from what is written to ``cpuset.mems``.

    Text is read as ``cpuset_write_resmask`` does: white space stripped (``strstrip``), then
    :func:`numalab.nodemask.parselist` (``bitmap_parselist``) with the grammar of ``kernel``
    (``N`` from v5.13, ``all`` from v5.14; default the newest release). A bool array passes through
    (checked for its width); a sequence of node ids is :func:`numalab.nodemask.from_nodes`.

    >>> format_nodes(parse_nodes(" 0-7:2/4\\n", 8)), format_nodes(parse_nodes([3, 1], 8))
    ('0-1,4-5', '1,3')
    """
    if isinstance(text, np.ndarray):
        return _nm.as_mask(text, nbits)
    if isinstance(text, (list, tuple)):
        if not all(isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)) for i in text):
            raise NumalabError("node ids are integers (1.7 is not node 1, true is not a node)",
                               errno="EINVAL", input=where)
        ids = np.asarray(text, np.int64).reshape(-1)
        if (ids < 0).any():
            raise NumalabError(f"{where}: node ids cannot be negative", errno="EINVAL", input=str(list(text)))
        try:
            return _nm.from_nodes(ids, nbits)
        except NumalabError as e:
            raise NumalabError(f"{where}: {e.problem}", errno="EINVAL", input=str(list(text))) from None
    text = "" if text is None else str(text)
    try:
        return _nm.parselist(text.strip(), nbits, kernel=kernel)
    except NumalabError as e:
        raise NumalabError(f"{where}: {e.problem}", errno=e.errno or "EINVAL", input=text) from None


def format_nodes(mask) -> str:
    """Kernel list string of a bool mask (``"0-1,3"``; empty mask -> ``""``)."""
    return str(_nm.format_list(np.asarray(mask, bool)))


@dataclasses.dataclass
class Cpuset:
    """One cpuset: configured ``mems``, v1 flags, whether tasks are attached."""

    path: str
    mems: np.ndarray
    mem_exclusive: bool = False
    mem_hardwall: bool = False
    populated: bool = False
    #: cgroup v2: cpuset.mems was never written (mems empty, effective inherited).
    mems_unset: bool = False


@dataclasses.dataclass(frozen=True)
class MemsChange:
    """The result of one write to cpuset.mems: per affected cpuset, the masks before and after.

    ``old_task_mems``/``new_task_mems`` are the tasks' mems_allowed (``guarantee_online_mems``,
    what ``mpol_rebind_task`` and page migration use); ``configured`` is the cpuset's configured
    mask after the write (what ``mpol_rebind_mm`` rebinds VMA policies with).
    """

    path: str
    changed: tuple
    old_task_mems: dict
    new_task_mems: dict
    old_effective: dict
    new_effective: dict
    configured: dict
    #: Kernel log lines the write produced (v5.16+: the movable-only warning).
    log: tuple = ()


def _parent(path: str) -> str | None:
    if path == "/":
        return None
    p = path.rstrip("/").rsplit("/", 1)[0]
    return p or "/"


def _norm(path: str) -> str:
    path = "/" + str(path).strip().strip("/")
    return path if path != "//" else "/"


class CpusetTree:
    """A cpuset hierarchy (cgroup ``"v1"`` or ``"v2"``) on one topology.

    Parameters
    ----------
    topo : Topology
    hierarchy : {"v2", "v1"}
    kernel : str
        Kernel release (selects the version windows that touch cpusets).
    """

    def __init__(self, topo: Topology, hierarchy: str = "v2", kernel="current"):
        if hierarchy not in ("v1", "v2"):
            raise NumalabError("cgroup hierarchy must be v1 or v2", input=hierarchy)
        self.topology = topo
        self.hierarchy = hierarchy
        self.kernel = profile(kernel)
        self.nbits = topo.max_numnodes
        #: N_MEMORY as a nodemask over node ids.
        self.n_memory = topo.mask(topo.has_memory)
        # top_cpuset.mems_allowed: node_possible_map on v2 (cpuset_bind), N_MEMORY on v1;
        # its effective_mems is N_MEMORY in both.
        root_mems = topo.mask(topo.possible) if hierarchy == "v2" else self.n_memory.copy()
        root = Cpuset("/", root_mems, mem_exclusive=True, populated=True)
        self._sets = {"/": root}
        #: The static key cpusets_insane_config_key (v5.16+): set by the first write of mems
        #: that have only movable memory, never cleared.
        self.insane_config = False

    # ------------------------------------------------------------------ structure
    def __contains__(self, path):
        return _norm(path) in self._sets

    def paths(self) -> list:
        """All cpuset paths, parents before children."""
        return sorted(self._sets, key=lambda p: (p.count("/") if p != "/" else 0, p))

    def children(self, path) -> list:
        path = _norm(path)
        return [p for p in self._sets if _parent(p) == path]

    def get(self, path) -> Cpuset:
        path = _norm(path)
        if path not in self._sets:
            raise NumalabError("no such cpuset", input=path)
        return self._sets[path]

    def create(self, path, mems=None, *, mem_exclusive=False, mem_hardwall=False, populated=False):
        """mkdir a cpuset and (optionally) write its mems, then attach tasks (``populated``).

        On v1 a new cpuset starts with empty mems (tasks cannot be attached before mems are
        written: ENOSPC); on v2 it inherits the parent's effective mems until written.
        """
        path = _norm(path)
        if path in self._sets:
            raise NumalabError("cpuset exists", errno="EEXIST", input=path)
        par = _parent(path)
        if par not in self._sets:
            raise NumalabError("parent cpuset does not exist", errno="ENOENT", input=path)
        if self.hierarchy == "v2" and (mem_exclusive or mem_hardwall):
            raise NumalabError("cgroup v2 has no cpuset.mem_exclusive/mem_hardwall files", input=path)
        cs = Cpuset(path, np.zeros(self.nbits, bool), mem_exclusive=mem_exclusive,
                    mem_hardwall=mem_hardwall, populated=False, mems_unset=True)
        self._sets[path] = cs
        try:
            if mems is not None:
                self.write_mems(path, mems)
            if mem_exclusive:
                self._validate(path, cs.mems, mem_exclusive=True)
        except NumalabError:
            del self._sets[path]
            raise
        if populated:
            if self.hierarchy == "v1" and not cs.mems.any():
                del self._sets[path]
                raise NumalabError("cannot attach tasks to a v1 cpuset with empty mems", errno="ENOSPC",
                                   input=path)
            cs.populated = True

    # ------------------------------------------------------------------ masks
    def effective(self, path) -> np.ndarray:
        """``cs->effective_mems`` (v1: the configured mems)."""
        path = _norm(path)
        cs = self.get(path)
        if path == "/":
            return self.n_memory.copy()
        if self.hierarchy == "v1":
            return cs.mems.copy()
        pe = self.effective(_parent(path))
        e = cs.mems & pe
        return e if e.any() else pe

    def task_mems_allowed(self, path) -> np.ndarray:
        """``guarantee_online_mems``: effective mems with memory, from the closest such ancestor."""
        p = _norm(path)
        while True:
            e = self.effective(p) & self.n_memory
            if e.any() or p == "/":
                return e
            p = _parent(p)

    def nearest_hardwall_ancestor(self, path) -> str:
        """Closest cpuset (itself included) that is mem_exclusive or mem_hardwall; the root at most."""
        p = _norm(path)
        while p != "/":
            cs = self.get(p)
            if cs.mem_exclusive or cs.mem_hardwall:
                return p
            p = _parent(p)
        return "/"

    def cpusets_enabled(self) -> bool:
        """The static key: true once any non-root cpuset exists."""
        return len(self._sets) > 1

    # ------------------------------------------------------------------ writes
    def _validate(self, path, trial, *, mem_exclusive=None):
        cs = self.get(path)
        excl = cs.mem_exclusive if mem_exclusive is None else mem_exclusive
        if not np.all(trial <= self.get("/").mems):
            bad = format_nodes(trial & ~self.get("/").mems)
            raise NumalabError(f"nodes {bad} are not in the root cpuset's mems "
                               f"({'possible nodes' if self.hierarchy == 'v2' else 'nodes with memory'})",
                               errno="EINVAL", input=format_nodes(trial))
        if path == "/":
            return
        if self.hierarchy == "v1":
            for c in self.children(path):
                if not np.all(self._sets[c].mems <= trial):
                    raise NumalabError(f"child {c} uses nodes outside the new mems", errno="EBUSY",
                                       input=format_nodes(trial))
            par = self.get(_parent(path))
            if not np.all(trial <= par.mems):
                raise NumalabError(f"not within the parent's mems {format_nodes(par.mems)!r}",
                                   errno="EACCES", input=format_nodes(trial))
        for s in self.children(_parent(path)):
            if s == path:
                continue
            sib = self._sets[s]
            if (excl or sib.mem_exclusive) and np.any(trial & sib.mems):
                raise NumalabError(f"overlaps mem_exclusive sibling {s}", errno="EINVAL",
                                   input=format_nodes(trial))
        if self.hierarchy == "v1" and cs.populated and cs.mems.any() and not trial.any():
            raise NumalabError("a cpuset with tasks cannot have empty mems", errno="ENOSPC", input=path)

    def write_mems(self, path, mems) -> MemsChange:
        """Write ``cpuset.mems`` (``update_nodemask``) and report what changed below ``path``.

        Raises
        ------
        NumalabError
            With the kernel's errno when the write is refused.
        """
        path = _norm(path)
        if path == "/":
            raise NumalabError("the root cpuset's mems are read-only", errno="EACCES", input=path)
        trial = parse_nodes(mems, self.nbits, kernel=self.kernel)   # the release's own grammar
        self._validate(path, trial)
        sub = [p for p in self.paths() if p == path or p.startswith(path.rstrip("/") + "/")]
        old_eff = {p: self.effective(p) for p in sub}
        old_task = {p: self.task_mems_allowed(p) for p in sub}
        log = ()
        if self.kernel.cpusets_insane_config and not self.insane_config and self.movable_only(trial):
            self.insane_config = True
            log = (f"Unsupported (movable nodes only) cpuset configuration detected "
                   f"(nmask={format_nodes(trial)})! Cpuset allocations might fail even with a lot of "
                   f"memory available.",)
        cs = self.get(path)
        cs.mems = trial.copy()
        cs.mems_unset = False
        new_eff = {p: self.effective(p) for p in sub}
        new_task = {p: self.task_mems_allowed(p) for p in sub}
        changed = tuple(p for p in sub if not np.array_equal(old_eff[p], new_eff[p]))
        return MemsChange(path=path, changed=changed, old_task_mems=old_task, new_task_mems=new_task,
                          old_effective=old_eff, new_effective=new_eff,
                          configured={p: self.get(p).mems.copy() for p in sub}, log=log)

    def movable_only(self, mems) -> bool:
        """``movable_only_nodes``: non-empty mems none of which has memory at or below ZONE_NORMAL.

        The kernel asks the first node's zonelist for a zone <= ZONE_NORMAL within the mems; here
        N_NORMAL_MEMORY of the topology answers the same question. From v5.16 ``update_nodemask``
        turns on the static key ``cpusets_insane_config_key`` and logs a warning the first time
        such mems are written (Feng Tang, "mm/page_alloc: detect allocation forbidden by cpuset
        and bail out early", v5.16).
        """
        m = np.asarray(mems, bool)
        return bool(m.any()) and not bool((m & self.topology.mask(self.topology.has_normal_memory)).any())

    def set_flags(self, path, *, mem_exclusive=None, mem_hardwall=None):
        """v1 only: write cpuset.mem_exclusive / cpuset.mem_hardwall (exclusive overlap -> EINVAL)."""
        if self.hierarchy != "v1":
            raise NumalabError("mem_exclusive/mem_hardwall exist on cgroup v1 only", input=path)
        cs = self.get(path)
        if mem_exclusive is not None:
            self._validate(_norm(path), cs.mems, mem_exclusive=bool(mem_exclusive))
            cs.mem_exclusive = bool(mem_exclusive)
        if mem_hardwall is not None:
            cs.mem_hardwall = bool(mem_hardwall)

    def to_rows(self) -> list:
        """One dict per cpuset (path, mems, effective, task mems_allowed, hardwall ancestor)."""
        return [{"path": p, "mems": format_nodes(self._sets[p].mems), "effective": format_nodes(self.effective(p)),
                 "mems_allowed": format_nodes(self.task_mems_allowed(p)),
                 "hardwall_ancestor": self.nearest_hardwall_ancestor(p),
                 "mem_exclusive": self._sets[p].mem_exclusive, "mem_hardwall": self._sets[p].mem_hardwall}
                for p in self.paths()]


# --------------------------------------------------------------------------------------------
def node_allowed(mems_allowed, hardwall_mems, *, in_interrupt=False, gfp_hardwall=True,
                 oom_victim=False, exiting=False, memdie=None, kernel=None) -> np.ndarray:
    """``__cpuset_node_allowed`` for every node at once (vectorized over node bits).

    First matching row wins: (1) in interrupt -> allowed; (2) node in the task's mems_allowed ->
    allowed; (3) the task is an OOM victim -> allowed; (4) __GFP_HARDWALL -> denied; (5) the
    task is exiting (PF_EXITING) -> allowed; (6) allowed iff the node is in the configured mems
    of the nearest hardwall ancestor.

    Row 3 per release: v4.14+ tests ``tsk_is_oom_victim(current)`` (``signal->oom_mm``: every
    thread of the process the OOM killer chose); v4.10..v4.13 tested the thread flag TIF_MEMDIE,
    which the OOM killer sets on the one thread it picked (Michal Hocko, "mm: replace TIF_MEMDIE
    checks by tsk_is_oom_victim", with "mm, oom: do not rely on TIF_MEMDIE for memory reserves
    access", cd04ae1e2dc8, both in the MM merge for v4.14). So another thread of the victim
    process passes row 3 from v4.14 only.

    Parameters
    ----------
    mems_allowed, hardwall_mems : (..., nbits) bool
    in_interrupt, gfp_hardwall, oom_victim, exiting : bool or bool arrays broadcasting over ``...``
        ``oom_victim``: the task's process was chosen by the OOM killer.
    memdie : bool or bool array, optional
        The thread itself carries TIF_MEMDIE (default: ``oom_victim``, the picked thread).
    kernel : str, optional
        Release (default: the newest rules).

    Examples
    --------
    >>> m = np.array([True, False, False]); hw = np.array([True, True, False])
    >>> node_allowed(m, hw, gfp_hardwall=False).tolist(), node_allowed(m, hw).tolist()
    ([True, True, False], [True, False, False])
    """
    m = np.asarray(mems_allowed, bool)
    hw = np.asarray(hardwall_mems, bool)
    e = lambda x: np.asarray(x, bool)[..., None]  # noqa: E731 (broadcast a condition over nodes)
    row6 = hw
    res = np.where(e(exiting), True, row6)
    res = np.where(e(gfp_hardwall), False, res)
    row3 = oom_victim
    if kernel is not None and not profile(kernel).oom_victim_tsk:
        row3 = oom_victim if memdie is None else memdie
    res = np.where(e(row3), True, res)
    res = np.where(m, True, res)
    res = np.where(e(in_interrupt), True, res)
    return np.broadcast_to(res, np.broadcast_shapes(m.shape, hw.shape, res.shape)).copy()


def node_allowed_table(tree: CpusetTree, path, nodes=None) -> list:
    """Every combination of the decision inputs for one cpuset, as rows (for tables and charts).

    The OOM rows distinguish the thread the OOM killer picked (``tif_memdie``) from the other
    threads of the victim process: they differ before v4.14 (the tree's kernel decides).
    """
    ids = tree.topology.node_ids if nodes is None else np.asarray(nodes)
    m = tree.task_mems_allowed(path)[ids]
    hw = tree.get(tree.nearest_hardwall_ancestor(path)).mems[ids]
    rows = []
    for intr in (False, True):
        for oom, memdie in ((False, False), (True, True), (True, False)):
            for hard in (True, False):
                for ex in (False, True):
                    ok = node_allowed(m, hw, in_interrupt=intr, gfp_hardwall=hard, oom_victim=oom, exiting=ex,
                                      memdie=memdie, kernel=tree.kernel)
                    rows.append({"in_interrupt": intr, "oom_victim": oom, "tif_memdie": memdie,
                                 "gfp_hardwall": hard, "exiting": ex,
                                 "allowed": format_nodes(np.isin(np.arange(ids.max() + 1), ids[ok]))})
    return rows


def read_cgroup_tree(root, topo: Topology, *, kernel="current") -> CpusetTree:
    """Read a cgroup v2 cpuset tree from ``ROOT/sys/fs/cgroup`` (a snapshot dir, or ``"host"``).

    The files are read by :func:`numalab.sources.cgroup.read_cgroup_dirs`: every directory with a
    ``cpuset.mems`` file becomes a cpuset; ``cpuset.mems.effective`` is read too and must agree
    with the v2 rule (a mismatch is reported, never silently accepted). A non-empty
    ``cgroup.procs`` marks the cpuset populated. Lists are parsed with ``kernel``'s grammar.
    """
    tree = CpusetTree(topo, "v2", kernel)
    for cg in read_cgroup_dirs(root):
        where = pathlib.Path(cg.where)
        if cg.path == "/":
            if cg.effective:
                tree.n_memory = parse_nodes(cg.effective, tree.nbits, where=str(where / "cpuset.mems.effective"),
                                            kernel=kernel)
            continue
        if _parent(cg.path) not in tree:
            continue
        tree._sets[cg.path] = Cpuset(cg.path, parse_nodes(cg.mems or "", tree.nbits, where=str(where / "cpuset.mems"),
                                                          kernel=kernel),
                                     populated=cg.populated, mems_unset=not cg.mems)
        if cg.effective is not None:
            got = parse_nodes(cg.effective, tree.nbits, where=str(where / "cpuset.mems.effective"), kernel=kernel)
            want = tree.effective(cg.path)
            if not np.array_equal(got, want):
                raise NumalabError(f"cpuset.mems.effective is {format_nodes(got)!r} but the v2 rule gives "
                                   f"{format_nodes(want)!r}", input=str(where))
    return tree
