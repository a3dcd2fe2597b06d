"""The generated machine: a Hypothesis rule for every event of the spec, whoever its actor
(merchant, customer, network; the clock has its own rule), the probes' rule, and the swarm.

:func:`build_machine` makes the ``RuleBasedStateMachine`` class for one run. Payments live in
a Bundle so that steps of several payments interleave. What each step does is
:class:`~.machine.ConformanceMachine`'s (and :mod:`.probes`' and :mod:`.teardown`'s); this
module decides which steps an example may take and how they are drawn. No state or event name
of the spec appears here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, initialize, precondition, rule

from cxpay_conformance.spec import Event
from cxpay_conformance.suite.context import SuiteContext
from cxpay_conformance.suite.draws import MOSTLY, due_edges, ends_things, params_strategy, sampled
from cxpay_conformance.suite.machine import swarmed
from cxpay_conformance.suite.probes import ProbingMachine, probe_rule
from cxpay_conformance.suite.requests import create_bodies
from cxpay_conformance.suite.teardown import SettlingMachine


class GeneratedMachine(ProbingMachine, SettlingMachine):
    """What every generated machine is: the core steps, the probes and the teardown.
    :func:`build_machine` adds the rules."""


def build_machine(ctx: SuiteContext) -> type[GeneratedMachine]:
    """A state machine class for ``ctx``: one rule per event of the spec, and the probes."""
    spec = ctx.spec
    payments = Bundle("payments")
    namespace: dict[str, Any] = {"ctx": ctx}

    bodies = create_bodies(spec, ctx.contract)

    @precondition(lambda self: self.room_for_another())
    @rule(target=payments, body=bodies)
    def create(self: GeneratedMachine, body: dict[str, Any]) -> int:
        return self.create_payment(body)

    namespace[_rule_name(ctx.creating.name)] = create

    playable = [e for e in spec.events.values() if not e.creates and e.due is None]
    for event in playable:
        if not ends_things(ctx.spec, event):
            namespace[_rule_name(event.name)] = _event_rule(ctx, event, payments)
    ending = [e for e in playable if ends_things(ctx.spec, e)]
    if ending:
        namespace["end_a_payment"] = _ending_rule(ctx, ending)

    @precondition(swarmed("advance_clock", lambda self: bool(self.world.objects)))
    @rule(data=st.data())
    def advance_clock(self: GeneratedMachine, data: st.DataObject) -> None:
        # Mostly a short step that lets little fall due; otherwise the edges (one second
        # before, at, after) of a pending due time, or a long jump past them all.
        waiting = self.world.due()
        jumps = sorted({when - self.world.now + 1 for when, _e, _k in waiting[-1:]})
        short = st.integers(1, 120)
        seconds = data.draw(st.one_of(*[short] * 10, *[due_edges(self, waiting)] * 2,
                                      sampled(self.ctx, jumps or [1])), label="seconds")
        self.advance(seconds)

    namespace["advance_clock"] = advance_clock

    @precondition(lambda self: bool(self.owed_after_the_end()))
    @rule(data=st.data())
    def advance_to_owed_work(self: GeneratedMachine, data: st.DataObject) -> None:
        # A payment ended with clock work still owed: cross one of its due times. The examples
        # whose payments get this far are mostly those the swarm left without the clock, so
        # without this rule (and the teardown's catching up) that work would rarely fall due.
        owed = sorted({when for when, _event, _key in self.owed_after_the_end()})
        self.cross(data.draw(sampled(self.ctx, owed), label="due at"))

    namespace["advance_to_owed_work"] = advance_to_owed_work

    namespace["probe_protocol"] = probe_rule(ctx, bodies)
    # Not swarmed: the creating rule, and the clock's catching up with work owed to ended
    # payments (it can run only once a payment got that far, which it rarely does with the clock in).
    swarmable = sorted(name for name in namespace
                       if name not in ("ctx", _rule_name(ctx.creating.name), "advance_to_owed_work"))

    @initialize(left_out=st.fixed_dictionaries({name: st.booleans() for name in swarmable}))
    def choose_swarm(self: GeneratedMachine, left_out: dict[str, bool]) -> None:
        """Swarm testing: each example leaves some rules out entirely (Groce et al., ISSTA 2012).

        An example with no clock, say, lets its payments live long enough to reach their
        deepest states; one with no probes goes further in the same number of steps.
        Hypothesis shrinks booleans to False, so False must mean "in": a failing example then
        shrinks towards every rule being available (as Hypothesis's own feature flags do).
        The other way round, the shrinker could not remove a single step of a failure found
        at teardown (webhooks, signatures) and stalled on each one for hundreds of examples.
        """
        mask = {name: not out for name, out in left_out.items()}
        if not any(mask.get(name) for name in never_stuck):
            # Some rule must always be able to run: the events addressed to a payment's root.
            mask = {**mask, **dict.fromkeys(root_rules, True)}
        self.swarm = mask

    # Rules that can always run once a payment exists: the clock, and events addressed to roots.
    root_rules = [_rule_name(e.name) for e in playable if e.target == spec.root.name and not ends_things(ctx.spec, e)]
    never_stuck = ["advance_clock", "end_a_payment", *root_rules]
    namespace["choose_swarm"] = choose_swarm
    return type("CXPayConformance", (GeneratedMachine,), namespace)


def _rule_name(event: str) -> str:
    """The rule's name: the event's, unless that would hide one of the machine's own methods."""
    return f"event_{event}" if hasattr(GeneratedMachine, event) else event




def _event_rule(ctx: SuiteContext, event: Event, payments: Bundle[int]) -> Callable[..., None]:
    """The rule that fires ``event`` on an object of the type it addresses.

    Events that move a payment forward prefer objects where they are allowed, so examples
    go deep; events that end a payment take any object, so they mostly test rejections.
    """
    params = params_strategy(ctx, event)
    seek_allowed = not ends_things(ctx.spec, event)

    if event.target == ctx.spec.root.name:
        @precondition(swarmed(event.name))
        @rule(payment=payments, params=params, data=st.data())
        def on_root(self: GeneratedMachine, payment: int, params: dict[str, Any],
                    data: st.DataObject) -> None:
            # A payment drawn from the bundle; where the event is refused there, often move to
            # a payment that allows it, so that examples go deep as well as wide.
            key = self.world.root_of(payment).key
            roots = [self.world.root_of(p).key for p in self.world.payments]
            allowed = [k for k in roots if event.name in self.world.enabled(self.world.subject(event.name, k).key)]
            if seek_allowed and allowed and key not in allowed and data.draw(MOSTLY, label="go where allowed"):
                key = data.draw(sampled(self.ctx, allowed), label=event.target)
            self.fire_event(event, key, params)

        on_root.__name__ = event.name
        return on_root

    def has_target(self: GeneratedMachine) -> bool:
        return any(o.type == event.target and o.key in self.ids for o in self.world)

    @precondition(swarmed(event.name, has_target))
    @rule(data=st.data(), params=params)
    def on_object(self: GeneratedMachine, data: st.DataObject, params: dict[str, Any]) -> None:
        # Half the time an object the event is allowed on (to go deeper), otherwise any (so
        # that the rejections get tested too).
        keys = [o.key for o in self.world if o.type == event.target and o.key in self.ids]
        allowed = [k for k in keys if event.name in self.world.enabled(self.world.subject(event.name, k).key)]
        aim_at_allowed: bool = seek_allowed and bool(allowed) and data.draw(MOSTLY, label="go where allowed")
        pool = allowed if aim_at_allowed else keys
        self.fire_event(event, data.draw(sampled(self.ctx, pool), label=event.target), params)

    on_object.__name__ = event.name
    return on_object


def _ending_rule(ctx: SuiteContext, events: list[Event]) -> Callable[..., None]:
    """One rule for every event that ends a payment (the merchant's expire and cancel, say).

    Grouped so that, together, they are drawn as often as one forward event, and aimed
    mostly at objects that refuse them (testing the rejections): otherwise payments would
    rarely live long enough to reach their deeper states.
    """

    def has_target(self: GeneratedMachine) -> bool:
        return any(o.key in self.ids and o.type in {e.target for e in events} for o in self.world)

    @precondition(swarmed("end_a_payment", has_target))
    @rule(data=st.data())
    def end_a_payment(self: GeneratedMachine, data: st.DataObject) -> None:
        present = {o.type for o in self.world if o.key in self.ids}
        event = data.draw(sampled(self.ctx, [e for e in events if e.target in present]), label="event")
        keys = [o.key for o in self.world if o.type == event.target and o.key in self.ids]
        refused = [k for k in keys if event.name not in self.world.enabled(self.world.subject(event.name, k).key)]
        aim_at_refused: bool = bool(refused) and data.draw(MOSTLY, label="where refused")
        pool = refused if aim_at_refused else keys
        params = data.draw(params_strategy(ctx, event), label="params")
        self.fire_event(event, data.draw(sampled(self.ctx, pool), label=event.target), params)

    return end_a_payment
