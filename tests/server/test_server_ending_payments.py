"""Ending a payment (the merchant expires the session or cancels the payment intent) in every
situation, and every action refused with 409 where the spec does not allow it, changing
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.payment_states import FINISHED, SITUATIONS, UNFINISHED, now_statuses, reach
from tests.server.sandbox_client import APPROVED, Merchant, event_types


def snapshot(merchant: Merchant, session_id: str) -> tuple[Any, ...]:
    return (*merchant.payment(session_id), merchant.events())


@pytest.mark.parametrize("situation", UNFINISHED)
def test_expiring_an_open_session_cancels_its_payment_and_voids_a_charge_in_flight(
    merchant: Merchant, situation: str
) -> None:
    session_id = reach(merchant, situation)
    _, _, before_charge = now_statuses(merchant, session_id)
    seen = len(merchant.events())
    expired = merchant.expire(session_id)
    assert expired["status"] == "expired"
    in_flight = before_charge in ("requires_action", "pending")
    after_charge = "canceled" if in_flight else before_charge
    assert now_statuses(merchant, session_id) == ("expired", "canceled", after_charge)
    expected = ["checkout_session.expired", "payment_intent.canceled"]
    assert event_types(merchant.events()[seen:]) == expected + (
        ["charge.canceled"] if in_flight else []
    )


@pytest.mark.parametrize("situation", UNFINISHED)
def test_canceling_a_payment_intent_expires_its_session_and_voids_a_charge_in_flight(
    merchant: Merchant, situation: str
) -> None:
    session_id = reach(merchant, situation)
    _, _, before_charge = now_statuses(merchant, session_id)
    seen = len(merchant.events())
    canceled = merchant.cancel(merchant.session(session_id)["payment_intent"])
    assert canceled["status"] == "canceled"
    in_flight = before_charge in ("requires_action", "pending")
    after_charge = "canceled" if in_flight else before_charge
    assert now_statuses(merchant, session_id) == ("expired", "canceled", after_charge)
    expected = ["payment_intent.canceled", "checkout_session.expired"]
    assert event_types(merchant.events()[seen:]) == expected + (
        ["charge.canceled"] if in_flight else []
    )


def test_a_voided_charge_refuses_the_network_answer(merchant: Merchant) -> None:
    session_id = merchant.create_session()["id"]
    charge_id = merchant.pay(session_id, APPROVED)["latest_charge"]
    merchant.expire(session_id)
    before = snapshot(merchant, session_id)
    error = merchant.fails(
        "POST",
        f"/test-helpers/charges/{charge_id}/network-response",
        status=409,
        code="invalid_state",
    )
    assert "canceled" in error["message"]
    assert snapshot(merchant, session_id) == before


# --- what each action may do where ------------------------------------------------------

PAY_ALLOWED = {"requires_payment_method", "failed_declined", "failed_3ds"}
AUTHENTICATE_ALLOWED = {"requires_action"}
RESPOND_ALLOWED = {"processing", "processing_after_3ds"}
ENDING_ALLOWED = set(UNFINISHED)


def _refusals() -> list[tuple[str, str]]:
    cases = []
    for situation, (_, (_, _, latest_charge)) in SITUATIONS.items():
        for action, allowed in [
            ("pay", PAY_ALLOWED),
            ("authenticate", AUTHENTICATE_ALLOWED),
            ("respond", RESPOND_ALLOWED),
            ("expire", ENDING_ALLOWED),
            ("cancel", ENDING_ALLOWED),
        ]:
            # without a charge there is nothing for the network to answer
            if situation not in allowed and (action != "respond" or latest_charge):
                cases.append((situation, action))
    return cases


@pytest.mark.parametrize(("situation", "action"), _refusals())
def test_an_action_not_allowed_answers_409_and_changes_nothing(
    merchant: Merchant, situation: str, action: str
) -> None:
    session_id = reach(merchant, situation)
    session, intent, charges = merchant.payment(session_id)
    method_path_body = {
        "pay": (f"/test-helpers/checkout-sessions/{session_id}/pay", {"card_number": APPROVED}),
        "authenticate": (
            f"/test-helpers/payment-intents/{intent['id']}/authenticate",
            {"outcome": "pass"},
        ),
        "respond": (
            f"/test-helpers/charges/{charges[-1]['id'] if charges else ''}/network-response",
            {},
        ),
        "expire": (f"/checkout-sessions/{session_id}/expire", {}),
        "cancel": (f"/payment-intents/{intent['id']}/cancel", {}),
    }
    path, body = method_path_body[action]
    before = snapshot(merchant, session_id)
    error = merchant.fails("POST", path, body, status=409, code="invalid_state", param=None)
    named = {
        "pay": intent["status"],
        "authenticate": intent["status"],
        "respond": charges[-1]["status"] if charges else "",
        "expire": session["status"],
        "cancel": intent["status"],
    }[action]
    assert named in error["message"], error
    assert snapshot(merchant, session_id) == before


def test_every_finished_situation_is_covered() -> None:
    assert set(FINISHED) == {
        "succeeded",
        "settled",
        "canceled",
        "canceled_in_flight",
        "expired_by_merchant",
        "expired_by_deadline",
    }
