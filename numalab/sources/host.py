"""The live machine: read ``/sys/devices/system/node`` and ``/proc/zoneinfo`` in place
(:func:`load_host`), or copy them into a snapshot (:func:`write_snapshot`).
"""
from __future__ import annotations

import io
import json
import os
import pathlib
import re
import tarfile
import tempfile

from .._io import atomic_write
from ..errors import NumalabError
from ..topology import Topology
from .common import STATES
from .sysfs import _META_FILE, _NODE_DIR, _DirTree, _from_tree, _read_nodes_shift_config

__all__ = ["load_host", "snapshot_files", "write_snapshot"]


def _host_nodes_shift():
    rel = os.uname().release
    for path in (f"/boot/config-{rel}", f"/lib/modules/{rel}/build/.config"):
        try:
            v = _read_nodes_shift_config(pathlib.Path(path).read_text(errors="replace"))
        except OSError:
            continue
        if v is not None:
            return v
    try:
        import gzip

        with gzip.open("/proc/config.gz", "rt", errors="replace") as f:
            return _read_nodes_shift_config(f.read())
    except OSError:
        return None


def load_host(root="/") -> Topology:
    """This machine, read from ``/sys/devices/system/node`` and ``/proc/zoneinfo``.

    A machine without NUMA sysfs is one node 0 with all memory and CPUs (a note says so).
    NODES_SHIFT comes from the running kernel's config when readable (``/boot/config-*``,
    ``/proc/config.gz``), else 10.
    """
    facts = {"page_size": os.sysconf("SC_PAGE_SIZE"), "nodes_shift": _host_nodes_shift(),
             "kernel": os.uname().release, "cpu_count": os.cpu_count() or 1}
    return _from_tree(_DirTree(root), name="host", source=f"live machine ({facts['kernel']})", host=facts)


def snapshot_files(root="/") -> list[str]:
    """Relative paths that :func:`write_snapshot` copies from ``root`` (those that exist)."""
    root = pathlib.Path(root)
    rels = [f"{_NODE_DIR}/{k}" for k in STATES + ("has_generic_initiator",)]
    nd = root / _NODE_DIR
    if nd.is_dir():
        for d in sorted(os.listdir(nd)):
            if re.fullmatch(r"node\d+", d):
                rels += [f"{_NODE_DIR}/{d}/{f}" for f in ("distance", "cpulist", "meminfo")]
    rels += ["proc/zoneinfo", "proc/meminfo", "sys/devices/system/cpu/online", "sys/devices/system/cpu/present"]
    return [r for r in rels if (root / r).is_file()]


def write_snapshot(out, root="/") -> pathlib.Path:
    """Copy the live machine's node sysfs and /proc/zoneinfo to ``out`` (a directory or ``.tar.gz``).

    Also writes ``numalab-snapshot.json`` (kernel release, NODES_SHIFT, page size) so that
    :func:`load_snapshot` gives back exactly :func:`load_host`. Written atomically: into a
    temporary name beside ``out``, then renamed. ``out`` must not exist yet.
    """
    out = pathlib.Path(out)
    if out.exists():
        raise NumalabError("already exists (numalab snapshot does not overwrite)", input=str(out))
    root = pathlib.Path(root)
    files = {}
    for rel in snapshot_files(root):
        try:
            files[rel] = (root / rel).read_bytes()
        except OSError as e:
            raise NumalabError(f"cannot read: {e.strerror}", input=str(root / rel)) from None
    if not files:
        raise NumalabError("nothing to copy: no node sysfs, zoneinfo or meminfo", input=str(root))
    meta = {"format": "numalab-snapshot/1", "kernel": os.uname().release,
            "page_size": os.sysconf("SC_PAGE_SIZE")}
    shift = _host_nodes_shift() if str(root) == "/" else None
    if shift is not None:
        meta["nodes_shift"] = shift
    files[_META_FILE] = (json.dumps(meta, indent=1) + "\n").encode()
    top = re.sub(r"\.(tar(\.(gz|bz2))?|tgz)$", "", out.name) or "snapshot"
    if re.search(r"\.(tar(\.(gz|bz2))?|tgz)$", out.name):
        mode = "w:gz" if out.name.endswith((".gz", ".tgz")) else "w:bz2" if out.name.endswith(".bz2") else "w"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode) as tf:
            for rel, data in sorted(files.items()):
                info = tarfile.TarInfo(f"{top}/{rel}")
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tf.addfile(info, io.BytesIO(data))
        atomic_write(out, buf.getvalue())
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = pathlib.Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
        try:
            for rel, data in files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
            os.replace(tmp, out)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out
