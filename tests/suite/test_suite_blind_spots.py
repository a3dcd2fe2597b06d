"""Faults the suite used to miss, each caught by the probe written for it.

docs/mutation.md ("Findings beyond the score") names blind spots that let mutants of the
reference server survive: settlement was rarely reached, and never on the very second it is
due; no Idempotency-Key of the wrong length was ever sent; the tenant probe only tried the
second merchant's key on the first one's objects. Each variant here (tests/suite/faulty.py)
has one such fault, which the suite without these probes passes.

The tests drive one example of the generated state machine by hand, step by step, so that
each fault is met at once (and not after Hypothesis has found and shrunk an example); the
last test shows that exploration does send what the probes send.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.errors import ConformanceFailure
from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import HttpAdapter, run_suite
from cxpay_conformance.suite.checks import select
from cxpay_conformance.suite.context import SuiteContext
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.probes import ProbingMachine
from cxpay_conformance.suite.receiver import WebhookReceiver
from cxpay_conformance.suite.report import story
from cxpay_conformance.suite.rules import GeneratedMachine, build_machine
from tests.suite.conftest import config_for
from tests.suite.faulty import Running, blind_spot, serve

SPEC = load_spec(None)
BODY = {"amount": 1500, "currency": "usd", "success_url": "https://shop.example/ok",
        "cancel_url": "https://shop.example/cancel"}
APPROVED = "4242424242424242"  # approved by the network, no 3D Secure


@contextmanager
def one_example(target: Running | EmbeddedServer) -> Iterator[GeneratedMachine]:
    """A fresh example of the generated machine against ``target``, every check selected,
    without a webhook receiver (the webhooks are another test's business)."""
    config = config_for(target, settle_timeout=0.0)
    contract = OpenAPIContract.load(SPEC.openapi_path)
    adapter = HttpAdapter(target.base_url, target.api_key, contract,
                          key_labels={target.second_api_key: "second merchant"})
    ctx = SuiteContext(SPEC, contract, adapter, config, select(None, None))
    try:
        yield build_machine(ctx)()
    finally:
        adapter.close()


def captured(machine: GeneratedMachine) -> None:
    """Create a payment, pay it with a card the network approves, and let the network answer."""
    payment = machine.create_payment(dict(BODY))
    root = machine.world.root_of(payment).key
    machine.fire_event(SPEC.events["pay"], root, {SPEC.cards.parameter: APPROVED})
    charge = next(o.key for o in machine.world.payment_objects(payment) if o.type == "charge")
    machine.fire_event(SPEC.events["network_response"], charge, {})


# --- settlement -----------------------------------------------------------------------------


def test_an_example_that_captured_a_charge_crosses_its_settlement_time_at_teardown(reference: Any) -> None:
    """One second before the settlement time, the charge is still succeeded; on it, settled.
    Both advances are read back, the first although the model says nothing falls due then."""
    with one_example(reference) as machine:
        captured(machine)
        machine.teardown()
    clock_steps = [step for step in machine.steps if step.actor == "clock"]  # the event list is read last
    before, on_it = clock_steps[-2:]
    delay = SPEC.clock["settlement_delay"]
    assert (before.story, on_it.story) == (f"clock: advance {delay - 1} s", "clock: advance 1 s")
    assert before.expected == "nothing falls due"
    assert on_it.expected.startswith("settlement ch_")
    assert not machine.failed


def test_a_charge_that_settles_a_second_late_is_caught_on_the_second_it_is_due() -> None:
    with serve(blind_spot("settlement")) as faulty, one_example(faulty) as machine:
        captured(machine)
        with pytest.raises(ConformanceFailure) as caught:
            machine.teardown()
    assert caught.value.check == "state"
    assert ".status: expected 'settled', got 'succeeded'" in str(caught.value)
    assert machine.steps[-1].story == "clock: advance 1 s"


# --- Idempotency-Key length -------------------------------------------------------------------


def _key_length(machine: GeneratedMachine, length: int) -> None:
    payment = machine.create_payment(dict(BODY))
    root = machine.world.root_of(payment).key
    anywhere = next(e for e in SPEC.events.values() if e.name == "expire_session")
    target = (root, SPEC.events["pay"], {SPEC.cards.parameter: APPROVED})
    machine.key_of_length(length, target, anywhere)


@pytest.mark.parametrize("length", [0, 1, 255, 256])
def test_keys_at_the_bounds_are_accepted_and_keys_beyond_them_refused(reference: Any, length: int) -> None:
    with one_example(reference) as machine:
        _key_length(machine, length)
    probe = next(s for s in machine.steps if s.event == "key length")
    assert probe.exchange is not None and len(probe.exchange.headers["Idempotency-Key"]) == length
    assert probe.exchange.status == (404 if 1 <= length <= 255 else 400)
    assert not machine.failed


@pytest.mark.parametrize("length", [0, 256])
def test_an_implementation_that_takes_keys_of_any_length_is_caught(length: int) -> None:
    with (serve(blind_spot("key length")) as faulty, one_example(faulty) as machine,
          pytest.raises(ConformanceFailure) as caught):
        _key_length(machine, length)
    assert caught.value.check == "idempotency"
    assert (f"an Idempotency-Key of {length} characters (outside 1-255) must be answered 400 "
            "invalid_request_error/parameter_invalid; the implementation answered 200") in str(caught.value)


# --- tenant isolation, the other way ------------------------------------------------------------


def _theirs(machine: GeneratedMachine) -> list[str]:
    """The second merchant creates a payment and pays it: a session, an intent and a charge."""
    assert machine.foreign is not None
    machine.foreign.create(dict(BODY))
    root = machine.foreign.keys[0]
    machine.foreign.fire(SPEC.events["pay"], root, {SPEC.cards.parameter: APPROVED})
    return machine.foreign.keys


def test_our_key_gets_404_for_every_object_of_the_second_merchant(reference: Any) -> None:
    with one_example(reference) as machine:
        keys = _theirs(machine)
        assert sorted(machine.foreign.world.objects[k].type for k in keys) == [  # type: ignore[union-attr]
            "charge", "checkout_session", "payment_intent"]
        machine.intrude(keys[0], SPEC.events["expire_session"], {})
        with WebhookReceiver() as receiver:
            machine.foreign.endpoint_probe(receiver)  # type: ignore[union-attr]
            machine.foreign.close()  # type: ignore[union-attr]
    probes = [s for s in machine.steps if s.event == "tenant_isolation"]
    assert len(probes) == 4  # three objects and the endpoint
    assert all(s.exchange is not None and s.exchange.status == 404 for s in probes)
    assert not machine.failed


def test_an_ownership_test_that_holds_one_way_only_is_caught() -> None:
    """The variant refuses the second merchant's key on the first one's objects, as the old
    probe tried; our key on the second merchant's objects is what catches it."""
    with serve(blind_spot("one-way ownership")) as faulty, one_example(faulty) as machine:
        keys = _theirs(machine)
        with pytest.raises(ConformanceFailure) as caught:
            machine.intrude(keys[0], None, {})
    assert caught.value.check == "tenant_isolation"
    assert "must not see or touch this merchant's objects" in str(caught.value)
    assert "answered 200 with the" in str(caught.value)


def test_an_endpoint_of_the_second_merchant_that_our_key_deletes_is_caught() -> None:
    with (serve(blind_spot("one-way ownership")) as faulty, one_example(faulty) as machine,
          WebhookReceiver() as receiver, pytest.raises(ConformanceFailure) as caught):
        machine.foreign.endpoint_probe(receiver)  # type: ignore[union-attr]
    assert caught.value.check == "tenant_isolation"
    assert "answered 200 with the webhook_endpoint" in str(caught.value)


# --- exploration sends all of it ----------------------------------------------------------------


def test_exploration_sends_every_key_length_and_tries_our_key_on_their_objects(reference: Any) -> None:
    sent: set[int] = set()
    intrusions: list[str] = []
    key_of_length, intrude = ProbingMachine.key_of_length, ProbingMachine.intrude

    def spy_key(self: GeneratedMachine, length: int, *args: Any) -> None:
        sent.add(length)
        key_of_length(self, length, *args)

    def spy_intrude(self: GeneratedMachine, key: str, *args: Any) -> None:
        intrusions.append(key)
        intrude(self, key, *args)

    ProbingMachine.key_of_length = spy_key  # type: ignore[method-assign]
    ProbingMachine.intrude = spy_intrude  # type: ignore[method-assign]
    try:
        # Which examples a seed draws depends on the Hypothesis version: a few seeds in turn
        # until every length was sent, so that the test is about the suite, not one release.
        for seed in (7, 8, 9):
            result = run_suite(config_for(reference, seed=seed, max_examples=20, max_steps=10,
                                          checks=("idempotency", "tenant_isolation", "status")))
            assert result.conformant, story(result)
            if sent == {0, 1, 255, 256} and intrusions:
                break
    finally:
        ProbingMachine.key_of_length, ProbingMachine.intrude = key_of_length, intrude  # type: ignore[method-assign]
    assert sent == {0, 1, 255, 256}
    assert intrusions
