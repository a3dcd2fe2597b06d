"""The concurrent phase freezes the heap it starts with (``gc.freeze``), so that a full garbage
collection during the phase scans only what the phase made: one over the whole heap took 30 to
70 ms and fell inside a search of the checker (issue 11's bar is 50 ms per search)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.suite import races, run_suite
from tests.suite.conftest import config_for


def test_the_checker_searches_with_the_heap_before_the_phase_frozen(reference: EmbeddedServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert gc.get_freeze_count() == 0
    frozen: list[int] = []
    original = races.check

    def check(*args: Any, **options: Any) -> Any:
        frozen.append(gc.get_freeze_count())
        return original(*args, **options)

    monkeypatch.setattr(races, "check", check)
    result = run_suite(config_for(reference, phases=("concurrent",), race_examples=2, race_repeats=1))
    assert result.conformant, result.failure
    assert frozen and min(frozen) > 0  # every search: the objects from before the phase left alone
    assert gc.get_freeze_count() == 0  # and given back to the collector after it
