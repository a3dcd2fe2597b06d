"""The write operations of the API, each one function of a :class:`~.transaction.Transaction`
and its parsed parameters that answers what the client gets back.

An action finds the merchant's objects (404 for anyone else's), asks :mod:`.domain` what the
change does (409 where it is not allowed), and records the outcome in the transaction. It does
no I/O: the service commits the transaction once the action has answered. Injected faults
(:mod:`.faults`) come with the transaction, ``tx.faults``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from cxpay_conformance.server import api_errors, domain, ids
from cxpay_conformance.server.cards import TEST_CARDS
from cxpay_conformance.server.clock import DueKind, due_work
from cxpay_conformance.server.domain import InvalidState, NewSession, Outcome
from cxpay_conformance.server.faults import injected
from cxpay_conformance.server.idempotency import Answer
from cxpay_conformance.server.lookups import (
    payment_of_charge,
    payment_of_intent,
    payment_of_session,
)
from cxpay_conformance.server.parameters import (
    AdvanceClockParams,
    AuthenticateParams,
    CreateEndpointParams,
    CreateSessionParams,
    PayParams,
)
from cxpay_conformance.server.transaction import Transaction
from cxpay_conformance.server.webhook_endpoints import WebhookEndpoint


def create_session(tx: Transaction, params: CreateSessionParams, page_base: str) -> Answer:
    """The merchant creates a checkout session; its hosted page lives under ``page_base``."""
    session_id = ids.new_id(ids.CHECKOUT_SESSION)
    outcome = domain.open_payment(
        NewSession(
            merchant=tx.merchant,
            session_id=session_id,
            intent_id=ids.new_id(ids.PAYMENT_INTENT),
            url=f"{page_base}/pay/{session_id}",
            amount=params.amount,
            currency=params.currency,
            success_url=params.success_url,
            cancel_url=params.cancel_url,
            expires_in=params.expires_in,
            metadata=params.metadata,
            now=tx.now,
        )
    )
    tx.record(outcome)
    return Answer(200, outcome.payment.session.to_api())


def expire_session(tx: Transaction, session_id: str) -> Answer:
    payment = payment_of_session(tx, tx.merchant, session_id)
    outcome = _allowed(tx, lambda: domain.expire_session(payment, tx.faults))
    tx.record(outcome)
    return Answer(200, outcome.payment.session.to_api())


def cancel_intent(tx: Transaction, intent_id: str) -> Answer:
    owner = tx.merchant
    if injected(tx.faults, "tenant_leak_cancel"):
        found = tx.intent(intent_id)
        owner = found.merchant if found is not None else owner
    payment = payment_of_intent(tx, owner, intent_id)
    outcome = _allowed(tx, lambda: domain.cancel_intent(payment, tx.faults))
    tx.record(outcome)
    return Answer(200, outcome.payment.intent.to_api())


def pay(tx: Transaction, session_id: str, params: PayParams) -> Answer:
    payment = payment_of_session(tx, tx.merchant, session_id)
    charge_id = ids.new_id(ids.CHARGE)
    outcome = _allowed(tx, lambda: domain.pay(payment, params.card, charge_id, tx.now, tx.faults))
    tx.record(outcome)
    if injected(tx.faults, "pay_answers_stale_intent"):
        return Answer(200, payment.intent.to_api())
    return Answer(200, outcome.payment.intent.to_api())


def authenticate(tx: Transaction, intent_id: str, params: AuthenticateParams) -> Answer:
    payment = payment_of_intent(tx, tx.merchant, intent_id)
    outcome = _allowed(tx, lambda: domain.authenticate(payment, params.passed))
    tx.record(outcome)
    return Answer(200, outcome.payment.intent.to_api())


def answer_charge(tx: Transaction, charge_id: str) -> Answer:
    payment = payment_of_charge(tx, tx.merchant, charge_id)
    card = TEST_CARDS[payment.charge(charge_id).card_number]
    outcome = _allowed(
        tx, lambda: domain.answer_charge(payment, charge_id, card, tx.now, tx.faults)
    )
    if not injected(tx.faults, "processing_never_resolves"):
        tx.record(outcome)
    return Answer(200, outcome.payment.charge(charge_id).to_api())


def advance_clock(tx: Transaction, params: AdvanceClockParams) -> Answer:
    """Move the merchant's clock and apply all that falls due on the way, earliest first, each
    change's events dated when it fell due."""
    target = tx.now + params.seconds
    for work in due_work(tx.store, tx.merchant, target, tx.faults):
        payment = payment_of_session(tx, tx.merchant, work.session_id)
        if work.kind is DueKind.DEADLINE:
            outcome = domain.reach_deadline(payment, tx.faults)
        else:
            assert work.charge_id is not None
            outcome = domain.settle(payment, work.charge_id)
        tx.record(outcome, at=work.at)
    tx.set_clock(target)
    return Answer(200, {"object": "test_clock", "now": target})


def create_endpoint(tx: Transaction, params: CreateEndpointParams) -> Answer:
    endpoint = WebhookEndpoint(
        id=ids.new_id(ids.WEBHOOK_ENDPOINT),
        merchant=tx.merchant,
        url=params.url,
        secret=ids.new_id(ids.WEBHOOK_SECRET),
        created=tx.now,
    )
    tx.save_endpoint(endpoint)
    return Answer(200, endpoint.to_api())


def delete_endpoint(tx: Transaction, endpoint_id: str) -> Answer:
    endpoint = tx.endpoint(endpoint_id)
    if endpoint is None or endpoint.merchant != tx.merchant or endpoint.deleted:
        raise api_errors.resource_missing("webhook endpoint", endpoint_id)
    deleted = replace(endpoint, deleted=True)
    tx.save_endpoint(deleted)
    return Answer(200, deleted.to_api())


def _allowed(tx: Transaction, change: Callable[[], Outcome]) -> Outcome:
    """Run a domain change; a change the state does not allow is a 409 for the client."""
    try:
        return change()
    except InvalidState as exc:
        raise _refusal(tx.faults, str(exc)) from None


def _refusal(faults: frozenset[str], message: str) -> api_errors.ApiError:
    """The answer to an action the state does not allow: 409 invalid_state."""
    error = api_errors.invalid_state(message)
    if injected(faults, "conflict_answered_not_found"):
        error = api_errors.ApiError(404, error.type, "resource_missing", message)
    elif injected(faults, "conflict_reported_as_in_use"):
        error = api_errors.ApiError(
            409, api_errors.IDEMPOTENCY, "idempotency_key_in_use", message
        )
    elif injected(faults, "conflict_as_bad_request"):
        error = api_errors.ApiError(400, error.type, error.code, message)
    elif injected(faults, "invalid_request_code"):
        error = api_errors.ApiError(409, error.type, "invalid_request", message)
    return error
