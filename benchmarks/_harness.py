"""What every benchmark shares: the two ways of reaching the reference server, a recording
adapter, repetition statistics, a description of the machine, and Markdown tables.

The two targets every benchmark runs by default:

* ``loopback``: the embedded reference server (uvicorn on a free 127.0.0.1 port, in a thread
  of this process), exactly what ``cxpay-conformance run`` tests when given no URL.
* ``in-process``: the same Starlette app, with its lifespan, driven through
  :class:`~_inprocess.ThreadedASGITransport`: no socket, no HTTP parsing, no uvicorn.

And two more, on request (``--modes``), to see how the server's cost moves the numbers:

* ``subprocess``: ``cxpay-conformance serve`` in a process of its own, on loopback, as a real
  implementation runs: the server no longer shares this process's interpreter lock.
* ``sqlite``: as ``loopback``, with the sandbox's SQLite store (a file in a scratch
  directory) instead of memory.

Each repetition gets a fresh server, so that every run of a seed sends the same requests.
The benchmarks import the server directly: they measure the reference implementation on
purpose, which the suite itself must never do.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import USE_DEFAULT_KEY, Exchange, HttpAdapter, SuiteConfig, run_suite
from cxpay_conformance.suite.openapi import OpenAPIContract

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _inprocess import ThreadedASGITransport

MODES = ("loopback", "in-process")
#: Also accepted by ``--modes``; not run unless asked for.
MORE_MODES = ("subprocess", "sqlite")

#: The default workload: the ``quick`` profile's shape, with a fixed seed.
SEED = 1234
EXAMPLES = 30
STEPS = 25

_INPROCESS_URL = "http://cxpay.in-process"


@dataclass(frozen=True)
class Target:
    """A fresh reference server and how to reach it."""

    mode: str
    base_url: str
    api_key: str
    second_api_key: str
    transport: httpx.BaseTransport | None
    #: Pairs of merchants beyond the first (``run --workers``: a merchant per worker).
    more_merchants: tuple[tuple[str, str], ...] = ()


@contextmanager
def fresh_server(mode: str) -> Iterator[Target]:
    """A new reference server (empty store) reachable as ``mode`` says, for the block."""
    if mode == "loopback":
        from cxpay_conformance.embedded import embedded_server

        with embedded_server() as server:
            yield Target(mode, server.base_url, server.api_key, server.second_api_key, None)
    elif mode == "in-process":
        from cxpay_conformance.server import ServerConfig, create_app

        config = ServerConfig(log_requests=False)
        first, second = list(config.api_keys)[:2]
        transport = ThreadedASGITransport(create_app(config))
        try:
            yield Target(mode, _INPROCESS_URL, first, second, transport)
        finally:
            transport.close()
    elif mode == "subprocess":
        with _server_process() as target:
            yield target
    elif mode == "sqlite":
        from cxpay_conformance.server import ServerConfig
        from cxpay_conformance.server.runner import run_in_thread

        with tempfile.TemporaryDirectory(prefix="cxpay-bench-") as scratch:
            config = ServerConfig(log_requests=False, db_path=str(Path(scratch) / "sandbox.sqlite3"))
            first, second = list(config.api_keys)[:2]
            with run_in_thread(config) as running:
                yield Target(mode, running.base_url, first, second, None)
    else:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES + MORE_MODES)}")


@contextmanager
def _server_process(pairs: int = 1) -> Iterator[Target]:
    """``cxpay-conformance serve`` in a process of its own, on a free loopback port, with ``pairs``
    pairs of merchants."""
    from cxpay_conformance.server import ServerConfig

    with socket.socket() as probe:  # a free port; the server takes it a moment later
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", "from cxpay_conformance.cli import main; main()",
               "serve", "--port", str(port), "--quiet"]
    keys = list(ServerConfig().api_keys)[:2] + [f"sk_test_bench_{n:03d}_0000000000" for n in range(2, 2 * pairs)]
    if pairs > 1:
        command += [word for key in keys for word in ("--api-key", key)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base_url + "/", timeout=0.5)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    error = server.stderr.read().decode() if server.stderr else ""
                    raise SystemExit(f"the server process did not start: {error.strip()}") from None
                time.sleep(0.05)
        first, second, *more = keys
        yield Target("subprocess", base_url, first, second, None, tuple(zip(more[::2], more[1::2], strict=True)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a connection a fuzzer left open holds its graceful shutdown
            server.kill()
            server.wait(timeout=30)


_contract: OpenAPIContract | None = None


def contract() -> OpenAPIContract:
    """The packaged OpenAPI contract (loaded once: the adapters only read its operations)."""
    global _contract
    if _contract is None:
        _contract = OpenAPIContract.load(load_spec(None).openapi_path)
    return _contract


def adapter_for(target: Target) -> HttpAdapter:
    """The suite's own HTTP adapter, pointed at ``target``."""
    return HttpAdapter(target.base_url, target.api_key, contract(),
                       key_labels={target.second_api_key: "second merchant"},
                       transport=target.transport)


# --- recording -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    """One request the suite made, and the answer it got, as the ceiling replays it."""

    operation_id: str
    object_id: str | None
    body: Any
    api_key: str | None
    idempotency_key: str | None
    status: int
    answer: Any


@dataclass
class RecordingAdapter:
    """Wraps an adapter; keeps every request in order, and the time spent inside ``perform``."""

    inner: HttpAdapter
    sent: list[Sent] = field(default_factory=list)
    seconds: float = 0.0

    def perform(self, operation_id: str, object_id: str | None = None, body: Any = None, *,
                api_key: Any = USE_DEFAULT_KEY, idempotency_key: str | None = None,
                query: Mapping[str, str | int] | None = None) -> Exchange:
        started = time.perf_counter()
        exchange = self.inner.perform(operation_id, object_id, body, api_key=api_key,
                                      idempotency_key=idempotency_key, query=query)
        self.seconds += time.perf_counter() - started
        key = self.inner.api_key if api_key is USE_DEFAULT_KEY else api_key
        self.sent.append(Sent(operation_id, object_id, body, key, idempotency_key,
                              exchange.status, exchange.answer))
        return exchange

    def close(self) -> None:
        self.inner.close()


# --- running the suite ----------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteRun:
    """One timed run of the suite: wall time around ``run_suite`` (spec loading included), and
    the CPU time of this process meanwhile (every thread: the suite, the server, the receiver)."""

    seconds: float
    cpu: float
    examples: int
    steps: int
    requests: int
    conformant: bool
    in_adapter: float = 0.0
    sent: tuple[Sent, ...] = ()

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


#: Runs of the reference server that the suite called not conformant, and why. The reference
#: server conforms, so each is a false alarm of the suite; a benchmark reports them and runs
#: the repetition again (a run cut short by a failure would look fast).
FALSE_ALARMS: list[str] = []

#: How many times a repetition is tried before the benchmark gives up.
ATTEMPTS = 3


def run_suite_once(mode: str, *, seed: int = SEED, examples: int = EXAMPLES, steps: int = STEPS,
                   record: bool = False) -> SuiteRun:
    """Run the suite once against a fresh server; ``record`` keeps the requests it sent.

    A run that fails is noted in :data:`FALSE_ALARMS` and tried again.
    """
    for _ in range(ATTEMPTS):
        run = _run_suite_once(mode, seed=seed, examples=examples, steps=steps, record=record)
        if run is not None:
            return run
    raise SystemExit(f"the suite failed the reference server {ATTEMPTS} times in a row "
                     f"({mode}, seed {seed}): {FALSE_ALARMS[-1]}")


def _run_suite_once(mode: str, *, seed: int, examples: int, steps: int,
                    record: bool) -> SuiteRun | None:
    with fresh_server(mode) as target:
        adapter: Any = adapter_for(target)
        if record:
            adapter = RecordingAdapter(adapter)
        config = SuiteConfig(base_url=target.base_url, api_key=target.api_key,
                             second_api_key=target.second_api_key, seed=seed,
                             max_examples=examples, max_steps=steps, database=None)
        started, cpu = time.perf_counter(), time.process_time()
        result = run_suite(config, adapter=adapter)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not result.conformant:
        FALSE_ALARMS.append(f"{mode}: {result.failure}")
        print(f"  false alarm ({mode}, seed {seed}), running again: {result.failure}", flush=True)
        return None
    return SuiteRun(seconds, cpu, result.examples, result.steps, result.requests, True,
                    adapter.seconds if record else 0.0, tuple(adapter.sent) if record else ())


# --- statistics and output --------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """Median and range of repeated measurements."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def show(self, digits: int = 1, unit: str = "") -> str:
        """``123.4 (118.0-130.2)``: the median, then the lowest and highest value."""
        return (f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}-{self.high:.{digits}f})"
                if len(self.values) > 1 else f"{self.median:.{digits}f}{unit}")


def spread(values: Sequence[float]) -> Spread:
    return Spread(tuple(values))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """The machine, the interpreter and the versions that matter, in one paragraph."""
    cpu = "unknown CPU"
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if ":" in line)
        info = {key.strip(): value.strip() for key, value in info.items()}
        cpu = f"{info.get('model name', 'unknown CPU')}, family {info.get('cpu family', '?')}"
        if "hypervisor" in info.get("flags", "").split():
            cpu += ", a virtual machine"
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    versions = ", ".join(f"{name} {_version(name)}" for name in
                         ("hypothesis", "httpx", "httpcore", "starlette", "uvicorn", "jsonschema", "jsonschema-rs"))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs ({cpu}), {ram} RAM; "
            f"Python {platform.python_version()} on {platform.system()} {platform.release()}; "
            f"{versions}; load average at the end {load}")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def command() -> str:
    """The command line that ran this benchmark, to print under its tables."""
    return "python " + " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])


def footer() -> str:
    """What goes under every benchmark's tables: false alarms, the machine, the command."""
    lines = []
    if FALSE_ALARMS:
        lines.append(f"False alarms (the reference server reported not conformant; run again): "
                     f"{len(FALSE_ALARMS)}")
        lines += [f"  - {alarm}" for alarm in FALSE_ALARMS]
    lines.append(f"Machine: {machine()}")
    lines.append(f"Command: {command()}")
    return "\n".join(lines)


def workload_arguments(parser: argparse.ArgumentParser, reps: int = 5) -> argparse.ArgumentParser:
    """The options of a benchmark that runs the suite's workload on each target: repetitions,
    examples, steps, seed and targets."""
    parser.add_argument("--reps", type=int, default=reps, help=f"runs per target (default {reps})")
    parser.add_argument("--examples", type=int, default=EXAMPLES)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated, of: " + ", ".join(MODES + MORE_MODES) + f" (default {','.join(MODES)})")
    return parser
