"""Field values in transitions: the small expression language of ``fields:`` in the spec.

A value is a literal (string, number, ``null``), a reference (``$param.<name>``: a request
parameter or the event's default; ``$card.<attribute>``: the card's behaviour; ``$now``: the
test clock), ``{sum: [values...]}``, or a mapping whose values are values. Nothing is
evaluated as Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def evaluate(value: Any, scope: Mapping[str, Any]) -> Any:
    """The value of a spec field expression in ``scope`` (``params``, ``card``, ``now``).

    >>> evaluate({"sum": ["$now", "$param.expires_in"]}, {"now": 10, "params": {"expires_in": 5}})
    15
    """
    if isinstance(value, str) and value.startswith("$"):
        return _reference(value, scope)
    if isinstance(value, Mapping):
        if set(value) == {"sum"}:
            return sum(evaluate(item, scope) for item in value["sum"])
        return {key: evaluate(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    return value


def _reference(reference: str, scope: Mapping[str, Any]) -> Any:
    if reference == "$now":
        return scope.get("now")
    source, _, name = reference[1:].partition(".")
    if source == "param":
        return scope.get("params", {}).get(name)
    if source == "card":
        card = scope.get("card")
        return card.attributes.get(name) if card is not None else None
    raise ValueError(f"unknown reference {reference!r}: use $param.<name>, $card.<attribute> or $now")
