"""Synthetic machines: :mod:`numalab.sources.generators` under the name it had before ``sources``
became a package (a generator call is one more kind of source that :func:`numalab.sources.load`
reads, and the generators build through the JSON format of :mod:`numalab.sources.jsonfmt`)."""
from __future__ import annotations

from .sources.generators import (GENERATORS, RECORDED_SHAPES, cpu_plus_memory_tiers, flat, from_call, line,
                                 memoryless, mesh, ring, sockets)

__all__ = ["flat", "sockets", "ring", "line", "mesh", "cpu_plus_memory_tiers", "memoryless",
           "from_call", "GENERATORS", "RECORDED_SHAPES"]
