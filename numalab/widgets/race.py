"""ipywidgets panel for the allocation / cpuset-change races (live kernel only; the exported report
uses the bound Altair controls of :mod:`numalab.viz.race`).

It follows the protocol of :mod:`numalab.widgets` (built with :func:`numalab.widgets._panel.build`):
:func:`summary` is a pure function of the plain-JSON ``state`` (``scenario``, ``designs``, an
optional extra ``kernel`` release, ``trace`` index and ``step``, 0 meaning the last); every render
shows ``[panel race] {state}`` then ``summary(state)``, then the chosen trace up to the chosen step
and the counts chart.

>>> summary({"scenario": "email", "designs": ["v4.10", "v4.13"], "kernel": "", "trace": 0, "step": 0})
'email: v4.10 spurious_oom=5/14; v4.13 clean/16 | trace v4.10 spurious_oom, step 12/12: task __alloc_pages_may_oom: no page, nothing restarts: OOM killer invoked'
>>> p = panel("email", ["v4.10", "v4.13"])
>>> text_of(p)[0]
'[panel race] {"designs": ["v4.10", "v4.13"], "kernel": "", "scenario": "email", "step": 0, "trace": 0}'
"""
from __future__ import annotations

import contextlib

import ipywidgets as w

from .. import race
from ..errors import NumalabError
from ..viz.race import counts_chart, counts_table, trace_frame
from ._panel import build, cache, refusals, text_of

__all__ = ["summary", "panel", "state_result", "demo"]


def _designs(state) -> list:
    ds = [d for d in state.get("designs") or race.DESIGNS]
    k = (state.get("kernel") or "").strip()
    if k:
        ds.append(race.design(k).name)
    return ds


def state_result(state: dict) -> dict:
    """``race.run`` for a panel state (scenario, designs, optional extra kernel release)."""
    return _result(state.get("scenario", "email"), tuple(_designs(state)))


@cache(maxsize=16)
def _result(scenario: str, designs: tuple) -> dict:
    """``race.run``, shared by the summary line, the tables and the trace options of one update."""
    return race.run(scenario, list(designs))


def _flat(res) -> list:
    """Every design's traces in order: (design, outcome, trace)."""
    return [(d, o, tr) for d in res["traces"] for o, tr in zip(res["trace_outcomes"][d], res["traces"][d])]


def _pick(res, state):
    """The chosen trace (index into every design's traces, in order) and step (0: last)."""
    flat = _flat(res)
    if not flat:
        return None, None, 0
    d, o, tr = flat[min(max(int(state.get("trace", 0)), 0), len(flat) - 1)]
    step = int(state.get("step", 0)) or len(tr)
    return f"{d} {o}", tr, min(max(step, 1), len(tr))


@refusals
def summary(state: dict) -> str:
    """One line: per design the spurious OOM / stuck / failure counts out of all interleavings
    (``clean`` when there are none), and the chosen trace step.

    An unknown kernel release is refused (one line) instead of raising:

    >>> summary({"scenario": "email", "designs": ["v4.13"], "kernel": "2.6", "trace": 0, "step": 0})[:9]
    'refused: '
    """
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


def _render(state):
    res = state_result(state)
    _, tr, step = _pick(res, state)
    items = [trace_frame(tr[:step])] if tr else []
    return items + [counts_chart(counts_table({res["scenario"]: res}))]


def panel(scenario="email", designs=race.DESIGNS):
    """Build the panel (returns the widget; display it in a notebook)."""
    wsc = w.Dropdown(options=race.scenario_names(), value=scenario, description="scenario")
    wds = w.SelectMultiple(options=list(race.DESIGNS), value=tuple(designs), description="designs", rows=5)
    wk = w.Text(value="", description="kernel", placeholder="e.g. 5.4 or 6.12")
    wtr = w.Dropdown(options=[("-", 0)], value=0, description="trace")
    wst = w.IntSlider(value=0, min=0, max=1, description="step")
    box, busy = {}, [False]

    def traces_changed(*_):
        """The trace and step controls follow the chosen scenario, designs and kernel (one render)."""
        if busy[0]:
            return                                  # our own change of the trace options
        state = {"scenario": wsc.value, "designs": list(wds.value), "kernel": wk.value,
                 "trace": wtr.value, "step": wst.value}
        try:
            res = state_result(state)
        except NumalabError:
            return                                  # refused: the line says so, the trace controls stay
        flat = _flat(res)
        opts = [(f"{d} {o}", i) for i, (d, o, _) in enumerate(flat)] or [("-", 0)]
        busy[0] = True
        try:
            with box["panel"].hold() if box else contextlib.nullcontext():
                _follow(flat, opts)
        finally:
            busy[0] = False

    def _follow(flat, opts):
        if opts != [tuple(o) for o in wtr.options]:
            keep = wtr.value if any(v == wtr.value for _, v in opts) else 0
            wtr.options = opts
            wtr.value = keep
        top = len(flat[wtr.value][2]) if flat else 1        # the chosen trace's steps
        if wst.max != top:
            wst.value = min(wst.value, top)
            wst.max = top

    for x in (wsc, wds, wk, wtr):
        x.observe(traces_changed, "value")         # before the panel's own observer
    traces_changed()
    controls = {"scenario": wsc, "designs": wds, "kernel": wk, "trace": wtr, "step": wst}
    box["panel"] = build("race", controls, summary, _render,
                         layout=lambda c: [w.HBox([w.VBox([wsc, wk]), wds, w.VBox([wtr, wst])])])
    return box["panel"]


def demo(nodes: int = 64):
    """The panel as the notebook shows it (benchmarks/bench_widgets.py). A race scenario has its
    own few nodes (data/race/), so ``nodes`` does not change the work of an update."""
    return panel()
