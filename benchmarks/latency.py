"""The suite behind a network: wall time of ``cxpay-conformance run`` with a round trip added.

The loopback tables elsewhere cannot show what a remote endpoint costs: there a request takes
a fraction of a millisecond, behind a network it takes the round trip, and a run that sends
one request at a time waits that round trip for each. Here the reference server runs in a
process of its own (``cxpay-conformance serve`` on a free port) behind a latency proxy
(``_latency_proxy.py``, also a process of its own) that adds a round trip with jitter to
every exchange and one more to every new connection (a TCP handshake). The suite runs as a
user runs it, ``cxpay-conformance run --base-url <proxy>`` in a process of its own, with the
default settings apart from the profile, the seed and no example database. Webhooks go from
the server straight to the suite's receiver, on loopback. ``direct`` is the same run with no
proxy at all: the loopback wall time the bar compares with.

For each round trip, each profile and each worker count it reports the run's own wall time
(as the run prints it: spec loading and the server's start excluded), steps and requests per
minute; next to it Schemathesis's stateful phase (``--phases stateful``, one worker, the same
options as the head-to-head's) against the same proxy for a fixed time budget, and the
steps (API calls of its stateful scenarios) it made per minute.

    python benchmarks/latency.py                                   # quick and ci, direct/0/5/20/50 ms
    python benchmarks/latency.py --rtts direct,20 --profiles ci --workers 1,4,8
    python benchmarks/latency.py --rtts 20 --profiles quick --schemathesis-budget 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import _server_process, footer, spread, table
from _latency_proxy import Proxy, latency_proxy
from _schemathesis import ensure_schemathesis, schemathesis_command, schemathesis_identities

DIRECT = "direct"


@dataclass(frozen=True)
class Measured:
    """One run of the suite: the wall time it printed, and what it did."""

    seconds: float
    steps: int
    requests: int
    examples: int
    conformant: bool
    #: TCP connections the run opened through the proxy (None: no proxy); the webhook receiver's not counted.
    connections: int | None = None
    #: Workers the run ran in (report.json's).
    workers: int = 1

    @property
    def steps_per_minute(self) -> float:
        return self.steps / self.seconds * 60

    @property
    def requests_per_minute(self) -> float:
        return self.requests / self.seconds * 60


def _cli() -> list[str]:
    return [sys.executable, "-c", "from cxpay_conformance.cli import main; main()"]


@contextmanager
def _behind(rtt: str, port: int, jitter: float, seed: int) -> Iterator[Proxy]:
    """How to reach the server: at its own port (``direct``), or a proxy's with ``rtt`` ms."""
    if rtt == DIRECT:
        yield Proxy(port)
        return
    rtt_ms = float(rtt)
    with latency_proxy(port, rtt_ms, rtt_ms * jitter, seed) as proxied:
        yield proxied


def run_ours(rtt: str, profile: str, workers: str, args: argparse.Namespace) -> Measured:
    """``cxpay-conformance run`` once against a fresh server behind ``rtt``, with ``workers`` (a
    count, or ``auto``: no ``--workers``, the default); every run gets 16 merchants' pairs of keys."""
    with _server_process(pairs=16) as target, tempfile.TemporaryDirectory(prefix="cxpay-latency-") as scratch:
        port = int(target.base_url.rsplit(":", 1)[1])
        with _behind(rtt, port, args.jitter, args.seed) as proxied:
            out = Path(scratch) / "result.json"
            keys = [(target.api_key, target.second_api_key), *target.more_merchants]
            command = [*_cli(), "run", "--base-url", f"http://127.0.0.1:{proxied.port}",
                       "--api-key", ",".join(k for k, _ in keys), "--second-api-key", ",".join(s for _, s in keys),
                       "--profile", profile, "--seed", str(args.seed),
                       "--no-database", "--report-dir", str(Path(scratch) / "report"), "--json", str(out)]
            if workers != "auto":
                command += ["--workers", workers]
            if args.examples:
                command += ["--max-examples", str(args.examples)]
            if args.steps:
                command += ["--max-steps", str(args.steps)]
            done = subprocess.run(command, capture_output=True, text=True, timeout=3600,
                                  env={**os.environ, "COLUMNS": "200"})
            if not out.exists():
                raise SystemExit(f"the run wrote no result (exit {done.returncode}): {' '.join(command)}\n"
                                 f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
            result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if not result["conformant"]:
        print(f"  FALSE ALARM ({rtt} ms, {profile}, {workers} workers): {result['failure']['message'][:300]}",
              flush=True)
    return Measured(result["duration_seconds"], result["steps"], result["requests"], result["examples"],
                    result["conformant"], proxied.connections, result.get("workers", 1))


@dataclass(frozen=True)
class TheirStateful:
    """One run of Schemathesis's stateful phase: wall time, scenarios and their API calls."""

    seconds: float
    scenarios: int
    calls: int

    @property
    def steps_per_minute(self) -> float:
        return self.calls / self.seconds * 60


def run_schemathesis_stateful(rtt: str, budget: int, seed: int, jitter: float) -> TheirStateful:
    """Schemathesis's stateful phase alone against a fresh server behind ``rtt``, for ``budget`` s."""
    with _server_process() as target, tempfile.TemporaryDirectory(prefix="cxpay-latency-st-") as scratch:
        port = int(target.base_url.rsplit(":", 1)[1])
        with _behind(rtt, port, jitter, seed) as proxied:
            workdir = Path(scratch)
            config = schemathesis_identities(workdir, target.api_key, target.second_api_key)
            report = workdir / "events.ndjson"
            command = schemathesis_command(str(config), f"http://127.0.0.1:{proxied.port}", budget, seed, str(report))
            # Its stateful phase alone; going on after a failure, so that it runs for the whole
            # budget (every POST it sends fails on the correct server: see head_to_head.py).
            command[command.index("--phases") + 1] = "stateful"
            command.append("--continue-on-failure")
            started = time.monotonic()
            subprocess.run(command, capture_output=True, text=True, cwd=workdir, timeout=budget * 4 + 120)
            seconds = time.monotonic() - started
            if not report.exists():
                raise SystemExit("Schemathesis wrote no report")
            scenarios, calls, first, last = 0, 0, None, None
            for line in report.read_text(encoding="utf-8").splitlines():
                (kind, data), = json.loads(line).items()
                if data.get("phase") != "stateful":
                    continue
                if kind == "SuiteStarted" and first is None:  # it starts again after each failure
                    first = data["timestamp"]
                elif kind == "SuiteFinished":
                    last = data["timestamp"]
                elif kind == "ScenarioFinished":
                    scenarios += data.get("status") != "skip"
                    calls += len(data.get("recorder", {}).get("interactions", {}))
            if first is not None and last is not None and last > first:
                seconds = last - first  # the stateful phase alone, without loading and probing
    return TheirStateful(seconds, scenarios, calls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rtts", default="direct,0,5,20,50",
                        help="round trips in ms, comma-separated; 'direct' is no proxy (default direct,0,5,20,50)")
    parser.add_argument("--jitter", type=float, default=0.2,
                        help="jitter as a share of the round trip (default 0.2: 20 ms +- 2 ms)")
    parser.add_argument("--profiles", default="quick,ci", help="comma-separated (default quick,ci)")
    parser.add_argument("--workers", default="1",
                        help="worker counts, comma-separated, or auto: run's default (run --workers; default 1)")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--reps", type=int, default=1, help="runs per cell (default 1)")
    parser.add_argument("--examples", type=int, default=None, help="override the profile's examples")
    parser.add_argument("--steps", type=int, default=None, help="override the profile's steps")
    parser.add_argument("--schemathesis-budget", type=int, default=30,
                        help="seconds of Schemathesis's stateful phase per round trip (0: not run; default 30)")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args()
    rtts = [r.strip() for r in args.rtts.split(",") if r.strip()]
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    workers = [w.strip() for w in args.workers.split(",") if w.strip()]

    rows: list[list[Any]] = []
    direct: dict[tuple[str, str], float] = {}
    for rtt in rtts:
        for profile in profiles:
            for count in workers:
                runs = [run_ours(rtt, profile, count, args) for _ in range(args.reps)]
                seconds = spread([r.seconds for r in runs])
                if rtt == DIRECT:
                    direct[(profile, count)] = seconds.median
                base = direct.get((profile, count)) or direct.get((profile, "1")) or direct.get((profile, "auto"))
                ratio = f"{seconds.median / base:.2f}x" if base else "-"
                last = runs[-1]
                alarms = sum(not r.conformant for r in runs)
                print(f"  {rtt} ms, {profile}, {count} workers: {seconds.show(1, ' s')}, {last.steps} steps, "
                      f"{last.requests} requests" + (f", {alarms} FALSE ALARMS" if alarms else ""), flush=True)
                shown = f"auto ({last.workers})" if count == "auto" else count
                rows.append([rtt if rtt == DIRECT else f"{rtt} ms", profile, shown, seconds.show(1, " s"), ratio,
                             last.examples, last.steps, last.requests,
                             f"{spread([r.steps_per_minute for r in runs]).median:,.0f}",
                             f"{spread([r.requests_per_minute for r in runs]).median:,.0f}",
                             f"{last.requests / max(1, last.steps):.2f}",
                             "-" if last.connections is None else last.connections])
    theirs: list[list[Any]] = []
    if args.schemathesis_budget > 0:
        version = ensure_schemathesis()
        for rtt in rtts:
            run = run_schemathesis_stateful(rtt, args.schemathesis_budget, args.seed, args.jitter)
            print(f"  Schemathesis {version} stateful, {rtt} ms: {run.calls} calls in {run.seconds:.1f} s", flush=True)
            theirs.append([rtt if rtt == DIRECT else f"{rtt} ms", f"{run.seconds:.1f} s", run.scenarios, run.calls,
                           f"{run.steps_per_minute:,.0f}"])
    output = [table(["round trip", "profile", "workers", "wall time", "vs direct", "examples", "steps",
                     "requests", "steps/min", "requests/min", "requests/step", "connections"], rows)]
    if theirs:
        output += ["", "Schemathesis's stateful phase (one worker) on the same targets:", "",
                   table(["round trip", "wall time", "scenarios", "API calls (steps)", "steps/min"], theirs)]
    output += ["", footer()]
    text = "\n".join(output)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
