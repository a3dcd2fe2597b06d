"""The suite's webhook receiver: it verifies every delivery as a careful merchant would, refuses
a bad one with the reason, and records every delivery in order of arrival."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from cxpay_conformance.suite.receiver import SIGNATURE_HEADER, WebhookReceiver, sign, verify

SECRET = "whsec_receiver_test_secret"
EVENT = {
    "id": "evt_0123456789abcdefXYZ",
    "object": "event",
    "type": "charge.succeeded",
    "created": 1767225600,
    "data": {"object": {"id": "ch_0123456789abcdefXYZ", "object": "charge", "status": "succeeded"}},
}
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        started.secret = SECRET
        yield started


def deliver(receiver: WebhookReceiver, body: bytes, header: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[SIGNATURE_HEADER] = header
    return httpx.post(receiver.url, content=body, headers=headers, timeout=10).status_code


def test_a_validly_signed_delivery_is_accepted_and_recorded(receiver: WebhookReceiver) -> None:
    assert receiver.url.startswith("http://127.0.0.1:") and receiver.url.endswith("/webhooks")
    assert deliver(receiver, BODY, sign(SECRET, BODY, int(time.time()))) == 200
    [delivery] = receiver.deliveries()
    assert delivery.signature_ok and delivery.problem == ""
    assert (delivery.event_id, delivery.type, delivery.object_id) == (
        "evt_0123456789abcdefXYZ", "charge.succeeded", "ch_0123456789abcdefXYZ")
    assert delivery.body == BODY and delivery.event == EVENT


@dataclass(frozen=True)
class SignedNow:
    """A signature header made when the test runs, ``offset`` seconds from the wall clock then.
    Never at collection: a header signed then goes stale by itself when more than 300 s pass
    before the test runs, as on a loaded machine."""

    offset: int = 0
    secret: str = SECRET
    body: bytes = BODY

    def header(self) -> str:
        return sign(self.secret, self.body, int(time.time()) + self.offset)


@pytest.mark.parametrize(
    ("body", "header", "reason"),
    [
        (BODY.replace(b"succeeded", b"failed"), SignedNow(), "the v1 signature does not match the body"),
        (BODY, SignedNow(secret="whsec_someone_else"), "the v1 signature does not match the body"),
        (BODY, SignedNow(-301), "the signature is stale"),
        (BODY, SignedNow(+3600), "the signature is stale"),
        (BODY, None, f"no {SIGNATURE_HEADER} header"),
        (BODY, "v1=" + "0" * 64, f"{SIGNATURE_HEADER} has no valid t=<unix seconds>"),
        (b"not json", SignedNow(body=b"not json"), "the body is not JSON"),
    ],
    ids=["tampered body", "wrong secret", "stale", "from the future", "no header", "no timestamp", "not json"],
)
def test_a_bad_delivery_is_refused_and_recorded_with_the_reason(
    receiver: WebhookReceiver, body: bytes, header: SignedNow | str | None, reason: str
) -> None:
    if isinstance(header, SignedNow):
        header = header.header()
    assert deliver(receiver, body, header) == 400
    [delivery] = receiver.deliveries()
    assert not delivery.signature_ok
    assert delivery.problem.startswith(reason), delivery.problem


def test_any_of_several_v1_signatures_may_match_as_during_a_secret_rotation() -> None:
    now = int(time.time())
    good = sign(SECRET, BODY, now).split(",")[1]
    header = f"t={now},v1={'f' * 64},{good}"
    assert verify(SECRET, BODY, header, now=now, tolerance=300) == ""
    assert "does not match" in verify(SECRET, BODY, f"t={now},v1={'f' * 64}", now=now, tolerance=300)


def test_the_tolerance_is_inclusive_and_measured_both_ways() -> None:
    header = sign(SECRET, BODY, 1000)
    assert verify(SECRET, BODY, header, now=1300, tolerance=300) == ""
    assert verify(SECRET, BODY, header, now=700, tolerance=300) == ""
    assert "stale" in verify(SECRET, BODY, header, now=1301, tolerance=300)


def test_every_delivery_is_kept_in_order_of_arrival_and_waited_for(receiver: WebhookReceiver) -> None:
    sent = []
    for index in range(3):
        event = {**EVENT, "id": f"evt_{index:020d}"}
        body = json.dumps(event).encode()
        header = sign(SECRET, body, int(time.time())) if index != 1 else None
        deliver(receiver, body, header)
        sent.append(event["id"])
    deliveries = receiver.deliveries()
    assert [d.event_id for d in deliveries] == sent
    assert [d.signature_ok for d in deliveries] == [True, False, True]
    assert [d.received_at for d in deliveries] == sorted(d.received_at for d in deliveries)
    assert receiver.wait_for(lambda got: len(got) == 3, timeout=5)
    assert not receiver.wait_for(lambda got: len(got) == 4, timeout=0.05)


def test_a_receiver_with_no_secret_yet_refuses_everything() -> None:
    with WebhookReceiver() as fresh:
        assert deliver(fresh, BODY, sign(SECRET, BODY, int(time.time()))) == 400
        assert not fresh.deliveries()[0].signature_ok
