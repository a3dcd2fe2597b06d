"""A pytest plugin that makes a long wait between collecting the tests and running them, to find
tests that depend on it: a value taken from the clock at import or collection time (a signature
timestamp, a deadline) that is stale by the time its test runs on a loaded machine.

While pytest imports and collects, ``time.time``, ``time.time_ns``, ``time.monotonic`` and
``time.monotonic_ns`` run ``SKEW`` seconds behind; from the end of collection on they are right
again, so to the tests ``SKEW`` seconds have passed since collection. Only collection is skewed,
so servers, subprocesses and functions that captured ``time.time`` at import see one consistent
clock while the tests run. Use it on any set of tests::

    .venv/bin/python -m pytest -p tests._skewclock tests/suite/test_suite_receiver.py
    .venv/bin/python -m pytest -n 2 -p tests._skewclock      # the whole suite

``tests/test_clock_independence.py`` runs it on the tests that once depended on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

#: Seconds the clock runs behind during collection: more than the 300 s that a webhook signature
#: stays fresh, as happened on a loaded machine (524 s).
SKEW = 600

_collecting = True


def _behind(real: Callable[[], float], skew: float) -> Callable[[], float]:
    def clock() -> float:
        return real() - skew if _collecting else real()

    return clock


def _behind_ns(real: Callable[[], int], skew: int) -> Callable[[], int]:
    def clock() -> int:
        return real() - skew if _collecting else real()

    return clock


# At import, which `-p` makes happen before any test module or conftest is imported.
time.time = _behind(time.time, SKEW)
time.monotonic = _behind(time.monotonic, SKEW)
time.time_ns = _behind_ns(time.time_ns, SKEW * 10**9)
time.monotonic_ns = _behind_ns(time.monotonic_ns, SKEW * 10**9)


def _end_of_collection() -> None:
    global _collecting
    _collecting = False


def pytest_collection_finish(session: pytest.Session) -> None:
    _end_of_collection()


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    # pytest-xdist's controller collects nothing; its workers each pass pytest_collection_finish.
    _end_of_collection()
