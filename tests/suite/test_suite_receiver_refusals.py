"""The receiver's endpoints and refusals (issue 15): each endpoint path has its own secret, and a
delivery the suite asks it to refuse is refused once (an error status, no answer, a reset), then
the same event is accepted again, so that a retry can be seen."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from cxpay_conformance.errors import ConformanceFailure
from cxpay_conformance.suite.checks import check_retries
from cxpay_conformance.suite.receiver import MAIN, REFUSALS, SIGNATURE_HEADER, Delivery, WebhookReceiver, sign

SECRET = "whsec_main_secret_for_refusals"
OTHER = "whsec_second_endpoint_secret"
EVENT = {"id": "evt_refusal0123456789", "object": "event", "type": "charge.succeeded", "created": 1767225600,
         "data": {"object": {"id": "ch_refusal0123456789", "object": "charge", "status": "succeeded"}}}
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        started.secret = SECRET
        yield started


def post(url: str, secret: str) -> int | str:
    """The status answered, or the kind of error when there was no answer."""
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, BODY, int(time.time()))}
    try:
        return httpx.post(url, content=BODY, headers=headers, timeout=5).status_code
    except httpx.HTTPError as exc:
        return type(exc).__name__


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_a_refusal_happens_once_then_the_same_event_is_accepted(receiver: WebhookReceiver, kind: str) -> None:
    receiver.refuse_next(kind, lambda object_id: object_id == "ch_refusal0123456789")
    first = post(receiver.url, SECRET)
    assert first == 503 if kind == "error status" else isinstance(first, str), first
    assert post(receiver.url, SECRET) == 200  # the retry: same event id, accepted
    refused, again = receiver.deliveries()
    assert refused.refused == kind and refused.signature_ok and not again.refused
    assert refused.event_id == again.event_id == EVENT["id"]


def test_a_refusal_waits_for_an_object_it_is_told_about(receiver: WebhookReceiver) -> None:
    receiver.refuse_next("error status", lambda object_id: object_id == "ch_someone_else")
    assert post(receiver.url, SECRET) == 200
    receiver.cancel_refusal()
    receiver.refuse_next("error status", lambda object_id: True)
    assert post(receiver.url, SECRET) == 503


def test_each_endpoint_path_is_verified_with_its_own_secret(receiver: WebhookReceiver) -> None:
    path = receiver.open("second")
    assert path != MAIN and receiver.open("second") != path  # never the same path twice
    receiver.secrets[path] = OTHER
    assert post(receiver.url_of(path), OTHER) == 200
    assert post(receiver.url_of(path), SECRET) == 400  # the main endpoint's secret is not this one's
    assert post(receiver.url_of(MAIN + "/nowhere"), SECRET) == 400
    good, wrong, nowhere = receiver.deliveries()
    assert good.endpoint == path and good.signature_ok
    assert not wrong.signature_ok and "does not match" in wrong.problem
    assert "no endpoint of the suite is registered" in nowhere.problem


def _delivery(at: float, t: int, refused: str = "") -> Delivery:
    return Delivery(EVENT["id"], "charge.succeeded", "ch_refusal0123456789", BODY, EVENT, True, "", at,
                    refused=refused, signed_at=t)


def test_a_retry_within_the_window_with_a_fresh_signature_passes() -> None:
    first = _delivery(100.0, 100, "error status")
    check_retries([first], [first, _delivery(101.5, 101)], 30)


def test_a_missing_retry_fails_the_webhooks_check_with_the_refused_delivery() -> None:
    first = _delivery(100.0, 100, "reset")
    with pytest.raises(ConformanceFailure) as caught:
        check_retries([first], [first, _delivery(140.0, 140)], 30)
    assert caught.value.check == "webhooks"
    assert "never came again within 30 s; it came again only after 40.0 s" in str(caught.value)
    assert REFUSALS["reset"] in str(caught.value)


def test_a_retry_that_resends_the_first_signature_fails() -> None:
    first = _delivery(100.0, 100, "no answer")
    with pytest.raises(ConformanceFailure, match="same signature"):
        check_retries([first], [first, _delivery(103.0, 100)], 30)
