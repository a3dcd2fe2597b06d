"""Readings of the spec that it allows, played by the reference server behind a small
middleware (tests/suite/faulty.py), must pass: the suite blames none of them.

These are not faults, so they are not in the server's fault catalogue and not in
tests/suite/faulty.py's variants: each is a second, conformant way to implement one decision
of ``spec/cxpay.yaml``, and a false alarm against it is a bug of the suite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import run_suite
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.report import story
from tests.spec_variants import REAL_OPENAPI, edit, write_variant
from tests.suite.conftest import config_for
from tests.suite.faulty import Answer, Fault, Seen, serve

#: The largest amount of a create in the narrowed contract: small, so that the suite draws it
#: (and reuses its key) in most examples instead of a few per hundred.
LARGEST = 3


def narrowed_spec(tmp_path: Path) -> Path:
    """The real spec, whose OpenAPI document takes amounts of 1 to :data:`LARGEST` only."""
    largest = "maximum: 99999999\n"
    openapi = tmp_path / "openapi.yaml"
    openapi.write_text(edit(REAL_OPENAPI.read_text(encoding="utf-8"), (largest, f"maximum: {LARGEST}\n")),
                       encoding="utf-8")
    return write_variant(tmp_path, (f"openapi: {REAL_OPENAPI}\n", f"openapi: {openapi}\n"))


class ValidatesBeforeTheKey:
    """The decision "a reused key with a body that is itself invalid": this implementation
    validates the body of a create before it looks the Idempotency-Key up, so a reused key with
    an invalid body answers 400 parameter_invalid where the reference server answers 400
    idempotency_key_reused. Only keyed creates are validated here; the server validates the
    rest itself, as it always does.

    ``boundary_reused`` counts the requests that reused the key of a create sent with an
    integer at its schema's maximum: the requests whose "other parameters" once went past it.
    """

    def __init__(self, spec_path: Path) -> None:
        spec = load_spec(spec_path)
        contract = OpenAPIContract.load(spec.openapi_path)
        creating = next(e for e in spec.events.values() if e.creates)
        self.operation = contract.operations[creating.operation]
        self.schema = contract.request_schema(creating.operation)
        self.validator = contract.validator(self.schema)
        self.first_bodies: dict[str, Any] = {}
        self.boundary_reused = 0

    def at_a_maximum(self, body: dict[str, Any]) -> bool:
        properties = self.schema.get("properties") or {}
        return any(isinstance(value, int) and value == (properties.get(name) or {}).get("maximum")
                   for name, value in body.items())

    def request(self, seen: Seen) -> Seen | Answer:
        key = seen.headers.get("idempotency-key")
        if (seen.method, seen.path) != (self.operation.method, self.operation.path) or key is None:
            return seen
        try:
            body = json.loads(seen.body)
        except ValueError:
            return seen
        first = self.first_bodies.setdefault(key, body)
        if first != body and isinstance(first, dict) and self.at_a_maximum(first):
            self.boundary_reused += 1
        error = next(iter(self.validator.iter_errors(body)), None)
        if error is None:
            return seen
        param = next((str(p) for p in error.path), None)
        return Answer(400, {"error": {"type": "invalid_request_error", "code": "parameter_invalid",
                                      "message": f"Invalid parameter: {error.message}", "param": param}})


def test_validating_the_body_before_the_key_lookup_is_not_blamed(tmp_path: Path) -> None:
    """The idempotency probe reuses keys with other parameters that stay valid (the largest
    amount moves down, not up), so an implementation that validates first answers
    idempotency_key_reused like the reference server. Before that, a reused key of a create
    with the largest amount sent an invalid body, and this variant failed the run. The contract
    is narrowed to amounts of 1 to 3, so that the largest is drawn often; the variant holds the
    requests to the same narrowed contract."""
    spec_path = narrowed_spec(tmp_path)
    variant = ValidatesBeforeTheKey(spec_path)
    with serve(Fault("validates before the key", request=variant.request)) as running:
        result = run_suite(config_for(running, spec_path=str(spec_path), checks=("idempotency",),
                                      max_examples=40, max_steps=15))
    assert result.conformant, story(result)
    assert variant.boundary_reused, "the probe never reused the key of a create with the largest amount"
