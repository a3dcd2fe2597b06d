"""One log line per request: method, path, status and duration, on the
``cxpay_conformance.server.requests`` logger (``cxpay-conformance serve`` prints it)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_log = logging.getLogger("cxpay_conformance.server.requests")


class RequestLog:
    """ASGI middleware that logs each HTTP request once it has answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            _log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed)
