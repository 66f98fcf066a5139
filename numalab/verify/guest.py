"""Everything ``numalab verify`` does outside Python: the kernel, the initramfs, QEMU, the console.

The pieces, in the order a run uses them:

* :func:`require_tools` finds ``qemu-system-x86_64``, ``gcc``, ``cpio`` and a static busybox, or
  raises one line naming the Debian package to install;
* :func:`kernel_from_image` / :func:`fetch_kernel_package` give a :class:`KernelImage`: the
  release read from the bzImage header itself (``kernel_version`` field of the x86 boot
  protocol), and from the ``config-RELEASE`` beside it (as Debian packages ship it)
  CONFIG_NODES_SHIFT and the configured zone types;
* :func:`build_initramfs` writes a gzip'ed newc cpio with busybox, ``/init`` (:data:`INIT`) and the
  policy probe ``probe.c`` (package data) compiled with ``gcc -static``;
* :func:`boot` runs QEMU (KVM when ``/dev/kvm`` can create a VM, else TCG) with a time limit and
  returns the serial console text;
* :func:`parse_console`, :func:`parse_log` and :func:`parse_records` read that text back: the files
  the guest printed between ``@@FILE``/``@@EOF`` markers, the kernel log lines (``Fallback order
  for Node N:``, ``Built N zonelists``, ``Policy zone:``, the SRAT lines that give Linux's node
  ids) and the probe's ``@@REC`` JSON records.

Everything read back is treated as hostile: sizes are capped, names are checked, nothing from
the console is echoed into an error message.
"""
from __future__ import annotations

import dataclasses
import fcntl
import gzip
import importlib.resources
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

from ..errors import NumalabError

__all__ = [
    "KernelImage", "require_tools", "kvm_usable", "image_release", "read_config", "kernel_from_image",
    "fetch_kernel_package", "build_initramfs", "boot", "parse_console", "parse_log", "parse_records",
    "INIT", "MAX_CONSOLE_BYTES",
]

#: Tool -> Debian package that provides it.
TOOLS = {"qemu-system-x86_64": "qemu-system-x86", "gcc": "gcc", "cpio": "cpio", "gzip": "gzip"}
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
#: The console of one run is at most this large (a 16-node policy run prints about 2 MB).
MAX_CONSOLE_BYTES = 64 << 20
_PKG_NAME = re.compile(r"[a-z0-9][a-z0-9+.~-]{1,200}")


def _is_static_elf(path: str) -> bool:
    """True for an ELF executable without a PT_INTERP program header (statically linked)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            phoff = int.from_bytes(head[32:40], "little")
            phentsize = int.from_bytes(head[54:56], "little")
            phnum = int.from_bytes(head[56:58], "little")
            if phnum > 256 or phentsize < 4:
                return False
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    return all(int.from_bytes(table[i:i + 4], "little") != 3 for i in range(0, len(table), phentsize))


def require_tools() -> dict:
    """Paths of the tools a verify run needs; a NumalabError naming what to install otherwise.

    Returns
    -------
    dict
        ``{"qemu-system-x86_64": path, "gcc": path, "cpio": path, "gzip": path, "busybox": path}``.
    """
    found, missing = {}, []
    for tool, pkg in TOOLS.items():
        p = shutil.which(tool)
        if p:
            found[tool] = p
        else:
            missing.append(pkg)
    bb = next((p for p in BUSYBOX_PATHS if _is_static_elf(p)), None)
    if bb:
        found["busybox"] = bb
    else:
        missing.append("busybox-static")
    if missing:
        raise NumalabError(f"{', '.join(missing)} missing: install with `apt-get install -y {' '.join(missing)}`",
                           input="numalab verify")
    return found


def kvm_usable(dev="/dev/kvm") -> bool:
    """True when ``dev`` opens and can create a VM (KVM_GET_API_VERSION = 12, KVM_CREATE_VM)."""
    try:
        fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, 0xAE00) != 12:          # KVM_GET_API_VERSION
            return False
        vm = fcntl.ioctl(fd, 0xAE01, 0)            # KVM_CREATE_VM
        os.close(vm)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def image_release(path) -> tuple[str, str]:
    """``(release, version string)`` from an x86 bzImage's setup header.

    The boot protocol (2.00+) stores at offset 0x20E a pointer (minus 0x200) to a NUL-terminated
    string that begins with the release, e.g. ``"6.1.0-57-amd64 (debian-kernel@...) #1 SMP ..."``.
    """
    p = pathlib.Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(0x10000)
    except OSError as e:
        raise NumalabError(f"cannot read the kernel image: {e.strerror}", input=str(path)) from None
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        raise NumalabError("not an x86 bzImage (no 'HdrS' boot header)", input=str(path))
    off = int.from_bytes(head[0x20E:0x210], "little") + 0x200
    if not 0x200 <= off < len(head):
        raise NumalabError("the bzImage header has no kernel version string", input=str(path))
    raw = head[off:off + 512].split(b"\0", 1)[0].decode("ascii", "replace")
    m = re.match(r"(\d+\.\d+[\w.+~-]*)", raw)
    if not m:
        raise NumalabError("the bzImage version string does not start with a release", input=str(path))
    return m.group(1), raw[:300]


def read_config(text: str) -> dict:
    """CONFIG_NODES_SHIFT and the zone types a kernel config enables (x86_64 enum order).

    >>> read_config("CONFIG_NODES_SHIFT=10\\nCONFIG_ZONE_DMA=y\\nCONFIG_ZONE_DMA32=y\\n# CONFIG_ZONE_DEVICE is not set\\n")
    {'nodes_shift': 10, 'zone_types': ['DMA', 'DMA32', 'Normal', 'Movable']}
    """
    def on(opt):
        return re.search(rf"^CONFIG_{opt}=y", text, re.M) is not None

    m = re.search(r"^CONFIG_NODES_SHIFT=(\d+)", text, re.M)
    zones = (["DMA"] if on("ZONE_DMA") else []) + (["DMA32"] if on("ZONE_DMA32") else []) + ["Normal"]
    zones += (["HighMem"] if on("HIGHMEM") else []) + ["Movable"] + (["Device"] if on("ZONE_DEVICE") else [])
    return {"nodes_shift": int(m.group(1)) if m else None, "zone_types": zones}


@dataclasses.dataclass(frozen=True)
class KernelImage:
    """A kernel to boot: its image, release, and what its config says."""

    path: str
    release: str
    version_string: str
    config: str | None = None
    nodes_shift: int | None = None
    zone_types: tuple | None = None
    package: str | None = None

    def describe(self) -> dict:
        return {"image": os.path.basename(self.path), "release": self.release, "package": self.package,
                "config": os.path.basename(self.config) if self.config else None,
                "nodes_shift": self.nodes_shift, "zone_types": list(self.zone_types or []) or None}


def kernel_from_image(path, package=None) -> KernelImage:
    """A :class:`KernelImage` for a vmlinuz file; its config is looked for beside it
    (``config-RELEASE``, as in ``/boot`` and in Debian packages; ``config`` beside
    ``/usr/lib/modules/RELEASE/vmlinuz``, the layout of Debian 14's linux-binary and linux-base
    packages) and in ``/boot``."""
    p = pathlib.Path(path)
    if not p.is_file():
        raise NumalabError("no such kernel image", input=str(path))
    release, version = image_release(p)
    cfg = None
    for c in (p.parent / f"config-{release}", p.parent / p.name.replace("vmlinuz-", "config-"),
              *([p.parent / "config"] if p.name == "vmlinuz" and p.parent.name == release else []),
              pathlib.Path("/boot") / f"config-{release}"):
        if c.is_file() and c.name != p.name:
            cfg = c
            break
    info = {"nodes_shift": None, "zone_types": None}
    if cfg is not None:
        if cfg.stat().st_size > (16 << 20):
            raise NumalabError("kernel config larger than 16 MiB", input=str(cfg))
        info = read_config(cfg.read_text(errors="replace"))
    return KernelImage(path=str(p), release=release, version_string=version,
                       config=str(cfg) if cfg else None, nodes_shift=info["nodes_shift"],
                       zone_types=tuple(info["zone_types"]) if info["zone_types"] else None, package=package)


def cache_dir() -> pathlib.Path:
    """Where fetched kernel packages are unpacked: ``$NUMALAB_CACHE`` or ``~/.cache/numalab``."""
    base = os.environ.get("NUMALAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "numalab")
    return pathlib.Path(base) / "kernels"


def fetch_kernel_package(name: str, workdir=None, progress=None) -> KernelImage:
    """``apt-get download NAME`` and ``dpkg-deb -x`` it (never installed); reused when unpacked
    already. Returns its vmlinuz as a :class:`KernelImage`."""
    if not _PKG_NAME.fullmatch(name or ""):
        raise NumalabError("not a Debian package name", input=name)
    root = pathlib.Path(workdir) if workdir else cache_dir()
    dest = root / name
    images = sorted(dest.glob("boot/vmlinuz-*")) if dest.is_dir() else []
    if not images:
        for tool, pkg in (("apt-get", "apt"), ("dpkg-deb", "dpkg")):
            if not shutil.which(tool):
                raise NumalabError(f"{tool} not found: --kernel-package needs Debian's {pkg} "
                                   "(or give --kernel-image PATH)", input=name)
        root.mkdir(parents=True, exist_ok=True)
        if progress:
            progress("kernel", f"apt-get download {name}")
        p = subprocess.run(["apt-get", "download", name], cwd=root, capture_output=True, text=True)
        debs = sorted(root.glob(f"{name}_*.deb"))
        if p.returncode != 0 or not debs:
            last = (p.stderr.strip().splitlines() or ["no .deb written"])[-1][:200]
            raise NumalabError(f"apt-get download failed ({last}); see `apt-cache policy {name}`", input=name)
        tmp = root / f".{name}.unpack"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tmp)], check=True, capture_output=True)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        debs[-1].unlink()
        images = sorted(dest.glob("boot/vmlinuz-*"))
        if not images:
            raise NumalabError("the package holds no boot/vmlinuz-*: not a kernel image package", input=name)
    return kernel_from_image(images[-1], package=name)


#: /init of the guest: mounts proc, sysfs and cgroup2, prints the node files and zoneinfo between
#: markers, runs the policy probe when the kernel command line asks for it, powers off.
INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t cgroup2 none /sys/fs/cgroup
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
done
dump proc/zoneinfo
case " $(cat /proc/cmdline) " in
  *" numalab.policy=1 "*) /probe ;;
esac
echo "@@NUMALAB-DONE"
poweroff -f
"""


def probe_source() -> str:
    """The C source of the policy probe (package data ``numalab/verify/probe.c``)."""
    return importlib.resources.files(__package__).joinpath("probe.c").read_text()


def build_initramfs(workdir, tools: dict) -> pathlib.Path:
    """Compile the probe (``gcc -static``) and write ``WORKDIR/initramfs.cpio.gz``."""
    workdir = pathlib.Path(workdir)
    root = workdir / "initramfs"
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "proc", "sys", "dev"):
        (root / d).mkdir(parents=True)
    shutil.copy2(tools["busybox"], root / "bin" / "busybox")
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    src = workdir / "probe.c"
    src.write_text(probe_source())
    p = subprocess.run([tools["gcc"], "-static", "-O1", "-o", str(root / "probe"), str(src)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        first = (p.stderr.strip().splitlines() or ["?"])[0][:200]
        raise NumalabError(f"gcc -static could not build the probe ({first}); static linking needs "
                           "libc6-dev: `apt-get install -y gcc libc6-dev`", input="probe.c")
    files = subprocess.run(["find", "."], cwd=root, check=True, capture_output=True).stdout
    cpio = subprocess.run([tools["cpio"], "-o", "-H", "newc", "--quiet"], cwd=root, input=files,
                          check=True, capture_output=True).stdout
    out = workdir / "initramfs.cpio.gz"
    out.write_bytes(gzip.compress(cpio, 6, mtime=0))
    return out


def boot(kernel: KernelImage, initrd, numa_args, *, workdir, tools, policy=True, timeout=600,
         accel=None, extra_append=(), progress=None) -> dict:
    """Boot the guest once; returns ``{"console": text, "seconds": s, "accel": ..., "argv": [...]}``.

    Raises NumalabError when QEMU fails or the guest does not finish within ``timeout`` seconds.
    """
    workdir = pathlib.Path(workdir)
    log = workdir / "console.log"
    tried = []
    for acc in ([accel] if accel else (["kvm", "tcg"] if kvm_usable() and not _kvm_known_silent() else ["tcg"])):
        log.unlink(missing_ok=True)
        append = ["console=ttyS0", "panic=-1", "loglevel=7", f"numalab.policy={int(bool(policy))}", *extra_append]
        argv = [tools["qemu-system-x86_64"], "-machine", "q35", "-accel", acc, "-nodefaults", "-display", "none",
                "-monitor", "none", "-no-reboot", "-serial", f"file:{log}", "-kernel", kernel.path,
                "-initrd", str(initrd), "-append", " ".join(append), *numa_args]
        t0 = time.monotonic()
        rc, err = _run_qemu(argv, log, timeout, silent_limit=KVM_SILENT_S if acc == "kvm" and not accel else None)
        secs = time.monotonic() - t0
        if rc == "silent":
            tried.append(f"KVM printed nothing in {KVM_SILENT_S} s")
            _kvm_known_silent(mark=True)
            if progress:
                progress("boot", f"KVM printed nothing in {KVM_SILENT_S} s (nested KVM not working?): "
                                 "falling back to TCG")
            continue
        if rc == "timeout":
            raise NumalabError(f"the guest did not power off within {timeout} s (raise --timeout; under TCG a "
                               "policy run of 8 nodes takes a few minutes)", input="qemu")
        if rc != 0:
            msg = " ".join(err.strip().splitlines()[-2:])[:300]
            raise NumalabError(f"qemu-system-x86_64 exited with status {rc}: {msg}", input="qemu")
        accel = acc
        break
    size = log.stat().st_size if log.exists() else 0
    if size > MAX_CONSOLE_BYTES:
        raise NumalabError(f"console log of {size} bytes exceeds {MAX_CONSOLE_BYTES}", input=str(log))
    text = log.read_text(errors="replace") if size else ""
    return {"console": text, "seconds": round(secs, 1), "accel": accel, "argv": argv, "notes": tried}


#: Under KVM the kernel's first console line comes within a second; a KVM that prints nothing
#: for this long is taken as not working (e.g. nested virtualisation that creates VMs but never
#: runs them) and the boot is retried under TCG.
KVM_SILENT_S = 20


def _kvm_known_silent(mark=False) -> bool:
    """Whether KVM already stayed silent since this host booted (a marker in the cache
    directory holding the host's boot id), so that later runs go straight to TCG."""
    try:
        boot_id = pathlib.Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return False
    marker = cache_dir().parent / "kvm-silent"
    if mark:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(boot_id + "\n")
        except OSError:
            pass
        return True
    try:
        return marker.read_text().strip() == boot_id
    except OSError:
        return False


def _run_qemu(argv, log: pathlib.Path, timeout, silent_limit=None):
    """Run QEMU; ``(returncode | "timeout" | "silent", stderr)``. The process is always reaped."""
    errf = log.with_name("qemu-stderr.txt")
    with open(errf, "w+") as ef:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=ef)
        t0 = time.monotonic()
        try:
            while True:
                try:
                    rc = p.wait(timeout=0.5)
                    ef.seek(0)
                    return rc, ef.read(20000)
                except subprocess.TimeoutExpired:
                    pass
                el = time.monotonic() - t0
                if el > timeout:
                    return "timeout", ""
                if silent_limit and el > silent_limit and (not log.exists() or log.stat().st_size == 0):
                    return "silent", ""
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def _norm(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


_FILE_NAME = re.compile(r"(sys/devices/system/node/(possible|online|has_cpu|has_memory|has_normal_memory|"
                        r"has_generic_initiator|node\d{1,4}/(cpulist|distance|meminfo))|proc/zoneinfo)")


def parse_console(text: str) -> dict:
    """Files the guest printed between ``@@FILE``/``@@EOF`` markers and its ``uname -r``.

    Only the expected file names are accepted (no path can escape a directory it is saved in).

    >>> c = parse_console("junk\\n@@NUMALAB-BEGIN\\n@@UNAME 6.1.0\\n@@FILE sys/devices/system/node/online\\n0-1\\n\\n@@EOF\\n@@NUMALAB-DONE\\n")
    >>> c["files"], c["uname"]
    ({'sys/devices/system/node/online': '0-1\\n'}, '6.1.0')
    """
    text = _norm(text)
    if "@@NUMALAB-BEGIN" not in text:
        raise NumalabError("the guest printed no @@NUMALAB-BEGIN: it did not reach /init", input="console")
    if "@@NUMALAB-DONE" not in text:
        raise NumalabError("the guest did not finish (no @@NUMALAB-DONE on the console)", input="console")
    body = text[text.index("@@NUMALAB-BEGIN"):text.rindex("@@NUMALAB-DONE")]
    files = {}
    for m in re.finditer(r"^@@FILE (\S+)\n(.*?)\n@@EOF$", body, re.S | re.M):
        name, content = m.group(1), m.group(2)
        if not _FILE_NAME.fullmatch(name):
            raise NumalabError("the guest printed an unexpected file name", input="console")
        files[name] = content if content.endswith("\n") or not content else content + "\n"
    uname = re.search(r"^@@UNAME (\S{1,100})$", body, re.M)
    return {"files": files, "uname": uname.group(1) if uname else None}


def parse_log(text: str) -> dict:
    """What the kernel log says: fallback-order sets (one per zonelist build), ``Built N
    zonelists`` lines, ``Policy zone:``, the SRAT map from proximity domain (QEMU node id) to
    Linux node id, and the release."""
    text = _norm(text)
    log = text[:text.index("@@NUMALAB-BEGIN")] if "@@NUMALAB-BEGIN" in text else text
    sets, cur, built, policy = [], {}, [], []
    for ln in log.split("\n"):
        m = re.search(r"Fallback order for Node (\d+): ([\d ]*)", ln)
        if m:
            cur[m.group(1)] = [int(x) for x in m.group(2).split()]
            continue
        m = re.search(r"(Built \d+ zonelists.*)", ln)
        if m:
            sets.append(cur)
            cur = {}
            built.append(m.group(1).strip())
        m = re.search(r"Policy zone: (\S+)", ln)
        if m:
            policy.append(m.group(1))
    if cur:
        sets.append(cur)
    pxm = {}
    for m in re.finditer(r"SRAT: PXM (\d+) -> APIC \S+ -> Node (\d+)", log):
        pxm.setdefault(int(m.group(1)), int(m.group(2)))
    for m in re.finditer(r"SRAT: Node (\d+) PXM (\d+) \[mem", log):
        pxm.setdefault(int(m.group(2)), int(m.group(1)))
    banner = re.search(r"Linux version (\S+) .*", log)
    debs = re.findall(r"Debian (\d+\.\d+\.\d+\S*)", banner.group(0)) if banner else []
    return {"sets": sets, "built": built, "policy_zone": policy, "pxm_to_node": dict(sorted(pxm.items())),
            "release": banner.group(1) if banner else None, "debian_version": debs[-1] if debs else None,
            "banner": banner.group(0).strip()[:300] if banner else None,
            "log_lines": [ln for ln in log.split("\n") if _KEEP.search(ln)]}


_KEEP = re.compile(r"Linux version|Command line|SRAT:|NUMA|Zone ranges|Movable zone start|Early memory node|"
                   r"Initmem setup|Fallback order|Built \d+ zonelists|Policy zone|smpboot: Allowing")

#: Fields every probe record of a kind must have, and their JSON types (what the comparison reads).
_RECORD_FIELDS = {
    "validate": {"api": str, "cgroup": str, "cpuset_mems": str, "mode": str, "flags": list, "mask_case": str,
                 "nodemask_in": (list, type(None)), "ret": str, "placement": list, "cpu_node": int,
                 "mems_allowed": (list, str)},
    "rebind": {"mems_sequence": list, "mode": str, "flags": list, "nodemask_in": list, "set_ret": str,
               "pages_per_phase": int, "phases": list},
}
_RECORD_KINDS = tuple(_RECORD_FIELDS)
_PHASE_FIELDS = {"phase": int, "mems_effective": str, "mems_allowed": (list, str), "policy": dict,
                 "new_pages": list, "old_pages": list, "cpu_node": int}
_API = ("set", "mbind", "mbind_shm")
_FLAGS = ("STATIC_NODES", "RELATIVE_NODES", "NUMA_BALANCING")


def _check_record(rec: dict, n: int) -> None:
    def bad(what):
        raise NumalabError(f"probe record {n}: {what}", input="console")

    for key, kind in _RECORD_FIELDS[rec["kind"]].items():
        if not isinstance(rec.get(key), kind):
            bad(f"field {key!r} missing or of the wrong type")
    if any(f not in _FLAGS for f in rec["flags"]):
        bad("unknown mempolicy flag")
    if rec["kind"] == "validate":
        if rec["api"] not in _API:
            bad("unknown api")
        if rec["ret"] == "OK" and not isinstance(rec.get("get_task" if rec["api"] == "set" else "get_vma"), dict):
            bad("no get_mempolicy result")
    else:
        if len(rec["phases"]) != len(rec["mems_sequence"]) or not 1 <= len(rec["phases"]) <= 16:
            bad("phases do not match mems_sequence")
        for ph in rec["phases"]:
            if not isinstance(ph, dict) or any(not isinstance(ph.get(k), t) for k, t in _PHASE_FIELDS.items()):
                bad("a phase lacks a field")


def parse_records(text: str) -> list[dict]:
    """The policy probe's ``@@REC`` JSON records, in order (each checked to be a JSON object of a
    known kind; a line over 4 MB or an unknown kind is an error)."""
    out = []
    for ln in _norm(text).split("\n"):
        if not ln.startswith("@@REC "):
            continue
        if len(ln) > (4 << 20):
            raise NumalabError("a probe record longer than 4 MB", input="console")
        try:
            rec = json.loads(ln[6:])
        except json.JSONDecodeError:
            raise NumalabError(f"probe record {len(out) + 1} is not valid JSON (a garbled console line)",
                               input="console") from None
        if not isinstance(rec, dict) or rec.get("kind") not in _RECORD_KINDS:
            raise NumalabError(f"probe record {len(out) + 1} is not a validate or rebind record", input="console")
        _check_record(rec, len(out) + 1)
        out.append(rec)
    return out
