"""numalab.nodemask.packed: packed uint64 nodemasks against hand-computed words, and against the
bool nodemasks of numalab.nodemask (a separate implementation: byte tables vs bool arrays)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from numalab import nodemask as nm
from numalab.errors import NumalabError
from numalab.nodemask import packed as pk


def test_pack_unpack_roundtrip_and_bit_order():
    m = np.zeros(130, bool)
    m[[0, 3, 64, 129]] = True
    w = pk.pack(m)
    assert w.tolist() == [9, 1, 2]
    assert np.array_equal(pk.unpack(w, 130), m)


def test_first_and_weight():
    w = pk.from_nodes([[70, 5], [], [63]], 128)
    assert pk.first(w).tolist() == [5, 128, 63]
    assert pk.weight(w).tolist() == [2, 0, 1]


def test_remap_map_matches_kernel_example():
    # bitmap_remap doc: old {0..3}? use a hand example: old {1,3,5}, new {2,4}: 1->2, 3->4, 5->2
    d = pk.remap_map(pk.from_nodes([1, 3, 5], 8), pk.from_nodes([2, 4], 8), 8)
    assert d.tolist() == [0, 2, 2, 4, 4, 2, 6, 7]


def test_relative_map_folds_then_onto():
    # weight({1,3,5}) = 3: bit 4 -> 4 mod 3 = 1 -> the 1st set bit (0-based) = 3
    d = pk.relative_map(pk.from_nodes([1, 3, 5], 8), 8)
    assert d.tolist() == [1, 3, 5, 1, 3, 5, 1, 3]
    with pytest.raises(NumalabError):
        pk.relative_map(pk.from_nodes([], 8), 8)


def test_apply_map_multiword():
    dest = np.arange(200)[::-1]
    w = pk.from_nodes([[0, 70, 199]], 200)
    assert pk.to_nodes(pk.apply_map(w, dest, 200)[0], 200).tolist() == [0, 129, 199]


def test_from_nodes_ragged_and_padded_batches():
    w = pk.from_nodes([[], [0], [1, 3]], 64)
    assert w.shape == (3, 1) and w[:, 0].tolist() == [0, 1, 10]
    assert pk.to_nodes(w).tolist() == [[-1, -1], [0, -1], [1, 3]]
    assert nm.from_nodes([[2], [0, 1]], 4).astype(int).tolist() == [[0, 0, 1, 0], [1, 1, 0, 0]]
    with pytest.raises(NumalabError, match="beyond the last bit"):
        pk.from_nodes([64], 64)


masks = st.integers(1, 200).flatmap(lambda n: st.tuples(
    st.just(n), *(st.lists(st.booleans(), min_size=n, max_size=n) for _ in range(3))))


@settings(max_examples=150, deadline=None)
@given(masks)
def test_packed_agrees_with_bool_nodemasks(draw):
    nbits, a, b, c = draw
    a, b, c = (np.array(x, bool) for x in (a, b, c))
    wa, wb, wc = pk.pack(a), pk.pack(b), pk.pack(c)
    assert np.array_equal(pk.unpack(wa, nbits), a)
    assert pk.words_for(nbits) == wa.shape[-1] == -(-nbits // 64)
    assert pk.to_nodes(wa, nbits).tolist() == nm.to_nodes(a).tolist()
    assert int(pk.weight(wa)) == int(nm.weight(a))
    assert int(pk.first(wa)) == (int(nm.first(a)) if a.any() else 64 * wa.size)
    assert np.array_equal(pk.from_nodes(np.flatnonzero(a), nbits), wa)
    # remap: the destination map applied to packed words equals nodes_remap on bools
    moved = pk.apply_map(wa[None], pk.remap_map(wb, wc, nbits), nbits)[0]
    assert np.array_equal(pk.unpack(moved, nbits), nm.remap(a, b, c))
    if b.any():
        rel = pk.apply_map(wa[None], pk.relative_map(wb, nbits), nbits)[0]
        assert np.array_equal(pk.unpack(rel, nbits), nm.relative(a, b))
