"""Idempotency keys: a retried POST answers with the first answer and does nothing again.

A key is per merchant and lives 24 hours on the merchant's test clock. The first request with a
key claims it (in memory) until its answer is committed together with its effects, in one
transaction, so an answer is remembered exactly when its effects happened. Meanwhile another
request with the key is told the key is in use (409); once answered, the same parameters replay
the answer and different ones are refused (400). Answers to requests that never ran (401, a
malformed request) are not remembered, so fixing the request and retrying with the key works.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cxpay_conformance.server import api_errors
from cxpay_conformance.server.faults import NO_FAULTS, injected

KEY_LIFETIME = 86_400
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer as the API gives it: status and JSON body."""

    status: int
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    merchant: str
    key: str
    fingerprint: str
    created: int
    answer: Answer

    def alive_at(self, now: int) -> bool:
        return now < self.created + KEY_LIFETIME

    def to_record(self) -> dict[str, Any]:
        return {
            "merchant": self.merchant,
            "key": self.key,
            "fingerprint": self.fingerprint,
            "created": self.created,
            "status": self.answer.status,
            "body": dict(self.answer.body),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> IdempotencyRecord:
        return cls(
            merchant=record["merchant"],
            key=record["key"],
            fingerprint=record["fingerprint"],
            created=record["created"],
            answer=Answer(record["status"], record["body"]),
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A key held by the request that came first, until its answer is committed."""

    merchant: str
    key: str
    fingerprint: str

    def record(self, answer: Answer, now: int) -> IdempotencyRecord:
        return IdempotencyRecord(self.merchant, self.key, self.fingerprint, now, answer)


def check_key(header_value: str) -> str:
    """The Idempotency-Key header value, or a 400 parameter_invalid when it is unusable."""
    if not 1 <= len(header_value) <= MAX_KEY_LENGTH:
        raise api_errors.parameter_invalid(
            "Idempotency-Key",
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters long; "
            f"this one has {len(header_value)}. A UUID is a good key.",
        )
    return header_value


def fingerprint(method: str, path: str, raw_body: bytes) -> str:
    """What makes two requests "the same parameters": method, path and the JSON body, compared
    as data (key order and whitespace do not matter; no body and ``{}`` are the same). A body
    that is not JSON is compared byte for byte."""
    try:
        body = json.loads(raw_body) if raw_body.strip() else {}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (ValueError, RecursionError):
        canonical = "bytes:" + raw_body.hex()
    text = f"{method.upper()} {path}\n{canonical}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class InFlightKeys:
    """The keys claimed by requests that have not answered yet, for one server process;
    ``faults`` are the sandbox's injected bugs (:mod:`.faults`)."""

    def __init__(self, faults: frozenset[str] = NO_FAULTS) -> None:
        self._claimed: dict[tuple[str, str], str] = {}
        self._faults = faults

    def claim(
        self, merchant: str, key: str, print_: str, remembered: IdempotencyRecord | None, now: int
    ) -> Claim | Answer:
        """Claim ``key`` for a new request, or answer at once: the remembered answer (a
        replay), 400 for other parameters, 409 while another request holds the key."""
        if remembered is not None and (
            remembered.alive_at(now) or injected(self._faults, "idempotency_key_never_forgotten")
        ):
            if remembered.fingerprint != print_ and not injected(
                self._faults, "idempotency_reuse_accepted"
            ):
                raise api_errors.idempotency_key_reused()
            return remembered.answer
        held = self._claimed.get((merchant, key))
        if held is not None:
            if held != print_:
                raise api_errors.idempotency_key_reused()
            raise api_errors.idempotency_key_in_use()
        if not injected(self._faults, "idempotency_insert_after_work"):
            # Held from here until the answer is committed: the insert after the work would
            # leave a gap in which a second request finds nothing and does the work again.
            self._claimed[(merchant, key)] = print_
        return Claim(merchant, key, print_)

    def release(self, claim: Claim) -> None:
        self._claimed.pop((claim.merchant, claim.key), None)
