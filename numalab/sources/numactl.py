"""``numactl --hardware`` text: read it (:func:`from_numactl_hardware`) and write it."""
from __future__ import annotations

import re

import numpy as np

from ..errors import NumalabError
from ..topology import Topology
from .common import MAX_NODES_SHIFT, MAX_PHYS_BYTES, _build, excerpt, format_cpulist, parse_cpulist

__all__ = ["from_numactl_hardware", "to_numactl_hardware"]


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
    max_id = (1 << MAX_NODES_SHIFT) - 1

    def node_id(digits, w):
        v = int(digits)  # at most 20 digits (the patterns say so)
        if v > max_id:
            raise NumalabError(f"node id {v} is outside 0..{max_id} (MAX_NUMNODES)", errno="ERANGE", input=w)
        return v

    def put(d, key, value, what, w):
        if key in d:
            raise NumalabError(f"node {key} has two '{what}' lines", input=w)
        d[key] = value

    for lineno, line in enumerate(text.splitlines(), 1):
        w = f"{where} line {lineno}"
        s = line.strip()
        if not s:
            continue
        m = re.fullmatch(r"node\s+(\d{1,20})\s+cpus:(.*)", s)
        if m:
            put(cpus, node_id(m.group(1), w), parse_cpulist(m.group(2), w), "cpus:", w)
            continue
        m = re.fullmatch(r"node\s+(\d{1,20})\s+(size|free):\s*(\d{1,20})\s*(MB|kB|GB)", s)
        if m:
            unit = {"kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m.group(4)]
            value = int(m.group(3)) * unit
            if value > MAX_PHYS_BYTES:
                raise NumalabError(f"{m.group(2)} {m.group(3)} {m.group(4)} is more than a 64-bit kernel can "
                                   "address", errno="ERANGE", input=w)
            put(size if m.group(2) == "size" else free, node_id(m.group(1), w), value, m.group(2) + ":", w)
            continue
        if re.fullmatch(r"node\s+(\d+)\s+(size|free):.*", s):
            raise NumalabError("cannot read the size (expected e.g. '1024 MB')", input=w)
        if s.startswith("node distances"):
            in_dist = True
            continue
        if in_dist:
            m = re.fullmatch(r"node((?:\s+\d{1,20})+)", s)
            if m:
                if header is not None:
                    raise NumalabError("a second distance table header", input=w)
                header = [node_id(x, w) for x in m.group(1).split()]
                continue
            m = re.fullmatch(r"(\d{1,20}):((?:\s+\d{1,20})+)", s)
            if m:
                put(rows, node_id(m.group(1), w), [int(x) for x in m.group(2).split()], "distance row", w)
                continue
            raise NumalabError(f"unexpected line in the distance table: {excerpt(s)}", input=w)
        if s.startswith("available:") or s.startswith("No distance information"):
            continue
        raise NumalabError(f"unexpected line: {excerpt(s)}", input=w)
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
