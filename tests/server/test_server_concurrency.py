"""Many clients at once over a real socket: every change to one payment is serialised, so
racing requests end in one of the orders the spec allows, never in a mixture."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx
import pytest

from cxpay_conformance.server import run_in_thread
from tests.server.conftest import POOL_CONFIG, fresh_key
from tests.server.payment_states import now_statuses
from tests.server.sandbox_client import APPROVED, DECLINED, Merchant, event_types

ROUNDS = 8


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def base_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A sandbox on a socket, keeping state in memory or in SQLite (whose commits run in a
    worker thread, so that requests really interleave on the event loop)."""
    db = (
        str(tmp_path_factory.mktemp("race") / "race.sqlite3") if request.param == "sqlite" else None
    )
    with run_in_thread(replace(POOL_CONFIG, db_path=db)) as server:
        yield server.base_url


class OwnConnection:
    """A transport with its own connection, so that threads do not share one."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, **kwargs)


def merchant_on(base_url: str, key: str) -> Merchant:
    return Merchant(OwnConnection(base_url), key)  # type: ignore[arg-type]


def race(base_url: str, key: str, *requests: tuple[str, str, Any, dict[str, str]]) -> list[Any]:
    """Send the requests (method, path, body, headers) at once, each on its own connection,
    from threads released together by a barrier; answer the responses in order."""
    clients = [merchant_on(base_url, key) for _ in requests]
    barrier = threading.Barrier(len(requests))

    def send(index: int) -> httpx.Response:
        method, path, body, headers = requests[index]
        barrier.wait()
        return clients[index].call(method, path, body, headers=headers)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, range(len(requests))))


def test_many_clients_at_once(base_url: str) -> None:
    keys = [fresh_key() for _ in range(4)]

    def shop(key: str) -> list[str]:
        merchant = merchant_on(base_url, key)
        completed = []
        for _ in range(5):
            session_id = merchant.create_session()["id"]
            merchant.respond(merchant.pay(session_id, APPROVED)["latest_charge"])
            completed.append(merchant.session(session_id)["status"])
        return completed

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(shop, keys * 2))
    assert all(status == "complete" for statuses in results for status in statuses)
    for key in keys:
        assert len(merchant_on(base_url, key).events()) == 2 * 5 * (2 + 2 + 3)


def test_two_concurrent_pays_make_exactly_one_charge(base_url: str) -> None:
    key = fresh_key()
    for _ in range(ROUNDS):
        merchant = merchant_on(base_url, key)
        session_id = merchant.create_session()["id"]
        path = f"/test-helpers/checkout-sessions/{session_id}/pay"
        answers = race(
            base_url,
            key,
            ("POST", path, {"card_number": APPROVED}, {}),
            ("POST", path, {"card_number": DECLINED}, {}),
        )
        assert sorted(a.status_code for a in answers) == [200, 409]
        refused = next(a for a in answers if a.status_code == 409).json()["error"]
        assert refused["code"] == "invalid_state"
        intent = merchant.intent(merchant.session(session_id)["payment_intent"])
        assert len(intent["charges"]) == 1 and intent["status"] == "processing"


def test_an_expire_racing_the_network_answer_ends_in_one_order(base_url: str) -> None:
    key = fresh_key()
    for _ in range(ROUNDS):
        merchant = merchant_on(base_url, key)
        session_id = merchant.create_session()["id"]
        charge_id = merchant.pay(session_id, APPROVED)["latest_charge"]
        seen = len(merchant.events())
        expire, respond = race(
            base_url,
            key,
            ("POST", f"/checkout-sessions/{session_id}/expire", {}, {}),
            ("POST", f"/test-helpers/charges/{charge_id}/network-response", {}, {}),
        )
        final = now_statuses(merchant, session_id)
        new = event_types(merchant.events()[seen:])
        if expire.status_code == 200:
            assert respond.status_code == 409
            assert final == ("expired", "canceled", "canceled")
            assert new == ["checkout_session.expired", "payment_intent.canceled", "charge.canceled"]
        else:
            assert (expire.status_code, respond.status_code) == (409, 200)
            assert final == ("complete", "succeeded", "succeeded")
            assert new == [
                "charge.succeeded",
                "payment_intent.succeeded",
                "checkout_session.completed",
            ]


def test_two_requests_with_one_key_have_one_effect(base_url: str) -> None:
    key = fresh_key()
    body = {
        "amount": 500,
        "currency": "usd",
        "success_url": "https://shop.example/ok",
        "cancel_url": "https://shop.example/no",
    }
    for round_ in range(ROUNDS):
        headers = {"Idempotency-Key": f"same-{round_}"}
        answers = race(
            base_url, key, *[("POST", "/checkout-sessions", body, headers) for _ in range(3)]
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}
        bodies = {a.text for a in answers if a.status_code == 200}
        assert len(bodies) == 1
    created = [
        e for e in merchant_on(base_url, key).events() if e["type"] == "checkout_session.created"
    ]
    assert len(created) == ROUNDS
