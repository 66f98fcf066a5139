"""Check numalab's model against a real kernel booted under QEMU on the same machine shape.

:func:`verify` gets a kernel (a vmlinuz file, or a Debian package fetched with ``apt-get
download`` and unpacked with ``dpkg-deb -x``, never installed), builds a busybox initramfs with
the C policy probe (``probe.c``, compiled with ``gcc -static`` at verify time), boots
``qemu-system-x86_64`` with the topology's QEMU arguments (``numalab qemu-args``), and compares
what the guest measured with numalab's prediction for the same release
(:mod:`numalab.verify.compare`):

* ``boot``: the kernel's ``Fallback order for Node N:`` lines, ``Built N zonelists`` and
  ``Policy zone:`` against :func:`numalab.zonelist.build` (``when="boot"``) on the guest's own
  snapshot (its ``/sys/devices/system/node`` and ``/proc/zoneinfo``); and the guest's machine
  (nodes, CPUs, memory, distances) against the topology, renumbered the way Linux numbered it
  (its ``SRAT: PXM p -> ... -> Node n`` lines: ``acpi_numa_init()`` gives node ids in the order it
  meets proximity domains);
* ``policy``: every mode and flag through set_mempolicy and mbind, in the root cpuset and in a
  child cpuset, and cpuset.mems walks (cgroup v2), against :func:`numalab.alloc.run_scenario`.

A run kept with ``keep=DIR`` can be compared again without QEMU by :func:`replay`; the layout
(:data:`KEEP_LAYOUT`) is what tests/data/verify/ holds.

Examples
--------
>>> from numalab.verify import plan
>>> p = plan("cxl4")
>>> p["qemu_args"][:4], p["guest_node_of_qemu_node"]
(['-smp', '2', '-m', '1024M'], [0, 1, 2, 3])
"""
from __future__ import annotations

import gzip
import io
import json
import pathlib
import shlex
import shutil
import subprocess
import tempfile

import numpy as np

from .. import qemu, sources
from .._io import atomic_write, jsonable
from ..errors import NumalabError
from ..kernel import profile
from ..topology import Topology
from . import compare, guest

__all__ = ["verify", "replay", "rescore", "plan", "parse_hot_add", "reduce_cpus", "result_table", "KEEP_LAYOUT", "EXPERIMENTS"]

EXPERIMENTS = ("boot", "policy")

#: What ``--keep DIR`` writes (and :func:`replay` reads).
KEEP_LAYOUT = {
    "topology.json": "the topology the guest was booted from (numalab JSON, CPUs reduced per node)",
    "kernel.json": "kernel image, release, package, config (NODES_SHIFT, zone types), accel, QEMU version, seconds",
    "qemu-args.txt": "the whole QEMU command line ($KERNEL, $INITRD, $LOG stand for the paths)",
    "console.log.gz": "the raw serial console of the boot (kernel log, guest files, probe records)",
    "snapshot/": "the guest's sys/devices/system/node files, proc/zoneinfo and numalab-snapshot.json",
    "policy.json.gz": "the probe's records (format numalab-verify-policy/1), gzip'ed",
    "result.json": "the comparison: summary per experiment, status, machine and boot rows, every policy row "
                   "that differs, and item + note of the nondeterministic ones (all rows: --json)",
}


def reduce_cpus(t: Topology, cpus_per_node: int | None) -> Topology:
    """The topology with at most ``cpus_per_node`` CPUs per node (each node keeps its lowest CPU
    ids, so the order in which nodes' first CPUs appear, which decides Linux's node numbering,
    is kept), renumbered 0..n-1 in the same order. ``None`` keeps every CPU.

    >>> t = reduce_cpus(sources.load("sockets-2x2"), 1)
    >>> t.cpu_ids.tolist(), t.cpu_node.tolist()
    ([0, 1, 2, 3], [0, 1, 2, 3])
    """
    if cpus_per_node is None:
        return t
    if cpus_per_node < 1:
        raise NumalabError("must be at least 1", input="--cpus-per-node")
    doc = sources.to_dict(t)
    kept = [sources.parse_cpulist(nd.get("cpus", ""), "cpus")[:cpus_per_node] for nd in doc["nodes"]]
    dense = {c: k for k, c in enumerate(sorted(c for cs in kept for c in cs))}
    for nd, cs in zip(doc["nodes"], kept):
        nd["cpus"] = sources.format_cpulist([dense[c] for c in cs])
    return sources.from_dict(doc, where=t.name)


def _mem_default(t: Topology) -> str:
    return "256M" if int(t.online.sum()) <= 8 else "128M"


parse_hot_add = qemu.parse_hot_add


def _hot_added_meta(t: Topology) -> list:
    """``meta["hot_added"]`` of a topology file, checked: ``[{"node": id, "mem_mib": MiB}]``, the
    part of each node's memory that came by memory hot-add after boot (the recording
    penalty-tie-hotplug says so)."""
    v = (t.meta or {}).get("hot_added")
    if v is None:
        return []
    if not isinstance(v, list) or len(v) > 8:
        raise NumalabError("meta.hot_added must be a list of at most 8 {\"node\", \"mem_mib\"} objects", input=t.name)
    out = []
    for e in v:
        if not (isinstance(e, dict) and set(e) == {"node", "mem_mib"}
                and all(isinstance(e[k], int) and not isinstance(e[k], bool) for k in e)):
            raise NumalabError("each meta.hot_added entry must be {\"node\": id, \"mem_mib\": MiB} (integers)",
                               input=t.name)
        if e["node"] not in set(t.node_ids.tolist()) or not 0 < e["mem_mib"] <= 1 << 20:
            raise NumalabError(f"meta.hot_added names node {e['node']} with {e['mem_mib']} MiB, which the "
                               "topology does not have", input=t.name)
        out.append((e["node"], e["mem_mib"]))
    return out


def plan(topo, *, cpus_per_node=1, mem_per_node=None, hot_add=None, kernel_args=()) -> dict:
    """What would be booted: the (reduced) topology at boot, QEMU's NUMA arguments, the memory
    hot-added after boot, the extra kernel command line, notes, and the Linux node id each QEMU
    node will get. Raises NumalabError (exit 2) for node ids QEMU cannot express.

    ``hot_add``: ``[(node id, MiB)]`` added on top of the topology as DIMMs; ``None`` takes the
    topology's own ``meta.hot_added`` (memory that the machine got by hot-add, so taken off for
    the boot and plugged in again).

    >>> p = plan("penalty-tie-hotplug")
    >>> p["hot_add"], p["kernel_args"], int(p["topology"].present_pages[2].sum()) * 4 // 1024
    ([(2, 256)], ['memhp_default_state=online'], 256)
    """
    t = sources.load(topo)
    if hot_add is None:
        hot_add = _hot_added_meta(t)
        t = compare.without_hot_added(t, hot_add)
    hot_add = [(int(n), int(m)) for n, m in hot_add]
    on = t.node_ids[t.online].tolist()
    if on != list(range(len(on))):
        raise NumalabError(f"online node ids {sources.format_cpulist(on)} are sparse: QEMU's -numa node,nodeid= "
                           "needs 0..n-1 and an x86 guest numbers its nodes densely itself, so this machine "
                           "cannot be booted as it is", input=t.name)
    off = [int(x) for x in t.node_ids[t.possible & ~t.online]]
    if off and qemu.bootable_offline_node(t) is None:
        raise NumalabError(f"possible but offline node(s) {sources.format_cpulist(off)}: QEMU can boot only one, "
                           f"numbered right after the online nodes ({len(on)}), as the owner of the hot-pluggable "
                           "memory range", input=t.name)
    empty = [int(t.node_ids[i]) for i in range(t.n_nodes)
             if t.online[i] and t.cpus_of(i).size == 0 and t.present_pages[i].sum() == 0]
    if empty:
        raise NumalabError(f"online node(s) {sources.format_cpulist(empty)} have neither CPUs nor memory: QEMU puts "
                           "no SRAT entry for such a node, so the guest would not have it", input=t.name)
    kargs = [str(a) for a in kernel_args]
    for a in kargs:
        if not a or len(a) > 200 or not all(c.isprintable() and not c.isspace() for c in a) or "'" in a or '"' in a:
            raise NumalabError("kernel arguments must be printable words without spaces or quotes, each at most "
                               "200 characters", input="--kernel-args")
    if len(kargs) > 16:
        raise NumalabError("at most 16 kernel arguments", input="--kernel-args")
    if hot_add and "memhp_default_state=online" not in kargs:
        kargs = ["memhp_default_state=online", *kargs]
    t = reduce_cpus(t, cpus_per_node)
    mem = mem_per_node or _mem_default(t)
    args, notes = qemu.qemu_args(t, mem, hot_add=hot_add)
    linux = _guest_numbering(t)
    return {"topology": t, "qemu_args": args, "notes": notes, "mem_per_node": mem,
            "guest_node_of_qemu_node": linux, "hot_add": hot_add, "kernel_args": kargs}


def _guest_numbering(t: Topology) -> list:
    """Linux node id of each QEMU node: the SRAT order (CPU entries in CPU order, then memory
    ranges in node order, then the rest), as ``acpi_numa_init()`` meets proximity domains."""
    on = [i for i in range(t.n_nodes) if t.online[i]]
    first_cpu = {}
    for k, i in enumerate(on):
        cs = t.cpus_of(i).tolist()
        if cs:
            first_cpu[k] = min(cs)
    seen = sorted(first_cpu, key=first_cpu.get)
    seen += [k for k, i in enumerate(on) if t.present_pages[i].sum() > 0 and k not in seen]
    seen += [k for k in range(len(on)) if k not in seen]
    out = [0] * len(on)
    for new, k in enumerate(seen):
        out[k] = new
    return out


def _complete_pxm_map(pxm: dict, booted: Topology, g: Topology) -> None:
    """Fill in the Linux node of QEMU nodes with CPUs that the log does not name.

    6.1 prints ``SRAT: PXM p -> APIC a -> Node n`` for every CPU; later kernels print only the
    memory ranges (``SRAT: Node n PXM p [mem ...]``) at the default log level. A QEMU node's CPU
    ``c`` (QEMU's vCPU index, the guest's CPU id) sits in the guest's ``nodeN/cpulist``: that N."""
    on = [i for i in range(booted.n_nodes) if booted.online[i]]
    for k, i in enumerate(on):
        cs = booted.cpus_of(i).tolist()
        if k in pxm or not cs:
            continue
        hits = [int(g.node_ids[j]) for j in range(g.n_nodes) if cs[0] in g.cpus_of(j).tolist()]
        if len(hits) == 1:
            pxm[k] = hits[0]
    pxm_sorted = dict(sorted(pxm.items()))
    pxm.clear()
    pxm.update(pxm_sorted)


def _progress_default(stage, msg):
    pass


def _write_snapshot(files: dict, dest: pathlib.Path, uname, kernel: dict):
    """The guest's files as a snapshot directory in a scratch folder (``_keep`` copies it)."""
    for rel, content in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(content)
    meta = {"format": "numalab-snapshot/1", "kernel": uname, "page_size": 4096}
    if kernel.get("nodes_shift") is not None:
        meta["nodes_shift"] = kernel["nodes_shift"]
    (dest / "numalab-snapshot.json").write_text(json.dumps(meta, indent=1) + "\n")


def _dimm_nodes(hot, pxm: dict, g: Topology, emulated: bool) -> list:
    """Linux node of each hot-added DIMM: QEMU node ``q`` is proximity domain ``q``, so
    ``pxm_to_node[q]``. Under ``numa=fake=`` the emulated node that received it is read from the
    guest: the one node whose ZONE_NORMAL is at least the DIMM (numalab does not model the
    emulated split, see :func:`_analyse`)."""
    if not emulated:
        return [(int(pxm.get(q, q)), mib) for q, mib in hot]
    out = []
    normal = (g.present_pages[:, g.zone_types.index("Normal")] if "Normal" in g.zone_types
              else np.zeros(g.n_nodes, np.int64))
    for q, mib in hot:
        hits = g.node_ids[normal >= mib * ((1 << 20) // g.page_size)].tolist()
        if len(hits) != 1:
            raise NumalabError(f"cannot tell which emulated node got the {mib} MiB hot-added on QEMU node {q} "
                               f"(nodes with enough ZONE_NORMAL: {hits or 'none'})", input="console")
        out.append((hits[0], mib))
    return out


def _analyse(console: str, booted: Topology, kernel: dict, experiments, workdir: pathlib.Path) -> dict:
    """Rows and summary from a console log (used by a live run and by :func:`replay`).

    ``kernel["hot_add"]`` (``[[QEMU node, MiB]]``) and ``kernel["kernel_args"]`` say how the
    guest was booted. Under NUMA emulation (``numa=fake=``) the guest's nodes are emulated nodes
    carved out of the booted ones: the machine rows then compare only the SRAT numbering and the
    zone types, and the boot and policy rows use the guest's own nodes, as always."""
    con = guest.parse_console(console)
    log = guest.parse_log(console)
    release = log["release"] or con["uname"] or kernel["release"]
    kargs = list(kernel.get("kernel_args") or [])
    emulated = any(a.startswith("numa=fake=") for a in kargs)
    snap = workdir / "snapshot"
    shutil.rmtree(snap, ignore_errors=True)
    _write_snapshot(con["files"], snap, con["uname"], kernel)
    g = sources.load_snapshot(snap, name=f"{booted.name} (guest)")
    if not emulated:
        _complete_pxm_map(log["pxm_to_node"], booted, g)
    rows = [compare._row("machine", "Linux node of each QEMU node (SRAT)",
                         [log["pxm_to_node"].get(k) for k in range(int(booted.online.sum()))],
                         _guest_numbering(booted))]
    hot = _dimm_nodes([tuple(h) for h in kernel.get("hot_add") or []], log["pxm_to_node"], g, emulated)
    if not emulated:
        expected = compare.renumbered(booted, log["pxm_to_node"])
        rows += compare.machine_rows(expected, _with_topology_offline_distances(
            compare.without_hot_added(g, hot), expected))
        g = _with_topology_offline_distances(g, expected)
    if kernel.get("zone_types"):
        rows.append(compare._row("machine", "zone types (/proc/zoneinfo vs kernel config)", list(g.zone_types),
                                 list(kernel["zone_types"])))
    renum = {k: v for k, v in log["pxm_to_node"].items() if k != v}
    rows += compare.boot_rows(g, log, release, hot)
    records = []
    if "policy" in experiments:
        records = guest.parse_records(console)
        if "@@PROBE-DONE" not in console:
            rows.append(compare._row("policy", "probe finished", "no @@PROBE-DONE", "finished"))
        rows += compare.policy_rows(records, g, release, hot)
    summary = compare.summarize(rows)
    return {"format": "numalab-verify/1", "topology": booted.name, "kernel_release": release,
            "debian_version": log["debian_version"], "model": compare.major_minor(release),
            "experiments": list(experiments),
            "renumbered": {str(k): v for k, v in renum.items()},
            "hot_added": [{"node": n, "mem_mib": m} for n, m in hot], "kernel_args": kargs,
            "setup": _setup(kernel.get("hot_add") or [], kargs),
            "summary": summary, "status": summary["status"], "rows": rows, "records": records,
            "guest": g}


def _setup(hot, kargs) -> str:
    """How the guest differed from a plain boot of its topology, in a few words ("" for none).

    >>> _setup([[4, 256]], ["memhp_default_state=online", "numa=fake=2U"])
    'hot-add 4:256M, numa=fake=2U'
    """
    words = [f"hot-add {q}:{mib}M" for q, mib in hot]
    words += [a for a in kargs if not (hot and a == "memhp_default_state=online")]
    return ", ".join(words)


def _with_topology_offline_distances(g: Topology, expected: Topology) -> Topology:
    """The guest with the distances of its possible-but-offline nodes taken from the topology
    booted: sysfs has no directory for an offline node, but the kernel has its SLIT row
    (``node_distance()``), which QEMU wrote from the topology."""
    known = np.isin(g.node_ids, expected.node_ids)
    off = g.possible & ~g.online & known
    if not off.any():
        return g
    doc = sources.to_dict(g)
    gi = np.flatnonzero(known)                                       # guest indices the topology has
    ei = np.searchsorted(expected.node_ids, g.node_ids[gi])          # their indices in the topology
    d = np.asarray(doc["distance"])
    row = np.isin(gi, np.flatnonzero(off))
    d[np.ix_(gi[row], gi)] = expected.distance[np.ix_(ei[row], ei)]  # the offline nodes' rows ...
    d[np.ix_(gi, gi[row])] = expected.distance[np.ix_(ei, ei[row])]  # ... and columns
    doc["distance"] = d.tolist()
    return sources.from_dict(doc, where=g.name)


def verify(topo, *, kernel_image=None, kernel_package=None, experiments=EXPERIMENTS, keep=None, timeout=900,
           cpus_per_node=1, mem_per_node=None, hot_add=None, kernel_args=(), progress=None, accel=None) -> dict:
    """Boot a real kernel on ``topo`` and compare it with numalab. Returns the result dict
    (``rows``, ``summary``, ``status`` 0 when nothing differs, 1 otherwise); raises NumalabError
    for a usage or environment problem."""
    progress = progress or _progress_default
    experiments = tuple(experiments)
    for e in experiments:
        if e not in EXPERIMENTS:
            raise NumalabError(f"unknown experiment (known: {', '.join(EXPERIMENTS)})", input=e)
    if "boot" not in experiments:
        experiments = ("boot",) + experiments  # every run boots; the boot rows come for free
    if bool(kernel_image) == bool(kernel_package):
        raise NumalabError("give exactly one of --kernel-image PATH or --kernel-package NAME", input="numalab verify")
    p = plan(topo, cpus_per_node=cpus_per_node, mem_per_node=mem_per_node, hot_add=hot_add, kernel_args=kernel_args)
    t = p["topology"]
    tools = guest.require_tools()
    progress("kernel", f"kernel from {'package ' + kernel_package if kernel_package else kernel_image}")
    k = guest.fetch_kernel_package(kernel_package, progress=progress) if kernel_package \
        else guest.kernel_from_image(kernel_image)
    model = compare.major_minor(k.release)
    profile(model)  # refuses a release outside the modelled range (exit 2)
    progress("kernel", f"{k.release}: numalab profile {model}, NODES_SHIFT {k.nodes_shift}, "
                       f"zones {','.join(k.zone_types or ['?'])}")
    with tempfile.TemporaryDirectory(prefix="numalab-verify-") as tmp:
        work = pathlib.Path(tmp)
        progress("initramfs", "busybox + probe.c (gcc -static)")
        initrd = guest.build_initramfs(work, tools)
        for n in p["notes"]:
            progress("qemu", n)
        progress("boot", f"{t.name}: {int(t.online.sum())} nodes, {t.cpu_ids.size} vCPUs, "
                         f"{p['mem_per_node']} per node, experiments {','.join(experiments)}, limit {timeout} s")
        b = guest.boot(k, initrd, p["qemu_args"], workdir=work, tools=tools, policy="policy" in experiments,
                       timeout=timeout, accel=accel, extra_append=p["kernel_args"], progress=progress)
        progress("boot", f"guest powered off after {b['seconds']} s ({b['accel'].upper()})")
        qemu_version = subprocess.run([tools["qemu-system-x86_64"], "--version"], capture_output=True,
                                      text=True).stdout.splitlines()[:1]
        kinfo = dict(k.describe(), accel=b["accel"], seconds=b["seconds"], qemu=(qemu_version or [None])[0],
                     accel_notes=b["notes"], hot_add=[[q, mib] for q, mib in p["hot_add"]],
                     kernel_args=p["kernel_args"])
        progress("compare", "numalab's prediction for the same release")
        if keep:  # the raw log first, so that a guest that failed can be looked at
            kd = pathlib.Path(keep)
            if kd.exists() and not kd.is_dir():
                raise NumalabError("exists and is not a directory", input=str(kd))
            atomic_write(kd / "console.log.gz", gzip.compress(b["console"].encode(), 9, mtime=0))
        try:
            res = _analyse(b["console"], t, kinfo, experiments, work)
        except NumalabError as e:
            where = f"{keep}/console.log.gz" if keep else "run again with --keep DIR to keep the console log"
            raise NumalabError(f"{e.problem} ({where})", input=e.input) from None
        res["kernel"] = kinfo
        res["notes"] = p["notes"]
        if keep:
            shown = [a.replace(k.path, "$KERNEL").replace(str(initrd), "$INITRD").replace(str(work / "console.log"), "$LOG")
                     for a in b["argv"]]
            _keep(pathlib.Path(keep), t, kinfo, b["console"], work / "snapshot", res, shlex.join(shown))
            progress("keep", f"wrote {keep}")
    return res


def _result_json(res: dict) -> dict:
    return {k: v for k, v in res.items() if k not in ("guest", "records")}


def _keep(dest: pathlib.Path, t: Topology, kinfo: dict, console: str, snap: pathlib.Path, res: dict, argv: str):
    if dest.exists() and not dest.is_dir():
        raise NumalabError("exists and is not a directory", input=str(dest))
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write(dest / "topology.json", sources.to_json(t) + "\n")
    atomic_write(dest / "kernel.json", json.dumps(kinfo, indent=1) + "\n")
    atomic_write(dest / "qemu-args.txt", argv + "\n")
    atomic_write(dest / "console.log.gz", gzip.compress(console.encode(), 9, mtime=0))
    shutil.rmtree(dest / "snapshot", ignore_errors=True)
    for f in sorted(snap.rglob("*")):
        if f.is_file() and not f.is_symlink():
            atomic_write(dest / "snapshot" / f.relative_to(snap), f.read_bytes())
    pol = json.dumps({"format": "numalab-verify-policy/1", "kernel": res["kernel_release"], "records": res["records"]})
    atomic_write(dest / "policy.json.gz", gzip.compress(pol.encode(), 9, mtime=0))
    _write_result(dest, res)


def _write_result(dest: pathlib.Path, res: dict):
    """result.json: everything but plain policy agreements; nondeterministic policy rows keep
    only their item and note (the values are in the console log; ``--json`` prints them all)."""
    rows = []
    for r in res["rows"]:
        if r["experiment"] == "policy" and r["verdict"] == "agree":
            continue
        if r["experiment"] == "policy" and r["verdict"] == "nondeterministic":
            r = {k: r[k] for k in ("experiment", "item", "verdict", "note")}
        rows.append(r)
    short = dict(_result_json(res), rows=rows)
    atomic_write(dest / "result.json", json.dumps(short, default=jsonable, indent=1) + "\n")


def replay(directory) -> dict:
    """Compare a kept run again without QEMU: parse its raw console log and redo every
    comparison with the current model."""
    d = pathlib.Path(directory)
    for name in ("topology.json", "kernel.json", "console.log.gz"):
        f = d / name
        if not f.is_file() or f.is_symlink():
            raise NumalabError(f"no {name}: not a directory written by numalab verify --keep", input=str(d))
    raw = (d / "console.log.gz").read_bytes()
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
        console = f.read(guest.MAX_CONSOLE_BYTES + 1)
    if len(console) > guest.MAX_CONSOLE_BYTES:
        raise NumalabError("console log larger than its cap", input=str(d / "console.log.gz"))
    if (d / "kernel.json").stat().st_size > (1 << 20):
        raise NumalabError("kernel.json larger than 1 MiB", input=str(d))
    try:
        kinfo = json.loads((d / "kernel.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise NumalabError("kernel.json is not valid JSON", input=str(d)) from None
    if not isinstance(kinfo, dict) or not isinstance(kinfo.get("release"), str):
        raise NumalabError("kernel.json has no release", input=str(d))
    hot, kargs = kinfo.get("hot_add") or [], kinfo.get("kernel_args") or []
    if not (isinstance(hot, list) and len(hot) <= 8 and all(
            isinstance(h, list) and len(h) == 2 and all(isinstance(x, int) and not isinstance(x, bool) and
                                                        0 <= x <= 1 << 20 for x in h) for h in hot)):
        raise NumalabError("kernel.json: hot_add must be at most 8 [QEMU node, MiB] pairs of integers 0..2**20", input=str(d))
    if not (isinstance(kargs, list) and len(kargs) <= 16 and all(isinstance(a, str) and len(a) <= 200 for a in kargs)):
        raise NumalabError("kernel.json: kernel_args must be at most 16 short strings", input=str(d))
    t = sources.load(str(d / "topology.json"))
    text = console.decode(errors="replace")
    experiments = ("boot", "policy") if "@@REC " in text or "@@PROBE" in text else ("boot",)
    with tempfile.TemporaryDirectory(prefix="numalab-replay-") as tmp:
        res = _analyse(text, t, kinfo, experiments, pathlib.Path(tmp))
    res["kernel"] = kinfo
    return res


def rescore(directory) -> dict:
    """:func:`replay` a kept run and rewrite its ``result.json`` with today's comparison."""
    res = replay(directory)
    _write_result(pathlib.Path(directory), res)
    return res


def _short(v) -> str:
    if isinstance(v, list) and all(isinstance(x, int) for x in v):
        return " ".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=False)
    return str(v)


def result_table(res: dict, max_rows: int = 40) -> str:
    """The text report: the kernel, counts per experiment, the machine and boot rows, and every
    policy row that differs (up to ``max_rows``)."""
    k = res.get("kernel", {})
    lines = [f"topology {res['topology']}{' (' + res['setup'] + ')' if res.get('setup') else ''}  "
             f"kernel {res['kernel_release']} "
             f"({k.get('package') or k.get('image')}; numalab model {res['model']})  "
             f"{str(k.get('accel', '?')).upper()} {k.get('seconds', '?')} s"]
    if res.get("renumbered"):
        lines.append("Linux renumbered the nodes (QEMU node -> Linux node): " +
                     ", ".join(f"{a}->{b}" for a, b in res["renumbered"].items()))
    lines.append("")
    lines.append(f"{'experiment':<10} {'agree':>7} {'nondet.':>8} {'differ':>7}")
    for e, c in res["summary"].items():
        if e == "status":
            continue
        lines.append(f"{e:<10} {c['agree']:>7} {c['nondeterministic']:>8} {c['differ']:>7}")
    lines.append("")
    mark = {"agree": "=", "differ": "DIFFERS", "nondeterministic": "~"}
    for r in res["rows"]:
        if r["experiment"] == "boot" or (r["experiment"] == "machine" and r["verdict"] != "agree"):
            lines.append(f"{r['experiment']:<8} {r['item']:<38} kernel: {_short(r['kernel']):<26} "
                         f"numalab: {_short(r['numalab']):<26} {mark[r['verdict']]}")
    bad = [r for r in res["rows"] if r["experiment"] == "policy" and r["verdict"] == "differ"]
    nondet = [r for r in res["rows"] if r["verdict"] == "nondeterministic"]
    if nondet:
        notes = sorted({r["note"] for r in nondet})
        lines.append(f"{len(nondet)} row(s) agree only up to what the kernel leaves open: " + "; ".join(notes))
    for r in bad[:max_rows]:
        diff = {key: (r["kernel"].get(key), r["numalab"].get(key)) for key in r["kernel"]
                if r["kernel"].get(key) != r["numalab"].get(key)}
        lines.append(f"DIFFERS  {r['item']}: " + "; ".join(f"{key}: kernel {a!r} numalab {b!r}"
                                                           for key, (a, b) in diff.items()))
    if len(bad) > max_rows:
        lines.append(f"... and {len(bad) - max_rows} more policy differences (see --json)")
    lines.append("verdict: " + ("numalab agrees with the kernel on every measurement" if res["status"] == 0
                                else f"{sum(r['verdict'] == 'differ' for r in res['rows'])} measurement(s) differ"))
    return "\n".join(lines)
