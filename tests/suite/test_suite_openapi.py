"""The suite's OpenAPI check: its fast path (jsonschema-rs) never changes a verdict.

Every answer is checked against spec/openapi.yaml. When jsonschema-rs is installed it gives a
first opinion and jsonschema, the exact validator, only looks again when that opinion is
"invalid". These tests compare the two paths on real answers of the reference server and on
Hypothesis's corruptions of them: same problems, word for word.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import openapi
from cxpay_conformance.suite.openapi import OpenAPIContract

pytestmark = pytest.mark.skipif(openapi.jsonschema_rs is None, reason="jsonschema-rs is not installed")

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def contract() -> OpenAPIContract:
    return OpenAPIContract.load(load_spec("spec/cxpay.yaml").openapi_path)


@pytest.fixture(scope="module")
def session(reference: EmbeddedServer) -> dict[str, Any]:
    """A checkout session, as the reference server answers its creation."""
    answer = httpx.post(f"{reference.base_url}/checkout-sessions", headers={
        "Authorization": f"Bearer {reference.api_key}", "Idempotency-Key": "openapi-fast-path"},
        json={"amount": 2000, "currency": "usd", "success_url": "https://shop.example/thanks",
              "cancel_url": "https://shop.example/cart"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _exact_only(contract: OpenAPIContract, operation_id: str, status: int, body: Any) -> list[str]:
    schema = contract.operations[operation_id].responses[str(status)]
    assert schema is not None
    return openapi._SchemaCheck(contract.validator(schema)).problems(body)


def test_a_real_answer_is_valid_on_both_paths(contract: OpenAPIContract, session: dict[str, Any]) -> None:
    schema = contract.operations["createCheckoutSession"].responses["200"]
    assert schema is not None and contract._check(schema).fast is not None  # the fast path is taken
    assert contract.response_problems("createCheckoutSession", 200, session) == []
    assert _exact_only(contract, "createCheckoutSession", 200, session) == []


@pytest.mark.parametrize("corrupt", [
    lambda body: {k: v for k, v in body.items() if k != "created"},
    lambda body: {**body, "amount": str(body["amount"])},
    lambda body: {**body, "status": "paid"},
    lambda body: {**body, "currency": 7},
    lambda body: [body],
])
def test_a_broken_answer_gets_the_exact_validators_words(contract: OpenAPIContract, session: dict[str, Any],
                                                           corrupt: Any) -> None:
    body = corrupt(session)
    problems = contract.response_problems("createCheckoutSession", 200, body)
    assert problems, body
    assert problems == _exact_only(contract, "createCheckoutSession", 200, body)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(["amount", "currency", "status", "payment_intent", "url", "created", "extra"]),
       value=JSON, drop=st.booleans())
def test_both_paths_agree_on_any_corruption(contract: OpenAPIContract, session: dict[str, Any],
                                             field: str, value: Any, drop: bool) -> None:
    body = {k: v for k, v in session.items() if not (drop and k == field)}
    if not drop:
        body[field] = value
    assert (contract.response_problems("createCheckoutSession", 200, body)
            == _exact_only(contract, "createCheckoutSession", 200, body))
