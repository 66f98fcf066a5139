"""Charts for the allocation / cpuset-change races (numalab.race), for notebook 05 and the report.

* :func:`counts_table` / :func:`counts_chart`: outcome counts per design for every scenario, a
  bar chart whose scenario is picked by a select bound to an Altair parameter (works offline);
* :func:`traces_table` / :func:`trace_chart`: the shortest interleaving of every bad outcome as
  a table drawn with text marks, stepped through with a bound slider (steps after the slider's
  position are faded, the current one is highlighted) and a select for the trace;
* :func:`trace_frame`: one trace as a DataFrame (the step-by-step table).

Examples
--------
>>> from numalab import race
>>> res = {"email": race.run("email", ["v4.10", "v4.13"])}
>>> df = counts_table(res)
>>> int(df[(df.design == "v4.10") & (df.outcome == "spurious_oom")]["count"].iloc[0]) > 0
True
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from .. import race

__all__ = ["COLUMNS", "counts_table", "counts_chart", "trace_frame", "traces_table", "trace_chart"]

#: Columns of a trace table, in order.
COLUMNS = ("actor", "step", "mems_allowed", "seq", "policy", "sees", "cpuset_next", "outcome")
_COLORS = {"allowed_page": "#4c78a8", "retry": "#72b7b2", "off_policy_page": "#eeca3b",
           "disallowed_page": "#f58518", "failure": "#b279a2", "stuck": "#9d755d", "spurious_oom": "#e45756"}


def counts_table(results: dict) -> pd.DataFrame:
    """Long form ``scenario, design, outcome, count`` from ``{scenario: race.run(...)}``."""
    rows = [{"scenario": s, "design": d, "outcome": o, "count": int(c[o])}
            for s, r in results.items() for d, c in r["outcomes"].items() for o in race.OUTCOMES]
    return pd.DataFrame(rows, columns=["scenario", "design", "outcome", "count"])


def counts_chart(df: pd.DataFrame, scenario: str | None = None) -> alt.Chart:
    """Stacked bars: interleavings per outcome for each design; a bound select picks the scenario."""
    scenarios = list(dict.fromkeys(df["scenario"]))
    pick = alt.param(name="scenario", value=scenario or scenarios[0],
                     bind=alt.binding_select(options=scenarios, name="scenario "))
    order = {o: i for i, o in enumerate(race.OUTCOMES)}
    data = df[df["count"] > 0].assign(rank=lambda x: x["outcome"].map(order))
    return (alt.Chart(data).mark_bar()
            .encode(y=alt.Y("design:N", sort=list(dict.fromkeys(df["design"])), title=None),
                    x=alt.X("count:Q", title="interleavings"),
                    color=alt.Color("outcome:N", scale=alt.Scale(domain=list(_COLORS), range=list(_COLORS.values())),
                                    sort=list(race.OUTCOMES)),
                    order=alt.Order("rank:Q"),
                    tooltip=["scenario", "design", "outcome", "count"])
            .add_params(pick).transform_filter(alt.datum.scenario == pick)
            .properties(width=520, height=28 * df["design"].nunique(),
                        title="Every interleaving the locks allow, by outcome"))


def trace_frame(trace: list) -> pd.DataFrame:
    """One trace (``race.trace``) as a step-by-step table."""
    df = pd.DataFrame(trace).set_index("i")
    for c in ("outcome", "page"):
        if c not in df:
            df[c] = None
    df["page"] = df["page"].astype(object)       # a blank, not NaN, where no page was taken
    return df[[c for c in COLUMNS if c in df] + ["page"]].fillna("")


def traces_table(results: dict) -> pd.DataFrame:
    """Long form of every shortest bad trace: ``trace, i, column, value`` (one text cell each)."""
    rows = []
    for s, r in results.items():
        for d in r["traces"]:
            for o, tr in zip(r["trace_outcomes"][d], r["traces"][d]):
                name = f"{s} / {d} / {o}"
                for step in tr:
                    for col in COLUMNS:
                        v = step.get(col, "")
                        if col in ("mems_allowed", "policy"):
                            v = "{" + str(v) + "}"
                        rows.append({"trace": name, "i": step["i"], "column": col, "value": str(v)})
    return pd.DataFrame(rows, columns=["trace", "i", "column", "value"])


def trace_chart(df: pd.DataFrame, trace: str | None = None) -> alt.Chart:
    """A trace as a text table stepped with a bound slider; a bound select picks the trace."""
    names = list(dict.fromkeys(df["trace"]))
    longest = int(df["i"].max()) if len(df) else 1
    pick = alt.param(name="trace", value=trace or names[0], bind=alt.binding_select(options=names, name="trace "))
    step = alt.param(name="step", value=longest, bind=alt.binding_range(min=1, max=longest, step=1, name="step "))
    widths = {"actor": 55, "step": 560, "mems_allowed": 80, "seq": 35, "policy": 60, "sees": 230, "cpuset_next": 250,
              "outcome": 110}
    base = alt.Chart(df).add_params(pick, step).transform_filter(alt.datum.trace == pick)
    cols = []
    for c in COLUMNS:
        cols.append(base.transform_filter(alt.datum.column == c)
                    .mark_text(align="left", baseline="middle", limit=widths[c] - 6, fontSize=11)
                    .encode(x=alt.value(2), y=alt.Y("i:O", title="step" if c == "actor" else None,
                                    axis=alt.Axis(labels=c == "actor", ticks=False, domain=False)),
                            text="value:N",
                            opacity=alt.condition(alt.datum.i <= step, alt.value(1.0), alt.value(0.12)),
                            color=alt.condition(alt.datum.i == step, alt.value("#d62728"), alt.value("#222")),
                            tooltip=["i:O", "value:N"])
                    .properties(width=widths[c], title=c))
    return alt.hconcat(*cols, spacing=4).properties(
        title="Shortest interleaving per bad outcome: move the slider to step through it").configure_view(stroke=None)
