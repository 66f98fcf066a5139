"""ipywidgets panel for the allocation / cpuset-change races (live kernel only; the exported report
uses the bound Altair controls of :mod:`numalab.viz.race`).

Panel protocol (BRIEF.md): :func:`summary` is a pure function of the plain-JSON ``state``; every
render shows ``[panel race] {state}`` then ``summary(state)``, then the counts chart and the
chosen trace up to the chosen step.

>>> summary({"scenario": "email", "designs": ["v4.10", "v4.13"], "kernel": "", "trace": 0, "step": 0})
'email: v4.10 spurious_oom=5/14; v4.13 clean/16 | trace v4.10 spurious_oom, step 12/12: task __alloc_pages_may_oom: no page, nothing restarts: OOM killer invoked'
"""
from __future__ import annotations

import contextlib
import json

from .. import race
from ..errors import NumalabError
from ..viz.race import counts_chart, counts_table, trace_frame

__all__ = ["summary", "panel", "state_result"]

NAME = "race"


try:  # the shared busy indicator (numalab/widgets/_panel.py) when it exists
    from ._panel import busy as _busy  # type: ignore
except ImportError:  # pragma: no cover - until the shared helper is merged
    def _busy(*_args, **_kw):
        return contextlib.nullcontext()


def _designs(state) -> list:
    ds = [d for d in state.get("designs") or race.DESIGNS]
    k = (state.get("kernel") or "").strip()
    if k:
        ds.append(race.design(k).name)
    return ds


def state_result(state: dict) -> dict:
    """``race.run`` for a panel state (scenario, designs, optional extra kernel release)."""
    return race.run(state.get("scenario", "email"), _designs(state))


def _pick(res, state):
    """The chosen trace (index into every design's traces, in order) and step (0: last)."""
    flat = [(d, o, tr) for d in res["traces"] for o, tr in zip(res["trace_outcomes"][d], res["traces"][d])]
    if not flat:
        return None, None, 0
    d, o, tr = flat[min(max(int(state.get("trace", 0)), 0), len(flat) - 1)]
    step = int(state.get("step", 0)) or len(tr)
    return f"{d} {o}", tr, min(max(step, 1), len(tr))


def summary(state: dict) -> str:
    """One line: per design the spurious OOM / stuck / failure counts out of all interleavings
    (``clean`` when there are none), and the chosen trace step."""
    res = state_result(state)
    parts = []
    for d, c in res["outcomes"].items():
        bad = [f"{o}={c[o]}/{res['interleavings'][d]}" for o in ("spurious_oom", "stuck", "failure") if c[o]]
        parts.append(f"{d} " + (" ".join(bad) if bad else f"clean/{res['interleavings'][d]}"))
    line = f"{res['scenario']}: " + "; ".join(parts)
    name, tr, step = _pick(res, state)
    if tr:
        s = tr[step - 1]
        line += f" | trace {name}, step {step}/{len(tr)}: {s['actor']} {s['step']}"
    return line


def panel(scenario="email", designs=race.DESIGNS):
    """Build the panel (display it in a notebook)."""
    import ipywidgets as w
    from IPython.core.formatters import format_display_data

    def text(t, name="stdout"):
        return {"output_type": "stream", "name": name, "text": t + "\n"}

    def display(obj):
        data, md = format_display_data(obj)
        return {"output_type": "display_data", "data": data, "metadata": md}

    wsc = w.Dropdown(options=race.scenario_names(), value=scenario, description="scenario")
    wds = w.SelectMultiple(options=list(race.DESIGNS), value=tuple(designs), description="designs", rows=5)
    wk = w.Text(value="", description="kernel", placeholder="e.g. 5.4")
    wtr = w.Dropdown(options=[("-", 0)], value=0, description="trace")
    wst = w.IntSlider(value=0, min=0, max=1, description="step")
    out = w.Output()

    def state():
        return {"scenario": wsc.value, "designs": list(wds.value), "kernel": wk.value.strip(),
                "trace": int(wtr.value), "step": int(wst.value)}

    def refresh(*_):
        st = state()
        items = [text(f"[panel {NAME}] " + json.dumps(st, sort_keys=True))]
        try:
            with _busy(out):
                items.append(text(summary(st)))
                res = state_result(st)
                flat = [f"{d} {o}" for d in res["traces"] for o in res["trace_outcomes"][d]]
                opts = list(enumerate(flat)) or [(0, "-")]
                if [(lbl, i) for i, lbl in opts] != list(wtr.options):
                    wtr.options = [(lbl, i) for i, lbl in opts]
                name, tr, step = _pick(res, st)
                if tr:
                    wst.max = len(tr)
                    items.append(display(trace_frame(tr[:step])))
                items.append(display(counts_chart(counts_table({res["scenario"]: res}))))
        except NumalabError as e:
            items.append(text(f"error: {e}"))
        out.outputs = tuple(items)

    for x in (wsc, wds, wk, wtr, wst):
        x.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([w.VBox([wsc, wk]), wds, w.VBox([wtr, wst])]), out])
