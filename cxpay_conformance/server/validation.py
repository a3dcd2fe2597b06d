"""Reading a request's JSON body and checking its fields, each check raising the 400 answer
the contract names (``body_invalid``, ``parameter_unknown``, ``parameter_missing``,
``parameter_invalid``) with ``param`` set and a message that shows what would be accepted.

The functions here know JSON and field shapes, not operations; :mod:`.parameters` says which
fields each operation takes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from cxpay_conformance.server import api_errors
from cxpay_conformance.server.currencies import CURRENCIES

JsonObject = Mapping[str, Any]

MAX_URL_LENGTH = 2048
MAX_METADATA_KEYS = 20
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500

_DIGITS = re.compile(r"[0-9]{1,9}")


def parse_json_object(raw: bytes) -> JsonObject | None:
    """The body as a JSON object; None when there is no body at all."""
    if not raw.strip():
        return None
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_object_without_duplicates,
            parse_constant=_no_constants,
        )
    except RecursionError:
        raise api_errors.body_invalid(
            "The body nests too deeply; send a flat JSON object."
        ) from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise api_errors.body_invalid(
            f"The body is not valid UTF-8 JSON ({exc}); send a JSON object such as "
            '{"amount": 2000, "currency": "usd", ...}.'
        ) from None
    if not isinstance(value, dict):
        raise api_errors.body_invalid(
            f"The body must be a JSON object; this one is {_json_kind(value)}."
        )
    return value


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} appears twice")
        found[key] = value
    return found


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def expect_fields(
    body: JsonObject | None, required: Sequence[str], optional: Sequence[str] = ()
) -> JsonObject:
    """Refuse a field the operation does not take, then a missing one; answer the body."""
    body = body or {}
    allowed = (*required, *optional)
    for name in body:
        if name not in allowed:
            raise api_errors.parameter_unknown(name, allowed)
    for name in required:
        if name not in body:
            raise api_errors.parameter_missing(name)
    return body


def integer(body: JsonObject, name: str, minimum: int, maximum: int | None = None) -> int:
    """``body[name]`` as an integer in bounds. A number with a zero fraction (``2000.0``) is the
    integer it equals, as JSON Schema's ``type: integer`` (and so spec/openapi.yaml) reads it;
    ``true`` is not a number."""
    value = body[name]
    if type(value) is float and value.is_integer():
        value = int(value)
    bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
    if type(value) is not int or value < minimum or (maximum is not None and value > maximum):
        raise api_errors.parameter_invalid(
            name, f"{name} must be an integer {bounds}; got {_shown(value)}."
        )
    return value


def string(body: JsonObject, name: str, hint: str = "") -> str:
    value = body[name]
    if not isinstance(value, str):
        raise api_errors.parameter_invalid(
            name, f"{name} must be a string{hint}; got {_shown(value)}."
        )
    return value


def choice(body: JsonObject, name: str, choices: Sequence[str]) -> str:
    value = body[name]
    if not isinstance(value, str) or value not in choices:
        raise api_errors.parameter_invalid(
            name, f"{name} must be one of {', '.join(choices)}; got {_shown(value)}."
        )
    return value


def currency(body: JsonObject, name: str) -> str:
    value = string(body, name, " (an ISO 4217 code in lower case, e.g. usd)")
    if value not in CURRENCIES:
        hint = " Write it in lower case." if value.lower() in CURRENCIES else ""
        raise api_errors.parameter_invalid(
            name,
            f"{name} must be an ISO 4217 currency code in lower case, such as usd or eur; "
            f"got {_shown(value)}.{hint}",
        )
    return value


def http_url(body: JsonObject, name: str) -> str:
    """An absolute http(s) URL of printable ASCII (percent-encode anything else)."""
    value = string(body, name, " (an absolute http(s) URL)")
    problem = url_problem(value)
    if problem:
        raise api_errors.parameter_invalid(
            name,
            f"{name} must be an absolute http or https URL such as https://shop.example/done; "
            f"{problem}.",
        )
    return value


def url_problem(value: str) -> str:
    """Why ``value`` is not an absolute http(s) URL, or '' when it is one."""
    if len(value) > MAX_URL_LENGTH:
        return f"this one is longer than {MAX_URL_LENGTH} characters"
    if not value.isascii() or not value.isprintable() or " " in value:
        return "this one has spaces or characters outside printable ASCII (percent-encode them)"
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError as exc:
        return f"this one cannot be parsed ({exc})"
    if not value.startswith(("http://", "https://")):  # the scheme in lower case, as OpenAPI's
        return f"got {_shown(value)}"
    if not parts.hostname:
        return "this one has no host"
    return ""


def metadata(body: JsonObject, name: str) -> dict[str, str]:
    value = body[name]
    if not isinstance(value, dict):
        raise api_errors.parameter_invalid(
            name, f"{name} must be an object of string keys to string values; got {_shown(value)}."
        )
    if len(value) > MAX_METADATA_KEYS:
        raise api_errors.parameter_invalid(
            name, f"{name} may have at most {MAX_METADATA_KEYS} keys; this one has {len(value)}."
        )
    for key, item in value.items():
        if not 1 <= len(key) <= MAX_METADATA_KEY_LENGTH:
            raise api_errors.parameter_invalid(
                name,
                f"{name} keys must be 1-{MAX_METADATA_KEY_LENGTH} characters; "
                f"{_shown(key)} is not.",
            )
        if not isinstance(item, str) or len(item) > MAX_METADATA_VALUE_LENGTH:
            raise api_errors.parameter_invalid(
                name,
                f"{name} values must be strings of at most {MAX_METADATA_VALUE_LENGTH} "
                f"characters; the value of {_shown(key)} is not.",
            )
    return dict(value)


def query_values(query: Sequence[tuple[str, str]], allowed: Sequence[str]) -> dict[str, str]:
    """The query string's parameters, each given at most once and each one ``allowed``."""
    found: dict[str, str] = {}
    for name, value in query:
        if name not in allowed:
            raise api_errors.parameter_unknown(name, tuple(allowed))
        if name in found:
            raise api_errors.parameter_invalid(name, f"{name} is given twice; give it once.")
        found[name] = value
    return found


def query_integer(name: str, value: str, minimum: int, maximum: int) -> int:
    if not _DIGITS.fullmatch(value) or not minimum <= int(value) <= maximum:
        raise api_errors.parameter_invalid(
            name, f"{name} must be an integer between {minimum} and {maximum}; got {_shown(value)}."
        )
    return int(value)


def _shown(value: Any) -> str:
    """A value as a message quotes it: JSON, cut short; containers by their kind only (a
    deeply nested one could not even be printed)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
