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
    #: Merchants beyond the first two, in pairs (a worker's key and its second merchant's key).
    more_merchants: tuple[tuple[str, str], ...] = ()


@contextmanager
def embedded_server(faults: tuple[str, ...] = (), *, pairs: int = 1) -> Iterator[EmbeddedServer]:
    """Run the reference server on a free loopback port for the ``with`` block, with ``pairs``
    pairs of merchants (``run --workers``: each worker tests as a merchant of its own).

    >>> with embedded_server() as server:
    ...     server.base_url
    'http://127.0.0.1:41234'
    """
    from cxpay_conformance.server import ServerConfig, run_in_thread
    from cxpay_conformance.server.config import DEFAULT_API_KEYS

    keys = dict(DEFAULT_API_KEYS)
    for pair in range(1, pairs):
        for side in "ab":
            keys[f"sk_test_cxpay_worker_{pair + 1}{side}_{pair:016d}"] = f"acct_worker_{pair + 1}{side}"
    config = ServerConfig(faults=frozenset(faults), log_requests=False, api_keys=keys)
    with run_in_thread(config) as running:
        first, second, *more = running.api_keys
        yield EmbeddedServer(running.base_url, first, second, tuple(zip(more[::2], more[1::2], strict=True)))
