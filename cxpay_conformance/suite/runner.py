"""The engine both front ends call: run the suite against one implementation, return a result.

:func:`run_suite` loads the spec, opens the adapter and the webhook receiver, registers the
receiver as a webhook endpoint, and runs the generated state machine with Hypothesis
(seeded, with the example database, in batches when a time budget is set). It never prints:
the CLI and the pytest plugin render the :class:`SuiteResult` their own way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky, FlakyFailure
from hypothesis.reporting import with_reporter

from cxpay_conformance.errors import ConformanceFailure, CXPayError, ImplementationUnreachable, UsageError
from cxpay_conformance.spec import Spec
from cxpay_conformance.suite import checks
from cxpay_conformance.suite._compat import (
    forget_machine_class,
    from_the_seed_alone,
    shrinking_for_at_most,
    state_machine_test,
)
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY, Adapter, Exchange
from cxpay_conformance.suite.config import SuiteConfig
from cxpay_conformance.suite.context import FirstFailure, Prediction, Step, SuiteContext
from cxpay_conformance.suite.coverage import Coverage
from cxpay_conformance.suite.example_db import open_database
from cxpay_conformance.suite.preflight import Checked, adapter_for, preflight
from cxpay_conformance.suite.races import explore_races
from cxpay_conformance.suite.receiver import Delivery, WebhookReceiver
from cxpay_conformance.suite.rules import build_machine
from cxpay_conformance.suite.shares import BATCH, Batch

__all__ = ["BATCH", "RanBatch", "SuiteResult", "run_suite"]


@dataclass(frozen=True)
class RanBatch:
    """A batch this run ran (see :mod:`.shares`): its phase, index and seed, and how far it got."""

    phase: str
    index: int
    seed: int
    size: int
    #: Examples (sequential) or concurrent histories it ran, and steps it took.
    examples: int
    steps: int


@dataclass
class SuiteResult:
    """The outcome of one run; ``failure`` is None when the implementation conformed."""

    spec: Spec
    config: SuiteConfig
    seed: int
    replay: str
    examples: int
    steps: int
    requests: int
    duration: float
    coverage: Coverage
    checks_run: dict[str, int]
    failure: ConformanceFailure | None = None
    #: Steps taken, by kind ("actor: event"; see :attr:`SuiteContext.step_kinds`).
    step_kinds: dict[str, int] = field(default_factory=dict)
    story: list[Step] = field(default_factory=list)
    flaky: bool = False
    hypothesis_output: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    #: The objects' ids in the failing example: model key (the second merchant's prefixed with
    #: ``second merchant``) -> the implementation's id.
    ids: dict[str, str] = field(default_factory=dict)
    #: What the suite expected of the failing example's answers (index in ``exchanges``).
    predictions: dict[int, Prediction] = field(default_factory=dict)
    #: When the failure was first met, before shrinking (None for a conformant run).
    first_failure: FirstFailure | None = None
    webhook_timeline: list[Delivery] = field(default_factory=list)
    #: Concurrent histories run by the concurrent phase (each plan's repeats one by one).
    races: int = 0
    #: In a failing concurrent history, the requests sent at once (index in ``exchanges``):
    #: (branch, sent, answered), in seconds since the branches were released.
    branches: dict[int, tuple[int, float, float]] = field(default_factory=dict)
    #: Seconds from the first failure to the end of the run's exploration: Hypothesis shrinking it
    #: (None for a conformant run); at most about ``config.shrink_budget`` when one was given.
    shrink_seconds: float | None = None
    #: What the user should know besides the verdict (a batch Hypothesis stopped early).
    notes: list[str] = field(default_factory=list)
    #: The batches run, in the order they ran (the examples actually run: :mod:`.shares`).
    batches: list[RanBatch] = field(default_factory=list)
    #: Workers the run's batches were run in at once (``run --workers``).
    workers: int = 1

    @property
    def conformant(self) -> bool:
        return self.failure is None


def run_suite(
    config: SuiteConfig,
    *,
    adapter: Adapter | None = None,
    listener: Callable[[SuiteContext], None] | None = None,
    checked: Checked | None = None,
    on_webhook: Callable[[Delivery], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> SuiteResult:
    """Run the conformance suite as ``config`` says, against ``config.base_url`` or ``adapter``;
    ``on_webhook`` is told of every webhook delivery as it arrives (``run --record``); no new batch
    starts once ``stop()`` is true (another worker found a failure). Only ``config.share``'s batches
    run (:mod:`.shares`); ``config.workers`` is the front end's (:func:`.workers.run_workers`).

    The configuration is checked first (:func:`~cxpay_conformance.suite.preflight.preflight`:
    the options, the spec, one request per API key), unless ``checked`` is what that answered.

    >>> result = run_suite(SuiteConfig(base_url="http://127.0.0.1:8000", api_key="sk_test_..."))
    >>> result.conformant
    True
    """
    if checked is None:
        checked = preflight(config, adapter=adapter)
    spec, contract, selected = checked.spec, checked.contract, checked.selected
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**32)
    if adapter is None:
        adapter = adapter_for(config, contract)
    started = time.monotonic()
    with _receiver(config, selected) as receiver:
        if receiver is not None:
            receiver.on_delivery = on_webhook
        ctx = SuiteContext(spec, contract, adapter, config, selected, receiver)
        ctx.listener = listener
        endpoint = None
        timeline: list[Delivery] = []
        shrunk_for: float | None = None
        ran: list[RanBatch] = []
        try:
            endpoint = _register(ctx) if receiver is not None else None
            failure, flaky, replay, output = _explore(ctx, seed, ran, stop)
            if failure is not None and ctx.first_failure is not None:
                shrunk_for = ctx.clock() - ctx.started - ctx.first_failure.seconds
            if failure is None and endpoint is not None:
                deleting, endpoint = endpoint, None
                ctx.current = None  # a failure here is no example's story
                _unregister_checked(ctx, deleting)
        except ConformanceFailure as setup_failure:
            failure, flaky, replay, output = setup_failure, False, f"--seed {seed}", []
        finally:
            if endpoint is not None:
                _unregister(ctx, endpoint)
            for left, owner in list(ctx.endpoints_open.items()):  # what a failing example left behind
                _unregister(ctx, left, owner)
            adapter.close()
        # The webhooks the failing example's objects received, as they arrived (its ids are its own).
        if failure is not None and ctx.current is not None and receiver is not None:
            ours = set(ctx.current.ids.values())
            timeline = [d for d in receiver.deliveries() if d.object_id in ours]
    last = ctx.current if failure is not None else None
    return SuiteResult(
        spec=spec, config=config, seed=seed, replay=replay, examples=ctx.examples,
        steps=ctx.steps, requests=ctx.requests, duration=time.monotonic() - started,
        coverage=ctx.coverage, checks_run=dict(ctx.checks_run), failure=failure, step_kinds=dict(ctx.step_kinds),
        story=list(ctx.current.steps) if failure and ctx.current else [], flaky=flaky,
        hypothesis_output=output,
        exchanges=list(last.exchanges) if last else [],
        ids=last.every_id() if last else {},
        predictions=dict(last.predictions) if last else {},
        webhook_timeline=timeline,
        first_failure=ctx.first_failure if failure is not None else None,
        races=ctx.races,
        branches=dict(last.branches) if last else {},
        shrink_seconds=shrunk_for,
        notes=list(ctx.notes),
        batches=ran,
    )


def _explore(ctx: SuiteContext, seed: int, ran: list[RanBatch],
             stop: Callable[[], bool] | None) -> tuple[ConformanceFailure | None, bool, str, list[str]]:
    """Run the phases: Hypothesis in seeded batches until the examples or the time budget are
    spent, then, if nothing failed, the concurrent phase (:mod:`.races`) in batches too; only the
    batches of ``ctx.config.share`` (:mod:`.shares`)."""
    config = ctx.config
    budget = config.shrink_budget
    with _built_machine(ctx) as machine, shrinking_for_at_most(budget) if budget else nullcontext():
        if "sequential" in config.phases:
            failure, flaky, replay, output = _explore_with(ctx, machine, seed, ran, stop)
            if failure is not None:
                return failure, flaky, replay, output
            if not ran and not config.share.whole:
                ctx.notes.append(f"share {config.share} ran no batch of the sequential phase: the run has "
                                 f"fewer batches of {BATCH} examples than shares")
        else:
            replay, output = f"--seed {seed}", []
        if not config.races or "linearizability" not in ctx.selected:
            return None, False, replay, output
        for batch in config.share.races(seed, config.races):
            if stop is not None and stop():
                break
            histories, steps = ctx.races, ctx.steps
            failure, flaky, more = explore_races(ctx, machine, batch.seed, _settings(config, batch.size))
            ran.append(RanBatch("concurrent", batch.index, batch.seed, batch.size, ctx.races - histories,
                                ctx.steps - steps))
            output += more
            if failure is not None:
                return failure, flaky, (f"--seed {batch.seed} --phases concurrent --race-examples {batch.size} "
                                        f"--race-repeats {config.race_repeats}"), output
        return None, False, replay, output


@contextmanager
def _built_machine(ctx: SuiteContext) -> Iterator[type[Any]]:
    """The run's state machine class, which Hypothesis forgets when the run ends.

    Hypothesis keeps the setup of every state machine class it has run for the life of the
    process (its rules, and so the class), as classes are usually defined once, at import. The
    suite builds one per run, around the run's context: the adapter, the spec, the last
    example's machine. A process that ran the suite many times (the selftest, a benchmark, a
    pytest session) kept every run alive, about 8,000 objects and 3.5 MB each, and every
    garbage collection after it took longer. Private API, hence :mod:`._compat`: without it,
    only that memory is lost.
    """
    machine = build_machine(ctx)
    try:
        yield machine
    finally:
        forget_machine_class(machine)


def _explore_with(ctx: SuiteContext, machine: type[Any], seed: int, ran: list[RanBatch],
                  stop: Callable[[], bool] | None) -> tuple[ConformanceFailure | None, bool, str, list[str]]:
    config = ctx.config
    budget = config.time_budget
    deadline = time.monotonic() + budget if budget else None
    total = config.examples
    index, cut_short = 0, 0
    output: list[str] = []
    # One test per batch size, reused by every batch of that size with its own seed: building
    # it makes Hypothesis read and digest the machine's source (6% of the suite's own time).
    tests: dict[int, Callable[[int], None]] = {}
    # Independent seeded batches explore more widely than one long run, whose examples grow from
    # each other; each batch replays on its own with the seed it prints (:mod:`.shares`).
    for batch in config.share.sequential(seed, total):
        if stop is not None and stop():
            break
        batch_size, batch_seed = batch.size, batch.seed
        examples, steps = ctx.examples, ctx.steps
        test = tests.get(batch_size)
        if test is None:
            test = tests[batch_size] = state_machine_test(machine, _settings(config, batch_size))
        replay = f"--seed {batch_seed} --max-examples {batch_size} --max-steps {config.steps}"
        try:
            with with_reporter(lambda text: output.append(str(text))), from_the_seed_alone():
                test(batch_seed)
        except ImplementationUnreachable:
            raise
        except FlakyFailure as group:
            failure = ConformanceFailure.first_in(group)
            if failure is None:
                raise
            ran.append(_ran("sequential", batch, ctx, examples, steps))
            return failure, True, replay, output
        except ConformanceFailure as failure:
            ran.append(_ran("sequential", batch, ctx, examples, steps))
            return failure, False, replay, output
        except Flaky:
            # The implementation answered a replayed example differently, so the steps Hypothesis
            # drew from its answers changed ("inconsistent data generation"). What failed first
            # is still a failure: report that example as it was, unshrunk, marked flaky.
            remembered = ctx.failing
            if remembered is not None and remembered.failure is not None:
                ctx.current = remembered
                ran.append(_ran("sequential", batch, ctx, examples, steps))
                return remembered.failure, True, replay, output
            # Nothing failed: the same choices drew different steps because the implementation
            # (or the time its webhooks took) answered differently than the first time. Not a
            # verdict on the implementation; the batch's other examples are lost, so say so.
            cut_short += 1
            ctx.notes.append(
                f"Hypothesis stopped the batch of {batch_size} examples run with `{replay}` early: "
                "replaying its own choices drew different steps (the implementation answered the same "
                "requests differently, or its webhooks came at other times). No check failed in it; "
                "rerun with that seed to look again.")
        ran.append(_ran("sequential", batch, ctx, examples, steps))
        index += 1
        if deadline is not None and time.monotonic() >= deadline:
            break
    if cut_short and cut_short == index:
        # Every batch was cut short: too little was tested to call the implementation conformant.
        raise CXPayError(
            f"no verdict: Hypothesis stopped all {index} batches early, because replaying its own choices "
            "drew different steps each time (the implementation answered the same requests differently, "
            f"or its webhooks came at other times). Rerun with --seed {seed}; if it happens again, report "
            "it with that seed.")
    shard = "" if config.share.whole else f" --shard {config.share}"
    return None, False, f"--seed {seed} --max-examples {total} --max-steps {config.steps}{shard}", output


def _ran(phase: str, batch: Batch, ctx: SuiteContext, examples: int, steps: int) -> RanBatch:
    return RanBatch(phase, batch.index, batch.seed, batch.size, ctx.examples - examples, ctx.steps - steps)


def _settings(config: SuiteConfig, examples: int) -> settings:
    database = open_database(config.database)
    return settings(
        max_examples=examples,
        stateful_step_count=config.steps,
        deadline=None,
        database=database,
        derandomize=False,
        print_blob=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                               HealthCheck.data_too_large],
        report_multiple_bugs=False,
    )


@contextmanager
def _receiver(config: SuiteConfig, selected: frozenset[str]) -> Iterator[WebhookReceiver | None]:
    if not ({"webhooks", "signatures"} & selected):
        yield None
        return
    bind = "127.0.0.1" if config.webhook_host in (None, "127.0.0.1", "localhost") else "0.0.0.0"
    try:
        receiver = WebhookReceiver(bind, config.webhook_port, public_host=config.webhook_host)
    except OSError as exc:
        raise UsageError(f"cannot start the webhook receiver on {bind}:{config.webhook_port}: {exc}; "
                         "choose another --webhook-port") from None
    with receiver:
        yield receiver


def _register(ctx: SuiteContext) -> str:
    assert ctx.receiver is not None
    exchange = ctx.adapter.perform("createWebhookEndpoint", None, {"url": ctx.receiver.url})
    answer: Any = exchange.answer
    if exchange.status != 200 or not isinstance(answer, dict) or "secret" not in answer:
        raise ConformanceFailure(
            f"registering the suite's webhook endpoint {ctx.receiver.url} failed: "
            f"{exchange.describe()}", check="webhooks", event="register endpoint",
            expected=200, observed=exchange.status, request=exchange.describe(),
            response=str(exchange.answer)[:500])
    ctx.receiver.secret = str(answer["secret"])
    return str(answer.get("id"))


def _unregister_checked(ctx: SuiteContext, endpoint: str) -> None:
    """Delete the suite's webhook endpoint as the contract says a merchant can: another
    merchant's key gets 404 as for an unknown id and deletes nothing, our key deletes it (200,
    ``deleted``), and deleting it again, or an id that never existed, gets 404."""
    unknown = ctx.spec.protocol.unknown_object
    missing = (unknown.status, unknown.type, unknown.code)

    def refused(exchange: Exchange, what: str, check: str) -> None:
        if check in ctx.selected:
            ctx.checks_run[check] += 1
            if (exchange.status, exchange.error_type, exchange.error_code) != missing:
                raise checks._failure(check, f"deleting {what} must answer {unknown.status} {unknown.code} "
                                      f"as for an unknown id; the implementation answered {exchange.describe()}",
                                      exchange, event="delete webhook endpoint", expected=missing,
                                      observed=(exchange.status, exchange.error_type, exchange.error_code))

    def perform(object_id: str, api_key: Any = USE_DEFAULT_KEY) -> Exchange:
        exchange = ctx.adapter.perform("deleteWebhookEndpoint", object_id, api_key=api_key)
        if "openapi" in ctx.selected:
            ctx.checks_run["openapi"] += 1
            checks.check_openapi(ctx.contract, exchange)
        return exchange

    if ctx.config.second_api_key and "tenant_isolation" in ctx.selected:
        refused(perform(endpoint, ctx.config.second_api_key),
                "the suite's webhook endpoint with another merchant's key", "tenant_isolation")
    deleted = perform(endpoint)
    if "status" in ctx.selected:
        ctx.checks_run["status"] += 1
        if deleted.status != 200 or not isinstance(deleted.answer, dict) or deleted.answer.get("deleted") is not True:
            raise checks._failure("status", "deleting the suite's webhook endpoint must answer 200 with "
                                  f"deleted: true; the implementation answered {deleted.describe()}", deleted,
                                  event="delete webhook endpoint", expected=200, observed=deleted.status)
    refused(perform(endpoint), "the suite's webhook endpoint again", "status")
    refused(perform(endpoint + "x"), "a webhook endpoint id that never existed", "status")


def _unregister(ctx: SuiteContext, endpoint: str, api_key: Any = USE_DEFAULT_KEY) -> None:
    with suppress(ImplementationUnreachable):  # it is gone already: nothing to clean up
        ctx.adapter.perform("deleteWebhookEndpoint", endpoint, api_key=api_key)
