"""Authentication (401 before anything else) and tenant isolation: another merchant's ids
answer exactly as unknown ids do, and events, endpoints and clocks are per merchant."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.sandbox_client import APPROVED, THREE_DS_APPROVED, Merchant, Transport

REQUESTS = [
    ("POST", "/checkout-sessions", {"amount": 1}),
    ("GET", "/checkout-sessions/cs_x", None),
    ("POST", "/checkout-sessions/cs_x/expire", None),
    ("GET", "/payment-intents/pi_x", None),
    ("POST", "/payment-intents/pi_x/cancel", None),
    ("GET", "/charges/ch_x", None),
    ("GET", "/events", None),
    ("POST", "/webhook-endpoints", {"url": "nope"}),
    ("DELETE", "/webhook-endpoints/we_x", None),
    ("POST", "/test-helpers/checkout-sessions/cs_x/pay", {"card_number": "1"}),
    ("POST", "/test-helpers/payment-intents/pi_x/authenticate", {}),
    ("POST", "/test-helpers/charges/ch_x/network-response", None),
    ("POST", "/test-helpers/clock/advance", {"seconds": 0}),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "api_key_missing"),
        ("", "api_key_missing"),
        ("Bearer", "api_key_missing"),
        ("Basic c2tfdGVzdDo=", "api_key_missing"),
        ("Bearer sk_test_nobody_owns_this_key_0000", "api_key_invalid"),
        ("Bearer sk_test_cxpay_merchant_a_0000000000000001x", "api_key_invalid"),
    ],
)
def test_every_operation_needs_a_known_key_first(
    transport: Transport,
    method: str,
    path: str,
    body: Any,
    authorization: str | None,
    code: str,
) -> None:
    anonymous = Merchant(transport, None)
    headers = {} if authorization is None else {"Authorization": authorization}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["body"] = body
    anonymous.fails(method, path, status=401, code=code, param=None, **kwargs)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/no-such-route"), ("DELETE", "/events"), ("PUT", "/checkout-sessions")],
)
def test_routing_errors_also_ask_for_a_key_first(
    transport: Transport, method: str, path: str
) -> None:
    response = Merchant(transport, None).call(method, path, check_openapi=False)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_missing"


def test_the_default_keys_are_not_accepted_by_a_server_given_other_keys(
    transport: Transport,
) -> None:
    stranger = Merchant(transport, "sk_test_cxpay_merchant_a_0000000000000001")
    stranger.fails("GET", "/events", status=401, code="api_key_invalid")


def _without_ids(error: dict[str, Any], *ids: str) -> dict[str, Any]:
    message = error["message"]
    for object_id in ids:
        message = message.replace(object_id, "<id>")
    return {**error, "message": message}


def test_another_merchants_ids_answer_exactly_like_unknown_ones(
    merchant: Merchant, other_merchant: Merchant
) -> None:
    session = merchant.create_session()
    intent = merchant.pay(session["id"], THREE_DS_APPROVED)
    charge_id = intent["latest_charge"]
    event_id = merchant.events()[0]["id"]
    endpoint_id = merchant.add_endpoint("http://127.0.0.1:9/hooks")["id"]
    unknown = {
        session["id"]: "cs_" + "Z" * 24,
        intent["id"]: "pi_" + "Z" * 24,
        charge_id: "ch_" + "Z" * 24,
        endpoint_id: "we_" + "Z" * 24,
    }
    probes = [
        ("GET", "/checkout-sessions/{}", session["id"], None),
        ("POST", "/checkout-sessions/{}/expire", session["id"], None),
        ("GET", "/payment-intents/{}", intent["id"], None),
        ("POST", "/payment-intents/{}/cancel", intent["id"], None),
        ("GET", "/charges/{}", charge_id, None),
        (
            "POST",
            "/test-helpers/checkout-sessions/{}/pay",
            session["id"],
            {"card_number": APPROVED},
        ),
        (
            "POST",
            "/test-helpers/payment-intents/{}/authenticate",
            intent["id"],
            {"outcome": "pass"},
        ),
        ("POST", "/test-helpers/charges/{}/network-response", charge_id, None),
        ("DELETE", "/webhook-endpoints/{}", endpoint_id, None),
    ]
    for method, template, object_id, body in probes:
        kwargs: dict[str, Any] = {} if body is None else {"body": body}
        foreign = other_merchant.fails(
            method, template.format(object_id), status=404, code="resource_missing", **kwargs
        )
        missing = other_merchant.fails(
            method,
            template.format(unknown[object_id]),
            status=404,
            code="resource_missing",
            **kwargs,
        )
        assert _without_ids(foreign, object_id) == _without_ids(missing, unknown[object_id])
    other_merchant.fails(
        "GET",
        "/events",
        params={"starting_after": event_id},
        status=404,
        code="resource_missing",
        param="starting_after",
    )
    # nothing the other merchant tried changed anything
    assert merchant.intent(intent["id"])["status"] == "requires_action"
    assert merchant.charge(charge_id)["status"] == "requires_action"


def test_events_are_per_merchant(merchant: Merchant, other_merchant: Merchant) -> None:
    merchant.create_session()
    other_merchant.create_session()
    other_merchant.create_session()
    mine, theirs = merchant.events(), other_merchant.events()
    assert len(mine) == 2 and len(theirs) == 4
    assert not {e["id"] for e in mine} & {e["id"] for e in theirs}
    assert all(e["data"]["object"]["id"] not in str(theirs) for e in mine)
