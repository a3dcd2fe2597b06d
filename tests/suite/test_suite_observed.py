"""Model versus observation: how an answered object is compared with a prediction, and the
spec's invariants evaluated over objects as an implementation answered them (hand-made JSON)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cxpay_conformance.model import check_invariants
from cxpay_conformance.spec import Spec, load_spec
from cxpay_conformance.suite.observed import ObservedGraph, differences
from tests.spec_variants import REAL_SPEC

# --- differences ------------------------------------------------------------------------------


def test_only_the_predicted_keys_are_compared() -> None:
    predicted = {"status": "failed", "amount": 100}
    answered = {"status": "failed", "amount": 100, "created": 1767225600, "livemode": False}
    assert differences(predicted, answered) == []


def test_a_predicted_mapping_needs_only_its_own_keys() -> None:
    predicted = {"last_payment_error": {"code": "card_declined"}}
    assert differences(predicted, {"last_payment_error": {"code": "card_declined", "message": "Declined."}}) == []
    assert differences(predicted, {"last_payment_error": {"code": "insufficient_funds", "message": "No."}}) == [
        "last_payment_error.code: expected 'card_declined', got 'insufficient_funds'"]
    assert differences(predicted, {"last_payment_error": None}) == [
        "last_payment_error: expected an object, got None"]


def test_each_difference_names_the_field_where_and_what() -> None:
    predicted = {"status": "succeeded", "charges": ["ch_1"], "latest_charge": "ch_1"}
    answered = {"status": "processing", "charges": ["ch_1", "ch_2"]}
    assert differences(predicted, answered, "pi_1") == [
        "pi_1.status: expected 'succeeded', got 'processing'",
        "pi_1.charges: expected ['ch_1'], got ['ch_1', 'ch_2']",
        "pi_1.latest_charge: missing (expected 'ch_1')",
    ]


def test_lists_and_values_compare_exactly() -> None:
    assert differences({"charges": []}, {"charges": []}) == []
    assert differences({"amount": 1}, {"amount": True}) == ["amount: expected 1, got True"]
    assert differences({"amount": 0}, {"amount": False}) == ["amount: expected 0, got False"]
    assert differences({"flag": True}, {"flag": 1}) == ["flag: expected True, got 1"]
    assert differences({"latest_charge": None}, {"latest_charge": None}) == []
    assert differences({"latest_charge": None}, {"latest_charge": "ch_1"}) == [
        "latest_charge: expected None, got 'ch_1'"]


def test_an_answer_that_is_not_an_object_is_one_difference() -> None:
    assert differences({"status": "open"}, None) == ["the object: expected an object, got None"]
    assert differences({"status": "open"}, ["open"], "cs_1") == ["cs_1: expected an object, got ['open']"]


# --- invariants over observed objects --------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec(REAL_SPEC)


def _payment() -> dict[str, dict[str, Any]]:
    """A session whose payment succeeded on the second card, as an implementation answers it."""
    return {
        "cs_1": {"id": "cs_1", "object": "checkout_session", "status": "complete", "amount": 2000,
                 "currency": "usd", "payment_intent": "pi_1"},
        "pi_1": {"id": "pi_1", "object": "payment_intent", "status": "succeeded", "amount": 2000,
                 "currency": "usd", "checkout_session": "cs_1", "charges": ["ch_1", "ch_2"],
                 "latest_charge": "ch_2", "last_payment_error": None},
        "ch_1": {"id": "ch_1", "object": "charge", "status": "failed", "amount": 2000, "currency": "usd",
                 "payment_intent": "pi_1", "failure_code": "card_declined"},
        "ch_2": {"id": "ch_2", "object": "charge", "status": "succeeded", "amount": 2000, "currency": "usd",
                 "payment_intent": "pi_1", "failure_code": None},
    }


def _violations(spec: Spec, objects: dict[str, dict[str, Any]]) -> list[str]:
    graph = ObservedGraph(spec, objects, {key: value["object"] for key, value in objects.items()})
    return [v.invariant.name for v in check_invariants(spec, graph, "cs_1")]


def test_a_consistent_payment_keeps_every_invariant(spec: Spec) -> None:
    assert _violations(spec, _payment()) == []


def _set(key: str, **fields: Any) -> Callable[[dict[str, dict[str, Any]]], None]:
    def change(objects: dict[str, dict[str, Any]]) -> None:
        objects[key].update(fields)

    return change


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        (_set("cs_1", status="open"), "complete_iff_succeeded"),
        (_set("ch_2", amount=2001), "amounts_agree"),
        (_set("ch_1", currency="eur"), "currencies_agree"),
        (_set("pi_1", latest_charge="ch_1"), "latest_charge_is_newest"),
        (_set("ch_1", status="succeeded"), "one_successful_charge"),
        (_set("ch_2", payment_intent="pi_9"), "charges_point_at_their_intent"),
        (_set("pi_1", checkout_session="cs_9"), "links_agree"),
        (_set("ch_2", status="pending"), "succeeded_iff_charge_succeeded"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_an_inconsistent_payment_is_reported_by_the_invariants_name(
    spec: Spec, change: Callable[[dict[str, dict[str, Any]]], None], broken: str
) -> None:
    objects = copy.deepcopy(_payment())
    change(objects)
    assert broken in _violations(spec, objects)


def test_a_payment_intent_with_charges_but_no_card_breaks_no_charge_before_payment(spec: Spec) -> None:
    objects = _payment()
    objects["cs_1"]["status"] = "open"
    objects["pi_1"].update(status="requires_payment_method")
    objects["ch_2"]["status"] = "failed"
    assert "no_charge_before_payment" in _violations(spec, objects)


def test_the_violation_says_which_invariant_and_what_was_seen(spec: Spec) -> None:
    objects = _payment()
    objects["ch_2"]["amount"] = 1999
    graph = ObservedGraph(spec, objects, {key: value["object"] for key, value in objects.items()})
    [violation] = check_invariants(spec, graph, "cs_1")
    text = str(violation)
    assert text.startswith("invariant amounts_agree (The session, its payment intent and every charge")
    assert "1999" in text and "2000" in text


def test_objects_not_read_back_are_left_out_rather_than_guessed(spec: Spec) -> None:
    objects = _payment()
    del objects["ch_1"]  # e.g. its read answered 404: the state check reports that one
    graph = ObservedGraph(spec, objects, {key: value["object"] for key, value in objects.items()})
    assert graph.follow("cs_1", "payment_intent.charges") == ["ch_2"]
    assert graph.state("ch_1") is None and graph.value("ch_1", "amount") is None
