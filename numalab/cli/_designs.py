"""Arguments shared by ``numalab compare`` and ``numalab cost`` (the per-cpuset zonelist
questions): the machine, the kernel release, the design variants and the cpuset collection."""
from __future__ import annotations

__all__ = ["add_arguments", "load"]


def add_arguments(p, *, kernel_help: str, cpusets_help: str) -> None:
    """Add ``TOPO``, ``--kernel``, ``--variant`` (repeatable) and ``--cpusets`` to parser ``p``."""
    from ..cost import DESIGNS

    p.add_argument("topo", metavar="TOPO", help="preset name, JSON file, snapshot directory or tarball, or 'host'")
    p.add_argument("--kernel", default="current", help=kernel_help)
    p.add_argument("--variant", action="append", default=None,
                   help=f"design (repeatable): {', '.join(DESIGNS)}, or key=value,... (default: all named)")
    p.add_argument("--cpusets", default=None, help=cpusets_help)


def load(args, default_cpusets=None, **kw):
    """``(topology, cpusets)`` of parsed arguments: the cpusets of ``--cpusets`` (or of
    ``default_cpusets``; None when both are None) read by :func:`numalab.cgsets.parse_spec` with
    ``--kernel`` and ``kw``."""
    from .. import cgsets, sources

    topo = sources.load(args.topo)
    spec = args.cpusets if args.cpusets is not None else default_cpusets
    if callable(spec):
        spec = spec(topo)
    cs = cgsets.parse_spec(topo, spec, kernel=args.kernel, **kw) if spec is not None else None
    return topo, cs
