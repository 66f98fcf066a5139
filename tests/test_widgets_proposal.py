"""The per-cpuset zonelist panel follows the panel protocol: state line, then summary(state)."""
import json

from numalab.widgets import proposal
from numalab.widgets._panel import text_of


def test_panel_shows_the_state_then_the_summary():
    p = proposal.panel("sockets-2x2", kernel="6.12", variant="static-first", cpusets="node:4", tasks=10,
                       machines=["sockets-2x2", "cxl4"])
    lines = text_of(p)
    assert lines[0].startswith("[panel proposal] ")
    state = json.loads(lines[0][len("[panel proposal] "):])
    assert state == {"machine": "sockets-2x2", "kernel": "6.12", "config": "debian-6.1-amd64",
                     "variant": "static-first", "cpusets": "node:4", "tasks": 10}
    assert lines[1] == proposal.summary(state)
    assert "softwall order" in "\n".join(lines[2:])
    descriptions = [c.description for c in _controls(p)]
    assert len(descriptions) == len(set(descriptions)) == 6
    assert "numalab-panel-proposal" in p._dom_classes


def test_panel_reports_bad_input_in_one_line():
    p = proposal.panel("sockets-2x2", cpusets="node:0", machines=["sockets-2x2"])
    lines = text_of(p)
    assert lines[1] == "refused: 0: the number of containers must lie in 1..1000000"
    assert [o["output_type"] for o in p.children[-1].outputs] == ["stream"]


def test_placeholder_examples_are_accepted_and_change_the_line():
    """The browser test types the placeholder's examples: each must give a line, not a refusal.
    node:2 on sockets-2x2 (4 nodes): 2 containers of 10 tasks = 20 tasks; socket:2: 2 sockets, 20
    tasks; a bare 8: 8 node-shaped containers, 80 tasks."""
    p = proposal.panel("sockets-2x2", cpusets="node:4", tasks=10, machines=["sockets-2x2"])
    box = next(c for c in _controls(p) if c.description == "cpusets")
    examples = box.placeholder[len("e.g. "):].split(" or ")
    assert examples == ["node:2", "socket:2", "8"]
    for spec, n, tasks in [("node:2", 2, 20), ("socket:2", 2, 20), ("8", 8, 80)]:
        box.value = spec
        line = text_of(p)[1]
        assert f", {n} cpusets, {tasks} tasks)" in line and not line.startswith("refused"), line
        assert json.loads(text_of(p)[0][len("[panel proposal] "):])["cpusets"] == spec


def _controls(widget):
    import ipywidgets as w
    if isinstance(widget, w.Box):
        return [c for child in widget.children for c in _controls(child)]
    return [widget] if isinstance(widget, w.ValueWidget) and widget.description else []
