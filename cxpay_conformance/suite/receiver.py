"""The suite's own webhook receiver: a small HTTP server on loopback that verifies and records.

It checks every delivery as a careful merchant would (the ``CXPay-Signature`` header:
``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` with the endpoint's secret, no older
than the tolerance) and answers 400 to a bad one, so a tampered or stale delivery is both
refused and reported. Deliveries are kept in order of arrival for the checks at quiescence.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNATURE_HEADER = "CXPay-Signature"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST the implementation made to the receiver."""

    event_id: str | None
    type: str | None
    object_id: str | None
    body: bytes
    event: Any
    signature_ok: bool
    problem: str
    received_at: float


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value a receiver expects for ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, *, now: float, tolerance: int) -> str:
    """Why the signature ``header`` does not hold for ``body``; empty when it does."""
    if not header:
        return f"no {SIGNATURE_HEADER} header"
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts.get("t", [""])[0])
    except ValueError:
        return f"{SIGNATURE_HEADER} has no valid t=<unix seconds>: {header!r}"
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        return "the v1 signature does not match the body (wrong secret, or a tampered body)"
    if abs(now - timestamp) > tolerance:
        return f"the signature is stale: t={timestamp} is {int(now - timestamp)} s from now (limit {tolerance} s)"
    return ""


class _Server(ThreadingHTTPServer):
    """The stdlib's threading HTTP server, with a listen backlog that holds a burst of deliveries.

    The stdlib's backlog of 5 is smaller than the burst an implementation sends when one step
    changes many objects (the reference server runs up to 32 deliveries at once). Linux drops
    the connection attempts that do not fit and TCP retries them a second or more later, so a
    webhook could arrive after ``--webhook-timeout`` and be reported missing.
    """

    daemon_threads = True
    request_queue_size = 128


class WebhookReceiver:
    """Receives, verifies and records webhook deliveries on ``host:port`` (0 = a free port).

    >>> with WebhookReceiver() as receiver:
    ...     receiver.secret = "whsec_..."      # once the endpoint is registered
    ...     receiver.url                      # register this with the implementation
    'http://127.0.0.1:40123/webhooks'
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, public_host: str | None = None,
        tolerance: int = 300,
    ) -> None:
        self.secret: str | None = None
        self.tolerance = tolerance
        self._deliveries: list[Delivery] = []
        #: Told of every delivery as it arrives (``run --record`` writes it to the trace).
        self.on_delivery: Callable[[Delivery], None] | None = None
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                ok = receiver._record(body, self.headers.get(SIGNATURE_HEADER))
                self.send_response(200 if ok else 400)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _Server((host, port), Handler)
        # stop() waits for the serving loop to notice; at the stdlib's 0.5 s poll, that added
        # about 0.4 s to every run of the suite.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="cxpay-webhooks", daemon=True)
        self.public_host = public_host or host

    @property
    def url(self) -> str:
        return f"http://{self.public_host}:{self._server.server_address[1]}/webhooks"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, body: bytes, header: str | None) -> bool:
        problem = verify(self.secret or "", body, header, now=time.time(), tolerance=self.tolerance)
        try:
            event = json.loads(body)
        except ValueError:
            event, problem = None, problem or "the body is not JSON"
        data = event.get("data") if isinstance(event, dict) else None
        obj = data.get("object") if isinstance(data, dict) else None
        delivery = Delivery(
            event_id=event.get("id") if isinstance(event, dict) else None,
            type=event.get("type") if isinstance(event, dict) else None,
            object_id=obj.get("id") if isinstance(obj, dict) else None,
            body=body,
            event=event,
            signature_ok=not problem,
            problem=problem,
            received_at=time.time(),
        )
        with self._arrived:
            self._deliveries.append(delivery)
            self._arrived.notify_all()
            if self.on_delivery is not None:  # a trace being recorded (run --record), in arrival order
                self.on_delivery(delivery)
        return not problem

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        """Wait until ``predicate(deliveries)`` holds, at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not predicate(list(self._deliveries)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._arrived.wait(remaining)
        return True
