"""Tests of numalab.report and ``numalab report``: offline HTML, failures, atomic writes, index.

The expensive part (executing notebooks) happens once per session in :func:`build_once`, which
tests/test_browser.py reuses: every repository notebook plus tests/data/report/charts.ipynb (two
Altair charts, the second with a bound parameter, and an ipywidgets slider).
"""
import html
import json
import os
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from numalab import report as rep
from numalab.errors import NumalabError

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHARTS_NB = ROOT / "tests" / "data" / "report" / "charts.ipynb"
CDN_WORDS = ("jsdelivr", "unpkg", "cdnjs", "require.js", "require.min.js", "mathjax.hub",
             "mathjax.js", "mermaid.esm", "embed-amd.js")

_BUILT: dict = {}


def notebooks_under_test():
    """The repository's notebooks (whatever exist now) plus the report test notebook."""
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + [CHARTS_NB]


def build_once(tmp_path_factory):
    """Execute and export every notebook under test once per session; return the RunResult."""
    if "result" not in _BUILT:
        out = tmp_path_factory.mktemp("reports")
        _BUILT["result"] = rep.build_reports(notebooks_under_test(), out)
        _BUILT["out"] = out
    return _BUILT["result"]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    result = build_once(tmp_path_factory)
    assert not result.failures, [f.message() for f in result.failures]
    return result


def _nb(*cells, **meta):
    return new_notebook(cells=list(cells), metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, **meta})


def _write(path, nb):
    nbformat.write(nb, str(path))
    return path


# --------------------------------------------------------------------------- pure functions

ALTAIR_HTML = ('<div id="altair-viz-1"></div><script>var VEGA_DEBUG = (typeof VEGA_DEBUG == '
               '"undefined") ? {} : VEGA_DEBUG; maybeLoadScript("vega", "6") '
               'maybeLoadScript("vega-lite", "6.4.1") maybeLoadScript("vega-embed", "7") '
               'vegaEmbed(outputDiv, spec, embedOpt)</script>')


def test_count_charts_hand_built_outputs():
    outs = [
        new_output("display_data", data={"text/html": ALTAIR_HTML, "text/plain": "alt.Chart(...)"}),
        new_output("execute_result", data={"application/vnd.vegalite.v5+json": {}, "text/plain": "c"},
                   execution_count=1),
        new_output("display_data", data={"text/html": "<table><tr><td>1</td></tr></table>"}),
        new_output("stream", name="stdout", text="vegaEmbed( in a print is not a chart\n"),
        new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
    ]
    nb = _nb(new_markdown_cell("# t"), new_code_cell("x", outputs=outs[:3]),
             new_code_cell("y", outputs=outs[3:]), new_code_cell("z", outputs=[outs[0]]))
    assert rep.count_charts(nb) == 3
    assert rep.count_charts(_nb(new_code_cell("1"))) == 0


def test_chart_versions_read_from_the_snippets():
    nb = _nb(new_code_cell("c", outputs=[new_output("display_data", data={"text/html": ALTAIR_HTML})]))
    assert rep.chart_versions(nb) == {"vega_version": "6", "vegalite_version": "6.4.1",
                                      "vegaembed_version": "7"}
    other = ALTAIR_HTML.replace('"6.4.1"', '"5.20.1"')
    nb.cells.append(new_code_cell("d", outputs=[new_output("display_data", data={"text/html": other})]))
    with pytest.raises(NumalabError, match="two versions of vega-lite"):
        rep.chart_versions(nb)


def test_title_and_summary():
    nb = _nb(new_code_cell("import numalab"),
             new_markdown_cell("Intro text without heading first.\n\n## The `zonelist` of **node 0**"),
             new_markdown_cell("# Later title"))
    assert rep.notebook_title(nb, "fallback") == "The zonelist of node 0"
    assert rep.notebook_summary(nb) == "Intro text without heading first."
    nb = _nb(new_markdown_cell("```\n# not a heading\n```\n# Real [title](x.html)\n\nFirst line\n"
                               "continues here.\n\nSecond paragraph."))
    assert rep.notebook_title(nb, "f") == "Real title"
    assert rep.notebook_summary(nb) == "First line continues here."
    assert rep.notebook_title(_nb(new_code_cell("1")), "fallback") == "fallback"
    nb = _nb(new_markdown_cell("# T\n\n" + "word " * 100), numalab={"summary": "Set by hand."})
    assert rep.notebook_summary(nb) == "Set by hand."
    nb.metadata.pop("numalab")
    summary = rep.notebook_summary(nb, limit=40)
    assert len(summary) == 40 and summary.endswith("\u2026")


def test_network_references():
    page = ('<a href="https://www.kernel.org/doc/">docs</a>'
            '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script>'
            '<link rel="stylesheet" href="//fonts.example.org/x.css">'
            '<img alt="" src="http://example.org/a.png"><script>var x = 1;</script>')
    found = rep.network_references(page)
    assert found[:3] == ["https://cdn.jsdelivr.net/npm/vega@6", "//fonts.example.org/x.css",
                         "http://example.org/a.png"]
    assert "cdn.jsdelivr.net" in found
    assert rep.network_references('<a href="https://www.kernel.org/">k</a><p>text</p>') == []


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    rep.atomic_write_text(target, "first")
    rep.atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rep.os, "replace", broken_replace)
    with pytest.raises(OSError):
        rep.atomic_write_text(target, "third")
    assert target.read_text() == "second"  # the old report is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # temp file removed


def test_bad_arguments_raise_before_running(tmp_path):
    with pytest.raises(NumalabError, match="no such notebook"):
        rep.build_reports([tmp_path / "missing.ipynb"], tmp_path / "out")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for d in (a, b):
        _write(d / "same.ipynb", _nb(new_code_cell("1")))
    with pytest.raises(NumalabError, match="same report same.html"):
        rep.build_reports([a / "same.ipynb", b / "same.ipynb"], tmp_path / "out")
    _write(a / "index.ipynb", _nb(new_code_cell("1")))
    with pytest.raises(NumalabError, match="overwrite index.html"):
        rep.build_reports([a / "index.ipynb"], tmp_path / "out")
    with pytest.raises(NumalabError, match="timeout"):
        rep.build_reports([a / "same.ipynb"], tmp_path / "out", timeout=0)
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_cli_missing_notebook_is_one_line_exit_2(tmp_path, capsys):
    from numalab.cli import main

    assert main(["report", "--out", str(tmp_path / "o"), str(tmp_path / "nope.ipynb")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.ipynb" in err and "no such notebook" in err


# --------------------------------------------------------------------------- built reports

def test_every_notebook_got_a_report(built):
    names = [pathlib.Path(r.html).name for r in built.reports]
    assert names == [p.stem + ".html" for p in notebooks_under_test()]
    charts = {pathlib.Path(r.notebook).name: r.charts for r in built.reports}
    assert charts["charts.ipynb"] == 2  # written by hand in tests/data/report/charts.ipynb


def test_reports_load_nothing_from_the_network(built):
    for r in built.reports:
        page = pathlib.Path(r.html).read_text(encoding="utf-8")
        assert rep.network_references(page) == [], r.html
        srcs = re.findall(r"<script\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]*)", page, re.IGNORECASE)
        assert srcs == [], (r.html, srcs)  # every script is inline
        assert not re.search(r"<link\b[^>]*\bhref\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)
        lower = page.lower()
        for word in CDN_WORDS:
            assert word not in lower, (r.html, word)


def test_vega_bundle_inline_once_with_matching_versions(built):
    for r in built.reports:
        page = pathlib.Path(r.html).read_text(encoding="utf-8")
        asked = set(re.findall(r'maybeLoadScript\("(vega|vega-lite|vega-embed)", "([^"]+)"\)', page))
        if r.charts == 0:
            assert "numalab-vega-bundle" not in page and "window.vegaEmbed=" not in page
            continue
        assert page.count('id="numalab-vega-bundle"') == 1, r.html
        assert "numalab-vega-offline" not in page, r.html      # the notebooks' live-only cell output
        assert page.count("window.vegaEmbed=") == 1, r.html
        debug = json.loads(re.search(r"var VEGA_DEBUG = (\{[^}]*\});", page).group(1))
        # Altair's snippet skips the CDN only when VEGA_DEBUG holds exactly what it asks for.
        assert {(lib, debug[lib.replace("-", "") + "_version"]) for lib, _ in asked} == asked
        assert len(asked) == 3


def test_widgets_degrade_to_a_note(built):
    page = pathlib.Path(next(r.html for r in built.reports if r.notebook.endswith("charts.ipynb"))
                        ).read_text(encoding="utf-8")
    assert page.count('class="numalab-widget-note"') == 1
    assert "application/vnd.jupyter.widget-state+json" not in page
    assert "application/vnd.jupyter.widget-view+json" not in page
    assert "IntSlider(value=1" not in page


def test_report_meta_and_index(built):
    out = pathlib.Path(built.index).parent
    index = pathlib.Path(built.index).read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)">([^<]*)</a>', index)
    assert [href for href, _ in links] == sorted(pathlib.Path(r.html).name for r in built.reports)
    assert sorted(p.name for p in out.glob("*.html")) == sorted(
        [href for href, _ in links] + ["index.html"])
    for r in built.reports:
        assert (pathlib.Path(r.html).name, html.escape(r.title)) in links
        assert html.escape(r.summary) in index
        assert r.title  # first heading, or the file name
    chart = next(r for r in built.reports if r.notebook.endswith("charts.ipynb"))
    assert chart.title == "Report test: two charts"
    assert "<script" not in index and "http" not in index
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


# --------------------------------------------------------------------------- failures, CLI

def test_failing_notebook_no_report_names_cell_exit_2(tmp_path):
    """One run through the real console entry point: a good, a failing and a slow notebook."""
    src = tmp_path / "nbs"
    src.mkdir()
    _write(src / "good.ipynb", _nb(new_markdown_cell("# Good one\n\nIt works."),
                                   new_code_cell("import os, sys\nprint(os.environ['PYTHONHASHSEED'], "
                                                 "os.path.basename(os.getcwd()))\nprint(sys.prefix)")))
    _write(src / "bad.ipynb", _nb(new_markdown_cell("# Bad"), new_code_cell("x = 1"),
                                  new_code_cell("\n# divide\ny = x / 0\nprint(y)")))
    _write(src / "slow.ipynb", _nb(new_code_cell("import time\ntime.sleep(60)")))
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "bad.html"  # an earlier report of bad.ipynb: must not survive the failure
    stale.write_text('<html><head><meta name="numalab-report" content="1"></head></html>')
    other = out / "notes.html"  # not a numalab report: left alone, not indexed
    other.write_text("<html><body>hand-written</body></html>")
    proc = subprocess.run(
        [sys.executable, "-m", "numalab", "report", "--out", str(out), "--timeout", "2", "--json",
         str(src / "good.ipynb"), str(src / "bad.ipynb"), str(src / "slow.ipynb")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr
    bad_line = [ln for ln in lines if "bad.ipynb" in ln]
    slow_line = [ln for ln in lines if "slow.ipynb" in ln]
    assert len(bad_line) == 1 and len(slow_line) == 1, lines
    assert "cell[2]" in bad_line[0] and "'# divide'" in bad_line[0]
    assert "ZeroDivisionError: division by zero" in bad_line[0]
    assert "cell[0]" in slow_line[0] and "'import time'" in slow_line[0]
    assert "CellTimeoutError" in slow_line[0] and "within 2 s" in slow_line[0]

    assert (out / "good.html").is_file()
    assert not (out / "bad.html").exists() and not (out / "slow.html").exists()
    assert other.read_text() == "<html><body>hand-written</body></html>"
    assert sorted(p.name for p in out.iterdir()) == ["good.html", "index.html", "notes.html"]

    summary = json.loads(proc.stdout)
    assert [pathlib.Path(r["html"]).name for r in summary["reports"]] == ["good.html"]
    assert summary["reports"][0]["title"] == "Good one"
    assert summary["reports"][0]["summary"] == "It works."
    assert summary["charts"] == {"nbs/good.ipynb": 0}
    fails = {pathlib.Path(f["notebook"]).name: f for f in summary["failures"]}
    assert fails["bad.ipynb"]["cell_index"] == 2 and fails["bad.ipynb"]["ename"] == "ZeroDivisionError"
    assert fails["slow.ipynb"]["cell_index"] == 0
    assert summary["removed"] == ["out/bad.html"]

    good = (out / "good.html").read_text(encoding="utf-8")
    assert "0 nbs" in good  # PYTHONHASHSEED=0 and the notebook's folder as working directory
    assert f"\n{html.escape(sys.prefix)}\n" in good  # the kernel runs in this environment
    index = (out / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<a href="([^"]+)"', index) == ["good.html"]
    assert "bad.ipynb" in index and "slow.ipynb" in index  # listed as failed, no link


def test_unreadable_notebook_is_a_failure_not_a_crash(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ not json")
    result = rep.build_reports([broken], tmp_path / "out")
    assert not result.ok and not result.reports
    (failure,) = result.failures
    assert failure.cell_index is None and "broken.ipynb" in failure.message()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["index.html"]


def test_json_summary_shape(tmp_path):
    result = rep.RunResult("out", (rep.Report("a.ipynb", "out/a.html", "A", "s", 2, 10, 1.0, 0.5),),
                           (rep.NotebookFailure("b.ipynb", 3, "x = 1/0", "ZeroDivisionError",
                                                "division by zero"),), "out/index.html")
    doc = result.to_json()
    assert doc["charts"] == {"a.ipynb": 2}
    assert doc["failures"][0]["message"] == ("'b.ipynb': cell[3] 'x = 1/0': ZeroDivisionError: "
                                             "division by zero")
    json.dumps(doc)
    assert os.path.basename(doc["index"]) == "index.html"


def test_export_copy_renumbers_altair_ids_and_drops_cdn_paths():
    snippet = ('<div id="altair-viz-{0}"></div><script>outputDiv.id !== "altair-viz-{0}"; '
               'const paths = {{"vega": "https://cdn.jsdelivr.net/npm/vega@6?noext"}}; '
               'vegaEmbed(outputDiv, spec)</script>')
    a, b = "0123456789abcdef" * 2, "fedcba9876543210" * 2
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "IntSlider()"}
    nb = _nb(new_code_cell("c", outputs=[
        new_output("display_data", data={"text/html": snippet.format(a)}),
        new_output("display_data", data=widget),
        new_output("display_data", data={"text/html": snippet.format(b)})]),
        widgets={"application/vnd.jupyter.widget-state+json": {"state": {}}})
    copy = rep._offline_outputs(nb)
    html_a, note, html_b = (o["data"].get("text/html") for o in copy.cells[0].outputs)
    assert html_a == snippet.format("1").replace("https://cdn.jsdelivr.net/npm/", "numalab-offline:")
    assert html_b == snippet.format("2").replace("https://cdn.jsdelivr.net/npm/", "numalab-offline:")
    assert "numalab-widget-note" in note and "widgets" not in copy.metadata
    assert a in nb.cells[0].outputs[0]["data"]["text/html"]  # the executed notebook is untouched


def test_cell_seconds_from_nbclient_timing():
    timed = new_code_cell("x", metadata={"execution": {
        "iopub.execute_input": "2025-01-01T10:00:00.250000Z",
        "shell.execute_reply": "2025-01-01T10:00:02.000000Z"}})
    nb = _nb(new_markdown_cell("# t"), new_code_cell("untimed"), timed)
    assert rep.cell_seconds(nb) == {2: 1.75}


# --------------------------------------------------------------------------- stored outputs

def test_two_report_runs_are_byte_identical(tmp_path):
    """README: "Altair's chart ids are renumbered so two runs give byte-identical files". One
    small notebook with stored outputs, a chart and a widget panel, reported twice."""
    src = ROOT / "notebooks" / "00-nodemasks.ipynb"
    pages = []
    for run in ("a", "b"):
        result = rep.build_reports([src], tmp_path / run)
        assert result.ok and len(result.reports) == 1 and result.reports[0].charts >= 1
        pages.append((tmp_path / run / "00-nodemasks.html").read_bytes())
    assert pages[0] == pages[1]
    assert b"altair-viz-1" in pages[0] and not re.search(rb"altair-viz-[0-9a-f]{32}", pages[0])


def test_report_of_a_notebook_with_stored_outputs(tmp_path):
    """Stored outputs are replaced by the fresh run's, never shown twice."""
    stored = nbformat.read(str(ROOT / "notebooks" / "00-nodemasks.ipynb"), as_version=4)
    code = [c for c in stored.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code), "notebooks/00-nodemasks.ipynb carries no stored outputs"
    nb, failure = rep.execute(ROOT / "notebooks" / "00-nodemasks.ipynb")
    assert failure is None
    fresh = [c for c in nb.cells if c.cell_type == "code"]
    assert [len(c.outputs) for c in fresh] == [len(c.outputs) for c in code]
    assert rep.count_charts(nb) == rep.count_charts(stored)


def test_store_outputs_in_place_twice_same_bytes_failure_left_alone(tmp_path):
    nb_path = tmp_path / "charts.ipynb"
    nb_path.write_bytes(CHARTS_NB.read_bytes())
    bad = _write(tmp_path / "bad.ipynb", _nb(new_code_cell("print('partial')"), new_code_cell("1/0")))
    before_bad = bad.read_bytes()
    stored, failures = rep.store_outputs([nb_path, bad])
    assert [pathlib.Path(p).name for p in stored] == ["charts.ipynb"]
    assert [f.cell_index for f in failures] == [1] and bad.read_bytes() == before_bad
    first = nb_path.read_bytes()
    nb = nbformat.read(str(nb_path), as_version=4)
    assert rep.count_charts(nb) == 2                                   # the two charts, stored
    assert not any("execution" in c.metadata for c in nb.cells)     # no timestamps stored
    rep.store_outputs([nb_path])
    assert nb_path.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb", "charts.ipynb"]  # no temp files left


def test_every_repository_notebook_stores_its_outputs():
    """nbval compares stored outputs: a notebook with none would check nothing."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        compared = [c for c in nb.cells if c.cell_type == "code" and c.outputs
                    and not c.source.lstrip().startswith("# NBVAL_IGNORE_OUTPUT")]
        assert compared, f"{path.name}: no stored outputs outside NBVAL_IGNORE_OUTPUT cells: run make notebooks"
