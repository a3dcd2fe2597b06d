"""The loaded spec as frozen, typed values.

`spec/loader.py` turns ``cxpay.yaml`` into a :class:`Spec`; everything else in the package
(model, lint, diagrams, suite) reads only these types. Each value remembers where in the
file it came from (:class:`~cxpay_conformance.errors.Location`), so that the lint and the
semantic checks can point at the line to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from cxpay_conformance.errors import Location

Actor = Literal["merchant", "customer", "network", "clock"]
ACTORS: tuple[Actor, ...] = ("merchant", "customer", "network", "clock")
LinkKind = Literal["owns_one", "owns_many", "owner", "newest_of"]
#: A field value in a transition: a literal, ``None``, a reference string (``$param.x``,
#: ``$card.x``, ``$now``), a ``{"sum": [...]}`` or a mapping of such values.
FieldValue = Any

_NOWHERE = Location("<memory>", 0, 0)


def frozen_mapping(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only view of a copy of ``data``, for use inside frozen dataclasses."""
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True, slots=True)
class State:
    """One status an object can have."""

    name: str
    description: str
    initial: bool = False
    terminal: bool = False
    emits: str | None = None
    location: Location = _NOWHERE


@dataclass(frozen=True, slots=True)
class Link:
    """A named relation from one object type to another, read from ``field`` on the wire.

    ``kind`` is ``owns_one`` / ``owns_many`` (the other object belongs to this one),
    ``owner`` (this object belongs to the other) or ``newest_of`` (the newest object of the
    many-link named by ``of``).
    """

    name: str
    object: str
    field: str
    kind: LinkKind
    of: str | None = None
    location: Location = _NOWHERE

    @property
    def many(self) -> bool:
        return self.kind == "owns_many"


@dataclass(frozen=True, slots=True)
class ObjectType:
    """An object type: its id prefix, links and states."""

    name: str
    prefix: str
    description: str
    links: Mapping[str, Link]
    states: Mapping[str, State]
    location: Location = _NOWHERE

    @property
    def initial_states(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states.values() if s.initial)

    @property
    def terminal_states(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states.values() if s.terminal)

    @property
    def owner_link(self) -> Link | None:
        return next((link for link in self.links.values() if link.kind == "owner"), None)


@dataclass(frozen=True, slots=True)
class Card:
    """A test card number and the behaviour it triggers, by attribute."""

    number: str
    description: str
    attributes: Mapping[str, str | None]
    location: Location = _NOWHERE


@dataclass(frozen=True, slots=True)
class Cards:
    """The test cards of the contract: the parameter that carries them and their attributes."""

    parameter: str
    attributes: Mapping[str, tuple[str, ...]]
    numbers: Mapping[str, Card]


@dataclass(frozen=True, slots=True)
class Rejection:
    """An error answer an event gets where it is not allowed."""

    name: str
    status: int
    type: str
    code: str
    description: str = ""


#: Seconds within which a refused webhook is tried again, where a spec does not say.
DEFAULT_RETRY_WINDOW = 30


@dataclass(frozen=True, slots=True)
class Protocol:
    """What every request is subject to, whatever the event: the rejections that answer a
    missing or unknown API key, another merchant's id, a reused Idempotency-Key, one whose
    length is out of bounds and one still in flight in another request; how long (test-clock
    seconds) an Idempotency-Key is remembered, and the shortest and longest key accepted
    (``idempotency_key_length``, in characters); and within how many wall-clock seconds a
    webhook delivery the receiver refused is attempted again (``webhook_retry_window``)."""

    missing_key: Rejection
    invalid_key: Rejection
    unknown_object: Rejection
    key_reused: Rejection
    key_length_invalid: Rejection
    key_in_flight: Rejection
    idempotency_window: int
    idempotency_key_length: tuple[int, int]
    webhook_retry_window: int = 30  # DEFAULT_RETRY_WINDOW
    #: The rejections of a bad request body, where the spec names them (None: not probed).
    parameter_invalid: Rejection | None = None
    parameter_missing: Rejection | None = None
    parameter_unknown: Rejection | None = None
    body_invalid: Rejection | None = None


@dataclass(frozen=True, slots=True)
class Due:
    """When a clock event falls due for an object.

    Either at the Unix time held in one of the object's fields (``at_field``), or ``after``
    seconds once the object entered its current state.
    """

    at_field: str | None = None
    after: int | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Something that can happen, by whom, through which API operation.

    ``object`` is the object type whose transitions the event fires; ``addressed_to`` the one
    whose id is in the operation's path, when that differs (reached through a link).
    ``card`` says where the card of a guard comes from: ``parameter`` (the request carries
    it), ``self`` (the object's own card) or a link name (the card of the linked object).
    ``parameters`` lists, for each enumerable parameter, the values a guard may test.
    """

    name: str
    actor: Actor
    operation: str
    object: str
    description: str = ""
    creates: bool = False
    addressed_to: str | None = None
    card: str | None = None
    parameters: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_mapping)
    defaults: Mapping[str, Any] = field(default_factory=frozen_mapping)
    rejection: str | None = None
    rejections: Mapping[str, str] = field(default_factory=frozen_mapping)
    due: Due | None = None
    location: Location = _NOWHERE

    @property
    def target(self) -> str:
        """The object type whose id the operation takes (the path parameter)."""
        return self.addressed_to or self.object


@dataclass(frozen=True, slots=True)
class Effect:
    """What a transition does to a related object.

    ``create`` effects make a new object through an owning link (``path`` names the link) in
    ``state``; ``set`` effects move the object at ``path`` (links, dot-separated, from the
    transitioning object) to ``state`` when it is in one of ``from_states`` (all when empty).
    """

    kind: Literal["create", "set"]
    path: str
    state: str
    from_states: tuple[str, ...] = ()
    fields: Mapping[str, FieldValue] = field(default_factory=frozen_mapping)
    copy: tuple[str, ...] = ()
    location: Location = _NOWHERE


@dataclass(frozen=True, slots=True)
class Transition:
    """An event moving an object from one of ``from_states`` to ``to`` when ``guard`` holds.

    An empty ``from_states`` marks the creation of the object. ``guard`` maps a guard key
    (``card.<attribute>`` or a parameter name) to the values it accepts.
    """

    event: str
    object: str
    from_states: tuple[str, ...]
    to: str
    guard: Mapping[str, tuple[str, ...]] = field(default_factory=frozen_mapping)
    fields: Mapping[str, FieldValue] = field(default_factory=frozen_mapping)
    effects: tuple[Effect, ...] = ()
    index: int = 0
    location: Location = _NOWHERE

    @property
    def creates(self) -> bool:
        return not self.from_states

    def label(self) -> str:
        """The event with its guard, as diagrams and reports show it: ``pay [card.x=y]``."""
        if not self.guard:
            return self.event
        guard = ", ".join(f"{k}={'|'.join(v)}" for k, v in self.guard.items())
        return f"{self.event} [{guard}]"


@dataclass(frozen=True, slots=True)
class Condition:
    """A test on the object(s) at ``path`` (links from the payment's root; ``""`` is the root).

    With ``count`` false: the single object at ``path`` is in one of ``states``. With
    ``count`` true: the number of objects at the many-path ``path`` in ``states`` (all states
    when ``states`` is None) lies within ``at_least`` .. ``at_most``.
    """

    path: str
    states: tuple[str, ...] | None
    count: bool = False
    at_least: int | None = None
    at_most: int | None = None


InvariantKind = Literal["count", "iff", "implies", "same_value", "absorbing"]


@dataclass(frozen=True, slots=True)
class Invariant:
    """A cross-object rule every payment must satisfy after every step."""

    name: str
    description: str
    kind: InvariantKind
    conditions: tuple[Condition, ...] = ()
    values: tuple[str, ...] = ()
    location: Location = _NOWHERE


@dataclass(frozen=True, slots=True)
class Decision:
    """A place where the product doc is vague or silent, and what the spec decided."""

    topic: str
    doc_says: str
    decision: str
    why: str


@dataclass(frozen=True, slots=True)
class Spec:
    """The whole loaded spec. Build one with :func:`cxpay_conformance.spec.load_spec`."""

    path: str
    title: str
    version: str
    openapi_path: str
    objects: Mapping[str, ObjectType]
    cards: Cards
    rejections: Mapping[str, Rejection]
    protocol: Protocol
    clock: Mapping[str, int]
    events: Mapping[str, Event]
    transitions: tuple[Transition, ...]
    invariants: tuple[Invariant, ...]
    decisions: tuple[Decision, ...]

    @property
    def root(self) -> ObjectType:
        """The object type a payment starts with: the one no other object owns."""
        return next(o for o in self.objects.values() if o.owner_link is None)

    def transitions_of(self, event: str) -> tuple[Transition, ...]:
        """Every transition the event can fire, in file order."""
        return tuple(t for t in self.transitions if t.event == event)

    def events_of(self, object_type: str) -> tuple[Event, ...]:
        """The events that fire transitions of ``object_type``."""
        return tuple(e for e in self.events.values() if e.object == object_type)

    def rejection_for(self, event: str, state: str) -> Rejection | None:
        """The rejection the spec expects for ``event`` fired on an object in ``state``."""
        ev = self.events[event]
        name = ev.rejections.get(state, ev.rejection)
        return self.rejections[name] if name else None

    def webhook_types(self) -> tuple[str, ...]:
        """Every webhook event type any state emits, in file order."""
        return tuple(
            s.emits for o in self.objects.values() for s in o.states.values() if s.emits
        )
