"""The second merchant's own payments, made so that the tenant probe can go both ways.

The tenant probe of :mod:`.probes` mostly tries the second merchant's key on our objects. An
ownership test written with an ordering (``owner < intruder`` instead of ``owner != intruder``)
passes every such probe when our merchant's id happens to sort first, so the probe must also try
our key on the second merchant's objects. :class:`ForeignPayments` makes those objects: the
second merchant creates payments and moves them forward with the spec's events (kept in a model
:class:`~cxpay_conformance.model.World` of its own, whose clock never moves), and reads them
back with its own key, which binds the ids of the objects each event created. Its answers get
the ``status`` check; its webhooks go to no endpoint of ours and are not checked. No state or
event name of the spec appears here.
"""

from __future__ import annotations

from typing import Any

from cxpay_conformance.model import World
from cxpay_conformance.spec import Event
from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.context import Example, rejection_words
from cxpay_conformance.suite.requests import body_for


class ForeignPayments:
    """Payments of the merchant whose key is ``--second-api-key``, with their real ids.

    >>> foreign = ForeignPayments(machine, second_api_key)
    >>> foreign.create(body)            # the second merchant creates a payment
    >>> foreign.read(key).answer        # ... and reads one of its objects with its own key
    """

    def __init__(self, machine: Example, api_key: str) -> None:
        self.machine = machine
        self.api_key = api_key
        self.world = World(machine.ctx.spec, machines=machine.ctx.machines)
        self.ids: dict[str, str] = {}

    @property
    def keys(self) -> list[str]:
        """The model keys of the objects whose real ids are known, in creation order."""
        return [o.key for o in self.world if o.key in self.ids]

    def create(self, body: dict[str, Any]) -> None:
        """The second merchant creates a payment with ``body``."""
        machine = self.machine
        event = machine.ctx.creating
        step = machine.begin("second merchant", event.name,
                             f"second merchant: {event.name} (a payment of its own)", "accepted (200)")
        exchange = machine.perform(event.operation, None, body, api_key=self.api_key)
        machine.predict(exchange, 200)
        step.exchange, step.observed = exchange, f"{exchange.status}"
        machine.run("status", exchange, accepted=True, rejection=None, state=None, event=event.name)
        outcome = self.world.create(body)
        answer = exchange.answer if isinstance(exchange.answer, dict) else {}
        if isinstance(answer.get("id"), str):
            self.ids[outcome.target or ""] = answer["id"]
        self._bind_children()

    def forward_events(self) -> list[tuple[Event, str]]:
        """Every (event, object) where a playable event that does not end its object is allowed."""
        spec = self.machine.ctx.spec
        found = []
        for event in spec.events.values():
            if event.creates or event.due is not None:
                continue
            terminal = set(spec.objects[event.object].terminal_states)
            if all(t.to in terminal for t in spec.transitions_of(event.name)):
                continue
            for key in self.keys:
                if self.world.objects[key].type != event.target:
                    continue
                if event.name in self.world.enabled(self.world.subject(event.name, key).key):
                    found.append((event, key))
        return found

    def fire(self, event: Event, key: str, params: dict[str, Any]) -> None:
        """The second merchant fires ``event`` on its object ``key``."""
        machine = self.machine
        subject = self.world.subject(event.name, key)
        before = subject.state
        step = machine.begin("second merchant", event.name,
                             f"second merchant: {event.name} {self.ids[key]} (its own)", "")
        body = body_for(machine.ctx.spec, machine.ctx.contract, event, params)
        exchange = machine.perform(event.operation, None, body, api_key=self.api_key, object_id=self.ids[key])
        step.exchange, step.observed = exchange, f"{exchange.status} {exchange.error_code or ''}".rstrip()
        outcome = self.world.fire(event.name, key, params)
        step.expected = "accepted (200)" if outcome.accepted else "rejected"
        if outcome.accepted:
            machine.predict(exchange, 200)
        else:
            machine.rejected(exchange, outcome.rejection)
        machine.run("status", exchange, accepted=outcome.accepted, rejection=outcome.rejection,
                    state=before, event=event.name)
        self._bind_children()

    def endpoint_probe(self, url: str) -> None:
        """The second merchant registers a webhook endpoint at ``url``; our key must not delete
        it (the spec's ``unknown_object`` rejection), its own key then does (200, ``deleted``).
        Nothing of the second merchant happens in between, so nothing is delivered to ``url``."""
        machine = self.machine
        rejection = machine.ctx.spec.protocol.unknown_object
        step = machine.begin("second merchant", "tenant_isolation",
                             "second merchant: register a webhook endpoint; our key deletes it",
                             rejection_words(rejection, None))
        created = machine.perform("createWebhookEndpoint", None, {"url": url}, api_key=self.api_key)
        machine.predict(created, 200)
        machine.run("status", created, accepted=True, rejection=None, state=None, event="register endpoint")
        endpoint = created.answer.get("id") if isinstance(created.answer, dict) else None
        if not isinstance(endpoint, str):
            return
        try:
            exchange = machine.perform("deleteWebhookEndpoint", None, object_id=endpoint)
            machine.rejected(exchange, rejection)
            step.exchange, step.observed = exchange, f"{exchange.status} {exchange.error_code or ''}".rstrip()
            machine.run("tenant_isolation", exchange, (rejection.status, rejection.type, rejection.code))
        finally:
            deleted = machine.perform("deleteWebhookEndpoint", None, api_key=self.api_key, object_id=endpoint)
            machine.predict(deleted, 200)
        machine.run("status", deleted, accepted=True, rejection=None, state=None, event="delete endpoint")

    def read(self, key: str) -> Exchange:
        """The object ``key`` as the second merchant reads it."""
        obj = self.world.objects[key]
        return self.machine.perform(self.machine.ctx.readers[obj.type], None, api_key=self.api_key,
                                    object_id=self.ids[key])

    def _bind_children(self) -> None:
        """Read every known object and bind the ids of the objects it owns, in model order."""
        spec = self.machine.ctx.spec
        queue = [self.world.root_of(p).key for p in self.world.payments]
        while queue:
            key = queue.pop(0)
            if key not in self.ids:
                continue
            answer = self.read(key).answer
            if not isinstance(answer, dict):
                continue
            snapshot = self.world.snapshot(key)
            for link in spec.objects[self.world.objects[key].type].links.values():
                if link.kind not in ("owns_one", "owns_many"):
                    continue
                mine, theirs = snapshot.get(link.field), answer.get(link.field)
                children = mine if isinstance(mine, list) else [mine] if isinstance(mine, str) else []
                found = theirs if isinstance(theirs, list) else [theirs]
                for child, child_id in zip(children, found, strict=False):
                    if isinstance(child_id, str):
                        self.ids.setdefault(child, child_id)
                queue.extend(children)
