"""How a reproduction script writes down what the failing run saw: the implementation's ids as
``ids[...]`` templates bound from the answers, the suite's Idempotency-Keys made the script run's
own, and an answer in a few words. Both scripts use them: the sequential one
(:func:`~.report.repro_script`) and the concurrent one (:func:`~.race_repro.race_repro_script`).
"""

from __future__ import annotations

from typing import Any

from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.context import Prediction


def said(item: Prediction | Exchange | None) -> str:
    """``409 invalid_state`` or ``200 processing``: a status with its code or object status.

    >>> said(Prediction(409, "invalid_state", None, None))
    '409 invalid_state'
    """
    if isinstance(item, Prediction):
        again = f" (answer {item.same_as + 1} again)" if item.same_as is not None else ""
        return " ".join(str(part) for part in (item.status, item.code, item.object_status) if part is not None) + again
    if isinstance(item, Exchange):
        answer = item.answer if isinstance(item.answer, dict) else {}
        detail = item.error_code or answer.get("status")
        return f"{item.status} {detail}" if isinstance(detail, str) else str(item.status)
    return "-"


def own_key(key: str) -> str:
    """The suite's Idempotency-Key as a Python expression that makes it the script run's own at
    the same length: the example's nonce after ``cxpay-`` becomes the run's (``RUN``). A key too
    short to hold any of it stays as it was (the suite sends those with a request that answers the
    same every time).

    >>> own_key("cxpay-0123456789ab-4")
    "'cxpay-' + RUN[:12] + '-4'"
    """
    stem = "cxpay-"
    nonce = 0
    while key.startswith(stem) and nonce < 32 and len(key) > len(stem) + nonce \
            and key[len(stem) + nonce] in "0123456789abcdef":
        nonce += 1
    if not nonce:
        return repr(key)
    return f"{stem!r} + RUN[:{nonce}] + {key[len(stem) + nonce:]!r}"


def templated(text: str, names: dict[str, str]) -> str:
    """``text`` as a Python expression with real ids replaced by ``ids[...]`` (an f-string).

    >>> templated("/payment-intents/pi_3xY8aQ0w1b2c3d4e", {"pi_3xY8aQ0w1b2c3d4e": "pi_1"})
    'f\\'/payment-intents/{ids["pi_1"]}\\''
    """
    if not any(real in text for real in names):
        return repr(text)
    literal = repr(text).replace("{", "{{").replace("}", "}}")
    quote = '"' if literal[0] == "'" else "'"  # not the literal's own (Python 3.11 f-strings)
    for real, model in names.items():
        literal = literal.replace(real, f"{{ids[{quote}{model}{quote}]}}")
    return "f" + literal


def find(value: Any, wanted: str, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where ``wanted`` is in the JSON ``value``: the keys and indexes that lead to it, or None.

    >>> find({"charges": ["ch_1"]}, "ch_1")
    ('charges', 0)
    """
    if value == wanted:
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            found = find(item, wanted, (*path, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find(item, wanted, (*path, index))
            if found is not None:
                return found
    return None
