"""numalab.viz.race and numalab.widgets.race: the report charts and the live panel's protocol."""
import json
import subprocess
import sys

import pytest

from numalab import race
from numalab.viz import race as vr


@pytest.fixture(scope="module")
def results():
    return {n: race.run(n, ["v4.10", "v4.13"]) for n in ("email", "retry-loop")}


def test_counts_table_is_the_run_counts(results):
    df = vr.counts_table(results)
    assert len(df) == 2 * 2 * len(race.OUTCOMES)
    got = df.set_index(["scenario", "design", "outcome"])["count"]
    for s, r in results.items():
        for d, c in r["outcomes"].items():
            assert sum(got[(s, d, o)] for o in race.OUTCOMES) == r["interleavings"][d]


def test_charts_carry_bound_controls(results):
    spec = vr.counts_chart(vr.counts_table(results), "retry-loop").to_dict()
    sel = next(p for p in spec["params"] if p["name"] == "scenario")
    assert sel["value"] == "retry-loop" and sel["bind"]["input"] == "select"
    t = vr.traces_table(results)
    assert set(t["column"]) == set(vr.COLUMNS)
    spec = vr.trace_chart(t, "email / v4.10 / spurious_oom").to_dict()
    params = {p["name"]: p for p in spec["params"]}
    assert params["step"]["bind"]["input"] == "range"
    assert params["step"]["bind"]["max"] == int(t["i"].max())
    assert "email / v4.10 / spurious_oom" in params["trace"]["bind"]["options"]
    assert len(t) < 5000


def test_trace_frame_ends_with_the_outcome(results):
    r = results["email"]
    i = r["trace_outcomes"]["v4.10"].index("spurious_oom")
    df = vr.trace_frame(r["traces"]["v4.10"][i])
    assert df["outcome"].iloc[-1] == "spurious_oom" and list(df.index) == list(range(1, len(df) + 1))


STATE = {"scenario": "retry-loop", "designs": ["v4.13", "v6.15"], "kernel": "5.4", "trace": 0, "step": 3}


def test_summary_is_recomputed_in_another_process():
    from numalab.widgets.race import summary
    line = summary(STATE)
    code = ("import json,sys; from numalab.widgets.race import summary; "
            "print(summary(json.loads(sys.argv[1])))")
    other = subprocess.run([sys.executable, "-c", code, json.dumps(STATE)], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert other == line
    assert line.startswith("retry-loop: v4.13 stuck=3/40; v6.15 clean/40; 5.4 stuck=")
    assert "step 3/" in line


def test_panel_output_starts_with_state_and_summary():
    pytest.importorskip("ipywidgets")
    from numalab.widgets.race import panel, summary
    from numalab.widgets._panel import VEGALITE_V5_MIME, text_of
    p = panel("email")
    first, second = text_of(p)[:2]
    assert first.startswith("[panel race] ")
    state = json.loads(first[len("[panel race] "):])
    assert second == summary(state)
    descriptions = [c.description for box in p.children[0].children
                    for c in (box.children if hasattr(box, "children") else [box])]
    assert len(descriptions) == len(set(descriptions)) == 5
    assert "numalab-panel-race" in p._dom_classes
    # the counts chart is the Vega-Lite bundle JupyterLab draws offline (no CDN script)
    assert any(VEGALITE_V5_MIME in o.get("data", {}) for o in p.children[-1].outputs)


def test_panel_trace_controls_follow_the_results():
    """The trace control lists every design's traces; the step slider spans the chosen trace, and
    step 0 means its last step. email on v4.10 alone: 5 of 14 interleavings end in a spurious OOM
    (the line says so) and its traces are listed first."""
    pytest.importorskip("ipywidgets")
    from numalab.widgets._panel import text_of
    from numalab.widgets.race import panel
    p = panel("email", ["v4.10"])
    (scenario, kernel), _, (trace, step) = [getattr(b, "children", (b,)) for b in p.children[0].children]
    res = race.run("email", ["v4.10"])
    labels = [f"v4.10 {o}" for o in res["trace_outcomes"]["v4.10"]]
    assert [lbl for lbl, _ in trace.options] == labels and labels[0] == "v4.10 spurious_oom"
    assert text_of(p)[1].startswith("email: v4.10 spurious_oom=5/14 | trace v4.10 spurious_oom, step ")
    for i, tr in enumerate(res["traces"]["v4.10"]):
        trace.value = i
        assert step.max == len(tr)
        assert f"step {min(step.value or len(tr), len(tr))}/{len(tr)}:" in text_of(p)[1]
    step.value = 1
    assert f"step 1/{len(res['traces']['v4.10'][-1])}: {res['traces']['v4.10'][-1][0]['actor']} " in text_of(p)[1]
    kernel.value = "2.6"                             # before 4.10: refused in one line, controls kept
    assert text_of(p)[1].startswith("refused: ") and step.value == 1
    kernel.value = "4.13"
    assert "; 4.13 clean/16 |" in text_of(p)[1]
