"""Every version variant of numalab.kernel.VARIANTS changes an output of numalab at its window edges.

``PROBES`` maps a variant name to a callable ``probe(version) -> hashable`` that runs numalab (the
API the CLI commands call, or the CLI itself) on a fixed input. For every edge of the variant's
window (``since - 1`` vs ``since``; ``until - 1`` vs ``until``; "minus 1" is the previous
release, 4.20 before 5.0 and 5.19 before 6.0) the probe's output must differ: a variant that
nothing reads fails here. Edges outside the modelled range (4.10 .. 6.18) have no "before".

The race-model variants are probed in tests/test_race.py (the race issue drives them); they are
listed in ``RACE_VARIANTS`` and must not also be probed here.

Where a probe's inputs come from a worked example, the expected outputs on both sides are
hand-computed in the comment (the other tests check values; this one checks the edges).
"""
import numpy as np
import pytest

from numalab import alloc, cpuset, kernel, mempolicy as mp, nodemask as nm, zonelist as zlm
from numalab.cli import main
from numalab.errors import NumalabError
from numalab.topology import Topology
from numalab.viz.text import boot_log_lines, explain

RACE_VARIANTS = {"check_retry_cpuset", "retry_cpuset_each_loop", "seqcount_always", "il_prev"}
ZONES = ("DMA", "DMA32", "Normal", "Movable", "Device")
NB = 64


def _topo(dist, zones=None, managed=None, cpus=None, online=None, name="t"):
    n = len(dist)
    present = np.zeros((n, 5), np.int64)
    for i, zs in enumerate(zones or [["Normal"]] * n):
        for z in zs:
            present[i, ZONES.index(z)] = 1000
    cpus = list(range(n)) if cpus is None else cpus
    return Topology(name=name, node_ids=np.arange(n), distance=np.array(dist), cpu_ids=np.arange(len(cpus)),
                    cpu_node=np.array(cpus, np.int64), present_pages=present,
                    managed_pages=present if managed is None else managed, online=online)


def _flat(n):
    return [[10 if i == j else 20 for j in range(n)] for i in range(n)]


def _err(fn):
    """The errno (or 'ok') of a call: refusals are outputs too."""
    try:
        fn()
    except NumalabError as e:
        return e.errno or "error"
    return "ok"


# kernel-semantics.md 1.8 example B (2 sockets x 2 sub-NUMA nodes): node 3's order is 3 2 0 1
# with assignment (<= 5.15) and 3 2 1 0 with accumulation (5.16+).
EXAMPLE_B = _topo([[10, 11, 21, 21], [11, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]])
# Example F, computed by hand with the rules of kernel-semantics.md 1.4/1.5 (all nodes with CPUs,
# nodes built 0..3, node_load reset once): distances below. With accumulation (5.16..5.18,
# load 4,3,2,1) node_load is [0,1,3,2] after node 0, [0,1,5,5] after node 1, [3,2,5,7] after
# node 2, so node 3 (all candidates at 30+1+1) picks node 1 (load 2) then 0 then 2: 3 1 0 2.
# With +1 per group start (5.19+) node_load is [1,2,2,3] before node 3: 3 0 1 2.
EXAMPLE_F = _topo([[10, 40, 20, 30], [40, 10, 40, 30], [20, 40, 10, 30], [30, 30, 30, 10]])
# Example D: node 1 memoryless, flat 20: node 1's order is 1 2 0 before 6.7, 2 0 from 6.7.
EXAMPLE_D = _topo(_flat(3), zones=[["Normal"], [], ["Normal"]])


def order_b(v):
    return tuple(zlm.build(EXAMPLE_B, v).fallback_order(3))


def order_f(v):
    return tuple(zlm.build(EXAMPLE_F, v).fallback_order(3))


def node_load(v):
    return order_b(v), order_f(v)


def explained_values(v):
    """``numalab zonelists --explain``'s value column for node 0 of example A (4 nodes, flat 20).

    The value find_next_best_node compares is penalised distance * scale + node_load, with scale
    nr_online_nodes * MAX_NUMNODES before 5.19 and MAX_NUMNODES from 5.19: the orders do not
    change (node_load never reaches either scale), the explained values do.
    """
    return tuple(int(x) for x in explain(zlm.build(_topo(_flat(4)), v), 0)["value"].tolist()[1:])


def zones_qualify(v):
    # node 1's Normal zone has present pages but none managed (all ballooned out)
    managed = np.zeros((2, 5), np.int64)
    managed[0, 2] = 1000
    t = _topo(_flat(2), managed=managed)
    return tuple(zlm.build(t, v).zonelist(0))


def possible_nodes(v):
    pages = np.zeros((3, 5), np.int64)
    pages[:2, 2] = 1000
    t = _topo(_flat(3), cpus=[0, 1], managed=pages, online=[True, True, False]).replace(present_pages=pages)
    return tuple(zlm.build(t, v).built.tolist())


def memoryless_local(v):
    return tuple(zlm.build(EXAMPLE_D, v).fallback_order(1))


def zone_order(v):
    return _err(lambda: zlm.build(EXAMPLE_B, v, zonelist_order="zone"))


def boot_log(v):
    return tuple(boot_log_lines(zlm.build(EXAMPLE_B, v))[:1])


def parse(text):
    return lambda v: _err(lambda: nm.parselist(text, 8, kernel=v))


def create_errno(mode, flags, user=(0, 1), call="set_mempolicy"):
    def probe(v):
        b = mp.create([mode], [mp.flag_bits(flags)], mp.from_nodes([list(user)], NB), mp.from_nodes([0, 1], NB),
                      v, call=call)
        return b.errno_names()[0]
    return probe


def local_report(v):
    b = mp.create(["LOCAL"], [0], mp.from_nodes([[]], NB), mp.from_nodes([0, 1], NB), v)
    return int(mp.report(b, 2)[0][0])


def rebind_two_step(v):
    b = mp.create(["BIND"], [0], mp.from_nodes([[0]], NB), mp.from_nodes([0, 1], NB), v)
    return tuple(label for label, _ in mp.rebind_steps(b, mp.from_nodes([2, 3], NB), v, scope="task"))


def stored_result(v):
    # tests/test_mempolicy.py: {3} in 0-3, cpuset 0-5 then 4-9: fixed kernels give {7}, the bug {4}
    b = mp.create(["INTERLEAVE"], [0], mp.from_nodes([[3]], NB), mp.from_nodes([0, 1, 2, 3], NB), v)
    b = mp.rebind(b, mp.from_nodes(list(range(6)), NB), v)
    return tuple(mp.to_nodes(mp.rebind(b, mp.from_nodes(list(range(4, 10)), NB), v).nodes[0], NB))


def preferred_rebind(v):
    b = mp.create(["PREFERRED"], [0], mp.from_nodes([[3]], NB), mp.from_nodes([0, 1, 2, 3], NB), v)
    return tuple(mp.to_nodes(mp.rebind(b, mp.from_nodes([0, 1], NB), v).nodes[0], NB))


def oom_other_thread(v):
    t = cpuset.CpusetTree(_topo(_flat(4)), "v2", v)
    t.create("/a", mems="1", populated=True)
    return tuple(r["allowed"] for r in cpuset.node_allowed_table(t, "/a") if r["oom_victim"] and not r["tif_memdie"])


def movable_only_cpuset(v):
    # node 0: Normal memory and the CPUs; node 1: ZONE_MOVABLE only; the task's cpuset: node 1
    t = _topo([[10, 20], [20, 10]], zones=[["Normal"], ["Movable"]], cpus=[0, 0], name="movable")
    r = alloc.cpuset_allocations(t, v, mems="1", gfps=("GFP_HIGHUSER",))
    return r["allocations"][0]["outcome"], tuple(r["log"])


def interrupt_fast_path(v):
    # flat 2 nodes, a task in cpuset {1} interrupted on node 0: before v5.9 the interrupt's fast path
    # keeps to the interrupted task's mems (node 1 only), from v5.9 it may take node 0 first
    from numalab import candidates as cd, cgsets
    t = _topo(_flat(2))
    cs = cgsets.Cpusets(t, ("/a",), np.array([[0, 1]], bool), np.ones((1, 2), bool), np.array([-1]),
                        np.array([[1, 1]], bool), np.array([1]))
    zl = zlm.build(t, v)
    c = cd.today(zl, cd.requests(cs, [dict(cpuset="/a", cpu=0, gfp="GFP_ATOMIC", context="interrupt")]))
    return tuple(cd.decode(zl, c.fast[0]))


def v2_mems_migration(v):
    # two-node, pages placed on node 0, then cpuset.mems 0 -> 1 (cgroup v2): from 5.15 they move
    from numalab import sources
    r = alloc.run_scenario(sources.load("two-node"), v, mode="default", mems="0", then_mems=["1"], pages=2)
    return tuple(r.steps[1].old_pages[0].tolist())


CXL4 = None


def _cxl4():
    global CXL4
    if CXL4 is None:
        from numalab import sources
        CXL4 = sources.load("cxl4")
    return CXL4


def home_node(v):
    # BIND 0-3 on an mbind()ed mapping, task on node 0, home node 2: from 5.17 pages start at 2
    r = alloc.run_scenario(_cxl4(), v, mode="bind", nodes="0-3", scope="vma", pages=2, home_node=2)
    return r.home_node["error"], tuple(r.steps[0].placement.tolist())


def weights_auto(v):
    mem = np.array([True, True, False, False])
    auto = mp.interleave_weights(v, 4, mem, bandwidth={0: 300, 1: 100})
    zero = _err(lambda: mp.interleave_weights(v, 4, mem, written={0: 0}))
    return tuple(auto[0].tolist()), auto[1], zero


def shm_huge_index(v):
    # shmem THP (order 9) at file index 512 of inode 1000: (1000 + 512) >> 9 = 2 before 6.7,
    # 1000 + (512 >> 9) = 1001 from 6.7; on nodes 0-3 that is node 2 vs node 1
    r = alloc.run_scenario(_cxl4(), v, mode="interleave", nodes="0-3", scope="shm", pages=1, pgoff=1,
                           inode=1000, order=9)
    return tuple(r.steps[0].placement.tolist())


def kernel_cli(name):
    """Whether ``numalab kernel V --json`` says the variant applies (used with another probe only)."""
    import contextlib
    import io
    import json

    def probe(v):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["kernel", v, "--json"]) == 0
        return {r["variant"]: r["active"] for r in json.loads(buf.getvalue())["variants"]}[name]
    return probe


PROBES = {
    "node_load_assign": order_b,
    "node_load_accumulate": node_load,
    "node_load_increment": order_f,
    "load_scale_online": explained_values,
    "zones_managed": zones_qualify,
    "zones_populated": zones_qualify,
    "build_possible_nodes": possible_nodes,
    "skip_memoryless_local": memoryless_local,
    "zone_order_mode": zone_order,
    "print_fallback_order": boot_log,
    "parselist_n": parse("0-N"),
    "parselist_all": parse("all"),
    "oom_victim_tsk": oom_other_thread,
    "cpusets_insane_config": movable_only_cpuset,
    "flag_numa_balancing": create_errno("BIND", ["numa_balancing"]),
    "numa_balancing_mbind_checked": create_errno("INTERLEAVE", ["numa_balancing"], call="mbind"),
    "local_is_mode": local_report,
    "mode_preferred_many": create_errno("PREFERRED_MANY", []),
    "home_node": home_node,
    "mode_weighted_interleave": create_errno("WEIGHTED_INTERLEAVE", []),
    "numa_balancing_preferred_many": create_errno("PREFERRED_MANY", ["numa_balancing"]),
    "weighted_interleave_auto": weights_auto,
    "shmem_ilx_rework": shm_huge_index,
    "rebind_two_step": rebind_two_step,
    "rebind_stores_result": stored_result,
    "preferred_not_remapped": preferred_rebind,
    "irq_mems_substitution": interrupt_fast_path,
    "cpuset_v2_migrate": v2_mems_migration,
}


def previous(version):
    """The release before ``version`` (4.20 before 5.0, 5.19 before 6.0); None below the range."""
    major, minor = version
    prev = (major, minor - 1) if minor else (major - 1, {4: 20, 5: 19}[major - 1])
    return None if prev < kernel.OLDEST else prev


def edges():
    for v in kernel.VARIANTS:
        if v.name in RACE_VARIANTS:
            continue
        for edge in (v.since, v.until):
            if edge is not None and previous(edge) is not None:
                yield v.name, previous(edge), edge


def test_every_variant_is_probed_here_or_by_the_race_model():
    names = {v.name for v in kernel.VARIANTS}
    unprobed = names - set(PROBES) - RACE_VARIANTS
    assert not unprobed, f"variants no output depends on (add a probe or remove them): {sorted(unprobed)}"
    assert not set(PROBES) & RACE_VARIANTS
    assert set(PROBES) <= names, f"probes for variants that do not exist: {sorted(set(PROBES) - names)}"


@pytest.mark.parametrize("name,before,at", list(edges()), ids=lambda x: x if isinstance(x, str) else "%d.%d" % x)
def test_probe_output_changes_at_the_window_edge(name, before, at):
    probe = PROBES[name]
    a, b = probe("%d.%d" % before), probe("%d.%d" % at)
    assert a != b, f"{name}: the output is the same in {before} and {at}: {a!r}"
    hash(a), hash(b)                      # probes return hashable outputs


@pytest.mark.parametrize("name,before,at", [e for e in edges() if e[0] in ("home_node", "parselist_all")])
def test_the_kernel_command_shows_the_same_edges(name, before, at):
    probe = kernel_cli(name)
    assert probe("%d.%d" % before) is False and probe("%d.%d" % at) is True


def test_previous_release():
    assert previous((5, 0)) == (4, 20) and previous((6, 0)) == (5, 19) and previous((5, 14)) == (5, 13)
    assert previous((4, 10)) is None


def test_hand_computed_examples():
    """The worked examples the probes use, against their hand-computed values."""
    assert order_b("5.15") == (3, 2, 0, 1) and order_b("5.16") == (3, 2, 1, 0)
    assert order_f("5.18") == (3, 1, 0, 2) and order_f("5.19") == (3, 0, 1, 2)
    assert memoryless_local("6.6") == (1, 2, 0) and memoryless_local("6.7") == (2, 0)
    assert stored_result("5.1") == (4,) and stored_result("5.2") == (7,)
    assert v2_mems_migration("5.14") == (0, 0) and v2_mems_migration("5.15") == (1, 1)
