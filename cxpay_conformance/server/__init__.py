"""The reference CX Pay server: a stateful test-mode sandbox, written as a payment service
would be.

It keeps checkout sessions, payment intents and charges per merchant, honours the test cards,
3D Secure and the network's answers, runs a test clock per merchant (session deadlines,
settlement), records an event for every change of status and delivers it, signed, to the
merchant's webhook endpoints at least once, and replays idempotent requests. With a SQLite file
its state survives restarts. It is an independent implementation of the contract: nothing here
reads ``spec/`` or imports the model, so the conformance suite checks it against the spec
rather than the spec against itself.

>>> from cxpay_conformance.server import ServerConfig, run_in_thread
>>> with run_in_thread(ServerConfig()) as server:  # doctest: +SKIP
...     print(server.base_url, server.api_keys)
"""

from __future__ import annotations

from cxpay_conformance.server.app import create_app, open_store
from cxpay_conformance.server.config import (
    DEFAULT_API_KEYS,
    KNOWN_FAULTS,
    ServerConfig,
    WebhookPolicy,
    merchant_id_for_key,
)
from cxpay_conformance.server.runner import RunningServer, run_in_thread
from cxpay_conformance.server.store import Store, StoreError

__all__ = [
    "DEFAULT_API_KEYS",
    "KNOWN_FAULTS",
    "RunningServer",
    "ServerConfig",
    "Store",
    "StoreError",
    "WebhookPolicy",
    "create_app",
    "merchant_id_for_key",
    "open_store",
    "run_in_thread",
]
