"""Timing shared by the benchmark modules (importable when run through run.py or directly)."""
import time


def best_of(fn, repeat=1):
    """Shortest wall time of ``repeat`` calls of ``fn()``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
