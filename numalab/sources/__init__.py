"""Where topologies come from, and where they go.

Readers (each raises :class:`~numalab.errors.NumalabError` naming the file and the field):

* :func:`load` takes any ``spec``: a preset name (``data/topologies/NAME.json``), a generator call
  (``"ring(nodes=8)"``, see :mod:`numalab.generators`), a JSON file, a sysfs snapshot directory, a
  ``.tar``/``.tar.gz``/``.tar.bz2`` of one, ``"host"`` (this machine), ``numactl --hardware``
  text, or hwloc XML (v2).
* :func:`from_dict` / :func:`from_json`: the documented JSON format (docs/topology-format.md).
* :func:`load_snapshot`: ``DIR/sys/devices/system/node/...`` plus ``DIR/proc/zoneinfo``.
* :func:`load_host`: the live machine (``/``).
* :func:`from_numactl_hardware`, :func:`from_hwloc_xml`.

Writers: :func:`to_dict` / :func:`to_json` / :func:`save_json` (``load(to_json(t)) == t``),
:func:`write_snapshot` (what ``numalab snapshot`` writes), :func:`to_numactl_hardware`; the QEMU
exporter is :mod:`numalab.qemu`.

One module per format; this package's namespace re-exports them, with :func:`load` and the presets:

=============================  =================================================================
``sources.jsonfmt``            the documented JSON format (docs/topology-format.md)
``sources.sysfs``              sysfs snapshots, directories and tarballs
``sources.host``               the live machine, and ``numalab snapshot``'s writer
``sources.numactl``            ``numactl --hardware`` text
``sources.hwloc``              hwloc XML v2
``sources.cgroup``             cgroup cpuset trees, v2 and v1 (files only; :mod:`numalab.cpuset`
                               builds the tree), and their recorded form ``cgroups.json`` (not
                               imported here)
``sources.generators``         synthetic machines (``"ring(nodes=8)"``; also ``numalab.generators``)
``sources.common``             list/hex/size grammars, zones by address, the common builder
=============================  =================================================================

What every loader does the same way:

* node states come from the source when it records them (sysfs ``possible``, ``online``,
  ``has_cpu``, ``has_memory``, ``has_normal_memory``) and are kept as ``state_override``;
* the distance table goes through the kernel's SLIT checks (:mod:`numalab.slit`); a rejected table
  becomes the kernel's defaults and a note says why;
* where a source gives only a memory total per node, zones are assigned by physical address as
  on x86_64 (:func:`assign_zones_by_address`) and managed pages are set equal to present pages;
  a note says so. A node's MemTotal (sysfs meminfo, numactl ``size:``) counts the pages the buddy
  allocator manages, which is why it is read as managed (= present) pages.

Examples
--------
>>> t = load("two-node")
>>> t.node_ids.tolist(), t.distance.tolist()
([0, 1], [[10, 20], [20, 10]])
>>> load(to_json(t)) == t
True
"""
from __future__ import annotations

import os
import pathlib
import re
import stat

from .._data import topologies_dir
from ..errors import NumalabError
from ..topology import Topology
from . import generators
from .common import (DMA_PAGES_PC, MAX_CPUS, MAX_TEXT_BYTES, STATES, assign_zones_by_address, format_cpulist,
                     parse_cpulist, parse_cpumask, parse_size, read_json_text, read_regular, read_stream)
from .host import load_host, snapshot_files, write_snapshot
from .hwloc import from_hwloc_xml
from .jsonfmt import FORMAT, from_dict, from_json, save_json, to_dict, to_json
from .numactl import from_numactl_hardware, to_numactl_hardware
from .sysfs import MAX_TAR_BYTES, load_snapshot, load_tarball

__all__ = [
    "DATA_DIR", "FORMAT", "load", "presets", "preset_path",
    "from_dict", "from_json", "to_dict", "to_json", "save_json",
    "load_snapshot", "load_host", "write_snapshot", "snapshot_files",
    "from_numactl_hardware", "to_numactl_hardware", "from_hwloc_xml",
    "assign_zones_by_address", "parse_cpulist", "parse_cpumask", "format_cpulist", "MAX_CPUS", "parse_size",
    "DMA_PAGES_PC", "STATES",
]

#: The bundled presets: ``data/topologies`` of the repository, or its copy in an installed wheel.
DATA_DIR = topologies_dir()

# ====================================================================== presets and load()
def preset_path(name: str) -> pathlib.Path | None:
    """Path of a bundled preset, or None."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", name):
        return None
    p = DATA_DIR / f"{name}.json"
    return p if p.is_file() else None


def presets() -> list[tuple[str, str]]:
    """Bundled machines and synthetic presets: ``[(name, one-line description), ...]`` by name."""
    out = []
    for p in sorted(DATA_DIR.glob("*.json")):
        try:
            doc = read_json_text(read_regular(p, str(p), follow=True), str(p))
        except (OSError, NumalabError):
            continue
        if not isinstance(doc, dict):
            continue
        out.append((p.stem, str(doc.get("description", "")).splitlines()[0] if doc.get("description") else ""))
    return out


def _sniff_text(path: pathlib.Path, text: str) -> Topology:
    s = text.lstrip()
    if s.startswith("{"):
        return from_json(text, where=str(path))
    if s.startswith("<?xml") or s.startswith("<topology"):
        return from_hwloc_xml(text, where=str(path), name=path.stem)
    if re.search(r"^node\s+\d+\s+(cpus|size):", text, re.M):
        return from_numactl_hardware(text, where=str(path), name=path.stem)
    raise NumalabError("not a topology file (expected JSON, hwloc XML, numactl --hardware text, "
                       "a snapshot directory or a tarball)", input=str(path))


def load(spec, **kw) -> Topology:
    """A Topology from a preset name, generator call, file, snapshot directory/tarball or ``host``.

    Parameters
    ----------
    spec : str, path or Topology
        ``"host"``; a preset (``numalab topology --list``); a generator call such as
        ``"sockets(sockets=2, nodes_per_socket=2)"``; a path to a JSON file, numactl text, hwloc
        XML, a snapshot directory or ``.tar``/``.tar.gz``/``.tar.bz2``; or JSON text (what
        :func:`to_json` writes). A Topology is returned as is.

    Examples
    --------
    >>> load("cxl4").has_cpu.tolist()
    [True, True, False, False]
    >>> load("flat(nodes=3)").n_nodes
    3
    """
    if isinstance(spec, Topology):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise NumalabError(f"cannot load a topology from a {type(spec).__name__}", input=repr(spec))
    s = str(spec)
    if s == "host":
        return load_host()
    if s.lstrip().startswith("{"):
        return from_json(s, where="JSON text")
    path = pathlib.Path(s)
    try:
        exists = path.exists()
    except OSError:
        exists = False
    if not exists:
        pp = preset_path(s)
        if pp is not None:
            return from_json(pp)
        if re.fullmatch(r"[a-z_]+\s*\(.*\)\s*", s, re.S):
            return generators.from_call(s, load=load)
        if not s.strip():
            raise NumalabError("empty topology name", input=s)
        raise NumalabError("no such preset, file or directory (see `numalab topology --list`)", input=s)
    return _load_path(path, s, **kw)


_TAR_NAME = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz|txz)$")


def _looks_like_tar(head: bytes) -> bool:
    """gzip, bzip2 or xz magic, or a ustar header: a tarball (compressed JSON is not a format here)."""
    return (head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) or head[257:262] == b"ustar")


def _load_path(path: pathlib.Path, s: str, **kw) -> Topology:
    """A file, directory, pipe or FIFO named by the user (the name itself may be a link: the user
    chose it). Directories are snapshots; regular files and streams are sniffed by their first
    bytes; pipes and FIFOs (``<(cat x.json)``, ``/dev/stdin``) are read as streams, without seek,
    opened non-blocking so a FIFO without a writer ends in one line instead of a hang."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise NumalabError(f"cannot stat: {e.strerror}", input=s) from None
    if stat.S_ISDIR(st.st_mode):
        return load_snapshot(path, **kw)
    if stat.S_ISREG(st.st_mode):
        try:
            with open(path, "rb") as f:
                head = f.read(512)
        except OSError as e:
            raise NumalabError(f"cannot read: {e.strerror}", input=s) from None
        if _looks_like_tar(head) or _TAR_NAME.search(path.name):
            return load_snapshot(path, **kw)
        data = read_regular(path, s, follow=True)
    elif stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise NumalabError(f"cannot open: {e.strerror}", input=s) from None
        try:
            data = read_stream(fd, s, limit=MAX_TAR_BYTES)
        finally:
            os.close(fd)
        if _looks_like_tar(data[:512]):
            return load_tarball(data, where=s, name=kw.get("name") or "snapshot")
        if len(data) > MAX_TEXT_BYTES:
            raise NumalabError(f"larger than {MAX_TEXT_BYTES >> 20} MiB: not a topology text", input=s)
    else:
        raise NumalabError("is a device, not a topology file, directory, pipe or FIFO", input=s)
    if not data.strip():
        raise NumalabError("empty: no topology in it", input=s)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NumalabError(f"not UTF-8 text (byte {e.start}) and not a tarball", input=s) from None
    return _sniff_text(path, text)
