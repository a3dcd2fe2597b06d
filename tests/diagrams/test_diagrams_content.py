"""What the diagrams show: every transition and effect as a labelled arrow, initial and
terminal states marked, arrows styled by actor, in DOT and in Mermaid; and a spec with a new
state, event, transition and effect drawn with no change to the code."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from cxpay_conformance.diagrams import ACTOR_STYLES, diagram_texts
from cxpay_conformance.errors import UsageError
from cxpay_conformance.spec import Spec
from cxpay_conformance.spec.paths import follow
from tests.diagrams.diagram_text import (
    DotGraph,
    mermaid_arrows,
    mermaid_blocks,
    mermaid_classes,
    parse_dot,
)


def dot_of(spec: Spec, name: str) -> DotGraph:
    return parse_dot(diagram_texts(spec)[f"{name}.dot"])


def test_every_object_type_has_a_diagram_with_all_its_states(spec: Spec) -> None:
    texts = diagram_texts(spec)
    assert list(texts) == [*(f"{o}.dot" for o in spec.objects), "overview.dot", "diagrams.md"]
    for obj in spec.objects.values():
        graph = dot_of(spec, obj.name)
        states = {n for n in graph.nodes if n.islower()}
        assert states == set(obj.states)
        for state in obj.states.values():
            assert f"<b>{state.name}</b>" in graph.nodes[state.name]["label"]
            if state.emits:
                assert state.emits in graph.nodes[state.name]["label"]


def test_every_transition_is_an_arrow_with_its_label_from_its_states(spec: Spec) -> None:
    for transition in spec.transitions:
        graph = dot_of(spec, transition.object)
        arrows = [e for e in graph.labelled(transition.label()) if e.head == transition.to]
        assert len(arrows) == 1, f"{transition.label()} -> {transition.to}: {arrows}"
        expected = set(transition.from_states) or {"START"}
        assert graph.sources(arrows[0]) == expected, transition.label()


def test_every_effect_is_an_arrow_in_the_diagram_of_the_object_it_moves(spec: Spec) -> None:
    checked = 0
    for transition in spec.transitions:
        for effect in transition.effects:
            target = follow(spec, transition.object, effect.path).object
            graph = dot_of(spec, target.name)
            label = f"{transition.label()} (on {transition.object})"
            arrows = [e for e in graph.labelled(label) if e.head == effect.state]
            assert len(arrows) == 1, f"{label} -> {target.name}.{effect.state}"
            assert arrows[0].attrs.get("style") == "dashed"
            assert arrows[0].attrs.get("arrowhead") == "onormal"
            expected = {"START"} if effect.kind == "create" else set(effect.from_states)
            assert graph.sources(arrows[0]) == expected
            checked += 1
    assert checked >= 10


def cell_state(graph: DotGraph, node: str) -> str:
    """The state an overview cell shows moving into (its bold line)."""
    found = re.search(r"<b>([^<]+)</b>", graph.nodes[node]["label"])
    assert found, graph.nodes[node]
    return found[1]


def test_the_overview_has_a_column_per_object_and_a_row_per_transition_with_effects(
    spec: Spec,
) -> None:
    text = diagram_texts(spec)["overview.dot"]
    for obj in spec.objects:
        assert f"subgraph cluster_{obj} {{" in text
    graph = parse_dot(text)
    with_effects = [t for t in spec.transitions if t.effects]
    assert len(with_effects) >= 5
    for transition in spec.transitions:
        event = f"EVENTS_t{transition.index}"
        if not transition.effects:
            assert event not in graph.nodes, transition.label()
            continue
        assert graph.nodes[event]["label"].replace("\\n", " ") == transition.label()
        # The event leads to the transition's own move, a solid cell in its object's column.
        junction = f"{transition.object}.J_t{transition.index}"
        [own] = [e for e in graph.edges if e.tail == event and e.attrs.get("style") != "invis"]
        assert own.head == junction
        assert cell_state(graph, junction) == transition.to
        assert "dashed" not in graph.nodes[junction].get("style", "")
        # ... and from there a dashed arrow to a dashed cell per effect, in the moved object's column.
        effects = [e for e in graph.edges if e.tail == junction and e.attrs.get("style") != "invis"]
        assert len(effects) == len(transition.effects), transition.label()
        for effect, arrow in zip(transition.effects, effects, strict=True):
            target = follow(spec, transition.object, effect.path).object
            assert arrow.head.startswith(f"{target.name}.E_t{transition.index}e"), arrow
            assert (arrow.attrs["style"], arrow.attrs["arrowhead"]) == ("dashed", "onormal")
            assert cell_state(graph, arrow.head) == effect.state
            assert "dashed" in graph.nodes[arrow.head]["style"]
            live = [s.name for s in target.states.values() if not s.terminal]
            if effect.kind == "create":
                origin = "created"
            elif len(live) > 2 and set(effect.from_states) == set(live):
                origin = "from not terminal"
            else:
                origin = "from " + (" | ".join(effect.from_states) or "any")
            assert f">{origin}</font>" in graph.nodes[arrow.head]["label"], (arrow.head, origin)


def test_initial_and_terminal_states_stand_out(spec: Spec) -> None:
    for obj in spec.objects.values():
        graph = dot_of(spec, obj.name)
        plain = [s.name for s in obj.states.values() if not s.initial and not s.terminal]
        plain_fills = {graph.nodes[s].get("fillcolor") for s in plain}
        for state in obj.states.values():
            attrs = graph.nodes[state.name]
            assert (attrs.get("peripheries") == "2") == state.terminal, state.name
            if state.initial:
                assert attrs.get("penwidth") == "2"
                assert attrs["fillcolor"] not in plain_fills
                assert any(e.tail == "START" for e in graph.edges_into(state.name)), state.name
        assert graph.nodes["START"]["shape"] == "point"


def test_arrows_are_styled_by_the_actor_of_their_event(spec: Spec) -> None:
    seen = set()
    for transition in spec.transitions:
        actor = spec.events[transition.event].actor
        graph = dot_of(spec, transition.object)
        [arrow] = [e for e in graph.labelled(transition.label()) if e.head == transition.to]
        style = ACTOR_STYLES[actor]
        assert arrow.attrs["color"].split(":")[0] == style.colour
        line = {"double": "solid", "solid": "solid"}.get(style.line, style.line)
        assert arrow.attrs.get("style", "solid") == line, (actor, arrow.attrs)
        assert (":" in arrow.attrs["color"]) == (style.line == "double")
        seen.add(actor)
    assert seen == {"merchant", "customer", "network", "clock"}
    looks = {(s.colour, s.line) for s in ACTOR_STYLES.values()}
    assert len(looks) == len(ACTOR_STYLES) == len({s.colour for s in ACTOR_STYLES.values()})


def test_each_diagram_has_a_legend_of_the_actors_it_shows(spec: Spec) -> None:
    by_colour = {style.colour: actor for actor, style in ACTOR_STYLES.items()}
    for name in [*spec.objects, "overview"]:
        graph = dot_of(spec, name)
        legend = graph.nodes["LEGEND"]["label"]
        assert "initial state" in legend and "terminal state" in legend
        shown = {by_colour[e.attrs["color"].split(":")[0]] for e in graph.edges
                 if e.attrs.get("color", "").split(":")[0] in by_colour}
        assert len(shown) >= 2, name
        for actor, style in ACTOR_STYLES.items():
            entry = f'<font color="{style.colour}">{actor}</font>'
            assert (entry in legend) == (actor in shown), (name, actor)
        assert "effect of another object" in legend


def test_mermaid_shows_every_arrow_and_marks_initial_and_terminal_states(spec: Spec) -> None:
    blocks = mermaid_blocks(diagram_texts(spec)["diagrams.md"])
    assert list(blocks) == list(spec.objects)
    for obj in spec.objects.values():
        arrows = mermaid_arrows(blocks[obj.name])
        for transition in spec.transitions:
            if transition.object != obj.name:
                continue
            actor = spec.events[transition.event].actor
            label = f"{transition.label()} ({actor})"
            sources = {a.source for a in arrows if a.label == label and a.target == transition.to}
            assert sources == (set(transition.from_states) or {"[*]"}), label
        ends = {a.source for a in arrows if a.target == "[*]"}
        assert ends == set(obj.terminal_states)
        starts = {a.target for a in arrows if a.source == "[*]"}
        assert starts == set(obj.initial_states)
        classes = mermaid_classes(blocks[obj.name])
        assert classes["terminal"] == set(obj.terminal_states)
        assert classes.get("initial", set()) == set(obj.initial_states) - set(obj.terminal_states)


def test_mermaid_labels_hold_no_character_that_ends_a_label(spec: Spec) -> None:
    for diagram in mermaid_blocks(diagram_texts(spec)["diagrams.md"]).values():
        for arrow in mermaid_arrows(diagram):
            assert ":" not in arrow.label and ";" not in arrow.label


def test_a_new_state_event_transition_and_effect_need_no_code_change(
    extended_spec: Spec,
) -> None:
    charge = dot_of(extended_spec, "charge")
    assert "disputed" in charge.nodes
    assert "charge.disputed" in charge.nodes["disputed"]["label"]
    [arrow] = [e for e in charge.labelled("dispute") if e.head == "disputed"]
    assert arrow.tail == "succeeded"
    assert arrow.attrs["color"].split(":")[0] == ACTOR_STYLES["network"].colour

    intent = dot_of(extended_spec, "payment_intent")
    [induced] = intent.labelled("dispute (on charge)")
    assert (induced.tail, induced.head) == ("succeeded", "failed")

    overview = parse_dot(diagram_texts(extended_spec)["overview.dot"])
    index = extended_spec.transitions[-1].index
    assert cell_state(overview, f"charge.J_t{index}") == "disputed"
    [effect] = [e for e in overview.edges if e.tail == f"charge.J_t{index}"
                and e.attrs.get("style") == "dashed"]
    assert effect.head.startswith("payment_intent.") and cell_state(overview, effect.head) == "failed"

    blocks = mermaid_blocks(diagram_texts(extended_spec)["diagrams.md"])
    assert any(a.source == "succeeded" and a.target == "disputed" and a.label.startswith("dispute")
               for a in mermaid_arrows(blocks["charge"]))


def test_an_object_named_like_the_overview_is_refused(spec: Spec) -> None:
    objects = {("overview" if name == "charge" else name): obj
               for name, obj in spec.objects.items()}
    with pytest.raises(UsageError, match="overview"):
        diagram_texts(replace(spec, objects=objects))
