"""The idempotency probe's "other parameters" stay within the request schema (issue 9, point 8)."""

from __future__ import annotations

from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.requests import mutated

SPEC = load_spec(None)
CONTRACT = OpenAPIContract.load(SPEC.openapi_path)


def creating_schema() -> dict:
    creating = next(e for e in SPEC.events.values() if e.creates)
    return CONTRACT.resolved(CONTRACT.operations[creating.operation].request_schema or {})


def test_the_largest_amount_moves_down_and_stays_valid() -> None:
    schema = creating_schema()
    bounds = schema["properties"]["amount"]
    body = {"amount": bounds["maximum"], "currency": "usd"}
    other = mutated(SPEC, body, schema)
    assert other is not None and other != body
    assert bounds["minimum"] <= other["amount"] <= bounds["maximum"]


def test_the_smallest_amount_moves_up() -> None:
    schema = creating_schema()
    bounds = schema["properties"]["amount"]
    other = mutated(SPEC, {"amount": bounds["minimum"], "currency": "usd"}, schema)
    assert other is not None and other["amount"] == bounds["minimum"] + 1
