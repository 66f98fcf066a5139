"""ipywidgets panel for per-cpuset zonelists: memory and equivalence of one design on one machine.

It follows the protocol of :mod:`numalab.widgets` (built with :func:`numalab.widgets._panel.build`):
:func:`summary` is a pure function of the state dict (plain JSON values: ``machine`` preset name,
``kernel``, ``config``, ``variant``, ``cpusets`` spec such as ``node:100`` and ``tasks``); on every
render the panel's Output shows the line ``[panel proposal] {state as sorted JSON}`` and then
``summary(state)``, then why requests differ and the design's options.

Examples
--------
>>> summary({"machine": "sockets-2x2", "kernel": "6.12", "config": "debian-6.1-amd64",
...          "variant": "exact-ancestor", "cpusets": "node:4", "tasks": 10})
'exact-ancestor on sockets-2x2 (debian-6.1-amd64, 4 cpusets, 40 tasks): adds 1,376 B, saves 5,280 B, today 655,488 B; 0 of 84,000 requests differ (0 set, 0 order)'
>>> summary({"machine": "sockets-2x2", "kernel": "6.12", "config": "debian-6.1-amd64",
...          "variant": "exact-ancestor", "cpusets": "node:0", "tasks": 10})[:9]
'refused: '
"""
from __future__ import annotations

import ipywidgets as w

from .. import cgsets, compare, cost, sources
from ..kernel import NAMED_VERSIONS
from ._panel import build, cache, refusals

__all__ = ["summary", "panel", "demo"]

_SAMPLE = 5_000


def _run(state: dict):
    """The engine results of one state, shared by the summary line and the lines below it."""
    topo, cs, c = _cost(state["machine"], state["kernel"], state["config"], state["variant"], state["cpusets"],
                        int(state.get("tasks", 50)))
    return topo, cs, c, _compare(state["machine"], state["kernel"], state["variant"])


@cache(maxsize=8)
def _cost(machine, kernel, config, variant, cpusets, tasks):
    topo = sources.load(machine)
    cs = cgsets.parse_spec(topo, cpusets, kernel=kernel, tasks=tasks)
    return topo, cs, cost.cost(topo, config, cs, [variant], kernel=kernel)


@cache(maxsize=8)
def _compare(machine, kernel, variant):
    """The request-space comparison depends on the machine, kernel and design only (not on the
    configuration, cpusets or tasks): cached apart, it is not run again when those change. It is
    the slow part: exhaustive on machines of up to 8 nodes, about 1 s at 8 nodes."""
    return compare.compare(sources.load(machine), kernel, [variant], sample=_SAMPLE, examples=2)


@refusals
def summary(state: dict) -> str:
    """One deterministic line computed by the engine from ``state``: what the design adds and
    saves in bytes against today's zonelists, and how many allocation requests it answers
    differently (:func:`numalab.cost.cost`, :func:`numalab.compare.compare`)."""
    return _format(state, _run(state))


def _format(state, results) -> str:
    topo, cs, c, r = results
    v = c.variants[state["variant"]]
    e = r.variants[state["variant"]]
    return (f"{state['variant']} on {state['machine']} ({state['config']}, {len(cs)} cpusets, {c.tasks} tasks): "
            f"adds {v.total_bytes:,} B, saves {v.saved_bytes:,} B, today {c.today_bytes:,} B; "
            f"{e['differ_set'] + e['differ_order']:,} of {e['requests']:,} requests differ "
            f"({e['differ_set']:,} set, {e['differ_order']:,} order)")


def _render(state):
    topo, cs, c, r = _run(state)
    e = r.variants[state["variant"]]
    lines = [f"  {n:,}  {cause}: {compare.EXPLAIN[cause]}" for cause, n in e["by_cause"].items()]
    return lines + [f"  design: {c.variants[state['variant']].design.spec()}; {r.method}: {r.sampling}"]


def panel(machine="sockets-2x2", *, kernel="6.12", config="debian-6.1-amd64", variant="exact-ancestor",
          cpusets="node:4", tasks=50, machines=None):
    """Build the panel (returns the widget; display it in a notebook)."""
    names = list(machines or [p for p, _ in sources.presets()])
    if machine not in names:
        names.insert(0, machine)
    controls = {
        "machine": w.Dropdown(options=names, value=machine, description="machine"),
        "kernel": w.Dropdown(options=list(NAMED_VERSIONS), value=kernel, description="kernel"),
        "config": w.Dropdown(options=list(cost.CONFIGS), value=config, description="configuration"),
        "variant": w.Dropdown(options=list(cost.DESIGNS), value=variant, description="design"),
        "cpusets": w.Text(value=cpusets, description="cpusets", continuous_update=False,
                          placeholder="e.g. node:2 or socket:2 or 8"),
        "tasks": w.BoundedIntText(value=tasks, min=0, max=1_000_000, description="tasks each"),
    }
    c = controls
    return build("proposal", controls, summary, _render,
                 layout=lambda _: [w.HBox([w.VBox([c["machine"], c["kernel"], c["config"]]),
                                           w.VBox([c["variant"], c["cpusets"], c["tasks"]])])])


def demo(nodes: int = 64):
    """The panel on a generated machine of ``nodes`` nodes, sockets of 8 (benchmarks/bench_widgets.py).
    Above 8 memory nodes the comparison samples requests (:data:`_SAMPLE`)."""
    spec = f"sockets(sockets={max(1, nodes // 8)}, nodes_per_socket={min(8, nodes)})"
    return panel(spec, cpusets=f"node:{nodes}", machines=[spec, "sockets-2x2"])
