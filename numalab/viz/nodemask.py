"""Nodemask tables and Altair charts: a user nodemask carried through a cpuset change.

:func:`mapping_frame` lists, for one user nodemask and one cpuset change (old mems -> new mems),
the inputs and what the kernel's bitmap operations make of them: ``remap`` (how a policy
without mode flags follows the change, mpol_rebind_nodemask), the plain intersection with the
new mems (the starting point of MPOL_F_STATIC_NODES), ``fold``, ``onto`` and ``relative``
(MPOL_F_RELATIVE_NODES, mpol_relative_nodemask). :func:`mapping_chart` draws the same for a small
precomputed set of user masks and cpuset changes, with drop-down menus bound to Vega-Lite
parameters, so the exploration keeps working in an exported HTML report.

>>> df = mapping_frame("1-3", "0-7", "4-7", nbits=8)
>>> df.set_index("operation").loc["relative(user, new)", "list"]
'5-7'
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .. import nodemask as nm

__all__ = ["OPERATIONS", "compute", "mapping_frame", "scenario_tables", "mapping_chart",
           "DEFAULT_USERS", "DEFAULT_CHANGES"]

#: Rows of the tables and charts, in display order: (name, what it is).
OPERATIONS = (
    ("user", "the nodemask given to set_mempolicy()/mbind()"),
    ("old mems", "the cpuset's mems before the change"),
    ("new mems", "the cpuset's mems after the change"),
    ("remap(user, old, new)", "nodes_remap: the n-th old node goes to the (n mod w)-th new node"),
    ("user & new", "intersection with the new mems (MPOL_F_STATIC_NODES starts here)"),
    ("fold(user, w(new))", "nodes_fold: node b goes to b mod weight(new)"),
    ("onto(user, new)", "nodes_onto: node m goes to the m-th new node, m >= weight(new) dropped"),
    ("relative(user, new)", "mpol_relative_nodemask = onto(fold(user, w(new)), new)"),
)

#: Small default exploration set for the chart (8 nodes shown as a 16-bit mask).
DEFAULT_USERS = ("1-3", "0,2", "0-7", "5", "1,3,5,7", "6-9")
DEFAULT_CHANGES = (("0-7", "4-7"), ("0-7", "0-3"), ("0-3", "8-11"), ("1-3", "1,5-7"),
                   ("2-5", "0,2-3,5"), ("0-15", "3-5"))


def _mask(x, nbits):
    return nm.parselist(x, nbits) if isinstance(x, str) else nm.as_mask(x, nbits)


def compute(user, old, new):
    """Every row of :data:`OPERATIONS` as masks, for (batched) ``user``, ``old``, ``new``.

    Returns a dict name -> bool array of the broadcast shape (..., nbits). An empty ``new``
    leaves ``fold``/``onto``/``relative`` empty (the kernel never folds by 0: a cpuset always
    has a node).
    """
    user, old, new = nm.as_mask(user), nm.as_mask(old), nm.as_mask(new)
    shape = np.broadcast_shapes(user.shape, old.shape, new.shape)
    user, old, new = (np.broadcast_to(a, shape) for a in (user, old, new))
    w = nm.weight(new)
    has_new = (w > 0)[..., None]
    safe_new = np.where(has_new, new, True)  # placeholder where new is empty (result masked)
    folded = nm.fold(user, np.maximum(w, 1))
    return {
        "user": user,
        "old mems": old,
        "new mems": new,
        "remap(user, old, new)": nm.remap(user, old, new),
        "user & new": user & new,
        "fold(user, w(new))": folded & has_new,
        "onto(user, new)": nm.onto(user, new),
        "relative(user, new)": nm.relative(user, safe_new) & has_new,
    }


def mapping_frame(user, old, new, nbits: int = 16, *, strip: bool = True) -> pd.DataFrame:
    """One row per operation: the list form, the hex form, the weight and a bit strip.

    Parameters
    ----------
    user, old, new : str or bool array
        Kernel list syntax (parsed over ``nbits``) or masks.
    nbits : int
    strip : bool
        Add a ``bits`` column drawing the mask (``#`` set, ``.`` clear), node 0 first.

    Raises
    ------
    NumalabError
        For a list the kernel would refuse.

    Examples
    --------
    >>> mapping_frame("1,3,5", "1-5", "7-9", nbits=12)[["operation", "list"]].iloc[3].tolist()
    ['remap(user, old, new)', '7-9']
    """
    masks = compute(_mask(user, nbits), _mask(old, nbits), _mask(new, nbits))
    names = [name for name, _ in OPERATIONS]
    stack = np.stack([masks[n] for n in names])
    frame = pd.DataFrame({
        "operation": names,
        "list": nm.format_list(stack),
        "hex": nm.format_hex(stack),
        "weight": nm.weight(stack),
        "meaning": [d for _, d in OPERATIONS],
    })
    if strip:
        frame.insert(4, "bits", ["".join("#" if b else "." for b in row) for row in stack])
    return frame


def scenario_tables(users=DEFAULT_USERS, changes=DEFAULT_CHANGES, nbits: int = 16):
    """Precompute every (user, change) combination, vectorized, for the chart.

    Returns
    -------
    cells : pandas.DataFrame
        One row per SET bit: ``user``, ``change``, ``operation``, ``node``, ``kind``.
    labels : pandas.DataFrame
        One row per (user, change, operation) with the list form in ``text``.
    """
    users = list(users)
    change_names = [f"{o} -> {n}" for o, n in changes]
    U = nm.parselist(users, nbits)[:, None, :]                       # (u, 1, nbits)
    O = nm.parselist([o for o, _ in changes], nbits)[None, :, :]     # (1, c, nbits)
    N = nm.parselist([n for _, n in changes], nbits)[None, :, :]
    masks = compute(U, O, N)
    names = [name for name, _ in OPERATIONS]
    stack = np.stack([masks[n] for n in names], axis=2)              # (u, c, ops, nbits)
    iu, ic, io, node = np.nonzero(stack)
    kind = np.where(io < 3, "input", "result")
    cells = pd.DataFrame({"user": np.asarray(users)[iu], "change": np.asarray(change_names)[ic],
                          "operation": np.asarray(names)[io], "node": node, "kind": kind})
    text = nm.format_list(stack)
    gu, gc, go = np.meshgrid(np.arange(len(users)), np.arange(len(changes)), np.arange(len(names)),
                             indexing="ij")
    labels = pd.DataFrame({"user": np.asarray(users)[gu.ravel()],
                           "change": np.asarray(change_names)[gc.ravel()],
                           "operation": np.asarray(names)[go.ravel()],
                           "text": np.where(text.ravel() == "", "(empty)", text.ravel())})
    return cells, labels


def mapping_chart(users=DEFAULT_USERS, changes=DEFAULT_CHANGES, nbits: int = 16,
                  *, width: int = 420) -> alt.HConcatChart:
    """Bit grid of every operation, with drop-downs for the user mask and the cpuset change.

    The drop-downs are Vega-Lite parameters bound to HTML selects, filtering precomputed data,
    so they work in a static HTML export with no Python kernel. Data stay small (only set bits).

    >>> chart = mapping_chart(nbits=16)
    >>> sorted(p.name for p in chart.params)
    ['change', 'user']
    """
    cells, labels = scenario_tables(users, changes, nbits)
    names = [name for name, _ in OPERATIONS]
    change_names = [f"{o} -> {n}" for o, n in changes]
    p_user = alt.param(name="user", value=list(users)[0],
                       bind=alt.binding_select(options=list(users), name="user nodemask: "))
    p_change = alt.param(name="change", value=change_names[0],
                         bind=alt.binding_select(options=change_names, name="cpuset mems old -> new: "))
    chosen = (alt.datum.user == p_user) & (alt.datum.change == p_change)
    y = alt.Y("operation:N", sort=names, title=None)
    grid = pd.DataFrame([(op, b) for op in names for b in range(nbits)], columns=["operation", "node"])
    x = alt.X("node:O", title="node", sort="ascending", scale=alt.Scale(domain=list(range(nbits))))
    background = alt.Chart(grid).mark_rect(color="#eeeeee", stroke="white").encode(x=x, y=y)
    bits = alt.Chart(cells).mark_rect(stroke="white").encode(
        x=x, y=y,
        color=alt.Color("kind:N", legend=None,
                        scale=alt.Scale(domain=["input", "result"], range=["#7f7f7f", "#1f77b4"])),
        tooltip=["operation:N", "node:O", "user:N", "change:N"],
    ).transform_filter(chosen)
    left = alt.layer(background, bits).properties(width=width, height=22 * len(names),
                                                  title="nodemask bits (node 0 on the left)")
    text = alt.Chart(labels).mark_text(font="monospace").encode(
        y=alt.Y("operation:N", sort=names, axis=None), text="text:N",
    ).transform_filter(chosen).properties(width=160, height=22 * len(names), title="list form")
    return alt.hconcat(left, text).add_params(p_user, p_change)
