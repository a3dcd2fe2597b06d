"""The ``transitions`` machines the model is built on hold the spec's transitions and no other."""

from __future__ import annotations

import pytest

from cxpay_conformance.model import NoGuardMatched, NotAllowed, ObjectMachines
from cxpay_conformance.spec import Spec


def spec_events_from(spec: Spec, object_type: str, state: str) -> tuple[str, ...]:
    """The events with a transition of ``object_type`` from ``state``, read from the spec."""
    return tuple(sorted({
        t.event for t in spec.transitions if t.object == object_type and state in t.from_states
    }))


@pytest.fixture(scope="module")
def machines(spec: Spec) -> ObjectMachines:
    return ObjectMachines(spec)


def test_no_auto_transitions_exist(spec: Spec, machines: ObjectMachines) -> None:
    for obj in spec.objects.values():
        # The private parts are what `transitions` would have filled with to_<state> triggers.
        machine = machines._machines[obj.name]
        probe = machines._probes[obj.name]
        spec_events = {t.event for t in spec.transitions if t.object == obj.name and not t.creates}
        assert set(machine.events) == spec_events, obj.name
        assert [a for a in dir(probe) if a.startswith("to_")] == [], obj.name
        for state in obj.states:
            with pytest.raises(NotAllowed):
                machines.fire(obj.name, next(iter(obj.states)), f"to_{state}", {})


def test_events_from_answers_what_the_spec_says(spec: Spec, machines: ObjectMachines) -> None:
    for obj in spec.objects.values():
        for state in obj.states:
            assert machines.events_from(obj.name, state) == spec_events_from(spec, obj.name, state)


@pytest.mark.parametrize(
    ("object_type", "state", "events"),
    [
        ("checkout_session", "open", ("expire_session", "session_deadline")),
        ("checkout_session", "complete", ()),
        ("payment_intent", "requires_payment_method", ("cancel_payment", "pay")),
        ("payment_intent", "requires_action", ("authenticate", "cancel_payment")),
        ("payment_intent", "failed", ("cancel_payment", "pay")),
        ("payment_intent", "succeeded", ()),
        ("charge", "pending", ("network_response",)),
        ("charge", "succeeded", ("settlement",)),
        ("charge", "settled", ()),
    ],
)
def test_events_from_some_states(
    machines: ObjectMachines, object_type: str, state: str, events: tuple[str, ...]
) -> None:
    assert machines.events_from(object_type, state) == events


def test_fire_picks_the_transition_whose_guard_accepts(machines: ObjectMachines) -> None:
    approve = machines.fire("charge", "pending", "network_response", {"card.network": "approve"})
    decline = machines.fire("charge", "pending", "network_response", {"card.network": "decline"})

    assert (approve.to, decline.to) == ("succeeded", "failed")
    assert approve.index != decline.index


def test_fire_outside_the_spec_is_not_allowed(machines: ObjectMachines) -> None:
    message = "network_response is not allowed on a charge in state failed"
    with pytest.raises(NotAllowed, match=message):
        machines.fire("charge", "failed", "network_response", {"card.network": "approve"})
    with pytest.raises(NotAllowed):
        machines.fire("charge", "pending", "no_such_event", {})


def test_a_context_no_guard_accepts_is_told_apart_from_not_allowed(
    machines: ObjectMachines,
) -> None:
    with pytest.raises(NoGuardMatched, match="no guard accepts"):
        machines.fire("payment_intent", "requires_payment_method", "pay", {})


def test_firing_leaves_no_state_behind(machines: ObjectMachines) -> None:
    # One probe per object type is reused: a call must not depend on the previous one.
    machines.fire("charge", "pending", "network_response", {"card.network": "approve"})

    assert machines.events_from("charge", "pending") == ("network_response",)
    again = machines.fire("charge", "pending", "network_response", {"card.network": "decline"})
    assert again.to == "failed"
