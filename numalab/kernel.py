"""Kernel versions as data: which rule variant applies in which release window.

A kernel version is any release number a user types (``"6.12"``, ``"5.4"``, ``"4.10"``,
``"6.1.192"``, or ``"current"``). It is parsed once into an immutable, cached
:class:`KernelProfile` whose attributes switch the rule variants the rest of numalab applies.
Every variant is one row of :data:`VARIANTS` with the first release that has it, the last one
(if it was later removed), the kernel function it lives in and a plain description.

Only mainline release windows are modelled: a stable point release (``6.1.192``) is treated as
its base release (``6.1``); stable backports are mentioned in the variant descriptions.

Examples
--------
>>> k = profile("6.1")
>>> k.node_load, k.skip_memoryless_local, k.has_mode("PREFERRED_MANY")
('increment', False, True)
>>> profile("5.4").node_load
'assign'
>>> profile("current").version
(6, 18)
"""
from __future__ import annotations

import dataclasses
import functools
import re

from .errors import NumalabError

__all__ = [
    "KernelProfile",
    "Variant",
    "VARIANTS",
    "NOT_MODELLED",
    "NAMED_VERSIONS",
    "OLDEST",
    "NEWEST",
    "profile",
    "supported_versions",
]

OLDEST = (4, 10)
NEWEST = (6, 18)
#: Versions the project names explicitly (tests, notebooks, docs); any release between
#: OLDEST and NEWEST is accepted and selects the variants of its window.
NAMED_VERSIONS = ("4.10", "4.13", "5.15", "5.16", "5.19", "6.1", "6.8", "6.12", "6.18")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One rule variant: present in releases ``since <= v < until`` (``until=None``: still there)."""

    name: str
    since: tuple
    until: tuple | None
    function: str
    description: str

    def active(self, version: tuple) -> bool:
        return self.since <= version and (self.until is None or version < self.until)

    @property
    def window(self) -> str:
        lo = "%d.%d" % self.since
        return f"v{lo}+" if self.until is None else f"v{lo} .. before v{self.until[0]}.{self.until[1]}"


_V = Variant
#: Every version-dependent rule numalab applies. Windows are mainline releases; see
#: ../shared/reference/kernel-semantics.md for the evidence behind each bracket.
VARIANTS: tuple[Variant, ...] = (
    # --- zonelists (mm/page_alloc.c) ---
    _V("node_load_assign", (4, 10), (5, 16), "build_zonelists",
       "node_load[node] = load, with load starting at nr_online_nodes and decremented per node"),
    _V("node_load_accumulate", (5, 16), (5, 19), "build_zonelists",
       "node_load[node] += load (Krupa Ramakrishnan, accumulated load)"),
    _V("node_load_increment", (5, 19), None, "build_zonelists",
       "node_load[node] += 1, and find_next_best_node scales distance by MAX_NUMNODES only "
       "(Wei Yang, 'mm/page_alloc: adding same penalty is enough to get round-robin order'; its "
       "companion 'add penalty to local_node' was not merged: v6.x bumps only the first node of "
       "each new distance group)"),
    _V("load_scale_online", (4, 10), (5, 19), "find_next_best_node",
       "penalised distance is scaled by nr_online_nodes * MAX_NUMNODES (MAX_NODE_LOAD)"),
    _V("zones_managed", (4, 10), (5, 18), "build_zonerefs_node",
       "a zone qualifies for a zonelist when it has managed pages (managed_zone)"),
    _V("zones_populated", (5, 18), None, "build_zonerefs_node",
       "a zone qualifies when it has present pages (populated_zone), after Juergen Gross's "
       "'mm, page_alloc: fix build_zonerefs_node()' (e553f62f10d9, v5.18-rc2; stable backports)"),
    _V("build_possible_nodes", (5, 18), None, "__build_all_zonelists",
       "zonelists are built for every possible node (for_each_node), not only online ones: "
       "Michal Hocko's 'mm: handle uninitialized numa nodes gracefully' (09f49dca570a, -mm in "
       "Feb 2022, merged for v5.18; a powerpc fix citing it went into v5.18-rc)"),
    _V("skip_memoryless_local", (6, 7), None, "find_next_best_node",
       "a memoryless local node is not put first in its own order: Qi Zheng's 'mm: page_alloc: "
       "skip memoryless nodes entirely' with its companion 'mm: memory_hotplug: drop memoryless "
       "node from fallback lists', both in the MM pull for v6.7-rc1 (recordings: Debian 6.1 lists "
       "it first, 6.12 does not)"),
    _V("zone_order_mode", (4, 10), (4, 14), "build_zonelists",
       "vm.numa_zonelist_order=zone is available (ZONELIST_ORDER_ZONE, removed in v4.14)"),
    _V("print_fallback_order", (5, 16), None, "build_zonelists",
       "the boot log prints 'Fallback order for Node N:'"),
    # --- bitmap (lib/bitmap.c) ---
    _V("parselist_n", (5, 13), None, "bitmap_parselist",
       "the list grammar accepts the token N (the last bit): Paul Gortmaker's 'lib: bitmap: support "
       "\"N\" as an alias for size of bitmap', RCU pull for v5.13"),
    _V("parselist_all", (5, 14), None, "bitmap_parselist",
       "the list grammar accepts the token all (0-N): b18def121f07 'bitmap_parse: Support 'all' "
       "semantics', queued 30 Jun 2021 for v5.14 (one release after N)"),
    # --- cpusets (kernel/cgroup/cpuset.c) ---
    _V("oom_victim_tsk", (4, 14), None, "__cpuset_node_allowed",
       "OOM victims are recognised with tsk_is_oom_victim(): every thread of the victim process "
       "(before: the TIF_MEMDIE thread only). Michal Hocko's 'mm: replace TIF_MEMDIE checks by "
       "tsk_is_oom_victim', MM merge for v4.14"),
    _V("cpusets_insane_config", (5, 16), None, "__alloc_pages_slowpath",
       "a HARDWALL request in a cpuset with no zone <= highest_zoneidx fails at once (no OOM kill) "
       "once some cpuset was given movable-only mems, which logs a warning: Feng Tang's "
       "'mm/page_alloc: detect allocation forbidden by cpuset and bail out early', v5.16"),
    _V("irq_mems_substitution", (4, 10), (5, 9), "prepare_alloc_pages",
       "in interrupt context too, a NULL nodemask becomes the interrupted task's mems_allowed in the "
       "fast path (v4.10-v4.11 __alloc_pages_nodemask did it next to ALLOC_CPUSET, v4.12+ instead of "
       "it), so an interrupt allocation's fast path keeps to that task's cpuset; Muchun Song's "
       "'mm/page_alloc: skip setting nodemask when we are in interrupt' (posted 6 Jul 2020, merged "
       "for v5.9; commit id not checked against a tree) made it !in_interrupt(), and Vasily Averin's "
       "'mm/page_alloc: use in_task()' (v5.15) in_task(), which differs only in bh-disabled task "
       "sections, a context numalab does not model"),
    _V("cpuset_v2_migrate", (5, 15), None, "cpuset_css_alloc",
       "a cgroup v2 cpuset moves its tasks' pages onto the new mems when cpuset.mems changes "
       "(CS_MEMORY_MIGRATE is set on the default hierarchy; v2 has no memory_migrate file, so before "
       "this the pages stayed where they were): Waiman Long's 'cgroup/cpuset: Enable memory "
       "migration for cpuset v2', ee9707e8593d, cgroup pull for v5.15 (a Debian 5.10.262 guest "
       "under numalab verify keeps them)"),
    _V("seqcount_always", (4, 13), None, "cpuset_change_task_nodemask",
       "the mems_allowed seqcount is always taken on a change (need_loop before)"),
    # --- memory policies (mm/mempolicy.c) ---
    _V("flag_numa_balancing", (5, 12), None, "sanitize_mpol_flags",
       "MPOL_F_NUMA_BALANCING exists (with MPOL_BIND)"),
    _V("numa_balancing_mbind_checked", (5, 15), None, "sanitize_mpol_flags",
       "mbind() checks MPOL_F_NUMA_BALANCING like set_mempolicy() (v5.12..v5.14: only "
       "do_set_mempolicy checked it, so mbind accepted it with any mode): Eric Dumazet's "
       "'mm/mempolicy: do not allow illegal MPOL_F_NUMA_BALANCING | MPOL_LOCAL in mbind()', "
       "6d2aec9e123b, v5.15"),
    _V("local_is_mode", (5, 14), None, "mpol_new",
       "MPOL_LOCAL is a real mode (before: PREFERRED with MPOL_F_LOCAL, reported as PREFERRED)"),
    _V("mode_preferred_many", (5, 15), None, "mpol_new",
       "MPOL_PREFERRED_MANY exists"),
    _V("home_node", (5, 17), None, "set_mempolicy_home_node",
       "set_mempolicy_home_node() sets pol->home_node for BIND and PREFERRED_MANY VMA policies "
       "(EOPNOTSUPP for other modes, ENOSYS before): their pages start at the home node's "
       "zonelist (c6018b4b2549, Aneesh Kumar K.V, v5.17)"),
    _V("mode_weighted_interleave", (6, 9), None, "mpol_new",
       "MPOL_WEIGHTED_INTERLEAVE exists"),
    _V("numa_balancing_preferred_many", (6, 10), None, "sanitize_mpol_flags",
       "MPOL_F_NUMA_BALANCING is accepted with MPOL_PREFERRED_MANY too"),
    _V("weighted_interleave_auto", (6, 16), None, "weighted_interleave sysfs",
       "weights come from firmware bandwidth (HMAT/CXL access coordinates) until a node weight is "
       "written (auto mode, reduce_interleave_weights); writing 0 is EINVAL (before: 0 meant 1). "
       "Joshua Hahn's 'mm/mempolicy: Weighted Interleave Auto-tuning'"),
    _V("shmem_ilx_rework", (6, 7), None, "shmem_get_pgoff_policy",
       "a shmem huge page's interleave index is i_ino + (index >> order) (before: the pseudo-VMA "
       "gave (i_ino + index) >> order): Hugh Dickins' 'mempolicy: alloc_pages_mpol() for NUMA "
       "policy without vma' series, MM pull for v6.7"),
    _V("rebind_two_step", (4, 10), (4, 13), "mpol_rebind_nodemask",
       "task policies are rebound in two steps (STEP1 union of old and new, STEP2 new)"),
    _V("rebind_stores_result", (4, 13), (5, 2), "mpol_rebind_nodemask",
       "bug: a no-flag rebind stores the remapped result, not the new mems, as the old domain "
       "(from 213980c0f23b; fixed by zhong jiang's 'mm/mempolicy.c: fix an incorrect rebind node "
       "in mpol_rebind_nodemask', 29b190fa774d, in v5.2 and the 4.14, 4.19 and 5.1 stable lines)"),
    _V("preferred_not_remapped", (5, 14), None, "mpol_rebind_preferred",
       "PREFERRED (and PREFERRED_MANY) keep their nodes on a cpuset change"),
    _V("check_retry_cpuset", (4, 13), None, "__alloc_pages_slowpath",
       "the slow path drops a nodemask that misses mems_allowed before OOM and before failing"),
    _V("retry_cpuset_each_loop", (6, 15), None, "__alloc_pages_slowpath",
       "check_retry_cpuset also runs at the top of every retry loop (Tianyang Zhang, 2025)"),
    _V("il_prev", (4, 13), None, "interleave_nodes",
       "dynamic interleave keeps the last node used (il_prev); v4.10 kept the next one (il_next)"),
)
_BY_NAME = {v.name: v for v in VARIANTS}

#: Changes in the kernel's history that numalab does not model, with the reason: none of them
#: changes an output numalab computes (placement with free memory everywhere, masks, errnos,
#: zonelists, reports). ``numalab kernel V`` lists them. ``since`` is the first release.
NOT_MODELLED: tuple[dict, ...] = (
    {"change": "hugetlbfs pages in the 6.7 mempolicy rework (shared policies and the interleave "
               "index of hugetlb pages)", "since": (6, 7), "function": "huge_node",
     "reason": "numalab places base pages and shmem huge pages only; hugetlb pools and their "
               "per-node surplus accounting are not modelled"},
    {"change": "task interleave state (il_prev, il_weight) read inside a mems_allowed_seq retry "
               "loop", "since": (6, 9), "function": "interleave_nodes",
     "reason": "a concurrency fix: it changes nothing without a racing cpuset change; the race model "
               "(numalab.race, the race issue) owns the retry loops"},
    {"change": "cpuset_current_node_allowed() renamed, and cpuset_node_allowed(cgroup, nid) tests "
               "the cgroup-v2 effective mems for reclaim and demotion", "since": (6, 16),
     "function": "cpuset_node_allowed",
     "reason": "reclaim and demotion are not modelled (free memory everywhere); the allocator's "
               "per-node decision is unchanged and modelled by numalab.cpuset.node_allowed"},
    {"change": "zonelist rebuild under a seqlock (zonelist_update_seq): an allocation that raced "
               "with build_all_zonelists retries (Mel Gorman's race fix, about v6.0; release not "
               "checked against a tree)", "since": (6, 0), "function": "__alloc_pages_slowpath",
     "reason": "a concurrency fix for memory hotplug during allocation; numalab builds zonelists "
               "at boot or after a hotplug, never during an allocation"},
)

_LAST_MINOR = {4: 20, 5: 19}
#: ASCII digits only (``re.ASCII``: ``\\d`` would also match "６" and "١"), at most 9 per number
#: so ``int()`` never sees a huge literal.
_VERSION_RE = re.compile(r"^\s*v?(\d{1,9})\.(\d{1,9})(?:\.(\d{1,9}))?(?:[-+~][0-9A-Za-z.+~-]{0,64})?\s*$",
                         re.ASCII)


def supported_versions() -> str:
    """One line naming what ``profile`` accepts (used in error messages)."""
    return ("any release from %d.%d to %d.%d (e.g. " % (OLDEST + NEWEST)) + ", ".join(NAMED_VERSIONS) + ") or 'current'"


@dataclasses.dataclass(frozen=True)
class KernelProfile:
    """The rule variants of one kernel release window.

    Attributes are derived from :data:`VARIANTS`; ``variants`` is the set of active names.
    """

    version: tuple
    label: str
    variants: frozenset

    def __getattr__(self, name):  # only called for missing attributes
        if name in _BY_NAME:
            return name in self.variants
        raise AttributeError(name)

    # --- grouped views used by the engine ---
    @property
    def node_load(self) -> str:
        """``'assign'`` (v4.10-v5.15), ``'accumulate'`` (v5.16-v5.18) or ``'increment'`` (v5.19+)."""
        for mode in ("assign", "accumulate", "increment"):
            if "node_load_" + mode in self.variants:
                return mode
        raise AssertionError("no node_load variant")  # pragma: no cover

    @property
    def zone_qualifier(self) -> str:
        """``'managed'`` or ``'populated'``: which page count makes a zone enter a zonelist."""
        return "populated" if "zones_populated" in self.variants else "managed"

    @property
    def list_grammar(self) -> tuple:
        """``(N, all)``: which extra tokens ``bitmap_parselist`` accepts (v5.13 N, v5.14 all)."""
        return ("parselist_n" in self.variants, "parselist_all" in self.variants)

    def has_mode(self, mode: str) -> bool:
        """True if the mempolicy mode (name without ``MPOL_``) exists in this version."""
        mode = mode.upper().removeprefix("MPOL_")
        if mode in ("DEFAULT", "PREFERRED", "BIND", "INTERLEAVE", "LOCAL"):
            return True
        if mode == "PREFERRED_MANY":
            return "mode_preferred_many" in self.variants
        if mode == "WEIGHTED_INTERLEAVE":
            return "mode_weighted_interleave" in self.variants
        return False

    def not_modelled(self) -> list[dict]:
        """:data:`NOT_MODELLED` with the release window and whether this release has the change."""
        return [{"change": c["change"], "since": "v%d.%d" % c["since"], "in_release": self.version >= c["since"],
                 "function": c["function"], "reason": c["reason"]} for c in NOT_MODELLED]

    def describe(self) -> list[dict]:
        """Every variant with its window and whether it applies here (for tables and docs)."""
        return [
            {"variant": v.name, "active": v.name in self.variants, "window": v.window,
             "function": v.function, "description": v.description}
            for v in VARIANTS
        ]

    def __str__(self) -> str:
        return self.label


@functools.lru_cache(maxsize=256)
def _profile(major: int, minor: int, label: str) -> KernelProfile:
    version = (major, minor)
    active = frozenset(v.name for v in VARIANTS if v.active(version))
    return KernelProfile(version=version, label=label, variants=active)


def profile(version="current") -> KernelProfile:
    """Parse a kernel release number into its (cached, immutable) :class:`KernelProfile`.

    Parameters
    ----------
    version : str, tuple or KernelProfile
        ``"6.12"``, ``"v5.4"``, ``"6.1.192"``, ``"6.12.0-31-amd64"``, ``"current"`` (= the newest
        modelled release), a ``(major, minor)`` tuple, or a profile (returned as is).

    Raises
    ------
    NumalabError
        For text that is not a release number, or a release outside the modelled range.

    Examples
    --------
    >>> profile("6.12.0-31-amd64").version
    (6, 12)
    >>> profile("3.10")
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: '3.10': kernel 3.10 is older than the oldest modelled release 4.10; supported: any release from 4.10 to 6.18 (e.g. 4.10, 4.13, 5.15, 5.16, 5.19, 6.1, 6.8, 6.12, 6.18) or 'current'
    """
    if isinstance(version, KernelProfile):
        return version
    if isinstance(version, tuple) and len(version) >= 2:
        if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 1 << 30 for x in version[:2]):
            raise NumalabError("a version tuple holds two non-negative integers (major, minor)",
                               input=str(version)[:40])
        major, minor = int(version[0]), int(version[1])
        text = "%d.%d" % (major, minor)
    elif not isinstance(version, str):
        # A number cannot carry a release exactly: 6.10 as a float is 6.1, 5.10 is 5.1.
        raise NumalabError(f"a kernel version is text such as \"6.10\", not a {type(version).__name__} "
                           "(as a number 6.10 would read as 6.1)", input=str(version)[:40])
    else:
        text = version
        if text.strip().lower() in ("current", "latest", "newest"):
            return _profile(*NEWEST, "%d.%d" % NEWEST)
        m = _VERSION_RE.match(text)
        if not m:
            raise NumalabError(f"not a kernel release number; supported: {supported_versions()}", input=text)
        major, minor = int(m.group(1)), int(m.group(2))
    if (major, minor) < OLDEST:
        raise NumalabError(f"kernel {major}.{minor} is older than the oldest modelled release "
                           f"{OLDEST[0]}.{OLDEST[1]}; supported: {supported_versions()}", input=text)
    if major in _LAST_MINOR and minor > _LAST_MINOR[major]:
        raise NumalabError(f"there is no kernel release {major}.{minor} (the {major}.x series ended at "
                           f"{major}.{_LAST_MINOR[major]}); supported: {supported_versions()}", input=text)
    if (major, minor) > NEWEST:
        raise NumalabError(f"kernel {major}.{minor} is newer than the newest modelled release "
                           f"{NEWEST[0]}.{NEWEST[1]}; supported: {supported_versions()}", input=text)
    return _profile(major, minor, "%d.%d" % (major, minor))
