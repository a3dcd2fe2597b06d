"""While it shrinks a failure, the suite stops waiting the whole timeout for what the run has
shown will not come: a webhook type that never arrived, an object that never settled late
(suite/patience.py). No verdict changes."""

from __future__ import annotations

from typing import Any

import pytest

from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import run_suite
from cxpay_conformance.suite.context import SuiteContext
from cxpay_conformance.suite.machine import ConformanceMachine
from cxpay_conformance.suite.patience import LOST_GRACE, SETTLE_GRACE, Patience
from cxpay_conformance.suite.receiver import WebhookReceiver
from tests.suite.conftest import config_for
from tests.suite.faulty import Running


def test_a_type_missing_after_the_whole_timeout_is_lost_until_it_is_delivered() -> None:
    patience = Patience()
    patience.waited({"charge.failed"}, ["payment_intent.created"])
    assert patience.lost == {"charge.failed"}
    assert patience.full_waits_in_vain == 1

    # Missing again: it was waited for briefly this time, which is no new wait in vain.
    patience.waited({"charge.failed"}, ["payment_intent.created", "payment_intent.succeeded"])
    assert patience.lost == {"charge.failed"}
    assert patience.full_waits_in_vain == 1

    # Delivered at last (late, or for another example): waited for in full again.
    patience.waited(set(), ["payment_intent.created", "payment_intent.succeeded", "charge.failed"])
    assert patience.lost == set()

    # Deliveries seen before do not bring a type back: only those since the last wait.
    patience.waited({"charge.failed"}, ["payment_intent.created", "payment_intent.succeeded", "charge.failed"])
    assert patience.lost == {"charge.failed"}
    assert patience.full_waits_in_vain == 2


@pytest.mark.parametrize("faulty", ["webhooks"], indirect=True)
def test_shrinking_a_missing_webhook_does_not_wait_the_whole_timeout_each_time(
        faulty: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against an implementation that sends no webhook at all, each event type is waited for
    the whole timeout once; the shrinker's many examples then wait only the short grace."""
    waits: list[tuple[float, bool]] = []
    wait_for = WebhookReceiver.wait_for

    def recorded(receiver: WebhookReceiver, predicate: Any, timeout: float) -> bool:
        arrived = wait_for(receiver, predicate, timeout)
        waits.append((timeout, arrived))
        return arrived

    monkeypatch.setattr(WebhookReceiver, "wait_for", recorded)
    timeout = 1.0
    result = run_suite(config_for(faulty, seed=1, webhook_timeout=timeout))

    assert result.failure is not None and result.failure.check == "webhooks", result.checks_run
    assert "missing webhook" in str(result.failure)
    assert 1 <= len(result.story) <= 4  # shrunk, as before
    types = set(load_spec().webhook_types())
    in_vain = [t for t, arrived in waits if t == timeout and not arrived]
    assert 1 <= len(in_vain) <= len(types), waits
    grace = [t for t, arrived in waits if t == LOST_GRACE]
    assert len(grace) > 5 * len(in_vain), waits  # the shrinker's examples, each waiting briefly


def test_polling_is_cut_short_only_while_shrinking_and_only_if_it_never_helped() -> None:
    patience = Patience()
    assert patience.settle_timeout(2.0, shrinking=False) == 2.0
    assert patience.settle_timeout(2.0, shrinking=True) == SETTLE_GRACE
    assert patience.settle_timeout(0.0, shrinking=True) == 0.0  # never longer than asked
    patience.settled_late = True  # an asynchronous implementation: polling made a difference
    assert patience.settle_timeout(2.0, shrinking=True) == 2.0


@pytest.mark.parametrize("faulty", ["state"], indirect=True)
def test_shrinking_a_state_failure_does_not_poll_the_whole_settle_timeout_each_time(
        faulty: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a synchronous implementation with a state bug, the first failing read-back is
    polled for the whole --settle-timeout; the shrinker's examples then poll only briefly.
    The suite's clock is made virtual (sleeping moves it on), so polls are counted exactly."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(SuiteContext, "clock", staticmethod(lambda: now[0]))
    monkeypatch.setattr(SuiteContext, "sleep", staticmethod(sleep))
    polls: list[tuple[bool, float]] = []  # (the run had failed already, seconds polled)
    verify = ConformanceMachine.verify_payments

    def counted(machine: ConformanceMachine, *args: Any, **kwargs: Any) -> None:
        shrinking, before = machine.ctx.first_failure is not None, now[0]
        try:
            verify(machine, *args, **kwargs)
        finally:
            polls.append((shrinking, now[0] - before))

    monkeypatch.setattr(ConformanceMachine, "verify_payments", counted)
    timeout = 1.0
    result = run_suite(config_for(faulty, seed=3, settle_timeout=timeout))

    assert result.failure is not None and result.failure.check == "state", result.checks_run
    assert 1 <= len(result.story) <= 4
    before = [seconds for shrinking, seconds in polls if not shrinking]
    after = [seconds for shrinking, seconds in polls if shrinking]
    assert max(before) >= timeout  # the failure itself: polled for the whole timeout
    assert len(after) > 20 and max(after) <= SETTLE_GRACE + 0.05 + 1e-9, sorted(after)[-5:]
