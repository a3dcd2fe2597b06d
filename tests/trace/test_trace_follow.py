"""Pages of GET /events, in a file and live (``check-trace --follow URL``), against the embedded
sandbox: a merchant's session (payments approved, declined, 3D Secure, canceled, the clock moved
on) checks clean, an altered event is caught at its line, and a sandbox with a fault of the
catalogue is caught while it is followed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cxpay_conformance.embedded import EmbeddedServer, embedded_server
from cxpay_conformance.trace import TraceChecker
from cxpay_conformance.trace.follow import EventFollower
from tests.trace.conftest import cli

SESSION = {"amount": 1234, "currency": "usd", "success_url": "https://shop.example/ok",
           "cancel_url": "https://shop.example/back"}
#: Test cards of spec/cxpay.yaml: approved, declined, 3D Secure then approved; None: not paid.
CARDS = ("4242424242424242", "4000000000000002", "4000000000003220", None)


@pytest.fixture
def sandbox() -> Iterator[EmbeddedServer]:
    with embedded_server() as server:
        yield server


def _client(server: EmbeddedServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"})


def _pay(client: httpx.Client, card: str | None) -> dict[str, Any]:
    session = client.post("/checkout-sessions", json=SESSION).json()
    if card is not None:
        intent = client.post(f"/test-helpers/checkout-sessions/{session['id']}/pay", json={"card_number": card}).json()
        if intent["status"] == "requires_action":
            intent = client.post(f"/test-helpers/payment-intents/{intent['id']}/authenticate",
                                 json={"outcome": "pass"}).json()
        if intent["status"] == "processing":  # the card network answers as the card says
            client.post(f"/test-helpers/charges/{intent['latest_charge']}/network-response")
    return session


def _pages(client: httpx.Client, limit: int = 4) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        page = client.get("/events", params={"limit": limit, **({"starting_after": after} if after else {})}).json()
        pages.append(page)
        if not page["has_more"]:
            return pages
        after = page["data"][-1]["id"]


def test_events_followed_as_they_happen_check_clean(sandbox: EmbeddedServer) -> None:
    follower = EventFollower(TraceChecker.load(), sandbox.base_url, sandbox.api_key)
    seen = []
    with _client(sandbox) as client:
        for card in CARDS:
            _pay(client, card)
            seen.append(follower.poll())  # checked as they arrive, a poll after each payment
        unpaid = _pay(client, None)
        client.post(f"/payment-intents/{unpaid['payment_intent']}/cancel")
        client.post("/test-helpers/clock/advance", json={"seconds": 200_000})  # expiries and settlements
        seen.append(follower.poll())
        total = sum(len(page["data"]) for page in _pages(client))
    follower.close()
    result = follower.result()
    assert result.violation is None, result.violation.render() if result.violation else ""
    assert all(n > 0 for n in seen) and result.events == sum(seen) == total


def test_check_trace_follow_on_the_command_line(sandbox: EmbeddedServer) -> None:
    with _client(sandbox) as client:
        for card in CARDS:
            _pay(client, card)
        total = sum(len(page["data"]) for page in _pages(client))
    done = cli("check-trace", "--follow", sandbox.base_url, "--api-key", sandbox.api_key, "--interval", "0.1",
               "--max-events", str(total))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{total} events in" in done.stdout and "clean" in done.stdout


def test_following_a_faulty_sandbox_is_caught() -> None:
    with embedded_server(("mistyped_event_type",)) as server, _client(server) as client:
        _pay(client, "4000000000000002")  # declined: the fault names the event payment_intent.failed
        done = cli("check-trace", "--follow", server.base_url, "--api-key", server.api_key, "--interval", "0.1",
                   "--max-seconds", "5")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "VIOLATION" in done.stdout and "payment_intent.failed" in done.stdout


def test_follow_needs_a_key_and_a_reachable_url() -> None:
    done = cli("check-trace", "--follow", "http://127.0.0.1:9")
    assert done.returncode == 2 and "--api-key" in done.stderr
    done = cli("check-trace", "--follow", "http://127.0.0.1:9", "--api-key", "sk_test_x", "--max-seconds", "1")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_pages_of_events_in_a_file_check_clean_and_an_altered_one_is_caught(sandbox: EmbeddedServer,
                                                                            tmp_path: Path) -> None:
    with _client(sandbox) as client:
        for card in CARDS:
            _pay(client, card)
        pages = _pages(client)
    path = tmp_path / "events.json"
    path.write_text(json.dumps(pages, indent=2))
    done = cli("check-trace", str(path))
    assert done.returncode == 0, done.stdout
    events = [event for page in pages for event in page["data"]]
    index = next(i for i, e in enumerate(events) if e["type"] == "charge.failed")
    events[index]["type"] = "charge.succeeded"
    path.write_text(json.dumps(pages, indent=2))
    line = [n for n, text in enumerate(path.read_text().split("\n"), start=1) if '"object": "event"' in text][index]
    done = cli("check-trace", str(path))
    assert done.returncode == 1, done.stdout
    assert f"{path}:{line}: check failed: event_list" in done.stdout
