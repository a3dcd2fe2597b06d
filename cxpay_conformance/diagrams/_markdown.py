"""The two Markdown documents: ``diagrams.md`` (the state diagrams) and ``coverage.md``.

Each holds a short legend and one Mermaid diagram per object type, which GitHub renders in
place; ``coverage.md`` also lists the transitions the suite never fired. Both are pure
functions of the spec (and the hit counts): no dates, no paths of the machine that made them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath

from cxpay_conformance.diagrams._graph import arrows_into
from cxpay_conformance.diagrams._mermaid import (
    actor_label,
    actor_legend,
    coverage_label,
    fenced,
    object_mermaid,
)
from cxpay_conformance.diagrams._style import TIMES, CoverageStyler
from cxpay_conformance.spec.types import Spec

DIAGRAMS_COMMAND = "cxpay-conformance diagrams"
COVERAGE_FUNCTION = "cxpay_conformance.diagrams.render_coverage"


def diagrams_markdown(spec: Spec, svg_names: list[str]) -> str:
    """``diagrams.md``: a legend, links to the SVGs, and a Mermaid diagram per object type."""
    actors = {a.actor for obj in spec.objects.values() for a in arrows_into(spec, obj)}
    links = " · ".join(f"[{PurePath(name).stem}]({name})" for name in svg_names)
    parts = [
        f"# {spec.title} {spec.version}: state diagrams\n",
        _generated(spec, f"`{DIAGRAMS_COMMAND}`", "change the spec and regenerate"),
        "One state diagram per object type, drawn from the spec. The Graphviz renderings "
        "colour each arrow by actor, and the overview shows how the objects move each "
        f"other: {links}. The overview has a row per transition that moves other objects: "
        "its event, the move of the object it belongs to (solid border) and the moves its "
        "effects cause in the others (dashed); every state and every transition of an object "
        "is in that object's own diagram.\n",
        "**Legend.** `[*] --> state`: the object is created in that state (initial states "
        "are filled blue). `state --> [*]`: a terminal state (grey, thick border), which "
        "never changes again. An arrow's label is `event [guard] (actor)`; "
        "`(actor, on <object>)` marks a move that an effect of another object's transition "
        f"causes. In the SVGs: {actor_legend(actors)}; effects dashed, with a hollow "
        "arrowhead.\n",
    ]
    for obj in spec.objects.values():
        parts += [f"## {obj.name}\n", f"{obj.description}\n",
                  fenced(object_mermaid(spec, obj, actor_label))]
    return "\n".join(parts)


def coverage_markdown(spec: Spec, hits: Mapping[int, int]) -> str:
    """``coverage.md``: how often each transition fired, and which never did."""
    styler = CoverageStyler(hits)
    never = [t for t in spec.transitions if styler.count(t) == 0]
    fired = len(spec.transitions) - len(never)
    parts = [
        f"# {spec.title} {spec.version}: transition coverage\n",
        _generated(spec, f"`{COVERAGE_FUNCTION}`", "run the suite again to redraw it"),
        f"**{fired} of {len(spec.transitions)} transitions fired** at least once; "
        f"{len(never)} never did.\n",
        f"**Legend.** Each arrow's label ends in `{TIMES}count`, how often the suite fired its "
        f"transition; `{TIMES}0 untested` marks one it never fired. States filled red were never "
        "entered: no arrow into them fired. Counts are per transition, for all its "
        "from-states together (in the SVGs, each from-state's segment into a junction dot "
        "carries its own count); a move that an effect causes (`on <object>`) shows the count "
        "of the transition that causes it, although the effect applies only where its "
        "from-states match.\n",
    ]
    if never:
        rows = ["| index | object | transition | from | to |", "|---|---|---|---|---|"]
        rows += [
            f"| {t.index} | {t.object} | `{_cell(t.label())}` | "
            f"{_cell(', '.join(t.from_states) or '(created)')} | {t.to} |"
            for t in never
        ]
        parts += ["## Never fired\n", "\n".join(rows) + "\n"]
    else:
        parts.append("Every transition fired at least once.\n")
    for obj in spec.objects.values():
        parts += [f"## {obj.name}\n",
                  fenced(object_mermaid(spec, obj, coverage_label(styler), styler))]
    return "\n".join(parts)


def _generated(spec: Spec, by: str, instead: str) -> str:
    # The spec's file name only: a full path would differ between machines.
    return (f"_Generated from `{PurePath(spec.path).name}` by {by}; do not edit by hand: "
            f"{instead}._\n")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
