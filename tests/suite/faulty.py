"""Deliberately faulty CX Pay implementations, made here, for proving that each check catches one.

A faulty variant is the reference server (``create_app``) behind a small ASGI middleware that
corrupts one thing: it may rewrite a request before the server sees it, answer a request
itself, or rewrite the server's answer. :func:`serve` runs it with uvicorn on a loopback port in
a thread, as ``server/runner.py`` does for the real thing, so the suite, the CLI, the pytest
plugin and the reproduction script all reach it over HTTP like any implementation.

These faults are independent of the server's own fault catalogue on purpose: the suite's tests
must not depend on the implementation under test to break itself.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn

from cxpay_conformance.server import DEFAULT_API_KEYS, ServerConfig, create_app
from cxpay_conformance.server.runner import base_url_of, bind_socket

FIRST_KEY, SECOND_KEY = list(DEFAULT_API_KEYS)
_AN_ID = re.compile(r"(cs|pi|ch|we)_[A-Za-z0-9]{16,}")


@dataclass(frozen=True)
class Seen:
    """A request as the middleware saw it (header names in lower case; ``query``, the raw query
    string)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""


@dataclass(frozen=True)
class Answer:
    """An answer: status, parsed JSON body and headers (header names in lower case)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """What one faulty variant does differently from the reference server.

    ``request`` may rewrite a request, or answer it itself (return an :class:`Answer`);
    ``response`` may rewrite the reference server's JSON answer.
    """

    name: str
    request: Callable[[Seen], Seen | Answer] = lambda seen: seen
    response: Callable[[Seen, Answer], Answer] = lambda seen, answer: answer


class Corrupting:
    """ASGI middleware applying a :class:`Fault` around an ASGI app."""

    def __init__(self, app: Any, fault: Fault) -> None:
        self.app = app
        self.fault = fault

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        seen = Seen(scope["method"], scope["path"], headers, b"".join(chunks),
                    scope.get("query_string", b"").decode("latin-1"))
        decided = self.fault.request(seen)
        if isinstance(decided, Answer):
            await _send(send, decided)
            return
        seen = decided
        scope = {**scope, "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in seen.headers.items()]}
        delivered = False

        async def replay_body() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": seen.body, "more_body": False}
            return await receive()

        started: dict[str, Any] = {}
        body: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(scope, replay_body, capture)
        answer_headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in started.get("headers", [])}
        raw = b"".join(body)
        try:
            parsed = json.loads(raw)
        except ValueError:
            await send(started)
            await send({"type": "http.response.body", "body": raw})
            return
        answer = self.fault.response(seen, Answer(started["status"], parsed, answer_headers))
        await _send(send, answer)


async def _send(send: Any, answer: Answer) -> None:
    payload = json.dumps(answer.body, separators=(",", ":")).encode()
    headers = {k: v for k, v in answer.headers.items() if k not in ("content-length", "content-type")}
    headers["content-type"] = "application/json"
    headers["content-length"] = str(len(payload))
    await send({"type": "http.response.start", "status": answer.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]})
    await send({"type": "http.response.body", "body": payload})


@dataclass(frozen=True)
class Running:
    """A faulty variant answering at ``base_url``, with the reference server's two merchants."""

    base_url: str
    fault_name: str = ""
    api_key: str = FIRST_KEY
    second_api_key: str = SECOND_KEY


@contextmanager
def serve(fault: Fault | None) -> Iterator[Running]:
    """The reference server with ``fault`` (None: no fault) on a free loopback port."""
    app = create_app(ServerConfig(log_requests=False))
    wrapped = Corrupting(app, fault) if fault is not None else app
    sock = bind_socket("127.0.0.1", 0)
    try:
        server = uvicorn.Server(uvicorn.Config(wrapped, log_level="warning", access_log=False, lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                  name=f"faulty-{fault.name if fault else 'none'}")
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the faulty server did not start"
            time.sleep(0.01)
        try:
            yield Running(base_url_of(sock), fault.name if fault is not None else "")
        finally:
            server.should_exit = True
            thread.join(timeout=30)
    finally:
        sock.close()


# --- the variants, one per check family -------------------------------------------------------


def _object_path(seen: Seen, prefix: str) -> bool:
    return seen.path.startswith(prefix) and seen.path.count("/") == 2


def _rejected_as_bad_request(seen: Seen, answer: Answer) -> Answer:
    # 400 with a code the contract documents for 400, so that the answer stays valid
    # OpenAPI and only the status check can see that it should have been 409 invalid_state.
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    if answer.status == 409 and isinstance(error, dict) and error.get("code") == "invalid_state":
        return replace(answer, status=400, body={"error": {**error, "code": "parameter_invalid"}})
    return answer


def _pay_reports_wrong_status(seen: Seen, answer: Answer) -> Answer:
    if seen.path.endswith("/pay") and answer.status == 200:
        swapped = {"processing": "requires_action", "requires_action": "processing"}
        status = answer.body["status"]
        return replace(answer, body={**answer.body, "status": swapped.get(status, "processing")})
    return answer


def _stale_payment_intents() -> Callable[[Seen, Answer], Answer]:
    first_status: dict[str, str] = {}

    def stale(seen: Seen, answer: Answer) -> Answer:
        if seen.method == "GET" and _object_path(seen, "/payment-intents/") and answer.status == 200:
            status = first_status.setdefault(answer.body["id"], answer.body["status"])
            return replace(answer, body={**answer.body, "status": status})
        return answer

    return stale


def _charge_amount_differs(seen: Seen, answer: Answer) -> Answer:
    if seen.method == "GET" and _object_path(seen, "/charges/") and answer.status == 200:
        return replace(answer, body={**answer.body, "amount": answer.body["amount"] + 1})
    return answer


def _reads_without_created(seen: Seen, answer: Answer) -> Answer:
    # Only reads: the suite sets its model's clock from `created` in the creating answer, so
    # dropping it there too would also break the state check once openapi is skipped.
    if seen.method == "GET" and answer.status == 200 and isinstance(answer.body, dict) and "created" in answer.body:
        return replace(answer, body={k: v for k, v in answer.body.items() if k != "created"})
    return answer


def _swallowed_registration() -> Callable[[Seen], Seen | Answer]:
    """Pretend to register the endpoint and never tell the server, so nothing is delivered;
    the endpoint exists for its merchant only as far as deleting it goes."""
    swallowed: dict[str, str] = {}  # endpoint id -> the key that registered it
    missing = Answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                     "message": "No such webhook endpoint.", "param": None}})

    def swallow(seen: Seen) -> Seen | Answer:
        key = seen.headers.get("authorization", "")
        if seen.method == "POST" and seen.path == "/webhook-endpoints":
            endpoint = f"we_swallowed{len(swallowed):012d}"
            swallowed[endpoint] = key
            return Answer(200, {"id": endpoint, "object": "webhook_endpoint", "url": json.loads(seen.body)["url"],
                                "secret": "whsec_swallowed", "created": 0})
        endpoint = seen.path.removeprefix("/webhook-endpoints/")
        if seen.method == "DELETE" and endpoint in swallowed:
            if swallowed[endpoint] != key:
                return missing
            del swallowed[endpoint]
            return Answer(200, {"id": endpoint, "object": "webhook_endpoint", "deleted": True})
        return seen

    return swallow


def _wrong_secret(seen: Seen, answer: Answer) -> Answer:
    if seen.path == "/webhook-endpoints" and answer.status == 200:
        return replace(answer, body={**answer.body, "secret": "whsec_not_the_signing_secret"})
    return answer


def _replays_differ(seen: Seen, answer: Answer) -> Answer:
    if answer.headers.get("idempotent-replayed") == "true":
        return replace(answer, body={**answer.body, "replayed": True})
    return answer


def _no_key_not_found(seen: Seen) -> Seen | Answer:
    if "authorization" not in seen.headers:
        return Answer(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                      "message": "No such object.", "param": None}})
    return seen


def _second_merchant_acts_as_first(seen: Seen) -> Seen | Answer:
    # One account behind both keys: the second merchant sees and moves the first one's objects.
    if seen.headers.get("authorization") == f"Bearer {SECOND_KEY}":
        return replace(seen, headers={**seen.headers, "authorization": f"Bearer {FIRST_KEY}"})
    return seen


def _event_list_ends_at_its_first_page(seen: Seen, answer: Answer) -> Answer:
    # Every page of GET /events says it is the last: paging stops after the first page.
    if seen.method == "GET" and seen.path == "/events" and answer.status == 200:
        return replace(answer, body={**answer.body, "has_more": False})
    return answer


# --- variants that the suite used to miss (docs/mutation.md, "Findings beyond the score") ------


def _settles_a_second_late(delay: int) -> Callable[[Seen, Answer], Answer]:
    """A charge settles one second after its time: read back at the very second it is due
    (``delay`` after its capture), it still says succeeded. Its webhook comes on time."""
    now: dict[str, int] = {}  # the key that asked -> that merchant's test clock, as answers show it
    captured: dict[str, int] = {}  # charge id -> the clock when it was first seen succeeded

    def late(seen: Seen, answer: Answer) -> Answer:
        body = answer.body if isinstance(answer.body, dict) else {}
        key = seen.headers.get("authorization", "")
        if answer.status != 200:
            return answer
        if seen.path == "/test-helpers/clock/advance":
            now[key] = body["now"]
        elif seen.method == "POST" and seen.path == "/checkout-sessions":
            now[key] = body["created"]  # created on the clock, which only moves when advanced
        elif body.get("object") == "charge" and key in now:
            if body.get("status") == "succeeded":
                captured.setdefault(body["id"], now[key])
            elif body.get("status") == "settled" and now[key] == captured.get(body["id"], -1) + delay:
                return replace(answer, body={**body, "status": "succeeded"})
        return answer

    return late


def _lenient_idempotency_keys(longest: int) -> Callable[[Seen], Seen | Answer]:
    """An empty Idempotency-Key is taken for no key, and a longer one than ``longest``
    characters is cut to that length, instead of refusing both."""

    def lenient(seen: Seen) -> Seen | Answer:
        key = seen.headers.get("idempotency-key")
        if key is None:
            return seen
        headers = {k: v for k, v in seen.headers.items() if k != "idempotency-key"}
        if key:
            headers["idempotency-key"] = key[:longest]
        return replace(seen, headers=headers)

    return lenient


def _first_merchant_sees_the_seconds() -> Fault:
    """An ownership test that holds one way only: the first merchant reads and moves the second
    one's objects (and deletes its webhook endpoints), while the second still gets 404 for the
    first one's. The ids seen in the second merchant's answers are the ones it owns."""
    theirs: set[str] = set()
    first, second = f"Bearer {FIRST_KEY}", f"Bearer {SECOND_KEY}"

    def request(seen: Seen) -> Seen | Answer:
        if seen.headers.get("authorization") == first and theirs.intersection(seen.path.split("/")):
            return replace(seen, headers={**seen.headers, "authorization": second})
        return seen

    def response(seen: Seen, answer: Answer) -> Answer:
        if seen.headers.get("authorization") == second and isinstance(answer.body, dict):
            for value in answer.body.values():
                theirs.update(item for item in (value if isinstance(value, list) else [value])
                              if isinstance(item, str) and _AN_ID.fullmatch(item))
        return answer

    return Fault("one-way ownership", request=request, response=response)


def blind_spot(name: str) -> Fault:
    """A faulty variant that only the probes added for the mutation study's findings catch."""
    from cxpay_conformance.spec import load_spec

    spec = load_spec(None)
    faults = {
        "settlement": lambda: Fault("settlement", response=_settles_a_second_late(spec.clock["settlement_delay"])),
        "key length": lambda: Fault("key length",
                                    request=_lenient_idempotency_keys(spec.protocol.idempotency_key_length[1])),
        "one-way ownership": _first_merchant_sees_the_seconds,
    }
    return faults[name]()


def variant(family: str) -> Fault:
    """The faulty variant that the check family ``family`` must catch (a fresh one each call)."""
    faults = {
        "status": lambda: Fault("status", response=_rejected_as_bad_request),
        "response_body": lambda: Fault("response_body", response=_pay_reports_wrong_status),
        "state": lambda: Fault("state", response=_stale_payment_intents()),
        "invariants": lambda: Fault("invariants", response=_charge_amount_differs),
        "openapi": lambda: Fault("openapi", response=_reads_without_created),
        "webhooks": lambda: Fault("webhooks", request=_swallowed_registration()),
        "signatures": lambda: Fault("signatures", response=_wrong_secret),
        "idempotency": lambda: Fault("idempotency", response=_replays_differ),
        "auth": lambda: Fault("auth", request=_no_key_not_found),
        "tenant_isolation": lambda: Fault("tenant_isolation", request=_second_merchant_acts_as_first),
        "event_list": lambda: Fault("event_list", response=_event_list_ends_at_its_first_page),
    }
    return faults[family]()
