"""With ``--db``, everything acknowledged survives ``kill -9``: objects, events, the test
clock, idempotency keys, webhook endpoints and the deliveries still owed (which resume)."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import httpx

from tests.server.sandbox_client import APPROVED, DECLINED, THREE_DS_APPROVED, Merchant
from tests.server.sandbox_process import SandboxProcess
from tests.server.test_server_validation import GOOD_SESSION
from tests.server.webhook_receiver import WebhookReceiver

KEY_A = "sk_test_cxpay_merchant_a_0000000000000001"
KEY_B = "sk_test_cxpay_merchant_b_0000000000000002"
FAST = ("--webhook-base-delay", "0.05", "--webhook-max-delay", "0.2", "--webhook-timeout", "2")


class Remote:
    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return self.client.request(method, path, **kwargs)  # type: ignore[arg-type]


def test_everything_acknowledged_survives_kill_9(tmp_path: Path) -> None:
    db = str(tmp_path / "sandbox.sqlite3")
    with WebhookReceiver(failures=10_000) as receiver:
        first = SandboxProcess("--db", db, *FAST, "--webhook-max-attempts", "1000")
        a = Merchant(Remote(first.base_url), KEY_A)  # type: ignore[arg-type]
        b = Merchant(Remote(first.base_url), KEY_B)  # type: ignore[arg-type]
        endpoint = a.add_endpoint(receiver.url)
        paid = a.create_session()["id"]
        a.respond(a.pay(paid, APPROVED)["latest_charge"])
        retrying = a.create_session(metadata={"order": "7"})["id"]
        a.respond(a.pay(retrying, DECLINED)["latest_charge"])
        waiting = a.create_session(expires_in=1800)["id"]
        a.pay(waiting, THREE_DS_APPROVED)
        keyed = a.call(
            "POST", "/checkout-sessions", GOOD_SESSION, headers={"Idempotency-Key": "k-1"}
        )
        now = a.advance(600)
        b_session = b.create_session()["id"]
        before = {sid: a.payment(sid) for sid in (paid, retrying, waiting)}
        events_before = a.events()
        receiver.wait_until(lambda: len(receiver.snapshot()) >= len(events_before))
        first.kill()

        second = SandboxProcess("--db", db, *FAST, "--webhook-max-attempts", "1000")
        a = Merchant(Remote(second.base_url), KEY_A)  # type: ignore[arg-type]
        b = Merchant(Remote(second.base_url), KEY_B)  # type: ignore[arg-type]
        assert {sid: a.payment(sid) for sid in before} == before
        assert a.events() == events_before
        assert b.session(b_session)["status"] == "open"
        a.fails("GET", f"/checkout-sessions/{b_session}", status=404, code="resource_missing")
        replay = a.call(
            "POST", "/checkout-sessions", GOOD_SESSION, headers={"Idempotency-Key": "k-1"}
        )
        assert replay.json() == keyed.json() and replay.headers["idempotent-replayed"] == "true"
        # the clock resumes where it stood, and what falls due still happens
        assert a.advance(1199) == now + 1199
        assert a.session(waiting)["status"] == "open"
        a.advance(1)
        assert a.session(waiting)["status"] == "expired"
        # deliveries owed before the crash resume once the receiver accepts
        receiver.failures = 0
        every_id = {e["id"] for e in a.events()}
        receiver.wait_until(lambda: receiver.accepted_ids() == every_id)
        a.ok("DELETE", f"/webhook-endpoints/{endpoint['id']}")
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=30) == 0
        log = second.stderr()
        assert "Traceback" not in log
        assert re.search(r"POST /test-helpers/clock/advance 200 \d+\.\dms", log), log

    third = SandboxProcess("--db", db, "--quiet")
    try:
        a = Merchant(Remote(third.base_url), KEY_A)  # type: ignore[arg-type]
        a.fails(
            "DELETE", f"/webhook-endpoints/{endpoint['id']}", status=404, code="resource_missing"
        )
        assert a.session(waiting)["status"] == "expired"
    finally:
        third.kill()
