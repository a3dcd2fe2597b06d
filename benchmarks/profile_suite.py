"""Where the suite's time goes: a profile of one run, summed into phases.

Profiles one seeded ``run_suite`` call (after a warm-up run) on the main thread, with
pyinstrument when it is installed (a sampling profiler, little overhead) and cProfile
otherwise (``pip install pyinstrument`` for truer numbers: cProfile inflates call-heavy code
such as Hypothesis and jsonschema). The phases are the cumulative time of a few functions:

* the HTTP round trip (``HttpAdapter.perform``: client, wire and the server's work),
* validating every answer against spec/openapi.yaml (``OpenAPIContract.response_problems``),
* Hypothesis choosing each step's rule and drawing its arguments (``RuleStrategy.do_draw``),
* waiting for webhooks at the end of an example (``WebhookReceiver.wait_for``),
* loading the spec and the OpenAPI document,

and the rest: the Hypothesis engine, the model's predictions, the checks, the rules' bodies.

``--target offline`` takes the server out: it records a run's answers against the reference
server, then runs the suite again on the same seed against an adapter that hands back those
answers instantly, which leaves only the suite's own work (without the webhook checks, as no
webhook arrives).

    python benchmarks/profile_suite.py                       # loopback, 30 examples x 25 steps
    python benchmarks/profile_suite.py --target offline --html profile.html
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from _harness import EXAMPLES, MODES, SEED, STEPS, Sent, adapter_for, contract, footer, fresh_server, table

from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import USE_DEFAULT_KEY, Exchange, HttpAdapter, SuiteConfig, run_suite
from cxpay_conformance.suite._compat import rule_choice_method
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.receiver import WebhookReceiver


def _first_line(function: Any) -> int:
    return inspect.getsourcelines(function)[1]


#: phase -> (file path ending, function name, first line) of the functions whose cumulative
#: time it is (the line tells apart the many ``do_draw`` of hypothesis/stateful.py).
PHASES: dict[str, tuple[tuple[str, str, int], ...]] = {
    "HTTP round trip (adapter.perform)": (
        ("suite/http_adapter.py", "perform", _first_line(HttpAdapter.perform)),),
    "OpenAPI validation of every answer": (
        ("suite/openapi.py", "response_problems", _first_line(OpenAPIContract.response_problems)),),
    # A private method (hence _compat): where it is gone, its time is counted as the rest's.
    "Hypothesis: choosing rules, drawing arguments": tuple(
        ("hypothesis/stateful.py", name, _first_line(getattr(owner, name)))
        for owner, name in filter(None, [rule_choice_method()])),
    "waiting for webhooks at quiescence": (
        ("suite/receiver.py", "wait_for", _first_line(WebhookReceiver.wait_for)),),
    "loading the spec and the OpenAPI document": (
        ("spec/loader.py", "load_spec", _first_line(load_spec)),
        ("suite/openapi.py", "load", _first_line(OpenAPIContract.load))),
}

WITHOUT_WEBHOOKS = ("webhooks", "signatures")


@dataclass
class CannedAdapter:
    """Answers each request with the answer recorded for it, in order, at once."""

    sent: list[Sent]
    position: int = 0

    def perform(self, operation_id: str, object_id: str | None = None, body: Any = None, *,
                api_key: Any = USE_DEFAULT_KEY, idempotency_key: str | None = None,
                query: Mapping[str, str | int] | None = None) -> Exchange:
        recorded = self.sent[self.position]
        self.position += 1
        if (recorded.operation_id, recorded.object_id) != (operation_id, object_id):
            raise SystemExit(f"request {self.position} differs from the recorded run: "
                             f"{operation_id} {object_id} (recorded: {recorded.operation_id} "
                             f"{recorded.object_id}); the offline replay needs a deterministic run")
        operation = contract().operations[operation_id]
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return Exchange(operation_id, operation.method, operation.url_path(object_id), body,
                        recorded.status, recorded.answer, headers)

    def close(self) -> None:
        pass


def suite_runner(target: str, seed: int, examples: int, steps: int) -> Callable[[], float]:
    """A function that runs the suite once as ``target`` says and answers its wall seconds."""
    if target != "offline":
        def run() -> float:
            with fresh_server(target) as server:
                config = SuiteConfig(base_url=server.base_url, api_key=server.api_key,
                                     second_api_key=server.second_api_key, seed=seed,
                                     max_examples=examples, max_steps=steps, database=None)
                adapter = adapter_for(server)
                started = time.perf_counter()
                result = run_suite(config, adapter=adapter)
                seconds = time.perf_counter() - started
            if not result.conformant:
                raise SystemExit(f"the reference server failed the suite: {result.failure}")
            return seconds

        return run

    from _harness import RecordingAdapter

    with fresh_server("loopback") as server:
        recording = RecordingAdapter(adapter_for(server))
        recorded = run_suite(SuiteConfig(base_url=server.base_url, api_key=server.api_key,
                                         second_api_key=server.second_api_key, seed=seed,
                                         max_examples=examples, max_steps=steps, database=None,
                                         skip_checks=WITHOUT_WEBHOOKS), adapter=recording)
        keys = (server.api_key, server.second_api_key)
    if not recorded.conformant:
        raise SystemExit(f"the reference server failed the suite: {recorded.failure}")

    def offline() -> float:
        adapter = CannedAdapter(list(recording.sent))
        config = SuiteConfig(base_url="http://offline.invalid", api_key=keys[0],
                             second_api_key=keys[1], seed=seed, max_examples=examples,
                             max_steps=steps, database=None, skip_checks=WITHOUT_WEBHOOKS)
        started = time.perf_counter()
        result = run_suite(config, adapter=adapter)
        seconds = time.perf_counter() - started
        if not result.conformant or adapter.position != len(adapter.sent):
            raise SystemExit(f"the offline run went another way than the recorded one: {result.failure}")
        return seconds

    return offline


def with_pyinstrument(run: Callable[[], float], html: str | None) -> tuple[float, Counter[str], Counter[str]]:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    run()
    profiler.stop()
    if html:
        profiler.write_html(html)
    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    if root is None:
        raise SystemExit("pyinstrument recorded nothing: was the run too short?")
    phases: Counter[str] = Counter()
    selfs: Counter[str] = Counter()

    def walk(frame: Any, inside: str | None) -> None:
        if frame.function == "[self]":
            return
        phase = inside or _phase_of(frame.file_path or "", frame.function, frame.line_no)
        if phase is not None and inside is None:
            phases[phase] += frame.time
        own = frame.time - sum(c.time for c in frame.children if c.function != "[self]")
        selfs[_where(frame.file_path or "", frame.function, frame.line_no)] += own
        for child in frame.children:
            walk(child, phase)

    walk(root, None)
    return root.time, phases, selfs


def with_cprofile(run: Callable[[], float]) -> tuple[float, Counter[str], Counter[str]]:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(run)
    total = time.perf_counter() - started
    stats: Any = pstats.Stats(profiler)
    phases: Counter[str] = Counter()
    selfs: Counter[str] = Counter()
    for (path, line, function), (_calls, _primitive, own, cumulative, _callers) in stats.stats.items():
        phase = _phase_of(path, function, line)
        if phase is not None:
            phases[phase] += cumulative
        selfs[_where(path, function, line)] += own
    return total, phases, selfs


def _phase_of(path: str, function: str, line: int | None) -> str | None:
    for phase, markers in PHASES.items():
        if any(path.endswith(tail) and function == name and line == first
               for tail, name, first in markers):
            return phase
    return None


def _where(path: str, function: str, line: int | None) -> str:
    short = path.rsplit("site-packages/", 1)[-1]
    short = short.split("cxpay_conformance/", 1)[-1] if "cxpay_conformance/" in short else short
    return f"{function} ({short}:{line})" if path else function


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="loopback", choices=[*MODES, "offline"])
    parser.add_argument("--examples", type=int, default=EXAMPLES)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--html", metavar="PATH", help="also write pyinstrument's HTML report")
    parser.add_argument("--top", type=int, default=15, help="functions to list by own time")
    args = parser.parse_args()

    run = suite_runner(args.target, args.seed, args.examples, args.steps)
    unprofiled = run()  # also the warm-up: imports, caches
    try:
        import pyinstrument  # noqa: F401

        profiler = "pyinstrument"
        total, phases, selfs = with_pyinstrument(run, args.html)
    except ImportError:
        profiler = "cProfile (pip install pyinstrument for a sampling profile)"
        total, phases, selfs = with_cprofile(run)
    rows = [[phase, f"{phases[phase]:.2f} s", f"{100 * phases[phase] / total:.0f} %"] for phase in PHASES]
    rest = total - sum(phases.values())
    rows.append(["the rest: Hypothesis engine, model, checks, rule bodies", f"{rest:.2f} s",
                 f"{100 * rest / total:.0f} %"])
    print(f"Profile of one suite run ({args.target}), seed {args.seed}, {args.examples} examples x "
          f"{args.steps} steps, by {profiler}: {total:.2f} s profiled, {unprofiled:.2f} s unprofiled")
    print()
    print(table(["phase", "time", "share"], rows))
    print()
    print(table(["function (own time)", "time", "share"],
                [[name, f"{seconds:.3f} s", f"{100 * seconds / total:.1f} %"]
                 for name, seconds in selfs.most_common(args.top)]))
    print()
    print(footer())


if __name__ == "__main__":
    main()
