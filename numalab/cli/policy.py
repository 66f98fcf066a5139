"""``numalab policy``: a memory policy through cpuset.mems changes, and where its pages go.

One case::

    numalab policy TOPO --mems LIST --mode MODE [--flags static|relative|numa_balancing]
        [--nodes LIST] [--then-mems LIST]... [--scope task|vma|shm] [--cpu-node N]
        [--pages K] [--kernel V] [--json]

A sweep::

    numalab policy --batch FILE --json        # FILE or '-' (stdin): one JSON query per line

A query has the keys ``topology``, ``kernel``, ``mems``, ``then_mems`` (a list), ``mode``,
``flags`` (a list), ``nodes``, ``scope``, ``cpu_node``, ``pages``; each gives one result line, in
order. A bad line gets ``{"error": "line N: ...", "steps": []}`` and the others still run.
Topologies and zonelists are loaded once per batch.

The result (``--json``): ``error`` (null, or the errno name when the kernel refuses the policy:
a result, exit status 0) and ``steps`` (the initial cpuset, then one per ``--then-mems``), each
with ``mems``, ``effective``, ``mems_allowed``, ``nodes`` (the effective policy nodemask),
``reported_mode``, ``reported_flags``, ``reported_nodes`` (what get_mempolicy returns),
``eligible`` (ordered node ids a page may come from), ``placement`` (node per page first touched
in that step) and ``old_pages`` (where the pages of the earlier steps are now). Node sets are
kernel list strings (``"0-1,3"``).
"""
from __future__ import annotations

import json
import sys

from ..errors import NumalabError

__all__ = ["register", "run", "run_query", "run_batch", "document"]

_KEYS = {"topology", "kernel", "mems", "then_mems", "mode", "flags", "nodes", "scope", "cpu_node", "pages"}


def register(subparsers):
    p = subparsers.add_parser(
        "policy", help="a memory policy through cpuset.mems changes, and where its pages go",
        description="Create a memory policy as set_mempolicy/mbind would, rebind it on each cpuset.mems "
                    "change, and show what get_mempolicy reports and where pages land.")
    p.add_argument("topo", metavar="TOPO", nargs="?",
                   help="preset name, JSON file, sysfs snapshot directory or tarball, or 'host'")
    p.add_argument("--mems", help="cpuset.mems of the task's cgroup (omit: the root cgroup)")
    p.add_argument("--mode", default=None,
                   help="default, preferred, bind, interleave, local, preferred_many, weighted_interleave")
    p.add_argument("--flags", action="append", default=[],
                   help="static, relative or numa_balancing (repeat or comma-separate)")
    p.add_argument("--nodes", default=None, help="the policy's nodemask, e.g. 0-1,3 (omit: NULL)")
    p.add_argument("--then-mems", action="append", default=[], metavar="LIST",
                   help="a later write to cpuset.mems (repeatable)")
    p.add_argument("--scope", default="task", choices=("task", "vma", "shm"),
                   help="task: set_mempolicy; vma: mbind on a private mapping; shm: mbind on shared memory")
    p.add_argument("--cpu-node", type=int, default=None, help="node id of the CPU the task runs on")
    p.add_argument("--pages", type=int, default=16, help="pages touched per step (default 16)")
    p.add_argument("--kernel", default="current", help="kernel release, e.g. 6.1 (default: current)")
    p.add_argument("--batch", metavar="FILE", help="JSON lines of queries ('-' for stdin)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=run)


def _load_topology(spec, cache):
    if spec not in cache:
        from .. import sources
        cache[spec] = sources.load(spec)
    return cache[spec]


def _zonelists(topo, spec, kernel, cache):
    from .. import zonelist
    from ..kernel import profile
    key = (spec, profile(kernel).label)
    if key not in cache:
        cache[key] = zonelist.build(topo, kernel, "boot")
    return cache[key]


def _flags_list(value, where="flags"):
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise NumalabError("must be a list of flag names", input=where)
    out = []
    for v in value:
        out += [p.strip() for p in str(v).replace("|", ",").split(",") if p.strip()]
    return out


def run_query(q: dict, *, topo_cache=None, zl_cache=None) -> dict:
    """Run one query (keys as in the batch format) and return the result document (:func:`document`)."""
    from ..alloc import run_scenario

    topo_cache = {} if topo_cache is None else topo_cache
    zl_cache = {} if zl_cache is None else zl_cache
    if not isinstance(q, dict):
        raise NumalabError("a query must be a JSON object", input=str(q)[:60])
    unknown = set(q) - _KEYS
    if unknown:
        raise NumalabError(f"unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KEYS))}",
                           input="query")
    if not q.get("topology"):
        raise NumalabError("missing 'topology'", input="query")
    if q.get("mode") in (None, ""):
        raise NumalabError("missing 'mode'", input="query")
    spec = str(q["topology"])
    kernel = str(q.get("kernel") or "current")
    topo = _load_topology(spec, topo_cache)
    zl = _zonelists(topo, spec, kernel, zl_cache)
    then = q.get("then_mems") or []
    if isinstance(then, str):
        then = [then]
    nodes = q.get("nodes")
    if nodes is not None and not isinstance(nodes, (str, list)):
        raise NumalabError("'nodes' must be a node list string", input=str(nodes))
    pages = q.get("pages", 16)
    if not isinstance(pages, int) or isinstance(pages, bool):
        raise NumalabError("'pages' must be an integer", input=str(pages))
    cpu = q.get("cpu_node")
    if cpu is not None and (not isinstance(cpu, int) or isinstance(cpu, bool)):
        raise NumalabError("'cpu_node' must be an integer", input=str(cpu))
    mems = q.get("mems")
    return document(run_scenario(topo, kernel, mems=None if mems is None else str(mems),
                                 then_mems=[str(m) for m in then], mode=q["mode"],
                                 flags=_flags_list(q.get("flags")), nodes=nodes, scope=q.get("scope") or "task",
                                 cpu_node=cpu, pages=pages, zonelists=zl))


def _mode_name(value: int) -> str:
    from .. import mempolicy as mp
    return mp.MODE_NAMES.get(int(value), f"MODE_{int(value)}")


def document(sc) -> dict:
    """The JSON document of a :class:`numalab.alloc.Scenario` (node sets as kernel list strings,
    modes and flags by name): what ``numalab policy --json`` prints, key order included."""
    from .. import mempolicy as mp
    from ..cpuset import format_nodes

    steps = []
    for s in sc.steps:
        st = {"mems": None if s.mems is None else format_nodes(s.mems), "effective": format_nodes(s.effective),
              "mems_allowed": format_nodes(s.mems_allowed), "nodes": format_nodes(s.nodes),
              "reported_mode": _mode_name(s.reported_mode), "reported_flags": mp.flag_names(s.reported_flags),
              "reported_nodes": format_nodes(s.reported_nodes), "eligible": s.eligible.tolist(),
              "placement": s.placement.tolist(), "old_pages": [o.tolist() for o in s.old_pages]}
        if s.transient_nodes is not None:
            st["transient_nodes"] = format_nodes(s.transient_nodes)
        steps.append(st)
    return {"error": sc.error, "kernel": sc.kernel, "topology": sc.topology, "scope": sc.scope,
            "cpu_node": sc.cpu_node, "mode": _mode_name(sc.mode), "flags": mp.flag_names(sc.flags), "steps": steps}


def run_batch(lines, out) -> int:
    """Answer JSON-lines queries, one result line each (bad lines get an error result)."""
    from . import emit_json

    topo_cache, zl_cache = {}, {}
    n = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            res = run_query(q, topo_cache=topo_cache, zl_cache=zl_cache)
        except json.JSONDecodeError as e:
            res = {"error": f"line {n}: not JSON: {e.msg} at column {e.colno}", "steps": []}
        except NumalabError as e:
            res = {"error": f"line {n}: {e}", "steps": []}
        emit_json(res, out)
    return 0


def _text(doc) -> str:
    out = [f"# {doc['topology']}: kernel {doc['kernel']}, {doc['scope']} policy {doc['mode']}"
           f"{' (' + '|'.join(doc['flags']) + ')' if doc['flags'] else ''}, task on node {doc['cpu_node']}"]
    if doc["error"]:
        out.append(f"the kernel refuses the policy: {doc['error']} (the task keeps the default policy)")
    for i, s in enumerate(doc["steps"]):
        out.append(f"step {i}: cpuset.mems {s['mems'] if s['mems'] is not None else '(root)'} "
                   f"effective {s['effective']} mems_allowed {s['mems_allowed']}")
        if s.get("transient_nodes") is not None:
            out.append(f"  during the two-step rebind: nodes {s['transient_nodes']}")
        out.append(f"  policy nodes {s['nodes'] or '-'}; get_mempolicy: {s['reported_mode']}"
                   f"{'|' + '|'.join(s['reported_flags']) if s['reported_flags'] else ''} "
                   f"{s['reported_nodes'] or '(empty)'}")
        out.append(f"  eligible {' '.join(map(str, s['eligible'])) or '(none)'}; "
                   f"new pages {''.join(str(x) if 0 <= x < 10 else f'[{x}]' for x in s['placement'])}")
        for j, o in enumerate(s["old_pages"]):
            out.append(f"  pages of step {j} now on {''.join(str(x) if 0 <= x < 10 else f'[{x}]' for x in o)}")
    return "\n".join(out)


def run(args) -> int:
    from . import emit_json

    if args.batch:
        if args.topo or args.mems or args.mode or args.nodes or args.then_mems or args.flags:
            raise NumalabError("--batch takes every option from the file; give no TOPO or case options",
                               input="--batch")
        if args.batch == "-":
            return run_batch(sys.stdin, sys.stdout)
        try:
            f = open(args.batch, encoding="utf-8")
        except OSError as e:
            raise NumalabError(f"cannot read: {e.strerror}", input=args.batch) from None
        with f:
            return run_batch(f, sys.stdout)
    if not args.topo:
        raise NumalabError("give TOPO (or --batch FILE)", input="numalab policy")
    if not args.mode:
        raise NumalabError("give --mode", input="numalab policy")
    doc = run_query({"topology": args.topo, "kernel": args.kernel, "mems": args.mems,
                     "then_mems": args.then_mems, "mode": args.mode, "flags": _flags_list(args.flags),
                     "nodes": args.nodes, "scope": args.scope, "cpu_node": args.cpu_node, "pages": args.pages})
    if args.json:
        emit_json(doc)
    else:
        print(_text(doc))
    return 0
