"""The Starlette application: the routes of the CX Pay API and its test helpers, the checks
every request passes in the contract's order, and the lifespan that runs the webhook
dispatcher.

A write request goes: authentication (401), the Idempotency-Key header and body size (400), the
idempotency claim (replay, 400 reused, 409 in use), the parameters (400), then the action under
the merchant's lock, where existence (404) and state (409) are checked. A read goes:
authentication, query parameters, existence. Unknown paths answer 404 and wrong methods 405,
both as JSON errors, after authentication like any other request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cxpay_conformance.server import actions, api_errors, queries
from cxpay_conformance.server.api_errors import ApiError
from cxpay_conformance.server.config import ServerConfig
from cxpay_conformance.server.dispatcher import WebhookDispatcher
from cxpay_conformance.server.faults import injected
from cxpay_conformance.server.hosted_page import hosted_page
from cxpay_conformance.server.http_io import (
    ClientGone,
    JsonResponse,
    answer_response,
    error_response,
    merchant_of,
    page_base,
    read_body,
)
from cxpay_conformance.server.idempotency import Answer, Claim, check_key, fingerprint
from cxpay_conformance.server.memory_store import MemoryStore
from cxpay_conformance.server.parameters import (
    AdvanceClockParams,
    AuthenticateParams,
    CreateEndpointParams,
    CreateSessionParams,
    ListEventsParams,
    PayParams,
    no_parameters,
    no_query,
)
from cxpay_conformance.server.request_log import RequestLog
from cxpay_conformance.server.service import Sandbox
from cxpay_conformance.server.sqlite_store import SQLiteStore
from cxpay_conformance.server.store import Store
from cxpay_conformance.server.trace_log import TraceLog, TraceMiddleware
from cxpay_conformance.server.transaction import Transaction
from cxpay_conformance.server.validation import JsonObject, parse_json_object
from cxpay_conformance.server.webhook_hosts import host_allowed

_log = logging.getLogger("cxpay_conformance.server")

P = TypeVar("P")

#: What the request log shows for a client that hung up before the answer (never sent).
CLIENT_CLOSED_REQUEST = 499


def open_store(config: ServerConfig) -> Store:
    """The store ``config`` asks for: SQLite at ``db_path``, or memory. Raises
    :class:`~.store.StoreError` when the file cannot be used."""
    return SQLiteStore(config.db_path) if config.db_path else MemoryStore()


class Api:
    """The route handlers, over one :class:`~.service.Sandbox`."""

    def __init__(self, config: ServerConfig, sandbox: Sandbox) -> None:
        self.config = config
        self.sandbox = sandbox
        self.store = sandbox.store

    # --- the two kinds of request --------------------------------------------------------

    async def _merchant(self, request: Request) -> str:
        merchant = merchant_of(request, self.config)
        await self.sandbox.see(merchant)
        return merchant

    async def _read(self, request: Request, answer: Callable[[str], dict[str, Any]]) -> Response:
        merchant = await self._merchant(request)
        return JsonResponse(answer(merchant))

    async def _write(
        self,
        request: Request,
        parse: Callable[[JsonObject | None], P],
        act: Callable[[Transaction, P], Answer],
        *,
        locked: bool = True,
    ) -> Response:
        merchant = await self._merchant(request)
        key_header = request.headers.get("idempotency-key")
        key = None if key_header is None else check_key(key_header)
        raw = await read_body(request, self.config.body_limit, self.config.body_timeout)
        claim: Claim | None = None
        if key is not None:
            claimed = self.sandbox.claim(merchant, key, fingerprint("POST", request.url.path, raw))
            if isinstance(claimed, Answer):
                return answer_response(claimed, replayed=True)
            claim = claimed
        try:
            params = self._parse(request, raw, parse)
            answer = await self.sandbox.write(
                merchant, lambda tx: act(tx, params), claim, locked=locked
            )
        finally:
            if claim is not None:
                self.sandbox.release(claim)
        return answer_response(answer)

    @staticmethod
    def _parse(request: Request, raw: bytes, parse: Callable[[JsonObject | None], P]) -> P:
        no_query(request.query_params.multi_items())
        return parse(parse_json_object(raw))

    # --- merchant API ----------------------------------------------------------------------

    async def create_session(self, request: Request) -> Response:
        base = page_base(request, self.config.public_url)
        return await self._write(
            request, CreateSessionParams.parse, lambda tx, p: actions.create_session(tx, p, base)
        )

    async def get_session(self, request: Request) -> Response:
        return await self._read_object(request, queries.get_session)

    async def expire_session(self, request: Request) -> Response:
        session_id = _id(request)
        return await self._write(
            request,
            no_parameters,
            lambda tx, _: actions.expire_session(tx, session_id),
            locked=not injected(self.config.faults, "expire_and_network_both_apply"),
        )

    async def get_intent(self, request: Request) -> Response:
        return await self._read_object(request, queries.get_intent)

    async def cancel_intent(self, request: Request) -> Response:
        intent_id = _id(request)
        return await self._write(
            request,
            no_parameters,
            lambda tx, _: actions.cancel_intent(tx, intent_id),
            locked=not injected(self.config.faults, "double_cancel_voids_twice"),
        )

    async def get_charge(self, request: Request) -> Response:
        return await self._read_object(request, queries.get_charge)

    async def list_events(self, request: Request) -> Response:
        query = request.query_params.multi_items()

        def answer(merchant: str) -> dict[str, Any]:
            return queries.list_events(
                self.store, merchant, ListEventsParams.parse(query), self.config.faults
            )

        return await self._read(request, answer)

    async def create_endpoint(self, request: Request) -> Response:
        return await self._write(request, self._allowed_endpoint, actions.create_endpoint)

    def _allowed_endpoint(self, body: JsonObject | None) -> CreateEndpointParams:
        """The endpoint's parameters, on a host this sandbox may deliver to, or a 400."""
        params = CreateEndpointParams.parse(body)
        if not host_allowed(params.url, self.config.webhooks.allowed_hosts):
            raise api_errors.webhook_host_not_allowed(params.url)
        return params

    async def delete_endpoint(self, request: Request) -> Response:
        merchant = await self._merchant(request)  # no 400 documented: query and body ignored
        endpoint_id = _id(request)
        answer = await self.sandbox.write(
            merchant, lambda tx: actions.delete_endpoint(tx, endpoint_id)
        )
        return answer_response(answer)

    async def _read_object(
        self,
        request: Request,
        query: Callable[[Store, str, str, frozenset[str]], dict[str, Any]],
    ) -> Response:
        object_id = _id(request)

        def answer(merchant: str) -> dict[str, Any]:
            # The query string is ignored: spec/openapi.yaml gives these reads no 400 answer.
            return query(self.store, merchant, object_id, self.config.faults)

        return await self._read(request, answer)

    # --- test helpers ----------------------------------------------------------------------

    async def pay(self, request: Request) -> Response:
        session_id = _id(request)
        return await self._write(
            request,
            PayParams.parse,
            lambda tx, p: actions.pay(tx, session_id, p),
            locked=not injected(self.config.faults, "no_lock_in_pay"),
        )

    async def authenticate(self, request: Request) -> Response:
        intent_id = _id(request)
        return await self._write(
            request, AuthenticateParams.parse, lambda tx, p: actions.authenticate(tx, intent_id, p)
        )

    async def answer_charge(self, request: Request) -> Response:
        charge_id = _id(request)
        return await self._write(
            request,
            no_parameters,
            lambda tx, _: actions.answer_charge(tx, charge_id),
            locked=not injected(self.config.faults, "expire_and_network_both_apply"),
        )

    async def advance_clock(self, request: Request) -> Response:
        return await self._write(request, AdvanceClockParams.parse, actions.advance_clock)

    def routes(self) -> list[Route]:
        return [
            Route("/checkout-sessions", self.create_session, methods=["POST"]),
            Route("/checkout-sessions/{id}", self.get_session, methods=["GET"]),
            Route("/checkout-sessions/{id}/expire", self.expire_session, methods=["POST"]),
            Route("/payment-intents/{id}", self.get_intent, methods=["GET"]),
            Route("/payment-intents/{id}/cancel", self.cancel_intent, methods=["POST"]),
            Route("/charges/{id}", self.get_charge, methods=["GET"]),
            Route("/events", self.list_events, methods=["GET"]),
            Route("/webhook-endpoints", self.create_endpoint, methods=["POST"]),
            Route("/webhook-endpoints/{id}", self.delete_endpoint, methods=["DELETE"]),
            Route("/test-helpers/checkout-sessions/{id}/pay", self.pay, methods=["POST"]),
            Route(
                "/test-helpers/payment-intents/{id}/authenticate",
                self.authenticate,
                methods=["POST"],
            ),
            Route(
                "/test-helpers/charges/{id}/network-response",
                self.answer_charge,
                methods=["POST"],
            ),
            Route("/test-helpers/clock/advance", self.advance_clock, methods=["POST"]),
            Route("/pay/{id}", hosted_page(self.store), methods=["GET"]),
        ]

    # --- errors ----------------------------------------------------------------------------

    async def on_api_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def on_routing_error(self, request: Request, exc: Exception) -> Response:
        """Starlette's 404 (no route) and 405 (no such method), as contract errors; a request
        without a valid key learns that first, as everywhere else."""
        assert isinstance(exc, HTTPException)
        try:
            merchant_of(request, self.config)
        except ApiError as error:
            return error_response(error)
        if exc.status_code == 405:
            allowed = tuple((exc.headers or {}).get("Allow", "").replace(" ", "").split(","))
            answer = api_errors.method_not_allowed(request.method, request.url.path, allowed)
        else:
            answer = api_errors.route_missing(request.method, request.url.path)
        return error_response(answer)

    async def on_client_gone(self, request: Request, exc: Exception) -> Response:
        """A client that hung up mid-body: a line in the log, not a server error. The answer
        reaches nobody; 499 is the status proxies log for it (nginx's "client closed")."""
        _log.info("client hung up before sending the body of %s %s", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    async def on_unexpected(self, request: Request, exc: Exception) -> Response:
        _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(api_errors.internal_error())


def _id(request: Request) -> str:
    return str(request.path_params["id"])


def create_app(config: ServerConfig | None = None, store: Store | None = None) -> Starlette:
    """The sandbox as an ASGI application.

    >>> from starlette.testclient import TestClient
    >>> with TestClient(create_app()) as client:  # doctest: +SKIP
    ...     client.get("/events", headers={"Authorization": "Bearer sk_test_..."})

    Without ``store``, the app opens the one ``config`` names (and closes it at shutdown).
    """
    config = config or ServerConfig()
    owned = store is None
    store = open_store(config) if store is None else store
    trace = TraceLog(config.trace_path, config) if config.trace_path else None
    dispatcher = WebhookDispatcher(store, config.webhooks, faults=config.faults,
                                   on_sent=trace.webhook if trace is not None else None)
    sandbox = Sandbox(config, store, on_deliveries=dispatcher.wake)
    api = Api(config, sandbox)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            if owned:
                store.close()
            if trace is not None:
                trace.close()

    app = Starlette(
        routes=api.routes(),
        lifespan=lifespan,
        exception_handlers={
            ApiError: api.on_api_error,
            ClientGone: api.on_client_gone,
            HTTPException: api.on_routing_error,
            Exception: api.on_unexpected,
        },
    )
    app.router.redirect_slashes = False
    if config.log_requests:
        app.add_middleware(RequestLog)
    if trace is not None:
        app.add_middleware(TraceMiddleware, trace=trace)
    app.state.sandbox = sandbox
    return app
