"""numalab.zonelist: node order, zonelists and iteration; numalab.viz.text: explanation and boot log.

Expected values come from (a) the real-kernel recordings in tests/data/kernel-truth, (b) the
worked examples of kernel-semantics.md section 1.8 and (c) small cases computed by hand in the
comments. None is produced by numalab itself.
"""
import json

import numpy as np
import pytest

from conftest import DATA
from numalab import zonelist as zlm
from numalab.cli.zonelists import load_topology
from numalab.errors import NumalabError
from numalab.topology import Topology
from numalab.viz.text import boot_log_lines, explain
from zonelist_examples import worked_examples

TRUTH = DATA / "kernel-truth" / "snapshots"
SNAPSHOTS = sorted(p.name for p in TRUTH.iterdir())
ZONES = ("DMA", "DMA32", "Normal", "Movable", "Device")


def topo(dist, cpus=None, zones=None, ids=None, online=None, possible=None, managed=None, **kw):
    """A Topology from plain lists: ``zones[i]`` lists zone names holding 1000 pages on node i."""
    n = len(dist)
    ids = list(range(n)) if ids is None else ids
    cpus = list(range(n)) if cpus is None else list(cpus)
    zones = [["Normal"]] * n if zones is None else zones
    present = np.zeros((n, 5), np.int64)
    for i, zs in enumerate(zones):
        for z in zs:
            present[i, ZONES.index(z)] = 1000
    return Topology(name=kw.pop("name", "t"), node_ids=np.array(ids), distance=np.array(dist),
                    cpu_ids=np.arange(len(cpus)), cpu_node=np.array(cpus, np.int64),
                    present_pages=present, managed_pages=present if managed is None else managed,
                    online=online, possible=possible, **kw)


def flat(n, remote=20):
    return [[10 if i == j else remote for j in range(n)] for i in range(n)]


def orders(zl):
    ids = zl.topology.node_ids[zl.built]
    return {int(i): zl.fallback_order(int(i)) for i in ids}


# ------------------------------------------------------------------ real-kernel recordings
@pytest.mark.parametrize("name", SNAPSHOTS)
def test_recorded_boot_order_6_1(name):
    exp = json.loads((TRUTH / name / "expected.json").read_text())
    zl = zlm.build(load_topology(str(TRUTH / name)), "6.1", "boot")
    assert {str(k): v for k, v in orders(zl).items()} == exp["fallback_order_boot"]


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_recorded_final_order_6_1(name):
    """fallback_order_final: the last build printed; a rebuild only where memory was hot-added."""
    exp = json.loads((TRUTH / name / "expected.json").read_text())
    when = "rebuild" if exp["hotplug_dimms"] else "boot"
    zl = zlm.build(load_topology(str(TRUTH / name)), "6.1", when)
    assert {str(k): v for k, v in orders(zl).items()} == exp["fallback_order_final"]


def test_boot_and_rebuild_differ_on_penalty_tie_hotplug():
    t = load_topology(str(TRUTH / "penalty-tie-hotplug"))
    boot, rebuild = zlm.build(t, "6.1", "boot"), zlm.build(t, "6.1", "rebuild")
    assert boot.fallback_order(0) == [0, 1, 2, 3]
    assert rebuild.fallback_order(0) == [0, 2, 3, 1]
    assert rebuild.cpu_penalised.tolist() == [True, True, False, False]
    assert not boot.cpu_penalised.any()


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_recorded_zones(name):
    """Each node's NOFALLBACK list holds exactly the populated zones the kernel reported."""
    exp = json.loads((TRUTH / name / "expected.json").read_text())
    zl = zlm.build(load_topology(str(TRUTH / name)), "6.1")
    for nid, zones in exp["zones"].items():
        got = [z for _, z in zl.zonelist(int(nid), zlm.NOFALLBACK)]
        assert sorted(got, key=ZONES.index) == zones


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_recorded_order_6_12(name):
    exp = json.loads((TRUTH / name / "expected.json").read_text())["fallback_order_boot"]
    diff = json.loads((DATA / "kernel-truth" / "debian-6.12.json").read_text())["differences_from_6.1"]
    exp = {**exp, **diff.get(name, {})}
    zl = zlm.build(load_topology(str(TRUTH / name)), "6.12", "boot")
    assert {str(k): v for k, v in orders(zl).items()} == exp


def test_memoryless_cpu_node_6_1_vs_6_12():
    t = load_topology(str(TRUTH / "memoryless-cpu"))
    assert zlm.build(t, "6.1").fallback_order(1) == [1, 2, 0]
    assert zlm.build(t, "6.12").fallback_order(1) == [2, 0]
    # never in other nodes' orders, contributes no zones
    for v in ("6.1", "6.12"):
        zl = zlm.build(t, v)
        assert 1 not in zl.fallback_order(0) and 1 not in zl.fallback_order(2)
        assert zl.zonelist(1, "NOFALLBACK") == []
        assert all(n != 1 for n, _ in zl.zonelist(1))


def test_recorded_policy_zone_and_boot_log():
    zl = zlm.build(load_topology(str(TRUTH / "two-node")), "6.1")
    assert zl.policy_zone_name == "DMA32"  # only DMA and DMA32 populated
    assert boot_log_lines(zl)[0] == "Fallback order for Node 0: 0 1 "
    assert boot_log_lines(zl)[-1] == "Policy zone: DMA32"
    zl = zlm.build(load_topology(str(TRUTH / "zones-split")), "6.1")
    assert zl.policy_zone_name == "Normal"


# ------------------------------------------------------------ worked examples (section 1.8)
VERSIONS = ("4.10", "4.13", "5.15", "5.16", "5.19", "6.1", "6.8", "6.18")


@pytest.mark.parametrize("v", VERSIONS)
def test_example_a_flat(v):
    zl = zlm.build(topo(flat(4)), v)
    assert orders(zl) == {0: [0, 1, 2, 3], 1: [1, 2, 3, 0], 2: [2, 3, 0, 1], 3: [3, 0, 1, 2]}
    zl8 = zlm.build(topo(flat(8)), v)
    for k in range(8):
        assert zl8.fallback_order(k) == list(range(k, 8)) + list(range(k))


B = [[10, 11, 21, 21], [11, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]]


@pytest.mark.parametrize("v,n3", [("4.10", [3, 2, 0, 1]), ("4.13", [3, 2, 0, 1]), ("5.15", [3, 2, 0, 1]),
                                  ("5.16", [3, 2, 1, 0]), ("5.19", [3, 2, 1, 0]), ("6.1", [3, 2, 1, 0]),
                                  ("6.18", [3, 2, 1, 0])])
def test_example_b_subnuma(v, n3):
    for when in ("boot", "rebuild"):
        zl = zlm.build(topo(B), v, when)
        assert orders(zl) == {0: [0, 1, 2, 3], 1: [1, 0, 3, 2], 2: [2, 3, 0, 1], 3: n3}


C = [[10, 21, 14, 24], [21, 10, 24, 14], [14, 24, 10, 26], [24, 14, 26, 10]]


@pytest.mark.parametrize("v", VERSIONS)
@pytest.mark.parametrize("when", ["boot", "rebuild"])
def test_example_c_cxl(v, when):
    zl = zlm.build(topo(C, cpus=[0, 1]), v, when)
    assert orders(zl) == {0: [0, 2, 1, 3], 1: [1, 3, 0, 2], 2: [2, 0, 1, 3], 3: [3, 1, 0, 2]}


@pytest.mark.parametrize("v,n1", [("4.10", [1, 2, 0]), ("5.15", [1, 2, 0]), ("6.1", [1, 2, 0]),
                                  ("6.6", [1, 2, 0]), ("6.7", [2, 0]), ("6.18", [2, 0])])
def test_example_d_memoryless(v, n1):
    zl = zlm.build(topo(flat(3), zones=[["Normal"], [], ["Normal"]]), v)
    assert orders(zl) == {0: [0, 2], 1: n1, 2: [2, 0]}


def test_example_e_zones_and_iteration():
    t = topo(flat(2), zones=[["DMA", "DMA32", "Normal"], ["Normal"]])
    zl = zlm.build(t, "6.18")
    assert zl.zonelist(0) == [(0, "Normal"), (0, "DMA32"), (0, "DMA"), (1, "Normal")]
    assert zl.zonelist(0, "NOFALLBACK") == [(0, "Normal"), (0, "DMA32"), (0, "DMA")]
    assert zl.zonelist(1) == [(1, "Normal"), (0, "Normal"), (0, "DMA32"), (0, "DMA")]
    assert zlm.decode(zl, zlm.candidates(zl, 1, "GFP_KERNEL")) == zl.zonelist(1)
    assert zlm.decode(zl, zlm.candidates(zl, 1, "GFP_DMA32")) == [(0, "DMA32"), (0, "DMA")]
    only1 = np.array([False, True])
    assert zlm.decode(zl, zlm.candidates(zl, 1, "GFP_KERNEL", only1)) == [(1, "Normal")]
    assert zlm.decode(zl, zlm.candidates(zl, 1, "GFP_DMA32", only1)) == []
    # codes are node_index * Z + zone_type
    assert zl.fallback[1, :4].tolist() == [1 * 5 + 2, 0 * 5 + 2, 1, 0]
    assert zl.fallback_len.tolist() == [4, 4]


def test_legacy_zone_order_4_10():
    t = topo(flat(2), zones=[["DMA", "DMA32", "Normal"], ["Normal"]])
    zl = zlm.build(t, "4.10", zonelist_order="zone")
    # all Normal zones (in node order) before any DMA32 zone, then DMA
    assert zl.zonelist(0) == [(0, "Normal"), (1, "Normal"), (0, "DMA32"), (0, "DMA")]
    assert zl.zonelist(1) == [(1, "Normal"), (0, "Normal"), (0, "DMA32"), (0, "DMA")]
    assert zlm.build(t, "4.13", zonelist_order="zone").zonelist(0)[1] == (1, "Normal")
    with pytest.raises(NumalabError) as e:
        zlm.build(t, "4.14", zonelist_order="zone")
    assert e.value.errno == "EINVAL"


# ------------------------------------------------------------------ hand-computed cases
def test_penalty_tie_by_hand():
    """CPU nodes 0-1, memory-only 2-3, all remote 20 (6.1, scale MAX_NUMNODES=1024).

    rebuild, node 0: values 1:(20+1)*1024, 2: 20*1024, 3: 20*1024 -> 2 (lower id), node_load[2]=1;
    then 3 (20*1024 < 21*1024), then 1. Node 1: 0: (20+1+1), 2: 20*1024+1, 3: 20*1024 -> 3 2 0.
    """
    t = topo(flat(4), cpus=[0, 1])
    zl = zlm.build(t, "6.1", "rebuild")
    assert zl.fallback_order(0) == [0, 2, 3, 1]
    assert zl.fallback_order(1) == [1, 3, 2, 0]
    assert zl.node_load[1].tolist() == [0, 0, 1, 0]  # after node 0's build
    assert zl.scale == 1024
    assert zlm.build(t, "6.1", "boot").fallback_order(0) == [0, 1, 2, 3]


def test_scale_and_load_variants():
    t = topo(B)
    assert zlm.build(t, "5.15").scale == 4 * 1024  # nr_online_nodes * MAX_NUMNODES
    assert zlm.build(t, "5.19").scale == 1024
    # v5.15 assign: node 0's build sets node_load[1] = 3 (load 4 minus the local node),
    # node_load[2] = 2; v5.16 accumulates the same amounts; v5.19 adds 1.
    assert zlm.build(t, "5.15").node_load[1].tolist() == [0, 3, 2, 0]
    assert zlm.build(t, "5.16").node_load[1].tolist() == [0, 3, 2, 0]
    assert zlm.build(t, "5.19").node_load[1].tolist() == [0, 1, 1, 0]
    # node 1's build: 0 first of distance 11 -> v5.15 node_load[0] = 3; node 3 first of 21 -> = 2
    assert zlm.build(t, "5.15").node_load[2].tolist() == [3, 3, 2, 2]


def test_sparse_ids_use_ids_for_the_lower_id_penalty():
    # ids 0, 4, 9; flat 20: node 4 sees 0 (20+1) and 9 (20) -> 9 first
    t = topo(flat(3), ids=[0, 4, 9])
    zl = zlm.build(t, "6.1")
    assert zl.fallback_order(4) == [4, 9, 0]
    assert zl.fallback_order(9) == [9, 0, 4]
    assert zl.order[1].tolist() == [1, 2, 0]  # indices


def test_asymmetric_distances_use_local_row():
    d = [[10, 30, 20], [20, 10, 30], [30, 20, 10]]
    zl = zlm.build(topo(d), "6.1")
    assert orders(zl) == {0: [0, 2, 1], 1: [1, 0, 2], 2: [2, 1, 0]}


def test_remote_at_local_distance_gets_no_bump():
    # node 1 at distance 10 from 0: same distance as local -> no node_load bump on it
    d = [[10, 10, 20], [10, 10, 20], [20, 20, 10]]
    zl = zlm.build(topo(d), "6.1")
    assert zl.node_load[1].tolist() == [0, 0, 1]


def test_possible_offline_nodes_built_from_5_18():
    # node 2 possible but offline (no memory, no CPU): built by for_each_node from v5.18
    pages = np.zeros((3, 5), np.int64)
    pages[:2, 2] = 1000
    t = topo(flat(3), cpus=[0, 1], managed=pages, online=[True, True, False])
    t = t.replace(present_pages=pages)
    assert zlm.build(t, "5.17").built.tolist() == [True, True, False]
    zl = zlm.build(t, "5.18")
    assert zl.built.tolist() == [True, True, True]
    assert zl.fallback_order(2) == [2, 0, 1]        # local first, no memory, before v6.7
    assert zlm.build(t, "6.6").fallback_order(2) == [2, 0, 1]
    assert zlm.build(t, "6.7").fallback_order(2) == [0, 1]
    assert "Fallback order for Node 2" not in " ".join(boot_log_lines(zlm.build(t, "5.17")))


def test_managed_vs_populated_zones():
    present = np.zeros((2, 5), np.int64)
    present[:, 2] = 1000
    present[0, 1] = 500
    managed = present.copy()
    managed[0, 1] = 0  # DMA32 of node 0 fully ballooned out / reserved
    t = Topology(name="m", node_ids=[0, 1], distance=flat(2), cpu_ids=[0, 1], cpu_node=[0, 1],
                 present_pages=present, managed_pages=managed)
    assert (0, "DMA32") not in zlm.build(t, "5.17").zonelist(0)
    assert (0, "DMA32") in zlm.build(t, "5.18").zonelist(0)


def test_device_zone_never_listed_and_movable_not_policy_zone():
    t = topo(flat(2), zones=[["Normal", "Movable", "Device"], ["DMA32"]])
    zl = zlm.build(t)
    assert zl.zonelist(0) == [(0, "Movable"), (0, "Normal"), (1, "DMA32")]
    assert zl.policy_zone_name == "Normal"
    t2 = topo(flat(2), zones=[["DMA32", "Movable"], ["DMA32"]])
    assert zlm.build(t2).policy_zone_name == "DMA32"


def test_single_node_and_no_memory_anywhere():
    t = topo([[10]])
    assert zlm.build(t).fallback_order(0) == [0]
    t0 = topo(flat(2), zones=[[], []])
    zl = zlm.build(t0, "6.18")
    assert orders(zl) == {0: [], 1: []}
    assert zl.policy_zone == 0


# ------------------------------------------------------------------ iteration
def test_candidates_thisnode_and_batches():
    t = topo(flat(3), zones=[["DMA32", "Normal"], ["Normal"], ["Normal"]])
    zl = zlm.build(t, "6.1")
    got = zlm.candidates(zl, 1, "GFP_KERNEL|__GFP_THISNODE")
    assert zlm.decode(zl, got) == [(1, "Normal")]
    # batch over start nodes: (3,) -> (3, W)
    out = zlm.candidates(zl, np.arange(3), zlm.gfp_zone("GFP_DMA32", t))
    assert out.shape == (3, zl.fallback.shape[1])
    assert [zlm.decode(zl, r) for r in out] == [[(0, "DMA32")]] * 3
    # batch over nodemasks (4, n) from start node 2
    masks = np.array([[1, 1, 1], [0, 1, 0], [1, 0, 0], [0, 0, 0]], bool)
    out = zlm.candidates(zl, 2, 2, masks)
    assert out.shape[0] == 4
    assert [[n for n, _ in zlm.decode(zl, r)] for r in out] == [[2, 0, 0, 1], [1], [0, 0], []]
    # broadcast (3, 1) start nodes x (4, n) masks -> (3, 4, W)
    assert zlm.candidates(zl, np.arange(3)[:, None], 2, masks).shape == (3, 4, zl.fallback.shape[1])
    rows, mask = zlm.candidate_mask(zl, 0, 2, masks)
    assert mask.shape == rows.shape == (4, zl.fallback.shape[1])
    with pytest.raises(NumalabError):
        zlm.candidates(zl, 0, 2, np.ones(5, bool))
    with pytest.raises(NumalabError):
        zlm.candidates(zl, 7, 2)


# ------------------------------------------------------------------ explanation & errors
def test_explain_names_the_tie_breaks():
    zl = zlm.build(topo(B), "5.16")
    df = explain(zl, 3)
    assert df["node"].tolist() == [3, 2, 1, 0]
    assert df.loc[0, "reason"].startswith("local node first")
    row = df.loc[2]  # node 1 beats node 0: both 21 + 1 (below 3); loads 4+... vs more
    assert row["runner_up"] == 0 and row["penalised"] == 22
    assert "lower node_load" in row["reason"]
    assert row["value"] == 22 * zl.scale + row["node_load"]
    assert df.loc[1, "load_bump"].startswith("node_load[2] +=")
    assert list(df.columns[:8]) == ["position", "node", "distance", "lower_id_penalty", "cpu_penalty",
                                    "penalised", "node_load", "value"]
    df2 = explain(zlm.build(topo(flat(4), cpus=[0, 1]), "6.1", "rebuild"), 0)
    assert df2.loc[1, "reason"] == "same value 20480; lower node id 2 < 3"
    assert "node 1 has CPUs (+1)" in df2.loc[2, "reason"] and "same raw distance 20" in df2.loc[2, "reason"]
    df3 = explain(zlm.build(topo(flat(3)), "6.1"), 1)
    assert "lower node id" in df3.loc[1, "reason"] or "below node" in df3.loc[1, "reason"]


def test_input_errors():
    t = topo(flat(2))
    with pytest.raises(NumalabError):
        zlm.build(t, "6.1", "later")
    with pytest.raises(NumalabError) as e:
        zlm.build(t, "3.2")
    assert "supported" in str(e.value)
    with pytest.raises(NumalabError):
        zlm.build("not a topology")
    with pytest.raises(NumalabError):
        explain(zlm.build(t), 7)


def test_int_overflow_is_refused():
    big = Topology(name="big", node_ids=[0, 1], distance=[[10, 200], [200, 10]], cpu_ids=[0, 1],
                   cpu_node=[0, 1], present_pages=[[0, 0, 5, 0, 0]] * 2, managed_pages=[[0, 0, 5, 0, 0]] * 2,
                   nodes_shift=23)
    with pytest.raises(NumalabError) as e:
        zlm.build(big, "4.10")  # 201 * 2 * 2**23 > INT_MAX
    assert e.value.errno == "EOVERFLOW"


def test_result_is_cached_and_read_only():
    t = topo(flat(3))
    zl = zlm.build(t, "6.1")
    again = zlm.build(t, "6.1")
    assert again.order is zl.order and again.topology is t     # built once, cached by content
    with pytest.raises(ValueError):
        zl.order[0, 0] = 5
    d = zl.to_dict()
    assert set(d) >= {"kernel", "fallback_order", "zonelists", "policy_zone"}
    assert d["zonelists"]["0"]["fallback"][0] == [0, "Normal"]


def test_worked_examples_helper_matches_section_1_8():
    ex = worked_examples()
    assert zlm.build(ex["B-2x2-subnuma"], "5.15").fallback_order(3) == [3, 2, 0, 1]
    assert zlm.build(ex["C-cxl4"], "6.1").fallback_order(3) == [3, 1, 0, 2]
    assert zlm.build(ex["D-memoryless"], "6.8").fallback_order(1) == [2, 0]


# ------------------------------------------------------------------ charts and panel
def test_charts_render_offline_and_diff_flags_changes():
    import vl_convert
    from numalab.viz import zonelist as vz

    ms = {"B": topo(B, name="B"), "C": topo(C, cpus=[0, 1], name="C")}
    df = vz.orders_long(ms, ["5.15", "5.16"], ["boot"])
    assert len(df) == 2 * 2 * 16
    # only node 3 of B changes between 5.15 and 5.16 (section 1.8, example B)
    changed = df[(df.kernel == "5.16") & df.changed_from_previous]
    assert set(zip(changed.machine, changed.start)) == {("B", 3)}
    cmp = vz.compare(zlm.build(ms["B"], "5.15"), zlm.build(ms["B"], "5.16"))
    assert cmp["changed"].tolist() == [False, False, False, True]
    ex = vz.explain_long(ms, ["5.16"])
    for chart in (vz.heatmap(df), vz.diff_chart(df, a="5.15", b="5.16"), vz.explain_chart(ex)):
        spec = chart.to_dict()
        assert any("bind" in p for p in spec.get("params", []))
        assert "<svg" in vl_convert.vegalite_to_svg(spec)


def test_live_panel_builds():
    from numalab.widgets import zonelist as wz

    p = wz.panel({"B": topo(B, name="B")}, ["5.15", "5.16"])
    assert type(p).__name__ == "VBox"
