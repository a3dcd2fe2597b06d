"""Webhook deliveries against a flaky receiver on loopback: every event is delivered at least
once with the same id on every try, each try is signed (verified here by hand with hmac), and
retries back off exponentially."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest

from cxpay_conformance.server import ServerConfig, WebhookPolicy, create_app
from tests.server.conftest import fresh_key
from tests.server.openapi_responses import openapi
from tests.server.sandbox_client import (
    APPROVED,
    DECLINED,
    THREE_DS_APPROVED,
    InProcessApp,
    Merchant,
    Transport,
    serve,
)
from tests.server.webhook_receiver import Received, WebhookReceiver

BASE_DELAY = 0.05
#: How long the sandbox waits for a receiver's answer where every try must be answered: a try
#: that timed out on a loaded machine would be tried again and seen twice.
ANSWER_WITHIN = 30.0
#: The sandbox that gives up on a try soon, for the receiver that hangs HANG seconds on a
#: first try. A loaded machine can only add tries, which the test allows.
IMPATIENT = 0.2
HANG = 1.0


def verify(secret: str, received: Received) -> bool:
    """A Stripe-style verifier, written from the contract."""
    parts = dict(item.split("=", 1) for item in received.signature.split(","))
    signed = parts["t"].encode() + b"." + received.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(received.at - int(parts["t"])) <= 300
    return fresh and hmac.compare_digest(expected, parts["v1"])


def drive_payments(merchant: Merchant) -> None:
    declined = merchant.create_session()["id"]
    merchant.respond(merchant.pay(declined, DECLINED)["latest_charge"])
    merchant.respond(merchant.pay(declined, APPROVED)["latest_charge"])
    merchant.pay(merchant.create_session()["id"], THREE_DS_APPROVED)
    merchant.expire(merchant.create_session()["id"])


def _sandbox_retrying(kind: str, timeout: float) -> Iterator[tuple[Transport, str]]:
    key = fresh_key()
    policy = WebhookPolicy(max_attempts=5, base_delay=BASE_DELAY, max_delay=1.0, timeout=timeout)
    with serve(kind, ServerConfig(api_keys={key: "acct_hooks"}, webhooks=policy)) as sandbox:
        yield sandbox, key


@pytest.fixture(params=["asgi", "socket"])
def flaky_sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[Transport, str]]:
    yield from _sandbox_retrying(request.param, timeout=ANSWER_WITHIN)


@pytest.fixture(params=["asgi", "socket"])
def impatient_sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[Transport, str]]:
    yield from _sandbox_retrying(request.param, timeout=IMPATIENT)


def test_every_event_gets_through_a_receiver_that_fails_twice(
    flaky_sandbox: tuple[Transport, str],
) -> None:
    transport, key = flaky_sandbox
    merchant = Merchant(transport, key)
    with WebhookReceiver(failures=2) as receiver:
        endpoint = merchant.add_endpoint(receiver.url)
        drive_payments(merchant)
        events = merchant.events()
        ids = {event["id"] for event in events}
        receiver.wait_until(lambda: receiver.accepted_ids() == ids)
        received = receiver.snapshot()

    tries: dict[str, list[Received]] = defaultdict(list)
    for attempt in received:
        tries[attempt.event["id"]].append(attempt)
    by_id = {event["id"]: event for event in events}
    for event_id, attempts in tries.items():
        assert [a.answered for a in attempts] == [500, 500, 200], event_id
        for attempt in attempts:
            assert attempt.event == by_id[event_id]  # the same event, same id, every time
            assert verify(endpoint["secret"], attempt)
            assert not verify("whsec_someone_else", attempt)
            openapi().check_webhook(attempt.event)
        first_wait = attempts[1].at - attempts[0].at
        second_wait = attempts[2].at - attempts[1].at
        # at least the policy's delays, doubling: lower bounds only, never upper ones
        assert first_wait >= BASE_DELAY
        assert second_wait >= 2 * BASE_DELAY


def test_a_receiver_that_times_out_gets_the_event_again(
    impatient_sandbox: tuple[Transport, str],
) -> None:
    transport, key = impatient_sandbox
    merchant = Merchant(transport, key)
    with WebhookReceiver(hang_first_for=HANG) as receiver:
        merchant.add_endpoint(receiver.url)
        merchant.create_session()
        ids = {event["id"] for event in merchant.events()}
        receiver.wait_until(
            lambda: len([r for r in receiver.snapshot() if r.event["id"] in ids]) >= 4
        )
    for event_id in ids:
        assert [r.event["id"] for r in receiver.snapshot()].count(event_id) >= 2


def test_events_go_to_each_endpoint_registered_when_they_happen() -> None:
    key = fresh_key()
    config = ServerConfig(api_keys={key: "acct_hooks"}, webhooks=WebhookPolicy(base_delay=0.05))
    with WebhookReceiver() as kept, WebhookReceiver() as dropped, WebhookReceiver() as late:
        with serve("asgi", config) as sandbox:
            merchant = Merchant(sandbox, key)
            merchant.add_endpoint(kept.url)
            removed = merchant.add_endpoint(dropped.url)
            merchant.create_session()
            first_two = {e["id"] for e in merchant.events()}
            dropped.wait_until(lambda: dropped.accepted_ids() == first_two)
            merchant.ok("DELETE", f"/webhook-endpoints/{removed['id']}")
            merchant.add_endpoint(late.url)
            merchant.create_session()
            everything = {e["id"] for e in merchant.events()}
            kept.wait_until(lambda: kept.accepted_ids() == everything)
            late.wait_until(lambda: late.accepted_ids() == everything - first_two)
        assert dropped.accepted_ids() == first_two


def test_a_delivery_gives_up_after_the_last_attempt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cxpay_conformance.server.webhooks")
    key = fresh_key()
    policy = WebhookPolicy(max_attempts=3, base_delay=0.02, max_delay=0.05, timeout=ANSWER_WITHIN)
    config = ServerConfig(api_keys={key: "acct_hooks"}, webhooks=policy)
    with WebhookReceiver(failures=1000) as receiver:
        app = create_app(config)
        with InProcessApp(app) as sandbox:
            merchant = Merchant(sandbox, key)
            merchant.add_endpoint(receiver.url)
            merchant.create_session()
            store = app.state.sandbox.store
            deadline = time.monotonic() + 30
            while store.pending_deliveries() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not store.pending_deliveries()
        counts: dict[str, int] = defaultdict(int)
        for attempt in receiver.snapshot():
            counts[attempt.event["id"]] += 1
        assert sorted(counts.values()) == [3, 3]
    # Each failed attempt is logged (endpoint, event, attempt, reason, next try), then the end.
    for event_id in counts:
        lines = [r for r in caplog.records if event_id in r.getMessage()]
        assert [r.levelno for r in lines] == [logging.INFO, logging.INFO, logging.WARNING]
        for number, record in enumerate(lines[:2], start=1):
            message = record.getMessage()
            assert receiver.url in message and f"attempt {number} of 3" in message
            assert "HTTP 500" in message and "next try in" in message
        assert "gave up after 3 attempts" in lines[2].getMessage()


def test_backoff_doubles_up_to_the_maximum() -> None:
    policy = WebhookPolicy(max_attempts=10, base_delay=0.5, max_delay=3.0)
    assert [policy.delay_after(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert policy.delay_after(10_000) == 3.0
