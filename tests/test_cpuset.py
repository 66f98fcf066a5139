"""numalab.cpuset: masks, validation errnos, the node-allowed table, reading a cgroup v2 tree."""
import numpy as np
import pytest
from hypothesis import Phase, assume, given, settings, strategies as st

from numalab.cpuset import CpusetTree, format_nodes, node_allowed, node_allowed_table, read_cgroup_tree
from numalab.errors import NumalabError
from numalab.reference import cpuset as ref
from numalab.topology import Topology


def topo(n=4, memoryless=()):
    present = np.tile([0, 0, 100, 0, 0], (n, 1))
    present[list(memoryless)] = 0
    return Topology(name="t", node_ids=np.arange(n), distance=10 + 10 * (1 - np.eye(n, dtype=int)),
                    cpu_ids=np.arange(n), cpu_node=np.arange(n), present_pages=present, managed_pages=present)


def fmt(m):
    return format_nodes(m)


def test_v2_effective_and_task_mems():
    t = CpusetTree(topo(4, memoryless=[3]), "v2")
    t.create("/a", mems="1-3", populated=True)
    t.create("/a/b", mems="0", populated=True)          # outside the parent's effective: inherit
    # the root's effective mems are N_MEMORY (0-2): memoryless node 3 never becomes effective
    assert fmt(t.get("/a").mems) == "1-3" and fmt(t.effective("/a")) == "1-2"
    assert fmt(t.task_mems_allowed("/a")) == "1-2"
    assert fmt(t.effective("/a/b")) == "1-2"
    t.create("/c", mems="3", populated=True)            # memoryless only: empty -> parent's
    assert fmt(t.effective("/c")) == "0-2" and fmt(t.task_mems_allowed("/c")) == "0-2"
    t.create("/d")                                      # never written: inherits
    assert fmt(t.effective("/d")) == "0-2"


def test_v2_root_accepts_possible_nodes_only():
    t = CpusetTree(topo(2), "v2")
    t.create("/a", mems="0")
    with pytest.raises(NumalabError) as e:
        t.write_mems("/a", "5")                         # parses (5 < MAX_NUMNODES), not possible
    assert e.value.errno == "EINVAL"
    with pytest.raises(NumalabError) as e:
        t.write_mems("/a", "1024")                      # bitmap_parselist: beyond MAX_NUMNODES
    assert e.value.errno == "ERANGE"


def test_v1_errnos():
    t = CpusetTree(topo(4), "v1")
    t.create("/a", mems="0-2", populated=True)
    t.create("/a/b", mems="1", populated=True)
    with pytest.raises(NumalabError) as e:
        t.write_mems("/a", "2-3")                       # would drop the child's node 1
    assert e.value.errno == "EBUSY"
    with pytest.raises(NumalabError) as e:
        t.write_mems("/a/b", "3")                       # not within the parent
    assert e.value.errno == "EACCES"
    with pytest.raises(NumalabError) as e:
        t.write_mems("/a/b", "")                        # populated -> may not become empty
    assert e.value.errno == "ENOSPC"
    t.create("/x", mems="3", mem_exclusive=True)
    with pytest.raises(NumalabError) as e:
        t.create("/y", mems="2-3")
    assert e.value.errno == "EINVAL"
    assert t.nearest_hardwall_ancestor("/a/b") == "/"
    t.set_flags("/a", mem_hardwall=True)
    assert t.nearest_hardwall_ancestor("/a/b") == "/a"


def test_write_reports_changed_descendants():
    t = CpusetTree(topo(4), "v2")
    t.create("/a", mems="0-3", populated=True)
    t.create("/a/b", mems="2-3", populated=True)
    ch = t.write_mems("/a", "0-1")
    assert set(ch.changed) == {"/a", "/a/b"}
    assert fmt(ch.new_task_mems["/a/b"]) == "0-1" and fmt(ch.configured["/a/b"]) == "2-3"


def test_node_allowed_table_rows():
    m = np.array([1, 0, 0, 0], bool)
    hw = np.array([1, 1, 0, 0], bool)
    assert node_allowed(m, hw, in_interrupt=True).all()
    assert node_allowed(m, hw).tolist() == [True, False, False, False]
    assert node_allowed(m, hw, oom_victim=True).all()
    assert node_allowed(m, hw, gfp_hardwall=False).tolist() == [True, True, False, False]
    assert node_allowed(m, hw, gfp_hardwall=False, exiting=True).all()
    t = CpusetTree(topo(4), "v2")
    t.create("/a", mems="1", populated=True)
    rows = node_allowed_table(t, "/a")
    assert len(rows) == 16 and {r["allowed"] for r in rows} >= {"1", "0-3"}


@given(st.sets(st.integers(0, 7)), st.sets(st.integers(0, 7)), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_node_allowed_matches_reference(m, hw, intr, hard, oom, ex):
    mm = np.zeros(8, bool)
    mm[list(m)] = True
    hh = np.zeros(8, bool)
    hh[list(hw)] = True
    got = node_allowed(mm, hh, in_interrupt=intr, gfp_hardwall=hard, oom_victim=oom, exiting=ex)
    want = [ref.node_allowed(i, m, hw, in_interrupt=intr, gfp_hardwall=hard, oom_victim=oom, exiting=ex) for i in range(8)]
    assert got.tolist() == want


def _draw_chain(data, hier, t):
    """Nested cpusets /c, /c/c, ...: v1 demands each child's mems be a subset of its parent's
    (validate_change -> is_cpuset_subset), so v1 draws from the parent's mems; v2 from all nodes."""
    chain = []
    pool = sorted(np.flatnonzero(t.get("/").mems).tolist())
    for _ in range(data.draw(st.integers(1, 4), label="depth")):
        choices = pool if hier == "v1" else list(range(6))
        mems = data.draw(st.sets(st.sampled_from(choices)) if choices else st.just(set()), label="mems")
        chain.append(mems)
        pool = sorted(mems)
    return chain


def _build_chain(t, chain):
    """Create the chain; the tree dict for the reference, or None when a write is refused."""
    tree = {"/": {"mems": set(range(6))}}
    path = ""
    for mems in chain:
        path += "/c"
        try:
            t.create(path, mems=",".join(map(str, sorted(mems))))
        except NumalabError:
            return None, path
        tree[path] = {"mems": mems}
    return tree, path


@given(st.data(), st.sampled_from(["v1", "v2"]))
def test_effective_matches_reference(data, hier):
    t = CpusetTree(topo(6, memoryless=[5]), hier)
    tree, path = _build_chain(t, _draw_chain(data, hier, t))
    assume(tree is not None)                            # a refused write has no effective mems
    nm = set(range(5))
    assert set(np.flatnonzero(t.effective(path))) == ref.effective(tree, path, hier, nm)
    assert set(np.flatnonzero(t.task_mems_allowed(path))) == ref.guarantee_online_mems(tree, path, hier, nm)


@pytest.mark.parametrize("hier", ["v1", "v2"])
def test_effective_draws_are_mostly_valid(hier):
    """The property above checks something on most draws of both hierarchies (no silent pass)."""
    seen = {"all": 0, "ok": 0}

    @settings(max_examples=200, database=None, derandomize=True, phases=[Phase.generate])
    @given(st.data())
    def probe(data):
        t = CpusetTree(topo(6, memoryless=[5]), hier)
        chain = _draw_chain(data, hier, t)             # (a draw Hypothesis abandons stops here)
        seen["all"] += 1
        seen["ok"] += _build_chain(t, chain)[0] is not None

    probe()
    assert seen["all"] >= 100 and seen["ok"] >= 0.9 * seen["all"], seen


def test_read_cgroup_tree(tmp_path):
    base = tmp_path / "sys" / "fs" / "cgroup"
    (base / "job" / "inner").mkdir(parents=True)
    (base / "cpuset.mems.effective").write_text("0-3\n")
    (base / "job" / "cpuset.mems").write_text("1-2\n")
    (base / "job" / "cpuset.mems.effective").write_text("1-2\n")
    (base / "job" / "inner" / "cpuset.mems").write_text("\n")
    (base / "job" / "inner" / "cpuset.mems.effective").write_text("1-2\n")
    (base / "job" / "inner" / "cgroup.procs").write_text("42\n")
    t = read_cgroup_tree(tmp_path, topo(4))
    assert fmt(t.effective("/job/inner")) == "1-2" and t.get("/job/inner").populated
    (base / "job" / "inner" / "cpuset.mems.effective").write_text("3\n")
    with pytest.raises(NumalabError):
        read_cgroup_tree(tmp_path, topo(4))
    with pytest.raises(NumalabError):
        read_cgroup_tree(tmp_path / "nothing", topo(4))
