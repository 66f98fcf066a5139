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
:func:`write_snapshot` (what ``numalab snapshot`` writes), :func:`to_numactl_hardware`,
:func:`qemu_args`.

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

import dataclasses
import io
import json
import os
import pathlib
import re
import shlex
import tarfile
import tempfile

import numpy as np

from .slit import as_table as _slit_table, check as _slit_check, default_distance as _default_distance
from ._io import atomic_write, jsonable
from ._data import topologies_dir
from .errors import NumalabError
from .nodemask import format_list, from_nodes
from .topology import X86_64_ZONES, Topology

__all__ = [
    "DATA_DIR", "FORMAT", "load", "presets", "preset_path",
    "from_dict", "from_json", "to_dict", "to_json", "save_json",
    "load_snapshot", "load_host", "write_snapshot", "snapshot_files",
    "from_numactl_hardware", "to_numactl_hardware", "from_hwloc_xml",
    "assign_zones_by_address", "parse_cpulist", "format_cpulist", "parse_size", "qemu_args",
    "DMA_PAGES_PC", "STATES",
]

#: The bundled presets: ``data/topologies`` of the repository, or its copy in an installed wheel.
DATA_DIR = topologies_dir()
#: The ``format`` field of the JSON documents this module writes.
FORMAT = "numalab-topology/1"
#: Present pages of ZONE_DMA on a PC: pfn 1..4095 minus the legacy hole 640 KiB..1 MiB (97 pages).
#: Every x86_64 recording in kernel-truth shows exactly this.
DMA_PAGES_PC = 3998
#: Node-state files of /sys/devices/system/node, in the order the kernel lists them.
STATES = ("possible", "online", "has_cpu", "has_memory", "has_normal_memory")
_NODE_DIR = "sys/devices/system/node"
_META_FILE = "numalab-snapshot.json"
_MIB = 1 << 20


# ====================================================================== small parsers
def parse_cpulist(text: str, where="cpulist") -> list[int]:
    """CPU ids of a kernel list (``"0-3,8"``; sysfs ``cpulist``) or a blank-separated list.

    >>> parse_cpulist("0-2,8"), parse_cpulist(""), parse_cpulist(" 4 5 6")
    ([0, 1, 2, 8], [], [4, 5, 6])
    """
    text = (text or "").strip()
    if not text:
        return []
    out = []
    parts = text.split(",") if "," in text or "-" in text else text.split()
    for part in parts:
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise NumalabError(f"not a CPU list ({part!r} is neither N nor N-M)", input=where)
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if b < a:
            raise NumalabError(f"CPU range {part} runs backwards", input=where)
        out.extend(range(a, b + 1))
    return out


def format_cpulist(ids) -> str:
    """Kernel list syntax for a set of ids (``[0, 1, 2, 8]`` -> ``"0-2,8"``).

    >>> format_cpulist([8, 0, 1, 2]), format_cpulist([])
    ('0-2,8', '')
    """
    ids = [int(x) for x in ids]
    return str(format_list(from_nodes(ids, max(ids) + 1))) if ids else ""


def _parse_cpumap(text: str, where) -> list[int]:
    """sysfs ``cpumap``: comma-separated 32-bit hex words, most significant first."""
    words = (text or "").strip().split(",")
    try:
        value = int("".join(w.strip().rjust(8, "0") for w in words) or "0", 16)
    except ValueError:
        raise NumalabError("not a hex CPU mask", input=where) from None
    return [i for i in range(value.bit_length()) if value >> i & 1]


def parse_size(text, where="size") -> int:
    """Bytes of a size like ``"256M"``, ``"1G"``, ``"512K"``, ``"1048576"`` (binary units, as QEMU).

    >>> parse_size("256M"), parse_size("1g"), parse_size("1.5G")
    (268435456, 1073741824, 1610612736)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text))
    if not m:
        raise NumalabError("not a size (use e.g. 256M, 1G)", input=where if where != "size" else text)
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    value = float(m.group(1)) * mult
    if value != int(value):
        raise NumalabError("size is not a whole number of bytes", input=text)
    return int(value)


def _nodelist(text: str, where) -> list[int]:
    return parse_cpulist(text, where)  # node lists in sysfs use the same list syntax


# ====================================================================== zones by address
def assign_zones_by_address(total_pages, zone_types=X86_64_ZONES, movable=None, page_size=4096,
                            start_pages=None):
    """Present pages per node and zone, laid out by physical address as on x86_64.

    The nodes that have memory are laid out one after the other in node-index order (ascending
    node id), from the first usable page frame up. ZONE_DMA is the first 16 MiB, ZONE_DMA32 the
    rest below 4 GiB, ZONE_NORMAL everything above. With 4 KiB pages the first 16 MiB keep the PC's
    holes (page 0 and 640 KiB..1 MiB are not RAM), so ZONE_DMA holds at most :data:`DMA_PAGES_PC`
    = 3998 present pages, as every x86_64 recording shows. There is no hole below 4 GiB in this
    model. A node may start higher (``start_pages``, e.g. memory placed above 4 GiB); a node marked
    in ``movable`` gets all of its memory in ZONE_MOVABLE (memory hot-added and onlined movable,
    as CXL expanders usually are) and takes no address space from the others.

    Parameters
    ----------
    total_pages : (n,) int array
        Pages of memory per node.
    zone_types : tuple of str
        Configured zone types (the columns of the result).
    movable : (n,) bool array, optional
        Nodes whose memory is all in ZONE_MOVABLE.
    start_pages : (n,) int array, optional
        Lowest page frame of each node (-1 or absent: right after the previous node).

    Returns
    -------
    (n, len(zone_types)) int64 array of present pages.

    Examples
    --------
    >>> assign_zones_by_address([100_000, 2_000_000]).tolist()
    [[3998, 96002, 0, 0, 0], [0, 948478, 1051522, 0, 0]]
    >>> assign_zones_by_address([1000, 1000], start_pages=[-1, 1 << 20]).tolist()
    [[1000, 0, 0, 0, 0], [0, 0, 1000, 0, 0]]
    """
    total = np.asarray(total_pages, dtype=np.int64).reshape(-1)
    n = total.size
    zt = tuple(zone_types)
    out = np.zeros((n, len(zt)), np.int64)
    movable = np.zeros(n, bool) if movable is None else np.asarray(movable, bool).reshape(-1)
    starts = np.full(n, -1, np.int64) if start_pages is None else np.asarray(start_pages, np.int64).reshape(-1)
    mib16, gib4 = (16 << 20) // page_size, (1 << 32) // page_size
    col = {name: (zt.index(name) if name in zt else None) for name in ("DMA", "DMA32", "Normal", "Movable")}
    normal = col["Normal"] if col["Normal"] is not None else len(zt) - 1
    # usable page-frame ranges and the zone each belongs to (the last one is open-ended)
    if page_size == 4096:
        segs = [(1, 0x9F, "DMA"), (0x100, mib16, "DMA")]
    else:
        segs = [(0, mib16, "DMA")]
    segs += [(mib16, gib4, "DMA32"), (gib4, None, "Normal")]
    segs = [(a, b, z if col[z] is not None else ("DMA32" if z == "DMA" and col["DMA32"] is not None else "Normal"))
            for a, b, z in segs]
    cursor = 0
    for i in range(n):  # sequential by nature: each node starts where the previous one ended
        rest = int(total[i])
        if rest <= 0:
            continue
        if movable[i]:
            if col["Movable"] is None:
                raise NumalabError("a node is marked movable but ZONE_MOVABLE is not configured",
                                   input="movable")
            out[i, col["Movable"]] = rest
            continue
        cursor = max(cursor, int(starts[i]))
        for a, b, z in segs:
            if rest == 0:
                break
            lo = max(a, cursor)
            room = rest if b is None else max(0, b - lo)
            take = min(rest, room)
            if take:
                out[i, col[z] if col[z] is not None else normal] += take
                rest -= take
                cursor = lo + take
    return out


_BY_ADDRESS_NOTE = ("zones assigned by physical address as on x86_64 (nodes laid out from address 0 "
                    "in node-id order; DMA below 16 MiB, DMA32 below 4 GiB, Normal above)")
_MANAGED_NOTE = "the source gives only memory totals: managed pages set equal to present pages"


# ====================================================================== common builder
def _build(name, ids, cpus, distance, *, present=None, managed=None, totals=None, movable=None,
           starts=None, where, zone_types=X86_64_ZONES, possible=None, online=None, states=None, nodes_shift=10,
           page_size=4096, source="", notes=(), meta=None, distance_note=None) -> Topology:
    """Sort by node id, check what no kernel could see, apply the SLIT rules, make the Topology."""
    ids = [int(x) for x in ids]
    n = len(ids)
    notes = list(notes)
    if n == 0:
        raise NumalabError("no nodes", input=where)
    seen = set()
    for x in ids:
        if x in seen:
            raise NumalabError(f"node id {x} is listed twice", input=where)
        if x < 0:
            raise NumalabError(f"node id {x} is negative", input=where)
        seen.add(x)
    order = np.argsort(ids, kind="stable")
    ids_sorted = np.asarray(ids, np.int64)[order]
    # distances
    if distance is None:
        dist = _default_distance(n)
        notes.append(distance_note or "no distance table: the kernel's defaults (10 local, 20 remote)")
    else:
        raw = _slit_table(distance, f"{where}: distance")
        if raw.shape[0] != n:
            raise NumalabError(f"distance matrix is {raw.shape[0]}x{raw.shape[1]} but there are {n} nodes",
                               input=where)
        raw = raw[np.ix_(order, order)]
        dist, why = _slit_check(raw, where)
        if why is not None:
            notes.append(f"distance table rejected as the kernel's slit_valid() would ({why}); "
                         "the kernel's defaults are used (10 local, 20 remote)")
            meta = dict(meta or {}, rejected_distance=raw.tolist())
        elif not np.array_equal(dist, dist.T):
            notes.append("the distance table is asymmetric (the kernel accepts that)")
    # CPUs
    cpu_ids, cpu_node = [], []
    owner = {}
    for pos, k in enumerate(order):
        for c in cpus[k]:
            c = int(c)
            if c < 0:
                raise NumalabError(f"CPU id {c} is negative", input=where)
            if c in owner:
                raise NumalabError(f"CPU {c} is on two nodes ({owner[c]} and {ids[k]})", input=where)
            owner[c] = ids[k]
            cpu_ids.append(c)
            cpu_node.append(pos)
    cpu_ids = np.asarray(cpu_ids, np.int64)
    cpu_node = np.asarray(cpu_node, np.int64)
    srt = np.argsort(cpu_ids, kind="stable")
    cpu_ids, cpu_node = cpu_ids[srt], cpu_node[srt]
    # memory
    z = len(zone_types)
    if present is None:
        tot = np.asarray(totals, dtype=np.int64)[order]
        if np.any(tot < 0):
            raise NumalabError("memory sizes must not be negative", input=where)
        mv = None if movable is None else np.asarray(movable, bool)[order]
        st_ = None if starts is None else np.asarray(starts, np.int64)[order]
        present = assign_zones_by_address(tot, zone_types, mv, page_size, st_)
        managed = present.copy()
        if tot.sum() > 0:
            notes.append(_BY_ADDRESS_NOTE + (", movable nodes entirely in Movable" if mv is not None and mv.any() else ""))
            notes.append(_MANAGED_NOTE)
    else:
        present = np.asarray(present, np.int64).reshape(n, z)[order]
        managed = (present.copy() if managed is None else np.asarray(managed, np.int64).reshape(n, z)[order])
        if np.any(present < 0) or np.any(managed < 0):
            raise NumalabError("page counts must not be negative", input=where)
        if np.any(managed > present):
            i, k = np.argwhere(managed > present)[0]
            raise NumalabError(f"node {ids_sorted[i]} zone {zone_types[k]}: managed pages "
                               f"({managed[i, k]}) exceed present pages ({present[i, k]})", input=where)
    pos_ = None if possible is None else np.asarray(possible, bool)[order]
    onl = None if online is None else np.asarray(online, bool)[order]
    override = None
    if states:
        override = {k: np.asarray(v, bool)[order] for k, v in states.items()}
    return Topology(name=name, node_ids=ids_sorted, distance=dist, cpu_ids=cpu_ids, cpu_node=cpu_node,
                    present_pages=present, managed_pages=managed, zone_types=tuple(zone_types),
                    possible=pos_, online=onl, nodes_shift=int(nodes_shift), page_size=int(page_size),
                    state_override=override, source=source, notes=tuple(notes), meta=dict(meta or {}))


def _drop_redundant_states(t: Topology) -> Topology:
    """Keep only recorded states that differ from what the zones and CPUs imply."""
    if not t.state_override:
        return t
    bare = t.replace(state_override=None)
    keep = {k: v for k, v in t.state_override.items()
            if not hasattr(bare, k) or not np.array_equal(getattr(bare, k), v)}
    return t.replace(state_override=keep or None)


# ====================================================================== JSON format
def _field(d, key, where, kinds, default=dataclasses.MISSING):
    if key not in d:
        if default is dataclasses.MISSING:
            raise NumalabError(f"field {key!r} is missing", input=where)
        return default
    v = d[key]
    if kinds is not None and not isinstance(v, kinds) or isinstance(v, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)):
        raise NumalabError(f"field {key!r} has the wrong type ({type(v).__name__})", input=where)
    return v


def _cpus_of(node: dict, where) -> list[int]:
    lst = node.get("cpulist", node.get("cpus", ""))
    if isinstance(lst, int) and not isinstance(lst, bool):  # a bare count without a list
        if "cpulist" not in node:
            raise NumalabError("field 'cpus' is a count; give the CPU list (e.g. \"0-3\")", input=where)
    if isinstance(lst, str):
        ids = parse_cpulist(lst, f"{where}.cpus")
    elif isinstance(lst, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in lst):
        ids = [int(c) for c in lst]
    else:
        raise NumalabError("field 'cpus' must be a CPU list string or a list of integers", input=where)
    count = node.get("cpus") if "cpulist" in node else None
    if isinstance(count, int) and not isinstance(count, bool) and count != len(ids):
        raise NumalabError(f"'cpus' says {count} CPUs but 'cpulist' lists {len(ids)}", input=where)
    return ids


def from_dict(doc: dict, *, where="topology", source=None) -> Topology:
    """A Topology from the documented JSON structure (see docs/topology-format.md).

    Also reads the entries of ``real-topologies.json`` (``cpulist`` + ``cpus`` count, ``mem_mib``).

    >>> t = from_dict({"name": "x", "nodes": [{"id": 0, "cpus": "0-1", "mem_mib": 64},
    ...                                        {"id": 2, "cpus": "", "mem_mib": 32}],
    ...                "distance": [[10, 30], [30, 10]]})
    >>> t.node_ids.tolist(), t.has_cpu.tolist(), t.present_pages.sum(axis=1).tolist()
    ([0, 2], [True, False], [16384, 8192])
    """
    if not isinstance(doc, dict):
        raise NumalabError("a topology document must be a JSON object", input=where)
    fmt = doc.get("format", FORMAT)
    if not (isinstance(fmt, str) and fmt.startswith("numalab-topology/")):
        raise NumalabError(f"unknown format {fmt!r} (expected {FORMAT})", input=where)
    nodes = _field(doc, "nodes", where, list)
    zone_types = tuple(_field(doc, "zone_types", where, list, list(X86_64_ZONES)))
    if not zone_types or not all(isinstance(zn, str) for zn in zone_types) or len(set(zone_types)) != len(zone_types):
        raise NumalabError("field 'zone_types' must list distinct zone names", input=where)
    page_size = _field(doc, "page_size", where, int, 4096)
    if page_size <= 0 or page_size & (page_size - 1):
        raise NumalabError(f"page_size {page_size} is not a power of two", input=where)
    nodes_shift = _field(doc, "nodes_shift", where, int, 10)
    if not 0 <= nodes_shift <= 16:
        raise NumalabError(f"nodes_shift {nodes_shift} is outside 0..16", input=where)
    ids, cpus, totals, movable, present, managed, possible, online = [], [], [], [], [], [], [], []
    starts = []
    exact = None
    for k, node in enumerate(nodes):
        w = f"{where}: nodes[{k}]"
        if not isinstance(node, dict):
            raise NumalabError("each node must be a JSON object", input=w)
        nid = _field(node, "id", w, int)
        w = f"{where}: node {nid}"
        ids.append(nid)
        cpus.append(_cpus_of(node, w))
        possible.append(bool(_field(node, "possible", w, bool, True)))
        online.append(bool(_field(node, "online", w, bool, True)))
        has_zones = "zones" in node
        if exact is None:
            exact = has_zones
        elif exact != has_zones:
            raise NumalabError("give 'zones' for every node or for none (mixing totals and zones)", input=w)
        if has_zones:
            zones = _field(node, "zones", w, dict)
            p = np.zeros(len(zone_types), np.int64)
            m = np.zeros(len(zone_types), np.int64)
            for zn, v in zones.items():
                if zn not in zone_types:
                    raise NumalabError(f"zone {zn!r} is not one of zone_types {list(zone_types)}", input=w)
                if isinstance(v, dict):
                    pv, mv = v.get("present"), v.get("managed", v.get("present"))
                elif isinstance(v, list) and len(v) == 2:
                    pv, mv = v
                else:
                    raise NumalabError(f"zone {zn}: give {{\"present\": P, \"managed\": M}}", input=w)
                for label, val in (("present", pv), ("managed", mv)):
                    if not isinstance(val, int) or isinstance(val, bool):
                        raise NumalabError(f"zone {zn}: {label} must be an integer number of pages", input=w)
                    if val < 0:
                        raise NumalabError(f"zone {zn}: {label} pages must not be negative", input=w)
                p[zone_types.index(zn)], m[zone_types.index(zn)] = pv, mv
            present.append(p)
            managed.append(m)
        else:
            if "mem_mib" in node:
                v, unit = node["mem_mib"], _MIB
            elif "mem_kib" in node:
                v, unit = node["mem_kib"], 1024
            elif "mem_pages" in node:
                v, unit = node["mem_pages"], page_size
            else:
                raise NumalabError("give the node's memory: 'mem_mib' (or 'mem_kib', 'mem_pages', or 'zones')",
                                   input=w)
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise NumalabError(f"memory size must be a number, not {v!r}", input=w)
            if v < 0:
                raise NumalabError(f"memory size {v} is negative", input=w)
            totals.append(int(round(v * unit / page_size)))
            movable.append(bool(_field(node, "movable", w, bool, False)))
            sm = _field(node, "start_mib", w, (int, float), None)
            if sm is not None and sm < 0:
                raise NumalabError(f"start_mib {sm} is negative", input=w)
            starts.append(-1 if sm is None else int(sm * _MIB // page_size))
    distance = doc.get("distance")
    states = None
    if "states" in doc:
        st = _field(doc, "states", where, dict)
        states = {}
        idset = set(ids)
        for key, val in st.items():
            if key not in STATES:
                raise NumalabError(f"unknown node state {key!r} (known: {', '.join(STATES)})", input=where)
            lst = _nodelist(val, f"{where}: states.{key}") if isinstance(val, str) else val
            if not isinstance(lst, list) or not all(isinstance(x, int) for x in lst):
                raise NumalabError(f"states.{key} must be a node list", input=where)
            stray = sorted(set(lst) - idset)
            if stray:
                raise NumalabError(f"states.{key} names node {stray[0]}, which is not in 'nodes'", input=where)
            states[key] = [x in set(lst) for x in ids]
        if "possible" in states:
            possible = states.pop("possible")
        if "online" in states:
            online = states.pop("online")
    meta = dict(doc.get("meta") or {})
    for key in ("description", "provenance", "tags", "arch"):
        if key in doc:
            meta.setdefault(key, doc[key])
    notes = doc.get("notes", ())
    notes = [notes] if isinstance(notes, str) else list(notes)
    if exact is False and doc.get("arch") not in (None, "x86_64"):
        notes.append(f"this is a {doc['arch']} machine: zones were laid out as an x86_64 kernel would")
    t = _build(str(doc.get("name", pathlib.Path(str(where)).stem)), ids, cpus, distance,
               present=present if exact else None, managed=managed if exact else None,
               totals=totals, movable=movable if any(movable) else None,
               starts=starts if any(x >= 0 for x in starts) else None, where=where,
               zone_types=zone_types, possible=possible, online=online, states=states,
               nodes_shift=nodes_shift, page_size=page_size,
               source=source or str(doc.get("source", where)), notes=notes, meta=meta)
    return _drop_redundant_states(t)


def from_json(text_or_path, *, where=None) -> Topology:
    """A Topology from JSON text or a JSON file (see :func:`from_dict`)."""
    if isinstance(text_or_path, (str, os.PathLike)) and not str(text_or_path).lstrip().startswith("{"):
        path = pathlib.Path(text_or_path)
        where = where or str(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise NumalabError(f"cannot read: {e.strerror}", input=where) from None
    else:
        text, where = str(text_or_path), where or "JSON text"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise NumalabError(f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}", input=where) from None
    return from_dict(doc, where=where)


def to_dict(t: Topology) -> dict:
    """The JSON structure of a Topology: exact zones, every state, distances as stored.

    ``from_dict(to_dict(t)) == t`` for every topology.
    """
    nodes = []
    for i, nid in enumerate(t.node_ids.tolist()):
        zones = {zn: {"present": int(t.present_pages[i, k]), "managed": int(t.managed_pages[i, k])}
                 for k, zn in enumerate(t.zone_types)
                 if t.present_pages[i, k] or t.managed_pages[i, k]}
        node = {"id": nid, "cpus": format_cpulist(t.cpus_of(i)),
                "mem_mib": round(int(t.present_pages[i].sum()) * t.page_size / _MIB, 3), "zones": zones}
        nodes.append(node)
    ids = t.node_ids
    states = {"possible": format_cpulist(ids[t.possible]), "online": format_cpulist(ids[t.online]),
              "has_cpu": format_cpulist(ids[t.has_cpu]), "has_memory": format_cpulist(ids[t.has_memory]),
              "has_normal_memory": format_cpulist(ids[t.has_normal_memory])}
    meta = {k: v for k, v in (t.meta or {}).items()}
    doc = {"format": FORMAT, "name": t.name}
    for key in ("description", "provenance", "arch", "tags"):
        if key in meta:
            doc[key] = meta.pop(key)
    doc.update({"source": t.source, "nodes_shift": t.nodes_shift, "page_size": t.page_size,
                "zone_types": list(t.zone_types), "nodes": nodes, "distance": t.distance.tolist(),
                "states": states, "notes": list(t.notes)})
    if meta:
        doc["meta"] = meta
    return doc


def to_json(t: Topology, indent=1) -> str:
    """JSON text of :func:`to_dict` (one distance row per line)."""
    text = json.dumps(to_dict(t), indent=indent, default=jsonable)
    # one line per distance row keeps big matrices readable
    return re.sub(r"\[\s+((?:-?\d+,\s*)*-?\d+)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def save_json(t: Topology, path) -> pathlib.Path:
    """Write :func:`to_json` atomically (temp file, then rename)."""
    path = pathlib.Path(path)
    atomic_write(path, (to_json(t) + "\n").encode())
    return path


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


def _from_tree(tree: _Tree, *, name, source, host=False) -> Topology:
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
        page_size = os.sysconf("SC_PAGE_SIZE")
        nodes_shift = _host_nodes_shift()
    if nodes_shift is None:
        nodes_shift = 10
        notes.append("NODES_SHIFT not recorded: assumed 10 (MAX_NUMNODES 1024, as Debian and SLES kernels)")
    meta = {k: v for k, v in meta_doc.items() if k not in ("nodes_shift", "page_size", "format")}
    if host:
        meta["kernel"] = os.uname().release
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
                cpus[idx[nid]] = _parse_cpumap(cm, f"{where}/{base}/cpumap")
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
    states = {k: [nid in st[k] for nid in ids] for k in ("has_cpu", "has_memory", "has_normal_memory") if k in st}
    t = _build(name, ids, cpus, dist, present=present, managed=managed, totals=totals, where=where,
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
        cpus = list(range(os.cpu_count() or 1))
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


def load_host(root="/") -> Topology:
    """This machine, read from ``/sys/devices/system/node`` and ``/proc/zoneinfo``.

    A machine without NUMA sysfs is one node 0 with all memory and CPUs (a note says so).
    NODES_SHIFT comes from the running kernel's config when readable (``/boot/config-*``,
    ``/proc/config.gz``), else 10.
    """
    return _from_tree(_DirTree(root), name="host", source=f"live machine ({os.uname().release})", host=True)


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


# ====================================================================== numactl --hardware
def from_numactl_hardware(text: str, *, where="numactl --hardware", name="numactl") -> Topology:
    """A Topology from ``numactl --hardware`` output.

    Reads ``node N cpus:`` (may be empty), ``node N size: S MB`` (``0 MB`` for a memoryless node;
    read as managed pages, zones laid out by address), and the ``node distances:`` table (columns
    headed by node ids, so sparse ids work). ``free:`` is kept in ``meta``.

    >>> t = from_numactl_hardware('''available: 2 nodes (0-1)
    ... node 0 cpus: 0 1
    ... node 0 size: 1024 MB
    ... node 0 free: 900 MB
    ... node 1 cpus:
    ... node 1 size: 0 MB
    ... node 1 free: 0 MB
    ... node distances:
    ... node   0   1
    ...   0:  10  21
    ...   1:  21  10
    ... ''')
    >>> t.has_cpu.tolist(), t.has_memory.tolist(), int(t.distance[0, 1])
    ([True, False], [True, False], 21)
    """
    cpus, size, free = {}, {}, {}
    header = None
    rows = {}
    in_dist = False
    for lineno, line in enumerate(text.splitlines(), 1):
        w = f"{where} line {lineno}"
        s = line.strip()
        if not s:
            continue
        m = re.fullmatch(r"node\s+(\d+)\s+cpus:(.*)", s)
        if m:
            cpus[int(m.group(1))] = parse_cpulist(m.group(2), w)
            continue
        m = re.fullmatch(r"node\s+(\d+)\s+(size|free):\s*(\d+)\s*(MB|kB|GB)", s)
        if m:
            unit = {"kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m.group(4)]
            (size if m.group(2) == "size" else free)[int(m.group(1))] = int(m.group(3)) * unit
            continue
        if re.fullmatch(r"node\s+(\d+)\s+(size|free):.*", s):
            raise NumalabError("cannot read the size (expected e.g. '1024 MB')", input=w)
        if s.startswith("node distances"):
            in_dist = True
            continue
        if in_dist:
            m = re.fullmatch(r"node((?:\s+\d+)+)", s)
            if m:
                header = [int(x) for x in m.group(1).split()]
                continue
            m = re.fullmatch(r"(\d+):((?:\s+\d+)+)", s)
            if m:
                rows[int(m.group(1))] = [int(x) for x in m.group(2).split()]
                continue
            raise NumalabError(f"unexpected line in the distance table: {s!r}", input=w)
        if s.startswith("available:") or s.startswith("No distance information"):
            continue
        raise NumalabError(f"unexpected line: {s!r}", input=w)
    ids = sorted(set(cpus) | set(size))
    if not ids:
        raise NumalabError("no 'node N cpus:' or 'node N size:' lines: not numactl --hardware output", input=where)
    for nid in ids:
        if nid not in size:
            raise NumalabError(f"node {nid} has no 'size:' line", input=where)
    distance = None
    if header is not None:
        if sorted(header) != ids or len(header) != len(ids):
            raise NumalabError(f"distance table header {header} does not list the nodes {ids}", input=where)
        if sorted(rows) != ids:
            raise NumalabError(f"distance table rows {sorted(rows)} do not match the nodes {ids}", input=where)
        col = {nid: k for k, nid in enumerate(header)}
        for nid, r in rows.items():
            if len(r) != len(header):
                raise NumalabError(f"distance row of node {nid} has {len(r)} values for {len(header)} nodes",
                                   input=where)
        distance = [[rows[a][col[b]] for b in ids] for a in ids]
    page = 4096
    t = _build(name, ids, [cpus.get(nid, []) for nid in ids], distance,
               totals=[size[nid] // page for nid in ids], where=where, source=where,
               notes=["numactl prints sizes in whole MiB: memory rounded down to MiB"],
               meta={"free_mib": {str(k): v >> 20 for k, v in free.items()}} if free else None)
    return t


def to_numactl_hardware(t: Topology) -> str:
    """What ``numactl --hardware`` (numactl 2.0.x) prints for this topology, online nodes only.

    Sizes are MemTotal (managed pages) in whole MiB; ``free:`` repeats the recorded free memory
    when known, else the size.
    """
    on = np.flatnonzero(t.online)
    ids = t.node_ids[on].tolist()
    lines = [f"available: {len(ids)} nodes ({format_cpulist(ids)})"]
    free = (t.meta or {}).get("free_mib", {})
    for i in on.tolist():
        nid = int(t.node_ids[i])
        mib = int(t.managed_pages[i].sum()) * t.page_size >> 20
        lines.append(f"node {nid} cpus:" + "".join(f" {c}" for c in t.cpus_of(i).tolist()))
        lines.append(f"node {nid} size: {mib} MB")
        lines.append(f"node {nid} free: {int(free.get(str(nid), mib))} MB")
    lines.append("node distances:")
    lines.append("node " + "".join(f"{nid: 3d} " for nid in ids))  # printf("% 3d ")
    for i in on.tolist():
        lines.append(f"{int(t.node_ids[i]): 3d}: " + "".join(f"{int(t.distance[i, j]): 3d} " for j in on.tolist()))
    return "\n".join(lines) + "\n"


# ====================================================================== hwloc XML v2
def from_hwloc_xml(text: str, *, where="hwloc XML", name="hwloc") -> Topology:
    """A Topology from hwloc XML v2 (``lstopo foo.xml``): NUMANode objects and ``distances2``.

    Node id = NUMANode ``os_index``; memory = ``local_memory`` (bytes; zones laid out by
    address); CPUs = the ``os_index`` of the PU objects in the node's ``cpuset``; distances from
    the ``distances2`` block of NUMANode type (``NUMALatency``), mapped by ``indexes``.
    """
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise NumalabError(f"not valid XML: {e}", input=where) from None
    if root.tag != "topology":
        raise NumalabError("root element is not <topology>", input=where)
    objs = list(root.iter("object"))
    pus = {}
    for o in objs:
        if o.get("type") == "PU":
            pus[int(o.get("os_index"))] = o.get("cpuset")

    def cpuset_bits(s):
        if not s:
            return set()
        words = s.replace("0x", "").split(",")
        val = int("".join(w.rjust(8, "0") for w in words), 16)
        return {i for i in range(val.bit_length()) if val >> i & 1}

    nodes = [o for o in objs if o.get("type") == "NUMANode"]
    if not nodes:
        raise NumalabError("no NUMANode object", input=where)
    ids, cpus, totals = [], [], []
    pu_bits = {pu: cpuset_bits(cs) for pu, cs in pus.items()}
    for o in nodes:
        nid = int(o.get("os_index", -1))
        bits = cpuset_bits(o.get("cpuset"))
        ids.append(nid)
        cpus.append(sorted(pu for pu, b in pu_bits.items() if b and b <= bits) if pus else sorted(bits))
        totals.append(int(o.get("local_memory", 0)) // 4096)
    distance = None
    for d in root.iter("distances2"):
        if d.get("type") != "NUMANode":
            continue
        idx_el = d.find("indexes")
        val_el = d.find("u64values")
        if idx_el is None or val_el is None:
            continue
        order = [int(x) for x in idx_el.text.split()]
        vals = [int(x) for x in val_el.text.split()]
        k = len(order)
        if len(vals) != k * k:
            raise NumalabError(f"distances2 has {len(vals)} values for {k} nodes", input=where)
        if d.get("indexing", "os") != "os":  # gp indexes: map gp_index -> os_index
            gp = {int(o.get("gp_index")): int(o.get("os_index")) for o in nodes}
            order = [gp[x] for x in order]
        pos = {nid: j for j, nid in enumerate(order)}
        if sorted(order) != sorted(ids):
            raise NumalabError("distances2 does not cover every NUMANode", input=where)
        distance = [[vals[pos[a] * k + pos[b]] for b in ids] for a in ids]
        break
    return _build(name, ids, cpus, distance, totals=totals, where=where, source=where)


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
            doc = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
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
            from .generators import from_call

            return from_call(s)
        if not s.strip():
            raise NumalabError("empty topology name", input=s)
        raise NumalabError("no such preset, file or directory (see `numalab topology --list`)", input=s)
    if path.is_dir():
        return load_snapshot(path, **kw)
    if re.search(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2|tar\.xz)$", path.name) or tarfile.is_tarfile(path):
        return load_snapshot(path, **kw)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise NumalabError(f"cannot read as text: {e}", input=s) from None
    return _sniff_text(path, text)


# ====================================================================== QEMU
def qemu_args(t: Topology, mem_per_node=None) -> tuple[list[str], list[str]]:
    """QEMU arguments that boot a guest with this topology, and notes about what changed.

    ``-smp``, ``-m``, one ``-object memory-backend-ram`` per node with memory, one
    ``-numa node`` per online node (a node without memory gets no ``memdev``), and ``-numa dist``
    for each pair (one direction when the table is symmetric, QEMU mirrors it).

    Parameters
    ----------
    mem_per_node : int or str, optional
        Bytes (or a size like ``"256M"``) for every node with memory; default: the node's real
        memory (present pages), rounded up to whole MiB.

    Returns
    -------
    (args, notes)

    Examples
    --------
    >>> args, _ = qemu_args(load("two-node"), "256M")
    >>> " ".join(args[:4])
    '-smp 2 -m 512M'
    """
    notes = []
    on = np.flatnonzero(t.online)
    if on.size < t.n_nodes:
        notes.append(f"offline nodes {format_cpulist(t.node_ids[~t.online])} left out")
    ids = t.node_ids[on]
    guest = {int(nid): k for k, nid in enumerate(ids.tolist())}
    if ids.tolist() != list(range(len(ids))):
        notes.append("QEMU needs node ids 0..n-1: guest node ids are " +
                     ", ".join(f"{a}->{b}" for a, b in guest.items() if a != b))
    if len(ids) > 128:
        raise NumalabError(f"{len(ids)} nodes: QEMU supports at most 128 NUMA nodes", input=t.name)
    cpu_ids = t.cpu_ids[np.isin(t.cpu_node, on)]
    dense = cpu_ids.tolist() == list(range(cpu_ids.size))
    cpu_map = {int(c): (int(c) if dense else k) for k, c in enumerate(cpu_ids.tolist())}
    if not dense:
        notes.append("CPU ids are not 0..n-1: guest CPUs numbered in order of host CPU id")
    ncpu = max(1, cpu_ids.size)
    if cpu_ids.size == 0:
        notes.append("the topology has no CPUs: one vCPU added on the first node")
    if isinstance(mem_per_node, str):
        mem_per_node = parse_size(mem_per_node, "--mem-per-node")
    if mem_per_node is not None and mem_per_node < _MIB:
        raise NumalabError("memory per node must be at least 1M", input=str(mem_per_node))
    sizes = []
    for i in on.tolist():
        pages = int(t.present_pages[i].sum())
        if pages == 0:
            sizes.append(0)
        elif mem_per_node is not None:
            sizes.append(-(-int(mem_per_node) // _MIB))
        else:
            sizes.append(-(-pages * t.page_size // _MIB))
    if not any(sizes):
        raise NumalabError("no node has memory: QEMU cannot boot a guest without memory", input=t.name)
    args = ["-smp", str(ncpu), "-m", f"{sum(sizes)}M"]
    for k, i in enumerate(on.tolist()):
        if sizes[k]:
            args += ["-object", f"memory-backend-ram,id=mem{k},size={sizes[k]}M"]
    for k, i in enumerate(on.tolist()):
        spec = f"node,nodeid={k}"
        cs = [cpu_map[int(c)] for c in t.cpus_of(i).tolist()]
        if cpu_ids.size == 0 and k == 0:
            cs = [0]
        if cs:
            spec += "".join(f",cpus={r}" for r in format_cpulist(cs).split(","))
        if sizes[k]:
            spec += f",memdev=mem{k}"
        args += ["-numa", spec]
    sym = np.array_equal(t.distance, t.distance.T)
    for a, i in enumerate(on.tolist()):
        for b, j in enumerate(on.tolist()):
            if a == b or (sym and b < a):
                continue
            args += ["-numa", f"dist,src={a},dst={b},val={int(t.distance[i, j])}"]
    linux = _srat_numbering([[cpu_map[int(c)] for c in t.cpus_of(i).tolist()] for i in on.tolist()],
                            [bool(x) for x in sizes])
    if linux != list(range(len(linux))):
        notes.append("an x86 guest numbers its nodes in the order its SRAT lists them (CPU entries in "
                     "CPU order, then memory ranges in node order), so the guest will see QEMU node -> "
                     "Linux node " + ", ".join(f"{a}->{b}" for a, b in enumerate(linux) if a != b) +
                     ": its distances and states then belong to the renumbered nodes")
    if mem_per_node is not None:
        notes.append(f"memory scaled to {sizes and max(sizes)}M per node with memory: the guest's zones "
                     "follow its own memory layout (small guests have only DMA and DMA32)")
    return args, notes


def _srat_numbering(cpus_per_node, has_memory) -> list:
    """Linux node id an x86 guest gives each QEMU node (acpi_numa_init, ``pxm_to_node``).

    Linux allocates node ids as it first meets proximity domains in the SRAT: QEMU writes one
    processor-affinity entry per CPU in CPU order, then one memory-affinity entry per node with
    memory in node order. Nodes met in neither get the next ids in node order.

    >>> _srat_numbering([[], [], [0], [1]], [True, True, True, True])
    [2, 3, 0, 1]
    """
    owner = {c: k for k, cs in enumerate(cpus_per_node) for c in cs}
    seen = []
    for c in sorted(owner):
        if owner[c] not in seen:
            seen.append(owner[c])
    seen += [k for k, m in enumerate(has_memory) if m and k not in seen]
    seen += [k for k in range(len(cpus_per_node)) if k not in seen]
    linux = [0] * len(cpus_per_node)
    for new_id, k in enumerate(seen):
        linux[k] = new_id
    return linux


def shell_line(args) -> str:
    """The arguments as one shell-quoted line."""
    return shlex.join(args)
