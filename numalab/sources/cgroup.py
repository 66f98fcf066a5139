"""cgroup cpuset trees as files: which cgroups exist under ``ROOT/sys/fs/cgroup`` (v2, or a v1
cpuset hierarchy), what their cpuset files say, and the recorded form ``numalab snapshot`` keeps.

Two views of the same walk:

* :func:`read_cgroup_dirs` - the v2 tree as :class:`CgroupDir` rows (``cpuset.mems``,
  ``cpuset.mems.effective``, whether ``cgroup.procs`` lists a task), for
  :func:`numalab.cpuset.read_cgroup_tree`, which owns the cpuset semantics (the kernel's list
  grammar, the v2 effective rule, the check of ``cpuset.mems.effective``);
* :func:`record` - the shape a production host's tree would cost under per-cpuset zonelists:
  per cgroup with cpuset files ``cpuset.mems``, ``cpuset.mems.effective``,
  ``cpuset.cpus.effective`` and the number of processes (``cgroup.procs``) and threads
  (``cgroup.threads``; ``tasks`` on v1). No process ids, names or other file contents are kept.
  :func:`write` stores the records as ``cgroups.json`` (format ``numalab-cgroups/1``) and
  :func:`load` reads such a file back; :func:`numalab.cgsets.from_records` builds the cpusets.

Every file is hostile: directory links are not followed, files are opened with ``O_NOFOLLOW |
O_NONBLOCK`` and read only when ``fstat`` says regular file (a link, FIFO or device reads as
absent), cpuset files up to :data:`MAX_BYTES`, task lists up to :data:`MAX_TASK_BYTES`, trees up
to :data:`MAX_CGROUPS` cgroups; ``cgroups.json`` is read by the loaders' strict JSON reader
(:func:`numalab.sources.common.read_json_text`) and its types and ranges are checked before
anything is built.

Examples
--------
>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "sys/fs/cgroup/job").mkdir(parents=True)
>>> _ = (root / "sys/fs/cgroup/job/cpuset.mems").write_text("1-2\\n")
>>> [(d.path, d.mems, d.effective, d.populated) for d in read_cgroup_dirs(root)]
[('/', None, None, False), ('/job', '1-2', None, False)]

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

import dataclasses
import json
import os
import pathlib
import re
import stat

from .._io import atomic_write
from ..errors import NumalabError
from .common import _O_READ, _read_fd, read_json_text, read_regular

__all__ = ["CgroupDir", "read_cgroup_dirs", "MAX_BYTES", "MAX_TASK_BYTES",
           "FORMAT", "FILE_NAME", "MAX_CGROUPS", "hierarchy", "record", "write", "load", "validate"]

#: Longest cpuset file read (a mems list of 1024 nodes is at most a few KiB).
MAX_BYTES = 1 << 16
#: Longest ``cgroup.procs``/``cgroup.threads``/``tasks`` read to count its lines (pid_max is at
#: most 2^22: about 33 MiB of ids, one per line).
MAX_TASK_BYTES = 64 << 20
#: Format of the recorded tree.
FORMAT = "numalab-cgroups/1"
#: Name of the record inside a snapshot directory or tarball.
FILE_NAME = "cgroups.json"
#: Refuse trees (and files) with more cgroups than this.
MAX_CGROUPS = 100_000
_MAX_FILE = 64 << 20
_MAX_LIST = 4096
_LIST_RE = re.compile(r"^[0-9,\-\s]*$")
_FIELDS = ("mems", "mems_effective", "cpus_effective")


# ---------------------------------------------------------------------- reading the files
def _read_bytes(path: pathlib.Path, limit: int):
    """Bytes of a regular file that is not a link, at most ``limit`` (more is an error); None
    when it is absent, a link, a FIFO, a device or unreadable."""
    try:  # O_NOFOLLOW | O_NONBLOCK, then fstat: no link, FIFO or device is read, nothing blocks
        fd = os.open(path, _O_READ)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _read_fd(fd, limit, str(path))
    except OSError:
        return None
    finally:
        os.close(fd)


def _read(path: pathlib.Path):
    """Stripped text of a cpuset file (at most :data:`MAX_BYTES`), or None."""
    data = _read_bytes(path, MAX_BYTES)
    return None if data is None else data.decode("utf-8", "replace").strip()


def _count_lines(path: pathlib.Path) -> int:
    """Number of non-empty lines of a task list (0 when absent); the contents are not kept."""
    data = _read_bytes(path, MAX_TASK_BYTES)
    return 0 if data is None else sum(1 for line in data.splitlines() if line.strip())


def _flag(d: pathlib.Path, name: str) -> bool:
    return _read(d / name) == "1"


def _base(root) -> pathlib.Path:
    """``ROOT/sys/fs/cgroup`` (``"host"`` is ``/``), which must be a directory."""
    base = pathlib.Path("/" if str(root) == "host" else root) / "sys" / "fs" / "cgroup"
    if not base.is_dir():
        raise NumalabError("no cgroup tree here (missing sys/fs/cgroup)", input=str(base))
    return base


def _cpuset_dirs(base: pathlib.Path, eff_mems: str) -> list:
    """``(path, directory)`` of the root and of every cgroup under ``base`` holding
    ``cpuset.mems`` or ``eff_mems``, parents before children (os.walk follows no directory link)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
        rel = "/" if rel == "." else "/" + rel
        if rel != "/" and "cpuset.mems" not in filenames and eff_mems not in filenames:
            continue
        if len(found) >= MAX_CGROUPS:
            raise NumalabError(f"more than {MAX_CGROUPS} cgroups; refusing to read", input=str(base))
        found.append((rel, pathlib.Path(dirpath)))
    found.sort(key=lambda x: (x[0].count("/") if x[0] != "/" else 0, x[0]))
    return found


# ---------------------------------------------------------------------- the v2 tree, as rows
@dataclasses.dataclass(frozen=True)
class CgroupDir:
    """One cgroup directory: its path in the hierarchy (``"/"``, ``"/job/inner"``), the text of
    ``cpuset.mems`` and ``cpuset.mems.effective`` (stripped; None when absent or unreadable) and
    whether ``cgroup.procs`` lists a task. ``where`` is the directory on disk, for messages."""

    path: str
    mems: str | None
    effective: str | None
    populated: bool
    where: str


def read_cgroup_dirs(root) -> list:
    """The cgroups of the v2 tree ``ROOT/sys/fs/cgroup`` with a cpuset file, parents first.

    The root cgroup always comes first; any other directory is listed when it holds
    ``cpuset.mems`` or ``cpuset.mems.effective``.

    Raises
    ------
    NumalabError
        When there is no ``sys/fs/cgroup`` directory under ``root``, or more than
        :data:`MAX_CGROUPS` cgroups.
    """
    return [CgroupDir(rel, _read(d / "cpuset.mems"), _read(d / "cpuset.mems.effective"),
                      _count_lines(d / "cgroup.procs") > 0, str(d))
            for rel, d in _cpuset_dirs(_base(root), "cpuset.mems.effective")]


# ---------------------------------------------------------------------- the recorded tree
def hierarchy(root="/") -> tuple:
    """``("v2", base)`` for a unified cgroup tree, ``("v1", base/cpuset)`` for a legacy cpuset
    hierarchy, where base is ``ROOT/sys/fs/cgroup``."""
    base = _base(root)
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
        No cgroup tree at ``ROOT``, more than :data:`MAX_CGROUPS` cgroups, or a file larger than
        its cap.
    """
    kind, base = hierarchy(root)
    eff_mems, eff_cpus, threads = (("cpuset.mems.effective", "cpuset.cpus.effective", "cgroup.threads")
                                   if kind == "v2" else
                                   ("cpuset.effective_mems", "cpuset.effective_cpus", "tasks"))
    out = []
    for rel, d in _cpuset_dirs(base, eff_mems):
        rec = {"path": rel,
               "mems": _read(d / "cpuset.mems") if rel != "/" else None,
               "mems_effective": _read(d / eff_mems),
               "cpus_effective": _read(d / eff_cpus),
               "procs": _count_lines(d / "cgroup.procs"),
               "threads": _count_lines(d / threads)}
        if kind == "v1" and rel != "/":
            rec["mem_hardwall"] = _flag(d, "cpuset.mem_hardwall")
            rec["mem_exclusive"] = _flag(d, "cpuset.mem_exclusive")
        out.append(rec)
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

    The file is read as every loader reads one (:func:`numalab.sources.common.read_regular`: a
    regular file, no link, at most 64 MiB) and parsed strictly
    (:func:`numalab.sources.common.read_json_text`).

    Returns ``{"hierarchy": "v1"|"v2", "cgroups": [record, ...]}``.
    """
    p = pathlib.Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    try:
        data = read_regular(p, str(p), _MAX_FILE)
    except FileNotFoundError:
        raise NumalabError("cannot read: no such file", input=str(p)) from None
    doc = read_json_text(data, str(p), max_bytes=_MAX_FILE)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NumalabError(f"not a {FORMAT} document", input=str(p))
    hier = doc.get("hierarchy", "v2")
    if hier not in ("v1", "v2"):
        raise NumalabError("hierarchy must be v1 or v2", input=str(p))
    return {"hierarchy": hier, "cgroups": validate(doc.get("cgroups"), where=str(p))}
