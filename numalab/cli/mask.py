"""``numalab mask LIST``: check a node list and print it as a list, a hex mask or JSON.

The list is parsed exactly as the kernel parses ``cpuset.mems`` (``bitmap_parselist``) over
``--nbits`` bits (default 1024, MAX_NUMNODES of Debian's x86_64 kernels); ``--from hex`` reads the
``%*pb`` form instead (as in ``Mems_allowed:``). A list the kernel would refuse is an error: one
line on stderr with the input, the problem, the errno name and the position, exit status 2.

Examples::

    $ numalab mask 0-3,8 --nbits 64 --to hex
    00000000,0000010f
    $ numalab mask 0-3,8 --json
    {"input": "0-3,8", "list": "0-3,8", "hex": "00000000,...,0000010f", "nodes": [0, 1, 2, 3, 8], ...}
"""
from __future__ import annotations

from .. import nodemask as nm
from ..kernel import profile
from . import emit_json

__all__ = ["register", "run", "describe"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mask", help="convert and check a node list (kernel list or hex syntax)",
        description="Parse a node list exactly as the kernel does (bitmap_parselist, the syntax of "
                    "cpuset.mems) and print it as a list, a hex mask (%%*pb) or JSON.")
    p.add_argument("list", metavar="LIST", help="node list, e.g. 0-3,8 or 0-31:1/4 or all")
    p.add_argument("--nbits", type=int, default=nm.DEFAULT_NBITS,
                   help="mask width, MAX_NUMNODES (default %(default)s, as CONFIG_NODES_SHIFT=10)")
    p.add_argument("--to", choices=("list", "hex", "json"), default="list",
                   help="output form (default: list)")
    p.add_argument("--from", dest="source", choices=("list", "hex"), default="list",
                   help="input syntax: kernel list (default) or hex mask")
    p.add_argument("--kernel", default="current",
                   help="kernel release whose parser to use (before 5.13: no N; before 5.14: no all)")
    p.add_argument("--json", action="store_true", help="same as --to json")
    # A list starting with '-' ("-5-3") is a list, not an option: argparse takes arguments that
    # look like negative numbers for positionals, and every option of this command starts with
    # letters, so widen its test to anything starting with '-' and a digit, ',' or ':'.
    if hasattr(p, "_negative_number_matcher"):
        import re

        p._negative_number_matcher = re.compile(r"^-[\d,:/]")
    p.set_defaults(func=run)


def describe(text: str, nbits: int = nm.DEFAULT_NBITS, *, kernel="current", source="list") -> dict:
    """Everything ``numalab mask --to json`` prints, as a dict.

    >>> d = describe("0-2,5", 8)
    >>> d["list"], d["hex"], d["nodes"], d["weight"]
    ('0-2,5', '27', [0, 1, 2, 5], 4)
    """
    k = profile(kernel)
    mask = nm.parse_hex(text, nbits) if source == "hex" else nm.parselist(text, nbits, kernel=k)
    return {
        "input": text,
        "syntax": source,
        "list": nm.format_list(mask),
        "hex": nm.format_hex(mask),
        "nodes": [int(b) for b in nm.to_nodes(mask)],
        "weight": int(nm.weight(mask)),
        "first": int(nm.first(mask)),
        "nbits": nbits,
        "kernel": k.label,
    }


def run(args) -> int:
    info = describe(args.list, args.nbits, kernel=args.kernel, source=args.source)
    to = "json" if args.json else args.to
    if to == "json":
        emit_json(info)
    else:
        print(info[to])
    return 0
