"""`numalab policy`: one case, JSON names, errors, and the batch mode."""
import io
import json
import pathlib
import subprocess
import sys

import pytest

from numalab.cli import main
from numalab.cli.policy import run_batch

SNAP = pathlib.Path(__file__).resolve().parent / "data" / "kernel-truth" / "snapshots"
CXL4 = str(SNAP / "cxl4")


def run_cli(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_single_case_json(capsys):
    code, out, err = run_cli(["policy", CXL4, "--kernel", "6.1", "--mems", "0-3", "--then-mems", "0-1",
                              "--mode", "bind", "--flags", "static", "--nodes", "3", "--pages", "4", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["error"] is None
    s0, s1 = doc["steps"]
    for key in ("mems", "nodes", "reported_mode", "reported_nodes", "reported_flags", "eligible", "placement", "old_pages"):
        assert key in s0
    assert (s0["mems"], s0["nodes"], s0["placement"]) == ("0-3", "3", [3, 3, 3, 3])
    # STATIC {3} misses 0-1: the policy widens to 0-1, get_mempolicy still shows the user mask
    assert (s1["mems"], s1["nodes"], s1["reported_nodes"], s1["reported_flags"]) == ("0-1", "0-1", "3", ["STATIC_NODES"])
    assert s1["placement"] == [0, 0, 0, 0] and s1["eligible"] == [0, 1]
    assert s1["old_pages"] == [[1, 1, 1, 1]]            # node 3 -> ordinal 3 mod 2 -> node 1


def test_refused_policy_is_a_result(capsys):
    code, out, _ = run_cli(["policy", CXL4, "--kernel", "6.1", "--mode", "bind", "--json"], capsys)
    assert code == 0 and json.loads(out)["error"] == "EINVAL"
    code, out, _ = run_cli(["policy", CXL4, "--kernel", "6.1", "--mode", "bind", "--nodes", "1024", "--json"], capsys)
    assert code == 0 and json.loads(out)["error"] == "EINVAL"    # beyond MAX_NUMNODES: get_nodes


@pytest.mark.parametrize("argv", [
    ["policy", CXL4, "--mode", "sideways"],
    ["policy", CXL4, "--mode", "bind", "--nodes", "0-x"],
    ["policy", CXL4, "--mode", "bind", "--nodes", "0", "--flags", "sticky"],
    ["policy", CXL4, "--mode", "bind", "--nodes", "0", "--mems", "9"],
    ["policy", CXL4, "--mode", "bind", "--nodes", "0", "--then-mems", "1"],
    ["policy", CXL4, "--mode", "bind", "--nodes", "0", "--kernel", "3.2"],
    ["policy", "--mode", "bind"],
])
def test_cli_errors_are_one_line_exit_2(argv, capsys):
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("numalab: error:")


def test_text_output(capsys):
    code, out, _ = run_cli(["policy", CXL4, "--kernel", "6.1", "--mems", "0-2", "--then-mems", "1-3",
                            "--mode", "preferred", "--nodes", "2", "--pages", "3"], capsys)
    assert code == 0 and "step 1" in out and "get_mempolicy: PREFERRED" in out


def test_batch_keeps_order_and_survives_bad_lines():
    lines = [json.dumps({"topology": CXL4, "kernel": "6.1", "mems": "0-3", "then_mems": ["2"], "mode": "local", "pages": 2}),
             "{not json",
             json.dumps({"topology": CXL4, "mode": "bind", "colour": "red"}),
             "",
             json.dumps({"topology": CXL4, "kernel": "6.1", "mode": "interleave", "nodes": "1,3", "flags": ["relative"], "pages": 4}),
             json.dumps({"topology": "/nonexistent/dir", "mode": "bind", "nodes": "0"})]
    out = io.StringIO()
    assert run_batch(lines, out) == 1  # every line answered, some with an error object
    res = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(res) == 5
    assert res[0]["error"] is None and res[0]["steps"][1]["placement"] == [2, 2]
    assert res[1]["error"].startswith("line 2: not JSON")
    assert "colour" in res[2]["error"]
    assert res[3]["error"] is None and res[3]["steps"][0]["placement"] == [1, 3, 1, 3]
    assert res[4]["error"].startswith("line 6")


def test_batch_from_stdin_subprocess(tmp_path):
    q = json.dumps({"topology": CXL4, "kernel": "6.1", "mode": "preferred", "nodes": "3", "pages": 1})
    p = subprocess.run([sys.executable, "-m", "numalab", "policy", "--batch", "-", "--json"], input=q + "\n" + q + "\n",
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert [json.loads(x)["steps"][0]["placement"] for x in p.stdout.splitlines()] == [[3], [3]]


def _policy(capsys, *args):
    assert main(["policy", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_home_node_moves_the_start_of_bind(capsys):
    """cxl4 distances: node 0's order is 0 2 1 3, node 2's is 2 0 1 3 (kernel-semantics.md example C)."""
    args = ["cxl4", "--mode", "bind", "--nodes", "0-3", "--scope", "vma", "--pages", "2", "--home-node", "2"]
    d = _policy(capsys, *args, "--kernel", "5.17")
    assert d["home_node"] == {"node": 2, "error": None} and d["steps"][0]["placement"] == [2, 2]
    d = _policy(capsys, *args, "--kernel", "5.16")
    assert d["home_node"]["error"] == "ENOSYS" and d["steps"][0]["placement"] == [0, 0]
    d = _policy(capsys, *args[:2], "interleave", *args[3:], "--kernel", "6.1")
    assert d["home_node"]["error"] == "EOPNOTSUPP"
    assert main(["policy", *args, "--kernel", "6.1"]) == 0
    assert "home node 2: pages start at node 2's zonelist" in capsys.readouterr().out


def test_shm_inode_number_shifts_the_interleave_start(capsys):
    base = ["cxl4", "--mode", "interleave", "--nodes", "0-3", "--scope", "shm", "--pages", "4"]
    d = _policy(capsys, *base)
    assert {k: d["shm"][k] for k in ("inode", "inode_default", "order")} == {"inode": 0, "inode_default": True,
                                                                            "order": 0}
    assert "not predictable from outside" in d["shm"]["note"] and "0 is assumed" in d["shm"]["note"]
    assert d["steps"][0]["placement"] == [0, 1, 2, 3]
    d = _policy(capsys, *base, "--inode", "6")                 # 6 mod 4 = 2: starts at node 2
    assert d["steps"][0]["placement"] == [2, 3, 0, 1] and not d["shm"]["inode_default"]
    assert main(["policy", *base]) == 0
    out = capsys.readouterr().out
    assert "inode number 0 (default" in out and "not predictable from outside" in out
    assert main(["policy", "cxl4", "--mode", "interleave", "--nodes", "0-3", "--inode", "3"]) == 2
    assert "(scope shm) only" in capsys.readouterr().err


def test_weights_and_bandwidth(capsys):
    base = ["cxl4", "--mode", "weighted_interleave", "--nodes", "0-1", "--pages", "8", "--bandwidth", "0=300,1=100"]
    d = _policy(capsys, *base, "--kernel", "6.16")
    # auto: 0 and 1 from bandwidth (24:8), nodes 2-3 have memory but no data (1): gcd 1
    assert d["weights"] == {"source": "auto", "values": {"0": 24, "1": 8, "2": 1, "3": 1}}
    assert d["steps"][0]["placement"] == [0] * 8
    d = _policy(capsys, *base, "--kernel", "6.15")
    assert d["weights"]["source"] == "default" and d["steps"][0]["placement"] == [0, 1] * 4
    d = _policy(capsys, *base, "--kernel", "6.15", "--weights", "0=3,1=1")
    assert d["steps"][0]["placement"] == [0, 0, 0, 1, 0, 0, 0, 1]
    assert main(["policy", *base, "--kernel", "6.16", "--weights", "0=0"]) == 2
    assert "EINVAL" in capsys.readouterr().err
    assert main(["policy", *base, "--weights", "zero"]) == 2
    assert "node=value" in capsys.readouterr().err


def test_numa_balancing_through_mbind_in_the_policy_command(capsys):
    base = ["cxl4", "--mode", "interleave", "--nodes", "0-1", "--flags", "numa_balancing", "--pages", "2"]
    assert _policy(capsys, *base, "--scope", "vma", "--kernel", "5.14")["error"] is None
    assert _policy(capsys, *base, "--scope", "task", "--kernel", "5.14")["error"] == "EINVAL"
    assert _policy(capsys, *base, "--scope", "vma", "--kernel", "5.15")["error"] == "EINVAL"
