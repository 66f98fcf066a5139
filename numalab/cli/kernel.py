"""``numalab kernel [V] [--json]``: which rule variants a kernel release applies.

Every version-dependent rule numalab models is one row of ``numalab.kernel.VARIANTS``: its name,
the release window it exists in, the kernel function it lives in, and whether release ``V`` has it.
Then the changes of the kernel's history numalab does not model (``numalab.kernel.NOT_MODELLED``),
each with the reason (``--json``: ``not_modelled``).

Examples::

    $ numalab kernel 5.15
    kernel 5.15: 12 of 27 rule variants apply
      yes  node_load_assign        v4.10 .. before v5.16   build_zonelists  node_load[node] = load, ...
"""
from __future__ import annotations

from ..kernel import VARIANTS, profile
from . import emit_json

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("kernel", help="which rule variants a kernel release applies",
                              description="List every version-dependent rule numalab models, its "
                                          "release window and kernel function, and whether release V has it.")
    p.add_argument("version", metavar="V", nargs="?", default="current",
                   help="kernel release, e.g. 6.1, 5.4, 4.10 (default: current)")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=run)


def run(args) -> int:
    k = profile(args.version)
    rows = k.describe()
    if args.json:
        emit_json({"kernel": k.label, "variants": rows, "not_modelled": k.not_modelled()})
        return 0
    print(f"kernel {k.label}: {sum(r['active'] for r in rows)} of {len(VARIANTS)} rule variants apply")
    w_name = max(len(r["variant"]) for r in rows)
    w_win = max(len(r["window"]) for r in rows)
    w_fn = max(len(r["function"]) for r in rows)
    for r in rows:
        mark = "yes" if r["active"] else " - "
        print(f"  {mark}  {r['variant']:<{w_name}}  {r['window']:<{w_win}}  {r['function']:<{w_fn}}  {r['description']}")
    print("not modelled (history that changes no numalab output):")
    for c in k.not_modelled():
        mark = "yes" if c["in_release"] else " - "
        print(f"  {mark}  {c['since']}+  {c['function']}: {c['change']}; not modelled: {c['reason']}")
    return 0
