"""cgroup v2 cpuset trees as files: which cgroups exist under ``ROOT/sys/fs/cgroup`` and what their
``cpuset.mems``, ``cpuset.mems.effective`` and ``cgroup.procs`` say.

This module only reads the files (a snapshot directory, or ``"host"`` for ``/``); the cpuset
semantics (parsing the lists with the kernel's grammar, the v2 effective rule, the check of
``cpuset.mems.effective``) are :func:`numalab.cpuset.read_cgroup_tree`. Directory links are not
followed, files that are links are not read, and a file is read up to :data:`MAX_BYTES` only.

Examples
--------
>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "sys/fs/cgroup/job").mkdir(parents=True)
>>> _ = (root / "sys/fs/cgroup/job/cpuset.mems").write_text("1-2\\n")
>>> [(d.path, d.mems, d.effective, d.populated) for d in read_cgroup_dirs(root)]
[('/', None, None, False), ('/job', '1-2', None, False)]
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import stat

from ..errors import NumalabError

__all__ = ["CgroupDir", "read_cgroup_dirs", "MAX_BYTES"]

#: Longest cpuset file read (a mems list of 1024 nodes is at most a few KiB).
MAX_BYTES = 1 << 16


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


def _read(path: pathlib.Path):
    """Text of a regular file that is not a link, at most MAX_BYTES; None when it is absent."""
    try:  # O_NOFOLLOW | O_NONBLOCK, then fstat: no link, FIFO or device is read, nothing blocks
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        raise NumalabError(f"larger than {MAX_BYTES} bytes: not a cpuset file", input=str(path))
    return data.decode("utf-8", "replace").strip()


def read_cgroup_dirs(root) -> list:
    """The cgroups of ``ROOT/sys/fs/cgroup`` with a cpuset file, parents before children.

    The root cgroup always comes first; any other directory is listed when it holds
    ``cpuset.mems`` or ``cpuset.mems.effective``.

    Raises
    ------
    NumalabError
        When there is no ``sys/fs/cgroup`` directory under ``root``.
    """
    base = pathlib.Path("/" if str(root) == "host" else root) / "sys" / "fs" / "cgroup"
    if not base.is_dir():
        raise NumalabError("no cgroup v2 tree here (missing sys/fs/cgroup)", input=str(base))
    found = []
    for dirpath, dirnames, filenames in os.walk(base):  # os.walk does not follow directory links
        dirnames.sort()
        rel = "/" + os.path.relpath(dirpath, base).replace(os.sep, "/").lstrip("./")
        rel = "/" if rel in ("/.", "/") else rel.rstrip("/")
        if rel != "/" and "cpuset.mems" not in filenames and "cpuset.mems.effective" not in filenames:
            continue
        found.append((rel, pathlib.Path(dirpath)))
    found.sort(key=lambda x: (x[0].count("/") if x[0] != "/" else 0, x[0]))
    return [CgroupDir(rel, _read(d / "cpuset.mems"), _read(d / "cpuset.mems.effective"),
                      bool(_read(d / "cgroup.procs")), str(d)) for rel, d in found]
