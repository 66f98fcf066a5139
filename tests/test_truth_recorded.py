"""numalab's fallback orders against real Debian kernels booted under QEMU on more topologies.

Every directory under tests/data/kernel-truth/recorded/ is one boot of a real kernel (6.1.192 or
6.12.117) made by the retired first recorder (``numalab verify`` now records the same set-ups
into tests/data/verify): the guest's own sysfs node files and /proc/zoneinfo (so ``sources.load(directory)`` loads the guest as a snapshot), the
``Fallback order for Node N:`` lines the kernel printed (expected.json) and the numalab topology
the guest was booted from (topology.json). The expected data come from the kernel log only.
"""
import json
import pathlib

import pytest

from numalab import sources, zonelist
from numalab.reference import zonelist as ref
from numalab.viz.text import boot_log_lines

RECORDED = pathlib.Path(__file__).resolve().parent / "data" / "kernel-truth" / "recorded"
DIRS = sorted(p for p in RECORDED.iterdir() if (p / "expected.json").is_file()) if RECORDED.is_dir() else []


def expected(d):
    return json.loads((d / "expected.json").read_text())


def major_minor(version):
    """Major.minor of a full version ("6.1.192" -> "6.1"): the release numalab models."""
    major, minor = version.split(".")[:2]
    return f"{major}.{minor}"


def orders(zl):
    """Fallback order of every node whose zonelists were built, keyed like the kernel log."""
    t = zl.topology
    return {str(int(nid)): zl.fallback_order(int(nid)) for nid in t.node_ids[zl.built]}


def ids(d):
    return d.name


def test_recordings_exist():
    assert len(DIRS) >= 16
    kernels = {major_minor(expected(d)["kernel"]) for d in DIRS}
    assert kernels == {"6.1", "6.12"}


@pytest.mark.parametrize("d", DIRS, ids=ids)
def test_boot_fallback_order(d):
    """The first zonelist build, at boot, before any CPU is in its node's cpumask."""
    e = expected(d)
    zl = zonelist.build(sources.load(str(d)), kernel=major_minor(e["kernel"]), when="boot")
    assert orders(zl) == e["fallback_order_boot"]


@pytest.mark.parametrize("d", [d for d in DIRS if expected(d)["zonelist_builds"] > 1], ids=ids)
def test_rebuild_fallback_order(d):
    """The rebuild after memory was hot-added once every CPU was up."""
    e = expected(d)
    assert e["fallback_order_final"] != e["fallback_order_boot"]  # the recording is worth having
    zl = zonelist.build(sources.load(str(d)), kernel=major_minor(e["kernel"]), when="rebuild")
    assert orders(zl) == e["fallback_order_final"]


@pytest.mark.parametrize("d", DIRS, ids=ids)
def test_scalar_reference(d):
    """The plain-loop reference model (numalab.reference.zonelist) gives the kernel's orders too."""
    e = expected(d)
    t = sources.load(str(d))
    kernel = major_minor(e["kernel"])
    boot = ref.build_all_zonelists(t, kernel, "boot")["order"]
    assert {str(k): v for k, v in boot.items()} == e["fallback_order_boot"]
    if e["zonelist_builds"] > 1:
        final = ref.build_all_zonelists(t, kernel, "rebuild")["order"]
        assert {str(k): v for k, v in final.items()} == e["fallback_order_final"]


@pytest.mark.parametrize("d", DIRS, ids=ids)
def test_policy_zone(d):
    """``Policy zone:`` printed after the last build. zoneinfo was read at the end, so for a
    recording with hot-added memory it shows the zone the hot-add populated: compare that one
    with the rebuild."""
    e = expected(d)
    when = "rebuild" if e["zonelist_builds"] > 1 else "boot"
    zl = zonelist.build(sources.load(str(d)), kernel=major_minor(e["kernel"]), when=when)
    assert zl.policy_zone_name == e["policy_zone"][-1]


@pytest.mark.parametrize("d", DIRS, ids=ids)
def test_booted_topology_file_gives_the_same_orders(d):
    """Building from topology.json (what the guest was booted from, through ``numalab qemu-args``)
    gives the kernel's orders too, whenever Linux kept QEMU's node ids."""
    e = expected(d)
    if not e["guest_matches_topology"]:
        pytest.skip("the guest is not the machine of topology.json: " + "; ".join(e["guest_vs_topology"]))
    t = sources.load(str(d / "topology.json"))
    zl = zonelist.build(t, kernel=major_minor(e["kernel"]), when="boot")
    assert orders(zl) == e["fallback_order_boot"]


@pytest.mark.parametrize("d", DIRS, ids=ids)
def test_guest_snapshot_agrees_with_log(d):
    """The snapshot files and the log describe the same machine: every online node printed an
    order, each order lists only nodes with memory (plus the local node first on 6.1)."""
    e = expected(d)
    t = sources.load(str(d))
    on = {int(x) for x in t.node_ids[t.online]}
    mem = {int(x) for x in t.node_ids[t.has_memory]}
    assert on <= {int(k) for k in e["fallback_order_boot"]}
    for k, order in e["fallback_order_boot"].items():
        rest = order[1:] if order and order[0] == int(k) else order
        assert set(rest) <= mem and len(set(order)) == len(order)
        assert set(order) | {int(k)} >= mem


@pytest.mark.parametrize("d", DIRS, ids=ids)
def test_boot_log_lines(d):
    """numalab's rendering of the boot-time build prints the kernel's lines: every
    ``Fallback order for Node N:`` line (with its trailing space) and ``Built N zonelists`` with N
    = nr_online_nodes even when a possible, offline node got zonelists too. (The ``Total pages``
    figure is left out: the kernel computes it from boot-time estimates of managed pages that no
    snapshot holds.)"""
    e = expected(d)
    log = [ln.split("] ", 1)[-1] for ln in (d / "boot.log").read_text().splitlines()]
    first_built = next(i for i, ln in enumerate(log) if ln.startswith("Built "))
    want = [ln for ln in log[:first_built] if ln.startswith("Fallback order for Node ")]
    want.append(log[first_built].split("  Total pages:")[0])
    zl = zonelist.build(sources.load(str(d)), kernel=major_minor(e["kernel"]), when="boot")
    got = [ln for ln in boot_log_lines(zl) if ln.startswith("Fallback order for Node ")]
    got += [ln.split("  Total pages:")[0] for ln in boot_log_lines(zl) if ln.startswith("Built ")]
    assert got == want
