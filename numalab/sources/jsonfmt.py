"""The documented JSON format of a topology (docs/topology-format.md): read, write, round trip.

``load(to_json(t)) == t`` for every topology; :func:`save_json` writes atomically.

>>> from numalab.sources import load
>>> t = from_json(to_json(load("two-node")))
>>> t.node_ids.tolist(), t == load("two-node")
([0, 1], True)
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import re

import numpy as np

from .._io import atomic_write, jsonable
from ..errors import NumalabError
from ..topology import X86_64_ZONES, Topology
from .common import (_MIB, MAX_PHYS_BYTES, STATES, _build, _drop_redundant_states, _nodelist,
                     check_nodes_shift, check_page_size, cpu_to_node_of_cpulists, excerpt, format_cpulist, parse_cpulist, read_json_text,
                     read_regular)

__all__ = ["FORMAT", "from_dict", "from_json", "to_dict", "to_json", "save_json"]

#: The ``format`` field of the JSON documents this module writes.
FORMAT = "numalab-topology/1"


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
    page_size = check_page_size(doc.get("page_size", 4096), where)
    nodes_shift = check_nodes_shift(doc.get("nodes_shift", 10), where)
    if len(nodes) > 1 << nodes_shift:  # before any per-node work or an n x n table
        raise NumalabError(f"{len(nodes)} nodes, more than MAX_NUMNODES {1 << nodes_shift} "
                           f"(NODES_SHIFT={nodes_shift})", errno="ERANGE", input=where)
    if len(zone_types) > 6:
        raise NumalabError(f"{len(zone_types)} zone types; a kernel has at most 6 (MAX_NR_ZONES)", input=where)
    for key, kinds in (("name", str), ("description", str), ("provenance", str), ("arch", str), ("source", str),
                       ("tags", list), ("meta", dict), ("notes", (str, list)), ("distance", (list, type(None)))):
        _field(doc, key, where, kinds, None)
    if not all(isinstance(x, str) for x in doc.get("tags", [])):
        raise NumalabError("field 'tags' must be a list of strings", input=where)
    if isinstance(doc.get("notes"), list) and not all(isinstance(x, str) for x in doc["notes"]):
        raise NumalabError("field 'notes' must be a string or a list of strings", input=where)
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
                    if val > MAX_PHYS_BYTES // page_size:  # before it goes into an int64 array
                        raise NumalabError(f"zone {zn}: {label} {val} is more than a 64-bit kernel can address "
                                           f"({MAX_PHYS_BYTES // page_size} pages)", errno="ERANGE", input=w)
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
                raise NumalabError(f"memory size must be a number, not {excerpt(v)}", input=w)
            if not math.isfinite(v) or v < 0:
                raise NumalabError(f"memory size {v} is negative or not finite", input=w)
            if v * unit > MAX_PHYS_BYTES:  # compared before any int(): no overflow, no 4300-digit int
                raise NumalabError(f"memory size {v} is more than a 64-bit kernel can address "
                                   f"({MAX_PHYS_BYTES >> 20} MiB)", errno="ERANGE", input=w)
            totals.append(int(round(v * unit / page_size)))
            movable.append(bool(_field(node, "movable", w, bool, False)))
            sm = _field(node, "start_mib", w, (int, float), None)
            if sm is not None and (not math.isfinite(sm) or sm < 0 or sm * _MIB > MAX_PHYS_BYTES):
                raise NumalabError(f"start_mib {sm} is outside 0..{MAX_PHYS_BYTES >> 20}", input=w)
            starts.append(-1 if sm is None else int(sm * _MIB // page_size))
    distance = doc.get("distance")
    if distance is not None:  # rows of ints, square, one per node: checked before any array
        k = len(distance)
        for r, row in enumerate(distance):
            if not isinstance(row, list):
                raise NumalabError(f"distance row {r} must be a list of integers", input=where)
            if len(row) != k:
                raise NumalabError(f"distance matrix is not square (row {r} has {len(row)} values, "
                                   f"there are {k} rows)", input=where)
            for c, v in enumerate(row):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise NumalabError(f"distance [{r}][{c}] must be an integer, not {type(v).__name__}",
                                       input=where)
        if k != len(nodes):
            raise NumalabError(f"distance matrix is {k}x{k} but there are {len(nodes)} nodes", input=where)
    states = None
    if "states" in doc:
        st = _field(doc, "states", where, dict)
        states = {}
        idset = set(ids)
        for key, val in st.items():
            if key not in STATES:
                raise NumalabError(f"unknown node state {key!r} (known: {', '.join(STATES)})", input=where)
            lst = _nodelist(val, f"{where}: states.{key}") if isinstance(val, str) else val
            if not isinstance(lst, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in lst):
                raise NumalabError(f"states.{key} must be a node list", input=where)
            stray = sorted(set(lst) - idset)
            if stray:
                raise NumalabError(f"states.{key} names node {stray[0]}, which is not in 'nodes'", input=where)
            states[key] = [x in set(lst) for x in ids]
        if "possible" in states:
            possible = states.pop("possible")
        if "online" in states:
            online = states.pop("online")
    meta = dict(doc.get("meta") or {})  # an object (checked above) of strict-JSON values
    for key in ("description", "provenance", "tags", "arch"):
        if key in doc:
            meta.setdefault(key, doc[key])
    notes = doc.get("notes", ())
    notes = [notes] if isinstance(notes, str) else list(notes)
    if exact is False and doc.get("arch") not in (None, "x86_64"):
        notes.append(f"this is a {doc['arch']} machine: zones were laid out as an x86_64 kernel would")
    emu = _field(doc, "numa_emulation", where, bool, False)
    cpulists = None
    if emu:  # numa=fake=: 'cpus' is each node's cpulist, a CPU may be in several
        owner = cpu_to_node_of_cpulists(ids, cpus, where)
        cpulists, cpus = cpus, [[c for c in cl if owner[c] == nid] for nid, cl in zip(ids, cpus)]
    t = _build(str(doc.get("name", pathlib.Path(str(where)).stem)), ids, cpus, distance,
               cpulists=cpulists, kernel_distance=emu,
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
            text = read_regular(path, where, follow=True)
        except FileNotFoundError:
            raise NumalabError("no such file", input=where) from None
    else:
        text, where = str(text_or_path), where or "JSON text"
    return from_dict(read_json_text(text, where), where=where)


def to_dict(t: Topology) -> dict:
    """The JSON structure of a Topology: exact zones, every state, distances as stored.

    ``from_dict(to_dict(t)) == t`` for every topology.
    """
    nodes = []
    for i, nid in enumerate(t.node_ids.tolist()):
        zones = {zn: {"present": int(t.present_pages[i, k]), "managed": int(t.managed_pages[i, k])}
                 for k, zn in enumerate(t.zone_types)
                 if t.present_pages[i, k] or t.managed_pages[i, k]}
        node = {"id": nid, "cpus": format_cpulist(t.cpumask_of(i)),
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
    if t.cpumask is not None:
        doc["numa_emulation"] = True
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
