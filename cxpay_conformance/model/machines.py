"""One ``transitions`` state machine per object type, built from the spec.

The machines hold the spec's transitions exactly as written (``auto_transitions=False``:
no transition exists that the spec does not name). A guard is a condition callback that
compares the spec's ``guard`` mapping with the event's context. The :class:`ObjectMachines`
answers the one question the rest of the model asks: from this state, with this context,
which spec transition does this event fire, or is it not allowed at all?
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine, MachineError

from cxpay_conformance.spec import Spec, Transition

#: What a guard sees: ``card.<attribute>`` keys and event parameters, each a string or None.
GuardContext = Mapping[str, Any]


class NotAllowed(Exception):
    """The event has no transition from the object's current state."""


class NoGuardMatched(Exception):
    """The event is allowed from this state, but no transition's guard accepts the context."""


def guard_accepts(guard: Mapping[str, tuple[str, ...]], context: GuardContext) -> bool:
    """Whether every key of ``guard`` has, in ``context``, one of the values it lists."""
    return all(context.get(key) in values for key, values in guard.items())


@dataclass
class _Probe:
    """The model object the machines move: just a state, and the transition that fired."""

    state: str = ""
    fired: Transition | None = None


class ObjectMachines:
    """The state machines of every object type of ``spec``.

    >>> machines = ObjectMachines(spec)
    >>> machines.fire("charge", "pending", "network_response", {"card.network": "approve"}).to
    'succeeded'
    """

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._machines: dict[str, Machine] = {}
        self._probes: dict[str, _Probe] = {}
        for obj in spec.objects.values():
            probe = _Probe()
            transitions = [
                {
                    "trigger": t.event,
                    "source": list(t.from_states),
                    "dest": t.to,
                    "conditions": [_guard_condition(t)],
                    "after": [_recorder(probe, t)],
                }
                for t in spec.transitions
                if t.object == obj.name and not t.creates
            ]
            machine = Machine(
                model=None,
                states=list(obj.states),
                transitions=transitions,
                initial=obj.initial_states[0] if obj.initial_states else None,
                auto_transitions=False,
                send_event=True,
            )
            machine.add_model(probe, initial=obj.initial_states[0] if obj.initial_states else next(iter(obj.states)))
            self._machines[obj.name] = machine
            self._probes[obj.name] = probe

    def fire(self, object_type: str, state: str, event: str, context: GuardContext) -> Transition:
        """The spec transition ``event`` fires from ``state`` given ``context``.

        Raises :class:`NotAllowed` when the event has no transition from ``state``, and
        :class:`NoGuardMatched` when it has some but no guard accepts the context.
        """
        machine = self._machines[object_type]
        probe = self._probes[object_type]
        machine.set_state(state, model=probe)
        probe.fired = None
        if event not in machine.events:
            raise NotAllowed(f"{event} has no transition on a {object_type}")
        try:
            # transitions adds ``trigger`` to the probe when it becomes the machine's model.
            moved = getattr(probe, "trigger")(event, context=context)  # noqa: B009
        except MachineError:
            raise NotAllowed(f"{event} is not allowed on a {object_type} in state {state}") from None
        if not moved or probe.fired is None:
            raise NoGuardMatched(
                f"{event} on a {object_type} in state {state}: no guard accepts {dict(context)}"
            )
        return probe.fired

    def events_from(self, object_type: str, state: str) -> tuple[str, ...]:
        """The events that have at least one transition from ``state``."""
        return tuple(sorted(self._machines[object_type].get_triggers(state)))


def _guard_condition(transition: Transition) -> Callable[[EventData], bool]:
    def condition(event: EventData) -> bool:
        return guard_accepts(transition.guard, event.kwargs.get("context", {}))

    return condition


def _recorder(probe: _Probe, transition: Transition) -> Callable[[EventData], None]:
    def record(event: EventData) -> None:
        probe.fired = transition

    return record
