"""Memory policies: creating and rebinding a million policies of 64 nodes for one cpuset change,
vectorized engine (numalab.mempolicy) against the scalar reference (numalab.reference.mempolicy).

The reference runs on a subsample and is extrapolated linearly (``reference_extrapolated``).

The interactive paths of notebook 03 at 64 nodes (8 sockets x 8 nodes): ``run_scenario``,
``grid_table`` (every mode x flag for two kernels) and a whole refresh of the live panel. There is
no scalar reference for them (they are built on the engine above): the row gives the engine time
and the target, and the note the time of running the grid one ``run_scenario`` per case.
"""
import time

import numpy as np

from numalab import mempolicy as mp
from numalab.nodemask import packed as pk
from numalab.reference import mempolicy as ref

NB = 64
KERNEL = "6.1"


def _inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    modes = rng.choice([1, 2, 3, 5], size=n)                        # PREFERRED, BIND, INTERLEAVE, PREFERRED_MANY
    flags = rng.choice([0, mp.MPOL_F_STATIC_NODES, mp.MPOL_F_RELATIVE_NODES], size=n)
    user = rng.integers(0, np.iinfo(np.int64).max, size=(n, 1), dtype=np.int64).astype(np.uint64)
    user |= np.uint64(1)                                            # never empty
    allowed = pk.from_nodes(range(0, 48), NB)                       # cpuset mems 0-47
    new = pk.from_nodes(range(16, 64), NB)                          # cpuset.mems written 16-63
    return modes, flags, user, allowed, new


def _best(fn, repeat):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best, out


def _interactive_rows(quick):
    from numalab import sources, zonelist
    from numalab.alloc import run_scenario
    from numalab.viz.policy import MODE_ORDER, FLAG_CHOICES, grid_chart, grid_table, steps_table
    from numalab.widgets.policy import _display

    topo = sources.load("sockets(sockets=8, nodes_per_socket=8)")
    repeat = 3 if quick else 10
    zl = zonelist.build(topo, KERNEL, "boot")
    zl2 = zonelist.build(topo, "6.18", "boot")
    args = dict(mems="0-63", then_mems=["0-31"], cpu_node=0, pages=16)

    def one():
        return run_scenario(topo, KERNEL, mode="interleave", nodes="0-63", zonelists=zl, **args)

    def grid():
        return grid_table(topo, [KERNEL, "6.18"], [("0-63", "0-31")], ["3"], cpu_node=0, pages=16)

    def per_case():                          # the grid one run_scenario per case (no table)
        for k, z in ((KERNEL, zl), ("6.18", zl2)):
            for mode in MODE_ORDER:
                for flags in FLAG_CHOICES:
                    run_scenario(topo, k, mode=mode, flags=list(flags),
                                 nodes=None if mode in ("default", "local") else "3", zonelists=z, **args)

    def refresh():                           # what the panel computes on every change
        res = run_scenario(topo, KERNEL, mode="bind", nodes="3", zonelists=zl, **args)
        _display(steps_table(res))
        _display(grid_chart(grid()))

    t_one, _ = _best(one, repeat)
    t_grid, df = _best(grid, repeat)
    t_cases, _ = _best(per_case, max(1, repeat // 3))
    t_refresh, _ = _best(refresh, repeat)
    size = f"{topo.n_nodes} nodes"
    return [
        {"operation": "run_scenario: one policy through one cpuset.mems change", "size": f"{size}, 16 pages",
         "engine_s": t_one, "reference_s": None, "target": "< 10 ms", "note": "no scalar reference"},
        {"operation": "grid_table: every mode x flag, 2 kernels, one change", "size": f"{size}, {len(df)} rows",
         "engine_s": t_grid, "reference_s": None, "target": "< 60 ms",
         "note": f"no scalar reference; one run_scenario per case: {t_cases * 1e3:.0f} ms"},
        {"operation": "policy panel refresh (scenario, grid, chart, display data)", "size": size,
         "engine_s": t_refresh, "reference_s": None, "target": "< 100 ms", "note": "browser drawing excluded"},
    ]


def rows(quick=False):
    n = 100_000 if quick else 1_000_000
    sub = 2_000 if quick else 20_000
    modes, flags, user, allowed, new = _inputs(n)
    t_create, pol = _best(lambda: mp.create(modes, flags, user, allowed, KERNEL, nbits=NB), 3)
    t_rebind, _ = _best(lambda: mp.rebind(pol, new, KERNEL), 3)

    allowed_set = set(pk.to_nodes(allowed, NB).tolist())
    new_set = set(pk.to_nodes(new, NB).tolist())
    users = [set(pk.to_nodes(user[i], NB).tolist()) for i in range(sub)]
    t0 = time.perf_counter()
    refs = [ref.create(int(modes[i]), int(flags[i]), users[i], allowed_set, KERNEL) for i in range(sub)]
    ref_create = (time.perf_counter() - t0) * n / sub
    t0 = time.perf_counter()
    for p in refs:
        ref.rebind(p, new_set, KERNEL)
    ref_rebind = (time.perf_counter() - t0) * n / sub
    return [
        {"operation": "create policies (mpol_new + mpol_set_nodemask)", "size": f"{n} x {NB} nodes",
         "engine_s": t_create, "reference_s": ref_create, "reference_extrapolated": True, "target": "< 0.2 s",
         "note": f"reference on {sub} policies"},
        {"operation": "rebind policies for one cpuset change", "size": f"{n} x {NB} nodes",
         "engine_s": t_rebind, "reference_s": ref_rebind, "reference_extrapolated": True, "target": "< 0.1 s",
         "note": f"reference on {sub} policies"},
    ] + _interactive_rows(quick)


if __name__ == "__main__":
    for r in rows():
        print(r)
