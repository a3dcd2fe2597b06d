"""The payment state logic: what each action does to one payment (a checkout session, its
payment intent and its charges), as pure functions from a :class:`Payment` to an
:class:`Outcome`.

Nothing here does I/O, reads a clock or draws ids: the caller passes the time and the new ids,
so every rule can be read and tested on its own. An action not allowed in the payment's current
state raises :class:`InvalidState` with a message naming that state. ``Outcome.entered`` lists
the objects that entered a state (created, or moved to a new status), in the order their
events are recorded. ``faults`` switches on injected bugs (:mod:`.faults`); none by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from cxpay_conformance.server.cards import AUTHENTICATION_FAILED, FAILURE_MESSAGES, TestCard
from cxpay_conformance.server.faults import NO_FAULTS, injected
from cxpay_conformance.server.objects import (
    CHARGE_IN_FLIGHT,
    INTENT_UNFINISHED,
    Charge,
    ChargeStatus,
    CheckoutSession,
    IntentStatus,
    PaymentError,
    PaymentIntent,
    PaymentObject,
    SessionStatus,
)

#: Seconds between a charge's success (capture) and its settlement (payout), on the test clock.
SETTLEMENT_DELAY = 172_800


class InvalidState(Exception):
    """The action is not allowed in the payment's current state; the message names it."""


@dataclass(frozen=True, slots=True)
class Payment:
    """A checkout session, its payment intent and its charges (oldest first): the unit that
    every action changes as a whole."""

    session: CheckoutSession
    intent: PaymentIntent
    charges: tuple[Charge, ...] = ()

    @property
    def latest_charge(self) -> Charge | None:
        return self.charges[-1] if self.charges else None

    def charge(self, charge_id: str) -> Charge:
        for charge in self.charges:
            if charge.id == charge_id:
                return charge
        raise KeyError(charge_id)

    def objects(self) -> Mapping[str, PaymentObject]:
        found: dict[str, PaymentObject] = {
            self.session.id: self.session,
            self.intent.id: self.intent,
        }
        found.update((charge.id, charge) for charge in self.charges)
        return found

    def with_charge(self, changed: Charge) -> Payment:
        """The payment with ``changed`` in place of the charge with its id, or added last."""
        if any(charge.id == changed.id for charge in self.charges):
            charges = tuple(changed if c.id == changed.id else c for c in self.charges)
            return replace(self, charges=charges)
        return replace(self, charges=(*self.charges, changed))


@dataclass(frozen=True, slots=True)
class Outcome:
    """A payment after an action, and the ids of the objects that entered a state, in order."""

    payment: Payment
    entered: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewSession:
    """What the merchant asked for, plus what the caller chose (ids, page URL, time)."""

    merchant: str
    session_id: str
    intent_id: str
    url: str
    amount: int
    currency: str
    success_url: str
    cancel_url: str
    expires_in: int
    metadata: Mapping[str, str]
    now: int


def open_payment(new: NewSession) -> Outcome:
    """The merchant creates a checkout session: it opens with a payment intent that waits for
    a card."""
    session = CheckoutSession(
        id=new.session_id,
        merchant=new.merchant,
        status=SessionStatus.OPEN,
        url=new.url,
        payment_intent=new.intent_id,
        amount=new.amount,
        currency=new.currency,
        success_url=new.success_url,
        cancel_url=new.cancel_url,
        expires_at=new.now + new.expires_in,
        metadata=new.metadata,
        created=new.now,
    )
    intent = PaymentIntent(
        id=new.intent_id,
        merchant=new.merchant,
        status=IntentStatus.REQUIRES_PAYMENT_METHOD,
        amount=new.amount,
        currency=new.currency,
        checkout_session=new.session_id,
        charges=(),
        last_payment_error=None,
        created=new.now,
    )
    return Outcome(Payment(session, intent), (session.id, intent.id))


def pay(
    payment: Payment, card: TestCard, charge_id: str, now: int, faults: frozenset[str] = NO_FAULTS
) -> Outcome:
    """The customer submits ``card``: a new charge, sent to the network at once, or first to
    3D Secure when the card needs it. Allowed while the session is open and its payment intent
    has no attempt in flight and has not ended."""
    session, intent = payment.session, payment.intent
    payable = {IntentStatus.REQUIRES_PAYMENT_METHOD, IntentStatus.FAILED}
    if injected(faults, "pay_while_processing"):
        payable.add(IntentStatus.PROCESSING)
    if injected(faults, "pay_accepted_on_canceled"):
        payable.add(IntentStatus.CANCELED)
    if injected(faults, "pay_refused_after_failure"):
        payable.discard(IntentStatus.FAILED)
    if intent.status not in payable:
        raise InvalidState(
            f"Checkout session {session.id} cannot take a card: its payment intent {intent.id} "
            f"is {intent.status}; a card can be submitted only while it is "
            "requires_payment_method or failed."
        )
    reopened = intent.status is IntentStatus.CANCELED  # only with pay_accepted_on_canceled
    if session.status is not SessionStatus.OPEN and not reopened:
        raise InvalidState(
            f"Checkout session {session.id} is {session.status}; only an open session can be paid."
        )
    needs_authentication = card.needs_authentication and not injected(
        faults, "three_d_secure_skipped"
    )
    amount, currency = intent.amount, intent.currency
    if injected(faults, "amount_drift_on_charge"):
        amount = -(-amount // 100) * 100  # rounded up to whole units of the currency
    if injected(faults, "currency_drift_on_charge"):
        currency = "usd"
    charge = Charge(
        id=charge_id,
        merchant=intent.merchant,
        payment_intent=intent.id,
        status=ChargeStatus.REQUIRES_ACTION if needs_authentication else ChargeStatus.PENDING,
        amount=amount,
        currency=currency,
        failure_code=None,
        created=now,
        card_number=card.number,
    )
    status = IntentStatus.REQUIRES_ACTION if needs_authentication else IntentStatus.PROCESSING
    if status is IntentStatus.PROCESSING and injected(
        faults, "intent_succeeded_while_charge_pending"
    ):
        status = IntentStatus.SUCCEEDED
    intent = replace(
        intent,
        status=status,
        charges=(*intent.charges, charge.id),
        last_payment_error=None,
    )
    return Outcome(replace(payment, intent=intent).with_charge(charge), (intent.id, charge.id))


def authenticate(payment: Payment, passed: bool) -> Outcome:
    """The customer answers the 3D Secure challenge: a pass sends the charge to the network, a
    fail fails the attempt with ``authentication_failed``."""
    intent, charge = payment.intent, payment.latest_charge
    if (
        intent.status is not IntentStatus.REQUIRES_ACTION
        or charge is None
        or charge.status is not ChargeStatus.REQUIRES_ACTION
    ):
        raise InvalidState(
            f"Payment intent {intent.id} is {intent.status}; only a payment intent in "
            "requires_action has a 3D Secure challenge to answer."
        )
    if passed:
        charge = replace(charge, status=ChargeStatus.PENDING)
        intent = replace(intent, status=IntentStatus.PROCESSING)
    else:
        charge = replace(charge, status=ChargeStatus.FAILED, failure_code=AUTHENTICATION_FAILED)
        intent = replace(
            intent, status=IntentStatus.FAILED, last_payment_error=_error(AUTHENTICATION_FAILED)
        )
    return Outcome(replace(payment, intent=intent).with_charge(charge), (intent.id, charge.id))


def answer_charge(
    payment: Payment,
    charge_id: str,
    card: TestCard,
    now: int,
    faults: frozenset[str] = NO_FAULTS,
) -> Outcome:
    """The card network answers a pending charge as its ``card`` dictates: approval captures
    it (the payment intent succeeds, the session completes), a decline fails the attempt."""
    charge = payment.charge(charge_id)
    if charge.status is not ChargeStatus.PENDING:
        raise InvalidState(
            f"Charge {charge.id} is {charge.status}; the network answers only a pending charge."
        )
    intent, session = payment.intent, payment.session
    entered = [charge.id]
    if card.decline_code is None:
        charge = replace(charge, status=ChargeStatus.SUCCEEDED, succeeded_at=now)
        if intent.status is IntentStatus.PROCESSING:
            intent = replace(intent, status=IntentStatus.SUCCEEDED)
            entered.append(intent.id)
        if session.status is SessionStatus.OPEN and not injected(faults, "session_not_completed"):
            session = replace(session, status=SessionStatus.COMPLETE)
            entered.append(session.id)
    else:
        charge = replace(charge, status=ChargeStatus.FAILED, failure_code=card.decline_code)
        if intent.status is IntentStatus.PROCESSING:
            error = None if injected(faults, "last_payment_error_missing") else card.decline_code
            intent = replace(
                intent,
                status=IntentStatus.FAILED,
                last_payment_error=_error(error) if error else None,
            )
            entered.append(intent.id)
    changed = replace(payment, session=session, intent=intent).with_charge(charge)
    return Outcome(changed, tuple(entered))


def expire_session(payment: Payment, faults: frozenset[str] = NO_FAULTS) -> Outcome:
    """The merchant ends an open session: its payment intent is canceled and a charge in
    flight is voided."""
    session = payment.session
    if session.status is SessionStatus.COMPLETE and injected(faults, "expire_reopens_complete"):
        session = replace(session, status=SessionStatus.OPEN)
        return Outcome(replace(payment, session=session), (session.id,))
    if session.status is not SessionStatus.OPEN:
        raise InvalidState(
            f"Checkout session {session.id} is {session.status}; only an open session can be "
            "expired."
        )
    return _end(payment, intent_becomes=IntentStatus.CANCELED, intent_first=False, faults=faults)


def cancel_intent(payment: Payment, faults: frozenset[str] = NO_FAULTS) -> Outcome:
    """The merchant cancels the payment intent: its session expires and a charge in flight is
    voided. Allowed until the payment intent has ended."""
    intent = payment.intent
    if intent.status not in INTENT_UNFINISHED:
        raise InvalidState(
            f"Payment intent {intent.id} is {intent.status}; only a payment intent in "
            "requires_payment_method, requires_action, processing or failed can be canceled."
        )
    return _end(payment, intent_becomes=IntentStatus.CANCELED, intent_first=True, faults=faults)


def reach_deadline(payment: Payment, faults: frozenset[str] = NO_FAULTS) -> Outcome:
    """The test clock reached the session's ``expires_at``: the session expires, its payment
    intent expires, and a charge in flight is voided."""
    if payment.session.status is not SessionStatus.OPEN:
        raise InvalidState(f"Checkout session {payment.session.id} is no longer open.")
    return _end(payment, intent_becomes=IntentStatus.EXPIRED, intent_first=False, faults=faults)


def settle(payment: Payment, charge_id: str) -> Outcome:
    """The test clock passed the charge's settlement time: its funds are paid out."""
    charge = payment.charge(charge_id)
    if charge.status is not ChargeStatus.SUCCEEDED:
        raise InvalidState(
            f"Charge {charge.id} is {charge.status}; only a succeeded charge settles."
        )
    return Outcome(payment.with_charge(replace(charge, status=ChargeStatus.SETTLED)), (charge.id,))


def settles_at(charge: Charge) -> int | None:
    """When a succeeded charge is due to settle, on the test clock; None for any other."""
    if charge.status is not ChargeStatus.SUCCEEDED or charge.succeeded_at is None:
        return None
    return charge.succeeded_at + SETTLEMENT_DELAY


def _end(
    payment: Payment,
    *,
    intent_becomes: IntentStatus,
    intent_first: bool,
    faults: frozenset[str] = NO_FAULTS,
) -> Outcome:
    """End a payment without success: the session expires, the payment intent becomes
    ``intent_becomes`` and a charge in flight is voided; each only if it has not ended. The
    object acted on comes first in ``entered`` (the intent when it was canceled), then the
    other, then the voided charge."""
    session, intent, charge = payment.session, payment.intent, payment.latest_charge
    entered: dict[str, list[str]] = {"session": [], "intent": [], "charge": []}
    if session.status is SessionStatus.OPEN:
        session = replace(session, status=SessionStatus.EXPIRED)
        entered["session"].append(session.id)
    if intent.status in INTENT_UNFINISHED:
        intent = replace(intent, status=intent_becomes)
        entered["intent"].append(intent.id)
    changed = replace(payment, session=session, intent=intent)
    voidable = set(CHARGE_IN_FLIGHT)
    if injected(faults, "expire_voids_failed_charge"):
        voidable.add(ChargeStatus.FAILED)
    if charge is not None and charge.status in voidable:
        changed = changed.with_charge(replace(charge, status=ChargeStatus.CANCELED))
        entered["charge"].append(charge.id)
    order = ("intent", "session", "charge") if intent_first else ("session", "intent", "charge")
    return Outcome(changed, tuple(object_id for kind in order for object_id in entered[kind]))


def _error(code: str) -> PaymentError:
    return PaymentError(code, FAILURE_MESSAGES[code])
