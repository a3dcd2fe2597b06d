"""The meaning checks: a spec that has the right shape can still name things that do not exist.

Each check here reads the typed spec and reports a :class:`~cxpay_conformance.errors.SpecProblem`
at the exact place to change: unknown states, objects, links and card behaviours; events
with no operation in the OpenAPI document; duplicate transitions; events that lack an
expected rejection for the states where they are not allowed. Whether the spec makes sense
as a whole (reachability, dead ends, invariants) is the lint's job, not the loader's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml

from cxpay_conformance.errors import SpecProblem
from cxpay_conformance.spec.paths import PathError, follow, split_value_path
from cxpay_conformance.spec.types import Event, Spec, Transition
from cxpay_conformance.spec.yaml_positions import FAST_LOADER, Positions

PathKey = Sequence[str | int]


class _Report:
    def __init__(self, positions: Positions) -> None:
        self.positions = positions
        self.problems: list[SpecProblem] = []

    def add(self, where: PathKey, message: str, hint: str) -> None:
        self.problems.append(SpecProblem(self.positions.at(where), message, hint))

    def unknown(self, where: PathKey, what: str, name: str, known: Iterable[str]) -> None:
        known = list(known)
        close = get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(known)}"
        self.add(where, f"unknown {what} {name!r}", hint)


def check_meaning(spec: Spec, data: dict[str, Any], positions: Positions) -> list[SpecProblem]:
    """Every meaning problem of ``spec``; ``data`` and ``positions`` locate them."""
    report = _Report(positions)
    _check_objects(spec, report)
    _check_cards(spec, report)
    for role, name in data["protocol"].items():
        numbers = ("idempotency_window", "idempotency_key_length", "webhook_retry_window")
        if role not in numbers and name not in spec.rejections:
            report.unknown(("protocol", role), "rejection", str(name), spec.rejections)
    shortest, longest = spec.protocol.idempotency_key_length
    if shortest > longest:
        report.add(("protocol", "idempotency_key_length"),
                   f"idempotency_key_length: min {shortest} is more than max {longest}",
                   "give the shortest key accepted as min and the longest as max")
    operations = _operation_ids(spec, report)
    for event in spec.events.values():
        _check_event(spec, event, operations, data, report)
    seen: dict[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], int] = {}
    for transition in spec.transitions:
        _check_transition(spec, transition, seen, report)
    _check_rejections_complete(spec, report)
    _check_invariants(spec, report)
    return report.problems


def _check_objects(spec: Spec, report: _Report) -> None:
    roots = [o.name for o in spec.objects.values() if o.owner_link is None]
    if len(roots) != 1:
        report.add(
            ("objects",),
            f"exactly one object type must be the root of a payment (owned by none); found {roots}",
            "give every object type but the root a link with `owner: true`",
        )
    prefixes: dict[str, str] = {}
    emitted: dict[str, str] = {}
    for obj in spec.objects.values():
        where = ("objects", obj.name)
        if obj.prefix in prefixes:
            report.add((*where, "prefix"), f"the id prefix {obj.prefix!r} is also {prefixes[obj.prefix]}'s",
                       "give every object type its own prefix")
        prefixes[obj.prefix] = obj.name
        if not obj.initial_states:
            report.add((*where, "states"), f"{obj.name} has no initial state",
                       "mark the state objects are created in with `initial: true`")
        for link in obj.links.values():
            lwhere = (*where, "links", link.name)
            if link.object not in spec.objects:
                report.unknown((*lwhere, "object"), "object type", link.object, spec.objects)
                continue
            if link.kind == "newest_of":
                of = obj.links.get(link.of or "")
                if of is None or not of.many or of.object != link.object:
                    report.add((*lwhere, "newest_of"),
                               f"newest_of must name a many-link of {obj.name} to {link.object}",
                               f"name one of: {', '.join(n for n, lk in obj.links.items() if lk.many)}")
        for state in obj.states.values():
            if state.initial and state.terminal:
                report.add((*where, "states", state.name),
                           f"{obj.name}.{state.name} is both initial and terminal",
                           "an object that can never change needs no state machine; drop one flag")
            if state.emits is None:
                continue
            swhere = (*where, "states", state.name, "emits")
            if not state.emits.startswith(obj.name + "."):
                report.add(swhere, f"the event type {state.emits!r} must start with {obj.name + '.'!r}",
                           "webhook event types are <object>.<what>, as in the contract")
            if state.emits in emitted:
                report.add(swhere, f"the event type {state.emits!r} is also emitted by {emitted[state.emits]}",
                           "each state emits its own event type, so a receiver can tell them apart")
            emitted[state.emits] = f"{obj.name}.{state.name}"


def _check_cards(spec: Spec, report: _Report) -> None:
    for card in spec.cards.numbers.values():
        for attribute, value in card.attributes.items():
            where = ("cards", "numbers", card.number, attribute)
            allowed = spec.cards.attributes.get(attribute)
            if allowed is None:
                report.unknown(where, "card attribute", attribute, spec.cards.attributes)
            elif value is not None and value not in allowed:
                report.unknown(where, f"value of {attribute}", str(value), allowed)


def _operation_ids(spec: Spec, report: _Report) -> set[str] | None:
    path = Path(spec.openapi_path)
    try:
        # libyaml when present: the document is large, and only its operation ids are read here.
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=FAST_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        report.add(("openapi",), f"the OpenAPI document {path} cannot be read: {exc}",
                   "point `openapi:` at the spec's openapi.yaml, relative to this file")
        return None
    paths = document.get("paths", {}) if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        report.add(("openapi",), f"{path} is not an OpenAPI document (no `paths:` mapping)",
                   "point `openapi:` at the spec's openapi.yaml, relative to this file")
        return None
    operations = set()
    for item in paths.values():
        for operation in (item if isinstance(item, dict) else {}).values():
            if isinstance(operation, dict) and "operationId" in operation:
                operations.add(operation["operationId"])
    return operations


def _check_event(
    spec: Spec, event: Event, operations: set[str] | None, data: dict[str, Any], report: _Report
) -> None:
    where = ("events", event.name)
    if event.object not in spec.objects:
        report.unknown((*where, "object"), "object type", event.object, spec.objects)
        return
    obj = spec.objects[event.object]
    if operations is not None and event.operation not in operations:
        report.unknown((*where, "operation"), "operation (no such operationId in the OpenAPI document)",
                       event.operation, sorted(operations))
    if event.addressed_to is not None:
        if event.addressed_to not in spec.objects:
            report.unknown((*where, "addressed_to"), "object type", event.addressed_to, spec.objects)
        elif not any(lk.object == event.addressed_to for lk in obj.links.values()):
            report.add((*where, "addressed_to"),
                       f"{event.object} has no link to {event.addressed_to}",
                       f"add a link from {event.object} to {event.addressed_to}, "
                       f"or address the event to {event.object}")
    if event.card not in (None, "parameter", "self") and event.card not in obj.links:
        report.add((*where, "card"), f"card: {event.card!r} is neither parameter, self nor a link of {obj.name}",
                   f"use parameter, self or one of: {', '.join(obj.links)}")
    names = [event.rejection, *event.rejections.values()]
    for name in names:
        if name is not None and name not in spec.rejections:
            report.unknown((*where, "rejection"), "rejection", name, spec.rejections)
    for state in event.rejections:
        if state not in obj.states:
            report.unknown((*where, "rejections", state), f"state of {obj.name}", state, obj.states)
    if (event.actor == "clock") != (event.due is not None):
        report.add(where, f"event {event.name}: a clock event needs `due`, and only clock events have it",
                   "add `due: {at_field: ...}` or `due: {after: ...}` to clock events only")
    after = data["events"][event.name].get("due", {}).get("after")
    if isinstance(after, str) and after not in spec.clock:
        report.unknown((*where, "due", "after"), "clock constant", after, spec.clock)
    if event.creates != any(t.creates for t in spec.transitions_of(event.name)):
        report.add(where, f"event {event.name}: `creates: true` goes with a transition that has no `from`",
                   "mark the event that makes new objects `creates: true`, and give its transition no `from`")


def _guard_problems(spec: Spec, transition: Transition, report: _Report) -> None:
    event = spec.events[transition.event]
    for key, values in transition.guard.items():
        where = ("transitions", transition.index, "guard", key)
        if key.startswith("card."):
            attribute = key.removeprefix("card.")
            if event.card is None:
                report.add(where, f"the guard tests the card, but event {event.name} has no card",
                           "give the event `card: parameter | self | <link>`, or drop the guard")
            elif attribute not in spec.cards.attributes:
                report.unknown(where, "card behaviour", attribute, spec.cards.attributes)
            else:
                for value in values:
                    if value not in spec.cards.attributes[attribute]:
                        report.unknown(where, f"value of card.{attribute}", value,
                                       spec.cards.attributes[attribute])
        elif key in event.parameters:
            for value in values:
                if value not in event.parameters[key]:
                    report.unknown(where, f"value of {key}", value, event.parameters[key])
        else:
            options = [*event.parameters, *(f"card.{a}" for a in spec.cards.attributes)]
            report.unknown(where, f"guard key for event {event.name}", key, options)


def _check_transition(
    spec: Spec,
    transition: Transition,
    seen: dict[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], int],
    report: _Report,
) -> None:
    where: tuple[str | int, ...] = ("transitions", transition.index)
    event = spec.events.get(transition.event)
    if event is None:
        report.unknown((*where, "event"), "event", transition.event, spec.events)
        return
    if event.object not in spec.objects:
        return
    obj = spec.objects[event.object]
    for position, state in enumerate(transition.from_states):
        if state not in obj.states:
            report.unknown((*where, "from", position), f"state of {obj.name}", state, obj.states)
    if transition.to not in obj.states:
        report.unknown((*where, "to"), f"state of {obj.name}", transition.to, obj.states)
    _guard_problems(spec, transition, report)
    guard_key = tuple(sorted(transition.guard.items()))
    for state in transition.from_states or ("",):
        key = (transition.event, state, guard_key)
        if key in seen:
            report.add(where,
                       f"duplicate transition: {transition.label()} from {state or 'creation'} "
                       f"is already defined by transition #{seen[key] + 1}",
                       "delete one of them, or give them different guards")
        seen[key] = transition.index
    for position, effect in enumerate(transition.effects):
        ewhere = (*where, "effects", position)
        try:
            end = follow(spec, obj.name, effect.path)
        except PathError as exc:
            report.add(ewhere, f"effect path {effect.path!r}: {exc}", "use link names of the objects, joined by dots")
            continue
        if effect.kind == "create":
            link = obj.links.get(effect.path)
            if link is None or link.kind not in ("owns_one", "owns_many"):
                report.add(ewhere, f"create: {effect.path!r} must be a link that {obj.name} owns",
                           "name a link with `owns: one` or `owns: many`")
        for state in (effect.state, *effect.from_states):
            if state not in end.object.states:
                report.unknown(ewhere, f"state of {end.object.name}", state, end.object.states)


def _check_rejections_complete(spec: Spec, report: _Report) -> None:
    for event in spec.events.values():
        if event.creates or event.actor == "clock" or event.object not in spec.objects:
            continue
        allowed = {s for t in spec.transitions_of(event.name) for s in t.from_states}
        refused = [s for s in spec.objects[event.object].states if s not in allowed]
        # Not rejection_for(), which raises on an unknown rejection name (_check_event reports it).
        missing = [s for s in refused if event.rejections.get(s, event.rejection) is None]
        if missing:
            report.add(("events", event.name),
                       f"event {event.name} has no expected rejection for the states where it is not "
                       f"allowed: {', '.join(missing)}",
                       "add `rejection: <name>` (or per-state `rejections:`) so negative tests know the answer")


def _check_invariants(spec: Spec, report: _Report) -> None:
    root = spec.root.name if len([o for o in spec.objects.values() if o.owner_link is None]) == 1 else None
    if root is None:
        return
    for index, invariant in enumerate(spec.invariants):
        where = ("invariants", index)
        for condition in invariant.conditions:
            try:
                end = follow(spec, root, condition.path)
            except PathError as exc:
                report.add(where, f"invariant {invariant.name}: path {condition.path!r}: {exc}",
                           f"paths start at {root}; join link names with dots")
                continue
            if end.many and not condition.count:
                report.add(where, f"invariant {invariant.name}: {condition.path!r} may be many objects",
                           "use `count:` with `at_least`/`at_most` for a many-link")
            for state in condition.states or ():
                if state not in end.object.states:
                    report.unknown(where, f"state of {end.object.name}", state, end.object.states)
        for value in invariant.values:
            links, index_, _field = split_value_path(value)
            try:
                end = follow(spec, root, links)
            except PathError as exc:
                report.add(where, f"invariant {invariant.name}: value {value!r}: {exc}",
                           f"paths start at {root}; end with a field name")
                continue
            if index_ is not None and not end.many:
                report.add(where, f"invariant {invariant.name}: {value!r} indexes a single object",
                           "only a many-link takes an index such as -1")
