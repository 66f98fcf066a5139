"""Charts of a topology: distance heatmap, memory per node and zone, node states, and a
machine explorer whose selector is an Altair bound parameter (it keeps working in exported HTML).

Examples
--------
>>> from numalab import sources
>>> t = sources.load("cxl4")
>>> node_table(t).loc[2, "cpus"], int(distance_frame(t)["distance"].max())
('-', 26)
>>> chart = explorer(["cxl4", "two-node"])
>>> sorted(chart.to_dict()["params"][0]["bind"]["options"])
['cxl4', 'two-node']
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..sources import format_cpulist, load
from ..topology import X86_64_ZONES, Topology

__all__ = ["node_table", "distance_frame", "memory_frame", "states_frame", "long_table",
           "distance_heatmap", "memory_chart", "states_chart", "overview", "explorer", "STATE_NAMES"]

#: Node states shown, in the kernel's order (enum node_states).
STATE_NAMES = ("possible", "online", "has_normal_memory", "has_memory", "has_cpu")


def node_table(t: Topology) -> pd.DataFrame:
    """One row per node: CPUs, managed/present MiB per zone, states."""
    mib = t.page_size / (1 << 20)
    rows = []
    for i, nid in enumerate(t.node_ids.tolist()):
        row = {"node": nid, "cpus": format_cpulist(t.cpus_of(i)) or "-"}
        for k, z in enumerate(t.zone_types):
            row[f"{z} MiB"] = round(float(t.managed_pages[i, k] * mib), 1)
        row["managed MiB"] = round(float(t.managed_pages[i].sum() * mib), 1)
        row["present MiB"] = round(float(t.present_pages[i].sum() * mib), 1)
        row["states"] = ", ".join(s for s in STATE_NAMES if getattr(t, s)[i])
        rows.append(row)
    return pd.DataFrame(rows).set_index("node")


def distance_frame(t: Topology, machine=None) -> pd.DataFrame:
    """Long form of the distance table: from, to, distance."""
    n = t.n_nodes
    ids = t.node_ids
    df = pd.DataFrame({"from": np.repeat(ids, n), "to": np.tile(ids, n), "distance": t.distance.reshape(-1)})
    if machine is not None:
        df.insert(0, "machine", machine)
    return df


def memory_frame(t: Topology, machine=None) -> pd.DataFrame:
    """Long form of memory: node, zone, managed and present MiB (only non-empty zones)."""
    mib = t.page_size / (1 << 20)
    i, k = np.nonzero(t.present_pages)
    df = pd.DataFrame({"node": t.node_ids[i], "zone": np.asarray(t.zone_types, dtype=object)[k],
                       "zone_type": k, "managed_mib": (t.managed_pages[i, k] * mib).round(1),
                       "present_mib": (t.present_pages[i, k] * mib).round(1)})
    if machine is not None:
        df.insert(0, "machine", machine)
    return df


def states_frame(t: Topology, machine=None) -> pd.DataFrame:
    """Long form of node states: node, state, set (bool)."""
    rows = [{"node": int(nid), "state": s, "set": bool(getattr(t, s)[i])}
            for s in STATE_NAMES for i, nid in enumerate(t.node_ids.tolist())]
    df = pd.DataFrame(rows)
    if machine is not None:
        df.insert(0, "machine", machine)
    return df


def long_table(specs) -> dict[str, pd.DataFrame]:
    """Distance, memory and state frames of several machines, with a ``machine`` column."""
    ts = {str(s): load(s) for s in specs}
    return {"distance": pd.concat([distance_frame(t, m) for m, t in ts.items()], ignore_index=True),
            "memory": pd.concat([memory_frame(t, m) for m, t in ts.items()], ignore_index=True),
            "states": pd.concat([states_frame(t, m) for m, t in ts.items()], ignore_index=True)}


def _heat(data, title):
    base = alt.Chart(data, title=title).encode(
        x=alt.X("to:O", title="to node"), y=alt.Y("from:O", title="from node"))
    rect = base.mark_rect().encode(color=alt.Color("distance:Q", scale=alt.Scale(scheme="blues"), title="distance"),
                                   tooltip=["from:O", "to:O", "distance:Q"])
    text = base.mark_text(fontSize=9).encode(text="distance:Q")
    return rect + text


def _memory(data, title):
    return alt.Chart(data, title=title).mark_bar().encode(
        x=alt.X("node:O", title="node"), y=alt.Y("managed_mib:Q", title="managed MiB"),
        color=alt.Color("zone:N", sort=list(X86_64_ZONES)), order=alt.Order("zone_type:Q"),
        tooltip=["node:O", "zone:N", "managed_mib:Q", "present_mib:Q"])


def _states(data, title):
    return alt.Chart(data, title=title).mark_rect(stroke="white").encode(
        x=alt.X("node:O", title="node"), y=alt.Y("state:N", sort=list(STATE_NAMES), title=None),
        color=alt.Color("set:N", scale=alt.Scale(domain=[True, False], range=["#2b6cb0", "#e2e8f0"]), title="set"),
        tooltip=["node:O", "state:N", "set:N"])


def distance_heatmap(t: Topology) -> alt.LayerChart:
    """The SLIT distance table as a heatmap with the values written in."""
    return _heat(distance_frame(t), f"{t.name}: distances")


def memory_chart(t: Topology) -> alt.Chart:
    """Managed memory per node, stacked by zone (tooltips give present memory too)."""
    return _memory(memory_frame(t), f"{t.name}: memory by zone")


def states_chart(t: Topology) -> alt.Chart:
    """Node states (N_POSSIBLE, N_ONLINE, N_NORMAL_MEMORY, N_MEMORY, N_CPU) per node."""
    return _states(states_frame(t), f"{t.name}: node states")


def explorer(specs, value=None) -> alt.VConcatChart:
    """Distances, memory and states of several machines with a machine selector.

    The selector is an Altair parameter bound to a drop-down (``binding_select``) over a
    long-form table of all the machines, applied with ``transform_filter``: it works in an
    exported HTML report with no kernel behind it.
    """
    frames = long_table(specs)
    names = list(dict.fromkeys(str(s) for s in specs))
    pick = alt.param(name="machine", value=value or names[0],
                     bind=alt.binding_select(options=names, name="machine "))
    keep = alt.datum.machine == pick
    heat = _heat(frames["distance"], "distances").transform_filter(keep)
    mem = _memory(frames["memory"], "memory by zone").transform_filter(keep)
    st = _states(frames["states"], "node states").transform_filter(keep)
    # every panel colours a different field: their colour scales must not be merged
    return (alt.vconcat(heat, alt.hconcat(mem, st).resolve_scale(color="independent"))
            .add_params(pick).resolve_scale(color="independent"))


def overview(t: Topology) -> alt.HConcatChart:
    """Distances, memory by zone and node states of one machine side by side.

    The three panels colour different fields (distance, zone, state), so their colour scales
    are kept independent.
    """
    right = alt.vconcat(memory_chart(t), states_chart(t)).resolve_scale(color="independent")
    return alt.hconcat(distance_heatmap(t), right).resolve_scale(color="independent")
