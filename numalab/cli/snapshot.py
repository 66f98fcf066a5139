"""``numalab snapshot OUT``: copy this machine's node sysfs and /proc/zoneinfo for sharing.

OUT is a new directory, or a file ending in ``.tar.gz`` (or ``.tar``, ``.tar.bz2``). It holds
``sys/devices/system/node/{possible,online,has_cpu,has_memory,has_normal_memory}``,
``nodeN/{distance,cpulist,meminfo}``, ``proc/zoneinfo`` and ``numalab-snapshot.json`` (kernel
release, NODES_SHIFT, page size); ``numalab topology OUT`` reads it back as the same machine.
"""
from __future__ import annotations

from . import emit_json
from .. import sources

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser("snapshot", help="copy this machine's NUMA sysfs and zoneinfo to a directory or .tar.gz",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("out", metavar="OUT", help="new directory, or FILE.tar.gz")
    p.add_argument("--root", default="/", help="read from this root instead of / (for tests)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=run)


def run(args) -> int:
    path = sources.write_snapshot(args.out, root=args.root)
    t = sources.load_snapshot(path)
    if args.json:
        emit_json({"path": str(path), "nodes": t.node_ids.tolist(), "cpus": int(t.cpu_ids.size),
                   "files": sources.snapshot_files(args.root)})
    else:
        print(f"wrote {path}: {t.n_nodes} node(s), {t.cpu_ids.size} CPUs "
              f"(load it with: numalab topology {path})")
    return 0
