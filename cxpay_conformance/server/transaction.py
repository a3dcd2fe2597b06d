"""One write request in progress: its merchant, the test-clock time it runs at, and the unit of
work that collects its writes.

Reads through a :class:`Transaction` see its own writes first (an advance of the clock may
change several payments), then the committed store. :meth:`Transaction.record` is where an
action's outcome becomes stored objects, events and the webhook deliveries they owe.
"""

from __future__ import annotations

from collections.abc import Sequence

from cxpay_conformance.server import ids
from cxpay_conformance.server.domain import Outcome, Payment
from cxpay_conformance.server.events import events_of
from cxpay_conformance.server.faults import NO_FAULTS, injected
from cxpay_conformance.server.objects import Charge, CheckoutSession, PaymentIntent
from cxpay_conformance.server.store import Store, UnitOfWork
from cxpay_conformance.server.webhook_endpoints import Delivery, WebhookEndpoint


class Transaction:
    """The view and the writes of one request of ``merchant`` at test-clock time ``now``;
    ``wall_now`` (real Unix time) schedules the first delivery attempt of its events;
    ``faults`` are the sandbox's injected bugs (:mod:`.faults`), for the actions to consult;
    ``clock``: whose test clock an advance moves (the merchant's own, but for a fault)."""

    def __init__(
        self,
        store: Store,
        merchant: str,
        now: int,
        wall_now: float,
        faults: frozenset[str] = NO_FAULTS,
        *,
        clock: str | None = None,
    ) -> None:
        self.store = store
        self.merchant = merchant
        self.clock = clock or merchant
        self.now = now
        self.wall_now = wall_now
        self.faults = faults
        self.work = UnitOfWork()

    # --- reads that see this transaction's writes ----------------------------------------

    def session(self, session_id: str) -> CheckoutSession | None:
        return self.work.sessions.get(session_id) or self.store.session(session_id)

    def intent(self, intent_id: str) -> PaymentIntent | None:
        return self.work.intents.get(intent_id) or self.store.intent(intent_id)

    def charge(self, charge_id: str) -> Charge | None:
        return self.work.charges.get(charge_id) or self.store.charge(charge_id)

    def payment(self, session_id: str) -> Payment | None:
        session = self.session(session_id)
        if session is None:
            return None
        intent = self.intent(session.payment_intent)
        if intent is None:
            return None
        charges = tuple(c for c in map(self.charge, intent.charges) if c is not None)
        return Payment(session, intent, charges)

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        return self.work.endpoints.get(endpoint_id) or self.store.endpoint(endpoint_id)

    # --- writes ----------------------------------------------------------------------------

    def record(self, outcome: Outcome, at: int | None = None) -> None:
        """Store the outcome's payment, one event per object that entered a state (created at
        test-clock time ``at``, default now), and one delivery per event and active endpoint."""
        before = self.payment(outcome.payment.session.id) if self.faults else None
        self.work.save_payment(outcome.payment)
        endpoints = self._endpoints()
        at = self.now if at is None else at
        for event in events_of(outcome, at, self.faults, before):
            self.work.events.append(event)
            for endpoint in endpoints:
                delivery = Delivery(
                    id=ids.new_id(ids.DELIVERY),
                    merchant=self.merchant,
                    event_id=event.id,
                    endpoint_id=endpoint.id,
                    attempts=0,
                    next_attempt_at=self.wall_now,
                )
                self.work.deliveries[delivery.id] = delivery

    def _endpoints(self) -> Sequence[WebhookEndpoint]:
        """The endpoints this merchant's events are owed to: its active ones (the faults: every
        merchant's, or its deleted ones too)."""
        if injected(self.faults, "events_to_every_merchant"):
            return self.store.every_active_endpoint()
        endpoints = self.store.active_endpoints(self.merchant)
        if injected(self.faults, "deleted_endpoint_still_receives"):
            return [*endpoints, *self.store.deleted_endpoints(self.merchant)]
        return endpoints

    def save_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self.work.endpoints[endpoint.id] = endpoint

    def set_clock(self, now: int) -> None:
        self.now = now
        self.work.clocks[self.clock] = now
