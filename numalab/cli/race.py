"""``numalab race [--scenario NAME] [--design D]... [--kernel V]... [--list] [--json]``.

Every interleaving of one page allocation with cpuset.mems writes (issue 12, the 2017 LSF/MM
topic), counted per outcome for each design, and the shortest interleaving of every bad outcome
step by step. Designs: ``v4.10``, ``v4.13``, ``v6.15``, ``copy-swap``, ``cpuset-zonelists``
(default: all five); ``--kernel V`` adds the code of any release (its rule variants).

Examples::

    $ numalab race --design v4.10 --design v4.13
    $ numalab race --scenario interleave --kernel 5.4 --json
"""
from __future__ import annotations

from .. import race
from . import emit_json

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("race", help="enumerate the allocation / cpuset-change races",
                              description="Every interleaving of a page allocation with cpuset.mems writes, "
                                          "counted per outcome and design, with the shortest bad traces.")
    p.add_argument("--scenario", default="email", help="scenario name (default: email; see --list)")
    p.add_argument("--design", action="append", metavar="D",
                   help="design: " + ", ".join(race.DESIGNS) + " (repeatable; default: all)")
    p.add_argument("--kernel", action="append", metavar="V",
                   help="also the code of kernel release V, e.g. 5.4 (repeatable)")
    p.add_argument("--list", action="store_true", help="name the scenarios")
    p.add_argument("--no-traces", action="store_true", help="counts only")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.set_defaults(func=run)


def _designs(args) -> list:
    out = list(args.design or [])
    for d in out:
        if d not in race.DESIGNS:
            from ..errors import NumalabError
            raise NumalabError(f"unknown design; known: {', '.join(race.DESIGNS)} (or --kernel V)", input=d)
    for v in args.kernel or []:
        out.append(race.design(v).name)          # validates the release number
    return out or list(race.DESIGNS)


def run(args) -> int:
    if args.list:
        rows = race.scenarios()
        if args.json:
            emit_json({"scenarios": [{"name": n, "title": t} for n, t in rows]})
        else:
            for n, t in rows:
                print(f"{n:<16} {t}")
        return 0
    res = race.run(args.scenario, _designs(args), traces=not args.no_traces)
    if args.json:
        emit_json(res)
        return 0
    print(f"scenario {res['scenario']}: {res['title']}")
    keys = list(race.OUTCOMES) + list(race.COUNTERS)
    names = list(res["outcomes"])
    w = max(len(k) for k in keys)
    print(" " * (w + 2) + "".join(f"{n:>18}" for n in names))
    for k in keys:
        print(f"  {k:<{w}}" + "".join(f"{res['outcomes'][n][k]:>18}" for n in names))
    print(f"  {'interleavings':<{w}}" + "".join(f"{res['interleavings'][n]:>18}" for n in names))
    for n in names:
        for o, tr in zip(res["trace_outcomes"][n], res["traces"][n]):
            print(f"\n{n}: shortest interleaving ending in {o} ({len(tr)} steps)")
            for s in tr:
                print(f"  {s['i']:>2} {s['actor']:<6} {s['step']}")
                print(f"     {'':<6} mems_allowed={{{s['mems_allowed']}}} seq={s['seq']} "
                      f"policy={{{s['policy']}}} task sees: {s['sees']}; cpuset next: {s['cpuset_next']}")
    return 0
