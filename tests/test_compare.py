"""numalab.compare: both engines against the scalar reference, and the differences it must find."""
import contextlib
import io
import itertools
import json

import numpy as np
import pytest

from numalab import candidates as cd
from zonelist_examples import worked_examples
from numalab import cgsets, compare
from numalab import zonelist as zlm
from numalab.cli import main
from numalab.cost import DESIGNS, Design
from numalab.kernel import profile
from numalab.reference import candidates as ref
from numalab.topology import Topology


def _three_nodes_movable():
    # node 0: DMA+DMA32+Normal with CPUs, node 1: Normal, node 2: Movable only (CPU-less)
    pages = np.zeros((3, 5), np.int64)
    pages[0, :3] = (100, 1000, 1000)
    pages[1, 2] = 1000
    pages[2, 3] = 1000
    d = [[10, 20, 20], [20, 10, 20], [20, 20, 10]]
    return Topology(name="movable3", node_ids=[0, 1, 2], distance=d, cpu_ids=[0, 1], cpu_node=[0, 1],
                    present_pages=pages, managed_pages=pages)


MACHINES = {"D-memoryless": worked_examples()["D-memoryless"], "E-zones": worked_examples()["E-zones"],
            "movable3": _three_nodes_movable(), "penalty3": Topology(
                name="penalty3", node_ids=[0, 1, 2], distance=[[10, 21, 21], [21, 10, 20], [21, 20, 10]],
                cpu_ids=[0], cpu_node=[2], present_pages=np.tile([0, 0, 1000, 0, 0], (3, 1)),
                managed_pages=np.tile([0, 0, 1000, 0, 0], (3, 1)))}


def _reference_counts(t, kernel, d, cs):
    """Brute force over every request with the scalar reference: (requests, differ_set, differ_order)."""
    ids = [int(x) for x in t.node_ids]
    n = len(ids)
    pmode, pnodes = compare.policies(t, preferred_many=profile(kernel).has_mode("PREFERRED_MANY"))
    dd = dict(hardwall=d.hardwall, softwall=d.softwall, nofallback=d.nofallback, nodes=d.nodes, oom=d.oom)
    total = dset = dorder = 0
    for c, p, start, g, ctx in itertools.product(range(len(cs)), range(len(pmode)), range(n), cd.DEFAULT_GFPS,
                                                 cd.CONTEXTS):
        a = int(cs.hardwall_index[c])
        r = dict(mems={ids[j] for j in np.flatnonzero(cs.mems[c])},
                 hardwall_mems={ids[j] for j in np.flatnonzero(cs.hardwall_mems[c])}, cpu=ids[start],
                 mode=cd.MODES[pmode[p]], nodes={ids[j] for j in np.flatnonzero(pnodes[p])}, gfp=g, context=ctx,
                 enabled=True, ancestor_mems=None if a < 0 else {ids[j] for j in np.flatnonzero(cs.mems[a])},
                 cpu_nodes={ids[j] for j in np.flatnonzero(cs.cpu_nodes[c])}, root=False)
        passes = [False, True] if r["mode"] == "preferred_many" else [False]    # alloc_pages_preferred_many
        walks = [(ref.today(t, kernel, r, second=p2), ref.proposal(t, kernel, r, dd, second=p2)) for p2 in passes]
        total += 1
        if any(set(tf) != set(vf) or set(ts) != set(vs) for (tf, ts), (vf, vs) in walks):
            dset += 1
        elif any(tf != vf or ts != vs for (tf, ts), (vf, vs) in walks):
            dorder += 1
    return total, dset, dorder


@pytest.mark.slow
@pytest.mark.parametrize("machine,kernel", [("D-memoryless", "6.1"), ("E-zones", "6.12"), ("E-zones", "5.8"),
                                            ("movable3", "6.12"), ("movable3", "4.10"), ("penalty3", "6.12")])
@pytest.mark.parametrize("name", ["static-system", "static-first", "rebuild-ancestor", "shared-exact-ancestor-start",
                                  "node-nofallback", "oom-cpuset"])
def test_exhaustive_engine_equals_the_reference_brute_force(machine, kernel, name):
    t = MACHINES[machine]
    cs = cgsets.every_mask(t)
    got = compare.compare(t, kernel, [name], cs).variants[name]
    total, dset, dorder = _reference_counts(t, kernel, DESIGNS[name], cs)
    assert (got["requests"], got["differ_set"], got["differ_order"]) == (total, dset, dorder)
    assert "other" not in got["by_cause"]


@pytest.mark.parametrize("machine", ["movable3", "penalty3"])
def test_sampled_engine_equals_the_exhaustive_one_when_it_takes_everything(machine):
    # the sampled engine (arrays) drawing the whole product is the exhaustive count (bitmasks);
    # both are checked against the scalar reference above and in test_candidates
    t = MACHINES[machine]
    zl = zlm.build(t, "6.12")
    cs = cgsets.every_mask(t)
    designs = [DESIGNS[k] for k in ("static-first", "rebuild-ancestor", "shared-exact-ancestor-start")]
    lists = {d.behaviour: cd.proposal_lists(zl, cs, d) for d in designs}
    pm, pn = compare.policies(t)
    ctx = list(range(4))
    total = len(cs) * len(pm) * 3 * 5 * 4
    a = compare._sampled(zl, cs, designs, lists, pm, pn, cd.DEFAULT_GFPS, ctx, total, 0)
    props = [cd._gfp_props(g, t) for g in cd.DEFAULT_GFPS]
    b = compare._exhaustive(zl, cs, designs, lists, pm, pn, props, ctx)
    for d in designs:
        assert a[d.name]["differ_set"] == b[d.name]["differ_set"]
        assert a[d.name]["differ_order"] == b[d.name]["differ_order"]
        assert a[d.name]["by_cause"].tolist() == b[d.name]["by_cause"].tolist()
        assert np.array_equal(a[d.name]["cells"], b[d.name]["cells"])


@pytest.mark.parametrize("kernel", ["4.13", "5.15", "6.1", "6.18"])
@pytest.mark.parametrize("machine", ["A-flat4", "B-2x2-subnuma", "C-cxl4", "D-memoryless", "E-zones"])
def test_exact_design_reports_nothing(machine, kernel):
    t = worked_examples()[machine]
    r = compare.compare(t, kernel, ["static-ancestor", "shared-exact-ancestor"])
    for v in r.variants.values():
        assert (v["differ_set"], v["differ_order"], v["by_cause"], v["examples"]) == (0, 0, {}, [])


def test_finds_softwall_gfp_kernel_escapes():
    t = worked_examples()["A-flat4"]
    r = compare.compare(t, "6.12", ["static-system"], examples=2)
    v = r.variants["static-system"]
    assert v["differ_order"] == 0 and set(v["by_cause"]) == {"softwall GFP_KERNEL escape"}
    for e in v["examples"]:
        # a v1 mem_hardwall cpuset: today GFP_KERNEL stays inside it, the system list does not
        assert e["cpuset"].startswith("/v1-hardwall") and e["gfp"].startswith("GFP_KERNEL")
        assert e["context"] == "task" and e["differs"] == "set"
        assert len(e["variant"]["slow"].split()) > len(e["today"]["slow"].split())
    # count by hand: every v1 hardwall cpuset S that misses some node, GFP_KERNEL in task context,
    # every policy whose slow path is not already limited to S ... checked against the reference
    total, dset, dorder = _reference_counts(t, "6.12", DESIGNS["static-system"], cgsets.every_mask(t))
    assert (v["differ_set"], v["differ_order"]) == (dset, dorder) and dset > 0


def test_finds_tie_break_order_of_rebuilt_lists():
    # penalty-tie: CPUs only on nodes 0 and 1; the boot build saw no CPUs, a run-time rebuild does
    t = worked_examples()["penalty-tie"]
    v = compare.compare(t, "6.12", ["rebuild-ancestor"]).variants["rebuild-ancestor"]
    assert v["differ_set"] == 0 and v["differ_order"] > 0
    assert v["by_cause"].get("tie-break order of rebuilt lists", 0) > 0
    e = next(e for e in v["examples"] if e["cause"] == "tie-break order of rebuilt lists")
    assert sorted(e["today"]["fast"].split()) == sorted(e["variant"]["fast"].split())
    # even with CPUs everywhere, node_load evolves differently over a subset: flat 4 nodes differ too
    flat = worked_examples()["A-flat4"]
    assert compare.compare(flat, "6.12", ["rebuild-ancestor"]).variants["rebuild-ancestor"]["differ_order"] > 0
    # with two nodes there is never a tie to break
    two = worked_examples()["E-zones"]
    assert compare.compare(two, "6.12", ["rebuild-ancestor"]).variants["rebuild-ancestor"]["differ_order"] == 0


def test_start_nodes_and_thisnode_and_oom_causes():
    t = worked_examples()["B-2x2-subnuma"]
    r = compare.compare(t, "6.12", ["shared-exact-ancestor-start", "node-nofallback", "oom-cpuset"])
    assert set(r.variants["shared-exact-ancestor-start"]["by_cause"]) == {"start node without a list"}
    assert set(r.variants["node-nofallback"]["by_cause"]) == {"__GFP_THISNODE"}
    assert all(e["gfp"].endswith("__GFP_THISNODE") for e in r.variants["node-nofallback"]["examples"])
    oom = r.variants["oom-cpuset"]
    assert set(oom["by_cause"]) == {"OOM victim in the fast path"}
    assert all(e["context"] == "oom_victim" and e["policy"].startswith("bind") for e in oom["examples"])


def test_sampled_above_eight_nodes_says_how():
    t = Topology(name="sixteen", node_ids=np.arange(16), distance=np.where(np.eye(16, dtype=bool), 10, 20),
                 cpu_ids=np.arange(16), cpu_node=np.arange(16), present_pages=np.tile([0, 0, 100, 0, 0], (16, 1)),
                 managed_pages=np.tile([0, 0, 100, 0, 0], (16, 1)))
    r = compare.compare(t, "6.12", ["static-first"], sample=3000)
    assert r.method == "sampled" and "3000 of" in r.sampling and "default_rng(0)" in r.sampling
    v = r.variants["static-first"]
    assert v["requests"] == 3000 and v["differ_order"] > 0 and "other" not in v["by_cause"]


def test_cli_json_names():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["compare", "two-node", "--variant", "static-first", "--json"]) == 0
    doc = json.loads(buf.getvalue())
    assert set(doc) >= {"kernel", "variants"}
    v = doc["variants"]["static-first"]
    assert set(v) == {"requests", "differ_set", "differ_order", "by_cause", "examples"}


def test_cli_with_a_cgroups_file(tmp_path, capsys):
    from numalab.sources import cgroup

    p = tmp_path / "cg.json"
    cgroup.write(p, [{"path": "/a", "mems": "0", "mems_effective": "0"}])
    assert main(["compare", "two-node", "--cpusets", str(p), "--variant", "static-system", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # v2 child of the root: GFP_KERNEL escapes to the whole machine today too -> exact
    assert doc["variants"]["static-system"]["differ_set"] == 0
    assert main(["compare", "two-node", "--context", "softirq"]) == 2
    assert "context must be" in capsys.readouterr().err


from hypothesis import given, settings, strategies as st  # noqa: E402

from tests.test_candidates import machines, BEHAVIOURS, KERNELS  # noqa: E402


@settings(max_examples=12, deadline=None)
@given(machines(), st.sampled_from(BEHAVIOURS), st.sampled_from(KERNELS))
def test_bit_engine_equals_the_reference_on_random_machines_and_cpusets(m, beh, kernel):
    t, cs = m
    if t.n_nodes > 4:
        return                                  # keep the brute force short
    d = Design("h", *beh[:4], oom=beh[4])
    got = compare.compare(t, kernel, [d], cs).variants["h"]
    assert (got["requests"], got["differ_set"], got["differ_order"]) == _reference_counts(t, kernel, d, cs)
    assert "other" not in got["by_cause"]


def test_designs_with_the_same_behaviour_get_the_same_answer():
    t = worked_examples()["B-2x2-subnuma"]
    r = compare.compare(t, "6.12", ["oom-cpuset", "hardwall=filter,softwall=ancestor,oom=cpuset,size=exact,shared=yes"])
    a, b = r.variants.values()
    assert a == b and a["differ_set"] > 0
    assert np.array_equal(*r.cells.values())


def test_too_many_lists_is_refused():
    from numalab.errors import NumalabError

    t = Topology(name="n64", node_ids=np.arange(64), distance=np.where(np.eye(64, dtype=bool), 10, 20),
                 cpu_ids=np.arange(64), cpu_node=np.arange(64), present_pages=np.tile([0, 0, 100, 0, 0], (64, 1)),
                 managed_pages=np.tile([0, 0, 100, 0, 0], (64, 1)))
    with pytest.raises(NumalabError, match="compare fewer cpusets"):
        cd.proposal_lists(zlm.build(t, "6.12"), cgsets.generate(t, 20_000, "random"), DESIGNS["static-first"])
