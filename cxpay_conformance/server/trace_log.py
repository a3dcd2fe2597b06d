"""``serve --record FILE``: the sandbox writes a trace of whatever client talks to it.

One JSON object a line, in the format ``cxpay-trace/1`` that ``cxpay-conformance check-trace``
reads (its schema is ``cxpay_conformance/trace/trace.schema.json``, docs/traces.md explains it):
a header, then one line per request (operation, object, request, answer, start and end time)
and one per webhook delivery the dispatcher made. The server writes the format itself, as it
imports nothing from the rest of the package; a test checks this writer and the suite's against
the one schema. Nothing secret is written: the merchant is named by its id, never its key; only
the ``Idempotency-Key`` and ``Content-Type`` request headers are kept; an answer's ``secret``
(a webhook endpoint's) becomes ``"[redacted]"``; deliveries are written without their signature.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxpay_conformance.server.api_errors import ApiError
from cxpay_conformance.server.config import ServerConfig
from cxpay_conformance.server.http_io import merchant_of_headers

FORMAT = "cxpay-trace/1"
KEPT_HEADERS = {"idempotency-key": "Idempotency-Key", "content-type": "Content-Type"}
REDACTED = "[redacted]"

#: The routes of the contract (spec/openapi.yaml's operationIds), as this server serves them.
OPERATIONS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), operation)
    for method, pattern, operation in (
        ("POST", r"/checkout-sessions", "createCheckoutSession"),
        ("GET", r"/checkout-sessions/(?P<id>[^/]+)", "getCheckoutSession"),
        ("POST", r"/checkout-sessions/(?P<id>[^/]+)/expire", "expireCheckoutSession"),
        ("GET", r"/payment-intents/(?P<id>[^/]+)", "getPaymentIntent"),
        ("POST", r"/payment-intents/(?P<id>[^/]+)/cancel", "cancelPaymentIntent"),
        ("GET", r"/charges/(?P<id>[^/]+)", "getCharge"),
        ("GET", r"/events", "listEvents"),
        ("POST", r"/webhook-endpoints", "createWebhookEndpoint"),
        ("DELETE", r"/webhook-endpoints/(?P<id>[^/]+)", "deleteWebhookEndpoint"),
        ("POST", r"/test-helpers/checkout-sessions/(?P<id>[^/]+)/pay", "payCheckoutSession"),
        ("POST", r"/test-helpers/payment-intents/(?P<id>[^/]+)/authenticate", "authenticatePaymentIntent"),
        ("POST", r"/test-helpers/charges/(?P<id>[^/]+)/network-response", "respondToCharge"),
        ("POST", r"/test-helpers/clock/advance", "advanceTestClock"),
    )
)


def operation_of(method: str, path: str) -> tuple[str | None, str | None]:
    """The operationId and the ``{id}`` of a request, or (None, None) off the contract."""
    for verb, pattern, operation in OPERATIONS:
        found = pattern.fullmatch(path)
        if verb == method and found:
            return operation, found.groupdict().get("id")
    return None, None


def _redacted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: (REDACTED if k == "secret" and v is not None else _redacted(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"non_json_body": raw[:500].decode("utf-8", "replace")}


class TraceLog:
    """The file a sandbox writes its trace to (thread-safe; the dispatcher writes from its task)."""

    def __init__(self, path: str | Path, config: ServerConfig) -> None:
        self.config = config
        self._file: IO[str] = Path(path).open("w", encoding="utf-8")  # noqa: SIM115 - open while serving
        self._lock = threading.Lock()
        self._write({"kind": "trace", "format": FORMAT, "source": "serve", "started_at": time.time(),
                     "tool": "cxpay-conformance sandbox"})

    def _write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
                self._file.flush()

    def exchange(self, method: str, path: str, query: str, headers: Headers, body: bytes, status: int,
                 answer: bytes, started: float, ended: float) -> None:
        operation, object_id = operation_of(method, path)
        try:
            merchant: str | None = merchant_of_headers(headers, self.config)
            auth = "merchant"
        except ApiError as error:
            merchant, auth = None, "missing" if error.code == "api_key_missing" else "invalid"
        self._write({
            "kind": "exchange", "operation": operation, "object": object_id, "merchant": merchant, "auth": auth,
            "request": {"method": method, "path": path, "query": dict(parse_qsl(query)),
                        "headers": {KEPT_HEADERS[k]: v for k, v in headers.items() if k in KEPT_HEADERS},
                        "body": _json(body)},
            "response": {"status": status, "body": _redacted(_json(answer))},
            "started_at": started, "ended_at": ended,
        })

    def webhook(self, merchant: str, event: Mapping[str, Any], endpoint: str, status: int | None) -> None:
        """One delivery attempt: the event sent to ``endpoint`` and its answer (None: none came)."""
        self._write({"kind": "webhook", "at": time.time(), "event": _redacted(dict(event)),
                     "merchant": merchant, "endpoint": endpoint, "status": status})

    def close(self) -> None:
        with self._lock:
            self._file.close()


class TraceMiddleware:
    """ASGI middleware that writes every HTTP request and its answer to a :class:`TraceLog`."""

    def __init__(self, app: ASGIApp, trace: TraceLog) -> None:
        self.app = app
        self.trace = trace

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.time()
        sent_body: list[bytes] = []
        answer: list[bytes] = []
        status = 500

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                sent_body.append(message.get("body", b""))
            return message

        async def send_and_keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                answer.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_and_keep, send_and_keep)
        finally:
            self.trace.exchange(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
                                Headers(scope=scope), b"".join(sent_body), status, b"".join(answer),
                                started, time.time())
