"""What every topology reader shares: the kernel's list and hex grammars for CPU and node lists,
sizes, zones by physical address, and the one builder all formats end in (:func:`_build`).

The builder puts the distance table through the kernel's SLIT checks (:mod:`numalab.slit`), lays
out zones by physical address as on x86_64 when a source gives only a memory total per node, and
keeps recorded node states only where they differ from what the zones and CPUs imply.
"""
from __future__ import annotations

import errno
import os
import re
import select
import stat
import time
from fractions import Fraction

import numpy as np

from .. import _io, nodemask as _nm
from ..errors import NumalabError
from ..nodemask import format_list, from_nodes
from ..slit import as_table as _slit_table, check as _slit_check, default_distance as _default_distance
from ..topology import X86_64_ZONES, Topology

__all__ = ["MAX_CPUS", "DMA_PAGES_PC", "STATES", "parse_cpulist", "parse_cpumask", "format_cpulist",
           "parse_size", "assign_zones_by_address", "MAX_NODES_SHIFT", "MAX_PHYS_BYTES", "MAX_PAGE_SIZE",
           "MAX_TEXT_BYTES", "MAX_JSON_DEPTH", "read_json_text", "read_regular", "read_stream", "excerpt",
           "check_page_size", "check_nodes_shift", "check_int",
           "cpu_to_node_of_cpulists"]

#: Present pages of ZONE_DMA on a PC: pfn 1..4095 minus the legacy hole 640 KiB..1 MiB (97 pages).
#: Every x86_64 recording in kernel-truth shows exactly this.
DMA_PAGES_PC = 3998
#: Node-state files of /sys/devices/system/node, in the order the kernel lists them.
STATES = ("possible", "online", "has_cpu", "has_memory", "has_normal_memory")
_MIB = 1 << 20


# ====================================================================== limits of the edge
#: Largest CONFIG_NODES_SHIFT any architecture's Kconfig allows (``range 1 10`` on x86, arm64,
#: powerpc, ...; 0 is a kernel without NUMA): MAX_NUMNODES is at most 1024.
MAX_NODES_SHIFT = 10
#: Largest physical address space of a 64-bit kernel (MAX_PHYSMEM_BITS is 52 on x86_64 with
#: 5-level paging and on arm64 with 52-bit PAs): no node, zone or machine holds more bytes. Page
#: counts are bounded by this divided by the page size, so sums of them never near int64.
MAX_PHYS_BYTES = 1 << 52
#: Largest base page of any Linux architecture (256 KiB: hexagon, powerpc 44x PPC_256K_PAGES).
MAX_PAGE_SIZE = 1 << 18
#: Longest topology text read (JSON, numactl, hwloc XML, snapshot metadata, one sysfs/proc file).
#: A 1024-node distance table in JSON is about 4 MiB.
MAX_TEXT_BYTES = 16 << 20
#: Deepest JSON nesting accepted (the format needs 4: document, nodes, node, zones).
MAX_JSON_DEPTH = 32
#: How long to wait for the first byte (or the next one) from a pipe or FIFO before giving up.
STREAM_IDLE_SECONDS = 10.0
_INT64 = 1 << 63


def excerpt(text, n: int = 16) -> str:
    """A short, escaped excerpt of input for an error message: at most ``n`` characters, control
    and non-ASCII characters escaped, so no file content beyond a few bytes reaches a terminal.

    >>> print(excerpt("-----BEGIN PRIVATE KEY-----\\nMIIE"))
    '-----BEGIN PRIVA'...
    >>> print(excerpt("\\x1b[2J\\n"))
    '\\x1b[2J\\n'
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text)
    cut = text[:n]
    return repr(cut).encode("ascii", "backslashreplace").decode("ascii") + ("..." if len(text) > n else "")


def check_int(v, where, field, lo=0, hi=_INT64 - 1) -> int:
    """``v`` as an int in ``lo..hi``; bools, floats, strings and anything else are errors.

    >>> check_int(3, "f", "x")
    3
    >>> check_int(True, "f", "x")
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: 'f': field 'x' must be an integer, not bool
    """
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise NumalabError(f"field {field!r} must be an integer, not {type(v).__name__}", input=where)
    v = int(v)
    if not lo <= v <= hi:
        raise NumalabError(f"field {field!r} = {v} is outside {lo}..{hi}", errno="ERANGE", input=where)
    return v


def check_page_size(v, where, field="page_size") -> int:
    """A page size: an int, a power of two, 4096..:data:`MAX_PAGE_SIZE` (PAGE_SHIFT 12..18)."""
    v = check_int(v, where, field, 4096, MAX_PAGE_SIZE)
    if v & (v - 1):
        raise NumalabError(f"{field} {v} is not a power of two", errno="EINVAL", input=where)
    return v


def check_nodes_shift(v, where, field="nodes_shift") -> int:
    """CONFIG_NODES_SHIFT: an int in 0..:data:`MAX_NODES_SHIFT`."""
    return check_int(v, where, field, 0, MAX_NODES_SHIFT)


# ---------------------------------------------------------------------- strict JSON
def read_json_text(data, where, *, max_bytes=MAX_TEXT_BYTES):
    """The JSON value of ``data`` (str or bytes), read strictly at the edge: the one place the
    loaders read JSON, through the project's one strict reader (:func:`numalab._io.read_json`)
    with the loaders' caps (:data:`MAX_TEXT_BYTES` unless ``max_bytes`` says otherwise,
    :data:`MAX_JSON_DEPTH`).

    Refused, each with one line naming ``where``: oversized text, deep nesting, ``NaN``/
    ``Infinity``, integers outside int64, a key repeated in one object, text that is not UTF-8 or
    not JSON.

    >>> read_json_text('{"a": [1, 2.5]}', "x.json")
    {'a': [1, 2.5]}
    >>> read_json_text('{"a": NaN}', "x.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: 'x.json': ...NaN...
    """
    if not isinstance(data, (str, bytes, bytearray)):
        raise NumalabError(f"expected text, not {type(data).__name__}", input=where)
    return _io.read_json(bytes(data) if isinstance(data, bytearray) else data, where=where,
                         max_bytes=max_bytes, max_depth=MAX_JSON_DEPTH)


# ---------------------------------------------------------------------- reading files
_O_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _read_fd(fd, limit, where) -> bytes:
    chunks, total = [], 0
    while True:
        b = os.read(fd, min(1 << 20, limit + 1 - total))
        if not b:
            return b"".join(chunks)
        chunks.append(b)
        total += len(b)
        if total > limit:
            raise NumalabError(f"larger than {limit} bytes: not a file this reader takes", input=where)


def read_regular(name, where, limit=MAX_TEXT_BYTES, *, dir_fd=None, follow=False) -> bytes:
    """The bytes of a regular file, at most ``limit``; never blocks, never follows a final link.

    The file is opened with ``O_NONBLOCK`` (a FIFO or device does not block the open) and, unless
    ``follow``, ``O_NOFOLLOW``; ``fstat`` of the open file must say S_ISREG, so FIFOs, devices
    (``/dev/zero``) and directories are refused with one line. Missing files raise
    FileNotFoundError (the caller decides what absence means).
    """
    flags = _O_READ & ~(0 if not follow else getattr(os, "O_NOFOLLOW", 0))
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NumalabError("is a symbolic link (links are not followed)", input=where) from None
        if isinstance(e, NotADirectoryError):
            raise FileNotFoundError(str(name)) from None
        raise NumalabError(f"cannot open: {e.strerror}", input=where) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a file")
            raise NumalabError(f"is {kind}, not a regular file", input=where)
        if st.st_size > limit:
            raise NumalabError(f"larger than {limit} bytes ({st.st_size})", input=where)
        try:
            return _read_fd(fd, limit, where)
        except OSError as e:
            raise NumalabError(f"cannot read: {e.strerror}", input=where) from None
    finally:
        os.close(fd)


def read_stream(fd, where, limit=MAX_TEXT_BYTES, idle=None) -> bytes:
    """All bytes of a pipe or FIFO (no seek), at most ``limit``, waiting at most ``idle`` seconds
    (:data:`STREAM_IDLE_SECONDS`) for each chunk. ``fd`` must be open with O_NONBLOCK: a FIFO
    without a writer then gives a clear message instead of a hang."""
    idle = STREAM_IDLE_SECONDS if idle is None else idle
    chunks, total = [], 0
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while True:
        deadline = time.monotonic() + idle
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                what = "no writer: nothing arrived" if not chunks else "the writer stalled: nothing more arrived"
                raise NumalabError(f"{what} within {idle:g} s (is anything writing to this pipe or FIFO?)",
                                   input=where)
            if poller.poll(max(1, int(left * 1000))):
                break
        try:
            b = os.read(fd, min(1 << 20, limit + 1 - total))
        except BlockingIOError:
            continue
        except OSError as e:
            raise NumalabError(f"cannot read: {e.strerror}", input=where) from None
        if not b:
            return b"".join(chunks)
        chunks.append(b)
        total += len(b)
        if total > limit:
            raise NumalabError(f"larger than {limit} bytes", input=where)


# ====================================================================== small parsers
#: Width used to read CPU lists and masks whose width (nr_cpu_ids) is not known: NR_CPUS is at
#: most 8192 on x86_64 (MAXSMP); a larger id is refused (ERANGE) before anything is allocated.
MAX_CPUS = 1 << 16
_N_OR_ALL = re.compile(r"N|all", re.I)


def parse_cpulist(text: str, where="cpulist", *, nbits=None, kernel=None) -> list[int]:
    """CPU (or node) ids of a kernel list, read with the kernel's own grammar.

    A thin call to :func:`numalab.nodemask.parselist` (``bitmap_parselist``): ``"0-3,8"``,
    blank-separated ``" 4 5 6"`` and the group form ``"0-7:2/4"`` are all accepted as the kernel
    accepts them. Without ``nbits`` (the list's width, nr_cpu_ids, is not known) the width is
    :data:`MAX_CPUS` and the tokens ``N`` and ``all``, which mean "up to the last bit", are
    refused (EINVAL), since the last bit is not known.

    Parameters
    ----------
    text : str
    where : str
        What the text is (a file name or field), for error messages.
    nbits : int, optional
        The width of the list (``nr_cpu_ids`` or ``MAX_NUMNODES``).
    kernel : str or KernelProfile, optional
        The release whose grammar applies (``N`` and ``all`` from v5.13); default the newest.

    Examples
    --------
    >>> parse_cpulist("0-2,8"), parse_cpulist(""), parse_cpulist(" 4 5 6"), parse_cpulist("0-7:2/4")
    ([0, 1, 2, 8], [], [4, 5, 6], [0, 1, 4, 5])
    >>> parse_cpulist("3-1", "node0/cpulist")
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: 'node0/cpulist': not a kernel list: range start 3 is after its end 1 [EINVAL at position 0]
    """
    text = "" if text is None else str(text)
    if nbits is None:
        bad = _N_OR_ALL.search(text)
        if bad:
            raise NumalabError("not a kernel list: 'N' and 'all' need the list's width",
                               errno="EINVAL", input=where, position=bad.start())
    try:
        mask = _nm.parselist(text, MAX_CPUS if nbits is None else nbits, kernel=kernel)
    except NumalabError as e:
        raise NumalabError(f"not a kernel list: {e.problem}", errno=e.errno, input=where,
                           position=e.position) from None
    return _nm.to_nodes(mask).tolist()


def parse_cpumask(text: str, where="cpumap", *, nbits=None) -> list[int]:
    """CPU (or node) ids of a kernel hex mask (sysfs ``cpumap``, ``%*pb``), read by the kernel's
    ``bitmap_parse`` grammar (:func:`numalab.nodemask.parse_hex`).

    Without ``nbits`` the width is the number of 32-bit chunks given, at most :data:`MAX_CPUS`.

    >>> parse_cpumask("00000000,0000f00f\\n")
    [0, 1, 2, 3, 12, 13, 14, 15]
    """
    text = "" if text is None else str(text)
    if nbits is None:
        nbits = min(32 * (text.count(",") + 1), MAX_CPUS)
    try:
        mask = _nm.parse_hex(text, nbits)
    except NumalabError as e:
        raise NumalabError(f"not a hex mask: {e.problem}", errno=e.errno, input=where,
                           position=e.position) from None
    return _nm.to_nodes(mask).tolist()


def format_cpulist(ids) -> str:
    """Kernel list syntax for a set of ids (``[0, 1, 2, 8]`` -> ``"0-2,8"``).

    >>> format_cpulist([8, 0, 1, 2]), format_cpulist([])
    ('0-2,8', '')
    """
    ids = [int(x) for x in ids]
    return str(format_list(from_nodes(ids, max(ids) + 1))) if ids else ""


def parse_size(text, where="size") -> int:
    """Bytes of a size like ``"256M"``, ``"1G"``, ``"512K"``, ``"1048576"`` (binary units, as QEMU).

    >>> parse_size("256M"), parse_size("1g"), parse_size("1.5G")
    (268435456, 1073741824, 1610612736)
    """
    m = re.fullmatch(r"\s*(\d{1,20}(?:\.\d{1,20})?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text)[:128])
    if not m:
        raise NumalabError("not a size (use e.g. 256M, 1G)",
                           input=where if where != "size" else excerpt(text, 32))
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    value = Fraction(m.group(1)) * mult  # exact: "9007199254740993" is not rounded through a float
    if value.denominator != 1:
        raise NumalabError("size is not a whole number of bytes", input=where if where != "size" else text)
    if value >= _INT64:
        raise NumalabError("size does not fit in 64 bits", errno="ERANGE", input=where if where != "size" else text)
    return int(value)


def cpu_to_node_of_cpulists(ids, cpulists, where="cpulist") -> dict:
    """``cpu_to_node()`` of every CPU, from the nodes' cpulists: the lowest node id listing it.

    Without NUMA emulation a CPU is in one node's cpulist. Under ``numa=fake=`` (CONFIG_NUMA_EMU)
    ``numa_add_cpu()`` puts it in the cpumask of every fake node of its physical node, and
    ``numa_emulation()`` (arch/x86/mm/numa_emulation.c; from v6.14 mm/numa_emulation.c with
    ``numa_emu_update_cpu_to_node()``) maps the CPU's APIC id to the first emulated node id whose
    ``emu_nid_to_phys`` is that physical node, so ``cpu_to_node()`` is the lowest node id whose
    cpulist holds the CPU. The recordings fake-4 and fake-2U (6.1 and 6.12; the guest's
    ``nodeN/cpuM`` links) show exactly that.

    Two cpulists that share a CPU are equal (the fake nodes of one physical node): lists that only
    overlap come from no kernel and are refused.

    >>> cpu_to_node_of_cpulists([0, 1, 2, 3], [[0, 1], [2, 3], [0, 1], [2, 3]])
    {0: 0, 1: 0, 2: 1, 3: 1}
    >>> cpu_to_node_of_cpulists([0, 1], [[0, 1], [1, 2]], "snap")
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: 'snap': nodes 0 and 1 share CPU 1 but list different CPUs (0-1 and 1-2): no kernel prints that (numa=fake= gives every fake node of a physical node the same CPUs)
    """
    owner, first = {}, {}
    for nid, cl in sorted(zip((int(x) for x in ids), cpulists), key=lambda kv: kv[0]):
        cl = sorted({int(c) for c in cl})
        for c in cl:
            if c in owner and first[owner[c]] != cl:
                a, b = first[owner[c]], cl
                raise NumalabError(f"nodes {owner[c]} and {nid} share CPU {c} but list different CPUs "
                                   f"({format_cpulist(a)} and {format_cpulist(b)}): no kernel prints that "
                                   "(numa=fake= gives every fake node of a physical node the same CPUs)",
                                   input=where)
            owner.setdefault(c, nid)
        first.setdefault(nid, cl)
    return dict(sorted(owner.items()))


def _nodelist(text: str, where) -> list[int]:
    return parse_cpulist(text, where)  # node lists in sysfs use the same list syntax


# ====================================================================== zones by address
def assign_zones_by_address(total_pages, zone_types=X86_64_ZONES, movable=None, page_size=4096,
                            start_pages=None):
    """Present pages per node and zone, laid out by physical address as on x86_64.

    The nodes that have memory are laid out one after the other in node-index order (ascending
    node id), from the first usable page frame up. ZONE_DMA is the first 16 MiB, ZONE_DMA32 the
    rest below 4 GiB, ZONE_NORMAL everything above. With 4 KiB pages the first 16 MiB keep the PC's
    holes (page 0 and 640 KiB..1 MiB are not RAM), so ZONE_DMA holds at most :data:`DMA_PAGES_PC`
    = 3998 present pages, as every x86_64 recording shows. There is no hole below 4 GiB in this
    model. A node may start higher (``start_pages``, e.g. memory placed above 4 GiB); a node marked
    in ``movable`` gets all of its memory in ZONE_MOVABLE (memory hot-added and onlined movable,
    as CXL expanders usually are) and takes no address space from the others.

    Parameters
    ----------
    total_pages : (n,) int array
        Pages of memory per node.
    zone_types : tuple of str
        Configured zone types (the columns of the result).
    movable : (n,) bool array, optional
        Nodes whose memory is all in ZONE_MOVABLE.
    start_pages : (n,) int array, optional
        Lowest page frame of each node (-1 or absent: right after the previous node).

    Returns
    -------
    (n, len(zone_types)) int64 array of present pages.

    Examples
    --------
    >>> assign_zones_by_address([100_000, 2_000_000]).tolist()
    [[3998, 96002, 0, 0, 0], [0, 948478, 1051522, 0, 0]]
    >>> assign_zones_by_address([1000, 1000], start_pages=[-1, 1 << 20]).tolist()
    [[1000, 0, 0, 0, 0], [0, 0, 1000, 0, 0]]
    """
    total = np.asarray(total_pages, dtype=np.int64).reshape(-1)
    n = total.size
    zt = tuple(zone_types)
    out = np.zeros((n, len(zt)), np.int64)
    movable = np.zeros(n, bool) if movable is None else np.asarray(movable, bool).reshape(-1)
    starts = np.full(n, -1, np.int64) if start_pages is None else np.asarray(start_pages, np.int64).reshape(-1)
    mib16, gib4 = (16 << 20) // page_size, (1 << 32) // page_size
    col = {name: (zt.index(name) if name in zt else None) for name in ("DMA", "DMA32", "Normal", "Movable")}
    normal = col["Normal"] if col["Normal"] is not None else len(zt) - 1
    # usable page-frame ranges and the zone each belongs to (the last one is open-ended)
    if page_size == 4096:
        segs = [(1, 0x9F, "DMA"), (0x100, mib16, "DMA")]
    else:
        segs = [(0, mib16, "DMA")]
    segs += [(mib16, gib4, "DMA32"), (gib4, None, "Normal")]
    segs = [(a, b, z if col[z] is not None else ("DMA32" if z == "DMA" and col["DMA32"] is not None else "Normal"))
            for a, b, z in segs]
    cursor = 0
    for i in range(n):  # sequential by nature: each node starts where the previous one ended
        rest = int(total[i])
        if rest <= 0:
            continue
        if movable[i]:
            if col["Movable"] is None:
                raise NumalabError("a node is marked movable but ZONE_MOVABLE is not configured",
                                   input="movable")
            out[i, col["Movable"]] = rest
            continue
        cursor = max(cursor, int(starts[i]))
        for a, b, z in segs:
            if rest == 0:
                break
            lo = max(a, cursor)
            room = rest if b is None else max(0, b - lo)
            take = min(rest, room)
            if take:
                out[i, col[z] if col[z] is not None else normal] += take
                rest -= take
                cursor = lo + take
    return out


_BY_ADDRESS_NOTE = ("zones assigned by physical address as on x86_64 (nodes laid out from address 0 "
                    "in node-id order; DMA below 16 MiB, DMA32 below 4 GiB, Normal above)")
_MANAGED_NOTE = "the source gives only memory totals: managed pages set equal to present pages"


# ====================================================================== common builder
def _build(name, ids, cpus, distance, *, present=None, managed=None, totals=None, movable=None,
           starts=None, where, zone_types=X86_64_ZONES, possible=None, online=None, states=None, nodes_shift=10,
           page_size=4096, source="", notes=(), meta=None, distance_note=None, cpulists=None,
           kernel_distance=False) -> Topology:
    """Sort by node id, check what no kernel could see, apply the SLIT rules, make the Topology.

    ``cpulists``: each node's cpumask as the kernel printed it, when a CPU is in several (NUMA
    emulation); ``cpus`` then holds the CPUs whose ``cpu_to_node()`` is the node.
    ``kernel_distance``: the table is the kernel's own ``node_distance()`` (sysfs), stored after
    ``slit_valid()`` or set by ``numa_emulation()`` (10 between fake nodes of one physical node),
    so the firmware checks do not apply to it again."""
    nodes_shift = check_nodes_shift(nodes_shift, where)
    page_size = check_page_size(page_size, where)
    max_numnodes = 1 << nodes_shift
    n = len(ids)
    notes = list(notes)
    if n == 0:
        raise NumalabError("no nodes", input=where)
    if n > max_numnodes:  # checked before anything n x n is allocated
        raise NumalabError(f"{n} nodes, more than MAX_NUMNODES {max_numnodes} (NODES_SHIFT={nodes_shift})",
                           errno="ERANGE", input=where)
    seen = set()
    for x in ids:
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
            raise NumalabError(f"node id {excerpt(x)} is not an integer", input=where)
        x = int(x)
        if x in seen:
            raise NumalabError(f"node id {x} is listed twice", input=where)
        if x < 0:
            raise NumalabError(f"node id {x} is negative", input=where)
        if x >= max_numnodes:
            raise NumalabError(f"node id {x} is outside 0..{max_numnodes - 1} (MAX_NUMNODES {max_numnodes}, "
                               f"NODES_SHIFT={nodes_shift})", errno="ERANGE", input=where)
        seen.add(x)
    ids = [int(x) for x in ids]
    order = np.argsort(ids, kind="stable")
    ids_sorted = np.asarray(ids, np.int64)[order]
    # distances
    if distance is None:
        dist = _default_distance(n)
        notes.append(distance_note or "no distance table: the kernel's defaults (10 local, 20 remote)")
    else:
        raw = _slit_table(distance, f"{where}: distance")
        if raw.shape[0] != n:
            raise NumalabError(f"distance matrix is {raw.shape[0]}x{raw.shape[1]} but there are {n} nodes",
                               input=where)
        raw = raw[np.ix_(order, order)]
        dist, why = (raw, None) if kernel_distance else _slit_check(raw, where)
        if why is not None:
            notes.append(f"distance table rejected as the kernel's slit_valid() would ({why}); "
                         "the kernel's defaults are used (10 local, 20 remote)")
            meta = dict(meta or {}, rejected_distance=raw.tolist())
        elif not np.array_equal(dist, dist.T):
            notes.append("the distance table is asymmetric (the kernel accepts that)")
    # CPUs
    cpu_ids, cpu_node = [], []
    owner = {}
    for pos, k in enumerate(order):
        for c in cpus[k]:
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
                raise NumalabError(f"CPU id {excerpt(c)} is not an integer", input=where)
            c = int(c)
            if c < 0:
                raise NumalabError(f"CPU id {c} is negative", input=where)
            if c >= MAX_CPUS:
                raise NumalabError(f"CPU id {c} is beyond {MAX_CPUS - 1} (no kernel has NR_CPUS above "
                                   f"{MAX_CPUS})", errno="ERANGE", input=where)
            if c in owner:
                raise NumalabError(f"CPU {c} is on two nodes ({owner[c]} and {ids[k]})", input=where)
            owner[c] = ids[k]
            cpu_ids.append(c)
            cpu_node.append(pos)
    cpu_ids = np.asarray(cpu_ids, np.int64)
    cpu_node = np.asarray(cpu_node, np.int64)
    srt = np.argsort(cpu_ids, kind="stable")
    cpu_ids, cpu_node = cpu_ids[srt], cpu_node[srt]
    cpumask = None
    if cpulists is not None:
        col = {int(c): k for k, c in enumerate(cpu_ids.tolist())}
        cpumask = np.zeros((n, cpu_ids.size), bool)
        for pos, k in enumerate(order):
            for c in cpulists[k]:
                if int(c) not in col:
                    raise NumalabError(f"CPU {int(c)} is in node {ids[k]}'s cpumask but has no cpu_to_node",
                                       input=where)
                cpumask[pos, col[int(c)]] = True
    # memory
    z = len(zone_types)
    max_pages = MAX_PHYS_BYTES // page_size
    if present is None:
        tot = _pages_array(totals, (n,), where, "memory size", max_pages)[order]
        if tot.sum() > max_pages:
            raise NumalabError(f"{int(tot.sum())} pages in all is more than a 64-bit kernel can address "
                               f"({max_pages} pages of {page_size} bytes)", errno="ERANGE", input=where)
        mv = None if movable is None else np.asarray(movable, bool)[order]
        st_ = None if starts is None else np.asarray(starts, np.int64)[order]
        present = assign_zones_by_address(tot, zone_types, mv, page_size, st_)
        managed = present.copy()
        if tot.sum() > 0:
            notes.append(_BY_ADDRESS_NOTE + (", movable nodes entirely in Movable" if mv is not None and mv.any() else ""))
            notes.append(_MANAGED_NOTE)
    else:
        present = _pages_array(present, (n, z), where, "present pages", max_pages)[order]
        managed = (present.copy() if managed is None
                   else _pages_array(managed, (n, z), where, "managed pages", max_pages)[order])
        if present.sum() > max_pages:
            raise NumalabError(f"{int(present.sum())} present pages in all is more than a 64-bit kernel can "
                               f"address ({max_pages} pages of {page_size} bytes)", errno="ERANGE", input=where)
        if np.any(managed > present):
            i, k = np.argwhere(managed > present)[0]
            raise NumalabError(f"node {ids_sorted[i]} zone {zone_types[k]}: managed pages "
                               f"({managed[i, k]}) exceed present pages ({present[i, k]})", input=where)
    pos_ = None if possible is None else np.asarray(possible, bool)[order]
    onl = None if online is None else np.asarray(online, bool)[order]
    override = None
    if states:
        override = {k: np.asarray(v, bool)[order] for k, v in states.items()}
    return Topology(name=name, node_ids=ids_sorted, distance=dist, cpu_ids=cpu_ids, cpu_node=cpu_node,
                    present_pages=present, managed_pages=managed, zone_types=tuple(zone_types),
                    possible=pos_, online=onl, nodes_shift=int(nodes_shift), page_size=int(page_size),
                    state_override=override, cpumask=cpumask, source=source, notes=tuple(notes),
                    meta=dict(meta or {}))


def _pages_array(values, shape, where, what, max_pages) -> np.ndarray:
    """Page counts as int64, each checked in 0..max_pages as a Python int before conversion (no
    int64 wrap-around, no OverflowError)."""
    flat = []
    for v in np.asarray(values, dtype=object).reshape(-1).tolist():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise NumalabError(f"{what} {excerpt(v)} is not an integer", input=where)
        v = int(v)
        if v < 0:
            raise NumalabError(f"{what} must not be negative ({v})", input=where)
        if v > max_pages:
            raise NumalabError(f"{what} {v} is more than a 64-bit kernel can address ({max_pages} pages)",
                               errno="ERANGE", input=where)
        flat.append(v)
    if len(flat) != int(np.prod(shape)):
        raise NumalabError(f"{what}: {len(flat)} values, expected {int(np.prod(shape))}", input=where)
    return np.asarray(flat, np.int64).reshape(shape)


def _drop_redundant_states(t: Topology) -> Topology:
    """Keep only recorded states that differ from what the zones and CPUs imply."""
    if not t.state_override:
        return t
    bare = t.replace(state_override=None)
    keep = {k: v for k, v in t.state_override.items()
            if not hasattr(bare, k) or not np.array_equal(getattr(bare, k), v)}
    return t.replace(state_override=keep or None)
