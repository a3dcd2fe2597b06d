"""The suite stops waiting the whole webhook timeout for an event type that never comes
(suite/patience.py), without changing any verdict."""

from __future__ import annotations

from typing import Any

import pytest

from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import run_suite
from cxpay_conformance.suite.patience import LOST_GRACE, Patience
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
