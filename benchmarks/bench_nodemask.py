"""Benchmarks of numalab.nodemask against the scalar reference (numalab.reference.nodemask).

Masks are 64-node nodemasks, each the union of 1 to 4 random ranges (what cpuset.mems and
policy nodemasks look like), from a fixed seed. The reference runs plain Python loops over bits;
at the full sizes it runs on a subsample and its time is scaled to the full size
(``reference_extrapolated``).
"""
import time

import numpy as np

from numalab import nodemask as nm
from numalab.reference import nodemask as ref

NBITS = 64


def _masks(rows, seed):
    rng = np.random.default_rng(seed)
    masks = np.zeros((rows, NBITS), bool)
    bits = np.arange(NBITS)
    for k in range(4):
        start = rng.integers(0, NBITS, rows)
        length = rng.integers(1, 12, rows)
        use = rng.random(rows) < (1.0 if k == 0 else 0.5)
        masks |= use[:, None] & (bits >= start[:, None]) & (bits < (start + length)[:, None])
    return masks


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _row(operation, size, engine_s, ref_fn, ref_items, note=""):
    """Time ``ref_fn`` over ``ref_items`` (a subsample) and scale to ``size``."""
    ref_s = _time(lambda: [ref_fn(*item) for item in ref_items])
    scaled = ref_s * size / len(ref_items)
    return {"operation": operation, "size": size, "engine_s": engine_s, "reference_s": scaled,
            "reference_extrapolated": len(ref_items) < size, "note": note}


def rows(quick=False):
    size = 100_000 if quick else 1_000_000
    sample = 500 if quick else 2_000
    masks = _masks(size, 1)
    lists = nm.format_list(masks).tolist()
    hexes = nm.format_hex(masks).tolist()
    sub = masks[:sample]
    sub_lists = [list(m) for m in sub]
    old, new = nm.parselist("0-31", NBITS), nm.parselist("8-15,40-47", NBITS)
    olds, news = _masks(size, 2), _masks(size, 3)
    out = []

    eng = _time(lambda: nm.parselist(lists, NBITS))
    out.append(_row("parselist (list text -> mask)", size, eng,
                    lambda t: ref.parselist(t, NBITS), [(t,) for t in lists[:sample]],
                    "Python list of str in, bool array out"))
    eng = _time(lambda: nm.parse_hex(hexes, NBITS))
    out.append(_row("parse_hex (%*pb text -> mask)", size, eng,
                    lambda t: ref.parse_hex(t, NBITS), [(t,) for t in hexes[:sample]]))
    eng = _time(lambda: nm.format_list(masks))
    out.append(_row("format_list (%*pbl)", size, eng, ref.format_list, [(m,) for m in sub_lists]))
    eng = _time(lambda: nm.format_hex(masks))
    out.append(_row("format_hex (%*pb)", size, eng, ref.format_hex, [(m,) for m in sub_lists]))
    o, w = list(old), list(new)
    eng = _time(lambda: nm.remap(masks, old, new))
    out.append(_row("remap, one cpuset change", size, eng, ref.remap,
                    [(m, o, w) for m in sub_lists], "old 0-31 -> new 8-15,40-47"))
    eng = _time(lambda: nm.remap(masks, olds, news))
    out.append(_row("remap, per-mask old/new", size, eng, ref.remap,
                    [(list(a), list(b), list(c)) for a, b, c in zip(sub, olds[:sample], news[:sample])]))
    eng = _time(lambda: nm.relative(masks, new))
    out.append(_row("relative (fold + onto)", size, eng, ref.relative, [(m, w) for m in sub_lists],
                    "MPOL_F_RELATIVE_NODES onto 8-15,40-47"))
    return out


if __name__ == "__main__":
    for r in rows(quick=True):
        print(r)
