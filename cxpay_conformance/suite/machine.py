"""The core of the generated Hypothesis state machine: one example's story, told to the
implementation and to the model at once.

:class:`ConformanceMachine` performs each step on the implementation through the adapter and
predicts it with the model (:class:`~cxpay_conformance.model.World`); the checks of
:mod:`.checks` compare the two. It knows the three steps every generated rule calls (create a
payment, fire an event, advance the clock) and how to read payments back. The probes live in
:mod:`.probes`, the end of an example (catching up with the clock, the webhooks at quiescence)
in :mod:`.teardown`, and :mod:`.rules` builds the machine class with a rule for every event of
the spec. No state or event name of the spec appears here.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hypothesis.stateful import RuleBasedStateMachine

from cxpay_conformance.errors import ConformanceFailure, ImplementationUnreachable
from cxpay_conformance.model import Outcome, World, check_changes, check_invariants
from cxpay_conformance.spec import Event, Rejection
from cxpay_conformance.suite import checks
from cxpay_conformance.suite._compat import every_rule_on
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY, Exchange
from cxpay_conformance.suite.context import KeyedRequest, Prediction, Step, SuiteContext, brief, rejection_words
from cxpay_conformance.suite.foreign import ForeignPayments
from cxpay_conformance.suite.observed import ObservedGraph, differences, wire
from cxpay_conformance.suite.requests import body_for

#: Payments still open at once in one example: enough to interleave, few enough to go deep.
MAX_LIVE_PAYMENTS = 2
#: Requests of one read-back sent at once, at most (a read-back reads a few objects per payment).
READ_THREADS = 8


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
        #: The requests a concurrent history sent at once (index in exchanges): (branch, sent, answered),
        #: seconds since the branches were released.
        self.branches: dict[int, tuple[int, float, float]] = {}
        self.expected_events: list[checks.ExpectedEvent] = []
        #: A second endpoint of ours for a while (suite/probes.py): its receiver path, its id, and
        #: the expected events made before it was registered and before it was deleted (None: not yet).
        self.extra_endpoint: tuple[str, str, int, int | None] | None = None
        #: How the receiver was told to refuse a delivery in this example (receiver.REFUSALS), if it was.
        self.refusal: str | None = None
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

    def every_id(self) -> dict[str, str]:
        """Every id of this example, ours and the second merchant's, by model key."""
        foreign = self.foreign.ids if self.foreign is not None else {}
        return {**self.ids, **{f"second merchant {key}": value for key, value in foreign.items()}}

    def room_for_another(self) -> bool:
        """Whether another payment may start: fewer than :data:`MAX_LIVE_PAYMENTS` are open."""
        terminal = self.ctx.spec.root.terminal_states
        live = [p for p in self.world.payments if self.world.root_of(p).state not in terminal]
        return len(live) < MAX_LIVE_PAYMENTS

    # --- talking to the implementation ------------------------------------------------------

    def perform(self, operation_id: str, key: str | None, body: Any = None, *,
                api_key: Any = USE_DEFAULT_KEY, keyed: bool = False,
                idempotency_key: str | None = None, object_id: str | None = None,
                query: Mapping[str, str | int] | None = None) -> Exchange:
        """Perform an operation on our object ``key`` (None: on no object, or on ``object_id``,
        an object that is not ours), with the ``query`` parameters of a list."""
        if keyed and idempotency_key is None:
            idempotency_key = f"cxpay-{self.nonce}-{len(self.exchanges)}"
        if key is not None:
            object_id = self.ids.get(key, f"<{key}: never created>")
        if self.ctx.fatal is not None:  # don't wait on a dead implementation while shrinking
            raise self.ctx.fatal
        try:
            extra = {"query": query} if query else {}  # so an adapter without lists still works
            exchange = self.ctx.adapter.perform(operation_id, object_id, body, api_key=api_key,
                                                idempotency_key=idempotency_key, **extra)
        except ImplementationUnreachable as exc:
            self.ctx.fatal = exc
            raise
        return self.record_exchange(exchange)

    def record_exchange(self, exchange: Exchange) -> Exchange:
        """Keep ``exchange`` in the example's story and run the checks every answer gets."""
        self.exchanges.append(exchange)
        self.ctx.requests += 1
        if exchange.status >= 500:
            self.run("status", exchange, accepted=True, rejection=None, state=None,
                     event=self.steps[-1].event if self.steps else exchange.operation_id)
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
        return wire(self.ctx.spec, snapshot, type_, self.world.objects, self.ids)

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

    def observe(self, payments: list[int]) -> dict[str, Any]:
        """Read back every object of ``payments``, binding the ids of new ones on the way.

        The model says which objects each payment has (a root and what it owns). Those whose ids
        the suite knows are read all at once (:meth:`read_all`); an object new since the last
        read-back is read once an answer has named its id, in a second round. So a read-back
        costs one or two round trips, not one per object; the requests are recorded in the same
        order every time (each payment's objects from its root down), whatever order the
        answers came in.
        """
        spec = self.ctx.spec
        order: list[str] = []  # each payment's objects, root first, as its links own them
        for payment in payments:
            queue = [self.world.root_of(payment).key]
            while queue:
                key = queue.pop(0)
                order.append(key)
                snapshot = self.world.snapshot(key)
                for link in spec.objects[self.world.objects[key].type].links.values():
                    if link.kind in ("owns_one", "owns_many"):
                        mine = snapshot.get(link.field)
                        queue.extend(mine if isinstance(mine, list) else [mine] if mine else [])
        observed: dict[str, Any] = {}
        done: set[str] = set()
        while True:
            wave = [key for key in order if key in self.ids and key not in done]
            if not wave:
                return observed
            done.update(wave)
            for key, exchange in zip(wave, self.read_all(wave), strict=True):
                obj = self.world.objects[key]
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

    def read_all(self, keys: list[str]) -> list[Exchange]:
        """GET our objects ``keys``, at once where the adapter allows it (``concurrent_reads``:
        the HTTP adapter's client is thread-safe), and record them in the order of ``keys``.

        Only the requests go to threads; the checks, the story and Hypothesis stay on this one.
        """
        readers = self.ctx.readers
        if len(keys) < 2 or not getattr(self.ctx.adapter, "concurrent_reads", False):
            return [self.perform(readers[self.world.objects[key].type], key) for key in keys]
        if self.ctx.fatal is not None:
            raise self.ctx.fatal
        adapter = self.ctx.adapter

        def send(key: str) -> Exchange | ImplementationUnreachable:
            try:
                return adapter.perform(readers[self.world.objects[key].type], self.ids[key])
            except ImplementationUnreachable as exc:
                return exc

        answers = list(_readers().map(send, keys))
        exchanges: list[Exchange] = []
        for answer in answers:
            if isinstance(answer, ImplementationUnreachable):
                self.ctx.fatal = answer
                raise answer
            exchanges.append(self.record_exchange(answer))
        return exchanges

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
            observed.update(self.observe(sorted(payments)))
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
            if self.steps:
                self.steps[-1].fired.append((outcome.transition.index, outcome.state))
        elif not outcome.accepted and outcome.state is not None:
            coverage.rejection(outcome.event, outcome.state)
            if self.steps:
                self.steps[-1].rejected_in = (self.ctx.spec.events[outcome.event].object, outcome.state)
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
        self.ctx.step_kinds[f"{actor}: {event}"] += 1
        self.ctx.notify()
        return step

    # --- the steps every generated rule calls -------------------------------------------------

    def create_payment(self, body: dict[str, Any], *, forgotten_key: str | None = None,
                       their_key: str | None = None) -> int:
        """Create a payment; ``forgotten_key``: with an Idempotency-Key used more than the
        idempotency window ago, which the implementation must treat as new; ``their_key``: with
        an Idempotency-Key the second merchant used, which is not ours, so just as new."""
        event = self.ctx.creating
        again = (" (again, with an Idempotency-Key older than the idempotency window)" if forgotten_key
                 else " (with an Idempotency-Key the second merchant used)" if their_key else "")
        step = self.begin(event.actor, event.name, f"{event.actor}: {event.name} {brief(body)}{again}",
                          "accepted (200)")
        exchange = self.perform(event.operation, None, body, keyed=True, idempotency_key=forgotten_key or their_key)
        step.exchange = exchange
        if their_key is not None and self.foreign is not None:
            theirs = exchange.answer.get("id") if isinstance(exchange.answer, dict) else None
            problem = (f"answered {exchange.status} {exchange.error_code or ''}".rstrip() if exchange.status != 200
                       else f"answered the second merchant's object {theirs}"
                       if theirs in self.foreign.ids.values() else "")
            self.run("tenant_isolation", exchange, broken=(
                f"our request with an Idempotency-Key the second merchant used {problem}: keys are per "
                "merchant, so it must make an object of ours" if problem else None))
        if not self.synced and exchange.status == 200 and isinstance(exchange.answer.get("created"), int):
            self.world.now, self.synced = exchange.answer["created"], True
        created = exchange.answer.get("created") if isinstance(exchange.answer, dict) else None
        # A new object (not an earlier answer replayed: the idempotency check's business) made
        # after the second merchant moved its clock must carry our time.
        new = exchange.answer.get("id") not in self.keys if isinstance(exchange.answer, dict) else False
        moved = self.foreign is not None and self.foreign.advanced and new and forgotten_key is None
        if moved and self.foreign is not None and isinstance(created, int) and created != self.world.now:
            self.run("tenant_isolation", exchange, broken=(
                f"our new {self.ctx.creating.object} was created at {created}, {created - self.world.now:+d} s from "
                f"our clock's {self.world.now}, after the second merchant advanced its own clock "
                f"{self.foreign.advanced} s: only our advances may move ours"))
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
        story = f"{event.actor}: {event.name} {self.ids.get(key, key)}{brief(params, lead=' with ')}"
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
        now = exchange.answer.get("now") if isinstance(exchange.answer, dict) else None
        if self.foreign is not None and self.foreign.advanced and self.synced and now != start + seconds:
            self.run("tenant_isolation", exchange, broken=(
                f"our clock answered now={now}, {now - start - seconds:+d} s from our time {start + seconds}, after "
                f"the second merchant advanced its own clock {self.foreign.advanced} s: only our advances may "
                "move ours" if isinstance(now, int) else None))
        self.run("response_body", exchange, {"now": start + seconds}, event="advance")
        self.keyed.append(KeyedRequest(clock_event.operation, None, body, exchange, start, None))
        if changed or waiting:
            self.verify_payments(changed | waiting, "advance")


#: Threads that send a read-back's requests at once (made when first needed, shared by every run).
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _readers() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="cxpay-read-back")
        return _POOL


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
