"""The second merchant's own payments, made so that the tenant probe can go both ways.

The tenant probe of :mod:`.probes` mostly tries the second merchant's key on our objects. An
ownership test written with an ordering (``owner < intruder`` instead of ``owner != intruder``)
passes every such probe when our merchant's id happens to sort first, so the probe must also try
our key on the second merchant's objects. :class:`ForeignPayments` makes those objects: the
second merchant creates payments and moves them forward with the spec's events and its own
test clock (kept in a model :class:`~cxpay_conformance.model.World` of its own), and reads them
back with its own key, which binds the ids of the objects each event created. Its answers get
the ``status`` check, and its clock's answers the ``tenant_isolation`` check (our advances must
not move its time). It registers a webhook endpoint of its own on the suite's receiver for the
example: none of our events may arrive there, none of its at ours (:mod:`.teardown`). It may
send one of our Idempotency-Keys with its own request: that makes its own object. No state or
event name of the spec appears here.
"""

from __future__ import annotations

from typing import Any

from cxpay_conformance.model import World
from cxpay_conformance.spec import Event
from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.context import Example, rejection_words
from cxpay_conformance.suite.receiver import WebhookReceiver
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
        self.synced = False
        #: Seconds its clock was advanced in this example (our clock must not have moved by them).
        self.advanced = 0
        #: Its webhook endpoint on the suite's receiver for this example: (path, id).
        self.endpoint: tuple[str, str] | None = None
        #: The receiver path of the endpoint it registered in this example (kept after the delete).
        self.last_endpoint: str | None = None
        #: The Idempotency-Keys it sent with its creating requests.
        self.keys_sent: list[str] = []

    @property
    def keys(self) -> list[str]:
        """The model keys of the objects whose real ids are known, in creation order."""
        return [o.key for o in self.world if o.key in self.ids]

    def create(self, body: dict[str, Any], *, ours: str | None = None) -> None:
        """The second merchant creates a payment with ``body``, with an Idempotency-Key of its
        own, or with ``ours``, a key our merchant used: keys are per merchant, so either way the
        answer is a new object of its own (``tenant_isolation``), never our remembered answer."""
        machine = self.machine
        event = machine.ctx.creating
        idempotency_key = ours or f"cxpay-{machine.nonce}-second-{len(machine.exchanges)}"
        what = " with our Idempotency-Key" if ours else ""
        step = machine.begin("second merchant", event.name,
                             f"second merchant: {event.name} (a payment of its own){what}", "accepted (200)")
        exchange = machine.perform(event.operation, None, body, api_key=self.api_key,
                                   idempotency_key=idempotency_key)
        machine.predict(exchange, 200)
        step.exchange, step.observed = exchange, f"{exchange.status}"
        answer = exchange.answer if isinstance(exchange.answer, dict) else {}
        if ours is not None:
            mine = answer.get("id") in machine.ids.values()
            problem = (f"answered {exchange.status} {exchange.error_code or ''}".rstrip() if exchange.status != 200
                       else f"answered our object {answer.get('id')}" if mine else "")
            machine.run("tenant_isolation", exchange, broken=(
                f"the second merchant's request with one of our Idempotency-Keys {problem}: keys are per "
                "merchant, so it must make an object of its own" if problem else None))
        machine.run("status", exchange, accepted=True, rejection=None, state=None, event=event.name)
        if ours is None:
            self.keys_sent.append(idempotency_key)
        if not self.synced and isinstance(answer.get("created"), int):
            self.world.now, self.synced = answer["created"], True
        outcome = self.world.create(body)
        if isinstance(answer.get("id"), str):
            self.ids[outcome.target or ""] = answer["id"]
        self._bind_children()

    def advance(self, seconds: int) -> None:
        """The second merchant advances its own test clock: it must answer the second merchant's
        time plus ``seconds``, whatever our merchant did to its own clock meanwhile."""
        machine = self.machine
        clock_event = machine.ctx.clock_event
        step = machine.begin("second merchant", "advance", f"second merchant: advance its clock {seconds} s",
                             f"now = {self.world.now + seconds}" if self.synced else "accepted (200)")
        body = body_for(machine.ctx.spec, machine.ctx.contract, clock_event, {}, amount=seconds)
        exchange = machine.perform(clock_event.operation, None, body, api_key=self.api_key)
        machine.predict(exchange, 200)
        step.exchange, step.observed = exchange, f"{exchange.status} now={exchange.answer.get('now')}"
        machine.run("status", exchange, accepted=True, rejection=None, state=None, event="advance")
        expected = self.world.now + seconds
        self.world.advance(seconds)
        self.advanced += seconds
        now = exchange.answer.get("now") if isinstance(exchange.answer, dict) else None
        if self.synced and isinstance(now, int) and now != expected:
            moved = now - expected
            machine.run("tenant_isolation", exchange, broken=(
                f"the second merchant's clock answered now={now}, {moved:+d} s from its own time {expected}: "
                "only its own advances may move it (ours moved it?)"))

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

    def endpoint_probe(self, receiver: WebhookReceiver) -> None:
        """The second merchant registers a webhook endpoint of its own on the suite's receiver,
        for the rest of the example; our key must not delete it (the spec's ``unknown_object``
        rejection). :meth:`close` deletes it with its own key at the end of the example."""
        machine = self.machine
        rejection = machine.ctx.spec.protocol.unknown_object
        step = machine.begin("second merchant", "tenant_isolation",
                             "second merchant: register a webhook endpoint; our key deletes it",
                             rejection_words(rejection, None))
        path = receiver.open("second-merchant")
        created = machine.perform("createWebhookEndpoint", None, {"url": receiver.url_of(path)}, api_key=self.api_key)
        machine.predict(created, 200)
        machine.run("status", created, accepted=True, rejection=None, state=None, event="register endpoint")
        answer = created.answer if isinstance(created.answer, dict) else {}
        endpoint, secret = answer.get("id"), answer.get("secret")
        if not isinstance(endpoint, str) or not isinstance(secret, str):
            return
        receiver.secrets[path] = secret
        self.endpoint = (path, endpoint)
        self.last_endpoint = path
        machine.ctx.endpoints_open[endpoint] = self.api_key
        exchange = machine.perform("deleteWebhookEndpoint", None, object_id=endpoint)
        machine.rejected(exchange, rejection)
        step.exchange, step.observed = exchange, f"{exchange.status} {exchange.error_code or ''}".rstrip()
        machine.run("tenant_isolation", exchange, (rejection.status, rejection.type, rejection.code))

    def close(self) -> None:
        """Delete its webhook endpoint, if it registered one, with its own key (200, ``deleted``)."""
        if self.endpoint is None:
            return
        machine = self.machine
        _path, endpoint = self.endpoint
        self.endpoint = None
        deleted = machine.perform("deleteWebhookEndpoint", None, api_key=self.api_key, object_id=endpoint)
        machine.predict(deleted, 200)
        machine.ctx.endpoints_open.pop(endpoint, None)
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
