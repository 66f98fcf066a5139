#!/usr/bin/env python3
"""Record real-kernel fallback orders: boot a Debian kernel under QEMU on numalab topologies.

Superseded by ``numalab verify`` (and tools/record_verify.py, which records its runs into
tests/data/verify/) for every shape QEMU's plain NUMA arguments express. This script stays only
for the two set-ups verify does not make: memory hot-added after boot (``pc-dimm`` +
``memhp_default_state=online``, the zonelist rebuild) and a possible-but-offline node (QEMU's
hot-pluggable range); its recordings in tests/data/kernel-truth/recorded/ are kept.

For every topology in :data:`TOPOLOGIES` and every kernel given, this boots the kernel under QEMU
(q35, TCG software emulation) with a tiny busybox initramfs whose ``/init`` prints the guest's
``/sys/devices/system/node`` files and ``/proc/zoneinfo`` on the serial console and powers off.
The NUMA arguments come from ``numalab qemu-args TOPO --mem-per-node SIZE --json`` (so the
recording also checks that helper). It writes one directory per recording::

    tests/data/kernel-truth/recorded/NAME/          (6.1; NAME-6.12/ for a 6.12 kernel, ...)
        topology.json   the numalab topology the guest was booted from (numalab JSON format)
        qemu-args.txt   the exact QEMU command line ($KERNEL, $INITRD, $LOG stand for the paths)
        boot.log        the relevant kernel log lines (version, SRAT/NUMA, zone ranges, every
                        "Fallback order for Node N:" line, "Built N zonelists", "Policy zone")
        expected.json   {"kernel": "6.1.192", "fallback_order_boot": {"0": [...], ...},
                         "fallback_order_final": ..., "zones": ..., "pxm_to_node": ..., ...}
        sys/devices/system/node/...  and  proc/zoneinfo   as the guest printed them, so that
                        ``numalab.sources.load(directory)`` loads the guest as a snapshot;
        numalab-snapshot.json  what ``numalab snapshot`` writes beside them (guest release,
                        CONFIG_NODES_SHIFT read from the package's boot/config-*, page size).

tests/test_truth_recorded.py compares numalab against these directories. This script never runs
in the tests: it needs root-installed packages and about 15 s of CPU per boot.

What it needs (Debian 12 "bookworm"; run as root once)::

    apt-get update
    apt-get install -y qemu-system-x86 busybox-static cpio
    # the kernels: only their vmlinuz is used, nothing is installed as the system kernel
    apt-cache search linux-image-6.1          # pick e.g. linux-image-6.1.0-57-amd64
    python3 tools/record_fallback_orders.py --fetch linux-image-6.1.0-57-amd64 \\
        --fetch 'linux-image-6.12.117+deb12-amd64' --workdir /tmp/numalab-rec

``--fetch PKG`` runs ``apt-get download PKG`` and ``dpkg-deb -x`` into the work directory
(6.12 images for bookworm come from bookworm's own archive or bookworm-backports).

How to run (from the repository root, with numalab installed in .venv)::

    .venv/bin/python tools/record_fallback_orders.py \\
        --kernel /tmp/numalab-rec/linux-image-6.1.0-57-amd64/boot/vmlinuz-6.1.0-57-amd64 \\
        --kernel '/tmp/numalab-rec/linux-image-6.12.117+deb12-amd64/boot/vmlinuz-6.12.117+deb12-amd64'
    .venv/bin/python tools/record_fallback_orders.py --list            # the topologies
    .venv/bin/python tools/record_fallback_orders.py --only snc-2x2 --kernel ...

How long: one boot takes 10-16 s of wall-clock time under TCG with 6.1 and 6-9 s with 6.12 (the numa=fake= guests: 11-31 s)
(16 nodes with 16 vCPUs: 16-30 s); all 12 topologies on both kernels took 4.5 minutes on a
2-core machine shared with other work. Boots run one after another. Existing recordings are
replaced (atomically: a temporary directory, then a rename); the fallback orders are the same on
every boot, only counters in zoneinfo and ``boot_seconds`` change.

QEMU facts met while writing this (QEMU 7.2):
* ``-numa node,nodeid=`` must be dense: ``nodeid=0`` and ``nodeid=2`` without 1 fails with
  "numa: Node ID missing: 1", so sparse node ids cannot be recorded this way;
* a node with neither CPUs nor memory is accepted; it is absent from the guest unless it owns the
  hot-pluggable memory range, which QEMU's SRAT gives to the *last* node (``-m ...,maxmem=``):
  then it is possible but not online (the ``possible-offline`` recording);
* Linux numbers nodes in the order it meets their proximity domains in the SRAT (CPU entries
  first, then memory ranges), not by QEMU node id: a topology whose CPU-less nodes come before
  its CPU nodes boots as a renumbered machine. ``expected.json`` records ``pxm_to_node`` and
  ``guest_matches_topology``; the tests use the guest's own sysfs files.
* ``numa=fake=`` recordings (``kernel_args`` in :data:`TOPOLOGIES`): topology.json is the physical
  machine QEMU emulates, the guest's sysfs shows the kernel's fake nodes. ``expected.json`` also
  records ``cpu_to_node`` for every recording, read from the guest's ``nodeN/cpuM`` links (one per
  CPU, made under ``cpu_to_node()``).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "kernel-truth" / "recorded"
NUMALAB = [str(ROOT / ".venv" / "bin" / "numalab")]
QEMU = "qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
MEM_PER_NODE_MIB = 256
BOOT_TIMEOUT_S = 600


def _doc(name, description, distance, cpus, mem_mib=MEM_PER_NODE_MIB, offline=()):
    """A numalab topology document: node i has CPU list ``cpus[i]`` and ``mem_mib`` MiB."""
    n = len(distance)
    mem = mem_mib if isinstance(mem_mib, list) else [mem_mib] * n
    nodes = []
    for i in range(n):
        node = {"id": i, "cpus": cpus[i], "mem_mib": mem[i]}
        if i in offline:
            node["online"] = False
        nodes.append(node)
    return {"format": "numalab-topology/1", "name": name, "description": description,
            "provenance": "synthetic", "source": "tools/record_fallback_orders.py",
            "nodes": nodes, "distance": distance}


def _snc_8():
    """Socket A (nodes 0-3): pairs 0-1 and 2-3 at 11, across pairs 12; socket B (4-7): all 16;
    between the sockets 32."""
    d = [[0] * 8 for _ in range(8)]
    for i in range(8):
        for j in range(8):
            if i == j:
                d[i][j] = 10
            elif (i < 4) != (j < 4):
                d[i][j] = 32
            elif i < 4:
                d[i][j] = 11 if i // 2 == j // 2 else 12
            else:
                d[i][j] = 16
    return d


def _sixteen():
    """4 sockets x 4 nodes: 11 inside a socket, 21 to the next socket (ring), 31 across."""
    d = [[0] * 16 for _ in range(16)]
    for i in range(16):
        for j in range(16):
            si, sj = i // 4, j // 4
            hop = min(abs(si - sj), 4 - abs(si - sj))
            d[i][j] = 10 if i == j else (11 if hop == 0 else (21 if hop == 1 else 31))
    return d


#: name -> (topology: generator call or document, extra set-up, one-line purpose)
TOPOLOGIES = {
    "snc-2x2": ("sockets(sockets=2, nodes_per_socket=2, same_socket=11, other_socket=21, mem_per_node='256M')",
                {}, "kernel-semantics 1.8 example B: node 3 is 3 2 1 0 on v5.16+ (accumulated node_load)"),
    "flat-6": ("flat(nodes=6, mem_per_node='256M')", {}, "6 nodes, every remote distance 20"),
    "asym-4": (_doc("asym-4", "asymmetric SLIT: a directed ring, d(i,i+1)=20, d(i+1,i)=25, d(i,i+2)=30",
                    [[10, 20, 30, 25], [25, 10, 20, 30], [30, 25, 10, 20], [20, 30, 25, 10]],
                    ["0", "1", "2", "3"]), {}, "the row of the local node decides, not the column"),
    "mesh-3x2": ("mesh(rows=3, cols=2, hop=16, mem_per_node='256M')", {},
                 "3x2 grid, 16 per hop: many equal distances; 5.15 and 6.1 rules differ on nodes 3 and 5"),
    "tie-20-21": (_doc("tie-20-21", "20/21 mix: the [n < local] penalty ties a lower node at 20 with a "
                       "higher one at 21; CPUs on nodes 0-2, nodes 3-4 CPU-less",
                       [[10, 20, 21, 20, 21], [20, 10, 21, 21, 20], [21, 21, 10, 20, 20],
                        [20, 21, 20, 10, 21], [21, 20, 20, 21, 10]],
                       ["0", "1", "2", "", ""]), {}, "ties broken only by node_load"),
    "tie-20-21-hotplug": ("@tie-20-21", {"hotplug": {"node": 4, "mem_mib": 256}},
                          "the same plus 256 MiB hot-added on node 4 after the CPUs came up: the "
                          "rebuild sees the CPU nodes (PENALTY_FOR_NODE_WITH_CPUS)"),
    "cpuless-low-ids": (_doc("cpuless-low-ids", "memory-only nodes 0 (near 2) and 1 (near 3) before the CPU "
                             "nodes 2 and 3", [[10, 26, 14, 24], [26, 10, 24, 14], [14, 24, 10, 21],
                                               [24, 14, 21, 10]], ["", "", "0", "1"]), {},
                        "shows how Linux numbers nodes from the SRAT (CPU entries first)"),
    "cpuless-equal-hotplug": (_doc("cpuless-equal", "6 nodes at 20 from each other, CPUs on nodes 0 and 1 only",
                                   [[10 if i == j else 20 for j in range(6)] for i in range(6)],
                                   ["0", "1", "", "", "", ""]),
                              {"hotplug": {"node": 3, "mem_mib": 256}},
                              "CPU-less nodes at equal distance; the hot-add rebuild penalises nodes 0 and 1"),
    "possible-offline": (_doc("possible-offline", "nodes 0-2 online (10/20/21), node 3 possible but offline "
                              "(owns only the hot-pluggable range), 20 from every node",
                              [[10, 21, 20, 20], [21, 10, 21, 20], [20, 21, 10, 20], [20, 20, 20, 10]],
                              ["0", "1", "2", ""], mem_mib=[256, 256, 256, 0], offline=(3,)),
                         {"offline_node": 3}, "a possible, not online node gets zonelists from v5.18 on"),
    "memoryless-middle": ("memoryless('ring(nodes=5, hop=16, mem_per_node=\"256M\")', nodes=[2])", {},
                          "5-node ring, node 2 has a CPU but no memory (6.12 leaves it out of its own list)"),
    "eight-2socket-mixed": (_doc("eight-2socket-mixed", "socket A (0-3): 11 within pairs 0-1/2-3, 12 across; "
                                 "socket B (4-7): 16; between sockets 32", _snc_8(),
                                 [str(c) for c in range(8)]), {}, "different intra-socket distances"),
    "sixteen-4socket": (_doc("sixteen-4socket", "4 sockets x 4 nodes, 128 MiB each: 11 in a socket, 21 to a "
                             "neighbouring socket, 31 across; one CPU per node", _sixteen(),
                             [str(c) for c in range(16)], mem_mib=128),
                        {"mem_per_node": "128M"}, "node_load over 16 nodes"),
    # numa=fake= (CONFIG_NUMA_EMU): the kernel splits the two physical nodes into fake nodes. Every
    # fake node of a physical node lists that node's CPUs, distances inside a physical node are 10.
    "fake-4": (_doc("fake-2x512", "2 physical nodes (CPUs 0-1 and 2-3, 512 MiB each, 21 apart), "
                    "booted with numa=fake=4", [[10, 21], [21, 10]], ["0-1", "2-3"], mem_mib=512),
               {"mem_per_node": "512M", "kernel_args": ["numa=fake=4"]},
               "numa=fake=4 interleaves 4 fake nodes over 2 physical nodes: 0 and 2 share CPUs 0-1"),
    "fake-3-2U-hotplug": (_doc("fake-3x512", "3 physical nodes 20 apart (CPU 0 on node 0, CPU 1 on node 1, "
                               "node 2 CPU-less; 512 MiB each), booted with numa=fake=2U",
                               [[10, 20, 20], [20, 10, 20], [20, 20, 10]], ["0", "1", ""], mem_mib=512),
                          {"mem_per_node": "512M", "kernel_args": ["numa=fake=2U"],
                           "hotplug": {"node": 2, "mem_mib": 256}},
                          "6 fake nodes (0-1 share CPU 0, 2-3 share CPU 1) plus a memory hot-add after the "
                          "CPUs came up: the rebuild penalises every node whose cpumask has a CPU (node 3 "
                          "too, which is not in N_CPU)"),
    "fake-2U": ("@fake-4", {"mem_per_node": "512M", "kernel_args": ["numa=fake=2U"]},
                "numa=fake=2U splits each physical node in 2: 0 and 1 share CPUs 0-1"),
}

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
echo 1 > /proc/sys/kernel/printk
dump() { echo "@@FILE $1"; cat "/$1"; echo; echo "@@EOF"; }
echo "@@NUMALAB-BEGIN"
echo "@@UNAME $(uname -r)"
N=sys/devices/system/node
for f in possible online has_cpu has_memory has_normal_memory has_generic_initiator; do
  [ -e /$N/$f ] && dump $N/$f
done
for d in /$N/node*; do
  n=${d##*/}
  dump $N/$n/cpulist
  dump $N/$n/distance
  echo "@@FILE $N/$n/meminfo"; grep MemTotal $d/meminfo; echo; echo "@@EOF"
  for c in $d/cpu[0-9]*; do [ -e "$c" ] && echo "@@CPUNODE ${c##*/} ${n#node}"; done
done
dump proc/zoneinfo
echo "@@NUMALAB-DONE"
poweroff -f
"""

#: Lines of the kernel log kept in boot.log.
KEEP = re.compile(
    r"Linux version|Command line|ACPI: SRAT|ACPI: SLIT|SRAT:|NUMA|NODE_DATA|Zone ranges|"
    r"^\s*(DMA|DMA32|Normal|Movable|Device)\s|Movable zone start|Early memory node ranges|"
    r"node\s+\d+: \[mem|Initmem setup|On node \d+|Initializing node|node \d+ |Fallback order|"
    r"Built \d+ zonelists|Policy zone|smpboot: Allowing|nr_node_ids|possible nodes|"
    r"memory hotplug|PNP0C80|hotplug memory|add_memory|Brought up")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def fetch(pkg: str, workdir: pathlib.Path) -> pathlib.Path:
    """``apt-get download PKG`` and unpack it into WORKDIR/PKG; returns the vmlinuz path."""
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", pkg], check=True, cwd=workdir)
    deb = sorted(workdir.glob(f"{pkg}_*.deb"))[-1]
    dest = workdir / pkg
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return sorted(dest.glob("boot/vmlinuz-*"))[-1]


def build_initramfs(workdir: pathlib.Path) -> pathlib.Path:
    """A gzip'ed newc cpio with busybox-static and the /init above."""
    root = workdir / "initramfs"
    if root.exists():
        shutil.rmtree(root)
    for d in ("bin", "proc", "sys", "dev"):
        (root / d).mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    out = workdir / "initramfs.cpio.gz"
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files,
                          check=True, capture_output=True).stdout
    gz = subprocess.run(["gzip", "-9n"], input=cpio, check=True, capture_output=True).stdout
    out.write_bytes(gz)
    return out


def topology_json(name: str) -> dict:
    """The canonical numalab JSON (``numalab topology SPEC --json``) of a TOPOLOGIES entry."""
    spec = TOPOLOGIES[name][0]
    if isinstance(spec, str) and spec.startswith("@"):
        return topology_json(spec[1:])
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(spec, dict):
            p = pathlib.Path(tmp) / f"{name}.json"
            p.write_text(json.dumps(spec))
            spec = str(p)
        doc = json.loads(run(NUMALAB + ["topology", spec, "--json"]).stdout)
    for k in ("max_numnodes", "max_nr_zones", "nr_node_ids"):
        doc.pop(k, None)
    return doc


def qemu_numa_args(topo_path: pathlib.Path, extra: dict, doc: dict) -> tuple[list[str], list[str]]:
    """NUMA arguments from ``numalab qemu-args``, plus what the recording adds (hotplug, offline
    node), and the extra kernel command line."""
    mem = extra.get("mem_per_node", f"{MEM_PER_NODE_MIB}M")
    p = subprocess.run(NUMALAB + ["qemu-args", str(topo_path), "--mem-per-node", mem, "--json"],
                       check=True, text=True, capture_output=True)
    args = json.loads(p.stdout)
    for line in p.stderr.splitlines():
        print(f"    {line}")
    kargs = []
    mi = args.index("-m")
    total = int(args[mi + 1].rstrip("M"))
    if "offline_node" in extra:
        # numalab qemu-args leaves offline nodes out; QEMU gives the hot-pluggable range of
        # -m ...,maxmem= to its last node, which makes that node possible (not online) in Linux.
        k = extra["offline_node"]
        ids = [nd["id"] for nd in doc["nodes"]]
        assert ids[-1] == k, "the offline node must be the last node"
        args[mi + 1] = f"{total}M,slots=1,maxmem={total + 1024}M"
        args += ["-numa", f"node,nodeid={k}"]
        for j, other in enumerate(ids):
            if other != k:
                args += ["-numa", f"dist,src={other},dst={k},val={doc['distance'][j][ids.index(k)]}"]
    if "hotplug" in extra:
        hp = extra["hotplug"]
        args[mi + 1] = f"{total}M,slots=2,maxmem={total + 2048}M"
        args += ["-object", f"memory-backend-ram,id=hp0,size={hp['mem_mib']}M",
                 "-device", f"pc-dimm,id=dimm0,memdev=hp0,node={hp['node']}"]
        kargs.append("memhp_default_state=online")
    kargs += extra.get("kernel_args", [])
    return args, kargs


def parse_console(text: str) -> dict:
    """Files the guest printed between @@FILE/@@EOF markers, and the uname line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "@@NUMALAB-DONE" not in text:
        raise RuntimeError("the guest did not finish (no @@NUMALAB-DONE on the console)")
    body = text[text.index("@@NUMALAB-BEGIN"):text.index("@@NUMALAB-DONE")]
    files = {}
    for m in re.finditer(r"^@@FILE (\S+)\n(.*?)\n@@EOF$", body, re.S | re.M):
        files[m.group(1)] = m.group(2) if m.group(2).endswith("\n") or not m.group(2) else m.group(2) + "\n"
    uname = re.search(r"^@@UNAME (\S+)", body, re.M)
    # nodeN/cpuM links: register_cpu_under_node() makes one per CPU, under cpu_to_node(cpu)
    cpu_to_node = {m.group(1): int(m.group(2)) for m in re.finditer(r"^@@CPUNODE cpu(\d+) (\d+)$", body, re.M)}
    cpu_to_node = dict(sorted(cpu_to_node.items(), key=lambda kv: int(kv[0])))
    return {"files": files, "uname": uname.group(1) if uname else None, "cpu_to_node": cpu_to_node}


def parse_log(text: str) -> dict:
    """Fallback-order sets, version, PXM -> node map, zone ranges from the kernel log."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    log = text[:text.index("@@NUMALAB-BEGIN")] if "@@NUMALAB-BEGIN" in text else text
    lines = log.split("\n")
    banner = re.search(r"Linux version (\S+) .*", log)
    debs = re.findall(r"Debian (\d+\.\d+\.\d+\S*)", banner.group(0)) if banner else []
    sets, cur, built, policy = [], {}, [], []
    for ln in lines:
        m = re.search(r"Fallback order for Node (\d+): ([\d ]*)", ln)
        if m:
            cur[m.group(1)] = [int(x) for x in m.group(2).split()]
            continue
        m = re.search(r"Built (\d+) zonelists.*", ln)
        if m:
            sets.append(cur)
            cur = {}
            built.append(m.group(0).strip())
        m = re.search(r"Policy zone: (\S+)", ln)
        if m:
            policy.append(m.group(1))
    if cur:
        sets.append(cur)
    pxm = {}
    for m in re.finditer(r"SRAT: PXM (\d+) -> APIC \S+ -> Node (\d+)", log):
        pxm[m.group(1)] = int(m.group(2))
    for m in re.finditer(r"SRAT: Node (\d+) PXM (\d+) \[mem", log):
        pxm.setdefault(m.group(2), int(m.group(1)))
    keep = [ln for ln in lines if KEEP.search(re.sub(r"^\[\s*[\d.]+\]\s?", "", ln)) or KEEP.search(ln)]
    release = banner.group(1) if banner else None
    debian = debs[-1] if debs else None  # the package version, last in the banner (gcc's comes first)
    upstream = re.match(r"(\d+\.\d+\.\d+)", debian or "") or re.match(r"(\d+\.\d+\.\d+)", release or "")
    pxm = dict(sorted(pxm.items(), key=lambda kv: int(kv[0])))
    return {"sets": sets, "built": built, "policy_zone": policy, "pxm_to_node": pxm,
            "kernel": upstream.group(1) if upstream else None, "release": release,
            "banner": banner.group(0).strip() if banner else None, "kept": keep}


def zones_of(zoneinfo: str) -> dict:
    out, cur = {}, None
    for ln in zoneinfo.splitlines():
        m = re.match(r"Node\s+(\d+),\s+zone\s+(\S+)", ln)
        if m:
            cur = (m.group(1), m.group(2))
            out.setdefault(m.group(1), [])
            continue
        m = re.match(r"\s+present\s+(\d+)", ln)
        if m and cur and int(m.group(1)) > 0:
            out[cur[0]].append(cur[1])
    return out


def compare_guest(directory: pathlib.Path, pxm_to_node: dict) -> tuple[bool, list[str]]:
    """Does the guest (its sysfs) have the topology's node ids, distances, CPUs-per-node, memory?"""
    sys.path.insert(0, str(ROOT))
    from numalab import sources  # noqa: E402  (numalab is only needed here)

    from numalab.errors import NumalabError  # noqa: E402

    t = sources.load(str(directory / "topology.json"))
    try:
        g = sources.load(str(directory))
    except NumalabError as e:  # keep the recording: the tests will show what numalab refused
        return False, [f"numalab cannot load the guest: {e}"]
    diffs = []
    if g.cpumask is not None:  # numa=fake=: fake nodes share their physical node's CPUs
        return False, [f"NUMA emulation (numa=fake=): the guest's {g.n_nodes} nodes are fake nodes carved "
                       f"from the {t.n_nodes} physical nodes of topology.json"]
    if any(int(p) != n for p, n in pxm_to_node.items()):
        diffs.append("Linux renumbered the nodes (QEMU node = proximity domain -> Linux node): " +
                     ", ".join(f"{p}->{n}" for p, n in pxm_to_node.items()))
    if g.node_ids.tolist() != t.node_ids.tolist():
        diffs.append(f"node ids {g.node_ids.tolist()} vs {t.node_ids.tolist()}")
    else:
        on = t.online
        if (g.online != t.online).any() or (g.possible != t.possible).any():
            diffs.append("online/possible differ")
        if (g.distance[on][:, on] != t.distance[on][:, on]).any():
            diffs.append("distances differ")
        if (g.has_memory != t.has_memory).any():
            diffs.append(f"has_memory {g.has_memory.tolist()} vs {t.has_memory.tolist()}")
        if (g.has_cpu[on] != t.has_cpu[on]).any():
            diffs.append(f"has_cpu {g.has_cpu.tolist()} vs {t.has_cpu.tolist()}")
    return not diffs, diffs


def record(name: str, kernel: pathlib.Path, initrd: pathlib.Path, workdir: pathlib.Path, suffix: str) -> dict:
    spec, extra, purpose = TOPOLOGIES[name]
    doc = topology_json(name)
    if isinstance(spec, str) and spec.startswith("@"):
        doc["name"] = name
    doc.setdefault("meta", {})["recording_purpose"] = purpose
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}{suffix}.", dir=OUT))
    try:
        (tmp / "topology.json").write_text(json.dumps(doc, indent=1) + "\n")
        numa, kargs = qemu_numa_args(tmp / "topology.json", extra, doc)
        log = workdir / f"{name}{suffix}.console.log"
        log.unlink(missing_ok=True)
        append = " ".join(["console=ttyS0", "panic=-1", "loglevel=7"] + kargs)
        head = [QEMU, "-machine", "q35", "-accel", "tcg", "-nodefaults", "-display", "none",
                "-monitor", "none", "-no-reboot", "-serial", f"file:{log}",
                "-kernel", str(kernel), "-initrd", str(initrd), "-append", append]
        t0 = time.monotonic()
        p = subprocess.run(head + numa, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=BOOT_TIMEOUT_S)
        secs = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError(f"qemu failed ({p.returncode}): {p.stderr.strip()}")
        text = log.read_text(errors="replace")
        con = parse_console(text)
        info = parse_log(text)
        shown = [QEMU] + head[1:] + numa
        shown = [a.replace(str(kernel), "$KERNEL").replace(str(initrd), "$INITRD").replace(str(log), "$LOG")
                 for a in shown]
        (tmp / "qemu-args.txt").write_text(
            "# numa arguments: numalab qemu-args topology.json --mem-per-node "
            f"{extra.get('mem_per_node', f'{MEM_PER_NODE_MIB}M')} --json"
            + (" (plus the recording's additions)" if ("hotplug" in extra or "offline_node" in extra) else "")
            + f"\n# kernel: {kernel.name}  qemu: {run([QEMU, '--version']).stdout.splitlines()[0]}\n"
            + shlex.join(shown) + "\n")
        (tmp / "boot.log").write_text("\n".join(info["kept"]).strip() + "\n")
        for rel, content in con["files"].items():
            f = tmp / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(content)
        # What `numalab snapshot` writes beside the files: NODES_SHIFT from the kernel's config
        # (boot/config-* next to boot/vmlinuz-* in the unpacked package), page size.
        meta = {"format": "numalab-snapshot/1", "kernel": con["uname"], "page_size": 4096}
        cfg = kernel.parent / kernel.name.replace("vmlinuz-", "config-")
        m = re.search(r"^CONFIG_NODES_SHIFT=(\d+)", cfg.read_text(), re.M) if cfg.is_file() else None
        if m:
            meta["nodes_shift"] = int(m.group(1))
        (tmp / "numalab-snapshot.json").write_text(json.dumps(meta, indent=1) + "\n")
        ok, diffs = compare_guest(tmp, info["pxm_to_node"])
        exp = {
            "kernel": info["kernel"],
            "kernel_release": info["release"],
            "kernel_banner": info["banner"],
            "qemu": run([QEMU, "--version"]).stdout.splitlines()[0],
            "topology": name,
            "purpose": purpose,
            "fallback_order_boot": info["sets"][0] if info["sets"] else {},
            "fallback_order_final": info["sets"][-1] if info["sets"] else {},
            "zonelist_builds": len(info["sets"]),
            "built_lines": info["built"],
            "policy_zone": info["policy_zone"],
            "zones": zones_of(con["files"].get("proc/zoneinfo", "")),
            "pxm_to_node": info["pxm_to_node"],
            "cpu_to_node": con["cpu_to_node"],
            "guest_matches_topology": ok,
            "guest_vs_topology": diffs,
            "extra_kernel_args": " ".join(kargs) or None,
            "hotplug_dimms": [extra["hotplug"]] if "hotplug" in extra else [],
            "boot_seconds": round(secs, 1),
        }
        (tmp / "expected.json").write_text(json.dumps(exp, indent=1) + "\n")
        dest = OUT / f"{name}{suffix}"
        if dest.exists():
            old = OUT / f".{name}{suffix}.old"
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old)
        else:
            tmp.rename(dest)
        return exp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", action="append", default=[], metavar="VMLINUZ",
                    help="kernel image to boot (repeatable); recordings of 6.1 go to NAME/, "
                         "of other releases to NAME-MAJOR.MINOR/")
    ap.add_argument("--fetch", action="append", default=[], metavar="PKG",
                    help="apt-get download a linux-image package into --workdir and use its vmlinuz")
    ap.add_argument("--only", action="append", default=[], metavar="NAME", help="record only these topologies")
    ap.add_argument("--workdir", default="/tmp/numalab-rec", help="scratch directory (initramfs, console logs)")
    ap.add_argument("--list", action="store_true", help="list the topologies and exit")
    a = ap.parse_args(argv)
    if a.list:
        for n, (_, _, purpose) in TOPOLOGIES.items():
            print(f"{n:<24} {purpose}")
        return 0
    workdir = pathlib.Path(a.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    kernels = [pathlib.Path(k) for k in a.kernel] + [fetch(p, workdir) for p in a.fetch]
    if not kernels:
        ap.error("give --kernel VMLINUZ or --fetch PKG")
    for tool in (QEMU, "cpio", "gzip", BUSYBOX):
        if not shutil.which(tool) and not os.path.exists(tool):
            ap.error(f"{tool} not found: apt-get install -y qemu-system-x86 busybox-static cpio")
    names = a.only or list(TOPOLOGIES)
    for n in names:
        if n not in TOPOLOGIES:
            ap.error(f"unknown topology {n!r} (see --list)")
    OUT.mkdir(parents=True, exist_ok=True)
    initrd = build_initramfs(workdir)
    failed = 0
    for kernel in kernels:
        m = re.search(r"vmlinuz-(\d+)\.(\d+)", kernel.name)
        mm = f"{m.group(1)}.{m.group(2)}" if m else kernel.name
        suffix = "" if mm == "6.1" else f"-{mm}"
        for n in names:
            print(f"{n}{suffix}: booting {kernel.name} ...", flush=True)
            try:
                exp = record(n, kernel, initrd, workdir, suffix)
            except Exception as e:  # report and go on with the next recording
                failed += 1
                print(f"  FAILED: {e}", flush=True)
                continue
            print(f"  {exp['kernel']} in {exp['boot_seconds']} s, {exp['zonelist_builds']} build(s); "
                  f"boot: {exp['fallback_order_boot']}", flush=True)
            if exp["zonelist_builds"] > 1:
                print(f"  final: {exp['fallback_order_final']}")
            if not exp["guest_matches_topology"]:
                print(f"  NOTE guest differs from topology.json: {'; '.join(exp['guest_vs_topology'])}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
