"""Record and read the shape of a machine's cpuset cgroup tree, v2 or v1 (for ``numalab snapshot``).

A production host's cgroup tree is what the per-cpuset zonelist proposal would pay for: one set
of lists per cpuset. :func:`record` walks ``ROOT/sys/fs/cgroup`` and keeps, per cgroup that has
cpuset files, only what the cost and equivalence questions need: ``cpuset.mems``,
``cpuset.mems.effective``, ``cpuset.cpus.effective`` and the number of processes
(``cgroup.procs``) and threads (``cgroup.threads``). No process ids, names or other file
contents are kept. :func:`write` stores the records as ``cgroups.json``
(format ``numalab-cgroups/1``) and :func:`load` reads such a file back, treating it as hostile:
sizes, types and ranges are checked before anything is allocated.

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> cg = root / "sys/fs/cgroup"; (cg / "job").mkdir(parents=True)
>>> _ = (cg / "cpuset.mems.effective").write_text("0-1\\n")
>>> _ = (cg / "job" / "cpuset.mems").write_text("1\\n")
>>> _ = (cg / "job" / "cpuset.mems.effective").write_text("1\\n")
>>> _ = (cg / "job" / "cgroup.procs").write_text("12\\n13\\n")
>>> [(r["path"], r["mems"], r["mems_effective"], r["procs"]) for r in record(root)]
[('/', None, '0-1', 0), ('/job', '1', '1', 2)]
"""
from __future__ import annotations

import json
import os
import pathlib
import re

from ._io import atomic_write
from .errors import NumalabError

__all__ = ["FORMAT", "FILE_NAME", "MAX_CGROUPS", "hierarchy", "record", "write", "load", "validate"]

FORMAT = "numalab-cgroups/1"
#: Name of the record inside a snapshot directory or tarball.
FILE_NAME = "cgroups.json"
#: Refuse trees (and files) with more cgroups than this.
MAX_CGROUPS = 100_000
_MAX_FILE = 64 << 20
_MAX_LIST = 4096
_LIST_RE = re.compile(r"^[0-9,\-\s]*$")
_FIELDS = ("mems", "mems_effective", "cpus_effective")


def _read_small(path: pathlib.Path, limit=_MAX_LIST):
    """Text of a small regular file, or None (missing, a link, unreadable or too big)."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    return data.decode("ascii", "replace").strip()


def _count_lines(path: pathlib.Path) -> int:
    """Number of non-empty lines of cgroup.procs/threads (0 when missing); contents are not kept."""
    try:
        if path.is_symlink() or not path.is_file():
            return 0
        n = 0
        with open(path, "rb") as f:
            for line in f:
                n += bool(line.strip())
        return n
    except OSError:
        return 0


def _flag(d: pathlib.Path, name: str) -> bool:
    return _read_small(d / name) == "1"


def hierarchy(root="/") -> tuple:
    """``("v2", base)`` for a unified cgroup tree, ``("v1", base/cpuset)`` for a legacy cpuset
    hierarchy, where base is ``ROOT/sys/fs/cgroup``."""
    base = pathlib.Path(root) / "sys" / "fs" / "cgroup"
    if not base.is_dir():
        raise NumalabError("no cgroup tree here (missing sys/fs/cgroup)", input=str(base))
    v1 = base / "cpuset"
    if not (base / "cgroup.controllers").is_file() and not v1.is_symlink() and (v1 / "cpuset.mems").is_file():
        return "v1", v1
    return "v2", base


def record(root="/") -> list:
    """One dict per cgroup with cpuset files under ``ROOT/sys/fs/cgroup`` (parents first).

    Keys: ``path`` (``"/"`` for the root), ``mems``, ``mems_effective``, ``cpus_effective``
    (kernel list strings, None when the file is absent; the root's ``mems`` is not kept),
    ``procs`` and ``threads`` (counts), and on a cgroup v1 cpuset hierarchy
    (``ROOT/sys/fs/cgroup/cpuset``) ``mem_hardwall``/``mem_exclusive``. Use :func:`hierarchy`
    to know which. Symbolic links are not followed.

    Raises
    ------
    NumalabError
        No cgroup tree at ``ROOT``, or more than :data:`MAX_CGROUPS` cgroups.
    """
    kind, base = hierarchy(root)
    eff_mems, eff_cpus, threads = (("cpuset.mems.effective", "cpuset.cpus.effective", "cgroup.threads")
                                   if kind == "v2" else
                                   ("cpuset.effective_mems", "cpuset.effective_cpus", "tasks"))
    out = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        d = pathlib.Path(dirpath)
        rel = "/" + d.relative_to(base).as_posix().strip(".").strip("/")
        rel = "/" if rel == "/" else rel.rstrip("/")
        has_cpuset = rel == "/" or "cpuset.mems" in filenames or eff_mems in filenames
        if not has_cpuset:
            continue
        if len(out) >= MAX_CGROUPS:
            raise NumalabError(f"more than {MAX_CGROUPS} cgroups; refusing to record", input=str(base))
        rec = {"path": rel,
               "mems": _read_small(d / "cpuset.mems") if rel != "/" else None,
               "mems_effective": _read_small(d / eff_mems),
               "cpus_effective": _read_small(d / eff_cpus),
               "procs": _count_lines(d / "cgroup.procs"),
               "threads": _count_lines(d / threads)}
        if kind == "v1" and rel != "/":
            rec["mem_hardwall"] = _flag(d, "cpuset.mem_hardwall")
            rec["mem_exclusive"] = _flag(d, "cpuset.mem_exclusive")
        out.append(rec)
    out.sort(key=lambda r: (0 if r["path"] == "/" else r["path"].count("/"), r["path"]))
    return validate(out, where=str(base))


def write(path, records, hierarchy="v2") -> pathlib.Path:
    """Write records as ``numalab-cgroups/1`` JSON, atomically."""
    if hierarchy not in ("v1", "v2"):
        raise NumalabError("hierarchy must be v1 or v2", input=hierarchy)
    doc = {"format": FORMAT, "hierarchy": hierarchy, "cgroups": validate(records, where=str(path))}
    return atomic_write(path, json.dumps(doc, indent=1) + "\n")


def validate(records, *, where="cgroups") -> list:
    """Check record types and ranges; return clean copies (only the known keys).

    Optional keys ``mem_hardwall``/``mem_exclusive`` (bool) describe cgroup v1 flags when a
    hand-written file models a v1 tree.
    """
    if not isinstance(records, list):
        raise NumalabError("cgroups must be a list of objects", input=where)
    if len(records) > MAX_CGROUPS:
        raise NumalabError(f"more than {MAX_CGROUPS} cgroups", input=where)
    out, seen = [], set()
    for i, r in enumerate(records):
        w = f"{where}: cgroups[{i}]"
        if not isinstance(r, dict):
            raise NumalabError("each cgroup must be an object", input=w)
        path = r.get("path")
        if not isinstance(path, str) or not path.startswith("/") or len(path) > 4096 or "\x00" in path \
                or any(p in ("", ".", "..") for p in path.strip("/").split("/") if path != "/"):
            raise NumalabError("path must be an absolute cgroup path such as /a/b", input=w)
        if path in seen:
            raise NumalabError(f"cgroup {path!r} is listed twice", input=w)
        seen.add(path)
        rec = {"path": path}
        for k in _FIELDS:
            v = r.get(k)
            if v is not None and (not isinstance(v, str) or len(v) > _MAX_LIST or not _LIST_RE.match(v)):
                raise NumalabError(f"{k} must be a kernel list string like '0-3,8'", input=w)
            rec[k] = v.strip() if isinstance(v, str) else None
        for k in ("procs", "threads", "tasks"):
            v = r.get(k, 0)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1 << 32:
                raise NumalabError(f"{k} must be a count (0 .. 2^32)", input=w)
            rec[k] = v
        for k in ("mem_hardwall", "mem_exclusive"):
            v = r.get(k, False)
            if not isinstance(v, bool):
                raise NumalabError(f"{k} must be true or false", input=w)
            rec[k] = v
        out.append(rec)
    return out


def load(path) -> dict:
    """Read a ``numalab-cgroups/1`` file (or the one inside a snapshot directory).

    Returns ``{"hierarchy": "v1"|"v2", "cgroups": [record, ...]}``.
    """
    p = pathlib.Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    try:
        if p.is_symlink():
            raise NumalabError("refusing to follow a symbolic link", input=str(p))
        size = p.stat().st_size
        if size > _MAX_FILE:
            raise NumalabError(f"file larger than {_MAX_FILE >> 20} MiB", input=str(p))
        doc = json.loads(p.read_text())
    except OSError as e:
        raise NumalabError(f"cannot read: {e.strerror}", input=str(p)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise NumalabError(f"not JSON: {e}", input=str(p)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NumalabError(f"not a {FORMAT} document", input=str(p))
    hier = doc.get("hierarchy", "v2")
    if hier not in ("v1", "v2"):
        raise NumalabError("hierarchy must be v1 or v2", input=str(p))
    return {"hierarchy": hier, "cgroups": validate(doc.get("cgroups"), where=str(p))}
