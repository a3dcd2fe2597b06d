"""The payment objects: checkout session, payment intent and charge, with their statuses.

Each object is a frozen value; a change makes a new one (``dataclasses.replace``). ``to_api``
gives the JSON the API answers with and events carry; ``to_record``/``from_record`` give the
form the store keeps, which adds what clients never see (the merchant, the card, when a charge
succeeded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class SessionStatus(StrEnum):
    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


class IntentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"


class ChargeStatus(StrEnum):
    REQUIRES_ACTION = "requires_action"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    SETTLED = "settled"


#: A payment intent still open to payment attempts or waiting on one.
INTENT_UNFINISHED = frozenset(
    {
        IntentStatus.REQUIRES_PAYMENT_METHOD,
        IntentStatus.REQUIRES_ACTION,
        IntentStatus.PROCESSING,
        IntentStatus.FAILED,
    }
)
#: A charge waiting on the customer (3D Secure) or on the card network.
CHARGE_IN_FLIGHT = frozenset({ChargeStatus.REQUIRES_ACTION, ChargeStatus.PENDING})


@dataclass(frozen=True, slots=True)
class PaymentError:
    """Why a payment intent's latest attempt failed."""

    code: str
    message: str

    def to_api(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    merchant: str
    status: SessionStatus
    url: str
    payment_intent: str
    amount: int
    currency: str
    success_url: str
    cancel_url: str
    expires_at: int
    metadata: Mapping[str, str]
    created: int

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "checkout_session",
            "status": self.status.value,
            "url": self.url,
            "payment_intent": self.payment_intent,
            "amount": self.amount,
            "currency": self.currency,
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
            "expires_at": self.expires_at,
            "metadata": dict(self.metadata),
            "created": self.created,
        }

    def to_record(self) -> dict[str, Any]:
        return {**self.to_api(), "merchant": self.merchant}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CheckoutSession:
        return cls(
            id=record["id"],
            merchant=record["merchant"],
            status=SessionStatus(record["status"]),
            url=record["url"],
            payment_intent=record["payment_intent"],
            amount=record["amount"],
            currency=record["currency"],
            success_url=record["success_url"],
            cancel_url=record["cancel_url"],
            expires_at=record["expires_at"],
            metadata=MappingProxyType(dict(record["metadata"])),
            created=record["created"],
        )


@dataclass(frozen=True, slots=True)
class PaymentIntent:
    id: str
    merchant: str
    status: IntentStatus
    amount: int
    currency: str
    checkout_session: str
    charges: tuple[str, ...]
    last_payment_error: PaymentError | None
    created: int

    @property
    def latest_charge(self) -> str | None:
        return self.charges[-1] if self.charges else None

    def to_api(self) -> dict[str, Any]:
        error = self.last_payment_error
        return {
            "id": self.id,
            "object": "payment_intent",
            "status": self.status.value,
            "amount": self.amount,
            "currency": self.currency,
            "checkout_session": self.checkout_session,
            "charges": list(self.charges),
            "latest_charge": self.latest_charge,
            "last_payment_error": error.to_api() if error else None,
            "created": self.created,
        }

    def to_record(self) -> dict[str, Any]:
        return {**self.to_api(), "merchant": self.merchant}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> PaymentIntent:
        error = record["last_payment_error"]
        return cls(
            id=record["id"],
            merchant=record["merchant"],
            status=IntentStatus(record["status"]),
            amount=record["amount"],
            currency=record["currency"],
            checkout_session=record["checkout_session"],
            charges=tuple(record["charges"]),
            last_payment_error=PaymentError(error["code"], error["message"]) if error else None,
            created=record["created"],
        )


@dataclass(frozen=True, slots=True)
class Charge:
    id: str
    merchant: str
    payment_intent: str
    status: ChargeStatus
    amount: int
    currency: str
    failure_code: str | None
    created: int
    card_number: str
    succeeded_at: int | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "charge",
            "payment_intent": self.payment_intent,
            "status": self.status.value,
            "amount": self.amount,
            "currency": self.currency,
            "failure_code": self.failure_code,
            "created": self.created,
        }

    def to_record(self) -> dict[str, Any]:
        return {
            **self.to_api(),
            "merchant": self.merchant,
            "card_number": self.card_number,
            "succeeded_at": self.succeeded_at,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Charge:
        return cls(
            id=record["id"],
            merchant=record["merchant"],
            payment_intent=record["payment_intent"],
            status=ChargeStatus(record["status"]),
            amount=record["amount"],
            currency=record["currency"],
            failure_code=record["failure_code"],
            created=record["created"],
            card_number=record["card_number"],
            succeeded_at=record["succeeded_at"],
        )


PaymentObject = CheckoutSession | PaymentIntent | Charge
