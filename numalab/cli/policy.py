"""``numalab policy``: a memory policy through cpuset.mems changes, and where its pages go.

One case::

    numalab policy TOPO --mems LIST --mode MODE [--flags static|relative|numa_balancing]
        [--nodes LIST] [--then-mems LIST]... [--scope task|vma|shm] [--cpu-node N]
        [--pages K] [--kernel V] [--home-node N] [--inode I] [--order K]
        [--weights 0=5,1=2] [--bandwidth 0=300,1=100] [--json]

A sweep::

    numalab policy --batch FILE --json        # FILE or '-' (stdin): one JSON query per line

A query has the keys ``topology`` (string), ``kernel`` (string, default ``"current"``), ``mems``
(kernel list string or null), ``then_mems`` (list of kernel list strings), ``mode`` (string),
``flags`` (list of strings, or one string), ``nodes`` (kernel list string, list of node ids, or
null), ``scope`` (``"task"``, ``"vma"`` or ``"shm"``), ``cpu_node`` (integer or null), ``pages``
(integer), ``home_node``, ``inode`` and ``order`` (integers or null), ``weights`` and
``bandwidth`` (``"0=5,1=2"`` or an object of node id strings to integers, or null). Types are strict: a kernel version as a JSON number is refused (``6.10`` would read as
``6.1``: write ``"6.10"``), ``true`` is not a node list and not a mode, ``1.7`` is not a node.
Each non-blank line gives one result line, in order, with ``"line": N`` (its line number in the
file). A bad line (not JSON, NaN/Infinity, nested deeper than 32 levels, longer than 1 MiB, not
UTF-8, an unknown key, a field of the wrong type or out of range) gets
``{"error": "line N: 'FIELD': problem", "line": N, "field": "FIELD", "steps": []}`` (``field`` is
null when the problem is not one field's) and the batch goes on. Exit status: 0 when every line
was answered (a policy the kernel refuses is an answer: ``"error": "EINVAL"``), 1 when at least
one line got an error object (stderr says how many and the first one), 2 when the batch could not
be read at all. Topologies and zonelists are loaded once per batch, and lines that share the
topology, kernel, cpuset writes, scope, CPU node and page count run through the engine together
(:func:`numalab.alloc.run_scenarios`). Lines are read in chunks of up to 4096, but whenever the
input pauses (a person typing, a script waiting for each answer) what was read is answered and
flushed at once. On a terminal, stderr shows the progress.

Caps (checked before anything is allocated): at most 256 ``then_mems`` writes, at most 1048576
pages per step, and at most 4194304 page placements per result (the pages of every step are
reported again after each later write: ``pages * S * (S + 1) / 2`` for ``S`` steps).

The result (``--json``): ``error`` (null, or the errno name when the kernel refuses the policy:
a result, exit status 0) and ``steps`` (the initial cpuset, then one per ``--then-mems``), each
with ``mems``, ``effective``, ``mems_allowed``, ``nodes`` (the effective policy nodemask),
``reported_mode``, ``reported_flags``, ``reported_nodes`` (what get_mempolicy returns),
``eligible`` (ordered node ids a page may come from), ``placement`` (node per page first touched
in that step) and ``old_pages`` (where the pages of the earlier steps are now). Node sets are
kernel list strings (``"0-1,3"``).
"""
from __future__ import annotations

import sys

from ..errors import NumalabError

__all__ = ["register", "run", "run_query", "run_batch", "check_query", "MAX_STEPS", "MAX_PAGES",
           "MAX_PAGE_RECORDS", "MAX_LINE_BYTES", "document"]

_KEYS = {"topology", "kernel", "mems", "then_mems", "mode", "flags", "nodes", "scope", "cpu_node", "pages",
         "home_node", "inode", "order", "weights", "bandwidth"}

#: Caps of one query (see the module docstring).
MAX_STEPS = 256
MAX_PAGES = 1 << 20
MAX_PAGE_RECORDS = 1 << 22
#: Caps of one batch line: bytes, JSON nesting, characters of a text field, ids in a node list.
MAX_LINE_BYTES = 1 << 20
MAX_LINE_DEPTH = 32
MAX_TEXT = 1 << 16
MAX_LIST = 1 << 16
#: Lines read, checked and run together (results are still written in input order).
CHUNK = 4096


def register(subparsers):
    p = subparsers.add_parser(
        "policy", help="a memory policy through cpuset.mems changes, and where its pages go",
        description="Create a memory policy as set_mempolicy/mbind would, rebind it on each cpuset.mems "
                    "change, and show what get_mempolicy reports and where pages land.")
    p.add_argument("topo", metavar="TOPO", nargs="?",
                   help="preset name, JSON file, sysfs snapshot directory or tarball, or 'host'")
    p.add_argument("--mems", help="cpuset.mems of the task's cgroup (omit: the root cgroup)")
    p.add_argument("--mode", default=None,
                   help="default, preferred, bind, interleave, local, preferred_many, weighted_interleave")
    p.add_argument("--flags", action="append", default=[],
                   help="static, relative or numa_balancing (repeat or comma-separate)")
    p.add_argument("--nodes", default=None, help="the policy's nodemask, e.g. 0-1,3 (omit: NULL)")
    p.add_argument("--then-mems", action="append", default=[], metavar="LIST",
                   help=f"a later write to cpuset.mems (repeatable, at most {MAX_STEPS})")
    p.add_argument("--scope", default="task", choices=("task", "vma", "shm"),
                   help="task: set_mempolicy; vma: mbind on a private mapping; shm: mbind on shared memory")
    p.add_argument("--cpu-node", type=int, default=None, help="node id of the CPU the task runs on")
    p.add_argument("--pages", type=int, default=16, help="pages touched per step (default 16)")
    p.add_argument("--kernel", default="current", help="kernel release, e.g. 6.1 (default: current)")
    p.add_argument("--home-node", type=int, default=None, metavar="N",
                   help="call set_mempolicy_home_node(N) on the mapping (v5.17+; BIND/PREFERRED_MANY)")
    p.add_argument("--inode", type=int, default=None, metavar="I",
                   help="shm scope: the segment's inode number, added to every page index "
                        "(default 0; the real one is not predictable from outside)")
    p.add_argument("--order", type=int, default=0, metavar="K",
                   help="shm scope: page order of the pages touched (9 = 2 MiB shmem THP)")
    p.add_argument("--weights", default=None, metavar="N=W,...",
                   help="values written to weighted_interleave/nodeN (6.9+)")
    p.add_argument("--bandwidth", default=None, metavar="N=BW,...",
                   help="bandwidth per node as firmware (HMAT/CXL) reports it; 6.16+ derives the "
                        "weights from it until one is written")
    p.add_argument("--batch", metavar="FILE", help="JSON lines of queries ('-' for stdin)")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=run)


def _bad(field, problem):
    """A NumalabError naming one field of a query (``field`` is kept for the error object)."""
    e = NumalabError(problem, input=field)
    e.field = field
    return e


def _kind(v) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(v), type(v).__name__)


def _text_field(q, key, *, required=False, default=None):
    v = q.get(key)
    if v is None:
        if required:
            raise _bad(key, "missing (give a string)")
        return default
    if not isinstance(v, str):
        raise _bad(key, f"must be a string, not {_kind(v)}")
    if len(v) > MAX_TEXT:
        raise _bad(key, f"string of {len(v)} characters; the limit is {MAX_TEXT}")
    return v


def _int_field(q, key, lo, hi, default=None):
    v = q.get(key)
    if v is None:
        return default
    if not isinstance(v, int) or isinstance(v, bool):
        raise _bad(key, f"must be an integer, not {_kind(v)}")
    if not lo <= v <= hi:
        raise _bad(key, f"{v} is outside {lo}..{hi}")
    return v


def _str_list(q, key):
    v = q.get(key)
    if v is None:
        return []
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list):
        raise _bad(key, f"must be a list of strings, not {_kind(v)}")
    for i, x in enumerate(v):
        if not isinstance(x, str):
            raise _bad(f"{key}[{i}]", f"must be a string, not {_kind(x)}")
        if len(x) > MAX_TEXT:
            raise _bad(f"{key}[{i}]", f"string of {len(x)} characters; the limit is {MAX_TEXT}")
    return v


def check_query(q) -> dict:
    """Check the types and ranges of one query (nothing is loaded or allocated yet).

    Returns the query with defaults filled in; raises :class:`NumalabError` with a ``field``
    attribute naming the offending key.

    >>> check_query({"topology": "cxl4", "mode": "bind"})["kernel"]
    'current'
    >>> check_query({"topology": "cxl4", "mode": "bind", "kernel": 6.10})
    Traceback (most recent call last):
    ...
    numalab.errors.NumalabError: 'kernel': must be a string such as "6.10", not a number (a JSON number cannot hold a release exactly: 6.10 would read as 6.1)
    """
    if not isinstance(q, dict):
        raise _bad(None, f"a query is a JSON object, not {_kind(q)}")
    unknown = sorted(set(q) - _KEYS)
    if unknown:
        raise _bad(unknown[0], f"unknown key; known: {', '.join(sorted(_KEYS))}")
    k = q.get("kernel")
    if isinstance(k, (int, float)) and not isinstance(k, bool):
        raise _bad("kernel", 'must be a string such as "6.10", not a number (a JSON number cannot hold '
                             'a release exactly: 6.10 would read as 6.1)')
    kernel = _text_field(q, "kernel", default="current")
    if not kernel.strip():
        raise _bad("kernel", "empty; give a release such as \"6.1\" or \"current\"")
    out = {"topology": _text_field(q, "topology", required=True), "kernel": kernel,
           "mems": _text_field(q, "mems"), "then_mems": _str_list(q, "then_mems"),
           "mode": _text_field(q, "mode", required=True), "flags": _flags_list(q.get("flags")),
           "scope": _text_field(q, "scope", default="task"),
           "cpu_node": _int_field(q, "cpu_node", 0, (1 << 31) - 1),
           "pages": _int_field(q, "pages", 0, MAX_PAGES, default=16),
           "home_node": _int_field(q, "home_node", 0, (1 << 31) - 1),
           "inode": _int_field(q, "inode", 0, (1 << 64) - 1),
           "order": _int_field(q, "order", 0, 63, default=0),
           "weights": _node_values(q, "weights"), "bandwidth": _node_values(q, "bandwidth")}
    if not out["topology"]:
        raise _bad("topology", "empty")
    if out["scope"] not in ("task", "vma", "shm"):
        raise _bad("scope", "must be task, vma or shm")
    nodes = q.get("nodes")
    if isinstance(nodes, list):
        if len(nodes) > MAX_LIST:
            raise _bad("nodes", f"list of {len(nodes)} node ids; the limit is {MAX_LIST}")
        for i, x in enumerate(nodes):
            if not isinstance(x, int) or isinstance(x, bool):
                raise _bad(f"nodes[{i}]", f"a node id must be an integer, not {_kind(x)}")
            if x < 0:
                raise _bad(f"nodes[{i}]", f"node id {x} is negative")
    elif nodes is not None and not isinstance(nodes, str):
        raise _bad("nodes", f"must be a node list string such as \"0-1,3\" or a list of node ids, not {_kind(nodes)}")
    elif isinstance(nodes, str) and len(nodes) > MAX_TEXT:
        raise _bad("nodes", f"string of {len(nodes)} characters; the limit is {MAX_TEXT}")
    out["nodes"] = nodes
    steps = len(out["then_mems"])
    if steps > MAX_STEPS:
        raise _bad("then_mems", f"{steps} cpuset.mems writes; the limit is {MAX_STEPS}")
    if steps and out["mems"] is None:
        raise _bad("then_mems", "needs mems (the task must be in a child cpuset)")
    s = steps + 1
    records = out["pages"] * s * (s + 1) // 2
    if records > MAX_PAGE_RECORDS:
        raise _bad("pages", f"{out['pages']} pages over {s} steps make {records} page placements (each "
                            f"step reports the pages of the earlier ones again); the limit is "
                            f"{MAX_PAGE_RECORDS}: give fewer pages or fewer then_mems")
    return out


def _node_values(q, key):
    """``weights``/``bandwidth``: null, a ``"0=5,1=2"`` string, or an object of node id strings to
    integers (checked here for types; numalab.mempolicy checks the values against the kernel)."""
    v = q.get(key)
    if v is None or isinstance(v, str):
        return _text_field(q, key)
    if not isinstance(v, dict):
        raise _bad(key, f"must be a string like 0=5,1=2 or an object, not {_kind(v)}")
    if len(v) > MAX_LIST:
        raise _bad(key, f"{len(v)} entries; the limit is {MAX_LIST}")
    for n, x in v.items():
        if not (n.isascii() and n.isdigit()) or len(n) > 10:
            raise _bad(key, f"node id {n[:20]!r} is not a decimal node id")
        if not isinstance(x, int) or isinstance(x, bool):
            raise _bad(f"{key}[{n}]", f"must be an integer, not {_kind(x)}")
        if not 0 <= x < 1 << 63:
            raise _bad(f"{key}[{n}]", f"{x} is out of range")
    return v


def _canon(v):
    """A hashable form of a weights/bandwidth value (for grouping lines)."""
    import json
    return json.dumps(v, sort_keys=True) if isinstance(v, dict) else v


def _flags_list(value, where="flags"):
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise _bad(where, f"must be a list of flag names, not {_kind(value)}")
    out = []
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise _bad(f"{where}[{i}]", f"a flag name is a string, not {_kind(v)}")
        out += [p.strip() for p in v[:MAX_TEXT].replace("|", ",").split(",") if p.strip()]
    return out


#: Topologies and zonelists a batch keeps loaded (the least recently used go first: a batch
#: naming 100k different files must not hold them all; a 1024-node zonelist is ~70 MB).
MAX_CACHED_TOPOLOGIES = 64
MAX_CACHED_ZONELISTS = 8


def _remember(cache, key, value, limit):
    cache[key] = value
    while len(cache) > limit:
        cache.pop(next(iter(cache)))   # dicts keep insertion order: the oldest entry
    return value


class _Context:
    """What a batch loads once: topologies and zonelists (failures too, so that a bad
    topology named on 100k lines is tried once)."""

    def __init__(self, topo_cache=None, zl_cache=None):
        self.topo = {} if topo_cache is None else topo_cache
        self.zl = {} if zl_cache is None else zl_cache
        self.checked: set = set()

    def topology(self, spec):
        if spec in self.topo:
            self.topo[spec] = self.topo.pop(spec)  # most recently used
        else:
            from .. import sources
            try:
                got = sources.load(spec)
            except NumalabError as e:
                got = e
            _remember(self.topo, spec, got, MAX_CACHED_TOPOLOGIES)
        got = self.topo[spec]
        if isinstance(got, NumalabError):
            e = NumalabError(got.problem, errno=got.errno, input=got.input, position=got.position)
            e.field = "topology"
            raise e
        return got

    def zonelists(self, topo, spec, label):
        from .. import zonelist
        key = (spec, label)
        if key in self.zl:
            self.zl[key] = self.zl.pop(key)  # most recently used
            return self.zl[key]
        return _remember(self.zl, key, zonelist.build(topo, label, "boot"), MAX_CACHED_ZONELISTS)


def _as(field, fn, *a, **kw):
    """Call ``fn``; a NumalabError it raises is re-raised naming ``field``."""
    try:
        return fn(*a, **kw)
    except NumalabError as e:
        if getattr(e, "field", None) is None:
            e.field = field
        raise


def _prepare(q, ctx):
    """Check one query fully against its topology and kernel; return ``(group key, case)``."""
    from .. import mempolicy as mp
    from ..alloc import parse_user_nodes
    from ..cpuset import parse_nodes
    from ..kernel import profile

    c = check_query(q)
    k = _as("kernel", profile, c["kernel"])
    topo = ctx.topology(c["topology"])
    nbits = topo.max_numnodes
    seen = ctx.checked  # texts already checked for this MAX_NUMNODES (the same text, the same answer)
    if len(seen) > 1 << 16:
        seen.clear()
    if c["mems"] is not None and (nbits, c["mems"]) not in seen:
        _as("mems", parse_nodes, c["mems"], nbits, where="mems")
        seen.add((nbits, c["mems"]))
    for i, m in enumerate(c["then_mems"]):
        if (nbits, m) not in seen:
            _as(f"then_mems[{i}]", parse_nodes, m, nbits, where="then_mems")
            seen.add((nbits, m))
    if c["cpu_node"] is not None:
        _as("cpu_node", topo.index_of, c["cpu_node"])
    _as("mode", mp.mode_value, c["mode"])
    _as("flags", mp.flag_bits, c["flags"])
    if not (isinstance(c["nodes"], str) and ("nodes", nbits, c["nodes"]) in seen):
        _as("nodes", parse_user_nodes, c["nodes"], topo)   # depends on MAX_NUMNODES only
        if isinstance(c["nodes"], str):
            seen.add(("nodes", nbits, c["nodes"]))
    key = (c["topology"], k.label, c["mems"], tuple(c["then_mems"]), c["scope"], c["cpu_node"], c["pages"],
           c["home_node"], c["inode"], c["order"], _canon(c["weights"]), _canon(c["bandwidth"]))
    return key, (c["mode"], c["flags"], c["nodes"])


def _run_group(ctx, key, cases) -> list:
    """Run cases that share a topology, kernel, cpuset writes, scope, CPU node and page count."""
    from ..alloc import run_scenarios

    import json

    spec, label, mems, then_mems, scope, cpu_node, pages, home_node, inode, order, weights, bandwidth = key
    weights, bandwidth = [json.loads(v) if isinstance(v, str) and v.startswith("{") else v
                          for v in (weights, bandwidth)]
    topo = ctx.topology(spec)
    zl = _as("kernel", ctx.zonelists, topo, spec, label)
    try:
        b = run_scenarios(topo, label, cases, mems=mems, then_mems=list(then_mems), scope=scope,
                          cpu_node=cpu_node, pages=pages, zonelists=zl, home_node=home_node, inode=inode,
                          order=order, weight_writes=weights, bandwidth=bandwidth)
    except NumalabError as e:  # a cpuset write the kernel refuses: name the field it came from
        if getattr(e, "field", None) is None:
            e.field = ("mems" if mems is not None and e.input == mems else
                       next((f"then_mems[{i}]" for i, m in enumerate(then_mems) if e.input == m), None))
        raise
    return [_row_doc(b, i, topo, scope) for i in range(len(cases))]


def _row_doc(b, i, topo, scope) -> dict:
    """Case ``i`` of :func:`numalab.alloc.run_scenarios` as the documented result (:func:`document`)."""
    from ..alloc import scenario_at
    from ..viz.text import scenario_document

    return scenario_document(scenario_at(b, i, topo.name, scope))


def document(sc) -> dict:
    """The result document of a :class:`numalab.alloc.Scenario` (:func:`numalab.viz.text.scenario_document`)."""
    from ..viz.text import scenario_document

    return scenario_document(sc)


def run_query(q: dict, *, topo_cache=None, zl_cache=None) -> dict:
    """Run one query (keys and types as in the batch format) and return the result document."""
    ctx = _Context(topo_cache, zl_cache)
    key, case = _prepare(q, ctx)
    return _run_group(ctx, key, [case])[0]


def _error_doc(n, e) -> dict:
    field = getattr(e, "field", None)
    if isinstance(e, NumalabError):
        msg = str(e)
    elif isinstance(e, RuntimeWarning):
        msg = f"numeric problem ({e}): a value is out of range"
    elif type(e) is ValueError and "integer string conversion" in str(e):
        msg = "a number has more than 4300 digits (Python's int conversion limit)"
    elif isinstance(e, (MemoryError, RecursionError)):
        msg = f"{type(e).__name__}: the query is too large"
    else:  # a bug: this line gets the error, the batch goes on
        msg = f"internal error: {type(e).__name__}: {e}"
    return {"error": f"line {n}: {msg}", "line": n, "field": field, "steps": []}


#: Yielded by the line reader when the input has nothing more to read right now (a person
#: typing, or a script that waits for each answer): what was read is answered and flushed.
_PAUSE = object()
#: Yielded for a line longer than MAX_LINE_BYTES (its bytes are dropped as they arrive).
_TOO_LONG = object()


def _fd_lines(fd):
    """Lines of a file descriptor, read in 64 KiB pieces with the line cap, and :data:`_PAUSE`
    whenever no more input is ready (``select`` with a zero timeout; a regular file is always
    ready, so a file is read in full chunks)."""
    import os
    import select

    buf = bytearray()
    skipping = False
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            if buf and not skipping:
                yield bytes(buf)
            return
        buf += data
        while True:
            i = buf.find(b"\n")
            if skipping:
                if i < 0:
                    buf.clear()
                    break
                del buf[:i + 1]
                skipping = False
                continue
            if i < 0:
                if len(buf) > MAX_LINE_BYTES:   # no newline within the cap: drop, keep skipping
                    yield _TOO_LONG
                    buf.clear()
                    skipping = True
                break
            line = bytes(buf[:i + 1])
            del buf[:i + 1]
            yield _TOO_LONG if len(line) > MAX_LINE_BYTES + 1 else line
        try:
            ready = select.select([fd], [], [], 0)[0]
        except (OSError, ValueError):
            ready = [fd]
        if not ready:
            yield _PAUSE


def _read_lines(source):
    """``(line number, query or exception)`` for each line of ``source`` (and ``(None, _PAUSE)``
    when the input pauses): a binary stream with a file descriptor, any stream with
    ``readline``, or an iterable of ``str``/``bytes`` lines. Lines are read with a cap (the rest
    of a longer line is skipped in bounded pieces), decoded as UTF-8 and parsed by the strict
    reader."""
    import io

    from .._io import read_json

    readline = getattr(source, "readline", None)
    try:
        fd = source.fileno() if isinstance(source, io.BufferedIOBase) or hasattr(source, "raw") else None
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = None

    def raw():
        if fd is not None:
            yield from _fd_lines(fd)
            return
        if readline is None:
            yield from source
            return
        while True:
            line = readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n" if isinstance(line, bytes) else "\n"):
                while True:  # skip the rest of the over-long line without holding it
                    more = readline(1 << 16)
                    if not more or more.endswith(b"\n" if isinstance(more, bytes) else "\n"):
                        break
            yield line

    n = 0
    for line in raw():
        if line is _PAUSE:
            yield None, _PAUSE
            continue
        n += 1
        if line is _TOO_LONG or len(line) > MAX_LINE_BYTES + 1 or (
                len(line) > MAX_LINE_BYTES and not line.endswith(b"\n" if isinstance(line, bytes) else "\n")):
            yield n, _bad(None, f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield n, _bad(None, f"not UTF-8 text (byte {e.start})")
                continue
        if not line.strip(" \t\r\n"):   # blank: JSON's own whitespace only
            continue
        try:
            yield n, read_json(line, where=f"line {n}", max_bytes=MAX_LINE_BYTES + 1, max_depth=MAX_LINE_DEPTH)
        except NumalabError as e:
            yield n, NumalabError(e.problem)


def _chunks(items):
    """Lists of up to CHUNK ``(n, query)`` items, cut early where the input pauses; each with
    a flag saying whether the output should be flushed after it."""
    chunk = []
    for n, q in items:
        if q is _PAUSE:
            if chunk:
                yield chunk, True
                chunk = []
            continue
        chunk.append((n, q))
        if len(chunk) >= CHUNK:
            yield chunk, False
            chunk = []
    if chunk:
        yield chunk, False


def _progress(done, stream):
    try:
        stream.write(f"\rnumalab policy: {done} lines")
        stream.flush()
    except (OSError, ValueError):
        pass


def run_batch(lines, out, *, progress=None) -> int:
    """Answer JSON-lines queries, one result line each, in order (bad lines get an error object).

    Returns the exit status: 0 when every line was answered, 1 when some line got an error
    object. ``progress`` is a stream for a progress count (e.g. stderr on a terminal).
    """
    from . import emit_json

    ctx = _Context()
    bad, first_bad, done = 0, None, 0
    for chunk, pause in _chunks(_read_lines(lines)):
        results: dict = {}
        groups: dict = {}
        for n, q in chunk:
            try:
                if isinstance(q, Exception):
                    raise q
                key, case = _prepare(q, ctx)
                groups.setdefault(key, []).append((n, case))
            except Exception as e:  # the batch survives any line
                results[n] = _error_doc(n, e)
        for key, items in groups.items():
            try:
                docs = _run_group(ctx, key, [c for _, c in items])
            except Exception:
                docs = None
            if docs is None:  # one line's problem: run them one by one to tell which
                docs = []
                for n, c in items:
                    try:
                        docs.append(_run_group(ctx, key, [c])[0])
                    except Exception as e:
                        docs.append(_error_doc(n, e))
            for (n, _), d in zip(items, docs):
                results[n] = d
        for n, _ in chunk:
            res = results[n]
            if "line" in res:
                bad += 1
                first_bad = first_bad or res["error"]
            else:
                res["line"] = n
            emit_json(res, out)
        if pause:
            out.flush()   # someone waits for these answers before sending more
        done += len(chunk)
        if progress is not None:
            _progress(done, progress)
    if progress is not None:
        try:
            progress.write("\r\x1b[K")
            progress.flush()
        except (OSError, ValueError):
            pass
    if bad:
        from . import say
        from .._io import excerpt
        say(f"numalab: warning: {bad} of {done} lines got an error object (first: {excerpt(first_bad, 200)})")
        return 1
    return 0


def _text(doc) -> str:
    from .._io import escape_text

    out = [f"# {escape_text(doc['topology'])}: kernel {doc['kernel']}, {doc['scope']} policy {doc['mode']}"
           f"{' (' + '|'.join(doc['flags']) + ')' if doc['flags'] else ''}, task on node {doc['cpu_node']}"]
    if doc["error"]:
        out.append(f"the kernel refuses the policy: {doc['error']} (the task keeps the default policy)")
    home = doc.get("home_node")
    if home:
        if home["error"]:
            out.append(f"set_mempolicy_home_node({home['node']}) fails: {home['error']}")
        else:
            out.append(f"home node {home['node']}: pages start at node {home['node']}'s zonelist")
    shm = doc.get("shm")
    if shm:
        how = "default; " if shm["inode_default"] else ""
        out.append(f"shm inode number {shm['inode']} ({how}page index + inode number picks the interleave "
                   f"node; a real segment's inode number is not predictable from outside, so neither is "
                   f"the node of its first page){', page order ' + str(shm['order']) if shm['order'] else ''}")
    if doc["mode"] == "WEIGHTED_INTERLEAVE" and doc.get("weights"):
        w = doc["weights"]
        vals = ",".join(f"{n}={v}" for n, v in w["values"].items())
        out.append(f"interleave weights {vals} ({w['source']})")
    for i, s in enumerate(doc["steps"]):
        out.append(f"step {i}: cpuset.mems {s['mems'] if s['mems'] is not None else '(root)'} "
                   f"effective {s['effective']} mems_allowed {s['mems_allowed']}")
        if s.get("transient_nodes") is not None:
            out.append(f"  during the two-step rebind: nodes {s['transient_nodes']}")
        out.append(f"  policy nodes {s['nodes'] or '-'}; get_mempolicy: {s['reported_mode']}"
                   f"{'|' + '|'.join(s['reported_flags']) if s['reported_flags'] else ''} "
                   f"{s['reported_nodes'] or '(empty)'}")
        out.append(f"  eligible {' '.join(map(str, s['eligible'])) or '(none)'}; "
                   f"new pages {''.join(str(x) if 0 <= x < 10 else f'[{x}]' for x in s['placement'])}")
        for j, o in enumerate(s["old_pages"]):
            out.append(f"  pages of step {j} now on {''.join(str(x) if 0 <= x < 10 else f'[{x}]' for x in o)}")
    return "\n".join(out)


def run(args) -> int:
    from . import emit_json

    if args.batch:
        if args.topo or args.mems or args.mode or args.nodes or args.then_mems or args.flags:
            raise NumalabError("--batch takes every option from the file; give no TOPO or case options",
                               input="--batch")
        progress = sys.stderr if sys.stderr is not None and sys.stderr.isatty() else None
        if args.batch == "-":
            if sys.stdin is None:
                raise NumalabError("stdin is closed", input="--batch -")
            return run_batch(getattr(sys.stdin, "buffer", sys.stdin), sys.stdout, progress=progress)
        import os
        import stat

        try:
            fd = os.open(args.batch, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO with no writer must not hang
        except OSError as e:
            raise NumalabError(f"cannot read: {e.strerror}", input=args.batch) from None
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise NumalabError("is a directory, not a file of JSON lines", input=args.batch)
            os.set_blocking(fd, True)
            f = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        with f:
            return run_batch(f, sys.stdout, progress=progress)
    if not args.topo:
        raise NumalabError("give TOPO (or --batch FILE)", input="numalab policy")
    if not args.mode:
        raise NumalabError("give --mode", input="numalab policy")
    doc = run_query({"topology": args.topo, "kernel": args.kernel, "mems": args.mems,
                     "then_mems": args.then_mems, "mode": args.mode, "flags": _flags_list(args.flags),
                     "nodes": args.nodes, "scope": args.scope, "cpu_node": args.cpu_node, "pages": args.pages,
                     "home_node": args.home_node, "inode": args.inode, "order": args.order,
                     "weights": args.weights, "bandwidth": args.bandwidth})
    if args.json:
        emit_json(doc)
    else:
        print(_text(doc))
    return 0
