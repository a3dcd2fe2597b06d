"""The store that keeps everything in this process's memory: the default without ``--db``,
and the read model the SQLite store keeps in front of its file.

Every read is a dictionary look-up. :meth:`MemoryStore.apply` makes a unit of work visible in
one synchronous step, so a request on the event loop never sees half of another's writes.
It is all or nothing like a SQLite transaction: the unit's values are all built before it
is applied, and storing them is dictionary writes that cannot fail part-way. What must not be
kept is therefore never handed to it: the service encodes each answer before committing the
change it reports (:meth:`~.service.Sandbox.write`).
"""

from __future__ import annotations

from collections.abc import Sequence

from cxpay_conformance.server.domain import Payment
from cxpay_conformance.server.events import Event
from cxpay_conformance.server.idempotency import IdempotencyRecord
from cxpay_conformance.server.objects import (
    Charge,
    ChargeStatus,
    CheckoutSession,
    PaymentIntent,
    SessionStatus,
)
from cxpay_conformance.server.store import EventPage, UnitOfWork
from cxpay_conformance.server.webhook_endpoints import Delivery, DeliveryState, WebhookEndpoint


class MemoryStore:
    """A :class:`~.store.Store` in memory: fast, and gone when the process ends."""

    def __init__(self) -> None:
        self._clocks: dict[str, int] = {}
        self._sessions: dict[str, CheckoutSession] = {}
        self._intents: dict[str, PaymentIntent] = {}
        self._charges: dict[str, Charge] = {}
        self._events: dict[str, list[Event]] = {}
        self._event_positions: dict[str, int] = {}
        self._events_by_id: dict[str, Event] = {}
        self._endpoints: dict[str, WebhookEndpoint] = {}
        self._deliveries: dict[str, Delivery] = {}
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        # Ordered sets (dicts of None) of what the test clock may bring due, per merchant.
        self._open: dict[str, dict[str, None]] = {}
        self._succeeded: dict[str, dict[str, None]] = {}

    # --- reads ---------------------------------------------------------------------------

    def clock(self, merchant: str) -> int | None:
        return self._clocks.get(merchant)

    def session(self, session_id: str) -> CheckoutSession | None:
        return self._sessions.get(session_id)

    def intent(self, intent_id: str) -> PaymentIntent | None:
        return self._intents.get(intent_id)

    def charge(self, charge_id: str) -> Charge | None:
        return self._charges.get(charge_id)

    def payment(self, session_id: str) -> Payment | None:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        intent = self._intents[session.payment_intent]
        return Payment(session, intent, tuple(self._charges[c] for c in intent.charges))

    def open_sessions(self, merchant: str) -> Sequence[CheckoutSession]:
        return [self._sessions[s] for s in self._open.get(merchant, {})]

    def succeeded_charges(self, merchant: str) -> Sequence[Charge]:
        return [self._charges[c] for c in self._succeeded.get(merchant, {})]

    def event(self, event_id: str) -> Event | None:
        return self._events_by_id.get(event_id)

    def events_after(self, merchant: str, after: str | None, limit: int) -> EventPage:
        events = self._events.get(merchant, [])
        start = 0 if after is None else self._event_positions[after] + 1
        page = events[start : start + limit]
        return EventPage(page, has_more=start + limit < len(events))

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self._endpoints.get(endpoint_id)

    def active_endpoints(self, merchant: str) -> Sequence[WebhookEndpoint]:
        return [e for e in self._endpoints.values() if e.merchant == merchant and not e.deleted]

    def deleted_endpoints(self, merchant: str) -> Sequence[WebhookEndpoint]:
        return [e for e in self._endpoints.values() if e.merchant == merchant and e.deleted]

    def every_active_endpoint(self) -> Sequence[WebhookEndpoint]:
        return [e for e in self._endpoints.values() if not e.deleted]

    def pending_deliveries(self) -> Sequence[Delivery]:
        return list(self._deliveries.values())

    def idempotency(self, merchant: str, key: str) -> IdempotencyRecord | None:
        return self._idempotency.get((merchant, key))

    # --- writes --------------------------------------------------------------------------

    async def commit(self, work: UnitOfWork) -> None:
        self.apply(work)

    def apply(self, work: UnitOfWork) -> None:
        """Make ``work`` visible. Synchronous: no reader on the event loop sees half of it."""
        self._clocks.update(work.clocks)
        for session in work.sessions.values():
            self._sessions[session.id] = session
            open_ = self._open.setdefault(session.merchant, {})
            if session.status is SessionStatus.OPEN:
                open_[session.id] = None
            else:
                open_.pop(session.id, None)
        self._intents.update(work.intents)
        for charge in work.charges.values():
            self._charges[charge.id] = charge
            succeeded = self._succeeded.setdefault(charge.merchant, {})
            if charge.status is ChargeStatus.SUCCEEDED:
                succeeded[charge.id] = None
            else:
                succeeded.pop(charge.id, None)
        for event in work.events:
            merchant_events = self._events.setdefault(event.merchant, [])
            self._event_positions[event.id] = len(merchant_events)
            merchant_events.append(event)
            self._events_by_id[event.id] = event
        self._endpoints.update(work.endpoints)
        for delivery in work.deliveries.values():
            if delivery.state is DeliveryState.PENDING:
                self._deliveries[delivery.id] = delivery
            else:
                self._deliveries.pop(delivery.id, None)
        for record in work.idempotency:
            self._idempotency[(record.merchant, record.key)] = record

    def close(self) -> None:
        pass
