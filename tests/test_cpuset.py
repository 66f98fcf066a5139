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
    assert len(rows) == 24 and {r["allowed"] for r in rows} >= {"1", "0-3"}


@pytest.mark.parametrize("kernel,other_thread", [("4.10", "1"), ("4.13", "1"), ("4.14", "0-3"), ("6.18", "0-3")])
def test_oom_victim_row_per_release(kernel, other_thread):
    """Row 3: TIF_MEMDIE (the picked thread only) before v4.14, tsk_is_oom_victim() from v4.14."""
    t = CpusetTree(topo(4), "v2", kernel)
    t.create("/a", mems="1", populated=True)
    rows = node_allowed_table(t, "/a")
    pick = {(r["oom_victim"], r["tif_memdie"]): r["allowed"] for r in rows
            if not r["in_interrupt"] and r["gfp_hardwall"] and not r["exiting"]}
    assert pick[(False, False)] == "1"
    assert pick[(True, True)] == "0-3"                  # the thread the OOM killer marked
    assert pick[(True, False)] == other_thread          # another thread of the victim process


@given(st.sets(st.integers(0, 7)), st.sets(st.integers(0, 7)), st.booleans(), st.booleans(), st.booleans(),
       st.booleans(), st.sampled_from([None, False, True]), st.sampled_from([None, "4.13", "4.14", "6.1"]))
def test_node_allowed_matches_reference(m, hw, intr, hard, oom, ex, memdie, kernel):
    mm = np.zeros(8, bool)
    mm[list(m)] = True
    hh = np.zeros(8, bool)
    hh[list(hw)] = True
    kw = dict(in_interrupt=intr, gfp_hardwall=hard, oom_victim=oom, exiting=ex, memdie=memdie, kernel=kernel)
    got = node_allowed(mm, hh, **kw)
    want = [ref.node_allowed(i, m, hw, **kw) for i in range(8)]
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


@pytest.mark.parametrize("kernel,text,why", [
    ("5.12", "0-N", "N token needs kernel 5.13"), ("5.13", "0-N", "not in the root cpuset's mems"),
    ("5.13", "all", "all token needs kernel 5.14"), ("5.14", "all", "not in the root cpuset's mems"),
    ("6.12", "ALL", "not in the root cpuset's mems")])
def test_write_mems_parses_with_the_kernels_own_grammar(kernel, text, why):
    """cpuset.mems goes through the bitmap_parselist of the running release (issue 9, item 5).

    Every release refuses ``all`` on a 4-node machine with EINVAL, but for different reasons:
    before its token existed it is a syntax error; after, the 1024 bits are not within the root
    cpuset's mems (update_nodemask's nodes_subset check).
    """
    t = CpusetTree(topo(4), "v2", kernel)
    t.create("/job")
    with pytest.raises(NumalabError) as e:
        t.write_mems("/job", text)
    assert e.value.errno == "EINVAL" and why in str(e.value)


@pytest.mark.parametrize("kernel", ["4.10", "5.12", "6.18"])
def test_write_mems_strided_list_in_every_release(kernel):
    t = CpusetTree(topo(4), "v2", kernel)
    t.create("/job", mems="0-3:1/2")
    assert fmt(t.get("/job").mems) == "0,2"


def movable_topo():
    """Node 0: Normal memory; node 1: only ZONE_MOVABLE (hotplugged or CXL memory)."""
    present = np.array([[0, 0, 100, 0, 0], [0, 0, 0, 100, 0]])
    return Topology(name="mov", node_ids=np.arange(2), distance=np.array([[10, 20], [20, 10]]),
                    cpu_ids=np.arange(2), cpu_node=np.array([0, 0]), present_pages=present, managed_pages=present)


@pytest.mark.parametrize("kernel,logged", [("5.15", False), ("5.16", True), ("6.18", True)])
def test_movable_only_mems_turn_on_the_insane_config_key(kernel, logged):
    t = CpusetTree(movable_topo(), "v2", kernel)
    t.create("/a")
    ch = t.write_mems("/a", "1")
    assert t.insane_config == logged
    assert bool(ch.log) == logged and (not logged or "nmask=1" in ch.log[0])
    assert t.write_mems("/a", "0-1").log == ()           # 0 has Normal memory
    t.create("/b")
    assert t.write_mems("/b", "1").log == ()             # the key is set once only
