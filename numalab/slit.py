"""The kernel's checks on a firmware distance table (ACPI SLIT), and its default distances.

Linux never refuses to boot over a bad distance table: it throws the whole table away and uses
its default distances instead. This module applies the same rules to a distance matrix coming
from any numalab source, so that the distances a topology carries are the ones the kernel would
store and print in ``/sys/devices/system/node/nodeN/distance``.

The rules, in plain words:

* ``slit_valid()`` (drivers/acpi/numa/srat.c; arch/x86/mm/srat.c before v4.8) checks every entry
  of the table: an entry on the diagonal must be exactly ``LOCAL_DISTANCE`` (10) and every entry
  off the diagonal must be greater than ``LOCAL_DISTANCE``. One bad entry is enough for the
  kernel to print "SLIT table looks invalid. Not used." and ignore the table completely.
* ``numa_alloc_distance()`` (arch/x86/mm/numa.c; mm/numa_memblks.c since v6.12) fills the table
  with the defaults before any firmware value is stored: ``LOCAL_DISTANCE`` (10) on the diagonal,
  ``REMOTE_DISTANCE`` (20) everywhere else. ``__node_distance()`` returns the same defaults for a
  node beyond the table. So a rejected table leaves exactly these defaults.
* ``numa_set_distance()`` ignores single values that do not fit in a byte or that give a node a
  distance to itself other than 10. A SLIT entry is one byte and the diagonal was already checked
  by ``slit_valid()``, so for a table that passed, every value is stored as is.
* Symmetry is not checked: an asymmetric table that passes ``slit_valid()`` is used as it is.

Values below 0 or above 255 cannot come from a SLIT (one unsigned byte per entry) and a matrix
that is not square is not a table at all; both are input errors (:class:`~numalab.errors.NumalabError`),
not kernel decisions.

Examples
--------
>>> import numpy as np
>>> d, why = check([[10, 20], [20, 10]])
>>> d.tolist(), why
([[10, 20], [20, 10]], None)
>>> d, why = check([[10, 10], [10, 10]])  # a BIOS that fills 10 everywhere
>>> d.tolist()
[[10, 20], [20, 10]]
>>> why
'entry [0][1] is 10, an entry off the diagonal must be greater than 10'
"""
from __future__ import annotations

import numpy as np

from .errors import NumalabError

__all__ = ["LOCAL_DISTANCE", "REMOTE_DISTANCE", "default_distance", "as_table", "check", "problem",
           "reference_check"]

#: include/linux/topology.h
LOCAL_DISTANCE = 10
#: include/linux/topology.h
REMOTE_DISTANCE = 20


def default_distance(n: int) -> np.ndarray:
    """The kernel's default table (``numa_alloc_distance()``): 10 on the diagonal, 20 elsewhere.

    >>> default_distance(3).tolist()
    [[10, 20, 20], [20, 10, 20], [20, 20, 10]]
    """
    d = np.full((n, n), REMOTE_DISTANCE, dtype=np.int64)
    np.fill_diagonal(d, LOCAL_DISTANCE)
    return d


def as_table(distance, where="distance") -> np.ndarray:
    """The matrix as an int64 array; not square, not whole numbers or outside 0..255 is an error."""
    try:
        d = np.asarray(distance)
        if d.dtype == object or d.dtype.kind in "USb":  # no strings or booleans read as numbers
            raise ValueError
        d = d.astype(np.int64) if d.size else d.reshape(0, 0).astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        raise NumalabError("distance matrix must be a square table of integers", input=where) from None
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise NumalabError(f"distance matrix is not square (shape {tuple(d.shape)})", input=where)
    if np.any(np.asarray(distance, dtype=float) != d):
        raise NumalabError("distance matrix must hold whole numbers", input=where)
    if d.size and (d.min() < 0 or d.max() > 255):
        bad = np.argwhere((d < 0) | (d > 255))[0]
        raise NumalabError(f"distance [{bad[0]}][{bad[1]}] = {d[tuple(bad)]} is outside 0..255 "
                           "(a SLIT entry is one byte)", input=where)
    return d


def problem(distance, where="distance") -> str | None:
    """Why ``slit_valid()`` would reject this table (the first bad entry, row by row), or None.

    >>> problem([[10, 21], [21, 10]]) is None
    True
    >>> problem([[11, 21], [21, 10]])
    'entry [0][0] is 11, the distance of a node to itself must be 10'
    """
    d = as_table(distance, where)
    n = d.shape[0]
    diag = np.eye(n, dtype=bool)
    bad = (diag & (d != LOCAL_DISTANCE)) | (~diag & (d <= LOCAL_DISTANCE))
    if not bad.any():
        return None
    i, j = (int(x) for x in np.argwhere(bad)[0])  # row-major: the entry the kernel's loop meets first
    if i == j:
        return f"entry [{i}][{j}] is {d[i, j]}, the distance of a node to itself must be {LOCAL_DISTANCE}"
    return (f"entry [{i}][{j}] is {d[i, j]}, an entry off the diagonal must be greater than "
            f"{LOCAL_DISTANCE}")


def check(distance, where="distance") -> tuple[np.ndarray, str | None]:
    """The distances the kernel ends up with for this firmware table, and why it was rejected.

    Returns ``(table, reason)``: the table itself and ``None`` when ``slit_valid()`` accepts it,
    else the default table (:func:`default_distance`) and the reason (see :func:`problem`).

    >>> check([[10, 5], [5, 10]])[0].tolist()
    [[10, 20], [20, 10]]
    """
    d = as_table(distance, where)
    why = problem(d, where)
    if why is None:
        return d.copy(), None
    return default_distance(d.shape[0]), why


def reference_check(distance) -> tuple[list, str | None]:
    """Scalar reference of :func:`check`: the kernel's loops written out (used by the tests)."""
    rows = [[int(v) for v in row] for row in distance]
    n = len(rows)
    for i in range(n):  # slit_valid(): row by row, stop at the first bad entry
        for j in range(n):
            v = rows[i][j]
            if (i == j and v != LOCAL_DISTANCE) or (i != j and v <= LOCAL_DISTANCE):
                table = [[LOCAL_DISTANCE if a == b else REMOTE_DISTANCE for b in range(n)] for a in range(n)]
                return table, f"[{i}][{j}]"
    return rows, None
