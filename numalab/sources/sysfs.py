"""sysfs snapshots: a copy of ``/sys/devices/system/node`` and ``/proc/zoneinfo``, as a directory or
a ``.tar``/``.tar.gz``/``.tar.bz2`` archive (read in place, never extracted).

The live machine is the same reader on ``/`` (:mod:`numalab.sources.host`).
"""
from __future__ import annotations

import bz2
import errno as _errno
import gzip
import io
import lzma
import os
import pathlib
import posixpath
import re
import stat
import tarfile
import zlib

import numpy as np

from ..errors import NumalabError
from ..slit import default_distance as _default_distance
from ..topology import X86_64_ZONES, Topology
from .common import (MAX_PAGE_SIZE, MAX_PHYS_BYTES, STATES, _build, check_nodes_shift, check_page_size,
                     cpu_to_node_of_cpulists, excerpt, format_cpulist, parse_cpulist, parse_cpumask, read_json_text, read_regular)

__all__ = ["load_snapshot", "load_tarball", "MAX_SYSFS_BYTES", "MAX_PROC_BYTES", "MAX_TAR_BYTES",
           "MAX_TAR_MEMBERS"]

_NODE_DIR = "sys/devices/system/node"
_META_FILE = "numalab-snapshot.json"

#: Longest sysfs attribute read: a sysfs ``show()`` fills at most one page.
MAX_SYSFS_BYTES = MAX_PAGE_SIZE
#: Longest ``proc/zoneinfo`` or ``proc/meminfo`` read (zoneinfo of a 16-node, 1024-CPU machine,
#: with its per-CPU pagesets, is about 12 MiB).
MAX_PROC_BYTES = 64 << 20
#: Most bytes a tarball may hold once decompressed (every member, headers included), and most
#: members it may list: refused with one line beyond these, before memory grows with them.
MAX_TAR_BYTES = 128 << 20
MAX_TAR_MEMBERS = 20_000

#: The files a snapshot reader ever reads, relative to the snapshot root.
_WANTED = re.compile(r"(?:^|/)((?:sys/devices/system/node/(?:[a-z_]+|node[0-9]+/(?:distance|cpulist|cpumap|meminfo))"
                     r"|proc/(?:zoneinfo|meminfo)|sys/devices/system/cpu/(?:online|present)"
                     r"|numalab-snapshot\.json))$")


def _limit(rel: str) -> int:
    return MAX_PROC_BYTES if rel.startswith("proc/") else MAX_SYSFS_BYTES


# ====================================================================== sysfs snapshots
class _Tree:
    """Read-only view of a snapshot: a directory or a tar archive (never extracted)."""

    def __init__(self, where):
        self.where = str(where)

    def read(self, rel):  # -> str | None
        raise NotImplementedError

    def listdir(self, rel):  # -> list[str]
        raise NotImplementedError

    def kind(self, rel):  # -> "dir" | "file" | None
        raise NotImplementedError


_O_DIR = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class _DirTree(_Tree):
    """A snapshot directory, read without following any link inside it.

    Every path is walked one component at a time from the root (``openat`` with ``O_NOFOLLOW``):
    a link anywhere below the root is refused with one line, never followed, so a ``node0/cpulist``
    linked to a private key is not read. Files are read with a size cap, opened with
    ``O_NONBLOCK`` and checked to be regular files (:func:`~numalab.sources.common.read_regular`):
    a FIFO or ``/dev/zero`` does not hang or fill memory. The root itself is the user's own
    choice and may be a link.
    """

    def __init__(self, root):
        super().__init__(root)
        self.root = pathlib.Path(root)

    def _where(self, rel):
        return f"{str(self.root).rstrip('/')}/{rel}"

    def _open_dir(self, parts):
        """fd of the directory ROOT/parts (no links followed), or None when it is missing."""
        try:
            fd = os.open(self.root, _O_DIR)
        except OSError as e:
            raise NumalabError(f"cannot open: {e.strerror}", input=str(self.root)) from None
        for k, part in enumerate(parts):
            try:
                nfd = os.open(part, _O_DIR | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as e:
                where = self._where("/".join(parts[:k + 1]))
                try:  # a link gives ENOTDIR or ELOOP here: tell it from a plain file or absence
                    is_link = stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode)
                except OSError:
                    is_link = False
                os.close(fd)
                if is_link or e.errno == _errno.ELOOP:
                    raise NumalabError("is a symbolic link (links inside a snapshot are not followed)",
                                       input=where) from None
                if isinstance(e, (FileNotFoundError, NotADirectoryError)):
                    return None
                raise NumalabError(f"cannot open: {e.strerror}", input=where) from None
            os.close(fd)
            fd = nfd
        return fd

    def read(self, rel):
        parts = rel.split("/")
        fd = self._open_dir(parts[:-1])
        if fd is None:
            return None
        try:
            data = read_regular(parts[-1], self._where(rel), _limit(rel), dir_fd=fd)
        except FileNotFoundError:
            return None
        finally:
            os.close(fd)
        return data.decode("utf-8", "replace")

    def listdir(self, rel):
        fd = self._open_dir(rel.split("/") if rel else [])
        if fd is None:
            return []
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

    def kind(self, rel):
        parts = rel.split("/")
        fd = self._open_dir(parts[:-1])
        if fd is None:
            return None
        try:
            st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        finally:
            os.close(fd)
        if stat.S_ISLNK(st.st_mode):
            raise NumalabError("is a symbolic link (links inside a snapshot are not followed)",
                               input=self._where(rel))
        return "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"


class _TarLimit(Exception):
    pass


class _Capped(io.RawIOBase):
    """A read-only stream that refuses to give more than ``limit`` bytes in all."""

    def __init__(self, f, limit):
        self.f, self.left = f, limit

    def readable(self):
        return True

    def readinto(self, b):
        want = min(len(b), self.left + 1)
        data = self.f.read(want)
        if len(data) > self.left:
            raise _TarLimit(f"more than {MAX_TAR_BYTES >> 20} MiB once decompressed")
        self.left -= len(data)
        b[:len(data)] = data
        return len(data)


def _decompressed(f):
    """``f`` (binary, read from the start) decompressed by its magic bytes: gzip, bzip2, xz or none."""
    head = f.peek(6)[:6] if hasattr(f, "peek") else b""
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=f, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(f, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(f, "rb")
    return f


def _member_name(m, where) -> str:
    """The normalised name of a member; absolute names and '..' components are refused."""
    raw = m.name
    if "\0" in raw or "\\" in raw:
        raise NumalabError(f"member {excerpt(raw, 40)}: NUL or backslash in the name", input=where)
    if raw.startswith("/"):
        raise NumalabError(f"member {excerpt(raw, 40)} has an absolute name (refused)", input=where)
    if ".." in raw.split("/"):
        raise NumalabError(f"member {excerpt(raw, 40)} has a '..' component (refused)", input=where)
    nm = posixpath.normpath(raw)
    return "" if nm == "." else nm


class _TarTree(_Tree):
    """A snapshot tarball, read as a stream (no seek: a pipe works) and never extracted.

    At most :data:`MAX_TAR_MEMBERS` members and :data:`MAX_TAR_BYTES` decompressed bytes are read;
    member names are normalised (:func:`posixpath.normpath`) after refusing absolute names and
    ``..`` components; two members with the same normalised name, snapshots under two different
    top directories, and a link, device or FIFO where a snapshot file belongs are refused as
    ambiguous. A truncated or corrupt archive is one line.
    """

    def __init__(self, f, where):
        super().__init__(where)
        self.files = {}
        try:
            self._scan(f)
        except NumalabError:
            raise
        except _TarLimit as e:
            raise NumalabError(f"tar archive refused: {e}", input=self.where) from None
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError) as e:
            raise NumalabError(f"corrupt or truncated tar archive ({type(e).__name__}: {excerpt(str(e), 60)})",
                               input=self.where) from None

    def _scan(self, f):
        where = self.where
        capped = _Capped(_decompressed(f), MAX_TAR_BYTES)
        tf = tarfile.open(fileobj=capped, mode="r|")
        found = {}  # normalised name -> (prefix, rel, bytes)
        declared = count = 0
        while True:
            m = tf.next()
            if m is None:
                break
            count += 1
            if count > MAX_TAR_MEMBERS:
                raise _TarLimit(f"more than {MAX_TAR_MEMBERS} members")
            declared += max(m.size, 0)
            if declared > MAX_TAR_BYTES:
                raise _TarLimit(f"members declare more than {MAX_TAR_BYTES >> 20} MiB")
            nm = _member_name(m, where)
            hit = _WANTED.search(nm)
            if hit is None:
                continue
            if nm in found:
                raise NumalabError(f"member {excerpt(nm, 60)} appears twice (ambiguous)", input=where)
            if not m.isreg() or m.issparse():
                raise NumalabError(f"member {excerpt(nm, 60)} is not a regular file (links, devices and "
                                   "FIFOs are not followed)", input=where)
            rel = hit.group(1)
            if m.size > _limit(rel):
                raise NumalabError(f"member {excerpt(nm, 60)} is larger than {_limit(rel)} bytes", input=where)
            data = tf.extractfile(m).read(m.size)
            if len(data) != m.size:
                raise tarfile.ReadError("unexpected end of data")
            found[nm] = (nm[:hit.start(1)], rel, data)
        if count and tf.fileobj.pos < tf.offset + tarfile.BLOCKSIZE:
            raise tarfile.ReadError("no end-of-archive marker")
        while capped.read(1 << 16):  # to the end: gzip, bzip2 and xz check their CRC only there
            pass
        prefixes = sorted({p for p, _, _ in found.values()})
        if not prefixes:
            raise NumalabError(f"no {_NODE_DIR}/ and no proc/zoneinfo inside: not a snapshot", input=where)
        if len(prefixes) > 1:
            raise NumalabError(f"snapshots under {excerpt(prefixes[0] or '.', 40)} and "
                               f"{excerpt(prefixes[1] or '.', 40)}: ambiguous", input=where)
        self.files = {rel: data.decode("utf-8", "replace") for _, rel, data in found.values()}

    def read(self, rel):
        return self.files.get(rel)

    def listdir(self, rel):
        rel = rel.rstrip("/") + "/"
        return sorted({k[len(rel):].split("/")[0] for k in self.files if k.startswith(rel)})

    def kind(self, rel):
        if rel in self.files:
            return "file"
        return "dir" if any(k.startswith(rel.rstrip("/") + "/") for k in self.files) else None


def _bounded_int(digits: str, where, what) -> int:
    """An int of a decimal digit string, refused past 20 digits (never Python's 4300-digit limit)."""
    if len(digits.lstrip("0")) > 20:
        raise NumalabError(f"{what} has {len(digits)} digits", errno="ERANGE", input=where)
    return int(digits)


def _parse_zoneinfo(text: str, where):
    """{node_id: [(zone_name, present, managed), ...]} in the order the kernel prints them."""
    out: dict[int, list] = {}
    cur = None
    for lineno, line in enumerate(text.splitlines(), 1):
        m = re.match(r"Node\s+(\d+),\s+zone\s+(\S+)", line)
        if m:
            w = f"{where} line {lineno}"
            nid = _bounded_int(m.group(1), w, "node id")
            zname = m.group(2)
            if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", zname):
                raise NumalabError(f"zone name {excerpt(zname)} is not a kernel zone name", input=w)
            zones = out.setdefault(nid, [])
            if any(z[0] == zname for z in zones):
                raise NumalabError(f"node {nid} zone {zname} appears twice", input=w)
            cur = [zname, None, None]
            zones.append(cur)
            continue
        m = re.match(r"\s+(present|managed)\s+(\d+)\s*$", line)
        if m and cur is not None:
            w = f"{where} line {lineno}"
            v = _bounded_int(m.group(2), w, m.group(1))
            if v > MAX_PHYS_BYTES // 4096:  # before it goes into an int64 array
                raise NumalabError(f"{m.group(1)} {v} pages is more than a 64-bit kernel can address",
                                   errno="ERANGE", input=w)
            cur[1 if m.group(1) == "present" else 2] = v
    for nid, zones in out.items():
        for z in zones:
            if z[1] is None:
                raise NumalabError(f"node {nid} zone {z[0]} has no 'present' line", input=where)
            if z[2] is None:  # kernels before v3.x printed no managed line
                z[2] = z[1]
    if len({z[0] for zones in out.values() for z in zones}) > 6:
        raise NumalabError("more than 6 zone types; a kernel has at most 6 (MAX_NR_ZONES)", input=where)
    return {nid: [tuple(z) for z in zones] for nid, zones in out.items()}


def _snapshot_meta(raw, where) -> dict:
    """numalab-snapshot.json, validated like the JSON format: an object; ``format``
    ``numalab-snapshot/N``; ``page_size`` a power of two 4096..256 KiB; ``nodes_shift`` 0..10;
    ``kernel`` a string. Other keys are kept in ``meta`` (strict JSON values)."""
    doc = read_json_text(raw, where)
    if not isinstance(doc, dict):
        raise NumalabError(f"must be a JSON object, not {type(doc).__name__ if doc is not None else 'null'}",
                           input=where)
    fmt = doc.get("format", "numalab-snapshot/1")
    if not (isinstance(fmt, str) and fmt.startswith("numalab-snapshot/")):
        raise NumalabError(f"unknown format {excerpt(fmt, 40)} (expected numalab-snapshot/1)", input=where)
    if "page_size" in doc:
        check_page_size(doc["page_size"], where)
    if doc.get("nodes_shift") is not None:
        check_nodes_shift(doc["nodes_shift"], where)
    if "kernel" in doc and not isinstance(doc["kernel"], str):
        raise NumalabError(f"field 'kernel' must be a string, not {type(doc['kernel']).__name__}", input=where)
    return doc


def _node_ids(text, where, nodes_shift) -> list[int]:
    """A sysfs node list, each id checked against MAX_NUMNODES before anything is sized by it."""
    ids = parse_cpulist(text, where)
    if ids and ids[-1] >= 1 << nodes_shift:
        raise NumalabError(f"node id {ids[-1]} is outside 0..{(1 << nodes_shift) - 1} "
                           f"(NODES_SHIFT={nodes_shift})", errno="ERANGE", input=where)
    return ids


_CANONICAL_ZONES = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device")


def _zone_types_of(zi: dict):
    """Configured zone types from zoneinfo, and a note when they had to be guessed.

    Since v4.12 zoneinfo prints every configured zone of every online node, populated or not, so
    any node's list is the whole enum. Older kernels printed only populated zones: then the x86_64
    set is assumed if it covers every name seen."""
    seqs = [tuple(z[0] for z in zones) for zones in zi.values()]
    some_empty = any(z[1] == 0 for zones in zi.values() for z in zones)
    if seqs and some_empty and all(s == seqs[0] for s in seqs):
        return seqs[0], None
    seen = {name for s in seqs for name in s}
    if seen <= set(X86_64_ZONES):
        return X86_64_ZONES, "zoneinfo lists only populated zones: zone types assumed to be x86_64's (DMA, DMA32, Normal, Movable, Device)"
    order = [zn for zn in _CANONICAL_ZONES if zn in seen] + sorted(seen - set(_CANONICAL_ZONES))
    return tuple(order), "zoneinfo lists only populated zones: zone types are the ones seen"


def _read_nodes_shift_config(text: str | None):
    if not text:
        return None
    m = re.search(r"^CONFIG_NODES_SHIFT=(\d+)", text, re.M)
    return int(m.group(1)) if m else None


def _from_tree(tree: _Tree, *, name, source, host=None) -> Topology:
    """The topology of a snapshot tree. ``host``: facts of the live machine that override what a
    snapshot records (``page_size``, ``nodes_shift``, ``kernel``, ``cpu_count``), or None."""
    where = tree.where
    notes = []
    meta_doc = {}
    raw_meta = tree.read(_META_FILE)
    if raw_meta is not None:
        meta_doc = _snapshot_meta(raw_meta, f"{where}/{_META_FILE}")
    nodes_shift = meta_doc.get("nodes_shift")
    page_size = meta_doc.get("page_size", 4096)
    if host:
        page_size, nodes_shift = host["page_size"], host["nodes_shift"]
    if nodes_shift is None:
        nodes_shift = 10
        notes.append("NODES_SHIFT not recorded: assumed 10 (MAX_NUMNODES 1024, as Debian and SLES kernels)")
    meta = {k: v for k, v in meta_doc.items() if k not in ("nodes_shift", "page_size", "format")}
    if host:
        meta["kernel"] = host["kernel"]
    zi_text = tree.read("proc/zoneinfo")
    zi = _parse_zoneinfo(zi_text, f"{where}/proc/zoneinfo") if zi_text else None
    nodes_shift = check_nodes_shift(nodes_shift, f"{where}/{_META_FILE}")
    page_size = check_page_size(page_size, f"{where}/{_META_FILE}")
    node_entries = [d for d in tree.listdir(_NODE_DIR) if re.fullmatch(r"node\d+", d)]
    if not node_entries and tree.read(f"{_NODE_DIR}/online") is None:
        return _single_node(tree, zi, name=name, source=source, notes=notes, meta=meta,
                            nodes_shift=nodes_shift, page_size=page_size, host=host)
    dirs = []
    for d in node_entries:  # each id checked before anything is sized by the ids
        nid = _bounded_int(d[4:], f"{where}/{_NODE_DIR}/{excerpt(d, 24)}", "node directory id")
        if nid >= 1 << nodes_shift:
            raise NumalabError(f"node id {nid} is outside 0..{(1 << nodes_shift) - 1} (NODES_SHIFT={nodes_shift})",
                               errno="ERANGE", input=f"{where}/{_NODE_DIR}/node{nid}")
        dirs.append(nid)
    dirs.sort()
    st = {}
    for key in STATES:
        txt = tree.read(f"{_NODE_DIR}/{key}")
        if txt is not None:
            st[key] = set(_node_ids(txt, f"{where}/{_NODE_DIR}/{key}", nodes_shift))
    online_ids = sorted(st.get("online", set(dirs)))
    missing = sorted(set(online_ids) - set(dirs))
    if missing:
        raise NumalabError(f"node {missing[0]} is online but {_NODE_DIR}/node{missing[0]} is missing", input=where)
    ids = sorted(set(dirs) | st.get("possible", set()) | set(online_ids))
    idx = {nid: i for i, nid in enumerate(ids)}
    n = len(ids)
    cpus = [[] for _ in ids]
    dist = _default_distance(n)
    kib = np.zeros(n, np.int64)
    have_kib = np.zeros(n, bool)
    for nid in dirs:
        base = f"{_NODE_DIR}/node{nid}"
        cl = tree.read(f"{base}/cpulist")
        if cl is not None:
            cpus[idx[nid]] = parse_cpulist(cl, f"{where}/{base}/cpulist")
        else:
            cm = tree.read(f"{base}/cpumap")
            if cm is not None:
                cpus[idx[nid]] = parse_cpumask(cm, f"{where}/{base}/cpumap")
        dt = tree.read(f"{base}/distance")
        if dt is not None and nid in set(online_ids):
            row = []
            for x in dt.split():  # node_read_distance() prints u8 values
                if not re.fullmatch(r"[0-9]{1,3}", x) or int(x) > 255:
                    raise NumalabError(f"{excerpt(x)} is not a distance (an integer 0..255)",
                                       input=f"{where}/{base}/distance")
                row.append(int(x))
            if len(row) != len(online_ids):  # node_read_distance() prints one value per online node
                raise NumalabError(f"{len(row)} distances for {len(online_ids)} online nodes",
                                   input=f"{where}/{base}/distance")
            dist[idx[nid], [idx[o] for o in online_ids]] = row
        mi = tree.read(f"{base}/meminfo")
        if mi:
            m = re.search(r"MemTotal:\s+(\d+)\s*kB", mi)
            if m:
                kib[idx[nid]], have_kib[idx[nid]] = _memtotal_kib(m.group(1), f"{where}/{base}/meminfo"), True
    if any(tree.read(f"{_NODE_DIR}/node{nid}/distance") is None for nid in online_ids):
        notes.append("some online nodes have no distance file: the kernel's defaults used for them")
    offline = [nid for nid in ids if nid not in set(online_ids)]
    if offline:
        notes.append(f"nodes {format_cpulist(offline)} are possible but not online: sysfs shows no "
                     "distances, CPUs or memory for them (defaults used)")
    if zi is not None:
        zone_types, zn_note = _zone_types_of(zi)
        if zn_note:
            notes.append(zn_note)
        present = np.zeros((n, len(zone_types)), np.int64)
        managed = np.zeros_like(present)
        for nid, zones in zi.items():
            if nid not in idx:
                raise NumalabError(f"node {nid} appears in zoneinfo but not in {_NODE_DIR}",
                                   input=f"{where}/proc/zoneinfo")
            for zname, p, m in zones:
                present[idx[nid], zone_types.index(zname)] = p
                managed[idx[nid], zone_types.index(zname)] = m
        totals = None
    else:
        zone_types, present, managed = X86_64_ZONES, None, None
        totals = kib * 1024 // page_size
        if not have_kib.any():
            notes.append("no proc/zoneinfo and no nodeN/meminfo: no memory known")
    cpulists = None
    if sum(len(c) for c in cpus) > len({c for cl in cpus for c in cl}):  # numa=fake=: shared CPUs
        owner = cpu_to_node_of_cpulists(ids, cpus, where)
        cpulists, cpus = cpus, [[c for c in cl if owner[c] == nid] for nid, cl in zip(ids, cpus)]
        notes.append("CPUs listed under several nodes (NUMA emulation, numa=fake=): each node keeps its "
                     "cpulist; cpu_to_node() is the lowest node listing the CPU")
    states = {k: [nid in st[k] for nid in ids] for k in ("has_cpu", "has_memory", "has_normal_memory") if k in st}
    t = _build(name, ids, cpus, dist, cpulists=cpulists, kernel_distance=True, present=present, managed=managed, totals=totals, where=where,
               zone_types=zone_types,
               possible=[nid in st["possible"] for nid in ids] if "possible" in st else None,
               online=[nid in set(online_ids) for nid in ids], states=states or None,
               nodes_shift=nodes_shift, page_size=page_size, source=source, notes=notes, meta=meta)
    gi = tree.read(f"{_NODE_DIR}/has_generic_initiator")
    if gi is not None and gi.strip():
        t.meta["has_generic_initiator"] = gi.strip()
    return t


def _memtotal_kib(digits, where) -> int:
    v = _bounded_int(digits, where, "MemTotal")
    if v > MAX_PHYS_BYTES >> 10:
        raise NumalabError(f"MemTotal {v} kB is more than a 64-bit kernel can address", errno="ERANGE", input=where)
    return v


def _single_node(tree, zi, *, name, source, notes, meta, nodes_shift, page_size, host):
    """A machine without NUMA sysfs: one node 0 holding every CPU and all memory."""
    where = tree.where
    notes = list(notes) + ["no /sys/devices/system/node (a kernel without NUMA): one node 0 holds "
                           "all memory and every CPU"]
    txt = tree.read("sys/devices/system/cpu/online") or tree.read("sys/devices/system/cpu/present")
    if txt is not None:
        cpus = parse_cpulist(txt, f"{where}/sys/devices/system/cpu/online")
    elif host:
        cpus = list(range(host["cpu_count"]))
    else:
        cpus = []
        notes.append("no sys/devices/system/cpu/online: no CPUs known")
    if zi:
        zone_types, zn_note = _zone_types_of(zi)
        if zn_note:
            notes.append(zn_note)
        present = np.zeros((1, len(zone_types)), np.int64)
        managed = np.zeros_like(present)
        for nid, zones in zi.items():
            for zname, p, m in zones:
                present[0, zone_types.index(zname)] += p
                managed[0, zone_types.index(zname)] += m
        return _build(name, [0], [cpus], None, present=present, managed=managed, where=where,
                      zone_types=zone_types, nodes_shift=nodes_shift, page_size=page_size,
                      source=source, notes=notes, meta=meta, distance_note="one node: distance 10")
    mi = tree.read("proc/meminfo") or ""
    m = re.search(r"MemTotal:\s+(\d+)\s*kB", mi)
    if not m:
        raise NumalabError("no sysfs node directory, no proc/zoneinfo and no proc/meminfo: not a snapshot",
                           input=where)
    return _build(name, [0], [cpus], None, totals=[_memtotal_kib(m.group(1), f"{where}/proc/meminfo") * 1024 // page_size],
                  where=where,
                  nodes_shift=nodes_shift, page_size=page_size, source=source, notes=notes, meta=meta,
                  distance_note="one node: distance 10")


def load_snapshot(path, *, name=None) -> Topology:
    """A Topology from a sysfs snapshot: a directory or a ``.tar``/``.tar.gz``/``.tar.bz2``/``.tar.xz`` file.

    The layout is that of a copy of a live machine (and of ``numalab snapshot``):
    ``sys/devices/system/node/{possible,online,has_cpu,has_memory,has_normal_memory}``,
    ``sys/devices/system/node/nodeN/{distance,cpulist,meminfo}`` and ``proc/zoneinfo``. Zones
    (present and managed pages) come from zoneinfo; without it, from each node's MemTotal.
    ``PATH`` may also be the ``sys/devices/system/node`` directory itself.

    Every file is hostile: no link inside a directory is followed, files are read with a size cap
    and must be regular files, a tarball is read as a capped stream (:class:`_TarTree`), and
    every number is checked against the kernel's limits before it sizes anything.
    """
    p = pathlib.Path(path)
    try:
        st = os.stat(p)
    except OSError:
        raise NumalabError("no such file or directory", input=str(path)) from None
    if stat.S_ISDIR(st.st_mode):
        if p.name == "node" and p.parent.name == "system" and not (p / _NODE_DIR).exists():
            p = p.parents[3] if len(p.parents) > 3 else p  # .../sys/devices/system/node -> root
        tree = _DirTree(p)
        if tree.kind(_NODE_DIR) != "dir" and tree.kind("proc/zoneinfo") != "file" \
                and tree.kind("proc/meminfo") != "file":
            raise NumalabError(f"no {_NODE_DIR}/, proc/zoneinfo or proc/meminfo inside: not a snapshot",
                               input=str(path))
    elif stat.S_ISREG(st.st_mode):
        try:
            f = open(p, "rb")
        except OSError as e:
            raise NumalabError(f"cannot open: {e.strerror}", input=str(path)) from None
        with f:
            tree = _TarTree(f, str(path))
    else:
        raise NumalabError("not a directory or a regular file (a tarball in a pipe: see numalab.sources.load)",
                           input=str(path))
    nm = name or re.sub(r"\.(tar(\.(gz|bz2|xz))?|tgz|tbz2|txz)$", "", p.name)
    return _from_tree(tree, name=nm, source=f"sysfs snapshot {path}")


def load_tarball(data: bytes, *, where, name="snapshot") -> Topology:
    """A Topology from the bytes of a snapshot tarball (read from a pipe: no seek needed)."""
    return _from_tree(_TarTree(io.BufferedReader(io.BytesIO(data)), where), name=name,
                      source=f"sysfs snapshot {where}")
