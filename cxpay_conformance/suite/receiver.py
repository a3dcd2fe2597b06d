"""The suite's own webhook receiver: a small HTTP server on loopback that verifies and records.

It checks every delivery as a careful merchant would (the ``CXPay-Signature`` header:
``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` with the endpoint's secret, no older
than the tolerance) and answers 400 to a bad one, so a tampered or stale delivery is both
refused and reported. Deliveries are kept in order of arrival for the checks at quiescence.

It serves several endpoints, one path each with its own secret: the suite's main endpoint
(``/webhooks``) and the ones an example registers for a while (:meth:`WebhookReceiver.open`,
for the endpoint lifecycle and the second merchant). And it refuses a delivery on purpose when
told to (:meth:`WebhookReceiver.refuse_next`): an error status, no answer, or a reset
connection, as a merchant's server that is down does, so that the suite sees the retry that
at-least-once delivery owes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNATURE_HEADER = "CXPay-Signature"
#: The path of the suite's main endpoint, registered for the whole run.
MAIN = "/webhooks"
#: How the receiver can refuse a delivery: what it does, as a story says it.
REFUSALS = {
    "error status": "answered 503 Service Unavailable",
    "no answer": "held the request without answering, then closed the connection",
    "reset": "reset the connection (TCP RST) without answering",
}
#: How long a "no answer" refusal holds the request: an implementation that waits less sees a
#: timeout, one that waits longer a connection closed without an answer; both owe a retry.
NO_ANSWER_HOLD = 0.5


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
    #: The path of the endpoint it came to (:data:`MAIN` for the suite's own).
    endpoint: str = MAIN
    #: How the receiver refused it on purpose (a key of :data:`REFUSALS`), or empty.
    refused: str = ""
    #: The signature's ``t=`` (Unix seconds), when it has one.
    signed_at: int | None = None


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value a receiver expects for ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signed_at(header: str | None) -> int | None:
    """The ``t=`` of a signature header, or None."""
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


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
        self.secrets: dict[str, str] = {}
        self.tolerance = tolerance
        self._opened = 0
        self._refusal: tuple[str, Any] | None = None
        self._refused_ids: set[str] = set()
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
                ok, refusal = receiver._record(self.path, body, self.headers.get(SIGNATURE_HEADER))
                if refusal == "no answer":
                    time.sleep(NO_ANSWER_HOLD)
                if refusal in ("no answer", "reset"):
                    if refusal == "reset":  # close with RST: linger on, timeout 0
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                self.send_response(503 if refusal else 200 if ok else 400)
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
        """The main endpoint's URL."""
        return self.url_of(MAIN)

    def url_of(self, path: str) -> str:
        return f"http://{self.public_host}:{self._server.server_address[1]}{path}"

    @property
    def secret(self) -> str | None:
        """The main endpoint's secret (set once it is registered)."""
        return self.secrets.get(MAIN)

    @secret.setter
    def secret(self, value: str | None) -> None:
        if value is None:
            self.secrets.pop(MAIN, None)
        else:
            self.secrets[MAIN] = value

    def open(self, name: str) -> str:
        """A new endpoint path, never used before in this run, for an endpoint registered with
        the URL :meth:`url_of` gives; its deliveries are verified with ``secrets[path]``."""
        with self._lock:
            self._opened += 1
            return f"{MAIN}/{name}-{self._opened}"

    def refuse_next(self, kind: str, wanted: Any) -> None:
        """Refuse, as :data:`REFUSALS` says ``kind``, the next delivery to the main endpoint of an
        event never refused before for whose object id ``wanted(object_id)`` holds."""
        assert kind in REFUSALS, kind
        with self._lock:
            self._refusal = (kind, wanted)

    def cancel_refusal(self) -> None:
        with self._lock:
            self._refusal = None

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

    def _record(self, path: str, body: bytes, header: str | None) -> tuple[bool, str]:
        """Verify and keep one delivery; answer whether it verified and how to refuse it."""
        secret = self.secrets.get(path)
        problem = (verify(secret, body, header, now=time.time(), tolerance=self.tolerance) if secret is not None
                   else f"no endpoint of the suite is registered at {path}")
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
            endpoint=path,
            signed_at=signed_at(header),
        )
        with self._arrived:
            refusal = self._refusal
            if (refusal is not None and path == MAIN and not problem and delivery.event_id is not None
                    and delivery.event_id not in self._refused_ids and refusal[1](delivery.object_id)):
                self._refusal = None
                self._refused_ids.add(delivery.event_id)
                delivery = replace(delivery, refused=refusal[0])
            self._deliveries.append(delivery)
            self._arrived.notify_all()
            if self.on_delivery is not None:  # a trace being recorded (run --record), in arrival order
                self.on_delivery(delivery)
        return not problem, delivery.refused

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
