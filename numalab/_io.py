"""Small file and JSON helpers shared by the loaders, the reports and the CLI."""
from __future__ import annotations

import os
import pathlib
import tempfile

import numpy as np

__all__ = ["atomic_write", "jsonable"]


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
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot encode {type(o).__name__} as JSON")
