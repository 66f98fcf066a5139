"""`numalab topology`, `numalab snapshot`, `numalab qemu-args`."""
import json
import shlex

import pytest

from numalab import sources
from numalab.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_topology_text(capsys):
    rc, out, err = run(capsys, "topology", "memoryless-cpu")
    assert rc == 0
    assert "has_memory         0,2" in out
    assert "memory in MiB" in out and "distances:" in out
    lines = out.splitlines()
    row = next(l for l in lines if l.strip().startswith("0 ") and "/" in l)
    assert "15.0/15.6" in row  # DMA: 3840 of 3998 pages


def test_topology_json_loads_back(capsys, tmp_path):
    rc, out, _ = run(capsys, "topology", "cxl4", "--json")
    doc = json.loads(out)
    assert doc["max_numnodes"] == 1024 and doc["max_nr_zones"] == 5
    assert doc["states"]["has_cpu"] == "0-1"
    assert doc["nodes"][0]["zones"]["DMA"] == {"present": 3998, "managed": 3840}
    p = tmp_path / "t.json"
    p.write_text(out)
    assert sources.load(p) == sources.load("cxl4")


def test_topology_list(capsys):
    rc, out, _ = run(capsys, "topology", "--list")
    assert rc == 0 and "cxl4" in out and "ibm-power9-v100-gpu-numa-nodes" in out
    rc, out, _ = run(capsys, "topology", "--list", "--json")
    items = json.loads(out)
    assert {"name", "description"} <= set(items[0]) and all(i["description"] for i in items)


@pytest.mark.parametrize("argv", [["topology", "no-such"], ["topology"], ["qemu-args", "two-node", "--mem-per-node", "lots"]])
def test_bad_input_one_line_exit_2(capsys, argv):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("numalab: error:")


def test_snapshot_command_round_trip(capsys, tmp_path):
    rc, out, _ = run(capsys, "snapshot", str(tmp_path / "me.tar.gz"))
    assert rc == 0 and "wrote" in out
    assert sources.load(tmp_path / "me.tar.gz") == sources.load("host")


def test_qemu_args_line_and_json(capsys):
    rc, out, err = run(capsys, "qemu-args", "cxl4", "--mem-per-node", "256M")
    argv = shlex.split(out)
    assert argv[:4] == ["-smp", "4", "-m", "1024M"]
    assert "node,nodeid=2,memdev=mem2" in argv and "dist,src=2,dst=3,val=26" in argv
    rc, out, err = run(capsys, "qemu-args", "memoryless-cpu", "--mem-per-node", "256M", "--json")
    argv = json.loads(out)
    assert "node,nodeid=1,cpus=1" in argv  # a memory-less node: no memdev
    assert argv[:4] == ["-smp", "3", "-m", "512M"]


def test_topology_list_without_presets_is_a_message(capsys, tmp_path, monkeypatch):
    """An installation without bundled presets says so (no traceback from an empty list)."""
    monkeypatch.setattr(sources, "DATA_DIR", tmp_path)
    rc, out, err = run(capsys, "topology", "--list")
    assert rc == 0 and not err
    assert out.startswith("no bundled presets found") and str(tmp_path) in out
    rc, out, _ = run(capsys, "topology", "--list", "--json")
    assert rc == 0 and json.loads(out) == []
