"""preflight measures the round trip to the implementation (``Checked.round_trip``), what a front
end may scale its parallelism by: the fastest of its key checks, behind a delay at least the delay."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.suite import USE_DEFAULT_KEY, Exchange
from cxpay_conformance.suite.preflight import adapter_for, check_options, preflight
from tests.suite.conftest import config_for


class Delayed:
    """The HTTP adapter with ``delay`` seconds added to every request, as a network would."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner, self.delay, self.api_key = inner, delay, inner.api_key

    def perform(self, operation_id: str, object_id: str | None = None, body: Any = None, *,
                api_key: Any = USE_DEFAULT_KEY, idempotency_key: str | None = None,
                query: Mapping[str, str | int] | None = None) -> Exchange:
        started = time.perf_counter()
        time.sleep(self.delay)
        exchange = self.inner.perform(operation_id, object_id, body, api_key=api_key,
                                      idempotency_key=idempotency_key, query=query)
        return replace(exchange, elapsed=time.perf_counter() - started)

    def close(self) -> None:
        self.inner.close()


def test_preflight_answers_the_round_trip(reference: EmbeddedServer) -> None:
    config = config_for(reference)
    assert (preflight(config).round_trip or 0) > 0
    adapter = Delayed(adapter_for(config, check_options(config).contract), 0.05)
    try:
        assert (preflight(config, adapter=adapter).round_trip or 0) >= 0.05
    finally:
        adapter.close()


def test_with_one_key_the_request_is_sent_twice(reference: EmbeddedServer) -> None:
    config = replace(config_for(reference), second_api_key=None)
    adapter = adapter_for(config, check_options(config).contract)
    sent: list[str] = []
    perform = adapter.perform

    def counted(*args: Any, **kwargs: Any) -> Exchange:
        sent.append(args[0])
        return perform(*args, **kwargs)

    adapter.perform = counted  # type: ignore[method-assign]
    try:
        assert preflight(config, adapter=adapter).round_trip is not None
    finally:
        adapter.close()
    assert len(sent) == 2
