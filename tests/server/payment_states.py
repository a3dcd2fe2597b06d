"""Bringing a payment into each situation the spec distinguishes, through the API only.

``SITUATIONS`` names each one after its payment intent's status (and how it got there);
:func:`reach` creates a fresh session and drives it there, answering the session id.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.server.sandbox_client import (
    APPROVED,
    DECLINED,
    THREE_DS_APPROVED,
    Merchant,
)


def _nothing(m: Merchant, cs: str) -> None:
    pass


def _requires_action(m: Merchant, cs: str) -> None:
    m.pay(cs, THREE_DS_APPROVED)


def _processing(m: Merchant, cs: str) -> None:
    m.pay(cs, APPROVED)


def _processing_after_3ds(m: Merchant, cs: str) -> None:
    m.authenticate(m.pay(cs, THREE_DS_APPROVED)["id"], "pass")


def _failed_declined(m: Merchant, cs: str) -> None:
    m.respond(m.pay(cs, DECLINED)["latest_charge"])


def _failed_3ds(m: Merchant, cs: str) -> None:
    m.authenticate(m.pay(cs, THREE_DS_APPROVED)["id"], "fail")


def _succeeded(m: Merchant, cs: str) -> None:
    m.respond(m.pay(cs, APPROVED)["latest_charge"])


def _settled(m: Merchant, cs: str) -> None:
    _succeeded(m, cs)
    m.advance(172_800)


def _canceled(m: Merchant, cs: str) -> None:
    m.cancel(m.session(cs)["payment_intent"])


def _canceled_in_flight(m: Merchant, cs: str) -> None:
    m.pay(cs, APPROVED)
    _canceled(m, cs)


def _expired_by_merchant(m: Merchant, cs: str) -> None:
    m.pay(cs, THREE_DS_APPROVED)
    m.expire(cs)


def _expired_by_deadline(m: Merchant, cs: str) -> None:
    m.pay(cs, APPROVED)
    m.advance(86_400)


#: situation -> (how to get there, (session, payment intent, latest charge) statuses there)
SITUATIONS: dict[str, tuple[Callable[[Merchant, str], None], tuple[str, str, str | None]]] = {
    "requires_payment_method": (_nothing, ("open", "requires_payment_method", None)),
    "requires_action": (_requires_action, ("open", "requires_action", "requires_action")),
    "processing": (_processing, ("open", "processing", "pending")),
    "processing_after_3ds": (_processing_after_3ds, ("open", "processing", "pending")),
    "failed_declined": (_failed_declined, ("open", "failed", "failed")),
    "failed_3ds": (_failed_3ds, ("open", "failed", "failed")),
    "succeeded": (_succeeded, ("complete", "succeeded", "succeeded")),
    "settled": (_settled, ("complete", "succeeded", "settled")),
    "canceled": (_canceled, ("expired", "canceled", None)),
    "canceled_in_flight": (_canceled_in_flight, ("expired", "canceled", "canceled")),
    "expired_by_merchant": (_expired_by_merchant, ("expired", "canceled", "canceled")),
    "expired_by_deadline": (_expired_by_deadline, ("expired", "expired", "canceled")),
}

UNFINISHED = [
    "requires_payment_method",
    "requires_action",
    "processing",
    "processing_after_3ds",
    "failed_declined",
    "failed_3ds",
]
FINISHED = [name for name in SITUATIONS if name not in UNFINISHED]


def reach(merchant: Merchant, situation: str) -> str:
    """A new session of ``merchant`` driven into ``situation``; checks it got there."""
    drive, expected = SITUATIONS[situation]
    session_id: str = merchant.create_session()["id"]
    drive(merchant, session_id)
    assert now_statuses(merchant, session_id) == expected, situation
    return session_id


def now_statuses(merchant: Merchant, session_id: str) -> tuple[str, str, str | None]:
    session, intent, charges = merchant.payment(session_id)
    return session["status"], intent["status"], charges[-1]["status"] if charges else None
