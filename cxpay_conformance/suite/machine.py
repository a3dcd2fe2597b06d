"""The Hypothesis state machine, generated from the spec.

:func:`build_machine` makes a ``RuleBasedStateMachine`` with a rule for every event of the
spec (whoever its actor: merchant, customer, network; the clock has its own rule), plus
probes for idempotency, auth and tenant isolation. Payments live in a Bundle so that steps
of several payments interleave. Every step is performed on the implementation through the
adapter and predicted by the model (:class:`~cxpay_conformance.model.World`); the checks of
:mod:`.checks` compare the two. No state or event name of the spec appears here.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import currently_in_test_context, target
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, precondition, rule

from cxpay_conformance.errors import ConformanceFailure, ImplementationUnreachable
from cxpay_conformance.model import Outcome, World, check_changes, check_invariants
from cxpay_conformance.spec import Event, Rejection
from cxpay_conformance.suite import checks
from cxpay_conformance.suite._compat import every_rule_on
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY, Exchange
from cxpay_conformance.suite.context import KeyedRequest, Prediction, Step, SuiteContext, rejection_words
from cxpay_conformance.suite.foreign import ForeignPayments
from cxpay_conformance.suite.observed import ObservedGraph, differences
from cxpay_conformance.suite.patience import LOST_GRACE
from cxpay_conformance.suite.requests import body_for, create_bodies, mutated

#: Payments still open at once in one example: enough to interleave, few enough to go deep.
MAX_LIVE_PAYMENTS = 2

#: At most this many due times the teardown crosses (a spec's clock work could beget more).
CATCH_UP_LIMIT = 4


class ConformanceMachine(RuleBasedStateMachine):
    """The shared behaviour of every generated machine; :func:`build_machine` adds the rules."""

    ctx: SuiteContext

    def __init__(self) -> None:
        super().__init__()
        _without_hypothesis_feature_flags(self)
        self.world = World(self.ctx.spec, machines=self.ctx.machines)
        self.synced = False
        self.ids: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self.steps: list[Step] = []
        self.exchanges: list[Exchange] = []
        #: What the suite expected of the answers it held to the model (index in exchanges).
        self.predictions: dict[int, Prediction] = {}
        self.expected_events: list[checks.ExpectedEvent] = []
        self.keyed: list[KeyedRequest] = []
        self.hits: set[int] = set()
        self._failure: ConformanceFailure | None = None
        self.counted = False  # in ctx.examples yet
        self.nonce = uuid.uuid4().hex[:12]
        self.swarm: dict[str, bool] = {}
        second = self.ctx.config.second_api_key
        self.foreign = ForeignPayments(self, second) if second else None
        self.ctx.begin_example(self)

    @property
    def failure(self) -> ConformanceFailure | None:
        """The check that failed in this example, if one did."""
        return self._failure

    @failure.setter
    def failure(self, failure: ConformanceFailure | None) -> None:
        self._failure = failure
        if failure is not None:
            self.ctx.example_failed(self, failure)

    @property
    def failed(self) -> bool:
        """Whether a check failed in this example (its failure is :attr:`failure`)."""
        return self.failure is not None

    # --- talking to the implementation ------------------------------------------------------

    def perform(self, operation_id: str, key: str | None, body: Any = None, *,
                api_key: Any = USE_DEFAULT_KEY, keyed: bool = False,
                idempotency_key: str | None = None, object_id: str | None = None) -> Exchange:
        """Perform an operation on our object ``key`` (None: on no object, or on ``object_id``,
        an object that is not ours)."""
        if keyed and idempotency_key is None:
            idempotency_key = f"cxpay-{self.nonce}-{len(self.exchanges)}"
        if key is not None:
            object_id = self.ids.get(key, f"<{key}: never created>")
        if self.ctx.fatal is not None:  # don't wait on a dead implementation while shrinking
            raise self.ctx.fatal
        try:
            exchange = self.ctx.adapter.perform(operation_id, object_id, body, api_key=api_key,
                                                idempotency_key=idempotency_key)
        except ImplementationUnreachable as exc:
            self.ctx.fatal = exc
            raise
        self.exchanges.append(exchange)
        self.ctx.requests += 1
        if exchange.status >= 500:
            self.run("status", exchange, accepted=True, rejection=None, state=None,
                     event=self.steps[-1].event if self.steps else operation_id)
        self.run("openapi", self.ctx.contract, exchange)
        return exchange

    def predict(self, exchange: Exchange, status: int, code: str | None = None,
                object_status: str | None = None, *, same_as: Exchange | None = None) -> None:
        """Note what the suite expects of ``exchange``'s answer, for the reproduction script:
        ``status`` and, where predicted, the error ``code``, the ``object_status``, or the very
        answer of the earlier exchange ``same_as``."""
        index = self._index_of(exchange)
        if index is not None:
            earlier = self._index_of(same_as) if same_as is not None else None
            self.predictions[index] = Prediction(status, code, object_status, earlier)

    def _index_of(self, exchange: Exchange) -> int | None:
        for index in range(len(self.exchanges) - 1, -1, -1):
            if self.exchanges[index] is exchange:
                return index
        return None

    def rejected(self, exchange: Exchange, rejection: Rejection | None) -> None:
        """Note that ``exchange`` must get ``rejection`` (see :meth:`predict`)."""
        if rejection is not None:
            self.predict(exchange, rejection.status, rejection.code)

    def act(self, object_type: str, key: str | None, event: Event | None, params: Mapping[str, Any], *,
            api_key: Any = USE_DEFAULT_KEY, object_id: str | None = None) -> Exchange:
        """Fire ``event`` with ``params`` on an object of ``object_type`` (our ``key``, or
        ``object_id``), or read it when ``event`` is None."""
        if event is None:
            return self.perform(self.ctx.readers[object_type], key, api_key=api_key, object_id=object_id)
        body = body_for(self.ctx.spec, self.ctx.contract, event, params)
        return self.perform(event.operation, key, body, api_key=api_key, object_id=object_id)

    def run(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Run check ``name`` if the user selected it."""
        __tracebackhide__ = True
        if name not in self.ctx.selected:
            return
        self.ctx.checks_run[name] += 1
        try:
            checks.CHECKS[name].function(*args, **kwargs)
        except ConformanceFailure as failure:
            self.failure = failure
            failure.step = len(self.steps)
            if self.steps:
                self.steps[-1].observed = f"FAILED [{name}]: {failure}"
            raise

    # --- wire <-> model --------------------------------------------------------------------

    def wire(self, snapshot: Mapping[str, Any], type_: str) -> dict[str, Any]:
        """A model snapshot as the wire should show it: model keys replaced by real ids."""
        def real(value: Any) -> Any:
            if isinstance(value, list):
                return [real(v) for v in value]
            if isinstance(value, str) and value in self.world.objects:
                return self.ids.get(value, f"<{value}: not created by the implementation>")
            return value

        links = {link.field for link in self.ctx.spec.objects[type_].links.values()} | {"id"}
        return {k: (real(v) if k in links else v) for k, v in snapshot.items()} | {"object": type_}

    def expected(self, key: str) -> dict[str, Any]:
        obj = self.world.objects[key]
        return self.wire(self.world.snapshot(key), obj.type)

    def bind(self, key: str, object_id: Any, *, forgotten_key: bool = False) -> None:
        """Bind the model's ``key`` to the implementation's id; ``forgotten_key``: the request
        reused a key past the idempotency window, so an id seen before means it was replayed."""
        if key in self.ids or not isinstance(object_id, str):
            return
        if object_id in self.keys:
            if forgotten_key:
                hours = self.ctx.spec.protocol.idempotency_window // 3600
                failure = checks._failure(
                    "idempotency", f"the key was replayed after the {hours} h "
                    f"window: expected a new object, got the first answer again ({object_id})",
                    event=self.steps[-1].event if self.steps else "", expected="a new object",
                    observed=f"the first answer again ({object_id})")
            else:
                failure = checks._failure("state", f"the implementation gave {object_id} to two objects "
                                          f"({self.keys[object_id]} and {key}); ids must be unique",
                                          event=self.steps[-1].event if self.steps else "",
                                          expected="distinct ids", observed=object_id)
            # Marked failed as run() marks it: otherwise teardown would go on to compare webhooks
            # against ids it cannot trust, and its failure would hide this one.
            self.failure = failure
            failure.step = len(self.steps)
            if self.steps:
                self.steps[-1].observed = f"FAILED [state]: {failure}"
            raise failure
        self.ids[key] = object_id
        self.keys[object_id] = key

    def observe(self, payment: int) -> dict[str, Any]:
        """Read back every object of ``payment``, binding the ids of new ones on the way."""
        spec = self.ctx.spec
        queue = [self.world.root_of(payment).key]
        observed: dict[str, Any] = {}
        while queue:
            key = queue.pop(0)
            obj = self.world.objects[key]
            if key not in self.ids:
                continue
            exchange = self.perform(self.ctx.readers[obj.type], key)
            self.predict(exchange, 200, object_status=obj.state)
            observed[self.ids[key]] = exchange.answer if exchange.status == 200 else None
            if exchange.status != 200:
                continue
            snapshot = self.world.snapshot(key)
            for link in spec.objects[obj.type].links.values():
                if link.kind not in ("owns_one", "owns_many"):
                    continue
                mine, theirs = snapshot.get(link.field), exchange.answer.get(link.field)
                pairs = (zip(mine, theirs, strict=False) if isinstance(mine, list) and isinstance(theirs, list)
                         else [(mine, theirs)] if isinstance(mine, str) else [])
                for child, child_id in pairs:
                    self.bind(child, child_id)
                queue.extend(mine if isinstance(mine, list) else [mine] if mine else [])
        return observed

    def verify_payments(self, payments: set[int], event: str, *, after_rejection: bool = False) -> None:
        """Read back ``payments`` (polling a while for asynchronous implementations) and check them."""
        # While the run shrinks a failure, polling is cut short if it has never helped (suite/patience.py).
        patience = self.ctx.patience
        deadline = self.ctx.clock() + patience.settle_timeout(self.ctx.config.settle_timeout,
                                                              shrinking=self.ctx.first_failure is not None)
        polled = False
        first = len(self.exchanges)
        while True:
            this_round = len(self.exchanges)
            observed: dict[str, Any] = {}
            for payment in sorted(payments):
                observed.update(self.observe(payment))
            want = {self.ids.get(o.key, o.key): self.expected(o.key)
                    for p in payments for o in self.world.payment_objects(p)}
            mismatch = any(differences(w, observed.get(i)) for i, w in want.items())
            if not mismatch or self.ctx.clock() >= deadline:
                break
            polled = True
            self.ctx.sleep(0.05)
        if polled and not mismatch:
            patience.settled_late = True
        for index in range(first, this_round):  # polls the suite waited past, not held to the model
            self.predictions.pop(index, None)
        self.run("state", want, observed, event=event, after_rejection=after_rejection)
        types = {self.ids[o.key]: o.type for p in payments for o in self.world.payment_objects(p)
                 if o.key in self.ids}
        present = {i: v for i, v in observed.items() if isinstance(v, dict)}
        graph = ObservedGraph(self.ctx.spec, present, types)
        for payment in sorted(payments):
            root = self.ids.get(self.world.root_of(payment).key)
            if root in present:
                self.run("invariants", check_invariants(self.ctx.spec, graph, root), event=event)

    # --- recording ----------------------------------------------------------------------------

    def record(self, outcome: Outcome, snapshots: Mapping[str, Mapping[str, Any]]) -> None:
        """Coverage and expected webhooks of one model outcome."""
        coverage = self.ctx.coverage
        if outcome.accepted and outcome.transition is not None:
            coverage.transition(outcome.transition.index, outcome.state)
            self.hits.add(outcome.transition.index)
        elif not outcome.accepted and outcome.state is not None:
            coverage.rejection(outcome.event, outcome.state)
        for change in outcome.changes:
            coverage.state(change.type, change.to_state)
            if change.emits:
                self.expected_events.append(checks.ExpectedEvent(
                    change.emits, self.ids.get(change.key, change.key), snapshots[change.key], len(self.steps)))
        broken = check_changes(self.ctx.spec, outcome.changes)
        if broken:  # the model itself left a terminal state: a spec bug, which lint reports
            raise AssertionError("; ".join(map(str, broken)))

    def begin(self, actor: str, event: str, story: str, expected: str) -> Step:
        step = Step(len(self.steps) + 1, actor, event, story, expected)
        self.steps.append(step)
        self.ctx.steps += 1
        self.ctx.notify()
        return step

    # --- the steps every generated rule calls -------------------------------------------------

    def create_payment(self, body: dict[str, Any], *, forgotten_key: str | None = None) -> int:
        """Create a payment; ``forgotten_key``: with an Idempotency-Key used more than the
        idempotency window ago, which the implementation must treat as new."""
        event = self.ctx.creating
        again = " (again, with an Idempotency-Key older than the idempotency window)" if forgotten_key else ""
        step = self.begin(event.actor, event.name, f"{event.actor}: {event.name} {_brief(body)}{again}",
                          "accepted (200)")
        exchange = self.perform(event.operation, None, body, keyed=True, idempotency_key=forgotten_key)
        step.exchange = exchange
        if not self.synced and exchange.status == 200 and isinstance(exchange.answer.get("created"), int):
            self.world.now, self.synced = exchange.answer["created"], True
        outcome = self.world.create(body)
        root = self.world.objects[outcome.target or ""]
        self.predict(exchange, 200, object_status=root.state)
        step.observed = f"{exchange.status} {root.type} {exchange.answer.get('status')}"
        self.run("status", exchange, accepted=True, rejection=None, state=None, event=event.name)
        self.bind(root.key, exchange.answer.get("id"), forgotten_key=forgotten_key is not None)
        self.keyed.append(KeyedRequest(event.operation, None, body, exchange, self.world.now, root.payment))
        self.verify_payments({root.payment}, event.name)
        self.record(outcome, {c.key: self.expected(c.key) for c in outcome.changes})
        self.run("response_body", exchange, self.expected(root.key), event=event.name)
        return root.payment

    def fire_event(self, event: Event, key: str, params: dict[str, Any]) -> None:
        subject = self.world.subject(event.name, key)
        before = subject.state
        body = body_for(self.ctx.spec, self.ctx.contract, event, params)
        story = f"{event.actor}: {event.name} {self.ids.get(key, key)}{_brief(params, lead=' with ')}"
        step = self.begin(event.actor, event.name, story, "")
        exchange = self.perform(event.operation, key, body, keyed=True)
        step.exchange = exchange
        outcome = self.world.fire(event.name, key, params)
        if outcome.accepted:
            self.predict(exchange, 200, object_status=self.world.objects[subject.key].state)
        else:
            self.rejected(exchange, outcome.rejection)
        step.expected = (f"{subject.type} {before} -> " + ", ".join(
            f"{c.type} {c.to_state}" for c in outcome.changes) if outcome.accepted
            else rejection_words(outcome.rejection, before))
        step.observed = f"{exchange.status} {exchange.error_code or exchange.answer.get('status', '')}"
        self.run("status", exchange, accepted=outcome.accepted, rejection=outcome.rejection,
                 state=before, event=event.name)
        self.keyed.append(KeyedRequest(event.operation, key, body, exchange, self.world.now, subject.payment))
        # Reading back binds the ids of objects the event created, which the webhooks name.
        self.verify_payments({subject.payment}, event.name, after_rejection=not outcome.accepted)
        self.record(outcome, {c.key: self.expected(c.key) for c in outcome.changes})
        if outcome.accepted:
            self.run("response_body", exchange, self.expected(subject.key), event=event.name)

    def advance(self, seconds: int) -> None:
        clock_event = self.ctx.clock_event
        step = self.begin("clock", "advance", f"clock: advance {seconds} s", "")
        body = body_for(self.ctx.spec, self.ctx.contract, clock_event, {}, amount=seconds)
        exchange = self.perform(clock_event.operation, None, body, keyed=True)
        step.exchange = exchange
        self.predict(exchange, 200)
        changed: set[int] = set()
        start = self.world.now
        # The payments with clock work still owed are read back too, even where the model says
        # nothing falls due: work done early (a charge settled before its time) shows there.
        waiting = {self.world.objects[key].payment for _when, _event, key in self.world.due()}

        def after_each(outcome: Outcome) -> None:
            self.record(outcome, {c.key: self.expected(c.key) for c in outcome.changes})
            changed.update(self.world.objects[c.key].payment for c in outcome.changes)

        outcomes = self.world.advance(seconds, after_each)
        step.expected = "; ".join(f"{o.event} {self.ids.get(o.target or '', o.target)}" for o in outcomes) \
            or "nothing falls due"
        step.observed = f"{exchange.status}"
        self.run("status", exchange, accepted=True, rejection=None, state=None, event="advance")
        self.run("response_body", exchange, {"now": start + seconds}, event="advance")
        self.keyed.append(KeyedRequest(clock_event.operation, None, body, exchange, start, None))
        if changed or waiting:
            self.verify_payments(changed | waiting, "advance")

    # --- probes -------------------------------------------------------------------------------

    def replay(self, request: KeyedRequest) -> None:
        step = self.begin("merchant", "replay", f"merchant: replay {request.first.describe()}",
                          f"the first answer again ({request.first.status})")
        replay = self.perform(request.operation_id, request.key, request.body,
                              idempotency_key=request.first.headers.get("Idempotency-Key"))
        step.exchange = replay
        first = request.first.answer if isinstance(request.first.answer, dict) else {}
        self.predict(replay, request.first.status, request.first.error_code,
                     first.get("status") if isinstance(first.get("status"), str) else None, same_as=request.first)
        step.observed = f"{replay.status}"
        self.run("idempotency", request.first, replay)
        self.verify_payments(self._all_payments(), "replay", after_rejection=True)

    def reuse_key(self, request: KeyedRequest, body: dict[str, Any]) -> None:
        rejection = self.ctx.spec.protocol.key_reused
        step = self.begin("merchant", "reuse key", f"merchant: reuse the key of {request.first.describe()} "
                          f"with {_brief(body)}", rejection_words(rejection, None))
        exchange = self.perform(request.operation_id, request.key, body,
                                idempotency_key=request.first.headers.get("Idempotency-Key"))
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        if "idempotency" in self.ctx.selected:
            self.ctx.checks_run["idempotency"] += 1
            try:
                checks.check_key_reuse(exchange, (rejection.status, rejection.type, rejection.code))
            except ConformanceFailure as failure:
                self.failure = failure
                raise
        self.verify_payments(self._all_payments(), "reuse key", after_rejection=True)

    def key_of_length(self, length: int, target: tuple[str, Event, dict[str, Any]] | None,
                      anywhere: Event | None) -> None:
        """Send a request with an Idempotency-Key of ``length`` characters.

        Outside the spec's bounds, the request is an event on our object ``target``: the
        spec's ``key_length_invalid`` rejection is the answer, and nothing changes. At a bound,
        the key must be accepted. A key too short to be unique (one character, say) may have
        been used before, in this run or an earlier one, so it goes with a request that is the
        same every time, ``anywhere`` on an id that was never created: whether the key is new
        or the answer is replayed, the answer is the spec's ``unknown_object`` rejection.
        """
        protocol = self.ctx.spec.protocol
        shortest, longest = protocol.idempotency_key_length
        inside = shortest <= length <= longest
        stem = f"cxpay-{self.nonce}-{len(self.exchanges)}-"
        idempotency_key = (stem + "k" * length)[:length] if length >= len(stem) else "k" * length
        bounds = f"{shortest}-{longest}"
        if inside:
            assert anywhere is not None
            rejection = protocol.unknown_object
            what = f"an Idempotency-Key of {_characters(length)} (within {bounds}) on an id never created"
            object_type = anywhere.target or anywhere.object
            object_id = f"{self.ctx.spec.objects[object_type].prefix}{'0' * 24}"
            step = self.begin("merchant", "key length", f"merchant: {anywhere.name} {object_id} with {what}",
                              rejection_words(rejection, None))
            body = body_for(self.ctx.spec, self.ctx.contract, anywhere, {})
            exchange = self.perform(anywhere.operation, None, body, idempotency_key=idempotency_key,
                                    object_id=object_id)
        else:
            assert target is not None
            key, event, params = target
            rejection = protocol.key_length_invalid
            what = f"an Idempotency-Key of {_characters(length)} (outside {bounds})"
            step = self.begin("merchant", "key length", f"merchant: {event.name} {self.ids.get(key, key)} "
                              f"with {what}", rejection_words(rejection, None))
            body = body_for(self.ctx.spec, self.ctx.contract, event, params)
            exchange = self.perform(event.operation, key, body, idempotency_key=idempotency_key)
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        if "idempotency" in self.ctx.selected:
            self.ctx.checks_run["idempotency"] += 1
            try:
                checks.check_key_length(exchange, (rejection.status, rejection.type, rejection.code), what=what)
            except ConformanceFailure as failure:
                self.failure = failure
                failure.step = len(self.steps)
                step.observed = f"FAILED [idempotency]: {failure}"
                raise
        if not inside:
            self.verify_payments({self.world.objects[key].payment}, "key length", after_rejection=True)

    def intrude(self, key: str, event: Event | None, params: dict[str, Any]) -> None:
        """With our key, read every object of the second merchant, then read or fire ``event``
        on its object ``key``: each time the spec's ``unknown_object`` rejection, and ``key``
        as its own merchant reads it unchanged."""
        assert self.foreign is not None
        foreign = self.foreign
        rejection = self.ctx.spec.protocol.unknown_object
        expected = (rejection.status, rejection.type, rejection.code)
        for other in [k for k in foreign.keys if k != key]:
            obj = foreign.world.objects[other]
            step = self.begin("merchant", "tenant_isolation", f"our key on another merchant's {obj.type}: "
                              f"read {foreign.ids[other]}", rejection_words(rejection, None))
            step.exchange = self.perform(self.ctx.readers[obj.type], None, object_id=foreign.ids[other])
            self.rejected(step.exchange, rejection)
            step.observed = f"{step.exchange.status} {step.exchange.error_code or ''}"
            self.run("tenant_isolation", step.exchange, expected)
        object_id = foreign.ids[key]
        obj = foreign.world.objects[key]
        action = event.name if event else "read"
        step = self.begin("merchant", "tenant_isolation",
                          f"our key on another merchant's {obj.type}: {action} {object_id}",
                          rejection_words(rejection, None))
        before = foreign.read(key)
        exchange = self.act(obj.type, None, event, params, object_id=object_id)
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        after = foreign.read(key)
        changed = None
        if (after.status, after.answer) != (before.status, before.answer):
            changed = f"{object_id}, as its merchant reads it, changed: " + "; ".join(
                checks._body_changes(before.answer, after.answer)[:5])
        self.run("tenant_isolation", exchange, expected, changed=changed)

    def read_ours_with(self, api_key: str | None) -> None:
        """Read every object of ours with another merchant's key: the spec's ``unknown_object``
        rejection for each (as :meth:`intrude` does the other way)."""
        rejection = self.ctx.spec.protocol.unknown_object
        for key in [o.key for o in self.world if o.key in self.ids]:
            obj = self.world.objects[key]
            step = self.begin("merchant", "tenant_isolation", f"another merchant's key: read {self.ids[key]}",
                              rejection_words(rejection, None))
            step.exchange = self.perform(self.ctx.readers[obj.type], key, api_key=api_key)
            self.rejected(step.exchange, rejection)
            step.observed = f"{step.exchange.status} {step.exchange.error_code or ''}"
            self.run("tenant_isolation", step.exchange, (rejection.status, rejection.type, rejection.code))

    def probe_with(self, check: str, key: str, event: Event | None, params: dict[str, Any],
              api_key: str | None, rejection: Rejection, what: str,
              replaying: KeyedRequest | None = None) -> None:
        """Fire ``event`` (None: a read) on ``key`` with ``api_key``, or send again the request
        ``replaying`` with its Idempotency-Key; either way ``rejection`` is the answer."""
        obj = self.world.objects[key]
        action = replaying.operation_id if replaying else event.name if event else "read"
        step = self.begin("merchant", check, f"{what}: {action} {self.ids.get(key, key)}",
                          rejection_words(rejection, None))
        if replaying is not None:
            exchange = self.perform(replaying.operation_id, key, replaying.body, api_key=api_key,
                                    idempotency_key=replaying.first.headers.get("Idempotency-Key"))
        else:
            exchange = self.act(obj.type, key, event, params, api_key=api_key)
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        expected = (rejection.status, rejection.type, rejection.code)
        if check == "auth":
            self.run("auth", exchange, expected, what=what)
        else:
            self.run("tenant_isolation", exchange, expected)
        self.verify_payments({obj.payment}, action, after_rejection=True)

    def _all_payments(self) -> set[int]:
        return set(self.world.payments)

    def owed_after_the_end(self) -> list[tuple[int, str, str]]:
        """Clock work still owed to payments that have ended (a captured charge's settlement,
        say), as :meth:`World.due` lists it."""
        terminal = self.ctx.spec.root.terminal_states
        return [item for item in self.world.due()
                if self.world.root_of(self.world.objects[item[2]].payment).state in terminal]

    def cross(self, when: int) -> None:
        """Advance the clock to one second before ``when`` (nothing due then may have happened
        yet), then onto it (now it has): both edges of a due time, each read back."""
        if when - self.world.now > 1:
            self.advance(when - self.world.now - 1)
        self.advance(max(1, when - self.world.now))

    def catch_up(self) -> None:
        """Cross the due times of the clock work owed to ended payments, earliest first, so
        that an example that ends before its clock got there still sees that work done."""
        for _ in range(CATCH_UP_LIMIT):
            owed = self.owed_after_the_end()
            if not owed:
                return
            self.cross(owed[0][0])

    def teardown(self) -> None:
        self.ctx.end_example(self)
        if self.failed:
            self.ctx.failing = self
            return
        if not self.steps:
            return
        self.catch_up()
        if currently_in_test_context():  # not when a test drives an example by hand
            target(float(len(self.hits)), label="distinct transitions in one example")
        receiver = self.ctx.receiver
        if receiver is None or not ({"webhooks", "signatures"} & self.ctx.selected):
            return
        # Counted, as the webhooks check counts them: an object that went through a status
        # twice owes two events, and stopping at the first let the second, still on its way,
        # be reported missing.
        wanted = Counter((e.type, e.object_id) for e in self.expected_events)
        ours = set(self.ids.values())

        def missing(deliveries: list[Any]) -> set[str]:
            """The event types of which fewer have arrived than the model expects."""
            distinct = {str(d.event_id): d for d in deliveries if d.object_id in ours}
            got = Counter((str(d.type), str(d.object_id)) for d in distinct.values())
            return {kind for (kind, object_id), count in wanted.items() if got[(kind, object_id)] < count}

        # Every expected type is waited for as long as the user said, except the types that
        # went missing once: they get a short grace after the others (suite/patience.py).
        patience = self.ctx.patience
        lost = patience.lost & {kind for kind, _object_id in wanted}
        receiver.wait_for(lambda deliveries: not missing(deliveries) - lost, self.ctx.config.webhook_timeout)
        if lost:
            receiver.wait_for(lambda deliveries: not missing(deliveries),
                              min(LOST_GRACE, self.ctx.config.webhook_timeout))
        if self.ctx.config.webhook_grace:
            self.ctx.sleep(self.ctx.config.webhook_grace)
        everything = receiver.deliveries()
        patience.waited(missing(everything), [d.type for d in everything])
        deliveries = [d for d in everything if d.object_id in ours]
        step = self.begin("network", "webhooks", "quiescence: compare the webhooks received",
                          f"{len(self.expected_events)} events")
        step.observed = f"{len({d.event_id for d in deliveries})} distinct events, {len(deliveries)} deliveries"
        self.run("signatures", deliveries)
        if "openapi" in self.ctx.selected:
            self.ctx.checks_run["openapi"] += 1
            try:
                checks.check_webhook_bodies(self.ctx.contract, deliveries)
            except ConformanceFailure as failure:
                self.failure = failure
                step.observed = f"FAILED [openapi]: {failure}"
                raise
        self.run("webhooks", self.expected_events, deliveries, ours)


def build_machine(ctx: SuiteContext) -> type[ConformanceMachine]:
    """A state machine class for ``ctx``: one rule per event of the spec, and the probes."""
    spec = ctx.spec
    payments = Bundle("payments")
    namespace: dict[str, Any] = {"ctx": ctx}

    def room_for_another(self: ConformanceMachine) -> bool:
        live = [p for p in self.world.payments if self.world.root_of(p).state not in terminal]
        return len(live) < MAX_LIVE_PAYMENTS

    terminal = set(spec.root.terminal_states)

    bodies = create_bodies(spec, ctx.contract)

    @precondition(room_for_another)
    @rule(target=payments, body=bodies)
    def create(self: ConformanceMachine, body: dict[str, Any]) -> int:
        return self.create_payment(body)

    namespace[_rule_name(ctx.creating.name)] = create

    playable = [e for e in spec.events.values() if not e.creates and e.due is None]
    # What a key at the spec's length bounds is sent with: an event that needs no parameter,
    # on an id that was never created (see ConformanceMachine.key_of_length).
    anywhere = next((e for e in playable if not e.parameters and e.card != "parameter"), None)
    for event in playable:
        if not _ends_things(ctx, event):
            namespace[_rule_name(event.name)] = _event_rule(ctx, event, payments)
    ending = [e for e in playable if _ends_things(ctx, e)]
    if ending:
        namespace["end_a_payment"] = _ending_rule(ctx, ending)

    @precondition(swarmed("advance_clock", lambda self: bool(self.world.objects)))
    @rule(data=st.data())
    def advance_clock(self: ConformanceMachine, data: st.DataObject) -> None:
        # Mostly a short step that lets little fall due; otherwise the edges (one second
        # before, at, after) of a pending due time, or a long jump past them all.
        waiting = self.world.due()
        jumps = sorted({when - self.world.now + 1 for when, _e, _k in waiting[-1:]})
        short = st.integers(1, 120)
        seconds = data.draw(st.one_of(*[short] * 10, *[_due_edges(self, waiting)] * 2,
                                      _sampled(self.ctx, jumps or [1])), label="seconds")
        self.advance(seconds)

    namespace["advance_clock"] = advance_clock

    @precondition(lambda self: bool(self.owed_after_the_end()))
    @rule(data=st.data())
    def advance_to_owed_work(self: ConformanceMachine, data: st.DataObject) -> None:
        # A payment ended with clock work still owed: cross one of its due times. The examples
        # whose payments get this far are mostly those the swarm left without the clock, so
        # without this rule (and the teardown's catching up) that work would rarely fall due.
        owed = sorted({when for when, _event, _key in self.owed_after_the_end()})
        self.cross(data.draw(_sampled(self.ctx, owed), label="due at"))

    namespace["advance_to_owed_work"] = advance_to_owed_work

    def replayable(self: ConformanceMachine) -> list[KeyedRequest]:
        window = spec.protocol.idempotency_window
        return [r for r in self.keyed if self.world.now - r.sent_at < window]

    def forgotten(self: ConformanceMachine) -> list[KeyedRequest]:
        """Creating requests whose Idempotency-Key has outlived the idempotency window."""
        window = spec.protocol.idempotency_window
        return [r for r in self.keyed if r.operation_id == ctx.creating.operation and r.key is None
                and self.world.now - r.sent_at >= window]

    request_schemas: dict[str, dict[str, Any]] = {}  # resolved once: probes() asks at every step

    def other_body(request: KeyedRequest) -> dict[str, Any] | None:
        """``request``'s body with other parameters that its operation's schema still accepts."""
        schema = request_schemas.get(request.operation_id)
        if schema is None:
            operation = ctx.contract.operations[request.operation_id]
            schema = request_schemas[request.operation_id] = ctx.contract.resolved(operation.request_schema or {})
        return mutated(spec, request.body, schema)

    def probes(self: ConformanceMachine) -> list[str]:
        """The probes that can run now: each checks one protocol rule, none moves a payment."""
        kinds = []
        if "idempotency" in self.ctx.selected and replayable(self):
            kinds.append("replay")
            if any(other_body(r) for r in replayable(self)):
                kinds.append("reuse key")
        if "idempotency" in self.ctx.selected and forgotten(self) and room_for_another(self):
            kinds.append("forgotten key")
        if "idempotency" in self.ctx.selected and self.ids:
            kinds.append("key length")
        if self.ids and "auth" in self.ctx.selected:
            kinds.append("auth")
        if self.ids and "tenant_isolation" in self.ctx.selected and ctx.config.second_api_key:
            kinds.append("tenant")
        return kinds

    @precondition(swarmed("probe_protocol", lambda self: bool(probes(self))))
    @rule(data=st.data())
    def probe(self: ConformanceMachine, data: st.DataObject) -> None:
        """One protocol probe: replay a request, reuse its key, drop the key, or use another merchant's."""
        kind = data.draw(_sampled(self.ctx, probes(self)), label="probe")
        if kind == "replay":
            self.replay(data.draw(_sampled(self.ctx, replayable(self)), label="request"))
        elif kind == "reuse key":
            request = data.draw(_sampled(self.ctx, [r for r in replayable(self) if other_body(r)]),
                                label="request")
            self.reuse_key(request, other_body(request) or {})
        elif kind == "forgotten key":
            # Past the window the key is forgotten: the same request is a new one, and creates
            # a new payment instead of replaying the first answer.
            request = data.draw(_sampled(self.ctx, forgotten(self)), label="request")
            self.keyed.remove(request)
            self.create_payment(dict(request.body), forgotten_key=request.first.headers.get("Idempotency-Key"))
        elif kind == "key length":
            # Just outside the spec's bounds (refused), or at them (accepted).
            shortest, longest = spec.protocol.idempotency_key_length
            lengths = [n for n in (shortest - 1, shortest, longest, longest + 1)
                       if n >= 0 and (anywhere is not None or not shortest <= n <= longest)]
            length = data.draw(_sampled(self.ctx, lengths), label="key length")
            target = None
            if not shortest <= length <= longest:
                key, event, params = _draw_target(self, data, reads=False)
                if event is None:  # no event addresses this object: try the longest key instead
                    length = longest
                else:
                    target = (key, event, params)
            self.key_of_length(length, target, anywhere)
        elif kind == "auth":
            key, event, params = _draw_target(self, data)
            missing = data.draw(st.booleans(), label="no key at all")
            rejection = spec.protocol.missing_key if missing else spec.protocol.invalid_key
            fake = None if missing else f"sk_test_not_a_merchant_{self.nonce}"
            self.probe_with("auth", key, event, params, fake, rejection,
                       "no API key" if missing else "an unknown API key")
        else:
            # Both ways: the second merchant's key on our objects, or ours on its objects, so
            # that an ownership test that orders merchant ids cannot pass by their order.
            if self.foreign is not None and data.draw(st.booleans(), label="our key on its objects"):
                foreign = self.foreign
                if not foreign.keys:  # the example's first probe this way: its endpoint, its payment
                    if self.ctx.receiver is not None:
                        foreign.endpoint_probe(self.ctx.receiver.url)
                    foreign.create(data.draw(bodies, label="its payment"))
                grow = foreign.forward_events()
                moves_on: bool = bool(grow) and data.draw(st.booleans(), label="it moves on first")
                if moves_on:
                    its_event, its_key = data.draw(_sampled(self.ctx, grow), label="its event")
                    foreign.fire(its_event, its_key, data.draw(_params_strategy(ctx, its_event), label="params"))
                key = data.draw(_sampled(self.ctx, foreign.keys), label="its object")
                event, params = _draw_event(self, data, foreign.world.objects[key].type)
                self.intrude(key, event, params)
                return
            # Keys are per merchant: another merchant's request with one of our Idempotency-Keys
            # (and our body) is its own request, so it must not get our remembered answer.
            ours = [r for r in replayable(self) if r.key is not None]
            reused = data.draw(_or_none(self.ctx, _sampled(self.ctx, ours)), label="with our key") if ours else None
            if reused is not None and reused.key is not None:
                self.probe_with("tenant_isolation", reused.key, None, {}, ctx.config.second_api_key,
                                spec.protocol.unknown_object, "another merchant's key with our Idempotency-Key",
                                replaying=reused)
                return
            self.read_ours_with(ctx.config.second_api_key)
            key, event, params = _draw_target(self, data)
            self.probe_with("tenant_isolation", key, event, params, ctx.config.second_api_key,
                       spec.protocol.unknown_object, "another merchant's key")

    namespace["probe_protocol"] = probe
    # Not swarmed: the creating rule, and the clock's catching up with work owed to ended
    # payments (it can run only once a payment got that far, which it rarely does with the clock in).
    swarmable = sorted(name for name in namespace
                       if name not in ("ctx", _rule_name(ctx.creating.name), "advance_to_owed_work"))

    @initialize(left_out=st.fixed_dictionaries({name: st.booleans() for name in swarmable}))
    def choose_swarm(self: ConformanceMachine, left_out: dict[str, bool]) -> None:
        """Swarm testing: each example leaves some rules out entirely (Groce et al., ISSTA 2012).

        An example with no clock, say, lets its payments live long enough to reach their
        deepest states; one with no probes goes further in the same number of steps.
        Hypothesis shrinks booleans to False, so False must mean "in": a failing example then
        shrinks towards every rule being available (as Hypothesis's own feature flags do).
        The other way round, the shrinker could not remove a single step of a failure found
        at teardown (webhooks, signatures) and stalled on each one for hundreds of examples.
        """
        mask = {name: not out for name, out in left_out.items()}
        if not any(mask.get(name) for name in never_stuck):
            # Some rule must always be able to run: the events addressed to a payment's root.
            mask = {**mask, **dict.fromkeys(root_rules, True)}
        self.swarm = mask

    # Rules that can always run once a payment exists: the clock, and events addressed to roots.
    root_rules = [_rule_name(e.name) for e in playable if e.target == spec.root.name and not _ends_things(ctx, e)]
    never_stuck = ["advance_clock", "end_a_payment", *root_rules]
    namespace["choose_swarm"] = choose_swarm
    return type("CXPayConformance", (ConformanceMachine,), namespace)


def _without_hypothesis_feature_flags(machine: RuleBasedStateMachine) -> None:
    """Leave the choice of rules to the machine's own swarm (``choose_swarm``).

    Hypothesis turns rules off at random on its own too (its feature flags), deciding about
    each rule the first time a step considers it. Those decisions then sit inside whichever
    step came first, and the shrinker could not delete that step without disturbing the
    steps after it: stories kept steps that had nothing to do with the failure (three
    replays before the two that mattered), and shrinking took several times as many
    examples (1,406 against 373 for the same fault). With every flag on, rule choice is the
    swarm's alone, which shrinks towards every rule being available. Private API, hence
    :mod:`._compat`: without it, Hypothesis behaves as it always does.
    """
    every_rule_on(machine)


def swarmed(name: str, condition: Callable[[Any], bool] | None = None) -> Callable[[Any], bool]:
    """A precondition: the rule is in this example's swarm, and ``condition`` holds."""

    def allowed(self: Any) -> bool:
        return bool(self.swarm.get(name, True)) and (condition is None or condition(self))

    return allowed


def _rule_name(event: str) -> str:
    """The rule's name: the event's, unless that would hide one of the machine's own methods."""
    return f"event_{event}" if hasattr(ConformanceMachine, event) else event


#: True three times in four: how often a forward event goes where it is allowed.
_MOSTLY = st.sampled_from([True, True, True, False])


def _sampled(ctx: SuiteContext, values: Any) -> st.SearchStrategy[Any]:
    """``st.sampled_from(values)``, built once per run for each distinct list of values.

    The rules sample from the objects and requests of the moment; the same lists come back step
    after step, and a strategy built anew each time made Hypothesis validate it and work out its
    properties again (about a tenth of the suite's own time in the profile). Same values, same
    strategy, same draws: the cache changes nothing that is generated. Values that cannot be
    hashed (the spec's events) are told apart by identity, which holds for the run: the cached
    strategy keeps them alive.
    """
    values = tuple(values)
    try:
        hash(values)
        key: tuple[Any, ...] = ("sampled", values)
    except TypeError:
        key = ("sampled by identity", *map(id, values))
    found = ctx.strategies.get(key)
    if found is None:
        found = ctx.strategies[key] = st.sampled_from(values)
    return found


def _or_none(ctx: SuiteContext, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``st.none() | strategy``, built once per run for each strategy."""
    key = ("or none", id(strategy))
    found = ctx.strategies.get(key)
    if found is None:
        found = ctx.strategies[key] = st.none() | strategy
    return found


def _ends_things(ctx: SuiteContext, event: Event) -> bool:
    """Whether every transition of ``event`` ends its object (leads to a terminal state)."""
    terminal = set(ctx.spec.objects[event.object].terminal_states)
    return all(t.to in terminal for t in ctx.spec.transitions_of(event.name))


def _event_rule(ctx: SuiteContext, event: Event, payments: Bundle[int]) -> Callable[..., None]:
    """The rule that fires ``event`` on an object of the type it addresses.

    Events that move a payment forward prefer objects where they are allowed, so examples
    go deep; events that end a payment take any object, so they mostly test rejections.
    """
    params = _params_strategy(ctx, event)
    seek_allowed = not _ends_things(ctx, event)

    if event.target == ctx.spec.root.name:
        @precondition(swarmed(event.name))
        @rule(payment=payments, params=params, data=st.data())
        def on_root(self: ConformanceMachine, payment: int, params: dict[str, Any],
                    data: st.DataObject) -> None:
            # A payment drawn from the bundle; where the event is refused there, often move to
            # a payment that allows it, so that examples go deep as well as wide.
            key = self.world.root_of(payment).key
            roots = [self.world.root_of(p).key for p in self.world.payments]
            allowed = [k for k in roots if event.name in self.world.enabled(self.world.subject(event.name, k).key)]
            if seek_allowed and allowed and key not in allowed and data.draw(_MOSTLY, label="go where allowed"):
                key = data.draw(_sampled(self.ctx, allowed), label=event.target)
            self.fire_event(event, key, params)

        on_root.__name__ = event.name
        return on_root

    def has_target(self: ConformanceMachine) -> bool:
        return any(o.type == event.target and o.key in self.ids for o in self.world)

    @precondition(swarmed(event.name, has_target))
    @rule(data=st.data(), params=params)
    def on_object(self: ConformanceMachine, data: st.DataObject, params: dict[str, Any]) -> None:
        # Half the time an object the event is allowed on (to go deeper), otherwise any (so
        # that the rejections get tested too).
        keys = [o.key for o in self.world if o.type == event.target and o.key in self.ids]
        allowed = [k for k in keys if event.name in self.world.enabled(self.world.subject(event.name, k).key)]
        aim_at_allowed: bool = seek_allowed and bool(allowed) and data.draw(_MOSTLY, label="go where allowed")
        pool = allowed if aim_at_allowed else keys
        self.fire_event(event, data.draw(_sampled(self.ctx, pool), label=event.target), params)

    on_object.__name__ = event.name
    return on_object


def _ending_rule(ctx: SuiteContext, events: list[Event]) -> Callable[..., None]:
    """One rule for every event that ends a payment (the merchant's expire and cancel, say).

    Grouped so that, together, they are drawn as often as one forward event, and aimed
    mostly at objects that refuse them (testing the rejections): otherwise payments would
    rarely live long enough to reach their deeper states.
    """

    def has_target(self: ConformanceMachine) -> bool:
        return any(o.key in self.ids and o.type in {e.target for e in events} for o in self.world)

    @precondition(swarmed("end_a_payment", has_target))
    @rule(data=st.data())
    def end_a_payment(self: ConformanceMachine, data: st.DataObject) -> None:
        present = {o.type for o in self.world if o.key in self.ids}
        event = data.draw(_sampled(self.ctx, [e for e in events if e.target in present]), label="event")
        keys = [o.key for o in self.world if o.type == event.target and o.key in self.ids]
        refused = [k for k in keys if event.name not in self.world.enabled(self.world.subject(event.name, k).key)]
        aim_at_refused: bool = bool(refused) and data.draw(_MOSTLY, label="where refused")
        pool = refused if aim_at_refused else keys
        params = data.draw(_params_strategy(ctx, event), label="params")
        self.fire_event(event, data.draw(_sampled(self.ctx, pool), label=event.target), params)

    return end_a_payment


def _params_strategy(ctx: SuiteContext, event: Event) -> st.SearchStrategy[dict[str, Any]]:
    """The parameters of ``event``, one strategy per event and run: building a strategy anew at
    every draw made Hypothesis recompute its properties each time (a hot spot of the profile)."""
    key = ("params", event.name)
    cached = ctx.strategies.get(key)
    if cached is None:
        cached = ctx.strategies[key] = _build_params_strategy(ctx, event)
    return cached


def _build_params_strategy(ctx: SuiteContext, event: Event) -> st.SearchStrategy[dict[str, Any]]:
    spec = ctx.spec
    fields: dict[str, st.SearchStrategy[Any]] = {
        name: st.sampled_from(values) for name, values in event.parameters.items()
    }
    if event.card == "parameter":
        fields[spec.cards.parameter] = st.sampled_from(sorted(spec.cards.numbers))
    return st.fixed_dictionaries(fields)


def _draw_target(self: ConformanceMachine, data: st.DataObject, *,
                 reads: bool = True) -> tuple[str, Event | None, dict[str, Any]]:
    """One of our objects to probe, and either an event to fire on it or None for a read
    (``reads=False``: an event whenever the object has one)."""
    key = data.draw(_sampled(self.ctx, sorted(self.ids)), label="object")
    event, params = _draw_event(self, data, self.world.objects[key].type, reads=reads)
    return key, event, params


def _draw_event(self: ConformanceMachine, data: st.DataObject, object_type: str, *,
                reads: bool = True) -> tuple[Event | None, dict[str, Any]]:
    """An event addressed to an object of ``object_type`` with its parameters, or None for a read."""
    events = [e for e in self.ctx.spec.events.values()
              if e.target == object_type and not e.creates and e.due is None]
    choices = _or_none(self.ctx, _sampled(self.ctx, events)) if reads else _sampled(self.ctx, events)
    event = data.draw(choices, label="event") if events else None
    params = data.draw(_params_strategy(self.ctx, event), label="params") if event else {}
    return event, params


def _due_edges(self: ConformanceMachine, waiting: list[tuple[int, str, str]]) -> st.SearchStrategy[int]:
    """Advances that land on the edges (one second before, at, after) of the due times
    ``waiting``; each clock event as likely as the others, however many objects wait on it."""
    now = self.world.now
    by_event: dict[str, set[int]] = {}
    for when, event, _key in waiting:
        by_event.setdefault(event, set()).update(
            when - now + delta for delta in (-1, 0, 1) if when - now + delta >= 1)
    edges = [_sampled(self.ctx, sorted(times)) for _event, times in sorted(by_event.items()) if times]
    return st.one_of(*edges) if edges else st.just(1)


def _characters(count: int) -> str:
    return f"{count} character" + ("" if count == 1 else "s")


def _brief(params: Mapping[str, Any], lead: str = "") -> str:
    if not params:
        return ""
    return lead + ", ".join(f"{k}={v}" for k, v in params.items())
