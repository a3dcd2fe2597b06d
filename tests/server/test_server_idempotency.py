"""Idempotency-Key: a replay answers the first answer and does nothing again; other parameters
are refused; a key still in flight answers 409; keys are per merchant and last 24 hours of the
test clock."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from cxpay_conformance.server import ServerConfig, create_app
from cxpay_conformance.server.memory_store import MemoryStore
from cxpay_conformance.server.store import UnitOfWork
from tests.server.conftest import fresh_key
from tests.server.sandbox_client import (
    APPROVED,
    DECLINED,
    InProcessApp,
    Merchant,
    event_types,
)
from tests.server.test_server_validation import GOOD_SESSION


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_a_replay_answers_the_first_answer_and_does_nothing(merchant: Merchant) -> None:
    first = merchant.call("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("order-1"))
    assert first.status_code == 200
    again = merchant.call("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("order-1"))
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    assert event_types(merchant.events()) == ["checkout_session.created", "payment_intent.created"]


def test_the_same_parameters_in_another_order_are_the_same_request(merchant: Merchant) -> None:
    body = dict(reversed(list(GOOD_SESSION.items())))
    first = merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("k"))
    raw = (
        b'{\n  "cancel_url": "https://shop.example/cart",\n'
        b' "success_url": "https://shop.example/thanks", "currency": "usd", "amount": 2000}'
    )
    assert merchant.ok("POST", "/checkout-sessions", raw=raw, headers=keyed("k")) == first
    assert merchant.ok("POST", "/checkout-sessions", body, headers=keyed("k")) == first


def test_a_replay_answers_the_first_answer_even_after_the_objects_changed(
    merchant: Merchant,
) -> None:
    session_id = merchant.create_session()["id"]
    path = f"/test-helpers/checkout-sessions/{session_id}/pay"
    paid = merchant.ok("POST", path, {"card_number": APPROVED}, headers=keyed("pay-1"))
    merchant.respond(paid["latest_charge"])
    replay = merchant.ok("POST", path, {"card_number": APPROVED}, headers=keyed("pay-1"))
    assert replay == paid and replay["status"] == "processing"
    assert merchant.intent(paid["id"])["status"] == "succeeded"
    assert len(merchant.intent(paid["id"])["charges"]) == 1


def test_an_error_answer_is_replayed_too(merchant: Merchant) -> None:
    session_id = merchant.create_session()["id"]
    merchant.expire(session_id)
    path = f"/test-helpers/checkout-sessions/{session_id}/pay"
    first = merchant.fails(
        "POST",
        path,
        {"card_number": APPROVED},
        headers=keyed("late"),
        status=409,
        code="invalid_state",
    )
    again = merchant.fails(
        "POST",
        path,
        {"card_number": APPROVED},
        headers=keyed("late"),
        status=409,
        code="invalid_state",
    )
    assert again == first


def test_a_refused_request_does_not_use_up_its_key(merchant: Merchant) -> None:
    merchant.fails(
        "POST",
        "/checkout-sessions",
        {"amount": 1},
        headers=keyed("fix-me"),
        status=400,
        code="parameter_missing",
    )
    merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("fix-me"))


def test_other_parameters_with_a_used_key_are_refused(merchant: Merchant) -> None:
    merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("k1"))
    merchant.fails(
        "POST",
        "/checkout-sessions",
        {**GOOD_SESSION, "amount": 1},
        headers=keyed("k1"),
        status=400,
        code="idempotency_key_reused",
        param=None,
    )
    session_id = merchant.events()[0]["data"]["object"]["id"]
    merchant.fails(
        "POST",
        f"/checkout-sessions/{session_id}/expire",
        headers=keyed("k1"),
        status=400,
        code="idempotency_key_reused",
    )
    assert len(merchant.events()) == 2


def test_keys_are_per_merchant(merchant: Merchant, other_merchant: Merchant) -> None:
    mine = merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("shared"))
    theirs = other_merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("shared"))
    assert theirs["id"] != mine["id"]
    other_merchant.ok(
        "POST", "/checkout-sessions", {**GOOD_SESSION, "amount": 5}, headers=keyed("other")
    )
    merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("other"))


def test_a_key_lasts_24_hours_of_the_test_clock(merchant: Merchant) -> None:
    first = merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("daily"))
    merchant.advance(86_399)
    assert merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("daily")) == first
    merchant.advance(1)
    fresh = merchant.ok(
        "POST", "/checkout-sessions", {**GOOD_SESSION, "amount": 3}, headers=keyed("daily")
    )
    assert fresh["id"] != first["id"]


def test_a_replayed_advance_moves_the_clock_once(merchant: Merchant) -> None:
    first = merchant.ok(
        "POST", "/test-helpers/clock/advance", {"seconds": 60}, headers=keyed("tick")
    )
    again = merchant.ok(
        "POST", "/test-helpers/clock/advance", {"seconds": 60}, headers=keyed("tick")
    )
    assert again == first
    assert merchant.advance(1) == first["now"] + 1


class GatedStore(MemoryStore):
    """A memory store whose next commit of a new session waits until the test opens the gate,
    so that a request is reliably in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.armed = True

    async def commit(self, work: UnitOfWork) -> None:
        if self.armed and work.sessions:
            self.armed = False
            self.entered.set()
            await asyncio.to_thread(self.gate.wait, 30)
        self.apply(work)


def test_a_key_in_flight_answers_409_and_then_replays() -> None:
    store = GatedStore()
    key_a, key_b = fresh_key(), fresh_key()
    config = ServerConfig(api_keys={key_a: "acct_a", key_b: "acct_b"})
    with InProcessApp(create_app(config, store)) as app, ThreadPoolExecutor(2) as pool:
        merchant, other = Merchant(app, key_a), Merchant(app, key_b)

        def post(who: Merchant, body: dict[str, Any]) -> httpx.Response:
            return who.call("POST", "/checkout-sessions", body, headers=keyed("in-flight"))

        first = pool.submit(post, merchant, GOOD_SESSION)
        assert store.entered.wait(30)
        merchant_in_use = post(merchant, GOOD_SESSION)
        assert merchant_in_use.status_code == 409
        error = merchant_in_use.json()["error"]
        assert (error["type"], error["code"]) == ("idempotency_error", "idempotency_key_in_use")
        other_params = post(merchant, {**GOOD_SESSION, "amount": 9})
        assert other_params.json()["error"]["code"] == "idempotency_key_reused"
        assert post(other, GOOD_SESSION).status_code == 200  # another merchant's key is its own
        assert merchant.ok("GET", "/events") == {"object": "list", "data": [], "has_more": False}

        store.gate.set()
        answered = first.result(timeout=30)
        assert answered.status_code == 200
        replay = post(merchant, GOOD_SESSION)
        assert replay.status_code == 200 and replay.json() == answered.json()
        assert len(merchant.events()) == 2


def test_a_declined_pay_replayed_keeps_one_charge(merchant: Merchant) -> None:
    session_id = merchant.create_session()["id"]
    path = f"/test-helpers/checkout-sessions/{session_id}/pay"
    for _ in range(3):
        merchant.ok("POST", path, {"card_number": DECLINED}, headers=keyed("once"))
    assert len(merchant.intent(merchant.session(session_id)["payment_intent"])["charges"]) == 1


def test_at_exactly_24_hours_the_same_request_is_a_new_one(merchant: Merchant) -> None:
    """The decision "how long a key is remembered": forgotten when now >= answered + 86400."""
    first = merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("boundary"))
    merchant.advance(86_399)
    assert merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("boundary")) == first
    merchant.advance(1)
    again = merchant.ok("POST", "/checkout-sessions", GOOD_SESSION, headers=keyed("boundary"))
    assert again["id"] != first["id"]
