"""Small file and JSON helpers shared by the loaders, the reports and the CLI.

Hostile input goes through here: :func:`read_json` (the one strict JSON reader: size and depth
caps, no NaN/Infinity, int64-bounded integers, no repeated keys), :func:`read_capped` (bounded
reads), :func:`escape_text`/:func:`excerpt` (control characters never reach a terminal, inputs are
quoted short), :func:`check_output_path` (no writes into /proc, /sys, /dev or under a file) and
:func:`atomic_write`.
"""
from __future__ import annotations

import os
import pathlib
import tempfile

__all__ = ["atomic_write", "check_output_path", "jsonable", "read_json", "read_capped", "read_json_stream",
           "json_depth", "escape_text", "excerpt", "JSON_MAX_BYTES", "JSON_MAX_DEPTH", "INT64_MIN", "INT64_MAX"]


def atomic_write(path, data) -> pathlib.Path:
    """Write ``data`` (``bytes`` or ``str``, UTF-8) to ``path`` through a temporary file in the
    same folder and :func:`os.replace`: readers see the old file or the new one, never a partial
    one; on any error the temporary file is removed. The file gets mode 0644.

    >>> import tempfile, pathlib
    >>> p = atomic_write(pathlib.Path(tempfile.mkdtemp()) / "x.txt", "hello\\n")
    >>> p.read_text()
    'hello\\n'
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def jsonable(o):
    """``json.dumps(default=...)`` hook: numpy scalars and arrays as plain Python values.

    >>> import json, numpy as np
    >>> json.dumps({"n": np.int64(3), "ok": np.bool_(True), "a": np.arange(2)}, default=jsonable)
    '{"n": 3, "ok": true, "a": [0, 1]}'
    """
    import numpy as np  # lazily: the CLI imports this module before it can handle Ctrl-C

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot encode {type(o).__name__} as JSON")


# --------------------------------------------------------------------------- hostile input
#: Default caps of :func:`read_json` (a topology of 1024 nodes with its distance table is about
#: 4 MB of JSON; a batch line is much smaller and passes its own cap).
JSON_MAX_BYTES = 64 << 20
JSON_MAX_DEPTH = 64
#: Integers are bounded to int64 (every count, id and size numalab keeps is an int64 array
#: element); a literal with more digits than int64 can hold is refused before ``int()`` runs,
#: so Python's 4,300-digit conversion limit is never reached.
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
_INT_MAX_DIGITS = 19


def _line_col(text: str, pos: int) -> tuple:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def json_depth(text: str, limit: int | None = None) -> int:
    """Deepest nesting of ``[``/``{`` in JSON ``text``, brackets inside strings not counted.

    Linear time, no recursion and bounded memory (the text is scanned in chunks; with
    ``limit`` the scan stops at the first level deeper than it), so it can run before the
    parser, whose recursion a deeply nested document would exhaust.

    >>> json_depth('{"a": [1, {"b": "[[["}]}'), json_depth("3")
    (3, 0)
    """
    import re

    import numpy as np

    bare = re.sub(r'"(?:[^"\\]|\\.)*"?', '""', text, flags=re.S)
    table = np.zeros(256, np.int8)
    table[[ord("["), ord("{")]] = 1
    table[[ord("]"), ord("}")]] = -1
    depth = best = 0
    step = 1 << 20
    for i in range(0, len(bare), step):
        b = np.frombuffer(bare[i:i + step].encode("latin-1", "replace"), np.uint8)
        d = depth + np.cumsum(table[b], dtype=np.int64)
        if d.size:
            best = max(best, int(d.max()))
            depth = int(d[-1])
        if limit is not None and best > limit:
            break
    return best


def read_json(data, *, where, max_bytes: int = JSON_MAX_BYTES, max_depth: int = JSON_MAX_DEPTH,
              int_range: tuple = (INT64_MIN, INT64_MAX), duplicates: bool = False):
    """Parse untrusted JSON strictly; every problem is one :class:`NumalabError` naming ``where``.

    The one JSON reader for hostile input (batch lines, topology files, snapshot metadata):

    * ``data`` (``str`` or ``bytes``, UTF-8) longer than ``max_bytes`` is refused before parsing;
    * nesting deeper than ``max_depth`` is refused before parsing (no RecursionError);
    * ``NaN``, ``Infinity`` and ``-Infinity`` are refused (they are not JSON, and ``json.dumps``
      would write them back as invalid JSON), and so are number literals that overflow a float;
    * integers outside ``int_range`` (default int64) are refused, by digit count first;
    * a key repeated in one object is refused unless ``duplicates`` (the JSON text is ambiguous).

    Floats stay floats: a field that must be exact (a kernel version) has to refuse numbers
    itself.

    Examples
    --------
    >>> read_json('{"kernel": "6.10", "pages": 4}', where="line 1")
    {'kernel': '6.10', 'pages': 4}
    >>> read_json('{"pages": NaN}', where="line 2")
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: 'line 2': NaN is not a JSON number (give a finite number)
    >>> read_json("[" * 100 + "]" * 100, where="x.json")
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: 'x.json': JSON nested 100 levels deep; the limit is 64
    """
    import json

    from .errors import NumalabError

    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) > max_bytes:
            raise NumalabError(f"JSON of {len(data)} bytes; the limit is {max_bytes}", input=where)
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise NumalabError(f"not UTF-8 text (byte {e.start})", input=where) from None
    elif isinstance(data, str):
        text = data
        if len(text) > max_bytes:
            raise NumalabError(f"JSON of {len(text)} characters; the limit is {max_bytes}", input=where)
    else:
        raise TypeError(f"read_json takes str or bytes, not {type(data).__name__}")
    if text.startswith("\ufeff"):
        text = text[1:]
    # fewer brackets than the cap: it cannot be nested deeper (the usual case, skip the scan)
    depth = 0 if text.count("[") + text.count("{") <= max_depth else json_depth(text, max_depth)
    if depth > max_depth:
        raise NumalabError(f"JSON nested {depth} levels deep; the limit is {max_depth}", input=where)
    lo, hi = int_range

    def bad_constant(name):
        raise NumalabError(f"{name} is not a JSON number (give a finite number)", input=where)

    def parse_int(s):
        if len(s.lstrip("-")) > _INT_MAX_DIGITS + 1 or not lo <= int(s) <= hi:
            raise NumalabError(f"integer {s[:24]}{'...' if len(s) > 24 else ''} is outside {lo}..{hi}",
                               input=where)
        return int(s)

    def parse_float(s):
        v = float(s)
        if v in (float("inf"), float("-inf")):
            raise NumalabError(f"number {s[:24]}{'...' if len(s) > 24 else ''} overflows a double",
                               input=where)
        return v

    def pairs(items):
        out = dict(items)
        if not duplicates and len(out) != len(items):
            seen = set()
            for k, _ in items:
                if k in seen:
                    raise NumalabError(f"key {escape_text(k)[:40]!r} given twice in one object",
                                       input=where)
                seen.add(k)
        return out

    try:
        return json.loads(text, parse_constant=bad_constant, parse_int=parse_int,
                          parse_float=parse_float, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        line, col = _line_col(text, e.pos)
        at = f"column {col}" if "\n" not in text.strip() else f"line {line} column {col}"
        raise NumalabError(f"not JSON: {e.msg} at {at}", input=where) from None
    except RecursionError:  # pragma: no cover - json_depth caps the depth first
        raise NumalabError("JSON nested too deeply", input=where) from None


def read_capped(stream, max_bytes: int, *, where) -> bytes:
    """Read an open binary stream to its end, refusing more than ``max_bytes`` (at most
    ``max_bytes + 1`` bytes are ever read, so ``/dev/zero`` or a huge file costs nothing).

    >>> import io
    >>> read_capped(io.BytesIO(b"abc"), 3, where="x")
    b'abc'
    >>> read_capped(io.BytesIO(b"abcd"), 3, where="x")
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: 'x': more than 3 bytes; the limit is 3
    """
    from .errors import NumalabError

    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NumalabError(f"more than {max_bytes} bytes; the limit is {max_bytes}", input=where)
    return data


def read_json_stream(stream, *, where, max_bytes: int = JSON_MAX_BYTES, **kw):
    """:func:`read_json` of an open binary stream, read with :func:`read_capped`."""
    return read_json(read_capped(stream, max_bytes, where=where), where=where, max_bytes=max_bytes, **kw)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def _escape_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    o = ord(ch)
    return f"\\x{o:02x}" if o < 0x100 else (f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")


def _unsafe(ch: str) -> bool:
    import unicodedata

    # Cc: C0/C1 controls and DEL; Cf: format characters (bidi overrides, zero-width ones);
    # Cs: lone surrogates (unencodable); Zl/Zp: line and paragraph separators; Co/Cn:
    # private use and unassigned code points.
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp", "Co", "Cn")


def escape_text(value, *, keep: str = "") -> str:
    """``str(value)`` with every control or invisible character written as an escape.

    The one helper for text output of anything that came from a file or a user (topology names,
    notes, sources, paths, excerpts in error messages): terminal escape sequences cannot reach
    the terminal, and a newline in a name cannot forge an output line. Characters in ``keep``
    (e.g. ``"\\n"`` for a whole block of output) are left alone.

    >>> escape_text("node\\x1b[31m red\\nfake line\\u202e")
    'node\\\\e[31m red\\\\nfake line\\\\u202e'
    >>> escape_text("plain café")
    'plain café'
    """
    s = str(value)
    if s.isprintable() and not keep:
        return s  # fast path: no Cc/Cf/Cs/Zl/Zp/Co/Cn and no other separators
    return "".join(_escape_char(ch) if ch not in keep and (not ch.isprintable() and _unsafe(ch)) else ch
                   for ch in s)


def excerpt(value, limit: int = 60) -> str:
    """A short, escaped excerpt of untrusted text for an error message.

    >>> excerpt("x" * 100, 10)
    'xxxxxxxxxx... (100 characters)'
    """
    s = str(value)
    if len(s) <= limit:
        return escape_text(s)
    return escape_text(s[:limit]) + f"... ({len(s)} characters)"


#: Pseudo file systems numalab never writes into (``/dev/shm`` is ordinary tmpfs).
_PSEUDO_ROOTS = ("/proc", "/sys", "/dev")


def check_output_path(path, *, where=None, kind="file") -> pathlib.Path:
    """Check, before any work is done, that ``path`` can be created as a new ``kind``.

    The nearest existing ancestor must be a directory that this process may write to, outside
    ``/proc``, ``/sys`` and ``/dev`` (``/dev/shm`` is allowed). Raises :class:`NumalabError`
    with one line naming ``where`` (default: the path) and the problem.

    >>> check_output_path("/proc/x.tar.gz")
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: '/proc/x.tar.gz': is inside /proc, a pseudo file system; write elsewhere
    """
    from .errors import NumalabError

    where = str(path) if where is None else where
    if not str(path).strip():
        raise NumalabError("empty output path", input=where)
    path = pathlib.Path(path)
    real = pathlib.Path(os.path.realpath(path))
    for root in _PSEUDO_ROOTS:
        if (real == pathlib.Path(root) or pathlib.Path(root) in real.parents) and \
                not (real == pathlib.Path("/dev/shm") or pathlib.Path("/dev/shm") in real.parents):
            raise NumalabError(f"is inside {root}, a pseudo file system; write elsewhere", input=where)
    probe = path.absolute().parent
    while not probe.exists():
        if probe.is_symlink():
            raise NumalabError(f"{probe} is a dangling symbolic link", input=where)
        probe = probe.parent
    if not probe.is_dir():
        raise NumalabError(f"{probe} is a file, not a directory: cannot create a {kind} under it", input=where)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise NumalabError(f"no permission to write in {probe}", input=where)
    return path
