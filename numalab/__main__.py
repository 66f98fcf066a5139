try:  # Ctrl-C during start-up: exit 130 quietly (numalab.cli's own imports are guarded too)
    from .cli import _entry
except KeyboardInterrupt:  # pragma: no cover - timing dependent
    raise SystemExit(130) from None

_entry()
