"""The per-merchant test clock: it stands still until advanced, and an advance applies what
falls due on the way (session deadlines, settlement), earliest first, each event dated when
it fell due."""

from __future__ import annotations

import pytest

from tests.server.payment_states import now_statuses, reach
from tests.server.sandbox_client import APPROVED, THREE_DS_APPROVED, Merchant, event_types


def test_the_clock_stands_still_until_advanced(merchant: Merchant) -> None:
    first = merchant.create_session()
    second = merchant.create_session()
    assert second["created"] == first["created"]
    now = merchant.advance(1)
    assert now == first["created"] + 1
    assert merchant.create_session()["created"] == now
    assert merchant.advance(3599) == now + 3599


def test_a_session_expires_when_the_clock_reaches_expires_at(merchant: Merchant) -> None:
    session = merchant.create_session(expires_in=1800)
    assert session["expires_at"] == session["created"] + 1800
    merchant.advance(1799)
    assert now_statuses(merchant, session["id"]) == ("open", "requires_payment_method", None)
    seen = len(merchant.events())
    merchant.advance(1)
    assert now_statuses(merchant, session["id"]) == ("expired", "expired", None)
    events = merchant.events()[seen:]
    assert event_types(events) == ["checkout_session.expired", "payment_intent.expired"]
    assert {e["created"] for e in events} == {session["expires_at"]}


@pytest.mark.parametrize(
    ("situation", "charge_after"),
    [
        ("requires_action", "canceled"),
        ("processing", "canceled"),
        ("processing_after_3ds", "canceled"),
        ("failed_declined", "failed"),
        ("failed_3ds", "failed"),
    ],
)
def test_the_deadline_expires_the_payment_and_voids_a_charge_in_flight(
    merchant: Merchant, situation: str, charge_after: str
) -> None:
    session_id = reach(merchant, situation)
    seen = len(merchant.events())
    merchant.advance(86_400)
    assert now_statuses(merchant, session_id) == ("expired", "expired", charge_after)
    expected = ["checkout_session.expired", "payment_intent.expired"]
    if charge_after == "canceled":
        expected.append("charge.canceled")
    assert event_types(merchant.events()[seen:]) == expected


def test_a_network_answer_after_the_deadline_is_refused(merchant: Merchant) -> None:
    session_id = merchant.create_session()["id"]
    charge_id = merchant.pay(session_id, APPROVED)["latest_charge"]
    merchant.advance(86_400)
    merchant.fails(
        "POST",
        f"/test-helpers/charges/{charge_id}/network-response",
        status=409,
        code="invalid_state",
    )
    assert now_statuses(merchant, session_id) == ("expired", "expired", "canceled")


def test_a_complete_session_does_not_expire(merchant: Merchant) -> None:
    session_id = reach(merchant, "succeeded")
    merchant.advance(86_400 * 3)
    assert now_statuses(merchant, session_id) == ("complete", "succeeded", "settled")


def test_a_charge_settles_two_days_after_it_succeeded(merchant: Merchant) -> None:
    session_id = merchant.create_session()["id"]
    charge_id = merchant.pay(session_id, APPROVED)["latest_charge"]
    succeeded_at = merchant.advance(100)
    merchant.respond(charge_id)
    merchant.advance(172_799)
    assert merchant.charge(charge_id)["status"] == "succeeded"
    seen = len(merchant.events())
    merchant.advance(1)
    assert merchant.charge(charge_id)["status"] == "settled"
    events = merchant.events()[seen:]
    assert event_types(events) == ["charge.settled"]
    assert events[0]["created"] == succeeded_at + 172_800
    assert events[0]["data"]["object"]["status"] == "settled"
    assert merchant.intent(merchant.charge(charge_id)["payment_intent"])["status"] == "succeeded"


def test_one_advance_applies_everything_due_earliest_first(merchant: Merchant) -> None:
    late = merchant.create_session(expires_in=3600)
    early = merchant.create_session(expires_in=1800)
    paid = merchant.create_session()
    merchant.respond(merchant.pay(paid["id"], APPROVED)["latest_charge"])
    in_flight = merchant.create_session(expires_in=2000)
    merchant.pay(in_flight["id"], THREE_DS_APPROVED)
    start = paid["created"]
    seen = len(merchant.events())
    assert merchant.advance(200_000) == start + 200_000
    due = [(e["created"], e["type"], e["data"]["object"]["id"]) for e in merchant.events()[seen:]]
    charge_id = merchant.session(paid["id"])["payment_intent"]
    assert [(at, kind) for at, kind, _ in due] == [
        (start + 1800, "checkout_session.expired"),
        (start + 1800, "payment_intent.expired"),
        (start + 2000, "checkout_session.expired"),
        (start + 2000, "payment_intent.expired"),
        (start + 2000, "charge.canceled"),
        (start + 3600, "checkout_session.expired"),
        (start + 3600, "payment_intent.expired"),
        (start + 172_800, "charge.settled"),
    ]
    assert due[0][2] == early["id"] and due[5][2] == late["id"]
    assert merchant.intent(charge_id)["status"] == "succeeded"


def test_clocks_are_per_merchant(merchant: Merchant, other_merchant: Merchant) -> None:
    mine = merchant.create_session(expires_in=1800)
    theirs_start = other_merchant.create_session()["created"]
    other_merchant.advance(86_400)
    assert merchant.session(mine["id"])["status"] == "open"
    assert merchant.advance(1) == mine["created"] + 1
    assert other_merchant.advance(1) == theirs_start + 86_401


#: One advance goes at most ten 365-day years (the decision in spec/cxpay.yaml; openapi.yaml's
#: maximum); written out here from the contract, not imported from the server.
LONGEST_ADVANCE = 315_360_000


def test_an_advance_beyond_the_bound_is_refused_and_changes_nothing(merchant: Merchant) -> None:
    start = merchant.create_session()["created"]
    merchant.fails(
        "POST",
        "/test-helpers/clock/advance",
        {"seconds": LONGEST_ADVANCE + 1},
        status=400,
        code="parameter_invalid",
        param="seconds",
    )
    # A number of thousands of digits: once the answer could not even be written (a 500),
    # and in memory the merchant's clock stayed there, breaking every later write.
    huge = b'{"seconds": 1' + b"0" * 4000 + b"}"
    merchant.fails(
        "POST",
        "/test-helpers/clock/advance",
        raw=huge,
        status=400,
        code="parameter_invalid",
        param="seconds",
    )
    assert merchant.create_session()["created"] == start
    assert merchant.advance(LONGEST_ADVANCE) == start + LONGEST_ADVANCE
    assert merchant.events()
