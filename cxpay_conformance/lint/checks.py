"""The lint's checks: plain functions from an exploration to findings, kept in a registry.

Each check reads the :class:`~cxpay_conformance.lint.explore.Exploration` of one payment
(its reachability graph and what firing events revealed) and the spec it came from, and
yields :class:`~cxpay_conformance.lint.findings.Finding` values. A new check is one more
function decorated with :func:`check`; :func:`~cxpay_conformance.lint.lint_spec` runs every
registered check. Nothing here knows a state or event name: everything comes from the spec.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from cxpay_conformance.errors import Location
from cxpay_conformance.lint.choices import describe, guard_contexts
from cxpay_conformance.lint.explore import Exploration
from cxpay_conformance.lint.findings import Finding
from cxpay_conformance.model.machines import guard_accepts
from cxpay_conformance.spec.paths import follow

Check = Callable[[Exploration], Iterable[Finding]]

_CHECKS: dict[str, Check] = {}


def check(func: Check) -> Check:
    """Register ``func`` as a lint check, run by every :func:`lint_spec` call.

    >>> @check
    ... def no_lonely_objects(exploration):
    ...     if len(exploration.spec.objects) < 2:
    ...         yield Finding(kind="dead-end", message="...", location=...)
    """
    _CHECKS[func.__name__] = func
    return func


def registered_checks() -> tuple[Check, ...]:
    """Every registered check, in registration order."""
    return tuple(_CHECKS.values())


@check
def unreachable_states(exploration: Exploration) -> Iterator[Finding]:
    """A state no reachable combined state contains."""
    spec = exploration.spec
    bound = _bound_note(exploration)
    for obj in spec.objects.values():
        for state in obj.states.values():
            if (obj.name, state.name) in exploration.reached:
                continue
            yield Finding(
                kind="unreachable-state",
                message=f"no reachable state of a payment has a {obj.name} in {state.name}{bound}",
                location=state.location,
                object=obj.name,
                state=state.name,
                hint="add a transition or an effect that enters it, or delete the state",
            )


@check
def dead_ends(exploration: Exploration) -> Iterator[Finding]:
    """An object in a non-terminal state that, from some reachable state, never moves again."""
    spec = exploration.spec
    can_move = _can_move(exploration)
    reported: set[tuple[str, str]] = set()
    for index, abstract in enumerate(exploration.states):
        for position, (type_, state, _card) in enumerate(abstract):
            if (type_, state) in reported or can_move[index] >> position & 1:
                continue
            if spec.objects[type_].states[state].terminal:
                continue
            reported.add((type_, state))
            yield Finding(
                kind="dead-end",
                message=(
                    f"a {type_} in {state} can get stuck: at the end of the path, no sequence "
                    f"of events ever moves it again (object #{position + 1} of the payment), "
                    f"yet {state} is not terminal"
                ),
                location=spec.objects[type_].states[state].location,
                object=type_,
                state=state,
                path=exploration.path(index),
                hint="add a transition or an effect that moves it on, or mark the state terminal",
            )


@check
def nondeterminism(exploration: Exploration) -> Iterator[Finding]:
    """Two transitions of one event that share a from-state and both accept some context."""
    spec = exploration.spec
    for event in spec.events.values():
        transitions = spec.transitions_of(event.name)
        contexts = guard_contexts(spec, event)
        for position, first in enumerate(transitions):
            for second in transitions[position + 1:]:
                if first.creates != second.creates:
                    continue
                shared = [s for s in first.from_states if s in second.from_states]
                if not first.creates and not shared:
                    continue
                context = next(
                    (c for c in contexts
                     if guard_accepts(first.guard, c) and guard_accepts(second.guard, c)),
                    None,
                )
                if context is None:
                    continue
                tested = {k: context.get(k) for k in (*first.guard, *second.guard)}
                where = "at creation" if first.creates else f"from {', '.join(shared)}"
                yield Finding(
                    kind="nondeterminism",
                    message=(
                        f"{event.name} on a {event.object} {where} with "
                        f"{describe(tested) if tested else 'any card and parameters'} matches both "
                        f"transition #{first.index + 1} ({first.label()} -> {first.to}, at "
                        f"{first.location}) and transition #{second.index + 1} "
                        f"({second.label()} -> {second.to}, at {second.location})"
                    ),
                    location=first.location,
                    related=(second.location,),
                    object=event.object,
                    state=shared[0] if shared else None,
                    event=event.name,
                    hint="make the two guards exclusive, or merge the transitions into one",
                )


@check
def never_enabled(exploration: Exploration) -> Iterator[Finding]:
    """A non-creating event no reachable state accepts."""
    spec = exploration.spec
    bound = _bound_note(exploration)
    for event in spec.events.values():
        if event.creates or event.name in exploration.fired:
            continue
        starts = sorted({s for t in spec.transitions_of(event.name) for s in t.from_states})
        why = (
            f"its transitions start from {', '.join(starts)}" if starts else "it has no transition"
        )
        yield Finding(
            kind="never-enabled",
            message=f"no reachable state accepts {event.name} ({why}){bound}",
            location=event.location,
            object=event.object,
            event=event.name,
            hint="add a transition for it from a state a payment reaches, or delete the event",
        )


@check
def terminal_exits(exploration: Exploration) -> Iterator[Finding]:
    """A transition or effect that moves an object out of a terminal state.

    Found in the spec's text (whether or not a payment gets there), and while exploring
    (an effect without ``from`` that reaches a terminal object); a finding seen both ways
    carries the shortest path that shows it.
    """
    spec = exploration.spec
    found: dict[Location, Finding] = {}
    for transition in spec.transitions:
        obj = spec.objects[transition.object]
        leaving = [
            s for s in transition.from_states if obj.states[s].terminal and s != transition.to
        ]
        if leaving:
            found[transition.location] = Finding(
                kind="terminal-exit",
                message=(
                    f"transition #{transition.index + 1} ({transition.label()}) moves a {obj.name} "
                    f"out of the terminal state {', '.join(leaving)} to {transition.to}"
                ),
                location=transition.location,
                object=obj.name,
                state=leaving[0],
                event=transition.event,
                hint="remove the terminal state from `from`, or unmark it terminal",
            )
        for effect in transition.effects:
            if effect.kind != "set":
                continue
            target = follow(spec, transition.object, effect.path).object
            leaving = [
                s for s in effect.from_states if target.states[s].terminal and s != effect.state
            ]
            if leaving:
                found[effect.location] = Finding(
                    kind="terminal-exit",
                    message=(
                        f"an effect of transition #{transition.index + 1} ({transition.label()}) "
                        f"moves a {target.name} out of the terminal state {', '.join(leaving)} "
                        f"to {effect.state}"
                    ),
                    location=effect.location,
                    object=target.name,
                    state=leaving[0],
                    event=transition.event,
                    hint="remove the terminal state from the effect's `from`, or unmark it",
                )
    for location, incident in exploration.terminal_exits.items():
        static = found.get(location)
        if static is not None:
            found[location] = replace(static, path=incident.path)
            continue
        found[location] = Finding(
            kind="terminal-exit",
            message=f"at the end of the path, {incident.detail}",
            location=location,
            object=incident.object,
            state=incident.state,
            event=incident.event,
            path=incident.path,
            hint="give the effect a `from:` list without terminal states",
        )
    yield from found.values()


@check
def invariants_broken(exploration: Exploration) -> Iterator[Finding]:
    """An invariant some reachable state breaks, with the shortest path that breaks it."""
    for invariant in exploration.spec.invariants:
        incident = exploration.violations.get(invariant.name)
        if incident is None:
            continue
        yield Finding(
            kind="invariant-broken",
            message=(
                f"invariant {invariant.name} ({invariant.description}) is broken at the end "
                f"of the path: {incident.detail}"
            ),
            location=invariant.location,
            invariant=invariant.name,
            event=incident.event,
            path=incident.path,
            related=incident.related,
            hint=(
                "the invariant held before the last step: fix that transition "
                f"({', '.join(map(str, incident.related)) or 'see the path'}) or the invariant"
            ),
        )


@check
def guard_gaps(exploration: Exploration) -> Iterator[Finding]:
    """An event allowed from a state where some guard choice matches no transition."""
    for incident in exploration.guard_gaps.values():
        yield Finding(
            kind="guard-gap",
            message=f"at the end of the path, {incident.path[-1]}: {incident.detail}",
            location=incident.location,
            object=incident.object,
            state=incident.state,
            event=incident.event,
            path=incident.path,
            hint="add a transition whose guard accepts this card or parameter, or widen a guard",
        )


# --- helpers -----------------------------------------------------------------------------------


def _can_move(exploration: Exploration) -> list[int]:
    """Per state, a bit mask of the objects that some state reachable from it moves.

    A backwards fixpoint over the graph: a state can move what its own events move, and
    whatever any successor can move.
    """
    count = len(exploration.states)
    predecessors: list[list[int]] = [[] for _ in range(count)]
    for source, edges in enumerate(exploration.edges):
        for edge in edges:
            predecessors[edge.target].append(source)
    can = list(exploration.moved)
    queued = [True] * count
    work = deque(range(count))
    while work:
        state = work.popleft()
        queued[state] = False
        for source in predecessors[state]:
            merged = can[source] | can[state]
            if merged != can[source]:
                can[source] = merged
                if not queued[source]:
                    queued[source] = True
                    work.append(source)
    return can


def _bound_note(exploration: Exploration) -> str:
    if not exploration.pruned:
        return ""
    return f" (exploring up to {exploration.max_children} children per many-link)"
