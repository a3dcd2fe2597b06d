"""Running the sandbox: on a socket in a background thread (for the conformance suite and
tests), or in the foreground (for ``cxpay-conformance serve``).

Both bind the listening socket before anything else, so that a port in use is an ``OSError``
the caller can report, not a log line from deep inside uvicorn.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from cxpay_conformance.server.app import create_app
from cxpay_conformance.server.config import ServerConfig
from cxpay_conformance.server.store import Store

STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A sandbox answering at ``base_url``; ``api_keys`` are its merchants' keys, in the
    config's order."""

    base_url: str
    api_keys: tuple[str, ...]
    config: ServerConfig


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port). Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are
    # TCP, and without it every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def base_url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_server(config: ServerConfig, store: Store | None = None) -> uvicorn.Server:
    """A uvicorn server for the sandbox; its own access log is off (ours is ``log_requests``)."""
    app = create_app(config, store)
    settings = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    return uvicorn.Server(settings)


@contextmanager
def run_in_thread(
    config: ServerConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    store: Store | None = None,
) -> Iterator[RunningServer]:
    """Run a sandbox on ``host:port`` in a background thread for the ``with`` block.

    >>> with run_in_thread() as server:  # doctest: +SKIP
    ...     httpx.get(server.base_url + "/events",
    ...               headers={"Authorization": f"Bearer {server.api_keys[0]}"})

    Raises OSError when the port is taken and RuntimeError when the server does not start.
    """
    config = config or ServerConfig()
    sock = bind_socket(host, port)
    try:
        server = uvicorn_server(config, store)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="cxpay-sandbox", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError("the sandbox did not start; its log above says why")
            time.sleep(0.01)
        try:
            yield RunningServer(base_url_of(sock), tuple(config.api_keys), config)
        finally:
            server.should_exit = True
            thread.join(timeout=STARTUP_TIMEOUT)
    finally:
        sock.close()
