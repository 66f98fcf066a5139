"""The widget panel protocol: one helper that every panel in :mod:`numalab.widgets` is built with.

A panel is a set of controls (ipywidgets with unique ``description``), a busy indicator and an
``Output``. Its *state* is a dict of plain JSON values read from the controls plus fixed entries
(the machine as a loadable spec, sizes, ...). On every render the Output shows, first, one stream
output holding two lines::

    [panel NAME] {"kernel": "6.1", "machine": "cxl4", ...}      <- json.dumps(state, sort_keys=True)
    <summary(state)>                                              <- the module's pure summary line

and then whatever the panel draws (tables, charts). ``NAME`` is the panel's module name in
``numalab.widgets``, so ``numalab.widgets.NAME.summary(state)`` recomputes the second line in
any process (tests/test_browser_lab.py does exactly that against the page). An update that
takes longer than :data:`BUSY_AFTER_S` shows a busy indicator until it is drawn; a callback that
raises shows the state line and the exception as an ``error`` output in the panel (where the
presenter looks: JupyterLab would otherwise send it to the log console only) and logs it.

Examples
--------
>>> import ipywidgets as w
>>> def summary(state):
...     return f"twice {state['x']} is {2 * state['x']}"
>>> x = w.IntText(value=2, description="x")
>>> box = build("demo", {"x": x}, summary)
>>> print(box.children[-1].outputs[0]["text"], end="")
[panel demo] {"x": 2}
twice 2 is 4
>>> x.value = 5
>>> text_of(box)[1]
'twice 5 is 10'
"""
from __future__ import annotations

import contextlib
import functools
import html
import json
import logging
import threading
import time
import traceback

import ipywidgets as widgets
from IPython.core.formatters import format_display_data

from ..errors import NumalabError

__all__ = ["MAX_CHART_NODES", "BUSY_AFTER_S", "BUSY_HTML", "build", "refusals", "machine", "machine_spec",
           "machine_key", "matrix_html", "cache", "clear_caches", "text", "display", "text_of", "state_of"]

#: Panels draw node-by-node matrices (distances, zonelists) and charts up to this many nodes;
#: above it they show the tables and a note (a 256 x 256 matrix is unreadable, and is 65536 cells).
MAX_CHART_NODES = 64
#: The Vega-Lite mime type JupyterLab 4 renders by itself (offline), and the schema its specs say.
VEGALITE_V5_MIME = "application/vnd.vegalite.v5+json"
VEGALITE_V5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
#: An update still running after this many seconds shows the busy indicator.
BUSY_AFTER_S = 0.2
#: What the busy indicator shows while an update runs (empty otherwise).
BUSY_HTML = '<span class="numalab-busy-on" style="color:#a60">&#x23F3; updating&hellip;</span>'
PREFIX = "[panel "

log = logging.getLogger("numalab.widgets")


def text(line: str, name: str = "stdout") -> dict:
    """An output of the Output widget: a line of text."""
    return {"output_type": "stream", "name": name, "text": line + "\n"}


def display(obj) -> dict:
    """An output of the Output widget: what ``display(obj)`` shows (all its mime types).

    An Altair chart becomes the Vega-Lite mime bundle that JupyterLab draws with the renderer it
    ships (``application/vnd.vegalite.v5+json``): it draws with no network, where Altair's default
    HTML output loads vega from a CDN and shows "Error loading script" at a meeting without one.
    The spec is converted here (``to_dict``) so that its errors (e.g. MaxRowsError) raise instead
    of being printed aside and leaving a chart-less output behind, and it is not validated against
    the Vega-Lite schema on every update (about half the time of a chart update at 64 nodes; the
    charts are validated in the tests of :mod:`numalab.viz`).

    >>> import altair as alt, pandas as pd
    >>> out = display(alt.Chart(pd.DataFrame({"a": [1]})).mark_point().encode(x="a:Q"))
    >>> sorted(out["data"])
    ['application/vnd.vegalite.v5+json', 'text/plain']
    """
    import altair as alt

    if isinstance(obj, alt.TopLevelMixin):
        spec = obj.to_dict(validate=False, context={"pre_transform": False})
        spec["$schema"] = VEGALITE_V5_SCHEMA
        return {"output_type": "display_data", "metadata": {},
                "data": {VEGALITE_V5_MIME: spec, "text/plain": f"<{type(obj).__name__}: a Vega-Lite chart>"}}
    data, metadata = format_display_data(obj)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def refusals(summary):
    """Decorator for a panel's ``summary``: a :class:`NumalabError` (input the kernel or numalab
    refuses) becomes the line ``refused: <message>`` instead of an exception, so the summary is a
    total function of the state.

    >>> @refusals
    ... def s(state):
    ...     raise NumalabError("bad list", input="x")
    >>> s({}).startswith("refused: ")
    True
    """
    @functools.wraps(summary)
    def wrapper(state):
        try:
            return summary(state)
        except NumalabError as err:
            return f"refused: {err}"
    return wrapper


def matrix_html(cells, shade, *, title: str, rows: str, cols: str, row_labels=None, col_labels=None):
    """A node-by-node matrix as one HTML table (an ``IPython.display.HTML``): ``cells`` (2-D, the
    text of each cell; ``None`` leaves it empty) on a background from white to blue by ``shade``
    (2-D, 0..1). Built with string joins, it redraws a 64 x 64 matrix in a few milliseconds where
    the Altair heatmap with text takes a few hundred: panels use it, reports keep the charts.

    >>> import numpy as np
    >>> h = matrix_html(np.array([[0, 1]]), np.array([[0.0, 1.0]]), title="t", rows="r", cols="c")
    >>> '<td class="nl4">1</td>' in h.data
    True
    """
    from IPython.display import HTML

    import numpy as np

    cells = np.asarray(cells, object)
    level = np.clip(np.rint(np.asarray(shade, float) * 4), 0, 4).astype(int)
    rl = list(range(cells.shape[0])) if row_labels is None else list(row_labels)
    cl = list(range(cells.shape[1])) if col_labels is None else list(col_labels)
    colours = ["#ffffff", "#dbe9f6", "#a6cde4", "#5ba3d0", "#2171b5"]
    style = "".join(f".nlm .nl{k}{{background:{c};{'color:white;' if k >= 3 else ''}}}" for k, c in enumerate(colours))
    head = "".join(f"<th>{c}</th>" for c in cl)
    body = []
    for i, r in enumerate(rl):
        tds = "".join("<td></td>" if v is None else f'<td class="nl{lv}">{v}</td>'
                      for v, lv in zip(cells[i].tolist(), level[i].tolist()))
        body.append(f"<tr><th>{r}</th>{tds}</tr>")
    return HTML(f"<style>.nlm td,.nlm th{{padding:1px 3px;font:10px monospace;text-align:center}}{style}</style>"
                f'<div class="nlm"><b>{html.escape(title)}</b> <span style="color:#666">(rows: {html.escape(rows)}; '
                f"columns: {html.escape(cols)})</span><table><tr><th></th>{head}</tr>{''.join(body)}</table></div>")


# ------------------------------------------------------------------ caches
_CACHES: list = []


def cache(maxsize: int = 16):
    """``functools.lru_cache`` for pure functions of a state's plain values (loaded machines,
    engine results shared by a summary and its tables); :func:`clear_caches` empties them all
    (benchmarks time first visits)."""
    def wrap(fn):
        cached = functools.lru_cache(maxsize=maxsize)(fn)
        _CACHES.append(cached)
        return cached
    return wrap


def clear_caches() -> None:
    """Empty every :func:`cache` of the panels."""
    for c in _CACHES:
        c.cache_clear()


# ------------------------------------------------------------------ machines in a state
_SEEDED: dict = {}


def _key(spec) -> str:
    return spec if isinstance(spec, str) else json.dumps(spec, sort_keys=True)


def machine_key(spec) -> str:
    """A hashable key of a machine spec (for caches): the spec itself or its sorted JSON."""
    return _key(spec)


@cache(maxsize=32)
def _load(key: str):
    from .. import sources

    if key.lstrip().startswith("{"):
        return sources.from_dict(json.loads(key), where="panel state")
    return sources.load(key)


def machine(spec):
    """The Topology a state's ``machine`` entry names: a preset or generator call
    (:func:`numalab.sources.load`) or a topology dict (:func:`numalab.sources.to_dict`). Loads are cached (topologies are
    immutable).

    >>> machine("cxl4").n_nodes
    4
    """
    key = _key(spec)
    if key in _SEEDED:
        return _SEEDED[key]
    return _load(key)


def machine_spec(topo):
    """The shortest plain-JSON spec that :func:`machine` turns back into a topology equal to
    ``topo``: its generator call, its preset name, else its whole dict.

    >>> from numalab import sources
    >>> machine_spec(sources.load("sockets(sockets=2, nodes_per_socket=2)"))[:8]
    'sockets('
    >>> machine_spec(sources.load("cxl4"))
    'cxl4'
    """
    from .. import sources

    candidates = []
    if isinstance(topo.source, str) and topo.source.split("(", 1)[0].isidentifier() and topo.source.endswith(")"):
        candidates.append(topo.source)
    candidates.append(topo.name)
    for c in candidates:
        try:
            if machine(c) == topo:
                return c
        except NumalabError:
            continue
    spec = sources.to_dict(topo)
    _SEEDED[_key(spec)] = topo
    return spec


# ------------------------------------------------------------------ the panel
def _plain(v):
    """A control value as plain JSON (tuples of a SelectMultiple become lists)."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item"):                      # numpy scalars
        return v.item()
    return v


def state_of(controls: dict, fixed: dict | None = None) -> dict:
    """The state: ``fixed`` entries plus every control's value as plain JSON."""
    state = dict(fixed or {})
    state.update({k: _plain(c.value) for k, c in controls.items()})
    return state


def text_of(panel) -> list:
    """The text lines of a panel's stream outputs (state line first, summary second)."""
    out = panel.children[-1]
    return "".join(o.get("text", "") for o in out.outputs if o.get("output_type") == "stream").splitlines()


def build(name: str, controls: dict, summary, render=None, *, fixed=None, layout=None, aside=None,
          busy_after: float = BUSY_AFTER_S) -> widgets.VBox:
    """A panel following the protocol (see the module docstring).

    Parameters
    ----------
    name : str
        The module name in ``numalab.widgets`` whose ``summary`` recomputes the summary line.
    controls : dict
        State key -> ipywidgets control; every ``description`` must be unique.
    summary : callable
        ``summary(state) -> str``, the module's pure summary (one line).
    render : callable, optional
        ``render(state) -> list`` of objects to display below the summary line (tables, charts;
        a str is printed as a line, an output dict made by :func:`display` is used as is, e.g.
        from a cache); a :class:`NumalabError` it raises is shown as a
        ``refused:`` line. Not called when the summary line is a refusal.
    fixed : dict, optional
        State entries that no control changes (machine spec, sizes).
    layout : callable, optional
        ``layout(controls) -> list of widgets`` arranging the controls (default: one column).
    aside : callable, optional
        ``aside(state) -> list`` like ``render``, for a costly drawing (a large chart) that depends
        on a few state entries only: it is shown in an Output of its own (CSS class
        ``numalab-panel-aside``), drawn below the panel's Output, whose outputs are replaced only
        when the new ones differ, so a change of a control it does not depend on leaves it as it
        is in the browser (no redraw). Make it cheap when nothing it depends on changed (e.g. a
        :func:`cache` keyed by those entries). Called after the panel's Output is drawn; emptied
        when the summary line is a refusal or the update failed.

    Returns
    -------
    ipywidgets.VBox
        Children: the laid-out controls, the aside Output (with ``aside``), the busy indicator
        (HTML) and the Output (last). It has
        the CSS classes ``numalab-panel`` and ``numalab-panel-NAME``, and two methods:
        ``refresh(force=True)`` renders again, and ``with hold():`` changes several controls
        with one render at the end (e.g. options of a control that depend on another).
    """
    descriptions = [c.description for c in controls.values()]
    dupes = sorted({d for d in descriptions if descriptions.count(d) > 1})
    if dupes or not all(descriptions):
        raise ValueError(f"panel {name}: every control needs a unique description (repeated: {dupes})")
    busy = widgets.HTML(value="")
    busy.add_class("numalab-busy")
    out = widgets.Output()
    out.add_class("numalab-panel-output")
    aside_out = None
    if aside is not None:
        # before the busy indicator and the Output among the children (the places the protocol
        # gives them), after them on screen (flex order)
        aside_out = widgets.Output(layout=widgets.Layout(order="1"))
        aside_out.add_class("numalab-panel-aside")
    shown = {"state": None}
    lock = threading.Lock()
    generation = [0]

    def show_busy(gen):
        with lock:
            if generation[0] == gen:
                busy.value = BUSY_HTML

    held = [0]

    @contextlib.contextmanager
    def hold():
        held[0] += 1
        try:
            yield
        finally:
            held[0] -= 1
            if not held[0]:
                refresh()

    def refresh(change=None, force=False):
        if held[0]:
            return                              # one render when the outermost hold() ends
        state = state_of(controls, fixed)
        if state == shown["state"] and not force:
            return                              # e.g. a dependent control reset to the same value
        shown["state"] = state
        with lock:
            generation[0] += 1
            gen = generation[0]
        timer = threading.Timer(busy_after, show_busy, args=(gen,))
        timer.daemon = True
        timer.start()
        head = PREFIX + f"{name}] " + json.dumps(state, sort_keys=True)
        line = None
        try:
            line = summary(state)
            items = [text(head + "\n" + line)]
            try:
                if render and not line.startswith("refused: "):
                    items += [text(obj) if isinstance(obj, str) else
                              obj if isinstance(obj, dict) and "output_type" in obj else display(obj)
                              for obj in render(state)]
            except NumalabError as err:
                items.append(text(f"refused: {err}"))
        except Exception as err:                # a bug: show it in the panel, never stale output
            log.exception("panel %s failed for state %s", name, head)
            items = [text(head), {"output_type": "error", "ename": type(err).__name__, "evalue": str(err),
                                  "traceback": traceback.format_exception(err)}]
        out.outputs = tuple(items)
        if aside_out is not None:
            _draw_aside(state, head, line if items[-1].get("output_type") != "error" else None)
        with lock:
            generation[0] += 1
            timer.cancel()
        if busy.value:
            busy.value = ""

    def _draw_aside(state, head, line):
        if line is None or line.startswith("refused: "):
            new = ()
        else:
            try:
                new = tuple(text(obj) if isinstance(obj, str) else
                            obj if isinstance(obj, dict) and "output_type" in obj else display(obj)
                            for obj in aside(state))
            except NumalabError as err:
                new = (text(f"refused: {err}"),)
            except Exception as err:            # a bug: shown where the drawing would be
                log.exception("panel %s (aside) failed for state %s", name, head)
                new = ({"output_type": "error", "ename": type(err).__name__, "evalue": str(err),
                        "traceback": traceback.format_exception(err)},)
        if new != aside_out.outputs:            # the same chart: not sent, not redrawn
            aside_out.outputs = new

    for c in controls.values():
        c.observe(refresh, names="value")
    arranged = layout(controls) if layout else list(controls.values())
    box = widgets.VBox(list(arranged) + ([aside_out] if aside_out is not None else []) + [busy, out])
    box.add_class("numalab-panel")
    box.add_class(f"numalab-panel-{name}")
    box.refresh = refresh                       # for benchmarks and tests: re-render now
    box.hold = hold                             # with box.hold(): change several controls, render once
    t = time.perf_counter()
    refresh()
    box.first_render_s = time.perf_counter() - t
    return box
