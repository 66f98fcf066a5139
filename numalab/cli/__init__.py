"""The ``numalab`` command line: one module per subcommand, every command with ``--json``.

Each module in this package defines ``register(subparsers)``, which adds its parser and sets
``func`` to a function ``run(args) -> int``. Errors: any :class:`~numalab.errors.NumalabError` or
argument error prints one line on stderr (``numalab: error: ...``) and exits with status 2, no
traceback.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .. import __version__
from .._io import jsonable
from ..errors import NumalabError

__all__ = ["main", "build_parser", "COMMANDS", "emit_json"]

#: Subcommand modules, in the order ``numalab --help`` lists them.
COMMANDS = ("mask", "kernel", "topology", "snapshot", "qemu_args", "zonelists", "policy", "report", "verify")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message):
        raise NumalabError(message.replace("\n", " "), input=self.prog)


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
    """Write one JSON document (numpy scalars and arrays converted) and a newline."""
    stream = stream or sys.stdout
    stream.write(json.dumps(obj, default=jsonable, indent=None) + "\n")


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except NumalabError as e:
        print(f"numalab: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `numalab ... | head`
        return 0
    except KeyboardInterrupt:
        return 130


def _entry():  # console-script entry point
    sys.exit(main())
