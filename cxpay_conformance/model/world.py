"""The executable model: a world of payments that predicts what every event does.

A :class:`World` holds model objects (each with a type, a state, fields, links and maybe a
card) grouped into payments, and a test clock. Firing an event on it returns an
:class:`Outcome`: either the rejection the spec expects (and nothing changes), or every
status change it causes, across objects, each with the webhook type it emits. The suite
keeps one world beside the implementation under test; the lint explores copies of it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cxpay_conformance.errors import UsageError
from cxpay_conformance.model.fields import evaluate
from cxpay_conformance.model.machines import NoGuardMatched, NotAllowed, ObjectMachines
from cxpay_conformance.spec import Card, Effect, Event, Rejection, Spec, Transition
from cxpay_conformance.spec.paths import split


@dataclass
class ModelObject:
    """One object as the model believes it is."""

    key: str
    type: str
    state: str
    payment: int
    created_at: int
    entered_at: int
    fields: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)
    card: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One status change: ``from_state`` is None when the object was created."""

    key: str
    type: str
    from_state: str | None
    to_state: str
    emits: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an event did, or would have done, to the world."""

    event: str
    target: str | None
    accepted: bool
    rejection: Rejection | None = None
    state: str | None = None
    transition: Transition | None = None
    changes: tuple[Change, ...] = ()

    @property
    def created(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.changes if c.from_state is None)


class World:
    """Payments, their objects and a test clock, as the spec says they behave.

    >>> world = World(spec, now=1_700_000_000)
    >>> outcome = world.create({"amount": 500, "currency": "usd", "expires_in": 3600})
    >>> [c.emits for c in outcome.changes]
    ['checkout_session.created', 'payment_intent.created']
    """

    def __init__(self, spec: Spec, *, now: int = 0, machines: ObjectMachines | None = None) -> None:
        self.spec = spec
        self.now = now
        self.machines = machines or ObjectMachines(spec)
        self.objects: dict[str, ModelObject] = {}
        self._counters: dict[str, int] = {}
        self._payments = 0
        self._creating = next(e for e in spec.events.values() if e.creates)

    # --- reading -------------------------------------------------------------------------

    def payment_objects(self, payment: int) -> list[ModelObject]:
        """The objects of one payment, in creation order."""
        return [o for o in self.objects.values() if o.payment == payment]

    @property
    def payments(self) -> range:
        return range(1, self._payments + 1)

    def root_of(self, payment: int) -> ModelObject:
        return next(o for o in self.objects.values() if o.payment == payment)

    def resolve(self, key: str, path: str) -> list[ModelObject]:
        """The objects at ``path`` from object ``key`` (links joined by dots)."""
        current = [self.objects[key]]
        for step in split(path):
            following: list[ModelObject] = []
            for obj in current:
                link = self.spec.objects[obj.type].links[step]
                if link.kind == "newest_of":
                    many = obj.links.get(link.of or "") or []
                    targets = many[-1:]
                else:
                    value = obj.links.get(step)
                    targets = value if isinstance(value, list) else [value] if value else []
                following.extend(self.objects[t] for t in targets)
            current = following
        return current

    def snapshot(self, key: str) -> dict[str, Any]:
        """The object's predicted wire fields: status, links (as model keys) and fields."""
        obj = self.objects[key]
        data: dict[str, Any] = {"id": obj.key, "status": obj.state, **copy.deepcopy(obj.fields)}
        for link in self.spec.objects[obj.type].links.values():
            if link.kind == "newest_of":
                many = obj.links.get(link.of or "") or []
                data[link.field] = many[-1] if many else None
            elif link.kind == "owns_many":
                data[link.field] = list(obj.links.get(link.name) or [])
            else:
                data[link.field] = obj.links.get(link.name)
        return data

    def enabled(self, key: str) -> tuple[str, ...]:
        """The events that have a transition from the object's current state."""
        obj = self.objects[key]
        return self.machines.events_from(obj.type, obj.state)

    def card_of(self, event: Event, obj: ModelObject, params: Mapping[str, Any]) -> Card | None:
        """The test card an event's guards see (see :attr:`Event.card`)."""
        if event.card is None:
            return None
        if event.card == "parameter":
            number = params.get(self.spec.cards.parameter)
        elif event.card == "self":
            number = obj.card
        else:
            linked = self.resolve(obj.key, event.card)
            number = linked[0].card if linked else None
        return self.spec.cards.numbers.get(str(number)) if number is not None else None

    # --- changing ------------------------------------------------------------------------

    def create(self, params: Mapping[str, Any]) -> Outcome:
        """Fire the spec's creating event: a new payment, rooted at a new object."""
        event = self._creating
        self._payments += 1
        changes: list[Change] = []
        card = self.card_of(event, ModelObject("", event.object, "", 0, 0, 0), params)
        context = _context(event, card, params)
        transition = next(
            (t for t in self.spec.transitions_of(event.name) if t.creates
             and all(context.get(k) in v for k, v in t.guard.items())),
            None,
        )
        if transition is None:
            raise UsageError(f"no creating transition of {event.name} accepts {dict(context)}")
        root = self._new_object(event.object, transition.to, self._payments, changes, card)
        self._apply(transition, root, event, params, card, changes)
        return Outcome(event.name, root.key, True, transition=transition, changes=tuple(changes))

    def fire(self, event_name: str, target: str, params: Mapping[str, Any] | None = None) -> Outcome:
        """Fire ``event_name`` on the object ``target`` (of the event's ``target`` type).

        Returns the accepted outcome with every change, or a rejected one naming the
        expected rejection; a rejected event changes nothing.
        """
        params = params or {}
        event = self.spec.events[event_name]
        obj = self.subject(event_name, target)
        card = self.card_of(event, obj, params)
        context = _context(event, card, params)
        try:
            transition = self.machines.fire(obj.type, obj.state, event.name, context)
        except NotAllowed:
            return Outcome(event.name, target, False, self.spec.rejection_for(event.name, obj.state), obj.state)
        except NoGuardMatched as exc:
            raise UsageError(f"{exc}; the spec's guards do not cover this case") from None
        changes: list[Change] = []
        before = obj.state
        self._move(obj, transition.to, changes)
        self._apply(transition, obj, event, params, card, changes)
        return Outcome(event.name, target, True, state=before, transition=transition,
                       changes=tuple(changes))

    def due(self) -> list[tuple[int, str, str]]:
        """Every clock event waiting on an object: ``(due time, event, object key)``, earliest first."""
        waiting = []
        for event in self.spec.events.values():
            if event.due is None:
                continue
            for obj in self.objects.values():
                if obj.type != event.object or event.name not in self.enabled(obj.key):
                    continue
                if event.due.at_field is not None:
                    when = obj.fields.get(event.due.at_field)
                    if when is None:
                        continue
                else:
                    when = obj.entered_at + (event.due.after or 0)
                waiting.append((int(when), event.name, obj.key))
        return sorted(waiting, key=lambda item: (item[0], self._order(item[2])))

    def advance(
        self, seconds: int, after_each: Callable[[Outcome], None] | None = None
    ) -> list[Outcome]:
        """Move the clock on by ``seconds``, firing everything that falls due, earliest first.

        ``after_each`` sees each outcome right after it happened (to snapshot its objects).
        """
        if seconds < 0:
            raise UsageError(f"the test clock only moves forward; cannot advance by {seconds} s")
        target = self.now + seconds
        outcomes = []
        while True:
            waiting = [item for item in self.due() if item[0] <= target]
            if not waiting:
                break
            when, event, key = waiting[0]
            self.now = max(self.now, when)
            outcomes.append(self.fire(event, key))
            if after_each is not None:
                after_each(outcomes[-1])
        self.now = target
        return outcomes

    def copy(self) -> World:
        """An independent copy (the machines, which hold no state between calls, are shared)."""
        twin = World.__new__(World)
        twin.spec, twin.now, twin.machines = self.spec, self.now, self.machines
        twin.objects = {
            k: ModelObject(o.key, o.type, o.state, o.payment, o.created_at, o.entered_at,
                           copy.deepcopy(o.fields), {n: list(v) if isinstance(v, list) else v
                                                     for n, v in o.links.items()}, o.card)
            for k, o in self.objects.items()
        }
        twin._counters = dict(self._counters)
        twin._payments = self._payments
        twin._creating = self._creating
        return twin

    def __iter__(self) -> Iterator[ModelObject]:
        return iter(self.objects.values())

    # --- internals -----------------------------------------------------------------------

    def _order(self, key: str) -> int:
        return list(self.objects).index(key)

    def subject(self, event_name: str, target: str) -> ModelObject:
        """The object whose machine the event fires, from the one its path addresses."""
        event = self.spec.events[event_name]
        addressed = self.objects[target]
        if addressed.type == event.object:
            return addressed
        links = self.spec.objects[addressed.type].links.values()
        link = next((lk for lk in links if lk.object == event.object and lk.kind != "newest_of"), None)
        found = self.resolve(addressed.key, link.name) if link is not None else []
        if not found:
            raise UsageError(
                f"{event_name} is addressed to a {addressed.type} but acts on a {event.object}, "
                f"and {target} has no {event.object}: link the two object types in the spec"
            )
        return found[0]

    def _new_object(
        self, type_: str, state: str, payment: int, changes: list[Change], card: Card | None
    ) -> ModelObject:
        count = self._counters.get(type_, 0) + 1
        self._counters[type_] = count
        key = f"{self.spec.objects[type_].prefix}{count}"
        obj = ModelObject(key, type_, state, payment, self.now, self.now,
                          card=card.number if card else None)
        self.objects[key] = obj
        changes.append(Change(key, type_, None, state, self._emits(type_, state)))
        return obj

    def _move(self, obj: ModelObject, state: str, changes: list[Change]) -> None:
        if obj.state == state:
            return
        changes.append(Change(obj.key, obj.type, obj.state, state, self._emits(obj.type, state)))
        obj.state = state
        obj.entered_at = self.now

    def _emits(self, type_: str, state: str) -> str | None:
        return self.spec.objects[type_].states[state].emits

    def _apply(
        self,
        transition: Transition,
        obj: ModelObject,
        event: Event,
        params: Mapping[str, Any],
        card: Card | None,
        changes: list[Change],
    ) -> None:
        scope = {"params": {**event.defaults, **params}, "card": card, "now": self.now}
        for name, value in transition.fields.items():
            obj.fields[name] = evaluate(value, scope)
        for effect in transition.effects:
            self._effect(effect, obj, scope, card, changes)

    def _effect(
        self,
        effect: Effect,
        obj: ModelObject,
        scope: Mapping[str, Any],
        card: Card | None,
        changes: list[Change],
    ) -> None:
        if effect.kind == "create":
            link = self.spec.objects[obj.type].links[effect.path]
            child = self._new_object(link.object, effect.state, obj.payment, changes, card)
            for name in effect.copy:
                if name in obj.fields:
                    child.fields[name] = copy.deepcopy(obj.fields[name])
            for name, value in effect.fields.items():
                child.fields[name] = evaluate(value, scope)
            if link.many:
                obj.links.setdefault(link.name, []).append(child.key)
            else:
                obj.links[link.name] = child.key
            back = self.spec.objects[link.object].owner_link
            if back is not None:
                child.links[back.name] = obj.key
            return
        for target in self.resolve(obj.key, effect.path):
            if effect.from_states and target.state not in effect.from_states:
                continue
            self._move(target, effect.state, changes)
            for name, value in effect.fields.items():
                target.fields[name] = evaluate(value, scope)


def _context(event: Event, card: Card | None, params: Mapping[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {name: params.get(name) for name in event.parameters}
    if card is not None:
        context.update({f"card.{k}": v for k, v in card.attributes.items()})
    return context
