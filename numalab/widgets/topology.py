"""A live machine picker: a drop-down of the bundled machines and the charts of the chosen one.

Examples
--------
>>> import contextlib, io
>>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter the output prints
...     panel = topology_panel(["two-node", "cxl4"])
>>> panel.children[0].value
'two-node'
"""
from __future__ import annotations

import ipywidgets as w
from IPython.display import display

from ..sources import load, presets
from ..viz import topology as vt

__all__ = ["topology_panel"]


def topology_panel(names=None, value=None) -> w.VBox:
    """A Dropdown of machines (default: every preset) and an output showing the chosen one:
    node table, distance heatmap, memory by zone, node states and the loader's notes."""
    options = list(names) if names else [n for n, _ in presets()]
    pick = w.Dropdown(options=options, value=value or options[0], description="machine")
    out = w.Output()

    def show(*_):
        t = load(pick.value)
        out.clear_output(wait=True)
        with out:
            display(vt.node_table(t))
            display((vt.distance_heatmap(t) | (vt.memory_chart(t) & vt.states_chart(t))))
            for n in t.notes:
                print("note:", n)

    pick.observe(show, names="value")
    show()
    return w.VBox([pick, out])
