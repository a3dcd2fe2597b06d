"""The race faults are real, whatever the suite makes of them: with each one, requests sent at
once both act where spec/cxpay.yaml (decisions "idempotency and concurrency" and "the same
Idempotency-Key on requests at once") allows one, and without it the outcome is one of the
serial orders. Every race runs on both stores. (The suite's sequential phase cannot see them;
its concurrent phase catches each: tests/suite/test_suite_races.py and, in the self-test's
default profile, test_faults_are_caught.py.)

With a fault on, each faulted request waits in its race window (``service.race_window``, the
server's check-then-act gap) until the other one is there too, so the two overlap whatever the
machine's speed; a request that never got there would break the wait and answer 500. Without the
fault nothing waits: the requests are released together by a barrier, and whichever order the
server takes them in, the outcome must be a serial one.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from cxpay_conformance.server import ServerConfig, run_in_thread, service

SESSION = {"amount": 2000, "currency": "usd", "success_url": "https://shop.example/ok",
           "cancel_url": "https://shop.example/cancel"}
APPROVED = {"card_number": "4242424242424242"}

#: How long a faulted request waits in its race window for the other before giving up.
WINDOW_TIMEOUT = 10.0


@dataclass(frozen=True)
class Post:
    path: str
    body: dict[str, Any] | None = None
    idempotency_key: str | None = None


class Sandbox:
    """A running sandbox and one merchant's key."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {api_key}"}

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers, timeout=30)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        with self._client() as client:
            answer = client.post(path, json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def get(self, path: str) -> Any:
        with self._client() as client:
            return client.get(path).json()

    def event_types(self) -> Counter[str]:
        return Counter(event["type"] for event in self.get("/events?limit=100")["data"])

    def at_once(self, *posts: Post) -> list[httpx.Response]:
        """Send ``posts`` from one thread and connection each, released together."""
        barrier = threading.Barrier(len(posts))

        def send(post: Post) -> httpx.Response:
            headers = {"Idempotency-Key": post.idempotency_key} if post.idempotency_key else {}
            with self._client() as own:
                barrier.wait()
                return own.post(post.path, json=post.body, headers=headers)

        with ThreadPoolExecutor(len(posts)) as pool:
            return list(pool.map(send, posts))

    def paid_session(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """A session paid with an approved card: its charge pending at the network."""
        session = self.post("/checkout-sessions", SESSION)
        intent = self.post(f"/test-helpers/checkout-sessions/{session['id']}/pay", APPROVED)
        assert intent["status"] == "processing"
        return session, intent


@pytest.fixture(params=["memory", "sqlite"])
def db_path(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    return str(tmp_path / "sandbox.sqlite3") if request.param == "sqlite" else None


@pytest.fixture(autouse=True)
def windows_wait_for_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    """A faulted request stays in its race window until a second one is there too."""
    barrier = threading.Barrier(2, timeout=WINDOW_TIMEOUT)

    async def window() -> None:
        await asyncio.to_thread(barrier.wait)

    monkeypatch.setattr(service, "race_window", window)


@contextmanager
def sandbox(fault: str | None, db_path: str | None) -> Iterator[Sandbox]:
    config = ServerConfig(faults=frozenset({fault} if fault else set()), db_path=db_path)
    with run_in_thread(config) as server:
        yield Sandbox(server.base_url, server.api_keys[0])


def statuses(answers: list[httpx.Response]) -> list[int]:
    return sorted(answer.status_code for answer in answers)


def error_code(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "no_lock_in_pay"])
def test_two_pays_at_once(faulty: bool, db_path: str | None) -> None:
    with sandbox("no_lock_in_pay" if faulty else None, db_path) as box:
        session = box.post("/checkout-sessions", SESSION)
        pay = Post(f"/test-helpers/checkout-sessions/{session['id']}/pay", APPROVED)
        answers = box.at_once(pay, pay)
        pending = box.event_types()["charge.pending"]
    charges = {a.json()["latest_charge"] for a in answers if a.status_code == 200}
    if faulty:
        assert (statuses(answers), len(charges), pending) == ([200, 200], 2, 2)
    else:
        assert (statuses(answers), len(charges), pending) == ([200, 409], 1, 1)
        assert error_code(next(a for a in answers if a.status_code == 409)) == "invalid_state"


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "idempotency_insert_after_work"])
def test_two_creates_with_one_idempotency_key_at_once(faulty: bool, db_path: str | None) -> None:
    with sandbox("idempotency_insert_after_work" if faulty else None, db_path) as box:
        create = Post("/checkout-sessions", SESSION, idempotency_key="order-1")
        answers = box.at_once(create, create)
        created = box.event_types()["checkout_session.created"]
    sessions = {a.json()["id"] for a in answers if a.status_code == 200}
    if faulty:
        assert (statuses(answers), len(sessions), created) == ([200, 200], 2, 2)
        return
    # One does the work; the other is told the key is in flight, or gets its answer replayed.
    assert (len(sessions), created) == (1, 1)
    others = [a for a in answers if a.status_code != 200]
    assert all(a.status_code == 409 and error_code(a) == "idempotency_key_in_use" for a in others)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "expire_and_network_both_apply"])
def test_expire_racing_the_network_answer(faulty: bool, db_path: str | None) -> None:
    with sandbox("expire_and_network_both_apply" if faulty else None, db_path) as box:
        session, intent = box.paid_session()
        expire = Post(f"/checkout-sessions/{session['id']}/expire")
        network = Post(f"/test-helpers/charges/{intent['latest_charge']}/network-response")
        answers = box.at_once(expire, network)
        final = box.get(f"/checkout-sessions/{session['id']}")["status"]
        events = box.event_types()
    ends = {kind: events[f"checkout_session.{kind}"] for kind in ("expired", "completed")}
    if faulty:
        assert statuses(answers) == [200, 200]
        assert ends == {"expired": 1, "completed": 1}, "both should have applied"
        return
    # One order or the other: the one answered 200 is the one that happened, alone.
    assert statuses(answers) == [200, 409]
    expired = answers[0].status_code == 200
    assert error_code(answers[1 if expired else 0]) == "invalid_state"
    assert final == ("expired" if expired else "complete")
    assert ends == ({"expired": 1, "completed": 0} if expired else {"expired": 0, "completed": 1})
    assert events["payment_intent.canceled"] + events["payment_intent.succeeded"] == 1


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "double_cancel_voids_twice"])
def test_two_cancels_at_once(faulty: bool, db_path: str | None) -> None:
    with sandbox("double_cancel_voids_twice" if faulty else None, db_path) as box:
        _, intent = box.paid_session()
        cancel = Post(f"/payment-intents/{intent['id']}/cancel")
        answers = box.at_once(cancel, cancel)
        final = box.get(f"/payment-intents/{intent['id']}")["status"]
        events = box.event_types()
    voids = (events["payment_intent.canceled"], events["charge.canceled"])
    assert final == "canceled"
    if faulty:
        assert (statuses(answers), voids) == ([200, 200], (2, 2))
    else:
        assert (statuses(answers), voids) == ([200, 409], (1, 1))
        assert error_code(next(a for a in answers if a.status_code == 409)) == "invalid_state"
