"""``numalab snapshot OUT``: copy this machine's node sysfs and /proc/zoneinfo for sharing.

OUT is a new directory, or a file ending in ``.tar.gz`` (or ``.tgz``, ``.tar``, ``.tar.bz2``); any
other archive or compression suffix (``.tar.xz``, ``.zip``, ``.gz``, ...) is refused. It holds
``sys/devices/system/node/{possible,online,has_cpu,has_memory,has_normal_memory}``,
``nodeN/{distance,cpulist,meminfo}``, ``proc/zoneinfo`` and ``numalab-snapshot.json`` (kernel
release, NODES_SHIFT, page size); ``numalab topology OUT`` reads it back as the same machine.
With a cgroup tree at ROOT/sys/fs/cgroup (v2, or a v1 cpuset hierarchy) it also records every cgroup's ``cpuset.mems``,
``cpuset.mems.effective``, ``cpuset.cpus.effective`` and task counts (no process ids) as
``cgroups.json`` (inside OUT, or beside a tarball as OUT.cgroups.json) for ``numalab cost`` and
``numalab compare --cpusets``.
"""
from __future__ import annotations

import re

from . import emit_json
from .. import sources
from .._io import check_output_path, escape_text
from ..errors import NumalabError

#: Names written as a tarball (sources.write_snapshot's own rule).
_TARBALL = re.compile(r"\.(tar(\.(gz|bz2))?|tgz)$")
#: Archive or compression suffixes numalab does not write: refused rather than silently
#: written as a directory of that name.
_OTHER_ARCHIVE = re.compile(r"\.(xz|zst|zstd|lz4|lzma|lz|gz|bz2|z|zip|7z|rar|txz|tbz|tbz2|tzst|cpio|ar|deb|rpm)$",
                            re.IGNORECASE)

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser("snapshot", help="copy this machine's NUMA sysfs and zoneinfo to a directory or .tar.gz",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("out", metavar="OUT", help="new directory, or FILE.tar.gz")
    p.add_argument("--root", default="/", help="read from this root instead of / (for tests)")
    p.add_argument("--no-cgroups", action="store_true", help="do not record the cgroup cpuset tree")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=run)


def check_out(out: str) -> None:
    """Refuse, before reading anything, an OUT that cannot be written or has an unknown suffix."""
    name = out.rstrip("/").rsplit("/", 1)[-1]
    if not _TARBALL.search(name) and (_OTHER_ARCHIVE.search(name) or _TARBALL.search(name.lower())):
        raise NumalabError("unknown archive suffix: give a directory name, or a file ending in .tar.gz, "
                           ".tgz, .tar or .tar.bz2", input=out)
    check_output_path(out, kind="tarball" if _TARBALL.search(name) else "directory")


def run(args) -> int:
    check_out(args.out)
    try:
        path = sources.write_snapshot(args.out, root=args.root)
    except OSError as e:  # a race with the checks, a full disk, a read-only mount
        raise NumalabError(f"cannot write the snapshot: {e.strerror or e}", input=args.out) from None
    t = sources.load_snapshot(path)
    cg = None if args.no_cgroups else _record_cgroups(path, args.root)
    if args.json:
        emit_json({"path": str(path), "nodes": t.node_ids.tolist(), "cpus": int(t.cpu_ids.size),
                   "files": sources.snapshot_files(args.root), "cgroups": cg})
    else:
        print(f"wrote {escape_text(path)}: {t.n_nodes} node(s), {t.cpu_ids.size} CPUs "
              f"(load it with: numalab topology {escape_text(path)})")
        if cg:
            print(f"wrote {escape_text(cg['path'])}: {cg['count']} cgroup(s) with cpuset files")
    return 0


def _record_cgroups(path, root):
    """Record the cgroup cpuset tree next to the snapshot (None when ROOT has no cgroup v2 tree)."""
    import pathlib

    from ..sources import cgroup

    try:
        kind, _ = cgroup.hierarchy(root)
        records = cgroup.record(root)
    except NumalabError:
        return None
    path = pathlib.Path(path)
    out = path / cgroup.FILE_NAME if path.is_dir() else path.with_name(path.name + "." + cgroup.FILE_NAME)
    cgroup.write(out, records, kind)
    return {"path": str(out), "count": len(records)}
