"""Breadth-first exploration of every combined state one payment can reach in the model.

The search starts from the spec's creating event (generic parameters, every guard choice)
and fires every non-creating event on every object of the payment, with every choice of
the request parameters its guards may test, on a copy of the model's :class:`World`. Clock
events are fired like any other: time can always pass. A combined state is abstracted to
the type, state and test card of each of the payment's objects, in creation order; the
first world to reach an abstract state stands for it, and breadth-first order makes the
recorded path to every state, and to every problem, a shortest one. Events that would give
an object more children through a many-link than ``max_children`` are counted as
``pruned`` and not explored, which keeps retries finite.

The result, an :class:`Exploration`, is the reachability graph plus what went wrong while
firing (guard gaps, invariants broken, terminal states left); ``checks.py`` turns it into
findings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cxpay_conformance.errors import Location, UsageError
from cxpay_conformance.lint.choices import choices
from cxpay_conformance.lint.findings import Step
from cxpay_conformance.model import (
    ModelObject,
    ObjectMachines,
    Outcome,
    World,
    check_changes,
    check_world_payment,
)
from cxpay_conformance.spec import Event, Spec, Transition
from cxpay_conformance.spec.paths import follow

#: One object of a payment as the exploration tells states apart: (type, state, card number).
AbstractObject = tuple[str, str, str | None]
#: A combined state: the payment's objects in creation order.
AbstractState = tuple[AbstractObject, ...]

_PAYMENT = 1  # every explored world holds exactly one payment, the first


@dataclass(frozen=True, slots=True)
class Edge:
    """An accepted event from one combined state to another.

    ``moved`` has bit ``i`` set when the ``i``-th object of the payment changed state.
    """

    target: int
    step: Step
    moved: int


@dataclass(frozen=True, slots=True)
class Incident:
    """Something that went wrong while firing an event, first seen after ``path``."""

    path: tuple[Step, ...]
    detail: str
    location: Location
    object: str | None = None
    state: str | None = None
    event: str | None = None
    #: Other places involved: the transition whose firing showed the problem.
    related: tuple[Location, ...] = ()


class Exploration:
    """The reachability graph of one payment, and what firing its events revealed.

    States are numbered in breadth-first order (0 is the state right after creation, or
    the first of them when the creating event has several guard choices).
    """

    def __init__(self, spec: Spec, max_children: int) -> None:
        self.spec = spec
        self.max_children = max_children
        self.states: list[AbstractState] = []
        self.edges: list[list[Edge]] = []
        #: Per state, a bit mask of the objects some accepted event moves, pruned ones included.
        self.moved: list[int] = []
        self.transitions = 0
        self.pruned = 0
        #: Events accepted somewhere (pruned firings included: the spec allows them).
        self.fired: set[str] = set()
        #: (object type, state) pairs some explored world holds (pruned worlds included).
        self.reached: set[tuple[str, str]] = set()
        #: By (event, object type, state): an event allowed there that no guard accepts.
        self.guard_gaps: dict[tuple[str, str, str], Incident] = {}
        #: By invariant name: the first (shortest) path that breaks it.
        self.violations: dict[str, Incident] = {}
        #: By the transition or effect responsible: an object leaving a terminal state.
        self.terminal_exits: dict[Location, Incident] = {}
        self._index: dict[AbstractState, int] = {}
        self._parents: list[tuple[int, Step]] = []

    def path(self, state: int) -> tuple[Step, ...]:
        """The shortest event path from creation to ``state``."""
        steps = []
        while state >= 0:
            parent, step = self._parents[state]
            steps.append(step)
            state = parent
        return tuple(reversed(steps))

    def _add(self, abstract: AbstractState, parent: int, step: Step) -> tuple[int, bool]:
        known = self._index.get(abstract)
        if known is not None:
            return known, False
        index = len(self.states)
        self._index[abstract] = index
        self.states.append(abstract)
        self.edges.append([])
        self.moved.append(0)
        self._parents.append((parent, step))
        return index, True


def explore(
    spec: Spec, *, max_children: int, create_params: Mapping[str, Any]
) -> Exploration:
    """Explore every combined state of one payment of ``spec`` (see the module docstring).

    >>> exploration = explore(spec, max_children=3, create_params={"amount": 1, "currency": "usd"})
    >>> exploration.path(0)
    (Step(event='create_session', ...),)
    """
    return _Search(spec, max_children, create_params).run()


class _Search:
    """One breadth-first search; the spec's tables it needs are computed once."""

    def __init__(self, spec: Spec, max_children: int, create_params: Mapping[str, Any]) -> None:
        self.spec = spec
        self.result = Exploration(spec, max_children)
        self.create_params = create_params
        self.machines = ObjectMachines(spec)
        self.queue: deque[tuple[int, World]] = deque()
        self.events_at = {
            name: [e for e in spec.events.values() if not e.creates and e.target == name]
            for name in spec.objects
        }
        self.choices = {e.name: choices(spec, e) for e in spec.events.values()}
        self.allowed = {
            e.name: frozenset(s for t in spec.transitions_of(e.name) for s in t.from_states)
            for e in spec.events.values()
        }
        self.many_links = {
            o.name: tuple(link.name for link in o.links.values() if link.many)
            for o in spec.objects.values()
        }

    def run(self) -> Exploration:
        self._create()
        while self.queue:
            index, world = self.queue.popleft()
            self._expand(index, world)
        return self.result

    # --- the two kinds of step ---------------------------------------------------------------

    def _create(self) -> None:
        creating = next((e for e in self.spec.events.values() if e.creates), None)
        if creating is None:
            return
        for choice in self.choices[creating.name]:
            world = World(self.spec, now=0, machines=self.machines)
            step = Step(creating.name, choice)
            params = {**self.create_params, **creating.defaults, **choice}
            try:
                outcome = world.create(params)
            except UsageError as exc:
                self._guard_gap((step,), creating, self.spec.root.name, "", str(exc))
                continue
            self._arrive(-1, (), world, outcome, step, world.objects[outcome.target or ""])

    def _expand(self, index: int, world: World) -> None:
        objects = world.payment_objects(_PAYMENT)
        for obj in objects:
            for event in self.events_at[obj.type]:
                subject = _subject(world, event, obj)
                if subject is None or subject.state not in self.allowed[event.name]:
                    continue  # the model would reject it, and rejections change nothing
                several = sum(1 for o in objects if o.type == obj.type) > 1
                for choice in self.choices[event.name]:
                    step = Step(event.name, choice, obj.key if several else None)
                    twin = world.copy()
                    try:
                        outcome = twin.fire(event.name, obj.key, choice)
                    except UsageError as exc:
                        path = (*self.result.path(index), step)
                        self._guard_gap(path, event, subject.type, subject.state, str(exc))
                        continue
                    if outcome.accepted:
                        self._arrive(index, self.result.states[index], twin, outcome, step, subject)

    def _arrive(
        self,
        source: int,
        before: AbstractState,
        world: World,
        outcome: Outcome,
        step: Step,
        subject: ModelObject,
    ) -> None:
        """Record the world an accepted event made, and queue it when its state is new."""
        result = self.result
        abstract = _abstract(world)
        result.reached.update((o[0], o[1]) for o in abstract)
        if source >= 0:
            result.fired.add(step.event)
        self._inspect(source, world, outcome, step, subject)
        moved = _moved(before, abstract)
        if self._too_many_children(world):
            result.pruned += 1
            if source >= 0:
                result.moved[source] |= moved
            return
        target, new = result._add(abstract, source, step)
        if source >= 0:
            result.transitions += 1
            result.edges[source].append(Edge(target, step, moved))
            result.moved[source] |= moved
        if new:
            self.queue.append((target, world))

    # --- what can go wrong -------------------------------------------------------------------

    def _inspect(
        self, source: int, world: World, outcome: Outcome, step: Step, subject: ModelObject
    ) -> None:
        """Check the world an event made: invariants, and objects leaving terminal states."""
        result = self.result
        violations = check_world_payment(world, _PAYMENT)
        violations += check_changes(self.spec, outcome.changes)
        for violation in violations:
            if violation.invariant.name not in result.violations:
                result.violations[violation.invariant.name] = Incident(
                    self._path(source, step), violation.detail, violation.invariant.location,
                    event=step.event,
                    related=(outcome.transition.location,) if outcome.transition else (),
                )
        transition = outcome.transition
        if transition is None:
            return
        for change in outcome.changes:
            if change.from_state is None or change.from_state == change.to_state:
                continue
            if not self.spec.objects[change.type].states[change.from_state].terminal:
                continue
            if change.key == subject.key and change.to_state == transition.to:
                location = transition.location
            else:
                location = _effect_location(
                    self.spec, transition, change.type, change.from_state, change.to_state
                )
            if location not in result.terminal_exits:
                result.terminal_exits[location] = Incident(
                    self._path(source, step),
                    f"{change.key} left the terminal state {change.from_state} "
                    f"for {change.to_state}",
                    location, change.type, change.from_state, step.event,
                )

    def _guard_gap(
        self, path: tuple[Step, ...], event: Event, object_type: str, state: str, detail: str
    ) -> None:
        key = (event.name, object_type, state)
        if key in self.result.guard_gaps:
            return
        location = next(
            (t.location for t in self.spec.transitions_of(event.name)
             if state in t.from_states or (not state and t.creates)),
            event.location,
        )
        self.result.guard_gaps[key] = Incident(
            path, detail, location, object_type, state or None, event.name
        )

    # --- helpers -----------------------------------------------------------------------------

    def _path(self, source: int, step: Step) -> tuple[Step, ...]:
        return (*self.result.path(source), step) if source >= 0 else (step,)

    def _too_many_children(self, world: World) -> bool:
        limit = self.result.max_children
        return any(
            len(obj.links.get(name) or ()) > limit
            for obj in world.objects.values()
            for name in self.many_links[obj.type]
        )


def _abstract(world: World) -> AbstractState:
    return tuple((o.type, o.state, o.card) for o in world.payment_objects(_PAYMENT))


def _moved(before: AbstractState, after: AbstractState) -> int:
    mask = 0
    for position, (old, new) in enumerate(zip(before, after, strict=False)):
        if old[1] != new[1]:
            mask |= 1 << position
    return mask


def _subject(world: World, event: Event, addressed: ModelObject) -> ModelObject | None:
    """The object ``event`` moves when fired at ``addressed``; None when the link is empty."""
    try:
        return world.subject(event.name, addressed.key)
    except UsageError:
        return None


def _effect_location(
    spec: Spec, transition: Transition, object_type: str, from_state: str, to_state: str
) -> Location:
    """The effect of ``transition`` that made an object of ``object_type`` move this way."""
    for effect in transition.effects:
        if effect.kind != "set" or effect.state != to_state:
            continue
        if effect.from_states and from_state not in effect.from_states:
            continue
        if follow(spec, transition.object, effect.path).object.name == object_type:
            return effect.location
    return transition.location
