"""An ipywidgets panel for live nodemask exploration in JupyterLab.

Type a user nodemask and a cpuset change (old mems -> new mems) in the kernel's list syntax;
the panel shows the masks, their list and hex forms and what ``remap``, ``fold``, ``onto`` and
``relative`` make of them (:func:`numalab.viz.nodemask.mapping_frame`). A list the kernel would
refuse shows its one-line error instead. Widget callbacks need a live kernel; the exported HTML
report keeps the Altair chart of :mod:`numalab.viz.nodemask` instead.

>>> box = panel("1-3", "0-7", "4-7", nbits=8)
>>> "5-7" in box.children[-1].value
True
"""
from __future__ import annotations

import html

import ipywidgets as widgets

from ..errors import NumalabError
from ..viz.nodemask import mapping_frame

__all__ = ["panel", "render_html"]


def render_html(user: str, old: str, new: str, nbits: int) -> str:
    """The panel's output as HTML: the mapping table, or the error line in red."""
    try:
        frame = mapping_frame(user, old, new, nbits=nbits, strip=nbits <= 128)
    except NumalabError as err:
        return f'<pre style="color:#b00">{html.escape(str(err))}</pre>'
    table = frame.drop(columns=["meaning"]).to_html(index=False, escape=True)
    return f'<div style="font-family:monospace">{table}</div>'


def panel(user: str = "1-3", old: str = "0-7", new: str = "4-7", nbits: int = 16) -> widgets.VBox:
    """Text boxes for the user nodemask and the cpuset mems, and the live result table.

    Returns
    -------
    ipywidgets.VBox
        Its last child is the HTML output, recomputed on every edit.
    """
    style = {"description_width": "11em"}
    w_user = widgets.Text(value=user, description="user nodemask", style=style, continuous_update=True)
    w_old = widgets.Text(value=old, description="cpuset mems (old)", style=style)
    w_new = widgets.Text(value=new, description="cpuset mems (new)", style=style)
    w_nbits = widgets.BoundedIntText(value=nbits, min=1, max=4096, description="nbits (MAX_NUMNODES)",
                                     style=style)
    out = widgets.HTML(value=render_html(user, old, new, nbits))

    def update(_change=None):
        out.value = render_html(w_user.value, w_old.value, w_new.value, int(w_nbits.value))

    for w in (w_user, w_old, w_new, w_nbits):
        w.observe(update, names="value")
    return widgets.VBox([w_user, w_old, w_new, w_nbits, out])
