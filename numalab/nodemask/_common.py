"""Private helpers shared by the nodemask modules (argument checks, text as bytes, blocks)."""
from __future__ import annotations

import numpy as np

from ..errors import NumalabError

_U32 = 0xFFFFFFFF
_CHUNK_ROWS = 1 << 16  # rows per block in batched paths: bounds temporary memory


def _check_nbits(nbits) -> int:
    try:
        n = int(nbits)
    except (TypeError, ValueError):
        raise NumalabError("nbits must be an integer", input=nbits) from None
    if n != nbits or n < 1 or n > 1 << 20:
        raise NumalabError("nbits must be an integer from 1 to 1048576", input=nbits)
    return n



def _as_bytes(text) -> bytes:
    """Text as the bytes a write(2) would deliver (UTF-8 for str)."""
    if isinstance(text, (bytes, bytearray, np.bytes_)):
        return bytes(text)
    return str(text).encode("utf-8", "surrogatepass")


def _show(raw: bytes) -> str:
    """A byte or two of input, quoted for a message (at most 8 bytes: input may be a hostile file)."""
    return repr(raw[:8].decode("utf-8", "replace")) + ("..." if len(raw) > 8 else "")


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


def _index_array(x, name):
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "b" or not np.all(np.mod(arr, 1) == 0):
            raise NumalabError(f"{name} must be an integer (array)", input=_short(x))
        arr = arr.astype(np.int64)
    return arr.astype(np.int64, copy=False)



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


def _hex_layout(nbits):
    """Canonical %*pb layout: (text length, column of every digit, first-chunk digit count)."""
    nchunks = (nbits + 31) // 32
    first_digits = ((nbits % 32 or 32) + 3) // 4
    ndig = first_digits + 8 * (nchunks - 1)
    j = np.arange(ndig)
    commas_before = np.where(j < first_digits, 0, (j - first_digits) // 8 + 1)
    return ndig + nchunks - 1, j + commas_before, first_digits
