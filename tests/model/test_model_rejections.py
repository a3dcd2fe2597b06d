"""Where the spec has no transition, the model rejects the event and changes nothing.

The (event, state) pairs come from the spec: every state of the event's object type that no
transition of the event leaves. The worlds come from exploring the model from a new payment
(``reach_every_state``), so every state the spec can reach is tested, not a chosen few.
"""

from __future__ import annotations

import pytest

from cxpay_conformance.spec import Spec
from tests.model.payments import (
    assert_refusals,
    reach_every_state,
    refused_pairs,
    requested_events,
    world_state,
)


def test_every_state_of_every_object_is_reached(spec: Spec) -> None:
    reached = set(reach_every_state(spec))

    expected = {(o.name, s) for o in spec.objects.values() for s in o.states}
    assert reached == expected


def test_every_requested_event_is_refused_somewhere(spec: Spec) -> None:
    refused = {event for event, _ in refused_pairs(spec)}

    assert {e.name for e in requested_events(spec)} <= refused
    # e.g. a network answer to a charge that already failed
    assert ("network_response", "failed") in refused_pairs(spec)
    assert ("pay", "processing") in refused_pairs(spec)


def test_refused_events_get_their_rejection_and_change_nothing(spec: Spec) -> None:
    invalid_state = spec.rejections["invalid_state"]
    assert (invalid_state.status, invalid_state.type) == (409, "invalid_request_error")
    requested = {e.name for e in requested_events(spec)}
    # Every requested event expects invalid_state wherever the spec does not allow it.
    for event_name, state in refused_pairs(spec):
        expected = invalid_state if event_name in requested else None
        assert spec.rejection_for(event_name, state) == expected, (event_name, state)

    tested = assert_refusals(spec)

    assert tested == set(refused_pairs(spec))


def test_an_accepted_event_does_change_the_world(spec: Spec) -> None:
    # The counterpart of the test above: world_state does see a change when there is one.
    world = reach_every_state(spec)[("payment_intent", "requires_payment_method")]
    twin = world.copy()
    before = world_state(twin)

    outcome = twin.fire("cancel_payment", next(o.key for o in twin if o.type == "payment_intent"))

    assert outcome.accepted
    assert world_state(twin) != before


@pytest.mark.parametrize("state", ["succeeded", "canceled", "expired"])
def test_terminal_payment_intents_refuse_cancel(spec: Spec, state: str) -> None:
    world = reach_every_state(spec)[("payment_intent", state)].copy()
    intent = next(o.key for o in world if o.type == "payment_intent")

    outcome = world.fire("cancel_payment", intent)

    assert not outcome.accepted
    assert outcome.state == state
    assert outcome.rejection is not None and outcome.rejection.status == 409
