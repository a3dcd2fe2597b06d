"""The event list, read as a merchant reconciles what its webhooks may have missed:
``GET /events`` page by page, ``limit`` events at a time, each page ``starting_after`` the last
event of the page before, until ``has_more`` is false.

:func:`read_events` does the paging and notes what is wrong with the pages themselves (an
answer that is not a page, more events than ``limit``, an event listed twice, ``has_more`` that
does not say where the list ends). :func:`reconcile`, called at an example's quiescence, reads
the list twice from where the run's previous reading ended (``SuiteContext.event_list_after``):
in the largest pages, and again :data:`PAGE_LIMIT` at a time from just before the example's
first event, so that paging really happens; and it asks for a page after an event id that never
existed and one of another merchant's (:func:`theirs`), which the contract refuses alike. The ``event_list`` check
(:func:`~.checks.check_event_list`) then compares the small pages with the events the model
expects and the webhooks delivered. No event type of the spec appears here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.context import Example
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.suite.receiver import Delivery

#: The contract's operation that lists a merchant's events.
LIST_EVENTS = "listEvents"
#: Events per page when reconciling: small, so that one example's events span several pages
#: and every page boundary is crossed with ``starting_after``.
PAGE_LIMIT = 2
#: The most pages one reading follows before it calls the list endless.
MAX_PAGES = 1_000
#: The largest ``limit`` when the contract does not give one.
LARGEST_LIMIT = 100

#: An event id no implementation made: the shape of one, from no merchant.
UNKNOWN_EVENT = "evt_cxpayconformance0never0made"

Query = Mapping[str, str | int]


@dataclass(frozen=True)
class Page:
    """One answer of ``GET /events``: its number in the reading, and the query that got it."""

    number: int
    starting_after: str | None
    exchange: Exchange

    @property
    def ids(self) -> list[str]:
        answer = self.exchange.answer
        data = answer.get("data") if isinstance(answer, dict) else None
        return [e["id"] for e in data if isinstance(e, dict) and isinstance(e.get("id"), str)] \
            if isinstance(data, list) else []

    def describe(self) -> str:
        """``page 2 (starting_after evt_...)``."""
        after = f"starting_after {self.starting_after}" if self.starting_after else "from the first event"
        return f"page {self.number} ({after})"


@dataclass
class Listing:
    """The events one reading listed, in order, with its pages; ``problem`` says what is wrong
    with the pages themselves (and ``problem_page`` where), empty when nothing is."""

    limit: int
    starting_after: str | None
    pages: list[Page] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""
    problem_page: Page | None = None

    def fail(self, page: Page, problem: str) -> None:
        self.problem, self.problem_page = f"{page.describe()}: {problem}", page

    def page_of(self, event_id: str) -> Page | None:
        """The page that listed ``event_id``."""
        return next((p for p in self.pages if event_id in p.ids), None)

    def describe(self) -> str:
        """``read in 3 pages of at most 2, starting_after evt_...`` for a message."""
        after = f", starting_after {self.starting_after}" if self.starting_after else ", from the first event"
        return f"read in {len(self.pages)} page{'s' if len(self.pages) != 1 else ''} of at most {self.limit}{after}"


def object_id_of(event: Any) -> str | None:
    """The id of the object an event is about (``data.object.id``), or None."""
    data = event.get("data") if isinstance(event, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    found = obj.get("id") if isinstance(obj, dict) else None
    return found if isinstance(found, str) else None


def read_events(perform: Callable[[Query], Exchange], limit: int, starting_after: str | None = None,
                *, max_pages: int = MAX_PAGES) -> Listing:
    """Page through the event list after ``starting_after`` (None: from the first event),
    ``limit`` at a time, as a merchant would; stop at the first problem of the pages.

    Past a page that says ``has_more: false``, one more page is asked for, after its last
    event: it must be empty, or ``has_more`` ended the list too soon.

    >>> listing = read_events(lambda query: adapter.perform("listEvents", query=query), 2)
    >>> [event["id"] for event in listing.events]
    ['evt_...', 'evt_...', 'evt_...']
    """
    listing = Listing(limit, starting_after)
    listed_on: dict[str, int] = {}
    after = starting_after
    while True:
        if len(listing.pages) >= max_pages:
            listing.fail(listing.pages[-1], f"has_more was still true after {max_pages} pages")
            return listing
        page = Page(len(listing.pages) + 1, after, perform(_query(limit, after)))
        listing.pages.append(page)
        answer = page.exchange.answer
        if not _is_a_page(page.exchange):
            listing.fail(page, f"answered {page.exchange.status} {_short(answer)}, not a page "
                         '{"object": "list", "data": [...], "has_more": ...}')
            return listing
        data = answer["data"]
        if len(page.ids) != len(data):
            listing.fail(page, "an entry of data is not an event with an id")
            return listing
        if len(data) > limit:
            listing.fail(page, f"{len(data)} events on a page of limit {limit}")
            return listing
        for event in data:
            if event["id"] in listed_on:
                listing.fail(page, f"{event['id']} is listed again (first on page {listed_on[event['id']]}); "
                             "paging must list each event once")
                return listing
            listed_on[event["id"]] = page.number
            listing.events.append(event)
        if not answer["has_more"]:
            break
        if not data:
            listing.fail(page, "an empty page says has_more: true, so paging cannot go on")
            return listing
        after = data[-1]["id"]
    last = page.ids[-1] if page.ids else None
    if last is not None:
        beyond = Page(page.number + 1, last, perform(_query(limit, last)))
        listing.pages.append(beyond)
        if _is_a_page(beyond.exchange) and beyond.ids:
            listing.fail(page, f"has_more is false, but {len(beyond.ids)} more event(s) follow its last "
                         f"event {last}: {', '.join(beyond.ids[:3])}")
    return listing


def _query(limit: int, after: str | None) -> dict[str, str | int]:
    return {"limit": limit, **({"starting_after": after} if after else {})}


def _is_a_page(exchange: Exchange) -> bool:
    answer = exchange.answer
    return (exchange.status == 200 and isinstance(answer, dict) and answer.get("object") == "list"
            and isinstance(answer.get("data"), list) and isinstance(answer.get("has_more"), bool))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def skipped_by_paging(paged: Listing, whole: Listing | None,
                      wanted: Iterable[tuple[str, str]]) -> tuple[str, Page | None]:
    """Where ``paged`` skipped an event of ``wanted`` (``(type, object id)`` pairs) that
    ``whole``, read in the largest pages, lists: a sentence for the message, and the page that
    should have begun with it. Empty (and None) when ``whole`` lacks them too."""
    if whole is None:
        return "", None
    keys = set(wanted)
    listed = {event["id"] for event in paged.events}
    for index, event in enumerate(whole.events):
        kind = (str(event.get("type")), object_id_of(event))
        if kind not in keys or event["id"] in listed:
            continue
        before = whole.events[index - 1]["id"] if index else whole.starting_after
        page = next((p for p in paged.pages if p.starting_after == before), None)
        began = ("began with " + page.ids[0] if page is not None and page.ids else "was empty")
        where = f"{page.describe()} {began}, but " if page is not None else ""
        return (f"; paging skipped {event['id']} ({kind[0]} for {kind[1]}): {where}read {whole.limit} at a "
                f"time, the list has it right after {before}"), page
    return "", None


def largest_limit(contract: OpenAPIContract) -> int:
    """The ``maximum`` of ``limit`` for :data:`LIST_EVENTS` in the contract (else :data:`LARGEST_LIMIT`)."""
    operation = contract.operations[LIST_EVENTS]
    path = contract.document.get("paths", {}).get(operation.path, {})
    for parameter in (path.get(operation.method.lower(), {}).get("parameters") or []):
        if isinstance(parameter, dict) and parameter.get("name") == "limit":
            maximum = (parameter.get("schema") or {}).get("maximum")
            return maximum if isinstance(maximum, int) and maximum > 0 else LARGEST_LIMIT
    return LARGEST_LIMIT


def start_before(listing: Listing, ours: Iterable[str]) -> str | None:
    """Where to page from to list every event of ``ours`` (object ids) that ``listing`` has: the
    event just before the first of them (``listing``'s own start if it is the first, or if there
    is none)."""
    known = set(ours)
    for index, event in enumerate(listing.events):
        if object_id_of(event) in known:
            return listing.events[index - 1]["id"] if index else listing.starting_after
    return listing.starting_after


def theirs(example: Example) -> str | None:
    """One event of the second merchant (its oldest), or None without one."""
    second = example.ctx.config.second_api_key
    if not second:
        return None
    ids = Page(1, None, example.perform(LIST_EVENTS, None, api_key=second, query={"limit": 1})).ids
    return ids[0] if ids else None


def reconcile(example: Example, expected: Sequence[Any], deliveries: Sequence[Delivery] | None) -> None:
    """At quiescence: read the merchant's event list and run the ``event_list`` check on it, with
    the events the model ``expected`` (:class:`~.checks.ExpectedEvent`) and, when the webhooks
    were collected, the ``deliveries`` of this example's objects."""
    ctx = example.ctx
    if "event_list" not in ctx.selected:
        return
    ours = set(example.ids.values())
    step = example.begin("merchant", "list events", f"merchant: reconcile with GET /events, {PAGE_LIMIT} at a time",
                         f"{len(expected)} events")

    def perform(query: Query) -> Exchange:
        return example.perform(LIST_EVENTS, None, query=query)

    whole = read_events(perform, largest_limit(ctx.contract), ctx.event_list_after)
    paged = read_events(perform, PAGE_LIMIT, start_before(whole, ours))
    unknown = ctx.spec.protocol.unknown_object
    refused = (unknown.status, unknown.type, unknown.code)
    never = perform({"limit": PAGE_LIMIT, "starting_after": UNKNOWN_EVENT})
    example.rejected(never, unknown)
    step.observed = f"{len(paged.events)} events in {len(paged.pages)} pages"
    example.run("event_list", expected, paged, ours, deliveries, whole,
                [("an event id that never existed", never)], refused)
    # Another merchant's event is as unknown as one that never existed: a tenant's promise.
    other = theirs(example) if "tenant_isolation" in ctx.selected else None
    if other is not None:
        exchange = perform({"limit": PAGE_LIMIT, "starting_after": other})
        example.rejected(exchange, unknown)
        example.run("tenant_isolation", exchange, refused)
        # And the other way: one of our events is as unknown to the second merchant's list.
        if whole.events:
            exchange = example.perform(LIST_EVENTS, None, api_key=ctx.config.second_api_key,
                                       query={"limit": PAGE_LIMIT, "starting_after": whole.events[-1]["id"]})
            example.rejected(exchange, unknown)
            example.run("tenant_isolation", exchange, refused)
    if whole.events and not whole.problem:
        ctx.event_list_after = whole.events[-1]["id"]
