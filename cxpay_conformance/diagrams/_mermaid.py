"""Mermaid ``stateDiagram-v2`` text, in Markdown that GitHub renders: one diagram per object.

Mermaid cannot colour single arrows of a state diagram, so the actor (or, in a coverage
overlay, the hit count) goes into each arrow's label; states are classed (initial, terminal,
never entered) for fill. Every state is declared as ``state "<name>" as s_<name>`` so that no
state name can collide with a Mermaid keyword. A transition label may hold neither ``:`` nor
``;`` (Mermaid ends the label there), so :func:`mermaid_text` replaces them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cxpay_conformance.diagrams._graph import Arrow, arrows_into
from cxpay_conformance.diagrams._style import (
    ACTOR_STYLES,
    INITIAL_BORDER,
    INITIAL_FILL,
    TERMINAL_BORDER,
    TERMINAL_FILL,
    UNENTERED_BORDER,
    UNENTERED_FILL,
    Styler,
)
from cxpay_conformance.spec.types import ObjectType, Spec

#: How an arrow's label is written: the plain diagrams add the actor, coverage the count.
Annotate = Callable[[Arrow], str]

_CLASSES = {
    "initial": f"fill:{INITIAL_FILL},stroke:{INITIAL_BORDER},stroke-width:2px",
    "terminal": f"fill:{TERMINAL_FILL},stroke:{TERMINAL_BORDER},stroke-width:3px",
    "unentered": f"fill:{UNENTERED_FILL},stroke:{UNENTERED_BORDER},stroke-width:2px",
}


def mermaid_text(text: str) -> str:
    """``text`` made safe for a Mermaid transition label."""
    return text.replace(":", " -").replace(";", ",").replace("#", "no. ")


def state_id(state: str) -> str:
    """The Mermaid id of a state: its name, prefixed so that it is never a Mermaid keyword."""
    return f"s_{state}"


def actor_label(arrow: Arrow) -> str:
    """``event [guard] (actor)``, or ``event [guard] (actor, on <object>)`` for an effect."""
    where = f", on {arrow.transition.object}" if arrow.induced else ""
    return f"{arrow.transition.label()} ({arrow.actor}{where})"


def coverage_label(styler: Styler) -> Annotate:
    """``event [guard] (on <object>)`` and the count the styler gives."""
    return lambda arrow: f"{arrow.label()} {styler.suffix(arrow.transition)}"


def object_mermaid(spec: Spec, obj: ObjectType, annotate: Annotate,
                   styler: Styler | None = None) -> str:
    """The ``stateDiagram-v2`` of one object type (without the Markdown fence)."""
    arrows = arrows_into(spec, obj)
    lines = ["stateDiagram-v2"]
    lines += [f"    classDef {name} {style}" for name, style in _CLASSES.items()]
    lines += [f'    state "{name}" as {state_id(name)}' for name in obj.states]
    created = {a.target for a in arrows if not a.sources}
    lines += [f"    [*] --> {state_id(s)}" for s in obj.initial_states if s not in created]
    for arrow in arrows:
        label = mermaid_text(annotate(arrow))
        target = state_id(arrow.target)
        for source in arrow.sources or ("[*]",):
            start = source if source == "[*]" else state_id(source)
            lines.append(f"    {start} --> {target} : {label}")
    lines += [f"    {state_id(s)} --> [*]" for s in obj.terminal_states]
    classes: dict[str, list[str]] = {"initial": [], "terminal": [], "unentered": []}
    for state in obj.states.values():
        arrows_in = [a.transition for a in arrows if a.target == state.name]
        if styler is not None and styler.unentered(state, arrows_in):
            classes["unentered"].append(state.name)
        elif state.terminal:
            classes["terminal"].append(state.name)
        elif state.initial:
            classes["initial"].append(state.name)
    lines += [f"    class {','.join(state_id(s) for s in members)} {name}"
              for name, members in classes.items() if members]
    return "\n".join(lines) + "\n"


def fenced(diagram: str) -> str:
    return f"```mermaid\n{diagram}```\n"


def actor_legend(actors: Iterable[str]) -> str:
    """``merchant solid blue, customer bold green, …`` for the actors present."""
    present = set(actors)
    return ", ".join(f"{actor} {style.words}" for actor, style in ACTOR_STYLES.items()
                     if actor in present)
