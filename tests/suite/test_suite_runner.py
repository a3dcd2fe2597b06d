"""The runner turns what Hypothesis raises into a result a user can act on."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis.errors import FlakyStrategyDefinition

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.errors import ConformanceFailure, CXPayError
from cxpay_conformance.suite import run_suite, runner
from cxpay_conformance.suite.context import Step, SuiteContext
from cxpay_conformance.suite.report import story
from tests.suite.conftest import config_for
from tests.suite.faulty import Running


def test_an_implementation_that_answers_a_replay_differently_still_gets_its_story(
        reference: EmbeddedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis raises "inconsistent data generation" (FlakyStrategyDefinition, not a
    FlakyFailure group) when a replayed example draws other steps, as it does when the
    implementation answered differently the second time. The first failure is still reported,
    unshrunk and marked flaky, instead of a traceback."""
    failure = ConformanceFailure("pay answered 199, expected 200", check="status", step=1, event="pay")
    steps = [Step(1, "customer", "pay", "customer: pay with card_ok", "200", "FAILED [status]: 199")]

    def diverging_test(machine: Any, settings: Any) -> Callable[[int], None]:
        def test(seed: int) -> None:
            # As the machine's teardown does after a failing example.
            machine.ctx.failing = SimpleNamespace(failure=failure, steps=steps, exchanges=[], ids={},
                                                 predictions={}, every_id=dict, branches={})
            raise FlakyStrategyDefinition("Inconsistent data generation! Data generation behaved differently")
        return test

    monkeypatch.setattr(runner, "state_machine_test", diverging_test)
    result = run_suite(config_for(reference, max_examples=10))

    assert result.failure is failure
    assert result.flaky
    assert result.story == steps
    assert story(result).startswith("Check failed: status\n  pay answered 199, expected 200")
    assert "--seed 1 --max-examples 10" in result.replay


def test_hypothesis_flakiness_in_every_batch_is_no_verdict(
        reference: EmbeddedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no failing example to report, a batch Hypothesis stops is noted and the run goes on
    (tests/suite/test_suite_flaky_batch.py); when it stops every batch, nothing was tested, and
    the run must not say conformant: an error of ours (exit 1 from the CLI), with the seed."""
    def diverging_test(machine: Any, settings: Any) -> Callable[[int], None]:
        def test(seed: int) -> None:
            raise FlakyStrategyDefinition("Inconsistent data generation!")
        return test

    monkeypatch.setattr(runner, "state_machine_test", diverging_test)
    with pytest.raises(CXPayError, match=r"no verdict: Hypothesis stopped all 2 batches early.*--seed 1"):
        run_suite(config_for(reference, max_examples=20))


def test_a_run_leaves_nothing_alive_behind_it(reference: EmbeddedServer) -> None:
    """Hypothesis keeps every state machine class it ran, and the suite builds one per run;
    the run's context (adapter, spec, machines) must still be freed when the run ends, or a
    process that runs the suite many times (the selftest, a benchmark) grows with each run."""
    contexts: list[weakref.ref[SuiteContext]] = []

    def remember(ctx: SuiteContext) -> None:
        if not contexts:
            contexts.append(weakref.ref(ctx))

    result = run_suite(config_for(reference, max_examples=3), listener=remember)
    assert result.conformant and result.steps > 0
    assert contexts, "the listener never saw the run's context"
    gc.collect()
    assert contexts[0]() is None, [type(r).__name__ for r in gc.get_referrers(contexts[0]())]


@pytest.mark.parametrize(
    ("faulty", "webhook_timeout"),
    # Waiting briefly only where no webhook ever comes: the implementation with the broken
    # read-back does send them, and a loaded machine may take longer than a moment.
    [("openapi", 5.0), ("webhooks", 0.05)],
    indirect=["faulty"],
)
def test_the_first_failure_is_noted_before_shrinking(faulty: Running, webhook_timeout: float) -> None:
    """Both variants fail in the run's first example: one in a step (a read-back breaks the
    contract), one at the example's end (no webhook comes), after the example was counted."""
    result = run_suite(config_for(faulty, seed=1, webhook_timeout=webhook_timeout))
    first = result.first_failure
    assert result.failure is not None and first is not None
    assert (first.check, first.examples) == (faulty.fault_name, 1)
    assert 0 < first.seconds <= result.duration
    assert result.examples > first.examples  # the rest was shrinking


def test_a_conformant_run_notes_no_failure(reference: EmbeddedServer) -> None:
    result = run_suite(config_for(reference, max_examples=3))
    assert result.conformant and result.first_failure is None
