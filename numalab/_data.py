"""Where numalab's bundled data lives, in a checkout and in an installed wheel.

The repository keeps the data at its top level (``data/topologies/*.json``, beside the package).
A wheel carries a copy inside the package (``numalab/data/topologies``), made by the build step in
``setup.py``. The package's own copy wins when both exist, so an installed numalab never picks
up an unrelated ``data/`` folder that happens to sit beside it in site-packages.

Examples
--------
>>> topologies_dir().name
'topologies'
"""
from __future__ import annotations

import pathlib

__all__ = ["topologies_dir"]

_HERE = pathlib.Path(__file__).resolve().parent


def topologies_dir() -> pathlib.Path:
    """The folder of bundled topology presets (it may be missing: then there are no presets)."""
    for p in (_HERE / "data" / "topologies", _HERE.parent / "data" / "topologies"):
        if p.is_dir():
            return p
    return _HERE / "data" / "topologies"
