"""Spec loading: ``cxpay.yaml`` to frozen, typed objects. Knows nothing of HTTP or models."""

from __future__ import annotations

from cxpay_conformance.spec.loader import default_spec_path, load_spec, parse_spec
from cxpay_conformance.spec.types import (
    Card,
    Cards,
    Condition,
    Decision,
    Due,
    Effect,
    Event,
    Invariant,
    Link,
    ObjectType,
    Protocol,
    Rejection,
    Spec,
    State,
    Transition,
)

__all__ = [
    "Card",
    "Cards",
    "Condition",
    "Decision",
    "Due",
    "Effect",
    "Event",
    "Invariant",
    "Link",
    "ObjectType",
    "Protocol",
    "Rejection",
    "Spec",
    "State",
    "Transition",
    "default_spec_path",
    "load_spec",
    "parse_spec",
]
