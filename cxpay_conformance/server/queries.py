"""The read operations of the API: answers straight from the committed store, without locks.

Like the actions, every look-up by id goes through :mod:`.lookups`, so another merchant's
object answers 404 exactly like an unknown one. ``faults`` switches on injected bugs of the
read path (:mod:`.faults`); none by default.
"""

from __future__ import annotations

from typing import Any

from cxpay_conformance.server import api_errors
from cxpay_conformance.server.faults import NO_FAULTS, injected
from cxpay_conformance.server.lookups import owned_charge, owned_intent, owned_session
from cxpay_conformance.server.objects import Charge, CheckoutSession, IntentStatus, PaymentIntent
from cxpay_conformance.server.parameters import ListEventsParams
from cxpay_conformance.server.store import Store


def get_session(
    store: Store, merchant: str, session_id: str, faults: frozenset[str] = NO_FAULTS
) -> dict[str, Any]:
    merchant = _reader(faults, merchant, store.session(session_id))
    answer = owned_session(store, merchant, session_id).to_api()
    if injected(faults, "session_missing_created"):
        del answer["created"]
    return answer


def get_intent(
    store: Store, merchant: str, intent_id: str, faults: frozenset[str] = NO_FAULTS
) -> dict[str, Any]:
    merchant = _reader(faults, merchant, store.intent(intent_id))
    intent = owned_intent(store, merchant, intent_id)
    answer = intent.to_api()
    if intent.status is IntentStatus.PROCESSING and injected(
        faults, "processing_read_as_requires_payment_method"
    ):
        answer["status"] = IntentStatus.REQUIRES_PAYMENT_METHOD.value
    if injected(faults, "charges_newest_first"):
        answer["charges"] = list(reversed(intent.charges))
    if injected(faults, "charge_missing_from_list"):
        answer["charges"] = list(intent.charges[-1:])
    if injected(faults, "latest_charge_not_updated"):
        answer["latest_charge"] = intent.charges[0] if intent.charges else None
    return answer


def get_charge(
    store: Store, merchant: str, charge_id: str, faults: frozenset[str] = NO_FAULTS
) -> dict[str, Any]:
    merchant = _reader(faults, merchant, store.charge(charge_id))
    answer = owned_charge(store, merchant, charge_id).to_api()
    if injected(faults, "amount_as_string"):
        answer["amount"] = str(answer["amount"])
    return answer


def list_events(
    store: Store, merchant: str, params: ListEventsParams, faults: frozenset[str] = NO_FAULTS
) -> dict[str, Any]:
    """A page of the merchant's events, oldest first, after ``starting_after`` if given."""
    after = params.starting_after
    if after is not None:
        event = store.event(after)
        if event is None or event.merchant != merchant:
            raise api_errors.resource_missing("event", after, param="starting_after")
        if injected(faults, "event_list_page_gap"):
            skipped = store.events_after(merchant, after, 1).events
            after = skipped[0].id if skipped else after
    page = store.events_after(merchant, after, params.limit)
    if injected(faults, "event_list_empty"):
        return {"object": "list", "data": [], "has_more": False}
    return {
        "object": "list",
        "data": [event.to_api() for event in page.events],
        "has_more": page.has_more,
    }


def _reader(
    faults: frozenset[str], merchant: str, found: CheckoutSession | PaymentIntent | Charge | None
) -> str:
    """Whom a read looks up as: the caller (the fault: whoever owns the object)."""
    if found is not None and injected(faults, "tenant_leak_reads"):
        return found.merchant
    return merchant
