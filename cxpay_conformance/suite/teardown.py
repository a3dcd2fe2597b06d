"""The end of an example: catching up with the clock work owed to ended payments, then, at
quiescence, the webhooks received compared with the events the model expects: at the suite's
main endpoint, at a second endpoint of ours while it was registered (and none after its
delete), again after a delivery the receiver refused on purpose, and never across merchants
(none of ours at the second merchant's endpoint, none of its at ours).

:class:`SettlingMachine` gives the generated machine its ``teardown`` (which Hypothesis calls
after an example's last step) and the clock steps that cross a due time. No state or event
name of the spec appears here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import currently_in_test_context, target

from cxpay_conformance.errors import ConformanceFailure
from cxpay_conformance.suite import checks
from cxpay_conformance.suite.event_list import reconcile
from cxpay_conformance.suite.machine import ConformanceMachine
from cxpay_conformance.suite.patience import LOST_GRACE
from cxpay_conformance.suite.receiver import MAIN, Delivery

#: At most this many due times the teardown crosses (a spec's clock work could beget more).
CATCH_UP_LIMIT = 4


class SettlingMachine(ConformanceMachine):
    """Clock work owed at the end, and the webhooks at quiescence."""

    def owed_after_the_end(self) -> list[tuple[int, str, str]]:
        """Clock work still owed to payments that have ended (a captured charge's settlement,
        say), as :meth:`World.due` lists it."""
        terminal = self.ctx.spec.root.terminal_states
        return [item for item in self.world.due()
                if self.world.root_of(self.world.objects[item[2]].payment).state in terminal]

    def cross(self, when: int) -> None:
        """Advance the clock to one second before ``when`` (nothing due then may have happened
        yet), then onto it (now it has): both edges of a due time, each read back."""
        if when - self.world.now > 1:
            self.advance(when - self.world.now - 1)
        self.advance(max(1, when - self.world.now))

    def catch_up(self) -> None:
        """Cross the due times of the clock work owed to ended payments, earliest first, so
        that an example that ends before its clock got there still sees that work done."""
        for _ in range(CATCH_UP_LIMIT):
            owed = self.owed_after_the_end()
            if not owed:
                return
            self.cross(owed[0][0])

    def teardown(self) -> None:
        self.ctx.end_example(self)
        if self.ctx.receiver is not None:
            self.ctx.receiver.cancel_refusal()
        if self.failed:
            self.ctx.failing = self
            return
        if not self.steps:
            return
        self.catch_up()
        if currently_in_test_context():  # not when a test drives an example by hand
            target(float(len(self.hits)), label="distinct transitions in one example")
        receiver = self.ctx.receiver
        if receiver is None or not ({"webhooks", "signatures"} & self.ctx.selected):
            self.close_endpoints()
            reconcile(self, self.expected_events, None)
            return
        # Counted, as the webhooks check counts them: an object that went through a status
        # twice owes two events, and stopping at the first let the second, still on its way,
        # be reported missing.
        wanted = Counter((e.type, e.object_id) for e in self.expected_events)
        ours = set(self.ids.values())

        # A second endpoint still registered is owed every event since its registration; one the
        # example deleted is owed none (deliveries pending at a delete may be dropped: the spec's
        # decision), only nothing made after the delete.
        extra = self.extra_endpoint
        owed_extra = Counter((e.type, e.object_id) for e in self.expected_events[extra[2]:]) \
            if extra is not None and extra[3] is None else Counter()

        def missing(deliveries: list[Any]) -> set[str]:
            """The event types of which fewer have arrived than the model expects (at the main
            endpoint, and at the second one while it was registered)."""
            short = set()
            for path, owed in ((MAIN, wanted), (extra[0] if extra else None, owed_extra)):
                distinct = {str(d.event_id): d for d in deliveries if d.object_id in ours and d.endpoint == path}
                got = Counter((str(d.type), str(d.object_id)) for d in distinct.values())
                short |= {kind for (kind, object_id), count in owed.items() if got[(kind, object_id)] < count}
            return short

        # Every expected type is waited for as long as the user said, except the types that
        # went missing once: they get a short grace after the others (suite/patience.py).
        patience = self.ctx.patience
        lost = patience.lost & {kind for kind, _object_id in wanted}
        receiver.wait_for(lambda deliveries: not missing(deliveries) - lost, self.ctx.config.webhook_timeout)
        if lost:
            receiver.wait_for(lambda deliveries: not missing(deliveries),
                              min(LOST_GRACE, self.ctx.config.webhook_timeout))
        self.wait_for_retries()
        if self.ctx.config.webhook_grace:
            self.ctx.sleep(self.ctx.config.webhook_grace)
        everything = receiver.deliveries()
        patience.waited(missing(everything), [d.type for d in everything])
        self.close_endpoints()
        mine = [d for d in everything if d.object_id in ours]
        deliveries = [d for d in mine if d.endpoint == MAIN]
        step = self.begin("network", "webhooks", "quiescence: compare the webhooks received",
                          f"{len(self.expected_events)} events")
        step.observed = f"{len({d.event_id for d in deliveries})} distinct events, {len(deliveries)} deliveries"
        self.run("signatures", [d for d in mine if extra is not None and d.endpoint == extra[0]] + deliveries)
        if "openapi" in self.ctx.selected:
            self.ctx.checks_run["openapi"] += 1
            try:
                checks.check_webhook_bodies(self.ctx.contract, deliveries)
            except ConformanceFailure as failure:
                self.failure = failure
                step.observed = f"FAILED [openapi]: {failure}"
                raise
        self.run("webhooks", self.expected_events, deliveries, ours)
        if self.refusal is not None:
            self.also("webhooks", checks.check_retries, [d for d in deliveries if d.refused], deliveries,
                      self.ctx.retry_window)
        if extra is not None:
            path, _id, opened, closed = extra
            end = len(self.expected_events) if closed is None else closed
            self.also("webhooks", checks.check_endpoint_lifecycle,
                      self.expected_events[opened:end] if closed is None else [],
                      self.expected_events[end:], self.expected_events[:end],
                      [d for d in mine if d.endpoint == path], path)
        self.across_merchants(everything)
        reconcile(self, self.expected_events, deliveries)

    def also(self, name: str, function: Any, *args: Any) -> None:
        """Run ``function``, one more part of check ``name``, if the user selected that check."""
        __tracebackhide__ = True
        if name not in self.ctx.selected:
            return
        self.ctx.checks_run[name] += 1
        try:
            function(*args)
        except ConformanceFailure as failure:
            self.failure = failure
            failure.step = len(self.steps)
            self.steps[-1].observed = f"FAILED [{name}]: {failure}"
            raise

    def wait_for_retries(self) -> None:
        """Wait, at most the retry window after each, for the deliveries the receiver refused
        on purpose to come again (while a failure shrinks, at most a short grace)."""
        receiver = self.ctx.receiver
        if receiver is None or self.refusal is None:
            return
        started = self.ctx.clock()
        ours = set(self.ids.values())
        window = self.ctx.retry_window
        if self.ctx.first_failure is not None:
            window = min(window, LOST_GRACE)

        def unretried(deliveries: list[Delivery]) -> list[Delivery]:
            return [d for d in deliveries if d.refused and d.object_id in ours and not any(
                e.event_id == d.event_id and e.endpoint == d.endpoint and not e.refused
                and e.received_at > d.received_at for e in deliveries)]

        waiting = unretried(receiver.deliveries())
        if waiting:
            last = max(d.received_at for d in waiting)
            receiver.wait_for(lambda deliveries: not unretried(deliveries), last + window - self.ctx.wall())
        self.ctx.retry_waits += self.ctx.clock() - started

    def close_endpoints(self) -> None:
        """Delete the endpoints this example registered for itself: a second one of ours, if it is
        still registered, and the second merchant's (with its own key)."""
        if self.extra_endpoint is not None and self.extra_endpoint[3] is None:
            path, endpoint, opened, _closed = self.extra_endpoint
            self.extra_endpoint = (path, endpoint, opened, len(self.expected_events))
            exchange = self.perform("deleteWebhookEndpoint", None, object_id=endpoint)
            self.predict(exchange, 200)
            self.ctx.endpoints_open.pop(endpoint, None)
            self.run("status", exchange, accepted=True, rejection=None, state=None, event="delete endpoint")
        if self.foreign is not None:
            self.foreign.close()

    def across_merchants(self, everything: list[Delivery]) -> None:
        """None of our events at the second merchant's endpoint, none of its at ours."""
        foreign = self.foreign
        if foreign is None or "tenant_isolation" not in self.ctx.selected:
            return
        ours = set(self.ids.values())
        theirs = set(foreign.ids.values())
        its_path = foreign.last_endpoint
        ours_there = [d for d in everything if its_path is not None and d.endpoint == its_path and d.object_id in ours]
        extra = self.extra_endpoint[0] if self.extra_endpoint else None
        theirs_here = [d for d in everything if d.endpoint in (MAIN, extra) and d.object_id in theirs]
        stray = ours_there or theirs_here
        if stray:
            where = "the second merchant's endpoint" if ours_there else "our endpoint"
            whose = "our" if ours_there else "the second merchant's"
            self.run("tenant_isolation", None, broken=(
                f"{where} {stray[0].endpoint} received {stray[0].type} {stray[0].event_id} for {whose} object "
                f"{stray[0].object_id}: a merchant's events go to its own endpoints only"))
