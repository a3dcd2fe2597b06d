"""DOT source of the diagrams, built with the ``graphviz`` package.

One diagram per object type (its states, its transitions and the moves that other objects'
effects cause in it) and one overview (a cluster per object type, each with its own
transitions, and a dashed arrow for every cross-object effect, leaving the transition that
causes it). A transition that leaves several states is drawn as one labelled arrow out of a
junction dot that those states feed, so that each transition carries its label (and, in a
coverage overlay, its count) once. Node ids are the spec's lower-case names; the ids this
module adds (``START``, ``J_…``, ``LEGEND_…``) hold upper-case letters, so they never clash.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

import graphviz

from cxpay_conformance.diagrams._graph import Arrow, arrows_into, effect_links
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
    """The DOT source of the overview: a cluster per object type, effects dashed between them."""
    graph = _new_graph("overview", f"{spec.title} {spec.version}: objects and cross-object effects",
                       comment)
    # newrank aligns the clusters' ranks, which keeps each object's flow left to right and its
    # terminal states in one column; the extra room keeps effect labels apart.
    graph.attr(newrank="true", nodesep="0.6", ranksep="0.9")
    links = effect_links(spec)
    drawn: list[Arrow] = []
    for obj in spec.objects.values():
        own = [t for t in spec.transitions if t.object == obj.name]
        with graph.subgraph(name=f"cluster_{obj.name}") as cluster:
            cluster.attr(label=obj.name, style="rounded", color=MUTED, fontcolor=INK,
                         fontsize="13", margin="14")
            for state in obj.states.values():
                arrows_in = [t for t in own if t.to == state.name]
                arrows_in += [link.transition for link in links
                              if (link.object, link.state) == (obj.name, state.name)]
                cluster.node(_node(obj.name, state.name),
                             **_state_attrs(state, styler.unentered(state, arrows_in)))
            if any(t.creates for t in own):
                cluster.node(_node(obj.name, START), **_START_ATTRS)
            for transition in own:
                actor = spec.events[transition.event].actor
                drawn.append(Arrow(transition, actor, transition.from_states, transition.to))
                _draw(
                    cluster,
                    sources=[_node(obj.name, s) for s in transition.from_states or (START,)],
                    target=_node(obj.name, transition.to),
                    label=dot_label(transition.label(), styler.suffix(transition)),
                    attrs=styler.edge(transition, actor, induced=False),
                    junction=_junction(transition),
                    source_attrs=[styler.source(transition, s) for s in transition.from_states],
                    force_junction=bool(transition.effects),
                )
    for link in links:
        graph.edge(
            _junction(link.transition),
            _node(link.object, link.state),
            label=dot_label(link.label(), styler.suffix(link.transition)),
            **styler.edge(link.transition, link.actor, induced=True),
        )
        drawn.append(Arrow(link.transition, link.actor, (), link.state, link.effect))
    _legend(graph, styler, drawn)
    return graph.source


def dot_label(text: str, suffix: str = "") -> str:
    """A label broken into lines before its guard and its ``(on …)`` part; ``\\n`` is DOT's."""
    lines = text.replace(" [", "\n[").replace(" (", "\n(").split("\n")
    if suffix:
        lines.append(suffix)
    return "\\n".join(lines)


def _new_graph(name: str, title: str, comment: str) -> graphviz.Digraph:
    graph = graphviz.Digraph(name=name, comment=comment)
    graph.attr(rankdir="LR", label=title, labelloc="t", fontname=FONT, fontsize="16",
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
