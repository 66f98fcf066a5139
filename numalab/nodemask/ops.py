"""Bit mappings of ``lib/bitmap.c`` and ``mm/mempolicy.c`` over bool nodemasks.

``remap`` (``bitmap_remap``), ``bitremap`` (``bitmap_bitremap``), ``onto`` (``bitmap_onto``),
``fold`` (``bitmap_fold``) and ``relative`` (``mpol_relative_nodemask``). The kernel's
``bitmap_remap``/``bitmap_onto``/``bitmap_fold`` return without touching ``dst`` when called in
place (dst == src). These functions always return a new array, so in-place use cannot happen here.
"""
from __future__ import annotations

import numpy as np

from ..errors import NumalabError
from ._common import _CHUNK_ROWS, _cumcount, _index_array, _same_width, _short
from .base import as_mask, nth, ordinal, weight

__all__ = ["remap", "bitremap", "onto", "fold", "relative"]


def _scatter_rows(src, target):
    """out[r, t] = OR of src[r, b] over the bits b with target[r, b] == t (2-D, nbits = drop)."""
    rows, nbits = src.shape
    out = np.zeros((rows, nbits + 1), bool)
    where = np.flatnonzero(src)  # only the set bits move
    row = where // nbits
    out.reshape(-1)[row * (nbits + 1) + np.broadcast_to(target, src.shape).reshape(-1)[where]] = True
    return out[:, :nbits]


def _positions(mask):
    """Table (rows, nbits): [r, k] = the k-th set bit of row r, nbits past its weight."""
    rows, nbits = mask.shape
    table = np.full((rows, nbits), nbits, dtype=np.int32)
    r, c = np.nonzero(mask)  # row-major: the set bits of each row in ascending order
    w = np.count_nonzero(mask, axis=1)
    k = np.arange(len(r)) - np.repeat(np.cumsum(w) - w, w)
    table[r, k] = c
    return table


def _per_block(fn, *masks):
    """Broadcast ``masks`` over their batch axes and apply ``fn`` to blocks of 2-D rows."""
    nbits = masks[0].shape[-1]
    batch = np.broadcast_shapes(*(m.shape[:-1] for m in masks))
    rows = int(np.prod(batch, dtype=np.int64))
    flat = [np.broadcast_to(m, batch + (nbits,)).reshape(rows, nbits) for m in masks]
    out = np.empty((rows, nbits), bool)
    for r0 in range(0, rows, _CHUNK_ROWS):
        out[r0:r0 + _CHUNK_ROWS] = fn(*(f[r0:r0 + _CHUNK_ROWS] for f in flat))
    return out.reshape(batch + (nbits,))


def _map_bits(src, target):
    """Apply one bit mapping shared by every row (source bit b -> target[b]; nbits = dropped).

    The mapping becomes one 256-entry lookup table per source byte; each row is then mapped 8
    bits at a time (a loop over the nbits/8 source bytes, vectorized over all rows).
    """
    nbits = src.shape[-1]
    nbytes = (nbits + 7) // 8
    onehot = np.zeros((nbytes * 8, nbits + 1), bool)
    onehot[np.arange(nbits), target] = True
    onehot = onehot[:, :nbits].reshape(nbytes, 8, nbits)
    values = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(np.uint8)  # (256, 8)
    # lut[j, v]: packed destination bits of source byte j holding value v
    lut = np.packbits(np.einsum("vk,jkt->jvt", values, onehot.astype(np.uint8)) > 0,
                      axis=-1, bitorder="little")
    packed = np.packbits(src, axis=-1, bitorder="little")
    out = np.zeros(packed.shape, np.uint8)
    for j in range(nbytes):  # 8 source bits per step, every row at once
        out |= lut[j][packed[..., j]]
    return np.unpackbits(out, axis=-1, count=nbits, bitorder="little").view(bool)



def _remap_target(old, new):
    """Destination of every bit under bitmap_remap(): nth(new, ord(b, old) % w(new)), or b.

    1-D ``old``/``new`` give one shared mapping (nbits,); 2-D blocks give one per row.
    """
    nbits = old.shape[-1]
    w = np.count_nonzero(new, axis=-1)
    mapped = old & (w > 0)[..., None]
    ordv = _cumcount(old) - 1
    k = np.where(mapped, ordv % np.maximum(w, 1).astype(ordv.dtype)[..., None], 0)
    if new.ndim == 1:
        dest = np.flatnonzero(new)
        to = dest[k] if len(dest) else k
    else:  # row by row lookup in the table of set-bit positions of new
        base = (np.arange(k.shape[0]) * nbits)[:, None]
        to = _positions(new).reshape(-1)[base + k]
    return np.where(mapped, to, np.arange(nbits))


def remap(src, old, new):
    """``nodes_remap`` / ``bitmap_remap``: move ``src`` from the set ``old`` to the set ``new``.

    Bit ``b`` of ``src`` that is the ``n``-th set bit of ``old`` goes to the ``(n mod w)``-th set
    bit of ``new`` (``w`` = weight of ``new``); bits not in ``old``, or every bit when ``new`` is
    empty, stay where they are. The default way a memory policy follows a cpuset change
    (``mpol_rebind_nodemask``). All three broadcast over the batch axes.

    Examples
    --------
    >>> from numalab.nodemask import format_list, parselist
    >>> p = lambda t: parselist(t, 16)
    >>> format_list(remap(p("1,5,7"), p("4-7"), p("12-15")))
    '1,13,15'
    >>> format_list(remap(p("4-7"), p("4-7"), p("0-1")))
    '0-1'
    """
    src, old, new = as_mask(src), as_mask(old), as_mask(new)
    _same_width(src, old, new)
    if old.ndim == 1 and new.ndim == 1:
        return _map_bits(src, _remap_target(old, new))
    return _per_block(lambda s, o, n: _scatter_rows(s, _remap_target(o, n)), src, old, new)


def bitremap(bit, old, new):
    """``node_remap`` / ``bitmap_bitremap``: where one bit goes under the :func:`remap` mapping.

    >>> from numalab.nodemask import parselist
    >>> int(bitremap(5, parselist("4-7", 16), parselist("12-15", 16)))
    13
    """
    old, new = as_mask(old), as_mask(new)
    _same_width(old, new)
    bit = _index_array(bit, "bit")
    w = weight(new)
    n = ordinal(old, bit)
    target = nth(new, np.where(n < 0, 0, n) % np.maximum(w, 1))
    return np.where((n < 0) | (w == 0), bit, target)


def _onto_target(relmap):
    """Shared mapping of bitmap_onto(): bit m goes to nth(relmap, m), bits >= weight vanish."""
    nbits = relmap.shape[-1]
    target = np.full(nbits, nbits)
    dest = np.flatnonzero(relmap)
    target[:len(dest)] = dest
    return target


def onto(orig, relmap):
    """``nodes_onto`` / ``bitmap_onto``: the ``m``-th set bit of ``relmap`` is set iff bit ``m``
    of ``orig`` is. Bits of ``orig`` at or above ``weight(relmap)`` vanish.

    >>> from numalab.nodemask import format_list, parselist
    >>> format_list(onto(parselist("1,3,5,7,9,11", 64), parselist("30-39", 64)))
    '31,33,35,37,39'
    """
    orig, relmap = as_mask(orig), as_mask(relmap)
    _same_width(orig, relmap)
    if relmap.ndim == 1:
        return _map_bits(orig, _onto_target(relmap))

    def rows(o, r):  # bit n of relmap takes bit ord(n) of orig
        m = np.maximum(_cumcount(r) - 1, 0).astype(np.intp)
        return r & np.take_along_axis(o, m, axis=-1)

    return _per_block(rows, orig, relmap)


def fold(orig, sz):
    """``nodes_fold`` / ``bitmap_fold``: bit ``b`` of ``orig`` sets bit ``b mod sz``.

    ``sz`` may be an array broadcast over the batch axes. The kernel divides by ``sz``: a size
    of 0 with any bit set raises (the kernel would divide by zero).

    >>> from numalab.nodemask import format_list, parselist
    >>> format_list(fold(parselist("0,9,18,27", 32), 10))
    '0,7-9'
    """
    orig = as_mask(orig)
    nbits = orig.shape[-1]
    sz = _index_array(sz, "sz")
    if (sz < 0).any():
        raise NumalabError("fold size must not be negative", input=_short(sz))
    if np.any((sz == 0) & orig.any(axis=-1)):
        raise NumalabError("fold by a size of 0 divides by zero", input=_short(sz))
    if sz.ndim == 0:
        return _map_bits(orig, np.arange(nbits) % max(int(sz), 1))
    size = np.broadcast_to(np.maximum(sz, 1), np.broadcast_shapes(sz.shape, orig.shape[:-1]))
    # carry the per-row size in a mask-shaped array so it blocks with the rows
    return _per_block(lambda o, z: _scatter_rows(o, np.arange(nbits) % z[:, :1]),
                      orig, np.broadcast_to(size[..., None], size.shape + (nbits,)))


def relative(user, allowed):
    """``mpol_relative_nodemask``: ``onto(fold(user, weight(allowed)), allowed)``.

    How an ``MPOL_F_RELATIVE_NODES`` policy's user nodemask lands on the task's allowed nodes:
    node ``k`` of the user mask means "the ``k``-th allowed node", wrapping modulo the number of
    allowed nodes. (Computed as the single mapping b -> nth(allowed, b mod w).)

    >>> from numalab.nodemask import format_list, parselist
    >>> format_list(relative(parselist("2-5", 8), parselist("0,2-3,5", 8)))
    '0,2-3,5'
    >>> format_list(relative(parselist("1-3", 8), parselist("4-7", 8)))
    '5-7'
    """
    user, allowed = as_mask(user), as_mask(allowed)
    nbits = _same_width(user, allowed)
    w = weight(allowed)
    if np.any((w == 0) & user.any(axis=-1)):
        raise NumalabError("fold by a size of 0 divides by zero (no allowed node)", input=_short(allowed))
    if allowed.ndim == 1:
        if int(w) == 0:
            return np.zeros(user.shape, bool)
        return _map_bits(user, np.flatnonzero(allowed)[np.arange(nbits) % int(w)])

    def rows(u, a):
        ww = np.maximum(np.count_nonzero(a, axis=-1), 1)[:, None]
        return _scatter_rows(u, np.take_along_axis(_positions(a), np.arange(nbits) % ww, axis=-1))

    return _per_block(rows, user, allowed)
