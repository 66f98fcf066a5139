"""A live machine picker: a drop-down of the bundled machines and the charts of the chosen one.

The panel follows the protocol of :mod:`numalab.widgets`: its state is ``{"machine": spec}``
(a preset name or generator call, see :func:`numalab.widgets._panel.machine`) and its summary
line counts nodes, CPUs and memory of that machine.

Examples
--------
>>> p = topology_panel(["two-node", "cxl4"])
>>> p.children[0].value
'two-node'
>>> text_of(p)[:2]
['[panel topology] {"machine": "two-node"}', 'two-node: 2 nodes, CPUs on 0-1, memory on 0-1, 2 CPUs, 923 MiB managed, distances 10..20']
"""
from __future__ import annotations

import ipywidgets as w
import numpy as np

from .. import nodemask as nm
from ..sources import presets
from ..viz import topology as vt
from ._panel import MAX_CHART_NODES, build, machine, matrix_html, refusals, text_of

__all__ = ["topology_panel", "summary", "demo"]


def _nodes(t, sel) -> str:
    return nm.format_list(nm.from_nodes(t.node_ids[np.asarray(sel, bool)], int(t.node_ids.max()) + 1)) or "none"


@refusals
def summary(state: dict) -> str:
    """One line about ``state["machine"]``: nodes, where the CPUs and the memory are, the CPU
    count, the managed memory and the range of the distance table.

    >>> summary({"machine": "flat(nodes=3)"})
    'flat-3: 3 nodes, CPUs on 0-2, memory on 0-2, 3 CPUs, 3072 MiB managed, distances 10..20'
    """
    t = machine(state["machine"])
    mib = int(t.managed_pages.sum()) * t.page_size // 2**20
    d = t.distance
    return (f"{t.name}: {t.n_nodes} nodes, CPUs on {_nodes(t, t.has_cpu)}, memory on {_nodes(t, t.has_memory)}, "
            f"{t.cpu_ids.size} CPUs, {mib} MiB managed, distances {int(d.min())}..{int(d.max())}")


def _render(state):
    t = machine(state["machine"])
    if t.n_nodes <= MAX_CHART_NODES:
        d = t.distance
        shade = (d - d.min()) / max(1, int(d.max()) - int(d.min()))
        charts = [matrix_html(d, shade, title=f"{t.name}: distances", rows="from node", cols="to node",
                              row_labels=t.node_ids.tolist(), col_labels=t.node_ids.tolist()),
                  vt.memory_chart(t) | vt.states_chart(t)]
    else:
        charts = [f"charts drawn up to {MAX_CHART_NODES} nodes; this machine has {t.n_nodes}"]
    return [vt.node_table(t)] + charts + [f"note: {n}" for n in t.notes]


def topology_panel(names=None, value=None) -> w.VBox:
    """A Dropdown of machines (default: every preset; any spec :func:`numalab.sources.load`
    takes) and an output showing the chosen one: the summary line, node table, distance matrix
    (HTML, quick to redraw; the notebook's Altair heatmap is :func:`numalab.viz.topology.overview`),
    memory by zone, node states and the loader's notes."""
    options = list(names) if names else [n for n, _ in presets()]
    pick = w.Dropdown(options=options, value=value or options[0], description="machine")
    return build("topology", {"machine": pick}, summary, _render)


def demo(nodes: int = 64) -> w.VBox:
    """The panel over two generated machines of ``nodes`` nodes (benchmarks/bench_widgets.py)."""
    return topology_panel([f"sockets(sockets={max(1, nodes // 8)}, nodes_per_socket={min(8, nodes)})",
                           f"flat(nodes={nodes})"])
