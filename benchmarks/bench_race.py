"""Races (numalab.race): every interleaving of every shipped scenario for all five designs,
vectorized breadth-first enumeration against the scalar recursive reference
(numalab.reference.race). Issue 12's target: all of it in under 2 s.

The shipped scenarios are small (tens of interleavings each), so numpy's per-call overhead
dominates and the plain recursive reference is faster there; the generated 12-node row shows the
crossover. The compile step (writer values through numalab.mempolicy) is shared and timed with the engine.
"""
import time

from numalab import race
from numalab.reference import race as ref


def _best(fn, repeat):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best


def rows(quick):
    names = race.scenario_names()
    repeat = 2 if quick else 5
    programs = [race.compile_program(race.load_scenario(n), race.design(d)).as_dict()
                for n in names for d in race.DESIGNS]

    def engine():
        for n in names:
            for d in race.DESIGNS:
                race.explore(n, d)

    def reference():
        for p in programs:
            ref.enumerate_outcomes(p)

    def with_traces():
        race.run_all()

    big = race.parse_scenario({
        "name": "stress", "nodes": 12, "cpu_node": 0, "mems": "0-11", "changes": ["0-5", "6-11", "0,2,4,6,8,10"],
        "entry": "fault", "policy": {"scope": "task", "mode": "bind", "flags": [], "nodes": "1,3,5,7,9,11"},
        "word_nodes": 2, "reclaim": "endless", "watermark": "low"})
    big_prog = race.compile_program(big, race.design("v4.10")).as_dict()
    big_n = race.explore(big, "v4.10").moves.shape[0]

    total = sum(race.explore(n, d).moves.shape[0] for n in names for d in race.DESIGNS)
    size = f"{len(names)} scenarios x {len(race.DESIGNS)} designs, {total} interleavings"
    return [
        {"operation": "race: enumerate and classify every interleaving", "size": size,
         "engine_s": _best(engine, repeat), "reference_s": _best(reference, repeat), "target": "< 2 s"},
        {"operation": "race: a generated 12-node scenario, three writes, torn stores (v4.10)",
         "size": f"{big_n} interleavings", "engine_s": _best(lambda: race.explore(big, "v4.10"), repeat),
         "reference_s": _best(lambda: ref.enumerate_outcomes(big_prog), max(1, repeat // 2)),
         "note": "not shipped: shows how the two scale"},
        {"operation": "race: the same plus the shortest trace of every bad outcome (numalab race)",
         "size": size, "engine_s": _best(with_traces, repeat), "reference_s": None, "target": "< 2 s",
         "note": "no scalar reference for the traces"},
    ]
