"""An in-process transport: the suite's synchronous httpx client talking to an ASGI app with
no socket in between.

httpx's own ``ASGITransport`` is asynchronous, and the suite's ``HttpAdapter`` uses the
synchronous ``httpx.Client``. :class:`ThreadedASGITransport` bridges the two the way
Starlette's ``TestClient`` does with its portal, in plain asyncio: the app runs on a private
event loop in a daemon thread (with its lifespan, so background tasks such as the sandbox's
webhook dispatcher run as they would under uvicorn), and each request is handed to that
loop and awaited from the calling thread. The request and the answer cross as bytes; nothing
of HTTP parsing, sockets or uvicorn is on the path, which is the point of measuring it.

>>> from cxpay_conformance.server import create_app
>>> with ThreadedASGITransport(create_app()) as transport:  # doctest: +SKIP
...     httpx.Client(transport=transport, base_url="http://sandbox.local").get("/events")
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

Message = dict[str, Any]


class ThreadedASGITransport(httpx.BaseTransport):
    """A synchronous httpx transport that runs ``app`` (ASGI 3) on its own event loop thread.

    Application errors become the app's own 500 answer (``raise_app_exceptions=False``), as
    they would behind a real server.
    """

    def __init__(self, app: Any, *, lifespan: bool = True) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="asgi-in-process",
                                        daemon=True)
        self._thread.start()
        self._asgi = httpx.ASGITransport(app, raise_app_exceptions=False)
        self._lifespan: _Lifespan | None = None
        self._closed = False
        if lifespan:
            self._lifespan = _Lifespan(app)
            self._call(self._lifespan.startup())

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def round_trip() -> tuple[int, httpx.Headers, bytes]:
            inner = httpx.Request(request.method, request.url, headers=request.headers,
                                  content=content)
            response = await self._asgi.handle_async_request(inner)
            return response.status_code, response.headers, await response.aread()

        status, headers, body = self._call(round_trip())
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._lifespan is not None:
                self._call(self._lifespan.shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> ThreadedASGITransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Lifespan:
    """Drives the ASGI lifespan protocol (startup, then shutdown) of one app."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def startup(self) -> None:
        loop = asyncio.get_running_loop()
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._started: asyncio.Future[None] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._task = loop.create_task(self._app(scope, self._inbox.get, self._send))
        await self._inbox.put({"type": "lifespan.startup"})
        await self._first(self._started)

    async def shutdown(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._first(self._stopped)
        await self._task

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        target = self._started if kind.startswith("lifespan.startup") else self._stopped
        if kind.endswith(".failed"):
            target.set_exception(RuntimeError(f"{kind}: {message.get('message', '')}"))
        else:
            target.set_result(None)

    async def _first(self, waiting: asyncio.Future[None]) -> None:
        """Wait for ``waiting``, or for the app to end (or fail) without answering."""
        await asyncio.wait({waiting, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if waiting.done():
            waiting.result()
            return
        self._task.result()  # raises the app's error, if any
        raise RuntimeError("the ASGI app ended its lifespan without answering")
