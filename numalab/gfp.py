"""gfp masks: which zone an allocation may use and which zonelist it walks (include/linux/gfp.h).

* :func:`gfp_names` reads a mask written as names (the one gfp grammar: names joined by ``|``);
* :func:`parse_gfp` splits a mask written as names (``"GFP_KERNEL|__GFP_THISNODE"``) or an int
  into its zone-modifier bits and ``__GFP_THISNODE``;
* :func:`gfp_zone` is the kernel's ``gfp_zone()``: the highest zone type the allocation may use
  (``highest_zoneidx``), from ``GFP_ZONE_TABLE``;
* :func:`zonelist_for` is ``gfp_zonelist()``: ``NOFALLBACK`` for ``__GFP_THISNODE``, else
  ``FALLBACK``.

The zonelists themselves are :mod:`numalab.zonelist`.

Examples
--------
>>> gfp_zone("GFP_HIGHUSER_MOVABLE"), zonelist_for("GFP_KERNEL|__GFP_THISNODE")
(3, 'NOFALLBACK')
"""
from __future__ import annotations

import re

import numpy as np

from .errors import NumalabError

__all__ = ["FALLBACK", "NOFALLBACK", "GFP_FLAGS", "GFP_NAMES", "gfp_names", "parse_gfp", "gfp_zone", "zonelist_for"]

#: The two zonelists of a node (``ZONELIST_FALLBACK``, ``ZONELIST_NOFALLBACK``).
FALLBACK = "FALLBACK"
NOFALLBACK = "NOFALLBACK"
#: Zone types of an x86_64 kernel (what :func:`gfp_zone` indexes when no topology is given).
_X86_64_ZONES = ("DMA", "DMA32", "Normal", "Movable", "Device")

#: Zone-modifier bits of include/linux/gfp.h (the same values in every modelled release) and
#: ``__GFP_THISNODE`` (whose bit value changed across releases, so it is only accepted by name).
GFP_FLAGS = {"__GFP_DMA": 0x01, "__GFP_HIGHMEM": 0x02, "__GFP_DMA32": 0x04, "__GFP_MOVABLE": 0x08,
             "__GFP_THISNODE": 0x100000}
_THISNODE = GFP_FLAGS["__GFP_THISNODE"]
#: Composite gfp masks by their zone modifiers (the reclaim/IO bits do not change the zone).
GFP_NAMES = {
    "GFP_KERNEL": 0, "GFP_KERNEL_ACCOUNT": 0, "GFP_USER": 0, "GFP_ATOMIC": 0, "GFP_NOWAIT": 0,
    "GFP_NOIO": 0, "GFP_NOFS": 0,
    "GFP_HIGHUSER": 0x02, "GFP_HIGHUSER_MOVABLE": 0x0A, "GFP_TRANSHUGE_LIGHT": 0x0A,
    "GFP_TRANSHUGE": 0x0A, "GFP_DMA": 0x01, "GFP_DMA32": 0x04,
}
# gfp_zone(): GFP_ZONE_TABLE for a 64-bit kernel without ZONE_HIGHMEM, by (DMA, HIGHMEM, DMA32,
# MOVABLE) bits; OPT_ZONE_HIGHMEM is ZONE_NORMAL there. Missing entries are the combinations the
# kernel calls invalid (GFP_ZONE_BAD: VM_BUG_ON under CONFIG_DEBUG_VM).
_GFP_ZONE_TABLE = {0x0: "Normal", 0x1: "DMA", 0x2: "Normal", 0x4: "DMA32", 0x8: "Normal",
                   0x9: "DMA", 0xA: "Movable", 0xC: "DMA32"}


def gfp_names(text) -> tuple:
    """The names of a gfp mask written as ``NAME|NAME...`` (case-insensitive, spaces around ``|``
    allowed), upper-cased, in order; each must be a composite mask of :data:`GFP_NAMES` or a flag
    of :data:`GFP_FLAGS`.

    Examples
    --------
    >>> gfp_names("gfp_kernel | __GFP_THISNODE")
    ('GFP_KERNEL', '__GFP_THISNODE')
    """
    text = str(text)
    out = []
    for part in re.split(r"\s*\|\s*", text.strip()):
        name = part.upper()
        if name not in GFP_NAMES and name not in GFP_FLAGS:
            known = ", ".join(list(GFP_NAMES) + list(GFP_FLAGS))
            raise NumalabError(f"unknown gfp flag {part!r}; known: {known}", input=text)
        out.append(name)
    return tuple(out)


def parse_gfp(gfp) -> tuple:
    """Split a gfp mask into ``(zone modifier bits, thisnode)``.

    Accepts names joined by ``|`` (``"GFP_KERNEL|__GFP_THISNODE"``, case-insensitive) or an int
    whose low four bits are the zone modifiers (``__GFP_THISNODE`` only by name: its bit value
    differs between releases).

    Examples
    --------
    >>> parse_gfp("GFP_HIGHUSER_MOVABLE"), parse_gfp("GFP_KERNEL | __GFP_THISNODE")
    ((10, False), (0, True))
    """
    if isinstance(gfp, (int, np.integer)) and not isinstance(gfp, bool):
        if gfp < 0:
            raise NumalabError("a gfp mask cannot be negative", input=gfp)
        return int(gfp) & 0xF, False
    bits, thisnode = 0, False
    for name in gfp_names(gfp):
        if name == "__GFP_THISNODE":
            thisnode = True
        else:
            bits |= GFP_NAMES[name] if name in GFP_NAMES else GFP_FLAGS[name]
    return bits, thisnode


def gfp_zone(gfp, topo=None) -> int:
    """highest_zoneidx for a gfp mask (gfp_zone(), include/linux/gfp.h), as a zone type index.

    ZONE_DMA/ZONE_DMA32 absent from the topology's zone types fall back to ZONE_NORMAL, as the
    kernel's OPT_ZONE_DMA/OPT_ZONE_DMA32 do.

    Parameters
    ----------
    gfp : str or int
        See :func:`parse_gfp`.
    topo : Topology, optional
        Only its ``zone_types`` are read; default: the zone types of an x86_64 kernel.

    Raises
    ------
    NumalabError
        An invalid combination of zone modifiers (e.g. __GFP_DMA|__GFP_DMA32).

    Examples
    --------
    >>> [gfp_zone(g) for g in ("GFP_KERNEL", "GFP_DMA32", "GFP_DMA", "GFP_HIGHUSER_MOVABLE")]
    [2, 1, 0, 3]
    """
    bits, _ = parse_gfp(gfp)
    name = _GFP_ZONE_TABLE.get(bits)
    if name is None:
        raise NumalabError("invalid combination of gfp zone modifiers (GFP_ZONE_BAD: the kernel "
                           "hits VM_BUG_ON with CONFIG_DEBUG_VM)", input=str(gfp))
    zones = tuple(topo.zone_types) if topo is not None else _X86_64_ZONES
    if name in zones:
        return zones.index(name)
    return zones.index("Normal")


def zonelist_for(gfp) -> str:
    """``"NOFALLBACK"`` for ``__GFP_THISNODE``, else ``"FALLBACK"`` (gfp_zonelist())."""
    return NOFALLBACK if parse_gfp(gfp)[1] else FALLBACK
