"""Adding a state is a YAML change only: refunds flow through the model with no code change.

``write_refund_spec`` (tests/spec_variants.py) adds to the real spec a ``refunded`` state
for the payment intent and the charge, a merchant event ``refund_payment`` with its
transition and effect, and adjusts one invariant. Nothing in cxpay_conformance changes; the
model must predict the new transitions, their webhooks and the new rejections, and keep
every invariant. (The lint and the diagrams will be held to the same test.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxpay_conformance.model import ObjectMachines, Outcome
from cxpay_conformance.spec import Spec, load_spec
from tests.model.payments import (
    Payment,
    Step,
    assert_invariants_hold,
    assert_refusals,
    card_number,
    emitted,
    new_payment,
    reach_every_state,
    refused_pairs,
    walk,
    walk_steps,
    world_state,
)
from tests.spec_variants import write_refund_spec


@pytest.fixture(scope="module")
def refund_spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    return load_spec(write_refund_spec(tmp_path_factory.mktemp("refund")))


def _succeeded_payment(spec: Spec) -> Payment:
    payment, _ = new_payment(spec)
    payment.pay(card_number(spec, authentication="none", network="approve"))
    payment.respond()
    assert payment.statuses() == ("complete", "succeeded", ("succeeded",))
    return payment


def refund(payment: Payment) -> Outcome:
    return payment.world.fire("refund_payment", payment.intent.key)


def test_the_variant_adds_states_events_and_webhooks(refund_spec: Spec) -> None:
    intent, charge = refund_spec.objects["payment_intent"], refund_spec.objects["charge"]

    assert set(intent.terminal_states) == {"refunded", "canceled", "expired"}
    assert set(charge.terminal_states) == {"failed", "canceled", "refunded"}
    assert refund_spec.events["refund_payment"].actor == "merchant"
    assert {"payment_intent.refunded", "charge.refunded"} <= set(refund_spec.webhook_types())


def test_the_machines_know_the_new_event(refund_spec: Spec) -> None:
    machines = ObjectMachines(refund_spec)

    assert machines.events_from("payment_intent", "succeeded") == ("refund_payment",)
    assert machines.events_from("payment_intent", "refunded") == ()
    assert machines.fire("payment_intent", "succeeded", "refund_payment", {}).to == "refunded"


def test_a_refund_after_success(refund_spec: Spec) -> None:
    payment = _succeeded_payment(refund_spec)
    charge = payment.charge.key

    refunded = refund(payment)

    assert refunded.accepted
    assert refunded.state == "succeeded"
    assert [(c.key, c.from_state, c.to_state) for c in refunded.changes] == [
        (payment.intent.key, "succeeded", "refunded"),
        (charge, "succeeded", "refunded"),
    ]
    assert emitted(refunded) == ["payment_intent.refunded", "charge.refunded"]
    assert payment.statuses() == ("complete", "refunded", ("refunded",))
    assert_invariants_hold(payment, refunded)
    # A refunded charge is not paid out.
    assert payment.world.due() == []
    assert payment.world.advance(10 * refund_spec.clock["settlement_delay"]) == []


def test_a_refund_after_settlement(refund_spec: Spec) -> None:
    payment = _succeeded_payment(refund_spec)
    (settled,) = payment.world.advance(refund_spec.clock["settlement_delay"])
    assert emitted(settled) == ["charge.settled"]

    refunded = refund(payment)

    assert [(c.from_state, c.to_state, c.emits) for c in refunded.changes] == [
        ("succeeded", "refunded", "payment_intent.refunded"),
        ("settled", "refunded", "charge.refunded"),
    ]
    assert payment.statuses() == ("complete", "refunded", ("refunded",))
    assert_invariants_hold(payment, refunded)


def test_a_refund_leaves_the_failed_charges_of_earlier_attempts_alone(refund_spec: Spec) -> None:
    payment, _ = new_payment(refund_spec)
    payment.pay(card_number(refund_spec, authentication="none", network="decline"))
    payment.respond()
    payment.pay(card_number(refund_spec, authentication="none", network="approve"))
    payment.respond()

    refund(payment)

    assert payment.statuses() == ("complete", "refunded", ("failed", "refunded"))


def test_refunds_are_refused_where_the_spec_does_not_allow_them(refund_spec: Spec) -> None:
    refused = {state for event, state in refused_pairs(refund_spec) if event == "refund_payment"}
    assert refused == set(refund_spec.objects["payment_intent"].states) - {"succeeded"}

    tested = assert_refusals(refund_spec)

    assert tested == set(refused_pairs(refund_spec))
    assert {("refund_payment", s) for s in refused} <= tested
    assert ("cancel_payment", "refunded") in tested


def test_a_second_refund_is_refused_and_changes_nothing(refund_spec: Spec) -> None:
    payment = _succeeded_payment(refund_spec)
    refund(payment)
    before = world_state(payment.world)

    again = refund(payment)

    assert not again.accepted
    assert again.state == "refunded"
    assert again.rejection == refund_spec.rejections["invalid_state"]
    assert world_state(payment.world) == before


def test_every_new_state_is_reached(refund_spec: Spec) -> None:
    reached = set(reach_every_state(refund_spec))

    assert {("payment_intent", "refunded"), ("charge", "refunded")} <= reached
    assert reached == {(o.name, s) for o in refund_spec.objects.values() for s in o.states}


# Generating a walk takes longer on a loaded machine: no health check on the speed of it.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_invariants_hold_on_random_walks_with_refunds(
    refund_spec: Spec, data: st.DataObject
) -> None:
    delay = refund_spec.clock["settlement_delay"]
    steps: list[Step] = data.draw(
        st.lists(walk_steps(refund_spec, max_advance=2 * delay), max_size=15)
    )
    walk(refund_spec, steps)


def test_the_real_spec_is_unchanged_by_the_variant(spec: Spec, tmp_path: Path) -> None:
    write_refund_spec(tmp_path)

    assert "refund_payment" not in spec.events
    assert "refunded" not in spec.objects["payment_intent"].states
