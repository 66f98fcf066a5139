"""Zonelists as text and tables, without charts: why each node's fallback order is what it is
(:func:`explain`) and the boot messages of a build (:func:`boot_log_lines`).

Formatting only: every value comes from a :class:`numalab.zonelist.Zonelists`. No Altair here, so
the CLI can use it cheaply.

Examples
--------
The examples use the preset ``sockets-2x2`` (two sockets of two nodes: distances 10/11/21, CPUs
on every node):

>>> from numalab.sources import load
>>> from numalab.zonelist import build
>>> t = load("sockets-2x2")
>>> boot_log_lines(build(t, "6.1"))[0]
'Fallback order for Node 0: 0 1 2 3 '
"""
from __future__ import annotations

import numpy as np

from ..zonelist import PENALTY_FOR_NODE_WITH_CPUS, Zonelists

__all__ = ["explain", "explain_rows", "EXPLAIN_COLUMNS", "boot_log_lines", "scenario_document"]


def explain(zl: Zonelists, node: int):
    """Why a node's fallback order is what it is: one row per position.

    Parameters
    ----------
    zl : Zonelists
    node : int
        Node *id* whose order is explained.

    Returns
    -------
    pandas.DataFrame
        Columns: ``position``, ``node``, ``distance`` (raw SLIT), ``lower_id_penalty``
        (``[n < local]``), ``cpu_penalty``, ``penalised`` (their sum), ``node_load`` (at pick
        time), ``value`` (``penalised * scale + node_load``, what find_next_best_node compares),
        ``runner_up`` (best node left behind at that pick), ``runner_up_value``, ``reason``
        (why the pick beat the runner-up) and ``load_bump`` (what the pick did to node_load).

    Examples
    --------
    >>> from numalab.sources import load
    >>> from numalab.zonelist import build
    >>> df = explain(build(load("sockets-2x2"), "5.15"), 3)
    >>> df["node"].tolist()
    [3, 2, 0, 1]
    >>> print(df.loc[2, "reason"])
    same penalised distance 22; lower node_load 2 < 3
    """
    import pandas as pd

    rows = explain_rows(zl, node)
    if rows is None:
        df = pd.DataFrame(columns=list(EXPLAIN_COLUMNS))
        df.attrs["note"] = (f"node {node} is not built by kernel {zl.kernel.label} "
                            "(only online nodes before v5.18)")
        return df
    df = pd.DataFrame(rows, columns=list(EXPLAIN_COLUMNS))
    for c in ("value", "runner_up", "runner_up_value"):
        df[c] = df[c].astype("Int64")
    df.attrs.update(node=int(node), kernel=zl.kernel.label, when=zl.when, scale=zl.scale)
    return df


#: Columns of :func:`explain` (keys of each row of :func:`explain_rows`).
EXPLAIN_COLUMNS = ("position", "node", "distance", "lower_id_penalty", "cpu_penalty", "penalised",
                   "node_load", "value", "runner_up", "runner_up_value", "reason", "load_bump")


def explain_rows(zl: Zonelists, node: int):
    """The rows of :func:`explain` as plain dicts (``None`` for a node the kernel does not build).

    Time and memory are proportional to the node's order (the runner-up of each pick is the next
    non-local entry, found by one backward pass), so explaining every node of a 1024-node machine
    costs what printing it costs.

    >>> from numalab.sources import load
    >>> from numalab.zonelist import build
    >>> rows = explain_rows(build(load("sockets-2x2"), "5.15"), 3)
    >>> [r["node"] for r in rows], rows[1]["runner_up"]
    ([3, 2, 0, 1], 0)
    """
    t = zl.topology
    i = t.index_of(node)
    if not zl.built[i]:
        return None
    seq = zl.order[i, : zl.order_len[i]]
    ids = t.node_ids
    load = zl.node_load[i]
    pen = zl.penalised[i]
    dist = t.distance[i]
    value = pen * zl.scale + load
    nr_online = int(t.online.sum())
    rows = []
    prev_d = int(dist[i])
    order = seq.tolist()
    # runner_up[p]: the first entry after position p that is not the local node (backward pass)
    runner = [None] * len(order)
    nxt_nonlocal = None
    for p in range(len(order) - 1, -1, -1):
        runner[p] = nxt_nonlocal
        if order[p] != i:
            nxt_nonlocal = order[p]
    for p, j in enumerate(order):
        is_local = j == i
        lower = int(ids[j] < ids[i]) if not is_local else 0
        cpu = PENALTY_FOR_NODE_WITH_CPUS * int(zl.cpu_penalised[j]) if not is_local else 0
        r = runner[p]
        if is_local:
            reason = "local node first" + ("" if t.has_memory[i] else
                                           " (memoryless: contributes no zones; skipped from v6.7)")
            v = None
        else:
            v = int(value[j])
            if r is None:
                reason = "only candidate left"
            else:
                rp, lp, rl, ll = int(pen[r]), int(pen[j]), int(load[r]), int(load[j])
                if lp < rp:
                    reason = f"nearer: penalised distance {lp} < {rp}"
                    parts = []
                    if int(dist[j]) == int(dist[r]):
                        parts.append(f"same raw distance {int(dist[j])}")
                    if int(ids[r] < ids[i]) and not int(ids[j] < ids[i]):
                        parts.append(f"node {int(ids[r])} is below node {int(ids[i])} (+1)")
                    if zl.cpu_penalised[r] and not zl.cpu_penalised[j]:
                        parts.append(f"node {int(ids[r])} has CPUs (+{PENALTY_FOR_NODE_WITH_CPUS})")
                    if parts:
                        reason += " (" + "; ".join(parts) + ")"
                elif ll < rl:
                    reason = f"same penalised distance {lp}; lower node_load {ll} < {rl}"
                else:
                    reason = f"same value {v}; lower node id {int(ids[j])} < {int(ids[r])}"
        d = int(dist[j])
        if d != prev_d:
            bump = {"increment": "+= 1", "accumulate": f"+= {nr_online - p}",
                    "assign": f"= {nr_online - p}"}[zl.kernel.node_load]
            bump = f"node_load[{int(ids[j])}] {bump} (first node at distance {d})"
        else:
            bump = ""
        prev_d = d
        rows.append({
            "position": p, "node": int(ids[j]), "distance": d, "lower_id_penalty": lower,
            "cpu_penalty": cpu, "penalised": d + lower + cpu, "node_load": int(load[j]),
            "value": v, "runner_up": None if r is None or is_local else int(ids[r]),
            "runner_up_value": None if r is None or is_local else int(value[r]),
            "reason": reason, "load_bump": bump,
        })
    return rows


# ------------------------------------------------------------------------------- boot log


def boot_log_lines(zl: Zonelists) -> list:
    """The boot messages of this build: ``Fallback order for Node N:``, ``Built ...``, ``Policy zone:``.

    ``Fallback order`` lines exist from v5.16 (kernels before print none; they are still listed
    here, prefixed by ``#``). The kernel ends the ``Built`` line with ``Total pages: N``, computed
    from boot-time estimates of managed pages minus high watermarks that no snapshot holds; numalab
    cannot reproduce that number, so it leaves it out and says so in a ``#`` line rather than print
    a different one.
    """
    t = zl.topology
    lines = []
    prefix = "" if zl.kernel.print_fallback_order else "# "
    for i in np.flatnonzero(zl.built):
        nodes = " ".join(str(int(t.node_ids[j])) for j in zl.order[i, : zl.order_len[i]])
        lines.append(f"{prefix}Fallback order for Node {int(t.node_ids[i])}: {nodes} ")
    lines.append(f"Built {int(t.online.sum())} zonelists, mobility grouping on.")
    lines.append("# (the kernel also prints 'Total pages', from boot-time watermarks numalab does not model)")
    lines.append(f"Policy zone: {zl.policy_zone_name}")
    return lines


def scenario_document(sc) -> dict:
    """The JSON document of a :class:`numalab.alloc.Scenario`: node sets as kernel list strings,
    modes and flags by name. It is what ``numalab policy --json`` prints (key order included) and
    what ``numalab verify`` compares with a real kernel.

    >>> from numalab import sources
    >>> from numalab.alloc import run_scenario
    >>> d = scenario_document(run_scenario(sources.load("cxl4"), "6.1", mems="0-3", then_mems=["0-1"],
    ...                                    mode="bind", flags=["static"], nodes="3", pages=2))
    >>> [(s["mems"], s["nodes"], s["reported_nodes"], s["placement"]) for s in d["steps"]]
    [('0-3', '3', '3', [3, 3]), ('0-1', '0-1', '3', [0, 0])]
    """
    from .. import mempolicy as mp
    from ..nodemask import format_list

    def mode(v):
        return mp.MODE_NAMES.get(int(v), f"MODE_{int(v)}")

    steps = []
    for s in sc.steps:
        st = {"mems": None if s.mems is None else format_list(s.mems), "effective": format_list(s.effective),
              "mems_allowed": format_list(s.mems_allowed), "nodes": format_list(s.nodes),
              "reported_mode": mode(s.reported_mode), "reported_flags": mp.flag_names(s.reported_flags),
              "reported_nodes": format_list(s.reported_nodes), "eligible": s.eligible.tolist(),
              "placement": s.placement.tolist(), "old_pages": [o.tolist() for o in s.old_pages]}
        if s.transient_nodes is not None:
            st["transient_nodes"] = format_list(s.transient_nodes)
        steps.append(st)
    return {"error": sc.error, "kernel": sc.kernel, "topology": sc.topology, "scope": sc.scope,
            "cpu_node": sc.cpu_node, "mode": mode(sc.mode), "flags": mp.flag_names(sc.flags),
            "home_node": sc.home_node, "shm": sc.shm, "weights": sc.weights, "steps": steps}
