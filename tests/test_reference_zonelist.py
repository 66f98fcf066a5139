"""numalab.reference.zonelist (plain loops) against the recordings, and engine vs reference.

The hypothesis tests draw random machines (ties, asymmetric matrices, sparse ids, memoryless and
CPU-less nodes, offline-but-possible nodes, managed != present) and compare the vectorized
engine with the scalar reference exactly, for every named kernel version and every release where
a zonelist variant starts or ends, at boot and at a rebuild.
"""
import json

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from conftest import DATA
from numalab import kernel as kmod, sources
from numalab import zonelist as zlm
from numalab.cli.zonelists import load_topology
from numalab.reference import zonelist as ref
from numalab.topology import Topology

TRUTH = DATA / "kernel-truth" / "snapshots"
SNAPSHOTS = sorted(p.name for p in TRUTH.iterdir())
ZONELIST_VARIANTS = ("node_load_assign", "node_load_accumulate", "node_load_increment", "load_scale_online",
                     "zones_managed", "zones_populated", "build_possible_nodes", "skip_memoryless_local",
                     "zone_order_mode")


def _boundaries():
    out = set(kmod.NAMED_VERSIONS)
    for v in kmod.VARIANTS:
        if v.name in ZONELIST_VARIANTS:
            for edge in (v.since, v.until):
                if edge is not None and kmod.OLDEST <= edge <= kmod.NEWEST:
                    out.add("%d.%d" % edge)
                    if edge[1] > 0 and (edge[0], edge[1] - 1) >= kmod.OLDEST:
                        out.add("%d.%d" % (edge[0], edge[1] - 1))
    out.add("5.17")
    return sorted(out, key=lambda s: tuple(map(int, s.split("."))))


VERSIONS = _boundaries()


# ------------------------------------------------------------------ reference vs recordings
@pytest.mark.parametrize("name", SNAPSHOTS)
def test_reference_reproduces_recordings(name):
    exp = json.loads((TRUTH / name / "expected.json").read_text())
    t = load_topology(str(TRUTH / name))
    boot = ref.build_all_zonelists(t, "6.1", "boot")["order"]
    assert {str(k): v for k, v in boot.items()} == exp["fallback_order_boot"]
    final = ref.build_all_zonelists(t, "6.1", "rebuild" if exp["hotplug_dimms"] else "boot")["order"]
    assert {str(k): v for k, v in final.items()} == exp["fallback_order_final"]


def test_reference_worked_examples():
    d = [[10, 11, 21, 21], [11, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]]
    pages = np.zeros((4, 5), np.int64)
    pages[:, 2] = 1000
    t = Topology(name="B", node_ids=np.arange(4), distance=d, cpu_ids=np.arange(4), cpu_node=np.arange(4),
                 present_pages=pages, managed_pages=pages)
    assert ref.build_all_zonelists(t, "5.15")["order"][3] == [3, 2, 0, 1]
    assert ref.build_all_zonelists(t, "5.16")["order"][3] == [3, 2, 1, 0]
    zones = np.zeros((2, 5), np.int64)
    zones[0, :3] = 100
    zones[1, 2] = 100
    e = Topology(name="E", node_ids=[0, 1], distance=[[10, 20], [20, 10]], cpu_ids=[0, 1], cpu_node=[0, 1],
                 present_pages=zones, managed_pages=zones)
    r = ref.build_all_zonelists(e, "6.18")
    assert r["fallback"][1] == [(1, 2), (0, 2), (0, 1), (0, 0)]
    assert r["nofallback"][0] == [(0, 2), (0, 1), (0, 0)]
    assert ref.iterate(r["fallback"][1], ref.gfp_zone(0x4)) == [(0, 1), (0, 0)]
    assert ref.iterate(r["fallback"][1], 2, {1}) == [(1, 2)]
    assert ref.build_all_zonelists(e, "4.10", zonelist_order="zone")["fallback"][0] == \
        [(0, 2), (1, 2), (0, 1), (0, 0)]


# ------------------------------------------------------------------ random machines
@st.composite
def machines(draw):
    n = draw(st.integers(1, 7))
    ids = sorted(draw(st.sets(st.integers(0, 60), min_size=n, max_size=n)))
    palette = draw(st.sampled_from([(20,), (11, 21), (12, 32), (10, 16, 20, 32), (13, 14, 20, 21, 24, 26),
                                    tuple(range(10, 41))]))
    local = draw(st.sampled_from([10, 10, 10, 11]))
    symmetric = draw(st.booleans())
    dist = np.full((n, n), local, np.int64)
    for i in range(n):
        for j in range(n):
            if i != j and (not symmetric or j > i):
                dist[i, j] = draw(st.sampled_from(palette))
                if symmetric:
                    dist[j, i] = dist[i, j]
    online = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    online[draw(st.integers(0, n - 1))] = True  # at least one online node
    has_cpu = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    cpu_node = [i for i in range(n) if has_cpu[i] and online[i]]
    present = np.zeros((n, 5), np.int64)
    managed = np.zeros((n, 5), np.int64)
    for i in range(n):
        if not online[i]:
            continue
        for z in draw(st.sets(st.sampled_from(range(5)), max_size=3)):
            present[i, z] = draw(st.sampled_from([1, 1000, 262144]))
            managed[i, z] = draw(st.sampled_from([0, present[i, z]]))
    return Topology(name="random", node_ids=np.array(ids), distance=dist, cpu_ids=np.arange(len(cpu_node)),
                    cpu_node=np.array(cpu_node, np.int64), present_pages=present, managed_pages=managed,
                    online=online)


def _engine_as_reference(zl):
    t = zl.topology
    Z = t.max_nr_zones
    out = {"order": {}, "fallback": {}, "nofallback": {}, "node_load_before": {}}
    for i in np.flatnonzero(zl.built):
        nid = int(t.node_ids[i])
        out["order"][nid] = zl.fallback_order(nid)
        out["fallback"][nid] = [(int(t.node_ids[c // Z]), int(c % Z)) for c in zl.fallback[i, : zl.fallback_len[i]]]
        out["nofallback"][nid] = [(int(t.node_ids[c // Z]), int(c % Z))
                                  for c in zl.nofallback[i, : zl.nofallback_len[i]]]
        out["node_load_before"][nid] = zl.node_load[i].tolist()
    out["policy_zone"] = zl.policy_zone
    return out


@given(t=machines(), version=st.sampled_from(VERSIONS), when=st.sampled_from(["boot", "rebuild"]),
       zone_order=st.booleans())
def test_engine_equals_reference(t, version, when, zone_order):
    order = "zone" if zone_order and kmod.profile(version).zone_order_mode else "node"
    got = _engine_as_reference(zlm.build(t, version, when, zonelist_order=order))
    want = ref.build_all_zonelists(t, version, when, zonelist_order=order)
    assert got["order"] == want["order"]
    assert got["fallback"] == want["fallback"]
    assert got["nofallback"] == want["nofallback"]
    assert got["policy_zone"] == want["policy_zone"]
    assert got["node_load_before"] == want["node_load_before"]


@given(t=machines(), version=st.sampled_from(VERSIONS), when=st.sampled_from(["boot", "rebuild"]),
       bits=st.sampled_from([0, 1, 2, 4, 8, 9, 10, 12]), thisnode=st.booleans(), data=st.data())
def test_iteration_equals_reference(t, version, when, bits, thisnode, data):
    zl = zlm.build(t, version, when)
    want_all = ref.build_all_zonelists(t, version, when)
    n = t.n_nodes
    built = np.flatnonzero(zl.built)
    assume(built.size > 0)
    starts = np.array(data.draw(st.lists(st.sampled_from(built.tolist()), min_size=1, max_size=4)))
    masks = np.array(data.draw(st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=1, max_size=3)))
    hz = ref.gfp_zone(bits)
    assert zlm.gfp_zone(bits, t) == hz
    which = "NOFALLBACK" if thisnode else "FALLBACK"
    got = zlm.candidates(zl, starts[:, None], hz, masks[None, :, :], zonelist=which)
    assert got.shape[:2] == (starts.size, masks.shape[0])
    Z = t.max_nr_zones
    for a, s in enumerate(starts):
        nid = int(t.node_ids[s])
        lst = want_all["nofallback" if thisnode else "fallback"][nid]
        for b, m in enumerate(masks):
            allowed = {int(t.node_ids[i]) for i in np.flatnonzero(m)}
            want = ref.iterate(lst, hz, allowed)
            row = [c for c in got[a, b].tolist() if c >= 0]
            assert [(int(t.node_ids[c // Z]), c % Z) for c in row] == want
        # no nodemask: all zones up to hz
        row = [c for c in zlm.candidates(zl, s, hz, zonelist=which).tolist() if c >= 0]
        assert [(int(t.node_ids[c // Z]), c % Z) for c in row] == ref.iterate(lst, hz)


def test_engine_equals_reference_on_every_preset():
    """The real machines of numalab.sources (sparse ids, memoryless and CPU-less nodes, CXL/HBM)."""
    presets = [name for name, _ in sources.presets()]
    assert presets
    for name in presets:
        t = sources.load(name)
        for version in ("4.10", "5.15", "5.16", "5.18", "6.1", "6.8"):
            for when in ("boot", "rebuild"):
                got = _engine_as_reference(zlm.build(t, version, when))
                want = ref.build_all_zonelists(t, version, when)
                for key in ("order", "fallback", "nofallback", "policy_zone", "node_load_before"):
                    assert got[key] == want[key], (name, version, when, key)
