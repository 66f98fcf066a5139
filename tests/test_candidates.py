"""Candidate zones: the vectorized engine against the scalar reference, and hand-checked cases."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from numalab import candidates as cd
from zonelist_examples import worked_examples
from numalab import cgsets
from numalab import zonelist as zlm
from numalab.cost import DESIGNS, Design
from numalab.errors import NumalabError
from numalab.reference import candidates as ref
from numalab.kernel import profile as kernel_profile
from numalab.topology import Topology

KERNELS = ("4.10", "5.8", "5.9", "4.13", "5.15", "5.16", "6.1", "6.8", "6.12", "6.18")
BEHAVIOURS = sorted({d.behaviour for d in DESIGNS.values()}
                    | {("rebuild", "first", "node", "start", "system"), ("rebuild", "system", "cpuset", "start", "cpuset"),
                       ("filter", "first", "cpuset", "start", "cpuset")})


@st.composite
def machines(draw):
    n = draw(st.integers(2, 5))
    d = np.full((n, n), 10)
    for i in range(n):
        for j in range(i + 1, n):
            d[i, j] = d[j, i] = draw(st.sampled_from([11, 12, 16, 20, 21, 32]))
    pages = np.zeros((n, 5), np.int64)
    for i in range(n):
        kind = draw(st.sampled_from(["normal", "normal", "movable", "both", "none", "dma"]))
        if kind in ("normal", "both"):
            pages[i, 2] = 1000
        if kind in ("movable", "both"):
            pages[i, 3] = 1000
        if kind == "dma":
            pages[i, :3] = (10, 100, 1000)
    if not pages.any():
        pages[0, 2] = 1000
    cpus = [i for i in range(n) if draw(st.booleans())] or [0]
    t = Topology(name="h", node_ids=np.arange(n), distance=d, cpu_ids=np.arange(len(cpus)),
                 cpu_node=np.array(cpus), present_pages=pages, managed_pages=pages)
    mem = np.flatnonzero(t.has_memory)
    K = draw(st.integers(1, 3))
    mems = np.zeros((K, n), bool)
    hw = np.ones((K, n), bool)
    hwi = np.full(K, -1)
    for c in range(K):
        pick = [j for j in mem if draw(st.booleans())] or [int(mem[0])]
        mems[c, pick] = True
        if draw(st.booleans()):                  # its own v1 mem_hardwall
            hw[c] = mems[c]
            hwi[c] = c
    cpu_nodes = np.array([[draw(st.booleans()) for _ in range(n)] for _ in range(K)], bool)
    cs = cgsets.Cpusets(t, tuple(f"/c{c}" for c in range(K)), mems, hw, hwi, cpu_nodes, np.ones(K, np.int64))
    return t, cs


@st.composite
def batches(draw):
    t, cs = draw(machines())
    n = t.n_nodes
    B = draw(st.integers(1, 12))
    rows = []
    gfps = list(cd.DEFAULT_GFPS) + ["GFP_HIGHUSER_MOVABLE|__GFP_THISNODE", "GFP_USER|__GFP_THISNODE", "GFP_DMA32"]
    kernel = draw(st.sampled_from(KERNELS))
    modes = cd.MODES if kernel_profile(kernel).has_mode("PREFERRED_MANY") else cd.MODES[:3]
    for _ in range(B):
        c = draw(st.integers(-1, len(cs) - 1))
        mode = draw(st.sampled_from(modes))
        nodes = sorted({draw(st.integers(0, n - 1)) for _ in range(draw(st.integers(1, n)))})
        rows.append(dict(cpuset=cs.paths[c] if c >= 0 else "/", cpu=draw(st.integers(0, n - 1)),
                         policy=mode, nodes=",".join(map(str, nodes)), gfp=draw(st.sampled_from(gfps)),
                         context=draw(st.sampled_from(cd.CONTEXTS))))
    return t, cs, rows, kernel


def _ref_request(t, cs, r):
    ids = [int(x) for x in t.node_ids]
    c = cs.paths.index(r["cpuset"]) if r["cpuset"] != "/" else -1
    mem = {ids[i] for i in range(len(ids)) if t.has_memory[i]}
    nodes = {int(x) for x in r["nodes"].split(",")} if r["policy"] != "local" else set()
    if r["policy"] == "preferred":
        nodes = {min(nodes)}
    if c < 0:
        mems, hwm, anc, cpu_nodes = mem, set(ids), None, set(ids)
    else:
        mems = {ids[j] for j in np.flatnonzero(cs.mems[c])}
        hwm = {ids[j] for j in np.flatnonzero(cs.hardwall_mems[c])}
        a = int(cs.hardwall_index[c])
        anc = None if a < 0 else {ids[j] for j in np.flatnonzero(cs.mems[a])}
        cpu_nodes = {ids[j] for j in np.flatnonzero(cs.cpu_nodes[c])}
    return dict(mems=mems, hardwall_mems=hwm, cpu=r["cpu"], mode=r["policy"], nodes=nodes, gfp=r["gfp"],
                context=r["context"], enabled=True, ancestor_mems=anc, cpu_nodes=cpu_nodes, root=c < 0)


def _pairs(zl, codes):
    Z = zl.nr_zones
    return [(int(zl.topology.node_ids[c // Z]), int(c % Z)) for c in codes.tolist() if c >= 0]


@settings(max_examples=150, deadline=None)
@given(batches())
def test_today_matches_the_scalar_reference(b):
    t, cs, rows, kernel = b
    zl = zlm.build(t, kernel)
    req = cd.requests(cs, rows)
    got = cd.today(zl, req)
    for i, r in enumerate(rows):
        fast, slow = ref.today(t, kernel, _ref_request(t, cs, r))
        assert _pairs(zl, got.fast[i]) == fast, (i, r)
        assert _pairs(zl, got.slow[i]) == slow, (i, r)
        passes = got.passes(i)
        if r["policy"] == "preferred_many" and "THISNODE" not in r["gfp"] and r["context"] != "interrupt":
            fast2, slow2 = ref.today(t, kernel, _ref_request(t, cs, r), second=True)
            assert len(passes) == 2 and _pairs(zl, passes[1][0]) == fast2 and _pairs(zl, passes[1][1]) == slow2
        else:
            assert len(passes) == 1 and (got.retry_fast[i] < 0).all()


@settings(max_examples=150, deadline=None)
@given(batches(), st.sampled_from(BEHAVIOURS))
def test_proposal_matches_the_scalar_reference(b, beh):
    t, cs, rows, kernel = b
    zl = zlm.build(t, kernel)
    d = Design("t", *beh[:4], oom=beh[4])
    req = cd.requests(cs, rows)
    got = cd.proposal(zl, req, d)
    dd = dict(zip(("hardwall", "softwall", "nofallback", "nodes", "oom"), beh))
    for i, r in enumerate(rows):
        fast, slow = ref.proposal(t, kernel, _ref_request(t, cs, r), dd)
        assert _pairs(zl, got.fast[i]) == fast, (i, r)
        assert _pairs(zl, got.slow[i]) == slow, (i, r)
        passes = got.passes(i)
        if r["policy"] == "preferred_many" and "THISNODE" not in r["gfp"] and r["context"] != "interrupt":
            fast2, slow2 = ref.proposal(t, kernel, _ref_request(t, cs, r), dd, second=True)
            assert len(passes) == 2 and _pairs(zl, passes[1][0]) == fast2 and _pairs(zl, passes[1][1]) == slow2
        else:
            assert len(passes) == 1


def test_rebuilt_orders_match_the_reference_on_the_2x2_example():
    t = worked_examples()["B-2x2-subnuma"]
    for kernel in ("5.15", "5.16", "6.12"):
        zl = zlm.build(t, kernel)
        S = np.array([[1, 1, 1, 1], [0, 1, 1, 1], [1, 0, 0, 1]], bool)
        got = cd.rebuilt_orders(zl, S)
        for c in range(3):
            mems = set(np.flatnonzero(S[c]).tolist())
            for local in range(4):
                assert [x for x in got[c, local].tolist() if x >= 0] == ref.rebuilt_order(t, kernel, mems, local)


def test_rebuilt_order_differs_from_the_boot_order_by_the_cpu_penalty():
    # penalty-tie: flat 4 nodes, CPUs on 0 and 1. At boot no node has CPUs yet, so node 2 orders
    # 2 3 0 1 (lower id first among distance 20+[n<2]); a run-time rebuild on all four nodes adds
    # the CPU penalty to 0 and 1: 2 3 0 1 again, but for node 0: boot 0 1 2 3, rebuild 0 2 3 1.
    t = worked_examples()["penalty-tie"]
    zl = zlm.build(t, "6.12")
    assert zl.fallback_order(0) == [0, 1, 2, 3]
    got = cd.rebuilt_orders(zl, np.ones((1, 4), bool))
    assert got[0, 0].tolist() == [0, 2, 3, 1]


def test_hand_checked_e_zones():
    # Example E: node 0 DMA+DMA32+Normal, node 1 Normal; cpuset {1}; task on node 0
    t = worked_examples()["E-zones"]
    zl = zlm.build(t, "6.18")
    cs = cgsets.Cpusets(t, ("/a",), np.array([[0, 1]], bool), np.ones((1, 2), bool), np.array([-1]),
                        np.array([[0, 1]], bool), np.array([1]))
    rows = [dict(cpuset="/a", cpu=0, gfp="GFP_KERNEL"), dict(cpuset="/a", cpu=0, gfp="GFP_USER"),
            dict(cpuset="/a", cpu=0, gfp="GFP_ATOMIC"), dict(cpuset="/a", cpu=0, gfp="GFP_KERNEL|__GFP_THISNODE"),
            dict(cpuset="/a", cpu=0, gfp="GFP_USER", context="interrupt"),
            dict(cpuset="/a", cpu=0, gfp="GFP_USER", policy="bind", nodes="0", context="oom_victim")]
    c = cd.today(zl, cd.requests(cs, rows))
    dec = lambda a: [" ".join(f"N{n}.{z}" for n, z in cd.decode(zl, r)) for r in a]  # noqa: E731
    assert dec(c.fast) == ["N1.Normal", "N1.Normal", "N1.Normal", "", "N0.Normal N0.DMA32 N0.DMA N1.Normal",
                           "N1.Normal"]
    # GFP_KERNEL escapes to the root in the slow path; GFP_USER may not; GFP_ATOMIC drops the cpuset;
    # GFP_KERNEL|__GFP_THISNODE escapes to node 0's own zones; BIND{0} misses the cpuset so it is
    # ignored (fast path = mems_allowed) and the OOM victim's reserves take any zone
    full = "N0.Normal N0.DMA32 N0.DMA N1.Normal"
    assert dec(c.slow) == [full, "N1.Normal", full, "N0.Normal N0.DMA32 N0.DMA", full, full]
    fast, slow = c.ranks()
    assert fast.shape == (6, 10) and fast[0, 1 * 5 + 2] == 0 and slow[0, 0 * 5 + 2] == 0


def test_bad_requests():
    t = worked_examples()["A-flat4"]
    cs = cgsets.every_mask(t)
    with pytest.raises(NumalabError, match="unsupported gfp"):
        cd.requests(cs, [dict(gfp="GFP_BOGUS")])
    with pytest.raises(NumalabError, match="context"):
        cd.requests(cs, [dict(context="softirq")])
    with pytest.raises(NumalabError, match="no such cpuset"):
        cd.requests(cs, [dict(cpuset="/nope")])
    with pytest.raises(NumalabError, match="needs nodes"):
        cd.requests(cs, [dict(policy="bind", nodes="")])


def _two_nodes_cpuset_1():
    """Flat 2 nodes (Normal only, CPU 0 on node 0, CPU 1 on node 1) and one v2 cpuset /a = {1}."""
    pages = np.zeros((2, 5), np.int64)
    pages[:, 2] = 1000
    t = Topology(name="two", node_ids=[0, 1], distance=[[10, 20], [20, 10]], cpu_ids=[0, 1], cpu_node=[0, 1],
                 present_pages=pages, managed_pages=pages)
    cs = cgsets.Cpusets(t, ("/a",), np.array([[0, 1]], bool), np.ones((1, 2), bool), np.array([-1]),
                        np.array([[1, 1]], bool), np.array([1]))
    return t, cs


def test_interrupt_fast_path_before_and_after_v5_9():
    # a task in cpuset {1} interrupted on node 0 (flat 2 nodes): before v5.9 prepare_alloc_pages put
    # the interrupted task's mems_allowed in the NULL nodemask, so the fast path takes node 1 only;
    # from v5.9 (!in_interrupt()) it sets ALLOC_CPUSET, which lets an interrupt use every node
    t, cs = _two_nodes_cpuset_1()
    rows = [dict(cpuset="/a", cpu=0, gfp="GFP_ATOMIC", context="interrupt")]
    for v, fast in (("4.10", [(1, "Normal")]), ("5.8", [(1, "Normal")]),
                    ("5.9", [(0, "Normal"), (1, "Normal")]), ("6.18", [(0, "Normal"), (1, "Normal")])):
        zl = zlm.build(t, v)
        c = cd.today(zl, cd.requests(cs, rows))
        assert cd.decode(zl, c.fast[0]) == fast, v
        assert cd.decode(zl, c.slow[0]) == [(0, "Normal"), (1, "Normal")], v
        # every design keeps today's interrupt behaviour (the hardwall list replaces the substitution)
        p = cd.proposal(zl, cd.requests(cs, rows), "static-ancestor")
        assert cd.decode(zl, p.fast[0]) == fast, v


def test_preferred_many_two_passes_by_hand():
    # flat 2 nodes, cpuset {1} (v2 child of the root), task on node 0. PREFERRED_MANY {0}: the first
    # pass's nodemask misses the cpuset, so its fast path finds nothing; its slow path tries node 0
    # (GFP_KERNEL may escape to the root's mems) and, at nopage, check_retry_cpuset drops the
    # nodemask and restarts with every allowed node. The second pass is a NULL-nodemask allocation.
    t, cs = _two_nodes_cpuset_1()
    rows = [dict(cpuset="/a", cpu=0, policy="preferred_many", nodes="0", gfp="GFP_KERNEL"),
            dict(cpuset="/a", cpu=0, policy="preferred_many", nodes="0", gfp="GFP_USER"),
            dict(cpuset="/a", cpu=0, policy="preferred_many", nodes="0-1", gfp="GFP_USER"),
            dict(cpuset="/a", cpu=0, policy="preferred_many", nodes="0", gfp="GFP_KERNEL|__GFP_THISNODE")]
    zl = zlm.build(t, "6.12")
    c = cd.today(zl, cd.requests(cs, rows))
    N0, N1 = (0, "Normal"), (1, "Normal")
    got = [[[cd.decode(zl, x) for x in p] for p in c.passes(i)] for i in range(len(rows))]
    assert got[0] == [[[], [N0, N1]], [[N1], [N0, N1]]]
    assert got[1] == [[[], [N1]], [[N1], [N1]]]
    assert got[2] == [[[N1], [N1]], [[N1], [N1]]]
    assert got[3] == [[[], [N0]]]     # __GFP_THISNODE: the default policy, one pass (GFP_KERNEL escapes)
    with pytest.raises(NumalabError, match="v5.15"):
        cd.today(zlm.build(t, "5.14"), cd.requests(cs, rows[:1]))
