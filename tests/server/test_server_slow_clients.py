"""Clients that stop sending: one that hangs up mid-body is a quiet log line, not a server
error, and one that stalls is answered 400 once the body timeout passes."""

from __future__ import annotations

import json
import signal
import socket

from cxpay_conformance.server import ServerConfig, run_in_thread
from tests.server.sandbox_process import SandboxProcess

KEY = "sk_test_cxpay_merchant_a_0000000000000001"


def _partial_request(host: str, port: int) -> socket.socket:
    """A POST whose headers promise 100 bytes of body, of which only 10 are sent."""
    client = socket.create_connection((host, port), timeout=30)
    client.sendall(
        (
            "POST /checkout-sessions HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            f"Authorization: Bearer {KEY}\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n"
            '{"amount":'
        ).encode()
    )
    return client


def _address(base_url: str) -> tuple[str, int]:
    host, _, port = base_url.removeprefix("http://").rpartition(":")
    return host, int(port)


def test_a_client_that_hangs_up_mid_body_is_no_server_error() -> None:
    sandbox = SandboxProcess()
    try:
        for _ in range(3):
            _partial_request(*_address(sandbox.base_url)).close()
        # One complete request after them, answered as usual.
        with socket.create_connection(_address(sandbox.base_url), timeout=30) as client:
            client.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while client.recv(4096):
                pass
    finally:
        sandbox.process.send_signal(signal.SIGTERM)
        sandbox.process.wait(timeout=30)
    log = sandbox.stderr()
    assert "GET /events 401" in log
    assert "Traceback" not in log and "ClientDisconnect" not in log
    assert " 500 " not in log and "unexpected error" not in log
    assert log.count("hung up") == 3


def test_a_body_that_stalls_is_answered_400_after_the_body_timeout() -> None:
    with run_in_thread(ServerConfig(body_timeout=0.5)) as server:
        client = _partial_request(*_address(server.base_url))
        with client:
            answer = b""
            while chunk := client.recv(4096):  # the server closes the connection after it
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer
    assert b"connection: close" in head.lower()
    error = json.loads(body)["error"]
    assert error["code"] == "body_invalid" and "0.5 seconds" in error["message"]
