"""Hypothesis strategies for request bodies, from the JSON Schemas in ``spec/openapi.yaml``.

This covers the part of JSON Schema that request bodies use (objects with required and
optional properties, integers with bounds, strings with enums, patterns, lengths and the
``uri`` format, maps with bounded keys) and refuses anything else with a clear message.
(hypothesis-jsonschema does this in general, but it reaches into Hypothesis internals and
breaks with current Hypothesis releases, so the suite does not depend on it.)
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from cxpay_conformance.errors import UsageError

_HANDLED = {
    "type", "properties", "required", "additionalProperties", "maxProperties", "minProperties",
    "propertyNames", "minimum", "maximum", "enum", "const", "pattern", "format", "minLength",
    "maxLength", "description", "examples", "default", "title",
}


def from_schema(schema: dict[str, Any], where: str = "the request body") -> st.SearchStrategy[Any]:
    """Values valid against ``schema`` (refs already inlined).

    >>> from_schema({"type": "integer", "minimum": 1, "maximum": 3}).example() in (1, 2, 3)
    True
    """
    unknown = sorted(set(schema) - _HANDLED)
    if unknown:
        raise UsageError(f"{where}: the suite cannot generate values for JSON Schema keyword(s) "
                         f"{', '.join(unknown)}; simplify the request schema in spec/openapi.yaml")
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, where)
    if kind == "integer":
        low = schema.get("minimum", -(2**31))
        high = schema.get("maximum", low + 10**9)
        return st.integers(low, high)
    if kind == "string":
        return _string(schema)
    if kind == "boolean":
        return st.booleans()
    raise UsageError(f"{where}: the suite cannot generate values of type {kind!r}")


def _object(schema: dict[str, Any], where: str) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties") or {}
    if properties:
        required = set(schema.get("required") or ())
        fields = {name: from_schema(sub, f"{where}.{name}") for name, sub in properties.items()}
        return st.fixed_dictionaries(
            {name: s for name, s in fields.items() if name in required},
            optional={name: s for name, s in fields.items() if name not in required},
        )
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        names = schema.get("propertyNames") or {}
        keys = st.text(min_size=names.get("minLength", 0), max_size=names.get("maxLength", 40))
        return st.dictionaries(keys, from_schema(values, f"{where} values"),
                               min_size=schema.get("minProperties", 0),
                               max_size=schema.get("maxProperties", 10))
    return st.just({})


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if schema.get("format") == "uri":
        strategy = _URIS
    elif "pattern" in schema:
        strategy = st.from_regex(schema["pattern"], fullmatch=True)
    else:
        strategy = st.text(min_size=low, max_size=high if high is not None else 50)
    if low or high is not None:
        strategy = strategy.filter(lambda s: len(s) >= low and (high is None or len(s) <= high))
    return strategy


def _label(longest_tail: int) -> st.SearchStrategy[str]:
    """A host label: a lower-case letter, then up to ``longest_tail`` letters, digits or dashes."""
    return st.builds(str.__add__, st.sampled_from(string.ascii_lowercase),
                     st.text(string.ascii_lowercase + string.digits + "-", max_size=longest_tail))


# Absolute http(s) URLs with a host and a path: what every "url" field of the contract takes.
# The host is [a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,15}){0,2} and the path
# (/[A-Za-z0-9._~-]{0,12}){0,4}, drawn a label or a segment at a time: st.from_regex draws
# each character on its own, which made one URL cost milliseconds, most of the time the suite
# spent generating (see docs/benchmarks.md).
_HOSTS = st.builds(lambda first, more: ".".join([first, *more]), _label(20), st.lists(_label(15), max_size=2))
_PATHS = st.lists(st.text(string.ascii_letters + string.digits + "._~-", max_size=12), max_size=4).map(
    lambda segments: "".join("/" + segment for segment in segments))
_URIS = st.builds("{}://{}.example{}".format, st.sampled_from(["http", "https"]), _HOSTS, _PATHS)
