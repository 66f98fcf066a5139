"""Benchmark: per-cpuset zonelists - candidate zones, ``compare`` and ``cost`` against the scalar reference.

* candidate zones today for a batch of random requests on flat-8 (engine: one vectorized call;
  reference: :func:`numalab.reference.candidates.today` per request);
* ``compare`` exhaustive on flat-8 (21.5 M requests, every named design): the reference would
  evaluate today and each design per request; it is timed on 2,000 requests and extrapolated;
* ``cost`` of 10,000 random cpusets on a 1024-node machine, every named design (reference:
  :func:`numalab.reference.cost.cpuset_bytes`, timed on 200 cpusets and extrapolated).
"""
import time

import numpy as np

from numalab import candidates as cd
from numalab import cgsets, compare, cost, sources
from numalab import zonelist as zlm
from numalab.reference import candidates as rcand
from numalab.reference import cost as rcost
from numalab.topology import Topology

from _timing import best_of as _time


def _random_rows(t, cs, B, seed=0):
    rng = np.random.default_rng(seed)
    n = t.n_nodes
    rows = []
    for _ in range(B):
        mode = cd.MODES[rng.integers(3)]
        nodes = np.flatnonzero(rng.random(n) < 0.4).tolist() or [0]
        rows.append(dict(cpuset=cs.paths[rng.integers(len(cs))], cpu=int(rng.integers(n)), policy=mode,
                         nodes=",".join(map(str, nodes)), gfp=cd.DEFAULT_GFPS[rng.integers(5)],
                         context=cd.CONTEXTS[rng.integers(4)]))
    return rows


def _ref_request(t, cs, r):
    c = cs.paths.index(r["cpuset"])
    nodes = {int(x) for x in r["nodes"].split(",")} if r["policy"] != "local" else set()
    if r["policy"] == "preferred":
        nodes = {min(nodes)}
    return dict(mems=set(np.flatnonzero(cs.mems[c]).tolist()), hardwall_mems=set(np.flatnonzero(cs.hardwall_mems[c]).tolist()),
                cpu=r["cpu"], mode=r["policy"], nodes=nodes, gfp=r["gfp"], context=r["context"], enabled=True)


def rows(quick=False):
    out = []
    t = sources.load("flat-8")
    zl = zlm.build(t, "6.12")
    cs = cgsets.every_mask(t)
    B = 2000
    req_rows = _random_rows(t, cs, B)
    req = cd.requests(cs, req_rows)
    eng = _time(lambda: cd.today(zl, req), 3)
    refr = [_ref_request(t, cs, r) for r in req_rows]
    ref = _time(lambda: [rcand.today(t, "6.12", r) for r in refr])
    out.append({"operation": "candidate zones today (batch)", "size": f"{B} requests, 8 nodes", "engine_s": eng,
                "reference_s": ref, "target": "interactive (< 0.1 s)"})

    if not quick:
        t0c = time.process_time()
        eng = _time(lambda: compare.compare(t, "6.12"))
        cpu = time.process_time() - t0c
        res = compare.compare(t, "6.12", ["static-ancestor"])
        designs = list(cost.DESIGNS)
        behaviours = len({cost.DESIGNS[d].behaviour for d in designs})
        sub = refr[:200]
        d = cost.DESIGNS["rebuild-ancestor"]
        dd = dict(hardwall=d.hardwall, softwall=d.softwall, nofallback=d.nofallback, nodes=d.nodes, oom=d.oom)
        for r, rr in zip(sub, req_rows[:200]):
            c = cs.paths.index(rr["cpuset"])
            a = int(cs.hardwall_index[c])
            r.update(ancestor_mems=None if a < 0 else set(np.flatnonzero(cs.mems[a]).tolist()),
                     cpu_nodes=set(np.flatnonzero(cs.cpu_nodes[c]).tolist()), root=False)
        per = _time(lambda: [(rcand.today(t, "6.12", r), rcand.proposal(t, "6.12", r, dict(dd, hardwall="filter")))
                             for r in sub]) / len(sub)
        out.append({"operation": "compare, exhaustive, every named design", "size": f"{res.requests:,} requests x "
                    f"{len(designs)} designs, flat-8", "engine_s": eng,
                    "reference_s": per * res.requests * behaviours, "reference_extrapolated": True,
                    "target": "< 10 s", "note": f"engine CPU time {cpu:.1f} s (wall time includes other load)"})

    n = 256 if quick else 1024
    pages = np.zeros((n, 5), np.int64)
    pages[:, 2] = 1 << 18
    dist = np.full((n, n), 20)
    np.fill_diagonal(dist, 10)
    big = Topology(name=f"flat-{n}", node_ids=np.arange(n), distance=dist, cpu_ids=np.arange(n), cpu_node=np.arange(n),
                   present_pages=pages, managed_pages=pages)
    K = 10_000
    cs_big = cgsets.generate(big, K, "random", tasks=3)
    c0 = time.process_time()
    eng = _time(lambda: cost.cost(big, "debian-6.12-amd64", cs_big), 3)
    cpu = (time.process_time() - c0) / 3
    recs = [{"mems": set(np.flatnonzero(cs_big.mems[k]).tolist()), "starts": set(np.flatnonzero(cs_big.cpu_nodes[k]).tolist())}
            for k in range(200)]
    zones = {i: 1 for i in range(n)}
    ref = 0.0
    for d in cost.DESIGNS.values():
        dd = dict(softwall=d.softwall, nofallback=d.nofallback, nodes=d.nodes, size=d.size, shared=d.shared)
        ref += _time(lambda: rcost.cpuset_bytes(10, 5, zones, list(range(n)), recs, dd))
    out.append({"operation": "cost, every named design", "size": f"{K:,} cpusets, {n} nodes", "engine_s": eng,
                "reference_s": ref * K / 200, "reference_extrapolated": True, "target": "< 0.1 s",
                "note": f"engine CPU time {cpu * 1e3:.0f} ms per run"})
    return out


if __name__ == "__main__":
    for r in rows():
        print(r)
