"""``numalab snapshot OUT``: copy this machine's node sysfs and /proc/zoneinfo for sharing.

OUT is a new directory, or a file ending in ``.tar.gz`` (or ``.tar``, ``.tar.bz2``). It holds
``sys/devices/system/node/{possible,online,has_cpu,has_memory,has_normal_memory}``,
``nodeN/{distance,cpulist,meminfo}``, ``proc/zoneinfo`` and ``numalab-snapshot.json`` (kernel
release, NODES_SHIFT, page size); ``numalab topology OUT`` reads it back as the same machine.
With a cgroup tree at ROOT/sys/fs/cgroup (v2, or a v1 cpuset hierarchy) it also records every cgroup's ``cpuset.mems``,
``cpuset.mems.effective``, ``cpuset.cpus.effective`` and task counts (no process ids) as
``cgroups.json`` (inside OUT, or beside a tarball as OUT.cgroups.json) for ``numalab cost`` and
``numalab compare --cpusets``.
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
    p.add_argument("--no-cgroups", action="store_true", help="do not record the cgroup cpuset tree")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=run)


def run(args) -> int:
    path = sources.write_snapshot(args.out, root=args.root)
    t = sources.load_snapshot(path)
    cg = None if args.no_cgroups else _record_cgroups(path, args.root)
    if args.json:
        emit_json({"path": str(path), "nodes": t.node_ids.tolist(), "cpus": int(t.cpu_ids.size),
                   "files": sources.snapshot_files(args.root), "cgroups": cg})
    else:
        print(f"wrote {path}: {t.n_nodes} node(s), {t.cpu_ids.size} CPUs "
              f"(load it with: numalab topology {path})")
        if cg:
            print(f"wrote {cg['path']}: {cg['count']} cgroup(s) with cpuset files")
    return 0


def _record_cgroups(path, root):
    """Record the cgroup cpuset tree next to the snapshot (None when ROOT has no cgroup v2 tree)."""
    import pathlib

    from .. import cgtree
    from ..errors import NumalabError

    try:
        kind, _ = cgtree.hierarchy(root)
        records = cgtree.record(root)
    except NumalabError:
        return None
    path = pathlib.Path(path)
    out = path / cgtree.FILE_NAME if path.is_dir() else path.with_name(path.name + "." + cgtree.FILE_NAME)
    cgtree.write(out, records, kind)
    return {"path": str(out), "count": len(records)}
