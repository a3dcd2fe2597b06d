"""One line of a trace held to the model: an exchange (the request's operation performed on the
model, its answer compared) or an event heard (a webhook, or an entry of ``GET /events``
matched with one the model owes).

The comparisons are the suite's own (:mod:`cxpay_conformance.suite.checks` and
:func:`~cxpay_conformance.suite.observed.differences`), so a violation reads as a failed run
would. What a trace cannot show is not held against it: a read not made, a webhook not logged
(the model's owed webhooks may stay unmatched). What it shows must be explained: an answer, a
status or a webhook the model does not predict stops the check at that line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from cxpay_conformance.errors import ConformanceFailure, UsageError
from cxpay_conformance.model import ObjectMachines, Outcome
from cxpay_conformance.spec import Event, Rejection, Spec
from cxpay_conformance.suite import checks
from cxpay_conformance.suite.adapter import Exchange
from cxpay_conformance.suite.context import brief, rejection_words
from cxpay_conformance.suite.event_list import LIST_EVENTS
from cxpay_conformance.suite.observed import differences, wire
from cxpay_conformance.suite.openapi import OpenAPIContract
from cxpay_conformance.trace.records import Heard, Seen
from cxpay_conformance.trace.state import Expected, KeyUse, MerchantState, Ref, StoryStep, TraceState
from cxpay_conformance.trace.violation import TraceViolation, Violated

CREATE_ENDPOINT = "createWebhookEndpoint"
DELETE_ENDPOINT = "deleteWebhookEndpoint"


class Steps:
    """Holds each line of a trace to the model (one instance per spec and contract)."""

    def __init__(self, spec: Spec, contract: OpenAPIContract) -> None:
        self.spec = spec
        self.contract = contract
        self.machines = ObjectMachines(spec)
        self.readers = {op: type_ for type_, op in contract.readers(list(spec.objects)).items()}
        self.creating = next(e for e in spec.events.values() if e.creates)
        self.clock = next(e for e in spec.events.values() if e.due is not None)
        self.by_operation = {e.operation: e for e in spec.events.values() if e.due is None and not e.creates}
        self.prefixes = {obj.prefix: name for name, obj in spec.objects.items()}
        self.routes = [(op.method, re.compile(re.sub(r"\\\{id\\\}", "(?P<id>[^/]+)", re.escape(op.path))), op_id)
                       for op_id, op in contract.operations.items()]
        protocol = spec.protocol
        self.missing_key, self.invalid_key = protocol.missing_key, protocol.invalid_key
        self.unknown = protocol.unknown_object
        self._validators: dict[str, Any] = {}
        self.bad_requests = [r for r in (protocol.body_invalid, protocol.parameter_unknown, protocol.parameter_missing,
                                         protocol.parameter_invalid) if r is not None]

    # --- helpers ------------------------------------------------------------------------------

    def route(self, method: str, path: str) -> tuple[str | None, str | None]:
        for verb, pattern, operation in self.routes:
            found = pattern.fullmatch(path)
            if verb == method and found:
                return operation, found.groupdict().get("id")
        return None, None

    def fail(self, st: TraceState, where: Heard | Seen, failure: ConformanceFailure,
             payment: tuple[MerchantState, int] | None = None, observed: str = "") -> Violated:
        story: tuple[StoryStep, ...] = ()
        root = None
        if payment is not None:
            merchant, number = payment
            story = merchant.stories.get(number, ())
            world = merchant.worlds[number]
            first = next(iter(world.objects), None)
            root = merchant.ids.get((number, first)) if first else None
            story = (*story, StoryStep(where.where, self._telling(where), observed=f"FAILED [{failure.check}]: "
                                       + str(failure).splitlines()[0][:300]))
        return Violated(TraceViolation(where.file, where.line, root, failure, story))

    @staticmethod
    def _telling(where: Heard | Seen) -> str:
        if isinstance(where, Heard):
            return f"{where.how} {where.event.get('type')} {where.event.get('id')}"
        return f"{where.method} {where.path}" + (f" {json.dumps(where.body, sort_keys=True)}" if where.body else "")

    def wire_of(self, m: MerchantState, ref: Ref, snapshot: Mapping[str, Any] | None = None) -> dict[str, Any]:
        payment, key = ref
        world = m.worlds[payment]
        ids = {k: m.ids[(payment, k)] for k in world.objects if (payment, k) in m.ids}
        return wire(self.spec, snapshot if snapshot is not None else world.snapshot(key),
                    world.objects[key].type, world.objects, ids)

    def type_of(self, object_id: str) -> str | None:
        return next((t for prefix, t in self.prefixes.items() if object_id.startswith(prefix)), None)

    @staticmethod
    def refused(exchange: Exchange, rejection: Rejection) -> bool:
        return (exchange.status, exchange.error_type, exchange.error_code) == \
            (rejection.status, rejection.type, rejection.code)

    def expect_rejection(self, st: TraceState, x: Seen, exchange: Exchange, rejection: Rejection, why: str,
                         check: str = "status", payment: tuple[MerchantState, int] | None = None) -> None:
        if not self.refused(exchange, rejection):
            raise self.fail(st, x, checks._failure(
                check, f"{why}: the spec expects {rejection.status} {rejection.type}/{rejection.code}, the "
                f"implementation answered {checks._answered(exchange)}", exchange, event=exchange.operation_id,
                expected=(rejection.status, rejection.type, rejection.code),
                observed=(exchange.status, exchange.error_type, exchange.error_code)), payment)

    def run(self, st: TraceState, where: Heard | Seen, payment: tuple[MerchantState, int] | None,
            name: str, *args: Any, **kwargs: Any) -> None:
        """Run the suite's check ``name``; its failure becomes a violation at ``where``."""
        try:
            checks.CHECKS[name].function(*args, **kwargs)
        except ConformanceFailure as failure:
            raise self.fail(st, where, failure, payment) from None

    # --- binding ids ----------------------------------------------------------------------------

    def bind_links(self, st: TraceState, m: MerchantState, label: str, ref: Ref, answer: Any) -> None:
        """Bind the ids an answer (or an event's object) shows for the model's links of ``ref``."""
        if not isinstance(answer, Mapping):
            return
        payment, key = ref
        world = m.worlds[payment]
        snapshot = world.snapshot(key)
        for link in self.spec.objects[world.objects[key].type].links.values():
            mine, theirs = snapshot.get(link.field), answer.get(link.field)
            if isinstance(mine, list) and isinstance(theirs, list):
                pairs = list(zip(mine, theirs, strict=False))
            elif isinstance(mine, str) and isinstance(theirs, str):
                pairs = [(mine, theirs)]
            else:
                pairs = []
            for child, child_id in pairs:
                if isinstance(child_id, str) and m.bind((payment, child), child_id):
                    st.owner.setdefault(child_id, label)

    def owe(self, st: TraceState, m: MerchantState, payment: int, outcome: Outcome, line: int) -> None:
        """Note the webhooks an outcome's changes owe."""
        world = m.worlds[payment]
        for change in outcome.changes:
            if change.emits:
                st.order += 1
                m.pending.append(Expected(change.emits, (payment, change.key), world.snapshot(change.key),
                                          st.order, line))

    # --- exchanges ------------------------------------------------------------------------------

    def exchange(self, st: TraceState, x: Seen) -> None:
        operation, object_id = (x.operation, x.object_id) if x.operation else self.route(x.method, x.path)
        if x.operation and object_id is None:
            object_id = self.route(x.method, x.path)[1]
        query = "&".join(f"{k}={v}" for k, v in x.query.items())
        label = {"missing": "none", "invalid": "invalid"}.get(x.auth, x.merchant or "default")
        exchange = Exchange(operation or f"{x.method} {x.path}", x.method, x.path + (f"?{query}" if query else ""),
                            x.body, x.status, x.answer, {"Idempotency-Key": x.idempotency_key}
                            if x.idempotency_key else {}, label, x.ended - x.started)
        if operation is None and x.whole_session:
            return  # a page, or another host, of the session a HAR file holds
        if x.status >= 500:
            self.run(st, x, None, "status", exchange, accepted=True, rejection=None, state=None,
                     event=operation or x.path)
        if operation is None:
            if 200 <= x.status < 300:
                raise self.fail(st, x, checks._failure(
                    "openapi", f"{x.method} {x.path} is no operation of the contract (spec/openapi.yaml), yet it "
                    f"answered {x.status}; a path the contract does not have answers 404", exchange,
                    event=x.path, expected=404, observed=x.status))
            return
        shown = x.answer
        if operation == CREATE_ENDPOINT and isinstance(shown, dict) and shown.get("secret") == "[redacted]":
            shown = {**shown, "secret": "whsec_redacted"}  # the trace never holds the secret itself
        self.run(st, x, None, "openapi", self.contract, Exchange(operation, x.method, x.path, x.body, x.status,
                                                                 shown))
        if x.auth == "missing":
            self.expect_rejection(st, x, exchange, self.missing_key, "a request without an API key", "auth")
            return
        if x.auth == "invalid":
            self.expect_rejection(st, x, exchange, self.invalid_key, "a request with a key that is no merchant's",
                                  "auth")
            return
        m = st.merchant(label)
        if self.refused(exchange, self.invalid_key):
            if m.accepted_key:
                raise self.fail(st, x, checks._failure(
                    "auth", "this key was accepted earlier in the trace, and is now refused as no merchant's",
                    exchange, event=operation, expected="the merchant's answer", observed=x.status))
            m.refused_key = True
            return
        if m.refused_key:
            raise self.fail(st, x, checks._failure(
                "auth", "this key was refused earlier in the trace as no merchant's, and is now accepted",
                exchange, event=operation, expected=(self.invalid_key.status, self.invalid_key.code),
                observed=x.status))
        m.accepted_key = True
        if x.method == "POST" and x.idempotency_key is not None and self.replayed(st, m, x, exchange, operation):
            return
        if x.method != "GET":
            flaw = self.body_flaw(operation, x.body)
            if flaw is not None:
                allowed = [r for r in self.bad_requests if self.refused(exchange, r)]
                if not allowed:
                    raise self.fail(st, x, checks._failure(
                        "status", f"{operation} with a body that breaks spec/openapi.yaml ({flaw}) must be refused "
                        f"with 400 ({', '.join(r.code for r in self.bad_requests)}); the implementation answered "
                        f"{checks._answered(exchange)}", exchange, event=operation, expected=400,
                        observed=x.status))
                return
        ran = self.perform(st, m, label, x, exchange, operation, object_id)
        if ran and x.idempotency_key is not None and x.method == "POST" and x.status not in (400, 401):
            m.keys[x.idempotency_key] = KeyUse(self.fingerprint(x), x.status, x.answer, m.now, x.started,
                                               x.ended, x.line, exchange.describe())

    def body_flaw(self, operation: str, body: Any) -> str | None:
        """What makes ``body`` one the contract refuses for ``operation`` (None when it is fine). An
        operation without a request body takes none, or an empty object: any parameter is unknown."""
        if self.contract.operations[operation].request_schema is None:
            if body is None or body == {}:
                return None
            return "it takes no parameters" if isinstance(body, dict) else "the body is not a JSON object"
        validator = self._validators.get(operation)
        if validator is None:
            validator = self._validators[operation] = self.contract.validator(self.contract.request_schema(operation))
        error = next(iter(validator.iter_errors(body)), None)
        return None if error is None else error.message

    @staticmethod
    def fingerprint(x: Seen) -> tuple[str, str, str]:
        return (x.method, x.path, json.dumps(x.body, sort_keys=True))

    def replayed(self, st: TraceState, m: MerchantState, x: Seen, exchange: Exchange, operation: str) -> bool:
        """Hold a request under an Idempotency-Key to the protocol; True when that was all it was
        (a replay, a refused key), False when it is the key's first use."""
        key = x.idempotency_key or ""
        protocol = self.spec.protocol
        low, high = protocol.idempotency_key_length
        if not low <= len(key) <= high:
            self.expect_rejection(st, x, exchange, protocol.key_length_invalid,
                                  f"an Idempotency-Key of {len(key)} characters (the spec allows {low}-{high})",
                                  "idempotency")
            return True
        use = m.keys.get(key)
        if use is not None and m.now >= use.answered_at + protocol.idempotency_window:
            del m.keys[key]  # forgotten: the same request now is a new one
            use = None
        if use is None:
            if self.refused(exchange, protocol.key_in_flight):
                raise self.fail(st, x, checks._failure(
                    "idempotency", f"the implementation answered {checks._answered(exchange)}, but no earlier "
                    "request with this Idempotency-Key was in flight", exchange, event="replay",
                    expected="the request done", observed=x.status))
            return False
        if use.fingerprint != self.fingerprint(x):
            self._key_reuse(st, x, exchange)
            return True
        if self.refused(exchange, protocol.key_in_flight):
            if x.started < use.ended:
                return True
            raise self.fail(st, x, checks._failure(
                "idempotency", f"{checks._answered(exchange)} for a request sent after the first one with its "
                f"Idempotency-Key was answered (line {use.line}); only a request that overlaps it may be told so",
                exchange, event="replay", expected="the first answer again", observed=x.status))
        first = Exchange(operation, x.method, x.path, x.body, use.status, use.answer)
        self.run(st, x, None, "idempotency", first, exchange)
        return True

    def _key_reuse(self, st: TraceState, x: Seen, exchange: Exchange) -> None:
        reused = self.spec.protocol.key_reused
        if exchange.status == 400 and exchange.error_code == "parameter_invalid":
            return  # a body that is itself invalid may be refused first (the spec's decision)
        try:
            checks.check_key_reuse(exchange, (reused.status, reused.type, reused.code))
        except ConformanceFailure as failure:
            raise self.fail(st, x, failure) from None

    def lookup(self, st: TraceState, m: MerchantState, label: str, x: Seen, exchange: Exchange,
               object_id: str | None, wanted: str) -> Ref | None:
        """The model's object the path names, or None when the answer rightly says there is none."""
        if object_id is None:
            return None
        owner = st.owner.get(object_id)
        if owner is not None and owner != label:
            self.expect_rejection(st, x, exchange, self.unknown, f"{object_id} is another merchant's",
                                  "tenant_isolation")
            return None
        ref = m.refs.get(object_id)
        if ref is not None and m.obj(ref).type == wanted:
            return ref
        if self.refused(exchange, self.unknown):
            return None
        if ref is not None:
            self.expect_rejection(st, x, exchange, self.unknown, f"{object_id} is a {m.obj(ref).type}, not a {wanted}")
            return None
        raise self.fail(st, x, checks._failure(
            "state", f"{exchange.operation_id} {object_id} answered {checks._answered(exchange)}, but nothing "
            f"earlier in the trace created or named {object_id}: check-trace needs the trace from before the "
            "payment began", exchange, event=exchange.operation_id, expected=f"404 {self.unknown.code}",
            observed=x.status))

    def perform(self, st: TraceState, m: MerchantState, label: str, x: Seen, exchange: Exchange, operation: str,
                object_id: str | None) -> bool:
        if operation in self.readers:
            self.read(st, m, label, x, exchange, object_id, self.readers[operation])
        elif operation == self.creating.operation:
            self.create(st, m, label, x, exchange)
        elif operation == self.clock.operation:
            self.advance(st, m, x, exchange)
        elif operation in self.by_operation:
            self.fire(st, m, label, x, exchange, self.by_operation[operation], object_id)
        elif operation == LIST_EVENTS:
            return self.listed(st, m, label, x, exchange)
        elif operation == CREATE_ENDPOINT:
            if x.status != 200:
                raise self.fail(st, x, checks._failure(
                    "status", f"registering a webhook endpoint must succeed (200); the implementation answered "
                    f"{checks._answered(exchange)}", exchange, event=operation, expected=200, observed=x.status))
            endpoint = x.answer.get("id") if isinstance(x.answer, dict) else None
            if isinstance(endpoint, str):
                m.endpoints[endpoint] = False
                st.owner[endpoint] = label
        elif operation == DELETE_ENDPOINT and object_id is not None:
            owner = st.owner.get(object_id)
            if owner is not None and owner != label:
                self.expect_rejection(st, x, exchange, self.unknown, f"{object_id} is another merchant's endpoint",
                                      "tenant_isolation")
            elif m.endpoints.get(object_id) is False:
                if x.status != 200:
                    raise self.fail(st, x, checks._failure(
                        "status", "deleting the merchant's webhook endpoint must answer 200 with deleted: true; "
                        f"the implementation answered {checks._answered(exchange)}", exchange, event=operation,
                        expected=200, observed=x.status))
                m.endpoints[object_id] = True
            else:
                self.expect_rejection(st, x, exchange, self.unknown, f"{object_id} is no endpoint of the merchant "
                                      "(never made, or deleted)")
        return True

    def read(self, st: TraceState, m: MerchantState, label: str, x: Seen, exchange: Exchange,
             object_id: str | None, type_: str) -> None:
        ref = self.lookup(st, m, label, x, exchange, object_id, type_)
        if ref is None:
            return
        where = (m, ref[0])
        if x.status != 200:
            raise self.fail(st, x, checks._failure(
                "status", f"reading {object_id} must succeed (200); the implementation answered "
                f"{checks._answered(exchange)}", exchange, event=exchange.operation_id, expected=200,
                observed=x.status), where)
        self.bind_links(st, m, label, ref, x.answer)
        self.run(st, x, where, "state", {object_id: self.wire_of(m, ref)}, {object_id: x.answer},
                 event=m.last_event.get(ref[0], self.creating.name), after_rejection=False)

    def create(self, st: TraceState, m: MerchantState, label: str, x: Seen, exchange: Exchange) -> None:
        event = self.creating
        answer = x.answer if isinstance(x.answer, dict) else {}
        if not m.synced and x.status == 200 and isinstance(answer.get("created"), int):
            m.now, m.synced = answer["created"], True
        payment, world = m.new_payment()
        world.now = m.now
        body = x.body if isinstance(x.body, dict) else {}
        step = StoryStep(x.where, f"{event.actor}: {event.name} {brief(body)}", "accepted (200)",
                         f"{x.status} {answer.get('object', '')} {answer.get('status', '')}".rstrip())
        m.tell(payment, step)
        try:
            outcome = world.create(body)
        except UsageError as exc:
            raise self.fail(st, x, checks._failure("status", f"{event.name}: the model cannot take this request "
                                                   f"({exc})", exchange, event=event.name), (m, payment)) from None
        where = (m, payment)
        self.run(st, x, where, "status", exchange, accepted=True, rejection=None, state=None, event=event.name)
        root = outcome.target or ""
        object_id = answer.get("id")
        if not isinstance(object_id, str) or not m.bind((payment, root), object_id) or object_id in st.owner:
            raise self.fail(st, x, checks._failure(
                "state", f"the implementation gave {object_id} to two objects; ids must be unique", exchange,
                event=event.name, expected="distinct ids", observed=object_id), where)
        st.owner[object_id] = label
        self.bind_links(st, m, label, (payment, root), answer)
        self.owe(st, m, payment, outcome, x.line)
        m.last_event[payment] = event.name
        m.settle(payment)
        self.run(st, x, where, "response_body", exchange, self.wire_of(m, (payment, root)), event=event.name)

    def fire(self, st: TraceState, m: MerchantState, label: str, x: Seen, exchange: Exchange, event: Event,
             object_id: str | None) -> None:
        ref = self.lookup(st, m, label, x, exchange, object_id, event.target)
        if ref is None:
            return
        payment, key = ref
        world = m.at_now(payment)
        params = dict(x.body) if isinstance(x.body, dict) else {}
        subject = world.subject(event.name, key)
        before = subject.state
        where = (m, payment)
        try:
            outcome = world.fire(event.name, key, params)
        except UsageError as exc:
            raise self.fail(st, x, checks._failure("status", f"{event.name}: the model cannot take this request "
                                                   f"({exc})", exchange, event=event.name), where) from None
        answer = x.answer if isinstance(x.answer, dict) else {}
        expected = (f"{subject.type} {before} -> " + ", ".join(f"{c.type} {c.to_state}" for c in outcome.changes)
                    if outcome.accepted else rejection_words(outcome.rejection, before))
        observed = f"{x.status} {exchange.error_code or answer.get('status', '')}".rstrip()
        story = f"{event.actor}: {event.name} {object_id}{brief(params, lead=' with ')}"
        self.run(st, x, where, "status", exchange, accepted=outcome.accepted, rejection=outcome.rejection,
                 state=before, event=event.name)
        m.tell(payment, StoryStep(x.where, story, expected, observed))
        if outcome.accepted:
            self.bind_links(st, m, label, (payment, subject.key), answer)
            self.owe(st, m, payment, outcome, x.line)
            m.last_event[payment] = event.name
            m.settle(payment)
            self.run(st, x, where, "response_body", exchange, self.wire_of(m, (payment, subject.key)),
                     event=event.name)

    def advance(self, st: TraceState, m: MerchantState, x: Seen, exchange: Exchange) -> None:
        body = x.body if isinstance(x.body, dict) else {}
        seconds = next((v for v in body.values() if isinstance(v, int)), 0)
        answer = x.answer if isinstance(x.answer, dict) else {}
        self.run(st, x, None, "status", exchange, accepted=True, rejection=None, state=None, event="advance")
        if not m.synced and isinstance(answer.get("now"), int):
            m.now, m.synced = answer["now"] - seconds, True
        start = m.now

        def after_each(payment: int, outcome: Outcome) -> None:
            self.owe(st, m, payment, outcome, x.line)
            m.last_event[payment] = outcome.event
            target = m.ids.get((payment, outcome.target or ""), outcome.target)
            m.tell(payment, StoryStep(x.where, f"clock: advance {seconds} s",
                                      f"{outcome.event} {target}: " + ", ".join(
                                          f"{c.type} {c.to_state}" for c in outcome.changes)))

        try:
            m.advance(seconds, after_each)
        except UsageError as exc:
            raise self.fail(st, x, checks._failure("status", f"advance: {exc}", exchange, event="advance")) from None
        self.run(st, x, None, "response_body", exchange, {"now": start + seconds}, event="advance")

    def listed(self, st: TraceState, m: MerchantState, label: str, x: Seen, exchange: Exchange) -> bool:
        after = x.query.get("starting_after")
        if after is not None:
            seen = st.events.get(after)
            owner = seen[2] if seen is not None else None
            if owner is not None and owner != label:
                self.expect_rejection(st, x, exchange, self.unknown, f"starting_after {after} is another "
                                      "merchant's event", "tenant_isolation")
                return True
            if seen is None and self.refused(exchange, self.unknown):
                return True  # an event id the trace never showed: unknown to the implementation too, it says
        if x.status != 200:
            raise self.fail(st, x, checks._failure(
                "event_list", f"GET /events must answer a page (200); the implementation answered "
                f"{checks._answered(exchange)}", exchange, event="list events", expected=200, observed=x.status))
        data = x.answer.get("data") if isinstance(x.answer, dict) else None
        for event in data if isinstance(data, list) else []:
            if isinstance(event, dict):
                self.hear(st, Heard(x.file, x.line, x.ended, event, "listed", label))
        return True

    # --- events heard -----------------------------------------------------------------------------

    def hear(self, st: TraceState, h: Heard) -> None:
        """Match one event (a webhook, a listed event) with one the model owes."""
        event = h.event
        event_id = str(event.get("id"))
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        obj = data.get("object") if isinstance(data, dict) else None
        kind = str(event.get("type"))
        object_id = obj.get("id") if isinstance(obj, dict) else None
        prior = st.events.get(event_id)
        if prior is not None:
            first, where, _owner = prior
            if (first.get("type"), first.get("data")) != (event.get("type"), event.get("data")):
                raise self.fail(st, h, checks._failure(
                    "webhooks", f"event {event_id} came again with another body (first at {where}): "
                    + "; ".join(checks._body_changes(first, event)[:5]) + "; a redelivery, and GET /events, must "
                    "repeat the same event", event="webhook", expected=first, observed=event))
            return
        label = st.owner.get(object_id) if isinstance(object_id, str) else None
        label = label or h.merchant
        if label is None or not isinstance(object_id, str):
            raise self.fail(st, h, checks._failure(
                "webhooks", f"unexpected webhook: {kind} for {object_id}; no request in the trace made {object_id}",
                event="webhook", expected="an event of an object of the trace", observed=kind))
        m = st.merchant(label)
        self.consume(st, m, label, h, kind, object_id, obj, ordered=False)
        st.events[event_id] = (event, h.where, label)

    def consume(self, st: TraceState, m: MerchantState, label: str, h: Heard, kind: str, object_id: str, obj: Any,
                *, ordered: bool) -> None:
        ref = m.refs.get(object_id)
        pending = [e for e in m.pending if e.type == kind and (e.ref == ref if ref is not None else
                   e.ref not in m.ids and m.obj(e.ref).type == self.type_of(object_id))]
        if ordered and pending and m.pending and pending[0] is not m.pending[0]:
            head = m.pending[0]
            raise self.fail(st, h, checks._failure(
                "event_list", f"GET /events lacks an event: {head.type} for "
                f"{m.ids.get(head.ref, head.ref[1])} (owed since line {head.line}) should come before {kind} for "
                f"{object_id}", event="list events", expected=head.type, observed=kind), (m, head.ref[0]))
        if not pending:
            payment = (m, ref[0]) if ref is not None else None
            listed = h.how.startswith("listed")
            what = "GET /events lists unexpected event" if listed else "unexpected webhook"
            why = ("each status change makes exactly one event" if ref is not None or m.pending else
                   f"no request in the trace made {object_id} (a trace must begin before the payments it shows)")
            raise self.fail(st, h, checks._failure(
                "event_list" if listed else "webhooks", f"{what}: {kind} for {object_id}; {why}", event="webhook",
                expected="an event the model owes", observed=kind), payment)
        matches = [e for e in pending if not differences(self.wire_of(m, e.ref, e.snapshot), obj)]
        found: list[str] = []
        if not matches:
            # Bind first: the object's id, or the id of an object it links to, is new here.
            for candidate in pending:
                saved = dict(m.ids), dict(m.refs), dict(st.owner)
                if not m.bind(candidate.ref, object_id):
                    continue
                self.bind_links(st, m, label, candidate.ref, obj)
                found = found or differences(self.wire_of(m, candidate.ref, candidate.snapshot), obj, "data.object")
                if not found:
                    matches = [candidate]
                    break
                m.ids, m.refs, st.owner = saved
        if not matches:
            found = found or differences(self.wire_of(m, pending[0].ref, pending[0].snapshot), obj, "data.object")
            raise self.fail(st, h, checks._failure(
                "webhooks" if h.how == "webhook" else "event_list",
                f"the payload of {kind} {h.event.get('id')} differs from the object right after the change: "
                f"{'; '.join(found[:5])}", event="webhook", expected=dict(pending[0].snapshot), observed=obj),
                (m, pending[0].ref[0]))
        chosen = matches[0]
        m.bind(chosen.ref, object_id)
        st.owner.setdefault(object_id, label)
        m.pending.remove(chosen)
        self.bind_links(st, m, label, chosen.ref, obj)
