"""The catalogue of deliberately injected bugs a sandbox can be started with, so that the
conformance suite can prove it catches each one (``cxpay-conformance serve --fault NAME``,
``cxpay-conformance selftest``).

Every fault is off unless named in :attr:`~.config.ServerConfig.faults`. Each one is a small
switch at the one decision it corrupts, in the module that makes that decision (the domain
rules, the clock, events, the dispatcher, idempotency, authentication, look-ups, the read
serializers); the code asks :func:`injected` there, so that grepping a fault's name finds its
switch. ``family`` names the conformance check that should catch the fault; it is text for
people and for the self-test, the server itself knows nothing of the suite.

>>> injected(frozenset({"session_not_completed"}), "session_not_completed")
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

NO_FAULTS: frozenset[str] = frozenset()

@dataclass(frozen=True, slots=True)
class Fault:
    """One injectable bug: its name, the check family that should catch it, what it breaks,
    and where its switch lives. ``blind_spot`` is set when the sequential conformance suite
    cannot catch it by design, and says why."""

    name: str
    family: str
    description: str
    where: str
    blind_spot: str = ""


_CATALOGUE = (
    # --- status: the answer's HTTP status and error code -------------------------------------
    Fault("pay_while_processing", "status",
          "pay is accepted while a charge is processing: a second charge goes in flight "
          "(double charge on retry)", "domain.pay"),
    Fault("pay_accepted_on_canceled", "status",
          "pay is accepted on a canceled payment intent and moves it again (a terminal state "
          "left)", "domain.pay"),
    Fault("pay_refused_after_failure", "status",
          "pay is refused with 409 on a failed payment intent: the customer cannot retry with "
          "another card", "domain.pay"),
    Fault("expire_reopens_complete", "status",
          "expire on a complete session is accepted and re-opens it (a terminal state left)",
          "domain.expire_session"),
    Fault("conflict_answered_not_found", "status",
          "an action refused for its state answers 404 resource_missing instead of 409 "
          "invalid_state (wrong HTTP status for a rejection)", "actions._allowed"),
    Fault("conflict_reported_as_in_use", "status",
          "an action refused for its state answers 409 idempotency_error/"
          "idempotency_key_in_use instead of invalid_request_error/invalid_state (wrong error "
          "code)", "actions._allowed"),
    # --- state: the objects read back ----------------------------------------------------------
    Fault("intent_succeeded_while_charge_pending", "state",
          "pay without 3D Secure marks the payment intent succeeded while its charge is "
          "still pending at the network (a status lie)", "domain.pay"),
    Fault("processing_read_as_requires_payment_method", "state",
          "GET of a processing payment intent reports requires_payment_method (a status lie "
          "in the read serializer)", "queries.get_intent"),
    Fault("three_d_secure_skipped", "state",
          "a card that needs 3D Secure goes straight to the network (pending/processing) "
          "instead of requires_action", "domain.pay"),
    Fault("session_not_completed", "state",
          "the session stays open when its payment succeeds", "domain.answer_charge"),
    Fault("last_payment_error_missing", "state",
          "a declined charge fails its payment intent without setting last_payment_error",
          "domain.answer_charge"),
    Fault("expire_voids_failed_charge", "state",
          "ending a payment voids its latest charge even when that charge already failed "
          "(failed -> canceled: a terminal state left)", "domain._end"),
    Fault("processing_never_resolves", "state",
          "network-response answers 200 with the outcome but never stores it: the charge "
          "stays pending and the payment processing forever", "actions.answer_charge"),
    Fault("charges_newest_first", "state",
          "GET of a payment intent lists its charges newest first instead of oldest first "
          "(oldest last)", "queries.get_intent"),
    Fault("charge_missing_from_list", "state",
          "GET of a payment intent lists only its latest charge: earlier attempts are "
          "missing from charges", "queries.get_intent"),
    Fault("latest_charge_not_updated", "state",
          "GET of a payment intent keeps latest_charge at the first charge after a retry",
          "queries.get_intent"),
    Fault("expiry_not_enforced", "state",
          "advancing the test clock past a session's expires_at does not expire it",
          "clock.due_work"),
    Fault("expiry_off_by_one", "state",
          "a session expires only when the clock is past expires_at, not when it reaches it "
          "(off by one second)", "clock.due_work"),
    Fault("settlement_never_happens", "state",
          "succeeded charges never settle, however far the test clock advances",
          "clock.due_work"),
    # --- invariants: cross-object rules (the state check, which compares every field the
    # invariants constrain, reports these first; the self-test turns state off to show that
    # the invariants check catches them on its own) ---------------------------------------------
    Fault("amount_drift_on_charge", "invariants",
          "a charge carries the session's amount rounded up to whole currency units, so "
          "session, payment intent and charge amounts disagree", "domain.pay"),
    Fault("currency_drift_on_charge", "invariants",
          "a charge is made in the merchant's default currency (usd) whatever the session's "
          "currency", "domain.pay"),
    # --- response_body: the object an accepted action answers with -----------------------------
    Fault("pay_answers_stale_intent", "response_body",
          "pay answers with the payment intent as it was before the card was submitted "
          "(what is stored is right)", "actions.pay"),
    # --- openapi: the wire contract --------------------------------------------------------------
    Fault("session_missing_created", "openapi",
          "GET of a checkout session omits the required created field", "queries.get_session"),
    Fault("amount_as_string", "openapi",
          'GET of a charge gives amount as a string ("2000") instead of an integer',
          "queries.get_charge"),
    Fault("conflict_as_bad_request", "openapi",
          "an action refused for its state answers 400 instead of 409 (code invalid_state, "
          "which no documented 400 answer carries)", "actions._allowed"),
    Fault("invalid_request_code", "openapi",
          "an action refused for its state answers 409 with code invalid_request instead of "
          "invalid_state (a code the contract does not have)", "actions._allowed"),
    # The contract's webhooks section gives each event type its body (data.object's status
    # included), so the openapi check refuses these before the webhooks check compares them.
    Fault("mistyped_event_type", "openapi",
          "a failed payment intent emits payment_intent.failed instead of "
          "payment_intent.payment_failed", "events.events_of"),
    Fault("stale_event_snapshot", "openapi",
          "data.object of an event is the object as it was before the change",
          "events.events_of"),
    # --- webhooks --------------------------------------------------------------------------------
    Fault("no_charge_failed_event", "webhooks",
          "no charge.failed event is ever recorded or sent", "events.events_of"),
    Fault("duplicate_event_new_id", "webhooks",
          "payment_intent.succeeded is recorded twice, the copy with a new event id",
          "events.events_of"),
    Fault("redelivery_new_event_id", "webhooks",
          "every event is delivered a second time (at least once allows that), but the "
          "redelivery carries a new event id", "dispatcher._send"),
    Fault("webhook_never_retried", "webhooks",
          "a delivery the endpoint refuses (an error status, no answer, a reset connection) is "
          "given up at once instead of retried: at most once, not at least once",
          "dispatcher._send"),
    Fault("deleted_endpoint_still_receives", "webhooks",
          "a deleted webhook endpoint still gets the merchant's new events (the outbox owes them "
          "to deleted endpoints too, and the dispatcher sends them)",
          "transaction.Transaction._endpoints, dispatcher._send"),
    # --- event_list: GET /events -----------------------------------------------------------
    Fault("event_list_empty", "event_list",
          "GET /events always answers an empty list (has_more false): a merchant that missed a "
          "webhook cannot reconcile", "queries.list_events"),
    Fault("event_list_page_gap", "event_list",
          "paging GET /events with starting_after skips the event right after it: one event "
          "is missing at each page boundary", "queries.list_events"),
    # --- signatures ------------------------------------------------------------------------------
    Fault("signature_wrong_secret", "signatures",
          "deliveries are signed with the endpoint secret minus its whsec_ prefix",
          "dispatcher._send"),
    Fault("signature_stale_timestamp", "signatures",
          "deliveries are signed with a timestamp an hour old (t - 3600)", "dispatcher._send"),
    Fault("signature_over_other_body", "signatures",
          "the signature is computed over a pretty-printed body, not the compact body sent",
          "dispatcher._send"),
    Fault("one_secret_for_all_endpoints", "signatures",
          "the signing secret is cached per merchant: every endpoint of a merchant is signed with "
          "the secret of the first one the dispatcher signed for", "dispatcher._secret_of"),
    # --- idempotency -----------------------------------------------------------------------------
    Fault("idempotency_ignored", "idempotency",
          "a replay with the same Idempotency-Key runs the request again instead of answering "
          "the first answer", "service.Sandbox.claim"),
    Fault("idempotency_reuse_accepted", "idempotency",
          "an Idempotency-Key reused with other parameters replays the first answer instead "
          "of 400 idempotency_key_reused", "idempotency.InFlightKeys.claim"),
    Fault("idempotency_key_never_forgotten", "idempotency",
          "an Idempotency-Key is remembered forever: the same request sent 24 hours after the "
          "first answers the first answer again instead of making a new object",
          "idempotency.InFlightKeys.claim"),
    # --- auth ------------------------------------------------------------------------------------
    Fault("test_helpers_without_key", "auth",
          "test-helper requests without an API key act as the sandbox's first merchant "
          "instead of 401", "http_io.merchant_of"),
    Fault("missing_key_reported_invalid", "auth",
          "a request without any API key answers 401 api_key_invalid instead of "
          "api_key_missing", "http_io.merchant_of_headers"),
    # --- tenant isolation ------------------------------------------------------------------------
    Fault("tenant_leak_reads", "tenant_isolation",
          "GET of a session, payment intent or charge answers it to any merchant's key",
          "queries"),
    Fault("tenant_leak_cancel", "tenant_isolation",
          "cancel works on another merchant's payment intent (no ownership check on that "
          "one operation)", "actions.cancel_intent"),
    Fault("idempotency_global_scope", "tenant_isolation",
          "Idempotency-Keys are global instead of per merchant: another merchant's request "
          "with the same key and body gets this merchant's answer", "service.Sandbox.claim"),
    Fault("global_test_clock", "tenant_isolation",
          "the sandbox keeps one test clock for all merchants: advancing one merchant's clock "
          "moves every merchant's time (their next advance starts later, their sessions expire "
          "early)", "service.Sandbox.clock_of"),
    Fault("events_to_every_merchant", "tenant_isolation",
          "a merchant's events are owed to every merchant's webhook endpoints, not only its own "
          "(each signed with the receiving endpoint's secret)", "transaction.Transaction._endpoints"),
    # --- linearizability: races, each a check-then-act gap widened by service.race_window ----
    Fault("no_lock_in_pay", "linearizability",
          "pay runs without the merchant's lock and awaits the card network between reading "
          "and committing, so two concurrent pays both succeed (two charges in flight)",
          "app.Api.pay"),
    Fault("idempotency_insert_after_work", "linearizability",
          "an Idempotency-Key is looked up before the work and stored after it, never held "
          "while the request is in flight, so two requests with one key sent at once both do "
          "the work (two objects, or two charges) instead of one answer and a replay or 409 "
          "idempotency_key_in_use", "idempotency.InFlightKeys.claim"),
    Fault("expire_and_network_both_apply", "linearizability",
          "expire and network-response run without the merchant's lock and await between "
          "reading the payment and committing, so an expire racing the network's answer both "
          "apply: both answer 200, the session both expires and completes (both sets of "
          "events) and the last commit wins", "app.Api.expire_session, app.Api.answer_charge"),
    Fault("double_cancel_voids_twice", "linearizability",
          "cancel runs without the merchant's lock and awaits the card network's void between "
          "reading and committing, so two concurrent cancels both answer 200 instead of one "
          "409: payment_intent.canceled is recorded twice and a charge in flight is voided "
          "twice (two charge.canceled events)", "app.Api.cancel_intent"),
)

#: Every fault, by name, in catalogue order (grouped by the family that catches it).
FAULTS: Mapping[str, Fault] = MappingProxyType({fault.name: fault for fault in _CATALOGUE})


def injected(faults: frozenset[str], name: str) -> bool:
    """Whether fault ``name`` is switched on in ``faults``.

    A name missing from the catalogue is a bug in the switch itself, so it raises at once
    rather than silently never firing.
    """
    if name not in FAULTS:
        raise KeyError(f"{name!r} is not in the fault catalogue (server/faults.py)")
    return name in faults
