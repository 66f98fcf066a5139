"""The one exception type of numalab.

Every bad input raises :class:`NumalabError`, a :class:`ValueError` subclass that carries

* ``errno``: the kernel's errno name when the kernel itself would refuse the input
  (``"EINVAL"``, ``"ERANGE"``, ``"EOVERFLOW"``, ``"EBUSY"``, ...), else ``None``;
* ``input``: the offending input (a string, a file name, a field);
* ``position``: the 0-based character position of the problem inside ``input`` when it is text.

The message is one line that names the input and the problem, so the CLI prints ``str(err)``
and exits with status 2.
"""
from __future__ import annotations

__all__ = ["NumalabError"]

#: Longest quoted input in a message (longer inputs are cut in the middle, with their length).
_MAX_INPUT = 200


class NumalabError(ValueError):
    """Bad input: one line naming the input and the problem, plus the kernel's errno name.

    Examples
    --------
    >>> err = NumalabError("range end 8 is beyond the last bit 7", errno="ERANGE", input="0-8", position=2)
    >>> err.errno, err.position
    ('ERANGE', 2)
    >>> str(err)
    "'0-8': range end 8 is beyond the last bit 7 [ERANGE at position 2]"
    """

    def __init__(self, problem: str, *, errno: str | None = None, input=None, position: int | None = None):
        self.problem = problem
        self.errno = errno
        self.input = input
        self.position = position
        super().__init__(self._line())

    def _line(self) -> str:
        head = ""
        if self.input is not None:
            shown = repr(self.input)  # repr escapes control characters
            if len(shown) > _MAX_INPUT:  # never quote more than a short excerpt of an input:
                # its start and its end (a path's file name is at the end)
                shown = (shown[:_MAX_INPUT // 2 - 10] + "..." + shown[-(_MAX_INPUT // 2):] +
                         f" ({len(str(self.input))} characters)")
            head = f"{shown}: "
        tail = []
        if self.errno:
            tail.append(self.errno)
        if self.position is not None:
            tail.append(f"at position {self.position}")
        suffix = f" [{' '.join(tail)}]" if tail else ""
        return (head + self.problem + suffix).replace("\n", "\\n")

    def __reduce__(self):  # keep pickling (multiprocessing, hypothesis) working
        return (_rebuild, (self.problem, self.errno, self.input, self.position))


def _rebuild(problem, errno, input, position):
    return NumalabError(problem, errno=errno, input=input, position=position)
