"""Fuzzing the sandbox from spec/openapi.yaml: Schemathesis generates valid and invalid
requests for every operation (and chains them through the document's links), and Hypothesis
throws arbitrary JSON and bytes at every POST. Whatever comes in, the answer is never a 5xx,
its status is one the document lists, and its body matches the document.

Bounded so that the whole folder stays fast: a few dozen examples per operation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

# Where the OpenAPI checks are defined: schemathesis.checks re-exports them only from 4.26 on.
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cxpay_conformance.server import ServerConfig, WebhookPolicy, create_app
from tests.server.openapi_responses import OPENAPI_PATH, openapi
from tests.server.sandbox_client import InProcessApp, Merchant

KEY = "sk_test_fuzzing_merchant_0001"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
#: Webhooks to loopback only: the fuzzer registers endpoints at any host the schema allows,
#: and the sandbox must not try to resolve or reach them (private addresses included).
CONFIG = ServerConfig(
    api_keys={KEY: "acct_fuzzing"},
    webhooks=WebhookPolicy(allowed_hosts=("127.0.0.0/8", "::1/128", "localhost")),
)
QUIET = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)

app = create_app(CONFIG)
schema = schemathesis.openapi.from_path(OPENAPI_PATH)
schema.app = app
schema.config.update(headers={"Authorization": f"Bearer {KEY}"})
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=25
)


@schema.parametrize()
@QUIET
def test_no_operation_answers_a_server_error(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=CHECKS)


class LinkedCalls(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences of calls that feed each answer's ids into the next call (the links).

    Every sequence runs on a sandbox of its own. The calls Hypothesis may choose next depend on
    the answers so far (a link is followed from a 2xx only), so the same choices must meet the
    same answers each time Hypothesis makes them. On one sandbox shared by all sequences they do
    not: an Idempotency-Key drawn again replays an earlier sequence's session, perhaps expired
    since, and Hypothesis stops with FlakyStrategyDefinition.
    """

    def setup(self) -> None:
        self.sandbox = create_app(CONFIG)

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"app": self.sandbox}

    def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
        case.validate_response(response, checks=CHECKS)


TestLinkedCalls = LinkedCalls.TestCase
TestLinkedCalls.settings = settings(QUIET, max_examples=25, stateful_step_count=8)


def test_the_same_calls_meet_the_same_answers_in_every_sequence() -> None:
    """What Hypothesis needs of LinkedCalls: a session created with an Idempotency-Key and
    expired in one sequence is created anew by the same call in the next, and expires again."""
    auth = {"Authorization": f"Bearer {KEY}"}
    body = {"amount": 1000, "currency": "usd", "success_url": "https://shop.example/ok",
            "cancel_url": "https://shop.example/cancel"}

    def one_sequence() -> list[int]:
        machine = LinkedCalls()
        create = schema["/checkout-sessions"]["POST"].Case(
            body=body, headers={**auth, "Idempotency-Key": "drawn-again"})
        created = machine.call(create, **machine.get_call_kwargs(create))
        expire = schema["/checkout-sessions/{id}/expire"]["POST"].Case(
            path_parameters={"id": created.json()["id"]}, headers=auth)
        expired = machine.call(expire, **machine.get_call_kwargs(expire))
        machine.teardown()
        return [created.status_code, expired.status_code]

    assert one_sequence() == one_sequence() == [200, 200]

POST_PATHS = [
    "/checkout-sessions",
    "/checkout-sessions/{session}/expire",
    "/payment-intents/{intent}/cancel",
    "/webhook-endpoints",
    "/test-helpers/checkout-sessions/{session}/pay",
    "/test-helpers/payment-intents/{intent}/authenticate",
    "/test-helpers/charges/{charge}/network-response",
    "/test-helpers/clock/advance",
]


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A function, not a lambda over several lines: Hypothesis reads the source to check that
    # `extend` uses its argument, cannot find it in such a lambda, and warns (an error to come).
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    _containers,
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "amount",
        "currency",
        "success_url",
        "cancel_url",
        "expires_in",
        "metadata",
        "card_number",
        "outcome",
        "seconds",
        "url",
        "x",
    ]
)
near_valid_bodies = (
    st.dictionaries(field_names, json_values, max_size=6).map(json.dumps).map(str.encode)
)
bodies = st.one_of(
    near_valid_bodies, json_values.map(json.dumps).map(str.encode), st.binary(max_size=64)
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[InProcessApp]:
    with InProcessApp(create_app(CONFIG)) as running:
        yield running


keys = st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8)


@given(path=st.sampled_from(POST_PATHS), body=bodies, key=keys)
@settings(QUIET, max_examples=150)
def test_arbitrary_bodies_never_break_a_post(
    sandbox: InProcessApp, path: str, body: bytes, key: str | None
) -> None:
    merchant = Merchant(sandbox, KEY)
    session = merchant.create_session()
    intent = merchant.pay(session["id"], "4000000000003220")
    ids = {"session": session["id"], "intent": intent["id"], "charge": intent["latest_charge"]}
    headers = {} if key is None else {"Idempotency-Key": key}
    response = merchant.call("POST", path.format(**ids), raw=body, headers=headers)
    assert response.status_code < 500
    openapi().check_answer("POST", path.format(**ids), response.status_code, response.json())
