"""The spec's cross-object invariants, evaluated over any graph of objects.

The same evaluator serves the model (objects as the model believes them, in the lint and in
the suite's predictions) and the suite (objects as the implementation answered them): both
offer the small :class:`ObjectGraph` interface. Invariants are data from the spec; this
module knows only their five kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cxpay_conformance.model.world import Change, World
from cxpay_conformance.spec import Condition, Invariant, Spec
from cxpay_conformance.spec.paths import split_value_path

Node = TypeVar("Node")


class ObjectGraph(Protocol[Node]):
    """What invariants need to know of a payment's objects."""

    def state(self, node: Node) -> str | None: ...

    def follow(self, node: Node, path: str) -> Sequence[Node]: ...

    def value(self, node: Node, field: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Violation:
    """An invariant that does not hold, and what was seen instead."""

    invariant: Invariant
    detail: str

    def __str__(self) -> str:
        return f"invariant {self.invariant.name} ({self.invariant.description}) is broken: {self.detail}"


def check_invariants(spec: Spec, graph: ObjectGraph[Node], root: Node) -> list[Violation]:
    """Every state and value invariant of ``spec`` that fails for the payment at ``root``."""
    violations = []
    for invariant in spec.invariants:
        detail = _broken(invariant, graph, root)
        if detail:
            violations.append(Violation(invariant, detail))
    return violations


def check_changes(spec: Spec, changes: Iterable[Change]) -> list[Violation]:
    """The ``absorbing`` invariants broken by ``changes`` (an object leaving a terminal state)."""
    absorbing = [i for i in spec.invariants if i.kind == "absorbing"]
    violations = []
    for change in changes:
        if change.from_state is None:
            continue
        if spec.objects[change.type].states[change.from_state].terminal:
            for invariant in absorbing:
                violations.append(Violation(
                    invariant,
                    f"{change.key} left the terminal state {change.from_state} for {change.to_state}",
                ))
    return violations


def _broken(invariant: Invariant, graph: ObjectGraph[Node], root: Node) -> str:
    if invariant.kind == "count":
        condition = invariant.conditions[0]
        return "" if _holds(condition, graph, root) else _describe(condition, graph, root)
    if invariant.kind in ("iff", "implies"):
        left, right = invariant.conditions
        a, b = _holds(left, graph, root), _holds(right, graph, root)
        ok = (a == b) if invariant.kind == "iff" else (not a or b)
        if ok:
            return ""
        return f"{_describe(left, graph, root)} but {_describe(right, graph, root)}"
    if invariant.kind == "same_value":
        seen = {path: _values(path, graph, root) for path in invariant.values}
        distinct = {repr(v) for values in seen.values() for v in values}
        if len(distinct) <= 1:
            return ""
        return "; ".join(f"{path} = {values}" for path, values in seen.items())
    return ""


def _matching(condition: Condition, graph: ObjectGraph[Node], root: Node) -> list[Node]:
    nodes = graph.follow(root, condition.path)
    if condition.states is None:
        return list(nodes)
    return [n for n in nodes if graph.state(n) in condition.states]


def _holds(condition: Condition, graph: ObjectGraph[Node], root: Node) -> bool:
    if not condition.count:
        nodes = graph.follow(root, condition.path)
        return len(nodes) == 1 and graph.state(nodes[0]) in (condition.states or ())
    count = len(_matching(condition, graph, root))
    if condition.at_least is not None and count < condition.at_least:
        return False
    return not (condition.at_most is not None and count > condition.at_most)


def _describe(condition: Condition, graph: ObjectGraph[Node], root: Node) -> str:
    name = condition.path or "the root"
    if not condition.count:
        nodes = graph.follow(root, condition.path)
        state = graph.state(nodes[0]) if nodes else "absent"
        return f"{name} is {state}"
    states = f" in {list(condition.states)}" if condition.states is not None else ""
    return f"{len(_matching(condition, graph, root))} of {name}{states}"


def _values(path: str, graph: ObjectGraph[Node], root: Node) -> list[Any]:
    links, index, field = split_value_path(path)
    nodes = list(graph.follow(root, links))
    if index is not None:
        nodes = nodes[index:][:1] if -len(nodes) <= index < len(nodes) else []
        if not nodes:
            return [None]
    return [graph.value(node, field) for node in nodes]


class WorldGraph:
    """The model's own objects as an :class:`ObjectGraph` (nodes are model keys)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def state(self, node: str) -> str | None:
        return self.world.objects[node].state

    def follow(self, node: str, path: str) -> Sequence[str]:
        return [o.key for o in self.world.resolve(node, path)]

    def value(self, node: str, field: str) -> Any:
        obj = self.world.objects[node]
        if field == "id":
            return obj.key
        for link in self.world.spec.objects[obj.type].links.values():
            if link.field == field:
                if link.kind == "newest_of":
                    many = obj.links.get(link.of or "") or []
                    return many[-1] if many else None
                return obj.links.get(link.name)
        return obj.fields.get(field)


def check_world_payment(world: World, payment: int) -> list[Violation]:
    """The invariants the model itself breaks for one payment (a spec bug, found by the lint)."""
    return check_invariants(world.spec, WorldGraph(world), world.root_of(payment).key)
