"""Helpers for the model's tests: read one payment of a World, and drive it generically.

:class:`Payment` names a payment's objects by following the spec's links from its root, so a
test reads ``payment.intent.state`` instead of model keys. :func:`reach_every_state`
explores the model breadth-first from one new payment, firing every event the spec has on
every object with every choice of card and parameter, and returns a world for each
``(object type, state)`` it reached: that is how the rejection tests find an object in each
state without a hand-written scenario per state. :func:`choices` and :func:`walk_steps`
derive requests from the spec alone, so the same helpers drive any variant of the spec.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from cxpay_conformance.model import ModelObject, Outcome, World, check_changes, check_world_payment
from cxpay_conformance.spec import Event, Spec

#: When every test world starts: any fixed time will do, as long as it is not 0.
T0 = 1_700_000_000
#: The creating event's parameters (its defaults fill in the rest, e.g. the session's lifetime).
CREATE = {"amount": 2000, "currency": "usd"}


@dataclass
class Payment:
    """One payment of a world, read through the spec's links from its root object."""

    world: World
    number: int = 1

    @property
    def session(self) -> ModelObject:
        return self.world.root_of(self.number)

    @property
    def intent(self) -> ModelObject:
        (intent,) = self.world.resolve(self.session.key, "payment_intent")
        return intent

    @property
    def charges(self) -> list[ModelObject]:
        return self.world.resolve(self.session.key, "payment_intent.charges")

    @property
    def charge(self) -> ModelObject:
        """The latest charge."""
        (charge,) = self.world.resolve(self.intent.key, "latest_charge")
        return charge

    def statuses(self) -> tuple[str, str, tuple[str, ...]]:
        """(session, payment intent, every charge oldest first): what a merchant would read."""
        return self.session.state, self.intent.state, tuple(c.state for c in self.charges)

    # --- the events of the contract, as a client would send them --------------------------

    def pay(self, card: str) -> Outcome:
        return self.world.fire("pay", self.session.key, {self.world.spec.cards.parameter: card})

    def authenticate(self, outcome: str) -> Outcome:
        return self.world.fire("authenticate", self.intent.key, {"outcome": outcome})

    def respond(self) -> Outcome:
        """The network answers the latest charge."""
        return self.world.fire("network_response", self.charge.key)

    def expire(self) -> Outcome:
        return self.world.fire("expire_session", self.session.key)

    def cancel(self) -> Outcome:
        return self.world.fire("cancel_payment", self.intent.key)


def new_payment(spec: Spec, *, now: int = T0, **params: Any) -> tuple[Payment, Outcome]:
    """A world holding one new payment, and the outcome of creating it."""
    world = World(spec, now=now)
    outcome = world.create({**CREATE, **params})
    return Payment(world, 1), outcome


def card_number(spec: Spec, *, authentication: str, network: str) -> str:
    """The first test card of the spec with this behaviour."""
    return next(
        card.number
        for card in spec.cards.numbers.values()
        if card.attributes.get("authentication") == authentication
        and card.attributes.get("network") == network
    )


def emitted(outcome: Outcome) -> list[str | None]:
    """The webhook types an outcome emits, in order."""
    return [change.emits for change in outcome.changes]


def assert_invariants_hold(payment: Payment, *outcomes: Outcome) -> None:
    """The spec's invariants hold for the payment, and no outcome left a terminal state."""
    __tracebackhide__ = True
    assert check_world_payment(payment.world, payment.number) == []
    for outcome in outcomes:
        assert check_changes(payment.world.spec, outcome.changes) == []


def world_state(world: World) -> dict[str, Any]:
    """Everything a test can observe of a world: the clock and every object's snapshot."""
    return {
        "now": world.now,
        "objects": {key: world.snapshot(key) for key in world.objects},
        "entered": {key: obj.entered_at for key, obj in world.objects.items()},
    }


# --- generic driving, from the spec alone ---------------------------------------------------


def requested_events(spec: Spec) -> list[Event]:
    """The events a client requests: neither the creating event nor the clock's."""
    return [e for e in spec.events.values() if not e.creates and e.due is None]


def choices(spec: Spec, event: Event) -> list[dict[str, str]]:
    """Every set of request parameters an event's guards can tell apart."""
    axes: list[tuple[str, Sequence[str]]] = []
    if event.card == "parameter":
        axes.append((spec.cards.parameter, list(spec.cards.numbers)))
    axes.extend(event.parameters.items())
    names = [name for name, _ in axes]
    combinations = itertools.product(*(values for _, values in axes))
    return [dict(zip(names, values, strict=True)) for values in combinations]


def targets(world: World, event: Event) -> list[str]:
    """The keys of the objects an event can be addressed to."""
    return [o.key for o in world if o.type == event.target]


def successors(world: World, *, max_objects: int) -> Iterable[World]:
    """Every world one accepted event (or the next clock deadline) away from ``world``."""
    spec = world.spec
    for event in requested_events(spec):
        for target in targets(world, event):
            for params in choices(spec, event):
                twin = world.copy()
                accepted = twin.fire(event.name, target, params).accepted
                if accepted and len(twin.objects) <= max_objects:
                    yield twin
    due = world.due()
    if due:
        twin = world.copy()
        twin.advance(due[0][0] - twin.now)
        yield twin


def reach_every_state(spec: Spec, *, max_objects: int = 5) -> dict[tuple[str, str], World]:
    """A world for each ``(object type, state)`` one payment can reach, found breadth-first."""
    start, _ = new_payment(spec)
    found: dict[tuple[str, str], World] = {}
    seen: set[tuple[tuple[str, str], ...]] = set()
    queue = deque([start.world])
    while queue:
        world = queue.popleft()
        signature = tuple((o.key, o.state) for o in world)
        if signature in seen:
            continue
        seen.add(signature)
        for obj in world:
            found.setdefault((obj.type, obj.state), world)
        queue.extend(successors(world, max_objects=max_objects))
    return found


# --- refusals ----------------------------------------------------------------------------------


def refused_pairs(spec: Spec) -> list[tuple[str, str]]:
    """Every (event, state) with no transition of the event from the state, from the spec."""
    pairs = []
    for event in spec.events.values():
        if event.creates:
            continue
        allowed = {s for t in spec.transitions_of(event.name) for s in t.from_states}
        pairs += [(event.name, s) for s in spec.objects[event.object].states if s not in allowed]
    return pairs


def assert_refusals(spec: Spec) -> set[tuple[str, str]]:
    """Fire every refused (event, state) pair, with every choice, in a world that reaches it.

    Each must be refused with the event's expected rejection (none for clock events, which
    nobody requests) and change nothing. Returns the pairs it tested.
    """
    __tracebackhide__ = True
    worlds = reach_every_state(spec)
    tested: set[tuple[str, str]] = set()
    for event_name, state in refused_pairs(spec):
        event = spec.events[event_name]
        world = worlds[(event.object, state)]
        for target in targets(world, event):
            for params in choices(spec, event):
                twin = world.copy()
                before = world_state(twin)
                outcome = twin.fire(event_name, target, params)
                if outcome.state != state:
                    continue  # this target's object is in another state
                where = f"{event_name} on {target} ({event.object} {state}) with {params}"
                assert not outcome.accepted, where
                assert outcome.changes == (), where
                assert outcome.transition is None, where
                assert world_state(twin) == before, where
                assert outcome.rejection == spec.rejection_for(event_name, state), where
                tested.add((event_name, state))
    return tested


# --- random walks (Hypothesis) ----------------------------------------------------------------

#: One step of a walk: ("advance", seconds) or (event name, which target, parameters).
Step = tuple[str, int, Mapping[str, str]]


def walk_steps(spec: Spec, *, max_advance: int) -> st.SearchStrategy[Step]:
    """Any request the spec knows, to any object of its type, or the clock moving on.

    An event is drawn as often as it has choices (every card of a pay is one), so that the
    events that end a payment do not end most walks before a card is ever tried.
    """
    requests = [
        st.tuples(st.just(event.name), st.integers(0, 3), st.just(params))
        for event in requested_events(spec)
        for params in choices(spec, event)
    ]
    seconds = st.one_of(st.integers(0, 3600), st.integers(0, max_advance))
    no_params: Mapping[str, str] = {}
    advance = st.tuples(st.just("advance"), seconds, st.just(no_params))
    return st.one_of(*requests, advance)


def walk(spec: Spec, steps: Sequence[Step]) -> Payment:
    """Run the steps on a new payment, checking after each one that every invariant holds,
    that no terminal state was left, and that a refused request changed nothing."""
    __tracebackhide__ = True
    payment, created = new_payment(spec)
    assert_invariants_hold(payment, created)
    for number, step in enumerate(steps, 1):
        before = world_state(payment.world)
        outcomes = take(payment.world, step)
        where = f"after step {number} {step} of {list(steps)}"
        for outcome in outcomes:
            assert check_changes(spec, outcome.changes) == [], where
            if not outcome.accepted:
                assert world_state(payment.world) == before, where
        assert [str(v) for v in check_world_payment(payment.world, payment.number)] == [], where
    return payment


def take(world: World, step: Step) -> list[Outcome]:
    """Apply one step of a walk: through ``World.fire`` or ``World.advance`` only."""
    name, number, params = step
    if name == "advance":
        return world.advance(number)
    keys = targets(world, world.spec.events[name])
    if not keys:
        return []  # e.g. a network answer before any charge exists: nothing to address
    return [world.fire(name, keys[number % len(keys)], params)]
