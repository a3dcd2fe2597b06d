"""Issue 15's faults are caught, each by the check its catalogue entry names, and the correct
sandbox raises no false alarm with the probes that catch them, on both stores.

What a merchant owns (its Idempotency-Keys, its test clock, its webhook endpoints and their
secrets), at-least-once delivery (a refused delivery is retried) and an endpoint's lifecycle
(a second endpoint gets every event, a deleted one none). Quick profile, a short retry window
(the sandbox retries after 1 s), a short shrink: these tests are about whether and by which
check a fault is caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cxpay_conformance.selftest import FaultOutcome, SelftestOptions, run_one
from cxpay_conformance.server import ServerConfig, run_in_thread
from cxpay_conformance.server.faults import FAULTS
from cxpay_conformance.suite import SuiteConfig, run_suite

#: A refused delivery owes its retry within this many seconds here (the spec says 30).
WINDOW = 4.0
OPTIONS = SelftestOptions(profile="quick", seed=1, time_budget=30.0, shrink_budget=2, retry_window=WINDOW)
SEEDS = (1, 2, 3)

NEW_FAULTS = ("webhook_never_retried", "deleted_endpoint_still_receives", "one_secret_for_all_endpoints",
              "global_test_clock", "events_to_every_merchant", "idempotency_global_scope")


def caught_by_some_seed(fault: str) -> FaultOutcome:
    for seed in SEEDS:
        outcome = run_one(fault, SelftestOptions(**{**OPTIONS.__dict__, "seed": seed}))
        if outcome.error is not None or outcome.caught:
            break
    return outcome


@pytest.mark.parametrize("fault", NEW_FAULTS)
def test_the_fault_is_caught_by_its_family(fault: str) -> None:
    outcome = caught_by_some_seed(fault)
    assert outcome.error is None, outcome.error
    assert outcome.caught, f"{fault} was not caught in {outcome.examples} examples"
    assert outcome.first_check == FAULTS[fault].family, f"{fault}: {outcome.first_check}: {outcome.message}"


def test_a_missing_retry_is_reported_with_the_refused_delivery() -> None:
    outcome = caught_by_some_seed("webhook_never_retried")
    assert outcome.caught, outcome.message
    assert "refused on purpose by the suite's receiver" in outcome.message, outcome.message
    assert f"never came again within {WINDOW:g} s" in outcome.message, outcome.message


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_the_correct_sandbox_gives_no_false_alarm(store: str, tmp_path: Path) -> None:
    config = ServerConfig(log_requests=False, db_path=str(tmp_path / "sandbox.sqlite3") if store == "sqlite" else None)
    with run_in_thread(config) as running:
        suite = SuiteConfig(base_url=running.base_url, embedded=True, api_key=running.api_keys[0],
                            second_api_key=running.api_keys[1], profile="quick", seed=3, database=None,
                            phases=("sequential",), webhook_retry_window=WINDOW)
        result = run_suite(suite)
    assert result.conformant, f"false alarm: {result.failure}"
    # The probes of issue 15 ran: a second endpoint's lifecycle or a refusal (webhooks), the
    # second merchant's own clock, keys and endpoint (tenant_isolation).
    assert result.checks_run["webhooks"] > result.examples, result.checks_run
    assert result.checks_run["tenant_isolation"] > 0, result.checks_run
