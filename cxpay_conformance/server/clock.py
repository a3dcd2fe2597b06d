"""The per-merchant test clock and the work that falls due on it.

A merchant's clock starts at the wall-clock second the sandbox first sees the merchant and then
stands still until the merchant advances it. An advance applies everything that falls due up to
the new time, earliest first: open sessions whose ``expires_at`` is reached, and succeeded
charges whose settlement delay has passed. This module finds that work; the actions apply it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from cxpay_conformance.server.domain import settles_at
from cxpay_conformance.server.faults import NO_FAULTS, injected
from cxpay_conformance.server.store import Store


class DueKind(StrEnum):
    DEADLINE = "deadline"
    SETTLEMENT = "settlement"


@dataclass(frozen=True, slots=True)
class DueWork:
    """One thing the clock brings due: at which time, what, and in which payment."""

    at: int
    kind: DueKind
    session_id: str
    charge_id: str | None = None


def first_seen_time() -> int:
    """Where a new merchant's clock starts: now, in whole Unix seconds."""
    return int(time.time())


def due_work(
    store: Store, merchant: str, until: int, faults: frozenset[str] = NO_FAULTS
) -> list[DueWork]:
    """Everything of ``merchant`` that falls due at or before ``until``, earliest first (ties
    in the order the objects were created, deadlines before settlements)."""
    # A deadline falls due when the clock reaches it (the faults: past it, or never).
    reached = until - 1 if injected(faults, "expiry_off_by_one") else until
    due = [
        DueWork(session.expires_at, DueKind.DEADLINE, session.id)
        for session in store.open_sessions(merchant)
        if session.expires_at <= reached and not injected(faults, "expiry_not_enforced")
    ]
    charges = store.succeeded_charges(merchant)
    if injected(faults, "settlement_never_happens"):
        charges = ()
    for charge in charges:
        at = settles_at(charge)
        if at is not None and at <= until:
            intent = store.intent(charge.payment_intent)
            if intent is not None:
                due.append(DueWork(at, DueKind.SETTLEMENT, intent.checkout_session, charge.id))
    due.sort(key=lambda work: work.at)  # stable: creation order within one second
    return due
