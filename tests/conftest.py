"""Shared test set-up: hypothesis profiles and paths to the recorded kernel truth."""
import os
import pathlib

import pytest

from hypothesis import HealthCheck, settings

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

settings.register_profile("default", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=3000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("quick", deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("NUMALAB_HYPOTHESIS", "default"))


@pytest.fixture(scope="session")
def root():
    return ROOT


# Tables that tests report at the end of the run (e.g. browser latencies), without needing -s.
_TABLES: list = []


@pytest.fixture(scope="session")
def report_table():
    """``report_table(title, lines)`` prints the lines in pytest's terminal summary."""
    return lambda title, lines: _TABLES.append((title, list(lines)))


def pytest_terminal_summary(terminalreporter):
    for title, lines in _TABLES:
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)
