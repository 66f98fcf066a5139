"""Altair charts of zonelists: the fallback-order matrix, explanation tables and version diffs.

Every chart takes a long-form table (see :func:`orders_long`) and binds its choices (machine,
kernel version, boot/rebuild, node) to Altair parameters, so the exploration keeps working in an
exported HTML report without a kernel.

Examples
--------
>>> from numalab.sources import load
>>> df = orders_long({"B": load("sockets-2x2")}, ["5.15", "5.16"], ["boot"])
>>> list(df.columns[:6]), len(df)
(['machine', 'kernel', 'when', 'start', 'position', 'node'], 32)
>>> heatmap(df).to_dict()["params"][0]["name"]
'machine'
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from .. import zonelist as zlm
from .text import explain

__all__ = ["machines", "orders_long", "explain_long", "compare", "heatmap", "explain_chart", "diff_chart"]


def machines(max_nodes: int = 64, names=None) -> dict:
    """Machines to explore: the presets of :mod:`numalab.sources` with up to ``max_nodes`` nodes
    (only those in ``names`` when given), by name."""
    from .. import sources

    out = {}
    for name, _ in sources.presets():
        if names is not None and name not in names:
            continue
        t = sources.load(name)
        if t.n_nodes <= max_nodes:
            out[name] = t
    return out


def orders_long(topologies: dict, versions, whens=("boot", "rebuild")) -> pd.DataFrame:
    """One row per (machine, kernel, when, start node, position): the node placed there.

    Columns: ``machine``, ``kernel``, ``when``, ``start``, ``position``, ``node``, ``distance``
    (from the start node) and ``changed_from_previous`` (does this start node's order differ
    from the previous version in ``versions``).
    """
    rows = []
    for mname, t in topologies.items():
        for when in whens:
            prev = None
            for v in versions:
                zl = zlm.build(t, v, when)
                cur = {}
                for i in zl.built.nonzero()[0]:
                    sid = int(t.node_ids[i])
                    seq = zl.order[i, : zl.order_len[i]]
                    cur[sid] = [int(t.node_ids[j]) for j in seq]
                    changed = prev is not None and prev.get(sid) != cur[sid]
                    for p, j in enumerate(seq.tolist()):
                        rows.append((mname, str(v), when, sid, p, int(t.node_ids[j]),
                                     int(t.distance[i, j]), changed))
                prev = cur
    return pd.DataFrame(rows, columns=["machine", "kernel", "when", "start", "position", "node",
                                       "distance", "changed_from_previous"])


def explain_long(topologies: dict, versions, whens=("boot",)) -> pd.DataFrame:
    """:func:`numalab.viz.text.explain` of every node, stacked with machine/kernel/when/start columns."""
    frames = []
    for mname, t in topologies.items():
        for when in whens:
            for v in versions:
                zl = zlm.build(t, v, when)
                for i in zl.built.nonzero()[0]:
                    df = explain(zl, int(t.node_ids[i]))
                    df.insert(0, "start", int(t.node_ids[i]))
                    df.insert(0, "when", when)
                    df.insert(0, "kernel", str(v))
                    df.insert(0, "machine", mname)
                    frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    for c in ("value", "runner_up", "runner_up_value"):
        out[c] = out[c].astype("float")
    return out


def compare(zl_a: zlm.Zonelists, zl_b: zlm.Zonelists) -> pd.DataFrame:
    """Side-by-side fallback orders of two builds of the same machine, with a ``changed`` flag."""
    t = zl_a.topology
    if zl_b.topology is not t and not (zl_b.topology == t):
        from ..errors import NumalabError

        raise NumalabError("compare() needs two builds of the same topology", input=zl_b.topology.name)
    rows = []
    for i in range(t.n_nodes):
        nid = int(t.node_ids[i])
        a = zl_a.fallback_order(nid) if zl_a.built[i] else None
        b = zl_b.fallback_order(nid) if zl_b.built[i] else None
        rows.append({"node": nid, f"{zl_a.kernel.label} {zl_a.when}": a,
                     f"{zl_b.kernel.label} {zl_b.when} ": b, "changed": a != b})
    return pd.DataFrame(rows)


def _select(name, options, value=None, label=None):
    options = list(options)
    return alt.param(name=name, value=options[0] if value is None else value,
                     bind=alt.binding_select(options=options, name=(label or name) + " "))


def heatmap(df: pd.DataFrame, *, machine=None, kernel=None, when=None, cell=22) -> alt.Chart:
    """Zonelist matrix: rows = starting node, columns = position, colour = node placed there."""
    pm = _select("machine", df["machine"].unique(), machine)
    pk = _select("kernel", df["kernel"].unique(), kernel)
    pw = _select("when", df["when"].unique(), when)
    base = alt.Chart(df).transform_filter(
        (alt.datum.machine == pm) & (alt.datum.kernel == pk) & (alt.datum.when == pw))
    enc = dict(x=alt.X("position:O", title="position in fallback order"),
               y=alt.Y("start:O", title="starting node"))
    rect = base.mark_rect(stroke="white").encode(
        color=alt.Color("node:N", title="node", scale=alt.Scale(scheme="tableau20")),
        tooltip=["start:O", "position:O", "node:N", "distance:Q", "changed_from_previous:N"], **enc)
    text = base.mark_text(fontSize=10).encode(text="node:N", **enc)
    return (rect + text).add_params(pm, pk, pw).properties(
        title="Fallback order per starting node", width=alt.Step(cell), height=alt.Step(cell))


def explain_chart(df: pd.DataFrame, *, machine=None, kernel=None, start=None) -> alt.Chart:
    """The explanation table of one node as a text chart, with bound machine/kernel/node choices."""
    pm = _select("ex_machine", df["machine"].unique(), machine, "machine")
    pk = _select("ex_kernel", df["kernel"].unique(), kernel, "kernel")
    ps = _select("ex_start", sorted(df["start"].unique().tolist()), start, "node")
    cols = ["node", "distance", "lower_id_penalty", "cpu_penalty", "node_load", "value", "runner_up"]
    long = df.melt(id_vars=["machine", "kernel", "when", "start", "position"], value_vars=cols + ["reason"],
                   var_name="column", value_name="cell")
    long["cell"] = long["cell"].map(lambda x: "" if pd.isna(x) else (str(int(x)) if isinstance(x, float) else str(x)))
    base = alt.Chart(long).transform_filter(
        (alt.datum.machine == pm) & (alt.datum.kernel == pk) & (alt.datum.start == ps))
    y = alt.Y("position:O", title="position")
    numbers = base.transform_filter(alt.datum.column != "reason").mark_text().encode(
        x=alt.X("column:N", sort=cols, axis=alt.Axis(orient="top", labelAngle=0), title=None),
        y=y, text="cell:N").properties(width=alt.Step(105))
    reasons = base.transform_filter(alt.datum.column == "reason").mark_text(align="left", dx=-190).encode(
        x=alt.X("column:N", axis=alt.Axis(orient="top", labelAngle=0), title=None),
        y=alt.Y("position:O", axis=None), text="cell:N").properties(width=380)
    return alt.hconcat(numbers, reasons, spacing=0).add_params(pm, pk, ps).properties(
        title="Why each node is where it is (find_next_best_node values)")


def diff_chart(df: pd.DataFrame, *, machine=None, a=None, b=None, when="boot", cell=22) -> alt.Chart:
    """Two kernel versions side by side; starting nodes whose order changed are outlined in red."""
    kernels = list(df["kernel"].unique())
    pm = _select("diff_machine", df["machine"].unique(), machine, "machine")
    pa = _select("kernel_a", kernels, a or kernels[0], "kernel A")
    pb = _select("kernel_b", kernels, b or kernels[-1], "kernel B")
    data = df[df["when"] == when][["machine", "kernel", "start", "position", "node"]]

    def side(param, title):
        # both versions are needed to know which rows changed; each side then keeps its own
        base = alt.Chart(data).transform_filter(
            (alt.datum.machine == pm) & ((alt.datum.kernel == pa) | (alt.datum.kernel == pb))
        ).transform_calculate(
            nA=f"datum.kernel == {pa.name} ? datum.node : -1",
            nB=f"datum.kernel == {pb.name} ? datum.node : -1",
        ).transform_joinaggregate(
            nodeA="max(nA)", nodeB="max(nB)", groupby=["start", "position"]
        ).transform_calculate(
            differs="datum.nodeA != datum.nodeB ? 1 : 0"
        ).transform_joinaggregate(
            row_changed="max(differs)", groupby=["start"]
        ).transform_filter(
            alt.datum.kernel == param
        ).transform_calculate(
            status="datum.row_changed ? 'order changed' : 'same order'")
        enc = dict(x=alt.X("position:O", title="position"), y=alt.Y("start:O", title="starting node"))
        rect = base.mark_rect(strokeWidth=2).encode(
            color=alt.Color("node:N", scale=alt.Scale(scheme="tableau20")),
            stroke=alt.Color("status:N", scale=alt.Scale(domain=["order changed", "same order"],
                                                          range=["red", "white"]), title="row"),
            opacity=alt.condition("datum.row_changed", alt.value(1.0), alt.value(0.35)),
            tooltip=["kernel:N", "start:O", "position:O", "node:N", "status:N"], **enc)
        text = base.mark_text(fontSize=10).encode(text="node:N", **enc)
        return alt.layer(rect, text).properties(width=alt.Step(cell), height=alt.Step(cell), title=title)

    return alt.hconcat(side(pa, "kernel A"), side(pb, "kernel B")).add_params(pm, pa, pb).properties(
        title=f"Fallback orders of two kernel versions ({when}); changed rows outlined")
