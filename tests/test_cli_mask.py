"""`numalab mask`: conversions, JSON, and one-line errors with exit status 2."""
import json
import pathlib
import subprocess
import sys

import pytest

from numalab.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_default_and_hex(capsys):
    assert run(capsys, "mask", "8,0-3") == (0, "0-3,8\n", "")
    code, out, _ = run(capsys, "mask", "0-3,8", "--nbits", "64", "--to", "hex")
    assert (code, out) == (0, "00000000,0000010f\n")
    # default width: MAX_NUMNODES = 1024 -> 32 chunks, as /proc/PID/status Mems_allowed
    code, out, _ = run(capsys, "mask", "0-1", "--to", "hex")
    assert out == "00000000," * 31 + "00000003\n"


def test_json_forms_agree(capsys):
    code, out, _ = run(capsys, "mask", "0-31:1/4,N", "--nbits", "64", "--to", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["list"] == "0,4,8,12,16,20,24,28,63"
    assert doc["hex"] == "80000000,11111111"
    assert doc["nodes"] == [0, 4, 8, 12, 16, 20, 24, 28, 63]
    assert (doc["weight"], doc["nbits"], doc["input"]) == (9, 64, "0-31:1/4,N")
    assert run(capsys, "mask", "0-31:1/4,N", "--nbits", "64", "--json")[1] == out


def test_hex_input(capsys):
    assert run(capsys, "mask", "33333333,11111111", "--from", "hex", "--nbits", "64")[1] == \
        "0,4,8,12,16,20,24,28,32-33,36-37,40-41,44-45,48-49,52-53,56-57,60-61\n"


def test_empty_list_prints_empty_line(capsys):
    assert run(capsys, "mask", "", "--nbits", "8") == (0, "\n", "")


@pytest.mark.parametrize("argv,needles", [
    (["0-8", "--nbits", "8"], ["'0-8'", "ERANGE", "position 2"]),
    (["0-31:0/0", "--nbits", "32"], ["'0-31:0/0'", "EINVAL", "position 7"]),
    (["0-98765432123456789:10/1", "--nbits", "8"], ["EOVERFLOW", "position 2"]),
    (["N", "--kernel", "5.12"], ["'N'", "EINVAL", "position 0"]),
    (["3,0", "--from", "hex", "--nbits", "33"], ["'3,0'", "EOVERFLOW"]),
    (["1", "--kernel", "2.6"], ["'2.6'"]),
    (["1", "--to", "yaml"], ["--to"]),
])
def test_errors_are_one_line_exit_2(capsys, argv, needles):
    code, out, err = run(capsys, "mask", *argv)
    assert code == 2 and out == ""
    assert err.startswith("numalab: error: ") and err.count("\n") == 1
    for needle in needles:
        assert needle in err
    assert "Traceback" not in err


def test_installed_command():
    exe = ROOT / ".venv" / "bin" / "numalab"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "numalab"]
    ok = subprocess.run(cmd + ["mask", "0-3,8", "--nbits", "64", "--json"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and json.loads(ok.stdout)["hex"] == "00000000,0000010f"
    bad = subprocess.run(cmd + ["mask", "1-0"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == \
        "numalab: error: '1-0': range start 1 is after its end 0 [EINVAL at position 0]"
