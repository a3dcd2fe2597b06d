"""How arrows and states look: by actor in the plain diagrams, by hit count in coverage overlays.

A :class:`Styler` answers three questions for the DOT writer — the Graphviz attributes of an
arrow, the text of its label, and the legend lines — so that the coverage overlay is the plain
diagram with another styler, not a second drawing routine. Mermaid cannot style single
arrows, so the Markdown writer uses :meth:`Styler.suffix` only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cxpay_conformance.spec.types import ACTORS, State, Transition

FONT = "Helvetica"
INK = "#374151"
MUTED = "#6b7280"
EFFECT_ARROWHEAD = "onormal"

#: Fill and border of states, shared by DOT and Mermaid so that both read the same way.
INITIAL_FILL, INITIAL_BORDER = "#dbeafe", "#1d4ed8"
TERMINAL_FILL, TERMINAL_BORDER = "#e5e7eb", "#111827"
UNENTERED_FILL, UNENTERED_BORDER = "#fee2e2", "#b91c1c"

#: The multiplication sign before a hit count in labels, escaped: linters flag the look-alike.
TIMES = "\u00d7"

UNTESTED = "#dc2626"
TESTED = "#15803d"


@dataclass(frozen=True, slots=True)
class ActorStyle:
    """The colour and line of one actor's arrows; ``words`` says it in a legend."""

    colour: str
    line: str
    words: str


#: Actors are a closed set of the spec format (``spec.types.ACTORS``), not spec data.
ACTOR_STYLES: Mapping[str, ActorStyle] = {
    "merchant": ActorStyle("#1d4ed8", "solid", "solid blue"),
    "customer": ActorStyle("#15803d", "bold", "bold green"),
    "network": ActorStyle("#c2410c", "double", "double orange"),
    "clock": ActorStyle("#7e22ce", "dotted", "dotted purple"),
}
OTHER_ACTOR = ActorStyle(INK, "solid", "solid grey")


def actor_style(actor: str) -> ActorStyle:
    return ACTOR_STYLES.get(actor, OTHER_ACTOR)


@dataclass(frozen=True, slots=True)
class LegendLine:
    """One legend entry: a line sample (``solid``, ``bold``, ``double``, ``dotted`` or
    ``dashed``) in ``colour``, and what it means."""

    text: str
    colour: str
    line: str


class Styler(Protocol):
    """What the DOT writer asks about each arrow. See :class:`ActorStyler`."""

    #: Whether :meth:`unentered` can say yes, so that the legend explains the marking.
    marks_unentered: bool

    def edge(self, transition: Transition, actor: str, *, induced: bool) -> dict[str, str]:
        """Graphviz attributes of an arrow (not its label)."""

    def suffix(self, transition: Transition) -> str:
        """Text added to an arrow's label ("" for none), such as a hit count."""

    def source(self, transition: Transition, state: str) -> dict[str, str]:
        """Extra Graphviz attributes of the segment from ``state`` into a transition's junction
        dot (where it leaves several states), such as that edge's own count; {} for none."""

    def unentered(self, state: State, arrows_in: Iterable[Transition]) -> bool:
        """Whether to mark ``state`` as never entered, given the transitions of its arrows."""

    def legend(self, actors: Iterable[str], *, induced: bool) -> list[LegendLine]:
        """The arrow legend for a diagram with arrows of ``actors`` (and effects if induced)."""


class ActorStyler:
    """Colour and line style by actor; effects of other objects' transitions dashed."""

    marks_unentered = False

    def edge(self, transition: Transition, actor: str, *, induced: bool) -> dict[str, str]:
        return _actor_attrs(actor_style(actor), induced=induced)

    def suffix(self, transition: Transition) -> str:
        return ""

    def source(self, transition: Transition, state: str) -> dict[str, str]:
        return {}

    def unentered(self, state: State, arrows_in: Iterable[Transition]) -> bool:
        return False

    def legend(self, actors: Iterable[str], *, induced: bool) -> list[LegendLine]:
        present = set(actors)
        lines = [
            LegendLine(actor, actor_style(actor).colour, actor_style(actor).line)
            for actor in (*ACTORS, *sorted(present - set(ACTORS)))
            if actor in present
        ]
        if induced:
            lines.append(LegendLine("effect of another object's transition (hollow arrowhead)",
                                    INK, "dashed"))
        return lines


class CoverageStyler:
    """Colour and width by how often the suite fired each transition; never fired is red, dashed.

    >>> CoverageStyler({0: 3}).suffix(spec.transitions[0]) == TIMES + "3"
    True
    """

    marks_unentered = True

    def __init__(self, hits: Mapping[int, int],
                 edge_hits: Mapping[tuple[int, str | None], int] | None = None) -> None:
        self.hits = hits
        self.edge_hits = edge_hits

    def count(self, transition: Transition) -> int:
        return self.hits.get(transition.index, 0)

    def edge(self, transition: Transition, actor: str, *, induced: bool) -> dict[str, str]:
        # The SVG class names the transition, so that a page can draw a path over the overlay.
        return {**_hit_attrs(self.count(transition), induced=induced), "class": transition_class(transition.index)}

    def suffix(self, transition: Transition) -> str:
        count = self.count(transition)
        return f"{TIMES}{count}" if count else f"{TIMES}0 untested"

    def source(self, transition: Transition, state: str) -> dict[str, str]:
        # The arrow out of the junction carries the transition's total; each segment into it,
        # the count of its own edge, so that `pay` from two states shows two counts.
        if len(transition.from_states) < 2:
            return {}
        segment = {"class": transition_class(transition.index, state)}
        if self.edge_hits is None:
            return segment
        count = self.edge_hits.get((transition.index, state), 0)
        return {**_hit_attrs(count, induced=False), "label": f"{TIMES}{count}", **segment}

    def unentered(self, state: State, arrows_in: Iterable[Transition]) -> bool:
        # Sound in one direction only: if no arrow into the state fired, it was never entered.
        return all(self.count(t) == 0 for t in arrows_in)

    def legend(self, actors: Iterable[str], *, induced: bool) -> list[LegendLine]:
        lines = [
            LegendLine(f"fired {TIMES}count (wider: more often)", TESTED, "bold"),
            LegendLine("never fired: untested", UNTESTED, "dashed"),
        ]
        if induced:
            lines.append(LegendLine("hollow arrowhead: effect of another object's transition, "
                                    "with that transition's count", INK, "solid"))
        return lines


def transition_class(index: int, source: str | None = None) -> str:
    """The SVG class of a coverage overlay's arrow: ``cx-t3`` for transition 3's arrow (out of its
    junction dot, where it leaves several states), ``cx-t3-from-s1`` for the segment from state
    ``s1`` into that dot. Characters a class name cannot hold become ``_``.

    >>> transition_class(3, "s1")
    'cx-t3-from-s1'
    """
    name = f"cx-t{index}" if source is None else f"cx-t{index}-from-{source}"
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _actor_attrs(style: ActorStyle, *, induced: bool) -> dict[str, str]:
    attrs = {"color": style.colour, "fontcolor": style.colour}
    if induced:
        attrs.update(style="dashed", arrowhead=EFFECT_ARROWHEAD)
    elif style.line == "double":
        # A colour list draws parallel lines: two of the colour around a transparent one.
        attrs["color"] = f"{style.colour}:transparent:{style.colour}"
    elif style.line == "bold":
        attrs.update(style="bold", penwidth="2")
    elif style.line != "solid":
        attrs["style"] = style.line
    return attrs


def _hit_attrs(count: int, *, induced: bool) -> dict[str, str]:
    if count == 0:
        attrs = {"color": UNTESTED, "fontcolor": UNTESTED, "style": "dashed", "penwidth": "1.5"}
    else:
        width = 1 + min(4.0, math.log2(count))
        attrs = {"color": TESTED, "fontcolor": TESTED, "penwidth": f"{width:.1f}"}
    if induced:
        attrs["arrowhead"] = EFFECT_ARROWHEAD
    return attrs


def first_colour(attrs: Mapping[str, str]) -> str:
    """The colour of an arrow, for the junction dot it passes through."""
    return attrs.get("color", INK).split(":")[0]
