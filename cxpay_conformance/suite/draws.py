"""What the generated rules draw: strategies built once per run, and the objects, events and
clock advances a step aims at.

Every rule of :mod:`.rules` and :mod:`.probes` draws through these, so that a list of values
that comes back step after step is one strategy for the whole run (see :func:`sampled`). No
state or event name of the spec appears here.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from cxpay_conformance.spec import Event, Spec
from cxpay_conformance.suite.context import SuiteContext
from cxpay_conformance.suite.machine import ConformanceMachine

#: True three times in four: how often a forward event goes where it is allowed.
MOSTLY = st.sampled_from([True, True, True, False])


def sampled(ctx: SuiteContext, values: Any) -> st.SearchStrategy[Any]:
    """``st.sampled_from(values)``, built once per run for each distinct list of values.

    The rules sample from the objects and requests of the moment; the same lists come back step
    after step, and a strategy built anew each time made Hypothesis validate it and work out its
    properties again (about a tenth of the suite's own time in the profile). Same values, same
    strategy, same draws: the cache changes nothing that is generated. Values that cannot be
    hashed (the spec's events) are told apart by identity, which holds for the run: the cached
    strategy keeps them alive.
    """
    values = tuple(values)
    try:
        hash(values)
        key: tuple[Any, ...] = ("sampled", values)
    except TypeError:
        key = ("sampled by identity", *map(id, values))
    found = ctx.strategies.get(key)
    if found is None:
        found = ctx.strategies[key] = st.sampled_from(values)
    return found


def or_none(ctx: SuiteContext, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``st.none() | strategy``, built once per run for each strategy."""
    key = ("or none", id(strategy))
    found = ctx.strategies.get(key)
    if found is None:
        found = ctx.strategies[key] = st.none() | strategy
    return found


def params_strategy(ctx: SuiteContext, event: Event) -> st.SearchStrategy[dict[str, Any]]:
    """The parameters of ``event``, one strategy per event and run: building a strategy anew at
    every draw made Hypothesis recompute its properties each time (a hot spot of the profile)."""
    key = ("params", event.name)
    cached = ctx.strategies.get(key)
    if cached is None:
        cached = ctx.strategies[key] = _build_params_strategy(ctx, event)
    return cached


def _build_params_strategy(ctx: SuiteContext, event: Event) -> st.SearchStrategy[dict[str, Any]]:
    spec = ctx.spec
    fields: dict[str, st.SearchStrategy[Any]] = {
        name: st.sampled_from(values) for name, values in event.parameters.items()
    }
    if event.card == "parameter":
        fields[spec.cards.parameter] = st.sampled_from(sorted(spec.cards.numbers))
    return st.fixed_dictionaries(fields)


def draw_target(machine: ConformanceMachine, data: st.DataObject, *,
                reads: bool = True) -> tuple[str, Event | None, dict[str, Any]]:
    """One of our objects to probe, and either an event to fire on it or None for a read
    (``reads=False``: an event whenever the object has one)."""
    key = data.draw(sampled(machine.ctx, sorted(machine.ids)), label="object")
    event, params = draw_event(machine, data, machine.world.objects[key].type, reads=reads)
    return key, event, params


def draw_event(machine: ConformanceMachine, data: st.DataObject, object_type: str, *,
               reads: bool = True) -> tuple[Event | None, dict[str, Any]]:
    """An event addressed to an object of ``object_type`` with its parameters, or None for a read."""
    events = [e for e in machine.ctx.spec.events.values()
              if e.target == object_type and not e.creates and e.due is None]
    choices = or_none(machine.ctx, sampled(machine.ctx, events)) if reads else sampled(machine.ctx, events)
    event = data.draw(choices, label="event") if events else None
    params = data.draw(params_strategy(machine.ctx, event), label="params") if event else {}
    return event, params


def due_edges(machine: ConformanceMachine, waiting: list[tuple[int, str, str]]) -> st.SearchStrategy[int]:
    """Advances that land on the edges (one second before, at, after) of the due times
    ``waiting``; each clock event as likely as the others, however many objects wait on it."""
    now = machine.world.now
    by_event: dict[str, set[int]] = {}
    for when, event, _key in waiting:
        by_event.setdefault(event, set()).update(
            when - now + delta for delta in (-1, 0, 1) if when - now + delta >= 1)
    edges = [sampled(machine.ctx, sorted(times)) for _event, times in sorted(by_event.items()) if times]
    return st.one_of(*edges) if edges else st.just(1)


def ends_things(spec: Spec, event: Event) -> bool:
    """Whether every transition of ``event`` ends its object (leads to a terminal state)."""
    terminal = set(spec.objects[event.object].terminal_states)
    return all(t.to in terminal for t in spec.transitions_of(event.name))
