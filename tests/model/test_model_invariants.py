"""The spec's invariants hold after every step the model takes, and catch a broken world.

A Hypothesis random walk drives one payment with any request the spec knows (any event, any
card, any parameter, to any object of the right type) and the clock, only through
``World.fire`` and ``World.advance``; after every step every invariant holds, no terminal
state is left, and a refused request changes nothing. A world broken by hand is reported
with the name of the invariant it breaks.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, event, find, given, settings
from hypothesis import strategies as st

from cxpay_conformance.model import Change, check_changes
from cxpay_conformance.model import check_world_payment as broken_invariants
from cxpay_conformance.spec import Spec, load_spec
from tests.model.payments import (
    Payment,
    Step,
    card_number,
    new_payment,
    walk,
    walk_steps,
)
from tests.spec_variants import REAL_SPEC, write_variant

SPEC = load_spec(REAL_SPEC)
VOID_ON_CANCEL = "      - {set: latest_charge, from: [requires_action, pending], to: canceled}\n"
#: Long enough to cross a session's lifetime and a settlement in a few steps.
MAX_ADVANCE = 2 * SPEC.clock["settlement_delay"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(walk_steps(SPEC, max_advance=MAX_ADVANCE), max_size=15))
def test_invariants_hold_after_every_step_of_a_random_walk(steps: list[Step]) -> None:
    payment = walk(SPEC, steps)
    _, intent, charges = payment.statuses()
    event(f"ended with intent {intent}, {len(charges)} charge(s)")


def test_the_walk_reaches_the_interesting_places() -> None:
    # Not a random test: proves walk() drives retries, 3DS, the network and the clock.
    decline = card_number(SPEC, authentication="none", network="decline")
    three_ds = card_number(SPEC, authentication="required", network="approve")
    steps: list[Step] = [
        ("pay", 0, {SPEC.cards.parameter: decline}),
        ("network_response", 0, {}),
        ("pay", 0, {SPEC.cards.parameter: three_ds}),
        ("authenticate", 0, {"outcome": "pass"}),
        ("network_response", 1, {}),
        ("advance", MAX_ADVANCE, {}),
    ]

    payment = walk(SPEC, steps)

    assert payment.statuses() == ("complete", "succeeded", ("failed", "settled"))


def test_the_walk_finds_a_spec_that_forgets_to_void_the_charge(tmp_path: Path) -> None:
    # The random walk can fail: with cancel_payment no longer voiding the charge in flight,
    # Hypothesis finds (and shrinks to) a pay followed by a cancel.
    forgetful = load_spec(write_variant(tmp_path, (VOID_ON_CANCEL, "")))

    def breaks(steps: list[Step]) -> bool:
        try:
            walk(forgetful, steps)
        except AssertionError:
            return True
        return False

    found = find(
        st.lists(walk_steps(forgetful, max_advance=MAX_ADVANCE), max_size=15),
        breaks,
        settings=settings(max_examples=2000, database=None, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow]),
    )

    assert [name for name, _, _ in found] == ["pay", "cancel_payment"]


def _processing_payment(spec: Spec) -> Payment:
    payment, _ = new_payment(spec)
    payment.pay(card_number(spec, authentication="none", network="approve"))
    assert payment.statuses() == ("open", "processing", ("pending",))
    return payment


def _broken_names(payment: Payment) -> list[str]:
    return [v.invariant.name for v in broken_invariants(payment.world, payment.number)]


def test_a_session_completed_by_hand_breaks_complete_iff_succeeded(spec: Spec) -> None:
    payment = _processing_payment(spec)
    payment.session.state = "complete"

    violations = broken_invariants(payment.world, 1)

    assert [v.invariant.name for v in violations] == ["complete_iff_succeeded"]
    assert "is complete" in violations[0].detail
    assert "payment_intent is processing" in violations[0].detail
    assert "complete_iff_succeeded" in str(violations[0])


def test_an_intent_succeeded_by_hand_breaks_the_charge_invariants(spec: Spec) -> None:
    payment = _processing_payment(spec)
    payment.intent.state = "succeeded"

    assert set(_broken_names(payment)) == {
        "complete_iff_succeeded",
        "succeeded_iff_charge_succeeded",
        "in_flight_agrees",
    }


def test_a_second_charge_in_flight_breaks_one_charge_in_flight(spec: Spec) -> None:
    payment = _processing_payment(spec)
    payment.intent.state = "failed"  # by hand, while its charge is still pending
    payment.pay(card_number(spec, authentication="none", network="approve"))

    assert payment.statuses() == ("open", "processing", ("pending", "pending"))
    assert _broken_names(payment) == ["one_charge_in_flight"]


def test_a_charge_with_another_amount_breaks_amounts_agree(spec: Spec) -> None:
    payment = _processing_payment(spec)
    payment.charge.fields["amount"] = 1

    assert _broken_names(payment) == ["amounts_agree"]


def test_an_intent_pointing_at_another_session_breaks_links_agree(spec: Spec) -> None:
    payment = _processing_payment(spec)
    payment.intent.links["checkout_session"] = "cs_404"

    assert _broken_names(payment) == ["links_agree"]


def test_leaving_a_terminal_state_breaks_terminal_states_absorbing(spec: Spec) -> None:
    change = Change("ch_1", "charge", "settled", "succeeded", "charge.succeeded")

    (violation,) = check_changes(spec, [change])

    assert violation.invariant.name == "terminal_states_absorbing"
    assert "ch_1 left the terminal state settled" in violation.detail
    assert check_changes(spec, [Change("ch_1", "charge", "succeeded", "settled", None)]) == []
