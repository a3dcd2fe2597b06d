"""SIGTERM stops the sandbox within a bounded time, even while webhooks are being retried.

On Python 3.11 the dispatcher's loop could swallow the cancel that stops it when a failed
attempt woke it at the same moment; the sandbox then ran on at full CPU (6 of 18 trials). The
race is timing-dependent, so the test stops a sandbox many times, each time with many
deliveries failing and being retried at once.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cxpay_conformance.server import WebhookPolicy
from cxpay_conformance.server.dispatcher import WebhookDispatcher
from cxpay_conformance.server.memory_store import MemoryStore
from cxpay_conformance.server.store import UnitOfWork
from cxpay_conformance.server.webhook_endpoints import Delivery
from tests.server.sandbox_process import SandboxProcess

KEY = "sk_test_cxpay_merchant_a_0000000000000001"
TRIALS = 10
#: Generous: a sandbox stops in well under a second; a hung one never does.
STOP_WITHIN = 15.0


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_stop_ends_the_dispatcher_even_right_after_a_wake_up(turns: int) -> None:
    """The race, made certain: the dispatcher's wait has just ended (an attempt finished and
    woke it) but its loop has not run yet when ``stop`` cancels it."""

    async def scenario() -> None:
        store = MemoryStore()
        # One delivery due in an hour: the loop waits with a timeout (asyncio.wait_for).
        later = Delivery("wd_1", "acct_a", "evt_1", "we_1", attempts=1, next_attempt_at=time.time() + 3600)
        store.apply(UnitOfWork(deliveries={later.id: later}))
        dispatcher = WebhookDispatcher(store, WebhookPolicy())
        dispatcher.start()
        await asyncio.sleep(0.05)  # the loop now waits to be woken
        dispatcher.wake()
        for _ in range(turns):
            await asyncio.sleep(0)
        stopping = asyncio.create_task(dispatcher.stop())
        done, _ = await asyncio.wait({stopping}, timeout=STOP_WITHIN)
        assert done, f"the dispatcher still ran {STOP_WITHIN:g}s after stop()"

    asyncio.run(scenario())


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so no one else takes it), not listening."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


def _start_with_retries_in_flight(port: int, log: Path) -> SandboxProcess:
    # The log goes to a file: a line per failed attempt soon fills a pipe nobody reads.
    sandbox = SandboxProcess(
        "--quiet",
        "--webhook-max-attempts",
        "1000",
        "--webhook-base-delay",
        "0.001",
        "--webhook-max-delay",
        "0.005",
        log=log,
    )
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers, timeout=30) as client:
        for _ in range(3):
            answer = client.post("/webhook-endpoints", json={"url": f"http://127.0.0.1:{port}/hook"})
            assert answer.status_code == 200, answer.text
        for _ in range(5):  # two events each, to three endpoints: 30 deliveries failing
            session = {
                "amount": 1000,
                "currency": "usd",
                "success_url": "https://shop.example/ok",
                "cancel_url": "https://shop.example/cancel",
            }
            assert client.post("/checkout-sessions", json=session).status_code == 200
    return sandbox


def test_sigterm_stops_the_sandbox_while_webhooks_are_retried(refusing_port: int, tmp_path: Path) -> None:
    hung = []
    for trial in range(TRIALS):
        sandbox = _start_with_retries_in_flight(refusing_port, tmp_path / f"trial-{trial}.log")
        time.sleep(0.05 * (trial % 4))  # vary the moment: the race depends on it
        sandbox.process.send_signal(signal.SIGTERM)
        try:
            sandbox.process.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            hung.append(trial)
            sandbox.kill()
            continue
        assert sandbox.process.returncode == 0, sandbox.stderr()
        assert "failed (attempt" in sandbox.stderr()  # the retries were really in flight
    assert not hung, f"{len(hung)} of {TRIALS} sandboxes still ran {STOP_WITHIN:g}s after SIGTERM"
