"""``numalab zonelists``: the command against the real-kernel recordings and its text form."""
import json

import pytest

from conftest import DATA
from numalab.cli import main

TRUTH = DATA / "kernel-truth" / "snapshots"
SNAPSHOTS = sorted(p.name for p in TRUTH.iterdir())


def run_json(capsys, *argv):
    assert main(["zonelists", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_json_matches_recordings(capsys, name):
    exp = json.loads((TRUTH / name / "expected.json").read_text())
    doc = run_json(capsys, str(TRUTH / name), "--kernel", "6.1", "--when", "boot")
    assert doc["kernel"] == "6.1" and doc["when"] == "boot"
    assert doc["fallback_order"] == exp["fallback_order_boot"]
    for nid, zones in exp["zones"].items():
        assert sorted(z for _, z in doc["zonelists"][nid]["nofallback"]) == sorted(zones)
        assert [n for n, _ in doc["zonelists"][nid]["fallback"]][: len(zones)] == [int(nid)] * len(zones)
    rebuilt = run_json(capsys, str(TRUTH / name), "--kernel", "6.1", "--when", "rebuild")
    if exp["hotplug_dimms"]:
        assert rebuilt["fallback_order"] == exp["fallback_order_final"]


def test_text_form_prints_boot_lines_then_zonelists(capsys):
    assert main(["zonelists", str(TRUTH / "penalty-tie-hotplug"), "--kernel", "6.1", "--when", "rebuild"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "Fallback order for Node 0: 0 2 3 1 " in out
    assert "Fallback order for Node 3: 3 2 0 1 " in out
    assert any(line.startswith("Built 4 zonelists") for line in out)
    assert "Policy zone: Normal" in out
    assert out.index("Policy zone: Normal") < [i for i, s in enumerate(out) if "FALLBACK" in s][0]
    assert "Node 2 NOFALLBACK N2.Normal N2.DMA32" in out


def test_memoryless_and_versions(capsys):
    doc = run_json(capsys, str(TRUTH / "memoryless-cpu"), "--kernel", "6.12")
    assert doc["fallback_order"]["1"] == [2, 0]
    assert doc["zonelists"]["1"]["nofallback"] == []
    assert doc["policy_zone"] == "DMA32"


def test_explain_and_old_kernel_log(capsys):
    doc = run_json(capsys, str(TRUTH / "four-ring"), "--kernel", "5.15", "--explain")
    assert doc["explain"]["1"][0]["reason"].startswith("local node first")
    assert all(line.startswith("# Fallback") for line in doc["boot_log"][:4])  # v5.15 logs none


def test_errors_exit_2_with_one_line(capsys):
    assert main(["zonelists", str(TRUTH / "two-node"), "--kernel", "3.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "supported" in err
    assert main(["zonelists", str(TRUTH / "two-node"), "--kernel", "6.1", "--zonelist-order", "zone"]) == 2
    assert "EINVAL" in capsys.readouterr().err
    assert main(["zonelists", "/nonexistent/snapshot"]) == 2
    assert capsys.readouterr().err.startswith("numalab: error:")
