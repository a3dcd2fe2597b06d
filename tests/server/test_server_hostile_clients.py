"""What a client cannot make the sandbox do: send webhooks to hosts its operator did not
allow, put a host of the client's choosing in a session's ``url``, or authenticate with two
keys at once. No test here resolves a made-up name: endpoints at such names are refused or
never owed an event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from cxpay_conformance.server import ServerConfig, WebhookPolicy, create_app, run_in_thread
from tests.server.sandbox_client import InProcessApp, Merchant, serve
from tests.server.sandbox_process import SandboxProcess
from tests.server.webhook_receiver import WebhookReceiver

KEY = "sk_test_cxpay_merchant_a_0000000000000001"
OTHER_KEY = "sk_test_cxpay_merchant_b_0000000000000002"
SESSION = {
    "amount": 1000,
    "currency": "usd",
    "success_url": "https://shop.example/ok",
    "cancel_url": "https://shop.example/cancel",
}

# --- webhook hosts ---------------------------------------------------------------------------

ALLOWED_BY_DEFAULT = [
    "http://127.0.0.1:9/hooks",
    "http://127.8.9.10/hooks",
    "http://[::1]:9/hooks",
    "http://localhost:9/hooks",
    "http://10.1.2.3/hooks",
    "https://172.20.0.5/hooks",
    "http://192.168.1.20:8080/hooks",
]
REFUSED_BY_DEFAULT = [
    "https://shop.example/hooks",  # a name: matched as written, never resolved
    "http://localhost.shop.example/hooks",
    "http://127.0.0.1.nip.io/hooks",
    "http://8.8.8.8/hooks",
    "http://[2001:db8::1]/hooks",
    "http://[::ffff:8.8.8.8]/hooks",
    "http://2130706433/hooks",  # 127.0.0.1 spelt as one number: a name, not an address
    "http://172.32.0.1/hooks",  # just outside 172.16.0.0/12
]


def test_webhooks_go_only_to_loopback_and_private_hosts_by_default(merchant: Merchant) -> None:
    for url in ALLOWED_BY_DEFAULT:
        assert merchant.add_endpoint(url)["url"] == url
    for url in REFUSED_BY_DEFAULT:
        error = merchant.fails(
            "POST", "/webhook-endpoints", {"url": url}, status=400, code="parameter_invalid", param="url"
        )
        assert "--webhook-allow-host" in error["message"], error


def test_webhook_allow_host_patterns_allow_more() -> None:
    hosts = (*WebhookPolicy().allowed_hosts, "*.shop.example", "203.0.113.0/24")
    config = ServerConfig(api_keys={KEY: "acct_a"}, webhooks=WebhookPolicy(allowed_hosts=hosts))
    with serve("asgi", config) as sandbox:
        merchant = Merchant(sandbox, KEY)  # owes no event: nothing is ever sent to these
        for url in ("https://hooks.shop.example/x", "https://HOOKS.Shop.Example/x", "http://203.0.113.9/x"):
            merchant.add_endpoint(url)
        for url in ("https://shop.example/x", "https://evil.example/x", "http://203.0.114.1/x"):
            merchant.fails("POST", "/webhook-endpoints", {"url": url}, status=400, code="parameter_invalid")


@pytest.mark.parametrize("pattern", ["", "has space", "http://shop.example", "shop.example/path"])
def test_a_bad_host_pattern_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="host pattern"):
        WebhookPolicy(allowed_hosts=(pattern,))


def test_an_endpoint_no_longer_allowed_is_never_sent_to(tmp_path: Path) -> None:
    config = ServerConfig(
        api_keys={KEY: "acct_a"},
        db_path=str(tmp_path / "s.sqlite3"),
        webhooks=WebhookPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01, timeout=2.0),
    )
    with WebhookReceiver() as receiver:
        with serve("asgi", config) as sandbox:
            Merchant(sandbox, KEY).add_endpoint(receiver.url)
        # Restarted on the same file with only "localhost" allowed: 127.0.0.1 no longer is.
        narrow = replace(config, webhooks=replace(config.webhooks, allowed_hosts=("localhost",)))
        app = create_app(narrow)
        with InProcessApp(app) as sandbox:
            Merchant(sandbox, KEY).create_session()
            store = app.state.sandbox.store
            deadline = time.monotonic() + 30
            while store.pending_deliveries() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not store.pending_deliveries()
        assert receiver.snapshot() == []


# --- the session's url -----------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[str]:
    with run_in_thread(ServerConfig()) as server:
        yield server.base_url


def test_the_session_url_never_comes_from_the_host_header(sandbox: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Host": "evil.example"}
    answer = httpx.post(sandbox + "/checkout-sessions", json=SESSION, headers=headers)
    assert answer.status_code == 200, answer.text
    session = answer.json()
    assert session["url"] == f"{sandbox}/pay/{session['id']}"


def test_public_url_is_where_the_hosted_pages_are() -> None:
    config = ServerConfig(public_url="https://sandbox.shop.example/cxpay/")
    with run_in_thread(config) as server:
        headers = {"Authorization": f"Bearer {KEY}"}
        session = httpx.post(server.base_url + "/checkout-sessions", json=SESSION, headers=headers).json()
    assert session["url"] == f"https://sandbox.shop.example/cxpay/pay/{session['id']}"


@pytest.mark.parametrize("url", ["shop.example", "ftp://shop.example", "https://", "https://x.example/?a=1"])
def test_a_bad_public_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="public URL"):
        ServerConfig(public_url=url)


# --- two keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("keys", [(KEY, KEY), (KEY, OTHER_KEY), (KEY, "nonsense")])
@pytest.mark.parametrize("path", ["/events", "/no-such-path"])
def test_two_authorization_headers_are_refused(sandbox: str, keys: tuple[str, str], path: str) -> None:
    headers = [("Authorization", f"Bearer {key}") for key in keys]
    answer = httpx.get(sandbox + path, headers=headers)
    assert answer.status_code == 401, answer.text
    error = answer.json()["error"]
    assert error["code"] == "api_key_invalid" and "2 Authorization headers" in error["message"]


def test_serve_takes_the_public_url_and_host_patterns_from_its_options() -> None:
    sandbox = SandboxProcess("--public-url", "http://sandbox.test:8000", "--webhook-allow-host", "*.shop.example")
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=30) as client:
            session = client.post("/checkout-sessions", json=SESSION).json()
            other = client.post("/webhook-endpoints", json={"url": "https://hooks.shop.example/x"})
    finally:
        sandbox.process.terminate()
        sandbox.process.wait(timeout=30)
    assert session["url"] == f"http://sandbox.test:8000/pay/{session['id']}"
    assert other.status_code == 200, other.text  # after the only events: never sent to
    assert sandbox.process.stdout is not None
    banner = "".join(sandbox.banner) + sandbox.process.stdout.read()
    assert "*.shop.example" in banner and "http://sandbox.test:8000" in banner
