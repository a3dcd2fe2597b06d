"""The model's side of the linearizability check: what the spec predicts for one order of a
concurrent history.

:class:`RaceModel` is the :class:`~.linearizability.Model` the checker searches with. Its state
(:class:`RaceState`) is a model :class:`~cxpay_conformance.model.World` plus what only a history
of several requests carries: the events emitted so far, the first answer under each
Idempotency-Key (a later request with that key replays it, or gets the spec's ``key_in_flight``
rejection if it overlapped it; once the test clock has moved a whole idempotency window on, the
key is forgotten and the request is a new one) and the ids the answers gave to objects created in the branches.
Placing a call fires its event on a copy of the world and compares the call's observed answer
with the prediction: the HTTP status and error code, the answered object's status and fields.
When every call of a payment is placed, :meth:`RaceModel.finish` compares the objects read back
and the webhooks received. No state or event name of the spec appears here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cxpay_conformance.model import World
from cxpay_conformance.spec import Event, Rejection, Spec
from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.linearizability import Call
from cxpay_conformance.suite.observed import differences, wire
from cxpay_conformance.suite.receiver import Delivery


@dataclass(frozen=True)
class RaceStep:
    """One request of a branch, drawn before the branches start.

    ``kind`` is ``"event"`` (``event`` on our object ``key``), ``"create"`` (a new payment with
    ``params`` as its body) or ``"advance"`` (the test clock, by ``seconds``).
    """

    branch: int
    kind: str
    operation: str
    body: Any
    idempotency_key: str
    story: str
    event: Event | None = None
    key: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    seconds: int = 0


@dataclass(frozen=True)
class FirstAnswer:
    """The answer of the request that did the work under one Idempotency-Key."""

    call: Call
    status: int
    answer: Any
    at: int  # the model's clock when it answered: the key is forgotten a window later


@dataclass(frozen=True)
class RaceState:
    """The world after some calls of a history were placed in some order."""

    world: World
    #: (event type, model key of its object), in the order the model emitted them.
    emitted: tuple[tuple[str, str], ...] = ()
    first: Mapping[str, FirstAnswer] = field(default_factory=dict)
    #: model key -> the id an answer in the branches gave it (the payments they created).
    bound: Mapping[str, str] = field(default_factory=dict)


class RaceModel:
    """The spec's predictions for the calls of one concurrent history.

    ``steps`` and ``answers`` are indexed by call id; ``ids`` binds the model keys of the
    objects the prefix created to their real ids; ``prefix_events`` are the prefix's expected
    webhooks (type, real id); ``read_back`` is every object read back once
    the branches ended (id -> answer) and ``deliveries`` the webhooks received for them.
    ``exact_webhooks=False`` lets webhooks still on their way be missing (the first pass, which
    finds the order whose webhooks to wait for); ``True`` wants exactly the predicted ones.
    """

    def __init__(self, spec: Spec, steps: Sequence[RaceStep], answers: Sequence[Exchange],
                 ids: Mapping[str, str], prefix_events: Sequence[tuple[str, str]], *,
                 read_back: Mapping[str, Any], deliveries: Sequence[Delivery] | None,
                 exact_webhooks: bool) -> None:
        self.spec = spec
        self.steps = steps
        self.answers = answers
        self.ids = dict(ids)
        self.prefix_events = list(prefix_events)
        self.read_back = read_back
        self.deliveries = deliveries
        self.exact_webhooks = exact_webhooks
        self.in_flight = spec.protocol.key_in_flight
        self.window = spec.protocol.idempotency_window
        #: The Idempotency-Keys that more than one step carries: only their first answers can
        #: decide a step still to come (see :meth:`key`).
        self.shared_keys = frozenset(k for k, n in Counter(s.idempotency_key for s in steps).items() if n > 1)

    # --- the checker's Model protocol --------------------------------------------------------

    def step(self, state: RaceState, call: Call) -> tuple[RaceState, str | None]:
        step, answer = self.steps[call.id], self.answers[call.id]
        first = state.first.get(step.idempotency_key)
        if first is not None and state.world.now - first.at < self.window:
            return state, self._again(call, answer, first)
        if _is(answer, self.in_flight):
            return state, (f"{call.label} answered {_answered(answer)}, but no request with its "
                           "Idempotency-Key came before it in this order")
        world = state.world.copy()
        emitted = list(state.emitted)
        bound = dict(state.bound)
        if step.kind == "advance":
            start = world.now
            for outcome in world.advance(step.seconds):
                emitted.extend((c.emits, c.key) for c in outcome.changes if c.emits)
            why = self._accepted(call, answer, {"now": start + step.seconds})
        elif step.kind == "create":
            outcome = world.create(step.params)
            root = world.objects[outcome.target or ""]
            emitted.extend((c.emits, c.key) for c in outcome.changes if c.emits)
            why = self._accepted(call, answer, self._fields(world, root.key, bound))
            new_id = answer.answer.get("id") if isinstance(answer.answer, dict) else None
            if why is None and isinstance(new_id, str):
                if new_id in self.ids.values() or new_id in bound.values():
                    why = f"{call.label} answered with {new_id}, the id of another object"
                bound[root.key] = new_id
        else:
            assert step.event is not None and step.key is not None
            subject = world.subject(step.event.name, step.key)
            before = subject.state
            outcome = world.fire(step.event.name, step.key, step.params)
            if outcome.accepted:
                emitted.extend((c.emits, c.key) for c in outcome.changes if c.emits)
                why = self._accepted(call, answer, self._fields(world, subject.key, bound))
            else:
                why = self._rejected(call, answer, outcome.rejection, before)
        first_answers = {**state.first,
                         step.idempotency_key: FirstAnswer(call, answer.status, answer.answer, state.world.now)}
        return RaceState(world, tuple(emitted), first_answers, bound), why

    def finish(self, state: RaceState, partition: Hashable | None) -> str | None:
        world = state.world
        payments = self._payments_of(state, partition)
        ids = {**self.ids, **state.bound}
        for payment in payments:
            why = self._compare_read_back(world, world.root_of(payment).key, ids)
            if why is not None:
                return why
        if self.deliveries is None:
            return None
        keys = {o.key for p in payments for o in world.payment_objects(p)}
        ours = {ids[k] for k in keys if k in ids}
        want = Counter([(kind, object_id) for kind, object_id in self.prefix_events if object_id in ours]
                       + [(kind, ids.get(key, key)) for kind, key in state.emitted if key in keys])
        distinct = {str(d.event_id): d for d in self.deliveries if d.object_id in ours}
        got = Counter((str(d.type), str(d.object_id)) for d in distinct.values())
        extra, missing = got - want, want - got
        if extra:
            return "webhooks no order predicts: " + _listed(extra)
        if missing and self.exact_webhooks:
            return "webhooks this order predicts that never came: " + _listed(missing)
        return None

    def key(self, state: RaceState) -> Hashable:
        objects = tuple((o.key, o.state, repr(sorted(o.fields.items())), repr(sorted(o.links.items())))
                        for o in state.world)
        # When each key's first answer came counts too: it decides when the key is forgotten.
        # But only for a key another step carries: a key of one step is read when that step is
        # placed and never again, so two orders that differ only in when it was answered lead to
        # the same futures (without this, every position of a clock advance among the other
        # steps made new states, and proving a history wrong searched four times as many).
        first = tuple(sorted((k, f.call.id, f.at) for k, f in state.first.items() if k in self.shared_keys))
        return (objects, state.world.now, tuple(sorted(state.emitted)), first, tuple(sorted(state.bound.items())))

    # --- predictions -------------------------------------------------------------------------

    def _again(self, call: Call, answer: Exchange, first: FirstAnswer) -> str | None:
        if answer.status == first.status and answer.answer == first.answer:
            return None
        overlapped = call.start < first.call.end
        if overlapped and _is(answer, self.in_flight):
            return None
        allowed = f"its first answer again ({first.status})"
        if overlapped:
            allowed += f" or {self.in_flight.status} {self.in_flight.code}, as it overlapped that request"
        return (f"{call.label} answered {_answered(answer)}; {first.call.label} did the work under the same "
                f"Idempotency-Key, so it must get {allowed}")

    def _accepted(self, call: Call, answer: Exchange, expected: Mapping[str, Any]) -> str | None:
        if answer.status != 200:
            return f"{call.label} answered {_answered(answer)}, but in this order it is allowed (200)"
        found = differences(expected, answer.answer)
        if found:
            return f"{call.label} answered an object that differs from this order's: {'; '.join(found[:3])}"
        return None

    def _rejected(self, call: Call, answer: Exchange, rejection: Rejection | None, state: str) -> str | None:
        if rejection is None or _is(answer, rejection):
            return None
        return (f"{call.label} answered {_answered(answer)}, but in this order it comes when its object is "
                f"{state}: {rejection.status} {rejection.type}/{rejection.code}")

    def _fields(self, world: World, key: str, bound: Mapping[str, str]) -> dict[str, Any]:
        """What the answer about ``key`` must hold: its fields and status, its id when known (not
        its links, whose ids only the read-back binds)."""
        obj = world.objects[key]
        links = {link.field for link in self.spec.objects[obj.type].links.values()}
        fields = {k: v for k, v in world.snapshot(key).items() if k not in links and k != "id"}
        known = self.ids.get(key) or bound.get(key)
        return fields | ({"id": known} if known else {})

    # --- the end of a history ----------------------------------------------------------------

    def _payments_of(self, state: RaceState, partition: Hashable | None) -> list[int]:
        world = state.world
        if isinstance(partition, int):
            return [partition]
        if partition is None:
            return list(world.payments)
        return sorted({world.objects[k].payment for k in state.bound})

    def _compare_read_back(self, world: World, root: str, ids: dict[str, str]) -> str | None:
        """Compare the payment under ``root`` with what was read back, binding the ids of the
        objects the branches created (in the order of the links, as the sequential read-back does)."""
        queue = [root]
        while queue:
            key = queue.pop(0)
            obj = world.objects[key]
            real = ids.get(key)
            if real is None:
                return f"the {obj.type} {key} of this order was never seen in an answer or a read-back"
            observed = self.read_back.get(real)
            snapshot = world.snapshot(key)
            for link in self.spec.objects[obj.type].links.values():
                mine, theirs = snapshot.get(link.field), (observed or {}).get(link.field)
                if link.kind in ("owns_one", "owns_many"):
                    pairs = (zip(mine, theirs, strict=False) if isinstance(mine, list) and isinstance(theirs, list)
                             else [(mine, theirs)] if isinstance(mine, str) else [])
                    for child, child_id in pairs:
                        if child not in ids and isinstance(child_id, str):
                            ids[child] = child_id
                    queue.extend(mine if isinstance(mine, list) else [mine] if mine else [])
            expected = wire(self.spec, snapshot, obj.type, world.objects, ids)
            found = differences(expected, observed)
            if found:
                return f"{obj.type} {real} as read back differs from this order's: {'; '.join(found[:3])}"
        return None


def initial_state(world: World) -> RaceState:
    """The state the branches start from: (a copy of) the world after the prefix."""
    return RaceState(world.copy())


def _is(exchange: Exchange, rejection: Rejection) -> bool:
    return (exchange.status, exchange.error_type, exchange.error_code) == (rejection.status, rejection.type,
                                                                            rejection.code)


def _answered(exchange: Exchange) -> str:
    if exchange.error_code is not None:
        return f"{exchange.status} {exchange.error_type}/{exchange.error_code}"
    status = exchange.answer.get("status") if isinstance(exchange.answer, dict) else None
    return f"{exchange.status}" + (f" ({status})" if status else "")


def _listed(counts: Counter[tuple[str, str]]) -> str:
    return ", ".join(f"{kind} for {object_id}" + (f" (x{n})" if n > 1 else "")
                     for (kind, object_id), n in sorted(counts.items()))
