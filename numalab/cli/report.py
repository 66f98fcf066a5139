"""``numalab report [--out DIR] [--timeout S] [--json] [NOTEBOOK...]``: offline HTML reports.

Executes each notebook (default: every ``notebooks/*.ipynb`` of the repository, sorted) and writes
``DIR/NAME.html`` (one self-contained file, charts render with no network) and ``DIR/index.html``.
stdout: one line per written file (or, with ``--json``, one JSON summary). A notebook that fails
gets no report and one line on stderr naming the notebook, the cell and the error; the others are
still reported, and the exit status is 2. Ctrl-C stops the run at once, keeps every report already
in DIR (also the old report of the notebook that was running) and exits with status 130. An OUT
that cannot be written (a file in the way, no permission, /proc, /sys, /dev) is refused before
any notebook runs.
"""
from __future__ import annotations


from . import emit_json, say
from .._io import escape_text

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="execute notebooks and write self-contained offline HTML reports",
        description=__doc__.split("\n\n", 1)[1])
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="notebooks to run (default: every notebooks/*.ipynb, sorted)")
    p.add_argument("--out", default="reports", metavar="DIR", help="output folder (default: reports)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="seconds allowed per cell (default: 120)")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of lines")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import report as rep

    def said(r):
        if not args.json:
            print(f"{escape_text(r.html)}: {r.charts} chart{'' if r.charts == 1 else 's'}, "
                  f"{r.bytes / 1e6:.2f} MB, executed in {r.execute_s:.1f} s" +
                  (f" (slowest cell[{r.slowest_cell[0]}] {r.slowest_cell[1]:.1f} s)"
                   if r.slowest_cell else ""), flush=True)

    def failed(f):
        say(f"numalab: error: {f.message()}")

    result = rep.build_reports(args.notebooks or None, args.out,
                               timeout=rep.DEFAULT_TIMEOUT if args.timeout is None else args.timeout,
                               on_report=said, on_failure=failed)
    if not result.reports and not result.failures:
        say("numalab: note: no notebooks to run; index.html lists the reports already there")
    if args.json:
        emit_json(result.to_json())
    else:
        print(escape_text(result.index))
    return 0 if result.ok else 2
