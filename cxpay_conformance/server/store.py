"""Where the sandbox keeps its state: the :class:`Store` interface and the
:class:`UnitOfWork` that carries one request's writes.

A request reads from the store, collects every write in one ``UnitOfWork`` and hands it to
:meth:`Store.commit`, which makes all of it durable and visible at once or none of it: the
objects, their events, the webhook deliveries those events owe (the outbox), the clock and the
idempotent answer. Two implementations: :class:`~.memory_store.MemoryStore` and
:class:`~.sqlite_store.SQLiteStore` (which survives restarts and ``kill -9``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cxpay_conformance.server.domain import Payment
from cxpay_conformance.server.events import Event
from cxpay_conformance.server.idempotency import IdempotencyRecord
from cxpay_conformance.server.objects import Charge, CheckoutSession, PaymentIntent
from cxpay_conformance.server.webhook_endpoints import Delivery, WebhookEndpoint


class StoreError(Exception):
    """The store cannot be opened or written (a bad path, a locked or foreign file)."""


@dataclass
class UnitOfWork:
    """The writes of one request (or one dispatcher step), committed together."""

    clocks: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, CheckoutSession] = field(default_factory=dict)
    intents: dict[str, PaymentIntent] = field(default_factory=dict)
    charges: dict[str, Charge] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    endpoints: dict[str, WebhookEndpoint] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    idempotency: list[IdempotencyRecord] = field(default_factory=list)

    def save_payment(self, payment: Payment) -> None:
        self.sessions[payment.session.id] = payment.session
        self.intents[payment.intent.id] = payment.intent
        for charge in payment.charges:
            self.charges[charge.id] = charge

    def is_empty(self) -> bool:
        return not (
            self.clocks
            or self.sessions
            or self.intents
            or self.charges
            or self.events
            or self.endpoints
            or self.deliveries
            or self.idempotency
        )


@dataclass(frozen=True, slots=True)
class EventPage:
    events: Sequence[Event]
    has_more: bool


class Store(Protocol):
    """Reads answer from committed state only; :meth:`commit` is the one way to write."""

    def clock(self, merchant: str) -> int | None:
        """The merchant's test clock, or None before the merchant was first seen."""
        ...

    def session(self, session_id: str) -> CheckoutSession | None: ...

    def intent(self, intent_id: str) -> PaymentIntent | None: ...

    def charge(self, charge_id: str) -> Charge | None: ...

    def payment(self, session_id: str) -> Payment | None:
        """The session with its payment intent and charges."""
        ...

    def open_sessions(self, merchant: str) -> Sequence[CheckoutSession]:
        """The merchant's open sessions, oldest first (candidates for their deadline)."""
        ...

    def succeeded_charges(self, merchant: str) -> Sequence[Charge]:
        """The merchant's succeeded, not yet settled charges, oldest first."""
        ...

    def event(self, event_id: str) -> Event | None: ...

    def events_after(self, merchant: str, after: str | None, limit: int) -> EventPage:
        """Up to ``limit`` of the merchant's events recorded after event ``after`` (from the
        first when None), oldest first."""
        ...

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    def active_endpoints(self, merchant: str) -> Sequence[WebhookEndpoint]: ...

    def deleted_endpoints(self, merchant: str) -> Sequence[WebhookEndpoint]:
        """The merchant's deleted endpoints (only the ``deleted_endpoint_still_receives`` fault asks)."""
        ...

    def every_active_endpoint(self) -> Sequence[WebhookEndpoint]:
        """Every merchant's active endpoints (only the ``events_to_every_merchant`` fault asks)."""
        ...

    def pending_deliveries(self) -> Sequence[Delivery]: ...

    def idempotency(self, merchant: str, key: str) -> IdempotencyRecord | None: ...

    async def commit(self, work: UnitOfWork) -> None:
        """Make every write of ``work`` durable and visible, all at once or not at all."""
        ...

    def close(self) -> None: ...
