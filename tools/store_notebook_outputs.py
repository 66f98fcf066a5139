#!/usr/bin/env python3
"""Re-execute notebooks in place, storing their outputs (what ``make notebooks`` runs).

    python tools/store_notebook_outputs.py [NOTEBOOK...]     # default: every notebooks/*.ipynb

Each notebook runs headless in its own folder with ``PYTHONHASHSEED=0`` and is replaced
atomically; one that fails is left unchanged, named on stderr with its failing cell, and the
exit status is 2. ``make test`` then compares the stored outputs under ``pytest --nbval``.
"""
import sys

from numalab import report
from numalab.errors import NumalabError


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        stored, failures = report.store_outputs(
            argv or None, on_stored=lambda p: print(f"stored outputs: {p}", flush=True),
            on_failure=lambda f: print(f"numalab: error: {f.message()}", file=sys.stderr, flush=True))
    except NumalabError as e:
        print(f"numalab: error: {e}", file=sys.stderr)
        return 2
    return 2 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
