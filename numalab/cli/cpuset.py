"""``numalab cpuset TOPO --mems LIST [--then-mems LIST]... [--kernel V] [--json]``.

A task in a cpuset: its masks, the kernel log lines the cpuset.mems writes produce, what an
allocation of each common gfp mask gets (or how it fails), and the ``__cpuset_node_allowed``
decision table of the cpuset (interrupt, OOM victim thread or other victim thread, HARDWALL,
exiting). Version windows that show here: the v4.14 OOM-victim test, the v5.16 movable-only
(``cpusets_insane_config``) early failure and warning, the list grammar of each release.

Example::

    $ numalab cpuset cxl-movable --mems 2 --kernel 5.16
"""
from __future__ import annotations

from ..errors import NumalabError
from . import emit_json

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("cpuset", help="a task in a cpuset: masks, allocations per gfp, node_allowed table",
                              description="Write cpuset.mems as the kernel would and show the task's masks, the "
                                          "kernel log lines, what each gfp mask's allocation gets, and the "
                                          "__cpuset_node_allowed table.")
    p.add_argument("topo", metavar="TOPO", help="preset name, JSON file, sysfs snapshot, or 'host'")
    p.add_argument("--mems", default=None, help="cpuset.mems of the task's cgroup (omit: the root cgroup)")
    p.add_argument("--then-mems", action="append", default=[], metavar="LIST", help="a later write (repeatable)")
    p.add_argument("--hierarchy", default="v2", choices=("v1", "v2"), help="cgroup hierarchy (default v2)")
    p.add_argument("--cpu-node", type=int, default=None, help="node id of the CPU the task runs on")
    p.add_argument("--kernel", default="current", help="kernel release, e.g. 5.16 (default: current)")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import sources
    from ..alloc import cpuset_allocations

    if args.hierarchy == "v1" and args.mems is not None and not args.mems.strip():
        raise NumalabError("a v1 cpuset with tasks needs non-empty mems", input="--mems")
    topo = sources.load(args.topo)
    doc = cpuset_allocations(topo, args.kernel, mems=args.mems, then_mems=args.then_mems,
                             hierarchy=args.hierarchy, cpu_node=args.cpu_node)
    if args.json:
        emit_json(doc)
        return 0
    c = doc["cpuset"]
    print(f"# {doc['topology']}: kernel {doc['kernel']}, cgroup {doc['hierarchy']}, task on node {doc['cpu_node']}")
    print(f"cpuset {c['path']}: mems {c['mems'] if c['mems'] is not None else '(root)'} effective {c['effective']} "
          f"mems_allowed {c['mems_allowed']}")
    for line in doc["log"]:
        print(f"kernel log: {line}")
    for a in doc["allocations"]:
        node = f" on node {a['node']}" if a["node"] is not None else ""
        print(f"  {a['gfp']:<21} (zones <= {a['highest_zone']}{', HARDWALL' if a['hardwall'] else ''}): "
              f"{a['outcome']}{node}")
    print("__cpuset_node_allowed (nodes allowed per case):")
    for r in doc["node_allowed"]:
        who = "oom-victim thread (TIF_MEMDIE)" if r["tif_memdie"] else (
            "other thread of the oom victim" if r["oom_victim"] else "task")
        print(f"  {'interrupt' if r['in_interrupt'] else 'process'}, {who}, "
              f"{'HARDWALL' if r['gfp_hardwall'] else 'no HARDWALL'}{', exiting' if r['exiting'] else ''}: "
              f"{r['allowed'] or '-'}")
    return 0
