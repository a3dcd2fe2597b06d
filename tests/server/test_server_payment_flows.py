"""A payment from start to end with each test card: what every object becomes at each step,
and exactly which events each step records, in order (each event checked against its webhook
schema in spec/openapi.yaml, which pins the status the object must be in)."""

from __future__ import annotations

import pytest

from tests.server.openapi_responses import openapi
from tests.server.sandbox_client import (
    APPROVED,
    DECLINED,
    INSUFFICIENT_FUNDS,
    PROCESSING_ERROR,
    THREE_DS_APPROVED,
    THREE_DS_DECLINED,
    Merchant,
    event_types,
    statuses,
)


def new_events(merchant: Merchant, seen: int) -> list[str]:
    events = merchant.events()
    for event in events:
        openapi().check_webhook(event)
    return event_types(events[seen:])


def test_creating_a_session_opens_it_with_a_payment_intent(merchant: Merchant) -> None:
    session = merchant.create_session(amount=1234, currency="eur", metadata={"order": "42"})
    assert session["status"] == "open"
    assert session["amount"] == 1234 and session["currency"] == "eur"
    assert session["metadata"] == {"order": "42"}
    assert session["expires_at"] == session["created"] + 86400
    assert session["url"].endswith(f"/pay/{session['id']}")
    intent = merchant.intent(session["payment_intent"])
    assert intent["status"] == "requires_payment_method"
    assert intent["checkout_session"] == session["id"]
    assert (intent["amount"], intent["currency"]) == (1234, "eur")
    assert intent["charges"] == [] and intent["latest_charge"] is None
    assert intent["last_payment_error"] is None
    assert new_events(merchant, 0) == ["checkout_session.created", "payment_intent.created"]
    assert merchant.session(session["id"]) == session


def test_the_approved_card_captures_the_payment(merchant: Merchant) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], APPROVED)
    assert intent["status"] == "processing"
    charge = merchant.charge(intent["latest_charge"])
    assert charge["status"] == "pending" and charge["failure_code"] is None
    assert (charge["amount"], charge["currency"]) == (2000, "usd")
    assert charge["payment_intent"] == intent["id"]
    assert new_events(merchant, 2) == ["payment_intent.processing", "charge.pending"]

    answered = merchant.respond(charge["id"])
    assert answered["status"] == "succeeded"
    assert statuses(merchant, session["id"]) == ("complete", "succeeded", ("succeeded",))
    assert new_events(merchant, 4) == [
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout_session.completed",
    ]


@pytest.mark.parametrize(
    ("card", "code"),
    [
        (DECLINED, "card_declined"),
        (INSUFFICIENT_FUNDS, "insufficient_funds"),
        (PROCESSING_ERROR, "processing_error"),
    ],
)
def test_a_declined_card_fails_the_attempt_with_its_code(
    merchant: Merchant, card: str, code: str
) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], card)
    charge = merchant.respond(intent["latest_charge"])
    assert charge["status"] == "failed" and charge["failure_code"] == code
    intent = merchant.intent(intent["id"])
    assert intent["status"] == "failed"
    assert intent["last_payment_error"]["code"] == code
    assert intent["last_payment_error"]["message"]
    assert merchant.session(session["id"])["status"] == "open"
    assert new_events(merchant, 2) == [
        "payment_intent.processing",
        "charge.pending",
        "charge.failed",
        "payment_intent.payment_failed",
    ]


def test_a_3ds_card_waits_for_the_customer_then_goes_to_the_network(merchant: Merchant) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], THREE_DS_APPROVED)
    assert intent["status"] == "requires_action"
    assert merchant.charge(intent["latest_charge"])["status"] == "requires_action"
    assert new_events(merchant, 2) == ["payment_intent.requires_action", "charge.requires_action"]

    intent = merchant.authenticate(intent["id"], "pass")
    assert intent["status"] == "processing"
    assert merchant.charge(intent["latest_charge"])["status"] == "pending"
    assert new_events(merchant, 4) == ["payment_intent.processing", "charge.pending"]

    merchant.respond(intent["latest_charge"])
    assert statuses(merchant, session["id"]) == ("complete", "succeeded", ("succeeded",))


def test_a_3ds_card_that_declines_does_so_after_authentication(merchant: Merchant) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], THREE_DS_DECLINED)
    assert intent["status"] == "requires_action"
    intent = merchant.authenticate(intent["id"], "pass")
    assert intent["status"] == "processing"
    charge = merchant.respond(intent["latest_charge"])
    assert (charge["status"], charge["failure_code"]) == ("failed", "card_declined")
    intent = merchant.intent(intent["id"])
    assert intent["status"] == "failed"
    assert intent["last_payment_error"]["code"] == "card_declined"


@pytest.mark.parametrize("card", [THREE_DS_APPROVED, THREE_DS_DECLINED])
def test_failing_3ds_fails_the_charge_and_the_intent(merchant: Merchant, card: str) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], card)
    intent = merchant.authenticate(intent["id"], "fail")
    assert intent["status"] == "failed"
    assert intent["last_payment_error"]["code"] == "authentication_failed"
    charge = merchant.charge(intent["latest_charge"])
    assert (charge["status"], charge["failure_code"]) == ("failed", "authentication_failed")
    assert merchant.session(session["id"])["status"] == "open"
    assert new_events(merchant, 4) == ["payment_intent.payment_failed", "charge.failed"]


def test_after_a_failure_the_customer_may_try_again(merchant: Merchant) -> None:
    session = merchant.create_session()
    first = merchant.pay(session["id"], DECLINED)["latest_charge"]
    merchant.respond(first)
    retried = merchant.pay(session["id"], APPROVED)
    assert retried["status"] == "processing"
    assert retried["last_payment_error"] is None
    assert retried["charges"][0] == first and len(retried["charges"]) == 2
    assert retried["latest_charge"] == retried["charges"][-1] != first
    merchant.respond(retried["latest_charge"])
    assert statuses(merchant, session["id"]) == ("complete", "succeeded", ("failed", "succeeded"))


def test_three_attempts_each_make_their_own_charge(merchant: Merchant) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], THREE_DS_APPROVED)
    merchant.authenticate(intent["id"], "fail")
    intent = merchant.pay(session["id"], INSUFFICIENT_FUNDS)
    merchant.respond(intent["latest_charge"])
    intent = merchant.pay(session["id"], THREE_DS_APPROVED)
    merchant.authenticate(intent["id"], "pass")
    merchant.respond(intent["latest_charge"])
    _, intent, charges = merchant.payment(session["id"])
    assert [c["failure_code"] for c in charges] == [
        "authentication_failed",
        "insufficient_funds",
        None,
    ]
    assert intent["status"] == "succeeded" and intent["last_payment_error"] is None
    assert len(set(intent["charges"])) == 3


def test_events_carry_the_object_as_it_was_right_after_the_change(merchant: Merchant) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], DECLINED)
    merchant.respond(intent["latest_charge"])
    merchant.pay(session["id"], APPROVED)
    events = merchant.events()
    intent_events = [e["data"]["object"] for e in events if e["type"].startswith("payment_intent.")]
    assert [(i["status"], len(i["charges"])) for i in intent_events] == [
        ("requires_payment_method", 0),
        ("processing", 1),
        ("failed", 1),
        ("processing", 2),
    ]
    assert intent_events[2]["last_payment_error"]["code"] == "card_declined"
    assert intent_events[3]["last_payment_error"] is None
    assert all(e["object"] == "event" and e["id"].startswith("evt_") for e in events)
    assert len({e["id"] for e in events}) == len(events)


def test_ids_have_their_prefix_and_enough_randomness(merchant: Merchant) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], APPROVED)
    endpoint = merchant.add_endpoint("http://127.0.0.1:9/hooks")
    ids = {
        "cs_": session["id"],
        "pi_": intent["id"],
        "ch_": intent["latest_charge"],
        "evt_": merchant.events()[0]["id"],
        "we_": endpoint["id"],
        "whsec_": endpoint["secret"],
    }
    for prefix, value in ids.items():
        assert value.startswith(prefix)
        rest = value[len(prefix) :]
        assert len(rest) >= 16 and rest.isalnum() and rest.isascii(), value


def test_the_hosted_page_shows_the_session(merchant: Merchant) -> None:
    session = merchant.create_session(amount=777)
    path = "/pay/" + session["id"]
    page = merchant.transport.request("GET", path, headers={})
    assert page.status_code == 200 and "777" in page.text and session["id"] in page.text
    missing = merchant.transport.request("GET", "/pay/cs_nope", headers={})
    assert missing.status_code == 404
