"""The Topology record: derived node states, lookups, validation of impossible inputs."""
import numpy as np
import pytest

from numalab.errors import NumalabError
from numalab.topology import Topology


def make(**kw):
    base = dict(name="t", node_ids=[0, 4, 9], distance=[[10, 20, 30], [20, 10, 20], [30, 20, 10]],
                cpu_ids=[0, 1, 2], cpu_node=[0, 0, 2],
                present_pages=[[10, 20, 30, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 7, 0]],
                managed_pages=[[9, 19, 29, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 7, 0]])
    base.update(kw)
    return Topology(**base)


def test_derived_states_hand_computed():
    t = make()
    assert t.has_cpu.tolist() == [True, False, True]
    assert t.has_memory.tolist() == [True, False, True]       # Movable counts as memory
    assert t.has_normal_memory.tolist() == [True, False, False]  # but not as normal memory
    assert t.nr_node_ids == 10


def test_offline_node_has_no_states():
    t = make(online=[True, True, False])
    assert t.has_cpu.tolist() == [True, False, False]
    assert t.has_memory.tolist() == [True, False, False]


def test_state_override_wins():
    t = make(state_override={"has_cpu": [False, False, True]})
    assert t.has_cpu.tolist() == [False, False, True]


def test_lookups_with_sparse_ids():
    t = make()
    assert t.index_of(9) == 2 and t.node_of_cpu(2) == 9
    assert t.cpus_of(0).tolist() == [0, 1]
    m = t.mask([True, False, True])
    assert m.shape == (1024,) and np.flatnonzero(m).tolist() == [0, 9]
    assert t.gather(m).tolist() == [True, False, True]
    with pytest.raises(NumalabError, match="no node 5"):
        t.index_of(5)


def test_arrays_are_read_only():
    t = make()
    with pytest.raises(ValueError):
        t.distance[0, 1] = 5


@pytest.mark.parametrize("kw,match", [
    (dict(node_ids=[0, 4, 4]), "listed twice"),
    (dict(distance=[[10, 20], [20, 10]]), "distance matrix is"),
    (dict(cpu_ids=[0, 1, 1]), "CPU 1 is on two nodes"),
    (dict(present_pages=[[-1, 20, 30, 0, 0], [0] * 5, [0, 0, 0, 7, 0]]), "must not be negative"),
    (dict(node_ids=[0, 4, 1024]), "0..1023"),
])
def test_impossible_inputs(kw, match):
    with pytest.raises(NumalabError, match=match):
        make(**kw)


def test_equality_ignores_notes_but_not_zones():
    a = make()
    assert a == make(notes=("x",), source="elsewhere")
    assert a != make(managed_pages=[[10, 20, 30, 0, 0], [0] * 5, [0, 0, 0, 7, 0]])
    assert a != make(nodes_shift=6)


def test_hash_follows_content_like_eq():
    from numalab import sources, zonelist

    a, b = sources.load("cxl4"), sources.load("cxl4")
    assert a is not b and a == b and hash(a) == hash(b) and len({a, b}) == 1
    renamed = a.replace(name="other", notes=("x",))          # name and notes are not content
    assert renamed == a and hash(renamed) == hash(a)
    pages = a.managed_pages.copy()
    pages[0, 1] -= 1
    changed = a.replace(managed_pages=pages)
    assert changed != a and hash(changed) != hash(a)
    # the zonelist cache is keyed by content: one build, but each caller gets its own topology
    za, zb = zonelist.build(a, "6.1"), zonelist.build(renamed, "6.1")
    assert za.order is zb.order and zb.topology is renamed and zb.to_dict()["topology"] == "other"
