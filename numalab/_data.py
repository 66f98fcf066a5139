"""Where numalab's bundled data lives, in a checkout and in an installed wheel.

The repository keeps the data at its top level (``data/topologies/*.json``, ``data/race/*.json``,
beside the package).
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

__all__ = ["data_dir", "topologies_dir", "SUBDIRS"]

#: The folders of ``data/`` that the wheel carries (see setup.py).
SUBDIRS = ("topologies", "race")

_HERE = pathlib.Path(__file__).resolve().parent


def data_dir(sub: str) -> pathlib.Path:
    """The folder ``data/SUB`` of bundled data (it may be missing: then there is no such data)."""
    for p in (_HERE / "data" / sub, _HERE.parent / "data" / sub):
        if p.is_dir():
            return p
    return _HERE / "data" / sub


def topologies_dir() -> pathlib.Path:
    """The folder of bundled topology presets (it may be missing: then there are no presets)."""
    return data_dir("topologies")
