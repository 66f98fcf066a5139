"""``numalab zonelists TOPO [--kernel V] [--when boot|rebuild] [--json]``: every node's zonelists.

The text form prints what the kernel logs while building them (``Fallback order for Node N:``,
``Built N zonelists...``, ``Policy zone: ...``), then each node's FALLBACK and NOFALLBACK
zonelists. ``--json`` prints one document with ``kernel``, ``when``, ``fallback_order``
({node id: [node ids]}), ``zonelists`` ({node id: {"fallback": [[node, zone], ...], "nofallback":
[...]}}), ``policy_zone`` and, with ``--explain``, the explanation table of every node
(``--explain LIST``: of the nodes in LIST only, e.g. ``--explain 0-3``). The explanation is
written node by node as it is computed, so time and memory grow with the output (a 1024-node
machine explains every node in seconds).
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
    p.add_argument("--explain", nargs="?", const="all", default=None, metavar="LIST",
                   help="add why each node was placed where it is (LIST: only these nodes, e.g. 0-3)")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=run)


def load_topology(spec: str):
    """The topology named by TOPO: :func:`numalab.sources.load` (preset, JSON, snapshot, host)."""
    from .. import sources

    return sources.load(spec)


def _explained_nodes(topo, zl, spec):
    """Node ids to explain: every built node, or those of ``--explain LIST`` that are built."""
    import numpy as np

    from ..cpuset import parse_nodes
    from ..errors import NumalabError

    built = topo.node_ids[zl.built]
    if spec == "all":
        return [int(x) for x in built]
    want = parse_nodes(spec, topo.max_numnodes, where="--explain")
    missing = [int(x) for x in np.flatnonzero(want) if x not in set(topo.node_ids.tolist())]
    if missing:
        raise NumalabError(f"no node {missing[0]} in this topology", input=spec)
    return [int(x) for x in built if want[int(x)]]


def _text_table(rows) -> list:
    """Fixed-width text table of explain rows (what DataFrame.to_string printed, without pandas)."""
    from .._io import escape_text

    cols = list(rows[0]) if rows else []
    cells = [[("<NA>" if r[c] is None else escape_text(r[c])) for c in cols] for r in rows]
    w = [max([len(c)] + [len(row[k]) for row in cells]) for k, c in enumerate(cols)]
    out = [" ".join(c.rjust(w[k]) for k, c in enumerate(cols))]
    out += [" ".join(v.rjust(w[k]) for k, v in enumerate(row)) for row in cells]
    return out


def run(args) -> int:
    import json
    import sys

    from .. import zonelist as zlm
    from .._io import escape_text, jsonable
    from ..viz.text import boot_log_lines, explain_rows
    from . import emit_json

    topo = load_topology(args.topo)
    zl = zlm.build(topo, args.kernel, args.when, zonelist_order=args.zonelist_order)
    doc = zl.to_dict()
    doc["boot_log"] = boot_log_lines(zl)
    nodes = _explained_nodes(topo, zl, args.explain) if args.explain else []
    write = sys.stdout.write
    if args.json:
        if not args.explain:
            emit_json(doc)
            return 0
        # {..., "explain": {"0": [...], ...}} written node by node
        write(json.dumps(doc, default=jsonable, allow_nan=False)[:-1] + ', "explain": {')
        for k, nid in enumerate(nodes):
            rows = explain_rows(zl, nid) or []
            write(("" if k == 0 else ", ") + json.dumps(str(nid)) + ": " +
                  json.dumps(rows, default=jsonable, allow_nan=False))
        write("}}\n")
        return 0
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
    write("\n".join(out) + "\n")
    for nid in nodes:
        rows = explain_rows(zl, nid) or []
        write("\n" + f"Node {nid}:\n" + "\n".join(_text_table(rows)) + "\n")
    return 0
