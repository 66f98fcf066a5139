"""hwloc XML (v2): NUMANode objects, their PUs and the NUMALatency distances."""
from __future__ import annotations

from ..errors import NumalabError
from ..topology import Topology
from .common import _build, parse_cpumask

__all__ = ["from_hwloc_xml"]


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
