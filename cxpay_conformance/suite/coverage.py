"""What a run exercised: transitions fired, states reached, rejections tested, per object.

The report prints it as tables and the diagrams draw it as an overlay
(:func:`cxpay_conformance.diagrams.render_coverage`), so untested paths are visible.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cxpay_conformance.spec import Spec


@dataclass(frozen=True, slots=True)
class ObjectCoverage:
    """Coverage of one object type."""

    object: str
    states_reached: int
    states_total: int
    transitions_hit: int
    transitions_total: int
    unreached_states: tuple[str, ...]
    uncovered_transitions: tuple[str, ...]


class Coverage:
    """Counts of what the suite made happen, keyed by the spec's own names and indexes."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.transitions: Counter[int] = Counter()
        #: Per edge: (transition index, the state it left, None when it created the object).
        #: A transition that leaves several states is several edges, each with its own count.
        self.edges: Counter[tuple[int, str | None]] = Counter()
        self.states: Counter[tuple[str, str]] = Counter()
        self.rejections: Counter[tuple[str, str]] = Counter()

    def transition(self, index: int, from_state: str | None = None) -> None:
        """One firing of transition ``index`` out of ``from_state`` (None: it created the object)."""
        self.transitions[index] += 1
        self.edges[(index, from_state)] += 1

    def state(self, object_type: str, state: str) -> None:
        self.states[(object_type, state)] += 1

    def rejection(self, event: str, state: str) -> None:
        self.rejections[(event, state)] += 1

    def per_object(self) -> list[ObjectCoverage]:
        result = []
        for obj in self.spec.objects.values():
            own = [t for t in self.spec.transitions if t.object == obj.name]
            reached = [s for s in obj.states if self.states[(obj.name, s)]]
            uncovered = tuple(
                f"{t.label()} -> {t.to}"
                for t in own if not self.transitions[t.index]
            )
            result.append(ObjectCoverage(
                obj.name, len(reached), len(obj.states), len(own) - len(uncovered), len(own),
                tuple(s for s in obj.states if s not in reached), uncovered,
            ))
        return result

    def per_edge(self) -> list[dict[str, object]]:
        """Every edge of the spec, (object, from-state, event [guard], to-state), with its count;
        a transition leaving several states is one edge per state (from None: it creates)."""
        return [
            {"object": t.object, "from": source, "transition": t.label(), "to": t.to,
             "count": self.edges[(t.index, source)]}
            for t in self.spec.transitions
            for source in (t.from_states or (None,))
        ]

    def rejection_pairs(self) -> tuple[int, int]:
        """How many (event, state) pairs where the spec expects a rejection were tested, of all."""
        pairs: set[tuple[str, str]] = set()
        for event in self.spec.events.values():
            if event.creates or event.due is not None:
                continue
            allowed = {s for t in self.spec.transitions_of(event.name) for s in t.from_states}
            pairs.update((event.name, s) for s in self.spec.objects[event.object].states if s not in allowed)
        return len([p for p in pairs if self.rejections[p]]), len(pairs)

    @property
    def complete(self) -> bool:
        return all(not c.uncovered_transitions for c in self.per_object())
