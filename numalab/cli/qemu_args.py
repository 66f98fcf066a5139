"""``numalab qemu-args TOPO [--mem-per-node SIZE] [--hot-add NODE:SIZE ...] [--json]``: boot a real kernel on a topology.

Prints the QEMU ``-smp``, ``-m``, ``-object memory-backend-ram``, ``-numa node`` and ``-numa dist``
arguments as one shell-quoted line (``--json``: a list of strings). Nodes without memory get no
``memdev``; ``--mem-per-node`` (e.g. ``256M``) gives every node with memory that size instead of its
real size. What had to change (renumbered node or CPU ids) is said on stderr. SIZE is checked
before it is converted: at most 15 digits (read exactly), and all nodes together at most
2**52 bytes (4 PiB, x86_64's MAX_PHYSMEM_BITS with 5-level paging).
"""
from __future__ import annotations

from . import emit_json, say
from .. import qemu, sources
from ..errors import NumalabError

#: x86_64 MAX_PHYSMEM_BITS (5-level paging): no guest can have more physical memory.
MAX_PHYS_BYTES = 1 << 52

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser("qemu-args", help="QEMU arguments that boot a guest with this topology",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("topo", metavar="TOPO", help="preset, generator call, file, snapshot or 'host'")
    p.add_argument("--mem-per-node", metavar="SIZE", default=None,
                   help="memory of each node that has memory (e.g. 256M); default: its real size")
    p.add_argument("--hot-add", action="append", default=[], metavar="NODE:SIZE",
                   help="a DIMM of SIZE (whole 128M blocks) on NODE that the guest adds after boot (repeatable; "
                        "boot the kernel with memhp_default_state=online)")
    p.add_argument("--json", action="store_true", help="print the arguments as a JSON list")
    p.set_defaults(func=run)


def run(args) -> int:
    t = sources.load(args.topo)
    mem = None
    if args.mem_per_node is not None:
        text = args.mem_per_node
        digits = sum(ch.isdigit() for ch in text)
        if len(text) > 40 or digits > 15 or not text.isascii():
            raise NumalabError("not a size numalab can read exactly (at most 15 ASCII digits, e.g. 256M, 1.5G)",
                               input="--mem-per-node")
        mem = sources.parse_size(text, "--mem-per-node")
        nodes = max(int(t.has_memory.sum()), 1)
        if mem * nodes > MAX_PHYS_BYTES:
            raise NumalabError(f"{nodes} node(s) of {text} exceed 2**52 bytes (4 PiB), the most physical "
                               "memory x86_64 addresses (MAX_PHYSMEM_BITS)", input="--mem-per-node")
    hot = [qemu.parse_hot_add(h, f"--hot-add {h[:40]}") for h in args.hot_add]
    argv, notes = qemu.qemu_args(t, mem, hot_add=hot)
    for n in notes:
        say(f"numalab: note: {n}")
    if args.json:
        emit_json(argv)
    else:
        print(qemu.shell_line(argv))
    return 0
