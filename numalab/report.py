"""Execute notebooks and write self-contained HTML reports that render with no network.

People read numalab reports at meetings, often offline. The stock nbconvert export loads
require.js, MathJax, mermaid, the widget manager and (through Altair's snippet) vega, vega-lite
and vega-embed from CDNs, so nothing renders without a network. This module

1. executes each notebook with nbclient (kernel ``python3`` of the running interpreter, working
   directory = the notebook's folder, a timeout per cell, ``PYTHONHASHSEED=0``) and drops the
   outputs meant for a live page only (:func:`numalab.viz.offline.offline`, the notebooks' first
   cell: the vega bundle that lets charts draw offline in JupyterLab);
2. exports it with the ``numalab_offline`` nbconvert template (``numalab/templates/``), which
   extends JupyterLab's ``lab/index.html.j2`` and replaces the CDN head scripts by inline ones:
   a JavaScript error collector, a ``VEGA_DEBUG`` object holding exactly the versions the
   notebook's Altair charts ask for, and the vega + vega-lite + vega-embed bundle generated at
   export time by the installed ``vl-convert`` (so versions stay in sync);
3. refuses to write a report that would still load anything from the network, and writes every
   file atomically (temporary file in the same directory, then :func:`os.replace`);
4. writes ``index.html`` listing every report in the output directory with its title (the first
   Markdown heading) and a one-line summary.

A notebook that fails to execute gets no report (a report left over from an earlier run is
removed, so that the output directory never shows results the notebook no longer produces); the
failure names the notebook, the failing cell (0-based index and its first source line) and the
error.

Examples
--------
>>> import nbformat
>>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Zonelists\\n\\nFallback order per node.")])
>>> notebook_title(nb, "fallback"), notebook_summary(nb)
('Zonelists', 'Fallback order per node.')
>>> count_charts(nb)
0
"""
from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import html as _html
import json
import os
import pathlib
import re
import tempfile
import time

from ._io import atomic_write, check_output_path
from .errors import NumalabError
from .viz.offline import LIVE_ONLY, is_live_only, vega_head

__all__ = [
    "DEFAULT_TIMEOUT",
    "KERNEL_NAME",
    "Report",
    "NotebookFailure",
    "RunResult",
    "repo_notebooks_dir",
    "default_notebooks",
    "execute",
    "kernel_env",
    "count_charts",
    "cell_seconds",
    "chart_versions",
    "notebook_title",
    "notebook_summary",
    "export_html",
    "network_references",
    "js_error_collector",
    "build_reports",
    "write_index",
    "atomic_write_text",
    "store_outputs",
    "drop_live_only",
]

#: Seconds a single cell may run before the notebook counts as failed.
DEFAULT_TIMEOUT = 120.0
#: Jupyter kernel used for execution; jupyter_client starts it with the running interpreter.
KERNEL_NAME = "python3"
#: Folder holding the nbconvert template ``numalab_offline``.
TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "numalab_offline"

_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent
_VEGALITE_MIME = re.compile(r"^application/vnd\.vega(lite)?\.v\d+(\.\d+)*\+json$")
# Altair's "html" renderer output (altair/utils/html.py, HTML_TEMPLATE_UNIVERSAL).
_ALTAIR_HTML = re.compile(r"vegaEmbed\(|VEGA_DEBUG")
_LOAD = re.compile(r'maybeLoadScript\("(vega|vega-lite|vega-embed)",\s*"([^"]+)"\)')
_ALTAIR_ID = re.compile(r"altair-viz-[0-9a-f]{32}")
_CDN_IN_SNIPPET = re.compile(r'"https?://cdn\.jsdelivr\.net/npm/')
_CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com")
_RESOURCE_ATTR = re.compile(
    r"<(script|link|img|iframe|source|audio|video|embed|object)\b[^>]*?\b(src|href|data)\s*=\s*"
    r"[\"']?\s*((?:https?:)?//[^\"'\s>]+)", re.IGNORECASE)
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_NOTE = ('<div class="numalab-widget-note">Interactive panel (ipywidgets): it runs only with a '
                'live kernel; open the notebook in JupyterLab. The charts in this report keep their '
                'own controls.</div>')
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_META_TAG = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_META_ATTR = re.compile(r'\b(name|content)\s*=\s*"([^"]*)"', re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class NotebookFailure:
    """Why a notebook got no report.

    ``cell_index`` is the 0-based index in ``nb.cells`` (``None`` when the notebook failed before
    any cell ran, e.g. unreadable JSON or a kernel that did not start); ``cell_source`` is the
    first non-empty line of that cell's source.
    """

    notebook: str
    cell_index: int | None
    cell_source: str
    ename: str
    evalue: str

    def message(self) -> str:
        """One line naming the notebook, the cell and the error."""
        where = "" if self.cell_index is None else f"cell[{self.cell_index}] {self.cell_source!r}: "
        evalue = self.evalue if len(self.evalue) <= 300 else self.evalue[:297] + "..."
        return str(NumalabError(f"{where}{self.ename}: {evalue}", input=self.notebook))

    def to_json(self) -> dict:
        return dict(dataclasses.asdict(self), message=self.message())


@dataclasses.dataclass(frozen=True)
class Report:
    """One written report."""

    notebook: str
    html: str
    title: str
    summary: str
    charts: int
    bytes: int
    execute_s: float
    export_s: float
    slowest_cell: tuple = ()  # (0-based cell index, seconds) of the slowest cell, if timed

    def to_json(self) -> dict:
        return dict(dataclasses.asdict(self), slowest_cell=list(self.slowest_cell))


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What :func:`build_reports` did: written reports, failures, the index, removed stale files."""

    out: str
    reports: tuple[Report, ...]
    failures: tuple[NotebookFailure, ...]
    index: str
    removed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict:
        return {"out": self.out, "index": self.index,
                "reports": [r.to_json() for r in self.reports],
                "charts": {r.notebook: r.charts for r in self.reports},
                "failures": [f.to_json() for f in self.failures],
                "removed": list(self.removed)}


# --------------------------------------------------------------------------- notebooks

def repo_notebooks_dir() -> pathlib.Path:
    """The repository's ``notebooks/`` folder (numalab is installed editable from the repo)."""
    return _PACKAGE_ROOT / "notebooks"


def default_notebooks() -> list[pathlib.Path]:
    """Every ``notebooks/*.ipynb`` of the repository, sorted by file name.

    Raises
    ------
    NumalabError
        When the package is not installed from a checkout (no ``notebooks/`` next to it).
    """
    folder = repo_notebooks_dir()
    if not folder.is_dir():
        raise NumalabError("no notebooks folder next to the numalab package (installed outside a "
                           "checkout?); name the notebooks to run", input=str(folder))
    return sorted(folder.glob("*.ipynb"))


def _display(path: pathlib.Path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute."""
    path = pathlib.Path(path).absolute()
    try:
        return str(path.relative_to(pathlib.Path.cwd()))
    except ValueError:
        return str(path)


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 80 else line[:77] + "..."
    return ""


def _last_line(stream) -> str:
    stream.seek(0)
    lines = [ln.strip() for ln in stream.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    return f" (kernel stderr: {lines[-1]})" if lines else ""


def kernel_env() -> dict:
    """Environment of the execution kernel: the caller's, made deterministic and quiet."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's frozen-modules warning on stderr
    return env


def _watch_interrupts(interrupted: list):
    """Make SIGINT during nbclient's run visible in ``interrupted``.

    nbclient replaces the SIGINT handler while it runs a notebook with an event-loop callback
    that shuts the kernel down, so the run ends as an ordinary cell failure and the Ctrl-C is
    lost. The callback is registered on this thread's event loop (the one nbclient's
    ``run_sync`` uses): wrap that loop's ``add_signal_handler`` so that the callback also records
    the signal. Returns a function that undoes the wrapping.
    """
    import signal

    try:
        from jupyter_core.utils import ensure_event_loop

        loop = ensure_event_loop()
    except Exception:  # pragma: no cover - no loop: nothing to watch
        return lambda: None
    original = loop.add_signal_handler

    def add_signal_handler(sig, callback, *args):
        if sig == signal.SIGINT:
            def recorded(*a):
                interrupted.append("SIGINT")
                return callback(*a)
            return original(sig, recorded, *args)
        return original(sig, callback, *args)

    loop.add_signal_handler = add_signal_handler
    # A kernel shut down in the middle of a cell leaves nbclient's liveness poll failing in a
    # task nobody awaits; asyncio would print that as a traceback when it is collected.
    old_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda lp, ctx: None if interrupted else lp.default_exception_handler(ctx))

    def undo():
        loop.__dict__.pop("add_signal_handler", None)
        if not interrupted:
            loop.set_exception_handler(old_handler)
    return undo


def execute(path, *, timeout: float = DEFAULT_TIMEOUT, kernel_name: str = KERNEL_NAME):
    """Execute one notebook; return ``(executed_notebook, None)`` or ``(None, NotebookFailure)``.

    The kernel runs in the notebook's folder with ``PYTHONHASHSEED=0``; a cell running longer than
    ``timeout`` seconds fails the notebook. The file on disk is not modified.

    Examples
    --------
    >>> nb, failure = execute("notebooks/00-nodemasks.ipynb")  # doctest: +SKIP
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = pathlib.Path(path)
    name = _display(path)
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as e:  # unreadable or not a notebook: a failure of this notebook
        return None, NotebookFailure(name, None, "", type(e).__name__, str(e) or "unreadable notebook")
    current: dict = {"index": None}

    def on_cell_start(cell, cell_index, **_):
        current["index"] = cell_index

    # coalesce_streams: a cell's prints become one stream output however the kernel happened to
    # batch them, so the same notebook gives the same report (and stored outputs) on every run
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, allow_errors=False,
                            record_timing=True, on_cell_start=on_cell_start, coalesce_streams=True,
                            resources={"metadata": {"path": str(path.parent.absolute())}})
    # The kernel process writes its own logs (e.g. a traceback when it is shut down in the middle
    # of a timed-out cell) to its stderr: keep them off ours, and quote their last line when the
    # kernel itself failed. Cell output to sys.stderr travels over the kernel protocol instead.
    with tempfile.TemporaryFile() as kernel_stderr:
        try:
            client.execute(env=kernel_env(), stderr=kernel_stderr)
        except CellExecutionError as e:
            ename, evalue = e.ename, e.evalue
        except CellTimeoutError:
            ename, evalue = "CellTimeoutError", f"cell did not finish within {timeout:g} s"
        except DeadKernelError:
            ename, evalue = "DeadKernelError", "the kernel died" + _last_line(kernel_stderr)
        except Exception as e:  # kernel did not start, bad kernel name, ...
            ename, evalue = type(e).__name__, " ".join(str(e).split()) + _last_line(kernel_stderr)
        else:
            return drop_live_only(nb), None
    idx = current["index"]
    src = _first_line(nb.cells[idx].source) if idx is not None else ""
    return None, NotebookFailure(name, idx, src, ename, " ".join(str(evalue).split()))


def drop_live_only(nb):
    """``nb`` with every output marked ``{"numalab": {"live_only": true}}`` removed (in place).

    Such outputs (:func:`numalab.viz.offline.offline`: the vega bundle for a live JupyterLab) are
    for a live kernel's page: they are neither stored in the notebooks nor copied into reports,
    which inline the bundle once in their head.

    Examples
    --------
    >>> import nbformat
    >>> live = nbformat.v4.new_output("display_data", data={"text/html": "<script>vegaEmbed</script>"},
    ...                               metadata=LIVE_ONLY)
    >>> kept = nbformat.v4.new_output("stream", text="kept")
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[live, kept])])
    >>> [o["output_type"] for o in drop_live_only(nb).cells[0].outputs]
    ['stream']
    """
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and any(is_live_only(o) for o in cell.get("outputs", ())):
            cell["outputs"] = [o for o in cell["outputs"] if not is_live_only(o)]
    return nb


def store_outputs(notebooks=None, *, timeout: float = DEFAULT_TIMEOUT, kernel_name: str = KERNEL_NAME,
                  on_stored=None, on_failure=None) -> tuple:
    """Re-execute notebooks and write each back in place with its outputs (``make notebooks``).

    Each notebook runs as in :func:`execute` (its folder, ``PYTHONHASHSEED=0``) and replaces the
    file atomically; the per-cell execution timestamps nbclient records are dropped, so a rerun
    of a deterministic notebook rewrites the same bytes. A notebook that fails is left as it was.
    The stored outputs are what ``pytest --nbval`` compares (cells whose first line is
    ``# NBVAL_IGNORE_OUTPUT`` excepted).

    Returns
    -------
    (stored, failures)
        Paths written, and a :class:`NotebookFailure` per notebook left unchanged.
    """
    import nbformat

    if not timeout > 0:
        raise NumalabError("timeout must be a positive number of seconds", input=str(timeout))
    paths = default_notebooks() if notebooks is None else [pathlib.Path(p) for p in notebooks]
    for p in paths:
        if not p.is_file():
            raise NumalabError("no such notebook", input=str(p))
    stored, failures = [], []
    for p in paths:
        nb, failure = execute(p, timeout=timeout, kernel_name=kernel_name)
        if failure is not None:
            failures.append(failure)
            if on_failure:
                on_failure(failure)
            continue
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        text = _stable_ids(nb, nbformat.writes(nb))
        atomic_write(p, text if text.endswith("\n") else text + "\n")
        stored.append(_display(p))
        if on_stored:
            on_stored(_display(p))
    return tuple(stored), tuple(failures)


_HEX32 = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_MODEL_REF = re.compile(r"IPY_MODEL_([0-9a-f]{32})")


def _stable_ids(nb, text: str) -> str:
    """``text`` (the notebook's JSON) with Altair's random chart ids and the ipywidgets model ids
    renumbered, the same way everywhere in the file, so that re-running a deterministic notebook
    writes the same bytes. Chart ids are numbered in order of appearance; widget models in the
    order they are reached from the views shown in the cells (then any others, by content)."""
    import nbformat

    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    views = re.findall(r'"model_id": "([0-9a-f]{32})"', text)
    order: list = []
    queue = list(views)
    while queue:
        mid = queue.pop(0)
        if mid in order or mid not in state:
            continue
        order.append(mid)
        queue += _MODEL_REF.findall(json.dumps(state[mid], sort_keys=True))
    rest = set(state) - set(order)
    order += sorted(rest, key=lambda m: _HEX32.sub("", json.dumps(state[m], sort_keys=True)) + m)
    new: dict = {}
    for m in _ALTAIR_ID.finditer(text):
        new.setdefault(m.group(0)[len("altair-viz-"):], None)
    for mid in views + order:
        new.setdefault(mid, None)
    new = {old: f"{i + 1:032x}" for i, old in enumerate(new)}
    text = _HEX32.sub(lambda m: new.get(m.group(0), m.group(0)), text)
    return nbformat.writes(nbformat.reads(text, as_version=4))  # keys sorted again by the new ids


# --------------------------------------------------------------------------- charts

def _chart_outputs(nb):
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs", ()):
            if out.get("output_type") not in ("display_data", "execute_result") or is_live_only(out):
                continue
            data = out.get("data", {})
            if any(_VEGALITE_MIME.match(k) for k in data):
                yield out
                continue
            text = data.get("text/html")
            if text is not None:
                text = "".join(text) if isinstance(text, list) else text
                if _ALTAIR_HTML.search(text):
                    yield out


def cell_seconds(nb) -> dict:
    """{cell index: seconds} of the cells nbclient timed (execute_input to execute_reply)."""
    from datetime import datetime

    times = {}
    for i, cell in enumerate(nb.cells):
        ex = cell.get("metadata", {}).get("execution", {})
        try:
            a = datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00"))
            b = datetime.fromisoformat(ex["shell.execute_reply"].replace("Z", "+00:00"))
        except (KeyError, ValueError, AttributeError):
            continue
        times[i] = round((b - a).total_seconds(), 3)
    return times


def count_charts(nb) -> int:
    """Number of Altair/Vega-Lite charts among the outputs of an executed notebook.

    A chart is a display output carrying a Vega or Vega-Lite mimetype, or Altair's HTML output
    (the snippet that calls ``vegaEmbed``). Layered or concatenated charts are one chart: one
    Vega view on the page.

    Examples
    --------
    >>> import nbformat
    >>> out = nbformat.v4.new_output("display_data", data={"text/html": "<script>vegaEmbed(outputDiv, spec)</script>"})
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("chart", outputs=[out, out])])
    >>> count_charts(nb)
    2
    """
    return sum(1 for _ in _chart_outputs(nb))


def chart_versions(nb) -> dict:
    """The vega, vega-lite and vega-embed versions the notebook's Altair charts ask for.

    Read from Altair's output snippets (``maybeLoadScript("vega-lite", "6.4.1")``); the keys are
    those of Altair's ``VEGA_DEBUG`` object. When no snippet names a version, the installed
    Altair's versions are used.

    Raises
    ------
    NumalabError
        When two charts of the notebook ask for different versions of a library.
    """
    import altair as alt

    found: dict = {}
    for out in _chart_outputs(nb):
        text = out.get("data", {}).get("text/html", "")
        text = "".join(text) if isinstance(text, list) else text
        for lib, version in _LOAD.findall(text):
            key = lib.replace("-", "") + "_version"
            if found.setdefault(key, version) != version:
                raise NumalabError(f"charts ask for two versions of {lib}: {found[key]} and "
                                   f"{version}; re-run the notebook with one Altair",
                                   input=lib)
    found.setdefault("vega_version", alt.VEGA_VERSION)
    found.setdefault("vegalite_version", alt.VEGALITE_VERSION)
    found.setdefault("vegaembed_version", alt.VEGAEMBED_VERSION)
    return found


def js_error_collector() -> str:
    """A ``<script>`` that records every JavaScript error of the page in the DOM.

    Uncaught errors, failed resource loads (capture phase), unhandled promise rejections and
    ``console.error`` calls are appended, one per line, to a hidden ``<pre
    id="numalab-js-errors">``, so a headless browser's ``--dump-dom`` shows them.
    """
    return """<script type="text/javascript">
(function () {
  function box() {
    var b = document.getElementById("numalab-js-errors");
    if (!b) {
      b = document.createElement("pre");
      b.id = "numalab-js-errors";
      b.hidden = true;
      (document.body || document.documentElement).appendChild(b);
    }
    return b;
  }
  function note(kind, msg) {
    try { box().appendChild(document.createTextNode(kind + ": " + String(msg) + "\\n")); } catch (e) {}
  }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) { note("resource", t.src || t.href); }
    else { note("error", (e.message || e) + (e.filename ? " (" + e.filename + ":" + e.lineno + ")" : "")); }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason; note("unhandledrejection", r && r.message ? r.message : r);
  });
  var original = console.error;
  console.error = function () {
    note("console.error", Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
})();
</script>"""


# --------------------------------------------------------------------------- titles

def _plain(text: str) -> str:
    """Markdown inline markup reduced to plain text (links, code, emphasis, HTML tags)."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    return " ".join(text.split())


def _markdown_lines(nb):
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            in_fence = False
            for line in cell.source.splitlines():
                if line.lstrip().startswith(("```", "~~~")):
                    in_fence = not in_fence
                    continue
                if not in_fence:
                    yield line
            yield ""


def notebook_title(nb, fallback: str) -> str:
    """The first Markdown heading of the notebook (plain text), else ``fallback``."""
    for line in _markdown_lines(nb):
        m = _HEADING.match(line)
        if m and _plain(m.group(1)):
            return _plain(m.group(1))
    return fallback


def notebook_summary(nb, limit: int = 200) -> str:
    """One line: ``metadata.numalab.summary`` if set, else the first Markdown paragraph that is
    not a heading, as plain text, cut at ``limit`` characters."""
    meta = nb.get("metadata", {}).get("numalab", {})
    text = meta.get("summary") if isinstance(meta, dict) else None
    if not text:
        para: list[str] = []
        for line in _markdown_lines(nb):
            stripped = line.strip()
            if _HEADING.match(line) or not stripped or stripped.startswith(("|", "---", ">")):
                if para:
                    break
                continue
            para.append(stripped.lstrip("-*+ "))
        text = " ".join(para)
    text = _plain(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# --------------------------------------------------------------------------- export

def _offline_outputs(nb):
    """Copy of ``nb`` fit for export: widget views replaced by a note, no widget state, and
    Altair's CDN fallback paths neutralised.

    ipywidgets views need a live kernel (and a widget manager from a CDN): each becomes a short
    note saying so, instead of an empty box or the widget's Python repr.

    Outputs marked live-only (:func:`drop_live_only`) are dropped.

    Altair's snippet keeps jsdelivr URLs that it only uses when ``VEGA_DEBUG`` does not match
    (never in these reports); they are rewritten to the unloadable ``numalab-offline:`` scheme
    so the file names no CDN and, should they ever be used, the failure shows as an error.
    Altair's random chart ids are renumbered so that a notebook with deterministic outputs
    gives a byte-identical report.
    """
    nb = drop_live_only(copy.deepcopy(nb))
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", ()) if cell.get("cell_type") == "code" else ():
            if _WIDGET_VIEW in out.get("data", {}):
                out["data"] = {"text/html": _WIDGET_NOTE}
    ids: dict = {}
    for out in _chart_outputs(nb):
        data = out["data"]
        if "text/html" in data:
            text = data["text/html"]
            text = "".join(text) if isinstance(text, list) else text
            text = _CDN_IN_SNIPPET.sub('"numalab-offline:', text)
            # Altair's random element ids, numbered in page order: same notebook, same file.
            data["text/html"] = _ALTAIR_ID.sub(
                lambda m: ids.setdefault(m.group(0), f"altair-viz-{len(ids) + 1}"), text)
    return nb


def network_references(html: str) -> list[str]:
    """URLs that the page would load from the network, and CDN names anywhere in it.

    Plain hyperlinks (``<a href>``) are allowed; script, stylesheet, image, frame and media
    sources with an ``http(s)://`` or ``//`` URL are not, nor any mention of a CDN host.

    Examples
    --------
    >>> network_references('<a href="https://kernel.org">k</a><script src="https://unpkg.com/x.js"></script>')
    ['https://unpkg.com/x.js', 'unpkg.com']
    """
    found = [m.group(3) for m in _RESOURCE_ATTR.finditer(html)]
    lower = html.lower()
    found += [host for host in _CDN_HOSTS if host in lower]
    return found


def export_html(nb, *, title: str, summary: str = "", name: str = "notebook", path=".") -> str:
    """Self-contained HTML of an executed notebook (one file, all JavaScript inline).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        Executed notebook (not modified).
    title, summary : str
        Page title and one-line summary (also stored in ``<meta name="numalab-...">``).
    name : str
        Notebook name (without extension), for nbconvert.
    path : path-like
        Notebook folder, to inline images that Markdown cells reference by relative path.
    """
    from nbconvert import HTMLExporter

    charts = count_charts(nb)
    versions = chart_versions(nb) if charts else None
    nb = _offline_outputs(nb)
    nb.metadata["title"] = title
    esc = functools.partial(_html.escape, quote=True)
    meta = "\n".join(f'<meta name="numalab-{k}" content="{esc(str(v))}">' for k, v in (
        ("report", "1"), ("title", title), ("summary", summary), ("charts", charts)))
    head_js = js_error_collector() + ("\n" + vega_head(versions) if charts else "")
    exporter = HTMLExporter(template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES)],
                            embed_images=True, theme="light")
    body, _ = exporter.from_notebook_node(nb, resources={
        "metadata": {"name": name, "path": str(path)},
        "numalab": {"head_meta": meta, "head_js": head_js}})
    return body


# --------------------------------------------------------------------------- files

def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`numalab._io.atomic_write`)."""
    atomic_write(path, text)


def _read_meta(path: pathlib.Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(20000)
    except (OSError, UnicodeDecodeError):
        return None
    # nbconvert re-serialises the page with BeautifulSoup: attribute order is not ours.
    meta = {}
    for tag in _META_TAG.findall(head.split("</head>")[0]):
        attrs = {k.lower(): _html.unescape(v) for k, v in _META_ATTR.findall(tag)}
        if attrs.get("name", "").startswith("numalab-") and "content" in attrs:
            meta[attrs["name"][len("numalab-"):]] = attrs["content"]
    return meta if meta.get("report") == "1" else None


def write_index(out, failures=()) -> pathlib.Path:
    """Write ``out/index.html``: every numalab report in ``out`` (sorted by file name) with its
    title, one-line summary and chart count, then the notebooks that failed in this run."""
    out = pathlib.Path(out)
    rows = []
    for path in sorted(out.glob("*.html")):
        if path.name == "index.html":
            continue
        meta = _read_meta(path)
        if meta is None:
            continue
        charts = meta.get("charts", "0")
        rows.append(
            f'<li><a href="{_html.escape(path.name)}">{_html.escape(meta.get("title", path.stem))}</a>'
            f' <span class="meta">{_html.escape(charts)} chart{"" if charts == "1" else "s"}</span>'
            f'<br><span class="summary">{_html.escape(meta.get("summary", ""))}</span></li>')
    failed = [f"<li>{_html.escape(f.message())}</li>" for f in failures]
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1.0">',
             "<title>numalab reports</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;"
             "padding:0 1em;line-height:1.4}li{margin:.8em 0}.meta{color:#666;font-size:.9em}"
             ".summary{color:#333}.failed li{color:#a00}</style>",
             "</head>", "<body>", "<h1>numalab reports</h1>",
             "<p>Each report is one self-contained file: it opens with no network.</p>"]
    parts.append('<ul class="reports">' + "\n".join(rows) + "</ul>" if rows
                 else "<p>No reports yet.</p>")
    if failed:
        parts += ["<h2>Notebooks that failed in the last run (no report)</h2>",
                  '<ul class="failed">' + "\n".join(failed) + "</ul>"]
    parts += ["</body>", "</html>", ""]
    index = out / "index.html"
    atomic_write_text(index, "\n".join(parts))
    return index


def build_reports(notebooks=None, out="reports", *, timeout: float = DEFAULT_TIMEOUT,
                  kernel_name: str = KERNEL_NAME, on_report=None, on_failure=None) -> RunResult:
    """Execute notebooks and write one offline HTML report each, plus ``index.html``.

    Parameters
    ----------
    notebooks : sequence of path-like, optional
        Notebooks to run, in this order; default: :func:`default_notebooks`.
    out : path-like
        Output folder (created if missing). Report of ``x/NAME.ipynb`` is ``out/NAME.html``.
    timeout : float
        Seconds allowed per cell.
    on_report, on_failure : callable, optional
        Called with each :class:`Report` / :class:`NotebookFailure` as soon as it is known.

    Returns
    -------
    RunResult
        A failing notebook gets no report (an older report of it is removed); the other
        notebooks are still reported and the index is always written.

    Raises
    ------
    NumalabError
        Before running anything: a named notebook does not exist, two notebooks would write the
        same report (or ``index.html``), the timeout is not positive, or ``out`` cannot be
        created.
    """
    if not timeout > 0:
        raise NumalabError("timeout must be a positive number of seconds", input=str(timeout))
    paths = default_notebooks() if notebooks is None else [pathlib.Path(p) for p in notebooks]
    seen: dict = {}
    for p in paths:
        if not p.is_file():
            raise NumalabError("no such notebook", input=str(p))
        if p.stem == "index":
            raise NumalabError("a notebook named index would overwrite index.html; rename it",
                               input=str(p))
        if p.stem in seen and seen[p.stem] != p.resolve():
            raise NumalabError(f"two notebooks would write the same report {p.stem}.html "
                               f"(also {seen[p.stem]})", input=str(p))
        seen[p.stem] = p.resolve()
    out = pathlib.Path(out)
    check_output_path(out, kind="folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):  # can we write there at all? (before hours of work)
            pass
    except OSError as e:
        raise NumalabError(f"cannot write in the output folder: {e.strerror}", input=str(out)) from None
    reports, failures, removed = [], [], []
    # Ctrl-C reaches the notebook's kernel too (same process group): the cell then fails with
    # KeyboardInterrupt, which must not count as the notebook's failure (its old report would be
    # removed and the next notebook would run). Remember the interrupt and stop, keeping every
    # report already on disk; the CLI exits with status 130.
    interrupted = []

    def on_sigint(signum, frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    import signal
    import threading

    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGINT, on_sigint)
    try:
        return _build(paths, out, timeout, kernel_name, on_report, on_failure, interrupted,
                      reports, failures, removed)
    except OSError as e:  # full disk, read-only mount, the folder removed meanwhile
        raise NumalabError(f"cannot write: {e.strerror or e}", input=str(e.filename or out)) from None
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)


def _build(paths, out, timeout, kernel_name, on_report, on_failure, interrupted, reports, failures, removed):
    for p in dict.fromkeys(p.resolve() for p in paths):  # each notebook once, in order
        target = out / f"{p.stem}.html"
        t0 = time.perf_counter()
        undo = _watch_interrupts(interrupted)
        try:
            nb, failure = execute(p, timeout=timeout, kernel_name=kernel_name)
        except KeyboardInterrupt:
            interrupted.append("KeyboardInterrupt")
        except asyncio.CancelledError:  # nbclient's SIGINT cleanup cancelled the kernel start
            if not interrupted:
                raise
        finally:
            undo()
        if interrupted or (failure is not None and failure.ename == "KeyboardInterrupt"):
            raise KeyboardInterrupt  # nothing removed, nothing written for this notebook
        t1 = time.perf_counter()
        if failure is None:
            title = notebook_title(nb, p.stem)
            summary = notebook_summary(nb)
            try:
                page = export_html(nb, title=title, summary=summary, name=p.stem, path=p.parent)
                bad = network_references(page)
                if bad:
                    raise NumalabError(f"report would load from the network: {', '.join(bad[:3])}",
                                       input=_display(p))
            except NumalabError as e:
                failure = NotebookFailure(_display(p), None, "", "export", e.problem)
        if failure is not None:
            failures.append(failure)
            if target.exists() and _read_meta(target) is not None:
                target.unlink()
                removed.append(_display(target))
            if on_failure:
                on_failure(failure)
            continue
        atomic_write_text(target, page)
        t2 = time.perf_counter()
        times = cell_seconds(nb)
        slowest = max(times.items(), key=lambda kv: kv[1]) if times else ()
        report = Report(_display(p), _display(target), title, summary, count_charts(nb),
                        len(page.encode("utf-8")), round(t1 - t0, 3), round(t2 - t1, 3), slowest)
        reports.append(report)
        if on_report:
            on_report(report)
    index = write_index(out, failures)
    return RunResult(_display(out), tuple(reports), tuple(failures), _display(index), tuple(removed))
