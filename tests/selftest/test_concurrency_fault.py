"""The one fault the sequential suite cannot see is real: with ``no_lock_in_pay`` two pays sent
at once both succeed (two charges in flight), without it one gets 409 invalid_state."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from cxpay_conformance.server import ServerConfig, run_in_thread, service

SESSION = {"amount": 2000, "currency": "usd", "success_url": "https://shop.example/ok",
           "cancel_url": "https://shop.example/cancel"}


def two_pays_at_once(faults: frozenset[str]) -> tuple[list[int], int]:
    """The statuses of two concurrent pays of one session, and how many charges they made."""
    with run_in_thread(ServerConfig(faults=faults)) as server:
        headers = {"Authorization": f"Bearer {server.api_keys[0]}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
            session = client.post("/checkout-sessions", json=SESSION).json()
        barrier = threading.Barrier(2)

        def pay(_: int) -> httpx.Response:
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as own:
                barrier.wait()
                path = f"/test-helpers/checkout-sessions/{session['id']}/pay"
                return own.post(path, json={"card_number": "4242424242424242"})

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(pay, range(2)))
    charges = {a.json()["latest_charge"] for a in answers if a.status_code == 200}
    return sorted(a.status_code for a in answers), len(charges)


@pytest.mark.parametrize(("faults", "statuses", "charges"), [
    (frozenset(), [200, 409], 1),
    (frozenset({"no_lock_in_pay"}), [200, 200], 2),
])
def test_concurrent_pays(
    faults: frozenset[str], statuses: list[int], charges: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The unlocked pay holds its read for the network's round trip (50 ms); on a loaded machine
    # the second request may come later than that, and then the two do not overlap at all.
    monkeypatch.setattr(service, "NETWORK_ROUND_TRIP", 1.0)
    assert two_pays_at_once(faults) == (statuses, charges)
