"""Races (numalab.race): every interleaving of every shipped scenario, vectorized breadth-first
enumeration against the scalar recursive reference (numalab.reference.race). Issue 12's target:
all of it in under 2 s.

The shipped scenarios are small (4 to 349 interleavings per scenario and design), so what costs
is numpy's per-call overhead, not the rows. The engine therefore advances every (scenario,
design) pair of a request in one batch (``race.explore_many``: one array pass per step and
level, whatever the number of pairs); that is what ``numalab race``, ``run_all`` and the
notebook do. Rows:

* one batch of the 8 x 5 shipped pairs, and the same with three more releases (8 x 8): compiled
  programs cached on both sides (the reference is handed ``Program.as_dict()``);
* the same 40 pairs with one ``explore()`` call each: the per-call overhead the batch removes
  (the reference wins here);
* from scratch: the compile step (writer values through numalab.mempolicy) and the design
  lookups included on both sides, the engine's caches cleared before every run;
* a generated 12-node scenario (not shipped) where the rows, not the calls, dominate;
* ``run_all`` with the shortest trace of every bad outcome (no scalar reference for traces).
"""
import time

from numalab import race
from numalab.reference import race as ref

KERNELS = ("4.12", "5.4", "6.14")


def _best(fn, repeat):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best


def _program(n, d):
    return race.compile_program(race.load_scenario(n), race.design(d)).as_dict()


def rows(quick):
    names = race.scenario_names()
    repeat = 3 if quick else 11
    pairs = [(n, d) for n in names for d in race.DESIGNS]
    kpairs = [(n, d) for n in names for d in race.DESIGNS + KERNELS]
    programs = {p: _program(*p) for p in kpairs}
    race.explore_many(kpairs)                            # compile once (cached), as the reference's programs

    def reference(ps):
        return lambda: [ref.enumerate_outcomes(programs[p]) for p in ps]

    def cold_engine():
        race._compiled.cache_clear()
        race._named_design.cache_clear()
        race.explore_many(pairs)

    def cold_reference():
        for p in pairs:
            ref.enumerate_outcomes(_program(*p))

    big = race.parse_scenario({
        "name": "stress", "nodes": 12, "cpu_node": 0, "mems": "0-11", "changes": ["0-5", "6-11", "0,2,4,6,8,10"],
        "entry": "fault", "policy": {"scope": "task", "mode": "bind", "flags": [], "nodes": "1,3,5,7,9,11"},
        "word_nodes": 2, "reclaim": "endless", "watermark": "low"})
    big_prog = race.compile_program(big, race.design("v4.10")).as_dict()
    big_n = race.explore(big, "v4.10").moves.shape[0]

    total = sum(e.moves.shape[0] for e in race.explore_many(pairs))
    ktotal = sum(e.moves.shape[0] for e in race.explore_many(kpairs))
    size = f"{len(names)} scenarios x {len(race.DESIGNS)} designs, {total} interleavings"
    out = [
        {"operation": "race: every interleaving of every shipped pair, one batch (explore_many)", "size": size,
         "engine_s": _best(lambda: race.explore_many(pairs), repeat), "reference_s": _best(reference(pairs), repeat),
         "target": "< 2 s", "note": "compiled programs cached on both sides"},
        {"operation": "race: the same x releases 4.12, 5.4, 6.14, one batch",
         "size": f"{len(names)} scenarios x {len(race.DESIGNS) + len(KERNELS)} designs, {ktotal} interleavings",
         "engine_s": _best(lambda: race.explore_many(kpairs), repeat),
         "reference_s": _best(reference(kpairs), repeat), "target": "< 2 s"},
        {"operation": "race: the shipped pairs, one explore() call each", "size": size,
         "engine_s": _best(lambda: [race.explore(n, d) for n, d in pairs], repeat),
         "reference_s": _best(reference(pairs), repeat), "note": "per-call overhead: the batch is the fast path"},
        {"operation": "race: one batch from scratch (compile and design lookups included)", "size": size,
         "engine_s": _best(cold_engine, repeat), "reference_s": _best(cold_reference, repeat),
         "note": "engine caches cleared each run"},
        {"operation": "race: a generated 12-node scenario, three writes, torn stores (v4.10)",
         "size": f"{big_n} interleavings", "engine_s": _best(lambda: race.explore(big, "v4.10"), max(1, repeat // 3)),
         "reference_s": _best(lambda: ref.enumerate_outcomes(big_prog), max(1, repeat // 3)),
         "note": "not shipped: rows dominate, not calls"},
        {"operation": "race: run_all, plus the shortest trace of every bad outcome (numalab race)",
         "size": size, "engine_s": _best(race.run_all, repeat), "reference_s": None, "target": "< 2 s",
         "note": "no scalar reference for the traces"},
    ]
    race.explore_many(kpairs)                            # leave the caches warm
    return out
