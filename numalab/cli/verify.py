"""``numalab verify TOPO [--kernel-image PATH | --kernel-package NAME] [--experiments boot,policy]
[--keep DIR] [--timeout S] [--hot-add NODE:SIZE ...] [--kernel-args ARGS] [--json]``: boot a real
kernel on TOPO and compare it with numalab.

``--hot-add 2:256M`` plugs a 256 MiB DIMM into node 2 that the guest onlines after SMP
bring-up (``memhp_default_state=online``): the kernel rebuilds its zonelists, now penalising
nodes with CPUs, and the policy experiments run on the rebuilt lists. A topology file may say
which of its memory came by hot-add (``meta.hot_added``, as the bundled penalty-tie-hotplug
does); ``--hot-add`` replaces that. A possible-but-offline node is booted when it is the only
one and numbered right after the online nodes. ``--kernel-args 'numa=fake=2U'`` adds words to
the guest's command line (under NUMA emulation the guest's own nodes are compared).

The kernel is a vmlinuz file or a Debian package (``apt-get download`` + ``dpkg-deb -x``, never
installed). The guest is ``qemu-system-x86_64`` (KVM when it works, else TCG) with ``numalab
qemu-args`` arguments and a busybox initramfs with a C probe compiled by gcc. Exit status: 0 when
every measurement agrees (or differs only where the kernel is not deterministic), 1 when some
differ, 2 on a usage or environment error (one line saying what to install).
"""
from __future__ import annotations

import json
import sys

from . import emit_json
from .. import verify as _verify
from .._io import jsonable
from ..errors import NumalabError

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser("verify", help="boot a real kernel under QEMU on a topology and compare it with numalab",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("topo", metavar="TOPO", help="preset, generator call, file or snapshot")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--kernel-image", metavar="PATH", help="an x86_64 vmlinuz (its config-RELEASE beside it is read)")
    g.add_argument("--kernel-package", metavar="NAME", help="a Debian kernel package, e.g. linux-image-6.1.0-57-amd64")
    p.add_argument("--experiments", default="boot,policy", metavar="LIST",
                   help="comma-separated: boot, policy (default both)")
    p.add_argument("--keep", metavar="DIR", help="store the raw log, snapshot, probe records and result in DIR")
    p.add_argument("--timeout", type=float, default=900, metavar="S", help="time limit of the guest (default 900 s)")
    p.add_argument("--cpus-per-node", type=int, default=1, metavar="N",
                   help="vCPUs per CPU node (default 1; each node keeps its lowest CPU ids)")
    p.add_argument("--mem-per-node", metavar="SIZE", default=None,
                   help="guest memory per node with memory (default 256M, 128M above 8 nodes)")
    p.add_argument("--hot-add", action="append", default=None, metavar="NODE:SIZE",
                   help="memory hot-added to NODE after boot, in 128M blocks (repeatable; replaces the "
                        "topology's meta.hot_added)")
    p.add_argument("--kernel-args", default="", metavar="ARGS",
                   help="more words for the guest kernel's command line, e.g. 'numa=fake=2U'")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _progress(stage, msg):
    print(f"numalab verify: [{stage}] {msg}", file=sys.stderr, flush=True)


def run(args) -> int:
    exps = tuple(e.strip() for e in args.experiments.split(",") if e.strip())
    if not exps:
        raise NumalabError("no experiment given", input="--experiments")
    if not 1 <= args.timeout <= 86400:
        raise NumalabError("must be between 1 and 86400 seconds", input="--timeout")
    hot = None if args.hot_add is None else [_verify.parse_hot_add(h, f"--hot-add {h[:40]}") for h in args.hot_add]
    res = _verify.verify(args.topo, kernel_image=args.kernel_image, kernel_package=args.kernel_package,
                         experiments=exps, keep=args.keep, timeout=args.timeout,
                         cpus_per_node=args.cpus_per_node, mem_per_node=args.mem_per_node, hot_add=hot,
                         kernel_args=args.kernel_args[:4096].split(), progress=_progress)
    if args.json:
        emit_json(json.loads(json.dumps(_verify._result_json(res), default=jsonable)))
    else:
        print(_verify.result_table(res))
    return res["status"]
