"""What check-trace knows of each merchant while it reads a trace: one model world per
payment, the implementation's ids bound to the model's objects, the webhooks the model still
expects, the events seen, the Idempotency-Keys answered, and each payment's story so far.

A payment has a :class:`~cxpay_conformance.model.World` of its own (its objects are numbered
within it: ``(payment, key)``), so that the cost of a step does not grow with the length of the
trace; the merchant's test clock moves them all (:meth:`MerchantState.advance`). A state is
copied cheaply (:meth:`TraceState.copy`): a world is copied only when one of the copies changes
it, so that the orders of requests sent at once, and the ways an event list can be explained,
can be tried side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cxpay_conformance.model import ObjectMachines, Outcome, World
from cxpay_conformance.spec import Spec

#: An object of the model: (payment, key within the payment's world).
Ref = tuple[int, str]


@dataclass(frozen=True, slots=True)
class Expected:
    """A webhook the model says the implementation owes: its type, the object (as the model
    knows it) and the object's model snapshot right after the change; ``order`` is global."""

    type: str
    ref: Ref
    snapshot: Mapping[str, Any]
    order: int
    line: int


@dataclass(frozen=True, slots=True)
class KeyUse:
    """The first answer given under one Idempotency-Key."""

    fingerprint: tuple[str, str, str]
    status: int
    answer: Any
    answered_at: int
    started: float
    ended: float
    line: int
    request: str


@dataclass(frozen=True, slots=True)
class StoryStep:
    """One step of a payment's story: the trace line, what happened, what was expected and seen."""

    where: str
    story: str
    expected: str = ""
    observed: str = ""


@dataclass
class MerchantState:
    """One merchant, as the model and the trace so far say it is."""

    spec: Spec
    machines: ObjectMachines
    now: int = 0
    synced: bool = False
    worlds: dict[int, World] = field(default_factory=dict)
    owned: set[int] = field(default_factory=set)
    #: Payments with clock work waiting (a world whose ``due()`` is not empty).
    waiting: set[int] = field(default_factory=set)
    ids: dict[Ref, str] = field(default_factory=dict)
    refs: dict[str, Ref] = field(default_factory=dict)
    pending: list[Expected] = field(default_factory=list)
    keys: dict[str, KeyUse] = field(default_factory=dict)
    endpoints: dict[str, bool] = field(default_factory=dict)  # id -> deleted
    stories: dict[int, tuple[StoryStep, ...]] = field(default_factory=dict)
    last_event: dict[int, str] = field(default_factory=dict)
    accepted_key: bool = False
    refused_key: bool = False
    #: Payments whose world changed since :meth:`touch_nothing` (the search of overlapping requests' orders).
    touched: set[int] = field(default_factory=set)

    def copy(self) -> MerchantState:
        twin = MerchantState(self.spec, self.machines, self.now, self.synced, dict(self.worlds), set(),
                             set(self.waiting), dict(self.ids), dict(self.refs), list(self.pending),
                             dict(self.keys), dict(self.endpoints), dict(self.stories), dict(self.last_event),
                             self.accepted_key, self.refused_key, set(self.touched))
        self.owned = set()  # from now on both copy a world before changing it
        return twin

    # --- worlds ---------------------------------------------------------------------------

    def world(self, payment: int) -> World:
        """The payment's world, to change: copied first if another state shares it."""
        if payment not in self.owned:
            self.worlds[payment] = self.worlds[payment].copy()
            self.owned.add(payment)
        self.touched.add(payment)
        return self.worlds[payment]

    def obj(self, ref: Ref) -> Any:
        return self.worlds[ref[0]].objects[ref[1]]

    def new_payment(self) -> tuple[int, World]:
        payment = len(self.worlds) + 1
        world = World(self.spec, now=self.now, machines=self.machines)
        self.worlds[payment] = world
        self.owned.add(payment)
        self.touched.add(payment)
        return payment, world

    def settle(self, payment: int) -> None:
        """Note whether the payment has clock work waiting, after it changed."""
        if self.worlds[payment].due():
            self.waiting.add(payment)
        else:
            self.waiting.discard(payment)

    def advance(self, seconds: int, after_each: Callable[[int, Outcome], None]) -> list[tuple[int, Outcome]]:
        """Move the merchant's clock on, firing what falls due across its payments, earliest
        first (as :meth:`World.advance` does within one world)."""
        target = self.now + seconds
        fired: list[tuple[int, Outcome]] = []
        while True:
            candidates = []
            for payment in sorted(self.waiting):
                for when, event, key in self.worlds[payment].due():
                    if when <= target:
                        candidates.append((when, payment, event, key))
                        break  # due() is earliest first within a world
            if not candidates:
                break
            when, payment, event, key = min(candidates)
            world = self.world(payment)
            world.now = max(world.now, when)
            outcome = world.fire(event, key)
            fired.append((payment, outcome))
            after_each(payment, outcome)
            self.settle(payment)
        self.now = target
        for payment in list(self.waiting):
            if self.worlds[payment].now != target:
                self.world(payment).now = target
        return fired

    def at_now(self, payment: int) -> World:
        """The payment's world, to change, with its clock on the merchant's."""
        world = self.world(payment)
        world.now = self.now
        return world

    # --- ids --------------------------------------------------------------------------------

    def bind(self, ref: Ref, object_id: str) -> bool:
        """Bind the model's ``ref`` to the implementation's id; False when either is bound otherwise."""
        if self.ids.get(ref) == object_id:
            return True
        if ref in self.ids or object_id in self.refs:
            return False
        self.ids[ref] = object_id
        self.refs[object_id] = ref
        return True

    def tell(self, payment: int, step: StoryStep) -> None:
        self.stories[payment] = (*self.stories.get(payment, ()), step)


@dataclass
class TraceState:
    """Every merchant of one trace, the owner of every id, and the events seen by id."""

    spec: Spec
    machines: ObjectMachines
    merchants: dict[str, MerchantState] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # implementation id -> merchant label
    #: Every event seen, by id: (the event, where it was first seen, its merchant's label).
    events: dict[str, tuple[Mapping[str, Any], str, str]] = field(default_factory=dict)
    order: int = 0

    def merchant(self, label: str) -> MerchantState:
        found = self.merchants.get(label)
        if found is None:
            found = self.merchants[label] = MerchantState(self.spec, self.machines)
        return found

    def copy(self) -> TraceState:
        return TraceState(self.spec, self.machines, {k: m.copy() for k, m in self.merchants.items()},
                          dict(self.owner), dict(self.events), self.order)
