"""Benchmark: all zonelists of 64-, 256- and 1024-node machines, engine vs scalar reference.

Machines: groups of 4 nodes (distance 12) inside groups of 16 (21), 32 between groups of 16;
every other node is CPU-less (CXL-like); node 0 holds DMA and DMA32 too. Built as a rebuild
(so the CPU penalty is active) with the newest kernel. The reference (O(n^3) plain loops) runs at
64 and 256 nodes; at 1024 nodes it is extrapolated from 256 by n^3. Peak memory of the 1024-node
engine build is measured with tracemalloc.
"""
import tracemalloc

import numpy as np

from numalab import zonelist as zlm
from numalab.reference import zonelist as ref
from numalab.topology import Topology

from _timing import best_of as _time


def machine(n):
    i = np.arange(n)
    dist = np.where(i[:, None] // 4 == i[None, :] // 4, 12, np.where(i[:, None] // 16 == i[None, :] // 16, 21, 32))
    np.fill_diagonal(dist, 10)
    pages = np.zeros((n, 5), np.int64)
    pages[:, 2] = 1 << 20
    pages[0, :2] = (4000, 1 << 19)
    cpu_nodes = i[i % 2 == 0]
    return Topology(name=f"bench-{n}", node_ids=i, distance=dist, cpu_ids=np.arange(cpu_nodes.size),
                    cpu_node=cpu_nodes, present_pages=pages, managed_pages=pages, source="bench_zonelist")


def _engine(t):
    zlm._build_cached.cache_clear()
    return zlm.build(t, "current", "rebuild")


def rows(quick=False):
    out = []
    sizes = (64, 256) if quick else (64, 256, 1024)
    ref_256 = None
    for n in sizes:
        t = machine(n)
        eng = _time(lambda: _engine(t), 3 if n < 1024 else 2)
        row = {"operation": "build all zonelists", "size": f"{n} nodes", "engine_s": eng}
        if n <= 256:
            r = _time(lambda: ref.build_all_zonelists(t, "current", "rebuild"), 1)
            row["reference_s"] = r
            if n == 256:
                ref_256 = r
                row["target"] = ">= 100x faster than the reference"
        else:
            row["reference_s"] = ref_256 * (n / 256) ** 3 if ref_256 else None
            row["reference_extrapolated"] = True
            tracemalloc.start()
            _engine(t)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            row["target"] = "< 0.2 s, < 200 MB peak"
            row["note"] = f"peak {peak / 2**20:.0f} MB (tracemalloc)"
        out.append(row)
    return out


if __name__ == "__main__":
    for r in rows():
        print(r)
