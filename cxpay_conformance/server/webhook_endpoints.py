"""Webhook endpoints (the URLs a merchant registers to receive its events) and the deliveries
owed to them.

A :class:`Delivery` is one event owed to one endpoint. It is written in the same transaction as
the change that made the event (the outbox), so no event is lost between the change and its
sending; the dispatcher then works through the pending deliveries and records each attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    merchant: str
    url: str
    secret: str
    created: int
    deleted: bool = False

    def to_api(self) -> dict[str, Any]:
        if self.deleted:
            return {"id": self.id, "object": "webhook_endpoint", "deleted": True}
        return {
            "id": self.id,
            "object": "webhook_endpoint",
            "url": self.url,
            "secret": self.secret,
            "created": self.created,
        }

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "merchant": self.merchant,
            "url": self.url,
            "secret": self.secret,
            "created": self.created,
            "deleted": self.deleted,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> WebhookEndpoint:
        return cls(**record)


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"
    DROPPED = "dropped"  # its endpoint was deleted before the event got through


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event owed to one endpoint: how often it was tried and when to try next
    (``next_attempt_at`` is wall-clock Unix time, since receivers live in real time)."""

    id: str
    merchant: str
    event_id: str
    endpoint_id: str
    attempts: int
    next_attempt_at: float
    state: DeliveryState = DeliveryState.PENDING
    last_error: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "merchant": self.merchant,
            "event_id": self.event_id,
            "endpoint_id": self.endpoint_id,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "state": self.state.value,
            "last_error": self.last_error,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Delivery:
        return cls(**{**record, "state": DeliveryState(record["state"])})
