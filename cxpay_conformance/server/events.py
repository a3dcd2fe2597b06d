"""Events: one per object entering a state, with the object as it was right after the change.

The type of an event is named by the state the object entered (creating an object enters its
first state, so creation has an event too). Events are what webhook endpoints receive and what
``GET /events`` lists, in the order they were recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cxpay_conformance.server import ids
from cxpay_conformance.server.domain import Outcome, Payment
from cxpay_conformance.server.faults import NO_FAULTS, injected
from cxpay_conformance.server.objects import (
    Charge,
    ChargeStatus,
    CheckoutSession,
    IntentStatus,
    PaymentIntent,
    PaymentObject,
    SessionStatus,
)

SESSION_EVENTS: Mapping[SessionStatus, str] = MappingProxyType(
    {
        SessionStatus.OPEN: "checkout_session.created",
        SessionStatus.COMPLETE: "checkout_session.completed",
        SessionStatus.EXPIRED: "checkout_session.expired",
    }
)
INTENT_EVENTS: Mapping[IntentStatus, str] = MappingProxyType(
    {
        IntentStatus.REQUIRES_PAYMENT_METHOD: "payment_intent.created",
        IntentStatus.REQUIRES_ACTION: "payment_intent.requires_action",
        IntentStatus.PROCESSING: "payment_intent.processing",
        IntentStatus.SUCCEEDED: "payment_intent.succeeded",
        IntentStatus.FAILED: "payment_intent.payment_failed",
        IntentStatus.CANCELED: "payment_intent.canceled",
        IntentStatus.EXPIRED: "payment_intent.expired",
    }
)
CHARGE_EVENTS: Mapping[ChargeStatus, str] = MappingProxyType(
    {
        ChargeStatus.REQUIRES_ACTION: "charge.requires_action",
        ChargeStatus.PENDING: "charge.pending",
        ChargeStatus.SUCCEEDED: "charge.succeeded",
        ChargeStatus.FAILED: "charge.failed",
        ChargeStatus.CANCELED: "charge.canceled",
        ChargeStatus.SETTLED: "charge.settled",
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    merchant: str
    type: str
    created: int
    object: Mapping[str, Any]

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "event",
            "type": self.type,
            "created": self.created,
            "data": {"object": dict(self.object)},
        }

    def to_record(self) -> dict[str, Any]:
        return {**self.to_api(), "merchant": self.merchant}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Event:
        return cls(
            id=record["id"],
            merchant=record["merchant"],
            type=record["type"],
            created=record["created"],
            object=record["data"]["object"],
        )


def event_type(entered: PaymentObject) -> str:
    """The type of the event an object emits on entering its current status."""
    if isinstance(entered, CheckoutSession):
        return SESSION_EVENTS[entered.status]
    if isinstance(entered, PaymentIntent):
        return INTENT_EVENTS[entered.status]
    if isinstance(entered, Charge):
        return CHARGE_EVENTS[entered.status]
    raise TypeError(f"not a payment object: {entered!r}")


def events_of(
    outcome: Outcome, at: int, faults: frozenset[str] = NO_FAULTS, before: Payment | None = None
) -> list[Event]:
    """One new event per object the outcome says entered a state, in the outcome's order.

    ``before`` is the payment as it was before the change; only an injected fault reads it.
    """
    objects = outcome.payment.objects()
    previous = before.objects() if before is not None else {}
    events: list[Event] = []
    for object_id in outcome.entered:
        entered = objects[object_id]
        type_ = event_type(entered)
        if type_ == "charge.failed" and injected(faults, "no_charge_failed_event"):
            continue
        if type_ == "payment_intent.payment_failed" and injected(faults, "mistyped_event_type"):
            type_ = "payment_intent.failed"
        shown = entered
        if injected(faults, "stale_event_snapshot"):
            shown = previous.get(object_id, entered)
        copies = 1
        if type_ == "payment_intent.succeeded" and injected(faults, "duplicate_event_new_id"):
            copies = 2
        events.extend(
            Event(
                id=ids.new_id(ids.EVENT),
                merchant=entered.merchant,
                type=type_,
                created=at,
                object=MappingProxyType(shown.to_api()),
            )
            for _ in range(copies)
        )
    return events
