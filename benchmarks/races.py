"""The concurrent phase (issue 11): what it costs, how fast it catches the race faults, whether
it ever cries wolf, and how long its checker searches.

Four parts, each a table (``--parts`` picks some):

* ``a``, **cost**: the ``ci`` profile's wall time against the embedded reference server with
  the sequential phase only (``phases=("sequential",)``) and with both phases (the default),
  the two run in turns so that a change in the machine's load hits both alike; the median of
  ``--reps`` runs each, and the time the concurrent phase adds (issue 11's bar: at most 30 %).
* ``b``, **time to catch**: each race fault of the catalogue (family ``linearizability``) with
  the ``ci`` profile and each of ``--seeds``: the concurrent phase alone, then both phases as
  a user runs them (``--default-seeds``, as the sequential phase comes first and takes long).
  The time is the suite's own ``first_failure`` (from the start of the run to the failing
  check), as ``cxpay-conformance selftest`` reports it; shrinking after it is capped.
* ``c``, **false alarms**: ``--alarm-runs`` runs of the concurrent phase alone at the ``ci``
  profile (40 plans x 3 repeats), seeds 1, 2, ..., against the correct sandbox on each of
  ``--stores`` (memory, SQLite), and with ``--latency-ms`` added before every request (an
  adapter that sleeps, on every branch's connection) or ``--proxy-rtt-ms`` added to every round
  trip by ``_latency_proxy.py`` (the TCP proxy of ``latency.py``, a process of its own, with
  ``--proxy-jitter-ms``; each byte each way held back half the round trip, a new connection one
  round trip more). Every verdict must be conformant; the story of one that is not is saved
  under the system's temporary directory and named.
* ``d``, **the checker**: every call of ``suite.linearizability.check`` during part c (the
  phase calls it once or more per history: before and after the webhooks arrive), timed in
  wall and thread CPU time and grouped by the number of requests in the history; the largest
  histories are what issue 11's 50 ms bar is about.

    python benchmarks/races.py                          # everything: about an hour on 2 busy cores
    python benchmarks/races.py --parts a --reps 2       # the cost only
    python benchmarks/races.py --parts c,d --stores sqlite --alarm-minutes 20
    python benchmarks/races.py --parts c --latency-ms 20 --latency-only --alarm-runs 5
    python benchmarks/races.py --parts c --proxy-rtt-ms 10 --proxy-jitter-ms 4 --latency-only --alarm-runs 5
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import ATTEMPTS, FALSE_ALARMS, Target, adapter_for, footer, fresh_server, spread, table
from _latency_proxy import latency_proxy

from cxpay_conformance.embedded import embedded_server
from cxpay_conformance.server.faults import FAULTS
from cxpay_conformance.suite import USE_DEFAULT_KEY, Exchange, SuiteConfig, SuiteResult, run_suite
from cxpay_conformance.suite import races as races_module
from cxpay_conformance.suite._compat import shrinking_for_at_most
from cxpay_conformance.suite.config import PROFILE_RACES, PROFILES
from cxpay_conformance.suite.linearizability import Verdict
from cxpay_conformance.suite.report import story

PROFILE = "ci"
RACE_FAULTS = [name for name, fault in FAULTS.items() if fault.family == "linearizability"]
#: Shrinking a caught race is not what part b measures: cap it.
SHRINK_SECONDS = 5


# --- part a: what the phase adds ----------------------------------------------------------------


def timed_run(phases: tuple[str, ...], seed: int, workload: Mapping[str, Any]) -> SuiteResult:
    """One run against a fresh correct sandbox; a false alarm is noted (its story saved), and the
    run tried again, as the harness does: a run cut short by a failure would look fast."""
    for attempt in range(1, ATTEMPTS + 1):
        with embedded_server() as server:
            config = SuiteConfig.for_embedded(server, seed=seed, profile=PROFILE, phases=phases, database=None,
                                              **workload)
            result = run_suite(config)
        if result.conformant:
            return result
        path = Path(tempfile.gettempdir()) / f"cxpay-races-false-alarm-{'+'.join(phases)}-seed{seed}-{attempt}.txt"
        path.write_text(story(result) + f"\n\nreplay: {result.replay}\n")
        FALSE_ALARMS.append(f"{'+'.join(phases)}, seed {seed}: {result.failure.check if result.failure else '?'} "
                            f"(story: {path})")
        print(f"  a: FALSE ALARM ({'+'.join(phases)}, seed {seed}), story in {path}; running again", flush=True)
    raise SystemExit(f"the correct sandbox failed {ATTEMPTS} times in a row ({phases}, seed {seed})")


def part_a(args: argparse.Namespace, workload: Mapping[str, Any]) -> None:
    timed_run(("sequential",), args.seed, {**workload, "max_examples": 2, "max_steps": 3})  # warm up
    sequential: list[float] = []
    both: list[float] = []
    races = examples = 0
    for rep in range(args.reps):
        for phases, into in ((("sequential",), sequential), (("sequential", "concurrent"), both)):
            result = timed_run(phases, args.seed, workload)
            into.append(result.duration)
            if "concurrent" in phases:
                races, examples = result.races, result.examples
        print(f"  a: rep {rep + 1}/{args.reps}: sequential {sequential[-1]:.1f} s, both {both[-1]:.1f} s", flush=True)
    added = [100 * (b - s) / s for s, b in zip(sequential, both, strict=True)]
    median_added = 100 * (statistics.median(both) - statistics.median(sequential)) / statistics.median(sequential)
    print()
    print(f"(a) The {PROFILE} profile's wall time against the embedded sandbox, seed {args.seed}, {args.reps} runs "
          f"each (taken in turns): median (min-max)")
    print()
    print(table(["phases", "examples", "concurrent histories", "wall time"], [
        ["sequential only", examples, 0, spread(sequential).show(1, " s")],
        ["sequential + concurrent (default)", examples, races, spread(both).show(1, " s")],
    ]))
    print()
    verdict = "within" if median_added <= 30 else "OVER"
    print(f"Added by the concurrent phase: {median_added:.0f} % of the medians "
          f"(per pair of runs: {spread(added).show(0, ' %')}); issue 11's bar is 30 %: {verdict}.")
    print()


# --- part b: time to catch ----------------------------------------------------------------------


@dataclass(frozen=True)
class Catch:
    caught: bool
    seconds: float  # to the first failure, or the whole run when missed
    check: str | None


def catch(fault: str, seed: int, phases: tuple[str, ...], workload: Mapping[str, Any]) -> Catch:
    with embedded_server(faults=(fault,)) as server, shrinking_for_at_most(SHRINK_SECONDS):
        config = SuiteConfig.for_embedded(server, seed=seed, profile=PROFILE, phases=phases, database=None,
                                          **workload)
        result = run_suite(config)
    if result.failure is None:
        return Catch(False, result.duration, None)
    first = result.first_failure
    return Catch(True, first.seconds if first else result.duration, first.check if first else result.failure.check)


def part_b(args: argparse.Namespace, workload: Mapping[str, Any]) -> None:
    rows = []
    variants: list[tuple[tuple[str, ...], list[int]]] = [(("concurrent",), args.seeds)]
    headers = ["fault", "caught (concurrent only)", "time to catch", "check"]
    if args.default_seeds:
        variants.append((("sequential", "concurrent"), args.default_seeds))
        headers += ["caught (default phases)", "time to catch", "check"]
    for fault in args.faults:
        cells: list[str] = [f"`{fault}`"]
        for phases, seeds in variants:
            found = [catch(fault, seed, phases, workload) for seed in seeds]
            caught = [c for c in found if c.caught]
            checks = sorted({c.check for c in caught if c.check})
            cells += [f"{len(caught)}/{len(found)}",
                      spread([c.seconds for c in caught]).show(1, " s") if caught else "-",
                      ", ".join(checks) or "-"]
            runs = ", ".join(f"seed {s}: {'caught' if c.caught else 'missed'} {c.seconds:.1f} s"
                             for s, c in zip(seeds, found, strict=True))
            print(f"  b: {fault}, {'+'.join(phases)}: {runs}", flush=True)
        rows.append(cells)
    print()
    print(f"(b) Time to catch each race fault, {PROFILE} profile, against the embedded sandbox with the fault: "
          f"seconds from the start of the run to the first failing check, median (min-max) over the seeds "
          f"that caught it; concurrent phase alone with seeds {_seeds(args.seeds)}"
          + (f", both phases (the default) with seeds {_seeds(args.default_seeds)}" if args.default_seeds else ""))
    print()
    print(table(headers, rows))
    print()


def _seeds(seeds: list[int]) -> str:
    return ", ".join(str(s) for s in seeds)


# --- parts c and d: false alarms, and the checker's search --------------------------------------


@dataclass(frozen=True)
class Search:
    calls: int
    wall_ms: float
    cpu_ms: float
    explored: int
    linearizable: bool | None
    gc_ms: float  # of the CPU time: Python's garbage collector, run in this thread while the search allocated


SEARCHES: list[Search] = []


class GcClock:
    """CPU seconds each thread spent in Python's garbage collector so far (``gc.callbacks``): a
    collection runs in whichever thread allocates, and a full one over the whole heap of the
    suite is not the search's own work."""

    def __init__(self) -> None:
        self.totals: dict[int, float] = defaultdict(float)
        self._began: dict[int, float] = {}

    def __call__(self, phase: str, info: Mapping[str, int]) -> None:
        thread = threading.get_ident()
        if phase == "start":
            self._began[thread] = time.thread_time()
        elif thread in self._began:
            self.totals[thread] += time.thread_time() - self._began.pop(thread)

    def spent(self) -> float:
        return self.totals[threading.get_ident()]


@contextmanager
def timed_checker() -> Iterator[None]:
    """Time every search of the concurrent phase (races.py calls ``check`` by that name)."""
    original = races_module.check
    collector = GcClock()

    def timed(calls: Any, initial: Any, model: Any, **options: Any) -> Verdict:
        collected = collector.spent()
        wall, cpu = time.perf_counter(), time.thread_time()
        verdict = original(calls, initial, model, **options)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        SEARCHES.append(Search(len(calls), 1000 * wall, 1000 * cpu, verdict.explored, verdict.linearizable,
                               1000 * (collector.spent() - collected)))
        return verdict

    races_module.check = timed
    gc.callbacks.append(collector)
    try:
        yield
    finally:
        races_module.check = original
        gc.callbacks.remove(collector)


class LatentAdapter:
    """An adapter that waits ``delay`` seconds before every request, on every connection it forks
    (a sandbox behind a slow network, as the concurrent phase's branches each see it)."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner, self.delay = inner, delay
        self.api_key = inner.api_key

    def fork(self) -> LatentAdapter:
        return LatentAdapter(self.inner.fork(), self.delay)

    def perform(self, operation_id: str, object_id: str | None = None, body: Any = None, *,
                api_key: Any = USE_DEFAULT_KEY, idempotency_key: str | None = None,
                query: Mapping[str, str | int] | None = None) -> Exchange:
        time.sleep(self.delay)
        return self.inner.perform(operation_id, object_id, body, api_key=api_key,
                                  idempotency_key=idempotency_key, query=query)

    def close(self) -> None:
        self.inner.close()


@dataclass(frozen=True)
class Latency:
    """What part c adds between the suite and the sandbox: a sleep before each request in the
    adapter (``sleep_ms``), or a round trip of ``rtt_ms`` (jitter ``jitter_ms``) through the proxy."""

    sleep_ms: float = 0.0
    rtt_ms: float = 0.0
    jitter_ms: float = 0.0

    def __str__(self) -> str:
        if self.rtt_ms:
            return f"proxy {self.rtt_ms:g} ms round trip" + (f" +-{self.jitter_ms / 2:g}" if self.jitter_ms else "")
        return f"{self.sleep_ms:g} ms before each request" if self.sleep_ms else "0 ms"

    @property
    def tag(self) -> str:
        return f"rtt{self.rtt_ms:g}ms" if self.rtt_ms else f"{self.sleep_ms:g}ms"


@contextmanager
def proxied(target: Target, latency: Latency, seed: int) -> Iterator[Target]:
    """``target``, or the same server behind the latency proxy when ``latency`` says so."""
    if not latency.rtt_ms:
        yield target
        return
    port = int(target.base_url.rsplit(":", 1)[1].split("/", 1)[0])
    with latency_proxy(port, latency.rtt_ms, latency.jitter_ms, seed) as proxy:
        yield Target(target.mode, f"http://127.0.0.1:{proxy.port}", target.api_key, target.second_api_key,
                     target.transport)


def alarm_run(store: str, seed: int, latency: Latency, workload: Mapping[str, Any]) -> tuple[SuiteResult, float]:
    mode = "sqlite" if store == "sqlite" else "loopback"
    with fresh_server(mode) as direct, proxied(direct, latency, seed) as target:
        adapter: Any = adapter_for(target)
        latency_ms = latency.sleep_ms
        if latency_ms:
            adapter = LatentAdapter(adapter, latency_ms / 1000)
        config = SuiteConfig(base_url=target.base_url, api_key=target.api_key, second_api_key=target.second_api_key,
                             seed=seed, profile=PROFILE, phases=("concurrent",), database=None, **workload)
        started = time.perf_counter()
        result = run_suite(config, adapter=adapter)
        return result, time.perf_counter() - started


def part_c(args: argparse.Namespace, workload: Mapping[str, Any]) -> None:
    rows = []
    variants = [] if args.latency_only else [(store, Latency()) for store in args.stores]
    variants += [(store, Latency(sleep_ms=args.latency_ms)) for store in args.stores if args.latency_ms]
    variants += [(store, Latency(rtt_ms=args.proxy_rtt_ms, jitter_ms=args.proxy_jitter_ms))
                 for store in args.stores if args.proxy_rtt_ms]
    started = time.monotonic()
    for store, latency in variants:
        alarms: list[str] = []
        durations: list[float] = []
        histories = 0
        for seed in range(1, args.alarm_runs + 1):
            if args.alarm_minutes and time.monotonic() > started + 60 * args.alarm_minutes:
                print(f"  c: {store}, {latency}: --alarm-minutes spent after {seed - 1} runs", flush=True)
                break
            result, seconds = alarm_run(store, seed, latency, workload)
            durations.append(seconds)
            histories += result.races
            print(f"  c: {store}, {latency}, seed {seed}: {result.races} histories in {seconds:.1f} s, "
                  f"{'conformant' if result.conformant else 'NOT conformant'}", flush=True)
            if not result.conformant:
                path = Path(tempfile.gettempdir()) / f"cxpay-races-false-alarm-{store}-{latency.tag}-seed{seed}.txt"
                path.write_text(story(result) + f"\n\nreplay: {result.replay}\n")
                alarms.append(f"seed {seed}: {result.failure.check if result.failure else '?'} ({path})")
                print(f"  c: FALSE ALARM, {store}, {latency}, seed {seed}: story in {path}", flush=True)
        print(f"  c: {store}, {latency}: {len(durations)} runs, {len(alarms)} false alarms", flush=True)
        rows.append([store, str(latency), len(durations), histories, spread(durations).show(1, " s"),
                     f"**{len(alarms)}**" + (": " + "; ".join(alarms) if alarms else "")])
    print()
    print(f"(c) False alarms: the concurrent phase alone, {PROFILE} profile, against the correct sandbox, "
          f"seeds 1, 2, ... (one per run)")
    print()
    print(table(["store", "added latency", "runs", "histories checked", "wall time per run", "false alarms"], rows))
    print()


def part_d() -> None:
    by_size: dict[int, list[Search]] = defaultdict(list)
    for search in SEARCHES:
        by_size[search.calls].append(search)
    rows = []
    for size in sorted(by_size, reverse=True):
        found = by_size[size]
        rows.append([size, len(found), spread([s.explored for s in found]).show(0),
                     f"{statistics.median(s.cpu_ms for s in found):.2f}", f"{max(s.cpu_ms for s in found):.2f}",
                     f"{statistics.median(s.wall_ms for s in found):.2f}", f"{max(s.wall_ms for s in found):.2f}",
                     f"{max(s.gc_ms for s in found):.2f}", f"{max(s.cpu_ms - s.gc_ms for s in found):.2f}"])
    print(f"(d) The checker's searches during part c ({len(SEARCHES)} in all), by requests in the history, "
          f"largest first")
    print()
    print(table(["requests", "searches", "states searched: median (range)", "CPU median ms", "CPU max ms",
                 "wall median ms", "wall max ms", "GC max ms", "CPU less GC max ms"], rows))
    if SEARCHES:
        largest = max(by_size)
        worst_cpu = max(s.cpu_ms for s in by_size[largest])
        worst_wall = max(s.wall_ms for s in by_size[largest])
        print()
        print(f"Largest history: {largest} requests; its slowest search {worst_cpu:.1f} ms of CPU "
              f"({worst_wall:.1f} ms wall, which other jobs on the machine inflate); issue 11's bar, 50 ms, "
              f"judged on CPU time: {'within' if worst_cpu < 50 else 'OVER'}.")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="a,b,c,d", help="comma-separated, of a, b, c, d (default all)")
    parser.add_argument("--reps", type=int, default=3, help="part a: runs of each variant (default 3)")
    parser.add_argument("--seed", type=int, default=1234, help="part a's seed (default 1234)")
    parser.add_argument("--seeds", default="1,2,3,4,5", help="part b, the concurrent phase alone (default 1-5)")
    parser.add_argument("--default-seeds", default="1,2",
                        help="part b, both phases (default 1,2; empty: the concurrent phase alone only)")
    parser.add_argument("--faults", default=",".join(RACE_FAULTS), help="part b (default every race fault)")
    parser.add_argument("--alarm-runs", type=int, default=20, help="part c: runs per store (default 20)")
    parser.add_argument("--alarm-minutes", type=float, default=0.0,
                        help="part c: start no new run after this many minutes (default: no limit)")
    parser.add_argument("--stores", default="memory,sqlite", help="part c: comma-separated (default memory,sqlite)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="part c: also run each store with this much added before every request (default: no)")
    parser.add_argument("--proxy-rtt-ms", type=float, default=0.0,
                        help="part c: also run each store behind the latency proxy with this round trip (default: no)")
    parser.add_argument("--proxy-jitter-ms", type=float, default=0.0,
                        help="part c: the proxy's round trip varies this much (default 0)")
    parser.add_argument("--latency-only", action="store_true",
                        help="part c: only the runs with --latency-ms or --proxy-rtt-ms")
    parser.add_argument("--examples", type=int, help=f"override the {PROFILE} profile's examples (a tiny run)")
    parser.add_argument("--steps", type=int, help=f"override the {PROFILE} profile's steps (a tiny run)")
    parser.add_argument("--race-examples", type=int, help=f"override the {PROFILE} profile's concurrent test cases")
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",") if s]
    args.default_seeds = [int(s) for s in args.default_seeds.split(",") if s]
    args.faults = [f for f in args.faults.split(",") if f]
    args.stores = [s for s in args.stores.split(",") if s]
    unknown = [f for f in args.faults if f not in FAULTS]
    if unknown:
        parser.error(f"unknown fault(s) {', '.join(unknown)}; race faults: {', '.join(RACE_FAULTS)}")
    bad_stores = [s for s in args.stores if s not in ("memory", "sqlite")]
    if bad_stores:
        parser.error(f"unknown store(s) {', '.join(bad_stores)}; use memory, sqlite")
    parts = set(args.parts.split(","))
    workload = {key: value for key, value in (("max_examples", args.examples), ("max_steps", args.steps),
                                              ("race_examples", args.race_examples)) if value is not None}
    examples, steps = PROFILES[PROFILE]
    print(f"Profile {PROFILE}: {args.examples or examples} examples x {args.steps or steps} steps, then "
          f"{args.race_examples or PROFILE_RACES[PROFILE]} concurrent test cases x 3 repeats", flush=True)
    if "a" in parts:
        part_a(args, workload)
    if "b" in parts:
        part_b(args, workload)
    if "c" in parts or "d" in parts:
        with timed_checker():
            part_c(args, workload)
        if "d" in parts:
            part_d()
    print(footer())


if __name__ == "__main__":
    main()
