"""Benchmark: the 1024-node zonelist build against a plain C loop of the kernel's rule.

``benchmarks/c/find_next_best_node.c`` is ``build_zonelists()``/``find_next_best_node()`` written
the way mm/page_alloc.c reads (v5.19+ node_load rule, O(n^3)), compiled with ``gcc -O2`` when gcc
is present (otherwise the row is skipped and says why). Machine: a random 5-level SLIT (10 on the
diagonal, 12/16/21/32 drawn at random for every pair, symmetric), about half the nodes with CPUs,
built as a rebuild so that the CPU penalty is on. The C program times its own loop (input parsing
and printing excluded); its fallback orders must equal numalab's, else the row fails loudly.
Both sides report their best run (C: two, numalab: seven). Target: numalab at least 25x faster
than the C loop at 1024 nodes. On a quiet machine the ratio was about 30-37x; with other heavy
jobs on the same two cores it dropped to 20-30x (numalab's memory-bound array passes suffer more
from sharing than the C loop's scan of one row).
"""
import pathlib
import shutil
import subprocess
import tempfile
import time

import numpy as np

from numalab import zonelist as zlm
from numalab.topology import Topology

SOURCE = pathlib.Path(__file__).resolve().parent / "c" / "find_next_best_node.c"


def machine(n, seed=0):
    """A random 5-level SLIT machine of ``n`` nodes (every node with Normal memory)."""
    rng = np.random.default_rng(seed)
    d = np.array([12, 16, 21, 32])[rng.integers(0, 4, (n, n))]
    d = np.triu(d, 1)
    d = d + d.T
    np.fill_diagonal(d, 10)
    pages = np.zeros((n, 5), np.int64)
    pages[:, 2] = 1 << 20
    pages[0, :2] = (4000, 1 << 19)
    cpu_nodes = np.flatnonzero(rng.random(n) < 0.5)
    return Topology(name=f"random-slit-{n}", node_ids=np.arange(n), distance=d,
                    cpu_ids=np.arange(cpu_nodes.size), cpu_node=cpu_nodes, present_pages=pages,
                    managed_pages=pages, source="bench_zonelist_c")


def _engine(t):
    zlm._build_cached.cache_clear()
    return zlm.build(t, "current", "rebuild")


def _c_input(t):
    return (f"{t.n_nodes} {t.max_numnodes}\n" + " ".join(map(str, t.distance.ravel().tolist())) + "\n"
            + " ".join(map(str, t.has_cpu.astype(int).tolist())) + "\n"
            + " ".join(map(str, t.has_memory.astype(int).tolist())) + "\n")


def rows(quick=False):
    n = 256 if quick else 1024
    row = {"operation": "build all zonelists vs a plain C loop (gcc -O2)", "size": f"{n} nodes",
           "target": ">= 25x faster than the C loop" if n == 1024 else ""}
    gcc = shutil.which("gcc")
    if gcc is None:
        row.update(engine_s=None, reference_s=None, note="skipped: gcc not found on PATH")
        return [row]
    t = machine(n)
    with tempfile.TemporaryDirectory() as tmp:
        exe = pathlib.Path(tmp) / "fnbn"
        subprocess.run([gcc, "-O2", "-o", str(exe), str(SOURCE)], check=True)
        inp = _c_input(t)
        c_best, lines = float("inf"), None
        for _ in range(2):                           # best of two (about 1 s each at 1024 nodes)
            out = subprocess.run([str(exe)], input=inp, capture_output=True, text=True, check=True)
            lines = out.stdout.splitlines()
            c_best = min(c_best, float(lines[0]))
    eng, zl = float("inf"), None
    for _ in range(7):                               # best of seven
        t0 = time.perf_counter()
        zl = _engine(t)
        eng = min(eng, time.perf_counter() - t0)
    c_orders = [[int(x) for x in line.split()] for line in lines[1:]]
    if len(c_orders) != n or any(c_orders[i] != zl.fallback_order(i) for i in range(n)):
        raise AssertionError("numalab's fallback orders differ from the C loop's")
    row.update(engine_s=eng, reference_s=c_best, note="C output equal (all fallback orders)")
    return [row]


if __name__ == "__main__":
    for r in rows():
        print(r)
