"""numactl / libnuma node strings (``numa_parse_nodestring``): a user-space grammar, not the kernel's."""
from __future__ import annotations

import re

import numpy as np

from ..errors import NumalabError
from ._common import _short
from .base import as_mask, weight

__all__ = ["parse_nodestring"]

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
    >>> from numalab.nodemask import format_list, parselist
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
