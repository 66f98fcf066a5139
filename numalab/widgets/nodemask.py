"""An ipywidgets panel for live nodemask exploration in JupyterLab.

Type a user nodemask and a cpuset change (old mems -> new mems) in the kernel's list syntax;
the panel shows the masks, their list and hex forms and what ``remap``, ``fold``, ``onto`` and
``relative`` make of them (:func:`numalab.viz.nodemask.mapping_frame`). A list the kernel would
refuse shows its one-line error instead. Widget callbacks need a live kernel; the exported HTML
report keeps the Altair chart of :mod:`numalab.viz.nodemask` instead.

The panel follows the protocol of :mod:`numalab.widgets` (state line, :func:`summary` line).

>>> box = panel("1-3", "0-7", "4-7", nbits=8)
>>> text_of(box)[1]
'remap 5-7 | user & new (empty) | fold 1-3 | onto 5-7 | relative 5-7'
>>> "5-7" in box.children[-1].outputs[1]["data"]["text/html"]
True
"""
from __future__ import annotations

import html

import ipywidgets as widgets
from IPython.display import HTML

from .. import nodemask as nm
from ..errors import NumalabError
from ..viz.nodemask import compute, mapping_frame
from ._panel import build, refusals, text_of

__all__ = ["panel", "summary", "render_html", "demo"]

#: The result rows named in the summary line, in order (rows of :data:`numalab.viz.nodemask.OPERATIONS`).
SUMMARY_ROWS = (("remap", "remap(user, old, new)"), ("user & new", "user & new"), ("fold", "fold(user, w(new))"),
                ("onto", "onto(user, new)"), ("relative", "relative(user, new)"))


@refusals
def summary(state: dict) -> str:
    """One line: the list form of every result mask for ``state`` (keys ``user``, ``old``,
    ``new``, ``nbits``), computed by :func:`numalab.viz.nodemask.compute`.

    >>> summary({"user": "0,2", "old": "0-3", "new": "4-5", "nbits": 8})
    'remap 4 | user & new (empty) | fold 0 | onto 4 | relative 4'
    >>> summary({"user": "0-9", "old": "0-3", "new": "4-5", "nbits": 8})[:9]
    'refused: '
    """
    nbits = int(state["nbits"])
    masks = [nm.parselist(state[k], nbits) for k in ("user", "old", "new")]
    res = compute(*masks)
    return " | ".join(f"{label} {nm.format_list(res[key]) or '(empty)'}" for label, key in SUMMARY_ROWS)


def render_html(user: str, old: str, new: str, nbits: int) -> str:
    """The panel's table as HTML: the mapping table, or the error line in red."""
    try:
        frame = mapping_frame(user, old, new, nbits=nbits, strip=nbits <= 128)
    except NumalabError as err:
        return f'<pre style="color:#b00">{html.escape(str(err))}</pre>'
    table = frame.drop(columns=["meaning"]).to_html(index=False, escape=True)
    return f'<div style="font-family:monospace">{table}</div>'


def _render(state):
    return [HTML(render_html(state["user"], state["old"], state["new"], int(state["nbits"])))]


def panel(user: str = "1-3", old: str = "0-7", new: str = "4-7", nbits: int = 16) -> widgets.VBox:
    """Text boxes for the user nodemask and the cpuset mems, and the live result table.

    Returns
    -------
    ipywidgets.VBox
        The controls, the busy indicator and the Output (last child), recomputed on every edit.
    """
    style = {"description_width": "11em"}
    last = max(1, nbits - 1)
    controls = {
        "user": widgets.Text(value=user, description="user nodemask", style=style, continuous_update=True,
                             placeholder=f"e.g. 0,2 or 0-{last}:1/4"),
        "old": widgets.Text(value=old, description="cpuset mems (old)", style=style,
                            placeholder=f"e.g. 0-{last} or 1-2"),
        "new": widgets.Text(value=new, description="cpuset mems (new)", style=style,
                            placeholder=f"e.g. {nbits // 2}-{last} or 0,2"),
        "nbits": widgets.BoundedIntText(value=nbits, min=1, max=4096, description="nbits (MAX_NUMNODES)",
                                        style=style),
    }
    return build("nodemask", controls, summary, _render)


def demo(nodes: int = 64) -> widgets.VBox:
    """The panel sized for ``nodes`` nodes (benchmarks/bench_widgets.py)."""
    return panel("1-3", f"0-{nodes - 1}", f"{nodes // 2}-{nodes - 1}", nbits=nodes)
