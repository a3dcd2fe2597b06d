"""The bad-request probe (issue 15, the contract's errors and their order): on our object in
whatever state, a body with an unknown, missing or mistyped parameter, or one that is not a JSON
object, answers the spec's 400 naming the parameter, before any 404 or 409, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from cxpay_conformance.errors import ConformanceFailure
from cxpay_conformance.suite.adapter import Exchange
from tests.suite.test_suite_blind_spots import APPROVED, BODY, SPEC, one_example


def test_every_flaw_of_a_pay_is_refused_with_the_spec_s_400_even_on_a_canceled_payment(reference: Any) -> None:
    with one_example(reference) as machine:
        payment = machine.create_payment(dict(BODY))
        root = machine.world.root_of(payment).key
        intent = next(o.key for o in machine.world.payment_objects(payment) if o.type == "payment_intent")
        machine.fire_event(SPEC.events["cancel_payment"], intent, {})  # pay would now be 409
        flaws = machine.flaws(SPEC.events["pay"], {SPEC.cards.parameter: APPROVED})
        assert [rejection.code for _what, _body, rejection, _param in flaws] == [
            "body_invalid", "parameter_unknown", "parameter_missing", "parameter_invalid"]
        for what, body, rejection, param in flaws:
            machine.bad_request(root, SPEC.events["pay"], what, body, rejection, param)
    probes = [s for s in machine.steps if s.event == "bad request"]
    assert len(probes) == 4 and not machine.failed
    for step in probes:
        assert step.exchange is not None and step.exchange.status == 400


def test_an_error_that_names_another_param_is_caught(reference: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with one_example(reference) as machine:
        payment = machine.create_payment(dict(BODY))
        root = machine.world.root_of(payment).key
        perform = machine.ctx.adapter.perform

        def misnamed(*args: Any, **kwargs: Any) -> Exchange:
            exchange = perform(*args, **kwargs)
            if isinstance(exchange.answer, dict) and isinstance(exchange.answer.get("error"), dict):
                exchange.answer["error"]["param"] = "something_else"
            return exchange

        monkeypatch.setattr(machine.ctx.adapter, "perform", misnamed)
        what, body, rejection, param = machine.flaws(SPEC.events["pay"], {SPEC.cards.parameter: APPROVED})[1]
        with pytest.raises(ConformanceFailure) as caught:
            machine.bad_request(root, SPEC.events["pay"], what, body, rejection, param)
    assert caught.value.check == "status"
    assert "must name the offending parameter" in str(caught.value)
