"""Issue 10, the classes outside the file-format loaders: hostile batch lines, CLI arguments,
output paths, stdout and Ctrl-C, each run through the real command line in a subprocess.

The promise checked everywhere (README, "The command line"): bad input gives one line on stderr
and exit status 2, never a traceback; a policy the kernel refuses is a result (its errno) with exit
status 0; ``policy --batch`` answers every line (an error object naming the line and the field for
a bad one) and exits with 1 when some line got an error object.
"""
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings, strategies as st

from numalab import _io
from numalab.cli import main
from numalab.cli import policy as cli_policy
from numalab.errors import NumalabError

ROOT = pathlib.Path(__file__).resolve().parent.parent
CXL4 = str(ROOT / "tests" / "data" / "kernel-truth" / "snapshots" / "cxl4")


def cli(*argv, input=None, env=None, timeout=120, **kw):
    """Run ``python -m numalab ARGV`` and return the CompletedProcess (bytes)."""
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "numalab", *argv], input=input, capture_output=True,
                          env=e, timeout=timeout, **kw)


def one_line_error(p, code=2):
    """The README's promise for bad input: nothing on stdout, one line on stderr, no traceback."""
    err = p.stderr.decode()
    assert p.returncode == code, (p.returncode, err)
    assert b"Traceback" not in p.stderr
    assert err.count("\n") == 1 and err.startswith("numalab: error:"), err
    return err


def batch(lines, *extra):
    """Run a batch from stdin; return (exit status, results, stderr)."""
    data = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    p = cli("policy", "--batch", "-", "--json", *extra, input=data)
    assert b"Traceback" not in p.stderr, p.stderr.decode()
    return p.returncode, [json.loads(x) for x in p.stdout.decode().splitlines()], p.stderr.decode()


def q(**kw):
    base = {"topology": CXL4, "kernel": "6.1", "mode": "preferred", "nodes": "3", "pages": 1}
    base.update(kw)
    return json.dumps(base)


# ----------------------------------------------------------------------------- 5: versions
def test_batch_kernel_as_json_number_is_refused_naming_field_and_line():
    code, res, err = batch([q(kernel="6.10"), '{"topology": "%s", "mode": "bind", "nodes": "0", "kernel": 6.10}' % CXL4,
                            '{"topology": "%s", "mode": "bind", "nodes": "0", "kernel": 5.10}' % CXL4])
    assert code == 1
    assert res[0]["error"] is None and res[0]["kernel"] == "6.10"      # the string is read exactly
    for n, r in ((2, res[1]), (3, res[2])):
        assert r["line"] == n and r["field"] == "kernel" and r["steps"] == []
        assert r["error"].startswith(f"line {n}: 'kernel'") and "6.10" in r["error"]  # says why
    assert "2 of 3 lines" in err


@pytest.mark.parametrize("version", ["６.１", "٦.١", "6.1" + "0" * 5000, "6." + "9" * 4400])
def test_non_ascii_digits_and_huge_versions_refused(version):
    with pytest.raises(NumalabError):
        from numalab.kernel import profile
        profile(version)
    err = one_line_error(cli("kernel", version))
    assert len(err) < 400  # a short excerpt of the input, not all of it


def test_kernel_profile_refuses_numbers():
    from numalab.kernel import profile
    for v in (6.10, 5, True, (6, True), (6, 1.5)):
        with pytest.raises(NumalabError):
            profile(v)
    assert profile((6, 10)).label == "6.10"


def test_empty_kernel_is_refused_by_policy_like_zonelists():
    one_line_error(cli("zonelists", CXL4, "--kernel", ""))
    err = one_line_error(cli("policy", CXL4, "--mode", "bind", "--nodes", "0", "--kernel", ""))
    assert "'kernel'" in err
    code, res, _ = batch([q(kernel="")])
    assert code == 1 and res[0]["field"] == "kernel"


# ----------------------------------------------------------------------------- 8: strict types
@pytest.mark.parametrize("field,value", [
    ("mode", True), ("mode", 1), ("nodes", 1.7), ("nodes", True), ("nodes", [1.7]), ("nodes", [True]),
    ("nodes", {"a": 1}), ("flags", [True]), ("flags", 3), ("pages", "3"), ("pages", 2.0), ("pages", True),
    ("cpu_node", 1.0), ("cpu_node", False), ("mems", ["0-1"]), ("mems", 0), ("then_mems", [1]),
    ("topology", 3), ("scope", "global"), ("pages", -1), ("nodes", [-1]),
])
def test_wrong_types_name_the_field(field, value):
    line = json.loads(q(mems="0-3"))
    line[field] = value
    code, res, _ = batch([json.dumps(line), q()])
    assert code == 1
    assert res[0]["steps"] == [] and res[0]["line"] == 1
    assert res[0]["field"].split("[")[0] == field, res[0]
    assert res[1]["error"] is None and res[1]["steps"][0]["placement"] == [3]  # the batch went on


def test_mode_true_is_not_preferred_and_node_1_7_is_not_node_1():
    code, res, _ = batch([q(mode=True), q(nodes=1.7), q(mode="preferred", nodes="1")])
    assert [r["error"] is None for r in res] == [False, False, True]
    assert res[2]["steps"][0]["placement"] == [1]


# ----------------------------------------------------------------------------- 9: the batch survives
def test_each_line_gets_its_own_result_in_order():
    lines = [q(), "{not json", "", "   ", q(colour="red"), b"\xff\xfe{}", q(nodes="0"), "[1, 2]", "null", q()]
    code, res, err = batch(lines)
    assert code == 1
    assert [r["line"] for r in res] == [1, 2, 5, 6, 7, 8, 9, 10]   # blank lines 3-4 give nothing
    ok = [r["error"] is None for r in res]
    assert ok == [True, False, False, False, True, False, False, True]
    assert res[2]["field"] == "colour" and "unknown key" in res[2]["error"]
    assert "UTF-8" in res[3]["error"]
    assert res[4]["steps"][0]["placement"] == [0]
    assert err.count("\n") == 1 and "5 of 8 lines" in err


def test_kernel_refusal_is_a_result_and_exit_0():
    # BIND with an empty (NULL) nodemask: set_mempolicy returns EINVAL (mpol_new)
    code, res, err = batch([q(mode="bind", nodes=None)])
    assert code == 0 and err == ""
    assert res[0]["error"] == "EINVAL" and res[0]["line"] == 1


def test_batch_file_errors(tmp_path):
    one_line_error(cli("policy", "--batch", str(tmp_path / "missing.jsonl")))
    one_line_error(cli("policy", "--batch", str(tmp_path)))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # a FIFO without a writer: not a hang (opened non-blocking, read to EOF)
    p = cli("policy", "--batch", str(fifo), "--json", timeout=30)
    assert p.returncode == 0 and p.stdout == b"" and b"Traceback" not in p.stderr


# ----------------------------------------------------------------------------- 10/11: numbers, nesting
@pytest.mark.parametrize("raw", [
    '{"topology": "%s", "mode": "bind", "pages": NaN}',
    '{"topology": "%s", "mode": "bind", "pages": Infinity}',
    '{"topology": "%s", "mode": "bind", "pages": -Infinity}',
    '{"topology": "%s", "mode": "bind", "pages": 1e400}',
    '{"topology": "%s", "mode": "bind", "cpu_node": 99999999999999999999999}',
    '{"topology": "%s", "mode": "bind", "pages": ' + "9" * 5000 + "}",
    '{"topology": "%s", "mode": "bind", "nodes": [' + "1" * 4400 + "]}",
    '{"topology": "%s", "mode": "bind", "nodes": ' + "[" * 100000 + "]" * 100000 + "}",
    '{"topology": "%s", "mode": "bind", "flags": ' + '{"a":' * 50 + "1" + "}" * 50 + "}",
])
def test_hostile_numbers_and_nesting_are_line_errors(raw):
    code, res, err = batch([raw.replace("%s", CXL4), q()])
    assert code == 1 and len(res) == 2
    assert res[0]["error"].startswith("line 1: ") and res[0]["steps"] == []
    assert len(res[0]["error"]) < 400
    assert res[1]["error"] is None
    assert "Warning" not in err


def test_overlong_line_is_skipped_in_bounded_memory():
    big = '{"topology": "' + "x" * (cli_policy.MAX_LINE_BYTES + 10) + '"}'
    code, res, _ = batch([big, q()])
    assert code == 1 and res[0]["line"] == 1 and "longer than" in res[0]["error"]
    assert res[1]["line"] == 2 and res[1]["error"] is None


def test_read_json_is_strict():
    r = _io.read_json
    assert r('{"a": [1, 2.5, "x", null, true]}', where="t") == {"a": [1, 2.5, "x", None, True]}
    assert r(b'\xef\xbb\xbf{"a": 1}'.decode("utf-8"), where="t") == {"a": 1}  # a BOM is fine
    for bad, words in [("NaN", "NaN"), ("[Infinity]", "Infinity"), ("-Infinity", "Infinity"),
                       ("1e999", "overflows"), (str(1 << 63), "outside"), (str(-(1 << 63) - 1), "outside"),
                       ("9" * 5000, "outside"), ("[" * 65 + "]" * 65, "nested 65"),
                       ('{"a": 1, "a": 2}', "twice"), ("{bad", "not JSON"), (b"\xff", "UTF-8"),
                       ("x" * 11, "limit")]:
        with pytest.raises(NumalabError, match=words):
            r(bad, where="t", max_bytes=10 if words == "limit" else _io.JSON_MAX_BYTES)
    assert r(str((1 << 63) - 1), where="t") == (1 << 63) - 1
    assert r("[" * 64 + "]" * 64, where="t") is not None
    assert r('"[[[[[[[["', where="t", max_depth=1) == "[[[[[[[["  # brackets in strings do not count


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=12)
query_fields = st.fixed_dictionaries({}, optional={
    "topology": st.sampled_from([CXL4, "cxl4", "nope", "", 3]) | json_values,
    "kernel": st.sampled_from(["6.1", "5.4", "6.10", "current", "", "９.１", 6.1]) | json_values,
    "mode": st.sampled_from(["bind", "preferred", "interleave", "local", "default", "MODE_9", True]) | json_values,
    "nodes": st.sampled_from(["0", "1-3", "0-1023", "5000", "", [0, 1], [1 << 40]]) | json_values,
    "mems": st.sampled_from(["0-3", "0-1", "2", "", "0-9"]) | json_values,
    "then_mems": st.lists(st.sampled_from(["0-1", "2-3", "0-3", "7", "x"]), max_size=3) | json_values,
    "flags": st.sampled_from([["static"], ["relative"], "numa_balancing", [], ["bogus"]]) | json_values,
    "scope": st.sampled_from(["task", "vma", "shm", "x"]) | json_values,
    "cpu_node": st.sampled_from([0, 1, 3, 7, -1, 1 << 62]) | json_values,
    "pages": st.sampled_from([0, 1, 3, 1 << 21]) | json_values,
})
batch_line = (query_fields.map(json.dumps) | json_values.map(json.dumps)
              | st.text(max_size=20) | st.binary(max_size=20))


@settings(max_examples=60)
@given(st.lists(batch_line, min_size=1, max_size=12))
def test_random_batch_lines_always_get_one_result_each(lines):
    """In process: every non-blank line gets exactly one JSON result, in order, never an exception."""
    data = b"".join((x if isinstance(x, bytes) else x.encode("utf-8", "surrogatepass")).replace(b"\n", b" ")
                    + b"\n" for x in lines)
    out = io.StringIO()
    code = cli_policy.run_batch(io.BytesIO(data), out)
    res = [json.loads(x) for x in out.getvalue().splitlines()]
    expected = [n for n, raw in enumerate(data.split(b"\n")[:-1], 1) if raw.strip(b" \t\r")]
    assert [r["line"] for r in res] == expected
    for r in res:
        assert isinstance(r["steps"], list)
        if "field" in r:   # an error object
            assert r["error"].startswith(f"line {r['line']}: ") and r["steps"] == []
        else:              # a result: null or the kernel's errno
            assert r["error"] in (None, "EINVAL")
    assert code == (1 if any("field" in r for r in res) else 0)


@settings(max_examples=5)
@given(st.lists(batch_line, min_size=1, max_size=20))
def test_random_batch_lines_through_the_command_line(lines):
    data = [x.replace(b"\n", b" ") if isinstance(x, bytes) else x.replace("\n", " ").replace("\r", " ")
            for x in lines]
    code, res, err = batch(data)
    raw = [x if isinstance(x, bytes) else x.encode() for x in data]
    assert code in (0, 1) and len(res) == sum(1 for x in raw if x.strip(b" \t\r"))
    assert err.count("\n") == (1 if code == 1 else 0)


def test_numpy_runtime_warnings_are_errors_not_noise(monkeypatch, capsys):
    import numpy as np
    from numalab.cli import kernel as cmd

    def overflowing(args):
        print(int(np.float64(1e308) * np.float64(10)))  # overflow: a wrong answer if printed
        return 0

    monkeypatch.setattr(cmd, "run", overflowing)
    code = main(["kernel"])
    cap = capsys.readouterr()
    assert code == 2 and cap.out == ""
    assert cap.err.startswith("numalab: error: numeric problem") and cap.err.count("\n") == 1


def test_a_bug_is_one_line_with_exit_3(monkeypatch, capsys):
    from numalab.cli import kernel as cmd

    monkeypatch.setattr(cmd, "run", lambda args: {}["missing"])
    assert main(["kernel"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("numalab: internal error: KeyError") and err.count("\n") == 1


# ----------------------------------------------------------------------------- 13: caps before work
def test_steps_and_pages_are_capped_before_running():
    many = [a for _ in range(cli_policy.MAX_STEPS + 1) for a in ("--then-mems", "0-1")]
    err = one_line_error(cli("policy", CXL4, "--mode", "local", "--mems", "0-3", *many))
    assert "then_mems" in err and str(cli_policy.MAX_STEPS) in err
    err = one_line_error(cli("policy", CXL4, "--mode", "local", "--mems", "0-3", "--then-mems", "0-1",
                             "--then-mems", "2-3", "--pages", "1000000"))
    assert "page placements" in err  # 1e6 pages x 6 (3 steps, the old pages reported again)
    one_line_error(cli("policy", CXL4, "--mode", "local", "--pages", "1" * 5000))
    code, res, _ = batch([q(mems="0-3", then_mems=["0-1"] * 300), q(pages=1 << 30)])
    assert [r["field"] for r in res] == ["then_mems", "pages"]


def test_page_record_cap_is_the_documented_formula():
    c = cli_policy.check_query
    s = 3  # steps, counting the first
    ok_pages = cli_policy.MAX_PAGE_RECORDS // (s * (s + 1) // 2)
    c({"topology": "t", "mode": "local", "mems": "0", "then_mems": ["0", "0"], "pages": ok_pages})
    with pytest.raises(NumalabError, match="page placements"):
        c({"topology": "t", "mode": "local", "mems": "0", "then_mems": ["0", "0"], "pages": ok_pages + 1})


# ----------------------------------------------------------------------------- 15: output paths
@pytest.mark.parametrize("out", ["/proc/numalab-x", "/proc/self/x.tar.gz", "/sys/numalab-x", "/dev/numalab-x",
                                 "FILE/snap", "FILE/a/b.tar.gz", "x.tar.xz", "x.zip", "x.gz", "x.TAR.GZ", ""])
def test_snapshot_output_paths(out, tmp_path):
    (tmp_path / "FILE").write_text("a file")
    target = out.replace("FILE", str(tmp_path / "FILE")) if out.startswith("FILE") else \
        (str(tmp_path / out) if out.startswith("x") else out)
    err = one_line_error(cli("snapshot", target))
    if out.startswith("x"):
        assert "unknown archive suffix" in err
        assert not (tmp_path / out).exists()   # nothing silently written under that name


def test_snapshot_writes_a_tgz_and_a_directory(tmp_path):
    for name in ("s.tgz", "s.d"):
        p = cli("snapshot", str(tmp_path / name))
        assert p.returncode == 0, p.stderr
    one_line_error(cli("snapshot", str(tmp_path / "s.d")))   # never overwrites


def _notebook(path, code, title):
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {title}"), nbformat.v4.new_code_cell(code)])
    nbformat.write(nb, str(path))


@pytest.mark.parametrize("out", ["/proc/self", "/proc/numalab-x", "/sys/numalab-x", "FILE", "FILE/sub"])
def test_report_output_paths_before_running(out, tmp_path):
    (tmp_path / "FILE").write_text("a file")
    nb = tmp_path / "n.ipynb"
    _notebook(nb, "print(1)", "N")
    target = out.replace("FILE", str(tmp_path / "FILE"))
    t0 = time.monotonic()
    one_line_error(cli("report", str(nb), "--out", target))
    assert time.monotonic() - t0 < 20  # refused before a kernel started


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a mode-0555 folder: no permission error to see")
def test_report_unwritable_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    nb = tmp_path / "n.ipynb"
    _notebook(nb, "print(1)", "N")
    one_line_error(cli("report", str(nb), "--out", str(ro / "sub")))


def test_report_ctrl_c_keeps_old_reports_and_exits_130(tmp_path):
    a, b = tmp_path / "a.ipynb", tmp_path / "b.ipynb"
    out = tmp_path / "out"
    _notebook(a, "print(1)", "A, good run")
    _notebook(b, "print(2)", "B")
    first = cli("report", str(a), "--out", str(out))
    assert first.returncode == 0, first.stderr
    old = (out / "a.html").read_bytes()
    _notebook(a, "import time\ntime.sleep(60)", "A, slow run")
    for delay in (1.0, 6.0):   # during the kernel start, during the cell
        p = subprocess.Popen([sys.executable, "-m", "numalab", "report", str(a), str(b), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGINT)      # what Ctrl-C on a terminal does: the whole group
        _, err = p.communicate(timeout=90)
        assert p.returncode == 130, err.decode()
        assert b"Traceback" not in err and b"Task exception" not in err
        assert (out / "a.html").read_bytes() == old     # the old good report is kept
        assert not (out / "b.html").exists()            # the run stopped


# ----------------------------------------------------------------------------- 16: stdout
def test_stdout_closed_full_and_ascii(tmp_path):
    sh = f"{sys.executable} -m numalab mask 0-3 >&-"
    p = subprocess.run(["sh", "-c", sh], capture_output=True)
    one_line_error(p)
    assert b"closed" in p.stderr
    p = subprocess.run(["sh", "-c", f"{sys.executable} -m numalab kernel 6.1 >/dev/full"], capture_output=True)
    err = one_line_error(p)
    assert "No space left" in err
    topo = tmp_path / "t.json"
    topo.write_text(json.dumps({"name": "café", "nodes": [{"id": 0, "cpus": [0], "mem_mib": 64}],
                                "distance": [[10]]}))
    p = cli("topology", str(topo), env={"PYTHONIOENCODING": "ascii"})
    err = one_line_error(p)
    assert "encoding ascii" in err and "--json" in err
    p = cli("topology", str(topo), "--json", env={"PYTHONIOENCODING": "ascii"})
    assert p.returncode == 0 and json.loads(p.stdout)["name"] == "café"


def test_closed_pipe_is_quiet():
    p = subprocess.Popen([sys.executable, "-m", "numalab", "zonelists", "sgi-uv2000-24n", "--explain"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.read(10)
    p.stdout.close()        # the reader goes away, like `| head`
    err = p.stderr.read()
    p.wait(timeout=60)
    assert err == b"" and p.returncode == 141   # quiet, and the status a SIGPIPE death would give


# ----------------------------------------------------------------------------- 17: smaller
def test_no_command_is_usage_on_stderr_exit_2():
    p = cli()
    assert p.returncode == 2 and p.stdout == b""
    assert p.stderr.startswith(b"usage: numalab") and b"numalab: error: give a command" in p.stderr


def test_mask_starting_with_dash_is_a_mask():
    # bitmap_parselist refuses a leading '-' (no number before it): EINVAL at position 0
    for argv in (["mask", "-5-3"], ["mask", "-5-3", "--to", "hex"], ["mask", "--", "-1"]):
        err = one_line_error(cli(*argv))
        assert "'-5-3'" in err or "'-1'" in err
        assert "EINVAL at position 0" in err
    p = cli("mask", "0-3", "--nbits", "8", "--to", "hex")
    assert p.stdout == b"0f\n"


def test_startup_imports_nothing_heavy():
    p = subprocess.run([sys.executable, "-c", "import sys, numalab.cli; print(sorted(m for m in ('numpy', 'pandas') "
                                              "if m in sys.modules))"], capture_output=True, text=True)
    assert p.stdout.strip() == "[]", p.stderr


@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3, 0.6, 1.0])
def test_ctrl_c_during_start_up_no_traceback(delay):
    """Ctrl-C while numalab imports its engine (numpy, pandas: inside main()) or computes: exit 130,
    no traceback. The interpreter's own start-up (site, the editable-install path hook, runpy's
    module lookup) runs before any numalab code; a Ctrl-C in that first window gets Python's own
    traceback, which no package can catch (see the README): then no frame may be numalab's."""
    p = subprocess.Popen([sys.executable, "-m", "numalab", "zonelists", "mesh(rows=32, cols=32, hop=1)", "--explain"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    own = str(ROOT / "numalab").encode()
    if b"Traceback" in err and own not in err:
        return   # Python's own start-up (site, runpy) was interrupted: no numalab frame in it
    assert b"Traceback" not in err, err.decode()
    assert p.returncode in (130, -signal.SIGINT, 0)
    if delay >= 1.0:
        assert p.returncode == 130   # numalab itself was interrupted (the run takes seconds)


def test_explain_rows_runner_up_is_next_non_local_and_list_pages():
    from numalab import sources, zonelist as zlm
    from numalab.viz.text import explain_rows

    t = sources.load("sockets-2x4")
    zl = zlm.build(t, "6.1")
    for nid in t.node_ids.tolist():
        rows = explain_rows(zl, nid)
        order = [r["node"] for r in rows]
        for p, r in enumerate(rows):
            rest = [x for x in order[p + 1:] if x != nid]
            assert r["runner_up"] == (rest[0] if rest and r["node"] != nid else None)
    p = cli("zonelists", "sockets-2x4", "--explain", "2,5", "--json")
    assert sorted(json.loads(p.stdout)["explain"]) == ["2", "5"]
    one_line_error(cli("zonelists", "sockets-2x4", "--explain", "9"))


def test_batch_groups_match_single_queries():
    """Lines that share a cpuset run through the engine together; each result must be what the
    same line gives alone (and alone is checked against the kernel recordings elsewhere)."""
    import random
    rng = random.Random(7)
    lines = []
    for _ in range(60):
        mode = rng.choice(["bind", "interleave", "preferred", "preferred_many", "weighted_interleave", "local"])
        lines.append(json.dumps({"topology": CXL4, "kernel": rng.choice(["6.1", "5.4", "6.12"]),
                                 "mems": rng.choice(["0-3", "1-3"]), "then_mems": [rng.choice(["0-1", "2-3"])],
                                 "mode": mode, "nodes": rng.choice(["0", "1-2", "3", "0-3"]),
                                 "flags": rng.choice([[], ["static"], ["relative"]]), "pages": 4}))
    out = io.StringIO()
    cli_policy.run_batch(lines, out)
    together = [json.loads(x) for x in out.getvalue().splitlines()]
    alone = []
    for n, line in enumerate(lines, 1):
        o = io.StringIO()
        cli_policy.run_batch([line], o)
        d = json.loads(o.getvalue())
        d["line"] = n
        alone.append(d)
    assert together == alone


def test_progress_only_on_a_terminal():
    import pty
    master, slave = pty.openpty()
    data = "\n".join([q()] * 5).encode() + b"\n"
    p = subprocess.run([sys.executable, "-m", "numalab", "policy", "--batch", "-", "--json"], input=data,
                       stdout=subprocess.PIPE, stderr=slave, timeout=60)
    os.close(slave)
    shown = b""
    try:
        while True:
            chunk = os.read(master, 4096)
            if not chunk:
                break
            shown += chunk
    except OSError:
        pass
    os.close(master)
    assert p.returncode == 0 and b"5 lines" in shown
    code, res, err = batch([q()] * 5)
    assert err == ""   # not a terminal: no progress


# ----------------------------------------------------------------------------- 3: text output
def test_text_output_escapes_control_characters(tmp_path):
    topo = tmp_path / "t.json"
    topo.write_text(json.dumps({"name": "evil\x1b[31mRED\nforged: line\u202e", "notes": ["n\x1b]0;x\x07", "ok"],
                                "nodes": [{"id": 0, "cpus": [0], "mem_mib": 64}], "distance": [[10]]}))
    for argv in (["topology", str(topo)], ["zonelists", str(topo)], ["policy", str(topo), "--mode", "local"]):
        p = cli(*argv)
        assert p.returncode == 0, p.stderr
        out = p.stdout.decode()
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert not any(line.startswith("forged") for line in out.splitlines())
        assert "evil\\e[31mRED\\nforged: line\\u202e" in out
    p = cli("topology", str(topo), "--json")
    assert json.loads(p.stdout)["name"].startswith("evil\x1b")   # JSON keeps the exact value


@given(st.text())
def test_escape_text_leaves_no_control_character(s):
    e = _io.escape_text(s)
    assert not any(_io._unsafe(ch) for ch in e)
    assert "\n" not in e and "\x1b" not in e
    if s.isprintable():
        assert e == s


@pytest.mark.parametrize("size", ["99999999999999999999999G", "1" + "0" * 5000 + "M", "６M", "1025T"])
def test_mem_per_node_checked_before_conversion(size):
    # cxl4 has 4 nodes with memory: 4 x 1025 TiB is beyond 2**52 bytes (MAX_PHYSMEM_BITS 52)
    err = one_line_error(cli("qemu-args", CXL4, f"--mem-per-node={size}"))
    assert "--mem-per-node" in err


def test_mem_per_node_at_the_limit_is_exact():
    p = cli("qemu-args", CXL4, "--mem-per-node=1024T", "--json")
    assert p.returncode == 0, p.stderr
    argv = json.loads(p.stdout)
    assert argv[argv.index("-m") + 1] == f"{4 << 30}M"   # 4 x 1024 TiB = 2**52 bytes, in MiB


arg_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["-5-3", "0-3", "all", "N", "0-4294967295", "1" * 5000, "６.１", "", "-", "--", "0-3:1/0", "\x1b[31m", "6.10"])


@settings(max_examples=150)
@given(st.sampled_from(["mask", "kernel", "policy-mems", "policy-nodes", "policy-kernel", "zonelists-kernel",
                        "zonelists-explain"]), arg_text)
def test_random_arguments_never_a_traceback(where, text):
    """In process (main() catches everything, a bug would be exit status 3): any argument text
    gives a result or one error line with exit status 2."""
    argv = {"mask": ["mask", "--", text], "kernel": ["kernel", "--", text],
            "policy-mems": ["policy", CXL4, "--mode", "bind", "--nodes", "0", f"--mems={text}"],
            "policy-nodes": ["policy", CXL4, "--mode", "interleave", f"--nodes={text}", "--pages", "2"],
            "policy-kernel": ["policy", CXL4, "--mode", "local", f"--kernel={text}"],
            "zonelists-kernel": ["zonelists", CXL4, f"--kernel={text}"],
            "zonelists-explain": ["zonelists", CXL4, f"--explain={text}"]}[where]
    import contextlib
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code in (0, 2), err.getvalue()
    if code == 2:
        e = err.getvalue()
        assert out.getvalue() == "" and e.count("\n") == 1 and e.startswith("numalab: error:"), e
        assert "\x1b" not in e


def test_stdout_guard_escapes_what_any_command_prints():
    from numalab.cli import _Stdout
    buf = io.StringIO()
    g = _Stdout(buf)
    g.write("ok\tline\n")
    g.write("a\x1b[1m\ud800\u202e\u2028b\n")
    assert buf.getvalue() == "ok\tline\n" + "a\\e[1m\\ud800\\u202e\\u2028b\n"


def test_batch_caches_are_bounded(monkeypatch):
    """A batch naming many topologies keeps only the most recent ones loaded; each line's result
    is still right (a line naming an evicted topology loads it again)."""
    monkeypatch.setattr(cli_policy, "MAX_CACHED_TOPOLOGIES", 2)
    monkeypatch.setattr(cli_policy, "MAX_CACHED_ZONELISTS", 1)
    ctx_seen = []
    real = cli_policy._Context.topology

    def spy(self, spec):
        ctx_seen.append(len(self.topo))
        return real(self, spec)

    monkeypatch.setattr(cli_policy._Context, "topology", spy)
    names = ["cxl4", "ring-8", "two-node", "cxl4", "penalty-tie", "cxl4"]
    lines = [json.dumps({"topology": n, "kernel": "6.1", "mode": "local", "pages": 1}) for n in names]
    out = io.StringIO()
    assert cli_policy.run_batch(lines, out) == 0
    res = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["error"] for r in res] == [None] * 6
    assert max(ctx_seen) <= 2
    # LOCAL on the first CPU node: the page lands on that node (node 0 in all these machines)
    assert [r["steps"][0]["placement"] for r in res] == [[0]] * 6


def test_mode_numbers_are_ascii_and_bounded():
    # MODE_7 on 6.18 is MPOL_MAX (DEFAULT..WEIGHTED_INTERLEAVE are 0..6): the kernel says EINVAL
    p = cli("policy", CXL4, "--mode", "MODE_7", "--nodes", "0", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["error"] == "EINVAL"
    for mode in ("MODE_99999999999999999999", "MODE_٣", "MODE_" + "9" * 5000):
        one_line_error(cli("policy", CXL4, "--mode", mode, "--nodes", "0"))
    code, res, _ = batch([q(mode="MODE_99999999999999999999")])
    assert code == 1 and res[0]["field"] == "mode"


def test_python_api_node_lists_are_strict():
    from numalab import sources
    from numalab.alloc import parse_user_nodes
    from numalab.cpuset import parse_nodes

    t = sources.load("cxl4")
    for bad in ([1.7], [True], ["1"], [None]):
        with pytest.raises(NumalabError):
            parse_user_nodes(bad, t)
        with pytest.raises(NumalabError):
            parse_nodes(bad, 8)
    import numpy as np
    assert parse_nodes([np.int64(1), 3], 8).tolist() == [False, True, False, True] + [False] * 4


def test_json_output_is_never_invalid_json(tmp_path):
    """A NaN that reaches the output (the loaders may still let one through in `meta`) is refused
    with one line instead of being printed as the invalid JSON token NaN."""
    f = tmp_path / "t.json"
    f.write_text('{"name": "nan", "meta": {"x": NaN}, "nodes": [{"id": 0, "cpus": [0], "mem_mib": 64}], '
                 '"distance": [[10]]}')
    p = cli("topology", str(f), "--json")
    if p.returncode == 0:   # the loader refused nothing and dropped the value: the output must parse
        json.loads(p.stdout, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))
    else:
        one_line_error(p)


def test_check_output_path_without_permission(tmp_path, monkeypatch):
    """The permission branch (root passes os.access everywhere, so it is simulated here)."""
    monkeypatch.setattr(_io.os, "access", lambda path, mode: False)
    with pytest.raises(NumalabError, match="no permission to write in"):
        _io.check_output_path(tmp_path / "new" / "x.tar.gz")


def test_report_write_failure_is_one_line(tmp_path, monkeypatch, capsys):
    from numalab import report as rep

    nb = tmp_path / "n.ipynb"
    _notebook(nb, "print(1)", "N")

    def full(path, text):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(rep, "atomic_write_text", full)
    code = main(["report", str(nb), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err


def test_batch_answers_each_line_as_it_comes():
    """A script that writes one line and waits for its answer (a coprocess) gets it at once:
    the reader answers what it has whenever the input pauses, and flushes."""
    p = subprocess.Popen([sys.executable, "-m", "numalab", "policy", "--batch", "-", "--json"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for n in (1, 2, 3):
            p.stdin.write((q(nodes=str(n)) + "\n").encode())
            p.stdin.flush()
            answer = json.loads(p.stdout.readline())     # would block forever if chunked
            assert answer["line"] == n and answer["steps"][0]["placement"] == [n]
    finally:
        p.stdin.close()
        p.wait(timeout=60)
    assert p.returncode == 0
