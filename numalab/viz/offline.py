"""Altair charts that draw with no network, in a live JupyterLab and in the HTML reports.

Altair's default output is an HTML snippet that loads vega, vega-lite and vega-embed from
cdn.jsdelivr.net unless the page's ``VEGA_DEBUG`` object already holds exactly the versions the
snippet names (keys ``vega_version``, ``vegalite_version``, ``vegaembed_version``) and
``vegaEmbed`` is defined. At a meeting with no network the charts then show "Error loading
script". This module provides the three libraries from the installed ``vl-convert-python``
(which bundles them; no download) and the ``VEGA_DEBUG`` object naming the versions Altair asks
for:

- :func:`offline` is called in the first code cell of every notebook: its output, run in a live
  JupyterLab (trusted output), defines ``window.vegaEmbed`` and ``window.VEGA_DEBUG``, so every
  chart after it renders offline. The output is marked :data:`LIVE_ONLY` and is dropped by
  :mod:`numalab.report` (stored notebook outputs and HTML reports, which inline the bundle once
  in their head instead).
- :func:`vega_head` is that head of the HTML reports.

Examples
--------
>>> out = {"output_type": "display_data", "data": {}, "metadata": LIVE_ONLY}
>>> is_live_only(out), is_live_only({"output_type": "stream", "text": "x"})
(True, False)
"""
from __future__ import annotations

import functools
import json
import re

from ..errors import NumalabError

__all__ = ["LIVE_ONLY", "VERSION_KEYS", "Offline", "altair_versions", "check_versions", "is_live_only",
           "offline", "vega_bundle", "vega_head", "vega_js"]

#: Output metadata of :func:`offline`: the output is for a live kernel's page only, never stored.
LIVE_ONLY = {"numalab": {"live_only": True}}
#: Keys of Altair's ``VEGA_DEBUG`` object (Altair's snippet: ``lib.replace("-", "") + "_version"``).
VERSION_KEYS = ("vega_version", "vegalite_version", "vegaembed_version")


def is_live_only(output) -> bool:
    """Is this notebook output (a dict) marked :data:`LIVE_ONLY`?"""
    meta = output.get("metadata") if hasattr(output, "get") else None
    numalab = meta.get("numalab") if hasattr(meta, "get") else None
    return bool(hasattr(numalab, "get") and numalab.get("live_only") is True)


def altair_versions() -> dict:
    """The vega, vega-lite and vega-embed versions the installed Altair's snippet asks for."""
    import altair as alt

    return {"vega_version": alt.VEGA_VERSION, "vegalite_version": alt.VEGALITE_VERSION,
            "vegaembed_version": alt.VEGAEMBED_VERSION}


def _matches(wanted: str, have: str) -> bool:
    """Does an installed version ``have`` satisfy the (possibly partial) version ``wanted``?

    >>> _matches("6", "6.2.0"), _matches("6.2", "6.20.1")
    (True, False)
    """
    w, h = wanted.split("."), have.split(".")
    return h[:len(w)] == w


def check_versions(versions: dict) -> tuple:
    """``(vega-lite minor, {key: installed version})`` of the vl-convert bundle that satisfies
    ``versions`` (a ``VEGA_DEBUG``-like dict); :class:`NumalabError` when none does."""
    import vl_convert

    vl = versions["vegalite_version"]
    vl_minor = ".".join(vl.split(".")[:2])
    offered = vl_convert.get_vegalite_versions()
    if vl_minor not in offered:
        raise NumalabError(f"charts need vega-lite {vl} but the installed vl-convert-python "
                           f"bundles only {', '.join(offered)}", input="vega-lite")
    have = {"vega_version": vl_convert.get_vega_version(),
            "vegaembed_version": vl_convert.get_vega_embed_version()}
    for key, installed in have.items():
        if not _matches(versions[key], installed):
            raise NumalabError(f"charts need {key.split('_')[0]} {versions[key]} but vl-convert-python "
                               f"bundles {installed}", input=key.split("_")[0])
    return vl_minor, have


@functools.lru_cache(maxsize=4)
def vega_bundle(vl_minor: str) -> str:
    """vl-convert's vega + vega-lite + vega-embed bundle (about 0.9 MB; takes about 2 s), safe to
    place inside a ``<script>`` element."""
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=vl_minor)
    if "</script" in bundle.lower():  # cannot happen with vl-convert 1.x; never break the page
        bundle = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)
    return bundle


def _wrapped_bundle(versions: dict) -> str:
    import vl_convert

    vl_minor, have = check_versions(versions)
    return (
        f"/* vega {have['vega_version']}, vega-lite {vl_minor}, vega-embed {have['vegaembed_version']} "
        f"(BSD-3-Clause, the Vega project) and their dependencies, bundled by vl-convert-python "
        f"{getattr(vl_convert, '__version__', '')}. Wrapped in a function so that its top-level "
        f"names stay private; it sets window.vega, window.vegaLite and window.vegaEmbed. */\n"
        f"(function () {{\n{vega_bundle(vl_minor)}\n}})();\n")


def _debug(versions: dict) -> str:
    return json.dumps({k: versions[k] for k in VERSION_KEYS})


def vega_head(versions: dict) -> str:
    """Two ``<script>`` elements for a page's head: ``VEGA_DEBUG`` and the bundle satisfying
    ``versions`` (what the HTML reports inline once)."""
    return (f'<script type="text/javascript">var VEGA_DEBUG = {_debug(versions)};</script>\n'
            f'<script type="text/javascript" id="numalab-vega-bundle">\n'
            f"{_wrapped_bundle(versions)}</script>")


def vega_js(versions: dict | None = None) -> str:
    """JavaScript that defines ``window.VEGA_DEBUG`` (``versions``, default
    :func:`altair_versions`) and ``window.vega``, ``window.vegaLite``, ``window.vegaEmbed``.

    Runs anywhere a page evaluates it (a ``<script>`` element, ``new Function``): it names the
    window explicitly instead of relying on top-level ``var``.
    """
    versions = altair_versions() if versions is None else versions
    return (f"window.VEGA_DEBUG = Object.assign(window.VEGA_DEBUG || {{}}, {_debug(versions)});\n"
            f"{_wrapped_bundle(versions)}")


class Offline:
    """Display object of :func:`offline`: trusted ``text/html`` holding one ``<script>`` (run by
    JupyterLab, Notebook 7 and VS Code as Altair's own snippet is), a ``text/plain`` line, and the
    metadata :data:`LIVE_ONLY`."""

    def __init__(self, versions: dict | None = None):
        self.versions = dict(altair_versions() if versions is None else versions)
        check_versions(self.versions)             # refuse now, not in the browser

    def __repr__(self) -> str:
        return (f"numalab.viz.offline: vega {self.versions['vega_version']}, vega-lite "
                f"{self.versions['vegalite_version']}, vega-embed {self.versions['vegaembed_version']} "
                "inlined for this page (live kernel only; not stored)")

    def _repr_mimebundle_(self, include=None, exclude=None):
        html = (f'<script type="text/javascript" class="numalab-vega-offline">\n{vega_js(self.versions)}'
                f"</script>\n")
        return {"text/html": html, "text/plain": repr(self)}, LIVE_ONLY


def offline(versions: dict | None = None) -> Offline:
    """What a notebook's first code cell shows so that its Altair charts draw with no network.

    Parameters
    ----------
    versions : dict, optional
        ``VEGA_DEBUG`` versions to provide; default those the installed Altair asks for.

    Returns
    -------
    Offline
        Display object (show it as the cell's result or with ``display``). Its output is marked
        :data:`LIVE_ONLY`: ``numalab.report`` drops it from stored notebooks and reports.

    Raises
    ------
    NumalabError
        When the installed vl-convert-python does not bundle the versions asked for.

    Examples
    --------
    >>> o = offline()
    >>> data, meta = o._repr_mimebundle_()
    >>> meta == LIVE_ONLY and "window.vegaEmbed" in data["text/html"]
    True
    """
    return Offline(versions)
