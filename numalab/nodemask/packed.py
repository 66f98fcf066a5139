"""Packed nodemasks: the nodemasks of :mod:`numalab.nodemask`, 64 node bits per ``uint64`` word.

Bit ``b`` of a nodemask is bit ``b % 64`` of word ``b // 64`` (the layout of the kernel's
``unsigned long bits[]`` on a 64-bit little-endian machine); a packed nodemask is a ``uint64``
array ``(..., W)`` with ``W = words_for(nbits)``. This is how the policy engine
(:mod:`numalab.mempolicy`) stores millions of nodemasks and rebinds them with one byte table.

The functions here carry the same names as their bool counterparts in
:mod:`numalab.nodemask` and mean the same thing; only the array type differs:

=====================================  ===================================================
``numalab.nodemask`` (``bool (..., nbits)``)  ``numalab.nodemask.packed`` (``uint64 (..., W)``)
=====================================  ===================================================
``from_nodes(ids, nbits)``             ``from_nodes(ids, nbits)``
``to_nodes(mask)``                     ``to_nodes(words, nbits=None)``
``weight(mask)``                       ``weight(words)``
``first(mask)`` (``nbits`` if empty)   ``first(words)`` (``W * 64`` if empty)
``as_mask(mask, nbits)``               ``as_words(mask, nbits)`` (also takes bool masks)
=====================================  ===================================================

Conversions: ``pack(mask) -> words`` and ``unpack(words, nbits) -> mask`` are exact inverses
for the ``nbits`` bits of the mask (the padding bits of the last word are zero).

Bit mappings are given as a destination per source bit (``remap_map``, ``relative_map``) and
applied to a batch of packed masks by ``apply_map``; they agree with
:func:`numalab.nodemask.remap` and :func:`numalab.nodemask.relative` bit for bit.

Examples
--------
>>> from numalab.nodemask import packed, parselist
>>> w = packed.from_nodes([[0, 70], [3]], 128)
>>> w.shape, packed.to_nodes(w).tolist(), packed.weight(w).tolist()
((2, 2), [[0, 70], [3, -1]], [2, 1])
>>> bool((packed.unpack(packed.pack(parselist("1-3,65", 66)), 66) == parselist("1-3,65", 66)).all())
True
"""
from __future__ import annotations

import numpy as np

from ..errors import NumalabError
from . import base

__all__ = [
    "words_for", "pack", "unpack", "as_words", "from_nodes", "to_nodes", "weight", "first",
    "relative_map", "remap_map", "apply_map",
]


def words_for(nbits: int) -> int:
    """Number of 64-bit words holding ``nbits`` node bits."""
    return max(1, -(-int(nbits) // 64))


def pack(mask) -> np.ndarray:
    """Pack a bool nodemask ``(..., nbits)`` into ``(..., W)`` uint64 words (bit b -> word b//64).

    >>> pack(np.array([1, 0, 1, 1], bool)).tolist()
    [13]
    """
    mask = np.asarray(mask, bool)
    nbits = mask.shape[-1]
    W = words_for(nbits)
    if nbits != W * 64:
        pad = np.zeros(mask.shape[:-1] + (W * 64 - nbits,), bool)
        mask = np.concatenate([mask, pad], axis=-1)
    b = np.packbits(mask, axis=-1, bitorder="little")
    return np.ascontiguousarray(b).view("<u8").astype(np.uint64, copy=False)


def unpack(words, nbits: int) -> np.ndarray:
    """Unpack ``(..., W)`` uint64 words into a bool nodemask ``(..., nbits)``."""
    words = np.ascontiguousarray(np.asarray(words, np.uint64)).astype("<u8", copy=False)
    b = np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")
    return b[..., :nbits].astype(bool)


def from_nodes(ids, nbits: int) -> np.ndarray:
    """Packed nodemask(s) from node ids: :func:`numalab.nodemask.from_nodes`, then :func:`pack`.

    A sequence of ids gives ``(W,)``; a (possibly ragged) list of sequences, or an integer array
    ``(..., k)`` padded with negative ids, gives a batch ``(..., W)``.

    >>> from_nodes([[1, 3], []], 64).tolist()
    [[10], [0]]
    """
    return pack(base.from_nodes(ids, nbits))


def to_nodes(words, nbits: int | None = None) -> np.ndarray:
    """The set node ids, ascending, as :func:`numalab.nodemask.to_nodes` gives them.

    ``(weight,)`` for one packed nodemask ``(W,)``; for a batch ``(..., max_weight)`` padded
    with -1. ``nbits`` defaults to ``W * 64`` (bits past it are not reported).

    >>> to_nodes(from_nodes([0, 70], 128)).tolist()
    [0, 70]
    """
    words = np.asarray(words, np.uint64)
    return base.to_nodes(unpack(words, nbits or words.shape[-1] * 64))


def weight(words) -> np.ndarray:
    """nodes_weight over the last axis of packed words."""
    return np.bitwise_count(np.asarray(words, np.uint64)).sum(axis=-1, dtype=np.int64)


def first(words) -> np.ndarray:
    """first_node(): lowest set bit of each packed nodemask, or ``W*64`` (MAX_NUMNODES) if empty.

    >>> first(from_nodes([[70, 5], [], [63]], 128)).tolist()
    [5, 128, 63]
    """
    words = np.asarray(words, np.uint64)
    W = words.shape[-1]
    nz = words != 0
    widx = np.where(nz.any(axis=-1), nz.argmax(axis=-1), W)
    w = np.take_along_axis(words, np.minimum(widx, W - 1)[..., None], axis=-1)[..., 0]
    with np.errstate(over="ignore"):                     # 0 wraps around: harmless, masked below
        low = w & (~w + np.uint64(1))                    # isolate the lowest set bit
        pos = np.bitwise_count(low - np.uint64(1)).astype(np.int64)
    return np.where(widx < W, widx * 64 + pos, W * 64)


def _nth(mask_bool_row: np.ndarray) -> np.ndarray:
    """Positions of the set bits of one bool nodemask (``bitmap_ord_to_pos`` for every ordinal)."""
    return np.flatnonzero(mask_bool_row)


def relative_map(rel_words, nbits: int) -> np.ndarray:
    """Destination of every source bit under ``mpol_relative_nodemask(., user, rel)``.

    The kernel folds the user mask modulo ``weight(rel)`` (bitmap_fold) and maps the folded bits
    onto the set bits of ``rel`` (bitmap_onto): bit ``b`` goes to the ``(b mod weight)``-th set
    bit of ``rel``. An empty ``rel`` is a division by zero in the kernel: refused here.
    """
    pos = _nth(unpack(rel_words, nbits))
    if pos.size == 0:
        raise NumalabError("relative nodemask onto an empty set: the kernel divides by zero "
                           "(bitmap_fold with weight 0)", input="rel")
    return pos[np.arange(nbits) % pos.size]


def remap_map(old_words, new_words, nbits: int) -> np.ndarray:
    """Destination of every bit under ``nodes_remap(., old, new)`` (bitmap_remap).

    A bit of ``old`` with ordinal ``k`` goes to the ``(k mod weight(new))``-th bit of ``new``; a bit
    outside ``old`` (or any bit when ``new`` is empty) maps to itself.
    """
    old = unpack(old_words, nbits)
    newpos = _nth(unpack(new_words, nbits))
    dest = np.arange(nbits)
    if newpos.size:
        ordi = np.cumsum(old) - 1
        dest = np.where(old, newpos[np.maximum(ordi, 0) % newpos.size], dest)
    return dest


_BYTE_BITS = ((np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1).astype(bool)  # (256, 8)


def apply_map(words, dest, nbits: int) -> np.ndarray:
    """Move every set bit ``b`` of packed nodemasks to ``dest[b]`` (OR-combined); ``dest<0`` drops.

    Vectorized with one 256-entry lookup table per used byte of the nodemask: a bit mapping is
    the common form of every rebind (remap, fold+onto) once the old and new mems are fixed.
    """
    words = np.asarray(words, np.uint64)
    shape = words.shape
    words2 = words.reshape(-1, shape[-1])
    W = shape[-1]
    out = np.zeros_like(words2)
    if words2.shape[0] == 0:
        return out.reshape(shape)
    dest = np.asarray(dest, np.int64)
    full = np.full(W * 64, -1, np.int64)
    full[: dest.size] = dest
    used = np.bitwise_or.reduce(words2, axis=0).astype("<u8").view(np.uint8)   # (W*8,)
    for byte in np.flatnonzero(used):
        d = full[byte * 8: byte * 8 + 8]
        contrib = np.zeros((8, W), np.uint64)
        ok = d >= 0
        contrib[np.flatnonzero(ok), d[ok] // 64] = np.left_shift(np.uint64(1), (d[ok] % 64).astype(np.uint64))
        table = np.bitwise_or.reduce(np.where(_BYTE_BITS[:, :, None], contrib[None], np.uint64(0)), axis=1)
        vals = (words2[:, byte // 8] >> np.uint64(8 * (byte % 8))) & np.uint64(0xFF)
        out |= table[vals.astype(np.intp)]
    return out.reshape(shape)


def as_words(mask, nbits, B=None) -> np.ndarray:
    """Packed words of ``mask``: bool masks ``(..., nbits)`` are packed, words pass as they are;
    with ``B``, broadcast to ``(B, W)``."""
    a = np.asarray(mask)
    if a.dtype == bool:
        if a.shape[-1] != nbits:
            raise NumalabError(f"nodemask has {a.shape[-1]} bits, expected {nbits}", input="mask")
        a = pack(a)
    a = np.asarray(a, np.uint64)
    if B is not None:
        a = np.broadcast_to(a, (B, a.shape[-1]))
    return a
