"""ipywidgets panel for live exploration of zonelists (needs a running kernel).

Choose a machine, a kernel version, boot or rebuild and a node: the panel shows the zonelist
matrix, the node's explanation table and its zonelists, and the diff against a second version.

Examples
--------
>>> import contextlib, io
>>> import numpy as np
>>> from numalab.topology import Topology
>>> pages = np.zeros((2, 5), int); pages[:, 2] = 262144
>>> t = Topology(name="two", node_ids=np.arange(2), distance=[[10, 20], [20, 10]], cpu_ids=np.arange(2),
...              cpu_node=np.arange(2), present_pages=pages, managed_pages=pages)
>>> with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter the output goes to stdout
...     p = panel({"two": t})
>>> type(p).__name__
'VBox'
"""
from __future__ import annotations

import ipywidgets as w
import pandas as pd

from .. import zonelist as zlm
from ..kernel import NAMED_VERSIONS
from ..viz import zonelist as vz
from ..viz.text import boot_log_lines, explain

__all__ = ["panel"]


def panel(topologies: dict, versions=NAMED_VERSIONS) -> w.VBox:
    """A live panel over ``topologies`` (name -> Topology) and ``versions``."""
    names = list(topologies)
    machine = w.Dropdown(options=names, value=names[0], description="machine")
    kernel = w.Dropdown(options=list(versions), value=list(versions)[-1], description="kernel")
    other = w.Dropdown(options=list(versions), value=list(versions)[0], description="compare with")
    when = w.ToggleButtons(options=["boot", "rebuild"], value="boot", description="when")
    node = w.Dropdown(description="node")
    out = w.Output()

    def nodes_changed(*_):
        t = topologies[machine.value]
        node.options = [int(x) for x in t.node_ids]

    def render(*_):
        t = topologies[machine.value]
        zl = zlm.build(t, kernel.value, when.value)
        zl_b = zlm.build(t, other.value, when.value)
        df = vz.orders_long({machine.value: t}, [kernel.value], [when.value])
        out.clear_output(wait=True)
        with out:
            from IPython.display import display

            display(vz.heatmap(df))
            if node.value is not None and zl.built[t.index_of(node.value)]:
                with pd.option_context("display.max_colwidth", 120):
                    display(explain(zl, node.value))
                print("FALLBACK:  ", " ".join(f"N{n}.{z}" for n, z in zl.zonelist(node.value)))
                print("NOFALLBACK:", " ".join(f"N{n}.{z}" for n, z in zl.zonelist(node.value, "NOFALLBACK")))
            display(vz.compare(zl_b, zl))
            print("\n".join(boot_log_lines(zl)))

    machine.observe(nodes_changed, "value")
    for c in (machine, kernel, other, when, node):
        c.observe(render, "value")
    nodes_changed()
    render()
    return w.VBox([w.HBox([machine, kernel, other]), w.HBox([when, node]), out])
