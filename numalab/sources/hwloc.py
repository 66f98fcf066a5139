"""hwloc XML (v2): NUMANode objects, their PUs and the NUMALatency distances."""
from __future__ import annotations

import re

from ..errors import NumalabError
from ..topology import Topology
from .common import MAX_CPUS, MAX_PHYS_BYTES, _build, excerpt, parse_cpumask

__all__ = ["from_hwloc_xml"]


# ====================================================================== hwloc XML v2
def from_hwloc_xml(text: str, *, where="hwloc XML", name="hwloc") -> Topology:
    """A Topology from hwloc XML v2 (``lstopo foo.xml``): NUMANode objects and ``distances2``.

    Node id = NUMANode ``os_index``; memory = ``local_memory`` (bytes; zones laid out by
    address); CPUs = the ``os_index`` of the PU objects in the node's ``cpuset``; distances from
    the ``distances2`` block of NUMANode type (``NUMALatency``), mapped by ``indexes``.
    """
    import xml.etree.ElementTree as ET

    def num(o, attr, hi, default=None):
        """A decimal attribute of an object, checked (digits only, at most ``hi``) before int()."""
        v = o.get(attr)
        what = f"{o.get('type', 'object')} attribute {attr!r}"
        if v is None:
            if default is None:
                raise NumalabError(f"{what} is missing", input=where)
            return default
        v = v.strip()
        if not re.fullmatch(r"[0-9]{1,20}", v):
            raise NumalabError(f"{what} = {excerpt(v)} is not a non-negative integer", input=where)
        if int(v) > hi:
            raise NumalabError(f"{what} = {v} is above {hi}", errno="ERANGE", input=where)
        return int(v)

    try:
        root = ET.fromstring(text)
    except (ET.ParseError, RecursionError) as e:
        raise NumalabError(f"not valid XML: {e}", input=where) from None
    if root.tag != "topology":
        raise NumalabError("root element is not <topology>", input=where)
    objs = list(root.iter("object"))
    pus = {}
    for o in objs:
        if o.get("type") == "PU":
            pus[num(o, "os_index", MAX_CPUS - 1)] = o.get("cpuset")

    def cpuset_bits(s):
        """hwloc bitmap text: the kernel's hex mask with a ``0x`` before every 32-bit word."""
        words = (s or "").split(",")
        return set(parse_cpumask(",".join(w.strip().removeprefix("0x") for w in words),
                                 f"{where}: cpuset"))

    nodes = [o for o in objs if o.get("type") == "NUMANode"]
    if not nodes:
        raise NumalabError("no NUMANode object", input=where)
    ids, cpus, totals = [], [], []
    pu_bits = {pu: cpuset_bits(cs) for pu, cs in pus.items()}
    for o in nodes:
        nid = num(o, "os_index", (1 << 10) - 1)
        bits = cpuset_bits(o.get("cpuset"))
        ids.append(nid)
        cpus.append(sorted(pu for pu, b in pu_bits.items() if b and b <= bits) if pus else sorted(bits))
        totals.append(num(o, "local_memory", MAX_PHYS_BYTES, 0) // 4096)
    distance = None
    for d in root.iter("distances2"):
        if d.get("type") != "NUMANode":
            continue
        idx_el = d.find("indexes")
        val_el = d.find("u64values")
        if idx_el is None or val_el is None:
            continue
        def ints(el, what):
            toks = (el.text or "").split()
            if not all(re.fullmatch(r"[0-9]{1,20}", x) for x in toks):
                bad = next(x for x in toks if not re.fullmatch(r"[0-9]{1,20}", x))
                raise NumalabError(f"distances2 {what}: {excerpt(bad)} is not a non-negative integer", input=where)
            return [int(x) for x in toks]

        order = ints(idx_el, "indexes")
        k = len(order)
        if k != len(nodes):  # checked before the values are read into a k x k table
            raise NumalabError(f"distances2 lists {k} nodes, there are {len(nodes)} NUMANode objects", input=where)
        vals = ints(val_el, "u64values")
        if len(vals) != k * k:
            raise NumalabError(f"distances2 has {len(vals)} values for {k} nodes", input=where)
        if d.get("indexing", "os") != "os":  # gp indexes: map gp_index -> os_index
            gp = {num(o, "gp_index", 1 << 63): num(o, "os_index", (1 << 10) - 1) for o in nodes}
            if not all(x in gp for x in order):
                raise NumalabError("distances2 names a gp_index no NUMANode has", input=where)
            order = [gp[x] for x in order]
        pos = {nid: j for j, nid in enumerate(order)}
        if sorted(order) != sorted(ids):
            raise NumalabError("distances2 does not cover every NUMANode", input=where)
        distance = [[vals[pos[a] * k + pos[b]] for b in ids] for a in ids]
        break
    return _build(name, ids, cpus, distance, totals=totals, where=where, source=where)
