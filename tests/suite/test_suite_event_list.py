"""The event_list check (issue 9 point 8, issue 15 point 3): GET /events, paged with ``limit``
and ``starting_after``, must list every event the model expects, under the webhooks' ids,
oldest first, each once, with ``has_more`` false exactly at the end.

The reading and the check are tested on hand-made pages first; then the whole suite against
the reference server (no false alarm, and the check really pages), and against the two
sandbox faults of the family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from cxpay_conformance.embedded import EmbeddedServer
from cxpay_conformance.errors import ConformanceFailure
from cxpay_conformance.selftest import SelftestOptions, run_one
from cxpay_conformance.spec import load_spec
from cxpay_conformance.suite import HttpAdapter, run_suite
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY, Exchange
from cxpay_conformance.suite.checks import ExpectedEvent, check_event_list
from cxpay_conformance.suite.event_list import UNKNOWN_EVENT, Listing, read_events, skipped_by_paging
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.receiver import Delivery
from cxpay_conformance.suite.report import story
from tests.suite.conftest import config_for
from tests.suite.faulty import Answer, Fault, Seen, serve

# --- hand-made pages -------------------------------------------------------------------------


def event(number: int, kind: str = "checkout_session.created", obj: str = "cs_1", created: int = 100) -> dict[str, Any]:
    return {"id": f"evt_{number}", "object": "event", "type": kind, "created": created,
            "data": {"object": {"id": obj, "status": "open"}}}


class Pages:
    """A fake GET /events over ``events``: pages as the contract says, unless ``answer`` is
    given, which then makes every page from the query."""

    def __init__(self, events: list[dict[str, Any]],
                 answer: Callable[[Mapping[str, Any]], Any] | None = None) -> None:
        self.events = events
        self.answer = answer
        self.queries: list[dict[str, Any]] = []

    def __call__(self, query: Mapping[str, str | int]) -> Exchange:
        self.queries.append(dict(query))
        if self.answer is not None:
            return Exchange("listEvents", "GET", "/events", None, 200, self.answer(query))
        ids = [e["id"] for e in self.events]
        start = ids.index(str(query["starting_after"])) + 1 if "starting_after" in query else 0
        limit = int(query["limit"])
        page = self.events[start:start + limit]
        return Exchange("listEvents", "GET", "/events", None, 200,
                        {"object": "list", "data": page, "has_more": start + limit < len(ids)})


def test_a_list_is_read_page_by_page_to_its_end_and_one_page_beyond() -> None:
    events = [event(n) for n in range(5)]
    pages = Pages(events)
    listing = read_events(pages, 2)
    assert not listing.problem
    assert [e["id"] for e in listing.events] == [e["id"] for e in events]
    assert pages.queries == [{"limit": 2}, {"limit": 2, "starting_after": "evt_1"},
                             {"limit": 2, "starting_after": "evt_3"}, {"limit": 2, "starting_after": "evt_4"}]


def test_an_event_listed_twice_stops_the_reading() -> None:
    # A page that ignores starting_after: the same two events again and again.
    listing = read_events(Pages([], lambda q: {"object": "list", "data": [event(1), event(2)], "has_more": True}), 2)
    assert listing.problem == "page 2 (starting_after evt_2): evt_1 is listed again (first on page 1); " \
                              "paging must list each event once"
    assert len(listing.pages) == 2


@pytest.mark.parametrize(("answer", "problem"), [
    ({"object": "list", "data": [], "has_more": True}, "an empty page says has_more: true"),
    ({"object": "list", "data": [event(1), event(2), event(3)], "has_more": False}, "3 events on a page of limit 2"),
    ({"data": []}, "not a page"),
    ({"object": "list", "data": [{"type": "x"}], "has_more": False}, "not an event with an id"),
])
def test_a_page_that_breaks_the_contract_is_named(answer: dict[str, Any], problem: str) -> None:
    listing = read_events(Pages([], lambda q: answer), 2)
    assert listing.problem.startswith("page 1 (from the first event): ") and problem in listing.problem


def test_has_more_false_before_the_end_is_caught_by_the_page_beyond() -> None:
    events = [event(n) for n in range(4)]

    def ends_early(query: Mapping[str, Any]) -> dict[str, Any]:
        answer = Pages(events)(query).answer
        return {**answer, "has_more": False}

    listing = read_events(Pages([], ends_early), 2)
    assert listing.problem == "page 1 (from the first event): has_more is false, but 2 more event(s) follow " \
                              "its last event evt_1: evt_2, evt_3"


# --- the check on hand-made listings ------------------------------------------------------------


def expected(*items: tuple[str, str, int]) -> list[ExpectedEvent]:
    return [ExpectedEvent(kind, obj, {"id": obj, "status": "open"}, step) for kind, obj, step in items]


CREATED = ("checkout_session.created", "cs_1", 1)
INTENT = ("payment_intent.created", "pi_1", 1)
LATER = ("checkout_session.expired", "cs_1", 4)


def listed(*events: dict[str, Any], limit: int = 2) -> Listing:
    return read_events(Pages(list(events)), limit)


def fails(*args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConformanceFailure) as caught:
        check_event_list(*args, **kwargs)
    assert caught.value.check == "event_list"
    return str(caught.value)


def test_the_expected_events_in_order_pass_and_others_objects_are_not_judged() -> None:
    events = [event(1, *CREATED[:2]), event(2, *INTENT[:2]), event(3, "charge.created", "ch_other"),
              event(4, *LATER[:2])]
    check_event_list(expected(CREATED, INTENT, LATER), listed(*events), {"cs_1", "pi_1"})
    # Within one step the order is the implementation's.
    check_event_list(expected(CREATED, INTENT, LATER), listed(events[1], events[0], events[3]), {"cs_1", "pi_1"})


def test_a_missing_an_unexpected_and_a_late_event_are_each_named() -> None:
    first, second, third = event(1, *CREATED[:2]), event(2, *INTENT[:2]), event(3, *LATER[:2])
    message = fails(expected(CREATED, INTENT, LATER), listed(first, third), {"cs_1", "pi_1"})
    assert "lacks event: payment_intent.created for pi_1" in message
    message = fails(expected(CREATED, LATER), listed(first, second, third), {"cs_1", "pi_1"})
    assert "lists unexpected event: payment_intent.created for pi_1" in message
    message = fails(expected(CREATED, INTENT, LATER), listed(third, first, second), {"cs_1", "pi_1"})
    assert "not in creation order: evt_1 (checkout_session.created, from step 1) is listed after evt_3" in message


def test_an_older_event_listed_after_a_newer_one_is_out_of_order_whatever_its_object() -> None:
    message = fails([], listed(event(1, created=200), event(2, obj="cs_other", created=100)), set())
    assert "not oldest first: evt_2 (created 100) is listed after evt_1 (created 200)" in message


def test_the_page_boundary_that_skipped_an_event_is_named() -> None:
    events = [event(1, *CREATED[:2]), event(2, *INTENT[:2]), event(3, *LATER[:2])]
    whole = listed(*events, limit=100)
    paged = listed(events[0], events[2], limit=1)
    text, page = skipped_by_paging(paged, whole, [("payment_intent.created", "pi_1")])
    assert text == ("; paging skipped evt_2 (payment_intent.created for pi_1): page 2 (starting_after evt_1) "
                    "began with evt_3, but read 100 at a time, the list has it right after evt_1")
    assert page is paged.pages[1]
    assert text in fails(expected(CREATED, INTENT, LATER), paged, {"cs_1", "pi_1"}, None, whole)


def delivery(evt: dict[str, Any], event_id: str | None = None) -> Delivery:
    body = {**evt, "id": event_id or evt["id"]}
    return Delivery(body["id"], evt["type"], evt["data"]["object"]["id"], b"", body, True, "", 0.0)


def test_the_list_carries_the_webhooks_ids_and_bodies() -> None:
    first, second = event(1, *CREATED[:2]), event(2, *INTENT[:2])
    want, ours = expected(CREATED, INTENT), {"cs_1", "pi_1"}
    check_event_list(want, listed(first, second), ours, [delivery(first), delivery(second), delivery(second)])
    message = fails(want, listed(first, second), ours, [delivery(first), delivery(second, "evt_9")])
    assert "the webhook payment_intent.created evt_9 is not in GET /events" in message
    changed = {**second, "data": {"object": {"id": "pi_1", "status": "open", "amount": 5}}}
    message = fails(want, listed(first, second), ours, [delivery(first), delivery(changed)])
    assert "GET /events lists evt_2 otherwise than its webhook: data:" in message


def test_a_starting_after_that_is_not_the_merchant_s_must_be_refused_as_unknown() -> None:
    missing = (404, "invalid_request_error", "resource_missing")
    error = {"type": missing[1], "code": missing[2], "message": "No such event.", "param": "starting_after"}
    refused = Exchange("listEvents", "GET", "/events?starting_after=evt_x", None, 404, {"error": error})
    check_event_list([], listed(), set(), refusals=[("an event id that never existed", refused)], refused_with=missing)
    listed_anyway = Exchange("listEvents", "GET", "/events?starting_after=evt_x", None, 200,
                             {"object": "list", "data": [], "has_more": False})
    message = fails([], listed(), set(), refusals=[("another merchant's event evt_x", listed_anyway)],
                    refused_with=missing)
    assert message.startswith("GET /events with starting_after another merchant's event evt_x must answer 404 "
                              "invalid_request_error/resource_missing with param starting_after; "
                              "the implementation answered 200")
    no_param = Exchange("listEvents", "GET", "/events", None, 404, {"error": {**error, "param": None}})
    assert "with param None" in fails([], listed(), set(), refusals=[("x", no_param)], refused_with=missing)


# --- the suite against the reference server ---------------------------------------------------


@dataclass
class CountingAdapter:
    """The HTTP adapter, counting the GET /events pages asked for with starting_after."""

    inner: HttpAdapter
    pages: list[Mapping[str, str | int]] = field(default_factory=list)

    def perform(self, operation_id: str, object_id: str | None = None, body: Any = None, *,
                api_key: Any = USE_DEFAULT_KEY, idempotency_key: str | None = None,
                query: Mapping[str, str | int] | None = None) -> Exchange:
        if operation_id == "listEvents" and query:
            self.pages.append(query)
        return self.inner.perform(operation_id, object_id, body, api_key=api_key,
                                  idempotency_key=idempotency_key, query=query)

    def close(self) -> None:
        self.inner.close()


def test_the_reference_server_passes_and_every_example_pages_its_events(reference: EmbeddedServer) -> None:
    contract = OpenAPIContract.load(load_spec(None).openapi_path)
    adapter = CountingAdapter(HttpAdapter(reference.base_url, reference.api_key, contract,
                                          key_labels={reference.second_api_key: "second merchant"}))
    result = run_suite(config_for(reference, max_examples=15), adapter=adapter)
    assert result.conformant, story(result)
    assert result.checks_run["event_list"] == result.examples >= 10
    small = [q for q in adapter.pages if q["limit"] == 2]
    assert sum("starting_after" in q for q in small) >= result.examples, "paging never crossed a page boundary"


def test_the_check_runs_without_the_webhooks_checks(reference: EmbeddedServer) -> None:
    result = run_suite(config_for(reference, checks=("event_list",), max_examples=10))
    assert result.conformant, story(result)
    assert set(result.checks_run) == {"event_list"} and result.checks_run["event_list"] == result.examples


def _lists_nothing_after(which: str) -> Callable[[Seen, Answer], Answer]:
    """GET /events answers an empty page, not 404, after an event id it does not know: after any
    (``which`` = "any"), or only after an id that some merchant has ("real")."""

    def lenient(seen: Seen, answer: Answer) -> Answer:
        if seen.path == "/events" and answer.status == 404 and (which == "any" or UNKNOWN_EVENT not in seen.query):
            return Answer(200, {"object": "list", "data": [], "has_more": False}, answer.headers)
        return answer

    return lenient


@pytest.mark.parametrize(("which", "checks", "check", "words"), [
    ("any", ("event_list",), "event_list", "GET /events with starting_after an event id that never existed must "
     "answer 404 invalid_request_error/resource_missing with param starting_after; the implementation answered 200"),
    ("real", ("event_list", "tenant_isolation"), "tenant_isolation", "the implementation answered 200 with the list"),
])
def test_a_starting_after_that_is_not_the_merchant_s_listed_as_empty_is_caught(
        which: str, checks: tuple[str, ...], check: str, words: str) -> None:
    with serve(Fault("lenient cursor", response=_lists_nothing_after(which))) as running:
        result = run_suite(config_for(running, checks=checks, max_examples=5))
    assert result.failure is not None and result.failure.check == check, story(result)
    assert words in str(result.failure), story(result)


@pytest.mark.parametrize(("fault", "words"), [
    ("event_list_empty", "lacks event"),
    ("event_list_page_gap", "paging skipped evt_"),
])
def test_the_sandbox_s_event_list_faults_are_caught(fault: str, words: str) -> None:
    outcome = run_one(fault, SelftestOptions(profile="quick", seed=1, time_budget=30.0, shrink_budget=2))
    assert outcome.error is None, outcome.error
    assert outcome.caught and outcome.first_check == "event_list", outcome.message
    assert words in outcome.message, outcome.message
