"""Tests of numalab.viz.policy (grid table and chart) and the live panel of numalab.widgets.policy."""
import json
import re

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

from numalab import sources
from numalab.alloc import run_scenarios
from numalab.viz import policy as vp
from numalab.widgets.policy import panel

SOCKETS64 = "sockets(sockets=8, nodes_per_socket=8)"


@pytest.fixture(scope="module")
def t64():
    return sources.load(SOCKETS64)


@pytest.fixture(scope="module")
def grid64(t64):
    return vp.grid_table(t64, ["6.1", "6.18"], [("0-63", "0-31")], ["3"], cpu_node=0, pages=16)


@pytest.fixture(scope="module")
def cxl4():
    return sources.load("cxl4")


def _pages(df, kernel, case, phase):
    """{node: pages} of one grid cell column (one case, one phase)."""
    sel = df[(df.kernel == kernel) & (df.case == case) & (df.phase == phase)]
    return dict(zip(sel.node.tolist(), sel.pages.tolist()))


# Hand-computed on cxl4 (fallback orders 0: 0 2 1 3, 3: 3 1 0 2), task on node 0, 4 pages per
# phase, user nodemask {3}, cpuset.mems 0-3 then 0-1. Rebinding (task and VMA policies) remaps
# node 3 of 0-3 onto 0-1: ordinal 3 mod 2 -> node 1. A STATIC policy keeps {3} & {0,1} = {} and
# falls back to the cpuset's nodes 0-1. A RELATIVE {3} is bit 3 folded onto the cpuset's weight
# and mapped onto it: before 3 (of 0-3), after 1 (of 0-1). shm policies are never rebound: BIND
# {3} then misses the cpuset and is ignored (node 0's order filtered by 0-1 -> 0); PREFERRED and
# INTERLEAVE {3} walk node 3's zonelist filtered by 0-1 -> 1.
AFTER = {
    "task": {"DEFAULT": 0, "BIND": 1, "BIND|static": 0, "BIND|relative": 1, "PREFERRED": 1, "INTERLEAVE": 1},
    "vma": {"DEFAULT": 0, "BIND": 1, "BIND|static": 0, "BIND|relative": 1, "PREFERRED": 1, "INTERLEAVE": 1},
    "shm": {"DEFAULT": 0, "BIND": 0, "BIND|static": 0, "BIND|relative": 0, "PREFERRED": 1, "INTERLEAVE": 1},
}


@pytest.mark.parametrize("scope", ["task", "vma", "shm"])
def test_grid_table_hand_computed_cells(cxl4, scope):
    df = vp.grid_table(cxl4, ["4.10", "6.18"], [("0-3", "0-1")], ["3"], cpu_node=0, pages=4, scope=scope)
    assert len(df) == 2 * 28 * 2 * 4                          # kernels x cases x phases x nodes
    for kv in ("4.10", "6.18"):
        for case, node in AFTER[scope].items():
            before = 0 if case == "DEFAULT" else 3
            assert _pages(df, kv, case, "before") == {n: 4 * (n == before) for n in range(4)}, (kv, case)
            assert _pages(df, kv, case, "after") == {n: 4 * (n == node) for n in range(4)}, (kv, case)
    # WEIGHTED_INTERLEAVE came with v6.9: 4.10 refuses it (EINVAL), 6.18 places like INTERLEAVE
    wi = df[df.case == "WEIGHTED_INTERLEAVE"]
    assert set(wi[wi.kernel == "4.10"].state) == {"refused: EINVAL"}
    assert _pages(df, "6.18", "WEIGHTED_INTERLEAVE", "before") == {0: 0, 1: 0, 2: 0, 3: 4}
    # states: BIND {3} before the change, node 3 holds the pages and is the policy's node
    cell = df[(df.kernel == "6.18") & (df.case == "BIND") & (df.phase == "before")]
    assert cell.state.tolist() == ["-", "-", "-", "policy node, pages"]
    assert cell.nodes.tolist() == ["3"] * 4 and cell.cpuset_mems.tolist() == ["0-3"] * 4


def test_grid_table_shape_and_a_known_cell(grid64):
    # 2 kernels x 28 cases x 2 phases x 64 nodes
    assert len(grid64) == 2 * 28 * 2 * 64
    # BIND{3} in cpuset 0-63, then mems 0-31: node 3 has all 16 pages before and after
    cell = grid64[(grid64.case == "BIND") & (grid64.node == 3)]
    assert cell["pages"].tolist() == [16, 16, 16, 16]
    assert set(cell["state"]) == {"policy node, pages"}
    # INTERLEAVE|numa_balancing is refused (NUMA_BALANCING is for BIND only)
    assert set(grid64[grid64.case == "INTERLEAVE|numa_balancing"]["state"]) == {"refused: EINVAL"}


def test_grid_table_keeps_the_first_error(cxl4):
    # as with one run_scenario per case, in order: the first failing case's error is raised
    with pytest.raises(ValueError, match="expected a number"):
        vp.grid_table(cxl4, ["6.1"], [("0-3", "0-1")], ["3", "x"])
    with pytest.raises(ValueError, match="expected a number"):      # PREFERRED parses "x" first
        vp.grid_table(cxl4, ["6.1"], [("0-3", "0-1"), ("0-3", "9")], ["x"])
    with pytest.raises(ValueError, match="root cpuset"):            # DEFAULT writes mems 9 first
        vp.grid_table(cxl4, ["6.1"], [("0-3", "9")], ["x"])


def test_run_scenarios_hand_computed(cxl4):
    """A batch of four policies, cpuset.mems 0-3 then 1-2 (task policies, v5.10), 4 pages each.

    Step 1 is a fresh mapping at page offset -4. Rebinding 0-3 onto 1-2 maps 0->1, 1->2, 2->1,
    3->2. A v2 cpuset moves no pages before v5.15 (ee9707e8593d; a real 5.10 guest keeps them);
    from v5.15 (do_migrate_pages) the weights differ (4, 2), so nodes 1 and 2, also in the new
    set, keep their pages; 0 moves to 1 and 3 to 2.
    """
    cases = [("bind", ["static"], "1,3"), ("interleave", [], "0-3"), ("preferred", ["relative"], "2"),
             ("local", [], None)]
    b = run_scenarios(cxl4, "5.10", cases, mems="0-3", then_mems=["1-2"], pages=4, cpu_node=0)
    assert b["error"].tolist() == [None] * 4
    s0, s1 = b["steps"]
    assert s0["placement"].tolist() == [[1, 1, 1, 1],      # node 0's order 0 2 1 3 filtered by {1,3}
                                        [0, 1, 2, 3],      # interleave by page index
                                        [2, 2, 2, 2],      # relative {2} of 0-3 -> node 2
                                        [0, 0, 0, 0]]
    assert s1["placement"].tolist() == [[1, 1, 1, 1],      # static {1,3} & {1,2} = {1}
                                        [1, 2, 1, 2],      # {1,2}, offsets -4..-1
                                        [1, 1, 1, 1],      # relative {2} folded onto 1-2 -> node 1
                                        [2, 2, 2, 2]]      # node 0 not allowed: 0 2 1 3 -> 2
    assert [h.tolist() for h in s1["old_pages"]] == [s0["placement"].tolist()]  # not migrated on 5.10
    moved = run_scenarios(cxl4, "5.15", cases, mems="0-3", then_mems=["1-2"], pages=4, cpu_node=0)["steps"][1]
    assert [h.tolist() for h in moved["old_pages"]] == [[[1, 1, 1, 1], [1, 1, 2, 2], [2, 2, 2, 2], [1, 1, 1, 1]]]
    assert s1["eligible"][0] == [1] and s1["eligible"][3] == [2, 1]
    assert s0["mems"].dtype == bool and np.flatnonzero(s1["mems"]).tolist() == [1, 2]


def _records_to_table(spec):
    """Flatten the chart's nested records like Vega-Lite's two flatten transforms."""
    records = json.loads(spec["datasets"][spec["data"]["name"]])
    rows = []
    for r in records:
        for c in range(len(r["case"])):
            for j in range(len(r["node"][c])):
                rows.append({"transition": r["transition"], "user_nodes": r["user_nodes"],
                             "kernel_phase": r["kernel_phase"], "case": r["case"][c], "node": r["node"][c][j],
                             "state": r["s"][c][j], "pages": r["pages"][c][j], "nodes": r["nodes"][c],
                             "error": r["error"][c], "cpuset_mems": r["cpuset_mems"][c],
                             "reported_mode": r["reported_mode"][c], "reported_nodes": r["reported_nodes"][c]})
    return pd.DataFrame(rows)


def test_chart_data_holds_the_table(grid64):
    spec = vp.grid_chart(grid64).to_dict()
    back = _records_to_table(spec)
    states = json.loads(spec["transform"][-1]["calculate"].split("[datum.s]")[0])
    back["state"] = [states[i] for i in back["state"]]
    cols = list(back.columns)
    want = grid64[cols].sort_values(["kernel_phase", "case", "node"]).reset_index(drop=True)
    got = back.sort_values(["kernel_phase", "case", "node"]).reset_index(drop=True)
    assert len(got) == len(grid64)
    pd.testing.assert_frame_equal(got.astype(str), want.astype(str))


def test_grid_chart_64_nodes_converts_and_renders(grid64):
    assert alt.data_transformers.active == "default"          # the row limit stays on globally
    chart = vp.grid_chart(grid64)
    spec = chart.to_json()                                    # validates against the Vega-Lite schema
    assert len(spec) < 200_000                                # small in a report (7168 table rows)
    svg = vlc.vegalite_to_svg(spec)
    fills = re.findall(r'aria-roledescription="rect mark" d="[^"]*" fill="(#[0-9a-fA-F]{6})"', svg)
    sel = grid64[(grid64.transition == "0-63 -> 0-31") & (grid64.user_nodes == "3")]
    assert len(fills) == len(sel)
    colour = dict(zip(vp._STATES, vp._COLORS))
    assert sorted(fills) == sorted(colour[s] for s in sel["state"])
    # one cell, read back from the SVG's accessible label
    m = re.search(r'aria-label="node: 3; case: BIND; node is: ([^;]*);[^"]*pages: (\d+);', svg)
    assert m and m.group(1) == "policy node, pages" and m.group(2) == "16"


def test_grid_chart_large_table_needs_no_row_limit(t64):
    # more than 5000 rows already for one kernel; the default DataFrame limit would refuse it
    df = vp.grid_table(t64, ["6.1"], [("0-63", "0-31"), ("0-31", "32-63")], ["3", "0-63"], cpu_node=0, pages=4)
    assert len(df) > 5000
    with pytest.raises(alt.MaxRowsError):
        alt.Chart(df).mark_rect().encode(x="node:O").to_dict()
    vp.grid_chart(df).to_dict()


def _texts(out):
    return [o.get("text", "") for o in out.outputs if o["output_type"] == "stream"]


def test_panel_refresh_at_64_nodes(t64):
    box = panel(t64, mems="0-63", then_mems="0-31", mode="bind", nodes="3")
    controls, aside, busy, out = box.children
    nodes_w = controls.children[0].children[2]
    mode_w = controls.children[1].children[0]
    assert nodes_w.description == "nodes" and mode_w.description == "mode"
    for value in ("1,5", "40-47"):
        nodes_w.value = value
        kinds = [o["output_type"] for o in out.outputs]
        assert kinds == ["stream", "display_data"], _texts(out)          # state + summary, steps table
        head, line = _texts(out)[0].splitlines()
        assert head.startswith("[panel policy] ") and f'"nodes": "{value}"' in head
        # bind to nodes inside the old mems: the first pages land on the CPU node's nearest one
        assert line.startswith(f"6.1 bind nodes {value}: mems 0-63: policy {value}, pages on ")
        spec = aside.outputs[0]["data"]["application/vnd.vegalite.v5+json"]  # drawn by JupyterLab offline
        assert spec["$schema"].endswith("/v5.json") and "Traceback" not in json.dumps(spec)
    mode_w.value = "weighted_interleave"                      # refused by 6.1: a message, no error
    line = _texts(out)[0].splitlines()[1]
    assert line.startswith("6.1 weighted_interleave nodes 40-47: set_mempolicy refuses it (EINVAL)")
    assert "; 6.18: mems 0-63: policy 40-47, pages on " in line    # MPOL_WEIGHTED_INTERLEAVE since 6.9
    nodes_w.value = "x"                                       # bad input: one refusal line, nothing else
    assert [o["output_type"] for o in out.outputs] == ["stream"] and aside.outputs == ()
    assert _texts(out)[0].splitlines()[1].startswith("refused: ")
    nodes_w.value = "3"
    assert not any("refused" in t.lower() or "error" in t.lower() for t in _texts(out))
    assert len(out.outputs) == 2 and len(aside.outputs) == 1 and busy.value == ""


def _node_remap(s, frm, to):
    """bitmap_bitremap() written out: the n-th set bit of ``frm`` goes to the (n mod weight(to))-th
    set bit of ``to``; a bit outside ``frm``, or an empty ``to``, stays."""
    if not frm[s] or not to.any():
        return s
    n = int(frm[:s].sum())
    return int(np.flatnonzero(to)[n % int(to.sum())])


def test_node_remap_by_hand():
    f = np.zeros(16, bool); f[[1, 3, 5]] = True
    t = np.zeros(16, bool); t[[2, 4]] = True
    assert [_node_remap(s, f, t) for s in (0, 1, 3, 5)] == [0, 2, 4, 2]


def test_migrate_pages_matches_a_node_by_node_replay():
    # the kernel's do_migrate_pages loop written out plainly (destinations from node_remap
    # written out above, not from the engine), on random masks
    from numalab.alloc import migrate_pages
    rng = np.random.default_rng(5)
    moved = 0
    for _ in range(200):
        frm = rng.random(16) < 0.5
        to = rng.random(16) < 0.5
        pages = rng.integers(-1, 16, size=30)
        cur = pages.copy()
        tmp = frm.copy()
        while tmp.any():
            source = dest = -1
            for s in np.flatnonzero(tmp):
                if frm.sum() != to.sum() and to[s]:
                    continue
                d = _node_remap(s, frm, to)
                if d == s:
                    continue
                source, dest = s, d
                if not tmp[dest]:
                    break
            if source < 0:
                break
            tmp[source] = False
            cur[cur == source] = dest
        moved += int((cur != pages).any())
        assert migrate_pages(pages, frm, to).tolist() == cur.tolist()
    assert moved > 150                                   # most draws move some pages


def test_version_diff_finds_what_6_18_accepts():
    """6.1 refuses WEIGHTED_INTERLEAVE (EINVAL); 6.18 accepts it: every such cell must differ,
    and modes both versions treat alike must not appear."""
    from numalab import sources
    from numalab.viz.policy import grid_table, version_diff
    grid = grid_table(sources.load("cxl4"), ["6.1", "6.18"], [("0-3", "0-1")], ["1,3"], cpu_node=0, pages=8)
    diff = version_diff(grid, "6.1", "6.18")
    assert set(diff["case"]) <= {"WEIGHTED_INTERLEAVE", "WEIGHTED_INTERLEAVE|static",
                                 "WEIGHTED_INTERLEAVE|relative", "PREFERRED_MANY|numa_balancing"}
    wi = diff[diff["case"] == "WEIGHTED_INTERLEAVE"]
    assert (wi["6.1"] == "refused: EINVAL").all() and wi["cells"].sum() == 2 * 4   # 2 phases x 4 nodes
