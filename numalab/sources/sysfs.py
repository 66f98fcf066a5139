"""sysfs snapshots: a copy of ``/sys/devices/system/node`` and ``/proc/zoneinfo``, as a directory or
a ``.tar``/``.tar.gz``/``.tar.bz2`` archive (read in place, never extracted).

The live machine is the same reader on ``/`` (:mod:`numalab.sources.host`).
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import tarfile

import numpy as np

from ..errors import NumalabError
from ..slit import default_distance as _default_distance
from ..topology import X86_64_ZONES, Topology
from .common import STATES, _build, _nodelist, cpu_to_node_of_cpulists, format_cpulist, parse_cpulist, parse_cpumask

__all__ = ["load_snapshot"]

_NODE_DIR = "sys/devices/system/node"
_META_FILE = "numalab-snapshot.json"


# ====================================================================== sysfs snapshots
class _Tree:
    """Read-only view of a snapshot: a directory or a tar archive (never extracted)."""

    def __init__(self, where):
        self.where = str(where)

    def read(self, rel):  # -> str | None
        raise NotImplementedError

    def listdir(self, rel):  # -> list[str]
        raise NotImplementedError


class _DirTree(_Tree):
    def __init__(self, root):
        super().__init__(root)
        self.root = pathlib.Path(root)

    def read(self, rel):
        p = self.root / rel
        try:
            return p.read_text(errors="replace")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            raise NumalabError(f"cannot read: {e.strerror}", input=str(p)) from None

    def listdir(self, rel):
        try:
            return sorted(os.listdir(self.root / rel))
        except (FileNotFoundError, NotADirectoryError):
            return []


class _TarTree(_Tree):
    def __init__(self, path):
        super().__init__(path)
        try:
            tf = tarfile.open(path, "r:*")
        except (tarfile.TarError, OSError) as e:
            raise NumalabError(f"not a readable tar archive ({e})", input=str(path)) from None
        self.files = {}
        with tf:
            members = [m for m in tf.getmembers() if m.isfile()]
            names = [m.name.lstrip("./") for m in members]
            prefix = None
            for nm in names:  # the archive may hold one top directory (or several levels)
                for marker in (_NODE_DIR + "/", "proc/zoneinfo", "proc/meminfo"):
                    k = nm.find(marker)
                    if k >= 0 and (k == 0 or nm[k - 1] == "/"):
                        cand = nm[:k]
                        prefix = cand if prefix is None or len(cand) < len(prefix) else prefix
            if prefix is None:
                raise NumalabError(f"no {_NODE_DIR}/ and no proc/zoneinfo inside: not a snapshot",
                                   input=str(path))
            for m, nm in zip(members, names):
                if nm.startswith(prefix) and m.size < 64 << 20:
                    f = tf.extractfile(m)
                    if f is not None:
                        self.files[nm[len(prefix):]] = f.read().decode(errors="replace")

    def read(self, rel):
        return self.files.get(rel)

    def listdir(self, rel):
        rel = rel.rstrip("/") + "/"
        return sorted({k[len(rel):].split("/")[0] for k in self.files if k.startswith(rel)})


def _parse_zoneinfo(text: str, where):
    """{node_id: [(zone_name, present, managed), ...]} in the order the kernel prints them."""
    out: dict[int, list] = {}
    cur = None
    for lineno, line in enumerate(text.splitlines(), 1):
        m = re.match(r"Node\s+(\d+),\s+zone\s+(\S+)", line)
        if m:
            cur = [m.group(2), None, None]
            out.setdefault(int(m.group(1)), []).append(cur)
            continue
        m = re.match(r"\s+(present|managed)\s+(\d+)\s*$", line)
        if m and cur is not None:
            cur[1 if m.group(1) == "present" else 2] = int(m.group(2))
    for nid, zones in out.items():
        for z in zones:
            if z[1] is None:
                raise NumalabError(f"node {nid} zone {z[0]} has no 'present' line", input=where)
            if z[2] is None:  # kernels before v3.x printed no managed line
                z[2] = z[1]
    return {nid: [tuple(z) for z in zones] for nid, zones in out.items()}


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
    if raw_meta:
        try:
            meta_doc = json.loads(raw_meta)
        except json.JSONDecodeError:
            raise NumalabError("not valid JSON", input=f"{where}/{_META_FILE}") from None
    nodes_shift = meta_doc.get("nodes_shift")
    page_size = int(meta_doc.get("page_size", 4096))
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
    node_entries = [d for d in tree.listdir(_NODE_DIR) if re.fullmatch(r"node\d+", d)]
    if not node_entries and tree.read(f"{_NODE_DIR}/online") is None:
        return _single_node(tree, zi, name=name, source=source, notes=notes, meta=meta,
                            nodes_shift=nodes_shift, page_size=page_size, host=host)
    dirs = sorted(int(d[4:]) for d in node_entries)
    st = {}
    for key in STATES:
        txt = tree.read(f"{_NODE_DIR}/{key}")
        if txt is not None:
            st[key] = set(_nodelist(txt, f"{where}/{_NODE_DIR}/{key}"))
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
            try:
                row = [int(x) for x in dt.split()]
            except ValueError:
                raise NumalabError("not a list of integers", input=f"{where}/{base}/distance") from None
            if len(row) != len(online_ids):  # node_read_distance() prints one value per online node
                raise NumalabError(f"{len(row)} distances for {len(online_ids)} online nodes",
                                   input=f"{where}/{base}/distance")
            dist[idx[nid], [idx[o] for o in online_ids]] = row
        mi = tree.read(f"{base}/meminfo")
        if mi:
            m = re.search(r"MemTotal:\s+(\d+)\s*kB", mi)
            if m:
                kib[idx[nid]], have_kib[idx[nid]] = int(m.group(1)), True
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
    return _build(name, [0], [cpus], None, totals=[int(m.group(1)) * 1024 // page_size], where=where,
                  nodes_shift=nodes_shift, page_size=page_size, source=source, notes=notes, meta=meta,
                  distance_note="one node: distance 10")


def load_snapshot(path, *, name=None) -> Topology:
    """A Topology from a sysfs snapshot: a directory or a ``.tar``/``.tar.gz``/``.tar.bz2`` file.

    The layout is that of a copy of a live machine (and of ``numalab snapshot``):
    ``sys/devices/system/node/{possible,online,has_cpu,has_memory,has_normal_memory}``,
    ``sys/devices/system/node/nodeN/{distance,cpulist,meminfo}`` and ``proc/zoneinfo``. Zones
    (present and managed pages) come from zoneinfo; without it, from each node's MemTotal.
    ``PATH`` may also be the ``sys/devices/system/node`` directory itself.
    """
    p = pathlib.Path(path)
    if not p.exists():
        raise NumalabError("no such file or directory", input=str(path))
    if p.is_dir():
        if p.name == "node" and p.parent.name == "system" and not (p / _NODE_DIR).exists():
            p = p.parents[3] if len(p.parents) > 3 else p  # .../sys/devices/system/node -> root
        tree = _DirTree(p)
        if not (p / _NODE_DIR).is_dir() and not (p / "proc" / "zoneinfo").is_file() \
                and not (p / "proc" / "meminfo").is_file():
            raise NumalabError(f"no {_NODE_DIR}/, proc/zoneinfo or proc/meminfo inside: not a snapshot",
                               input=str(path))
    else:
        tree = _TarTree(p)
    nm = name or re.sub(r"\.(tar(\.(gz|bz2|xz))?|tgz|tbz2)$", "", p.name)
    return _from_tree(tree, name=nm, source=f"sysfs snapshot {path}")


