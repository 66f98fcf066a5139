"""The real Debian 6.1 kernel's recordings as tests: set_mempolicy/mbind validation on two-node
and rebinding with page placement and migration on cxl4 (tests/data/kernel-truth)."""
import json
import pathlib

import pytest

from numalab import sources, zonelist
from numalab.alloc import run_scenario as _run_scenario
from numalab.cli.policy import document

DATA = pathlib.Path(__file__).resolve().parent / "data" / "kernel-truth"
FLAG = {"STATIC_NODES": "static", "RELATIVE_NODES": "relative", "NUMA_BALANCING": "numa_balancing"}
MODE = {"MODE_6": "weighted_interleave"}


def nodestr(ids):
    """Kernel list syntax, written independently of numalab ("0-1,3")."""
    ids, out, i = sorted(ids), [], 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        out.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(out)


def run_scenario(*args, **kwargs):
    """The scenario as ``numalab policy --json`` prints it (what the scorer of the recordings reads)."""
    return document(_run_scenario(*args, **kwargs))


def same_pages(mode, want, got):
    if "INTERLEAVE" in mode and want and len(got) == len(want):
        return any(got[k:] + got[:k] == want for k in range(len(want)))
    return got == want


def records(name):
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} missing")
    return json.loads(path.read_text())["records"]


@pytest.fixture(scope="module")
def two_node():
    t = sources.load(str(DATA / "snapshots" / "two-node"))
    return t, zonelist.build(t, "6.1", "boot")


@pytest.fixture(scope="module")
def cxl4():
    t = sources.load(str(DATA / "snapshots" / "cxl4"))
    return t, zonelist.build(t, "6.1", "boot")


def test_validation_table(two_node):
    topo, zl = two_node
    bad = []
    recs = records("mempolicy-validation-two-node.json")
    assert len(recs) == 1330
    for r in recs:
        res = run_scenario(topo, "6.1", mems=None if r["cgroup"] == "ROOT" else r["cpuset_mems"],
                           mode=MODE.get(r["mode"], r["mode"]), flags=[FLAG[f] for f in r["flags"]],
                           nodes=None if r["nodemask_in"] is None else nodestr(r["nodemask_in"]),
                           scope="task" if r["api"] == "set" else "vma", cpu_node=r["cpu_node"],
                           pages=len(r["placement"]), zonelists=zl)
        want = None if r["ret"] == "OK" else r["ret"]
        got = [res["error"]]
        exp = [want]
        if want is None:
            rep = r["get_task"] if r["api"] == "set" else r["get_vma"]
            s = res["steps"][0]
            got += [s["reported_mode"], s["reported_flags"], s["reported_nodes"], s["mems_allowed"]]
            exp += [rep["mode"], rep["flags"], nodestr(rep["nodemask"]), nodestr(r["mems_allowed"])]
            if not same_pages(r["mode"], r["placement"], s["placement"]):
                bad.append((r["api"], r["cgroup"], r["mode"], r["flags"], r["mask_case"], "pages"))
        if got != exp:
            bad.append((r["api"], r["cgroup"], r["mode"], r["flags"], r["mask_case"], got, exp))
    assert bad == []


def test_rebind_sequences(cxl4):
    topo, zl = cxl4
    bad = []
    recs = records("mempolicy-rebind-cxl4-task.json")
    assert len(recs) == 396
    for r in recs:
        res = run_scenario(topo, "6.1", mems=r["mems_sequence"][0], then_mems=r["mems_sequence"][1:],
                           mode=r["mode"], flags=[FLAG[f] for f in r["flags"]],
                           nodes=nodestr(r["nodemask_in"]) if r["nodemask_in"] else None, scope=r["scope"],
                           cpu_node=r["phases"][0]["cpu_node"], pages=r["pages_per_phase"], zonelists=zl)
        assert (res["error"] or "OK") == r["set_ret"]
        for p, s in zip(r["phases"], res["steps"], strict=True):
            pol = p["policy"]
            got = (s["effective"], s["mems_allowed"], s["reported_mode"], s["reported_flags"], s["reported_nodes"])
            exp = (p["mems_effective"], nodestr(p["mems_allowed"]), pol["mode"], pol["flags"], nodestr(pol["nodemask"]))
            ok = got == exp and same_pages(r["mode"], p["new_pages"], s["placement"])
            ok = ok and len(p["old_pages"]) == len(s["old_pages"]) and all(
                same_pages(r["mode"], o, g) for o, g in zip(p["old_pages"], s["old_pages"]))
            if not ok:
                bad.append((r["transition"], r["mode"], r["flags"], r["nodemask_in"], p["phase"], got, exp))
    assert bad == []


def test_6_12_differences(two_node):
    """Debian 6.12: mode 6 is WEIGHTED_INTERLEAVE (default weights place like INTERLEAVE) and
    PREFERRED_MANY|NUMA_BALANCING is accepted; 6.1 refuses both (README of the recordings)."""
    topo, _ = two_node
    zl = zonelist.build(topo, "6.12", "boot")
    a = run_scenario(topo, "6.12", mode="weighted_interleave", nodes="0-1", pages=8, zonelists=zl)
    b = run_scenario(topo, "6.12", mode="interleave", nodes="0-1", pages=8, zonelists=zl)
    assert a["error"] is None and a["steps"][0]["placement"] == b["steps"][0]["placement"] == [0, 1] * 4
    assert run_scenario(topo, "6.12", mode="preferred_many", flags=["numa_balancing"], nodes="1",
                        zonelists=zl)["error"] is None
    assert run_scenario(topo, "6.1", mode="preferred_many", flags=["numa_balancing"], nodes="1")["error"] == "EINVAL"
