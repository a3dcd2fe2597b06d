"""Ending a payment in each of its non-terminal states: expire, cancel and the deadline.

A session's end is hard (see the spec's decision "a payment in flight when its session
ends"): the payment intent becomes canceled (merchant) or expired (deadline), a charge in
flight is voided, a failed charge stays failed, and a network answer that comes later is
refused and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cxpay_conformance.model import Outcome
from cxpay_conformance.spec import Spec
from tests.model.payments import (
    Payment,
    assert_invariants_hold,
    card_number,
    emitted,
    new_payment,
    world_state,
)


def _to_requires_payment_method(spec: Spec, payment: Payment) -> None:
    pass


def _to_requires_action(spec: Spec, payment: Payment) -> None:
    payment.pay(card_number(spec, authentication="required", network="approve"))


def _to_processing(spec: Spec, payment: Payment) -> None:
    payment.pay(card_number(spec, authentication="none", network="approve"))


def _to_failed(spec: Spec, payment: Payment) -> None:
    payment.pay(card_number(spec, authentication="none", network="decline"))
    payment.respond()


#: How to bring a new payment's intent into each of its non-terminal states, and whether
#: its latest charge is then in flight (voided when the payment ends) or not.
SETUPS: dict[str, tuple[Callable[[Spec, Payment], None], str | None]] = {
    "requires_payment_method": (_to_requires_payment_method, None),
    "requires_action": (_to_requires_action, "requires_action"),
    "processing": (_to_processing, "pending"),
    "failed": (_to_failed, "failed"),
}


def _payment_in(spec: Spec, state: str) -> Payment:
    payment, _ = new_payment(spec)
    setup, charge_state = SETUPS[state]
    setup(spec, payment)
    assert payment.intent.state == state
    assert [c.state for c in payment.charges][-1:] == ([charge_state] if charge_state else [])
    return payment


def _ends(payment: Payment, outcome: Outcome) -> None:
    __tracebackhide__ = True
    assert outcome.accepted
    assert_invariants_hold(payment, outcome)


def test_the_setups_cover_every_non_terminal_intent_state(spec: Spec) -> None:
    intent = spec.objects["payment_intent"]
    assert set(SETUPS) == {s for s in intent.states if s not in intent.terminal_states}


@pytest.mark.parametrize("state", list(SETUPS))
def test_merchant_expires_the_session(spec: Spec, state: str) -> None:
    payment = _payment_in(spec, state)
    in_flight = state in ("requires_action", "processing")

    outcome = payment.expire()

    _ends(payment, outcome)
    charges = ("canceled",) if in_flight else tuple(c.state for c in payment.charges)
    assert payment.statuses() == ("expired", "canceled", charges)
    assert emitted(outcome) == [
        "checkout_session.expired",
        "payment_intent.canceled",
        *(["charge.canceled"] if in_flight else []),
    ]


@pytest.mark.parametrize("state", list(SETUPS))
def test_merchant_cancels_the_payment_intent(spec: Spec, state: str) -> None:
    payment = _payment_in(spec, state)
    in_flight = state in ("requires_action", "processing")

    outcome = payment.cancel()

    _ends(payment, outcome)
    charges = ("canceled",) if in_flight else tuple(c.state for c in payment.charges)
    assert payment.statuses() == ("expired", "canceled", charges)
    assert emitted(outcome) == [
        "payment_intent.canceled",
        "checkout_session.expired",
        *(["charge.canceled"] if in_flight else []),
    ]


@pytest.mark.parametrize("state", list(SETUPS))
def test_the_deadline_expires_the_payment(spec: Spec, state: str) -> None:
    payment = _payment_in(spec, state)
    in_flight = state in ("requires_action", "processing")
    expires_at = payment.world.snapshot(payment.session.key)["expires_at"]

    (outcome,) = payment.world.advance(expires_at - payment.world.now)

    _ends(payment, outcome)
    assert outcome.event == "session_deadline"
    charges = ("canceled",) if in_flight else tuple(c.state for c in payment.charges)
    assert payment.statuses() == ("expired", "expired", charges)
    assert emitted(outcome) == [
        "checkout_session.expired",
        "payment_intent.expired",
        *(["charge.canceled"] if in_flight else []),
    ]


@pytest.mark.parametrize("end", ["expire", "cancel", "deadline"])
def test_a_network_answer_after_the_end_is_refused(spec: Spec, end: str) -> None:
    payment = _payment_in(spec, "processing")
    charge = payment.charge.key
    if end == "deadline":
        payment.world.advance(payment.world.snapshot(payment.session.key)["expires_at"])
    else:
        getattr(payment, end)()
    before = world_state(payment.world)

    late = payment.world.fire("network_response", charge)

    assert not late.accepted
    assert late.state == "canceled"
    assert late.rejection == spec.rejections["invalid_state"]
    assert world_state(payment.world) == before
    # No money moved: nothing is waiting to settle.
    assert [event for _, event, _ in payment.world.due()] == []


@pytest.mark.parametrize("event", ["pay", "authenticate"])
def test_the_customer_cannot_act_after_the_end(spec: Spec, event: str) -> None:
    payment = _payment_in(spec, "requires_action")
    payment.expire()
    before = world_state(payment.world)

    if event == "pay":
        outcome = payment.pay(card_number(spec, authentication="none", network="approve"))
    else:
        outcome = payment.authenticate("pass")

    assert not outcome.accepted
    assert outcome.rejection == spec.rejections["invalid_state"]
    assert world_state(payment.world) == before


def test_ending_one_payment_leaves_another_alone(spec: Spec) -> None:
    payment, _ = new_payment(spec)
    other_outcome = payment.world.create({"amount": 1, "currency": "usd"})
    other = Payment(payment.world, 2)
    other.pay(card_number(spec, authentication="none", network="approve"))
    other_before = {o.key: o.state for o in payment.world.payment_objects(2)}

    payment.expire()

    assert other_outcome.accepted
    assert {o.key: o.state for o in payment.world.payment_objects(2)} == other_before
    assert payment.statuses()[0] == "expired"
