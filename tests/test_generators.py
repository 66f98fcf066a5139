"""Synthetic machines: hand-computed shapes, and the shapes of the real-kernel recordings."""
import pathlib

import numpy as np
import pytest

from numalab import generators as g, sources
from numalab.errors import NumalabError

ROOT = pathlib.Path(__file__).resolve().parent.parent
TRUTH = ROOT / "tests/data/kernel-truth/snapshots"   # the repository's own copy of the recordings


def test_flat():
    t = g.flat(nodes=3, cpus_per_node=2, mem_per_node="64M", remote=21)
    assert t.distance.tolist() == [[10, 21, 21], [21, 10, 21], [21, 21, 10]]
    assert t.cpus_of(1).tolist() == [2, 3]
    assert t.present_pages.sum(axis=1).tolist() == [16384] * 3


def test_sockets():
    t = g.sockets(sockets=2, nodes_per_socket=2, same_socket=11, other_socket=21)
    assert t.distance.tolist() == [[10, 11, 21, 21], [11, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]]


def test_ring_and_mesh():
    assert g.ring(nodes=5, hop=12).distance[0].tolist() == [10, 12, 24, 24, 12]
    assert g.mesh(rows=2, cols=2, hop=15).distance.tolist() == [[10, 15, 15, 30], [15, 10, 30, 15],
                                                                [15, 30, 10, 15], [30, 15, 15, 10]]


def test_tiers_movable():
    t = g.cpu_plus_memory_tiers(cpu_nodes=2, memory_nodes_per_cpu_node=2, movable=True)
    assert t.n_nodes == 6
    assert t.has_cpu.tolist() == [True, True, False, False, False, False]
    assert t.distance[0].tolist() == [10, 21, 14, 14, 24, 24]
    mov = t.zone_index("Movable")
    assert (t.present_pages[2:, mov] > 0).all() and t.present_pages[2:].sum() == t.present_pages[2:, mov].sum()
    assert t.has_memory.all() and t.has_normal_memory.tolist() == [True, True, False, False, False, False]


def test_memoryless():
    t = g.memoryless(g.flat(nodes=4), nodes=[1, 3])
    assert t.has_memory.tolist() == [True, False, True, False]
    assert t.has_cpu.all()



def test_memoryless_of_a_preset_through_load():
    # load() hands itself to from_call, so a call may name anything load takes (cxl4: nodes 0-3)
    assert sources.load("memoryless('cxl4', nodes=[1])").has_memory.tolist() == [True, False, True, True]
    with pytest.raises(NumalabError, match="not a generator call"):
        g.from_call("memoryless('cxl4', nodes=[1])")     # without load: only generator calls


def test_distances_that_the_kernel_would_reject_become_defaults():
    t = g.flat(nodes=2, remote=10)
    assert t.distance.tolist() == [[10, 20], [20, 10]]
    assert any("rejected" in n for n in t.notes)


@pytest.mark.parametrize("call,match", [
    ("flat(nodes=0)", "nodes must be an integer >= 1"),
    ("nosuch(nodes=2)", "unknown generator"),
    ("flat(nodes=__import__('os'))", "literals"),
    ("flat(bogus=1)", "unexpected keyword"),
    ("flat(", "not a generator call"),
])
def test_from_call_errors(call, match):
    with pytest.raises(NumalabError, match=match):
        g.from_call(call)


def test_load_accepts_generator_calls():
    assert sources.load("ring(nodes=6)").n_nodes == 6


@pytest.mark.parametrize("name", [k for k, v in g.RECORDED_SHAPES.items() if v])
def test_generators_reproduce_the_recorded_shapes(name):
    real = sources.load(TRUTH / name)
    t = g.from_call(g.RECORDED_SHAPES[name])
    assert np.array_equal(t.distance, real.distance)
    assert np.array_equal(t.cpu_node, real.cpu_node) and np.array_equal(t.cpu_ids, real.cpu_ids)
    assert np.array_equal(t.has_memory, real.has_memory) and np.array_equal(t.has_cpu, real.has_cpu)


@pytest.mark.parametrize("name", list(g.RECORDED_SHAPES))
def test_bundled_recording_presets_equal_the_recordings(name):
    assert sources.load(name) == sources.load(TRUTH / name)
