#!/usr/bin/env python3
"""numalab benchmarks: the vectorized engine against the scalar reference, in one run.

Every ``benchmarks/bench_*.py`` module defines ``rows(quick: bool) -> list[dict]`` with keys
``operation``, ``size``, ``engine_s`` (seconds), ``reference_s`` (seconds, or None when the
reference is too slow to run at that size: then it is extrapolated and marked ``~``), and
optionally ``target`` (a plain-language target, e.g. "< 0.1 s") and ``note``.
This script prints one table with the ratio reference/engine. It is a script, not a timed test.
Rows with no scalar reference (``bench_widgets``: each widget panel's update at 64 and 256 nodes,
in this process and redrawn in JupyterLab) show the time against their target, ratio "-".

    python benchmarks/run.py [--quick] [--only NAME] [--json]
"""
import argparse
import importlib.util
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))  # benchmarks/_timing.py


def load_modules(only=None):
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem[len("bench_"):]
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield name, mod


def fmt_s(s):
    if s is None:
        return "-"
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--only", nargs="*", help="benchmark module names (e.g. nodemask zonelist)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for name, mod in load_modules(args.only):
        for r in mod.rows(args.quick):
            r.setdefault("group", name)
            eng, ref = r.get("engine_s"), r.get("reference_s")
            r["ratio"] = (ref / eng) if (eng and ref) else None
            rows.append(r)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    head = ("group", "operation", "size", "engine", "reference", "ratio", "target", "note")
    table = [[r["group"], r["operation"], str(r["size"]), fmt_s(r.get("engine_s")),
              ("~" if r.get("reference_extrapolated") else "") + fmt_s(r.get("reference_s")),
              (f"{r['ratio']:.1f}x" if r["ratio"] < 10 else f"{r['ratio']:.0f}x") if r.get("ratio") else "-", r.get("target", ""), r.get("note", "")]
             for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print(line)
    print("-" * len(line))
    for t in table:
        print("  ".join(c.ljust(w) for c, w in zip(t, widths)))


if __name__ == "__main__":
    main()
