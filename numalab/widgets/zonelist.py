"""ipywidgets panel for live exploration of zonelists (needs a running kernel).

Choose a machine, a kernel version, boot or rebuild and a node: the panel shows the summary line,
the fallback-order matrix, the node's explanation table and its zonelists, and the diff against a second
version. It follows the protocol of :mod:`numalab.widgets` (state line, :func:`summary` line).

Examples
--------
>>> import numpy as np
>>> from numalab.topology import Topology
>>> pages = np.zeros((4, 5), int); pages[:, 2] = 262144
>>> d = [[10 if i == j else 20 for j in range(4)] for i in range(4)]
>>> t = Topology(name="A-flat4", node_ids=np.arange(4), distance=d, cpu_ids=np.arange(4),
...              cpu_node=np.arange(4), present_pages=pages, managed_pages=pages)
>>> p = panel({"A-flat4": t})
>>> text_of(p)[1]
'6.18 boot, node 0: FALLBACK N0.Normal N1.Normal N2.Normal N3.Normal; FALLBACK zonelists differ from 4.10 on 0 of 4 nodes'
"""
from __future__ import annotations

import contextlib

import ipywidgets as w
import numpy as np
import pandas as pd

from .. import zonelist as zlm
from ..kernel import NAMED_VERSIONS
from ..viz import zonelist as vz
from ..viz.text import boot_log_lines, explain
from ._panel import MAX_CHART_NODES, build, machine, machine_spec, matrix_html, refusals, text_of

__all__ = ["panel", "summary", "demo"]

#: Zones of a zonelist written out in the summary line before it says how many more there are.
SHOWN_ZONES = 8


def _zones(pairs) -> str:
    words = [f"N{n}.{z}" for n, z in pairs]
    more = f" (+{len(words) - SHOWN_ZONES} more)" if len(words) > SHOWN_ZONES else ""
    return " ".join(words[:SHOWN_ZONES]) + more


def _differ(a: zlm.Zonelists, b: zlm.Zonelists) -> np.ndarray:
    """Per node: do the FALLBACK zonelists of two builds of one machine differ (array compare)?"""
    if a.fallback.shape != b.fallback.shape:
        width = max(a.fallback.shape[1], b.fallback.shape[1])
        pad = lambda x: np.pad(x, ((0, 0), (0, width - x.shape[1])), constant_values=-1)  # noqa: E731
        fa, fb = pad(a.fallback), pad(b.fallback)
    else:
        fa, fb = a.fallback, b.fallback
    return (a.built != b.built) | (a.fallback_len != b.fallback_len) | np.any(fa != fb, axis=1)


@refusals
def summary(state: dict) -> str:
    """One line: the chosen node's FALLBACK zonelist (first zones) for ``state["kernel"]`` and
    ``state["when"]``, and on how many nodes the FALLBACK zonelists differ from
    ``state["compare"]``.

    >>> import numpy as np
    >>> from numalab.topology import Topology
    >>> d = [[10, 11, 21, 21], [11, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]]  # 2 sockets x 2 SNC
    >>> pages = np.zeros((4, 5), int); pages[:, 2] = 262144
    >>> t = Topology(name="B-2x2-subnuma", node_ids=np.arange(4), distance=d, cpu_ids=np.arange(4),
    ...              cpu_node=np.arange(4), present_pages=pages, managed_pages=pages)
    >>> summary({"machine": machine_spec(t), "kernel": "5.16", "compare": "5.15", "when": "boot", "node": 3})
    '5.16 boot, node 3: FALLBACK N3.Normal N2.Normal N1.Normal N0.Normal; FALLBACK zonelists differ from 5.15 on 1 of 4 nodes'
    """
    t = machine(state["machine"])
    zl = zlm.build(t, state["kernel"], state["when"])
    other = zlm.build(t, state["compare"], state["when"])
    node = state.get("node")
    if node is None:
        head = "no node chosen"
    elif not zl.built[t.index_of(node)]:
        head = f"node {node}: no zonelist built (offline node)"
    else:
        head = f"node {node}: FALLBACK {_zones(zl.zonelist(node))}"
    n_diff = int(_differ(zl, other).sum())
    return (f"{state['kernel']} {state['when']}, {head}; FALLBACK zonelists differ from {state['compare']} "
            f"on {n_diff} of {t.n_nodes} nodes")


def _matrix(t, zl):
    """The fallback order of every node as an HTML matrix, shaded by distance from the start
    (the Altair heatmap of :func:`numalab.viz.zonelist.heatmap` stays in the notebook and report)."""
    n = t.n_nodes
    cells = np.full((n, n), None, object)
    shade = np.zeros((n, n))
    d = t.distance
    span = max(1, int(d.max()) - int(d.min()))
    for i in range(n):                       # one row per starting node (order_len differs per row)
        k = int(zl.order_len[i]) if zl.built[i] else 0
        idx = zl.order[i, :k]
        cells[i, :k] = t.node_ids[idx]
        shade[i, :k] = (d[i, idx] - d.min()) / span
    return matrix_html(cells, shade, title=f"Fallback order per starting node, {zl.kernel.label} {zl.when}",
                       rows="starting node", cols="position; shade: distance", row_labels=t.node_ids.tolist())


def _render(state):
    t = machine(state["machine"])
    zl = zlm.build(t, state["kernel"], state["when"])
    zl_b = zlm.build(t, state["compare"], state["when"])
    if t.n_nodes <= MAX_CHART_NODES:
        items = [_matrix(t, zl)]
    else:
        items = [f"fallback-order matrix drawn up to {MAX_CHART_NODES} nodes; this machine has {t.n_nodes}"]
    node = state.get("node")
    if node is not None and zl.built[t.index_of(node)]:
        with pd.option_context("display.max_colwidth", 120):
            items.append(explain(zl, node))
        items.append("FALLBACK:   " + " ".join(f"N{n}.{z}" for n, z in zl.zonelist(node)))
        items.append("NOFALLBACK: " + " ".join(f"N{n}.{z}" for n, z in zl.zonelist(node, "NOFALLBACK")))
    items.append(vz.compare(zl_b, zl))
    items.append("\n".join(boot_log_lines(zl)))
    return items


def panel(topologies: dict, versions=NAMED_VERSIONS) -> w.VBox:
    """A live panel over ``topologies`` (name -> Topology) and ``versions``."""
    versions = list(versions)
    names = list(topologies)
    machine_w = w.Dropdown(options=[(n, machine_spec(topologies[n])) for n in names], description="machine")
    kernel = w.Dropdown(options=versions, value=versions[-1], description="kernel")
    other = w.Dropdown(options=versions, value=versions[0], description="compare with")
    when = w.ToggleButtons(options=["boot", "rebuild"], value="boot", description="when")
    node = w.Dropdown(description="node")

    box = {}

    def nodes_changed(*_):
        ids = [int(x) for x in machine(machine_w.value).node_ids]
        keep = node.value if node.value in ids else ids[0]
        with box["panel"].hold() if box else contextlib.nullcontext():
            node.options = ids                          # resets the value to ids[0]
            node.value = keep

    machine_w.observe(nodes_changed, "value")          # before the panel's own observer
    nodes_changed()
    controls = {"machine": machine_w, "kernel": kernel, "compare": other, "when": when, "node": node}
    box["panel"] = build("zonelist", controls, summary, _render,
                         layout=lambda c: [w.HBox([machine_w, kernel, other]), w.HBox([when, node])])
    return box["panel"]


def demo(nodes: int = 64) -> w.VBox:
    """The panel over two generated machines of ``nodes`` nodes (benchmarks/bench_widgets.py)."""
    from .. import sources

    specs = [f"sockets(sockets={max(1, nodes // 8)}, nodes_per_socket={min(8, nodes)})",
             f"sockets(sockets={max(1, nodes // 16)}, nodes_per_socket={min(16, nodes)})"]
    return panel({s: sources.load(s) for s in specs}, ["5.15", "5.16", "6.1"])
