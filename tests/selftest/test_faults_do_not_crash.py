"""No fault makes the server crash: a walk through every operation, in states that allow it
and states that refuse it, answers no 5xx with any one fault injected (and with none)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cxpay_conformance.server import DEFAULT_API_KEYS, ServerConfig, run_in_thread
from cxpay_conformance.server.faults import FAULTS

FIRST, SECOND = list(DEFAULT_API_KEYS)
APPROVED, DECLINED, THREE_D_SECURE = "4242424242424242", "4000000000000002", "4000000000003220"
SESSION = {"amount": 1234, "currency": "eur", "success_url": "https://shop.example/ok",
           "cancel_url": "https://shop.example/cancel"}


class Walk:
    """Sends requests as the first merchant (or another key) and keeps every answer."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.answers: list[httpx.Response] = []

    def send(self, method: str, path: str, body: Any = None, key: str | None = FIRST,
             idempotency_key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        answer = self.client.request(method, path, json=body, headers=headers)
        self.answers.append(answer)
        return answer.json()

    def pay(self, session: dict[str, Any], card: str) -> Any:
        return self.send("POST", f"/test-helpers/checkout-sessions/{session['id']}/pay", {"card_number": card})

    def respond(self, charge: Any) -> Any:
        return self.send("POST", f"/test-helpers/charges/{charge}/network-response")


def walk_every_operation(walk: Walk) -> None:
    walk.send("POST", "/webhook-endpoints", {"url": "http://127.0.0.1:9/unreachable"})
    first = walk.send("POST", "/checkout-sessions", SESSION, idempotency_key="k-1")
    walk.send("POST", "/checkout-sessions", SESSION, idempotency_key="k-1")
    walk.send("POST", "/checkout-sessions", {**SESSION, "amount": 1}, idempotency_key="k-1")
    walk.send("POST", "/checkout-sessions", SESSION, key=SECOND, idempotency_key="k-1")
    intent = walk.pay(first, DECLINED)
    walk.respond(intent.get("latest_charge"))
    walk.respond(intent.get("latest_charge"))
    intent = walk.pay(first, THREE_D_SECURE)
    walk.send("POST", f"/test-helpers/payment-intents/{first['payment_intent']}/authenticate", {"outcome": "pass"})
    walk.respond(intent.get("latest_charge"))
    walk.send("POST", f"/checkout-sessions/{first['id']}/expire")
    walk.pay(first, APPROVED)
    second = walk.send("POST", "/checkout-sessions", SESSION)
    intent = walk.pay(second, APPROVED)
    walk.pay(second, APPROVED)
    walk.send("POST", f"/payment-intents/{second['payment_intent']}/cancel", key=SECOND)
    walk.send("POST", f"/payment-intents/{second['payment_intent']}/cancel")
    walk.send("POST", f"/checkout-sessions/{second['id']}/expire")
    walk.respond(intent.get("latest_charge"))
    walk.pay(second, APPROVED)
    walk.send("POST", "/checkout-sessions", SESSION)
    for seconds in (86_399, 1, 172_800, 172_800):
        walk.send("POST", "/test-helpers/clock/advance", {"seconds": seconds})
    for key in (FIRST, SECOND, None, "sk_test_nobody_0000"):
        for payment in (first, second):
            walk.send("GET", f"/checkout-sessions/{payment['id']}", key=key)
            found = walk.send("GET", f"/payment-intents/{payment['payment_intent']}", key=key)
            for charge in found.get("charges") or []:
                walk.send("GET", f"/charges/{charge}", key=key)
        walk.send("POST", f"/test-helpers/checkout-sessions/{first['id']}/pay", {"card_number": APPROVED}, key=key)
    walk.send("GET", "/events?limit=100")


@pytest.mark.parametrize("fault", ["", *FAULTS])
def test_no_fault_makes_the_server_answer_5xx(fault: str) -> None:
    config = ServerConfig(faults=frozenset({fault} if fault else set()))
    with run_in_thread(config) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        walk = Walk(client)
        walk_every_operation(walk)
    crashes = [f"{a.request.method} {a.request.url.path} -> {a.status_code}" for a in walk.answers
               if a.status_code >= 500]
    assert not crashes, crashes
    assert len(walk.answers) > 40
