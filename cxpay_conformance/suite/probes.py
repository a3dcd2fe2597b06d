"""The protocol probes: steps that check one rule of the protocol each and move no payment.

Replaying a request with its Idempotency-Key, reusing the key with other parameters, sending
it again after the idempotency window, keys at and beyond the length bounds, requests with no
or an unknown API key, the tenant probes both ways (the second merchant's key on our
objects, ours on its objects, each merchant's Idempotency-Keys and clock its own:
:mod:`.foreign`), a second webhook endpoint of ours registered and later deleted, and a
delivery the receiver refuses on purpose (:mod:`.teardown` checks what each owes).
:class:`ProbingMachine` performs them; :func:`probe_rule` is the one rule of the generated
machine that chooses among them. No state or event name of the spec appears here.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from cxpay_conformance.errors import ConformanceFailure
from cxpay_conformance.spec import Event, Rejection
from cxpay_conformance.suite import checks
from cxpay_conformance.suite.adapter import USE_DEFAULT_KEY
from cxpay_conformance.suite.context import KeyedRequest, SuiteContext, brief, rejection_words
from cxpay_conformance.suite.draws import draw_event, draw_target, or_none, params_strategy, sampled
from cxpay_conformance.suite.machine import ConformanceMachine, swarmed
from cxpay_conformance.suite.receiver import REFUSALS
from cxpay_conformance.suite.requests import body_for, mutated

#: A delivery is refused only in an example's first steps, so that the retry it owes usually
#: arrives while the example goes on and the end of the example seldom waits for it.
REFUSE_BEFORE_STEP = 5

#: The test-clock moves the second merchant makes: a minute, an hour, a day (past its
#: sessions' default deadline).
FOREIGN_ADVANCES = (60, 3600, 86400)


class ProbingMachine(ConformanceMachine):
    """The probes' steps, for :func:`probe_rule` to call."""

    def replayable(self) -> list[KeyedRequest]:
        """Requests whose Idempotency-Key is still inside the idempotency window."""
        window = self.ctx.spec.protocol.idempotency_window
        return [r for r in self.keyed if self.world.now - r.sent_at < window]

    def forgotten(self) -> list[KeyedRequest]:
        """Creating requests whose Idempotency-Key has outlived the idempotency window."""
        window = self.ctx.spec.protocol.idempotency_window
        return [r for r in self.keyed if r.operation_id == self.ctx.creating.operation and r.key is None
                and self.world.now - r.sent_at >= window]

    def other_body(self, request: KeyedRequest) -> dict[str, Any] | None:
        """``request``'s body with other parameters that its operation's schema still accepts."""
        return mutated(self.ctx.spec, request.body, self.ctx.contract.request_schema(request.operation_id))

    def available_probes(self) -> list[str]:
        """The probes that can run now: each checks one protocol rule, none moves a payment."""
        selected = self.ctx.selected
        kinds = []
        if "idempotency" in selected and self.replayable():
            kinds.append("replay")
            if any(self.other_body(r) for r in self.replayable()):
                kinds.append("reuse key")
        if "idempotency" in selected and self.forgotten() and self.room_for_another():
            kinds.append("forgotten key")
        if "idempotency" in selected and self.ids:
            kinds.append("key length")
        if self.ids and "auth" in selected:
            kinds.append("auth")
        if self.ids and "tenant_isolation" in selected and self.ctx.config.second_api_key:
            kinds.append("tenant")
        if self.ids and "status" in selected and self.flaws_for_any():
            kinds.append("bad request")
        if self.ctx.receiver is not None and "webhooks" in selected and self.ids:
            if self.refusal is None and len(self.steps) < REFUSE_BEFORE_STEP:
                kinds.append("refuse a delivery")
            if self.extra_endpoint is None or self.extra_endpoint[3] is None:
                kinds.append("second endpoint")
        return kinds

    def flaws_for_any(self) -> bool:
        protocol = self.ctx.spec.protocol
        return any((protocol.body_invalid, protocol.parameter_unknown, protocol.parameter_missing,
                    protocol.parameter_invalid))

    def flaws(self, event: Event, params: dict[str, Any]) -> list[tuple[str, Any, Rejection, str | None]]:
        """Bad bodies for ``event`` with ``params``, each with the rejection the spec names for it
        and the ``param`` the error must name: (what, body, rejection, param)."""
        protocol = self.ctx.spec.protocol
        body = body_for(self.ctx.spec, self.ctx.contract, event, params)
        body = dict(body) if isinstance(body, dict) else {}
        schema = self.ctx.contract.request_schema(event.operation)
        properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
        found: list[tuple[str, Any, Rejection, str | None]] = []
        if protocol.body_invalid is not None:
            found.append(("a body that is not a JSON object", [body], protocol.body_invalid, None))
        if protocol.parameter_unknown is not None:
            found.append(("an unknown parameter", {**body, UNKNOWN_PARAMETER: "x"}, protocol.parameter_unknown,
                          UNKNOWN_PARAMETER))
        required = [name for name in schema.get("required", []) if name in body] if isinstance(schema, dict) else []
        if protocol.parameter_missing is not None and required:
            found.append((f"no {required[0]}", {k: v for k, v in body.items() if k != required[0]},
                          protocol.parameter_missing, required[0]))
        typed = [name for name in body if isinstance(properties.get(name), dict)
                 and properties[name].get("type") in ("integer", "string")]
        if protocol.parameter_invalid is not None and typed:
            name = typed[0]
            wrong: Any = "not a number" if properties[name]["type"] == "integer" else ["not", "a", "string"]
            found.append((f"{name} of the wrong type", {**body, name: wrong}, protocol.parameter_invalid, name))
        return found

    def bad_request(self, key: str, event: Event, what: str, body: Any, rejection: Rejection,
                    param: str | None) -> None:
        """Fire ``event`` on our object ``key`` with a bad ``body``: the body is checked before the
        object's state, so whatever the state, ``rejection`` (naming ``param``), and nothing changes."""
        obj = self.world.objects[key]
        step = self.begin("merchant", "bad request", f"merchant: {event.name} {self.ids.get(key, key)} with {what}",
                          rejection_words(rejection, obj.state) + (f", param {param}" if param else ""))
        exchange = self.perform(event.operation, key, body)
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        self.run("status", exchange, accepted=False, rejection=rejection, state=obj.state,
                 event=f"{event.name} with {what}")
        error = exchange.answer.get("error") if isinstance(exchange.answer, dict) else None
        named = error.get("param") if isinstance(error, dict) else None
        if param is not None and named != param:
            self.also("status", _wrong_param, exchange, what, param, named)
        self.verify_payments({obj.payment}, f"{event.name} with {what}", after_rejection=True)

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

    def refuse_a_delivery(self, kind: str) -> None:
        """Tell the receiver to refuse the next delivery of one of our events as ``kind`` says:
        the implementation owes it again, same event id, within the retry window."""
        receiver = self.ctx.receiver
        assert receiver is not None
        step = self.begin("network", "refuse a delivery",
                          f"receiver: the next delivery of our events will be refused ({kind}: {REFUSALS[kind]})",
                          f"retried within {self.ctx.retry_window:g} s, same event id, a fresh signature")
        step.observed = "armed"
        self.refusal = kind
        ours = self.ids
        receiver.refuse_next(kind, lambda object_id: object_id in ours.values())

    def second_endpoint(self) -> None:
        """Register a second webhook endpoint of ours, or delete the one registered: while it is
        registered it gets every event, signed with its own secret; after the delete, none."""
        receiver = self.ctx.receiver
        assert receiver is not None
        if self.extra_endpoint is None:
            path = receiver.open("second")
            step = self.begin("merchant", "register endpoint", f"merchant: register a second webhook endpoint "
                              f"{path}", "accepted (200): every event from now on goes to both endpoints")
            exchange = self.perform("createWebhookEndpoint", None, {"url": receiver.url_of(path)})
            step.exchange, step.observed = exchange, f"{exchange.status}"
            self.predict(exchange, 200)
            self.run("status", exchange, accepted=True, rejection=None, state=None, event="register endpoint")
            answer = exchange.answer if isinstance(exchange.answer, dict) else {}
            if isinstance(answer.get("id"), str) and isinstance(answer.get("secret"), str):
                receiver.secrets[path] = answer["secret"]
                self.extra_endpoint = (path, answer["id"], len(self.expected_events), None)
                self.ctx.endpoints_open[answer["id"]] = USE_DEFAULT_KEY
            return
        path, endpoint, opened, _closed = self.extra_endpoint
        step = self.begin("merchant", "delete endpoint", f"merchant: delete the second webhook endpoint {path}",
                          "accepted (200): no event from now on goes to it")
        exchange = self.perform("deleteWebhookEndpoint", None, object_id=endpoint)
        step.exchange, step.observed = exchange, f"{exchange.status}"
        self.predict(exchange, 200)
        self.run("status", exchange, accepted=True, rejection=None, state=None, event="delete endpoint")
        self.extra_endpoint = (path, endpoint, opened, len(self.expected_events))
        self.ctx.endpoints_open.pop(endpoint, None)

    def replay(self, request: KeyedRequest) -> None:
        step = self.begin("merchant", "replay", f"merchant: replay {request.first.describe()}",
                          f"the first answer again ({request.first.status})")
        replay = self.perform(request.operation_id, request.key, request.body,
                              idempotency_key=request.first.headers.get("Idempotency-Key"))
        step.exchange = replay
        first = request.first.answer if isinstance(request.first.answer, dict) else {}
        self.predict(replay, request.first.status, request.first.error_code,
                     first.get("status") if isinstance(first.get("status"), str) else None, same_as=request.first)
        step.observed = f"{replay.status}"
        self.run("idempotency", request.first, replay)
        self.verify_payments(self._all_payments(), "replay", after_rejection=True)

    def reuse_key(self, request: KeyedRequest, body: dict[str, Any]) -> None:
        rejection = self.ctx.spec.protocol.key_reused
        step = self.begin("merchant", "reuse key", f"merchant: reuse the key of {request.first.describe()} "
                          f"with {brief(body)}", rejection_words(rejection, None))
        exchange = self.perform(request.operation_id, request.key, body,
                                idempotency_key=request.first.headers.get("Idempotency-Key"))
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        if "idempotency" in self.ctx.selected:
            self.ctx.checks_run["idempotency"] += 1
            try:
                checks.check_key_reuse(exchange, (rejection.status, rejection.type, rejection.code))
            except ConformanceFailure as failure:
                self.failure = failure
                raise
        self.verify_payments(self._all_payments(), "reuse key", after_rejection=True)

    def key_of_length(self, length: int, target: tuple[str, Event, dict[str, Any]] | None,
                      anywhere: Event | None) -> None:
        """Send a request with an Idempotency-Key of ``length`` characters.

        Outside the spec's bounds, the request is an event on our object ``target``: the
        spec's ``key_length_invalid`` rejection is the answer, and nothing changes. At a bound,
        the key must be accepted. A key too short to be unique (one character, say) may have
        been used before, in this run or an earlier one, so it goes with a request that is the
        same every time, ``anywhere`` on an id that was never created: whether the key is new
        or the answer is replayed, the answer is the spec's ``unknown_object`` rejection.
        """
        protocol = self.ctx.spec.protocol
        shortest, longest = protocol.idempotency_key_length
        inside = shortest <= length <= longest
        stem = f"cxpay-{self.nonce}-{len(self.exchanges)}-"
        idempotency_key = (stem + "k" * length)[:length] if length >= len(stem) else "k" * length
        bounds = f"{shortest}-{longest}"
        if inside:
            assert anywhere is not None
            rejection = protocol.unknown_object
            what = f"an Idempotency-Key of {_characters(length)} (within {bounds}) on an id never created"
            object_type = anywhere.target or anywhere.object
            object_id = f"{self.ctx.spec.objects[object_type].prefix}{'0' * 24}"
            step = self.begin("merchant", "key length", f"merchant: {anywhere.name} {object_id} with {what}",
                              rejection_words(rejection, None))
            body = body_for(self.ctx.spec, self.ctx.contract, anywhere, {})
            exchange = self.perform(anywhere.operation, None, body, idempotency_key=idempotency_key,
                                    object_id=object_id)
        else:
            assert target is not None
            key, event, params = target
            rejection = protocol.key_length_invalid
            what = f"an Idempotency-Key of {_characters(length)} (outside {bounds})"
            step = self.begin("merchant", "key length", f"merchant: {event.name} {self.ids.get(key, key)} "
                              f"with {what}", rejection_words(rejection, None))
            body = body_for(self.ctx.spec, self.ctx.contract, event, params)
            exchange = self.perform(event.operation, key, body, idempotency_key=idempotency_key)
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        if "idempotency" in self.ctx.selected:
            self.ctx.checks_run["idempotency"] += 1
            try:
                checks.check_key_length(exchange, (rejection.status, rejection.type, rejection.code), what=what)
            except ConformanceFailure as failure:
                self.failure = failure
                failure.step = len(self.steps)
                step.observed = f"FAILED [idempotency]: {failure}"
                raise
        if not inside:
            self.verify_payments({self.world.objects[key].payment}, "key length", after_rejection=True)

    def intrude(self, key: str, event: Event | None, params: dict[str, Any]) -> None:
        """With our key, read every object of the second merchant, then read or fire ``event``
        on its object ``key``: each time the spec's ``unknown_object`` rejection, and ``key``
        as its own merchant reads it unchanged."""
        assert self.foreign is not None
        foreign = self.foreign
        rejection = self.ctx.spec.protocol.unknown_object
        expected = (rejection.status, rejection.type, rejection.code)
        for other in [k for k in foreign.keys if k != key]:
            obj = foreign.world.objects[other]
            step = self.begin("merchant", "tenant_isolation", f"our key on another merchant's {obj.type}: "
                              f"read {foreign.ids[other]}", rejection_words(rejection, None))
            step.exchange = self.perform(self.ctx.readers[obj.type], None, object_id=foreign.ids[other])
            self.rejected(step.exchange, rejection)
            step.observed = f"{step.exchange.status} {step.exchange.error_code or ''}"
            self.run("tenant_isolation", step.exchange, expected)
        object_id = foreign.ids[key]
        obj = foreign.world.objects[key]
        action = event.name if event else "read"
        step = self.begin("merchant", "tenant_isolation",
                          f"our key on another merchant's {obj.type}: {action} {object_id}",
                          rejection_words(rejection, None))
        before = foreign.read(key)
        exchange = self.act(obj.type, None, event, params, object_id=object_id)
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        after = foreign.read(key)
        changed = None
        if (after.status, after.answer) != (before.status, before.answer):
            changed = f"{object_id}, as its merchant reads it, changed: " + "; ".join(
                checks._body_changes(before.answer, after.answer)[:5])
        self.run("tenant_isolation", exchange, expected, changed=changed)

    def read_ours_with(self, api_key: str | None) -> None:
        """Read every object of ours with another merchant's key: the spec's ``unknown_object``
        rejection for each (as :meth:`intrude` does the other way)."""
        rejection = self.ctx.spec.protocol.unknown_object
        for key in [o.key for o in self.world if o.key in self.ids]:
            obj = self.world.objects[key]
            step = self.begin("merchant", "tenant_isolation", f"another merchant's key: read {self.ids[key]}",
                              rejection_words(rejection, None))
            step.exchange = self.perform(self.ctx.readers[obj.type], key, api_key=api_key)
            self.rejected(step.exchange, rejection)
            step.observed = f"{step.exchange.status} {step.exchange.error_code or ''}"
            self.run("tenant_isolation", step.exchange, (rejection.status, rejection.type, rejection.code))

    def probe_with(self, check: str, key: str, event: Event | None, params: dict[str, Any],
              api_key: str | None, rejection: Rejection, what: str,
              replaying: KeyedRequest | None = None) -> None:
        """Fire ``event`` (None: a read) on ``key`` with ``api_key``, or send again the request
        ``replaying`` with its Idempotency-Key; either way ``rejection`` is the answer."""
        obj = self.world.objects[key]
        action = replaying.operation_id if replaying else event.name if event else "read"
        step = self.begin("merchant", check, f"{what}: {action} {self.ids.get(key, key)}",
                          rejection_words(rejection, None))
        if replaying is not None:
            exchange = self.perform(replaying.operation_id, key, replaying.body, api_key=api_key,
                                    idempotency_key=replaying.first.headers.get("Idempotency-Key"))
        else:
            exchange = self.act(obj.type, key, event, params, api_key=api_key)
        step.exchange = exchange
        self.rejected(exchange, rejection)
        step.observed = f"{exchange.status} {exchange.error_code or ''}"
        expected = (rejection.status, rejection.type, rejection.code)
        if check == "auth":
            self.run("auth", exchange, expected, what=what)
        else:
            self.run("tenant_isolation", exchange, expected)
        self.verify_payments({obj.payment}, action, after_rejection=True)

    def _all_payments(self) -> set[int]:
        return set(self.world.payments)


def probe_rule(ctx: SuiteContext, bodies: st.SearchStrategy[dict[str, Any]]) -> Any:
    """The rule that runs one of the probes that can run now (``bodies``: the creating
    request's, for the second merchant's payment)."""
    spec = ctx.spec
    playable = [e for e in spec.events.values() if not e.creates and e.due is None]
    # What a key at the spec's length bounds is sent with: an event that needs no parameter,
    # on an id that was never created (see ProbingMachine.key_of_length).
    anywhere = next((e for e in playable if not e.parameters and e.card != "parameter"), None)

    @precondition(swarmed("probe_protocol", lambda self: bool(self.available_probes())))
    @rule(data=st.data())
    def probe(self: ProbingMachine, data: st.DataObject) -> None:
        """One protocol probe: replay a request, reuse its key, drop the key, or use another merchant's."""
        kind = data.draw(sampled(self.ctx, self.available_probes()), label="probe")
        if kind == "replay":
            self.replay(data.draw(sampled(self.ctx, self.replayable()), label="request"))
        elif kind == "reuse key":
            request = data.draw(sampled(self.ctx, [r for r in self.replayable() if self.other_body(r)]),
                                label="request")
            self.reuse_key(request, self.other_body(request) or {})
        elif kind == "forgotten key":
            # Past the window the key is forgotten: the same request is a new one, and creates
            # a new payment instead of replaying the first answer.
            request = data.draw(sampled(self.ctx, self.forgotten()), label="request")
            self.keyed.remove(request)
            self.create_payment(dict(request.body), forgotten_key=request.first.headers.get("Idempotency-Key"))
        elif kind == "key length":
            # Just outside the spec's bounds (refused), or at them (accepted).
            shortest, longest = spec.protocol.idempotency_key_length
            lengths = [n for n in (shortest - 1, shortest, longest, longest + 1)
                       if n >= 0 and (anywhere is not None or not shortest <= n <= longest)]
            length = data.draw(sampled(self.ctx, lengths), label="key length")
            target = None
            if not shortest <= length <= longest:
                key, event, params = draw_target(self, data, reads=False)
                if event is None:  # no event addresses this object: try the longest key instead
                    length = longest
                else:
                    target = (key, event, params)
            self.key_of_length(length, target, anywhere)
        elif kind == "bad request":
            key, event, params = draw_target(self, data, reads=False)
            flaws = self.flaws(event, params) if event is not None else []
            if event is not None and flaws:
                what, body, rejection, param = data.draw(sampled(self.ctx, flaws), label="flaw")
                self.bad_request(key, event, what, body, rejection, param)
        elif kind == "refuse a delivery":
            self.refuse_a_delivery(data.draw(sampled(self.ctx, list(REFUSALS)), label="how"))
        elif kind == "second endpoint":
            self.second_endpoint()
        elif kind == "auth":
            key, event, params = draw_target(self, data)
            missing = data.draw(st.booleans(), label="no key at all")
            rejection = spec.protocol.missing_key if missing else spec.protocol.invalid_key
            fake = None if missing else f"sk_test_not_a_merchant_{self.nonce}"
            self.probe_with("auth", key, event, params, fake, rejection,
                       "no API key" if missing else "an unknown API key")
        else:
            # Both ways: the second merchant's key on our objects, or ours on its objects, so
            # that an ownership test that orders merchant ids cannot pass by their order.
            if self.foreign is not None and data.draw(st.booleans(), label="our key on its objects"):
                foreign = self.foreign
                if not foreign.keys:  # the example's first probe this way: its endpoint, its payment
                    if self.ctx.receiver is not None and foreign.endpoint is None:
                        foreign.endpoint_probe(self.ctx.receiver)
                    # Keys are per merchant: one of our creating requests' keys makes its own payment.
                    created = [r for r in self.replayable() if r.key is None and r.first.status == 200
                               and r.operation_id == ctx.creating.operation]
                    reused = (data.draw(or_none(self.ctx, sampled(self.ctx, created)), label="with our key")
                              if created else None)
                    foreign.create(data.draw(bodies, label="its payment"),
                                   ours=reused.first.headers.get("Idempotency-Key") if reused else None)
                grow = foreign.forward_events()
                moves = ["its event", "its clock"] if grow else ["its clock"]
                move = data.draw(or_none(self.ctx, sampled(self.ctx, moves)), label="it moves on first")
                if move == "its event":
                    its_event, its_key = data.draw(sampled(self.ctx, grow), label="its event")
                    foreign.fire(its_event, its_key, data.draw(params_strategy(ctx, its_event), label="params"))
                elif move == "its clock":
                    foreign.advance(data.draw(sampled(self.ctx, list(FOREIGN_ADVANCES)), label="its advance"))
                key = data.draw(sampled(self.ctx, foreign.keys), label="its object")
                event, params = draw_event(self, data, foreign.world.objects[key].type)
                self.intrude(key, event, params)
                return
            # The other way: a key the second merchant used makes a payment of ours.
            if (self.foreign is not None and self.foreign.keys_sent and self.room_for_another()
                    and data.draw(st.booleans(), label="with its key")):
                self.create_payment(data.draw(bodies, label="our payment"), their_key=self.foreign.keys_sent.pop(0))
                return
            # Keys are per merchant: another merchant's request with one of our Idempotency-Keys
            # (and our body) is its own request, so it must not get our remembered answer.
            ours = [r for r in self.replayable() if r.key is not None]
            reused = data.draw(or_none(self.ctx, sampled(self.ctx, ours)), label="with our key") if ours else None
            if reused is not None and reused.key is not None:
                self.probe_with("tenant_isolation", reused.key, None, {}, ctx.config.second_api_key,
                                spec.protocol.unknown_object, "another merchant's key with our Idempotency-Key",
                                replaying=reused)
                return
            self.read_ours_with(ctx.config.second_api_key)
            key, event, params = draw_target(self, data)
            self.probe_with("tenant_isolation", key, event, params, ctx.config.second_api_key,
                       spec.protocol.unknown_object, "another merchant's key")

    return probe


def _wrong_param(exchange: Any, what: str, param: str, named: Any) -> None:
    __tracebackhide__ = True
    raise checks._failure("status", f"a request with {what} must name the offending parameter: error.param "
                          f"{param!r}; the implementation named {named!r}", exchange, event="bad request",
                          expected=param, observed=named)


#: A parameter no operation of the contract has.
UNKNOWN_PARAMETER = "cxpay_conformance_unknown"


def _characters(count: int) -> str:
    return f"{count} character" + ("" if count == 1 else "s")
