"""``numalab cost TOPO [--config NAME | --nodes-shift S --zones Z] [--cpusets FILE|K|SHAPE:K]
[--variant V]... [--json]``: memory of per-cpuset zonelists against today's.

``today_bytes`` is the zonelists embedded in today's pgdats (one per possible node);
per variant, ``total_bytes`` is what the design adds, ``saved_bytes`` what it removes (per-task
mems_allowed and mems_allowed_seq, with the task count used), and ``per_cpuset`` the bytes of each
cpuset. See :mod:`numalab.cost` for the byte model.
"""
from __future__ import annotations

__all__ = ["register", "run"]


def register(subparsers):
    from ..cost import CONFIGS
    from . import _designs

    p = subparsers.add_parser(
        "cost", help="memory of per-cpuset zonelists (the 2017 proposal) against today's",
        description="Bytes per cpuset and in total, per kernel configuration and design variant.")
    _designs.add_arguments(p, kernel_help="kernel release (which zones count as populated)",
                           cpusets_help="K (K node-aligned containers), SHAPE:K with SHAPE node, socket or random, "
                                        "or a cgroups.json / snapshot directory (default: one container per memory "
                                        "node)")
    p.add_argument("--config", choices=sorted(CONFIGS), default=None,
                   help="kernel configuration (default debian-6.1-amd64)")
    p.add_argument("--nodes-shift", type=int, default=None, help="custom CONFIG_NODES_SHIFT (0..10)")
    p.add_argument("--zones", type=int, default=None, help="custom number of zone types (MAX_NR_ZONES)")
    p.add_argument("--tasks", type=int, default=50, help="threads per generated container (default 50)")
    p.add_argument("--limit", type=int, default=20, help="per-cpuset rows shown in text output (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import cost
    from ..errors import NumalabError
    from . import _designs, emit_json

    if args.config is not None and (args.nodes_shift is not None or args.zones is not None):
        raise NumalabError("give --config or --nodes-shift/--zones, not both", input="--config")
    if args.nodes_shift is not None or args.zones is not None:
        cfg = cost.config(nodes_shift=args.nodes_shift, zones=args.zones)
    else:
        cfg = cost.config(args.config or "debian-6.1-amd64")
    if args.tasks < 0:
        raise NumalabError("--tasks must not be negative", input=args.tasks)
    topo, cs = _designs.load(args, lambda t: str(int(t.has_memory.sum())), tasks=args.tasks)
    res = cost.cost(topo, cfg, cs, args.variant, kernel=args.kernel)
    if args.json:
        emit_json(res.to_dict())
        return 0
    doc = res.to_dict(per_cpuset_limit=max(args.limit, 0))
    print(f"# {topo.name}: {doc['possible_nodes']} possible nodes, configuration {cfg.name} "
          f"(NODES_SHIFT {cfg.nodes_shift}, {cfg.max_nr_zones} zone types)")
    print(f"# source: {cfg.source}")
    print(f"# cpusets: {cs.source}; {res.tasks} tasks")
    print(f"today: {res.today_bytes:,} B of zonelists in pgdats")
    w = max(len(n) for n in doc["variants"])
    for name, v in doc["variants"].items():
        print(f"{name.ljust(w)}  adds {v['total_bytes']:>16,} B  saves {v['saved_bytes']:>14,} B  "
              f"net {v['net_bytes']:>16,} B  ({v['list_sets']} list sets)")
    first = next(iter(doc["variants"].values()))
    if first["per_cpuset"]:
        print(f"\nper cpuset ({', '.join(doc['variants'])}):")
        for i, row in enumerate(first["per_cpuset"]):
            vals = "  ".join(f"{v['per_cpuset'][i]['bytes']:,}" for v in doc["variants"].values())
            print(f"  {row['path']}  mems {row['mems'] or '(none)'}:  {vals}")
        if first.get("per_cpuset_truncated"):
            print(f"  ... {first['per_cpuset_truncated']} more (use --json or --limit)")
    return 0
