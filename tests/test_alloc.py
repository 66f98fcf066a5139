"""numalab.alloc: eligible nodes, placement per mode, page migration, scenarios."""
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from numalab import alloc, mempolicy as mp, sources, zonelist
from numalab.reference import mempolicy as ref
from numalab.reference import zonelist as refzl

SNAP = pathlib.Path(__file__).resolve().parent / "data" / "kernel-truth" / "snapshots"


@pytest.fixture(scope="module")
def cxl4():
    t = sources.load(str(SNAP / "cxl4"))
    return t, zonelist.build(t, "6.1", "boot")


def mask(ids, nbits=1024):
    m = np.zeros(nbits, bool)
    m[list(ids)] = True
    return m


def test_eligible_orders_on_cxl4(cxl4):
    t, zl = cxl4
    reach = alloc.node_reach(zl, zonelist.gfp_zone(alloc.USER_GFP, t))
    # node 0's fallback order is 0 2 1 3 (distances 10, 14, 21, 24)
    assert alloc.eligible_nodes(zl, reach, 0, np.ones(4, bool)).tolist() == [0, 2, 1, 3]
    assert alloc.eligible_nodes(zl, reach, 0, np.array([0, 1, 0, 1], bool)).tolist() == [1, 3, -1, -1]
    assert alloc.first_allowed(zl, reach, np.array([3, 2]), np.array([1, 1, 0, 0], bool)).tolist() == [1, 0]


def test_place_per_mode(cxl4):
    t, zl = cxl4
    allowed = mask([1, 2, 3])
    pols = mp.create(["local", "preferred", "bind", "bind", "preferred_many", "interleave"], [0] * 6,
                     mp.from_nodes([[], [0], [1, 3], [0], [0], [1, 3]], 1024), mask(range(4)), "6.1")
    out, elig = alloc.place(pols, zl, allowed, 0, 4)
    assert out[0].tolist() == [2] * 4            # local: node 0's order filtered by 1-3 -> 2
    assert out[1].tolist() == [2] * 4            # preferred 0 outside the cpuset: its order -> 2
    assert out[2].tolist() == [1] * 4            # bind {1,3}: closest bound node from node 0
    assert out[3].tolist() == [2] * 4            # bind {0} misses the cpuset: ignored
    assert out[4].tolist() == [2] * 4            # preferred_many {0} misses: second pass
    assert out[5].tolist() == [1, 3, 1, 3]
    assert elig[2] == [1, 3] and elig[4] == [2, 1, 3]


@settings(max_examples=150)
@given(st.sets(st.integers(0, 9), min_size=1), st.sets(st.integers(0, 9), min_size=1),
       st.lists(st.integers(0, 11), max_size=30))
def test_migrate_matches_reference(frm, to, pages):
    got = alloc.migrate_pages(np.array(pages, int), mask(frm, 16), mask(to, 16))
    assert got.tolist() == ref.migrate(pages, frm, to)


def test_migrate_vectors():
    f, t = mask([0, 1, 2, 3], 8), mask([0, 1], 8)
    assert alloc.migrate_pages(np.array([0, 1, 2, 3]), f, t).tolist() == [0, 1, 0, 1]
    # back to a wider set: a node also in the new set stays when the weights differ
    assert alloc.migrate_pages(np.array([2, 2]), mask([2], 8), mask([0, 1, 2, 3], 8)).tolist() == [2, 2]


_REF_ORDERS = {}


def _reference_orders(t):
    if t.name not in _REF_ORDERS:
        built = refzl.build_all_zonelists(t, "6.1", "boot")
        hz = refzl.gfp_zone(0x0A, tuple(t.zone_types))            # GFP_HIGHUSER_MOVABLE
        _REF_ORDERS[t.name] = {s: list(dict.fromkeys(nid for nid, _ in refzl.iterate(built["fallback"][s], hz)))
                               for s in built["fallback"]}
    return _REF_ORDERS[t.name]


def test_reference_orders_on_cxl4_by_hand(cxl4):
    # cxl4 distances: 0-2 14, 1-3 14, 0-1 21, 0-3 24, 1-2 24, 2-3 26; at boot no CPU penalty,
    # node_load bumps (v5.19+: += 1) the first node of each new distance group
    t, _ = cxl4
    assert _reference_orders(t) == {0: [0, 2, 1, 3], 1: [1, 3, 0, 2], 2: [2, 0, 1, 3], 3: [3, 1, 0, 2]}


@settings(max_examples=150)
@given(mode=st.integers(1, 6), flags=st.sampled_from([0, mp.MPOL_F_STATIC_NODES, mp.MPOL_F_RELATIVE_NODES]),
       user=st.sets(st.integers(0, 5), min_size=1), allowed=st.sets(st.integers(0, 3), min_size=1),
       cpu=st.integers(0, 3), off=st.integers(-7, 7))
def test_place_matches_reference(mode, flags, user, allowed, cpu, off, cxl4):
    t, zl = cxl4
    kv = "6.12"
    b = mp.create([mode], [flags], mp.from_nodes([sorted(user)], 1024), mask(allowed), kv)
    r = ref.create(mode, flags, user, allowed, kv)
    # the reference's own zonelists (never the engine's): the nodes of each node's FALLBACK
    # zonelist that hold a zone the user-page gfp may use, in zonelist order
    orders = _reference_orders(t)
    got, _ = alloc.place(b, zl, mask(allowed), cpu, 9, ilx_offset=off)
    want = ref.place(r, orders, allowed, cpu, 9, ilx_offset=off)
    assert got[0].tolist() == want


@settings(max_examples=100)
@given(mode=st.sampled_from([2, 5]), user=st.sets(st.integers(0, 3), min_size=1),
       allowed=st.sets(st.integers(0, 3), min_size=1), cpu=st.integers(0, 3), home=st.integers(0, 3))
def test_place_with_home_node_matches_reference(mode, user, allowed, cpu, home, cxl4):
    """BIND and PREFERRED_MANY with a home node start at the home node's zonelist (v5.17+)."""
    t, zl = cxl4
    b = mp.create([mode], [0], mp.from_nodes([sorted(user)], 1024), mask(allowed), "6.12", call="mbind")
    b, err = mp.set_home_node(b, home, "6.12")
    r = ref.create(mode, 0, user, allowed, "6.12")
    orders = _reference_orders(t)            # the reference's own zonelists, never the engine's
    got, _ = alloc.place(b, zl, mask(allowed), cpu, 3)
    want = ref.place(r, orders, allowed, cpu, 3, home=home if err[0] is None else None)
    assert got[0].tolist() == want


def ids(m):
    return np.flatnonzero(m).tolist()


def test_scenario_scopes(cxl4):
    t, zl = cxl4
    kw = dict(mems="0-3", then_mems=["0-1"], mode="bind", flags=["static"], nodes="3", pages=2, zonelists=zl)
    task = alloc.run_scenario(t, "6.1", scope="task", **kw)
    shm = alloc.run_scenario(t, "6.1", scope="shm", **kw)
    # the shared policy is never rebound: BIND {3} misses 0-1, so it is ignored (cpuset only)
    assert ids(task.steps[1].nodes) == [0, 1] and ids(shm.steps[1].nodes) == [3]
    assert shm.steps[1].placement.tolist() == [0, 0]
    assert [o.tolist() for o in shm.steps[1].old_pages] == [[1, 1]]
    old = alloc.run_scenario(t, "4.10", scope="task", mems="0-1", then_mems=["2-3"], mode="bind", nodes="0",
                             pages=1)
    assert ids(old.steps[1].transient_nodes) == [0, 2] and ids(old.steps[1].nodes) == [2]
    assert task.steps[0].transient_nodes is None


def test_scenario_is_arrays_and_numbers(cxl4):
    t, zl = cxl4
    r = alloc.run_scenario(t, "6.1", mems="0-3", then_mems=["0-1"], mode="interleave", nodes="0-3", pages=4,
                           zonelists=zl)
    assert (r.error, r.kernel, r.topology, r.scope, r.cpu_node) == (None, "6.1", t.name, "task", 0)
    assert r.mode == mp.MODES["INTERLEAVE"] and r.flags == 0
    s0, s1 = r.steps
    assert s0.mems.dtype == bool and s0.mems.shape == (t.max_numnodes,) and ids(s0.mems) == [0, 1, 2, 3]
    assert ids(s1.mems) == [0, 1] and ids(s1.effective) == [0, 1] and ids(s1.mems_allowed) == [0, 1]
    # interleave over 0-3 from page offset 0; step 1 is a fresh mapping just below (offset -4)
    assert s0.placement.tolist() == [0, 1, 2, 3]
    assert s0.reported_mode == mp.MODES["INTERLEAVE"] and ids(s0.reported_nodes) == [0, 1, 2, 3]
    # rebound onto 0-1 (nodes_remap of 0-3 onto 0-1): offsets -4..-1 -> nodes 0 1 0 1
    assert ids(s1.nodes) == [0, 1] and s1.placement.tolist() == [0, 1, 0, 1]
    # migration: node_remap(0-3 -> 0-1) moves 2 -> 0 and 3 -> 1
    assert [o.tolist() for o in s1.old_pages] == [[0, 1, 0, 1]]
    assert not s0.placement.flags.writeable and not s1.nodes.flags.writeable
    assert alloc.run_scenario(t, "6.1", mode="bind", nodes="3", pages=1).steps[0].mems is None
