"""The test clock: deadlines fire when now >= expires_at, settlements after the delay, in order.

The spec's decision "the test clock": an advance applies everything that falls due up to
the new time, earliest first; a deadline is due when now >= expires_at; settlement comes
settlement_delay seconds after the charge succeeded.
"""

from __future__ import annotations

import pytest

from cxpay_conformance.model import World
from cxpay_conformance.spec import Spec
from tests.model.payments import CREATE, T0, Payment, card_number, emitted, new_payment


def test_a_new_session_expires_after_the_default_lifetime(spec: Spec) -> None:
    payment, _ = new_payment(spec)

    lifetime = spec.events["create_session"].defaults["expires_in"]
    assert lifetime == 86400  # the contract's 24 hours
    assert payment.world.snapshot(payment.session.key)["expires_at"] == T0 + lifetime
    assert payment.world.due() == [(T0 + lifetime, "session_deadline", payment.session.key)]


@pytest.mark.parametrize("expires_in", [0, 1, 3600])
def test_the_deadline_fires_exactly_at_expires_at(spec: Spec, expires_in: int) -> None:
    payment, _ = new_payment(spec, expires_in=expires_in)

    if expires_in:
        assert payment.world.advance(expires_in - 1) == []
        assert payment.session.state == "open"
        assert payment.world.now == T0 + expires_in - 1
        fired = payment.world.advance(1)
    else:
        fired = payment.world.advance(0)  # already due: now >= expires_at

    assert [(o.event, o.target) for o in fired] == [("session_deadline", payment.session.key)]
    assert payment.statuses() == ("expired", "expired", ())
    assert payment.session.entered_at == T0 + expires_in
    assert payment.world.now == T0 + expires_in
    assert payment.world.due() == []


def test_a_long_advance_fires_the_deadline_once_at_its_time(spec: Spec) -> None:
    payment, _ = new_payment(spec, expires_in=100)

    fired = payment.world.advance(10_000)

    assert [o.event for o in fired] == ["session_deadline"]
    assert payment.session.entered_at == T0 + 100  # fired when it fell due, not at the end
    assert payment.world.now == T0 + 10_000


def test_settlement_comes_the_delay_after_success(spec: Spec) -> None:
    delay = spec.clock["settlement_delay"]
    assert delay == 2 * 86400  # the spec's decision: two days after capture
    payment, _ = new_payment(spec)
    payment.world.advance(500)
    payment.pay(card_number(spec, authentication="none", network="approve"))
    payment.world.advance(60)
    payment.respond()
    succeeded_at = T0 + 560
    charge = payment.charge.key

    assert payment.world.due() == [(succeeded_at + delay, "settlement", charge)]
    assert payment.world.advance(delay - 1) == []
    assert payment.charge.state == "succeeded"

    (settled,) = payment.world.advance(1)

    assert (settled.event, settled.target) == ("settlement", charge)
    assert emitted(settled) == ["charge.settled"]
    assert payment.statuses() == ("complete", "succeeded", ("settled",))
    assert payment.world.due() == []


def test_a_failed_or_voided_charge_never_settles(spec: Spec) -> None:
    payment, _ = new_payment(spec, expires_in=100)
    payment.pay(card_number(spec, authentication="none", network="decline"))
    payment.respond()
    payment.pay(card_number(spec, authentication="none", network="approve"))

    fired = payment.world.advance(10 * spec.clock["settlement_delay"])

    assert [o.event for o in fired] == ["session_deadline"]
    assert payment.statuses() == ("expired", "expired", ("failed", "canceled"))


def test_several_due_items_fire_in_time_order_in_one_advance(spec: Spec) -> None:
    world = World(spec, now=T0)
    late = Payment(world, 1)
    world.create({**CREATE, "expires_in": 300})
    early = Payment(world, 2)
    world.create({**CREATE, "expires_in": 200})
    paid = Payment(world, 3)
    world.create({**CREATE, "expires_in": 250})
    world.advance(10)
    paid.pay(card_number(spec, authentication="none", network="approve"))
    paid.respond()
    settles_at = T0 + 10 + spec.clock["settlement_delay"]

    assert world.due() == [
        (T0 + 200, "session_deadline", early.session.key),
        (T0 + 300, "session_deadline", late.session.key),
        (settles_at, "settlement", paid.charge.key),
    ]

    fired = world.advance(spec.clock["settlement_delay"] + 1000)

    assert [(o.event, o.target) for o in fired] == [
        ("session_deadline", early.session.key),
        ("session_deadline", late.session.key),
        ("settlement", paid.charge.key),
    ]
    assert early.session.entered_at == T0 + 200
    assert late.session.entered_at == T0 + 300
    assert paid.charge.entered_at == settles_at
    assert world.now == T0 + spec.clock["settlement_delay"] + 1010


def test_due_items_at_the_same_time_come_in_creation_order(spec: Spec) -> None:
    world = World(spec, now=T0)
    for _ in range(3):
        world.create({**CREATE, "expires_in": 60})
    sessions = [world.root_of(n).key for n in world.payments]

    assert [key for _, _, key in world.due()] == sessions
    assert [o.target for o in world.advance(60)] == sessions


def test_a_deadline_is_not_due_once_the_session_ended(spec: Spec) -> None:
    payment, _ = new_payment(spec, expires_in=60)
    payment.expire()

    assert payment.world.due() == []
    assert payment.world.advance(120) == []
    assert payment.session.entered_at == T0  # expired by the merchant, at creation time
