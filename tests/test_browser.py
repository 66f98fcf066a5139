"""End to end: headless Chromium, network cut off, opens every report and counts rendered charts.

For each report written by the session build of tests/test_report.py (every repository notebook
plus tests/data/report/charts.ipynb), Debian's chromium loads the file with ``--dump-dom`` and the
test asserts that

* the number of rendered Vega views (``.vega-embed`` holding an ``svg.marks`` or
  ``canvas.marks``) equals :func:`numalab.report.count_charts` of the executed notebook;
* the page logged no JavaScript error: the hidden ``#numalab-js-errors`` collector that the report
  template installs first (uncaught errors, failed resource loads, unhandled rejections,
  ``console.error``) is empty, no chart shows Altair's error box, and Chromium's own console log
  (``--enable-logging=stderr``) has no "Uncaught".

The network is cut with ``unshare --net`` (a new network namespace with only a down loopback)
when that works here (root, or unprivileged user namespaces); the host resolver and proxy flags
below are always added as a second fence. A self-check feeds a deliberately broken copy of a
report through the same harness and expects it to fail, so this test can fail.
"""
import pathlib
import re
import shutil
import subprocess
import time

import pytest
from bs4 import BeautifulSoup

from test_report import build_once  # one session build shared with tests/test_report.py

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--disable-extensions", "--mute-audio",
    "--enable-logging=stderr", "--v=0",
    # second fence, also under unshare: resolve nothing, proxy everything to a dead port
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--virtual-time-budget=15000", "--dump-dom",
]


def _chromium():
    for name in ("chromium", "/usr/bin/chromium"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """(command prefix, how the network is cut) or skip when chromium is absent."""
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not found (Debian: apt-get install chromium; .ci/run installs it)")
    prefix, how = [], "host-resolver/proxy flags only (unshare --net unavailable)"
    unshare = shutil.which("unshare")
    if unshare:
        probe = subprocess.run([unshare, "--net", "true"], capture_output=True)
        if probe.returncode == 0:
            prefix, how = [unshare, "--net"], "unshare --net (no network namespace) + resolver/proxy flags"
    profile = tmp_path_factory.mktemp("chromium-profile")
    return prefix + [exe, f"--user-data-dir={profile}"] + CHROMIUM_FLAGS, how


def render(browser, page: pathlib.Path):
    """Open ``page`` in headless chromium; return (rendered views, JS errors, chart error boxes)."""
    cmd, _ = browser
    proc = subprocess.run(cmd + [page.resolve().as_uri()], capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    soup = BeautifulSoup(proc.stdout, "html.parser")
    views = [e for e in soup.select(".vega-embed")
             if e.select_one("svg.marks") is not None or e.select_one("canvas.marks") is not None]
    collector = soup.select_one("#numalab-js-errors")
    errors = [ln for ln in (collector.get_text() if collector else "").splitlines() if ln.strip()]
    errors += [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln and "Uncaught" in ln]
    boxes = [e.get_text(" ", strip=True) for e in soup.select("div.error")]
    # a mark drawn with neither fill nor stroke is invisible: e.g. a colour scale merged across
    # concatenated panels leaves bars without a colour (the view "renders", but empty)
    unpainted = [e.get("aria-label", e.name) for view in views for e in view.select('[role="graphics-symbol"]')
                 if e.name in ("path", "rect", "circle", "line", "text")
                 and not (e.get("fill") or e.get("stroke") or "fill" in e.get("style", ""))]
    boxes += [f"{len(unpainted)} invisible marks, e.g. {unpainted[0]!r}"] if unpainted else []
    return len(views), errors, boxes


def test_network_is_cut(browser):
    cmd, how = browser
    print(f"network cut: {how}")  # shown with -rA / -s
    if cmd[0].endswith("unshare"):
        # inside the namespace even loopback is down: no socket can reach anything
        probe = subprocess.run(cmd[:2] + ["python3", "-c",
                               "import socket; socket.create_connection(('127.0.0.1', 9), 1)"],
                               capture_output=True, text=True)
        assert probe.returncode != 0 and "Error" in probe.stderr


def test_every_chart_renders_offline_without_js_errors(browser, tmp_path_factory):
    result = build_once(tmp_path_factory)
    assert not result.failures, [f.message() for f in result.failures]
    assert result.reports, "nothing to open"
    t0 = time.perf_counter()
    problems = []
    for r in result.reports:
        views, errors, boxes = render(browser, pathlib.Path(r.html))
        if views != r.charts or errors or boxes:
            problems.append(f"{r.html}: {views} rendered views for {r.charts} charts; "
                            f"JS errors {errors[:3]}; chart errors {boxes[:3]}")
    assert not problems, "\n".join(problems)
    charts = next(r for r in result.reports if r.notebook.endswith("charts.ipynb"))
    assert charts.charts == 2
    print(f"{len(result.reports)} reports rendered in {time.perf_counter() - t0:.1f} s; executed in",
          ", ".join(f"{pathlib.Path(r.notebook).stem} {r.execute_s:.1f} s "
                    f"(slowest cell {r.slowest_cell})" for r in result.reports))


def test_index_opens(browser, tmp_path_factory):
    result = build_once(tmp_path_factory)
    views, errors, boxes = render(browser, pathlib.Path(result.index))
    assert (views, errors, boxes) == (0, [], [])


def test_harness_detects_a_report_that_does_not_render(browser, tmp_path_factory, tmp_path):
    """Self-check of this harness on a deliberately broken copy of a report: its VEGA_DEBUG no
    longer matches, so Altair's snippet tries its (neutralised) CDN path and no chart may render;
    a script calling an undefined function is appended too. Both errors must be seen."""
    result = build_once(tmp_path_factory)
    good = next(r for r in result.reports if r.notebook.endswith("charts.ipynb"))
    page = pathlib.Path(good.html).read_text(encoding="utf-8")
    broken, n = re.subn(r'var VEGA_DEBUG = \{"vega_version": "[^"]*"',
                        'var VEGA_DEBUG = {"vega_version": "0"', page)
    assert n == 1
    head, tail = broken.rsplit("</body>", 1)
    bad = tmp_path / "broken.html"
    bad.write_text(head + "<script>undefinedFunction();</script></body>" + tail, encoding="utf-8")
    views, errors, boxes = render(browser, bad)
    assert views == 0
    assert any("numalab-offline:" in e for e in errors), errors
    assert any("undefinedFunction" in e for e in errors), errors
    assert len(boxes) == 2 and all("Error loading script" in b for b in boxes)
