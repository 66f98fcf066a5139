"""Memory policies: creating and rebinding a million policies of 64 nodes for one cpuset change,
vectorized engine (numalab.mempolicy) against the scalar reference (numalab.reference.mempolicy).

The reference runs on a subsample and is extrapolated linearly (``reference_extrapolated``).
"""
import time

import numpy as np

from numalab import mempolicy as mp
from numalab.reference import mempolicy as ref

NB = 64
KERNEL = "6.1"


def _inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    modes = rng.choice([1, 2, 3, 5], size=n)                        # PREFERRED, BIND, INTERLEAVE, PREFERRED_MANY
    flags = rng.choice([0, mp.MPOL_F_STATIC_NODES, mp.MPOL_F_RELATIVE_NODES], size=n)
    user = rng.integers(0, np.iinfo(np.int64).max, size=(n, 1), dtype=np.int64).astype(np.uint64)
    user |= np.uint64(1)                                            # never empty
    allowed = mp.from_nodes(range(0, 48), NB)                       # cpuset mems 0-47
    new = mp.from_nodes(range(16, 64), NB)                          # cpuset.mems written 16-63
    return modes, flags, user, allowed, new


def _best(fn, repeat):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best, out


def rows(quick=False):
    n = 100_000 if quick else 1_000_000
    sub = 2_000 if quick else 20_000
    modes, flags, user, allowed, new = _inputs(n)
    t_create, pol = _best(lambda: mp.create(modes, flags, user, allowed, KERNEL, nbits=NB), 3)
    t_rebind, _ = _best(lambda: mp.rebind(pol, new, KERNEL), 3)

    allowed_set = set(mp.to_nodes(allowed, NB))
    new_set = set(mp.to_nodes(new, NB))
    users = [set(mp.to_nodes(user[i], NB)) for i in range(sub)]
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
    ]


if __name__ == "__main__":
    for r in rows():
        print(r)
