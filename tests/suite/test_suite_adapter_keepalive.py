"""The HTTP adapter lets go of an idle connection before the server does: one kept as long as
the server keeps it (httpx's default and uvicorn's are both 5 s) can be reset under the request
sent on it at the moment the server closes it, a false "cannot reach" (seen in the concurrent
phase, whose branch connections sit idle while plans of fewer branches run)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import uvicorn

from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite.http_adapter import KEEPALIVE_EXPIRY, HttpAdapter
from cxpay_conformance.suite.openapi import OpenAPIContract


class _Answer(BaseHTTPRequestHandler):
    """Answers every GET with ``{}`` on a keep-alive connection; notes the client's port."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        body = json.dumps({}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    _Answer.ports = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_idle_connection_is_dropped_before_the_server_would_close_it(server: ThreadingHTTPServer) -> None:
    assert uvicorn.Config(app="unused:app").timeout_keep_alive > KEEPALIVE_EXPIRY  # the reference server's
    contract = OpenAPIContract.load(load_spec().openapi_path)
    adapter = HttpAdapter(f"http://127.0.0.1:{server.server_address[1]}", "sk_test", contract)
    for client in (adapter, adapter.fork()):
        try:
            client.perform("getCheckoutSession", "cs_1")
            time.sleep(KEEPALIVE_EXPIRY + 0.2)
            client.perform("getCheckoutSession", "cs_1")
        finally:
            client.close()
    first, second, fork_first, fork_second = _Answer.ports
    assert first != second  # idle longer than the expiry: a new connection, not the old one
    assert fork_first != fork_second
