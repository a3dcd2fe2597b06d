"""Fixtures for the sandbox's tests.

One sandbox per transport ("asgi": in process through httpx's ASGI transport; "socket": over
loopback with ``run_in_thread``; "asgi+sqlite": in process, state in SQLite) serves the whole
session with a pool of merchant keys; every test takes fresh merchants from the pool, so it
starts with an empty account (no objects, no events, its own test clock) without paying for a
server start. Tests that need a server of
their own (a special store or webhook policy) start one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

import pytest

from cxpay_conformance.server import ServerConfig, WebhookPolicy
from tests.server.sandbox_client import Merchant, Transport, serve

POOL_SIZE = 2000
POOL_KEYS = [f"sk_test_pool_{index:05d}_key" for index in range(POOL_SIZE)]
FAST_WEBHOOKS = WebhookPolicy(max_attempts=5, base_delay=0.05, max_delay=0.4, timeout=2.0)
POOL_CONFIG = ServerConfig(
    api_keys={key: f"acct_pool_{index:05d}" for index, key in enumerate(POOL_KEYS)},
    webhooks=FAST_WEBHOOKS,
)
_next_key = itertools.count()


@pytest.fixture(scope="session", params=["asgi", "socket", "asgi+sqlite"])
def transport(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Transport]:
    """The sandbox in process, over a socket, and in process keeping its state in SQLite."""
    kind, _, store = str(request.param).partition("+")
    config = POOL_CONFIG
    if store == "sqlite":
        config = replace(config, db_path=str(tmp_path_factory.mktemp("pool") / "pool.sqlite3"))
    with serve(kind, config) as sandbox:
        yield sandbox


def fresh_key() -> str:
    return POOL_KEYS[next(_next_key)]


@pytest.fixture
def merchant(transport: Transport) -> Merchant:
    """A merchant seen for the first time by the sandbox."""
    return Merchant(transport, fresh_key())


@pytest.fixture
def other_merchant(transport: Transport) -> Merchant:
    return Merchant(transport, fresh_key())
