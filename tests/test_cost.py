"""numalab.cost against bytes computed by hand (the arithmetic is written out in each test)."""
import json

import numpy as np
import pytest

from numalab import cgsets, cost
from numalab.cli import main
from numalab.errors import NumalabError
from numalab.topology import Topology
from zonelist_examples import worked_examples


def _cs(topo, mems_rows, tasks, root_tasks=0, cpu_rows=None, paths=None):
    mems = np.array(mems_rows, bool)
    K, n = mems.shape
    cpu = mems.copy() if cpu_rows is None else np.array(cpu_rows, bool)
    return cgsets.Cpusets(topo, tuple(paths or [f"/c{i}" for i in range(K)]), mems, np.ones((K, n), bool),
                          np.full(K, -1), cpu, np.array(tasks), root_tasks)


def test_reference_table_of_section_2():
    # 2 * 16 * (N*Z + 1) per node, the table in kernel-semantics.md section 2
    for shift, z, want in ((2, 4, 544), (3, 5, 1312), (6, 4, 8224), (6, 5, 10272), (10, 4, 131104), (10, 5, 163872)):
        c = cost.config(nodes_shift=shift, zones=z)
        assert 2 * cost.zonelist_bytes(c) == want


def test_debian_presets_and_today():
    assert cost.CONFIGS["debian-6.1-amd64"].nodes_shift == 10
    assert cost.CONFIGS["debian-6.12-amd64"].max_nr_zones == 5
    t = worked_examples()["E-zones"]          # node 0: DMA, DMA32, Normal; node 1: Normal
    r = cost.cost(t, "debian-6.1-amd64", _cs(t, [[0, 1]], [1]), ["static-system"])
    # 2 possible nodes * 2 lists * 16 * (1024*5 + 1) = 2 * 2 * 81,936
    assert r.today_bytes == 327_744


def test_static_and_exact_by_hand_e_zones():
    t = worked_examples()["E-zones"]
    cs = _cs(t, [[0, 1], [1, 1]], [10, 5], root_tasks=3)
    r = cost.cost(t, "debian-6.1-amd64", cs, ["static-system", "exact-ancestor", "static-first"])
    L = 16 * (1024 * 5 + 1)                    # 81,936: one static list
    # static-system: pointer 8 + header 24 + 2 start nodes * (FB 8+L, NOFB 8+L)
    per = 8 + 24 + 2 * ((8 + L) + (8 + L))
    assert r.variants["static-system"].per_cpuset.tolist() == [per, per]
    assert r.variants["static-system"].total_bytes == 2 * per
    # saved: 18 tasks * (nodemask 1024 bits = 128 B + seqcount 4 B)
    assert r.variants["static-system"].saved_bytes == 18 * 132
    # static-first adds a softwall FALLBACK list per start node: 2 * (8 + L)
    assert r.variants["static-first"].per_cpuset.tolist() == [per + 2 * (8 + L)] * 2
    # exact, /c0 mems {1}: FB holds N1.Normal -> 16*(1+1) + 8 per start, 2 starts = 80;
    # NOFB start 0 (not allowed): 16 + 8; start 1: 16*(1+1) + 8 = 40 -> 64; + 8 + 24
    # /c1 mems {0,1}: FB 4 zones -> 2 * (16*5 + 8) = 176; NOFB start 0: 16*4+8 = 72, start 1: 40 -> 112
    assert r.variants["exact-ancestor"].per_cpuset.tolist() == [8 + 24 + 80 + 64, 8 + 24 + 176 + 112]


def test_shared_and_start_nodes_by_hand():
    t = worked_examples()["A-flat4"]           # 4 nodes, Normal only, all with CPUs
    cs = _cs(t, [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0]], [1, 1, 1])
    cfg = cost.config(nodes_shift=6, zones=4)
    r = cost.cost(t, cfg, cs, ["shared-exact-ancestor", "shared-exact-ancestor-start", "node-nofallback"])
    # today: 4 nodes * 2 * 16 * (64*4 + 1) = 4 * 8,224
    assert r.today_bytes == 32_896
    # shared, all 4 starts. mems {0,1}: FB 4 * (8 + 16*3) = 224; NOFB 4 * (8+16) + 16*2 = 128
    s01 = 8 + 24 + 224 + 128
    # mems {2}: FB 4 * (8 + 16*2) = 160; NOFB 96 + 16 = 112
    s2 = 8 + 24 + 160 + 112
    assert r.variants["shared-exact-ancestor"].per_cpuset.tolist() == [s01, 8, s2]
    assert r.variants["shared-exact-ancestor"].list_sets == 2
    # start nodes = CPU nodes = mems here. {0,1}: 2 starts: FB 2*(8+48) = 112, NOFB 2*24 + 32 = 80
    # {2}: 1 start: FB 8 + 32 = 40, NOFB 24 + 16 = 40
    assert r.variants["shared-exact-ancestor-start"].per_cpuset.tolist() == [8 + 24 + 112 + 80, 8, 8 + 24 + 40 + 40]
    # node-nofallback: no NOFB lists
    assert r.variants["node-nofallback"].per_cpuset.tolist() == [8 + 24 + 224, 8, 8 + 24 + 160]
    # saved: 3 tasks * (8 + 4)
    assert r.variants["node-nofallback"].saved_bytes == 36


def test_nodes_shift_too_small_and_bad_configs():
    t = worked_examples()["A-flat4"]
    with pytest.raises(NumalabError, match="does not fit"):
        cost.cost(t, cost.config(nodes_shift=1, zones=4), _cs(t, [[1, 0, 0, 0]], [1]))
    with pytest.raises(NumalabError, match="0..10"):
        cost.config(nodes_shift=11, zones=4)
    with pytest.raises(NumalabError, match="unknown kernel configuration"):
        cost.config("debian")
    with pytest.raises(NumalabError, match="unknown variant"):
        cost.design("nope")


def test_ten_thousand_cpusets_on_1024_nodes_counts_without_lists():
    n = 1024
    pages = np.zeros((n, 5), np.int64)
    pages[:, 2] = 1 << 18
    d = np.full((n, n), 20)
    np.fill_diagonal(d, 10)
    t = Topology(name="big", node_ids=np.arange(n), distance=d, cpu_ids=np.arange(n), cpu_node=np.arange(n),
                 present_pages=pages, managed_pages=pages)
    cs = cgsets.generate(t, 10_000, "random", tasks=3)
    r = cost.cost(t, "debian-6.12-amd64", cs, ["exact-ancestor"])
    v = r.variants["exact-ancestor"]
    # every node holds one zone; per cpuset: 8 + 24 + 1024 * (8 + 16*(|S|+1)) + 1024*24 + 16*|S|
    s = cs.mems.sum(axis=1)
    want = 8 + 24 + 1024 * (8 + 16 * (s + 1)) + 1024 * 24 + 16 * s
    assert v.per_cpuset.tolist() == want.tolist()


def test_cli_json_names(tmp_path):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["cost", "sockets-2x2", "--cpusets", "socket:3", "--variant",
                     "exact-ancestor", "--json"]) == 0
    doc = json.loads(buf.getvalue())
    assert set(doc) >= {"today_bytes", "variants", "tasks"}
    v = doc["variants"]["exact-ancestor"]
    assert set(v) >= {"total_bytes", "saved_bytes", "per_cpuset"}
    assert set(v["per_cpuset"][0]) == {"path", "mems", "bytes"}
    assert v["per_cpuset"][0]["mems"] == "0-1"
    assert doc["tasks"] == 150


def test_cli_errors(capsys):
    assert main(["cost", "sockets-2x2", "--config", "x86_64-default", "--zones", "4"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["cost", "sockets-2x2", "--nodes-shift", "4"]) == 2
    assert "--nodes-shift and --zones" in capsys.readouterr().err


def test_cgroups_file(tmp_path):
    from numalab.sources import cgroup

    p = tmp_path / "cgroups.json"
    cgroup.write(p, [{"path": "/", "procs": 4, "threads": 7},
                     {"path": "/a", "mems": "0-1", "mems_effective": "0-1", "threads": 5},
                     {"path": "/a/b", "mems": "1", "mems_effective": "1", "threads": 2}])
    t = worked_examples()["A-flat4"]
    cs = cgsets.parse_spec(t, str(p))
    assert cs.paths == ("/a", "/a/b") and cs.total_tasks == 14
    assert cs.mems.astype(int).tolist() == [[1, 1, 0, 0], [0, 1, 0, 0]]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": cgroup.FORMAT, "cgroups": [{"path": "/a", "mems": "0;rm"}]}))
    with pytest.raises(NumalabError, match="kernel list"):
        cgsets.parse_spec(t, str(bad))
    wrong = tmp_path / "wrong.json"
    cgroup.write(wrong, [{"path": "/a", "mems": "1", "mems_effective": "0-1"}])
    with pytest.raises(NumalabError, match="disagrees"):
        cgsets.parse_spec(t, str(wrong))


def test_snapshot_records_the_cgroup_tree(tmp_path, capsys):
    from numalab.sources import cgroup

    root = tmp_path / "root"
    nd = root / "sys/devices/system/node/node0"
    nd.mkdir(parents=True)
    (root / "sys/devices/system/node/possible").write_text("0\n")
    (root / "sys/devices/system/node/online").write_text("0\n")
    (root / "sys/devices/system/node/has_memory").write_text("0\n")
    (root / "sys/devices/system/node/has_cpu").write_text("0\n")
    (nd / "distance").write_text("10\n")
    (nd / "cpulist").write_text("0-1\n")
    (nd / "meminfo").write_text("Node 0 MemTotal:       1048576 kB\n")
    cg = root / "sys/fs/cgroup"
    (cg / "a").mkdir(parents=True)
    (cg / "cpuset.mems.effective").write_text("0\n")
    (cg / "cgroup.procs").write_text("1\n2\n")
    (cg / "a" / "cpuset.mems").write_text("0\n")
    (cg / "a" / "cpuset.mems.effective").write_text("0\n")
    (cg / "a" / "cpuset.cpus.effective").write_text("1\n")
    (cg / "a" / "cgroup.threads").write_text("7\n8\n9\n")
    (cg / "a" / "secret").write_text("not copied\n")
    out = tmp_path / "snap"
    assert main(["snapshot", str(out), "--root", str(root)]) == 0
    doc = cgroup.load(out)
    assert [(r["path"], r["mems"], r["cpus_effective"], r["procs"], r["threads"]) for r in doc["cgroups"]] == \
        [("/", None, None, 2, 0), ("/a", "0", "1", 0, 3)]
    assert "not copied" not in (out / cgroup.FILE_NAME).read_text()
    t = __import__("numalab.sources", fromlist=["load"]).load(str(out))
    cs = cgsets.parse_spec(t, str(out))
    assert cs.paths == ("/a",) and cs.total_tasks == 5 and cs.cpu_nodes.tolist() == [[True]]


@pytest.mark.parametrize("name", sorted(cost.DESIGNS))
@pytest.mark.parametrize("shape", ["node", "socket", "random"])
def test_engine_equals_the_scalar_reference(name, shape):
    from numalab import sources
    from numalab.reference import cost as rc

    t = sources.load("xeon-max-2s-snc4-hbm-flat-16n")
    cs = cgsets.generate(t, 37, shape, tasks=2)
    d = cost.DESIGNS[name]
    r = cost.cost(t, "x86_64-default", cs, [name])
    ids = [int(x) for x in t.node_ids]
    qual = (t.present_pages > 0) & t.online[:, None]
    qual[:, t.zone_types.index("Device")] = False
    zones = {ids[i]: int(qual[i].sum()) if t.has_memory[i] else 0 for i in range(len(ids))}
    recs = [{"mems": {ids[j] for j in np.flatnonzero(cs.mems[k])},
             "starts": {ids[j] for j in np.flatnonzero(cs.cpu_nodes[k])}} for k in range(len(cs))]
    per, total = rc.cpuset_bytes(6, 4, zones, [ids[i] for i in range(len(ids)) if t.possible[i]], recs,
                                 dict(softwall=d.softwall, nofallback=d.nofallback, nodes=d.nodes, size=d.size,
                                      shared=d.shared))
    assert r.variants[name].per_cpuset.tolist() == per and r.variants[name].total_bytes == total
    assert r.today_bytes == rc.today_bytes(6, 4, [i for i in ids])


def test_v1_cpuset_hierarchy_is_recorded_with_its_flags(tmp_path):
    from numalab.sources import cgroup

    base = tmp_path / "sys/fs/cgroup/cpuset"
    (base / "job" / "inner").mkdir(parents=True)
    (base / "cpuset.mems").write_text("0-3\n")
    (base / "cpuset.effective_mems").write_text("0-3\n")
    (base / "tasks").write_text("1\n2\n3\n")
    for d, mems, hard in ((base / "job", "2-3", "1"), (base / "job" / "inner", "3", "0")):
        (d / "cpuset.mems").write_text(mems + "\n")
        (d / "cpuset.effective_mems").write_text(mems + "\n")
        (d / "cpuset.mem_hardwall").write_text(hard + "\n")
        (d / "cpuset.mem_exclusive").write_text("0\n")
        (d / "tasks").write_text("9\n")
    assert cgroup.hierarchy(tmp_path)[0] == "v1"
    recs = cgroup.record(tmp_path)
    assert [(r["path"], r["mems"], r["mem_hardwall"], r["threads"]) for r in recs] == \
        [("/", None, False, 3), ("/job", "2-3", True, 1), ("/job/inner", "3", False, 1)]
    out = tmp_path / "cg.json"
    cgroup.write(out, recs, "v1")
    t = worked_examples()["A-flat4"]
    cs = cgsets.parse_spec(t, str(out))
    # /job/inner's nearest hardwall ancestor is /job: its softwall escape is /job's mems
    assert cs.hardwall_index.tolist() == [0, 0]
    assert cs.hardwall_mems.astype(int).tolist() == [[0, 0, 1, 1], [0, 0, 1, 1]]
    from numalab import compare

    r = compare.compare(t, "6.12", ["static-system", "static-ancestor"], cs)
    assert r.variants["static-system"]["by_cause"].get("softwall GFP_KERNEL escape", 0) > 0
    assert r.variants["static-ancestor"]["differ_set"] == r.variants["static-ancestor"]["differ_order"] == 0
