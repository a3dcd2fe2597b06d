"""``check-trace --follow URL``: a live implementation's ``GET /events`` checked as it grows.

:class:`EventFollower` reads the merchant's event list from its first event, page by page
(``starting_after`` the last event read), and holds each new event to the model as pages of
``GET /events`` in a file are held (:mod:`.explain` infers the steps behind them); then it polls
for more. The violation names the list (``URL/events``) and the event's number in it, counting
from 1. A list that is not a page, or refuses the key, stops the follow with a clear error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cxpay_conformance.errors import UsageError
from cxpay_conformance.suite.event_list import LIST_EVENTS
from cxpay_conformance.suite.http_adapter import HttpAdapter
from cxpay_conformance.trace.check import TraceChecker
from cxpay_conformance.trace.records import EVENT_LIST_MERCHANT, Heard
from cxpay_conformance.trace.state import TraceState
from cxpay_conformance.trace.violation import TraceViolation, Violated

#: Events asked for per page.
PAGE_SIZE = 100


@dataclass(frozen=True)
class FollowResult:
    """What following found: the events checked, and the violation (None: all clean so far)."""

    source: str
    events: int
    polls: int
    violation: TraceViolation | None = None

    @property
    def ok(self) -> bool:
        return self.violation is None


class EventFollower:
    """Follows one merchant's ``GET /events`` and checks each new event.

    >>> follower = EventFollower(TraceChecker.load(), "http://127.0.0.1:8000", "sk_test_...")
    >>> follower.poll()          # the events new since the last poll, checked; raises nothing
    3
    >>> follower.result().ok
    True
    """

    def __init__(self, checker: TraceChecker, base_url: str, api_key: str, *,
                 adapter: HttpAdapter | None = None) -> None:
        self.checker = checker
        self.source = f"{base_url.rstrip('/')}/events"
        self.adapter = adapter or HttpAdapter(base_url, api_key, checker.contract)
        self.states: list[TraceState] = [checker.new_state()]
        self.after: str | None = None
        self.events = 0
        self.polls = 0
        self.violation: TraceViolation | None = None

    def poll(self) -> int:
        """Read the events new since the last poll and check them; how many there were."""
        self.polls += 1
        new = 0
        while self.violation is None:
            query: dict[str, str | int] = {"limit": PAGE_SIZE}
            if self.after is not None:
                query["starting_after"] = self.after
            exchange = self.adapter.perform(LIST_EVENTS, query=query)
            page = exchange.answer
            if exchange.status != 200 or not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise UsageError(f"--follow {self.source}: GET /events answered {exchange.status} "
                                 f"{str(page)[:200]}; give the merchant's key with --api-key (or CXPAY_API_KEY)")
            for event in page["data"]:
                if not isinstance(event, dict) or not isinstance(event.get("id"), str):
                    raise UsageError(f"--follow {self.source}: an entry of the list is not an event: "
                                     f"{str(event)[:120]}")
                self.check(event)
                self.after = event["id"]
                new += 1
                if self.violation is not None:
                    break
            if not page["data"] or page.get("has_more") is not True:
                break
        return new

    def check(self, event: dict[str, object]) -> None:
        self.events += 1
        created = event.get("created")
        heard = Heard(self.source, self.events, float(created) if isinstance(created, int | float) else 0.0, event,
                      "listed", EVENT_LIST_MERCHANT)
        try:
            self.states = self.checker.each(self.states, lambda st: self.checker.hear(st, heard))
        except Violated as stop:
            self.violation = stop.violation

    def follow(self, *, interval: float = 1.0, max_seconds: float | None = None, max_events: int | None = None,
               on_poll: Callable[[FollowResult], None] | None = None) -> FollowResult:
        """Poll until a violation, ``max_seconds`` or ``max_events`` (or Ctrl-C, which the caller catches)."""
        started = time.monotonic()
        while True:
            self.poll()
            if on_poll is not None:
                on_poll(self.result())
            if self.violation is not None or (max_events is not None and self.events >= max_events):
                break
            if max_seconds is not None and time.monotonic() - started + interval > max_seconds:
                break
            time.sleep(interval)
        return self.result()

    def result(self) -> FollowResult:
        return FollowResult(self.source, self.events, self.polls, self.violation)

    def close(self) -> None:
        self.adapter.close()
