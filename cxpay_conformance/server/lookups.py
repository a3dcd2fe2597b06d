"""Finding a merchant's objects by id, where another merchant's object does not exist.

Every look-up by id from a request goes through here, so that an unknown id and another
merchant's id answer the very same 404 and ids cannot be probed across merchants.
"""

from __future__ import annotations

from typing import Protocol

from cxpay_conformance.server import api_errors
from cxpay_conformance.server.domain import Payment
from cxpay_conformance.server.objects import Charge, CheckoutSession, PaymentIntent


class Reader(Protocol):
    """What look-ups read from: the store, or a transaction that also sees its own writes."""

    def session(self, session_id: str) -> CheckoutSession | None: ...

    def intent(self, intent_id: str) -> PaymentIntent | None: ...

    def charge(self, charge_id: str) -> Charge | None: ...

    def payment(self, session_id: str) -> Payment | None: ...


def owned_session(reader: Reader, merchant: str, session_id: str) -> CheckoutSession:
    session = reader.session(session_id)
    if session is None or session.merchant != merchant:
        raise api_errors.resource_missing("checkout session", session_id)
    return session


def owned_intent(reader: Reader, merchant: str, intent_id: str) -> PaymentIntent:
    intent = reader.intent(intent_id)
    if intent is None or intent.merchant != merchant:
        raise api_errors.resource_missing("payment intent", intent_id)
    return intent


def owned_charge(reader: Reader, merchant: str, charge_id: str) -> Charge:
    charge = reader.charge(charge_id)
    if charge is None or charge.merchant != merchant:
        raise api_errors.resource_missing("charge", charge_id)
    return charge


def payment_of_session(reader: Reader, merchant: str, session_id: str) -> Payment:
    return _payment(reader, owned_session(reader, merchant, session_id).id)


def payment_of_intent(reader: Reader, merchant: str, intent_id: str) -> Payment:
    return _payment(reader, owned_intent(reader, merchant, intent_id).checkout_session)


def payment_of_charge(reader: Reader, merchant: str, charge_id: str) -> Payment:
    intent_id = owned_charge(reader, merchant, charge_id).payment_intent
    return payment_of_intent(reader, merchant, intent_id)


def _payment(reader: Reader, session_id: str) -> Payment:
    payment = reader.payment(session_id)
    if payment is None:  # the store lost half a payment: a bug, not a client error
        raise LookupError(f"checkout session {session_id} has no payment in the store")
    return payment
