"""``numalab policy``: a memory policy through cpuset.mems changes, and where its pages go.

One case::

    numalab policy TOPO --mems LIST --mode MODE [--flags static|relative|numa_balancing]
        [--nodes LIST] [--then-mems LIST]... [--scope task|vma|shm] [--cpu-node N]
        [--pages K] [--kernel V] [--home-node N] [--inode I] [--order K]
        [--weights 0=5,1=2] [--bandwidth 0=300,1=100] [--json]

A sweep::

    numalab policy --batch FILE --json        # FILE or '-' (stdin): one JSON query per line

A query has the keys ``topology``, ``kernel``, ``mems``, ``then_mems`` (a list), ``mode``,
``flags`` (a list), ``nodes``, ``scope``, ``cpu_node``, ``pages``, ``home_node``, ``inode``,
``order``, ``weights`` and ``bandwidth`` (``"0=5,1=2"`` or an object); each gives one result line, in
order. A bad line gets ``{"error": "line N: ...", "steps": []}`` and the others still run.
Topologies are loaded once per batch; zonelists are built once per (topology content, kernel)
by the cache of numalab.zonelist.build.

The result (``--json``): ``error`` (null, or the errno name when the kernel refuses the policy:
a result, exit status 0) and ``steps`` (the initial cpuset, then one per ``--then-mems``), each
with ``mems``, ``effective``, ``mems_allowed``, ``nodes`` (the effective policy nodemask),
``reported_mode``, ``reported_flags``, ``reported_nodes`` (what get_mempolicy returns),
``eligible`` (ordered node ids a page may come from), ``placement`` (node per page first touched
in that step) and ``old_pages`` (where the pages of the earlier steps are now). Node sets are
kernel list strings (``"0-1,3"``). Also: ``home_node`` (null, or the node and the errno of
set_mempolicy_home_node, v5.17+), ``shm`` (shm scope: the inode number assumed, whether it is
the default, the page order; the first page of a real segment lands on the (inode mod k)-th node
of the mask, and the inode number is not predictable from outside), ``weights`` (weighted
interleave only: the weights per memory node and where they come from: default, written, or
auto from bandwidth in 6.16+).
"""
from __future__ import annotations

import json
import sys

from ..errors import NumalabError

__all__ = ["register", "run", "run_query", "run_batch"]

_KEYS = {"topology", "kernel", "mems", "then_mems", "mode", "flags", "nodes", "scope", "cpu_node", "pages",
         "home_node", "inode", "order", "weights", "bandwidth"}


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
    p.add_argument("--home-node", type=int, default=None, metavar="N",
                   help="call set_mempolicy_home_node(N) on the mapping (v5.17+; BIND/PREFERRED_MANY)")
    p.add_argument("--inode", type=int, default=None, metavar="I",
                   help="shm scope: the segment's inode number, added to every page index "
                        "(default 0; the real one is not predictable from outside)")
    p.add_argument("--order", type=int, default=0, metavar="K",
                   help="shm scope: page order of the pages touched (9 = 2 MiB shmem THP)")
    p.add_argument("--weights", default=None, metavar="N=W,...",
                   help="values written to weighted_interleave/nodeN (6.9+)")
    p.add_argument("--bandwidth", default=None, metavar="N=BW,...",
                   help="bandwidth per node as firmware (HMAT/CXL) reports it; 6.16+ derives the "
                        "weights from it until one is written")
    p.add_argument("--batch", metavar="FILE", help="JSON lines of queries ('-' for stdin)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=run)


def _load_topology(spec, cache):
    if spec not in cache:
        from .. import sources
        cache[spec] = sources.load(spec)
    return cache[spec]


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


def run_query(q: dict, *, topo_cache=None) -> dict:
    """Run one query (keys as in the batch format) and return the result document.

    Zonelists come from :func:`numalab.zonelist.build`, which caches by topology content."""
    from .. import zonelist
    from ..alloc import run_scenario

    topo_cache = {} if topo_cache is None else topo_cache
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
    zl = zonelist.build(topo, kernel, "boot")
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
    ints = {}
    for key in ("home_node", "inode", "order"):
        v = q.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise NumalabError(f"'{key}' must be an integer", input=str(v))
        ints[key] = v
    for key in ("weights", "bandwidth"):
        v = q.get(key)
        if v is not None and not isinstance(v, (str, dict)):
            raise NumalabError(f"'{key}' must be a string like 0=5,1=2 or an object", input=str(v)[:60])
    return run_scenario(topo, kernel, mems=None if mems is None else str(mems),
                        then_mems=[str(m) for m in then], mode=q["mode"], flags=_flags_list(q.get("flags")),
                        nodes=nodes, scope=q.get("scope") or "task", cpu_node=cpu, pages=pages, zonelists=zl,
                        home_node=ints["home_node"], inode=ints["inode"], order=ints["order"] or 0,
                        weight_writes=q.get("weights"), bandwidth=q.get("bandwidth"))


def run_batch(lines, out) -> int:
    """Answer JSON-lines queries, one result line each (bad lines get an error result)."""
    from . import emit_json

    topo_cache = {}
    n = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            res = run_query(q, topo_cache=topo_cache)
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
    home = doc.get("home_node")
    if home:
        if home["error"]:
            out.append(f"set_mempolicy_home_node({home['node']}) fails: {home['error']}")
        else:
            out.append(f"home node {home['node']}: pages start at node {home['node']}'s zonelist")
    shm = doc.get("shm")
    if shm:
        how = "default; " if shm["inode_default"] else ""
        out.append(f"shm inode number {shm['inode']} ({how}page index + inode number picks the interleave "
                   f"node; a real segment's inode number is not predictable from outside, so neither is "
                   f"the node of its first page){', page order ' + str(shm['order']) if shm['order'] else ''}")
    if doc["mode"] == "WEIGHTED_INTERLEAVE" and doc.get("weights"):
        w = doc["weights"]
        vals = ",".join(f"{n}={v}" for n, v in w["values"].items())
        out.append(f"interleave weights {vals} ({w['source']})")
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
                     "nodes": args.nodes, "scope": args.scope, "cpu_node": args.cpu_node, "pages": args.pages,
                     "home_node": args.home_node, "inode": args.inode, "order": args.order,
                     "weights": args.weights, "bandwidth": args.bandwidth})
    if args.json:
        emit_json(doc)
    else:
        print(_text(doc))
    return 0
