"""The checks: plain functions, each registered under a name users can select or skip.

Each check takes what it needs from one step (the model's prediction, the exchange, the
objects read back) and raises :class:`~cxpay_conformance.errors.ConformanceFailure` (an
``AssertionError``) naming itself, so a report says which check failed and a user can
``--skip-checks`` it. The state machine (:mod:`.machine`) decides when each check runs; this
module decides what "conformant" means. ``cxpay-conformance run --list-checks`` prints them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from cxpay_conformance.errors import ConformanceFailure, UsageError
from cxpay_conformance.model import Violation
from cxpay_conformance.spec import Rejection
from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.event_list import Listing, object_id_of, skipped_by_paging
from cxpay_conformance.suite.observed import differences
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.receiver import REFUSALS, Delivery

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """A registered check: its name, what it verifies, and the function that does it."""

    name: str
    description: str
    function: Callable[..., None]


CHECKS: dict[str, CheckInfo] = {}


def check(name: str, description: str) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Register a check function under ``name``.

    >>> @check("status", "HTTP status and error code are the predicted ones")
    ... def status(exchange, expected_status): ...
    """

    def register(function: Callable[P, None]) -> Callable[P, None]:
        CHECKS[name] = CheckInfo(name, description, function)
        return function

    return register


def select(checks: Iterable[str] | None, skip: Iterable[str] | None) -> frozenset[str]:
    """The names of the checks to run, from ``--checks`` and ``--skip-checks``."""
    chosen = set(CHECKS) if not checks else set(checks)
    dropped = set(skip or ())
    unknown = sorted((chosen | dropped) - set(CHECKS))
    if unknown:
        raise UsageError(
            f"unknown check{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; "
            f"the checks are: {', '.join(CHECKS)}"
        )
    return frozenset(chosen - dropped)


def _failure(name: str, message: str, exchange: Exchange | None = None, **fields: Any) -> ConformanceFailure:
    __tracebackhide__ = True
    if exchange is not None:
        fields.setdefault("request", exchange.describe())
        fields.setdefault("response", json.dumps(exchange.answer, sort_keys=True)[:2000])
    return ConformanceFailure(message, check=name, **fields)


def _answered(exchange: Exchange) -> str:
    """``409 invalid_request_error/invalid_state``, or ``200 with the charge ch_...`` for an object."""
    if exchange.error_code is not None or exchange.error_type is not None:
        return f"{exchange.status} {exchange.error_type}/{exchange.error_code}"
    answer = exchange.answer if isinstance(exchange.answer, dict) else {}
    what = " ".join(str(answer[k]) for k in ("object", "id") if answer.get(k) is not None)
    return f"{exchange.status} with the {what}" if what else f"{exchange.status}"


def _body_changes(first: Any, replay: Any) -> list[str]:
    """The top-level fields that differ between two answers, for a message."""
    if not isinstance(first, Mapping) or not isinstance(replay, Mapping):
        return [f"{_short(first)} became {_short(replay)}"]
    return [f"{key}: {_short(first.get(key, _ABSENT))} became {_short(replay.get(key, _ABSENT))}"
            for key in sorted(set(first) | set(replay), key=str)
            if first.get(key, _ABSENT) != replay.get(key, _ABSENT)]


_ABSENT: Any = type("_Absent", (), {"__repr__": lambda self: "(absent)"})()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- answers ----------------------------------------------------------------------------------


@check("status", "HTTP status and error type/code are the ones the spec predicts, "
                 "including the rejection of events fired where they are not allowed")
def check_status(exchange: Exchange, *, accepted: bool, rejection: Rejection | None,
                 state: str | None, event: str) -> None:
    __tracebackhide__ = True
    if exchange.status >= 500:
        raise _failure("status", f"{event}: the implementation failed with {exchange.status}; "
                       "no request may make it crash (a 5xx is never a conforming answer)",
                       exchange, event=event, expected="2xx or 4xx", observed=exchange.status)
    if accepted:
        if exchange.status != 200:
            raise _failure("status", f"{event} is allowed in state {state}, so it must succeed (200); "
                           f"the implementation answered {exchange.status} {exchange.error_code or ''}".rstrip(),
                           exchange, event=event, expected=200, observed=exchange.status)
        return
    assert rejection is not None, f"the spec has no rejection for {event} in {state}"
    observed = (exchange.status, exchange.error_type, exchange.error_code)
    expected = (rejection.status, rejection.type, rejection.code)
    if observed != expected:
        raise _failure(
            "status",
            f"{event} is not allowed in state {state}: the spec expects {rejection.status} "
            f"{rejection.type}/{rejection.code}, the implementation answered {_answered(exchange)}",
            exchange, event=event, expected=expected, observed=observed,
        )


@check("response_body", "the object an accepted event answers with is the predicted one")
def check_response_body(exchange: Exchange, expected: Mapping[str, Any], *, event: str) -> None:
    __tracebackhide__ = True
    found = differences(expected, exchange.answer)
    if found:
        raise _failure("response_body", f"{event} answered with an object that differs from the "
                       f"prediction: {'; '.join(found)}", exchange, event=event,
                       expected=dict(expected), observed=exchange.answer)


@check("openapi", "every answer validates against spec/openapi.yaml")
def check_openapi(contract: OpenAPIContract, exchange: Exchange) -> None:
    __tracebackhide__ = True
    problems = contract.response_problems(exchange.operation_id, exchange.status, exchange.answer)
    if problems:
        raise _failure("openapi", f"the {exchange.status} answer of {exchange.operation_id} breaks "
                       f"spec/openapi.yaml: {'; '.join(problems[:5])}", exchange,
                       event=exchange.operation_id, expected="a valid answer", observed=problems)


def check_webhook_bodies(contract: OpenAPIContract, deliveries: Sequence[Delivery]) -> None:
    """The ``openapi`` check of webhook deliveries: each body is valid for its event type."""
    __tracebackhide__ = True
    for delivery in deliveries:
        problems = contract.webhook_problems(str(delivery.type), delivery.event)
        if problems:
            raise _failure("openapi", f"the webhook {delivery.type} {delivery.event_id} breaks the contract's "
                           f"webhooks section (spec/openapi.yaml): {'; '.join(problems[:5])}",
                           event="webhook", expected="a valid event body", observed=problems)


# --- objects ----------------------------------------------------------------------------------


@check("state", "every object read back equals the model's prediction (status, amounts, currency, "
                "links, the charges list); after a rejection, nothing changed")
def check_state(expected: Mapping[str, Mapping[str, Any]], observed: Mapping[str, Any], *,
                event: str, after_rejection: bool) -> None:
    __tracebackhide__ = True
    problems = []
    for object_id, want in expected.items():
        found = differences(want, observed.get(object_id), object_id)
        problems.extend(found)
    if problems:
        cause = ("the rejected " if after_rejection else "") + event
        raise _failure("state", f"after {cause}, objects read back differ from the model: "
                       f"{'; '.join(problems[:6])}", event=event,
                       expected={k: dict(v) for k, v in expected.items()},
                       observed={k: observed.get(k) for k in expected})


@check("invariants", "the spec's cross-object invariants hold on the objects read back")
def check_invariants(violations: Sequence[Violation], *, event: str) -> None:
    __tracebackhide__ = True
    if violations:
        raise _failure("invariants", "; ".join(str(v) for v in violations), event=event,
                       expected=[v.invariant.name for v in violations], observed=[v.detail for v in violations])


# --- webhooks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExpectedEvent:
    """A webhook the model says an implementation must send."""

    type: str
    object_id: str
    snapshot: Mapping[str, Any]
    step: int


@check("signatures", "every webhook delivery carries a valid, fresh CXPay-Signature")
def check_signatures(deliveries: Sequence[Delivery]) -> None:
    __tracebackhide__ = True
    bad = [d for d in deliveries if not d.signature_ok]
    if bad:
        sample = bad[0]
        raise _failure("signatures", f"{len(bad)} webhook deliver{'y' if len(bad) == 1 else 'ies'} "
                       f"failed verification, e.g. {sample.type} {sample.event_id}: {sample.problem}",
                       event="webhook", expected="valid signatures",
                       observed=[d.problem for d in bad[:5]])


@check("webhooks", "every expected webhook arrives once per status change, none unexpected, "
                   "duplicates share an id and a body, and payloads agree with the model")
def check_webhooks(expected: Sequence[ExpectedEvent], deliveries: Sequence[Delivery],
                   known_ids: Iterable[str]) -> None:
    __tracebackhide__ = True
    known = set(known_ids)
    ours = [d for d in deliveries if d.object_id in known]
    by_event: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in ours:
        by_event[str(delivery.event_id)].append(delivery)
    for event_id, copies in by_event.items():
        bodies = {json.dumps(c.event, sort_keys=True) for c in copies}
        if len(bodies) > 1:
            raise _failure("webhooks", f"event {event_id} was delivered {len(copies)} times with "
                           "different bodies; a redelivery must repeat the same event", event="webhook",
                           expected="identical duplicates", observed=sorted(bodies)[:2])
    distinct = {event_id: copies[0] for event_id, copies in by_event.items()}
    want = Counter((e.type, e.object_id) for e in expected)
    got = Counter((str(d.type), str(d.object_id)) for d in distinct.values())
    missing = want - got
    extra = got - want
    if missing:
        first = next(e for e in expected if (e.type, e.object_id) in missing)
        raise _failure("webhooks", f"missing webhook{'s' if sum(missing.values()) > 1 else ''}: "
                       + ", ".join(f"{t} for {o}" + (f" (x{n})" if n > 1 else "") for (t, o), n in missing.items())
                       + f" (the first was due at step {first.step})", event="webhook",
                       expected=sorted(map(list, want.elements())), observed=sorted(map(list, got.elements())))
    if extra:
        raise _failure("webhooks", "unexpected webhook"
                       + ("s" if sum(extra.values()) > 1 else "") + ": "
                       + ", ".join(f"{t} for {o}" + (f" (x{n})" if n > 1 else "") for (t, o), n in extra.items())
                       + "; each status change must make exactly one event", event="webhook",
                       expected=sorted(map(list, want.elements())), observed=sorted(map(list, got.elements())))
    pending: dict[tuple[str, str], list[ExpectedEvent]] = defaultdict(list)
    for item in expected:
        pending[(item.type, item.object_id)].append(item)
    for delivery in sorted(distinct.values(), key=lambda d: d.received_at):
        candidates = pending[(str(delivery.type), str(delivery.object_id))]
        data = delivery.event.get("data", {}).get("object") if isinstance(delivery.event, dict) else None
        matches = [c for c in candidates if not differences(c.snapshot, data)]
        if not matches:
            found = differences(candidates[0].snapshot, data, "data.object")
            raise _failure("webhooks", f"the payload of {delivery.type} {delivery.event_id} differs from "
                           f"the object right after the change: {'; '.join(found[:5])}", event="webhook",
                           expected=dict(candidates[0].snapshot), observed=data)
        candidates.remove(matches[0])


def check_retries(refused: Sequence[Delivery], deliveries: Sequence[Delivery], window: float) -> None:
    """The ``webhooks`` check of at-least-once delivery: each delivery the suite's receiver
    ``refused`` on purpose came again to the same endpoint with the same event id, after the
    refusal and within ``window`` seconds of it (its signature is the ``signatures`` check's)."""
    __tracebackhide__ = True
    for first in refused:
        again = [d for d in deliveries if d.event_id == first.event_id and d.endpoint == first.endpoint
                 and d.received_at > first.received_at and not d.refused]
        stale = [d for d in again if d.received_at - first.received_at >= 2 and first.signed_at is not None
                 and d.signed_at == first.signed_at]
        if stale:
            raise _failure("webhooks", f"the retry of {first.type} {first.event_id} came "
                           f"{stale[0].received_at - first.received_at:.1f} s after the refused attempt with the "
                           f"same signature (t={first.signed_at}): each attempt is signed when it is sent",
                           event="webhook", expected="a fresh signature", observed=f"t={stale[0].signed_at}")
        if not any(d.received_at - first.received_at <= window for d in again):
            late = f"; it came again only after {again[0].received_at - first.received_at:.1f} s" if again else ""
            raise _failure("webhooks", f"{first.type} {first.event_id} (for {first.object_id}), refused on purpose by "
                           f"the suite's receiver, never came again within {window:g} s{late} (the receiver "
                           f"{REFUSALS[first.refused]}); delivery is at least once, so a refused delivery is owed "
                           "again with the same event id (--webhook-retry-window)", event="webhook",
                           expected=f"{first.event_id} again within {window:g} s",
                           observed=f"{len(again)} later deliveries of it")


def check_endpoint_lifecycle(owed: Sequence[ExpectedEvent], after_delete: Sequence[ExpectedEvent],
                             before_delete: Sequence[ExpectedEvent], deliveries: Sequence[Delivery],
                             endpoint: str) -> None:
    """The ``webhooks`` check of a second endpoint of one merchant: every event ``owed`` (made
    while it was registered) came to it too, and none made after its delete (``after_delete``;
    an event whose type and object also came ``before_delete`` cannot be told apart, and is
    not judged)."""
    __tracebackhide__ = True
    got = Counter((str(d.type), str(d.object_id)) for d in {d.event_id: d for d in deliveries}.values())
    missing = Counter((e.type, e.object_id) for e in owed) - got
    if missing:
        raise _failure("webhooks", f"the second endpoint {endpoint} of the merchant did not get "
                       + ", ".join(f"{t} for {o}" for t, o in missing)
                       + ": every registered endpoint gets every event (the first endpoint got them)",
                       event="webhook", expected=sorted(map(list, Counter((e.type, e.object_id) for e in owed))),
                       observed=sorted(map(list, got)))
    earlier = {(e.type, e.object_id) for e in before_delete}
    later = {(e.type, e.object_id) for e in after_delete} - earlier
    stray = [d for d in deliveries if (str(d.type), str(d.object_id)) in later]
    if stray:
        raise _failure("webhooks", f"the endpoint {endpoint} was deleted, yet it received {stray[0].type} "
                       f"{stray[0].event_id} for {stray[0].object_id}, an event made after the delete",
                       event="webhook", expected="nothing after the delete",
                       observed=[f"{d.type} {d.event_id}" for d in stray[:5]])


# --- the event list ----------------------------------------------------------------------------


@check("event_list", "GET /events, paged with limit and starting_after, lists every event the model "
                     "expects, under the ids the webhooks carried, oldest first, each once, has_more "
                     "false exactly at the end; a starting_after that is not the merchant's is refused")
def check_event_list(expected: Sequence[ExpectedEvent], listing: Listing, known_ids: Iterable[str],
                     deliveries: Sequence[Delivery] | None = None, whole: Listing | None = None,
                     refusals: Sequence[tuple[str, Exchange]] = (),
                     refused_with: tuple[int, str, str] | None = None) -> None:
    """``listing``: the list read a few events at a time; ``whole``: read in the largest pages
    (to say where paging skipped an event); ``deliveries``: the webhooks of ``known_ids``' objects,
    when they were collected. Like the webhooks check, events of other objects are not ours to judge.
    ``refusals``: pages asked for after an event id that is not the merchant's (what it was, and
    the exchange), each to be answered ``refused_with`` and ``param`` = ``starting_after``."""
    __tracebackhide__ = True
    for what, exchange in refusals:
        observed = (exchange.status, exchange.error_type, exchange.error_code)
        error = exchange.answer.get("error") if isinstance(exchange.answer, dict) else None
        param = error.get("param") if isinstance(error, dict) else None
        if refused_with is not None and (observed != refused_with or param != "starting_after"):
            raise _failure("event_list", f"GET /events with starting_after {what} must answer {refused_with[0]} "
                           f"{refused_with[1]}/{refused_with[2]} with param starting_after; the implementation "
                           f"answered {_answered(exchange)}" + (f" with param {param!r}" if error else ""),
                           exchange, event="list events", expected=(*refused_with, "starting_after"),
                           observed=(*observed, param))
    for reading in (listing, whole):
        if reading is not None and reading.problem:
            raise _failure("event_list", f"GET /events {reading.describe()}: {reading.problem}",
                           reading.problem_page.exchange if reading.problem_page else None,
                           event="list events", expected="pages that list each event once", observed=reading.problem)
    last = listing.pages[-1].exchange if listing.pages else None
    for before, after in zip(listing.events, listing.events[1:], strict=False):
        if isinstance(before.get("created"), int) and isinstance(after.get("created"), int) \
                and after["created"] < before["created"]:
            page = listing.page_of(after["id"])
            raise _failure("event_list", f"GET /events is not oldest first: {after['id']} (created "
                           f"{after['created']}) is listed after {before['id']} (created {before['created']})",
                           page.exchange if page is not None else last,
                           event="list events", expected="creation order", observed=[before["id"], after["id"]])
    known = set(known_ids)
    ours = [e for e in listing.events if object_id_of(e) in known]
    want = Counter((e.type, e.object_id) for e in expected)
    got = Counter((str(e.get("type")), str(object_id_of(e))) for e in ours)
    skipped, gap = skipped_by_paging(listing, whole, want - got)
    for kinds, what, why in ((want - got, "lacks", skipped),
                             (got - want, "lists unexpected", "; each status change makes exactly one event")):
        if kinds:
            items = ", ".join(f"{t} for {o}" + (f" (x{n})" if n > 1 else "") for (t, o), n in kinds.items())
            raise _failure("event_list", f"GET /events ({listing.describe()}) {what} "
                           f"event{'s' if sum(kinds.values()) > 1 else ''}: {items}{why}",
                           gap.exchange if gap is not None and what == "lacks" else last,
                           event="list events", expected=sorted(map(list, want.elements())),
                           observed=sorted(map(list, got.elements())))
    pending: dict[tuple[str, str], list[ExpectedEvent]] = defaultdict(list)
    for item in expected:
        pending[(item.type, item.object_id)].append(item)
    previous: tuple[int, dict[str, Any]] | None = None
    for event in ours:
        candidates = pending[(str(event.get("type")), str(object_id_of(event)))]
        data = event["data"]["object"]
        matches = [c for c in candidates if not differences(c.snapshot, data)]
        if not matches:
            found = differences(candidates[0].snapshot, data, "data.object")
            raise _failure("event_list", f"GET /events lists {event.get('type')} {event['id']} with an object that "
                           f"differs from the object right after the change: {'; '.join(found[:5])}", last,
                           event="list events", expected=dict(candidates[0].snapshot), observed=data)
        candidates.remove(matches[0])
        if previous is not None and matches[0].step < previous[0]:
            raise _failure("event_list", f"GET /events is not in creation order: {event['id']} ({event.get('type')}, "
                           f"from step {matches[0].step}) is listed after {previous[1]['id']} "
                           f"({previous[1].get('type')}, from step {previous[0]})", last, event="list events",
                           expected="oldest first", observed=[previous[1]["id"], event["id"]])
        previous = (matches[0].step, event)
    listed = {e["id"]: e for e in ours}
    for delivery in deliveries or ():
        if delivery.object_id not in known:
            continue
        in_list = listed.get(str(delivery.event_id))
        if in_list is None:
            raise _failure("event_list", f"the webhook {delivery.type} {delivery.event_id} is not in GET /events "
                           f"({listing.describe()}); a merchant reconciles by event id, so the list must carry "
                           "the events the webhooks carried", last, event="list events",
                           expected=str(delivery.event_id), observed=sorted(listed))
        delivered = delivery.event if isinstance(delivery.event, dict) else {}
        if (in_list.get("type"), in_list.get("data")) != (delivered.get("type"), delivered.get("data")):
            raise _failure("event_list", f"GET /events lists {delivery.event_id} otherwise than its webhook: "
                           + "; ".join(_body_changes(delivered, in_list)[:5]), last, event="list events",
                           expected=delivered, observed=in_list)


# --- probes -----------------------------------------------------------------------------------


@check("idempotency", "a replayed request answers the same and does nothing again; "
                      "the same key with other parameters is refused, and so is a key of the wrong length")
def check_idempotent_replay(first: Exchange, replay: Exchange) -> None:
    __tracebackhide__ = True
    if (replay.status, replay.answer) != (first.status, first.answer):
        changes = "; ".join(_body_changes(first.answer, replay.answer)[:5])
        how = (f"it answered {_answered(replay)}" if replay.status != first.status
               else f"it answered {replay.status} with another body: {changes}")
        raise _failure("idempotency", "a replay with the same Idempotency-Key and body must answer "
                       f"exactly as the first request ({_answered(first)}); {how}",
                       replay, event="replay", expected=first.answer, observed=replay.answer)


def check_key_reuse(exchange: Exchange, expected: tuple[int, str, str]) -> None:
    __tracebackhide__ = True
    observed = (exchange.status, exchange.error_type, exchange.error_code)
    if observed != expected:
        raise _failure("idempotency", "an Idempotency-Key reused with other parameters must be refused "
                       f"with {expected[0]} {expected[1]}/{expected[2]}; the implementation answered "
                       f"{_answered(exchange)}", exchange, event="reuse key",
                       expected=expected, observed=observed)


def check_key_length(exchange: Exchange, expected: tuple[int, str, str], *, what: str) -> None:
    """The ``idempotency`` check of a request with an Idempotency-Key at or beyond the spec's bounds."""
    __tracebackhide__ = True
    observed = (exchange.status, exchange.error_type, exchange.error_code)
    if observed != expected:
        raise _failure("idempotency", f"a request with {what} must be answered {expected[0]} "
                       f"{expected[1]}/{expected[2]}; the implementation answered {_answered(exchange)}",
                       exchange, event="key length", expected=expected, observed=observed)


@check("auth", "no key or a wrong key gets 401 with the right code, and changes nothing")
def check_auth(exchange: Exchange, expected: tuple[int, str, str], *, what: str) -> None:
    __tracebackhide__ = True
    observed = (exchange.status, exchange.error_type, exchange.error_code)
    if observed != expected:
        raise _failure("auth", f"a request with {what} must be refused with {expected[0]} "
                       f"{expected[1]}/{expected[2]}; the implementation answered "
                       f"{_answered(exchange)}", exchange, event="auth",
                       expected=expected, observed=observed)


@check("tenant_isolation", "another merchant's key gets 404 for our objects, exactly as an "
                           "unknown id, and changes nothing; our key on its objects likewise; each "
                           "merchant's Idempotency-Keys, test clock, event list and webhook endpoints "
                           "are its own")
def check_tenant(exchange: Exchange | None, expected: tuple[int, str | None, str | None] | None = None, *,
                 changed: str | None = None, broken: str | None = None) -> None:
    """``changed``: how the object, read back by its own merchant, differs from before;
    ``broken``: a merchant's own thing that another merchant's request reached (its clock, its
    Idempotency-Key, its endpoint), said as a sentence."""
    __tracebackhide__ = True
    if broken:
        raise _failure("tenant_isolation", broken, exchange, event="other merchant",
                       expected="each merchant's things its own", observed=broken)
    if exchange is None or expected is None:
        return
    observed = (exchange.status, exchange.error_type, exchange.error_code)
    if observed != expected:
        raise _failure("tenant_isolation", "another merchant's key must not see or touch this "
                       f"merchant's objects ({expected[0]} {expected[2]}, as for an unknown id); "
                       f"the implementation answered {_answered(exchange)}", exchange,
                       event="other merchant", expected=expected, observed=observed)
    if changed:
        raise _failure("tenant_isolation", f"another merchant's refused request must change nothing; {changed}",
                       exchange, event="other merchant", expected="no change", observed=changed)


# --- the concurrent phase ---------------------------------------------------------------------


@check("linearizability", "requests sent at once on one payment are explained by one order of them "
                          "(respecting real time): the answers, the objects read back and the webhooks")
def check_linearizability(verdict: Any, *, plan_story: str) -> None:
    """``verdict``: :class:`~cxpay_conformance.suite.linearizability.Verdict` of one concurrent
    history; a search that hit its bound (``linearizable`` None) is no failure."""
    __tracebackhide__ = True
    if verdict.linearizable is False:
        raise _failure("linearizability", "no order of the requests sent at once explains what the "
                       f"implementation did:\n{verdict.explain()}", event="race",
                       expected="one order of the requests, as the spec says it serialises them",
                       observed=plan_story)
