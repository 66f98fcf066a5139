"""The ``numalab`` command line: one module per subcommand, every command with ``--json``.

Each module in this package defines ``register(subparsers)``, which adds its parser and sets
``func`` to a function ``run(args) -> int``. Errors: any :class:`~numalab.errors.NumalabError` or
argument error prints one line on stderr (``numalab: error: ...``) and exits with status 2, no
traceback.

:func:`main` also guards the process edges, so that no input and no environment ends in a
traceback or in silently lost output:

* stdout goes through :class:`_Stdout`: control characters other than newline and tab are written
  as escapes (terminal escape sequences in a topology name cannot reach the terminal); a closed
  stdout, a full disk (``>/dev/full``) or an encoding that cannot hold the text
  (``PYTHONIOENCODING=ascii``) gives one line on stderr and exit status 2;
* ``numalab`` with no command prints the usage on stderr and exits with status 2;
* Ctrl-C exits with status 130 and no traceback (the package imports nothing heavy before
  :func:`main` runs); a closed pipe (``numalab ... | head``) exits quietly with status 141, as
  a process killed by SIGPIPE would;
* numpy's floating-point RuntimeWarnings (overflow, invalid value, divide by zero) are errors
  (exit 2): a number that overflowed is never printed as an answer;
* anything else (a bug) is one line naming the exception and where it happened, exit status 3;
  ``NUMALAB_TRACEBACK=1`` shows the traceback instead.
"""
from __future__ import annotations

import sys

try:  # Ctrl-C while the command line itself is imported: exit 130 quietly, as main() does
    import argparse
    import importlib
    import json
    import os
    import re
    import warnings

    from .. import __version__
    from .._io import escape_text, jsonable
    from ..errors import NumalabError
except KeyboardInterrupt:  # pragma: no cover - timing dependent (tests/test_hostile_cli.py)
    raise SystemExit(130) from None

__all__ = ["main", "build_parser", "COMMANDS", "emit_json", "say"]

#: Subcommand modules, in the order ``numalab --help`` lists them.
COMMANDS = ("mask", "kernel", "topology", "snapshot", "qemu_args", "zonelists", "policy", "cpuset", "race",
            "compare", "cost", "report", "verify")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message):
        hint = ""
        if re.search(r"unrecognized arguments: -\d|expected one argument|arguments are required", message):
            hint = ("; a value starting with '-' is taken for an option: write it as --option=VALUE, "
                    "or put -- before a positional value")
        raise NumalabError(message.replace("\n", " ") + hint, input=self.prog)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="numalab", description="A laboratory for Linux NUMA memory placement.")
    p.add_argument("--version", action="version", version=f"numalab {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:  # a command still being written must not break the others
            if e.name == f"{__name__}.{name}":
                continue
            raise
        mod.register(sub)
    return p


def emit_json(obj, stream=None) -> None:
    """Write one JSON document (numpy scalars and arrays converted) and a newline.

    ``allow_nan=False``: a NaN or an infinity can never be written as (invalid) JSON.
    """
    stream = stream or sys.stdout
    try:
        text = json.dumps(obj, default=jsonable, indent=None, allow_nan=False)
    except ValueError:  # NaN or Infinity somewhere (from an input the loaders let through)
        raise NumalabError("the result holds NaN or Infinity, which JSON cannot carry; refusing to "
                           "write invalid JSON (check the input for NaN/Infinity values)",
                           input="--json") from None
    stream.write(text + "\n")


class _OutputError(Exception):
    """stdout cannot take the output (closed, full, wrong encoding)."""


# C0 controls but newline and tab, DEL, C1 controls, zero-width and bidi format characters,
# line/paragraph separators, the BOM and lone surrogates: written as escapes on stdout.
_CTRL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069"
                      "\ufeff\ud800-\udfff]")


class _Stdout:
    """The guarded stdout of :func:`main` (see the module docstring)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if _CTRL_RE.search(text):
            text = escape_text(text, keep="\n\t")
        try:
            return self._stream.write(text)
        except UnicodeEncodeError as e:
            enc = getattr(self._stream, "encoding", "?")
            raise _OutputError(f"stdout (encoding {enc}) cannot write {e.object[e.start]!r}: set "
                               "PYTHONIOENCODING=utf-8, or use --json (ASCII only)") from None
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _OutputError(f"cannot write to stdout: {e.strerror or e}") from None

    def flush(self):
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _OutputError(f"cannot write to stdout: {e.strerror or e}") from None

    def isatty(self):
        try:
            return self._stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _discard_stdout(original) -> None:
    """Point fd 1 at /dev/null so that the interpreter's final flush of what stdout still
    buffers cannot fail again (and print 'Exception ignored ...')."""
    if original is None or original is not sys.__stdout__:
        return
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, original.fileno())
        os.close(fd)
    except (OSError, ValueError):
        pass


def say(line: str) -> None:
    """One line on stderr (notes, warnings, errors), escaped. A closed or broken stderr is
    ignored: there is nowhere to report it, and ``print(file=None)`` would write to stdout."""
    try:
        stream = sys.stderr
        if stream is not None:
            stream.write(escape_text(line) + "\n")
            stream.flush()
    except (OSError, ValueError, UnicodeEncodeError):
        pass


def _where(exc) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    return f" at {os.path.basename(last.tb_frame.f_code.co_filename)}:{last.tb_lineno}"


#: Python refuses to convert integer literals of more than 4300 digits (a guard against
#: quadratic-time conversion); wherever that happens, the number came from the input.
_DIGITS_PROBLEM = ("a number in the input has more digits than any id, count or size can have "
                   "(Python's int conversion limit, 4300 digits)")


def _too_many_digits(e) -> bool:
    return type(e) is ValueError and "integer string conversion" in str(e)


def _internal(e) -> int:
    if os.environ.get("NUMALAB_TRACEBACK"):
        raise e
    say(f"numalab: internal error: {type(e).__name__}: {e}{_where(e)} "
        "(please report it; NUMALAB_TRACEBACK=1 shows the traceback)")
    return 3


def main(argv=None) -> int:
    original = sys.stdout
    if original is None:
        say("numalab: error: stdout is closed: numalab has nowhere to write its output")
        return 2
    sys.stdout = _Stdout(original)
    try:
        with warnings.catch_warnings():
            # numpy's floating-point warnings (overflow, invalid value, divide by zero): a value
            # out of range, never printed as an answer. Other RuntimeWarnings (e.g. asyncio's in
            # `report`) stay warnings.
            warnings.filterwarnings("error", category=RuntimeWarning,
                                    message=r"(overflow|invalid value|divide by zero|underflow) encountered")
            parser = build_parser()
            try:
                args = parser.parse_args(argv)
            except SystemExit as e:  # --help, --version: flush here, where errors are handled
                sys.stdout.flush()
                return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
            if not getattr(args, "func", None):
                if sys.stderr is not None:   # print_usage(None) would write to stdout
                    try:
                        parser.print_usage(sys.stderr)
                    except (OSError, ValueError):
                        pass
                say("numalab: error: give a command (numalab --help lists them)")
                return 2
            code = int(args.func(args) or 0)
            sys.stdout.flush()
            return code
    except NumalabError as e:
        say(f"numalab: error: {e}")
        return 2
    except _OutputError as e:
        _discard_stdout(original)
        say(f"numalab: error: {e}")
        return 2
    except BrokenPipeError:  # e.g. `numalab ... | head`: the reader has all it wants
        _discard_stdout(original)
        return 141
    except KeyboardInterrupt:
        return 130
    except RuntimeWarning as e:
        say(f"numalab: error: numeric problem ({e}): an input value is out of range")
        return 2
    except ValueError as e:
        if not _too_many_digits(e):
            return _internal(e)
        say(f"numalab: error: {_DIGITS_PROBLEM}")
        return 2
    except MemoryError:
        say("numalab: error: out of memory: the input is too large")
        return 2
    except RecursionError:
        say("numalab: error: input nested too deeply")
        return 2
    except Exception as e:  # a bug: one line, not a traceback (NUMALAB_TRACEBACK=1 shows it)
        return _internal(e)
    finally:
        sys.stdout = original


def _entry():  # console-script entry point
    try:
        code = main()
    except KeyboardInterrupt:  # between main's handlers and here
        code = 130
    sys.exit(code)
