"""``numalab topology TOPO [--json]`` and ``numalab topology --list``.

Shows a machine as the kernel sees it: nodes, CPUs, memory per zone (managed and present pages),
node states and the distance table. TOPO is a preset name, a generator call, a JSON file, a
snapshot directory or tarball, numactl/hwloc text, or ``host``. ``--json`` prints the documented
JSON format (docs/topology-format.md) plus ``max_numnodes``, ``max_nr_zones`` and ``nr_node_ids``;
that output loads back as a topology.
"""
from __future__ import annotations


from . import emit_json
from .._io import escape_text as _e
from ..errors import NumalabError
from .. import sources

__all__ = ["register", "run", "render"]


def register(subparsers):
    p = subparsers.add_parser("topology", help="show a machine: nodes, CPUs, zones, node states, distances",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("topo", nargs="?", metavar="TOPO", help="preset, generator call, file, snapshot or 'host'")
    p.add_argument("--list", action="store_true", help="list the bundled machines and presets")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.list:
        items = sources.presets()
        if args.json:
            emit_json([{"name": n, "description": d} for n, d in items])
        elif not items:
            print(f"no bundled presets found (looked in {sources.DATA_DIR}); generator calls, files, "
                  "snapshots and 'host' still work")
        else:
            w = max(len(n) for n, _ in items)
            for n, d in items:
                print(f"{_e(n):<{w}}  {_e(d)}")
        return 0
    if not args.topo:
        raise NumalabError("give a topology (preset, file, snapshot or 'host') or --list", input="numalab topology")
    t = sources.load(args.topo)
    if args.json:
        doc = sources.to_dict(t)
        doc["max_numnodes"] = t.max_numnodes
        doc["max_nr_zones"] = t.max_nr_zones
        doc["nr_node_ids"] = t.nr_node_ids
        emit_json(doc)
    else:
        print(render(t), end="")
    return 0


def _mib(pages, page_size):
    v = pages * page_size / (1 << 20)
    return "-" if pages == 0 else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")


def render(t) -> str:
    """The text report of ``numalab topology``.

    Text that came from the topology file (name, source, zone names, notes) is passed through
    :func:`numalab._io.escape_text`: control characters are shown as escapes, so a name cannot
    send terminal escape sequences or forge an output line.
    """
    ids = t.node_ids
    out = [f"{_e(t.name)}: {t.n_nodes} nodes ({sources.format_cpulist(ids)}), {t.cpu_ids.size} CPUs, "
           f"NODES_SHIFT {t.nodes_shift} (MAX_NUMNODES {t.max_numnodes}), "
           f"{t.max_nr_zones} zone types, {t.page_size}-byte pages",
           f"source: {_e(t.source)}", ""]
    zones = [k for k in range(t.max_nr_zones)]
    head = ["node", "cpus"] + [_e(t.zone_types[k]) for k in zones] + ["total"]
    rows = []
    for i in range(t.n_nodes):
        cells = [str(int(ids[i])), sources.format_cpulist(t.cpumask_of(i)) or "-"]  # nodeN/cpulist
        for k in zones:
            p, m = int(t.present_pages[i, k]), int(t.managed_pages[i, k])
            cells.append("-" if p == 0 else f"{_mib(m, t.page_size)}/{_mib(p, t.page_size)}")
        cells.append(f"{_mib(int(t.managed_pages[i].sum()), t.page_size)}/{_mib(int(t.present_pages[i].sum()), t.page_size)}")
        rows.append(cells)
    out.append("memory in MiB, managed/present per zone:")
    out += _table(head, rows)
    out.append("")
    out.append("node states:")
    for key in ("possible", "online", "has_cpu", "has_memory", "has_normal_memory"):
        out.append(f"  {key:<18} {sources.format_cpulist(ids[getattr(t, key)]) or '(none)'}")
    out.append("")
    out.append("distances:")
    out += _table(["node"] + [str(int(x)) for x in ids],
                  [[str(int(ids[i]))] + [str(int(v)) for v in t.distance[i]] for i in range(t.n_nodes)])
    if t.notes:
        out.append("")
        out.append("notes:")
        out += [f"  - {_e(n)}" for n in t.notes]
    return "\n".join(out) + "\n"


def _table(head, rows):
    w = [max(len(str(r[k])) for r in [head] + rows) for k in range(len(head))]
    fmt = lambda r: "  " + "  ".join(str(c).rjust(w[k]) for k, c in enumerate(r)).rstrip()  # noqa: E731
    return [fmt(head)] + [fmt(r) for r in rows]
