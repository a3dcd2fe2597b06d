"""The ceiling: the suite's exact requests, replayed by a bare loop that checks nothing.

For each repetition, the suite runs with a fixed seed against a fresh reference server
through a recording adapter, which keeps every request in order (operation, object id, body,
key, Idempotency-Key) and its answer. A second fresh server then gets the same requests from
a plain ``httpx.Client`` loop, as fast as it can: bodies and headers are prepared before the
clock starts, and inside the loop the only work besides the request is to learn the new
server's ids for the objects that later requests name (the ids are random). The replay
registers its own do-nothing webhook receiver, so the server does the same delivery work.

The ratio suite/ceiling is ceiling time / suite time for the same requests (equivalently,
the suite's requests/s over the loop's): the share of the achievable request rate the suite
keeps while generating, predicting and checking. The CPU ratio is the same with the CPU time
of the whole process (client, server and receiver threads alike), which a busy machine
disturbs much less than the wall time. "In adapter" is the share of the suite's wall time
spent inside ``adapter.perform`` (the HTTP round trip and the server's work). The replay's
clock stops at its last answer, with webhook deliveries perhaps still in flight, which can
only flatter the ceiling.

    python benchmarks/ceiling.py                  # 30 examples x 25 steps, 5 runs per target
    python benchmarks/ceiling.py --reps 3 --modes loopback
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
from _harness import (
    Sent,
    contract,
    footer,
    fresh_server,
    run_suite_once,
    spread,
    table,
    workload_arguments,
)

Path = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request ready to send: everything that does not depend on earlier answers."""

    method: str
    path: str  # with "{id}" still in it when the request names an object
    object_id: str | None  # the recorded id, to be mapped to the new server's
    content: bytes | None
    headers: dict[str, str]
    learn: tuple[tuple[str, Path], ...]  # (recorded id, where it sits in this answer)
    status: int


def prepare(sent: list[Sent], receiver_url: str) -> list[Prepared]:
    """The replay plan: for each recorded id a later request names, where it first appeared."""
    named = {s.object_id for s in sent if s.object_id is not None}
    where: dict[str, tuple[int, Path]] = {}
    for index, item in enumerate(sent):
        for path, value in _leaves(item.answer):
            if isinstance(value, str) and value in named and value not in where:
                where[value] = (index, path)
    learn: dict[int, list[tuple[str, Path]]] = {}
    for object_id, (index, path) in where.items():
        learn.setdefault(index, []).append((object_id, path))
    plan = []
    for index, item in enumerate(sent):
        operation = contract().operations[item.operation_id]
        body = item.body
        if isinstance(body, dict) and item.operation_id == "createWebhookEndpoint":
            body = {**body, "url": receiver_url}
        headers = {"Accept": "application/json"}
        if item.api_key is not None:
            headers["Authorization"] = f"Bearer {item.api_key}"
        if item.idempotency_key is not None:
            headers["Idempotency-Key"] = item.idempotency_key
        content = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        plan.append(Prepared(operation.method, operation.path, item.object_id, content, headers,
                             tuple(learn.get(index, ())), item.status))
    return plan


def _leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def replay(plan: list[Prepared], client: httpx.Client) -> tuple[float, float, int]:
    """Send the plan as fast as possible: the seconds it took, the CPU seconds of this process
    meanwhile, and how many answers had the recorded status."""
    ids: dict[str, str] = {}
    statuses = []
    started, cpu = time.perf_counter(), time.process_time()
    for step in plan:
        path = step.path
        if step.object_id is not None:
            path = path.replace("{id}", ids.get(step.object_id, step.object_id))
        response = client.request(step.method, path, content=step.content, headers=step.headers)
        statuses.append(response.status_code)
        if step.learn:
            answer = response.json()
            for object_id, where in step.learn:
                value = answer
                for part in where:
                    value = value[part]
                ids[object_id] = value
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, sum(s == step.status for s, step in zip(statuses, plan, strict=True))


@contextmanager
def bare_receiver() -> Iterator[str]:
    """A webhook endpoint that answers 200 to anything and checks nothing."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    args = workload_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0])).parse_args()

    rows = []
    for mode in args.modes.split(","):
        run_suite_once(mode, seed=args.seed, examples=2, steps=5)  # warm up imports and caches
        suite_rates, ceiling_rates, ratios, cpu_ratios, shares = [], [], [], [], []
        requests = set()
        for _ in range(args.reps):
            run = run_suite_once(mode, seed=args.seed, examples=args.examples, steps=args.steps,
                                 record=True)
            with fresh_server(mode) as target, bare_receiver() as url:
                plan = prepare(list(run.sent), url)
                with httpx.Client(base_url=target.base_url, transport=target.transport,
                                  timeout=10.0) as client:
                    seconds, cpu, matched = replay(plan, client)
            if matched != len(plan):
                print(f"  warning: {len(plan) - matched} of {len(plan)} replayed statuses differ")
            requests.add(len(plan))
            suite_rates.append(len(plan) / run.seconds)
            ceiling_rates.append(len(plan) / seconds)
            ratios.append(seconds / run.seconds)
            cpu_ratios.append(cpu / run.cpu)
            shares.append(100 * run.in_adapter / run.seconds)
        rows.append([mode, "/".join(map(str, sorted(requests))), spread(suite_rates).show(0),
                     spread(ceiling_rates).show(0), spread(ratios).show(2),
                     spread(cpu_ratios).show(2), spread(shares).show(0, " %")])
        print(f"  {mode}: done", flush=True)
    print()
    print(f"Suite vs ceiling, seed {args.seed}, {args.examples} examples x {args.steps} steps, "
          f"{args.reps} runs each: median (min-max)")
    print()
    print(table(["target", "requests", "suite requests/s", "ceiling requests/s",
                 "ratio suite/ceiling", "CPU ratio", "suite time in adapter"], rows))
    print()
    print(footer())


if __name__ == "__main__":
    main()
