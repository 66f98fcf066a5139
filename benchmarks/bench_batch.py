"""``numalab policy --batch``: lines grouped through the engine, against one engine run per line.

The "reference" column here is not the scalar model: it is the same batch answered one line at a
time (what the batch mode did before lines were grouped), so the ratio is the gain of grouping.
Both columns include reading, checking, formatting and writing the JSON lines.
"""
import io
import json
import pathlib
import random
import time

from numalab.cli.policy import run_batch, run_query

CXL4 = str(pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "kernel-truth" / "snapshots" / "cxl4")
MODES = ["bind", "interleave", "preferred", "local", "default", "preferred_many", "weighted_interleave"]


def _lines(n, seed=1):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        m = rng.choice(MODES)
        out.append(json.dumps({"topology": CXL4, "kernel": rng.choice(["6.1", "6.12", "5.4"]),
                               "mems": rng.choice(["0-3", "0-1", "2-3"]),
                               "then_mems": [rng.choice(["0-1", "1-3", "0-3"])], "mode": m,
                               "nodes": None if m in ("local", "default") else rng.choice(["0", "1-2", "0-3", "3"]),
                               "pages": 8}))
    return out


def rows(quick: bool):
    n = 500 if quick else 5000
    lines = _lines(n)
    t0 = time.perf_counter()
    run_batch(lines, io.StringIO())
    grouped = time.perf_counter() - t0
    caches = ({}, {})
    t0 = time.perf_counter()
    for line in lines:
        json.dumps(run_query(json.loads(line), topo_cache=caches[0], zl_cache=caches[1]))
    single = time.perf_counter() - t0
    return [{"operation": "policy --batch, lines grouped by cpuset", "size": f"{n} lines",
             "engine_s": grouped, "reference_s": single, "target": "100k lines < 30 s",
             "note": f"{n / grouped:.0f} lines/s; reference = one engine run per line"}]
