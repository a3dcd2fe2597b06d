"""The end of an example: catching up with the clock work owed to ended payments, then, at
quiescence, the webhooks received compared with the events the model expects.

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
            reconcile(self, self.expected_events, None)
            return
        # Counted, as the webhooks check counts them: an object that went through a status
        # twice owes two events, and stopping at the first let the second, still on its way,
        # be reported missing.
        wanted = Counter((e.type, e.object_id) for e in self.expected_events)
        ours = set(self.ids.values())

        def missing(deliveries: list[Any]) -> set[str]:
            """The event types of which fewer have arrived than the model expects."""
            distinct = {str(d.event_id): d for d in deliveries if d.object_id in ours}
            got = Counter((str(d.type), str(d.object_id)) for d in distinct.values())
            return {kind for (kind, object_id), count in wanted.items() if got[(kind, object_id)] < count}

        # Every expected type is waited for as long as the user said, except the types that
        # went missing once: they get a short grace after the others (suite/patience.py).
        patience = self.ctx.patience
        lost = patience.lost & {kind for kind, _object_id in wanted}
        receiver.wait_for(lambda deliveries: not missing(deliveries) - lost, self.ctx.config.webhook_timeout)
        if lost:
            receiver.wait_for(lambda deliveries: not missing(deliveries),
                              min(LOST_GRACE, self.ctx.config.webhook_timeout))
        if self.ctx.config.webhook_grace:
            self.ctx.sleep(self.ctx.config.webhook_grace)
        everything = receiver.deliveries()
        patience.waited(missing(everything), [d.type for d in everything])
        deliveries = [d for d in everything if d.object_id in ours]
        step = self.begin("network", "webhooks", "quiescence: compare the webhooks received",
                          f"{len(self.expected_events)} events")
        step.observed = f"{len({d.event_id for d in deliveries})} distinct events, {len(deliveries)} deliveries"
        self.run("signatures", deliveries)
        if "openapi" in self.ctx.selected:
            self.ctx.checks_run["openapi"] += 1
            try:
                checks.check_webhook_bodies(self.ctx.contract, deliveries)
            except ConformanceFailure as failure:
                self.failure = failure
                step.observed = f"FAILED [openapi]: {failure}"
                raise
        self.run("webhooks", self.expected_events, deliveries, ours)
        reconcile(self, self.expected_events, deliveries)
