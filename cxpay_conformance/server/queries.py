"""The read operations of the API: answers straight from the committed store, without locks.

Like the actions, every look-up by id goes through :mod:`.lookups`, so another merchant's
object answers 404 exactly like an unknown one.
"""

from __future__ import annotations

from typing import Any

from cxpay_conformance.server import api_errors
from cxpay_conformance.server.lookups import owned_charge, owned_intent, owned_session
from cxpay_conformance.server.parameters import ListEventsParams
from cxpay_conformance.server.store import Store


def get_session(store: Store, merchant: str, session_id: str) -> dict[str, Any]:
    return owned_session(store, merchant, session_id).to_api()


def get_intent(store: Store, merchant: str, intent_id: str) -> dict[str, Any]:
    return owned_intent(store, merchant, intent_id).to_api()


def get_charge(store: Store, merchant: str, charge_id: str) -> dict[str, Any]:
    return owned_charge(store, merchant, charge_id).to_api()


def list_events(store: Store, merchant: str, params: ListEventsParams) -> dict[str, Any]:
    """A page of the merchant's events, oldest first, after ``starting_after`` if given."""
    after = params.starting_after
    if after is not None:
        event = store.event(after)
        if event is None or event.merchant != merchant:
            raise api_errors.resource_missing("event", after, param="starting_after")
    page = store.events_after(merchant, after, params.limit)
    return {
        "object": "list",
        "data": [event.to_api() for event in page.events],
        "has_more": page.has_more,
    }
