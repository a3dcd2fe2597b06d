"""Checks spec/openapi.yaml: a valid OpenAPI 3.1 document that agrees with spec/cxpay.yaml.

The formal spec refers to the OpenAPI file by operationId and by event type, and the object
schemas carry its state names; these tests keep the two files in step. They also validate
example objects and request bodies against the component schemas with jsonschema (Draft
2020-12, resolving `#/components/...` inside the document), so a loosened or broken schema
shows up here, and they load the file with Schemathesis to prove standard tools can use it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[1]
OPENAPI_PATH = ROOT / "spec" / "openapi.yaml"
CXPAY_PATH = ROOT / "spec" / "cxpay.yaml"

# The document is registered under this URI so that `$ref: '#/components/...'` inside any
# schema we validate with resolves against the whole document.
DOCUMENT_URI = "urn:cxpay:openapi"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
JSON = "application/json"

Document = dict[str, Any]


@pytest.fixture(scope="module")
def openapi() -> Document:
    return yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cxpay() -> Document:
    return yaml.safe_load(CXPAY_PATH.read_text(encoding="utf-8"))


def schema_name(object_name: str) -> str:
    """The component schema of a cxpay.yaml object: `checkout_session` -> `CheckoutSession`."""
    return "".join(part.capitalize() for part in object_name.split("_"))


def operations(doc: Document) -> dict[str, tuple[str, str, Document]]:
    """Every operation by operationId, as (method, path, operation)."""
    found = {}
    for path, item in doc["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                found[item[method]["operationId"]] = (method, path, item[method])
    return found


def resolve(doc: Document, node: Document) -> Document:
    """Follow a local `$ref` (possibly several) to the node it names."""
    while "$ref" in node and len(node) == 1:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def parameters_of(doc: Document, path: str, method: str) -> list[Document]:
    item = doc["paths"][path]
    listed = item.get("parameters", []) + item[method].get("parameters", [])
    return [resolve(doc, parameter) for parameter in listed]


def validator(doc: Document, pointer: str) -> jsonschema.Draft202012Validator:
    """A validator for the schema at `pointer` (e.g. `/components/schemas/Charge`)."""
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, DRAFT202012.create_resource(doc)
    )
    return jsonschema.Draft202012Validator({"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=registry)


def component(doc: Document, name: str) -> jsonschema.Draft202012Validator:
    return validator(doc, f"/components/schemas/{name}")


def emitted_types(cxpay: Document) -> dict[str, tuple[str, str]]:
    """Every event type a state emits, with its (object, state)."""
    return {
        state["emits"]: (object_name, state_name)
        for object_name, spec in cxpay["objects"].items()
        for state_name, state in spec["states"].items()
    }


def error_codes(doc: Document, response: Document) -> set[str]:
    """The error codes a (resolved) error response allows, from its narrowing of Error."""
    schema = response["content"][JSON]["schema"]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}
    code = schema["allOf"][1]["properties"]["error"]["properties"]["code"]
    return {code["const"]} if "const" in code else set(code["enum"])


def example(doc: Document, name: str) -> Document:
    return copy.deepcopy(doc["components"]["schemas"][name]["examples"][0])


# --- the document as a whole ---------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(openapi: Document) -> None:
    assert openapi["openapi"] == "3.1.0"
    validate(openapi)


def _drop_info_title(doc: Document) -> None:
    del doc["info"]["title"]


def _dangle_a_ref(doc: Document) -> None:
    response = doc["paths"]["/charges/{id}"]["get"]["responses"]["200"]
    response["content"][JSON]["schema"] = {"$ref": "#/components/schemas/Refund"}


@pytest.mark.parametrize("damage", [_drop_info_title, _dangle_a_ref])
def test_the_validator_rejects_a_broken_copy(openapi: Document, damage: Any) -> None:
    # Proves the check above has teeth: structure and references are both checked.
    broken = copy.deepcopy(openapi)
    damage(broken)
    with pytest.raises((OpenAPIValidationError, Unresolvable)):
        validate(broken)


def test_info_server_and_global_bearer_auth(openapi: Document) -> None:
    assert (openapi["info"]["title"], openapi["info"]["version"]) == ("CX Pay API", "1.0")
    assert "http://127.0.0.1:8000" in [server["url"] for server in openapi["servers"]]
    scheme = openapi["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert openapi["security"] == [{"bearerAuth": []}]


# --- operations ----------------------------------------------------------------------------


def test_every_operation_named_by_cxpay_exists(openapi: Document, cxpay: Document) -> None:
    named = {event["operation"] for event in cxpay["events"].values()}
    missing = named - operations(openapi).keys()
    assert not missing, f"cxpay.yaml names operations openapi.yaml lacks: {sorted(missing)}"


def test_operations_are_tagged_by_audience(openapi: Document) -> None:
    for operation_id, (_, path, operation) in operations(openapi).items():
        expected = "test-helpers" if path.startswith("/test-helpers/") else "merchant"
        assert operation["tags"] == [expected], operation_id


def test_every_post_takes_an_idempotency_key(openapi: Document) -> None:
    for operation_id, (method, path, _) in operations(openapi).items():
        keys = [
            parameter
            for parameter in parameters_of(openapi, path, method)
            if parameter["name"] == "Idempotency-Key"
        ]
        if method != "post":
            assert not keys, f"{operation_id} is not a POST but takes an Idempotency-Key"
            continue
        assert len(keys) == 1, f"{operation_id} lacks the Idempotency-Key header"
        assert keys[0]["in"] == "header"
        assert keys[0]["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}


def test_error_responses_follow_the_contract(openapi: Document, cxpay: Document) -> None:
    rejected = {event["operation"] for event in cxpay["events"].values() if "rejection" in event}
    for operation_id, (method, path, operation) in operations(openapi).items():
        responses = {
            status: resolve(openapi, response)
            for status, response in operation["responses"].items()
        }
        assert "200" in responses, operation_id
        assert error_codes(openapi, responses["401"]) == {"api_key_missing", "api_key_invalid"}
        if "{id}" in path:
            assert error_codes(openapi, responses["404"]) == {"resource_missing"}, operation_id
        if method == "post":
            assert "idempotency_key_reused" in error_codes(openapi, responses["400"])
            assert "idempotency_key_in_use" in error_codes(openapi, responses["409"])
        expected_invalid_state = operation_id in rejected
        has_invalid_state = "409" in responses and "invalid_state" in error_codes(
            openapi, responses["409"]
        )
        assert has_invalid_state == expected_invalid_state, operation_id


def test_bodies_of_parameterless_posts_are_optional(openapi: Document) -> None:
    for operation_id in ("expireCheckoutSession", "cancelPaymentIntent", "respondToCharge"):
        _, _, operation = operations(openapi)[operation_id]
        body = resolve(openapi, operation["requestBody"])
        assert body.get("required", False) is False, operation_id
        check = validator(openapi, "/components/schemas/NoParametersRequest")
        assert check.is_valid({})
        assert not check.is_valid({"reason": "duplicate"})


# --- request bodies ------------------------------------------------------------------------

VALID_CREATE = {
    "amount": 2000,
    "currency": "usd",
    "success_url": "https://shop.example/thanks",
    "cancel_url": "http://shop.example/cart",
}


@pytest.mark.parametrize(
    "change",
    [
        {"expires_in": 1800},
        {"expires_in": 86400},
        {"metadata": {f"k{i}": "v" for i in range(20)}},
        {"amount": 1},
    ],
)
def test_create_checkout_session_accepts(openapi: Document, change: Document) -> None:
    component(openapi, "CreateCheckoutSessionRequest").validate({**VALID_CREATE, **change})


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 0},
        {"amount": "2000"},
        {"currency": "USD"},
        {"currency": "usdx"},
        {"success_url": "ftp://shop.example/thanks"},
        {"cancel_url": "/cart"},
        {"expires_in": 1799},
        {"expires_in": 86401},
        {"metadata": {f"k{i}": "v" for i in range(21)}},
        {"metadata": {"order_id": 6735}},
        {"customer": "cus_1"},
    ],
)
def test_create_checkout_session_rejects(openapi: Document, change: Document) -> None:
    assert not component(openapi, "CreateCheckoutSessionRequest").is_valid(
        {**VALID_CREATE, **change}
    )


def test_create_checkout_session_requires_its_four_parameters(openapi: Document) -> None:
    check = component(openapi, "CreateCheckoutSessionRequest")
    for name in VALID_CREATE:
        assert not check.is_valid({k: v for k, v in VALID_CREATE.items() if k != name}), name


def test_helper_bodies(openapi: Document) -> None:
    pay = component(openapi, "PayCheckoutSessionRequest")
    # Exactly the six test cards: any other number is a 400 from the server, so the schema
    # says so too, and schema-driven tools generate only bodies a test-mode pay accepts.
    assert pay.is_valid({"card_number": "4242424242424242"})
    assert pay.is_valid({"card_number": "4000008400001629"})
    assert not pay.is_valid({"card_number": "4111111111111111"})
    assert not pay.is_valid({"card_number": 4242424242424242})
    assert not pay.is_valid({})
    authenticate = component(openapi, "AuthenticatePaymentIntentRequest")
    assert authenticate.is_valid({"outcome": "pass"})
    assert not authenticate.is_valid({"outcome": "maybe"})
    advance = component(openapi, "AdvanceTestClockRequest")
    assert advance.is_valid({"seconds": 1})
    assert not advance.is_valid({"seconds": 0})
    endpoint = component(openapi, "CreateWebhookEndpointRequest")
    assert endpoint.is_valid({"url": "https://shop.example/hooks"})
    assert not endpoint.is_valid({"url": "mailto:ops@shop.example"})


# --- objects -------------------------------------------------------------------------------


def test_status_enums_are_the_cxpay_states(openapi: Document, cxpay: Document) -> None:
    for object_name, spec in cxpay["objects"].items():
        status = openapi["components"]["schemas"][schema_name(object_name)]["properties"]["status"]
        assert set(status["enum"]) == set(spec["states"]), object_name


def test_id_patterns_use_the_cxpay_prefixes(openapi: Document, cxpay: Document) -> None:
    for object_name, spec in cxpay["objects"].items():
        id_schema = resolve(
            openapi, openapi["components"]["schemas"][schema_name(object_name)]["properties"]["id"]
        )
        assert id_schema["pattern"] == f"^{spec['prefix']}[A-Za-z0-9_-]{{16,}}$"


def test_failure_codes_are_the_ones_cxpay_can_give(openapi: Document, cxpay: Document) -> None:
    def literal_codes(node: Any) -> set[str]:
        if isinstance(node, list):
            return set().union(*map(literal_codes, node))
        if not isinstance(node, dict):
            return set()
        codes = {
            value
            for key, value in node.items()
            if key in ("failure_code", "code") and isinstance(value, str)
            if not value.startswith("$")
        }
        return codes.union(*map(literal_codes, node.values()))

    expected = set(cxpay["cards"]["attributes"]["decline_code"]) | literal_codes(
        cxpay["transitions"]
    )
    schemas = openapi["components"]["schemas"]
    assert set(schemas["FailureCode"]["enum"]) == expected
    assert set(schemas["Charge"]["properties"]["failure_code"]["enum"]) == expected | {None}


def test_schema_examples_validate(openapi: Document) -> None:
    for name, schema in openapi["components"]["schemas"].items():
        for instance in schema.get("examples", []):
            component(openapi, name).validate(instance)


def test_a_payment_intent_with_a_charge_validates(openapi: Document) -> None:
    intent = example(openapi, "PaymentIntent")
    charge = example(openapi, "Charge")
    intent.update(status="processing", last_payment_error=None, vendor_field="kept")
    charge.update(status="pending", failure_code=None)
    assert intent["latest_charge"] == charge["id"]
    component(openapi, "PaymentIntent").validate(intent)
    component(openapi, "Charge").validate(charge)
    fresh = {**intent, "status": "requires_payment_method", "charges": [], "latest_charge": None}
    component(openapi, "PaymentIntent").validate(fresh)


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("CheckoutSession", "id", "pi_7Hq2LmX9vT4kWp3Rz8Nd"),
        ("CheckoutSession", "id", "cs_short"),
        ("CheckoutSession", "status", "paid"),
        ("CheckoutSession", "object", "session"),
        ("CheckoutSession", "payment_intent", None),
        ("CheckoutSession", "metadata", {"order_id": 6735}),
        ("PaymentIntent", "status", "complete"),
        ("PaymentIntent", "charges", ["cs_9Vd4Rt7YuI2oPa5Sd8Fg"]),
        ("PaymentIntent", "latest_charge", "ch_"),
        ("PaymentIntent", "last_payment_error", {"message": "no code"}),
        ("Charge", "status", "processing"),
        ("Charge", "failure_code", "stolen_card"),
        ("Charge", "amount", 0),
    ],
)
def test_a_wrong_field_is_rejected(openapi: Document, name: str, field: str, value: Any) -> None:
    instance = example(openapi, name)
    instance[field] = value
    assert not component(openapi, name).is_valid(instance)


@pytest.mark.parametrize("name", ["CheckoutSession", "PaymentIntent", "Charge"])
def test_every_listed_field_is_required(openapi: Document, name: str) -> None:
    instance = example(openapi, name)
    check = component(openapi, name)
    for field in instance:
        assert not check.is_valid({k: v for k, v in instance.items() if k != field}), field


def test_error_bodies(openapi: Document) -> None:
    check = component(openapi, "Error")
    body = {
        "error": {
            "type": "invalid_request_error",
            "code": "parameter_invalid",
            "message": "card_number must be a test card.",
            "param": "card_number",
        }
    }
    check.validate(body)
    auth = {"type": "authentication_error", "code": "api_key_invalid", "message": "Bad key."}
    check.validate({"error": {**auth, "param": None}})
    assert not check.is_valid({"error": auth})  # param is required, even when null
    assert not check.is_valid({"error": {**body["error"], "code": "card_declined"}})
    assert not check.is_valid({"error": {**body["error"], "type": "authentication_error"}})
    assert not check.is_valid(body["error"])  # the envelope is required


def test_event_lists_and_the_event_object_kind(openapi: Document) -> None:
    charge = {**example(openapi, "Charge"), "status": "succeeded", "failure_code": None}
    event = {
        "id": "evt_1Qa2Ws3Ed4Rf5Tg6Yh7",
        "object": "event",
        "type": "charge.succeeded",
        "created": 1767225700,
        "data": {"object": charge},
    }
    component(openapi, "EventList").validate({"object": "list", "data": [event], "has_more": False})
    check = component(openapi, "Event")
    assert not check.is_valid({**event, "type": "payment_intent.succeeded"})
    assert not check.is_valid({**event, "type": "charge.refunded"})
    assert not check.is_valid({**event, "id": "ev_1Qa2Ws3Ed4Rf5Tg6Yh7"})


# --- webhooks ------------------------------------------------------------------------------


def test_webhooks_are_exactly_the_emitted_types(openapi: Document, cxpay: Document) -> None:
    emitted = set(emitted_types(cxpay))
    webhooks = set(openapi["webhooks"])
    assert emitted - webhooks == set(), "emitted types without a webhook entry"
    assert webhooks - emitted == set(), "webhook entries no state emits"
    event_types = openapi["components"]["schemas"]["Event"]["properties"]["type"]["enum"]
    assert set(event_types) == emitted


def test_each_webhook_body_is_its_event(openapi: Document, cxpay: Document) -> None:
    for event_type, (object_name, state) in emitted_types(cxpay).items():
        post = openapi["webhooks"][event_type]["post"]
        headers = {p["name"] for p in (resolve(openapi, p) for p in post["parameters"])}
        assert "CXPay-Signature" in headers, event_type
        assert any(status.startswith("2") for status in post["responses"]), event_type
        pointer = f"/webhooks/{event_type}/post/requestBody/content/application~1json/schema"
        check = validator(openapi, pointer)
        changed = {**example(openapi, schema_name(object_name)), "status": state}
        event = {
            "id": "evt_1Qa2Ws3Ed4Rf5Tg6Yh7",
            "object": "event",
            "type": event_type,
            "created": 1767225700,
            "data": {"object": changed},
        }
        check.validate(event)
        other_type = next(t for t in emitted_types(cxpay) if t != event_type)
        assert not check.is_valid({**event, "type": other_type}), event_type
        other_state = next(s for s in cxpay["objects"][object_name]["states"] if s != state)
        stale = {**event, "data": {"object": {**changed, "status": other_state}}}
        assert not check.is_valid(stale), event_type


def test_the_signature_header_format(openapi: Document) -> None:
    header = openapi["components"]["parameters"]["CXPaySignature"]
    check = jsonschema.Draft202012Validator(header["schema"])
    assert check.is_valid(f"t=1767225600,v1={'ab' * 32}")
    assert not check.is_valid(f"v1={'ab' * 32}")
    assert not check.is_valid("t=1767225600,v1=xyz")


# --- links for stateful testing ------------------------------------------------------------

REQUIRED_LINKS = {
    ("createCheckoutSession", "getCheckoutSession", "$response.body#/id"),
    ("createCheckoutSession", "expireCheckoutSession", "$response.body#/id"),
    ("createCheckoutSession", "payCheckoutSession", "$response.body#/id"),
    ("createCheckoutSession", "getPaymentIntent", "$response.body#/payment_intent"),
    ("createCheckoutSession", "cancelPaymentIntent", "$response.body#/payment_intent"),
    ("createCheckoutSession", "authenticatePaymentIntent", "$response.body#/payment_intent"),
    ("payCheckoutSession", "getPaymentIntent", "$response.body#/id"),
    ("payCheckoutSession", "getCharge", "$response.body#/latest_charge"),
    ("payCheckoutSession", "respondToCharge", "$response.body#/latest_charge"),
    ("createWebhookEndpoint", "deleteWebhookEndpoint", "$response.body#/id"),
}


def test_links_chain_the_operations(openapi: Document) -> None:
    ops = operations(openapi)
    found = set()
    for source, (_, _, operation) in ops.items():
        response = resolve(openapi, operation["responses"]["200"])
        body = resolve(openapi, response["content"][JSON]["schema"])
        for name, link in response.get("links", {}).items():
            target = link["operationId"]
            assert target in ops, f"{source} links ({name}) to unknown {target}"
            method, path, _ = ops[target]
            accepted = {p["name"] for p in parameters_of(openapi, path, method)}
            for parameter, expression in link["parameters"].items():
                assert parameter in accepted, f"{source}.{name}: {target} has no {parameter}"
                field = expression.removeprefix("$response.body#/")
                assert field in body["required"], f"{source}.{name}: no field {field}"
                found.add((source, target, expression))
    assert REQUIRED_LINKS - found == set()


# --- standard tools ------------------------------------------------------------------------


def test_schemathesis_loads_every_operation(openapi: Document) -> None:
    schema = schemathesis.openapi.from_path(str(OPENAPI_PATH))
    loaded = {result.ok().label for result in schema.get_all_operations()}
    declared = {
        f"{method.upper()} {path}"
        for path, item in openapi["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }
    assert loaded == declared
    assert len(declared) == 13
    schema.as_state_machine()  # the links build into a stateful test


def currency_enums(node: Any, where: str = "#") -> dict[str, list[str]]:
    """Every `currency` property with an `enum` in the document, by its JSON pointer."""
    found: dict[str, list[str]] = {}
    if isinstance(node, dict):
        currency = node.get("properties", {}).get("currency") if isinstance(node.get("properties"), dict) else None
        if isinstance(currency, dict) and "enum" in currency:
            found[f"{where}/properties/currency"] = currency["enum"]
        for key, value in node.items():
            found.update(currency_enums(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.update(currency_enums(value, f"{where}/{index}"))
    return found


def test_currency_enum_agrees_with_the_sandbox(openapi: Document) -> None:
    """The ISO 4217 list is written twice on purpose: the sandbox never reads the spec (it is an
    implementation, not a mirror), and the contract states the list for everyone else. This
    keeps the two the same, so an added or withdrawn currency is changed in both."""
    from cxpay_conformance.server.currencies import CURRENCIES

    enums = currency_enums(openapi)
    assert enums, "no `currency` property with an enum in spec/openapi.yaml"
    for where, enum in enums.items():
        assert len(enum) == len(set(enum)), f"{where}: duplicate codes"
        assert set(enum) == CURRENCIES, (
            f"{where} and server/currencies.py disagree: only in the spec "
            f"{sorted(set(enum) - CURRENCIES)}, only in the sandbox {sorted(CURRENCIES - set(enum))}"
        )
