"""An adapter written before GET /events was checked (no ``query`` parameter) gets a clear
usage error before the run, naming what to add or which check to skip; not a TypeError later."""

from __future__ import annotations

from typing import Any

import pytest

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.errors import UsageError
from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import Exchange, run_suite
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY
from cxpay_conformance.suite.http_adapter import HttpAdapter
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.report import story
from tests.suite.conftest import config_for


class NoQuery:
    """An adapter in the README's old shape: HTTP underneath, but perform() takes no query."""

    def __init__(self, server: EmbeddedServer) -> None:
        self.http = HttpAdapter(server.base_url, server.api_key, OpenAPIContract.load(load_spec().openapi_path))

    def perform(self, operation_id: str, object_id: str | None = None, body: Any = None, *,
                api_key: Any = USE_DEFAULT_KEY, idempotency_key: str | None = None) -> Exchange:
        return self.http.perform(operation_id, object_id, body, api_key=api_key, idempotency_key=idempotency_key)

    def close(self) -> None:
        self.http.close()


def test_an_adapter_without_query_is_told_what_to_do(reference: EmbeddedServer) -> None:
    adapter = NoQuery(reference)
    try:
        with pytest.raises(UsageError, match=r"takes no `query`.*add `query=None`.*--skip-checks event_list"):
            run_suite(config_for(reference, max_examples=2), adapter=adapter)
    finally:
        adapter.close()


def test_without_the_event_list_check_it_runs(reference: EmbeddedServer) -> None:
    adapter = NoQuery(reference)
    try:
        result = run_suite(config_for(reference, max_examples=3, skip_checks=("event_list", "auth")), adapter=adapter)
    finally:
        adapter.close()
    assert result.conformant, story(result)
