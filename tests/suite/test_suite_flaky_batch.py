"""A batch that Hypothesis stops with "inconsistent data generation" while nothing failed.

Replaying its own choices, Hypothesis can draw other steps than the first time when the
implementation answers the same requests differently (or its webhooks come at other times): it
then raises ``FlakyStrategyDefinition``. That says nothing against the implementation, so the run
goes on with its next batch and tells the user, in the output and the report, which batch was
cut short and the seed that replays it; it must never end in a traceback (it once did, behind a
20 ms round trip).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis.errors import FlakyStrategyDefinition

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.suite import races, report, run_suite, runner
from tests.suite.conftest import config_for


def test_a_batch_hypothesis_stops_as_flaky_is_noted_and_the_run_goes_on(
    reference: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner.state_machine_test
    batches: list[int] = []

    def first_batch_flaky(machine: type[Any], settings: Any) -> Callable[[int], None]:
        test = real(machine, settings)

        def run(seed: int) -> None:
            batches.append(seed)
            if len(batches) == 1:
                raise FlakyStrategyDefinition("Inconsistent data generation! (as Hypothesis says it)")
            test(seed)

        return run

    monkeypatch.setattr(runner, "state_machine_test", first_batch_flaky)
    result = run_suite(config_for(reference, max_examples=2 * runner.BATCH, max_steps=3))

    assert len(batches) == 2, "the run went on with its second batch"
    assert result.conformant
    assert result.examples > 0, "the second batch's examples ran"
    [note] = result.notes
    assert f"--seed {batches[0]} --max-examples {runner.BATCH}" in note
    assert "No check failed" in note
    assert report.as_json(result)["notes"] == [note]


def test_a_concurrent_phase_hypothesis_stops_as_flaky_is_noted(
    reference: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def flaky_plan(ctx: Any, data: Any) -> Any:
        raise FlakyStrategyDefinition("Inconsistent data generation! (as Hypothesis says it)")

    monkeypatch.setattr(races, "draw_plan", flaky_plan)
    result = run_suite(config_for(reference, max_examples=2, max_steps=2, race_examples=2))

    assert result.conformant
    [note] = result.notes
    assert f"concurrent phase (seed {result.seed})" in note
