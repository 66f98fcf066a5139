"""numalab.race: the spurious-OOM race of the 2017 LSF/MM email and the rebind proposals.

Hand-counted interleavings, the version probes of the race-model variants (RACE_VARIANTS in
tests/test_variants.py), the scalar reference (numalab.reference.race) against the vectorized
enumeration, the scenarios as data, the point (a) table and the ``numalab race`` command.
"""
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from numalab import race
from numalab.cli import main
from numalab.errors import NumalabError
from numalab.kernel import VARIANTS
from numalab.reference import race as ref

PROPOSALS = ("copy-swap", "cpuset-zonelists")


def counts(scenario, design, overrides=None):
    return race.explore(scenario, design, overrides).counts


# ------------------------------------------------------------------------------- the email
def test_email_v410_ooms_and_every_later_design_does_not():
    """Done-when of issue 12: v4.10 has a spurious OOM, v4.13, v6.15 and both proposals none."""
    assert counts("email", "v4.10")["spurious_oom"] >= 1
    for d in ("v4.13", "v6.15") + PROPOSALS:
        assert counts("email", d)["spurious_oom"] == 0, d


def test_email_v410_hand_counted():
    """Writer: B (seqcount begin, mems 0-1), E (mems 1, seqcount end), R (mpol_rebind_mm: waits
    for the fault's mmap lock, so only before F). Task: F (fault), A (cookie A; waits while B..E is
    open), P (policy_nodemask), FP (preferred zoneref), FT (fast path), then the slow path.
    Allowed (6):    B E R F ... | B E F ... | B F E A ... | F B E A ... | F A B E P ... (P sees {0}
                    miss {1}: no nodemask, page 1) | F A P FP FT (page 0 before B).
    OOM (5):        F A B P E FP | F A B P FP E FT | F A P B E FP | F A P B FP E FT | F A P FP B E FT
                    (P saw {0} meet the cpuset; FT and every slow-path try then fail on mems {1}).
    Disallowed (3): F A B P FP FT | F A P B FP FT | F A P FP B FT (page 0 in the union window)."""
    c = counts("email", "v4.10")
    assert (c["allowed_page"], c["disallowed_page"], c["spurious_oom"]) == (6, 3, 5)
    assert sum(c[o] for o in race.OUTCOMES) == 14


def test_email_cpuset_zonelists_hand_counted():
    """Writer: Z (swap the cpuset zonelists to {1}), R (swap the VMA policy copy; mmap lock).
    Task: F, P (take zonelists and policy once), C (allocate).
    Z R F: page 1. Z F P C: {0} misses {1}, no nodemask: page 1. F Z P C: same. F P C: page 0 before
    the change. F P Z C: the zonelists taken before the swap: page 0 after the change began."""
    c = counts("email", "cpuset-zonelists")
    assert (c["allowed_page"], c["disallowed_page"]) == (4, 1)
    assert sum(c[o] for o in race.OUTCOMES) == 5


def test_email_oom_trace_reads_like_the_email():
    ex = race.explore("email", "v4.10")
    tr = race.trace(ex, race.shortest(ex, "spurious_oom"))
    steps = [s["step"] for s in tr]
    pol = next(i for i, s in enumerate(steps) if s.startswith("policy_nodemask"))
    assert "meets mems_allowed {0}" in steps[pol]
    change = next(i for i, s in enumerate(tr) if s["actor"] == "cpuset" and s["mems_allowed"] == "1")
    slow = next(i for i, s in enumerate(steps) if s.startswith("__alloc_pages_slowpath"))
    assert pol < change < slow                        # the change lands between the two scopes
    assert tr[-1]["outcome"] == "spurious_oom" and "OOM killer" in steps[-1]
    assert all(s["policy"] == "0" for s in tr)        # the VMA policy is never rebound meanwhile
    assert not any("mpol_rebind_mm" in s for s in steps)


def test_v413_restarts_without_the_nodemask():
    ex = race.explore("email", "v4.13")
    tr = race.trace(ex, race.shortest(ex, "retry"))
    assert any("drop it and restart" in s["step"] for s in tr)
    assert tr[-1]["page"] == 1 and tr[-1]["sees"] == "NULL nodemask (cpuset only)"


# ------------------------------------------------------------------------------- the scenarios
def test_per_task_flavour_is_fixed_in_v410_by_the_slowpath_zoneref():
    """e47483bca2cc: without recomputing the preferred zoneref the per-task flavour OOMs too."""
    for d in race.DESIGNS:
        assert counts("per-task", d)["spurious_oom"] == 0, d
    assert counts("per-task", "v4.10", {"slowpath_recomputes_zoneref": False})["spurious_oom"] > 0


def test_retry_loop_is_endless_before_v615():
    assert counts("retry-loop", "v4.13")["stuck"] > 0
    assert counts("retry-loop", "v6.15")["stuck"] == 0
    assert counts("retry-loop", "copy-swap")["stuck"] == 0


def test_point_a_case_shows_neither_old_nor_new_only_in_place():
    for d in ("v4.10", "v4.13", "v6.15"):
        assert counts("torn-nodemask", d)["neither_nodemask"] > 0, d
    for d in PROPOSALS:
        c = counts("torn-nodemask", d)
        assert c["neither_nodemask"] == 0 and c["unstable_nodemask"] == 0, d


def test_v410_union_step_is_seen():
    """v4.10 STEP1 leaves the task policy at old | new = {0,1} (kernel-semantics 4.5)."""
    ex = race.explore("per-task", "v4.10")
    labels = [w["label"] for w in ex.program.writer]
    assert any("STEP1" in x and "{0-1}" in x for x in labels)
    assert ex.counts["neither_nodemask"] > 0
    assert not any("STEP1" in w["label"] for w in race.explore("per-task", "v4.13").program.writer)


def test_two_changes_move_the_seqcount_twice():
    ex = race.explore("two-changes", "v4.13")
    assert sum(w["seq"] for w in ex.program.writer) == 4
    assert ex.program.stable == (1, 2)               # {0} -> {1} -> {0}


def test_every_shipped_scenario_loads_and_the_email_is_first():
    names = race.scenario_names()
    assert names[0] == "email"
    assert {"email", "per-task", "interleave", "two-changes", "torn-nodemask"} <= set(names)
    for n in names:
        assert race.load_scenario(n).name == n


# ------------------------------------------------------------------------------- version probes
def _probe(scenario, outcome):
    return lambda version: race.explore(scenario, version).counts[outcome]


#: variant -> callable(version) -> hashable output; tests/test_variants.py leaves these to us.
PROBES = {
    "check_retry_cpuset": _probe("email", "spurious_oom"),
    "retry_cpuset_each_loop": _probe("retry-loop", "stuck"),
    "seqcount_always": _probe("shrink", "failure"),
    "il_prev": _probe("interleave", "off_policy_page"),
}


def _edges(v):
    lo = v.since
    below = (lo[0], lo[1] - 1) if lo[1] > 0 else {5: (4, 20), 6: (5, 19)}[lo[0]]
    pairs = [("%d.%d" % below, "%d.%d" % lo)] if lo > (4, 10) else []
    if v.until:
        hi = v.until
        last = (hi[0], hi[1] - 1) if hi[1] > 0 else {5: (4, 20), 6: (5, 19)}[hi[0]]
        pairs.append(("%d.%d" % last, "%d.%d" % hi))
    return pairs


@pytest.mark.parametrize("name", race.RACE_VARIANTS)
def test_race_variant_changes_the_outcome_across_its_window_edges(name):
    v = next(x for x in VARIANTS if x.name == name)
    pairs = _edges(v)
    assert pairs, name
    for a, b in pairs:
        assert PROBES[name](a) != PROBES[name](b), (name, a, b)


@pytest.mark.parametrize("name,scenario,base,outcome", [
    ("check_retry_cpuset", "email", "v4.10", "spurious_oom"),
    ("retry_cpuset_each_loop", "retry-loop", "v4.13", "stuck"),
    ("seqcount_always", "shrink", "v4.10", "failure"),
    ("il_prev", "interleave", "v4.10", "off_policy_page"),
])
def test_each_variant_alone_drives_the_model(name, scenario, base, outcome):
    """Flipping only this switch (everything else of the base release kept) changes the count."""
    on = counts(scenario, base, {name: True})[outcome]
    off = counts(scenario, base, {name: False})[outcome]
    assert on != off
    assert on < off                                     # every later rule removes bad outcomes


def test_any_release_selects_its_variants():
    d = race.design("5.4")
    assert (d.check_retry_cpuset, d.retry_cpuset_each_loop, d.seqcount_always, d.il_prev) == (True, False, True, True)
    assert race.design("4.12").rebind_two_step and race.design("4.12").outer_cookie
    assert counts("email", "4.12")["spurious_oom"] > 0 and counts("email", "5.4")["spurious_oom"] == 0
    with pytest.raises(NumalabError):
        race.design("3.10")
    with pytest.raises(NumalabError):
        race.design("v4.10", {"nonsense": True})


# ------------------------------------------------------------------------------- reference
@pytest.mark.parametrize("scenario", race.scenario_names())
@pytest.mark.parametrize("design", race.DESIGNS + ("4.12", "5.4", "6.14"))
def test_vectorized_matches_the_scalar_reference(scenario, design):
    ex = race.explore(scenario, design)
    got = dict(ex.counts, interleavings=int(ex.moves.shape[0]))
    assert got == ref.enumerate_outcomes(ex.program.as_dict())


masks = st.integers(1, 7)


@st.composite
def small_scenarios(draw):
    n = draw(st.integers(1, 3))
    full = (1 << n) - 1

    def mask():
        return ",".join(str(i) for i in range(n) if draw(st.integers(1, full)) >> i & 1) or "0"

    entry = draw(st.sampled_from(["fault", "current"]))
    scope = "task" if entry == "current" else draw(st.sampled_from(["task", "vma"]))
    return {"name": "gen", "nodes": n, "cpu_node": draw(st.integers(0, n - 1)), "mems": mask(),
            "changes": [mask() for _ in range(draw(st.integers(1, 2)))], "entry": entry,
            "policy": {"scope": scope, "mode": draw(st.sampled_from(["bind", "preferred", "interleave"])),
                       "flags": draw(st.sampled_from([[], ["static"], ["relative"]])), "nodes": mask(),
                       "last_node": draw(st.integers(-1, n - 1))},
            "gfp": draw(st.sampled_from(["GFP_HIGHUSER_MOVABLE", "GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL"])),
            "reclaim": draw(st.sampled_from(["no_progress", "endless"])),
            "watermark": draw(st.sampled_from(["ok", "low"])),
            "word_nodes": draw(st.integers(0, n))}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios(), st.sampled_from(race.DESIGNS + ("4.12", "6.14")))
def test_reference_agrees_on_generated_scenarios(d, design):
    sc = race.parse_scenario(d)
    try:
        ex = race.explore(sc, design)
    except NumalabError:                 # the policy itself is refused (e.g. nodes outside mems)
        assume(False)
    assert dict(ex.counts, interleavings=int(ex.moves.shape[0])) == ref.enumerate_outcomes(ex.program.as_dict())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(small_scenarios(), st.sampled_from(race.DESIGNS + ("4.12", "6.14"))), min_size=2, max_size=5))
def test_one_batch_of_generated_scenarios_agrees_with_the_reference(cases):
    """explore_many advances every pair in one array (node counts, writers and designs mixed,
    fallback orders padded): each pair's counts must still be the scalar reference's."""
    pairs = []
    for d, design in cases:
        sc = race.parse_scenario(d)
        try:
            race.compile_program(sc, race.design(design))
        except NumalabError:             # the policy itself is refused (e.g. nodes outside mems)
            continue
        pairs.append((sc, design))
    assume(pairs)
    for ex in race.explore_many(pairs):
        assert dict(ex.counts, interleavings=int(ex.moves.shape[0])) == ref.enumerate_outcomes(ex.program.as_dict())


def test_the_shipped_batch_agrees_with_the_reference_pair_by_pair():
    """All scenarios x designs x some releases in one batch, as run_all and the notebook run them."""
    pairs = [(n, d) for n in race.scenario_names() for d in race.DESIGNS + ("4.12", "5.4", "6.14")]
    exs = race.explore_many(pairs)
    assert [(e.program.scenario.name, e.program.design.name) for e in exs] == pairs
    for e in exs:
        assert dict(e.counts, interleavings=int(e.moves.shape[0])) == ref.enumerate_outcomes(e.program.as_dict())


@pytest.mark.parametrize("scenario", race.scenario_names())
def test_interleavings_are_distinct_and_in_enumeration_order(scenario):
    """Rows are the interleavings shorter first, then task moves before writer moves (the order
    that picks the first shortest trace), each ending where its final state ends."""
    for e in race.explore_many([(scenario, d) for d in race.DESIGNS]):
        rows = [tuple(int(a) for a in r if a >= 0) for r in e.moves]
        assert rows == sorted(rows, key=lambda r: (len(r), r)) and len(set(rows)) == len(rows)
        assert all((padded[len(r):] == -1).all() for r, padded in zip(rows, e.moves))
        assert (e.final["out"] > 0).all() and e.final["out"].shape == (len(rows),)
        assert all(sum(r) == int(w) for r, w in zip(rows, e.final["wpc"]))      # writer moves = its steps done


# ------------------------------------------------------------------------------- hostile data
@pytest.mark.parametrize("patch,needle", [
    ({"nodes": 99}, "'nodes'"),
    ({"mems": "0-5"}, "outside"),
    ({"changes": []}, "changes"),
    ({"changes": [""]}, "ENOSPC"),
    ({"policy": {"mode": "bind", "nodes": "0", "scope": "shm"}}, "scope"),
    ({"gfp": "GFP_ATOMIC"}, "gfp"),
    ({"extra": 1}, "unknown keys"),
    ({"fallback": [[1, 0], [1, 0]]}, "fallback"),
    ({"nodes": True}, "'nodes'"),
])
def test_bad_scenarios_are_refused_in_one_line(patch, needle):
    d = json.loads((race.DATA_DIR / "email.json").read_text())
    d.update(patch)
    with pytest.raises(NumalabError) as e:
        race.parse_scenario(d, where="x.json")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_unknown_scenario_names_the_known_ones():
    with pytest.raises(NumalabError, match="known: email"):
        race.load_scenario("../etc/passwd")


# ------------------------------------------------------------------------------- point (a)
def test_point_a_table_static_left_alone():
    """sockets-2x2 (node 3's fallback order 3,2,1,0; node 1's 1,0,3,2), mems 0-1 -> 2-3, user
    nodes 1-2, CPU on node 3 (hand-derived from kernel-semantics 4.3/4.5/4.6):
    BIND|STATIC today: nodes = user & new = {2}, pages on 2; left alone: nodes stay {1}, which
    misses the cpuset, so BIND is ignored and pages come from the local node 3.
    INTERLEAVE|STATIC today {2}: pages on 2; left alone {1}: every page starts at node 1, which
    the cpuset refuses, and falls back through 1,0,3,2 to node 3.
    get_mempolicy reports the user's 1-2 in both. PREFERRED|STATIC: today the rebind records the
    new mems in the union that holds the user mask, so get_mempolicy reports 2-3; left alone 1-2."""
    rows = {(r["mode"], r["flags"]): r for r in race.point_a_table()}
    b = rows[("BIND", "STATIC_NODES")]
    assert (b["nodes_today"], b["nodes_proposal"], b["pages_today"], b["pages_proposal"]) == ("2", "1", "2,2,2,2", "3,3,3,3")
    assert b["reported_today"] == b["reported_proposal"] == "1-2"
    il = rows[("INTERLEAVE", "STATIC_NODES")]
    assert (il["pages_today"], il["pages_proposal"], il["same_report"]) == ("2,2,2,2", "3,3,3,3", True)
    p = rows[("PREFERRED", "STATIC_NODES")]
    assert (p["reported_today"], p["reported_proposal"], p["same_pages"]) == ("2-3", "1-2", True)
    for (mode, flags), r in rows.items():
        if flags != "STATIC_NODES":
            assert r["same_report"] and r["same_pages"], (mode, flags)
    assert {m for m, _ in rows} == {"BIND", "INTERLEAVE", "PREFERRED", "PREFERRED_MANY", "WEIGHTED_INTERLEAVE"}
    assert "WEIGHTED_INTERLEAVE" not in {r["mode"] for r in race.point_a_table("5.4")}


# ------------------------------------------------------------------------------- command
def test_cli_json_shape(capsys):
    assert main(["race", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"] == "email"
    assert list(doc["outcomes"]) == list(race.DESIGNS)
    for d in race.DESIGNS:
        assert {"spurious_oom", "allowed_page", "disallowed_page", "retry", "failure"} <= set(doc["outcomes"][d])
        assert isinstance(doc["traces"][d], list)
        for tr, o in zip(doc["traces"][d], doc["trace_outcomes"][d]):
            assert tr[-1]["outcome"] == o and [s["i"] for s in tr] == list(range(1, len(tr) + 1))
    assert "spurious_oom" in doc["trace_outcomes"]["v4.10"]
    assert doc["outcomes"]["v4.13"]["spurious_oom"] == 0


def test_cli_designs_kernel_and_list(capsys):
    assert main(["race", "--scenario", "interleave", "--design", "v4.10", "--kernel", "5.4", "--json",
                 "--no-traces"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["outcomes"]) == ["v4.10", "5.4"]
    assert doc["outcomes"]["v4.10"]["off_policy_page"] > doc["outcomes"]["5.4"]["off_policy_page"]
    assert main(["race", "--list"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("email")
    assert main(["race"]) == 0
    out = capsys.readouterr().out
    assert "OOM killer invoked" in out and "spurious_oom" in out


@pytest.mark.parametrize("argv,needle", [(["race", "--scenario", "nope"], "nope"),
                                         (["race", "--design", "v9"], "unknown design"),
                                         (["race", "--kernel", "3.1"], "3.1")])
def test_cli_errors_are_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("numalab: error:") and needle in err[0]


def test_the_vma_rebind_waits_for_the_faults_mmap_lock():
    """mpol_rebind_mm takes the mmap lock for write (kernel-semantics 3.4), so while the fault
    runs the VMA policy keeps its old nodes: the root of the 2017 race."""
    ex = race.explore("email", "v4.10")
    tr = race.trace(ex, race.shortest(ex, "spurious_oom"))
    assert all("waits for the mmap lock" in s["cpuset_next"] for s in tr[5:-1])
    # a writer that finishes before the fault rebinds the VMA policy: the fault then sees {1}
    rows = [r for r in range(ex.moves.shape[0]) if list(ex.moves[r][:3]) == [1, 1, 1]]
    assert len(rows) == 1 and race.trace(ex, rows[0])[-1]["page"] == 1


@pytest.mark.parametrize("version", ["4.10", "4.12", "4.13", "5.13", "5.14", "6.14", "6.15", "6.18"])
def test_preferred_passes_no_nodemask_so_nothing_can_race(version):
    """policy_nodemask gives PREFERRED no nodemask (kernel-semantics 4.6): whatever the order, the
    live cpuset filter leaves an eligible zone, in every release."""
    c = counts("preferred", version)
    assert c["spurious_oom"] == c["stuck"] == c["failure"] == 0


def test_preferred_node_is_remapped_only_before_v514():
    """mpol_rebind_preferred: v4.10..v5.13 remaps node 0 onto {1}; v5.14+ keeps 0 (4.5)."""
    def writes(v):
        return [w["set"].get("tpol") for w in race.explore("preferred", v).program.writer if "tpol" in w["set"]]
    assert writes("5.13") == [0b10] and writes("5.14") == []


def test_a_scenario_with_too_many_interleavings_is_refused_not_run():
    d = {"name": "huge", "nodes": 16, "mems": "0-15", "changes": ["0-7", "8-15", "0-15"], "word_nodes": 1,
         "policy": {"scope": "task", "mode": "bind", "nodes": "1,3,5,7,9,11,13,15"}}
    with pytest.raises(NumalabError, match="more than 1000 interleavings"):
        race.explore(race.parse_scenario(d), "v4.10", max_rows=1000)
    # the cap holds for a whole batch (its total counted by the scalar reference)
    pairs = [(n, x) for n in race.scenario_names() for x in race.DESIGNS]
    total = sum(ref.enumerate_outcomes(race.compile_program(race.load_scenario(n), race.design(x)).as_dict())
                ["interleavings"] for n, x in pairs)
    with pytest.raises(NumalabError, match=f"more than {total - 1} interleavings"):
        race.explore_many(pairs, max_rows=total - 1)
    assert len(race.explore_many(pairs, max_rows=total)) == len(pairs)
