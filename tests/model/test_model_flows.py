"""The model's predictions for every test card of the spec, step by step, and for retries.

For each card the test walks create -> pay -> (authenticate, for 3D Secure cards) ->
network_response and checks, after each step, the statuses of the session, the payment
intent and the charge, the webhook types emitted in order, and the error fields. What each
card should do comes from its behaviour in the spec (authentication, network, decline_code),
read through the decisions of the spec, not from the model.
"""

from __future__ import annotations

import pytest

from cxpay_conformance.spec import Card, Spec, load_spec
from tests.model.payments import assert_invariants_hold, card_number, emitted, new_payment
from tests.spec_variants import REAL_SPEC

CARDS = list(load_spec(REAL_SPEC).cards.numbers.values())
#: Each card once; a 3D Secure card once with each answer to the challenge.
FLOWS = [
    pytest.param(card, answer, id=f"{card.number}-{answer or 'no-3ds'}")
    for card in CARDS
    for answer in (
        ("pass", "fail") if card.attributes.get("authentication") == "required" else (None,)
    )
]


def test_the_spec_has_cards_of_every_kind() -> None:
    kinds = {(c.attributes.get("authentication"), c.attributes.get("network")) for c in CARDS}
    assert kinds == {("none", "approve"), ("none", "decline"),
                     ("required", "approve"), ("required", "decline")}


@pytest.mark.parametrize(("card", "answer"), FLOWS)
def test_card_flow(spec: Spec, card: Card, answer: str | None) -> None:
    payment, created = new_payment(spec)
    assert created.accepted
    assert payment.statuses() == ("open", "requires_payment_method", ())
    assert emitted(created) == ["checkout_session.created", "payment_intent.created"]
    assert payment.world.snapshot(payment.intent.key)["last_payment_error"] is None

    paid = payment.pay(card.number)
    assert paid.accepted
    assert len(paid.created) == 1
    (charge_key,) = paid.created
    assert [c.key for c in payment.charges] == [charge_key]
    assert payment.world.snapshot(charge_key)["failure_code"] is None
    assert payment.world.objects[charge_key].card == card.number
    assert_invariants_hold(payment, paid)

    if answer is None:
        assert payment.statuses() == ("open", "processing", ("pending",))
        assert emitted(paid) == ["payment_intent.processing", "charge.pending"]
    else:
        assert payment.statuses() == ("open", "requires_action", ("requires_action",))
        assert emitted(paid) == ["payment_intent.requires_action", "charge.requires_action"]
        # The network must not see a charge before the cardholder is authenticated.
        early = payment.respond()
        assert not early.accepted and early.rejection is not None

        authenticated = payment.authenticate(answer)
        assert authenticated.accepted
        assert_invariants_hold(payment, authenticated)
        if answer == "fail":
            assert payment.statuses() == ("open", "failed", ("failed",))
            assert emitted(authenticated) == ["payment_intent.payment_failed", "charge.failed"]
            assert payment.world.snapshot(charge_key)["failure_code"] == "authentication_failed"
            assert payment.world.snapshot(payment.intent.key)["last_payment_error"] == {
                "code": "authentication_failed"
            }
            late = payment.respond()
            assert not late.accepted
            assert late.rejection is not None and late.rejection.code == "invalid_state"
            assert payment.statuses() == ("open", "failed", ("failed",))
            return
        assert payment.statuses() == ("open", "processing", ("pending",))
        assert emitted(authenticated) == ["payment_intent.processing", "charge.pending"]

    answered = payment.respond()
    assert answered.accepted
    assert_invariants_hold(payment, answered)
    intent = payment.world.snapshot(payment.intent.key)
    charge = payment.world.snapshot(charge_key)
    if card.attributes["network"] == "approve":
        assert payment.statuses() == ("complete", "succeeded", ("succeeded",))
        assert emitted(answered) == [
            "charge.succeeded",
            "payment_intent.succeeded",
            "checkout_session.completed",
        ]
        assert charge["failure_code"] is None
        assert intent["last_payment_error"] is None
    else:
        decline_code = card.attributes["decline_code"]
        assert decline_code  # a declining card says why
        assert payment.statuses() == ("open", "failed", ("failed",))
        assert emitted(answered) == ["charge.failed", "payment_intent.payment_failed"]
        assert charge["failure_code"] == decline_code
        assert intent["last_payment_error"] == {"code": decline_code}
    assert intent["latest_charge"] == charge_key
    assert intent["charges"] == [charge_key]
    assert charge["payment_intent"] == payment.intent.key


def test_amount_and_currency_are_copied_to_the_intent_and_charges(spec: Spec) -> None:
    payment, _ = new_payment(spec, amount=1234, currency="eur")
    payment.pay(card_number(spec, authentication="none", network="approve"))

    for obj in (payment.session, payment.intent, *payment.charges):
        snapshot = payment.world.snapshot(obj.key)
        assert (snapshot["amount"], snapshot["currency"]) == (1234, "eur"), obj.key


def test_a_retry_after_a_decline_makes_a_second_charge(spec: Spec) -> None:
    payment, _ = new_payment(spec)
    declined = next(c for c in CARDS if c.attributes.get("decline_code") == "insufficient_funds")
    payment.pay(declined.number)
    payment.respond()
    first = payment.charge.key
    assert payment.world.snapshot(payment.intent.key)["last_payment_error"] == {
        "code": "insufficient_funds"
    }

    retried = payment.pay(card_number(spec, authentication="none", network="approve"))

    assert retried.accepted
    assert retried.state == "failed"
    (second,) = retried.created
    assert second != first
    intent = payment.world.snapshot(payment.intent.key)
    assert intent["charges"] == [first, second]
    assert intent["latest_charge"] == second
    assert intent["last_payment_error"] is None  # cleared by paying again
    assert payment.statuses() == ("open", "processing", ("failed", "pending"))
    assert emitted(retried) == ["payment_intent.processing", "charge.pending"]
    # The first charge keeps its own story.
    assert payment.world.snapshot(first)["failure_code"] == "insufficient_funds"

    answered = payment.respond()
    assert [c.key for c in answered.changes if c.type == "charge"] == [second]
    assert payment.statuses() == ("complete", "succeeded", ("failed", "succeeded"))
    assert_invariants_hold(payment, retried, answered)


def test_a_retry_after_a_failed_challenge_can_use_3ds_again(spec: Spec) -> None:
    payment, _ = new_payment(spec)
    three_ds = card_number(spec, authentication="required", network="approve")
    payment.pay(three_ds)
    payment.authenticate("fail")

    retried = payment.pay(three_ds)
    assert retried.accepted
    assert payment.statuses() == ("open", "requires_action", ("failed", "requires_action"))
    assert payment.world.snapshot(payment.intent.key)["last_payment_error"] is None

    # authenticate and the network act on the latest charge, never on the failed one.
    passed = payment.authenticate("pass")
    assert [c.key for c in passed.changes if c.type == "charge"] == [payment.charges[1].key]
    payment.respond()
    assert payment.statuses() == ("complete", "succeeded", ("failed", "succeeded"))
    assert_invariants_hold(payment, retried, passed)


def test_three_failures_then_success_keeps_every_charge_in_order(spec: Spec) -> None:
    payment, _ = new_payment(spec)
    for card in (c for c in CARDS if c.attributes.get("decline_code") and
                 c.attributes.get("authentication") == "none"):
        payment.pay(card.number)
        payment.respond()
        assert payment.world.snapshot(payment.charge.key)["failure_code"] == card.attributes[
            "decline_code"
        ]
    payment.pay(card_number(spec, authentication="none", network="approve"))
    payment.respond()

    keys = [c.key for c in payment.charges]
    assert len(keys) == 4 and len(set(keys)) == 4
    assert payment.statuses() == ("complete", "succeeded", ("failed",) * 3 + ("succeeded",))
    assert payment.world.snapshot(payment.intent.key)["latest_charge"] == keys[-1]
    assert_invariants_hold(payment)


def test_paying_while_a_charge_is_in_flight_is_rejected(spec: Spec) -> None:
    payment, _ = new_payment(spec)
    payment.pay(card_number(spec, authentication="none", network="approve"))

    again = payment.pay(card_number(spec, authentication="none", network="approve"))

    assert not again.accepted
    assert again.rejection is not None and again.rejection.status == 409
    assert again.state == "processing"
    assert len(payment.charges) == 1
