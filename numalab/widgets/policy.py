"""ipywidgets panel for cpusets and memory policies (live kernel only; see numalab.viz.policy
for the exported-report version).

:func:`panel` shows, for the chosen cpuset mems, change of mems, mode, flags, policy nodes, CPU
node and kernel version: the summary line (:func:`summary`), the steps of the scenario (what
get_mempolicy says, eligible nodes, where new and old pages are), and the every-mode x every-flag
grid before and after the change for the chosen kernel next to a second kernel version (up to
:data:`numalab.widgets._panel.MAX_CHART_NODES` nodes: at 256 nodes the grid is 28672 cells, about
6 s to draw in JupyterLab). It follows the protocol of :mod:`numalab.widgets`. The grid does not
depend on the chosen mode and flags: it sits in the panel's aside Output (``aside`` of
:func:`numalab.widgets._panel.build`), which a change of those leaves as drawn (at 64 nodes
JupyterLab takes about a second to draw the grid again).

Examples
--------
>>> from numalab import sources
>>> # no flag: the kernel remaps node 3, the 4th of the old mems 0-3, to the (4th mod 2) = 2nd
>>> # node of the new mems 0-1 (nodes_remap)
>>> p = panel(sources.load("cxl4"), mode="bind", nodes="3", kernel="6.1", compare="6.18")
>>> text_of(p)[1]
'6.1 bind nodes 3: mems 0-3: policy 3, pages on 3 -> mems 0-1: policy 1, pages on 1; 6.18: same steps'
"""
from __future__ import annotations

import json

import ipywidgets as w

from ..alloc import run_scenario
from ..kernel import NAMED_VERSIONS
from ..nodemask import format_list
from ..viz.policy import MODE_ORDER, grid_chart, grid_table, steps_table
from ._panel import MAX_CHART_NODES, build, cache, display, machine, machine_key, machine_spec, refusals, text, text_of

__all__ = ["panel", "summary", "demo"]

# kept for callers of the earlier private helpers (benchmarks/bench_policy.py)
_text, _display = text, display


def _run(state, kernel):
    """run_scenario for ``state`` under ``kernel``; the summary and the tables of one update share it."""
    return _run_cached(json.dumps(state, sort_keys=True), kernel)


@cache(maxsize=8)
def _run_cached(key, kernel):
    state = json.loads(key)
    return run_scenario(machine(state["machine"]), kernel, mems=state["mems"],
                        then_mems=[state["then_mems"]] if state["then_mems"].strip() else [],
                        mode=state["mode"], flags=list(state["flags"]),
                        nodes=state["nodes"] if state["nodes"].strip() else None, cpu_node=state["cpu_node"],
                        pages=int(state["pages"]))


def _steps(res) -> str:
    """The steps of a :class:`numalab.alloc.Scenario` as one line of text."""
    def fmt(m):
        return "(root)" if m is None else (format_list(m) or "(empty)")
    return " -> ".join(f"mems {fmt(s.mems)}: policy {format_list(s.nodes) or '(none)'}, pages on "
                       f"{','.join(str(x) for x in sorted(set(s.placement.tolist()))) or '(none)'}"
                       for s in res.steps)


@refusals
def summary(state: dict) -> str:
    """One line: per cpuset state, the policy's nodes and the nodes new pages land on, for
    ``state["kernel"]``, and whether ``state["compare"]`` gives the same steps
    (:func:`numalab.alloc.run_scenario`).

    Policy ``bind 1,3`` of a task in cpuset mems 0-3 on cxl4, then mems written to 2-3: the
    policy has no flag, so the kernel remaps it (nodes_remap: the n-th old node to the n-th new
    one, 1 -> 3 and 3 -> 3 mod 2 -> 3); 16 pages bound to {1, 3} are allocated on the CPU's
    node 0's nearest allowed node first, and the cpuset change moves the next ones to 3.

    >>> summary({"machine": "cxl4", "mems": "0-3", "then_mems": "2-3", "mode": "bind", "flags": [],
    ...          "nodes": "1,3", "cpu_node": 0, "kernel": "6.1", "compare": "6.1", "pages": 16})
    '6.1 bind nodes 1,3: mems 0-3: policy 1,3, pages on 1 -> mems 2-3: policy 3, pages on 3; 6.1: same steps'
    """
    res = _run(state, state["kernel"])
    flags = "".join(f"|{f}" for f in state["flags"])
    head = f"{state['kernel']} {state['mode']}{flags} nodes {state['nodes'] or '(none)'}: "
    if res.error:
        line = head + f"set_mempolicy refuses it ({res.error}), the task keeps the default policy"
    else:
        line = head + _steps(res)
    if state["compare"] == state["kernel"]:
        return line + f"; {state['compare']}: same steps"
    other = _run(state, state["compare"])
    same = (other.error, _steps(other)) == (res.error, _steps(res))
    if same:
        return line + f"; {state['compare']}: same steps"
    if other.error:
        return line + f"; {state['compare']}: refuses it ({other.error})"
    return line + f"; {state['compare']}: {_steps(other)}"


def _render(state):
    return [steps_table(_run(state, state["kernel"]))]


def _aside(state):
    """The every-mode x every-flag grid, in the panel's aside Output (:func:`numalab.widgets._panel.build`):
    it does not depend on the chosen mode and flags, so changing those leaves the drawn chart as it
    is (at 64 nodes JupyterLab takes about a second to draw it again)."""
    n_nodes = machine(state["machine"]).n_nodes
    if not state["then_mems"].strip():
        return []
    if n_nodes > MAX_CHART_NODES:
        return [f"every-mode x every-flag grid drawn up to {MAX_CHART_NODES} nodes; this machine has {n_nodes}"]
    return [_grid_output(machine_key(state["machine"]), state["kernel"], state["compare"], state["mems"],
                         state["then_mems"], state["nodes"].strip(), state["cpu_node"], int(state["pages"]))]


@cache(maxsize=16)
def _grid_output(key, kernel, compare, mems, then_mems, nodes, cpu_node, pages) -> dict:
    """The every-mode x every-flag grid chart as an Output item, cached by what it depends on (not
    the chosen mode and flags): a change of those gives the same item, which the aside Output does
    not send again."""
    df = grid_table(machine(key), [kernel, compare], [(mems, then_mems)], [nodes], cpu_node=cpu_node, pages=pages)
    return display(grid_chart(df))


def panel(topo, *, mems="0-3", then_mems="0-1", mode="bind", nodes="3", kernel="6.1", compare="6.18",
          pages=16):
    """Build the panel (returns the widget; display it in a notebook)."""
    cpu_nodes = [int(topo.node_ids[i]) for i in range(topo.n_nodes) if topo.has_cpu[i]] or [int(topo.node_ids[0])]
    last = int(topo.node_ids[-1])
    controls = {
        "mems": w.Text(value=mems, description="cpuset.mems", placeholder=f"e.g. 0-{last} or 0-1"),
        "then_mems": w.Text(value=then_mems, description="then mems", placeholder=f"e.g. {last} or 0"),
        "nodes": w.Text(value=nodes, description="nodes", placeholder=f"e.g. 0,{last} or 1"),
        "mode": w.Dropdown(options=list(MODE_ORDER), value=mode, description="mode"),
        "flags": w.SelectMultiple(options=["static", "relative", "numa_balancing"], value=(), description="flags",
                                  rows=3),
        "cpu_node": w.Dropdown(options=cpu_nodes, value=cpu_nodes[0], description="CPU node"),
        "kernel": w.Dropdown(options=list(NAMED_VERSIONS), value=kernel, description="kernel"),
        "compare": w.Dropdown(options=list(NAMED_VERSIONS), value=compare, description="compare with"),
    }
    c = controls

    def layout(_):
        return [w.HBox([w.VBox([c["mems"], c["then_mems"], c["nodes"]]), w.VBox([c["mode"], c["flags"]]),
                        w.VBox([c["cpu_node"], c["kernel"], c["compare"]])])]

    return build("policy", controls, summary, _render, fixed={"machine": machine_spec(topo), "pages": pages},
                 layout=layout, aside=_aside)


def demo(nodes: int = 64):
    """The panel on a generated machine of ``nodes`` nodes (benchmarks/bench_widgets.py)."""
    from .. import sources

    topo = sources.load(f"sockets(sockets={max(1, nodes // 8)}, nodes_per_socket={min(8, nodes)})")
    return panel(topo, mems=f"0-{nodes - 1}", then_mems=f"0-{nodes // 2 - 1}", mode="interleave",
                 nodes=f"0-{nodes - 1}", kernel="6.1", compare="6.18")
