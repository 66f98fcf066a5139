"""Charts for cpusets and memory policies: every mode x flag at once, before and after a change.

:func:`grid_table` runs :func:`numalab.alloc.run_scenario` for every (kernel, cpuset transition,
user nodemask, mode, flags) and returns a long-form table, one row per (case, phase, node):
whether the node is in the policy's effective nodemask, in what get_mempolicy reports, and how
many of the phase's pages landed there. :func:`grid_chart` draws it as a heat map per kernel and
phase, with Altair parameters bound to selects (transition, user nodemask) so the grid stays
explorable in an exported HTML report.

Examples
--------
>>> from numalab import sources
>>> t = sources.load("cxl4")
>>> df = grid_table(t, ["6.1"], [("0-3", "0-1")], ["3"], pages=8)
>>> sorted(df.columns)[:4]
['case', 'cpuset_mems', 'effective', 'error']
"""
from __future__ import annotations

import itertools
import json

import altair as alt
import numpy as np
import pandas as pd

from .. import mempolicy as mp
from .. import zonelist
from ..nodemask import packed
from ..alloc import run_scenario, run_scenarios
from ..cpuset import format_nodes
from ..kernel import profile

__all__ = ["MODE_ORDER", "FLAG_CHOICES", "grid_table", "grid_chart", "steps_table", "version_diff"]

MODE_ORDER = ("default", "local", "preferred", "bind", "interleave", "preferred_many", "weighted_interleave")
FLAG_CHOICES = ((), ("static",), ("relative",), ("numa_balancing",))


def version_diff(grid: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Where two kernel versions of a :func:`grid_table` disagree, counted per case and state.

    One row per (case, state in ``a``, state in ``b``) with the number of (transition, user
    nodes, phase, node) cells that changed, e.g. ``WEIGHTED_INTERLEAVE``: ``refused: EINVAL`` on
    6.1 against ``policy node, pages`` on 6.18.
    """
    wide = grid.pivot_table(index=["transition", "user_nodes", "case", "phase", "node"], columns="kernel",
                            values="state", aggfunc="first")
    changed = wide[wide[a] != wide[b]].reset_index()
    return changed.groupby(["case", a, b]).size().rename("cells").reset_index()


def _pages(placement) -> str:
    return "".join(str(x) if 0 <= x < 10 else f"[{x}]" for x in placement.tolist())


def steps_table(result) -> pd.DataFrame:
    """One row per step of a :class:`~numalab.alloc.Scenario` (for display: node sets as kernel
    list strings, pages as one digit per page).

    Examples
    --------
    >>> from numalab import sources
    >>> from numalab.alloc import run_scenario
    >>> r = run_scenario(sources.load("cxl4"), "6.1", mems="0-3", then_mems=["0-1"], mode="bind",
    ...                  nodes="3", pages=4)
    >>> steps_table(r)[["cpuset.mems", "policy nodes", "new pages", "old pages now"]].values.tolist()
    [['0-3', '3', '3333', ''], ['0-1', '1', '1111', '1111']]
    """
    rows = []
    for i, s in enumerate(result.steps):
        flags = mp.flag_names(s.reported_flags)
        rows.append({"step": i, "cpuset.mems": None if s.mems is None else format_nodes(s.mems),
                     "mems_allowed": format_nodes(s.mems_allowed),
                     "policy nodes": format_nodes(s.nodes),
                     "get_mempolicy": f"{mp.MODE_NAMES.get(s.reported_mode, f'MODE_{s.reported_mode}')}"
                                      f"{'|' + '|'.join(flags) if flags else ''}"
                                      f" {format_nodes(s.reported_nodes) or '(empty)'}",
                     "eligible": " ".join(map(str, s.eligible.tolist())),
                     "new pages": _pages(s.placement),
                     "old pages now": " / ".join(_pages(o) for o in s.old_pages)})
    return pd.DataFrame(rows)


def grid_table(topo, kernels, transitions, user_nodes, *, cpu_node=None, pages=16, scope="task",
               modes=MODE_ORDER, flag_choices=FLAG_CHOICES) -> pd.DataFrame:
    """Long-form table of every (kernel, transition, user nodes, mode, flags, phase, node).

    Parameters
    ----------
    topo : Topology
    kernels : list of str
    transitions : list of (mems, then_mems) strings
    user_nodes : list of str
        Nodemasks given to set_mempolicy (``""`` for none: only DEFAULT/LOCAL/PREFERRED accept it).
    cpu_node, pages, scope
        As in :func:`numalab.alloc.run_scenario`.

    Notes
    -----
    All (user nodes, mode, flags) cases of one kernel and transition run as one batch
    (:func:`numalab.alloc.run_scenarios`) and the table is built column by column. If the batch
    raises, the cases are run one by one with :func:`~numalab.alloc.run_scenario` so that the
    error raised is the one the first failing case gives.
    """
    node_ids = np.asarray(topo.node_ids, np.int64)
    parts = []
    for kv in kernels:
        k = profile(kv)
        zl = zonelist.build(topo, k, "boot")
        for m0, m1 in transitions:
            combos = list(itertools.product(user_nodes, modes, flag_choices))
            if not combos:
                continue
            cases = [(mode, list(flags), (user if mode not in ("default", "local") else None) or None)
                     for user, mode, flags in combos]
            try:
                res = run_scenarios(topo, k, cases, mems=m0, then_mems=[m1], scope=scope, cpu_node=cpu_node,
                                    pages=pages, zonelists=zl)
            except Exception:
                for (mode, flags, nodes) in cases:           # raises the first case's error
                    run_scenario(topo, k, mems=m0, then_mems=[m1], mode=mode, flags=flags, nodes=nodes,
                                 scope=scope, cpu_node=cpu_node, pages=pages, zonelists=zl)
                raise
            parts.append(_grid_columns(res, k.label, f"{m0} -> {m1}", combos, node_ids))
    if not parts:
        return pd.DataFrame([])
    cols = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    return pd.DataFrame(cols)


def _obj(values):
    """A 1-D object array of Python values (strings stay str, for pandas' string inference)."""
    out = np.empty(len(values), object)
    out[:] = values
    return out


def _grid_columns(res, label, transition, combos, node_ids):
    """Columns of :func:`grid_table` for one batch: rows ordered (case, phase, node)."""
    steps = res["steps"][:2]
    nbits = res["nbits"]
    B, P, n = len(combos), len(steps), node_ids.size
    inside = node_ids < nbits
    fmt = {}

    def nodelist(words):                       # format_nodes, once per distinct nodemask
        out = []
        for row in words:
            key = row.tobytes()
            if key not in fmt:
                fmt[key] = format_nodes(packed.unpack(row, nbits))
            out.append(fmt[key])
        return out

    def members(words):                        # (B, n): node id is in the nodemask
        m = np.zeros((B, n), bool)
        m[:, inside] = packed.unpack(words, nbits)[:, node_ids[inside]]
        return m

    eff = np.stack([members(s["nodes"]) for s in steps], 1)                      # (B, P, n)
    rep = np.stack([members(s["reported_nodes"]) for s in steps], 1)
    counts = np.stack([(s["placement"][:, :, None] == node_ids).sum(1) for s in steps], 1)
    err = res["error"]
    refused = np.array([e is not None for e in err])
    state_names = np.array(["-", "policy node, no pages", "pages outside the policy", "policy node, pages"],
                           object)
    code = np.where(counts > 0, 2 + eff, eff.astype(np.int64))
    state = state_names[code]
    if refused.any():
        state[refused] = np.array(["refused: " + e if e else "" for e in err], object)[refused, None, None]
    per_case = lambda v: np.repeat(_obj(v), P * n)                          # noqa: E731
    per_phase = lambda v: np.repeat(_obj(v), n)                             # noqa: E731
    mode_u = [mode.upper() for _, mode, _ in combos]
    flag_s = [flags[0] if flags else "none" for _, _, flags in combos]
    phases = ("before", "after")[:P]
    nodes_s = np.array([nodelist(s["nodes"]) for s in steps], object).T          # (B, P)
    rep_s = np.array([nodelist(s["reported_nodes"]) for s in steps], object).T
    rmode = np.array([[mp.MODE_NAMES.get(int(x), f"MODE_{int(x)}") for x in s["reported_mode"]] for s in steps],
                     object).T
    mems = np.empty((B, P), object)
    for j, s in enumerate(steps):
        mems[:, j] = [None if s["mems"] is None else format_nodes(s["mems"])] * B
    N = B * P * n
    return {
        "kernel": np.repeat(_obj([label]), N),
        "transition": np.repeat(_obj([transition]), N),
        "user_nodes": per_case([user or "(none)" for user, _, _ in combos]),
        "mode": per_case(mode_u),
        "flags": per_case(flag_s),
        "case": per_case([m + ("|" + flags[0] if flags else "") for m, (_, _, flags) in zip(mode_u, combos)]),
        "phase": np.tile(per_phase(phases), B),
        "kernel_phase": np.tile(per_phase([f"{label} {ph}" for ph in phases]), B),
        "node": np.tile(node_ids, B * P),
        "effective": eff.reshape(-1),
        "reported": rep.reshape(-1),
        "pages": counts.reshape(-1).astype(np.int64),
        "state": state.reshape(-1),
        "error": per_case([e or "" for e in err]),
        "nodes": per_phase(nodes_s.reshape(-1)),
        "reported_nodes": per_phase(rep_s.reshape(-1)),
        "reported_mode": per_phase(rmode.reshape(-1)),
        "cpuset_mems": per_phase(mems.reshape(-1)),
    }


_STATES = ["policy node, pages", "pages outside the policy", "policy node, no pages", "-", "refused: EINVAL"]
_COLORS = ["#2b8cbe", "#f03b20", "#a6bddb", "#f7f7f7", "#bdbdbd"]


_PANEL_KEYS = ["transition", "user_nodes", "kernel_phase"]
_CASE_KEYS = ["case", "cpuset_mems", "nodes", "reported_mode", "reported_nodes", "error"]
_NODE_KEYS = ["node", "s", "pages"]


def _group_ids(df: pd.DataFrame, keys) -> np.ndarray:
    """Group number of every row by the values of ``keys``, numbered in order of first appearance
    (``groupby(keys, sort=False).ngroup()``, faster: one factorize per column)."""
    gid = np.zeros(len(df), np.int64)
    for k in keys:
        codes, uniq = pd.factorize(df[k], use_na_sentinel=False)
        gid = gid * len(uniq) + codes                 # mixed radix; 9 string columns fit easily
        gid = pd.factorize(gid)[0]                     # renumber: keeps the radix small
    return gid


def _chart_records(df: pd.DataFrame, states) -> list:
    """:func:`grid_table` rows nested for :func:`grid_chart` (the chart flattens them back).

    One record per (transition, user nodes, kernel and phase) holding, per case, the lists
    ``case``, ``cpuset_mems``, ``nodes``, ``reported_mode``, ``reported_nodes``, ``error`` and the
    per-node lists ``node``, ``s`` (index into ``states``) and ``pages``. Six to ten times smaller
    than one record per table row.
    """
    if df.empty:
        return []
    code = pd.Categorical(df["state"], categories=states).codes
    g1 = _group_ids(df, _PANEL_KEYS)
    g2 = _group_ids(df, _PANEL_KEYS + _CASE_KEYS)
    order = np.argsort(g2, kind="stable")
    cuts = np.flatnonzero(np.diff(g2[order])) + 1
    firsts = order[np.r_[0, cuts]]                      # first row of each case, by case number
    per_node = {"node": df["node"].to_numpy(), "s": code, "pages": df["pages"].to_numpy()}
    lists = {k: [x.tolist() for x in np.split(v[order], cuts)] for k, v in per_node.items()}
    cases = df[_CASE_KEYS].iloc[firsts].to_dict("list")
    panels = {}
    for c, (grp, head) in enumerate(zip(g1[firsts].tolist(), df[_PANEL_KEYS].iloc[firsts].to_dict("records"))):
        rec = panels.get(grp)
        if rec is None:
            rec = panels[grp] = dict(head, **{k: [] for k in _CASE_KEYS + _NODE_KEYS})
        for k in _CASE_KEYS:
            rec[k].append(cases[k][c])
        for k in _NODE_KEYS:
            rec[k].append(lists[k][c])
    return list(panels.values())


def grid_chart(df: pd.DataFrame, *, title="Effective nodes and pages, before and after the cpuset change"):
    """Heat map: rows = mode|flag, columns = node, one panel per kernel and phase.

    Colour: the node is in the policy's effective nodemask and got pages, got pages although
    outside it (fallback), is in it without pages, or neither; grey = the kernel refused the
    policy. The number is the page count; the tooltip adds what get_mempolicy reports. Selects
    bound to parameters pick the cpuset transition and the user nodemask (work in exported HTML).

    The data is inlined nested (one record per transition, policy nodes, kernel and phase, with
    per-case and per-node lists) and flattened back by the chart (Vega-Lite ``flatten``), as one
    JSON text: Altair's row limit for DataFrames does not apply to it (64 nodes and two kernels
    give 7168 table rows), the spec stays small and the chart converts fast.

    Examples
    --------
    >>> from numalab import sources
    >>> df = grid_table(sources.load("cxl4"), ["6.1"], [("0-3", "0-1")], ["3"], pages=8)
    >>> spec = grid_chart(df).to_dict()
    >>> import json
    >>> records = json.loads(spec["datasets"][spec["data"]["name"]])
    >>> [(r["kernel_phase"], len(r["case"]), len(r["node"][0])) for r in records]  # cases, nodes
    [('6.1 before', 28, 4), ('6.1 after', 28, 4)]
    """
    trans = sorted(df["transition"].unique())
    users = sorted(df["user_nodes"].unique())
    cases = df["case"].unique().tolist()
    cols = df["kernel_phase"].unique().tolist()
    states = list(_STATES) + sorted(set(df["state"].unique()) - set(_STATES))
    # The spec is written as plain Vega-Lite dicts inside the chart classes Altair needs: its
    # fluent methods deep-copy the chart at every step and cost tens of milliseconds here (the
    # live panel redraws this chart on every change). Altair validates it in to_dict/to_json.
    x = {"field": "node", "title": "node", "type": "ordinal"}
    y = {"field": "case", "sort": cases, "title": None, "type": "nominal"}
    tooltip = [{"field": f, "type": t} for f, t in (
        ("kernel_phase", "nominal"), ("case", "nominal"), ("node", "ordinal"), ("cpuset_mems", "nominal"),
        ("nodes", "nominal"), ("reported_mode", "nominal"), ("reported_nodes", "nominal"),
        ("pages", "quantitative"), ("error", "nominal"))]
    rect = alt.Chart(mark={"type": "rect", "stroke": "white"}, encoding=alt.FacetedEncoding(
        x=x, y=y, tooltip=tooltip,
        color={"field": "state", "type": "nominal", "title": "node is",
               "scale": {"domain": list(_STATES), "range": list(_COLORS)}}))
    text = alt.Chart(mark={"type": "text", "fontSize": 9}, encoding=alt.FacetedEncoding(
        x=x, y=y, text={"condition": {"test": "(datum.pages > 0)", "field": "pages", "type": "quantitative"},
                        "value": ""}))
    layer = alt.LayerChart(layer=[rect, text], width=110, height={"step": 14})
    params = [alt.VariableParameter(name="transition", value=trans[0],
                                    bind={"input": "select", "options": trans, "name": "cpuset.mems change "}),
              alt.VariableParameter(name="user_nodes", value=users[0],
                                    bind={"input": "select", "options": users, "name": "policy nodes "})]
    transform = [
        {"filter": "((datum.transition === transition) && (datum.user_nodes === user_nodes))"},
        {"flatten": _CASE_KEYS + _NODE_KEYS},                        # one row per case
        {"flatten": _NODE_KEYS},                                     # one row per case and node
        {"calculate": f"{json.dumps(states)}[datum.s]", "as": "state"},
    ]
    # The records go in as one JSON text (an inline dataset of format "json"): Altair then has a
    # single value to walk and validate instead of every field of every record.
    data = alt.InlineData(values=json.dumps(_chart_records(df, states), separators=(",", ":")),
                          format=alt.DataFormat(type="json"))
    return alt.FacetChart(data=data, facet={"column": {"field": "kernel_phase", "sort": cols, "title": None,
                                                       "type": "nominal"}},
                          spec=layer, transform=transform, params=params, title=title)
