"""NUMA emulation (``numa=fake=``): snapshots of real kernels booted with it load, keep what the
kernel keeps, and give the kernel's zonelists.

The recordings (tests/data/kernel-truth/recorded/fake-*, made by the retired first recorder;
``numalab verify --kernel-args numa=fake=...`` now records the same set-ups into tests/data/verify) are
Debian 6.1.192 and 6.12.117 guests under QEMU: 2 physical nodes split by ``numa=fake=4``
(interleaved: fake nodes 0 and 2 on physical node 0) and ``numa=fake=2U`` (uniform: 0 and 1 on
physical node 0), and 3 physical nodes (the third CPU-less) split by ``numa=fake=2U`` plus a memory
hot-add after SMP bring-up. Expected values come from the guest's own files and the kernel log:
``cpu_to_node`` from the guest's ``nodeN/cpuM`` links, the fallback orders from the
``Fallback order for Node N:`` lines, the zones from the log's ``Zone ranges`` and ``Early memory
node ranges``.
"""
import json
import pathlib
import re
import shutil

import numpy as np
import pytest

from numalab import sources, zonelist
from numalab.errors import NumalabError
from numalab.reference import zonelist as ref
from numalab.sources import jsonfmt
from numalab.sources.common import cpu_to_node_of_cpulists
from numalab.topology import Topology

RECORDED = pathlib.Path(__file__).resolve().parent / "data" / "kernel-truth" / "recorded"
FAKE = sorted(p for p in RECORDED.glob("fake-*") if (p / "expected.json").is_file())
NODE = "sys/devices/system/node"


def expected(d):
    return json.loads((d / "expected.json").read_text())


def kernel_of(d):
    return ".".join(expected(d)["kernel"].split(".")[:2])


def orders(zl):
    return {str(int(nid)): zl.fallback_order(int(nid)) for nid in zl.topology.node_ids[zl.built]}


def ids(d):
    return d.name


def test_recordings_cover_both_kernels_and_both_splits():
    names = {d.name for d in FAKE}
    assert {"fake-4", "fake-4-6.12", "fake-2U", "fake-2U-6.12", "fake-3-2U-hotplug",
            "fake-3-2U-hotplug-6.12"} <= names
    for d in FAKE:
        assert "numa=fake=" in expected(d)["extra_kernel_args"]
        log = (d / "boot.log").read_text()
        assert "numa=fake=" in log.split("Command line:", 1)[1].splitlines()[0]


@pytest.mark.parametrize("d", FAKE, ids=ids)
def test_snapshot_keeps_each_nodes_cpulist(d):
    """Every fake node keeps the cpulist the kernel printed, CPUs shared between fake nodes."""
    t = sources.load(str(d))
    for i, nid in enumerate(t.node_ids.tolist()):
        printed = (d / NODE / f"node{nid}" / "cpulist").read_text().strip()
        assert sources.format_cpulist(t.cpumask_of(i)) == printed
    shared = t.node_cpumask.sum(axis=0)
    assert shared.max() == 2  # every CPU of a split physical node is on two fake nodes
    assert t.cpumask is not None and any("numa=fake" in n for n in t.notes)


@pytest.mark.parametrize("d", FAKE, ids=ids)
def test_cpu_to_node_is_the_kernels(d):
    """cpu_to_node() of every CPU as the guest's nodeN/cpuM links show it."""
    t = sources.load(str(d))
    want = expected(d)["cpu_to_node"]
    assert want and {str(c): t.node_of_cpu(c) for c in t.cpu_ids.tolist()} == want
    for c, nid in want.items():  # the CPU is in its node's cpulist, and in others too
        assert int(c) in t.cpumask_of(t.index_of(nid)).tolist()


@pytest.mark.parametrize("d", FAKE, ids=ids)
def test_distances_kept_as_the_kernel_stored_them(d):
    """10 between fake nodes of one physical node: not the firmware's slit_valid() rules."""
    t = sources.load(str(d))
    for i, nid in enumerate(t.node_ids.tolist()):
        row = [int(x) for x in (d / NODE / f"node{nid}" / "distance").read_text().split()]
        assert t.distance[i].tolist() == row
    off = t.distance[~np.eye(t.n_nodes, dtype=bool)]
    assert (off == 10).any()
    assert not any("slit_valid" in n for n in t.notes)


@pytest.mark.parametrize("d", FAKE, ids=ids)
def test_has_cpu_derived_without_the_file(d, tmp_path):
    """N_CPU is the nodes of cpu_to_node() plus every node whose cpumask holds the boot CPU
    (init_cpu_node_state() runs before the other CPUs are up): derived from the cpulists alone
    it equals the guest's has_cpu file, which lacks the other fake nodes (here not 0-3 but 0-2)."""
    recorded = (d / NODE / "has_cpu").read_text().strip()
    copy = tmp_path / d.name
    shutil.copytree(d, copy)
    (copy / NODE / "has_cpu").unlink()
    t = sources.load(str(copy))
    assert sources.format_cpulist(t.node_ids[t.has_cpu]) == recorded
    assert t.cpumask_nonempty.sum() > t.has_cpu.sum()  # some fake nodes with CPUs are not in N_CPU


def _log_zone_pages(d):
    """Present pages per node and zone from the kernel log: the memblock ranges of each node
    ("node   N: [mem a-b]") cut by the zone ranges ("DMA      [mem a-b]")."""
    lines = [ln.split("] ", 1)[-1] for ln in (d / "boot.log").read_text().splitlines()]
    zones, ranges = {}, []
    for ln in lines:
        m = re.match(r"\s+(DMA|DMA32|Normal)\s+\[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]", ln)
        if m:
            zones[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16) + 1)
        m = re.match(r"\s+node\s+(\d+): \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]", ln)
        if m:
            ranges.append((int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16) + 1))
    out = {}
    for nid, a, b in ranges:
        for zn, (za, zb) in zones.items():
            pages = max(0, min(b, zb) - max(a, za)) // 4096
            if pages:
                out.setdefault(nid, {}).setdefault(zn, 0)
                out[nid][zn] += pages
    return out


@pytest.mark.parametrize("d", FAKE, ids=ids)
def test_zones_equal_the_boot_log(d):
    """Present pages per fake node and zone equal what the kernel's boot log lays out (memory
    hot-added later is in zoneinfo only: its node's Normal zone is left out of the comparison)."""
    t = sources.load(str(d))
    want = _log_zone_pages(d)
    hot = expected(d)["hotplug_dimms"]
    assert set(want) == set(t.node_ids[t.has_memory].tolist())
    for nid, zones in want.items():
        i = t.index_of(nid)
        got = {zn: int(t.present_pages[i, k]) for k, zn in enumerate(t.zone_types) if t.present_pages[i, k]}
        if hot:
            got.pop("Normal", None)
        assert got == zones, nid


@pytest.mark.parametrize("d", FAKE, ids=ids)
def test_boot_and_rebuild_orders_equal_the_kernels(d):
    e = expected(d)
    t = sources.load(str(d))
    k = kernel_of(d)
    assert orders(zonelist.build(t, kernel=k, when="boot")) == e["fallback_order_boot"]
    assert {str(a): b for a, b in ref.build_all_zonelists(t, k, "boot")["order"].items()} == e["fallback_order_boot"]
    if e["zonelist_builds"] > 1:
        assert orders(zonelist.build(t, kernel=k, when="rebuild")) == e["fallback_order_final"]
        final = ref.build_all_zonelists(t, k, "rebuild")["order"]
        assert {str(a): b for a, b in final.items()} == e["fallback_order_final"]


@pytest.mark.parametrize("d", [d for d in FAKE if expected(d)["zonelist_builds"] > 1], ids=ids)
def test_rebuild_penalty_follows_the_cpumask_not_n_cpu(d):
    """find_next_best_node() adds PENALTY_FOR_NODE_WITH_CPUS for a node whose cpumask is not
    empty. Node 3 shares CPU 1 with node 2 but is not in N_CPU: penalising only the N_CPU nodes
    gives other orders than the kernel printed, so the recording tells the two rules apart."""
    e = expected(d)
    t = sources.load(str(d))
    assert t.cpumask_nonempty.tolist() != t.has_cpu.tolist()
    n_cpu_only = t.replace(cpumask=None, state_override={"has_cpu": t.has_cpu})
    wrong = orders(zonelist.build(n_cpu_only, kernel=kernel_of(d), when="rebuild"))
    assert wrong != e["fallback_order_final"]
    assert e["fallback_order_final"] != e["fallback_order_boot"]


@pytest.mark.parametrize("d", FAKE, ids=ids)
def test_json_round_trip(d):
    """The JSON format keeps the shared cpulists and the stored distances (numa_emulation)."""
    t = sources.load(str(d))
    doc = jsonfmt.to_dict(t)
    assert doc["numa_emulation"] is True
    back = jsonfmt.from_json(jsonfmt.to_json(t))
    assert back == t
    assert orders(zonelist.build(back, kernel=kernel_of(d), when="boot")) == expected(d)["fallback_order_boot"]


# ---------------------------------------------------------------- small hand-computed cases
def test_cpu_to_node_is_the_lowest_node_listing_the_cpu():
    assert cpu_to_node_of_cpulists([3, 1, 2, 0], [[2, 3], [0, 1], [0, 1], [2, 3]]) == {0: 1, 1: 1, 2: 0, 3: 0}
    assert cpu_to_node_of_cpulists([0, 1], [[0], [1]]) == {0: 0, 1: 1}


def _fake4(**kw):
    pages = np.zeros((4, 5), int)
    pages[:, 1] = 1000
    args = dict(name="fake4", node_ids=[0, 1, 2, 3],
                distance=[[10, 21, 10, 21], [21, 10, 21, 10], [10, 21, 10, 21], [21, 10, 21, 10]],
                cpu_ids=[0, 1, 2, 3], cpu_node=[0, 0, 1, 1], present_pages=pages, managed_pages=pages,
                cpumask=[[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1]])
    args.update(kw)
    return Topology(**args)


def test_topology_keeps_both_cpu_facts():
    t = _fake4()
    assert t.cpus_of(2).tolist() == [] and t.cpumask_of(2).tolist() == [0, 1]
    assert t.node_of_cpu(3) == 1
    assert t.has_cpu.tolist() == [True, True, True, False]  # boot CPU 0's nodes + cpu_to_node
    assert t.cpumask_nonempty.tolist() == [True, True, True, True]
    assert t != t.replace(cpumask=None)


def test_cpu_outside_its_own_nodes_cpumask_is_refused():
    with pytest.raises(NumalabError, match="CPU 0 is not in the cpumask of its own node 0"):
        _fake4(cpumask=[[0, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1]])
    with pytest.raises(NumalabError, match="cpumask is"):
        _fake4(cpumask=[[1, 1, 0, 0]])


def test_shared_cpus_without_numa_emulation_still_refused_in_json():
    doc = {"nodes": [{"id": 0, "cpus": "0-1", "mem_mib": 16}, {"id": 1, "cpus": "1", "mem_mib": 16}]}
    with pytest.raises(NumalabError, match="CPU 1 is on two nodes"):
        jsonfmt.from_dict(doc)
    with pytest.raises(NumalabError, match="nodes 0 and 1 share CPU 1 but list different CPUs"):
        jsonfmt.from_dict(dict(doc, numa_emulation=True))
    doc["nodes"][1]["cpus"] = "0-1"
    t = jsonfmt.from_dict(dict(doc, numa_emulation=True, distance=[[10, 10], [10, 10]]))
    assert t.cpus_of(1).tolist() == [] and t.cpumask_of(1).tolist() == [0, 1]
    assert t.distance.tolist() == [[10, 10], [10, 10]]


def test_overlapping_cpulists_no_kernel_prints_are_refused(tmp_path):
    """Fake nodes of one physical node list the same CPUs; lists that merely overlap are refused."""
    copy = tmp_path / "snap"
    shutil.copytree(RECORDED / "fake-4", copy)
    (copy / NODE / "node2" / "cpulist").write_text("1-2\n")
    with pytest.raises(NumalabError, match="share CPU 1 but list different CPUs"):
        sources.load(str(copy))


# ---------------------------------------------------------------- random emulated machines
from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def emulated(draw):
    """A physical machine (1-3 nodes, random SLIT, 0-2 CPUs each) split into 1-7 fake nodes the
    way numa_emulation() maps them: fake node f sits on physical node phys[f], every fake node
    lists its physical node's CPUs, cpu_to_node() is the lowest fake node of the CPU's node."""
    p = draw(st.integers(1, 3))
    d = [[10 if i == j else draw(st.sampled_from([12, 16, 20, 21, 31])) for j in range(p)] for i in range(p)]
    ncpu = [draw(st.integers(0, 2)) for _ in range(p)]
    phys = draw(st.lists(st.integers(0, p - 1), min_size=1, max_size=7))
    n = len(phys)
    cpu_phys = [q for q in range(p) for _ in range(ncpu[q]) if q in phys]
    dist = [[10 if a == b else d[phys[a]][phys[b]] for b in range(n)] for a in range(n)]
    mask = [[cpu_phys[c] == phys[f] for c in range(len(cpu_phys))] for f in range(n)]
    cpu_node = [phys.index(q) for q in cpu_phys]
    pages = np.zeros((n, 5), np.int64)
    for f in range(n):
        pages[f, draw(st.sampled_from([1, 2]))] = draw(st.sampled_from([0, 1000, 262144]))
    return Topology(name="emu", node_ids=np.arange(n), distance=dist, cpu_ids=np.arange(len(cpu_phys)),
                    cpu_node=np.array(cpu_node, np.int64), present_pages=pages, managed_pages=pages,
                    cpumask=np.array(mask, bool).reshape(n, len(cpu_phys)))


@settings(max_examples=150, deadline=None)
@given(t=emulated(), version=st.sampled_from(["4.14", "5.15", "5.18", "6.1", "6.12"]),
       when=st.sampled_from(["boot", "rebuild"]))
def test_engine_equals_reference_on_emulated_machines(t, version, when):
    """The vectorized build and the scalar reference agree with shared cpumasks too."""
    zl = zonelist.build(t, version, when)
    want = ref.build_all_zonelists(t, version, when)["order"]
    assert {int(nid): zl.fallback_order(int(nid)) for nid in t.node_ids[zl.built]} == want
