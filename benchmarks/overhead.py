"""Where the suite's time beyond the ceiling goes, and what ratio each part leaves room for.

Runs the suite (seed 1234, 30 examples x 25 steps, loopback) with a wall-clock meter on a few
functions, each charged only for its own time (a function called inside another is charged
to the inner one), then replays the same requests from the ceiling's bare loop
(``benchmarks/ceiling.py``). For each part of the suite's work it prints its time, its time
per step, and the ratio suite/ceiling the run would reach if that part took no time at all:
how much of the gap to the ceiling it can explain.

The meter costs a microsecond or two per call; the run's time with and without it is printed,
so its share can be told apart.

    python benchmarks/overhead.py
    python benchmarks/overhead.py --reps 5
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import _harness
import httpx
from _harness import footer, fresh_server, run_suite_once, table, workload_arguments
from ceiling import bare_receiver, prepare, replay
from hypothesis.strategies import DataObject

from cxpay_conformance.model import World
from cxpay_conformance.suite import checks, machine, preflight
from cxpay_conformance.suite._compat import rule_choice_method
from cxpay_conformance.suite.http_adapter import HttpAdapter
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.receiver import WebhookReceiver
from cxpay_conformance.suite.rules import GeneratedMachine

REST = "the rest: Hypothesis's engine, the rules choosing their targets"

#: part -> the (owner, attribute) whose calls are charged to it.
PARTS: dict[str, tuple[tuple[Any, str], ...]] = {
    "HTTP round trip (client, loopback, the server's work)": ((HttpAdapter, "perform"),),
    # A private method (hence _compat): where it is gone, its time is counted as the rest's.
    "Hypothesis: choosing each rule and drawing its arguments": tuple(filter(None, [rule_choice_method()])),
    "Hypothesis: draws inside the rules (targets, events, probes)": ((DataObject, "draw"),),
    "OpenAPI validation of every answer and webhook": (
        (OpenAPIContract, "response_problems"), (OpenAPIContract, "webhook_problems")),
    "the model's predictions (transitions, effects, clock)": (
        (World, "create"), (World, "fire"), (World, "advance"), (World, "enabled"),
        (World, "snapshot"), (World, "due")),
    "comparing read-backs with the model, invariants": (
        (machine, "differences"), (machine, "check_invariants"), ("check", "state"),
        ("check", "invariants")),
    "webhooks at quiescence: waiting, signatures, comparing": (
        (WebhookReceiver, "wait_for"), ("check", "webhooks"), ("check", "signatures")),
    "loading the spec and the OpenAPI document": ((preflight, "load_spec"), (OpenAPIContract, "load")),
    "the steps' own code: requests, stories, ids, bookkeeping": tuple(
        (GeneratedMachine, name) for name in (
            "perform", "run", "wire", "expected", "bind", "observe", "verify_payments", "record", "begin",
            "create_payment", "fire_event", "advance", "replay", "reuse_key", "key_of_length", "intrude",
            "read_ours_with", "probe_with")),
    "each example's setup and teardown (model, swarm, coverage)": (
        (GeneratedMachine, "__init__"), (GeneratedMachine, "teardown")),
}


class Meter:
    """Exclusive wall time per part: time inside a metered call nested in another goes to
    the inner one."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._stack: list[list[Any]] = []

    def start(self, part: str) -> None:
        now = time.perf_counter()
        if self._stack:
            outer = self._stack[-1]
            self.seconds[outer[0]] += now - outer[1]
        self._stack.append([part, now])

    def stop(self) -> None:
        now = time.perf_counter()
        part, since = self._stack.pop()
        self.seconds[part] += now - since
        if self._stack:
            self._stack[-1][1] = now

    def wrap(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def metered(*args: Any, **kwargs: Any) -> Any:
            self.start(part)
            try:
                return function(*args, **kwargs)
            finally:
                self.stop()

        return metered


@contextmanager
def metered(meter: Meter) -> Iterator[None]:
    """Every function of :data:`PARTS` charged to ``meter`` for the block."""
    undo: list[Callable[[], None]] = []
    for part, places in PARTS.items():
        for owner, name in places:
            if owner == "check":
                registered = checks.CHECKS[name]
                checks.CHECKS[name] = dataclasses.replace(registered,
                                                          function=meter.wrap(part, registered.function))
                undo.append(functools.partial(checks.CHECKS.__setitem__, name, registered))
                continue
            if isinstance(owner, type):  # patched where it is defined (the machine is layered)
                owner = next(cls for cls in owner.__mro__ if name in cls.__dict__)
                original = owner.__dict__[name]
            else:
                original = getattr(owner, name)
            if isinstance(original, classmethod):
                wrapped: Any = classmethod(meter.wrap(part, original.__func__))
            else:
                wrapped = meter.wrap(part, original)
            setattr(owner, name, wrapped)
            undo.append(functools.partial(setattr, owner, name, original))
    # The run itself: what no part above claims is the rest (server start and stop are not in it).
    run_suite = _harness.run_suite
    _harness.run_suite = meter.wrap(REST, run_suite)
    undo.append(functools.partial(setattr, _harness, "run_suite", run_suite))
    try:
        yield
    finally:
        for step in reversed(undo):
            step()


def main() -> None:
    parser = workload_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]), reps=3)
    args = parser.parse_args()
    mode = "loopback"
    run_suite_once(mode, seed=args.seed, examples=2, steps=5)  # warm up imports and caches
    plain, suites, ceilings, steps = [], [], [], set()
    parts: dict[str, list[float]] = {part: [] for part in [*PARTS, REST]}
    for _ in range(args.reps):
        plain.append(run_suite_once(mode, seed=args.seed, examples=args.examples, steps=args.steps).seconds)
        meter = Meter()
        with metered(meter):
            run = run_suite_once(mode, seed=args.seed, examples=args.examples, steps=args.steps, record=True)
        with fresh_server(mode) as target, bare_receiver() as url:
            plan = prepare(list(run.sent), url)
            with httpx.Client(base_url=target.base_url, timeout=10.0) as client:
                seconds, _cpu, _matched = replay(plan, client)
        suites.append(run.seconds)
        ceilings.append(seconds)
        steps.add(run.steps)
        for part in parts:
            parts[part].append(meter.seconds[part])
        print(f"  run {len(suites)}: suite {run.seconds:.2f} s, ceiling {seconds:.2f} s", flush=True)

    suite, ceiling = statistics.median(suites), statistics.median(ceilings)
    step_count = statistics.median(steps)
    rows = []
    for part, values in parts.items():
        spent = statistics.median(values)
        rows.append([part, f"{spent:.2f} s", f"{1000 * spent / step_count:.2f} ms",
                     f"{100 * spent / suite:.0f} %",
                     "-" if part.startswith("HTTP") else f"{ceiling / (suite - spent):.2f}"])
    beyond_http = sum(statistics.median(values) for part, values in parts.items() if not part.startswith("HTTP"))
    rows.append(["**all of the suite's own work** (every part but the HTTP round trip)", f"{beyond_http:.2f} s",
                 f"{1000 * beyond_http / step_count:.2f} ms", f"{100 * beyond_http / suite:.0f} %",
                 f"{ceiling / (suite - beyond_http):.2f}"])
    print()
    print(f"Suite vs ceiling, seed {args.seed}, {args.examples} examples x {args.steps} steps, {mode}, "
          f"{args.reps} runs: medians. Suite {statistics.median(plain):.2f} s without the meter, "
          f"{suite:.2f} s with it; ceiling {ceiling:.2f} s for the same requests; ratio "
          f"{ceiling / suite:.2f} (metered run), {step_count:.0f} steps.")
    print()
    print(table(["part of the suite's run", "time", "per step", "share", "ratio if it took no time"], rows))
    print()
    print(footer())


if __name__ == "__main__":
    main()
