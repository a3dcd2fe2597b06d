"""``run --workers N``: one run's batches in N processes at once, the results merged into one.

Each worker is a process of its own (``multiprocessing``, spawned) running :func:`.run_suite` on
its share of the batches (:mod:`.shares`: worker ``j`` of a run that is share ``i/N`` runs share
``i + N * j`` of ``N * W``), so the same seed and worker count give the same examples. Processes,
not threads: Hypothesis is not thread-safe within one test (its engine keeps the test being run,
the reporter and the example database's state per process), and the suite's own work per step is
Python that holds the GIL (docs/scaling.md has the measurement).

Each worker tests as a merchant of its own (:attr:`SuiteConfig.more_merchants`): a merchant has one
test clock, and a worker's clock advance would move another worker's payments under it. So each
worker has its own webhook receiver and endpoint, and the implementation itself routes every
delivery to the worker whose payments made it (a merchant's events go to its endpoints only).

The parent merges what the workers report while they run (one progress view for the front end's
listener) and at the end (one :class:`.SuiteResult`: counts and coverage summed, the first failure
found with its story as that worker shrank it). Once a worker finds a failure the others start no
new batch.
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from cxpay_conformance.errors import CXPayError
from cxpay_conformance.spec import Spec
from cxpay_conformance.suite.config import SuiteConfig
from cxpay_conformance.suite.context import FirstFailure, SuiteContext
from cxpay_conformance.suite.coverage import Coverage
from cxpay_conformance.suite.runner import SuiteResult, run_suite
from cxpay_conformance.suite.shares import useful_workers

#: The counters of a :class:`.Coverage`.
_COUNTS = ("transitions", "edges", "states", "rejections")
#: The most workers the default picks (each is a process of its own).
MOST = 16
#: Below this round trip (seconds) the default is one worker: on loopback the suite's own CPU time
#: is the run's wall time, and more processes on the same cores only add their start.
LOOPBACK = 0.002
#: The default adds a worker per this much round trip (seconds): 20 ms -> 8 workers.
PER_WORKER = 0.0025


def default_workers(round_trip: float | None, config: SuiteConfig) -> tuple[int, str]:
    """How many workers to run ``config`` in when the user did not say, and why (one sentence)."""
    merchants = 1 + len(config.more_merchants)
    useful = useful_workers(config.examples, config.races)
    if round_trip is None or round_trip < LOOPBACK:
        measured = "not measured" if round_trip is None else f"{round_trip * 1000:.1f} ms"
        return 1, (f"1 worker: the round trip to the implementation is {measured}, so the run waits little "
                   "on the network (more workers help from about 2 ms)")
    wanted = min(MOST, math.ceil(round_trip / PER_WORKER))
    count = max(1, min(wanted, useful, merchants))
    why = f"the round trip is {round_trip * 1000:.1f} ms, worth {wanted} workers"
    if merchants < wanted and merchants <= useful:
        why += (f", but only {merchants} merchant{'s' if merchants > 1 else ''} to test as (each worker needs its "
                "own: give more comma-separated keys to --api-key and --second-api-key)")
    elif useful < wanted:
        why += f", but the run has only {useful} batch{'es' if useful > 1 else ''} to share"
    return count, f"{count} worker{'s' if count > 1 else ''}: {why}"


@dataclass
class _Shrinking:
    failed: bool
    steps: list[Any]


@dataclass
class _View:
    """What a front end's listener reads of a run, merged over the workers (duck-typed as a
    :class:`.SuiteContext`: the fields the listeners read)."""

    spec: Spec
    coverage: Coverage
    examples: int = 0
    steps: int = 0
    requests: int = 0
    races: int = 0
    first_failure: FirstFailure | None = None
    current: _Shrinking | None = None


@dataclass
class _Snapshot:
    examples: int
    steps: int
    requests: int
    races: int
    transitions: list[int]
    first_failure: FirstFailure | None
    failing_steps: int | None = None
    extra: dict[str, int] = field(default_factory=dict)


def run_workers(config: SuiteConfig, *, listener: Callable[[SuiteContext], None] | None = None,
                spec: Spec) -> SuiteResult:
    """Run ``config`` in ``config.workers`` processes; one merged result."""
    workers = config.workers
    merchants = [(config.api_key, config.second_api_key), *config.more_merchants]
    if len(merchants) < workers:
        raise CXPayError(f"{workers} workers need {workers} merchants to test as, {len(merchants)} given")
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**32)
    context = multiprocessing.get_context("spawn")
    inbox: Any = context.Queue()
    stop = context.Event()
    started = time.monotonic()
    processes = []
    for number, (share, (key, second)) in enumerate(zip(config.share.split(workers), merchants, strict=False)):
        own = replace(config, seed=seed, share=share, workers=1, more_merchants=(), api_key=key,
                      second_api_key=second,
                      webhook_port=config.webhook_port + number if config.webhook_port else 0)
        process = context.Process(target=_work, args=(own, number, inbox, stop), daemon=True,
                                  name=f"cxpay-worker-{number + 1}")
        process.start()
        processes.append(process)
    view = _View(spec, Coverage(spec))
    snapshots: dict[int, _Snapshot] = {}
    results: dict[int, SuiteResult] = {}
    found: list[int] = []  # workers in the order they found a failure
    # When the run's first failure was met: the examples all workers had run, the run's seconds.
    found_at: tuple[int, float] | None = None
    error: BaseException | None = None
    try:
        while len(results) < workers and error is None:
            try:
                message = inbox.get(timeout=1.0)
            except queue.Empty:
                dead = [p for n, p in enumerate(processes) if n not in results and not p.is_alive()]
                if dead and inbox.empty():
                    error = CXPayError(f"worker {dead[0].name} ended without a result (exit code {dead[0].exitcode})")
                continue
            kind, number, payload = message
            if kind == "progress":
                snapshots[number] = payload
                if payload.first_failure is not None and number not in found:
                    found.append(number)
                    stop.set()
                    if found_at is None:
                        others = sum(s.examples for n, s in snapshots.items() if n != number)
                        found_at = (others + payload.first_failure.examples, time.monotonic() - started)
                if listener is not None:
                    _merge_view(view, snapshots, found, found_at)
                    listener(cast(SuiteContext, view))
            elif kind == "done":
                sent, counts = payload
                coverage = Coverage(spec)
                for name in _COUNTS:
                    getattr(coverage, name).update(counts[name])
                results[number] = replace(sent, spec=spec, coverage=coverage)
                if sent.failure is not None and number not in found:
                    found.append(number)
                    stop.set()
            else:  # "error": what the worker raised, already a CXPayError
                error = payload
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=30 if error is None else 5)
            if process.is_alive():
                process.terminate()
                process.join()
    if error is not None:
        raise error
    return _merged(config, seed, [results[n] for n in range(workers)], found, time.monotonic() - started, found_at)


def _work(config: SuiteConfig, number: int, outbox: Any, stop: Any) -> None:
    """A worker process: run the share, tell the parent how it goes, send the result."""
    last = 0.0

    def tell(ctx: SuiteContext) -> None:
        nonlocal last
        now = time.monotonic()
        first = ctx.first_failure
        if now - last < 0.25 and first is None:
            return
        if first is not None and now - last < 0.25 and ctx.current is not None and not ctx.current.failed:
            return
        last = now
        failing = len(ctx.current.steps) if ctx.current is not None and ctx.current.failed else None
        outbox.put(("progress", number, _Snapshot(ctx.examples, ctx.steps, ctx.requests, ctx.races,
                                                  list(ctx.coverage.transitions), first, failing)))

    try:
        result = run_suite(config, listener=tell, stop=stop.is_set)
    except CXPayError as exc:
        outbox.put(("error", number, _portable(exc)))
        return
    except BaseException as exc:  # a bug of ours: the parent says what, the traceback stays here
        outbox.put(("error", number, CXPayError(f"worker {number + 1} failed: {type(exc).__name__}: {exc}")))
        raise
    # The spec and the coverage hold read-only mappings, which do not pickle: the parent has the spec.
    counts = {name: dict(getattr(result.coverage, name)) for name in _COUNTS}
    outbox.put(("done", number, (replace(result, spec=cast(Spec, None), coverage=cast(Coverage, None)), counts)))


def _portable(error: CXPayError) -> CXPayError:
    """``error`` as it can cross to the parent (an exception with keyword-only fields may not)."""
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return type(error).__mro__[1](str(error)) if type(error) is not CXPayError else CXPayError(str(error))
    return error


def _merge_view(view: _View, snapshots: dict[int, _Snapshot], found: list[int],
                found_at: tuple[int, float] | None) -> None:
    shown = list(snapshots.values())
    view.examples = sum(s.examples for s in shown)
    view.steps = sum(s.steps for s in shown)
    view.requests = sum(s.requests for s in shown)
    view.races = sum(s.races for s in shown)
    view.coverage.transitions = Counter({t: 1 for s in shown for t in s.transitions})
    if found:
        failing = snapshots.get(found[0])
        first = failing.first_failure if failing is not None else None
        if first is not None and found_at is not None:  # counted over the run, as the merged result does
            first = replace(first, examples=found_at[0], seconds=found_at[1])
        view.first_failure = first
        if failing is not None and failing.failing_steps is not None:
            view.current = _Shrinking(True, [None] * failing.failing_steps)


def _merged(config: SuiteConfig, seed: int, results: list[SuiteResult], found: list[int],
            duration: float, found_at: tuple[int, float] | None = None) -> SuiteResult:
    """One result of the workers': the first failure found (and its story), everything counted;
    when it was found is counted over the run (``found_at``: examples of all workers, seconds)."""
    failing = next((results[n] for n in found if results[n].failure is not None), None)
    base = failing or results[0]
    first = base.first_failure
    if failing is not None and first is not None and found_at is not None:
        first = replace(first, examples=found_at[0], seconds=found_at[1])
    coverage = Coverage(base.spec)
    checks_run: Counter[str] = Counter()
    step_kinds: Counter[str] = Counter()
    for result in results:
        for name in _COUNTS:
            getattr(coverage, name).update(getattr(result.coverage, name))
        checks_run.update(result.checks_run)
        step_kinds.update(result.step_kinds)
    notes = [f"worker {n + 1}: {note}" for n, result in enumerate(results) for note in result.notes]
    replay = base.replay if failing is not None else (
        f"--seed {seed} --max-examples {config.examples} --max-steps {config.steps}"
        + ("" if config.share.whole else f" --shard {config.share}"))
    return replace(
        base, config=replace(config, seed=seed), seed=seed, replay=replay,
        examples=sum(r.examples for r in results), steps=sum(r.steps for r in results),
        requests=sum(r.requests for r in results), races=sum(r.races for r in results),
        duration=duration, coverage=coverage, checks_run=dict(checks_run), step_kinds=dict(step_kinds),
        notes=notes, workers=len(results),
        batches=sorted((b for r in results for b in r.batches), key=lambda b: (b.phase != "sequential", b.index)),
        hypothesis_output=base.hypothesis_output if failing is not None else [],
        first_failure=first if failing is not None else None,
    )
