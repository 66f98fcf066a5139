"""Nodemasks as boolean bit arrays, with the kernel's exact semantics.

A nodemask is a NumPy ``bool`` array of shape ``(..., nbits)``: bit ``b`` of the last axis is
node id ``b``; the leading axes are a batch and every function here works on all of them at
once. ``nbits`` plays the role of the kernel's ``MAX_NUMNODES`` (``1 << CONFIG_NODES_SHIFT``,
1024 on Debian's x86_64 kernels).

Text forms (:func:`parselist`, :func:`parse_hex`, :func:`format_list`, :func:`format_hex`) follow
``lib/bitmap-str.c`` and ``lib/vsprintf.c``; bit operations (:func:`remap`, :func:`bitremap`,
:func:`onto`, :func:`fold`, :func:`relative`, :func:`nth`, :func:`next_in`, ...) follow
``lib/bitmap.c``, ``lib/find_bit.c``, ``include/linux/nodemask.h`` and ``mm/mempolicy.c``
(``mpol_relative_nodemask``). numactl's node strings (:func:`parse_nodestring`) are a different,
user-space grammar (``libnuma.c``) with their own parser.

The kernel's ``bitmap_remap``/``bitmap_onto``/``bitmap_fold`` return without touching ``dst`` when
called in place (dst == src). These functions always return a new array, so in-place use cannot
happen here.

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

import functools
import re

import numpy as np

from .errors import NumalabError

__all__ = [
    "DEFAULT_NBITS",
    "parselist", "parse_hex", "format_list", "format_hex", "parse_nodestring",
    "from_nodes", "to_nodes", "as_mask",
    "weight", "first", "next_node", "next_in", "nth", "ordinal",
    "remap", "bitremap", "onto", "fold", "relative",
    "intersects", "subset", "is_empty", "complement",
]

#: MAX_NUMNODES of Debian's x86_64 kernels (CONFIG_NODES_SHIFT=10); the CLI's default width.
DEFAULT_NBITS = 1024

_U32 = 0xFFFFFFFF
_CHUNK_ROWS = 1 << 16  # rows per block in batched paths: bounds temporary memory
_SPACE = b"\t\n\v\f\r \xa0"  # the kernel's isspace() (lib/ctype.c): ASCII white space and 0xa0


# ============================================================================ helpers
def _check_nbits(nbits) -> int:
    try:
        n = int(nbits)
    except (TypeError, ValueError):
        raise NumalabError("nbits must be an integer", input=nbits) from None
    if n != nbits or n < 1 or n > 1 << 20:
        raise NumalabError("nbits must be an integer from 1 to 1048576", input=nbits)
    return n


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


def _as_bytes(text) -> bytes:
    """Text as the bytes a write(2) would deliver (UTF-8 for str)."""
    if isinstance(text, (bytes, bytearray, np.bytes_)):
        return bytes(text)
    return str(text).encode("utf-8", "surrogatepass")


def _show(raw: bytes) -> str:
    """A byte or two of input, quoted for a message."""
    return repr(raw.decode("utf-8", "replace"))


def _short(obj):
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


def _same_width(*masks):
    widths = {m.shape[-1] for m in masks}
    if len(widths) != 1:
        raise NumalabError(f"nodemasks of different widths {sorted(widths)}")
    return widths.pop()


def _cumcount(mask):
    """Inclusive running count of set bits along the last axis, in a small integer type."""
    dtype = np.int16 if mask.shape[-1] < 1 << 15 else np.int32
    return np.cumsum(mask, axis=-1, dtype=dtype)


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


def _index_array(x, name):
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "b" or not np.all(np.mod(arr, 1) == 0):
            raise NumalabError(f"{name} must be an integer (array)", input=_short(x))
        arr = arr.astype(np.int64)
    return arr.astype(np.int64, copy=False)


# ============================================================================ list syntax
def _n_all(kernel) -> tuple:
    """``(N, all)`` tokens of the release's grammar (N from v5.13, all from v5.14)."""
    if kernel is None:
        return (True, True)
    from .kernel import profile

    return profile(kernel).list_grammar


def parselist(text, nbits, *, kernel=None) -> np.ndarray:
    """Parse the kernel's list syntax (``bitmap_parselist``, the grammar of ``cpuset.mems``).

    Regions are separated by commas or white space (any amount, also leading and trailing); a
    region is ``A``, ``A-B``, ``A-B:used/group``, ``all`` or ``all:used/group`` (``all`` in any
    case); every number may be ``N``, the last bit (``nbits - 1``). ``A-B:u/g`` sets the first
    ``u`` bits of every group of ``g`` bits from ``A``, clipped at ``B``. Numbers are decimal.
    The text ends at a NUL byte, or at a newline that directly follows a region without a
    ``:u/g`` suffix (a newline elsewhere is white space, as in the kernel).

    Parameters
    ----------
    text : str, bytes, or array-like of them
        One list, or a batch of lists (any shape) giving a batch of masks. A ``str`` is parsed as
        its UTF-8 bytes, what a ``write(2)`` to ``cpuset.mems`` delivers; positions in errors are
        byte offsets (character offsets for ASCII text).
    nbits : int
        Width of the mask (the kernel passes ``MAX_NUMNODES`` or ``nr_cpu_ids``).
    kernel : str, optional
        Kernel release. Before 5.13 the token ``N`` does not exist, before 5.14 ``all`` does not
        (``EINVAL``). Older kernels are otherwise modelled with the v5.14+ grammar.

    Returns
    -------
    numpy.ndarray
        ``bool`` array of shape ``(nbits,)``, or ``text.shape + (nbits,)`` for a batch.

    Raises
    ------
    NumalabError
        ``EINVAL`` (bad character, ``A > B``, group 0, used > group), ``ERANGE`` (a bit
        ``>= nbits``), ``EOVERFLOW`` (a number above 2**32 - 1), with the position of the
        problem. For a batch, the first bad item (in C order) is reported with its index.

    Examples
    --------
    >>> format_list(parselist("0-31:1/4,N", 64))
    '0,4,8,12,16,20,24,28,63'
    >>> parselist(["0-1", "3"], 4).astype(int).tolist()
    [[1, 1, 0, 0], [0, 0, 0, 1]]
    >>> parselist("0-8", 8)
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: '0-8': bit 8 is beyond the last bit 7 [ERANGE at position 2]
    """
    nbits = _check_nbits(nbits)
    n_all = _n_all(kernel)
    if isinstance(text, (str, bytes, bytearray, np.str_, np.bytes_)):
        return _parselist_one(text, nbits, n_all)
    items, shape = _flat_strings(text, "parselist")
    out = np.zeros((len(items), nbits), bool)
    for r0 in range(0, len(items), _CHUNK_ROWS):
        _parselist_block(items[r0:r0 + _CHUNK_ROWS], nbits, n_all, out[r0:r0 + _CHUNK_ROWS], r0)
    return out.reshape(shape + (nbits,))


def _flat_strings(text, fname):
    """A batch of strings as a flat Python list and its batch shape."""
    if isinstance(text, (list, tuple)) and text and isinstance(text[0], (str, bytes)):
        return list(text), (len(text),)  # a flat list: no array round trip
    arr = text if isinstance(text, np.ndarray) else np.asarray(text)
    if arr.size == 0 and arr.ndim:
        return [], arr.shape
    if arr.dtype.kind not in "USO" or arr.ndim == 0:
        raise NumalabError(f"{fname}() takes a string or an array of strings", input=_short(text))
    return arr.reshape(-1).tolist(), arr.shape


def _joined(items):
    """All strings of a block as one byte stream, each followed by a NUL, and the NUL offsets.

    Returns None when an item itself holds a NUL (then every item is parsed on its own).
    """
    lst = items
    try:
        if isinstance(lst[0], bytes):
            raw = b"\0".join(lst) + b"\0"
        else:
            raw = ("\0".join(lst) + "\0").encode("utf-8", "surrogatepass")
    except (TypeError, UnicodeEncodeError):
        enc = []
        for x in lst:
            if isinstance(x, str):
                enc.append(x.encode("utf-8", "surrogatepass"))
            elif isinstance(x, (bytes, bytearray)):
                enc.append(bytes(x))
            else:
                raise NumalabError("not a string", input=_short(x)) from None
        raw = b"\0".join(enc) + b"\0"
    buf = np.frombuffer(raw, np.uint8)
    nul = np.flatnonzero(buf == 0)
    return (buf, nul) if len(nul) == len(lst) else None


_ALL64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _parselist_block(items, nbits, n_all, out, offset):
    """Fast path for the common grammar ``A[-B](,A[-B])*`` over a block of strings.

    The strings are joined into one byte stream; digits, dashes and commas are classified with
    array operations, numbers are decoded by digit position (at most 9 steps) and the regions
    are OR-ed into 64-bit words per row. Rows holding anything else (white space, ``:``, ``N``,
    ``all``, ...), a suspicious structure, a number of 10+ digits or a range error are parsed
    one by one by the general parser, which also raises the exact error.
    """
    if not items:
        return
    rows = len(items)
    joined = _joined(items)
    bad_row = np.ones(rows, bool)
    if joined is not None:
        buf, nul = joined
        size = len(buf)
        is_d = (buf - np.uint8(48)) < 10
        is_dash = buf == 45
        prev_d = np.r_[False, is_d[:-1]]
        next_d = np.r_[is_d[1:], False]
        odd = ~(is_d | is_dash | (buf == 44) | (buf == 0)) | (is_dash & ~(prev_d & next_d))
        bad_row[:] = False
        bad_row[np.searchsorted(nul, np.flatnonzero(odd))] = True
        starts = np.flatnonzero(is_d & ~prev_d)
        ends = np.flatnonzero(is_d & ~next_d)
        length = ends - starts + 1
        row = np.searchsorted(nul, starts)
        bad_row[row[length > 9]] = True
        value = np.zeros(len(starts), np.int64)
        for j in range(min(int(length.max(initial=0)), 9)):  # digit positions, at most 9
            take = length > j
            digit = buf[np.minimum(starts + j, size - 1)].astype(np.int64) - 48
            value = np.where(take, value * 10 + digit, value)
        before = np.where(starts > 0, buf[np.maximum(starts - 1, 0)], 0)
        after = buf[np.minimum(ends + 1, size - 1)]  # never past the end: a NUL follows
        is_end = before == 45
        is_start = after == 45
        bad_row[row[is_end & is_start]] = True  # "1-2-3"
        region = np.flatnonzero(~is_end)
        a = value[region]
        e = np.where(is_start[region], value[np.minimum(region + 1, max(len(value) - 1, 0))], a)
        r = row[region]
        bad_row[r[(a > e) | (e >= nbits)]] = True
        keep = ~bad_row[r]
        r, a, e = r[keep], a[keep], e[keep]
        nwords = (nbits + 63) // 64
        words = np.zeros((rows, nwords), np.uint64)
        if len(r):
            first_of_row = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])  # regions come row by row
            for wi in range(nwords):  # 64-bit words of the mask
                lo = np.clip(a - 64 * wi, 0, 64)
                hi = np.clip(e - 64 * wi + 1, 0, 64)
                span = hi - lo
                some = span > 0
                shift_r = np.where(some, 64 - span, 0).astype(np.uint64)
                word = np.where(some, (_ALL64 >> shift_r) << np.where(some, lo, 0).astype(np.uint64),
                                np.uint64(0))
                words[r[first_of_row], wi] = np.bitwise_or.reduceat(word, first_of_row)
        bytes_ = words.astype("<u8", copy=False).view(np.uint8)
        out[:] = np.unpackbits(bytes_, axis=1, count=nbits, bitorder="little").view(bool)
    for i in np.flatnonzero(bad_row):
        try:
            out[i] = _parselist_one(items[i], nbits, n_all)
        except NumalabError as err:
            raise NumalabError(f"item {offset + i}: {err.problem}", errno=err.errno,
                               input=err.input, position=err.position) from None


_TOKENS_N_ALL = re.compile(rb"(\d+)|(N)|([aA][lL][lL])|([-:/])|([\t\v\f\r ,\xa0]+)|(\n)|(.)", re.S)
_TOKENS_N = re.compile(rb"(\d+)|(N)|((?!))|([-:/])|([\t\v\f\r ,\xa0]+)|(\n)|(.)", re.S)
_TOKENS_OLD = re.compile(rb"(\d+)|((?!))|((?!))|([-:/])|([\t\v\f\r ,\xa0]+)|(\n)|(.)", re.S)
#: tokenizer per ``(N, all)`` grammar of a release (v5.14+, v5.13, before).
_TOKENS = {(True, True): _TOKENS_N_ALL, (True, False): _TOKENS_N, (False, False): _TOKENS_OLD}
_NUM, _LAST, _ALL, _PUNCT, _SEP, _NL, _OTHER, _END = range(8)


def _parselist_one(text, nbits, n_all) -> np.ndarray:
    """General parser: a tokenizer plus the region grammar of bitmap_parse_region()."""
    raw = text
    s = _as_bytes(text)
    s = s.split(b"\0", 1)[0]  # NUL ends the string wherever it is
    n_all = (True, True) if n_all is True else (False, False) if n_all is False else tuple(n_all)
    rx = _TOKENS[n_all]
    toks = []
    for mt in rx.finditer(s):
        kind = mt.lastindex - 1
        toks.append((kind, mt.start(), mt.group()))
    toks.append((_END, len(s), b""))
    last = nbits - 1
    mask = np.zeros(nbits, bool)

    def fail(problem, errno, pos):
        raise NumalabError(problem, errno=errno, input=raw, position=pos)

    def number(k):
        kind, pos, val = toks[k]
        if kind == _LAST:
            return last
        if kind != _NUM:
            hint = ""
            if not n_all[0] and val == b"N":
                hint = " (the N token needs kernel 5.13 or later)"
            elif not n_all[1] and val.lower().startswith(b"a"):
                hint = " (the all token needs kernel 5.14 or later; N needs 5.13)"
            fail("expected a number" + (f" at {_show(val)}" if val else " at the end") + hint, "EINVAL", pos)
        n = int(val)
        if n > _U32:
            fail("number does not fit in 32 bits", "EOVERFLOW", pos)
        return n

    def punct(k, ch):
        return toks[k][0] == _PUNCT and toks[k][2] == ch

    k = 0
    while True:
        while toks[k][0] in (_SEP, _NL):
            k += 1
        if toks[k][0] == _END:
            return mask
        region_pos = toks[k][1]
        group_pos = off_pos = None
        if toks[k][0] == _ALL:
            a, b, end_pos, ranged = 0, last, region_pos, True
            k += 1
        else:
            a = number(k)
            k += 1
            if punct(k, b"-"):
                end_pos = toks[k + 1][1]
                b = number(k + 1)
                k += 2
                ranged = True
            elif toks[k][0] in (_SEP, _NL, _END):
                b, end_pos, ranged = a, region_pos, False
            else:
                fail(f"unexpected {_show(toks[k][2])} after a number", "EINVAL", toks[k][1])
        stop = False
        if ranged and punct(k, b":"):
            off_pos = toks[k + 1][1]
            used = number(k + 1)
            if not punct(k + 2, b"/"):
                fail("expected '/' after the used-bits count", "EINVAL", toks[k + 2][1])
            group_pos = toks[k + 3][1]
            group = number(k + 3)
            k += 4  # whatever follows the group size starts the next region
        elif ranged and toks[k][0] not in (_SEP, _NL, _END):
            fail(f"unexpected {_show(toks[k][2])} after a range", "EINVAL", toks[k][1])
        else:
            used = group = (b + 1) & _U32  # 32-bit arithmetic: "0-4294967295" has group 0
            stop = toks[k][0] in (_NL, _END)
        if a > b:
            fail(f"range start {a} is after its end {b}", "EINVAL", region_pos)
        if group == 0:
            fail("group size is 0", "EINVAL", region_pos if group_pos is None else group_pos)
        if used > group:
            fail(f"used bits {used} exceed the group size {group}", "EINVAL", off_pos)
        if b >= nbits:
            fail(f"bit {b} is beyond the last bit {last}", "ERANGE", end_pos)
        _set_region(mask, a, b, used, group)
        if stop:
            return mask


def _set_region(mask, a, b, used, group):
    """bitmap_set_region(): groups start every ``group`` bits from ``a`` up to ``b``.

    The kernel's group start is a 32-bit unsigned int: a group size close to 2**32 wraps the
    next start around to a smaller bit (``start - (2**32 - group)``), which is reproduced here.
    """
    if a + group > _U32:  # wraps: starts a, a - d, a - 2d, ... >= 0
        d = (1 << 32) - group
        starts = a - d * np.arange(a // d + 1, dtype=np.int64)
    else:
        starts = a + group * np.arange((b - a) // group + 1, dtype=np.int64)
    lens = np.minimum(b - starts + 1, used)
    starts, lens = starts[lens > 0], lens[lens > 0]
    if len(starts) == 0:
        return
    diff = np.zeros(len(mask) + 1, np.int64)
    np.add.at(diff, starts, 1)
    np.add.at(diff, starts + lens, -1)
    mask |= np.cumsum(diff[:-1]) > 0


# ============================================================================ hex syntax
_NOT_SEP = re.compile(rb"[^\t\n\v\f\r ,\xa0]+")
_HEXDIGITS = frozenset(b"0123456789abcdefABCDEF")


def parse_hex(text, nbits) -> np.ndarray:
    """Parse the kernel's hex mask syntax (``bitmap_parse``, the ``%*pb`` form).

    Comma-separated chunks of at most 8 hex digits, the most significant chunk first; each
    chunk is 32 bits (short chunks are zero-extended), empty chunks and white space are
    ignored, the text ends at the first newline or NUL. Kernel quirk, reproduced: after 8 hex
    digits one non-hex byte is skipped (``"x12345678"`` reads as ``12345678``).

    Parameters
    ----------
    text : str, bytes, or array-like of them
    nbits : int

    Returns
    -------
    numpy.ndarray
        ``bool`` array ``(nbits,)`` or ``text.shape + (nbits,)``.

    Raises
    ------
    NumalabError
        ``EINVAL`` for a non-hex character, ``EOVERFLOW`` for a chunk of more than 8 digits,
        more chunks than ``ceil(nbits / 32)``, or a set bit at or above ``nbits``.

    Examples
    --------
    >>> format_list(parse_hex("00000000,000000f0", 64))
    '4-7'
    >>> format_list(parse_hex("1,0", 33))
    '32'
    """
    nbits = _check_nbits(nbits)
    if isinstance(text, (str, bytes, bytearray, np.str_, np.bytes_)):
        return _parse_hex_one(text, nbits)
    items, shape = _flat_strings(text, "parse_hex")
    out = np.zeros((len(items), nbits), bool)
    for r0 in range(0, len(items), _CHUNK_ROWS):
        _parse_hex_block(items[r0:r0 + _CHUNK_ROWS], nbits, out[r0:r0 + _CHUNK_ROWS], r0)
    return out.reshape(shape + (nbits,))


def _hex_layout(nbits):
    """Canonical %*pb layout: (text length, column of every digit, first-chunk digit count)."""
    nchunks = (nbits + 31) // 32
    first_digits = ((nbits % 32 or 32) + 3) // 4
    ndig = first_digits + 8 * (nchunks - 1)
    j = np.arange(ndig)
    commas_before = np.where(j < first_digits, 0, (j - first_digits) // 8 + 1)
    return ndig + nchunks - 1, j + commas_before, first_digits


_HEX_VALUE = np.full(256, -1, np.int16)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX_VALUE[_c] = _HEX_VALUE[ord(chr(_c).upper())] = _i


def _parse_hex_block(items, nbits, out, offset):
    """Fast path for text in the canonical ``%*pb`` layout; anything else goes one by one."""
    if not items:
        return
    length, cols, _ = _hex_layout(nbits)
    try:
        canon = np.fromiter(map(len, items), np.int64, len(items)) == length
    except TypeError:
        canon = np.zeros(len(items), bool)
    idx = np.flatnonzero(canon)
    ok = np.zeros(len(items), bool)
    if len(idx):
        picked = [items[i] for i in idx]
        try:
            raw = (b"".join(picked) if isinstance(picked[0], bytes)
                   else "".join(picked).encode("utf-8", "surrogatepass"))
        except TypeError:
            raw = b""
        if len(raw) == len(idx) * length:  # ASCII and all of canonical length
            m = np.frombuffer(raw, np.uint8).reshape(len(idx), length)
            val = _HEX_VALUE[m[:, cols]]
            good = (val >= 0).all(axis=1)
            comma_cols = np.setdiff1d(np.arange(length), cols)
            good &= (m[:, comma_cols] == 44).all(axis=1)
            # nibbles, least significant first, paired into bytes, then bits
            nib = np.clip(val, 0, 15).astype(np.uint8)[:, ::-1]
            if nib.shape[1] % 2:
                nib = np.hstack([nib, np.zeros((len(nib), 1), np.uint8)])
            packed = nib[:, 0::2] | (nib[:, 1::2] << 4)
            bits = np.unpackbits(packed, axis=1, bitorder="little").view(bool)
            good &= ~bits[:, nbits:].any(axis=1)
            ok[idx[good]] = True
            out[idx[good]] = bits[good, :nbits]
    for i in np.flatnonzero(~ok):
        try:
            out[i] = _parse_hex_one(items[i], nbits)
        except NumalabError as err:
            raise NumalabError(f"item {offset + i}: {err.problem}", errno=err.errno,
                               input=err.input, position=err.position) from None


def _parse_hex_one(text, nbits) -> np.ndarray:
    """Words (runs of non-separators) are cut into chunks from their right end."""
    raw = text
    s = _as_bytes(text)
    cut = min((i for i in (s.find(b"\n"), s.find(b"\0")) if i >= 0), default=len(s))
    s = s[:cut]
    max_chunks = (nbits + 31) // 32
    values, starts = [], []

    def fail(problem, errno, pos):
        raise NumalabError(problem, errno=errno, input=raw, position=pos)

    for word in reversed(list(_NOT_SEP.finditer(s))):
        a, b = word.start(), word.end()
        while b > a:
            if len(values) == max_chunks:
                fail(f"more than {max_chunks} chunks of 32 bits", "EOVERFLOW", b - 1)
            lo = max(a, b - 8)
            bad = [i for i in range(lo, b) if s[i] not in _HEXDIGITS]
            if bad:
                fail(f"{_show(s[bad[-1]:bad[-1] + 1])} is not a hex digit", "EINVAL", bad[-1])
            values.append(int(s[lo:b], 16))
            starts.append(lo)
            if lo > a:
                if s[lo - 1] in _HEXDIGITS:
                    fail("a chunk has more than 8 hex digits", "EOVERFLOW", lo - 1)
                b = lo - 1  # one non-hex byte after 8 digits is skipped (kernel quirk)
            else:
                b = a
    if not values:
        return np.zeros(nbits, bool)
    words = np.array(values, dtype=np.uint64)
    bits = ((words[:, None] >> np.arange(32, dtype=np.uint64)) & np.uint64(1)).astype(bool).reshape(-1)
    if bits[nbits:].any():
        over = np.flatnonzero(bits[nbits:])[-1] + nbits
        fail(f"bit {over} is beyond the last bit {nbits - 1}", "EOVERFLOW", starts[over // 32])
    mask = np.zeros(nbits, bool)
    mask[:min(len(bits), nbits)] = bits[:nbits]
    return mask


# ============================================================================ printing
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
    text = text.astype(str)
    if m.ndim == 1:
        return str(text[0])
    return text.reshape(m.shape[:-1])


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


# ============================================================================ libnuma
_IO_PREFIXES = ("netdev:", "file:", "ip:", "block:", "pci:")
_C_SPACE = " \t\n\v\f\r"


def parse_nodestring(text, allowed, *, possible=None, configured=None) -> np.ndarray:
    """Parse a numactl / libnuma node string (``numa_parse_nodestring``), not the kernel syntax.

    Grammar (numactl 2.0.19 ``__numa_parse_nodestring``): an empty string is the empty mask;
    an optional ``!`` (invert), then an optional ``+`` (numbers are ordinals within
    ``allowed``), then items separated by ``,`` only: ``X`` or ``X-Y`` with numbers as C's
    ``strtoul(s, 0)`` reads them (decimal, ``0x`` hex, leading-0 octal, leading white space and
    a sign allowed), or ``all`` as the whole rest of the string (a copy of ``allowed``, which
    replaces what came before). Every number and both ends of a range must be in ``allowed``;
    nodes inside a range that are not in ``allowed`` are skipped; ``X-Y`` with ``Y < X`` is just
    ``X``. ``!`` flips node ids ``0 .. configured-1`` only.

    Parameters
    ----------
    text : str
    allowed : array_like of bool, shape (nbits,)
        ``numa_all_nodes_ptr`` (the task's ``Mems_allowed``) for ``numa_parse_nodestring``, or
        the possible nodes for ``numa_parse_nodestring_all``.
    possible : array_like of bool, optional
        The possible nodes; used for the default of ``configured``.
    configured : int, optional
        ``numa_num_configured_nodes()`` (the number of nodes with memory); default: the weight
        of ``possible`` if given, else of ``allowed``.

    Returns
    -------
    numpy.ndarray of bool, shape (nbits,)

    Raises
    ------
    NumalabError
        Where libnuma returns NULL (``errno`` is None: libnuma sets none), with the position.
        Device names (``netdev:``, ``pci:``, ...) are not modelled and raise as well.

    Examples
    --------
    >>> allowed = parselist("0-3", 8)
    >>> format_list(parse_nodestring("!1", allowed))
    '0,2-3'
    >>> format_list(parse_nodestring("+1-2", parselist("2,4,6,8", 16)))
    '4,6'
    >>> parse_nodestring("5", allowed)
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: '5': node argument 5 is out of range [at position 0]
    """
    allow = as_mask(allowed)
    if allow.ndim != 1:
        raise NumalabError("parse_nodestring() takes one allowed mask (nbits,)", input=_short(allowed))
    nbits = allow.shape[0]
    if configured is None:
        configured = int(weight(as_mask(possible, nbits))) if possible is not None else int(weight(allow))
    s = str(text)
    ids = np.flatnonzero(allow)
    out = np.zeros(nbits, bool)
    if s == "":
        return out

    def fail(problem, pos):
        raise NumalabError(problem, input=text, position=pos)

    def read_number(i, rel):
        """strtoul(s + i, &end, 0), then the relative lookup of get_nr(); (value, end)."""
        j = i
        while j < len(s) and s[j] in _C_SPACE:
            j += 1
        sign = 1
        if j < len(s) and s[j] in "+-":
            sign = -1 if s[j] == "-" else 1
            j += 1
        mt = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*").match(s, j)
        if not mt:
            return 0, i
        tok = mt.group()
        n = int(tok, 16) if tok[1:2] in ("x", "X") else int(tok, 8) if tok.startswith("0") else int(tok)
        n = (1 << 64) - 1 if n >= 1 << 64 else (n if sign > 0 else (-n) % (1 << 64))
        if rel:  # the n-th allowed node (n is a signed long here); out of range -> invalid id
            n_signed = n - (1 << 64) if n >= 1 << 63 else n
            n = int(ids[n_signed]) if 0 <= n_signed < len(ids) else (nbits if n_signed >= 0 else -1)
        return n, mt.end()

    def in_allowed(n):
        return 0 <= n < nbits and bool(allow[n])

    i = 0
    invert = s.startswith("!")
    i += invert
    rel = s.startswith("+", i)
    i += rel
    while True:
        rest = s[i:]
        if rest[:1].isascii() and rest[:1].isalpha():
            if rest == "all":
                out[:] = allow
                i = len(s)
                break
            if rest.startswith(_IO_PREFIXES):
                fail("I/O device affinity is not modelled", i)
        n, j = read_number(i, rel)
        if j == i:
            fail("unparseable node description", i)
        if not in_allowed(n):
            fail(f"node argument {n if n < 1 << 63 else n - (1 << 64)} is out of range", i)
        out[n] = True
        i = j
        if s.startswith("-", i):
            n2, j = read_number(i + 1, rel)
            if j == i + 1:
                fail("missing node argument after '-'", i + 1)
            if not in_allowed(n2):
                fail(f"node argument {n2 if n2 < 1 << 63 else n2 - (1 << 64)} is out of range", i + 1)
            if n2 >= n:
                out[n:n2 + 1] |= allow[n:n2 + 1]
            i = j
        if s.startswith(",", i):
            i += 1
            continue
        if i < len(s):
            fail(f"unexpected {s[i]!r}", i)
        break
    if invert:
        k = min(int(configured), nbits)
        out[:k] = ~out[:k]
    return out


# ============================================================================ conversions
def from_nodes(ids, nbits) -> np.ndarray:
    """Build a nodemask from node ids.

    Parameters
    ----------
    ids : int, sequence of int, or integer array (..., k)
        Node ids; in an array, negative entries are padding (ignored). A 1-D sequence gives one
        mask, an array (..., k) a batch of masks (..., nbits).
    nbits : int

    Raises
    ------
    NumalabError
        ``ERANGE`` for an id at or above ``nbits``.

    Examples
    --------
    >>> format_list(from_nodes([3, 0, 1], 8))
    '0-1,3'
    """
    nbits = _check_nbits(nbits)
    arr = np.asarray(ids)
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


def to_nodes(mask) -> np.ndarray:
    """The set node ids, ascending.

    Returns
    -------
    numpy.ndarray of int
        ``(weight,)`` for one mask; for a batch ``(..., max_weight)`` padded with -1.

    Examples
    --------
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

    >>> int(weight(parselist("0-3,9", 16)))
    5
    """
    return np.count_nonzero(as_mask(mask), axis=-1)


def first(mask):
    """``first_node``: lowest set bit; ``nbits`` when empty (as first_node gives MAX_NUMNODES).

    >>> int(first(parselist("5,9", 16))), int(first(parselist("", 16)))
    (5, 16)
    """
    m = as_mask(mask)
    return np.where(m.any(axis=-1), m.argmax(axis=-1), m.shape[-1])


def next_node(mask, n):
    """``next_node``: lowest set bit above ``n`` (broadcast over the batch), else ``nbits``.

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

    >>> int(next_in(parselist("1,5", 8), 5)), int(next_in(parselist("1,5", 8), 1))
    (1, 5)
    """
    m = as_mask(mask)
    nxt = next_node(m, n)
    return np.where(nxt == m.shape[-1], first(m), nxt)


def nth(mask, k):
    """``find_nth_bit`` (``bitmap_ord_to_pos``): the k-th set bit (0-based); ``nbits`` if none.

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


# ============================================================================ mappings
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
