"""Each check family catches a deliberately faulty variant of the reference server.

Every variant (tests/suite/faulty.py) corrupts one thing and stays valid against
spec/openapi.yaml unless OpenAPI is the point, so that the family named is the first check that
can see the fault. A test asserts which check failed, that the message says what is wrong, that
the story is short and ends at the failing step, and that the replay line printed with the
result reproduces the same failure; another that skipping the family lets the variant pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from cxpay_conformance.errors import UsageError
from cxpay_conformance.suite import SuiteResult, run_suite
from cxpay_conformance.suite.checks import CHECKS, select
from cxpay_conformance.suite.report import story
from tests.suite.conftest import config_for, replayed, without_ids
from tests.suite.faulty import Running, serve, variant

#: The auth variant's run: the auth probe is one of the nine probes a step can draw when every
#: check runs, and with them all a 6-step run met it too rarely to catch (and shrink) quickly.
#: Without the probes of other checks (webhooks, idempotency, tenants) every seed from 1 to 5
#: catches it within 20 examples in seconds; the checks of every answer still run.
AUTH_CHECKS = ("auth", "status", "state", "response_body", "openapi")

#: family -> what its message must say, and the seed of a run that finds the fault. Any seed
#: finds each fault within the 20 examples; these are the ones whose failing example shrinks
#: quickest (shrinking costs a hundred to a few hundred examples whatever the profile). A
#: webhook that never comes is waited for only briefly.
FAMILIES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "status": (("is not allowed in state", "409 invalid_request_error/invalid_state",
                "answered 400 invalid_request_error/parameter_invalid"), {"seed": 1}),
    "response_body": (("pay answered with an object that differs from the prediction",
                       "status: expected"), {"seed": 3}),
    "state": (("objects read back differ from the model", ".status: expected"), {"seed": 3}),
    "openapi": (("breaks spec/openapi.yaml", "'created' is a required property"), {"seed": 1}),
    "webhooks": (("missing webhook", ".created for cs_"), {"seed": 1, "webhook_timeout": 0.05}),
    "signatures": (("failed verification", "does not match the body"), {"seed": 1}),
    "idempotency": (("a replay with the same Idempotency-Key", "another body",
                     "replayed: (absent) became True"), {"seed": 4, "max_examples": 60, "max_steps": 15}),
    "auth": (("a request with no API key must be refused with 401 authentication_error/api_key_missing",
              "answered 404 invalid_request_error/resource_missing"), {"seed": 1, "checks": AUTH_CHECKS}),
    "tenant_isolation": (("another merchant's key must not see", "answered 200 with the"), {"seed": 2}),
    "event_list": (("GET /events read in", "has_more is false, but", "more event(s) follow its last event"),
                   {"seed": 1}),
}
#: The charge-amount variant, caught by state first and by invariants with state skipped.
INVARIANTS_OPTIONS: dict[str, Any] = {"seed": 3}

#: The checks that must be skipped for a variant to pass. A stale payment intent also breaks
#: the spec's invariants (its charges and session moved on without it), so the invariants
#: check catches that variant too when the state check is skipped: defence in depth.
SKIPPED_TOGETHER = {"state": ("state", "invariants"), "invariants": ("state", "invariants")}


def _assert_caught(result: SuiteResult, family: str, wording: tuple[str, ...]) -> None:
    assert result.failure is not None, f"the {family} variant passed: {result.checks_run}"
    assert result.failure.check == family, story(result)
    message = str(result.failure)
    for words in wording:
        assert words in message, message
    assert 1 <= len(result.story) <= 4, story(result)  # shrunk: examples run up to 6 steps
    assert f"FAILED [{family}]" in result.story[-1].observed, story(result)
    assert story(result).startswith(f"Check failed: {family}\n")


#: One family for each place a failure can be found: in a step's answer (status), in the
#: objects read back (state), at quiescence (signatures) and in a probe (auth). Rerunning costs
#: as much as the first run (Hypothesis shrinks again), so not every family replays.
REPLAYED = {"status", "state", "signatures", "auth"}


@pytest.mark.parametrize("faulty", list(FAMILIES), indirect=True, ids=list(FAMILIES))
def test_each_family_catches_its_faulty_variant(faulty: Running) -> None:
    family = faulty.fault_name
    wording, options = FAMILIES[family]
    config = config_for(faulty, **options)
    result = run_suite(config)
    _assert_caught(result, family, wording)
    if family in REPLAYED:
        again = run_suite(replayed(config, result))
        _assert_caught(again, family, wording)
        assert [without_ids(s.story) for s in again.story] == [without_ids(s.story) for s in result.story]


def test_a_charge_read_back_with_another_amount_is_the_state_checks_first_then_the_invariants() -> None:
    """The model predicts every field the invariants read, and the suite compares an object
    read back with the prediction (state) before it evaluates the invariants over it, so a
    charge whose amount differs from the payment's fails the state check; with the state
    check out of the way, the invariant amounts_agree catches the same fault."""
    with serve(variant("invariants")) as faulty:
        first = run_suite(config_for(faulty, **INVARIANTS_OPTIONS))
        _assert_caught(first, "state", ("objects read back differ from the model", "amount: expected"))
        assert first.story[-1].event in ("pay", "network_response", "authenticate")

        # With the state check out of the way (and, to keep this quick, every other one too).
        result = run_suite(config_for(faulty, checks=("invariants",), **INVARIANTS_OPTIONS))
        _assert_caught(result, "invariants", ("invariant amounts_agree", "is broken"))
        assert set(result.checks_run) == {"invariants"}


@pytest.mark.parametrize("faulty", [*FAMILIES, "invariants"], indirect=True, ids=[*FAMILIES, "invariants"])
def test_skipping_the_family_lets_its_faulty_variant_pass(faulty: Running) -> None:
    family = faulty.fault_name
    options = FAMILIES[family][1] if family in FAMILIES else INVARIANTS_OPTIONS
    skipped = SKIPPED_TOGETHER.get(family, (family,))
    result = run_suite(config_for(faulty, skip_checks=skipped, **options))
    assert result.conformant, story(result)
    assert not set(skipped) & set(result.checks_run)
    assert result.examples >= 20


def test_checks_are_chosen_by_name_and_unknown_names_are_refused_with_the_valid_ones() -> None:
    assert select(None, None) == frozenset(CHECKS)
    assert select(["state", "auth"], None) == {"state", "auth"}
    assert select(None, ["webhooks"]) == frozenset(CHECKS) - {"webhooks"}
    with pytest.raises(UsageError) as caught:
        select(["state", "stat"], ["nope"])
    message = str(caught.value)
    assert message.startswith("unknown checks: nope, stat;")
    for name in CHECKS:
        assert name in message.split("the checks are:")[1]


def test_run_suite_refuses_an_unknown_check_before_touching_the_implementation() -> None:
    from cxpay_conformance.suite import SuiteConfig

    closed = SuiteConfig(base_url="http://127.0.0.1:9", api_key="sk_test_x", checks=("status", "stat"))
    with pytest.raises(UsageError, match="unknown check: stat; the checks are: status, "):
        run_suite(closed)


def test_an_adapter_can_stand_in_for_http(reference: Any) -> None:
    """The tenant fault again, made by an adapter instead of a server: the adapter protocol is
    the suite's only view of an implementation. This one sends the second merchant's reads
    with the first merchant's key."""
    from cxpay_conformance.spec import load_spec
    from cxpay_conformance.suite import USE_DEFAULT_KEY, Exchange, HttpAdapter
    from cxpay_conformance.suite.openapi import OpenAPIContract

    contract = OpenAPIContract.load(load_spec(None).openapi_path)

    class LeakyAdapter:
        def __init__(self) -> None:
            self.http = HttpAdapter(reference.base_url, reference.api_key, contract,
                                    key_labels={reference.second_api_key: "second merchant"})

        def perform(self, operation_id: str, object_id: str | None = None, body: Any = None, *,
                    api_key: Any = USE_DEFAULT_KEY, idempotency_key: str | None = None) -> Exchange:
            if api_key == reference.second_api_key and contract.operations[operation_id].method == "GET":
                api_key = USE_DEFAULT_KEY
            return self.http.perform(operation_id, object_id, body, api_key=api_key,
                                     idempotency_key=idempotency_key)

        def close(self) -> None:
            self.http.close()

    config = config_for(reference, seed=2, checks=("tenant_isolation",))
    result = run_suite(config, adapter=LeakyAdapter())
    _assert_caught(result, "tenant_isolation", FAMILIES["tenant_isolation"][0])
    assert set(result.checks_run) == {"tenant_isolation"}
