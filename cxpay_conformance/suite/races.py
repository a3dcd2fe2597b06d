"""The concurrent phase: races on one payment, checked for linearizability against the model.

Each test case Hypothesis draws is a plan (:class:`RacePlan`): a sequential prefix that brings a
new payment into some state (forward events only, drawn on a scratch model), then 2 to 4
branches of 1 to 3 requests. The first request of each branch races the others: the same request
again (a double click), the same request under the same Idempotency-Key (a retry), another event
on the same payment, or the test clock moved onto the payment's next due time. Everything is drawn
before any thread starts (Hypothesis is not thread-safe within a test); the threads only send
requests, each on its own connection, released together by a barrier, and note when each was
sent and answered.

Then the implementation settles, the payment's objects are read back and the webhooks collected,
and :func:`~.linearizability.check` searches for one order of the requests that respects real
time and under which the model (:mod:`.race_model`) predicts every answer, the objects read
back and the webhooks. A race is probabilistic, so each plan runs ``race_repeats`` times, each on
a payment of its own. The prefix is checked as the sequential phase checks every step. No state
or event name of the spec appears here.
"""

from __future__ import annotations

import contextlib
import gc
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, FlakyFailure
from hypothesis.reporting import with_reporter

from cxpay_conformance.errors import ConformanceFailure, ImplementationUnreachable
from cxpay_conformance.model import World
from cxpay_conformance.spec import Event
from cxpay_conformance.suite._compat import from_the_seed_alone
from cxpay_conformance.suite.adapter import Adapter, Exchange
from cxpay_conformance.suite.context import SuiteContext, brief
from cxpay_conformance.suite.draws import ends_things, params_strategy, sampled
from cxpay_conformance.suite.linearizability import Call, Verdict, check
from cxpay_conformance.suite.machine import ConformanceMachine
from cxpay_conformance.suite.race_model import RaceModel, RaceStep, initial_state
from cxpay_conformance.suite.requests import body_for, create_bodies

#: What a branch's first request races against, and how often (the kinds of race that charge twice).
PARTNERS = ("the same request again", "the same request again", "the same request with its Idempotency-Key",
            "another event on the payment", "another event on the payment", "the clock onto a due time")

#: One plan in this many races creates instead: one payment, several requests, one Idempotency-Key.
CREATES_ONE_IN = 8

#: Bounds of a plan: branches, requests per branch, forward steps of the prefix.
BRANCHES = (2, 4)
BRANCH_STEPS = 3
#: Forward events before the race, short ones more often: the first states (a payment open to
#: pay, expire and cancel) are where most races that charge twice happen.
PREFIX_LENGTHS = (0, 0, 1, 1, 2, 3)


@dataclass(frozen=True)
class PlannedStep:
    """One request of a plan, in the scratch model's keys (the same as a real run's: the model
    numbers objects the same way whenever the same events happen)."""

    kind: str  # "event", "create" or "advance"
    event: Event | None = None
    key: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seconds: int = 0
    same_key_as: int | None = None  # index in its branch list of a step whose Idempotency-Key it reuses


@dataclass(frozen=True)
class RacePlan:
    """A drawn test case: how to create the payment, the prefix's forward events, the branches."""

    body: dict[str, Any]
    prefix: tuple[tuple[Event, str, dict[str, Any]], ...]
    branches: tuple[tuple[PlannedStep, ...], ...]

    def describe(self) -> str:
        lines = [f"create {brief(self.body)}"] + [f"{e.name} {k}{brief(p, lead=' with ')}" for e, k, p in self.prefix]
        for number, branch in enumerate(self.branches, 1):
            lines.append(f"branch {number}: " + "; ".join(_planned(s) for s in branch))
        return "\n".join(lines)


@dataclass
class RaceOutcome:
    """What one run of a plan observed."""

    steps: list[RaceStep]
    calls: list[Call]
    answers: list[Exchange]
    verdict: Verdict | None = None


# --- drawing -----------------------------------------------------------------------------------


def draw_plan(ctx: SuiteContext, data: st.DataObject) -> RacePlan:
    """Draw a plan on a scratch model: nothing is sent while drawing."""
    spec = ctx.spec
    world = World(spec, machines=ctx.machines)
    body = data.draw(_bodies(ctx), label="payment")
    payment = _created(world, body)
    if data.draw(st.integers(0, CREATES_ONE_IN - 1), label="creates race") == 0:
        # One payment created by several requests under one Idempotency-Key at once (a retried
        # checkout): exactly one may do the work.
        twice = PlannedStep("create", params=dict(body), same_key_as=0)
        count = data.draw(st.integers(BRANCHES[0], BRANCHES[1]), label="branches")
        return RacePlan(body, (), ((PlannedStep("create", params=dict(body)),), *[(twice,)] * (count - 1)))
    prefix: list[tuple[Event, str, dict[str, Any]]] = []
    for _ in range(data.draw(st.sampled_from(PREFIX_LENGTHS), label="prefix steps")):
        forward = [(e, k) for e, k in _pairs(ctx, world, payment) if _enabled(world, e, k) and not ends_things(spec, e)]
        if not forward:
            break
        event, key = data.draw(sampled(ctx, forward), label="prefix step")
        params = data.draw(params_strategy(ctx, event), label="params")
        world.fire(event.name, key, params)
        prefix.append((event, key, params))
    pairs = _pairs(ctx, world, payment)
    if not pairs:
        return RacePlan(body, tuple(prefix), ())
    enabled = [(e, k) for e, k in pairs if _enabled(world, e, k)]
    first_pool = enabled if enabled and data.draw(st.sampled_from([True, True, True, False]),
                                                  label="an allowed event first") else pairs
    first_event, first_key = data.draw(sampled(ctx, first_pool), label="first")
    first = PlannedStep("event", first_event, first_key, data.draw(params_strategy(ctx, first_event), label="params"))
    # The clock onto the payment's due times (a deadline, a settlement): at the second, and past it.
    due = [when - world.now + edge for when, _event, _key in world.due() for edge in (0, 1)
           if when - world.now + edge >= 1]
    branches: list[list[PlannedStep]] = [[first]]
    for _ in range(data.draw(st.integers(BRANCHES[0], BRANCHES[1]), label="branches") - 1):
        kind = data.draw(st.sampled_from(PARTNERS), label="races against")
        if kind == "the same request again":
            step = first
        elif kind == "the same request with its Idempotency-Key":
            step = PlannedStep("event", first.event, first.key, first.params, same_key_as=0)
        elif kind == "the clock onto a due time" and due:
            step = PlannedStep("advance", seconds=data.draw(sampled(ctx, sorted(set(due))), label="seconds"))
        else:
            event, key = data.draw(sampled(ctx, enabled or pairs), label="event")
            step = PlannedStep("event", event, key, data.draw(params_strategy(ctx, event), label="params"))
        branches.append([step])
    for branch in branches:
        for _ in range(data.draw(st.integers(0, BRANCH_STEPS - 1), label="more steps")):
            event, key = data.draw(sampled(ctx, pairs), label="then")
            branch.append(PlannedStep("event", event, key, data.draw(params_strategy(ctx, event), label="params")))
    return RacePlan(body, tuple(prefix), tuple(tuple(b) for b in branches))


def _created(world: World, body: dict[str, Any]) -> int:
    outcome = world.create(body)
    return world.objects[outcome.target or ""].payment


def _bodies(ctx: SuiteContext) -> st.SearchStrategy[dict[str, Any]]:
    key = ("race bodies",)
    found = ctx.strategies.get(key)
    if found is None:
        found = ctx.strategies[key] = create_bodies(ctx.spec, ctx.contract)
    return found


def _pairs(ctx: SuiteContext, world: World, payment: int) -> list[tuple[Event, str]]:
    """Every (event, object) of ``payment`` that a request can address."""
    playable = [e for e in ctx.spec.events.values() if not e.creates and e.due is None]
    return [(e, o.key) for o in world.payment_objects(payment) for e in playable if e.target == o.type]


def _enabled(world: World, event: Event, key: str) -> bool:
    return event.name in world.enabled(world.subject(event.name, key).key)




def _planned(step: PlannedStep) -> str:
    again = " (same Idempotency-Key)" if step.same_key_as is not None else ""
    if step.kind == "advance":
        return f"clock: advance {step.seconds} s"
    if step.kind == "create":
        return f"create {brief(step.params)}{again}"
    assert step.event is not None
    return f"{step.event.name} {step.key}{brief(step.params, lead=' with ')}{again}"


# --- running -----------------------------------------------------------------------------------


class Connections:
    """One connection per branch, opened once for the whole phase (an httpx client costs tens of
    milliseconds to make): the adapter's ``fork()`` where it has one, else the adapter itself."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self._forks: dict[int, Adapter] = {}

    def __getitem__(self, branch: int) -> Adapter:
        found = self._forks.get(branch)
        if found is None:
            fork: Callable[[], Adapter] | None = getattr(self.adapter, "fork", None)
            found = self._forks[branch] = fork() if fork is not None else self.adapter
        return found

    def close(self) -> None:
        for adapter in self._forks.values():
            if adapter is not self.adapter:
                adapter.close()
        self._forks.clear()


def run_plan(machine: ConformanceMachine, plan: RacePlan, connections: Connections | None = None) -> RaceOutcome:
    """Run ``plan`` once on a payment of its own: the prefix step by step (checked as the
    sequential phase checks it), then the branches at once, then the read-back and the check."""
    ctx = machine.ctx
    machine.create_payment(dict(plan.body))
    for event, key, params in plan.prefix:
        machine.fire_event(event, key, dict(params))
    steps = _race_steps(machine, plan)
    own = connections is None
    connections = Connections(ctx.adapter) if connections is None else connections
    try:
        calls, answers = _run_branches(ctx, machine, steps, connections)
    finally:
        if own:
            connections.close()
    outcome = RaceOutcome(steps, calls, answers)
    for call, answer in zip(calls, answers, strict=True):
        step = machine.begin(_actor(steps[call.id]), _event_name(steps[call.id]), call.label, "")
        step.exchange = answer
        step.observed = _observed(answer)
        machine.branches[len(machine.exchanges)] = (call.branch, call.start, call.end)
        machine.exchanges.append(answer)
        ctx.requests += 1
        if answer.status >= 500:
            machine.run("status", answer, accepted=True, rejection=None, state=None, event=step.event)
        machine.run("openapi", ctx.contract, answer)
    outcome.verdict = _settle_and_check(machine, outcome)
    machine.run("linearizability", outcome.verdict, plan_story=plan.describe())
    return outcome


def _race_steps(machine: ConformanceMachine, plan: RacePlan) -> list[RaceStep]:
    ctx = machine.ctx
    steps: list[RaceStep] = []
    first_key: str | None = None
    for number, branch in enumerate(plan.branches):
        for index, planned in enumerate(branch):
            key = f"cxpay-{machine.nonce}-race-{len(machine.exchanges)}-{number}-{index}"
            if planned.same_key_as is not None and first_key is not None:
                key = first_key
            if planned.kind == "create":
                creating = ctx.creating
                again = " (the same Idempotency-Key)" if planned.same_key_as is not None else ""
                story = f"{creating.actor}: {creating.name} {brief(planned.params)}{again}"
                steps.append(RaceStep(number, "create", creating.operation, dict(planned.params), key, story,
                                      params=dict(planned.params)))
            elif planned.kind == "advance":
                clock = ctx.clock_event
                body = body_for(ctx.spec, ctx.contract, clock, {}, amount=planned.seconds)
                story = f"clock: advance {planned.seconds} s"
                steps.append(RaceStep(number, "advance", clock.operation, body, key, story, seconds=planned.seconds))
            else:
                assert planned.event is not None and planned.key is not None
                event = planned.event
                body = body_for(ctx.spec, ctx.contract, event, planned.params)
                again = " (the same Idempotency-Key)" if planned.same_key_as is not None else ""
                story = (f"{event.actor}: {event.name} {machine.ids.get(planned.key, planned.key)}"
                         f"{brief(planned.params, lead=' with ')}{again}")
                steps.append(RaceStep(number, "event", event.operation, body, key, story, event,
                                      planned.key, dict(planned.params)))
            if number == 0 and index == 0:
                first_key = key
    return steps


def _run_branches(ctx: SuiteContext, machine: ConformanceMachine, steps: Sequence[RaceStep],
                  connections: Connections) -> tuple[list[Call], list[Exchange]]:
    """Send each branch's requests in a thread of its own, all released by one barrier."""
    branches = sorted({s.branch for s in steps})
    adapters = {b: connections[b] for b in branches}
    barrier = threading.Barrier(len(branches))
    answers: dict[int, tuple[float, float, Exchange]] = {}
    errors: list[BaseException] = []
    origin = time.monotonic()

    def branch(number: int) -> None:
        try:
            barrier.wait(timeout=ctx.config.request_timeout)
            for index, step in enumerate(steps):
                if step.branch != number:
                    continue
                object_id = machine.ids.get(step.key) if step.key else None
                start = time.monotonic()
                answer = adapters[number].perform(step.operation, object_id, step.body,
                                                  idempotency_key=step.idempotency_key)
                answers[index] = (start - origin, time.monotonic() - origin, answer)
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=branch, args=(b,), name=f"cxpay-race-{b}") for b in branches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unreachable = [e for e in errors if isinstance(e, ImplementationUnreachable)]
    if unreachable:
        ctx.fatal = unreachable[0]
        raise unreachable[0]
    if errors:
        raise errors[0]
    calls, exchanges = [], []
    for index, step in enumerate(steps):
        start, end, answer = answers[index]
        calls.append(Call(index, step.branch, start, end, _partition(machine, step),
                          f"branch {step.branch + 1}, {step.story} [{start * 1000:.0f}-{end * 1000:.0f} ms]"))
        exchanges.append(answer)
    return calls, exchanges


def _partition(machine: ConformanceMachine, step: RaceStep) -> Hashable | None:
    """The payment ``step`` touches: ours, a new one per Idempotency-Key, or (the clock) all."""
    if step.kind == "create":
        return ("created under", step.idempotency_key)
    if step.kind == "advance" or step.key is None:
        return None
    return machine.world.objects[step.key].payment


def _settle_and_check(machine: ConformanceMachine, outcome: RaceOutcome) -> Verdict:
    """Read the payment back (polling a while, for implementations that finish work after
    answering) and search for an order; then wait for that order's webhooks and search again
    with the webhooks as they are."""
    ctx = machine.ctx
    # While a failure is shrunk, polling is cut short if it has never helped (suite/patience.py).
    patience = ctx.patience
    deadline = ctx.clock() + patience.settle_timeout(ctx.config.settle_timeout,
                                                     shrinking=ctx.first_failure is not None)
    polled = False
    receiver = ctx.receiver if {"webhooks", "signatures"} & ctx.selected else None
    prefix_events = [(e.type, e.object_id) for e in machine.expected_events]
    while True:
        read_back = _read_back(machine, outcome.answers)
        deliveries = receiver.deliveries() if receiver is not None else None
        model = RaceModel(ctx.spec, outcome.steps, outcome.answers, machine.ids, prefix_events,
                          read_back=read_back, deliveries=deliveries, exact_webhooks=False)
        verdict = check(outcome.calls, initial_state(machine.world), model)
        if verdict.linearizable is not False or ctx.clock() >= deadline:
            break
        polled = True
        ctx.sleep(0.05)
    if polled and verdict.linearizable is not False:
        patience.settled_late = True
    if verdict.linearizable is False or receiver is None:
        return verdict

    def decided(arrived: list[Any]) -> bool:
        """Whether waiting longer cannot change the verdict: some order explains the webhooks
        as they are, or one came that no order predicts."""
        for exact in (True, False):
            model = RaceModel(ctx.spec, outcome.steps, outcome.answers, machine.ids, prefix_events,
                              read_back=read_back, deliveries=arrived, exact_webhooks=exact)
            found = check(outcome.calls, initial_state(machine.world), model).linearizable
            if found is not False if exact else found is False:
                return True
        return False

    receiver.wait_for(decided, ctx.config.webhook_timeout)
    exact = RaceModel(ctx.spec, outcome.steps, outcome.answers, machine.ids, prefix_events,
                      read_back=read_back, deliveries=receiver.deliveries(), exact_webhooks=True)
    return check(outcome.calls, initial_state(machine.world), exact)


def _read_back(machine: ConformanceMachine, answers: Sequence[Exchange]) -> dict[str, Any]:
    """Every object of the payments the prefix and the branches made, by id (following the
    links each object owns)."""
    ctx = machine.ctx
    spec = ctx.spec
    roots = [machine.ids[machine.world.root_of(p).key] for p in machine.world.payments
             if machine.world.root_of(p).key in machine.ids]
    # The payments the branches created: every id a creating request answered with.
    roots += [a.answer["id"] for a in answers if a.operation_id == ctx.creating.operation and a.status == 200
              and isinstance(a.answer, dict) and isinstance(a.answer.get("id"), str)]
    queue = [(root, spec.root.name) for root in roots]
    seen: dict[str, Any] = {}
    while queue:
        object_id, type_ = queue.pop(0)
        if object_id in seen:
            continue
        exchange = machine.perform(ctx.readers[type_], None, object_id=object_id)
        seen[object_id] = exchange.answer if exchange.status == 200 else None
        if exchange.status != 200 or not isinstance(exchange.answer, dict):
            continue
        for link in spec.objects[type_].links.values():
            if link.kind not in ("owns_one", "owns_many"):
                continue
            value = exchange.answer.get(link.field)
            for child in value if isinstance(value, list) else [value] if value else []:
                if isinstance(child, str):
                    queue.append((child, link.object))
    return seen


def _actor(step: RaceStep) -> str:
    return "clock" if step.kind == "advance" else step.event.actor if step.event else "merchant"


def _event_name(step: RaceStep) -> str:
    return "advance" if step.kind == "advance" else step.event.name if step.event else step.kind


def _observed(answer: Exchange) -> str:
    status = answer.answer.get("status") if isinstance(answer.answer, dict) else None
    return f"{answer.status} {answer.error_code or status or ''}".rstrip()


# --- the phase ---------------------------------------------------------------------------------


def race_seed(seed_value: int) -> int:
    """The concurrent phase's seed, from the run's: the phase replays alone with the run's seed."""
    return random.Random(f"{seed_value}:races").randrange(2**32)


@contextlib.contextmanager
def _heap_frozen() -> Iterator[None]:
    """Python's garbage collector leaves alone what the run built before the phase (``gc.freeze``):
    a full collection scans only what the phase made since. Without it, a full collection over the
    whole heap (30 to 70 ms after the sequential phase) fell inside whichever search of the
    checker was allocating at that moment, and made it miss issue 11's 50 ms."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def explore_races(ctx: SuiteContext, machine_class: type[ConformanceMachine], seed_value: int,
                  config: settings) -> tuple[ConformanceFailure | None, bool, list[str]]:
    """Run the concurrent phase: ``config.max_examples`` plans, each ``race_repeats`` times.
    Returns the failure (None when every history was linearizable), whether it was flaky (did not
    happen again while Hypothesis shrank it), and Hypothesis's output."""
    repeats = max(1, ctx.config.race_repeats)
    output: list[str] = []
    connections = Connections(ctx.adapter)

    @settings(config)
    @given(st.data())
    def races(data: st.DataObject) -> None:
        plan = draw_plan(ctx, data)
        if not plan.branches:
            return
        for _ in range(repeats):
            machine = machine_class()
            try:
                run_plan(machine, plan, connections)
            except ConformanceFailure:
                ctx.failing = machine
                raise
            finally:
                ctx.races += 1
                ctx.notify()

    try:
        with with_reporter(lambda text: output.append(str(text))), from_the_seed_alone(), \
                contextlib.closing(connections), _heap_frozen():
            seed(race_seed(seed_value))(races)()
    except ImplementationUnreachable:
        raise
    except FlakyFailure as group:
        failure = ConformanceFailure.first_in(group)
        if failure is None:
            raise
        _tell_of(ctx, failure)
        return failure, True, output
    except ConformanceFailure as failure:
        _tell_of(ctx, failure)
        return failure, False, output
    except Flaky:
        remembered = ctx.failing
        if remembered is not None and remembered.failure is not None:
            ctx.current = remembered
            return remembered.failure, True, output
        # Nothing failed (see runner._explore_with): the phase's other plans are lost, so say so.
        ctx.notes.append(
            f"Hypothesis stopped the concurrent phase (seed {seed_value}) after {ctx.races} histories: "
            "replaying its own choices drew different steps (the implementation answered the same "
            "requests differently, or its webhooks came at other times). No check failed in it; "
            "rerun with that seed to look again.")
    return None, False, output


def _tell_of(ctx: SuiteContext, failure: ConformanceFailure) -> None:
    """Make the history that failed with ``failure`` the one the report tells: while Hypothesis
    shrank it, other histories ran after it (and one that did not fail again, if it was flaky)."""
    if ctx.failing is not None and ctx.failing.failure is failure:
        ctx.current = ctx.failing


__all__ = ["RacePlan", "draw_plan", "explore_races", "race_seed", "run_plan"]
