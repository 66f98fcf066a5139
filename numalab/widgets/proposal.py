"""ipywidgets panel for per-cpuset zonelists: memory and equivalence of one design on one machine.

Panel protocol (see the brief): :func:`summary` is a pure function of the state dict (plain JSON
values: ``machine`` preset name, ``kernel``, ``config``, ``variant``, ``cpusets`` spec such as
``node:100`` and ``tasks``); on every render the panel's Output shows the line
``[panel proposal] {state as sorted JSON}`` and then ``summary(state)``, then the tables.

Examples
--------
>>> summary({"machine": "sockets-2x2", "kernel": "6.12", "config": "debian-6.1-amd64",
...          "variant": "exact-ancestor", "cpusets": "node:4", "tasks": 10})
'exact-ancestor on sockets-2x2 (debian-6.1-amd64, 4 cpusets, 40 tasks): adds 1,376 B, saves 5,280 B, today 655,488 B; 0 of 84,000 requests differ (0 set, 0 order)'
"""
from __future__ import annotations

import json

import ipywidgets as w

from .. import cgsets, compare, cost, sources
from ..errors import NumalabError
from ..kernel import NAMED_VERSIONS

__all__ = ["NAME", "summary", "panel"]

NAME = "proposal"
_SAMPLE = 5_000


def _busy(flag: bool):
    """Shared busy indicator when available (numalab.widgets._panel), else nothing."""
    try:
        from . import _panel  # noqa: F401  (added by the browser helper)
    except ImportError:
        return None
    return None


def _run(state: dict):
    topo = sources.load(state["machine"])
    cs = cgsets.parse_spec(topo, state["cpusets"], kernel=state["kernel"], tasks=int(state.get("tasks", 50)))
    c = cost.cost(topo, state["config"], cs, [state["variant"]], kernel=state["kernel"])
    r = compare.compare(topo, state["kernel"], [state["variant"]], sample=_SAMPLE, examples=2)
    return topo, cs, c, r


def summary(state: dict) -> str:
    """One deterministic line computed by the engine from ``state``."""
    return _format(state, _run(state))


def _format(state, results) -> str:
    topo, cs, c, r = results
    v = c.variants[state["variant"]]
    e = r.variants[state["variant"]]
    return (f"{state['variant']} on {state['machine']} ({state['config']}, {len(cs)} cpusets, {c.tasks} tasks): "
            f"adds {v.total_bytes:,} B, saves {v.saved_bytes:,} B, today {c.today_bytes:,} B; "
            f"{e['differ_set'] + e['differ_order']:,} of {e['requests']:,} requests differ "
            f"({e['differ_set']:,} set, {e['differ_order']:,} order)")


def panel(machine="sockets-2x2", *, kernel="6.12", config="debian-6.1-amd64", variant="exact-ancestor",
          cpusets="node:4", tasks=50, machines=None):
    """Build the panel (returns the widget; display it in a notebook)."""
    names = list(machines or [p for p, _ in sources.presets()])
    if machine not in names:
        names.insert(0, machine)
    wm = w.Dropdown(options=names, value=machine, description="machine")
    wk = w.Dropdown(options=list(NAMED_VERSIONS), value=kernel, description="kernel")
    wc = w.Dropdown(options=list(cost.CONFIGS), value=config, description="configuration")
    wv = w.Dropdown(options=list(cost.DESIGNS), value=variant, description="design")
    ws = w.Text(value=cpusets, description="cpusets")
    wt = w.BoundedIntText(value=tasks, min=0, max=1_000_000, description="tasks each")
    out = w.Output()

    def state():
        return {"machine": wm.value, "kernel": wk.value, "config": wc.value, "variant": wv.value,
                "cpusets": ws.value.strip(), "tasks": int(wt.value)}

    def text(s, name="stdout"):
        return {"output_type": "stream", "name": name, "text": s + "\n"}

    def refresh(*_):
        st = state()
        items = [text(f"[panel {NAME}] " + json.dumps(st, sort_keys=True))]
        _busy(True)
        try:
            res = _run(st)
            items.append(text(_format(st, res)))
            topo, cs, c, r = res
            e = r.variants[st["variant"]]
            for cause, n in e["by_cause"].items():
                items.append(text(f"  {n:,}  {cause}: {compare.EXPLAIN[cause]}"))
            items.append(text(f"  design: {c.variants[st['variant']].design.spec()}; {r.method}: {r.sampling}"))
        except NumalabError as err:
            items.append(text(f"error: {err}"))
        finally:
            _busy(False)
        out.outputs = tuple(items)

    for x in (wm, wk, wc, wv, ws, wt):
        x.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([w.VBox([wm, wk, wc]), w.VBox([wv, ws, wt])]), out])
