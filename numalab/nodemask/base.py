"""The nodemask type: a ``bool`` array ``(..., nbits)``, its conversions and its queries.

Bit ``b`` of the last axis is node id ``b``; the leading axes are a batch and every function
works on all of them at once. ``nbits`` plays the role of the kernel's ``MAX_NUMNODES``. The
queries are those of ``include/linux/nodemask.h`` and ``lib/find_bit.c`` (``nodes_weight``,
``first_node``, ``next_node``, ``next_node_in``, ``find_nth_bit``, ...).

The same names over packed ``uint64`` words are in :mod:`numalab.nodemask.packed`.
"""
from __future__ import annotations

import numpy as np

from ..errors import NumalabError
from ._common import _check_nbits, _cumcount, _index_array, _same_width, _short

__all__ = [
    "DEFAULT_NBITS", "as_mask", "from_nodes", "to_nodes",
    "weight", "first", "next_node", "next_in", "nth", "ordinal",
    "intersects", "subset", "is_empty", "complement",
]

#: MAX_NUMNODES of Debian's x86_64 kernels (CONFIG_NODES_SHIFT=10); the CLI's default width.
DEFAULT_NBITS = 1024


def as_mask(mask, nbits=None) -> np.ndarray:
    """Return ``mask`` as a ``bool`` array ``(..., nbits)``, refusing anything that is not a mask.

    Integer arrays are accepted only when every value is 0 or 1 (a list of node ids is not a
    mask: use :func:`from_nodes`).

    >>> as_mask([0, 1, 1]).tolist()
    [False, True, True]
    """
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        if arr.dtype.kind not in "iu" or (arr.size and not np.isin(arr, (0, 1)).all()):
            raise NumalabError("a nodemask is a boolean array (..., nbits); use from_nodes() for "
                               "node ids", input=_short(mask))
        arr = arr.astype(bool)
    if arr.ndim == 0:
        raise NumalabError("a nodemask needs at least one axis of bits", input=_short(mask))
    if nbits is not None and arr.shape[-1] != nbits:
        raise NumalabError(f"nodemask has {arr.shape[-1]} bits, expected {nbits}", input=_short(mask))
    return arr


def from_nodes(ids, nbits) -> np.ndarray:
    """Build a nodemask from node ids.

    Parameters
    ----------
    ids : int, sequence of int, or integer array (..., k)
        Node ids; in an array, negative entries are padding (ignored). A 1-D sequence gives one
        mask, an array (..., k) a batch of masks (..., nbits); a list of sequences of different
        lengths is a batch too (padded with -1).
    nbits : int

    Raises
    ------
    NumalabError
        ``ERANGE`` for an id at or above ``nbits``.

    Examples
    --------
    >>> from numalab.nodemask import format_list
    >>> format_list(from_nodes([3, 0, 1], 8))
    '0-1,3'
    """
    nbits = _check_nbits(nbits)
    arr = _ragged_ids(ids)
    if arr.size == 0:
        return np.zeros(arr.shape[:-1] + (nbits,) if arr.ndim > 1 else (nbits,), bool)
    if arr.dtype.kind not in "iu":
        raise NumalabError("node ids must be integers", input=_short(ids))
    arr = arr.astype(np.int64)
    if arr.ndim == 0:
        arr = arr[None]
    if (arr >= nbits).any():
        bad = int(arr[arr >= nbits].max())
        raise NumalabError(f"node {bad} is beyond the last bit {nbits - 1}", errno="ERANGE",
                           input=_short(ids))
    batch = arr.shape[:-1]
    flat = arr.reshape(-1, arr.shape[-1])
    out = np.zeros((flat.shape[0], nbits + 1), bool)
    out[np.arange(flat.shape[0])[:, None], np.where(flat < 0, nbits, flat)] = True
    return out[:, :nbits].reshape(batch + (nbits,))


def _ragged_ids(ids):
    """``ids`` as an array; a list of rows of different lengths is padded with -1."""
    if isinstance(ids, (list, tuple)) and ids and all(
            isinstance(r, (list, tuple, range, np.ndarray)) for r in ids):
        rows = [np.asarray(r).reshape(-1) for r in ids]
        if len({len(r) for r in rows}) > 1:
            k = max(len(r) for r in rows)
            arr = np.full((len(rows), k), -1, np.int64)
            for i, r in enumerate(rows):
                if r.size and r.dtype.kind not in "iu":
                    raise NumalabError("node ids must be integers", input=_short(ids))
                arr[i, :len(r)] = r
            return arr
    return np.asarray(ids)


def to_nodes(mask) -> np.ndarray:
    """The set node ids, ascending.

    Returns
    -------
    numpy.ndarray of int
        ``(weight,)`` for one mask; for a batch ``(..., max_weight)`` padded with -1.

    Examples
    --------
    >>> from numalab.nodemask import parselist
    >>> to_nodes(parselist("1,3-4", 8)).tolist()
    [1, 3, 4]
    >>> to_nodes(parselist(["1", "0,2"], 4)).tolist()
    [[1, -1], [0, 2]]
    """
    m = as_mask(mask)
    if m.ndim == 1:
        return np.flatnonzero(m)
    w = weight(m)
    k = int(w.max(initial=0))
    pos = np.argsort(~m, axis=-1, kind="stable")[..., :k]
    return np.where(np.arange(k) < w[..., None], pos, -1)


# ============================================================================ queries
def weight(mask):
    """``nodes_weight``/``bitmap_weight``: number of set bits, shape ``mask.shape[:-1]``.

    >>> from numalab.nodemask import parselist
    >>> int(weight(parselist("0-3,9", 16)))
    5
    """
    return np.count_nonzero(as_mask(mask), axis=-1)


def first(mask):
    """``first_node``: lowest set bit; ``nbits`` when empty (as first_node gives MAX_NUMNODES).

    >>> from numalab.nodemask import parselist
    >>> int(first(parselist("5,9", 16))), int(first(parselist("", 16)))
    (5, 16)
    """
    m = as_mask(mask)
    return np.where(m.any(axis=-1), m.argmax(axis=-1), m.shape[-1])


def next_node(mask, n):
    """``next_node``: lowest set bit above ``n`` (broadcast over the batch), else ``nbits``.

    >>> from numalab.nodemask import parselist
    >>> int(next_node(parselist("1,5", 8), 1)), int(next_node(parselist("1,5", 8), 5))
    (5, 8)
    """
    m = as_mask(mask)
    n = _index_array(n, "n")
    above = np.arange(m.shape[-1]) > n[..., None]
    return first(m & above)


def next_in(mask, n):
    """``next_node_in``: the next set bit after ``n``, wrapping to the first; ``nbits`` if empty.

    Used for interleave and for picking a node round robin.

    >>> from numalab.nodemask import parselist
    >>> int(next_in(parselist("1,5", 8), 5)), int(next_in(parselist("1,5", 8), 1))
    (1, 5)
    """
    m = as_mask(mask)
    nxt = next_node(m, n)
    return np.where(nxt == m.shape[-1], first(m), nxt)


def nth(mask, k):
    """``find_nth_bit`` (``bitmap_ord_to_pos``): the k-th set bit (0-based); ``nbits`` if none.

    >>> from numalab.nodemask import parselist
    >>> int(nth(parselist("2,4,6", 8), 1)), int(nth(parselist("2,4,6", 8), 3))
    (4, 8)
    """
    m = as_mask(mask)
    k = _index_array(k, "k")
    # the k-th set bit is the number of positions whose inclusive running count is <= k
    pos = np.count_nonzero(_cumcount(m) <= k[..., None], axis=-1)
    return np.where(k < 0, m.shape[-1], pos)


def ordinal(mask, bit):
    """``bitmap_pos_to_ord``: how many set bits are below ``bit`` when it is set, else -1.

    >>> from numalab.nodemask import parselist
    >>> int(ordinal(parselist("2,4,6", 8), 6)), int(ordinal(parselist("2,4,6", 8), 5))
    (2, -1)
    """
    m = as_mask(mask)
    bit = _index_array(bit, "bit")[..., None]
    bits = np.arange(m.shape[-1])
    is_set = (m & (bits == bit)).any(axis=-1)
    below = np.count_nonzero(m & (bits < bit), axis=-1)
    return np.where(is_set, below, -1)


def intersects(a, b):
    """``nodes_intersects``: do the masks share a bit? Shape: the broadcast batch shape."""
    a, b = as_mask(a), as_mask(b)
    _same_width(a, b)
    return (a & b).any(axis=-1)


def subset(a, b):
    """``nodes_subset``: is every bit of ``a`` also in ``b``?"""
    a, b = as_mask(a), as_mask(b)
    _same_width(a, b)
    return ~(a & ~b).any(axis=-1)


def is_empty(mask):
    """``nodes_empty``."""
    return ~as_mask(mask).any(axis=-1)


def complement(mask):
    """``nodes_complement`` over all ``nbits`` bits."""
    return ~as_mask(mask)
