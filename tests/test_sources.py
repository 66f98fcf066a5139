"""Loaders and writers: real-kernel snapshots, tarballs, host, JSON, numactl, hwloc, SLIT rules."""
import json
import pathlib
import re
import shutil
import tarfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

from numalab import slit, sources
from numalab.errors import NumalabError
from numalab.topology import Topology

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "data" / "topologies"
TRUTH = ROOT / "tests" / "data" / "kernel-truth" / "snapshots"   # the repository's own copy
#: The machines the bundled real presets were transcribed from (copied from the shared folder).
REAL = ROOT / "tests" / "data" / "real-topologies.json"
RECORDED = ["two-node", "four-ring", "eight-2socket", "penalty-tie", "penalty-tie-hotplug",
            "memoryless-cpu", "zones-split", "cxl4"]


def _nodes(text):
    out = []
    for part in text.strip().split(","):
        if part:
            a, _, b = part.partition("-")
            out += range(int(a), int(b or a) + 1)
    return out


# ---------------------------------------------------------------- recorded real-kernel snapshots
def test_two_node_zones_exactly_as_zoneinfo_printed():
    t = sources.load(TRUTH / "two-node")
    # values read off proc/zoneinfo by hand
    assert t.node_ids.tolist() == [0, 1]
    assert t.zone_types == ("DMA", "DMA32", "Normal", "Movable", "Device")
    assert t.present_pages.tolist() == [[3998, 126976, 0, 0, 0], [0, 131040, 0, 0, 0]]
    assert t.managed_pages.tolist() == [[3840, 113500, 0, 0, 0], [0, 119153, 0, 0, 0]]
    assert t.distance.tolist() == [[10, 20], [20, 10]]
    assert t.cpu_ids.tolist() == [0, 1] and t.cpu_node.tolist() == [0, 1]
    assert t.nodes_shift == 10 and t.max_numnodes == 1024


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_snapshot_matches_the_kernel(name):
    d = TRUTH / name
    t = sources.load(d)
    exp = json.loads((d / "expected.json").read_text())
    node = d / "sys/devices/system/node"
    # populated zones per node, as the kernel reported them
    got = {str(int(t.node_ids[i])): [t.zone_types[k] for k in np.flatnonzero(t.present_pages[i])]
           for i in range(t.n_nodes)}
    assert got == exp["zones"]
    # node states equal the sysfs files
    for key in sources.STATES:
        assert t.node_ids[getattr(t, key)].tolist() == _nodes((node / key).read_text()), key
    for i, nid in enumerate(t.node_ids.tolist()):
        nd = node / f"node{nid}"
        assert t.distance[i].tolist() == [int(x) for x in (nd / "distance").read_text().split()]
        assert t.cpus_of(i).tolist() == _nodes((nd / "cpulist").read_text())
        # the kernel's MemTotal of a node is its managed pages
        kib = int(re.search(r"MemTotal:\s+(\d+)", (nd / "meminfo").read_text()).group(1))
        assert int(t.managed_pages[i].sum()) * 4 == kib
    # the fallback orders only ever list nodes with memory
    for nid, order in exp["fallback_order_boot"].items():
        assert all(t.has_memory[t.index_of(x)] for x in order if x != int(nid))


def test_memoryless_cpu_node_states():
    t = sources.load(TRUTH / "memoryless-cpu")
    assert t.has_cpu.tolist() == [True, True, True]
    assert t.has_memory.tolist() == [True, False, True]
    assert t.has_normal_memory.tolist() == [True, False, True]
    assert t.present_pages[1].sum() == 0


def test_hotplug_normal_zone_present_and_managed():
    t = sources.load(TRUTH / "penalty-tie-hotplug")
    k = t.zone_index("Normal")
    assert t.present_pages[2, k] == 65536 and t.managed_pages[2, k] == 65536
    assert t.has_cpu.tolist() == [True, True, False, False]


@pytest.mark.parametrize("mode,suffix", [("w", ".tar"), ("w:gz", ".tar.gz"), ("w:bz2", ".tar.bz2")])
def test_tarball_loads_like_the_directory(tmp_path, mode, suffix):
    src = TRUTH / "cxl4"
    out = tmp_path / f"cxl4{suffix}"
    with tarfile.open(out, mode) as tf:
        tf.add(src, arcname="cxl4")  # one top directory, as people tar things
    a, b = sources.load(src), sources.load(out)
    assert a == b and b.name == "cxl4"
    assert np.array_equal(a.managed_pages, b.managed_pages)


def test_snapshot_node_directory_itself(tmp_path):
    assert sources.load(TRUTH / "four-ring" / "sys/devices/system/node") == sources.load(TRUTH / "four-ring")


def test_snapshot_without_zoneinfo_uses_memtotal(tmp_path):
    d = tmp_path / "snap"
    shutil.copytree(TRUTH / "two-node", d)
    (d / "proc" / "zoneinfo").unlink()
    t = sources.load(d)
    assert t.managed_pages.sum(axis=1).tolist() == [469360 // 4, 476612 // 4]
    assert np.array_equal(t.present_pages, t.managed_pages)
    assert any("physical address" in n for n in t.notes) and any("managed pages set equal" in n for n in t.notes)


def test_snapshot_distance_row_of_wrong_length_is_an_error(tmp_path):
    d = tmp_path / "snap"
    shutil.copytree(TRUTH / "two-node", d)
    (d / "sys/devices/system/node/node1/distance").write_text("20 10 20\n")
    with pytest.raises(NumalabError, match=r"node1/distance.*3 distances for 2 online nodes"):
        sources.load(d)


def test_possible_but_offline_node(tmp_path):
    d = tmp_path / "snap"
    shutil.copytree(TRUTH / "two-node", d)
    (d / "sys/devices/system/node/possible").write_text("0-3\n")
    t = sources.load(d)
    assert t.node_ids.tolist() == [0, 1, 2, 3]
    assert t.online.tolist() == [True, True, False, False]
    assert t.has_memory.tolist() == [True, True, False, False]
    assert t.distance[2].tolist() == [20, 20, 10, 20]
    assert any("possible but not online" in n for n in t.notes)


# ---------------------------------------------------------------- host and the snapshot writer
def test_host_snapshot_directory_loads_back_equal(tmp_path):
    host = sources.load("host")
    out = sources.write_snapshot(tmp_path / "me")
    back = sources.load(out)
    assert back == host
    assert back.nodes_shift == host.nodes_shift and back.page_size == host.page_size


def test_host_snapshot_tarball_loads_back_equal(tmp_path):
    out = sources.write_snapshot(tmp_path / "me.tar.gz")
    assert tarfile.is_tarfile(out)
    assert sources.load(out) == sources.load("host")


def test_snapshot_refuses_to_overwrite(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(NumalabError, match="already exists"):
        sources.write_snapshot(tmp_path / "x")


def test_machine_without_numa_sysfs_is_one_node(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "sys/devices/system/cpu").mkdir(parents=True)
    (tmp_path / "sys/devices/system/cpu/online").write_text("0-3\n")
    (tmp_path / "proc/meminfo").write_text("MemTotal:        2097152 kB\nMemFree: 1 kB\n")
    t = sources.load(tmp_path)
    assert t.node_ids.tolist() == [0] and t.cpu_ids.tolist() == [0, 1, 2, 3]
    assert t.present_pages.tolist() == [[3998, 520290, 0, 0, 0]]  # 524288 pages, DMA first
    assert t.distance.tolist() == [[10]]
    assert any("one node 0" in n for n in t.notes)
    # with zoneinfo, the zones come from it
    (tmp_path / "proc/zoneinfo").write_text(
        "Node 0, zone      DMA\n  pages free 1\n        present  3998\n        managed  3840\n"
        "Node 0, zone    DMA32\n  pages free 1\n        present  1000\n        managed  900\n"
        "Node 0, zone   Normal\n  pages free 0\n        present  0\n        managed  0\n")
    t = sources.load(tmp_path)
    assert t.zone_types == ("DMA", "DMA32", "Normal")
    assert t.managed_pages.tolist() == [[3840, 900, 0]]


def test_old_zoneinfo_with_only_populated_zones(tmp_path):
    (tmp_path / "sys/devices/system/node/node0").mkdir(parents=True)
    (tmp_path / "sys/devices/system/node/node1").mkdir(parents=True)
    (tmp_path / "sys/devices/system/node/online").write_text("0-1\n")
    for n in (0, 1):
        (tmp_path / f"sys/devices/system/node/node{n}/distance").write_text(["10 21", "21 10"][n])
        (tmp_path / f"sys/devices/system/node/node{n}/cpulist").write_text(str(n))
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/zoneinfo").write_text(
        "Node 0, zone      DMA\n        present  3998\n        managed  3840\n"
        "Node 1, zone   Normal\n        present  5000\n        managed  4000\n")
    t = sources.load(tmp_path)
    assert t.zone_types == ("DMA", "DMA32", "Normal", "Movable", "Device")
    assert t.present_pages.tolist() == [[3998, 0, 0, 0, 0], [0, 0, 5000, 0, 0]]
    assert any("only populated zones" in n for n in t.notes)


def test_sysfs_lists_are_read_with_the_kernels_grammar(tmp_path):
    # issue 9 item 9: "0-7:2/4" is a valid kernel list (bits 0,1,4,5), and so is a blank-separated one
    node = tmp_path / "sys/devices/system/node"
    for n, cpus in ((0, "0-7:2/4\n"), (1, " 2 3 \n")):
        (node / f"node{n}").mkdir(parents=True)
        (node / f"node{n}/distance").write_text(["10 21", "21 10"][n])
        (node / f"node{n}/cpulist").write_text(cpus)
    (node / "online").write_text("0-1\n")
    t = sources.load(tmp_path)
    assert t.cpus_of(0).tolist() == [0, 1, 4, 5] and t.cpus_of(1).tolist() == [2, 3]


@pytest.mark.parametrize("text,ids", [
    ("0-7:2/4", [0, 1, 4, 5]), ("1,3-4", [1, 3, 4]), ("2 0", [0, 2]), ("", []), ("\n", []),
    ("0-9:3/5,20", [0, 1, 2, 5, 6, 7, 20])])
def test_parse_cpulist_hand_computed(text, ids):
    assert sources.parse_cpulist(text) == ids


@pytest.mark.parametrize("text,errno", [("3-1", "EINVAL"), ("0-x", "EINVAL"), ("0-1:3/2", "EINVAL"),
                                        ("N", "EINVAL"), ("all", "EINVAL"), ("70000", "ERANGE"),
                                        ("4294967296", "EOVERFLOW")])
def test_parse_cpulist_refuses_what_the_kernel_refuses(text, errno):
    with pytest.raises(NumalabError, match=r"^'node0/cpulist': not a kernel list") as e:
        sources.parse_cpulist(text, "node0/cpulist")
    assert e.value.errno == errno


def test_parse_cpulist_with_a_width_and_a_kernel():
    assert sources.parse_cpulist("N", nbits=8) == [7]
    assert sources.parse_cpulist("all:1/4", nbits=8) == [0, 4]
    with pytest.raises(NumalabError, match="5.13"):
        sources.parse_cpulist("N", nbits=8, kernel="5.10")


def test_hex_masks_of_sysfs_and_hwloc():
    assert sources.parse_cpumask("00000001,00000003\n") == [0, 1, 32]
    assert sources.parse_cpumask("") == []
    with pytest.raises(NumalabError, match="not a hex mask") as e:
        sources.parse_cpumask("0000000g", "node0/cpumap")
    assert e.value.errno == "EINVAL"
    xml = (FIX / "hwloc-2n.xml").read_text().replace('cpuset="0x0000000c" nodeset="0x00000002" gp_index="11"',
                                                      'cpuset="0x0000000c,0x00000000" nodeset="0x00000002" gp_index="11"')
    t = sources.from_hwloc_xml(xml, where="x.xml")
    assert t.cpus_of(1).tolist() == []          # node 1 now holds CPUs 34-35: no PU of the file
    with pytest.raises(NumalabError, match="not a hex mask"):
        sources.from_hwloc_xml(xml.replace('cpuset="0x00000004"', 'cpuset="0xf...f"'), where="x.xml")


# ---------------------------------------------------------------- JSON format
def test_every_preset_loads_and_round_trips():
    names = [n for n, _ in sources.presets()]
    assert len(names) >= 23
    for name in names:
        t = sources.load(name)
        assert sources.load(sources.to_json(t)) == t, name
        assert t.source, name


def test_at_least_15_real_machines_each_with_its_source():
    real = json.loads(REAL.read_text())
    docs = [json.loads(p.read_text()) for p in sources.DATA_DIR.glob("*.json")]
    machines = [d for d in docs if str(d.get("provenance", "")).startswith("real") and "recording" not in d["provenance"]]
    assert len(machines) >= 15
    # every source names a place one can look up: a URL or a GitHub owner/repository
    locatable = re.compile(r"https?://[\w.-]+\.[a-z]{2,}/|github\.com/[\w.-]+/[\w.-]+")
    assert all(locatable.search(d["source"]) for d in machines), [
        d["source"] for d in machines if not locatable.search(d["source"])]
    by = {m["name"]: m for m in real}
    for d in machines:
        m = by[d["name"]]
        t = sources.load(d["name"])
        assert t.node_ids.tolist() == [n["id"] for n in m["nodes"]]  # sparse ids kept
        assert t.distance.tolist() == m["distance"]
        assert t.has_cpu.tolist() == [n["cpus"] > 0 for n in m["nodes"]]
        assert d["source"] == m["source"]


def test_sparse_ids_and_cpuless_nodes_are_kept():
    t = sources.load("ibm-power9-v100-gpu-numa-nodes")
    assert t.node_ids.tolist() == [0, 8, 250, 251, 252, 253, 254, 255]
    assert t.has_cpu.tolist() == [True, True] + [False] * 6
    assert t.has_memory.all()
    assert t.index_of(250) == 2
    assert t.distance[t.index_of(0), t.index_of(8)] == 40


def test_memoryless_real_machine():
    t = sources.load("amd-threadripper-3960x-nps4-memoryless")
    assert t.has_memory.tolist() == [False, True, True, False]
    assert t.has_cpu.all()


def test_json_totals_give_zones_by_address_and_a_note():
    t = sources.from_dict({"name": "x", "nodes": [{"id": 0, "cpus": "0", "mem_mib": 8192},
                                                   {"id": 1, "cpus": "1", "mem_mib": 8192}],
                           "distance": [[10, 21], [21, 10]]})
    # 2 M pages each: node 0 = 3998 DMA + 1044480 DMA32 + rest Normal, node 1 all Normal
    assert t.present_pages.tolist() == [[3998, 1044480, 2097152 - 3998 - 1044480, 0, 0], [0, 0, 2097152, 0, 0]]
    assert np.array_equal(t.managed_pages, t.present_pages)
    assert any("physical address" in n for n in t.notes)


def test_json_sparse_ids_unsorted_rows_follow_nodes():
    t = sources.from_dict({"name": "x", "nodes": [{"id": 5, "cpus": "1", "mem_mib": 1},
                                                   {"id": 2, "cpus": "0", "mem_mib": 1}],
                           "distance": [[10, 30], [30, 10]]})
    assert t.node_ids.tolist() == [2, 5]
    assert t.node_of_cpu(1) == 5 and t.node_of_cpu(0) == 2


def test_json_movable_node_and_start_address():
    t = sources.from_dict({"name": "x", "nodes": [{"id": 0, "cpus": "0", "mem_mib": 64},
                                                   {"id": 1, "cpus": "", "mem_mib": 64, "movable": True},
                                                   {"id": 2, "cpus": "", "mem_mib": 64, "start_mib": 4096}],
                           "distance": [[10, 20, 20], [20, 10, 20], [20, 20, 10]]})
    k = t.zone_index
    assert t.present_pages[1].tolist() == [0, 0, 0, 16384, 0]
    assert t.present_pages[2].tolist() == [0, 0, 16384, 0, 0]
    assert t.has_memory[1] and not t.has_normal_memory[1]


def test_recorded_states_that_differ_win():
    doc = {"name": "x", "nodes": [{"id": 0, "cpus": "0", "mem_mib": 64}, {"id": 1, "cpus": "1", "mem_mib": 64}],
           "distance": [[10, 20], [20, 10]], "states": {"has_cpu": "0"}}
    t = sources.from_dict(doc)
    assert t.has_cpu.tolist() == [True, False]
    assert sources.load(sources.to_json(t)).has_cpu.tolist() == [True, False]


@pytest.mark.parametrize("fname,match", [
    ("bad-not-square.json", "not square"),
    ("bad-duplicate-node.json", "node id 0 is listed twice"),
    ("bad-cpu-twice.json", "CPU 1 is on two nodes"),
    ("bad-negative-memory.json", "node 0.*negative"),
    ("bad-syntax.json", "not (valid )?JSON"),  # sources.common.read_json_text or _io.read_json wording
])
def test_inputs_no_kernel_could_see_are_errors(fname, match):
    with pytest.raises(NumalabError, match=match) as e:
        sources.load(FIX / fname)
    assert fname in str(e.value)  # the message names the file
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("doc,match", [
    ({"nodes": [{"id": 0, "cpus": "0"}]}, "mem_mib"),
    ({"nodes": [{"id": 0, "cpus": "0-x", "mem_mib": 1}]}, "not a kernel list: expected a number"),
    ({"nodes": [{"id": "a", "cpus": "0", "mem_mib": 1}]}, "'id' has the wrong type"),
    ({"nodes": [{"id": 0, "cpus": "0", "zones": {"Highmem": [1, 1]}}]}, "not one of zone_types"),
    ({"nodes": [{"id": 0, "cpus": "0", "zones": {"Normal": [1, 2]}}]}, "managed pages .2. exceed present"),
    ({"nodes": [{"id": 0, "cpus": "0", "mem_mib": 1}], "distance": [[10, 20]]}, "not square"),
    ({"nodes": [{"id": 0, "cpus": "0", "mem_mib": 1}], "distance": [[300]]}, "outside 0..255"),
    ({"nodes": [{"id": 0, "cpus": "0", "mem_mib": 1}], "states": {"has_cpu": "3"}}, "node 3, which is not in"),
    ({"nodes": [{"id": 1024, "cpus": "0", "mem_mib": 1}]}, "0..1023"),
    ({"format": "other/2", "nodes": []}, "unknown format"),
])
def test_json_field_errors(doc, match):
    with pytest.raises(NumalabError, match=match):
        sources.from_dict(doc, where="t.json")


def test_unknown_spec_is_one_line_error():
    with pytest.raises(NumalabError, match="no such preset"):
        sources.load("no-such-machine")


# random topologies round-trip through JSON
@st.composite
def topologies(draw):
    n = draw(st.integers(1, 6))
    ids = sorted(draw(st.sets(st.integers(0, 1023), min_size=n, max_size=n)))
    d = draw(st.lists(st.lists(st.integers(11, 255), min_size=n, max_size=n), min_size=n, max_size=n))
    d = np.array(d)
    np.fill_diagonal(d, 10)
    ncpu = draw(st.integers(0, 12))
    cpu_node = draw(st.lists(st.integers(0, n - 1), min_size=ncpu, max_size=ncpu))
    present = np.array(draw(st.lists(st.lists(st.integers(0, 10**7), min_size=5, max_size=5), min_size=n, max_size=n)))
    frac = draw(st.floats(0, 1))
    managed = (present * frac).astype(np.int64)
    return Topology(name="h", node_ids=ids, distance=d, cpu_ids=np.arange(ncpu), cpu_node=cpu_node,
                    present_pages=present, managed_pages=managed)


@given(topologies())
def test_json_round_trip_property(t):
    assert sources.load(sources.to_json(t)) == t


# ---------------------------------------------------------------- SLIT rules (kernel's slit_valid)
@pytest.mark.parametrize("table,why", [
    ([[10, 20], [20, 10]], None),
    ([[10, 11], [11, 10]], None),                           # 11 > LOCAL_DISTANCE: fine
    ([[10, 15], [30, 10]], None),                           # asymmetric: the kernel does not check
    ([[10, 10], [10, 10]], "[0][1]"),                       # BIOS writing 10 everywhere
    ([[10, 20], [9, 10]], "[1][0]"),
    ([[11, 20], [20, 10]], "[0][0]"),
    ([[10, 20], [20, 0]], "[1][1]"),
    ([[10, 255], [255, 10]], None),                         # 255 = unreachable, still > 10
])
def test_slit_valid_rules(table, why):
    d, reason = slit.check(table)
    if why is None:
        assert reason is None and d.tolist() == table
    else:
        assert why in reason and d.tolist() == [[10, 20], [20, 10]]


def test_rejected_table_gives_defaults_and_a_note():
    t = sources.load("bad-slit-all-10")
    assert t.distance.tolist() == [[10, 20], [20, 10]]
    assert any("rejected" in n and "slit_valid" in n for n in t.notes)
    assert t.meta["rejected_distance"] == [[10, 10], [10, 10]]


def test_asymmetric_table_is_kept_with_a_note():
    t = sources.from_dict({"nodes": [{"id": 0, "cpus": "0", "mem_mib": 1}, {"id": 1, "cpus": "1", "mem_mib": 1}],
                           "distance": [[10, 15], [30, 10]]})
    assert t.distance.tolist() == [[10, 15], [30, 10]]
    assert any("asymmetric" in n for n in t.notes)


@given(st.integers(1, 5).flatmap(lambda n: st.lists(st.lists(st.integers(0, 255), min_size=n, max_size=n),
                                                     min_size=n, max_size=n)))
def test_slit_engine_matches_reference(table):
    d, why = slit.check(table)
    rd, rwhy = slit.reference_check(table)
    assert d.tolist() == rd
    assert (why is None) == (rwhy is None)
    if why:
        assert rwhy in why


# ---------------------------------------------------------------- zones by address
def test_zones_by_address_hand_computed():
    # 3998 DMA pages (16 MiB minus page 0 and the 640K-1M hole), then DMA32 up to 4 GiB
    z = sources.assign_zones_by_address([5000, 0, 2_000_000])
    assert z.tolist() == [[3998, 1002, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1043478, 956522, 0, 0]]
    z = sources.assign_zones_by_address([10, 20], movable=[False, True])
    assert z.tolist() == [[10, 0, 0, 0, 0], [0, 0, 0, 20, 0]]


# ---------------------------------------------------------------- numactl --hardware
def test_numactl_memoryless_nodes():
    t = sources.load(FIX / "numactl-memoryless.txt")
    assert t.node_ids.tolist() == [0, 1, 2, 3]
    assert t.has_memory.tolist() == [False, True, True, False]
    assert t.has_cpu.all() and t.cpus_of(0).tolist() == [0, 1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29]
    assert t.managed_pages.sum(axis=1).tolist() == [0, 64307 * 256, 64472 * 256, 0]
    assert t.distance[0].tolist() == [10, 12, 12, 12]


def test_numactl_sparse_cpuless():
    t = sources.load(FIX / "numactl-sparse-cpuless.txt")
    assert t.node_ids.tolist() == [0, 8, 250]
    assert t.has_cpu.tolist() == [True, True, False]
    assert t.distance.tolist() == [[10, 40, 80], [40, 10, 80], [80, 80, 10]]


@pytest.mark.parametrize("fname", ["numactl-memoryless.txt", "numactl-sparse-cpuless.txt"])
def test_numactl_text_round_trip(fname):
    text = (FIX / fname).read_text()
    t = sources.from_numactl_hardware(text)
    assert sources.to_numactl_hardware(t) == text
    assert sources.from_numactl_hardware(sources.to_numactl_hardware(t)) == t


def test_numactl_bad_lines():
    with pytest.raises(NumalabError, match="line 2"):
        sources.from_numactl_hardware("available: 1 nodes (0)\nnode 0 size: lots\n")
    with pytest.raises(NumalabError, match="not numactl"):
        sources.from_numactl_hardware("available: 0 nodes ()\n")
    with pytest.raises(NumalabError, match="node 1 has 1 values|row of node 1 has 1 values"):
        sources.from_numactl_hardware("node 0 cpus: 0\nnode 0 size: 1 MB\nnode 1 cpus: 1\nnode 1 size: 1 MB\n"
                                      "node distances:\nnode 0 1\n0: 10 20\n1: 20\n")


# ---------------------------------------------------------------- hwloc XML v2
def test_hwloc_xml():
    t = sources.load(FIX / "hwloc-2n.xml")
    assert t.node_ids.tolist() == [0, 1]
    assert t.cpus_of(0).tolist() == [0, 1] and t.cpus_of(1).tolist() == [2, 3]
    assert t.managed_pages.sum(axis=1).tolist() == [262144, 131072]
    assert t.distance.tolist() == [[10, 21], [21, 10]]


def test_parse_size():
    assert sources.parse_size("256M") == 256 << 20
    assert sources.parse_size("2G") == 2 << 30
    with pytest.raises(NumalabError):
        sources.parse_size("lots")
