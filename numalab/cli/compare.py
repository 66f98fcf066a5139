"""``numalab compare TOPO [--kernel V] [--variant NAME]... [--cpusets FILE] [--json]``: where
per-cpuset zonelists would not behave as today.

For each design variant: how many requests differ in the set of candidate zones or only in their
order, per cause, with examples. Exhaustive on machines of up to 8 nodes (every cpuset mask x every
policy x every start node x GFP_USER/GFP_HIGHUSER_MOVABLE/GFP_KERNEL/GFP_ATOMIC/GFP_KERNEL|__GFP_THISNODE
x the four contexts); sampled above, and the output says how. JSON: ``{"kernel", "variants": {NAME:
{"requests", "differ_set", "differ_order", "by_cause", "examples"}}, ...}``.
"""
from __future__ import annotations

__all__ = ["register", "run"]


def register(subparsers):
    from . import _designs

    p = subparsers.add_parser(
        "compare", help="requests whose candidate zones differ under per-cpuset zonelists, with causes",
        description="Compare today's candidate zones with those of per-cpuset zonelist designs.")
    _designs.add_arguments(p, kernel_help="kernel release (default: current)",
                           cpusets_help="cgroups.json or snapshot directory, K or SHAPE:K "
                                        "(default: every mask up to 8 nodes)")
    p.add_argument("--gfp", action="append", default=None, help="gfp mask (repeatable; default: the five above)")
    p.add_argument("--context", action="append", default=None,
                   help="task, oom_victim, exiting or interrupt (repeatable; default: all)")
    p.add_argument("--examples", type=int, default=3, help="examples kept per cause (default 3)")
    p.add_argument("--sample", type=int, default=200_000, help="requests drawn above 8 nodes (default 200000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import candidates as cd
    from .. import compare
    from ..errors import NumalabError
    from . import _designs, emit_json

    if args.examples < 0 or args.examples > 100:
        raise NumalabError("--examples must lie in 0..100", input=args.examples)
    if not 1 <= args.sample <= 5_000_000:
        raise NumalabError("--sample must lie in 1..5000000", input=args.sample)
    topo, cs = _designs.load(args)
    res = compare.compare(topo, args.kernel, args.variant, cs, gfps=tuple(args.gfp or cd.DEFAULT_GFPS),
                          contexts=tuple(args.context or cd.CONTEXTS), examples=args.examples,
                          sample=args.sample, seed=args.seed)
    doc = res.to_dict()
    if args.json:
        emit_json(doc)
        return 0
    print(f"# {topo.name}: kernel {res.kernel}, {res.method}: {res.sampling}")
    for note in res.notes:
        print(f"# note: {note}")
    for name, v in doc["variants"].items():
        print(f"\n{name} ({doc['designs'][name]})")
        print(f"  {v['requests']:,} requests: {v['differ_set']:,} differ in the set of zones, "
              f"{v['differ_order']:,} only in their order")
        if not v["differ_set"] and not v["differ_order"]:
            print("  every request has today's candidate zones in today's order")
        for cause, count in v["by_cause"].items():
            print(f"  {count:>12,}  {cause}")
        for e in v["examples"]:
            print(f"    e.g. {e['cpuset']} (mems {e['mems']}), {e['policy']}, CPU node {e['cpu_node']}, {e['gfp']}, "
                  f"{e['context']}: {e['cause']} ({e['differs']})")
            print(f"         today   fast {e['today']['fast']} | slow {e['today']['slow']}")
            print(f"         variant fast {e['variant']['fast']} | slow {e['variant']['slow']}")
    return 0
