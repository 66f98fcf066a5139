"""The kernel's mask printers: ``%*pbl`` (list form) and ``%*pb`` (hex form), ``lib/vsprintf.c``."""
from __future__ import annotations

import functools

import numpy as np

from ._common import _CHUNK_ROWS, _hex_layout
from .base import as_mask

__all__ = ["format_list", "format_hex"]


@functools.lru_cache(maxsize=16)
def _decimal(nbits):
    """ASCII digits of 0..nbits-1, left aligned in a (nbits, width) uint8 table, and lengths."""
    text = [str(i).encode() for i in range(nbits)]
    width = max(len(t) for t in text)
    table = np.zeros((nbits, width), np.uint8)
    for i, t in enumerate(text):
        table[i, :len(t)] = np.frombuffer(t, np.uint8)
    return table, np.array([len(t) for t in text], np.int64)


def format_list(mask):
    """Print in the kernel's list form (``%*pbl``, e.g. ``cpuset.mems``, ``Mems_allowed_list``).

    Ascending decimal, a run of two or more consecutive bits as ``a-b``, comma separated, no
    newline. The empty mask prints as ``''``.

    Parameters
    ----------
    mask : array_like of bool, shape (..., nbits)

    Returns
    -------
    str or numpy.ndarray of str
        A ``str`` for one mask, an array of shape ``mask.shape[:-1]`` for a batch.

    Examples
    --------
    >>> from numalab.nodemask import from_nodes, parse_hex
    >>> format_list(parse_hex("33333333,11111111", 64))
    '0,4,8,12,16,20,24,28,32-33,36-37,40-41,44-45,48-49,52-53,56-57,60-61'
    >>> format_list(from_nodes([[0, 1], [3, -1]], 4)).tolist()
    ['0-1', '3']
    """
    m = as_mask(mask)
    if m.ndim == 1:  # one mask: a few runs, cheaper found from its set bits than by the block path
        return _format_list_one(m)
    nbits = m.shape[-1]
    flat = m.reshape(-1, nbits)
    parts = [_format_list_block(flat[r0:r0 + _CHUNK_ROWS]) for r0 in range(0, len(flat), _CHUNK_ROWS)]
    width = max((p.dtype.itemsize for p in parts), default=1)
    text = np.concatenate([p.astype(f"S{width}") for p in parts]) if parts else np.zeros(0, "S1")
    return text.astype(str).reshape(m.shape[:-1])


def _format_list_one(m) -> str:
    """%*pbl of one mask: runs from the jumps between consecutive set bits."""
    ids = np.flatnonzero(m)
    if ids.size == 0:
        return ""
    cut = np.flatnonzero(np.diff(ids) != 1)
    lo = ids[np.r_[0, cut + 1]].tolist()
    hi = ids[np.r_[cut, ids.size - 1]].tolist()
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in zip(lo, hi))


def _format_list_block(block):
    """%*pbl of a block of rows as a fixed-width bytes array (one entry per row).

    Runs are found from the edges of each row; every run's text (``a`` or ``a-b``, then ``,``
    unless it is the row's last) is written at its offset into a zero-padded byte matrix, one
    digit position at a time.
    """
    rows, nbits = block.shape
    padded = np.zeros((rows, nbits + 1), bool)  # a clear bit after every row separates runs
    padded[:, :nbits] = block
    f = padded.reshape(-1)
    run_start = np.flatnonzero(f & ~np.r_[False, f[:-1]])
    if len(run_start) == 0:
        return np.zeros(rows, "S1")
    run_end = np.flatnonzero(f & ~np.r_[f[1:], False])
    r = run_start // (nbits + 1)
    lo = run_start - r * (nbits + 1)
    hi = run_end - r * (nbits + 1)
    digits, dlen = _decimal(nbits)
    ranged = hi != lo
    last = np.r_[r[1:] != r[:-1], True]
    size = dlen[lo] + np.where(ranged, 1 + dlen[hi], 0) + ~last
    start = np.cumsum(size) - size
    first = np.r_[True, r[1:] != r[:-1]]
    start -= np.repeat(start[first], np.diff(np.r_[np.flatnonzero(first), len(r)]))
    width = int(np.bincount(r, weights=size, minlength=rows).max())
    out = np.zeros((rows, width), np.uint8)
    flat = out.reshape(-1)
    at = r * width + start
    for j in range(digits.shape[1]):  # digit positions of the numbers
        sel = dlen[lo] > j
        flat[at[sel] + j] = digits[lo[sel], j]
        sel = ranged & (dlen[hi] > j)
        flat[at[sel] + dlen[lo[sel]] + 1 + j] = digits[hi[sel], j]
    flat[at[ranged] + dlen[lo[ranged]]] = ord("-")
    flat[at[~last] + size[~last] - 1] = ord(",")
    return out.view(f"S{width}").reshape(rows)


def format_hex(mask):
    """Print in the kernel's hex mask form (``%*pb``, e.g. ``Mems_allowed:``).

    32-bit chunks, most significant first, comma separated, lowercase; every chunk has 8 digits
    except the first, which has ``ceil(w / 4)`` digits where ``w = nbits % 32`` (or 32).

    Parameters
    ----------
    mask : array_like of bool, shape (..., nbits)

    Returns
    -------
    str or numpy.ndarray of str

    Examples
    --------
    >>> from numalab.nodemask import parselist
    >>> format_hex(parselist("0-3", 4)), format_hex(parselist("0-3", 64))
    ('f', '00000000,0000000f')
    >>> format_hex(parselist("0,4,8,12,16,20,24,28,32-33,36-37,40-41,44-45,48-49,52-53,56-57,60-61", 64))
    '33333333,11111111'
    """
    m = as_mask(mask)
    nbits = m.shape[-1]
    length, cols, first_digits = _hex_layout(nbits)
    nchunks = (nbits + 31) // 32
    flat = m.reshape(-1, nbits)
    lut = np.frombuffer(b"0123456789abcdef", np.uint8)
    weights = np.array([8, 4, 2, 1], np.uint8)
    out = np.full((flat.shape[0], length), 44, np.uint8)  # commas everywhere, digits on top
    skip = 8 - first_digits
    for r0 in range(0, flat.shape[0], _CHUNK_ROWS):
        block = np.zeros((min(_CHUNK_ROWS, flat.shape[0] - r0), nchunks * 32), bool)
        block[:, :nbits] = flat[r0:r0 + _CHUNK_ROWS]
        nibbles = block[:, ::-1].reshape(len(block), -1, 4).astype(np.uint8) @ weights
        out[r0:r0 + len(block), cols] = lut[nibbles[:, skip:]]
    text = out.view(f"S{length}").reshape(-1).astype(str)
    if m.ndim == 1:
        return str(text[0])
    return text.reshape(m.shape[:-1])
