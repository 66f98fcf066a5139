"""The kernel's mask parsers: ``bitmap_parselist`` (list syntax) and ``bitmap_parse`` (hex).

These are what a write to ``cpuset.mems``/``cpuset.cpus`` and the sysfs/procfs readers accept
(``lib/bitmap-str.c``). Every other list or hex parser of numalab is a call to these two. The
grammar depends on the kernel release (``N`` appears in v5.13, ``all`` in v5.14): pass ``kernel=``.
numactl's node strings are another grammar: :mod:`numalab.nodemask.libnuma`.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import NumalabError
from ..kernel import profile
from ._common import (_CHUNK_ROWS, _U32, _as_bytes, _check_nbits, _flat_strings, _hex_layout,
                      _joined, _show)

__all__ = ["parselist", "parse_hex"]


def _n_all(kernel) -> tuple:
    """``(N, all)``: the tokens the grammar of ``kernel`` knows (a release or a KernelProfile;
    None: the newest). N from v5.13, all from v5.14."""
    return (True, True) if kernel is None else tuple(profile(kernel).list_grammar)


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
    kernel : str or KernelProfile, optional
        Kernel release (default: the newest modelled). Before 5.13 the token ``N`` does not exist,
        before 5.14 ``all`` does not (``EINVAL``). Older kernels are otherwise modelled with the
        v5.14+ grammar.

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
    >>> from numalab.nodemask import format_list
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
        n = int(val) if len(val.lstrip(b"0")) <= 10 else _U32 + 1  # no int() of 5000 digits
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
    >>> from numalab.nodemask import format_list
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
