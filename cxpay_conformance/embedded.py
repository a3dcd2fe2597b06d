"""Start the reference server for the front ends when the user gives no URL.

This is the one place outside the server package that knows how to start it (see
ARCHITECTURE.md): the CLI's ``run`` and the pytest plugin call :func:`embedded_server` to
test the reference implementation out of the box. The suite itself never imports the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class EmbeddedServer:
    """Where the embedded reference server answers, and its two merchants' keys."""

    base_url: str
    api_key: str
    second_api_key: str


@contextmanager
def embedded_server(faults: tuple[str, ...] = ()) -> Iterator[EmbeddedServer]:
    """Run the reference server on a free loopback port for the ``with`` block.

    >>> with embedded_server() as server:
    ...     server.base_url
    'http://127.0.0.1:41234'
    """
    from cxpay_conformance.server import ServerConfig, run_in_thread

    config = ServerConfig(faults=frozenset(faults), log_requests=False) if faults else ServerConfig(log_requests=False)
    with run_in_thread(config) as running:
        first, second = running.api_keys[0], running.api_keys[1]
        yield EmbeddedServer(running.base_url, first, second)
