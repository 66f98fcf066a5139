"""Races between one page allocation and cpuset.mems changes: every interleaving, all at once.

The 2017 LSF/MM topic (``../shared/seed``) and issue 12. Two actors share a small state:

* the **allocating task** T (a page fault in a VMA, ``alloc_pages_vma``; or a non-VMA page,
  ``alloc_pages_current``), whose steps follow mm/mempolicy.c and mm/page_alloc.c: the outer
  cookie (v4.10), ``policy_nodemask``, the fast path (``prepare_alloc_pages`` computes the
  preferred zoneref, then ``get_page_from_freelist``), the slow path's own cookie and restart,
  the retry loop, the checks before OOM and before failing (``check_retry_cpuset``, v4.13,
  902b62810a57; at the top of the loop from v6.15, Tianyang Zhang's fix of c33d6c06f60f), the
  OOM killer, and v4.10's ``read_mems_allowed_retry`` of the outer cookie in alloc_pages_vma;
* the **cpuset writer** (``update_nodemask`` -> ``cpuset_change_task_nodemask`` for T, then
  ``mpol_rebind_mm``): seqcount write section (only when ``need_loop`` before v4.13), mems
  union, the task policy rebind (two steps STEP1/STEP2 in v4.10, one from v4.13, 213980c0f23b),
  final mems, then the VMA policies under the mmap lock, which waits for the lock the fault
  holds. Two writes are serialised by cpuset_mutex: one writer with both sequences.

Each step is a small pure function of the shared state (named rows of an array, one value per
interleaving; the scenario's and design's switches are constant rows beside them): the task's
steps are in :data:`TASK_STEPS`, the writer's are data (which columns it sets to which values),
computed once per scenario and design with :mod:`numalab.mempolicy` (``create``,
``rebind_steps``, ``rebind``) and cached. :func:`explore` enumerates every interleaving the locks
allow, breadth first: all rows advance together, a row forks where both actors can move.
:func:`explore_many` does it for many (scenario, design) pairs in one batch, so each step runs
once per level however many pairs there are (numpy's per-call cost, not the rows, dominates at
this size; ``benchmarks/bench_race.py``). Locks: the
seqcount reader (``read_mems_allowed_begin``) waits while a write section is open; the writer's
``mpol_rebind_mm`` waits for the fault's mmap lock; a retry loop that already failed in the
current state waits for a change (repeating it changes nothing), and if no change can come
the allocation is stuck.

Outcomes of an interleaving (exclusive, the first that applies):

``spurious_oom``     the OOM killer is invoked although free memory exists on allowed nodes;
``stuck``            the retry loop can never leave (nothing that would end it can happen);
``failure``          the allocation returns NULL with a failure warning;
``disallowed_page``  a page taken after the change began, on a node the change removes;
``off_policy_page``  a page on a node the policy (as the allocation sees it) does not name
                     (interleave picked a stale node);
``retry``            a page on an allowed node, after at least one restart;
``allowed_page``     a page on an allowed node, first time.

Counters over the same rows (not exclusive): ``unstable_nodemask`` (the allocation read more
than one value of its policy nodemask), ``neither_nodemask`` (it read a value that is neither
the policy before nor after a change: the v4.10 union or a torn multi-word store),
``failure_warning`` (a warning was printed, even if a retry then got a page).

Designs (:func:`design`): ``v4.10``, ``v4.13``, ``v6.15`` and any release number take their
variant values (check_retry_cpuset, retry_cpuset_each_loop, seqcount_always, il_prev and
rebind_two_step) from :func:`numalab.kernel.profile`; the proposals are today's kernel (6.18)
with their change: ``copy-swap`` (point a: STATIC policies are not rebound, the others are
rebound by swapping an updated copy, and an allocation keeps the copy it took) and
``cpuset-zonelists`` (point b: the cpuset's zonelists replace mems_allowed and its seqcount; a
cpuset write swaps them; an allocation takes the zonelists and the policy once and checks the
intersection once).

Modelling choices: memory is free on every node (any OOM is spurious); a node's fallback order
is the scenario's ``fallback`` (default: the node itself, then the others by id); one zone per
node; a nodemask is read in one step; the writer's stores of a policy nodemask may be split per
word with ``word_nodes`` (mems_allowed stores stay whole: they are guarded by the seqcount).

Scenario files (``data/race/NAME.json``, validated by :func:`parse_scenario`): ``name``,
``title``, ``description``; ``nodes`` (1..16) and ``cpu_node``; ``mems`` (the cpuset's mems
before) and ``changes`` (1 to 3 cpuset.mems writes, kernel list syntax); ``entry`` (``fault``
or ``current``); ``policy``: ``scope`` (``vma``: mbind, ``task``: set_mempolicy), ``mode``
(bind, preferred, interleave), ``flags`` ([] or ["static"] or ["relative"]), ``nodes``,
``last_node`` (dynamic interleave), ``ilx`` (static interleave index); ``gfp``
(GFP_HIGHUSER_MOVABLE, GFP_KERNEL, or with __GFP_RETRY_MAYFAIL / __GFP_NORETRY: may not OOM);
``reclaim`` (``no_progress``: should_reclaim_retry gives up; ``endless``: it never does);
``watermark`` (``low``: the fast path fails everywhere); ``word_nodes``; ``fallback``.

Examples
--------
>>> r = explore(load_scenario("email"), "v4.10")
>>> r.counts["spurious_oom"] > 0, explore(load_scenario("email"), "v4.13").counts["spurious_oom"]
(True, 0)
"""
from __future__ import annotations

import dataclasses
import functools
import json

import numpy as np

from . import mempolicy as mp
from ._data import data_dir
from .errors import NumalabError
from .kernel import profile
from .nodemask import format_list, from_nodes

__all__ = [
    "OUTCOMES", "COUNTERS", "DESIGNS", "RACE_VARIANTS", "DATA_DIR", "MAX_NODES",
    "Scenario", "Design", "Program", "Exploration", "TASK_STEPS",
    "scenario_names", "scenarios", "load_scenario", "parse_scenario", "design", "compile_program",
    "explore", "explore_many", "shortest", "trace", "run", "run_all", "verdict", "point_a_table",
]

OUTCOMES = ("allowed_page", "retry", "off_policy_page", "disallowed_page", "failure", "stuck",
            "spurious_oom")
COUNTERS = ("unstable_nodemask", "neither_nodemask", "failure_warning")
#: Outcomes worth a trace (everything but a first-time allowed page), the worst first.
BAD = tuple(o for o in reversed(OUTCOMES) if o != "allowed_page")
DESIGNS = ("v4.10", "v4.13", "v6.15", "copy-swap", "cpuset-zonelists")
#: kernel.VARIANTS entries that drive this model (tests/test_race.py probes them).
RACE_VARIANTS = ("check_retry_cpuset", "retry_cpuset_each_loop", "seqcount_always", "il_prev")
PROPOSAL_BASE = "6.18"
MAX_NODES = 16
_O = {o: i + 1 for i, o in enumerate(OUTCOMES)}

#: ``data/race`` beside the package (repository layout) or inside it (an installed copy).
DATA_DIR = data_dir("race")


# ============================================================================ scenarios
@dataclasses.dataclass(frozen=True)
class Scenario:
    """One race scenario (parsed from data/race/NAME.json). Masks are node bit sets (ints)."""

    name: str
    title: str
    description: str
    nodes: int
    cpu_node: int
    mems: int
    changes: tuple
    entry: str            # "fault" (alloc_pages_vma) or "current" (alloc_pages_current)
    scope: str            # "vma" or "task"
    mode: str             # "bind", "preferred", "interleave"
    flags: tuple
    policy_nodes: int
    last_node: int        # interleave: node used last before the race
    ilx: int              # interleave index of the faulting page (static interleave)
    word_nodes: int       # nodes per nodemask word for the writer's stores (0: one store)
    can_oom: bool
    endless_reclaim: bool
    low_watermark: bool   # the fast path's low watermark fails everywhere (memory pressure)
    fallback: tuple       # fallback order per node (tuple of tuples of node ids)


_GFP = {"GFP_HIGHUSER_MOVABLE": True, "GFP_KERNEL": True, "GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL": False,
        "GFP_HIGHUSER_MOVABLE|__GFP_NORETRY": False}
_KEYS = {"name", "title", "description", "nodes", "cpu_node", "mems", "changes", "entry", "policy", "gfp",
         "reclaim", "word_nodes", "fallback", "watermark"}


def _mask(text, n, where) -> int:
    if not isinstance(text, str) or len(text) > 200:
        raise NumalabError("expected a node list such as '0-1,3'", input=where)
    out = 0
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            raise NumalabError(f"not a node list: {text!r}", input=where) from None
        if not 0 <= a <= b < n:
            raise NumalabError(f"nodes {part} outside 0-{n - 1}", input=where)
        for i in range(a, b + 1):
            out |= 1 << i
    return out


def parse_scenario(d, where="scenario") -> Scenario:
    """Validate a scenario dict (from JSON) into a :class:`Scenario`; one-line errors."""
    if not isinstance(d, dict):
        raise NumalabError("a scenario is a JSON object", input=where)
    extra = set(d) - _KEYS
    if extra:
        raise NumalabError(f"unknown keys {sorted(extra)}", input=where)

    def get(key, kind, default=None):
        v = d.get(key, default)
        if v is None or not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
            raise NumalabError(f"'{key}' missing or not {getattr(kind, '__name__', kind)}", input=where)
        return v

    n = get("nodes", int)
    if not 1 <= n <= MAX_NODES:
        raise NumalabError(f"'nodes' must be 1..{MAX_NODES}", input=where)
    cpu = get("cpu_node", int, 0)
    if not 0 <= cpu < n:
        raise NumalabError(f"'cpu_node' {cpu} outside 0-{n - 1}", input=where)
    mems = _mask(get("mems", str), n, f"{where}: mems")
    ch = get("changes", list)
    if not 1 <= len(ch) <= 3:
        raise NumalabError("'changes' must list 1 to 3 cpuset.mems writes", input=where)
    changes = tuple(_mask(c, n, f"{where}: changes") for c in ch)
    if not mems or not all(changes):
        raise NumalabError("cpuset mems may not be empty (ENOSPC)", input=where)
    pol = get("policy", dict)
    if set(pol) - {"scope", "mode", "flags", "nodes", "last_node", "ilx"}:
        raise NumalabError(f"unknown policy keys {sorted(set(pol) - {'scope', 'mode', 'flags', 'nodes', 'last_node', 'ilx'})}",
                           input=where)
    scope, mode = pol.get("scope", "task"), pol.get("mode")
    if scope not in ("task", "vma") or mode not in ("bind", "preferred", "interleave"):
        raise NumalabError("policy scope must be task|vma and mode bind|preferred|interleave", input=where)
    flags = pol.get("flags", [])
    if not isinstance(flags, list) or not set(flags) <= {"static", "relative"} or len(flags) > 1:
        raise NumalabError("policy flags: [], ['static'] or ['relative']", input=where)
    pnodes = _mask(pol.get("nodes"), n, f"{where}: policy.nodes")
    entry = d.get("entry", "fault")
    if entry not in ("fault", "current") or (entry == "current" and scope != "task"):
        raise NumalabError("entry must be 'fault' or 'current' (current: task policy only)", input=where)
    last = pol.get("last_node", -1)
    ilx = pol.get("ilx", 0)
    if not isinstance(last, int) or not -1 <= last < n or not isinstance(ilx, int) or not 0 <= ilx < 1 << 20:
        raise NumalabError("policy.last_node / policy.ilx out of range", input=where)
    gfp = d.get("gfp", "GFP_HIGHUSER_MOVABLE")
    if gfp not in _GFP:
        raise NumalabError(f"gfp must be one of {sorted(_GFP)}", input=where)
    reclaim = d.get("reclaim", "no_progress")
    if reclaim not in ("no_progress", "endless"):
        raise NumalabError("reclaim must be 'no_progress' or 'endless'", input=where)
    wm = d.get("watermark", "ok")
    if wm not in ("ok", "low"):
        raise NumalabError("watermark must be 'ok' or 'low'", input=where)
    wn = d.get("word_nodes", 0)
    if not isinstance(wn, int) or not 0 <= wn <= n:
        raise NumalabError("word_nodes must be 0..nodes", input=where)
    fb = d.get("fallback")
    if fb is None:
        fb = [[s] + [j for j in range(n) if j != s] for s in range(n)]
    if (not isinstance(fb, list) or len(fb) != n
            or any(not isinstance(r, list) or sorted(r) != list(range(n)) or r[0] != s for s, r in enumerate(fb))):
        raise NumalabError("fallback must give, for every node, a permutation of all nodes starting with it",
                           input=where)
    text = {k: d.get(k, "") for k in ("name", "title", "description")}
    if not all(isinstance(v, str) and len(v) < 4000 for v in text.values()) or not text["name"]:
        raise NumalabError("name/title/description must be short strings", input=where)
    return Scenario(name=text["name"], title=text["title"], description=text["description"], nodes=n,
                    cpu_node=cpu, mems=mems, changes=changes, entry=entry, scope=scope, mode=mode,
                    flags=tuple(flags), policy_nodes=pnodes, last_node=last, ilx=ilx, word_nodes=wn,
                    can_oom=_GFP[gfp], endless_reclaim=reclaim == "endless", low_watermark=wm == "low",
                    fallback=tuple(tuple(r) for r in fb))


def scenario_names() -> list:
    """Names of the shipped scenarios (``data/race/*.json``), email first."""
    names = sorted(p.stem for p in DATA_DIR.glob("*.json") if not p.is_symlink())
    return sorted(names, key=lambda s: (s != "email", s))


def scenarios() -> list:
    """``[(name, title), ...]`` of the shipped scenarios."""
    return [(n, load_scenario(n).title) for n in scenario_names()]


@functools.lru_cache(maxsize=64)
def load_scenario(name: str) -> Scenario:
    """A shipped scenario by name.

    >>> load_scenario("email").changes
    (2,)
    """
    if not isinstance(name, str) or name not in scenario_names():
        raise NumalabError(f"no such race scenario; known: {', '.join(scenario_names())}", input=name)
    path = DATA_DIR / f"{name}.json"
    if path.is_symlink() or path.stat().st_size > 64 * 1024:
        raise NumalabError("scenario file is a link or too large", input=path.name)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise NumalabError("scenario file is not valid JSON", input=path.name) from None
    sc = parse_scenario(d, where=path.name)
    if sc.name != name:
        raise NumalabError(f"scenario file names itself {sc.name!r}", input=path.name)
    return sc


# ============================================================================ designs
@dataclasses.dataclass(frozen=True)
class Design:
    """What code an allocation and a cpuset write follow. Build with :func:`design`."""

    name: str
    kernel: str                      # release whose mempolicy rules rebind the policies
    check_retry_cpuset: bool
    retry_cpuset_each_loop: bool
    seqcount_always: bool
    il_prev: bool
    rebind_two_step: bool
    outer_cookie: bool               # alloc_pages_vma/current own cookie loop (removed in v4.13)
    copy_swap: bool = False
    cpuset_zonelists: bool = False
    slowpath_recomputes_zoneref: bool = True   # e47483bca2cc (v4.10)


_OVERRIDABLE = ("check_retry_cpuset", "retry_cpuset_each_loop", "seqcount_always", "il_prev",
                "outer_cookie", "slowpath_recomputes_zoneref")


def design(name, overrides=None) -> Design:
    """A design by name: ``v4.10``, ``v4.13``, ``v6.15``, ``copy-swap``, ``cpuset-zonelists``, or
    any kernel release (``"5.4"``), whose profile gives the variant values.

    ``overrides`` (dict) flips single switches (tests use it to isolate one variant).

    >>> d = design("5.4"); d.check_retry_cpuset, d.retry_cpuset_each_loop, d.outer_cookie
    (True, False, False)
    """
    d = name if isinstance(name, Design) else _named_design(str(name).strip())
    if overrides:
        bad = set(overrides) - set(_OVERRIDABLE)
        if bad:
            raise NumalabError(f"cannot override {sorted(bad)}; overridable: {', '.join(_OVERRIDABLE)}",
                               input="overrides")
        d = dataclasses.replace(d, **{k: bool(x) for k, x in overrides.items()})
    return d


@functools.lru_cache(maxsize=256)
def _named_design(text):
    """The design of a name (cached: a Design is immutable)."""
    proposal = text in ("copy-swap", "cpuset-zonelists")
    k = profile(PROPOSAL_BASE if proposal else text)
    v = k.variants
    return Design(name=text, kernel=k.label, check_retry_cpuset="check_retry_cpuset" in v,
                  retry_cpuset_each_loop="retry_cpuset_each_loop" in v, seqcount_always="seqcount_always" in v,
                  il_prev="il_prev" in v, rebind_two_step="rebind_two_step" in v,
                  outer_cookie="check_retry_cpuset" not in v,  # patch 6 of the series rests on patch 1
                  copy_swap=text == "copy-swap", cpuset_zonelists=text == "cpuset-zonelists")


# ============================================================================ compile
@dataclasses.dataclass(frozen=True)
class Program:
    """A scenario compiled for a design: plain values the steps read (and the scalar reference)."""

    scenario: Scenario
    design: Design
    order: np.ndarray        # (n, n) fallback order (node ids) per start node
    writer: tuple            # writer steps: dicts {label, set: {col: int}, seq: 0/1, needs_mm_free}
    tpol0: int
    vpol0: int
    stable: tuple            # policy values at change boundaries (applicable policy)
    final_mems: int
    removed: int             # nodes in the first mems but not in the final mems
    bind: bool
    interleave: bool
    preferred: bool

    def as_dict(self) -> dict:
        """Plain values only (for the scalar reference, :mod:`numalab.reference.race`)."""
        sc, d = self.scenario, self.design
        return {"nodes": sc.nodes, "cpu_node": sc.cpu_node, "order": self.order.tolist(),
                "writer": [dict(w, set=dict(w["set"])) for w in self.writer], "mems": sc.mems,
                "tpol": self.tpol0, "vpol": self.vpol0, "stable": list(self.stable), "removed": self.removed,
                "mode": sc.mode, "scope": sc.scope, "entry": sc.entry, "ilx": sc.ilx, "last_node": sc.last_node,
                "can_oom": sc.can_oom, "endless_reclaim": sc.endless_reclaim, "low_watermark": sc.low_watermark,
                **{f: getattr(d, f) for f in ("check_retry_cpuset", "retry_cpuset_each_loop", "il_prev",
                                              "outer_cookie", "copy_swap", "cpuset_zonelists",
                                              "slowpath_recomputes_zoneref")}}


def _nodes(bits: int, n: int) -> list:
    return [i for i in range(n) if bits >> i & 1]


def _fmt(bits: int, n: int = 64) -> str:
    """Kernel list format of a bit set (``"0-1,3"``; ``""`` when empty)."""
    return format_list(from_nodes(_nodes(int(bits), n), n))


def _bits(words) -> int:
    return int(np.asarray(words, np.uint64).reshape(-1)[0])


def _words(bits: int):
    return np.array([bits], np.uint64)


def _torn(a: int, b: int, word_nodes: int, n: int) -> list:
    """In-place store of ``b`` over ``a``, one store per changed word: the values after each
    (none when nothing changes: a step that changes nothing a reader sees is not a step)."""
    if a == b:
        return []                       # nothing is written that a reader could see
    if not word_nodes:
        return [b]
    vals, cur = [], a
    for lo in range(0, n, word_nodes):
        m = ((1 << word_nodes) - 1) << lo
        if (cur ^ b) & m:
            cur = (cur & ~m) | (b & m)
            vals.append(cur)
    return vals


def compile_program(sc: Scenario, d: Design) -> Program:
    """Precompute the writer's steps (values from :mod:`numalab.mempolicy`) for one design."""
    n = sc.nodes
    flags = [{"static": "STATIC_NODES", "relative": "RELATIVE_NODES"}[f] for f in sc.flags]
    pb = mp.create([sc.mode.upper()], [flags], _words(sc.policy_nodes)[None, :], _words(sc.mems), d.kernel,
                   nbits=64)
    if pb.errno[0]:
        raise NumalabError(f"the policy is refused at creation ({pb.errno_names()[0]})", input=sc.name)
    static = "static" in sc.flags
    task = sc.scope == "task"
    pol0 = _bits(pb.nodes[0])
    writer, stable, cur = [], [pol0], sc.mems
    for new in sc.changes:
        if d.cpuset_zonelists:
            writer.append({"label": f"update_nodemask: build the cpuset's zonelists for {{{_fmt(new)}}} and swap "
                                    "them in", "set": {"mems": new}, "seq": 0, "needs_mm_free": False})
        else:
            need = d.seqcount_always or task or not (cur & new)
            sec = "write_seqcount_begin; " if need else "(need_loop false: no seqcount) "
            writer.append({"label": f"cpuset_change_task_nodemask: {sec}mems_allowed |= {{{_fmt(new)}}}",
                           "set": {"mems": cur | new}, "seq": int(need), "needs_mm_free": False})
        if task:
            if d.copy_swap or d.cpuset_zonelists:
                after = pb if static else mp.rebind(pb, _words(new), d.kernel)
                v = _bits(after.nodes[0])
                if v != _bits(pb.nodes[0]):
                    writer.append({"label": f"rebind the task policy: swap in an updated copy {{{_fmt(v)}}}",
                                   "set": {"tpol": v}, "seq": 0, "needs_mm_free": False})
            else:
                steps = mp.rebind_steps(pb, _words(new), d.kernel, scope="task")
                prev = _bits(pb.nodes[0])
                for label, b in steps:
                    v = _bits(b.nodes[0])
                    what = ("mpol_rebind_task STEP1 (nodes |= rebound)" if label == "step1" else
                            "mpol_rebind_task STEP2" if d.rebind_two_step else "mpol_rebind_task")
                    for k, t in enumerate(_torn(prev, v, sc.word_nodes, n)):
                        part = f" (store of word {k})" if sc.word_nodes and t != v else ""
                        writer.append({"label": f"{what}: task policy nodes = {{{_fmt(t)}}} in place{part}",
                                       "set": {"tpol": t}, "seq": 0, "needs_mm_free": False})
                    prev = v
                after = steps[-1][1]
        if not d.cpuset_zonelists:
            end = "write_seqcount_end" if (d.seqcount_always or task or not (cur & new)) else "no seqcount"
            writer.append({"label": f"cpuset_change_task_nodemask: mems_allowed = {{{_fmt(new)}}}; {end}",
                           "set": {"mems": new}, "seq": int(end == "write_seqcount_end"),
                           "needs_mm_free": False})
        if not task:
            vafter = pb if (static and (d.copy_swap or d.cpuset_zonelists)) else (
                mp.rebind_steps(pb, _words(new), d.kernel, scope="vma")[-1][1])
            v = _bits(vafter.nodes[0])
            how = "swap in updated copies" if (d.copy_swap or d.cpuset_zonelists) else "in place"
            writer.append({"label": f"mpol_rebind_mm (mmap lock for write): VMA policy = {{{_fmt(v)}}} ({how})",
                           "set": {"vpol": v}, "seq": 0, "needs_mm_free": True})
            after = vafter
        pb = after
        stable.append(_bits(pb.nodes[0]))
        cur = new
    order = np.array(sc.fallback, np.int64)
    return Program(scenario=sc, design=d, order=order, writer=tuple(writer),
                   tpol0=pol0 if task else 0, vpol0=0 if task else pol0, stable=tuple(sorted(set(stable))),
                   final_mems=sc.changes[-1], removed=sc.mems & ~sc.changes[-1],
                   bind=sc.mode == "bind", interleave=sc.mode == "interleave", preferred=sc.mode == "preferred")


# ============================================================================ task steps
# The state of every interleaving is one column of a (C, R) int64 array: row ``_C[name]`` holds
# one value per interleaving. State rows:
#   shared: mems, seq, tpol, vpol, wpc (writer's next step), wstamp (writer steps done)
#   task:   pc, out, page, cookie_a, cookie_b, src (0 NULL nodemask, 1 task policy, 2 VMA policy,
#           3 private copy in mval), mval, use (BIND nodemask applies), start, cursor, il, loop,
#           lstamp, restarts, warn, seen, unstable, neither, taken (policy value at the page)
# Parameter rows (constant, copied from the interleaving's program, so that the interleavings
# of many scenarios and designs advance together in one batch): see _PARAMS.
_COLS = ("mems", "seq", "tpol", "vpol", "wpc", "wstamp", "pc", "out", "page", "cookie_a", "cookie_b", "src",
         "mval", "use", "start", "cursor", "il", "loop", "lstamp", "restarts", "warn", "seen", "unstable",
         "neither", "taken")
_PARAMS = ("prog", "task_scope", "entry_fault", "bind", "preferred", "interleave", "cpu_node", "ilx", "nodes",
           "all", "removed", "outer_cookie", "copy", "czl", "il_prev", "check_retry_cpuset", "each_loop",
           "recompute_zoneref", "can_oom", "endless", "low_wm", "woff")
_C = {k: i for i, k in enumerate(_COLS + _PARAMS)}
_WCOLS = ("mems", "tpol", "vpol")       # the shared columns a writer step may set
_NONODE = 63                            # pads fallback orders: a bit no mask has


class _State:
    """Named access to the rows of a state array: ``S["pc"]`` is one value per interleaving.

    A step reads one ``_State`` that does not change while it runs, so values derived from it
    (``live``: the policy nodemask as the allocation reads it) are computed once per step."""

    __slots__ = ("a", "live")

    def __init__(self, a):
        self.a, self.live = a, None

    def __getitem__(self, key):
        return self.a[_C[key]]


@dataclasses.dataclass(frozen=True, eq=False)
class _Tables:
    """The per-program tables of a batch (built once per batch from the cached compiled programs):
    fallback orders, the stable policy values and the writer's steps as data."""

    order: np.ndarray     # (programs, W, W) fallback order per start node, padded with _NONODE
    pos: np.ndarray       # (W,) positions 0..W-1
    stable: np.ndarray    # (programs, K) policy values at change boundaries, padded with -1
    w_step: np.ndarray    # (G, 4) values a writer step sets in mems, tpol, vpol (-1: not set), seqcount step
    w_mm: np.ndarray      # (G,) needs the mmap lock for write (mpol_rebind_mm)
    w_len: np.ndarray     # (programs,) writer steps per program (block of w_len + 1 rows, last a sentinel)


def _live(S):
    """The policy nodemask as the allocation reads it now (live pointer or its private copy)."""
    if S.live is None:
        S.live = np.where(S["src"] == 1, S["tpol"], np.where(S["src"] == 2, S["vpol"], S["mval"]))
    return S.live


def _observe(S, T, val, mask):
    """Record one read of the policy nodemask (for the unstable/neither counters)."""
    if not mask.any():
        return {}
    seen = np.where(mask & (S["seen"] < 0), val, S["seen"])            # the first value read
    unstable = S["unstable"] | (mask & (val != seen))
    stable = (T.stable[S["prog"]] == val[:, None]).any(axis=1)
    neither = S["neither"] | (mask & ~stable)
    return {"seen": seen, "unstable": unstable, "neither": neither}


def _first(S, T, start, allow, cursor=None):
    """First node in ``start``'s fallback order at or after ``cursor`` (default: the start) whose
    bit is in ``allow`` (the zonelist walk of get_page_from_freelist / first_zones_zonelist); -1
    if none, with its position (the node count if none)."""
    nodes = T.order[S["prog"], np.maximum(start, 0)]               # (R, W)
    ok = (allow[:, None] >> nodes) & 1
    if cursor is not None:
        ok &= T.pos >= cursor[:, None]
    pos = ok.argmax(axis=1)
    found = ok.any(axis=1)
    return np.where(found, nodes[np.arange(pos.size), pos], -1), np.where(found, pos, S["nodes"])


def _allow(S):
    return np.where(S["use"] == 1, _live(S), S["all"]) & S["mems"]


def _page(S, node, got):
    """Finish with a page where ``got``: classify it (no update where no row got one)."""
    if not got.any():
        return {}
    pol = _live(S)
    bit = np.maximum(node, 0)
    removed = (S["wstamp"] > 0) & ((S["removed"] >> bit) & 1 == 1)
    off = (S["interleave"] == 1) & ((pol >> bit) & 1 == 0)
    out = np.where(removed, _O["disallowed_page"],
                   np.where(off, _O["off_policy_page"],
                            np.where((S["restarts"] > 0) | (S["warn"] > 0), _O["retry"], _O["allowed_page"])))
    return {"page": np.where(got, node, S["page"]), "out": np.where(got, out, S["out"]),
            "taken": np.where(got, pol, S["taken"])}


def t_fault(S, T):
    """Page fault: take the mmap lock for read (held until the fault ends)."""
    return {"pc": np.where(S["outer_cookie"] == 1, _PC["cookie_a"], _PC["policy"])}


def t_cookie_a(S, T):
    """alloc_pages_vma/alloc_pages_current (v4.10): read_mems_allowed_begin -> cookie A."""
    return {"cookie_a": S["seq"].copy(), "pc": _PC["policy"]}


def t_policy(S, T):
    """get_vma_policy / get_task_policy and policy_nodemask (or the interleave node).

    BIND passes its nodemask only if it meets mems_allowed; PREFERRED starts at its node;
    INTERLEAVE starts at offset_il_node (a fault: static index) or interleave_nodes (v4.10: il_next
    as stored, then advanced; v4.13+: the next node after il_prev). The proposals take a
    reference to a stable copy (``copy``); cpuset-zonelists also takes the cpuset's zonelists once.
    """
    task, copy = S["task_scope"] == 1, S["copy"] == 1
    live, mems, il = np.where(task, S["tpol"], S["vpol"]), S["mems"], S["il"]
    bind, current = S["bind"] == 1, S["entry_fault"] == 0
    use = (bind & ((live & mems) != 0)).astype(np.int64)          # BIND meets the cpuset?
    src = np.where(copy, 3, np.where(bind & (use == 0), 0, np.where(task, 1, 2)))
    start = np.where(S["preferred"] == 1, _lowest(live), S["cpu_node"])
    interleave = S["interleave"] == 1
    if interleave.any():                 # (computed only when some interleaving needs it)
        after_il = _next_in(il, live)                              # il_next / il_prev moves on
        il_node = np.where(~current, _nth(live, S["ilx"]), np.where(S["il_prev"] == 1, after_il, il))
        start = np.where(interleave, il_node, start)
        il = np.where(interleave & current, after_il, il)
    out = {"src": src, "mval": np.where(copy, live, S["mval"]), "use": use, "start": start,
           "cookie_b": np.where(S["czl"] == 1, mems, S["cookie_b"]), "il": il,
           "pc": np.where(S["czl"] == 1, _PC["czl_alloc"], _PC["fast_prep"])}
    out.update(_observe(S, T, live, np.ones(live.shape, bool)))
    return out


def _lowest(x):
    x = np.asarray(x, np.int64)
    low = x & -x
    return np.where(x > 0, np.log2(np.maximum(low, 1)).astype(np.int64), -1)


def _nth(x, k):
    """The (k mod weight)-th set bit (0-based) of each row."""
    x = np.asarray(x, np.int64)
    bits = (x[:, None] >> np.arange(MAX_NODES)[None, :]) & 1
    w = bits.sum(axis=1)
    kk = np.where(w > 0, k % np.maximum(w, 1), 0)
    pos = np.argmax(np.cumsum(bits, axis=1) > kk[:, None], axis=1)
    return np.where(w > 0, pos, -1)


def _next_in(prev, x, n=None):
    """next_node_in(prev, x): the first set bit after prev, wrapping."""
    x = np.asarray(x, np.int64)
    above = x & ~((np.int64(2) << np.maximum(prev, -1).astype(np.int64)) - 1)
    above = np.where(prev < 0, x, above)
    return np.where(above != 0, _lowest(above), _lowest(x))


def t_fast_prep(S, T):
    """prepare_alloc_pages: preferred zoneref = first zone in the nodemask (NULL: &mems_allowed)."""
    use = S["use"] == 1
    _, cur = _first(S, T, S["start"], np.where(use, _live(S), S["mems"]))
    out = {"cursor": cur, "pc": _PC["fast_try"]}
    out.update(_observe(S, T, _live(S), use))
    return out


def t_fast_try(S, T):
    """Fast path get_page_from_freelist from the preferred zoneref, nodemask and mems_allowed
    (fails everywhere under the scenario's low watermark)."""
    node, _ = _first(S, T, S["start"], _allow(S), S["cursor"])
    got = (node >= 0) & (S["low_wm"] == 0)
    out = _page(S, node, got)
    out["pc"] = np.where(got, S["pc"], _PC["slow"])
    out.update(_observe(S, T, _live(S), S["use"] == 1))
    return out


def t_slow(S, T):
    """__alloc_pages_slowpath start (retry_cpuset: / restart:): cookie B; the preferred zoneref
    recomputed from the nodemask, no zone -> nopage (e47483bca2cc, v4.10: since 682a3385e773 the
    iterator starts at the cached zoneref, so a stale one skips every eligible zone)."""
    again = S["recompute_zoneref"] == 1
    use = S["use"] == 1
    node, cur = _first(S, T, S["start"], np.where(use, _live(S), S["all"]))
    none = again & (node < 0)
    out = {"cookie_b": S["seq"].copy(), "cursor": np.where(again, cur, S["cursor"]),
           "pc": np.where(none, _PC["nopage"], _PC["slow_try"])}
    out.update(_observe(S, T, _live(S), use & again))
    return out


def t_slow_try(S, T):
    """Slow path: wake kswapd, get_page_from_freelist (ALLOC_CPUSET)."""
    node, _ = _first(S, T, S["start"], _allow(S), S["cursor"])
    got = node >= 0
    out = _page(S, node, got)
    out["pc"] = np.where(got, S["pc"], _loop_pc(S))
    out["loop"] = 0
    out.update(_observe(S, T, _live(S), S["use"] == 1))
    return out


def _check(S):
    """check_retry_cpuset (v4.13+): drop a nodemask that misses mems_allowed, or the cookie moved;
    before v4.13 only read_mems_allowed_retry(cookie B)."""
    moved = S["seq"] != S["cookie_b"]
    drop = (S["check_retry_cpuset"] == 1) & (S["use"] == 1) & ((_live(S) & S["mems"]) == 0)
    return drop, drop | moved


def _loop_pc(S):
    """The first step of the retry loop: the check at its top (v6.15+), else the attempt."""
    return np.where(S["each_loop"] == 1, _PC["retry_top"], _PC["retry_try"])


def _check_then(S, T, then):
    """check_retry_cpuset: drop a nodemask that misses mems_allowed, restart the slow path when
    the cpuset changed, else go on to step ``then``."""
    drop, restart = _check(S)
    out = {"use": np.where(drop, 0, S["use"]), "restarts": S["restarts"] + restart,
           "pc": np.where(restart, _PC["slow"], _PC[then])}
    out.update(_observe(S, T, _live(S), S["use"] == 1))
    return out


def t_retry_top(S, T):
    """retry: label, v6.15+: check_retry_cpuset at the top of every loop (only step of that
    design; older designs go straight to the attempt)."""
    return _check_then(S, T, "retry_try")


def t_retry_try(S, T):
    """Direct reclaim and compaction (no help: memory is free), get_page_from_freelist again;
    should_reclaim_retry: true forever with endless reclaim, else give up."""
    node, _ = _first(S, T, S["start"], _allow(S), S["cursor"])
    got = node >= 0
    out = _page(S, node, got)
    again = np.where(S["endless"] == 1, _loop_pc(S), _PC["pre_oom"])
    out["pc"] = np.where(got, S["pc"], again)
    out["loop"] = 1
    out["lstamp"] = S["wstamp"].copy()
    out.update(_observe(S, T, _live(S), S["use"] == 1))
    return out


def t_pre_oom(S, T):
    """Before OOM: check_retry_cpuset (v4.13+) / read_mems_allowed_retry (v4.10)."""
    return _check_then(S, T, "oom")


def t_oom(S, T):
    """__alloc_pages_may_oom: a last attempt (high watermark, ALLOC_CPUSET), then out_of_memory();
    requests that may not OOM go to nopage."""
    may = S["can_oom"] == 1
    node, _ = _first(S, T, S["start"], _allow(S), S["cursor"])
    got = may & (node >= 0)
    out = _page(S, node, got)
    out["out"] = np.where(may & ~got, _O["spurious_oom"], out.get("out", S["out"]))
    out["pc"] = np.where(may, S["pc"], _PC["nopage"])
    return out


def t_nopage(S, T):
    """nopage: the same check; else warn_alloc('page allocation failure') and return NULL."""
    drop, restart = _check(S)
    return {"use": np.where(drop, 0, S["use"]), "restarts": S["restarts"] + restart,
            "warn": np.where(restart, S["warn"], 1), "pc": np.where(restart, _PC["slow"], _PC["after_null"])}


def t_after_null(S, T):
    """Back in alloc_pages_vma/current: v4.10 retries if cookie A moved; else NULL is returned."""
    moved = (S["outer_cookie"] == 1) & (S["seq"] != S["cookie_a"])
    return {"pc": np.where(moved, _PC["cookie_a"], S["pc"]), "restarts": S["restarts"] + moved,
            "out": np.where(moved, S["out"], _O["failure"])}


def t_czl_alloc(S, T):
    """cpuset-zonelists: allocate from the zonelists and policy taken once (intersection checked once)."""
    allow = np.where(S["use"] == 1, S["mval"], S["all"]) & S["cookie_b"]
    node, _ = _first(S, T, S["start"], allow)
    got = node >= 0
    out = _page(S, node, got)
    out["out"] = np.where(got, out.get("out", S["out"]), _O["failure"])
    out.update(_observe(S, T, S["mval"], S["use"] == 1))
    return out


#: The task's steps: (name, label, function). Control flow: each step sets ``pc``.
TASK_STEPS = (
    ("fault", "page fault: mmap lock taken for read", t_fault),
    ("cookie_a", "alloc_pages_vma: read_mems_allowed_begin (cookie A)", t_cookie_a),
    ("policy", "policy_nodemask", t_policy),
    ("fast_prep", "prepare_alloc_pages: preferred zoneref", t_fast_prep),
    ("fast_try", "fast path: get_page_from_freelist", t_fast_try),
    ("slow", "__alloc_pages_slowpath: read_mems_allowed_begin (cookie B), preferred zoneref", t_slow),
    ("slow_try", "slow path: get_page_from_freelist", t_slow_try),
    ("retry_top", "retry: check_retry_cpuset at the top of the loop (v6.15+)", t_retry_top),
    ("retry_try", "reclaim, compaction, get_page_from_freelist, should_reclaim_retry", t_retry_try),
    ("pre_oom", "before OOM: check_retry_cpuset / read_mems_allowed_retry(cookie B)", t_pre_oom),
    ("oom", "__alloc_pages_may_oom", t_oom),
    ("nopage", "nopage: check, else warn_alloc and return NULL", t_nopage),
    ("after_null", "alloc_pages_vma: read_mems_allowed_retry(cookie A)", t_after_null),
    ("czl_alloc", "get_page_from_freelist over the cpuset zonelists and policy copy", t_czl_alloc),
)
_PC = {name: i for i, (name, _, _) in enumerate(TASK_STEPS)}
_SPIN = np.array([name in ("cookie_a", "slow") for name, _, _ in TASK_STEPS])
_LOOP = np.array([name in ("retry_top", "retry_try") for name, _, _ in TASK_STEPS])    # retry loop entries
_WRITER = len(TASK_STEPS)            # the group key of writer moves (after every task step)


def w_step(S, T):
    """One cpuset writer step: set the columns its data names, move the seqcount, count the step."""
    step = T.w_step[S["woff"] + S["wpc"]]                     # (R, 4): mems, tpol, vpol (-1: kept), seq
    out = {c: np.where(step[:, i] >= 0, step[:, i], S[c]) for i, c in enumerate(_WCOLS)}
    out.update(seq=S["seq"] + step[:, 3], wpc=S["wpc"] + 1, wstamp=S["wstamp"] + 1)
    return out


_STEP_FNS = tuple(fn for _, _, fn in TASK_STEPS) + (w_step,)


def _task_enabled(S):
    pc = S["pc"]
    spin = _SPIN[pc] & (S["seq"] % 2 == 1)                      # seqcount reader waits for the writer
    idle = _LOOP[pc] & (S["loop"] == 1) & (S["lstamp"] == S["wstamp"])   # loop failed, nothing changed yet
    return (S["out"] == 0) & ~(spin | idle)


def _writer_enabled(S, T):
    wpc = S["wpc"]
    ok = wpc < T.w_len[S["prog"]]
    holds = (S["pc"] != _PC["fault"]) & (S["out"] == 0) & (S["entry_fault"] == 1)
    return ok & ~(T.w_mm[S["woff"] + wpc] & holds)


# ============================================================================ compiled, cached
@functools.lru_cache(maxsize=512)
def _compiled(sc: Scenario, d: Design):
    """The program of a scenario under a design and its initial state column (cached: scenarios
    and designs are immutable)."""
    P = compile_program(sc, d)
    P.order.setflags(write=False)
    first = "fault" if sc.entry == "fault" else ("cookie_a" if d.outer_cookie else "policy")
    il0 = sc.last_node
    if sc.mode == "interleave" and sc.entry == "current" and not d.il_prev:
        il0 = int(_next_in(np.array([sc.last_node]), np.array([P.tpol0]))[0])   # il_next
    init = dict.fromkeys(_COLS + _PARAMS, 0)
    init.update(mems=sc.mems, tpol=P.tpol0, vpol=P.vpol0, pc=_PC[first], page=-1, start=sc.cpu_node,
                il=il0, seen=-1, taken=-1,
                task_scope=sc.scope == "task", entry_fault=sc.entry == "fault", bind=P.bind,
                preferred=P.preferred, interleave=P.interleave, cpu_node=sc.cpu_node, ilx=sc.ilx,
                nodes=sc.nodes, all=(1 << sc.nodes) - 1, removed=P.removed, outer_cookie=d.outer_cookie,
                copy=d.copy_swap or d.cpuset_zonelists, czl=d.cpuset_zonelists, il_prev=d.il_prev,
                check_retry_cpuset=d.check_retry_cpuset, each_loop=d.retry_cpuset_each_loop,
                recompute_zoneref=d.slowpath_recomputes_zoneref, can_oom=sc.can_oom,
                endless=sc.endless_reclaim, low_wm=sc.low_watermark)
    wrows = tuple((*(w["set"].get(c, -1) for c in _WCOLS), w["seq"], w["needs_mm_free"])
                  for w in P.writer + ({"set": {}, "seq": 0, "needs_mm_free": False},))
    return P, tuple(int(v) for v in init.values()), wrows        # writer steps as rows, + a sentinel


def _tables(compiled):
    """The batch of ``_compiled`` programs: their tables and the initial state array (one column
    per program)."""
    programs = [P for P, _, _ in compiled]
    A = np.array([init for _, init, _ in compiled], np.int64).T.copy()
    W = max(P.scenario.nodes for P in programs)
    K = max(len(P.stable) for P in programs)
    order = np.full((len(programs), W, W), _NONODE, np.int64)
    stable = np.full((len(programs), K), -1, np.int64)
    for i, P in enumerate(programs):
        n = P.scenario.nodes
        order[i, :n, :n] = P.order
        stable[i, :len(P.stable)] = P.stable
    blocks = [len(wrows) for _, _, wrows in compiled]
    A[_C["prog"]] = np.arange(len(programs))
    A[_C["woff"]] = np.cumsum([0] + blocks[:-1])
    w = np.array([row for _, _, wrows in compiled for row in wrows], np.int64)
    T = _Tables(order=order, pos=np.arange(W), stable=stable, w_step=w[:, :4], w_mm=w[:, 4] == 1,
                w_len=np.array(blocks, np.int64) - 1)
    return T, A


# ============================================================================ exploration
@dataclasses.dataclass(frozen=True, eq=False)
class Exploration:
    """Every interleaving of one scenario under one design.

    ``moves``: (R, L) int8, the actor of each move (0 task, 1 writer, -1 after the end), in
    enumeration order (shorter interleavings first, then task moves before writer moves);
    ``final``: the final state columns (R,); ``counts``: outcome -> number of interleavings.
    """

    program: Program
    moves: np.ndarray
    final: dict
    counts: dict

    @property
    def outcome(self) -> np.ndarray:
        """Outcome name per interleaving."""
        return np.array(("?",) + OUTCOMES, dtype=object)[self.final["out"]]


def _advance(A, key, T):
    """Apply one move to every interleaving, in place. ``key`` (sorted) names the move of each
    column of ``A``: a task step (its pc) or ``_WRITER``. Each step runs once on its contiguous
    block of interleavings, whatever their scenario and design."""
    cut = np.flatnonzero(key[1:] != key[:-1]) + 1
    for lo, hi in zip(np.concatenate(([0], cut)).tolist(), np.concatenate((cut, [key.size])).tolist()):
        # the step reads a view of its rows and returns new arrays (a column it passes on
        # unchanged is copied: its update lands after it returns)
        for k, v in _STEP_FNS[int(key[lo])](_State(A[:, lo:hi]), T).items():
            A[_C[k], lo:hi] = v


def explore_many(pairs, overrides=None, *, max_moves=200, max_rows=1_000_000) -> list:
    """:func:`explore` for many ``(scenario, design)`` pairs in one batch: the interleavings of
    every pair are columns of one state array, all advanced together, one array pass per step.

    ``max_rows`` caps the interleavings of the whole batch.

    >>> [e.counts["spurious_oom"] for e in explore_many([("email", "v4.10"), ("email", "v4.13")])]
    [5, 0]
    """
    compiled = []
    for scenario, design_name in pairs:
        sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
        compiled.append(_compiled(sc, design(design_name, overrides)))
    if not compiled:
        return []
    programs = [P for P, _, _ in compiled]
    T, A = _tables(compiled)
    moves = np.zeros((A.shape[1], 0), np.int8)
    done_A, done_moves, n_done = [], [], 0
    for _ in range(max_moves):
        S = _State(A)
        te, we = _task_enabled(S), _writer_enabled(S, T)
        S["out"][~te & ~we & (S["out"] == 0)] = _O["stuck"]
        fin = S["out"] != 0
        if fin.any():
            done_A.append(A[:, fin])
            done_moves.append(moves[fin])
            n_done += done_moves[-1].shape[0]
            we &= ~fin                                             # (te is false there already)
        rows_t, rows_w = np.flatnonzero(te), np.flatnonzero(we)
        if not rows_t.size + rows_w.size:
            break
        if rows_t.size + rows_w.size + n_done > max_rows:
            raise NumalabError(f"more than {max_rows} interleavings (fewer writes, nodes or word stores, or "
                               "raise max_rows)", input=programs[0].scenario.name)
        idx = np.concatenate([rows_t, rows_w])
        key = np.concatenate([A[_C["pc"], rows_t], np.full(rows_w.size, _WRITER)])
        order = np.argsort(key, kind="stable")                     # one block per step
        idx, key = idx[order], key[order]
        A = A[:, idx]
        moves = np.concatenate([moves[idx], (key == _WRITER).astype(np.int8)[:, None]], axis=1)
        _advance(A, key, T)
    else:  # pragma: no cover - the model always terminates; guard against a modelling bug
        raise NumalabError(f"exploration did not end within {max_moves} moves",
                           input=programs[int(A[_C["prog"], 0])].scenario.name)
    A = np.concatenate(done_A, axis=1)
    L = max(m.shape[1] for m in done_moves)
    M = np.full((A.shape[1], L), -1, np.int8)                      # -1 after the end
    r = 0
    for m in done_moves:
        M[r:r + m.shape[0], :m.shape[1]] = m
        r += m.shape[0]
    length = (M >= 0).sum(axis=1)
    prog = A[_C["prog"]]
    # enumeration order: by program, then shorter first, then lexicographic (task before writer)
    order = np.lexsort(tuple(M[:, j] for j in range(M.shape[1] - 1, -1, -1)) + (length, prog))
    A, M, length, prog = A[:, order], M[order], length[order], prog[order]
    bounds = np.searchsorted(prog, np.arange(len(programs) + 1)).tolist()
    nprog, no = len(programs), len(OUTCOMES) + 1
    per_out = np.bincount(prog * no + A[_C["out"]], minlength=nprog * no).reshape(nprog, no).tolist()
    flags = [np.bincount(prog, weights=A[_C[c]], minlength=nprog).astype(np.int64).tolist()
             for c in ("unstable", "neither", "warn")]
    out = []
    for i, P in enumerate(programs):
        lo, hi = bounds[i], bounds[i + 1]
        final = {k: A[_C[k], lo:hi] for k in _COLS}
        counts = {o: per_out[i][_O[o]] for o in OUTCOMES}
        counts.update(zip(COUNTERS, (f[i] for f in flags)))
        out.append(Exploration(program=P, moves=M[lo:hi, :int(length[hi - 1])], final=final, counts=counts))
    return out


def explore(scenario, design_name="v4.10", overrides=None, *, max_moves=200, max_rows=1_000_000) -> Exploration:
    """Every interleaving the locks allow, as rows advanced together (breadth first).

    Parameters
    ----------
    scenario : Scenario or str
    design_name : str or Design
    overrides : dict, optional
        Switches of :func:`design` to flip (e.g. ``{"check_retry_cpuset": False}``).
    max_moves, max_rows : int
        Caps: a scenario whose interleavings exceed them is refused (NumalabError), not run.

    Returns
    -------
    Exploration

    Examples
    --------
    >>> e = explore("email", "v4.13")
    >>> sorted(k for k, v in e.counts.items() if v and k in OUTCOMES)
    ['allowed_page', 'disallowed_page', 'retry']
    """
    return explore_many([(scenario, design_name)], overrides, max_moves=max_moves, max_rows=max_rows)[0]


def shortest(ex: Exploration, outcome: str):
    """Index of the shortest interleaving with ``outcome`` (ties: the first in enumeration order),
    or None."""
    if outcome not in OUTCOMES:
        raise NumalabError(f"unknown outcome; known: {', '.join(OUTCOMES)}", input=outcome)
    rows = np.flatnonzero(ex.final["out"] == _O[outcome])
    if not rows.size:
        return None
    lengths = (ex.moves[rows] >= 0).sum(axis=1)
    return int(rows[np.argmin(lengths)])


def _sees(S, P) -> str:
    src, use = int(S["src"][0]), int(S["use"][0])
    if P.bind and use:
        kind = {1: "live task policy", 2: "live VMA policy", 3: "its private copy"}.get(src, "?")
        return f"nodemask {{{_fmt(int(_live(S)[0]))}}} ({kind})"
    started = int(S["pc"][0]) not in (_PC["fault"], _PC["cookie_a"], _PC["policy"]) or S["out"][0]
    if P.bind and started:
        return "NULL nodemask (cpuset only)"
    if started and not P.bind:
        return f"start node {int(S['start'][0])}, policy {{{_fmt(int(_live(S)[0]))}}}"
    return "-"


def trace(ex: Exploration, row: int) -> list:
    """The interleaving ``row`` step by step: each step with the state after it and what the
    allocation sees (replayed through the same steps on one row)."""
    P = ex.program
    n = P.scenario.nodes
    T, A = _tables([_compiled(P.scenario, P.design)])
    S = _State(A)
    out = []
    for i, a in enumerate(ex.moves[row]):
        if a < 0:
            break
        if a == 0:
            name, label, _ = TASK_STEPS[int(S["pc"][0])]
            label = _label(name, label, P)
        else:
            label = P.writer[int(S["wpc"][0])]["label"]
            name = "writer"
        before = _State(A.copy())
        _advance(A, np.array([int(S["pc"][0]) if a == 0 else _WRITER]), T)
        S = _State(A)
        note = _note(name, before, S, P) if a == 0 else ""
        step = {"i": i + 1, "actor": "task" if a == 0 else "cpuset", "step": label + (f": {note}" if note else ""),
                "mems_allowed": _fmt(int(S["mems"][0]), n), "seq": int(S["seq"][0]),
                "policy": _fmt(int((S["tpol"] if P.scenario.scope == "task" else S["vpol"])[0]), n),
                "sees": _sees(S, P), "cpuset_next": _writer_next(S, P, T)}
        if S["out"][0]:
            step["outcome"] = OUTCOMES[int(S["out"][0]) - 1]
            if S["page"][0] >= 0:
                step["page"] = int(S["page"][0])
        out.append(step)
    if not out or "outcome" not in out[-1]:
        out.append({"i": len(out) + 1, "actor": "task", "step": "no step can run: the retry loop never ends",
                    "mems_allowed": _fmt(int(S["mems"][0]), n), "seq": int(S["seq"][0]),
                    "policy": _fmt(int((S["tpol"] if P.scenario.scope == "task" else S["vpol"])[0]), n),
                    "sees": _sees(S, P), "cpuset_next": _writer_next(S, P, T),
                    "outcome": OUTCOMES[int(ex.final["out"][row]) - 1]})
    return out


def _writer_next(S, P, T) -> str:
    """What the cpuset writer does next, or what it waits for."""
    wpc = int(S["wpc"][0])
    if wpc >= len(P.writer):
        return "done"
    nxt = P.writer[wpc]["label"].split(":")[0]
    if not _writer_enabled(S, T)[0] and S["out"][0] == 0:
        return f"{nxt}: waits for the mmap lock the fault holds"
    return nxt


def _label(name, label, P) -> str:
    """A step's label in the words of the design's code."""
    entry = "alloc_pages_vma" if P.scenario.entry == "fault" else "alloc_pages_current"
    if name in ("cookie_a", "after_null"):
        return label.replace("alloc_pages_vma", entry)
    if name == "pre_oom":
        return ("before OOM: check_retry_cpuset" if P.design.check_retry_cpuset
                else "before OOM: read_mems_allowed_retry(cookie B)")
    if name == "nopage":
        check = "check_retry_cpuset" if P.design.check_retry_cpuset else "read_mems_allowed_retry(cookie B)"
        return f"nopage: {check}, else warn_alloc and return NULL"
    if name == "policy" and P.interleave:
        how = ("offset_il_node (static index)" if P.scenario.entry == "fault" else
               "interleave_nodes: next node after il_prev" if P.design.il_prev else
               "interleave_nodes: il_next as stored")
        return f"get_task_policy, {how}"
    return label


def _note(name, b, a, P) -> str:
    n = P.scenario.nodes
    if int(a["out"][0]) == _O["spurious_oom"]:
        return "no page, nothing restarts: OOM killer invoked"
    if a["page"][0] >= 0 and b["page"][0] < 0:
        return f"page from node {int(a['page'][0])}"
    if name == "policy":
        live = int((b["tpol"] if P.scenario.scope == "task" else b["vpol"])[0])
        if P.bind:
            meets = "meets" if a["use"][0] else "misses"
            return (f"BIND {{{_fmt(live, n)}}} {meets} mems_allowed {{{_fmt(int(b['mems'][0]), n)}}}: "
                    + ("pass the nodemask" if a["use"][0] else "no nodemask (cpuset only)"))
        return f"node {int(a['start'][0])}"
    if name in ("cookie_a", "slow"):
        return f"cookie {int(a['cookie_a' if name == 'cookie_a' else 'cookie_b'][0])}" + (
            "" if name == "cookie_a" else f", zoneref at position {int(a['cursor'][0])}")
    if name in ("fast_try", "slow_try", "retry_try", "oom", "czl_alloc"):
        return "no zone both in the nodemask and in mems_allowed: no page"
    if name in ("pre_oom", "nopage", "retry_top") and a["pc"][0] == _PC["slow"]:
        dropped = b["use"][0] and not a["use"][0]
        return "nodemask misses mems_allowed: drop it and restart" if dropped else "cookie moved: restart"
    if name in ("pre_oom", "retry_top"):
        return "no change seen"
    if name == "nopage":
        return "page allocation failure warning, NULL"
    if name == "after_null":
        return "cookie A moved: retry from policy_nodemask" if a["out"][0] == 0 else "NULL returned"
    return ""


# ============================================================================ runs
def run(scenario="email", designs=DESIGNS, *, traces=True, overrides=None) -> dict:
    """Counts per design and the shortest trace of every bad outcome: the ``numalab race`` JSON.

    >>> r = run("email", ["v4.10", "v4.13"], traces=False)
    >>> r["outcomes"]["v4.10"]["spurious_oom"] > 0, r["outcomes"]["v4.13"]["spurious_oom"]
    (True, 0)
    """
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    designs = list(designs)
    return _result(sc, designs, explore_many([(sc, dn) for dn in designs], overrides), traces)


def _result(sc, designs, explorations, traces) -> dict:
    res = {"scenario": sc.name, "title": sc.title, "outcomes": {}, "traces": {}, "trace_outcomes": {},
           "interleavings": {}}
    for dn, ex in zip(designs, explorations):
        key = dn if isinstance(dn, str) else dn.name
        res["outcomes"][key] = ex.counts
        res["interleavings"][key] = int(ex.moves.shape[0])
        res["traces"][key], res["trace_outcomes"][key] = [], []
        if traces:
            for o in BAD:
                r = shortest(ex, o)
                if r is not None:
                    res["traces"][key].append(trace(ex, r))
                    res["trace_outcomes"][key].append(o)
    return res


def run_all(designs=DESIGNS, *, traces=True) -> dict:
    """:func:`run` for every shipped scenario: ``{scenario: result}`` (one batch for all of them)."""
    names, designs = scenario_names(), list(designs)
    exs = explore_many([(n, d) for n in names for d in designs])
    k = len(designs)
    return {n: _result(load_scenario(n), designs, exs[i * k:(i + 1) * k], traces) for i, n in enumerate(names)}


def verdict(results: dict, point_a=None) -> str:
    """A few sentences that follow from the counts of :func:`run_all` (or some of its scenarios)
    and, if given, the rows of :func:`point_a_table`.

    >>> print(verdict({"email": run("email", traces=False)}).splitlines()[0])
    email: spurious OOM in 5 of 14 interleavings with v4.10; none with v4.13, v6.15, copy-swap, cpuset-zonelists.
    """
    lines = []
    for name, r in results.items():
        oc, total = r["outcomes"], r["interleavings"]
        for bad, what in (("spurious_oom", "spurious OOM"), ("stuck", "endless retry loop"),
                          ("failure", "allocation failure"), ("off_policy_page", "page outside the policy")):
            hit = [d for d in oc if oc[d][bad]]
            if hit:
                clean = [d for d in oc if not oc[d][bad]]
                lines.append(f"{name}: {what} in " + ", ".join(f"{oc[d][bad]} of {total[d]} interleavings with {d}"
                                                               for d in hit)
                             + (f"; none with {', '.join(clean)}." if clean else "."))
        torn = [d for d in oc if oc[d]["neither_nodemask"]]
        if torn:
            stable = [d for d in oc if not oc[d]["unstable_nodemask"] and not oc[d]["neither_nodemask"]]
            lines.append(f"{name}: an allocation reads a policy nodemask that is neither the old nor the new one "
                         f"with {', '.join(torn)}"
                         + (f"; one stable nodemask per allocation with {', '.join(stable)}." if stable else "."))
    if not lines:
        lines.append("no interleaving ends in a spurious OOM, a failure, an endless loop or a torn nodemask.")
    if point_a:
        def names(rows):
            return ", ".join(f"{r['mode']}|{r['flags']}" for r in rows) or "none"
        pages = [r for r in point_a if not r["same_pages"]]
        report = [r for r in point_a if not r["same_report"]]
        same = sum(1 for r in point_a if r["same_pages"] and r["same_report"])
        lines.append(f"point (a) outside races: leaving STATIC policies alone changes where pages go for "
                     f"{names(pages)} and what get_mempolicy reports for {names(report)}; the other "
                     f"{same} of {len(point_a)} mode/flag cases see no difference.")
    return "\n".join(lines)


# ============================================================================ point (a) outside races
def point_a_table(kernel="6.18", *, topology="sockets-2x2", mems="0-1", new="2-3", user="1-2", cpu_node=3,
                  pages=4) -> list:
    """What leaving STATIC policies alone changes outside races, for every mode and flag.

    For each mode (BIND, INTERLEAVE, PREFERRED, PREFERRED_MANY, WEIGHTED_INTERLEAVE where the
    release has it) and flag (none, STATIC, RELATIVE): the policy is created
    (:func:`numalab.mempolicy.create`) in a cpuset with ``mems``, then cpuset.mems becomes
    ``new``; ``today`` rebinds every policy (:func:`numalab.mempolicy.rebind`), ``proposal``
    rebinds all but STATIC ones (email point a). Reported: what get_mempolicy returns
    (:func:`numalab.mempolicy.report`) and the nodes of the next ``pages`` pages a task on
    ``cpu_node`` faults in (:func:`numalab.alloc.place` over the boot zonelists of ``topology``).

    >>> rows = point_a_table()
    >>> [(r["pages_today"], r["pages_proposal"]) for r in rows if r["mode"] == "BIND" and r["flags"] == "STATIC_NODES"]
    [('2,2,2,2', '3,3,3,3')]
    """
    from . import zonelist
    from .alloc import place
    from .sources import load

    k = profile(kernel)
    topo = load(topology)
    nodes = int(topo.node_ids.max()) + 1
    m0, m1, u = (_mask(x, nodes, f"point_a {name}") for name, x in (("mems", mems), ("new", new), ("user", user)))
    modes = [m for m in ("BIND", "INTERLEAVE", "PREFERRED", "PREFERRED_MANY", "WEIGHTED_INTERLEAVE") if k.has_mode(m)]
    flags = [[], ["STATIC_NODES"], ["RELATIVE_NODES"]]
    cases = [(m, f) for m in modes for f in flags]
    nb = topo.mask(np.ones(topo.n_nodes, bool)).shape[-1]       # the topology's MAX_NUMNODES

    def words(bits):
        return mp.from_nodes(_nodes(bits, nodes), nb)

    pb = mp.create([m for m, _ in cases], [f for _, f in cases], np.tile(words(u), (len(cases), 1)),
                   words(m0), k.label, nbits=nb)
    today = mp.rebind(pb, words(m1), k.label)
    static = np.array(["STATIC_NODES" in f for _, f in cases])
    prop = dataclasses.replace(today, nodes=np.where(static[:, None], pb.nodes, today.nodes),
                               w=np.where(static[:, None], pb.w, today.w), local=np.where(static, pb.local, today.local))
    zl = zonelist.build(topo, k.label, "boot")
    allowed = mp.unpack(words(m1), nb)
    outs = {}
    for label, b in (("today", today), ("proposal", prop)):
        _, _, mask_r = mp.report(b, nr_node_ids=nodes)
        placed, _ = place(b, zl, allowed, cpu_node, pages)
        outs[label] = (mask_r, [",".join(str(int(x)) for x in row) for row in placed])
    rows = []
    for i, (m, f) in enumerate(cases):
        err = pb.errno_names()[i]
        t_rep, p_rep = _fmt(_bits(outs["today"][0][i]), nodes), _fmt(_bits(outs["proposal"][0][i]), nodes)
        t_pg, p_pg = (outs["today"][1][i], outs["proposal"][1][i]) if not err else ("-", "-")
        rows.append({"mode": m, "flags": "+".join(f) or "-", "errno": err,
                     "nodes_today": _fmt(_bits(today.nodes[i]), nodes), "nodes_proposal": _fmt(_bits(prop.nodes[i]), nodes),
                     "reported_today": t_rep, "reported_proposal": p_rep, "same_report": t_rep == p_rep,
                     "pages_today": t_pg, "pages_proposal": p_pg, "same_pages": t_pg == p_pg,
                     "why": _why(m, f, err, t_rep == p_rep, t_pg == p_pg, k)})
    return rows


def _why(mode, flags, err, same_rep, same_pg, k) -> str:
    if err:
        return f"refused at creation ({err})"
    if "STATIC_NODES" not in flags:
        return "not STATIC: rebound in both (the proposal swaps an updated copy instead of writing in place)"
    parts = []
    if mode in ("PREFERRED", "PREFERRED_MANY"):
        if not same_rep:
            parts.append("today mpol_rebind_preferred records the new mems in w, the union get_mempolicy "
                         "reports as the STATIC user nodemask; left alone it keeps reporting the user's mask")
        if k.preferred_not_remapped:
            parts.append("pages: a preference keeps its nodes on a cpuset change since v5.14 either way")
    else:
        parts.append("get_mempolicy reports the user's mask in both (STATIC stores it)" if same_rep else
                     "the reported mask differs")
        parts.append("today nodes = user & new mems (empty: all new mems); left alone they stay user & old "
                     "mems" + (", which miss the new mems: BIND is then ignored and interleave starts from "
                               "nodes the cpuset refuses" if not same_pg else ", with the same pages here"))
    return "; ".join(parts)
