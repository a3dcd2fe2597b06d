"""A webhook receiver for tests: an HTTP server on loopback that records every delivery and
fails the first ``failures`` attempts of each event id (500), optionally hanging on the first
one past the sender's timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    at: float  # wall-clock time of arrival
    signature: str
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class WebhookReceiver:
    def __init__(self, failures: int = 0, hang_first_for: float = 0.0) -> None:
        self.failures = failures
        self.hang_first_for = hang_first_for
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrived = time.time()
                event_id = json.loads(body).get("id", "")
                with receiver._lock:
                    attempt = receiver._attempts.get(event_id, 0) + 1
                    receiver._attempts[event_id] = attempt
                if attempt == 1 and receiver.hang_first_for:
                    time.sleep(receiver.hang_first_for)
                status = 500 if attempt <= receiver.failures else 200
                with receiver._lock:
                    receiver.received.append(
                        Received(arrived, self.headers.get("CXPay-Signature", ""), body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def accepted_ids(self) -> set[str]:
        return {r.event["id"] for r in self.snapshot() if r.answered == 200}

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait for ``condition`` (a bound on waiting, not a timed assertion)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; received so far: {self.snapshot()}")
            time.sleep(0.02)
