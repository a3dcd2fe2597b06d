"""The HTTP adapter: the contract's operations over HTTP with httpx.

Method and path of each operation come from ``spec/openapi.yaml``. Transport failures,
timeouts and answers that are not JSON become
:class:`~cxpay_conformance.errors.ImplementationUnreachable` (exit code 3), never a traceback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from cxpay_conformance.errors import ImplementationUnreachable
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY, Exchange, _UseDefaultKey
from cxpay_conformance.suite.openapi import OpenAPIContract

#: Seconds an idle connection is kept for reuse. Below the idle timeout of common servers
#: (uvicorn and Node 5 s, nginx 75 s): a client that keeps it as long as the server (httpx's
#: default, 5 s, against uvicorn's 5 s) may send on a connection the server is closing that very
#: moment, and get the request reset (a false "cannot reach" seen once in 40 runs of the
#: concurrent phase, whose branch connections can sit idle while plans of fewer branches run).
KEEPALIVE_EXPIRY = 1.0


class HttpAdapter:
    """Performs operations against ``base_url`` with ``api_key``.

    >>> adapter = HttpAdapter("http://127.0.0.1:8000", "sk_test_...", contract)
    >>> adapter.perform("getCharge", "ch_123").status
    404
    """

    #: ``perform`` may be called from several threads at once (an httpx client is thread-safe):
    #: a read-back sends its requests together (``ConformanceMachine.read_all``).
    concurrent_reads = True

    def __init__(
        self,
        base_url: str,
        api_key: str,
        contract: OpenAPIContract,
        *,
        timeout: float = 10.0,
        key_labels: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.contract = contract
        self.key_labels = {api_key: "default", **(key_labels or {})}
        self._timeout, self._transport = timeout, transport
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                    limits=httpx.Limits(max_connections=100, max_keepalive_connections=20,
                                                        keepalive_expiry=KEEPALIVE_EXPIRY))

    def fork(self) -> HttpAdapter:
        """The same adapter on a connection of its own (the concurrent phase gives one to each
        branch, so that requests really overlap); close it when done."""
        return HttpAdapter(self.base_url, self.api_key, self.contract, timeout=self._timeout,
                           key_labels=self.key_labels, transport=self._transport)

    def perform(
        self,
        operation_id: str,
        object_id: str | None = None,
        body: Any = None,
        *,
        api_key: str | _UseDefaultKey | None = USE_DEFAULT_KEY,
        idempotency_key: str | None = None,
        query: Mapping[str, str | int] | None = None,
    ) -> Exchange:
        operation = self.contract.operations[operation_id]
        # The query goes into the path, so that a story and the reproduction script show it.
        path = operation.url_path(object_id) + (f"?{urlencode(query)}" if query else "")
        key = self.api_key if isinstance(api_key, _UseDefaultKey) else api_key
        headers = {"Accept": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        content = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        label = "none" if key is None else self.key_labels.get(key, "invalid")
        started = time.perf_counter()
        try:
            response = self._client.request(operation.method, path, content=content, headers=headers)
        except httpx.TimeoutException:
            raise ImplementationUnreachable(
                f"no answer within {self._client.timeout.read}s", request=f"{operation.method} {self.base_url}{path}"
            ) from None
        except httpx.TransportError as exc:
            raise ImplementationUnreachable(
                f"cannot reach {self.base_url} ({type(exc).__name__}: {exc}); is the implementation running?",
                request=f"{operation.method} {self.base_url}{path}",
            ) from None
        elapsed = time.perf_counter() - started
        try:
            answer = response.json()
        except ValueError:
            if response.status_code >= 500:
                # A crash is the implementation's answer, and a conformance failure, not silence.
                answer = {"non_json_answer": response.text[:500]}
                return Exchange(operation_id, operation.method, path, body, response.status_code,
                                answer, {}, label, time.perf_counter() - started)
            snippet = response.text[:200].replace("\n", " ")
            raise ImplementationUnreachable(
                f"the answer (HTTP {response.status_code}) is not JSON: {snippet!r}; "
                "is this a CX Pay implementation?",
                request=f"{operation.method} {self.base_url}{path}",
            ) from None
        sent = {k: v for k, v in headers.items() if k != "Authorization"}
        return Exchange(operation_id, operation.method, path, body, response.status_code, answer,
                        sent, label, elapsed)

    def close(self) -> None:
        self._client.close()
