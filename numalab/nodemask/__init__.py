"""Nodemasks as boolean bit arrays, with the kernel's exact semantics.

A nodemask is a NumPy ``bool`` array of shape ``(..., nbits)``: bit ``b`` of the last axis is
node id ``b``; the leading axes are a batch and every function here works on all of them at
once. ``nbits`` plays the role of the kernel's ``MAX_NUMNODES`` (``1 << CONFIG_NODES_SHIFT``,
1024 on Debian's x86_64 kernels).

The package is one module per concern, all re-exported here:

======================  ==========================================================================
``nodemask.base``       the type: :func:`as_mask`, :func:`from_nodes`, :func:`to_nodes`, queries
                        (:func:`weight`, :func:`first`, :func:`nth`, :func:`next_in`, ...;
                        ``include/linux/nodemask.h``, ``lib/find_bit.c``)
``nodemask.parse``      the kernel's parsers :func:`parselist` (``bitmap_parselist``) and
                        :func:`parse_hex` (``bitmap_parse``), ``lib/bitmap-str.c``: the one list
                        grammar and the one hex grammar of numalab
``nodemask.format``     :func:`format_list` (``%*pbl``) and :func:`format_hex` (``%*pb``),
                        ``lib/vsprintf.c``
``nodemask.ops``        :func:`remap`, :func:`bitremap`, :func:`onto`, :func:`fold`,
                        :func:`relative` (``lib/bitmap.c``, ``mpol_relative_nodemask``)
``nodemask.libnuma``    numactl's node strings, :func:`parse_nodestring` (a different, user-space
                        grammar, ``libnuma.c``)
``nodemask.packed``     the same nodemasks packed 64 bits per ``uint64`` word (what the policy
                        engine stores), with the same names meaning the same things, and
                        :func:`~numalab.nodemask.packed.pack` / ``unpack`` between the two forms
======================  ==========================================================================

Bad input raises :class:`~numalab.errors.NumalabError` with the kernel's errno name (``EINVAL``,
``ERANGE``, ``EOVERFLOW``), the input and the 0-based position of the problem. The scalar oracle
is :mod:`numalab.reference.nodemask`.

Examples
--------
>>> from numalab import nodemask as nm
>>> m = nm.parselist("0-3,8", 16)
>>> nm.format_list(m), nm.format_hex(m), int(nm.weight(m))
('0-3,8', '010f', 5)
>>> nm.format_list(nm.remap(nm.parselist("1,5,7", 16), nm.parselist("4-7", 16), nm.parselist("12-15", 16)))
'1,13,15'
>>> nm.format_list(nm.relative(nm.parselist("1-3", 8), nm.parselist("4-7", 8)))
'5-7'
"""
from __future__ import annotations

from . import packed
from .base import (DEFAULT_NBITS, as_mask, complement, first, from_nodes, intersects, is_empty,
                   next_in, next_node, nth, ordinal, subset, to_nodes, weight)
from .format import format_hex, format_list
from .libnuma import parse_nodestring
from .ops import bitremap, fold, onto, relative, remap
from .parse import parse_hex, parselist

__all__ = [
    "packed",  # the submodule, re-exported: nodemask.packed.* is the packed form
    "DEFAULT_NBITS",
    "parselist", "parse_hex", "format_list", "format_hex", "parse_nodestring",
    "from_nodes", "to_nodes", "as_mask",
    "weight", "first", "next_node", "next_in", "nth", "ordinal",
    "remap", "bitremap", "onto", "fold", "relative",
    "intersects", "subset", "is_empty", "complement",
]
