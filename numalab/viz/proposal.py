"""Tables and charts for per-cpuset zonelists: memory per design and the equivalence result.

* :func:`cost_sweep` / :func:`cost_chart` - bytes each design adds against the number of cpusets
  (log scales), per machine and kernel configuration, with today's pgdat zonelists as a line;
  machine, configuration and design are Altair parameters bound to selects (work offline).
* :func:`breakdown` - per-cpuset bytes of one cpuset collection, one column per design.
* :func:`compare_table`, :func:`cells_table`, :func:`heatmap`, :func:`examples_table` - the
  result of :func:`numalab.compare.compare`: counts per design and cause, differing requests per
  cpuset x (policy, gfp, context), and the example requests with their explanation.

Examples
--------
>>> from numalab import sources
>>> df = cost_sweep({"two-node": sources.load("two-node")}, ["x86_64-default"], [1, 10], ["exact-ancestor"])
>>> df[["cpusets", "variant", "bytes"]].values.tolist()
[[1, 'exact-ancestor', 224], [10, 'exact-ancestor', 2000], [1, 'today', 16448], [10, 'today', 16448]]
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .. import cgsets, cost
from ..cpuset import format_nodes

__all__ = ["cost_sweep", "cost_chart", "breakdown", "compare_table", "cells_table", "heatmap", "examples_table"]


def cost_sweep(machines: dict, configs, counts, variants=None, *, shape="node", tasks=50) -> pd.DataFrame:
    """Long table: machine, config, cpusets, variant (``today`` too), bytes added, bytes saved, net."""
    rows = []
    for mname, topo in machines.items():
        for cname in configs:
            cfg = cost.config(cname)
            if int(topo.node_ids.max()) >= cfg.max_numnodes:
                continue
            for k in counts:
                res = cost.cost(topo, cfg, cgsets.generate(topo, int(k), shape, tasks=tasks), variants)
                for vname, v in res.variants.items():
                    rows.append({"machine": mname, "config": cname, "cpusets": int(k), "variant": vname,
                                 "bytes": int(v.total_bytes), "saved": int(v.saved_bytes),
                                 "net": int(v.total_bytes) - int(v.saved_bytes)})
            for k in counts:
                rows.append({"machine": mname, "config": cname, "cpusets": int(k), "variant": "today",
                             "bytes": int(res.today_bytes), "saved": 0, "net": int(res.today_bytes)})
    return pd.DataFrame(rows)


def cost_chart(df: pd.DataFrame, *, title="Bytes added by per-cpuset zonelists (today's pgdat zonelists dashed)"):
    """Log-log lines of bytes against cpusets, one per design; today as a dashed line.

    Selects bound to parameters choose the machine, the configuration and the design (``all``).
    """
    machines = sorted(df["machine"].unique())
    configs = list(dict.fromkeys(df["config"]))
    variants = [v for v in dict.fromkeys(df["variant"]) if v != "today"]
    pm = alt.param(name="machine", value=machines[0], bind=alt.binding_select(options=machines, name="machine "))
    pc = alt.param(name="config", value=configs[0], bind=alt.binding_select(options=configs, name="configuration "))
    pv = alt.param(name="variant", value="all", bind=alt.binding_select(options=["all"] + variants, name="design "))
    base = alt.Chart(df).transform_filter("datum.machine === machine && datum.config === config")
    x = alt.X("cpusets:Q", scale=alt.Scale(type="log"), title="cpusets")
    y = alt.Y("bytes:Q", scale=alt.Scale(type="log"), title="bytes")
    lines = base.transform_filter("datum.variant !== 'today' && (variant === 'all' || datum.variant === variant)") \
        .mark_line(point=True).encode(x=x, y=y, color=alt.Color("variant:N", sort=variants, title="design"),
                                      tooltip=["variant", "cpusets", "bytes", "saved", "net"])
    today = base.transform_filter("datum.variant === 'today'").mark_line(strokeDash=[6, 4], color="black") \
        .encode(x=x, y=y, tooltip=["cpusets", "bytes"])
    return alt.layer(lines, today).add_params(pm, pc, pv).properties(width=520, height=300, title=title)


def breakdown(result) -> pd.DataFrame:
    """Per-cpuset bytes of a :class:`numalab.cost.CostResult`: path, mems, tasks, one column per design."""
    cs = result.cpusets
    t = cs.topology
    df = pd.DataFrame({"path": list(cs.paths), "mems": [format_nodes(t.mask(m)) for m in cs.mems],
                       "tasks": cs.tasks.astype(int)})
    for name, v in result.variants.items():
        df[name] = v.per_cpuset.astype(np.int64)
    return df


def compare_table(results: dict) -> pd.DataFrame:
    """One row per (machine, design, cause) with counts; ``results``: machine -> CompareResult."""
    rows = []
    for mname, r in results.items():
        for vname, v in r.variants.items():
            base = {"machine": mname, "kernel": r.kernel, "design": vname, "requests": v["requests"],
                    "differ_set": v["differ_set"], "differ_order": v["differ_order"]}
            if not v["by_cause"]:
                rows.append(dict(base, cause="(none: every request as today)", count=0))
            for cause, n in v["by_cause"].items():
                rows.append(dict(base, cause=cause, count=n))
    return pd.DataFrame(rows)


def cells_table(results: dict) -> pd.DataFrame:
    """Non-zero heat-map cells: machine, design, cpuset, column (policy | gfp | context), count."""
    rows = []
    for mname, r in results.items():
        ax = r.cell_axes
        for vname, cells in r.cells.items():
            k, m, g, x = np.nonzero(cells)
            for a, b, c, d in zip(k.tolist(), m.tolist(), g.tolist(), x.tolist()):
                rows.append({"machine": mname, "design": vname, "cpuset": ax["cpuset"][a],
                             "column": f"{ax['mode'][b]} | {ax['gfp'][c]} | {ax['context'][d]}",
                             "count": int(cells[a, b, c, d])})
    return pd.DataFrame(rows, columns=["machine", "design", "cpuset", "column", "count"])


def heatmap(cells: pd.DataFrame, results: dict, *, title="Differing requests per cpuset (rows) and "
                                                           "policy | gfp | context (columns)"):
    """Heat map of :func:`cells_table`; machine and design are selects (blank = as today)."""
    machines = list(results)
    designs = list(dict.fromkeys(d for r in results.values() for d in r.variants))
    pm = alt.param(name="hm_machine", value=machines[0], bind=alt.binding_select(options=machines, name="machine "))
    pd_ = alt.param(name="hm_design", value=designs[0], bind=alt.binding_select(options=designs, name="design "))
    ax = next(iter(results.values())).cell_axes
    cols = [f"{m} | {g} | {c}" for m in ax["mode"] for g in ax["gfp"] for c in ax["context"]]
    return alt.Chart(cells).transform_filter("datum.machine === hm_machine && datum.design === hm_design") \
        .mark_rect().encode(
            x=alt.X("column:N", sort=cols, title=None, axis=alt.Axis(labelAngle=-60, labelLimit=260)),
            y=alt.Y("cpuset:N", title=None, sort=None),
            color=alt.Color("count:Q", scale=alt.Scale(type="log", scheme="reds"), title="requests"),
            tooltip=["cpuset", "column", "count"]).add_params(pm, pd_).properties(title=title, width=alt.Step(11))


def examples_table(result, limit_per_cause=2) -> pd.DataFrame:
    """The example requests of a CompareResult, one row each, with cause and explanation."""
    rows = []
    for vname, v in result.variants.items():
        seen = {}
        for e in v["examples"]:
            if seen.get(e["cause"], 0) >= limit_per_cause:
                continue
            seen[e["cause"]] = seen.get(e["cause"], 0) + 1
            rows.append({"design": vname, "cause": e["cause"], "differs": e["differs"], "cpuset": e["cpuset"],
                         "policy": e["policy"], "cpu node": e["cpu_node"], "gfp": e["gfp"], "context": e["context"],
                         "today fast | slow": f"{e['today']['fast']} | {e['today']['slow']}",
                         "design fast | slow": f"{e['variant']['fast']} | {e['variant']['slow']}"})
    return pd.DataFrame(rows)
