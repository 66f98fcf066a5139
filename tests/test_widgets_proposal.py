"""The per-cpuset zonelist panel follows the panel protocol: state line, then summary(state)."""
import json

from numalab.widgets import proposal


def test_panel_shows_the_state_then_the_summary():
    p = proposal.panel("sockets-2x2", kernel="6.12", variant="static-first", cpusets="node:4", tasks=10,
                       machines=["sockets-2x2", "cxl4"])
    out = p.children[1]
    lines = [o["text"].rstrip("\n") for o in out.outputs]
    assert lines[0].startswith("[panel proposal] ")
    state = json.loads(lines[0][len("[panel proposal] "):])
    assert state == {"machine": "sockets-2x2", "kernel": "6.12", "config": "debian-6.1-amd64",
                     "variant": "static-first", "cpusets": "node:4", "tasks": 10}
    assert lines[1] == proposal.summary(state)
    assert "softwall order" in "\n".join(lines[2:])
    descriptions = [c.description for box in p.children[0].children for c in box.children]
    assert len(descriptions) == len(set(descriptions))


def test_panel_reports_bad_input_in_one_line():
    p = proposal.panel("sockets-2x2", cpusets="node:0", machines=["sockets-2x2"])
    lines = [o["text"] for o in p.children[1].outputs]
    assert lines[1].startswith("error: ") and lines[1].count("\n") == 1
