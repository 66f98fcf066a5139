"""Scalar reference for nodemasks: the kernel's bitmap rules as plain loops over bits.

Written from the behaviour of ``lib/bitmap.c`` / ``lib/bitmap-str.c`` (bitmap_parselist,
bitmap_parse, bitmap_remap, bitmap_bitremap, bitmap_onto, bitmap_fold), ``lib/vsprintf.c``
(``%*pb`` / ``%*pbl``), ``include/linux/nodemask.h`` (first_node, next_node_in) and numactl's
``libnuma.c`` (``__numa_parse_nodestring``), independently of :mod:`numalab.nodemask`.

A mask here is a plain Python ``list`` of ``bool`` of length ``nbits`` (any 1-D sequence of
truth values is accepted as input). Nothing is vectorized and nothing is fast on purpose: this
module is the oracle of the tests and the baseline of the benchmarks.

>>> m = parselist("1-3,8", 10)
>>> format_list(m)
'1-3,8'
>>> format_list(remap(parselist("1,5,7", 16), parselist("4-7", 16), parselist("12-15", 16)))
'1,13,15'
"""
from __future__ import annotations

from ..errors import NumalabError

__all__ = [
    "parselist", "parse_hex", "format_list", "format_hex", "parse_nodestring",
    "weight", "first", "next_node", "next_in", "nth", "ordinal", "remap", "bitremap",
    "onto", "fold", "relative", "intersects", "subset",
]

_U32 = 0xFFFFFFFF
_KSPACE = (9, 10, 11, 12, 13, 32, 160)  # the kernel's isspace() (lib/ctype.c, Latin-1 table)
_HEX = "0123456789abcdefABCDEF"


def _bytes(text):
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    return str(text).encode("utf-8", "surrogatepass")


def _err(problem, errno, text, pos):
    raise NumalabError(problem, errno=errno, input=text, position=pos)


# ----------------------------------------------------------------------------- list syntax
def parselist(text, nbits, kernel=None):
    """bitmap_parselist(): the kernel's list syntax, one byte at a time.

    Parameters
    ----------
    text : str or bytes
        The list; a ``str`` is taken as its UTF-8 bytes (what a ``write(2)`` delivers).
    nbits : int
        Width of the mask.
    kernel : str, optional
        Release; before 5.13 the tokens ``N`` and ``all`` are refused (EINVAL).

    Returns
    -------
    list of bool

    >>> [i for i, b in enumerate(parselist("0-7:2/4", 8)) if b]
    [0, 1, 4, 5]
    """
    has_n = has_all = True
    if kernel is not None:
        from ..kernel import profile

        has_n, has_all = profile(kernel).list_grammar
    s = _bytes(text)
    L = len(s)
    last = nbits - 1
    mask = [False] * nbits

    def at(i):  # the byte at i, 0 past the end (a C string's terminator)
        return s[i] if i < L else 0

    def end_of_str(c):
        return c == 0 or c == 10

    def sep(c):  # __end_of_region
        return c in _KSPACE or c == 44

    def end_of_region(c):
        return sep(c) or end_of_str(c)

    def getnum(i):
        # bitmap_getnum(): 'N' is the last bit, else decimal digits (at least one)
        if at(i) == 78 and has_n:  # 'N'
            return last, i + 1
        j = i
        value = 0
        while 48 <= at(j) <= 57:
            value = value * 10 + (at(j) - 48)
            j += 1
        if j == i:
            _err(f"expected a number at {s[i:i + 1]!r}", "EINVAL", text, i)
        if value > _U32:
            _err("number does not fit in 32 bits", "EOVERFLOW", text, i)
        return value, j

    i = 0
    while True:
        # bitmap_find_region(): skip commas and white space (a newline is white space here)
        while sep(at(i)):
            i += 1
        if end_of_str(at(i)):
            return mask
        region_pos = i
        end_pos = i
        off_pos = group_pos = None
        done = False
        # bitmap_parse_region()
        if has_all and s[i:i + 3].lower() == b"all":
            start, end = 0, last
            i += 3
            pattern = True
        else:
            start, i = getnum(i)
            end_pos = region_pos
            if end_of_region(at(i)):
                end = start
                pattern = False
            elif at(i) != 45:  # '-'
                _err(f"unexpected {s[i:i + 1]!r} after a number", "EINVAL", text, i)
            else:
                end_pos = i + 1
                end, i = getnum(i + 1)
                pattern = True
        if pattern and not end_of_region(at(i)):
            if at(i) != 58:  # ':'
                _err(f"unexpected {s[i:i + 1]!r} after a range", "EINVAL", text, i)
            off_pos = i + 1
            off, i = getnum(i + 1)
            if at(i) != 47:  # '/'
                _err("expected '/' after the used-bits count", "EINVAL", text, i)
            group_pos = i + 1
            group, i = getnum(i + 1)
        else:
            off = group = (end + 1) & _U32
            done = end_of_str(at(i))
        # bitmap_check_region()
        if start > end:
            _err(f"range start {start} is after its end {end}", "EINVAL", text, region_pos)
        if group == 0:
            _err("group size is 0", "EINVAL", text, region_pos if group_pos is None else group_pos)
        if off > group:
            _err(f"used bits {off} exceed the group size {group}", "EINVAL", text, off_pos)
        if end >= nbits:
            _err(f"bit {end} is beyond the last bit {last}", "ERANGE", text, end_pos)
        # bitmap_set_region(): groups start every `group` bits (unsigned 32-bit arithmetic)
        g = start
        while g <= end:
            for b in range(g, g + min(end - g + 1, off)):
                mask[b] = True
            g = (g + group) & _U32
        if done:
            return mask


def format_list(mask):
    """``%*pbl``: ascending decimal, runs of two or more bits as ``a-b``.

    >>> format_list([True, True, False, True])
    '0-1,3'
    """
    out = []
    nbits = len(mask)
    b = 0
    while b < nbits:
        if mask[b]:
            e = b
            while e + 1 < nbits and mask[e + 1]:
                e += 1
            out.append(str(b) if e == b else f"{b}-{e}")
            b = e + 1
        else:
            b += 1
    return ",".join(out)


def format_hex(mask):
    """``%*pb``: 32-bit chunks, most significant first, first chunk padded to its own width.

    >>> format_hex([True] * 4)
    'f'
    """
    nbits = len(mask)
    chunks = []
    width = nbits % 32 or 32
    top = ((nbits + 31) // 32) * 32 - 32
    first = True
    while top >= 0:
        value = 0
        for k in range(width if first else 32):
            if top + k < nbits and mask[top + k]:
                value |= 1 << k
        digits = (width + 3) // 4 if first else 8
        chunks.append(format(value, "x").rjust(digits, "0"))
        first = False
        top -= 32
    return ",".join(chunks)


def parse_hex(text, nbits):
    """bitmap_parse(): hex chunks of 32 bits, read from the end of the string backwards.

    >>> format_list(parse_hex("1,0", 33))
    '32'
    """
    s = _bytes(text)
    cut = len(s)
    for k, c in enumerate(s):
        if c in (0, 10):
            cut = k
            break
    chunks_left = (nbits + 31) // 32
    values = []  # least significant chunk first
    starts = []
    end = cut - 1

    def sep(c):
        return c in _KSPACE or c == 44

    def hexval(c):
        ch = chr(c)
        return int(ch, 16) if ch in _HEX else -1

    while True:
        while end >= 0 and sep(s[end]):
            end -= 1
        if end < 0:
            break
        if chunks_left == 0:
            _err(f"more than {(nbits + 31) // 32} chunks of 32 bits", "EOVERFLOW", text, end)
        chunks_left -= 1
        value = 0
        shift = 0
        while True:
            d = hexval(s[end])
            if d < 0:
                _err(f"{s[end:end + 1]!r} is not a hex digit", "EINVAL", text, end)
            value |= d << shift
            shift += 4
            lowest = end
            end -= 1
            if end < 0 or sep(s[end]):
                break
            if shift == 32:
                if hexval(s[end]) >= 0:
                    _err("a chunk has more than 8 hex digits", "EOVERFLOW", text, end)
                end -= 1  # the kernel steps over one non-hex byte after 8 digits
                break
        values.append(value)
        starts.append(lowest)
    mask = [False] * nbits
    for k, value in enumerate(values):
        for j in range(32):
            if value >> j & 1:
                b = 32 * k + j
                if b >= nbits:
                    _err(f"bit {b} is beyond the last bit {nbits - 1}", "EOVERFLOW", text,
                         starts[_highest_chunk_over(values, nbits)])
                mask[b] = True
    return mask


def _highest_chunk_over(values, nbits):
    best = None
    for k, value in enumerate(values):
        for j in range(32):
            if value >> j & 1 and 32 * k + j >= nbits:
                best = k
    return best


# ----------------------------------------------------------------------------- libnuma
def parse_nodestring(text, allowed, possible=None, configured=None):
    """numactl's __numa_parse_nodestring() (libnuma 2.0.19), char by char.

    ``allowed``: the set node numbers are checked against; ``configured``: how many low node
    ids ``!`` flips (numa_num_configured_nodes(); default the weight of ``possible`` or of
    ``allowed``).

    >>> format_list(parse_nodestring("+1-2", parselist("2,4,6,8", 16)))
    '4,6'
    """
    allowed = [bool(b) for b in allowed]
    nbits = len(allowed)
    if configured is None:
        configured = weight(possible) if possible is not None else weight(allowed)
    s = str(text)
    L = len(s)
    mask = [False] * nbits

    def at(i):
        return s[i] if i < L else "\0"

    def is_set(n):  # numa_bitmask_isbitset()
        return 0 <= n < nbits and allowed[n]

    def strtoul(i):
        j = i
        while at(j) in " \t\n\v\f\r":
            j += 1
        neg = False
        if at(j) in "+-":
            neg = at(j) == "-"
            j += 1
        base = 10
        if at(j) == "0" and at(j + 1) in "xX" and at(j + 2) in _HEX:
            base, j = 16, j + 2
        elif at(j) == "0":
            base = 8
        digits = "0123456789abcdef"[:base]
        k = j
        value = 0
        while at(k).lower() in digits and at(k) != "\0":
            value = value * base + int(at(k), 16)
            k += 1
        if k == j:
            return 0, i
        if value > 0xFFFFFFFFFFFFFFFF:
            value = 0xFFFFFFFFFFFFFFFF
        elif neg:
            value = (-value) & 0xFFFFFFFFFFFFFFFF
        return value, k

    def get_nr(i, relative):
        value, j = strtoul(i)
        if not relative or j == i:
            return value, j
        nr = value if value < 1 << 63 else value - (1 << 64)  # stored in a signed long
        b = 0
        while nr >= 0 and b <= nbits:
            if is_set(b):
                nr -= 1
            b += 1
        return b - 1, j

    if L == 0:
        return mask
    i = 0
    invert = relative = False
    if at(i) == "!":
        invert, i = True, i + 1
    if at(i) == "+":
        relative, i = True, i + 1
    while True:
        if at(i).isascii() and at(i).isalpha():
            if s[i:] == "all":
                mask = list(allowed)
                i = L + 1
                break
            for prefix in ("netdev:", "file:", "ip:", "block:", "pci:"):
                if s[i:].startswith(prefix):
                    _err("I/O device affinity is not modelled", None, text, i)
        arg, j = get_nr(i, relative)
        if j == i:
            _err("unparseable node description", None, text, i)
        if not is_set(arg):
            _err(f"node argument {_signed(arg)} is out of range", None, text, i)
        mask[arg] = True
        i = j
        if at(i) == "-":
            i += 1
            arg2, j = get_nr(i, relative)
            if j == i:
                _err("missing node argument after '-'", None, text, i)
            if not is_set(arg2):
                _err(f"node argument {_signed(arg2)} is out of range", None, text, i)
            a = arg
            while a <= arg2:
                if is_set(a):
                    mask[a] = True
                a += 1
            i = j
        c = at(i)
        i += 1
        if c != ",":
            break
    if i - 1 < L and at(i - 1) != "\0":
        _err(f"unexpected {at(i - 1)!r}", None, text, i - 1)
    if invert:
        for b in range(min(configured, nbits)):
            mask[b] = not mask[b]
    return mask


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


# ----------------------------------------------------------------------------- bit operations
def weight(mask):
    """bitmap_weight(): number of set bits."""
    n = 0
    for b in mask:
        if b:
            n += 1
    return n


def first(mask):
    """first_node(): lowest set bit, or nbits when empty."""
    return next_node(mask, -1)


def next_node(mask, n):
    """next_node(): lowest set bit above ``n``, or nbits."""
    for b in range(max(n + 1, 0), len(mask)):
        if mask[b]:
            return b
    return len(mask)


def next_in(mask, n):
    """next_node_in(): like next_node() but wrapping to the first set bit; nbits if empty."""
    b = next_node(mask, n)
    if b == len(mask):
        b = first(mask)
    return b


def nth(mask, k):
    """find_nth_bit(): the k-th (0-based) set bit, nbits if there are not that many."""
    for b in range(len(mask)):
        if mask[b]:
            if k == 0:
                return b
            k -= 1
    return len(mask)


def ordinal(mask, b):
    """bitmap_pos_to_ord(): number of set bits below ``b`` if ``b`` is set, else -1."""
    if not (0 <= b < len(mask)) or not mask[b]:
        return -1
    n = 0
    for c in range(b):
        if mask[c]:
            n += 1
    return n


def bitremap(b, old, new):
    """bitmap_bitremap(): where bit ``b`` goes under the ``old`` -> ``new`` mapping."""
    w = weight(new)
    n = ordinal(old, b)
    if n < 0 or w == 0:
        return b
    return nth(new, n % w)


def remap(src, old, new):
    """bitmap_remap(): map every set bit of ``src`` through bitremap()."""
    dst = [False] * len(src)
    for b in range(len(src)):
        if src[b]:
            dst[bitremap(b, old, new)] = True
    return dst


def onto(orig, relmap):
    """bitmap_onto(): the m-th set bit of ``relmap`` is set when bit m of ``orig`` is."""
    dst = [False] * len(orig)
    m = 0
    for n in range(len(relmap)):
        if relmap[n]:
            if m < len(orig) and orig[m]:
                dst[n] = True
            m += 1
    return dst


def fold(orig, sz):
    """bitmap_fold(): bit b of ``orig`` sets bit b mod sz."""
    dst = [False] * len(orig)
    for b in range(len(orig)):
        if orig[b]:
            if sz <= 0:
                raise NumalabError("fold by a size of 0 divides by zero", input=sz)
            dst[b % sz] = True
    return dst


def relative(user, allowed):
    """mpol_relative_nodemask(): onto(fold(user, weight(allowed)), allowed)."""
    return onto(fold(user, weight(allowed)), allowed)


def intersects(a, b):
    """bitmap_intersects()."""
    for x, y in zip(a, b):
        if x and y:
            return True
    return False


def subset(a, b):
    """bitmap_subset(): every bit of ``a`` is in ``b``."""
    for x, y in zip(a, b):
        if x and not y:
            return False
    return True
