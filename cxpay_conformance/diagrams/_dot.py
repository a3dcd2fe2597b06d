"""DOT source of the diagrams, built with the ``graphviz`` package.

One diagram per object type (its states, its transitions and the moves that other objects'
effects cause in it), drawn top to bottom so that it reads at page width, and one overview of
how the objects move each other: a row per transition that has effects, a column per object
type, each cell the state an object moves into (solid for the transition's own move, dashed for
a move its effects cause), so that it stays as narrow as its columns. A transition that leaves
several states is drawn as one labelled arrow out of a
junction dot that those states feed, so that each transition carries its label (and, in a
coverage overlay, its count) once. Node ids are the spec's lower-case names; the ids this
module adds (``START``, ``J_…``, ``E_…``, ``GAP_…``, ``EVENTS…``, ``LEGEND``) hold upper-case
letters, so they never clash.
"""

from __future__ import annotations

import html
import itertools
import textwrap
from collections.abc import Iterable, Sequence

import graphviz

from cxpay_conformance.diagrams._graph import Arrow, Move, arrows_into, effect_rows
from cxpay_conformance.diagrams._style import (
    FONT,
    INITIAL_BORDER,
    INITIAL_FILL,
    INK,
    MUTED,
    TERMINAL_BORDER,
    TERMINAL_FILL,
    UNENTERED_BORDER,
    UNENTERED_FILL,
    LegendLine,
    Styler,
    first_colour,
)
from cxpay_conformance.spec.types import ObjectType, Spec, State, Transition

START = "START"
EVENTS = "EVENTS"
_ORIGIN_WIDTH = 40
_START_ATTRS = {"shape": "point", "width": "0.18", "style": "filled", "fillcolor": INK,
                "color": INK, "label": ""}


def object_dot(spec: Spec, obj: ObjectType, styler: Styler, *, comment: str) -> str:
    """The DOT source of one object type's state diagram."""
    graph = _new_graph(obj.name, f"{spec.title} {spec.version}: {obj.name}", comment)
    arrows = arrows_into(spec, obj)
    for state in obj.states.values():
        arrows_in = [a.transition for a in arrows if a.target == state.name]
        graph.node(state.name, **_state_attrs(state, styler.unentered(state, arrows_in)))
    created = {a.target for a in arrows if not a.sources}
    # An initial state no transition creates still gets its start dot, unlabelled.
    uncreated = [s for s in obj.initial_states if s not in created]
    if created or uncreated:
        graph.node(START, **_START_ATTRS)
    for state_name in uncreated:
        graph.edge(START, state_name)
    for arrow in arrows:
        _draw(
            graph,
            sources=arrow.sources or (START,),
            target=arrow.target,
            label=dot_label(arrow.label(), styler.suffix(arrow.transition)),
            attrs=styler.edge(arrow.transition, arrow.actor, induced=arrow.induced),
            junction=f"J_{arrow.key}",
            source_attrs=[] if arrow.induced else [styler.source(arrow.transition, s) for s in arrow.sources],
        )
    _legend(graph, styler, arrows)
    return graph.source


def overview_dot(spec: Spec, styler: Styler, *, comment: str) -> str:
    """The DOT source of the overview: a row per transition with effects, a column per object.

    Each row starts at the transition's event, whose arrow leads to the move of the object it
    belongs to (solid border); dashed arrows lead from there to the moves its effects cause in
    the other objects (dashed borders). Transitions without effects, and the states no row
    moves into, are left to the per-object diagrams, which the title says.
    """
    graph = _new_graph("overview", "", comment)
    graph.attr(label=_overview_title(spec), newrank="true", nodesep="0.3", ranksep="0.2")
    rows = effect_rows(spec)
    columns: dict[str, list[tuple[str, dict[str, str]]]] = {EVENTS: []}
    columns.update({name: [] for name in spec.objects})
    order: list[list[str]] = []
    arrows: list[tuple[str, str, dict[str, str]]] = []
    drawn: list[Arrow] = []
    for row in rows:
        transition = row.transition
        own = styler.edge(transition, row.actor, induced=False)
        induced = styler.edge(transition, row.actor, induced=True)
        event = f"{EVENTS}_t{transition.index}"
        columns[EVENTS].append((event, _event_attrs(transition, styler, first_colour(own))))
        cells: dict[str, list[str]] = {EVENTS: [event]}
        cause = _junction(transition)
        columns[transition.object].append(
            (cause, _move_attrs(spec, row.own, styler, first_colour(own))))
        cells.setdefault(transition.object, []).append(cause)
        arrows.append((event, cause, own))
        drawn.append(Arrow(transition, row.actor, transition.from_states, transition.to))
        for number, move in enumerate(row.effects):
            cell = _node(move.object, f"E_t{transition.index}e{number}")
            columns[move.object].append(
                (cell, _move_attrs(spec, move, styler, first_colour(induced))))
            cells.setdefault(move.object, []).append(cell)
            arrows.append((cause, cell, induced))
            drawn.append(Arrow(transition, row.actor, move.sources, move.state, move.effect))
        for name, column in columns.items():
            if name not in cells:
                # An invisible cell keeps the columns in their order on a row that skips one.
                gap = _node(name, f"GAP_t{transition.index}")
                column.append((gap, {"label": "", "style": "invis", "width": "0.3", "height": "0.3"}))
                cells[name] = [gap]
        order.append([cell for name in columns for cell in cells[name]])
    _lay_out(graph, columns, order)
    for tail, head, attrs in arrows:
        graph.edge(tail, head, **attrs)
    _legend(graph, styler, drawn)
    if order:
        graph.edge(order[-1][0], "LEGEND", style="invis")
    return graph.source


def _lay_out(graph: graphviz.Digraph, columns: dict[str, list[tuple[str, dict[str, str]]]],
             order: list[list[str]]) -> None:
    """A cluster per column; each row's cells on one rank, in column order, rows in order."""
    for name, column in columns.items():
        with graph.subgraph(name=f"cluster_{name}") as cluster:
            cluster.attr(label="event" if name == EVENTS else name, style="rounded", color=MUTED,
                         fontcolor=INK, fontsize="13", margin="10")
            for node, attrs in column:
                cluster.node(node, **attrs)
    for row in order:
        with graph.subgraph() as same:
            same.attr(rank="same")
            for node in row:
                same.node(node)
        for left, right in itertools.pairwise(row):
            graph.edge(left, right, style="invis")
    for above, below in itertools.pairwise(order):
        graph.edge(above[0], below[0], style="invis")


def _overview_title(spec: Spec) -> str:
    note = ("Each row: a transition that moves other objects (solid border) and the moves its "
            "effects cause (dashed).<br/>Every state and transition of an object: its own "
            "diagram.")
    return (f'<<font point-size="16">{html.escape(spec.title)} {html.escape(spec.version)}: '
            f'how the objects move each other</font><br/><font point-size="10" color="{MUTED}">'
            f"{note}</font>>")


def _event_attrs(transition: Transition, styler: Styler, colour: str) -> dict[str, str]:
    label = dot_label(transition.label(), styler.suffix(transition))
    return {"label": label, "style": "rounded", "color": colour, "fontcolor": colour}


def _move_attrs(spec: Spec, move: Move, styler: Styler, colour: str) -> dict[str, str]:
    """A cell of the overview: the state moved into, under where it moves from."""
    state = spec.objects[move.object].states[move.state]
    arrows_in = [a.transition for a in arrows_into(spec, spec.objects[move.object])
                 if a.target == state.name]
    attrs = _state_attrs(state, styler.unentered(state, arrows_in))
    # A long list of from-states wraps, so that one cell does not widen its whole column.
    lines = textwrap.wrap(move.origin(), _ORIGIN_WIDTH, break_on_hyphens=False)
    origin = f'<font point-size="9" color="{MUTED}">{"<br/>".join(map(html.escape, lines))}</font>'
    attrs.update(label=f"<{origin}<br/><b>{html.escape(state.name)}</b>>", color=colour,
                 fontsize="11", margin="0.1,0.04")
    if move.effect is None:
        attrs["penwidth"] = "2"
    else:
        attrs.update(style="rounded,dashed,filled", penwidth="1")
    return attrs


def dot_label(text: str, suffix: str = "") -> str:
    """A label broken into lines before its guard and its ``(on …)`` part; ``\\n`` is DOT's."""
    lines = text.replace(" [", "\n[").replace(" (", "\n(").split("\n")
    if suffix:
        lines.append(suffix)
    return "\\n".join(lines)


def _new_graph(name: str, title: str, comment: str) -> graphviz.Digraph:
    graph = graphviz.Digraph(name=name, comment=comment)
    graph.attr(rankdir="TB", label=title, labelloc="t", fontname=FONT, fontsize="16",
               fontcolor=INK, nodesep="0.35", ranksep="0.55", pad="0.3")
    graph.attr("node", shape="box", style="rounded,filled", fillcolor="white", color=INK,
               fontname=FONT, fontsize="12", fontcolor=INK, margin="0.16,0.06")
    graph.attr("edge", fontname=FONT, fontsize="10", arrowsize="0.8", color=INK)
    return graph


def _node(obj: str, state: str) -> str:
    return f"{obj}.{state}"


def _junction(transition: Transition) -> str:
    return _node(transition.object, f"J_t{transition.index}")


def _state_attrs(state: State, unentered: bool) -> dict[str, str]:
    name = f"<b>{html.escape(state.name)}</b>"
    emits = (f'<br/><font point-size="9" color="{MUTED}">{html.escape(state.emits)}</font>'
             if state.emits else "")
    attrs = {"label": f"<{name}{emits}>", "tooltip": state.description}
    if state.initial:
        attrs.update(fillcolor=INITIAL_FILL, color=INITIAL_BORDER, penwidth="2")
    if state.terminal:
        attrs.update(peripheries="2", color=TERMINAL_BORDER)
        if not state.initial:
            attrs["fillcolor"] = TERMINAL_FILL
    if unentered:
        attrs.update(fillcolor=UNENTERED_FILL, color=UNENTERED_BORDER)
    return attrs


def _draw(
    graph: graphviz.Digraph,
    *,
    sources: Sequence[str],
    target: str,
    label: str,
    attrs: dict[str, str],
    junction: str,
    force_junction: bool = False,
    source_attrs: Sequence[dict[str, str]] = (),
) -> None:
    if len(sources) == 1 and not force_junction:
        graph.edge(sources[0], target, label=label, **attrs)
        return
    colour = first_colour(attrs)
    graph.node(junction, shape="point", width="0.09", style="filled", color=colour,
               fillcolor=colour, label="")
    for index, source in enumerate(sources):
        own = source_attrs[index] if index < len(source_attrs) else {}
        graph.edge(source, junction, **{**attrs, **own, "arrowhead": "none"})
    graph.edge(junction, target, label=label, **attrs)


def _legend(graph: graphviz.Digraph, styler: Styler, arrows: Iterable[Arrow]) -> None:
    arrows = list(arrows)
    lines = styler.legend([a.actor for a in arrows], induced=any(a.induced for a in arrows))
    rows = [
        '<tr><td colspan="2" align="left"><b>legend</b></td></tr>',
        _legend_state_row("initial state", INITIAL_FILL, INITIAL_BORDER, border_width=2),
        _legend_state_row("terminal state", TERMINAL_FILL, TERMINAL_BORDER, double=True),
    ]
    if styler.marks_unentered:
        rows.append(_legend_state_row("never entered", UNENTERED_FILL, UNENTERED_BORDER))
    rows += [_legend_line_row(line) for line in lines]
    table = ('<table border="0" cellborder="0" cellspacing="3" cellpadding="2">'
             + "".join(rows) + "</table>")
    graph.node("LEGEND", label=f"<{table}>", shape="box", style="rounded,dashed", color=MUTED,
               fontsize="10", margin="0.1,0.05")


def _legend_state_row(text: str, fill: str, border: str, *, border_width: int = 1,
                      double: bool = False) -> str:
    sample = (f'<td bgcolor="{fill}" border="{border_width}" color="{border}" width="36" '
              f'height="14" fixedsize="true" cellpadding="0"></td>')
    if double:
        sample = (f'<td><table border="1" color="{border}" cellborder="0" cellspacing="1" '
                  f'cellpadding="0"><tr><td bgcolor="{fill}" border="1" color="{border}" '
                  f'width="32" height="10" fixedsize="true" cellpadding="0"></td></tr>'
                  "</table></td>")
    return f'<tr>{sample}<td align="left">{html.escape(text)}</td></tr>'


def _legend_line_row(line: LegendLine) -> str:
    sides, width, style = "b", 1, ""
    if line.line == "bold":
        width = 2
    elif line.line == "double":
        sides = "tb"
    elif line.line in ("dotted", "dashed"):
        style = f' style="{line.line}"'
    sample = (f'<td sides="{sides}" border="{width}" color="{line.colour}"{style} width="36" '
              f'height="4" fixedsize="true" cellpadding="0"></td>')
    text = f'<font color="{line.colour}">{html.escape(line.text)}</font>'
    return f'<tr>{sample}<td align="left">{text}</td></tr>'
