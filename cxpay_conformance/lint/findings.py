"""What the lint reports: findings, the event paths that reach them, and the whole report.

A :class:`Finding` is a frozen value naming the kind of problem, the place in the spec to
change (``file:line:column``), the object, state, event or invariant concerned, and, where
the problem shows up only in some reachable state, the shortest event path from the
payment's creation that gets there, as a :class:`Step` story.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cxpay_conformance.errors import Location
from cxpay_conformance.spec.types import frozen_mapping

FindingKind = Literal[
    "unreachable-state",
    "dead-end",
    "nondeterminism",
    "never-enabled",
    "terminal-exit",
    "invariant-broken",
    "guard-gap",
]
#: Every kind, in the order a report lists them.
KINDS: tuple[FindingKind, ...] = (
    "invariant-broken",
    "terminal-exit",
    "guard-gap",
    "nondeterminism",
    "dead-end",
    "never-enabled",
    "unreachable-state",
)


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a path: its name, the guard choices made for it, and whom it addressed.

    ``target`` is the model key of the addressed object, shown only where the payment holds
    several objects of its type (which charge a network answer is for).
    """

    event: str
    params: Mapping[str, str] = field(default_factory=frozen_mapping)
    target: str | None = None

    def __str__(self) -> str:
        text = self.event
        if self.target is not None:
            text += f"[{self.target}]"
        if self.params:
            text += "(" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"
        return text


def story(path: tuple[Step, ...]) -> str:
    """A path as one line: ``create_session -> pay(card_number=4242424242424242) -> ...``."""
    return " -> ".join(str(step) for step in path)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One problem the lint found in the spec.

    ``location`` is the thing to change; ``related`` other places involved (the second of
    two overlapping transitions). ``path`` is the shortest event path from the payment's
    creation that shows the problem, when it shows only in some states.
    """

    kind: FindingKind
    message: str
    location: Location
    hint: str = ""
    object: str | None = None
    state: str | None = None
    event: str | None = None
    invariant: str | None = None
    path: tuple[Step, ...] | None = None
    related: tuple[Location, ...] = ()

    @property
    def story(self) -> str | None:
        """The path as one line, or None when the finding needs none."""
        return story(self.path) if self.path is not None else None

    def as_dict(self) -> dict[str, Any]:
        """The finding as plain JSON-ready data."""
        return {
            "kind": self.kind,
            "message": self.message,
            "location": str(self.location),
            "hint": self.hint,
            "object": self.object,
            "state": self.state,
            "event": self.event,
            "invariant": self.invariant,
            "path": self.story,
            "steps": None if self.path is None else [
                {"event": s.event, "target": s.target, "params": dict(s.params)} for s in self.path
            ],
            "related": [str(location) for location in self.related],
        }

    def __str__(self) -> str:
        text = f"{self.location}: {self.kind}: {self.message}"
        if self.path is not None:
            text += f"\n    path: {self.story}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


@dataclass(frozen=True, slots=True)
class LintReport:
    """The result of linting a spec.

    ``states`` counts the reachable combined states of one payment, ``transitions`` the
    accepted events explored between them; ``pruned`` the accepted events left unexplored
    because they would have made more children through a many-link than the bound allows.
    """

    spec: str
    states: int
    transitions: int
    pruned: int
    max_children: int
    findings: tuple[Finding, ...]

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "spec": self.spec,
            "states": self.states,
            "transitions": self.transitions,
            "pruned": self.pruned,
            "max_children": self.max_children,
            "findings": [finding.as_dict() for finding in self.findings],
        }
