"""Reaching a sandbox from tests: in process (httpx's ASGI transport) or over a loopback
socket (``run_in_thread``), behind one synchronous interface, and :class:`Merchant`, a client
with one merchant's key that checks every answer against spec/openapi.yaml.

The test cards and paths are written out here from the contract, not imported from the server,
so the tests say what the contract says.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any, Protocol

import httpx
from starlette.applications import Starlette

from cxpay_conformance.server import ServerConfig, create_app, run_in_thread
from tests.server.openapi_responses import openapi

APPROVED = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
PROCESSING_ERROR = "4000000000000119"
THREE_DS_APPROVED = "4000000000003220"
THREE_DS_DECLINED = "4000008400001629"

ERROR_TYPES = {
    "parameter_invalid": "invalid_request_error",
    "parameter_missing": "invalid_request_error",
    "parameter_unknown": "invalid_request_error",
    "body_invalid": "invalid_request_error",
    "resource_missing": "invalid_request_error",
    "invalid_state": "invalid_request_error",
    "idempotency_key_reused": "idempotency_error",
    "idempotency_key_in_use": "idempotency_error",
    "api_key_missing": "authentication_error",
    "api_key_invalid": "authentication_error",
}

_NO_BODY: Any = object()
ANY_PARAM: Any = object()


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        content: bytes | None = None,
        params: Any = None,
    ) -> httpx.Response: ...


class InProcessApp:
    """A sandbox app with its lifespan (the webhook dispatcher) running on an event loop of its
    own in a background thread, reached through httpx's ASGI transport. Callable from any
    number of test threads at once."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lifespan: Any = None
        self._client: httpx.AsyncClient | None = None

    def __enter__(self) -> InProcessApp:
        self._thread.start()
        self._lifespan = self.app.router.lifespan_context(self.app)
        self._call(self._lifespan.__aenter__())
        transport = httpx.ASGITransport(app=self.app)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._client is not None
        self._call(self._client.aclose())
        self._call(self._lifespan.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        content: bytes | None = None,
        params: Any = None,
    ) -> httpx.Response:
        assert self._client is not None
        return self._call(
            self._client.request(method, path, headers=headers, content=content, params=params)
        )


class SocketServer:
    """A sandbox on a loopback socket in a background thread (``run_in_thread``)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._stack = ExitStack()
        self.base_url = ""
        self._client: httpx.Client | None = None

    def __enter__(self) -> SocketServer:
        running = self._stack.enter_context(run_in_thread(self.config))
        self.base_url = running.base_url
        self._client = self._stack.enter_context(httpx.Client(base_url=self.base_url, timeout=30))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        content: bytes | None = None,
        params: Any = None,
    ) -> httpx.Response:
        assert self._client is not None
        return self._client.request(method, path, headers=headers, content=content, params=params)


def serve(kind: str, config: ServerConfig) -> AbstractContextManager[Transport]:
    """A sandbox of ``kind`` ("asgi" or "socket") with ``config``."""
    if kind == "asgi":
        return InProcessApp(create_app(config))
    return SocketServer(config)


class Merchant:
    """One merchant's view of a sandbox. Every answer to a documented operation is checked
    against spec/openapi.yaml; :meth:`ok` and :meth:`fails` also check the status."""

    def __init__(self, transport: Transport, key: str | None) -> None:
        self.transport = transport
        self.key = key

    # --- raw calls ---------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: Any = None,
        check_openapi: bool = True,
    ) -> httpx.Response:
        all_headers = {"Authorization": f"Bearer {self.key}"} if self.key is not None else {}
        content = raw
        if body is not _NO_BODY:
            content = json.dumps(body).encode()
        if content is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        response = self.transport.request(
            method, path, headers=all_headers, content=content, params=params
        )
        assert response.headers["content-type"].startswith("application/json"), response.text
        if check_openapi:
            openapi().check_answer(method, path, response.status_code, response.json())
        return response

    def ok(self, method: str, path: str, body: Any = _NO_BODY, **kwargs: Any) -> dict[str, Any]:
        __tracebackhide__ = True
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == 200, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        result: dict[str, Any] = response.json()
        return result

    def fails(
        self,
        method: str,
        path: str,
        body: Any = _NO_BODY,
        *,
        status: int,
        code: str,
        param: Any = ANY_PARAM,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Call and check the error answer: status, code, its type, and ``param``."""
        __tracebackhide__ = True
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == status, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        error = response.json()["error"]
        assert error["code"] == code, error
        assert error["type"] == ERROR_TYPES[code], error
        assert isinstance(error["message"], str) and len(error["message"]) > 10, error
        if param is not ANY_PARAM:
            assert error["param"] == param, error
        result: dict[str, Any] = error
        return result

    # --- the operations ------------------------------------------------------------------

    def create_session(self, **fields: Any) -> dict[str, Any]:
        body = {
            "amount": 2000,
            "currency": "usd",
            "success_url": "https://shop.example/thanks",
            "cancel_url": "https://shop.example/cart",
            **fields,
        }
        return self.ok("POST", "/checkout-sessions", body)

    def session(self, session_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/checkout-sessions/{session_id}")

    def intent(self, intent_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/payment-intents/{intent_id}")

    def charge(self, charge_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/charges/{charge_id}")

    def pay(self, session_id: str, card: str) -> dict[str, Any]:
        return self.ok(
            "POST", f"/test-helpers/checkout-sessions/{session_id}/pay", {"card_number": card}
        )

    def authenticate(self, intent_id: str, outcome: str) -> dict[str, Any]:
        return self.ok(
            "POST", f"/test-helpers/payment-intents/{intent_id}/authenticate", {"outcome": outcome}
        )

    def respond(self, charge_id: str) -> dict[str, Any]:
        return self.ok("POST", f"/test-helpers/charges/{charge_id}/network-response")

    def expire(self, session_id: str) -> dict[str, Any]:
        return self.ok("POST", f"/checkout-sessions/{session_id}/expire")

    def cancel(self, intent_id: str) -> dict[str, Any]:
        return self.ok("POST", f"/payment-intents/{intent_id}/cancel")

    def advance(self, seconds: int) -> int:
        answer = self.ok("POST", "/test-helpers/clock/advance", {"seconds": seconds})
        assert answer["object"] == "test_clock"
        now: int = answer["now"]
        return now

    def add_endpoint(self, url: str) -> dict[str, Any]:
        return self.ok("POST", "/webhook-endpoints", {"url": url})

    def events(self) -> list[dict[str, Any]]:
        """All the merchant's events, oldest first, paging through ``GET /events``."""
        return list(self._all_events())

    def _all_events(self) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = self.ok("GET", "/events", params=params)
            yield from page["data"]
            if not page["has_more"]:
                return
            params["starting_after"] = page["data"][-1]["id"]

    def payment(
        self, session_id: str
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """The session, its payment intent and its charges as they are now."""
        session = self.session(session_id)
        intent = self.intent(session["payment_intent"])
        return session, intent, [self.charge(c) for c in intent["charges"]]


def statuses(merchant: Merchant, session_id: str) -> tuple[str, str, tuple[str, ...]]:
    """(session status, payment intent status, charge statuses oldest first)."""
    session, intent, charges = merchant.payment(session_id)
    return session["status"], intent["status"], tuple(c["status"] for c in charges)


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]
