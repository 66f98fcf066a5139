"""``numalab qemu-args TOPO [--mem-per-node SIZE] [--json]``: boot a real kernel on a topology.

Prints the QEMU ``-smp``, ``-m``, ``-object memory-backend-ram``, ``-numa node`` and ``-numa dist``
arguments as one shell-quoted line (``--json``: a list of strings). Nodes without memory get no
``memdev``; ``--mem-per-node`` (e.g. ``256M``) gives every node with memory that size instead of its
real size. What had to change (renumbered node or CPU ids) is said on stderr.
"""
from __future__ import annotations

import sys

from . import emit_json
from .. import sources
from .._io import escape_text

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser("qemu-args", help="QEMU arguments that boot a guest with this topology",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("topo", metavar="TOPO", help="preset, generator call, file, snapshot or 'host'")
    p.add_argument("--mem-per-node", metavar="SIZE", default=None,
                   help="memory of each node that has memory (e.g. 256M); default: its real size")
    p.add_argument("--json", action="store_true", help="print the arguments as a JSON list")
    p.set_defaults(func=run)


def run(args) -> int:
    t = sources.load(args.topo)
    mem = sources.parse_size(args.mem_per_node, "--mem-per-node") if args.mem_per_node else None
    argv, notes = sources.qemu_args(t, mem)
    for n in notes:
        print(f"numalab: note: {escape_text(n)}", file=sys.stderr)
    if args.json:
        emit_json(argv)
    else:
        print(sources.shell_line(argv))
    return 0
