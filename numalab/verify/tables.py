"""Tables and a chart of stored ``numalab verify`` runs, for notebooks/06-verify.ipynb.

A stored run is a directory written by ``numalab verify ... --keep DIR`` (tests/data/verify/
holds the recorded ones). :func:`load_runs` reads their ``result.json`` (what the run found when
it was recorded); :func:`numalab.verify.replay` redoes the comparison with today's model.

Examples
--------
>>> rows = [{"experiment": "policy", "item": "set BIND|STATIC_NODES nodes=inside_all cpuset=root",
...          "verdict": "agree"},
...         {"experiment": "policy", "item": "rebind shrink 0-3 -> 0-1: INTERLEAVE nodes=0-3",
...          "verdict": "nondeterministic"}]
>>> t = policy_table({"rows": rows})
>>> t[["experiment", "mode", "flags", "agree", "nondeterministic"]].values.tolist()
[['rebind', 'INTERLEAVE', '-', 0, 1], ['set', 'BIND', 'STATIC_NODES', 1, 0]]
"""
from __future__ import annotations

import json
import pathlib
import re

import pandas as pd

from .compare import major_minor

__all__ = ["load_runs", "machine_label", "overview", "orders_side_by_side", "policy_table", "policy_chart"]


def load_runs(root) -> dict:
    """``{directory name: result.json}`` for every run kept under ``root`` (sorted by name)."""
    out = {}
    for d in sorted(pathlib.Path(root).iterdir()):
        f = d / "result.json"
        if d.is_dir() and f.is_file() and not f.is_symlink() and f.stat().st_size < (64 << 20):
            out[d.name] = json.loads(f.read_text())
    return out


def machine_label(r: dict) -> str:
    """The run's machine, with how its boot differed from a plain one (memory hot-add, NUMA
    emulation) when it did.

    >>> machine_label({"topology": "tie-20-21", "setup": "hot-add 4:256M"})
    'tie-20-21 (hot-add 4:256M)'
    """
    return r["topology"] + (f" ({r['setup']})" if r.get("setup") else "")


def overview(runs: dict) -> pd.DataFrame:
    """One line per run: machine, kernel line, counts of each verdict per experiment."""
    recs = []
    for name, r in runs.items():
        s = r["summary"]
        k = r.get("kernel", {})
        row = {"machine": machine_label(r), "kernel": major_minor(r["kernel_release"]),
               "release": r.get("debian_version") or r["kernel_release"],
               "renumbered": bool(r.get("renumbered"))}
        for e in ("machine", "boot", "policy"):
            c = s.get(e, {"agree": 0, "nondeterministic": 0, "differ": 0})
            row[f"{e} agree"] = c["agree"]
            if e == "policy":
                row["policy nondet."] = c["nondeterministic"]
            row[f"{e} differ"] = c["differ"]
        row["guest s"] = k.get("seconds")
        recs.append(row)
    return pd.DataFrame(recs)


_ORDER = re.compile(r"^fallback order node (\d+)(?: \((.+)\))?$")


def orders_side_by_side(results: dict, machine: str) -> pd.DataFrame:
    """The kernel's fallback order of every node next to numalab's, for each kernel line that
    has a run of ``machine`` and each zonelist build (``boot``; ``after hot-add`` when memory
    hot-add rebuilt the lists).

    >>> r = {"topology": "m", "kernel_release": "6.1.0", "rows": [
    ...     {"experiment": "boot", "item": "fallback order node 1 (after hot-add)", "kernel": [1, 0],
    ...      "numalab": [1, 0], "verdict": "agree"},
    ...     {"experiment": "boot", "item": "fallback order node 1", "kernel": [1, 0], "numalab": [1, 0],
    ...      "verdict": "agree"}]}
    >>> orders_side_by_side({"m-6.1": r}, "m")[["build", "node", "kernel order"]].values.tolist()
    [['boot', 1, '1 0'], ['after hot-add', 1, '1 0']]
    """
    recs = []
    fmt = lambda v: " ".join(map(str, v)) if v is not None else "-"  # noqa: E731
    for name, r in results.items():
        if machine_label(r) != machine:
            continue
        line = major_minor(r["kernel_release"])
        for row in r["rows"]:
            m = _ORDER.match(row["item"]) if row["experiment"] == "boot" else None
            if m:
                recs.append({"kernel": line, "build": m.group(2) or "boot", "node": int(m.group(1)),
                             "kernel order": fmt(row["kernel"]), "numalab order": fmt(row["numalab"]),
                             "verdict": row["verdict"]})
    df = pd.DataFrame(recs)
    df["_b"] = df["build"] != "boot"
    df = df.sort_values(["kernel", "_b", "build", "node"], key=lambda s: s.map(_version_key) if s.name == "kernel" else s)
    return df.drop(columns="_b").reset_index(drop=True)


def _version_key(v):
    return tuple(int(x) for x in str(v).split("."))


_ITEM = re.compile(r"^(?:(?P<api>set|mbind_shm|mbind) |rebind (?P<tr>\S+)(?P<vma> \(mbind\))? .*?: )"
                   r"(?P<mode>[A-Z_]+)(?P<flags>(\|[A-Z_]+)*)")


def policy_table(res: dict) -> pd.DataFrame:
    """Policy rows of one run counted per (experiment, mode, flags): agree / nondeterministic /
    differ. Experiments: ``set`` (set_mempolicy), ``mbind`` (private mapping), ``mbind_shm``
    (shared memory), ``rebind`` (task policy through cpuset.mems changes), ``rebind mbind``
    (VMA policy through them)."""
    recs = []
    for row in res["rows"]:
        if row["experiment"] != "policy":
            continue
        m = _ITEM.match(row["item"])
        if not m:
            continue
        exp = m.group("api") or ("rebind mbind" if m.group("vma") else "rebind")
        recs.append({"experiment": exp, "mode": m.group("mode"),
                     "flags": m.group("flags").lstrip("|").replace("|", "+") or "-", "verdict": row["verdict"]})
    df = pd.DataFrame(recs, columns=["experiment", "mode", "flags", "verdict"])
    t = df.groupby(["experiment", "mode", "flags", "verdict"]).size().unstack("verdict", fill_value=0)
    for v in ("agree", "nondeterministic", "differ"):
        if v not in t.columns:
            t[v] = 0
    return t[["agree", "nondeterministic", "differ"]].reset_index()


def policy_chart(tables: dict):
    """Altair heatmap: mode x flags, one column per kernel line, colour = worst verdict of the
    cell, with a bound selector for the experiment (set_mempolicy, mbind, rebind)."""
    import altair as alt

    frames = []
    for line, t in tables.items():
        t = t.copy()
        t["kernel"] = line
        t["cases"] = t["agree"] + t["nondeterministic"] + t["differ"]
        t["result"] = ["differ" if d else ("nondeterministic" if n else "agree")
                       for d, n in zip(t["differ"], t["nondeterministic"])]
        frames.append(t)
    data = pd.concat(frames, ignore_index=True)
    exp = alt.param(name="experiment", value="set",
                    bind=alt.binding_select(options=["set", "mbind", "mbind_shm", "rebind", "rebind mbind"],
                                            name="experiment "))
    return (alt.Chart(data).mark_rect(stroke="white").encode(
        x=alt.X("flags:N", title="flags"), y=alt.Y("mode:N", title="mode"),
        color=alt.Color("result:N", scale=alt.Scale(domain=["agree", "nondeterministic", "differ"],
                                                     range=["#4c9a5a", "#e0b040", "#c03030"])),
        column=alt.Column("kernel:N", title="kernel"),
        tooltip=["kernel", "mode", "flags", "agree", "nondeterministic", "differ"])
        .add_params(exp).transform_filter(alt.datum.experiment == exp)
        .properties(width=220, height=160))
