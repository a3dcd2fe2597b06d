"""Request bodies: generated from the OpenAPI request schemas, and filled from event parameters.

The creating event's body is generated from its operation's JSON Schema
(:mod:`.schema_strategies`), so every optional field and odd-but-valid value (long
metadata, unicode, the largest amount) gets tried. Other events carry just their spec parameters
(the test card, a 3D Secure outcome); the clock's body is its operation's one required field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from hypothesis import strategies as st

from cxpay_conformance.spec import Event, Spec
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.schema_strategies import from_schema


def create_bodies(spec: Spec, contract: OpenAPIContract) -> st.SearchStrategy[dict[str, Any]]:
    """Valid request bodies for the spec's creating event."""
    creating = next(e for e in spec.events.values() if e.creates)
    schema = contract.operations[creating.operation].request_schema
    if schema is None:
        return st.just({})
    # The request schema is an object schema, so every value drawn is a dict.
    return cast(st.SearchStrategy[dict[str, Any]], from_schema(contract.resolved(schema), creating.operation))


def body_for(spec: Spec, contract: OpenAPIContract, event: Event, params: Mapping[str, Any],
             *, amount: int | None = None) -> dict[str, Any] | None:
    """The body that performs ``event`` with ``params``; ``amount`` fills a lone required number."""
    if params:
        return dict(params)
    if amount is None:
        return None
    schema = contract.resolved(contract.operations[event.operation].request_schema or {})
    required = schema.get("required") or []
    if len(required) != 1:
        raise ValueError(f"{event.operation} must take exactly one required parameter to carry {amount}")
    return {required[0]: amount}


def mutated(spec: Spec, body: Any, schema: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The same request with other, still valid, parameters (for reusing an Idempotency-Key), or None.

    ``schema`` is the operation's resolved request schema: an integer moves one step within its
    ``minimum``/``maximum``, so an implementation that validates the body before it looks the key
    up still answers the key's conflict, not ``parameter_invalid``.

    Example: with ``{"amount": {"maximum": 99999999}}`` in ``schema``, ``{"amount": 99999999}``
    becomes ``{"amount": 99999998}``.
    """
    if not isinstance(body, dict) or not body:
        return None
    choices: dict[str, tuple[str, ...]] = {spec.cards.parameter: tuple(sorted(spec.cards.numbers))}
    for event in spec.events.values():
        choices.update(event.parameters)
    properties = (schema or {}).get("properties") or {}
    for name, value in sorted(body.items()):
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            bounds = properties.get(name) or {}
            for other in (value + 1, value - 1):
                if bounds.get("minimum", other) <= other <= bounds.get("maximum", other):
                    return {**body, name: other}
            continue
        others = [v for v in choices.get(name, ()) if v != value]
        if others:
            return {**body, name: others[0]}
    return None
