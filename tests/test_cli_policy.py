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
