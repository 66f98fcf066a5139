"""numalab.mempolicy: creation, rebinding, reporting and interleave, against hand-computed
vectors, the kernel's documented behaviours, and the scalar reference (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from numalab import mempolicy as mp
from numalab.nodemask import packed as pk
from numalab.errors import NumalabError
from numalab.reference import mempolicy as ref

NB = 64
S, R, NBAL = mp.MPOL_F_STATIC_NODES, mp.MPOL_F_RELATIVE_NODES, mp.MPOL_F_NUMA_BALANCING


def one(mode, flags, user, allowed, kernel="6.1", n_memory=None, nbits=NB):
    return mp.create([mode], [flags], pk.from_nodes([list(user)], nbits), pk.from_nodes(list(allowed), nbits),
                     kernel, n_memory=None if n_memory is None else pk.from_nodes(list(n_memory), nbits),
                     nbits=nbits)


def ids(words, nbits=None):
    return pk.to_nodes(words, nbits).tolist()


def nodes(b, i=0):
    return ids(b.nodes[i], b.nbits)


# ----------------------------------------------------------------------------- creation
@pytest.mark.parametrize("mode,flags,user,allowed,errno,want", [
    ("DEFAULT", 0, [], [0, 1], None, []),
    ("DEFAULT", 0, [0], [0, 1], "EINVAL", []),
    ("DEFAULT", S, [], [0, 1], None, []),                    # flags dropped with the NULL policy
    ("PREFERRED", 0, [], [0, 1], None, []),                  # becomes LOCAL
    ("PREFERRED", S, [], [0, 1], "EINVAL", []),
    ("PREFERRED", 0, [0, 1], [1], None, [1]),                # first node of the intersection
    ("PREFERRED", S, [2], [0, 1], "EINVAL", []),
    ("LOCAL", 0, [0], [0, 1], "EINVAL", []),
    ("LOCAL", R, [], [0, 1], "EINVAL", []),
    ("BIND", 0, [], [0, 1], "EINVAL", []),
    ("BIND", 0, [0, 2], [0, 1], None, [0]),
    ("BIND", S | R, [0], [0, 1], "EINVAL", []),
    ("BIND", R, [1023 % NB], [0, 1], None, [1]),             # 63 mod 2 = 1 -> node 1
    ("INTERLEAVE", R, [0], [1], None, [1]),
    ("INTERLEAVE", NBAL, [0], [0, 1], "EINVAL", []),
    ("BIND", NBAL, [0, 1], [0, 1], None, [0, 1]),
    ("PREFERRED_MANY", NBAL, [0], [0, 1], "EINVAL", []),     # 6.1 refuses, 6.10+ accepts
    ("WEIGHTED_INTERLEAVE", 0, [0], [0, 1], "EINVAL", []),   # mode 6 does not exist in 6.1
])
def test_create_6_1(mode, flags, user, allowed, errno, want):
    b = one(mode, flags, user, allowed)
    assert b.errno_names()[0] == errno
    assert nodes(b) == want


def test_version_windows_for_modes_and_flags():
    assert one("PREFERRED_MANY", NBAL, [0], [0, 1], "6.12").errno_names()[0] is None
    assert one("WEIGHTED_INTERLEAVE", 0, [0], [0, 1], "6.12").errno_names()[0] is None
    assert one("PREFERRED_MANY", 0, [0], [0, 1], "5.14").errno_names()[0] == "EINVAL"
    assert one("BIND", NBAL, [0], [0, 1], "5.11").errno_names()[0] == "EINVAL"
    # before v5.14 LOCAL is PREFERRED with MPOL_F_LOCAL and reports as PREFERRED with no nodes
    b = one("LOCAL", 0, [], [0, 1], "5.10")
    mode, _, mask = mp.report(b, 2)
    assert mp.MODE_NAMES[int(mode[0])] == "PREFERRED" and b.local[0] and ids(mask[0]) == []


def test_w_union_stores_user_mask_or_cpuset_mems():
    b = one("BIND", S, [0, 5], [0, 1, 2, 3, 4])
    assert ids(b.w[0]) == [0, 5] and nodes(b) == [0]
    b = one("BIND", 0, [0, 5], [0, 1, 2, 3, 4], n_memory=[0, 1])
    # w.cpuset_mems_allowed is cpuset_current_mems_allowed, not intersected with N_MEMORY
    assert ids(b.w[0]) == [0, 1, 2, 3, 4] and nodes(b) == [0]


def test_bad_mask_is_einval():
    b = mp.create(["BIND"], [0], pk.from_nodes([[0]], NB), pk.from_nodes([0], NB), "6.1",
                  bad_mask=np.array([True]))
    assert b.errno_names()[0] == "EINVAL"


# ----------------------------------------------------------------------------- rebinding
def test_rebind_plain_remap_and_widening():
    b = one("INTERLEAVE", 0, [0, 1, 2, 3], [0, 1, 2, 3])
    assert nodes(mp.rebind(b, pk.from_nodes([0, 1], NB), "6.1")) == [0, 1]
    b = one("BIND", S, [3], [0, 1, 2, 3])
    r = mp.rebind(b, pk.from_nodes([0, 1], NB), "6.1")
    assert nodes(r) == [0, 1]                                 # empty intersection widens
    assert nodes(mp.rebind(r, pk.from_nodes([0, 1, 2, 3], NB), "6.1")) == [3]   # STATIC recovers


def test_rebind_preferred_kept_since_5_14_but_w_overwritten():
    b = one("PREFERRED", S, [3], [0, 1, 2, 3])
    r = mp.rebind(b, pk.from_nodes([0, 1], NB), "6.1")
    assert nodes(r) == [3]
    _, _, mask = mp.report(r, 4)
    assert ids(mask[0]) == [0, 1]                     # the union aliasing seen on 6.1
    # v5.13: STATIC preferred outside the new mems becomes local; plain preferred is remapped
    r = mp.rebind(one("PREFERRED", S, [3], [0, 1, 2, 3], "5.13"), pk.from_nodes([0, 1], NB), "5.13")
    assert r.local[0]
    r = mp.rebind(one("PREFERRED", 0, [3], [0, 1, 2, 3], "5.13"), pk.from_nodes([0, 1], NB), "5.13")
    assert nodes(r) == [1]


def test_rebind_two_step_union_in_4_10():
    b = one("BIND", 0, [0], [0, 1], "4.10")
    steps = mp.rebind_steps(b, pk.from_nodes([2, 3], NB), "4.10", scope="task")
    assert [s for s, _ in steps] == ["step1", "final"]
    assert nodes(steps[0][1]) == [0, 2] and nodes(steps[1][1]) == [2]
    assert len(mp.rebind_steps(b, pk.from_nodes([2, 3], NB), "4.10", scope="vma")) == 1
    with pytest.raises(NumalabError):
        mp.rebind(b, pk.from_nodes([2, 3], NB), "6.1", step="step1")


def test_rebind_stored_result_bug_uses_a_wrong_old_domain():
    # {3} in 0-3; cpuset grows to 0-5 ({3} stays), then moves to 4-9.
    # Fixed kernels remember the old domain 0-5: ordinal of 3 is 3 -> the 3rd node of 4-9 = 7.
    # v4.13..v5.1 remembered the remapped result {3}: ordinal 0 -> node 4 (fixed in v5.2 by
    # 29b190fa774d, 'mm/mempolicy.c: fix an incorrect rebind node in mpol_rebind_nodemask').
    def run(kv):
        b = one("INTERLEAVE", 0, [3], [0, 1, 2, 3], kv)
        b = mp.rebind(b, pk.from_nodes([0, 1, 2, 3, 4, 5], NB), kv)
        return nodes(mp.rebind(b, pk.from_nodes([4, 5, 6, 7, 8, 9], NB), kv))
    assert run("5.10") == [7]
    assert run("5.2") == [7]
    assert run("5.1") == [4]
    assert run("4.19") == [4]
    assert run("4.10") == [7]                                # before the single-step rewrite


def test_numa_balancing_bind_rebind_quirk():
    b = one("BIND", NBAL, [0, 1], [0, 1, 2, 3])
    r = mp.rebind(b, pk.from_nodes([2, 3], NB), "6.1")
    _, _, mask = mp.report(r, 4)
    assert nodes(r) == [2, 3] and ids(mask[0]) == [2, 3]


def test_report_cuts_to_whole_longs():
    b = mp.create(["BIND"], [R], pk.from_nodes([[2, 1023]], 1024), pk.from_nodes([0, 1], 1024), "6.1")
    _, _, mask = mp.report(b, 2)
    assert ids(mask[0], 1024) == [2]                  # bit 2 survives, bit 1023 is cut


# ----------------------------------------------------------------------------- interleave
def test_interleave_static_and_dynamic():
    w = pk.from_nodes([[0, 2, 5]], NB)
    assert mp.interleave_static(w, np.arange(7)[None], NB).tolist() == [[0, 2, 5, 0, 2, 5, 0]]
    seq, last = mp.interleave_dynamic(pk.from_nodes([[1, 3]], NB), np.array([NB - 1]), 4, NB)
    assert seq.tolist() == [[1, 3, 1, 3]] and last.tolist() == [3]
    assert mp.interleave_static(pk.from_nodes([[]], NB), np.arange(2)[None], NB).tolist() == [[-1, -1]]


def test_weighted_interleave_vectors_from_the_reference_text():
    wts = np.ones(NB, int)
    wts[0], wts[1] = 5, 2
    w = pk.from_nodes([[0, 1]], NB)
    assert mp.weighted_interleave_static(w, np.arange(8)[None], wts, NB).tolist() == [[0] * 5 + [1, 1, 0]]
    seq, _, _ = mp.weighted_interleave_dynamic(w, np.array([NB - 1]), np.array([0]), 8, wts, NB)
    assert seq.tolist() == [[0, 0, 0, 0, 0, 1, 1, 0]]


# ----------------------------------------------------------------------------- engine vs reference
masks = st.sets(st.integers(0, 11), max_size=6)
versions = st.sampled_from(["4.10", "4.19", "5.10", "5.13", "5.15", "6.1", "6.12", "6.18"])
modes = st.integers(0, 7)
flagsets = st.sampled_from([0, S, R, S | R, NBAL, NBAL | S])


def _ref_row(b, i):
    if b.errno[i]:
        return "EINVAL"
    if b.mode[i] == mp.MODES["DEFAULT"]:
        return None
    return {"mode": int(b.mode[i]), "flags": int(b.flags[i]), "local": bool(b.local[i]),
            "nodes": set(ids(b.nodes[i], NB)), "w": set(ids(b.w[i], NB))}


@settings(max_examples=300)
@given(st.lists(st.tuples(modes, flagsets, masks), min_size=1, max_size=8), masks, st.sets(st.integers(0, 11), min_size=1),
       versions)
def test_create_matches_reference(rows, allowed, n_memory, kv):
    allowed = allowed | {min(n_memory)}
    b = mp.create(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                  pk.from_nodes([sorted(r[2]) for r in rows], NB), pk.from_nodes(sorted(allowed), NB), kv,
                  n_memory=pk.from_nodes(sorted(n_memory), NB), nbits=NB)
    for i, (m, f, u) in enumerate(rows):
        want = ref.create(m, f, u, allowed, kv, n_memory=n_memory)
        assert _ref_row(b, i) == want, (m, f, u)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from([1, 2, 3, 4, 5, 6]), flagsets, masks), min_size=1, max_size=8),
       st.sets(st.integers(0, 11), min_size=1), st.lists(st.sets(st.integers(0, 11), min_size=1), min_size=1, max_size=3),
       versions)
def test_rebind_sequence_matches_reference(rows, allowed, news, kv):
    b = mp.create(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                  pk.from_nodes([sorted(r[2]) for r in rows], NB), pk.from_nodes(sorted(allowed), NB), kv, nbits=NB)
    refs = [ref.create(m, f, u, allowed, kv) for m, f, u in rows]
    for new in news:
        steps = mp.rebind_steps(b, pk.from_nodes(sorted(new), NB), kv, scope="task")
        b = steps[-1][1]
        for i in range(len(rows)):
            if len(steps) == 2:
                r1 = ref.rebind(refs[i], new, kv, step="step1")
                assert _ref_row(steps[0][1], i) == r1
                refs[i] = ref.rebind(r1, new, kv, step="step2")
            else:
                refs[i] = ref.rebind(refs[i], new, kv)
            assert _ref_row(b, i) == refs[i]
            rm, rf, rmask = mp.report(b.take([i]), 12)
            wm, wf, wmask = ref.report(refs[i], 12, kv)
            assert (int(rm[0]), int(rf[0]), set(ids(rmask[0], NB))) == (wm, wf, wmask)


@given(masks.filter(bool), st.integers(0, 63), st.integers(1, 20))
def test_interleave_dynamic_matches_reference(nodes_, il_prev, count):
    seq, last = mp.interleave_dynamic(pk.from_nodes([sorted(nodes_)], NB), np.array([il_prev]), count, NB)
    want, wlast = ref.interleave_dynamic(nodes_, il_prev, count)
    assert seq[0].tolist() == want and int(last[0]) == wlast


@given(masks.filter(bool), st.lists(st.integers(0, 6), min_size=12, max_size=12), st.integers(0, 63), st.integers(0, 3),
       st.integers(1, 20))
def test_weighted_matches_reference(nodes_, w12, il_prev, il_w, count):
    wts = np.ones(NB, int)
    wts[:12] = w12
    s = mp.weighted_interleave_static(pk.from_nodes([sorted(nodes_)], NB), np.arange(count)[None], wts, NB)
    assert s[0].tolist() == [ref.weighted_static(nodes_, i, wts) for i in range(count)]
    d, p, w = mp.weighted_interleave_dynamic(pk.from_nodes([sorted(nodes_)], NB), np.array([il_prev]),
                                             np.array([il_w]), count, wts, NB)
    want, wp, ww = ref.weighted_dynamic(nodes_, il_prev, il_w, count, wts)
    assert d[0].tolist() == want and (int(p[0]), int(w[0])) == (wp, ww)


def test_names():
    assert mp.mode_value("mpol_bind") == 2 and mp.mode_value("MODE_6") == 6
    assert mp.flag_bits("static,relative") == S | R
    with pytest.raises(NumalabError):
        mp.mode_value("bogus")
    with pytest.raises(NumalabError):
        mp.flag_bits(["sticky"])


# ------------------------------------------------- documented rebind vectors (reference section 5)
@pytest.mark.parametrize("allowed,want", [
    ([1, 2, 3], [1, 2, 3]), ([1, 2, 3, 4, 5, 6, 7], [2, 3, 4]),
    ([1, 5, 6], [1, 5, 6]), ([1, 5, 6, 7], [5, 6, 7])])
def test_relative_nodes_rebinds_of_user_1_3(allowed, want):
    """David Rientjes' MPOL_F_RELATIVE_NODES examples (2008): user mask 1-3 as the cpuset changes."""
    b = one("INTERLEAVE", R, [1, 2, 3], list(range(64)))
    assert nodes(mp.rebind(b, pk.from_nodes(allowed, NB), "6.1")) == want


@pytest.mark.parametrize("allowed,want", [
    ([2, 3, 4, 5], [2, 3, 4, 5]), ([3, 4, 5, 6, 7], [3, 5, 6, 7]), ([0, 2, 3, 5], [0, 2, 3, 5])])
def test_relative_nodes_admin_guide(allowed, want):
    """Documentation/admin-guide/mm/numa_memory_policy.rst: user 2-5 relative to the cpuset."""
    b = one("BIND", R, [2, 3, 4, 5], allowed)
    assert nodes(b) == want


def test_static_and_default_rebind_admin_guide():
    """admin-guide: STATIC user 1-3 in a cpuset moved to 3-5 keeps {3}; a plain policy on 1-3
    remaps onto 3-5; a default remap 1,3,5 (old 1-5) to 7-9 and back ends at 1-3 (structure lost)."""
    static = one("BIND", S, [1, 2, 3], [1, 2, 3])
    assert nodes(mp.rebind(static, pk.from_nodes([3, 4, 5], NB), "6.1")) == [3]
    plain = one("BIND", 0, [1, 2, 3], [1, 2, 3])
    assert nodes(mp.rebind(plain, pk.from_nodes([3, 4, 5], NB), "6.1")) == [3, 4, 5]
    trip = one("INTERLEAVE", 0, [1, 3, 5], [1, 2, 3, 4, 5])
    there = mp.rebind(trip, pk.from_nodes([7, 8, 9], NB), "6.1")
    assert nodes(there) == [7, 8, 9]
    assert nodes(mp.rebind(there, pk.from_nodes([1, 2, 3, 4, 5], NB), "6.1")) == [1, 2, 3]


@pytest.mark.parametrize("kernel,call,mode,errno", [
    ("5.11", "mbind", "INTERLEAVE", "EINVAL"),        # no such flag yet: the mode value is too big
    ("5.12", "mbind", "INTERLEAVE", None),            # kernel_mbind did not check the mode
    ("5.14", "mbind", "INTERLEAVE", None),
    ("5.14", "mbind", "LOCAL", None),                 # the case 6d2aec9e123b is named after
    ("5.14", "set_mempolicy", "INTERLEAVE", "EINVAL"),
    ("5.15", "mbind", "INTERLEAVE", "EINVAL"),        # sanitize_mpol_flags for both calls
    ("5.15", "mbind", "LOCAL", "EINVAL"),
    ("5.15", "mbind", "BIND", None)])
def test_numa_balancing_through_mbind(kernel, call, mode, errno):
    """v5.12..v5.14: only set_mempolicy checked MPOL_F_NUMA_BALANCING; v5.15: both calls."""
    user = [] if mode == "LOCAL" else [0, 1]
    b = mp.create([mode], [NBAL], pk.from_nodes([user], NB), pk.from_nodes([0, 1], NB), kernel, call=call)
    assert b.errno_names().tolist() == [errno]
    if errno is None:
        # the flag is stored: get_mempolicy reports it and the user's mask
        _, flags, mask = mp.report(b, 2)
        assert int(flags[0]) & NBAL
        assert pk.to_nodes(mask[0], NB).tolist() == user


def test_unknown_call_is_refused():
    with pytest.raises(NumalabError):
        mp.create(["BIND"], [0], pk.from_nodes([[0]], NB), pk.from_nodes([0], NB), "6.1", call="madvise")


# ----------------------------------------------------------------------------- set_mempolicy_home_node
def _modes_batch(kernel):
    modes = ["BIND", "PREFERRED_MANY", "INTERLEAVE", "PREFERRED", "LOCAL", "DEFAULT"]
    users = [[0, 1], [0, 1], [0, 1], [1], [], []]
    return mp.create(modes, [0] * 6, pk.from_nodes(users, NB), pk.from_nodes([0, 1, 2, 3], NB), kernel)


def test_home_node_errnos_follow_the_syscall():
    """c6018b4b2549 (v5.17): EINVAL for a bad node first; VMAs without a policy are skipped (all
    skipped: ENOENT); a policy other than BIND/PREFERRED_MANY stops with EOPNOTSUPP."""
    b = _modes_batch("5.17")
    b2, err = mp.set_home_node(b, 2, "5.17")
    assert err.tolist() == [None, None, "EOPNOTSUPP", "EOPNOTSUPP", "EOPNOTSUPP", "ENOENT"]
    assert b2.home_nodes().tolist() == [2, 2, -1, -1, -1, -1]
    assert mp.set_home_node(b, 2, "5.16")[1].tolist() == ["ENOSYS"] * 6
    online = np.zeros(NB, bool)
    online[:2] = True
    assert mp.set_home_node(b, 2, "6.1", online=online)[1].tolist() == ["EINVAL"] * 6
    assert mp.set_home_node(b, NB, "6.1")[1].tolist() == ["EINVAL"] * 6
    assert mp.set_home_node(b, 1, "6.1", scope="task")[1].tolist() == ["ENOENT"] * 6


def test_home_node_is_the_start_of_bind_and_preferred_many_only():
    b, _ = mp.set_home_node(_modes_batch("6.1"), 3, "6.1")
    use, mask, start = mp.policy_nodemask(b, pk.from_nodes([0, 1, 2, 3], NB), gfp_zone=3, policy_zone=2,
                                          zone_movable=3)
    assert start.tolist() == [3, 3, -1, 1, -1, -1]
    # rebinding keeps the home node (mpol_rebind_* never touch it)
    r = mp.rebind(b, pk.from_nodes([0, 1], NB), "6.1")
    assert r.home_nodes().tolist() == [3, 3, -1, -1, -1, -1]
    assert r.take([0]).home_nodes().tolist() == [3]


# ----------------------------------------------------------------------------- weighted interleave weights
@pytest.mark.parametrize("bw,want", [({0: 300, 1: 100}, [3, 1]),       # 32*3/4 = 24, 8 -> gcd 8
                                     ({0: 100, 1: 100}, [1, 1]),       # 16:16
                                     ({0: 200, 1: 100}, [21, 10]),     # floor(64/3), floor(32/3)
                                     ({0: 1000, 1: 1}, [31, 1]),       # 32/1001 < 1 -> 1
                                     ({0: 500}, [32, 1])])             # 32*500/500; node 1 no data: 1
def test_auto_weights_hand_computed(bw, want):
    mem = np.array([True, True, False, False])
    w, src = mp.interleave_weights("6.16", 4, mem, bandwidth=bw)
    assert w[:2].tolist() == want and w[2:].tolist() == [1, 1] and src == "auto"


def test_weights_per_release():
    mem = np.array([True, True, False, False])
    bw = {0: 300, 1: 100}
    assert mp.interleave_weights("6.15", 4, mem, bandwidth=bw) [0].tolist() == [1, 1, 1, 1]
    # 6.9..6.15: 0 means the default 1; 6.16: EINVAL
    assert mp.interleave_weights("6.9", 4, mem, written={0: 0, 1: 4})[0].tolist() == [1, 4, 1, 1]
    with pytest.raises(NumalabError) as e:
        mp.interleave_weights("6.16", 4, mem, written={0: 0})
    assert e.value.errno == "EINVAL"
    # 6.16 manual mode: a written node overrides, the others keep their auto weights
    w, src = mp.interleave_weights("6.16", 4, mem, written={1: 5}, bandwidth=bw)
    assert w.tolist() == [3, 5, 1, 1] and src == "written"
    with pytest.raises(NumalabError):
        mp.interleave_weights("6.16", 4, mem, written={0: 256})
    with pytest.raises(NumalabError) as e:
        mp.interleave_weights("6.8", 4, mem, written={0: 2})
    assert e.value.errno == "ENOENT"


# ----------------------------------------------------------------------------- shmem interleave index
def test_shm_index_is_biased_by_the_inode_number():
    assert mp.shm_interleave_index(np.arange(4), 7).tolist() == [7, 8, 9, 10]
    # order 9 (2 MiB shmem THP) at index 1024 of inode 3: (3 + 1024) >> 9 = 2 before 6.7; 3 + 2 = 5 after
    assert int(mp.shm_interleave_index(1024, 3, 9, "6.6")) == 2
    assert int(mp.shm_interleave_index(1024, 3, 9, "6.7")) == 5
    with pytest.raises(NumalabError):
        mp.shm_interleave_index(0, -1)
