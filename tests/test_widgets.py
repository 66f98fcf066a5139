"""The widget panel protocol (numalab.widgets._panel) and the summary lines of every panel,
without a browser: hand-computed lines, the busy indicator, error output, descriptions.
The same panels driven in JupyterLab: tests/test_browser_lab.py."""
import importlib
import json
import pkgutil
import threading
import time

import ipywidgets as w
import pytest

import numalab.widgets
from numalab.widgets import _panel
from zonelist_examples import worked_examples


def _modules():
    return [m.name for m in pkgutil.iter_modules(numalab.widgets.__path__) if not m.name.startswith("_")]


def test_every_panel_module_has_a_summary():
    mods = _modules()
    assert {"nodemask", "topology", "zonelist", "policy"} <= set(mods)
    for name in mods:
        mod = importlib.import_module(f"numalab.widgets.{name}")
        assert callable(getattr(mod, "summary", None)), f"numalab.widgets.{name} has no summary(state)"


@pytest.mark.parametrize("name", ["nodemask", "topology", "zonelist", "policy"])
def test_demo_panel_state_line_recomputes(name):
    mod = importlib.import_module(f"numalab.widgets.{name}")
    box = mod.demo(8)
    head, line = _panel.text_of(box)[:2]
    assert head.startswith(f"[panel {name}] ")
    state = json.loads(head[len(f"[panel {name}] "):])
    assert json.loads(json.dumps(state)) == state                 # plain JSON
    assert mod.summary(state) == line
    descriptions = [c.description for c in _controls(box)]
    assert len(descriptions) == len(set(descriptions)) and all(descriptions)
    assert "numalab-panel" in box._dom_classes and f"numalab-panel-{name}" in box._dom_classes


def _controls(widget):
    if isinstance(widget, (w.Box,)):
        return [c for child in widget.children for c in _controls(child)]
    return [widget] if isinstance(widget, w.ValueWidget) and widget.description else []


# ---------------------------------------------------------------- hand-computed summary lines
def test_nodemask_summary_hand_computed():
    from numalab.widgets.nodemask import summary
    # user 0-1 in a cpuset 0-3 moved to 2,5: remap 0->2 (1st new), 1->5 (2nd new); fold by 2 keeps
    # 0-1; onto: bit m -> m-th new node: 0->2, 1->5; relative = onto(fold) = 2,5
    assert summary({"user": "0-1", "old": "0-3", "new": "2,5", "nbits": 8}) == \
        "remap 2,5 | user & new (empty) | fold 0-1 | onto 2,5 | relative 2,5"
    # user 3 of old 0-3 into new 6: remap 3 -> (3 mod 1)-th = 6; fold 3 mod 1 = 0; onto drops 3 >= 1
    assert summary({"user": "3", "old": "0-3", "new": "6", "nbits": 8}) == \
        "remap 6 | user & new (empty) | fold 0 | onto (empty) | relative 6"
    assert summary({"user": "8", "old": "0", "new": "1", "nbits": 8}).startswith("refused: ")


def test_topology_summary_hand_computed():
    from numalab.widgets.topology import summary
    # 2 sockets x 2 nodes, one CPU and 1 GiB per node: distances 10 (local) to 32 (other socket)
    assert summary({"machine": "sockets(sockets=2, nodes_per_socket=2)"}) == \
        ("sockets-2x2: 4 nodes, CPUs on 0-3, memory on 0-3, 4 CPUs, 4096 MiB managed, distances 10..32")
    assert summary({"machine": "no-such-machine"}).startswith("refused: ")


def test_zonelist_summary_hand_computed():
    from numalab.widgets.zonelist import summary
    # D-memoryless: 3 nodes at distance 20, node 1 has no memory: its FALLBACK zonelist holds the
    # Normal zones of nodes 0 and 2 only (a memoryless node contributes no zone)
    line = summary({"machine": _panel.machine_spec(worked_examples()["D-memoryless"]), "kernel": "6.1", "compare": "6.1", "when": "boot",
                    "node": 0})
    assert line.startswith("6.1 boot, node 0: FALLBACK N0.Normal N2.Normal; ")
    assert line.endswith("differ from 6.1 on 0 of 3 nodes")


def test_policy_summary_hand_computed():
    from numalab.widgets.policy import summary
    state = {"machine": "cxl4", "mems": "0-3", "then_mems": "2-3", "mode": "bind", "flags": ["static"],
             "nodes": "1,3", "cpu_node": 0, "kernel": "6.1", "compare": "6.1", "pages": 4}
    # MPOL_F_STATIC_NODES: the policy keeps its nodes and is intersected with the new mems: 3
    assert summary(state) == ("6.1 bind|static nodes 1,3: mems 0-3: policy 1,3, pages on 1 -> "
                              "mems 2-3: policy 3, pages on 3; 6.1: same steps")
    # MPOL_WEIGHTED_INTERLEAVE exists since 6.9: 6.1 refuses it, 6.18 does not
    line = summary({**state, "mode": "weighted_interleave", "flags": [], "compare": "6.18"})
    assert line.startswith("6.1 weighted_interleave nodes 1,3: set_mempolicy refuses it (EINVAL)")
    assert "; 6.18: mems 0-3: policy 1,3" in line


# ---------------------------------------------------------------- the protocol helper
def test_busy_indicator_only_for_slow_updates():
    seen = []
    delay = {"s": 0.0}

    def summary(state):
        time.sleep(delay["s"])
        return f"x={state['x']}"

    x = w.IntText(value=0, description="x")
    box = _panel.build("demo", {"x": x}, summary)
    busy = box.children[-2]
    busy.observe(lambda c: seen.append((c["new"], threading.current_thread() is threading.main_thread())),
                 "value")
    x.value = 1                                     # fast: no indicator
    assert seen == []
    delay["s"] = 0.35
    x.value = 2                                     # slow: shown (from the timer thread), then cleared
    assert [v for v, _ in seen] == [_panel.BUSY_HTML, ""]
    assert _panel.text_of(box) == ['[panel demo] {"x": 2}', "x=2"]


def test_a_raising_callback_shows_an_error_output():
    def summary(state):
        if state["x"] == 3:
            raise ZeroDivisionError("boom")
        return "fine"

    x = w.IntText(value=0, description="x")
    box = _panel.build("demo", {"x": x}, summary)
    x.value = 3
    outs = box.children[-1].outputs
    assert [o["output_type"] for o in outs] == ["stream", "error"]
    assert outs[0]["text"] == '[panel demo] {"x": 3}\n' and outs[1]["ename"] == "ZeroDivisionError"
    x.value = 4
    assert _panel.text_of(box) == ['[panel demo] {"x": 4}', "fine"]


def test_aside_output_is_sent_only_when_it_changes():
    """A drawing that depends on ``a`` only sits in its own Output: changing ``b`` leaves it
    untouched (the browser does not redraw it), changing ``a`` replaces it, a refusal empties it."""
    calls = []

    def summary(state):
        return "refused: no" if state["a"] < 0 else f"a={state['a']} b={state['b']}"

    def aside(state):
        calls.append(dict(state))
        return [f"drawing of a={state['a']}"]

    a, b = w.IntText(value=1, description="a"), w.IntText(value=1, description="b")
    box = _panel.build("demo", {"a": a, "b": b}, summary, aside=aside)
    side, busy, out = box.children[-3:]
    assert isinstance(side, w.Output) and "numalab-panel-aside" in side._dom_classes and side.layout.order == "1"
    assert busy.value == "" and _panel.text_of(box) == ['[panel demo] {"a": 1, "b": 1}', "a=1 b=1"]
    assert [o["text"] for o in side.outputs] == ["drawing of a=1\n"]
    sent = []
    side.observe(lambda ch: sent.append(ch["new"]), "outputs")
    b.value = 2
    assert sent == [] and _panel.text_of(box)[1] == "a=1 b=2" and len(calls) == 2
    a.value = 3
    assert [[o["text"] for o in new] for new in sent] == [["drawing of a=3\n"]]
    a.value = -1
    assert sent[-1] == () and _panel.text_of(box)[1] == "refused: no" and len(calls) == 3


def test_policy_grid_is_not_redrawn_for_mode_and_flags():
    """The every-mode x every-flag grid does not depend on the chosen mode and flags: changing them
    must not send the chart again; changing the kernel must."""
    from numalab.widgets import policy
    box = policy.demo(8)
    side = box.children[-3]
    assert any(_panel.VEGALITE_V5_MIME in o.get("data", {}) for o in side.outputs)
    assert not any(_panel.VEGALITE_V5_MIME in o.get("data", {}) for o in box.children[-1].outputs)
    sent = []
    side.observe(lambda ch: sent.append(ch["new"]), "outputs")
    c = {x.description: x for x in _controls(box)}
    c["mode"].value = "bind"
    c["flags"].value = ("static",)
    assert sent == [] and _panel.text_of(box)[1].startswith("6.1 bind|static ")
    c["kernel"].value = "6.8"
    assert len(sent) == 1 and _panel.VEGALITE_V5_MIME in sent[0][0]["data"]


def test_descriptions_must_be_unique():
    with pytest.raises(ValueError, match="unique description"):
        _panel.build("demo", {"a": w.Text(description="n"), "b": w.Text(description="n")}, lambda s: "")


def test_hold_renders_once():
    renders = []
    a, b = w.IntText(value=0, description="a"), w.IntText(value=0, description="b")
    box = _panel.build("demo", {"a": a, "b": b}, lambda s: renders.append(dict(s)) or "ok")
    with box.hold():
        a.value, b.value = 1, 2
    assert renders == [{"a": 0, "b": 0}, {"a": 1, "b": 2}]


def test_machine_spec_round_trips():
    from numalab import sources
    for t in [sources.load("cxl4"), sources.load("mesh(rows=2, cols=3)"), worked_examples()["A-flat4"],
              worked_examples()["eight-2socket"]]:
        spec = _panel.machine_spec(t)
        assert json.loads(json.dumps(spec)) == spec and _panel.machine(spec) == t
    # the worked example "eight-2socket" is not the preset of that name: the spec is its whole dict
    assert isinstance(_panel.machine_spec(worked_examples()["eight-2socket"]), dict)


@pytest.mark.parametrize("name", ["topology", "policy"])
def test_panel_charts_draw_with_the_vega_lite_jupyterlab_ships(name):
    """JupyterLab 4.6 draws application/vnd.vegalite.v5+json with its own Vega-Lite 5.6 (no network);
    vl-convert's oldest 5.x (5.8) must turn every chart of the panel into an SVG with marks."""
    import vl_convert

    box = importlib.import_module(f"numalab.widgets.{name}").demo(8)
    specs = [o["data"][_panel.VEGALITE_V5_MIME] for out in box.children if isinstance(out, w.Output)
             for o in out.outputs if _panel.VEGALITE_V5_MIME in o.get("data", {})]
    assert specs, "the panel draws no chart"
    for spec in specs:
        svg = vl_convert.vegalite_to_svg(spec, vl_version="5.8")
        assert 'class="marks"' in svg or "<path" in svg
