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

import altair as alt
import pandas as pd

from .. import zonelist
from ..alloc import run_scenario
from ..kernel import profile

__all__ = ["MODE_ORDER", "FLAG_CHOICES", "grid_table", "grid_chart", "steps_table"]

MODE_ORDER = ("default", "local", "preferred", "bind", "interleave", "preferred_many", "weighted_interleave")
FLAG_CHOICES = ((), ("static",), ("relative",), ("numa_balancing",))


def _ids(text):
    out = []
    for part in (text or "").split(","):
        if part:
            a, _, b = part.partition("-")
            out += range(int(a), int(b or a) + 1)
    return set(out)


def steps_table(result: dict) -> pd.DataFrame:
    """One row per step of a :func:`~numalab.alloc.run_scenario` result (for display)."""
    rows = []
    for i, s in enumerate(result["steps"]):
        rows.append({"step": i, "cpuset.mems": s["mems"], "mems_allowed": s["mems_allowed"],
                     "policy nodes": s["nodes"],
                     "get_mempolicy": f"{s['reported_mode']}{'|' + '|'.join(s['reported_flags']) if s['reported_flags'] else ''}"
                                      f" {s['reported_nodes'] or '(empty)'}",
                     "eligible": " ".join(map(str, s["eligible"])),
                     "new pages": "".join(str(x) if 0 <= x < 10 else f"[{x}]" for x in s["placement"]),
                     "old pages now": " / ".join("".join(map(str, o)) for o in s["old_pages"])})
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
    """
    rows = []
    node_ids = [int(x) for x in topo.node_ids]
    for kv in kernels:
        k = profile(kv)
        zl = zonelist.build(topo, k, "boot")
        for (m0, m1), user, mode, flags in itertools.product(transitions, user_nodes, modes, flag_choices):
            nodes = user if mode not in ("default", "local") else None
            res = run_scenario(topo, k, mems=m0, then_mems=[m1], mode=mode, flags=list(flags), nodes=nodes or None,
                               scope=scope, cpu_node=cpu_node, pages=pages, zonelists=zl)
            case = mode.upper() + ("|" + flags[0] if flags else "")
            for phase, s in zip(("before", "after"), res["steps"]):
                eff, rep = _ids(s["nodes"]), _ids(s["reported_nodes"])
                counts = {n: s["placement"].count(n) for n in node_ids}
                for n in node_ids:
                    if res["error"]:
                        state = "refused: " + res["error"]
                    elif counts[n] and n in eff:
                        state = "policy node, pages"
                    elif counts[n]:
                        state = "pages outside the policy"
                    elif n in eff:
                        state = "policy node, no pages"
                    else:
                        state = "-"
                    rows.append({"kernel": k.label, "transition": f"{m0} -> {m1}", "user_nodes": user or "(none)",
                                 "mode": mode.upper(), "flags": flags[0] if flags else "none", "case": case,
                                 "phase": phase, "kernel_phase": f"{k.label} {phase}", "node": n,
                                 "effective": n in eff, "reported": n in rep, "pages": counts[n], "state": state,
                                 "error": res["error"] or "", "nodes": s["nodes"], "reported_nodes": s["reported_nodes"],
                                 "reported_mode": s["reported_mode"], "cpuset_mems": s["mems"]})
    return pd.DataFrame(rows)


_STATES = ["policy node, pages", "pages outside the policy", "policy node, no pages", "-", "refused: EINVAL"]
_COLORS = ["#2b8cbe", "#f03b20", "#a6bddb", "#f7f7f7", "#bdbdbd"]


def grid_chart(df: pd.DataFrame, *, title="Effective nodes and pages, before and after the cpuset change"):
    """Heat map: rows = mode|flag, columns = node, one panel per kernel and phase.

    Colour: the node is in the policy's effective nodemask and got pages, got pages although
    outside it (fallback), is in it without pages, or neither; grey = the kernel refused the
    policy. The number is the page count; the tooltip adds what get_mempolicy reports. Selects
    bound to parameters pick the cpuset transition and the user nodemask (work in exported HTML).
    """
    trans = sorted(df["transition"].unique())
    users = sorted(df["user_nodes"].unique())
    p_t = alt.param(name="transition", value=trans[0],
                    bind=alt.binding_select(options=trans, name="cpuset.mems change "))
    p_u = alt.param(name="user_nodes", value=users[0],
                    bind=alt.binding_select(options=users, name="policy nodes "))
    cases = list(dict.fromkeys(df["case"]))
    keep = ["transition", "user_nodes", "case", "kernel_phase", "node", "state", "pages", "nodes",
            "reported_mode", "reported_nodes", "cpuset_mems", "error"]
    base = alt.Chart(df[keep]).transform_filter(
        (alt.datum.transition == p_t) & (alt.datum.user_nodes == p_u)
    ).encode(x=alt.X("node:O", title="node"), y=alt.Y("case:N", sort=cases, title=None))
    rect = base.mark_rect(stroke="white").encode(
        color=alt.Color("state:N", scale=alt.Scale(domain=_STATES, range=_COLORS), title="node is"),
        tooltip=["kernel_phase", "case", "node", "cpuset_mems", "nodes", "reported_mode", "reported_nodes",
                 "pages", "error"])
    text = base.mark_text(fontSize=9).encode(
        text=alt.condition(alt.datum.pages > 0, alt.Text("pages:Q"), alt.value("")))
    layer = alt.layer(rect, text).properties(width=110, height=alt.Step(14))
    cols = list(dict.fromkeys(df["kernel_phase"]))
    return layer.facet(column=alt.Column("kernel_phase:N", sort=cols, title=None)).add_params(p_t, p_u).properties(
        title=title)
