"""ipywidgets panels for live use in JupyterLab (one module per topic). The same exploration is
available in reports through Altair-bound parameters (see ``numalab.viz``).

The panel protocol
------------------
Every panel module ``numalab/widgets/NAME.py`` (``nodemask``, ``topology``, ``zonelist``,
``policy``, ...) follows it; tests/test_browser_lab.py relies on it to drive every panel of every
notebook in a real browser without knowing the panel, and benchmarks/bench_widgets.py to time it.

1. ``summary(state: dict) -> str``: a pure module function; one deterministic line computed by
   the engine from the state alone (no widget, no cache that changes the answer). Input the kernel
   or numalab refuses gives the line ``refused: <message>`` (decorate with
   :func:`numalab.widgets._panel.refusals`), never an exception.
2. The *state* is a dict of plain JSON values, enough to recompute ``summary(state)`` in another
   process: the machine as a spec that :func:`numalab.widgets._panel.machine` loads (a preset
   name, a generator call such as ``"sockets(sockets=8, nodes_per_socket=8)"``,
   or a topology dict), the
   kernel as a version string, masks as kernel list strings, flags as lists, sizes as ints.
3. On every render the panel's ``Output`` (its last child) shows first one stream output of two
   lines: ``[panel NAME] `` + ``json.dumps(state, sort_keys=True)``, then ``summary(state)``;
   then whatever else the panel draws (tables, charts). ``NAME`` is the module name, so
   ``numalab.widgets.NAME.summary`` is the function that recomputes the line.
4. Every control has a unique ``description`` (the test names controls by it). A free-text
   control carries examples of valid values in its ``placeholder`` (``"e.g. 0-3 or 1"``): the
   browser test types the first example that differs from the current value and expects a line
   that is not a refusal (without examples it falls back to a generic edit).
5. An update still running after 200 ms (:data:`numalab.widgets._panel.BUSY_AFTER_S`) shows a busy
   indicator (an HTML child with CSS class ``numalab-busy``) until the new output is drawn.
6. A callback that raises (a bug, not a refusal) shows the state line and the exception as an
   ``error`` output in the panel, where the presenter looks, and logs it; the browser test fails
   on any error output in the page.
7. Optional: ``demo(nodes: int)`` returns the panel on a machine of ``nodes`` nodes;
   benchmarks/bench_widgets.py times every module that has one at 64 and 256 nodes.

:func:`numalab.widgets._panel.build` implements 3-6: give it the controls (state key -> widget),
``summary``, an optional ``render(state) -> list`` of things to display, ``fixed`` state entries
and a ``layout``. The box it returns has the CSS classes ``numalab-panel`` and
``numalab-panel-NAME``, ``refresh(force=True)`` and ``hold()`` (change several controls, render
once).
"""
