"""Hostile input at the loaders' edge (issue 10, the loader-side classes 1, 2, 4, 6-8, 10-14).

Every case ends in a Topology equal to what the honest input gives, or in one NumalabError line
naming the input and the problem; never a traceback, a hang, a leak of file content or a silent
wrong answer. The snapshots here are written by the tests themselves (hand-computed contents).
"""
import gzip
import io
import json
import os
import pathlib
import re
import signal
import tarfile
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from numalab import sources
from numalab.cli import main
from numalab.errors import NumalabError
from numalab.sources import common, generators, sysfs

NODE = "sys/devices/system/node"
SECRET = "PRIVATEKEYxq7Zr9Lw3Tm8Kd2Vn5Hs6Bj4"  # 34 characters: an excerpt (<= 16) cannot hold it

ZONEINFO = """Node 0, zone      DMA
  pages free     10
        present  3998
        managed  3840
Node 0, zone    DMA32
        present  1000
        managed  900
Node 0, zone   Normal
        present  0
        managed  0
Node 0, zone  Movable
        present  0
        managed  0
Node 0, zone   Device
        present  0
        managed  0
Node 1, zone      DMA
        present  0
        managed  0
Node 1, zone    DMA32
        present  0
        managed  0
Node 1, zone   Normal
        present  2000
        managed  1990
Node 1, zone  Movable
        present  0
        managed  0
Node 1, zone   Device
        present  0
        managed  0
"""


_DEFAULT = object()


def make_snap(root: pathlib.Path, meta=_DEFAULT) -> pathlib.Path:
    """A two-node snapshot: CPU 0 on node 0, CPU 1 on node 1, distance 21, zones as ZONEINFO."""
    files = {
        f"{NODE}/possible": "0-1\n", f"{NODE}/online": "0-1\n",
        f"{NODE}/node0/cpulist": "0\n", f"{NODE}/node1/cpulist": "1\n",
        f"{NODE}/node0/distance": "10 21\n", f"{NODE}/node1/distance": "21 10\n",
        "proc/zoneinfo": ZONEINFO,
        "numalab-snapshot.json": json.dumps(meta if meta is not _DEFAULT else
                                            {"format": "numalab-snapshot/1", "page_size": 4096,
                                             "nodes_shift": 10, "kernel": "6.1.0"}),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def check_expected(t):
    """The hand-computed facts of make_snap()."""
    assert t.node_ids.tolist() == [0, 1]
    assert t.distance.tolist() == [[10, 21], [21, 10]]
    assert t.cpu_ids.tolist() == [0, 1] and t.cpu_node.tolist() == [0, 1]
    assert t.present_pages.tolist() == [[3998, 1000, 0, 0, 0], [0, 0, 2000, 0, 0]]
    assert t.managed_pages.tolist() == [[3840, 900, 0, 0, 0], [0, 0, 1990, 0, 0]]


def one_line_error(fn, *args, match=None, **kw) -> NumalabError:
    with pytest.raises(NumalabError) as e:
        fn(*args, **kw)
    msg = str(e.value)
    assert "\n" not in msg and "\r" not in msg
    assert SECRET not in msg
    if match:
        assert re.search(match, msg), msg
    return e.value


@pytest.fixture
def snap(tmp_path):
    return make_snap(tmp_path / "snap")


@pytest.fixture
def no_hang():
    """Fail (instead of hanging the suite) if a read blocks for more than 20 s."""
    def boom(*_):
        raise AssertionError("the loader blocked")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_the_honest_snapshot_loads_as_hand_computed(snap):
    check_expected(sources.load(snap))


# ================================================================ 1. snapshot directories
def test_link_to_a_private_key_is_not_followed_nor_quoted(snap, tmp_path):
    key = tmp_path / "id_rsa"
    key.write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n")
    cl = snap / NODE / "node0" / "cpulist"
    cl.unlink()
    cl.symlink_to(key)
    e = one_line_error(sources.load, snap, match=r"node0/cpulist.*symbolic link")
    assert "BEGIN" not in str(e)


def test_linked_directories_inside_the_snapshot_are_not_followed(snap, tmp_path):
    other = make_snap(tmp_path / "other")
    node1 = snap / NODE / "node1"
    for f in node1.iterdir():
        f.unlink()
    node1.rmdir()
    node1.symlink_to(other / NODE / "node1")
    one_line_error(sources.load, snap, match=r"node1.*symbolic link")
    (snap / "proc" / "zoneinfo").unlink()
    (snap / "proc").rmdir()
    (snap / "proc").symlink_to(other / "proc")
    node1.unlink()
    node1.mkdir()
    (node1 / "cpulist").write_text("1\n")
    (node1 / "distance").write_text("21 10\n")
    one_line_error(sources.load, snap, match=r"proc.*symbolic link")


def test_dev_zero_behind_a_link_and_a_fifo_do_not_hang_or_fill_memory(snap, no_hang):
    cl = snap / NODE / "node0" / "cpulist"
    cl.unlink()
    cl.symlink_to("/dev/zero")
    one_line_error(sources.load, snap, match="symbolic link")
    cl.unlink()
    os.mkfifo(cl)  # no writer: a blocking open would hang here
    one_line_error(sources.load, snap, match=r"node0/cpulist.*FIFO, not a regular file")


def test_a_directory_where_a_file_belongs_is_refused(snap):
    d = snap / NODE / "node0" / "distance"
    d.unlink()
    d.mkdir()
    one_line_error(sources.load, snap, match=r"node0/distance.*directory")


def test_sysfs_files_are_read_with_a_size_cap(snap):
    (snap / NODE / "node0" / "cpulist").write_bytes(b"0," * (sysfs.MAX_SYSFS_BYTES // 2 + 1))
    one_line_error(sources.load, snap, match=r"node0/cpulist.*larger than")


def test_file_content_in_errors_is_a_short_escaped_excerpt(snap):
    (snap / NODE / "node0" / "cpulist").write_text(f"\x1b[2J{SECRET}\n")
    e = one_line_error(sources.load, snap, match="node0/cpulist")
    assert "\x1b" not in str(e)
    (snap / NODE / "node0" / "cpulist").write_text("0\n")
    (snap / NODE / "node0" / "distance").write_text(f"10 {SECRET}\n")
    one_line_error(sources.load, snap, match=r"node0/distance.*not a distance")


def test_excerpt_is_short_and_escaped():
    assert common.excerpt(SECRET) == repr(SECRET[:16]) + "..."
    assert common.excerpt("a\x1b\nb") == r"'a\x1b\nb'"
    assert common.excerpt("é" * 3) == r"'\xe9\xe9\xe9'"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rel=st.sampled_from([f"{NODE}/node0/cpulist", f"{NODE}/node1/distance", f"{NODE}/possible",
                            f"{NODE}/online", "proc/zoneinfo", "numalab-snapshot.json"]),
       junk=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_content_in_any_snapshot_file_is_a_topology_or_one_line(tmp_path_factory, rel, junk):
    """Property: random text (with a secret inside) in any file the reader takes."""
    root = make_snap(tmp_path_factory.mktemp("s") / "snap")
    (root / rel).write_text(junk + SECRET + junk)
    try:
        sources.load(root)
    except NumalabError as e:
        assert "\n" not in str(e) and SECRET not in str(e)


# ================================================================ 2, 14. tarballs
def _tar(members, mode="w:gz") -> bytes:
    """A tarball of (name, bytes or TarInfo-type) members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if isinstance(data, bytes):
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                info.type, info.linkname = data
                tf.addfile(info)
    return buf.getvalue()


def _snap_members(snap, top="snap"):
    return [(f"{top}/{p.relative_to(snap).as_posix()}", p.read_bytes())
            for p in sorted(snap.rglob("*")) if p.is_file()]


@pytest.mark.parametrize("mode,suffix", [("w", ".tar"), ("w:gz", ".tar.gz"), ("w:bz2", ".tar.bz2"),
                                         ("w:xz", ".tar.xz")])
def test_tarball_loads_as_hand_computed(snap, tmp_path, mode, suffix):
    p = tmp_path / f"x{suffix}"
    p.write_bytes(_tar(_snap_members(snap), mode))
    t = sources.load(p)
    check_expected(t)
    assert t.name == "x"


def test_a_member_declaring_gigabytes_is_refused_before_reading_it(snap, tmp_path):
    """What a 1.2 MB .tar.gz of zero-filled members did (1.4 GB of memory): the header's size is
    checked against the cap before a byte of the member is decompressed."""
    info = tarfile.TarInfo("snap/zeros")
    info.size = 8 << 30
    raw = info.tobuf() + bytes(1 << 20)  # the header, then the first MiB of the "8 GiB"
    p = tmp_path / "bomb.tar.gz"
    p.write_bytes(gzip.compress(raw))
    one_line_error(sources.load, p, match=r"bomb\.tar\.gz.*refused.*MiB")


def test_total_decompressed_bytes_are_capped(snap, tmp_path, monkeypatch):
    monkeypatch.setattr(sysfs, "MAX_TAR_BYTES", 1 << 20)
    members = [(f"snap/junk{i}", bytes(300_000)) for i in range(5)] + _snap_members(snap)
    p = tmp_path / "zeros.tar.gz"
    p.write_bytes(_tar(members))
    assert len(p.read_bytes()) < 20_000  # a small file that decompresses to 1.5 MB
    one_line_error(sources.load, p, match=r"zeros\.tar\.gz.*refused.*more than 1 MiB")


def test_member_count_is_capped(snap, tmp_path, monkeypatch):
    monkeypatch.setattr(sysfs, "MAX_TAR_MEMBERS", 20)
    p = tmp_path / "many.tar"
    p.write_bytes(_tar([(f"snap/x{i}", b"") for i in range(30)] + _snap_members(snap), "w"))
    one_line_error(sources.load, p, match=r"more than 20 members")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_truncated_or_corrupt_tarballs_are_one_line(tmp_path_factory, data):
    """Property: a gzip'd snapshot cut anywhere or with a byte changed loads exactly (gzip's CRC
    guards the content) or is one line."""
    root = make_snap(tmp_path_factory.mktemp("s") / "snap")
    blob = bytearray(_tar(_snap_members(root)))
    if data.draw(st.booleans()):
        blob = blob[:data.draw(st.integers(0, len(blob) - 1))]
    else:
        k = data.draw(st.integers(0, len(blob) - 1))
        blob[k] ^= data.draw(st.integers(1, 255))
    p = tmp_path_factory.mktemp("t") / "x.tar.gz"
    p.write_bytes(bytes(blob))
    try:
        t = sources.load(p)
    except NumalabError as e:
        assert "\n" not in str(e)
    else:
        check_expected(t)


def test_plain_tar_cut_at_a_member_boundary_is_truncated(snap, tmp_path):
    blob = _tar(_snap_members(snap), "w")
    p = tmp_path / "cut.tar"
    p.write_bytes(blob[:2048])
    one_line_error(sources.load, p, match=r"corrupt or truncated")


# ================================================================ 4. tar member names
def test_dotdot_member_does_not_replace_the_real_one(snap, tmp_path):
    members = _snap_members(snap) + [(f"../../{NODE}/node0/distance", b"10 99\n")]
    p = tmp_path / "evil.tar.gz"
    p.write_bytes(_tar(members))
    one_line_error(sources.load, p, match=r"'\.\.' component")


def test_absolute_member_is_refused(snap, tmp_path):
    p = tmp_path / "abs.tar"
    p.write_bytes(_tar([(f"/{NODE}/node0/distance", b"10 99\n")] + _snap_members(snap), "w"))
    with tarfile.open(p) as tf:  # tarfile itself keeps the leading slash when it reads
        assert tf.getnames()[0].startswith("/")
    one_line_error(sources.load, p, match=r"absolute name")


def test_duplicate_members_after_normalisation_are_ambiguous(snap, tmp_path):
    members = _snap_members(snap) + [(f"./snap//{NODE}/./node0/distance", b"10 99\n")]
    p = tmp_path / "dup.tar"
    p.write_bytes(_tar(members, "w"))
    one_line_error(sources.load, p, match=r"appears twice")


def test_two_snapshots_in_one_archive_are_ambiguous(snap, tmp_path):
    p = tmp_path / "two.tar"
    p.write_bytes(_tar(_snap_members(snap, "a") + _snap_members(snap, "b"), "w"))
    one_line_error(sources.load, p, match=r"ambiguous")


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_links_and_devices_where_a_snapshot_file_belongs_are_refused(snap, tmp_path, kind):
    members = [m for m in _snap_members(snap) if not m[0].endswith("node0/cpulist")]
    members.append((f"snap/{NODE}/node0/cpulist", (kind, "/etc/shadow")))
    p = tmp_path / "link.tar"
    p.write_bytes(_tar(members, "w"))
    one_line_error(sources.load, p, match=r"not a regular file")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from([".", "..", "", "snap", "x"]), max_size=4), lead=st.booleans())
def test_member_names_normalise_or_are_refused(tmp_path_factory, parts, lead):
    """Property: the distance of node 0 is moved under a random prefix; the result is the honest
    topology, or (prefix with '..', absolute, or a second copy/another top) one line; never the
    planted value 99."""
    root = make_snap(tmp_path_factory.mktemp("s") / "snap")
    prefix = ("/" if lead else "") + "/".join(parts)
    members = [m for m in _snap_members(root) if not m[0].endswith("node0/distance")]
    members.append((f"{prefix}/snap/{NODE}/node0/distance", b"10 99\n"))
    members.append((f"snap/{NODE}/node0/distance", b"10 21\n"))
    p = tmp_path_factory.mktemp("t") / "x.tar"
    p.write_bytes(_tar(members, "w"))
    try:
        t = sources.load(p)
    except NumalabError as e:
        assert "\n" not in str(e)
    else:
        assert 99 not in t.distance
        check_expected(t)


# ================================================================ 6, 7, 10, 11, 12. snapshot metadata
# The wording of sources.common.read_json_text, or of numalab._io.read_json once the coordinator
# points read_json_text at the shared strict reader: the tests hold for both.
FIT = "does not fit in 64 bits|is outside -9223372036854775808"
NESTED = r"nested deeper than|nested \d+ levels deep"


@pytest.mark.parametrize("meta,match", [
    ({"page_size": 3}, r"page_size.*outside 4096"),
    ({"page_size": 0}, r"page_size.*outside 4096"),
    ({"page_size": 12288}, "not a power of two"),
    ({"page_size": "4096"}, "must be an integer, not str"),
    ({"page_size": 4096.0}, "must be an integer, not float"),
    ({"nodes_shift": 99}, r"nodes_shift.*outside 0\.\.10"),
    ({"nodes_shift": True}, "not bool"),
    ({"kernel": 6.1}, "'kernel' must be a string"),
    ({"format": "other/1"}, "unknown format"),
    ([], "must be a JSON object, not list"),
    (None, "must be a JSON object, not null"),
])
def test_snapshot_metadata_is_validated_like_the_json_format(tmp_path, meta, match):
    root = make_snap(tmp_path / "snap", meta=meta)
    one_line_error(sources.load, root, match=r"numalab-snapshot\.json.*(?:" + match + ")")


@pytest.mark.parametrize("text,match", [
    ('{"page_size": NaN}', "NaN is not a JSON number"),
    ('{"x": Infinity}', "Infinity is not a JSON number"),
    ('{"x": 1e999}', "not finite|overflows a double"),
    ('{"x": ' + "9" * 5000 + "}", FIT),
    ('{"x": 18446744073709551616}', FIT),
    ('{"x": ' + "[" * 10000 + "]" * 10000 + "}", NESTED),
    ('{"x": 1, "x": 2}', "appears twice|given twice"),
])
def test_snapshot_metadata_numbers_and_nesting(tmp_path, text, match):
    root = make_snap(tmp_path / "snap")
    (root / "numalab-snapshot.json").write_text(text)
    one_line_error(sources.load, root, match=r"numalab-snapshot\.json.*(?:" + match + ")")


# ================================================================ 6, 10, 13. sysfs numbers
@pytest.mark.parametrize("rel,text,match", [
    (f"{NODE}/possible", "0-65535\n", r"possible.*node id 65535 is outside 0\.\.1023.*ERANGE"),
    (f"{NODE}/online", "0-4294967295\n", "online.*not a kernel list"),
    (f"{NODE}/node0/cpulist", "0-4294967295\n", "node0/cpulist.*not a kernel list"),
    (f"{NODE}/node0/cpulist", "9" * 5000 + "\n", "node0/cpulist.*32 bits"),
    (f"{NODE}/node0/cpulist", "70000\n", r"node0/cpulist.*ERANGE"),
    (f"{NODE}/node0/distance", "10 256\n", "not a distance"),
    (f"{NODE}/node0/distance", "10 " + "9" * 5000 + "\n", "not a distance"),
    (f"{NODE}/node0/distance", "10 true\n", "not a distance"),
])
def test_sysfs_numbers_are_bounded_before_use(snap, rel, text, match):
    (snap / rel).write_text(text)
    one_line_error(sources.load, snap, match=match)


def test_node_directory_beyond_max_numnodes_is_refused_before_the_table(snap):
    (snap / NODE / "node100000").mkdir()  # a 100001 x 100001 table would be 75 GiB
    one_line_error(sources.load, snap, match=r"node100000.*outside 0\.\.1023")
    (snap / NODE / "node100000").rmdir()
    (snap / NODE / ("node" + "9" * 200)).mkdir()
    one_line_error(sources.load, snap, match=r"node directory id has 200 digits")


@pytest.mark.parametrize("old,new,match", [
    ("present  2000\n        managed  1990", "present  99999999999999999999\n        managed  1", "ERANGE"),
    ("present  2000", "present  " + "9" * 5000, "present has 5000 digits"),
    # two zones each within the per-zone bound but over the machine's 2**52 bytes together: the
    # int64 sum stays positive and is refused, never a negative total with exit 0
    ("present  3998\n        managed  3840", f"present  {(1 << 40) - 1}\n        managed  1", "in all is more than"),
    ("Node 1, zone   Normal", "Node 1, zone   \x1b[31m", "not a kernel zone name"),
    ("Node 1, zone   Device", "Node 1, zone   Normal", "appears twice"),
])
def test_zoneinfo_sizes_within_what_a_64_bit_kernel_holds(snap, old, new, match):
    zi = snap / "proc" / "zoneinfo"
    text = zi.read_text()
    assert old in text
    if "in all" in match:
        text = text.replace("present  2000\n        managed  1990", f"present  {(1 << 40) - 1}\n        managed  1")
    zi.write_text(text.replace(old, new, 1))
    one_line_error(sources.load, snap, match=match)


def test_memtotal_beyond_the_address_space(snap):
    (snap / "proc" / "zoneinfo").unlink()
    (snap / NODE / "node0" / "meminfo").write_text(f"Node 0 MemTotal:       {1 << 50} kB\n")
    one_line_error(sources.load, snap, match=r"node0/meminfo.*MemTotal.*ERANGE")


# ================================================================ 6, 8, 10-13. the JSON format
BASE = {"name": "x", "nodes": [{"id": 0, "cpus": "0", "mem_mib": 64}, {"id": 1, "cpus": "1", "mem_mib": 64}],
        "distance": [[10, 20], [20, 10]]}


def _doc(**changes):
    d = json.loads(json.dumps(BASE))
    for k, v in changes.items():
        if k.startswith("node0_"):
            d["nodes"][0][k[6:]] = v
        else:
            d[k] = v
    return d


@pytest.mark.parametrize("doc,match", [
    (_doc(distance=[["10", "20"], ["20", "10"]]), r"distance \[0\]\[0\] must be an integer, not str"),
    (_doc(distance=[[True, 20], [20, True]]), "must be an integer, not bool"),
    (_doc(distance=[[10, 20.5], [20, 10]]), "not float"),
    (_doc(distance=[[10, 20]]), "not square"),
    (_doc(distance=[[10, 2 ** 62], [20, 10]]), "outside 0..255"),
    (_doc(states={"has_cpu": True}), "states.has_cpu must be a node list"),
    (_doc(states={"has_cpu": [True]}), "states.has_cpu must be a node list"),
    (_doc(node0_id=1.7), "'id' has the wrong type"),
    (_doc(node0_id=True), "'id' has the wrong type"),
    (_doc(node0_id=2 ** 62), r"node id 4611686018427387904 is outside 0\.\.1023"),
    (_doc(node0_cpus=[2 ** 40]), "CPU id 1099511627776 is beyond"),
    (_doc(node0_mem_mib=2 ** 62), "more than a 64-bit kernel can address"),
    (_doc(node0_zones={"Normal": {"present": 2 ** 62, "managed": 1}}), "64-bit kernel"),
    (_doc(node0_start_mib=2 ** 60), "start_mib"),
    (_doc(page_size=0), r"page_size.*outside 4096"),
    (_doc(page_size=3), r"page_size.*outside 4096"),
    (_doc(nodes_shift=11), r"nodes_shift.*outside 0\.\.10"),
    (_doc(meta=[1, 2]), "'meta' has the wrong type"),
    (_doc(meta="ab"), "'meta' has the wrong type"),
    (_doc(notes=5), "'notes' has the wrong type"),
    (_doc(notes=[1]), "'notes' must be a string or a list of strings"),
    (_doc(name=["x"]), "'name' has the wrong type"),
    (_doc(zone_types=list("ABCDEFG")), "at most 6"),
])
def test_json_types_and_ranges_are_strict(doc, match):
    one_line_error(sources.from_dict, doc, where="t.json", match=r"t\.json.*(?:" + match + ")")


def test_json_node_count_is_checked_before_the_table(tmp_path):
    doc = {"nodes": [{"id": i, "cpus": "", "mem_mib": 0} for i in range(2000)]}
    p = tmp_path / "big.json"
    p.write_text(json.dumps(doc))  # 2000 x 2000 would be allocated by a default table
    one_line_error(sources.load, p, match=r"2000 nodes, more than MAX_NUMNODES 1024")


@pytest.mark.parametrize("text,match", [
    ('{"nodes": [], "meta": {"x": NaN}}', "NaN"),
    ('{"nodes": [], "x": -Infinity}', "Infinity"),
    ('{"nodes": ' + "[" * 5000 + "]" * 5000 + "}", NESTED),
    ('{"nodes": [{"id": ' + "1" * 4301 + "}]}", FIT),
    (b'{"name": "\xff"}', "not UTF-8"),
])
def test_json_reader_refuses_what_json_loads_accepts_or_crashes_on(tmp_path, text, match):
    p = tmp_path / "t.json"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    one_line_error(sources.load, p, match=r"t\.json.*(?:" + match + ")")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from([("name",), ("distance",), ("distance", 0), ("distance", 0, 1), ("nodes", 0, "id"),
                             ("nodes", 0, "cpus"), ("nodes", 1, "mem_mib"), ("meta",), ("notes",), ("states",),
                             ("page_size",), ("nodes_shift",), ("zone_types",), ("nodes", 0), ("nodes",)]),
       value=_json_values)
def test_any_field_replaced_by_any_json_value_is_a_topology_or_one_line(path, value):
    """Property: any field of a valid document replaced by any JSON value."""
    doc = json.loads(json.dumps(BASE))
    cur = doc
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    try:
        text = json.dumps(doc)
    except ValueError:
        return
    try:
        t = sources.load(text)
    except NumalabError as e:
        assert "\n" not in str(e)
    else:
        assert t.distance.min() >= 0 and t.distance.max() <= 255
        assert (t.present_pages >= 0).all() and int(t.present_pages.sum()) * t.page_size <= common.MAX_PHYS_BYTES


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_strict_json_reader_never_raises_anything_else(data):
    try:
        common.read_json_text(data, "x")
    except NumalabError as e:
        assert "\n" not in str(e)


# ================================================================ 12. hwloc, numactl
HWLOC = """<?xml version="1.0" encoding="UTF-8"?>
<topology version="2.0">
 <object type="Machine" os_index="0" cpuset="0x00000003">
  <object type="NUMANode" os_index="0" cpuset="0x00000001" local_memory="{mem}"/>
  <object type="NUMANode" {idx} cpuset="0x00000002" local_memory="1073741824"/>
  <object type="PU" os_index="0" cpuset="0x00000001"/>
  <object type="PU" os_index="{pu}" cpuset="0x00000002"/>
 </object>
 <distances2 type="NUMANode" nbobjs="2" kind="5" indexing="os">
  <indexes length="3">0 1</indexes>
  <u64values length="12">{d}</u64values>
 </distances2>
</topology>
"""


def _hwloc(mem="1073741824", idx='os_index="1"', pu="1", d="10 21 21 10"):
    return HWLOC.format(mem=mem, idx=idx, pu=pu, d=d)


def test_hwloc_honest():
    t = sources.from_hwloc_xml(_hwloc(), where="h.xml")
    assert t.node_ids.tolist() == [0, 1] and t.distance.tolist() == [[10, 21], [21, 10]]
    assert t.present_pages.sum(axis=1).tolist() == [262144, 262144]


@pytest.mark.parametrize("kw,match", [
    ({"idx": ""}, "NUMANode attribute 'os_index' is missing"),
    ({"idx": 'os_index="one"'}, "'os_index' = 'one' is not a non-negative integer"),
    ({"idx": 'os_index="-1"'}, "not a non-negative integer"),
    ({"idx": 'os_index="5000"'}, r"above 1023.*ERANGE"),
    ({"pu": "9" * 5000}, "PU attribute 'os_index'"),
    ({"mem": "1e9"}, "local_memory"),
    ({"mem": str(1 << 60)}, "local_memory.*ERANGE"),
    ({"d": "10 21 21 x"}, "u64values"),
    ({"d": "10 21 21 " + "9" * 30}, "u64values"),
    ({"d": "10 21 21 99999999999999999999"}, "square table of integers"),
])
def test_hwloc_attributes_are_checked(kw, match):
    one_line_error(sources.from_hwloc_xml, _hwloc(**kw), where="h.xml", match=r"h\.xml.*" + match)


NUMACTL = "node 0 cpus: 0\nnode 0 size: 1024 MB\nnode 1 cpus: 1\nnode 1 size: 1024 MB\n"


@pytest.mark.parametrize("text,match", [
    (NUMACTL.replace("1024 MB\nnode 1", f"{1 << 40} MB\nnode 1"), "more than a 64-bit kernel"),
    (NUMACTL.replace("node 1 cpus", "node 99999 cpus").replace("node 1 size", "node 99999 size"), "outside 0..1023"),
    (NUMACTL.replace("node 1 cpus", "node " + "9" * 5000 + " cpus"), "unexpected line: 'node 9999999999..."),
    (NUMACTL + "node 0 cpus: 3\n", "two 'cpus:' lines"),
    (NUMACTL + f"junk {SECRET}\n", r"unexpected line: 'junk PRIVATEKEYx'\.\.\.$"),
])
def test_numactl_numbers_are_bounded(text, match):
    one_line_error(sources.from_numactl_hardware, text, where="n.txt", match=r"n\.txt.*" + match)


# ================================================================ 12, 13. generator calls
@pytest.mark.parametrize("call,match", [
    ("flat(nodes='4')", "nodes must be an integer"),
    ("flat(nodes=4.0)", "nodes must be an integer"),
    ("flat(nodes=100000)", r"nodes must be an integer >= 1 and <= 1024"),
    ("sockets(sockets=1000, nodes_per_socket=1000)", "1000000 nodes, more than MAX_NUMNODES"),
    ("mesh(rows=100, cols=100)", "10000 nodes"),
    ("cpu_plus_memory_tiers(cpu_nodes=100, memory_nodes_per_cpu_node=100)", "10100 nodes"),
    ("flat(nodes=2, cpus_per_node=100000)", "cpus_per_node must be an integer"),
    ("flat(nodes=1000, cpus_per_node=1000)", "1000000 CPUs"),
    ("flat(remote=1.7)", "remote must be an integer"),
    ("flat(remote='x')", "remote must be an integer"),
    ("ring(hop=10**30)", "literals"),
    ("ring(hop=" + "9" * 40 + ")", "hop must be an integer"),
    ("flat(nodes=" + "9" * 5000 + ")", "not a generator call"),
    ("flat(nodes=" + "[" * 300 + "]" * 300 + ")", "not a generator call|literals"),
    ("flat(mem_per_node=1e400)", "mem_per_node must be a size"),
    ("flat(mem_per_node='" + "9" * 30 + "')", "mem_per_node"),
    ("flat(mem_per_node='9000T')", "more than a 64-bit kernel"),
    ("flat(mem_per_node='90000000T')", "does not fit in 64 bits"),
    ("flat(mem_per_node=[1])", "mem_per_node must be a size"),
    ("cpu_plus_memory_tiers(movable='yes')", "movable must be True or False"),
    ("memoryless('flat(nodes=2)', nodes=[1.7])", "nodes must be a node id or a list"),
    ("memoryless('flat(nodes=2)', nodes='1')", "nodes must be a node id or a list"),
    ("flat(" + "x" * 9000 + ")", "longer than 8192"),
])
def test_generator_calls_with_bad_arguments(call, match):
    one_line_error(generators.from_call, call, match=match)
    one_line_error(sources.load, call, match=match)


def test_parse_size_is_exact_and_bounded():
    assert common.parse_size("9007199254740993") == 9007199254740993  # a float would give ...992
    assert common.parse_size("1.5K") == 1536
    one_line_error(common.parse_size, "9" * 5000, match="not a size")
    one_line_error(common.parse_size, "99999999999T", match="64 bits")


# ================================================================ 14. TOPO as a stream
def _writer(path_or_fd, data: bytes):
    def run():
        if isinstance(path_or_fd, int):
            os.write(path_or_fd, data)
            os.close(path_or_fd)
        else:
            with open(path_or_fd, "wb") as f:
                f.write(data)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


@pytest.mark.parametrize("kind", ["json", "tar.gz"])
def test_pipe_is_read_as_a_stream(snap, kind, no_hang):
    """What ``<(cat x.json)`` and ``/dev/stdin`` are: a pipe, which cannot seek."""
    data = sources.to_json(sources.load(snap)).encode() if kind == "json" else _tar(_snap_members(snap))
    r, w = os.pipe()
    th = _writer(w, data)
    try:
        t = sources.load(f"/dev/fd/{r}")
    finally:
        th.join()
        os.close(r)
    check_expected(t)


def test_fifo_with_a_writer_is_read(snap, tmp_path, no_hang):
    fifo = tmp_path / "topo"
    os.mkfifo(fifo)
    th = _writer(fifo, sources.to_json(sources.load(snap)).encode())
    check_expected(sources.load(fifo))
    th.join()


def test_fifo_without_a_writer_does_not_hang(tmp_path, monkeypatch, no_hang, capsys):
    monkeypatch.setattr(common, "STREAM_IDLE_SECONDS", 0.3)
    fifo = tmp_path / "nowriter"
    os.mkfifo(fifo)
    one_line_error(sources.load, fifo, match=r"nowriter.*no writer: nothing arrived within 0\.3 s")
    assert main(["topology", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("numalab: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_cli_prints_loader_errors_as_one_line(snap, tmp_path, capsys):
    (snap / NODE / "node0" / "cpulist").unlink()
    (snap / NODE / "node0" / "cpulist").symlink_to(tmp_path)
    assert main(["topology", str(snap)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("numalab: error: ") and err.count("\n") == 1 and "symbolic link" in err


def test_device_as_topo_is_refused():
    one_line_error(sources.load, "/dev/null", match="is a device")


def test_cgroup_files_that_are_fifos_or_links_are_not_read(tmp_path, no_hang):
    from numalab.sources.cgroup import read_cgroup_dirs
    job = tmp_path / "sys/fs/cgroup/job"
    job.mkdir(parents=True)
    os.mkfifo(job / "cpuset.mems")  # no writer: a blocking open would hang
    (tmp_path / "secret").write_text(SECRET)
    (job / "cpuset.mems.effective").symlink_to(tmp_path / "secret")
    dirs = read_cgroup_dirs(tmp_path)
    assert [(d.path, d.mems, d.effective) for d in dirs] == [("/", None, None), ("/job", None, None)]


_tokens = st.sampled_from(["0", "1", "10", "21", "255", "256", "-1", "1.7", "9" * 25, "9" * 5000, "x", "",
                           "\x1b[2J", "0-4294967295", "MB", "kB", "GB", "cpus:", "size:", "node", SECRET])


@settings(max_examples=150, deadline=None)
@given(k=st.integers(0, 10), line=st.lists(_tokens, max_size=6).map(" ".join))
def test_numactl_any_line_replaced_is_a_topology_or_one_line(k, line):
    """Property: one line of valid numactl --hardware output replaced by hostile tokens."""
    lines = (NUMACTL + "node distances:\nnode   0   1\n  0:  10  21\n  1:  21  10\n").splitlines()
    lines[k % len(lines)] = line
    try:
        t = sources.from_numactl_hardware("\n".join(lines), where="n.txt")
    except NumalabError as e:
        assert "\n" not in str(e) and SECRET not in str(e)
    else:
        assert t.node_ids.max() < 1024 and t.distance.max() <= 255


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(["mem", "idx", "pu", "d"]), value=st.lists(_tokens, max_size=4).map(" ".join))
def test_hwloc_any_attribute_is_a_topology_or_one_line(field, value):
    """Property: one attribute or value list of valid hwloc XML replaced by hostile tokens."""
    value = value.replace("\x1b", "")  # XML 1.0 cannot hold ESC at all (a parse error, also one line)
    kw = {field: f'os_index="{value}"' if field == "idx" else value}
    try:
        t = sources.from_hwloc_xml(_hwloc(**kw), where="h.xml")
    except NumalabError as e:
        assert "\n" not in str(e) and SECRET not in str(e)
    else:
        assert t.node_ids.max() < 1024 and t.distance.max() <= 255 and t.cpu_ids.max() < common.MAX_CPUS
