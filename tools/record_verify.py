#!/usr/bin/env python3
"""Record ``numalab verify`` runs into tests/data/verify/NAME-MAJOR.MINOR/ (``--keep`` layout).

Runs the command once per (topology, kernel package), one guest at a time, and skips a
directory that already holds a result.json (delete it to record again). The ordinary test suite
replays the stored console logs against the model without QEMU (tests/test_verify.py).

    .venv/bin/python tools/record_verify.py                       # the default list, both kernels
    .venv/bin/python tools/record_verify.py --only two-node --kernel linux-image-6.1.0-57-amd64
    .venv/bin/python tools/record_verify.py --until 10:30         # stop starting runs after 10:30
    .venv/bin/python tools/record_verify.py --rescore             # result.json again from the logs

Needs root-installed qemu-system-x86, busybox-static, cpio, gcc (see numalab verify --help).
"""
from __future__ import annotations

import argparse
import datetime
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "verify"
KERNELS = {"6.1": "linux-image-6.1.0-57-amd64", "6.12": "linux-image-6.12.117+deb12-amd64"}
#: Bundled machines QEMU can express, small ones first (sparse-id presets are refused by verify),
#: then the synthetic shapes of the retired recorder (their topology.json under
#: tests/data/kernel-truth/recorded/), as NAME or NAME=PATH.
_SYN = ROOT / "tests" / "data" / "kernel-truth" / "recorded"
TOPOLOGIES = [
    "two-node", "cxl4", "four-ring", "memoryless-cpu", "fujitsu-a64fx-fx1000-8n",
    f"cpuless-low-ids={_SYN / 'cpuless-low-ids' / 'topology.json'}",
    "penalty-tie", "eight-2socket", "sockets-2x2", "hbm-flat-2s", "amd-threadripper-3960x-nps4-memoryless",
    "memoryless-2x2", "zones-split",
    f"asym-4={_SYN / 'asym-4' / 'topology.json'}", f"tie-20-21={_SYN / 'tie-20-21' / 'topology.json'}",
    f"memoryless-middle={_SYN / 'memoryless-middle' / 'topology.json'}",
    f"mesh-3x2={_SYN / 'mesh-3x2' / 'topology.json'}", f"snc-2x2={_SYN / 'snc-2x2' / 'topology.json'}",
    "cxl-movable", "ring-8", "flat-8", "sockets-2x4", "amd-epyc-rome-2s-nps4-cscs-eiger",
    "dell-c6145-opteron-4s-8n", "intel-e7-4870-4s", "spr-2s-cxl-expanders-4n", "ia64-2n", "bad-slit-all-10",
    f"eight-2socket-mixed={_SYN / 'eight-2socket-mixed' / 'topology.json'}", "mesh-4x4",
    "intel-e5-2695v4-2s", "amd-opteron6272-2s-4n", "huawei-kunpeng920-2s-4n", "dell-r740-cascadelake-snc2-2lm",
    "alcf-aurora-xeon-max-hbm-flat-4n", "ibm-4node-xeon7400", "aws-c5n-18xlarge-2s", "amd-epyc-9375f-2s-nps1",
    "supermicro-4029gp-2s", "ia64-madison-8n", "opteron865-8s-flat", "xeon-max-2s-snc4-hbm-flat-16n",
    "hp-superdome-sx2000-17n", "sgi-uv2000-24n", "ia64-64n-256cpu",
    # the set-ups that once needed tools/record_fallback_orders.py: memory hot-add (the zonelist
    # rebuild), a possible-but-offline node, NUMA emulation
    "penalty-tie-hotplug", "memoryless-cpu-hotplug=memoryless-cpu", "flat-6=flat(nodes=6, mem_per_node='256M')",
    f"sixteen-4socket={_SYN / 'sixteen-4socket' / 'topology.json'}",
    f"tie-20-21-hotplug={_SYN / 'tie-20-21' / 'topology.json'}",
    f"cpuless-equal-hotplug={_SYN / 'cpuless-equal-hotplug' / 'topology.json'}",
    f"possible-offline={_SYN / 'possible-offline' / 'topology.json'}",
    f"fake-4={_SYN / 'fake-4' / 'topology.json'}", f"fake-2U={_SYN / 'fake-2U' / 'topology.json'}",
    f"fake-3-2U-hotplug={_SYN / 'fake-3-2U-hotplug' / 'topology.json'}",
    # shapes made for verify (tests/data/verify-shapes/)
    f"possible-offline-near={ROOT / 'tests' / 'data' / 'verify-shapes' / 'possible-offline-near.json'}",
]
#: More ``numalab verify`` options of some entries.
OPTIONS = {
    "sixteen-4socket": ["--mem-per-node", "128M"],
    "tie-20-21-hotplug": ["--hot-add", "4:256M"],
    "memoryless-cpu-hotplug": ["--hot-add", "1:256M"],  # a memoryless CPU node gets memory after boot
    "cpuless-equal-hotplug": ["--hot-add", "3:256M"],
    "fake-4": ["--mem-per-node", "512M", "--kernel-args", "numa=fake=4"],
    "fake-2U": ["--mem-per-node", "512M", "--kernel-args", "numa=fake=2U"],
    "fake-3-2U-hotplug": ["--mem-per-node", "512M", "--kernel-args", "numa=fake=2U", "--hot-add", "2:256M"],
}

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--kernel", action="append", default=[], help="package name (default: both lines)")
    ap.add_argument("--kernel-image", action="append", default=[], metavar="LINE=VMLINUZ",
                    help="a vmlinuz to use instead of a package, e.g. 5.10=/tmp/k/boot/vmlinuz-5.10.0-46-amd64 "
                         "(a release Debian 12's archive does not have; its config-* beside it)")
    ap.add_argument("--until", default=None, metavar="HH:MM", help="start no run after this time")
    ap.add_argument("--rescore", action="store_true",
                    help="only rewrite result.json of every stored run from its console log (no QEMU)")
    a = ap.parse_args(argv)
    if a.rescore:
        sys.path.insert(0, str(ROOT))
        from numalab import verify

        for d in sorted(OUT.iterdir()):
            if (d / "console.log.gz").is_file():
                r = verify.rescore(d)
                print(f"{d.name}: {r['summary']}")
        return 0
    kernels = a.kernel or ([] if a.kernel_image else list(KERNELS.values()))
    images = dict(x.split("=", 1) for x in a.kernel_image)
    kernels += [f"image:{line}" for line in images]
    names = a.only or TOPOLOGIES
    failed = 0
    for entry in names:
        name, _, spec = entry.partition("=")
        spec = spec or name
        for pkg in kernels:
            line = pkg[6:] if pkg.startswith("image:") else next((k for k, v in KERNELS.items() if v == pkg), pkg)
            source = ["--kernel-image", images[line]] if pkg.startswith("image:") else ["--kernel-package", pkg]
            dest = OUT / f"{name}-{line}"
            if (dest / "result.json").is_file():
                continue
            if a.until and datetime.datetime.now().strftime("%H:%M") >= a.until:
                print(f"stopping: it is past {a.until}", flush=True)
                return 1 if failed else 0
            print(f"== {name} on {pkg}", flush=True)
            p = subprocess.run([str(ROOT / ".venv" / "bin" / "numalab"), "verify", spec, *source,
                                "--keep", str(dest), "--timeout", "900", *OPTIONS.get(name, [])], text=True, capture_output=True)
            print(p.stdout[-3000:], p.stderr[-1500:], f"exit {p.returncode}", sep="\n", flush=True)
            failed += p.returncode == 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
