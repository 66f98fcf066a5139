"""``numalab zonelists TOPO [--kernel V] [--when boot|rebuild] [--json]``: every node's zonelists.

The text form prints what the kernel logs while building them (``Fallback order for Node N:``,
``Built N zonelists...``, ``Policy zone: ...``), then each node's FALLBACK and NOFALLBACK
zonelists. ``--json`` prints one document with ``kernel``, ``when``, ``fallback_order``
({node id: [node ids]}), ``zonelists`` ({node id: {"fallback": [[node, zone], ...], "nofallback":
[...]}}), ``policy_zone`` and, with ``--explain``, the explanation table of every node.
"""
from __future__ import annotations

__all__ = ["register", "run", "load_topology"]


def register(subparsers):
    p = subparsers.add_parser(
        "zonelists", help="every node's fallback order and zonelists, per kernel version",
        description="Compute the zonelists a kernel builds for a topology (mm/page_alloc.c).")
    p.add_argument("topo", metavar="TOPO",
                   help="preset name, JSON file, sysfs snapshot directory or tarball, or 'host'")
    p.add_argument("--kernel", default="current", help="kernel release, e.g. 6.1, 5.15 (default: current)")
    p.add_argument("--when", default="boot", choices=("boot", "rebuild"),
                   help="boot: the build at boot (no node counts as having CPUs); "
                        "rebuild: a later rebuild, e.g. after memory hot-add (default: boot)")
    p.add_argument("--zonelist-order", default="node", choices=("node", "zone"),
                   help="legacy vm.numa_zonelist_order (zone: kernels before 4.14 only)")
    p.add_argument("--explain", action="store_true", help="add why each node was placed where it is")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=run)


def load_topology(spec: str):
    """The topology named by TOPO: :func:`numalab.sources.load` (preset, JSON, snapshot, host)."""
    from .. import sources

    return sources.load(spec)


def run(args) -> int:
    from .. import zonelist as zlm
    from . import emit_json

    topo = load_topology(args.topo)
    zl = zlm.build(topo, args.kernel, args.when, zonelist_order=args.zonelist_order)
    doc = zl.to_dict()
    if args.explain:
        doc["explain"] = {str(int(nid)): _records(zlm.explain(zl, int(nid)))
                          for nid in topo.node_ids[zl.built]}
    if args.json:
        emit_json(doc)
        return 0
    from .._io import escape_text

    out = [f"# {escape_text(topo.name or args.topo)}: kernel {zl.kernel.label}, zonelists built at "
           f"{'boot' if zl.when == 'boot' else 'a rebuild (after memory hot-add)'}"]
    if not zl.kernel.print_fallback_order:
        out.append(f"# kernel {zl.kernel.label} logs no 'Fallback order' lines (printed from v5.16); "
                   "the computed order is shown commented out")
    out += doc["boot_log"]
    out.append("")
    for nid, lists in doc["zonelists"].items():
        for which in ("fallback", "nofallback"):
            refs = " ".join(f"N{n}.{z}" for n, z in lists[which]) or "(empty)"
            out.append(f"Node {nid} {which.upper():<10} {refs}")
    if args.explain:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20):
            for nid in topo.node_ids[zl.built]:
                out.append("")
                out.append(f"Node {int(nid)}:")
                out.append(zlm.explain(zl, int(nid)).to_string(index=False))
    print("\n".join(out))
    return 0


def _records(df):
    recs = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    return recs
