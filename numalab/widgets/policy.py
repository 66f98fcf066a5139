"""ipywidgets panel for cpusets and memory policies (live kernel only; see numalab.viz.policy
for the exported-report version).

:func:`panel` shows, for the chosen cpuset mems, change of mems, mode, flags, policy nodes, CPU
node and kernel version: the steps of the scenario (what get_mempolicy says, eligible nodes,
where new and old pages are), and the every-mode x every-flag grid before and after the change
for the chosen kernel next to a second kernel version.
"""
from __future__ import annotations

import ipywidgets as w
from IPython.core.formatters import format_display_data

from ..alloc import run_scenario
from ..errors import NumalabError
from ..kernel import NAMED_VERSIONS
from .. import zonelist
from ..viz.policy import MODE_ORDER, grid_chart, grid_table, steps_table

__all__ = ["panel"]


def _text(text, name="stdout") -> dict:
    """An output of the Output widget: a line of text."""
    return {"output_type": "stream", "name": name, "text": text + "\n"}


def _display(obj) -> dict:
    """An output of the Output widget: what ``display(obj)`` shows (all its mime types)."""
    data, metadata = format_display_data(obj)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def panel(topo, *, mems="0-3", then_mems="0-1", mode="bind", nodes="3", kernel="6.1", compare="6.18",
          pages=16):
    """Build the panel (returns the widget; display it in a notebook)."""
    cpu_nodes = [int(topo.node_ids[i]) for i in range(topo.n_nodes) if topo.has_cpu[i]] or [int(topo.node_ids[0])]
    wm = w.Text(value=mems, description="cpuset.mems")
    wt = w.Text(value=then_mems, description="then mems")
    wmode = w.Dropdown(options=[m for m in MODE_ORDER], value=mode, description="mode")
    wflags = w.SelectMultiple(options=["static", "relative", "numa_balancing"], value=(), description="flags",
                              rows=3)
    wn = w.Text(value=nodes, description="nodes")
    wcpu = w.Dropdown(options=cpu_nodes, value=cpu_nodes[0], description="CPU node")
    wk = w.Dropdown(options=list(NAMED_VERSIONS), value=kernel, description="kernel")
    wk2 = w.Dropdown(options=list(NAMED_VERSIONS), value=compare, description="compare with")
    out = w.Output()

    def refresh(*_):
        # The new outputs are built first and set at once (one widget update, no flicker, and
        # the Output widget's state says what is shown, with or without a kernel capturing).
        items = []
        try:
            res = run_scenario(topo, wk.value, mems=wm.value, then_mems=[wt.value] if wt.value.strip() else [],
                               mode=wmode.value, flags=list(wflags.value),
                               nodes=wn.value if wn.value.strip() else None, cpu_node=wcpu.value, pages=pages,
                               zonelists=zonelist.build(topo, wk.value, "boot"))
            if res.error:
                items.append(_text(f"set_mempolicy refuses this policy: {res.error} "
                                   "(the task keeps the default policy)"))
            items.append(_display(steps_table(res)))
            if wt.value.strip():
                df = grid_table(topo, [wk.value, wk2.value], [(wm.value, wt.value)], [wn.value.strip()],
                                cpu_node=wcpu.value, pages=pages)
                items.append(_display(grid_chart(df)))
        except NumalabError as e:
            items = [_text(f"error: {e}")]
        except Exception as e:                     # a bug: say so in the panel, not stale output
            out.outputs = (_text(f"internal error: {type(e).__name__}: {e}", "stderr"),)
            raise
        out.outputs = tuple(items)

    for x in (wm, wt, wmode, wflags, wn, wcpu, wk, wk2):
        x.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([w.VBox([wm, wt, wn]), w.VBox([wmode, wflags]), w.VBox([wcpu, wk, wk2])]), out])
