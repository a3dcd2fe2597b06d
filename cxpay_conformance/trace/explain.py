"""Pages of ``GET /events`` explained: which events of the spec made the status changes they list.

An event list shows no requests, only what they did. Each listed event is either one the model
already owes (the rest of a transition's changes, oldest first) or the first change of a new
step: a payment created (its amount, currency and deadline read from the object), an event of
the spec fired on one of the payment's objects with one of the parameters the spec names (a
test card, a 3D Secure outcome), or the merchant's test clock reaching the event's ``created``
(everything due by then happens, earliest first). Where several steps fit (two test cards both
send a charge to the network), each is kept until later events tell them apart; where none
fits, the list breaks the spec at that event.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from cxpay_conformance.errors import UsageError
from cxpay_conformance.model import Outcome
from cxpay_conformance.spec import Event
from cxpay_conformance.suite import checks
from cxpay_conformance.suite.context import brief
from cxpay_conformance.trace.records import EVENT_LIST_MERCHANT, Heard
from cxpay_conformance.trace.state import MerchantState, StoryStep, TraceState
from cxpay_conformance.trace.steps import Steps
from cxpay_conformance.trace.violation import Violated


def explain(steps: Steps, st: TraceState, heard: Heard) -> list[TraceState]:
    """The states that explain one listed event after ``st`` (raises :class:`Violated` when none does)."""
    label = EVENT_LIST_MERCHANT
    m = st.merchant(label)
    event = heard.event
    event_id = str(event.get("id"))
    kind = str(event.get("type"))
    obj = (event.get("data") or {}).get("object") if isinstance(event.get("data"), dict) else None
    object_id = obj.get("id") if isinstance(obj, dict) else None
    if event_id in st.events:
        steps.hear(st, heard)  # the same event again: it must repeat itself
        return [st]
    if not isinstance(object_id, str) or not isinstance(obj, Mapping):
        raise steps.fail(st, heard, checks._failure("event_list", f"event {event_id} names no object (data.object.id)",
                                                    event="list events", expected="data.object.id", observed=obj))
    created = int(event.get("created") or 0)
    if not m.synced:
        m.now, m.synced = created, True
    elif created < m.now:
        raise steps.fail(st, heard, checks._failure(
            "event_list", f"GET /events is not oldest first: {event_id} (created {created}) is listed after an "
            f"event created at {m.now}", event="list events", expected="creation order", observed=created))
    elif created > m.now:
        seconds = created - m.now

        def after_each(payment: int, outcome: Outcome) -> None:
            steps.owe(st, m, payment, outcome, heard.line)
            target = m.ids.get((payment, outcome.target or ""), outcome.target)
            m.tell(payment, StoryStep(heard.where, f"clock: reaches {created} (+{seconds} s, inferred)",
                                      f"{outcome.event} {target}: "
                                      + ", ".join(f"{c.type} {c.to_state}" for c in outcome.changes)))

        m.advance(seconds, after_each)
    if m.pending:
        steps.consume(st, m, label, heard, kind, object_id, obj, ordered=True)
        st.events[event_id] = (event, heard.where, label)
        return [st]
    found: list[TraceState] = []
    first: Violated | None = None
    for payment, event_name, key, params in _candidates(steps, m, object_id, obj):
        trial = st.copy()
        tm = trial.merchants[label]
        try:
            number, outcome, story = _fire(steps, tm, payment, event_name, key, params)
        except UsageError:
            continue
        if outcome is None or not outcome.accepted:
            continue
        steps.owe(trial, tm, number, outcome, heard.line)
        tm.settle(number)
        tm.last_event[number] = outcome.event
        tm.tell(number, StoryStep(heard.where, story + " (inferred)", ", ".join(
            f"{c.type} {c.to_state}" for c in outcome.changes)))
        try:
            steps.consume(trial, tm, label, heard, kind, object_id, obj, ordered=True)
        except Violated as stop:
            first = first or stop
            continue
        trial.events[event_id] = (event, heard.where, label)
        found.append(trial)
    if found:
        return found
    ref = m.refs.get(object_id)
    raise steps.fail(st, heard, checks._failure(
        "event_list", f"GET /events lists unexpected event: {kind} for {object_id}; no event the spec allows "
        "explains it here (each status change makes exactly one event)", event="list events",
        expected="an event the spec explains", observed=kind), (m, ref[0]) if ref is not None else None)


Candidate = tuple[int | None, str, str | None, dict[str, Any]]


def _candidates(steps: Steps, m: MerchantState, object_id: str, obj: Mapping[str, Any]) -> Iterator[Candidate]:
    spec = steps.spec
    ref = m.refs.get(object_id)
    if ref is None and steps.type_of(object_id) == spec.root.name:
        yield None, steps.creating.name, None, _creation_params(steps, m, obj)
        return
    payments: list[int]
    if ref is not None:
        payments = [ref[0]]
    else:
        linked = [m.refs[v] for v in obj.values() if isinstance(v, str) and v in m.refs]
        payments = sorted({r[0] for r in linked}) or sorted(m.worlds)
    for payment in payments:
        world = m.worlds[payment]
        for event in spec.events.values():
            if event.creates or event.due is not None:
                continue
            for key, target in world.objects.items():
                if target.type != event.target:
                    continue
                for params in _parameters(steps, event):
                    yield payment, event.name, key, params


def _parameters(steps: Steps, event: Event) -> Iterator[dict[str, Any]]:
    choices: dict[str, tuple[Any, ...]] = dict(event.parameters)
    if event.card == "parameter":
        choices[steps.spec.cards.parameter] = tuple(steps.spec.cards.numbers)
    names = list(choices)
    for values in itertools.product(*(choices[n] for n in names)):
        yield dict(zip(names, values, strict=True))


def _creation_params(steps: Steps, m: MerchantState, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The creating request's parameters, read back from the object it made (``$param.x`` fields, and
    ``{sum: [$now, $param.x]}`` ones less the clock)."""
    params: dict[str, Any] = {}
    transition = next(t for t in steps.spec.transitions_of(steps.creating.name) if t.creates)
    for name, expression in transition.fields.items():
        if isinstance(expression, str) and expression.startswith("$param."):
            params[expression.removeprefix("$param.")] = obj.get(name)
        elif isinstance(expression, Mapping) and set(expression) == {"sum"} and isinstance(obj.get(name), int):
            terms = list(expression["sum"])
            wanted = [t for t in terms if isinstance(t, str) and t.startswith("$param.")]
            rest = [t for t in terms if t not in wanted]
            if len(wanted) == 1 and all(t == "$now" or isinstance(t, int) for t in rest):
                known = sum(m.now if t == "$now" else t for t in rest)
                params[wanted[0].removeprefix("$param.")] = obj[name] - known
    return params


def _fire(steps: Steps, m: MerchantState, payment: int | None, event_name: str, key: str | None,
          params: dict[str, Any]) -> tuple[int, Outcome | None, str]:
    event = steps.spec.events[event_name]
    if payment is None:
        number, world = m.new_payment()
        world.now = m.now
        return number, world.create(params), f"{event.actor}: {event.name} {brief(params)}"
    world = m.at_now(payment)
    if event_name not in world.enabled(world.subject(event_name, key or "").key):
        return payment, None, ""
    outcome = world.fire(event_name, key or "", params)
    shown = m.ids.get((payment, key or ""), key)
    return payment, outcome, f"{event.actor}: {event.name} {shown}{brief(params, lead=' with ')}"
